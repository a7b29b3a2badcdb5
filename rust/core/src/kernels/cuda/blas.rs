//! Row-major matrix products on cuBLAS (column-major underneath: C = A·B is computed as
//! Cᵀ = Bᵀ·Aᵀ, which needs no copies).

use super::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use cudarc::cublas::{result as blas, sys};
use std::ffi::{c_int, c_longlong, c_void};

/// One row-major product `C = A·B + beta·C` with C of m×n and inner size k; `ta`/`tb` mean A
/// is stored k×m / B is stored n×k. Pointers are device addresses.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    dev: &Device,
    dt: DType,
    ta: bool,
    tb: bool,
    mnk: (usize, usize, usize),
    a: u64,
    b: u64,
    c: u64,
    beta: f64,
) -> Result<()> {
    let one = |ptr| Operand::new(ptr, 0, 0);
    gemm_batched(dev, dt, (ta, tb), mnk, one(a), one(b), one(c), 1, beta)
}

/// A matrix operand of a batched product: the first matrix's device address and the element
/// stride between consecutive matrices (0: every product reads the same one).
#[derive(Clone, Copy)]
pub struct Operand {
    base: u64,
    offset: usize,
    stride: usize,
}

impl Operand {
    /// The matrices of an array at device address `base`, the first `offset` elements in.
    pub fn new(base: u64, offset: usize, stride: usize) -> Operand {
        Operand {
            base,
            offset,
            stride,
        }
    }
}

/// `batch` row-major products `C_i = op(A_i)·op(B_i) + beta·C_i`, one cuBLAS call.
#[allow(clippy::too_many_arguments)]
pub fn gemm_batched(
    dev: &Device,
    dt: DType,
    (ta, tb): (bool, bool),
    (m, n, k): (usize, usize, usize),
    a: Operand,
    b: Operand,
    c: Operand,
    batch: usize,
    beta: f64,
) -> Result<()> {
    if m == 0 || n == 0 || batch == 0 {
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
    let count = dim(batch)?;
    let es = dt.size() as u64;
    let addr = |o: Operand| o.base + o.offset as u64 * es;
    let stride = |o: Operand| o.stride as c_longlong;
    let h = dev.blas()?;
    // SAFETY: pointers are device buffers holding `batch` matrices of the shapes described at
    // the given strides (checked by the ops' shape inference); alpha/beta are host scalars of
    // the compute type, alive for the call.
    unsafe {
        if batch == 1 {
            // The plain call: cuBLAS's heuristics for one product are tuned on it.
            blas::gemm_ex(
                h,
                op(tb),
                op(ta),
                ni,
                mi,
                ki,
                alpha,
                addr(b) as *const c_void,
                dtype,
                if tb { ki } else { ni },
                addr(a) as *const c_void,
                dtype,
                if ta { mi } else { ki },
                betap,
                addr(c) as *mut c_void,
                dtype,
                ni,
                compute,
                sys::cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
            )
        } else {
            blas::gemm_strided_batched_ex(
                h,
                op(tb),
                op(ta),
                ni,
                mi,
                ki,
                alpha,
                addr(b) as *const c_void,
                dtype,
                if tb { ki } else { ni },
                stride(b),
                addr(a) as *const c_void,
                dtype,
                if ta { mi } else { ki },
                stride(a),
                betap,
                addr(c) as *mut c_void,
                dtype,
                ni,
                stride(c),
                count,
                compute,
                sys::cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
            )
        }
    }
    .map_err(|e| {
        Error::Context(format!(
            "cuBLAS gemm ({batch} x {m}x{n}x{k}, {dt}) failed: {e:?}"
        ))
    })
}
