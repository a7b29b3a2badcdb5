//! Joining and splitting along an axis: `Concat`, `stack`, `SliceChannel`. Each input (or
//! output) is one strided copy into (or out of) its slab of the joined array.

use super::params::param;
use super::shape_ops::{def, insert_axis, istrides};
use super::{expect_inputs, Desc, FnOp, Inputs, Operator, Registry};
use crate::error::{Error, Result};
use crate::graph::infer::refine;
use crate::kernels::cpu::strided::{copy_walk, Walk};
use crate::ndarray::NDArray;
use crate::shape::{norm_axis, Shape};
use std::sync::Arc;

/// One strided copy of a join or split: input `src` read along `sw` into output `dst` along
/// `dw`, over `dims`.
struct Piece {
    dims: Vec<usize>,
    src: usize,
    sw: Walk,
    dst: usize,
    dw: Walk,
}

/// The pieces of a join or split, from its arrays' shapes.
type Pieces = dyn Fn(&[NDArray], &[NDArray]) -> Result<Vec<Piece>> + Send + Sync;

/// An op whose work is its pieces: the CPU's `copy_walk` each, or on a GPU its strided kernel
/// (all pieces there, or none: a declined piece sends the whole op to the host path).
fn pieces_op(
    name: &'static str,
    infer: impl Fn(&[Desc]) -> Result<Vec<Desc>> + Send + Sync + 'static,
    pieces: Arc<Pieces>,
) -> FnOp {
    #[cfg(feature = "cuda")]
    let gpu = pieces.clone();
    let op = FnOp::new(name, infer, move |_, ins, outs| {
        for p in pieces(ins, outs)? {
            copy_walk(&p.dims, &ins[p.src], &p.sw, &outs[p.dst], &p.dw)?;
        }
        Ok(())
    });
    #[cfg(feature = "cuda")]
    let op = op.with_cuda(Some(Box::new(move |dev, _, ins, outs| {
        use crate::kernels::cuda::strided::copy_walk;
        for p in gpu(ins, outs)? {
            if !copy_walk(dev, &p.dims, &ins[p.src], &p.sw, &outs[p.dst], &p.dw)? {
                return Ok(false);
            }
        }
        Ok(true)
    })));
    op
}

fn same_dtype(op: &str, inputs: &[Desc]) -> Result<()> {
    for (i, d) in inputs.iter().enumerate().skip(1) {
        if d.dtype != inputs[0].dtype {
            return Err(Error::dtype(
                op,
                format!(
                    "all inputs must have one data type: input 0 is {}, input {i} is {}",
                    inputs[0].dtype, d.dtype
                ),
            ));
        }
    }
    Ok(())
}

/// Partial shapes through `Concat`, forwards and backwards as MXNet infers them: every
/// shape shares the dimensions off the axis, the output's axis is the inputs' sum, and one
/// unknown input length is what the output has left.
fn concat_partial(dim: i64, ins: &mut [Option<Shape>], outs: &mut [Option<Shape>]) -> Result<()> {
    let Some(nd) = ins
        .iter()
        .chain(outs.iter())
        .flatten()
        .map(Shape::ndim)
        .find(|&d| d > 0)
    else {
        return Ok(());
    };
    let ax = norm_axis(dim, nd, "Concat")?;
    let ranked = |s: &Option<Shape>| s.clone().filter(|s| s.ndim() == nd);
    let mut common = vec![0; nd];
    for s in ins.iter().chain(outs.iter()).filter_map(ranked) {
        for (k, c) in common.iter_mut().enumerate() {
            if k != ax && *c == 0 {
                *c = s[k];
            }
        }
    }
    let len = |s: &Option<Shape>| ranked(s).map_or(0, |s| s[ax]);
    let lens: Vec<usize> = ins.iter().map(len).collect();
    let out_len = outs.first().map_or(0, len);
    let unknown: Vec<usize> = (0..lens.len()).filter(|&i| lens[i] == 0).collect();
    let known_sum: usize = lens.iter().sum();
    let with_len = |l: usize| {
        let mut s = common.clone();
        s[ax] = l;
        Shape(s)
    };
    for (i, slot) in ins.iter_mut().enumerate() {
        let l = match unknown.as_slice() {
            [u] if *u == i && out_len > known_sum => out_len - known_sum,
            _ => lens[i],
        };
        if l > 0 || common.iter().any(|&c| c > 0) {
            refine(slot, with_len(l));
        }
    }
    if let Some(slot) = outs.first_mut() {
        let l = if unknown.is_empty() {
            known_sum
        } else {
            out_len
        };
        if l > 0 || common.iter().any(|&c| c > 0) {
            refine(slot, with_len(l));
        }
    }
    Ok(())
}

