//! `_linalg_gemm`, `_linalg_gemm2`, `_linalg_syrk`, `_linalg_trmm`, `_linalg_trsm`.

use super::kernel::{mm, transpose, tri_solve_left};
use super::{flag, float_type, matrices, num, square, tri_mask};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::graph::Entry;
use crate::kernels::cpu::gemm::{batch_matmul, matmul, GemmElem, Mat};
use crate::ndarray::NDArray;
use crate::op::params::param;
use crate::op::shape_ops::def;
use crate::op::{expect_inputs, Desc, FnOp, Inputs, Operator, Params, Registry};
use crate::op::{read_f64, write_f64};
use crate::shape::Shape;
use std::sync::Arc;

/// gemm/gemm2 configuration.
#[derive(Debug, Clone, Copy)]
struct Gemm {
    ta: bool,
    tb: bool,
    alpha: f64,
    /// None for gemm2 (no C input).
    beta: Option<f64>,
    axis: i64,
}

impl Gemm {
    fn name(&self) -> &'static str {
        if self.beta.is_some() {
            "_linalg_gemm"
        } else {
            "_linalg_gemm2"
        }
    }
}

/// Where the matrices of a tensor lie: rows along `axis`, columns along the last axis, a batch
/// over every other axis (outer ones before `axis`, inner ones between it and the last).
#[derive(Debug, Clone, Copy)]
struct Layout {
    inner: usize,
    rows: usize,
    cols: usize,
}

impl Layout {
    fn new(s: &Shape, axis: usize) -> Layout {
        let nd = s.ndim();
        Layout {
            inner: s.0[axis + 1..nd - 1].iter().product(),
            rows: s[axis],
            cols: s[nd - 1],
        }
    }
    fn row_stride(&self) -> usize {
        self.inner * self.cols
    }
    /// Offset of batch item b's element (0, 0).
    fn offset(&self, b: usize) -> usize {
        (b / self.inner) * self.rows * self.row_stride() + (b % self.inner) * self.cols
    }
}

/// MXNet's gemm shape rule: (normalized axis, batch count, output shape).
fn gemm_plan(p: &Gemm, a: &Shape, b: &Shape) -> Result<(usize, usize, Shape)> {
    let op = p.name();
    let nd = a.ndim();
    if nd < 2 || nd != b.ndim() {
        return Err(Error::shape(
            op,
            format!("A and B must be tensors of matrices with the same number of dimensions (>= 2), got shapes {a} and {b}"),
        ));
    }
    let axis = if p.axis < 0 {
        p.axis + nd as i64
    } else {
        p.axis
    };
    if axis < 0 || axis >= nd as i64 - 1 {
        return Err(Error::shape(
            op,
            format!(
                "Invalid row axis ({}) for inputs of shapes {a} and {b}",
                p.axis
            ),
        ));
    }
    let axis = axis as usize;
    for i in (0..nd - 1).filter(|&i| i != axis) {
        if a[i] != b[i] {
            return Err(Error::shape(
                op,
                format!(
                    "Shapes of inputs A {a} and B {b} must be the same, except on row/col axis"
                ),
            ));
        }
    }
    let ka = if p.ta { a[axis] } else { a[nd - 1] };
    let kb = if p.tb { b[nd - 1] } else { b[axis] };
    if ka != kb {
        return Err(Error::shape(
            op,
            format!(
                "Incompatible matrix dimensions for multiplication: A {a} (transpose_a={}) and B {b} (transpose_b={}) contract sizes {ka} and {kb}",
                p.ta, p.tb
            ),
        ));
    }
    let mut out = a.0.clone();
    out[axis] = if p.ta { a[nd - 1] } else { a[axis] };
    out[nd - 1] = if p.tb { b[axis] } else { b[nd - 1] };
    let batch =
        a.0.iter()
            .enumerate()
            .filter(|&(i, _)| i != axis && i != nd - 1)
            .map(|(_, &d)| d)
            .product();
    Ok((axis, batch, Shape(out)))
}

