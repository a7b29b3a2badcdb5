//! Factorizations: `_linalg_potrf`, `_linalg_potri`, `_linalg_inverse`, `_linalg_det`,
//! `_linalg_slogdet`, `_linalg_gelqf`, `_linalg_syevd`, and the backward kernels of those whose
//! gradient is not a composition of forward ops.

use super::kernel::{
    cholesky_lower, lq, lu, lu_inverse, lu_slogdet, mm, sym_eig, transpose, tri_solve_left,
};
use super::{flag, float_type, square, tri_mask};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::graph::{Entry, GradBuilder};
use crate::op::params::param;
use crate::op::shape_ops::def;
use crate::op::{expect_inputs, Desc, FnOp, Inputs, Operator, Registry};
use crate::op::{read_f64, write_f64};
use crate::shape::Shape;
use std::sync::Arc;

/// Runs `f` on every n×n matrix of the single input, writing each output's per-matrix parts.
fn per_matrix(
    op: &'static str,
    ins: &[crate::ndarray::NDArray],
    outs: &[crate::ndarray::NDArray],
    f: impl Fn(usize, &[f64], usize) -> Result<Vec<Vec<f64>>>,
) -> Result<()> {
    let (batch, n) = square(op, "A", ins[0].shape())?;
    let x = read_f64(&ins[0]);
    let mut res: Vec<Vec<f64>> = vec![Vec::new(); outs.len()];
    for b in 0..batch {
        let parts = f(b, &x[b * n * n..(b + 1) * n * n], n)?;
        for (r, p) in res.iter_mut().zip(parts) {
            r.extend(p);
        }
    }
    for (o, r) in outs.iter().zip(&res) {
        write_f64(o, r);
    }
    Ok(())
}

/// Swaps the last two axes (a batch of transposes) as a graph node.
fn swap(g: &mut GradBuilder, x: &Entry) -> Result<Entry> {
    g.op1(
        "SwapAxis",
        &[("dim1", "-1"), ("dim2", "-2")],
        std::slice::from_ref(x),
    )
}

/// Inverse of the triangular n×n `t` (only its triangle read).
fn tri_inverse(op: &str, t: &[f64], n: usize, lower: bool, b: usize) -> Result<Vec<f64>> {
    let mut x = vec![0.0; n * n];
    for i in 0..n {
        x[i * n + i] = 1.0;
    }
    tri_solve_left(t, n, lower, false, &mut x, n).map_err(|i| {
        Error::Value(format!(
            "{op}: the triangular factor is singular (zero diagonal entry {i}) in batch item {b}"
        ))
    })?;
    Ok(x)
}

fn potrf_op(lower: bool) -> Arc<dyn Operator> {
    let op = "_linalg_potrf";
    FnOp::new(
        op,
        move |ins| {
            expect_inputs(op, ins, 1)?;
            let dt = float_type(op, ins)?;
            square(op, "A", &ins[0].shape)?;
            Ok(vec![Desc::new(ins[0].shape.clone(), dt)])
        },
        move |_, ins, outs| {
            per_matrix(op, ins, outs, |b, a, n| {
                // The upper factor of A is the transposed lower factor of Aᵀ.
                let src = if lower { a.to_vec() } else { transpose(a, n, n) };
                let l = cholesky_lower(&src, n).map_err(|j| {
                    Error::Value(format!(
                        "{op}: the input matrix is not positive definite (its leading {}x{} minor, batch item {b} of A {}); potrf reads only the {} triangle of a symmetric matrix",
                        j + 1,
                        j + 1,
                        ins[0].shape(),
                        if lower { "lower" } else { "upper" }
                    ))
                })?;
                Ok(vec![if lower { l } else { transpose(&l, n, n) }])
            })
        },
    )
    .with_shape_partial(crate::graph::infer::same_shape_partial)
    .with_grad(move |g, a| {
        // dA = ½·L⁻ᵀ·copyLTU(Lᵀ·dL)·L⁻¹ (symmetric), for A = L·Lᵀ; with A = Uᵀ·U, L = Uᵀ.
        let (mut l, mut dl) = (a.outputs[0].clone(), a.out_grads[0].clone());
        if !lower {
            l = swap(g, &l)?;
            dl = swap(g, &dl)?;
        }
        let m = g.op1("_linalg_gemm2", &[("transpose_a", "True")], &[l.clone(), dl])?;
        // copyLTU(m) = low + lowᵀ - diag(m): the strict triangle (offset -1) does not exist
        // for 1×1 matrices.
        let low = tri_mask(g, &m, true)?;
        let d = g.op1("_linalg_extractdiag", &[], &[m])?;
        let d = g.op1("_linalg_makediag", &[], &[d])?;
        let up = swap(g, &low)?;
        let up = g.op1("elemwise_sub", &[], &[up, d])?;
        let s = g.add(&low, &up)?;
        let x = g.op1("_linalg_trsm", &[("transpose", "True")], &[l.clone(), s])?;
        let da = g.op1(
            "_linalg_trsm",
            &[("rightside", "True"), ("alpha", "0.5")],
            &[l, x],
        )?;
        Ok(vec![Some(da)])
    })
    .arc()
}

