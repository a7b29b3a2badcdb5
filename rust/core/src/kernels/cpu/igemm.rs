//! Integer matrix products for the quantized operators: int8 or uint8 operands, exact int32
//! accumulation (`c = a·b`, wrapping on int32 overflow as MXNet's int32 accumulators do).
//!
//! Cache-blocked in the GotoBLAS order: a KC-deep slice of `b` (NC columns) is packed once and
//! reused by every MC-row block of `a`. Packing widens both operands to i16 and lays each row of
//! `a` and each column of `b` out with K contiguous, so the micro-kernel is a set of i16 dot
//! products over one contiguous run; the compiler turns those reductions into multiply-add
//! instructions (`pmaddwd` on x86). Operands are strided like [`super::gemm::Mat`], so
//! transposes cost nothing.
//!
//! Threading follows [`super::gemm`]: a product runs on the calling thread unless it is large,
//! then it is cut into one block of rows (or columns) per pool thread.

use super::gemm::{par_mnk, Mat};
use super::{par_for, Ptr};
use crate::runtime::rt;

/// Depth of one packed slice: two packed i16 rows of 1 KiB each stay in L1 with the columns.
const KC: usize = 512;
/// Rows of `a` per packed block.
const MC: usize = 64;
/// Columns of `b` per packed block (NC·KC i16 = 256 KiB, in L2).
const NC: usize = 256;

mod sealed {
    pub trait Sealed {}
    impl Sealed for i8 {}
    impl Sealed for u8 {}
}

/// The 8-bit element types the products take.
pub trait IElem: Copy + Send + Sync + sealed::Sealed + 'static {
    fn widen(self) -> i16;
}
impl IElem for i8 {
    #[inline(always)]
    fn widen(self) -> i16 {
        self as i16
    }
}
impl IElem for u8 {
    #[inline(always)]
    fn widen(self) -> i16 {
        self as i16
    }
}

/// `c = a · b` with `a` m×k, `b` k×n (i8 or u8 each) and `c` m×n int32, row-major with row
/// stride `ldc`.
///
/// # Safety
/// `a`, `b` and `c` must be valid for every element their shapes and strides describe, and
/// `c` must not overlap `a` or `b`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn igemm<A: IElem, B: IElem>(
    m: usize,
    n: usize,
    k: usize,
    a: Mat<A>,
    b: Mat<B>,
    c: *mut i32,
    ldc: usize,
) {
    let work = m.saturating_mul(n).saturating_mul(k);
    let threads = rt().pool.current_num_threads();
    if work < par_mnk() || threads <= 1 {
        return product(m, n, k, a, b, c, ldc);
    }
    // As in the float GEMM: one block of the longer side of `c` per thread, each packing its
    // share of the split operand and all of the other.
    let by_rows = m >= n;
    let len = if by_rows { m } else { n };
    let step = len.div_ceil(threads);
    let pc = Ptr(c);
    par_for(len.div_ceil(step), |t| {
        let (a, b) = (a, b);
        let (s, e) = (t * step, ((t + 1) * step).min(len));
        // SAFETY: block t of `c` is disjoint from every other block; its operands are the
        // matching rows of `a` or columns of `b`.
        unsafe {
            if by_rows {
                product(e - s, n, k, a.at(s, 0), b, pc.get().add(s * ldc), ldc)
            } else {
                product(m, e - s, k, a, b.at(0, s), pc.get().add(s), ldc)
            }
        }
    });
}

/// `c = a·b` on this thread.
unsafe fn product<A: IElem, B: IElem>(
    m: usize,
    n: usize,
    k: usize,
    a: Mat<A>,
    b: Mat<B>,
    c: *mut i32,
    ldc: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    for i in 0..m {
        std::slice::from_raw_parts_mut(c.add(i * ldc), n).fill(0);
    }
    let kc_max = k.min(KC);
    let mut ap = vec![0i16; MC.min(m) * kc_max];
    let mut bp = vec![0i16; NC.min(n) * kc_max];
    for jc in (0..n).step_by(NC) {
        let nc = NC.min(n - jc);
        for pc in (0..k).step_by(KC) {
            let kc = KC.min(k - pc);
            pack_cols(b.at(pc, jc), kc, nc, &mut bp);
            for ic in (0..m).step_by(MC) {
                let mc = MC.min(m - ic);
                pack_rows(a.at(ic, pc), mc, kc, &mut ap);
                block(mc, nc, kc, &ap, &bp, c.add(ic * ldc + jc), ldc);
            }
        }
    }
}

