//! BatchNorm's forward and backward operators.

#[cfg(feature = "cuda")]
use super::cuda;
use super::{bn_param_dtype, check_vectors, float_data, split, BnCfg, BN_INPUTS};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::kernels::cpu::halves::{through_f32, Half};
use crate::kernels::cpu::norm::{
    channel_affine, channel_grad_apply, channel_grad_sums, channel_stats, with_real, Real,
};
use crate::kernels::cpu::Ptr;
use crate::ndarray::NDArray;
use crate::op::{expect_inputs, read_f64, write_f64, Desc, FnOp, Operator};
use crate::shape::{norm_axis, Shape};
use half::{bf16, f16};
use std::sync::Arc;

pub(super) fn batch_norm(cfg: BnCfg, visible: usize) -> Arc<dyn Operator> {
    let name = cfg.name;
    let axis_of = move |s: &Shape| -> Result<usize> {
        if s.ndim() == 0 {
            return Err(Error::shape(
                name,
                "expects data with at least one dimension, got shape []",
            ));
        }
        norm_axis(cfg.axis, s.ndim(), name)
    };
    let mut op = FnOp::new(
        name,
        move |ins| {
            expect_inputs(name, ins, 5)?;
            let d = &ins[0];
            float_data(name, d)?;
            let c = d.shape[axis_of(&d.shape)?];
            check_vectors(name, &ins[1..], &BN_INPUTS[1..], c, &d.shape)?;
            // The graph's type inference demands these dtypes; a call must not accept more.
            let pd = bn_param_dtype(d.dtype);
            if let Some((x, n)) = ins[1..].iter().zip(&BN_INPUTS[1..]).find(|(x, _)| x.dtype != pd) {
                return Err(Error::dtype(
                    name,
                    format!("{n} has dtype {}, expected {pd} for {} data", x.dtype, d.dtype),
                ));
            }
            Ok(vec![
                d.clone(),
                Desc::new(vec![c], pd),
                Desc::new(vec![c], pd),
            ])
        },
        move |cx, ins, outs| {
            let x = &ins[0];
            let ax = axis_of(x.shape())?;
            let fwd = Forward {
                cfg,
                dims: split(x.shape(), ax),
                gamma: read_f64(&ins[1]),
                beta: read_f64(&ins[2]),
                moving: (!cx.is_train || cfg.use_global_stats)
                    .then(|| (read_f64(&ins[3]), read_f64(&ins[4]))),
            };
            let y = &outs[0];
            // SAFETY (all three): inside the op reading x and writing y, which is fresh or,
            // in place, x itself element for element.
            let (mean, istd) = match x.dtype() {
                DType::F16 => unsafe { fwd.in_f32::<f16>(x, y) },
                DType::BF16 => unsafe { fwd.in_f32::<bf16>(x, y) },
                d => with_real!(name, d, T, C, {
                    unsafe { fwd.run::<T, C>(x.data::<T>(), Ptr(y.raw() as *mut T)) }
                }),
            };
            let c = mean.len();
            write_f64(&outs[1], &mean);
            if cfg.var_out {
                let var: Vec<f64> = istd.iter().map(|s| 1.0 / (s * s) - cfg.eps).collect();
                write_f64(&outs[2], &var);
            } else {
                write_f64(&outs[2], &istd);
            }
            if cfg.fix_gamma && cfg.write_gamma {
                // MXNet 1.9.1 writes the fixed gamma back, so weight decay or a loaded value
                // never moves it from 1 between steps (observed in its checkpoints).
                write_f64(&ins[1], &vec![1.0; c]);
            }
            Ok(())
        },
    )
    .with_shape_partial(move |ins, outs| {
        if let Some(d) = ins[0].clone() {
            if d.ndim() > 0 {
                let ax = axis_of(&d)?;
                let c = Shape::new(vec![d[ax]]);
                for s in ins[1..].iter_mut().chain(outs[1..].iter_mut()) {
                    if s.is_none() {
                        *s = Some(c.clone());
                    }
                }
            }
        }
        Ok(())
    })
    .with_type_partial(move |ins, outs| {
        let Some(d) = ins[0].or(outs[0]) else {
            return Ok(());
        };
        let p = bn_param_dtype(d);
        for (i, t) in ins.iter_mut().enumerate() {
            let want = if i == 0 { d } else { p };
            match t {
                Some(x) if *x != want => {
                    return Err(Error::dtype(
                        name,
                        format!("Incompatible attr in node {name} at {i}-th input: expected {want}, got {x}"),
                    ))
                }
                _ => *t = Some(want),
            }
        }
        for (i, t) in outs.iter_mut().enumerate() {
            *t = Some(if i == 0 { d } else { p });
        }
        Ok(())
    })
    .with_grad(move |g, a| {
        let mut ins = vec![
            a.out_grads[0].clone(),
            a.inputs[0].clone(),
            a.inputs[1].clone(),
            a.outputs[1].clone(),
            a.outputs[2].clone(),
            a.inputs[3].clone(),
            a.inputs[4].clone(),
        ];
        if cfg.relu {
            ins.push(a.outputs[0].clone());
        }
        let gr = g.apply(batch_norm_backward(cfg), &ins);
        Ok(vec![
            Some(gr[0].clone()),
            Some(gr[1].clone()),
            Some(gr[2].clone()),
            None,
            None,
        ])
    });
    op.num_outputs = 3;
    op.visible_outputs = Some(visible);
    op.mutate = if cfg.fix_gamma && cfg.write_gamma {
        vec![1, 3, 4]
    } else {
        vec![3, 4]
    };
    if cfg.fix_gamma && cfg.write_gamma && cfg.name == "BatchNorm" {
        op.unread = Some(Box::new(move |unread| {
            unread.get(1).copied().unwrap_or(false).then(|| {
                let cfg = BnCfg {
                    write_gamma: false,
                    ..cfg
                };
                batch_norm(cfg, visible)
            })
        }));
    }
    op.aux = Some(vec![3, 4]);
    // Hidden outputs are named too: a monitor shows them (`bn_mean`), as MXNet's does.
    op.output_names = Some(vec!["output".into(), "mean".into(), "var".into()]);
    // MXNet's fused BatchNorm+ReLU keeps its ReLU workspace as a fourth output.
    if cfg.relu {
        op.mxnet_outputs = Some(4);
    }
    #[cfg(feature = "cuda")]
    let op = op.with_cuda((!cfg.var_out && !cfg.relu).then(|| cuda::forward(cfg)));
    op.arc()
}

