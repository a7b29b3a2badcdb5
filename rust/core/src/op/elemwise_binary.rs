//! Binary arithmetic, comparison and logic: `elemwise_*` (equal shapes), `broadcast_*`
//! (numpy broadcasting) and `_*_scalar` (array with a Python number) families.
//! Comparisons return 0/1 in the input dtype, as MXNet does.

use super::params::param;
use super::{expect_inputs, Desc, FnOp, GradArgs, Inputs, Operator, Registry, SimpleDef};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::graph::{Entry, GradBuilder};
use crate::kernels::cpu::elemwise::{binary, unary, Arith};
use crate::kernels::cpu::halves::{self, Half};
use crate::kernels::cpu::pow;
use crate::ndarray::NDArray;
use crate::shape::{broadcast_shapes, Shape};
use crate::with_dtype;
use half::{bf16, f16};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Max,
    Min,
    Hypot,
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    And,
    Or,
    Xor,
}

/// Binds `$f` to the element function of `$op` for type `$T` and evaluates `$body`.
macro_rules! with_binop {
    ($op:expr, $T:ty, |$f:ident| $body:expr) => {
        match $op {
            BinOp::Add => {
                let $f = |x: $T, y: $T| Arith::add(x, y);
                $body
            }
            BinOp::Sub => {
                let $f = |x: $T, y: $T| Arith::sub(x, y);
                $body
            }
            BinOp::Mul => {
                let $f = |x: $T, y: $T| Arith::mul(x, y);
                $body
            }
            BinOp::Div => {
                let $f = |x: $T, y: $T| Arith::div(x, y);
                $body
            }
            BinOp::Mod => {
                let $f = |x: $T, y: $T| Arith::rem(x, y);
                $body
            }
            BinOp::Pow => {
                let $f = |x: $T, y: $T| Arith::pow(x, y);
                $body
            }
            BinOp::Max => {
                let $f = |x: $T, y: $T| Arith::max(x, y);
                $body
            }
            BinOp::Min => {
                let $f = |x: $T, y: $T| Arith::min(x, y);
                $body
            }
            BinOp::Hypot => {
                let $f = |x: $T, y: $T| Arith::hypot(x, y);
                $body
            }
            BinOp::Eq => {
                let $f = |x: $T, y: $T| <$T>::bool_(x == y);
                $body
            }
            BinOp::Ne => {
                let $f = |x: $T, y: $T| <$T>::bool_(x != y);
                $body
            }
            BinOp::Gt => {
                let $f = |x: $T, y: $T| <$T>::bool_(x > y);
                $body
            }
            BinOp::Ge => {
                let $f = |x: $T, y: $T| <$T>::bool_(x >= y);
                $body
            }
            BinOp::Lt => {
                let $f = |x: $T, y: $T| <$T>::bool_(x < y);
                $body
            }
            BinOp::Le => {
                let $f = |x: $T, y: $T| <$T>::bool_(x <= y);
                $body
            }
            BinOp::And => {
                let $f = |x: $T, y: $T| <$T>::bool_(Arith::truth(x) && Arith::truth(y));
                $body
            }
            BinOp::Or => {
                let $f = |x: $T, y: $T| <$T>::bool_(Arith::truth(x) || Arith::truth(y));
                $body
            }
            BinOp::Xor => {
                let $f = |x: $T, y: $T| <$T>::bool_(Arith::truth(x) != Arith::truth(y));
                $body
            }
        }
    };
}

