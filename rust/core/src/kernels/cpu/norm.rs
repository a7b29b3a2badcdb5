//! Kernels of the nn activation, normalisation and loss ops. Data of dtype T is computed in a
//! `Real` C: f32 for float16/float32, f64 for float64 (so gradient checks in float64 stay
//! precise). Layouts are (outer, n, inner): the op's axis has n entries, `inner` contiguous
//! elements follow each of them.

use super::{par_ranges, widest, Ptr};
use crate::dtype::Element;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// Runs `$body` with `$T` the element type of float dtype `$d` and `$C` its compute type;
/// any other dtype returns a dtype error naming `$op` from the enclosing function.
macro_rules! with_real {
    ($op:expr, $d:expr, $T:ident, $C:ident, $body:block) => {
        match $d {
            $crate::dtype::DType::F16 => {
                type $T = half::f16;
                type $C = f32;
                $body
            }
            $crate::dtype::DType::BF16 => {
                type $T = half::bf16;
                type $C = f32;
                $body
            }
            $crate::dtype::DType::F32 => {
                type $T = f32;
                type $C = f32;
                $body
            }
            $crate::dtype::DType::F64 => {
                type $T = f64;
                type $C = f64;
                $body
            }
            d => {
                return Err($crate::error::Error::dtype(
                    $op,
                    format!("expects float16, bfloat16, float32 or float64 data, got {d}"),
                ))
            }
        }
    };
}
pub(crate) use with_real;

/// The compute type of a float kernel.
pub trait Real:
    Copy
    + Send
    + Sync
    + PartialOrd
    + Default
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + 'static
{
    const ZERO: Self;
    const ONE: Self;
    fn of<T: Element>(x: T) -> Self;
    fn to<T: Element>(self) -> T;
    fn c(v: f64) -> Self;
    fn f64(self) -> f64;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn tanh(self) -> Self;
    fn sqrt(self) -> Self;
    fn abs(self) -> Self;
    /// ln(1 + x) (f32: `ln_1p_f32`, vectorising; libm's for f64).
    fn ln_1p(self) -> Self;
    /// e^x - 1 (f32: `exp_m1_f32`, vectorising; libm's for f64).
    fn exp_m1(self) -> Self;
    /// erf (f32: `erf_f32`, within 3 ulp; libm's for f64).
    fn erf(self) -> Self;
    /// exp that vectorises (f32: `exp_f32`, a few ulp); exact libm exp for f64.
    fn fexp(self) -> Self;
    /// tanh that vectorises (f32: `tanh_f32`); exact for f64.
    fn ftanh(self) -> Self;
}

macro_rules! real {
    ($t:ty, $of:ident, $to:ident, $fexp:path, $ftanh:path, $erf:path, $ln_1p:path, $exp_m1:path) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            #[inline(always)]
            fn of<T: Element>(x: T) -> Self {
                x.$of()
            }
            #[inline(always)]
            fn to<T: Element>(self) -> T {
                T::$to(self)
            }
            #[inline(always)]
            fn c(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn ln_1p(self) -> Self {
                $ln_1p(self)
            }
            #[inline(always)]
            fn exp_m1(self) -> Self {
                $exp_m1(self)
            }
            #[inline(always)]
            fn fexp(self) -> Self {
                $fexp(self)
            }
            #[inline(always)]
            fn ftanh(self) -> Self {
                $ftanh(self)
            }
            #[inline(always)]
            fn erf(self) -> Self {
                $erf(self)
            }
        }
    };
}
real!(f32, to_f32, from_f32, exp_f32, tanh_f32, erf_f32, ln_1p_f32, exp_m1_f32);
real!(
    f64,
    to_f64,
    from_f64,
    f64::exp,
    f64::tanh,
    libm::erf,
    f64::ln_1p,
    f64::exp_m1
);

/// e^x for f32 without a libm call, so loops over it vectorise (libm's expf would cost about
/// 20 ns an element and dominate tanh/sigmoid layers). x = k ln2 + r with |r| <= ln2/2; e^r
/// by its degree-7 Taylor polynomial (error < 6e-9); 2^k built in the exponent bits, as two
/// factors so that results past the normal range round to subnormals, 0 or infinity as
/// libm's do. NaN propagates.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    // Past these e^x is 0 or infinite in f32; inside, both halves of k stay normal exponents.
    let (r, ki) = ln2_reduce(x.clamp(-104.0, 89.0));
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    let k1 = ki >> 1;
    let scale = |k: i32| f32::from_bits(((k + 127) << 23) as u32);
    p * scale(k1) * scale(ki - k1)
}

/// ln 2 split in two so that k * LN2_HI is exact for the k of any f32 exponent.
const LN2_HI: f32 = 0.693_145_75;
const LN2_LO: f32 = 1.428_606_8e-6;

/// (r, k) with x = k ln 2 + r, |r| <= ln 2 / 2, for |x| < 2^22.
#[inline(always)]
fn ln2_reduce(x: f32) -> (f32, i32) {
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer.
    let t = x * std::f32::consts::LOG2_E + MAGIC;
    let k = t - MAGIC;
    let r = x - k * LN2_HI - k * LN2_LO;
    // The integer k sits in t's low mantissa bits.
    (r, (t.to_bits() as i32).wrapping_sub(0x4B40_0000))
}

/// ln x for f32 without a libm call, so loops over it vectorise (libm's logf cost ~2x our
/// exp). Within 2 ulp.
#[inline(always)]
pub fn ln_f32(x: f32) -> f32 {
    let (k, l) = log_parts(x);
    log_special(x, k * LN2_HI + (l + k * LN2_LO))
}

