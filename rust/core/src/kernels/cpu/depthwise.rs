//! Depthwise convolution (one group per input channel, MobileNet's 3x3 layers) computed
//! directly. As im2col + GEMM it was one product per channel with a single output row and
//! nine columns, mostly loop overhead (2-3.5x slower than oneDNN in MXNet).
//!
//! Each plane is unfolded on its own (its column matrix, one row per kernel tap, stays in
//! the core's cache), and an output plane is then the sum of those rows scaled by its taps:
//! long contiguous loops whatever the stride, summed block by block so that the output block
//! stays in L1 across the taps.
//!
//! Parallel over planes: forward and data gradient tasks own whole (sample, channel) planes
//! of their output; weight gradient tasks own channels and sum over the batch.

use super::conv::{col2im, im2col, Geom, Real};
use super::{par_ranges, Ptr};

/// Output values summed across all taps at a time (a 4 KiB block of f32).
const BLOCK: usize = 1024;

/// Whether `g` is depthwise (`groups == c`, each group with `f / c` filters of one channel)
/// and `T` is computed directly (f32, f64).
pub fn applies<T: Real>(g: &Geom) -> bool {
    T::DIRECT && g.groups > 1 && g.groups == g.c
}

/// The geometry of one channel plane, whose column matrix has one row per kernel tap.
fn plane(g: &Geom) -> Geom {
    Geom {
        n: 1,
        c: 1,
        f: 1,
        groups: 1,
        ..g.clone()
    }
}

/// `out = init + Σ_tap taps[tap] · col[tap]` over rows of `out.len()` values.
fn weighted_rows<T: Real>(out: &mut [T], init: T, taps: &[T], col: &[T]) {
    let len = out.len();
    for (bi, block) in out.chunks_mut(BLOCK).enumerate() {
        let at = bi * BLOCK;
        block.fill(init);
        for (t, &wv) in taps.iter().enumerate() {
            for (v, &s) in block.iter_mut().zip(&col[t * len + at..]) {
                *v += wv * s;
            }
        }
    }
}

/// `y = conv(x, w) + bias` for a depthwise `g`; y overwritten.
pub fn forward<T: Real>(g: &Geom, x: &[T], w: &[T], bias: Option<&[T]>, y: &mut [T]) {
    let (p, m, k_len) = (plane(g), g.f / g.c, g.k_len());
    let (in_len, out_len) = (g.in_len(), g.out_len());
    let yp = Ptr(y.as_mut_ptr());
    par_ranges(g.n * g.c, m * k_len * out_len, |b, e| {
        let mut col = vec![T::ZERO; k_len * out_len];
        for nc in b..e {
            let (i, ch) = (nc / g.c, nc % g.c);
            im2col(&p, &x[nc * in_len..(nc + 1) * in_len], &mut col);
            for o in ch * m..(ch + 1) * m {
                // SAFETY: output plane (i, o) belongs to the task that owns plane (i, ch).
                let ys = unsafe {
                    std::slice::from_raw_parts_mut(yp.get().add((i * g.f + o) * out_len), out_len)
                };
                let init = bias.map_or(T::ZERO, |b| b[o]);
                weighted_rows(ys, init, &w[o * k_len..(o + 1) * k_len], &col);
            }
        }
    });
}

/// Gradient with respect to the input of a depthwise `g`; dx overwritten.
pub fn backward_data<T: Real>(g: &Geom, dy: &[T], w: &[T], dx: &mut [T]) {
    let (p, m, k_len) = (plane(g), g.f / g.c, g.k_len());
    let (in_len, out_len) = (g.in_len(), g.out_len());
    let dxp = Ptr(dx.as_mut_ptr());
    par_ranges(g.n * g.c, m * k_len * out_len, |b, e| {
        let mut col = vec![T::ZERO; k_len * out_len];
        for nc in b..e {
            let (i, ch) = (nc / g.c, nc % g.c);
            // col[tap] = Σ_filters w[filter, tap] · dy[filter]
            for (t, row) in col.chunks_exact_mut(out_len.max(1)).enumerate() {
                row.fill(T::ZERO);
                for o in ch * m..(ch + 1) * m {
                    let wv = w[o * k_len + t];
                    let dys = &dy[(i * g.f + o) * out_len..][..out_len];
                    for (v, &s) in row.iter_mut().zip(dys) {
                        *v += wv * s;
                    }
                }
            }
            // SAFETY: input plane nc belongs to this task.
            let dxs = unsafe { std::slice::from_raw_parts_mut(dxp.get().add(nc * in_len), in_len) };
            dxs.fill(T::ZERO);
            col2im(&p, &col, dxs);
        }
    });
}

/// Gradient with respect to the weight of a depthwise `g`; dw overwritten. Each plane's dot
/// product is summed in `T`, the planes in f64.
pub fn backward_weight<T: Real>(g: &Geom, dy: &[T], x: &[T], dw: &mut [T]) {
    let (p, m, k_len) = (plane(g), g.f / g.c, g.k_len());
    let (in_len, out_len) = (g.in_len(), g.out_len());
    let dwp = Ptr(dw.as_mut_ptr());
    par_ranges(g.c, g.n * m * k_len * out_len, |b, e| {
        let mut col = vec![T::ZERO; k_len * out_len];
        let mut acc = vec![0f64; m * k_len];
        for ch in b..e {
            acc.fill(0.0);
            for i in 0..g.n {
                im2col(&p, &x[(i * g.c + ch) * in_len..][..in_len], &mut col);
                for (j, o) in (ch * m..(ch + 1) * m).enumerate() {
                    let dys = &dy[(i * g.f + o) * out_len..][..out_len];
                    for (t, row) in col.chunks_exact(out_len.max(1)).enumerate() {
                        acc[j * k_len + t] += dot(dys, row);
                    }
                }
            }
            // SAFETY: the filters of channel ch belong to this task.
            let out =
                unsafe { std::slice::from_raw_parts_mut(dwp.get().add(ch * m * k_len), m * k_len) };
            for (v, &a) in out.iter_mut().zip(&acc) {
                *v = T::from_f64(a);
            }
        }
    });
}

/// `Σ a·b` in eight independent partial sums, so that the adds vectorize.
fn dot<T: Real>(a: &[T], b: &[T]) -> f64 {
    let mut s = [T::ZERO; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            s[k] += x[k] * y[k];
        }
    }
    let mut t = T::ZERO;
    for (&x, &y) in ra.iter().zip(rb) {
        t += x * y;
    }
    s.iter().fold(t.to_f64(), |acc, &v| acc + v.to_f64())
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
