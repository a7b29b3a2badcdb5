//! Random sampling ops: `_random_*` (parameters as attributes), `_sample_*` (parameters as
//! arrays), `_sample_multinomial` and `_shuffle`. Each call draws a sub-seed at push time;
//! blocks of `BLOCK` output elements get their own stream from it, so results are the same
//! whatever the thread count.

pub(crate) mod dists;
mod multinomial;
mod multisample;
mod pdf;
mod unique_zipfian;

use super::params::{param, ParamSpec};
use super::{expect_inputs, Desc, FnOp, Inputs, Params, Registry, SimpleDef};
use crate::context::Context;
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::kernels::cpu::elemwise::map_slice;
use crate::kernels::cpu::{par_ranges, Ptr};
use crate::random::{Xoshiro, Xoshiro4};
use crate::with_dtype;
use dists::{check, randint, sample, std_normal_f32, uniform, Dist};

/// Output elements per independent stream.
pub(crate) const BLOCK: usize = 4096;

/// `shape` of the ops that draw per parameter element (`_sample_*`, multinomial).
const SAMPLE_SHAPE: ParamSpec = param(
    "shape",
    "Shape(tuple)",
    Some("[]"),
    "Shape to be sampled from each random distribution.",
);

/// Fills `n` elements at `po` with `draw(i, rng)`, one stream per block of `BLOCK` elements.
fn fill_blocks<T: Element>(
    po: Ptr<T>,
    n: usize,
    seed: u64,
    draw: impl Fn(usize, &mut Xoshiro) -> f64 + Sync + Send,
) {
    par_ranges(n.div_ceil(BLOCK), BLOCK, |b, e| {
        for blk in b..e {
            let mut rng = Xoshiro::new(seed, blk as u64);
            for i in blk * BLOCK..((blk + 1) * BLOCK).min(n) {
                // SAFETY: i < n and each block is written by one task only.
                unsafe { *po.get().add(i) = T::from_f64(draw(i, &mut rng)) }
            }
        }
    })
}

/// Fills `n` elements at `po` with `f` of each 64-bit draw: the values of `fill_blocks` for a
/// draw that takes one number, with four blocks' streams stepped together.
pub(crate) fn fill_draws<T: Copy>(po: Ptr<T>, n: usize, seed: u64, f: impl Fn(u64) -> T + Sync) {
    const L: usize = Xoshiro4::LANES;
    /// Draws generated per lane before they are mapped (16 KiB in all, in L1).
    const CHUNK: usize = 512;
    par_ranges(n.div_ceil(BLOCK), BLOCK, |b, e| {
        let mut blk = b;
        while blk + L <= e && (blk + L) * BLOCK <= n {
            let mut g = Xoshiro4::new(seed, blk as u64);
            let mut cols = [[0u64; CHUNK]; L];
            for j in (0..BLOCK).step_by(CHUNK) {
                g.fill(&mut cols);
                for (l, c) in cols.iter().enumerate() {
                    // SAFETY: block blk + l lies below n and belongs to this task only.
                    let out = unsafe {
                        std::slice::from_raw_parts_mut(po.get().add((blk + l) * BLOCK + j), CHUNK)
                    };
                    // Called directly (a `&f` argument goes through a shim that stays a call).
                    #[allow(clippy::redundant_closure)]
                    map_slice(
                        c,
                        out,
                        #[inline(always)]
                        |r| f(r),
                    );
                }
            }
            blk += L;
        }
        for blk in blk..e {
            let mut rng = Xoshiro::new(seed, blk as u64);
            for i in blk * BLOCK..((blk + 1) * BLOCK).min(n) {
                // SAFETY: i < n and each block is written by one task only.
                unsafe { *po.get().add(i) = f(rng.next_u64()) }
            }
        }
    })
}

/// Fills `n` elements at `po` with draws of `dist`.
fn fill_dist<T: Element>(po: Ptr<T>, n: usize, seed: u64, dist: Dist) {
    match dist {
        Dist::Uniform(lo, hi) => fill_draws(po, n, seed, move |r| T::from_f64(uniform(lo, hi, r))),
        Dist::RandInt(lo, hi) => fill_draws(po, n, seed, move |r| T::from_f64(randint(lo, hi, r))),
        Dist::Normal(mu, sigma) if std::mem::size_of::<T>() <= 4 && T::DTYPE.is_float() => {
            let (mu, sigma) = (mu as f32, sigma as f32);
            fill_draws(
                po,
                n,
                seed,
                // Inlined into the map's loop, which then vectorises (too large otherwise).
                #[inline(always)]
                move |r| T::from_f32(mu + sigma * std_normal_f32(r)),
            )
        }
        _ => fill_blocks(po, n, seed, |_, rng| sample(dist, rng)),
    }
}

