//! Products whose result has at most [`MAX_SIDE`] rows or columns: a layer applied to one
//! sample or a few. Their cost is one pass over the large operand, and a GEMM library spends
//! more than that packing it into panels first (OpenBLAS's sgemm took 0.8 ms for a 1×2048 row
//! by a 2048×1000 weight, six times its own gemv). These stream the large operand in place,
//! and compute every output element on one thread in a fixed order, so results do not depend
//! on the thread count. f32 and f64 here; the int8 products of the quantized FullyConnected
//! ([`int8_product`]) likewise.

use super::gemm::Mat;
use super::igemm::IElem;
use super::{par_ranges, Ptr};
use std::ops::{Add, Mul};

/// The most rows (or columns) of `c` these kernels take. Beyond it a packed GEMM reuses each
/// loaded panel more often than one pass can.
pub const MAX_SIDE: usize = 8;

/// Products whose large operand has fewer elements than this (an L1's worth of f32) stay with
/// the GEMM: streaming gains nothing there, and changing how their sums round would move
/// calibration ranges that tests compare with MXNet's (an entropy threshold of a tiny conv
/// moved by one histogram bin).
const MIN_STREAMED: usize = 1 << 13;

/// In the row-major case tasks take columns of `c` in units of this many (a multiple of any
/// register's lanes), and each walks the rows of `b` at most [`AXPY_COLS`] columns at a time
/// with that many partial sums per row of `c` in L2. Wide runs of each row matter: rows of a
/// large `b` are pages apart, and a narrow block pays a TLB miss per row for few elements.
const AXPY_UNIT: usize = 64;
const AXPY_COLS: usize = 4096;

/// f32 and f64, each with its kernels built for AVX and for the baseline.
pub trait Real: Copy + Default + Add<Output = Self> + Mul<Output = Self> + Send + Sync {
    /// Lanes of a 256-bit register.
    const LANES: usize;

    /// Columns `s..e` of `c` for a `b` whose columns are contiguous.
    ///
    /// # Safety
    /// As `product`; `a` has unit column stride; 1 <= m <= MAX_SIDE.
    #[allow(clippy::too_many_arguments)]
    unsafe fn by_dots(
        m: usize,
        s: usize,
        e: usize,
        k: usize,
        a: Mat<Self>,
        b: Mat<Self>,
        out: Out<Self>,
    );

    /// Columns `j0..j1` of `c` for a `b` whose rows are contiguous.
    ///
    /// # Safety
    /// As `product`; `j1 - j0 <= AXPY_COLS`; 1 <= m <= MAX_SIDE.
    #[allow(clippy::too_many_arguments)]
    unsafe fn by_rows(
        m: usize,
        j0: usize,
        j1: usize,
        k: usize,
        a: Mat<Self>,
        b: Mat<Self>,
        out: Out<Self>,
    );
}

/// `c = a·b` (`c += a·b` when `acc`) for `c` m×n at strides (`c_rs`, `c_cs`), when one side of
/// `c` is at most [`MAX_SIDE`] and the large operand has a unit stride; false (nothing done)
/// otherwise. Split over the intra-op pool when `parallel` and large.
///
/// # Safety
/// As `gemm::matmul`; `c` at the given strides must not overlap `a` or `b`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn product<T: Real>(
    m: usize,
    n: usize,
    k: usize,
    a: Mat<T>,
    b: Mat<T>,
    c: *mut T,
    c_rs: isize,
    c_cs: isize,
    acc: bool,
    parallel: bool,
) -> bool {
    if m == 0 || n == 0 || k == 0 || k.saturating_mul(m.max(n)) < MIN_STREAMED {
        return false;
    }
    if m > MAX_SIDE {
        // cᵀ = bᵀ·aᵀ has few rows instead.
        return n <= MAX_SIDE && product(n, m, k, b.t(), a.t(), c, c_cs, c_rs, acc, parallel);
    }
    let out = Out { c, c_rs, c_cs, acc };
    // Dot products shorter than a register are left to the GEMM (or to rows, below).
    if b.rs == 1 && k >= T::LANES {
        // Columns of b are contiguous: each element of c is a dot product of two runs.
        let copy;
        let a_rows = if a.cs == 1 {
            a
        } else {
            copy = (0..m * k).map(|q| a.get(q / k, q % k)).collect::<Vec<T>>();
            Mat {
                ptr: copy.as_ptr(),
                rs: k as isize,
                cs: 1,
            }
        };
        split(parallel, n, m * k, |s, e| {
            T::by_dots(m, s, e, k, a_rows, b, out)
        });
        return true;
    }
    if b.cs == 1 {
        // Rows of b are contiguous: each row of c is a sum of scaled rows of b.
        split(
            parallel,
            n.div_ceil(AXPY_UNIT),
            m * k * AXPY_UNIT,
            |s, e| {
                let end = (e * AXPY_UNIT).min(n);
                for j0 in (s * AXPY_UNIT..end).step_by(AXPY_COLS) {
                    T::by_rows(m, j0, (j0 + AXPY_COLS).min(end), k, a, b, out);
                }
            },
        );
        return true;
    }
    false
}

