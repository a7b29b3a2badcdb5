//! Convolution kernels over 1 to 3 spatial dims (NCW, NCHW, NCDHW): im2col / col2im and the
//! per-sample GEMM plans shared by Convolution (forward, data and weight gradients) and
//! Deconvolution (whose forward is convolution's data gradient). Every geometry is lifted to
//! three spatial dims by prepending unit dims, so one loop nest serves all ranks.
//!
//! Parallel over the batch: each task owns one column buffer and whole output samples, so the
//! GEMMs run single-threaded side by side instead of contending for the pool.

use super::depthwise;
use super::gemm::{matmul, matmul_acc, GemmElem, Mat};
use super::igemm::{igemm, IElem};
use super::qconv;
use super::{par_ranges, Ptr};
use half::f16;
use std::ops::{Add, AddAssign, Mul};
use std::sync::Mutex;

/// Float element types with the arithmetic the convolution kernels need.
pub trait Real: GemmElem + Add<Output = Self> + AddAssign + Mul<Output = Self> {
    const ZERO: Self;
    /// Whether sums in this type are accurate enough for the direct kernels
    /// ([`depthwise`]); half precision goes through the GEMM, which accumulates in f32.
    const DIRECT: bool;
}
impl Real for f32 {
    const ZERO: Self = 0.0;
    const DIRECT: bool = true;
}
impl Real for f64 {
    const ZERO: Self = 0.0;
    const DIRECT: bool = true;
}
impl Real for f16 {
    const ZERO: Self = f16::ZERO;
    const DIRECT: bool = false;
}
impl Real for half::bf16 {
    const ZERO: Self = half::bf16::ZERO;
    const DIRECT: bool = false;
}

/// One convolution as Convolution sees it: `c` input channels to `f` output channels in
/// `groups` groups; spatial arrays are (depth, height, width), unit where the rank is lower.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Geom {
    pub n: usize,
    pub c: usize,
    pub f: usize,
    pub groups: usize,
    pub input: [usize; 3],
    pub output: [usize; 3],
    pub kernel: [usize; 3],
    pub stride: [usize; 3],
    pub dilate: [usize; 3],
    pub pad: [usize; 3],
}

impl Geom {
    pub fn in_len(&self) -> usize {
        self.input.iter().product()
    }
    pub fn out_len(&self) -> usize {
        self.output.iter().product()
    }
    pub fn k_len(&self) -> usize {
        self.kernel.iter().product()
    }
    /// Rows of one group's column matrix (its input channels times the kernel volume).
    fn gk(&self) -> usize {
        self.c / self.groups * self.k_len()
    }
    fn fg(&self) -> usize {
        self.f / self.groups
    }
    /// 1x1 kernels with unit stride and no padding: the input already is the column matrix.
    fn pointwise(&self) -> bool {
        self.kernel == [1; 3] && self.stride == [1; 3] && self.pad == [0; 3]
    }
    fn weight_len(&self) -> usize {
        self.f * self.gk()
    }
    /// Multiply-adds of one sample (how much work a batch item is).
    fn work(&self) -> usize {
        self.f
            .saturating_mul(self.gk())
            .saturating_mul(self.out_len())
            .max(1)
    }
}

/// Output positions `x` in `[lo, hi)` read an input index `x*s + off - p` inside `[0, len)`.
fn valid_range(out: usize, len: usize, s: usize, p: usize, off: usize) -> (usize, usize) {
    let lo = if off >= p { 0 } else { (p - off).div_ceil(s) };
    let hi = if len + p <= off {
        0
    } else {
        out.min((len + p - off - 1) / s + 1)
    };
    (lo.min(hi), hi)
}