/// Inputs (dy, x, gamma, mean, inv_std, moving_mean, moving_var[, y under relu]); outputs (dx,
/// dgamma, dbeta); `inv_std` is the variance under `var_out`. In training it also folds the
/// batch statistics into the moving ones.
fn batch_norm_backward(cfg: BnCfg) -> Arc<dyn Operator> {
    let name = "_backward_BatchNorm";
    let mut op = FnOp::new(
        name,
        move |ins| {
            expect_inputs(name, ins, if cfg.relu { 8 } else { 7 })?;
            Ok(vec![ins[1].clone(), ins[2].clone(), ins[2].clone()])
        },
        move |cx, ins, outs| {
            let (dy, x) = (&ins[0], &ins[1]);
            let ax = norm_axis(cfg.axis, x.ndim(), name)?;
            let (outer, c, inner) = split(x.shape(), ax);
            let (mean, mut istd) = (read_f64(&ins[3]), read_f64(&ins[4]));
            if cfg.var_out {
                istd = istd.iter().map(|v| 1.0 / (v + cfg.eps).sqrt()).collect();
            }
            // MXNet runs the backward of its legacy-interface ops (BatchNorm_v1, SyncBatchNorm)
            // in training mode always: after an inference forward they differentiate the batch
            // formula at the moving statistics (which the forward showed as mean and var).
            let train = (cx.is_train || cfg.var_out) && !cfg.use_global_stats;
            let bwd = Backward {
                cfg,
                dims: (outer, c, inner),
                gamma: read_f64(&ins[2]),
                mean: &mean,
                istd: &istd,
                train,
            };
            // Under the fused ReLU the gradient flows only where the output (input 7) is
            // positive.
            let y = cfg.relu.then(|| &ins[7]);
            let dx = &outs[0];
            // SAFETY (all three): inside the op reading dy, x (and y) and writing dx (fresh).
            let (dgamma, dbeta) = match x.dtype() {
                DType::F16 => unsafe { bwd.in_f32::<f16>(dy, x, y, dx) },
                DType::BF16 => unsafe { bwd.in_f32::<bf16>(dy, x, y, dx) },
                d => with_real!(name, d, T, C, {
                    unsafe {
                        let y = y.map(|y| y.data::<T>());
                        let dx = Ptr(dx.raw() as *mut T);
                        bwd.run::<T, C>(dy.data::<T>(), x.data::<T>(), y, dx)
                    }
                }),
            };
            write_f64(&outs[1], &dgamma);
            write_f64(&outs[2], &dbeta);
            if train {
                let m = cfg.momentum;
                let mm: Vec<f64> = read_f64(&ins[5])
                    .iter()
                    .zip(&mean)
                    .map(|(old, b)| m * old + (1.0 - m) * b)
                    .collect();
                // istd is 1/sqrt(var + eps) here; recover the biased batch variance.
                let mv: Vec<f64> = read_f64(&ins[6])
                    .iter()
                    .zip(&istd)
                    .map(|(old, s)| m * old + (1.0 - m) * (1.0 / (s * s) - cfg.eps))
                    .collect();
                write_f64(&ins[5], &mm);
                write_f64(&ins[6], &mv);
            }
            Ok(())
        },
    );
    op.num_outputs = 3;
    op.mutate = vec![5, 6];
    #[cfg(feature = "cuda")]
    let op = op.with_cuda((!cfg.var_out && !cfg.relu).then(|| cuda::backward(cfg)));
    op.arc()
}