/// log2 x for f32, vectorising like `ln_f32`; exact on powers of two.
#[inline(always)]
pub fn log2_f32(x: f32) -> f32 {
    let (k, l) = log_parts(x);
    log_special(x, k + l * std::f32::consts::LOG2_E)
}

/// log10 x for f32, vectorising like `ln_f32`.
#[inline(always)]
pub fn log10_f32(x: f32) -> f32 {
    // log10 2 split in two so k * HI is exact.
    const LOG10_2_HI: f32 = 0.301_025_4; // 9864 / 2^15
    const LOG10_2_LO: f32 = 4.605_039e-6;
    let (k, l) = log_parts(x);
    log_special(
        x,
        k * LOG10_2_HI + (l * std::f32::consts::LOG10_E + k * LOG10_2_LO),
    )
}

/// Below this (2^-25) ln(1 + x) and e^x - 1 round to x in f32.
const TINY: f32 = 2.980_232_2e-8;

/// ln(1 + x) for f32, vectorising like `ln_f32`: the logarithm of u = 1 + x rounded, plus
/// (x - (u - 1)) / u, the first-order term of what the rounding lost. Below 2^-25 the
/// result is x itself (so -0 stays -0).
#[inline(always)]
pub fn ln_1p_f32(x: f32) -> f32 {
    let u = 1.0 + x;
    let (k, l) = log_parts(u);
    let c = (x - (u - 1.0)) / u;
    let r = log_special(u, k * LN2_HI + (l + (k * LN2_LO + c)));
    if x.abs() < TINY {
        x
    } else {
        r
    }
}

/// e^x - 1 for f32 that vectorises. x = k ln 2 + r with |r| <= ln 2 / 2; e^r - 1 by its
/// Taylor polynomial to r^8 (error < 3e-10 of it), then 2^k (e^r - 1) + (2^k - 1), which
/// cancels at most a bit. Past 20 it is e^x in f32, below 2^-25 x itself.
#[inline(always)]
pub fn exp_m1_f32(x: f32) -> f32 {
    let (r, ki) = ln2_reduce(x.clamp(-20.0, 20.0));
    let p = r
        * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0
                            + r * (1.0 / 720.0 + r * (1.0 / 5040.0 + r * (1.0 / 40_320.0))))))));
    let scale = f32::from_bits(((ki + 127) << 23) as u32);
    let v = scale * p + (scale - 1.0);
    let v = if x > 20.0 { exp_f32(x) } else { v };
    if x.abs() < TINY {
        x
    } else {
        v
    }
}

/// (k, ln m) with x = 2^k m, m in [sqrt(1/2), sqrt(2)), for positive finite x. ln m is
/// 2 atanh(s), s = (m-1)/(m+1) <= 0.172, by its odd series to s^9 (truncation < 3e-9
/// relative), arranged as fdlibm's logf. Subnormals are scaled into the normal range first.
#[inline(always)]
fn log_parts(x: f32) -> (f32, f32) {
    const SQRT_HALF: u32 = 0x3F35_04F3;
    let tiny = x < f32::MIN_POSITIVE;
    let xs = if tiny { x * 8_388_608.0 } else { x }; // 2^23
                                                     // Exponent of x relative to sqrt(1/2): m's bits are the rest over that exponent.
    let off = xs.to_bits().wrapping_sub(SQRT_HALF);
    let k = (off as i32 >> 23) - if tiny { 23 } else { 0 };
    let m = f32::from_bits((off & 0x007F_FFFF) + SQRT_HALF);
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    // 2 atanh(s) = 2s + s R with 2s = f - f^2/2 + s f^2/2: the exact f leads, the rounded
    // rest is small beside it.
    let r = z * (2.0 / 3.0 + z * (0.4 + z * (2.0 / 7.0 + z * (2.0 / 9.0))));
    let hfsq = 0.5 * f * f;
    (k as f32, f - (hfsq - s * (hfsq + r)))
}

/// A logarithm's value `r` for positive finite x; -inf at 0, inf at inf, NaN below 0.
#[inline(always)]
fn log_special(x: f32, r: f32) -> f32 {
    // Three independent selects (a chain of else-ifs went through scalar branches).
    let r = if x > 0.0 { r } else { f32::NAN };
    let r = if x == 0.0 { f32::NEG_INFINITY } else { r };
    if x == f32::INFINITY {
        x
    } else {
        r
    }
}

/// tanh for f32 that vectorises: an odd Taylor polynomial below 0.25 (where the exp form
/// cancels), 1 - 2 / (e^{2|x|} + 1) above, with the sign restored.
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    let e = exp_f32(2.0 * a);
    let big = 1.0 - 2.0 / (e + 1.0);
    let x2 = x * x;
    let small = x
        * (1.0
            + x2 * (-1.0 / 3.0
                + x2 * (2.0 / 15.0
                    + x2 * (-17.0 / 315.0 + x2 * (62.0 / 2835.0 + x2 * (-1382.0 / 155_925.0))))));
    if a < 0.25 {
        small
    } else {
        big.copysign(x)
    }
}

