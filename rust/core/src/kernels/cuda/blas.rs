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

/// The column-major call cuBLAS gets for row-major products: Cᵀ = op(B)ᵀ·op(A)ᵀ, so its first
/// operand is B and its second A, and no copies are needed. Addresses are in bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ColMajor {
    trans: (bool, bool),
    mnk: (c_int, c_int, c_int),
    first: Matrix,
    second: Matrix,
    out: Matrix,
    count: c_int,
}

/// Address, leading dimension and batch stride (elements) of one cuBLAS operand.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Matrix(u64, c_int, c_longlong);

fn dim(v: usize) -> Result<c_int> {
    c_int::try_from(v)
        .map_err(|_| Error::Value(format!("matrix dimension {v} is too large for cuBLAS")))
}

#[allow(clippy::too_many_arguments)]
fn col_major(
    es: u64,
    (ta, tb): (bool, bool),
    (m, n, k): (usize, usize, usize),
    a: Operand,
    b: Operand,
    c: Operand,
    batch: usize,
) -> Result<ColMajor> {
    let (mi, ni, ki) = (dim(m)?, dim(n)?, dim(k.max(1))?);
    let mat = |o: Operand, ld: c_int| -> Result<Matrix> {
        let stride = c_longlong::try_from(o.stride)
            .map_err(|_| Error::Value(format!("batch stride {} is too large", o.stride)))?;
        Ok(Matrix(o.base + o.offset as u64 * es, ld, stride))
    };
    Ok(ColMajor {
        trans: (tb, ta),
        mnk: (ni, mi, ki),
        first: mat(b, if tb { ki } else { ni })?,
        second: mat(a, if ta { mi } else { ki })?,
        out: mat(c, ni)?,
        count: dim(batch)?,
    })
}

/// `batch` row-major products `C_i = op(A_i)·op(B_i) + beta·C_i`, one cuBLAS call.
#[allow(clippy::too_many_arguments)]
pub fn gemm_batched(
    dev: &Device,
    dt: DType,
    trans: (bool, bool),
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
    let call = col_major(dt.size() as u64, trans, (m, n, k), a, b, c, batch)?;
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
    let ColMajor {
        trans: (t1, t2),
        mnk: (cm, cn, ck),
        first: Matrix(p1, ld1, s1),
        second: Matrix(p2, ld2, s2),
        out: Matrix(po, ldo, so),
        count,
    } = call;
    let algo = sys::cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT;
    // SAFETY: the addresses are device buffers holding `batch` matrices of the shapes described
    // at the given strides (checked by the ops' shape inference); alpha/beta are host scalars
    // of the compute type, alive for the call.
    unsafe {
        if count == 1 {
            // The plain call: cuBLAS's heuristics for one product are tuned on it.
            blas::gemm_ex(
                h,
                op(t1),
                op(t2),
                cm,
                cn,
                ck,
                alpha,
                p1 as *const c_void,
                dtype,
                ld1,
                p2 as *const c_void,
                dtype,
                ld2,
                betap,
                po as *mut c_void,
                dtype,
                ldo,
                compute,
                algo,
            )
        } else {
            blas::gemm_strided_batched_ex(
                h,
                op(t1),
                op(t2),
                cm,
                cn,
                ck,
                alpha,
                p1 as *const c_void,
                dtype,
                ld1,
                s1,
                p2 as *const c_void,
                dtype,
                ld2,
                s2,
                betap,
                po as *mut c_void,
                dtype,
                ldo,
                so,
                count,
                compute,
                algo,
            )
        }
    }
    .map_err(|e| {
        Error::Context(format!(
            "cuBLAS gemm ({batch} x {m}x{n}x{k}, {dt}) failed: {e:?}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// cuBLAS's documented column-major strided-batched GEMM (alpha 1) on host memory, with
    /// addresses as element indices.
    fn cublas_on_host(call: &ColMajor, mem: &mut [f64], beta: f64) {
        let (m, n, k) = (
            call.mnk.0 as usize,
            call.mnk.1 as usize,
            call.mnk.2 as usize,
        );
        let at = |mat: Matrix, i: usize, r: usize, c: usize| {
            mat.0 as usize + i * mat.2 as usize + r + c * mat.1 as usize
        };
        for i in 0..call.count as usize {
            for r in 0..m {
                for c in 0..n {
                    let mut acc = 0.0;
                    for q in 0..k {
                        let x = if call.trans.0 {
                            at(call.first, i, q, r)
                        } else {
                            at(call.first, i, r, q)
                        };
                        let y = if call.trans.1 {
                            at(call.second, i, c, q)
                        } else {
                            at(call.second, i, q, c)
                        };
                        acc += mem[x] * mem[y];
                    }
                    let o = at(call.out, i, r, c);
                    mem[o] = acc + beta * mem[o];
                }
            }
        }
    }

    /// Row-major products through the column-major call agree with direct row-major sums, for
    /// every transpose, an operand shared by all products (stride 0), offsets and beta.
    #[test]
    fn row_major_products_through_the_column_major_call() {
        let (m, n, k, batch) = (3usize, 5usize, 4usize, 3usize);
        for &(ta, tb) in &[(false, false), (true, false), (false, true), (true, true)] {
            for &(shared, beta) in &[(false, 0.0), (true, 0.0), (true, 1.0)] {
                // Layout: [pad 7][A...][pad][B...][pad][C...]
                let (sa, sb, sc) = (if shared { 0 } else { m * k + 2 }, k * n + 1, m * n + 3);
                let (oa, ob, oc) = (
                    7,
                    7 + 3 * (m * k + 2) + 5,
                    7 + 3 * (m * k + 2) + 5 + 3 * sb + 4,
                );
                let len = oc + batch * sc;
                let mut mem: Vec<f64> = (0..len).map(|i| ((i * 37 % 23) as f64) - 11.0).collect();
                let before = mem.clone();
                let call = col_major(
                    1,
                    (ta, tb),
                    (m, n, k),
                    Operand::new(0, oa, sa),
                    Operand::new(0, ob, sb),
                    Operand::new(0, oc, sc),
                    batch,
                )
                .unwrap();
                cublas_on_host(&call, &mut mem, beta);
                for i in 0..batch {
                    for r in 0..m {
                        for c in 0..n {
                            let mut want = beta * before[oc + i * sc + r * n + c];
                            for q in 0..k {
                                let x = oa + i * sa + if ta { q * m + r } else { r * k + q };
                                let y = ob + i * sb + if tb { c * k + q } else { q * n + c };
                                want += before[x] * before[y];
                            }
                            assert_eq!(
                                mem[oc + i * sc + r * n + c],
                                want,
                                "{ta} {tb} {shared} {beta} {i} {r} {c}"
                            );
                        }
                    }
                }
                // Nothing outside the products' outputs is written.
                for (j, (x, y)) in mem.iter().zip(&before).enumerate() {
                    let inside = j >= oc && (j - oc) % sc < m * n && (j - oc) / sc < batch;
                    assert!(inside || x == y, "element {j} written");
                }
            }
        }
    }

    #[test]
    fn oversized_dimensions_are_refused() {
        let o = Operand::new(0, 0, 0);
        let e = col_major(4, (false, false), (1 << 31, 2, 2), o, o, o, 1).unwrap_err();
        assert!(e.to_string().contains("too large for cuBLAS"), "{e}");
    }
}
