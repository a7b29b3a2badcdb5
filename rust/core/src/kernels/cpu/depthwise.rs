//! Depthwise convolution (one group per input channel, MobileNet's 3x3 layers) computed
//! directly, eight channels at a time. As im2col + GEMM it was one product per channel with a
//! single output row and nine columns, mostly loop overhead; computed plane by plane it still
//! paid a fixed cost per plane that dominated 14x14 and 7x7 planes (2.4-5.5x slower than
//! oneDNN).
//!
//! A block of eight channel planes is copied into one zero-bordered buffer that keeps the
//! eight channels of a position side by side, so every kernel tap at every output position
//! is one eight-lane multiply and add (an AVX2 instruction each for f32) whatever the plane size,
//! stride or dilation, with no bounds to test: the border supplies the padding's zeros.
//! Channels past the last full block run in zero lanes.
//!
//! Parallel over blocks: forward and data gradient tasks own whole (sample, channel block)
//! planes of their output; weight gradient tasks own channel blocks and sum over the batch.

use super::conv::{Geom, Real};
use super::{par_ranges, Ptr, Simd};

/// Channels computed together: the width of one AVX2 register of f32.
const L: usize = 8;
type Lanes<T> = [T; L];

/// Whether `g` is depthwise (`groups == c`, each group with `f / c` filters of one channel)
/// and `T` is computed directly (f32, f64).
pub fn applies<T: Real>(g: &Geom) -> bool {
    T::DIRECT && g.groups > 1 && g.groups == g.c
}

/// Where a block's planes sit in the zero-bordered buffer, and where each tap reads.
struct Layout {
    /// Buffer extent per axis (the input plus its padding).
    dims: [usize; 3],
    /// Buffer offset of each kernel tap from an output position's origin.
    taps: Vec<usize>,
}

impl Layout {
    fn new(g: &Geom) -> Self {
        let dims = std::array::from_fn(|a| {
            let reach = (g.output[a].max(1) - 1) * g.stride[a] + (g.kernel[a] - 1) * g.dilate[a];
            (g.input[a] + 2 * g.pad[a]).max(reach + 1)
        });
        let [kd, kh, kw] = g.kernel;
        let taps = (0..kd * kh * kw)
            .map(|t| {
                let (tz, ty, tx) = (t / (kh * kw), t / kw % kh, t % kw);
                index(dims, [tz * g.dilate[0], ty * g.dilate[1], tx * g.dilate[2]])
            })
            .collect();
        Layout { dims, taps }
    }

    fn len(&self) -> usize {
        self.dims.iter().product()
    }

    /// Buffer index of output row (oz, oy)'s first position; its positions follow `stride[2]`
    /// apart.
    fn row(&self, g: &Geom, oz: usize, oy: usize) -> usize {
        index(self.dims, [oz * g.stride[0], oy * g.stride[1], 0])
    }

    /// Buffer index of the input row (z, y)'s first value.
    fn input_row(&self, g: &Geom, z: usize, y: usize) -> usize {
        index(self.dims, [z + g.pad[0], y + g.pad[1], g.pad[2]])
    }
}

fn index(dims: [usize; 3], [z, y, x]: [usize; 3]) -> usize {
    (z * dims[1] + y) * dims[2] + x
}

/// Runs `f` in the AVX2 build where the CPU has one. The lane loops are written eight wide,
/// one AVX2 register of f32; an AVX-512 build pairs them up with permutes and ran 3-4x slower.
#[inline(always)]
fn lanes_build<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: no wider than the CPU's best.
    unsafe { Simd::best().min(Simd::Avx2).run(f) }
}

/// `acc += a · b` lane by lane. Through values: with every load ahead of the store, the
/// lanes vectorize even where the compiler cannot tell that `acc` aliases neither operand.
#[inline(always)]
fn madd<T: Real>(acc: &mut Lanes<T>, a: &Lanes<T>, b: &Lanes<T>) {
    let (a, b, mut r) = (*a, *b, *acc);
    for k in 0..L {
        r[k] += a[k] * b[k];
    }
    *acc = r;
}

