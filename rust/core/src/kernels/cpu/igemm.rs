//! Integer matrix products for the quantized operators: int8 or uint8 operands, exact int32
//! accumulation (`c = a·b`, wrapping on int32 overflow as MXNet's int32 accumulators do).
//!
//! Cache-blocked in the GotoBLAS order: a KC-deep slice of `b` (NC columns) is packed once and
//! reused by every MC-row block of `a`. Packing lays each row of `a` and each column of `b` out
//! with K contiguous, so the micro-kernel is a set of dot products over one contiguous run.
//! Two kernel families, picked per CPU (integer sums: both give the same bits):
//! - `Vnni` (AVX-512 VNNI): bytes packed as they are, `vpdpbusd` multiplies 32 unsigned by
//!   signed byte pairs per instruction and accumulates in i32. One side must be unsigned; for
//!   int8 × int8, `a` is offset by 128 (its sign bit flipped) and 128·Σb taken off afterwards.
//! - `Wide16` (everything else): both operands widened to i16, multiply-added with
//!   `vpmaddwd` on AVX2 or whatever the baseline build's autovectoriser makes of the loop.
//!
//! Operands are strided like [`super::gemm::Mat`], so transposes cost nothing. Threading follows
//! [`super::gemm`]: a product runs on the calling thread unless it is large, then it is cut
//! into one block of rows (or columns) per pool thread.

use super::gemm::{par_mnk, Mat};
use super::{par_for, skinny, Ptr};
use crate::runtime::rt;

/// Depth of one packed slice: the packed rows of a 2×4 tile stay in L1 with the columns.
const KC: usize = 512;
/// Rows of `a` per packed block.
const MC: usize = 64;
/// Columns of `b` per packed block (NC·KC i16 = 256 KiB, in L2).
const NC: usize = 256;
/// `vpdpbusd` consumes 32 bytes of K per 256-bit step; packed runs are zero-padded to it.
#[cfg(target_arch = "x86_64")]
const VNNI_K: usize = 32;

mod sealed {
    pub trait Sealed {}
    impl Sealed for i8 {}
    impl Sealed for u8 {}
}

/// The 8-bit element types the products take.
pub trait IElem: Copy + Send + Sync + sealed::Sealed + 'static {
    const UNSIGNED: bool;
    fn widen(self) -> i16;
    fn bits(self) -> u8;
}
impl IElem for i8 {
    const UNSIGNED: bool = false;
    #[inline(always)]
    fn widen(self) -> i16 {
        self as i16
    }
    #[inline(always)]
    fn bits(self) -> u8 {
        self as u8
    }
}
impl IElem for u8 {
    const UNSIGNED: bool = true;
    #[inline(always)]
    fn widen(self) -> i16 {
        self as i16
    }
    #[inline(always)]
    fn bits(self) -> u8 {
        self
    }
}

/// The kernel family of one product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    Wide16,
    #[cfg(target_arch = "x86_64")]
    Vnni,
}

/// The fastest family this CPU runs for these operand types (VNNI needs a signed side).
fn best_path<A: IElem, B: IElem>() -> Path {
    #[cfg(target_arch = "x86_64")]
    if !(A::UNSIGNED && B::UNSIGNED)
        && std::arch::is_x86_feature_detected!("avx512vnni")
        && std::arch::is_x86_feature_detected!("avx512vl")
    {
        return Path::Vnni;
    }
    Path::Wide16
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
    if !skinny::int8_product(m, n, k, a, b, c, ldc) {
        igemm_on(best_path::<A, B>(), m, n, k, a, b, c, ldc)
    }
}

/// `igemm` on the given kernel family.
#[allow(clippy::too_many_arguments)]
unsafe fn igemm_on<A: IElem, B: IElem>(
    path: Path,
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
        return product(path, m, n, k, a, b, c, ldc);
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
                product(path, e - s, n, k, a.at(s, 0), b, pc.get().add(s * ldc), ldc)
            } else {
                product(path, m, e - s, k, a, b.at(0, s), pc.get().add(s), ldc)
            }
        }
    });
}

/// `c = a·b` on this thread.
#[allow(clippy::too_many_arguments)]
unsafe fn product<A: IElem, B: IElem>(
    path: Path,
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
    match path {
        Path::Wide16 => blocked(&mut Wide16::default(), m, n, k, a, b, c, ldc),
        #[cfg(target_arch = "x86_64")]
        Path::Vnni => blocked(&mut Vnni::new::<A, B>(), m, n, k, a, b, c, ldc),
    }
}