/// Visits every row of output columns of the column matrix: `f(dst, src, lo, hi)` where the
/// row starts at `dst` and its columns `lo + k` (k < hi - lo) read source index
/// `src + k*stride_w`; `src` is None when the whole row reads padding.
#[inline(always)]
fn for_each_row(g: &Geom, mut f: impl FnMut(usize, Option<usize>, usize, usize)) {
    let [id, ih, iw] = g.input;
    let [od, oh, ow] = g.output;
    let [kd, kh, kw] = g.kernel;
    let [sd, sh, sw] = g.stride;
    let [dd, dh, dw] = g.dilate;
    let [pd, ph, pw] = g.pad;
    let in_len = g.in_len();
    let out_len = g.out_len();
    for ch in 0..g.c {
        for a in 0..kd {
            for b in 0..kh {
                for c in 0..kw {
                    let row = ((ch * kd + a) * kh + b) * kw + c;
                    let (xlo, xhi) = valid_range(ow, iw, sw, pw, c * dw);
                    for z in 0..od {
                        let zi = (z * sd + a * dd) as isize - pd as isize;
                        for y in 0..oh {
                            let yi = (y * sh + b * dh) as isize - ph as isize;
                            let dst = row * out_len + (z * oh + y) * ow;
                            if zi < 0
                                || zi >= id as isize
                                || yi < 0
                                || yi >= ih as isize
                                || xlo >= xhi
                            {
                                f(dst, None, 0, 0);
                                continue;
                            }
                            // Source index of output column x is base + x*sw.
                            let base = ch * in_len
                                + (zi as usize * ih + yi as usize) * iw
                                + (xlo * sw + c * dw)
                                - pw;
                            f(dst, Some(base), xlo, xhi);
                        }
                    }
                }
            }
        }
    }
}

/// Unfolds one sample `src` (c × input) into `col` ((c·kernel) × output), zeros where the
/// window reads padding. Any plain element type: the quantized convolution unfolds int8 and
/// uint8 data, whose zero level is `Default`.
pub fn im2col<T: Copy + Default>(g: &Geom, src: &[T], col: &mut [T]) {
    let sw = g.stride[2];
    let ow = g.output[2];
    if dense_2d(g) {
        return im2col_dense_2d(g, src, col);
    }
    for_each_row(g, |dst, base, lo, hi| {
        let row = &mut col[dst..dst + ow];
        match base {
            None => row.fill(T::default()),
            Some(base) => {
                // Most rows read no padding; an empty fill would still be a memset call.
                if lo > 0 {
                    row[..lo].fill(T::default());
                }
                if hi < ow {
                    row[hi..].fill(T::default());
                }
                if sw == 1 {
                    copy_run(&mut row[lo..hi], &src[base..base + (hi - lo)]);
                } else {
                    for (k, v) in row[lo..hi].iter_mut().enumerate() {
                        *v = src[base + k * sw];
                    }
                }
            }
        }
    });
}

/// `dst = src` for one row of a column matrix. Rows of small feature maps are a few floats
/// long, and a `memcpy` call per row cost more than the copy (13 % of LeNet's second
/// convolution): runs of up to 128 bytes are copied inline, as two or four moves that may
/// overlap.
#[inline(always)]
fn copy_run<T: Copy>(dst: &mut [T], src: &[T]) {
    let src = &src[..dst.len()];
    let bytes = std::mem::size_of_val(src);
    if bytes > 128 {
        dst.copy_from_slice(src);
        return;
    }
    // SAFETY: both runs hold `bytes` bytes, and `dst` is borrowed mutably so the two do not
    // overlap; every move below reads and writes inside them.
    unsafe { copy_short(dst.as_mut_ptr().cast(), src.as_ptr().cast(), bytes) }
}