fn potri_op(lower: bool) -> Arc<dyn Operator> {
    let op = "_linalg_potri";
    FnOp::new(
        op,
        move |ins| {
            expect_inputs(op, ins, 1)?;
            let dt = float_type(op, ins)?;
            square(op, "A", &ins[0].shape)?;
            Ok(vec![Desc::new(ins[0].shape.clone(), dt)])
        },
        move |_, ins, outs| {
            per_matrix(op, ins, outs, |b, a, n| {
                let inv = tri_inverse(op, a, n, lower, b)?;
                // (L·Lᵀ)⁻¹ = L⁻ᵀ·L⁻¹; (Uᵀ·U)⁻¹ = U⁻¹·U⁻ᵀ.
                Ok(vec![if lower {
                    mm(&inv, true, &inv, false, (n, n, n))
                } else {
                    mm(&inv, false, &inv, true, (n, n, n))
                }])
            })
        },
    )
    .with_grad(move |g, a| {
        // dL = -tril(X·(G + Gᵀ)·L⁻ᵀ); dU = -triu(U⁻ᵀ·(G + Gᵀ)·X), X the output.
        let (t, x, dx) = (&a.inputs[0], &a.outputs[0], &a.out_grads[0]);
        let dxt = swap(g, dx)?;
        let s = g.add(dx, &dxt)?;
        let low = flag(lower);
        let full = if lower {
            let p = g.op1("_linalg_gemm2", &[], &[x.clone(), s])?;
            g.op1(
                "_linalg_trsm",
                &[
                    ("rightside", "True"),
                    ("transpose", "True"),
                    ("alpha", "-1.0"),
                ],
                &[t.clone(), p],
            )?
        } else {
            let p = g.op1("_linalg_gemm2", &[], &[s, x.clone()])?;
            g.op1(
                "_linalg_trsm",
                &[("lower", low), ("transpose", "True"), ("alpha", "-1.0")],
                &[t.clone(), p],
            )?
        };
        Ok(vec![Some(tri_mask(g, &full, lower)?)])
    })
    .arc()
}

fn inverse_op() -> Arc<dyn Operator> {
    let op = "_linalg_inverse";
    FnOp::new(
        op,
        move |ins| {
            expect_inputs(op, ins, 1)?;
            let dt = float_type(op, ins)?;
            square(op, "A", &ins[0].shape)?;
            Ok(vec![Desc::new(ins[0].shape.clone(), dt)])
        },
        move |_, ins, outs| {
            per_matrix(op, ins, outs, |b, a, n| {
                let mut f = a.to_vec();
                let (perm, _) = lu(&mut f, n);
                let inv = lu_inverse(&f, &perm, n).map_err(|_| {
                    Error::Value(format!(
                        "{op}: the input matrix is singular (batch item {b} of A {})",
                        ins[0].shape()
                    ))
                })?;
                Ok(vec![inv])
            })
        },
    )
    .with_grad(|g, a| {
        // d(A⁻¹) = -A⁻ᵀ·dB·A⁻ᵀ.
        let (b, db) = (&a.outputs[0], &a.out_grads[0]);
        let p = g.op1(
            "_linalg_gemm2",
            &[("transpose_a", "True")],
            &[b.clone(), db.clone()],
        )?;
        let da = g.op1(
            "_linalg_gemm2",
            &[("transpose_b", "True"), ("alpha", "-1.0")],
            &[p, b.clone()],
        )?;
        Ok(vec![Some(da)])
    })
    .arc()
}