/// erf for f32 that vectorises (libm's erf is a chain of branches and calls). Below 1, the
/// Maclaurin series of erf(x)/x in x² (truncation < 2e-9); from 1 to 4, 1 - e^{-x²}·p(1/x)
/// with p a degree-8 Chebyshev fit of erfc(x)·e^{x²} (relative error 2e-7, times
/// erfc(x) <= 0.16); beyond 4 erf is 1 in f32. Within 3 ulp of the exact value.
#[inline(always)]
pub fn erf_f32(x: f32) -> f32 {
    const SERIES: [f32; 11] = {
        // 2/sqrt(pi) (-1)^n / (n! (2n + 1))
        let mut c = [0f32; 11];
        let mut fact = 1.0f64;
        let mut n = 0;
        while n < 11 {
            if n > 0 {
                fact *= n as f64;
            }
            let sign = if n % 2 == 0 { 1.0 } else { -1.0 };
            c[n] = (std::f64::consts::FRAC_2_SQRT_PI * sign / (fact * (2 * n + 1) as f64)) as f32;
            n += 1;
        }
        c
    };
    const TAIL: [f32; 9] = [
        0.000_272_672_27,
        0.559_016_47,
        0.042_087_357,
        -0.471_500_75,
        0.495_539_58,
        -0.238_347_17,
        0.019_414_382,
        0.031_199_96,
        -0.010_098_984,
    ];
    let horner = |c: &[f32], u: f32| c.iter().rev().fold(0.0, |r, &k| r * u + k);
    let a = x.abs();
    let small = a * horner(&SERIES, a * a);
    let b = a.clamp(1.0, 4.0);
    let big = 1.0 - exp_f32(-b * b) * horner(&TAIL, 1.0 / b);
    let v = if a < 1.0 {
        small
    } else if a < 4.0 {
        big
    } else {
        1.0
    };
    if x.is_nan() {
        x
    } else {
        v.copysign(x)
    }
}

/// Reads a float array into compute values (small parameter vectors).
pub fn load<T: Element, C: Real>(x: &[T]) -> Vec<C> {
    x.iter().map(|&v| C::of(v)).collect()
}

/// Columns of a non-last axis handled together, so each pass reads long contiguous runs.
const SOFTMAX_BLK: usize = 1024;

/// `f(base, w, scratch)` in parallel for each block of up to `SOFTMAX_BLK` columns of each
/// of `outer` (n, inner) slabs: row j of the block starts at `base + j * inner` and holds w
/// values; `scratch` is the task's buffer of `bufs` blocks.
fn column_blocks<C: Real>(
    outer: usize,
    n: usize,
    inner: usize,
    bufs: usize,
    f: impl Fn(usize, usize, &mut [C]) + Sync + Send,
) {
    let blk = SOFTMAX_BLK.min(inner);
    let nblk = inner.div_ceil(blk);
    par_ranges(outer * nblk, n * blk * 3, |b, e| {
        let mut scratch = vec![C::ZERO; bufs * blk];
        for t in b..e {
            let (o, i0) = (t / nblk, (t % nblk) * blk);
            f(o * n * inner + i0, blk.min(inner - i0), &mut scratch);
        }
    });
}

/// Independent accumulators of a row's max and sum: one running value is a serial chain
/// that keeps the loop (and the exp inside it) from vectorising.
const ROW_LANES: usize = 16;

/// The largest of `xs` (non-empty), NaNs passed over unless the first is one.
#[inline(always)]
fn row_max<C: Real>(xs: &[C]) -> C {
    let mut acc = [xs[0]; ROW_LANES];
    let mut chunks = xs.chunks_exact(ROW_LANES);
    for c in &mut chunks {
        for l in 0..ROW_LANES {
            acc[l] = if c[l] > acc[l] { c[l] } else { acc[l] };
        }
    }
    let pick = |m: C, &x: &C| if x > m { x } else { m };
    acc.iter().chain(chunks.remainder()).fold(xs[0], pick)
}

/// The sum of `f` over `xs`.
#[inline(always)]
fn row_sum<C: Real>(xs: &[C], f: impl Fn(C) -> C) -> C {
    let mut acc = [C::ZERO; ROW_LANES];
    let mut chunks = xs.chunks_exact(ROW_LANES);
    for c in &mut chunks {
        for l in 0..ROW_LANES {
            acc[l] = acc[l] + f(c[l]);
        }
    }
    let tail = chunks.remainder().iter().fold(C::ZERO, |s, &x| s + f(x));
    acc.iter().fold(tail, |s, &a| s + a)
}

/// Softmax (`log`: log-softmax) of `src * inv_t` over n for each (outer, inner) position,
/// written to `dst`. Each row is shifted by its maximum first, so large inputs never
/// overflow; a NaN anywhere in a row makes the whole row NaN.
#[allow(clippy::too_many_arguments)]
pub fn softmax<I: Element, O: Element, C: Real>(
    src: &[I],
    dst: Ptr<O>,
    outer: usize,
    n: usize,
    inner: usize,
    inv_t: C,
    log: bool,
) {
    if outer * n * inner == 0 {
        return; // nothing to write, and rows of zero length cannot be chunked
    }
    if inner == 1 {
        par_ranges(outer, n * 8, |b, e| {
            let mut buf = vec![C::ZERO; n];
            // The exp and the passes around it, compiled for the widest vectors there are.
            widest(
                #[inline(always)]
                || softmax_rows(src, dst, b..e, n, inv_t, log, &mut buf),
            );
        });
        return;
    }
    // Softmax into an output of the compute type keeps each exp there until the row sum
    // is known, instead of computing it twice.
    let in_place = !log && std::any::TypeId::of::<O>() == std::any::TypeId::of::<C>();
    column_blocks(outer, n, inner, 2, |base, w, scratch: &mut [C]| {
        widest(
            #[inline(always)]
            || softmax_columns(src, dst, base, w, n, inner, inv_t, log, in_place, scratch),
        )
    });
}

