//! The float32 convolution forward without a column matrix, on CPUs with AVX-512: the plan of
//! [`super::qconv`] with one float per pixel slot. Each sample is copied once into a
//! zero-bordered image (`[phase][c][pixel]`), sixteen output pixels are sixteen consecutive
//! floats of it, and the weights are broadcast: a tile of 8 filters × 48 pixels is 24 FMA
//! registers. The im2col plan writes and re-reads a (c·kernel)-times larger column matrix,
//! which for a 3×3 layer took as long as the products.
//!
//! Sums are accumulated in (tap, channel) order with fused multiply-adds, so results differ
//! from the GEMM path's in the last bits, as two BLAS builds' do.

use super::conv::Geom;
use super::par_ranges;
use super::qconv::{direct_geometry, Plan, P, R, TILE};
#[cfg(target_arch = "x86_64")]
use super::{qconv::segments, Ptr};

/// Whether [`forward`] takes this convolution on this CPU.
pub fn applies(g: &Geom) -> bool {
    direct_geometry(g) && has_avx512()
}

#[cfg(target_arch = "x86_64")]
fn has_avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

#[cfg(not(target_arch = "x86_64"))]
fn has_avx512() -> bool {
    false
}

/// Copies one sample (c × h × w) into its zero-bordered phase image.
fn image(g: &Geom, plan: &Plan, x: &[f32], img: &mut [f32]) {
    let [_, h, w] = g.input;
    let [_, ph, pw] = g.pad;
    let [_, sh, sw] = g.stride;
    let (chans, plane, wq) = (plan.quads, plan.plane, plan.wq);
    img.fill(0.0);
    for c in 0..g.c {
        for (r, src) in x[c * h * w..(c + 1) * h * w].chunks_exact(w).enumerate() {
            let y = r + ph;
            let row_base = (y % sh) * sw * chans * plane + c * plane + (y / sh) * wq;
            if sw == 1 {
                img[row_base + pw..][..w].copy_from_slice(src);
                continue;
            }
            for (iw, &v) in src.iter().enumerate() {
                let x = iw + pw;
                img[row_base + (x % sw) * chans * plane + x / sw] = v;
            }
        }
    }
}

/// Weights (f × c × kh × kw) per tile of R filters, per tap, per channel: R floats, zero for
/// missing filters.
fn pack_weights(g: &Geom, plan: &Plan, w: &[f32]) -> Vec<f32> {
    let taps = plan.taps.len();
    let mut packed = vec![0f32; plan.f_tiles * taps * g.c * R];
    for f in 0..g.f {
        for c in 0..g.c {
            for t in 0..taps {
                packed[(((f / R) * taps + t) * g.c + c) * R + f % R] = w[(f * g.c + c) * taps + t];
            }
        }
    }
    packed
}

/// `y = conv(x, w) + bias` as [`super::conv::forward`], for a geometry [`applies`] accepted.
pub fn forward(g: &Geom, x: &[f32], w: &[f32], bias: Option<&[f32]>, y: &mut [f32]) {
    let plan = Plan::new(g, 1);
    let packed = pack_weights(g, &plan, w);
    let in_len = g.in_len();
    let work = g.f * g.c * plan.taps.len() * g.out_len();
    #[cfg(target_arch = "x86_64")]
    let y = Ptr(y.as_mut_ptr());
    par_ranges(g.n, work, |b, e| {
        let mut img = vec![0f32; plan.image_len(g)];
        for i in b..e {
            image(
                g,
                &plan,
                &x[i * g.c * in_len..(i + 1) * g.c * in_len],
                &mut img,
            );
            // SAFETY: `applies` checked the CPU; sample i's output block (f × out_len) belongs
            // to this task; `img` and `packed` have the sizes `plan` gives them.
            #[cfg(target_arch = "x86_64")]
            unsafe {
                sample(
                    g,
                    &plan,
                    &img,
                    &packed,
                    bias,
                    y.get().add(i * g.f * g.out_len()),
                )
            }
        }
    });
}

