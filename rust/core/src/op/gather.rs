//! N-dimensional gathers and scatters: `gather_nd`, `scatter_nd`, `_scatter_set_nd` and
//! `batch_take`. Column `p` of `indices` (shape `(M, Y...)`) addresses `data[idx[0][p], ...,
//! idx[M-1][p]]`, a slab of the trailing `N - M` data axes. Negative indices count from the end
//! (MXNet's `gather_nd` does so); anything else out of range is an `IndexError` at the wait.

use super::indexing::read_indices;
use super::params::param;
use super::shape_ops::def;
use super::{data_type_only, expect_inputs, Desc, FnOp, Inputs, Operator, Registry};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::kernels::cpu::elemwise::Arith;
use crate::ndarray::NDArray;
use crate::shape::Shape;
use crate::with_dtype;
use std::sync::Arc;

/// How the index array `idx` addresses an array of shape `data`: (M, points, slab size).
fn nd_layout(op: &str, data: &Shape, idx: &Shape) -> Result<(usize, usize, usize)> {
    let Some(&m) = idx.dims().first() else {
        return Err(Error::shape(
            op,
            format!("indices must have at least one dimension, got shape {idx}"),
        ));
    };
    if m == 0 || m > data.ndim() {
        return Err(Error::shape(
            op,
            format!(
                "indices.shape[0] ({m}) must be between 1 and the number of data dimensions ({}): indices of shape {idx} cannot address data of shape {data}",
                data.ndim()
            ),
        ));
    }
    let points = idx.dims()[1..].iter().product();
    let slab = data.dims()[m..].iter().product();
    Ok((m, points, slab))
}

/// Output shape of `gather_nd`: indices.shape[1:] + data.shape[M:].
fn gather_shape(op: &str, data: &Shape, idx: &Shape) -> Result<Shape> {
    let (m, _, _) = nd_layout(op, data, idx)?;
    let mut out = idx.dims()[1..].to_vec();
    out.extend_from_slice(&data.dims()[m..]);
    Ok(Shape(out))
}

/// Slab offsets (in elements) of every index column into an array of shape `data`.
fn slab_offsets(op: &str, data: &Shape, idx: &NDArray) -> Result<Vec<usize>> {
    let (m, points, slab) = nd_layout(op, data, idx.shape())?;
    // As MXNet: an index is checked against [-n, n - 1] and a negative one has n added, both
    // before truncation (-0.5 is the last row of 5, 4.9 is out of range).
    let raw = super::read_f64(idx);
    let mut offs = vec![0usize; points];
    let mut stride = slab;
    for j in (0..m).rev() {
        let n = data[j];
        for (p, off) in offs.iter_mut().enumerate() {
            let i = raw[j * points + p];
            if !(i >= -(n as f64) && i <= n as f64 - 1.0) {
                return Err(Error::Index(format!(
                    "{op}: index {i} is out of bounds for axis {j} with size {n}"
                )));
            }
            let k = if i < 0.0 { i + n as f64 } else { i };
            *off += k as usize * stride;
        }
        stride *= n;
    }
    Ok(offs)
}

fn gather_nd_op() -> Arc<dyn Operator> {
    let op = "gather_nd";
    FnOp::new(
        op,
        move |ins| {
            expect_inputs(op, ins, 2)?;
            let out = gather_shape(op, &ins[0].shape, &ins[1].shape)?;
            Ok(vec![Desc::new(out, ins[0].dtype)])
        },
        move |_, ins, outs| {
            let (d, o) = (&ins[0], &outs[0]);
            let offs = slab_offsets(op, d.shape(), &ins[1])?;
            if o.size() == 0 {
                return Ok(());
            }
            let slab = o.size() / offs.len().max(1);
            with_dtype!(d.dtype(), T, {
                // SAFETY: inside the op reading d and writing o (fresh); offsets were checked
                // to address whole slabs inside d.
                let (src, dst) = unsafe { (d.data::<T>(), o.data_mut::<T>()) };
                for (p, &off) in offs.iter().enumerate() {
                    dst[p * slab..(p + 1) * slab].copy_from_slice(&src[off..off + slab]);
                }
            });
            Ok(())
        },
    )
    .with_type_partial(data_type_only)
    .with_grad(|g, a| {
        let r = g.apply(
            scatter_op(Scatter::Add, None),
            &[
                a.out_grads[0].clone(),
                a.inputs[1].clone(),
                a.inputs[0].clone(),
            ],
        );
        Ok(vec![Some(r[0].clone()), None])
    })
    .arc()
}

