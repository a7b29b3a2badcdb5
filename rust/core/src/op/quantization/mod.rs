//! MXNet's INT8 quantization operators (`_contrib_quantize*`, `_contrib_dequantize`,
//! `_contrib_requantize`, `_contrib_quantized_*`) and the calibration op
//! `_contrib_calibrate_entropy`. Every quantized tensor travels with two float32 arrays of shape
//! (1,) holding the real-valued range it stands for; `range` holds MXNet's arithmetic for those
//! ranges so that every op rounds as MXNet 1.9.1 does.

pub mod conv;
pub mod fully_connected;
pub mod range;

use super::Registry;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::ndarray::NDArray;
use crate::op::Desc;
use crate::shape::Shape;
use range::QType;

pub fn register(r: &mut Registry) {
    conv::register(r);
    fully_connected::register(r);
}

/// Inputs of the quantized products with a bias, in MXNet's order.
const WITH_BIAS: [&str; 9] = [
    "data",
    "weight",
    "bias",
    "min_data",
    "max_data",
    "min_weight",
    "max_weight",
    "min_bias",
    "max_bias",
];

/// Input names of a quantized product: the bias and its range drop out with no_bias.
fn input_names(no_bias: bool) -> Vec<String> {
    WITH_BIAS
        .iter()
        .filter(|n| !no_bias || !n.contains("bias"))
        .map(|s| s.to_string())
        .collect()
}

/// Output names of a quantized product.
fn output_names() -> Vec<String> {
    ["output", "min_output", "max_output"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// Checks what the quantized products share: the input count, int8/uint8 data, int8 weight and
/// bias, float32 ranges of shape (1,). Returns the data's quantized type.
fn check_inputs(op: &str, no_bias: bool, ins: &[Desc]) -> Result<QType> {
    let names = input_names(no_bias);
    if ins.len() != names.len() {
        return Err(Error::Value(format!(
            "operator {op} takes {} inputs ({}){}, {} given",
            names.len(),
            names.join(", "),
            if no_bias { " with no_bias=True" } else { "" },
            ins.len()
        )));
    }
    let qd = match ins[0].dtype {
        DType::I8 => QType::I8,
        DType::U8 => QType::U8,
        d => {
            return Err(Error::dtype(
                op,
                format!("data must be int8 or uint8, got {d}"),
            ))
        }
    };
    let n_arrays = if no_bias { 2 } else { 3 };
    for (name, d) in names.iter().zip(ins).take(n_arrays).skip(1) {
        if d.dtype != DType::I8 {
            return Err(Error::dtype(
                op,
                format!("{name} must be int8, got {}", d.dtype),
            ));
        }
    }
    for (name, d) in names.iter().zip(ins).skip(n_arrays) {
        if d.shape.0 != [1] {
            return Err(Error::shape(
                op,
                format!("{name} must have shape (1,), got {}", d.shape),
            ));
        }
        if d.dtype != DType::F32 {
            return Err(Error::dtype(
                op,
                format!("{name} must be float32, got {}", d.dtype),
            ));
        }
    }
    Ok(qd)
}

/// Checks an input's shape against the one the op infers for it.
fn expect_shape(op: &str, name: &str, got: &Shape, want: &Shape) -> Result<()> {
    if got != want {
        return Err(Error::shape(
            op,
            format!("Shape inconsistent, Provided = {got}, inferred shape={want} (input {name})"),
        ));
    }
    Ok(())
}

/// The output descriptions: int32 output and its (1,) float32 range.
fn outputs(out: Shape) -> Vec<Desc> {
    vec![
        Desc::new(out, DType::I32),
        Desc::new(Shape(vec![1]), DType::F32),
        Desc::new(Shape(vec![1]), DType::F32),
    ]
}

/// Fills what partial inference can say: the weight (and bias) dtypes, the ranges' dtypes and
/// the outputs' dtypes; a given dtype that disagrees is an error. Data of unknown dtype is taken
/// as int8, as MXNet's non-oneDNN type rule assigns it (a bare symbol's `infer_shape` would
/// otherwise check its data as float32).
fn partial_types(
    op: &'static str,
    no_bias: bool,
    ins: &mut [Option<DType>],
    outs: &mut [Option<DType>],
) -> Result<()> {
    let names = input_names(no_bias);
    let n_arrays = if no_bias { 2 } else { 3 };
    let want = |i: usize| if i < n_arrays { DType::I8 } else { DType::F32 };
    match ins.first_mut() {
        Some(Some(DType::I8 | DType::U8)) | None => {}
        Some(Some(d)) => {
            return Err(Error::dtype(
                op,
                format!("data must be int8 or uint8, got {d}"),
            ))
        }
        Some(t) => *t = Some(DType::I8),
    }
    for (i, t) in ins.iter_mut().enumerate().skip(1) {
        match t {
            Some(x) if *x != want(i) => {
                return Err(Error::dtype(
                    op,
                    format!(
                        "{} must be {}, got {x}",
                        names.get(i).map_or("input", |s| s.as_str()),
                        want(i)
                    ),
                ))
            }
            _ => *t = Some(want(i)),
        }
    }
    for (o, want) in outs.iter_mut().zip([DType::I32, DType::F32, DType::F32]) {
        *o = Some(want);
    }
    Ok(())
}

/// Fills the ranges' (1,) shapes and the (1,) output ranges.
fn partial_range_shapes(no_bias: bool, ins: &mut [Option<Shape>], outs: &mut [Option<Shape>]) {
    let n_arrays = if no_bias { 2 } else { 3 };
    for s in ins.iter_mut().skip(n_arrays) {
        s.get_or_insert(Shape(vec![1]));
    }
    for s in outs.iter_mut().skip(1) {
        s.get_or_insert(Shape(vec![1]));
    }
}

/// The (min, max) a pair of (1,) range inputs holds.
///
/// # Safety
/// Called inside the op that reads `ins`; `check_inputs` checked the shapes and dtypes.
unsafe fn range_of(ins: &[NDArray], first: usize) -> (f32, f32) {
    (ins[first].data::<f32>()[0], ins[first + 1].data::<f32>()[0])
}

/// Writes the output range into the op's second and third outputs.
///
/// # Safety
/// As `range_of`, for the outputs.
unsafe fn write_range(outs: &[NDArray], r: (f32, f32)) {
    outs[1].data_mut::<f32>()[0] = r.0;
    outs[2].data_mut::<f32>()[0] = r.1;
}
