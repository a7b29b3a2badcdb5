//! `_contrib_quantized_elemwise_add` and `_contrib_quantized_elemwise_mul`: elementwise sums
//! and products of quantized tensors, each with its own range. Without calibration the sum
//! is int32 over the sum of the ranges and the product int32 over the product of the levels;
//! with calibration both write 8-bit values over the calibrated range.

use super::common::{
    calib, calib_params, check_ranges, dtype_of, load, range_desc, range_output_names,
    range_shapes, scalar, store, store_scalar, type_partial,
};
use super::range::{
    onednn_levels, product_range, real_range, round_saturate, round_saturate_for, QType,
};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::params::{param, Params};
use crate::op::{expect_inputs, Desc, FnOp, Inputs, Operator, Registry, SimpleDef};
use std::sync::Arc;

const ADD: &str = "_contrib_quantized_elemwise_add";
const MUL: &str = "_contrib_quantized_elemwise_mul";
const RANGES: [(usize, &str); 4] = [
    (2, "lhs_min"),
    (3, "lhs_max"),
    (4, "rhs_min"),
    (5, "rhs_max"),
];

fn same_shape(op: &str, ins: &[Desc]) -> Result<()> {
    if ins[0].shape != ins[1].shape {
        return Err(Error::shape(
            op,
            format!(
                "lhs and rhs must have one shape (no broadcasting), got {} and {}",
                ins[0].shape, ins[1].shape
            ),
        ));
    }
    Ok(())
}

/// The add's operand types (int8 or uint8 each) and its output type.
fn add_types(cal: Option<(f32, f32)>, ins: &[DType]) -> Result<(QType, QType, QType)> {
    let q = |i: usize, name: &str| match ins[i] {
        DType::I8 => Ok(QType::I8),
        DType::U8 => Ok(QType::U8),
        t => Err(Error::dtype(
            ADD,
            format!("{name} must be int8 or uint8, got {t}"),
        )),
    };
    let (qa, qb) = (q(0, "lhs")?, q(1, "rhs")?);
    let out = match cal {
        Some(_) if qa == qb => qa,
        Some(_) => QType::I8,
        None => QType::I32,
    };
    Ok((qa, qb, out))
}

/// The sum as oneDNN's `sum` primitive computes it: each operand times its scale, summed in
/// f32, rounded half to even, saturated. A uint8 operand added to an int8 one is first
/// reordered to int8 with its own scale (and saturates there, as in MXNet).
fn add_forward(
    cal: Option<(f32, f32)>,
    qa: QType,
    qb: QType,
    qo: QType,
    ins: &[Vec<f32>],
    r: [f32; 4],
) -> (Vec<f32>, f32, f32) {
    let (a_abs, b_abs) = (real_range(r[0], r[1]), real_range(r[2], r[3]));
    let a_scale = onednn_levels(qa) / a_abs;
    let b_scale = onednn_levels(qb) / b_abs;
    let out_levels = onednn_levels(qo);
    let (out_min, out_max, out_scale) = match cal {
        Some((lo, hi)) => (lo, hi, out_levels / real_range(lo, hi)),
        None => (-(a_abs + b_abs), a_abs + b_abs, 0.0),
    };
    let sum = a_abs + b_abs;
    let mut s = [1.0f32, 1.0];
    let mut a = ins[0].clone();
    let mut b = ins[1].clone();
    if qa != qb {
        let a_is_i8 = qa == QType::I8;
        let u8_scale = match (cal, a_is_i8) {
            (Some(_), true) => {
                s[0] = out_scale / a_scale;
                out_scale / b_scale
            }
            (Some(_), false) => {
                s[1] = out_scale / b_scale;
                out_scale / a_scale
            }
            (None, true) => {
                s[0] = a_abs * out_levels / (sum * onednn_levels(qa));
                b_abs * out_levels / (sum * onednn_levels(QType::U8))
            }
            (None, false) => {
                s[1] = b_abs * out_levels / (sum * onednn_levels(QType::I8));
                a_abs * out_levels / (sum * onednn_levels(qa))
            }
        };
        let u8_side = if a_is_i8 { &mut b } else { &mut a };
        for v in u8_side.iter_mut() {
            *v = round_saturate(*v * u8_scale, QType::I8);
        }
    } else if cal.is_some() {
        s = [out_scale / a_scale, out_scale / b_scale];
    } else {
        s = [
            a_abs * out_levels / (sum * onednn_levels(qa)),
            b_abs * out_levels / (sum * onednn_levels(qa)),
        ];
    }
    let rs = round_saturate_for(qo);
    let out = a
        .iter()
        .zip(&b)
        .map(|(&x, &y)| rs(s[0] * x + s[1] * y))
        .collect();
    (out, out_min, out_max)
}

