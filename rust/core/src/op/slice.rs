//! Basic slicing: `slice`, `slice_axis`, and the slice assignments `_slice_assign` and
//! `_slice_assign_scalar` that Python's `a[1:3, ::2] = value` runs with `out=a`. Bounds clamp
//! and negative steps walk backwards exactly as Python slices do.

use super::params::param;
use super::shape_ops::{def, injective_view_op, istrides, View};
use super::{expect_inputs, FnOp, Inputs, Operator, Params, Registry};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::graph::{Entry, GradBuilder};
use crate::kernels::cpu::strided::{copy_all, copy_walk, fill_walk, Walk};
use crate::ndarray::NDArray;
use crate::shape::{norm_axis, Shape};
use crate::with_dtype;
use std::sync::Arc;

/// `begin`/`end`/`step` of `slice` and the slice-assign ops, as given.
#[derive(Clone)]
struct SliceSpec {
    begin: Vec<Option<i64>>,
    end: Vec<Option<i64>>,
    step: Vec<Option<i64>>,
}

impl SliceSpec {
    /// The spec as op attributes, for ops built in gradient graphs.
    fn attrs(&self) -> Vec<(&'static str, String)> {
        let list = |v: &[Option<i64>]| {
            let items: Vec<String> = v
                .iter()
                .map(|x| x.map_or("None".to_string(), |i| i.to_string()))
                .collect();
            match items.len() {
                1 => format!("({},)", items[0]),
                _ => format!("({})", items.join(", ")),
            }
        };
        let mut a = vec![("begin", list(&self.begin)), ("end", list(&self.end))];
        if !self.step.is_empty() {
            a.push(("step", list(&self.step)));
        }
        a
    }

    /// `_slice_assign_scalar(e, scalar=0)`: `e` with the region zeroed.
    fn zero_region(&self, g: &mut GradBuilder, e: &Entry) -> Result<Entry> {
        let mut attrs = self.attrs();
        attrs.push(("scalar", "0".to_string()));
        let attrs: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        g.op1("_slice_assign_scalar", &attrs, std::slice::from_ref(e))
    }

    fn parse(p: &Params) -> Result<SliceSpec> {
        let s = SliceSpec {
            begin: p.opt_int_list("begin")?,
            end: p.opt_int_list("end")?,
            step: p.opt_int_list("step")?,
        };
        if s.begin.len() != s.end.len() {
            return Err(Error::param(
                p.op,
                format!(
                    "begin {:?} and end {:?} must have the same length",
                    s.begin, s.end
                ),
            ));
        }
        if !s.step.is_empty() && s.step.len() != s.begin.len() {
            return Err(Error::param(
                p.op,
                format!(
                    "step {:?} must be empty or as long as begin {:?}",
                    s.step, s.begin
                ),
            ));
        }
        if let Some(i) = s.step.iter().position(|&x| x == Some(0)) {
            return Err(Error::param(p.op, format!("slice step[{i}] cannot be 0")));
        }
        Ok(s)
    }

    /// The selected region of an array of shape `s`: its dims and its walk in `s`'s layout.
    /// Out-of-range bounds clamp as Python slices do.
    fn region(&self, op: &str, s: &Shape) -> Result<(Vec<usize>, Walk)> {
        if self.begin.len() > s.ndim() {
            return Err(Error::shape(
                op,
                format!(
                    "slicing {} axes of an array of shape {s} with begin={:?}",
                    self.begin.len(),
                    self.begin
                ),
            ));
        }
        let st = istrides(s);
        let (mut dims, mut strides, mut off) = (s.0.clone(), st.clone(), 0isize);
        for i in 0..self.begin.len() {
            let n = s[i] as i64;
            let step = self.step.get(i).copied().flatten().unwrap_or(1);
            let norm = |v: i64| if v < 0 { v + n } else { v };
            let (start, len) = if step > 0 {
                let b = self.begin[i].map_or(0, |v| norm(v).clamp(0, n));
                let e = self.end[i].map_or(n, |v| norm(v).clamp(0, n));
                (b, if e > b { (e - b + step - 1) / step } else { 0 })
            } else {
                let b = self.begin[i].map_or(n - 1, |v| norm(v).clamp(-1, n - 1));
                let e = self.end[i].map_or(-1, |v| norm(v).clamp(-1, n - 1));
                (b, if b > e { (b - e - step - 1) / -step } else { 0 })
            };
            dims[i] = len as usize;
            strides[i] = step as isize * st[i];
            if len > 0 {
                off += start as isize * st[i];
            }
        }
        Ok((dims, Walk::new(off, strides)))
    }
}