#[derive(Clone, Copy, PartialEq)]
enum Scatter {
    /// `scatter_nd`: zeros, then each slab assigned (a repeated index keeps the last).
    Set,
    /// `_backward_gather_nd`: zeros, then slabs accumulated.
    Add,
}

/// `scatter_nd(data, indices)` into `shape`, or (shape None) into the shape of a third input,
/// which is only read for its shape (gather_nd's gradient does not know it when building).
fn scatter_op(kind: Scatter, shape: Option<Vec<usize>>) -> Arc<dyn Operator> {
    let op = match kind {
        Scatter::Set => "scatter_nd",
        Scatter::Add => "_backward_gather_nd",
    };
    let nin = if shape.is_some() { 2 } else { 3 };
    let fixed = shape.clone();
    FnOp::new(
        op,
        move |ins| {
            expect_inputs(op, ins, nin)?;
            let out = match &fixed {
                Some(s) => Shape(s.clone()),
                None => ins[2].shape.clone(),
            };
            let want = gather_shape(op, &out, &ins[1].shape)?;
            if ins[0].shape != want {
                return Err(Error::shape(
                    op,
                    format!(
                        "data of shape {} does not fit indices of shape {} into shape {out}: expected data of shape {want}",
                        ins[0].shape, ins[1].shape
                    ),
                ));
            }
            Ok(vec![Desc::new(out, ins[0].dtype)])
        },
        move |_, ins, outs| {
            let (d, o) = (&ins[0], &outs[0]);
            let offs = slab_offsets(op, o.shape(), &ins[1])?;
            with_dtype!(o.dtype(), T, {
                // SAFETY: inside the op reading d and writing o (fresh); offsets address
                // whole slabs inside o.
                let dst = unsafe { o.data_mut::<T>() };
                dst.fill(T::default());
                if d.size() == 0 {
                    return Ok(());
                }
                // SAFETY: as above.
                let src = unsafe { d.data::<T>() };
                let slab = d.size() / offs.len().max(1);
                for (p, &off) in offs.iter().enumerate() {
                    let (to, from) = (&mut dst[off..off + slab], &src[p * slab..(p + 1) * slab]);
                    match kind {
                        Scatter::Set => to.copy_from_slice(from),
                        Scatter::Add => {
                            for (t, &f) in to.iter_mut().zip(from) {
                                *t = Arith::add(*t, f);
                            }
                        }
                    }
                }
            });
            Ok(())
        },
    )
    .with_shape_partial(move |ins, outs| {
        if outs[0].is_none() {
            outs[0] = match &shape {
                Some(s) => Some(Shape(s.clone())),
                None => ins.get(2).cloned().flatten(),
            };
        }
        Ok(())
    })
    .with_type_partial(data_type_only)
    .with_grad(|g, a| {
        let r = g.op1(
            "gather_nd",
            &[],
            &[a.out_grads[0].clone(), a.inputs[1].clone()],
        )?;
        let mut v = vec![Some(r), None];
        v.resize(a.inputs.len(), None);
        Ok(v)
    })
    .arc()
}