/// (kind, suffix of the op names, MXNet aliases of the elemwise form, doc verb)
const KINDS: &[(BinOp, &str, &[&str], &str)] = &[
    (BinOp::Add, "add", &["_add", "_plus", "_Plus"], "sum"),
    (
        BinOp::Sub,
        "sub",
        &["_sub", "_minus", "_Minus"],
        "difference",
    ),
    (BinOp::Mul, "mul", &["_mul", "_Mul"], "product"),
    (BinOp::Div, "div", &["_div", "_Div"], "quotient"),
    (
        BinOp::Mod,
        "mod",
        &["_Mod"],
        "remainder (sign of the divisor)",
    ),
    (BinOp::Pow, "power", &["_Power"], "power"),
    (BinOp::Max, "maximum", &["_Maximum"], "maximum"),
    (BinOp::Min, "minimum", &["_Minimum"], "minimum"),
    (BinOp::Hypot, "hypot", &[], "hypotenuse"),
    (BinOp::Eq, "equal", &[], "equality test (1 or 0)"),
    (BinOp::Ne, "not_equal", &[], "inequality test (1 or 0)"),
    (BinOp::Gt, "greater", &[], "`lhs > rhs` test (1 or 0)"),
    (
        BinOp::Ge,
        "greater_equal",
        &[],
        "`lhs >= rhs` test (1 or 0)",
    ),
    (BinOp::Lt, "lesser", &[], "`lhs < rhs` test (1 or 0)"),
    (BinOp::Le, "lesser_equal", &[], "`lhs <= rhs` test (1 or 0)"),
    (BinOp::And, "logical_and", &[], "logical and (1 or 0)"),
    (BinOp::Or, "logical_or", &[], "logical or (1 or 0)"),
    (BinOp::Xor, "logical_xor", &[], "logical xor (1 or 0)"),
];

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn elemwise_name(kind: BinOp, suffix: &str) -> String {
    match kind {
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => format!("elemwise_{suffix}"),
        _ => format!("_{suffix}"),
    }
}

fn check_dtypes(op: &str, inputs: &[Desc]) -> Result<()> {
    if inputs[0].dtype != inputs[1].dtype {
        return Err(Error::dtype(
            op,
            format!(
                "Incompatible attr in node {op} at 1-th input: expected {}, got {}",
                inputs[0].dtype, inputs[1].dtype
            ),
        ));
    }
    Ok(())
}

/// The name suffix of `kind` (`add`, `maximum`, ...), shared by its op families and kernels.
fn suffix(kind: BinOp) -> &'static str {
    KINDS
        .iter()
        .find(|k| k.0 == kind)
        .map(|k| k.1)
        .unwrap_or("add")
}

/// The configured binary op on two arrays (`broadcast` = numpy rules, else equal shapes).
pub fn binary_op(kind: BinOp, broadcast: bool) -> Arc<dyn Operator> {
    let suffix = suffix(kind);
    let name = if broadcast {
        leak(format!("broadcast_{suffix}"))
    } else {
        leak(elemwise_name(kind, suffix))
    };
    make_binary(kind, broadcast, name)
}

/// `out = a (kind) b`, broadcasting; half-precision types compute in f32 tiles.
fn run_binary(kind: BinOp, a: &NDArray, b: &NDArray, out: &NDArray) {
    match a.dtype() {
        DType::F16 => with_binop!(kind, f32, |f| halves::binary::<f16>(a, b, out, f)),
        DType::BF16 => with_binop!(kind, f32, |f| halves::binary::<bf16>(a, b, out, f)),
        d => with_dtype!(d, T, {
            with_binop!(kind, T, |f| binary::<T>(a, b, out, f))
        }),
    }
}

fn make_binary(kind: BinOp, broadcast: bool, name: &'static str) -> Arc<dyn Operator> {
    let mut op = FnOp::new(
        name,
        move |inputs| {
            expect_inputs(name, inputs, 2)?;
            check_dtypes(name, inputs)?;
            let shape = if broadcast {
                broadcast_shapes(name, &inputs[0].shape, &inputs[1].shape)?
            } else if inputs[0].shape != inputs[1].shape {
                return Err(Error::shape(
                    name,
                    format!(
                        "Incompatible attr in node {name} at 1-th input: expected {}, got {}",
                        inputs[0].shape, inputs[1].shape
                    ),
                ));
            } else {
                inputs[0].shape.clone()
            };
            Ok(vec![Desc::new(shape, inputs[0].dtype)])
        },
        move |_, ins, outs| {
            run_binary(kind, &ins[0], &ins[1], &outs[0]);
            Ok(())
        },
    );
    op.inplace = true;
    op.shape_partial = Some(Box::new(if broadcast {
        broadcast_partial
    } else {
        crate::graph::infer::same_shape_partial
    }));
    let op = op.with_grad(move |g, a| binary_grad(kind, broadcast, g, a));
    #[cfg(feature = "cuda")]
    let op = op.with_cuda(Some(cuda::binary(kind)));
    op.arc()
}

