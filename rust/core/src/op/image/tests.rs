//! Values MXNet 1.9.1 printed for the same calls, and the error cases. (The Python tests in
//! tests/python/test_image_ops.py cover every op and dtype against MXNet.)

use crate::op::test_util::{arr, err, run};

/// A 3 x 5 x 3 uint8 image (numpy RandomState(42).randint(0, 256)).
const U3: [u8; 45] = [
    102, 179, 92, 14, 106, 71, 188, 20, 102, 121, 210, 214, 74, 202, 87, 116, 99, 103, 151, 130,
    149, 52, 1, 87, 235, 157, 37, 129, 191, 187, 20, 160, 203, 57, 21, 252, 235, 88, 48, 218, 58,
    254, 169, 255, 219,
];

fn u8s(a: &crate::ndarray::NDArray) -> Vec<u8> {
    a.to_vec::<u8>().expect("to_vec")
}

#[test]
fn resize_uint8_matches_mxnet() {
    let x = arr(&[3, 5, 3], &U3);
    let down = run(
        "_image_resize",
        std::slice::from_ref(&x),
        &[("size", "(4, 2)")],
    );
    assert_eq!(down.shape().dims(), &[2, 4, 3]);
    // MXNet 1.9.1 printed
    assert_eq!(
        u8s(&down),
        [
            98, 153, 94, 88, 76, 93, 151, 129, 143, 95, 199, 119, 48, 132, 184, 121, 55, 163, 210,
            76, 146, 167, 219, 210
        ]
    );
    let near = run(
        "_image_resize",
        &[x],
        &[("size", "(7, 5)"), ("interp", "0")],
    );
    let v = u8s(&near);
    assert_eq!(near.shape().dims(), &[5, 7, 3]);
    // MXNet 1.9.1 printed (first output row)
    assert_eq!(
        v[..21],
        [
            102, 179, 92, 102, 179, 92, 14, 106, 71, 188, 20, 102, 188, 20, 102, 121, 210, 214, 74,
            202, 87
        ]
    );
}

#[test]
fn flip_and_crop_match_mxnet() {
    // the first 4 columns of U3 (MXNet skips the middle column of odd widths)
    let x4: Vec<u8> = (0..3)
        .flat_map(|y| U3[y * 15..y * 15 + 12].to_vec())
        .collect();
    let f = run("_image_flip_left_right", &[arr(&[3, 4, 3], &x4)], &[]);
    // MXNet 1.9.1 printed
    assert_eq!(
        u8s(&f),
        [
            121, 210, 214, 188, 20, 102, 14, 106, 71, 102, 179, 92, 235, 157, 37, 52, 1, 87, 151,
            130, 149, 116, 99, 103, 218, 58, 254, 235, 88, 48, 57, 21, 252, 20, 160, 203
        ]
    );
    let attrs = [("x", "1"), ("y", "1"), ("width", "3"), ("height", "2")];
    let c = run("_image_crop", &[arr(&[3, 5, 3], &U3)], &attrs);
    assert_eq!(c.shape().dims(), &[2, 3, 3]);
    // MXNet 1.9.1 printed
    assert_eq!(
        u8s(&c),
        [151, 130, 149, 52, 1, 87, 235, 157, 37, 57, 21, 252, 235, 88, 48, 218, 58, 254]
    );
    // odd width: every element written, the middle column kept
    let odd = run("_image_flip_top_bottom", &[arr(&[3, 5, 3], &U3)], &[]);
    assert_eq!(u8s(&odd)[15..30], U3[15..30]);
}

#[test]
fn bad_inputs_are_errors() {
    let x = arr(&[3, 5, 3], &U3);
    let e = err(
        "_image_crop",
        std::slice::from_ref(&x),
        &[("x", "3"), ("y", "0"), ("width", "3"), ("height", "1")],
    );
    assert!(e.to_string().contains("x + width"), "{e}");
    let e = err(
        "_image_resize",
        std::slice::from_ref(&x),
        &[("size", "(1, 2, 3)")],
    );
    assert!(e.to_string().contains("1 or 2"), "{e}");
    let e = err(
        "_image_normalize",
        std::slice::from_ref(&x),
        &[("mean", "(1, 2)"), ("std", "(1,)")],
    );
    assert!(e.to_string().contains("mean"), "{e}");
    let e = err(
        "_image_random_hue",
        &[arr(&[5, 3], &U3[..15])],
        &[("min_factor", "0"), ("max_factor", "1")],
    );
    assert!(e.to_string().contains("(height, width, channels)"), "{e}");
}
