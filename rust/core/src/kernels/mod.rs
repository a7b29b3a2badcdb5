//! Compute kernels per device. CPU kernels are generic over the element type; the op files
//! choose the type once per call (`with_dtype!`).

pub mod cpu;
#[cfg(feature = "cuda")]
pub mod cuda;