fn slice_axis_view(s: &Shape, axis: i64, begin: i64, end: Option<i64>) -> Result<View> {
    let op = "slice_axis";
    let ax = norm_axis(axis, s.ndim(), op)?;
    if s.ndim() == 0 {
        return Err(Error::shape(op, "cannot slice a 0-d array"));
    }
    let n = s[ax] as i64;
    let b = if begin < 0 { begin + n } else { begin };
    let e = match end {
        None => n,
        Some(e) if e < 0 => e + n,
        Some(e) => e,
    };
    if b < 0 || e > n || b > e {
        return Err(Error::shape(
            op,
            format!("invalid begin={begin}, end={end:?} for axis {axis} of size {n} (shape {s})"),
        ));
    }
    let st = istrides(s);
    let mut out = s.0.clone();
    out[ax] = (e - b) as usize;
    Ok(View::direct(Shape(out), b as isize * st[ax], st))
}

fn slice_assign_op(spec: SliceSpec) -> Arc<dyn Operator> {
    let op = "_slice_assign";
    let spec2 = spec.clone();
    let spec3 = spec.clone();
    let mut f = FnOp::new(
        op,
        move |inputs| {
            expect_inputs(op, inputs, 2)?;
            let (l, r) = (&inputs[0], &inputs[1]);
            let (dims, _) = spec.region(op, &l.shape)?;
            if r.shape.0 != dims {
                return Err(Error::shape(
                    op,
                    format!("value of shape {} cannot be assigned to the slice of shape {} of an array of shape {}", r.shape, Shape(dims), l.shape),
                ));
            }
            if r.dtype != l.dtype {
                return Err(Error::dtype(
                    op,
                    format!("value has dtype {}, the array {}", r.dtype, l.dtype),
                ));
            }
            Ok(vec![l.clone()])
        },
        move |_, ins, outs| {
            let (l, r, o) = (&ins[0], &ins[1], &outs[0]);
            let (dims, walk) = spec2.region(op, l.shape())?;
            // Registered in-place so `out=lhs` skips a full copy; the value may then share
            // memory with the output, so it is read into a fresh array before any write.
            let r = if r.overlaps(o) {
                let t = NDArray::empty(r.shape().clone(), r.dtype(), r.ctx())?;
                copy_all(r, &t)?;
                t
            } else {
                r.clone()
            };
            copy_all(l, o)?;
            copy_walk(&dims, &r, &Walk::contiguous(&dims), o, &walk)
        },
    );
    f.inplace = true;
    f.with_grad(move |g, a| {
        let og = &a.out_grads[0];
        let dl = spec3.zero_region(g, og)?;
        let attrs = spec3.attrs();
        let attrs: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let dr = g.op1("slice", &attrs, std::slice::from_ref(og))?;
        Ok(vec![Some(dl), Some(dr)])
    })
    .arc()
}

fn slice_assign_scalar_op(spec: SliceSpec, value: f64) -> Arc<dyn Operator> {
    let op = "_slice_assign_scalar";
    let spec2 = spec.clone();
    let spec3 = spec.clone();
    let mut f = FnOp::new(
        op,
        move |inputs| {
            expect_inputs(op, inputs, 1)?;
            spec.region(op, &inputs[0].shape)?;
            Ok(vec![inputs[0].clone()])
        },
        move |_, ins, outs| {
            let (d, o) = (&ins[0], &outs[0]);
            let (dims, walk) = spec2.region(op, d.shape())?;
            copy_all(d, o)?;
            // bool arrays hold 0/1 bytes, whatever the scalar.
            let v = if o.dtype() == DType::Bool {
                f64::from(u8::from(value != 0.0))
            } else {
                value
            };
            with_dtype!(o.dtype(), T, {
                fill_walk::<T>(&dims, o, &walk, T::from_f64_c(v))
            })
        },
    );
    // Safe in place: the copy is skipped when out is data, then only out is written.
    f.inplace = true;
    f.with_grad(move |g, a| Ok(vec![Some(spec3.zero_region(g, &a.out_grads[0])?)]))
        .arc()
}

