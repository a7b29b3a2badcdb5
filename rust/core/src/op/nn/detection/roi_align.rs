//! `_contrib_ROIAlign`: average of bilinearly interpolated samples over each bin of a region
//! of interest (Mask R-CNN), optionally position-sensitive (R-FCN) and center-aligned
//! (Detectron2's `aligned`). Rois are (R, 5) rows [batch_index, x1, y1, x2, y2].
//!
//! As MXNet 1.9.1: coordinates are scaled without rounding, a region is at least 1 x 1 unless
//! `aligned`, where an empty region is an error; each bin takes `sample_ratio` (or
//! ceil(size / pooled) when negative) samples per axis; samples more than one pixel outside
//! the map count as 0, others clamp to the border. A negative batch index gives zeros (MXNet
//! documents this but writes only one element and leaves the rest unset); a batch index past
//! the data is an error (MXNet reads out of bounds). The rois get a zero gradient.

use super::{load, pf, store, to_int};
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::kernels::cpu::norm::Real;
use crate::ndarray::NDArray;
use crate::op::nn::roi_common::{roi_op, RoiBackward, RoiForward};
use crate::op::params::param;
use crate::op::{Inputs, Registry, SimpleDef};
use crate::shape::Shape;

const OP: &str = "_contrib_ROIAlign";

#[derive(Debug, Clone, Copy)]
struct Cfg {
    ph: usize,
    pw: usize,
    scale: f64,
    ratio: i64,
    ps: bool,
    aligned: bool,
}

fn out_shape(c: Cfg, op: &str, d: &Shape, r: &Shape) -> Result<Shape> {
    if d.ndim() != 4 || d[2] == 0 || d[3] == 0 {
        return Err(Error::shape(
            op,
            format!(
                "data must be 4-D (batch, channel, height, width) with a non-empty map, got \
                 {d} (rois {r})"
            ),
        ));
    }
    if r.ndim() != 2 || r[1] != 5 {
        return Err(Error::shape(
            op,
            format!("rois must be 2-D (num_rois, 5) of [batch_index, x1, y1, x2, y2], got {r} (data {d})"),
        ));
    }
    let ch = if c.ps {
        if !d[1].is_multiple_of(c.ph * c.pw) {
            return Err(Error::shape(
                op,
                format!(
                    "with position_sensitive the data channels ({}) must be a multiple of \
                     pooled_size[0] * pooled_size[1] = {} (data {d})",
                    d[1],
                    c.ph * c.pw
                ),
            ));
        }
        d[1] / (c.ph * c.pw)
    } else {
        d[1]
    };
    Ok(Shape::new(vec![r[0], ch, c.ph, c.pw]))
}

/// One bilinear sample: four flat positions in a (height, width) plane and their weights;
/// `inside` is false for samples beyond the map, which weigh 0.
#[derive(Clone, Copy)]
pub(super) struct Sample<C> {
    pub(super) pos: [usize; 4],
    pub(super) w: [C; 4],
    pub(super) inside: bool,
}

/// Per roi: its batch index (None when negative) and per bin its samples.
struct Roi<C> {
    batch: Option<usize>,
    count: C,
    /// ph * pw bins of `per_bin` samples each.
    samples: Vec<Sample<C>>,
    per_bin: usize,
}

/// One bilinear sample at (y, x) of an h x w plane (also RROIAlign's sampling).
pub(super) fn sample<C: Real>(h: usize, w: usize, mut y: C, mut x: C) -> Sample<C> {
    let (hf, wf) = (C::c(h as f64), C::c(w as f64));
    let m1 = C::c(-1.0);
    if y < m1 || y > hf || x < m1 || x > wf {
        return Sample {
            pos: [0; 4],
            w: [C::ZERO; 4],
            inside: false,
        };
    }
    if y <= C::ZERO {
        y = C::ZERO;
    }
    if x <= C::ZERO {
        x = C::ZERO;
    }
    let (mut yl, mut xl) = (to_int(y) as usize, to_int(x) as usize);
    let (yh, xh);
    if yl + 1 >= h {
        yl = h - 1;
        yh = yl;
        y = C::c(yl as f64);
    } else {
        yh = yl + 1;
    }
    if xl + 1 >= w {
        xl = w - 1;
        xh = xl;
        x = C::c(xl as f64);
    } else {
        xh = xl + 1;
    }
    let (ly, lx) = (y - C::c(yl as f64), x - C::c(xl as f64));
    let (hy, hx) = (C::ONE - ly, C::ONE - lx);
    Sample {
        pos: [yl * w + xl, yl * w + xh, yh * w + xl, yh * w + xh],
        w: [hy * hx, hy * lx, ly * hx, ly * lx],
        inside: true,
    }
}