fn quantized_add(p: &Params) -> Result<Arc<dyn Operator>> {
    let cal = calib(p)?;
    let rule = move |ins: &[DType]| -> Result<Vec<DType>> {
        let (_, _, qo) = add_types(cal, ins)?;
        Ok(vec![dtype_of(qo), DType::F32, DType::F32])
    };
    let r2 = rule;
    let mut op = FnOp::new(
        ADD,
        move |ins| {
            expect_inputs(ADD, ins, 6)?;
            let t = r2(&[ins[0].dtype, ins[1].dtype])?;
            same_shape(ADD, ins)?;
            check_ranges(ADD, ins, &RANGES)?;
            Ok(vec![
                Desc::new(ins[0].shape.clone(), t[0]),
                range_desc(),
                range_desc(),
            ])
        },
        move |_, ins, outs| {
            let (qa, qb, qo) = add_types(cal, &[ins[0].dtype(), ins[1].dtype()])?;
            let r = [
                scalar(&ins[2]),
                scalar(&ins[3]),
                scalar(&ins[4]),
                scalar(&ins[5]),
            ];
            let (out, lo, hi) = add_forward(cal, qa, qb, qo, &[load(&ins[0]), load(&ins[1])], r);
            store(&outs[0], &out);
            store_scalar(&outs[1], lo);
            store_scalar(&outs[2], hi);
            Ok(())
        },
    )
    .with_type_partial(type_partial(ADD, vec![2, 3, 4, 5], rule))
    .with_shape_partial(range_shapes(vec![2, 3, 4, 5], vec![1, 2]));
    op.num_outputs = 3;
    op.output_names = Some(range_output_names());
    Ok(op.arc())
}

/// How the product is written: float32, int8 over a calibrated range, or exact int32.
#[derive(Clone, Copy)]
enum MulOut {
    Float,
    Int8(f32, f32),
    Int32,
}

