//! `_contrib_PSROIPooling`: R-FCN's position-sensitive ROI pooling. Output channel `k` of bin
//! (i, j) averages data channel (k * group_size + gi) * group_size + gj over the bin, where
//! (gi, gj) is the bin's cell in a group_size x group_size grid. Rois are (R, 5) rows
//! [batch_index, x1, y1, x2, y2] in image coordinates.
//!
//! As MXNet 1.9.1 (its docstring says max pooling; its kernels average): corners round half
//! away from zero, the far corner counts its pixel (+1) before scaling, a region is at least
//! 0.1 wide, bin edges floor / ceil and clip to the map, an empty bin gives 0. MXNet reads
//! out of bounds for a batch index outside the data or too few channels; here both are
//! errors. The data gradient spreads each bin's gradient evenly over its pixels; rois get 0.

use super::{load, pf, store, to_int};
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::kernels::cpu::norm::Real;
use crate::ndarray::NDArray;
use crate::op::nn::roi_common::{roi_op, RoiBackward, RoiForward};
use crate::op::params::param;
use crate::op::{Inputs, Registry, SimpleDef};
use crate::shape::Shape;

const OP: &str = "_contrib_PSROIPooling";

#[derive(Debug, Clone, Copy)]
struct Cfg {
    scale: f64,
    dim: usize,
    pooled: usize,
    group: usize,
}

fn out_shape(c: Cfg, op: &str, d: &Shape, r: &Shape) -> Result<Shape> {
    if d.ndim() != 4 {
        return Err(Error::shape(
            op,
            format!("data must be 4-D (batch, channel, height, width), got {d} (rois {r})"),
        ));
    }
    if r.ndim() != 2 || r[1] != 5 {
        return Err(Error::shape(
            op,
            format!("rois must be 2-D (num_rois, 5) of [batch_index, x1, y1, x2, y2], got {r} (data {d})"),
        ));
    }
    let need = c.dim * c.group * c.group;
    if d[1] < need {
        return Err(Error::shape(
            op,
            format!(
                "data needs output_dim * group_size^2 = {} * {}^2 = {need} channels, got {d}",
                c.dim, c.group
            ),
        ));
    }
    Ok(Shape::new(vec![r[0], c.dim, c.pooled, c.pooled]))
}

/// Per roi its batch index, and per bin (row-major) its clipped pixel ranges
/// (h0, h1, w0, w1) and data channel offset within the group.
struct Bins {
    batch: Vec<usize>,
    ranges: Vec<(usize, usize, usize, usize)>,
    group_ch: Vec<usize>,
}

fn bins<C: Real>(c: Cfg, r: &[C], n: usize, h: usize, w: usize) -> Result<Bins> {
    let scale = pf::<C>(c.scale);
    let p = C::c(c.pooled as f64);
    let mut batch = Vec::with_capacity(r.len() / 5);
    let mut ranges = Vec::with_capacity(r.len() / 5 * c.pooled * c.pooled);
    for (i, roi) in r.chunks_exact(5).enumerate() {
        let b = to_int(roi[0]);
        if b < 0 || b >= n as i64 {
            return Err(Error::Index(format!(
                "operator {OP}: rois[{i}] has batch index {}, but data has batch size {n}",
                roi[0].f64()
            )));
        }
        batch.push(b as usize);
        let round = |v: C| C::c(v.f64().round());
        let (sw, sh) = (round(roi[1]) * scale, round(roi[2]) * scale);
        let (ew, eh) = (
            (round(roi[3]) + C::ONE) * scale,
            (round(roi[4]) + C::ONE) * scale,
        );
        let (bh, bw) = (
            super::max(eh - sh, C::c(0.1)) / p,
            super::max(ew - sw, C::c(0.1)) / p,
        );
        let edge = |v: C, ceil: bool, lim: usize| -> usize {
            let e = if ceil {
                v.f64().ceil()
            } else {
                v.f64().floor()
            };
            e.clamp(0.0, lim as f64) as usize
        };
        for ph in 0..c.pooled {
            let (fh, fh1) = (C::c(ph as f64), C::c((ph + 1) as f64));
            let (h0, h1) = (edge(fh * bh + sh, false, h), edge(fh1 * bh + sh, true, h));
            for pw in 0..c.pooled {
                let (fw, fw1) = (C::c(pw as f64), C::c((pw + 1) as f64));
                ranges.push((
                    h0,
                    h1,
                    edge(fw * bw + sw, false, w),
                    edge(fw1 * bw + sw, true, w),
                ));
            }
        }
    }
    let cell = |k: usize| -> usize {
        let g = (C::c(k as f64) * C::c(c.group as f64) / p).f64().floor() as usize;
        g.min(c.group - 1)
    };
    let group_ch = (0..c.pooled * c.pooled)
        .map(|k| cell(k / c.pooled) * c.group + cell(k % c.pooled))
        .collect();
    Ok(Bins {
        batch,
        ranges,
        group_ch,
    })
}

