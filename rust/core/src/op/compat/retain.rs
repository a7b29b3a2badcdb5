//! Row operations of row_sparse arrays on dense storage. `_sparse_retain`
//! (`mx.sym.sparse.retain`): the rows of `data` listed in `indices`, every other row zero
//! (MXNet's kernel reads a row_sparse array; the gradient is the head gradient retained the
//! same way). `_set_rows`: rows written into an array in place, as lazy optimizer updates
//! write back the rows a row_sparse gradient stores.

use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::ndarray::NDArray;
use crate::op::indexing::{check_row_write, read_indices};
use crate::op::{expect_inputs, FnOp, Inputs, Registry, SimpleDef};

const OP: &str = "_sparse_retain";

/// Which of `n` rows `indices` lists; an index outside `0..n` is an error naming it.
fn kept_rows(indices: &NDArray, n: usize) -> Result<Vec<bool>> {
    let mut keep = vec![false; n];
    for i in read_indices(indices) {
        let row = usize::try_from(i).ok().filter(|&r| r < n).ok_or_else(|| {
            Error::Value(format!(
                "{OP}: row index {i} is out of range for data with {n} rows"
            ))
        })?;
        keep[row] = true;
    }
    Ok(keep)
}

fn retain_rows(data: &NDArray, indices: &NDArray, out: &NDArray) -> Result<()> {
    let n = data.shape().0.first().copied().unwrap_or(0);
    let keep = kept_rows(indices, n)?;
    let row = data.size().checked_div(n).unwrap_or(0);
    crate::with_dtype!(data.dtype(), T, {
        // SAFETY: inside the op reading data and indices and writing out (same shape).
        let (src, dst) = unsafe { (data.data::<T>(), out.data_mut::<T>()) };
        for (r, &k) in keep.iter().enumerate() {
            let span = r * row..(r + 1) * row;
            if k {
                dst[span.clone()].copy_from_slice(&src[span]);
            } else {
                dst[span].fill(T::from_f64(0.0));
            }
        }
    });
    Ok(())
}

pub(super) fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: OP,
        doc: "Keeps only the rows of `data` listed in `indices` (row indices; order and repeats do not matter); every other row of the output is zero. MXNet computes it on row_sparse data; arrays here are dense, with the same values.".into(),
        params: vec![],
        inputs: Inputs::Fixed(&["data", "indices"]),
        create: Box::new(|_| {
            let op = FnOp::new(
                OP,
                |ins| {
                    expect_inputs(OP, ins, 2)?;
                    if ins[0].shape.ndim() == 0 {
                        return Err(Error::shape(OP, "data must have at least one dimension"));
                    }
                    Ok(vec![ins[0].clone()])
                },
                |_, ins, outs| retain_rows(&ins[0], &ins[1], &outs[0]),
            )
            .with_shape_partial(|ins, outs| {
                if outs[0].is_none() {
                    outs[0] = ins[0].clone();
                }
                if ins[0].is_none() {
                    ins[0] = outs[0].clone();
                }
                Ok(())
            })
            .with_type_partial(crate::op::data_type_only)
            .with_grad(|g, a| {
                let gd = g.op1(OP, &[], &[a.out_grads[0].clone(), a.inputs[1].clone()])?;
                let gi = g.zeros_like(&a.inputs[1])?;
                Ok(vec![Some(gd), Some(gi)])
            });
            Ok(op.arc())
        }),
    });
}

const SET_ROWS: &str = "_set_rows";

/// `data[indices] = value` along axis 0, in place (a later index of a repeated row wins).
fn set_rows(data: &NDArray, indices: &NDArray, value: &NDArray) -> Result<()> {
    let n = data.shape().0.first().copied().unwrap_or(0);
    let row = data.size().checked_div(n).unwrap_or(0);
    let rows = read_indices(indices);
    let mut at = Vec::with_capacity(rows.len());
    for &i in &rows {
        let r = if i < 0 { i + n as i64 } else { i };
        let r = usize::try_from(r).ok().filter(|&r| r < n).ok_or_else(|| {
            Error::Index(format!(
                "{SET_ROWS}: row index {i} is out of bounds for data with {n} rows"
            ))
        })?;
        at.push(r);
    }
    crate::with_dtype!(data.dtype(), T, {
        // SAFETY: inside the op writing data (mutated input) and reading value, which has
        // one row per index (checked by the op's inference).
        let (dst, src) = unsafe { (data.data_mut::<T>(), value.data::<T>()) };
        for (k, &r) in at.iter().enumerate() {
            dst[r * row..(r + 1) * row].copy_from_slice(&src[k * row..(k + 1) * row]);
        }
    });
    Ok(())
}

pub(super) fn register_set_rows(r: &mut Registry) {
    r.add(SimpleDef {
        name: SET_ROWS,
        doc: "Writes the rows of `value` into `data` at the row `indices` (1-D; negative counts from the end), in place: `data[indices] = value` without copying the rest of `data`.".into(),
        params: vec![],
        inputs: Inputs::Fixed(&["data", "indices", "value"]),
        create: Box::new(|_| {
            let mut op = FnOp::new(
                SET_ROWS,
                |ins| {
                    expect_inputs(SET_ROWS, ins, 3)?;
                    check_row_write(SET_ROWS, ["data", "indices", "value"], ins)?;
                    Ok(Vec::new())
                },
                |_, ins, _| set_rows(&ins[0], &ins[1], &ins[2]),
            );
            op.num_outputs = 0;
            op.mutate = vec![0];
            op.aux = Some(Vec::new());
            Ok(op.arc())
        }),
    });
}