/// Where results go: `c` at its strides, stored or added.
#[derive(Clone, Copy)]
pub struct Out<T> {
    c: *mut T,
    c_rs: isize,
    c_cs: isize,
    acc: bool,
}

// SAFETY: tasks write disjoint columns of `c`, which the caller gave this call alone.
unsafe impl<T> Send for Out<T> {}
unsafe impl<T> Sync for Out<T> {}

impl<T: Real> Out<T> {
    fn skip_rows(self, i: usize) -> Self {
        Out {
            c: self.c.wrapping_offset(i as isize * self.c_rs),
            ..self
        }
    }

    #[inline(always)]
    unsafe fn put(self, i: usize, j: usize, v: T) {
        let p = self
            .c
            .offset(i as isize * self.c_rs + j as isize * self.c_cs);
        *p = if self.acc { *p + v } else { v };
    }
}

fn split(parallel: bool, n: usize, work_per_item: usize, f: impl Fn(usize, usize) + Sync + Send) {
    if parallel {
        par_ranges(n, work_per_item, f)
    } else {
        f(0, n)
    }
}

/// One register of lanes and what the kernels do with it. The AVX registers and the portable
/// arrays add in the same order (lane sums pairwise: l with l + L/2, then halves again), so
/// every build gives the same bits.
trait Lanes: Copy {
    type E: Real;
    const L: usize;
    unsafe fn zero() -> Self;
    unsafe fn load(p: *const Self::E) -> Self;
    unsafe fn store(self, p: *mut Self::E);
    unsafe fn splat(v: Self::E) -> Self;
    unsafe fn add(self, o: Self) -> Self;
    unsafe fn mul(self, o: Self) -> Self;
    unsafe fn sum(self) -> Self::E;
}

#[derive(Clone, Copy)]
struct Portable<T, const L: usize>([T; L]);

impl<T: Real, const L: usize> Lanes for Portable<T, L> {
    type E = T;
    const L: usize = L;
    #[inline(always)]
    unsafe fn zero() -> Self {
        Portable([T::default(); L])
    }
    #[inline(always)]
    unsafe fn load(p: *const T) -> Self {
        Portable(std::ptr::read_unaligned(p.cast()))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut T) {
        std::ptr::write_unaligned(p.cast(), self.0)
    }
    #[inline(always)]
    unsafe fn splat(v: T) -> Self {
        Portable([v; L])
    }
    #[inline(always)]
    unsafe fn add(self, o: Self) -> Self {
        Portable(std::array::from_fn(|l| self.0[l] + o.0[l]))
    }
    #[inline(always)]
    unsafe fn mul(self, o: Self) -> Self {
        Portable(std::array::from_fn(|l| self.0[l] * o.0[l]))
    }
    #[inline(always)]
    unsafe fn sum(self) -> T {
        let mut v = self.0;
        let mut w = L;
        while w > 1 {
            w /= 2;
            for l in 0..w {
                v[l] = v[l] + v[l + w];
            }
        }
        v[0]
    }
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use super::Lanes;
    use std::arch::x86_64::*;

