//! Helpers the quantized operators share: which dtypes are quantized, the (1,)-shaped float32
//! range inputs, typed loads and stores, parameters every op parses the same way, and the
//! graph type/shape rules that follow from one forward rule.

use super::range::QType;
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::graph::infer::same_shape_partial;
use crate::kernels::cpu::elemwise::fill_indexed;
use crate::kernels::cpu::{par_ranges, Ptr};
use crate::ndarray::NDArray;
use crate::op::params::{param, ParamSpec, Params};
use crate::op::Desc;
use crate::shape::Shape;
use crate::with_dtype;

/// The quantized type stored in `dt`, if it is one.
pub fn qtype(dt: DType) -> Option<QType> {
    match dt {
        DType::I8 => Some(QType::I8),
        DType::U8 => Some(QType::U8),
        DType::I32 => Some(QType::I32),
        _ => None,
    }
}

pub fn dtype_of(q: QType) -> DType {
    match q {
        QType::I8 => DType::I8,
        QType::U8 => DType::U8,
        QType::I32 => DType::I32,
    }
}

/// `data`'s dtype as int8 or uint8, else an error naming the op and what it accepts.
pub fn int8_or_uint8(op: &str, what: &str, dt: DType) -> Result<QType> {
    match dt {
        DType::I8 => Ok(QType::I8),
        DType::U8 => Ok(QType::U8),
        _ => Err(Error::dtype(
            op,
            format!("{what} must be int8 or uint8, got {dt}"),
        )),
    }
}

