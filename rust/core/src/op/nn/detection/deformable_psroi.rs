//! `_contrib_DeformablePSROIPooling` (Deformable ConvNets): position-sensitive ROI pooling
//! whose bins are shifted by learned offsets `trans` (num_rois, 2 * num_classes, part_size,
//! part_size), scaled by `trans_std` and the roi's size; each bin averages
//! `sample_per_part`^2 bilinear samples. Outputs the pooled (num_rois, output_dim, pooled,
//! pooled) and, hidden, `top_count` (the samples that fell on the map, per bin).
//!
//! As MXNet 1.9.1: corners round half away from zero and shift by half a pixel, a region is
//! at least 0.1 wide, samples more than half a pixel outside the map are skipped (not counted)
//! and the others clamp to it. The gradients: data gets each sample's bilinear weights, trans
//! the derivative of the interpolation along x and y (zero where the sample sits on a whole
//! pixel, as MXNet's floor/ceil corners coincide there), rois zero. A batch index outside the
//! data, too few channels or a trans shape that does not match are errors (MXNet reads out of
//! bounds).

use super::{load, pf, store, to_int};
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::kernels::cpu::norm::{with_real, Real};
use crate::ndarray::NDArray;
use crate::op::params::param;
use crate::op::{expect_inputs, Desc, FnOp, Inputs, Operator, Registry, SimpleDef};
use crate::shape::Shape;
use std::sync::Arc;

const OP: &str = "_contrib_DeformablePSROIPooling";

#[derive(Debug, Clone, Copy)]
struct Cfg {
    scale: f64,
    dim: usize,
    group: usize,
    pooled: usize,
    part: usize,
    spp: usize,
    std: f64,
    no_trans: bool,
}

impl Cfg {
    fn n_in(&self) -> usize {
        if self.no_trans {
            2
        } else {
            3
        }
    }
}

/// The output shape, after checking data, rois and (unless no_trans) trans.
fn out_shape(c: Cfg, op: &str, s: &[&Shape]) -> Result<Shape> {
    let (d, r) = (s[0], s[1]);
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
    if !c.no_trans {
        let t = s[2];
        let ok = t.ndim() == 4
            && t[0] == r[0]
            && t[1] >= 2
            && t[1].is_multiple_of(2)
            && c.dim.is_multiple_of(t[1] / 2)
            && t[2] == c.part
            && t[3] == c.part;
        if !ok {
            return Err(Error::shape(
                op,
                format!(
                    "trans must be (num_rois, 2 * num_classes, part_size, part_size) = \
                     ({}, 2 * k, {}, {}) with k dividing output_dim {}, got {t} (rois {r})",
                    r[0], c.part, c.part, c.dim
                ),
            ));
        }
    }
    Ok(Shape::new(vec![r[0], c.dim, c.pooled, c.pooled]))
}

/// One bilinear sample of output element `out`: data plane offset, clamped position, and
/// the trans entries (x, y) that moved it.
struct Sample<C> {
    out: usize,
    plane: usize,
    x: C,
    y: C,
    trans: Option<(usize, usize)>,
    roi_w: C,
    roi_h: C,
}