/// What the output of a broadcast is known to be while an input has unknown (0) dims:
/// a dim is known where both inputs know theirs (MXNet's rule; equal shapes give themselves).
fn broadcast_partial(ins: &mut [Option<Shape>], outs: &mut [Option<Shape>]) -> Result<()> {
    let (Some(l), Some(r)) = (&ins[0], &ins[1]) else {
        return Ok(());
    };
    if l.ndim() == 0 || r.ndim() == 0 {
        return Ok(());
    }
    let n = l.ndim().max(r.ndim());
    let dim = |s: &Shape, i: usize| {
        if i + s.ndim() < n {
            1
        } else {
            s[i + s.ndim() - n]
        }
    };
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(match (dim(l, i), dim(r, i)) {
            (0, _) | (_, 0) => 0,
            (a, b) if a == b || b == 1 => a,
            (1, b) => b,
            // incompatible: the complete rule says so with both shapes
            _ => return Ok(()),
        });
    }
    crate::graph::infer::refine(&mut outs[0], Shape::new(out));
    Ok(())
}

fn is_comparison(kind: BinOp) -> bool {
    use BinOp::*;
    matches!(kind, Eq | Ne | Gt | Ge | Lt | Le | And | Or | Xor)
}

/// Registered name of the binary op `kind` in the elemwise or broadcast family.
fn family_name(kind: BinOp, broadcast: bool) -> String {
    let suffix = suffix(kind);
    if broadcast {
        format!("broadcast_{suffix}")
    } else {
        elemwise_name(kind, suffix)
    }
}

/// Gradients of `lhs (op) rhs`; with broadcasting, each is summed back to its input's shape.
fn binary_grad(
    kind: BinOp,
    broadcast: bool,
    g: &mut GradBuilder,
    a: &GradArgs,
) -> Result<Vec<Option<Entry>>> {
    let (l, r, y, og) = (&a.inputs[0], &a.inputs[1], &a.outputs[0], &a.out_grads[0]);
    if is_comparison(kind) {
        // Comparisons are piecewise constant: zero gradients, as MXNet registers.
        return Ok(vec![Some(g.zeros_like(l)?), Some(g.zeros_like(r)?)]);
    }
    let bin = |g: &mut GradBuilder, k: BinOp, x: &Entry, z: &Entry| {
        g.op1(&family_name(k, broadcast), &[], &[x.clone(), z.clone()])
    };
    let un = |g: &mut GradBuilder, op: &str, x: &Entry| g.op1(op, &[], std::slice::from_ref(x));
    let (dl, dr) = match kind {
        BinOp::Add => (og.clone(), og.clone()),
        BinOp::Sub => (og.clone(), un(g, "negative", og)?),
        BinOp::Mul => (bin(g, BinOp::Mul, og, r)?, bin(g, BinOp::Mul, og, l)?),
        BinOp::Div => {
            let dl = bin(g, BinOp::Div, og, r)?;
            let t = g.mul(og, y)?;
            let t = bin(g, BinOp::Div, &t, r)?;
            (dl, un(g, "negative", &t)?)
        }
        BinOp::Mod => {
            // l mod r = l - r * floor(l / r)
            let q = bin(g, BinOp::Div, l, r)?;
            let q = un(g, "floor", &q)?;
            let t = bin(g, BinOp::Mul, og, &q)?;
            let t = un(g, "negative", &t)?;
            (float_only(g, og)?, float_only(g, &t)?)
        }
        BinOp::Pow => {
            let rm1 = g.op1("_minus_scalar", &[("scalar", "1")], std::slice::from_ref(r))?;
            let p = bin(g, BinOp::Pow, l, &rm1)?;
            let p = bin(g, BinOp::Mul, &p, r)?;
            let dl = bin(g, BinOp::Mul, og, &p)?;
            let lg = un(g, "log", l)?;
            let t = g.mul(og, y)?;
            (dl, bin(g, BinOp::Mul, &t, &lg)?)
        }
        BinOp::Max | BinOp::Min => {
            // Ties go to lhs, as MXNet's ge/lt (le/gt) masks do.
            let (ml, mr) = if kind == BinOp::Max {
                (BinOp::Ge, BinOp::Lt)
            } else {
                (BinOp::Le, BinOp::Gt)
            };
            let cl = bin(g, ml, l, r)?;
            let cr = bin(g, mr, l, r)?;
            (bin(g, BinOp::Mul, og, &cl)?, bin(g, BinOp::Mul, og, &cr)?)
        }
        BinOp::Hypot => {
            let q = g.op1("elemwise_div", &[], &[og.clone(), y.clone()])?;
            (bin(g, BinOp::Mul, &q, l)?, bin(g, BinOp::Mul, &q, r)?)
        }
        _ => {
            return Err(Error::Internal(format!(
                "no gradient rule for binary op {kind:?}"
            )))
        }
    };
    if !broadcast {
        return Ok(vec![Some(dl), Some(dr)]);
    }
    let dl = g.op1("_backward_broadcast_reduce", &[], &[dl, l.clone()])?;
    let dr = g.op1("_backward_broadcast_reduce", &[], &[dr, r.clone()])?;
    Ok(vec![Some(dl), Some(dr)])
}

