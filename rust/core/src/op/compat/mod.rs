//! Internal and legacy operators that graphs written by old MXNet versions and by Gluon's
//! `export()` contain: renamed forms of existing ops (`_grad_add`, `_scatter_*`,
//! `_contrib_SparseEmbedding`, `_rnn_param_concat`), the dense-storage forms of sparse
//! helpers (`cast_storage`, `_square_sum`), and small utilities (`reset_arrays`,
//! `_zeros_without_dtype`, `_identity_with_attr_like_rhs`, `IdentityAttachKLSparseReg`).
//! Arrays here are always dense, so the storage-type variants compute the dense result.

mod kl_sparse_reg;
mod renamed;
mod retain;
mod square_sum;
#[cfg(test)]
mod tests;

use super::params::param;
use super::{expect_inputs, registry, Desc, FnOp, Inputs, Registry, SimpleDef};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::Shape;
use renamed::Renamed;

/// Ops MXNet registered separately with another op's parameters and kernels (graphs keep
/// these names).
const RENAMED: &[(&str, &str)] = &[
    // The gradient-accumulation node MXNet writes into backward graphs.
    ("_grad_add", "elemwise_add"),
    // Row-sparse variants; on dense storage they are the plain op (the Python layer gives
    // the sparse results their storage types).
    ("_scatter_elemwise_div", "elemwise_div"),
];

/// Copies `src` into `dst` (same shape and dtype). Call inside an op reading src, writing dst.
fn copy_values(src: &crate::ndarray::NDArray, dst: &crate::ndarray::NDArray) {
    crate::kernels::cpu::cast::cast_into(src, dst);
}

fn identity_like_rhs() -> std::sync::Arc<dyn super::Operator> {
    const OP: &str = "_identity_with_attr_like_rhs";
    FnOp::new(
        OP,
        |ins| {
            expect_inputs(OP, ins, 2)?;
            if ins[0].shape != ins[1].shape {
                return Err(Error::shape(
                    OP,
                    format!(
                        "lhs has shape {} and rhs {}: they must match",
                        ins[0].shape, ins[1].shape
                    ),
                ));
            }
            Ok(vec![ins[0].clone()])
        },
        |_, ins, outs| {
            copy_values(&ins[0], &outs[0]);
            Ok(())
        },
    )
    .with_shape_partial(|ins, outs| {
        // ElemwiseShape<2, 1>: lhs, rhs and the output share one shape.
        let known = ins.iter().chain(outs.iter()).flatten().next().cloned();
        if let Some(s) = known {
            for x in ins.iter_mut().chain(outs.iter_mut()) {
                if x.is_none() {
                    *x = Some(s.clone());
                }
            }
        }
        Ok(())
    })
    .with_grad(|g, a| {
        let rhs = g.zeros_like(&a.inputs[1])?;
        Ok(vec![Some(a.out_grads[0].clone()), Some(rhs)])
    })
    .arc()
}

