//! `SVMOutput`: a loss head that outputs `data` (viewed as (batch, classes)) and makes the
//! gradient of the one-vs-all hinge loss (L2-SVM, or L1-SVM with `use_linear`), independent of
//! any head gradient, as MXNet 1.9.1 does. The label gets no gradient.

use crate::dtype::Element;
use crate::error::Error;
use crate::kernels::cpu::elemwise::unary;
use crate::kernels::cpu::norm::with_real;
use crate::op::params::param;
use crate::op::{expect_inputs, FnOp, Inputs, Operator, Registry, SimpleDef};
use crate::shape::Shape;
use crate::with_dtype;
use std::sync::Arc;

#[derive(Clone, Copy)]
struct SvmCfg {
    margin: f64,
    reg: f64,
    linear: bool,
}

/// (batch, classes) of the data.
fn rows(s: &Shape) -> (usize, usize) {
    match s.dims().split_first() {
        Some((&n, rest)) => (n, rest.iter().product()),
        None => (1, 1),
    }
}

fn label_shape(d: &Shape) -> Shape {
    Shape::new(vec![d.dims().first().copied().unwrap_or(1)])
}

fn svm_output(cfg: SvmCfg) -> Arc<dyn Operator> {
    let name = "SVMOutput";
    let mut op = FnOp::new(
        name,
        move |ins| {
            expect_inputs(name, ins, 2)?;
            let (d, l) = (&ins[0], &ins[1]);
            if !d.dtype.is_float() {
                return Err(Error::dtype(name, format!("expects float16, float32 or float64 data, got {}", d.dtype)));
            }
            if d.shape.ndim() == 0 {
                return Err(Error::shape(name, "expects data with at least one dimension, got shape []"));
            }
            let want = label_shape(&d.shape);
            if l.shape != want {
                return Err(Error::shape(
                    name,
                    format!("Shape inconsistent, Provided = {}, inferred shape={want}: label must hold one class per row of data of shape {}", l.shape, d.shape),
                ));
            }
            Ok(vec![d.clone()])
        },
        move |_, ins, outs| {
            with_real!(name, ins[0].dtype(), T, _C, {
                unary::<T, T>(&ins[0], &outs[0], |v| v);
            });
            Ok(())
        },
    )
    .with_shape_partial(|ins, _| {
        if let (Some(d), None) = (&ins[0], &ins[1]) {
            if d.ndim() > 0 {
                ins[1] = Some(label_shape(d));
            }
        }
        Ok(())
    })
    .with_type_partial(|ins, outs| {
        let t = ins[0].or(outs[0]);
        ins[0] = t;
        outs[0] = t;
        // the label takes the data's type unless it has one (MXNet's rule for its *Output ops)
        ins[1] = ins[1].or(t);
        Ok(())
    })
    .with_grad(move |g, a| {
        let bname = "_backward_SVMOutput";
        let bwd = FnOp::new(
            bname,
            |ins| Ok(vec![ins[0].clone()]),
            move |_, ins, outs| {
                let (x, l) = (&ins[0], &ins[1]);
                let (n, k) = rows(x.shape());
                let lab: Vec<f64> = with_dtype!(l.dtype(), L, {
                    // SAFETY: inside the op reading l.
                    unsafe { l.data::<L>() }.iter().map(|v| v.to_f64()).collect()
                });
                let (m, c) = (cfg.margin, cfg.reg);
                with_real!(bname, x.dtype(), T, _C, {
                    // SAFETY: inside the op reading x and writing dx (fresh).
                    let (xs, dx) = unsafe { (x.data::<T>(), outs[0].data_mut::<T>()) };
                    for r in 0..n {
                        let y = lab[r];
                        if !(y >= 0.0 && y < k as f64) {
                            return Err(Error::Index(format!(
                                "{name}: label {y} of row {r} is out of range for {k} classes"
                            )));
                        }
                        let y = y as usize;
                        for j in 0..k {
                            let v = xs[r * k + j].to_f64();
                            // The label column is pushed above +margin, the others below -margin.
                            let g = match (j == y, cfg.linear) {
                                (true, true) => if m > v { -c } else { 0.0 },
                                (true, false) => if m > v { -2.0 * c * (m - v) } else { 0.0 },
                                (false, true) => if m > -v { c } else { 0.0 },
                                (false, false) => if m > -v { 2.0 * c * (m + v) } else { 0.0 },
                            };
                            dx[r * k + j] = T::from_f64(g);
                        }
                    }
                });
                Ok(())
            },
        )
        .arc();
        let dx = g.apply(bwd, &[a.inputs[0].clone(), a.inputs[1].clone()]);
        Ok(vec![dx.into_iter().next(), None])
    });
    op.loss = true;
    op.inplace = true;
    op.arc()
}

