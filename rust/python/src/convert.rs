//! Conversions between Python values and core types: dtypes, contexts, shapes, numpy arrays,
//! and operator attributes (MXNet passes every parameter as its `str()`).

use crate::error::{enter, to_py};
use numpy::{PyArrayDescr, PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use oxnet::{Context, DType, DeviceType, NDArray, Shape};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};

static NP_TYPES: PyOnceLock<Vec<Py<PyAny>>> = PyOnceLock::new();

/// numpy's scalar type class for a dtype (`numpy.float32`), what `NDArray.dtype` returns;
/// for bfloat16, which numpy lacks, MXNet's stand-in `np.dtype([('bfloat16', np.uint16)])`.
pub fn np_type(py: Python<'_>, d: DType) -> PyResult<Bound<'_, PyAny>> {
    let types = NP_TYPES.get_or_try_init(py, || -> PyResult<Vec<Py<PyAny>>> {
        let np = py.import("numpy")?;
        DType::ALL
            .iter()
            .map(|d| {
                Ok(match d {
                    DType::Bool => np.getattr("bool_")?,
                    DType::BF16 => {
                        let field = PyTuple::new(
                            py,
                            [
                                "bfloat16".into_pyobject(py)?.into_any(),
                                np.getattr("uint16")?,
                            ],
                        )?;
                        np.call_method1("dtype", (PyList::new(py, [field])?,))?
                    }
                    d => np.getattr(d.name())?,
                }
                .unbind())
            })
            .collect()
    })?;
    let i = DType::ALL.iter().position(|x| *x == d).unwrap_or(0);
    Ok(types[i].bind(py).clone())
}

/// Accepts `'float32'`, `np.float32`, `np.dtype('float32')`, `'<f4'`...
pub fn dtype_of(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<DType> {
    if let Ok(s) = obj.cast::<PyString>() {
        if let Some(d) = DType::from_name(s.to_str()?) {
            return Ok(d);
        }
    }
    let d = py.import("numpy")?.call_method1("dtype", (obj,))?;
    np_dtype(&d)
}

/// The DType of a `numpy.dtype` object (MXNet's structured bfloat16 included).
fn np_dtype(d: &Bound<'_, PyAny>) -> PyResult<DType> {
    // From the descriptor's fields for the plain native types: numpy's `name` is computed in
    // Python, a microsecond and more of every `mx.nd.array`.
    if let Ok(descr) = d.cast::<PyArrayDescr>() {
        let plain = match (descr.kind(), descr.itemsize()) {
            (b'b', 1) => Some(DType::Bool),
            (b'i', 1) => Some(DType::I8),
            (b'u', 1) => Some(DType::U8),
            (b'i', 4) => Some(DType::I32),
            (b'i', 8) => Some(DType::I64),
            (b'f', 2) => Some(DType::F16),
            (b'f', 4) => Some(DType::F32),
            (b'f', 8) => Some(DType::F64),
            _ => None,
        };
        if let Some(t) = plain.filter(|_| matches!(descr.byteorder(), b'=' | b'|')) {
            return Ok(t);
        }
    }
    let name: String = d.getattr("name")?.extract()?;
    if name == "void16" {
        let names: Option<Vec<String>> = d.getattr("names")?.extract()?;
        if names.is_some_and(|n| n == ["bfloat16"]) {
            return Ok(DType::BF16);
        }
    }
    DType::from_name(&name)
        .ok_or_else(|| PyTypeError::new_err(format!("dtype {name} is not supported by oxnet")))
}

pub fn ctx_of(dev_type: i32, dev_id: i32) -> PyResult<Context> {
    let dev_type = DeviceType::from_code(dev_type)
        .ok_or_else(|| PyValueError::new_err(format!("invalid device type code {dev_type}")))?;
    Ok(Context { dev_type, dev_id })
}

pub fn shape_tuple<'py>(py: Python<'py>, s: &Shape) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(py, s.dims())
}

