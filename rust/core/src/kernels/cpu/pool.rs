//! Pooling kernels over 1 to 3 spatial dims (lifted to three by prepending unit dims): max,
//! average, sum and Lp windows with MXNet's window arithmetic, and their gradients. Parallel
//! over (sample, channel) planes, which are independent in both directions.

use super::reduce::{Acc, RedElem};
use super::{par_ranges, Ptr};
use crate::dtype::Element;

/// The reduction a window applies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Max,
    /// Average; `include_pad` divides by the window size clipped to the padded input, else by
    /// the number of input elements the window covers.
    Avg {
        include_pad: bool,
    },
    Sum,
    /// `(Σ x^p)^(1/p)` with integer p (MXNet: 1, 2 or 3).
    Lp(i32),
}

/// Pooling geometry: `planes` independent (sample, channel) planes; spatial arrays are
/// (depth, height, width), unit where the rank is lower.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Geom {
    pub planes: usize,
    pub input: [usize; 3],
    pub output: [usize; 3],
    pub kernel: [usize; 3],
    pub stride: [usize; 3],
    pub pad: [usize; 3],
}

impl Geom {
    pub fn in_len(&self) -> usize {
        self.input.iter().product()
    }
    pub fn out_len(&self) -> usize {
        self.output.iter().product()
    }
}

/// One window: input ranges per dim and the size used by `include_pad` averaging.
struct Win {
    lo: [usize; 3],
    hi: [usize; 3],
    padded: usize,
}

#[inline(always)]
fn window(g: &Geom, o: [usize; 3]) -> Win {
    let mut w = Win {
        lo: [0; 3],
        hi: [0; 3],
        padded: 1,
    };
    for (i, &oi) in o.iter().enumerate() {
        let start = (oi * g.stride[i]) as isize - g.pad[i] as isize;
        let end = (start + g.kernel[i] as isize).min((g.input[i] + g.pad[i]) as isize);
        w.padded *= (end - start).max(0) as usize;
        w.lo[i] = start.max(0) as usize;
        w.hi[i] = (end.max(0) as usize).min(g.input[i]);
        if w.lo[i] > w.hi[i] {
            w.lo[i] = w.hi[i];
        }
    }
    w
}

#[inline(always)]
fn each_in(g: &Geom, w: &Win, mut f: impl FnMut(usize)) {
    let [_, ih, iw] = g.input;
    for z in w.lo[0]..w.hi[0] {
        for y in w.lo[1]..w.hi[1] {
            let row = (z * ih + y) * iw;
            for x in w.lo[2]..w.hi[2] {
                f(row + x);
            }
        }
    }
}

fn count(w: &Win) -> usize {
    (0..3).map(|i| w.hi[i] - w.lo[i]).product()
}

fn each_out(g: &Geom, mut f: impl FnMut(usize, [usize; 3])) {
    let [od, oh, ow] = g.output;
    let mut k = 0;
    for z in 0..od {
        for y in 0..oh {
            for x in 0..ow {
                f(k, [z, y, x]);
                k += 1;
            }
        }
    }
}

fn powi(v: f64, p: i32) -> f64 {
    v.powi(p)
}

fn root(v: f64, p: i32) -> f64 {
    match p {
        1 => v,
        2 => v.sqrt(),
        3 => v.cbrt(),
        _ => v.powf(1.0 / p as f64),
    }
}

/// True for the common case the fast loops handle: no depth, no padding, and every window
/// inside the input (then window bounds are plain multiples of the stride).
fn simple_2d(g: &Geom) -> bool {
    g.input[0] == 1
        && g.kernel[0] == 1
        && g.pad == [0; 3]
        && (0..3).all(|i| {
            g.output[i] == 0 || (g.output[i] - 1) * g.stride[i] + g.kernel[i] <= g.input[i]
        })
}

