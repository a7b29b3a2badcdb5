//! Axis reorderings: `transpose`, `SwapAxis`, `flip` and `diag`, each one strided walk of the
//! input (tiled by the kernel when the walk transposes, so both sides stay in cache).

use super::params::param;
use super::shape_ops::{def, injective_view_op, istrides, View};
use super::{expect_inputs, Desc, FnOp, Inputs, Operator, Registry};
use crate::error::{Error, Result};
use crate::kernels::cpu::elemwise::fill;
use crate::kernels::cpu::strided::{copy_walk, Walk};
use crate::shape::{norm_axis, Shape};
use crate::with_dtype;
use std::sync::Arc;

fn flip_view(s: &Shape, axes: &[i64]) -> Result<View> {
    let mut flip = vec![false; s.ndim()];
    for &a in axes {
        // An axis named twice flips back, as in MXNet.
        let i = norm_axis(a, s.ndim(), "flip")?;
        flip[i] = !flip[i];
    }
    let mut st = istrides(s);
    let mut off = 0isize;
    for i in 0..s.ndim() {
        if flip[i] {
            off += (s[i] as isize - 1) * st[i];
            st[i] = -st[i];
        }
    }
    Ok(View::direct(s.clone(), off, st))
}

fn permute_view(s: &Shape, perm: &[usize]) -> View {
    let st = istrides(s);
    View::direct(
        Shape(perm.iter().map(|&p| s[p]).collect()),
        0,
        perm.iter().map(|&p| st[p]).collect(),
    )
}

fn transpose_view(s: &Shape, axes: &[i64]) -> Result<View> {
    let nd = s.ndim();
    if axes.is_empty() {
        return Ok(permute_view(s, &(0..nd).rev().collect::<Vec<_>>()));
    }
    if axes.len() != nd {
        return Err(Error::shape(
            "transpose",
            format!("axes {axes:?} must name each of the {nd} axes of shape {s} once"),
        ));
    }
    let mut seen = vec![false; nd];
    let mut perm = Vec::with_capacity(nd);
    for &a in axes {
        let i = norm_axis(a, nd, "transpose")?;
        if std::mem::replace(&mut seen[i], true) {
            return Err(Error::shape(
                "transpose",
                format!("axes {axes:?} repeat axis {a}"),
            ));
        }
        perm.push(i);
    }
    Ok(permute_view(s, &perm))
}

fn swap_view(s: &Shape, d1: i64, d2: i64) -> Result<View> {
    let (a, b) = (
        norm_axis(d1, s.ndim(), "SwapAxis")?,
        norm_axis(d2, s.ndim(), "SwapAxis")?,
    );
    let mut perm: Vec<usize> = (0..s.ndim()).collect();
    if s.ndim() > 0 {
        perm.swap(a, b);
    }
    Ok(permute_view(s, &perm))
}

/// `diag` of a k-D array (k >= 2): the diagonal of axes (axis1, axis2) as a new last axis.
/// As in MXNet, an offset reaching exactly one past the edge gives an empty diagonal and one
/// further is an error (numpy would return an empty diagonal for any offset).
fn diag_view(s: &Shape, k: i64, axis1: i64, axis2: i64) -> Result<View> {
    let (a1, a2) = (
        norm_axis(axis1, s.ndim(), "diag")?,
        norm_axis(axis2, s.ndim(), "diag")?,
    );
    if a1 == a2 {
        return Err(Error::shape(
            "diag",
            format!("axis1 and axis2 cannot be the same axis ({axis1}, {axis2})"),
        ));
    }
    let st = istrides(s);
    let (n1, n2) = (s[a1] as i64, s[a2] as i64);
    if (k > 0 && k > n2) || (k < 0 && -k > n1) {
        return Err(Error::shape(
            "diag",
            format!("Diagonal does not exist: offset k={k} for axes of sizes {n1} and {n2}"),
        ));
    }
    let len = if k >= 0 {
        n1.min(n2 - k)
    } else {
        (n1 + k).min(n2)
    }
    .max(0) as usize;
    let off = if len == 0 {
        0
    } else if k >= 0 {
        k as isize * st[a2]
    } else {
        -k as isize * st[a1]
    };
    let keep: Vec<usize> = (0..s.ndim()).filter(|&i| i != a1 && i != a2).collect();
    let mut out: Vec<usize> = keep.iter().map(|&i| s[i]).collect();
    let mut strides: Vec<isize> = keep.iter().map(|&i| st[i]).collect();
    out.push(len);
    strides.push(st[a1] + st[a2]);
    Ok(View::direct(Shape(out), off, strides))
}

