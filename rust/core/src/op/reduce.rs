//! Reductions over axes (`sum`, `mean`, `prod`, `max`, `min`, `nansum`, `nanprod`, `norm`) and
//! index searches (`argmax`, `argmin`, `argmax_channel`). Shapes follow MXNet 1.x: reducing
//! every axis without keepdims gives shape (1,), never (); the output dtype is the input's.

use super::params::{param, ParamSpec};
use super::shape_ops::{istrides, View};
use super::{expect_inputs, Desc, FnOp, GradArgs, Inputs, Operator, Registry, SimpleDef};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::graph::{Entry, GradBuilder};
use crate::kernels::cpu::cast::cast_into;
use crate::kernels::cpu::elemwise::{unary, Arith};
use crate::kernels::cpu::reduce::{
    permute_copy, reduce, reduce_runs, Acc, ArgExtreme, Extreme, Fold, RedElem, Reducer, Sum,
    RUN_MIN,
};
use crate::kernels::cpu::strided::{copy_all, copy_walk, Walk};
use crate::kernels::cpu::Ptr;
use crate::ndarray::NDArray;
use crate::shape::{norm_axis, Shape};
use crate::with_dtype;
use std::sync::Arc;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Sum,
    Mean,
    Prod,
    Max,
    Min,
    NanSum,
    NanProd,
    Norm1,
    Norm2,
}

/// The input seen as (outer, r, inner), reduced over r.
#[derive(Clone, Debug, PartialEq)]
struct Geom {
    outer: usize,
    r: usize,
    inner: usize,
    /// The reduced axes are not adjacent and no single (outer, r, inner) view covers them:
    /// the input's merged axes and which of them are reduced.
    permute: Option<(Vec<usize>, Vec<bool>)>,
}

impl Geom {
    fn new(outer: usize, r: usize, inner: usize) -> Geom {
        Geom {
            outer,
            r,
            inner,
            permute: None,
        }
    }
}

/// Output shape and reduced-axis mask (MXNet `ReduceAxesShapeImpl`): `None` or `()` reduces
/// every axis; `exclude` reduces every axis not listed.
fn reduce_shape(
    op: &str,
    shape: &Shape,
    axis: Option<&[i64]>,
    keepdims: bool,
    exclude: bool,
) -> Result<(Shape, Vec<bool>)> {
    let nd = shape.ndim();
    let axes = match axis {
        Some(a) if !a.is_empty() => a,
        _ => {
            let out = if keepdims { vec![1; nd] } else { vec![1] };
            return Ok((Shape(out), vec![true; nd]));
        }
    };
    let mut ax = Vec::with_capacity(axes.len());
    for &a in axes {
        let v = if a < 0 { a + nd as i64 } else { a };
        if v < 0 || v >= nd as i64 {
            return Err(Error::shape(
                op,
                format!("Reduction axis {a} exceeds input dimensions {shape}"),
            ));
        }
        ax.push(v as usize);
    }
    ax.sort_unstable();
    if ax.windows(2).any(|w| w[0] == w[1]) {
        return Err(Error::shape(
            op,
            format!("Reduction axes have duplicates {axes:?} for input {shape}"),
        ));
    }
    let mask: Vec<bool> = (0..nd)
        .map(|d| ax.binary_search(&d).is_ok() != exclude)
        .collect();
    let dims = shape.dims();
    let out: Vec<usize> = if keepdims {
        (0..nd).map(|d| if mask[d] { 1 } else { dims[d] }).collect()
    } else {
        let kept: Vec<usize> = (0..nd).filter(|&d| !mask[d]).map(|d| dims[d]).collect();
        if kept.is_empty() {
            vec![1]
        } else {
            kept
        }
    };
    Ok((Shape(out), mask))
}

fn geometry(dims: &[usize], mask: &[bool]) -> Geom {
    // Size-1 axes belong to either side; neighbours of one kind merge into one axis.
    let mut groups: Vec<(usize, bool)> = Vec::new();
    for (&d, &m) in dims.iter().zip(mask) {
        if d == 1 {
            continue;
        }
        match groups.last_mut() {
            Some(g) if g.1 == m => g.0 *= d,
            _ => groups.push((d, m)),
        }
    }
    let prod = |gs: &[(usize, bool)]| gs.iter().map(|g| g.0).product::<usize>();
    let reduced: Vec<usize> = (0..groups.len()).filter(|&i| groups[i].1).collect();
    match reduced.as_slice() {
        [] => Geom::new(prod(&groups), 1, 1),
        &[k] => Geom::new(prod(&groups[..k]), groups[k].0, prod(&groups[k + 1..])),
        _ => {
            let r = reduced.iter().map(|&i| groups[i].0).product::<usize>();
            let outer = groups.iter().filter(|g| !g.1).map(|g| g.0).product();
            Geom {
                outer,
                r,
                inner: 1,
                permute: Some(groups.into_iter().unzip()),
            }
        }
    }
}

/// Runs `red` over the input as `g` sees it.
fn apply<T: RedElem, R: Reducer<T>>(red: &R, src: &[T], dst: Ptr<T>, g: &Geom) {
    match &g.permute {
        Some((dims, reduced))
            if reduced.last() == Some(&true) && dims[dims.len() - 1] >= RUN_MIN =>
        {
            reduce_runs(red, src, dst, dims, reduced)
        }
        Some((dims, reduced)) => {
            let (kept, folded): (Vec<usize>, Vec<usize>) =
                (0..dims.len()).partition(|&d| !reduced[d]);
            let perm: Vec<usize> = kept.into_iter().chain(folded).collect();
            reduce(
                red,
                &permute_copy(src, dims, &perm),
                dst,
                g.outer,
                g.r,
                g.inner,
            )
        }
        None => reduce(red, src, dst, g.outer, g.r, g.inner),
    }
}

/// Runs one fold whose step ignores the element position.
fn fold<T: RedElem>(
    src: &[T],
    dst: Ptr<T>,
    g: &Geom,
    init: T::A,
    step: impl Fn(T::A, T) -> T::A + Sync,
    merge: impl Fn(T::A, T::A) -> T::A + Sync,
    finish: impl Fn(T::A, usize) -> T + Sync,
) {
    let red = Fold {
        init,
        step: |a, x, _| step(a, x),
        merge,
        finish,
    };
    apply(&red, src, dst, g);
}