/// Copies `n <= 128` bytes with fixed-size moves and no loop (a loop of moves would be
/// recognised as a `memcpy` call again): the first and the last `w` bytes for the widest `w`
/// that fits, so the two halves overlap instead of leaving a tail.
///
/// # Safety
/// `s` and `d` are valid for `n` bytes and do not overlap.
#[inline(always)]
unsafe fn copy_short(d: *mut u8, s: *const u8, n: usize) {
    #[inline(always)]
    unsafe fn mv<const W: usize>(d: *mut u8, s: *const u8, at: usize) {
        std::ptr::write_unaligned(
            d.add(at).cast::<[u8; W]>(),
            std::ptr::read_unaligned(s.add(at).cast::<[u8; W]>()),
        );
    }
    /// The first and the last `W` bytes of `n` (`W <= n <= 2W`): all of them.
    #[inline(always)]
    unsafe fn ends<const W: usize>(d: *mut u8, s: *const u8, n: usize) {
        mv::<W>(d, s, 0);
        mv::<W>(d, s, n - W);
    }
    match n {
        65.. => {
            ends::<32>(d, s, 64);
            ends::<32>(d.add(n - 64), s.add(n - 64), 64);
        }
        33..=64 => ends::<32>(d, s, n),
        16..=32 => ends::<16>(d, s, n),
        8..=15 => ends::<8>(d, s, n),
        4..=7 => ends::<4>(d, s, n),
        2..=3 => ends::<2>(d, s, n),
        1 => mv::<1>(d, s, 0),
        _ => {}
    }
}

/// `dst += src` for one row, eight elements at a time: rows of small feature maps are short,
/// and the general walk's bookkeeping per row cost more than the adds.
#[inline(always)]
fn add_run<T: Real>(dst: &mut [T], src: &[T]) {
    let src = &src[..dst.len()];
    let mut d = dst.chunks_exact_mut(8);
    let mut s = src.chunks_exact(8);
    for (a, b) in (&mut d).zip(&mut s) {
        for k in 0..8 {
            a[k] += b[k];
        }
    }
    for (a, &b) in d.into_remainder().iter_mut().zip(s.remainder()) {
        *a += b;
    }
}

/// A 2-D window of unit stride and dilation without padding (LeNet's convolutions): every
/// row of the column matrix is a plain copy of input rows.
fn dense_2d(g: &Geom) -> bool {
    g.input[0] == 1
        && g.kernel[0] == 1
        && g.stride == [1; 3]
        && g.dilate == [1; 3]
        && g.pad == [0; 3]
}

/// `im2col` for `dense_2d` geometries, in plain loops: small feature maps have rows of a few
/// floats, and the general walk's per-row bookkeeping cost more than the copies.
fn im2col_dense_2d<T: Copy + Default>(g: &Geom, src: &[T], col: &mut [T]) {
    let ([_, ih, iw], [_, oh, ow], [_, kh, kw]) = (g.input, g.output, g.kernel);
    let out_len = oh * ow;
    let mut rows = col.chunks_exact_mut(out_len.max(1));
    for plane in src.chunks_exact((ih * iw).max(1)).take(g.c) {
        for b in 0..kh {
            for c in 0..kw {
                let Some(dst) = rows.next() else { return };
                for (y, d) in dst.chunks_exact_mut(ow.max(1)).take(oh).enumerate() {
                    copy_run(d, &plane[(y + b) * iw + c..][..ow]);
                }
            }
        }
    }
}

/// The adjoint of `im2col`: adds every column entry back onto the input position it was read
/// from. `img` must be zeroed (or hold what to add to).
pub fn col2im<T: Real>(g: &Geom, col: &[T], img: &mut [T]) {
    let sw = g.stride[2];
    if dense_2d(g) {
        return col2im_dense_2d(g, col, img);
    }
    for_each_row(g, |dst, base, lo, hi| {
        if let Some(base) = base {
            let row = &col[dst + lo..dst + hi];
            if sw == 1 {
                for (o, &v) in img[base..base + (hi - lo)].iter_mut().zip(row) {
                    *o += v;
                }
            } else {
                for (k, &v) in row.iter().enumerate() {
                    img[base + k * sw] += v;
                }
            }
        }
    });
}

