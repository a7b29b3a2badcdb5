//! Maps core errors to the Python exceptions MXNet users expect.

use oxnet::error::{Error, ErrorKind};
use pyo3::exceptions::{
    PyIndexError, PyKeyError, PyNotImplementedError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::prelude::*;

pyo3::create_exception!(
    oxnet,
    MXNetError,
    PyRuntimeError,
    "Error raised by oxnet's core (MXNet's MXNetError)."
);

pub fn to_py(e: Error) -> PyErr {
    let msg = e.to_string();
    match e.kind() {
        ErrorKind::MXNet => MXNetError::new_err(msg),
        ErrorKind::Value => PyValueError::new_err(msg),
        ErrorKind::Type => PyTypeError::new_err(msg),
        ErrorKind::Index => PyIndexError::new_err(msg),
        ErrorKind::Key => PyKeyError::new_err(msg),
        ErrorKind::NotImplemented => PyNotImplementedError::new_err(msg),
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