/// One kernel family's packing and block product.
trait Blocks {
    /// Packs the kc×nc block at `b`, column by column.
    unsafe fn pack_b<B: IElem>(&mut self, b: Mat<B>, kc: usize, nc: usize);
    /// Packs the mc×kc block at `a`, row by row.
    unsafe fn pack_a<A: IElem>(&mut self, a: Mat<A>, mc: usize, kc: usize);
    /// `c += packed a · packed b` for the mc×nc block at `c`.
    unsafe fn block(&self, mc: usize, nc: usize, kc: usize, c: *mut i32, ldc: usize);
}

/// The blocked loop nest over `c` (already zeroed).
#[allow(clippy::too_many_arguments)]
unsafe fn blocked<A: IElem, B: IElem>(
    p: &mut impl Blocks,
    m: usize,
    n: usize,
    k: usize,
    a: Mat<A>,
    b: Mat<B>,
    c: *mut i32,
    ldc: usize,
) {
    for jc in (0..n).step_by(NC) {
        let nc = NC.min(n - jc);
        for pc in (0..k).step_by(KC) {
            let kc = KC.min(k - pc);
            p.pack_b(b.at(pc, jc), kc, nc);
            for ic in (0..m).step_by(MC) {
                let mc = MC.min(m - ic);
                p.pack_a(a.at(ic, pc), mc, kc);
                p.block(mc, nc, kc, c.add(ic * ldc + jc), ldc);
            }
        }
    }
}

/// Packs the kc×nc block at `b` into `dst` column by column (column j at `dst[j*stride..]`,
/// zero from kc to `stride`), converting each element; reads along whichever side of `b` is
/// contiguous. `a`'s row blocks are packed as the columns of their transpose.
unsafe fn pack_cols<T: IElem, P: Copy + Default>(
    b: Mat<T>,
    kc: usize,
    nc: usize,
    stride: usize,
    dst: &mut Vec<P>,
    conv: impl Fn(T) -> P,
) {
    dst.clear();
    dst.resize(nc * stride, P::default());
    if b.cs == 1 && b.rs != 1 {
        // Rows of `b` are contiguous (a column matrix from im2col): a transpose, done in
        // bands of columns so that the cache lines being filled stay in L1, eight rows at a
        // time so that each column gets eight contiguous elements per visit.
        const BAND: usize = 64;
        const ROWS: usize = 8;
        let k8 = kc - kc % ROWS;
        for j0 in (0..nc).step_by(BAND) {
            let w = BAND.min(nc - j0);
            // SAFETY: row p's columns j0..j0 + w lie inside `b`.
            let row = |p: usize| unsafe {
                std::slice::from_raw_parts(b.ptr.offset(p as isize * b.rs).add(j0), w)
            };
            for p in (0..k8).step_by(ROWS) {
                let rows: [&[T]; ROWS] = std::array::from_fn(|t| row(p + t));
                for j in 0..w {
                    let d = &mut dst[(j0 + j) * stride + p..][..ROWS];
                    for (o, r) in d.iter_mut().zip(&rows) {
                        *o = conv(r[j]);
                    }
                }
            }
            for p in k8..kc {
                for (j, &v) in row(p).iter().enumerate() {
                    dst[(j0 + j) * stride + p] = conv(v);
                }
            }
        }
        return;
    }
    for (j, col) in dst.chunks_exact_mut(stride).enumerate() {
        let col = &mut col[..kc];
        if b.rs == 1 {
            let src = std::slice::from_raw_parts(b.ptr.offset(j as isize * b.cs), kc);
            for (d, &s) in col.iter_mut().zip(src) {
                *d = conv(s);
            }
        } else {
            for (p, d) in col.iter_mut().enumerate() {
                *d = conv(b.get(p, j));
            }
        }
    }
}

/// Both operands widened to i16.
#[derive(Default)]
struct Wide16 {
    ap: Vec<i16>,
    bp: Vec<i16>,
}

impl Blocks for Wide16 {
    unsafe fn pack_b<B: IElem>(&mut self, b: Mat<B>, kc: usize, nc: usize) {
        pack_cols(b, kc, nc, kc, &mut self.bp, B::widen)
    }
    unsafe fn pack_a<A: IElem>(&mut self, a: Mat<A>, mc: usize, kc: usize) {
        pack_cols(a.t(), kc, mc, kc, &mut self.ap, A::widen)
    }
    unsafe fn block(&self, mc: usize, nc: usize, kc: usize, c: *mut i32, ldc: usize) {
        let (ap, bp) = (&self.ap[..], &self.bp[..]);
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            return block_with(kernel_2x4_avx2, dot, (mc, nc, kc), ap, bp, c, ldc);
        }
        block_with(kernel_2x4, dot, (mc, nc, kc), ap, bp, c, ldc)
    }
}

