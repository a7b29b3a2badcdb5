//! Binary arithmetic, comparison and logic: `elemwise_*` (equal shapes), `broadcast_*`
//! (numpy broadcasting) and `_*_scalar` (array with a Python number) families.
//! Comparisons return 0/1 in the input dtype, as MXNet does.

use super::params::param;
use super::{expect_inputs, Desc, FnOp, Inputs, Operator, Registry, SimpleDef};
use crate::error::{Error, Result};
use crate::kernels::cpu::elemwise::{binary, unary, Arith};
use crate::shape::broadcast_shapes;
use crate::with_dtype;
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

/// The configured binary op on two arrays (`broadcast` = numpy rules, else equal shapes).
pub fn binary_op(kind: BinOp, broadcast: bool) -> Arc<dyn Operator> {
    let suffix = KINDS
        .iter()
        .find(|k| k.0 == kind)
        .map(|k| k.1)
        .unwrap_or("add");
    let name = if broadcast {
        leak(format!("broadcast_{suffix}"))
    } else {
        leak(elemwise_name(kind, suffix))
    };
    make_binary(kind, broadcast, name)
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
            with_dtype!(ins[0].dtype(), T, {
                with_binop!(kind, T, |f| binary::<T>(&ins[0], &ins[1], &outs[0], f))
            });
            Ok(())
        },
    );
    op.inplace = true;
    op.arc()
}

/// `array (op) scalar`, or `scalar (op) array` when `reverse`. The scalar is first cast to
/// the array's dtype (MXNet: int32 + 2.5 adds 2).
pub fn scalar_op(kind: BinOp, scalar: f64, reverse: bool, name: &'static str) -> Arc<dyn Operator> {
    let mut op = FnOp::new(
        name,
        move |inputs| {
            expect_inputs(name, inputs, 1)?;
            Ok(vec![inputs[0].clone()])
        },
        move |_, ins, outs| {
            with_dtype!(ins[0].dtype(), T, {
                let s = <T as crate::dtype::Element>::from_f64(scalar);
                with_binop!(kind, T, |f| if reverse {
                    unary::<T, T>(&ins[0], &outs[0], |x| f(s, x))
                } else {
                    unary::<T, T>(&ins[0], &outs[0], |x| f(x, s))
                })
            });
            Ok(())
        },
    );
    op.inplace = true;
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
            params: vec![param("scalar", "float", Some("1"), "scalar input value")],
            inputs: Inputs::Fixed(&["data"]),
            create: Box::new(move |p| Ok(scalar_op(kind, p.float("scalar")?, reverse, name))),
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
