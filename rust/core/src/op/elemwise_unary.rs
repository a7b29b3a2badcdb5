//! Unary math (`exp`, `relu`, ...), `Cast`, `clip` and identity-like ops. One table row per
//! op: name, doc, the f32 and f64 element functions (f16 and bf16 compute in f32, integers in f64).

use super::params::param;
use super::{expect_inputs, Desc, FnOp, GradArgs, Inputs, Operator, Registry, SimpleDef};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::graph::{Entry, GradBuilder};
use crate::kernels::cpu::elemwise::{unary, unary_wide, unary_wide_patched};
use crate::kernels::cpu::halves;
use crate::kernels::cpu::norm::{
    exp_f32, exp_m1_f32, ln_1p_f32, ln_f32, log10_f32, log2_f32, tanh_f32,
};
use crate::kernels::cpu::trig::{self, cos_f32, sin_f32, tan_f32};
use crate::ndarray::NDArray;
use crate::with_dtype;
use half::{bf16, f16};
use std::sync::Arc;

type F64 = fn(f64) -> f64;

/// MXNet's sign: NaN and -0 give +0.
fn sign32(x: f32) -> f32 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}
fn sign64(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// MXNet's rint: the nearer of floor and ceil, ties to the floor (-0.5 -> -1, 0.5 -> 0),
/// unlike IEEE's ties-to-even.
fn rint32(x: f32) -> f32 {
    let (a, b) = (x.floor(), x.ceil());
    if x - a <= b - x {
        a
    } else {
        b
    }
}
fn rint64(x: f64) -> f64 {
    let (a, b) = (x.floor(), x.ceil());
    if x - a <= b - x {
        a
    } else {
        b
    }
}

/// A row's CPU kernel: `out = f(data)` for every dtype.
type Kernel = fn(&NDArray, &NDArray);

/// One table row from the op's f32 and f64 element functions. The float kernels are
/// instantiated with the row's own functions, so each loop inlines its function and
/// vectorises (through a `fn` pointer every element would be an indirect call); f16 computes
/// in f32 and the integer types through the f64 function.
macro_rules! row {
    ($name:expr, $aliases:expr, $doc:expr, $f32:expr, $f64:expr $(,)?) => {
        (
            $name,
            $aliases,
            $doc,
            (|a: &NDArray, o: &NDArray| match a.dtype() {
                DType::F32 => unary_wide::<f32, f32>(a, o, $f32),
                DType::F64 => unary::<f64, f64>(a, o, $f64),
                DType::F16 => halves::unary::<f16>(a, o, $f32),
                DType::BF16 => halves::unary::<bf16>(a, o, $f32),
                _ => via_f64(a, o, $f64),
            }) as Kernel,
        )
    };
}

/// A trigonometric row: float32 through the fast form, libm past its range; float16 (whose
/// range it covers) through the fast form alone, bfloat16 (whose range it does not) libm's.
macro_rules! trig_row {
    ($name:expr, $doc:expr, $fast:expr, $f32:expr, $f64:expr $(,)?) => {
        (
            $name,
            &[] as &[&str],
            $doc,
            (|a: &NDArray, o: &NDArray| match a.dtype() {
                DType::F32 => unary_wide_patched::<f32, f32>(a, o, $fast, trig::far, $f32),
                DType::F64 => unary::<f64, f64>(a, o, $f64),
                DType::F16 => halves::unary::<f16>(a, o, $fast),
                DType::BF16 => halves::unary::<bf16>(a, o, $f32),
                _ => via_f64(a, o, $f64),
            }) as Kernel,
        )
    };
}

/// The integer (and bool) kernels: each element through the op's f64 function. One
/// instantiation for all ops, as integer math is rare and the call per element acceptable.
fn via_f64(a: &NDArray, o: &NDArray, f: F64) {
    let boolean = a.dtype() == DType::Bool;
    with_dtype!(a.dtype(), T, {
        if boolean {
            unary::<T, T>(a, o, move |x| T::from_f64(f(x.to_f64())))
        } else {
            // Results wrap into the integer type as in MXNet (-uint8(1) is 255).
            unary::<T, T>(a, o, move |x| T::from_f64_c(f(x.to_f64())))
        }
    })
}

/// (name, aliases, doc, kernel)
fn table() -> Vec<(&'static str, &'static [&'static str], &'static str, Kernel)> {
    vec![
        row!(
            "abs",
            &[],
            "Returns element-wise absolute value of the input.",
            f32::abs,
            f64::abs,
        ),
        row!(
            "sign",
            &[],
            "Returns element-wise sign of the input (-1, 0 or 1).",
            sign32,
            sign64,
        ),
        row!(
            "negative",
            &[],
            "Numerical negative of the argument, element-wise.",
            |x| -x,
            |x| -x,
        ),
        row!(
            "reciprocal",
            &[],
            "Returns the reciprocal 1/x of the argument, element-wise.",
            |x| 1.0 / x,
            |x| 1.0 / x,
        ),
        row!(
            "square",
            &[],
            "Returns element-wise squared value of the input.",
            |x| x * x,
            |x| x * x,
        ),
        row!(
            "sqrt",
            &[],
            "Returns element-wise square-root value of the input.",
            f32::sqrt,
            f64::sqrt,
        ),
        row!(
            "rsqrt",
            &[],
            "Returns element-wise inverse square-root value of the input.",
            |x| 1.0 / x.sqrt(),
            |x| 1.0 / x.sqrt(),
        ),
        row!(
            "cbrt",
            &[],
            "Returns element-wise cube-root value of the input.",
            f32::cbrt,
            f64::cbrt,
        ),
        row!(
            "rcbrt",
            &[],
            "Returns element-wise inverse cube-root value of the input.",
            |x| 1.0 / x.cbrt(),
            |x| 1.0 / x.cbrt(),
        ),
        row!(
            "exp",
            &[],
            "Returns element-wise exponential value of the input.",
            exp_f32,
            f64::exp,
        ),
        row!(
            "expm1",
            &[],
            "Returns `exp(x) - 1` computed element-wise.",
            exp_m1_f32,
            f64::exp_m1,
        ),
        row!(
            "log",
            &[],
            "Returns element-wise natural logarithmic value of the input.",
            ln_f32,
            f64::ln,
        ),
        row!(
            "log2",
            &[],
            "Returns element-wise base-2 logarithmic value of the input.",
            log2_f32,
            f64::log2,
        ),
        row!(
            "log10",
            &[],
            "Returns element-wise base-10 logarithmic value of the input.",
            log10_f32,
            f64::log10,
        ),
        row!(
            "log1p",
            &[],
            "Returns element-wise `log(1 + x)` value of the input.",
            ln_1p_f32,
            f64::ln_1p,
        ),
        trig_row!(
            "sin",
            "Computes the element-wise sine of the input array.",
            sin_f32,
            f32::sin,
            f64::sin,
        ),
        trig_row!(
            "cos",
            "Computes the element-wise cosine of the input array.",
            cos_f32,
            f32::cos,
            f64::cos,
        ),
        trig_row!(
            "tan",
            "Computes the element-wise tangent of the input array.",
            tan_f32,
            f32::tan,
            f64::tan,
        ),
        row!(
            "arcsin",
            &[],
            "Returns element-wise inverse sine of the input array.",
            f32::asin,
            f64::asin,
        ),
        row!(
            "arccos",
            &[],
            "Returns element-wise inverse cosine of the input array.",
            f32::acos,
            f64::acos,
        ),
        row!(
            "arctan",
            &[],
            "Returns element-wise inverse tangent of the input array.",
            f32::atan,
            f64::atan,
        ),
        row!(
            "sinh",
            &[],
            "Returns the hyperbolic sine of the input array, computed element-wise.",
            f32::sinh,
            f64::sinh,
        ),
        row!(
            "cosh",
            &[],
            "Returns the hyperbolic cosine of the input array, computed element-wise.",
            f32::cosh,
            f64::cosh,
        ),
        row!(
            "tanh",
            &[],
            "Returns the hyperbolic tangent of the input array, computed element-wise.",
            tanh_f32,
            f64::tanh,
        ),
        row!(
            "arcsinh",
            &[],
            "Returns the element-wise inverse hyperbolic sine of the input array.",
            f32::asinh,
            f64::asinh,
        ),
        row!(
            "arccosh",
            &[],
            "Returns the element-wise inverse hyperbolic cosine of the input array.",
            f32::acosh,
            f64::acosh,
        ),
        row!(
            "arctanh",
            &[],
            "Returns the element-wise inverse hyperbolic tangent of the input array.",
            f32::atanh,
            f64::atanh,
        ),
        row!(
            "degrees",
            &[],
            "Converts each element of the input array from radians to degrees.",
            f32::to_degrees,
            f64::to_degrees,
        ),
        row!(
            "radians",
            &[],
            "Converts each element of the input array from degrees to radians.",
            f32::to_radians,
            f64::to_radians,
        ),
        row!(
            "sigmoid",
            &[],
            "Computes sigmoid of x element-wise: `1 / (1 + exp(-x))`.",
            |x| 1.0 / (1.0 + exp_f32(-x)),
            |x| 1.0 / (1.0 + (-x).exp()),
        ),
        row!(
            "relu",
            &[],
            "Computes rectified linear activation `max(x, 0)` element-wise (NaN stays NaN).",
            |x| if x > 0.0 || x.is_nan() { x } else { 0.0 },
            |x| if x > 0.0 || x.is_nan() { x } else { 0.0 },
        ),
        row!(
            "softsign",
            &[],
            "Computes softsign of x element-wise: `x / (1 + abs(x))`.",
            |x| x / (1.0 + x.abs()),
            |x| x / (1.0 + x.abs()),
        ),
        row!(
            "floor",
            &[],
            "Returns element-wise floor of the input.",
            f32::floor,
            f64::floor,
        ),
        row!(
            "ceil",
            &[],
            "Returns element-wise ceiling of the input.",
            f32::ceil,
            f64::ceil,
        ),
        row!(
            "round",
            &[],
            "Returns element-wise rounded value to the nearest integer (halves away from zero).",
            f32::round,
            f64::round,
        ),
        row!(
            "rint",
            &[],
            "Returns element-wise rounded value to the nearest integer (halves to the floor).",
            rint32,
            rint64,
        ),
        row!(
            "trunc",
            &[],
            "Return the element-wise truncated value of the input.",
            f32::trunc,
            f64::trunc,
        ),
        row!(
            "fix",
            &[],
            "Returns element-wise rounded value to the nearest integer towards zero.",
            f32::trunc,
            f64::trunc,
        ),
        row!(
            "logical_not",
            &[],
            "Returns the result of logical NOT (!) function, element-wise (1 or 0).",
            |x| (x == 0.0) as u8 as f32,
            |x| (x == 0.0) as u8 as f64,
        ),
        row!(
            "_copy",
            &["identity"],
            "Returns a copy of the input.",
            |x| x,
            |x| x,
        ),
        row!(
            "BlockGrad",
            &["stop_gradient"],
            "Stops gradient computation; forward is the identity.",
            |x| x,
            |x| x,
        ),
    ]
}

fn unary_op(name: &'static str, kernel: Kernel) -> Arc<dyn Operator> {
    let mut op = FnOp::new(
        name,
        move |inputs| {
            expect_inputs(name, inputs, 1)?;
            Ok(vec![inputs[0].clone()])
        },
        move |_, ins, outs| {
            kernel(&ins[0], &outs[0]);
            Ok(())
        },
    );
    op.inplace = true;
    op.shape_partial = Some(Box::new(crate::graph::infer::same_shape_partial));
    let op = op.with_grad(move |g, a| unary_grad(name, g, a));
    #[cfg(feature = "cuda")]
    let op = op.with_cuda(cuda::kernel(name));
    op.arc()
}

/// Gradient of the table's unary ops, built from registered ops so it differentiates again.
fn unary_grad(name: &str, g: &mut GradBuilder, a: &GradArgs) -> Result<Vec<Option<Entry>>> {
    let (x, y, og) = (&a.inputs[0], &a.outputs[0], &a.out_grads[0]);
    let un = |g: &mut GradBuilder, op: &str, e: &Entry| g.op1(op, &[], std::slice::from_ref(e));
    let sc = |g: &mut GradBuilder, op: &str, v: f64, e: &Entry| {
        g.op1(
            op,
            &[("scalar", &format!("{v:?}"))],
            std::slice::from_ref(e),
        )
    };
    let div = |g: &mut GradBuilder, p: &Entry, q: &Entry| {
        g.op1("elemwise_div", &[], &[p.clone(), q.clone()])
    };
    // The local derivative d(out)/dx, multiplied by og below; `None` = zero gradient.
    let d = match name {
        "_copy" => return Ok(vec![Some(og.clone())]),
        "BlockGrad" => return Ok(vec![None]),
        "negative" => return Ok(vec![Some(un(g, "negative", og)?)]),
        "degrees" => {
            return Ok(vec![Some(sc(
                g,
                "_mul_scalar",
                180.0 / std::f64::consts::PI,
                og,
            )?)])
        }
        "radians" => {
            return Ok(vec![Some(sc(
                g,
                "_mul_scalar",
                std::f64::consts::PI / 180.0,
                og,
            )?)])
        }
        "sign" | "floor" | "ceil" | "round" | "rint" | "trunc" | "fix" | "logical_not" => None,
        "abs" => Some(un(g, "sign", x)?),
        "reciprocal" => {
            // -1/x^2 = -y^2
            let s = un(g, "square", y)?;
            Some(un(g, "negative", &s)?)
        }
        "square" => Some(sc(g, "_mul_scalar", 2.0, x)?),
        "sqrt" => Some(sc(g, "_rdiv_scalar", 0.5, y)?),
        "rsqrt" => {
            // -x^(-3/2)/2 = -y/(2x)
            let q = div(g, y, x)?;
            Some(sc(g, "_mul_scalar", -0.5, &q)?)
        }
        "cbrt" => {
            let s = un(g, "square", y)?;
            Some(sc(g, "_rdiv_scalar", 1.0 / 3.0, &s)?)
        }
        "rcbrt" => {
            let q = div(g, y, x)?;
            Some(sc(g, "_mul_scalar", -1.0 / 3.0, &q)?)
        }
        "exp" => Some(y.clone()),
        "expm1" => Some(un(g, "exp", x)?),
        "log" => Some(un(g, "reciprocal", x)?),
        "log2" => {
            let s = sc(g, "_mul_scalar", std::f64::consts::LN_2, x)?;
            Some(un(g, "reciprocal", &s)?)
        }
        "log10" => {
            let s = sc(g, "_mul_scalar", std::f64::consts::LN_10, x)?;
            Some(un(g, "reciprocal", &s)?)
        }
        "log1p" => {
            let s = sc(g, "_plus_scalar", 1.0, x)?;
            Some(un(g, "reciprocal", &s)?)
        }
        "sin" => Some(un(g, "cos", x)?),
        "cos" => {
            let s = un(g, "sin", x)?;
            Some(un(g, "negative", &s)?)
        }
        "tan" => {
            let s = un(g, "square", y)?;
            Some(sc(g, "_plus_scalar", 1.0, &s)?)
        }
        "arcsin" | "arccos" => {
            // ±1/sqrt(1 - x^2)
            let s = un(g, "square", x)?;
            let s = sc(g, "_rminus_scalar", 1.0, &s)?;
            let r = un(g, "rsqrt", &s)?;
            Some(if name == "arccos" {
                un(g, "negative", &r)?
            } else {
                r
            })
        }
        "arctan" => {
            let s = un(g, "square", x)?;
            let s = sc(g, "_plus_scalar", 1.0, &s)?;
            Some(un(g, "reciprocal", &s)?)
        }
        "sinh" => Some(un(g, "cosh", x)?),
        "cosh" => Some(un(g, "sinh", x)?),
        "tanh" => {
            let s = un(g, "square", y)?;
            Some(sc(g, "_rminus_scalar", 1.0, &s)?)
        }
        "arcsinh" => {
            let s = un(g, "square", x)?;
            let s = sc(g, "_plus_scalar", 1.0, &s)?;
            Some(un(g, "rsqrt", &s)?)
        }
        "arccosh" => {
            let s = un(g, "square", x)?;
            let s = sc(g, "_minus_scalar", 1.0, &s)?;
            Some(un(g, "rsqrt", &s)?)
        }
        "arctanh" => {
            let s = un(g, "square", x)?;
            let s = sc(g, "_rminus_scalar", 1.0, &s)?;
            Some(un(g, "reciprocal", &s)?)
        }
        "sigmoid" => {
            let c = sc(g, "_rminus_scalar", 1.0, y)?;
            Some(g.mul(y, &c)?)
        }
        // MXNet masks with the output: relu'(0) = 0.
        "relu" => Some(sc(g, "_greater_scalar", 0.0, y)?),
        "softsign" => {
            let s = un(g, "abs", x)?;
            let s = sc(g, "_plus_scalar", 1.0, &s)?;
            let s = un(g, "square", &s)?;
            Some(un(g, "reciprocal", &s)?)
        }
        _ => {
            return Err(Error::NotImplemented(format!(
            "Operator {name} is non-differentiable because it didn't register FGradient attribute"
        )))
        }
    };
    Ok(vec![Some(match d {
        Some(d) => g.mul(og, &d)?,
        None => g.zeros_like(x)?,
    })])
}

/// `_cast_like(data, like)`: `data` cast to `like`'s dtype; the gradient of `Cast`, whose
/// input dtype is unknown while the gradient graph is built.
pub(crate) fn cast_like_op() -> Arc<dyn Operator> {
    const NAME: &str = "_cast_like";
    FnOp::new(
        NAME,
        |inputs| {
            expect_inputs(NAME, inputs, 2)?;
            Ok(vec![Desc::new(inputs[0].shape.clone(), inputs[1].dtype)])
        },
        |_, ins, outs| {
            crate::kernels::cpu::cast::cast_into(&ins[0], &outs[0]);
            Ok(())
        },
    )
    .with_shape_partial(|ins, outs| {
        if outs[0].is_none() {
            outs[0] = ins[0].clone();
        }
        Ok(())
    })
    .with_type_partial(|ins, outs| {
        if outs[0].is_none() {
            outs[0] = ins[1];
        }
        Ok(())
    })
    .with_grad(|g, a| {
        let r = g.apply(
            cast_like_op(),
            &[a.out_grads[0].clone(), a.inputs[0].clone()],
        );
        Ok(vec![Some(r[0].clone()), None])
    })
    .arc()
}

/// `Cast` to `dtype`.
pub fn cast_op(dtype: DType) -> Arc<dyn Operator> {
    FnOp::new(
        "Cast",
        move |inputs| {
            expect_inputs("Cast", inputs, 1)?;
            Ok(vec![Desc::new(inputs[0].shape.clone(), dtype)])
        },
        |_, ins, outs| {
            crate::kernels::cpu::cast::cast_into(&ins[0], &outs[0]);
            Ok(())
        },
    )
    // Shapes pass both ways, as through MXNet's elementwise ops: a weight read through a
    // cast still learns its shape from the layer.
    .with_shape_partial(crate::graph::infer::same_shape_partial)
    .with_type_partial(move |_, outs| {
        outs[0] = Some(dtype);
        Ok(())
    })
    .with_grad(|g, a| {
        let r = g.apply(
            cast_like_op(),
            &[a.out_grads[0].clone(), a.inputs[0].clone()],
        );
        Ok(vec![Some(r[0].clone())])
    })
    .arc()
}

fn clip_op(lo: f64, hi: f64) -> Arc<dyn Operator> {
    let mut op = FnOp::new(
        "clip",
        |inputs| {
            expect_inputs("clip", inputs, 1)?;
            Ok(vec![inputs[0].clone()])
        },
        move |_, ins, outs| {
            with_dtype!(ins[0].dtype(), T, {
                let (l, h) = (T::from_f64(lo), T::from_f64(hi));
                // The upper bound is tested first, as in MXNet: with a_min > a_max the
                // result is still the one MXNet gives.
                unary::<T, T>(&ins[0], &outs[0], move |x| {
                    if x > h {
                        h
                    } else if x < l {
                        l
                    } else {
                        x
                    }
                })
            });
            Ok(())
        },
    );
    op.inplace = true;
    op.with_grad(move |g, a| {
        let x = &a.inputs[0];
        let sc = |g: &mut GradBuilder, op: &str, v: f64| {
            g.op1(
                op,
                &[("scalar", &format!("{v:?}"))],
                std::slice::from_ref(x),
            )
        };
        // The gradient passes unless x < a_min or x > a_max, as in MXNet: NaN bounds and NaN
        // elements clip nothing, so they stop nothing.
        let below = sc(g, "_lesser_scalar", lo)?;
        let above = sc(g, "_greater_scalar", hi)?;
        let out = g.op1("elemwise_add", &[], &[below, above])?;
        let m = g.op1("_equal_scalar", &[("scalar", "0.0")], &[out])?;
        Ok(vec![Some(g.mul(&a.out_grads[0], &m)?)])
    })
    .arc()
}

/// The same functions in CUDA C, of `x` in the compute type `C` (float for float16/32).
#[cfg(feature = "cuda")]
fn cuda_expr(name: &str) -> Option<&'static str> {
    Some(match name {
        "abs" => "fabs(x)",
        "sign" => "(x > (C)0 ? (C)1 : (x < (C)0 ? (C)-1 : (C)0))",
        "negative" => "-x",
        "reciprocal" => "(C)1 / x",
        "square" => "x * x",
        "sqrt" => "sqrt(x)",
        "rsqrt" => "(C)1 / sqrt(x)",
        "cbrt" => "cbrt(x)",
        "rcbrt" => "(C)1 / cbrt(x)",
        "exp" => "exp(x)",
        "expm1" => "expm1(x)",
        "log" => "log(x)",
        "log2" => "log2(x)",
        "log10" => "log10(x)",
        "log1p" => "log1p(x)",
        "sin" => "sin(x)",
        "cos" => "cos(x)",
        "tan" => "tan(x)",
        "arcsin" => "asin(x)",
        "arccos" => "acos(x)",
        "arctan" => "atan(x)",
        "sinh" => "sinh(x)",
        "cosh" => "cosh(x)",
        "tanh" => "tanh(x)",
        "arcsinh" => "asinh(x)",
        "arccosh" => "acosh(x)",
        "arctanh" => "atanh(x)",
        "degrees" => "x * (C)57.29577951308232",
        "radians" => "x * (C)0.017453292519943295",
        "sigmoid" => "(C)1 / ((C)1 + exp(-x))",
        "relu" => "(x > (C)0 || x != x ? x : (C)0)",
        "softsign" => "x / ((C)1 + fabs(x))",
        "floor" => "floor(x)",
        "ceil" => "ceil(x)",
        "round" => "round(x)",
        "rint" => "(x - floor(x) <= ceil(x) - x ? floor(x) : ceil(x))",
        "trunc" => "trunc(x)",
        "fix" => "trunc(x)",
        "logical_not" => "(x == (C)0 ? (C)1 : (C)0)",
        "_copy" | "BlockGrad" => "x",
        _ => return None,
    })
}

#[cfg(feature = "cuda")]
mod cuda {
    use crate::kernels::cuda::{map_kernel, run_map, CudaFn, FLOATS};

    pub fn kernel(name: &'static str) -> Option<CudaFn> {
        super::cuda_expr(name)?;
        Some(Box::new(move |dev, _, ins, outs| {
            if !FLOATS.contains(&ins[0].dtype()) {
                return Ok(false);
            }
            let base = format!("unary_{name}");
            run_map(
                dev,
                super::CUDA_MODULE,
                super::cuda_source,
                &base,
                &[&ins[0], &outs[0]],
                &[],
            )?;
            Ok(true)
        }))
    }

    pub fn source() -> String {
        crate::kernels::cuda::module_source("", |dt| {
            let mut s = String::new();
            for (name, ..) in super::table() {
                if let Some(e) = super::cuda_expr(name) {
                    let body = format!("const C x = x0; y0 = {e};");
                    s += &map_kernel(&format!("unary_{name}"), dt, 1, 1, 0, &body);
                }
            }
            s
        })
    }
}

#[cfg(feature = "cuda")]
pub const CUDA_MODULE: &str = "elemwise_unary";

/// The module of every unary kernel, for each float type.
#[cfg(feature = "cuda")]
pub fn cuda_source() -> String {
    cuda::source()
}

pub fn register(r: &mut Registry) {
    for (name, aliases, doc, kernel) in table() {
        r.add(SimpleDef {
            name,
            doc: doc.to_string(),
            params: vec![],
            inputs: Inputs::Fixed(&["data"]),
            create: Box::new(move |_| Ok(unary_op(name, kernel))),
        });
        for a in aliases {
            r.alias(a, name);
        }
    }
    r.add(SimpleDef {
        name: "Cast",
        doc: "Casts all elements of the input to a new type.".into(),
        params: vec![param(
            "dtype",
            "{'bool', 'float16', 'float32', 'float64', 'int32', 'int64', 'int8', 'uint8'}",
            None,
            "Output data type.",
        )],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| {
            let d = p
                .dtype("dtype")?
                .ok_or_else(|| crate::error::Error::param("Cast", "dtype is required"))?;
            Ok(cast_op(d))
        }),
    });
    r.alias("cast", "Cast");
    r.add(SimpleDef {
        name: "clip",
        doc: "Clips (limits) the values in an array to [a_min, a_max].".into(),
        params: vec![
            param("a_min", "float", None, "Minimum value"),
            param("a_max", "float", None, "Maximum value"),
        ],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| Ok(clip_op(p.float("a_min")?, p.float("a_max")?))),
    });
}