/// Packs the mc×kc block at `a` into `dst` row by row (row i at `dst[i*kc..]`).
unsafe fn pack_rows<T: IElem>(a: Mat<T>, mc: usize, kc: usize, dst: &mut [i16]) {
    for (i, row) in dst.chunks_exact_mut(kc).take(mc).enumerate() {
        if a.cs == 1 {
            let src = std::slice::from_raw_parts(a.ptr.offset(i as isize * a.rs), kc);
            for (d, &s) in row.iter_mut().zip(src) {
                *d = s.widen();
            }
        } else {
            for (p, d) in row.iter_mut().enumerate() {
                *d = a.get(i, p).widen();
            }
        }
    }
}

/// Packs the kc×nc block at `b` into `dst` column by column (column j at `dst[j*kc..]`),
/// reading along whichever side of `b` is contiguous.
unsafe fn pack_cols<T: IElem>(b: Mat<T>, kc: usize, nc: usize, dst: &mut [i16]) {
    if b.cs == 1 && b.rs != 1 {
        // Rows of `b` are contiguous (a column matrix from im2col): read each row once and
        // scatter it over the packed columns.
        for p in 0..kc {
            let src = std::slice::from_raw_parts(b.ptr.offset(p as isize * b.rs), nc);
            for (j, &s) in src.iter().enumerate() {
                *dst.get_unchecked_mut(j * kc + p) = s.widen();
            }
        }
        return;
    }
    for (j, col) in dst.chunks_exact_mut(kc).take(nc).enumerate() {
        if b.rs == 1 {
            let src = std::slice::from_raw_parts(b.ptr.offset(j as isize * b.cs), kc);
            for (d, &s) in col.iter_mut().zip(src) {
                *d = s.widen();
            }
        } else {
            for (p, d) in col.iter_mut().enumerate() {
                *d = b.get(p, j).widen();
            }
        }
    }
}

/// `c[i][j] += ap_row(i) · bp_col(j)` over one packed block, two rows by four columns at a time.
unsafe fn block(mc: usize, nc: usize, kc: usize, ap: &[i16], bp: &[i16], c: *mut i32, ldc: usize) {
    let row = |i: usize| &ap[i * kc..(i + 1) * kc];
    let col = |j: usize| &bp[j * kc..(j + 1) * kc];
    let add = |i: usize, j: usize, v: i32| {
        // SAFETY: (i, j) lies inside this block of `c`, which the caller owns.
        unsafe {
            let p = c.add(i * ldc + j);
            *p = (*p).wrapping_add(v);
        }
    };
    let (m2, n4) = (mc - mc % 2, nc - nc % 4);
    for i in (0..m2).step_by(2) {
        let (a0, a1) = (row(i), row(i + 1));
        for j in (0..n4).step_by(4) {
            let s = kernel_2x4(a0, a1, [col(j), col(j + 1), col(j + 2), col(j + 3)]);
            for (q, &v) in s[0].iter().enumerate() {
                add(i, j + q, v);
            }
            for (q, &v) in s[1].iter().enumerate() {
                add(i + 1, j + q, v);
            }
        }
        for j in n4..nc {
            add(i, j, dot(a0, col(j)));
            add(i + 1, j, dot(a1, col(j)));
        }
    }
    for i in m2..mc {
        for j in 0..nc {
            add(i, j, dot(row(i), col(j)));
        }
    }
}

/// Eight dot products sharing their loads: two rows of `a` against four columns of `b`.
#[inline(always)]
fn kernel_2x4(a0: &[i16], a1: &[i16], b: [&[i16]; 4]) -> [[i32; 4]; 2] {
    let mut s = [[0i32; 4]; 2];
    let cols = b[0].iter().zip(b[1]).zip(b[2]).zip(b[3]);
    for ((&x0, &x1), (((&y0, &y1), &y2), &y3)) in a0.iter().zip(a1).zip(cols) {
        let (x0, x1) = (x0 as i32, x1 as i32);
        // An i16 product fits in i32; only the sums can wrap.
        for (q, y) in [y0, y1, y2, y3].into_iter().enumerate() {
            s[0][q] = s[0][q].wrapping_add(x0 * y as i32);
            s[1][q] = s[1][q].wrapping_add(x1 * y as i32);
        }
    }
    s
}

