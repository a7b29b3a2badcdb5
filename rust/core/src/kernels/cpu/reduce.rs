//! Reduction kernels over an array viewed as (outer, r, inner): every output element folds the
//! `r` inputs of one (outer, inner) position. Contiguous rows fold with independent lanes so
//! the loop vectorises; long rows are split between tasks and the partial results merged in
//! order, so a result never depends on the thread count.

use super::halves::Half;
use super::{par_ranges, widest, Ptr};
use crate::dtype::Element;
use crate::runtime::rt;
use half::f16;

/// Below this many elements a row is not split between tasks.
const SEG_MIN: usize = 1 << 15;
/// Inner columns folded together when the reduced axis is not the last one: wide enough that
/// consecutive rows usually form one sequential stream (prefetchers stop at page ends), small
/// enough that the accumulators stay in L1/L2.
const BLK: usize = 4096;
/// Independent accumulators per contiguous row (a power of two): enough to hide add latency
/// and vectorise. A float sum accumulates in f64, so 32 lanes are 8 AVX registers, 8
/// independent chains: a 1M f32 sum on one core ran at 14 GB/s with 8 lanes, 21 with 32.
const LANES: usize = 32;
/// Below this many inner columns, rows are folded several at a time (`fold_narrow`).
const NARROW: usize = 16;

/// Accumulator of a value reduction: f64 for floats (16M f32 sum to ~1e-12), wrapping i64
/// for integers (wraps like MXNet's integer sums once narrowed back).
pub trait Acc: Copy + Send + Sync + PartialOrd + 'static {
    const ZERO: Self;
    const ONE: Self;
    fn add(self, b: Self) -> Self;
    fn mul(self, b: Self) -> Self;
    fn abs(self) -> Self;
    /// `self / n` (the mean); integers truncate and give 0 for an empty count.
    fn div_count(self, n: usize) -> Self;
    fn sqrt(self) -> Self;
}

impl Acc for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        self + b
    }
    #[inline(always)]
    fn mul(self, b: Self) -> Self {
        self * b
    }
    #[inline(always)]
    fn abs(self) -> Self {
        f64::abs(self)
    }
    fn div_count(self, n: usize) -> Self {
        self / n as f64
    }
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
}

impl Acc for i64 {
    const ZERO: Self = 0;
    const ONE: Self = 1;
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        self.wrapping_add(b)
    }
    #[inline(always)]
    fn mul(self, b: Self) -> Self {
        self.wrapping_mul(b)
    }
    #[inline(always)]
    fn abs(self) -> Self {
        self.wrapping_abs()
    }
    fn div_count(self, n: usize) -> Self {
        if n == 0 {
            0
        } else {
            self / n as i64
        }
    }
    fn sqrt(self) -> Self {
        (self as f64).sqrt() as i64
    }
}

/// An element type with its reduction accumulator.
pub trait RedElem: Element {
    type A: Acc;
    fn lift(self) -> Self::A;
    fn lower(a: Self::A) -> Self;
    /// The mean of `n` elements summing to `a`.
    fn mean(a: Self::A, n: usize) -> Self {
        Self::lower(a.div_count(n))
    }
    /// The sum of a contiguous run.
    fn sum_run(xs: &[Self]) -> Self::A {
        let red = Fold {
            init: Self::A::ZERO,
            step: |a: Self::A, x: Self, _| a.add(x.lift()),
            merge: Self::A::add,
            finish: |a, _| Self::lower(a),
        };
        fold_slice(&red, xs, 0)
    }
    /// The max (`MAX`) or min of a contiguous run, from `start` (`Extreme::fold_run`).
    fn extreme_run<const MAX: bool>(xs: &[Self], start: Self) -> Self {
        extreme_lanes::<Self, MAX>(xs, start)
    }
}

/// Elements per block of [`sum_f32`]: each of its lanes adds `SUM_BLOCK / LANES` = 32 values
/// in f32 before the block's lanes are added into f64.
const SUM_BLOCK: usize = 1024;

