//! The SSD heads `_contrib_MultiBoxPrior`, `_contrib_MultiBoxTarget` and
//! `_contrib_MultiBoxDetection`, as MXNet 1.9.1's CPU code computes them: anchors in float32,
//! the target matching on float32 overlaps, `minimum_negative_samples` and
//! `MultiBoxDetection`'s `background_id` accepted but unused (the CPU kernels ignore them).
//! All three back-propagate zeros.

use super::{load, max, min, pf, same_float, store};
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::graph::{Entry, GradBuilder};
use crate::kernels::cpu::norm::{with_real, Real};
use crate::ndarray::NDArray;
use crate::op::params::param;
use crate::op::{expect_inputs, Desc, FnOp, GradArgs, Inputs, Operator, Registry, SimpleDef};
use crate::shape::Shape;
use std::sync::Arc;

fn zero_grads(g: &mut GradBuilder, a: &GradArgs) -> Result<Vec<Option<Entry>>> {
    a.inputs.iter().map(|i| g.zeros_like(i).map(Some)).collect()
}

fn variances(op: &str, p: &crate::op::Params) -> Result<[f32; 4]> {
    match p.floats("variances")?.as_slice() {
        &[a, b, c, d] => Ok([a as f32, b as f32, c as f32, d as f32]),
        v => Err(Error::param(
            op,
            format!("variances must have 4 values, got {} ({v:?})", v.len()),
        )),
    }
}

// ---------------------------------------------------------------- MultiBoxPrior

const PRIOR: &str = "_contrib_MultiBoxPrior";

#[derive(Debug, Clone)]
struct PriorCfg {
    sizes: Vec<f32>,
    ratios: Vec<f32>,
    clip: bool,
    steps: [f32; 2],
    offsets: [f32; 2],
}

fn prior_boxes(c: &PriorCfg, h: usize, w: usize) -> Vec<f32> {
    let (sy, sx) = if c.steps[0] <= 0.0 || c.steps[1] <= 0.0 {
        (1.0 / h as f32, 1.0 / w as f32)
    } else {
        (c.steps[0], c.steps[1])
    };
    let (hf, wf) = (h as f32, w as f32);
    let mut o = Vec::with_capacity(h * w * (c.sizes.len() + c.ratios.len() - 1) * 4);
    for r in 0..h {
        let cy = (r as f32 + c.offsets[0]) * sy;
        for col in 0..w {
            let cx = (col as f32 + c.offsets[1]) * sx;
            // Every size at the first ratio (1 unless the user asks otherwise), then the
            // first size at each further ratio, as MXNet orders them.
            let q0 = c.ratios.first().map_or(1.0, |r| r.sqrt());
            for &s in &c.sizes {
                let (bw, bh) = (s * hf / wf * q0 / 2.0, s / q0 / 2.0);
                o.extend_from_slice(&[cx - bw, cy - bh, cx + bw, cy + bh]);
            }
            let s = c.sizes[0];
            for &ratio in &c.ratios[1..] {
                let q = ratio.sqrt();
                let (bw, bh) = (s * hf / wf * q / 2.0, s / q / 2.0);
                o.extend_from_slice(&[cx - bw, cy - bh, cx + bw, cy + bh]);
            }
        }
    }
    if c.clip {
        for v in &mut o {
            *v = v.clamp(0.0, 1.0);
        }
    }
    o
}

fn prior_op(c: PriorCfg) -> Arc<dyn Operator> {
    let c2 = c.clone();
    FnOp::new(
        PRIOR,
        move |ins| {
            expect_inputs(PRIOR, ins, 1)?;
            let dt = super::super::float(PRIOR, ins[0].dtype)?;
            let d = &ins[0].shape;
            if d.ndim() < 4 || d[2] == 0 || d[3] == 0 {
                return Err(Error::shape(
                    PRIOR,
                    format!("data must be 4-D (batch, channel, y, x) with y, x > 0, got {d}"),
                ));
            }
            let n = d[2] * d[3] * (c.sizes.len() + c.ratios.len() - 1);
            Ok(vec![Desc::new(Shape::new(vec![1, n, 4]), dt)])
        },
        move |_, ins, outs| {
            let d = ins[0].shape();
            let b = prior_boxes(&c2, d[2], d[3]);
            with_real!(PRIOR, outs[0].dtype(), T, C, {
                let v: Vec<C> = b.iter().map(|&x| C::c(x as f64)).collect();
                store::<T, C>(&outs[0], &v);
            });
            Ok(())
        },
    )
    .with_grad(zero_grads)
    .arc()
}