/// out = alpha·op(A)·op(B) (+ beta·C, already in `c`) on the project's GEMM.
fn gemm_run<T: GemmElem>(p: &Gemm, axis: usize, batch: usize, ins: &[NDArray], out: &NDArray) {
    let (la, lb, lo) = (
        Layout::new(ins[0].shape(), axis),
        Layout::new(ins[1].shape(), axis),
        Layout::new(out.shape(), axis),
    );
    let (m, n) = (lo.rows, lo.cols);
    let k = if p.ta { la.rows } else { la.cols };
    let mat = |l: &Layout, t: bool| {
        let rs = l.row_stride() as isize;
        if t {
            (1, rs)
        } else {
            (rs, 1)
        }
    };
    let ((ars, acs), (brs, bcs)) = (mat(&la, p.ta), mat(&lb, p.tb));
    // SAFETY: inside the op reading the inputs and writing `out` (fresh, not aliased: invoke
    // copies through a temporary otherwise); shapes were inferred from these very arrays, so
    // every batch item's operands and output block lie inside their tensors.
    unsafe {
        let (pa, pb, po) = (
            ins[0].raw() as *const T,
            ins[1].raw() as *const T,
            out.raw() as *mut T,
        );
        let a = Mat {
            ptr: pa,
            rs: ars,
            cs: acs,
        };
        let bm = Mat {
            ptr: pb,
            rs: brs,
            cs: bcs,
        };
        if lo.inner == 1 && batch > 1 {
            batch_matmul(
                batch,
                m,
                n,
                k,
                a,
                la.offset(1) as isize,
                bm,
                lb.offset(1) as isize,
                po,
            );
        } else {
            for b in 0..batch {
                let ab = Mat {
                    ptr: pa.add(la.offset(b)),
                    ..a
                };
                let bb = Mat {
                    ptr: pb.add(lb.offset(b)),
                    ..bm
                };
                matmul(m, n, k, ab, bb, po.add(lo.offset(b)), lo.row_stride());
            }
        }
        let d = out.data_mut::<T>();
        match p.beta {
            Some(beta) => {
                let c = ins[2].data::<T>();
                for (d, c) in d.iter_mut().zip(c) {
                    *d = T::from_f64(p.alpha * d.to_f64() + beta * c.to_f64());
                }
            }
            None if p.alpha != 1.0 => {
                for d in d.iter_mut() {
                    *d = T::from_f64(p.alpha * d.to_f64());
                }
            }
            None => {}
        }
    }
}

fn gemm_op(p: Gemm) -> Arc<dyn Operator> {
    let op = p.name();
    let nin = if p.beta.is_some() { 3 } else { 2 };
    FnOp::new(
        op,
        move |ins| {
            expect_inputs(op, ins, nin)?;
            let dt = float_type(op, ins)?;
            let (_, _, out) = gemm_plan(&p, &ins[0].shape, &ins[1].shape)?;
            if nin == 3 && ins[2].shape != out {
                return Err(Error::shape(
                    op,
                    format!(
                        "C must have the shape of op(A)·op(B), {out}, got {} (A {}, B {})",
                        ins[2].shape, ins[0].shape, ins[1].shape
                    ),
                ));
            }
            Ok(vec![Desc::new(out, dt)])
        },
        move |_, ins, outs| {
            let (axis, batch, _) = gemm_plan(&p, ins[0].shape(), ins[1].shape())?;
            match outs[0].dtype() {
                DType::F32 => gemm_run::<f32>(&p, axis, batch, ins, &outs[0]),
                DType::F64 => gemm_run::<f64>(&p, axis, batch, ins, &outs[0]),
                d => return Err(Error::dtype(op, format!("no product for {d}"))),
            }
            Ok(())
        },
    )
    .with_shape_partial(move |ins, _| {
        // C takes the product's shape (MXNet infers it from A and B).
        if nin == 3 && ins[2].is_none() {
            if let (Some(a), Some(b)) = (&ins[0], &ins[1]) {
                if let Ok((_, _, out)) = gemm_plan(&p, a, b) {
                    ins[2] = Some(out);
                }
            }
        }
        Ok(())
    })
    .with_grad(move |g, a| {
        let dd = &a.out_grads[0];
        let (ea, eb) = (&a.inputs[0], &a.inputs[1]);
        let (al, ax) = (num(p.alpha), p.axis.to_string());
        let mut prod = |l: &Entry, r: &Entry, ta: bool, tb: bool| {
            g.op1(
                "_linalg_gemm2",
                &[
                    ("transpose_a", flag(ta)),
                    ("transpose_b", flag(tb)),
                    ("alpha", &al),
                    ("axis", &ax),
                ],
                &[l.clone(), r.clone()],
            )
        };
        let da = match (a.needs[0], p.ta) {
            (false, _) => None,
            (true, false) => Some(prod(dd, eb, false, !p.tb)?),
            (true, true) => Some(prod(eb, dd, p.tb, true)?),
        };
        let db = match (a.needs[1], p.tb) {
            (false, _) => None,
            (true, false) => Some(prod(ea, dd, !p.ta, false)?),
            (true, true) => Some(prod(dd, ea, true, p.ta)?),
        };
        let mut out = vec![da, db];
        if let Some(beta) = p.beta {
            out.push(if a.needs[2] {
                Some(g.scale(dd, beta)?)
            } else {
                None
            });
        }
        Ok(out)
    })
    .arc()
}

