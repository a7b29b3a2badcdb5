//! Bilinear sampling at fractional positions, with the two boundary rules MXNet 1.9.1 uses.
//!
//! `Clamp` (DeformableConvolution, v1): a position samples only when 0 <= h < H and
//! 0 <= w < W; past the last row (column) the sample is the last row's value, so the border
//! pixel covers [H-1, H). `Zero` (ModulatedDeformableConvolution, v2): a position samples when
//! -1 < h < H and -1 < w < W, and corners outside the image read zero, so the value fades
//! linearly to zero over the one-pixel band around the image.
//!
//! MXNet's backward kernels for both are the exact derivatives of these forwards, so the
//! gradients here come from the same corner weights.

use crate::dtype::Element;

/// Which boundary rule a sampler follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    Clamp,
    Zero,
}

/// The four corners of one sample (low/high row × low/high column, in that order: ll, lh,
/// hl, hh) as indices into a channel plane, `None` where a corner lies outside the image, and
/// the fractional parts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bilinear {
    pub pos: [Option<usize>; 4],
    lh: f64,
    lw: f64,
}

impl Bilinear {
    /// The sample at (h, w) of an `ht`×`wd` plane, or `None` where the rule gives zero.
    #[inline]
    pub fn at(rule: Rule, h: f64, w: f64, ht: usize, wd: usize) -> Option<Bilinear> {
        let (hf, wf) = (ht as f64, wd as f64);
        match rule {
            Rule::Clamp => {
                if !(h >= 0.0 && w >= 0.0 && h < hf && w < wf) {
                    return None;
                }
                let (hl, hh, lh) = clamp_axis(h, ht);
                let (wl, wh, lw) = clamp_axis(w, wd);
                Some(Bilinear {
                    pos: [
                        Some(hl * wd + wl),
                        Some(hl * wd + wh),
                        Some(hh * wd + wl),
                        Some(hh * wd + wh),
                    ],
                    lh,
                    lw,
                })
            }
            Rule::Zero => {
                if !(h > -1.0 && w > -1.0 && h < hf && w < wf) {
                    return None;
                }
                let (hl, wl) = (h.floor(), w.floor());
                let (hl_i, wl_i) = (hl as i64, wl as i64);
                let inside = |r: i64, c: i64| {
                    (r >= 0 && c >= 0 && (r as usize) < ht && (c as usize) < wd)
                        .then(|| r as usize * wd + c as usize)
                };
                Some(Bilinear {
                    pos: [
                        inside(hl_i, wl_i),
                        inside(hl_i, wl_i + 1),
                        inside(hl_i + 1, wl_i),
                        inside(hl_i + 1, wl_i + 1),
                    ],
                    lh: h - hl,
                    lw: w - wl,
                })
            }
        }
    }

    /// Interpolation weight of each corner.
    #[inline]
    pub fn weights(&self) -> [f64; 4] {
        let (lh, lw) = (self.lh, self.lw);
        [
            (1.0 - lh) * (1.0 - lw),
            (1.0 - lh) * lw,
            lh * (1.0 - lw),
            lh * lw,
        ]
    }

    /// d(weight)/dh of each corner. Under `Clamp` past the last row both row corners are the
    /// same pixel, so these cancel and the sample is flat in h there, as in the forward.
    #[inline]
    pub fn d_h(&self) -> [f64; 4] {
        let lw = self.lw;
        [-(1.0 - lw), -lw, 1.0 - lw, lw]
    }

    /// d(weight)/dw of each corner.
    #[inline]
    pub fn d_w(&self) -> [f64; 4] {
        let lh = self.lh;
        [-(1.0 - lh), 1.0 - lh, -lh, lh]
    }

    /// Sum of `coef[k] * plane[corner k]` over the corners inside the image.
    #[inline]
    pub fn dot<T: Element>(&self, coef: &[f64; 4], plane: &[T]) -> f64 {
        let mut s = 0.0;
        for (p, c) in self.pos.iter().zip(coef) {
            if let Some(p) = p {
                s += c * plane[*p].to_f64();
            }
        }
        s
    }
}

/// Low index, high index and fraction along one axis under `Clamp`, for 0 <= x < n: from the
/// last index on both neighbours are the last one and the fraction is zero.
#[inline]
fn clamp_axis(x: f64, n: usize) -> (usize, usize, f64) {
    let lo = x.floor() as usize;
    if lo + 1 >= n {
        (n - 1, n - 1, 0.0)
    } else {
        (lo, lo + 1, x - lo as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(rule: Rule, plane: &[f64], ht: usize, wd: usize, h: f64, w: f64) -> f64 {
        Bilinear::at(rule, h, w, ht, wd).map_or(0.0, |b| b.dot(&b.weights(), plane))
    }

    #[test]
    fn boundary_rules() {
        // 2x3 plane.
        let p = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        // Interior: plain bilinear, both rules.
        for r in [Rule::Clamp, Rule::Zero] {
            let v = value(r, &p, 2, 3, 0.5, 0.25);
            assert!((v - (0.5 * 1.25 + 0.5 * 4.25)).abs() < 1e-12);
        }
        // Past the last column: Clamp repeats it, Zero fades towards zero.
        assert_eq!(value(Rule::Clamp, &p, 2, 3, 0.0, 2.5), 3.0);
        assert!((value(Rule::Zero, &p, 2, 3, 0.0, 2.5) - 1.5).abs() < 1e-12);
        // Just above the image: Clamp gives zero, Zero weights the first row.
        assert_eq!(value(Rule::Clamp, &p, 2, 3, -0.5, 1.0), 0.0);
        assert!((value(Rule::Zero, &p, 2, 3, -0.5, 1.0) - 1.0).abs() < 1e-12);
        // Outside both bands.
        assert_eq!(value(Rule::Zero, &p, 2, 3, -1.0, 1.0), 0.0);
        assert_eq!(value(Rule::Clamp, &p, 2, 3, 2.0, 1.0), 0.0);
    }

    #[test]
    fn derivatives_match_differences() {
        let p: Vec<f64> = (0..20).map(|i| ((i * 7) % 11) as f64 * 0.3 - 1.0).collect();
        for r in [Rule::Clamp, Rule::Zero] {
            for &(h, w) in &[(1.3, 2.6), (3.4, 0.2), (-0.6, 1.7), (2.2, 4.5), (3.7, 4.2)] {
                let e = 1e-6;
                let Some(b) = Bilinear::at(r, h, w, 4, 5) else {
                    continue;
                };
                let fd_h =
                    (value(r, &p, 4, 5, h + e, w) - value(r, &p, 4, 5, h - e, w)) / (2.0 * e);
                let fd_w =
                    (value(r, &p, 4, 5, h, w + e) - value(r, &p, 4, 5, h, w - e)) / (2.0 * e);
                assert!(
                    (b.dot(&b.d_h(), &p) - fd_h).abs() < 1e-6,
                    "{r:?} h at {h},{w}"
                );
                assert!(
                    (b.dot(&b.d_w(), &p) - fd_w).abs() < 1e-6,
                    "{r:?} w at {h},{w}"
                );
            }
        }
    }
}
