//! Elementwise kernels: binary with numpy broadcasting, scalar, and unary maps. All of them
//! tolerate `out` being the very same memory as an input (in-place `a += b`): they read
//! element i before writing element i and only use raw pointers.

use super::stream::{copy_bytes, store_fence, COPY_STREAM_MIN_BYTES};
use super::{par_ranges, widest, Ptr};
use crate::dtype::Element;
use crate::ndarray::NDArray;
use crate::shape::broadcast_strides;
use half::{bf16, f16};

/// Arithmetic with MXNet's semantics per element type (integer `/` truncates, `%` takes the
/// divisor's sign, integer division by zero gives 0 instead of trapping).
pub trait Arith: Element {
    fn add(self, b: Self) -> Self;
    fn sub(self, b: Self) -> Self;
    fn mul(self, b: Self) -> Self;
    fn div(self, b: Self) -> Self;
    fn rem(self, b: Self) -> Self;
    fn pow(self, b: Self) -> Self;
    // `self.partial_cmp(&self).is_none()` is NaN: NaN propagates like MXNet's `a > b ? a : b`
    // when `a` is NaN.
    fn max(self, b: Self) -> Self {
        if self > b || self.partial_cmp(&self).is_none() {
            self
        } else {
            b
        }
    }
    fn min(self, b: Self) -> Self {
        if self < b || self.partial_cmp(&self).is_none() {
            self
        } else {
            b
        }
    }
    fn hypot(self, b: Self) -> Self {
        Self::from_f64(self.to_f64().hypot(b.to_f64()))
    }
    fn truth(self) -> bool {
        self.to_f64() != 0.0
    }
    fn bool_(v: bool) -> Self {
        Self::from_f64(v as u8 as f64)
    }
}

macro_rules! float_arith {
    ($t:ty) => {
        impl Arith for $t {
            #[inline(always)]
            fn add(self, b: Self) -> Self {
                self + b
            }
            #[inline(always)]
            fn sub(self, b: Self) -> Self {
                self - b
            }
            #[inline(always)]
            fn mul(self, b: Self) -> Self {
                self * b
            }
            #[inline(always)]
            fn div(self, b: Self) -> Self {
                self / b
            }
            #[inline(always)]
            fn rem(self, b: Self) -> Self {
                // MXNet's mod gives 0 for a zero divisor, where numpy gives NaN.
                if b == 0.0 {
                    return 0.0;
                }
                let r = self % b;
                if r != 0.0 && ((r < 0.0) != (b < 0.0)) {
                    r + b
                } else {
                    r
                }
            }
            #[inline(always)]
            fn pow(self, b: Self) -> Self {
                self.powf(b)
            }
            #[inline(always)]
            fn hypot(self, b: Self) -> Self {
                <$t>::hypot(self, b)
            }
        }
    };
}
float_arith!(f32);
float_arith!(f64);

// Half-precision types compute in f32 and round once, as mshadow's half_t and bf16_t do.
macro_rules! half_arith {
    ($t:ty) => {
        impl Arith for $t {
            #[inline(always)]
            fn add(self, b: Self) -> Self {
                Element::from_f32(Element::to_f32(self) + Element::to_f32(b))
            }
            #[inline(always)]
            fn sub(self, b: Self) -> Self {
                Element::from_f32(Element::to_f32(self) - Element::to_f32(b))
            }
            #[inline(always)]
            fn mul(self, b: Self) -> Self {
                Element::from_f32(Element::to_f32(self) * Element::to_f32(b))
            }
            #[inline(always)]
            fn div(self, b: Self) -> Self {
                Element::from_f32(Element::to_f32(self) / Element::to_f32(b))
            }
            fn rem(self, b: Self) -> Self {
                Element::from_f32(Arith::rem(Element::to_f32(self), Element::to_f32(b)))
            }
            fn pow(self, b: Self) -> Self {
                Element::from_f32(Element::to_f32(self).powf(Element::to_f32(b)))
            }
        }
    };
}
half_arith!(f16);
half_arith!(bf16);

