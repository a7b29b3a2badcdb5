//! Unary special functions (`erf`, `erfinv`, `gamma`, `gammaln`, `digamma`) and `hard_sigmoid`. The
//! special functions compute in f64 (erf of float32 and the half types in f32, as MXNet's
//! float kernels do); integers truncate the result, as MXNet's integer kernels do.
//! `hard_sigmoid` takes float inputs only, as in MXNet.

use super::params::param;
use super::{expect_inputs, FnOp, GradArgs, Inputs, Operator, Registry, SimpleDef};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::graph::{Entry, GradBuilder};
use crate::kernels::cpu::elemwise::{unary, unary_wide};
use crate::kernels::cpu::halves;
use crate::kernels::cpu::norm::erf_f32;
use crate::kernels::cpu::special::{
    digamma, erfinv, gamma, gammaln, psi_at_poles_infinite, trigamma,
};
use crate::ndarray::NDArray;
use crate::with_dtype;
use half::{bf16, f16};
use std::sync::Arc;

/// `out = f(x)` through f64, any dtype; integer results wrap as MXNet's casts do (int8
/// gamma(7) is -48, an infinity the lowest int32).
pub(crate) fn map_f64(a: &NDArray, o: &NDArray, f: impl Fn(f64) -> f64 + Copy + Send + Sync) {
    with_dtype!(a.dtype(), T, {
        unary::<T, T>(a, o, move |x| T::from_f64_c(f(x.to_f64())))
    })
}

fn same_shape(name: &'static str) -> impl Fn(&[super::Desc]) -> Result<Vec<super::Desc>> {
    move |inputs| {
        expect_inputs(name, inputs, 1)?;
        Ok(vec![inputs[0].clone()])
    }
}

/// `erf`: the float types compute in float32 as MXNet's float kernels do (vectorised), but
/// float64 and the integer types in f64.
fn erf_forward(a: &NDArray, o: &NDArray) {
    match a.dtype() {
        DType::F32 => unary_wide::<f32, f32>(a, o, erf_f32),
        DType::F16 => halves::unary::<f16>(a, o, erf_f32),
        DType::BF16 => halves::unary::<bf16>(a, o, erf_f32),
        _ => map_f64(a, o, libm::erf),
    }
}

fn special_op(name: &'static str, forward: fn(&NDArray, &NDArray)) -> Arc<dyn Operator> {
    let mut op = FnOp::new(name, same_shape(name), move |_, ins, outs| {
        forward(&ins[0], &outs[0]);
        Ok(())
    });
    op.inplace = true;
    op.shape_partial = Some(Box::new(crate::graph::infer::same_shape_partial));
    op.with_grad(move |g, a| special_grad(name, g, a)).arc()
}

/// `_backward_<op>(og, x) = og * f'(x)` for the derivatives that no registered op computes
/// (digamma); not differentiable again, as in MXNet.
fn backward_op(name: &'static str, d: fn(f64) -> f64) -> Arc<dyn Operator> {
    FnOp::new(
        name,
        move |inputs| {
            expect_inputs(name, inputs, 2)?;
            Ok(vec![inputs[1].clone()])
        },
        move |_, ins, outs| {
            with_dtype!(ins[1].dtype(), T, {
                // SAFETY: inside the op reading ins and writing outs[0], which is fresh.
                let (og, x, o) = unsafe {
                    (
                        ins[0].data::<T>(),
                        ins[1].data::<T>(),
                        outs[0].data_mut::<T>(),
                    )
                };
                for ((o, &g), &x) in o.iter_mut().zip(og).zip(x) {
                    *o = T::from_f64(g.to_f64() * d(x.to_f64()));
                }
            });
            Ok(())
        },
    )
    .arc()
}

fn special_grad(name: &str, g: &mut GradBuilder, a: &GradArgs) -> Result<Vec<Option<Entry>>> {
    let (x, y, og) = (&a.inputs[0], &a.outputs[0], &a.out_grads[0]);
    let un = |g: &mut GradBuilder, op: &str, e: &Entry| g.op1(op, &[], std::slice::from_ref(e));
    let d = match name {
        "erf" => {
            // 2/sqrt(pi) e^{-x^2}
            let s = un(g, "square", x)?;
            let s = un(g, "negative", &s)?;
            let e = un(g, "exp", &s)?;
            g.scale(&e, std::f64::consts::FRAC_2_SQRT_PI)?
        }
        "erfinv" => {
            // sqrt(pi)/2 e^{erfinv(x)^2}
            let s = un(g, "square", y)?;
            let e = un(g, "exp", &s)?;
            g.scale(&e, std::f64::consts::PI.sqrt() / 2.0)?
        }
        "gamma" => {
            // gamma(x) digamma(x) = y * digamma(x)
            let r = g.apply(
                backward_op("_backward_gamma", psi_at_poles_infinite),
                &[og.clone(), x.clone()],
            );
            return Ok(vec![Some(g.mul(&r[0], y)?)]);
        }
        "gammaln" => {
            let r = g.apply(
                backward_op("_backward_gammaln", psi_at_poles_infinite),
                &[og.clone(), x.clone()],
            );
            return Ok(vec![Some(r[0].clone())]);
        }
        "digamma" => {
            let r = g.apply(
                backward_op("_backward_digamma", trigamma),
                &[og.clone(), x.clone()],
            );
            return Ok(vec![Some(r[0].clone())]);
        }
        _ => return Err(Error::Internal(format!("no gradient rule for {name}"))),
    };
    Ok(vec![Some(g.mul(og, &d)?)])
}