/// Bytes as they are, the unsigned side first in `vpdpbusd`.
#[cfg(target_arch = "x86_64")]
struct Vnni {
    ap: Vec<u8>,
    bp: Vec<u8>,
    /// Whether `a` is the unsigned side (else `b` is).
    a_unsigned: bool,
    /// int8 × int8: `a` is packed offset by 128, and 128·Σb of each packed column
    /// (`b_sums`) comes off every sum.
    offset_a: bool,
    b_sums: Vec<i32>,
}

#[cfg(target_arch = "x86_64")]
impl Vnni {
    fn new<A: IElem, B: IElem>() -> Self {
        Vnni {
            ap: Vec::new(),
            bp: Vec::new(),
            a_unsigned: A::UNSIGNED || !B::UNSIGNED,
            offset_a: !A::UNSIGNED && !B::UNSIGNED,
            b_sums: Vec::new(),
        }
    }
}

#[cfg(target_arch = "x86_64")]
impl Blocks for Vnni {
    unsafe fn pack_b<B: IElem>(&mut self, b: Mat<B>, kc: usize, nc: usize) {
        let stride = kc.next_multiple_of(VNNI_K);
        pack_cols(b, kc, nc, stride, &mut self.bp, B::bits);
        if self.offset_a {
            self.b_sums.clear();
            self.b_sums.extend(
                self.bp
                    .chunks_exact(stride)
                    .map(|col| col.iter().map(|&v| v as i8 as i32).sum::<i32>() * 128),
            );
        }
    }
    unsafe fn pack_a<A: IElem>(&mut self, a: Mat<A>, mc: usize, kc: usize) {
        let stride = kc.next_multiple_of(VNNI_K);
        let flip = if self.offset_a { 0x80 } else { 0 };
        pack_cols(a.t(), kc, mc, stride, &mut self.ap, |v: A| v.bits() ^ flip);
    }
    unsafe fn block(&self, mc: usize, nc: usize, kc: usize, c: *mut i32, ldc: usize) {
        let (ap, bp, kp) = (&self.ap[..], &self.bp[..], kc.next_multiple_of(VNNI_K));
        if self.a_unsigned {
            block_with(
                vnni_2x4::<true>,
                dot_bytes::<true>,
                (mc, nc, kp),
                ap,
                bp,
                c,
                ldc,
            );
        } else {
            block_with(
                vnni_2x4::<false>,
                dot_bytes::<false>,
                (mc, nc, kp),
                ap,
                bp,
                c,
                ldc,
            );
        }
        if self.offset_a {
            for i in 0..mc {
                let row = std::slice::from_raw_parts_mut(c.add(i * ldc), nc);
                for (o, &s) in row.iter_mut().zip(&self.b_sums) {
                    *o = o.wrapping_sub(s);
                }
            }
        }
    }
}

/// Eight dot products of two packed rows of `a` with four packed columns of `b`.
type Kernel<P> = unsafe fn(&[P], &[P], [&[P]; 4]) -> [[i32; 4]; 2];