    macro_rules! avx_lanes {
        ($v:ty, $e:ty, $l:literal, $zero:ident, $load:ident, $store:ident, $splat:ident,
         $add:ident, $mul:ident, |$x:ident| $sum:expr) => {
            impl Lanes for $v {
                type E = $e;
                const L: usize = $l;
                #[inline(always)]
                unsafe fn zero() -> Self {
                    $zero()
                }
                #[inline(always)]
                unsafe fn load(p: *const $e) -> Self {
                    $load(p)
                }
                #[inline(always)]
                unsafe fn store(self, p: *mut $e) {
                    $store(p, self)
                }
                #[inline(always)]
                unsafe fn splat(v: $e) -> Self {
                    $splat(v)
                }
                #[inline(always)]
                unsafe fn add(self, o: Self) -> Self {
                    $add(self, o)
                }
                #[inline(always)]
                unsafe fn mul(self, o: Self) -> Self {
                    $mul(self, o)
                }
                #[inline(always)]
                unsafe fn sum(self) -> $e {
                    let $x = self;
                    $sum
                }
            }
        };
    }

    avx_lanes!(
        __m256,
        f32,
        8,
        _mm256_setzero_ps,
        _mm256_loadu_ps,
        _mm256_storeu_ps,
        _mm256_set1_ps,
        _mm256_add_ps,
        _mm256_mul_ps,
        |v| {
            let q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
            let d = _mm_add_ps(q, _mm_movehl_ps(q, q));
            _mm_cvtss_f32(_mm_add_ss(d, _mm_shuffle_ps(d, d, 1)))
        }
    );
    avx_lanes!(
        __m256d,
        f64,
        4,
        _mm256_setzero_pd,
        _mm256_loadu_pd,
        _mm256_storeu_pd,
        _mm256_set1_pd,
        _mm256_add_pd,
        _mm256_mul_pd,
        |v| {
            let d = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
            _mm_cvtsd_f64(_mm_add_sd(d, _mm_unpackhi_pd(d, d)))
        }
    );
}

/// A `Real` method running `$kernel` (signature `(m, from, to, k, a, b, out)`) through the
/// AVX build where the CPU has it.
macro_rules! dispatch {
    ($name:ident, $kernel:ident, $t:ty, $lanes:literal, $avx:ty) => {
        unsafe fn $name(
            m: usize,
            s: usize,
            e: usize,
            k: usize,
            a: Mat<$t>,
            b: Mat<$t>,
            out: Out<$t>,
        ) {
            /// # Safety
            /// As the method; the CPU has AVX.
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx")]
            unsafe fn wide(
                m: usize,
                s: usize,
                e: usize,
                k: usize,
                a: Mat<$t>,
                b: Mat<$t>,
                out: Out<$t>,
            ) {
                $kernel::<$avx>(m, s, e, k, a, b, out)
            }
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx") {
                return wide(m, s, e, k, a, b, out);
            }
            $kernel::<Portable<$t, $lanes>>(m, s, e, k, a, b, out)
        }
    };
}

macro_rules! real {
    ($t:ty, $lanes:literal, $avx:ty) => {
        impl Real for $t {
            const LANES: usize = $lanes;
            dispatch!(by_dots, dots_for, $t, $lanes, $avx);
            dispatch!(by_rows, rows_into, $t, $lanes, $avx);
        }
    };
}
#[cfg(target_arch = "x86_64")]
real!(f32, 8, std::arch::x86_64::__m256);
#[cfg(target_arch = "x86_64")]
real!(f64, 4, std::arch::x86_64::__m256d);
#[cfg(not(target_arch = "x86_64"))]
real!(f32, 8, Portable<f32, 8>);
#[cfg(not(target_arch = "x86_64"))]
real!(f64, 4, Portable<f64, 4>);

/// A column group for which the M·J sums stay in registers; more than six rows go four at a
/// time (M·J = 7 or 8 with J = 1 loads a row of `a` per product, and that costs more than a
/// second pass over `b` from cache).
#[inline(always)]
unsafe fn dots_for<V: Lanes>(
    m: usize,
    s: usize,
    e: usize,
    k: usize,
    a: Mat<V::E>,
    b: Mat<V::E>,
    out: Out<V::E>,
) {
    let mut i = 0;
    while i < m {
        let (a, out) = (a.at(i, 0), out.skip_rows(i));
        i += match m - i {
            1 => dots::<V, 1, 8>(s, e, k, a, b, out),
            2 => dots::<V, 2, 4>(s, e, k, a, b, out),
            3 => dots::<V, 3, 2>(s, e, k, a, b, out),
            5 => dots::<V, 5, 1>(s, e, k, a, b, out),
            6 => dots::<V, 6, 1>(s, e, k, a, b, out),
            _ => dots::<V, 4, 2>(s, e, k, a, b, out),
        };
    }
}