/// `col2im` for `dense_2d` geometries, the mirror of `im2col_dense_2d`.
fn col2im_dense_2d<T: Real>(g: &Geom, col: &[T], img: &mut [T]) {
    let ([_, ih, iw], [_, oh, ow], [_, kh, kw]) = (g.input, g.output, g.kernel);
    let mut rows = col.chunks_exact((oh * ow).max(1));
    for plane in img.chunks_exact_mut((ih * iw).max(1)).take(g.c) {
        for b in 0..kh {
            for c in 0..kw {
                let Some(src) = rows.next() else { return };
                for (y, s) in src.chunks_exact(ow.max(1)).take(oh).enumerate() {
                    add_run(&mut plane[(y + b) * iw + c..][..ow], s);
                }
            }
        }
    }
}

/// Calls `per_sample(i, col)` for every sample i with its column matrix ((c·k_len) ×
/// out_len; x's own sample when pointwise), whole samples per task, one buffer per task.
fn each_column_matrix<X: Copy + Default + Sync>(
    g: &Geom,
    x: &[X],
    per_sample: impl Fn(usize, &[X]) + Sync + Send,
) {
    let (in_len, out_len) = (g.in_len(), g.out_len());
    par_ranges(g.n, g.work(), |b, e| {
        let mut col = if g.pointwise() {
            Vec::new()
        } else {
            vec![X::default(); g.c * g.k_len() * out_len]
        };
        for i in b..e {
            let xs = &x[i * g.c * in_len..(i + 1) * g.c * in_len];
            if g.pointwise() {
                per_sample(i, xs);
            } else {
                im2col(g, xs, &mut col);
                per_sample(i, &col);
            }
        }
    });
}

/// One sample's output `y_g = W_g · col_g (+ bias_g)` for each of `groups` groups: w is
/// (groups·fg) × gk, col (groups·gk) × len, y (groups·fg) × len.
///
/// # Safety
/// `w` and `col` hold those sizes and `y` points at groups·fg·len values only this caller
/// writes.
pub(crate) unsafe fn group_products<T: Real>(
    (groups, fg, gk, len): (usize, usize, usize, usize),
    w: &[T],
    col: &[T],
    bias: Option<&[T]>,
    y: *mut T,
) {
    for gi in 0..groups {
        let out = y.add(gi * fg * len);
        let a = Mat {
            ptr: w.as_ptr().add(gi * fg * gk),
            rs: gk as isize,
            cs: 1,
        };
        let b = Mat {
            ptr: col.as_ptr().add(gi * gk * len),
            rs: len as isize,
            cs: 1,
        };
        match bias {
            Some(bias) => {
                for r in 0..fg {
                    std::slice::from_raw_parts_mut(out.add(r * len), len).fill(bias[gi * fg + r]);
                }
                matmul_acc(fg, len, gk, a, b, out, len);
            }
            None => matmul(fg, len, gk, a, b, out, len),
        }
    }
}

/// `y = conv(x, w) + bias`; x is n×c×input, w is f×(c/groups)×kernel, y is n×f×output.
pub fn forward<T: Real>(g: &Geom, x: &[T], w: &[T], bias: Option<&[T]>, y: &mut [T]) {
    if depthwise::applies::<T>(g) {
        return depthwise::forward(g, x, w, bias, y);
    }
    let dims = (g.groups, g.fg(), g.gk(), g.out_len());
    let y = Ptr(y.as_mut_ptr());
    each_column_matrix(g, x, |i, col| {
        // SAFETY: sample i's output block belongs to this task; w is f × gk and the column
        // matrix (groups·gk) × out_len.
        unsafe { group_products(dims, w, col, bias, y.get().add(i * g.f * g.out_len())) }
    });
}

