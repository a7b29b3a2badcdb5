//! Loss heads (`SoftmaxOutput`, `LinearRegressionOutput`, `LogisticRegressionOutput`,
//! `MAERegressionOutput`, `MakeLoss`, `make_loss`) and the scalar losses
//! `softmax_cross_entropy` and `smooth_l1`. A loss head makes its own gradient from its output
//! and label and never reads a head gradient (MXNet reference §5.4); the label gets none.

use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::kernels::cpu::elemwise::{fill, unary};
use crate::kernels::cpu::norm::{softmax, with_real, Real};
use crate::kernels::cpu::{par_ranges, Ptr};
use crate::op::params::param;
use crate::op::{expect_inputs, Desc, FnOp, Inputs, Operator, Registry, SimpleDef};
use crate::shape::Shape;
use crate::with_dtype;
use std::sync::Arc;

fn float_data(op: &str, d: &Desc) -> Result<()> {
    if !d.dtype.is_float() {
        return Err(Error::dtype(
            op,
            format!("expects float16, float32 or float64 data, got {}", d.dtype),
        ));
    }
    Ok(())
}

fn inconsistent(op: &str, given: &Shape, want: &Shape) -> Error {
    Error::shape(
        op,
        format!("Shape inconsistent, Provided = {given}, inferred shape={want}"),
    )
}

