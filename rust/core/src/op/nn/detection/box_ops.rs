//! `_contrib_box_iou`, `_contrib_box_nms`, `_contrib_bipartite_matching`,
//! `_contrib_box_encode` and `_contrib_box_decode` (MXNet's `bounding_box.cc`).

use super::{area, intersect, load, min, pf, same_float, store, to_int, BoxFormat, FORMAT_DOC};
use crate::error::{Error, Result};
use crate::graph::{Entry, GradBuilder};
use crate::kernels::cpu::norm::{with_real, Real};
use crate::ndarray::NDArray;
use crate::op::params::param;
use crate::op::{expect_inputs, Desc, FnOp, GradArgs, Inputs, Operator, Registry, SimpleDef};
use crate::shape::Shape;
use std::sync::Arc;

/// Zero gradients for every input: MXNet's backward of these ops writes zeros.
fn zero_grads(g: &mut GradBuilder, a: &GradArgs) -> Result<Vec<Option<Entry>>> {
    a.inputs.iter().map(|i| g.zeros_like(i).map(Some)).collect()
}

// ---------------------------------------------------------------- box_iou

const IOU: &str = "_contrib_box_iou";

fn iou_shape(l: &Shape, r: &Shape) -> Result<Shape> {
    for (name, s) in [("lhs", l), ("rhs", r)] {
        if s.ndim() < 2 || s[s.ndim() - 1] != 4 {
            return Err(Error::shape(
                IOU,
                format!(
                    "{name} must have at least 2 dimensions and a last dimension of 4 (box \
                     coordinates), got lhs {l} and rhs {r}"
                ),
            ));
        }
    }
    let mut d = l.dims()[..l.ndim() - 1].to_vec();
    d.extend_from_slice(&r.dims()[..r.ndim() - 1]);
    Ok(Shape::new(d))
}

fn iou_t<T: crate::dtype::Element, C: Real>(f: BoxFormat, ins: &[NDArray], out: &NDArray) {
    let (l, r) = (load::<T, C>(&ins[0]), load::<T, C>(&ins[1]));
    let mut o = Vec::with_capacity(l.len() / 4 * (r.len() / 4));
    for a in l.chunks_exact(4) {
        for b in r.chunks_exact(4) {
            let i = intersect(a, b, f) * intersect(&a[1..], &b[1..], f);
            o.push(if i > C::ZERO {
                i / (area(a, f) + area(b, f) - i)
            } else {
                C::ZERO
            });
        }
    }
    store::<T, C>(out, &o);
}

fn iou_op(f: BoxFormat) -> Arc<dyn Operator> {
    FnOp::new(
        IOU,
        |ins| {
            expect_inputs(IOU, ins, 2)?;
            let dt = same_float(IOU, ins, &["lhs", "rhs"])?;
            Ok(vec![Desc::new(
                iou_shape(&ins[0].shape, &ins[1].shape)?,
                dt,
            )])
        },
        move |_, ins, outs| {
            with_real!(IOU, ins[0].dtype(), T, C, {
                iou_t::<T, C>(f, ins, &outs[0])
            });
            Ok(())
        },
    )
    .with_grad(zero_grads)
    .arc()
}

// ---------------------------------------------------------------- box_nms

const NMS: &str = "_contrib_box_nms";

#[derive(Debug, Clone, Copy)]
struct NmsCfg {
    overlap: f64,
    valid: f64,
    topk: i64,
    coord: usize,
    score: usize,
    id: Option<usize>,
    background: i64,
    force: bool,
    fin: BoxFormat,
    fout: BoxFormat,
}

