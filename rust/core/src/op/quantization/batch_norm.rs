//! `_contrib_quantized_batch_norm`: inference batch normalization of int8/uint8 data with
//! float32 gamma, beta and moving statistics, writing int8 over the calibrated output range
//! (MXNet requires one). The arithmetic is MXNet 1.9.1's oneDNN kernel: the statistics are
//! folded into a per-channel scale and shift, and oneDNN's primitive (run with mean 0 and
//! variance 1) still divides by sqrt(1 + eps).

use super::common::{
    calib, calib_params, check_ranges, int8_or_uint8, load, range_desc, range_output_names,
    range_shapes, scalar, store_scalar, type_partial, zero_grads,
};
use super::range::{onednn_levels, real_range, round_saturate_for, QType};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::kernels::cpu::{par_ranges, Ptr};
use crate::ndarray::NDArray;
use crate::op::params::{param, Params};
use crate::op::{expect_inputs, Desc, FnOp, Inputs, Operator, Registry, SimpleDef};
use crate::shape::norm_axis;
use std::sync::Arc;

const OP: &str = "_contrib_quantized_batch_norm";

/// `y = round_saturate(pre(x)·scale[k] + shift[k])` (int8) over runs of `inner` elements of
/// one channel k each, channel by channel in parallel. Call inside the op writing `y`.
fn normalize<X: Element>(
    x: &[X],
    y: &NDArray,
    (inner, c): (usize, usize),
    (scale, shift): (&[f32], &[f32]),
    pre: impl Fn(f32) -> f32 + Sync + Send,
) {
    let rs = round_saturate_for(QType::I8);
    let inner = inner.max(1);
    // SAFETY: the caller's op writes y; each task writes its own runs.
    let out = Ptr(unsafe { y.data_mut::<i8>() }.as_mut_ptr());
    let runs = x.len().min(y.size()) / inner;
    par_ranges(runs, inner, |b, e| {
        for r in b..e {
            let k = r % c.max(1);
            let (w, s) = (scale[k], shift[k]);
            // SAFETY: run r lies inside y and belongs to this task.
            let o = unsafe { std::slice::from_raw_parts_mut(out.get().add(r * inner), inner) };
            for (o, v) in o.iter_mut().zip(&x[r * inner..]) {
                *o = i8::from_level(rs(pre(v.to_f32()) * w + s));
            }
        }
    });
}
const STATS: [&str; 4] = ["gamma", "beta", "moving_mean", "moving_var"];

