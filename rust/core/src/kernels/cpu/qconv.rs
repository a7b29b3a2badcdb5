//! The quantized convolution without a column matrix, for the common case (one group, 1-D or
//! 2-D) on CPUs with 512-bit VNNI.
//!
//! The im2col plan unfolds every sample into a (c·kernel) × pixels byte matrix and then packs
//! it again for the GEMM; for a 3×3 layer those two passes cost more than the products. Here
//! each sample is copied once into a zero-bordered, channel-quad-interleaved image
//! (`[phase][c/4][pixel][4]` bytes), where the sixteen output pixels that one 512-bit register
//! multiplies read sixteen consecutive dwords: a kernel tap is just an offset. With stride s
//! the padded image is split into s×s phases (rows ≡ a, columns ≡ b mod s), so a tap reads one
//! phase at unit stride. Output pixels are numbered across the phase width (`q = oh·wq + ow`),
//! so one offset serves every row; the `wq - wo` columns that wrap around are computed and
//! never stored.
//!
//! `vpdpbusd` multiplies unsigned by signed bytes: the image is the unsigned side (int8 data
//! is offset by 128 on the way in, its border too, and 128·Σw taken off each filter's sums),
//! the int8 weights are broadcast four channels at a time. Sums are exact int32 (wrapping), so
//! results are bit-identical to the im2col path.

use super::conv::Geom;
use super::igemm::IElem;
use super::par_ranges;

/// Filters per register tile.
const R: usize = 8;
/// 16-pixel registers per tile.
const P: usize = 3;
/// Pixels per tile.
const TILE: usize = 16 * P;

/// Whether [`forward`] takes this convolution on this CPU.
pub fn applies(g: &Geom) -> bool {
    g.groups == 1
        && g.input[0] == 1
        && g.kernel[0] == 1
        && g.pad[0] == 0
        && g.c > 0
        && g.out_len() > 0
        && has_vnni512()
}

#[cfg(target_arch = "x86_64")]
fn has_vnni512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vnni")
}

#[cfg(not(target_arch = "x86_64"))]
fn has_vnni512() -> bool {
    false
}

/// Sizes of one sample's interleaved image and of the pixel walk over it.
struct Plan {
    quads: usize,
    /// Height and width of one phase of the padded image.
    hq: usize,
    wq: usize,
    /// Pixels per channel quad of a phase: the phase plus the slack that the wrapped columns
    /// and the last partial tile read past its end.
    plane: usize,
    /// Offset of each kernel tap from the image's start in pixels (phase included), in the
    /// weights' (kh, kw) order.
    taps: Vec<usize>,
    /// Filters rounded up to whole tiles.
    f_tiles: usize,
}

impl Plan {
    fn new(g: &Geom) -> Plan {
        let [_, h, w] = g.input;
        let [_, kh, kw] = g.kernel;
        let [_, dh, dw] = g.dilate;
        let [_, ph, pw] = g.pad;
        let [_, sh, sw] = g.stride;
        let (hq, wq) = ((h + 2 * ph).div_ceil(sh), (w + 2 * pw).div_ceil(sw));
        let quads = g.c.div_ceil(4);
        // Output row oh reads phase rows up to oh + (kh-1)·dh/sh < hq, and columns up to
        // wq - 1 + (kw-1)·dw/sw < 2·wq.
        let plane = hq * wq + wq + TILE;
        let taps = (0..kh)
            .flat_map(|a| (0..kw).map(move |b| (a * dh, b * dw)))
            .map(|(y, x)| {
                let phase = (y % sh) * sw + x % sw;
                (phase * quads * plane) + (y / sh) * wq + x / sw
            })
            .collect();
        Plan {
            quads,
            hq,
            wq,
            plane,
            taps,
            f_tiles: g.f.div_ceil(R),
        }
    }

    fn image_len(&self, g: &Geom) -> usize {
        g.stride[1] * g.stride[2] * self.quads * self.plane * 4
    }