fn syrk_op(transpose_a: bool, alpha: f64) -> Arc<dyn Operator> {
    let op = "_linalg_syrk";
    FnOp::new(
        op,
        move |ins| {
            expect_inputs(op, ins, 1)?;
            let dt = float_type(op, ins)?;
            let s = &ins[0].shape;
            let (_, r, c) = matrices(op, "A", s)?;
            let k = if transpose_a { c } else { r };
            let mut out = s.0.clone();
            let nd = out.len();
            out[nd - 2] = k;
            out[nd - 1] = k;
            Ok(vec![Desc::new(Shape(out), dt)])
        },
        move |_, ins, outs| {
            let (batch, r, c) = matrices(op, "A", ins[0].shape())?;
            let x = read_f64(&ins[0]);
            let n = if transpose_a { c } else { r };
            let k = if transpose_a { r } else { c };
            let mut out = Vec::with_capacity(batch * n * n);
            for b in 0..batch {
                let a = &x[b * r * c..(b + 1) * r * c];
                // A·Aᵀ (n = rows) or Aᵀ·A (n = cols).
                let mut p = mm(a, transpose_a, a, !transpose_a, (n, n, k));
                // Exactly symmetric, from the lower triangle, as MXNet's syrk.
                for i in 0..n {
                    for j in 0..i {
                        p[j * n + i] = p[i * n + j];
                    }
                }
                out.extend(p.iter().map(|v| alpha * v));
            }
            write_f64(&outs[0], &out);
            Ok(())
        },
    )
    .with_grad(move |g, a| {
        let (db, x) = (&a.out_grads[0], &a.inputs[0]);
        let al = num(alpha);
        // d(α·A·Aᵀ) = α(dB + dBᵀ)·A; d(α·Aᵀ·A) = α·A·(dB + dBᵀ).
        let (l, r) = if transpose_a { (x, db) } else { (db, x) };
        let p1 = g.op1("_linalg_gemm2", &[("alpha", &al)], &[l.clone(), r.clone()])?;
        let tr = if transpose_a {
            "transpose_b"
        } else {
            "transpose_a"
        };
        let p2 = g.op1(
            "_linalg_gemm2",
            &[(tr, "True"), ("alpha", &al)],
            &[l.clone(), r.clone()],
        )?;
        Ok(vec![Some(g.add(&p1, &p2)?)])
    })
    .arc()
}

/// trmm/trsm configuration.
#[derive(Debug, Clone, Copy)]
struct Tri {
    transpose: bool,
    rightside: bool,
    lower: bool,
    alpha: f64,
}

