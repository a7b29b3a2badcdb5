//! OpenCV 3.4's `cv::resize` of uint8 (H, W, C) images, the arithmetic MXNet 1.9.1's image
//! iterators and `mx.image.imresize` inherit, bit for bit: source positions in double,
//! fractions and kernel coefficients in float32, 11-bit fixed-point weights. Bilinear (and
//! area when it grows an axis) rounds the vertical pass the way OpenCV's SIMD rows do;
//! bicubic sums the first multiple of 8 values of each output row in float32 (its SSE2 rows)
//! and the rest exactly in integers, rounded half up, as Lanczos all of them; area shrinking
//! by whole factors averages blocks (2x2 ones rounded half up, as does bilinear at exactly
//! half size), by other factors weighs the covered cells in float32. (`tests/python/
//! test_image.py` holds MXNet's outputs; `tests/python/cv_resize_model.py` is the numpy
//! statement of the same rules.)
//!
//! A resize is a `Plan` (the taps of every output column and row) applied to blocks of output
//! rows; each block runs the horizontal pass once per source row it needs.

use crate::error::{Error, Result};

pub const NEAREST: i64 = 0;
pub const LINEAR: i64 = 1;
pub const CUBIC: i64 = 2;
pub const AREA: i64 = 3;
pub const LANCZOS4: i64 = 4;

const COEF_BITS: u32 = 11;
const COEF_SCALE: f32 = (1 << COEF_BITS) as f32;

/// Source indices and weights of `k` taps for each of `dst` output positions.
#[derive(Debug, Clone, PartialEq)]
pub struct Taps<W> {
    pub k: usize,
    pub idx: Vec<usize>,
    pub w: Vec<W>,
}

impl<W: Copy> Taps<W> {
    fn of(&self, d: usize) -> (&[usize], &[W]) {
        (
            &self.idx[d * self.k..(d + 1) * self.k],
            &self.w[d * self.k..(d + 1) * self.k],
        )
    }
}

/// Float32 position of output `d` in the source, OpenCV's `(d + 0.5) * scale - 0.5`.
fn center(d: usize, scale: f64) -> f32 {
    ((d as f64 + 0.5) * scale - 0.5) as f32
}

fn clamp_index(i: i64, src: usize) -> usize {
    i.clamp(0, src as i64 - 1) as usize
}

/// cvRound of a float32 weight scaled to 11 bits (half to even).
fn fixed(w: f32) -> i32 {
    (w * COEF_SCALE).round_ties_even() as i32
}

/// Bilinear: left/right source index and float32 fraction. OpenCV resets the fraction at the
/// borders horizontally only (`clamp_weights`); vertically it just clamps the indices.
pub fn linear_taps(src: usize, dst: usize, clamp_weights: bool) -> Taps<f32> {
    let scale = 1.0 / (dst as f64 / src as f64);
    let last = src as i64 - 1;
    let mut t = Taps {
        k: 2,
        idx: Vec::with_capacity(2 * dst),
        w: Vec::with_capacity(2 * dst),
    };
    for d in 0..dst {
        let pos = center(d, scale);
        let mut i0 = pos.floor() as i64;
        let mut f = pos - i0 as f32;
        if clamp_weights {
            if i0 < 0 {
                (f, i0) = (0.0, 0);
            }
            if i0 >= last {
                (f, i0) = (0.0, last);
            }
        }
        t.idx
            .extend([clamp_index(i0, src), clamp_index(i0 + 1, src)]);
        t.w.extend([1.0 - f, f]);
    }
    t
}

/// Nearest: floor(d / (dst / src)), clamped. OpenCV steps by 1 / (dst / src), not src / dst
/// (every interpolation here does): the two differ in the last bit, and where the product is
/// whole that picks the neighbour.
pub fn nearest_taps(src: usize, dst: usize) -> Vec<usize> {
    let scale = 1.0 / (dst as f64 / src as f64);
    (0..dst)
        .map(|d| ((d as f64 * scale).floor() as usize).min(src - 1))
        .collect()
}

