//! Module-level functions: the registry listing that Python generates `mx.nd.<op>` from,
//! op invocation, creation, files, engine control.

use crate::convert::{attrs_of, ctx_of, dtype_of, from_numpy};
use crate::error::{enter, IntoPyResult};
use crate::ndarray::{wrap, wrap_ag, PyNDArray};
use crate::origin;
use numpy::PyUntypedArray;
use oxnet::autograd;
use oxnet::graph::Entry;
use oxnet::ndarray::io::Loaded;
use oxnet::ndarray::sparse::StorageType;
use oxnet::op::{self, registry, Inputs, OpDef, Operator};
use oxnet::{NDArray, Shape};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use std::sync::{Arc, Mutex};

/// A registry op, looked up once when Python generates its function.
#[pyclass(name = "Op", module = "oxnet._native", frozen)]
pub struct PyOp {
    def: Arc<dyn OpDef>,
    /// The op last configured from these attributes: a loop calls with the same parameters
    /// (an optimizer's update), and a reused op skips parsing them and lets the inference
    /// cache hit. `Custom` configures a new Python operator per call, as MXNet does.
    last: Mutex<Option<Configured>>,
}

/// Attributes and the op configured from them.
type Configured = (Vec<(String, String)>, Arc<dyn Operator>);

impl PyOp {
    fn configure(&self, attrs: &[(String, String)]) -> PyResult<Arc<dyn Operator>> {
        if let Ok(g) = self.last.lock() {
            if let Some((_, op)) = g.as_ref().filter(|(a, _)| a.as_slice() == attrs) {
                return Ok(op.clone());
            }
        }
        let op = self.def.create(attrs).py()?;
        if self.def.name() != "Custom" {
            if let Ok(mut g) = self.last.lock() {
                *g = Some((attrs.to_vec(), op.clone()));
            }
        }
        Ok(op)
    }
}

#[pymethods]
impl PyOp {
    #[getter]
    fn name(&self) -> &'static str {
        self.def.name()
    }
}

#[pyfunction]
pub fn get_op(name: &str) -> PyResult<PyOp> {
    Ok(PyOp {
        def: registry().get(name).py()?.clone(),
        last: Mutex::new(None),
    })
}

/// [(name, doc, [(param, type, default|None, doc)], inputs, variadic_count_param|None,
/// group)]: a variadic op takes `count * group` inputs (`group` names per count); group -1:
/// any inputs, named by the configured op (`Custom`).
#[pyfunction]
#[allow(clippy::type_complexity)]
pub fn list_ops() -> Vec<(
    String,
    String,
    Vec<(String, String, Option<String>, String)>,
    Vec<String>,
    Option<String>,
    i64,
)> {
    registry()
        .defs()
        .iter()
        .map(|d| {
            let params = d
                .params()
                .iter()
                .map(|p| {
                    (
                        p.name.to_string(),
                        p.type_name().to_string(),
                        p.default.map(str::to_string),
                        p.doc.to_string(),
                    )
                })
                .collect();
            let (inputs, variadic, group) = match d.inputs() {
                Inputs::Fixed(names) => (names.iter().map(|s| s.to_string()).collect(), None, 0),
                Inputs::Variadic { name, count_param } => {
                    (vec![name.to_string()], Some(count_param.to_string()), 1)
                }
                Inputs::Dynamic => (vec!["data".to_string()], None, -1),
                Inputs::Grouped { names, count_param } => (
                    vec!["data".to_string()],
                    Some(count_param.to_string()),
                    names.len() as i64,
                ),
            };
            (
                d.name().to_string(),
                d.doc().to_string(),
                params,
                inputs,
                variadic,
                group,
            )
        })
        .collect()
}

/// (alias, target) pairs of the registry.
#[pyfunction]
pub fn list_aliases() -> Vec<(String, String)> {
    registry()
        .aliases()
        .iter()
        .map(|(a, t)| (a.to_string(), t.to_string()))
        .collect()
}

