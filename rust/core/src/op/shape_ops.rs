//! Shape changes: `Reshape`, `Flatten`, `expand_dims`, `squeeze`; plus the helpers the other
//! layout families (`broadcast`, `concat`, `transpose`, `slice`) build on. Every result is a
//! new array (the Python layer makes views itself): ops that only change the shape are one
//! memcpy, the others one strided walk of the input.

use super::params::param;
use super::{expect_inputs, Desc, FnOp, GradArgs, Inputs, Operator, Params, Registry, SimpleDef};
use crate::error::{Error, Result};
use crate::graph::{Entry, GradBuilder};
use crate::kernels::cpu::strided::{copy_all, copy_walk, Walk};
use crate::shape::{norm_axis, Shape};
use crate::with_dtype;
use std::sync::Arc;

/// How an op's output is read out of its first input: the iteration shape, whose row-major
/// order is the output's element order, and the input walk over it.
pub(super) struct View {
    pub out: Shape,
    pub dims: Vec<usize>,
    pub walk: Walk,
}

impl View {
    /// A view iterating over the output shape itself.
    pub fn direct(out: Shape, offset: isize, strides: Vec<isize>) -> View {
        View {
            dims: out.0.clone(),
            out,
            walk: Walk::new(offset, strides),
        }
    }
}

/// Row-major strides in elements, signed for walks.
pub(super) fn istrides(s: &Shape) -> Vec<isize> {
    s.strides().iter().map(|&x| x as isize).collect()
}

/// Product of dims, or None on overflow (user-given shapes may be absurd).
pub(super) fn checked_size(dims: &[usize]) -> Option<usize> {
    dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d))
}

/// Normalises an axis that may also name the position one past the last dim (insertions).
pub(super) fn insert_axis(op: &str, axis: i64, ndim: usize) -> Result<usize> {
    let n = ndim as i64;
    let a = if axis < 0 { axis + n + 1 } else { axis };
    if a < 0 || a > n {
        return Err(Error::shape(
            op,
            format!(
                "axis {axis} is out of range [{}, {n}] for an array of {ndim} dims",
                -n - 1
            ),
        ));
    }
    Ok(a as usize)
}

type PlanFn = dyn Fn(&[&Shape]) -> Result<View> + Send + Sync;

/// An op whose output is one strided walk of its first input; `n_in` inputs are expected
/// (extra inputs only contribute shapes, like `broadcast_like`'s `rhs`).
/// An op whose output is one strided walk of its first input; `n_in` inputs are expected
/// (extra inputs only contribute shapes, like `broadcast_like`'s `rhs`), with its gradient rule.
pub(super) fn view_op_grad(
    name: &'static str,
    n_in: usize,
    plan: impl Fn(&[&Shape]) -> Result<View> + Send + Sync + 'static,
    grad: impl Fn(&mut GradBuilder, &GradArgs) -> Result<Vec<Option<Entry>>> + Send + Sync + 'static,
) -> Arc<dyn Operator> {
    view_fn(name, n_in, Arc::new(plan)).with_grad(grad).arc()
}

/// A view op that reads each input element at most once (slices, permutations, diagonals):
/// its gradient writes the head gradient back through the same walk (`_backward_view`).
pub(super) fn injective_view_op(
    name: &'static str,
    n_in: usize,
    plan: impl Fn(&[&Shape]) -> Result<View> + Send + Sync + 'static,
) -> Arc<dyn Operator> {
    injective_fwd(name, n_in, Arc::new(plan))
}

fn injective_fwd(name: &'static str, n_in: usize, plan: Arc<PlanFn>) -> Arc<dyn Operator> {
    let p = plan.clone();
    view_fn(name, n_in, plan)
        .with_grad(move |g, a| {
            let mut ins = vec![a.out_grads[0].clone()];
            ins.extend(a.inputs.iter().cloned());
            let r = g.apply(scatter_view_op(name, n_in, p.clone()), &ins);
            let mut v = vec![Some(r[0].clone())];
            v.extend((1..n_in).map(|_| None));
            Ok(v)
        })
        .arc()
}