/// Every sample of every output element, and each element's sample count.
fn samples<C: Real>(
    c: Cfg,
    d: &Shape,
    rois: &[C],
    trans: Option<(&[C], usize)>,
) -> Result<(Vec<Sample<C>>, Vec<C>)> {
    let (n, ch, h, w) = (d[0], d[1], d[2], d[3]);
    let scale = pf::<C>(c.scale);
    let tstd = pf::<C>(c.std);
    let p = C::c(c.pooled as f64);
    let half = C::c(0.5);
    let spp = C::c(c.spp as f64);
    let each_class = match trans {
        Some((_, nc)) => c.dim / nc,
        None => c.dim,
    };
    let (wf, hf) = (C::c(w as f64), C::c(h as f64));
    let nb = c.pooled * c.pooled;
    let mut out = Vec::new();
    let mut counts = vec![C::ZERO; rois.len() / 5 * c.dim * nb];
    for (i, roi) in rois.chunks_exact(5).enumerate() {
        let b = to_int(roi[0]);
        if b < 0 || b >= n as i64 {
            return Err(Error::Index(format!(
                "operator {OP}: rois[{i}] has batch index {}, but data has batch size {n}",
                roi[0].f64()
            )));
        }
        let round = |v: C| C::c(v.f64().round());
        let (sw, sh) = (round(roi[1]) * scale - half, round(roi[2]) * scale - half);
        let ew = (round(roi[3]) + C::ONE) * scale - half;
        let eh = (round(roi[4]) + C::ONE) * scale - half;
        let (rw, rh) = (
            super::max(ew - sw, C::c(0.1)),
            super::max(eh - sh, C::c(0.1)),
        );
        let (bw, bh) = (rw / p, rh / p);
        let (sbw, sbh) = (bw / spp, bh / spp);
        let cell = |k: usize, m: usize| -> usize {
            let g = (C::c(k as f64) * C::c(m as f64) / p).f64().floor() as usize;
            g.min(m - 1)
        };
        let part_of = |k: usize| -> usize {
            ((C::c(k as f64) / p * C::c(c.part as f64)).f64().floor() as usize).min(c.part - 1)
        };
        for ctop in 0..c.dim {
            for ph in 0..c.pooled {
                for pw in 0..c.pooled {
                    let o = ((i * c.dim + ctop) * c.pooled + ph) * c.pooled + pw;
                    let (mut ws, mut hs) = (C::c(pw as f64) * bw + sw, C::c(ph as f64) * bh + sh);
                    let mut tidx = None;
                    if let Some((t, nc)) = trans {
                        let cls = ctop / each_class;
                        let (pth, ptw) = (part_of(ph), part_of(pw));
                        let ix = (((i * nc + cls) * 2) * c.part + pth) * c.part + ptw;
                        let iy = (((i * nc + cls) * 2 + 1) * c.part + pth) * c.part + ptw;
                        ws = ws + t[ix] * tstd * rw;
                        hs = hs + t[iy] * tstd * rh;
                        tidx = Some((ix, iy));
                    }
                    let plane = (b as usize * ch
                        + (ctop * c.group + cell(ph, c.group)) * c.group
                        + cell(pw, c.group))
                        * h
                        * w;
                    for ih in 0..c.spp {
                        for iw in 0..c.spp {
                            let x = ws + C::c(iw as f64) * sbw;
                            let y = hs + C::c(ih as f64) * sbh;
                            if x < -half || x > wf - half || y < -half || y > hf - half {
                                continue;
                            }
                            let clamp = |v: C, hi: C| super::min(super::max(v, C::ZERO), hi);
                            out.push(Sample {
                                out: o,
                                plane,
                                x: clamp(x, wf - C::ONE),
                                y: clamp(y, hf - C::ONE),
                                trans: tidx,
                                roi_w: rw,
                                roi_h: rh,
                            });
                            counts[o] = counts[o] + C::ONE;
                        }
                    }
                }
            }
        }
    }
    Ok((out, counts))
}

/// Corner indices (x0, x1, y0, y1) and fractions of a clamped sample: MXNet's floor / ceil.
fn corners<C: Real>(s: &Sample<C>) -> (usize, usize, usize, usize, C, C) {
    let (x0, y0) = (s.x.f64().floor(), s.y.f64().floor());
    (
        x0 as usize,
        s.x.f64().ceil() as usize,
        y0 as usize,
        s.y.f64().ceil() as usize,
        s.x - C::c(x0),
        s.y - C::c(y0),
    )
}

fn num_classes(ins: &[NDArray], c: Cfg) -> usize {
    if c.no_trans {
        1
    } else {
        ins[2].shape()[1] / 2
    }
}