fn diag_op(k: i64, axis1: i64, axis2: i64) -> Arc<dyn Operator> {
    let op = "diag";
    // A 1-D input builds a square matrix with the input on diagonal k.
    let square = move |n: usize| -> Result<(usize, isize)> {
        let side = n.checked_add(k.unsigned_abs() as usize).ok_or_else(|| {
            Error::shape(
                op,
                format!("diagonal {k} of a vector of length {n} is too large"),
            )
        })?;
        let off = if k >= 0 {
            k as isize
        } else {
            -k as isize * side as isize
        };
        Ok((side, off))
    };
    FnOp::new(
        op,
        move |inputs| {
            expect_inputs(op, inputs, 1)?;
            let s = &inputs[0].shape;
            let out = match s.ndim() {
                0 => return Err(Error::shape(op, "diag needs at least a 1-D input")),
                1 => {
                    let (side, _) = square(s[0])?;
                    Shape(vec![side, side])
                }
                _ => diag_view(s, k, axis1, axis2)?.out,
            };
            Ok(vec![Desc::new(out, inputs[0].dtype)])
        },
        move |_, ins, outs| {
            let (a, o) = (&ins[0], &outs[0]);
            if a.ndim() == 1 {
                let n = a.shape()[0];
                let (side, off) = square(n)?;
                with_dtype!(o.dtype(), T, { fill::<T>(o, T::default()) });
                return copy_walk(
                    &[n],
                    a,
                    &Walk::contiguous(&[n]),
                    o,
                    &Walk::new(off, vec![side as isize + 1]),
                );
            }
            let v = diag_view(a.shape(), k, axis1, axis2)?;
            copy_walk(&v.dims, a, &v.walk, o, &Walk::contiguous(&v.dims))
        },
    )
    .with_grad(move |g, a| {
        let r = g.apply(
            backward_diag_op(k, axis1, axis2),
            &[a.out_grads[0].clone(), a.inputs[0].clone()],
        );
        Ok(vec![Some(r[0].clone())])
    })
    .arc()
}

/// `_backward_diag(ograd, data)`: for a 1-D `data`, diagonal k of `ograd`; otherwise zeros
/// shaped like `data` with `ograd` on the diagonal. Both are `diag` of `ograd` transposed in
/// the sense of the walk, so its own gradient is `diag` again.
fn backward_diag_op(k: i64, axis1: i64, axis2: i64) -> Arc<dyn Operator> {
    const NAME: &str = "_backward_diag";
    FnOp::new(
        NAME,
        move |inputs| {
            expect_inputs(NAME, inputs, 2)?;
            Ok(vec![Desc::new(inputs[1].shape.clone(), inputs[0].dtype)])
        },
        move |_, ins, outs| {
            let (og, x, o) = (&ins[0], &ins[1], &outs[0]);
            if x.ndim() == 1 {
                let v = diag_view(og.shape(), k, 0, 1)?;
                return copy_walk(&v.dims, og, &v.walk, o, &Walk::contiguous(&v.dims));
            }
            let v = diag_view(x.shape(), k, axis1, axis2)?;
            with_dtype!(o.dtype(), T, { fill::<T>(o, T::default()) });
            copy_walk(&v.dims, og, &Walk::contiguous(&v.dims), o, &v.walk)
        },
    )
    .with_shape_partial(|ins, outs| {
        if outs[0].is_none() {
            outs[0] = ins[1].clone();
        }
        Ok(())
    })
    .with_grad(move |g, a| {
        let (ks, a1, a2) = (k.to_string(), axis1.to_string(), axis2.to_string());
        let r = g.op1(
            "diag",
            &[("k", &ks), ("axis1", &a1), ("axis2", &a2)],
            &a.out_grads[..1],
        )?;
        Ok(vec![Some(r), None])
    })
    .arc()
}