fn hard_sigmoid_op(alpha: f64, beta: f64) -> Arc<dyn Operator> {
    const NAME: &str = "hard_sigmoid";
    let mut op = FnOp::new(
        NAME,
        |inputs| {
            expect_inputs(NAME, inputs, 1)?;
            if !inputs[0].dtype.is_float() {
                return Err(Error::dtype(
                    NAME,
                    format!(
                        "This operation only support floating point types, not {}",
                        inputs[0].dtype
                    ),
                ));
            }
            Ok(vec![inputs[0].clone()])
        },
        move |_, ins, outs| {
            let f = move |x: f64| (alpha * x + beta).clamp(0.0, 1.0);
            match ins[0].dtype() {
                DType::F32 => {
                    let (a, b) = (alpha as f32, beta as f32);
                    unary::<f32, f32>(&ins[0], &outs[0], move |x| (a * x + b).clamp(0.0, 1.0))
                }
                _ => map_f64(&ins[0], &outs[0], f),
            }
            Ok(())
        },
    );
    op.inplace = true;
    op.shape_partial = Some(Box::new(crate::graph::infer::same_shape_partial));
    op.with_grad(move |g, a| {
        // alpha where 0 < alpha x + beta < 1 (strictly, as MXNet), else 0; read off the output.
        let y = &a.outputs[0];
        let sc = |g: &mut GradBuilder, op: &str, v: f64| {
            g.op1(
                op,
                &[("scalar", &format!("{v:?}"))],
                std::slice::from_ref(y),
            )
        };
        let lo = sc(g, "_greater_scalar", 0.0)?;
        let hi = sc(g, "_lesser_scalar", 1.0)?;
        let m = g.mul(&lo, &hi)?;
        // Selected, not multiplied by the mask: an infinite alpha gives 0 outside, not NaN.
        let og = &a.out_grads[0];
        let scaled = g.scale(og, alpha)?;
        let zero = g.zeros_like(og)?;
        Ok(vec![Some(g.op1("where", &[], &[m, scaled, zero])?)])
    })
    .arc()
}

pub fn register(r: &mut Registry) {
    type Row = (&'static str, &'static str, fn(&NDArray, &NDArray));
    let rows: [Row; 5] = [
        (
            "erf",
            "Returns element-wise gauss error function of the input.",
            erf_forward,
        ),
        (
            "erfinv",
            "Returns element-wise inverse gauss error function of the input (NaN outside [-1, 1]).",
            |a, o| map_f64(a, o, erfinv),
        ),
        (
            "gamma",
            "Returns the gamma function (extension of the factorial function to the reals), computed element-wise on the input array.",
            |a, o| map_f64(a, o, gamma),
        ),
        (
            "gammaln",
            "Returns element-wise log of the absolute value of the gamma function of the input.",
            |a, o| map_f64(a, o, gammaln),
        ),
        (
            "digamma",
            "Returns element-wise digamma function (the logarithmic derivative of gamma) of the input; NaN at the poles 0, -1, -2, ...",
            |a, o| map_f64(a, o, digamma),
        ),
    ];
    for (name, doc, f) in rows {
        r.add(SimpleDef {
            name,
            doc: doc.to_string(),
            params: vec![],
            inputs: Inputs::Fixed(&["data"]),
            create: Box::new(move |_| Ok(special_op(name, f))),
        });
    }
    r.add(SimpleDef {
        name: "hard_sigmoid",
        doc: "Computes hard sigmoid of x element-wise: y = max(0, min(1, alpha * x + beta))."
            .into(),
        params: vec![
            param(
                "alpha",
                "float",
                Some("0.200000003"),
                "Slope of hard sigmoid",
            ),
            param("beta", "float", Some("0.5"), "Bias of hard sigmoid."),
        ],
        inputs: Inputs::Fixed(&["data"]),
        create: Box::new(|p| Ok(hard_sigmoid_op(p.float("alpha")?, p.float("beta")?))),
    });
}

