//! Values MXNet 1.9.1 printed for the same calls.

use crate::dtype::DType;
use crate::op::call_str;
use crate::op::reduce::tests::{arr, close, vals};

fn x23() -> crate::ndarray::NDArray {
    arr(&[2, 3], &[1.5, -2.5, 0.5, 2.2, -0.4, 3.7], DType::F32)
}

#[test]
fn elementwise_match_mxnet() {
    let q = call_str(
        "_contrib_quadratic",
        &[x23()],
        &[("a", "2"), ("b", "3"), ("c", "1")],
    )
    .unwrap();
    assert!(close(
        &vals(&q[0]),
        &[
            10.0,
            6.0,
            3.0,
            17.280000686645508,
            0.1199999451637268,
            39.47999954223633
        ],
        1e-6
    ));
    let d = call_str("_contrib_div_sqrt_dim", &[x23()], &[]).unwrap();
    assert!(close(
        &vals(&d[0]),
        &[
            0.866025447845459,
            -1.4433757066726685,
            0.28867512941360474,
            1.2701706886291504,
            -0.23094011843204498,
            2.1361961364746094
        ],
        1e-6
    ));
    let r = call_str("_contrib_round_ste", &[x23()], &[]).unwrap();
    assert_eq!(vals(&r[0]), [2.0, -3.0, 1.0, 2.0, -0.0, 4.0]);
    let s = call_str("_contrib_sign_ste", &[x23()], &[]).unwrap();
    assert_eq!(vals(&s[0]), [1.0, -1.0, 1.0, 1.0, -1.0, 1.0]);
}

#[test]
fn index_ops_match_mxnet() {
    let a = call_str(
        "_contrib_arange_like",
        &[x23()],
        &[("repeat", "2"), ("axis", "1")],
    )
    .unwrap();
    assert_eq!(vals(&a[0]), [0.0, 0.0, 1.0]);
    let z = arr(&[2, 3, 2], &[0.0; 12], DType::F32);
    let i = call_str("_contrib_index_array", &[z], &[("axes", "(2, 0)")]).unwrap();
    assert_eq!(i[0].dtype(), DType::I64);
    assert_eq!(i[0].shape().dims(), &[2, 3, 2, 2]);
    assert_eq!(
        vals(&i[0]),
        [
            0., 0., 1., 0., 0., 0., 1., 0., 0., 0., 1., 0., 0., 1., 1., 1., 0., 1., 1., 1., 0., 1.,
            1., 1.
        ]
    );
    let old = arr(&[5, 3], &[0.0; 15], DType::F32);
    let idx = arr(&[2], &[3.0, 0.0], DType::I64);
    let new = arr(&[2, 3], &[1., 2., 3., 4., 5., 6.], DType::F32);
    let c = call_str("_contrib_index_copy", &[old.clone(), idx, new.clone()], &[]).unwrap();
    assert_eq!(
        vals(&c[0]),
        [4., 5., 6., 0., 0., 0., 0., 0., 0., 1., 2., 3., 0., 0., 0.]
    );
    let bad = arr(&[2], &[5.0, 0.0], DType::I64);
    let c = call_str("_contrib_index_copy", &[old.clone(), bad, new], &[]).unwrap();
    let e = c[0].wait_to_read().unwrap_err().to_string();
    assert!(
        e.contains("_contrib_index_copy") && e.contains("out of range"),
        "{e}"
    );
    let short = arr(&[2], &[1.0, 0.0], DType::I64);
    let e = call_str(
        "_contrib_index_copy",
        &[old, short, arr(&[1, 3], &[0.0; 3], DType::F32)],
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("new_tensor must have shape"), "{e}");
}

#[test]
fn allclose_and_legacy_match_mxnet() {
    let f = |a: &[f64], b: &[f64], attrs: &[(&str, &str)]| {
        let (x, y) = (
            arr(&[a.len()], a, DType::F32),
            arr(&[b.len()], b, DType::F32),
        );
        let o = call_str("_contrib_allclose", &[x, y], attrs).unwrap();
        assert_eq!(o[0].dtype(), DType::U8);
        assert_eq!(o[0].ndim(), 0);
        vals(&o[0])[0]
    };
    assert_eq!(f(&[1., 2., 3.], &[1., 2.00001, 3.1], &[]), 0.0);
    assert_eq!(
        f(&[1., 2., 3.], &[1., 2.00001, 3.1], &[("rtol", "0.1")]),
        1.0
    );
    assert_eq!(f(&[f64::NAN, 1.], &[f64::NAN, 1.], &[]), 1.0);
    assert_eq!(
        f(&[f64::NAN, 1.], &[f64::NAN, 1.], &[("equal_nan", "False")]),
        0.0
    );
    assert_eq!(
        f(
            &[1.1, 1.],
            &[1., 1.],
            &[("rtol", "0.05"), ("atol", "0.051")]
        ),
        1.0
    );
    assert_eq!(
        f(&[1., 1.], &[1.1, 1.], &[("rtol", "0.05"), ("atol", "0.04")]),
        0.0
    );

    let a = arr(&[2, 3], &[1., 2., 3., 4., 5., 6.], DType::F32);
    let v = arr(&[2], &[9., 8.], DType::F32);
    let o = call_str(
        "fill_element_0index",
        &[a.clone(), v.clone(), arr(&[2], &[2., 0.], DType::F32)],
        &[],
    )
    .unwrap();
    assert_eq!(vals(&o[0]), [1., 2., 9., 8., 5., 6.]);
    let o = call_str(
        "fill_element_0index",
        &[a.clone(), v, arr(&[2], &[7., -3.], DType::F32)],
        &[],
    )
    .unwrap();
    assert_eq!(vals(&o[0]), [1., 2., 3., 4., 5., 6.]);
    let o = call_str(
        "_onehot_encode",
        &[arr(&[2], &[1., 2.], DType::F32), a.clone()],
        &[],
    )
    .unwrap();
    assert_eq!(vals(&o[0]), [0., 1., 0., 0., 0., 1.]);
    let c = call_str(
        "choose_element_0index",
        &[a, arr(&[2], &[5., -1.], DType::F32)],
        &[],
    )
    .unwrap();
    assert_eq!(vals(&c[0]), [3., 4.]);
}
