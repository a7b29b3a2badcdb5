//! `FullyConnected`: `out = data · weightᵀ + bias` as one GEMM whose destination starts as the
//! broadcast bias; its gradient is one `_backward_FullyConnected` node computing dX = dY·W,
//! dW = dYᵀ·X and db = Σ_rows dY with two GEMMs and a column sum.

use super::{check_count, float};
use crate::error::{Error, Result};
use crate::graph::infer::refine;
use crate::graph::Entry;
use crate::kernels::cpu::conv::Real;
use crate::kernels::cpu::gemm::{matmul, matmul_acc, Mat};
use crate::kernels::cpu::Ptr;
use crate::ndarray::NDArray;
use crate::op::params::{param, Params};
use crate::op::shape_ops::def;
use crate::op::{Desc, FnOp, Inputs, Operator, Registry};
use crate::runtime::rt;
use crate::shape::Shape;
use std::sync::Arc;

const OP: &str = "FullyConnected";

/// FullyConnected's parameters, shared with `_contrib_quantized_fully_connected` (`op` names
/// the operator in errors).
#[derive(Clone, Copy)]
pub(crate) struct Cfg {
    pub op: &'static str,
    pub num_hidden: usize,
    pub no_bias: bool,
    pub flatten: bool,
}

impl Cfg {
    /// A known output fills the data's unknown batch dimension(s), as MXNet's rule does
    /// (mx.rnn's begin states are zeros of shape (0, num_hidden) feeding h2h).
    pub(crate) fn batch_from_output(&self, ins: &mut [Option<Shape>], outs: &[Option<Shape>]) {
        let (Some(Some(o)), Some(Some(d))) = (outs.first(), ins.first_mut()) else {
            return;
        };
        let lead = if self.flatten {
            1
        } else {
            d.ndim().saturating_sub(1)
        };
        if d.ndim() > 0 && o.ndim() == (if self.flatten { 2 } else { d.ndim() }) {
            for i in 0..lead {
                if d.0[i] == 0 {
                    d.0[i] = o.0[i];
                }
            }
        }
    }

    pub(crate) fn parse(op: &'static str, p: &Params) -> Result<Cfg> {
        let nh = p.int("num_hidden")?;
        let num_hidden = usize::try_from(nh)
            .ok()
            .filter(|&v| v > 0)
            .ok_or_else(|| Error::param(op, format!("num_hidden must be positive, got {nh}")))?;
        Ok(Cfg {
            op,
            num_hidden,
            no_bias: p.bool("no_bias")?,
            flatten: p.bool("flatten")?,
        })
    }

    /// (rows, in_dim) of the data seen as a matrix.
    pub(crate) fn rows_k(&self, d: &Shape) -> Result<(usize, usize)> {
        if d.ndim() == 0 {
            return Err(Error::shape(
                self.op,
                "data must have at least one dimension, got shape []",
            ));
        }
        Ok(if self.flatten {
            (d[0], d.0[1..].iter().product())
        } else {
            let nd = d.ndim();
            (d.0[..nd - 1].iter().product(), d[nd - 1])
        })
    }

    pub(crate) fn out_shape(&self, d: &Shape) -> Shape {
        if self.flatten {
            Shape(vec![d.0.first().copied().unwrap_or(0), self.num_hidden])
        } else {
            let mut s = d.0.clone();
            if let Some(l) = s.last_mut() {
                *l = self.num_hidden;
            }
            Shape(s)
        }
    }

    fn n_in(&self) -> usize {
        if self.no_bias {
            2
        } else {
            3
        }
    }
}

fn mismatch(what: &str, got: &Shape, want: &Shape) -> Error {
    Error::shape(
        OP,
        format!("Shape inconsistent, Provided = {got}, inferred shape={want} (input {what})"),
    )
}

fn infer(cfg: Cfg, inputs: &[Desc]) -> Result<Vec<Desc>> {
    check_count(OP, inputs, cfg.n_in())?;
    let dt = float(OP, inputs[0].dtype)?;
    let d = &inputs[0].shape;
    let (_, k) = cfg.rows_k(d)?;
    let want_w = Shape(vec![cfg.num_hidden, k]);
    if inputs[1].shape != want_w {
        return Err(mismatch("weight", &inputs[1].shape, &want_w));
    }
    // MXNet also takes the bias as a column (num_hidden, 1).
    if !cfg.no_bias && !matches!(inputs[2].shape.0[..], [n] | [n, 1] if n == cfg.num_hidden) {
        return Err(mismatch(
            "bias",
            &inputs[2].shape,
            &Shape(vec![cfg.num_hidden]),
        ));
    }
    for (i, x) in inputs.iter().enumerate().skip(1) {
        if x.dtype != dt {
            return Err(Error::dtype(
                OP,
                format!("input {i} has dtype {}, data has {dt}", x.dtype),
            ));
        }
    }
    Ok(vec![Desc::new(cfg.out_shape(d), dt)])
}

