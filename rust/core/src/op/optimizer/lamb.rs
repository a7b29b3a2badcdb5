//! LAMB's mixed-precision phases (`mp_lamb_update_phase1/2`) and the multi-tensor LAMB ops
//! (`_multi_lamb_update`, `_multi_mp_lamb_update`), which run both phases and the two norms in
//! one engine op per group of up to 45 weights. These compute in f64 over copies (`read_f64`):
//! the trust ratio needs whole-tensor norms between the phases anyway.

use super::table::{table, BETA1, BETA2, CLIP, RESCALE};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::params::{param, ParamSpec, Params};
use crate::op::{read_f64, write_f64, Desc, FnOp, Inputs, Operator, Registry, SimpleDef};
use std::sync::Arc;

/// The hyper-parameters of LAMB's first phase.
#[derive(Clone, Copy)]
struct Phase1 {
    beta1: f64,
    beta2: f64,
    epsilon: f64,
    t: f64,
    bias_correction: bool,
    wd: f64,
    rescale: f64,
    clip: f64,
}

impl Phase1 {
    fn parse(p: &Params, t: f64, wd: f64) -> Result<Phase1> {
        Ok(Phase1 {
            beta1: p.float("beta1")?,
            beta2: p.float("beta2")?,
            epsilon: p.float("epsilon")?,
            t,
            bias_correction: p.bool("bias_correction")?,
            wd,
            rescale: p.float("rescale_grad")?,
            clip: p.float("clip_gradient")?,
        })
    }

    /// Updates mean and var in place and returns the direction g (`w` is the weight the
    /// decay term uses: the f32 master copy in the mixed-precision ops).
    fn run(&self, w: &[f64], grad: &[f64], mean: &mut [f64], var: &mut [f64]) -> Vec<f64> {
        let (mc, vc) = if self.bias_correction {
            (1.0 - self.beta1.powf(self.t), 1.0 - self.beta2.powf(self.t))
        } else {
            (1.0, 1.0)
        };
        (0..w.len())
            .map(|i| {
                let mut g = grad[i] * self.rescale;
                if self.clip >= 0.0 {
                    g = g.clamp(-self.clip, self.clip);
                }
                mean[i] = self.beta1 * mean[i] + (1.0 - self.beta1) * g;
                var[i] = self.beta2 * var[i] + (1.0 - self.beta2) * g * g;
                (mean[i] / mc) / ((var[i] / vc).sqrt() + self.epsilon) + self.wd * w[i]
            })
            .collect()
    }
}