macro_rules! int_arith {
    ($t:ty, $signed:expr) => {
        impl Arith for $t {
            #[inline(always)]
            fn add(self, b: Self) -> Self {
                self.wrapping_add(b)
            }
            #[inline(always)]
            fn sub(self, b: Self) -> Self {
                self.wrapping_sub(b)
            }
            #[inline(always)]
            fn mul(self, b: Self) -> Self {
                self.wrapping_mul(b)
            }
            #[inline(always)]
            fn div(self, b: Self) -> Self {
                if b == 0 {
                    // MXNet divides integers by a zero in double and casts the infinity
                    // back (`2 / x` with a zero in x; its integer-only path traps instead)
                    Self::from_f64_c(f64::INFINITY)
                } else {
                    self.wrapping_div(b)
                }
            }
            #[inline(always)]
            #[allow(unused_comparisons)]
            fn rem(self, b: Self) -> Self {
                if b == 0 {
                    return 0;
                }
                let r = self.wrapping_rem(b);
                if $signed && r != 0 && ((r < 0) != (b < 0)) {
                    r.wrapping_add(b)
                } else {
                    r
                }
            }
            fn pow(self, b: Self) -> Self {
                // Through double, then wrapped into the type, as MXNet computes it.
                Self::from_f64_c(self.to_f64().powf(b.to_f64()))
            }
        }
    };
}
int_arith!(u8, false);
int_arith!(i8, true);
int_arith!(i32, true);
int_arith!(i64, true);

// The loops below take their pointers, and the element function, as arguments: anything read
// through a pointer (a closure's environment behind `&F`, or a value it captured by
// reference) is reloaded after every store, which might alias it, and that blocks
// vectorisation. Taken by value, the function's captured scalars live in registers and LLVM
// versions the loop with a runtime overlap check of the arrays instead. Hence `F: Copy` and
// `move` closures that capture scalars by value.

/// `o[i] = f(a[i], b[i])` for i < n.
///
/// # Safety
/// The ranges are valid; `o` is either disjoint from `a`/`b` or identical to one of them.
#[inline(always)]
unsafe fn zip2<T: Copy, F: Fn(T, T) -> T>(a: *const T, b: *const T, o: *mut T, n: usize, f: F) {
    // In place, the overlap check fails and LLVM would run its scalar loop; reading and
    // writing through one pointer tells it the accesses at i are the only ones that meet.
    match (a == o.cast_const(), b == o.cast_const()) {
        (true, true) => {
            for i in 0..n {
                let p = o.add(i);
                *p = f(*p, *p);
            }
        }
        (true, false) => {
            for i in 0..n {
                let p = o.add(i);
                *p = f(*p, *b.add(i));
            }
        }
        (false, true) => {
            for i in 0..n {
                let p = o.add(i);
                *p = f(*a.add(i), *p);
            }
        }
        (false, false) => {
            for i in 0..n {
                *o.add(i) = f(*a.add(i), *b.add(i));
            }
        }
    }
}

/// `o[i] = f(a[i])` for i < n (same safety contract as `zip2`; in place only between types
/// of one size).
#[inline(always)]
unsafe fn map1<T: Copy, U: Copy, F: Fn(T) -> U>(a: *const T, o: *mut U, n: usize, f: F) {
    let same_size = std::mem::size_of::<T>() == std::mem::size_of::<U>();
    if same_size && a.cast::<u8>() == o.cast_const().cast::<u8>() {
        // As in zip2: one pointer for both accesses keeps the in-place loop vectorised.
        for i in 0..n {
            let p = o.add(i);
            *p = f(*p.cast::<T>());
        }
    } else {
        for i in 0..n {
            *o.add(i) = f(*a.add(i));
        }
    }
}

/// Bytes of results computed into an L1-resident tile before they are streamed out.
const TILE_BYTES: usize = 8 << 10;

#[repr(align(64))]
struct Tile {
    _bytes: [u8; TILE_BYTES],
}

/// Whether a same-size map writing `bytes` into a buffer distinct from its inputs streams
/// its stores: an output larger than the caches is otherwise read into them line by line
/// before being overwritten, a quarter of an add's memory traffic.
fn streams(bytes: usize, out: *const u8, ins: &[*const u8]) -> bool {
    bytes >= COPY_STREAM_MIN_BYTES && !ins.contains(&out)
}