#[inline(always)]
fn dot(a: &[i16], b: &[i16]) -> i32 {
    a.iter()
        .zip(b)
        .fold(0i32, |s, (&x, &y)| s.wrapping_add(x as i32 * y as i32))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Naive triple loop in i64, wrapped to i32 at the end as an int32 accumulator would be.
    fn naive(m: usize, n: usize, k: usize, a: &[i64], b: &[i64]) -> Vec<i32> {
        let mut c = vec![0i32; m * n];
        for i in 0..m {
            for j in 0..n {
                let s: i64 = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
                c[i * n + j] = s as i32;
            }
        }
        c
    }

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *seed >> 33
    }

    /// a (m×k) and b (k×n), both row-major and both stored transposed, through every stride
    /// combination.
    fn check<A: IElem + Into<i64>>(m: usize, n: usize, k: usize, a: &[A], b: &[i8]) {
        let ai: Vec<i64> = a.iter().map(|&v| v.into()).collect();
        let bi: Vec<i64> = b.iter().map(|&v| v as i64).collect();
        let want = naive(m, n, k, &ai, &bi);
        let at: Vec<A> = (0..k * m).map(|q| a[(q % m) * k + q / m]).collect();
        let bt: Vec<i8> = (0..n * k).map(|q| b[(q % k) * n + q / k]).collect();
        for ta in [false, true] {
            for tb in [false, true] {
                let am = if ta {
                    Mat {
                        ptr: at.as_ptr(),
                        rs: 1,
                        cs: m as isize,
                    }
                } else {
                    Mat {
                        ptr: a.as_ptr(),
                        rs: k as isize,
                        cs: 1,
                    }
                };
                let bm = if tb {
                    Mat {
                        ptr: bt.as_ptr(),
                        rs: 1,
                        cs: k as isize,
                    }
                } else {
                    Mat {
                        ptr: b.as_ptr(),
                        rs: n as isize,
                        cs: 1,
                    }
                };
                let mut c = vec![i32::MIN; m * n];
                // SAFETY: the strides describe the vectors exactly.
                unsafe { igemm(m, n, k, am, bm, c.as_mut_ptr(), n) };
                assert_eq!(c, want, "{m}x{n}x{k} ta={ta} tb={tb}");
            }
        }
    }

    #[test]
    fn matches_the_naive_product_for_odd_sizes_and_transposes() {
        let mut seed = 7u64;
        for &(m, n, k) in &[
            (1, 1, 1),
            (3, 5, 7),
            (2, 4, 8),
            (7, 9, 1),
            (0, 3, 2),
            (3, 0, 2),
            (2, 3, 0),
            (65, 67, 513),
            (130, 260, 1030),
        ] {
            let a: Vec<i8> = (0..m * k).map(|_| lcg(&mut seed) as u8 as i8).collect();
            let au: Vec<u8> = (0..m * k).map(|_| lcg(&mut seed) as u8).collect();
            let b: Vec<i8> = (0..k * n).map(|_| lcg(&mut seed) as u8 as i8).collect();
            check(m, n, k, &a, &b);
            check(m, n, k, &au, &b);
        }
    }

    #[test]
    fn extreme_values_are_exact() {
        let (m, n, k) = (5, 6, 1031);
        for (av, bv) in [(-128i8, -128i8), (127, -128), (-128, 127)] {
            check(m, n, k, &vec![av; m * k], &vec![bv; k * n]);
        }
        check(m, n, k, &vec![255u8; m * k], &vec![-128i8; k * n]);
        check(m, n, k, &vec![255u8; m * k], &vec![127i8; k * n]);
    }

    #[test]
    fn large_products_split_over_threads_agree() {
        // Above `par_mnk` (4M multiply-adds): split by rows, then by columns.
        let mut seed = 3u64;
        for (m, n, k) in [(300, 200, 150), (200, 300, 150)] {
            let a: Vec<u8> = (0..m * k).map(|_| lcg(&mut seed) as u8).collect();
            let b: Vec<i8> = (0..k * n).map(|_| lcg(&mut seed) as u8 as i8).collect();
            check(m, n, k, &a, &b);
        }
    }
}