/// `c[i][j] += ap_row(i) · bp_col(j)` over one packed block (rows and columns `kc` apart), two
/// rows by four columns at a time; `dot` takes the edges.
#[inline(always)]
unsafe fn block_with<P>(
    kernel: Kernel<P>,
    dot: fn(&[P], &[P]) -> i32,
    (mc, nc, kc): (usize, usize, usize),
    ap: &[P],
    bp: &[P],
    c: *mut i32,
    ldc: usize,
) {
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
            let s = kernel(a0, a1, [col(j), col(j + 1), col(j + 2), col(j + 3)]);
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
unsafe fn kernel_2x4(a0: &[i16], a1: &[i16], b: [&[i16]; 4]) -> [[i32; 4]; 2] {
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

/// `kernel_2x4` on 256-bit registers: `vpmaddwd` multiplies sixteen i16 pairs and adds
/// neighbours into eight i32 lanes (exact: two products of widened 8-bit values stay far
/// inside i32), so each step is two row loads, four column loads and eight multiply-adds.
///
/// # Safety
/// The CPU has AVX2; the rows and columns have one length.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn kernel_2x4_avx2(a0: &[i16], a1: &[i16], b: [&[i16]; 4]) -> [[i32; 4]; 2] {
    use std::arch::x86_64::*;
    let k = a0.len();
    let k16 = k - k % 16;
    let load = |v: &[i16], p: usize| _mm256_loadu_si256(v.as_ptr().add(p) as *const __m256i);
    let mut acc = [[_mm256_setzero_si256(); 4]; 2];
    for p in (0..k16).step_by(16) {
        let (x0, x1) = (load(a0, p), load(a1, p));
        for q in 0..4 {
            let y = load(b[q], p);
            acc[0][q] = _mm256_add_epi32(acc[0][q], _mm256_madd_epi16(x0, y));
            acc[1][q] = _mm256_add_epi32(acc[1][q], _mm256_madd_epi16(x1, y));
        }
    }
    let mut s = [[0i32; 4]; 2];
    for (r, a) in [a0, a1].into_iter().enumerate() {
        for q in 0..4 {
            let mut lanes = [0i32; 8];
            _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, acc[r][q]);
            let head = lanes.iter().fold(0i32, |t, &v| t.wrapping_add(v));
            s[r][q] = head.wrapping_add(dot(&a[k16..], &b[q][k16..]));
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

/// `kernel_2x4` on packed bytes with AVX-512 VNNI (256-bit forms): each step multiplies 32
/// byte pairs per dot product and adds them in fours into eight i32 lanes. `A_UNSIGNED`: the
/// rows of `a` are the unsigned side, else the columns of `b` are.
///
/// # Safety
/// The CPU has AVX-512 VNNI and VL; the rows and columns have one length, a multiple of 32.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,avx512vnni,avx512vl")]
unsafe fn vnni_2x4<const A_UNSIGNED: bool>(a0: &[u8], a1: &[u8], b: [&[u8]; 4]) -> [[i32; 4]; 2] {
    use std::arch::x86_64::*;
    let mut acc = [[_mm256_setzero_si256(); 4]; 2];
    for p in (0..a0.len()).step_by(VNNI_K) {
        let x0 = _mm256_loadu_si256(a0.as_ptr().add(p) as *const __m256i);
        let x1 = _mm256_loadu_si256(a1.as_ptr().add(p) as *const __m256i);
        for q in 0..4 {
            let y = _mm256_loadu_si256(b[q].as_ptr().add(p) as *const __m256i);
            if A_UNSIGNED {
                acc[0][q] = _mm256_dpbusd_epi32(acc[0][q], x0, y);
                acc[1][q] = _mm256_dpbusd_epi32(acc[1][q], x1, y);
            } else {
                acc[0][q] = _mm256_dpbusd_epi32(acc[0][q], y, x0);
                acc[1][q] = _mm256_dpbusd_epi32(acc[1][q], y, x1);
            }
        }
    }
    let mut s = [[0i32; 4]; 2];
    for r in 0..2 {
        for q in 0..4 {
            let mut lanes = [0i32; 8];
            _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, acc[r][q]);
            s[r][q] = lanes.iter().fold(0i32, |t, &v| t.wrapping_add(v));
        }
    }
    s
}

/// One packed dot product of bytes, the unsigned side as `vnni_2x4` takes it.
#[cfg(target_arch = "x86_64")]
fn dot_bytes<const A_UNSIGNED: bool>(a: &[u8], b: &[u8]) -> i32 {
    a.iter().zip(b).fold(0i32, |s, (&x, &y)| {
        let v = if A_UNSIGNED {
            x as i32 * y as i8 as i32
        } else {
            x as i8 as i32 * y as i32
        };
        s.wrapping_add(v)
    })
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
    /// combination, on every kernel family this CPU runs.
    fn check<A: IElem + Into<i64>, B: IElem + Into<i64>>(
        m: usize,
        n: usize,
        k: usize,
        a: &[A],
        b: &[B],
    ) {
        let ai: Vec<i64> = a.iter().map(|&v| v.into()).collect();
        let bi: Vec<i64> = b.iter().map(|&v| v.into()).collect();
        let want = naive(m, n, k, &ai, &bi);
        let at: Vec<A> = (0..k * m).map(|q| a[(q % m) * k + q / m]).collect();
        let bt: Vec<B> = (0..n * k).map(|q| b[(q % k) * n + q / k]).collect();
        let mut paths = vec![Path::Wide16];
        if best_path::<A, B>() != Path::Wide16 {
            paths.push(best_path::<A, B>());
        }
        for (path, ta) in paths.into_iter().flat_map(|p| [(p, false), (p, true)]) {
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
                unsafe { igemm_on(path, m, n, k, am, bm, c.as_mut_ptr(), n) };
                assert_eq!(c, want, "{m}x{n}x{k} ta={ta} tb={tb} {path:?}");
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
            let bu: Vec<u8> = (0..k * n).map(|_| lcg(&mut seed) as u8).collect();
            check(m, n, k, &a, &b);
            check(m, n, k, &au, &b);
            // int8 weights times uint8 columns, as the quantized convolution multiplies.
            check(m, n, k, &a, &bu);
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
        check(m, n, k, &vec![-128i8; m * k], &vec![255u8; k * n]);
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