fn quantized_bn(p: &Params) -> Result<Arc<dyn Operator>> {
    let eps = p.float("eps")?;
    let axis = p.int("axis")?;
    let cal = calib(p)?;
    let rule = |t: &[DType]| -> Result<Vec<DType>> {
        int8_or_uint8(OP, "data", t[0])?;
        Ok(vec![DType::I8, DType::F32, DType::F32])
    };
    let mut op = FnOp::new(
        OP,
        move |ins| {
            expect_inputs(OP, ins, 7)?;
            rule(&[ins[0].dtype])?;
            check_ranges(OP, ins, &[(5, "min_data"), (6, "max_data")])?;
            if cal.is_none() {
                return Err(Error::Value(format!(
                    "operator {OP}: min_calib_range and max_calib_range are required (MXNet's \
                     quantized BatchNorm does not support calib_mode=None)"
                )));
            }
            let d = &ins[0].shape;
            let ax = norm_axis(axis, d.ndim(), OP)?;
            let c = d[ax];
            for (k, name) in STATS.iter().enumerate() {
                let s = &ins[1 + k];
                if s.shape.dims() != [c] || s.dtype != DType::F32 {
                    return Err(Error::shape(
                        OP,
                        format!(
                            "{name} must be float32 of shape ({c},) for data {d} (axis {axis}), \
                             got {} {}",
                            s.dtype, s.shape
                        ),
                    ));
                }
            }
            Ok(vec![
                Desc::new(d.clone(), DType::I8),
                range_desc(),
                range_desc(),
            ])
        },
        move |_, ins, outs| {
            let (out_lo, out_hi) =
                cal.ok_or_else(|| Error::Internal(format!("{OP} without calibration")))?;
            let q = int8_or_uint8(OP, "data", ins[0].dtype())?;
            let shape = ins[0].shape().clone();
            let ax = norm_axis(axis, shape.ndim(), OP)?;
            let c = shape[ax];
            let inner: usize = shape.dims()[ax + 1..].iter().product();
            let abs_data = real_range(scalar(&ins[5]), scalar(&ins[6]));
            let abs_out = real_range(out_lo, out_hi);
            let (g, b, m, v) = (load(&ins[1]), load(&ins[2]), load(&ins[3]), load(&ins[4]));
            // oneDNN applies the folded scale to x / sqrt(variance + eps) with variance 1.
            let unit = (1.0f32 + eps as f32).sqrt();
            let (scale, shift): (Vec<f32>, Vec<f32>) = (0..c)
                .map(|k| {
                    let invstd = (1.0 / (v[k] as f64 + eps).sqrt()) as f32;
                    let w = g[k] * invstd * abs_data / abs_out;
                    let s = (b[k] - m[k] * g[k] * invstd) * onednn_levels(QType::I8) / abs_out;
                    (w / unit, s)
                })
                .unzip();
            let rs = round_saturate_for(QType::I8);
            let (x, y) = (&ins[0], &outs[0]);
            if q == QType::U8 {
                // uint8 data is first reordered to int8 levels (and rounded there).
                let r = onednn_levels(QType::I8) / onednn_levels(QType::U8);
                // SAFETY: the op reads ins[0] and writes outs[0].
                let xs = unsafe { x.data::<u8>() };
                normalize(xs, y, (inner, c), (&scale, &shift), |v| rs(v * r));
            } else {
                // SAFETY: as above.
                let xs = unsafe { x.data::<i8>() };
                normalize(xs, y, (inner, c), (&scale, &shift), |v| v);
            }
            store_scalar(&outs[1], out_lo);
            store_scalar(&outs[2], out_hi);
            Ok(())
        },
    )
    .with_type_partial(type_partial(OP, vec![1, 2, 3, 4, 5, 6], rule))
    .with_shape_partial(move |ins, outs| {
        if let Some(d) = ins[0].clone() {
            if let Ok(ax) = norm_axis(axis, d.ndim(), OP) {
                for s in ins.iter_mut().take(5).skip(1) {
                    s.get_or_insert_with(|| crate::shape::Shape::new(vec![d[ax]]));
                }
            }
        }
        range_shapes(vec![5, 6], vec![1, 2])(ins, outs)
    })
    .with_grad(zero_grads);
    op.num_outputs = 3;
    op.output_names = Some(range_output_names());
    // moving_mean and moving_var are auxiliary states (read, never updated at inference).
    op.mutate = vec![3, 4];
    op.aux = Some(vec![3, 4]);
    Ok(op.arc())
}

pub(super) fn register(r: &mut Registry) {
    let [min_cal, max_cal] = calib_params(
        "The maximum scalar value in the form of float32 obtained through calibration. If \
         present, it will be used to quantize the batchnorm output into int8.",
    );
    r.add(SimpleDef {
        name: OP,
        doc: "BatchNorm operator for input data type of uint8 and int8 (inference), with float32 gamma, beta, moving_mean, moving_var of shape (C,) and the data's range (min_data, max_data). min_calib_range and max_calib_range are required: the output is int8 over that range.\n\nPer channel: invstd = 1 / sqrt(moving_var + eps), w = gamma * invstd * max|data range| / max|calib|, shift = (beta - moving_mean * gamma * invstd) * 127.5 / max|calib|, out = round(x * w / sqrt(1 + eps) + shift) (rounded half to even, saturated), as MXNet 1.9.1's oneDNN kernel computes it. fix_gamma is ignored (gamma is used as given), as there.".into(),
        params: vec![
            param("eps", "double", Some("0.0010000000474974513"), "Epsilon to prevent div 0. Must be no less than CUDNN_BN_MIN_EPSILON defined in cudnn.h when using cudnn (usually 1e-5)"),
            param("momentum", "float", Some("0.899999976"), "Momentum for moving average"),
            param("fix_gamma", "boolean", Some("True"), "Fix gamma while training (ignored by the quantized op)"),
            param("use_global_stats", "boolean", Some("False"), "Whether use global moving statistics instead of local batch-norm."),
            param("output_mean_var", "boolean", Some("False"), "Output the mean and inverse std "),
            param("axis", "int", Some("1"), "Specify which shape axis the channel is specified"),
            param("cudnn_off", "boolean", Some("False"), "Do not select CUDNN operator, if available"),
            min_cal,
            max_cal,
        ],
        inputs: Inputs::Fixed(&["data", "gamma", "beta", "moving_mean", "moving_var", "min_data", "max_data"]),
        create: Box::new(quantized_bn),
    });
}
