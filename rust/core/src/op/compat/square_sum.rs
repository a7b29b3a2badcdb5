//! `_square_sum`: sum(data ** 2) over `axis` (with `keepdims` and `exclude`), the fused
//! square-and-sum MXNet uses for row-sparse gradients. On dense arrays it is `sum` of the
//! squares, so it is configured as `sum` and feeds it the squares.

use crate::dtype::Element;
use crate::error::Result;
use crate::graph::Entry;
use crate::ndarray::NDArray;
use crate::op::params::param;
use crate::op::{registry, FnOp, GradArgs, Inputs, Registry, SimpleDef};

const OP: &str = "_square_sum";

fn squares(x: &NDArray) -> Result<NDArray> {
    let t = NDArray::empty(x.shape().clone(), x.dtype(), x.ctx())?;
    crate::with_dtype!(x.dtype(), T, {
        // SAFETY: inside the op reading x; t is private to this call.
        let (xs, ts) = unsafe { (x.data::<T>(), t.data_mut::<T>()) };
        for (o, v) in ts.iter_mut().zip(xs) {
            let v = v.to_f64();
            *o = T::from_f64(v * v);
        }
    });
    Ok(t)
}

pub(super) fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: OP,
        doc: "Computes the square sum of array elements over a given axis: sum(data ** 2, axis, keepdims, exclude). MXNet implements it for row_sparse input only (a fused square and sum for gradients); arrays here are dense, and `exclude` reduces the other axes as `sum` does.".into(),
        params: vec![
            param("axis", "Shape or None, optional", Some("None"), "The axis or axes along which to perform the reduction. The default, `axis=()`, will compute over all elements into a scalar array with shape `(1,)`. If `axis` is int, a reduction is performed on a particular axis. If `axis` is a tuple of ints, a reduction is performed on all the axes specified in the tuple. If `exclude` is true, reduction will be performed on the axes that are NOT in axis instead. Negative values means indexing from right to left."),
            param("keepdims", "boolean, optional", Some("0"), "If this is set to `True`, the reduced axes are left in the result as dimension with size one."),
            param("exclude", "boolean, optional", Some("0"), "Whether to perform reduction on axis that are NOT in axis instead."),
        ],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| {
            let attrs: Vec<(String, String)> = ["axis", "keepdims", "exclude"]
                .iter()
                .map(|k| Ok((k.to_string(), p.str(k)?.to_string())))
                .collect::<Result<_>>()?;
            let sum = registry().get("sum")?.create(&attrs)?;
            let (s1, s2) = (sum.clone(), sum);
            let op = FnOp::new(
                OP,
                move |ins| s1.infer(ins),
                move |cx, ins, outs| s2.forward(cx, &[squares(&ins[0])?], outs),
            );
            let s3 = registry().get("sum")?.create(&attrs)?;
            Ok(op
                .with_grad(move |g, a| {
                    // d/dx sum(x^2) = 2 x * (the head gradient spread back over the axes).
                    let spread = s3.gradient(
                        g,
                        &GradArgs {
                            node: a.node,
                            inputs: a.inputs,
                            outputs: a.outputs.clone(),
                            out_grads: a.out_grads,
                            needs: a.needs,
                        },
                    )?;
                    let Some(Some(spread)) = spread.into_iter().next() else {
                        return Ok(vec![None]);
                    };
                    let gx: Entry = g.mul(&spread, &a.inputs[0])?;
                    Ok(vec![Some(g.scale(&gx, 2.0)?)])
                })
                .arc())
        }),
    });
}