/// Area on a growing axis: two taps whose fraction is the part of the output cell past the
/// source cell boundary.
fn area_up_taps(src: usize, dst: usize, clamp_weights: bool) -> Taps<f32> {
    let inv = dst as f64 / src as f64;
    let scale = 1.0 / inv;
    let mut t = Taps {
        k: 2,
        idx: Vec::with_capacity(2 * dst),
        w: Vec::with_capacity(2 * dst),
    };
    for d in 0..dst {
        let df = d as f64;
        let mut i0 = (df * scale).floor() as i64;
        let raw = ((df + 1.0) - (i0 + 1) as f64 * inv) as f32;
        let mut f = if raw <= 0.0 { 0.0 } else { raw - raw.floor() };
        if clamp_weights && i0 >= src as i64 - 1 {
            (f, i0) = (0.0, src as i64 - 1);
        }
        t.idx
            .extend([clamp_index(i0, src), clamp_index(i0 + 1, src)]);
        t.w.extend([1.0 - f, f]);
    }
    t
}

/// Area on a shrinking axis: every source cell the output cell covers, weighted by overlap.
/// OpenCV's `computeResizeAreaTab`: fractions in double, stored as float32.
fn area_down_taps(src: usize, dst: usize) -> Taps<f32> {
    let scale = 1.0 / (dst as f64 / src as f64);
    let rows: Vec<Vec<(usize, f64)>> = (0..dst)
        .map(|d| {
            let fs1 = d as f64 * scale;
            let fs2 = fs1 + scale;
            let cell = scale.min(src as f64 - fs1);
            let s2 = (fs2.floor() as usize).min(src - 1);
            let s1 = (fs1.ceil() as usize).min(s2);
            let mut taps = Vec::new();
            if s1 as f64 - fs1 > 1e-3 {
                taps.push((s1 - 1, (s1 as f64 - fs1) / cell));
            }
            taps.extend((s1..s2).map(|s| (s, 1.0 / cell)));
            if fs2 - s2 as f64 > 1e-3 {
                taps.push((s2, (fs2 - s2 as f64).min(1.0).min(cell) / cell));
            }
            taps
        })
        .collect();
    let k = rows.iter().map(Vec::len).max().unwrap_or(1).max(1);
    // short rows are padded with weight-0 taps on their last source index, so that a block
    // of output rows never reads rows outside the ones it covers
    let mut t = Taps {
        k,
        idx: Vec::with_capacity(k * dst),
        w: Vec::with_capacity(k * dst),
    };
    for taps in &rows {
        let last = taps.last().map_or(0, |&(s, _)| s);
        for j in 0..k {
            let (s, w) = taps.get(j).copied().unwrap_or((last, 0.0));
            t.idx.push(s);
            t.w.push(w as f32);
        }
    }
    t
}

/// OpenCV's `interpolateCubic`, in float32 as it computes (the last weight completes 1).
fn cubic_coeffs(x: f32) -> [f32; 4] {
    let a = -0.75f32;
    let c0 = ((a * (x + 1.0) - 5.0 * a) * (x + 1.0) + 8.0 * a) * (x + 1.0) - 4.0 * a;
    let c1 = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    let c2 = ((a + 2.0) * (1.0 - x) - (a + 3.0)) * (1.0 - x) * (1.0 - x) + 1.0;
    [c0, c1, c2, 1.0 - c0 - c1 - c2]
}

