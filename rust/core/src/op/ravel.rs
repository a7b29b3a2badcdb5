//! Index arithmetic (`_ravel_multi_index`, `_unravel_index`) and the column-wise Kronecker
//! product `khatri_rao`. A leading -1 in `shape` leaves the first dimension unbounded, as in
//! MXNet; indices outside `shape` raise an `IndexError` at the wait (MXNet returns garbage).

use super::indexing::read_indices;
use super::params::param;
use super::shape_ops::def;
use super::{expect_inputs, Desc, FnOp, Inputs, Operator, Params, Registry};
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::kernels::cpu::elemwise::Arith;
use crate::shape::Shape;
use crate::with_dtype;
use std::sync::Arc;

/// The `shape` parameter: dims, the first possibly -1 (unbounded).
fn index_shape(op: &str, p: &Params) -> Result<Vec<Option<usize>>> {
    let dims = p
        .opt_ints("shape")?
        .ok_or_else(|| Error::param(op, "shape is required"))?;
    if dims.is_empty() {
        return Err(Error::param(op, "shape must have at least one dimension"));
    }
    dims.iter()
        .enumerate()
        .map(|(k, &d)| match (k, usize::try_from(d)) {
            (_, Ok(d)) => Ok(Some(d)),
            (0, Err(_)) if d == -1 => Ok(None),
            _ => Err(Error::param(
                op,
                format!(
                    "shape entries must be non-negative (only the first may be -1), got {dims:?}"
                ),
            )),
        })
        .collect()
}

fn show(shape: &[Option<usize>]) -> String {
    let s: Vec<String> = shape
        .iter()
        .map(|d| d.map_or("-1".into(), |v| v.to_string()))
        .collect();
    format!("({})", s.join(", "))
}

fn ravel_op(shape: Vec<Option<usize>>) -> Arc<dyn Operator> {
    let op = "_ravel_multi_index";
    let nd = shape.len();
    let shown = show(&shape);
    FnOp::new(
        op,
        move |ins| {
            expect_inputs(op, ins, 1)?;
            let d = &ins[0].shape;
            if d.dims().first() != Some(&nd) {
                return Err(Error::shape(
                    op,
                    format!(
                        "First dimension of input of ravel operator does not match shape parameter dimension: data of shape {d} for shape {shown}"
                    ),
                ));
            }
            Ok(vec![Desc::new(Shape(d.dims()[1..].to_vec()), ins[0].dtype)])
        },
        move |_, ins, outs| {
            let o = &outs[0];
            let n = o.size();
            let raw = read_indices(&ins[0]);
            let mut flat = vec![0i64; n];
            for (k, dim) in shape.iter().enumerate() {
                for (p, f) in flat.iter_mut().enumerate() {
                    let i = raw[k * n + p];
                    let ok = i >= 0 && dim.is_none_or(|d| (i as u64) < d as u64);
                    if !ok {
                        return Err(Error::Index(format!(
                            "{op}: index {i} is out of bounds for dimension {k} of shape {}",
                            show(&shape)
                        )));
                    }
                    *f = *f * dim.unwrap_or(1) as i64 + i;
                }
            }
            write_ints(o, &flat);
            Ok(())
        },
    )
    .with_grad(|g, a| Ok(vec![Some(g.zeros_like(&a.inputs[0])?)]))
    .arc()
}

fn write_ints(o: &crate::ndarray::NDArray, v: &[i64]) {
    if v.is_empty() {
        return;
    }
    with_dtype!(o.dtype(), T, {
        // SAFETY: inside the op writing o (fresh), which holds v.len() elements.
        let dst = unsafe { o.data_mut::<T>() };
        for (d, &x) in dst.iter_mut().zip(v) {
            *d = T::from_f64(x as f64);
        }
    })
}