/// Elements `0..n` of `o`, computed tile by tile by `fill(tile, first, len)` into a buffer
/// that stays in L1 and streamed from there (non-temporal stores, then a fence).
///
/// # Safety
/// `o` is valid for `n` elements; `fill` writes `len` elements at `tile`.
#[inline(always)]
unsafe fn streamed<U: Copy>(o: *mut U, n: usize, fill: impl Fn(*mut U, usize, usize)) {
    let per = (TILE_BYTES / std::mem::size_of::<U>()).max(1);
    let mut tile = std::mem::MaybeUninit::<Tile>::uninit();
    let t = tile.as_mut_ptr().cast::<U>();
    let mut i = 0;
    while i < n {
        let len = per.min(n - i);
        fill(t, i, len);
        copy_bytes(
            t.cast::<u8>(),
            o.add(i).cast::<u8>(),
            len * std::mem::size_of::<U>(),
            true,
        );
        i += len;
    }
    store_fence();
}

/// `o[i] = f(a[i])` for `i < n` over `par_ranges`, streamed when `stream`; with `WIDE`, the
/// loop runs in its widest vector build the CPU has.
///
/// # Safety
/// As `map1`; with `stream`, `o` is disjoint from `a`.
unsafe fn par_map1<T: Copy, U: Copy, const WIDE: bool>(
    a: Ptr<T>,
    o: Ptr<U>,
    n: usize,
    stream: bool,
    f: impl Fn(T) -> U + Sync + Send + Copy,
) {
    par_ranges(n, 1, |s, e| {
        // SAFETY: s..e < n for both; the tile holds `len` elements.
        unsafe {
            let (a, o) = (a.get().add(s), o.get().add(s));
            if stream {
                streamed(o, e - s, |t, i, len| {
                    map1_in::<_, _, _, WIDE>(a.add(i), t, len, f)
                });
            } else {
                map1_in::<_, _, _, WIDE>(a, o, e - s, f)
            }
        }
    });
}

/// `map1`, through its widest vector build when `WIDE`.
#[inline(always)]
unsafe fn map1_in<T: Copy, U: Copy, F: Fn(T) -> U, const WIDE: bool>(
    a: *const T,
    o: *mut U,
    n: usize,
    f: F,
) {
    if WIDE {
        widest(
            #[inline(always)]
            move || map1(a, o, n, f),
        )
    } else {
        map1(a, o, n, f)
    }
}

/// `o[i] = f(a[i])` over the common length of two slices, on this thread, through the widest
/// vector build the CPU has (for per-row passes of fused kernels).
pub fn map_slice<T: Copy, U: Copy>(a: &[T], o: &mut [U], f: impl Fn(T) -> U) {
    let n = a.len().min(o.len());
    // SAFETY: both hold n elements and, one borrowed shared and one exclusive, are distinct.
    unsafe { map1_in::<_, _, _, true>(a.as_ptr(), o.as_mut_ptr(), n, f) }
}

/// `o[k] = f(start + k)` on this thread, through the AVX2 build where the CPU has it. Not
/// through `widest`: from inside a closure the loop lost `o`'s no-alias guarantee, reloaded
/// `f`'s captures per element and ran scalar (quantize 3-6x slower).
pub fn fill_indexed<U: Copy>(o: &mut [U], start: usize, f: impl Fn(usize) -> U) {
    #[inline(always)]
    fn fill<U, F: Fn(usize) -> U>(o: &mut [U], start: usize, f: F) {
        for (k, v) in o.iter_mut().enumerate() {
            *v = f(start + k);
        }
    }
    /// # Safety
    /// The CPU has AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn fill_avx2<U, F: Fn(usize) -> U>(o: &mut [U], start: usize, f: F) {
        fill(o, start, f)
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: just checked.
        return unsafe { fill_avx2(o, start, f) };
    }
    fill(o, start, f)
}

/// `out = f(a, b)` with numpy broadcasting of `a` and `b` to `out`'s shape.
/// Must run inside an engine op reading a, b and writing out.
pub fn binary<T: Element>(
    a: &NDArray,
    b: &NDArray,
    out: &NDArray,
    f: impl Fn(T, T) -> T + Sync + Send + Copy,
) {
    binary_in::<T, false>(a, b, out, f)
}