fn nms_check(c: NmsCfg, op: &str, s: &Shape) -> Result<()> {
    let bad = |m: String| Err(Error::shape(op, format!("{m} (data {s})")));
    if s.ndim() < 2 {
        return bad("data must have at least 2 dimensions, (..., num_boxes, box_width)".into());
    }
    let w = s[s.ndim() - 1];
    let need = if c.id.is_some() { 6 } else { 5 };
    if w < need {
        return bad(format!(
            "the last dimension must have at least {need} elements (score, coordinates x 4{}), \
             {w} provided",
            if c.id.is_some() { ", class id" } else { "" }
        ));
    }
    let (cs, ce) = (c.coord, c.coord + 3);
    if c.score >= w {
        return bad(format!("score_index {} out of range [0, {w})", c.score));
    }
    if (cs..=ce).contains(&c.score) {
        return bad(format!(
            "score_index {} conflicts with coordinates ({cs}, {ce})",
            c.score
        ));
    }
    if ce >= w {
        return bad(format!("coordinates ({cs}, {ce}) out of range [0, {w})"));
    }
    if let Some(id) = c.id {
        if id >= w {
            return bad(format!("id_index {id} out of range [0, {w})"));
        }
        if (cs..=ce).contains(&id) {
            return bad(format!(
                "id_index {id} conflicts with coordinates ({cs}, {ce})"
            ));
        }
        if id == c.score {
            return bad(format!(
                "id_index {id} conflicts with score_index {}",
                c.score
            ));
        }
    }
    Ok(())
}