/// One BatchNorm forward over (outer, c, inner) data.
struct Forward {
    cfg: BnCfg,
    dims: (usize, usize, usize),
    gamma: Vec<f64>,
    beta: Vec<f64>,
    /// The moving mean and variance, when they replace the batch statistics.
    moving: Option<(Vec<f64>, Vec<f64>)>,
}

impl Forward {
    /// Writes y and returns the mean and 1/sqrt(var + eps) it used.
    ///
    /// # Safety
    /// `y` holds x's length and is disjoint from `x` or is `x` itself.
    unsafe fn run<T: Element, C: Real>(&self, x: &[T], y: Ptr<T>) -> (Vec<f64>, Vec<f64>) {
        let (outer, c, inner) = self.dims;
        let eps = self.cfg.eps;
        let (mean, istd): (Vec<f64>, Vec<f64>) = match &self.moving {
            None => channel_stats(x, outer, c, inner)
                .iter()
                .map(|&(m, v)| (m, 1.0 / (v + eps).sqrt()))
                .unzip(),
            Some((mm, mv)) => (
                mm.clone(),
                mv.iter().map(|v| 1.0 / (v + eps).sqrt()).collect(),
            ),
        };
        let g = |i: usize| {
            if self.cfg.fix_gamma {
                1.0
            } else {
                self.gamma[i]
            }
        };
        let scale: Vec<C> = (0..c).map(|i| C::c(g(i) * istd[i])).collect();
        let shift: Vec<C> = (0..c)
            .map(|i| C::c(self.beta[i] - mean[i] * g(i) * istd[i]))
            .collect();
        channel_affine::<T, C>(x, y, &scale, &shift, outer, inner);
        if self.cfg.relu {
            for v in std::slice::from_raw_parts_mut(y.get(), x.len()) {
                if v.to_f64() <= 0.0 {
                    *v = T::from_f64(0.0);
                }
            }
        }
        (mean, istd)
    }

