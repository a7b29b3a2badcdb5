//! Maps core errors to the Python exceptions MXNet users expect.

use oxnet::error::{Error, ErrorKind};
use pyo3::exceptions::{
    PyIndexError, PyKeyError, PyNotImplementedError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use std::cell::RefCell;

pyo3::create_exception!(
    oxnet,
    MXNetError,
    PyRuntimeError,
    "Error raised by oxnet's core (MXNet's MXNetError)."
);

/// What the core cannot do (a gradient an op does not have, an unsupported setting): both
/// MXNet's type for it, MXNetError, and Python's NotImplementedError.
static NOT_IMPLEMENTED: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// Makes `MXNetNotImplementedError` (MXNetError and NotImplementedError) for the module.
pub fn not_implemented_type(py: Python<'_>) -> PyResult<Bound<'_, PyType>> {
    NOT_IMPLEMENTED
        .get_or_try_init(py, || -> PyResult<Py<PyType>> {
            let bases = PyTuple::new(
                py,
                [
                    py.get_type::<MXNetError>(),
                    py.get_type::<PyNotImplementedError>(),
                ],
            )?;
            let ns = PyDict::new(py);
            ns.set_item("__module__", "oxnet.base")?;
            let t = py.import("builtins")?.getattr("type")?.call1((
                "MXNetNotImplementedError",
                bases,
                ns,
            ))?;
            Ok(t.cast_into::<PyType>()?.unbind())
        })
        .map(|t| t.bind(py).clone())
}

thread_local! {
    /// A Python exception raised by user code the core called back (custom operators), and
    /// the message of the core error that carries it.
    static RAISED: RefCell<Option<(String, PyErr)>> = const { RefCell::new(None) };
}

/// Keeps `e` so that the core error whose message contains `msg` re-raises it.
pub fn stash(msg: &str, e: PyErr) {
    RAISED.with(|r| *r.borrow_mut() = Some((msg.to_string(), e)));
}

pub fn to_py(e: Error) -> PyErr {
    let msg = e.to_string();
    let raised = RAISED.with(|r| {
        let mut r = r.borrow_mut();
        match &*r {
            Some((m, _)) if msg.contains(m.as_str()) => r.take().map(|(_, e)| e),
            _ => None,
        }
    });
    if let Some(e) = raised {
        return e;
    }
    match e.kind() {
        ErrorKind::MXNet => MXNetError::new_err(msg),
        ErrorKind::Value => PyValueError::new_err(msg),
        ErrorKind::Type => PyTypeError::new_err(msg),
        ErrorKind::Index => PyIndexError::new_err(msg),
        ErrorKind::Key => PyKeyError::new_err(msg),
        ErrorKind::NotImplemented => Python::attach(|py| match not_implemented_type(py) {
            Ok(t) => PyErr::from_type(t, msg),
            Err(_) => PyNotImplementedError::new_err(msg),
        }),
    }
}

/// `?`-friendly conversion for core results.
pub trait IntoPyResult<T> {
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for oxnet::Result<T> {
    fn py(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}

/// Runs `f` with the GIL released (work that may block or take long) and maps its error.
pub fn enter<T: Send>(py: Python<'_>, f: impl FnOnce() -> oxnet::Result<T> + Send) -> PyResult<T> {
    py.detach(f).map_err(to_py)
}