/// det (`log` false) or slogdet: outputs per matrix, (1,) for a single matrix.
fn det_op(log: bool) -> Arc<dyn Operator> {
    let op = if log {
        "_linalg_slogdet"
    } else {
        "_linalg_det"
    };
    let mut f = FnOp::new(
        op,
        move |ins| {
            expect_inputs(op, ins, 1)?;
            let dt = float_type(op, ins)?;
            let s = &ins[0].shape;
            square(op, "A", s)?;
            let lead = &s.0[..s.ndim() - 2];
            let out = Shape(if lead.is_empty() {
                vec![1]
            } else {
                lead.to_vec()
            });
            let d = Desc::new(out, dt);
            Ok(if log { vec![d.clone(), d] } else { vec![d] })
        },
        move |_, ins, outs| {
            per_matrix(op, ins, outs, |_, a, n| {
                let mut f = a.to_vec();
                let (_, sign) = lu(&mut f, n);
                if log {
                    let (s, l) = lu_slogdet(&f, n, sign);
                    Ok(vec![vec![s], vec![l]])
                } else {
                    let d = (0..n).fold(sign, |p, i| p * f[i * n + i]);
                    Ok(vec![vec![d]])
                }
            })
        },
    )
    .with_grad(move |g, a| {
        // Jacobi: d det = det·A⁻ᵀ, d log|det| = A⁻ᵀ; nothing flows to `sign`.
        let k = usize::from(log);
        let d = g.apply(
            det_backward(log),
            &[
                a.out_grads[k].clone(),
                a.inputs[0].clone(),
                a.outputs[k].clone(),
            ],
        );
        Ok(vec![Some(d[0].clone())])
    });
    // MXNet keeps the LU factors and pivots as hidden outputs.
    f.mxnet_outputs = Some(if log { 4 } else { 3 });
    if log {
        f.num_outputs = 2;
    } else {
        // MXNet's det has hidden LU outputs, so its one visible output is `output0`.
        f.output_names = Some(vec!["output0".into()]);
    }
    f.arc()
}

/// `_backward_linalg_det(d, A, det)` / `_backward_linalg_slogdet(d, A, logabsdet)`: zero where
/// A is singular (MXNet's rule: no gradient flows there).
fn det_backward(log: bool) -> Arc<dyn Operator> {
    let op = if log {
        "_backward_linalg_slogdet"
    } else {
        "_backward_linalg_det"
    };
    FnOp::new(
        op,
        move |ins| {
            expect_inputs(op, ins, 3)?;
            Ok(vec![ins[1].clone()])
        },
        move |_, ins, outs| {
            let (d, v) = (read_f64(&ins[0]), read_f64(&ins[2]));
            per_matrix(op, &ins[1..2], outs, |b, a, n| {
                let mut f = a.to_vec();
                let (perm, _) = lu(&mut f, n);
                let scale = if log { d[b] } else { d[b] * v[b] };
                let singular = if log {
                    v[b] == f64::NEG_INFINITY
                } else {
                    v[b] == 0.0
                };
                Ok(vec![match lu_inverse(&f, &perm, n) {
                    Ok(inv) if !singular => {
                        transpose(&inv, n, n).iter().map(|x| scale * x).collect()
                    }
                    _ => vec![0.0; n * n],
                }])
            })
        },
    )
    .arc()
}

fn gelqf_op() -> Arc<dyn Operator> {
    let op = "_linalg_gelqf";
    let mut f = FnOp::new(
        op,
        move |ins| {
            expect_inputs(op, ins, 1)?;
            let dt = float_type(op, ins)?;
            let s = &ins[0].shape;
            let (_, m, n) = super::matrices(op, "A", s)?;
            if m > n {
                return Err(Error::shape(
                    op,
                    format!("Input A shape wrong: Last dimension must be >= than second to last, got {s}"),
                ));
            }
            let mut l = s.0.clone();
            let nd = l.len();
            l[nd - 1] = m;
            Ok(vec![Desc::new(s.clone(), dt), Desc::new(Shape(l), dt)])
        },
        move |_, ins, outs| {
            let (batch, m, n) = super::matrices(op, "A", ins[0].shape())?;
            let x = read_f64(&ins[0]);
            let (mut qs, mut ls) = (Vec::new(), Vec::new());
            for b in 0..batch {
                let (q, l) = lq(&x[b * m * n..(b + 1) * m * n], m, n);
                qs.extend(q);
                ls.extend(l);
            }
            write_f64(&outs[0], &qs);
            write_f64(&outs[1], &ls);
            Ok(())
        },
    )
    .with_grad(|g, a| {
        let d = g.apply(
            gelqf_backward(),
            &[
                a.out_grads[0].clone(),
                a.out_grads[1].clone(),
                a.outputs[0].clone(),
                a.outputs[1].clone(),
            ],
        );
        Ok(vec![Some(d[0].clone())])
    });
    f.num_outputs = 2;
    f.arc()
}