    /// `run` for a half type, on f32 copies (widening is exact and the f32 result is rounded
    /// once, as computing in the type does): one value at a time, its conversions cost more
    /// than the normalisation.
    ///
    /// # Safety
    /// Inside the op reading x and writing y.
    unsafe fn in_f32<H: Half>(&self, x: &NDArray, y: &NDArray) -> (Vec<f64>, Vec<f64>) {
        through_f32::<H, _>(&[x], &[y], |w, o| {
            self.run::<f32, f32>(&w[0], Ptr(o[0].as_mut_ptr()))
        })
    }
}

/// One BatchNorm backward over (outer, c, inner) data.
struct Backward<'a> {
    cfg: BnCfg,
    dims: (usize, usize, usize),
    gamma: Vec<f64>,
    mean: &'a [f64],
    istd: &'a [f64],
    /// Differentiates the batch statistics too.
    train: bool,
}

impl Backward<'_> {
    /// Writes dx and returns d(gamma) and d(beta).
    ///
    /// # Safety
    /// `dx` holds x's length and is disjoint from the inputs.
    unsafe fn run<T: Element, C: Real>(
        &self,
        dy: &[T],
        x: &[T],
        y: Option<&[T]>,
        dx: Ptr<T>,
    ) -> (Vec<f64>, Vec<f64>) {
        let (outer, c, inner) = self.dims;
        let (mean, istd) = (self.mean, self.istd);
        let n = (outer * inner).max(1) as f64;
        let g = |i: usize| {
            if self.cfg.fix_gamma {
                1.0
            } else {
                self.gamma[i]
            }
        };
        let masked: Vec<T>;
        let dy = match y {
            Some(y) => {
                masked = dy
                    .iter()
                    .zip(y)
                    .map(|(d, y)| {
                        if y.to_f64() > 0.0 {
                            *d
                        } else {
                            T::from_f64(0.0)
                        }
                    })
                    .collect();
                &masked[..]
            }
            None => dy,
        };
        let sums = channel_grad_sums(dy, x, mean, outer, inner);
        // The legacy ops' backward after an inference forward differentiates the batch
        // formula at the moving mean, which is not the batch mean: MXNet keeps the term in
        // sum(x - mean) that vanishes otherwise (and is ~0 after a training forward).
        let offset: Vec<f64> = if self.cfg.var_out && self.train {
            channel_stats(x, outer, c, inner)
                .iter()
                .zip(mean)
                .map(|(st, m)| st.0 - m)
                .collect()
        } else {
            vec![0.0; c]
        };
        let (mut a, mut b, mut k) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..c {
            let (s1, s2) = sums[i];
            let gi = g(i) * istd[i];
            a.push(C::c(gi));
            if self.train {
                // dx = g*istd*(dy - s1/n - (x-mean)*istd^2*s2/n)
                let t = gi * istd[i] * istd[i] * s2 / n;
                b.push(C::c(-t));
                k.push(C::c(t * (mean[i] + offset[i]) - gi * s1 / n));
            } else {
                b.push(C::ZERO);
                k.push(C::ZERO);
            }
        }
        channel_grad_apply::<T, C>(dy, x, dx, &a, &b, &k, outer, inner);
        let dgamma = (0..c)
            .map(|i| {
                if self.cfg.fix_gamma {
                    0.0
                } else {
                    sums[i].1 * istd[i]
                }
            })
            .collect();
        (dgamma, sums.iter().map(|s| s.0).collect())
    }

    /// `run` for a half type, on f32 copies (see `Forward::in_f32`).
    ///
    /// # Safety
    /// Inside the op reading dy, x (and y) and writing dx.
    unsafe fn in_f32<H: Half>(
        &self,
        dy: &NDArray,
        x: &NDArray,
        y: Option<&NDArray>,
        dx: &NDArray,
    ) -> (Vec<f64>, Vec<f64>) {
        let ins: Vec<&NDArray> = [dy, x].into_iter().chain(y).collect();
        through_f32::<H, _>(&ins, &[dx], |w, o| {
            let y = w.get(2).map(|v| &v[..]);
            self.run::<f32, f32>(&w[0], &w[1], y, Ptr(o[0].as_mut_ptr()))
        })
    }
}