fn quantized_mul(p: &Params) -> Result<Arc<dyn Operator>> {
    let mode = if p.bool("enable_float_output")? {
        MulOut::Float
    } else {
        match calib(p)? {
            Some((lo, hi)) => MulOut::Int8(lo, hi),
            None => MulOut::Int32,
        }
    };
    let rule = move |ins: &[DType]| -> Result<Vec<DType>> {
        for (i, name) in [(0, "lhs"), (1, "rhs")] {
            if ins[i] != DType::I8 {
                return Err(Error::dtype(
                    MUL,
                    format!(
                        "{name} must be int8 (the only type MXNet multiplies), got {}",
                        ins[i]
                    ),
                ));
            }
        }
        Ok(match mode {
            MulOut::Float => vec![DType::F32],
            MulOut::Int8(..) => vec![DType::I8, DType::F32, DType::F32],
            MulOut::Int32 => vec![DType::I32, DType::F32, DType::F32],
        })
    };
    let r2 = rule;
    let mut op = FnOp::new(
        MUL,
        move |ins| {
            expect_inputs(MUL, ins, 6)?;
            let t = r2(&[ins[0].dtype, ins[1].dtype])?;
            same_shape(MUL, ins)?;
            check_ranges(MUL, ins, &RANGES)?;
            let mut out = vec![Desc::new(ins[0].shape.clone(), t[0])];
            if t.len() == 3 {
                out.extend([range_desc(), range_desc()]);
            }
            Ok(out)
        },
        move |_, ins, outs| {
            let (l, r) = (
                (scalar(&ins[2]), scalar(&ins[3])),
                (scalar(&ins[4]), scalar(&ins[5])),
            );
            let l_scale = onednn_levels(QType::I8) / real_range(l.0, l.1);
            let r_scale = onednn_levels(QType::I8) / real_range(r.0, r.1);
            let (a, b) = (load(&ins[0]), load(&ins[1]));
            // The int8 product is exact in f32 (|a * b| <= 2^14).
            let prod = a.iter().zip(&b).map(|(&x, &y)| x * y);
            match mode {
                MulOut::Float => {
                    let scale = (1.0f64 / l_scale as f64 / r_scale as f64) as f32;
                    store(&outs[0], &prod.map(|v| v * scale).collect::<Vec<_>>());
                }
                MulOut::Int8(lo, hi) => {
                    let scale = onednn_levels(QType::I8) / real_range(lo, hi) / l_scale / r_scale;
                    // MXNet casts the float straight to int8: truncation toward zero, and
                    // values beyond int8 wrap (x86 converts to int32 and keeps the low byte).
                    let v: Vec<f32> = prod.map(|v| ((v * scale) as i32) as i8 as f32).collect();
                    store(&outs[0], &v);
                    store_scalar(&outs[1], lo);
                    store_scalar(&outs[2], hi);
                }
                MulOut::Int32 => {
                    store(&outs[0], &prod.collect::<Vec<_>>());
                    let (lo, hi) = product_range(l, QType::I8, r, QType::I8);
                    store_scalar(&outs[1], lo);
                    store_scalar(&outs[2], hi);
                }
            }
            Ok(())
        },
    )
    .with_type_partial(type_partial(MUL, vec![2, 3, 4, 5], rule));
    if matches!(mode, MulOut::Float) {
        op = op.with_shape_partial(range_shapes(vec![2, 3, 4, 5], vec![]));
    } else {
        op = op.with_shape_partial(range_shapes(vec![2, 3, 4, 5], vec![1, 2]));
        op.num_outputs = 3;
        op.output_names = Some(range_output_names());
    }
    // MXNet registers zero gradients for the product (MakeZeroGradNodes).
    let op = op.with_grad(super::common::zero_grads);
    Ok(op.arc())
}

pub(super) fn register(r: &mut Registry) {
    let [min_cal, max_cal] = calib_params(
        "The maximum scalar value in the form of float32 obtained through calibration. If \
         present, it will be used to requantize the output into int8/uint8.",
    );
    r.add(SimpleDef {
        name: ADD,
        doc: "elemwise_add operator for input dataA and input dataB data type of int8 or uint8, each with its float32 range (shape (1,)).\n\nWithout calibration the result is int32 over the range ±(max|lhs range| + max|rhs range|). With min_calib_range/max_calib_range it is int8 (uint8 when both inputs are uint8) over the calibrated range. Each operand is scaled to the output's levels (oneDNN's 127.5 / 255.5 / 2^31 - 1), summed, rounded half to even and saturated; a uint8 operand added to an int8 one is first rescaled to int8, where it saturates, as in MXNet 1.9.1.".into(),
        params: vec![min_cal, max_cal],
        inputs: Inputs::Fixed(&["lhs", "rhs", "lhs_min", "lhs_max", "rhs_min", "rhs_max"]),
        create: Box::new(quantized_add),
    });
    let [min_cal, max_cal] = calib_params(
        "The maximum scalar value in the form of float32 obtained through calibration. If \
         present, it will be used to requantize the int32 output into int8.",
    );
    r.add(SimpleDef {
        name: MUL,
        doc: "Multiplies arguments int8 element-wise.\n\nWithout calibration the output is the exact int32 product over the range ±(max|lhs range| / 127) * (max|rhs range| / 127) * 2^31. With calibration it is int8: product * (127.5 / max|calib|) / (127.5 / max|lhs range|) / (127.5 / max|rhs range|), truncated toward zero and wrapped to int8 as MXNet's cast does. enable_float_output gives one float32 output: product * max|lhs range| / 127.5 * max|rhs range| / 127.5.".into(),
        params: vec![
            min_cal,
            max_cal,
            param("enable_float_output", "boolean", Some("False"), "Whether to enable float32 output"),
        ],
        inputs: Inputs::Fixed(&["lhs", "rhs", "lhs_min", "lhs_max", "rhs_min", "rhs_max"]),
        create: Box::new(quantized_mul),
    });
}
