//! Aggregated updates whose input list ends with arrays shared by every weight group:
//! `preloaded_multi_*sgd*` (learning rates and weight decays as the NDArrays `lrs`, `wds`, so
//! LARS can compute them on the device) and `_multi_*adamw_update` (one `rescale_grad`), plus
//! `multi_lars`, which computes those learning rates. Each group is the single op's update.

use super::table::{CLIP, MOMENTUM, RESCALE};
use super::{dispatch, infer, Hyper, Rule};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::ndarray::NDArray;
use crate::op::params::{param, ParamSpec, Params};
use crate::op::{read_f64, write_f64, Desc, FnOp, Inputs, Operator, Registry, SimpleDef};
use std::sync::Arc;

/// How the trailing inputs are used.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tail {
    /// `lrs` and `wds`: one value per group, read when the update runs.
    Preloaded,
    /// `rescale_grad`: appended to every group's inputs (the single op takes it as input).
    Shared,
}

struct GroupedSpec {
    name: &'static str,
    rule: Rule,
    /// The inputs of one group, as the single-weight op names them.
    names: &'static [&'static str],
    tail: Tail,
    tail_names: &'static [&'static str],
}

fn num_weights(p: &Params) -> Result<usize> {
    let n = p.int("num_weights")?;
    if n < 1 {
        return Err(Error::Value(format!(
            "operator {}: num_weights must be at least 1, got {n}",
            p.op
        )));
    }
    Ok(n as usize)
}

fn make_grouped_op(s: &'static GroupedSpec, hypers: Vec<Hyper>) -> Arc<dyn Operator> {
    let (name, rule, names, tail) = (s.name, s.rule, s.names, s.tail);
    let g = names.len();
    let n = hypers.len();
    let total = g * n + s.tail_names.len();
    let labels: Vec<Vec<String>> = (0..n)
        .map(|k| {
            let mut l: Vec<String> = names.iter().map(|s| format!("{s}_{k}")).collect();
            if tail == Tail::Shared {
                l.extend(s.tail_names.iter().map(|s| s.to_string()));
            }
            l
        })
        .collect();
    let input_names: Vec<String> = (0..n)
        .flat_map(|k| names.iter().map(move |s| format!("{s}_{k}")))
        .chain(s.tail_names.iter().map(|s| s.to_string()))
        .collect();
    let tail_names = s.tail_names;
    let mut op = FnOp::new(
        name,
        move |ins| {
            if ins.len() != total {
                return Err(Error::Value(format!(
                    "operator {name} with num_weights={n} takes {total} inputs ({g} per weight: \
                     {}, then {}), {} given",
                    names.join(", "),
                    tail_names.join(", "),
                    ins.len()
                )));
            }
            let extra = &ins[g * n..];
            if tail == Tail::Preloaded {
                for (d, t) in extra.iter().zip(tail_names) {
                    if d.shape.dims() != [n] || !d.dtype.is_float() {
                        return Err(Error::shape(
                            name,
                            format!(
                                "{t} must be a float array of shape ({n},) (one value per \
                                 weight, num_weights={n}), got shape {} and dtype {}",
                                d.shape, d.dtype
                            ),
                        ));
                    }
                }
            }
            let mut outs = Vec::with_capacity(n);
            for (k, group) in ins[..g * n].chunks(g).enumerate() {
                let mut descs: Vec<Desc> = group.to_vec();
                if tail == Tail::Shared {
                    descs.extend(extra.iter().cloned());
                }
                let l: Vec<&str> = labels[k].iter().map(String::as_str).collect();
                outs.extend(infer(name, rule, &l, &descs)?);
            }
            Ok(outs)
        },
        move |_, ins, outs| {
            let extra = &ins[g * n..];
            let (lrs, wds) = match tail {
                Tail::Preloaded => (read_f64(&extra[0]), read_f64(&extra[1])),
                Tail::Shared => (Vec::new(), Vec::new()),
            };
            for (k, out) in outs.iter().enumerate() {
                let mut group: Vec<NDArray> = ins[k * g..(k + 1) * g].to_vec();
                let mut h = hypers[k];
                match tail {
                    Tail::Preloaded => {
                        h.lr = lrs[k];
                        h.wd = wds[k];
                    }
                    Tail::Shared => group.extend(extra.iter().cloned()),
                }
                dispatch(name, rule, &h, &group, out)?;
            }
            Ok(())
        },
    );
    op.num_outputs = n;
    op.num_inputs = Some(total);
    op.inplace = true;
    op.groups = Some(g);
    op.input_names = Some(input_names);
    op.mutate = (0..n)
        .flat_map(|k| (2..g).map(move |i| k * g + i))
        .collect();
    op.arc()
}