/// Softmax of the `w` columns from `base` of one (outer) block, `scratch` two rows of `w`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn softmax_columns<I: Element, O: Element, C: Real>(
    src: &[I],
    dst: Ptr<O>,
    base: usize,
    w: usize,
    n: usize,
    inner: usize,
    inv_t: C,
    log: bool,
    in_place: bool,
    scratch: &mut [C],
) {
    let at = |j: usize| base + j * inner;
    let (mx, sm) = scratch.split_at_mut(scratch.len() / 2);
    let (mx, sm) = (&mut mx[..w], &mut sm[..w]);
    mx.fill(C::c(f64::NEG_INFINITY));
    sm.fill(C::ZERO);
    for j in 0..n {
        for (m, &x) in mx.iter_mut().zip(&src[at(j)..at(j) + w]) {
            let y = C::of(x) * inv_t;
            *m = if y > *m { y } else { *m };
        }
    }
    for j in 0..n {
        let xs = &src[at(j)..at(j) + w];
        if in_place {
            // SAFETY: O is C; these w columns of row j belong to this task only.
            let ys = unsafe { std::slice::from_raw_parts_mut(dst.get().add(at(j)).cast::<C>(), w) };
            for (((s, &m), &x), y) in sm.iter_mut().zip(mx.iter()).zip(xs).zip(ys) {
                *y = (C::of(x) * inv_t - m).fexp();
                *s = *s + *y;
            }
        } else {
            for ((s, &m), &x) in sm.iter_mut().zip(mx.iter()).zip(xs) {
                *s = *s + (C::of(x) * inv_t - m).fexp();
            }
        }
    }
    for s in sm.iter_mut() {
        *s = if log { s.ln() } else { C::ONE / *s };
    }
    for j in 0..n {
        let xs = &src[at(j)..at(j) + w];
        // SAFETY: these w columns of row j belong to this task only.
        let out = unsafe { std::slice::from_raw_parts_mut(dst.get().add(at(j)), w) };
        let (mx, sm) = (&*mx, &*sm);
        let v = |m: C, x: I| C::of(x) * inv_t - m;
        if in_place {
            // SAFETY: O is C.
            let ys = unsafe { &mut *(out as *mut [O] as *mut [C]) };
            for (y, &s) in ys.iter_mut().zip(sm) {
                *y = *y * s;
            }
        } else if log {
            for (((y, &m), &s), &x) in out.iter_mut().zip(mx).zip(sm).zip(xs) {
                *y = (v(m, x) - s).to();
            }
        } else {
            for (((y, &m), &s), &x) in out.iter_mut().zip(mx).zip(sm).zip(xs) {
                *y = (v(m, x).fexp() * s).to();
            }
        }
    }
}

/// Softmax of rows `rows` (of n contiguous elements each), `buf` a row of scratch.
#[inline(always)]
fn softmax_rows<I: Element, O: Element, C: Real>(
    src: &[I],
    dst: Ptr<O>,
    rows: std::ops::Range<usize>,
    n: usize,
    inv_t: C,
    log: bool,
    buf: &mut [C],
) {
    for o in rows {
        for (y, &x) in buf.iter_mut().zip(&src[o * n..(o + 1) * n]) {
            *y = C::of(x) * inv_t;
        }
        let m = row_max(buf);
        // SAFETY: row o of dst has n elements; tasks own disjoint rows.
        let out = unsafe { std::slice::from_raw_parts_mut(dst.get().add(o * n), n) };
        if log {
            let ls = row_sum(buf, |y| (y - m).fexp()).ln();
            for (w, &y) in out.iter_mut().zip(buf.iter()) {
                *w = ((y - m) - ls).to();
            }
        } else {
            for y in buf.iter_mut() {
                *y = (*y - m).fexp();
            }
            let rs = C::ONE / row_sum(buf, |y| y);
            for (w, &y) in out.iter_mut().zip(buf.iter()) {
                *w = (y * rs).to();
            }
        }
    }
}

/// Gradient of softmax from its output y (`inv_t` the inverse temperature):
/// dx = inv_t y (dy - sum_n(dy y)), or for log-softmax dx = inv_t (dy - e^y sum_n(dy)).
#[allow(clippy::too_many_arguments)]
pub fn softmax_grad<T: Element, C: Real>(
    y: &[T],
    dy: &[T],
    dx: Ptr<T>,
    outer: usize,
    n: usize,
    inner: usize,
    inv_t: C,
    log: bool,
) {
    if outer * n * inner == 0 {
        return;
    }
    let dims = [outer, n, inner];
    if log {
        grad_in::<T, C, true>(y, dy, dx, dims, inv_t)
    } else {
        grad_in::<T, C, false>(y, dy, dx, dims, inv_t)
    }
}

/// What a column sums: dy (log-softmax) or dy y.
#[inline(always)]
fn grad_term<C: Real, const LOG: bool>(y: C, dy: C) -> C {
    if LOG {
        dy
    } else {
        dy * y
    }
}

#[inline(always)]
fn grad_at<C: Real, const LOG: bool>(y: C, dy: C, s: C, inv_t: C) -> C {
    inv_t * if LOG { dy - y.fexp() * s } else { y * (dy - s) }
}