/// `lr` scaled by the trust ratio r1 / r2, r1 clipped to the bounds that are >= 0; a zero
/// norm leaves `lr` as it is.
fn trust_lr(lr: f64, r1: f64, r2: f64, lower: f64, upper: f64) -> f64 {
    let mut r1 = r1;
    if lower >= 0.0 {
        r1 = r1.max(lower);
    }
    if upper >= 0.0 {
        r1 = r1.min(upper);
    }
    if r1 == 0.0 || r2 == 0.0 {
        lr
    } else {
        lr * r1 / r2
    }
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// Checks one LAMB group: weight and grad (f16/f32/f64, same dtype) and the states, all of
/// the weight's shape; `f32_from` is the first index that must be float32 (mixed precision).
fn check_group(op: &str, names: &[String], ins: &[Desc], f32_from: Option<usize>) -> Result<()> {
    let w = &ins[0];
    let ok = match f32_from {
        Some(_) => matches!(w.dtype, DType::F16 | DType::F32),
        None => matches!(w.dtype, DType::F16 | DType::F32 | DType::F64),
    };
    if !ok {
        return Err(Error::DType {
            op: op.into(),
            msg: format!(
                "{} has dtype {}, which this update does not support",
                names[0], w.dtype
            ),
        });
    }
    for (i, d) in ins.iter().enumerate().skip(1) {
        if d.shape != w.shape {
            return Err(Error::shape(
                op,
                format!(
                    "{} has shape {} but {} has shape {}",
                    names[i], d.shape, names[0], w.shape
                ),
            ));
        }
        let want = match f32_from {
            Some(f) if i >= f => DType::F32,
            _ => w.dtype,
        };
        if d.dtype != want {
            return Err(Error::DType {
                op: op.into(),
                msg: format!(
                    "{} has dtype {} but {want} is required ({} is {})",
                    names[i], d.dtype, names[0], w.dtype
                ),
            });
        }
    }
    Ok(())
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// `mp_lamb_update_phase1`: phase I on a float16 weight with float32 mean, var and master copy
/// weight32 (whose values the weight decay term uses); g is float32.
fn mp_phase1(p: &Params) -> Result<Arc<dyn Operator>> {
    let h = Phase1::parse(p, p.int("t")? as f64, p.float("wd")?)?;
    let names = strings(&["weight", "grad", "mean", "var", "weight32"]);
    let mut op = FnOp::new(
        "mp_lamb_update_phase1",
        move |ins| {
            crate::op::expect_inputs("mp_lamb_update_phase1", ins, 5)?;
            check_group("mp_lamb_update_phase1", &names, ins, Some(2))?;
            Ok(vec![Desc::new(ins[0].shape.clone(), DType::F32)])
        },
        move |_, ins, outs| {
            let (mut m, mut v) = (read_f64(&ins[2]), read_f64(&ins[3]));
            let g = h.run(&read_f64(&ins[4]), &read_f64(&ins[1]), &mut m, &mut v);
            write_f64(&ins[2], &m);
            write_f64(&ins[3], &v);
            write_f64(&outs[0], &g);
            Ok(())
        },
    );
    op.mutate = vec![2, 3];
    Ok(op.arc())
}

/// `mp_lamb_update_phase2`: `weight32 - lr * trust_ratio * g`, cast to the weight's dtype. As
/// in MXNet 1.9.1, weight32 itself is left as it is.
fn mp_phase2(p: &Params) -> Result<Arc<dyn Operator>> {
    let (lr, lower, upper) = (
        p.float("lr")?,
        p.float("lower_bound")?,
        p.float("upper_bound")?,
    );
    let names = strings(&["weight", "g", "weight32"]);
    let mut op = FnOp::new(
        "mp_lamb_update_phase2",
        move |ins| {
            crate::op::expect_inputs("mp_lamb_update_phase2", ins, 5)?;
            for (i, nm) in [(2, "r1"), (3, "r2")] {
                let d = &ins[i];
                if d.shape.size() != 1 || d.dtype != DType::F32 {
                    return Err(Error::shape(
                        "mp_lamb_update_phase2",
                        format!(
                            "{nm} must be a one-element float32 array, got shape {} and dtype {}",
                            d.shape, d.dtype
                        ),
                    ));
                }
            }
            let group = [ins[0].clone(), ins[1].clone(), ins[4].clone()];
            check_group("mp_lamb_update_phase2", &names, &group, Some(1))?;
            Ok(vec![ins[0].clone()])
        },
        move |_, ins, outs| {
            let (r1, r2) = (read_f64(&ins[2])[0], read_f64(&ins[3])[0]);
            let lr = trust_lr(lr, r1, r2, lower, upper);
            let (g, w32) = (read_f64(&ins[1]), read_f64(&ins[4]));
            let w: Vec<f64> = w32.iter().zip(&g).map(|(w, g)| w - lr * g).collect();
            write_f64(&outs[0], &w);
            Ok(())
        },
    );
    op.inplace = true;
    Ok(op.arc())
}

/// `_multi_lamb_update` (groups of weight, grad, mean, var) and `_multi_mp_lamb_update` (plus
/// weight32): per tensor, phase I, the norms of the weight (the stored weight, not the master
/// copy, as MXNet) and of g, then phase II; mean, var and weight32 are updated in place.
fn multi_lamb(name: &'static str, mp: bool, p: &Params) -> Result<Arc<dyn Operator>> {
    let n = p.int("num_tensors")?;
    if n < 1 {
        return Err(Error::Value(format!(
            "operator {name}: num_tensors must be at least 1, got {n}"
        )));
    }
    let n = n as usize;
    let (lrs, wds, steps) = (
        p.floats("learning_rates")?,
        p.floats("wds")?,
        p.ints("step_count")?,
    );
    if lrs.len() != n || wds.len() != n || steps.len() != n {
        return Err(Error::Value(format!(
            "operator {name}: num_tensors={n} needs that many learning_rates, wds and \
             step_count, got {}, {} and {}",
            lrs.len(),
            wds.len(),
            steps.len()
        )));
    }
    let hs: Vec<Phase1> = (0..n)
        .map(|k| Phase1::parse(p, steps[k] as f64, wds[k]))
        .collect::<Result<_>>()?;
    let (lower, upper) = (p.float("lower_bound")?, p.float("upper_bound")?);
    let g = if mp { 5 } else { 4 };
    let base: &[&str] = &["weight", "grad", "mean", "var", "weight32"][..g];
    let labels: Vec<Vec<String>> = (0..n)
        .map(|k| base.iter().map(|s| format!("{s}_{k}")).collect())
        .collect();
    let mut op = FnOp::new(
        name,
        move |ins| {
            if ins.len() != g * n {
                return Err(Error::Value(format!(
                    "operator {name} with num_tensors={n} takes {} inputs ({g} per tensor), \
                     {} given",
                    g * n,
                    ins.len()
                )));
            }
            let mut outs = Vec::with_capacity(n);
            for (k, group) in ins.chunks(g).enumerate() {
                check_group(name, &labels[k], group, mp.then_some(2))?;
                outs.push(group[0].clone());
            }
            Ok(outs)
        },
        move |_, ins, outs| {
            // Phase I of every group before any weight moves, then phase II group by group,
            // as MXNet's two kernels: a weight listed twice gets both steps, each scaled by the
            // norms of the weight before them.
            let mut steps = Vec::with_capacity(n);
            for (k, group) in ins.chunks(g).enumerate() {
                let w = read_f64(&group[0]);
                let (mut m, mut v) = (read_f64(&group[2]), read_f64(&group[3]));
                let master = if mp { read_f64(&group[4]) } else { w.clone() };
                let dir = hs[k].run(&master, &read_f64(&group[1]), &mut m, &mut v);
                write_f64(&group[2], &m);
                write_f64(&group[3], &v);
                steps.push((trust_lr(lrs[k], norm(&w), norm(&dir), lower, upper), dir));
            }
            for ((group, out), (lr, dir)) in ins.chunks(g).zip(outs).zip(steps) {
                let master = read_f64(&group[if mp { 4 } else { 0 }]);
                let new: Vec<f64> = master.iter().zip(&dir).map(|(w, d)| w - lr * d).collect();
                if mp {
                    write_f64(&group[4], &new);
                }
                write_f64(out, &new);
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
    Ok(op.arc())
}

fn single_params(of: &str) -> Vec<ParamSpec> {
    table()
        .into_iter()
        .find(|r| r.0 == of)
        .map(|r| r.3)
        .unwrap_or_default()
}

fn multi_params() -> Vec<ParamSpec> {
    vec![
        param("learning_rates", "tuple of <float>", None, "List of learning rates"),
        BETA1,
        BETA2,
        param("epsilon", "float", Some("9.99999997e-07"), "Small value to avoid division by 0."),
        param("wds", "tuple of <float>", None, "List of Weight decays.Weight decay augments the objective function with a regularization term that penalizes large weights. The penalty scales with the square of the magnitude of each weight."),
        RESCALE,
        param("lower_bound", "float", Some("-1"), "Lower limit of norm of weight. If lower_bound <= 0, Lower limit is not set"),
        param("upper_bound", "float", Some("-1"), "Upper limit of norm of weight. If upper_bound <= 0, Upper limit is not set"),
        CLIP,
        param("bias_correction", "boolean", Some("1"), "Whether to use bias correction."),
        param("step_count", "Shape(tuple)", None, "Step count for each tensor"),
        param("num_tensors", "int", Some("1"), "Number of tensors"),
    ]
}

pub(super) fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: "mp_lamb_update_phase1",
        doc: "Mixed-precision phase I of LAMB: as lamb_update_phase1 on a float16 weight and grad with float32 mean and var (updated in place); the weight decay term uses the float32 master copy weight32, and g is float32.".to_string(),
        params: single_params("lamb_update_phase1"),
        inputs: Inputs::Fixed(&["weight", "grad", "mean", "var", "weight32"]),
        create: Box::new(mp_phase1),
    });
    r.add(SimpleDef {
        name: "mp_lamb_update_phase2",
        doc: "Mixed-precision phase II of LAMB: weight = weight32 - lr * trust_ratio(r1, r2) * g, cast to the weight's dtype (weight32 itself is not updated, as in MXNet 1.9.1).".to_string(),
        params: single_params("lamb_update_phase2"),
        inputs: Inputs::Fixed(&["weight", "g", "r1", "r2", "weight32"]),
        create: Box::new(mp_phase2),
    });
    for (name, mp, names) in [
        (
            "_multi_lamb_update",
            false,
            &["weight", "grad", "mean", "var"][..],
        ),
        (
            "_multi_mp_lamb_update",
            true,
            &["weight", "grad", "mean", "var", "weight32"][..],
        ),
    ] {
        r.add(SimpleDef {
            name,
            doc: format!(
                "Compute the LAMB update of num_tensors groups of ({}): per tensor, phase I (mean and var updated in place), the trust ratio of the weight's and the direction's norms, then phase II with learning_rates[i], wds[i] and step_count[i].",
                names.join(", ")
            ),
            params: multi_params(),
            inputs: Inputs::Grouped {
                names,
                count_param: "num_tensors",
            },
            create: Box::new(move |p| multi_lamb(name, mp, p)),
        });
    }
}
