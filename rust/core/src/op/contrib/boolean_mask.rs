//! `_contrib_boolean_mask(data, index, axis)`: the slices of `data` along `axis` whose `index`
//! entry is non-zero. The output shape depends on the values of `index`, so `mx.nd` computes it
//! at the call (waiting for `index`, as MXNet does), graph shape inference reports that it
//! cannot be known statically, and a bound graph learns it when it runs. The gradient scatters the head gradient back to the kept
//! slices (zero elsewhere); `index` gets none.

use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::graph::{Entry, GradBuilder};
use crate::ndarray::NDArray;
use crate::op::params::param;
use crate::op::{expect_inputs, Desc, FnOp, GradArgs, Inputs, Operator, Registry, SimpleDef};
use crate::shape::{norm_axis, Shape};
use crate::with_dtype;
use std::sync::Arc;

const OP: &str = "_contrib_boolean_mask";
const BACKWARD: &str = "_backward_contrib_boolean_mask";

/// (outer, n, inner) around the axis, after checking `index`'s shape.
fn dims(op: &str, axis: i64, data: &Shape, index: &Shape) -> Result<(usize, usize, usize)> {
    if data.ndim() == 0 {
        return Err(Error::shape(
            op,
            "data must have at least one dimension, got shape []",
        ));
    }
    let ax = norm_axis(axis, data.ndim(), op)?;
    let d = data.dims();
    if index.ndim() != 1 || index[0] != d[ax] {
        return Err(Error::shape(
            op,
            format!(
                "index must be 1-D with data.shape[{axis}] = {} entries, got {index} (data {data})",
                d[ax]
            ),
        ));
    }
    Ok((
        d[..ax].iter().product(),
        d[ax],
        d[ax + 1..].iter().product(),
    ))
}

/// Positions along the axis whose index entry is non-zero. Call where `index` is readable.
fn kept(index: &NDArray) -> Vec<usize> {
    with_dtype!(index.dtype(), T, {
        // SAFETY: the caller reads index (inside an op, or after waiting for it).
        unsafe { index.data::<T>() }
            .iter()
            .enumerate()
            .filter(|(_, v)| v.to_f64() != 0.0)
            .map(|(i, _)| i)
            .collect()
    })
}

/// Copies slices between `data`-shaped `full` and the masked `part` (either direction).
fn copy_slices(
    full: &NDArray,
    part: &NDArray,
    keep: &[usize],
    d: (usize, usize, usize),
    scatter: bool,
) {
    let (outer, n, inner) = d;
    let k = keep.len();
    with_dtype!(full.dtype(), T, {
        if scatter {
            // SAFETY: inside the op reading part and writing full (fresh, not aliased).
            let (src, dst) = unsafe { (part.data::<T>(), full.data_mut::<T>()) };
            dst.fill(T::default());
            for o in 0..outer {
                for (j, &i) in keep.iter().enumerate() {
                    let (a, b) = ((o * n + i) * inner, (o * k + j) * inner);
                    dst[a..a + inner].copy_from_slice(&src[b..b + inner]);
                }
            }
        } else {
            // SAFETY: inside the op reading full and writing part (fresh, not aliased).
            let (src, dst) = unsafe { (full.data::<T>(), part.data_mut::<T>()) };
            for o in 0..outer {
                for (j, &i) in keep.iter().enumerate() {
                    let (a, b) = ((o * n + i) * inner, (o * k + j) * inner);
                    dst[b..b + inner].copy_from_slice(&src[a..a + inner]);
                }
            }
        }
    })
}

struct BooleanMask {
    axis: i64,
}

