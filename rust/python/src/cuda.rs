//! GPU queries for Python: device count and the CPU-side check that every kernel compiles.

use pyo3::prelude::*;

/// GPUs this process can use (0 without a driver).
#[pyfunction]
pub fn num_gpus(py: Python<'_>) -> usize {
    py.detach(oxnet::context::num_gpus)
}

/// Compiles every CUDA kernel module with NVRTC for `arch` (e.g. `compute_90`):
/// a list of (module, PTX text or None, NVRTC's log or None). Needs no GPU.
#[pyfunction]
pub fn cuda_compile_all(
    py: Python<'_>,
    arch: String,
) -> PyResult<Vec<(String, Option<String>, Option<String>)>> {
    #[cfg(feature = "cuda")]
    {
        let r = py.detach(|| oxnet::kernels::cuda::nvrtc::compile_all(&arch));
        Ok(r.into_iter()
            .map(|(k, r)| match r {
                Ok(ptx) => (k.to_string(), Some(ptx), None),
                Err(e) => (k.to_string(), None, Some(e)),
            })
            .collect())
    }
    #[cfg(not(feature = "cuda"))]
    {
        let _ = (py, arch);
        Err(pyo3::exceptions::PyRuntimeError::new_err(
            "oxnet was built without the cuda feature",
        ))
    }
}