/// `softmax_grad` with the kind fixed, so no loop carries both forms; dims are
/// (outer, n, inner).
fn grad_in<T: Element, C: Real, const LOG: bool>(
    y: &[T],
    dy: &[T],
    dx: Ptr<T>,
    [outer, n, inner]: [usize; 3],
    inv_t: C,
) {
    if inner == 1 {
        par_ranges(outer, n * 4, |b, e| {
            for r in b..e {
                let (yr, dyr) = (&y[r * n..(r + 1) * n], &dy[r * n..(r + 1) * n]);
                let mut acc = [C::ZERO; ROW_LANES];
                let (mut yc, mut dc) = (yr.chunks_exact(ROW_LANES), dyr.chunks_exact(ROW_LANES));
                for (a, d) in (&mut yc).zip(&mut dc) {
                    for l in 0..ROW_LANES {
                        acc[l] = acc[l] + grad_term::<C, LOG>(C::of(a[l]), C::of(d[l]));
                    }
                }
                let tail = yc.remainder().iter().zip(dc.remainder());
                let tail = tail.fold(C::ZERO, |s, (&a, &d)| {
                    s + grad_term::<C, LOG>(C::of(a), C::of(d))
                });
                let s = acc.iter().fold(tail, |s, &a| s + a);
                // SAFETY: row r lies in this task's range; dx is a fresh output.
                let out = unsafe { std::slice::from_raw_parts_mut(dx.get().add(r * n), n) };
                for ((o, &a), &d) in out.iter_mut().zip(yr).zip(dyr) {
                    *o = grad_at::<C, LOG>(C::of(a), C::of(d), s, inv_t).to();
                }
            }
        });
        return;
    }
    column_blocks(outer, n, inner, 1, |base, w, scratch: &mut [C]| {
        let at = |j: usize| base + j * inner;
        let sm = &mut scratch[..w];
        sm.fill(C::ZERO);
        for j in 0..n {
            let (ys, ds) = (&y[at(j)..at(j) + w], &dy[at(j)..at(j) + w]);
            for ((s, &a), &d) in sm.iter_mut().zip(ys).zip(ds) {
                *s = *s + grad_term::<C, LOG>(C::of(a), C::of(d));
            }
        }
        for j in 0..n {
            let (ys, ds) = (&y[at(j)..at(j) + w], &dy[at(j)..at(j) + w]);
            // SAFETY: these w columns of row j belong to this task only.
            let out = unsafe { std::slice::from_raw_parts_mut(dx.get().add(at(j)), w) };
            for (((o, &a), &d), &s) in out.iter_mut().zip(ys).zip(ds).zip(sm.iter()) {
                *o = grad_at::<C, LOG>(C::of(a), C::of(d), s, inv_t).to();
            }
        }
    });
}

/// Per-channel statistics of (outer, c, inner) data: mean and biased variance of each of the
/// c channels, accumulated in f64.
pub fn channel_stats<T: Element>(x: &[T], outer: usize, c: usize, inner: usize) -> Vec<(f64, f64)> {
    let mut st = vec![(0.0, 0.0); c];
    let p = Ptr(st.as_mut_ptr());
    let m = (outer * inner).max(1) as f64;
    par_ranges(c, outer * inner * 2, |b, e| {
        for ch in b..e {
            let mut s = 0.0f64;
            for o in 0..outer {
                let at = (o * c + ch) * inner;
                s += x[at..at + inner].iter().map(|v| v.to_f64()).sum::<f64>();
            }
            let mean = s / m;
            let mut v = 0.0f64;
            for o in 0..outer {
                let at = (o * c + ch) * inner;
                v += x[at..at + inner]
                    .iter()
                    .map(|t| {
                        let d = t.to_f64() - mean;
                        d * d
                    })
                    .sum::<f64>();
            }
            // SAFETY: channel ch belongs to this task.
            unsafe { *p.get().add(ch) = (mean, v / m) };
        }
    });
    st
}

/// y = x * scale[c] + shift[c] over (outer, c, inner).
pub fn channel_affine<T: Element, C: Real>(
    x: &[T],
    y: Ptr<T>,
    scale: &[C],
    shift: &[C],
    outer: usize,
    inner: usize,
) {
    let c = scale.len();
    par_ranges(outer * c, inner, |b, e| {
        for r in b..e {
            let ch = r % c;
            let (a, s) = (scale[ch], shift[ch]);
            let at = r * inner;
            // SAFETY: row r belongs to this task; y may alias x only element for element.
            unsafe {
                let (px, py) = (x.as_ptr().add(at), y.get().add(at));
                for i in 0..inner {
                    *py.add(i) = (C::of(*px.add(i)) * a + s).to();
                }
            }
        }
    });
}

/// Per-channel sums of dy and dy * (x - mean[c]) over (outer, c, inner), in f64.
// Several arrays and a raw output pointer share one index.
#[allow(clippy::needless_range_loop)]
pub fn channel_grad_sums<T: Element>(
    dy: &[T],
    x: &[T],
    mean: &[f64],
    outer: usize,
    inner: usize,
) -> Vec<(f64, f64)> {
    let c = mean.len();
    let mut st = vec![(0.0, 0.0); c];
    let p = Ptr(st.as_mut_ptr());
    par_ranges(c, outer * inner * 2, |b, e| {
        for ch in b..e {
            let (mut s1, mut s2) = (0.0f64, 0.0f64);
            for o in 0..outer {
                let at = (o * c + ch) * inner;
                for (g, v) in dy[at..at + inner].iter().zip(&x[at..at + inner]) {
                    let g = g.to_f64();
                    s1 += g;
                    s2 += g * (v.to_f64() - mean[ch]);
                }
            }
            // SAFETY: channel ch belongs to this task.
            unsafe { *p.get().add(ch) = (s1, s2) };
        }
    });
    st
}

