//! Shape rules and values, against what MXNet 1.9.1 printed for the same calls.

use super::rnn_param_concat_shapes;
use crate::op::test_util::{arr, err, f32s, run};
use crate::op::call_str;
use crate::shape::Shape;

fn s(d: &[usize]) -> Option<Shape> {
    Some(Shape::new(d.to_vec()))
}

fn infer(dim: i64, ins: &[Option<Shape>], out: Option<Shape>) -> (Vec<Option<Shape>>, Option<Shape>) {
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
    let p = run("_scatter_plus_scalar", std::slice::from_ref(&x), &[("scalar", "1.5")]);
    assert_eq!(f32s(&p), [2.5, -0.5, 4.5, 2.0, 5.5, 0.5]);
    let m = run("_scatter_minus_scalar", std::slice::from_ref(&x), &[("scalar", "2")]);
    assert_eq!(f32s(&m), [-1.0, -4.0, 1.0, -1.5, 2.0, -3.0]);
    let g = run("_grad_add", &[x.clone(), x.clone()], &[]);
    assert_eq!(f32s(&g), [2.0, -4.0, 6.0, 1.0, 8.0, -2.0]);
    let i = run("_identity_with_attr_like_rhs", &[x.clone(), arr(&[2, 3], &[0.0f32; 6])], &[]);
    assert_eq!(f32s(&i), f32s(&x));
    let e = err("_identity_with_attr_like_rhs", &[x.clone(), arr(&[3], &[1.0f32; 3])], &[]);
    assert!(e.to_string().contains("_identity_with_attr_like_rhs"), "{e}");
    let cs = run("cast_storage", std::slice::from_ref(&x), &[("stype", "csr")]);
    assert_eq!(f32s(&cs), f32s(&x));
    assert!(call_str("cast_storage", std::slice::from_ref(&x), &[("stype", "dense")]).is_err());
}

#[test]
fn square_sum_matches_mxnet() {
    let x = arr(&[2, 3], &[1.0f32, -2.0, 3.0, 0.5, 4.0, -1.0]);
    // MXNet 1.9.1 printed, on the row_sparse form: [14, 17.25] and [[1.25, 20, 10]].
    let a = run("_square_sum", std::slice::from_ref(&x), &[("axis", "1")]);
    assert_eq!(f32s(&a), [14.0, 17.25]);
    let b = run("_square_sum", std::slice::from_ref(&x), &[("axis", "0"), ("keepdims", "True")]);
    assert_eq!(b.shape().dims(), [1, 3]);
    assert_eq!(f32s(&b), [1.25, 20.0, 10.0]);
    let c = run("_square_sum", std::slice::from_ref(&x), &[("axis", "1"), ("exclude", "True")]);
    assert_eq!(f32s(&c), [1.25, 20.0, 10.0]);
    let d = run("_square_sum", &[x], &[]);
    assert_eq!(f32s(&d), [31.25]);
}

#[test]
fn reset_arrays_zeroes_inputs_and_zeros_without_dtype() {
    let a = arr(&[2], &[1.0f32, 2.0]);
    let b = arr(&[3], &[1i32, 2, 3]);
    let o = call_str("reset_arrays", &[a.clone(), b.clone()], &[("num_arrays", "2")]).unwrap();
    assert!(o.is_empty());
    assert_eq!(f32s(&a), [0.0, 0.0]);
    assert_eq!(b.to_vec::<i32>().unwrap(), [0, 0, 0]);
    assert!(call_str("reset_arrays", &[a], &[("num_arrays", "2")]).is_err());
    let z = run("_zeros_without_dtype", &[], &[("shape", "(2, 2)")]);
    assert_eq!(z.dtype(), crate::dtype::DType::F32);
    assert_eq!(f32s(&z), [0.0; 4]);
    let z = run("_zeros_without_dtype", &[], &[("shape", "(2,)"), ("dtype", "6")]);
    assert_eq!(z.dtype(), crate::dtype::DType::I64);
}