/// Gradient of `conv` with respect to its input: `dx = col2im(wᵀ · dy)`, dx overwritten.
pub fn backward_data<T: Real>(g: &Geom, dy: &[T], w: &[T], dx: &mut [T]) {
    if depthwise::applies::<T>(g) {
        return depthwise::backward_data(g, dy, w, dx);
    }
    let (in_len, out_len, gk, fg) = (g.in_len(), g.out_len(), g.gk(), g.fg());
    let dxp = Ptr(dx.as_mut_ptr());
    par_ranges(g.n, g.work(), |b, e| {
        let mut col = if g.pointwise() {
            Vec::new()
        } else {
            vec![T::ZERO; g.c * g.k_len() * out_len]
        };
        for i in b..e {
            // SAFETY: sample i of dx belongs to this task.
            let dxs = unsafe {
                std::slice::from_raw_parts_mut(dxp.get().add(i * g.c * in_len), g.c * in_len)
            };
            let cp = if g.pointwise() {
                dxs.as_mut_ptr()
            } else {
                col.as_mut_ptr()
            };
            for gi in 0..g.groups {
                // SAFETY: wᵀ of group gi is (gk × fg) read through strides inside w; dy's
                // block of sample i, group gi is (fg × out_len); the destination rows of the
                // column matrix (or dx itself when pointwise) are this task's.
                unsafe {
                    let a = Mat {
                        ptr: w.as_ptr().add(gi * fg * gk),
                        rs: 1,
                        cs: gk as isize,
                    };
                    let bm = Mat {
                        ptr: dy.as_ptr().add((i * g.f + gi * fg) * out_len),
                        rs: out_len as isize,
                        cs: 1,
                    };
                    matmul(gk, out_len, fg, a, bm, cp.add(gi * gk * out_len), out_len);
                }
            }
            if !g.pointwise() {
                dxs.fill(T::ZERO);
                col2im(g, &col, dxs);
            }
        }
    });
}

/// Gradient of `conv` with respect to its weight: `dw = Σ_samples dy · im2col(x)ᵀ`, dw
/// overwritten. Tasks accumulate privately and add their sums once.
pub fn backward_weight<T: Real>(g: &Geom, dy: &[T], x: &[T], dw: &mut [T]) {
    if depthwise::applies::<T>(g) {
        return depthwise::backward_weight(g, dy, x, dw);
    }
    let (in_len, out_len, gk, fg) = (g.in_len(), g.out_len(), g.gk(), g.fg());
    dw.fill(T::ZERO);
    let total = Mutex::new(dw);
    par_ranges(g.n, g.work(), |b, e| {
        let mut acc = vec![T::ZERO; g.weight_len()];
        let mut col = if g.pointwise() {
            Vec::new()
        } else {
            vec![T::ZERO; g.c * g.k_len() * out_len]
        };
        for i in b..e {
            let xs = &x[i * g.c * in_len..(i + 1) * g.c * in_len];
            let cp = if g.pointwise() {
                xs.as_ptr()
            } else {
                im2col(g, xs, &mut col);
                col.as_ptr()
            };
            for gi in 0..g.groups {
                // SAFETY: dy's (fg × out_len) block and the column matrix's group rows read
                // transposed (out_len × gk) stay inside their buffers; acc is private.
                unsafe {
                    let a = Mat {
                        ptr: dy.as_ptr().add((i * g.f + gi * fg) * out_len),
                        rs: out_len as isize,
                        cs: 1,
                    };
                    let bm = Mat {
                        ptr: cp.add(gi * gk * out_len),
                        rs: 1,
                        cs: out_len as isize,
                    };
                    matmul_acc(
                        fg,
                        gk,
                        out_len,
                        a,
                        bm,
                        acc.as_mut_ptr().add(gi * fg * gk),
                        gk,
                    );
                }
            }
        }
        // A poisoned lock only means another task panicked; its partial sum is lost either
        // way, and the engine reports that panic.
        let mut t = match total.lock() {
            Ok(t) => t,
            Err(p) => p.into_inner(),
        };
        for (o, v) in t.iter_mut().zip(acc) {
            *o += v;
        }
    });
}

