//! MXNet's aggregated SGD ops (`multi_sgd_update` and its momentum and mixed-precision
//! forms): `num_weights` groups of the single op's inputs in one engine op, with a learning
//! rate and weight decay per group.

use super::table::{CLIP, MOMENTUM, RESCALE};
use super::{dispatch, infer, Hyper, Rule};
use crate::error::{Error, Result};
use crate::op::params::{param, ParamSpec, Params};
use crate::op::{FnOp, Inputs, Operator, Registry, SimpleDef};
use std::sync::Arc;

/// (name, doc, inputs per weight, rule): what MXNet's SGD calls for up to
/// `MXNET_OPTIMIZER_AGGREGATION_SIZE` parameters at once.
#[allow(clippy::type_complexity)]
fn multi_table() -> [(&'static str, &'static str, &'static [&'static str], Rule); 4] {
    [
        (
            "multi_sgd_update",
            "Update function for Stochastic Gradient Descent (SGD) optimizer on num_weights groups of (weight, grad):\n    weight_i = weight_i - lrs[i] * (rescale_grad * clip(grad_i) + wds[i] * weight_i)",
            &["weight", "grad"],
            Rule::Sgd,
        ),
        (
            "multi_sgd_mom_update",
            "Momentum update function for SGD on num_weights groups of (weight, grad, mom); mom_i is updated in place:\n    mom_i = momentum * mom_i - lrs[i] * (rescale_grad * clip(grad_i) + wds[i] * weight_i)\n    weight_i = weight_i + mom_i",
            &["weight", "grad", "mom"],
            Rule::SgdMom,
        ),
        (
            "multi_mp_sgd_update",
            "Multi-precision SGD on num_weights groups of (weight, grad, weight32): the update runs on the float32 master copy weight32_i (updated in place), and weight_i receives it.",
            &["weight", "grad", "weight32"],
            Rule::MpSgd,
        ),
        (
            "multi_mp_sgd_mom_update",
            "Multi-precision momentum SGD on num_weights groups of (weight, grad, mom, weight32): mom_i and the float32 master copy weight32_i are updated in place, and weight_i receives the new master weight.",
            &["weight", "grad", "mom", "weight32"],
            Rule::MpSgdMom,
        ),
    ]
}

fn make_multi_op(
    name: &'static str,
    rule: Rule,
    names: &'static [&'static str],
    hypers: Vec<Hyper>,
) -> Arc<dyn Operator> {
    let g = names.len();
    let n = hypers.len();
    let labels: Vec<Vec<String>> = (0..n)
        .map(|k| names.iter().map(|s| format!("{s}_{k}")).collect())
        .collect();
    let mut op = FnOp::new(
        name,
        move |ins| {
            if ins.len() != g * n {
                return Err(Error::Value(format!(
                    "operator {name} with num_weights={n} takes {} inputs ({} per weight: {}), \
                     {} given",
                    g * n,
                    g,
                    names.join(", "),
                    ins.len()
                )));
            }
            let mut outs = Vec::with_capacity(n);
            for (k, group) in ins.chunks(g).enumerate() {
                let l: Vec<&str> = labels[k].iter().map(String::as_str).collect();
                outs.extend(infer(name, rule, &l, group)?);
            }
            Ok(outs)
        },
        move |_, ins, outs| {
            for (k, (group, out)) in ins.chunks(g).zip(outs).enumerate() {
                dispatch(name, rule, &hypers[k], group, out)?;
            }
            Ok(())
        },
    );
    op.num_outputs = n;
    op.num_inputs = Some(g * n);
    op.inplace = true;
    op.groups = Some(g);
    op.mutate = (0..n)
        .flat_map(|k| (2..g).map(move |i| k * g + i))
        .collect();
    op.arc()
}

/// The per-weight hyper-parameters of a multi op: `lrs`/`wds` hold one value per weight.
fn multi_hypers(p: &Params, spec: &[ParamSpec]) -> Result<Vec<Hyper>> {
    let n = p.int("num_weights")?;
    let (lrs, wds) = (p.floats("lrs")?, p.floats("wds")?);
    if n < 1 || lrs.len() as i64 != n || wds.len() as i64 != n {
        return Err(Error::Value(format!(
            "operator {}: num_weights={n} needs that many lrs and wds, got {} and {}",
            p.op,
            lrs.len(),
            wds.len()
        )));
    }
    let base = Hyper::parse(p, spec)?;
    Ok(lrs
        .iter()
        .zip(&wds)
        .map(|(&lr, &wd)| Hyper { lr, wd, ..base })
        .collect())
}

pub(super) fn register(r: &mut Registry) {
    for (name, doc, names, rule) in multi_table() {
        let mut params = vec![
            param("lrs", "tuple of <float>", None, "Learning rates."),
            param("wds", "tuple of <float>", None, "Weight decay augments the objective function with a regularization term that penalizes large weights. The penalty scales with the square of the magnitude of each weight."),
        ];
        if names.contains(&"mom") {
            params.push(MOMENTUM);
        }
        params.extend([
            RESCALE,
            CLIP,
            param(
                "num_weights",
                "int",
                Some("1"),
                "Number of updated weights.",
            ),
        ]);
        let spec = params.clone();
        r.add(SimpleDef {
            name,
            doc: doc.to_string(),
            params,
            inputs: Inputs::Grouped {
                names,
                count_param: "num_weights",
            },
            create: Box::new(move |p| {
                Ok(make_multi_op(name, rule, names, multi_hypers(p, &spec)?))
            }),
        });
    }
}