/// `e` for floating-point dtypes, zeros for integer ones: MXNet gives integer `%` a zero
/// gradient. The dtype is not known while the gradient graph is built, so the mask is
/// `(1 / 2) * 2` in the entry's own dtype (integer division makes it 0).
fn float_only(g: &mut GradBuilder, e: &Entry) -> Result<Entry> {
    let one = g.ones_like(e)?;
    let half = g.op1("_div_scalar", &[("scalar", "2")], &[one])?;
    let mask = g.scale(&half, 2.0)?;
    g.mul(e, &mask)
}

/// Gradient of `x (op) s` or `s (op) x`.
fn scalar_grad(
    kind: BinOp,
    scalar: f64,
    reverse: bool,
    g: &mut GradBuilder,
    a: &GradArgs,
) -> Result<Vec<Option<Entry>>> {
    let (x, y, og) = (&a.inputs[0], &a.outputs[0], &a.out_grads[0]);
    if is_comparison(kind) {
        return Ok(vec![Some(g.zeros_like(x)?)]);
    }
    let sc = |g: &mut GradBuilder, op: &str, v: f64, e: &Entry| {
        g.op1(
            op,
            &[("scalar", &format!("{v:?}"))],
            std::slice::from_ref(e),
        )
    };
    let un = |g: &mut GradBuilder, op: &str, e: &Entry| g.op1(op, &[], std::slice::from_ref(e));
    let d = match (kind, reverse) {
        (BinOp::Add, _) | (BinOp::Sub, false) => og.clone(),
        (BinOp::Mod, false) => float_only(g, og)?,
        (BinOp::Sub, true) => un(g, "negative", og)?,
        (BinOp::Mul, _) => sc(g, "_mul_scalar", scalar, og)?,
        (BinOp::Div, false) => sc(g, "_div_scalar", scalar, og)?,
        (BinOp::Div, true) => {
            // d(s/x) = -(s/x)/x
            let q = g.op1("elemwise_div", &[], &[y.clone(), x.clone()])?;
            let q = g.mul(og, &q)?;
            un(g, "negative", &q)?
        }
        (BinOp::Mod, true) => {
            let q = sc(g, "_rdiv_scalar", scalar, x)?;
            let q = un(g, "floor", &q)?;
            let q = g.mul(og, &q)?;
            let q = un(g, "negative", &q)?;
            float_only(g, &q)?
        }
        (BinOp::Pow, false) => {
            let p = sc(g, "_power_scalar", scalar - 1.0, x)?;
            let p = sc(g, "_mul_scalar", scalar, &p)?;
            g.mul(og, &p)?
        }
        (BinOp::Pow, true) => {
            let p = sc(g, "_mul_scalar", scalar.ln(), y)?;
            g.mul(og, &p)?
        }
        (BinOp::Max, _) => {
            let m = sc(g, "_greater_equal_scalar", scalar, x)?;
            g.mul(og, &m)?
        }
        (BinOp::Min, _) => {
            let m = sc(g, "_lesser_equal_scalar", scalar, x)?;
            g.mul(og, &m)?
        }
        (BinOp::Hypot, _) => {
            let q = g.op1("elemwise_div", &[], &[x.clone(), y.clone()])?;
            g.mul(og, &q)?
        }
        _ => {
            return Err(Error::Internal(format!(
                "no gradient rule for scalar op {kind:?}"
            )))
        }
    };
    Ok(vec![Some(d)])
}