fn values<T: RedElem>(kind: Kind, src: &[T], dst: Ptr<T>, g: &Geom) {
    let (zero, one) = (<T::A as Acc>::ZERO, <T::A as Acc>::ONE);
    let add = |a: T::A, b: T::A| a.add(b);
    let mul = |a: T::A, b: T::A| a.mul(b);
    let lower = |a: T::A, _| T::lower(a);
    #[allow(clippy::eq_op)]
    let or_nan = |x: T, v: T::A| if x != x { v } else { x.lift() };
    match kind {
        Kind::Sum | Kind::Mean => {
            let red = Sum {
                mean: kind == Kind::Mean,
            };
            apply(&red, src, dst, g)
        }
        Kind::NanSum => fold(src, dst, g, zero, |a, x| a.add(or_nan(x, zero)), add, lower),
        Kind::Prod => fold(src, dst, g, one, |a, x| a.mul(x.lift()), mul, lower),
        Kind::NanProd => fold(src, dst, g, one, |a, x| a.mul(or_nan(x, one)), mul, lower),
        // Extremes are exact in the element type: folded in it, without widening (f32 max
        // of 1M on one core: 10.5 GB/s widened).
        Kind::Max => {
            let red = Extreme::<T, true> {
                start: T::from_f64(f64::NEG_INFINITY),
            };
            apply(&red, src, dst, g)
        }
        Kind::Min => {
            let red = Extreme::<T, false> {
                start: T::from_f64(f64::INFINITY),
            };
            apply(&red, src, dst, g)
        }
        Kind::Norm1 => fold(src, dst, g, zero, |a, x| a.add(x.lift().abs()), add, lower),
        Kind::Norm2 => norm2(src, dst, g),
    }
}

/// The L2 norm. Floats other than f64 square into f64 without leaving its range; f64
/// squares past 1e154 overflow (below 1e-154 they underflow), so an output out there is
/// recomputed with a scaled sum of squares, as MXNet computes it. Integers square into f64
/// rather than wrapping.
fn norm2<T: RedElem>(src: &[T], dst: Ptr<T>, g: &Geom) {
    let add = |a: f64, b: f64| a + b;
    let root = |a: f64, _| T::from_f64(a.sqrt());
    if !T::DTYPE.is_float() {
        let sq = |a: f64, x: T, _| a + x.to_f64() * x.to_f64();
        return apply(
            &Fold {
                init: 0.0,
                step: sq,
                merge: add,
                finish: root,
            },
            src,
            dst,
            g,
        );
    }
    let sq = |a: T::A, x: T| a.add(x.lift().mul(x.lift()));
    fold(
        src,
        dst,
        g,
        <T::A as Acc>::ZERO,
        sq,
        |a, b| a.add(b),
        |a, _| T::lower(a.sqrt()),
    );
    if T::DTYPE != DType::F64 {
        return;
    }
    // SAFETY: the fold above wrote the outer * inner outputs behind dst; nothing else does.
    let out = unsafe { std::slice::from_raw_parts(dst.0, g.outer * g.inner) };
    if !out
        .iter()
        .any(|v| v.to_f64().is_infinite() || v.to_f64() < 1e-145)
    {
        return;
    }
    // (scale, sum of (x / scale)²), scale the largest |x| so far.
    let step = |(s, q): (f64, f64), x: T, _| {
        let ax = x.to_f64().abs();
        if ax.is_nan() {
            (s, f64::NAN)
        } else if ax > s {
            (ax, 1.0 + q * (s / ax) * (s / ax))
        } else if ax == 0.0 {
            (s, q)
        } else {
            let r = if ax == s { 1.0 } else { ax / s };
            (s, q + r * r)
        }
    };
    let merge = |(s1, q1): (f64, f64), (s2, q2): (f64, f64)| {
        let s = s1.max(s2);
        let part = |si: f64, qi: f64| match si {
            _ if si == s => qi,
            _ => qi * (si / s) * (si / s),
        };
        (s, part(s1, q1) + part(s2, q2))
    };
    let finish = |(s, q): (f64, f64), _| T::from_f64(if s == 0.0 { q } else { s * q.sqrt() });
    apply(
        &Fold {
            init: (0.0, 0.0),
            step,
            merge,
            finish,
        },
        src,
        dst,
        g,
    );
}

/// The elements of an input; an empty array may have no allocation to point at.
pub(crate) fn input_slice<T: Element>(a: &NDArray) -> &[T] {
    if a.size() == 0 {
        return &[];
    }
    // SAFETY: called from the op that reads `a`; T matches its dtype (u8 for bool).
    unsafe { a.data::<T>() }
}

fn run_values(kind: Kind, inp: &NDArray, out: &NDArray, g: &Geom) -> Result<()> {
    // Booleans reduce as any (sum, max, norm) or all (prod, min, mean) so results stay 0/1.
    let kind = match (inp.dtype(), kind) {
        (DType::Bool, Kind::Prod | Kind::NanProd | Kind::Min | Kind::Mean) => Kind::Min,
        (DType::Bool, _) => Kind::Max,
        _ => kind,
    };
    with_dtype!(inp.dtype(), T, {
        let src = input_slice::<T>(inp);
        if out.dtype() == inp.dtype() {
            // SAFETY: as above; out holds outer * inner elements.
            values::<T>(kind, src, unsafe { Ptr(out.raw() as *mut T) }, g);
        } else {
            let mut buf = vec![T::default(); out.size()];
            values::<T>(kind, src, Ptr(buf.as_mut_ptr()), g);
            cast_into(
                &NDArray::from_vec(out.shape().clone(), &buf, out.ctx())?,
                out,
            );
        }
    });
    Ok(())
}

fn reduce_op(
    name: &'static str,
    kind: Kind,
    axis: Option<Vec<i64>>,
    keepdims: bool,
    exclude: bool,
    out_dtype: Option<DType>,
) -> Arc<dyn Operator> {
    let ax = axis.clone();
    let gax = axis.clone();
    #[cfg(feature = "cuda")]
    let cax = axis.clone();
    let op = FnOp::new(
        name,
        move |inputs| {
            expect_inputs(name, inputs, 1)?;
            let d = &inputs[0];
            if matches!(kind, Kind::Max | Kind::Min) && d.shape.size() == 0 {
                return Err(Error::shape(
                    name,
                    format!("Reduction input's size should > 0, got shape {}", d.shape),
                ));
            }
            let (out, _) = reduce_shape(name, &d.shape, ax.as_deref(), keepdims, exclude)?;
            Ok(vec![Desc::new(out, out_dtype.unwrap_or(d.dtype))])
        },
        move |_, ins, outs| {
            let (_, mask) = reduce_shape(name, ins[0].shape(), axis.as_deref(), keepdims, exclude)?;
            run_values(
                kind,
                &ins[0],
                &outs[0],
                &geometry(ins[0].shape().dims(), &mask),
            )
        },
    )
    .with_grad(move |g, a| {
        if out_dtype.is_none() {
            return reduce_grad(g, a, kind, &gax, exclude).map(|e| vec![Some(e)]);
        }
        // `norm(out_dtype=...)`: differentiate in the input's dtype.
        let x = &a.inputs[0];
        let cast = |g: &mut GradBuilder, e: &Entry| {
            g.apply(
                super::elemwise_unary::cast_like_op(),
                &[e.clone(), x.clone()],
            )[0]
            .clone()
        };
        let og = [cast(g, &a.out_grads[0])];
        let args = GradArgs {
            node: a.node,
            inputs: a.inputs,
            outputs: vec![cast(g, &a.outputs[0])],
            out_grads: &og,
            needs: a.needs,
        };
        reduce_grad(g, &args, kind, &gax, exclude).map(|e| vec![Some(e)])
    })
    .with_type_partial(super::dtype_param_or_same(name, out_dtype));
    #[cfg(feature = "cuda")]
    let op = op.with_cuda(match out_dtype {
        None => Some(cuda::reduce(name, kind, cax, keepdims, exclude)),
        Some(_) => None,
    });
    op.arc()
}