/// Bias gradient: `db[f] = Σ_{sample, position} dy`, accumulated in f64.
pub fn bias_grad<T: Real>(n: usize, f: usize, len: usize, dy: &[T], db: &mut [T]) {
    for (ch, o) in db.iter_mut().enumerate().take(f) {
        // Eight partial sums: one running sum is a chain of dependent adds the compiler
        // may not reorder, so it would run at one element per add latency.
        let mut lanes = [0.0f64; 8];
        for i in 0..n {
            let run = &dy[(i * f + ch) * len..][..len];
            let mut it = run.chunks_exact(8);
            for c in &mut it {
                for (l, v) in lanes.iter_mut().zip(c) {
                    *l += v.to_f64();
                }
            }
            for (l, v) in lanes.iter_mut().zip(it.remainder()) {
                *l += v.to_f64();
            }
        }
        *o = T::from_f64(lanes.iter().sum());
    }
}

/// Adds `bias[ch]` to every position of channel ch of an n×f×len array.
pub fn add_bias<T: Real>(n: usize, f: usize, len: usize, bias: &[T], y: &mut [T]) {
    for i in 0..n {
        for (ch, &b) in bias.iter().enumerate().take(f) {
            let base = (i * f + ch) * len;
            for v in &mut y[base..base + len] {
                *v += b;
            }
        }
    }
}

/// The quantized convolution `y = conv(x, w)` in exact int32 arithmetic: x is n×c×input of
/// int8 or uint8 levels, w is f×(c/groups)×kernel int8, y is n×f×output int32.
pub fn forward_int8<X: IElem + Default>(g: &Geom, x: &[X], w: &[i8], y: &mut [i32]) {
    let len = g.f * g.out_len();
    let y = Ptr(y.as_mut_ptr());
    forward_int8_each(g, x, w, |i, acc| {
        // SAFETY: sample i's output block belongs to the task that computed it.
        unsafe { std::slice::from_raw_parts_mut(y.get().add(i * len), len) }.copy_from_slice(acc)
    });
}

/// The quantized convolution one sample at a time: `per_sample(i, y_i)` gets sample i's
/// int32 output (f × output) while it is still in cache, on the task that computed it, so a
/// fused requantize never stores the whole batch's int32 sums. The direct VNNI kernel where
/// it applies, else im2col and the integer GEMM.
pub fn forward_int8_each<X: IElem + Default>(
    g: &Geom,
    x: &[X],
    w: &[i8],
    per_sample: impl Fn(usize, &[i32]) + Sync + Send,
) {
    if qconv::applies(g) {
        return qconv::forward(g, x, w, per_sample);
    }
    forward_int8_im2col(g, x, w, per_sample)
}

