//! BatchNorm, LayerNorm, InstanceNorm and GroupNorm against references and MXNet's numbers.

use crate::autograd;
use crate::dtype::DType;
use crate::op::call_str;
use crate::op::nn::loss::op_grads;
use crate::op::test_util::{arr, as_f32, check_grad, check_grad_train, err, f32s, rand64, run};

fn close(a: &[f32], b: &[f64], tol: f64) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (*x as f64 - y).abs() <= tol * (1.0 + y.abs()))
}

fn bn_inputs(g: [f32; 2], mm: [f32; 2], mv: [f32; 2]) -> Vec<crate::ndarray::NDArray> {
    vec![
        arr(&[4, 2], &(0..8).map(|i| i as f32).collect::<Vec<_>>()),
        arr(&[2], &g),
        arr(&[2], &[0.5f32, 1.0]),
        arr(&[2], &mm),
        arr(&[2], &mv),
    ]
}

fn train<R>(f: impl FnOnce() -> R) -> R {
    let prev = autograd::set_training(true);
    let r = f();
    autograd::set_training(prev);
    r
}

#[test]
fn batch_norm_forward_matches_mxnet() {
    // Numbers printed by MXNet 1.9.1 for these inputs.
    let ins = bn_inputs([2.0, 3.0], [0.1, 0.2], [1.5, 2.0]);
    let o = call_str(
        "BatchNorm",
        &ins,
        &[("fix_gamma", "False"), ("output_mean_var", "True")],
    )
    .unwrap();
    assert_eq!(o.len(), 3);
    let want = [
        0.3367551, 2.6966324, 3.601653, 6.9382124, 6.8665514, 11.179793, 10.13145, 15.421374,
    ];
    assert!(close(&f32s(&o[0]), &want, 1e-6), "{:?}", f32s(&o[0]));
    assert!(close(&f32s(&o[1]), &[0.1, 0.2], 1e-7));
    assert!(close(&f32s(&o[2]), &[0.8162245, 0.7069301], 1e-6));
    let y = run("BatchNorm", &ins, &[]);
    let want = [
        0.41837755, 1.5655441, 2.0508265, 2.9794042, 3.6832757, 4.393265, 5.315725, 5.8071246,
    ];
    assert!(close(&f32s(&y), &want, 1e-6), "fix_gamma {:?}", f32s(&y));
    let ins = bn_inputs([1.0, 1.0], [0.1, 0.2], [1.5, 2.0]);
    let o = train(|| {
        call_str(
            "BatchNorm",
            &ins,
            &[("fix_gamma", "False"), ("output_mean_var", "True")],
        )
        .unwrap()
    });
    let want = [
        -0.8415066, -0.3415066, 0.05283114, 0.5528312, 0.9471688, 1.4471688, 1.8415066, 2.3415065,
    ];
    assert!(close(&f32s(&o[0]), &want, 1e-6), "{:?}", f32s(&o[0]));
    assert!(close(&f32s(&o[1]), &[3.0, 4.0], 1e-7));
    assert!(close(&f32s(&o[2]), &[0.44716886, 0.44716886], 1e-6));
    // The training forward leaves the moving statistics alone.
    assert_eq!(f32s(&ins[3]), [0.1, 0.2]);
    assert_eq!(f32s(&ins[4]), [1.5, 2.0]);
    // use_global_stats: moving statistics even in training.
    let y = train(|| run("BatchNorm", &ins, &[("use_global_stats", "True")]));
    assert!(close(
        &f32s(&y),
        &[0.41837755, 1.5655441, 2.0508265, 2.9794042, 3.6832757, 4.393265, 5.315725, 5.8071246],
        1e-6
    ));
}