fn slice_params(extra: Option<super::ParamSpec>) -> Vec<super::ParamSpec> {
    let mut v: Vec<super::ParamSpec> = extra.into_iter().collect();
    v.extend([
        param(
            "begin",
            "Shape(tuple)",
            None,
            "starting indices for the slice operation, supports negative indices.",
        ),
        param(
            "end",
            "Shape(tuple)",
            None,
            "ending indices for the slice operation, supports negative indices.",
        ),
        param(
            "step",
            "Shape(tuple)",
            Some("()"),
            "step for the slice operation, supports negative values.",
        ),
    ]);
    v
}

pub fn register(r: &mut Registry) {
    r.add(def(
        "slice",
        "Slices a region of the array: `begin`, `end` and `step` per leading axis (None entries take the whole axis; negative indices and steps as in Python).",
        slice_params(None),
        Inputs::Fixed(&["data"]),
        |p| {
            let spec = SliceSpec::parse(p)?;
            Ok(injective_view_op("slice", 1, move |s| {
                let (dims, walk) = spec.region("slice", s[0])?;
                Ok(View { out: Shape(dims.clone()), dims, walk })
            }))
        },
    ));
    r.alias("crop", "slice");
    r.add(def(
        "slice_axis",
        "Slices the array along one axis: `begin` to `end` (None: the end of the axis).",
        vec![
            param(
                "axis",
                "int",
                None,
                "Axis along which to be sliced, supports negative indexes.",
            ),
            param(
                "begin",
                "int",
                None,
                "The beginning index along the axis to be sliced, supports negative indexes.",
            ),
            param(
                "end",
                "int or None",
                None,
                "The ending index along the axis to be sliced, supports negative indexes.",
            ),
        ],
        Inputs::Fixed(&["data"]),
        |p| {
            let (axis, begin, end) = (p.int("axis")?, p.int("begin")?, p.opt_int("end")?);
            Ok(injective_view_op("slice_axis", 1, move |s| {
                slice_axis_view(s[0], axis, begin, end)
            }))
        },
    ));
    r.add(def(
        "_slice_assign",
        "Returns `lhs` with the slice `begin:end:step` replaced by `rhs` (what `a[...] = b` runs, with out=lhs).",
        slice_params(None),
        Inputs::Fixed(&["lhs", "rhs"]),
        |p| Ok(slice_assign_op(SliceSpec::parse(p)?)),
    ));
    r.alias("_crop_assign", "_slice_assign");
    r.add(def(
        "_slice_assign_scalar",
        "Returns `data` with the slice `begin:end:step` set to `scalar` (what `a[...] = 1.5` runs).",
        slice_params(Some(param("scalar", "double", Some("0"), "The scalar value for assignment."))),
        Inputs::Fixed(&["data"]),
        |p| Ok(slice_assign_scalar_op(SliceSpec::parse(p)?, p.float("scalar")?)),
    ));
    r.alias("_crop_assign_scalar", "_slice_assign_scalar");
}

#[cfg(test)]
// Array handles are cheap clones; `&[x.clone()]` reads better than `from_ref` in op calls.
#[allow(clippy::cloned_ref_to_slice_refs)]
mod tests {
    use crate::error::Error;
    use crate::ndarray::NDArray;
    use crate::op::test_util::{arr, err, f32s, iota, ravel, run, unravel};
    use crate::op::{invoke, registry};

    /// CPython's `slice.indices` followed by `range`, as the reference.
    fn py_range(n: i64, b: Option<i64>, e: Option<i64>, step: i64) -> Vec<usize> {
        let adjust = |v: Option<i64>, dflt: i64| match v {
            None => dflt,
            Some(mut v) => {
                if v < 0 {
                    v += n;
                    if v < 0 {
                        v = if step < 0 { -1 } else { 0 };
                    }
                } else if v >= n {
                    v = if step < 0 { n - 1 } else { n };
                }
                v
            }
        };
        let start = adjust(b, if step < 0 { n - 1 } else { 0 });
        let stop = adjust(e, if step < 0 { -1 } else { n });
        let mut out = vec![];
        let mut i = start;
        while (step > 0 && i < stop) || (step < 0 && i > stop) {
            out.push(i as usize);
            i += step;
        }
        out
    }

    fn fmt(v: &[Option<i64>]) -> String {
        let s: Vec<String> = v
            .iter()
            .map(|x| x.map_or("None".into(), |x| x.to_string()))
            .collect();
        format!("({},)", s.join(","))
    }