/// OpenCV's `interpolateLanczos4`: offsets in float32, the sines in double from one angle
/// by the addition theorem, the normalising sum in float32.
fn lanczos4_coeffs(x: f32) -> [f32; 8] {
    if x < f32::EPSILON {
        return [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0];
    }
    const S45: f64 = std::f64::consts::FRAC_1_SQRT_2;
    const CS: [(f64, f64); 8] = [
        (1.0, 0.0),
        (-S45, -S45),
        (0.0, 1.0),
        (S45, -S45),
        (-1.0, 0.0),
        (S45, S45),
        (0.0, -1.0),
        (-S45, S45),
    ];
    let quarter = std::f64::consts::PI * 0.25;
    let y0 = -f64::from(x + 3.0) * quarter;
    let (s0, c0) = (y0.sin(), y0.cos());
    let mut c = [0.0f32; 8];
    let mut sum = 0.0f32;
    for (i, (v, (a, b))) in c.iter_mut().zip(CS).enumerate() {
        let y = -f64::from(x + 3.0 - i as f32) * quarter;
        *v = ((a * s0 + b * c0) / (y * y)) as f32;
        sum += *v;
    }
    let inv = 1.0 / sum;
    c.map(|v| v * inv)
}

/// A `ksize`-tap kernel centred on each output position, borders replicated.
fn kernel_taps<const K: usize>(src: usize, dst: usize, coeffs: fn(f32) -> [f32; K]) -> Taps<f32> {
    let scale = 1.0 / (dst as f64 / src as f64);
    let mut t = Taps {
        k: K,
        idx: Vec::with_capacity(K * dst),
        w: Vec::with_capacity(K * dst),
    };
    for d in 0..dst {
        let pos = center(d, scale);
        let i0 = pos.floor();
        let frac = pos - i0;
        let first = i0 as i64 - (K as i64 / 2 - 1);
        t.idx
            .extend((0..K as i64).map(|j| clamp_index(first + j, src)));
        t.w.extend(coeffs(frac));
    }
    t
}

fn to_fixed(t: Taps<f32>) -> Taps<i32> {
    Taps {
        k: t.k,
        idx: t.idx,
        w: t.w.into_iter().map(fixed).collect(),
    }
}

/// How the vertical pass sums and rounds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Round {
    /// OpenCV's bilinear vector rows: high 16 bits of (row >> 4) * weight, summed, then >> 2
    /// rounded.
    Simd,
    /// Bicubic: OpenCV's SSE2 rows (`VResizeCubicVec_32s8u`) take 8 values at a time, in
    /// float32 (rows times weights / 2^22, added left to right, rounded half to even); the
    /// values after the last multiple of 8 fall to `HalfUp`.
    CubicVec,
    /// The exact integer sum over 2^22, rounded half up (`FixedPtCast`).
    HalfUp,
}

#[derive(Debug)]
enum Kind {
    Nearest {
        xs: Vec<usize>,
        ys: Vec<usize>,
    },
    Fixed {
        x: Taps<i32>,
        y: Taps<i32>,
        round: Round,
    },
    /// Shrinking by whole factors: the mean of each block.
    AreaFast {
        sx: usize,
        sy: usize,
    },
    Area {
        x: Taps<f32>,
        y: Taps<f32>,
    },
}

/// Everything about one resize that does not depend on the pixels.
#[derive(Debug)]
pub struct Plan {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub oh: usize,
    pub ow: usize,
    kind: Kind,
}

