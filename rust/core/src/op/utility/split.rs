//! `_split_v2(data, indices | sections, axis, squeeze_axis)`: numpy-style split at the start
//! `indices` (the first is 0), or into `sections` equal parts; `mx.nd.split_v2` builds the
//! indices from `indices_or_sections`. The gradient concatenates the output gradients.

use crate::error::{Error, Result};
use crate::ndarray::NDArray;
use crate::op::params::param;
use crate::op::{expect_inputs, Desc, FnOp, Inputs, Operator, Registry, SimpleDef};
use crate::shape::{norm_axis, Shape};
use crate::with_dtype;
use std::sync::Arc;

const OP: &str = "_split_v2";

/// (begin, end) of each part along an axis of length `n`.
fn parts(indices: &[i64], sections: usize, n: usize) -> Result<Vec<(usize, usize)>> {
    if sections > 0 {
        if !n.is_multiple_of(sections) {
            return Err(Error::shape(
                OP,
                format!("the axis of length {n} cannot be split into {sections} equal sections"),
            ));
        }
        let w = n / sections;
        return Ok((0..sections).map(|k| (k * w, (k + 1) * w)).collect());
    }
    if indices.first().is_some_and(|&b| b != 0) {
        // The parts must cover the axis, or the gradient would have nowhere to go.
        return Err(Error::shape(
            OP,
            format!("indices {indices:?} must start at 0 (split_v2 adds it)"),
        ));
    }
    let mut v = Vec::with_capacity(indices.len());
    for (k, &b) in indices.iter().enumerate() {
        let e = indices.get(k + 1).copied().unwrap_or(n as i64);
        if b < 0 || e < b || e > n as i64 {
            return Err(Error::shape(
                OP,
                format!(
                    "indices {indices:?} must be non-decreasing and within the axis length {n}"
                ),
            ));
        }
        v.push((b as usize, e as usize));
    }
    Ok(v)
}

fn make(indices: Vec<i64>, sections: usize, axis: i64, squeeze: bool) -> Arc<dyn Operator> {
    let count = if sections > 0 {
        sections
    } else {
        indices.len()
    };
    let indices2 = indices.clone();
    let mut op = FnOp::new(
        OP,
        move |ins| {
            expect_inputs(OP, ins, 1)?;
            let s = &ins[0].shape;
            let ax = norm_axis(axis, s.ndim(), OP)?;
            let mut out = Vec::with_capacity(count);
            for (b, e) in parts(&indices, sections, s[ax])? {
                let mut d = s.dims().to_vec();
                d[ax] = e - b;
                if squeeze {
                    if e - b != 1 {
                        return Err(Error::shape(
                            OP,
                            format!(
                                "squeeze_axis needs parts of size 1 along axis {axis}, got {}",
                                e - b
                            ),
                        ));
                    }
                    d.remove(ax);
                }
                out.push(Desc::new(Shape::new(d), ins[0].dtype));
            }
            Ok(out)
        },
        move |_, ins, outs| {
            let s = ins[0].shape();
            let ax = norm_axis(axis, s.ndim(), OP)?;
            let d = s.dims();
            let (outer, n, inner): (usize, usize, usize) = (
                d[..ax].iter().product(),
                d[ax],
                d[ax + 1..].iter().product(),
            );
            for ((b, e), o) in parts(&indices2, sections, n)?.into_iter().zip(outs) {
                copy_part(&ins[0], o, outer, n, inner, b, e);
            }
            Ok(())
        },
    );
    op.num_outputs = count;
    op.with_grad(move |g, a| {
        let mut grads = Vec::with_capacity(a.out_grads.len());
        for og in a.out_grads {
            grads.push(if squeeze {
                g.op1(
                    "expand_dims",
                    &[("axis", &axis.to_string())],
                    std::slice::from_ref(og),
                )?
            } else {
                og.clone()
            });
        }
        let c = g.op1(
            "Concat",
            &[
                ("num_args", &grads.len().to_string()),
                ("dim", &axis.to_string()),
            ],
            &grads,
        )?;
        Ok(vec![Some(c)])
    })
    .arc()
}

fn copy_part(
    src: &NDArray,
    dst: &NDArray,
    outer: usize,
    n: usize,
    inner: usize,
    b: usize,
    e: usize,
) {
    let w = (e - b) * inner;
    with_dtype!(src.dtype(), T, {
        // SAFETY: inside the op reading src and writing dst (a fresh output).
        let (s, d) = unsafe { (src.data::<T>(), dst.data_mut::<T>()) };
        for o in 0..outer {
            let from = (o * n + b) * inner;
            d[o * w..(o + 1) * w].copy_from_slice(&s[from..from + w]);
        }
    })
}

pub fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: OP,
        doc: "Splits an array along an axis at the start indices `indices` (the first is 0), or into `sections` equal parts; `squeeze_axis` drops the split axis from parts of size 1.".into(),
        params: vec![
            param("indices", "Shape(tuple)", None, "Indices of splits. The elements should denote the boundaries of at which split is performed along the `axis`."),
            param("axis", "int", Some("1"), "Axis along which to split."),
            param("squeeze_axis", "boolean", Some("False"), "If true, Removes the axis with length 1 from the shapes of the output arrays. **Note** that setting `squeeze_axis` to ``true`` removes axis with length 1 only along the `axis` which it is split. Also `squeeze_axis` can be set to ``true`` only if ``input.shape[axis] == num_outputs``."),
            param("sections", "int", Some("0"), "Number of sections if equally splitted. Default to 0 which means split by indices."),
        ],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| {
            let indices = p.ints("indices")?;
            let sections = p.int("sections")?;
            let sections = usize::try_from(sections)
                .map_err(|_| Error::param(OP, format!("sections must be non-negative, got {sections}")))?;
            if sections == 0 && indices.is_empty() {
                return Err(Error::param(OP, "needs indices or a positive sections"));
            }
            Ok(make(indices, sections, p.int("axis")?, p.bool("squeeze_axis")?))
        }),
    });
}