    #[test]
    fn slice_matches_python() {
        let sh = [4usize, 5, 3];
        let x = iota(&sh);
        let xs = f32s(&x);
        let vals = [
            None,
            Some(0),
            Some(1),
            Some(-1),
            Some(-2),
            Some(3),
            Some(7),
            Some(-9),
        ];
        let steps = [None, Some(1), Some(2), Some(-1), Some(-2), Some(3)];
        let mut n = 0;
        for (i, &b0) in vals.iter().enumerate() {
            for (j, &e0) in vals.iter().enumerate() {
                let (b1, e1) = (vals[(i + j) % vals.len()], vals[(i * 3 + 1) % vals.len()]);
                let (s0, s1) = (
                    steps[(i + 2 * j) % steps.len()],
                    steps[(3 * i + j) % steps.len()],
                );
                let (b, e, st) = ([b0, b1], [e0, e1], [s0, s1]);
                let o = run(
                    "slice",
                    &[x.clone()],
                    &[("begin", &fmt(&b)), ("end", &fmt(&e)), ("step", &fmt(&st))],
                );
                let r0 = py_range(4, b0, e0, s0.unwrap_or(1));
                let r1 = py_range(5, b1, e1, s1.unwrap_or(1));
                assert_eq!(
                    o.shape().dims(),
                    &[r0.len(), r1.len(), 3],
                    "{b:?} {e:?} {st:?}"
                );
                let mut want = vec![];
                for &p in &r0 {
                    for &q in &r1 {
                        for k in 0..3 {
                            want.push(xs[ravel(&[p, q, k], &sh)]);
                        }
                    }
                }
                assert_eq!(f32s(&o), want, "{b:?} {e:?} {st:?}");
                n += 1;
            }
        }
        assert_eq!(n, 64);
        // MXNet-observed cases.
        let a = iota(&[2, 3, 4]);
        let o = run(
            "slice",
            &[a.clone()],
            &[
                ("begin", "(None, None, None)"),
                ("end", "(None, None, None)"),
                ("step", "(-1, -1, -2)"),
            ],
        );
        assert_eq!(o.shape().dims(), &[2, 3, 2]);
        assert_eq!(f32s(&o)[..4], [23.0, 21.0, 19.0, 17.0]);
        assert_eq!(
            run("crop", &[a.clone()], &[("begin", "(1,)"), ("end", "(0,)")])
                .shape()
                .dims(),
            &[0, 3, 4]
        );
        assert!(matches!(
            err(
                "slice",
                &[a.clone()],
                &[("begin", "(0, 0)"), ("end", "(2, 3)"), ("step", "(1, 0)")]
            ),
            Error::Param { .. }
        ));
        assert!(matches!(
            err(
                "slice",
                &[a.clone()],
                &[("begin", "(0,)"), ("end", "(2, 3)")]
            ),
            Error::Param { .. }
        ));
        assert!(matches!(
            err(
                "slice",
                &[a.clone()],
                &[("begin", "(0,0,0,0)"), ("end", "(1,1,1,1)")]
            ),
            Error::Shape { .. }
        ));
        assert_eq!(
            run(
                "slice",
                &[iota(&[0, 3])],
                &[("begin", "(None, 1)"), ("end", "(None, 3)")]
            )
            .shape()
            .dims(),
            &[0, 2]
        );
    }

    #[test]
    fn slice_axis_cases() {
        let a = iota(&[2, 3, 4]);
        let o = run(
            "slice_axis",
            &[a.clone()],
            &[("axis", "1"), ("begin", "1"), ("end", "None")],
        );
        assert_eq!(
            (o.shape().dims(), f32s(&o)[..4].to_vec()),
            (&[2usize, 2, 4][..], vec![4.0, 5.0, 6.0, 7.0])
        );
        let o = run(
            "slice_axis",
            &[a.clone()],
            &[("axis", "-1"), ("begin", "-3"), ("end", "-1")],
        );
        assert_eq!(f32s(&o)[..4], [1.0, 2.0, 5.0, 6.0]);
        assert_eq!(
            run(
                "slice_axis",
                &[a.clone()],
                &[("axis", "1"), ("begin", "1"), ("end", "1")]
            )
            .shape()
            .dims(),
            &[2, 0, 4]
        );
        for (b, e) in [("2", "1"), ("0", "5"), ("-5", "2")] {
            assert!(matches!(
                err(
                    "slice_axis",
                    &[a.clone()],
                    &[("axis", "1"), ("begin", b), ("end", e)]
                ),
                Error::Shape { .. }
            ));
        }
        assert!(matches!(
            err(
                "slice_axis",
                &[a.clone()],
                &[("axis", "3"), ("begin", "0"), ("end", "1")]
            ),
            Error::Shape { .. }
        ));
    }

