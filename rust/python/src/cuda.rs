//! GPU queries for Python: device count and the CPU-side check that every kernel compiles.

use pyo3::prelude::*;

/// GPUs this process can use (0 without a driver).
#[pyfunction]
pub fn num_gpus(py: Python<'_>) -> usize {
    py.detach(oxnet::context::num_gpus)
}

/// (module, PTX text or None, NVRTC's log or None).
type Compiled = (String, Option<String>, Option<String>);

/// Compiles every CUDA kernel module with NVRTC for `arch` (e.g. `compute_90`):
/// a list of (module, PTX text or None, NVRTC's log or None). Needs no GPU.
#[pyfunction]
pub fn cuda_compile_all(py: Python<'_>, arch: String) -> PyResult<Vec<Compiled>> {
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

/// Copies `dst.nbytes()` bytes of device memory at address `ptr` (another library's CUDA
/// array on dst's device) into the GPU array `dst`.
#[pyfunction]
pub fn copy_from_cuda_ptr(
    py: Python<'_>,
    dst: PyRef<'_, crate::ndarray::PyNDArray>,
    ptr: usize,
) -> PyResult<()> {
    let a = dst.inner.clone();
    if a.ctx().is_host() {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "copy_from_cuda_ptr: the destination must be a GPU array",
        ));
    }
    #[cfg(feature = "cuda")]
    {
        crate::error::enter(py, move || {
            oxnet::kernels::cuda::host::copy_from_device_ptr(&a, ptr as u64)
        })
    }
    #[cfg(not(feature = "cuda"))]
    {
        let _ = (py, ptr);
        Err(pyo3::exceptions::PyRuntimeError::new_err(
            "oxnet was built without the cuda feature",
        ))
    }
}

/// The CUDA C of every kernel module: (module, source). Tests compile it for the host to
/// check the kernels' arithmetic against the CPU operators.
#[pyfunction]
pub fn cuda_sources() -> PyResult<Vec<(String, String)>> {
    #[cfg(feature = "cuda")]
    {
        Ok(oxnet::kernels::cuda::sources::all()
            .into_iter()
            .map(|(k, src)| (k.to_string(), src()))
            .collect())
    }
    #[cfg(not(feature = "cuda"))]
    {
        Err(pyo3::exceptions::PyRuntimeError::new_err(
            "oxnet was built without the cuda feature",
        ))
    }
}

/// (free, total) bytes of gpu(id)'s memory (`mx.context.gpu_memory_info`).
#[pyfunction]
pub fn gpu_memory_info(py: Python<'_>, id: i32) -> PyResult<(usize, usize)> {
    #[cfg(feature = "cuda")]
    {
        crate::error::enter(py, move || oxnet::kernels::cuda::device(id)?.memory_info())
    }
    #[cfg(not(feature = "cuda"))]
    {
        let _ = (py, id);
        Err(pyo3::exceptions::PyRuntimeError::new_err(
            "oxnet was built without the cuda feature",
        ))
    }
}

/// gpu(id)'s compute capability (major, minor), as the driver reports it.
#[pyfunction]
pub fn gpu_compute_capability(py: Python<'_>, id: i32) -> PyResult<(i32, i32)> {
    #[cfg(feature = "cuda")]
    {
        crate::error::enter(py, move || Ok(oxnet::kernels::cuda::device(id)?.cc))
    }
    #[cfg(not(feature = "cuda"))]
    {
        let _ = (py, id);
        Err(pyo3::exceptions::PyRuntimeError::new_err(
            "oxnet was built without the cuda feature",
        ))
    }
}

/// Hands gpu(id)'s cached free buffers back to the driver.
#[pyfunction]
pub fn gpu_empty_cache(py: Python<'_>, id: i32) -> PyResult<()> {
    #[cfg(feature = "cuda")]
    {
        crate::error::enter(py, move || {
            oxnet::kernels::cuda::device(id)?.release_cached()
        })
    }
    #[cfg(not(feature = "cuda"))]
    {
        let _ = (py, id);
        Ok(())
    }
}