/// Flat index of data plane (batch `b`, channel of output channel `ch` at bin `k`).
fn plane(c: Cfg, bins: &Bins, b: usize, ch: usize, k: usize, dc: usize) -> usize {
    b * dc + ch * c.group * c.group + bins.group_ch[k]
}

fn forward_t<T: Element, C: Real>(c: Cfg, ins: &[NDArray], out: &NDArray) -> Result<()> {
    let d = ins[0].shape();
    let (n, dc, h, w) = (d[0], d[1], d[2], d[3]);
    let x = load::<T, C>(&ins[0]);
    let bs = bins::<C>(c, &load::<T, C>(&ins[1]), n, h, w)?;
    let nb = c.pooled * c.pooled;
    let mut o = vec![C::ZERO; bs.batch.len() * c.dim * nb];
    for (r, &b) in bs.batch.iter().enumerate() {
        for ch in 0..c.dim {
            for k in 0..nb {
                let (h0, h1, w0, w1) = bs.ranges[r * nb + k];
                if h1 <= h0 || w1 <= w0 {
                    continue;
                }
                let src = &x[plane(c, &bs, b, ch, k, dc) * h * w..][..h * w];
                let mut acc = C::ZERO;
                for y in h0..h1 {
                    for v in &src[y * w + w0..y * w + w1] {
                        acc = acc + *v;
                    }
                }
                o[(r * c.dim + ch) * nb + k] = acc / C::c(((h1 - h0) * (w1 - w0)) as f64);
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
    let bs = bins::<C>(c, &load::<T, C>(&ins[2]), n, h, w)?;
    let nb = c.pooled * c.pooled;
    let mut g = vec![C::ZERO; d.size()];
    for (r, &b) in bs.batch.iter().enumerate() {
        for ch in 0..c.dim {
            for k in 0..nb {
                let (h0, h1, w0, w1) = bs.ranges[r * nb + k];
                if h1 <= h0 || w1 <= w0 {
                    continue;
                }
                let base = plane(c, &bs, b, ch, k, dc) * h * w;
                let v = dy[(r * c.dim + ch) * nb + k] / C::c(((h1 - h0) * (w1 - w0)) as f64);
                for y in h0..h1 {
                    for e in &mut g[base + y * w + w0..base + y * w + w1] {
                        *e = *e + v;
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
    const BACKWARD: &'static str = "_backward_PSROIPooling";
    fn backward<T: Element, C: Real>(self, ins: &[NDArray], gx: &NDArray) -> Result<()> {
        backward_t::<T, C>(self, ins, gx)
    }
}

pub(super) fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: OP,
        doc: "Performs region-of-interest pooling on inputs. Resize bounding box coordinates by \
              spatial_scale and crop input feature maps accordingly. The cropped feature maps \
              are pooled by max pooling to a fixed size output indicated by pooled_size. \
              batch_size will change to the number of region bounding boxes after \
              PSROIPooling. (As MXNet's kernels, each bin is the average of its pixels in the \
              data channel of its position: output (num_rois, output_dim, pooled_size, \
              pooled_size) from output_dim * group_size^2 data channels.)"
            .into(),
        params: vec![
            param("spatial_scale", "float, required", None, "Ratio of input feature map height (or w) to raw image height (or w). Equals the reciprocal of total stride in convolutional layers"),
            param("output_dim", "int, required", None, "fix output dim"),
            param("pooled_size", "int, required", None, "fix pooled size"),
            param("group_size", "int, optional, default='0'", Some("0"), "fix group size"),
        ],
        inputs: Inputs::Fixed(&["data", "rois"]),
        create: Box::new(|p| {
            let bad = |m: String| Err(Error::param(OP, m));
            let (dim, pooled, group) = (p.int("output_dim")?, p.int("pooled_size")?, p.int("group_size")?);
            if dim < 1 || pooled < 1 || group < 0 {
                return bad(format!(
                    "output_dim and pooled_size must be positive and group_size >= 0, got \
                     output_dim {dim}, pooled_size {pooled}, group_size {group}"
                ));
            }
            let scale = p.float("spatial_scale")?;
            if !(0.0..=1.0).contains(&scale) {
                return bad(format!("spatial_scale must lie in [0, 1], got {scale}"));
            }
            Ok(roi_op(Cfg {
                scale,
                dim: dim as usize,
                pooled: pooled as usize,
                // 0 = pooled_size, as MXNet's Init sets it.
                group: if group == 0 { pooled } else { group } as usize,
            }))
        }),
    });
}
