//! `IdentityAttachKLSparseReg`: the identity in the forward; in the backward it adds the
//! gradient of a KL-divergence sparsity penalty on the mean activation (Hinton's guide to
//! RBMs, sec. 11) to the head gradient, and folds the batch's mean activation into the
//! auxiliary state `moving_avg`:
//!   moving_avg = momentum * moving_avg + (1 - momentum) * mean_over_batch(data)
//!   d data = dy + penalty * (-target / moving_avg + (1 - target) / (1 - moving_avg))
//! The data is read as (batch, features); `moving_avg` has one entry per feature. It is meant
//! for sigmoid outputs (mean activations in (0, 1)).

use crate::error::{Error, Result};
use crate::op::params::param;
use crate::op::{expect_inputs, read_f64, write_f64, Desc, FnOp, Inputs, Registry, SimpleDef};
use crate::shape::Shape;
use std::sync::Arc;

const OP: &str = "IdentityAttachKLSparseReg";

#[derive(Clone, Copy)]
struct Cfg {
    target: f64,
    penalty: f64,
    momentum: f64,
}

/// (batch, features) of the data, checked against `moving_avg`.
fn rows(op: &str, d: &Shape, avg: &Shape) -> Result<(usize, usize)> {
    if d.ndim() < 2 {
        return Err(Error::shape(
            op,
            format!("data must have at least 2 dimensions (batch, features), got {d}"),
        ));
    }
    let n = d[0];
    let m = d.dims()[1..].iter().product::<usize>();
    if avg.dims() != [m] || d[1] != m {
        return Err(Error::shape(
            op,
            format!("moving_avg has shape {avg}; data of shape {d} needs ({m},) with 2 dimensions"),
        ));
    }
    Ok((n, m))
}

fn backward(cfg: Cfg) -> Arc<dyn crate::op::Operator> {
    const B: &str = "_backward_IdentityAttachKLSparseReg";
    let mut op = FnOp::new(
        B,
        |ins| {
            expect_inputs(B, ins, 3)?;
            rows(B, &ins[1].shape, &ins[2].shape)?;
            Ok(vec![ins[1].clone()])
        },
        move |_, ins, outs| {
            let (n, m) = rows(B, ins[1].shape(), ins[2].shape())?;
            let (dy, x) = (read_f64(&ins[0]), read_f64(&ins[1]));
            let mut avg = read_f64(&ins[2]);
            for (j, a) in avg.iter_mut().enumerate() {
                let mean = (0..n).map(|i| x[i * m + j]).sum::<f64>() / n.max(1) as f64;
                *a = cfg.momentum * *a + (1.0 - cfg.momentum) * mean;
            }
            let pen: Vec<f64> = avg
                .iter()
                .map(|a| cfg.penalty * (-cfg.target / a + (1.0 - cfg.target) / (1.0 - a)))
                .collect();
            let dx: Vec<f64> = dy
                .iter()
                .enumerate()
                .map(|(k, d)| d + pen[k % m.max(1)])
                .collect();
            write_f64(&outs[0], &dx);
            write_f64(&ins[2], &avg);
            Ok(())
        },
    );
    op.mutate = vec![2];
    op.arc()
}

pub(super) fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: OP,
        doc: "Apply a sparse regularization to the output a sigmoid activation function. The forward is the identity; the backward adds penalty * (-sparseness_target / moving_avg + (1 - sparseness_target) / (1 - moving_avg)) to the head gradient after updating the auxiliary state moving_avg = momentum * moving_avg + (1 - momentum) * (mean of the batch's activations per feature).".into(),
        params: vec![
            param("sparseness_target", "float, optional", Some("0.100000001"), "The sparseness target"),
            param("penalty", "float, optional", Some("0.00100000005"), "The tradeoff parameter for the sparseness penalty"),
            param("momentum", "float, optional", Some("0.899999976"), "The momentum for running average"),
        ],
        inputs: Inputs::Fixed(&["data", "moving_avg"]),
        create: Box::new(|p| {
            let cfg = Cfg {
                target: p.float("sparseness_target")?,
                penalty: p.float("penalty")?,
                momentum: p.float("momentum")?,
            };
            for (name, v) in [("sparseness_target", cfg.target), ("momentum", cfg.momentum)] {
                if !(0.0..=1.0).contains(&v) {
                    return Err(Error::param(OP, format!("{name} must be in [0, 1], got {v}")));
                }
            }
            let mut op = FnOp::new(
                OP,
                |ins| {
                    expect_inputs(OP, ins, 2)?;
                    if ins[0].shape.ndim() < 2 || ins[1].shape.dims() != [ins[0].shape[1]] {
                        return Err(Error::shape(
                            OP,
                            format!("moving_avg has shape {}, expected (data.shape[1],) for data of shape {}", ins[1].shape, ins[0].shape),
                        ));
                    }
                    // One dtype for both, as the graph's type rule (and MXNet's) requires.
                    if ins[1].dtype != ins[0].dtype {
                        return Err(Error::dtype(
                            OP,
                            format!("moving_avg has dtype {}, data {}: they must match", ins[1].dtype, ins[0].dtype),
                        ));
                    }
                    Ok(vec![Desc::new(ins[0].shape.clone(), ins[0].dtype)])
                },
                |_, ins, outs| {
                    super::copy_values(&ins[0], &outs[0]);
                    Ok(())
                },
            )
            .with_shape_partial(|ins, _| {
                if let (Some(d), None) = (ins[0].clone(), ins[1].as_ref()) {
                    if d.ndim() >= 2 {
                        ins[1] = Some(Shape::new(vec![d[1]]));
                    }
                }
                Ok(())
            })
            .with_grad(move |g, a| {
                let ins = [a.out_grads[0].clone(), a.inputs[0].clone(), a.inputs[1].clone()];
                let dx = g.apply(backward(cfg), &ins).swap_remove(0);
                Ok(vec![Some(dx), None])
            });
            // moving_avg is an auxiliary state (updated by the backward node).
            op.aux = Some(vec![1]);
            Ok(op.arc())
        }),
    });
}