/// `scalar_op`'s kernel for a half type: the scalar rounded to it, the op in f32 tiles.
fn scalar_half<H: Half>(kind: BinOp, scalar: f64, reverse: bool, a: &NDArray, o: &NDArray) {
    let s = H::from_f64_c(scalar).to_f32();
    with_binop!(kind, f32, |f| if reverse {
        halves::unary::<H>(a, o, move |x| f(s, x))
    } else {
        halves::unary::<H>(a, o, move |x| f(x, s))
    })
}

/// `array (op) scalar`, or `scalar (op) array` when `reverse`. The scalar is first cast to
/// the array's dtype (MXNet: int32 + 2.5 adds 2), unless `is_int` is false: then an integer
/// or bool array is computed and returned in float64 (MXNet 1.9.1's numpy-style promotion).
/// A bool array with an `is_int` scalar is computed and returned in int64 (`b + 2` is 3).
pub fn scalar_op(
    kind: BinOp,
    scalar: f64,
    is_int: bool,
    reverse: bool,
    name: &'static str,
) -> Arc<dyn Operator> {
    let mut op = FnOp::new(
        name,
        move |inputs| {
            expect_inputs(name, inputs, 1)?;
            let mut d = inputs[0].clone();
            if !is_int && !d.dtype.is_float() {
                d.dtype = DType::F64;
            } else if d.dtype == DType::Bool {
                d.dtype = DType::I64;
            }
            Ok(vec![d])
        },
        move |_, ins, outs| {
            if outs[0].dtype() == DType::I64 && ins[0].dtype() == DType::Bool {
                let s = i64::from_f64_c(scalar);
                with_binop!(kind, i64, |f| if reverse {
                    unary::<u8, i64>(&ins[0], &outs[0], move |x: u8| f(s, i64::from(x)))
                } else {
                    unary::<u8, i64>(&ins[0], &outs[0], move |x: u8| f(i64::from(x), s))
                });
                return Ok(());
            }
            if outs[0].dtype() != ins[0].dtype() {
                with_dtype!(ins[0].dtype(), T, {
                    with_binop!(kind, f64, |f| if reverse {
                        unary::<T, f64>(&ins[0], &outs[0], move |x: T| {
                            f(scalar, crate::dtype::Element::to_f64(x))
                        })
                    } else {
                        unary::<T, f64>(&ins[0], &outs[0], move |x: T| {
                            f(crate::dtype::Element::to_f64(x), scalar)
                        })
                    })
                });
                return Ok(());
            }
            // The scalar is rounded to the array's type first, half-precision types too.
            let (a, o) = (&ins[0], &outs[0]);
            if kind == BinOp::Pow && !reverse && pow::pow_scalar(a, o, scalar) {
                return Ok(());
            }
            match a.dtype() {
                DType::F16 => scalar_half::<f16>(kind, scalar, reverse, a, o),
                DType::BF16 => scalar_half::<bf16>(kind, scalar, reverse, a, o),
                d => with_dtype!(d, T, {
                    let s = T::from_f64_c(scalar);
                    with_binop!(kind, T, |f| if reverse {
                        unary::<T, T>(a, o, move |x| f(s, x))
                    } else {
                        unary::<T, T>(a, o, move |x| f(x, s))
                    })
                }),
            }
            Ok(())
        },
    );
    op.inplace = true;
    op.shape_partial = Some(Box::new(crate::graph::infer::same_shape_partial));
    let out_type = move |t: DType| match (is_int, t) {
        (false, t) if !t.is_float() => DType::F64,
        (true, DType::Bool) => DType::I64,
        (_, t) => t,
    };
    op = op.with_type_partial(move |ins, outs| {
        match (ins[0], outs[0]) {
            (Some(t), None) => outs[0] = Some(out_type(t)),
            (Some(t), Some(o)) if o != out_type(t) => {
                return Err(Error::dtype(
                    name,
                    format!("the data is {t}, so the output is {}, not {o}", out_type(t)),
                ))
            }
            // With the output known, the data has its dtype (the bool case aside).
            (None, Some(o)) if is_int => ins[0] = Some(o),
            _ => {}
        }
        Ok(())
    });
    let op = op.with_grad(move |g, a| scalar_grad(kind, scalar, reverse, g, a));
    #[cfg(feature = "cuda")]
    let op = op.with_cuda(Some(cuda::scalar(kind, scalar, reverse)));
    op.arc()
}