fn forward_t<T: Element, C: Real>(c: Cfg, ins: &[NDArray], outs: &[NDArray]) -> Result<()> {
    let d = ins[0].shape();
    let w = d[3];
    let x = load::<T, C>(&ins[0]);
    let rois = load::<T, C>(&ins[1]);
    let t = (!c.no_trans).then(|| load::<T, C>(&ins[2]));
    let nc = num_classes(ins, c);
    let (ss, counts) = samples(c, d, &rois, t.as_deref().map(|t| (t, nc)))?;
    let mut o = vec![C::ZERO; counts.len()];
    for s in &ss {
        let (x0, x1, y0, y1, dx, dy) = corners(s);
        let v = |yy: usize, xx: usize| x[s.plane + yy * w + xx];
        let one = C::ONE;
        o[s.out] = o[s.out]
            + (one - dx) * (one - dy) * v(y0, x0)
            + (one - dx) * dy * v(y1, x0)
            + dx * (one - dy) * v(y0, x1)
            + dx * dy * v(y1, x1);
    }
    for (v, &k) in o.iter_mut().zip(&counts) {
        *v = if k == C::ZERO { C::ZERO } else { *v / k };
    }
    store::<T, C>(&outs[0], &o);
    store::<T, C>(&outs[1], &counts);
    Ok(())
}

/// Inputs dY, data, rois[, trans]; outputs the data gradient[, the trans gradient].
fn backward_t<T: Element, C: Real>(c: Cfg, ins: &[NDArray], outs: &[NDArray]) -> Result<()> {
    let d = ins[1].shape();
    let w = d[3];
    let dy = load::<T, C>(&ins[0]);
    let x = load::<T, C>(&ins[1]);
    let rois = load::<T, C>(&ins[2]);
    let t = (!c.no_trans).then(|| load::<T, C>(&ins[3]));
    let nc = if c.no_trans { 1 } else { ins[3].shape()[1] / 2 };
    let (ss, counts) = samples(c, d, &rois, t.as_deref().map(|t| (t, nc)))?;
    let mut gx = vec![C::ZERO; d.size()];
    let mut gt = vec![C::ZERO; t.as_ref().map_or(0, |t| t.len())];
    let tstd = pf::<C>(c.std);
    let one = C::ONE;
    for s in &ss {
        let g = dy[s.out] / counts[s.out];
        let (x0, x1, y0, y1, fx, fy) = corners(s);
        let at = |yy: usize, xx: usize| s.plane + yy * w + xx;
        for (i, q) in [
            (at(y0, x0), (one - fx) * (one - fy)),
            (at(y1, x0), (one - fx) * fy),
            (at(y0, x1), fx * (one - fy)),
            (at(y1, x1), fx * fy),
        ] {
            gx[i] = gx[i] + q * g;
        }
        if let Some((ix, iy)) = s.trans {
            let (u00, u01, u10, u11) = (x[at(y0, x0)], x[at(y1, x0)], x[at(y0, x1)], x[at(y1, x1)]);
            let ddx = (u11 * fy + u10 * (one - fy) - u01 * fy - u00 * (one - fy)) * tstd * g;
            let ddy = (u11 * fx + u01 * (one - fx) - u10 * fx - u00 * (one - fx)) * tstd * g;
            gt[ix] = gt[ix] + ddx * s.roi_w;
            gt[iy] = gt[iy] + ddy * s.roi_h;
        }
    }
    store::<T, C>(&outs[0], &gx);
    if let Some(o) = outs.get(1) {
        store::<T, C>(o, &gt);
    }
    Ok(())
}

fn same_float(op: &str, ins: &[Desc]) -> Result<crate::dtype::DType> {
    super::same_float(op, ins, &["data", "rois", "trans"])
}

fn backward_op(c: Cfg) -> Arc<dyn Operator> {
    const B: &str = "_backward_DeformablePSROIPooling";
    let mut op = FnOp::new(
        B,
        move |ins| {
            expect_inputs(B, ins, c.n_in() + 1)?;
            let dt = same_float(B, ins)?;
            let s: Vec<&Shape> = ins[1..].iter().map(|d| &d.shape).collect();
            let os = out_shape(c, B, &s)?;
            if ins[0].shape != os {
                return Err(Error::shape(
                    B,
                    format!("output gradient {} must have shape {os}", ins[0].shape),
                ));
            }
            let mut o = vec![Desc::new(ins[1].shape.clone(), dt)];
            if !c.no_trans {
                o.push(Desc::new(ins[3].shape.clone(), dt));
            }
            Ok(o)
        },
        move |_, ins, outs| {
            with_real!(B, ins[0].dtype(), T, C, {
                backward_t::<T, C>(c, ins, outs)
            })
        },
    );
    op.num_outputs = if c.no_trans { 1 } else { 2 };
    op.arc()
}

