//! `_contrib_getnnz` (stored entries of a CSR matrix) and `_contrib_count_sketch` (the
//! Count Sketch projection of compact bilinear pooling). MXNet runs count_sketch only on GPUs;
//! here it runs on the CPU with the arithmetic its documentation gives.

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::params::{param, Params};
use crate::op::{read_f64, write_f64, Desc, FnOp, Inputs, Operator, Registry, SimpleDef};
use crate::shape::Shape;
use std::sync::Arc;

/// `getnnz`: a CSR array stores exactly its nonzero entries here (explicit zeros are not kept),
/// so the counts are those of the nonzero values. axis None: the total, shape (1,); axis 1:
/// per row; axis 0: per column (which MXNet 1.9.1 has not implemented).
fn getnnz(p: &Params) -> Result<Arc<dyn Operator>> {
    let axis = p.opt_int("axis")?;
    if let Some(a) = axis {
        if !(0..=1).contains(&a) {
            return Err(Error::Value(format!(
                "operator _contrib_getnnz: axis must be None, 0 or 1 for a 2-D CSR matrix, got \
                 {a}"
            )));
        }
    }
    let op = FnOp::new(
        "_contrib_getnnz",
        move |ins| {
            crate::op::expect_inputs("_contrib_getnnz", ins, 1)?;
            let d = &ins[0];
            if d.shape.ndim() != 2 {
                return Err(Error::shape(
                    "_contrib_getnnz",
                    format!("data must be a 2-D (CSR) matrix, got shape {}", d.shape),
                ));
            }
            let dims = d.shape.dims();
            let n = match axis {
                None => 1,
                Some(0) => dims[1],
                _ => dims[0],
            };
            Ok(vec![Desc::new(Shape::new(vec![n]), DType::I64)])
        },
        move |_, ins, outs| {
            let v = read_f64(&ins[0]);
            let dims = ins[0].shape().dims().to_vec();
            let (rows, cols) = (dims[0], dims[1]);
            let mut counts = vec![0.0; outs[0].size()];
            for r in 0..rows {
                for c in 0..cols {
                    if v[r * cols + c] != 0.0 {
                        let k = match axis {
                            None => 0,
                            Some(0) => c,
                            _ => r,
                        };
                        counts[k] += 1.0;
                    }
                }
            }
            write_f64(&outs[0], &counts);
            Ok(())
        },
    )
    .with_type_partial(|_, outs| {
        outs[0] = Some(DType::I64);
        Ok(())
    });
    Ok(op.arc())
}

/// Checks count_sketch's inputs: data (N, d), h and s with d elements each.
fn sketch_infer(out_dim: usize, ins: &[Desc]) -> Result<Vec<Desc>> {
    const OP: &str = "_contrib_count_sketch";
    crate::op::expect_inputs(OP, ins, 3)?;
    let (x, h, s) = (&ins[0], &ins[1], &ins[2]);
    if x.shape.ndim() != 2 || !x.dtype.is_float() {
        return Err(Error::shape(
            OP,
            format!(
                "data must be a 2-D float array (N, d), got shape {} and dtype {}",
                x.shape, x.dtype
            ),
        ));
    }
    let d = x.shape.dims()[1];
    for (nm, a) in [("h", h), ("s", s)] {
        let nd = a.shape.ndim();
        if a.shape.size() != d || nd > 2 || (nd == 2 && a.shape.dims()[0] != 1) {
            return Err(Error::shape(
                OP,
                format!(
                    "{nm} must hold one value per input column (shape (1, {d})), got shape {} \
                     for data of shape {}",
                    a.shape, x.shape
                ),
            ));
        }
    }
    Ok(vec![Desc::new(
        Shape::new(vec![x.shape.dims()[0], out_dim]),
        x.dtype,
    )])
}

/// out[n, h[j]] += s[j] * data[n, j].
fn count_sketch(p: &Params) -> Result<Arc<dyn Operator>> {
    let out_dim = p.int("out_dim")?;
    let batch = p.int("processing_batch_size")?;
    if out_dim < 1 || batch < 1 {
        return Err(Error::Value(format!(
            "operator _contrib_count_sketch: out_dim and processing_batch_size must be positive, \
             got {out_dim} and {batch}"
        )));
    }
    let out_dim = out_dim as usize;
    let op = FnOp::new(
        "_contrib_count_sketch",
        move |ins| sketch_infer(out_dim, ins),
        move |_, ins, outs| {
            let (x, h, s) = (read_f64(&ins[0]), read_f64(&ins[1]), read_f64(&ins[2]));
            let d = h.len();
            let idx: Vec<usize> = h
                .iter()
                .map(|&v| {
                    if v >= 0.0 && v.fract() == 0.0 && (v as usize) < out_dim {
                        Ok(v as usize)
                    } else {
                        Err(Error::Value(format!(
                            "operator _contrib_count_sketch: h holds {v}, but its values must \
                             be integers in [0, out_dim={out_dim})"
                        )))
                    }
                })
                .collect::<Result<_>>()?;
            // Rows from the output: with d = 0 every output is 0.
            let n = outs[0].size() / out_dim;
            let mut out = vec![0.0; n * out_dim];
            for (orow, xrow) in out.chunks_mut(out_dim).zip(x.chunks(d.max(1))).take(n) {
                for ((&c, &sign), &xv) in idx.iter().zip(&s).zip(xrow) {
                    orow[c] += sign * xv;
                }
            }
            write_f64(&outs[0], &out);
            Ok(())
        },
    );
    Ok(op
        .with_grad(|g, a| {
            // d data[n, j] = s[j] * dout[n, h[j]]; h and s are hash tables, not differentiated.
            let h = g.op1("reshape", &[("shape", "(-1,)")], &[a.inputs[1].clone()])?;
            let s = g.op1("reshape", &[("shape", "(1, -1)")], &[a.inputs[2].clone()])?;
            let picked = g.op1("take", &[("axis", "1")], &[a.out_grads[0].clone(), h])?;
            let gx = g.op1("broadcast_mul", &[], &[picked, s])?;
            Ok(vec![Some(gx), None, None])
        })
        .arc())
}

pub(super) fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: "_contrib_getnnz",
        doc: "Number of stored values for a sparse tensor, including explicit zeros (here a CSR matrix stores exactly its nonzero values). axis=None counts the whole matrix (shape (1,)); axis=1 counts per row; axis=0 per column. The result is int64.".to_string(),
        params: vec![param("axis", "int or None", Some("None"), "Select between the number of values across the whole matrix, in each column, or in each row.")],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(getnnz),
    });
    r.add(SimpleDef {
        name: "_contrib_count_sketch",
        doc: "Apply CountSketch to input: map a d-dimension data to k-dimension data.\nFor data of shape (N, d), the index hash table h and sign hash table s (shape (1, d); h holds integers in [0, out_dim), s holds +1 or -1):\n    out[n, h[j]] += s[j] * data[n, j]\nThe output has shape (N, out_dim). The gradient of data is s[j] * out_grad[n, h[j]]. (MXNet runs it only on GPUs.)".to_string(),
        params: vec![
            param("out_dim", "int", None, "The output dimension."),
            param("processing_batch_size", "int", Some("32"), "How many sketch vectors to process at one time."),
        ],
        inputs: Inputs::Fixed(&["data", "h", "s"]),
        create: Box::new(count_sketch),
    });
}