/// A sum of f32 that adds in f32 inside short blocks and in f64 across them. Widening every
/// element held a one-core sum of 1M to ~21 GB/s (a conversion per two elements without AVX);
/// f32 lanes add a vector register at a time (in the widest build). The error stays near f64
/// accumulation's: each f32 partial holds at most 32 terms.
fn sum_f32(xs: &[f32]) -> f64 {
    widest(
        #[inline(always)]
        || sum_f32_in(xs),
    )
}

#[inline(always)]
fn sum_f32_in(xs: &[f32]) -> f64 {
    let mut wide = [0f64; LANES];
    let mut blocks = xs.chunks_exact(SUM_BLOCK);
    for b in &mut blocks {
        let mut acc = [0f32; LANES];
        for c in b.chunks_exact(LANES) {
            for l in 0..LANES {
                acc[l] += c[l];
            }
        }
        for l in 0..LANES {
            wide[l] += acc[l] as f64;
        }
    }
    let rest = blocks.remainder().iter().fold(0f64, |a, &x| a + x as f64);
    wide.iter().sum::<f64>() + rest
}

/// Sum (`mean`: divided by the count) with the element type's fastest contiguous run.
pub struct Sum {
    pub mean: bool,
}

impl<T: RedElem> Reducer<T> for Sum {
    type A = T::A;
    #[inline(always)]
    fn init(&self) -> T::A {
        T::A::ZERO
    }
    #[inline(always)]
    fn step(&self, a: T::A, x: T, _: usize) -> T::A {
        a.add(x.lift())
    }
    #[inline(always)]
    fn merge(&self, a: T::A, b: T::A) -> T::A {
        a.add(b)
    }
    fn finish(&self, a: T::A, n: usize) -> T {
        if self.mean {
            T::mean(a, n)
        } else {
            T::lower(a)
        }
    }
    fn fold_run(&self, xs: &[T], _: usize) -> T::A {
        T::sum_run(xs)
    }
}

macro_rules! red_float {
    ($t:ty $(, $run:item)*) => {
        impl RedElem for $t {
            type A = f64;
            #[inline(always)]
            fn lift(self) -> f64 {
                Element::to_f64(self)
            }
            #[inline(always)]
            fn lower(a: f64) -> Self {
                <$t as Element>::from_f64(a)
            }
            $($run)*
        }
    };
}
red_float!(f64);
red_float!(
    f16,
    fn sum_run(xs: &[f16]) -> f64 {
        sum_half(xs)
    },
    fn extreme_run<const MAX: bool>(xs: &[f16], start: f16) -> f16 {
        extreme_half::<f16, MAX>(xs, start)
    }
);
red_float!(
    half::bf16,
    fn sum_run(xs: &[half::bf16]) -> f64 {
        sum_half(xs)
    },
    fn extreme_run<const MAX: bool>(xs: &[half::bf16], start: half::bf16) -> half::bf16 {
        extreme_half::<half::bf16, MAX>(xs, start)
    }
);

/// Extremes of half-precision runs compare widened blocks (exact) as f32 does: `half`'s own
/// comparisons are bit logic that does not vectorise (20 times f32's time).
fn extreme_half<H: Half + RedElem, const MAX: bool>(xs: &[H], start: H) -> H {
    let red = Extreme::<f32, MAX> {
        start: start.to_f32(),
    };
    let mut tile = [0f32; SUM_BLOCK];
    let m = xs.chunks(SUM_BLOCK).fold(red.start, |a, c| {
        let t = &mut tile[..c.len()];
        H::widen(c, t);
        red.merge(a, f32::extreme_run::<MAX>(t, red.start))
    });
    H::from_f32(m)
}

/// Sums of half-precision runs widen a block at a time (F16C for f16) and add as f32 does.
fn sum_half<H: Half>(xs: &[H]) -> f64 {
    let mut tile = [0f32; SUM_BLOCK];
    xs.chunks(SUM_BLOCK)
        .map(|c| {
            let t = &mut tile[..c.len()];
            H::widen(c, t);
            sum_f32(t)
        })
        .sum()
}