#[test]
fn batch_norm_backward_updates_moving_stats() {
    let ins = bn_inputs([2.0, 3.0], [0.1, 0.2], [1.5, 2.0]);
    let dy = arr(
        &[4, 2],
        &(0..8).map(|i| i as f32 * 0.3 + 1.0).collect::<Vec<_>>(),
    );
    let g = op_grads(
        "BatchNorm",
        &[],
        &ins,
        Some(std::slice::from_ref(&dy)),
        true,
    );
    // MXNet 1.9.1: dx ~ 1e-4 (dy is linear in x), dgamma 0 (fix_gamma), dbeta = sum(dy).
    assert!(f32s(g[0].as_ref().unwrap()).iter().all(|v| v.abs() < 2e-4));
    assert_eq!(f32s(g[1].as_ref().unwrap()), [0.0, 0.0]);
    assert!(close(&f32s(g[2].as_ref().unwrap()), &[7.6, 8.8], 1e-6));
    assert!(g[3].is_none() && g[4].is_none());
    assert!(
        close(&f32s(&ins[3]), &[0.39, 0.58], 1e-6),
        "{:?}",
        f32s(&ins[3])
    );
    assert!(
        close(&f32s(&ins[4]), &[1.85, 2.3], 1e-6),
        "{:?}",
        f32s(&ins[4])
    );
    // use_global_stats: gradient through the moving statistics, no update.
    let ins = bn_inputs([1.0, 1.0], [0.39, 0.58], [1.85, 2.3]);
    let g = op_grads(
        "BatchNorm",
        &[("fix_gamma", "False"), ("use_global_stats", "True")],
        &ins,
        Some(&[dy]),
        true,
    );
    let want = [
        0.735016, 0.8570083, 1.1760256, 1.2525506, 1.6170352, 1.6480929, 2.0580447, 2.0436351,
    ];
    assert!(
        close(&f32s(g[0].as_ref().unwrap()), &want, 1e-5),
        "{:?}",
        f32s(g[0].as_ref().unwrap())
    );
    assert!(close(
        &f32s(g[1].as_ref().unwrap()),
        &[18.989874, 23.795824],
        1e-5
    ));
    assert!(close(&f32s(&ins[3]), &[0.39, 0.58], 1e-7));
    assert!(close(&f32s(&ins[4]), &[1.85, 2.3], 1e-7));
}

#[test]
fn batch_norm_reference_section_5_5() {
    // Reference §5.5: data arange(8).reshape(4,2), mean 0 / var 1 -> [0.3,0.4], [1.4,1.4].
    let ins = bn_inputs([1.0, 1.0], [0.0, 0.0], [1.0, 1.0]);
    let dy = arr(&[4, 2], &[1.0f32; 8]);
    op_grads("BatchNorm", &[], &ins, Some(&[dy]), true);
    assert!(close(&f32s(&ins[3]), &[0.3, 0.4], 1e-6));
    assert!(close(&f32s(&ins[4]), &[1.4, 1.4], 1e-6));
}

fn naive_bn(x: &[f64], shape: &[usize], ax: usize, g: &[f64], b: &[f64], eps: f64) -> Vec<f64> {
    let outer: usize = shape[..ax].iter().product();
    let c = shape[ax];
    let inner: usize = shape[ax + 1..].iter().product();
    let mut y = vec![0.0; x.len()];
    for ch in 0..c {
        let idx: Vec<usize> = (0..outer)
            .flat_map(|o| (0..inner).map(move |i| (o * c + ch) * inner + i))
            .collect();
        let m = idx.iter().map(|&i| x[i]).sum::<f64>() / idx.len() as f64;
        let v = idx.iter().map(|&i| (x[i] - m).powi(2)).sum::<f64>() / idx.len() as f64;
        for &i in &idx {
            y[i] = (x[i] - m) / (v + eps).sqrt() * g[ch] + b[ch];
        }
    }
    y
}

#[test]
fn batch_norm_axes_dtypes_and_naive() {
    for (shape, axis) in [
        (vec![3usize, 4, 5, 2], 1i64),
        (vec![6, 3], -1),
        (vec![2, 3, 4], 2),
        (vec![2, 70, 600], 1),
    ] {
        let ax = ((axis + shape.len() as i64) % shape.len() as i64) as usize;
        let c = shape[ax];
        let x = rand64(&shape, -2.0, 3.0, 11);
        let g = rand64(&[c], 0.5, 1.5, 12);
        let b = rand64(&[c], -1.0, 1.0, 13);
        let z = rand64(&[c], 0.0, 0.1, 14);
        let want = naive_bn(
            &x.to_vec::<f64>().unwrap(),
            &shape,
            ax,
            &g.to_vec::<f64>().unwrap(),
            &b.to_vec::<f64>().unwrap(),
            1e-3,
        );
        let axs = axis.to_string();
        let attrs = [("fix_gamma", "False"), ("axis", axs.as_str())];
        let y = train(|| {
            run(
                "BatchNorm",
                &[x.clone(), g.clone(), b.clone(), z.clone(), z.clone()],
                &attrs,
            )
        });
        let y = y.to_vec::<f64>().unwrap();
        assert!(
            y.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-10),
            "{shape:?}"
        );
        // float16 data with float32 parameters.
        let cast = |a: &crate::ndarray::NDArray, d: &str| {
            call_str("Cast", std::slice::from_ref(a), &[("dtype", d)])
                .unwrap()
                .remove(0)
        };
        let y16 = train(|| {
            call_str(
                "BatchNorm",
                &[
                    cast(&x, "float16"),
                    cast(&g, "float32"),
                    cast(&b, "float32"),
                    cast(&z, "float32"),
                    cast(&z, "float32"),
                ],
                &attrs,
            )
            .unwrap()
        });
        assert_eq!((y16[0].dtype(), y16[1].dtype()), (DType::F16, DType::F32));
        let y16 = y16[0].to_vec::<half::f16>().unwrap();
        assert!(y16
            .iter()
            .zip(&want)
            .all(|(a, b)| (a.to_f64() - b).abs() < 1e-2 * (1.0 + b.abs())));
    }
}

