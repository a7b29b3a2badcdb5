//! Converting between float32 and quantized tensors: `_contrib_quantize`,
//! `_contrib_quantize_v2`, `_contrib_quantize_asym`, `_contrib_dequantize` and
//! `_contrib_requantize`, with the arithmetic of MXNet 1.9.1's oneDNN kernels on CPU (see the
//! module doc of `quantization` for where that differs from the formulas in MXNet's source).

use super::common::{
    calib, calib_params, check_ranges, copy_bytes, data_and_range_shapes, dtype_of, load, map_into,
    out_type, qtype, range_desc, resolve_out_type, scalar, store, store_scalar, type_partial,
    with_output_types, zero_grads,
};
use super::range::{onednn_levels, real_range, round_saturate_for, QType};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::params::{param, Params};
use crate::op::{expect_inputs, Desc, FnOp, Inputs, Operator, Registry, SimpleDef};
use std::sync::Arc;

const QUANTIZE: &str = "_contrib_quantize";
const QUANTIZE_V2: &str = "_contrib_quantize_v2";
const QUANTIZE_ASYM: &str = "_contrib_quantize_asym";
const DEQUANTIZE: &str = "_contrib_dequantize";
const REQUANTIZE: &str = "_contrib_requantize";

/// The smallest and largest non-NaN value (MXNet's reduction starts from the float limits).
fn data_min_max(v: &[f32]) -> (f32, f32) {
    v.iter().fold((f32::MAX, f32::MIN), |(lo, hi), &x| {
        (if x < lo { x } else { lo }, if x > hi { x } else { hi })
    })
}

/// The output range a symmetric quantization reports: int8 is zero-centred (±max|range|),
/// uint8 keeps the range it was given.
fn reported_range(lo: f32, hi: f32, q: QType) -> (f32, f32) {
    if q == QType::I8 {
        let r = real_range(lo, hi);
        (-r, r)
    } else {
        (lo, hi)
    }
}

fn check_float_data(op: &str, d: &Desc) -> Result<()> {
    if d.dtype != DType::F32 {
        return Err(Error::dtype(
            op,
            format!("data must be float32, got {}", d.dtype),
        ));
    }
    Ok(())
}

/// `quantize`: data with the range (min_range, max_range) given as arrays. oneDNN scales by
/// 127 (int8) or 255 (uint8) over the range's magnitude.
fn quantize(p: &Params) -> Result<Arc<dyn Operator>> {
    let q = match p.choice("out_type", &["int8", "uint8"])? {
        "int8" => QType::I8,
        _ => QType::U8,
    };
    let rule = move |ins: &[DType]| -> Result<Vec<DType>> {
        if ins[0] != DType::F32 {
            return Err(Error::dtype(
                QUANTIZE,
                format!("data must be float32, got {}", ins[0]),
            ));
        }
        Ok(vec![dtype_of(q), DType::F32, DType::F32])
    };
    let mut op = FnOp::new(
        QUANTIZE,
        move |ins| {
            expect_inputs(QUANTIZE, ins, 3)?;
            check_float_data(QUANTIZE, &ins[0])?;
            check_ranges(QUANTIZE, ins, &[(1, "min_range"), (2, "max_range")])?;
            Ok(vec![
                Desc::new(ins[0].shape.clone(), dtype_of(q)),
                range_desc(),
                range_desc(),
            ])
        },
        move |_, ins, outs| {
            let (lo, hi) = (scalar(&ins[1]), scalar(&ins[2]));
            let levels = q.highest() as f32;
            let scale = levels / real_range(lo, hi);
            let rs = round_saturate_for(q);
            map_into(&ins[0], &outs[0], |_, x| rs(x * scale));
            let (olo, ohi) = reported_range(lo, hi, q);
            store_scalar(&outs[1], olo);
            store_scalar(&outs[2], ohi);
            Ok(())
        },
    )
    .with_type_partial(with_output_types(
        QUANTIZE,
        vec![dtype_of(q), DType::F32, DType::F32],
        type_partial(QUANTIZE, vec![1, 2], rule),
    ))
    .with_shape_partial(data_and_range_shapes(vec![1, 2], vec![1, 2]))
    .with_grad(zero_grads);
    op.num_outputs = 3;
    Ok(op.arc())
}

