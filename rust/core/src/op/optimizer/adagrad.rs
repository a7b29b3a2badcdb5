//! AdaGrad's row-sparse update ops: `_sparse_adagrad_update` (`mx.nd.sparse.adagrad_update`)
//! and `_contrib_group_adagrad_update` (one history value per row). MXNet runs them only for a
//! row_sparse gradient and updates the rows it stores. Arrays here are dense and a row_sparse
//! array stores exactly its nonzero rows, so a dense update computes MXNet's values: a zero
//! gradient row adds nothing to its history and moves nothing (these ops have no weight decay).

use super::table::{CLIP, RESCALE};
use crate::error::{Error, Result};
use crate::op::params::{param, Params};
use crate::op::{read_f64, write_f64, Desc, FnOp, Inputs, Operator, Registry, SimpleDef};
use std::sync::Arc;

#[derive(Clone, Copy)]
struct Hyper {
    lr: f64,
    eps: f64,
    rescale: f64,
    clip: f64,
}

impl Hyper {
    fn parse(p: &Params) -> Result<Hyper> {
        Ok(Hyper {
            lr: p.float("lr")?,
            eps: p.float("epsilon")?,
            rescale: p.float("rescale_grad")?,
            clip: p.float("clip_gradient")?,
        })
    }

    fn grad(&self, g: f64) -> f64 {
        let g = g * self.rescale;
        if self.clip >= 0.0 {
            g.clamp(-self.clip, self.clip)
        } else {
            g
        }
    }
}

/// Weight and grad of one float dtype and shape; the history's shape is checked by `hist`.
fn check(op: &str, ins: &[Desc], hist: impl Fn(&Desc) -> Option<String>) -> Result<Vec<Desc>> {
    crate::op::expect_inputs(op, ins, 3)?;
    let (w, g, h) = (&ins[0], &ins[1], &ins[2]);
    if !w.dtype.is_float() || g.dtype != w.dtype || h.dtype != w.dtype {
        return Err(Error::DType {
            op: op.into(),
            msg: format!(
                "weight, grad and history must share one float dtype, got {}, {} and {}",
                w.dtype, g.dtype, h.dtype
            ),
        });
    }
    if g.shape != w.shape {
        return Err(Error::shape(
            op,
            format!(
                "grad has shape {} but weight has shape {}",
                g.shape, w.shape
            ),
        ));
    }
    if let Some(msg) = hist(h) {
        return Err(Error::shape(op, msg));
    }
    Ok(vec![w.clone()])
}

/// `_sparse_adagrad_update`: history += g^2; weight -= lr * g / sqrt(history + epsilon).
fn sparse_adagrad(p: &Params) -> Result<Arc<dyn Operator>> {
    let h = Hyper::parse(p)?;
    let wd = p.float("wd")?;
    if wd != 0.0 {
        // MXNet: "Operator not implemented" (an MXNetError).
        return Err(Error::NotImplemented(format!(
            "operator _sparse_adagrad_update does not support weight decay (wd={wd}); MXNet \
             runs it only with wd=0"
        )));
    }
    let mut op = FnOp::new(
        "_sparse_adagrad_update",
        move |ins| {
            check("_sparse_adagrad_update", ins, |hd| {
                (hd.shape != ins[0].shape).then(|| {
                    format!(
                        "history has shape {} but weight has shape {}",
                        hd.shape, ins[0].shape
                    )
                })
            })
        },
        move |_, ins, outs| {
            let (w, g, mut hist) = (read_f64(&ins[0]), read_f64(&ins[1]), read_f64(&ins[2]));
            let new: Vec<f64> = (0..w.len())
                .map(|i| {
                    let gi = h.grad(g[i]);
                    hist[i] += gi * gi;
                    w[i] - h.lr * gi / (hist[i] + h.eps).sqrt()
                })
                .collect();
            write_f64(&ins[2], &hist);
            write_f64(&outs[0], &new);
            Ok(())
        },
    );
    op.inplace = true;
    op.mutate = vec![2];
    Ok(op.arc())
}

/// `_contrib_group_adagrad_update`: per row r (the first axis), history[r] += mean(g[r]^2);
/// weight[r] -= lr * g[r] / sqrt(history[r] + epsilon).
fn group_adagrad(p: &Params) -> Result<Arc<dyn Operator>> {
    let h = Hyper::parse(p)?;
    let mut op = FnOp::new(
        "_contrib_group_adagrad_update",
        move |ins| {
            check("_contrib_group_adagrad_update", ins, |hd| {
                let w = &ins[0].shape;
                let rows = w.dims().first().copied().unwrap_or(0);
                let ok = w.ndim() >= 1
                    && hd.shape.dims().first() == Some(&rows)
                    && hd.shape.size() == rows;
                (!ok).then(|| {
                    format!(
                        "history must hold one value per row of the weight (shape ({rows}, 1)), \
                         got shape {} for weight of shape {w}",
                        hd.shape
                    )
                })
            })
        },
        move |_, ins, outs| {
            let (w, g, mut hist) = (read_f64(&ins[0]), read_f64(&ins[1]), read_f64(&ins[2]));
            let rows = hist.len();
            let len = w.len().checked_div(rows).unwrap_or(0);
            let mut new = vec![0.0; w.len()];
            for (r, hr) in hist.iter_mut().enumerate() {
                let span = r * len..(r + 1) * len;
                let gs: Vec<f64> = g[span.clone()].iter().map(|&x| h.grad(x)).collect();
                *hr += gs.iter().map(|x| x * x).sum::<f64>() / len.max(1) as f64;
                let scale = h.lr / (*hr + h.eps).sqrt();
                for ((o, &wv), gv) in new[span.clone()].iter_mut().zip(&w[span]).zip(&gs) {
                    *o = wv - scale * gv;
                }
            }
            write_f64(&ins[2], &hist);
            write_f64(&outs[0], &new);
            Ok(())
        },
    );
    op.inplace = true;
    op.mutate = vec![2];
    Ok(op.arc())
}

pub(super) fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: "_sparse_adagrad_update",
        doc: "Update function for AdaGrad optimizer (history is updated in place):\n    grad = clip(rescale_grad * grad)\n    history += grad^2\n    weight -= lr * grad / sqrt(history + epsilon)\nMXNet applies it to the rows a row_sparse grad stores; a zero row changes nothing, so the values are the same on dense arrays. Weight decay is not supported (wd must be 0).".to_string(),
        params: vec![
            param("lr", "float", None, "Learning rate"),
            param("epsilon", "float", Some("1.00000001e-07"), "epsilon"),
            param("wd", "float", Some("0"), "weight decay"),
            RESCALE,
            CLIP,
        ],
        inputs: Inputs::Fixed(&["weight", "grad", "history"]),
        create: Box::new(sparse_adagrad),
    });
    r.add(SimpleDef {
        name: "_contrib_group_adagrad_update",
        doc: "Update function for Group AdaGrad optimizer: one history value per row (history has shape (rows, 1), updated in place):\n    grad = clip(rescale_grad * grad)\n    history[r] += mean(grad[r]^2)\n    weight[r] -= lr * grad[r] / sqrt(history[r] + epsilon)\nMXNet applies it to the rows a row_sparse grad stores; a zero row changes nothing.".to_string(),
        params: vec![
            param("lr", "float", None, "Learning rate"),
            RESCALE,
            CLIP,
            param("epsilon", "float", Some("9.99999975e-06"), "Epsilon for numerical stability"),
        ],
        inputs: Inputs::Fixed(&["weight", "grad", "history"]),
        create: Box::new(group_adagrad),
    });
}