impl Tri {
    fn attrs(&self, alpha: &str) -> Vec<(&'static str, String)> {
        vec![
            ("transpose", flag(self.transpose).to_string()),
            ("rightside", flag(self.rightside).to_string()),
            ("lower", flag(self.lower).to_string()),
            ("alpha", alpha.to_string()),
        ]
    }
}

/// trmm/trsm shapes: A square, B any matrices with A's batch; the result has B's shape.
fn tri_infer(op: &str, t: &Tri, ins: &[Desc]) -> Result<Vec<Desc>> {
    expect_inputs(op, ins, 2)?;
    let dt = float_type(op, ins)?;
    let (a, b) = (&ins[0].shape, &ins[1].shape);
    square(op, "A", a)?;
    matrices(op, "B", b)?;
    let nd = a.ndim();
    if b.ndim() != nd || a.0[..nd - 2] != b.0[..nd - 2] {
        return Err(Error::shape(
            op,
            format!("Shapes of inputs A {a} and B {b} must be the same, except on the last two dimensions"),
        ));
    }
    let (side, len) = if t.rightside {
        ("columns", b[nd - 1])
    } else {
        ("rows", b[nd - 2])
    };
    if len != a[nd - 1] {
        return Err(Error::shape(
            op,
            format!(
                "Incompatible matrix dimensions: B {b} has {len} {side}, the triangular A {a} is {}x{} (rightside={})",
                a[nd - 1], a[nd - 1], t.rightside
            ),
        ));
    }
    Ok(vec![Desc::new(b.clone(), dt)])
}

/// The triangle of the n×n matrix `a` selected by `lower`, the rest zero.
fn triangle(a: &[f64], n: usize, lower: bool) -> Vec<f64> {
    let mut t = a.to_vec();
    for i in 0..n {
        for j in 0..n {
            if (lower && j > i) || (!lower && j < i) {
                t[i * n + j] = 0.0;
            }
        }
    }
    t
}

fn trmm_op(t: Tri) -> Arc<dyn Operator> {
    let op = "_linalg_trmm";
    FnOp::new(
        op,
        move |ins| tri_infer(op, &t, ins),
        move |_, ins, outs| {
            let (batch, n) = square(op, "A", ins[0].shape())?;
            let (_, r, c) = matrices(op, "B", ins[1].shape())?;
            let (xa, xb) = (read_f64(&ins[0]), read_f64(&ins[1]));
            let mut out = Vec::with_capacity(batch * r * c);
            for k in 0..batch {
                let a = triangle(&xa[k * n * n..(k + 1) * n * n], n, t.lower);
                let b = &xb[k * r * c..(k + 1) * r * c];
                let p = if t.rightside {
                    mm(b, false, &a, t.transpose, (r, c, n))
                } else {
                    mm(&a, t.transpose, b, false, (r, c, n))
                };
                out.extend(p.iter().map(|v| t.alpha * v));
            }
            write_f64(&outs[0], &out);
            Ok(())
        },
    )
    .with_grad(move |g, a| {
        let (dc, ea, eb) = (&a.out_grads[0], &a.inputs[0], &a.inputs[1]);
        let al = num(t.alpha);
        let mut grads = vec![None, None];
        if a.needs[0] {
            // d op(A) = α·dC·Bᵀ (left) or α·Bᵀ·dC (right), transposed back when `transpose`.
            let (l, r, ta, tb) = if t.rightside == t.transpose {
                (dc, eb, t.transpose, !t.transpose)
            } else {
                (eb, dc, !t.transpose, t.transpose)
            };
            let full = g.op1(
                "_linalg_gemm2",
                &[
                    ("transpose_a", flag(ta)),
                    ("transpose_b", flag(tb)),
                    ("alpha", &al),
                ],
                &[l.clone(), r.clone()],
            )?;
            grads[0] = Some(tri_mask(g, &full, t.lower)?);
        }
        if a.needs[1] {
            let back = Tri {
                transpose: !t.transpose,
                ..t
            };
            let attrs = back.attrs(&al);
            let attrs: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            grads[1] = Some(g.op1("_linalg_trmm", &attrs, &[ea.clone(), dc.clone()])?);
        }
        Ok(grads)
    })
    .arc()
}

