//! What `_contrib_quantized_conv` and `_contrib_quantized_fully_connected` share: MXNet's input
//! order, the input checks, the int32 output with its range, and partial inference.

use super::common::{check_ranges, int8_or_uint8, range_desc, scalar, store_scalar};
use super::range::QType;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::ndarray::NDArray;
use crate::op::Desc;
use crate::shape::Shape;

/// Inputs of the quantized products with a bias, in MXNet's order.
pub(super) const WITH_BIAS: [&str; 9] = [
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
pub(super) fn input_names(no_bias: bool) -> Vec<String> {
    WITH_BIAS
        .iter()
        .filter(|n| !no_bias || !n.contains("bias"))
        .map(|s| s.to_string())
        .collect()
}

/// Checks what the quantized products share: the input count, int8/uint8 data, int8 weight and
/// bias, float32 ranges of shape (1,). Returns the data's quantized type.
pub(super) fn check_inputs(op: &str, no_bias: bool, ins: &[Desc]) -> Result<QType> {
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
    let qd = int8_or_uint8(op, "data", ins[0].dtype)?;
    let n_arrays = if no_bias { 2 } else { 3 };
    for (name, d) in names.iter().zip(ins).take(n_arrays).skip(1) {
        if d.dtype != DType::I8 {
            return Err(Error::dtype(
                op,
                format!("{name} must be int8, got {}", d.dtype),
            ));
        }
    }
    let ranges: Vec<(usize, &str)> = names
        .iter()
        .enumerate()
        .skip(n_arrays)
        .map(|(i, n)| (i, n.as_str()))
        .collect();
    check_ranges(op, ins, &ranges)?;
    Ok(qd)
}

/// Checks an input's shape against the one the op infers for it.
pub(super) fn expect_shape(op: &str, name: &str, got: &Shape, want: &Shape) -> Result<()> {
    if got != want {
        return Err(Error::shape(
            op,
            format!("Shape inconsistent, Provided = {got}, inferred shape={want} (input {name})"),
        ));
    }
    Ok(())
}

/// The output descriptions: int32 output and its (1,) float32 range.
pub(super) fn outputs(out: Shape) -> Vec<Desc> {
    vec![Desc::new(out, DType::I32), range_desc(), range_desc()]
}

/// Fills what partial inference can say: the weight (and bias) dtypes, the ranges' dtypes and
/// the outputs' dtypes; a given dtype that disagrees is an error. Data of unknown dtype is taken
/// as int8, as MXNet's non-oneDNN type rule assigns it (a bare symbol's `infer_shape` would
/// otherwise check its data as float32).
pub(super) fn partial_types(
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
pub(super) fn partial_range_shapes(
    no_bias: bool,
    ins: &mut [Option<Shape>],
    outs: &mut [Option<Shape>],
) {
    let n_arrays = if no_bias { 2 } else { 3 };
    for s in ins.iter_mut().skip(n_arrays) {
        s.get_or_insert(Shape(vec![1]));
    }
    for s in outs.iter_mut().skip(1) {
        s.get_or_insert(Shape(vec![1]));
    }
}

/// The (min, max) a pair of (1,) range inputs holds. Call inside the op reading `ins`.
pub(super) fn range_of(ins: &[NDArray], first: usize) -> (f32, f32) {
    (scalar(&ins[first]), scalar(&ins[first + 1]))
}

/// Writes the output range into the op's second and third outputs. Call inside the op.
pub(super) fn write_range(outs: &[NDArray], r: (f32, f32)) {
    store_scalar(&outs[1], r.0);
    store_scalar(&outs[2], r.1);
}