/// Gradient of a reduction: the head gradient spread back over the reduced axes
/// (`_unreduce`), times the local derivative of the fold.
fn reduce_grad(
    g: &mut GradBuilder,
    a: &GradArgs,
    kind: Kind,
    axis: &Option<Vec<i64>>,
    exclude: bool,
) -> Result<Entry> {
    let (x, y, og) = (&a.inputs[0], &a.outputs[0], &a.out_grads[0]);
    let axis_s = axis
        .as_deref()
        .map_or("None".to_string(), super::shape_ops::tuple_attr);
    let excl = if exclude { "True" } else { "False" };
    let un = |g: &mut GradBuilder, e: &Entry, mean: bool| {
        let m = if mean { "True" } else { "False" };
        g.op1(
            "_unreduce",
            &[("axis", &axis_s), ("exclude", excl), ("mean", m)],
            &[e.clone(), x.clone()],
        )
    };
    let not_nan = |g: &mut GradBuilder| g.op1("_equal", &[], &[x.clone(), x.clone()]);
    let masked = |g: &mut GradBuilder, v: Entry, mask: Entry| {
        let z = g.zeros_like(&v)?;
        g.op1("where", &[], &[mask, v, z])
    };
    match kind {
        Kind::Sum => un(g, og, false),
        Kind::Mean => un(g, og, true),
        Kind::NanSum => {
            let v = un(g, og, false)?;
            let m = not_nan(g)?;
            masked(g, v, m)
        }
        Kind::Prod | Kind::NanProd => {
            // d(prod)/dx_i = prod / x_i, as MXNet computes it (no special case for zeros).
            let oy = g.mul(og, y)?;
            let v = un(g, &oy, false)?;
            let v = g.op1("elemwise_div", &[], &[v, x.clone()])?;
            if kind == Kind::NanProd {
                let m = not_nan(g)?;
                masked(g, v, m)
            } else {
                Ok(v)
            }
        }
        Kind::Max | Kind::Min => {
            // Every element equal to the extreme receives the gradient (MXNet's rule).
            let v = un(g, og, false)?;
            let yy = un(g, y, false)?;
            let hit = g.op1("_equal", &[], &[x.clone(), yy])?;
            g.mul(&v, &hit)
        }
        Kind::Norm1 => {
            let v = un(g, og, false)?;
            let s = g.op1("sign", &[], std::slice::from_ref(x))?;
            g.mul(&v, &s)
        }
        Kind::Norm2 => {
            let q = g.op1("elemwise_div", &[], &[og.clone(), y.clone()])?;
            let v = un(g, &q, false)?;
            g.mul(&v, x)
        }
    }
}

/// `_unreduce(ograd, data)`: `ograd`, the result of reducing `data` over `axis` (any
/// keepdims), broadcast back to `data`'s shape; divided by the reduced count when `mean`.
fn unreduce_op(axis: Option<Vec<i64>>, exclude: bool, mean: bool) -> Arc<dyn Operator> {
    const NAME: &str = "_unreduce";
    let ax2 = axis.clone();
    let plan = move |og: &Shape, data: &Shape| -> Result<(View, usize)> {
        let (keep, mask) = reduce_shape(NAME, data, axis.as_deref(), true, exclude)?;
        if og.size() != keep.size() {
            return Err(Error::shape(
                NAME,
                format!("gradient of shape {og} does not match a reduction of {data} to {keep}"),
            ));
        }
        let mut st = istrides(&keep);
        for (s, &m) in st.iter_mut().zip(&mask) {
            if m {
                *s = 0;
            }
        }
        let count = data.size() / keep.size().max(1);
        Ok((View::direct(data.clone(), 0, st), count))
    };
    let plan = Arc::new(plan);
    let p2 = plan.clone();
    #[cfg(feature = "cuda")]
    let cax = ax2.clone();
    let op = FnOp::new(
        NAME,
        move |inputs| {
            expect_inputs(NAME, inputs, 2)?;
            plan(&inputs[0].shape, &inputs[1].shape)?;
            Ok(vec![Desc::new(inputs[1].shape.clone(), inputs[0].dtype)])
        },
        move |_, ins, outs| {
            let (v, count) = p2(ins[0].shape(), ins[1].shape())?;
            copy_walk(
                &v.dims,
                &ins[0],
                &v.walk,
                &outs[0],
                &Walk::contiguous(&v.dims),
            )?;
            if mean {
                with_dtype!(outs[0].dtype(), T, {
                    let s = T::from_f64(1.0 / count.max(1) as f64);
                    unary::<T, T>(&outs[0], &outs[0], move |x| Arith::mul(x, s))
                });
            }
            Ok(())
        },
    )
    .with_shape_partial(|ins, outs| {
        if outs[0].is_none() {
            outs[0] = ins[1].clone();
        }
        Ok(())
    })
    .with_grad(move |g, a| {
        let axis_s = ax2
            .as_deref()
            .map_or("None".to_string(), super::shape_ops::tuple_attr);
        let excl = if exclude { "True" } else { "False" };
        let name = if mean { "mean" } else { "sum" };
        // The reduction keeps dims so the result matches `ograd`'s size; reshape to its shape.
        let r = g.op1(
            name,
            &[("axis", &axis_s), ("exclude", excl), ("keepdims", "True")],
            &[a.out_grads[0].clone()],
        )?;
        let r = g.op1("reshape_like", &[], &[r, a.inputs[0].clone()])?;
        Ok(vec![Some(r), None])
    })
    .with_type_partial(super::data_type_only);
    #[cfg(feature = "cuda")]
    let op = op.with_cuda(Some(cuda::unreduce(cax, exclude, mean)));
    op.arc()
}

/// Axes of `grad` that numpy broadcasting added to or stretched in `like`.
fn broadcast_mask(op: &str, grad: &Shape, like: &Shape) -> Result<Vec<bool>> {
    let (gn, ln) = (grad.ndim(), like.ndim());
    let bad = || {
        Error::shape(
            op,
            format!("an array of shape {like} does not broadcast to the gradient shape {grad}"),
        )
    };
    let lead = gn.checked_sub(ln).ok_or_else(bad)?;
    (0..gn)
        .map(|d| match d.checked_sub(lead) {
            None => Ok(true),
            Some(j) if like[j] == grad[d] => Ok(false),
            Some(j) if like[j] == 1 => Ok(true),
            Some(_) => Err(bad()),
        })
        .collect()
}