/// `_scatter_set_nd(lhs, rhs, indices)`: lhs with the addressed slabs replaced by rhs (what
/// `x[idx] = v` runs in MXNet).
fn scatter_set_nd_op(shape: Vec<usize>) -> Arc<dyn Operator> {
    let op = "_scatter_set_nd";
    FnOp::new(
        op,
        move |ins| {
            expect_inputs(op, ins, 3)?;
            let (l, r, i) = (&ins[0], &ins[1], &ins[2]);
            if !shape.is_empty() && l.shape.dims() != shape.as_slice() {
                return Err(Error::shape(
                    op,
                    format!(
                        "lhs of shape {} does not match shape {}",
                        l.shape,
                        Shape(shape.clone())
                    ),
                ));
            }
            let want = gather_shape(op, &l.shape, &i.shape)?;
            if r.shape != want {
                return Err(Error::shape(
                    op,
                    format!(
                        "rhs of shape {} does not fit indices of shape {} into lhs of shape {}: expected rhs of shape {want}",
                        r.shape, i.shape, l.shape
                    ),
                ));
            }
            if r.dtype != l.dtype {
                return Err(Error::dtype(
                    op,
                    format!("lhs and rhs must have one dtype, got {} and {}", l.dtype, r.dtype),
                ));
            }
            Ok(vec![l.clone()])
        },
        move |_, ins, outs| {
            let (l, r, o) = (&ins[0], &ins[1], &outs[0]);
            let offs = slab_offsets(op, o.shape(), &ins[2])?;
            if o.size() == 0 {
                return Ok(());
            }
            with_dtype!(o.dtype(), T, {
                // SAFETY: inside the op reading l, r and writing o (fresh, not aliased);
                // offsets address whole slabs inside o.
                let (src, dst) = unsafe { (l.data::<T>(), o.data_mut::<T>()) };
                dst.copy_from_slice(src);
                if r.size() > 0 {
                    // SAFETY: as above.
                    let rv = unsafe { r.data::<T>() };
                    let slab = r.size() / offs.len().max(1);
                    for (p, &off) in offs.iter().enumerate() {
                        dst[off..off + slab].copy_from_slice(&rv[p * slab..(p + 1) * slab]);
                    }
                }
            });
            Ok(())
        },
    )
    .with_type_partial(|ins, outs| {
        let (l, r) = (ins[0], ins[1]);
        let t = l.or(r).or(outs[0]);
        ins[0] = ins[0].or(t);
        ins[1] = ins[1].or(t);
        outs[0] = outs[0].or(t);
        Ok(())
    })
    .arc()
}

/// `batch_take(a, indices)`: `a` viewed as (rows, last axis); one element per row, indices
/// clipped into the last axis as MXNet does.
fn batch_take_op() -> Arc<dyn Operator> {
    let op = "batch_take";
    FnOp::new(
        op,
        move |ins| {
            expect_inputs(op, ins, 2)?;
            let (a, i) = (&ins[0].shape, &ins[1].shape);
            let Some(&k) = a.dims().last() else {
                return Err(Error::shape(op, "a must have at least one dimension, got shape []"));
            };
            if k == 0 || a.size() / k != i.size() {
                return Err(Error::shape(
                    op,
                    format!(
                        "Index array's size must be the same as data array's size excluding the last dimension: indices of shape {i} for a of shape {a}"
                    ),
                ));
            }
            Ok(vec![Desc::new(i.clone(), ins[0].dtype)])
        },
        move |_, ins, outs| {
            let (a, o) = (&ins[0], &outs[0]);
            if o.size() == 0 {
                return Ok(());
            }
            let k = a.shape().dims().last().copied().unwrap_or(1);
            let idx = read_indices(&ins[1]);
            with_dtype!(a.dtype(), T, {
                // SAFETY: inside the op reading a and writing o (fresh); j is clipped into
                // 0..k, so r * k + j < a.size().
                let (src, dst) = unsafe { (a.data::<T>(), o.data_mut::<T>()) };
                for (r, (d, &i)) in dst.iter_mut().zip(&idx).enumerate() {
                    let j = i.clamp(0, k as i64 - 1) as usize;
                    *d = src[r * k + j];
                }
            });
            Ok(())
        },
    )
    .with_type_partial(|ins, outs| {
        if outs[0].is_none() {
            outs[0] = ins[0];
        }
        if ins[0].is_none() {
            ins[0] = outs[0];
        }
        // MXNet's default index type, for an index nothing else types.
        ins[1].get_or_insert(DType::I32);
        Ok(())
    })
    .arc()
}