/// `_backward_view(ograd, data, ...)`: zeros shaped like `data` with `ograd` written at the
/// points the forward view read.
fn scatter_view_op(fwd_name: &'static str, n_in: usize, plan: Arc<PlanFn>) -> Arc<dyn Operator> {
    const NAME: &str = "_backward_view";
    #[cfg(feature = "cuda")]
    let gpu = plan.clone();
    let (p1, p2, p3) = (plan.clone(), plan.clone(), plan);
    let op = FnOp::new(
        NAME,
        move |inputs| {
            expect_inputs(NAME, inputs, n_in + 1)?;
            let shapes: Vec<&Shape> = inputs[1..].iter().map(|d| &d.shape).collect();
            let v = p1(&shapes)?;
            if v.out != inputs[0].shape {
                return Err(Error::shape(
                    NAME,
                    format!(
                        "gradient of {fwd_name} has shape {}, the output was {}",
                        inputs[0].shape, v.out
                    ),
                ));
            }
            Ok(vec![Desc::new(inputs[1].shape.clone(), inputs[0].dtype)])
        },
        move |_, ins, outs| {
            let shapes: Vec<&Shape> = ins[1..].iter().map(|a| a.shape()).collect();
            let v = p2(&shapes)?;
            let o = &outs[0];
            if v.out.size() != o.size() {
                with_dtype!(o.dtype(), T, {
                    crate::kernels::cpu::elemwise::fill::<T>(o, T::default())
                });
            }
            copy_walk(&v.dims, &ins[0], &Walk::contiguous(&v.dims), o, &v.walk)
        },
    )
    .with_shape_partial(|ins, outs| {
        if outs[0].is_none() {
            outs[0] = ins[1].clone();
        }
        Ok(())
    })
    .with_grad(move |g, a| {
        let mut ins = vec![a.out_grads[0].clone()];
        ins.extend(a.inputs[2..].iter().cloned());
        let r = g.apply(injective_fwd(fwd_name, n_in, p3.clone()), &ins);
        let mut v = vec![Some(r[0].clone())];
        v.extend((0..n_in).map(|_| None));
        Ok(v)
    });
    #[cfg(feature = "cuda")]
    let op = op.with_cuda(Some(Box::new(move |dev, _, ins, outs| {
        use crate::kernels::cuda::strided;
        let shapes: Vec<&Shape> = ins[1..].iter().map(|a| a.shape()).collect();
        let v = gpu(&shapes)?;
        if v.out.size() != outs[0].size() {
            strided::zero(dev, &outs[0])?;
        }
        let src = Walk::contiguous(&v.dims);
        strided::copy_walk(dev, &v.dims, &ins[0], &src, &outs[0], &v.walk)
    })));
    op.arc()
}

fn view_fn(name: &'static str, n_in: usize, plan: Arc<PlanFn>) -> FnOp {
    let fwd = plan.clone();
    #[cfg(feature = "cuda")]
    let gpu = plan.clone();
    let op = FnOp::new(
        name,
        move |inputs| {
            expect_inputs(name, inputs, n_in)?;
            let shapes: Vec<&Shape> = inputs.iter().map(|d| &d.shape).collect();
            let v = plan(&shapes)?;
            Ok(vec![Desc::new(v.out, inputs[0].dtype)])
        },
        move |_, ins, outs| {
            let shapes: Vec<&Shape> = ins.iter().map(|a| a.shape()).collect();
            let v = fwd(&shapes)?;
            copy_walk(
                &v.dims,
                &ins[0],
                &v.walk,
                &outs[0],
                &Walk::contiguous(&v.dims),
            )
        },
    )
    .with_type_partial(super::data_type_only);
    #[cfg(feature = "cuda")]
    let op = op.with_cuda(Some(Box::new(move |dev, _, ins, outs| {
        let shapes: Vec<&Shape> = ins.iter().map(|a| a.shape()).collect();
        let v = gpu(&shapes)?;
        let out = Walk::contiguous(&v.dims);
        crate::kernels::cuda::strided::copy_walk(dev, &v.dims, &ins[0], &v.walk, &outs[0], &out)
    })));
    op
}

/// An op that only changes the shape: the output is a byte copy of the input.
fn reshape_like_op(
    name: &'static str,
    shape_fn: impl Fn(&Shape) -> Result<Shape> + Send + Sync + 'static,
) -> Arc<dyn Operator> {
    reshape_fn(name, shape_fn).arc()
}

