//! Array creation: `_zeros`, `_ones`, `_full`, `_arange`, `_linspace`, `_eye`, `zeros_like`,
//! `ones_like`, and the legacy in-place fill `_set_value`.

use super::params::{param, ParamSpec};
use super::{expect_inputs, Desc, FnOp, Inputs, Operator, Params, Registry, SimpleDef};
use crate::context::Context;
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::kernels::cpu::elemwise::fill;
use crate::kernels::cpu::{par_ranges, Ptr};
use crate::ndarray::NDArray;
use crate::with_dtype;
use std::sync::Arc;

fn common(extra: Vec<ParamSpec>) -> Vec<ParamSpec> {
    let mut v = extra;
    v.push(param(
        "ctx",
        "string",
        Some("''"),
        "Context of output, in format [cpu|gpu|cpu_pinned](n).",
    ));
    v.push(param(
        "dtype",
        "{'bool', 'float16', 'float32', 'float64', 'int32', 'int64', 'int8', 'uint8'}",
        Some("'float32'"),
        "Target data type.",
    ));
    v
}

fn ctx_dtype(p: &Params) -> Result<(Context, DType)> {
    Ok((
        p.ctx("ctx")?.unwrap_or_default(),
        p.dtype("dtype")?.unwrap_or(DType::F32),
    ))
}

/// An op with no inputs producing `desc` on `ctx`, filled by `fill_fn`.
fn creator(
    name: &'static str,
    ctx: Context,
    desc: Desc,
    f: impl Fn(&crate::ndarray::NDArray) + Send + Sync + 'static,
) -> Arc<dyn Operator> {
    let mut op = FnOp::new(
        name,
        move |inputs| {
            expect_inputs(name, inputs, 0)?;
            Ok(vec![desc.clone()])
        },
        move |_, _, outs| {
            f(&outs[0]);
            Ok(())
        },
    );
    op.ctx = Some(ctx);
    op.arc()
}

/// Fills with a constant (`_zeros`, `_ones`, `_full`).
pub fn full_op(
    name: &'static str,
    shape: Vec<usize>,
    dtype: DType,
    ctx: Context,
    value: f64,
) -> Arc<dyn Operator> {
    // As MXNet's cast of the value: wrapped into integer types (uint8 -1 is 255), 0/1 for bool.
    let value = if dtype == DType::Bool {
        (value != 0.0) as u8 as f64
    } else {
        value
    };
    creator(name, ctx, Desc::new(shape, dtype), move |o| {
        with_dtype!(o.dtype(), T, { fill::<T>(o, T::from_f64_c(value)) })
    })
}

/// `_set_value(src=v, out=a)`: MXNet's legacy NDArray function filling `a` in place. It has
/// no inputs, so its output is the `out=` array whatever its shape and dtype.
struct SetValue {
    value: f64,
}

impl Operator for SetValue {
    fn name(&self) -> &'static str {
        "_set_value"
    }
    fn infer(&self, _: &[Desc]) -> Result<Vec<Desc>> {
        Err(Error::Value(
            "operator _set_value fills the array passed as out= in place and has no inputs to \
             take a shape from: call it as _set_value(src=value, out=array)"
                .into(),
        ))
    }
    fn infer_with_out(&self, inputs: &[Desc], out: Option<&[Desc]>) -> Result<Vec<Desc>> {
        expect_inputs("_set_value", inputs, 0)?;
        match out {
            Some([d]) => Ok(vec![d.clone()]),
            _ => self.infer(inputs),
        }
    }
    fn forward(&self, _: &super::OpCtx, _: &[NDArray], outs: &[NDArray]) -> Result<()> {
        // As MXNet's cast: wrapped into integer types, 0/1 for bool (as `full_op`).
        let v = if outs[0].dtype() == DType::Bool {
            (self.value != 0.0) as u8 as f64
        } else {
            self.value
        };
        with_dtype!(outs[0].dtype(), T, {
            fill::<T>(&outs[0], T::from_f64_c(v))
        });
        Ok(())
    }
}

fn like_op(name: &'static str, value: f64) -> Arc<dyn Operator> {
    FnOp::new(
        name,
        move |inputs| {
            expect_inputs(name, inputs, 1)?;
            Ok(vec![inputs[0].clone()])
        },
        move |_, _, outs| {
            with_dtype!(outs[0].dtype(), T, {
                fill::<T>(&outs[0], T::from_f64(value))
            });
            Ok(())
        },
    )
    // The output does not depend on the input's values: a zero gradient, as MXNet registers.
    .with_grad(|g, a| Ok(vec![Some(g.zeros_like(&a.inputs[0])?)]))
    .arc()
}