/// `_backward_broadcast_reduce(grad, like)`: `grad` summed over the axes along which `like`
/// was broadcast, giving `like`'s shape: the gradient of a broadcasting op's input. Works
/// without known shapes at graph-building time.
fn backward_broadcast_reduce_op() -> Arc<dyn Operator> {
    const NAME: &str = "_backward_broadcast_reduce";
    FnOp::new(
        NAME,
        |inputs| {
            expect_inputs(NAME, inputs, 2)?;
            broadcast_mask(NAME, &inputs[0].shape, &inputs[1].shape)?;
            Ok(vec![Desc::new(inputs[1].shape.clone(), inputs[0].dtype)])
        },
        |_, ins, outs| {
            let mask = broadcast_mask(NAME, ins[0].shape(), ins[1].shape())?;
            if !mask.iter().any(|&m| m) {
                return copy_all(&ins[0], &outs[0]);
            }
            run_values(
                Kind::Sum,
                &ins[0],
                &outs[0],
                &geometry(ins[0].shape().dims(), &mask),
            )
        },
    )
    .with_shape_partial(|ins, outs| {
        if outs[0].is_none() {
            outs[0] = ins[1].clone();
        }
        Ok(())
    })
    .with_grad(|g, a| {
        let z = g.zeros_like(&a.inputs[0])?;
        let b = g.op1("broadcast_add", &[], &[a.out_grads[0].clone(), z])?;
        Ok(vec![Some(b), None])
    })
    .arc()
}

/// Sums `inp` viewed with shape `dims` over the axes in `mask` into `out` (kept axes in
/// order). Must run inside an op reading `inp` and writing `out`.
pub(crate) fn sum_axes(inp: &NDArray, dims: &[usize], mask: &[bool], out: &NDArray) -> Result<()> {
    run_values(Kind::Sum, inp, out, &geometry(dims, mask))
}

/// Output shape and geometry of argmax/argmin (MXNet `ReduceAxisShapeImpl`).
fn search_shape(
    op: &str,
    shape: &Shape,
    axis: Option<i64>,
    keepdims: bool,
) -> Result<(Shape, Geom)> {
    let nd = shape.ndim();
    let dims = shape.dims();
    let all = |s: Shape| (s, Geom::new(1, shape.size(), 1));
    let Some(a) = axis.filter(|_| nd > 0) else {
        if shape.size() == 0 {
            return Err(Error::shape(
                op,
                format!("attempt to search an empty sequence of shape {shape}"),
            ));
        }
        return Ok(all(Shape(if keepdims { vec![1; nd] } else { vec![1] })));
    };
    let ax = norm_axis(a, nd, op)?;
    if dims[ax] == 0 {
        return Err(Error::shape(
            op,
            format!("searching input tensor of shape {shape} along axis = {ax} of zero dim-size is not allowed"),
        ));
    }
    let mut out = dims.to_vec();
    if keepdims {
        out[ax] = 1;
    } else if nd > 1 {
        out.remove(ax);
    } else {
        out = vec![1];
    }
    let outer = dims[..ax].iter().product();
    let inner = dims[ax + 1..].iter().product();
    Ok((Shape(out), Geom::new(outer, dims[ax], inner)))
}

fn search<T: RedElem>(src: &[T], dst: Ptr<T>, g: &Geom, max: bool) {
    if max {
        reduce(
            &ArgExtreme::<T, true>::default(),
            src,
            dst,
            g.outer,
            g.r,
            g.inner,
        )
    } else {
        reduce(
            &ArgExtreme::<T, false>::default(),
            src,
            dst,
            g.outer,
            g.r,
            g.inner,
        )
    }
}

fn search_op(
    name: &'static str,
    max: bool,
    axis: Option<i64>,
    keepdims: bool,
) -> Arc<dyn Operator> {
    let f = FnOp::new(
        name,
        move |inputs| {
            expect_inputs(name, inputs, 1)?;
            let (out, _) = search_shape(name, &inputs[0].shape, axis, keepdims)?;
            Ok(vec![Desc::new(out, inputs[0].dtype)])
        },
        move |_, ins, outs| {
            let (_, g) = search_shape(name, ins[0].shape(), axis, keepdims)?;
            with_dtype!(ins[0].dtype(), T, {
                // SAFETY: inside the op writing outs[0], which has the input's dtype.
                let dst = unsafe { Ptr(outs[0].raw() as *mut T) };
                search::<T>(input_slice::<T>(&ins[0]), dst, &g, max);
            });
            Ok(())
        },
    );
    // MXNet gives argmax/argmin zero gradients but none to argmax_channel.
    if name == "argmax_channel" {
        return f.arc();
    }
    f.with_grad(|g, a| Ok(vec![Some(g.zeros_like(&a.inputs[0])?)]))
        .arc()
}

fn axes_params() -> Vec<ParamSpec> {
    vec![
        param(
            "axis",
            "Shape or None",
            Some("None"),
            "The axis or axes along which to perform the reduction; None reduces all axes.",
        ),
        param(
            "keepdims",
            "boolean",
            Some("False"),
            "If true, the reduced axes are left in the result as dimension with size one.",
        ),
        param(
            "exclude",
            "boolean",
            Some("False"),
            "Whether to perform reduction on axis that are NOT in axis instead.",
        ),
    ]
}