fn reshape_fn(
    name: &'static str,
    shape_fn: impl Fn(&Shape) -> Result<Shape> + Send + Sync + 'static,
) -> FnOp {
    let op = FnOp::new(
        name,
        move |inputs| {
            expect_inputs(name, inputs, 1)?;
            let out = shape_fn(&inputs[0].shape)?;
            if checked_size(&out.0) != Some(inputs[0].shape.size()) {
                return Err(Error::shape(
                    name,
                    format!(
                        "cannot reshape array of shape {} into shape {}",
                        inputs[0].shape, out
                    ),
                ));
            }
            Ok(vec![Desc::new(out, inputs[0].dtype)])
        },
        |_, ins, outs| copy_all(&ins[0], &outs[0]),
    )
    .with_shape_partial(size_back_partial)
    .with_grad(reshape_grad);
    let op = FnOp {
        reshape: true,
        ..op
    };
    #[cfg(feature = "cuda")]
    let op = op.with_cuda(Some(crate::kernels::cuda::copy_bytes()));
    op
}

/// A reshape keeps the size: a known output fixes the input's one unknown (0) dim, as MXNet
/// infers `data` of `(0, 3, 5, 5)` reshaped to a `(2, 75)` it is added to. (The forward
/// direction is left to the graph's probing of the complete rule.)
fn size_back_partial(ins: &mut [Option<Shape>], outs: &mut [Option<Shape>]) -> Result<()> {
    let (Some(Some(d)), Some(Some(o))) = (ins.first(), outs.first()) else {
        return Ok(());
    };
    let unknown: Vec<usize> = (0..d.ndim()).filter(|&i| d[i] == 0).collect();
    let known: usize = d.0.iter().filter(|&&x| x != 0).product();
    if let [u] = unknown[..] {
        if o.ndim() > 0 && !o.0.contains(&0) && o.size().is_multiple_of(known) {
            let mut full = d.clone();
            full.0[u] = o.size() / known;
            ins[0] = Some(full);
        }
    }
    Ok(())
}

/// The dims `[begin, end)` of a reshape_like range (MXNet: None = the ends, negative counts
/// from the back).
type Span = (Option<i64>, Option<i64>);

fn span(which: &str, (b, e): Span, s: &Shape) -> Result<(usize, usize)> {
    let nd = s.ndim() as i64;
    let at = |v: Option<i64>, dflt: i64, arg: &str| -> Result<usize> {
        let v = v.unwrap_or(dflt);
        let w = if v < 0 { v + nd } else { v };
        if !(0..=nd).contains(&w) {
            return Err(Error::shape(
                "reshape_like",
                format!("{which}_{arg}={v} is out of range for {which} of shape {s}"),
            ));
        }
        Ok(w as usize)
    };
    let (b, e) = (at(b, 0, "begin")?, at(e, nd, "end")?);
    if b > e {
        return Err(Error::shape(
            "reshape_like",
            format!("{which}_begin must not be after {which}_end (dims {b} and {e} of {s})"),
        ));
    }
    Ok((b, e))
}

/// `reshape_like(lhs, rhs)`: `lhs`'s elements in `rhs`'s shape, or with `lhs`'s dims
/// `[lhs_begin, lhs_end)` replaced by `rhs`'s `[rhs_begin, rhs_end)`.
fn reshape_to_like_op(lhs: Span, rhs: Span) -> Arc<dyn Operator> {
    const NAME: &str = "reshape_like";
    let whole = lhs == (None, None) && rhs == (None, None);
    let target = move |l: &Shape, r: &Shape| -> Result<Shape> {
        let (lb, le) = span("lhs", lhs, l)?;
        let (rb, re) = span("rhs", rhs, r)?;
        let dims = [&l.0[..lb], &r.0[rb..re], &l.0[le..]].concat();
        if dims.iter().product::<usize>() != l.size() {
            return Err(Error::shape(
                NAME,
                format!(
                    "cannot reshape lhs of shape {l} like rhs of shape {r}: the result {} has a \
                     different size",
                    Shape(dims)
                ),
            ));
        }
        Ok(Shape(dims))
    };
    let op = FnOp::new(
        NAME,
        move |inputs| {
            expect_inputs(NAME, inputs, 2)?;
            let out = target(&inputs[0].shape, &inputs[1].shape)?;
            Ok(vec![Desc::new(out, inputs[0].dtype)])
        },
        |_, ins, outs| copy_all(&ins[0], &outs[0]),
    );
    FnOp {
        reshape: true,
        ..op
    }
    .with_shape_partial(move |ins, outs| {
        if outs[0].is_none() && whole {
            outs[0] = ins[1].clone();
        }
        Ok(())
    })
    .with_type_partial(|ins, outs| super::unify_types(NAME, &mut ins[..1], outs))
    .with_grad(|g, a| {
        let r = g.op1(NAME, &[], &[a.out_grads[0].clone(), a.inputs[0].clone()])?;
        Ok(vec![Some(r), None])
    })
    .arc()
}