#[cfg(test)]
mod tests {
    use crate::op::test_util::{arr, check_grad, err, rand64, run};

    #[test]
    fn values_match_references() {
        let x = arr(&[4], &[-0.5f64, 0.3, 1.5, 2.5]);
        let want: [(&str, [f64; 4]); 3] = [
            (
                "erf",
                [
                    -0.520_499_877_813_046_5,
                    0.328_626_759_459_127_4,
                    0.966_105_146_475_310_8,
                    0.999_593_047_982_555,
                ],
            ),
            (
                "gamma",
                [
                    -3.544_907_701_811_032,
                    2.991_568_987_687_591,
                    0.886_226_925_452_758,
                    1.329_340_388_179_137_2,
                ],
            ),
            (
                "gammaln",
                [
                    1.265_512_123_484_645,
                    1.095_797_994_818_075_2,
                    -0.120_782_237_635_245_43,
                    0.284_682_870_472_919_6,
                ],
            ),
        ];
        for (op, w) in want {
            let got = run(op, std::slice::from_ref(&x), &[])
                .to_vec::<f64>()
                .unwrap();
            for (g, w) in got.iter().zip(w) {
                assert!((g - w).abs() < 1e-13 * w.abs().max(1.0), "{op}: {got:?}");
            }
        }
        let y = arr(&[3], &[-0.5f32, 0.0, 0.9]);
        let got = run("erfinv", &[y], &[]).to_vec::<f32>().unwrap();
        let want = [-0.476_936_28f32, 0.0, 1.163_087_1];
        assert!(
            got.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6),
            "{got:?}"
        );
        // digamma(1/2) = -euler_gamma - 2 ln 2, and psi(x + 1) = psi(x) + 1/x.
        let h = -0.577_215_664_901_532_9 - 2.0 * std::f64::consts::LN_2;
        let got = run("digamma", &[arr(&[4], &[-0.5f64, 0.5, 1.5, 2.5])], &[])
            .to_vec::<f64>()
            .unwrap();
        let want = [h + 2.0, h, h + 2.0, h + 2.0 + 1.0 / 1.5];
        assert!(
            got.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-13),
            "{got:?}"
        );
        // psi'(1/2) = pi^2 / 2, psi'(x + 1) = psi'(x) - 1/x^2.
        let p2 = std::f64::consts::PI.powi(2) / 2.0;
        let tri = crate::kernels::cpu::special::trigamma;
        for (x, w) in [(0.5, p2), (-0.5, p2 + 4.0), (2.5, p2 - 4.0 - 1.0 / 2.25)] {
            assert!(
                (tri(x) - w).abs() < 1e-12 * w.max(1.0),
                "trigamma({x}) = {}",
                tri(x)
            );
        }
        // Integer inputs truncate the f64 result, as MXNet does.
        let i = arr(&[3], &[1i32, 2, 4]);
        assert_eq!(run("gamma", &[i], &[]).to_vec::<i32>().unwrap(), [1, 1, 6]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        check_grad("erf", &[], &[rand64(&[2, 3], -2.0, 2.0, 1)], &[0]);
        check_grad("erfinv", &[], &[rand64(&[2, 3], -0.9, 0.9, 2)], &[0]);
        check_grad("gamma", &[], &[rand64(&[2, 3], 0.2, 4.0, 3)], &[0]);
        check_grad("gamma", &[], &[rand64(&[2, 3], -2.9, -2.1, 4)], &[0]);
        check_grad("gammaln", &[], &[rand64(&[2, 3], -1.9, 5.0, 5)], &[0]);
        check_grad("digamma", &[], &[rand64(&[2, 3], 0.3, 12.0, 7)], &[0]);
        check_grad("digamma", &[], &[rand64(&[2, 3], -2.9, -2.1, 8)], &[0]);
        check_grad(
            "hard_sigmoid",
            &[("alpha", "0.3"), ("beta", "0.4")],
            &[rand64(&[3, 4], -4.0, 4.0, 6)],
            &[0],
        );
    }

    #[test]
    fn hard_sigmoid_clips_and_checks_dtype() {
        let x = arr(&[5], &[-3.0f32, -1.0, 0.0, 1.0, 3.0]);
        let y = run("hard_sigmoid", &[x], &[]).to_vec::<f32>().unwrap();
        let want = [0.0f32, 0.3, 0.5, 0.7, 1.0];
        assert!(
            y.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6),
            "{y:?}"
        );
        let e = err("hard_sigmoid", &[arr(&[2], &[1i32, 2])], &[]);
        assert!(e.to_string().contains("hard_sigmoid") && e.to_string().contains("int32"));
    }
}
