//! GEMM through the `gemm` crate (the only user of it).
