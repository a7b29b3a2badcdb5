//! Training utilities MXNet 1.9.1 registers as operators: the finiteness checks
//! (`all_finite`, `multi_all_finite`), `multi_sum_sq`, the mixed-precision casts
//! (`amp_cast`, `amp_multicast`), `cumsum` and `_histogram`.

mod scan;
mod split;

use super::params::param;
use super::{expect_inputs, Desc, FnOp, Inputs, Registry, SimpleDef};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::{read_f64, write_f64};
use crate::shape::Shape;

/// Count of a variadic op's inputs, from its count parameter.
fn count(op: &str, p: &super::Params, name: &str) -> Result<usize> {
    let n = p.int(name)?;
    usize::try_from(n)
        .ok()
        .filter(|&n| n >= 1)
        .ok_or_else(|| Error::param(op, format!("{name} must be at least 1, got {n}")))
}

fn finite_op(name: &'static str, n: Option<usize>) -> std::sync::Arc<dyn super::Operator> {
    FnOp::new(
        name,
        move |ins| {
            if let Some(n) = n {
                expect_inputs(name, ins, n)?;
            } else {
                expect_inputs(name, ins, 1)?;
            }
            Ok(vec![Desc::new(Shape::new(vec![1]), DType::F32)])
        },
        |_, ins, outs| {
            let ok = ins
                .iter()
                .all(|a| read_f64(a).iter().all(|v| v.is_finite()));
            write_f64(&outs[0], &[if ok { 1.0 } else { 0.0 }]);
            Ok(())
        },
    )
    // one flag, whatever the inputs' shapes
    .with_shape_partial(|_, outs| {
        crate::graph::infer::refine(&mut outs[0], Shape::new(vec![1]));
        Ok(())
    })
    .with_type_partial(|_, outs| {
        outs[0] = Some(DType::F32);
        Ok(())
    })
    .arc()
}

const INIT_OUTPUT: &str = "Initialize output to 1. (Outputs are always written here: the result is the finiteness of the inputs alone.)";

/// The width order of the dtypes `amp_multicast` casts among; 0 for the others (float64
/// included), which pass through and take no part, as in MXNet.
fn amp_rank(d: DType) -> u8 {
    match d {
        DType::F16 | DType::BF16 => 1,
        DType::F32 => 2,
        _ => 0,
    }
}

fn amp_target(ins: &[Desc], narrow: bool) -> Option<DType> {
    let cast = ins.iter().map(|d| d.dtype).filter(|d| amp_rank(*d) > 0);
    if narrow {
        return cast.min_by_key(|d| amp_rank(*d));
    }
    // MXNet starts the widest type at the first input's: after a float64 first input the
    // float16 ones are cast up to float64 when no float32 is there (its other first-input
    // cases, integers, would cast floats to integers, which oxnet does not follow).
    match (
        ins.first().map(|d| d.dtype),
        cast.max_by_key(|d| amp_rank(*d)),
    ) {
        (Some(DType::F64), Some(w)) if w != DType::F32 => Some(DType::F64),
        (_, w) => w,
    }
}