// ---------------------------------------------------------------- MultiBoxTarget

const TARGET: &str = "_contrib_MultiBoxTarget";

#[derive(Debug, Clone, Copy)]
struct TargetCfg {
    overlap: f32,
    ignore: f32,
    ratio: f32,
    neg_thresh: f32,
    var: [f32; 4],
}

/// The regression target of anchor `a` for ground truth `g` (corner boxes), in float32.
fn loc_target(a: [f32; 4], g: [f32; 4], v: [f32; 4]) -> [f32; 4] {
    let (aw, ah) = (a[2] - a[0], a[3] - a[1]);
    let (ax, ay) = ((a[0] + a[2]) * 0.5, (a[1] + a[3]) * 0.5);
    let (gw, gh) = (g[2] - g[0], g[3] - g[1]);
    let (gx, gy) = ((g[0] + g[2]) * 0.5, (g[1] + g[3]) * 0.5);
    [
        (gx - ax) / aw / v[0],
        (gy - ay) / ah / v[1],
        (gw / aw).ln() / v[2],
        (gh / ah).ln() / v[3],
    ]
}

fn target_t<T: Element, C: Real>(c: TargetCfg, ins: &[NDArray], outs: &[NDArray]) -> Result<()> {
    let anchors = load::<T, C>(&ins[0]);
    let labels = load::<T, C>(&ins[1]);
    let preds = load::<T, C>(&ins[2]);
    let ls = ins[1].shape();
    let (nb, nl, lw) = (ls[0], ls[1], ls[2]);
    let na = anchors.len() / 4;
    let ncls = ins[2].shape()[1];
    let mut loc = vec![C::ZERO; nb * na * 4];
    let mut mask = vec![C::ZERO; nb * na * 4];
    let mut cls = vec![C::c(c.ignore as f64); nb * na];
    let f = |v: C| v.f64() as f32;
    for b in 0..nb {
        let lab = &labels[b * nl * lw..(b + 1) * nl * lw];
        let mut ngt = 0;
        for i in 0..nl {
            let row = &lab[i * lw..i * lw + 5];
            if f(row[0]) == -1.0 {
                if row[1..5].iter().any(|&v| f(v) != -1.0) {
                    return Err(Error::Value(format!(
                        "operator {TARGET}: label[{b}, {i}] has class -1 (padding) but \
                         coordinates {:?}; padding rows must be all -1",
                        row[1..5].iter().map(|v| v.f64()).collect::<Vec<_>>()
                    )));
                }
                break;
            }
            ngt += 1;
        }
        if ngt == 0 {
            continue;
        }
        // Overlaps in the data type, compared in float32 as MXNet does.
        let mut ov = vec![0f32; na * ngt];
        for j in 0..na {
            let a = &anchors[j * 4..j * 4 + 4];
            for k in 0..ngt {
                let g = &lab[k * lw + 1..k * lw + 5];
                let iw = max(C::ZERO, min(a[2], g[2]) - max(a[0], g[0]));
                let ih = max(C::ZERO, min(a[3], g[3]) - max(a[1], g[1]));
                let i = iw * ih;
                let u = (a[2] - a[0]) * (a[3] - a[1]) + (g[2] - g[0]) * (g[3] - g[1]) - i;
                ov[j * ngt + k] = if u == C::ZERO { 0.0 } else { f(i / u) };
            }
        }
        let mut gt_done = vec![false; ngt];
        let mut best: Vec<(f32, i64)> = vec![(-1.0, -1); na];
        // -1 don't care, 0 negative, 1 positive.
        let mut flag = vec![-1i8; na];
        let mut npos = 0usize;
        while gt_done.iter().any(|d| !d) {
            let (mut ba, mut bg, mut bo) = (usize::MAX, 0, 1e-6f32);
            for j in (0..na).filter(|&j| flag[j] != 1) {
                for k in (0..ngt).filter(|&k| !gt_done[k]) {
                    if ov[j * ngt + k] > bo {
                        (ba, bg, bo) = (j, k, ov[j * ngt + k]);
                    }
                }
            }
            if ba == usize::MAX {
                break;
            }
            best[ba] = (bo, bg as i64);
            npos += 1;
            gt_done[bg] = true;
            flag[ba] = 1;
        }
        let best_gt = |j: usize| {
            let mut m = (-1f32, -1i64);
            for k in 0..ngt {
                if ov[j * ngt + k] > m.0 {
                    m = (ov[j * ngt + k], k as i64);
                }
            }
            m
        };
        if c.overlap > 0.0 {
            for j in 0..na {
                if flag[j] == 1 {
                    continue;
                }
                let m = best_gt(j);
                if m.1 >= 0 {
                    best[j] = m;
                    if m.0 > c.overlap {
                        npos += 1;
                        flag[j] = 1;
                    }
                }
            }
        }
        if c.ratio > 0.0 {
            let nneg = ((npos as f32 * c.ratio) as i64).min(na as i64 - npos as i64);
            if nneg > 0 {
                let p = &preds[b * ncls * na..(b + 1) * ncls * na];
                let mut cand: Vec<(f32, usize)> = Vec::new();
                for j in 0..na {
                    if flag[j] == 1 {
                        continue;
                    }
                    if best[j].0 < 0.0 {
                        let m = best_gt(j);
                        if m.1 >= 0 {
                            best[j] = m;
                        }
                    }
                    if best[j].0 < c.neg_thresh && flag[j] == -1 {
                        let mut mv = p[j];
                        for k in 1..ncls {
                            mv = max(mv, p[j + na * k]);
                        }
                        let mut sum = C::ZERO;
                        for k in 0..ncls {
                            sum = sum + (p[j + na * k] - mv).exp();
                        }
                        let prob = (p[j] - mv).exp() / sum;
                        cand.push((-f(prob), j));
                    }
                }
                if (cand.len() as i64) < nneg {
                    return Err(Error::Value(format!(
                        "operator {TARGET}: batch {b} needs {nneg} negative samples but only {} \
                         anchors overlap less than negative_mining_thresh {}",
                        cand.len(),
                        c.neg_thresh
                    )));
                }
                // Hardest negatives (lowest background probability) first; stable.
                cand.sort_by(|x, y| y.0.partial_cmp(&x.0).unwrap_or(std::cmp::Ordering::Equal));
                for &(_, j) in &cand[..nneg as usize] {
                    flag[j] = 0;
                }
            }
        } else {
            for fl in flag.iter_mut().filter(|fl| **fl != 1) {
                *fl = 0;
            }
        }
        for j in 0..na {
            let o = b * na + j;
            if flag[j] == 1 {
                let k = best[j].1 as usize;
                cls[o] = lab[k * lw] + C::ONE;
                let a = [0, 1, 2, 3].map(|q| f(anchors[j * 4 + q]));
                let g = [1, 2, 3, 4].map(|q| f(lab[k * lw + q]));
                let t = loc_target(a, g, c.var);
                for q in 0..4 {
                    mask[o * 4 + q] = C::ONE;
                    loc[o * 4 + q] = C::c(t[q] as f64);
                }
            } else if flag[j] == 0 {
                cls[o] = C::ZERO;
            }
        }
    }
    store::<T, C>(&outs[0], &loc);
    store::<T, C>(&outs[1], &mask);
    store::<T, C>(&outs[2], &cls);
    Ok(())
}

