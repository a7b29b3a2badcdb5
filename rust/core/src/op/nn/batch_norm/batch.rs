//! BatchNorm's forward and backward operators.

#[cfg(feature = "cuda")]
use super::cuda;
use super::{bn_param_dtype, check_vectors, float_data, split, BnCfg, BN_INPUTS};
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::kernels::cpu::norm::{
    channel_affine, channel_grad_apply, channel_grad_sums, channel_stats, with_real, Real,
};
use crate::kernels::cpu::Ptr;
use crate::op::{expect_inputs, read_f64, write_f64, Desc, FnOp, Operator};
use crate::shape::{norm_axis, Shape};
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
            let pd = ins[1].dtype;
            Ok(vec![
                d.clone(),
                Desc::new(vec![c], pd),
                Desc::new(vec![c], pd),
            ])
        },
        move |cx, ins, outs| {
            let x = &ins[0];
            let ax = axis_of(x.shape())?;
            let (outer, c, inner) = split(x.shape(), ax);
            let (gamma, beta) = (read_f64(&ins[1]), read_f64(&ins[2]));
            let (mean, istd): (Vec<f64>, Vec<f64>) = if cx.is_train && !cfg.use_global_stats {
                with_real!(name, x.dtype(), T, C, {
                    let _ = C::ZERO;
                    // SAFETY: inside the op reading x.
                    let st = channel_stats(unsafe { x.data::<T>() }, outer, c, inner);
                    st.iter().map(|&(m, v)| (m, 1.0 / (v + cfg.eps).sqrt())).unzip()
                })
            } else {
                let (mm, mv) = (read_f64(&ins[3]), read_f64(&ins[4]));
                (mm, mv.iter().map(|v| 1.0 / (v + cfg.eps).sqrt()).collect())
            };
            let g = |i: usize| if cfg.fix_gamma { 1.0 } else { gamma[i] };
            with_real!(name, x.dtype(), T, C, {
                let scale: Vec<C> = (0..c).map(|i| C::c(g(i) * istd[i])).collect();
                let shift: Vec<C> = (0..c)
                    .map(|i| C::c(beta[i] - mean[i] * g(i) * istd[i]))
                    .collect();
                // SAFETY: inside the op; the output is fresh.
                let (xs, y) = unsafe { (x.data::<T>(), Ptr(outs[0].raw() as *mut T)) };
                channel_affine::<T, C>(xs, y, &scale, &shift, outer, inner);
                if cfg.relu {
                    // SAFETY: the output is fresh and written only here.
                    for v in unsafe { outs[0].data_mut::<T>() } {
                        if v.to_f64() <= 0.0 {
                            *v = T::from_f64(0.0);
                        }
                    }
                }
            });
            write_f64(&outs[1], &mean);
            if cfg.var_out {
                let var: Vec<f64> = istd.iter().map(|s| 1.0 / (s * s) - cfg.eps).collect();
                write_f64(&outs[2], &var);
            } else {
                write_f64(&outs[2], &istd);
            }
            if cfg.fix_gamma {
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
    op.mutate = if cfg.fix_gamma {
        vec![1, 3, 4]
    } else {
        vec![3, 4]
    };
    op.aux = Some(vec![3, 4]);
    op.output_names = Some(
        ["output", "mean", "var"][..visible]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    );
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
            let gamma = read_f64(&ins[2]);
            let (mean, mut istd) = (read_f64(&ins[3]), read_f64(&ins[4]));
            if cfg.var_out {
                istd = istd.iter().map(|v| 1.0 / (v + cfg.eps).sqrt()).collect();
            }
            let g = |i: usize| if cfg.fix_gamma { 1.0 } else { gamma[i] };
            // MXNet runs the backward of its legacy-interface ops (BatchNorm_v1, SyncBatchNorm)
            // in training mode always: after an inference forward they differentiate the batch
            // formula at the moving statistics (which the forward showed as mean and var).
            let train = (cx.is_train || cfg.var_out) && !cfg.use_global_stats;
            let n = (outer * inner).max(1) as f64;
            with_real!(name, x.dtype(), T, C, {
                // SAFETY: inside the op reading dy, x and writing dx (fresh).
                let (dys, xs, dx) =
                    unsafe { (dy.data::<T>(), x.data::<T>(), Ptr(outs[0].raw() as *mut T)) };
                // Under the fused ReLU the gradient flows only where the output is positive.
                let masked: Vec<T>;
                let dys = if cfg.relu {
                    // SAFETY: inside the op reading y (input 7).
                    let ys = unsafe { ins[7].data::<T>() };
                    masked = dys
                        .iter()
                        .zip(ys)
                        .map(|(d, y)| {
                            if y.to_f64() > 0.0 {
                                *d
                            } else {
                                T::from_f64(0.0)
                            }
                        })
                        .collect();
                    &masked[..]
                } else {
                    dys
                };
                let sums = channel_grad_sums(dys, xs, &mean, outer, inner);
                // The legacy ops' backward after an inference forward differentiates the batch
                // formula at the moving mean, which is not the batch mean: MXNet keeps the term
                // in sum(x - mean) that vanishes otherwise (and is ~0 after a training forward).
                let offset: Vec<f64> = if cfg.var_out && train {
                    channel_stats(xs, outer, c, inner)
                        .iter()
                        .zip(&mean)
                        .map(|(st, m)| st.0 - m)
                        .collect()
                } else {
                    vec![0.0; c]
                };
                let (mut a, mut b, mut k) = (Vec::new(), Vec::new(), Vec::new());
                for i in 0..c {
                    let (s1, s2) = sums[i];
                    let gi = g(i) * istd[i];
                    if train {
                        // dx = g*istd*(dy - s1/n - (x-mean)*istd^2*s2/n)
                        let t = gi * istd[i] * istd[i] * s2 / n;
                        a.push(C::c(gi));
                        b.push(C::c(-t));
                        k.push(C::c(t * (mean[i] + offset[i]) - gi * s1 / n));
                    } else {
                        a.push(C::c(gi));
                        b.push(C::ZERO);
                        k.push(C::ZERO);
                    }
                }
                channel_grad_apply::<T, C>(dys, xs, dx, &a, &b, &k, outer, inner);
                let dgamma: Vec<f64> = (0..c)
                    .map(|i| {
                        if cfg.fix_gamma {
                            0.0
                        } else {
                            sums[i].1 * istd[i]
                        }
                    })
                    .collect();
                let dbeta: Vec<f64> = sums.iter().map(|s| s.0).collect();
                write_f64(&outs[1], &dgamma);
                write_f64(&outs[2], &dbeta);
            });
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