/// `f(k)` in the first `lanes` lanes, zero in the others.
#[inline(always)]
fn lanes_of<T: Real>(lanes: usize, f: impl Fn(usize) -> T) -> Lanes<T> {
    std::array::from_fn(|k| if k < lanes { f(k) } else { T::ZERO })
}

/// One block of channels: its first channel and how many of its lanes are real.
#[derive(Clone, Copy)]
struct Block {
    c0: usize,
    lanes: usize,
}

impl Block {
    fn new(g: &Geom, index: usize) -> Self {
        let c0 = index * L;
        Block {
            c0,
            lanes: L.min(g.c - c0),
        }
    }

    /// The filter of multiplier `j` on the block's channel `k`.
    fn filter(self, g: &Geom, k: usize, j: usize) -> usize {
        (self.c0 + k) * (g.f / g.c) + j
    }

    /// Lanes of each tap's weight for the filters of multiplier `j`.
    fn taps<T: Real>(self, g: &Geom, w: &[T], j: usize) -> Vec<Lanes<T>> {
        let k_len = g.k_len();
        (0..k_len)
            .map(|t| lanes_of(self.lanes, |k| w[self.filter(g, k, j) * k_len + t]))
            .collect()
    }
}

/// Copies the block's planes of sample `i` (channel-major `planes`) into the buffer's
/// interior, zero in the unused lanes; the border keeps its zeros.
#[inline(always)]
fn load<T: Real>(g: &Geom, lay: &Layout, planes: &[T], i: usize, b: Block, buf: &mut [Lanes<T>]) {
    let [d, h, w] = g.input;
    let in_len = g.in_len();
    let first = (i * g.c + b.c0) * in_len;
    for z in 0..d {
        for y in 0..h {
            let row = &mut buf[lay.input_row(g, z, y)..][..w];
            let at = first + (z * h + y) * w;
            for k in 0..L {
                if k < b.lanes {
                    for (v, &s) in row.iter_mut().zip(&planes[at + k * in_len..][..w]) {
                        v[k] = s;
                    }
                } else {
                    row.iter_mut().for_each(|v| v[k] = T::ZERO);
                }
            }
        }
    }
}

/// The inverse of [`load`]: the buffer's interior to the block's planes of sample `i`.
#[inline(always)]
fn unload<T: Real>(g: &Geom, lay: &Layout, buf: &[Lanes<T>], i: usize, b: Block, planes: Ptr<T>) {
    let [d, h, w] = g.input;
    let in_len = g.in_len();
    let first = (i * g.c + b.c0) * in_len;
    for z in 0..d {
        for y in 0..h {
            let row = &buf[lay.input_row(g, z, y)..][..w];
            let at = first + (z * h + y) * w;
            for k in 0..b.lanes {
                // SAFETY: the block's planes of sample i belong to the calling task.
                let dst =
                    unsafe { std::slice::from_raw_parts_mut(planes.get().add(at + k * in_len), w) };
                for (v, s) in dst.iter_mut().zip(row) {
                    *v = s[k];
                }
            }
        }
    }
}

/// Where output row `r` (of `oz · oh + oy`) of multiplier `j`'s filters on the block starts in
/// an (n, f, out_len) array, and how far apart the lanes' planes are.
fn out_row(g: &Geom, i: usize, b: Block, j: usize, r: usize) -> (usize, usize) {
    let out_len = g.out_len();
    (
        (i * g.f + b.filter(g, 0, j)) * out_len + r * g.output[2],
        (g.f / g.c) * out_len,
    )
}

/// `row[x][k] = src[first + k · stride + x]` for the real lanes, zero in the others.
#[inline(always)]
fn gather_row<T: Real>(
    row: &mut [Lanes<T>],
    lanes: usize,
    src: &[T],
    (first, stride): (usize, usize),
) {
    let n = row.len();
    for k in 0..L {
        if k < lanes {
            for (v, &s) in row.iter_mut().zip(&src[first + k * stride..][..n]) {
                v[k] = s;
            }
        } else {
            row.iter_mut().for_each(|v| v[k] = T::ZERO);
        }
    }
}