#[test]
fn batch_norm_errors() {
    let ins = bn_inputs([1.0, 1.0], [0.0, 0.0], [1.0, 1.0]);
    let mut bad = ins.clone();
    bad[1] = arr(&[3], &[1.0f32; 3]);
    let e = err("BatchNorm", &bad, &[]).to_string();
    assert!(e.contains("gamma") && e.contains("(2,)"), "{e}");
    let e = err("BatchNorm", &ins, &[("axis", "2")]).to_string();
    assert!(e.contains("axis"), "{e}");
    assert!(call_str("BatchNorm", &ins[..3], &[]).is_err());
    assert!(err("BatchNorm", &ins, &[("foo", "1")])
        .to_string()
        .contains("foo"));
}

#[test]
fn batch_norm_gradients() {
    let x = rand64(&[3, 2, 4], -1.0, 1.0, 21);
    let g = rand64(&[2], 0.5, 1.5, 22);
    let b = rand64(&[2], -0.5, 0.5, 23);
    let mm = rand64(&[2], -0.2, 0.2, 24);
    let mv = rand64(&[2], 0.5, 1.5, 25);
    let ins = [x, g, b, mm, mv];
    for fix in ["True", "False"] {
        check_grad_train("BatchNorm", &[("fix_gamma", fix)], &ins, &[0, 1, 2]);
        check_grad("BatchNorm", &[("fix_gamma", fix)], &ins, &[0, 1, 2]);
        check_grad_train(
            "BatchNorm",
            &[("fix_gamma", fix), ("use_global_stats", "True")],
            &ins,
            &[0, 1, 2],
        );
        check_grad_train(
            "BatchNorm",
            &[("fix_gamma", fix), ("axis", "-1")],
            &[
                ins[0].clone(),
                rand64(&[4], 0.5, 1.5, 26),
                rand64(&[4], 0.5, 1.5, 27),
                rand64(&[4], 0.5, 1.5, 28),
                rand64(&[4], 0.5, 1.5, 29),
            ],
            &[0, 1, 2],
        );
    }
}

#[test]
fn layer_norm_matches_naive_and_mxnet_shapes() {
    let x = rand64(&[2, 3, 4], -2.0, 2.0, 31);
    let xv = x.to_vec::<f64>().unwrap();
    for axis in [-1i64, 1, 0] {
        let ax = ((axis + 3) % 3) as usize;
        let shape = [2usize, 3, 4];
        let n = shape[ax];
        let g = rand64(&[n], 0.5, 1.5, 32);
        let b = rand64(&[n], -1.0, 1.0, 33);
        let axs = axis.to_string();
        let o = call_str(
            "LayerNorm",
            &[x.clone(), g.clone(), b.clone()],
            &[("axis", &axs), ("output_mean_var", "True")],
        )
        .unwrap();
        let mut st = shape.to_vec();
        st[ax] = 1;
        assert_eq!(o[1].shape().dims(), &st[..]);
        let (gv, bv) = (g.to_vec::<f64>().unwrap(), b.to_vec::<f64>().unwrap());
        let y = o[0].to_vec::<f64>().unwrap();
        let outer: usize = shape[..ax].iter().product();
        let inner: usize = shape[ax + 1..].iter().product();
        for oi in 0..outer {
            for ii in 0..inner {
                let at = |j: usize| (oi * n + j) * inner + ii;
                let m = (0..n).map(|j| xv[at(j)]).sum::<f64>() / n as f64;
                let v = (0..n).map(|j| (xv[at(j)] - m).powi(2)).sum::<f64>() / n as f64;
                for j in 0..n {
                    let want = (xv[at(j)] - m) / (v + 1e-5).sqrt() * gv[j] + bv[j];
                    assert!((y[at(j)] - want).abs() < 1e-9);
                }
                let sd = o[2].to_vec::<f64>().unwrap()[oi * inner + ii];
                assert!((sd - (v + 1e-5).sqrt()).abs() < 1e-9);
            }
        }
        check_grad(
            "LayerNorm",
            &[("axis", &axs)],
            &[x.clone(), g, b],
            &[0, 1, 2],
        );
    }
    let e = err(
        "LayerNorm",
        &[x.clone(), arr(&[3], &[1.0f64; 3]), arr(&[4], &[0.0f64; 4])],
        &[],
    );
    assert!(e.to_string().contains("gamma"), "{e}");
}