/// `quantize_v2`: float32 data over its calibrated range (or its own min/max), scaled by 127.5
/// (int8) or 255.5 (uint8) over the range's magnitude. Already-quantized data passes through
/// unchanged, bytes and all, under the requested type.
fn quantize_v2(p: &Params) -> Result<Arc<dyn Operator>> {
    let cal = calib(p)?;
    let q = resolve_out_type(out_type(p)?, cal);
    let rule = move |ins: &[DType]| -> Result<Vec<DType>> {
        if !matches!(ins[0], DType::F32 | DType::I8 | DType::U8) {
            return Err(Error::dtype(
                QUANTIZE_V2,
                format!("data must be float32, int8 or uint8, got {}", ins[0]),
            ));
        }
        Ok(vec![dtype_of(q), DType::F32, DType::F32])
    };
    let r2 = rule;
    let mut op = FnOp::new(
        QUANTIZE_V2,
        move |ins| {
            expect_inputs(QUANTIZE_V2, ins, 1)?;
            let t = r2(&[ins[0].dtype])?;
            Ok(vec![
                Desc::new(ins[0].shape.clone(), t[0]),
                range_desc(),
                range_desc(),
            ])
        },
        move |_, ins, outs| {
            let x = &ins[0];
            if let Some(iq) = qtype(x.dtype()) {
                copy_bytes(x, &outs[0]);
                let (lo, hi) = cal.unwrap_or(match iq {
                    QType::U8 => (0.0, onednn_levels(QType::U8)),
                    _ => (-onednn_levels(QType::I8), onednn_levels(QType::I8)),
                });
                store_scalar(&outs[1], lo);
                store_scalar(&outs[2], hi);
                return Ok(());
            }
            let (lo, hi) = cal.unwrap_or_else(|| data_min_max(&load(x)));
            let scale = onednn_levels(q) / real_range(lo, hi);
            let rs = round_saturate_for(q);
            map_into(x, &outs[0], |_, x| rs(x * scale));
            let (olo, ohi) = reported_range(lo, hi, q);
            store_scalar(&outs[1], olo);
            store_scalar(&outs[2], ohi);
            Ok(())
        },
    )
    .with_type_partial(with_output_types(
        QUANTIZE_V2,
        vec![dtype_of(q), DType::F32, DType::F32],
        type_partial(QUANTIZE_V2, vec![], rule),
    ))
    .with_shape_partial(data_and_range_shapes(vec![], vec![1, 2]))
    .with_grad(zero_grads);
    op.num_outputs = 3;
    Ok(op.arc())
}

/// `quantize_asym`: uint8 = x * scale + shift with scale = 255 / (max - min) and
/// shift = 255 - max * scale, rounded half to even and saturated (oneDNN's reorder; MXNet's
/// own fallback, used for non-3-D data, crashes).
fn quantize_asym(p: &Params) -> Result<Arc<dyn Operator>> {
    let cal = calib(p)?;
    let rule = |ins: &[DType]| -> Result<Vec<DType>> {
        if ins[0] != DType::F32 {
            return Err(Error::dtype(
                QUANTIZE_ASYM,
                format!("data must be float32, got {}", ins[0]),
            ));
        }
        Ok(vec![DType::U8, DType::F32, DType::F32])
    };
    let mut op = FnOp::new(
        QUANTIZE_ASYM,
        move |ins| {
            expect_inputs(QUANTIZE_ASYM, ins, 1)?;
            check_float_data(QUANTIZE_ASYM, &ins[0])?;
            Ok(vec![
                Desc::new(ins[0].shape.clone(), DType::U8),
                range_desc(),
                range_desc(),
            ])
        },
        move |_, ins, outs| {
            let v = load(&ins[0]);
            let (lo, hi) = cal.unwrap_or_else(|| data_min_max(&v));
            let scale = 255.0f32 / (hi - lo);
            let shift = 255.0f32 - hi * scale;
            let rs = round_saturate_for(QType::U8);
            let out: Vec<f32> = v.iter().map(|&x| rs(x * scale + shift)).collect();
            store(&outs[0], &out);
            store_scalar(&outs[1], scale);
            store_scalar(&outs[2], shift);
            Ok(())
        },
    )
    .with_type_partial(with_output_types(
        QUANTIZE_ASYM,
        vec![DType::U8, DType::F32, DType::F32],
        type_partial(QUANTIZE_ASYM, vec![], rule),
    ))
    .with_shape_partial(data_and_range_shapes(vec![], vec![1, 2]))
    .with_grad(zero_grads);
    op.num_outputs = 3;
    op.output_names = Some(vec!["output".into(), "scale".into(), "shift".into()]);
    Ok(op.arc())
}