/// The inverse of [`gather_row`] for the real lanes.
///
/// # Safety
/// The rows written belong to the calling task and lie inside `dst`'s allocation.
#[inline(always)]
unsafe fn scatter_row<T: Real>(
    row: &[Lanes<T>],
    lanes: usize,
    dst: Ptr<T>,
    (first, stride): (usize, usize),
) {
    for k in 0..lanes {
        let out = std::slice::from_raw_parts_mut(dst.get().add(first + k * stride), row.len());
        for (v, s) in out.iter_mut().zip(row) {
            *v = s[k];
        }
    }
}

/// Checks that the last tap of an output row's last position, `origin + (n - 1)·stride +
/// offs.last()`, lies inside a buffer of `len`, so that the row loops below can index
/// without a test per tap (`offs` increase with the tap).
fn assert_row_fits(origin: usize, n: usize, stride: usize, offs: &[usize], len: usize) {
    let last = origin + n.saturating_sub(1) * stride + offs.last().copied().unwrap_or(0);
    assert!(n == 0 || last < len, "depthwise row overruns its buffer");
}

/// `row[x] = init + Σ_t taps[t] · buf[origin + x·stride + offs[t]]`, four positions at a time
/// so that four independent sums are in flight.
#[inline(always)]
fn correlate_row<T: Real>(
    row: &mut [Lanes<T>],
    init: Lanes<T>,
    (taps, offs): (&[Lanes<T>], &[usize]),
    buf: &[Lanes<T>],
    (origin, stride): (usize, usize),
) {
    assert_row_fits(origin, row.len(), stride, offs, buf.len());
    let src = buf.as_ptr();
    // SAFETY (both loops): at most the row's last position, checked above.
    let full = row.len() / 4 * 4;
    let (quads, rest) = row.split_at_mut(full);
    for (q, quad) in quads.chunks_exact_mut(4).enumerate() {
        let mut a = [init; 4];
        let at = origin + 4 * q * stride;
        for (wv, &off) in taps.iter().zip(offs) {
            for (j, a) in a.iter_mut().enumerate() {
                madd(a, wv, unsafe { &*src.add(at + j * stride + off) });
            }
        }
        quad.copy_from_slice(&a);
    }
    for (x, r) in rest.iter_mut().enumerate() {
        let mut a = init;
        let at = origin + (full + x) * stride;
        for (wv, &off) in taps.iter().zip(offs) {
            madd(&mut a, wv, unsafe { &*src.add(at + off) });
        }
        *r = a;
    }
}

/// `part[t] = Σ_x row[x] · buf[origin + x·stride + offs[t]]` with four partial sums per tap.
#[inline(always)]
fn correlate_taps<T: Real>(
    part: &mut [Lanes<T>],
    row: &[Lanes<T>],
    offs: &[usize],
    buf: &[Lanes<T>],
    (origin, stride): (usize, usize),
) {
    assert_row_fits(origin, row.len(), stride, offs, buf.len());
    let src = buf.as_ptr();
    let quads = row.chunks_exact(4);
    let (rest, full) = (quads.remainder(), row.len() / 4 * 4);
    // SAFETY (both loops): at most the row's last position, checked above.
    for (p, &off) in part.iter_mut().zip(offs) {
        let mut a = [[T::ZERO; L]; 4];
        for (q, quad) in quads.clone().enumerate() {
            let at = origin + 4 * q * stride + off;
            for (j, (a, r)) in a.iter_mut().zip(quad).enumerate() {
                madd(a, r, unsafe { &*src.add(at + j * stride) });
            }
        }
        for (x, r) in rest.iter().enumerate() {
            madd(&mut a[0], r, unsafe {
                &*src.add(origin + (full + x) * stride + off)
            });
        }
        *p = std::array::from_fn(|k| (a[0][k] + a[1][k]) + (a[2][k] + a[3][k]));
    }
}

