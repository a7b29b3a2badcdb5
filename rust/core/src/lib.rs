//! oxnet core: MXNet 1.x semantics (NDArray, dependency engine, operator registry, file
//! formats) as a plain Rust library. No Python here; `rust/python` is only a binding.

pub mod autograd;
pub mod context;
pub mod dtype;
pub mod engine;
pub mod error;
pub mod executor;
pub mod graph;
pub mod kernels;
pub mod kvstore;
pub mod ndarray;
pub mod op;
pub mod random;
pub mod runtime;
pub mod shape;
pub mod storage;

pub use context::{Context, DeviceType};
pub use dtype::DType;
pub use error::{Error, Result};
pub use ndarray::NDArray;
pub use shape::Shape;
