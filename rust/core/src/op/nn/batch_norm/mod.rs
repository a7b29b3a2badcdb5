//! `BatchNorm`, `LayerNorm`, `InstanceNorm` and `GroupNorm`. Statistics are accumulated in
//! f64 whatever the data dtype. As in MXNet 1.9.1, BatchNorm's moving statistics are updated
//! by the *backward* node (which lists them in its `mutate`), never by the training forward;
//! BatchNorm's parameters stay float32 under float16 data.

use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::kernels::cpu::norm::{
    channel_affine, channel_grad_apply, channel_grad_sums, channel_stats, row_normalize,
    row_normalize_grad, row_stats, with_real, AffineIndex, Real,
};
use crate::kernels::cpu::Ptr;
use crate::op::params::param;
use crate::op::{
    expect_inputs, read_f64, write_f64, Desc, FnOp, Inputs, Operator, Registry, SimpleDef,
};
use crate::shape::{norm_axis, Shape};
use std::sync::Arc;

/// (outer, channels, inner) of `shape` around `axis`.
fn split(shape: &Shape, axis: usize) -> (usize, usize, usize) {
    let d = shape.dims();
    (
        d[..axis].iter().product(),
        d[axis],
        d[axis + 1..].iter().product(),
    )
}

fn float_data(op: &str, d: &Desc) -> Result<()> {
    if !d.dtype.is_float() {
        return Err(Error::dtype(
            op,
            format!("expects float16, float32 or float64 data, got {}", d.dtype),
        ));
    }
    Ok(())
}

/// Checks that each named parameter input is a vector of `c` floats.
fn check_vectors(op: &str, ins: &[Desc], names: &[&str], c: usize, data: &Shape) -> Result<()> {
    for (d, n) in ins.iter().zip(names) {
        if d.shape.dims() != [c] {
            return Err(Error::shape(
                op,
                format!(
                    "{n} has shape {}, expected ({c},) for data of shape {data}",
                    d.shape
                ),
            ));
        }
        if !d.dtype.is_float() {
            return Err(Error::dtype(
                op,
                format!("{n} must be a float array, got {}", d.dtype),
            ));
        }
    }
    Ok(())
}

/// The dtype of BatchNorm's parameters and statistics for data of dtype `d`.
fn bn_param_dtype(d: DType) -> DType {
    if d == DType::F16 {
        DType::F32
    } else {
        d
    }
}

#[derive(Clone, Copy, Debug)]
struct BnCfg {
    /// The registered name (`BatchNorm`, `BatchNorm_v1`, `_contrib_SyncBatchNorm`, ...).
    name: &'static str,
    eps: f64,
    momentum: f64,
    fix_gamma: bool,
    use_global_stats: bool,
    axis: i64,
    /// `BatchNorm_v1` shows the batch variance as its third output where BatchNorm shows
    /// 1/sqrt(var + eps).
    var_out: bool,
    /// `_contrib_BatchNormWithReLU`: the output goes through max(0, .).
    relu: bool,
}

impl BnCfg {
    fn plain(eps: f64, momentum: f64, fix_gamma: bool, use_global_stats: bool, axis: i64) -> Self {
        BnCfg {
            name: "BatchNorm",
            eps,
            momentum,
            fix_gamma,
            use_global_stats,
            axis,
            var_out: false,
            relu: false,
        }
    }
}

const BN_INPUTS: [&str; 5] = ["data", "gamma", "beta", "moving_mean", "moving_var"];