fn forward_t<T: Real>(cfg: Cfg, ins: &[NDArray], out: &NDArray) -> Result<()> {
    let (m, k) = cfg.rows_k(ins[0].shape())?;
    let n = cfg.num_hidden;
    // SAFETY: inside the op reading the inputs and writing `out`, a fresh array disjoint from
    // them; shapes were checked by `infer`, so the strides below stay inside each buffer.
    unsafe {
        let x = Mat {
            ptr: ins[0].raw() as *const T,
            rs: k as isize,
            cs: 1,
        };
        let wt = Mat {
            ptr: ins[1].raw() as *const T,
            rs: 1,
            cs: k as isize,
        };
        let o = out.raw() as *mut T;
        if cfg.no_bias {
            matmul(m, n, k, x, wt, o, n);
        } else {
            let b = ins[2].data::<T>();
            let dst = out.data_mut::<T>();
            for row in dst.chunks_exact_mut(n.max(1)) {
                row.copy_from_slice(b);
            }
            matmul_acc(m, n, k, x, wt, o, n);
        }
    }
    Ok(())
}

/// Inputs dY, X, W (and the bias, unread); outputs dX, dW and (with bias) db.
/// Outputs dX (when `need_dx`), dW, then db unless no_bias.
fn backward_t<T: Real>(cfg: Cfg, need_dx: bool, ins: &[NDArray], outs: &[NDArray]) -> Result<()> {
    let (m, k) = cfg.rows_k(ins[1].shape())?;
    let n = cfg.num_hidden;
    let (dx, rest) = if need_dx {
        (Some(&outs[0]), &outs[1..])
    } else {
        (None, outs)
    };
    // SAFETY: pointers of the arrays this op reads (dY, X, W) and writes (dX, dW).
    let (dyp, xp, wp, dxp, dwp) = unsafe {
        (
            Ptr(ins[0].raw() as *mut T),
            Ptr(ins[1].raw() as *mut T),
            Ptr(ins[2].raw() as *mut T),
            dx.map(|a| Ptr(a.raw() as *mut T)),
            Ptr(rest[0].raw() as *mut T),
        )
    };
    // SAFETY (both closures): reads dY (m×n), X (m×k), W (n×k); writes the fresh, disjoint
    // outputs dX (m×k) and dW (n×k), all checked by the backward `infer`.
    let data_grad = move || unsafe {
        if let Some(dxp) = dxp {
            let dy = Mat {
                ptr: dyp.get() as *const T,
                rs: n as isize,
                cs: 1,
            };
            let w = Mat {
                ptr: wp.get() as *const T,
                rs: k as isize,
                cs: 1,
            };
            matmul(m, k, n, dy, w, dxp.get(), k);
        }
    };
    let weight_grad = move || unsafe {
        let dyt = Mat {
            ptr: dyp.get() as *const T,
            rs: 1,
            cs: n as isize,
        };
        let x = Mat {
            ptr: xp.get() as *const T,
            rs: k as isize,
            cs: 1,
        };
        matmul(n, k, m, dyt, x, dwp.get(), k);
    };
    // The two products are independent: on a multi-core pool they run side by side.
    if need_dx && m * n * k >= PAR_PAIR_MNK && rt().pool.current_num_threads() > 1 {
        crate::kernels::cpu::par_for(2, |i| if i == 0 { data_grad() } else { weight_grad() });
    } else {
        data_grad();
        weight_grad();
    }
    if let Some(db) = rest.get(1) {
        // SAFETY: db is a fresh output of n elements; dY is read.
        let (db, dy) = unsafe { (db.data_mut::<T>(), ins[0].data::<T>()) };
        let mut acc = vec![0.0f64; n];
        for row in dy.chunks_exact(n.max(1)) {
            for (a, v) in acc.iter_mut().zip(row) {
                *a += v.to_f64();
            }
        }
        for (o, a) in db.iter_mut().zip(acc) {
            *o = T::from_f64(a);
        }
    }
    Ok(())
}