/// Gradient of the ops that only change the shape: the head gradient in the input's shape.
fn reshape_grad(g: &mut GradBuilder, a: &GradArgs) -> Result<Vec<Option<Entry>>> {
    let r = g.op1(
        "reshape_like",
        &[],
        &[a.out_grads[0].clone(), a.inputs[0].clone()],
    )?;
    Ok(vec![Some(r)])
}

/// One token of a `Reshape` shape spec; `-4` takes its two split dims with it.
#[derive(Clone, Copy)]
enum Tok {
    Dim(usize),
    Keep,
    Infer,
    Rest,
    Merge,
    Split(i64, i64),
}

/// MXNet's `Reshape` shape codes: 0 copies a dim, -1 infers one, -2 copies the rest, -3
/// merges two, -4 splits one into the next two values; `reverse` matches them from the right.
/// Unlike MXNet, the result must have the input's size.
pub fn infer_reshape(op: &str, ishape: &Shape, spec: &[i64], reverse: bool) -> Result<Shape> {
    let bad = |msg: String| {
        Error::shape(
            op,
            format!("cannot reshape array of shape {ishape} with shape={spec:?}: {msg}"),
        )
    };
    // Under `reverse` the codes are read right to left, as MXNet reads them: `(16, 4, -4)`
    // splits the last dim into (16, 4).
    let spec: Vec<i64> = match reverse {
        true => spec.iter().rev().copied().collect(),
        false => spec.to_vec(),
    };
    let mut toks = Vec::with_capacity(spec.len());
    let mut i = 0;
    while i < spec.len() {
        toks.push(match spec[i] {
            d if d > 0 => Tok::Dim(d as usize),
            0 => Tok::Keep,
            -1 => Tok::Infer,
            -2 => Tok::Rest,
            -3 => Tok::Merge,
            -4 => {
                if i + 2 >= spec.len() {
                    return Err(bad(format!(
                        "-4 must be {} by the two dims to split into",
                        if reverse { "preceded" } else { "followed" }
                    )));
                }
                i += 2;
                match reverse {
                    true => Tok::Split(spec[i], spec[i - 1]),
                    false => Tok::Split(spec[i - 1], spec[i]),
                }
            }
            d => {
                return Err(bad(format!(
                    "{d} is not a dim nor a special code (0, -1, -2, -3, -4)"
                )))
            }
        });
        i += 1;
    }
    let mut src = ishape.0.clone();
    if reverse {
        src.reverse();
    }
    let mut out: Vec<usize> = Vec::with_capacity(spec.len() + src.len());
    let mut si = 0usize;
    let mut inferred: Option<usize> = None;
    for t in toks {
        match t {
            Tok::Dim(d) => {
                out.push(d);
                si += 1;
            }
            Tok::Keep => {
                let d = *src
                    .get(si)
                    .ok_or_else(|| bad(format!("0 copies input dim {si}, which does not exist")))?;
                out.push(d);
                si += 1;
            }
            Tok::Infer => {
                if inferred.is_some() {
                    return Err(bad("only one dim can be inferred (-1)".into()));
                }
                inferred = Some(out.len());
                out.push(1);
                si += 1;
            }
            Tok::Rest => {
                out.extend_from_slice(src.get(si..).unwrap_or(&[]));
                si = src.len();
            }
            Tok::Merge => {
                if si + 1 >= src.len() {
                    return Err(bad(format!(
                        "-3 merges input dims {si} and {}, which do not exist",
                        si + 1
                    )));
                }
                let d = src[si]
                    .checked_mul(src[si + 1])
                    .ok_or_else(|| bad("merged dim overflows".into()))?;
                out.push(d);
                si += 2;
            }
            Tok::Split(d1, d2) => {
                let d0 = *src.get(si).ok_or_else(|| {
                    bad(format!("-4 splits input dim {si}, which does not exist"))
                })?;
                si += 1;
                let part = |d: i64| -> Result<Option<usize>> {
                    match d {
                        -1 => Ok(None),
                        d if d > 0 => Ok(Some(d as usize)),
                        d => Err(bad(format!(
                            "-4 split dims must be positive or -1, got {d}"
                        ))),
                    }
                };
                let (a, b) = match (part(d1)?, part(d2)?) {
                    (Some(a), Some(b)) => (a, b),
                    (None, Some(b)) if d0 % b == 0 => (d0 / b, b),
                    (Some(a), None) if d0 % a == 0 => (a, d0 / a),
                    (None, None) => return Err(bad("-4 split dims cannot both be -1".into())),
                    _ => {
                        return Err(bad(format!(
                            "split dims {d1}, {d2} do not divide input dim {d0}"
                        )))
                    }
                };
                if a.checked_mul(b) != Some(d0) {
                    return Err(bad(format!(
                        "split dims {a}, {b} do not multiply to input dim {d0}"
                    )));
                }
                // Tokens run right to left under `reverse`; the pair keeps its written order.
                if reverse {
                    out.extend([b, a]);
                } else {
                    out.extend([a, b]);
                }
            }
        }
    }
    if let Some(k) = inferred {
        let known = checked_size(&out).ok_or_else(|| bad("target size overflows".into()))?;
        let total = ishape.size();
        if known == 0 || !total.is_multiple_of(known) {
            return Err(bad(format!(
                "cannot infer the -1 dim: {total} elements do not split into {known}s"
            )));
        }
        out[k] = total / known;
    }
    if reverse {
        out.reverse();
    }
    let out = Shape(out);
    if checked_size(&out.0) != Some(ishape.size()) {
        return Err(Error::shape(
            op,
            format!("cannot reshape array of shape {ishape} into shape {out} (shape={spec:?}): sizes differ"),
        ));
    }
    Ok(out)
}