    /// Copies one sample (c × h × w) into `img` at its zero level `zero` (0x80 for int8,
    /// whose bytes are flipped to the unsigned side, 0 for uint8).
    fn interleave<X: IElem>(&self, g: &Geom, x: &[X], zero: u8, img: &mut [u8]) {
        let [_, h, w] = g.input;
        let [_, ph, pw] = g.pad;
        let [_, sh, sw] = g.stride;
        let (quads, plane, wq) = (self.quads, self.plane, self.wq);
        img.fill(zero);
        for c in 0..g.c {
            let (q, lane) = (c / 4, c % 4);
            for (r, src) in x[c * h * w..(c + 1) * h * w].chunks_exact(w).enumerate() {
                let y = r + ph;
                let row_base = (y % sh) * sw * quads * plane + q * plane + (y / sh) * wq;
                if sw == 1 {
                    let row = &mut img[(row_base + pw) * 4..][..w * 4];
                    for (d, &v) in row.chunks_exact_mut(4).zip(src) {
                        d[lane] = v.bits() ^ zero;
                    }
                    continue;
                }
                for (iw, &v) in src.iter().enumerate() {
                    let x = iw + pw;
                    let at = row_base + (x % sw) * quads * plane + x / sw;
                    img[at * 4 + lane] = v.bits() ^ zero;
                }
            }
        }
    }
}

/// Weights `w` (f × c × kh × kw int8) as the kernel reads them: per tile of R filters, per
/// tap, per channel quad, R dwords of four channels; missing filters and channels are zero.
/// Also 128·Σw per filter when the data is offset by 128.
fn pack_weights(g: &Geom, plan: &Plan, w: &[i8], offset: bool) -> (Vec<i32>, Vec<i32>) {
    let taps = plan.taps.len();
    let mut packed = vec![0i32; plan.f_tiles * taps * plan.quads * R];
    for f in 0..g.f {
        let (ft, r) = (f / R, f % R);
        for c in 0..g.c {
            for t in 0..taps {
                let v = w[(f * g.c + c) * taps + t] as u8 as i32;
                let at = ((ft * taps + t) * plan.quads + c / 4) * R + r;
                packed[at] |= v << (8 * (c % 4));
            }
        }
    }
    let sums = (0..g.f)
        .map(|f| {
            let row = &w[f * g.c * taps..(f + 1) * g.c * taps];
            let s: i32 = row.iter().map(|&v| v as i32).sum();
            if offset {
                s.wrapping_mul(128)
            } else {
                0
            }
        })
        .collect();
    (packed, sums)
}

/// `y = conv(x, w)` in exact int32 arithmetic, sample by sample as
/// [`super::conv::forward_int8_each`], for a geometry [`applies`] accepted.
pub fn forward<X: IElem>(
    g: &Geom,
    x: &[X],
    w: &[i8],
    per_sample: impl Fn(usize, &[i32]) + Sync + Send,
) {
    let plan = Plan::new(g);
    let zero = if X::UNSIGNED { 0 } else { 0x80 };
    let (packed, sums) = pack_weights(g, &plan, w, !X::UNSIGNED);
    let (in_len, out_len) = (g.in_len(), g.out_len());
    let work = g.f * g.c * plan.taps.len() * out_len;
    par_ranges(g.n, work, |b, e| {
        let mut img = vec![0u8; plan.image_len(g)];
        let mut y = vec![0i32; g.f * out_len];
        for i in b..e {
            plan.interleave(
                g,
                &x[i * g.c * in_len..(i + 1) * g.c * in_len],
                zero,
                &mut img,
            );
            // SAFETY: `applies` checked the CPU; `img`, `packed` and `y` have the sizes `plan` and
            // `g` give them.
            #[cfg(target_arch = "x86_64")]
            unsafe {
                sample(g, &plan, &img, &packed, &sums, y.as_mut_ptr())
            }
            per_sample(i, &y);
        }
    });
}