/// One sample's output (f × oh × ow at `y`) from its image.
///
/// # Safety
/// The CPU has AVX-512 F; `img` and `packed` are what `plan` and `pack_weights` made for `g`,
/// and `y` holds f × out_len values only this caller writes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn sample(
    g: &Geom,
    plan: &Plan,
    img: &[f32],
    packed: &[f32],
    bias: Option<&[f32]>,
    y: *mut f32,
) {
    use std::arch::x86_64::*;
    let [_, ho, wo] = g.output;
    let out_len = g.out_len();
    let (wq, chans, taps, plane) = (plan.wq, plan.quads, &plan.taps[..], plan.plane);
    let per_tile = taps.len() * chans * R;
    for q0 in (0..ho * wq).step_by(TILE) {
        let (segs, nsegs) = segments(q0, wq, ho, wo);
        for ft in 0..plan.f_tiles {
            let mut acc = [[_mm512_setzero_ps(); P]; R];
            let mut wt = packed.as_ptr().add(ft * per_tile);
            for &off in taps {
                let mut xp = img.as_ptr().add(q0 + off);
                for _ in 0..chans {
                    let xv: [__m512; P] = std::array::from_fn(|p| _mm512_loadu_ps(xp.add(16 * p)));
                    for (r, row) in acc.iter_mut().enumerate() {
                        let b = _mm512_set1_ps(*wt.add(r));
                        for (a, &x) in row.iter_mut().zip(&xv) {
                            *a = _mm512_fmadd_ps(x, b, *a);
                        }
                    }
                    wt = wt.add(R);
                    xp = xp.add(plane);
                }
            }
            for (r, row) in acc.iter().enumerate() {
                let f = ft * R + r;
                if f >= g.f {
                    break;
                }
                let yf = y.add(f * out_len);
                let b = _mm512_set1_ps(bias.map_or(0.0, |b| b[f]));
                for (p, &v) in row.iter().enumerate() {
                    let v = _mm512_add_ps(v, b);
                    for &(mask, at) in &segs[p][..nsegs[p]] {
                        // Masked-off lanes are neither written nor faulted on.
                        _mm512_mask_storeu_ps(yf.wrapping_offset(at), mask, v);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The convolution by its definition, in f64.
    fn naive(g: &Geom, x: &[f32], w: &[f32], bias: &[f32]) -> Vec<f64> {
        let [_, h, wd] = g.input;
        let [_, ho, wo] = g.output;
        let [_, kh, kw] = g.kernel;
        let [_, sh, sw] = g.stride;
        let [_, dh, dw] = g.dilate;
        let [_, ph, pw] = g.pad;
        let mut y = vec![0f64; g.n * g.f * ho * wo];
        for i in 0..g.n {
            for f in 0..g.f {
                for oh in 0..ho {
                    for ow in 0..wo {
                        let mut s = bias[f] as f64;
                        for c in 0..g.c {
                            for a in 0..kh {
                                for b in 0..kw {
                                    let ih = (oh * sh + a * dh) as isize - ph as isize;
                                    let iw = (ow * sw + b * dw) as isize - pw as isize;
                                    if ih < 0 || iw < 0 || ih >= h as isize || iw >= wd as isize {
                                        continue;
                                    }
                                    let xv =
                                        x[((i * g.c + c) * h + ih as usize) * wd + iw as usize];
                                    s += xv as f64 * w[((f * g.c + c) * kh + a) * kw + b] as f64;
                                }
                            }
                        }
                        y[((i * g.f + f) * ho + oh) * wo + ow] = s;
                    }
                }
            }
        }
        y
    }

    #[test]
    fn matches_the_definition_for_odd_geometries() {
        if !has_avx512() {
            eprintln!("skipped: this CPU has no AVX-512, so the direct kernel never runs");
            return;
        }
        // (n, c, f, [h, w], [kernel, stride, dilation, pad])
        let cases: [(usize, usize, usize, [usize; 2], [[usize; 2]; 4]); 8] = [
            (2, 5, 9, [7, 6], [[3, 3], [1, 1], [1, 1], [1, 1]]),
            (1, 16, 16, [28, 28], [[3, 3], [1, 1], [1, 1], [1, 1]]),
            (3, 3, 8, [5, 40], [[1, 1], [1, 1], [1, 1], [0, 0]]),
            (1, 4, 17, [9, 11], [[5, 3], [1, 1], [2, 1], [2, 0]]),
            (2, 7, 3, [1, 50], [[1, 7], [1, 1], [1, 3], [0, 4]]),
            (2, 16, 8, [14, 14], [[3, 3], [2, 2], [1, 1], [1, 1]]),
            (1, 5, 11, [13, 19], [[3, 5], [3, 2], [2, 1], [1, 2]]),
            (1, 1, 20, [28, 28], [[5, 5], [1, 1], [1, 1], [0, 0]]),
        ];
        let mut seed = 1u64;
        let mut rnd = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        };
        for (n, c, f, hw, [k, s, d, p]) in cases {
            let out = |i: usize| (hw[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) / s[i] + 1;
            let g = Geom {
                n,
                c,
                f,
                groups: 1,
                input: [1, hw[0], hw[1]],
                output: [1, out(0), out(1)],
                kernel: [1, k[0], k[1]],
                stride: [1, s[0], s[1]],
                dilate: [1, d[0], d[1]],
                pad: [0, p[0], p[1]],
            };
            let x: Vec<f32> = (0..n * c * g.in_len()).map(|_| rnd()).collect();
            let w: Vec<f32> = (0..f * c * g.k_len()).map(|_| rnd()).collect();
            let bias: Vec<f32> = (0..f).map(|_| rnd()).collect();
            let want = naive(&g, &x, &w, &bias);
            let mut y = vec![f32::NAN; want.len()];
            forward(&g, &x, &w, Some(&bias), &mut y);
            let terms = (c * g.k_len()) as f64;
            for (i, (&got, &want)) in y.iter().zip(&want).enumerate() {
                // Each of `terms` products rounds once in f32.
                let tol = 1e-6 * terms + 1e-6 * want.abs();
                assert!(
                    (got as f64 - want).abs() <= tol,
                    "{g:?} at {i}: {got} vs {want}"
                );
            }
        }
    }
}
