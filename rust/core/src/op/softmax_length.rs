//! `softmax(data, length, use_length=True)`: each softmax column covers only its first
//! `length` entries along the axis (clamped to the axis size); the rest of the column is 0, a
//! length of 0 gives an all-zero column. The output being 0 where masked, the unmasked
//! backward `y (g - sum(g y)) / t` already gives those entries a zero gradient.

use super::{expect_inputs, Desc, FnOp, Operator};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::{read_f64, write_f64};
use crate::shape::{norm_axis, Shape};
use std::sync::Arc;

const OP: &str = "softmax";

/// (outer, n, inner) around the axis, after checking `length`'s shape.
fn dims(axis: i64, data: &Shape, length: &Shape) -> Result<(usize, usize, usize)> {
    if data.ndim() == 0 {
        return Err(Error::shape(
            OP,
            "expects an input with at least one dimension, got shape []",
        ));
    }
    let ax = norm_axis(axis, data.ndim(), OP)?;
    let d = data.dims();
    let mut want = d.to_vec();
    want.remove(ax);
    if length.dims() != want.as_slice() {
        return Err(Error::shape(
            OP,
            format!(
                "length must have the data's shape without axis {axis}: expected {}, got {} (data {data})",
                Shape::new(want),
                length
            ),
        ));
    }
    Ok((
        d[..ax].iter().product(),
        d[ax],
        d[ax + 1..].iter().product(),
    ))
}

/// The configured `softmax` with a `length` input; `grad` is the unmasked rule.
pub(super) fn length_op(
    axis: i64,
    temperature: f64,
    dtype: Option<DType>,
    grad: super::GradFn,
) -> Arc<dyn Operator> {
    let mut op = FnOp::new(
        OP,
        move |ins| {
            expect_inputs(OP, ins, 2)?;
            let (d, l) = (&ins[0], &ins[1]);
            if !d.dtype.is_float() {
                return Err(Error::dtype(
                    OP,
                    format!(
                        "expects a float input (float16, float32 or float64), got {}",
                        d.dtype
                    ),
                ));
            }
            dims(axis, &d.shape, &l.shape)?;
            Ok(vec![Desc::new(d.shape.clone(), dtype.unwrap_or(d.dtype))])
        },
        move |_, ins, outs| {
            // Checked here, not at inference: graph shape inference runs before the length's
            // dtype is known.
            if ins[1].dtype().is_float() {
                return Err(Error::dtype(
                    OP,
                    format!(
                        "length must have an integer dtype (it only supports integer types), got {}",
                        ins[1].dtype()
                    ),
                ));
            }
            let (outer, n, inner) = dims(axis, ins[0].shape(), ins[1].shape())?;
            let (x, len) = (read_f64(&ins[0]), read_f64(&ins[1]));
            let mut y = vec![0.0; x.len()];
            for o in 0..outer {
                for i in 0..inner {
                    let at = |j: usize| (o * n + j) * inner + i;
                    let l = len[o * inner + i].clamp(0.0, n as f64) as usize;
                    let m = (0..l)
                        .map(|j| x[at(j)] / temperature)
                        .fold(f64::NEG_INFINITY, f64::max);
                    let s: f64 = (0..l).map(|j| (x[at(j)] / temperature - m).exp()).sum();
                    for j in 0..l {
                        y[at(j)] = (x[at(j)] / temperature - m).exp() / s;
                    }
                }
            }
            write_f64(&outs[0], &y);
            Ok(())
        },
    );
    op.shape_partial = Some(Box::new(move |ins, outs| {
        let known = ins[0].clone().or_else(|| outs[0].clone());
        if let Some(d) = known.filter(|d| d.ndim() > 0) {
            if ins[1].is_none() {
                let ax = norm_axis(axis, d.ndim(), OP)?;
                let mut l = d.dims().to_vec();
                l.remove(ax);
                ins[1] = Some(Shape::new(l));
            }
            ins[0].get_or_insert_with(|| d.clone());
            outs[0].get_or_insert(d);
        }
        Ok(())
    }));
    op.type_partial = Some(Box::new(move |ins, outs| {
        // An unbound length defaults to int32, as a float length cannot run.
        ins[1].get_or_insert(DType::I32);
        if let Some(d) = ins[0] {
            match outs[0] {
                None => outs[0] = Some(dtype.unwrap_or(d)),
                Some(o) if dtype.is_none() && o != d => {
                    return Err(Error::dtype(
                        OP,
                        format!("data is {d} but the output is {o}"),
                    ))
                }
                _ => {}
            }
        } else {
            // MXNet types unknown data from the output (with `dtype`, from it).
            ins[0] = dtype.or(outs[0]);
        }
        if let (Some(d), None) = (dtype, outs[0]) {
            outs[0] = Some(d);
        }
        Ok(())
    }));
    op.grad = Some(Box::new(move |g, a| {
        let mut r = grad(g, a)?;
        r.push(None);
        Ok(r)
    }));
    op.arc()
}
