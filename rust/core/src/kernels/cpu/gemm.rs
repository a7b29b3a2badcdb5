//! Matrix products: OpenBLAS when one is loaded ([`super::blas`]), else the `gemm` crate.
//! Operands are (pointer, row stride, column stride), so `transpose_a`/`transpose_b` cost
//! nothing: both take any operand with a unit stride, and the crate packs panels from any
//! strides.
//!
//! Threading: a product runs on the calling thread unless it is large. Engine workers already
//! run independent ops side by side, so splitting a small product over the intra-op pool would
//! only make two concurrent dots contend for the same threads. A large one is cut into one
//! block of rows (or columns) per pool thread, each a single-threaded product.

use super::blas::BlasElem;
use super::{par_for, par_ranges, Ptr};
use crate::dtype::Element;
use crate::runtime::rt;
use gemm::Parallelism;
use half::{bf16, f16};
use std::sync::OnceLock;

/// Multiply-adds (m·n·k) from which one product is split over the intra-op pool: about a
/// tenth of a millisecond of one core's work, past which the pool's hand-off pays for itself
/// (`OXNET_GEMM_PAR_MNK` overrides it, for measuring).
pub fn par_mnk() -> usize {
    static LIMIT: OnceLock<usize> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        std::env::var("OXNET_GEMM_PAR_MNK")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_PAR_MNK)
    })
}

const DEFAULT_PAR_MNK: usize = 1 << 22;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
    impl Sealed for half::f16 {}
    impl Sealed for half::bf16 {}
}

/// Element types the products take (f16 accumulates in f32 inside the `gemm` crate; bf16,
/// which neither it nor CBLAS takes, is widened to f32 operands).
pub trait GemmElem: Element + BlasElem + sealed::Sealed {}
impl GemmElem for f32 {}
impl GemmElem for f64 {}
impl GemmElem for f16 {}
impl GemmElem for bf16 {}

impl BlasElem for bf16 {
    unsafe fn blas_product(
        m: usize,
        n: usize,
        k: usize,
        a: Mat<bf16>,
        b: Mat<bf16>,
        c: *mut bf16,
        ldc: usize,
        acc: bool,
    ) -> bool {
        // SAFETY (all three): the caller's contract makes every (i, j) inside its operand.
        let widen = |x: Mat<bf16>, rows: usize, cols: usize| -> Vec<f32> {
            let mut v = Vec::with_capacity(rows * cols);
            for i in 0..rows {
                for j in 0..cols {
                    v.push(
                        unsafe { *x.ptr.offset(i as isize * x.rs + j as isize * x.cs) }.to_f32(),
                    );
                }
            }
            v
        };
        let (wa, wb) = (widen(a, m, k), widen(b, k, n));
        let mut wc = if acc {
            widen(
                Mat {
                    ptr: c.cast_const(),
                    rs: ldc as isize,
                    cs: 1,
                },
                m,
                n,
            )
        } else {
            vec![0.0; m * n]
        };
        let ma = Mat {
            ptr: wa.as_ptr(),
            rs: k as isize,
            cs: 1,
        };
        let mb = Mat {
            ptr: wb.as_ptr(),
            rs: n as isize,
            cs: 1,
        };
        product(m, n, k, ma, mb, wc.as_mut_ptr(), n, acc);
        for i in 0..m {
            for j in 0..n {
                *c.add(i * ldc + j) = bf16::from_f32(wc[i * n + j]);
            }
        }
        true
    }
}

/// A strided matrix operand: element (i, j) is at `ptr + i*rs + j*cs`.
#[derive(Debug, Clone, Copy)]
pub struct Mat<T> {
    pub ptr: *const T,
    pub rs: isize,
    pub cs: isize,
}

// SAFETY: a `Mat` only describes memory; whoever dereferences it upholds the `matmul`
// contract, including for the threads a large product is split over.
unsafe impl<T> Send for Mat<T> {}
unsafe impl<T> Sync for Mat<T> {}

impl<T> Mat<T> {
    /// The operand from row `i` and column `j` on.
    pub(crate) fn at(self, i: usize, j: usize) -> Self {
        Mat {
            // wrapping: the caller only passes indices inside the operand.
            ptr: self
                .ptr
                .wrapping_offset(i as isize * self.rs + j as isize * self.cs),
            ..self
        }
    }