/// The dtypes of the real-valued draws, and of `_random_randint`'s.
pub(crate) const FLOATS: &[DType] = &[DType::F16, DType::F32, DType::F64];
const INTS: &[DType] = &[DType::I32, DType::I64];

/// The `dtype` parameter, which must be one of `allowed`; `default` when unset.
pub(crate) fn draw_dtype(
    name: &str,
    p: &Params,
    allowed: &[DType],
    default: DType,
) -> Result<DType> {
    match p.dtype("dtype")? {
        None => Ok(default),
        Some(d) if allowed.contains(&d) => Ok(d),
        Some(d) => Err(Error::param(
            name,
            format!(
                "dtype must be one of {}, got {d}",
                allowed
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// A `_random_*` op: no inputs, `shape` draws of one validated distribution.
fn make(
    name: &'static str,
    p: &Params,
    dist: Dist,
    allowed: &'static [DType],
    default: DType,
) -> Result<std::sync::Arc<dyn super::Operator>> {
    let ctx: Context = p.ctx("ctx")?.unwrap_or_default();
    let dtype = draw_dtype(name, p, allowed, default)?;
    let unset = p.dtype("dtype")?.is_none();
    // Left out (MXNet's default) or `()`: unknown, taken from `out=` or, in a graph, from
    // the consumers; a call with neither draws one 0-d value.
    let shape = match p.str("shape")?.trim() {
        "None" => Vec::new(),
        _ => p.shape("shape")?,
    };
    let unknown = shape.is_empty();
    let mut op = FnOp::new(
        name,
        move |inputs| {
            expect_inputs(name, inputs, 0)?;
            // Checked here, not when the op is made: a call fails at once, while a symbol
            // holding such parameters builds and loads from JSON, as in MXNet (which fails
            // at forward; oxnet when it infers shapes, at bind at the latest).
            check(dist).map_err(|m| Error::param(name, m))?;
            Ok(vec![Desc::new(shape.clone(), dtype)])
        },
        move |cx, _, outs| {
            let o = &outs[0];
            with_dtype!(o.dtype(), T, {
                // SAFETY: inside the op writing o.
                let po = unsafe { Ptr(o.raw() as *mut T) };
                fill_dist(po, o.size(), cx.seed, dist);
            });
            Ok(())
        },
    );
    op.ctx = Some(ctx);
    op.rng = true;
    // As MXNet: an unset dtype is out='s when out= is given.
    op.dtype_from_out = unset.then_some(allowed);
    op.shape_from_out = unknown;
    Ok(op.arc())
}

/// `shape`, `ctx`, `dtype` of the `_random_*` ops; `dtypes` is the dtype enum.
fn tail(dtypes: &'static str) -> Vec<ParamSpec> {
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
            dtypes,
            Some("'None'"),
            "DType of the output in case this can't be inferred. Defaults to float32 if not defined (dtype=None).",
        ),
    ]
}

/// Registers a `_random_*` op with parameters `params` and the distribution `dist` builds.
fn add_random(
    r: &mut Registry,
    name: &'static str,
    doc: &str,
    mut params: Vec<ParamSpec>,
    dist: fn(&Params) -> Result<Dist>,
) {
    let like: &'static str = Box::leak(format!("{name}_like").into_boxed_str());
    r.add(SimpleDef {
        name: like,
        doc: format!(
            "{doc} The output has the shape and dtype of `data`, whose values are not read."
        ),
        params: params.clone(),
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(move |p| make_like(like, dist(p)?)),
    });
    params.extend(tail("{'None', 'float16', 'float32', 'float64'}"));
    r.add(SimpleDef {
        name,
        doc: doc.into(),
        params,
        inputs: Inputs::Fixed(&[]),
        create: Box::new(move |p| make(name, p, dist(p)?, FLOATS, DType::F32)),
    });
}

/// A `_random_*_like` op: draws shaped and typed like its input.
fn make_like(name: &'static str, dist: Dist) -> Result<std::sync::Arc<dyn super::Operator>> {
    let mut op = FnOp::new(
        name,
        move |inputs| {
            expect_inputs(name, inputs, 1)?;
            check(dist).map_err(|m| Error::param(name, m))?; // as in `make`
            if !inputs[0].dtype.is_float() {
                return Err(Error::dtype(
                    name,
                    format!(
                        "data must have a float dtype (float16, float32 or float64), got {}",
                        inputs[0].dtype
                    ),
                ));
            }
            Ok(vec![inputs[0].clone()])
        },
        move |cx, _, outs| {
            let o = &outs[0];
            with_dtype!(o.dtype(), T, {
                // SAFETY: inside the op writing o.
                let po = unsafe { Ptr(o.raw() as *mut T) };
                fill_dist(po, o.size(), cx.seed, dist);
            });
            Ok(())
        },
    );
    op.rng = true;
    op.shape_partial = Some(Box::new(crate::graph::infer::same_shape_partial));
    // The draws do not depend on the values of data.
    Ok(op
        .with_grad(|g, a| Ok(vec![Some(g.zeros_like(&a.inputs[0])?)]))
        .arc())
}

/// Registers the sampling ops and their MXNet aliases.
pub fn register(r: &mut Registry) {
    add_random(
        r,
        "_random_uniform",
        "Draw random samples from a uniform distribution on [low, high).",
        vec![
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
        ],
        |p| Ok(Dist::Uniform(p.float("low")?, p.float("high")?)),
    );
    add_random(
        r,
        "_random_normal",
        "Draw random samples from a normal (Gaussian) distribution.",
        vec![
            param("loc", "float", Some("0"), "Mean of the distribution."),
            param(
                "scale",
                "float",
                Some("1"),
                "Standard deviation of the distribution.",
            ),
        ],
        |p| Ok(Dist::Normal(p.float("loc")?, p.float("scale")?)),
    );
    let mut ri = vec![
        param("low", "long", None, "Lower bound of the distribution."),
        param(
            "high",
            "long",
            None,
            "Upper bound (exclusive) of the distribution.",
        ),
    ];
    ri.extend(tail("{'None', 'int32', 'int64'}"));
    r.add(SimpleDef {
        name: "_random_randint",
        doc: "Draw random integers uniformly from [low, high).".into(),
        params: ri,
        inputs: Inputs::Fixed(&[]),
        create: Box::new(|p| {
            let d = Dist::RandInt(p.int("low")?, p.int("high")?);
            make("_random_randint", p, d, INTS, DType::I32)
        }),
    });
    add_random(
        r,
        "_random_exponential",
        "Draw random samples from an exponential distribution parametrized by *lambda* (rate).",
        vec![param(
            "lam",
            "float",
            Some("1"),
            "Lambda parameter (rate) of the exponential distribution.",
        )],
        |p| Ok(Dist::Exponential(p.float("lam")?)),
    );
    add_random(
        r,
        "_random_gamma",
        "Draw random samples from a gamma distribution parametrized by *alpha* (shape) and *beta* (scale).",
        vec![
            param("alpha", "float", Some("1"), "Alpha parameter (shape) of the gamma distribution."),
            param("beta", "float", Some("1"), "Beta parameter (scale) of the gamma distribution."),
        ],
        |p| Ok(Dist::Gamma(p.float("alpha")?, p.float("beta")?)),
    );
    add_random(
        r,
        "_random_poisson",
        "Draw random samples from a Poisson distribution parametrized by *lambda* (rate). \
         Samples are always returned as a floating point data type.",
        vec![param(
            "lam",
            "float",
            Some("1"),
            "Lambda parameter (rate) of the Poisson distribution.",
        )],
        |p| Ok(Dist::Poisson(p.float("lam")?)),
    );
    add_random(
        r,
        "_random_negative_binomial",
        "Draw random samples from a negative binomial distribution parametrized by *k* (limit of \
         unsuccessful experiments) and *p* (failure probability in each experiment). Samples are \
         always returned as a floating point data type.",
        vec![
            param("k", "int", Some("1"), "Limit of unsuccessful experiments."),
            param(
                "p",
                "float",
                Some("1"),
                "Failure probability in each experiment.",
            ),
        ],
        |p| Ok(Dist::NegBinomial(p.int("k")? as f64, p.float("p")?)),
    );
    add_random(
        r,
        "_random_generalized_negative_binomial",
        "Draw random samples from a generalized negative binomial distribution parametrized by \
         *mu* (mean) and *alpha* (dispersion, 1/k). Samples are always returned as a floating \
         point data type.",
        vec![
            param(
                "mu",
                "float",
                Some("1"),
                "Mean of the negative binomial distribution.",
            ),
            param(
                "alpha",
                "float",
                Some("1"),
                "Alpha (dispersion) parameter of the negative binomial distribution.",
            ),
        ],
        |p| Ok(Dist::GenNegBinomial(p.float("mu")?, p.float("alpha")?)),
    );
    for (alias, target) in [
        ("random_uniform", "_random_uniform"),
        ("uniform", "_random_uniform"),
        ("random_normal", "_random_normal"),
        ("normal", "_random_normal"),
        ("random_randint", "_random_randint"),
        ("random_exponential", "_random_exponential"),
        ("random_gamma", "_random_gamma"),
        ("random_poisson", "_random_poisson"),
        ("random_negative_binomial", "_random_negative_binomial"),
        (
            "random_generalized_negative_binomial",
            "_random_generalized_negative_binomial",
        ),
    ] {
        r.alias(alias, target);
    }
    multisample::register(r);
    pdf::register(r);
    multinomial::register(r);
    unique_zipfian::register(r);
}
