//! Small exact cases for the quantized ops; the expected values are what MXNet 1.9.1 (CPU,
//! oneDNN) prints for the same inputs.

use crate::ndarray::NDArray;
use crate::op::call_str;
use crate::op::test_util::{arr, err, scalar};

fn all(op: &str, ins: &[NDArray], attrs: &[(&str, &str)]) -> Vec<Vec<f64>> {
    let outs = call_str(op, ins, attrs).unwrap_or_else(|e| panic!("{op}: {e}"));
    outs.iter()
        .map(|o| {
            crate::with_dtype!(o.dtype(), T, {
                o.to_vec::<T>()
                    .expect("to_vec")
                    .iter()
                    .map(|v| crate::dtype::Element::to_f64(*v))
                    .collect()
            })
        })
        .collect()
}

fn f(v: &[f32]) -> NDArray {
    arr(&[v.len()], v)
}

#[test]
fn quantize_v2_rounds_half_even_over_127_5_levels() {
    let x = f(&[
        0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 126.5, 127.4, 128.0, -128.5, -127.5, -200.0,
    ]);
    let o = all(
        "_contrib_quantize_v2",
        &[x],
        &[("min_calib_range", "-127.5"), ("max_calib_range", "127.5")],
    );
    assert_eq!(
        o[0],
        [0., 2., 2., 4., 0., -2., -2., 126., 127., 127., -128., -128., -128.]
    );
    assert_eq!((o[1][0], o[2][0]), (-127.5, 127.5));
    // no calibration: the data's own range; int8 reports it zero-centred
    let o = all("_contrib_quantize_v2", &[f(&[-1.0, 0.25, 0.5, 2.0])], &[]);
    assert_eq!(o[0], [-64., 16., 32., 127.]);
    assert_eq!((o[1][0], o[2][0]), (-2.0, 2.0));
    // uint8 scales from zero and reports (min, max) as found
    let o = all(
        "_contrib_quantize_v2",
        &[f(&[-1.0, 0.25, 0.5, 2.0])],
        &[("out_type", "uint8")],
    );
    assert_eq!(o[0], [0., 32., 64., 255.]);
    assert_eq!((o[1][0], o[2][0]), (-1.0, 2.0));
    // auto is uint8 only when calibrated with min >= 0
    let o = all(
        "_contrib_quantize_v2",
        &[f(&[0.1, 0.25, 0.5, 2.0])],
        &[
            ("out_type", "auto"),
            ("min_calib_range", "0"),
            ("max_calib_range", "1"),
        ],
    );
    assert_eq!(o[0], [26., 64., 128., 255.]);
    let o = all(
        "_contrib_quantize_v2",
        &[f(&[0.1, 0.25, 0.5, 2.0])],
        &[("out_type", "auto")],
    );
    assert_eq!(o[0], [6., 16., 32., 127.]);
}

#[test]
fn quantize_v2_passes_quantized_data_through() {
    let o = all("_contrib_quantize_v2", &[arr(&[2], &[200u8, 4])], &[]);
    assert_eq!(o[0], [-56., 4.]);
    assert_eq!((o[1][0], o[2][0]), (0.0, 255.5));
    let o = all(
        "_contrib_quantize_v2",
        &[arr(&[2], &[-3i8, 4])],
        &[("min_calib_range", "-2"), ("max_calib_range", "3")],
    );
    assert_eq!(o[0], [-3., 4.]);
    assert_eq!((o[1][0], o[2][0]), (-2.0, 3.0));
}

#[test]
fn quantize_uses_127_and_255_levels() {
    let x = f(&[
        0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 126.5, 127.4, 128.0, -128.6, -200.0,
    ]);
    let o = all(
        "_contrib_quantize",
        &[x, scalar(-127.0), scalar(127.0)],
        &[("out_type", "int8")],
    );
    assert_eq!(
        o[0],
        [0., 2., 2., 4., 0., -2., -2., 126., 127., 127., -128., -128.]
    );
    let o = all(
        "_contrib_quantize",
        &[
            f(&[0.5, 1.5, 2.5, -1.0, 1.0, 0.0]),
            scalar(-1.0),
            scalar(2.0),
        ],
        &[],
    );
    assert_eq!(o[0], [64., 191., 255., 0., 128., 0.]);
    assert_eq!((o[1][0], o[2][0]), (-1.0, 2.0));
    let o = all(
        "_contrib_quantize",
        &[f(&[-1.0, 0.5, 3.0]), scalar(-0.5), scalar(2.0)],
        &[("out_type", "int8")],
    );
    assert_eq!(o[0], [-64., 32., 127.]);
    assert_eq!((o[1][0], o[2][0]), (-2.0, 2.0));
}

