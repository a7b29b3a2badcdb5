//! `_linalg_sumlogdiag`, `_linalg_extractdiag`/`_linalg_makediag` and
//! `_linalg_extracttrian`/`_linalg_maketrian`. Each extract/make pair is adjoint, so each one's
//! gradient is the other.

use super::{flag, float_type, square};
use crate::error::{Error, Result};
use crate::op::params::param;
use crate::op::shape_ops::def;
use crate::op::{expect_inputs, Desc, FnOp, Inputs, Operator, Registry};
use crate::op::{read_f64, write_f64};
use crate::shape::Shape;
use std::sync::Arc;

/// Leading dims of a tensor of matrices, or (1,) for a single matrix (MXNet's reductions).
fn reduced(s: &Shape) -> Shape {
    let lead = &s.0[..s.ndim() - 2];
    if lead.is_empty() {
        Shape(vec![1])
    } else {
        Shape(lead.to_vec())
    }
}

fn sumlogdiag_op() -> Arc<dyn Operator> {
    let op = "_linalg_sumlogdiag";
    FnOp::new(
        op,
        move |ins| {
            expect_inputs(op, ins, 1)?;
            let dt = float_type(op, ins)?;
            square(op, "A", &ins[0].shape)?;
            Ok(vec![Desc::new(reduced(&ins[0].shape), dt)])
        },
        move |_, ins, outs| {
            let (batch, n) = square(op, "A", ins[0].shape())?;
            let x = read_f64(&ins[0]);
            // A non-positive diagonal entry gives NaN or -inf: the logarithm's, as MXNet.
            let out: Vec<f64> = (0..batch)
                .map(|b| (0..n).map(|i| x[b * n * n + i * n + i].ln()).sum())
                .collect();
            write_f64(&outs[0], &out);
            Ok(())
        },
    )
    .with_grad(|g, a| {
        let d = g.apply(
            sumlogdiag_backward(),
            &[a.out_grads[0].clone(), a.inputs[0].clone()],
        );
        Ok(vec![Some(d[0].clone())])
    })
    .arc()
}

/// `_backward_linalg_sumlogdiag(dB, A)`: dA = diag(dB / A_ii).
fn sumlogdiag_backward() -> Arc<dyn Operator> {
    let op = "_backward_linalg_sumlogdiag";
    FnOp::new(
        op,
        move |ins| {
            expect_inputs(op, ins, 2)?;
            Ok(vec![ins[1].clone()])
        },
        move |_, ins, outs| {
            let (batch, n) = square(op, "A", ins[1].shape())?;
            let (db, x) = (read_f64(&ins[0]), read_f64(&ins[1]));
            let mut out = vec![0.0; batch * n * n];
            for (b, d) in db.iter().enumerate().take(batch) {
                for i in 0..n {
                    let k = b * n * n + i * n + i;
                    out[k] = d / x[k];
                }
            }
            write_f64(&outs[0], &out);
            Ok(())
        },
    )
    .arc()
}

/// Size of the extracted diagonal/triangle side: n - |offset|, which must be positive.
fn side(op: &str, n: usize, offset: i64, s: &Shape) -> Result<usize> {
    let m = n as i64 - offset.abs();
    if m <= 0 {
        return Err(Error::shape(
            op,
            format!("Illegal offset {offset} for diag/trian extraction of matrices of shape {s}"),
        ));
    }
    Ok(m as usize)
}

/// Position in the packed triangle of matrix element (row, col), if it belongs to the
/// triangle: the lower one is packed by rows, the upper one (offset > 0, or offset 0 and not
/// `lower`) by columns, as MXNet.
fn trian_index(row: usize, col: usize, offset: i64, lower: bool) -> Option<usize> {
    let (r, c) = if offset > 0 || (offset == 0 && !lower) {
        (col, row)
    } else {
        (row, col)
    };
    let r = r as i64 - offset.abs();
    let c = c as i64;
    (r >= c).then(|| (r * (r + 1) / 2 + c) as usize)
}

/// Element (row, col) of the n×n matrix holding diagonal entry `i` at `offset`.
fn diag_pos(i: usize, offset: i64) -> (usize, usize) {
    let k = offset.unsigned_abs() as usize;
    if offset < 0 {
        (i + k, i)
    } else {
        (i, i + k)
    }
}

