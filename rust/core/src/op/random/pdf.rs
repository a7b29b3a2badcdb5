//! `_random_pdf_<dist>(sample, params..., is_log)`: the density (or log density) of each sample
//! under the distribution of its parameter element. Parameter arrays share a shape P that is a
//! prefix of the sample shape; every parameter element covers the samples of the remaining
//! dims (Dirichlet: the last sample dim is the category axis, and the output drops it). As
//! MXNet: gamma's `beta` is a rate, the uniform density is 1 / (high - low) even outside
//! [low, high], count samples (Poisson, negative binomials) get a zero
//! gradient, and the backward computes every input's gradient from the log density's partial
//! derivatives (not differentiable again).

use crate::error::{Error, Result};
use crate::kernels::cpu::special::{digamma, gammaln};
use crate::op::params::param;
use crate::op::{expect_inputs, Desc, FnOp, Inputs, Operator, Registry, SimpleDef};
use crate::op::{read_f64, write_f64};
use crate::shape::Shape;
use std::f64::consts::PI;
use std::sync::Arc;

#[derive(Clone, Copy, PartialEq)]
enum Pdf {
    Uniform,
    Normal,
    Gamma,
    Exponential,
    Poisson,
    NegBinomial,
    GenNegBinomial,
    Dirichlet,
}

/// Log density at `x` and its partial derivatives (d/dx, d/dparam...) for scalar-sample
/// distributions.
fn log_pdf(d: Pdf, x: f64, p: &[f64]) -> (f64, f64, [f64; 2]) {
    match d {
        Pdf::Uniform => {
            // MXNet 1.9.1 does not test the support: every sample gets 1 / (high - low).
            let _ = x;
            let w = p[1] - p[0];
            (-w.ln(), 0.0, [1.0 / w, -1.0 / w])
        }
        Pdf::Normal => {
            let (mu, s) = (p[0], p[1]);
            let z = (x - mu) / s;
            (
                -s.ln() - 0.5 * (2.0 * PI).ln() - 0.5 * z * z,
                -z / s,
                [z / s, -1.0 / s + z * z / s],
            )
        }
        Pdf::Gamma => {
            let (a, b) = (p[0], p[1]);
            (
                a * b.ln() + (a - 1.0) * x.ln() - b * x - gammaln(a),
                (a - 1.0) / x - b,
                [b.ln() + x.ln() - digamma(a), a / b - x],
            )
        }
        Pdf::Exponential => {
            let l = p[0];
            (l.ln() - l * x, -l, [1.0 / l - x, 0.0])
        }
        Pdf::Poisson => {
            let l = p[0];
            (x * l.ln() - l - gammaln(x + 1.0), 0.0, [x / l - 1.0, 0.0])
        }
        Pdf::NegBinomial => {
            let (k, q) = (p[0], p[1]);
            (
                gammaln(x + k) - gammaln(x + 1.0) - gammaln(k) + k * q.ln() + x * (1.0 - q).ln(),
                0.0,
                [digamma(x + k) - digamma(k) + q.ln(), k / q - x / (1.0 - q)],
            )
        }
        Pdf::GenNegBinomial => {
            let (mu, a) = (p[0], p[1]);
            let k = 1.0 / a;
            let l1 = (1.0 + a * mu).ln();
            (
                gammaln(x + k) - gammaln(x + 1.0) - gammaln(k) - (x + k) * l1 + x * (a * mu).ln(),
                0.0,
                [
                    x / mu - (a * x + 1.0) / (1.0 + a * mu),
                    (digamma(k) - digamma(x + k) + l1) / (a * a) - (x + k) * mu / (1.0 + a * mu)
                        + x / a,
                ],
            )
        }
        Pdf::Dirichlet => unreachable!("Dirichlet samples are vectors"),
    }
}

/// Dirichlet log density of one sample vector, with d/dx_i and d/dalpha_i.
fn dirichlet(x: &[f64], a: &[f64]) -> (f64, Vec<f64>, Vec<f64>) {
    let s: f64 = a.iter().sum();
    let mut lp = gammaln(s);
    let (mut dx, mut da) = (Vec::with_capacity(x.len()), Vec::with_capacity(x.len()));
    for (&xi, &ai) in x.iter().zip(a) {
        lp += (ai - 1.0) * xi.ln() - gammaln(ai);
        dx.push((ai - 1.0) / xi);
        da.push(digamma(s) - digamma(ai) + xi.ln());
    }
    (lp, dx, da)
}