impl Plan {
    /// `(h, w, c)` to `(oh, ow, c)` with OpenCV interpolation code `interp` (0-4).
    pub fn new(
        op: &str,
        (h, w, c): (usize, usize, usize),
        (oh, ow): (usize, usize),
        interp: i64,
    ) -> Result<Plan> {
        if h == 0 || w == 0 || c == 0 || oh == 0 || ow == 0 {
            return Err(Error::shape(
                op,
                format!(
                    "cannot resize a {h}x{w}x{c} image to {oh}x{ow}: every size must be positive"
                ),
            ));
        }
        // OpenCV takes whole shrink factors to its block average, and bilinear too at half size.
        let whole = ow <= w && oh <= h && w % ow == 0 && h % oh == 0;
        let half = w == 2 * ow && h == 2 * oh;
        let kind = match interp {
            NEAREST => Kind::Nearest { xs: nearest_taps(w, ow), ys: nearest_taps(h, oh) },
            LINEAR | AREA if half || (interp == AREA && whole) => Kind::AreaFast { sx: w / ow, sy: h / oh },
            LINEAR => Kind::Fixed {
                x: to_fixed(linear_taps(w, ow, true)),
                y: to_fixed(linear_taps(h, oh, false)),
                round: Round::Simd,
            },
            AREA if ow <= w && oh <= h => Kind::Area { x: area_down_taps(w, ow), y: area_down_taps(h, oh) },
            AREA => Kind::Fixed {
                x: to_fixed(area_up_taps(w, ow, true)),
                y: to_fixed(area_up_taps(h, oh, false)),
                round: Round::Simd,
            },
            CUBIC => Kind::Fixed {
                x: to_fixed(kernel_taps(w, ow, cubic_coeffs)),
                y: to_fixed(kernel_taps(h, oh, cubic_coeffs)),
                round: Round::CubicVec,
            },
            LANCZOS4 => Kind::Fixed {
                x: to_fixed(kernel_taps(w, ow, lanczos4_coeffs)),
                y: to_fixed(kernel_taps(h, oh, lanczos4_coeffs)),
                round: Round::HalfUp,
            },
            _ => {
                return Err(Error::param(
                    op,
                    format!(
                        "unknown interpolation {interp}: OpenCV's codes are 0 nearest, 1 bilinear, 2 bicubic, 3 area, 4 Lanczos"
                    ),
                ))
            }
        };
        Ok(Plan {
            h,
            w,
            c,
            oh,
            ow,
            kind,
        })
    }

    /// The whole image `src` (h * w * c) resized into `out` (oh * ow * c).
    pub fn run(&self, src: &[u8], out: &mut [u8]) {
        self.run_rows(src, 0, self.oh, out);
    }