    /// The transposed operand (the same memory with rows and columns swapped).
    pub(crate) fn t(self) -> Self {
        Mat {
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }

    /// # Safety
    /// (i, j) must lie inside the operand.
    #[inline(always)]
    pub(crate) unsafe fn get(self, i: usize, j: usize) -> T
    where
        T: Copy,
    {
        *self.ptr.offset(i as isize * self.rs + j as isize * self.cs)
    }
}

/// `c = a · b` with `a` m×k, `b` k×n and `c` m×n row-major with row stride `ldc`.
///
/// # Safety
/// `a`, `b` and `c` must be valid for every element their shapes and strides describe, and
/// `c` must not overlap `a` or `b`.
pub unsafe fn matmul<T: GemmElem>(
    m: usize,
    n: usize,
    k: usize,
    a: Mat<T>,
    b: Mat<T>,
    c: *mut T,
    ldc: usize,
) {
    split_product(m, n, k, a, b, c, ldc, false)
}

/// `c += a · b`, otherwise as `matmul` (bias rows or partial sums already in `c`).
///
/// # Safety
/// As `matmul`; `c` must also be initialised.
pub unsafe fn matmul_acc<T: GemmElem>(
    m: usize,
    n: usize,
    k: usize,
    a: Mat<T>,
    b: Mat<T>,
    c: *mut T,
    ldc: usize,
) {
    split_product(m, n, k, a, b, c, ldc, true)
}

/// `product`, cut into one block of `c` per pool thread when large, along the longer side.
#[allow(clippy::too_many_arguments)]
unsafe fn split_product<T: GemmElem>(
    m: usize,
    n: usize,
    k: usize,
    a: Mat<T>,
    b: Mat<T>,
    c: *mut T,
    ldc: usize,
    acc: bool,
) {
    let work = m.saturating_mul(n).saturating_mul(k);
    let threads = rt().pool.current_num_threads();
    if work < par_mnk() || threads <= 1 {
        return product(m, n, k, a, b, c, ldc, acc);
    }
    // Each block packs its whole share of the operand that is not split: cutting the longer
    // side of `c` duplicates the smaller operand's packing. 100x784x128 products on two threads
    // (FullyConnected's dW and dX): 280-340 us cut by rows, 230-275 by columns.
    let by_rows = m >= n;
    let len = if by_rows { m } else { n };
    let step = len.div_ceil(threads);
    let pc = Ptr(c);
    par_for(len.div_ceil(step), |t| {
        let (a, b) = (a, b);
        let (s, e) = (t * step, ((t + 1) * step).min(len));
        // SAFETY: block t of `c` is disjoint from every other block; its operands are the
        // matching rows of `a` or columns of `b`, inside them by construction.
        unsafe {
            if by_rows {
                product(e - s, n, k, a.at(s, 0), b, pc.get().add(s * ldc), ldc, acc)
            } else {
                product(m, e - s, k, a, b.at(0, s), pc.get().add(s), ldc, acc)
            }
        }
    });
}

/// `c = a·b` (`c += a·b` when `acc`) on this thread.
#[allow(clippy::too_many_arguments)]
unsafe fn product<T: GemmElem>(
    m: usize,
    n: usize,
    k: usize,
    a: Mat<T>,
    b: Mat<T>,
    c: *mut T,
    ldc: usize,
    acc: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // An empty sum is zero; the libraries are not asked to define that case.
        if !acc {
            for i in 0..m {
                std::slice::from_raw_parts_mut(c.add(i * ldc), n).fill(T::from_f64(0.0));
            }
        }
        return;
    }
    if T::blas_product(m, n, k, a, b, c, ldc, acc) {
        return;
    }
    // dst := alpha·dst + beta·lhs·rhs; alpha is read only with read_dst.
    gemm::gemm(
        m,
        n,
        k,
        c,
        1,
        ldc as isize,
        acc,
        a.ptr,
        a.cs,
        a.rs,
        b.ptr,
        b.cs,
        b.rs,
        T::from_f64(1.0),
        T::from_f64(1.0),
        false,
        false,
        false,
        Parallelism::None,
    );
}

/// `batch` independent products: product i reads `a.ptr + i*a_bs`, `b.ptr + i*b_bs` and writes
/// the contiguous m×n block at `c + i*m*n`.
///
/// # Safety
/// As `matmul`, for every product of the batch.
#[allow(clippy::too_many_arguments)]
pub unsafe fn batch_matmul<T: GemmElem>(
    batch: usize,
    m: usize,
    n: usize,
    k: usize,
    a: Mat<T>,
    a_bs: isize,
    b: Mat<T>,
    b_bs: isize,
    c: *mut T,
) {
    batch_matmul_to(batch, m, n, k, a, a_bs, b, b_bs, c, m * n, n)
}