fn rois<C: Real>(c: Cfg, r: &[C], n: usize, h: usize, w: usize) -> Result<Vec<Roi<C>>> {
    let scale = pf::<C>(c.scale);
    let off = if c.aligned { C::c(0.5) } else { C::ZERO };
    let (phc, pwc) = (C::c(c.ph as f64), C::c(c.pw as f64));
    let mut out = Vec::with_capacity(r.len() / 5);
    for (i, roi) in r.chunks_exact(5).enumerate() {
        let b = to_int(roi[0]);
        if b >= n as i64 {
            return Err(Error::Index(format!(
                "operator {OP}: rois[{i}] has batch index {}, but data has batch size {n}",
                roi[0].f64()
            )));
        }
        if b < 0 {
            out.push(Roi {
                batch: None,
                count: C::ONE,
                samples: Vec::new(),
                per_bin: 0,
            });
            continue;
        }
        let (sw, sh) = (roi[1] * scale - off, roi[2] * scale - off);
        let (ew, eh) = (roi[3] * scale - off, roi[4] * scale - off);
        let (mut rw, mut rh) = (ew - sw, eh - sh);
        if c.aligned {
            if !(rw > C::ZERO && rh > C::ZERO) {
                return Err(Error::Value(format!(
                    "operator {OP}: with aligned=True rois[{i}] = {:?} must have positive \
                     width and height after scaling, got {} x {}",
                    roi.iter().map(|v| v.f64()).collect::<Vec<_>>(),
                    rw.f64(),
                    rh.f64()
                )));
            }
        } else {
            rw = super::max(rw, C::ONE);
            rh = super::max(rh, C::ONE);
        }
        let (bh, bw) = (rh / phc, rw / pwc);
        let grid = |sz: C, p: C| -> i64 {
            if c.ratio > 0 {
                c.ratio
            } else {
                (sz / p).f64().ceil() as i64
            }
        };
        let (gh, gw) = (grid(rh, phc).max(1), grid(rw, pwc).max(1));
        let per_bin = gh.saturating_mul(gw);
        if per_bin.saturating_mul((c.ph * c.pw) as i64) > 1 << 28 {
            return Err(Error::Value(format!(
                "operator {OP}: rois[{i}] needs {gh} x {gw} samples per bin; the region is \
                 too large for spatial_scale {}",
                c.scale
            )));
        }
        let (ghc, gwc) = (C::c(gh as f64), C::c(gw as f64));
        let mut s = Vec::with_capacity(per_bin as usize * c.ph * c.pw);
        for p in 0..c.ph {
            for q in 0..c.pw {
                for iy in 0..gh {
                    let y = sh + C::c(p as f64) * bh + C::c(iy as f64 + 0.5) * bh / ghc;
                    for ix in 0..gw {
                        let x = sw + C::c(q as f64) * bw + C::c(ix as f64 + 0.5) * bw / gwc;
                        s.push(sample(h, w, y, x));
                    }
                }
            }
        }
        out.push(Roi {
            batch: Some(b as usize),
            count: ghc * gwc,
            samples: s,
            per_bin: per_bin as usize,
        });
    }
    Ok(out)
}

/// The data plane of output channel `ch` at bin `k` of a roi in batch `b`.
fn plane(c: Cfg, b: usize, ch: usize, k: usize, dc: usize) -> usize {
    if c.ps {
        b * dc + ch * c.ph * c.pw + k
    } else {
        b * dc + ch
    }
}