pub fn register(r: &mut Registry) {
    r.add(def(
        "transpose",
        "Permutes the dimensions of an array (reverses them when `axes` is empty).",
        vec![param(
            "axes",
            "Shape(tuple)",
            Some("()"),
            "Target axis order. By default the axes will be inverted.",
        )],
        Inputs::Fixed(&["data"]),
        |p| {
            let axes = p.ints("axes")?;
            Ok(injective_view_op("transpose", 1, move |s| {
                transpose_view(s[0], &axes)
            }))
        },
    ));
    r.add(def(
        "SwapAxis",
        "Interchanges two axes of an array.",
        vec![
            param("dim1", "int", Some("0"), "the first axis to be swapped."),
            param("dim2", "int", Some("0"), "the second axis to be swapped."),
        ],
        Inputs::Fixed(&["data"]),
        |p| {
            let (d1, d2) = (p.int("dim1")?, p.int("dim2")?);
            Ok(injective_view_op("SwapAxis", 1, move |s| {
                swap_view(s[0], d1, d2)
            }))
        },
    ));
    r.alias("swapaxes", "SwapAxis");
    // MXNet's canonical name, the one its JSON carries, is `reverse`
    r.add(def(
        "reverse",
        "Reverses the order of elements along the given axes, preserving the shape.",
        vec![param(
            "axis",
            "Shape(tuple)",
            None,
            "The axis which to reverse elements.",
        )],
        Inputs::Fixed(&["data"]),
        |p| {
            let axes = p.ints("axis")?;
            Ok(injective_view_op("flip", 1, move |s| {
                flip_view(s[0], &axes)
            }))
        },
    ));
    r.alias("flip", "reverse");
    r.add(def(
        "diag",
        "Extracts diagonal k of a k-D array (axes axis1, axis2; the diagonal becomes the last axis), or builds a 2-D array with a 1-D input on diagonal k.",
        vec![
            param("k", "int", Some("0"), "Diagonal in question: k>0 above the main diagonal, k<0 below."),
            param("axis1", "int", Some("0"), "The first axis of the sub-arrays of interest. Ignored when the input is a 1-D array."),
            param("axis2", "int", Some("1"), "The second axis of the sub-arrays of interest. Ignored when the input is a 1-D array."),
        ],
        Inputs::Fixed(&["data"]),
        |p| Ok(diag_op(p.int("k")?, p.int("axis1")?, p.int("axis2")?)),
    ));
}

#[cfg(test)]
// Array handles are cheap clones; `&[x.clone()]` reads better than `from_ref` in op calls.
#[allow(clippy::cloned_ref_to_slice_refs)]
mod tests {
    use crate::error::Error;
    use crate::op::test_util::{arr, err, f32s, gather, iota, ravel, run, unravel};
    use half::f16;

    /// Reference transpose: out[i] = in[perm-mapped index].
    fn naive_transpose(x: &[f32], shape: &[usize], perm: &[usize]) -> Vec<f32> {
        let out: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
        (0..x.len())
            .map(|i| {
                let oi = unravel(i, &out);
                let mut ii = vec![0; shape.len()];
                for (d, &p) in perm.iter().enumerate() {
                    ii[p] = oi[d];
                }
                x[ravel(&ii, shape)]
            })
            .collect()
    }

    #[test]
    fn transpose_swapaxes() {
        let x = iota(&[2, 3, 4]);
        let xs = f32s(&x);
        let o = run("transpose", &[x.clone()], &[]);
        assert_eq!(o.shape().dims(), &[4, 3, 2]);
        assert_eq!(f32s(&o), naive_transpose(&xs, &[2, 3, 4], &[2, 1, 0]));
        let o = run("transpose", &[x.clone()], &[("axes", "(1, -3, 2)")]);
        assert_eq!(f32s(&o), naive_transpose(&xs, &[2, 3, 4], &[1, 0, 2]));
        assert!(matches!(
            err("transpose", &[x.clone()], &[("axes", "(1, 0)")]),
            Error::Shape { .. }
        ));
        assert!(matches!(
            err("transpose", &[x.clone()], &[("axes", "(1, 0, 1)")]),
            Error::Shape { .. }
        ));
        assert!(matches!(
            err("transpose", &[x.clone()], &[("axes", "(0, 1, 3)")]),
            Error::Shape { .. }
        ));
        let o = run("swapaxes", &[x.clone()], &[("dim1", "-1"), ("dim2", "0")]);
        assert_eq!(f32s(&o), naive_transpose(&xs, &[2, 3, 4], &[2, 1, 0]));
        assert!(matches!(
            err("SwapAxis", &[x.clone()], &[("dim1", "3")]),
            Error::Shape { .. }
        ));
        // Big enough for the tiled and parallel paths, odd sizes for the tile edges.
        for shape in [[301usize, 257, 1], [3, 130, 170], [70, 3, 333]] {
            let x = iota(&shape);
            let xs = f32s(&x);
            for perm in [[1usize, 0, 2], [2, 1, 0], [0, 2, 1], [1, 2, 0]] {
                let axes = format!("({}, {}, {})", perm[0], perm[1], perm[2]);
                let o = run("transpose", &[x.clone()], &[("axes", &axes)]);
                assert_eq!(
                    f32s(&o),
                    naive_transpose(&xs, &shape, &perm),
                    "{shape:?} {perm:?}"
                );
            }
        }
        // Size-0 and other dtypes.
        let o = run("transpose", &[iota(&[0, 3])], &[]);
        assert_eq!(o.shape().dims(), &[3, 0]);
        let b = arr(&[2, 2], &[1u8, 2, 3, 4]);
        let o = run("transpose", &[b], &[]);
        assert_eq!(o.to_vec::<u8>().expect("u8"), vec![1, 3, 2, 4]);
        let h = arr(&[1, 3], &[f16::ONE, f16::ZERO, f16::NEG_ONE]);
        assert_eq!(run("transpose", &[h], &[]).shape().dims(), &[3, 1]);
    }

