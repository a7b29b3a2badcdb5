//! The quantized convolution without a column matrix, for the common case (one group, 1-D or
//! 2-D) on CPUs with 512-bit VNNI or with AVX2.
//!
//! The im2col plan unfolds every sample into a (c·kernel) × pixels byte matrix and then packs
//! it again for the GEMM; for a 3×3 layer those two passes cost more than the products. Here
//! each sample is copied once into a zero-bordered image whose 32-bit slots hold several
//! channels of one pixel (`[phase][c/k][pixel][k]`), where the pixels that one register
//! multiplies read consecutive slots: a kernel tap is just an offset. With stride s the padded
//! image is split into s×s phases (rows ≡ a, columns ≡ b mod s), so a tap reads one phase at
//! unit stride. Output pixels are numbered across the phase width (`q = oh·wq + ow`), so one
//! offset serves every row; the `wq - wo` columns that wrap around are computed and never
//! stored. The weights are broadcast one slot (k channels of one filter) at a time.
//!
//! Two slot formats, by CPU (integer sums: both give the same bits):
//! - `Vnni512`: four channels as bytes, sixteen pixels per register. `vpdpbusd` multiplies
//!   unsigned by signed bytes: the image is the unsigned side (int8 data is offset by 128 on
//!   the way in, its border too, and 128·Σw taken off each filter's sums).
//! - `Avx2`: two channels widened to i16, eight pixels per register, `vpmaddwd` (no offset:
//!   both sides are signed 16-bit, the products and their pair sums exact).
//!
//! Sums are exact int32 (wrapping), so results are bit-identical to the im2col path.

use super::conv::Geom;
use super::igemm::IElem;
use super::{par_ranges, Ptr};
use crate::runtime::rt;

/// The direct kernel a CPU runs.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Isa {
    Vnni512,
    Avx2,
}

impl Isa {
    /// The best kernel this CPU has, if any.
    fn detect() -> Option<Isa> {
        Isa::available().into_iter().next()
    }

    /// Every kernel this CPU can run, best first.
    #[cfg(target_arch = "x86_64")]
    fn available() -> Vec<Isa> {
        let mut v = Vec::new();
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vnni")
        {
            v.push(Isa::Vnni512);
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            v.push(Isa::Avx2);
        }
        v
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn available() -> Vec<Isa> {
        Vec::new()
    }

    /// Channels per 32-bit slot.
    fn per_slot(self) -> usize {
        match self {
            Isa::Vnni512 => 4,
            Isa::Avx2 => 2,
        }
    }

    /// Pixels (slots) per register.
    fn lanes(self) -> usize {
        match self {
            Isa::Vnni512 => 16,
            Isa::Avx2 => 8,
        }
    }

    /// Filters per register tile.
    fn filters(self) -> usize {
        match self {
            Isa::Vnni512 => 8,
            Isa::Avx2 => AVX2_R,
        }
    }

    /// Pixel registers per tile: with the filters, as many accumulators as leave room for
    /// the image registers, the broadcast weight and (AVX2) the product.
    fn regs(self) -> usize {
        match self {
            Isa::Vnni512 => 3,
            Isa::Avx2 => AVX2_P,
        }
    }
}

const AVX2_R: usize = 4;
const AVX2_P: usize = 3;

/// Whether [`forward`] takes this convolution on this CPU.
pub fn applies(g: &Geom) -> bool {
    g.groups == 1
        && g.input[0] == 1
        && g.kernel[0] == 1
        && g.pad[0] == 0
        && g.c > 0
        && g.out_len() > 0
        && Isa::detect().is_some_and(|isa| Plan::new(g, isa).waste(g) <= 1.3)
}

/// Sizes of one sample's interleaved image and of the pixel walk over it.
struct Plan {
    isa: Isa,
    /// Channel slots (channels / per_slot, rounded up).
    slots: usize,
    /// Height and width of one phase of the padded image.
    hq: usize,
    wq: usize,
    /// Pixels per channel slot of a phase: the phase plus the slack that the wrapped columns
    /// and the last partial tile read past its end.
    plane: usize,
    /// Where each phase (row phase · sw + column phase) lies in the image, in planes of
    /// `slots`; phases no tap reads (a strided 1×1 kernel reads one) are not stored.
    phases: Vec<Option<usize>>,
    /// Offset of each kernel tap from the image's start in pixels (phase included), in the
    /// weights' (kh, kw) order.
    taps: Vec<usize>,
    /// Filters rounded up to whole tiles.
    f_tiles: usize,
}

impl Plan {
    fn new(g: &Geom, isa: Isa) -> Plan {
        let [_, h, w] = g.input;
        let [_, kh, kw] = g.kernel;
        let [_, dh, dw] = g.dilate;
        let [_, ph, pw] = g.pad;
        let [_, sh, sw] = g.stride;
        let (hq, wq) = ((h + 2 * ph).div_ceil(sh), (w + 2 * pw).div_ceil(sw));
        let slots = g.c.div_ceil(isa.per_slot());
        // Output row oh reads phase rows up to oh + (kh-1)·dh/sh < hq, and columns up to
        // wq - 1 + (kw-1)·dw/sw < 2·wq.
        let plane = hq * wq + wq + isa.regs() * isa.lanes();
        let offsets: Vec<(usize, usize, usize)> = (0..kh)
            .flat_map(|a| (0..kw).map(move |b| (a * dh, b * dw)))
            .map(|(y, x)| ((y % sh) * sw + x % sw, y / sh, x / sw))
            .collect();
        let mut phases = vec![None; sh * sw];
        let mut used = 0;
        for &(phase, ..) in &offsets {
            if phases[phase].is_none() {
                phases[phase] = Some(used);
                used += 1;
            }
        }
        let taps = offsets
            .iter()
            .map(|&(phase, y, x)| phases[phase].unwrap_or(0) * slots * plane + y * wq + x)
            .collect();
        Plan {
            isa,
            slots,
            hq,
            wq,
            plane,
            phases,
            taps,
            f_tiles: g.f.div_ceil(isa.filters()),
        }
    }