pub fn register(r: &mut Registry) {
    #[rustfmt::skip]
    let table: [(&'static str, Kind, Option<&'static str>, &str); 7] = [
        ("sum", Kind::Sum, Some("sum_axis"), "Computes the sum of array elements over given axes."),
        ("mean", Kind::Mean, None, "Computes the mean of array elements over given axes."),
        ("prod", Kind::Prod, None, "Computes the product of array elements over given axes."),
        ("max", Kind::Max, Some("max_axis"), "Computes the max of array elements over given axes."),
        ("min", Kind::Min, Some("min_axis"), "Computes the min of array elements over given axes."),
        ("nansum", Kind::NanSum, None, "Computes the sum of array elements over given axes treating Not a Numbers (NaN) as zero."),
        ("nanprod", Kind::NanProd, None, "Computes the product of array elements over given axes treating Not a Numbers (NaN) as one."),
    ];
    for (name, kind, alias, doc) in table {
        r.add(SimpleDef {
            name,
            doc: doc.into(),
            params: axes_params(),
            inputs: Inputs::Fixed(&["data"]),
            create: Box::new(move |p| {
                Ok(reduce_op(
                    name,
                    kind,
                    p.opt_ints("axis")?,
                    p.bool("keepdims")?,
                    p.bool("exclude")?,
                    None,
                ))
            }),
        });
        if let Some(a) = alias {
            r.alias(a, name);
        }
    }
    r.add(SimpleDef {
        name: "norm",
        doc: "Computes the norm on an NDArray (ord=1: sum of absolute values, ord=2: Euclidean).".into(),
        params: vec![
            param("ord", "int", Some("2"), "Order of the norm. Currently ord=1 and ord=2 is supported."),
            param("axis", "Shape or None", Some("None"), "The axis or axes along which to compute the norm; None computes it over the whole array."),
            param("out_dtype", "{None, 'float16', 'float32', 'float64', 'int32', 'int64', 'int8'}", Some("None"), "The data type of the output."),
            param("keepdims", "boolean", Some("False"), "If this is set to True, the reduced axis is left in the result as dimension with size one."),
        ],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| {
            let kind = match p.int("ord")? {
                1 => Kind::Norm1,
                2 => Kind::Norm2,
                o => return Err(Error::param("norm", format!("norm only supports ord=1 and ord=2, got ord={o}"))),
            };
            Ok(reduce_op("norm", kind, p.opt_ints("axis")?, p.bool("keepdims")?, false, p.dtype("out_dtype")?))
        }),
    });
    for (name, max, doc) in [
        (
            "argmax",
            true,
            "Returns indices of the maximum values along an axis.",
        ),
        (
            "argmin",
            false,
            "Returns indices of the minimum values along an axis.",
        ),
    ] {
        r.add(SimpleDef {
            name,
            doc: doc.into(),
            params: vec![
                param("axis", "int or None", Some("None"), "The axis along which to perform the reduction; None searches the flattened input."),
                param("keepdims", "boolean", Some("False"), "If this is set to True, the reduced axis is left in the result as dimension with size one."),
            ],
            inputs: Inputs::Fixed(&["data"]),
            create: Box::new(move |p| Ok(search_op(name, max, p.opt_int("axis")?, p.bool("keepdims")?))),
        });
    }
    r.add(SimpleDef {
        name: "_unreduce",
        doc: "Broadcasts the gradient of a reduction of `data` back to `data`'s shape (divided by the reduced count when `mean`). Internal: gradient of the reductions.".into(),
        params: vec![
            param("axis", "Shape or None", Some("None"), "Axes the forward reduction reduced."),
            param("exclude", "boolean", Some("False"), "Whether the forward reduction reduced the axes NOT in axis."),
            param("mean", "boolean", Some("False"), "Divide by the number of reduced elements."),
        ],
        inputs: Inputs::Fixed(&["ograd", "data"]),
        create: Box::new(|p| Ok(unreduce_op(p.opt_ints("axis")?, p.bool("exclude")?, p.bool("mean")?))),
    });
    r.add(SimpleDef {
        name: "_backward_broadcast_reduce",
        doc: "Sums `grad` over the axes along which `like` was broadcast (numpy rules), giving `like`'s shape. Internal: gradient of the broadcasting binary ops.".into(),
        params: vec![],
        inputs: Inputs::Fixed(&["grad", "like"]),
        create: Box::new(|_| Ok(backward_broadcast_reduce_op())),
    });
    r.add(SimpleDef {
        name: "argmax_channel",
        doc: "Returns argmax indices of each channel (axis 1) from the input array.".into(),
        params: vec![],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|_| Ok(search_op("argmax_channel", true, Some(1), false))),
    });
}

#[cfg(feature = "cuda")]
pub const CUDA_MODULE: &str = "reduce";

/// Sum/mean/max/min of (outer, r, inner) over r — a thread per output when there are many
/// outputs, else a block per output — and `_unreduce`, the gradient spread back over r.
/// Accumulation is in double, like the CPU folds' accumulator for floats.
#[cfg(feature = "cuda")]
pub fn cuda_source() -> String {
    use crate::kernels::cuda::{kernel_name, module_source, storage_type};
    let common = r#"
// kind: 0 sum, 1 mean, 2 max, 3 min.
__device__ __forceinline__ double red_step(double a, double v, int kind) {
  return kind == 2 ? (v > a ? v : a) : kind == 3 ? (v < a ? v : a) : a + v;
}
"#;
    module_source(common, |dt| {
        let s = storage_type(dt);
        format!(
            r#"
extern "C" __global__ void {rows}(const {s}* x, {s}* y, u64 outer, u64 r, u64 inner, int kind) {{
  OX_LOOP(t, outer * inner) {{
    const u64 base = (t / inner) * r * inner + t % inner;
    double acc = kind >= 2 && r ? (double)IO<{s}>::ld(x[base]) : 0.0;
    for (u64 j = 0; j < r; ++j) acc = red_step(acc, (double)IO<{s}>::ld(x[base + j * inner]), kind);
    y[t] = IO<{s}>::st((IO<{s}>::C)(kind == 1 ? acc / (double)r : acc));
  }}
}}
extern "C" __global__ void {blocks}(const {s}* x, {s}* y, u64 outer, u64 r, u64 inner, int kind) {{
  __shared__ double sh[256];
  const u64 t = blockIdx.x, base = (t / inner) * r * inner + t % inner;
  double acc = kind >= 2 && r ? (double)IO<{s}>::ld(x[base]) : 0.0;
  for (u64 j = threadIdx.x; j < r; j += blockDim.x)
    acc = red_step(acc, (double)IO<{s}>::ld(x[base + j * inner]), kind);
  sh[threadIdx.x] = acc;
  __syncthreads();
  for (unsigned h = blockDim.x / 2; h > 0; h >>= 1) {{
    if (threadIdx.x < h) sh[threadIdx.x] = red_step(sh[threadIdx.x], sh[threadIdx.x + h], kind);
    __syncthreads();
  }}
  if (threadIdx.x == 0)
    y[t] = IO<{s}>::st((IO<{s}>::C)(kind == 1 ? sh[0] / (double)r : sh[0]));
}}
extern "C" __global__ void {unreduce}(const {s}* g, {s}* dx, u64 n, u64 r, u64 inner, double scale) {{
  OX_LOOP(i, n) {{
    const u64 o = i / (r * inner), k = i % inner;
    dx[i] = IO<{s}>::st((IO<{s}>::C)((double)IO<{s}>::ld(g[o * inner + k]) * scale));
  }}
}}
"#,
            rows = kernel_name("reduce_rows", dt),
            blocks = kernel_name("reduce_blocks", dt),
            unreduce = kernel_name("unreduce", dt),
        )
    })
}

#[cfg(feature = "cuda")]
mod cuda {
    use super::{cuda_source, geometry, reduce_shape, Kind, CUDA_MODULE};
    use crate::kernels::cuda::{dptr, run_blocks, run_kernel, Arg, CudaFn, FLOATS};

    /// Outputs at least this many (or reductions this short) take a thread each.
    const THREAD_PER_OUTPUT: usize = 2048;

    fn code(kind: Kind) -> Option<i32> {
        match kind {
            Kind::Sum => Some(0),
            Kind::Mean => Some(1),
            Kind::Max => Some(2),
            Kind::Min => Some(3),
            _ => None,
        }
    }

