//! `_contrib_arange_like`, `_contrib_index_array`, `_contrib_allclose`, `_contrib_index_copy`.

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::indexing::check_row_write;
use crate::op::params::param;
use crate::op::{expect_inputs, Desc, FnOp, Inputs, Registry, SimpleDef};
use crate::op::{read_f64, write_f64};
use crate::shape::{norm_axis, Shape};

fn arange_like(r: &mut Registry) {
    const OP: &str = "_contrib_arange_like";
    r.add(SimpleDef {
        name: OP,
        doc: "Returns evenly spaced values shaped like the input (or, with `axis`, as long as that axis): `start + (i // repeat) * step`, in the input's dtype.".into(),
        params: vec![
            param("start", "double", Some("0"), "Start of interval. The interval includes this value. The default start value is 0."),
            param("step", "double", Some("1"), "Spacing between values."),
            param("repeat", "int", Some("1"), "The repeating time of all elements. E.g repeat=3, the element a will be repeated three times --> a, a, a."),
            param("ctx", "string", Some("''"), "Context of output, in format [cpu|gpu|cpu_pinned](n).Only used for imperative calls."),
            param("axis", "int or None", Some("None"), "Arange elements according to the size of a certain axis of input array. The negative numbers are interpreted counting from the backward. If not provided, will arange elements according to the input shape."),
        ],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| {
            let (start, step) = (p.float("start")?, p.float("step")?);
            let repeat = p.int("repeat")?;
            let repeat = usize::try_from(repeat).ok().filter(|&r| r > 0).ok_or_else(|| {
                Error::param(OP, format!("repeat must be positive, got {repeat}"))
            })?;
            let axis = p.opt_int("axis")?;
            let out_shape = move |s: &Shape| -> Result<Shape> {
                match axis {
                    None => Ok(s.clone()),
                    Some(a) => {
                        let k = norm_axis(a, s.ndim(), OP)?;
                        Ok(Shape::new(vec![s[k]]))
                    }
                }
            };
            Ok(FnOp::new(
                OP,
                move |ins| {
                    expect_inputs(OP, ins, 1)?;
                    Ok(vec![Desc::new(out_shape(&ins[0].shape)?, ins[0].dtype)])
                },
                move |_, _, outs| {
                    let at = crate::op::init::range_values(outs[0].dtype(), start, step, repeat);
                    let v: Vec<f64> = (0..outs[0].size()).map(at).collect();
                    write_f64(&outs[0], &v);
                    Ok(())
                },
            )
            .with_grad(|g, a| Ok(vec![Some(g.zeros_like(&a.inputs[0])?)]))
            .arc())
        }),
    });
}

fn index_array(r: &mut Registry) {
    const OP: &str = "_contrib_index_array";
    r.add(SimpleDef {
        name: OP,
        doc: "Returns an int64 array of shape `data.shape + (k,)` holding, at every position, its index along each of `axes` (all axes when `axes` is None).".into(),
        params: vec![param(
            "axes",
            "Shape or None",
            Some("None"),
            "The axes to include in the index array. Supports negative values.",
        )],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| {
            let axes = p.opt_ints("axes")?;
            let resolve = move |s: &Shape| -> Result<Vec<usize>> {
                match &axes {
                    None => Ok((0..s.ndim()).collect()),
                    Some(a) => a.iter().map(|&x| norm_axis(x, s.ndim(), OP)).collect(),
                }
            };
            let resolve2 = resolve.clone();
            Ok(FnOp::new(
                OP,
                move |ins| {
                    expect_inputs(OP, ins, 1)?;
                    let ax = resolve(&ins[0].shape)?;
                    let mut d = ins[0].shape.dims().to_vec();
                    d.push(ax.len());
                    Ok(vec![Desc::new(Shape::new(d), DType::I64)])
                },
                move |_, ins, outs| {
                    let s = ins[0].shape().clone();
                    let ax = resolve2(&s)?;
                    let dims = s.dims();
                    let mut v = Vec::with_capacity(s.size() * ax.len());
                    let mut idx = vec![0usize; dims.len()];
                    for _ in 0..s.size() {
                        v.extend(ax.iter().map(|&a| idx[a] as f64));
                        for k in (0..dims.len()).rev() {
                            idx[k] += 1;
                            if idx[k] < dims[k] {
                                break;
                            }
                            idx[k] = 0;
                        }
                    }
                    write_f64(&outs[0], &v);
                    Ok(())
                },
            )
            .with_type_partial(|_, outs| {
                outs[0] = Some(DType::I64);
                Ok(())
            })
            .with_grad(|g, a| Ok(vec![Some(g.zeros_like(&a.inputs[0])?)]))
            .arc())
        }),
    });
}