fn arange_op(p: &Params) -> Result<Arc<dyn Operator>> {
    let (ctx, dtype) = ctx_dtype(p)?;
    let start = p.float("start")?;
    // MXNet's `infer_range` (without a stop): the length comes from the rest of the graph,
    // unknown (0) until the executor's whole-graph inference gives it as `__length__`.
    let inferred = p.bool("infer_range")? && !p.is_set("stop");
    let (start, stop) = match (p.is_set("stop"), inferred) {
        (true, _) => (start, p.float("stop")?),
        (false, true) => (start, start),
        (false, false) => (0.0, start),
    };
    let step = p.float("step")?;
    let repeat = p.int("repeat")?;
    if step == 0.0 || !step.is_finite() {
        return Err(Error::param(
            "_arange",
            format!("step must be a non-zero number, got {step}"),
        ));
    }
    if repeat < 1 {
        return Err(Error::param(
            "_arange",
            format!("repeat must be at least 1, got {repeat}"),
        ));
    }
    let n = ((stop - start) / step).ceil().max(0.0);
    if !n.is_finite() || n > 1e12 {
        return Err(Error::param(
            "_arange",
            format!("arange({start}, {stop}, {step}) is too long"),
        ));
    }
    let len = match p.opt_int("__length__")? {
        Some(len) if inferred => usize::try_from(len)
            .map_err(|_| Error::param("_arange", format!("inferred length {len} is negative")))?,
        _ => n as usize * repeat as usize,
    };
    Ok(sequence_op(
        "_arange",
        ctx,
        dtype,
        len,
        range_values(dtype, start, step, repeat as usize),
    ))
}

/// Value `i` of a range in `dtype`, each repeated `rep` times.
pub(crate) fn range_values(
    dtype: DType,
    start: f64,
    step: f64,
    rep: usize,
) -> impl Fn(usize) -> f64 + Send + Sync + Copy + 'static {
    // MXNet (and numpy) cast start and step to an integer dtype and step in it, wrapping:
    // arange(1.3, 10, 1.3, dtype=int32) is 1..=7; arange(300, dtype=uint8) ends 254, 255, 0...
    let int = !dtype.is_float();
    let (istart, istep) = (start as i64, step as i64);
    move |i| {
        let k = i / rep;
        if !int {
            return start + k as f64 * step;
        }
        let v = istart.wrapping_add((k as i64).wrapping_mul(istep));
        match dtype {
            DType::U8 => v as u8 as f64,
            DType::I8 => v as i8 as f64,
            DType::I32 => v as i32 as f64,
            _ => v as f64,
        }
    }
}

/// A creation op of `len` values, value `i` from `at(i)` converted to the dtype.
fn sequence_op(
    name: &'static str,
    ctx: Context,
    dtype: DType,
    len: usize,
    at: impl Fn(usize) -> f64 + Send + Sync + Copy + 'static,
) -> Arc<dyn Operator> {
    creator(name, ctx, Desc::new(vec![len], dtype), move |o| {
        with_dtype!(o.dtype(), T, {
            // SAFETY: inside the op writing o.
            let po = unsafe { Ptr(o.raw() as *mut T) };
            par_ranges(len, 1, |b, e| {
                for i in b..e {
                    // SAFETY: i < len.
                    unsafe { *po.get().add(i) = T::from_f64(at(i)) }
                }
            })
        })
    })
}

/// `_linspace`: `num` values from `start`, `step = (stop - start) / (num - 1)` (or `/ num`
/// without the endpoint); integer dtypes truncate each value, as MXNet's cast does.
fn linspace_op(p: &Params) -> Result<Arc<dyn Operator>> {
    let (ctx, dtype) = ctx_dtype(p)?;
    let (start, stop) = (p.float("start")?, p.float("stop")?);
    let num = p.int("num")?;
    if num < 0 {
        return Err(Error::param(
            "_linspace",
            format!("Number of sequence should be non-negative, received {num}"),
        ));
    }
    if num > 1 << 40 {
        return Err(Error::param(
            "_linspace",
            format!("linspace of {num} values is too long"),
        ));
    }
    let len = num as usize;
    let div = if p.bool("endpoint")? { num - 1 } else { num };
    let step = if div > 0 {
        (stop - start) / div as f64
    } else {
        0.0
    };
    Ok(sequence_op("_linspace", ctx, dtype, len, move |i| {
        start + i as f64 * step
    }))
}