/// (out, record): kept boxes first in descending score, rows of -1 after; record holds each
/// output row's flat input box index (-1 for padding), the route of the gradient.
fn nms_t<T: crate::dtype::Element, C: Real>(
    c: NmsCfg,
    ins: &[NDArray],
    outs: &[NDArray],
) -> Result<()> {
    let s = ins[0].shape();
    let (n, w) = (s[s.ndim() - 2], s[s.ndim() - 1]);
    let x = load::<T, C>(&ins[0]);
    let nb = x.len().checked_div(n * w).unwrap_or(0);
    let topk = if c.topk < 0 {
        n
    } else {
        n.min(c.topk as usize)
    };
    if topk < 1 {
        // MXNet copies the input and records the identity.
        store::<T, C>(&outs[0], &x);
        let rec: Vec<C> = (0..nb * n).map(|i| C::c(i as f64)).collect();
        store::<T, C>(&outs[1], &rec);
        return Ok(());
    }
    let neg = C::c(-1.0);
    let mut out = vec![neg; x.len()];
    let mut rec = vec![neg; nb * n];
    let (valid, bg, thr) = (
        pf::<C>(c.valid),
        C::c(c.background as f64),
        pf::<C>(c.overlap),
    );
    let boxe = |i: usize| &x[i * w + c.coord..i * w + c.coord + 4];
    for b in 0..nb {
        let mut cand: Vec<usize> = (b * n..(b + 1) * n)
            .filter(|&i| x[i * w + c.score] > valid && c.id.is_none_or(|id| x[i * w + id] != bg))
            .collect();
        // Stable: equal scores keep input order, as MXNet's stable sorts.
        cand.sort_by(|&i, &j| {
            x[j * w + c.score]
                .partial_cmp(&x[i * w + c.score])
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        cand.truncate(topk);
        let areas: Vec<C> = cand.iter().map(|&i| area(boxe(i), c.fin)).collect();
        let mut alive = vec![true; cand.len()];
        for r in 0..cand.len() {
            if !alive[r] {
                continue;
            }
            let rb = boxe(cand[r]);
            for p in r + 1..cand.len() {
                if !alive[p] {
                    continue;
                }
                if let (false, Some(id)) = (c.force, c.id) {
                    if to_int(x[cand[r] * w + id]) != to_int(x[cand[p] * w + id]) {
                        continue;
                    }
                }
                let pb = boxe(cand[p]);
                let i = intersect(rb, pb, c.fin) * intersect(&rb[1..], &pb[1..], c.fin);
                if i / (areas[r] + areas[p] - i) > thr {
                    alive[p] = false;
                }
            }
        }
        for (k, &i) in cand
            .iter()
            .zip(&alive)
            .filter(|(_, a)| **a)
            .map(|(i, _)| i)
            .enumerate()
        {
            let row = b * n + k;
            out[row * w..(row + 1) * w].copy_from_slice(&x[i * w..(i + 1) * w]);
            rec[row] = C::c(i as f64);
        }
    }
    if c.fin != c.fout {
        let two = C::c(2.0);
        for row in out.chunks_exact_mut(w) {
            let q = &mut row[c.coord..c.coord + 4];
            // MXNet skips boxes whose first coordinate is negative (the -1 padding rows,
            // and real boxes left of the origin alike).
            if q[0] < C::ZERO {
                continue;
            }
            let v = [q[0], q[1], q[2], q[3]];
            if c.fout == BoxFormat::Center {
                q.copy_from_slice(&[
                    (v[0] + v[2]) / two,
                    (v[1] + v[3]) / two,
                    v[2] - v[0],
                    v[3] - v[1],
                ]);
            } else {
                let (hw, hh) = (v[2] / two, v[3] / two);
                q.copy_from_slice(&[v[0] - hw, v[1] - hh, v[0] + hw, v[1] + hh]);
            }
        }
    }
    store::<T, C>(&outs[0], &out);
    store::<T, C>(&outs[1], &rec);
    Ok(())
}

/// Inputs (dY, record); the data gradient: each output row's gradient goes back to the input
/// box it was copied from, suppressed boxes get 0.
fn nms_backward_t<T: crate::dtype::Element, C: Real>(ins: &[NDArray], gx: &NDArray) {
    let dy = load::<T, C>(&ins[0]);
    let rec = load::<T, C>(&ins[1]);
    let w = if rec.is_empty() {
        0
    } else {
        dy.len() / rec.len()
    };
    let mut g = vec![C::ZERO; dy.len()];
    for (row, &r) in rec.iter().enumerate() {
        let i = to_int(r);
        if i >= 0 && (i as usize) < rec.len() {
            let i = i as usize;
            g[i * w..(i + 1) * w].copy_from_slice(&dy[row * w..(row + 1) * w]);
        }
    }
    store::<T, C>(gx, &g);
}

fn nms_backward_op() -> Arc<dyn Operator> {
    const B: &str = "_backward_contrib_box_nms";
    FnOp::new(
        B,
        |ins| {
            expect_inputs(B, ins, 2)?;
            Ok(vec![Desc::new(ins[0].shape.clone(), ins[0].dtype)])
        },
        |_, ins, outs| {
            with_real!(B, ins[0].dtype(), T, C, {
                nms_backward_t::<T, C>(ins, &outs[0])
            });
            Ok(())
        },
    )
    .arc()
}

fn nms_op(c: NmsCfg) -> Arc<dyn Operator> {
    let mut op = FnOp::new(
        NMS,
        move |ins| {
            expect_inputs(NMS, ins, 1)?;
            let dt = super::super::float(NMS, ins[0].dtype)?;
            let s = &ins[0].shape;
            nms_check(c, NMS, s)?;
            let mut rs = s.dims().to_vec();
            *rs.last_mut().expect("ndim >= 2") = 1;
            Ok(vec![
                Desc::new(s.clone(), dt),
                Desc::new(Shape::new(rs), dt),
            ])
        },
        move |_, ins, outs| with_real!(NMS, ins[0].dtype(), T, C, { nms_t::<T, C>(c, ins, outs) }),
    )
    .with_grad(|g, a| {
        let dy = a
            .out_grads
            .first()
            .cloned()
            .ok_or_else(|| Error::Internal("box_nms gradient without out_grad".into()))?;
        let gx = g
            .apply(nms_backward_op(), &[dy, a.outputs[1].clone()])
            .swap_remove(0);
        Ok(vec![Some(gx)])
    });
    op.num_outputs = 2;
    op.visible_outputs = Some(1);
    op.output_names = Some(vec!["output0".into(), "output1".into()]);
    op.arc()
}

// ---------------------------------------------------------------- bipartite_matching

const BM: &str = "_contrib_bipartite_matching";

#[derive(Debug, Clone, Copy)]
struct BmCfg {
    ascend: bool,
    threshold: f64,
    topk: i64,
}

fn bm_t<T: crate::dtype::Element, C: Real>(c: BmCfg, ins: &[NDArray], outs: &[NDArray]) {
    let s = ins[0].shape();
    let (rows, cols) = (s[s.ndim() - 2], s[s.ndim() - 1]);
    let x = load::<T, C>(&ins[0]);
    let stride = rows * cols;
    // From the shape, not x.len() / stride: with no rows the column matches are still -1.
    let nb: usize = s.dims()[..s.ndim() - 2].iter().product();
    let neg = C::c(-1.0);
    let (mut rm, mut cm) = (vec![neg; nb * rows], vec![neg; nb * cols]);
    let thr = pf::<C>(c.threshold);
    for b in 0..nb {
        let sc = &x[b * stride..(b + 1) * stride];
        let mut idx: Vec<usize> = (0..stride).collect();
        idx.sort_by(|&i, &j| {
            let o = sc[i]
                .partial_cmp(&sc[j])
                .unwrap_or(std::cmp::Ordering::Equal);
            if c.ascend {
                o
            } else {
                o.reverse()
            }
        });
        let (rmb, cmb) = (
            &mut rm[b * rows..(b + 1) * rows],
            &mut cm[b * cols..(b + 1) * cols],
        );
        let mut count = 0i64;
        for &k in &idx {
            let (r, col) = (k / cols, k % cols);
            if rmb[r] != neg || cmb[col] != neg {
                continue;
            }
            let v = sc[k];
            if (!c.ascend && v > thr) || (c.ascend && v < thr) {
                rmb[r] = C::c(col as f64);
                cmb[col] = C::c(r as f64);
                count += 1;
                // MXNet stops after the match that exceeds topk, so topk + 1 pairs are kept.
                if c.topk > 0 && count > c.topk {
                    break;
                }
            } else {
                break;
            }
        }
    }
    store::<T, C>(&outs[0], &rm);
    store::<T, C>(&outs[1], &cm);
}

fn bm_op(c: BmCfg) -> Arc<dyn Operator> {
    let mut op = FnOp::new(
        BM,
        |ins| {
            expect_inputs(BM, ins, 1)?;
            let dt = super::super::float(BM, ins[0].dtype)?;
            let s = &ins[0].shape;
            if s.ndim() < 2 {
                return Err(Error::shape(
                    BM,
                    format!("score matrix data must have at least 2 dimensions, got {s}"),
                ));
            }
            let d = s.dims();
            let r = d[..d.len() - 1].to_vec();
            let mut cshape = d[..d.len() - 2].to_vec();
            cshape.push(d[d.len() - 1]);
            Ok(vec![
                Desc::new(Shape::new(r), dt),
                Desc::new(Shape::new(cshape), dt),
            ])
        },
        move |_, ins, outs| {
            with_real!(BM, ins[0].dtype(), T, C, { bm_t::<T, C>(c, ins, outs) });
            Ok(())
        },
    )
    .with_grad(zero_grads);
    op.num_outputs = 2;
    op.arc()
}

// ---------------------------------------------------------------- box_encode / box_decode

const ENC: &str = "_contrib_box_encode";
const DEC: &str = "_contrib_box_decode";

fn enc_t<T: crate::dtype::Element, C: Real>(ins: &[NDArray], outs: &[NDArray]) -> Result<()> {
    let a = ins[2].shape();
    let (b, n, m) = (a[0], a[1], ins[3].shape()[1]);
    let v: Vec<Vec<C>> = ins.iter().map(|x| load::<T, C>(x)).collect();
    let (samples, matches, anchors, refs, means, stds) = (&v[0], &v[1], &v[2], &v[3], &v[4], &v[5]);
    let mut t = vec![C::ZERO; b * n * 4];
    let mut mk = vec![C::ZERO; b * n * 4];
    let half = C::c(0.5);
    for i in 0..b * n {
        if samples[i].partial_cmp(&half) != Some(std::cmp::Ordering::Greater) {
            continue;
        }
        let mi = to_int(matches[i]);
        if mi < 0 || mi as usize >= m {
            return Err(Error::Index(format!(
                "operator {ENC}: matches[{}, {}] = {} is outside refs' {m} boxes",
                i / n,
                i % n,
                matches[i].f64()
            )));
        }
        let r = &refs[((i / n) * m + mi as usize) * 4..][..4];
        let an = &anchors[i * 4..i * 4 + 4];
        let (rw, rh) = (r[2] - r[0], r[3] - r[1]);
        let (aw, ah) = (an[2] - an[0], an[3] - an[1]);
        let (rx, ry) = (r[0] + rw * half, r[1] + rh * half);
        let (ax, ay) = (an[0] + aw * half, an[1] + ah * half);
        let raw = [
            (rx - ax) / aw,
            (ry - ay) / ah,
            (rw / aw).ln(),
            (rh / ah).ln(),
        ];
        for k in 0..4 {
            t[i * 4 + k] = (raw[k] - means[k]) / stds[k];
            mk[i * 4 + k] = C::ONE;
        }
    }
    store::<T, C>(&outs[0], &t);
    store::<T, C>(&outs[1], &mk);
    Ok(())
}

fn enc_op() -> Arc<dyn Operator> {
    let mut op = FnOp::new(
        ENC,
        |ins| {
            expect_inputs(ENC, ins, 6)?;
            let dt = same_float(
                ENC,
                ins,
                &["samples", "matches", "anchors", "refs", "means", "stds"],
            )?;
            let s: Vec<&Shape> = ins.iter().map(|d| &d.shape).collect();
            let desc = || {
                format!(
                    "(samples {}, matches {}, anchors {}, refs {}, means {}, stds {})",
                    s[0], s[1], s[2], s[3], s[4], s[5]
                )
            };
            let ok = s[2].ndim() == 3
                && s[2][2] == 4
                && s[3].ndim() == 3
                && s[3][2] == 4
                && s[3][0] == s[2][0]
                && s[0].dims() == &s[2].dims()[..2]
                && s[1].dims() == &s[2].dims()[..2]
                && s[4].dims() == [4]
                && s[5].dims() == [4];
            if !ok {
                return Err(Error::shape(
                    ENC,
                    format!(
                        "expects samples and matches (B, N), anchors (B, N, 4), refs (B, M, 4), \
                         means and stds (4,), got {}",
                        desc()
                    ),
                ));
            }
            Ok(vec![
                Desc::new(s[2].clone(), dt),
                Desc::new(s[2].clone(), dt),
            ])
        },
        |_, ins, outs| with_real!(ENC, ins[0].dtype(), T, C, { enc_t::<T, C>(ins, outs) }),
    )
    .with_grad(zero_grads);
    op.num_outputs = 2;
    op.arc()
}

#[derive(Debug, Clone, Copy)]
struct DecCfg {
    std: [f64; 4],
    clip: f64,
    format: BoxFormat,
}

fn dec_t<T: crate::dtype::Element, C: Real>(c: DecCfg, ins: &[NDArray], out: &NDArray) {
    let x = load::<T, C>(&ins[0]);
    let an = load::<T, C>(&ins[1]);
    let n = ins[0].shape()[1];
    let half = C::c(0.5);
    let std = c.std.map(pf::<C>);
    let clip = pf::<C>(c.clip);
    let mut o = vec![C::ZERO; x.len()];
    for i in 0..x.len() / 4 {
        let a = &an[(i % n.max(1)) * 4..][..4];
        let (mut ax, mut ay, mut aw, mut ah) = (a[0], a[1], a[2], a[3]);
        if c.format == BoxFormat::Corner {
            aw = aw - ax;
            ah = ah - ay;
            ax = ax + aw * half;
            ay = ay + ah * half;
        }
        let p = &x[i * 4..i * 4 + 4];
        let ox = p[0] * std[0] * aw + ax;
        let oy = p[1] * std[1] * ah + ay;
        let (mut dw, mut dh) = (p[2] * std[2], p[3] * std[3]);
        if c.clip > 0.0 {
            dw = min(dw, clip);
            dh = min(dh, clip);
        }
        let (ow, oh) = (dw.exp() * aw * half, dh.exp() * ah * half);
        o[i * 4..i * 4 + 4].copy_from_slice(&[ox - ow, oy - oh, ox + ow, oy + oh]);
    }
    store::<T, C>(out, &o);
}

fn dec_op(c: DecCfg) -> Arc<dyn Operator> {
    FnOp::new(
        DEC,
        |ins| {
            expect_inputs(DEC, ins, 2)?;
            let dt = same_float(DEC, ins, &["data", "anchors"])?;
            let (d, a) = (&ins[0].shape, &ins[1].shape);
            if d.ndim() != 3 || d[2] != 4 || a.ndim() < 3 || a[a.ndim() - 1] != 4 {
                return Err(Error::shape(
                    DEC,
                    format!("expects data (B, N, 4) and anchors (1, N, 4), got data {d} and anchors {a}"),
                ));
            }
            if a.size() != d[1] * 4 {
                return Err(Error::shape(
                    DEC,
                    format!(
                        "anchors must hold one box per data box, (1, {}, 4), got data {d} and \
                         anchors {a}",
                        d[1]
                    ),
                ));
            }
            Ok(vec![Desc::new(d.clone(), dt)])
        },
        move |_, ins, outs| {
            with_real!(DEC, ins[0].dtype(), T, C, { dec_t::<T, C>(c, ins, &outs[0]) });
            Ok(())
        },
    )
    .with_grad(zero_grads)
    .arc()
}

pub(super) fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: IOU,
        doc: "Bounding box overlap of two arrays: the Intersection-over-Union of every box of \
              lhs (a_1, ..., a_n, 4) with every box of rhs (b_1, ..., b_m, 4), output \
              (a_1, ..., a_n, b_1, ..., b_m). Zero gradients are back-propagated."
            .into(),
        params: vec![param(
            "format",
            "{'center', 'corner'},optional, default='corner'",
            Some("corner"),
            FORMAT_DOC,
        )],
        inputs: Inputs::Fixed(&["lhs", "rhs"]),
        create: Box::new(|p| Ok(iou_op(BoxFormat::parse(p, "format")?))),
    });
    r.add(SimpleDef {
        name: NMS,
        doc: "Apply non-maximum suppression to input. The output is sorted in descending order \
              of score; boxes overlapping a higher-scored box by more than overlap_thresh (of \
              the same class unless force_suppress), boxes scoring at most valid_thresh and \
              background boxes are removed and their rows filled with -1. During \
              back-propagation each output row's gradient goes to the input box it came from; \
              suppressed boxes get 0. Input (..., num_boxes, box_width), by default rows of \
              [id, score, xmin, ymin, xmax, ymax]."
            .into(),
        params: vec![
            param("overlap_thresh", "float, optional, default=0.5", Some("0.5"), "Overlapping(IoU) threshold to suppress object with smaller score."),
            param("valid_thresh", "float, optional, default=0", Some("0"), "Filter input boxes to those whose scores greater than valid_thresh."),
            param("topk", "int, optional, default='-1'", Some("-1"), "Apply nms to topk boxes with descending scores, -1 to no restriction."),
            param("coord_start", "int, optional, default='2'", Some("2"), "Start index of the consecutive 4 coordinates."),
            param("score_index", "int, optional, default='1'", Some("1"), "Index of the scores/confidence of boxes."),
            param("id_index", "int, optional, default='-1'", Some("-1"), "Optional, index of the class categories, -1 to disable."),
            param("background_id", "int, optional, default='-1'", Some("-1"), "Optional, id of the background class which will be ignored in nms."),
            param("force_suppress", "boolean, optional, default=0", Some("0"), "Optional, if set false and id_index is provided, nms will only apply to boxes belongs to the same category"),
            param("in_format", "{'center', 'corner'},optional, default='corner'", Some("corner"), "The input box encoding type. \n \"corner\" means boxes are encoded as [xmin, ymin, xmax, ymax], \"center\" means boxes are encodes as [x, y, width, height]."),
            param("out_format", "{'center', 'corner'},optional, default='corner'", Some("corner"), "The output box encoding type. \n \"corner\" means boxes are encoded as [xmin, ymin, xmax, ymax], \"center\" means boxes are encodes as [x, y, width, height]."),
        ],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| {
            let nonneg = |name: &str| -> Result<usize> {
                let v = p.int(name)?;
                usize::try_from(v).map_err(|_| {
                    Error::param(NMS, format!("{name} must be >= 0, got {v}"))
                })
            };
            let id = p.int("id_index")?;
            Ok(nms_op(NmsCfg {
                overlap: p.float("overlap_thresh")?,
                valid: p.float("valid_thresh")?,
                topk: p.int("topk")?,
                coord: nonneg("coord_start")?,
                score: nonneg("score_index")?,
                id: usize::try_from(id).ok(),
                background: p.int("background_id")?,
                force: p.bool("force_suppress")?,
                fin: BoxFormat::parse(p, "in_format")?,
                fout: BoxFormat::parse(p, "out_format")?,
            }))
        }),
    });
    r.alias("_contrib_box_non_maximum_suppression", NMS);
    r.add(SimpleDef {
        name: BM,
        doc: "Compute bipartite matching on score matrices (..., N, M): greedily pairs the \
              highest-scored (lowest with is_ascend) unmatched row and column while the score \
              passes threshold. Returns the matched column of each row (-1 if none) and the \
              matched row of each column. Zero gradients are back-propagated."
            .into(),
        params: vec![
            param("is_ascend", "boolean, optional, default=0", Some("0"), "Use ascend order for scores instead of descending. Please set threshold accordingly."),
            param("threshold", "float, required", None, "Ignore matching when score < thresh, if is_ascend=false, or ignore score > thresh, if is_ascend=true."),
            param("topk", "int, optional, default='-1'", Some("-1"), "Limit the number of matches to topk, set -1 for no limit"),
        ],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| {
            Ok(bm_op(BmCfg {
                ascend: p.bool("is_ascend")?,
                threshold: p.float("threshold")?,
                topk: p.int("topk")?,
            }))
        }),
    });
    r.add(SimpleDef {
        name: ENC,
        doc: "Encode bounding boxes training target with normalized center offsets. Input \
              bounding boxes are using corner type: x_min, y_min, x_max, y_max. Returns the \
              targets ((x offset, y offset, log w ratio, log h ratio) - means) / stds of each \
              positive sample against its matched reference, and the masks (1 for positive \
              samples). Zero gradients are back-propagated."
            .into(),
        params: vec![],
        inputs: Inputs::Fixed(&["samples", "matches", "anchors", "refs", "means", "stds"]),
        create: Box::new(|_| Ok(enc_op())),
    });
    r.add(SimpleDef {
        name: DEC,
        doc: "Decode bounding boxes training target with normalized center offsets: data \
              (B, N, 4) offsets against anchors (1, N, 4) in corner or center encoding give \
              corner boxes (B, N, 4). Zero gradients are back-propagated."
            .into(),
        params: vec![
            param(
                "std0",
                "float, optional, default=1",
                Some("1"),
                "value to be divided from the 1st encoded values",
            ),
            param(
                "std1",
                "float, optional, default=1",
                Some("1"),
                "value to be divided from the 2nd encoded values",
            ),
            param(
                "std2",
                "float, optional, default=1",
                Some("1"),
                "value to be divided from the 3rd encoded values",
            ),
            param(
                "std3",
                "float, optional, default=1",
                Some("1"),
                "value to be divided from the 4th encoded values",
            ),
            param(
                "clip",
                "float, optional, default=-1",
                Some("-1"),
                "If larger than 0, bounding box target will be clipped to this value.",
            ),
            param(
                "format",
                "{'center', 'corner'},optional, default='center'",
                Some("center"),
                FORMAT_DOC,
            ),
        ],
        inputs: Inputs::Fixed(&["data", "anchors"]),
        create: Box::new(|p| {
            Ok(dec_op(DecCfg {
                std: [
                    p.float("std0")?,
                    p.float("std1")?,
                    p.float("std2")?,
                    p.float("std3")?,
                ],
                clip: p.float("clip")?,
                format: BoxFormat::parse(p, "format")?,
            }))
        }),
    });
}
