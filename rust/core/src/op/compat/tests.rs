//! Shape rules and values, against what MXNet 1.9.1 printed for the same calls.

use super::rnn_param_concat_shapes;
use crate::op::call_str;
use crate::op::test_util::{arr, err, f32s, run};
use crate::shape::Shape;

fn s(d: &[usize]) -> Option<Shape> {
    Some(Shape::new(d.to_vec()))
}

fn infer(
    dim: i64,
    ins: &[Option<Shape>],
    out: Option<Shape>,
) -> (Vec<Option<Shape>>, Option<Shape>) {
    let mut i = ins.to_vec();
    let mut o = vec![out];
    rnn_param_concat_shapes("_rnn_param_concat", dim, &mut i, &mut o).unwrap();
    (i, o.remove(0))
}

#[test]
fn rnn_param_concat_infers_unknown_sizes_from_the_output() {
    // MXNet 1.9.1 printed (infer_shape_partial through elemwise_add with `o`).
    let (i, o) = infer(1, &[s(&[2, 3]), s(&[2, 0]), s(&[2, 5])], s(&[2, 12]));
    assert_eq!(i, vec![s(&[2, 3]), s(&[2, 4]), s(&[2, 5])]);
    assert_eq!(o, s(&[2, 12]));
    // Two unknown inputs share the residual 9 by integer division, as MXNet does.
    let (i, _) = infer(1, &[s(&[2, 3]), s(&[2, 0]), s(&[2, 0])], s(&[2, 12]));
    assert_eq!(i, vec![s(&[2, 3]), s(&[2, 4]), s(&[2, 4])]);
    let (i, _) = infer(0, &[s(&[3]), s(&[0]), s(&[5])], s(&[12]));
    assert_eq!(i, vec![s(&[3]), s(&[4]), s(&[5])]);
    // All known: the output is their concatenation.
    let (_, o) = infer(0, &[s(&[3]), s(&[4]), s(&[5])], None);
    assert_eq!(o, s(&[12]));
    // Nothing known along dim: left for later passes.
    let (i, o) = infer(1, &[s(&[2, 3]), s(&[2, 0]), s(&[2, 0])], None);
    assert_eq!(i[1], s(&[2, 0]));
    assert_eq!(o, None);
    let mut i = vec![s(&[0]), s(&[0]), s(&[0])];
    let e = rnn_param_concat_shapes("_rnn_param_concat", 0, &mut i, &mut [s(&[12])]).unwrap_err();
    assert!(e.to_string().contains("Expecting 1 or 2 inputs"), "{e}");
}

#[test]
fn rnn_param_concat_and_aliases_compute() {
    let a = arr(&[2, 2], &[1.0f32, 2.0, 3.0, 4.0]);
    let b = arr(&[2, 1], &[5.0f32, 6.0]);
    let c = run("_rnn_param_concat", &[a.clone(), b], &[("num_args", "2")]);
    assert_eq!(c.shape().dims(), [2, 3]);
    assert_eq!(f32s(&c), [1.0, 2.0, 5.0, 3.0, 4.0, 6.0]);
    // MXNet 1.9.1 printed [[2.5 -0.5 4.5] [2. 5.5 0.5]] and [[-1 -4 1] [-1.5 2 -3]].
    let x = arr(&[2, 3], &[1.0f32, -2.0, 3.0, 0.5, 4.0, -1.0]);
    let p = run(
        "_scatter_plus_scalar",
        std::slice::from_ref(&x),
        &[("scalar", "1.5")],
    );
    assert_eq!(f32s(&p), [2.5, -0.5, 4.5, 2.0, 5.5, 0.5]);
    let m = run(
        "_scatter_minus_scalar",
        std::slice::from_ref(&x),
        &[("scalar", "2")],
    );
    assert_eq!(f32s(&m), [-1.0, -4.0, 1.0, -1.5, 2.0, -3.0]);
    let g = run("_grad_add", &[x.clone(), x.clone()], &[]);
    assert_eq!(f32s(&g), [2.0, -4.0, 6.0, 1.0, 8.0, -2.0]);
    let i = run(
        "_identity_with_attr_like_rhs",
        &[x.clone(), arr(&[2, 3], &[0.0f32; 6])],
        &[],
    );
    assert_eq!(f32s(&i), f32s(&x));
    let e = err(
        "_identity_with_attr_like_rhs",
        &[x.clone(), arr(&[3], &[1.0f32; 3])],
        &[],
    );
    assert!(
        e.to_string().contains("_identity_with_attr_like_rhs"),
        "{e}"
    );
    let cs = run(
        "cast_storage",
        std::slice::from_ref(&x),
        &[("stype", "csr")],
    );
    assert_eq!(f32s(&cs), f32s(&x));
    assert!(call_str(
        "cast_storage",
        std::slice::from_ref(&x),
        &[("stype", "dense")]
    )
    .is_err());
}