fn arrays_of(obj: &Bound<'_, PyAny>, what: &str, op: &str) -> PyResult<Vec<NDArray>> {
    if let Ok(a) = obj.cast::<PyNDArray>() {
        return Ok(vec![a.get().inner.clone()]);
    }
    let mut v = Vec::new();
    for (i, x) in obj.try_iter()?.enumerate() {
        let x = x?;
        match x.cast::<PyNDArray>() {
            Ok(a) => v.push(a.get().inner.clone()),
            Err(_) => {
                return Err(PyTypeError::new_err(format!(
                    "{op}: {what} {i} must be an NDArray, got {}",
                    x.get_type().name()?
                )))
            }
        }
    }
    Ok(v)
}

/// Autograd entries of the input arrays (None for untracked ones).
fn entries_of(obj: &Bound<'_, PyAny>) -> PyResult<Vec<Option<Entry>>> {
    if let Ok(a) = obj.cast::<PyNDArray>() {
        return Ok(vec![a.get().entry()]);
    }
    let mut v = Vec::new();
    for x in obj.try_iter()? {
        v.push(x?.cast::<PyNDArray>().ok().and_then(|a| a.get().entry()));
    }
    Ok(v)
}

/// The NDArrays of `obj` (one, or a sequence) as Python objects.
fn py_arrays<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyNDArray>>> {
    if let Ok(a) = obj.cast::<PyNDArray>() {
        return Ok(vec![a.clone()]);
    }
    obj.try_iter()?
        .map(|x| Ok(x?.cast_into::<PyNDArray>()?))
        .collect()
}

/// Under autograd, an op may write into `out` only when `out` is outside the graph: not a
/// recorded result or variable, and no input's memory (MXNet refuses the same).
fn check_recordable_out(
    op: &str,
    out: &Bound<'_, PyAny>,
    outs: &[NDArray],
    ins: &[NDArray],
) -> PyResult<()> {
    let in_graph = py_arrays(out)?.iter().any(|x| x.get().entry().is_some());
    if in_graph || outs.iter().any(|o| ins.iter().any(|i| o.overlaps(i))) {
        return Err(oxnet::Error::Graph(format!(
            "{op}: Inplace operations (+=, -=, x[:]=, etc) are not supported when recording \
             with autograd: out is already in the graph or shares memory with an input"
        )))
        .py();
    }
    Ok(())
}

/// Runs a registry op: `inputs` is a list of NDArrays, `kwargs` the MXNet parameters.
#[pyfunction]
#[pyo3(signature = (op, inputs, kwargs=None, out=None))]
pub fn invoke(
    py: Python<'_>,
    op: &PyOp,
    inputs: &Bound<'_, PyAny>,
    kwargs: Option<&Bound<'_, PyDict>>,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let name = op.def.name();
    let ins = arrays_of(inputs, "input", name)?;
    let attrs = attrs_of(py, kwargs)?;
    let opr = op.configure(&attrs)?;
    let outs = match out {
        Some(o) if !o.is_none() => Some(arrays_of(o, "out", name)?),
        _ => None,
    };
    let recorded = autograd::is_recording()
        .then(|| entries_of(inputs))
        .transpose()?
        .filter(|e| e.iter().any(|e| e.is_some()));
    if let (Some(o), Some(outs), Some(_)) = (out.filter(|o| !o.is_none()), &outs, &recorded) {
        check_recordable_out(name, o, outs, &ins)?;
    }
    let res = op::invoke(&opr, &ins, outs.as_deref(), origin::capture(py)).py()?;
    let mut entries: Vec<Option<Entry>> = vec![None; res.len()];
    if let Some(ins_e) = recorded {
        let rec = autograd::record(&opr, attrs, &ins, &ins_e, &res);
        entries = rec.into_iter().map(Some).collect();
    }
    if let Some(o) = out.filter(|o| !o.is_none()) {
        // Recorded into `out`: its arrays carry the gradient on, as MXNet's do.
        for (x, e) in py_arrays(o)?.iter().zip(entries) {
            if let (Ok(mut slot), Some(e)) = (x.get().ag.lock(), e) {
                *slot = Some(e);
            }
        }
        return Ok(o.clone().unbind());
    }
    // Hidden outputs (BatchNorm's mean/var, Dropout's mask) are not returned.
    let visible = opr.num_visible_outputs().min(res.len());
    if visible == 1 {
        let a = res
            .into_iter()
            .next()
            .ok_or_else(|| PyValueError::new_err("no output"))?;
        return wrap_ag(py, a, entries.swap_remove(0));
    }
    let items = res
        .into_iter()
        .zip(entries)
        .take(visible)
        .map(|(a, e)| wrap_ag(py, a, e))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(PyList::new(py, items)?.into_any().unbind())
}