fn pool_op(c: Cfg) -> Arc<dyn Operator> {
    let mut op = FnOp::new(
        OP,
        move |ins| {
            expect_inputs(OP, ins, c.n_in())?;
            let dt = same_float(OP, ins)?;
            let s: Vec<&Shape> = ins.iter().map(|d| &d.shape).collect();
            let os = out_shape(c, OP, &s)?;
            Ok(vec![Desc::new(os.clone(), dt), Desc::new(os, dt)])
        },
        move |_, ins, outs| {
            with_real!(OP, ins[0].dtype(), T, C, {
                forward_t::<T, C>(c, ins, outs)
            })
        },
    )
    .with_grad(move |g, a| {
        let dy = a.out_grads.first().cloned().ok_or_else(|| {
            Error::Internal("DeformablePSROIPooling gradient without out_grad".into())
        })?;
        let mut args = vec![dy];
        args.extend(a.inputs.iter().cloned());
        let mut gs = g.apply(backward_op(c), &args).into_iter();
        let gx = gs.next();
        let gr = g.zeros_like(&a.inputs[1])?;
        let mut out = vec![gx, Some(gr)];
        if !c.no_trans {
            out.push(gs.next());
        }
        Ok(out)
    });
    op.num_outputs = 2;
    op.visible_outputs = Some(1);
    op.output_names = Some(vec!["output".into(), "top_count".into()]);
    op.num_inputs = Some(c.n_in());
    op.arc()
}

pub(super) fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: OP,
        doc: "Performs deformable position-sensitive region-of-interest pooling on inputs.\n\
              The DeformablePSROIPooling operation is described in \
              https://arxiv.org/abs/1703.06211 .batch_size will change to the number of region \
              bounding boxes after DeformablePSROIPooling. Each bin of the output (num_rois, \
              output_dim, pooled_size, pooled_size) averages sample_per_part^2 bilinear samples \
              of its position's data channel, its window shifted by trans * trans_std * the \
              roi's size (unless no_trans, where trans is not an input)."
            .into(),
        params: vec![
            param("spatial_scale", "float, required", None, "Ratio of input feature map height (or w) to raw image height (or w). Equals the reciprocal of total stride in convolutional layers"),
            param("output_dim", "int, required", None, "fix output dim"),
            param("group_size", "int, required", None, "fix group size"),
            param("pooled_size", "int, required", None, "fix pooled size"),
            param("part_size", "int, optional, default='0'", Some("0"), "fix part size"),
            param("sample_per_part", "int, optional, default='1'", Some("1"), "fix samples per part"),
            param("trans_std", "float, optional, default=0", Some("0"), "fix transition std"),
            param("no_trans", "boolean, optional, default=0", Some("0"), "Whether to disable trans parameter."),
        ],
        inputs: Inputs::Fixed(&["data", "rois", "trans"]),
        create: Box::new(|p| {
            let v = |n: &str| p.int(n);
            let (dim, group, pooled, part, spp) = (
                v("output_dim")?,
                v("group_size")?,
                v("pooled_size")?,
                v("part_size")?,
                v("sample_per_part")?,
            );
            if dim < 1 || group < 1 || pooled < 1 || part < 0 || spp < 1 {
                return Err(Error::param(
                    OP,
                    format!(
                        "output_dim, group_size, pooled_size and sample_per_part must be \
                         positive and part_size >= 0, got output_dim {dim}, group_size {group}, \
                         pooled_size {pooled}, part_size {part}, sample_per_part {spp}"
                    ),
                ));
            }
            Ok(pool_op(Cfg {
                scale: p.float("spatial_scale")?,
                dim: dim as usize,
                group: group as usize,
                pooled: pooled as usize,
                // 0 = pooled_size, as MXNet's Init sets it.
                part: if part == 0 { pooled } else { part } as usize,
                spp: spp as usize,
                std: p.float("trans_std")?,
                no_trans: p.bool("no_trans")?,
            }))
        }),
    });
}