    /// Output rows `[r0, r1)` of the image `src` into `out` ((r1 - r0) * ow * c values).
    pub fn run_rows(&self, src: &[u8], r0: usize, r1: usize, out: &mut [u8]) {
        let (w, c, row) = (self.w, self.c, self.ow * self.c);
        debug_assert_eq!(src.len(), self.h * w * c);
        debug_assert_eq!(out.len(), (r1 - r0) * row);
        if (self.h, self.w) == (self.oh, self.ow) {
            out.copy_from_slice(&src[r0 * row..r1 * row]);
            return;
        }
        match &self.kind {
            Kind::Nearest { xs, ys } => {
                for (oy, dst) in (r0..r1).zip(out.chunks_exact_mut(row)) {
                    let line = &src[ys[oy] * w * c..(ys[oy] + 1) * w * c];
                    for (&sx, px) in xs.iter().zip(dst.chunks_exact_mut(c)) {
                        px.copy_from_slice(&line[sx * c..(sx + 1) * c]);
                    }
                }
            }
            Kind::Fixed { x, y, round } => {
                // |row| <= 255 * (sum of |weights|) < 2^21, so rows fit i32; the exact
                // vertical sums need i64
                let rows =
                    Rows::horizontal(src, w, c, x, y, r0, r1, |a: i32, p, wt| a + p as i32 * wt);
                let mut acc = vec![0i64; row];
                for (oy, dst) in (r0..r1).zip(out.chunks_exact_mut(row)) {
                    let (ys, ws) = y.of(oy);
                    if *round == Round::Simd {
                        let (a, b) = (rows.get(ys[0]), rows.get(ys[1]));
                        let (w0, w1) = (ws[0], ws[1]);
                        for (o, (&p, &q)) in dst.iter_mut().zip(a.iter().zip(b)) {
                            let v = (((p >> 4) * w0) >> 16) + (((q >> 4) * w1) >> 16);
                            *o = ((v + 2) >> 2).clamp(0, 255) as u8;
                        }
                    } else {
                        acc.fill(0);
                        for (&s, &wt) in ys.iter().zip(ws) {
                            for (a, &r) in acc.iter_mut().zip(rows.get(s)) {
                                *a += r as i64 * wt as i64;
                            }
                        }
                        let half = 1i64 << (2 * COEF_BITS - 1);
                        for (o, &v) in dst.iter_mut().zip(&acc) {
                            *o = ((v + half) >> (2 * COEF_BITS)).clamp(0, 255) as u8;
                        }
                        if *round == Round::CubicVec {
                            let vec = row / 8 * 8;
                            let scale = 1.0 / (1u64 << (2 * COEF_BITS)) as f32;
                            let b: Vec<f32> = ws.iter().map(|&w| w as f32 * scale).collect();
                            let src: Vec<&[i32]> = ys.iter().map(|&s| rows.get(s)).collect();
                            for (i, o) in dst[..vec].iter_mut().enumerate() {
                                let mut v = src[0][i] as f32 * b[0];
                                for (r, &bk) in src[1..].iter().zip(&b[1..]) {
                                    v += r[i] as f32 * bk;
                                }
                                *o = v.round_ties_even().clamp(0.0, 255.0) as u8;
                            }
                        }
                    }
                }
            }
            Kind::AreaFast { sx, sy } => {
                let (sx, sy) = (*sx, *sy);
                let halve = sx == 2 && sy == 2 && matches!(c, 1 | 3 | 4);
                let inv = 1.0 / (sx * sy) as f32;
                for (oy, dst) in (r0..r1).zip(out.chunks_exact_mut(row)) {
                    let lines = &src[oy * sy * w * c..(oy + 1) * sy * w * c];
                    for (i, o) in dst.iter_mut().enumerate() {
                        let (ox, ch) = (i / c, i % c);
                        let mut sum = 0u32;
                        for line in lines.chunks_exact(w * c) {
                            for k in 0..sx {
                                sum += u32::from(line[(ox * sx + k) * c + ch]);
                            }
                        }
                        *o = if halve {
                            ((sum + 2) >> 2) as u8
                        } else {
                            (sum as f32 * inv).round_ties_even().clamp(0.0, 255.0) as u8
                        };
                    }
                }
            }
            Kind::Area { x, y } => {
                // float32 throughout, in OpenCV's order (`resizeArea_<uchar, float>`)
                let rows =
                    Rows::horizontal(src, w, c, x, y, r0, r1, |a: f32, p, wt| a + p as f32 * wt);
                let mut acc = vec![0.0f32; row];
                for (oy, dst) in (r0..r1).zip(out.chunks_exact_mut(row)) {
                    let (ys, ws) = y.of(oy);
                    // from zero, tap by tap: the order the model sums in
                    acc.fill(0.0);
                    for (&s, &wt) in ys.iter().zip(ws) {
                        for (a, &r) in acc.iter_mut().zip(rows.get(s)) {
                            *a += r * wt;
                        }
                    }
                    for (o, &v) in dst.iter_mut().zip(&acc) {
                        *o = v.round_ties_even().clamp(0.0, 255.0) as u8;
                    }
                }
            }
        }
    }
}

/// The horizontal pass of the source rows a block of output rows reads (a contiguous range).
struct Rows<A> {
    first: usize,
    len: usize,
    data: Vec<A>,
}