/// Partial shapes through `SliceChannel`: the outputs share one shape, the input's split axis
/// is `n` times theirs (or `n`, squeezed away), and every other dimension passes both ways.
fn split_partial(
    n: usize,
    axis: i64,
    squeeze: bool,
    ins: &mut [Option<Shape>],
    outs: &mut [Option<Shape>],
) -> Result<()> {
    let Some(input) = ins.first_mut() else {
        return Ok(());
    };
    let mut o: Option<Shape> = None;
    for s in outs.iter().flatten() {
        refine(&mut o, s.clone());
    }
    let nd = match (&*input, &o) {
        (Some(s), _) if s.ndim() > 0 => s.ndim(),
        (_, Some(s)) if s.ndim() > 0 => s.ndim() + usize::from(squeeze),
        _ => return Ok(()),
    };
    let ax = norm_axis(axis, nd, "SliceChannel")?;
    if let Some(o) = o.filter(|o| o.ndim() + usize::from(squeeze) == nd) {
        let mut d = o.0;
        if squeeze {
            d.insert(ax, n);
        } else {
            d[ax] *= n;
        }
        refine(input, Shape(d));
    }
    if let Some(s) = input.clone().filter(|s| s.ndim() == nd) {
        let mut d = s.0;
        if squeeze {
            d.remove(ax);
        } else if d[ax].is_multiple_of(n) {
            d[ax] /= n;
        } else {
            d[ax] = 0;
        }
        for slot in outs.iter_mut() {
            refine(slot, Shape(d.clone()));
        }
    }
    Ok(())
}

fn concat_op(n: usize, dim: i64) -> Arc<dyn Operator> {
    let op = "Concat";
    let axis_of = move |s: &Shape| norm_axis(dim, s.ndim(), op);
    pieces_op(
        op,
        move |inputs| {
            expect_inputs(op, inputs, n)?;
            same_dtype(op, inputs)?;
            let first = &inputs[0].shape;
            let ax = axis_of(first)?;
            let mut out = first.clone();
            out.0[ax] = 0;
            for (i, d) in inputs.iter().enumerate() {
                let s = &d.shape;
                let fits = s.ndim() == first.ndim() && (0..s.ndim()).all(|k| k == ax || s[k] == first[k]);
                if !fits {
                    return Err(Error::shape(
                        op,
                        format!("input {i} has shape {s}, incompatible with input 0 of shape {first} along dim={dim}"),
                    ));
                }
                out.0[ax] += s[ax];
            }
            Ok(vec![Desc::new(out, inputs[0].dtype)])
        },
        Arc::new(move |ins, outs| {
            let o = outs[0].shape();
            let ax = axis_of(o)?;
            let ost = istrides(o);
            let mut at = 0isize;
            let mut pieces = Vec::with_capacity(ins.len());
            for (i, a) in ins.iter().enumerate() {
                let dims = a.shape().0.clone();
                let dw = Walk::new(at * ost[ax], ost.clone());
                at += dims[ax] as isize;
                let sw = Walk::contiguous(&dims);
                pieces.push(Piece { dims, src: i, sw, dst: 0, dw });
            }
            Ok(pieces)
        }),
    )
    .with_shape_partial(move |ins, outs| concat_partial(dim, ins, outs))
    .with_grad(move |g, a| {
        let mut ins = vec![a.out_grads[0].clone()];
        ins.extend(a.inputs.iter().cloned());
        Ok(g.apply(split_like_op(n, dim), &ins)
            .into_iter()
            .map(Some)
            .collect())
    })
    .arc()
}