/// A new NDArray copied from a C-contiguous numpy array of a supported dtype.
#[pyfunction]
pub fn from_numpy_array(
    py: Python<'_>,
    arr: &Bound<'_, PyUntypedArray>,
    dev_type: i32,
    dev_id: i32,
) -> PyResult<Py<PyAny>> {
    wrap(py, from_numpy(py, arr, ctx_of(dev_type, dev_id)?)?)
}

#[pyfunction]
pub fn empty(
    py: Python<'_>,
    shape: Vec<usize>,
    dtype: &Bound<'_, PyAny>,
    dev_type: i32,
    dev_id: i32,
) -> PyResult<Py<PyAny>> {
    let d = dtype_of(py, dtype)?;
    wrap(
        py,
        NDArray::empty(Shape::new(shape), d, ctx_of(dev_type, dev_id)?).py()?,
    )
}

#[pyfunction]
pub fn waitall(py: Python<'_>) -> PyResult<()> {
    enter(py, oxnet::ndarray::waitall)
}

/// `mx.random.seed`: all contexts when dev_type is None.
#[pyfunction]
#[pyo3(signature = (seed, dev_type=None, dev_id=0))]
pub fn seed(seed: u64, dev_type: Option<i32>, dev_id: i32) -> PyResult<()> {
    let ctx = dev_type.map(|t| ctx_of(t, dev_id)).transpose()?;
    oxnet::runtime::rt().rng.seed(seed, ctx);
    Ok(())
}

/// Storage types from their MXNet codes (`None`: every array dense).
fn stypes_of(codes: Option<Vec<i32>>) -> PyResult<Vec<StorageType>> {
    codes
        .unwrap_or_default()
        .into_iter()
        .map(|c| {
            StorageType::from_code(c)
                .ok_or_else(|| PyValueError::new_err(format!("save: unknown storage type {c}")))
        })
        .collect()
}

#[pyfunction]
#[pyo3(signature = (arrays, names=None, stypes=None))]
pub fn save_bytes<'py>(
    py: Python<'py>,
    arrays: &Bound<'py, PyAny>,
    names: Option<Vec<String>>,
    stypes: Option<Vec<i32>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let arrs = arrays_of(arrays, "array", "save")?;
    let stypes = stypes_of(stypes)?;
    let buf = enter(py, move || {
        oxnet::ndarray::io::save_to_bytes_typed(&arrs, &stypes, names.as_deref())
    })?;
    Ok(PyBytes::new(py, &buf))
}

#[pyfunction]
#[pyo3(signature = (fname, arrays, names=None, stypes=None))]
pub fn save_file(
    py: Python<'_>,
    fname: String,
    arrays: &Bound<'_, PyAny>,
    names: Option<Vec<String>>,
    stypes: Option<Vec<i32>>,
) -> PyResult<()> {
    let arrs = arrays_of(arrays, "array", "save")?;
    let stypes = stypes_of(stypes)?;
    enter(py, move || {
        oxnet::ndarray::io::save_to_file_typed(&fname, &arrs, &stypes, names.as_deref())
    })
}

/// Writes `data` to `fname` atomically, as `save_file` writes arrays (symbol and states files).
#[pyfunction]
pub fn write_file(py: Python<'_>, fname: String, data: &[u8]) -> PyResult<()> {
    // `bytes` are immutable, so the borrowed buffer stays valid without the GIL.
    enter(py, move || {
        oxnet::ndarray::io::write_file_atomic(&fname, data)
    })
}