#[inline(always)]
unsafe fn dots<V: Lanes, const M: usize, const J: usize>(
    s: usize,
    e: usize,
    k: usize,
    a: Mat<V::E>,
    b: Mat<V::E>,
    out: Out<V::E>,
) -> usize {
    let mut rows = [std::ptr::null(); M];
    for (i, r) in rows.iter_mut().enumerate() {
        *r = a.at(i, 0).ptr;
    }
    let mut j = s;
    while j + J <= e {
        let mut cols = [std::ptr::null(); J];
        for (q, c) in cols.iter_mut().enumerate() {
            *c = b.at(0, j + q).ptr;
        }
        let sums = dot_group::<V, M, J>(k, &rows, cols);
        for (i, row) in sums.iter().enumerate() {
            for (q, &v) in row.iter().enumerate() {
                out.put(i, j + q, v);
            }
        }
        j += J;
    }
    for j in j..e {
        let sums = dot_group::<V, M, 1>(k, &rows, [b.at(0, j).ptr]);
        for (i, row) in sums.iter().enumerate() {
            out.put(i, j, row[0]);
        }
    }
    M
}

/// The M×J dot products of `rows` with `cols`, each of length k: one register of partial sums
/// per product, summed at the end, then the tail of fewer than a register.
#[inline(always)]
unsafe fn dot_group<V: Lanes, const M: usize, const J: usize>(
    k: usize,
    rows: &[*const V::E; M],
    cols: [*const V::E; J],
) -> [[V::E; J]; M] {
    let mut part = [[V::zero(); J]; M];
    let body = k / V::L * V::L;
    let mut p = 0;
    while p < body {
        let mut bv = [V::zero(); J];
        for q in 0..J {
            bv[q] = V::load(cols[q].add(p));
        }
        for i in 0..M {
            let av = V::load(rows[i].add(p));
            for q in 0..J {
                part[i][q] = part[i][q].add(av.mul(bv[q]));
            }
        }
        p += V::L;
    }
    // Plain loops here and above, not `array::from_fn`: its closure was left uninlined, which
    // kept `part` in memory through the loop.
    let mut sums = [[V::E::default(); J]; M];
    for i in 0..M {
        for q in 0..J {
            let mut t = part[i][q].sum();
            for p in body..k {
                t = t + *rows[i].add(p) * *cols[q].add(p);
            }
            sums[i][q] = t;
        }
    }
    sums
}

/// Columns `j0..j1` of `c` for a `b` whose rows are contiguous: partial rows of c in a
/// buffer, four rows of b added in per pass.
#[inline(always)]
unsafe fn rows_into<V: Lanes>(
    m: usize,
    j0: usize,
    j1: usize,
    k: usize,
    a: Mat<V::E>,
    b: Mat<V::E>,
    out: Out<V::E>,
) {
    let w = j1 - j0;
    let body = w / V::L * V::L;
    let mut sums = vec![V::E::default(); m * w];
    let row = |p: usize| b.at(p, j0).ptr;
    let mut p = 0;
    while p + 4 <= k {
        let r = [row(p), row(p + 1), row(p + 2), row(p + 3)];
        for (i, acc) in sums.chunks_exact_mut(w).enumerate() {
            let x = [
                a.get(i, p),
                a.get(i, p + 1),
                a.get(i, p + 2),
                a.get(i, p + 3),
            ];
            let xv = [
                V::splat(x[0]),
                V::splat(x[1]),
                V::splat(x[2]),
                V::splat(x[3]),
            ];
            let mut j = 0;
            while j < body {
                let t = |q: usize| xv[q].mul(V::load(r[q].add(j)));
                let s = V::load(acc.as_ptr().add(j));
                s.add(t(0).add(t(1)).add(t(2).add(t(3))))
                    .store(acc.as_mut_ptr().add(j));
                j += V::L;
            }
            for (j, s) in acc.iter_mut().enumerate().skip(body) {
                let t = |q: usize| x[q] * *r[q].add(j);
                *s = *s + (t(0) + t(1) + (t(2) + t(3)));
            }
        }
        p += 4;
    }
    for p in p..k {
        let r = row(p);
        for (i, acc) in sums.chunks_exact_mut(w).enumerate() {
            let x = a.get(i, p);
            for (j, s) in acc.iter_mut().enumerate() {
                *s = *s + x * *r.add(j);
            }
        }
    }
    for (i, acc) in sums.chunks_exact(w).enumerate() {
        for (j, &v) in acc.iter().enumerate() {
            out.put(i, j0 + j, v);
        }
    }
}