fn target_op(c: TargetCfg) -> Arc<dyn Operator> {
    let mut op = FnOp::new(
        TARGET,
        |ins| {
            expect_inputs(TARGET, ins, 3)?;
            let dt = same_float(TARGET, ins, &["anchor", "label", "cls_pred"])?;
            let (a, l, p) = (&ins[0].shape, &ins[1].shape, &ins[2].shape);
            let desc = format!("(anchor {a}, label {l}, cls_pred {p})");
            let err = |m: &str| Err(Error::shape(TARGET, format!("{m} {desc}")));
            if a.ndim() != 3 || a[0] != 1 || a[1] == 0 || a[2] != 4 {
                return err("anchor must be (1, num_anchors, 4) shared across the batch, got");
            }
            if l.ndim() != 3 || l[1] == 0 || l[2] < 5 {
                return err("label must be (batch, num_labels, label_width >= 5), got");
            }
            if p.ndim() != 3 || p[2] != a[1] || p[0] != l[0] {
                return err("cls_pred must be (batch, num_classes, num_anchors), got");
            }
            let (b, n) = (l[0], a[1]);
            Ok(vec![
                Desc::new(Shape::new(vec![b, n * 4]), dt),
                Desc::new(Shape::new(vec![b, n * 4]), dt),
                Desc::new(Shape::new(vec![b, n]), dt),
            ])
        },
        move |_, ins, outs| {
            with_real!(TARGET, ins[0].dtype(), T, C, {
                target_t::<T, C>(c, ins, outs)
            })
        },
    )
    .with_grad(zero_grads);
    op.num_outputs = 3;
    op.output_names = Some(vec![
        "loc_target".into(),
        "loc_mask".into(),
        "cls_target".into(),
    ]);
    op.arc()
}