/// `_split_like(data, like_0..like_n-1)`: `data` cut along `dim` into pieces shaped like the
/// `like` arrays: the gradient of `Concat`, whose input sizes are unknown while the gradient
/// graph is built.
fn split_like_op(n: usize, dim: i64) -> Arc<dyn Operator> {
    let op = "_split_like";
    let check = move |inputs: &[Desc]| -> Result<usize> {
        expect_inputs(op, inputs, n + 1)?;
        let s = &inputs[0].shape;
        let ax = norm_axis(dim, s.ndim(), op)?;
        let total: usize = inputs[1..]
            .iter()
            .map(|d| d.shape.dims().get(ax).copied().unwrap_or(0))
            .sum();
        let fits = inputs[1..].iter().all(|d| {
            d.shape.ndim() == s.ndim() && (0..s.ndim()).all(|k| k == ax || d.shape[k] == s[k])
        });
        if !fits || total != s[ax] {
            return Err(Error::shape(
                op,
                format!("an array of shape {s} does not split along dim={dim} into the shapes of the concatenated inputs"),
            ));
        }
        Ok(ax)
    };
    let mut f = pieces_op(
        op,
        move |inputs| {
            check(inputs)?;
            Ok(inputs[1..]
                .iter()
                .map(|d| Desc::new(d.shape.clone(), inputs[0].dtype))
                .collect())
        },
        Arc::new(move |ins, outs| {
            let a = ins[0].shape();
            let ax = norm_axis(dim, a.ndim(), op)?;
            let st = istrides(a);
            let mut at = 0isize;
            let mut pieces = Vec::with_capacity(outs.len());
            for (i, o) in outs.iter().enumerate() {
                let dims = o.shape().0.clone();
                let sw = Walk::new(at * st[ax], st.clone());
                at += dims[ax] as isize;
                let dw = Walk::contiguous(&dims);
                pieces.push(Piece {
                    dims,
                    src: 0,
                    sw,
                    dst: i,
                    dw,
                });
            }
            Ok(pieces)
        }),
    )
    .with_shape_partial(move |ins, outs| {
        for (o, i) in outs.iter_mut().zip(&ins[1..]) {
            if o.is_none() {
                o.clone_from(i);
            }
        }
        Ok(())
    })
    .with_type_partial(move |ins, outs| {
        let t = ins[0];
        for o in outs.iter_mut() {
            if o.is_none() {
                *o = t;
            }
        }
        Ok(())
    })
    .with_grad(move |g, a| {
        let (na, d) = (n.to_string(), dim.to_string());
        let c = g.op1("Concat", &[("num_args", &na), ("dim", &d)], a.out_grads)?;
        let mut v = vec![Some(c)];
        v.extend((0..n).map(|_| None));
        Ok(v)
    });
    f.num_outputs = n;
    f.arc()
}