/// Multiply-adds per product from which dX and dW are computed on two threads.
const PAR_PAIR_MNK: usize = 1 << 18;

fn backward_op(cfg: Cfg, need_dx: bool) -> Arc<dyn Operator> {
    const B: &str = "_backward_FullyConnected";
    let mut op = FnOp::new(
        B,
        move |inputs| {
            // dY, X, W, and the bias (for its shape: (num_hidden,) or (num_hidden, 1)).
            check_count(B, inputs, 3 + usize::from(!cfg.no_bias))?;
            let dt = float(B, inputs[1].dtype)?;
            let (m, _) = cfg.rows_k(&inputs[1].shape)?;
            let want = Shape(vec![m, cfg.num_hidden]);
            if inputs[0].shape.size() != want.size() {
                return Err(mismatch("out_grad", &inputs[0].shape, &want));
            }
            let mut v = Vec::with_capacity(3);
            if need_dx {
                v.push(Desc::new(inputs[1].shape.clone(), dt));
            }
            v.push(Desc::new(inputs[2].shape.clone(), dt));
            if let Some(b) = inputs.get(3) {
                v.push(Desc::new(b.shape.clone(), dt));
            }
            Ok(v)
        },
        move |_, ins, outs| by_float!(B, ins[1].dtype(), backward_t, cfg, need_dx, ins, outs),
    );
    op.num_outputs = 1 + usize::from(need_dx) + usize::from(!cfg.no_bias);
    #[cfg(feature = "cuda")]
    let op = op.with_cuda(Some(cuda::backward(cfg, need_dx)));
    op.with_grad(move |g, a| backward_grad(cfg, need_dx, g, a))
        .arc()
}

/// The gradient of the backward (second-order autograd, which MXNet lacks for this op). The
/// backward is the adjoint of the forward, bilinear in (dY, data) and (dY, weight): with head
/// gradients Gx, Gw, Gb, d(dY) = fc(X, Gw, Gb) + fc(Gx, W), d(data) is the data gradient of dY
/// at weight Gw, d(weight) the weight gradient of dY at data Gx.
fn backward_grad(
    cfg: Cfg,
    need_dx: bool,
    g: &mut crate::graph::GradBuilder,
    a: &crate::op::GradArgs,
) -> Result<Vec<Option<Entry>>> {
    let [dy, x, w, bias @ ..] = a.inputs else {
        return Err(Error::Internal(
            "_backward_FullyConnected gradient without 3 inputs".into(),
        ));
    };
    let mut heads = a.out_grads.iter();
    let gx = if need_dx { heads.next() } else { None };
    let gw = heads.next();
    let gb = if cfg.no_bias { None } else { heads.next() };
    let gw = gw.ok_or_else(|| Error::Internal("_backward_FullyConnected without dW".into()))?;
    let want = |i: usize| a.needs.get(i).copied().unwrap_or(true);
    let linear = Cfg {
        no_bias: true,
        ..cfg
    };
    let d_dy = if want(0) {
        let mut ins = vec![x.clone(), gw.clone()];
        ins.extend(gb.cloned());
        let with_bias = Cfg {
            no_bias: gb.is_none(),
            ..cfg
        };
        let mut parts = g.apply(fc_op(with_bias), &ins);
        if let Some(gx) = gx {
            parts.extend(g.apply(fc_op(linear), &[gx.clone(), w.clone()]));
        }
        Some(g.sum(&parts)?)
    } else {
        None
    };
    let d_x = if want(1) {
        let ins = [dy.clone(), x.clone(), gw.clone()];
        g.apply(backward_op(linear, true), &ins).into_iter().next()
    } else {
        None
    };
    let d_w = match gx {
        Some(gx) if want(2) => {
            let ins = [dy.clone(), gx.clone(), w.clone()];
            g.apply(backward_op(linear, false), &ins).into_iter().next()
        }
        _ => None,
    };
    // The bias is read for its shape only.
    Ok([d_dy, d_x, d_w]
        .into_iter()
        .chain(bias.iter().map(|_| None))
        .collect())
}

#[cfg(feature = "cuda")]
pub const CUDA_MODULE: &str = "fully_connected";