pub fn register(r: &mut Registry) {
    r.add(def(
        "gather_nd",
        "Gathers slabs of `data` at the multi-indices in the columns of `indices` (shape (M, Y...)): output shape Y... + data.shape[M:]. Negative indices count from the end.",
        vec![],
        Inputs::Fixed(&["data", "indices"]),
        |_| Ok(gather_nd_op()),
    ));
    r.add(def(
        "scatter_nd",
        "Scatters `data` into a zero array of `shape` at the multi-indices in the columns of `indices`; the inverse of gather_nd. With repeated indices the last write wins.",
        vec![param("shape", "Shape(tuple)", None, "Shape of output.")],
        Inputs::Fixed(&["data", "indices"]),
        |p| Ok(scatter_op(Scatter::Set, Some(p.shape("shape")?))),
    ));
    r.add(def(
        "_backward_gather_nd",
        "Accumulates `data` into a zero array of `shape` at the multi-indices in the columns of `indices`: gather_nd's gradient, a scatter_nd where repeated indices add up.",
        vec![param("shape", "Shape(tuple)", None, "Shape of output.")],
        Inputs::Fixed(&["data", "indices"]),
        |p| Ok(scatter_op(Scatter::Add, Some(p.shape("shape")?))),
    ));
    r.add(def(
        "_scatter_set_nd",
        "Returns `lhs` with the slabs addressed by the columns of `indices` replaced by `rhs` (used by `x[idx] = v`).",
        vec![param("shape", "Shape(tuple)", Some("()"), "Shape of output.")],
        Inputs::Fixed(&["lhs", "rhs", "indices"]),
        |p| Ok(scatter_set_nd_op(p.shape("shape")?)),
    ));
    r.add(def(
        "batch_take",
        "Takes one element per row of `a` (viewed as rows over its last axis) at `indices`; out-of-range indices are clipped.",
        vec![],
        Inputs::Fixed(&["a", "indices"]),
        |_| Ok(batch_take_op()),
    ));
}

#[cfg(test)]
#[allow(clippy::cloned_ref_to_slice_refs)]
mod tests {
    use crate::error::Error;
    use crate::op::test_util::{arr, check_grad, err, f32s, iota, rand64, run};

    #[test]
    fn gather_nd_matches_mxnet() {
        // MXNet 1.9.1: gather_nd(arange(24).reshape(2,3,4), [[1,0],[2,-1]]).
        let d = iota(&[2, 3, 4]);
        let o = run(
            "gather_nd",
            &[d.clone(), arr(&[2, 2], &[1.0f32, 0.0, 2.0, -1.0])],
            &[],
        );
        assert_eq!(o.shape().dims(), &[2, 4]);
        assert_eq!(f32s(&o), vec![20.0, 21.0, 22.0, 23.0, 8.0, 9.0, 10.0, 11.0]);
        let x = arr(&[2, 2], &[1.0f32, 2.0, 3.0, 4.0]);
        let i = arr(&[2, 3], &[1i32, 1, 0, 0, 1, 0]);
        assert_eq!(
            f32s(&run("gather_nd", &[x.clone(), i.clone()], &[])),
            vec![3.0, 4.0, 1.0]
        );
        let e = err(
            "gather_nd",
            &[iota(&[2, 3]), arr(&[1, 2], &[5.0f32, 0.0])],
            &[],
        );
        assert!(e.to_string().contains("out of bounds"), "{e}");
        assert!(
            e.to_string()
                .contains("gather_nd: index 5 is out of bounds for axis 0 with size 2"),
            "{e}"
        );
        let e = err("gather_nd", &[iota(&[2, 3]), arr(&[1, 1], &[-3.0f32])], &[]);
        assert!(e.to_string().contains("out of bounds"), "{e}");
        let e = err(
            "gather_nd",
            &[iota(&[2, 3]), arr(&[3, 1], &[0.0f32; 3])],
            &[],
        );
        assert!(matches!(e, Error::Shape { .. }), "{e}");
        assert!(e.to_string().contains("gather_nd"), "{e}");
    }