pub fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: "all_finite",
        doc: "Returns a (1,) float32 array: 1 if every element of data is finite, else 0.".into(),
        params: vec![param("init_output", "boolean", Some("True"), INIT_OUTPUT)],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| {
            p.bool("init_output")?;
            Ok(finite_op("all_finite", None))
        }),
    });
    r.add(SimpleDef {
        name: "multi_all_finite",
        doc: "Returns a (1,) float32 array: 1 if every element of every input is finite, else 0."
            .into(),
        params: vec![
            param("num_arrays", "int", Some("1"), "Number of arrays."),
            param("init_output", "boolean", Some("True"), INIT_OUTPUT),
        ],
        inputs: Inputs::Variadic {
            name: "data",
            count_param: "num_arrays",
        },
        create: Box::new(|p| {
            p.bool("init_output")?;
            Ok(finite_op(
                "multi_all_finite",
                Some(count("multi_all_finite", p, "num_arrays")?),
            ))
        }),
    });
    r.add(SimpleDef {
        name: "multi_sum_sq",
        doc: "Returns a (num_arrays,) float32 array: the sum of squares of each input.".into(),
        params: vec![param("num_arrays", "int", None, "number of input arrays.")],
        inputs: Inputs::Variadic {
            name: "data",
            count_param: "num_arrays",
        },
        create: Box::new(|p| {
            const OP: &str = "multi_sum_sq";
            let n = count(OP, p, "num_arrays")?;
            Ok(FnOp::new(
                OP,
                move |ins| {
                    expect_inputs(OP, ins, n)?;
                    Ok(vec![Desc::new(Shape::new(vec![n]), DType::F32)])
                },
                |_, ins, outs| {
                    let v: Vec<f64> = ins
                        .iter()
                        .map(|a| read_f64(a).iter().map(|x| x * x).sum())
                        .collect();
                    write_f64(&outs[0], &v);
                    Ok(())
                },
            )
            .with_shape_partial(move |_, outs| {
                crate::graph::infer::refine(&mut outs[0], Shape::new(vec![n]));
                Ok(())
            })
            .with_type_partial(|_, outs| {
                outs[0] = Some(DType::F32);
                Ok(())
            })
            .arc())
        }),
    });
    r.add(SimpleDef {
        name: "amp_cast",
        doc: "Casts a float32, float16 or bfloat16 input to dtype for automatic mixed precision; inputs of other dtypes (float64 too) pass through unchanged. The gradient is cast back to the input's dtype.".into(),
        params: vec![param("dtype", "{'bfloat16', 'float16', 'float32', 'float64', 'int32', 'int64', 'int8', 'uint8'}", None, "Output data type.")],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| {
            const OP: &str = "amp_cast";
            let to = p.dtype("dtype")?.ok_or_else(|| Error::param(OP, "dtype is required"))?;
            // float64 passes through too: AMP never narrows what was asked for in double
            let out = move |d: DType| {
                if matches!(d, DType::F32 | DType::F16 | DType::BF16) {
                    to
                } else {
                    d
                }
            };
            Ok(FnOp::new(
                OP,
                move |ins| {
                    expect_inputs(OP, ins, 1)?;
                    Ok(vec![Desc::new(ins[0].shape.clone(), out(ins[0].dtype))])
                },
                |_, ins, outs| {
                    crate::kernels::cpu::cast::cast_into(&ins[0], &outs[0]);
                    Ok(())
                },
            )
            .with_shape_partial(crate::graph::infer::same_shape_partial)
            .with_type_partial(move |ins, outs| {
                if let Some(d) = ins[0] {
                    outs[0] = Some(out(d));
                }
                Ok(())
            })
            .with_grad(|g, a| {
                let r = g.apply(
                    super::elemwise_unary::cast_like_op(),
                    &[a.out_grads[0].clone(), a.inputs[0].clone()],
                );
                Ok(vec![Some(r[0].clone())])
            })
            .arc())
        }),
    });
    r.add(SimpleDef {
        name: "amp_multicast",
        doc: "Casts every float16/bfloat16/float32 input to the widest of their dtypes (the narrowest with cast_narrow; float64 when the first input is float64 and none is float32); inputs of other dtypes pass through. Gradients are cast back to each input's dtype.".into(),
        params: vec![
            param("num_outputs", "int", None, "Number of input/output pairs to be casted to the widest type."),
            param("cast_narrow", "boolean", Some("False"), "Whether to cast to the narrowest type"),
        ],
        inputs: Inputs::Variadic { name: "data", count_param: "num_outputs" },
        create: Box::new(|p| {
            const OP: &str = "amp_multicast";
            let n = count(OP, p, "num_outputs")?;
            let narrow = p.bool("cast_narrow")?;
            let mut op = FnOp::new(
                OP,
                move |ins| {
                    expect_inputs(OP, ins, n)?;
                    let t = amp_target(ins, narrow);
                    Ok(ins
                        .iter()
                        .map(|d| {
                            let dt = match t {
                                Some(t) if amp_rank(d.dtype) > 0 => t,
                                _ => d.dtype,
                            };
                            Desc::new(d.shape.clone(), dt)
                        })
                        .collect())
                },
                |_, ins, outs| {
                    for (i, o) in ins.iter().zip(outs) {
                        crate::kernels::cpu::cast::cast_into(i, o);
                    }
                    Ok(())
                },
            );
            op.num_outputs = n;
            op.type_partial = Some(Box::new(move |ins, outs| {
                if ins.iter().all(Option::is_some) {
                    let descs: Vec<Desc> = ins
                        .iter()
                        .flatten()
                        .map(|&d| Desc::new(Shape::new(vec![]), d))
                        .collect();
                    let t = amp_target(&descs, narrow);
                    for (o, d) in outs.iter_mut().zip(&descs) {
                        *o = Some(match t {
                            Some(t) if amp_rank(d.dtype) > 0 => t,
                            _ => d.dtype,
                        });
                    }
                }
                Ok(())
            }));
            op.shape_partial = Some(Box::new(|ins, outs| {
                for (i, o) in ins.iter_mut().zip(outs.iter_mut()) {
                    match (i.clone(), o.clone()) {
                        (Some(s), None) => *o = Some(s),
                        (None, Some(s)) => *i = Some(s),
                        _ => {}
                    }
                }
                Ok(())
            }));
            Ok(op
                .with_grad(|g, a| {
                    let mut v = Vec::new();
                    for (og, x) in a.out_grads.iter().zip(a.inputs) {
                        let r = g.apply(
                            super::elemwise_unary::cast_like_op(),
                            &[og.clone(), x.clone()],
                        );
                        v.push(Some(r[0].clone()));
                    }
                    Ok(v)
                })
                .arc())
        }),
    });
    scan::register(r);
    split::register(r);
}