/// One sample's output (f × oh × ow int32 at `y`) from its interleaved image.
///
/// # Safety
/// The CPU has AVX-512 F, BW and VNNI; `img`, `packed` and `sums` are what `plan` and
/// `pack_weights` made for `g`, and `y` holds f × out_len values only this caller writes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn sample(g: &Geom, plan: &Plan, img: &[u8], packed: &[i32], sums: &[i32], y: *mut i32) {
    use std::arch::x86_64::*;
    let [_, ho, wo] = g.output;
    let out_len = g.out_len();
    let (wq, quads, taps) = (plan.wq, plan.quads, &plan.taps[..]);
    let plane_bytes = plan.plane * 4;
    let pixels = ho * wq;
    let per_tile = taps.len() * quads * R;
    debug_assert!(ho <= plan.hq && wo <= wq);
    for q0 in (0..pixels).step_by(TILE) {
        // Where each register's lanes land: (lane mask, offset of lane 0 in the output).
        let mut segs = [[(0u16, 0isize); 16]; P];
        let mut nsegs = [0usize; P];
        for p in 0..P {
            let mut lane = 0;
            while lane < 16 {
                let q = q0 + 16 * p + lane;
                let (oh, ow) = (q / wq, q % wq);
                if oh >= ho {
                    break;
                }
                let run = (16 - lane).min(wq - ow);
                if ow < wo {
                    let valid = run.min(wo - ow);
                    let mask = (((1u32 << valid) - 1) << lane) as u16;
                    segs[p][nsegs[p]] = (mask, (oh * wo + ow) as isize - lane as isize);
                    nsegs[p] += 1;
                }
                lane += run;
            }
        }
        for ft in 0..plan.f_tiles {
            let mut acc = [[_mm512_setzero_si512(); P]; R];
            let mut wt = packed.as_ptr().add(ft * per_tile);
            for &off in taps {
                let mut xp = img.as_ptr().add((q0 + off) * 4);
                for _ in 0..quads {
                    let xv: [__m512i; P] =
                        std::array::from_fn(|p| _mm512_loadu_si512(xp.add(64 * p) as *const _));
                    for (r, row) in acc.iter_mut().enumerate() {
                        let b = _mm512_set1_epi32(*wt.add(r));
                        for (a, &x) in row.iter_mut().zip(&xv) {
                            *a = _mm512_dpbusd_epi32(*a, x, b);
                        }
                    }
                    wt = wt.add(R);
                    xp = xp.add(plane_bytes);
                }
            }
            for (r, row) in acc.iter().enumerate() {
                let f = ft * R + r;
                if f >= g.f {
                    break;
                }
                let yf = y.add(f * out_len);
                let sub = _mm512_set1_epi32(sums[f]);
                for (p, &v) in row.iter().enumerate() {
                    let v = _mm512_sub_epi32(v, sub);
                    for &(mask, at) in &segs[p][..nsegs[p]] {
                        // Lanes outside `mask` are not written (nor faulted on), so lane 0's
                        // address may lie before the row.
                        _mm512_mask_storeu_epi32(yf.wrapping_offset(at), mask, v);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::cpu::conv::forward_int8_im2col;

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *seed >> 33
    }

    /// The convolution by its definition, in i64.
    fn naive(g: &Geom, x: &[i64], w: &[i64]) -> Vec<i32> {
        let [_, h, wd] = g.input;
        let [_, ho, wo] = g.output;
        let [_, kh, kw] = g.kernel;
        let [_, dh, dw] = g.dilate;
        let [_, ph, pw] = g.pad;
        let [_, sh, sw] = g.stride;
        let mut y = vec![0i32; g.n * g.f * ho * wo];
        for i in 0..g.n {
            for f in 0..g.f {
                for oh in 0..ho {
                    for ow in 0..wo {
                        let mut s = 0i64;
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
                                    s += xv * w[((f * g.c + c) * kh + a) * kw + b];
                                }
                            }
                        }
                        y[((i * g.f + f) * ho + oh) * wo + ow] = s as i32;
                    }
                }
            }
        }
        y
    }

    /// A 2-D geometry; `win` is the kernel, stride, dilation and padding.
    fn geom(n: usize, c: usize, f: usize, hw: [usize; 2], win: [[usize; 2]; 4]) -> Geom {
        let [k, s, d, p] = win;
        let out = |i: usize| (hw[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) / s[i] + 1;
        Geom {
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
        }
    }

    fn check<X: IElem + Default + Into<i64>>(g: &Geom, seed: u64, byte: impl Fn(u64) -> X) {
        let mut s = seed;
        let x: Vec<X> = (0..g.n * g.c * g.in_len())
            .map(|_| byte(lcg(&mut s)))
            .collect();
        let w: Vec<i8> = (0..g.f * g.c * g.k_len())
            .map(|_| lcg(&mut s) as u8 as i8)
            .collect();
        let xi: Vec<i64> = x.iter().map(|&v| v.into()).collect();
        let wi: Vec<i64> = w.iter().map(|&v| v as i64).collect();
        let len = g.f * g.out_len();
        let want = naive(g, &xi, &wi);
        let run = |direct: bool| {
            let y = std::sync::Mutex::new(vec![7i32; g.n * len]);
            let put = |i: usize, yi: &[i32]| {
                y.lock().unwrap()[i * len..(i + 1) * len].copy_from_slice(yi)
            };
            if direct {
                forward(g, &x, &w, put)
            } else {
                forward_int8_im2col(g, &x, &w, put)
            }
            y.into_inner().unwrap()
        };
        // The im2col path is the fallback on other CPUs and geometries: checked here too.
        assert_eq!(run(false), want, "im2col {g:?}");
        if has_vnni512() {
            assert_eq!(run(true), want, "direct {g:?}");
        }
    }

    #[test]
    fn matches_the_definition_for_odd_geometries() {
        if !has_vnni512() {
            eprintln!("this CPU has no AVX-512 VNNI: only the im2col path is checked");
        }
        let cases = [
            geom(2, 5, 9, [7, 6], [[3, 3], [1, 1], [1, 1], [1, 1]]),
            geom(1, 64, 16, [28, 28], [[3, 3], [1, 1], [1, 1], [1, 1]]),
            geom(3, 3, 8, [5, 40], [[1, 1], [1, 1], [1, 1], [0, 0]]),
            geom(1, 4, 17, [9, 11], [[5, 3], [1, 1], [2, 1], [2, 0]]),
            geom(2, 7, 3, [1, 50], [[1, 7], [1, 1], [1, 3], [0, 4]]),
            geom(1, 2, 1, [2, 2], [[2, 2], [1, 1], [1, 1], [0, 0]]),
            geom(1, 9, 24, [16, 17], [[3, 3], [1, 1], [2, 2], [3, 0]]),
            geom(2, 16, 8, [14, 14], [[3, 3], [2, 2], [1, 1], [1, 1]]),
            geom(1, 6, 5, [15, 9], [[1, 1], [2, 2], [1, 1], [0, 0]]),
            geom(1, 5, 11, [13, 19], [[3, 5], [3, 2], [2, 1], [1, 2]]),
            geom(1, 3, 8, [23, 23], [[7, 7], [2, 2], [1, 1], [3, 3]]),
        ];
        for (i, g) in cases.iter().enumerate() {
            check(g, i as u64, |v| v as u8);
            check(g, 100 + i as u64, |v| v as u8 as i8);
        }
    }

    #[test]
    fn extremes_are_exact() {
        let g = geom(1, 64, 8, [6, 6], [[3, 3], [2, 1], [1, 1], [1, 1]]);
        check(&g, 1, |v| if v % 2 == 0 { 255u8 } else { 254 });
        check(&g, 2, |v| if v % 2 == 0 { -128i8 } else { 127 });
    }
}
