//! `moments`: mean and (population) variance over `axes`, accumulated in f64 for floats and,
//! as MXNet does, in the element type for integers.

use super::params::param;
use super::shape_ops::def;
use super::{expect_inputs, read_f64, write_f64, Desc, FnOp, Inputs, Operator, Registry};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernels::cpu::elemwise::Arith;
use crate::shape::{norm_axis, Shape};
use std::sync::Arc;

/// Which axes of `s` are reduced, and the output shape.
fn reduced(axes: &[i64], keepdims: bool, s: &Shape) -> Result<(Vec<bool>, Shape)> {
    let op = "moments";
    let mut red = vec![false; s.ndim()];
    for &a in axes {
        let k = norm_axis(a, s.ndim(), op).map_err(|_| {
            Error::shape(
                op,
                format!("Reduction axis {a} Exceeds input dimensions {s}"),
            )
        })?;
        if red[k] {
            return Err(Error::shape(
                op,
                format!("axis {a} is given twice in axes {axes:?}"),
            ));
        }
        red[k] = true;
    }
    let mut out = Vec::new();
    for (&d, &r) in s.dims().iter().zip(&red) {
        if !r {
            out.push(d);
        } else if keepdims {
            out.push(1);
        }
    }
    if out.is_empty() {
        out.push(1); // a full reduction gives shape (1,), as MXNet's reductions do
    }
    Ok((red, Shape(out)))
}

/// Output (reduced) position of every input element, and the count reduced into each.
fn positions(s: &Shape, red: &[bool]) -> (Vec<usize>, usize, usize) {
    let d = s.dims();
    let n_out: usize = d
        .iter()
        .zip(red)
        .filter(|(_, &r)| !r)
        .map(|(&v, _)| v)
        .product();
    let k = s.size() / n_out.max(1);
    let mut pos = vec![0usize; s.size()];
    let mut idx = vec![0usize; d.len()];
    for p in pos.iter_mut() {
        *p = idx
            .iter()
            .zip(d)
            .zip(red)
            .filter(|(_, &r)| !r)
            .fold(0, |acc, ((&i, &n), _)| acc * n + i);
        for ax in (0..d.len()).rev() {
            idx[ax] += 1;
            if idx[ax] < d[ax] {
                break;
            }
            idx[ax] = 0;
        }
    }
    (pos, n_out, k)
}

/// (mean, variance) per output position.
fn stats(x: &[f64], pos: &[usize], n_out: usize, k: usize) -> (Vec<f64>, Vec<f64>) {
    let mut mean = vec![0.0; n_out];
    for (&v, &p) in x.iter().zip(pos) {
        mean[p] += v;
    }
    let kf = k as f64; // an empty reduction gives NaN, as mean() and numpy do
    mean.iter_mut().for_each(|m| *m /= kf);
    let mut var = vec![0.0; n_out];
    for (&v, &p) in x.iter().zip(pos) {
        var[p] += (v - mean[p]) * (v - mean[p]);
    }
    var.iter_mut().for_each(|s| *s /= kf);
    (mean, var)
}

/// MXNet's integer moments: sums wrap in the element type and the divisions truncate (by the
/// count converted to that type), and `x - mean` and its square wrap there too.
fn int_stats<T: Arith>(x: &[T], pos: &[usize], n_out: usize, k: usize) -> (Vec<T>, Vec<T>) {
    let count = T::from_i64_c(k as i64);
    let average = |sums: Vec<i64>| -> Vec<T> {
        // Nothing to average is 0, as in the integer `mean`.
        let div = |s: i64| match k {
            0 => T::default(),
            _ => T::from_i64_c(s).div(count),
        };
        sums.into_iter().map(div).collect()
    };
    let mut sums = vec![0i64; n_out];
    for (&v, &p) in x.iter().zip(pos) {
        sums[p] = sums[p].wrapping_add(v.to_i64());
    }
    let mean = average(sums);
    let mut sums = vec![0i64; n_out];
    for (&v, &p) in x.iter().zip(pos) {
        let d = T::from_i64_c(v.to_i64().wrapping_sub(mean[p].to_i64())).to_i64();
        sums[p] = sums[p].wrapping_add(T::from_i64_c(d.wrapping_mul(d)).to_i64());
    }
    (mean, average(sums))
}

fn moments_op(axes: Vec<i64>, keepdims: bool) -> Arc<dyn Operator> {
    let op = "moments";
    let (ax, gax) = (axes.clone(), axes.clone());
    let mut f = FnOp::new(
        op,
        move |ins| {
            expect_inputs(op, ins, 1)?;
            if ins[0].dtype == DType::Bool {
                return Err(Error::dtype(op, "expects numeric data, got bool"));
            }
            let (_, out) = reduced(&ax, keepdims, &ins[0].shape)?;
            let d = Desc::new(out, ins[0].dtype);
            Ok(vec![d.clone(), d])
        },
        move |_, ins, outs| {
            let x = &ins[0];
            let (red, _) = reduced(&axes, keepdims, x.shape())?;
            let (pos, n_out, k) = positions(x.shape(), &red);
            if !x.dtype().is_float() {
                crate::with_dtype!(x.dtype(), T, {
                    // SAFETY: this op reads x and writes its two outputs, distinct arrays.
                    let (mean, var) = int_stats(unsafe { x.data::<T>() }, &pos, n_out, k);
                    unsafe { outs[0].data_mut::<T>() }.copy_from_slice(&mean);
                    unsafe { outs[1].data_mut::<T>() }.copy_from_slice(&var);
                });
                return Ok(());
            }
            let (mean, var) = stats(&read_f64(x), &pos, n_out, k);
            write_f64(&outs[0], &mean);
            write_f64(&outs[1], &var);
            Ok(())
        },
    );
    f.num_outputs = 2;
    f.with_grad(move |g, a| {
        let r = g.apply(
            backward_op(gax.clone(), keepdims),
            &[
                a.out_grads[0].clone(),
                a.out_grads[1].clone(),
                a.inputs[0].clone(),
                a.outputs[0].clone(),
            ],
        );
        Ok(vec![Some(r[0].clone())])
    })
    .arc()
}