/// `binary` for functions that compute far more than they move (gradients through exp or
/// erf): operands of one shape, or one a scalar, go through the widest vector build.
pub fn binary_wide<T: Element>(
    a: &NDArray,
    b: &NDArray,
    out: &NDArray,
    f: impl Fn(T, T) -> T + Sync + Send + Copy,
) {
    binary_in::<T, true>(a, b, out, f)
}

/// `zip2`, through its widest vector build when `WIDE`.
#[inline(always)]
unsafe fn zip2_in<T: Copy, F: Fn(T, T) -> T, const WIDE: bool>(
    a: *const T,
    b: *const T,
    o: *mut T,
    n: usize,
    f: F,
) {
    if WIDE {
        widest(
            #[inline(always)]
            move || zip2(a, b, o, n, f),
        )
    } else {
        zip2(a, b, o, n, f)
    }
}

fn binary_in<T: Element, const WIDE: bool>(
    a: &NDArray,
    b: &NDArray,
    out: &NDArray,
    f: impl Fn(T, T) -> T + Sync + Send + Copy,
) {
    let n = out.size();
    if n == 0 {
        return;
    }
    // SAFETY: called from the op that holds these arrays' variables.
    let (pa, pb, po) = unsafe {
        (
            Ptr(a.raw() as *mut T),
            Ptr(b.raw() as *mut T),
            Ptr(out.raw() as *mut T),
        )
    };
    let (ra, rb, ro) = (pa.0 as *const u8, pb.0 as *const u8, po.0 as *const u8);
    let stream = streams(n * std::mem::size_of::<T>(), ro, &[ra, rb]);
    if a.shape() == out.shape() && b.shape() == out.shape() {
        par_ranges(n, 1, |s, e| {
            // SAFETY: s..e < n for all three arrays; the tile holds `len` elements.
            unsafe {
                let (a, b, o) = (pa.get().add(s), pb.get().add(s), po.get().add(s));
                if stream {
                    streamed(o, e - s, |t, i, len| {
                        zip2_in::<_, _, WIDE>(a.add(i), b.add(i), t, len, f)
                    });
                } else {
                    zip2_in::<_, _, WIDE>(a, b, o, e - s, f)
                }
            }
        });
        return;
    }
    if b.size() == 1 && a.shape() == out.shape() {
        // SAFETY: b has one element; a and out hold n.
        unsafe {
            let bv = *pb.get();
            par_map1::<_, _, WIDE>(pa, po, n, stream, move |x| f(x, bv));
        }
        return;
    }
    if a.size() == 1 && b.shape() == out.shape() {
        // SAFETY: a has one element; b and out hold n.
        unsafe {
            let av = *pa.get();
            par_map1::<_, _, WIDE>(pb, po, n, stream, move |y| f(av, y));
        }
        return;
    }
    broadcast_rows(a, b, out, |row| {
        // SAFETY: offsets stay inside each operand by construction of broadcast strides.
        unsafe {
            let (xa, xb, xo) = (
                pa.get().add(row.a),
                pb.get().add(row.b),
                po.get().add(row.out),
            );
            let (ia, ib) = (row.step_a, row.step_b);
            let inner = row.len;
            match (ia, ib) {
                (1, 1) => (0..inner).for_each(|j| *xo.add(j) = f(*xa.add(j), *xb.add(j))),
                (1, 0) => {
                    let v = *xb;
                    (0..inner).for_each(|j| *xo.add(j) = f(*xa.add(j), v))
                }
                (0, 1) => {
                    let v = *xa;
                    (0..inner).for_each(|j| *xo.add(j) = f(v, *xb.add(j)))
                }
                _ => (0..inner).for_each(|j| *xo.add(j) = f(*xa.add(j * ia), *xb.add(j * ib))),
            }
        }
    });
}

/// One innermost row of a broadcast binary op: where it starts in each operand (elements)
/// and `a`'s and `b`'s steps along it (0 where that operand is broadcast).
#[derive(Clone, Copy)]
pub(super) struct Row {
    pub a: usize,
    pub b: usize,
    pub out: usize,
    pub step_a: usize,
    pub step_b: usize,
    pub len: usize,
}