fn unravel_op(shape: Vec<Option<usize>>) -> Arc<dyn Operator> {
    let op = "_unravel_index";
    let nd = shape.len();
    FnOp::new(
        op,
        move |ins| {
            expect_inputs(op, ins, 1)?;
            let mut out = vec![nd];
            out.extend_from_slice(ins[0].shape.dims());
            Ok(vec![Desc::new(Shape(out), ins[0].dtype)])
        },
        move |_, ins, outs| {
            let raw = read_indices(&ins[0]);
            let n = raw.len();
            // Without a bound on the first dim any non-negative index is valid.
            let total = shape
                .iter()
                .try_fold(1u64, |a, d| d.map(|d| a.saturating_mul(d as u64)));
            let mut out = vec![0i64; nd * n];
            for (p, &i) in raw.iter().enumerate() {
                if i < 0 || total.is_some_and(|t| i as u64 >= t) {
                    return Err(Error::Index(format!(
                        "{op}: index {i} is out of bounds for shape {}",
                        show(&shape)
                    )));
                }
                let mut rest = i;
                // The first dim takes what is left (bounded by the check above); the others
                // are non-zero here, or `total` would be 0 and every index rejected.
                for k in (1..nd).rev() {
                    let d = shape[k].unwrap_or(1).max(1) as i64;
                    out[k * n + p] = rest % d;
                    rest /= d;
                }
                out[p] = rest;
            }
            write_ints(&outs[0], &out);
            Ok(())
        },
    )
    .with_grad(|g, a| Ok(vec![Some(g.zeros_like(&a.inputs[0])?)]))
    .arc()
}

fn khatri_rao_op() -> Arc<dyn Operator> {
    let op = "khatri_rao";
    FnOp::new(
        op,
        move |ins| {
            let Some(first) = ins.first() else {
                return Err(Error::Value(format!("operator {op} takes at least one input, 0 given")));
            };
            let cols = first.shape.dims().get(1).copied();
            let mut rows = 1usize;
            for (k, d) in ins.iter().enumerate() {
                if d.shape.ndim() != 2 || d.shape.dims().get(1).copied() != cols {
                    return Err(Error::shape(
                        op,
                        format!(
                            "every input must be a matrix with the column count of the first ({}), but input {k} has shape {}",
                            first.shape, d.shape
                        ),
                    ));
                }
                if d.dtype != first.dtype {
                    return Err(Error::dtype(
                        op,
                        format!("inputs must share one dtype, got {} and {}", first.dtype, d.dtype),
                    ));
                }
                rows *= d.shape[0];
            }
            Ok(vec![Desc::new(vec![rows, cols.unwrap_or(0)], first.dtype)])
        },
        move |_, ins, outs| {
            let o = &outs[0];
            if o.size() == 0 {
                return Ok(());
            }
            let c = o.shape()[1];
            with_dtype!(o.dtype(), T, {
                // SAFETY: inside the op reading ins and writing o (fresh).
                let dst = unsafe { o.data_mut::<T>() };
                // Row r of the output is the product of one row per input, the first input's
                // row varying slowest; grow the product one input at a time.
                let mut acc: Vec<T> = vec![T::from_f64(1.0); c];
                let mut nrows = 1usize;
                for a in ins {
                    // SAFETY: as above.
                    let src = unsafe { a.data::<T>() };
                    let ra = a.shape()[0];
                    let mut next = Vec::with_capacity(nrows * ra * c);
                    for r in 0..nrows {
                        for q in 0..ra {
                            for j in 0..c {
                                next.push(Arith::mul(acc[r * c + j], src[q * c + j]));
                            }
                        }
                    }
                    acc = next;
                    nrows *= ra;
                }
                dst.copy_from_slice(&acc);
            });
            Ok(())
        },
    )
    .arc()
}

pub fn register(r: &mut Registry) {
    let shape_param = || {
        vec![param(
            "shape",
            "Shape(tuple), optional",
            Some("None"),
            "Shape of the array into which the multi-indices apply.",
        )]
    };
    r.add(def(
        "_ravel_multi_index",
        "Converts a batch of index arrays (one multi-index per column of `data`) into flat indices into an array of `shape`; a leading -1 leaves the first dimension unbounded.",
        shape_param(),
        Inputs::Fixed(&["data"]),
        |p| Ok(ravel_op(index_shape("_ravel_multi_index", p)?)),
    ));
    r.alias("ravel_multi_index", "_ravel_multi_index");
    r.add(def(
        "_unravel_index",
        "Converts flat indices into an array of `shape` into multi-indices (one per column of the output); a leading -1 leaves the first dimension unbounded.",
        shape_param(),
        Inputs::Fixed(&["data"]),
        |p| Ok(unravel_op(index_shape("_unravel_index", p)?)),
    ));
    r.alias("unravel_index", "_unravel_index");
    r.add(def(
        "khatri_rao",
        "Computes the Khatri-Rao product (column-wise Kronecker product) of the input matrices, which share a column count: an array of shape (prod of row counts, columns).",
        vec![param("num_args", "int", None, "Number of input matrices.")],
        Inputs::Variadic {
            name: "args",
            count_param: "num_args",
        },
        |p| p.count("num_args").map(|_| khatri_rao_op()),
    ));
}