#[test]
fn quantize_asym_scale_and_shift() {
    let x = arr(&[1, 2, 3], &[-1.0f32, 0.25, 0.5, 2.0, 1.3, -0.3]);
    let o = all("_contrib_quantize_asym", &[x], &[]);
    assert_eq!(o[0], [0., 106., 128., 255., 196., 60.]);
    assert_eq!((o[1][0], o[2][0]), (85.0, 85.0));
    let x = f(&[-3.0, -1.0, 0.5, 1.5, 2.5, 3.0, 3.5, 2.0]);
    let o = all(
        "_contrib_quantize_asym",
        &[x],
        &[("min_calib_range", "-1"), ("max_calib_range", "2")],
    );
    assert_eq!(o[0], [0., 0., 128., 212., 255., 255., 255., 255.]);
}

#[test]
fn dequantize_int8_uint8_int32() {
    let o = all(
        "_contrib_dequantize",
        &[arr(&[3], &[-128i8, -127, 3]), scalar(-2.0), scalar(1.0)],
        &[],
    );
    let want = [-2.007843255996704, -1.992156982421875, 0.0470588281750679];
    for (a, b) in o[0].iter().zip(want) {
        assert_eq!(*a as f32, b as f32);
    }
    let o = all(
        "_contrib_dequantize",
        &[arr(&[2], &[5u8, 255]), scalar(-2.0), scalar(1.0)],
        &[],
    );
    assert_eq!(o[0][0] as f32, 0.039_138_943_f32);
    assert_eq!(o[0][1] as f32, 1.996_086_1_f32);
    let o = all(
        "_contrib_dequantize",
        &[arr(&[1], &[1i32 << 30]), scalar(-2.0), scalar(2.0)],
        &[],
    );
    assert!((o[0][0] - 1.0).abs() < 1e-6);
}

#[test]
fn requantize_with_and_without_calibration() {
    let d = || arr(&[6], &[-1000i32, -5, 0, 3, 700, 1_000_000]);
    let o = all(
        "_contrib_requantize",
        &[d(), scalar(-100.0), scalar(100.0)],
        &[],
    );
    assert_eq!(o[0], [0., 0., 0., 0., 0., 127.]);
    assert_eq!(o[2][0] as f32, 0.046_566_13_f32);
    let o = all(
        "_contrib_requantize",
        &[d(), scalar(-100.0), scalar(100.0)],
        &[("out_type", "uint8")],
    );
    assert_eq!((o[1][0], o[2][0] as f32), (0.0, 0.046_566_13_f32));
    let o = all(
        "_contrib_requantize",
        &[arr(&[4], &[1i32, 2, 3, 4]), scalar(-100.0), scalar(100.0)],
        &[],
    );
    assert_eq!(o[0], [32., 64., 95., 127.]);
    let d = arr(&[10], &[1i32, 3, 5, -1, -3, -5, 255, 256, 257, -257]);
    let o = all(
        "_contrib_requantize",
        &[d, scalar(-(i32::MAX as f32)), scalar(i32::MAX as f32)],
        &[("min_calib_range", "-254"), ("max_calib_range", "254")],
    );
    assert_eq!(o[0], [0., 2., 2., 0., -2., -2., 127., 127., 127., -128.]);
}