/// dx = a[c] * dy + b[c] * x + k[c] over (outer, c, inner) (the batch-norm input gradient in
/// both modes, with the per-channel constants folded).
#[allow(clippy::too_many_arguments)]
pub fn channel_grad_apply<T: Element, C: Real>(
    dy: &[T],
    x: &[T],
    dx: Ptr<T>,
    a: &[C],
    bx: &[C],
    k: &[C],
    outer: usize,
    inner: usize,
) {
    let c = a.len();
    par_ranges(outer * c, inner * 2, |b, e| {
        for r in b..e {
            let ch = r % c;
            let (a, bx, k) = (a[ch], bx[ch], k[ch]);
            let at = r * inner;
            for i in 0..inner {
                let v = a * C::of(dy[at + i]) + bx * C::of(x[at + i]) + k;
                // SAFETY: row r belongs to this task; dx is a fresh output.
                unsafe { *dx.get().add(at + i) = v.to() };
            }
        }
    });
}

/// Mean and 1/sqrt(var + eps) over n for each (outer, inner) row of x (LayerNorm,
/// InstanceNorm), in f64.
pub fn row_stats<T: Element>(
    x: &[T],
    outer: usize,
    n: usize,
    inner: usize,
    eps: f64,
) -> Vec<(f64, f64)> {
    let rows = outer * inner;
    let mut st = vec![(0.0, 0.0); rows];
    let p = Ptr(st.as_mut_ptr());
    let nf = n.max(1) as f64;
    par_ranges(rows, n * 2, |b, e| {
        for r in b..e {
            let (o, i) = (r / inner, r % inner);
            let at = |j: usize| (o * n + j) * inner + i;
            let mean = (0..n).map(|j| x[at(j)].to_f64()).sum::<f64>() / nf;
            let var = (0..n)
                .map(|j| {
                    let d = x[at(j)].to_f64() - mean;
                    d * d
                })
                .sum::<f64>()
                / nf;
            // SAFETY: row r belongs to this task.
            unsafe { *p.get().add(r) = (mean, 1.0 / (var + eps).sqrt()) };
        }
    });
    st
}

/// Which gamma/beta entry an element of a row-normalised array uses.
#[derive(Clone, Copy)]
pub enum AffineIndex {
    /// Position along the normalised axis (LayerNorm).
    Axis,
    /// Channel = outer index modulo c (InstanceNorm over (N, C) rows).
    Outer(usize),
}

impl AffineIndex {
    #[inline(always)]
    fn at(self, o: usize, j: usize) -> usize {
        match self {
            AffineIndex::Axis => j,
            AffineIndex::Outer(c) => o % c,
        }
    }
}

/// y = (x - mean) * istd * gamma + beta for row statistics from `row_stats`.
#[allow(clippy::too_many_arguments)]
// Several arrays and a raw output pointer share one index.
#[allow(clippy::needless_range_loop)]
pub fn row_normalize<T: Element, C: Real>(
    x: &[T],
    y: Ptr<T>,
    st: &[(f64, f64)],
    gamma: &[C],
    beta: &[C],
    aff: AffineIndex,
    outer: usize,
    n: usize,
    inner: usize,
) {
    par_ranges(outer * inner, n * 2, |b, e| {
        for r in b..e {
            let (o, i) = (r / inner, r % inner);
            let (m, s) = (C::c(st[r].0), C::c(st[r].1));
            for j in 0..n {
                let at = (o * n + j) * inner + i;
                let g = aff.at(o, j);
                let v = (C::of(x[at]) - m) * s * gamma[g] + beta[g];
                // SAFETY: element at belongs to row r of this task.
                unsafe { *y.get().add(at) = v.to() };
            }
        }
    });
}

/// Gradients of row normalisation: dx (parallel over rows), dgamma and dbeta (accumulated in
/// f64, one serial pass).
#[allow(clippy::too_many_arguments)]
// Several arrays and a raw output pointer share one index.
#[allow(clippy::needless_range_loop)]
pub fn row_normalize_grad<T: Element, C: Real>(
    dy: &[T],
    x: &[T],
    st: &[(f64, f64)],
    gamma: &[C],
    aff: AffineIndex,
    dx: Ptr<T>,
    outer: usize,
    n: usize,
    inner: usize,
) -> (Vec<f64>, Vec<f64>) {
    let nf = n.max(1) as f64;
    par_ranges(outer * inner, n * 4, |b, e| {
        for r in b..e {
            let (o, i) = (r / inner, r % inner);
            let (m, s) = st[r];
            let (mut s1, mut s2) = (0.0f64, 0.0f64);
            for j in 0..n {
                let at = (o * n + j) * inner + i;
                let gdy = dy[at].to_f64() * gamma[aff.at(o, j)].f64();
                s1 += gdy;
                s2 += gdy * (x[at].to_f64() - m) * s;
            }
            let (s1, s2) = (s1 / nf, s2 / nf);
            for j in 0..n {
                let at = (o * n + j) * inner + i;
                let gdy = dy[at].to_f64() * gamma[aff.at(o, j)].f64();
                let xh = (x[at].to_f64() - m) * s;
                let v = s * (gdy - s1 - xh * s2);
                // SAFETY: element at belongs to row r of this task.
                unsafe { *dx.get().add(at) = T::from_f64(v) };
            }
        }
    });
    let mut dg = vec![0.0; gamma.len()];
    let mut db = vec![0.0; gamma.len()];
    for o in 0..outer {
        for j in 0..n {
            for i in 0..inner {
                let at = (o * n + j) * inner + i;
                let (m, s) = st[o * inner + i];
                let g = aff.at(o, j);
                let d = dy[at].to_f64();
                dg[g] += d * (x[at].to_f64() - m) * s;
                db[g] += d;
            }
        }
    }
    (dg, db)
}