/// True when the one window is the whole unpadded plane (`global_pool`): sums and averages
/// then take the reductions' vectorised run sum instead of the window walk.
fn whole_plane(g: &Geom) -> bool {
    g.pad == [0; 3] && g.kernel == g.input && g.out_len() == 1 && g.in_len() > 0
}

/// Max/sum/avg over in-bounds 2-D windows of one plane, without per-window bounds arithmetic.
fn forward_2d<T: Element>(g: &Geom, kind: Kind, lowest: T, src: &[T], dst: &mut [T]) {
    let ([_, _, iw], [_, oh, ow]) = (g.input, g.output);
    let ([_, kh, kw], [_, sh, sw]) = (g.kernel, g.stride);
    let area = (kh * kw) as f64;
    if kind == Kind::Max && (kh, kw, sh, sw) == (2, 2, 2, 2) {
        return max_2x2(iw, oh, ow, lowest, src, dst);
    }
    for oy in 0..oh {
        let out = &mut dst[oy * ow..(oy + 1) * ow];
        for (ox, o) in out.iter_mut().enumerate() {
            let base = oy * sh * iw + ox * sw;
            *o = if kind == Kind::Max {
                let mut m = lowest;
                for ky in 0..kh {
                    for &v in &src[base + ky * iw..base + ky * iw + kw] {
                        if v > m {
                            m = v;
                        }
                    }
                }
                m
            } else {
                let mut acc = 0.0;
                for ky in 0..kh {
                    for &v in &src[base + ky * iw..base + ky * iw + kw] {
                        acc += v.to_f64();
                    }
                }
                T::from_f64(if kind == Kind::Sum { acc } else { acc / area })
            };
        }
    }
}

/// The common 2×2, stride-2 max window (LeNet, VGG): a pair of input rows per output row,
/// no inner loops or per-element bounds checks.
fn max_2x2<T: Element>(iw: usize, oh: usize, ow: usize, lowest: T, src: &[T], dst: &mut [T]) {
    for (oy, out) in dst.chunks_exact_mut(ow.max(1)).take(oh).enumerate() {
        let r0 = &src[2 * oy * iw..][..2 * ow];
        let r1 = &src[(2 * oy + 1) * iw..][..2 * ow];
        for ((o, a), b) in out
            .iter_mut()
            .zip(r0.chunks_exact(2))
            .zip(r1.chunks_exact(2))
        {
            let mut m = lowest;
            for v in [a[0], a[1], b[0], b[1]] {
                if v > m {
                    m = v;
                }
            }
            *o = m;
        }
    }
}

/// `y = pool(x)` over every plane; x is planes × input, y planes × output.
pub fn forward<T: RedElem>(g: &Geom, kind: Kind, lowest: T, x: &[T], y: &mut [T]) {
    let (il, ol) = (g.in_len(), g.out_len());
    let kl: usize = g.kernel.iter().product();
    let yp = Ptr(y.as_mut_ptr());
    let fast = simple_2d(g) && !matches!(kind, Kind::Lp(_));
    let summed = whole_plane(g) && matches!(kind, Kind::Sum | Kind::Avg { .. });
    par_ranges(g.planes, ol * kl, |b, e| {
        for pl in b..e {
            let src = &x[pl * il..(pl + 1) * il];
            // SAFETY: plane pl of y belongs to this task.
            let dst = unsafe { std::slice::from_raw_parts_mut(yp.get().add(pl * ol), ol) };
            if summed {
                let s = T::sum_run(src);
                dst[0] = T::lower(if kind == Kind::Sum {
                    s
                } else {
                    s.div_count(il)
                });
                continue;
            }
            if fast {
                forward_2d(g, kind, lowest, src, dst);
                continue;
            }
            each_out(g, |k, o| {
                let w = window(g, o);
                dst[k] = match kind {
                    Kind::Max => {
                        let mut m = lowest;
                        each_in(g, &w, |i| {
                            if src[i] > m {
                                m = src[i];
                            }
                        });
                        m
                    }
                    Kind::Sum | Kind::Avg { .. } => {
                        let mut s = 0.0;
                        each_in(g, &w, |i| s += src[i].to_f64());
                        let div = match kind {
                            Kind::Avg { include_pad: true } => w.padded,
                            Kind::Avg { include_pad: false } => count(&w),
                            _ => 1,
                        };
                        T::from_f64(if div == 0 { 0.0 } else { s / div as f64 })
                    }
                    Kind::Lp(p) => {
                        let mut s = 0.0;
                        each_in(g, &w, |i| s += powi(src[i].to_f64(), p));
                        T::from_f64(root(s, p))
                    }
                };
            });
        }
    });
}