#[test]
fn elemwise_add_types_and_ranges() {
    let l = || arr(&[6], &[-127i8, -50, 0, 3, 100, 127]);
    let rr = || arr(&[6], &[127i8, -20, 5, -3, 100, 127]);
    let o = all(
        "_contrib_quantized_elemwise_add",
        &[
            l(),
            rr(),
            scalar(-1.0),
            scalar(1.0),
            scalar(-2.0),
            scalar(2.0),
        ],
        &[("min_calib_range", "-2.5"), ("max_calib_range", "2.5")],
    );
    assert_eq!(o[0], [51., -36., 4., -1., 120., 127.]);
    let o = all(
        "_contrib_quantized_elemwise_add",
        &[
            l(),
            rr(),
            scalar(-1.0),
            scalar(1.0),
            scalar(-2.0),
            scalar(2.0),
        ],
        &[],
    );
    assert_eq!(
        o[0],
        [
            713020736.,
            -505290304.,
            56143364.,
            -16843010.,
            1684301056.,
            2139062272.
        ]
    );
    assert_eq!((o[1][0], o[2][0]), (-3.0, 3.0));
    let u = arr(&[6], &[255u8, 20, 5, 3, 100, 128]);
    let o = all(
        "_contrib_quantized_elemwise_add",
        &[u, l(), scalar(0.0), scalar(1.0), scalar(-2.0), scalar(2.0)],
        &[("min_calib_range", "-1"), ("max_calib_range", "3")],
    );
    assert_eq!(o[0], [-43., -30., 1., 2., 84., 106.]);
}

#[test]
fn elemwise_mul_int32_int8_float() {
    let l = || arr(&[7], &[-127i8, -50, 0, 3, 100, 127, -128]);
    let rr = || arr(&[7], &[127i8, -20, 5, -3, 100, 127, -128]);
    let ins = || {
        vec![
            l(),
            rr(),
            scalar(-1.0),
            scalar(1.0),
            scalar(-2.0),
            scalar(2.0),
        ]
    };
    let o = all("_contrib_quantized_elemwise_mul", &ins(), &[]);
    assert_eq!(o[0], [-16129., 1000., 0., -9., 10000., 16129., 16384.]);
    assert_eq!((o[1][0], o[2][0]), (-266288.5, 266288.5));
    let o = all(
        "_contrib_quantized_elemwise_mul",
        &ins(),
        &[("min_calib_range", "-0.5"), ("max_calib_range", "0.5")],
    );
    assert_eq!(o[0], [6., 31., 0., 0., 57., -6., 2.]);
    let o = all(
        "_contrib_quantized_elemwise_mul",
        &ins(),
        &[("enable_float_output", "True")],
    );
    assert_eq!(o.len(), 1);
    assert_eq!(o[0][0] as f32, -1.984_344_5_f32);
}

#[test]
fn concat_rescales_to_the_widest_range() {
    let x = || arr(&[2, 3], &[-127i8, -50, 3, 100, 127, -128]);
    let y = arr(&[2, 2], &[10i8, -20, 127, -127]);
    let o = all(
        "_contrib_quantized_concat",
        &[x(), y, scalar(-1.0), scalar(1.0), scalar(-2.0), scalar(0.5)],
        &[("num_args", "2")],
    );
    assert_eq!(
        o[0],
        [-64., -25., 2., 10., -20., 50., 64., -64., 127., -127.]
    );
    assert_eq!((o[1][0], o[2][0]), (-2.0, 1.0));
    let u = arr(&[2, 2], &[10u8, 20, 255, 1]);
    let o = all(
        "_contrib_quantized_concat",
        &[x(), u, scalar(-1.0), scalar(1.0), scalar(0.0), scalar(3.0)],
        &[("num_args", "2")],
    );
    assert_eq!(o[0], [-42., -17., 1., 5., 10., 33., 42., -43., 127., 0.]);
}

