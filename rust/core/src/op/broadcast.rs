//! Replication: `broadcast_to`, `broadcast_axis`, `broadcast_like`, `tile` and `repeat`.
//! Copies are read with stride 0, so each op is one strided walk of its input.

use super::params::param;
use super::shape_ops::{def, istrides, view_op_grad, View};
use super::{expect_inputs, Desc, FnOp, GradArgs, Inputs, Operator, Registry};
use crate::error::{Error, Result};
use crate::graph::{Entry, GradBuilder};
use crate::kernels::cpu::strided::Walk;
use crate::shape::{norm_axis, Shape};
use std::sync::Arc;

fn tile_view(s: &Shape, reps: &[i64]) -> Result<View> {
    let nd = s.ndim().max(reps.len());
    let st = istrides(s);
    let (mut dims, mut strides, mut out) = (vec![], vec![], vec![]);
    for i in 0..nd {
        let (d, sd) = match (i + s.ndim()).checked_sub(nd) {
            Some(j) => (s[j], st[j]),
            None => (1, 0),
        };
        let r = match (i + reps.len()).checked_sub(nd) {
            Some(j) => usize::try_from(reps[j])
                .map_err(|_| Error::shape("tile", format!("reps {reps:?} must be non-negative")))?,
            None => 1,
        };
        dims.extend([r, d]);
        strides.extend([0, sd]);
        out.push(
            r.checked_mul(d)
                .ok_or_else(|| Error::shape("tile", format!("tiling {s} by {reps:?} overflows")))?,
        );
    }
    Ok(View {
        out: Shape(out),
        dims,
        walk: Walk::new(0, strides),
    })
}

fn repeat_view(s: &Shape, repeats: usize, axis: Option<i64>) -> Result<View> {
    let overflow = || Error::shape("repeat", format!("repeating {s} {repeats} times overflows"));
    match axis {
        None => {
            let n = s.size();
            let total = n.checked_mul(repeats).ok_or_else(overflow)?;
            Ok(View {
                out: Shape(vec![total]),
                dims: vec![n, repeats],
                walk: Walk::new(0, vec![1, 0]),
            })
        }
        Some(a) => {
            let k = norm_axis(a, s.ndim(), "repeat")?;
            let st = istrides(s);
            let mut dims = s.0.clone();
            let mut strides = st.clone();
            dims.insert(k + 1, repeats);
            strides.insert(k + 1, 0);
            let mut out = s.0.clone();
            out[k] = out[k].checked_mul(repeats).ok_or_else(overflow)?;
            Ok(View {
                out: Shape(out),
                dims,
                walk: Walk::new(0, strides),
            })
        }
    }
}
/// Output dims from `s` where `target[i]` replaces a size-1 dim (0 keeps the dim).
fn broadcast_view(op: &str, s: &Shape, out: Vec<usize>) -> Result<View> {
    let mut st = istrides(s);
    for i in 0..s.ndim() {
        if s[i] != out[i] {
            if s[i] != 1 {
                return Err(Error::shape(
                    op,
                    format!("array cannot be broadcast from {s} to {}", Shape(out)),
                ));
            }
            st[i] = 0;
        }
    }
    Ok(View::direct(Shape(out), 0, st))
}

fn broadcast_to_view(s: &Shape, target: &[usize]) -> Result<View> {
    if target.len() != s.ndim() {
        return Err(Error::shape(
            "broadcast_to",
            format!(
                "operand of shape {s} cannot be broadcast to {}: the number of dims differs",
                Shape(target.to_vec())
            ),
        ));
    }
    let out = target
        .iter()
        .zip(&s.0)
        .map(|(&t, &d)| if t == 0 { d } else { t })
        .collect();
    broadcast_view("broadcast_to", s, out)
}

fn broadcast_axis_view(s: &Shape, axes: &[i64], sizes: &[usize]) -> Result<View> {
    if axes.len() != sizes.len() {
        return Err(Error::shape(
            "broadcast_axis",
            format!("axis {axes:?} and size {sizes:?} must have the same length"),
        ));
    }
    let mut out = s.0.clone();
    for (&a, &n) in axes.iter().zip(sizes) {
        let i = norm_axis(a, s.ndim(), "broadcast_axis")?;
        if s[i] != 1 {
            return Err(Error::shape(
                "broadcast_axis",
                format!(
                    "broadcasting axis {a} of shape {s} must have size 1, it has {}",
                    s[i]
                ),
            ));
        }
        out[i] = n;
    }
    broadcast_view("broadcast_axis", s, out)
}