/// MXNet's attribute text for a Python value (`str()`, with type objects named).
pub fn attr_str(py: Python<'_>, v: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(s.to_str()?.to_string());
    }
    // Plain numbers first, skipping the type-name lookup below (most of a call's cost for
    // optimizer updates, which pass several): the same text as Python's `str`.
    if v.is_exact_instance_of::<PyFloat>() {
        return Ok(v.str()?.to_str()?.to_string());
    }
    if v.is_exact_instance_of::<PyInt>() {
        if let Ok(i) = v.extract::<i64>() {
            return Ok(i.to_string());
        }
    }
    if v.is_none() {
        return Ok("None".into());
    }
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(if b.is_true() { "True" } else { "False" }.into());
    }
    if v.is_instance_of::<PyTuple>() || v.is_instance_of::<PyList>() {
        let parts: Vec<String> = v
            .try_iter()?
            .map(|x| attr_str(py, &x?))
            .collect::<PyResult<_>>()?;
        let items = parts.join(", ");
        return Ok(if v.is_instance_of::<PyList>() {
            format!("[{items}]")
        } else if parts.len() == 1 {
            format!("({items},)")
        } else {
            format!("({items})")
        });
    }
    let type_name = v.get_type().name()?;
    let type_name = type_name.to_str()?;
    // numpy.dtype instances: `dtype` (numpy 1) or `Float32DType`, `VoidDType`... (numpy 2).
    if v.is_instance_of::<PyType>()
        || type_name.starts_with("dtype")
        || type_name.ends_with("DType")
    {
        return Ok(dtype_of(py, v)?.name().to_string());
    }
    Ok(v.str()?.to_str()?.to_string())
}

pub fn attrs_of(
    py: Python<'_>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    if let Some(kw) = kwargs {
        for (k, v) in kw.iter() {
            out.push((k.extract::<String>()?, attr_str(py, &v)?));
        }
    }
    Ok(out)
}

/// Copies a C-contiguous numpy array of a supported dtype into a new NDArray on `ctx`.
pub fn from_numpy(
    py: Python<'_>,
    arr: &Bound<'_, PyUntypedArray>,
    ctx: Context,
) -> PyResult<NDArray> {
    let dtype = np_dtype(arr.dtype().as_any())
        .map_err(|e| PyTypeError::new_err(format!("numpy {}", e.value(py))))?;
    if !arr.is_c_contiguous() || arr.dtype().itemsize() != dtype.size() {
        return Err(PyValueError::new_err(
            "internal: from_numpy needs a C-contiguous array",
        ));
    }
    let shape = Shape::new(arr.shape().to_vec());
    // SAFETY: the array is C-contiguous with `size * itemsize` bytes at `data`, and stays alive
    // (borrowed) for this call.
    let bytes = unsafe {
        let p = (*arr.as_array_ptr()).fields.data as *const u8;
        std::slice::from_raw_parts(p, shape.size() * dtype.size())
    };
    if bytes.len() > 1 << 20 {
        let addr = bytes.as_ptr() as usize;
        let len = bytes.len();
        // SAFETY: `arr` outlives the detached section; nothing mutates it meanwhile except a
        // user racing us from another thread, as with any numpy consumer.
        enter(py, move || {
            NDArray::from_bytes(shape, dtype, ctx, unsafe {
                std::slice::from_raw_parts(addr as *const u8, len)
            })
        })
    } else {
        NDArray::from_bytes(shape, dtype, ctx, bytes).map_err(to_py)
    }
}

/// A fresh numpy array with the contents of `a` (waits for pending writes, GIL released).
pub fn to_numpy<'py>(py: Python<'py>, a: &NDArray) -> PyResult<Bound<'py, PyAny>> {
    static EMPTY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let empty = EMPTY.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        Ok(py.import("numpy")?.getattr("empty")?.unbind())
    })?;
    let dims = shape_tuple(py, a.shape())?;
    let out = empty.bind(py).call1((dims, np_type(py, a.dtype())?))?;
    let arr = out.cast::<PyUntypedArray>()?;
    // SAFETY: freshly allocated, contiguous, exactly nbytes long, owned by `out` which lives
    // across the (detached) copy.
    let addr = unsafe { (*arr.as_array_ptr()).fields.data as usize };
    let n = a.nbytes();
    let copy =
        |a: &NDArray| a.copy_to_host(unsafe { std::slice::from_raw_parts_mut(addr as *mut u8, n) });
    // A small finished array is copied with the GIL held: nothing to wait for, and releasing
    // the GIL would cost more than the copy.
    if n <= 1 << 16 && a.readable_now() {
        return copy(a).map(|()| out).map_err(crate::error::to_py);
    }
    let a2 = a.clone();
    enter(py, move || copy(&a2))?;
    Ok(out)
}