    /// Adjacent reduced axes of a float array into its own dtype; the rest take the host
    /// path.
    pub fn reduce(
        name: &'static str,
        kind: Kind,
        axis: Option<Vec<i64>>,
        keepdims: bool,
        exclude: bool,
    ) -> CudaFn {
        Box::new(move |dev, _, ins, outs| {
            let (x, y) = (&ins[0], &outs[0]);
            let Some(k) = code(kind) else {
                return Ok(false);
            };
            if !FLOATS.contains(&x.dtype()) || y.dtype() != x.dtype() {
                return Ok(false);
            }
            let (_, mask) = reduce_shape(name, x.shape(), axis.as_deref(), keepdims, exclude)?;
            let g = geometry(x.shape().dims(), &mask);
            if g.permute.is_some() {
                return Ok(false);
            }
            let outputs = g.outer * g.inner;
            let args = [
                Arg::U(dptr(x)),
                Arg::U(dptr(y)),
                Arg::U(g.outer as u64),
                Arg::U(g.r as u64),
                Arg::U(g.inner as u64),
                Arg::I(k),
            ];
            let dt = x.dtype();
            if outputs >= THREAD_PER_OUTPUT || g.r < 64 {
                run_kernel(
                    dev,
                    CUDA_MODULE,
                    cuda_source,
                    "reduce_rows",
                    dt,
                    outputs,
                    &args,
                )?;
            } else {
                run_blocks(
                    dev,
                    CUDA_MODULE,
                    cuda_source,
                    "reduce_blocks",
                    dt,
                    outputs,
                    &args,
                )?;
            }
            Ok(true)
        })
    }