/// `c = a·b` in int32 (wrapping, as `igemm`) for 8-bit operands, when `c` (row-major, row
/// stride `ldc`) has at most [`MAX_SIDE`] rows and the columns of `b` are contiguous: a
/// quantized FullyConnected on a few samples (data · weightᵀ), where `igemm` spends more
/// widening and packing the weight than multiplying it. False (nothing done) otherwise.
///
/// # Safety
/// As `igemm::igemm`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn int8_product<A: IElem, B: IElem>(
    m: usize,
    n: usize,
    k: usize,
    a: Mat<A>,
    b: Mat<B>,
    c: *mut i32,
    ldc: usize,
) -> bool {
    if m == 0 || m > MAX_SIDE || b.rs != 1 || k < INT8_STEP || k.saturating_mul(n) < MIN_STREAMED {
        return false;
    }
    // The few rows of `a` widened once; each weight byte is widened as it streams past.
    let rows: Vec<i16> = (0..m * k).map(|q| a.get(q / k, q % k).widen()).collect();
    let pc = Ptr(c);
    par_ranges(n, m * k, |s, e| {
        let (rows, b) = (&rows[..], b);
        let mut i = 0;
        while i < m {
            let take = (m - i).min(4);
            // SAFETY: rows i..i+take of `rows` hold k values each; columns s..e of `b` and
            // of `c` are inside them by the caller's contract, and this task's alone.
            unsafe {
                let c = pc.get().add(i * ldc);
                int8_dots(take, s, e, k, &rows[i * k..], b, c, ldc);
            }
            i += take;
        }
    });
    true
}

/// `vpmaddwd` takes sixteen i16 pairs per step.
const INT8_STEP: usize = 16;

/// Columns `s..e` of `m` (at most four) rows of `c`.
///
/// # Safety
/// As `int8_product`.
#[allow(clippy::too_many_arguments)]
unsafe fn int8_dots<B: IElem>(
    m: usize,
    s: usize,
    e: usize,
    k: usize,
    rows: &[i16],
    b: Mat<B>,
    c: *mut i32,
    ldc: usize,
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        return match m {
            1 => int8_dots_avx2::<B, 1, 8>(s, e, k, rows, b, c, ldc),
            2 => int8_dots_avx2::<B, 2, 4>(s, e, k, rows, b, c, ldc),
            3 => int8_dots_avx2::<B, 3, 2>(s, e, k, rows, b, c, ldc),
            _ => int8_dots_avx2::<B, 4, 2>(s, e, k, rows, b, c, ldc),
        };
    }
    for i in 0..m {
        let row = &rows[i * k..(i + 1) * k];
        for j in s..e {
            let col = std::slice::from_raw_parts(b.at(0, j).ptr, k);
            let v = row.iter().zip(col).fold(0i32, |t, (&x, &y)| {
                t.wrapping_add(x as i32 * y.widen() as i32)
            });
            *c.add(i * ldc + j) = v;
        }
    }
}

/// Columns `s..e` of M rows of `c`, J columns at a time (then one at a time).
///
/// # Safety
/// As `int8_dots`; the CPU has AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn int8_dots_avx2<B: IElem, const M: usize, const J: usize>(
    s: usize,
    e: usize,
    k: usize,
    rows: &[i16],
    b: Mat<B>,
    c: *mut i32,
    ldc: usize,
) {
    let mut j = s;
    while j + J <= e {
        int8_group::<B, M, J>(j, k, rows, b, c, ldc);
        j += J;
    }
    for j in j..e {
        int8_group::<B, M, 1>(j, k, rows, b, c, ldc);
    }
}