/// `(arrays, storage type codes, names or None)`; Python builds the list or dict and gives
/// sparse records their classes.
fn loaded(py: Python<'_>, res: Loaded) -> PyResult<Py<PyAny>> {
    let items = res
        .arrays
        .into_iter()
        .map(|a| wrap(py, a))
        .collect::<PyResult<Vec<_>>>()?;
    let codes: Vec<i32> = res.stypes.iter().map(|s| s.code()).collect();
    let out = (PyList::new(py, items)?, codes, res.names).into_pyobject(py)?;
    Ok(out.into_any().unbind())
}

#[pyfunction]
pub fn load_bytes(py: Python<'_>, buf: &[u8]) -> PyResult<Py<PyAny>> {
    // `bytes` are immutable, so the borrowed buffer stays valid without the GIL.
    let res = enter(py, move || oxnet::ndarray::io::load_from_bytes_typed(buf))?;
    loaded(py, res)
}

#[pyfunction]
pub fn load_file(py: Python<'_>, fname: String) -> PyResult<Py<PyAny>> {
    let res = enter(py, move || oxnet::ndarray::io::load_from_file_typed(&fname))?;
    loaded(py, res)
}

/// Before `fork`: let every pending op finish so no engine lock is held.
#[pyfunction]
pub fn _before_fork(py: Python<'_>) {
    if oxnet::runtime::started() {
        py.detach(|| oxnet::runtime::rt().engine.drain());
    }
}

/// In the child after `fork`: start a fresh runtime on next use.
#[pyfunction]
pub fn _after_fork_child() {
    oxnet::runtime::reset_after_fork();
}

#[pyfunction]
pub fn _set_package_dir(dir: String) {
    origin::set_package_dir(dir);
}

/// Loads the CBLAS library at `path` (symbols prefixed by `prefix`) for f32/f64 products.
#[pyfunction]
pub fn _load_blas(py: Python<'_>, path: String, prefix: String) -> PyResult<String> {
    enter(py, move || oxnet::kernels::cpu::blas::load(&path, &prefix))
}

/// The BLAS library products use, or None for the built-in `gemm` crate.
#[pyfunction]
pub fn blas_library() -> Option<String> {
    oxnet::kernels::cpu::blas::loaded().map(str::to_string)
}

/// (engine kind, worker threads, intra-op threads, pending ops).
#[pyfunction]
pub fn engine_info() -> (String, usize, usize) {
    let rt = oxnet::runtime::rt();
    (
        format!("{:?}", rt.engine.kind()),
        rt.pool.current_num_threads(),
        rt.engine.pending(),
    )
}

/// Imperative bulking on the calling thread (`mx.engine.set_bulk_size`); the previous size.
#[pyfunction]
pub fn engine_set_bulk_size(size: usize) -> usize {
    oxnet::runtime::rt().engine.set_bulk_size(size)
}

/// Starts or stops the engine's op timings (`mx.profiler.set_state`).
#[pyfunction]
pub fn profiler_set_state(running: bool) {
    oxnet::engine::profiler::set_running(running);
}

/// Microseconds on the profiler's clock (events timed in Python use it too).
#[pyfunction]
pub fn profiler_now_us() -> f64 {
    oxnet::engine::profiler::now_us()
}

/// The op timings kept since the last call: (name, start µs, duration µs, thread).
#[pyfunction]
pub fn profiler_take() -> Vec<(String, f64, f64, u32)> {
    oxnet::engine::profiler::take()
        .into_iter()
        .map(|r| (r.name.into_owned(), r.start_us, r.dur_us, r.thread))
        .collect()
}

/// (bytes in use, bytes cached) of the CPU memory pool.
#[pyfunction]
pub fn cpu_memory_info() -> (usize, usize) {
    oxnet::runtime::rt().cpu_pool.stats()
}