    /// Inputs (grad of the reduction, data); output shaped like data.
    pub fn unreduce(axis: Option<Vec<i64>>, exclude: bool, mean: bool) -> CudaFn {
        Box::new(move |dev, _, ins, outs| {
            let (og, data, dx) = (&ins[0], &ins[1], &outs[0]);
            if !FLOATS.contains(&og.dtype()) {
                return Ok(false);
            }
            let (_, mask) =
                reduce_shape("_unreduce", data.shape(), axis.as_deref(), true, exclude)?;
            let g = geometry(data.shape().dims(), &mask);
            if g.permute.is_some() {
                return Ok(false);
            }
            let scale = if mean { 1.0 / g.r.max(1) as f64 } else { 1.0 };
            let args = [
                Arg::U(dptr(og)),
                Arg::U(dptr(dx)),
                Arg::U(dx.size() as u64),
                Arg::U(g.r as u64),
                Arg::U(g.inner as u64),
                Arg::F(scale),
            ];
            run_kernel(
                dev,
                CUDA_MODULE,
                cuda_source,
                "unreduce",
                og.dtype(),
                dx.size(),
                &args,
            )?;
            Ok(true)
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::context::Context;
    use crate::op::call_str;

    /// Deterministic uniform [0, 1) numbers for test data.
    pub(crate) struct Lcg(pub u64);
    impl Lcg {
        pub(crate) fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    pub(crate) fn arr(shape: &[usize], v: &[f64], dt: DType) -> NDArray {
        with_dtype!(dt, T, {
            let data: Vec<T> = v.iter().map(|&x| T::from_f64(x)).collect();
            let a = NDArray::from_vec(Shape(shape.to_vec()), &data, Context::default()).unwrap();
            if dt == DType::Bool {
                NDArray::from_bytes(
                    a.shape().clone(),
                    DType::Bool,
                    Context::default(),
                    &a.to_bytes().unwrap(),
                )
                .unwrap()
            } else {
                a
            }
        })
    }

    pub(crate) fn vals(a: &NDArray) -> Vec<f64> {
        with_dtype!(a.dtype(), T, {
            a.to_vec::<T>()
                .unwrap()
                .iter()
                .map(|x| x.to_f64())
                .collect()
        })
    }

    pub(crate) fn close(got: &[f64], want: &[f64], tol: f64) -> bool {
        got.len() == want.len()
            && got
                .iter()
                .zip(want)
                .all(|(g, w)| (g.is_nan() && w.is_nan()) || (g - w).abs() <= tol * (1.0 + w.abs()))
    }

    /// Groups every input element under its output position: the plain-loop oracle.
    fn naive(name: &str, shape: &[usize], x: &[f64], mask: &[bool], int: bool) -> Vec<f64> {
        let kept: Vec<usize> = (0..shape.len()).filter(|&d| !mask[d]).collect();
        let mut groups: Vec<Vec<f64>> = vec![vec![]; kept.iter().map(|&d| shape[d]).product()];
        for (lin, &v) in x.iter().enumerate() {
            let (mut rem, mut idx) = (lin, vec![0; shape.len()]);
            for d in (0..shape.len()).rev() {
                idx[d] = rem % shape[d];
                rem /= shape[d];
            }
            groups[kept.iter().fold(0, |o, &d| o * shape[d] + idx[d])].push(v);
        }
        let fin = |g: &Vec<f64>| -> f64 {
            let sum: f64 = g.iter().sum();
            match name {
                "sum" => sum,
                "mean" if int => (sum / g.len().max(1) as f64).trunc(),
                "mean" => sum / g.len() as f64,
                "prod" => g.iter().product(),
                "max" => g.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
                "min" => g.iter().cloned().fold(f64::INFINITY, f64::min),
                "nansum" => g.iter().filter(|v| !v.is_nan()).sum(),
                "nanprod" => g.iter().filter(|v| !v.is_nan()).product(),
                "norm1" => g.iter().map(|v| v.abs()).sum(),
                _ => g.iter().map(|v| v * v).sum::<f64>().sqrt(),
            }
        };
        groups.iter().map(fin).collect()
    }

    fn axis_str(a: &[i64]) -> String {
        format!(
            "({})",
            a.iter().map(|v| format!("{v},")).collect::<String>()
        )
    }

    #[test]
    fn matches_naive_loops() {
        let mut rng = Lcg(7);
        let shapes: [&[usize]; 7] = [
            &[2, 3, 4],
            &[3, 0, 2],
            &[5],
            &[1, 4, 1, 3],
            &[2, 3, 2, 5],
            &[4, 1],
            &[],
        ];
        let axes: [Option<&[i64]>; 9] = [
            None,
            Some(&[]),
            Some(&[0]),
            Some(&[-1]),
            Some(&[1]),
            Some(&[0, 2]),
            Some(&[-1, -3]),
            Some(&[1, 3]),
            Some(&[0, 1, 2, 3]),
        ];
        for shape in shapes {
            let nd = shape.len() as i64;
            let n: usize = shape.iter().product();
            for dt in [DType::F32, DType::F64, DType::I32, DType::F16] {
                let int = dt == DType::I32;
                let x: Vec<f64> = (0..n)
                    .map(|_| {
                        if int {
                            (rng.next() * 7.0).floor() - 3.0
                        } else {
                            rng.next() + 0.5
                        }
                    })
                    .collect();
                let a = arr(shape, &x, dt);
                let x = vals(&a); // exact values after rounding to dt
                for axis in axes {
                    if axis.is_some_and(|ax| ax.iter().any(|&v| v >= nd || v < -nd)) {
                        continue;
                    }
                    for (keep, excl) in [(false, false), (true, false), (false, true), (true, true)]
                    {
                        let listed: Vec<bool> = (0..nd)
                            .map(|d| axis.is_some_and(|ax| ax.iter().any(|&v| (v + nd) % nd == d)))
                            .collect();
                        let all = axis.is_none_or(|ax| ax.is_empty());
                        let mask: Vec<bool> = listed.iter().map(|&l| all || l != excl).collect();
                        let mut want_shape: Vec<usize> = (0..shape.len())
                            .filter(|&d| keep || !mask[d])
                            .map(|d| if mask[d] { 1 } else { shape[d] })
                            .collect();
                        if want_shape.is_empty() && !keep {
                            want_shape = vec![1];
                        }
                        for name in [
                            "sum", "mean", "prod", "max", "min", "nansum", "nanprod", "norm1",
                            "norm2",
                        ] {
                            let (op, ord) = match name {
                                "norm1" => ("norm", "1"),
                                "norm2" => ("norm", "2"),
                                _ => (name, ""),
                            };
                            let ks = if keep { "True" } else { "False" };
                            let xs = if excl { "True" } else { "False" };
                            let axs = axis.map(axis_str).unwrap_or("None".into());
                            let mut attrs = vec![("axis", axs.as_str()), ("keepdims", ks)];
                            if op == "norm" {
                                if excl {
                                    continue;
                                }
                                attrs.push(("ord", ord));
                            } else {
                                attrs.push(("exclude", xs));
                            }
                            let res = call_str(op, std::slice::from_ref(&a), &attrs);
                            let ctx = format!("{name} {shape:?} {dt} {attrs:?}");
                            if n == 0 && (name == "max" || name == "min") {
                                assert!(res.is_err(), "{ctx}");
                                continue;
                            }
                            let out = &res.unwrap_or_else(|e| panic!("{ctx}: {e}"))[0];
                            assert_eq!(out.shape().dims(), &want_shape[..], "{ctx}");
                            assert_eq!(out.dtype(), dt, "{ctx}");
                            let mut want = naive(name, shape, &x, &mask, int);
                            if int && name == "norm2" {
                                want.iter_mut().for_each(|v| *v = v.trunc());
                            }
                            let tol = if dt == DType::F16 { 2e-3 } else { 1e-5 };
                            assert!(
                                close(&vals(out), &want, tol),
                                "{ctx}: {:?} vs {want:?}",
                                vals(out)
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn shapes_errors_and_aliases() {
        let a = arr(&[2, 3, 4], &[1.0; 24], DType::F32);
        let shape = |op: &str, attrs: &[(&str, &str)]| {
            call_str(op, std::slice::from_ref(&a), attrs).map(|o| o[0].shape().dims().to_vec())
        };
        assert_eq!(shape("sum", &[]).unwrap(), [1]);
        assert_eq!(
            shape("sum_axis", &[("axis", "1"), ("keepdims", "True")]).unwrap(),
            [2, 1, 4]
        );
        assert_eq!(
            shape("max_axis", &[("axis", "(0, 2)"), ("exclude", "True")]).unwrap(),
            [2, 4]
        );
        assert_eq!(
            shape(
                "min_axis",
                &[("axis", "(1,)"), ("exclude", "True"), ("keepdims", "1")]
            )
            .unwrap(),
            [1, 3, 1]
        );
        assert!(shape("sum", &[("axis", "(3,)")]).is_err());
        assert!(shape("sum", &[("axis", "(0, -3)")]).is_err());
        assert!(shape("norm", &[("ord", "3")]).is_err());
        assert!(shape("sum", &[("bogus", "1")]).is_err());
        let n = call_str(
            "norm",
            std::slice::from_ref(&a),
            &[("out_dtype", "float64"), ("axis", "(2,)")],
        )
        .unwrap();
        assert_eq!((n[0].dtype(), vals(&n[0])), (DType::F64, vec![2.0; 6]));
        let b = arr(&[2, 2], &[0.0, 1.0, 0.0, 0.0], DType::Bool);
        let s = call_str("sum", std::slice::from_ref(&b), &[("axis", "1")]).unwrap();
        assert_eq!((s[0].dtype(), vals(&s[0])), (DType::Bool, vec![1.0, 0.0]));
        let i = arr(&[3], &[2e9, 2e9, 1.0], DType::I32);
        let s = call_str("sum", &[i], &[]).unwrap();
        assert_eq!(vals(&s[0]), [(4e9 as i64 + 1) as i32 as f64]); // wraps like int32 arithmetic
        let nan = arr(&[3], &[1.0, f64::NAN, 2.0], DType::F32);
        assert!(vals(&call_str("max", std::slice::from_ref(&nan), &[]).unwrap()[0])[0].is_nan());
        assert_eq!(vals(&call_str("nansum", &[nan], &[]).unwrap()[0]), [3.0]);
    }

    #[test]
    fn extremes_of_long_rows_see_every_nan_and_infinity() {
        // Rows long enough for the lane loop (and split tasks), with the odd value placed in
        // the lanes, in the tail after them, and first.
        for n in [32usize, 45, 1000, 2500, (1 << 16) + 7] {
            for at in [0, n / 2, n - 1] {
                for odd in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.5] {
                    let mut x: Vec<f64> = (0..n).map(|i| ((i * 37) % 101) as f64 - 50.0).collect();
                    x[at] = odd;
                    for dt in [DType::F32, DType::F64, DType::F16, DType::BF16] {
                        let a = arr(&[1, n], &x, dt);
                        for (op, want) in [
                            ("max", x.iter().cloned().fold(f64::NEG_INFINITY, f64::max)),
                            ("min", x.iter().cloned().fold(f64::INFINITY, f64::min)),
                        ] {
                            let want = if odd.is_nan() { f64::NAN } else { want };
                            let got = vals(
                                &call_str(op, std::slice::from_ref(&a), &[("axis", "1")]).unwrap()
                                    [0],
                            );
                            assert!(
                                got[0] == want || (got[0].is_nan() && want.is_nan()),
                                "{op} {dt:?} n={n} at={at} odd={odd}: {got:?}"
                            );
                        }
                    }
                }
            }
        }
        // Non-negative, so u8 holds them too.
        let ints: Vec<f64> = (0..1000).map(|i| ((i * 37) % 101) as f64).collect();
        for dt in [DType::I8, DType::I32, DType::I64, DType::U8] {
            let want = &ints;
            let a = arr(&[1000], &ints, dt);
            let mx = want.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let mn = want.iter().cloned().fold(f64::INFINITY, f64::min);
            assert_eq!(
                vals(&call_str("max", std::slice::from_ref(&a), &[]).unwrap()[0]),
                [mx],
                "{dt:?}"
            );
            assert_eq!(
                vals(&call_str("min", &[a], &[]).unwrap()[0]),
                [mn],
                "{dt:?}"
            );
        }
    }

    #[test]
    fn large_reductions_split_rows_and_columns() {
        let mut rng = Lcg(3);
        for shape in [
            [3usize, 200_001],
            [200_001, 3],
            [1, 1 << 20],
            [70_000, 40],
            [4, 5000],
        ] {
            let n = shape[0] * shape[1];
            let x: Vec<f64> = (0..n).map(|_| rng.next() - 0.3).collect();
            let a = arr(&shape, &x, DType::F32);
            let x = vals(&a);
            for (axis, mask) in [
                ("0", [true, false]),
                ("1", [false, true]),
                ("None", [true, true]),
            ] {
                for name in ["sum", "max", "mean"] {
                    let out =
                        &call_str(name, std::slice::from_ref(&a), &[("axis", axis)]).unwrap()[0];
                    let want = naive(name, &shape, &x, &mask, false);
                    assert!(
                        close(&vals(out), &want, 1e-5),
                        "{name} {shape:?} axis={axis}"
                    );
                }
            }
        }
    }

    #[test]
    fn full_f32_sum_is_accurate_and_fast() {
        let n = 1 << 24;
        let x: Vec<f32> = (0..n)
            .map(|i| ((i * 7919) % 1000) as f32 * 1e-3 + 0.1)
            .collect();
        let want: f64 = x.iter().map(|&v| v as f64).sum();
        let a = NDArray::from_vec(Shape(vec![n]), &x, Context::default()).unwrap();
        let t = std::time::Instant::now();
        let got = call_str("sum", &[a], &[]).unwrap()[0]
            .to_vec::<f32>()
            .unwrap()[0] as f64;
        eprintln!("sum of 16M f32: {:?}", t.elapsed());
        assert!((got - want).abs() <= 1e-6 * want, "{got} vs {want}");
    }

    #[test]
    fn argmax_argmin_take_the_first_nan_and_the_first_tie() {
        // Rows long enough for the lanes (and float16's widened blocks), with the NaN or the
        // extreme placed in them, in the tail and first; zeros of both signs tie. (The index
        // comes back in the input's dtype: bfloat16 holds integers exactly to 256.)
        for n in [7usize, 100, 250, 2000] {
            for at in [0, n / 2, n - 1] {
                for dt in [DType::F32, DType::F64, DType::F16, DType::BF16] {
                    if dt == DType::BF16 && n > 256 {
                        continue;
                    }
                    let mut x: Vec<f64> = (0..n).map(|i| ((i * 37) % 11) as f64 - 5.0).collect();
                    let first = |pick: fn(f64, f64) -> f64, x: &[f64]| {
                        let m = x.iter().copied().fold(x[0], pick);
                        x.iter().position(|&y| y == m).unwrap_or(n) as f64
                    };
                    let got = |x: &[f64], op: &str| {
                        vals(&call_str(op, &[arr(&[n], x, dt)], &[("axis", "0")]).unwrap()[0])[0]
                    };
                    assert_eq!(got(&x, "argmax"), first(f64::max, &x), "{dt:?}");
                    assert_eq!(got(&x, "argmin"), first(f64::min, &x), "{dt:?}");
                    x[at] = 9.0;
                    assert_eq!(got(&x, "argmax"), at as f64, "{dt:?} n={n} at={at}");
                    x[at] = f64::NAN;
                    assert_eq!(got(&x, "argmax"), at as f64, "{dt:?} NaN at {at}");
                    assert_eq!(got(&x, "argmin"), at as f64, "{dt:?} NaN at {at}");
                    let mut z = vec![-1.0; n];
                    z[at] = -0.0;
                    z[n - 1 - at] = 0.0;
                    assert_eq!(got(&z, "argmax"), at.min(n - 1 - at) as f64, "{dt:?} zeros");
                }
            }
        }
    }

    #[test]
    fn argmax_argmin_first_occurrence() {
        let mut rng = Lcg(11);
        for shape in [
            vec![4usize, 5, 3],
            vec![7],
            vec![2, 1, 6],
            vec![5001, 3],
            vec![300_000],
        ] {
            let n: usize = shape.iter().product();
            let x: Vec<f64> = (0..n).map(|_| (rng.next() * 4.0).floor()).collect();
            for dt in [DType::F32, DType::I32, DType::F64] {
                let a = arr(&shape, &x, dt);
                let nd = shape.len() as i64;
                for axis in [None, Some(0), Some(-1), Some(nd - 1)] {
                    for keep in [false, true] {
                        for (op, max) in [("argmax", true), ("argmin", false)] {
                            let axs = axis.map_or("None".to_string(), |v| v.to_string());
                            let ks = if keep { "True" } else { "False" };
                            let out = &call_str(
                                op,
                                std::slice::from_ref(&a),
                                &[("axis", &axs), ("keepdims", ks)],
                            )
                            .unwrap()[0];
                            assert_eq!(out.dtype(), dt);
                            let (outer, r, inner) = match axis {
                                None => (1, n, 1),
                                Some(v) => {
                                    let ax = ((v + nd) % nd) as usize;
                                    (
                                        shape[..ax].iter().product(),
                                        shape[ax],
                                        shape[ax + 1..].iter().product::<usize>(),
                                    )
                                }
                            };
                            let mut want = vec![];
                            for o in 0..outer {
                                for i in 0..inner {
                                    let at = |j: usize| x[(o * r + j) * inner + i];
                                    let best = (0..r).fold(0, |b, j| {
                                        if (max && at(j) > at(b)) || (!max && at(j) < at(b)) {
                                            j
                                        } else {
                                            b
                                        }
                                    });
                                    want.push(best as f64);
                                }
                            }
                            assert_eq!(
                                vals(out),
                                want,
                                "{op} {shape:?} {dt} axis={axs} keep={keep}"
                            );
                            let want_nd = match (axis, keep) {
                                (None, true) | (Some(_), true) => shape.len(),
                                (None, false) => 1,
                                (Some(_), false) => (shape.len() - 1).max(1),
                            };
                            assert_eq!(out.ndim(), want_nd);
                        }
                    }
                }
            }
        }
        let e = arr(&[2, 0], &[], DType::F32);
        assert!(call_str("argmax", std::slice::from_ref(&e), &[]).is_err());
        assert!(call_str("argmin", std::slice::from_ref(&e), &[("axis", "1")]).is_err());
        assert!(call_str("argmax", &[e], &[("axis", "2")]).is_err());
        let c = arr(&[2, 3], &[1.0, 5.0, 2.0, 9.0, 0.0, 9.0], DType::F32);
        assert_eq!(
            vals(&call_str("argmax_channel", &[c], &[]).unwrap()[0]),
            [1.0, 0.0]
        );
    }
}
