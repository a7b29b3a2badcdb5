//! Faster R-CNN's region proposal layers `_contrib_Proposal` (one image) and
//! `_contrib_MultiProposal` (a batch): anchors shifted over the score map, decoded by the
//! predicted deltas, clipped to the image, filtered by size, sorted by foreground score, cut to
//! `rpn_pre_nms_top_n`, suppressed by NMS, and written as `rpn_post_nms_top_n` rows per image
//! of [batch_index, x1, y1, x2, y2] (and the scores when `output_score`).
//!
//! As MXNet 1.9.1's CPU code, which runs only float32: the arithmetic is float32 with its
//! double-precision steps where the C++ promotes, boxes use the +1 pixel convention, anchors
//! round their sizes as `GenerateAnchors`, positions past `im_info`'s height / width and boxes
//! smaller than `rpn_min_size * scale` get score -1 (the small ones also grow by the minimum
//! size), and when NMS keeps fewer boxes than the output holds the kept rows repeat
//! cyclically. Score ties sort by position (MXNet's unstable sort leaves them unspecified).
//! The gradients are zero, as MXNet's backward writes.

use super::{max, min, same_float};
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::graph::{Entry, GradBuilder};
use crate::ndarray::NDArray;
use crate::op::params::param;
use crate::op::{expect_inputs, Desc, FnOp, GradArgs, Inputs, Operator, Registry, SimpleDef};
use crate::shape::Shape;
use std::sync::Arc;

const PROPOSAL: &str = "_contrib_Proposal";
const MULTI: &str = "_contrib_MultiProposal";

#[derive(Debug, Clone)]
struct Cfg {
    op: &'static str,
    pre: i64,
    post: usize,
    threshold: f32,
    min_size: i64,
    scales: Vec<f32>,
    ratios: Vec<f32>,
    stride: i64,
    output_score: bool,
    iou_loss: bool,
}

fn zero_grads(g: &mut GradBuilder, a: &GradArgs) -> Result<Vec<Option<Entry>>> {
    a.inputs.iter().map(|i| g.zeros_like(i).map(Some)).collect()
}

/// Output shapes (rois, scores) from the three input shapes, or an error naming the input.
fn shapes(c: &Cfg, s: &[&Shape]) -> Result<(Shape, Shape)> {
    let (cls, bbox, info) = (s[0], s[1], s[2]);
    let all = || format!("cls_prob {cls}, bbox_pred {bbox}, im_info {info}");
    if cls.ndim() != 4 || cls[1] % 2 != 0 {
        return Err(Error::shape(
            c.op,
            format!(
                "cls_prob must be 4-D (batch, 2 * num_anchors, height, width), got {}",
                all()
            ),
        ));
    }
    let (n, a, h, w) = (cls[0], cls[1] / 2, cls[2], cls[3]);
    if a != c.scales.len() * c.ratios.len() {
        return Err(Error::shape(
            c.op,
            format!(
                "cls_prob has {} channels, but len(scales) * len(ratios) = {} * {} anchors \
                 need {} ({})",
                cls[1],
                c.scales.len(),
                c.ratios.len(),
                2 * c.scales.len() * c.ratios.len(),
                all()
            ),
        ));
    }
    if a * h * w == 0 {
        return Err(Error::shape(
            c.op,
            format!("cls_prob has no anchors to propose from ({})", all()),
        ));
    }
    if bbox.dims() != [n, 4 * a, h, w] {
        return Err(Error::shape(
            c.op,
            format!(
                "bbox_pred must have shape ({n}, {}, {h}, {w}) to match cls_prob, got {}",
                4 * a,
                all()
            ),
        ));
    }
    if info.dims() != [n, 3] {
        return Err(Error::shape(
            c.op,
            format!(
                "im_info must have shape ({n}, 3): one [height, width, scale] per image, got {}",
                all()
            ),
        ));
    }
    if c.op == PROPOSAL && n != 1 {
        return Err(Error::shape(
            c.op,
            format!(
                "takes one image (batch 1; use MultiProposal for a batch), got {}",
                all()
            ),
        ));
    }
    let rows = n * c.post;
    Ok((Shape::new(vec![rows, 5]), Shape::new(vec![rows, 1])))
}