#[cfg(test)]
mod tests {
    /// Rows of the last axis (inner = 1) against the same data laid out with inner = 2 (the
    /// general loop), and against f64 definitions; a NaN row stays NaN.
    #[test]
    fn softmax_of_contiguous_rows_matches_the_general_loop() {
        use crate::kernels::cpu::Ptr;
        let (rows, n) = (37, 11);
        let x: Vec<f32> = (0..rows * n)
            .map(|i| ((i * 7919) % 23) as f32 * 0.7 - 8.0)
            .collect();
        let dy: Vec<f32> = (0..rows * n)
            .map(|i| ((i * 31) % 17) as f32 * 0.1 - 0.8)
            .collect();
        // Two copies interleaved: (rows, n, 2), each position's pair equal.
        let x2: Vec<f32> = x.iter().flat_map(|&v| [v, v]).collect();
        let dy2: Vec<f32> = dy.iter().flat_map(|&v| [v, v]).collect();
        let (mut y, mut y2) = (vec![0f32; rows * n], vec![0f32; rows * n * 2]);
        super::softmax::<f32, f32, f32>(&x, Ptr(y.as_mut_ptr()), rows, n, 1, 1.0, false);
        super::softmax::<f32, f32, f32>(&x2, Ptr(y2.as_mut_ptr()), rows, n, 2, 1.0, false);
        let (mut dx, mut dx2) = (vec![0f32; rows * n], vec![0f32; rows * n * 2]);
        super::softmax_grad::<f32, f32>(&y, &dy, Ptr(dx.as_mut_ptr()), rows, n, 1, 1.0, false);
        super::softmax_grad::<f32, f32>(&y2, &dy2, Ptr(dx2.as_mut_ptr()), rows, n, 2, 1.0, false);
        for r in 0..rows {
            let row = &x[r * n..(r + 1) * n];
            let m = row.iter().fold(f64::MIN, |m, &v| m.max(v as f64));
            let s: f64 = row.iter().map(|&v| (v as f64 - m).exp()).sum();
            let sy: f64 = (0..n).map(|j| (dy[r * n + j] * y[r * n + j]) as f64).sum();
            for (j, &xj) in row.iter().enumerate() {
                let i = r * n + j;
                assert_eq!(y[i], y2[2 * i]);
                assert_eq!(y[i], y2[2 * i + 1]);
                assert_eq!(dx[i], dx2[2 * i]);
                let want = (xj as f64 - m).exp() / s;
                assert!((y[i] as f64 - want).abs() < 1e-6, "{} vs {want}", y[i]);
                let want = y[i] as f64 * (dy[i] as f64 - sy);
                assert!((dx[i] as f64 - want).abs() < 1e-6, "{} vs {want}", dx[i]);
            }
        }
        let nan = [f32::NAN, 1.0, 2.0];
        let mut out = [0f32; 3];
        super::softmax::<f32, f32, f32>(&nan, Ptr(out.as_mut_ptr()), 1, 3, 1, 1.0, false);
        assert!(out.iter().all(|v| v.is_nan()));
    }

    #[test]
    fn fast_exp_and_tanh_are_accurate() {
        let mut worst = (0.0f64, 0.0f64);
        for i in -200_000..=200_000 {
            let x = i as f32 * 4.3e-4;
            let e = super::exp_f32(x) as f64;
            let want = (x as f64).exp();
            worst.0 = worst.0.max(((e - want) / want).abs());
            let t = super::tanh_f32(x) as f64;
            let want = (x as f64).tanh();
            worst.1 = worst.1.max((t - want).abs() / want.abs().max(1e-30));
        }
        assert!(worst.0 < 3e-7 && worst.1 < 6e-7, "{worst:?}");
        assert!(super::exp_f32(f32::NAN).is_nan() && super::tanh_f32(f32::NAN).is_nan());
        assert_eq!(super::tanh_f32(100.0), 1.0);
        assert_eq!(super::tanh_f32(-100.0), -1.0);
        assert_eq!(super::tanh_f32(0.0), 0.0);
    }

    #[test]
    fn ln_f32_and_log2_f32_are_within_two_ulp() {
        use super::{ln_f32, log2_f32};
        // Every 4099th positive f32 bit pattern (subnormals to the largest finite value),
        // and values around 1, where the result is small.
        let spread = (1..0x7F80_0000u32).step_by(4099).map(f32::from_bits);
        let near_one = (0x3F7F_F000u32..0x3F80_1000).map(f32::from_bits);
        for x in spread
            .chain(near_one)
            .chain([f32::MAX, f32::MIN_POSITIVE, 0.5, 2.0])
        {
            type Pair = (fn(f32) -> f32, fn(f64) -> f64);
            let fns: [(&str, Pair); 2] =
                [("ln", (ln_f32, f64::ln)), ("log2", (log2_f32, f64::log2))];
            for (name, (ours, exact)) in fns {
                let want = exact(x as f64);
                let ulp = f32::EPSILON as f64 * want.abs().max(f32::MIN_POSITIVE as f64);
                let got = ours(x) as f64;
                assert!(
                    (got - want).abs() <= 2.0 * ulp,
                    "{name}({x}) = {got}, want {want}"
                );
            }
        }
        for k in -149..128 {
            assert_eq!(log2_f32(2f64.powi(k) as f32), k as f32);
        }
        assert!(log2_f32(0.0) == f32::NEG_INFINITY && log2_f32(-2.0).is_nan());
        assert_eq!(ln_f32(1.0), 0.0);
        assert_eq!(ln_f32(0.0), f32::NEG_INFINITY);
        assert_eq!(ln_f32(-0.0), f32::NEG_INFINITY);
        assert_eq!(ln_f32(f32::INFINITY), f32::INFINITY);
        assert!(ln_f32(-1.0).is_nan() && ln_f32(f32::NAN).is_nan());
        assert!(ln_f32(f32::NEG_INFINITY).is_nan());
    }

