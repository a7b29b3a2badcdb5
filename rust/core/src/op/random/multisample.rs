//! `_sample_*`: one distribution per element of the parameter arrays (shape S), `shape` draws
//! from each, so the output has shape S + shape.

use super::dists::{check_sample, sample, Dist};
use super::fill_blocks;
use crate::dtype::{DType, Element};
use crate::error::Error;
use crate::kernels::cpu::Ptr;
use crate::ndarray::NDArray;
use crate::op::params::param;
use crate::op::{Desc, FnOp, Inputs, Registry, SimpleDef};
use crate::with_dtype;

/// One `_sample_*` op: its parameter inputs, their docs, and how they make a distribution.
struct Family {
    name: &'static str,
    doc: &'static str,
    inputs: &'static [&'static str],
    make: fn(f64, f64) -> Dist,
}

/// A parameter array's values as f64.
pub(super) fn values(a: &NDArray) -> Vec<f64> {
    if a.size() == 0 {
        return Vec::new();
    }
    with_dtype!(a.dtype(), T, {
        // SAFETY: called inside the op reading `a`.
        unsafe { a.data::<T>() }
            .iter()
            .map(|v| v.to_f64())
            .collect()
    })
}

/// Registers one `_sample_*` op; parameters are checked per element at run time.
fn add(r: &mut Registry, f: Family) {
    let Family {
        name,
        doc,
        inputs,
        make,
    } = f;
    r.add(SimpleDef {
        name,
        doc: doc.into(),
        params: vec![
            super::SAMPLE_SHAPE,
            param(
                "dtype",
                "{'None', 'float16', 'float32', 'float64'}",
                Some("'None'"),
                "DType of the output in case this can't be inferred. Defaults to float32 if not defined (dtype=None).",
            ),
        ],
        inputs: Inputs::Fixed(inputs),
        create: Box::new(move |p| {
            let extra = p.shape("shape")?;
            let dtype = super::draw_dtype(name, p, super::FLOATS, DType::F32)?;
            let unset = p.dtype("dtype")?.is_none();
            let per: usize = extra.iter().product();
            let extra2 = extra.clone();
            let mut op = FnOp::new(
                name,
                move |ins| {
                    if ins.len() != inputs.len() {
                        return Err(Error::Value(format!(
                            "operator {name} takes {} input(s), {} given",
                            inputs.len(),
                            ins.len()
                        )));
                    }
                    if let Some(d) = ins.iter().find(|d| d.shape != ins[0].shape) {
                        return Err(Error::shape(
                            name,
                            format!(
                                "the parameter arrays must have one shape, got {} and {}",
                                ins[0].shape, d.shape
                            ),
                        ));
                    }
                    let mut dims = ins[0].shape.dims().to_vec();
                    dims.extend_from_slice(&extra2);
                    Ok(vec![Desc::new(dims, dtype)])
                },
                move |cx, ins, outs| {
                    let a = values(&ins[0]);
                    let b = match ins.get(1) {
                        Some(x) => values(x),
                        None => vec![0.0; a.len()],
                    };
                    let dists: Vec<Dist> = a.iter().zip(&b).map(|(&x, &y)| make(x, y)).collect();
                    for d in &dists {
                        check_sample(*d).map_err(|m| Error::param(name, m))?;
                    }
                    let o = &outs[0];
                    if per == 0 {
                        return Ok(());
                    }
                    with_dtype!(o.dtype(), T, {
                        // SAFETY: inside the op writing o.
                        let po = unsafe { Ptr(o.raw() as *mut T) };
                        fill_blocks(po, o.size(), cx.seed, |i, rng| sample(dists[i / per], rng));
                    });
                    Ok(())
                },
            );
            op.rng = true;
            op.dtype_from_out = unset.then_some(super::FLOATS);
            // As MXNet: the parameter arrays share a dtype; the draws have `dtype`.
            let extra3 = extra.clone();
            Ok(op
                .with_grad(crate::op::zero_grads)
                .with_type_partial(move |ins, outs| {
                    outs[0].get_or_insert(dtype);
                    crate::op::unify_types(name, ins, &mut [])
                })
                // the parameter arrays share a shape, which leads the output's
                .with_shape_partial(move |ins, outs| {
                    crate::graph::infer::same_shape_partial(ins, &mut [])?;
                    if let Some(s) = ins[0].as_ref().filter(|s| s.ndim() > 0) {
                        let mut dims = s.dims().to_vec();
                        dims.extend_from_slice(&extra3);
                        crate::graph::infer::refine(&mut outs[0], crate::Shape::new(dims));
                    }
                    Ok(())
                })
                .arc())
        }),
    });
}

/// Registers the `_sample_*` ops and their `sample_*` aliases.
pub fn register(r: &mut Registry) {
    let fams = [
        Family {
            name: "_sample_uniform",
            doc: "Concurrent sampling from multiple uniform distributions on the intervals given by *[low,high)*. \
                  With parameter arrays of shape [s] and `shape` [t], the output has shape [s]x[t].",
            inputs: &["low", "high"],
            make: Dist::Uniform,
        },
        Family {
            name: "_sample_normal",
            doc: "Concurrent sampling from multiple normal distributions with parameters *mu* (mean) and *sigma* \
                  (standard deviation). With parameter arrays of shape [s] and `shape` [t], the output has shape [s]x[t].",
            inputs: &["mu", "sigma"],
            make: Dist::Normal,
        },
        Family {
            name: "_sample_exponential",
            doc: "Concurrent sampling from multiple exponential distributions with parameters lambda (rate). \
                  With a parameter array of shape [s] and `shape` [t], the output has shape [s]x[t].",
            inputs: &["lam"],
            make: |l, _| Dist::Exponential(l),
        },
        Family {
            name: "_sample_gamma",
            doc: "Concurrent sampling from multiple gamma distributions with parameters *alpha* (shape) and *beta* \
                  (scale). With parameter arrays of shape [s] and `shape` [t], the output has shape [s]x[t].",
            inputs: &["alpha", "beta"],
            make: Dist::Gamma,
        },
        Family {
            name: "_sample_poisson",
            doc: "Concurrent sampling from multiple Poisson distributions with parameters lambda (rate). \
                  With a parameter array of shape [s] and `shape` [t], the output has shape [s]x[t]. \
                  Samples are always returned as a floating point data type.",
            inputs: &["lam"],
            make: |l, _| Dist::Poisson(l),
        },
        Family {
            name: "_sample_negative_binomial",
            doc: "Concurrent sampling from multiple negative binomial distributions with parameters *k* (failure \
                  limit) and *p* (failure probability). With parameter arrays of shape [s] and `shape` [t], the \
                  output has shape [s]x[t]. Samples are always returned as a floating point data type.",
            inputs: &["k", "p"],
            make: Dist::NegBinomial,
        },
        Family {
            name: "_sample_generalized_negative_binomial",
            doc: "Concurrent sampling from multiple generalized negative binomial distributions with parameters \
                  *mu* (mean) and *alpha* (dispersion). With parameter arrays of shape [s] and `shape` [t], the \
                  output has shape [s]x[t]. Samples are always returned as a floating point data type.",
            inputs: &["mu", "alpha"],
            make: Dist::GenNegBinomial,
        },
    ];
    for f in fams {
        let alias: &'static str = &f.name[1..];
        let name = f.name;
        add(r, f);
        r.alias(alias, name);
    }
}