fn broadcast_like_view(l: &Shape, r: &Shape, axes: &Option<(Vec<i64>, Vec<i64>)>) -> Result<View> {
    let op = "broadcast_like";
    match axes {
        None => {
            if l.ndim() != r.ndim() {
                return Err(Error::shape(op, format!("operand of shape {l} cannot be broadcast to {r}: the number of dims differs")));
            }
            broadcast_view(op, l, r.0.clone())
        }
        Some((la, ra)) => {
            if la.len() != ra.len() {
                return Err(Error::shape(
                    op,
                    format!("lhs_axes {la:?} and rhs_axes {ra:?} must have the same length"),
                ));
            }
            if la.is_empty() {
                return Err(Error::param(
                    op,
                    "lhs_axes and rhs_axes are empty: name at least one axis, or leave both \
                     unset to broadcast every axis",
                ));
            }
            let mut out = l.0.clone();
            for (&a, &b) in la.iter().zip(ra) {
                out[norm_axis(a, l.ndim(), op)?] = r[norm_axis(b, r.ndim(), op)?];
            }
            broadcast_view(op, l, out)
        }
    }
}
/// Gradient of the broadcasting views: the head gradient summed back to the input's shape.
fn unbroadcast(g: &mut GradBuilder, a: &GradArgs) -> Result<Vec<Option<Entry>>> {
    let r = g.op1(
        "_backward_broadcast_reduce",
        &[],
        &[a.out_grads[0].clone(), a.inputs[0].clone()],
    )?;
    let mut v = vec![Some(r)];
    v.extend((1..a.inputs.len()).map(|_| None));
    Ok(v)
}

type SumPlan = Arc<dyn Fn(&Shape) -> Result<(Vec<usize>, Vec<bool>)> + Send + Sync>;

/// Gradient of a copying view (`tile`, `repeat`): the head gradient, seen with the view's
/// iteration dims (`plan` of the input shape), summed over the copy axes (`mask`). The
/// result differentiates back to the forward op `fwd` (name, attrs).
fn sum_back(
    g: &mut GradBuilder,
    a: &GradArgs,
    name: &'static str,
    plan: impl Fn(&Shape) -> Result<(Vec<usize>, Vec<bool>)> + Send + Sync + 'static,
    fwd: (&'static str, Vec<(&'static str, String)>),
) -> Result<Vec<Option<Entry>>> {
    let r = g.apply(
        sum_view_op(name, Arc::new(plan), Arc::new(fwd)),
        &[a.out_grads[0].clone(), a.inputs[0].clone()],
    );
    Ok(vec![Some(r[0].clone())])
}

#[allow(clippy::type_complexity)]
fn sum_view_op(
    name: &'static str,
    plan: SumPlan,
    fwd: Arc<(&'static str, Vec<(&'static str, String)>)>,
) -> Arc<dyn Operator> {
    let p2 = plan.clone();
    FnOp::new(
        name,
        move |inputs| {
            expect_inputs(name, inputs, 2)?;
            let (dims, _) = plan(&inputs[1].shape)?;
            if dims.iter().product::<usize>() != inputs[0].shape.size() {
                return Err(Error::shape(
                    name,
                    format!(
                        "gradient of shape {} does not match input shape {}",
                        inputs[0].shape, inputs[1].shape
                    ),
                ));
            }
            Ok(vec![Desc::new(inputs[1].shape.clone(), inputs[0].dtype)])
        },
        move |_, ins, outs| {
            let (dims, mask) = p2(ins[1].shape())?;
            super::reduce::sum_axes(&ins[0], &dims, &mask, &outs[0])
        },
    )
    .with_shape_partial(|ins, outs| {
        if outs[0].is_none() {
            outs[0] = ins[1].clone();
        }
        Ok(())
    })
    .with_grad(move |g, a| {
        let attrs: Vec<(&str, &str)> = fwd.1.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = g.op1(fwd.0, &attrs, &a.out_grads[..1])?;
        Ok(vec![Some(r), None])
    })
    .arc()
}

