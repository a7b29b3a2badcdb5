//! Random sampling ops (`_random_uniform`, `_random_normal`, `_random_randint`). Each call draws
//! a sub-seed at push time; blocks of 4096 elements get their own stream from it, so results
//! are the same whatever the thread count.

use super::params::param;
use super::{expect_inputs, Desc, FnOp, Inputs, Params, Registry, SimpleDef};
use crate::context::Context;
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::kernels::cpu::{par_ranges, Ptr};
use crate::random::Xoshiro;
use crate::with_dtype;

const BLOCK: usize = 4096;

#[derive(Clone, Copy)]
enum Dist {
    Uniform(f64, f64),
    Normal(f64, f64),
    RandInt(i64, i64),
}

fn sample(d: Dist, rng: &mut Xoshiro) -> f64 {
    match d {
        Dist::Uniform(lo, hi) => lo + (hi - lo) * rng.next_f64(),
        Dist::Normal(mu, sigma) => {
            // Box-Muller; 1 - u keeps the log argument in (0, 1].
            let u1 = 1.0 - rng.next_f64();
            let u2 = rng.next_f64();
            mu + sigma * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        }
        Dist::RandInt(lo, hi) => {
            let span = (hi - lo) as u64;
            (lo + (rng.next_u64() % span) as i64) as f64
        }
    }
}

fn make(
    name: &'static str,
    p: &Params,
    dist: Dist,
    default: DType,
) -> Result<std::sync::Arc<dyn super::Operator>> {
    let ctx: Context = p.ctx("ctx")?.unwrap_or_default();
    let dtype = p.dtype("dtype")?.unwrap_or(default);
    let shape = p.shape("shape")?;
    let mut op = FnOp::new(
        name,
        move |inputs| {
            expect_inputs(name, inputs, 0)?;
            Ok(vec![Desc::new(shape.clone(), dtype)])
        },
        move |cx, _, outs| {
            let o = &outs[0];
            let n = o.size();
            let seed = cx.seed;
            with_dtype!(o.dtype(), T, {
                // SAFETY: inside the op writing o.
                let po = unsafe { Ptr(o.raw() as *mut T) };
                par_ranges(n.div_ceil(BLOCK), BLOCK, |b, e| {
                    for blk in b..e {
                        let mut rng = Xoshiro::new(seed, blk as u64);
                        for i in blk * BLOCK..((blk + 1) * BLOCK).min(n) {
                            // SAFETY: i < n.
                            unsafe { *po.get().add(i) = T::from_f64(sample(dist, &mut rng)) }
                        }
                    }
                })
            });
            Ok(())
        },
    );
    op.ctx = Some(ctx);
    op.rng = true;
    Ok(op.arc())
}

pub fn register(r: &mut Registry) {
    let tail = || {
        vec![
            param(
                "shape",
                "Shape(tuple)",
                Some("None"),
                "Shape of the output.",
            ),
            param(
                "ctx",
                "string",
                Some("''"),
                "Context of output, in format [cpu|gpu|cpu_pinned](n).",
            ),
            param(
                "dtype",
                "{'None', 'float16', 'float32', 'float64'}",
                Some("'None'"),
                "DType of the output.",
            ),
        ]
    };
    let mut u = vec![
        param(
            "low",
            "float",
            Some("0"),
            "Lower bound of the distribution.",
        ),
        param(
            "high",
            "float",
            Some("1"),
            "Upper bound of the distribution.",
        ),
    ];
    u.extend(tail());
    r.add(SimpleDef {
        name: "_random_uniform",
        doc: "Draw random samples from a uniform distribution on [low, high).".into(),
        params: u,
        inputs: Inputs::Fixed(&[]),
        create: Box::new(|p| {
            let (lo, hi) = (p.float("low")?, p.float("high")?);
            if lo > hi {
                return Err(Error::param(
                    "_random_uniform",
                    format!("low ({lo}) must be <= high ({hi})"),
                ));
            }
            make("_random_uniform", p, Dist::Uniform(lo, hi), DType::F32)
        }),
    });
    let mut nrm = vec![
        param("loc", "float", Some("0"), "Mean of the distribution."),
        param(
            "scale",
            "float",
            Some("1"),
            "Standard deviation of the distribution.",
        ),
    ];
    nrm.extend(tail());
    r.add(SimpleDef {
        name: "_random_normal",
        doc: "Draw random samples from a normal (Gaussian) distribution.".into(),
        params: nrm,
        inputs: Inputs::Fixed(&[]),
        create: Box::new(|p| {
            let (mu, sigma) = (p.float("loc")?, p.float("scale")?);
            if sigma.is_nan() || sigma <= 0.0 {
                return Err(Error::param(
                    "_random_normal",
                    format!("scale parameter in gaussian has to be positive, got {sigma}"),
                ));
            }
            make("_random_normal", p, Dist::Normal(mu, sigma), DType::F32)
        }),
    });
    let mut ri = vec![
        param("low", "long", None, "Lower bound of the distribution."),
        param(
            "high",
            "long",
            None,
            "Upper bound (exclusive) of the distribution.",
        ),
    ];
    ri.extend(tail());
    r.add(SimpleDef {
        name: "_random_randint",
        doc: "Draw random integers uniformly from [low, high).".into(),
        params: ri,
        inputs: Inputs::Fixed(&[]),
        create: Box::new(|p| {
            let (lo, hi) = (p.int("low")?, p.int("high")?);
            if lo >= hi {
                return Err(Error::param(
                    "_random_randint",
                    format!("low ({lo}) must be < high ({hi})"),
                ));
            }
            make("_random_randint", p, Dist::RandInt(lo, hi), DType::I32)
        }),
    });
    r.alias("random_uniform", "_random_uniform");
    r.alias("uniform", "_random_uniform");
    r.alias("random_normal", "_random_normal");
    r.alias("normal", "_random_normal");
    r.alias("random_randint", "_random_randint");
}