/// extractdiag/extracttrian (`extract`) or makediag/maketrian, with their shapes.
fn diag_trian_op(diag: bool, extract: bool, offset: i64, lower: bool) -> Arc<dyn Operator> {
    let op = match (diag, extract) {
        (true, true) => "_linalg_extractdiag",
        (true, false) => "_linalg_makediag",
        (false, true) => "_linalg_extracttrian",
        (false, false) => "_linalg_maketrian",
    };
    // (batch, matrix side n, packed length) of an input shape.
    let plan = move |s: &Shape| -> Result<(usize, usize, usize)> {
        if extract {
            let (batch, n) = square(op, "A", s)?;
            let m = side(op, n, offset, s)?;
            Ok((batch, n, if diag { m } else { m * (m + 1) / 2 }))
        } else {
            let nd = s.ndim();
            if nd == 0 {
                return Err(Error::shape(
                    op,
                    format!("A must have at least one dimension, got shape {s}"),
                ));
            }
            let len = s[nd - 1];
            let m = if diag {
                len
            } else {
                let m = (((8 * len + 1) as f64).sqrt() - 1.0) / 2.0;
                let m = m.round() as usize;
                if m * (m + 1) / 2 != len {
                    return Err(Error::shape(
                        op,
                        format!("Input tensor of maketrian has an invalid dimension for the last axis: {len} (shape {s}) is not a triangular number m*(m+1)/2"),
                    ));
                }
                m
            };
            Ok((
                s.0[..nd - 1].iter().product(),
                m + offset.unsigned_abs() as usize,
                len,
            ))
        }
    };
    FnOp::new(
        op,
        move |ins| {
            expect_inputs(op, ins, 1)?;
            let dt = float_type(op, ins)?;
            let s = &ins[0].shape;
            let (_, n, len) = plan(s)?;
            let nd = s.ndim();
            let out = if extract {
                let mut o = s.0[..nd - 2].to_vec();
                o.push(len);
                o
            } else {
                let mut o = s.0[..nd - 1].to_vec();
                o.extend([n, n]);
                o
            };
            Ok(vec![Desc::new(Shape(out), dt)])
        },
        move |_, ins, outs| {
            let (batch, n, len) = plan(ins[0].shape())?;
            let x = read_f64(&ins[0]);
            let (mat, packed) = (n * n, len);
            let mut out = vec![0.0; batch * if extract { packed } else { mat }];
            for b in 0..batch {
                let (m0, p0) = (b * mat, b * packed);
                if diag {
                    for i in 0..len {
                        let (r, c) = diag_pos(i, offset);
                        if extract {
                            out[p0 + i] = x[m0 + r * n + c];
                        } else {
                            out[m0 + r * n + c] = x[p0 + i];
                        }
                    }
                } else {
                    for r in 0..n {
                        for c in 0..n {
                            if let Some(i) = trian_index(r, c, offset, lower) {
                                if extract {
                                    out[p0 + i] = x[m0 + r * n + c];
                                } else {
                                    out[m0 + r * n + c] = x[p0 + i];
                                }
                            }
                        }
                    }
                }
            }
            write_f64(&outs[0], &out);
            Ok(())
        },
    )
    .with_grad(move |g, a| {
        let adjoint = match (diag, extract) {
            (true, true) => "_linalg_makediag",
            (true, false) => "_linalg_extractdiag",
            (false, true) => "_linalg_maketrian",
            (false, false) => "_linalg_extracttrian",
        };
        let off = offset.to_string();
        let mut attrs = vec![("offset", off.as_str())];
        if !diag {
            attrs.push(("lower", flag(lower)));
        }
        Ok(vec![Some(g.op1(
            adjoint,
            &attrs,
            std::slice::from_ref(&a.out_grads[0]),
        )?)])
    })
    .arc()
}

pub fn register(r: &mut Registry) {
    let a = Inputs::Fixed(&["A"]);
    let offset = || {
        param("offset", "int", Some("0"), "Offset of the diagonal versus the main diagonal. 0 corresponds to the main diagonal, a negative/positive value to diagonals below/above the main diagonal.")
    };
    let lower = || {
        param("lower", "boolean", Some("True"), "Refer to the lower triangular matrix if lower=true, refer to the upper otherwise. Only relevant when offset=0")
    };
    r.add(def(
        "_linalg_sumlogdiag",
        "Computes the sum of the logarithms of the diagonal elements of a square matrix: one value per matrix of the batch (shape (1,) for a single matrix). float32 and float64 only.",
        vec![],
        a,
        |_| Ok(sumlogdiag_op()),
    ));
    r.add(def(
        "_linalg_extractdiag",
        "Extracts the diagonal entries of a square matrix (the diagonal `offset` above, or below when negative, the main one); batched over the leading dimensions. float32 and float64 only.",
        vec![offset()],
        a,
        |p| Ok(diag_trian_op(true, true, p.int("offset")?, true)),
    ));
    r.add(def(
        "_linalg_makediag",
        "Constructs a square matrix with the input as diagonal (the diagonal `offset` above, or below when negative, the main one), zeros elsewhere; batched over the leading dimensions. float32 and float64 only.",
        vec![offset()],
        a,
        |p| Ok(diag_trian_op(true, false, p.int("offset")?, true)),
    ));
    r.add(def(
        "_linalg_extracttrian",
        "Extracts a triangular sub-matrix from a square matrix as a vector: the lower triangle by rows (offset < 0, or offset 0 with lower=True), or the upper one by columns, `offset` diagonals away from the main one. Batched over the leading dimensions. float32 and float64 only.",
        vec![offset(), lower()],
        a,
        |p| Ok(diag_trian_op(false, true, p.int("offset")?, p.bool("lower")?)),
    ));
    r.add(def(
        "_linalg_maketrian",
        "Constructs a square matrix from a vector of triangle entries, the inverse of extracttrian: the last axis must have length m*(m+1)/2; the result is (m+|offset|)x(m+|offset|), zero outside the triangle. Batched over the leading dimensions. float32 and float64 only.",
        vec![offset(), lower()],
        a,
        |p| Ok(diag_trian_op(false, false, p.int("offset")?, p.bool("lower")?)),
    ));
}