/// `_rnn_param_concat`'s backward shape rule: Concat's, plus the one or two inputs whose `dim`
/// size is unknown (0) share what the known output size leaves (integer division, as MXNet).
fn rnn_param_concat_shapes(
    op: &str,
    dim: i64,
    ins: &mut [Option<Shape>],
    outs: &mut [Option<Shape>],
) -> Result<()> {
    let mut base: Option<Shape> = None;
    let mut axis = None;
    let (mut size, mut unknown) = (0usize, Vec::new());
    let merge = |base: &mut Option<Shape>, s: &Shape, what: &str| -> Result<()> {
        match base {
            None => *base = Some(s.clone()),
            Some(b) => {
                if b.ndim() != s.ndim() {
                    return Err(Error::shape(
                        op,
                        format!("{what} has shape {s}, expected rank {}", b.ndim()),
                    ));
                }
                for k in 0..s.ndim() {
                    match (b[k], s[k]) {
                        (0, v) => b.0[k] = v,
                        (x, v) if v != 0 && v != x => {
                            return Err(Error::shape(
                                op,
                                format!("Incompatible input shape: expected {b}, got {s} ({what})"),
                            ))
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    };
    for (i, s) in ins.iter().enumerate() {
        let Some(s) = s else { continue };
        let ax = crate::shape::norm_axis(dim, s.ndim(), op)?;
        axis = Some(ax);
        if s[ax] == 0 {
            unknown.push(i);
        } else {
            size += s[ax];
        }
        let mut t = s.clone();
        t.0[ax] = 0;
        merge(&mut base, &t, &format!("input {i}"))?;
    }
    let out_axis_size = match outs[0].as_ref() {
        Some(o) => {
            let ax = crate::shape::norm_axis(dim, o.ndim(), op)?;
            axis = Some(ax);
            let mut t = o.clone();
            t.0[ax] = 0;
            merge(&mut base, &t, "output")?;
            o[ax]
        }
        None => 0,
    };
    let (Some(base), Some(ax)) = (base, axis) else {
        return Ok(());
    };
    if ins.iter().any(|s| s.is_none()) {
        // Inputs of unknown rank: nothing to distribute yet; fill what the others tell.
        for s in ins.iter_mut().filter(|s| s.is_none()) {
            *s = Some(base.clone());
        }
        return Ok(());
    }
    if !unknown.is_empty() && out_axis_size != 0 {
        if unknown.len() > 2 {
            return Err(Error::shape(
                op,
                format!(
                    "Expecting 1 or 2 inputs that need shape inference. Got: {}",
                    unknown.len()
                ),
            ));
        }
        let residual = out_axis_size.checked_sub(size).ok_or_else(|| {
            Error::shape(
                op,
                format!(
                    "the inputs' sizes along dim ({size}) exceed the output's ({out_axis_size})"
                ),
            )
        })?;
        let each = residual / unknown.len();
        for &i in &unknown {
            if let Some(s) = ins[i].as_mut() {
                s.0[ax] = each;
            }
        }
    }
    for s in ins.iter_mut().flatten() {
        for k in 0..s.ndim() {
            if k != ax && s[k] == 0 {
                s.0[k] = base[k];
            }
        }
    }
    if unknown.is_empty() && outs[0].is_none() {
        let mut o = base;
        o.0[ax] = size;
        outs[0] = Some(o);
    }
    Ok(())
}

fn reset_arrays(n: usize) -> std::sync::Arc<dyn super::Operator> {
    const OP: &str = "reset_arrays";
    let mut op = FnOp::new(
        OP,
        move |ins| {
            expect_inputs(OP, ins, n)?;
            Ok(Vec::new())
        },
        |_, ins, _| {
            for a in ins {
                crate::with_dtype!(a.dtype(), T, {
                    // SAFETY: the op writes every input (mutate); no other view is alive.
                    let d = unsafe { a.data_mut::<T>() };
                    d.fill(<T as crate::dtype::Element>::from_f64(0.0));
                });
            }
            Ok(())
        },
    );
    op.num_outputs = 0;
    op.mutate = (0..n).collect();
    op.aux = Some(Vec::new());
    op.arc()
}

pub fn register(r: &mut Registry) {
    for &(name, target) in RENAMED {
        if let Ok(target) = r.get(target).cloned() {
            r.add(renamed::RenamedDef { name, target });
        }
    }
    for (name, target, doc) in [
        ("_scatter_plus_scalar", "_plus_scalar", "Adds a scalar to a tensor element-wise. (On row_sparse or csr input MXNet computes only the stored values; arrays here are dense, so every element is.)"),
        ("_scatter_minus_scalar", "_minus_scalar", "Subtracts a scalar from a tensor element-wise. (On row_sparse or csr input MXNet computes only the stored values; arrays here are dense, so every element is.)"),
    ] {
        r.add(SimpleDef {
            name,
            doc: doc.into(),
            params: vec![
                param("scalar", "double, optional", Some("1"), "Scalar input value"),
                param("is_int", "boolean, optional", Some("1"), "Indicate whether scalar input is int type"),
            ],
            inputs: Inputs::Fixed(&["data"]),
            create: Box::new(move |p| {
                let attrs = [
                    ("scalar".into(), p.str("scalar")?.to_string()),
                    ("is_int".into(), p.bool("is_int")?.to_string()),
                ];
                let inner = registry().get(target)?.create(&attrs)?;
                Ok(Renamed::wrap(name, inner))
            }),
        });
    }
    r.add(SimpleDef {
        name: "_contrib_SparseEmbedding",
        doc: "Embedding with a row_sparse weight gradient (MXNet's sparse-gradient embedding): `Embedding(sparse_grad=True)`. `deterministic` orders MXNet's GPU gradient accumulation; the sums here are always in order.".into(),
        params: vec![
            param("input_dim", "int, required", None, "Vocabulary size of the input indices."),
            param("output_dim", "int, required", None, "Dimension of the embedding vectors."),
            param("dtype", "{'float16', 'float32', 'float64', 'int32', 'int64', 'int8', 'uint8'},optional", Some("'float32'"), "Data type of weight."),
            param("deterministic", "boolean, optional", Some("0"), "Force the backward gradient calculation to be executed based on a deterministic order at the cost of slower speed."),
        ],
        inputs: Inputs::Fixed(&["data", "weight"]),
        create: Box::new(|p| {
            p.bool("deterministic")?;
            let mut attrs = vec![("sparse_grad".to_string(), "True".to_string())];
            for k in ["input_dim", "output_dim", "dtype"] {
                attrs.push((k.to_string(), p.str(k)?.to_string()));
            }
            let inner = registry().get("Embedding")?.create(&attrs)?;
            Ok(Renamed::wrap("_contrib_SparseEmbedding", inner))
        }),
    });
    r.add(SimpleDef {
        name: "_identity_with_attr_like_rhs",
        doc: "The lhs unchanged; the rhs (of the same shape) only lends its attributes (storage type) in MXNet. The gradient flows to lhs; rhs gets zeros.".into(),
        params: vec![],
        inputs: Inputs::Fixed(&["lhs", "rhs"]),
        create: Box::new(|_| Ok(identity_like_rhs())),
    });
    r.add(SimpleDef {
        name: "_zeros_without_dtype",
        doc: "fill target with zeros without default dtype: dtype -1 leaves the type open in MXNet's graphs; here it is float32.".into(),
        params: vec![
            param("shape", "Shape(tuple), optional", Some("()"), "The shape of the output"),
            param("ctx", "string, optional", Some("''"), "Context of output, in format [cpu|gpu|cpu_pinned](n).Only used for imperative calls."),
            param("dtype", "int, optional", Some("-1"), "Target data type."),
        ],
        inputs: Inputs::Fixed(&[]),
        create: Box::new(|p| {
            let flag = p.int("dtype")?;
            let dtype = match flag {
                -1 => DType::F32,
                f => i32::try_from(f).ok().and_then(DType::from_flag).ok_or_else(|| {
                    Error::param("_zeros_without_dtype", format!("unknown dtype flag {f}"))
                })?,
            };
            let ctx = p.ctx("ctx")?.unwrap_or_default();
            Ok(super::init::full_op("_zeros_without_dtype", p.shape("shape")?, dtype, ctx, 0.0))
        }),
    });
    r.add(SimpleDef {
        name: "_rnn_param_concat",
        doc: "Concat for the flattened parameters of Gluon's RNN layers: joins the inputs along `dim`. In graph shape inference the sizes of one or two inputs left unknown are deduced from the output's (which the RNN op infers).".into(),
        params: vec![
            param("num_args", "int, required", None, "Number of inputs to be concated."),
            param("dim", "int, optional", Some("1"), "the dimension to be concated."),
        ],
        inputs: Inputs::Variadic { name: "data", count_param: "num_args" },
        create: Box::new(|p| {
            let (n, dim) = (p.int("num_args")?, p.int("dim")?);
            if n < 1 {
                return Err(Error::param("_rnn_param_concat", format!("num_args must be at least 1, got {n}")));
            }
            let inner = registry()
                .get("Concat")?
                .create(&[("num_args".into(), n.to_string()), ("dim".into(), dim.to_string())])?;
            Ok(Renamed::with_shapes("_rnn_param_concat", inner, move |ins, outs| {
                rnn_param_concat_shapes("_rnn_param_concat", dim, ins, outs)
            }))
        }),
    });
    r.add(SimpleDef {
        name: "reset_arrays",
        doc: "Set to zero multiple arrays: every input is zeroed in place; there is no output."
            .into(),
        params: vec![param(
            "num_arrays",
            "int, required",
            None,
            "number of input arrays.",
        )],
        inputs: Inputs::Variadic {
            name: "data",
            count_param: "num_arrays",
        },
        create: Box::new(|p| {
            let n = p.int("num_arrays")?;
            let n = usize::try_from(n).ok().filter(|&n| n >= 1).ok_or_else(|| {
                Error::param(
                    "reset_arrays",
                    format!("num_arrays must be at least 1, got {n}"),
                )
            })?;
            Ok(reset_arrays(n))
        }),
    });
    r.add(SimpleDef {
        name: "cast_storage",
        doc: "Casts tensor storage type to the new type. The registry op sees dense storage only, so its values are the input's (a copy); `mx.nd.cast_storage` and `tostype` build the sparse Python arrays.".into(),
        params: vec![param("stype", "{'csr', 'default', 'row_sparse'}, required", None, "Output storage type.")],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| {
            p.choice("stype", &["csr", "default", "row_sparse"])?;
            const OP: &str = "cast_storage";
            let mut op = FnOp::new(
                OP,
                |ins| {
                    expect_inputs(OP, ins, 1)?;
                    Ok(vec![Desc::new(ins[0].shape.clone(), ins[0].dtype)])
                },
                |_, ins, outs| {
                    copy_values(&ins[0], &outs[0]);
                    Ok(())
                },
            )
            .with_grad(|_, a| Ok(vec![Some(a.out_grads[0].clone())]));
            op.inplace = true;
            Ok(op.arc())
        }),
    });
    square_sum::register(r);
    retain::register(r);
    retain::register_set_rows(r);
    kl_sparse_reg::register(r);
}