// ---------------------------------------------------------------- MultiBoxDetection

const DET: &str = "_contrib_MultiBoxDetection";

#[derive(Debug, Clone, Copy)]
struct DetCfg {
    clip: bool,
    threshold: f64,
    nms: f64,
    force: bool,
    var: [f32; 4],
    topk: i64,
}

fn det_t<T: Element, C: Real>(c: DetCfg, ins: &[NDArray], out: &NDArray) {
    let prob = load::<T, C>(&ins[0]);
    let locp = load::<T, C>(&ins[1]);
    let anc = load::<T, C>(&ins[2]);
    let s = ins[0].shape();
    let (nb, ncls, na) = (s[0], s[1], s[2]);
    let neg = C::c(-1.0);
    let mut o = vec![neg; nb * na * 6];
    let (thr, nms) = (pf::<C>(c.threshold), pf::<C>(c.nms));
    let v = c.var.map(|x| C::c(x as f64));
    let (zero, one, two) = (C::ZERO, C::ONE, C::c(2.0));
    let clip = |x: C| if c.clip { max(zero, min(one, x)) } else { x };
    for b in 0..nb {
        let p = &prob[b * ncls * na..(b + 1) * ncls * na];
        let out = &mut o[b * na * 6..(b + 1) * na * 6];
        let mut rows: Vec<[C; 6]> = Vec::new();
        for i in 0..na {
            let (mut score, mut id) = (neg, 0usize);
            for j in 1..ncls {
                if p[j * na + i] > score {
                    (score, id) = (p[j * na + i], j);
                }
            }
            if id > 0 && score < thr {
                id = 0;
            }
            if id == 0 {
                continue;
            }
            let a = &anc[i * 4..i * 4 + 4];
            let l = &locp[b * na * 4 + i * 4..][..4];
            let (aw, ah) = (a[2] - a[0], a[3] - a[1]);
            let (ax, ay) = ((a[0] + a[2]) / two, (a[1] + a[3]) / two);
            let (ox, oy) = (l[0] * v[0] * aw + ax, l[1] * v[1] * ah + ay);
            let (ow, oh) = (
                (l[2] * v[2]).exp() * aw / two,
                (l[3] * v[3]).exp() * ah / two,
            );
            rows.push([
                C::c((id - 1) as f64),
                score,
                clip(ox - ow),
                clip(oy - oh),
                clip(ox + ow),
                clip(oy + oh),
            ]);
        }
        for (k, r) in rows.iter().enumerate() {
            out[k * 6..k * 6 + 6].copy_from_slice(r);
        }
        let n = rows.len();
        if n < 1 || !(c.nms > 0.0 && c.nms <= 1.0) {
            continue;
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&x, &y| {
            rows[y][1]
                .partial_cmp(&rows[x][1])
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let keep = if c.topk > 0 && (c.topk as usize) < n {
            c.topk as usize
        } else {
            n
        };
        for (k, &src) in order[..keep].iter().enumerate() {
            out[k * 6..k * 6 + 6].copy_from_slice(&rows[src]);
        }
        // Rows past nms_topk keep their (unsorted) values but lose their class, as MXNet.
        for k in keep..n {
            out[k * 6] = neg;
        }
        for i in 0..n {
            if out[i * 6] < zero {
                continue;
            }
            for j in i + 1..n {
                if out[j * 6] < zero || !(c.force || out[i * 6] == out[j * 6]) {
                    continue;
                }
                let (a, q) = (&out[i * 6 + 2..i * 6 + 6], &out[j * 6 + 2..j * 6 + 6]);
                let w = max(zero, min(a[2], q[2]) - max(a[0], q[0]));
                let h = max(zero, min(a[3], q[3]) - max(a[1], q[1]));
                let inter = w * h;
                let u = (a[2] - a[0]) * (a[3] - a[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter;
                let iou = if u <= zero { zero } else { inter / u };
                if iou >= nms {
                    out[j * 6] = neg;
                }
            }
        }
    }
    store::<T, C>(out, &o);
}

fn det_op(c: DetCfg) -> Arc<dyn Operator> {
    FnOp::new(
        DET,
        |ins| {
            expect_inputs(DET, ins, 3)?;
            let dt = same_float(DET, ins, &["cls_prob", "loc_pred", "anchor"])?;
            let (p, l, a) = (&ins[0].shape, &ins[1].shape, &ins[2].shape);
            let desc = format!("(cls_prob {p}, loc_pred {l}, anchor {a})");
            let ok = p.ndim() == 3
                && l.ndim() == 2
                && a.ndim() == 3
                && a[0] == 1
                && a[1] > 0
                && a[2] == 4
                && p[2] == a[1]
                && l[1] == p[2] * 4
                && l[0] == p[0];
            if !ok {
                return Err(Error::shape(
                    DET,
                    format!(
                        "expects cls_prob (batch, num_classes, num_anchors), loc_pred (batch, \
                         num_anchors * 4) and anchor (1, num_anchors, 4), got {desc}"
                    ),
                ));
            }
            Ok(vec![Desc::new(Shape::new(vec![p[0], a[1], 6]), dt)])
        },
        move |_, ins, outs| {
            with_real!(DET, ins[0].dtype(), T, C, {
                det_t::<T, C>(c, ins, &outs[0])
            });
            Ok(())
        },
    )
    .with_grad(zero_grads)
    .arc()
}

const VAR_TY: &str = "tuple of <float>, optional, default=[0.1,0.1,0.2,0.2]";

pub(super) fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: PRIOR,
        doc: "Generate prior(anchor) boxes from data, sizes and ratios: for every cell of \
              data's (height, width) grid, one box per size at ratios[0] and one per further \
              ratio at sizes[0], as corner boxes (1, height * width * (len(sizes) + \
              len(ratios) - 1), 4) in [0, 1] image coordinates."
            .into(),
        params: vec![
            param("sizes", "tuple of <float>, optional, default=[1]", Some("(1.0,)"), "List of sizes of generated MultiBoxPriores."),
            param("ratios", "tuple of <float>, optional, default=[1]", Some("(1.0,)"), "List of aspect ratios of generated MultiBoxPriores."),
            param("clip", "boolean, optional, default=0", Some("0"), "Whether to clip out-of-boundary boxes."),
            param("steps", "tuple of <float>, optional, default=[-1,-1]", Some("(-1.0, -1.0)"), "Priorbox step across y and x, -1 for auto calculation."),
            param("offsets", "tuple of <float>, optional, default=[0.5,0.5]", Some("(0.5, 0.5)"), "Priorbox center offsets, y and x respectively"),
        ],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| {
            let fl = |n: &str| -> Result<Vec<f32>> {
                Ok(p.floats(n)?.into_iter().map(|v| v as f32).collect())
            };
            let (sizes, ratios, steps, offsets) =
                (fl("sizes")?, fl("ratios")?, fl("steps")?, fl("offsets")?);
            let bad = |m: String| Err(Error::param(PRIOR, m));
            if sizes.is_empty() || ratios.is_empty() {
                return bad(format!("sizes and ratios must not be empty, got sizes {sizes:?} and ratios {ratios:?}"));
            }
            let (&[s0, s1], &[o0, o1]) = (steps.as_slice(), offsets.as_slice()) else {
                return bad(format!(
                    "steps and offsets must have 2 values (y, x), got steps {steps:?} and offsets {offsets:?}"
                ));
            };
            if s0 * s1 < 0.0 {
                return bad(format!("must specify both step_y and step_x, got steps {steps:?}"));
            }
            if !(0.0..=1.0).contains(&o0) || !(0.0..=1.0).contains(&o1) {
                return bad(format!("offsets must lie in [0, 1], got {offsets:?}"));
            }
            Ok(prior_op(PriorCfg {
                sizes,
                ratios,
                clip: p.bool("clip")?,
                steps: [s0, s1],
                offsets: [o0, o1],
            }))
        }),
    });
    r.add(SimpleDef {
        name: TARGET,
        doc: "Compute Multibox training targets: matches anchors (1, N, 4) to the ground truth \
              label (batch, num_labels, [class, xmin, ymin, xmax, ymax, ...]; rows of -1 pad) \
              and returns loc_target and loc_mask (batch, N * 4) and cls_target (batch, N): \
              class + 1 for positive anchors, 0 for negatives (all others, or the hardest ones \
              under negative mining), ignore_label for the rest."
            .into(),
        params: vec![
            param(
                "overlap_threshold",
                "float, optional, default=0.5",
                Some("0.5"),
                "Anchor-GT overlap threshold to be regarded as a positive match.",
            ),
            param(
                "ignore_label",
                "float, optional, default=-1",
                Some("-1"),
                "Label for ignored anchors.",
            ),
            param(
                "negative_mining_ratio",
                "float, optional, default=-1",
                Some("-1"),
                "Max negative to positive samples ratio, use -1 to disable mining",
            ),
            param(
                "negative_mining_thresh",
                "float, optional, default=0.5",
                Some("0.5"),
                "Threshold used for negative mining.",
            ),
            param(
                "minimum_negative_samples",
                "int, optional, default='0'",
                Some("0"),
                "Minimum number of negative samples.",
            ),
            param(
                "variances",
                VAR_TY,
                Some("(0.1, 0.1, 0.2, 0.2)"),
                "Variances to be encoded in box regression target.",
            ),
        ],
        inputs: Inputs::Fixed(&["anchor", "label", "cls_pred"]),
        create: Box::new(|p| {
            p.int("minimum_negative_samples")?;
            let c = TargetCfg {
                overlap: p.float("overlap_threshold")? as f32,
                ignore: p.float("ignore_label")? as f32,
                ratio: p.float("negative_mining_ratio")? as f32,
                neg_thresh: p.float("negative_mining_thresh")? as f32,
                var: variances(TARGET, p)?,
            };
            if c.ratio > 0.0 && (c.neg_thresh <= 0.0 || c.neg_thresh.is_nan()) {
                return Err(Error::param(
                    TARGET,
                    format!(
                        "negative_mining_thresh must be > 0 when negative mining is on, got {}",
                        c.neg_thresh
                    ),
                ));
            }
            Ok(target_op(c))
        }),
    });
    r.add(SimpleDef {
        name: DET,
        doc: "Convert multibox detection predictions: decodes loc_pred against the anchors, \
              keeps each anchor's best non-background class scoring at least threshold, sorts \
              by score and applies non-maximum suppression. Output (batch, num_anchors, 6) rows \
              of [class_id, score, xmin, ymin, xmax, ymax]; class_id -1 marks removed rows."
            .into(),
        params: vec![
            param(
                "clip",
                "boolean, optional, default=1",
                Some("1"),
                "Clip out-of-boundary boxes.",
            ),
            param(
                "threshold",
                "float, optional, default=0.00999999978",
                Some("0.01"),
                "Threshold to be a positive prediction.",
            ),
            param(
                "background_id",
                "int, optional, default='0'",
                Some("0"),
                "Background id.",
            ),
            param(
                "nms_threshold",
                "float, optional, default=0.5",
                Some("0.5"),
                "Non-maximum suppression threshold.",
            ),
            param(
                "force_suppress",
                "boolean, optional, default=0",
                Some("0"),
                "Suppress all detections regardless of class_id.",
            ),
            param(
                "variances",
                "tuple of <float>, optional, default=[0.1,0.1,0.2,0.2]",
                Some("(0.1, 0.1, 0.2, 0.2)"),
                "Variances to be decoded from box regression output.",
            ),
            param(
                "nms_topk",
                "int, optional, default='-1'",
                Some("-1"),
                "Keep maximum top k detections before nms, -1 for no limit.",
            ),
        ],
        inputs: Inputs::Fixed(&["cls_prob", "loc_pred", "anchor"]),
        create: Box::new(|p| {
            p.int("background_id")?;
            Ok(det_op(DetCfg {
                clip: p.bool("clip")?,
                threshold: p.float("threshold")?,
                nms: p.float("nms_threshold")?,
                force: p.bool("force_suppress")?,
                var: variances(DET, p)?,
                topk: p.int("nms_topk")?,
            }))
        }),
    });
}