fn allclose(r: &mut Registry) {
    const OP: &str = "_contrib_allclose";
    r.add(SimpleDef {
        name: OP,
        doc: "Returns a 0-d uint8 array: 1 if every `|a - b| <= atol + rtol * |b|` (NaNs equal when `equal_nan`), else 0.".into(),
        params: vec![
            param("rtol", "float", Some("9.99999975e-06"), "Relative tolerance."),
            param("atol", "float", Some("9.99999994e-09"), "Absolute tolerance."),
            param("equal_nan", "boolean", Some("True"), "Whether to compare NaN's as equal. If True, NaN's in A will be considered equal to NaN's in B in the output array."),
        ],
        inputs: Inputs::Fixed(&["a", "b"]),
        create: Box::new(|p| {
            let (rtol, atol) = (p.float("rtol")?, p.float("atol")?);
            let equal_nan = p.bool("equal_nan")?;
            Ok(FnOp::new(
                OP,
                |ins| {
                    expect_inputs(OP, ins, 2)?;
                    if ins[0].shape != ins[1].shape {
                        return Err(Error::shape(
                            OP,
                            format!(
                                "a and b must have the same shape, got {} and {}",
                                ins[0].shape, ins[1].shape
                            ),
                        ));
                    }
                    Ok(vec![Desc::new(Shape::new(vec![]), DType::U8)])
                },
                move |_, ins, outs| {
                    let (a, b) = (read_f64(&ins[0]), read_f64(&ins[1]));
                    let ok = a.iter().zip(&b).all(|(&x, &y)| {
                        if x.is_nan() || y.is_nan() {
                            equal_nan && x.is_nan() && y.is_nan()
                        } else {
                            x == y || (x - y).abs() <= atol + rtol * y.abs()
                        }
                    });
                    write_f64(&outs[0], &[if ok { 1.0 } else { 0.0 }]);
                    Ok(())
                },
            )
            .with_type_partial(|_, outs| {
                outs[0] = Some(DType::U8);
                Ok(())
            })
            .arc())
        }),
    });
}

/// Row indices of `index_copy`'s index vector, checked against `rows`.
fn rows_of(idx: &[f64], rows: usize) -> Result<Vec<usize>> {
    idx.iter()
        .map(|&v| {
            let i = v.trunc();
            if i >= 0.0 && i < rows as f64 {
                Ok(i as usize)
            } else {
                Err(Error::Index(format!(
                    "operator _contrib_index_copy: index {v} is out of range for old_tensor with {rows} rows"
                )))
            }
        })
        .collect()
}

fn index_copy(r: &mut Registry) {
    const OP: &str = "_contrib_index_copy";
    r.add(SimpleDef {
        name: OP,
        doc: "Copies the rows of `new_tensor` into a copy of `old_tensor` at the row indices in `index_vector`: `out[index_vector[i]] = new_tensor[i]`.".into(),
        params: vec![],
        inputs: Inputs::Fixed(&["old_tensor", "index_vector", "new_tensor"]),
        create: Box::new(|_| {
            Ok(FnOp::new(
                OP,
                |ins| {
                    expect_inputs(OP, ins, 3)?;
                    check_row_write(OP, ["old_tensor", "index_vector", "new_tensor"], ins)?;
                    Ok(vec![ins[0].clone()])
                },
                |_, ins, outs| {
                    let rows = ins[0].shape()[0];
                    let inner = ins[0].size() / rows.max(1);
                    let idx = rows_of(&read_f64(&ins[1]), rows)?;
                    let mut v = read_f64(&ins[0]);
                    let new = read_f64(&ins[2]);
                    for (k, &i) in idx.iter().enumerate() {
                        v[i * inner..(i + 1) * inner]
                            .copy_from_slice(&new[k * inner..(k + 1) * inner]);
                    }
                    write_f64(&outs[0], &v);
                    Ok(())
                },
            )
            .with_type_partial(|ins, outs| {
                let (mut a, mut o) = ([ins[0], ins[2]], [outs[0]]);
                crate::op::unify_types(OP, &mut a, &mut o)?;
                (ins[0], ins[2], outs[0]) = (a[0], a[1], o[0]);
                Ok(())
            })
            .with_grad(|g, a| {
                let og = &a.out_grads[0];
                let (idx, new) = (&a.inputs[1], &a.inputs[2]);
                let zeros = g.zeros_like(new)?;
                let d_old = g.op1(OP, &[], &[og.clone(), idx.clone(), zeros])?;
                let d_new = g.op1("take", &[("axis", "0")], &[og.clone(), idx.clone()])?;
                Ok(vec![Some(d_old), None, Some(d_new)])
            })
            .arc())
        }),
    });
}

pub fn register(r: &mut Registry) {
    arange_like(r);
    index_array(r);
    allclose(r);
    index_copy(r);
}