fn stack_op(n: usize, axis: i64) -> Arc<dyn Operator> {
    let op = "stack";
    pieces_op(
        op,
        move |inputs| {
            expect_inputs(op, inputs, n)?;
            same_dtype(op, inputs)?;
            let first = &inputs[0].shape;
            for (i, d) in inputs.iter().enumerate() {
                if &d.shape != first {
                    return Err(Error::shape(
                        op,
                        format!(
                            "all inputs must have one shape: input 0 is {first}, input {i} is {}",
                            d.shape
                        ),
                    ));
                }
            }
            let ax = insert_axis(op, axis, first.ndim())?;
            let mut out = first.0.clone();
            out.insert(ax, n);
            Ok(vec![Desc::new(out, inputs[0].dtype)])
        },
        Arc::new(move |ins, outs| {
            let o = outs[0].shape();
            let ax = insert_axis(op, axis, o.ndim() - 1)?;
            let mut st = istrides(o);
            let step = st.remove(ax);
            let pieces = ins.iter().enumerate().map(|(i, a)| {
                let dims = a.shape().0.clone();
                let sw = Walk::contiguous(&dims);
                let dw = Walk::new(i as isize * step, st.clone());
                Piece {
                    dims,
                    src: i,
                    sw,
                    dst: 0,
                    dw,
                }
            });
            Ok(pieces.collect())
        }),
    )
    .with_shape_partial(move |ins, outs| {
        // the inputs share one shape, which is the output's without the new axis
        use crate::graph::infer::refine;
        let mut acc: Option<Shape> = None;
        for s in ins.iter().flatten().filter(|s| s.ndim() > 0) {
            refine(&mut acc, s.clone());
        }
        if let Some(o) = outs[0].as_ref().filter(|o| o.ndim() > 0) {
            if let Ok(ax) = insert_axis(op, axis, o.ndim() - 1) {
                let mut d = o.0.clone();
                d.remove(ax);
                refine(&mut acc, Shape(d));
            }
        }
        let Some(one) = acc else {
            return Ok(());
        };
        for s in ins.iter_mut() {
            refine(s, one.clone());
        }
        if let Ok(ax) = insert_axis(op, axis, one.ndim()) {
            let mut d = one.0;
            d.insert(ax, n);
            refine(&mut outs[0], Shape(d));
        }
        Ok(())
    })
    .with_grad(move |g, a| {
        let (na, ax) = (n.to_string(), axis.to_string());
        let parts = g.op(
            "SliceChannel",
            &[
                ("num_outputs", &na),
                ("axis", &ax),
                ("squeeze_axis", "True"),
            ],
            &a.out_grads[..1],
        )?;
        Ok(parts.into_iter().map(Some).collect())
    })
    .arc()
}

fn split_op(n: usize, axis: i64, squeeze: bool) -> Arc<dyn Operator> {
    let op = "SliceChannel";
    // (axis, chunk length) for an input shape.
    let plan = move |s: &Shape| -> Result<(usize, usize)> {
        let ax = norm_axis(axis, s.ndim(), op)?;
        if s.ndim() == 0 || !s[ax].is_multiple_of(n) {
            return Err(Error::shape(
                op,
                format!("cannot split axis {axis} of shape {s} into num_outputs={n} evenly sized chunks"),
            ));
        }
        let chunk = s[ax] / n;
        if squeeze && chunk != 1 {
            return Err(Error::shape(
                op,
                format!("squeeze_axis needs chunks of length 1, but axis {axis} of shape {s} splits into {n} chunks of {chunk}"),
            ));
        }
        Ok((ax, chunk))
    };
    let mut f = pieces_op(
        op,
        move |inputs| {
            expect_inputs(op, inputs, 1)?;
            let s = &inputs[0].shape;
            let (ax, chunk) = plan(s)?;
            let mut out = s.0.clone();
            if squeeze {
                out.remove(ax);
            } else {
                out[ax] = chunk;
            }
            Ok(vec![Desc::new(out, inputs[0].dtype); n])
        },
        Arc::new(move |ins, outs| {
            let a = ins[0].shape();
            let (ax, chunk) = plan(a)?;
            let st = istrides(a);
            let mut dims = a.0.clone();
            dims[ax] = chunk;
            let pieces = (0..outs.len()).map(|i| Piece {
                dims: dims.clone(),
                src: 0,
                sw: Walk::new((i * chunk) as isize * st[ax], st.clone()),
                dst: i,
                dw: Walk::contiguous(&dims),
            });
            Ok(pieces.collect())
        }),
    );
    f.num_outputs = n;
    // Numbered even when there is one (`s_output0`), as MXNet names them.
    f.output_names = Some((0..n).map(|i| format!("output{i}")).collect());
    let f = f.with_shape_partial(move |ins, outs| split_partial(n, axis, squeeze, ins, outs));
    f.with_grad(move |g, a| {
        let (na, ax) = (n.to_string(), axis.to_string());
        let j = if squeeze {
            g.op1("stack", &[("num_args", &na), ("axis", &ax)], a.out_grads)?
        } else {
            g.op1("Concat", &[("num_args", &na), ("dim", &ax)], a.out_grads)?
        };
        Ok(vec![Some(j)])
    })
    .arc()
}