    /// Pixels computed per output pixel: the wrapped columns and the last tile's tail. Small
    /// planes (7×7) waste half their products, where im2col wastes none.
    fn waste(&self, g: &Geom) -> f64 {
        let step = self.isa.regs() * self.isa.lanes();
        let computed = (g.output[1] * self.wq).div_ceil(step) * step;
        computed as f64 / g.out_len() as f64
    }

    /// Channel values in one sample's image (`S` per channel).
    fn image_len(&self) -> usize {
        let used = self.phases.iter().flatten().count();
        used * self.slots * self.plane * self.isa.per_slot()
    }

    /// Copies one sample (c × h × w) into `img` as `to` converts each value, the border at
    /// `zero`.
    fn interleave<X: IElem, S: Copy>(
        &self,
        g: &Geom,
        x: &[X],
        zero: S,
        to: impl Fn(X) -> S,
        img: &mut [S],
    ) {
        let [_, h, w] = g.input;
        let [_, ph, pw] = g.pad;
        let [_, sh, sw] = g.stride;
        let (slots, plane, wq, k) = (self.slots, self.plane, self.wq, self.isa.per_slot());
        let base = |phase: usize| self.phases[phase].map(|at| at * slots * plane);
        img.fill(zero);
        for c in 0..g.c {
            let (q, lane) = (c / k, c % k);
            for (r, src) in x[c * h * w..(c + 1) * h * w].chunks_exact(w).enumerate() {
                let y = r + ph;
                let row = q * plane + (y / sh) * wq;
                // Column phase b holds the input columns iw ≡ b - pw (mod sw), consecutively.
                for b in 0..sw {
                    let Some(at) = base((y % sh) * sw + b) else {
                        continue;
                    };
                    let iw0 = (b + sw - pw % sw) % sw;
                    if iw0 >= w {
                        continue;
                    }
                    let dst = img[(at + row + (iw0 + pw) / sw) * k..].chunks_exact_mut(k);
                    if sw == 1 {
                        // (StepBy's loop does not vectorise.)
                        dst.zip(src).for_each(|(d, &v)| d[lane] = to(v));
                    } else {
                        let src = src[iw0..].iter().step_by(sw);
                        dst.zip(src).for_each(|(d, &v)| d[lane] = to(v));
                    }
                }
            }
        }
    }