/// `max_backward_2d` for 2×2, stride-2 windows, into a zeroed `dx`: one store per window.
/// Which element is the first maximum is data-dependent, so it is found with comparisons
/// turned into indices rather than branches, which would mispredict about half the time.
/// Ties go to the earlier element as in the general loop, and a NaN never beats what
/// precedes it (a NaN first in the lower pair stands aside).
fn max_backward_2x2<T: Element>(
    iw: usize,
    oh: usize,
    ow: usize,
    src: &[T],
    dy: &[T],
    dx: &mut [T],
) {
    for oy in 0..oh {
        let r0 = &src[2 * oy * iw..][..2 * ow];
        let r1 = &src[(2 * oy + 1) * iw..][..2 * ow];
        let windows = r0.chunks_exact(2).zip(r1.chunks_exact(2));
        for (ox, (&g, (a, b))) in dy[oy * ow..][..ow].iter().zip(windows).enumerate() {
            let ra = usize::from(a[1] > a[0]);
            #[allow(clippy::eq_op)] // b[0] != b[0]: NaN, for any element type
            let rb = usize::from((b[1] > b[0]) | (b[0] != b[0]));
            let lower = usize::from(b[rb] > a[ra]);
            let col = if lower == 1 { rb } else { ra };
            dx[(2 * oy + lower) * iw + 2 * ox + col] = g;
        }
    }
}

/// `dx` from `dy` (and x, y): max routes each output gradient to the first maximum of its
/// window, avg/sum spread it over the window, Lp scales by (x/y)^(p-1). dx is overwritten.
pub fn backward<T: Element>(g: &Geom, kind: Kind, dy: &[T], x: &[T], y: &[T], dx: &mut [T]) {
    let (il, ol) = (g.in_len(), g.out_len());
    let kl: usize = g.kernel.iter().product();
    let dxp = Ptr(dx.as_mut_ptr());
    // Non-overlapping max windows: each input gets at most one output's gradient.
    let fast_max = kind == Kind::Max
        && simple_2d(g)
        && g.stride[1] >= g.kernel[1]
        && g.stride[2] >= g.kernel[2];
    let spread = whole_plane(g) && matches!(kind, Kind::Sum | Kind::Avg { .. });
    par_ranges(g.planes, ol * kl, |b, e| {
        if spread {
            let div = if kind == Kind::Sum { 1.0 } else { il as f64 };
            for (pl, d) in dy.iter().enumerate().take(e).skip(b) {
                // SAFETY: plane pl of dx belongs to this task.
                let dst = unsafe { std::slice::from_raw_parts_mut(dxp.get().add(pl * il), il) };
                dst.fill(T::from_f64(d.to_f64() / div));
            }
            return;
        }
        if fast_max {
            for pl in b..e {
                // SAFETY: plane pl of dx belongs to this task.
                let dst = unsafe { std::slice::from_raw_parts_mut(dxp.get().add(pl * il), il) };
                max_backward_2d(
                    g,
                    &x[pl * il..(pl + 1) * il],
                    &dy[pl * ol..(pl + 1) * ol],
                    dst,
                );
            }
            return;
        }
        let mut acc = vec![0.0f64; il];
        for pl in b..e {
            let src = &x[pl * il..(pl + 1) * il];
            let (dyp, yp) = (&dy[pl * ol..(pl + 1) * ol], &y[pl * ol..(pl + 1) * ol]);
            acc.fill(0.0);
            each_out(g, |k, o| {
                let w = window(g, o);
                let d = dyp[k].to_f64();
                match kind {
                    Kind::Max => {
                        let mut best: Option<usize> = None;
                        each_in(g, &w, |i| {
                            if best.is_none_or(|b| src[i] > src[b]) {
                                best = Some(i);
                            }
                        });
                        if let Some(b) = best {
                            acc[b] += d;
                        }
                    }
                    Kind::Sum | Kind::Avg { .. } => {
                        let div = match kind {
                            Kind::Avg { include_pad: true } => w.padded,
                            Kind::Avg { include_pad: false } => count(&w),
                            _ => 1,
                        };
                        if div > 0 {
                            let v = d / div as f64;
                            each_in(g, &w, |i| acc[i] += v);
                        }
                    }
                    Kind::Lp(p) => {
                        let yv = yp[k].to_f64();
                        each_in(g, &w, |i| {
                            let xv = src[i].to_f64();
                            acc[i] += if p == 1 {
                                d
                            } else if yv == 0.0 {
                                0.0
                            } else {
                                d * powi(xv / yv, p - 1)
                            };
                        });
                    }
                }
            });
            // SAFETY: plane pl of dx belongs to this task.
            let dst = unsafe { std::slice::from_raw_parts_mut(dxp.get().add(pl * il), il) };
            for (o, &a) in dst.iter_mut().zip(&acc) {
                *o = T::from_f64(a);
            }
        }
    });
}