fn batch_norm(cfg: BnCfg, visible: usize) -> Arc<dyn Operator> {
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

/// Row normalisation shared by LayerNorm (`axis`) and InstanceNorm (spatial of each (n, c)).
#[derive(Clone, Copy)]
enum RowKind {
    Layer(i64),
    Instance,
    /// GroupNorm: each (n, group) of `num_groups` channel groups; gamma/beta per group, as in
    /// MXNet 1.9.1.
    Group(usize),
}

/// (outer, n, inner) of the rows, the affine indexing, and the stats shape.
fn row_geom(
    op: &str,
    kind: RowKind,
    s: &Shape,
) -> Result<(usize, usize, usize, AffineIndex, Shape, usize)> {
    match kind {
        RowKind::Layer(axis) => {
            if s.ndim() == 0 {
                return Err(Error::shape(
                    op,
                    "expects data with at least one dimension, got shape []",
                ));
            }
            let ax = norm_axis(axis, s.ndim(), op)?;
            let (o, n, i) = split(s, ax);
            let mut st = s.dims().to_vec();
            st[ax] = 1;
            Ok((o, n, i, AffineIndex::Axis, Shape::new(st), n))
        }
        RowKind::Instance => {
            if s.ndim() < 3 {
                return Err(Error::shape(
                    op,
                    format!("expects data of shape (batch, channel, spatial...) with at least 3 dimensions, got {s}"),
                ));
            }
            let d = s.dims();
            let c = d[1];
            let sp: usize = d[2..].iter().product();
            Ok((
                d[0] * c,
                sp,
                1,
                AffineIndex::Outer(c),
                Shape::new(vec![d[0], c]),
                c,
            ))
        }
        RowKind::Group(g) => {
            if s.ndim() < 3 {
                return Err(Error::shape(
                    op,
                    format!("expects data of shape (batch, channel, spatial...) with at least 3 dimensions, got {s}"),
                ));
            }
            let d = s.dims();
            if g == 0 || d[1] % g != 0 {
                return Err(Error::shape(
                    op,
                    format!("# of channels must be divisible by # of groups: num_groups={g} does not divide the {} channels of data of shape {s}", d[1]),
                ));
            }
            let per: usize = d[1] / g * d[2..].iter().product::<usize>();
            Ok((
                d[0] * g,
                per,
                1,
                AffineIndex::Outer(g),
                Shape::new(vec![d[0], g]),
                g,
            ))
        }
    }
}

fn row_norm(name: &'static str, kind: RowKind, eps: f64, visible: usize) -> Arc<dyn Operator> {
    let mut op = FnOp::new(
        name,
        move |ins| {
            expect_inputs(name, ins, 3)?;
            let d = &ins[0];
            float_data(name, d)?;
            let (.., st, p) = row_geom(name, kind, &d.shape)?;
            check_vectors(name, &ins[1..], &["gamma", "beta"], p, &d.shape)?;
            for (x, n) in ins[1..].iter().zip(["gamma", "beta"]) {
                if x.dtype != d.dtype {
                    return Err(Error::dtype(
                        name,
                        format!("{n} is {}, data is {}", x.dtype, d.dtype),
                    ));
                }
            }
            Ok(vec![
                d.clone(),
                Desc::new(st.clone(), d.dtype),
                Desc::new(st, d.dtype),
            ])
        },
        move |_, ins, outs| {
            let x = &ins[0];
            let (outer, n, inner, aff, ..) = row_geom(name, kind, x.shape())?;
            with_real!(name, x.dtype(), T, C, {
                // SAFETY: inside the op reading x, gamma, beta; the output is fresh.
                let (xs, gs, bs, y) = unsafe {
                    (
                        x.data::<T>(),
                        crate::kernels::cpu::norm::load::<T, C>(ins[1].data::<T>()),
                        crate::kernels::cpu::norm::load::<T, C>(ins[2].data::<T>()),
                        Ptr(outs[0].raw() as *mut T),
                    )
                };
                let st = row_stats(xs, outer, n, inner, eps);
                row_normalize::<T, C>(xs, y, &st, &gs, &bs, aff, outer, n, inner);
                let means: Vec<f64> = st.iter().map(|s| s.0).collect();
                let stds: Vec<f64> = st.iter().map(|s| 1.0 / s.1).collect();
                write_f64(&outs[1], &means);
                write_f64(&outs[2], &stds);
            });
            Ok(())
        },
    )
    .with_shape_partial(move |ins, _| {
        if let Some(d) = ins[0].clone() {
            if let Ok((.., p)) = row_geom(name, kind, &d) {
                for s in ins[1..].iter_mut() {
                    if s.is_none() {
                        *s = Some(Shape::new(vec![p]));
                    }
                }
            }
        }
        Ok(())
    })
    .with_grad(move |g, a| {
        let bname = "_backward_norm";
        let bwd = FnOp::new(
            bname,
            |ins| Ok(vec![ins[1].clone(), ins[2].clone(), ins[2].clone()]),
            move |_, ins, outs| {
                let (dy, x) = (&ins[0], &ins[1]);
                let (outer, n, inner, aff, ..) = row_geom(name, kind, x.shape())?;
                let st: Vec<(f64, f64)> = read_f64(&ins[3])
                    .into_iter()
                    .zip(read_f64(&ins[4]))
                    .map(|(m, s)| (m, 1.0 / s))
                    .collect();
                with_real!(name, x.dtype(), T, C, {
                    // SAFETY: inside the op; dx is fresh.
                    let (dys, xs, gs, dx) = unsafe {
                        (
                            dy.data::<T>(),
                            x.data::<T>(),
                            crate::kernels::cpu::norm::load::<T, C>(ins[2].data::<T>()),
                            Ptr(outs[0].raw() as *mut T),
                        )
                    };
                    let (dg, db) =
                        row_normalize_grad::<T, C>(dys, xs, &st, &gs, aff, dx, outer, n, inner);
                    write_f64(&outs[1], &dg);
                    write_f64(&outs[2], &db);
                });
                Ok(())
            },
        );
        let mut bwd = bwd;
        bwd.num_outputs = 3;
        let ins = vec![
            a.out_grads[0].clone(),
            a.inputs[0].clone(),
            a.inputs[1].clone(),
            a.outputs[1].clone(),
            a.outputs[2].clone(),
        ];
        Ok(g.apply(bwd.arc(), &ins).into_iter().map(Some).collect())
    });
    op.num_outputs = 3;
    op.visible_outputs = Some(visible);
    if visible == 3 {
        op.output_names = Some(vec!["output".into(), "mean".into(), "std".into()]);
    }
    op.arc()
}

pub fn register(r: &mut Registry) {
    variants::register(r);
    r.add(SimpleDef {
        name: "BatchNorm",
        doc: "Batch normalization.\n\nNormalizes a data batch by mean and variance, and applies a scale ``gamma`` as well as offset ``beta``. In training (and unless use_global_stats) the statistics of the batch are used, per channel of `axis`; otherwise the moving statistics. The moving statistics are updated during backward: moving = momentum * moving + (1 - momentum) * batch_stat (biased variance). With output_mean_var the outputs mean and 1/sqrt(var + eps) are shown too.".into(),
        params: vec![
            param("eps", "double, optional", Some("0.0010000000474974513"), "Epsilon to prevent div 0. Must be no less than CUDNN_BN_MIN_EPSILON defined in cudnn.h when using cudnn (usually 1e-5)"),
            param("momentum", "float, optional", Some("0.899999976"), "Momentum for moving average"),
            param("fix_gamma", "boolean, optional", Some("1"), "Fix gamma while training"),
            param("use_global_stats", "boolean, optional", Some("0"), "Whether use global moving statistics instead of local batch-norm. This will force change batch-norm into a scale shift operator."),
            param("output_mean_var", "boolean, optional", Some("0"), "Output the mean and inverse std "),
            param("axis", "int, optional", Some("1"), "Specify which shape axis the channel is specified"),
            param("cudnn_off", "boolean, optional", Some("0"), "Do not select CUDNN operator, if available"),
            param("min_calib_range", "float or None, optional", Some("None"), "The minimum scalar value in the form of float32 obtained through calibration. If present, it will be used to by quantized batch norm op to calculate primitive scale.Note: this calib_range is to calib bn output."),
            param("max_calib_range", "float or None, optional", Some("None"), "The maximum scalar value in the form of float32 obtained through calibration. If present, it will be used to by quantized batch norm op to calculate primitive scale.Note: this calib_range is to calib bn output."),
        ],
        inputs: Inputs::Fixed(&BN_INPUTS),
        create: Box::new(|p| {
            let cfg = BnCfg::plain(
                p.float("eps")?,
                p.float("momentum")?,
                p.bool("fix_gamma")?,
                p.bool("use_global_stats")?,
                p.int("axis")?,
            );
            if cfg.eps.is_nan() || cfg.eps < 0.0 {
                return Err(Error::param("BatchNorm", format!("eps must be >= 0, got {}", cfg.eps)));
            }
            let visible = if p.bool("output_mean_var")? { 3 } else { 1 };
            Ok(batch_norm(cfg, visible))
        }),
    });
    r.add(SimpleDef {
        name: "LayerNorm",
        doc: "Layer normalization.\n\nNormalizes the channels of the input tensor by mean and variance along `axis`, and applies a scale ``gamma`` as well as offset ``beta``: out = (data - mean) / sqrt(var + eps) * gamma + beta. With output_mean_var the mean and std (sqrt(var + eps)) are output too, with `axis` kept as size 1.".into(),
        params: vec![
            param("axis", "int, optional", Some("-1"), "The axis to perform layer normalization. Usually, this should be be axis of the channel dimension. Negative values means indexing from right to left."),
            param("eps", "float, optional", Some("9.99999975e-06"), "An `epsilon` parameter to prevent division by 0."),
            param("output_mean_var", "boolean, optional", Some("0"), "Output the mean and std calculated along the given axis."),
        ],
        inputs: Inputs::Fixed(&["data", "gamma", "beta"]),
        create: Box::new(|p| {
            let visible = if p.bool("output_mean_var")? { 3 } else { 1 };
            Ok(row_norm("LayerNorm", RowKind::Layer(p.int("axis")?), p.float("eps")?, visible))
        }),
    });
    r.add(SimpleDef {
        name: "GroupNorm",
        doc: "Group normalization.\n\nThe channels are split into ``num_groups`` groups; each group of each instance is normalized by its mean and variance, then scaled by ``gamma`` and shifted by ``beta`` (one value per group, as in MXNet 1.9.1): out = (x - mean) / sqrt(var + eps) * gamma + beta. With output_mean_var the mean and std (sqrt(var + eps)), of shape (batch, num_groups), are output too.".into(),
        params: vec![
            param("num_groups", "int, optional", Some("1"), "Total number of groups."),
            param("eps", "float, optional", Some("9.99999975e-06"), "An `epsilon` parameter to prevent division by 0."),
            param("output_mean_var", "boolean, optional", Some("0"), "Output the mean and std calculated along the given axis."),
        ],
        inputs: Inputs::Fixed(&["data", "gamma", "beta"]),
        create: Box::new(|p| {
            let g = p.int("num_groups")?;
            let g = usize::try_from(g)
                .ok()
                .filter(|&g| g > 0)
                .ok_or_else(|| Error::param("GroupNorm", format!("num_groups must be positive, got {g}")))?;
            let visible = if p.bool("output_mean_var")? { 3 } else { 1 };
            Ok(row_norm("GroupNorm", RowKind::Group(g), p.float("eps")?, visible))
        }),
    });
    r.add(SimpleDef {
        name: "InstanceNorm",
        doc: "Applies instance normalization to the n-dimensional input array: each channel of each instance is normalized over its spatial dimensions, then scaled by ``gamma`` and shifted by ``beta`` (per channel): out = (x - mean) / sqrt(var + eps) * gamma + beta.".into(),
        params: vec![param("eps", "float, optional", Some("0.00100000005"), "An `epsilon` parameter to prevent division by 0.")],
        inputs: Inputs::Fixed(&["data", "gamma", "beta"]),
        create: Box::new(|p| Ok(row_norm("InstanceNorm", RowKind::Instance, p.float("eps")?, 1))),
    });
}

#[cfg(feature = "cuda")]
pub const CUDA_MODULE: &str = "batch_norm";

/// BatchNorm on (outer, c, inner) data with parameters of the data's type: per-channel
/// statistics and gradient sums are one block per channel (two-pass, in double), the affine
/// maps one thread per element; the arithmetic follows the CPU kernel above.
#[cfg(feature = "cuda")]
pub fn cuda_source() -> String {
    use crate::kernels::cuda::{kernel_name, module_source, storage_type};
    module_source("", |dt| {
        let s = storage_type(dt);
        format!(
            r#"
#define LD(v) ((double)IO<{s}>::ld(v))
#define ST(v) IO<{s}>::st((IO<{s}>::C)(v))
#define EACH(k, cnt) for (u64 k = threadIdx.x; k < (cnt); k += blockDim.x)
#define AT(k) (((k) / inner * c + ch) * inner + (k) % inner)
extern "C" __global__ void {stats}({s}* x, {s}* mean, {s}* istd, {s}* gamma, u64 outer, u64 c,
                                    u64 inner, double eps, int fix_gamma) {{
  __shared__ double sh[256];
  const u64 ch = blockIdx.x, cnt = outer * inner;
  const double div = cnt ? (double)cnt : 1.0;
  double acc = 0;
  EACH(k, cnt) acc += LD(x[AT(k)]);
  const double m = ox_block_sum(sh, acc) / div;
  acc = 0;
  EACH(k, cnt) {{ const double d = LD(x[AT(k)]) - m; acc += d * d; }}
  const double var = ox_block_sum(sh, acc) / div;
  if (threadIdx.x == 0) {{
    mean[ch] = ST(m);
    istd[ch] = ST(1.0 / sqrt(var + eps));
    if (fix_gamma) gamma[ch] = ST(1.0);
  }}
}}
extern "C" __global__ void {moving}(const {s}* mm, const {s}* mv, {s}* mean, {s}* istd,
                                     {s}* gamma, u64 c, double eps, int fix_gamma) {{
  OX_LOOP(ch, c) {{
    mean[ch] = mm[ch];
    istd[ch] = ST(1.0 / sqrt(LD(mv[ch]) + eps));
    if (fix_gamma) gamma[ch] = ST(1.0);
  }}
}}
extern "C" __global__ void {apply}(const {s}* x, {s}* y, const {s}* gamma, const {s}* beta,
                                    const {s}* mean, const {s}* istd, u64 n, u64 c, u64 inner,
                                    int fix_gamma) {{
  OX_LOOP(i, n) {{
    const u64 ch = (i / inner) % c;
    const double g = fix_gamma ? 1.0 : LD(gamma[ch]), is = LD(istd[ch]);
    y[i] = ST((LD(x[i]) - LD(mean[ch])) * g * is + LD(beta[ch]));
  }}
}}
extern "C" __global__ void {sums}(const {s}* dy, const {s}* x, const {s}* mean,
                                   const {s}* istd, {s}* dgamma, {s}* dbeta, {s}* s2buf,
                                   {s}* mm, {s}* mv, u64 outer, u64 c, u64 inner, double eps,
                                   double momentum, int fix_gamma, int train) {{
  __shared__ double sh[256];
  const u64 ch = blockIdx.x, cnt = outer * inner;
  const double m = LD(mean[ch]), is = LD(istd[ch]);
  double a1 = 0, a2 = 0;
  EACH(k, cnt) {{ const double d = LD(dy[AT(k)]); a1 += d; a2 += d * (LD(x[AT(k)]) - m); }}
  const double s1 = ox_block_sum(sh, a1), s2 = ox_block_sum(sh, a2);
  if (threadIdx.x == 0) {{
    dbeta[ch] = ST(s1);
    dgamma[ch] = ST(fix_gamma ? 0.0 : s2 * is);
    s2buf[ch] = ST(s2);
    if (train) {{
      mm[ch] = ST(momentum * LD(mm[ch]) + (1.0 - momentum) * m);
      mv[ch] = ST(momentum * LD(mv[ch]) + (1.0 - momentum) * (1.0 / (is * is) - eps));
    }}
  }}
}}
extern "C" __global__ void {dx}(const {s}* dy, const {s}* x, const {s}* gamma,
                                 const {s}* mean, const {s}* istd, const {s}* s1buf,
                                 const {s}* s2buf, {s}* dxo, u64 n, u64 c, u64 inner,
                                 double count, int fix_gamma, int train) {{
  OX_LOOP(i, n) {{
    const u64 ch = (i / inner) % c;
    const double is = LD(istd[ch]), gi = (fix_gamma ? 1.0 : LD(gamma[ch])) * is;
    double v = gi * LD(dy[i]);
    if (train) {{
      const double t = gi * is * is * LD(s2buf[ch]) / count;
      v += -t * LD(x[i]) + t * LD(mean[ch]) - gi * LD(s1buf[ch]) / count;
    }}
    dxo[i] = ST(v);
  }}
}}
#undef LD
#undef ST
#undef EACH
#undef AT
"#,
            stats = kernel_name("bn_stats", dt),
            moving = kernel_name("bn_moving", dt),
            apply = kernel_name("bn_apply", dt),
            sums = kernel_name("bn_grad_sums", dt),
            dx = kernel_name("bn_grad_dx", dt),
        )
    })
}

#[cfg(feature = "cuda")]
mod cuda {
    use super::{cuda_source, norm_axis, split, BnCfg, CUDA_MODULE};
    use crate::kernels::cuda::{dptr, run_blocks, run_kernel, Arg, CudaFn};
    use crate::ndarray::NDArray;
    use crate::op::OpCtx;
    use crate::DType;

    /// float32/float64 data with parameters of the same type (float16 keeps float32
    /// parameters: host path).
    fn usable(ins: &[NDArray]) -> bool {
        let dt = ins[0].dtype();
        matches!(dt, DType::F32 | DType::F64) && ins[1..].iter().all(|a| a.dtype() == dt)
    }

    fn train(cfg: &BnCfg, cx: &OpCtx) -> bool {
        cx.is_train && !cfg.use_global_stats
    }

    pub fn forward(cfg: BnCfg) -> CudaFn {
        Box::new(move |dev, cx, ins, outs| {
            if !usable(ins) {
                return Ok(false);
            }
            let x = &ins[0];
            let dt = x.dtype();
            let (outer, c, inner) = split(x.shape(), norm_axis(cfg.axis, x.ndim(), "BatchNorm")?);
            let (mean, istd, gamma) = (dptr(&outs[1]), dptr(&outs[2]), dptr(&ins[1]));
            let fix = Arg::I(i32::from(cfg.fix_gamma));
            if train(&cfg, cx) {
                let args = [
                    Arg::U(dptr(x)),
                    Arg::U(mean),
                    Arg::U(istd),
                    Arg::U(gamma),
                    Arg::U(outer as u64),
                    Arg::U(c as u64),
                    Arg::U(inner as u64),
                    Arg::F(cfg.eps),
                    fix,
                ];
                run_blocks(dev, CUDA_MODULE, cuda_source, "bn_stats", dt, c, &args)?;
            } else {
                let args = [
                    Arg::U(dptr(&ins[3])),
                    Arg::U(dptr(&ins[4])),
                    Arg::U(mean),
                    Arg::U(istd),
                    Arg::U(gamma),
                    Arg::U(c as u64),
                    Arg::F(cfg.eps),
                    fix,
                ];
                run_kernel(dev, CUDA_MODULE, cuda_source, "bn_moving", dt, c, &args)?;
            }
            let args = [
                Arg::U(dptr(x)),
                Arg::U(dptr(&outs[0])),
                Arg::U(gamma),
                Arg::U(dptr(&ins[2])),
                Arg::U(mean),
                Arg::U(istd),
                Arg::U(x.size() as u64),
                Arg::U(c as u64),
                Arg::U(inner as u64),
                Arg::I(i32::from(cfg.fix_gamma)),
            ];
            run_kernel(
                dev,
                CUDA_MODULE,
                cuda_source,
                "bn_apply",
                dt,
                x.size(),
                &args,
            )?;
            Ok(true)
        })
    }

    /// Inputs (dy, x, gamma, mean, inv_std, moving_mean, moving_var); outputs (dx, dgamma,
    /// dbeta); the moving statistics are updated in training.
    pub fn backward(cfg: BnCfg) -> CudaFn {
        Box::new(move |dev, cx, ins, outs| {
            if !usable(&ins[1..]) || ins[0].dtype() != ins[1].dtype() {
                return Ok(false);
            }
            let (dy, x) = (&ins[0], &ins[1]);
            let dt = x.dtype();
            let ax = norm_axis(cfg.axis, x.ndim(), "_backward_BatchNorm")?;
            let (outer, c, inner) = split(x.shape(), ax);
            let s2 = NDArray::empty(crate::Shape(vec![c]), dt, x.ctx())?;
            let (fix, tr) = (i32::from(cfg.fix_gamma), i32::from(train(&cfg, cx)));
            let args = [
                Arg::U(dptr(dy)),
                Arg::U(dptr(x)),
                Arg::U(dptr(&ins[3])),
                Arg::U(dptr(&ins[4])),
                Arg::U(dptr(&outs[1])),
                Arg::U(dptr(&outs[2])),
                Arg::U(dptr(&s2)),
                Arg::U(dptr(&ins[5])),
                Arg::U(dptr(&ins[6])),
                Arg::U(outer as u64),
                Arg::U(c as u64),
                Arg::U(inner as u64),
                Arg::F(cfg.eps),
                Arg::F(cfg.momentum),
                Arg::I(fix),
                Arg::I(tr),
            ];
            run_blocks(dev, CUDA_MODULE, cuda_source, "bn_grad_sums", dt, c, &args)?;
            let args = [
                Arg::U(dptr(dy)),
                Arg::U(dptr(x)),
                Arg::U(dptr(&ins[2])),
                Arg::U(dptr(&ins[3])),
                Arg::U(dptr(&ins[4])),
                Arg::U(dptr(&outs[2])),
                Arg::U(dptr(&s2)),
                Arg::U(dptr(&outs[0])),
                Arg::U(x.size() as u64),
                Arg::U(c as u64),
                Arg::U(inner as u64),
                Arg::F((outer * inner).max(1) as f64),
                Arg::I(fix),
                Arg::I(tr),
            ];
            run_kernel(
                dev,
                CUDA_MODULE,
                cuda_source,
                "bn_grad_dx",
                dt,
                x.size(),
                &args,
            )?;
            Ok(true)
        })
    }
}

#[cfg(test)]
mod tests;
mod variants;