/// Calls `f` for every innermost row of `out`, the rows split over the pool.
pub(super) fn broadcast_rows(a: &NDArray, b: &NDArray, out: &NDArray, f: impl Fn(Row) + Sync) {
    let oshape = out.shape();
    let nd = oshape.ndim();
    if nd == 0 {
        let len = out.size();
        return f(Row {
            a: 0,
            b: 0,
            out: 0,
            step_a: 0,
            step_b: 0,
            len,
        });
    }
    let sa = broadcast_strides(a.shape(), oshape);
    let sb = broadcast_strides(b.shape(), oshape);
    let inner = oshape[nd - 1];
    if inner == 0 {
        return;
    }
    let dims = oshape.dims();
    par_ranges(out.size() / inner, inner, |rs, re| {
        for r in rs..re {
            let (mut oa, mut ob, mut rem) = (0usize, 0usize, r);
            for d in (0..nd - 1).rev() {
                let i = rem % dims[d];
                rem /= dims[d];
                oa += i * sa[d];
                ob += i * sb[d];
            }
            f(Row {
                a: oa,
                b: ob,
                out: r * inner,
                step_a: sa[nd - 1],
                step_b: sb[nd - 1],
                len: inner,
            });
        }
    });
}

/// `out = f(a)` elementwise (same size). Must run inside the op holding both variables.
pub fn unary<T: Element, U: Element>(
    a: &NDArray,
    out: &NDArray,
    f: impl Fn(T) -> U + Sync + Send + Copy,
) {
    unary_in::<T, U, false>(a, out, f)
}

/// `unary` for maps that compute far more than they move (exp, tanh, sigmoid): their loop
/// also has AVX2 and AVX-512 builds, picked at run time.
pub fn unary_wide<T: Element, U: Element>(
    a: &NDArray,
    out: &NDArray,
    f: impl Fn(T) -> U + Sync + Send + Copy,
) {
    unary_in::<T, U, true>(a, out, f)
}

fn unary_in<T: Element, U: Element, const WIDE: bool>(
    a: &NDArray,
    out: &NDArray,
    f: impl Fn(T) -> U + Sync + Send + Copy,
) {
    let n = out.size();
    // SAFETY: called from the op that holds both arrays' variables.
    let (pa, po) = unsafe { (Ptr(a.raw() as *mut T), Ptr(out.raw() as *mut U)) };
    let stream = streams(
        n * std::mem::size_of::<U>(),
        po.0 as *const u8,
        &[pa.0 as *const u8],
    );
    // SAFETY: both hold n elements; streamed only when out is not a.
    unsafe { par_map1::<T, U, WIDE>(pa, po, n, stream, f) }
}

/// `unary_wide` for a fast function that holds only on part of the domain: tiles with an
/// element where `far` holds go element by element, those elements through `exact`. The
/// test is a vectorised pass over a tile about to be read anyway.
pub fn unary_wide_patched<T: Element, U: Element>(
    a: &NDArray,
    out: &NDArray,
    fast: impl Fn(T) -> U + Sync + Send + Copy,
    far: impl Fn(T) -> bool + Sync + Send + Copy,
    exact: impl Fn(T) -> U + Sync + Send + Copy,
) {
    let n = out.size();
    // SAFETY: called from the op that holds both arrays' variables.
    let (pa, po) = unsafe { (Ptr(a.raw() as *mut T), Ptr(out.raw() as *mut U)) };
    let per = (TILE_BYTES / std::mem::size_of::<U>()).max(1);
    par_ranges(n, 1, |s, e| {
        let mut i = s;
        while i < e {
            let len = per.min(e - i);
            // SAFETY: i..i + len < n for both; element k is read before it is written, so
            // out may be a.
            unsafe {
                let (src, dst) = (pa.get().add(i), po.get().add(i));
                let tile = std::slice::from_raw_parts(src.cast_const(), len);
                if tile.iter().fold(false, |h, &x| h | far(x)) {
                    for k in 0..len {
                        let x = *src.add(k);
                        *dst.add(k) = if far(x) { exact(x) } else { fast(x) };
                    }
                } else {
                    map1_in::<_, _, _, true>(src, dst, len, fast);
                }
            }
            i += len;
        }
    });
}