/// The deprecated `target_shape`/`keep_highest` form: at most one 0, which is inferred.
fn legacy_reshape(ishape: &Shape, target: &[i64], keep_highest: bool) -> Result<Shape> {
    let bad = |msg: &str| {
        Error::shape(
            "Reshape",
            format!("target_shape={target:?} for input {ishape}: {msg}"),
        )
    };
    let mut out: Vec<usize> = Vec::with_capacity(target.len());
    for &d in target {
        out.push(usize::try_from(d).map_err(|_| bad("dims must be non-negative"))?);
    }
    let start = usize::from(keep_highest);
    if keep_highest {
        let (Some(o), Some(&d)) = (out.first_mut(), ishape.0.first()) else {
            return Err(bad("keep_highest needs at least one dim"));
        };
        *o = d;
    }
    let zeros: Vec<usize> = (start..out.len()).filter(|&i| out[i] == 0).collect();
    match zeros.as_slice() {
        [] => {}
        [k] => {
            out[*k] = 1;
            let known = checked_size(&out).ok_or_else(|| bad("size overflows"))?;
            if known == 0 || !ishape.size().is_multiple_of(known) {
                return Err(bad("cannot infer the 0 dim"));
            }
            out[*k] = ishape.size() / known;
        }
        _ => return Err(bad("only one dim can be 0 (inferred)")),
    }
    Ok(Shape(out))
}

