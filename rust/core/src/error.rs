//! One error type for the whole core. Variants carry what the user needs to fix the call:
//! the operator, the argument, the shapes. The binding maps `kind()` to a Python class.

use std::sync::Arc;

/// Which Python exception class an error becomes (MXNet users expect these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// `oxnet.base.MXNetError` (a RuntimeError), MXNet's default.
    MXNet,
    Value,
    Type,
    Index,
    Key,
    NotImplemented,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// Shapes that do not fit the operator (raised synchronously at the call).
    #[error("{op}: {msg}")]
    Shape { op: String, msg: String },
    /// A dtype the operator cannot take.
    #[error("{op}: {msg}")]
    DType { op: String, msg: String },
    /// A bad operator parameter: unknown, missing, or unparsable.
    #[error("{msg}, in operator {op}")]
    Param { op: String, msg: String },
    #[error("{0}")]
    Value(String),
    #[error("{0}")]
    Type(String),
    #[error("{0}")]
    Index(String),
    #[error("{0}")]
    Key(String),
    #[error("{0}")]
    Context(String),
    /// An allocation the device cannot satisfy (MXNetError, as MXNet's out-of-memory).
    #[error("{0}")]
    Memory(String),
    #[error("{0}")]
    NotImplemented(String),
    /// A file that is not a valid MXNet NDArray file (never trusted, never a crash).
    #[error("Invalid NDArray file format: {0}")]
    Format(String),
    #[error("{path}: {msg}")]
    Io { path: String, msg: String },
    /// A kernel failed while the engine ran it; carries the op and where Python issued it.
    #[error("{msg}{}", origin_suffix(.op, .origin))]
    Engine {
        op: String,
        origin: Option<String>,
        msg: String,
    },
    /// An op skipped because an input came from a failed op (points at the root cause).
    #[error("{0}")]
    Poisoned(Arc<Error>),
    /// A graph that cannot be differentiated, bound or run as asked (MXNetError).
    #[error("{0}")]
    Graph(String),
    #[error("{0}")]
    Internal(String),
}

fn origin_suffix(op: &str, origin: &Option<String>) -> String {
    match origin {
        Some(o) => format!(" (in operator {op}, issued at {o})"),
        None => format!(" (in operator {op})"),
    }
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Value(_) => ErrorKind::Value,
            Error::Type(_) => ErrorKind::Type,
            Error::Index(_) => ErrorKind::Index,
            Error::Key(_) => ErrorKind::Key,
            Error::NotImplemented(_) => ErrorKind::NotImplemented,
            Error::Poisoned(e) => e.kind(),
            _ => ErrorKind::MXNet,
        }
    }

    pub fn shape(op: &str, msg: impl Into<String>) -> Self {
        Error::Shape {
            op: op.to_string(),
            msg: msg.into(),
        }
    }

    pub fn dtype(op: &str, msg: impl Into<String>) -> Self {
        Error::DType {
            op: op.to_string(),
            msg: msg.into(),
        }
    }

    pub fn param(op: &str, msg: impl Into<String>) -> Self {
        Error::Param {
            op: op.to_string(),
            msg: msg.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// `bail!(Error::Value(...))` or `bail!(shape op, "fmt", ...)`.
#[macro_export]
macro_rules! bail {
    (shape $op:expr, $($arg:tt)*) => { return Err($crate::error::Error::shape($op, format!($($arg)*))) };
    (value $($arg:tt)*) => { return Err($crate::error::Error::Value(format!($($arg)*))) };
    ($e:expr) => { return Err($e) };
}

/// `ensure!(cond, shape op, "fmt", ...)` — early return with the error when `cond` is false.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($rest:tt)*) => { if !$cond { $crate::bail!($($rest)*); } };
}