/// The element function of `kind` in CUDA C, of `a` and `b` in the compute type `C`.
#[cfg(feature = "cuda")]
fn cuda_expr(kind: BinOp) -> &'static str {
    use BinOp::*;
    match kind {
        Add => "a + b",
        Sub => "a - b",
        Mul => "a * b",
        Div => "a / b",
        Mod => "ox_mod(a, b)",
        Pow => "pow(a, b)",
        Max => "((a > b || a != a) ? a : b)",
        Min => "((a < b || a != a) ? a : b)",
        Hypot => "hypot(a, b)",
        Eq => "(a == b ? (C)1 : (C)0)",
        Ne => "(a != b ? (C)1 : (C)0)",
        Gt => "(a > b ? (C)1 : (C)0)",
        Ge => "(a >= b ? (C)1 : (C)0)",
        Lt => "(a < b ? (C)1 : (C)0)",
        Le => "(a <= b ? (C)1 : (C)0)",
        And => "((a != (C)0 && b != (C)0) ? (C)1 : (C)0)",
        Or => "((a != (C)0 || b != (C)0) ? (C)1 : (C)0)",
        Xor => "(((a != (C)0) != (b != (C)0)) ? (C)1 : (C)0)",
    }
}

#[cfg(feature = "cuda")]
pub const CUDA_MODULE: &str = "elemwise_binary";

/// Same-shape, broadcast and scalar kernels of every binary op, for each float type.
#[cfg(feature = "cuda")]
pub fn cuda_source() -> String {
    use crate::kernels::cuda::{broadcast_kernel, map_kernel, module_source};
    module_source("", |dt| {
        let mut s = String::new();
        for &(kind, suffix, ..) in KINDS {
            let e = cuda_expr(kind);
            s += &map_kernel(
                &format!("binary_{suffix}"),
                dt,
                2,
                1,
                0,
                &format!("const C a = x0, b = x1; y0 = {e};"),
            );
            s += &broadcast_kernel(&format!("bcast_{suffix}"), dt, e);
            s += &map_kernel(
                &format!("scalar_{suffix}"),
                dt,
                1,
                1,
                1,
                &format!("const C a = x0, b = s0; y0 = {e};"),
            );
            s += &map_kernel(
                &format!("rscalar_{suffix}"),
                dt,
                1,
                1,
                1,
                &format!("const C a = s0, b = x0; y0 = {e};"),
            );
        }
        for n in 2..=ADD_N_MAX {
            let terms: Vec<String> = (0..n).map(|k| format!("x{k}")).collect();
            let body = format!("y0 = {};", terms.join(" + "));
            s += &map_kernel(&format!("add_n{n}"), dt, n, 1, 0, &body);
        }
        s
    })
}

/// Most inputs `add_n` sums in one kernel; more go through the host path.
#[cfg(feature = "cuda")]
const ADD_N_MAX: usize = 8;

