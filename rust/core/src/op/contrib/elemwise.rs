//! Elementwise contrib ops: `_contrib_quadratic`, `_contrib_div_sqrt_dim`,
//! `_contrib_gradientmultiplier`, `_contrib_round_ste`, `_contrib_sign_ste`.

use crate::error::Result;
use crate::graph::{Entry, GradBuilder};
use crate::op::params::param;
use crate::op::special::map_f64;
use crate::op::{expect_inputs, FnOp, GradArgs, Inputs, Operator, Registry, SimpleDef};
use std::sync::Arc;

type Grad = dyn Fn(&mut GradBuilder, &GradArgs) -> Result<Vec<Option<Entry>>> + Send + Sync;

/// A same-shape, same-dtype op computing `f(x, last_dim)`.
fn map_op(
    name: &'static str,
    f: impl Fn(f64, usize) -> f64 + Copy + Send + Sync + 'static,
    grad: Arc<Grad>,
) -> Arc<dyn Operator> {
    let mut op = FnOp::new(
        name,
        move |inputs| {
            expect_inputs(name, inputs, 1)?;
            Ok(vec![inputs[0].clone()])
        },
        move |_, ins, outs| {
            let last = ins[0].shape().dims().last().copied().unwrap_or(1);
            map_f64(&ins[0], &outs[0], move |x| f(x, last));
            Ok(())
        },
    );
    op.inplace = true;
    op.shape_partial = Some(Box::new(crate::graph::infer::same_shape_partial));
    op.with_grad(move |g, a| grad(g, a)).arc()
}

/// The straight-through estimators pass the head gradient unchanged.
fn pass_through() -> Arc<Grad> {
    Arc::new(|_, a| Ok(vec![Some(a.out_grads[0].clone())]))
}

fn def(
    name: &'static str,
    doc: &str,
    params: Vec<crate::op::ParamSpec>,
    create: impl Fn(&crate::op::Params) -> Result<Arc<dyn Operator>> + Send + Sync + 'static,
) -> SimpleDef {
    SimpleDef {
        name,
        doc: doc.into(),
        params,
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(create),
    }
}

pub fn register(r: &mut Registry) {
    r.add(def(
        "_contrib_quadratic",
        "Computes `a * x^2 + b * x + c` element-wise.",
        vec![
            param(
                "a",
                "float",
                Some("0"),
                "Coefficient of the quadratic term in the quadratic function.",
            ),
            param(
                "b",
                "float",
                Some("0"),
                "Coefficient of the linear term in the quadratic function.",
            ),
            param(
                "c",
                "float",
                Some("0"),
                "Constant term in the quadratic function.",
            ),
        ],
        |p| {
            // MXNet stores the coefficients as float.
            let (a, b, c) = (
                p.float("a")? as f32 as f64,
                p.float("b")? as f32 as f64,
                p.float("c")? as f32 as f64,
            );
            let grad: Arc<Grad> = Arc::new(move |g, ga| {
                // d/dx = 2 a x + b, itself a quadratic of x.
                let (a2, b1) = ((2.0 * a).to_string(), b.to_string());
                let d = g.op1(
                    "_contrib_quadratic",
                    &[("a", "0"), ("b", &a2), ("c", &b1)],
                    &[ga.inputs[0].clone()],
                )?;
                Ok(vec![Some(g.mul(&ga.out_grads[0], &d)?)])
            });
            Ok(map_op(
                "_contrib_quadratic",
                move |x, _| a * x * x + b * x + c,
                grad,
            ))
        },
    ));
    r.add(def(
        "_contrib_div_sqrt_dim",
        "Rescales the input by the square root of its last dimension: `data / sqrt(data.shape[-1])`.",
        vec![],
        |_| {
            let grad: Arc<Grad> = Arc::new(|g, a| {
                // Linear: the gradient is the same scaling of the head gradient.
                Ok(vec![Some(g.op1(
                    "_contrib_div_sqrt_dim",
                    &[],
                    &[a.out_grads[0].clone()],
                )?)])
            });
            Ok(map_op(
                "_contrib_div_sqrt_dim",
                |x, d| x / (d as f64).sqrt(),
                grad,
            ))
        },
    ));
    r.add(def(
        "_contrib_gradientmultiplier",
        "The identity in the forward pass; the backward multiplies the gradient by `scalar` (a negative scalar makes a gradient reversal layer).",
        vec![
            param("scalar", "double", Some("1"), "Gradient scale factor."),
            param("is_int", "boolean", Some("True"), "Indicate whether scalar input is int type"),
        ],
        |p| {
            let s = p.float("scalar")?;
            p.bool("is_int")?;
            let grad: Arc<Grad> =
                Arc::new(move |g, a| Ok(vec![Some(g.scale(&a.out_grads[0], s)?)]));
            Ok(map_op("_contrib_gradientmultiplier", |x, _| x, grad))
        },
    ));
    r.add(def(
        "_contrib_round_ste",
        "Rounds to the nearest integer (halves away from zero) with a straight-through gradient estimator: the backward passes the head gradient through unchanged.",
        vec![],
        |_| Ok(map_op("_contrib_round_ste", |x, _| x.round(), pass_through())),
    ));
    r.add(def(
        "_contrib_sign_ste",
        "The sign of the input with a straight-through gradient estimator: the backward passes the head gradient through unchanged.",
        vec![],
        |_| {
            // MXNet's sign maps 0 to 0.
            let sign = |x: f64, _| {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            };
            Ok(map_op("_contrib_sign_ste", sign, pass_through()))
        },
    ));
}