fn reshape_create(p: &Params) -> Result<Arc<dyn Operator>> {
    let spec = p.ints("shape")?;
    let reverse = p.bool("reverse")?;
    let target = p.ints("target_shape")?;
    let keep = p.bool("keep_highest")?;
    if spec.is_empty() && !target.is_empty() {
        return Ok(reshape_like_op("Reshape", move |s| {
            legacy_reshape(s, &target, keep)
        }));
    }
    // a shape of plain sizes is the output whatever the input: it fills the input's unknown dim
    let fixed = spec
        .iter()
        .map(|&d| usize::try_from(d).ok().filter(|&d| d > 0))
        .collect::<Option<Vec<usize>>>()
        .filter(|d| !d.is_empty());
    let op = reshape_fn("Reshape", move |s| {
        infer_reshape("Reshape", s, &spec, reverse)
    });
    Ok(match fixed {
        Some(out) => op.with_shape_partial(move |ins, outs| {
            crate::graph::infer::refine(&mut outs[0], Shape(out.clone()));
            size_back_partial(ins, outs)
        }),
        None => op,
    }
    .arc())
}

fn squeeze_shape(s: &Shape, axes: &Option<Vec<i64>>) -> Result<Shape> {
    let mut keep = vec![true; s.ndim()];
    match axes {
        None => {
            for (k, &d) in keep.iter_mut().zip(&s.0) {
                *k = d != 1;
            }
        }
        Some(axes) => {
            for &a in axes {
                let i = norm_axis(a, s.ndim(), "squeeze")?;
                if !keep[i] {
                    return Err(Error::shape(
                        "squeeze",
                        format!("duplicate value {a} in axis {axes:?}"),
                    ));
                }
                if s[i] != 1 {
                    return Err(Error::shape(
                        "squeeze",
                        format!("cannot select axis {a} of shape {s} to squeeze out: it has size {} != 1", s[i]),
                    ));
                }
                keep[i] = false;
            }
        }
    }
    let out: Vec<usize> =
        s.0.iter()
            .zip(&keep)
            .filter(|(_, &k)| k)
            .map(|(&d, _)| d)
            .collect();
    // MXNet never returns a 0-d array from squeeze.
    Ok(Shape(if out.is_empty() { vec![1] } else { out }))
}

