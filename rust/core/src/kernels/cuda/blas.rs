//! Row-major matrix products on cuBLAS (column-major underneath: C = A·B is computed as
//! Cᵀ = Bᵀ·Aᵀ, which needs no copies).

use super::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use cudarc::cublas::{result as blas, sys};
use std::ffi::{c_int, c_void};

/// One row-major product `C = alpha·op(A)·op(B) + beta·C` with C of m×n and inner size k;
/// `ta`/`tb` mean A is stored k×m / B is stored n×k. Pointers are device addresses.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    dev: &Device,
    dt: DType,
    ta: bool,
    tb: bool,
    (m, n, k): (usize, usize, usize),
    a: u64,
    b: u64,
    c: u64,
    beta: f64,
) -> Result<()> {
    if m == 0 || n == 0 {
        return Ok(());
    }
    let dim = |v: usize| {
        c_int::try_from(v)
            .map_err(|_| Error::Value(format!("matrix dimension {v} is too large for cuBLAS")))
    };
    let (mi, ni, ki) = (dim(m)?, dim(n)?, dim(k.max(1))?);
    let (dtype, compute) = match dt {
        DType::F32 => (
            sys::cudaDataType::CUDA_R_32F,
            sys::cublasComputeType_t::CUBLAS_COMPUTE_32F,
        ),
        DType::F16 => (
            sys::cudaDataType::CUDA_R_16F,
            sys::cublasComputeType_t::CUBLAS_COMPUTE_32F,
        ),
        DType::F64 => (
            sys::cudaDataType::CUDA_R_64F,
            sys::cublasComputeType_t::CUBLAS_COMPUTE_64F,
        ),
        d => {
            return Err(Error::dtype(
                "gemm",
                format!("cuBLAS products take float16/32/64, got {d}"),
            ))
        }
    };
    let op = |t: bool| {
        if t {
            sys::cublasOperation_t::CUBLAS_OP_T
        } else {
            sys::cublasOperation_t::CUBLAS_OP_N
        }
    };
    let (one32, beta32, one64) = (1.0f32, beta as f32, 1.0f64);
    let (alpha, betap): (*const c_void, *const c_void) = if dt == DType::F64 {
        (&one64 as *const f64 as _, &beta as *const f64 as _)
    } else {
        (&one32 as *const f32 as _, &beta32 as *const f32 as _)
    };
    let h = dev.blas()?;
    // SAFETY: pointers are device buffers of the shapes described (checked by the ops'
    // shape inference); alpha/beta are host scalars of the compute type, alive for the call.
    unsafe {
        blas::gemm_ex(
            h,
            op(tb),
            op(ta),
            ni,
            mi,
            ki,
            alpha,
            b as *const c_void,
            dtype,
            if tb { ki } else { ni },
            a as *const c_void,
            dtype,
            if ta { mi } else { ki },
            betap,
            c as *mut c_void,
            dtype,
            ni,
            compute,
            sys::cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
        )
    }
    .map_err(|e| Error::Context(format!("cuBLAS gemm ({m}x{n}x{k}, {dt}) failed: {e:?}")))
}