pub fn register(r: &mut Registry) {
    let data = Inputs::Fixed(&["data"]);
    r.add(def(
        "broadcast_to",
        "Broadcasts the input to `shape` (0 keeps the input's dim); only size-1 dims grow.",
        vec![param(
            "shape",
            "Shape(tuple)",
            Some("()"),
            "The shape of the desired array.",
        )],
        data,
        |p| {
            let target = p.shape("shape")?;
            Ok(view_op_grad(
                "broadcast_to",
                1,
                move |s| broadcast_to_view(s[0], &target),
                unbroadcast,
            ))
        },
    ));
    r.add(def(
        "broadcast_axis",
        "Broadcasts the size-1 axes `axis` of the input to the sizes `size`.",
        vec![
            param(
                "axis",
                "Shape(tuple)",
                Some("()"),
                "The axes to perform the broadcasting.",
            ),
            param(
                "size",
                "Shape(tuple)",
                Some("()"),
                "Target sizes of the broadcasting axes.",
            ),
        ],
        data,
        |p| {
            let (axes, sizes) = (p.ints("axis")?, p.shape("size")?);
            Ok(view_op_grad(
                "broadcast_axis",
                1,
                move |s| broadcast_axis_view(s[0], &axes, &sizes),
                unbroadcast,
            ))
        },
    ));
    r.alias("broadcast_axes", "broadcast_axis");
    r.add(def(
        "broadcast_like",
        "Broadcasts `lhs` to the shape of `rhs` (or only `lhs_axes` to the sizes of `rhs_axes`).",
        vec![
            param(
                "lhs_axes",
                "Shape or None",
                Some("None"),
                "Axes to perform broadcast on in the first input array",
            ),
            param(
                "rhs_axes",
                "Shape or None",
                Some("None"),
                "Axes to copy from the second input array",
            ),
        ],
        Inputs::Fixed(&["lhs", "rhs"]),
        |p| {
            let axes = match (p.opt_ints("lhs_axes")?, p.opt_ints("rhs_axes")?) {
                (None, None) => None,
                (Some(l), Some(r)) => Some((l, r)),
                _ => {
                    return Err(Error::param(
                        "broadcast_like",
                        "lhs_axes and rhs_axes must be given together",
                    ))
                }
            };
            Ok(view_op_grad(
                "broadcast_like",
                2,
                move |s| broadcast_like_view(s[0], s[1], &axes),
                unbroadcast,
            ))
        },
    ));
    r.add(def(
        "tile",
        "Repeats the whole array `reps` times along each axis (numpy.tile).",
        vec![param(
            "reps",
            "Shape(tuple)",
            None,
            "The number of times for repeating the tensor a.",
        )],
        data,
        |p| {
            let reps = p.ints("reps")?;
            let r2 = reps.clone();
            Ok(view_op_grad(
                "tile",
                1,
                move |s| tile_view(s[0], &reps),
                move |g, a| {
                    let r3 = r2.clone();
                    let attrs = super::shape_ops::tuple_attr(&r2);
                    sum_back(
                        g,
                        a,
                        "_backward_tile",
                        move |s| {
                            let v = tile_view(s, &r3)?;
                            let mask = (0..v.dims.len()).map(|i| i % 2 == 0).collect();
                            Ok((v.dims, mask))
                        },
                        ("tile", vec![("reps", attrs)]),
                    )
                },
            ))
        },
    ));
    r.add(def(
        "repeat",
        "Repeats each element `repeats` times along `axis` (the flattened array when None).",
        vec![
            param(
                "repeats",
                "int",
                None,
                "The number of repetitions for each element.",
            ),
            param(
                "axis",
                "int or None",
                Some("None"),
                "The axis along which to repeat values.",
            ),
        ],
        data,
        |p| {
            let n = p.int("repeats")?;
            let n = usize::try_from(n).map_err(|_| {
                Error::param("repeat", format!("repeats cannot be negative, got {n}"))
            })?;
            let axis = p.opt_int("axis")?;
            Ok(view_op_grad(
                "repeat",
                1,
                move |s| repeat_view(s[0], n, axis),
                move |g, a| {
                    let mut attrs = vec![("repeats", n.to_string())];
                    if let Some(ax) = axis {
                        attrs.push(("axis", ax.to_string()));
                    }
                    sum_back(
                        g,
                        a,
                        "_backward_repeat",
                        move |s| {
                            let v = repeat_view(s, n, axis)?;
                            // The repeat copies are the zero-stride axis.
                            let mask = v.walk.strides.iter().map(|&st| st == 0).collect();
                            Ok((v.dims, mask))
                        },
                        ("repeat", attrs),
                    )
                },
            ))
        },
    ));
}

#[cfg(test)]
// Array handles are cheap clones; `&[x.clone()]` reads better than `from_ref` in op calls.
#[allow(clippy::cloned_ref_to_slice_refs)]
mod tests {
    use crate::error::Error;
    use crate::op::test_util::{err, f32s, gather, iota, ravel, run};