/// `acc[origin + x·stride + offs[t]] += taps[t] · row[x]`: a row's share of the data
/// gradient, one tap at a time (the positions of one tap are distinct).
#[inline(always)]
fn scatter_taps<T: Real>(
    acc: &mut [Lanes<T>],
    row: &[Lanes<T>],
    (taps, offs): (&[Lanes<T>], &[usize]),
    (origin, stride): (usize, usize),
) {
    assert_row_fits(origin, row.len(), stride, offs, acc.len());
    let dst = acc.as_mut_ptr();
    for (wv, &off) in taps.iter().zip(offs) {
        for (x, r) in row.iter().enumerate() {
            // SAFETY: at most the row's last position, checked above.
            madd(unsafe { &mut *dst.add(origin + x * stride + off) }, wv, r);
        }
    }
}

/// `y = conv(x, w) + bias` for a depthwise `g`; y overwritten.
pub fn forward<T: Real>(g: &Geom, x: &[T], w: &[T], bias: Option<&[T]>, y: &mut [T]) {
    let (m, lay, blocks) = (g.f / g.c, Layout::new(g), g.c.div_ceil(L));
    let [od, oh, ow] = g.output;
    let yp = Ptr(y.as_mut_ptr());
    par_ranges(
        g.n * blocks,
        L * m * g.k_len() * g.out_len(),
        |begin, end| {
            lanes_build(
                #[inline(always)]
                || {
                    let mut buf = vec![[T::ZERO; L]; lay.len()];
                    let mut row = vec![[T::ZERO; L]; ow];
                    for item in begin..end {
                        let (i, b) = (item / blocks, Block::new(g, item % blocks));
                        load(g, &lay, x, i, b, &mut buf);
                        for j in 0..m {
                            let taps = b.taps(g, w, j);
                            let init = lanes_of(b.lanes, |k| {
                                bias.map_or(T::ZERO, |v| v[b.filter(g, k, j)])
                            });
                            for (oz, oy) in (0..od).flat_map(|oz| (0..oh).map(move |oy| (oz, oy))) {
                                let at = (lay.row(g, oz, oy), g.stride[2]);
                                correlate_row(&mut row, init, (&taps, &lay.taps), &buf, at);
                                // SAFETY: the block's output planes of sample i belong to this task.
                                unsafe {
                                    scatter_row(
                                        &row,
                                        b.lanes,
                                        yp,
                                        out_row(g, i, b, j, oz * oh + oy),
                                    )
                                };
                            }
                        }
                    }
                },
            )
        },
    );
}

/// Gradient with respect to the input of a depthwise `g`; dx overwritten.
pub fn backward_data<T: Real>(g: &Geom, dy: &[T], w: &[T], dx: &mut [T]) {
    let (m, lay, blocks) = (g.f / g.c, Layout::new(g), g.c.div_ceil(L));
    let [od, oh, ow] = g.output;
    let dxp = Ptr(dx.as_mut_ptr());
    par_ranges(
        g.n * blocks,
        L * m * g.k_len() * g.out_len(),
        |begin, end| {
            lanes_build(
                #[inline(always)]
                || {
                    let mut acc = vec![[T::ZERO; L]; lay.len()];
                    let mut row = vec![[T::ZERO; L]; ow];
                    for item in begin..end {
                        let (i, b) = (item / blocks, Block::new(g, item % blocks));
                        acc.fill([T::ZERO; L]);
                        for j in 0..m {
                            let taps = b.taps(g, w, j);
                            for (oz, oy) in (0..od).flat_map(|oz| (0..oh).map(move |oy| (oz, oy))) {
                                gather_row(
                                    &mut row,
                                    b.lanes,
                                    dy,
                                    out_row(g, i, b, j, oz * oh + oy),
                                );
                                let at = (lay.row(g, oz, oy), g.stride[2]);
                                scatter_taps(&mut acc, &row, (&taps, &lay.taps), at);
                            }
                        }
                        unload(g, &lay, &acc, i, b, dxp);
                    }
                },
            )
        },
    );
}