    #[test]
    fn log10_ln_1p_and_exp_m1_of_f32_are_within_two_ulp() {
        use super::{exp_m1_f32, ln_1p_f32, log10_f32};
        type Pair = (fn(f32) -> f32, fn(f64) -> f64);
        let check = |name: &str, (ours, exact): Pair, x: f32| {
            let want = exact(x as f64);
            let ulp = f32::EPSILON as f64 * want.abs().max(f32::MIN_POSITIVE as f64);
            let got = ours(x) as f64;
            assert!(
                (got - want).abs() <= 2.0 * ulp
                    || (want as f32).is_infinite() && got as f32 == want as f32,
                "{name}({x}) = {got}, want {want}"
            );
        };
        // Every 4099th positive f32 bit pattern, both signs where the domain allows, and
        // the regions where these functions differ from their plain forms: around 0 for
        // ln(1 + x) and e^x - 1, near -1 for ln(1 + x), and the joins of e^x - 1's pieces.
        let spread: Vec<f32> = (1..0x7F80_0000u32)
            .step_by(4099)
            .map(f32::from_bits)
            .collect();
        let small = (-200_000..=200_000).map(|i| i as f32 * 1e-6);
        let steps = (-300_000..=300_000).map(|i| i as f32 * 1e-4);
        for &x in &spread {
            check("log10", (log10_f32, f64::log10), x);
            check("ln_1p", (ln_1p_f32, f64::ln_1p), x);
            if x < 1.0 {
                check("ln_1p", (ln_1p_f32, f64::ln_1p), -x);
            }
            check("exp_m1", (exp_m1_f32, f64::exp_m1), x.min(89.0));
            check("exp_m1", (exp_m1_f32, f64::exp_m1), -x);
        }
        for x in small.chain(steps) {
            check("exp_m1", (exp_m1_f32, f64::exp_m1), x);
            if x > -1.0 {
                check("ln_1p", (ln_1p_f32, f64::ln_1p), x);
            }
        }
        for k in -40..=38 {
            check("log10", (log10_f32, f64::log10), 10f64.powi(k) as f32);
        }
        assert!(ln_1p_f32(-0.0).is_sign_negative() && exp_m1_f32(-0.0).is_sign_negative());
        assert_eq!(ln_1p_f32(-1.0), f32::NEG_INFINITY);
        assert!(ln_1p_f32(-1.5).is_nan() && ln_1p_f32(f32::NAN).is_nan());
        assert_eq!(ln_1p_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_m1_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_m1_f32(100.0), f32::INFINITY);
        assert_eq!(exp_m1_f32(f32::NEG_INFINITY), -1.0);
        assert!(exp_m1_f32(f32::NAN).is_nan());
        assert_eq!(log10_f32(0.0), f32::NEG_INFINITY);
        assert!(log10_f32(-1.0).is_nan());
    }

    #[test]
    fn fast_exp_rounds_like_libm_past_the_normal_range() {
        // Subnormal results, overflow to infinity and underflow to 0, against f64's exp
        // rounded to f32 (within a few f32 ulps, and one subnormal step).
        for i in -1_040_000..=890_000 {
            let x = i as f32 * 1e-4;
            let got = super::exp_f32(x) as f64;
            let want = ((x as f64).exp() as f32) as f64;
            if want.is_infinite() {
                assert!(got.is_infinite(), "exp({x}) = {got}, want inf");
            } else {
                let tol = 4e-7 * want + 2.0 * f32::from_bits(1) as f64;
                assert!((got - want).abs() <= tol, "exp({x}) = {got}, want {want}");
            }
        }
        assert_eq!(super::exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(super::exp_f32(1000.0), f32::INFINITY);
        assert_eq!(super::exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(super::exp_f32(-1000.0), 0.0);
        assert!(super::exp_f32(-100.0) > 0.0 && super::exp_f32(88.7).is_finite());
    }

    #[test]
    fn erf_f32_is_within_three_ulp() {
        use super::erf_f32;
        // Every 2^-12 step to 5, and values around the pieces' joins at 1 and 4.
        let grid = (0..=5 * 4096).map(|i| i as f32 / 4096.0);
        let joins = [1.0f32, 4.0].into_iter().flat_map(|j| {
            let b = j.to_bits();
            (b - 50..b + 50).map(f32::from_bits)
        });
        for x in grid.chain(joins).chain([1e-30, 1e-6, 0.3]) {
            for x in [x, -x] {
                let want = libm::erf(x as f64);
                let ulp = f32::EPSILON as f64 * want.abs().max(f32::MIN_POSITIVE as f64);
                let got = erf_f32(x) as f64;
                assert!(
                    (got - want).abs() <= 3.0 * ulp,
                    "erf({x}) = {got}, want {want}"
                );
            }
        }
        assert!(erf_f32(f32::NAN).is_nan());
        assert_eq!(erf_f32(f32::INFINITY), 1.0);
        assert_eq!(erf_f32(f32::NEG_INFINITY), -1.0);
        assert_eq!(erf_f32(-0.0).to_bits(), (-0.0f32).to_bits());
    }
}