/// Checks that the inputs at `idx` (named by `names`) are float32 arrays of shape (1,): the
/// real-valued range of a quantized tensor.
pub fn check_ranges(op: &str, ins: &[Desc], idx: &[(usize, &str)]) -> Result<()> {
    for &(i, name) in idx {
        let d = &ins[i];
        if d.shape.dims() != [1] {
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
    Ok(())
}

/// The one value of a (1,) range array. Call inside an op reading `a`.
pub fn scalar(a: &NDArray) -> f32 {
    load(a).first().copied().unwrap_or(0.0)
}

/// Values of `a` as f32 (exact for int8/uint8; int32 converts as oneDNN's `cvtdq2ps`). Call
/// inside an op reading `a`.
pub fn load(a: &NDArray) -> Vec<f32> {
    if a.size() == 0 {
        return Vec::new();
    }
    with_dtype!(a.dtype(), T, {
        // SAFETY: the calling op reads a.
        unsafe { a.data::<T>() }
            .iter()
            .map(|v| v.to_f32())
            .collect()
    })
}

/// Writes values that already fit `a`'s dtype (rounded and saturated by the caller). Call
/// inside an op writing `a`.
pub fn store(a: &NDArray, v: &[f32]) {
    if a.size() == 0 {
        return;
    }
    with_dtype!(a.dtype(), T, {
        // SAFETY: the calling op writes a; no other slice of it is alive.
        let d = unsafe { a.data_mut::<T>() };
        for (d, &x) in d.iter_mut().zip(v) {
            *d = T::from_f32(x);
        }
    })
}

/// `dst[i] = f(i)` for every element, in parallel: the large per-element ops without an
/// intermediate vector. f gives values that already fit dst's dtype (`round_saturate`d levels
/// for an integer dst): they are stored by `Element::from_level`, which does not saturate.
/// Call inside an op writing dst.
pub fn store_with(dst: &NDArray, f: impl Fn(usize) -> f32 + Sync + Send) {
    let n = dst.size();
    if n == 0 {
        return;
    }
    with_dtype!(dst.dtype(), D, {
        // SAFETY: the calling op writes dst; each task writes its own range.
        let d = Ptr(unsafe { dst.data_mut::<D>() }.as_mut_ptr());
        par_ranges(n, 4, |b, e| {
            // SAFETY: [b, e) is this task's part of dst.
            let out = unsafe { std::slice::from_raw_parts_mut(d.get().add(b), e - b) };
            fill_indexed(out, b, |i| D::from_level(f(i)));
        });
    })
}

/// `dst[i] = f(i, src[i])` through f32 (`store_with` over src's values; the two have one
/// size). Call inside an op reading src and writing dst.
pub fn map_into(src: &NDArray, dst: &NDArray, f: impl Fn(usize, f32) -> f32 + Sync + Send) {
    with_dtype!(src.dtype(), S, {
        // SAFETY: the calling op reads src.
        let s = unsafe { src.data::<S>() };
        if s.len() < dst.size() {
            return store_with(dst, |i| f(i, s.get(i).map_or(0.0, |v| v.to_f32())));
        }
        // SAFETY: i < dst.size() <= s.len(); unchecked, the loop vectorises.
        store_with(dst, |i| f(i, unsafe { s.get_unchecked(i) }.to_f32()));
    })
}

/// Writes one value into a (1,) range output.
pub fn store_scalar(a: &NDArray, v: f32) {
    store(a, &[v]);
}

/// Copies the bytes of an int8/uint8 array into another of either type, as MXNet's identity
/// copy does when it passes already-quantized data on under another declared type
/// (uint8 200 reads back as int8 -56).
pub fn copy_bytes(src: &NDArray, dst: &NDArray) {
    // SAFETY: the calling op reads src and writes dst; both hold one byte per element.
    unsafe {
        let s = src.data::<u8>();
        dst.data_mut::<u8>().copy_from_slice(s);
    }
}

/// `min_calib_range` and `max_calib_range`, when both are given.
pub fn calib(p: &Params) -> Result<Option<(f32, f32)>> {
    if p.is_set("min_calib_range") && p.is_set("max_calib_range") {
        Ok(Some((
            p.float("min_calib_range")? as f32,
            p.float("max_calib_range")? as f32,
        )))
    } else {
        Ok(None)
    }
}

/// The `min_calib_range` / `max_calib_range` parameter pair.
pub fn calib_params(what: &'static str) -> [ParamSpec; 2] {
    [
        param(
            "min_calib_range",
            "float or None",
            Some("None"),
            "The minimum scalar value in the form of float32 obtained through calibration.",
        ),
        param("max_calib_range", "float or None", Some("None"), what),
    ]
}

/// The requested output type: `auto` (None), int8 or uint8.
pub fn out_type(p: &Params) -> Result<Option<QType>> {
    Ok(match p.choice("out_type", &["auto", "int8", "uint8"])? {
        "int8" => Some(QType::I8),
        "uint8" => Some(QType::U8),
        _ => None,
    })
}

/// MXNet's `GetQuantizeOutputType`: `auto` is uint8 only when calibrated with a non-negative
/// minimum, int8 otherwise.
pub fn resolve_out_type(t: Option<QType>, cal: Option<(f32, f32)>) -> QType {
    match (t, cal) {
        (Some(q), _) => q,
        (None, Some((lo, _))) if lo >= 0.0 => QType::U8,
        _ => QType::I8,
    }
}

pub use crate::op::zero_grads;

/// A graph type rule from the forward rule: the inputs at `fixed` (ranges, BatchNorm's
/// statistics) are float32; once every input type is known, `rule` gives the outputs'.
pub fn type_partial(
    op: &'static str,
    fixed: Vec<usize>,
    rule: impl Fn(&[DType]) -> Result<Vec<DType>>,
) -> impl Fn(&mut [Option<DType>], &mut [Option<DType>]) -> Result<()> {
    move |ins, outs| {
        for &i in &fixed {
            match ins.get(i).copied().flatten() {
                Some(t) if t != DType::F32 => {
                    return Err(Error::dtype(
                        op,
                        format!("input {i} (a range or statistic) must be float32, got {t}"),
                    ))
                }
                _ => {
                    if let Some(slot) = ins.get_mut(i) {
                        *slot = Some(DType::F32);
                    }
                }
            }
        }
        let known: Option<Vec<DType>> = ins.iter().copied().collect();
        match known {
            Some(k) => assign_outputs(op, outs, rule(&k)?),
            None => Ok(()),
        }
    }
}

/// Sets the output types to `types`, refusing ones already known otherwise.
fn assign_outputs(op: &str, outs: &mut [Option<DType>], types: Vec<DType>) -> Result<()> {
    for (o, t) in outs.iter_mut().zip(types) {
        match o {
            Some(x) if *x != t => {
                return Err(Error::dtype(
                    op,
                    format!("output has dtype {x}, but the op produces {t}"),
                ))
            }
            _ => *o = Some(t),
        }
    }
    Ok(())
}

/// `partial`, plus output types that follow from the parameters alone (a quantize node's
/// int8/uint8 and float32 ranges): set before the input's type is known, so a consumer that
/// would otherwise guess (quantized_conv: int8) sees the real one first.
pub fn with_output_types(
    op: &'static str,
    types: Vec<DType>,
    partial: impl Fn(&mut [Option<DType>], &mut [Option<DType>]) -> Result<()>,
) -> impl Fn(&mut [Option<DType>], &mut [Option<DType>]) -> Result<()> {
    move |ins, outs| {
        partial(ins, outs)?;
        assign_outputs(op, outs, types.clone())
    }
}

/// A graph shape rule: the inputs at `ranges` and the outputs at `out_ranges` have shape (1,).
pub fn range_shapes(
    ranges: Vec<usize>,
    out_ranges: Vec<usize>,
) -> impl Fn(&mut [Option<Shape>], &mut [Option<Shape>]) -> Result<()> {
    move |ins, outs| {
        for &i in &ranges {
            if let Some(s) = ins.get_mut(i) {
                s.get_or_insert_with(|| Shape::new(vec![1]));
            }
        }
        for &i in &out_ranges {
            if let Some(s) = outs.get_mut(i) {
                s.get_or_insert_with(|| Shape::new(vec![1]));
            }
        }
        Ok(())
    }
}

/// `range_shapes`, with the data (input 0) and the result (output 0) of one shape learnt from
/// either side, as MXNet's shape rules of the (de/re)quantize ops copy it both ways: a
/// `zeros((0, n))` begin state quantized in an LSTM gets its batch size from its reader.
pub fn data_and_range_shapes(
    ranges: Vec<usize>,
    out_ranges: Vec<usize>,
) -> impl Fn(&mut [Option<Shape>], &mut [Option<Shape>]) -> Result<()> {
    let ranged = range_shapes(ranges, out_ranges);
    move |ins, outs| {
        ranged(ins, outs)?;
        if let (Some(data), Some(out)) = (ins.first_mut(), outs.first_mut()) {
            same_shape_partial(std::slice::from_mut(data), std::slice::from_mut(out))?;
        }
        Ok(())
    }
}

/// A (1,) float32 range output.
pub fn range_desc() -> Desc {
    Desc::new(Shape::new(vec![1]), DType::F32)
}

/// Output names of the ops that return a quantized tensor with its range.
pub fn range_output_names() -> Vec<String> {
    ["output", "min_output", "max_output"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}