/// Samples per parameter element, after checking the shapes.
fn per_param(op: &str, d: Pdf, ins: &[Desc]) -> Result<usize> {
    let (s, p) = (&ins[0].shape, &ins[1].shape);
    for (i, q) in ins[1..].iter().enumerate() {
        if q.shape != *p {
            return Err(Error::shape(
                op,
                format!(
                    "all parameters must have one shape, got {p} and {} (parameter {})",
                    q.shape,
                    i + 1
                ),
            ));
        }
    }
    let k = usize::from(d == Pdf::Dirichlet);
    let np = p.ndim().saturating_sub(k);
    if s.ndim() < p.ndim()
        || s.dims()[..np] != p.dims()[..np]
        || (k == 1 && (p.ndim() == 0 || s.dims().last() != p.dims().last()))
    {
        return Err(Error::shape(
            op,
            format!(
                "the parameter shape {p} must be a prefix of the sample shape {s}{}",
                if k == 1 {
                    " (sharing the last, category, dim)"
                } else {
                    ""
                }
            ),
        ));
    }
    let pn: usize = p.dims()[..np].iter().product();
    Ok(s.size()
        / (pn.max(1)
            * if k == 1 {
                p.dims().last().copied().unwrap_or(1).max(1)
            } else {
                1
            }))
}

/// Categories per Dirichlet sample (1 for scalar distributions).
fn cats(d: Pdf, sample: &Shape) -> usize {
    if d == Pdf::Dirichlet {
        sample.dims().last().copied().unwrap_or(1)
    } else {
        1
    }
}

fn out_shape(d: Pdf, s: &Shape) -> Shape {
    if d == Pdf::Dirichlet {
        // One vector has one density: (1,), as MXNet's shapes have no 0-d.
        let dims = &s.dims()[..s.ndim().saturating_sub(1)];
        Shape::new(if dims.is_empty() {
            vec![1]
        } else {
            dims.to_vec()
        })
    } else {
        s.clone()
    }
}

/// Per output element: (log density, d/dsample (per sample element), d/dparam (per param
/// element of its group)).
#[allow(clippy::type_complexity)]
fn evaluate(
    d: Pdf,
    sample: &[f64],
    params: &[Vec<f64>],
    m: usize,
    k: usize,
) -> Vec<(f64, Vec<f64>, Vec<f64>)> {
    if d == Pdf::Dirichlet {
        let mut r = Vec::new();
        for g in 0..params[0].len() / k.max(1) {
            let a = &params[0][g * k..(g + 1) * k];
            for j in 0..m {
                let x = &sample[(g * m + j) * k..(g * m + j + 1) * k];
                r.push(dirichlet(x, a));
            }
        }
        return r;
    }
    sample
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let g = i / m.max(1);
            let p: Vec<f64> = params.iter().map(|v| v[g]).collect();
            let (lp, dx, dp) = log_pdf(d, x, &p);
            (lp, vec![dx], dp[..params.len()].to_vec())
        })
        .collect()
}

fn forward_op(
    name: &'static str,
    bname: &'static str,
    d: Pdf,
    n_params: usize,
    is_log: bool,
) -> Arc<dyn Operator> {
    let check = move |ins: &[Desc]| -> Result<usize> {
        expect_inputs(name, ins, 1 + n_params)?;
        for x in ins {
            if !x.dtype.is_float() {
                return Err(Error::dtype(
                    name,
                    format!("expects float inputs, got {}", x.dtype),
                ));
            }
        }
        per_param(name, d, ins)
    };
    FnOp::new(
        name,
        move |ins| {
            check(ins)?;
            Ok(vec![Desc::new(out_shape(d, &ins[0].shape), ins[0].dtype)])
        },
        move |_, ins, outs| {
            let descs = Desc::of_all(ins);
            let m = check(&descs)?;
            let params: Vec<Vec<f64>> = ins[1..].iter().map(read_f64).collect();
            let v: Vec<f64> = evaluate(d, &read_f64(&ins[0]), &params, m, cats(d, ins[0].shape()))
                .into_iter()
                .map(|(lp, _, _)| if is_log { lp } else { lp.exp() })
                .collect();
            write_f64(&outs[0], &v);
            Ok(())
        },
    )
    .with_grad(move |g, a| {
        let mut ins = vec![a.out_grads[0].clone()];
        ins.extend(a.inputs.iter().cloned());
        let r = g.apply(backward_op(bname, d, n_params, is_log), &ins);
        Ok(r.into_iter().map(Some).collect())
    })
    .arc()
}