/// The adjoint of max pooling's `backward` in dy (its second-order step): each output takes
/// `gx` at the first maximum of `x` in its window, the input `backward` routes it to.
pub fn max_gather<T: Element>(g: &Geom, x: &[T], gx: &[T], out: &mut [T]) {
    let (il, ol) = (g.in_len(), g.out_len());
    let kl: usize = g.kernel.iter().product();
    let outp = Ptr(out.as_mut_ptr());
    par_ranges(g.planes, ol * kl, |b, e| {
        for pl in b..e {
            let (src, gs) = (&x[pl * il..(pl + 1) * il], &gx[pl * il..(pl + 1) * il]);
            // SAFETY: plane pl of out belongs to this task.
            let dst = unsafe { std::slice::from_raw_parts_mut(outp.get().add(pl * ol), ol) };
            each_out(g, |k, o| {
                let mut best: Option<usize> = None;
                each_in(g, &window(g, o), |i| {
                    if best.is_none_or(|b| src[i] > src[b]) {
                        best = Some(i);
                    }
                });
                dst[k] = best.map_or(T::default(), |b| gs[b]);
            });
        }
    });
}

/// Max-pool gradient of one plane for in-bounds, non-overlapping 2-D windows: the first
/// maximum of each window receives the output gradient, every other input zero.
fn max_backward_2d<T: Element>(g: &Geom, src: &[T], dy: &[T], dx: &mut [T]) {
    let ([_, _, iw], [_, oh, ow]) = (g.input, g.output);
    let ([_, kh, kw], [_, sh, sw]) = (g.kernel, g.stride);
    dx.fill(T::default());
    if (kh, kw, sh, sw) == (2, 2, 2, 2) {
        return max_backward_2x2(iw, oh, ow, src, dy, dx);
    }
    for oy in 0..oh {
        for ox in 0..ow {
            let base = oy * sh * iw + ox * sw;
            let mut best = base;
            for ky in 0..kh {
                for kx in 0..kw {
                    let i = base + ky * iw + kx;
                    if src[i] > src[best] {
                        best = i;
                    }
                }
            }
            dx[best] = dy[oy * ow + ox];
        }
    }
}