/// `GenerateAnchors`: one [x1, y1, x2, y2] per (ratio, scale), ratio-major, around the
/// first cell, with MXNet's float32 rounding of the sizes.
fn anchors(c: &Cfg) -> Vec<[f32; 4]> {
    let side = (c.stride as f64 - 1.0) as f32 + 1.0;
    let ctr = (0.5 * (side as f64 - 1.0)) as f32;
    let mut out = Vec::with_capacity(c.ratios.len() * c.scales.len());
    for &ratio in &c.ratios {
        for &scale in &c.scales {
            let size_ratios = (side * side / ratio).floor();
            let new_w = (size_ratios.sqrt() + 0.5).floor() * scale;
            let new_h = (new_w / scale * ratio + 0.5).floor() * scale;
            let (hw, hh) = (0.5 * (new_w - 1.0), 0.5 * (new_h - 1.0));
            out.push([ctr - hw, ctr - hh, ctr + hw, ctr + hh]);
        }
    }
    out
}

/// One image's proposals after the transform and size filter: [x1, y1, x2, y2, score] per
/// anchor, in (row, column, anchor) order. `cls` and `bbox` are this image's planes.
fn decode(
    c: &Cfg,
    base: &[[f32; 4]],
    cls: &[f32],
    bbox: &[f32],
    info: [f32; 3],
    (h, w): (usize, usize),
) -> Result<Vec<[f32; 5]>> {
    let a = base.len();
    let stride = c.stride as f32;
    // C++ casts the float quotient to int.
    let (real_h, real_w) = ((info[0] / stride) as i64, (info[1] / stride) as i64);
    if real_h > h as i64 || real_w > w as i64 {
        return Err(Error::Value(format!(
            "operator {}: im_info [height {}, width {}] needs a score map of at least \
             {real_h} x {real_w} at feature_stride {}, got {h} x {w}",
            c.op, info[0], info[1], c.stride
        )));
    }
    let (im_h, im_w) = (info[0] - 1.0, info[1] - 1.0);
    let clip = |v: f32, hi: f32| max(min(v, hi), 0.0);
    let plane = h * w;
    let mut out = Vec::with_capacity(a * plane);
    for y in 0..h {
        for x in 0..w {
            for (i, b) in base.iter().enumerate() {
                let (sx, sy) = ((x as i64 * c.stride) as f32, (y as i64 * c.stride) as f32);
                let (x1, y1, x2, y2) = (b[0] + sx, b[1] + sy, b[2] + sx, b[3] + sy);
                let d = |k: usize| bbox[(i * 4 + k) * plane + y * w + x];
                let p = if c.iou_loss {
                    [x1 + d(0), y1 + d(1), x2 + d(2), y2 + d(3)]
                } else {
                    let bw = x2 - x1 + 1.0;
                    let bh = y2 - y1 + 1.0;
                    let cx = (x1 as f64 + 0.5 * (bw as f64 - 1.0)) as f32;
                    let cy = (y1 as f64 + 0.5 * (bh as f64 - 1.0)) as f32;
                    let (pcx, pcy) = (d(0) * bw + cx, d(1) * bh + cy);
                    let (pw, ph) = (d(2).exp() * bw, d(3).exp() * bh);
                    let (hw, hh) = (0.5 * (pw as f64 - 1.0), 0.5 * (ph as f64 - 1.0));
                    [
                        (pcx as f64 - hw) as f32,
                        (pcy as f64 - hh) as f32,
                        (pcx as f64 + hw) as f32,
                        (pcy as f64 + hh) as f32,
                    ]
                };
                let mut score = cls[(a + i) * plane + y * w + x];
                if y as i64 >= real_h || x as i64 >= real_w {
                    score = -1.0;
                }
                let mut r = [
                    clip(p[0], im_w),
                    clip(p[1], im_h),
                    clip(p[2], im_w),
                    clip(p[3], im_h),
                    score,
                ];
                let min_size = c.min_size as f32 * info[2];
                if r[2] - r[0] + 1.0 < min_size || r[3] - r[1] + 1.0 < min_size {
                    let half = min_size / 2.0;
                    r = [r[0] - half, r[1] - half, r[2] + half, r[3] + half, -1.0];
                }
                out.push(r);
            }
        }
    }
    Ok(out)
}