fn trsm_op(t: Tri) -> Arc<dyn Operator> {
    let op = "_linalg_trsm";
    FnOp::new(
        op,
        move |ins| tri_infer(op, &t, ins),
        move |_, ins, outs| {
            let (batch, n) = square(op, "A", ins[0].shape())?;
            let (_, r, c) = matrices(op, "B", ins[1].shape())?;
            let (xa, xb) = (read_f64(&ins[0]), read_f64(&ins[1]));
            let mut out = Vec::with_capacity(batch * r * c);
            for k in 0..batch {
                let a = &xa[k * n * n..(k + 1) * n * n];
                let b: Vec<f64> = xb[k * r * c..(k + 1) * r * c]
                    .iter()
                    .map(|v| t.alpha * v)
                    .collect();
                // X·op(A) = αB is op(A)ᵀ·Xᵀ = αBᵀ.
                let solved = if t.rightside {
                    let mut bt = transpose(&b, r, c);
                    tri_solve_left(a, n, t.lower, !t.transpose, &mut bt, r).map(|_| transpose(&bt, c, r))
                } else {
                    let mut b = b;
                    tri_solve_left(a, n, t.lower, t.transpose, &mut b, c).map(|_| b)
                };
                match solved {
                    Ok(x) => out.extend(x),
                    Err(i) => {
                        return Err(Error::Value(format!(
                            "{op}: the triangular matrix A is singular (zero diagonal entry {i}) in batch item {k} of A {}",
                            ins[0].shape()
                        )))
                    }
                }
            }
            write_f64(&outs[0], &out);
            Ok(())
        },
    )
    .with_grad(move |g, a| {
        let (dc, ea) = (&a.out_grads[0], &a.inputs[0]);
        let c = &a.outputs[0];
        let back = Tri {
            transpose: !t.transpose,
            ..t
        };
        let attrs = back.attrs(&num(t.alpha));
        let attrs: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        // dB = α·op(A)⁻ᵀ·dC (left side; mirrored on the right).
        let db = g.op1("_linalg_trsm", &attrs, &[ea.clone(), dc.clone()])?;
        let mut grads = vec![None, None];
        if a.needs[0] {
            // d op(A) = -(1/α)·dB·Cᵀ (left) or -(1/α)·Cᵀ·dB (right).
            let (l, r, ta, tb) = if t.rightside == t.transpose {
                (&db, c, t.transpose, !t.transpose)
            } else {
                (c, &db, !t.transpose, t.transpose)
            };
            let full = g.op1(
                "_linalg_gemm2",
                &[
                    ("transpose_a", flag(ta)),
                    ("transpose_b", flag(tb)),
                    ("alpha", &num(-1.0 / t.alpha)),
                ],
                &[l.clone(), r.clone()],
            )?;
            grads[0] = Some(tri_mask(g, &full, t.lower)?);
        }
        if a.needs[1] {
            grads[1] = Some(db);
        }
        Ok(grads)
    })
    .arc()
}

fn gemm_params(mac: bool) -> Vec<crate::op::ParamSpec> {
    let mut v = vec![
        param(
            "transpose_a",
            "boolean",
            Some("False"),
            "Multiply with transposed of first input (A).",
        ),
        param(
            "transpose_b",
            "boolean",
            Some("False"),
            "Multiply with transposed of second input (B).",
        ),
        param(
            "alpha",
            "double",
            Some("1"),
            "Scalar factor multiplied with A*B.",
        ),
    ];
    if mac {
        v.push(param(
            "beta",
            "double",
            Some("1"),
            "Scalar factor multiplied with C.",
        ));
        v.push(param(
            "axis",
            "int",
            Some("-2"),
            "Axis corresponding to the matrix rows.",
        ));
    } else {
        v.push(param(
            "axis",
            "int",
            Some("-2"),
            "Axis corresponding to the matrix row indices.",
        ));
    }
    v
}

