//! `_contrib_RROIAlign`: ROI align over rotated regions (text detection). Rois are (R, 6)
//! rows [batch_index, center_x, center_y, width, height, angle in degrees]; each bin averages
//! bilinear samples taken on the region's grid rotated by the angle about its center.
//!
//! As MXNet 1.9.1: a region is at least 1 x 1 after scaling, each bin takes `sampling_ratio`
//! (or ceil(size / pooled) when not positive) samples per axis, samples more than one pixel
//! outside the map count as 0 (and still count in the average), others clamp to the border
//! (the same sampling as `ROIAlign`). MXNet registers no gradient, so neither does this op. A
//! batch index outside the data is an error (MXNet reads out of bounds).

use super::roi_align::sample;
use super::{load, pf, store, to_int};
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::kernels::cpu::norm::Real;
use crate::ndarray::NDArray;
use crate::op::nn::roi_common::{roi_forward_op, RoiForward};
use crate::op::params::param;
use crate::op::{Inputs, Registry, SimpleDef};
use crate::shape::Shape;

const OP: &str = "_contrib_RROIAlign";

#[derive(Debug, Clone, Copy)]
struct Cfg {
    ph: usize,
    pw: usize,
    scale: f64,
    ratio: i64,
}

fn out_shape(c: Cfg, d: &Shape, r: &Shape) -> Result<Shape> {
    if d.ndim() != 4 {
        return Err(Error::shape(
            OP,
            format!("data must be 4-D (batch, channel, height, width), got {d} (rois {r})"),
        ));
    }
    if r.ndim() != 2 || r[1] != 6 {
        return Err(Error::shape(
            OP,
            format!(
                "rois must be 2-D (num_rois, 6) of [batch_index, x, y, width, height, \
                 angle], got {r} (data {d})"
            ),
        ));
    }
    Ok(Shape::new(vec![r[0], d[1], c.ph, c.pw]))
}

fn forward_t<T: Element, C: Real>(c: Cfg, ins: &[NDArray], out: &NDArray) -> Result<()> {
    let d = ins[0].shape();
    let (n, ch, h, w) = (d[0], d[1], d[2], d[3]);
    let x = load::<T, C>(&ins[0]);
    let rois = load::<T, C>(&ins[1]);
    let scale = pf::<C>(c.scale);
    let (phc, pwc) = (C::c(c.ph as f64), C::c(c.pw as f64));
    let nb = c.ph * c.pw;
    let mut o = vec![C::ZERO; rois.len() / 6 * ch * nb];
    for (i, roi) in rois.chunks_exact(6).enumerate() {
        let b = to_int(roi[0]);
        if b < 0 || b >= n as i64 {
            return Err(Error::Index(format!(
                "operator {OP}: rois[{i}] has batch index {}, but data has batch size {n}",
                roi[0].f64()
            )));
        }
        if h == 0 || w == 0 {
            continue;
        }
        let (cx, cy) = (roi[1] * scale, roi[2] * scale);
        let rw = super::max(roi[3] * scale, C::ONE);
        let rh = super::max(roi[4] * scale, C::ONE);
        let theta = C::c(roi[5].f64() * std::f64::consts::PI / 180.0);
        let (cos, sin) = (C::c(theta.f64().cos()), C::c(theta.f64().sin()));
        let (sh, sw) = (-rh / C::c(2.0), -rw / C::c(2.0));
        let (bh, bw) = (rh / phc, rw / pwc);
        let grid = |sz: C, p: C| -> i64 {
            if c.ratio > 0 {
                c.ratio
            } else {
                (sz / p).f64().ceil() as i64
            }
        };
        let (gh, gw) = (grid(rh, phc), grid(rw, pwc));
        if gh.saturating_mul(gw).saturating_mul(nb as i64) > 1 << 28 {
            return Err(Error::Value(format!(
                "operator {OP}: rois[{i}] needs {gh} x {gw} samples per bin; the region is too \
                 large for spatial_scale {}",
                c.scale
            )));
        }
        let count = C::c((gh * gw) as f64);
        let (ghc, gwc) = (C::c(gh as f64), C::c(gw as f64));
        let mut samples = Vec::with_capacity((gh * gw) as usize * nb);
        for p in 0..c.ph {
            for q in 0..c.pw {
                for iy in 0..gh {
                    let yy = sh + C::c(p as f64) * bh + C::c(iy as f64 + 0.5) * bh / ghc;
                    for ix in 0..gw {
                        let xx = sw + C::c(q as f64) * bw + C::c(ix as f64 + 0.5) * bw / gwc;
                        let sx = xx * cos + yy * sin + cx;
                        let sy = yy * cos - xx * sin + cy;
                        samples.push(sample(h, w, sy, sx));
                    }
                }
            }
        }
        let per = (gh * gw) as usize;
        for k in 0..ch {
            let src = &x[(b as usize * ch + k) * h * w..][..h * w];
            for bin in 0..nb {
                let mut acc = C::ZERO;
                for s in &samples[bin * per..(bin + 1) * per] {
                    acc = acc
                        + s.w[0] * src[s.pos[0]]
                        + s.w[1] * src[s.pos[1]]
                        + s.w[2] * src[s.pos[2]]
                        + s.w[3] * src[s.pos[3]];
                }
                o[(i * ch + k) * nb + bin] = acc / count;
            }
        }
    }
    store::<T, C>(out, &o);
    Ok(())
}

impl RoiForward for Cfg {
    const OP: &'static str = OP;
    fn out_shape(self, _op: &str, data: &Shape, rois: &Shape) -> Result<Shape> {
        out_shape(self, data, rois)
    }
    fn forward<T: Element, C: Real>(self, ins: &[NDArray], out: &NDArray) -> Result<()> {
        forward_t::<T, C>(self, ins, out)
    }
}

pub(super) fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: OP,
        doc: "Performs Rotated ROI Align on the input array.\n\nThis operator takes a 4D \
              feature map as an input array and region proposals as `rois`, then align the \
              feature map over sub-regions of input and produces a fixed-sized output array \
              (num_rois, channel, pooled_h, pooled_w). Rois are [batch_index, x, y, width, \
              height, angle] with the center (x, y) and the angle in degrees. Different from \
              ROI Align, RROI Align uses rotated rois, which is suitable for text detection: \
              each bin averages bilinearly interpolated samples of the rotated grid. No \
              quantization is performed on any coordinates. It has no gradient."
            .into(),
        params: vec![
            param("pooled_size", "Shape(tuple), required", None, "RROI align output shape (h,w) "),
            param("spatial_scale", "float, required", None, "Ratio of input feature map height (or width) to raw image height (or width). Equals the reciprocal of total stride in convolutional layers"),
            param("sampling_ratio", "int, optional, default='-1'", Some("-1"), "Optional sampling ratio of RROI align, using adaptive size by default."),
        ],
        inputs: Inputs::Fixed(&["data", "rois"]),
        create: Box::new(|p| {
            let (ph, pw) = match p.ints("pooled_size")?.as_slice() {
                &[h, w] if h > 0 && w > 0 => (h as usize, w as usize),
                _ => {
                    return Err(Error::param(
                        OP,
                        format!(
                            "pooled_size must be (h, w) with both positive, got {}",
                            p.str("pooled_size")?
                        ),
                    ))
                }
            };
            Ok(roi_forward_op(Cfg {
                ph,
                pw,
                scale: p.float("spatial_scale")?,
                ratio: p.int("sampling_ratio")?,
            }))
        }),
    });
}