/// Greedy NMS over score-sorted boxes with the +1 pixel convention of Faster R-CNN (so not
/// `box_nms`'s overlap): indices of at most `limit` kept boxes.
fn nms(dets: &[[f32; 5]], thresh: f32, limit: usize) -> Vec<usize> {
    let area: Vec<f32> = dets
        .iter()
        .map(|d| (d[2] - d[0] + 1.0) * (d[3] - d[1] + 1.0))
        .collect();
    let mut suppressed = vec![false; dets.len()];
    let mut keep = Vec::new();
    for i in 0..dets.len() {
        if keep.len() >= limit {
            break;
        }
        if suppressed[i] {
            continue;
        }
        keep.push(i);
        let a = &dets[i];
        for j in i + 1..dets.len() {
            if suppressed[j] {
                continue;
            }
            let b = &dets[j];
            let iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]) + 1.0);
            let ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]) + 1.0);
            let inter = iw * ih;
            if inter / (area[i] + area[j] - inter) > thresh {
                suppressed[j] = true;
            }
        }
    }
    keep
}

fn forward_t<T: Element>(c: &Cfg, ins: &[NDArray], outs: &[NDArray]) -> Result<()> {
    let s = ins[0].shape();
    let (n, h, w) = (s[0], s[2], s[3]);
    // SAFETY: inside the op that reads `ins`.
    let f32s = |a: &NDArray| -> Vec<f32> {
        unsafe { a.data::<T>() }
            .iter()
            .map(|v| v.to_f64() as f32)
            .collect()
    };
    let (cls, bbox, info) = (f32s(&ins[0]), f32s(&ins[1]), f32s(&ins[2]));
    let base = anchors(c);
    let count = base.len() * h * w;
    let pre = if c.pre > 0 {
        (c.pre as usize).min(count)
    } else {
        count
    };
    let limit = c.post.min(pre);
    let (cs, bs) = (cls.len() / n, bbox.len() / n);
    let mut rois = Vec::with_capacity(n * c.post * 5);
    let mut scores = Vec::with_capacity(n * c.post);
    for b in 0..n {
        let im = [info[b * 3], info[b * 3 + 1], info[b * 3 + 2]];
        let props = decode(
            c,
            &base,
            &cls[b * cs..][..cs],
            &bbox[b * bs..][..bs],
            im,
            (h, w),
        )?;
        let mut order: Vec<usize> = (0..count).collect();
        order.sort_by(|&i, &j| props[j][4].total_cmp(&props[i][4]));
        let sorted: Vec<[f32; 5]> = order[..pre].iter().map(|&i| props[i]).collect();
        let keep = nms(&sorted, c.threshold, limit);
        for i in 0..c.post {
            // `keep` is never empty: the first sorted box is always kept.
            let r = &sorted[keep[i % keep.len()]];
            rois.extend_from_slice(&[b as f32, r[0], r[1], r[2], r[3]]);
            scores.push(r[4]);
        }
    }
    for (o, v) in outs.iter().zip([rois, scores]) {
        // SAFETY: inside the op that writes `outs`; `v` has the output's size.
        let d = unsafe { o.data_mut::<T>() };
        for (d, s) in d.iter_mut().zip(v) {
            *d = T::from_f64(s as f64);
        }
    }
    Ok(())
}

fn proposal_op(c: Cfg) -> Arc<dyn Operator> {
    let op = c.op;
    let ci = c.clone();
    let score = c.output_score;
    let mut f = FnOp::new(
        op,
        move |ins| {
            expect_inputs(op, ins, 3)?;
            let dt = same_float(op, ins, &["cls_prob", "bbox_pred", "im_info"])?;
            let (r, s) = shapes(&ci, &[&ins[0].shape, &ins[1].shape, &ins[2].shape])?;
            Ok(vec![Desc::new(r, dt), Desc::new(s, dt)])
        },
        move |_, ins, outs| {
            crate::with_dtype!(ins[0].dtype(), T, { forward_t::<T>(&c, ins, outs) })
        },
    )
    .with_grad(zero_grads)
    .with_shape_partial(move |ins, _| {
        // bbox_pred and im_info follow from cls_prob, as MXNet's InferShape fills them.
        if let Some(Some(cls)) = ins.first() {
            if cls.ndim() == 4 {
                let (n, a2, h, w) = (cls[0], cls[1], cls[2], cls[3]);
                if ins[1].is_none() {
                    ins[1] = Some(Shape::new(vec![n, a2 * 2, h, w]));
                }
                if ins[2].is_none() {
                    ins[2] = Some(Shape::new(vec![n, 3]));
                }
            }
        }
        Ok(())
    });
    f.num_outputs = 2;
    f.visible_outputs = Some(if score { 2 } else { 1 });
    f.output_names = Some(vec!["output".into(), "score".into()]);
    f.arc()
}