static PRELOADED: [GroupedSpec; 4] = [
    GroupedSpec {
        name: "preloaded_multi_sgd_update",
        rule: Rule::Sgd,
        names: &["weight", "grad"],
        tail: Tail::Preloaded,
        tail_names: &["lrs", "wds"],
    },
    GroupedSpec {
        name: "preloaded_multi_sgd_mom_update",
        rule: Rule::SgdMom,
        names: &["weight", "grad", "mom"],
        tail: Tail::Preloaded,
        tail_names: &["lrs", "wds"],
    },
    GroupedSpec {
        name: "preloaded_multi_mp_sgd_update",
        rule: Rule::MpSgd,
        names: &["weight", "grad", "weight32"],
        tail: Tail::Preloaded,
        tail_names: &["lrs", "wds"],
    },
    GroupedSpec {
        name: "preloaded_multi_mp_sgd_mom_update",
        rule: Rule::MpSgdMom,
        names: &["weight", "grad", "mom", "weight32"],
        tail: Tail::Preloaded,
        tail_names: &["lrs", "wds"],
    },
];

static ADAMW: [GroupedSpec; 2] = [
    GroupedSpec {
        name: "_multi_adamw_update",
        rule: Rule::AdamW,
        names: &["weight", "grad", "mean", "var"],
        tail: Tail::Shared,
        tail_names: &["rescale_grad"],
    },
    GroupedSpec {
        name: "_multi_mp_adamw_update",
        rule: Rule::MpAdamW,
        names: &["weight", "grad", "mean", "var", "weight32"],
        tail: Tail::Shared,
        tail_names: &["rescale_grad"],
    },
];

const NUM_WEIGHTS: ParamSpec = param(
    "num_weights",
    "int",
    Some("1"),
    "Number of updated weights.",
);

fn preloaded_doc(s: &GroupedSpec) -> String {
    let per = s.names.join(", ");
    format!(
        "{} with the learning rates and weight decays given as arrays: the inputs are \
         num_weights groups of ({per}) followed by lrs and wds, each of shape (num_weights,). \
         Group i applies the single-weight update with lr = lrs[i] and wd = wds[i]; its states \
         are updated in place.",
        s.name.trim_start_matches("preloaded_")
    )
}

/// The AdamW hyper-parameters of each group: `lrs`, `wds` and `etas` hold one value per weight.
fn adamw_hypers(p: &Params, spec: &[ParamSpec]) -> Result<Vec<Hyper>> {
    let n = num_weights(p)?;
    let (lrs, wds, etas) = (p.floats("lrs")?, p.floats("wds")?, p.floats("etas")?);
    if lrs.len() != n || wds.len() != n || etas.len() != n {
        return Err(Error::Value(format!(
            "operator {}: num_weights={n} needs that many lrs, wds and etas, got {}, {} and {}",
            p.op,
            lrs.len(),
            wds.len(),
            etas.len()
        )));
    }
    let base = Hyper::parse(p, spec)?;
    Ok((0..n)
        .map(|k| Hyper {
            lr: lrs[k],
            wd: wds[k],
            eta: etas[k],
            ..base
        })
        .collect())
}