/// Bias rows and bias-gradient column sums; the products are cuBLAS calls.
#[cfg(feature = "cuda")]
pub fn cuda_source() -> String {
    use crate::kernels::cuda::{kernel_name, module_source, storage_type};
    module_source("", |dt| {
        let s = storage_type(dt);
        format!(
            "extern \"C\" __global__ void {}(const {s}* b, {s}* o, u64 n, u64 h) {{\n  \
             OX_LOOP(i, n) o[i] = b[i % h];\n}}\n\
             extern \"C\" __global__ void {}(const {s}* dy, {s}* db, u64 h, u64 m) {{\n  \
             typedef IO<{s}>::C C;\n  OX_LOOP(j, h) {{\n    C acc = (C)0;\n    \
             for (u64 r = 0; r < m; ++r) acc += IO<{s}>::ld(dy[r * h + j]);\n    \
             db[j] = IO<{s}>::st(acc);\n  }}\n}}\n",
            kernel_name("fc_bias_rows", dt),
            kernel_name("fc_bias_grad", dt),
        )
    })
}

#[cfg(feature = "cuda")]
mod cuda {
    use super::{cuda_source, Cfg, CUDA_MODULE};
    use crate::kernels::cuda::blas::gemm;
    use crate::kernels::cuda::{dptr, run_kernel, Arg, CudaFn, FLOATS};

    /// Y = X·Wᵀ (+ b): bias rows first, then the product accumulates onto them.
    pub fn forward(cfg: Cfg) -> CudaFn {
        Box::new(move |dev, _, ins, outs| {
            let dt = ins[0].dtype();
            if !FLOATS.contains(&dt) {
                return Ok(false);
            }
            let (m, k) = cfg.rows_k(ins[0].shape())?;
            let n = cfg.num_hidden;
            let o = &outs[0];
            let beta = if cfg.no_bias {
                0.0
            } else {
                let args = [
                    Arg::U(dptr(&ins[2])),
                    Arg::U(dptr(o)),
                    Arg::U(o.size() as u64),
                    Arg::U(n as u64),
                ];
                run_kernel(
                    dev,
                    CUDA_MODULE,
                    cuda_source,
                    "fc_bias_rows",
                    dt,
                    o.size(),
                    &args,
                )?;
                1.0
            };
            gemm(
                dev,
                dt,
                false,
                true,
                (m, n, k),
                dptr(&ins[0]),
                dptr(&ins[1]),
                dptr(o),
                beta,
            )?;
            Ok(true)
        })
    }

    /// dX = dY·W, dW = dYᵀ·X, db = column sums of dY.
    pub fn backward(cfg: Cfg, need_dx: bool) -> CudaFn {
        Box::new(move |dev, _, ins, outs| {
            let dt = ins[1].dtype();
            if !FLOATS.contains(&dt) {
                return Ok(false);
            }
            let (m, k) = cfg.rows_k(ins[1].shape())?;
            let n = cfg.num_hidden;
            let (dy, x, w) = (dptr(&ins[0]), dptr(&ins[1]), dptr(&ins[2]));
            let rest = if need_dx {
                gemm(dev, dt, false, false, (m, k, n), dy, w, dptr(&outs[0]), 0.0)?;
                &outs[1..]
            } else {
                outs
            };
            gemm(dev, dt, true, false, (n, k, m), dy, x, dptr(&rest[0]), 0.0)?;
            if let Some(db) = rest.get(1) {
                let args = [
                    Arg::U(dy),
                    Arg::U(dptr(db)),
                    Arg::U(n as u64),
                    Arg::U(m as u64),
                ];
                run_kernel(dev, CUDA_MODULE, cuda_source, "fc_bias_grad", dt, n, &args)?;
            }
            Ok(true)
        })
    }
}

fn fc_op(cfg: Cfg) -> Arc<dyn Operator> {
    let mut op = FnOp::new(
        OP,
        move |inputs| infer(cfg, inputs),
        move |_, ins, outs| by_float!(OP, ins[0].dtype(), forward_t, cfg, ins, &outs[0]),
    )
    .with_shape_partial(move |ins, outs| {
        cfg.batch_from_output(ins, outs);
        // Weight and bias follow from the data's feature size; the output from the data.
        let Some(d) = ins.first().cloned().flatten() else {
            return Ok(());
        };
        if d.ndim() == 0 {
            return Ok(());
        }
        // An unknown feature size (0) still completes a weight given as (num_hidden, 0).
        let k = if cfg.flatten {
            d.0[1..].iter().product()
        } else {
            d[d.ndim() - 1]
        };
        if let Some(w) = ins.get_mut(1) {
            refine(w, Shape(vec![cfg.num_hidden, k]));
        }
        if !cfg.no_bias {
            if let Some(b) = ins.get_mut(2) {
                refine(b, Shape(vec![cfg.num_hidden]));
            }
        }
        if let Some(o) = outs.first_mut() {
            refine(o, cfg.out_shape(&d));
        }
        Ok(())
    })
    .with_grad(move |g, a| {
        let dy = a
            .out_grads
            .first()
            .ok_or_else(|| Error::Internal("FullyConnected gradient without out_grad".into()))?;
        let mut ins = vec![dy.clone(), a.inputs[0].clone(), a.inputs[1].clone()];
        ins.extend(a.inputs.get(2).cloned());
        // The data gradient of a first layer is wanted by nobody: skip its product.
        let need_dx = a.needs.first().copied().unwrap_or(true);
        let outs = g.apply(backward_op(cfg, need_dx), &ins);
        let mut grads: Vec<Option<Entry>> = outs.into_iter().map(Some).collect();
        if !need_dx {
            grads.insert(0, None);
        }
        Ok(grads)
    });
    op.num_inputs = Some(cfg.n_in());
    #[cfg(feature = "cuda")]
    let op = op.with_cuda(Some(cuda::forward(cfg)));
    op.arc()
}