#[cfg(feature = "cuda")]
mod cuda {
    use super::{cuda_source, suffix, BinOp, CUDA_MODULE};
    use crate::dtype::{DType, Element};
    use crate::kernels::cuda::{run_broadcast, run_map, CudaFn, FLOATS};

    pub fn binary(kind: BinOp) -> CudaFn {
        Box::new(move |dev, _, ins, outs| {
            let (a, b, o) = (&ins[0], &ins[1], &outs[0]);
            if !FLOATS.contains(&a.dtype()) {
                return Ok(false);
            }
            let sfx = suffix(kind);
            if a.shape() == b.shape() {
                run_map(
                    dev,
                    CUDA_MODULE,
                    cuda_source,
                    &format!("binary_{sfx}"),
                    &[a, b, o],
                    &[],
                )?;
                return Ok(true);
            }
            run_broadcast(
                dev,
                CUDA_MODULE,
                cuda_source,
                &format!("bcast_{sfx}"),
                a,
                b,
                o,
            )
        })
    }

    pub fn add_n() -> CudaFn {
        Box::new(|dev, cx, ins, outs| {
            if !FLOATS.contains(&outs[0].dtype()) || ins.len() > super::ADD_N_MAX {
                return Ok(false);
            }
            let arrays: Vec<&crate::ndarray::NDArray> = ins.iter().chain(outs).collect();
            match ins.len() {
                0 => return Ok(false),
                1 => return crate::kernels::cuda::copy_bytes()(dev, cx, ins, outs),
                n => run_map(
                    dev,
                    CUDA_MODULE,
                    cuda_source,
                    &format!("add_n{n}"),
                    &arrays,
                    &[],
                )?,
            }
            Ok(true)
        })
    }

    pub fn scalar(kind: BinOp, scalar: f64, reverse: bool) -> CudaFn {
        Box::new(move |dev, _, ins, outs| {
            let dt = ins[0].dtype();
            if !FLOATS.contains(&dt) {
                return Ok(false);
            }
            // The scalar is first cast to the array's dtype, as on the CPU.
            let s = match dt {
                DType::F16 => half::f16::from_f64_c(scalar).to_f64(),
                DType::F32 => scalar as f32 as f64,
                _ => scalar,
            };
            let base = format!("{}scalar_{}", if reverse { "r" } else { "" }, suffix(kind));
            run_map(
                dev,
                CUDA_MODULE,
                cuda_source,
                &base,
                &[&ins[0], &outs[0]],
                &[s],
            )?;
            Ok(true)
        })
    }
}

/// `add_n(args...)`: the sum of `n` arrays of one shape; the gradient reaches every input.
fn add_n_op(n: usize) -> Arc<dyn Operator> {
    const NAME: &str = "add_n";
    let mut op = FnOp::new(
        NAME,
        move |inputs| {
            expect_inputs(NAME, inputs, n)?;
            for (i, d) in inputs.iter().enumerate().skip(1) {
                if d.shape != inputs[0].shape || d.dtype != inputs[0].dtype {
                    return Err(Error::shape(
                        NAME,
                        format!(
                            "all inputs must have one shape and dtype: input 0 is {} {}, input {i} is {} {}",
                            inputs[0].shape, inputs[0].dtype, d.shape, d.dtype
                        ),
                    ));
                }
            }
            Ok(vec![inputs[0].clone()])
        },
        |_, ins, outs| {
            let o = &outs[0];
            match ins {
                [] => {}
                [a] => crate::kernels::cpu::strided::copy_all(a, o)?,
                [a, b, rest @ ..] => {
                    run_binary(BinOp::Add, a, b, o);
                    // Accumulating into `o` is elementwise, so reading and writing it is safe.
                    for c in rest {
                        run_binary(BinOp::Add, o, c, o);
                    }
                }
            }
            Ok(())
        },
    );
    op.shape_partial = Some(Box::new(crate::graph::infer::same_shape_partial));
    let op = op.with_grad(|_, a| Ok(vec![Some(a.out_grads[0].clone()); a.inputs.len()]));
    #[cfg(feature = "cuda")]
    let op = op.with_cuda(Some(cuda::add_n()));
    op.arc()
}