/// `_backward_linalg_gelqf(dQ, dL, Q, L)`: dA = L⁻ᵀ·(dQ + copyLTU(M)·Q), M = Lᵀ·dL - dQ·Qᵀ,
/// copyLTU mirroring the lower triangle onto the upper.
fn gelqf_backward() -> Arc<dyn Operator> {
    let op = "_backward_linalg_gelqf";
    FnOp::new(
        op,
        move |ins| {
            expect_inputs(op, ins, 4)?;
            Ok(vec![ins[2].clone()])
        },
        move |_, ins, outs| {
            let (batch, m, n) = super::matrices(op, "Q", ins[2].shape())?;
            let (dq, dl, q, l) = (read_f64(&ins[0]), read_f64(&ins[1]), read_f64(&ins[2]), read_f64(&ins[3]));
            let mut out = Vec::with_capacity(batch * m * n);
            for b in 0..batch {
                let (qs, ls) = (b * m * n..(b + 1) * m * n, b * m * m..(b + 1) * m * m);
                let (dqb, qb, lb) = (&dq[qs.clone()], &q[qs], &l[ls.clone()]);
                let mut mm1 = mm(lb, true, &dl[ls], false, (m, m, m));
                let mm2 = mm(dqb, false, qb, true, (m, m, n));
                mm1.iter_mut().zip(&mm2).for_each(|(x, y)| *x -= y);
                for i in 0..m {
                    for j in i + 1..m {
                        mm1[i * m + j] = mm1[j * m + i];
                    }
                }
                let mut x = mm(&mm1, false, qb, false, (m, n, m));
                x.iter_mut().zip(dqb).for_each(|(x, y)| *x += y);
                tri_solve_left(lb, m, true, true, &mut x, n).map_err(|i| {
                    Error::Value(format!(
                        "{op}: L is singular (zero diagonal entry {i}, batch item {b}): A does not have full row rank, so the LQ factorization has no gradient"
                    ))
                })?;
                out.extend(x);
            }
            write_f64(&outs[0], &out);
            Ok(())
        },
    )
    .arc()
}

fn syevd_op() -> Arc<dyn Operator> {
    let op = "_linalg_syevd";
    let mut f = FnOp::new(
        op,
        move |ins| {
            expect_inputs(op, ins, 1)?;
            let dt = float_type(op, ins)?;
            let s = &ins[0].shape;
            square(op, "A", s)?;
            let l = Shape(s.0[..s.ndim() - 1].to_vec());
            Ok(vec![Desc::new(s.clone(), dt), Desc::new(l, dt)])
        },
        move |_, ins, outs| {
            per_matrix(op, ins, outs, |_, a, n| {
                let (u, l) = sym_eig(a, n);
                Ok(vec![u, l])
            })
        },
    )
    .with_grad(|g, a| {
        let d = g.apply(
            syevd_backward(),
            &[
                a.out_grads[0].clone(),
                a.out_grads[1].clone(),
                a.outputs[0].clone(),
                a.outputs[1].clone(),
            ],
        );
        Ok(vec![Some(d[0].clone())])
    });
    f.num_outputs = 2;
    f.arc()
}