#[test]
fn square_sum_matches_mxnet() {
    let x = arr(&[2, 3], &[1.0f32, -2.0, 3.0, 0.5, 4.0, -1.0]);
    // MXNet 1.9.1 printed, on the row_sparse form: [14, 17.25] and [[1.25, 20, 10]].
    let a = run("_square_sum", std::slice::from_ref(&x), &[("axis", "1")]);
    assert_eq!(f32s(&a), [14.0, 17.25]);
    let b = run(
        "_square_sum",
        std::slice::from_ref(&x),
        &[("axis", "0"), ("keepdims", "True")],
    );
    assert_eq!(b.shape().dims(), [1, 3]);
    assert_eq!(f32s(&b), [1.25, 20.0, 10.0]);
    let c = run(
        "_square_sum",
        std::slice::from_ref(&x),
        &[("axis", "1"), ("exclude", "True")],
    );
    assert_eq!(f32s(&c), [1.25, 20.0, 10.0]);
    let d = run("_square_sum", &[x], &[]);
    assert_eq!(f32s(&d), [31.25]);
}

#[test]
fn reset_arrays_zeroes_inputs_and_zeros_without_dtype() {
    let a = arr(&[2], &[1.0f32, 2.0]);
    let b = arr(&[3], &[1i32, 2, 3]);
    let o = call_str(
        "reset_arrays",
        &[a.clone(), b.clone()],
        &[("num_arrays", "2")],
    )
    .unwrap();
    assert!(o.is_empty());
    assert_eq!(f32s(&a), [0.0, 0.0]);
    assert_eq!(b.to_vec::<i32>().unwrap(), [0, 0, 0]);
    assert!(call_str("reset_arrays", &[a], &[("num_arrays", "2")]).is_err());
    let z = run("_zeros_without_dtype", &[], &[("shape", "(2, 2)")]);
    assert_eq!(z.dtype(), crate::dtype::DType::F32);
    assert_eq!(f32s(&z), [0.0; 4]);
    let z = run(
        "_zeros_without_dtype",
        &[],
        &[("shape", "(2,)"), ("dtype", "6")],
    );
    assert_eq!(z.dtype(), crate::dtype::DType::I64);
}

#[test]
fn batch_norm_v1_backward_after_inference_matches_mxnet() {
    // MXNet runs BatchNorm_v1's backward in training mode even after an inference forward:
    // the batch formula at the moving statistics. MXNet 1.9.1 printed GD and GG.
    const X: [f32; 24] = [
        -0.332, 0.881, -2.0, -0.791, -1.413, -1.631, -1.255, -0.618, -0.413, 0.155, -0.323, 0.741,
        -1.182, 1.512, -1.89, 0.682, -0.331, 0.235, -1.438, -1.208, 1.203, 1.873, -0.746, 0.769,
    ];
    const HG: [f32; 24] = [
        0.753, 0.789, -0.83, -0.922, -0.66, 0.756, -0.803, -0.158, 0.916, 0.066, 0.384, -0.369,
        0.373, 0.669, -0.963, 0.5, 0.978, 0.496, -0.439, 0.579, -0.794, -0.104, 0.817, -0.413,
    ];
    const GD: [f64; 24] = [
        0.2776577,
        0.06592384,
        -0.05702502,
        -0.3202506,
        -1.262172,
        1.316785,
        -1.54888,
        -0.5163462,
        -0.5584983,
        0.07533145,
        -0.07941282,
        0.3080688,
        0.2812412,
        -0.1008359,
        -0.1318372,
        -0.01487406,
        1.463442,
        0.4905953,
        -0.8614079,
        0.9179839,
        0.5697519,
        -0.2957334,
        -0.3608215,
        0.3413139,
    ];
    const GG: [f64; 3] = [4.482972, 0.7220539, -2.733043];
    let ins = vec![
        arr(&[2, 3, 2, 2], &X),
        arr(&[3], &[0.5f32, 1.5, -1.0]),
        arr(&[3], &[0.1f32, -0.2, 0.3]),
        arr(&[3], &[0.2f32, -0.1, 0.05]),
        arr(&[3], &[1.5f32, 0.7, 1.1]),
    ];
    let g = crate::op::nn::loss::op_grads(
        "BatchNorm_v1",
        &[("fix_gamma", "False")],
        &ins,
        Some(&[arr(&[2, 3, 2, 2], &HG)]),
        false,
    );
    let close = |a: Vec<f32>, b: &[f64]| {
        a.iter()
            .zip(b)
            .all(|(x, y)| (*x as f64 - y).abs() <= 1e-4 * (1.0 + y.abs()))
    };
    let gd = f32s(g[0].as_ref().unwrap());
    assert!(close(gd.clone(), &GD), "{gd:?}");
    assert!(close(f32s(g[1].as_ref().unwrap()), &GG));
}