impl Operator for BooleanMask {
    fn name(&self) -> &'static str {
        OP
    }
    fn infer(&self, inputs: &[Desc]) -> Result<Vec<Desc>> {
        expect_inputs(OP, inputs, 2)?;
        dims(OP, self.axis, &inputs[0].shape, &inputs[1].shape)?;
        Err(Error::shape(
            OP,
            "the output shape depends on the values of index, so it is known only when the op \
             runs (on arrays, or in a graph bound with bind: not before its forward)",
        ))
    }
    fn shape_needs_values(&self) -> bool {
        true
    }
    fn infer_values(&self, inputs: &[NDArray]) -> Option<Result<Vec<Desc>>> {
        let run = || -> Result<Vec<Desc>> {
            if inputs.len() != 2 {
                return Err(Error::Value(format!(
                    "operator {OP} takes 2 input(s), {} given",
                    inputs.len()
                )));
            }
            let (data, index) = (&inputs[0], &inputs[1]);
            dims(OP, self.axis, data.shape(), index.shape())?;
            index.wait_to_read()?;
            let ax = norm_axis(self.axis, data.ndim(), OP)?;
            let mut s = data.shape().dims().to_vec();
            s[ax] = kept(index).len();
            Ok(vec![Desc::new(Shape::new(s), data.dtype())])
        };
        Some(run())
    }
    fn forward(&self, _: &crate::op::OpCtx, ins: &[NDArray], outs: &[NDArray]) -> Result<()> {
        let d = dims(OP, self.axis, ins[0].shape(), ins[1].shape())?;
        let keep = kept(&ins[1]);
        copy_slices(&ins[0], &outs[0], &keep, d, false);
        Ok(())
    }
    fn infer_type_partial(
        &self,
        inputs: &mut [Option<crate::dtype::DType>],
        outputs: &mut [Option<crate::dtype::DType>],
    ) -> Result<()> {
        let (mut a, mut o) = ([inputs[0]], [outputs[0]]);
        crate::op::unify_types(OP, &mut a, &mut o)?;
        (inputs[0], outputs[0]) = (a[0], o[0]);
        Ok(())
    }
    fn gradient(&self, g: &mut GradBuilder, a: &GradArgs) -> Result<Vec<Option<Entry>>> {
        let r = g.apply(
            backward_op(self.axis),
            &[
                a.out_grads[0].clone(),
                a.inputs[0].clone(),
                a.inputs[1].clone(),
            ],
        );
        Ok(vec![Some(r[0].clone()), None])
    }
}

/// `(og, data, index)` -> the data-shaped gradient.
fn backward_op(axis: i64) -> Arc<dyn Operator> {
    FnOp::new(
        BACKWARD,
        move |ins| {
            expect_inputs(BACKWARD, ins, 3)?;
            dims(BACKWARD, axis, &ins[1].shape, &ins[2].shape)?;
            Ok(vec![Desc::new(ins[1].shape.clone(), ins[0].dtype)])
        },
        move |_, ins, outs| {
            let d = dims(BACKWARD, axis, ins[1].shape(), ins[2].shape())?;
            let keep = kept(&ins[2]);
            if ins[0].size() != d.0 * keep.len() * d.2 {
                return Err(Error::shape(
                    BACKWARD,
                    format!(
                        "head gradient {} does not match the {} kept slices",
                        ins[0].shape(),
                        keep.len()
                    ),
                ));
            }
            copy_slices(&outs[0], &ins[0], &keep, d, true);
            Ok(())
        },
    )
    .with_grad(move |g, a| {
        let m = g.op1(
            OP,
            &[("axis", &axis.to_string())],
            &[a.out_grads[0].clone(), a.inputs[2].clone()],
        )?;
        Ok(vec![Some(m), None, None])
    })
    .arc()
}

pub fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: OP,
        doc: "Given an n-d data array and a 1-d index array, returns the slices of data along axis whose index entry is non-zero (the output shape is known only when the op runs).".into(),
        params: vec![param("axis", "int", Some("0"), "An integer that represents the axis in NDArray to mask from.")],
        inputs: Inputs::Fixed(&["data", "index"]),
        create: Box::new(|p| Ok(Arc::new(BooleanMask { axis: p.int("axis")? }))),
    });
}