/// `forward_int8_each` by im2col and the integer GEMM (any geometry, any CPU).
pub(super) fn forward_int8_im2col<X: IElem + Default>(
    g: &Geom,
    x: &[X],
    w: &[i8],
    per_sample: impl Fn(usize, &[i32]) + Sync + Send,
) {
    let (out_len, gk, fg) = (g.out_len(), g.gk(), g.fg());
    each_column_matrix(g, x, |i, col| {
        let mut y = vec![0i32; g.f * out_len];
        for gi in 0..g.groups {
            // SAFETY: the operands lie inside w (f × gk) and the column matrix
            // ((groups·gk) × out_len); group gi's rows of `y` are fg × out_len.
            unsafe {
                let a = Mat {
                    ptr: w.as_ptr().add(gi * fg * gk),
                    rs: gk as isize,
                    cs: 1,
                };
                let bm = Mat {
                    ptr: col.as_ptr().add(gi * gk * out_len),
                    rs: out_len as isize,
                    cs: 1,
                };
                let out = y.as_mut_ptr().add(gi * fg * out_len);
                igemm(fg, out_len, gk, a, bm, out, out_len);
            }
        }
        per_sample(i, &y);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_range_matches_brute_force() {
        for out in 0..6 {
            for len in 0..6 {
                for s in 1..4 {
                    for p in 0..4 {
                        for off in 0..6 {
                            let ok: Vec<usize> = (0..out)
                                .filter(|&x| {
                                    let i = (x * s + off) as isize - p as isize;
                                    i >= 0 && i < len as isize
                                })
                                .collect();
                            let (lo, hi) = valid_range(out, len, s, p, off);
                            assert_eq!(
                                (lo..hi).collect::<Vec<_>>(),
                                ok,
                                "{out} {len} {s} {p} {off}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn copy_run_copies_every_length() {
        // Every branch of copy_short, and the memcpy beyond it, for 1-, 2- and 4-byte types.
        fn check<T: Copy + PartialEq + std::fmt::Debug>(make: impl Fn(usize) -> T) {
            for n in 0..80 {
                let src: Vec<T> = (0..n + 3).map(&make).collect();
                let mut dst: Vec<T> = (0..n + 2).map(|i| make(1000 + i)).collect();
                let guard = dst[n..].to_vec();
                copy_run(&mut dst[..n], &src[1..]);
                assert_eq!(&dst[..n], &src[1..n + 1], "n={n}");
                assert_eq!(&dst[n..], &guard[..], "n={n} wrote past the run");
            }
        }
        check(|i| i as u8);
        check(|i| half::f16::from_f32(i as f32));
        check(|i| i as f32 * 0.5);
    }

    #[test]
    fn col2im_is_adjoint_of_im2col() {
        // <im2col(x), c> == <x, col2im(c)> for arbitrary x, c: a general 3-D geometry, and
        // dense 2-D ones (their own loops) with rows shorter and longer than copy_short's.
        let general = Geom {
            n: 1,
            c: 2,
            f: 1,
            groups: 1,
            input: [3, 5, 6],
            output: [2, 3, 3],
            kernel: [2, 2, 3],
            stride: [1, 2, 2],
            dilate: [1, 1, 2],
            pad: [0, 1, 2],
        };
        let dense = |w: usize, k: usize| Geom {
            n: 1,
            c: 3,
            f: 1,
            groups: 1,
            input: [1, 6, w],
            output: [1, 6 - k + 1, w - k + 1],
            kernel: [1, k, k],
            stride: [1; 3],
            dilate: [1; 3],
            pad: [0; 3],
        };
        for g in [
            general,
            dense(12, 5),
            dense(7, 3),
            dense(45, 2),
            dense(3, 3),
        ] {
            assert_eq!(g.input[0] == 1 && g.pad == [0; 3], dense_2d(&g));
            let x: Vec<f64> = (0..g.c * g.in_len())
                .map(|i| (i % 7) as f64 - 2.5)
                .collect();
            let c: Vec<f64> = (0..g.c * g.k_len() * g.out_len())
                .map(|i| (i % 11) as f64 * 0.5 - 1.0)
                .collect();
            let mut col = vec![0.0; c.len()];
            im2col(&g, &x, &mut col);
            let mut img = vec![0.0; x.len()];
            col2im(&g, &c, &mut img);
            let lhs: f64 = col.iter().zip(&c).map(|(a, b)| a * b).sum();
            let rhs: f64 = x.iter().zip(&img).map(|(a, b)| a * b).sum();
            assert!((lhs - rhs).abs() < 1e-9, "{g:?}: {lhs} vs {rhs}");
            // And im2col itself against its definition.
            let [_, oh, ow] = g.output;
            if dense_2d(&g) {
                let [_, ih, iw] = g.input;
                let [_, kh, kw] = g.kernel;
                for ch in 0..g.c {
                    for (b, cc, y, xx) in index_grid(kh, kw, oh, ow) {
                        let row = (ch * kh + b) * kw + cc;
                        assert_eq!(
                            col[row * oh * ow + y * ow + xx],
                            x[ch * ih * iw + (y + b) * iw + xx + cc]
                        );
                    }
                }
            }
        }
    }

    fn index_grid(
        a: usize,
        b: usize,
        c: usize,
        d: usize,
    ) -> impl Iterator<Item = (usize, usize, usize, usize)> {
        (0..a).flat_map(move |i| {
            (0..b).flat_map(move |j| (0..c).flat_map(move |k| (0..d).map(move |l| (i, j, k, l))))
        })
    }
}