/// `batch_matmul` whose product i writes the m×n block at `c + i*c_bs` with row stride `ldc`
/// (heads interleaved in one tensor, as the transformer ops lay them out).
///
/// # Safety
/// As `matmul`, for every product of the batch; the output blocks must not overlap.
#[allow(clippy::too_many_arguments)]
pub unsafe fn batch_matmul_to<T: GemmElem>(
    batch: usize,
    m: usize,
    n: usize,
    k: usize,
    a: Mat<T>,
    a_bs: isize,
    b: Mat<T>,
    b_bs: isize,
    c: *mut T,
    c_bs: usize,
    ldc: usize,
) {
    let work = m.saturating_mul(n).saturating_mul(k);
    if work >= par_mnk() || batch == 1 {
        for i in 0..batch {
            let ai = Mat {
                ptr: a.ptr.offset(i as isize * a_bs),
                ..a
            };
            let bi = Mat {
                ptr: b.ptr.offset(i as isize * b_bs),
                ..b
            };
            matmul(m, n, k, ai, bi, c.add(i * c_bs), ldc);
        }
        return;
    }
    // Many small products: one per task, each single-threaded, which scales better than
    // splitting every small product.
    let pc = Ptr(c);
    par_ranges(batch, work, move |s, e| {
        // Use the operands whole: capturing only their pointer fields would drop `Mat`'s Send.
        let (a, b) = (a, b);
        for i in s..e {
            // SAFETY: product i's operands by the caller's contract; outputs of distinct i are
            // disjoint blocks.
            unsafe {
                let ai = Mat {
                    ptr: a.ptr.offset(i as isize * a_bs),
                    ..a
                };
                let bi = Mat {
                    ptr: b.ptr.offset(i as isize * b_bs),
                    ..b
                };
                product(m, n, k, ai, bi, pc.get().add(i * c_bs), ldc, false);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(m: usize, n: usize, k: usize, a: &[f64], b: &[f64]) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn matmul_strides_and_empty() {
        for &(m, n, k) in &[
            (3, 4, 5),
            (1, 7, 3),
            (6, 1, 2),
            (0, 3, 2),
            (3, 0, 2),
            (2, 3, 0),
            (33, 17, 65),
        ] {
            let a: Vec<f64> = (0..m * k).map(|i| (i % 7) as f64 - 3.0).collect();
            let b: Vec<f64> = (0..k * n).map(|i| (i % 5) as f64 * 0.5).collect();
            let want = reference(m, n, k, &a, &b);
            // a stored transposed (k×m) read through strides.
            let at: Vec<f64> = (0..k * m).map(|q| a[(q % m) * k + q / m]).collect();
            let mut c = vec![f64::NAN; m * n];
            // SAFETY: strides describe the vectors exactly.
            unsafe {
                matmul(
                    m,
                    n,
                    k,
                    Mat {
                        ptr: at.as_ptr(),
                        rs: 1,
                        cs: m as isize,
                    },
                    Mat {
                        ptr: b.as_ptr(),
                        rs: n as isize,
                        cs: 1,
                    },
                    c.as_mut_ptr(),
                    n,
                )
            };
            assert_eq!(c, want, "{m}x{n}x{k}");
        }
    }

    #[test]
    fn f16_product() {
        let a: Vec<f16> = (0..6).map(|i| f16::from_f32(i as f32)).collect();
        let b: Vec<f16> = (0..6).map(|i| f16::from_f32(1.0 + i as f32)).collect();
        let mut c = vec![f16::ZERO; 4];
        // SAFETY: 2×3 · 3×2 over the vectors.
        unsafe {
            matmul(
                2,
                2,
                3,
                Mat {
                    ptr: a.as_ptr(),
                    rs: 3,
                    cs: 1,
                },
                Mat {
                    ptr: b.as_ptr(),
                    rs: 2,
                    cs: 1,
                },
                c.as_mut_ptr(),
                2,
            )
        };
        let got: Vec<f32> = c.iter().map(|x| x.to_f32()).collect();
        assert_eq!(got, vec![13.0, 16.0, 40.0, 52.0]);
    }
}