#[cfg(test)]
// Array handles are cheap clones; `&[x.clone()]` reads better than `from_ref` in op calls.
#[allow(clippy::cloned_ref_to_slice_refs)]
mod tests {
    use crate::error::Error;
    use crate::op::test_util::{arr, err, f32s, run};

    #[test]
    fn ravel_unravel_match_mxnet() {
        let a = arr(&[2, 3], &[3.0f32, 6.0, 6.0, 4.0, 5.0, 1.0]);
        for s in ["(7, 6)", "(-1, 6)"] {
            assert_eq!(
                f32s(&run("ravel_multi_index", &[a.clone()], &[("shape", s)])),
                vec![22.0, 41.0, 37.0]
            );
            let u = run(
                "unravel_index",
                &[arr(&[3], &[22.0f32, 41.0, 37.0])],
                &[("shape", s)],
            );
            assert_eq!(u.shape().dims(), &[2, 3]);
            assert_eq!(f32s(&u), f32s(&a));
        }
        let big = arr(&[2, 1], &[9.0f32, 1.0]);
        assert_eq!(
            f32s(&run(
                "_ravel_multi_index",
                &[big.clone()],
                &[("shape", "(-1, 6)")]
            )),
            vec![55.0]
        );
        let e = err("_ravel_multi_index", &[big], &[("shape", "(7, 6)")]);
        assert!(
            e.to_string().contains("out of bounds") && e.to_string().contains("_ravel_multi_index"),
            "{e}"
        );
        let e = err(
            "_unravel_index",
            &[arr(&[1], &[42.0f32])],
            &[("shape", "(7, 6)")],
        );
        assert!(e.to_string().contains("out of bounds"), "{e}");
        let e = err(
            "_unravel_index",
            &[arr(&[1], &[-1.0f32])],
            &[("shape", "(-1, 6)")],
        );
        assert!(e.to_string().contains("out of bounds"), "{e}");
        let e = err(
            "_ravel_multi_index",
            &[a.clone()],
            &[("shape", "(7, 6, 2)")],
        );
        assert!(matches!(e, Error::Shape { .. }), "{e}");
        assert!(matches!(
            err("_ravel_multi_index", &[a], &[]),
            Error::Param { .. }
        ));
        let i = run(
            "unravel_index",
            &[arr(&[2], &[5i32, 7])],
            &[("shape", "(2, 2, 2)")],
        );
        assert_eq!(i.to_vec::<i32>().expect("i32"), vec![1, 1, 0, 1, 1, 1]);
    }

    #[test]
    fn khatri_rao_matches_mxnet() {
        let a = arr(&[2, 2], &[1.0f32, -1.0, 2.0, -3.0]);
        let b = arr(&[3, 2], &[1.0f32, 4.0, 2.0, 5.0, 3.0, 6.0]);
        let o = run("khatri_rao", &[a.clone(), b.clone()], &[("num_args", "2")]);
        assert_eq!(o.shape().dims(), &[6, 2]);
        assert_eq!(
            f32s(&o),
            vec![1.0, -4.0, 2.0, -5.0, 3.0, -6.0, 2.0, -12.0, 4.0, -15.0, 6.0, -18.0]
        );
        assert_eq!(
            f32s(&run("khatri_rao", &[a.clone()], &[("num_args", "1")])),
            f32s(&a)
        );
        let e = err(
            "khatri_rao",
            &[a, arr(&[1, 3], &[1.0f32; 3])],
            &[("num_args", "2")],
        );
        assert!(
            matches!(e, Error::Shape { .. }) && e.to_string().contains("khatri_rao"),
            "{e}"
        );
        // No inputs is a parameter error, as MXNet's num_args >= 1 bound.
        let e = err("khatri_rao", &[], &[("num_args", "0")]);
        assert!(
            matches!(e, Error::Param { .. })
                && e.to_string().contains("num_args must be at least 1"),
            "{e}"
        );
    }
}