fn eye_op(p: &Params) -> Result<Arc<dyn Operator>> {
    let (ctx, dtype) = ctx_dtype(p)?;
    let n =
        usize::try_from(p.int("N")?).map_err(|_| Error::param("_eye", "N must be non-negative"))?;
    let m = match p.int("M")? {
        0 => n,
        m => usize::try_from(m).map_err(|_| Error::param("_eye", "M must be non-negative"))?,
    };
    let k = p.int("k")?;
    Ok(creator(
        "_eye",
        ctx,
        Desc::new(vec![n, m], dtype),
        move |o| {
            with_dtype!(o.dtype(), T, {
                fill::<T>(o, T::from_f64(0.0));
                // SAFETY: inside the op writing o; indices checked against n, m.
                let d = unsafe { o.data_mut::<T>() };
                for i in 0..n {
                    let j = i as i64 + k;
                    if j >= 0 && (j as usize) < m {
                        d[i * m + j as usize] = T::from_f64(1.0);
                    }
                }
            })
        },
    ))
}

pub fn register(r: &mut Registry) {
    let shape = || {
        param(
            "shape",
            "Shape(tuple)",
            Some("()"),
            "The shape of the output",
        )
    };
    for (name, value, doc) in [
        ("_zeros", 0.0, "Returns a new array filled with all zeros."),
        ("_ones", 1.0, "Returns a new array filled with all ones."),
        (
            "_empty",
            0.0,
            "Returns a new array of the given shape (contents unspecified).",
        ),
    ] {
        r.add(SimpleDef {
            name,
            doc: doc.into(),
            params: common(vec![shape()]),
            inputs: Inputs::Fixed(&[]),
            create: Box::new(move |p| {
                let (ctx, dtype) = ctx_dtype(p)?;
                Ok(full_op(name, p.shape("shape")?, dtype, ctx, value))
            }),
        });
    }
    r.add(SimpleDef {
        name: "_full",
        doc: "Returns a new array of the given shape filled with `value`.".into(),
        params: common(vec![
            shape(),
            param(
                "value",
                "double",
                None,
                "Value with which to fill newly created tensor",
            ),
        ]),
        inputs: Inputs::Fixed(&[]),
        create: Box::new(|p| {
            let (ctx, dtype) = ctx_dtype(p)?;
            Ok(full_op(
                "_full",
                p.shape("shape")?,
                dtype,
                ctx,
                p.float("value")?,
            ))
        }),
    });
    r.add(SimpleDef {
        name: "_set_value",
        doc: "Fills the array given as `out` with the scalar `src`, in place (MXNet's legacy NDArray function; `out` is required and may have any shape and dtype).".into(),
        params: vec![param("src", "float", None, "Source input to the function.")],
        inputs: Inputs::Fixed(&[]),
        create: Box::new(|p| {
            Ok(Arc::new(SetValue {
                value: p.float("src")?,
            }) as Arc<dyn Operator>)
        }),
    });
    r.add(SimpleDef {
        name: "_arange",
        doc: "Returns evenly spaced values within a given interval `[start, stop)`.".into(),
        params: common(vec![
            param("start", "double", None, "Start of interval."),
            param("stop", "double or None", Some("None"), "End of interval."),
            param("step", "double", Some("1"), "Spacing between values."),
            param(
                "repeat",
                "int",
                Some("1"),
                "The repeating time of all elements.",
            ),
            param(
                "infer_range",
                "boolean",
                Some("False"),
                "When True and stop is not given, the length is inferred from the graph the op is bound in (symbols only); values step from start.",
            ),
        ]),
        inputs: Inputs::Fixed(&[]),
        create: Box::new(arange_op),
    });
    r.add(SimpleDef {
        name: "_linspace",
        doc: "Returns `num` evenly spaced values over [start, stop] (or [start, stop) when endpoint is false).".into(),
        params: common(vec![
            param("start", "double", None, "Start of interval."),
            param("stop", "double", None, "End of interval."),
            param("num", "int", None, "Number of samples to generate. Must be non-negative."),
            param(
                "endpoint",
                "boolean",
                Some("True"),
                "If True, stop is the last sample. Otherwise, it is not included.",
            ),
        ]),
        inputs: Inputs::Fixed(&[]),
        create: Box::new(linspace_op),
    });
    r.add(SimpleDef {
        name: "_eye",
        doc: "Returns a 2-D array with ones on the k-th diagonal and zeros elsewhere.".into(),
        params: common(vec![
            param("N", "long", None, "Number of rows in the output."),
            param(
                "M",
                "long",
                Some("0"),
                "Number of columns in the output. If 0, defaults to N",
            ),
            param("k", "long", Some("0"), "Index of the diagonal."),
        ]),
        inputs: Inputs::Fixed(&[]),
        create: Box::new(eye_op),
    });
    for (name, value) in [("zeros_like", 0.0), ("ones_like", 1.0)] {
        r.add(SimpleDef {
            name,
            doc: format!("Returns an array of the input's shape and dtype filled with {value}."),
            params: vec![],
            inputs: Inputs::Fixed(&["data"]),
            create: Box::new(move |_| Ok(like_op(name, value))),
        });
    }
}
