//! `_sample_multinomial` (category draws from rows of probabilities, optionally with their log
//! probabilities) and `_shuffle` (a random permutation of the first axis).

use super::{fill_blocks, multisample::values};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::kernels::cpu::Ptr;
use crate::op::params::param;
use crate::op::{expect_inputs, Desc, FnOp, Inputs, Operator, Registry, SimpleDef};
use crate::random::Xoshiro;
use crate::with_dtype;
use std::sync::Arc;

const NAME: &str = "_sample_multinomial";

/// Rows of `data` as (row count, categories k), the draws per row and the output shape.
fn plan(data: &[usize], extra: &[usize]) -> Result<(usize, usize, usize, Vec<usize>)> {
    let Some((&k, lead)) = data.split_last() else {
        return Err(Error::shape(NAME, "data must have at least one dimension"));
    };
    if k == 0 {
        return Err(Error::shape(
            NAME,
            "data must have at least one category on its last axis, got 0",
        ));
    }
    let rows: usize = lead.iter().product();
    let per: usize = extra
        .iter()
        .product::<usize>()
        .max(usize::from(extra.is_empty()));
    let mut shape = lead.to_vec();
    shape.extend_from_slice(extra);
    if shape.is_empty() {
        // One distribution and no `shape`: MXNet still returns one draw as shape (1,).
        shape.push(1);
    }
    Ok((rows, k, per, shape))
}

/// Cumulative probabilities per row, normalized so rounding cannot leave a draw past the end;
/// refuses negative entries and rows whose sum is off 1 by more than `tol`.
fn cumulative(p: &[f64], k: usize, tol: f64) -> Result<Vec<f64>> {
    let mut cum = Vec::with_capacity(p.len());
    for (r, row) in p.chunks(k).enumerate() {
        if let Some(v) = row.iter().find(|v| !(**v >= 0.0 && v.is_finite())) {
            return Err(Error::param(
                NAME,
                format!("data: probabilities must be non-negative and finite, got {v} in row {r}"),
            ));
        }
        let sum: f64 = row.iter().sum();
        if (sum - 1.0).abs() > tol {
            return Err(Error::param(
                NAME,
                format!(
                    "data: probabilities must sum to 1 on the last axis, row {r} sums to {sum}"
                ),
            ));
        }
        let mut acc = 0.0;
        for v in row {
            acc += v / sum;
            cum.push(acc);
        }
    }
    Ok(cum)
}

/// The category whose CDF interval holds `u`; zero-probability categories are never chosen.
fn pick(cum: &[f64], u: f64) -> usize {
    let j = cum.partition_point(|&c| c <= u);
    if j < cum.len() {
        return j;
    }
    // u fell past a last CDF value rounded below 1: take the last category with mass.
    (0..cum.len())
        .rev()
        .find(|&i| i == 0 || cum[i] > cum[i - 1])
        .unwrap_or(0)
}

/// `_sample_multinomial` configured: `shape` draws per row, optional log-probability output.
fn multinomial_op(extra: Vec<usize>, get_prob: bool, dtype: DType) -> Arc<dyn Operator> {
    let mut op = FnOp::new(
        NAME,
        move |ins| {
            expect_inputs(NAME, ins, 1)?;
            let (_, k, _, shape) = plan(ins[0].shape.dims(), &extra)?;
            let limit = match dtype {
                DType::U8 => 256,
                DType::F16 => 2049,
                _ => usize::MAX,
            };
            if k > limit {
                return Err(Error::param(
                    NAME,
                    format!("dtype {dtype:?} cannot hold the indices of {k} categories"),
                ));
            }
            if !ins[0].dtype.is_float() {
                return Err(Error::dtype(
                    NAME,
                    format!("data must be a float array, got {:?}", ins[0].dtype),
                ));
            }
            let mut out = vec![Desc::new(shape.clone(), dtype)];
            if get_prob {
                out.push(Desc::new(shape, ins[0].dtype));
            }
            Ok(out)
        },
        move |cx, ins, outs| {
            let data = &ins[0];
            let (rows, k, _, _) = plan(data.shape().dims(), &[])?;
            let per = outs[0].size() / rows.max(1);
            if rows == 0 || per == 0 {
                return Ok(());
            }
            let tol = if data.dtype() == DType::F16 {
                1e-2
            } else {
                1e-3
            };
            let p = values(data);
            let cum = cumulative(&p, k, tol)?;
            let o = &outs[0];
            with_dtype!(o.dtype(), T, {
                // SAFETY: inside the op writing o.
                let po = unsafe { Ptr(o.raw() as *mut T) };
                fill_blocks(po, o.size(), cx.seed, |i, rng| {
                    let r = i / per;
                    pick(&cum[r * k..(r + 1) * k], rng.next_f64()) as f64
                });
            });
            if let Some(lp) = outs.get(1) {
                let idx = values(o);
                with_dtype!(lp.dtype(), T, {
                    // SAFETY: inside the op writing lp; one writer.
                    let dst = unsafe { lp.data_mut::<T>() };
                    for (i, (d, j)) in dst.iter_mut().zip(&idx).enumerate() {
                        *d = T::from_f64(p[(i / per) * k + *j as usize].ln());
                    }
                });
            }
            Ok(())
        },
    );
    op.num_outputs = if get_prob { 2 } else { 1 };
    op.rng = true;
    op.with_type_partial(crate::op::types_from_data(move |t| vec![dtype, t]))
        .with_grad(move |g, a| {
            let x = &a.inputs[0];
            if !get_prob {
                return Ok(vec![Some(g.zeros_like(x)?)]);
            }
            let r = g.apply(
                backward_op(),
                &[a.out_grads[1].clone(), x.clone(), a.outputs[0].clone()],
            );
            Ok(vec![Some(r[0].clone())])
        })
        .arc()
}