/// `dequantize`: level * (max|range| / levels) with oneDNN's 127.5 (int8) and 255.5 (uint8);
/// int32 (which MXNet 1.9.1 refuses) uses 2^31 - 1.
fn dequantize(p: &Params) -> Result<Arc<dyn Operator>> {
    p.choice("out_type", &["float32"])?;
    let rule = |ins: &[DType]| -> Result<Vec<DType>> {
        if qtype(ins[0]).is_none() {
            return Err(Error::dtype(
                DEQUANTIZE,
                format!("data must be int8, uint8 or int32, got {}", ins[0]),
            ));
        }
        Ok(vec![DType::F32])
    };
    let r2 = rule;
    let op = FnOp::new(
        DEQUANTIZE,
        move |ins| {
            expect_inputs(DEQUANTIZE, ins, 3)?;
            r2(&[ins[0].dtype])?;
            check_ranges(DEQUANTIZE, ins, &[(1, "min_range"), (2, "max_range")])?;
            Ok(vec![Desc::new(ins[0].shape.clone(), DType::F32)])
        },
        move |_, ins, outs| {
            let q = qtype(ins[0].dtype())
                .ok_or_else(|| Error::Internal("dequantize of a float array".into()))?;
            let scale = real_range(scalar(&ins[1]), scalar(&ins[2])) / onednn_levels(q);
            map_into(&ins[0], &outs[0], |_, x| x * scale);
            Ok(())
        },
    )
    .with_type_partial(type_partial(DEQUANTIZE, vec![1, 2], rule))
    .with_shape_partial(data_and_range_shapes(vec![1, 2], vec![]))
    .with_grad(zero_grads);
    Ok(op.arc())
}