pub fn register(r: &mut Registry) {
    let data = Inputs::Fixed(&["data"]);
    r.add(def(
        "Concat",
        "Joins input arrays along dimension `dim`; all other dimensions must agree.",
        vec![
            param("num_args", "int", None, "Number of inputs to be concated."),
            param("dim", "int", Some("1"), "the dimension to be concated."),
        ],
        Inputs::Variadic {
            name: "data",
            count_param: "num_args",
        },
        |p| Ok(concat_op(p.count("num_args")?, p.int("dim")?)),
    ));
    r.alias("concat", "Concat");
    r.add(def(
        "stack",
        "Joins arrays of one shape along a new axis `axis`.",
        vec![
            param(
                "axis",
                "int",
                Some("0"),
                "The axis in the result array along which the input arrays are stacked.",
            ),
            param("num_args", "int", None, "Number of inputs to be stacked."),
        ],
        Inputs::Variadic {
            name: "data",
            count_param: "num_args",
        },
        |p| Ok(stack_op(p.count("num_args")?, p.int("axis")?)),
    ));
    r.add(def(
        "SliceChannel",
        "Splits an array along `axis` into `num_outputs` equal parts (removing the axis when `squeeze_axis` and the parts have length 1).",
        vec![
            param("num_outputs", "int", None, "Number of splits. Note that this should evenly divide the length of the `axis`."),
            param("axis", "int", Some("1"), "Axis along which to split."),
            param("squeeze_axis", "boolean", Some("False"), "If true, removes the split axis (its parts must have length 1)."),
        ],
        data,
        |p| {
            let n = p.int("num_outputs")?;
            let n = usize::try_from(n)
                .ok()
                .filter(|&n| n >= 1)
                .ok_or_else(|| Error::param("SliceChannel", format!("num_outputs must be at least 1, got {n}")))?;
            Ok(split_op(n, p.int("axis")?, p.bool("squeeze_axis")?))
        },
    ));
    r.alias("split", "SliceChannel");
}

#[cfg(test)]
// Array handles are cheap clones; `&[x.clone()]` reads better than `from_ref` in op calls.
#[allow(clippy::cloned_ref_to_slice_refs)]
mod tests {
    use crate::error::Error;
    use crate::op::test_util::{arr, err, f32s, iota, ravel, run, unravel};

