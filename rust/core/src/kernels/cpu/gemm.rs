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
use super::halves::Half;
use super::{par_for, par_ranges, skinny, Ptr};
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

/// Element types the products take (the half types through f32, see `widened_product`).
pub trait GemmElem: Element + BlasElem + sealed::Sealed {
    /// [`skinny::product`] where it applies (f32 and f64); false where it does not.
    ///
    /// # Safety
    /// As `skinny::product`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn skinny(
        _m: usize,
        _n: usize,
        _k: usize,
        _a: Mat<Self>,
        _b: Mat<Self>,
        _c: *mut Self,
        _ldc: usize,
        _acc: bool,
        _parallel: bool,
    ) -> bool {
        false
    }
}

macro_rules! skinny_elem {
    ($t:ty) => {
        impl GemmElem for $t {
            unsafe fn skinny(
                m: usize,
                n: usize,
                k: usize,
                a: Mat<$t>,
                b: Mat<$t>,
                c: *mut $t,
                ldc: usize,
                acc: bool,
                parallel: bool,
            ) -> bool {
                skinny::product(m, n, k, a, b, c, ldc as isize, 1, acc, parallel)
            }
        }
    };
}
skinny_elem!(f32);
skinny_elem!(f64);
impl GemmElem for f16 {}
impl GemmElem for bf16 {}

// Half-precision products widen their operands to f32 (F16C for f16), multiply there (BLAS
// when loaded) and round the result once. The `gemm` crate's own f16 kernel took twice f32's
// time, and neither it nor CBLAS takes bf16; all of them accumulate in f32 as this does.
macro_rules! widened_blas {
    ($t:ty) => {
        impl BlasElem for $t {
            unsafe fn blas_product(
                m: usize,
                n: usize,
                k: usize,
                a: Mat<$t>,
                b: Mat<$t>,
                c: *mut $t,
                ldc: usize,
                acc: bool,
            ) -> bool {
                widened_product(m, n, k, a, b, c, ldc, acc);
                true
            }
        }
    };
}
widened_blas!(f16);
widened_blas!(bf16);

/// `x` (rows × cols) in f32, and the row and column strides of that copy: a column-major
/// operand (a transposed weight) stays column-major, so both are widened a contiguous run at
/// a time.
///
/// # Safety
/// Every element of `x` is valid; rows and cols are non-zero.
unsafe fn widen_operand<H: Half>(x: Mat<H>, rows: usize, cols: usize) -> (Vec<f32>, isize, isize) {
    if x.rs == 1 && x.cs != 1 {
        let (v, ..) = widen_operand(x.t(), cols, rows);
        return (v, 1, rows as isize);
    }
    let mut v = vec![0f32; rows * cols];
    for (i, row) in v.chunks_exact_mut(cols).enumerate() {
        let r = x.at(i, 0);
        if r.cs == 1 {
            H::widen(std::slice::from_raw_parts(r.ptr, cols), row);
        } else {
            row.iter_mut()
                .enumerate()
                .for_each(|(j, d)| *d = r.get(0, j).to_f32());
        }
    }
    (v, cols as isize, 1)
}

/// `c = a·b` (`+=` when `acc`) for a half type through f32.
///
/// # Safety
/// As `product`.
#[allow(clippy::too_many_arguments)]
unsafe fn widened_product<H: Half + GemmElem>(
    m: usize,
    n: usize,
    k: usize,
    a: Mat<H>,
    b: Mat<H>,
    c: *mut H,
    ldc: usize,
    acc: bool,
) {
    let wide = |x: &(Vec<f32>, isize, isize)| Mat {
        ptr: x.0.as_ptr(),
        rs: x.1,
        cs: x.2,
    };
    let (wa, wb) = (widen_operand(a, m, k), widen_operand(b, k, n));
    let out = Mat {
        ptr: c.cast_const(),
        rs: ldc as isize,
        cs: 1,
    };
    let mut wc = if acc {
        widen_operand(out, m, n).0
    } else {
        vec![0.0; m * n]
    };
    product(m, n, k, wide(&wa), wide(&wb), wc.as_mut_ptr(), n, acc);
    for (i, row) in wc.chunks_exact(n).enumerate() {
        H::narrow(row, std::slice::from_raw_parts_mut(c.add(i * ldc), n));
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
    if T::skinny(m, n, k, a, b, c, ldc, acc, true) {
        return;
    }
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
    if T::skinny(m, n, k, a, b, c, ldc, acc, false) {
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

    /// Every operand layout (rows contiguous, columns contiguous, neither), into a padded
    /// output and accumulating; integer-valued operands keep the f32 sums exact, so the
    /// result is the exact product rounded once.
    fn half_products<H: Half + GemmElem>() {
        for &(m, n, k) in &[(2, 2, 3), (1, 9, 4), (33, 17, 65)] {
            let a: Vec<f64> = (0..m * k).map(|i| (i % 7) as f64 - 3.0).collect();
            let b: Vec<f64> = (0..k * n).map(|i| (i % 5) as f64 * 0.5).collect();
            let want = reference(m, n, k, &a, &b);
            let halves = |v: &[f64]| v.iter().map(|&x| H::from_f64(x)).collect::<Vec<H>>();
            // a row-major, column-major and spaced out (every other element); b row-major
            // and column-major.
            let a_rows = halves(&a);
            let a_cols = halves(
                &(0..k * m)
                    .map(|q| a[(q % m) * k + q / m])
                    .collect::<Vec<_>>(),
            );
            let a_spaced = halves(&a.iter().flat_map(|&x| [x, f64::NAN]).collect::<Vec<_>>());
            let b_rows = halves(&b);
            let b_cols = halves(
                &(0..n * k)
                    .map(|q| b[(q % k) * n + q / k])
                    .collect::<Vec<_>>(),
            );
            let (mk, kk, nk) = (m as isize, k as isize, n as isize);
            let a_ops = [(&a_rows, kk, 1), (&a_cols, 1, mk), (&a_spaced, 2 * kk, 2)];
            let b_ops = [(&b_rows, nk, 1), (&b_cols, 1, kk)];
            for (av, ars, acs) in a_ops {
                for &(bv, brs, bcs) in &b_ops {
                    let ldc = n + 3;
                    let mut c = vec![H::from_f64(1.0); m * ldc];
                    let (ma, mb) = (
                        Mat {
                            ptr: av.as_ptr(),
                            rs: ars,
                            cs: acs,
                        },
                        Mat {
                            ptr: bv.as_ptr(),
                            rs: brs,
                            cs: bcs,
                        },
                    );
                    // SAFETY: the strides describe the vectors; c holds m rows of ldc.
                    unsafe { matmul_acc(m, n, k, ma, mb, c.as_mut_ptr(), ldc) };
                    for i in 0..m {
                        for j in 0..ldc {
                            let w = if j < n { want[i * n + j] + 1.0 } else { 1.0 };
                            let what =
                                format!("{:?} {m}x{n}x{k} a {ars},{acs} b {brs},{bcs}", H::DTYPE);
                            assert_eq!(c[i * ldc + j].to_f64(), H::from_f64(w).to_f64(), "{what}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn half_products_round_the_exact_product_once() {
        half_products::<f16>();
        half_products::<bf16>();
    }
}