#[test]
fn act_flatten_embedding_pooling() {
    let o = all(
        "_contrib_quantized_act",
        &[
            arr(&[5], &[-5i8, 0, 3, -128, 127]),
            scalar(-1.0),
            scalar(2.0),
        ],
        &[("act_type", "relu")],
    );
    assert_eq!(o[0], [0., 0., 3., 0., 127.]);
    assert!(err(
        "_contrib_quantized_act",
        &[arr(&[1], &[1i8]), scalar(-1.0), scalar(1.0)],
        &[("act_type", "tanh")]
    )
    .to_string()
    .contains("tanh"));
    let o = call_str(
        "_contrib_quantized_flatten",
        &[arr(&[2, 3, 2], &[0i8; 12]), scalar(-1.0), scalar(2.0)],
        &[],
    )
    .unwrap();
    assert_eq!(o[0].shape().dims(), [2, 6]);
    let w = arr(
        &[4, 3],
        &(-6..6).map(|v| (v * 10) as i8).collect::<Vec<_>>(),
    );
    let o = all(
        "_contrib_quantized_embedding",
        &[f(&[-1.0, 5.0, 1.7, 2.5]), w, scalar(-1.0), scalar(2.0)],
        &[("input_dim", "4"), ("output_dim", "3")],
    );
    assert_eq!(
        o[0],
        [-60., -50., -40., 30., 40., 50., -30., -20., -10., 0., 10., 20.]
    );
    let x = arr(
        &[1, 6, 2, 2],
        &[
            1i8, 1, 0, 0, -1, -1, 0, 0, 3, 3, 0, 0, -3, -3, 0, 0, 5, 5, 0, 0, -5, -5, 0, 0,
        ],
    );
    let o = all(
        "_contrib_quantized_pooling",
        &[x, scalar(-1.0), scalar(2.0)],
        &[("kernel", "(2, 2)"), ("pool_type", "avg")],
    );
    assert_eq!(o[0], [0., 0., 2., -2., 2., -2.]);
}

#[test]
fn batch_norm_folds_statistics_as_onednn() {
    let x: Vec<i8> = vec![
        -91, 107, 12, -56, 127, 9, 75, 5, -49, 64, 16, 1, 76, -57, 109, 124, 6, -103, 50, -108,
        126, -27, 18, 84,
    ];
    let ins = vec![
        arr(&[2, 3, 2, 2], &x),
        f(&[1.0, 0.5, 2.0]),
        f(&[0.1, -0.2, 0.0]),
        f(&[0.05, -0.3, 0.2]),
        f(&[0.5, 1.5, 0.25]),
        scalar(-1.0),
        scalar(2.0),
    ];
    let o = all(
        "_contrib_quantized_batch_norm",
        &ins,
        &[
            ("min_calib_range", "-2"),
            ("max_calib_range", "1"),
            ("eps", "0.1"),
        ],
    );
    assert_eq!(
        o[0],
        [
            -110., 127., 17., -67., 43., -2., 23., -3., -128., 127., 8., -40., 96., -68., 127.,
            127., -3., -44., 14., -46., 127., -128., 15., 127.
        ]
    );
    let e = err("_contrib_quantized_batch_norm", &ins, &[]);
    assert!(e.to_string().contains("min_calib_range"), "{e}");
}

#[test]
fn bad_inputs_name_the_op_and_argument() {
    let e = err("_contrib_quantize_v2", &[arr(&[2], &[1i32, 2])], &[]);
    assert!(
        e.to_string().contains("_contrib_quantize_v2") && e.to_string().contains("int32"),
        "{e}"
    );
    let e = err(
        "_contrib_dequantize",
        &[arr(&[2], &[1i8, 2]), f(&[-1.0, 0.0]), scalar(1.0)],
        &[],
    );
    assert!(
        e.to_string().contains("min_range") && e.to_string().contains("[2]"),
        "{e}"
    );
    let e = err(
        "_contrib_requantize",
        &[f(&[1.0]), scalar(-1.0), scalar(1.0)],
        &[],
    );
    assert!(e.to_string().contains("int32"), "{e}");
    let e = err(
        "_contrib_quantized_elemwise_add",
        &[
            arr(&[2], &[1i32, 2]),
            arr(&[2], &[1i8, 2]),
            scalar(-1.0),
            scalar(1.0),
            scalar(-1.0),
            scalar(1.0),
        ],
        &[],
    );
    assert!(e.to_string().contains("lhs"), "{e}");
    let e = err(
        "_contrib_quantized_pooling",
        &[arr(&[1, 1, 2, 2], &[1i8; 4]), scalar(-1.0), scalar(1.0)],
        &[("kernel", "(2, 2)"), ("pool_type", "sum")],
    );
    assert!(e.to_string().contains("max"), "{e}");
}