/// Label values as f64, any dtype (labels are often integer arrays). Inside an op reading `a`.
fn labels(a: &crate::ndarray::NDArray) -> Vec<f64> {
    with_dtype!(a.dtype(), T, {
        // SAFETY: the calling op reads a.
        unsafe { a.data::<T>() }
            .iter()
            .map(|v| v.to_f64())
            .collect()
    })
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Norm {
    Null,
    Batch,
    Valid,
}

impl Norm {
    fn parse(s: &str) -> Norm {
        match s {
            "batch" => Norm::Batch,
            "valid" => Norm::Valid,
            _ => Norm::Null,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct SoftmaxCfg {
    grad_scale: f64,
    ignore_label: f64,
    multi_output: bool,
    use_ignore: bool,
    preserve_shape: bool,
    norm: Norm,
    out_grad: bool,
    smooth_alpha: f64,
}

impl SoftmaxCfg {
    /// (outer, n, inner): softmax over n.
    fn dims(&self, s: &Shape) -> Result<(usize, usize, usize)> {
        let op = "SoftmaxOutput";
        let d = s.dims();
        if d.is_empty() {
            return Err(Error::shape(
                op,
                "expects data with at least one dimension, got shape []",
            ));
        }
        if self.multi_output {
            if d.len() < 2 {
                return Err(Error::shape(
                    op,
                    format!("multi_output needs data with at least 2 dimensions, got {s}"),
                ));
            }
            Ok((d[0], d[1], d[2..].iter().product()))
        } else if self.preserve_shape {
            Ok((d[..d.len() - 1].iter().product(), d[d.len() - 1], 1))
        } else {
            Ok((d[0], d[1..].iter().product(), 1))
        }
    }

    /// The divisor of normalization='batch': MXNet reads a class label as one row each (all
    /// of them, however the label is shaped) and a multi-output label as a row per sample.
    fn batch_rows(&self, outer: usize, label_size: usize) -> f64 {
        (if self.multi_output { outer } else { label_size }).max(1) as f64
    }

    /// The label shape inferred from data (None where MXNet infers none: 1-D data).
    fn label_shape(&self, s: &Shape) -> Option<Shape> {
        let d = s.dims();
        if self.multi_output {
            if d.len() < 2 || d[1] == 0 {
                return None;
            }
            let sp: usize = d[2..].iter().product();
            Some(Shape::new(vec![d[0], sp]))
        } else if d.len() >= 2 {
            Some(Shape::new(d[..d.len() - 1].to_vec()))
        } else {
            None
        }
    }

    /// Whether `l` is an accepted label shape for data `s`; Some(true) = probabilities.
    fn check_label(&self, s: &Shape, l: &Shape) -> Result<bool> {
        if l == s {
            return Ok(true);
        }
        let d = s.dims();
        let ok = if self.multi_output {
            let sp: Vec<usize> = d.get(2..).unwrap_or(&[]).to_vec();
            let mut l2 = vec![d[0]];
            l2.extend(&sp);
            let mut l3 = d.to_vec();
            if l3.len() > 1 {
                l3[1] = 1;
            }
            Some(l.clone()) == self.label_shape(s) || l.dims() == l2 || l.dims() == l3
        } else if d.len() >= 2 {
            l.dims() == &d[..d.len() - 1]
        } else {
            l.size() >= d[0]
        };
        if ok {
            Ok(false)
        } else {
            Err(inconsistent(
                "SoftmaxOutput",
                l,
                &self.label_shape(s).unwrap_or_else(|| s.clone()),
            ))
        }
    }
}

fn softmax_output(cfg: SoftmaxCfg) -> Arc<dyn Operator> {
    let name = "SoftmaxOutput";
    let mut op = FnOp::new(
        name,
        move |ins| {
            expect_inputs(name, ins, 2)?;
            float_data(name, &ins[0])?;
            cfg.dims(&ins[0].shape)?;
            cfg.check_label(&ins[0].shape, &ins[1].shape)?;
            Ok(vec![ins[0].clone()])
        },
        move |_, ins, outs| {
            let (outer, n, inner) = cfg.dims(ins[0].shape())?;
            with_real!(name, ins[0].dtype(), T, C, {
                // SAFETY: inside the op; the output is fresh.
                let (x, y) = unsafe { (ins[0].data::<T>(), Ptr(outs[0].raw() as *mut T)) };
                softmax::<T, T, C>(x, y, outer, n, inner, C::ONE, false);
            });
            Ok(())
        },
    )
    .with_shape_partial(move |ins, _| {
        if let (Some(d), None) = (&ins[0], &ins[1]) {
            ins[1] = cfg.label_shape(d);
        }
        Ok(())
    })
    .with_grad(move |g, a| {
        let bname = "_backward_SoftmaxOutput";
        let bwd = FnOp::new(
            bname,
            |ins| Ok(vec![ins[0].clone()]),
            move |_, ins, outs| {
                let (p, l) = (&ins[0], &ins[1]);
                let prob = cfg.check_label(p.shape(), l.shape())?;
                let (outer, n, inner) = cfg.dims(p.shape())?;
                let lab = labels(l);
                with_real!(bname, p.dtype(), T, C, {
                    // SAFETY: inside the op; dx is fresh.
                    let (ps, dx) = unsafe { (p.data::<T>(), outs[0].data_mut::<T>()) };
                    softmax_output_grad::<T, C>(&cfg, ps, &lab, dx, prob, outer, n, inner);
                });
                Ok(())
            },
        );
        #[cfg(feature = "cuda")]
        let bwd = bwd.with_cuda(Some(cuda::softmax_output_backward(cfg)));
        let bwd = bwd.arc();
        let dx = g.apply(bwd, &[a.outputs[0].clone(), a.inputs[1].clone()]);
        Ok(vec![dx.into_iter().next(), None])
    });
    op.loss = true;
    #[cfg(feature = "cuda")]
    let op = op.with_cuda(Some(cuda::softmax_forward(cfg)));
    op.arc()
}

#[cfg(feature = "cuda")]
pub const CUDA_MODULE: &str = "loss";

/// Softmax over the middle axis of (outer, n, inner), one thread per (outer, inner) cell, and
/// SoftmaxOutput's gradient for class labels, as `softmax_output_grad` computes it.
#[cfg(feature = "cuda")]
pub fn cuda_source() -> String {
    use crate::kernels::cuda::{kernel_name, module_source, storage_type};
    module_source("", |dt| {
        let s = storage_type(dt);
        format!(
            r#"
extern "C" __global__ void {fwd}(const {s}* x, {s}* y, u64 outer, u64 n, u64 inner) {{
  typedef IO<{s}>::C C;
  OX_LOOP(c, outer * inner) {{
    const u64 base = (c / inner) * n * inner + c % inner;
    C m = IO<{s}>::ld(x[base]);
    for (u64 j = 1; j < n; ++j) {{ const C v = IO<{s}>::ld(x[base + j * inner]); m = v > m ? v : m; }}
    C sum = (C)0;
    for (u64 j = 0; j < n; ++j) sum += exp(IO<{s}>::ld(x[base + j * inner]) - m);
    for (u64 j = 0; j < n; ++j) y[base + j * inner] = IO<{s}>::st(exp(IO<{s}>::ld(x[base + j * inner]) - m) / sum);
  }}
}}
extern "C" __global__ void {bwd}(const {s}* p, const {s}* lab, {s}* dx, u64 outer, u64 n,
                                  u64 inner, double scale_, double on_, double off_,
                                  int use_ignore, double ignore_, int out_grad) {{
  typedef IO<{s}>::C C;
  const C scale = (C)scale_, on = (C)on_, off = (C)off_;
  OX_LOOP(c, outer * inner) {{
    const u64 base = (c / inner) * n * inner + c % inner;
    const double l = (double)IO<{s}>::ld(lab[c]);
    const bool ignored = use_ignore && l == ignore_;
    const double t = trunc(l);
    const long long li = (t >= 0.0 && t < (double)n) ? (long long)t : -1;
    for (u64 j = 0; j < n; ++j) {{
      const C pv = IO<{s}>::ld(p[base + j * inner]);
      C v = (C)0;
      if (!ignored) {{
        v = (pv - ((long long)j == li ? on : off)) * scale;
        if (out_grad) v = v * pv;
      }}
      dx[base + j * inner] = IO<{s}>::st(v);
    }}
  }}
}}
"#,
            fwd = kernel_name("softmax_fwd", dt),
            bwd = kernel_name("softmax_output_bwd", dt),
        )
    })
}

#[cfg(feature = "cuda")]
mod cuda {
    use super::{cuda_source, Norm, SoftmaxCfg, CUDA_MODULE};
    use crate::kernels::cuda::{dptr, run_kernel, Arg, CudaFn, FLOATS};

    pub fn softmax_forward(cfg: SoftmaxCfg) -> CudaFn {
        Box::new(move |dev, _, ins, outs| {
            let dt = ins[0].dtype();
            if !FLOATS.contains(&dt) {
                return Ok(false);
            }
            let (outer, n, inner) = cfg.dims(ins[0].shape())?;
            let args = [
                Arg::U(dptr(&ins[0])),
                Arg::U(dptr(&outs[0])),
                Arg::U(outer as u64),
                Arg::U(n as u64),
                Arg::U(inner as u64),
            ];
            run_kernel(
                dev,
                CUDA_MODULE,
                cuda_source,
                "softmax_fwd",
                dt,
                outer * inner,
                &args,
            )?;
            Ok(true)
        })
    }

    /// Class labels of the data's dtype with a batch or no normalisation; probability labels
    /// and 'valid' (which counts labels) take the host path.
    pub fn softmax_output_backward(cfg: SoftmaxCfg) -> CudaFn {
        Box::new(move |dev, _, ins, outs| {
            let (p, l) = (&ins[0], &ins[1]);
            let dt = p.dtype();
            let (outer, n, inner) = cfg.dims(p.shape())?;
            if !FLOATS.contains(&dt)
                || l.dtype() != dt
                || cfg.check_label(p.shape(), l.shape())?
                || cfg.norm == Norm::Valid
                || l.size() < outer * inner
            {
                return Ok(false);
            }
            let norm = match cfg.norm {
                Norm::Batch => cfg.batch_rows(outer, l.size()),
                _ => 1.0,
            };
            let spatial = if cfg.multi_output {
                inner.max(1) as f64
            } else {
                1.0
            };
            let alpha = cfg.smooth_alpha;
            let off = if n > 1 { alpha / (n - 1) as f64 } else { 0.0 };
            let args = [
                Arg::U(dptr(p)),
                Arg::U(dptr(l)),
                Arg::U(dptr(&outs[0])),
                Arg::U(outer as u64),
                Arg::U(n as u64),
                Arg::U(inner as u64),
                Arg::F(cfg.grad_scale / norm / spatial),
                Arg::F(1.0 - alpha),
                Arg::F(off),
                Arg::I(i32::from(cfg.use_ignore)),
                Arg::F(cfg.ignore_label),
                Arg::I(i32::from(cfg.out_grad)),
            ];
            let cells = outer * inner;
            run_kernel(
                dev,
                CUDA_MODULE,
                cuda_source,
                "softmax_output_bwd",
                dt,
                cells,
                &args,
            )?;
            Ok(true)
        })
    }
}

#[allow(clippy::too_many_arguments)]
fn softmax_output_grad<T: Element, C: Real>(
    cfg: &SoftmaxCfg,
    p: &[T],
    lab: &[f64],
    dx: &mut [T],
    prob: bool,
    outer: usize,
    n: usize,
    inner: usize,
) {
    let gs = cfg.grad_scale;
    if prob {
        for ((d, &pv), &l) in dx.iter_mut().zip(p).zip(lab) {
            let mut v = (pv.to_f64() - l) * gs;
            if cfg.out_grad {
                v *= pv.to_f64();
            }
            *d = T::from_f64(v);
        }
        return;
    }
    let norm = match cfg.norm {
        Norm::Null => 1.0,
        Norm::Batch => cfg.batch_rows(outer, lab.len()),
        // every label counts, as in the batch divisor, however many rows the data has
        Norm::Valid => lab
            .iter()
            .filter(|&&l| l != cfg.ignore_label)
            .count()
            .max(1) as f64,
    };
    // In multi_output mode the non-'valid' normalisations also average over positions.
    let spatial = if cfg.multi_output && cfg.norm != Norm::Valid {
        inner.max(1) as f64
    } else {
        1.0
    };
    let scale = C::c(gs / norm / spatial);
    let alpha = cfg.smooth_alpha;
    let off = if n > 1 { alpha / (n - 1) as f64 } else { 0.0 };
    let (on, off) = (C::c(1.0 - alpha), C::c(off));
    let pd = Ptr(dx.as_mut_ptr());
    par_ranges(outer, n * inner * 2, |b, e| {
        for o in b..e {
            for i in 0..inner {
                let l = lab.get(o * inner + i).copied().unwrap_or(-1.0);
                let ignored = cfg.use_ignore && l == cfg.ignore_label;
                // MXNet casts the label to int (toward zero: -0.3 is class 0).
                let t = l.trunc();
                let li = if t >= 0.0 && t < n as f64 {
                    t as usize
                } else {
                    usize::MAX
                };
                for j in 0..n {
                    let at = (o * n + j) * inner + i;
                    let pv = C::of(p[at]);
                    let v = if ignored {
                        C::ZERO
                    } else {
                        let t = if j == li { on } else { off };
                        let mut v = (pv - t) * scale;
                        if cfg.out_grad {
                            v = v * pv;
                        }
                        v
                    };
                    // SAFETY: element at belongs to row o of this task.
                    unsafe { *pd.get().add(at) = v.to() };
                }
            }
        }
    });
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Reg {
    Linear,
    Logistic,
    Mae,
}

fn regression(name: &'static str, kind: Reg, grad_scale: f64) -> Arc<dyn Operator> {
    let check = move |d: &Shape, l: &Shape| -> Result<()> {
        let first = |s: &Shape| s.dims().first().copied();
        if first(l) != first(d) || l.size() != d.size() {
            let want = if d.ndim() == 2 && d[1] == 1 {
                Shape::new(vec![d[0]])
            } else {
                d.clone()
            };
            return Err(inconsistent(name, l, &want));
        }
        Ok(())
    };
    let mut op = FnOp::new(
        name,
        move |ins| {
            expect_inputs(name, ins, 2)?;
            float_data(name, &ins[0])?;
            check(&ins[0].shape, &ins[1].shape)?;
            Ok(vec![ins[0].clone()])
        },
        move |_, ins, outs| {
            with_real!(name, ins[0].dtype(), T, C, {
                match kind {
                    Reg::Logistic => unary::<T, T>(&ins[0], &outs[0], |v| {
                        (C::ONE / (C::ONE + (-C::of(v)).fexp())).to()
                    }),
                    _ => unary::<T, T>(&ins[0], &outs[0], |v| v),
                }
            });
            Ok(())
        },
    )
    .with_shape_partial(|ins, _| {
        if let (Some(d), None) = (&ins[0], &ins[1]) {
            ins[1] = Some(if d.ndim() == 2 && d[1] == 1 {
                Shape::new(vec![d[0]])
            } else {
                d.clone()
            });
        }
        Ok(())
    })
    .with_grad(move |g, a| {
        let bname = "_backward_RegressionOutput";
        let bwd = FnOp::new(
            bname,
            |ins| Ok(vec![ins[0].clone()]),
            move |_, ins, outs| {
                let (y, l) = (&ins[0], &ins[1]);
                // Per-sample elements: the gradient is averaged over them.
                let k = match l.shape().dims().first() {
                    Some(&n) if n > 0 => (l.size() / n).max(1) as f64,
                    _ => 1.0,
                };
                let lab = labels(l);
                let s = grad_scale / k;
                with_real!(bname, y.dtype(), T, C, {
                    // SAFETY: inside the op; dx is fresh.
                    let (ys, dx) = unsafe { (y.data::<T>(), outs[0].data_mut::<T>()) };
                    for ((d, &yv), &lv) in dx.iter_mut().zip(ys).zip(&lab) {
                        let diff = C::of(yv).f64() - lv;
                        let v = match kind {
                            // MXNet's sign here maps 0 to -1.
                            Reg::Mae => {
                                if diff > 0.0 {
                                    1.0
                                } else {
                                    -1.0
                                }
                            }
                            _ => diff,
                        };
                        *d = T::from_f64(v * s);
                    }
                });
                Ok(())
            },
        )
        .arc();
        let dx = g.apply(bwd, &[a.outputs[0].clone(), a.inputs[1].clone()]);
        Ok(vec![dx.into_iter().next(), None])
    });
    op.loss = true;
    op.inplace = true;
    op.arc()
}

/// `MakeLoss` (grad_scale, normalization) and `make_loss` (output named `loss`).
fn make_loss(
    name: &'static str,
    grad_scale: f64,
    norm: Norm,
    valid_thresh: f64,
) -> Arc<dyn Operator> {
    let mut op = FnOp::new(
        name,
        move |ins| {
            expect_inputs(name, ins, 1)?;
            Ok(vec![ins[0].clone()])
        },
        move |_, ins, outs| {
            with_dtype!(ins[0].dtype(), T, {
                unary::<T, T>(&ins[0], &outs[0], |v| v);
            });
            Ok(())
        },
    )
    .with_grad(move |g, a| {
        let bname = "_backward_MakeLoss";
        let bwd = FnOp::new(
            bname,
            |ins| Ok(vec![ins[0].clone()]),
            move |_, ins, outs| {
                let x = &ins[0];
                let d = match norm {
                    Norm::Null => 1.0,
                    // MXNet flattens to 2-D (every axis but the last, then the last) and
                    // divides by the rows: a 1-D loss is not divided, (N, A, B) by N * A.
                    Norm::Batch => {
                        let d = x.shape().dims();
                        d[..d.len().saturating_sub(1)]
                            .iter()
                            .product::<usize>()
                            .max(1) as f64
                    }
                    Norm::Valid => labels(x)
                        .iter()
                        .filter(|&&v| v > valid_thresh)
                        .count()
                        .max(1) as f64,
                };
                with_dtype!(outs[0].dtype(), T, {
                    fill::<T>(&outs[0], T::from_f64(grad_scale / d));
                });
                Ok(())
            },
        )
        .arc();
        let dx = g.apply(bwd, &[a.inputs[0].clone()]);
        Ok(vec![dx.into_iter().next()])
    });
    op.loss = true;
    op.inplace = true;
    if name == "make_loss" {
        op.output_names = Some(vec!["loss".into()]);
    }
    op.arc()
}

fn softmax_cross_entropy() -> Arc<dyn Operator> {
    let name = "softmax_cross_entropy";
    let check = |d: &Shape, l: &Shape| -> Result<()> {
        if d.ndim() != 2 {
            return Err(Error::shape(
                name,
                format!("SoftmaxCrossEntropy only accept 2D data, got {d}"),
            ));
        }
        if l.ndim() != 1 {
            return Err(Error::shape(
                name,
                format!("SoftmaxCrossEntropy only accept 1D label, got {l}"),
            ));
        }
        if l[0] != d[0] {
            return Err(Error::shape(
                name,
                format!(
                    "The label's length ({}) must equal the batch size of data {d}",
                    l[0]
                ),
            ));
        }
        Ok(())
    };
    // Row-wise softmax probabilities of the label classes; out-of-range labels are an error
    // raised at the next wait rather than a read past the row.
    fn picks<T: Element, C: Real>(
        x: &[T],
        lab: &[f64],
        n: usize,
        k: usize,
    ) -> Result<(Vec<T>, Vec<usize>)> {
        let mut p = vec![T::default(); n * k];
        softmax::<T, T, C>(x, Ptr(p.as_mut_ptr()), n, k, 1, C::ONE, false);
        let idx = lab
            .iter()
            .map(|&l| {
                if l >= 0.0 && (l as usize) < k {
                    Ok(l as usize)
                } else {
                    Err(Error::Value(format!(
                        "softmax_cross_entropy: label {l} is out of range for {k} classes"
                    )))
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((p, idx))
    }
    FnOp::new(
        name,
        move |ins| {
            expect_inputs(name, ins, 2)?;
            float_data(name, &ins[0])?;
            check(&ins[0].shape, &ins[1].shape)?;
            Ok(vec![Desc::new(vec![1], ins[0].dtype)])
        },
        move |_, ins, outs| {
            let (n, k) = (ins[0].shape()[0], ins[0].shape()[1]);
            let lab = labels(&ins[1]);
            with_real!(name, ins[0].dtype(), T, C, {
                // SAFETY: inside the op reading data.
                let (p, idx) = picks::<T, C>(unsafe { ins[0].data::<T>() }, &lab, n, k)?;
                let loss: f64 = idx
                    .iter()
                    .enumerate()
                    .map(|(r, &j)| -p[r * k + j].to_f64().ln())
                    .sum();
                // SAFETY: the output is fresh.
                unsafe { outs[0].data_mut::<T>()[0] = T::from_f64(loss) };
            });
            Ok(())
        },
    )
    .with_grad(move |g, a| {
        let bname = "_backward_softmax_cross_entropy";
        let bwd = FnOp::new(
            bname,
            |ins| Ok(vec![ins[1].clone()]),
            move |_, ins, outs| {
                let (og, x, l) = (&ins[0], &ins[1], &ins[2]);
                let (n, k) = (x.shape()[0], x.shape()[1]);
                let lab = labels(l);
                with_real!(bname, x.dtype(), T, C, {
                    // SAFETY: inside the op; dx is fresh.
                    let (xs, g0, dx) =
                        unsafe { (x.data::<T>(), og.data::<T>()[0], outs[0].data_mut::<T>()) };
                    let (p, idx) = picks::<T, C>(xs, &lab, n, k)?;
                    let g0 = C::of(g0);
                    for r in 0..n {
                        for j in 0..k {
                            let t = if j == idx[r] { C::ONE } else { C::ZERO };
                            dx[r * k + j] = ((C::of(p[r * k + j]) - t) * g0).to();
                        }
                    }
                });
                Ok(())
            },
        )
        .arc();
        let dx = g.apply(
            bwd,
            &[
                a.out_grads[0].clone(),
                a.inputs[0].clone(),
                a.inputs[1].clone(),
            ],
        );
        Ok(vec![dx.into_iter().next(), None])
    })
    .arc()
}

fn smooth_l1(sigma: f64) -> Arc<dyn Operator> {
    let name = "smooth_l1";
    let s2 = sigma * sigma;
    let mut op = FnOp::new(
        name,
        move |ins| {
            expect_inputs(name, ins, 1)?;
            Ok(vec![ins[0].clone()])
        },
        move |_, ins, outs| {
            if !ins[0].dtype().is_float() {
                // integers go through double and are cast back, as MXNet's kernel does
                let th = 1.0 / s2;
                crate::op::special::map_f64(&ins[0], &outs[0], move |x| {
                    if x > th {
                        x - 0.5 * th
                    } else if x < -th {
                        -x - 0.5 * th
                    } else {
                        0.5 * s2 * x * x
                    }
                });
                return Ok(());
            }
            with_real!(name, ins[0].dtype(), T, C, {
                let (s2, th, h) = (C::c(s2), C::c(1.0 / s2), C::c(0.5 / s2));
                // MXNet's branch order: NaN data or sigma, and 0 with an infinite
                // sigma, fall through to the quadratic and give NaN.
                unary::<T, T>(&ins[0], &outs[0], move |v| {
                    let x = C::of(v);
                    (if x > th {
                        x - h
                    } else if x < -th {
                        -x - h
                    } else {
                        C::c(0.5) * s2 * x * x
                    })
                    .to()
                });
            });
            Ok(())
        },
    )
    .with_grad(move |g, a| {
        let bname = "_backward_smooth_l1";
        let mut bwd = FnOp::new(
            bname,
            |ins| Ok(vec![ins[1].clone()]),
            move |_, ins, outs| {
                with_real!(bname, ins[1].dtype(), T, C, {
                    let (s2c, th) = (C::c(s2), C::c(1.0 / s2));
                    crate::kernels::cpu::elemwise::binary::<T>(
                        &ins[0],
                        &ins[1],
                        &outs[0],
                        move |g, v| {
                            let x = C::of(v);
                            let d = if x > th {
                                C::ONE
                            } else if x < -th {
                                -C::ONE
                            } else {
                                s2c * x
                            };
                            (C::of(g) * d).to()
                        },
                    );
                });
                Ok(())
            },
        );
        bwd.inplace = true;
        let dx = g.apply(bwd.arc(), &[a.out_grads[0].clone(), a.inputs[0].clone()]);
        Ok(vec![dx.into_iter().next()])
    });
    op.inplace = true;
    op.arc()
}

pub fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: "SoftmaxOutput",
        doc: "Computes the gradient of cross entropy loss with respect to softmax output.\n\nForward: softmax of the data flattened to (batch, rest) (over axis 1 with multi_output, over the last axis with preserve_shape). Backward (a loss head, independent of any head gradient): (softmax - onehot(label)) * grad_scale / normalization; a label of the data's shape is taken as probabilities.".into(),
        params: vec![
            param("grad_scale", "float, optional", Some("1"), "Scales the gradient by a float factor."),
            param("ignore_label", "float, optional", Some("-1"), "The instances whose `labels` == `ignore_label` will be ignored during backward, if `use_ignore` is set to ``true``)."),
            param("multi_output", "boolean, optional", Some("0"), "If set to ``true``, the softmax function will be computed along axis ``1``. This is applied when the shape of input array differs from the shape of label array."),
            param("use_ignore", "boolean, optional", Some("0"), "If set to ``true``, the `ignore_label` value will not contribute to the backward gradient."),
            param("preserve_shape", "boolean, optional", Some("0"), "If set to ``true``, the softmax function will be computed along the last axis (``-1``)."),
            param("normalization", "{'batch', 'null', 'valid'},optional", Some("'null'"), "Normalizes the gradient."),
            param("out_grad", "boolean, optional", Some("0"), "Multiplies gradient with output gradient element-wise."),
            param("smooth_alpha", "float, optional", Some("0"), "Constant for computing a label smoothed version of cross-entropyfor the backwards pass.  This constant gets subtracted from theone-hot encoding of the gold label and distributed uniformly toall other labels."),
        ],
        inputs: Inputs::Fixed(&["data", "label"]),
        create: Box::new(|p| {
            Ok(softmax_output(SoftmaxCfg {
                grad_scale: p.float("grad_scale")?,
                ignore_label: p.float("ignore_label")?,
                multi_output: p.bool("multi_output")?,
                use_ignore: p.bool("use_ignore")?,
                preserve_shape: p.bool("preserve_shape")?,
                norm: Norm::parse(p.choice("normalization", &["batch", "null", "valid"])?),
                out_grad: p.bool("out_grad")?,
                smooth_alpha: p.float("smooth_alpha")?,
            }))
        }),
    });
    r.alias("Softmax", "SoftmaxOutput");
    for (name, kind, doc) in [
        ("LinearRegressionOutput", Reg::Linear, "Computes and optimizes for squared loss during backward propagation. Just outputs ``data`` during forward propagation. The gradient is (data - label) * grad_scale / m, m the number of label elements per sample."),
        ("LogisticRegressionOutput", Reg::Logistic, "Applies a logistic function to the input. Backward: (sigmoid(data) - label) * grad_scale / m, m the number of label elements per sample."),
        ("MAERegressionOutput", Reg::Mae, "Computes mean absolute error of the input. Just outputs ``data`` during forward; backward: sign(data - label) * grad_scale / m, m the number of label elements per sample."),
    ] {
        r.add(SimpleDef {
            name,
            doc: doc.into(),
            params: vec![param("grad_scale", "float, optional", Some("1"), "Scale the gradient by a float factor")],
            inputs: Inputs::Fixed(&["data", "label"]),
            create: Box::new(move |p| Ok(regression(name, kind, p.float("grad_scale")?))),
        });
    }
    r.add(SimpleDef {
        name: "MakeLoss",
        doc: "Make your own loss function in network construction. Outputs ``data`` in forward; its gradient is grad_scale (divided by the batch size, or by the number of elements above valid_thresh, per normalization), whatever the head gradient. As in MXNet, the batch size is the product of all axes but the last: a 1-D loss is not divided.".into(),
        params: vec![
            param("grad_scale", "float, optional", Some("1"), "Gradient scale as a supplement to unary and binary operators"),
            param("valid_thresh", "float, optional", Some("0"), "clip each element in the array to 0 when it is less than ``valid_thresh``. This is used when ``normalization`` is set to ``'valid'``."),
            param("normalization", "{'batch', 'null', 'valid'},optional", Some("'null'"), "If this is set to null, the output gradient will not be normalized. If this is set to batch, the output gradient will be divided by the batch size. If this is set to valid, the output gradient will be divided by the number of valid input elements."),
        ],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| {
            let norm = Norm::parse(p.choice("normalization", &["batch", "null", "valid"])?);
            Ok(make_loss("MakeLoss", p.float("grad_scale")?, norm, p.float("valid_thresh")?))
        }),
    });
    r.add(SimpleDef {
        name: "make_loss",
        doc: "Make your own loss function in network construction: outputs ``data``; the gradient is ones whatever the head gradient.".into(),
        params: vec![],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|_| Ok(make_loss("make_loss", 1.0, Norm::Null, 0.0))),
    });
    r.add(SimpleDef {
        name: "softmax_cross_entropy",
        doc: "Calculate cross entropy of softmax output and one-hot label: the sum over the batch of -log(softmax(data)[label]), shape (1,).".into(),
        params: vec![],
        inputs: Inputs::Fixed(&["data", "label"]),
        create: Box::new(|_| Ok(softmax_cross_entropy())),
    });
    r.add(SimpleDef {
        name: "smooth_l1",
        doc: "Calculate Smooth L1 Loss(lhs, scalar) by summing\n\nf(x) = 0.5 * (sigma * x)^2 if |x| < 1/sigma^2, else |x| - 0.5/sigma^2, with sigma = scalar.".into(),
        params: vec![param("scalar", "double", Some("1.0"), "scalar input")],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| Ok(smooth_l1(p.float("scalar")?))),
    });
}

/// Test helper: gradients of each input of op `name` (None where none flows), with head
/// gradients `head` (None for loss heads), evaluated together so a backward node runs once.
#[cfg(test)]
pub(crate) fn op_grads(
    name: &str,
    attrs: &[(&str, &str)],
    inputs: &[crate::ndarray::NDArray],
    head: Option<&[crate::ndarray::NDArray]>,
    is_train: bool,
) -> Vec<Option<crate::ndarray::NDArray>> {
    use crate::graph::{eval::evaluate, gradient, Entry, Node};
    let prev = crate::autograd::set_training(is_train);
    let attrs: Vec<(String, String)> = attrs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let op = crate::op::registry()
        .get(name)
        .unwrap()
        .create(&attrs)
        .unwrap();
    let entries: Vec<Entry> = inputs
        .iter()
        .map(|a| Node::leaf(a.clone(), None).entry(0))
        .collect();
    let fwd = crate::op::invoke(&op, inputs, None, None).unwrap();
    let node = Node::from_op(op.clone(), name, attrs, entries.clone(), Some(fwd));
    let vis = op.num_visible_outputs();
    let heads: Vec<Entry> = (0..vis).map(|k| node.entry(k)).collect();
    let hg: Vec<Option<Entry>> = match head {
        Some(h) => h
            .iter()
            .map(|a| Some(Node::leaf(a.clone(), None).entry(0)))
            .collect(),
        None => vec![None; vis],
    };
    let g = gradient(&heads, &hg, &entries).unwrap();
    let some: Vec<Entry> = g.iter().flatten().cloned().collect();
    let mut vals = evaluate(&some, is_train).unwrap().into_iter();
    let out = g
        .iter()
        .map(|e| e.as_ref().and_then(|_| vals.next()))
        .collect();
    crate::autograd::set_training(prev);
    out
}

#[cfg(test)]
mod tests {
    use super::op_grads;
    use crate::ndarray::NDArray;
    use crate::op::call_str;
    use crate::op::test_util::{arr, check_grad, err, f32s, rand64, run};

    fn close(a: &[f32], b: &[f64], tol: f64) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (*x as f64 - y).abs() <= tol)
    }

    fn data(shape: &[usize]) -> NDArray {
        let n: usize = shape.iter().product();
        arr(shape, &(0..n).map(|i| i as f32 / 10.0).collect::<Vec<_>>())
    }

    fn loss_grad(op: &str, attrs: &[(&str, &str)], x: &NDArray, l: &NDArray) -> Vec<f32> {
        let g = op_grads(op, attrs, &[x.clone(), l.clone()], None, true);
        assert!(g[1].is_none(), "{op}: the label gets no gradient");
        f32s(g[0].as_ref().unwrap())
    }

    #[test]
    fn softmax_output_reference_numbers() {
        // Reference §5.4: data arange(6).reshape(2,3)/10, labels [0, 2].
        let (x, l) = (data(&[2, 3]), arr(&[2], &[0.0f32, 2.0]));
        let base = [-0.6994, 0.3322, 0.3672, 0.3006, 0.3322, -0.6328];
        let y = run("SoftmaxOutput", &[x.clone(), l.clone()], &[]);
        let r = [0.30060962, 0.332225, 0.3671654];
        assert!(close(&f32s(&y), &[r, r].concat(), 1e-6));
        assert!(close(&loss_grad("SoftmaxOutput", &[], &x, &l), &base, 1e-4));
        let scaled: Vec<f64> = base.iter().map(|v| v * 2.0).collect();
        assert!(close(
            &loss_grad("SoftmaxOutput", &[("grad_scale", "2")], &x, &l),
            &scaled,
            2e-4
        ));
        let half: Vec<f64> = base.iter().map(|v| v / 2.0).collect();
        assert!(close(
            &loss_grad("SoftmaxOutput", &[("normalization", "batch")], &x, &l),
            &half,
            1e-4
        ));
        assert!(close(
            &loss_grad("SoftmaxOutput", &[("normalization", "valid")], &x, &l),
            &half,
            1e-4
        ));
        let ign = [-0.6994, 0.3322, 0.3672, 0.0, 0.0, 0.0];
        let a = [
            ("use_ignore", "True"),
            ("ignore_label", "2"),
            ("normalization", "valid"),
        ];
        assert!(close(&loss_grad("SoftmaxOutput", &a, &x, &l), &ign, 1e-4));
        // The alias.
        assert!(close(&loss_grad("Softmax", &[], &x, &l), &base, 1e-4));
        // Integer labels work too.
        let li = arr(&[2], &[0i32, 2]);
        assert!(close(
            &loss_grad("SoftmaxOutput", &[], &x, &li),
            &base,
            1e-4
        ));
    }

    #[test]
    fn softmax_output_modes_match_mxnet() {
        // All numbers printed by MXNet 1.9.1.
        let x = data(&[2, 3, 2]);
        let l = arr(&[2, 3], &[0.0f32, 1.0, 1.0, 1.0, 0.0, 0.0]);
        let g = loss_grad("SoftmaxOutput", &[], &x, &l);
        let want = [
            -0.8721, 0.1414, 0.1562, 0.1727, 0.1908, 0.2109, 0.1279, -0.8586, 0.1562, 0.1727,
            0.1908, 0.2109,
        ];
        assert!(close(&g, &want, 1e-4), "{g:?}");
        let g = loss_grad("SoftmaxOutput", &[("preserve_shape", "True")], &x, &l);
        let want = [
            -0.525, 0.525, 0.475, -0.475, 0.475, -0.475, 0.475, -0.475, -0.525, 0.525, -0.525,
            0.525,
        ];
        assert!(close(&g, &want, 1e-4), "{g:?}");
        let lm = arr(&[2, 2], &[0.0f32, 1.0, 2.0, 0.0]);
        let mo = |extra: &[(&'static str, &'static str)]| {
            let mut a = vec![("multi_output", "True")];
            a.extend_from_slice(extra);
            loss_grad("SoftmaxOutput", &a, &x, &lm)
        };
        let want = [
            -0.3653, 0.1347, 0.1645, -0.3355, 0.2009, 0.2009, 0.1347, -0.3653, 0.1645, 0.1645,
            -0.2991, 0.2009,
        ];
        assert!(close(&mo(&[]), &want, 1e-4));
        let half: Vec<f64> = want.iter().map(|v| v / 2.0).collect();
        assert!(close(&mo(&[("normalization", "batch")]), &half, 1e-4));
        let want = [
            -0.2436, 0.0898, 0.1096, -0.2237, 0.1339, 0.1339, 0.0, -0.2436, 0.0, 0.1096, 0.0,
            0.1339,
        ];
        assert!(close(
            &mo(&[
                ("normalization", "valid"),
                ("use_ignore", "True"),
                ("ignore_label", "2")
            ]),
            &want,
            1e-4
        ));
        let (x2, l2) = (data(&[2, 3]), arr(&[2], &[0.0f32, 2.0]));
        let g = loss_grad("SoftmaxOutput", &[("smooth_alpha", "0.3")], &x2, &l2);
        assert!(
            close(
                &g,
                &[-0.3994, 0.1822, 0.2172, 0.1506, 0.1822, -0.3328],
                1e-4
            ),
            "{g:?}"
        );
        let lp = arr(&[2, 3], &[0.2f32, 0.3, 0.5, 1.0, 0.0, 0.0]);
        let g = loss_grad(
            "SoftmaxOutput",
            &[("grad_scale", "2"), ("normalization", "batch")],
            &x2,
            &lp,
        );
        assert!(
            close(
                &g,
                &[0.2012, 0.0644, -0.2657, -1.3988, 0.6644, 0.7343],
                1e-4
            ),
            "{g:?}"
        );
        // Out-of-range and unignored -1 labels subtract nothing.
        let g = loss_grad("SoftmaxOutput", &[], &x2, &arr(&[2], &[0.0f32, 5.0]));
        assert!(close(
            &g,
            &[-0.6994, 0.3322, 0.3672, 0.3006, 0.3322, 0.3672],
            1e-4
        ));
        // out_grad multiplies by the output (reference §5.4 edge): p=[0.731,0.269], label 0.
        let xo = arr(&[1, 2], &[1.0f32, 0.0]);
        let g = loss_grad(
            "SoftmaxOutput",
            &[("out_grad", "True")],
            &xo,
            &arr(&[1], &[0.0f32]),
        );
        assert!(close(&g, &[-0.1966, 0.0723], 1e-4), "{g:?}");
    }

    #[test]
    fn softmax_output_label_shape_errors() {
        let x = data(&[2, 3]);
        let e = err("SoftmaxOutput", &[x.clone(), arr(&[3], &[0.0f32; 3])], &[]).to_string();
        assert!(
            e.contains("Shape inconsistent") && e.contains("[3]") || e.contains("(3,)"),
            "{e}"
        );
        let e = err(
            "SoftmaxOutput",
            &[data(&[2, 3, 4]), arr(&[2], &[0.0f32; 2])],
            &[],
        )
        .to_string();
        assert!(e.contains("Shape inconsistent"), "{e}");
        assert!(call_str("SoftmaxOutput", std::slice::from_ref(&x), &[]).is_err());
        assert!(err(
            "SoftmaxOutput",
            &[x.clone(), arr(&[2], &[0.0f32; 2])],
            &[("normalization", "all")]
        )
        .to_string()
        .contains("normalization"));
        for l in [
            vec![2usize, 4, 5],
            vec![2, 20],
            vec![2, 1, 4, 5],
            vec![2, 3, 4, 5],
        ] {
            let n: usize = l.iter().product();
            let la = arr(&l, &vec![0.0f32; n]);
            assert!(
                call_str(
                    "SoftmaxOutput",
                    &[data(&[2, 3, 4, 5]), la],
                    &[("multi_output", "True")]
                )
                .is_ok(),
                "{l:?}"
            );
        }
    }

    #[test]
    fn regression_outputs_match_mxnet() {
        let x = arr(&[2, 3], &(0..6).map(|i| i as f32).collect::<Vec<_>>());
        let l = arr(&[2, 3], &[1.0f32; 6]);
        // Reference §5.4: LRO dX = [-1/3, 0, 1/3, 2/3, 1, 4/3].
        let third = 1.0 / 3.0;
        let g = loss_grad("LinearRegressionOutput", &[], &x, &l);
        assert!(close(
            &g,
            &[-third, 0.0, third, 2.0 * third, 1.0, 4.0 * third],
            1e-6
        ));
        let g = loss_grad("LinearRegressionOutput", &[("grad_scale", "0.5")], &x, &l);
        assert!(close(
            &g,
            &[-0.1667, 0.0, 0.1667, 0.3333, 0.5, 0.6667],
            1e-4
        ));
        let y = run("LogisticRegressionOutput", &[x.clone(), l.clone()], &[]);
        assert!(close(
            &f32s(&y),
            &[0.5, 0.7311, 0.8808, 0.9526, 0.982, 0.9933],
            1e-4
        ));
        let g = loss_grad("LogisticRegressionOutput", &[("grad_scale", "0.5")], &x, &l);
        assert!(
            close(
                &g,
                &[-0.0833, -0.0448, -0.0199, -0.0079, -0.003, -0.0011],
                1e-4
            ),
            "{g:?}"
        );
        let g = loss_grad("MAERegressionOutput", &[("grad_scale", "0.5")], &x, &l);
        assert!(
            close(
                &g,
                &[-0.1667, -0.1667, 0.1667, 0.1667, 0.1667, 0.1667],
                1e-4
            ),
            "{g:?}"
        );
        // Reference §5.4 single-row examples.
        let x1 = arr(&[1, 3], &[-1.0f32, 1.0, 2.0]);
        let l1 = arr(&[1, 3], &[0.0f32, 1.0, 1.0]);
        let g = loss_grad("LogisticRegressionOutput", &[], &x1, &l1);
        assert!(close(&g, &[0.0896, -0.0896, -0.0397], 1e-4), "{g:?}");
        let g = loss_grad(
            "MAERegressionOutput",
            &[],
            &x1,
            &arr(&[1, 3], &[0.0f32, 2.0, 1.0]),
        );
        assert!(
            close(&g, &[-1.0 / 3.0, -1.0 / 3.0, 1.0 / 3.0], 1e-6),
            "{g:?}"
        );
        // (n, 1) data takes an (n,) label; wrong sizes are refused.
        let xc = arr(&[3, 1], &[1.0f32, 2.0, 3.0]);
        let g = loss_grad("LinearRegressionOutput", &[], &xc, &arr(&[3], &[0.0f32; 3]));
        assert!(close(&g, &[1.0, 2.0, 3.0], 1e-6));
        let e = err(
            "LinearRegressionOutput",
            &[x.clone(), arr(&[2], &[0.0f32; 2])],
            &[],
        )
        .to_string();
        assert!(e.contains("Shape inconsistent"), "{e}");
    }

    #[test]
    fn make_loss_matches_mxnet() {
        let x = arr(&[2, 3], &[0.1f32, -0.5, 2.0, 0.3, 0.0, -1.0]);
        let g = |op: &str, a: &[(&str, &str)]| {
            f32s(
                op_grads(op, a, std::slice::from_ref(&x), None, true)[0]
                    .as_ref()
                    .unwrap(),
            )
        };
        assert_eq!(g("MakeLoss", &[]), [1.0; 6]);
        assert_eq!(g("MakeLoss", &[("normalization", "batch")]), [0.5; 6]);
        // MXNet 1.9.1: the rows of the loss flattened to 2-D.
        let batch = |shape: &[usize]| {
            let n = shape.iter().product();
            let x = arr(shape, &vec![1.0f32; n]);
            let gx = op_grads("MakeLoss", &[("normalization", "batch")], &[x], None, true);
            f32s(gx[0].as_ref().unwrap())[0]
        };
        assert_eq!(batch(&[4]), 1.0);
        assert_eq!(batch(&[4, 2, 3]), 0.125);
        assert_eq!(
            g(
                "MakeLoss",
                &[("normalization", "valid"), ("valid_thresh", "0.2")]
            ),
            [0.5; 6]
        );
        assert!(close(
            &g("MakeLoss", &[("normalization", "valid")]),
            &[1.0 / 3.0; 6],
            1e-7
        ));
        assert_eq!(
            g(
                "MakeLoss",
                &[
                    ("grad_scale", "3"),
                    ("normalization", "valid"),
                    ("valid_thresh", "5")
                ]
            ),
            [3.0; 6]
        );
        assert_eq!(g("make_loss", &[]), [1.0; 6]);
        assert_eq!(
            f32s(&run("MakeLoss", std::slice::from_ref(&x), &[])),
            f32s(&x)
        );
        // make_loss has no parameters: like MXNet 1.9.1 it ignores a grad_scale it is given.
        assert_eq!(g("make_loss", &[("grad_scale", "2")]), [1.0; 6]);
        let op = crate::op::registry()
            .get("make_loss")
            .unwrap()
            .create(&[])
            .unwrap();
        assert_eq!(op.output_names(), ["loss"]);
        assert!(op.is_loss());
    }

    #[test]
    fn softmax_cross_entropy_and_smooth_l1() {
        let (x, l) = (data(&[2, 3]), arr(&[2], &[0.0f32, 2.0]));
        let y = run("softmax_cross_entropy", &[x.clone(), l.clone()], &[]);
        assert_eq!(y.shape().dims(), &[1]);
        assert!(close(&f32s(&y), &[2.2038856], 1e-6));
        let g = op_grads(
            "softmax_cross_entropy",
            &[],
            &[x.clone(), l.clone()],
            Some(&[arr(&[1], &[1.0f32])]),
            false,
        );
        assert!(close(
            f32s(g[0].as_ref().unwrap()).as_slice(),
            &[-0.6993904, 0.332225, 0.3671654, 0.30060962, 0.332225, -0.6328346],
            1e-6
        ));
        let xd = rand64(&[3, 4], -1.0, 1.0, 51);
        check_grad(
            "softmax_cross_entropy",
            &[],
            &[xd, arr(&[3], &[0.0f64, 3.0, 1.0])],
            &[0],
        );
        let e = err(
            "softmax_cross_entropy",
            &[x.clone(), arr(&[2, 1], &[0.0f32; 2])],
            &[],
        )
        .to_string();
        assert!(e.contains("1D label"), "{e}");
        assert!(err(
            "softmax_cross_entropy",
            &[x.clone(), arr(&[2], &[0.0f32, 7.0])],
            &[]
        )
        .to_string()
        .contains("out of range"));

        let z = arr(&[5], &[-2.0f32, -0.5, 0.0, 0.3, 1.5]);
        assert!(close(
            &f32s(&run(
                "smooth_l1",
                std::slice::from_ref(&z),
                &[("scalar", "1.0")]
            )),
            &[1.5, 0.125, 0.0, 0.045, 1.0],
            1e-6
        ));
        assert!(close(
            &f32s(&run(
                "smooth_l1",
                std::slice::from_ref(&z),
                &[("scalar", "2.0")]
            )),
            &[1.875, 0.375, 0.0, 0.175, 1.375],
            1e-6
        ));
        let g = op_grads(
            "smooth_l1",
            &[("scalar", "2.0")],
            std::slice::from_ref(&z),
            Some(&[arr(&[5], &[1.0f32; 5])]),
            false,
        );
        assert_eq!(f32s(g[0].as_ref().unwrap()), [-1.0, -1.0, 0.0, 1.0, 1.0]);
        check_grad(
            "smooth_l1",
            &[("scalar", "1.5")],
            &[rand64(&[10], -2.0, 2.0, 52)],
            &[0],
        );
        // MXNet's scalar (sigma) defaults to 1.
        assert!(close(
            &f32s(&run("smooth_l1", &[z], &[])),
            &[1.5, 0.125, 0.0, 0.045, 1.0],
            1e-6
        ));
    }
}