/// An int tuple as an attribute value (`(1,)`, `(0, 2)`) for ops built in gradient graphs.
pub(crate) fn tuple_attr(v: &[i64]) -> String {
    match v {
        [x] => format!("({x},)"),
        _ => format!(
            "({})",
            v.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A table row: an op definition from its name, doc, parameters, inputs and constructor.
pub(super) fn def(
    name: &'static str,
    doc: &str,
    params: Vec<super::ParamSpec>,
    inputs: Inputs,
    create: impl Fn(&Params) -> Result<Arc<dyn Operator>> + Send + Sync + 'static,
) -> SimpleDef {
    SimpleDef {
        name,
        doc: doc.into(),
        params,
        inputs,
        create: Box::new(create),
    }
}

pub fn register(r: &mut Registry) {
    let data = Inputs::Fixed(&["data"]);
    r.add(def(
        "Reshape",
        "Reshapes the input array. Special codes in `shape`: 0 copies a dim, -1 infers one, -2 copies the remaining dims, -3 merges two dims, -4 splits a dim into the two values that follow; `reverse` matches them right to left. The total size must not change.",
        vec![
            param("shape", "Shape(tuple)", Some("()"), "The target shape"),
            param("reverse", "boolean", Some("False"), "If true then the special values are inferred from right to left"),
            param("target_shape", "Shape(tuple)", Some("()"), "(Deprecated! Use ``shape`` instead.) Target new shape. One and only one dim can be 0, in which case it will be inferred from the rest of dims"),
            param("keep_highest", "boolean", Some("False"), "(Deprecated! Use ``shape`` instead.) Whether keep the highest dim unchanged."),
        ],
        data,
        reshape_create,
    ));
    r.alias("reshape", "Reshape");
    r.add(def(
        "Flatten",
        "Flattens the input array into a 2-D array by collapsing the higher dimensions: (d1, d2*...*dk).",
        vec![],
        data,
        |_| {
            Ok(reshape_like_op("Flatten", |s| {
                Ok(match s.0.split_first() {
                    Some((&d0, rest)) => Shape(vec![d0, rest.iter().product()]),
                    None => Shape(vec![1, 1]),
                })
            }))
        },
    ));
    r.alias("flatten", "Flatten");
    r.add(def(
        "expand_dims",
        "Inserts a new axis of size 1 into the array shape at `axis` (in [-ndim-1, ndim]).",
        vec![param(
            "axis",
            "int",
            None,
            "Position where new axis is to be inserted.",
        )],
        data,
        |p| {
            let axis = p.int("axis")?;
            Ok(reshape_like_op("expand_dims", move |s| {
                let mut out = s.0.clone();
                out.insert(insert_axis("expand_dims", axis, s.ndim())?, 1);
                Ok(Shape(out))
            }))
        },
    ));
    r.add(def(
        "reshape_like",
        "Reshapes `lhs` to the shape of `rhs` (same number of elements), or replaces lhs's dims \
         [lhs_begin, lhs_end) by rhs's dims [rhs_begin, rhs_end).",
        ["lhs_begin", "lhs_end", "rhs_begin", "rhs_end"]
            .iter()
            .map(|n| {
                param(
                    n,
                    "int or None",
                    Some("None"),
                    "Range of dims; None is an end.",
                )
            })
            .collect(),
        Inputs::Fixed(&["lhs", "rhs"]),
        |p| {
            let lhs = (p.opt_int("lhs_begin")?, p.opt_int("lhs_end")?);
            let rhs = (p.opt_int("rhs_begin")?, p.opt_int("rhs_end")?);
            Ok(reshape_to_like_op(lhs, rhs))
        },
    ));
    r.add(def(
        "squeeze",
        "Removes axes of length one (all of them, or those in `axis`, which must have length one).",
        vec![param(
            "axis",
            "Shape or None",
            Some("None"),
            "Selects a subset of the single-dimensional entries in the shape.",
        )],
        data,
        |p| {
            let axes = p.opt_ints("axis")?;
            Ok(reshape_like_op("squeeze", move |s| squeeze_shape(s, &axes)))
        },
    ));
}

#[cfg(test)]
// Array handles are cheap clones; `&[x.clone()]` reads better than `from_ref` in op calls.
#[allow(clippy::cloned_ref_to_slice_refs)]
mod tests {
    use super::infer_reshape;
    use crate::error::Error;
    use crate::op::test_util::{err, f32s, iota, run};
    use crate::shape::Shape;

    #[test]
    fn reshape_codes() {
        let s = Shape::new(vec![2, 3, 4]);
        let cases: &[(&[i64], bool, &[usize])] = &[
            (&[0, -1], false, &[2, 12]),
            (&[-2], false, &[2, 3, 4]),
            (&[-3, 4], false, &[6, 4]),
            (&[-4, 1, 2, -2], false, &[1, 2, 3, 4]),
            (&[-4, -1, 2, -2], false, &[1, 2, 3, 4]),
            (&[2, -4, -1, 3, 4], false, &[2, 1, 3, 4]),
            (&[-1, 0], true, &[6, 4]),
            (&[1, -1, 4, 1], false, &[1, 6, 4, 1]),
            (&[-2, 1], false, &[2, 3, 4, 1]),
            (&[-3, 0], false, &[6, 4]),
            (&[-3, -2], false, &[6, 4]),
            (&[-2, -1], false, &[2, 3, 4, 1]),
            (&[4, -1], true, &[4, 6]),
            (&[-1, 2, 0, 0], true, &[1, 2, 3, 4]),
            (&[24], false, &[24]),
        ];
        for (spec, rev, want) in cases {
            let got = infer_reshape("Reshape", &s, spec, *rev)
                .unwrap_or_else(|e| panic!("{spec:?}: {e}"));
            assert_eq!(got.dims(), *want, "{spec:?} reverse={rev}");
        }
        for spec in [
            &[5i64, 5][..],
            &[-1, -1],
            &[0, 0, 0, 0],
            &[-3, -3],
            &[-4, -1, -1, 4],
            &[-4, 5, -1, -2],
            &[-1, 5],
            &[-5],
            &[],
        ] {
            let e = infer_reshape("Reshape", &s, spec, false).expect_err(&format!("{spec:?}"));
            assert!(e.to_string().contains("[2,3,4]"), "{e}");
        }
        let s8 = Shape::new(vec![2, 3, 8]);
        assert_eq!(
            // Read right to left (MXNet): -4 splits the last dim into the two before it.
            infer_reshape("Reshape", &s8, &[0, 0, 4, -1, -4], true)
                .expect("split")
                .dims(),
            &[2, 3, 4, 2]
        );
        assert!(infer_reshape("Reshape", &s, &[5, 5], false)
            .expect_err("size")
            .to_string()
            .contains("[5,5]"));
        assert_eq!(
            infer_reshape("Reshape", &Shape::new(vec![2, 0, 3]), &[0, -2], false)
                .expect("zero")
                .dims(),
            &[2, 0, 3]
        );
        assert!(infer_reshape("Reshape", &Shape::new(vec![2, 0, 3]), &[-1, 0], false).is_err());
    }

    #[test]
    fn reshape_ops() {
        let x = iota(&[2, 3, 4]);
        let o = run(
            "reshape",
            &[x.clone()],
            &[("shape", "(-1, 0)"), ("reverse", "True")],
        );
        assert_eq!((o.shape().dims(), f32s(&o)), (&[6usize, 4][..], f32s(&x)));
        assert_eq!(
            run("Reshape", &[x.clone()], &[("target_shape", "(0, 12)")])
                .shape()
                .dims(),
            &[2, 12]
        );
        assert_eq!(
            run("Reshape", &[x.clone()], &[("target_shape", "(6, 0)")])
                .shape()
                .dims(),
            &[6, 4]
        );
        let o = run(
            "Reshape",
            &[x.clone()],
            &[("target_shape", "(12, 0)"), ("keep_highest", "True")],
        );
        assert_eq!(o.shape().dims(), &[2, 12]);
        let e = err("Reshape", &[x.clone()], &[("shape", "(5, 5)")]);
        assert!(
            matches!(e, Error::Shape { .. }) && e.to_string().contains("[2,3,4]"),
            "{e}"
        );
        assert_eq!(
            run("Reshape", &[iota(&[1])], &[("shape", "()")])
                .shape()
                .dims(),
            &[] as &[usize]
        );
        let o = run("Flatten", &[x.clone()], &[]);
        assert_eq!((o.shape().dims(), f32s(&o)), (&[2usize, 12][..], f32s(&x)));
        assert_eq!(run("flatten", &[iota(&[3])], &[]).shape().dims(), &[3, 1]);
        assert_eq!(
            run("flatten", &[iota(&[0, 3])], &[]).shape().dims(),
            &[0, 3]
        );
        assert_eq!(
            run("expand_dims", &[x.clone()], &[("axis", "3")])
                .shape()
                .dims(),
            &[2, 3, 4, 1]
        );
        assert_eq!(
            run("expand_dims", &[x.clone()], &[("axis", "-4")])
                .shape()
                .dims(),
            &[1, 2, 3, 4]
        );
        assert_eq!(
            run("expand_dims", &[x.clone()], &[("axis", "-1")])
                .shape()
                .dims(),
            &[2, 3, 4, 1]
        );
        assert!(matches!(
            err("expand_dims", &[x.clone()], &[("axis", "4")]),
            Error::Shape { .. }
        ));
        assert!(matches!(
            err("expand_dims", &[x.clone()], &[("axis", "-5")]),
            Error::Shape { .. }
        ));
        assert!(matches!(
            err("expand_dims", &[x.clone()], &[]),
            Error::Param { .. }
        ));
        let y = iota(&[1, 2, 1]);
        assert_eq!(run("squeeze", &[y.clone()], &[]).shape().dims(), &[2]);
        assert_eq!(run("squeeze", &[iota(&[1, 1])], &[]).shape().dims(), &[1]);
        assert_eq!(
            run("squeeze", &[y.clone()], &[("axis", "(0,)")])
                .shape()
                .dims(),
            &[2, 1]
        );
        let o = run("squeeze", &[y.clone()], &[("axis", "-1")]);
        assert_eq!(
            (o.shape().dims(), f32s(&o)),
            (&[1usize, 2][..], vec![0.0, 1.0])
        );
        assert!(err("squeeze", &[y.clone()], &[("axis", "1")])
            .to_string()
            .contains("size 2"));
        assert!(err("squeeze", &[y.clone()], &[("axis", "(0, 0)")])
            .to_string()
            .contains("duplicate"));
    }
}