    #[test]
    fn slice_assign() {
        let a = iota(&[2, 3, 4]);
        let z = arr(&[1, 2, 4], &[-1.0f32; 8]);
        let o = run(
            "_slice_assign",
            &[a.clone(), z.clone()],
            &[("begin", "(0, 1)"), ("end", "(1, 3)")],
        );
        let mut want = f32s(&a);
        want[4..12].fill(-1.0);
        assert_eq!(f32s(&o), want);
        assert_eq!(f32s(&a)[4], 4.0, "input untouched");
        let e = err(
            "_slice_assign",
            &[a.clone(), iota(&[1, 2, 3])],
            &[("begin", "(0, 1)"), ("end", "(1, 3)")],
        );
        assert!(
            e.to_string().contains("[1,2,3]") && e.to_string().contains("[1,2,4]"),
            "{e}"
        );

        let o = run(
            "_slice_assign_scalar",
            &[a.clone()],
            &[
                ("scalar", "-1"),
                ("begin", "(None, None, None)"),
                ("end", "(None, None, None)"),
                ("step", "(1, 2, -2)"),
            ],
        );
        for (i, &got) in f32s(&o).iter().enumerate() {
            let ix = unravel(i, &[2, 3, 4]);
            let hit = ix[1].is_multiple_of(2) && ix[2] % 2 == 1;
            assert_eq!(got, if hit { -1.0 } else { i as f32 }, "{ix:?}");
        }

        // In place, as `a[0:1, 1:3] = z` runs it: out is lhs itself.
        let def = registry().get("_slice_assign").expect("op");
        let attrs = vec![
            ("begin".to_string(), "(0, 1)".to_string()),
            ("end".to_string(), "(1, 3)".to_string()),
        ];
        let op = def.create(&attrs).expect("create");
        let b = iota(&[2, 3, 4]);
        invoke(&op, &[b.clone(), z.clone()], Some(&[b.clone()]), None).expect("invoke");
        assert_eq!(f32s(&b), want);
        // The value is a view of the target itself, reversed: it must be read before writes.
        let c = iota(&[4]);
        let def = registry().get("_slice_assign").expect("op");
        let attrs = vec![
            ("begin".to_string(), "(None,)".to_string()),
            ("end".to_string(), "(None,)".to_string()),
            ("step".to_string(), "(-1,)".to_string()),
        ];
        let op = def.create(&attrs).expect("create");
        invoke(&op, &[c.clone(), c.clone()], Some(&[c.clone()]), None).expect("invoke");
        assert_eq!(f32s(&c), vec![3.0, 2.0, 1.0, 0.0]);
        // Overlapping rows of one chunk (a[0:2] = a[1:3]).
        let d = iota(&[3, 2]);
        let def = registry().get("_slice_assign").expect("op");
        let attrs = vec![
            ("begin".to_string(), "(0,)".to_string()),
            ("end".to_string(), "(2,)".to_string()),
        ];
        let op = def.create(&attrs).expect("create");
        let src: NDArray = d.slice_rows(1, 3).expect("view");
        invoke(&op, &[d.clone(), src], Some(&[d.clone()]), None).expect("invoke");
        assert_eq!(f32s(&d), vec![2.0, 3.0, 4.0, 5.0, 4.0, 5.0]);
        let def = registry().get("_slice_assign_scalar").expect("op");
        let attrs = vec![
            ("scalar".to_string(), "7".to_string()),
            ("begin".to_string(), "(1,)".to_string()),
            ("end".to_string(), "(None,)".to_string()),
        ];
        let op = def.create(&attrs).expect("create");
        invoke(&op, &[d.clone()], Some(&[d.clone()]), None).expect("invoke");
        assert_eq!(f32s(&d), vec![2.0, 3.0, 7.0, 7.0, 7.0, 7.0]);
        let flags = crate::op::call_str("Cast", &[iota(&[3])], &[("dtype", "bool")])
            .expect("cast")
            .remove(0);
        let o = run(
            "_slice_assign_scalar",
            &[flags],
            &[("scalar", "5"), ("begin", "(0,)"), ("end", "(1,)")],
        );
        assert_eq!(o.to_vec::<u8>().expect("bool"), vec![1, 1, 1]);
    }
}