fn create(op: &'static str, p: &crate::op::Params) -> Result<Arc<dyn Operator>> {
    let bad = |m: String| Err(Error::param(op, m));
    let fl =
        |n: &str| -> Result<Vec<f32>> { Ok(p.floats(n)?.into_iter().map(|v| v as f32).collect()) };
    let (scales, ratios) = (fl("scales")?, fl("ratios")?);
    if scales.is_empty() || ratios.is_empty() {
        return bad(format!(
            "scales and ratios must not be empty, got scales {scales:?} and ratios {ratios:?}"
        ));
    }
    if scales
        .iter()
        .chain(&ratios)
        .any(|v| v.is_nan() || *v <= 0.0)
    {
        return bad(format!(
            "scales and ratios must be positive, got scales {scales:?} and ratios {ratios:?}"
        ));
    }
    let stride = p.int("feature_stride")?;
    if stride < 1 {
        return bad(format!("feature_stride must be positive, got {stride}"));
    }
    let post = p.int("rpn_post_nms_top_n")?;
    if post < 0 {
        return bad(format!("rpn_post_nms_top_n must be >= 0, got {post}"));
    }
    Ok(proposal_op(Cfg {
        op,
        pre: p.int("rpn_pre_nms_top_n")?,
        post: post as usize,
        threshold: p.float("threshold")? as f32,
        min_size: p.int("rpn_min_size")?,
        scales,
        ratios,
        stride,
        output_score: p.bool("output_score")?,
        iou_loss: p.bool("iou_loss")?,
    }))
}

fn params() -> Vec<crate::op::params::ParamSpec> {
    vec![
        param("rpn_pre_nms_top_n", "int, optional, default='6000'", Some("6000"), "Number of top scoring boxes to keep before applying NMS to RPN proposals"),
        param("rpn_post_nms_top_n", "int, optional, default='300'", Some("300"), "Number of top scoring boxes to keep after applying NMS to RPN proposals"),
        param("threshold", "float, optional, default=0.699999988", Some("0.699999988"), "NMS value, below which to suppress."),
        param("rpn_min_size", "int, optional, default='16'", Some("16"), "Minimum height or width in proposal"),
        param("scales", "tuple of <float>, optional, default=[4,8,16,32]", Some("(4,8,16,32)"), "Used to generate anchor windows by enumerating scales"),
        param("ratios", "tuple of <float>, optional, default=[0.5,1,2]", Some("(0.5,1,2)"), "Used to generate anchor windows by enumerating ratios"),
        param("feature_stride", "int, optional, default='16'", Some("16"), "The size of the receptive field each unit in the convolution layer of the rpn,for example the product of all stride's prior to this layer."),
        param("output_score", "boolean, optional, default=0", Some("0"), "Add score to outputs"),
        param("iou_loss", "boolean, optional, default=0", Some("0"), "Usage of IoU Loss"),
    ]
}

pub(super) fn register(r: &mut Registry) {
    for (name, what) in [
        (
            PROPOSAL,
            "one image (cls_prob batch 1); rois (rpn_post_nms_top_n, 5)",
        ),
        (
            MULTI,
            "each image of the batch; rois (batch * rpn_post_nms_top_n, 5), image by image",
        ),
    ] {
        r.add(SimpleDef {
            name,
            doc: format!(
                "Generate region proposals via RPN: anchors of every scale and ratio at each \
                 cell of the score map, decoded by bbox_pred, clipped to the image, filtered \
                 by rpn_min_size, ranked by the foreground half of cls_prob and suppressed by \
                 NMS, for {what} of [batch_index, x1, y1, x2, y2]. When NMS keeps fewer boxes, \
                 the kept ones repeat. With output_score, also the scores (rows, 1)."
            ),
            params: params(),
            inputs: Inputs::Fixed(&["cls_prob", "bbox_pred", "im_info"]),
            create: Box::new(move |p| create(name, p)),
        });
    }
}