pub fn register(r: &mut Registry) {
    r.add(def(
        OP,
        "Applies a linear transformation: Y = XWᵀ + b. With flatten=True the data (n, d1, ..., dk) is \
         seen as (n, d1·...·dk); otherwise the transformation applies to the last axis. Inputs: \
         data, weight of shape (num_hidden, in_dim), bias of shape (num_hidden,) unless no_bias.",
        vec![
            param("num_hidden", "int", None, "Number of hidden nodes of the output."),
            param("no_bias", "boolean", Some("False"), "Whether to disable bias parameter."),
            param(
                "flatten",
                "boolean",
                Some("True"),
                "Whether to collapse all but the first axis of the input data tensor.",
            ),
        ],
        Inputs::Fixed(&["data", "weight", "bias"]),
        |p| Ok(fc_op(Cfg::parse(OP, p)?)),
    ));
}

#[cfg(test)]
mod tests {
    use crate::graph::infer::infer_shape_partial;
    use crate::graph::symbol::Symbol;
    use crate::op::test_util::{arr, check_grad, err, rand64, run};
    use crate::shape::Shape;

    #[test]
    fn output_fills_the_data_batch_dimension() {
        // MXNet 1.9.1: (FullyConnected(x, num_hidden=4, no_bias=True) + y) with y=(2, 4) and
        // x=(0, 3) infers x=(2, 3).
        for (flatten, x, y, want) in [
            ("True", vec![0, 3], vec![2, 4], vec![2, 3]),
            ("False", vec![0, 0, 3], vec![2, 5, 4], vec![2, 5, 3]),
        ] {
            let fc = Symbol::create(
                "FullyConnected",
                "fc",
                &[
                    ("num_hidden".into(), "4".into()),
                    ("no_bias".into(), "True".into()),
                    ("flatten".into(), flatten.into()),
                ],
                &[Symbol::variable("x", vec![])],
                &[],
            )
            .unwrap();
            let sum = Symbol::create(
                "elemwise_add",
                "sum",
                &[],
                &[fc, Symbol::variable("y", vec![])],
                &[],
            )
            .unwrap();
            let r = infer_shape_partial(
                &sum,
                &[("x".into(), Shape(x)), ("y".into(), Shape(y.clone()))],
            )
            .unwrap();
            assert_eq!(r.args[0], Some(Shape(want)), "flatten={flatten}");
            assert_eq!(r.outputs[0], Some(Shape(y)));
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let x = rand64(&[3, 2, 2], -1.0, 1.0, 1);
        let w = rand64(&[5, 4], -1.0, 1.0, 2);
        let b = rand64(&[5], -1.0, 1.0, 3);
        check_grad(
            "FullyConnected",
            &[("num_hidden", "5")],
            &[x.clone(), w, b],
            &[0, 1, 2],
        );
        let w = rand64(&[3, 2], -1.0, 1.0, 4);
        check_grad(
            "FullyConnected",
            &[
                ("num_hidden", "3"),
                ("flatten", "False"),
                ("no_bias", "True"),
            ],
            &[x, w],
            &[0, 1],
        );
    }

    fn naive(x: &[f64], w: &[f64], b: Option<&[f64]>, m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut o = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                o[i * n + j] = (0..k).map(|p| x[i * k + p] * w[j * k + p]).sum::<f64>()
                    + b.map_or(0.0, |b| b[j]);
            }
        }
        o
    }

    fn vals(n: usize, seed: usize) -> Vec<f64> {
        (0..n)
            .map(|i| ((i * 7 + seed * 13) % 19) as f64 * 0.25 - 2.0)
            .collect()
    }

    #[test]
    fn forward_matches_naive() {
        for &(shape, flatten, nh, bias) in &[
            (&[4usize, 3, 5][..], true, 6usize, true),
            (&[4, 3, 5][..], false, 2, true),
            (&[7, 9][..], true, 1, false),
            (&[2, 3, 2, 2][..], false, 3, false),
        ] {
            let total: usize = shape.iter().product();
            let k = if flatten {
                total / shape[0]
            } else {
                shape[shape.len() - 1]
            };
            let m = total / k;
            let (x, w, b) = (vals(total, 1), vals(nh * k, 2), vals(nh, 3));
            let nh_s = nh.to_string();
            let fl = if flatten { "True" } else { "False" };
            let nb = if bias { "False" } else { "True" };
            let attrs = [
                ("num_hidden", nh_s.as_str()),
                ("flatten", fl),
                ("no_bias", nb),
            ];
            let mut ins = vec![arr(shape, &x), arr(&[nh, k], &w)];
            if bias {
                ins.push(arr(&[nh], &b));
            }
            let out = run("FullyConnected", &ins, &attrs);
            let mut want_shape = if flatten {
                vec![shape[0]]
            } else {
                shape[..shape.len() - 1].to_vec()
            };
            want_shape.push(nh);
            assert_eq!(out.shape().dims(), &want_shape[..]);
            let got = out.to_vec::<f64>().unwrap();
            assert_eq!(got, naive(&x, &w, bias.then_some(&b[..]), m, k, nh));
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        let x = arr(&[2, 3], &[0f32; 6]);
        let w = arr(&[4, 2], &[0f32; 8]);
        let b = arr(&[4], &[0f32; 4]);
        let e = err(
            "FullyConnected",
            &[x.clone(), w, b.clone()],
            &[("num_hidden", "4")],
        );
        assert!(e.to_string().contains("weight"), "{e}");
        let w = arr(&[4, 3], &[0f32; 12]);
        let e = err(
            "FullyConnected",
            &[x.clone(), w.clone()],
            &[("num_hidden", "4")],
        );
        assert!(e.to_string().contains("3 inputs"), "{e}");
        let e = err(
            "FullyConnected",
            &[x.clone(), w.clone(), b.clone()],
            &[("num_hidden", "0")],
        );
        assert!(e.to_string().contains("num_hidden"), "{e}");
        let xi = arr(&[2, 3], &[0i32; 6]);
        let e = err("FullyConnected", &[xi, w, b], &[("num_hidden", "4")]);
        assert!(e.to_string().contains("float"), "{e}");
    }

    /// `cargo test --release --lib fc_timing -- --ignored --nocapture`: forward + backward of
    /// 256x1024 -> 1024 in float32 (the README's reference case; numpy's three GEMMs: 7.2 ms).
    #[test]
    #[ignore]
    fn fc_timing() {
        use crate::op::invoke;
        let (m, k, n) = (256, 1024, 1024);
        let f =
            |len: usize| -> Vec<f32> { (0..len).map(|i| ((i * 7) % 13) as f32 * 0.1).collect() };
        let (x, w, b, dy) = (
            arr(&[m, k], &f(m * k)),
            arr(&[n, k], &f(n * k)),
            arr(&[n], &f(n)),
            arr(&[m, n], &f(m * n)),
        );
        let cfg = super::Cfg {
            op: super::OP,
            num_hidden: n,
            no_bias: false,
            flatten: true,
        };
        let (fwd, bwd) = (super::fc_op(cfg), super::backward_op(cfg, true));
        let step = || {
            let y = invoke(&fwd, &[x.clone(), w.clone(), b.clone()], None, None).unwrap();
            let g = invoke(
                &bwd,
                &[dy.clone(), x.clone(), w.clone(), b.clone()],
                None,
                None,
            )
            .unwrap();
            y[0].wait_to_read().unwrap();
            for a in &g {
                a.wait_to_read().unwrap();
            }
        };
        for _ in 0..5 {
            step();
        }
        let reps = 30;
        let t = std::time::Instant::now();
        for _ in 0..reps {
            step();
        }
        println!(
            "FullyConnected 256x1024->1024 fwd+bwd: {:.2} ms",
            t.elapsed().as_secs_f64() * 1e3 / reps as f64
        );
    }
}