    #[test]
    fn scatter_nd_matches_mxnet() {
        let i = arr(&[2, 3], &[1.0f32, 1.0, 0.0, 0.0, 1.0, 0.0]);
        let o = run(
            "scatter_nd",
            &[arr(&[3], &[2.0f32, 3.0, 0.0]), i.clone()],
            &[("shape", "(2, 2)")],
        );
        assert_eq!(f32s(&o), vec![0.0, 0.0, 2.0, 3.0]);
        let o = run(
            "scatter_nd",
            &[
                arr(&[2, 2], &[1.0f32, 2.0, 3.0, 4.0]),
                arr(&[2, 2], &[0.0f32, 1.0, 1.0, 0.0]),
            ],
            &[("shape", "(2, 2, 2)")],
        );
        assert_eq!(f32s(&o), vec![0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 0.0, 0.0]);
        let e = err(
            "scatter_nd",
            &[arr(&[3], &[1.0f32; 3]), arr(&[1, 2], &[1.0f32, 0.0])],
            &[("shape", "(2,)")],
        );
        assert!(
            matches!(e, Error::Shape { .. }) && e.to_string().contains("scatter_nd"),
            "{e}"
        );
        let e = err(
            "scatter_nd",
            &[arr(&[2], &[1.0f32; 2]), arr(&[1, 2], &[5.0f32, 0.0])],
            &[("shape", "(2,)")],
        );
        assert!(e.to_string().contains("out of bounds"), "{e}");
        let l = iota(&[2, 3]);
        let o = run(
            "_scatter_set_nd",
            &[
                l.clone(),
                arr(&[2], &[-1.0f32, -2.0]),
                arr(&[2, 2], &[0.0f32, 1.0, 2.0, 0.0]),
            ],
            &[("shape", "(2, 3)")],
        );
        assert_eq!(f32s(&o), vec![0.0, 1.0, -1.0, -2.0, 4.0, 5.0]);
        // MXNet 1.9.1: a repeated index accumulates in _backward_gather_nd.
        let o = run(
            "_backward_gather_nd",
            &[
                arr(&[3], &[2.0f32, 3.0, 5.0]),
                arr(&[2, 3], &[1.0f32, 1.0, 1.0, 0.0, 0.0, 0.0]),
            ],
            &[("shape", "(2, 2)")],
        );
        assert_eq!(f32s(&o), vec![0.0, 0.0, 10.0, 0.0]);
    }

    #[test]
    fn gather_scatter_gradients() {
        let i = arr(&[2, 3], &[1.0f64, 1.0, 0.0, 0.0, 2.0, 1.0]);
        check_grad(
            "gather_nd",
            &[],
            &[rand64(&[2, 3, 2], -1.0, 1.0, 1), i.clone()],
            &[0],
        );
        check_grad(
            "scatter_nd",
            &[("shape", "(2, 3, 2)")],
            &[rand64(&[3, 2], -1.0, 1.0, 2), i],
            &[0],
        );
    }

    #[test]
    fn batch_take_matches_mxnet() {
        let a = arr(&[3, 2], &[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(
            f32s(&run(
                "batch_take",
                &[a.clone(), arr(&[3], &[0i32, 1, 0])],
                &[]
            )),
            vec![1.0, 4.0, 5.0]
        );
        assert_eq!(
            f32s(&run(
                "batch_take",
                &[a.clone(), arr(&[3], &[-1i32, 5, 0])],
                &[]
            )),
            vec![1.0, 4.0, 5.0]
        );
        let e = err("batch_take", &[a, arr(&[2], &[0i32, 1])], &[]);
        assert!(
            matches!(e, Error::Shape { .. }) && e.to_string().contains("batch_take"),
            "{e}"
        );
    }
}
