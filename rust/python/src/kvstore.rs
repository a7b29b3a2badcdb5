//! `KVStore` handle: the core in-process store behind `mx.kv.create('local' | 'device')`.
//! Converts keys and arrays, releases the GIL while ops are pushed, maps errors.

use crate::error::{to_py, MXNetError};
use crate::ndarray::{wrap, PyNDArray};
use crate::origin;
use oxnet::kvstore::{KVStore, KVStoreError, Key};
use oxnet::NDArray;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyString;

fn kv_err(e: KVStoreError) -> PyErr {
    match e {
        KVStoreError::Core(e) => to_py(e),
        e => MXNetError::new_err(e.to_string()),
    }
}

fn key_of(obj: &Bound<'_, PyAny>) -> PyResult<Key> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Key::Str(s.to_str()?.to_string()));
    }
    obj.extract::<i64>()
        .map(Key::Int)
        .map_err(|_| PyTypeError::new_err(format!("unexpected type for keys: {}", obj.get_type())))
}

fn array_of(obj: &Bound<'_, PyAny>) -> PyResult<NDArray> {
    obj.cast::<PyNDArray>()
        .map(|a| a.get().inner.clone())
        .map_err(|_| PyTypeError::new_err(format!("expected an NDArray, got {}", obj.get_type())))
}

fn arrays_of(obj: &Bound<'_, PyAny>) -> PyResult<Vec<NDArray>> {
    obj.try_iter()?.map(|x| array_of(&x?)).collect()
}

/// [(key, [arrays])] from parallel lists of keys and of lists of arrays.
fn items(keys: &Bound<'_, PyAny>, lists: &Bound<'_, PyAny>) -> PyResult<Vec<(Key, Vec<NDArray>)>> {
    keys.try_iter()?
        .zip(lists.try_iter()?)
        .map(|(k, l)| Ok((key_of(&k?)?, arrays_of(&l?)?)))
        .collect()
}

#[pyclass(name = "KVStore", module = "oxnet._native", frozen)]
pub struct PyKVStore {
    inner: KVStore,
}

#[pymethods]
impl PyKVStore {
    #[new]
    fn new(merge_on_device: bool) -> Self {
        PyKVStore {
            inner: KVStore::new(merge_on_device),
        }
    }

    fn __contains__(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.inner.contains(&key_of(key)?))
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// Stores a copy of each value: `init([keys], [values])`.
    fn init(
        &self,
        py: Python<'_>,
        keys: &Bound<'_, PyAny>,
        values: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let items: Vec<(Key, NDArray)> = keys
            .try_iter()?
            .zip(values.try_iter()?)
            .map(|(k, v)| Ok((key_of(&k?)?, array_of(&v?)?)))
            .collect::<PyResult<_>>()?;
        let origin = origin::capture(py);
        py.detach(|| self.inner.init(&items, origin))
            .map_err(kv_err)
    }

    /// Assigns to each key the sum of its values: `push([keys], [[values]], priority)`.
    fn push(
        &self,
        py: Python<'_>,
        keys: &Bound<'_, PyAny>,
        values: &Bound<'_, PyAny>,
        priority: i32,
    ) -> PyResult<()> {
        let items = items(keys, values)?;
        let origin = origin::capture(py);
        py.detach(|| self.inner.push(&items, priority, origin))
            .map_err(kv_err)
    }

    /// Push then pull in one pass per key: `pushpull([keys], [[values]], [[outs]], priority)`.
    fn pushpull(
        &self,
        py: Python<'_>,
        keys: &Bound<'_, PyAny>,
        values: &Bound<'_, PyAny>,
        outs: &Bound<'_, PyAny>,
        priority: i32,
    ) -> PyResult<()> {
        let values = items(keys, values)?;
        let outs = items(keys, outs)?;
        let origin = origin::capture(py);
        py.detach(|| self.inner.pushpull(&values, &outs, priority, origin))
            .map_err(kv_err)
    }

    /// Checks a push (`[keys], [[values]]`) without changing the store.
    fn check_push(&self, keys: &Bound<'_, PyAny>, values: &Bound<'_, PyAny>) -> PyResult<()> {
        let items = items(keys, values)?;
        self.inner.check_push_all(&items).map_err(kv_err)
    }

    /// Sums one key's values into its merge buffer: returns (merged, stored) for an updater.
    fn reduce(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        values: &Bound<'_, PyAny>,
        priority: i32,
    ) -> PyResult<(Py<PyAny>, Py<PyAny>)> {
        let key = key_of(key)?;
        let values = arrays_of(values)?;
        let origin = origin::capture(py);
        let (merged, stored) = py
            .detach(|| self.inner.reduce(&key, &values, priority, origin))
            .map_err(kv_err)?;
        Ok((wrap(py, merged)?, wrap(py, stored)?))
    }

    /// Copies each key's value into its outputs: `pull([keys], [[outs]], priority)`.
    fn pull(
        &self,
        py: Python<'_>,
        keys: &Bound<'_, PyAny>,
        outs: &Bound<'_, PyAny>,
        priority: i32,
    ) -> PyResult<()> {
        let items = items(keys, outs)?;
        let origin = origin::capture(py);
        py.detach(|| self.inner.pull(&items, priority, origin))
            .map_err(kv_err)
    }

    /// The stored array of `key` (shares memory with the store).
    fn stored(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let a = self.inner.stored(&key_of(key)?, "pull").map_err(kv_err)?;
        wrap(py, a)
    }
}