fn forward_t<T: Element, C: Real>(c: Cfg, ins: &[NDArray], out: &NDArray) -> Result<()> {
    let d = ins[0].shape();
    let (n, dc, h, w) = (d[0], d[1], d[2], d[3]);
    let x = load::<T, C>(&ins[0]);
    let rs = rois::<C>(c, &load::<T, C>(&ins[1]), n, h, w)?;
    let oc = out.shape()[1];
    let nb = c.ph * c.pw;
    let mut o = vec![C::ZERO; rs.len() * oc * nb];
    for (r, roi) in rs.iter().enumerate() {
        let Some(b) = roi.batch else { continue };
        for ch in 0..oc {
            for k in 0..nb {
                let src = &x[plane(c, b, ch, k, dc) * h * w..][..h * w];
                let mut acc = C::ZERO;
                for s in &roi.samples[k * roi.per_bin..(k + 1) * roi.per_bin] {
                    acc = acc
                        + s.w[0] * src[s.pos[0]]
                        + s.w[1] * src[s.pos[1]]
                        + s.w[2] * src[s.pos[2]]
                        + s.w[3] * src[s.pos[3]];
                }
                o[(r * oc + ch) * nb + k] = acc / roi.count;
            }
        }
    }
    store::<T, C>(out, &o);
    Ok(())
}

/// Inputs dY, data, rois; the data gradient.
fn backward_t<T: Element, C: Real>(c: Cfg, ins: &[NDArray], gx: &NDArray) -> Result<()> {
    let d = ins[1].shape();
    let (n, dc, h, w) = (d[0], d[1], d[2], d[3]);
    let dy = load::<T, C>(&ins[0]);
    let rs = rois::<C>(c, &load::<T, C>(&ins[2]), n, h, w)?;
    let oc = ins[0].shape()[1];
    let nb = c.ph * c.pw;
    let mut g = vec![C::ZERO; d.size()];
    for (r, roi) in rs.iter().enumerate() {
        let Some(b) = roi.batch else { continue };
        for ch in 0..oc {
            for k in 0..nb {
                let base = plane(c, b, ch, k, dc) * h * w;
                let top = dy[(r * oc + ch) * nb + k];
                for s in roi.samples[k * roi.per_bin..(k + 1) * roi.per_bin]
                    .iter()
                    .filter(|s| s.inside)
                {
                    for q in 0..4 {
                        let v = &mut g[base + s.pos[q]];
                        *v = *v + top * s.w[q] / roi.count;
                    }
                }
            }
        }
    }
    store::<T, C>(gx, &g);
    Ok(())
}

impl RoiForward for Cfg {
    const OP: &'static str = OP;
    fn out_shape(self, op: &str, data: &Shape, rois: &Shape) -> Result<Shape> {
        out_shape(self, op, data, rois)
    }
    fn forward<T: Element, C: Real>(self, ins: &[NDArray], out: &NDArray) -> Result<()> {
        forward_t::<T, C>(self, ins, out)
    }
}

impl RoiBackward for Cfg {
    const BACKWARD: &'static str = "_backward_ROIAlign";
    fn backward<T: Element, C: Real>(self, ins: &[NDArray], gx: &NDArray) -> Result<()> {
        backward_t::<T, C>(self, ins, gx)
    }
}

pub(super) fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: OP,
        doc: "This operator takes a 4D feature map as an input array and region proposals as \
              rois, then aligns the feature map over sub-regions of input and produces a \
              fixed-sized output array (num_rois, channel, pooled_h, pooled_w): each bin is the \
              average of bilinearly interpolated samples, with no quantization of the \
              coordinates (Mask R-CNN). If a roi's batch index is less than 0 its output is 0. \
              position_sensitive divides the channels among the bins (R-FCN); aligned shifts \
              the pixel model by half a pixel (Detectron2)."
            .into(),
        params: vec![
            param("pooled_size", "Shape(tuple), required", None, "ROI Align output roi feature map height and width: (h, w)"),
            param("spatial_scale", "float, required", None, "Ratio of input feature map height (or w) to raw image height (or w). Equals the reciprocal of total stride in convolutional layers"),
            param("sample_ratio", "int, optional, default='-1'", Some("-1"), "Optional sampling ratio of ROI align, using adaptive size by default."),
            param("position_sensitive", "boolean, optional, default=0", Some("0"), "Whether to perform position-sensitive RoI pooling. PSRoIPooling is first proposaled by R-FCN and it can reduce the input channels by ph*pw times, where (ph, pw) is the pooled_size"),
            param("aligned", "boolean, optional, default=0", Some("0"), "Center-aligned ROIAlign introduced in Detectron2. To enable, set aligned to True."),
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
            Ok(roi_op(Cfg {
                ph,
                pw,
                scale: p.float("spatial_scale")?,
                ratio: p.int("sample_ratio")?,
                ps: p.bool("position_sensitive")?,
                aligned: p.bool("aligned")?,
            }))
        }),
    });
}
