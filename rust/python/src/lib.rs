//! `oxnet._native`: the PyO3 binding. Converts arguments, releases the GIL around waits and
//! copies, maps errors. No semantics live here.

mod autograd;
mod convert;
mod cuda;
mod custom;
mod error;
mod executor;
mod image;
mod kvstore;
mod ndarray;
mod ops;
mod origin;
mod symbol;

use pyo3::prelude::*;

// An op's dispatch makes about a dozen small allocations (shapes, variable lists, the engine's
// task); mimalloc's thread-local free lists make them several times cheaper than glibc's.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("MXNetError", m.py().get_type::<error::MXNetError>())?;
    m.add(
        "MXNetNotImplementedError",
        error::not_implemented_type(m.py())?,
    )?;
    oxnet::op::custom::set_custom_factory(Box::new(custom::create));
    m.add_class::<ndarray::PyNDArray>()?;
    m.add_class::<ops::PyOp>()?;
    m.add_class::<symbol::PySymbol>()?;
    m.add_class::<executor::PyExecutor>()?;
    m.add_class::<kvstore::PyKVStore>()?;
    m.add_function(wrap_pyfunction!(executor::bind_executor, m)?)?;
    m.add_function(wrap_pyfunction!(ops::get_op, m)?)?;
    m.add_function(wrap_pyfunction!(ops::list_ops, m)?)?;
    m.add_function(wrap_pyfunction!(ops::list_aliases, m)?)?;
    m.add_function(wrap_pyfunction!(ops::invoke, m)?)?;
    m.add_function(wrap_pyfunction!(ops::from_numpy_array, m)?)?;
    m.add_function(wrap_pyfunction!(ops::empty, m)?)?;
    m.add_function(wrap_pyfunction!(ops::waitall, m)?)?;
    m.add_function(wrap_pyfunction!(ops::seed, m)?)?;
    m.add_function(wrap_pyfunction!(ops::save_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(ops::save_file, m)?)?;
    m.add_function(wrap_pyfunction!(ops::write_file, m)?)?;
    m.add_function(wrap_pyfunction!(ops::load_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(ops::load_file, m)?)?;
    m.add_function(wrap_pyfunction!(ops::_before_fork, m)?)?;
    m.add_function(wrap_pyfunction!(ops::_after_fork_child, m)?)?;
    m.add_function(wrap_pyfunction!(ops::_set_package_dir, m)?)?;
    m.add_function(wrap_pyfunction!(ops::engine_info, m)?)?;
    m.add_function(wrap_pyfunction!(ops::engine_set_bulk_size, m)?)?;
    m.add_function(wrap_pyfunction!(ops::profiler_set_state, m)?)?;
    m.add_function(wrap_pyfunction!(ops::profiler_now_us, m)?)?;
    m.add_function(wrap_pyfunction!(ops::profiler_take, m)?)?;
    m.add_function(wrap_pyfunction!(ops::_load_blas, m)?)?;
    m.add_function(wrap_pyfunction!(ops::blas_library, m)?)?;
    m.add_function(wrap_pyfunction!(cuda::num_gpus, m)?)?;
    m.add_function(wrap_pyfunction!(cuda::cuda_compile_all, m)?)?;
    m.add_function(wrap_pyfunction!(cuda::copy_from_cuda_ptr, m)?)?;
    m.add_function(wrap_pyfunction!(cuda::cuda_sources, m)?)?;
    m.add_function(wrap_pyfunction!(cuda::gpu_memory_info, m)?)?;
    m.add_function(wrap_pyfunction!(cuda::gpu_compute_capability, m)?)?;
    m.add_function(wrap_pyfunction!(cuda::gpu_empty_cache, m)?)?;
    m.add_function(wrap_pyfunction!(ops::cpu_memory_info, m)?)?;
    m.add_function(wrap_pyfunction!(image::image_resize_u8, m)?)?;
    m.add_function(wrap_pyfunction!(image::image_crop_normalize, m)?)?;
    m.add_function(wrap_pyfunction!(autograd::set_recording, m)?)?;
    m.add_function(wrap_pyfunction!(autograd::set_training, m)?)?;
    m.add_function(wrap_pyfunction!(autograd::is_recording, m)?)?;
    m.add_function(wrap_pyfunction!(autograd::is_training, m)?)?;
    m.add_function(wrap_pyfunction!(autograd::mark_variables, m)?)?;
    m.add_function(wrap_pyfunction!(autograd::get_grad, m)?)?;
    m.add_function(wrap_pyfunction!(autograd::detach, m)?)?;
    m.add_function(wrap_pyfunction!(autograd::get_symbol, m)?)?;
    m.add_function(wrap_pyfunction!(autograd::backward, m)?)?;
    m.add_function(wrap_pyfunction!(autograd::fresh_grad, m)?)?;
    m.add_function(wrap_pyfunction!(autograd::set_fresh_grad, m)?)?;
    m.add_function(wrap_pyfunction!(autograd::grad, m)?)?;
    Ok(())
}