impl RedElem for f32 {
    type A = f64;
    #[inline(always)]
    fn lift(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn lower(a: f64) -> Self {
        a as f32
    }
    fn sum_run(xs: &[f32]) -> f64 {
        sum_f32(xs)
    }
}

macro_rules! red_int {
    ($t:ty) => {
        impl RedElem for $t {
            type A = i64;
            #[inline(always)]
            fn lift(self) -> i64 {
                self as i64
            }
            #[inline(always)]
            fn lower(a: i64) -> Self {
                a as $t // truncation = the wrap-around of a sum kept in the narrow type
            }
            fn mean(a: i64, n: usize) -> Self {
                // MXNet sums in the element type and divides by the count converted to it:
                // both wrap (300 uint8 ones: 44 / 44); nothing to average is 0
                if n == 0 {
                    return 0;
                }
                super::elemwise::Arith::div(a as $t, <$t>::from_i64_c(n as i64))
            }
        }
    };
}
red_int!(u8);
red_int!(i8);
red_int!(i32);
red_int!(i64);

/// Max (`MAX`) or min in the element type; a NaN, once seen, is the result (MXNet's reducers).
pub struct Extreme<T, const MAX: bool> {
    /// The identity, saturated into integer types.
    pub start: T,
}

impl<T: RedElem, const MAX: bool> Extreme<T, MAX> {
    /// `x` replaces `a`; a NaN `x` never does (runs track NaNs apart, see `fold_run`).
    #[inline(always)]
    fn beats(x: T, a: T) -> bool {
        if MAX {
            x > a
        } else {
            x < a
        }
    }
}

impl<T: RedElem, const MAX: bool> Reducer<T> for Extreme<T, MAX> {
    type A = T;
    #[inline(always)]
    fn init(&self) -> T {
        self.start
    }
    #[allow(clippy::eq_op)]
    #[inline(always)]
    fn step(&self, a: T, x: T, _: usize) -> T {
        if a != a || (x == x && !Self::beats(x, a)) {
            a
        } else {
            x
        }
    }
    #[inline(always)]
    fn merge(&self, a: T, b: T) -> T {
        self.step(a, b, 0)
    }
    fn finish(&self, a: T, _: usize) -> T {
        a
    }
    fn fold_run(&self, xs: &[T], _: usize) -> T {
        T::extreme_run::<MAX>(xs, self.start)
    }
}

/// The default `RedElem::extreme_run`. Lanes keep the plain compare-and-select (a single
/// max/min instruction for floats) and a separate NaN flag, instead of a NaN-aware select per
/// element: f32 max of 1M on one core ran at 15-19 GB/s with the select, numpy's at 36-44.
fn extreme_lanes<T: RedElem, const MAX: bool>(xs: &[T], start: T) -> T {
    widest(
        #[inline(always)]
        || extreme_lanes_in::<T, MAX>(xs, start),
    )
}

#[allow(clippy::eq_op)]
#[inline(always)]
fn extreme_lanes_in<T: RedElem, const MAX: bool>(xs: &[T], start: T) -> T {
    let red = Extreme::<T, MAX> { start };
    let mut acc = [start; LANES];
    let mut nan = [0u32; LANES];
    let mut chunks = xs.chunks_exact(LANES);
    for c in &mut chunks {
        for l in 0..LANES {
            let x = c[l];
            nan[l] |= (x != x) as u32;
            acc[l] = if Extreme::<T, MAX>::beats(x, acc[l]) {
                x
            } else {
                acc[l]
            };
        }
    }
    if nan.iter().any(|&f| f != 0) {
        return T::from_f64(f64::NAN);
    }
    let a = acc.iter().fold(start, |a, &x| red.step(a, x, 0));
    chunks.remainder().iter().fold(a, |a, &x| red.step(a, x, 0))
}

/// argmax (`MAX`) / argmin: the index of the first extreme; a NaN counts as the extreme, as in
/// numpy. The output holds the index in the input's dtype (MXNet's convention).
pub struct ArgExtreme<T, const MAX: bool>(std::marker::PhantomData<T>);

impl<T, const MAX: bool> Default for ArgExtreme<T, MAX> {
    fn default() -> Self {
        ArgExtreme(std::marker::PhantomData)
    }
}

/// The position of no element yet.
const NOWHERE: usize = usize::MAX;

impl<T: RedElem, const MAX: bool> Reducer<T> for ArgExtreme<T, MAX> {
    type A = (T, usize);
    fn init(&self) -> (T, usize) {
        (T::default(), NOWHERE)
    }
    #[inline(always)]
    fn step(&self, a: (T, usize), x: T, j: usize) -> (T, usize) {
        self.merge(a, (x, j))
    }
    #[allow(clippy::eq_op)]
    #[inline(always)]
    fn merge(&self, a: (T, usize), b: (T, usize)) -> (T, usize) {
        if a.1 == NOWHERE {
            return b;
        }
        if b.1 == NOWHERE {
            return a;
        }
        let (an, bn) = (a.0 != a.0, b.0 != b.0);
        let b_wins = if an || bn {
            bn && (!an || b.1 < a.1)
        } else if b.0 == a.0 {
            b.1 < a.1
        } else {
            Extreme::<T, MAX>::beats(b.0, a.0)
        };
        if b_wins {
            b
        } else {
            a
        }
    }
    fn finish(&self, a: (T, usize), _: usize) -> T {
        T::from_f64(a.1 as f64)
    }
    /// The vectorised extreme first, then the first position that holds it: a select of
    /// value and index per element kept argmax at a fifth of max's speed.
    #[allow(clippy::eq_op)]
    fn fold_run(&self, xs: &[T], j0: usize) -> (T, usize) {
        let start = T::from_f64(if MAX {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
        let m = T::extreme_run::<MAX>(xs, start);
        let at = widest(
            #[inline(always)]
            || {
                if m != m {
                    first_where(xs, |x| x != x)
                } else {
                    first_where(xs, |x| x == m)
                }
            },
        );
        match at {
            Some(i) => (xs[i], j0 + i),
            None => self.init(),
        }
    }
}

/// The position of the first element where `hit` holds: blocks are tested whole (a
/// non-short-circuit or vectorises) and only the block that holds it is searched; a plain
/// `position` went one element per compare-and-branch, as long as the extreme pass itself.
#[inline(always)]
fn first_where<T: Copy>(xs: &[T], hit: impl Fn(T) -> bool) -> Option<usize> {
    const W: usize = 32;
    let mut blocks = xs.chunks_exact(W);
    for (b, blk) in (&mut blocks).enumerate() {
        if blk.iter().fold(false, |f, &x| f | hit(x)) {
            return blk.iter().position(|&x| hit(x)).map(|i| b * W + i);
        }
    }
    let base = xs.len() - blocks.remainder().len();
    blocks
        .remainder()
        .iter()
        .position(|&x| hit(x))
        .map(|i| base + i)
}

/// A fold: `step` takes an element and its position along the reduced axis.
pub trait Reducer<T: Copy>: Sync {
    type A: Copy + Send + Sync;
    fn init(&self) -> Self::A;
    fn step(&self, a: Self::A, x: T, j: usize) -> Self::A;
    /// Combines two partial results; must not depend on which holds the earlier elements
    /// beyond what `A` records (argmax keeps the index for that).
    fn merge(&self, a: Self::A, b: Self::A) -> Self::A;
    /// The output element from the folded value and the number of elements folded.
    fn finish(&self, a: Self::A, n: usize) -> T;
    /// Folds a contiguous run whose first element sits at position `j0` of the reduced axis.
    fn fold_run(&self, xs: &[T], j0: usize) -> Self::A
    where
        Self: Sized,
    {
        fold_slice(self, xs, j0)
    }
}

/// A `Reducer` made of closures.
pub struct Fold<A, S, M, F> {
    pub init: A,
    pub step: S,
    pub merge: M,
    pub finish: F,
}

impl<T: Copy, A, S, M, F> Reducer<T> for Fold<A, S, M, F>
where
    A: Copy + Send + Sync,
    S: Fn(A, T, usize) -> A + Sync,
    M: Fn(A, A) -> A + Sync,
    F: Fn(A, usize) -> T + Sync,
{
    type A = A;
    #[inline(always)]
    fn init(&self) -> A {
        self.init
    }
    #[inline(always)]
    fn step(&self, a: A, x: T, j: usize) -> A {
        (self.step)(a, x, j)
    }
    #[inline(always)]
    fn merge(&self, a: A, b: A) -> A {
        (self.merge)(a, b)
    }
    #[inline(always)]
    fn finish(&self, a: A, n: usize) -> T {
        (self.finish)(a, n)
    }
}

/// Independent lanes over a contiguous run (the default `Reducer::fold_run`).
#[inline(always)]
fn fold_slice<T: Copy, R: Reducer<T>>(red: &R, xs: &[T], j0: usize) -> R::A {
    if xs.len() < LANES {
        // Short rows: setting up and merging lanes would cost more than the row.
        let step = |a, (k, &x): (usize, &T)| red.step(a, x, j0 + k);
        return xs.iter().enumerate().fold(red.init(), step);
    }
    let mut acc = [red.init(); LANES];
    let mut chunks = xs.chunks_exact(LANES);
    let mut j = j0;
    for c in &mut chunks {
        for l in 0..LANES {
            acc[l] = red.step(acc[l], c[l], j + l);
        }
        j += LANES;
    }
    let mut w = LANES;
    while w > 1 {
        w /= 2;
        for l in 0..w {
            acc[l] = red.merge(acc[l], acc[l + w]);
        }
    }
    let mut a = acc[0];
    for (k, &x) in chunks.remainder().iter().enumerate() {
        a = red.step(a, x, j + k);
    }
    a
}

/// How many pieces to cut the reduced axis into so that `tasks` independent outputs plus the
/// pieces keep every thread busy, given `work` elements per (task, whole axis).
fn segments(tasks: usize, r: usize, work: usize) -> usize {
    let want = rt().pool.current_num_threads().max(1) * 4;
    if tasks >= want || work < 2 * SEG_MIN {
        return 1;
    }
    want.div_ceil(tasks).min(work / SEG_MIN).clamp(1, r.max(1))
}

/// `dst[o * inner + i] = fold(src[o, 0..r, i])` for `src` of `outer * r * inner` elements.
/// `dst` must hold `outer * inner` elements and not overlap `src`.
pub fn reduce<T: Copy + Send + Sync, R: Reducer<T>>(
    red: &R,
    src: &[T],
    dst: Ptr<T>,
    outer: usize,
    r: usize,
    inner: usize,
) {
    debug_assert_eq!(src.len(), outer * r * inner);
    if outer * inner == 0 {
        return;
    }
    if inner == 1 {
        reduce_rows(red, src, dst, outer, r);
    } else {
        reduce_cols(red, src, dst, outer, r, inner);
    }
}

fn reduce_rows<T: Copy + Send + Sync, R: Reducer<T>>(
    red: &R,
    src: &[T],
    dst: Ptr<T>,
    outer: usize,
    r: usize,
) {
    let seg = segments(outer, r, r);
    if seg == 1 {
        par_ranges(outer, r, |b, e| {
            for o in b..e {
                let a = red.fold_run(&src[o * r..(o + 1) * r], 0);
                // SAFETY: o < outer, the length of dst; tasks write disjoint o.
                unsafe { *dst.get().add(o) = red.finish(a, r) }
            }
        });
        return;
    }
    let len = r.div_ceil(seg);
    let mut part = vec![red.init(); outer * seg];
    let pp = Ptr(part.as_mut_ptr());
    par_ranges(outer * seg, len, |b, e| {
        for t in b..e {
            let (o, s) = (t / seg, t % seg);
            let (j0, j1) = ((s * len).min(r), ((s + 1) * len).min(r));
            let a = red.fold_run(&src[o * r + j0..o * r + j1], j0);
            // SAFETY: t < outer * seg = part.len(); tasks write disjoint t.
            unsafe { *pp.get().add(t) = a }
        }
    });
    for o in 0..outer {
        let a = part[o * seg..(o + 1) * seg]
            .iter()
            .fold(red.init(), |a, &b| red.merge(a, b));
        // SAFETY: o < outer.
        unsafe { *dst.get().add(o) = red.finish(a, r) }
    }
}

fn reduce_cols<T: Copy + Send + Sync, R: Reducer<T>>(
    red: &R,
    src: &[T],
    dst: Ptr<T>,
    outer: usize,
    r: usize,
    inner: usize,
) {
    let nblk = inner.div_ceil(BLK);
    let seg = segments(outer * nblk, r, r * inner.min(BLK));
    let len = r.div_ceil(seg);
    // Partial folds, laid out [outer][seg][inner]; only used when the axis is split.
    let mut part = if seg > 1 {
        vec![red.init(); outer * seg * inner]
    } else {
        Vec::new()
    };
    let pp = Ptr(part.as_mut_ptr());
    par_ranges(outer * nblk * seg, len * inner.min(BLK), |b, e| {
        let (mut acc, mut wide) = (vec![red.init(); BLK.min(inner)], Vec::new());
        for t in b..e {
            let (o, rest) = (t / (nblk * seg), t % (nblk * seg));
            let (blk, s) = (rest / seg, rest % seg);
            let i0 = blk * BLK;
            let w = BLK.min(inner - i0);
            let (j0, j1) = ((s * len).min(r), ((s + 1) * len).min(r));
            let acc = &mut acc[..w];
            acc.fill(red.init());
            if inner < NARROW {
                let rows = &src[(o * r + j0) * inner..(o * r + j1) * inner];
                fold_narrow(red, rows, inner, j0, acc, &mut wide);
            } else {
                for j in j0..j1 {
                    let row = &src[(o * r + j) * inner + i0..][..w];
                    for (a, &x) in acc.iter_mut().zip(row) {
                        *a = red.step(*a, x, j);
                    }
                }
            }
            if seg == 1 {
                for (i, &a) in acc.iter().enumerate() {
                    // SAFETY: o * inner + i0 + i < outer * inner; tasks own disjoint blocks.
                    unsafe { *dst.get().add(o * inner + i0 + i) = red.finish(a, r) }
                }
            } else {
                for (i, &a) in acc.iter().enumerate() {
                    // SAFETY: inside part's [outer][seg][inner] layout; disjoint per task.
                    unsafe { *pp.get().add((o * seg + s) * inner + i0 + i) = a }
                }
            }
        }
    });
    if seg > 1 {
        for o in 0..outer {
            for i in 0..inner {
                let a = (0..seg).fold(red.init(), |a, s| {
                    red.merge(a, part[(o * seg + s) * inner + i])
                });
                // SAFETY: o * inner + i < outer * inner.
                unsafe { *dst.get().add(o * inner + i) = red.finish(a, r) }
            }
        }
    }
}

/// Folds consecutive rows of `inner < NARROW` columns (starting at row `j0`) into `acc`. A
/// column alone would be one dependent chain per row, so several rows are folded side by side
/// in `wide` (whose length is a multiple of `inner`, keeping lane l on column l % inner).
fn fold_narrow<T: Copy, R: Reducer<T>>(
    red: &R,
    rows: &[T],
    inner: usize,
    j0: usize,
    acc: &mut [R::A],
    wide: &mut Vec<R::A>,
) {
    let k = (4 * LANES).div_ceil(inner);
    wide.clear();
    wide.resize(k * inner, red.init());
    let mut chunks = rows.chunks_exact(k * inner);
    let mut j = j0;
    for c in &mut chunks {
        for (q, (a, &x)) in wide.iter_mut().zip(c).enumerate() {
            *a = red.step(*a, x, j + q / inner);
        }
        j += k;
    }
    for (q, &w) in wide.iter().enumerate() {
        acc[q % inner] = red.merge(acc[q % inner], w);
    }
    for (q, &x) in chunks.remainder().iter().enumerate() {
        acc[q % inner] = red.step(acc[q % inner], x, j + q / inner);
    }
}

/// Shortest last-axis run that `reduce_runs` folds where it lies: below it, gathering the
/// reduced elements together first (`permute_copy`) costs less than a fold per run.
pub const RUN_MIN: usize = 64;

/// `dst[k] = fold` of the elements of row-major `src` (shape `dims`) whose kept coordinates
/// are the k-th in row-major order, where `reduced[g]` says whether axis g is folded and the
/// last axis is. Each contiguous run of the last axis is folded in place and the runs'
/// partials merged, instead of first copying the reduced elements together (mean over
/// (0, 2, 3) of NCHW spent most of its time in that copy).
pub fn reduce_runs<T: Copy + Send + Sync, R: Reducer<T>>(
    red: &R,
    src: &[T],
    dst: Ptr<T>,
    dims: &[usize],
    reduced: &[bool],
) {
    let nd = dims.len();
    let run = dims[nd - 1];
    let mut strides = vec![1usize; nd];
    for g in (0..nd - 1).rev() {
        strides[g] = strides[g + 1] * dims[g + 1];
    }
    // Offsets of every kept (or reduced) coordinate, row-major over those axes.
    let offsets = |folded: bool| {
        let mut offs = vec![0usize];
        for g in (0..nd - 1).filter(|&g| reduced[g] == folded) {
            let (d, st) = (dims[g], strides[g]);
            offs = offs
                .iter()
                .flat_map(|&o| (0..d).map(move |i| o + i * st))
                .collect();
        }
        offs
    };
    let (kept, runs) = (offsets(false), offsets(true));
    if kept.is_empty() || src.is_empty() {
        return;
    }
    let seg = segments(kept.len(), runs.len(), runs.len() * run);
    let len = runs.len().div_ceil(seg);
    let mut part = vec![red.init(); kept.len() * seg];
    let pp = Ptr(part.as_mut_ptr());
    par_ranges(kept.len() * seg, len * run, |b, e| {
        for t in b..e {
            let (k, s) = (t / seg, t % seg);
            let mine = &runs[(s * len).min(runs.len())..((s + 1) * len).min(runs.len())];
            let a = mine.iter().fold(red.init(), |a, &q| {
                let at = kept[k] + q;
                red.merge(a, red.fold_run(&src[at..at + run], 0))
            });
            // SAFETY: t < kept.len() * seg = part.len(); tasks write disjoint t.
            unsafe { *pp.get().add(t) = a }
        }
    });
    for (k, ps) in part.chunks_exact(seg).enumerate() {
        let a = ps.iter().fold(red.init(), |a, &b| red.merge(a, b));
        // SAFETY: k < kept.len(), the number of outputs dst holds.
        unsafe { *dst.get().add(k) = red.finish(a, runs.len() * run) }
    }
}

/// A copy of row-major `src` of shape `dims` with its axes reordered: output axis k is input
/// axis `perm[k]`.
pub fn permute_copy<T: Copy + Default + Send + Sync>(
    src: &[T],
    dims: &[usize],
    perm: &[usize],
) -> Vec<T> {
    let n = src.len();
    let mut out = vec![T::default(); n];
    if n == 0 || dims.is_empty() {
        out.copy_from_slice(src);
        return out;
    }
    let mut st = vec![1usize; dims.len()];
    for d in (0..dims.len() - 1).rev() {
        st[d] = st[d + 1] * dims[d + 1];
    }
    let odims: Vec<usize> = perm.iter().map(|&p| dims[p]).collect();
    let ost: Vec<usize> = perm.iter().map(|&p| st[p]).collect();
    let last = odims.len() - 1;
    let (m, sm) = (odims[last], ost[last]);
    let po = Ptr(out.as_mut_ptr());
    par_ranges(n / m, m, |b, e| {
        for row in b..e {
            let (mut rem, mut off) = (row, 0);
            for d in (0..last).rev() {
                off += (rem % odims[d]) * ost[d];
                rem /= odims[d];
            }
            for k in 0..m {
                // SAFETY: row * m + k < n; rows are disjoint between tasks.
                unsafe { *po.get().add(row * m + k) = src[off + k * sm] }
            }
        }
    });
    out
}