/// Gradient with respect to the weight of a depthwise `g`; dw overwritten. Each output row's
/// products are summed in `T`, the rows in f64.
pub fn backward_weight<T: Real>(g: &Geom, dy: &[T], x: &[T], dw: &mut [T]) {
    let (m, k_len, lay, blocks) = (g.f / g.c, g.k_len(), Layout::new(g), g.c.div_ceil(L));
    let [od, oh, ow] = g.output;
    let dwp = Ptr(dw.as_mut_ptr());
    par_ranges(blocks, g.n * L * m * k_len * g.out_len(), |begin, end| {
        lanes_build(
            #[inline(always)]
            || {
                let mut buf = vec![[T::ZERO; L]; lay.len()];
                let mut row = vec![[T::ZERO; L]; ow];
                let mut part = vec![[T::ZERO; L]; k_len];
                let mut acc = vec![[0f64; L]; m * k_len];
                for index in begin..end {
                    let b = Block::new(g, index);
                    acc.fill([0.0; L]);
                    for i in 0..g.n {
                        load(g, &lay, x, i, b, &mut buf);
                        for (j, acc) in acc.chunks_exact_mut(k_len).enumerate() {
                            for (oz, oy) in (0..od).flat_map(|oz| (0..oh).map(move |oy| (oz, oy))) {
                                gather_row(
                                    &mut row,
                                    b.lanes,
                                    dy,
                                    out_row(g, i, b, j, oz * oh + oy),
                                );
                                let at = (lay.row(g, oz, oy), g.stride[2]);
                                correlate_taps(&mut part, &row, &lay.taps, &buf, at);
                                for (a, p) in acc.iter_mut().zip(&part) {
                                    for k in 0..L {
                                        a[k] += p[k].to_f64();
                                    }
                                }
                            }
                        }
                    }
                    for (j, acc) in acc.chunks_exact(k_len).enumerate() {
                        for k in 0..b.lanes {
                            let first = b.filter(g, k, j) * k_len;
                            for (t, a) in acc.iter().enumerate() {
                                // SAFETY: the filters of the block's channels belong to this task.
                                unsafe { *dwp.get().add(first + t) = T::from_f64(a[k]) };
                            }
                        }
                    }
                }
            },
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Geometry with output sizes from the usual formula.
    fn geom((n, c, m): (usize, usize, usize), [input, k, s, d, p]: [[usize; 3]; 5]) -> Geom {
        let output =
            std::array::from_fn(|a| (input[a] + 2 * p[a] - d[a] * (k[a] - 1) - 1) / s[a] + 1);
        Geom {
            n,
            c,
            f: c * m,
            groups: c,
            input,
            output,
            kernel: k,
            stride: s,
            dilate: d,
            pad: p,
        }
    }

    /// y[i, o, out] = Σ_taps w[o, tap] x[i, o / m, out·s + tap·d - p] by plain loops, in f64.
    fn naive(g: &Geom, x: &[f64], w: &[f64]) -> Vec<f64> {
        let m = g.f / g.c;
        let mut y = vec![0.0; g.n * g.f * g.out_len()];
        for i in 0..g.n {
            for o in 0..g.f {
                for oz in 0..g.output[0] {
                    for oy in 0..g.output[1] {
                        for ox in 0..g.output[2] {
                            let mut s = 0.0;
                            for (t, tap) in (0..g.k_len()).map(|t| {
                                (
                                    t,
                                    [
                                        t / (g.kernel[1] * g.kernel[2]),
                                        t / g.kernel[2] % g.kernel[1],
                                        t % g.kernel[2],
                                    ],
                                )
                            }) {
                                let at = [oz, oy, ox];
                                let pos: Vec<isize> = (0..3)
                                    .map(|a| {
                                        (at[a] * g.stride[a] + tap[a] * g.dilate[a]) as isize
                                            - g.pad[a] as isize
                                    })
                                    .collect();
                                if (0..3).all(|a| pos[a] >= 0 && (pos[a] as usize) < g.input[a]) {
                                    let idx = ((i * g.c + o / m) * g.input[0] + pos[0] as usize)
                                        * g.input[1]
                                        * g.input[2]
                                        + pos[1] as usize * g.input[2]
                                        + pos[2] as usize;
                                    s += w[o * g.k_len() + t] * x[idx];
                                }
                            }
                            y[((i * g.f + o) * g.output[0] + oz) * g.output[1] * g.output[2]
                                + oy * g.output[2]
                                + ox] = s;
                        }
                    }
                }
            }
        }
        y
    }

    fn values(len: usize, seed: u64) -> Vec<f64> {
        let mut state = seed;
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 33) as f64 / (1u64 << 31) as f64) - 1.0
            })
            .collect()
    }

    #[test]
    fn matches_the_definition_and_its_adjoints() {
        let cases = [
            geom((2, 3, 1), [[1, 7, 6], [1, 3, 3], [1; 3], [1; 3], [0, 1, 1]]),
            geom(
                (2, 4, 2),
                [[1, 9, 8], [1, 3, 2], [1, 2, 2], [1, 1, 2], [0, 1, 0]],
            ),
            geom(
                (1, 2, 3),
                [[1, 1, 11], [1, 1, 3], [1, 1, 3], [1, 1, 1], [0, 0, 2]],
            ),
            geom(
                (3, 5, 1),
                [[1, 14, 14], [1, 3, 3], [1, 2, 2], [1; 3], [0, 1, 1]],
            ),
            // a full block of channels and a partial one, with a depth multiplier
            geom(
                (2, 11, 2),
                [[1, 7, 7], [1, 3, 3], [1; 3], [1; 3], [0, 1, 1]],
            ),
            geom(
                (1, 17, 1),
                [[1, 5, 9], [1, 1, 1], [1, 1, 2], [1; 3], [0; 3]],
            ),
            // three spatial dims, every axis strided, dilated or padded differently
            geom(
                (2, 9, 1),
                [[5, 6, 7], [3, 2, 3], [2, 1, 2], [1, 2, 1], [1, 0, 2]],
            ),
        ];
        for g in cases {
            assert!(applies::<f64>(&g) && !applies::<half::f16>(&g));
            let x = values(g.n * g.c * g.in_len(), 1);
            let w = values(g.f * g.k_len(), 2);
            let bias = values(g.f, 3);
            let mut y = vec![0.0; g.n * g.f * g.out_len()];
            forward(&g, &x, &w, Some(&bias), &mut y);
            let want = naive(&g, &x, &w);
            for (k, (a, b)) in y.iter().zip(&want).enumerate() {
                let b = b + bias[k / g.out_len() % g.f];
                assert!((a - b).abs() < 1e-12, "{g:?} y[{k}] {a} vs {b}");
            }
            // <dy, conv(x)> = <conv_xᵀ(dy), x> = <conv_wᵀ(dy), w>: both gradients are adjoints
            let dy = values(y.len(), 4);
            let lhs: f64 = dy.iter().zip(&want).map(|(a, b)| a * b).sum();
            let mut dx = vec![7.0; x.len()];
            backward_data(&g, &dy, &w, &mut dx);
            let mut dw = vec![7.0; w.len()];
            backward_weight(&g, &dy, &x, &mut dw);
            let via_x: f64 = dx.iter().zip(&x).map(|(a, b)| a * b).sum();
            let via_w: f64 = dw.iter().zip(&w).map(|(a, b)| a * b).sum();
            assert!(
                (lhs - via_x).abs() < 1e-9 * (1.0 + lhs.abs()),
                "{g:?} dx {lhs} {via_x}"
            );
            assert!(
                (lhs - via_w).abs() < 1e-9 * (1.0 + lhs.abs()),
                "{g:?} dw {lhs} {via_w}"
            );
        }
    }
}