/// `_backward_linalg_syevd(dU, dL, U, L)`: dA = Uᵀ·Y·U with X = dU·Uᵀ, Y symmetric,
/// Y_ij = (X_ij - X_ji) / (2·max(λ_i - λ_j, eps)) below the diagonal and Y_ii = dλ_i.
fn syevd_backward() -> Arc<dyn Operator> {
    let op = "_backward_linalg_syevd";
    FnOp::new(
        op,
        move |ins| {
            expect_inputs(op, ins, 4)?;
            Ok(vec![ins[2].clone()])
        },
        move |_, ins, outs| {
            let (batch, n) = square(op, "U", ins[2].shape())?;
            // MXNet's floor on eigengaps: the smallest normal-ish value of the dtype.
            let eps = if ins[2].dtype() == DType::F32 {
                1e-30
            } else {
                1e-100
            };
            let (du, dl, u, l) = (
                read_f64(&ins[0]),
                read_f64(&ins[1]),
                read_f64(&ins[2]),
                read_f64(&ins[3]),
            );
            let mut out = Vec::with_capacity(batch * n * n);
            for b in 0..batch {
                let ms = b * n * n..(b + 1) * n * n;
                let (dub, ub) = (&du[ms.clone()], &u[ms]);
                let (lb, dlb) = (&l[b * n..(b + 1) * n], &dl[b * n..(b + 1) * n]);
                let x = mm(dub, false, ub, true, (n, n, n));
                let mut y = vec![0.0; n * n];
                for i in 0..n {
                    for j in 0..i {
                        let gap = (lb[i] - lb[j]).max(eps);
                        let e = (x[i * n + j] - x[j * n + i]) / (2.0 * gap);
                        y[i * n + j] = e;
                        y[j * n + i] = e;
                    }
                    y[i * n + i] = dlb[i];
                }
                let t = mm(ub, true, &y, false, (n, n, n));
                out.extend(mm(&t, false, ub, false, (n, n, n)));
            }
            write_f64(&outs[0], &out);
            Ok(())
        },
    )
    .arc()
}

pub fn register(r: &mut Registry) {
    let a = Inputs::Fixed(&["A"]);
    let lower = || {
        param(
            "lower",
            "boolean",
            Some("True"),
            "True if the triangular matrix is lower triangular, false if it is upper triangular.",
        )
    };
    r.add(def(
        "_linalg_potrf",
        "Performs Cholesky factorization of a symmetric positive-definite matrix: B with A = B * B^T (lower=True, B lower triangular) or A = B^T * B (lower=False, B upper triangular); only that triangle of A is read. A matrix that is not positive definite is an error. Batched over the leading dimensions. float32 and float64 only.",
        vec![lower()],
        a,
        |p| Ok(potrf_op(p.bool("lower")?)),
    ));
    r.add(def(
        "_linalg_potri",
        "Performs matrix inversion from a Cholesky factorization: out = A^-T * A^-1 (lower=True) or A^-1 * A^-T (lower=False) for the triangular A, i.e. the inverse of the matrix whose Cholesky factor A is. Batched over the leading dimensions. float32 and float64 only.",
        vec![lower()],
        a,
        |p| Ok(potri_op(p.bool("lower")?)),
    ));
    r.add(def(
        "_linalg_inverse",
        "Computes the inverse of a square matrix (LU with partial pivoting); a singular matrix is an error. Batched over the leading dimensions. float32 and float64 only.",
        vec![],
        a,
        |_| Ok(inverse_op()),
    ));
    r.add(def(
        "_linalg_det",
        "Computes the determinant of a square matrix: one value per matrix of the batch (shape (1,) for a single matrix); 0 for a singular matrix, whose gradient is then zero. float32 and float64 only.",
        vec![],
        a,
        |_| Ok(det_op(false)),
    ));
    r.add(def(
        "_linalg_slogdet",
        "Computes the sign and the log of the absolute value of the determinant of a square matrix: two outputs, sign and logabsdet ((0, -inf) for a singular matrix); no gradient flows to sign. float32 and float64 only.",
        vec![],
        a,
        |_| Ok(det_op(true)),
    ));
    r.add(def(
        "_linalg_gelqf",
        "LQ factorization of a general matrix A of shape (x, y), x <= y: two outputs Q (x, y) with orthonormal rows and L (x, x) lower triangular, A = L * Q (LAPACK's gelqf + orglq sign conventions). Batched over the leading dimensions. float32 and float64 only.",
        vec![],
        a,
        |_| Ok(gelqf_op()),
    ));
    r.add(def(
        "_linalg_syevd",
        "Eigendecomposition of a symmetric matrix (only its lower triangle is read): two outputs U (eigenvectors as rows, each with its largest entry positive) and L (eigenvalues, ascending), U * A = diag(L) * U. Gradients need distinct eigenvalues. Batched over the leading dimensions. float32 and float64 only.",
        vec![],
        a,
        |_| Ok(syevd_op()),
    ));
}