/// Fills `out` with `v`.
pub fn fill<T: Element>(out: &NDArray, v: T) {
    // SAFETY: called from the op writing out.
    let po = unsafe { Ptr(out.raw() as *mut T) };
    par_ranges(out.size(), 1, |s, e| {
        // SAFETY: s..e < size.
        unsafe { std::slice::from_raw_parts_mut(po.get().add(s), e - s).fill(v) }
    });
}

#[cfg(test)]
mod tests {
    use crate::kernels::cpu::norm::{exp_f32, tanh_f32};
    use crate::kernels::cpu::Simd;

    /// The AVX2 and AVX-512 builds of a map must round exactly like the baseline one, or
    /// results would depend on the machine.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn wide_maps_are_bit_identical_to_baseline() {
        use crate::kernels::cpu::norm::{erf_f32, ln_1p_f32, ln_f32};
        use crate::kernels::cpu::trig::{cos_f32, sin_f32, tan_f32};
        if !std::arch::is_x86_feature_detected!("avx2") {
            eprintln!("skipped: this CPU has no AVX2 build to compare");
            return;
        }
        let builds: Vec<Simd> = [Simd::Avx2, Simd::Avx512]
            .into_iter()
            .filter(|&b| b == Simd::Avx2 || Simd::best() == Simd::Avx512)
            .collect();
        if builds.len() < 2 {
            eprintln!("AVX-512 build not compared: this CPU lacks it");
        }
        let x: Vec<f32> = (0..100_003)
            .map(|i| (i as f32 - 50_000.0) * 2.1e-3)
            .chain([f32::NAN, f32::INFINITY, -0.0, 1e-30, 88.5, -103.0])
            .collect();
        // Generic, not through fn pointers: each build must inline (and vectorise) `f`.
        fn compare(x: &[f32], builds: &[Simd], name: &str, f: impl Fn(f32) -> f32 + Copy) {
            let n = x.len();
            let mut base = vec![0f32; n];
            // SAFETY: both buffers hold n elements.
            unsafe { super::map1(x.as_ptr(), base.as_mut_ptr(), n, f) };
            for &b in builds {
                let mut wide = vec![0f32; n];
                // SAFETY: as above; the CPU has build b.
                unsafe {
                    b.run(
                        #[inline(always)]
                        || super::map1(x.as_ptr(), wide.as_mut_ptr(), n, f),
                    )
                };
                for (i, (u, w)) in base.iter().zip(&wide).enumerate() {
                    assert_eq!(
                        u.to_bits(),
                        w.to_bits(),
                        "{name}({}): {b:?} build differs",
                        x[i]
                    );
                }
            }
        }
        compare(&x, &builds, "exp", exp_f32);
        compare(&x, &builds, "tanh", tanh_f32);
        compare(&x, &builds, "sigmoid", |v| 1.0 / (1.0 + exp_f32(-v)));
        compare(&x, &builds, "ln", ln_f32);
        compare(&x, &builds, "ln_1p", ln_1p_f32);
        compare(&x, &builds, "erf", erf_f32);
        compare(&x, &builds, "sin", sin_f32);
        compare(&x, &builds, "cos", cos_f32);
        compare(&x, &builds, "tan", tan_f32);
        // A two-operand map (softrelu's gradient) through zip2's builds.
        let g: Vec<f32> = x.iter().rev().copied().collect();
        let n = x.len();
        let grad = |g: f32, y: f32| g * (1.0 - exp_f32(-y));
        let mut base = vec![0f32; n];
        // SAFETY: all buffers hold n elements; the CPU has each build run.
        unsafe { super::zip2(g.as_ptr(), x.as_ptr(), base.as_mut_ptr(), n, grad) };
        for &b in &builds {
            let mut wide = vec![0f32; n];
            // SAFETY: as above.
            unsafe {
                b.run(
                    #[inline(always)]
                    || super::zip2(g.as_ptr(), x.as_ptr(), wide.as_mut_ptr(), n, grad),
                )
            };
            for (i, (u, w)) in base.iter().zip(&wide).enumerate() {
                assert_eq!(u.to_bits(), w.to_bits(), "grad at {i}: {b:?} build differs");
            }
        }
    }
}