/// `_backward_sample_multinomial(ograd_prob, data, indices)`: d log p[idx] / dp = 1 / p[idx],
/// scattered back to the drawn category of each row.
fn backward_op() -> Arc<dyn Operator> {
    const BW: &str = "_backward_sample_multinomial";
    FnOp::new(
        BW,
        |ins| {
            expect_inputs(BW, ins, 3)?;
            Ok(vec![Desc::new(ins[1].shape.clone(), ins[1].dtype)])
        },
        |_, ins, outs| {
            let (og, p, idx) = (values(&ins[0]), values(&ins[1]), values(&ins[2]));
            let o = &outs[0];
            let k = ins[1].shape().dims().last().copied().unwrap_or(1).max(1);
            let per = (og.len() / (p.len() / k).max(1)).max(1);
            let mut g = vec![0.0; p.len()];
            for (i, (&gi, &j)) in og.iter().zip(&idx).enumerate() {
                let at = (i / per) * k + j as usize;
                if let Some(slot) = g.get_mut(at) {
                    *slot += gi / p[at];
                }
            }
            with_dtype!(o.dtype(), T, {
                // SAFETY: inside the op writing o; one writer.
                for (d, v) in unsafe { o.data_mut::<T>() }.iter_mut().zip(&g) {
                    *d = T::from_f64(*v);
                }
            });
            Ok(())
        },
    )
    .arc()
}

/// `_shuffle`: rows of the first axis in a random order.
fn shuffle_op() -> Arc<dyn Operator> {
    const SH: &str = "_shuffle";
    let mut op = FnOp::new(
        SH,
        |ins| {
            expect_inputs(SH, ins, 1)?;
            Ok(vec![ins[0].clone()])
        },
        |cx, ins, outs| {
            let (x, o) = (&ins[0], &outs[0]);
            if x.size() == 0 {
                return Ok(());
            }
            let rows = x.shape().dims().first().copied().unwrap_or(1).max(1);
            let len = x.size() / rows;
            // Fisher-Yates from one stream: a permutation cannot be split into blocks.
            let mut rng = Xoshiro::new(cx.seed, 0);
            let mut perm: Vec<usize> = (0..rows).collect();
            for i in (1..rows).rev() {
                let j = (rng.next_u64() % (i as u64 + 1)) as usize;
                perm.swap(i, j);
            }
            with_dtype!(x.dtype(), T, {
                // SAFETY: inside the op reading x and writing o (distinct arrays).
                let (src, dst) = unsafe { (x.data::<T>(), o.data_mut::<T>()) };
                for (r, &from) in perm.iter().enumerate() {
                    dst[r * len..(r + 1) * len].copy_from_slice(&src[from * len..(from + 1) * len]);
                }
            });
            Ok(())
        },
    );
    op.rng = true;
    op.arc()
}

/// Registers `_sample_multinomial` and `_shuffle` with their aliases.
pub fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: NAME,
        doc: "Concurrent sampling from multiple multinomial distributions. *data* is an n dimensional \
              array whose last dimension has length k, the number of possible outcomes of each \
              distribution; `shape` samples are drawn from each (one when shape is empty). If \
              *get_prob* is true, a second array holds the log likelihood of the drawn samples; \
              its gradient is 1/p at the drawn category, for estimating gradients through \
              stochastic choices (e.g. reinforcement learning)."
            .into(),
        params: vec![
            super::SAMPLE_SHAPE,
            param(
                "get_prob",
                "boolean",
                Some("0"),
                "Whether to also return the log probability of sampled result. This is usually used for differentiating through stochastic variables, e.g. in reinforcement learning.",
            ),
            param(
                "dtype",
                "{'float16', 'float32', 'float64', 'int32', 'uint8'}",
                Some("'int32'"),
                "DType of the output in case this can't be inferred.",
            ),
        ],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| {
            const DTYPES: &[DType] = &[DType::F16, DType::F32, DType::F64, DType::I32, DType::U8];
            let dtype = super::draw_dtype(NAME, p, DTYPES, DType::I32)?;
            Ok(multinomial_op(p.shape("shape")?, p.bool("get_prob")?, dtype))
        }),
    });
    r.add(SimpleDef {
        name: "_shuffle",
        doc: "Randomly shuffle the elements along the first axis: the order of the subarrays \
              changes, the order of the elements within each does not."
            .into(),
        params: vec![],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|_| Ok(shuffle_op())),
    });
    r.alias("sample_multinomial", NAME);
    r.alias("shuffle", "_shuffle");
}