/// `requantize`: int32 data (range ± max|range| over 2^31 - 1 levels) to int8 (127 levels) or
/// uint8 (255 levels) over the calibrated range, or without calibration over the range the
/// data's largest magnitude stands for. One scale, as oneDNN's reorder applies it.
fn requantize(p: &Params) -> Result<Arc<dyn Operator>> {
    let cal = calib(p)?;
    let q = resolve_out_type(out_type(p)?, cal);
    let rule = move |ins: &[DType]| -> Result<Vec<DType>> {
        if ins[0] != DType::I32 {
            return Err(Error::dtype(
                REQUANTIZE,
                format!("data must be int32, got {}", ins[0]),
            ));
        }
        Ok(vec![dtype_of(q), DType::F32, DType::F32])
    };
    let r2 = rule;
    let mut op = FnOp::new(
        REQUANTIZE,
        move |ins| {
            expect_inputs(REQUANTIZE, ins, 3)?;
            let t = r2(&[ins[0].dtype])?;
            check_ranges(REQUANTIZE, ins, &[(1, "min_range"), (2, "max_range")])?;
            Ok(vec![
                Desc::new(ins[0].shape.clone(), t[0]),
                range_desc(),
                range_desc(),
            ])
        },
        move |_, ins, outs| {
            let in_real = real_range(scalar(&ins[1]), scalar(&ins[2]));
            let i32_levels = QType::I32.highest() as f32;
            let real = match cal {
                Some((lo, hi)) => real_range(lo, hi),
                None => {
                    // SAFETY: the op reads its int32 data.
                    let d = unsafe { ins[0].data::<i32>() };
                    let (lo, hi) = d
                        .iter()
                        .fold((i32::MAX, i32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
                    // MXNet stores max(|lo|, |hi|) in an int32 first; |i32::MIN| saturates.
                    let mag = real_range(lo as f32, hi as f32).min(i32::MAX as f32) as i32;
                    mag as f32 * in_real / i32_levels
                }
            };
            let scale = (in_real / i32_levels) * (q.highest() as f32 / real);
            let rs = round_saturate_for(q);
            map_into(&ins[0], &outs[0], |_, x| rs(x * scale));
            let lo = if q == QType::I8 { -real } else { 0.0 };
            store_scalar(&outs[1], lo);
            store_scalar(&outs[2], real);
            Ok(())
        },
    )
    .with_type_partial(type_partial(REQUANTIZE, vec![1, 2], rule))
    .with_shape_partial(data_and_range_shapes(vec![1, 2], vec![1, 2]))
    .with_grad(zero_grads);
    op.num_outputs = 3;
    Ok(op.arc())
}

pub(super) fn register(r: &mut Registry) {
    let [min_cal, max_cal] = calib_params(
        "The maximum scalar value in the form of float32 obtained through calibration. If \
         present, it is used to quantize the float32 data.",
    );
    r.add(SimpleDef {
        name: QUANTIZE,
        doc: "Quantize a input tensor from float to `out_type`, with user-specified `min_range` and `max_range`.\n\nmin_range and max_range are float32 arrays of shape (1,). With oneDNN (MXNet's CPU kernel) the output is\n    out = round(data * L / max(|min_range|, |max_range|))\nrounded half to even and saturated, with L = 127 for int8 and 255 for uint8. The reported range is ±max(|min_range|, |max_range|) for int8 and (min_range, max_range) for uint8.".into(),
        params: vec![param("out_type", "{'int8', 'uint8'}", Some("'uint8'"), "Output data type.")],
        inputs: Inputs::Fixed(&["data", "min_range", "max_range"]),
        create: Box::new(quantize),
    });
    r.add(SimpleDef {
        name: QUANTIZE_V2,
        doc: "Quantize a input tensor from float to `out_type`, with user-specified `min_calib_range` and `max_calib_range` or the input range collected at runtime.\n\nThe output is round(data * L / max(|min|, |max|)), rounded half to even and saturated, with L = 127.5 for int8 and 255.5 for uint8 (MXNet 1.9.1's kInt8Range/kUint8Range). Without calibration (min, max) is the data's own. The reported range is ±max(|min|, |max|) for int8 and (min, max) for uint8. `auto` picks uint8 when calibrated with min_calib_range >= 0, else int8. int8/uint8 data passes through unchanged (its range: the calibration, or ±127.5 / (0, 255.5)).".into(),
        params: vec![
            param("out_type", "{'auto', 'int8', 'uint8'}", Some("'int8'"), "Output data type. `auto` can be specified to automatically determine output type according to min_calib_range."),
            min_cal,
            max_cal,
        ],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(quantize_v2),
    });
    let [min_cal, max_cal] = calib_params(
        "The maximum scalar value in the form of float32. If present, it will be used to \
         quantize the fp32 data.",
    );
    r.add(SimpleDef {
        name: QUANTIZE_ASYM,
        doc: "Quantize a input tensor from float to uint8_t.\n\nscale = 255 / (max - min), shift = 255 - max * scale over the calibrated range or the data's own; output = round(data * scale + shift), rounded half to even and saturated to [0, 255]. Outputs: the uint8 data, scale and shift (float32, shape (1,)).".into(),
        params: vec![min_cal, max_cal],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(quantize_asym),
    });
    r.add(SimpleDef {
        name: DEQUANTIZE,
        doc: "Dequantize the input tensor into a float tensor.\n\nmin_range and max_range are float32 arrays of shape (1,). output = data * max(|min_range|, |max_range|) / L with L = 127.5 for int8 and 255.5 for uint8 (MXNet 1.9.1's oneDNN kernel) and 2^31 - 1 for int32.".into(),
        params: vec![param("out_type", "{'float32'}", Some("'float32'"), "Output data type.")],
        inputs: Inputs::Fixed(&["data", "min_range", "max_range"]),
        create: Box::new(dequantize),
    });
    let [min_cal, max_cal] = calib_params(
        "The maximum scalar value in the form of float32 obtained through calibration. If \
         present, it will be used to requantize the int32 data into int8.",
    );
    r.add(SimpleDef {
        name: REQUANTIZE,
        doc: "Given data that is quantized in int32 and the corresponding thresholds, requantize the data into int8 (or uint8) using min and max thresholds either calculated at runtime or from calibration.\n\nThe int32 data stands for data * max(|min_range|, |max_range|) / (2^31 - 1). The new range R is max(|min_calib_range|, |max_calib_range|), or without calibration the real value of the data's largest magnitude; output = round(data * (max|range| / (2^31 - 1)) * (L / R)), rounded half to even and saturated, with L = 127 (int8) or 255 (uint8). The reported range is ±R for int8 and (0, R) for uint8.".into(),
        params: vec![
            param("out_type", "{'auto', 'int8', 'uint8'}", Some("'int8'"), "Output data type. `auto` can be specified to automatically determine output type according to min_calib_range."),
            min_cal,
            max_cal,
        ],
        inputs: Inputs::Fixed(&["data", "min_range", "max_range"]),
        create: Box::new(requantize),
    });
}