fn tri_params() -> Vec<crate::op::ParamSpec> {
    vec![
        param(
            "transpose",
            "boolean",
            Some("False"),
            "Use transposed of the triangular matrix",
        ),
        param(
            "rightside",
            "boolean",
            Some("False"),
            "Multiply triangular matrix from the right to non-triangular one.",
        ),
        param(
            "lower",
            "boolean",
            Some("True"),
            "True if the triangular matrix is lower triangular, false if it is upper triangular.",
        ),
        param(
            "alpha",
            "double",
            Some("1"),
            "Scalar factor to be applied to the result.",
        ),
    ]
}

fn tri_from(p: &Params) -> Result<Tri> {
    Ok(Tri {
        transpose: p.bool("transpose")?,
        rightside: p.bool("rightside")?,
        lower: p.bool("lower")?,
        alpha: p.float("alpha")?,
    })
}

pub fn register(r: &mut Registry) {
    r.add(def(
        "_linalg_gemm",
        "Performs general matrix multiplication and accumulation: out = alpha * op(A) * op(B) + beta * C, op() the identity or the transpose (transpose_a, transpose_b). Batched over the leading dimensions; the matrix rows lie along `axis` (default -2), the columns along the last axis. float32 and float64 only.",
        gemm_params(true),
        Inputs::Fixed(&["A", "B", "C"]),
        |p| {
            Ok(gemm_op(Gemm {
                ta: p.bool("transpose_a")?,
                tb: p.bool("transpose_b")?,
                alpha: p.float("alpha")?,
                beta: Some(p.float("beta")?),
                axis: p.int("axis")?,
            }))
        },
    ));
    r.add(def(
        "_linalg_gemm2",
        "Performs general matrix multiplication: out = alpha * op(A) * op(B), op() the identity or the transpose (transpose_a, transpose_b). Batched over the leading dimensions; the matrix rows lie along `axis` (default -2), the columns along the last axis. float32 and float64 only.",
        gemm_params(false),
        Inputs::Fixed(&["A", "B"]),
        |p| {
            Ok(gemm_op(Gemm {
                ta: p.bool("transpose_a")?,
                tb: p.bool("transpose_b")?,
                alpha: p.float("alpha")?,
                beta: None,
                axis: p.int("axis")?,
            }))
        },
    ));
    r.add(def(
        "_linalg_syrk",
        "Multiplication of matrix with its transpose: out = alpha * A * A^T, or alpha * A^T * A with transpose=True. Batched over the leading dimensions. float32 and float64 only.",
        vec![
            param("transpose", "boolean", Some("False"), "Use transpose of input matrix."),
            param("alpha", "double", Some("1"), "Scalar factor to be applied to the result."),
        ],
        Inputs::Fixed(&["A"]),
        |p| Ok(syrk_op(p.bool("transpose")?, p.float("alpha")?)),
    ));
    r.add(def(
        "_linalg_trmm",
        "Performs multiplication with a triangular matrix: out = alpha * op(A) * B, or alpha * B * op(A) with rightside=True; only the lower (or, with lower=False, upper) triangle of A is read. Batched over the leading dimensions. float32 and float64 only.",
        tri_params(),
        Inputs::Fixed(&["A", "B"]),
        |p| Ok(trmm_op(tri_from(p)?)),
    ));
    r.add(def(
        "_linalg_trsm",
        "Solves a matrix equation with a triangular matrix: op(A) * out = alpha * B, or out * op(A) = alpha * B with rightside=True; only the lower (or, with lower=False, upper) triangle of A is read, and a zero on its diagonal is an error. Batched over the leading dimensions. float32 and float64 only.",
        tri_params(),
        Inputs::Fixed(&["A", "B"]),
        |p| Ok(trsm_op(tri_from(p)?)),
    ));
}