    /// Where each register's lanes of the pixel tile at `q0` land: per register, runs of
    /// (first lane, lanes, output offset of the first lane); the wrapped columns and the rows
    /// past the end are left out.
    fn segments(&self, g: &Geom, q0: usize) -> Vec<Vec<(usize, usize, usize)>> {
        let [_, ho, wo] = g.output;
        let (wq, lanes) = (self.wq, self.isa.lanes());
        (0..self.isa.regs())
            .map(|p| {
                let mut runs = Vec::new();
                let mut lane = 0;
                while lane < lanes {
                    let q = q0 + lanes * p + lane;
                    let (oh, ow) = (q / wq, q % wq);
                    if oh >= ho {
                        break;
                    }
                    let run = (lanes - lane).min(wq - ow);
                    if ow < wo {
                        runs.push((lane, run.min(wo - ow), oh * wo + ow));
                    }
                    lane += run;
                }
                runs
            })
            .collect()
    }
}

/// Weights `w` (f × c × kh × kw int8) as the kernel reads them: per tile of filters, per tap,
/// per channel slot, one slot per filter; missing filters and channels are zero. Also 128·Σw
/// per filter when the data is offset by 128.
fn pack_weights(g: &Geom, plan: &Plan, w: &[i8], offset: bool) -> (Vec<i32>, Vec<i32>) {
    let (taps, k, r_tile) = (plan.taps.len(), plan.isa.per_slot(), plan.isa.filters());
    let bits = 32 / k;
    let mask = ((1u64 << bits) - 1) as i32;
    let mut packed = vec![0i32; plan.f_tiles * taps * plan.slots * r_tile];
    for f in 0..g.f {
        let (ft, r) = (f / r_tile, f % r_tile);
        for c in 0..g.c {
            for t in 0..taps {
                let v = (w[(f * g.c + c) * taps + t] as i32) & mask;
                let at = ((ft * taps + t) * plan.slots + c / k) * r_tile + r;
                packed[at] |= v << (bits * (c % k));
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
    if let Some(isa) = Isa::detect() {
        forward_on(isa, g, x, w, per_sample)
    }
}

fn forward_on<X: IElem>(
    isa: Isa,
    g: &Geom,
    x: &[X],
    w: &[i8],
    per_sample: impl Fn(usize, &[i32]) + Sync + Send,
) {
    let plan = Plan::new(g, isa);
    let offset = isa == Isa::Vnni512 && !X::UNSIGNED;
    let (packed, sums) = pack_weights(g, &plan, w, offset);
    let (in_len, out_len) = (g.in_len(), g.out_len());
    let work = g.f * g.c * plan.taps.len() * out_len;
    // Fewer samples than threads (batch-1 inference): each sample's filters are split.
    let split = g.n < rt().pool.current_num_threads();
    par_ranges(g.n, work, |b, e| {
        let mut y = vec![0i32; g.f * out_len];
        let mut bytes = Vec::new();
        let mut wide = Vec::new();
        for i in b..e {
            let xi = &x[i * g.c * in_len..(i + 1) * g.c * in_len];
            match isa {
                Isa::Vnni512 => {
                    bytes.resize(plan.image_len(), 0u8);
                    let zero = if offset { 0x80 } else { 0 };
                    plan.interleave(g, xi, zero, |v| v.bits() ^ zero, &mut bytes);
                    #[cfg(target_arch = "x86_64")]
                    sample(g, &plan, &packed, &mut y, split, |q0, segs, ft, y| {
                        // SAFETY: `Isa::detect` found the CPU features; `bytes` and `packed`
                        // are what `plan` made, `sample` passes a tile inside them and `y`.
                        unsafe { tile_vnni512(g, &plan, &bytes, &packed, &sums, q0, segs, ft, y) }
                    });
                }
                Isa::Avx2 => {
                    wide.resize(plan.image_len(), 0i16);
                    plan.interleave(g, xi, 0, |v| v.widen(), &mut wide);
                    #[cfg(target_arch = "x86_64")]
                    sample(g, &plan, &packed, &mut y, split, |q0, segs, ft, y| {
                        // SAFETY: as above.
                        unsafe { tile_avx2(g, &plan, &wide, &packed, q0, segs, ft, y) }
                    });
                }
            }
            per_sample(i, &y);
        }
    });
}

/// Packed weight bytes of the filter tiles that one pass over a sample's pixels takes: they
/// stay in L2 while every pixel tile reads them (512×512 3×3 filters would not).
const WEIGHT_BLOCK: usize = 128 << 10;

/// One sample's output (`y`: f × out_len int32), tile by tile: `tile(q0, segments, ft, rows)`
/// computes filter tile ft at pixel tile q0 and stores it into `rows`, the output from filter
/// ft·R on. Filter tiles go in blocks whose weights fit [`WEIGHT_BLOCK`], each block over all
/// pixel tiles; with `parallel` (fewer samples than threads) the filter tiles are split
/// between the threads.
fn sample(
    g: &Geom,
    plan: &Plan,
    packed: &[i32],
    y: &mut [i32],
    parallel: bool,
    tile: impl Fn(usize, &[Vec<(usize, usize, usize)>], usize, &mut [i32]) + Sync,
) {
    debug_assert!(g.output[1] <= plan.hq && g.output[2] <= plan.wq);
    let tile_bytes = packed.len() * 4 / plan.f_tiles.max(1);
    let block = (WEIGHT_BLOCK / tile_bytes.max(1)).max(1);
    let pixels = g.output[1] * plan.wq;
    let step = plan.isa.regs() * plan.isa.lanes();
    let rows = plan.isa.filters() * g.out_len();
    // Filter tiles [b, e) into `ys`, the output from filter tile b on.
    let run = |b: usize, e: usize, ys: &mut [i32]| {
        for f0 in (b..e).step_by(block) {
            for q0 in (0..pixels).step_by(step) {
                let segs = plan.segments(g, q0);
                for ft in f0..(f0 + block).min(e) {
                    tile(q0, &segs, ft, &mut ys[(ft - b) * rows..]);
                }
            }
        }
    };
    if !parallel {
        return run(0, plan.f_tiles, y);
    }
    let (len, out) = (y.len(), Ptr(y.as_mut_ptr()));
    par_ranges(plan.f_tiles, tile_bytes * pixels, |b, e| {
        let (lo, hi) = (b * rows, (e * rows).min(len));
        // SAFETY: filter tiles [b, e) own output rows [lo, hi), inside y.
        run(b, e, unsafe {
            std::slice::from_raw_parts_mut(out.get().add(lo), hi - lo)
        });
    });
}

/// Filter tile `ft` at pixel tile `q0` from the byte image, stored into `y` (the tile's rows
/// of the output, from filter ft·R on).
///
/// # Safety
/// The CPU has AVX-512 F, BW and VNNI; `img`, `packed` and `sums` are what `plan` (for
/// `Isa::Vnni512`) and `pack_weights` made for `g`; `q0`, `segs` and `ft` come from [`sample`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
#[allow(clippy::too_many_arguments)]
unsafe fn tile_vnni512(
    g: &Geom,
    plan: &Plan,
    img: &[u8],
    packed: &[i32],
    sums: &[i32],
    q0: usize,
    segs: &[Vec<(usize, usize, usize)>],
    ft: usize,
    y: &mut [i32],
) {
    use std::arch::x86_64::*;
    const R: usize = 8;
    const P: usize = 3;
    debug_assert!(plan.isa.filters() == R && plan.isa.regs() == P && plan.isa.lanes() == 16);
    let (slots, taps, out_len) = (plan.slots, &plan.taps[..], g.out_len());
    let plane_bytes = plan.plane * 4;
    let mut acc = [[_mm512_setzero_si512(); P]; R];
    let mut wt = packed.as_ptr().add(ft * taps.len() * slots * R);
    for &off in taps {
        let mut xp = img.as_ptr().add((q0 + off) * 4);
        for _ in 0..slots {
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
        let yf = y[r * out_len..(r + 1) * out_len].as_mut_ptr();
        let sub = _mm512_set1_epi32(sums[f]);
        for (p, &v) in row.iter().enumerate() {
            let v = _mm512_sub_epi32(v, sub);
            for &(lane, n, at) in &segs[p] {
                let mask = (((1u32 << n) - 1) << lane) as u16;
                // Lanes outside `mask` are not written (nor faulted on), so lane 0's address
                // may lie before the row.
                _mm512_mask_storeu_epi32(yf.wrapping_add(at).wrapping_sub(lane), mask, v);
            }
        }
    }
}

/// Filter tile `ft` at pixel tile `q0` from the i16 image, stored into `y` (the tile's rows
/// of the output, from filter ft·R on).
///
/// # Safety
/// The CPU has AVX2; `img` and `packed` are what `plan` (for `Isa::Avx2`) and `pack_weights`
/// made for `g`; `q0`, `segs` and `ft` come from [`sample`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn tile_avx2(
    g: &Geom,
    plan: &Plan,
    img: &[i16],
    packed: &[i32],
    q0: usize,
    segs: &[Vec<(usize, usize, usize)>],
    ft: usize,
    y: &mut [i32],
) {
    use std::arch::x86_64::*;
    const R: usize = AVX2_R;
    const P: usize = AVX2_P;
    debug_assert!(plan.isa.filters() == R && plan.isa.regs() == P && plan.isa.lanes() == 8);
    let (slots, taps, out_len) = (plan.slots, &plan.taps[..], g.out_len());
    let plane_halves = plan.plane * 2;
    let mut acc = [[_mm256_setzero_si256(); P]; R];
    let mut wt = packed.as_ptr().add(ft * taps.len() * slots * R);
    for &off in taps {
        let mut xp = img.as_ptr().add((q0 + off) * 2);
        for _ in 0..slots {
            let xv: [__m256i; P] =
                std::array::from_fn(|p| _mm256_loadu_si256(xp.add(16 * p) as *const __m256i));
            for (r, row) in acc.iter_mut().enumerate() {
                let b = _mm256_set1_epi32(*wt.add(r));
                for (a, &x) in row.iter_mut().zip(&xv) {
                    *a = _mm256_add_epi32(*a, _mm256_madd_epi16(x, b));
                }
            }
            wt = wt.add(R);
            xp = xp.add(plane_halves);
        }
    }
    // SAFETY: eight i32 lanes per register, no padding.
    let sums: [[[i32; 8]; P]; R] = std::mem::transmute(acc);
    for (r, row) in sums.iter().take(g.f - ft * R).enumerate() {
        let yf = &mut y[r * out_len..(r + 1) * out_len];
        for (lanes, runs) in row.iter().zip(segs) {
            for &(lane, n, at) in runs {
                yf[at..at + n].copy_from_slice(&lanes[lane..lane + n]);
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
        let run = |direct: Option<Isa>| {
            let y = std::sync::Mutex::new(vec![7i32; g.n * len]);
            let put = |i: usize, yi: &[i32]| {
                y.lock().unwrap()[i * len..(i + 1) * len].copy_from_slice(yi)
            };
            if let Some(isa) = direct {
                forward_on(isa, g, &x, &w, put)
            } else {
                forward_int8_im2col(g, &x, &w, put)
            }
            y.into_inner().unwrap()
        };
        // The im2col path is the fallback on other CPUs and geometries: checked here too.
        assert_eq!(run(None), want, "im2col {g:?}");
        for isa in Isa::available() {
            assert_eq!(run(Some(isa)), want, "direct {isa:?} {g:?}");
        }
    }

    #[test]
    fn matches_the_definition_for_odd_geometries() {
        if Isa::available().is_empty() {
            eprintln!(
                "this CPU has neither AVX-512 VNNI nor AVX2: only the im2col path is checked"
            );
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
            // Weights past WEIGHT_BLOCK: the filter tiles go in several blocks.
            geom(2, 256, 72, [6, 5], [[3, 3], [1, 1], [1, 1], [1, 1]]),
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