    #[test]
    fn diag_cases() {
        let m = iota(&[3, 4]);
        assert_eq!(f32s(&run("diag", &[m.clone()], &[])), vec![0.0, 5.0, 10.0]);
        assert_eq!(
            f32s(&run("diag", &[m.clone()], &[("k", "1")])),
            vec![1.0, 6.0, 11.0]
        );
        assert_eq!(f32s(&run("diag", &[m.clone()], &[("k", "-2")])), vec![8.0]);
        // MXNet 1.9.1: k=4 on a 3×4 matrix is empty, k=5 and k=-4 do not exist.
        assert_eq!(
            run("diag", &[m.clone()], &[("k", "4")]).shape().dims(),
            &[0]
        );
        assert_eq!(
            run("diag", &[m.clone()], &[("k", "-3")]).shape().dims(),
            &[0]
        );
        for k in ["5", "-4"] {
            let e = err("diag", &[m.clone()], &[("k", k)]);
            assert!(e.to_string().contains("Diagonal does not exist"), "{e}");
        }
        let v = iota(&[2]);
        let o = run("diag", &[v.clone()], &[("k", "1")]);
        assert_eq!(o.shape().dims(), &[3, 3]);
        assert_eq!(f32s(&o), vec![0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
        let o = run("diag", &[v], &[("k", "-1")]);
        assert_eq!(f32s(&o), vec![0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
        let a = iota(&[2, 3, 4]);
        let o = run("diag", &[a.clone()], &[]);
        assert_eq!(o.shape().dims(), &[4, 2]);
        assert_eq!(f32s(&o), vec![0.0, 16.0, 1.0, 17.0, 2.0, 18.0, 3.0, 19.0]);
        let o = run("diag", &[a.clone()], &[("axis1", "1"), ("axis2", "-1")]);
        assert_eq!(f32s(&o), vec![0.0, 5.0, 10.0, 12.0, 17.0, 22.0]);
        assert!(matches!(
            err("diag", &[a], &[("axis1", "1"), ("axis2", "1")]),
            Error::Shape { .. }
        ));
    }

    #[test]
    fn flip_axes() {
        let x = iota(&[2, 3, 4]);
        let xs = f32s(&x);
        let sh = [2usize, 3, 4];
        for (axes, flips) in [
            ("1", [false, true, false]),
            ("(0, 2)", [true, false, true]),
            ("-1", [false, false, true]),
            ("(0, 0)", [false; 3]),
        ] {
            let o = run("flip", &[x.clone()], &[("axis", axes)]);
            let want = gather(&xs, &sh, |i| {
                let j: Vec<usize> = (0..3)
                    .map(|d| if flips[d] { sh[d] - 1 - i[d] } else { i[d] })
                    .collect();
                ravel(&j, &sh)
            });
            assert_eq!(f32s(&o), want, "flip {axes}");
        }
        assert_eq!(
            f32s(&run("reverse", &[iota(&[3])], &[("axis", "0")])),
            vec![2.0, 1.0, 0.0]
        );
        assert!(matches!(
            err("flip", &[x.clone()], &[("axis", "3")]),
            Error::Shape { .. }
        ));
        assert_eq!(
            run("flip", &[iota(&[0, 2])], &[("axis", "0")])
                .shape()
                .dims(),
            &[0, 2]
        );
    }

    /// `cargo test --release --lib transpose_throughput -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn transpose_throughput() {
        let n = 4096;
        let x = iota(&[n, n]);
        run("transpose", &[x.clone()], &[])
            .wait_to_read()
            .expect("warm-up");
        let t = std::time::Instant::now();
        let reps = 10;
        for _ in 0..reps {
            run("transpose", &[x.clone()], &[])
                .wait_to_read()
                .expect("transpose");
        }
        let s = t.elapsed().as_secs_f64() / reps as f64;
        let gbs = 2.0 * (n * n * 4) as f64 / s / 1e9;
        println!(
            "transpose {n}x{n} f32: {:.2} ms, {gbs:.1} GB/s moved",
            s * 1e3
        );
        // The copy floor: Flatten is one parallel memcpy.
        let t = std::time::Instant::now();
        for _ in 0..reps {
            run("Flatten", &[x.clone()], &[])
                .wait_to_read()
                .expect("copy");
        }
        let s = t.elapsed().as_secs_f64() / reps as f64;
        let gbs = 2.0 * (n * n * 4) as f64 / s / 1e9;
        println!("copy {n}x{n} f32: {:.2} ms, {gbs:.1} GB/s moved", s * 1e3);
    }
}