    #[test]
    fn concat_stack_split() {
        let a = iota(&[2, 3, 4]);
        let b = arr(&[2, 1, 4], &[100.0f32; 8]);
        let o = run(
            "concat",
            &[a.clone(), b.clone()],
            &[("num_args", "2"), ("dim", "1")],
        );
        assert_eq!(o.shape().dims(), &[2, 4, 4]);
        let av = f32s(&a);
        for (i, &got) in f32s(&o).iter().enumerate() {
            let ix = unravel(i, &[2, 4, 4]);
            let want = if ix[1] < 3 {
                av[ravel(&ix, &[2, 3, 4])]
            } else {
                100.0
            };
            assert_eq!(got, want);
        }
        let o = run(
            "Concat",
            &[a.clone(), a.clone()],
            &[("num_args", "2"), ("dim", "-1")],
        );
        assert_eq!(o.shape().dims(), &[2, 3, 8]);
        assert_eq!(f32s(&o)[..8], [0.0, 1.0, 2.0, 3.0, 0.0, 1.0, 2.0, 3.0]);
        let o = run(
            "concat",
            &[a.clone(), a.clone(), a.clone()],
            &[("num_args", "3"), ("dim", "0")],
        );
        assert_eq!(f32s(&o), [av.clone(), av.clone(), av.clone()].concat());
        assert!(matches!(
            err(
                "concat",
                &[a.clone(), iota(&[2, 1, 5])],
                &[("num_args", "2")]
            ),
            Error::Shape { .. }
        ));
        assert!(matches!(
            err("concat", &[a.clone(), a.clone()], &[("num_args", "3")]),
            Error::Value(_)
        ));
        let d = arr(&[2, 3, 4], &[0.0f64; 24]);
        assert!(matches!(
            err("concat", &[a.clone(), d], &[("num_args", "2")]),
            Error::DType { .. }
        ));
        assert_eq!(
            run(
                "concat",
                &[iota(&[2, 0]), iota(&[2, 3])],
                &[("num_args", "2")]
            )
            .shape()
            .dims(),
            &[2, 3]
        );

        let m = iota(&[2, 3]);
        let o = run("stack", &[m.clone(), m.clone()], &[("num_args", "2")]);
        assert_eq!(
            (o.shape().dims(), f32s(&o)),
            (&[2usize, 2, 3][..], [f32s(&m), f32s(&m)].concat())
        );
        let o = run(
            "stack",
            &[m.clone(), m.clone()],
            &[("num_args", "2"), ("axis", "-1")],
        );
        assert_eq!(o.shape().dims(), &[2, 3, 2]);
        assert_eq!(f32s(&o)[..6], [0.0, 0.0, 1.0, 1.0, 2.0, 2.0]);
        assert!(matches!(
            err(
                "stack",
                &[m.clone(), m.clone()],
                &[("num_args", "2"), ("axis", "3")]
            ),
            Error::Shape { .. }
        ));
        assert!(matches!(
            err("stack", &[m.clone(), iota(&[3, 2])], &[("num_args", "2")]),
            Error::Shape { .. }
        ));

        let parts =
            crate::op::call_str("split", &[a.clone()], &[("num_outputs", "3")]).expect("split");
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[1].shape().dims(), &[2, 1, 4]);
        assert_eq!(
            f32s(&parts[1]),
            vec![4.0, 5.0, 6.0, 7.0, 16.0, 17.0, 18.0, 19.0]
        );
        let parts = crate::op::call_str(
            "SliceChannel",
            &[a.clone()],
            &[("num_outputs", "3"), ("squeeze_axis", "True")],
        )
        .expect("split");
        assert_eq!(parts[2].shape().dims(), &[2, 4]);
        assert_eq!(
            f32s(&parts[2]),
            vec![8.0, 9.0, 10.0, 11.0, 20.0, 21.0, 22.0, 23.0]
        );
        let parts = crate::op::call_str(
            "split",
            &[a.clone()],
            &[("num_outputs", "2"), ("axis", "-1")],
        )
        .expect("split");
        assert_eq!(f32s(&parts[1])[..4], [2.0, 3.0, 6.0, 7.0]);
        let e = err("split", &[a.clone()], &[("num_outputs", "2")]);
        assert!(e.to_string().contains("[2,3,4]"), "{e}");
        assert!(matches!(
            err("split", &[a.clone()], &[("num_outputs", "0")]),
            Error::Param { .. }
        ));
        let parts = crate::op::call_str(
            "split",
            &[a.clone()],
            &[("num_outputs", "2"), ("axis", "0"), ("squeeze_axis", "1")],
        )
        .expect("split");
        assert_eq!(parts[1].shape().dims(), &[3, 4]);
        assert!(matches!(
            err(
                "split",
                &[iota(&[4, 2])],
                &[("num_outputs", "2"), ("axis", "0"), ("squeeze_axis", "1")]
            ),
            Error::Shape { .. }
        ));
    }
}