/// Scalar op names: (kind, name, reverse).
pub fn scalar_names() -> Vec<(BinOp, &'static str, bool)> {
    let mut v = Vec::new();
    for &(kind, suffix, _, _) in KINDS {
        v.push((kind, leak(format!("_{suffix}_scalar")), false));
        if matches!(kind, BinOp::Sub | BinOp::Div | BinOp::Mod | BinOp::Pow) {
            let r = match kind {
                BinOp::Sub => "_rminus_scalar",
                BinOp::Div => "_rdiv_scalar",
                BinOp::Mod => "_rmod_scalar",
                _ => "_rpower_scalar",
            };
            v.push((kind, r, true));
        }
    }
    for e in v.iter_mut() {
        e.1 = match e.1 {
            "_add_scalar" => "_plus_scalar",
            "_sub_scalar" => "_minus_scalar",
            other => other,
        };
    }
    v
}

pub fn register(r: &mut Registry) {
    for &(kind, suffix, aliases, verb) in KINDS {
        for broadcast in [false, true] {
            let name = if broadcast {
                leak(format!("broadcast_{suffix}"))
            } else {
                leak(elemwise_name(kind, suffix))
            };
            let rule = if broadcast {
                "Inputs are broadcast against each other with numpy's rules."
            } else {
                "Both inputs must have the same shape."
            };
            r.add(SimpleDef {
                name,
                doc: format!("Returns element-wise {verb} of the input arrays. {rule}"),
                params: vec![],
                inputs: Inputs::Fixed(&["lhs", "rhs"]),
                create: Box::new(move |_| Ok(make_binary(kind, broadcast, name))),
            });
        }
        for a in aliases {
            r.alias(a, leak(elemwise_name(kind, suffix)));
        }
    }
    r.add(SimpleDef {
        name: "add_n",
        doc: "Adds all input arguments element-wise; all inputs must have one shape.".into(),
        params: vec![param(
            "num_args",
            "int",
            None,
            "Number of inputs to be summed.",
        )],
        inputs: Inputs::Variadic {
            name: "args",
            count_param: "num_args",
        },
        create: Box::new(|p| Ok(add_n_op(p.count("num_args")?))),
    });
    r.alias("ElementWiseSum", "add_n");
    r.alias("broadcast_plus", "broadcast_add");
    r.alias("broadcast_minus", "broadcast_sub");
    for (kind, name, reverse) in scalar_names() {
        let verb = KINDS
            .iter()
            .find(|k| k.0 == kind)
            .map(|k| k.3)
            .unwrap_or("");
        let order = if reverse {
            "`scalar (op) data`"
        } else {
            "`data (op) scalar`"
        };
        r.add(SimpleDef {
            name,
            doc: format!(
                "Element-wise {verb} of an array and a scalar, computed as {order}. The scalar is \
                 cast to the array's dtype first."
            ),
            params: vec![
                param("scalar", "double", Some("1"), "scalar input value"),
                param(
                    "is_int",
                    "boolean",
                    Some("True"),
                    "False: an integer or bool array is promoted to float64 and the scalar kept \
                     as given",
                ),
            ],
            inputs: Inputs::Fixed(&["data"]),
            create: Box::new(move |p| {
                let (scalar, is_int) = (p.float("scalar")?, p.bool("is_int")?);
                Ok(scalar_op(kind, scalar, is_int, reverse, name))
            }),
        });
    }
    r.alias("_PlusScalar", "_plus_scalar");
    r.alias("_MinusScalar", "_minus_scalar");
    r.alias("_RMinusScalar", "_rminus_scalar");
    r.alias("_MulScalar", "_mul_scalar");
    r.alias("_DivScalar", "_div_scalar");
    r.alias("_RDivScalar", "_rdiv_scalar");
    r.alias("_PowerScalar", "_power_scalar");
    r.alias("_RPowerScalar", "_rpower_scalar");
    r.alias("_MaximumScalar", "_maximum_scalar");
    r.alias("_MinimumScalar", "_minimum_scalar");
}