#[test]
fn instance_norm_matches_naive() {
    let x = rand64(&[2, 3, 2, 2], -2.0, 2.0, 41);
    let g = rand64(&[3], 0.5, 1.5, 42);
    let b = rand64(&[3], -1.0, 1.0, 43);
    let y = run("InstanceNorm", &[x.clone(), g.clone(), b.clone()], &[])
        .to_vec::<f64>()
        .unwrap();
    let (xv, gv, bv) = (
        x.to_vec::<f64>().unwrap(),
        g.to_vec::<f64>().unwrap(),
        b.to_vec::<f64>().unwrap(),
    );
    for r in 0..6 {
        let s = &xv[r * 4..r * 4 + 4];
        let m = s.iter().sum::<f64>() / 4.0;
        let v = s.iter().map(|t| (t - m).powi(2)).sum::<f64>() / 4.0;
        for j in 0..4 {
            let want = (s[j] - m) / (v + 1e-3).sqrt() * gv[r % 3] + bv[r % 3];
            assert!((y[r * 4 + j] - want).abs() < 1e-9);
        }
    }
    check_grad("InstanceNorm", &[], &[x, g, b], &[0, 1, 2]);
    let e = err(
        "InstanceNorm",
        &[
            rand64(&[2, 3], 0.0, 1.0, 1),
            rand64(&[3], 0.0, 1.0, 2),
            rand64(&[3], 0.0, 1.0, 3),
        ],
        &[],
    );
    assert!(e.to_string().contains("3 dimensions"), "{e}");
}

/// float16/bfloat16 data normalise on f32 copies: outputs and data gradients must be the
/// float32 results of the widened data rounded once, bit for bit, and the float32 parameter
/// gradients and moving statistics must equal float32's exactly.
#[test]
fn half_batch_norm_rounds_the_f32_result_once() {
    use crate::dtype::Element;
    use crate::ndarray::NDArray;

    fn check<H: Element>(op: &str, attrs: &[(&str, &str)], is_train: bool) {
        let shape = [4usize, 3, 5, 3];
        let rounded = |a: &NDArray| -> NDArray {
            let v: Vec<H> = as_f32(a).iter().map(|&x| H::from_f32(x)).collect();
            arr(a.shape().dims(), &v)
        };
        let widened = |a: &NDArray| arr(a.shape().dims(), &as_f32(a));
        let x = rounded(&rand64(&shape, -2.0, 3.0, 41));
        let dy = rounded(&rand64(&shape, -1.0, 1.0, 42));
        let params = |seed| {
            [(0.5, 1.5), (-1.0, 1.0), (-0.2, 0.2), (0.5, 1.5)]
                .iter()
                .enumerate()
                .map(|(i, &(lo, hi))| widened(&rand64(&[3], lo, hi, seed + i as u64)))
                .collect::<Vec<_>>()
        };
        let (ph, pw) = (params(50), params(50));
        let ins_h: Vec<NDArray> = std::iter::once(x.clone()).chain(ph.clone()).collect();
        let ins_w: Vec<NDArray> = std::iter::once(widened(&x)).chain(pw.clone()).collect();
        let prev = autograd::set_training(is_train);
        let (yh, yw) = (run(op, &ins_h, attrs), run(op, &ins_w, attrs));
        autograd::set_training(prev);
        let bits = |a: &NDArray| as_f32(a).iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(yh.dtype(), H::DTYPE);
        assert_eq!(bits(&yh), bits(&rounded(&yw)), "{op} {attrs:?} output");
        let gh = op_grads(op, attrs, &ins_h, Some(std::slice::from_ref(&dy)), is_train);
        let gw = op_grads(op, attrs, &ins_w, Some(&[widened(&dy)]), is_train);
        let (dxh, dxw) = (gh[0].as_ref().unwrap(), gw[0].as_ref().unwrap());
        assert_eq!(bits(dxh), bits(&rounded(dxw)), "{op} {attrs:?} dx");
        for k in 1..3 {
            let (a, b) = (gh[k].as_ref().unwrap(), gw[k].as_ref().unwrap());
            assert_eq!(bits(a), bits(b), "{op} {attrs:?} grad {k}");
        }
        for (a, b) in ph.iter().zip(&pw) {
            assert_eq!(bits(a), bits(b), "{op} {attrs:?} moving statistics");
        }
    }

    fn all<H: Element>() {
        let free = [("fix_gamma", "False")];
        for train in [true, false] {
            check::<H>("BatchNorm", &free, train);
            check::<H>("BatchNorm", &[("axis", "-1")], train);
            check::<H>("_contrib_BatchNormWithReLU", &free, train);
            check::<H>("BatchNorm_v1", &free, train);
        }
        check::<H>("BatchNorm", &[("use_global_stats", "True")], true);
    }
    all::<half::f16>();
    all::<half::bf16>();
}