/// `_backward_moments(d_mean, d_var, data, mean)`: d_mean / K + d_var * 2 (x - mean) / K.
fn backward_op(axes: Vec<i64>, keepdims: bool) -> Arc<dyn Operator> {
    let op = "_backward_moments";
    FnOp::new(
        op,
        move |ins| {
            expect_inputs(op, ins, 4)?;
            Ok(vec![ins[2].clone()])
        },
        move |_, ins, outs| {
            let x = &ins[2];
            let (red, _) = reduced(&axes, keepdims, x.shape())?;
            let (pos, _, k) = positions(x.shape(), &red);
            let (gm, gv, xs, mean) = (
                read_f64(&ins[0]),
                read_f64(&ins[1]),
                read_f64(x),
                read_f64(&ins[3]),
            );
            let kf = k.max(1) as f64;
            let dx: Vec<f64> = xs
                .iter()
                .zip(&pos)
                .map(|(&v, &p)| gm[p] / kf + gv[p] * 2.0 * (v - mean[p]) / kf)
                .collect();
            write_f64(&outs[0], &dx);
            Ok(())
        },
    )
    .arc()
}

pub fn register(r: &mut Registry) {
    r.add(def(
        "moments",
        "Calculates the mean and (population) variance of `data` over `axes`: two outputs, mean and var.",
        vec![
            param("axes", "Shape or None, optional", Some("None"), "Array of ints. Axes along which to compute mean and variance."),
            param("keepdims", "boolean, optional", Some("0"), "produce moments with the same dimensionality as the input."),
        ],
        Inputs::Fixed(&["data"]),
        |p| {
            let axes = p.opt_ints("axes")?.unwrap_or_default();
            if axes.is_empty() {
                return Err(Error::param(
                    "moments",
                    "Empty axes is not supported, if you would like to do global moments, please pass all axes to axes argument",
                ));
            }
            Ok(moments_op(axes, p.bool("keepdims")?))
        },
    ));
}

#[cfg(test)]
// Array handles are cheap clones; `&[x.clone()]` reads better than `from_ref` in op calls.
#[allow(clippy::cloned_ref_to_slice_refs)]
mod tests {
    use crate::error::Error;
    use crate::op::call_str;
    use crate::op::test_util::{arr, check_grad, err, f32s, rand64};

    fn two(
        x: &crate::ndarray::NDArray,
        attrs: &[(&str, &str)],
    ) -> (Vec<usize>, Vec<f32>, Vec<f32>) {
        let o = call_str("moments", std::slice::from_ref(x), attrs).expect("moments");
        (o[0].shape().dims().to_vec(), f32s(&o[0]), f32s(&o[1]))
    }

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| (x - y).abs() < 1e-4 * y.abs().max(1.0))
    }

    #[test]
    fn moments_match_mxnet() {
        // MXNet 1.9.1's docstring example and printed outputs.
        let x = arr(&[2, 3], &[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let (s, m, v) = two(&x, &[("axes", "(0,)")]);
        assert_eq!(s, vec![3]);
        assert!(
            close(&m, &[2.5, 3.5, 4.5]) && close(&v, &[2.25; 3]),
            "{m:?} {v:?}"
        );
        let (_, m, v) = two(&x, &[("axes", "(1,)")]);
        assert!(
            close(&m, &[2.0, 5.0]) && close(&v, &[0.666_666_7; 2]),
            "{m:?} {v:?}"
        );
        let (s, m, v) = two(&x, &[("axes", "(0, 1)")]);
        assert_eq!(s, vec![1]);
        assert!(
            close(&m, &[3.5]) && close(&v, &[2.916_666_7]),
            "{m:?} {v:?}"
        );
        let sq = arr(&[2, 3], &[0.0f32, 1.0, 4.0, 9.0, 16.0, 25.0]);
        let (s, m, v) = two(&sq, &[("axes", "(0,)"), ("keepdims", "True")]);
        assert_eq!(s, vec![1, 3]);
        assert!(
            close(&m, &[4.5, 8.5, 14.5]) && close(&v, &[20.25, 56.25, 110.25]),
            "{m:?} {v:?}"
        );
        let (_, m, v) = two(&sq, &[("axes", "(-1,)")]);
        assert!(
            close(&m, &[1.666_666_6, 16.666_666]) && close(&v, &[2.888_889, 42.888_89]),
            "{m:?} {v:?}"
        );
        let e = err("moments", &[x.clone()], &[("axes", "(3,)")]);
        assert!(
            matches!(e, Error::Shape { .. }) && e.to_string().contains("moments"),
            "{e}"
        );
        assert!(matches!(err("moments", &[x], &[]), Error::Param { .. }));
    }

    #[test]
    fn moments_gradient() {
        let x = rand64(&[2, 3, 4], -1.0, 1.0, 3);
        check_grad("moments", &[("axes", "(0, 2)")], &[x.clone()], &[0]);
        check_grad(
            "moments",
            &[("axes", "(1,)"), ("keepdims", "True")],
            &[x],
            &[0],
        );
    }
}