/// `(og, sample, params...)` -> gradients of sample and each parameter.
fn backward_op(name: &'static str, d: Pdf, n_params: usize, is_log: bool) -> Arc<dyn Operator> {
    let mut op = FnOp::new(
        name,
        move |ins| {
            expect_inputs(name, ins, 2 + n_params)?;
            Ok(ins[1..].to_vec())
        },
        move |_, ins, outs| {
            let descs = Desc::of_all(&ins[1..]);
            let m = per_param(name, d, &descs)?;
            let og = read_f64(&ins[0]);
            let sample = read_f64(&ins[1]);
            let params: Vec<Vec<f64>> = ins[2..].iter().map(read_f64).collect();
            let k = cats(d, ins[1].shape());
            let ev = evaluate(d, &sample, &params, m, k);
            // Count samples get zero, even where the density is NaN (MXNet writes 0).
            let counts = matches!(d, Pdf::Poisson | Pdf::NegBinomial | Pdf::GenNegBinomial);
            let mut ds = vec![0.0; sample.len()];
            let mut dp: Vec<Vec<f64>> = params.iter().map(|p| vec![0.0; p.len()]).collect();
            for (i, ((lp, dx, dpar), &g)) in ev.into_iter().zip(&og).enumerate() {
                // d pdf = pdf * d log pdf
                let f = if is_log { g } else { g * lp.exp() };
                if !counts {
                    for (j, v) in dx.iter().enumerate() {
                        ds[i * k + j] = f * v;
                    }
                }
                let grp = i / m.max(1);
                if d == Pdf::Dirichlet {
                    for (j, v) in dpar.iter().enumerate() {
                        dp[0][grp * k + j] += f * v;
                    }
                } else {
                    for (q, v) in dpar.iter().enumerate() {
                        dp[q][grp] += f * v;
                    }
                }
            }
            write_f64(&outs[0], &ds);
            for (o, v) in outs[1..].iter().zip(&dp) {
                write_f64(o, v);
            }
            Ok(())
        },
    );
    op.num_outputs = 1 + n_params;
    op.arc()
}

const DISTS: &[(&str, Pdf, &[&str], &str)] = &[
    (
        "uniform",
        Pdf::Uniform,
        &["low", "high"],
        "uniform distributions on [low, high]",
    ),
    (
        "normal",
        Pdf::Normal,
        &["mu", "sigma"],
        "normal distributions with means mu and standard deviations sigma",
    ),
    (
        "gamma",
        Pdf::Gamma,
        &["alpha", "beta"],
        "gamma distributions with shapes alpha and rates beta",
    ),
    (
        "exponential",
        Pdf::Exponential,
        &["lam"],
        "exponential distributions with rates lam",
    ),
    (
        "poisson",
        Pdf::Poisson,
        &["lam"],
        "Poisson distributions with rates lam",
    ),
    (
        "negative_binomial",
        Pdf::NegBinomial,
        &["k", "p"],
        "negative binomial distributions (k failures, success probability p)",
    ),
    (
        "generalized_negative_binomial",
        Pdf::GenNegBinomial,
        &["mu", "alpha"],
        "generalized negative binomial distributions with means mu and dispersions alpha",
    ),
    (
        "dirichlet",
        Pdf::Dirichlet,
        &["alpha"],
        "Dirichlet distributions with concentrations alpha (the last dim holds the categories)",
    ),
];

pub fn register(r: &mut Registry) {
    for &(dist, d, params, what) in DISTS {
        let name: &'static str = Box::leak(format!("_random_pdf_{dist}").into_boxed_str());
        let bname: &'static str = Box::leak(format!("_backward_pdf_{dist}").into_boxed_str());
        let inputs: &'static [&'static str] = Box::leak(
            std::iter::once("sample")
                .chain(params.iter().copied())
                .collect::<Vec<_>>()
                .into_boxed_slice(),
        );
        let n = params.len();
        r.add(SimpleDef {
            name,
            doc: format!("Computes the value of the PDF of samples of {what}. The parameter arrays' shape is a prefix of the sample shape; each parameter element applies to the samples in the remaining dims."),
            params: vec![param("is_log", "boolean", Some("False"), "If set, compute the density of the log-probability instead of the probability.")],
            inputs: Inputs::Fixed(inputs),
            create: Box::new(move |p| {
                let is_log = p.bool("is_log")?;
                Ok(forward_op(name, bname, d, n, is_log))
            }),
        });
        r.alias(
            Box::leak(format!("random_pdf_{dist}").into_boxed_str()),
            name,
        );
    }
}