pub fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: "SVMOutput",
        doc: "Computes support vector machine based transformation of the input.\n\nForward outputs ``data``. Backward (a loss head, independent of any head gradient) gives the gradient of the one-vs-all squared hinge loss (L2-SVM), or of the hinge loss with use_linear (L1-SVM), scaled by regularization_coefficient; label holds one class index per row.".into(),
        params: vec![
            param("margin", "float, optional", Some("1"), "The loss function penalizes outputs that lie outside this margin. Default margin is 1."),
            param("regularization_coefficient", "float, optional", Some("1"), "Regularization parameter for the SVM. This balances the tradeoff between coefficient size and error."),
            param("use_linear", "boolean, optional", Some("0"), "Whether to use L1-SVM objective. L2-SVM objective is used by default."),
        ],
        inputs: Inputs::Fixed(&["data", "label"]),
        create: Box::new(|p| {
            Ok(svm_output(SvmCfg {
                margin: p.float("margin")?,
                reg: p.float("regularization_coefficient")?,
                linear: p.bool("use_linear")?,
            }))
        }),
    });
}

#[cfg(test)]
mod tests {
    use crate::op::nn::loss::op_grads;
    use crate::op::test_util::{arr, err, f32s, run};

    fn grad(attrs: &[(&str, &str)], l: &[f32]) -> Vec<f32> {
        let x = arr(&[2, 3], &[0.5f32, -1.0, 2.0, 0.2, 0.3, -0.4]);
        let g = op_grads("SVMOutput", attrs, &[x, arr(&[2], l)], None, true);
        assert!(g[1].is_none(), "the label gets no gradient");
        f32s(g[0].as_ref().expect("dx"))
    }

    type Attrs = &'static [(&'static str, &'static str)];

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5)
    }

    #[test]
    fn svm_output_matches_mxnet() {
        let x = arr(&[2, 3], &[0.5f32, -1.0, 2.0, 0.2, 0.3, -0.4]);
        assert_eq!(
            f32s(&run(
                "SVMOutput",
                &[x.clone(), arr(&[2], &[2.0f32, 0.0])],
                &[]
            )),
            f32s(&x)
        );
        // MXNet 1.9.1's gradients (mx.autograd) for labels [2, 0].
        let l = [2.0f32, 0.0];
        let cases: [(Attrs, [f32; 6]); 4] = [
            (&[], [3.0, 0.0, 0.0, -1.6, 2.6, 1.2]),
            (
                &[("margin", "0.5"), ("regularization_coefficient", "2")],
                [4.0, 0.0, 0.0, -1.2, 3.2, 0.4],
            ),
            (&[("use_linear", "True")], [1.0, 0.0, 0.0, -1.0, 1.0, 1.0]),
            (
                &[
                    ("use_linear", "True"),
                    ("margin", "0.5"),
                    ("regularization_coefficient", "2"),
                ],
                [2.0, 0.0, 0.0, -2.0, 2.0, 2.0],
            ),
        ];
        for (attrs, want) in cases {
            let g = grad(attrs, &l);
            assert!(close(&g, &want), "{attrs:?}: {g:?}");
        }
        let e = err("SVMOutput", &[x.clone(), arr(&[3], &[0.0f32; 3])], &[]);
        assert!(
            e.to_string().contains("SVMOutput") && e.to_string().contains("[3]"),
            "{e}"
        );
        let e = err(
            "SVMOutput",
            &[arr(&[2], &[1i32, 2]), arr(&[2], &[0.0f32; 2])],
            &[],
        );
        assert!(e.to_string().contains("SVMOutput"), "{e}");
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn svm_output_rejects_bad_labels() {
        grad(&[], &[5.0, -1.0]);
    }
}