impl<A: Copy + Default> Rows<A> {
    #[allow(clippy::too_many_arguments)]
    fn horizontal<W: Copy>(
        src: &[u8],
        w: usize,
        c: usize,
        x: &Taps<W>,
        y: &Taps<W>,
        r0: usize,
        r1: usize,
        mac: impl Fn(A, u8, W) -> A + Copy,
    ) -> Rows<A> {
        let needed = &y.idx[r0 * y.k..r1 * y.k];
        let first = needed.iter().copied().min().unwrap_or(0);
        let last = needed.iter().copied().max().unwrap_or(0);
        let len = (x.idx.len() / x.k) * c;
        let mut used = vec![false; last + 1 - first];
        for &s in needed {
            used[s - first] = true;
        }
        let mut data = vec![A::default(); used.len() * len];
        for (s, out) in (first..=last).zip(data.chunks_exact_mut(len)) {
            if !used[s - first] {
                continue;
            }
            let line = &src[s * w * c..(s + 1) * w * c];
            // fixed channel counts unroll the inner loop
            match c {
                1 => hrow::<A, W, 1>(line, x, out, mac),
                3 => hrow::<A, W, 3>(line, x, out, mac),
                4 => hrow::<A, W, 4>(line, x, out, mac),
                _ => {
                    for (d, px) in out.chunks_exact_mut(c).enumerate() {
                        let (xs, ws) = x.of(d);
                        for (&sx, &wt) in xs.iter().zip(ws) {
                            for (v, &p) in px.iter_mut().zip(&line[sx * c..(sx + 1) * c]) {
                                *v = mac(*v, p, wt);
                            }
                        }
                    }
                }
            }
        }
        Rows { first, len, data }
    }

    fn get(&self, s: usize) -> &[A] {
        let i = s - self.first;
        &self.data[i * self.len..(i + 1) * self.len]
    }
}

/// One source row's horizontal pass for `C` channels: each output pixel sums its taps from
/// zero, left to right (the order the model sums in).
fn hrow<A: Copy + Default, W: Copy, const C: usize>(
    line: &[u8],
    x: &Taps<W>,
    out: &mut [A],
    mac: impl Fn(A, u8, W) -> A,
) {
    for (d, px) in out.chunks_exact_mut(C).enumerate() {
        let (xs, ws) = x.of(d);
        let mut acc = [A::default(); C];
        for (&sx, &wt) in xs.iter().zip(ws) {
            let p: &[u8; C] = line[sx * C..(sx + 1) * C].try_into().unwrap_or(&[0; C]);
            for (a, &v) in acc.iter_mut().zip(p) {
                *a = mac(*a, v, wt);
            }
        }
        px.copy_from_slice(&acc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_and_errors() {
        let img: Vec<u8> = (0..60).map(|v| (v * 7 % 256) as u8).collect();
        for interp in 0..5 {
            let p = Plan::new("t", (4, 5, 3), (4, 5), interp).expect("plan");
            let mut out = vec![0; 60];
            p.run(&img, &mut out);
            assert_eq!(out, img);
        }
        assert!(Plan::new("t", (4, 5, 3), (4, 5), 7).is_err());
        assert!(Plan::new("t", (0, 5, 3), (4, 5), 1).is_err());
    }

    #[test]
    fn constant_images_stay_constant() {
        // every kernel's weights sum to one, so a flat image stays flat whatever the sizes
        let img = vec![77u8; 13 * 17 * 3];
        for interp in 0..5 {
            for (oh, ow) in [(5, 7), (31, 40), (13, 4), (2, 33)] {
                let p = Plan::new("t", (13, 17, 3), (oh, ow), interp).expect("plan");
                let mut out = vec![0; oh * ow * 3];
                p.run(&img, &mut out);
                assert!(out.iter().all(|&v| v == 77), "interp {interp} to {oh}x{ow}");
            }
        }
    }

    #[test]
    fn row_blocks_equal_the_whole() {
        let img: Vec<u8> = (0..19 * 23 * 3).map(|v| (v * 31 % 251) as u8).collect();
        for interp in 0..5 {
            for (oh, ow) in [(7, 9), (40, 50)] {
                let p = Plan::new("t", (19, 23, 3), (oh, ow), interp).expect("plan");
                let mut whole = vec![0; oh * ow * 3];
                p.run(&img, &mut whole);
                let mut parts = vec![0; oh * ow * 3];
                let cut = oh / 3;
                let (a, b) = parts.split_at_mut(cut * ow * 3);
                p.run_rows(&img, 0, cut, a);
                p.run_rows(&img, cut, oh, b);
                assert_eq!(parts, whole, "interp {interp}");
            }
        }
    }
}