/// Columns `j..j+J` of M rows: per step one load of each row, and per column sixteen bytes
/// widened and multiply-added into M registers of i32 sums (exact products; only the sums
/// can wrap, as in `igemm`).
///
/// # Safety
/// As `int8_dots`; only called from AVX2 code.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn int8_group<B: IElem, const M: usize, const J: usize>(
    j: usize,
    k: usize,
    rows: &[i16],
    b: Mat<B>,
    c: *mut i32,
    ldc: usize,
) {
    use std::arch::x86_64::*;
    let body = k / INT8_STEP * INT8_STEP;
    let mut cols = [std::ptr::null(); J];
    for (q, col) in cols.iter_mut().enumerate() {
        *col = b.at(0, j + q).ptr;
    }
    let mut acc = [[_mm256_setzero_si256(); J]; M];
    let mut p = 0;
    while p < body {
        let mut av = [_mm256_setzero_si256(); M];
        for (i, v) in av.iter_mut().enumerate() {
            *v = _mm256_loadu_si256(rows.as_ptr().add(i * k + p) as *const __m256i);
        }
        for q in 0..J {
            let raw = _mm_loadu_si128(cols[q].add(p) as *const __m128i);
            let bv = if B::UNSIGNED {
                _mm256_cvtepu8_epi16(raw)
            } else {
                _mm256_cvtepi8_epi16(raw)
            };
            for i in 0..M {
                acc[i][q] = _mm256_add_epi32(acc[i][q], _mm256_madd_epi16(av[i], bv));
            }
        }
        p += INT8_STEP;
    }
    for (i, sums) in acc.iter().enumerate() {
        for (q, &sum) in sums.iter().enumerate() {
            let mut lanes = [0i32; 8];
            _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, sum);
            let mut t = lanes.iter().fold(0i32, |t, &v| t.wrapping_add(v));
            for p in body..k {
                t = t.wrapping_add(rows[i * k + p] as i32 * (*cols[q].add(p)).widen() as i32);
            }
            *c.add(i * ldc + j + q) = t;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shape class (few rows, few columns by transposition, both operand layouts, tails
    /// of k and of the column groups, accumulation) against a plain triple loop in f64. The
    /// values are multiples of 1/8 and every partial sum fits the mantissa, so the products
    /// are exact in any summation order.
    fn check<T: Real + From<f32> + Into<f64>>(lanes: usize) {
        let val = |i: usize, salt: usize| ((i * 7 + salt * 13) % 23) as f32 * 0.125 - 1.375;
        for &(m, n, k) in &[
            (1, 1000, 2048),
            (1, 1200, 7),
            (2, 259, 33),
            (3, 300, 65),
            (4, 513, 20),
            (4, 5, 1700),
            (5, 130, 70),
            (7, 450, 19),
            (8, 8, 1030),
            (8, 8, 8),
            (300, 1, 40),
            (500, 6, 17),
        ] {
            let a: Vec<T> = (0..m * k).map(|i| val(i, 1).into()).collect();
            let b: Vec<T> = (0..k * n).map(|i| val(i, 2).into()).collect();
            let want: Vec<f64> = (0..m * n)
                .map(|q| {
                    let (i, j) = (q / n, q % n);
                    (0..k)
                        .map(|p| a[i * k + p].into() * b[p * n + j].into())
                        .sum::<f64>()
                        + 1.0
                })
                .collect();
            // b row-major (k×n), then the same values column-major (b as a transposed weight).
            let bt: Vec<T> = (0..n * k).map(|q| b[(q % k) * n + q / k]).collect();
            let layouts = [
                (b.as_ptr(), n as isize, 1isize),
                (bt.as_ptr(), 1, k as isize),
            ];
            for (ptr, rs, cs) in layouts {
                for parallel in [false, true] {
                    let mut c = vec![T::from(1.0); m * n];
                    // SAFETY: the strides describe the vectors exactly.
                    let done = unsafe {
                        product::<T>(
                            m,
                            n,
                            k,
                            Mat {
                                ptr: a.as_ptr(),
                                rs: k as isize,
                                cs: 1,
                            },
                            Mat { ptr, rs, cs },
                            c.as_mut_ptr(),
                            n as isize,
                            1,
                            true,
                            parallel,
                        )
                    };
                    if !done {
                        // Only short dot products and small operands are declined.
                        let small = k * m.max(n) < MIN_STREAMED;
                        assert!(small || (k < lanes && cs != 1), "{m}x{n}x{k} not taken");
                        continue;
                    }
                    let got: Vec<f64> = c.into_iter().map(Into::into).collect();
                    assert_eq!(got, want, "{m}x{n}x{k}, b strides ({rs}, {cs})");
                }
            }
        }
    }

    #[test]
    fn skinny_products_match_the_definition() {
        check::<f32>(8);
        check::<f64>(4);
    }

    /// The AVX build adds in the portable build's order, so both give the same bits.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn avx_and_portable_builds_agree_bitwise() {
        if !std::arch::is_x86_feature_detected!("avx") {
            eprintln!("skipped: this CPU has no AVX build to compare");
            return;
        }
        use std::arch::x86_64::__m256;
        let (m, n, k) = (7, 45, 203);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        let am = Mat {
            ptr: a.as_ptr(),
            rs: k as isize,
            cs: 1,
        };
        let run = |f: &dyn Fn(Mat<f32>, Out<f32>), b: Mat<f32>| {
            let mut c = vec![0f32; m * n];
            let out = Out {
                c: c.as_mut_ptr(),
                c_rs: n as isize,
                c_cs: 1,
                acc: false,
            };
            f(b, out);
            c.iter().map(|v| v.to_bits()).collect::<Vec<u32>>()
        };
        let by_cols = Mat {
            ptr: b.as_ptr(),
            rs: 1,
            cs: k as isize,
        };
        let by_rows = Mat {
            ptr: b.as_ptr(),
            rs: n as isize,
            cs: 1,
        };
        // SAFETY: the operands are the vectors above at exact strides; the CPU has AVX.
        unsafe {
            assert_eq!(
                run(
                    &|b, o| dots_for::<Portable<f32, 8>>(m, 0, n, k, am, b, o),
                    by_cols
                ),
                run(&|b, o| dots_for::<__m256>(m, 0, n, k, am, b, o), by_cols),
            );
            assert_eq!(
                run(
                    &|b, o| rows_into::<Portable<f32, 8>>(m, 0, n, k, am, b, o),
                    by_rows
                ),
                run(&|b, o| rows_into::<__m256>(m, 0, n, k, am, b, o), by_rows),
            );
        }
    }

    /// Few rows of 8-bit data by a weight read through its transpose, against sums in i64
    /// wrapped to i32 (the int32 accumulator), with k tails and sums that wrap.
    #[test]
    fn int8_products_match_the_definition() {
        fn run<A: IElem, B: IElem>(a: &[A], b: &[B], m: usize, n: usize, k: usize) {
            let want: Vec<i32> = (0..m * n)
                .map(|q| {
                    let (i, j) = (q / n, q % n);
                    (0..k)
                        .map(|p| a[i * k + p].widen() as i64 * b[j * k + p].widen() as i64)
                        .sum::<i64>() as i32
                })
                .collect();
            let mut c = vec![7i32; m * n];
            // SAFETY: a is m×k, b holds the n×k weight, c is m×n.
            let done = unsafe {
                int8_product(
                    m,
                    n,
                    k,
                    Mat {
                        ptr: a.as_ptr(),
                        rs: k as isize,
                        cs: 1,
                    },
                    Mat {
                        ptr: b.as_ptr(),
                        rs: 1,
                        cs: k as isize,
                    },
                    c.as_mut_ptr(),
                    n,
                )
            };
            if k * n < MIN_STREAMED || k < INT8_STEP {
                assert!(!done, "{m}x{n}x{k} taken");
            } else {
                assert!(done, "{m}x{n}x{k} not taken");
                assert_eq!(c, want, "{m}x{n}x{k}");
            }
        }
        for &(m, n, k) in &[
            (1, 1000, 2048),
            (2, 301, 37),
            (3, 77, 130),
            (4, 9, 1000),
            (5, 130, 64),
            (8, 257, 33),
            (2, 9, 9),
            (3, 600, 15),
        ] {
            let a8: Vec<i8> = (0..m * k).map(|i| (i * 37 % 256) as u8 as i8).collect();
            let au: Vec<u8> = (0..m * k).map(|i| (i * 53 % 256) as u8).collect();
            let b: Vec<i8> = (0..n * k).map(|i| (i * 91 % 256) as u8 as i8).collect();
            run(&a8, &b, m, n, k);
            run(&au, &b, m, n, k);
        }
        // Sums past i32: 255·127 per term over 2^17 terms wraps, as int32 accumulators do.
        let k = 1 << 17;
        run(&vec![255u8; k], &vec![127i8; k], 1, 1, k);
    }
}