/// `multi_lars`: LARS's per-layer learning rates from the squared norms of weights and grads.
fn multi_lars(p: &Params) -> Result<Arc<dyn Operator>> {
    let (eta, eps, rescale) = (p.float("eta")?, p.float("eps")?, p.float("rescale_grad")?);
    const NAMES: [&str; 4] = ["lrs", "weights_sum_sq", "grads_sum_sq", "wds"];
    let mut op = FnOp::new(
        "multi_lars",
        move |ins| {
            crate::op::expect_inputs("multi_lars", ins, 4)?;
            let first = &ins[0];
            if first.dtype != DType::F32 {
                return Err(Error::DType {
                    op: "multi_lars".into(),
                    msg: format!("lrs has dtype {}, only float32 is supported", first.dtype),
                });
            }
            for (d, nm) in ins.iter().zip(NAMES).skip(1) {
                if d.shape.size() != first.shape.size() || d.dtype != first.dtype {
                    return Err(Error::shape(
                        "multi_lars",
                        format!(
                            "{nm} has shape {} and dtype {} but lrs has shape {} and dtype {}",
                            d.shape, d.dtype, first.shape, first.dtype
                        ),
                    ));
                }
            }
            Ok(vec![first.clone()])
        },
        move |_, ins, outs| {
            let [lrs, wss, gss, wds] = [0, 1, 2, 3].map(|i| read_f64(&ins[i]));
            let new: Vec<f64> = (0..lrs.len())
                .map(|i| {
                    let w_norm = wss[i].sqrt();
                    // A zero weight or gradient norm leaves the learning rate as it is.
                    if w_norm > 0.0 && gss[i] > 0.0 {
                        lrs[i] * eta * w_norm / (gss[i].sqrt() * rescale + wds[i] * w_norm + eps)
                    } else {
                        lrs[i]
                    }
                })
                .collect();
            write_f64(&outs[0], &new);
            Ok(())
        },
    )
    .with_shape_partial(crate::graph::infer::same_shape_partial);
    op.inplace = true;
    Ok(op.arc())
}

pub(super) fn register(r: &mut Registry) {
    for s in &PRELOADED {
        let mut params = Vec::new();
        if s.names.contains(&"mom") {
            params.push(MOMENTUM);
        }
        params.extend([RESCALE, CLIP, NUM_WEIGHTS]);
        let spec = params.clone();
        r.add(SimpleDef {
            name: s.name,
            doc: preloaded_doc(s),
            params,
            inputs: Inputs::Dynamic,
            create: Box::new(move |p| {
                let n = num_weights(p)?;
                let base = Hyper::parse(p, &spec)?;
                Ok(make_grouped_op(s, vec![base; n]))
            }),
        });
    }
    for s in &ADAMW {
        let params = vec![
            param("lrs", "tuple of <float>", None, "Learning rates"),
            super::table::BETA1,
            super::table::BETA2,
            super::table::EPS,
            param("wds", "tuple of <float>", None, "Weight decay augments the objective function with a regularization term that penalizes large weights. The penalty scales with the square of the magnitude of each weight."),
            param("etas", "tuple of <float>", None, "Learning rates schedule multiplier"),
            CLIP,
            NUM_WEIGHTS,
        ];
        let spec = params.clone();
        let per = s.names.join(", ");
        r.add(SimpleDef {
            name: s.name,
            doc: format!(
                "Update function for AdamW on num_weights groups of ({per}) followed by one \
                 rescale_grad array: group i applies {} with lr = lrs[i], wd = wds[i] and \
                 eta = etas[i]. A NaN, infinite or zero rescale_grad skips every update.",
                if s.rule == Rule::AdamW {
                    "_adamw_update"
                } else {
                    "_mp_adamw_update"
                }
            ),
            params,
            inputs: Inputs::Dynamic,
            create: Box::new(move |p| Ok(make_grouped_op(s, adamw_hypers(p, &spec)?))),
        });
    }
    r.add(SimpleDef {
        name: "multi_lars",
        doc: "Compute the LARS coefficients of multiple weights and grads from their sums of squares:\n    lrs[i] * eta * ||w_i|| / (||g_i|| * rescale_grad + wds[i] * ||w_i|| + eps)\nwhere ||w_i|| = sqrt(weights_sum_sq[i]), ||g_i|| = sqrt(grads_sum_sq[i]); lrs[i] unchanged when either norm is 0.".to_string(),
        params: vec![
            param("eta", "float", None, "LARS eta"),
            param("eps", "float", None, "LARS eps"),
            param("rescale_grad", "float", Some("1"), "Gradient rescaling factor"),
        ],
        inputs: Inputs::Fixed(&["lrs", "weights_sum_sq", "grads_sum_sq", "wds"]),
        create: Box::new(multi_lars),
    });
}