    #[test]
    fn broadcasts() {
        let r = iota(&[1, 3]);
        let o = run("broadcast_to", &[r.clone()], &[("shape", "(2, 0)")]);
        assert_eq!(
            (o.shape().dims(), f32s(&o)),
            (&[2usize, 3][..], vec![0.0, 1.0, 2.0, 0.0, 1.0, 2.0])
        );
        let c = iota(&[2, 1]);
        assert_eq!(
            f32s(&run("broadcast_to", &[c.clone()], &[("shape", "(2, 3)")])),
            vec![0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
        );
        assert!(matches!(
            err("broadcast_to", &[r.clone()], &[("shape", "(2, 3, 3)")]),
            Error::Shape { .. }
        ));
        assert!(
            err("broadcast_to", &[iota(&[2, 3])], &[("shape", "(4, 3)")])
                .to_string()
                .contains("[2,3]")
        );
        assert_eq!(
            run("broadcast_to", &[r.clone()], &[("shape", "(0, 3)")])
                .shape()
                .dims(),
            &[1, 3]
        );
        let z = iota(&[1, 3, 1]);
        let o = run(
            "broadcast_axis",
            &[z.clone()],
            &[("axis", "(0, 2)"), ("size", "(2, 4)")],
        );
        assert_eq!(o.shape().dims(), &[2, 3, 4]);
        let v = f32s(&o);
        assert!((0..24).all(|i| v[i] == ((i / 4) % 3) as f32));
        assert_eq!(
            run(
                "broadcast_axes",
                &[z.clone()],
                &[("axis", "-1"), ("size", "4")]
            )
            .shape()
            .dims(),
            &[1, 3, 4]
        );
        assert!(matches!(
            err(
                "broadcast_axis",
                &[iota(&[2, 3, 1])],
                &[("axis", "0"), ("size", "4")]
            ),
            Error::Shape { .. }
        ));
        assert!(matches!(
            err(
                "broadcast_axis",
                &[z.clone()],
                &[("axis", "(0,)"), ("size", "(2, 4)")]
            ),
            Error::Shape { .. }
        ));
        let o = run("broadcast_like", &[r.clone(), iota(&[2, 3])], &[]);
        assert_eq!(f32s(&o), vec![0.0, 1.0, 2.0, 0.0, 1.0, 2.0]);
        let o = run(
            "broadcast_like",
            &[z.clone(), iota(&[5, 4])],
            &[("lhs_axes", "(0, 2)"), ("rhs_axes", "(-1, 0)")],
        );
        assert_eq!(o.shape().dims(), &[4, 3, 5]);
        assert!(matches!(
            err("broadcast_like", &[r.clone(), iota(&[2, 3, 4])], &[]),
            Error::Shape { .. }
        ));
        // Big enough to go parallel: a stride-0 source row.
        let o = run(
            "broadcast_to",
            &[iota(&[1, 1000])],
            &[("shape", "(300, 1000)")],
        );
        let v = f32s(&o);
        assert!(v
            .chunks(1000)
            .all(|row| row.iter().enumerate().all(|(j, &x)| x == j as f32)));
    }

    #[test]
    fn tile_repeat() {
        let x = iota(&[2, 3, 4]);
        let xs = f32s(&x);
        let sh = [2usize, 3, 4];
        assert_eq!(
            f32s(&run("tile", &[iota(&[3])], &[("reps", "(2,)")])),
            vec![0.0, 1.0, 2.0, 0.0, 1.0, 2.0]
        );
        for (reps, want_shape) in [
            ("(2, 2)", vec![2usize, 6, 8]),
            ("(2, 1, 1, 3)", vec![2, 2, 3, 12]),
            ("()", vec![2, 3, 4]),
            ("(2,)", vec![2, 3, 8]),
        ] {
            let o = run("tile", &[x.clone()], &[("reps", reps)]);
            assert_eq!(o.shape().dims(), &want_shape[..], "tile {reps}");
            let nd = want_shape.len();
            let want = gather(&xs, &want_shape, |i| {
                let j: Vec<usize> = (0..3).map(|d| i[nd - 3 + d] % sh[d]).collect();
                ravel(&j, &sh)
            });
            if nd >= 3 {
                assert_eq!(f32s(&o), want, "tile {reps}");
            }
        }
        assert_eq!(
            run("tile", &[x.clone()], &[("reps", "(0, 1)")])
                .shape()
                .dims(),
            &[2, 0, 4]
        );
        assert!(matches!(
            err("tile", &[x.clone()], &[("reps", "(-1,)")]),
            Error::Shape { .. }
        ));

        assert_eq!(
            f32s(&run("repeat", &[iota(&[3])], &[("repeats", "2")])),
            vec![0.0, 0.0, 1.0, 1.0, 2.0, 2.0]
        );
        for (axis, d) in [("1", 1usize), ("-1", 2), ("0", 0)] {
            let o = run("repeat", &[x.clone()], &[("repeats", "3"), ("axis", axis)]);
            let mut os = sh.to_vec();
            os[d] *= 3;
            assert_eq!(o.shape().dims(), &os[..]);
            let want = gather(&xs, &os, |i| {
                let mut j = i.to_vec();
                j[d] /= 3;
                ravel(&j, &sh)
            });
            assert_eq!(f32s(&o), want, "repeat axis {axis}");
        }
        assert_eq!(
            run("repeat", &[x.clone()], &[("repeats", "0")])
                .shape()
                .dims(),
            &[0]
        );
        assert!(matches!(
            err("repeat", &[x.clone()], &[("repeats", "-1")]),
            Error::Param { .. }
        ));
    }
}
