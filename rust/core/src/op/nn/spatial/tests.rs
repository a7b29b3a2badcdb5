use crate::op::test_util::{arr, check_grad, err, f32s, rand64, run};

const AFF: [(&str, &str); 2] = [("transform_type", "affine"), ("target_shape", "(4, 4)")];

fn close(a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() < 1e-5, "at {i}: {x} vs {y}\n{a:?}\n{b:?}");
    }
}

fn doc_data() -> crate::ndarray::NDArray {
    let d: [f32; 16] = [
        1., 4., 3., 6., 1., 8., 8., 9., 0., 4., 1., 5., 1., 0., 1., 3.,
    ];
    arr(&[1, 1, 4, 4], &d)
}

#[test]
fn affine_grid_is_normalised_target_positions() {
    let id = arr(&[1, 6], &[1f32, 0., 0., 0., 1., 0.]);
    let g = f32s(&run(
        "GridGenerator",
        &[id],
        &[("transform_type", "affine"), ("target_shape", "(2, 3)")],
    ));
    close(&g, &[-1., 0., 1., -1., 0., 1., -1., -1., -1., 1., 1., 1.]);
}

#[test]
fn sampler_matches_mxnet_doc_examples() {
    // Zoom out twice (MXNet's BilinearSampler docstring example 1).
    let a = arr(&[1, 6], &[2f32, 0., 0., 0., 2., 0.]);
    let grid = run("GridGenerator", &[a], &AFF);
    let o = f32s(&run("BilinearSampler", &[doc_data(), grid], &[]));
    close(
        &o,
        &[
            0., 0., 0., 0., 0., 3.5, 6.5, 0., 0., 1.25, 2.5, 0., 0., 0., 0., 0.,
        ],
    );
    // Shift by one pixel with a warp flow (example 2).
    let mut flow = vec![0f32; 32];
    flow[..16].fill(1.0);
    let grid = run(
        "GridGenerator",
        &[arr(&[1, 2, 4, 4], &flow)],
        &[("transform_type", "warp")],
    );
    let o = f32s(&run("BilinearSampler", &[doc_data(), grid], &[]));
    close(
        &o,
        &[
            4., 3., 6., 0., 8., 8., 9., 0., 4., 1., 5., 0., 0., 1., 3., 0.,
        ],
    );
}

#[test]
fn spatial_transformer_is_grid_then_sampler() {
    let d = rand64(&[2, 3, 5, 6], -1.0, 1.0, 7);
    let loc = rand64(&[2, 6], -1.5, 1.5, 8);
    let grid = run(
        "GridGenerator",
        std::slice::from_ref(&loc),
        &[("transform_type", "affine"), ("target_shape", "(4, 5)")],
    );
    let want = run("BilinearSampler", &[d.clone(), grid], &[]);
    let got = run(
        "SpatialTransformer",
        &[d, loc],
        &[
            ("transform_type", "affine"),
            ("sampler_type", "bilinear"),
            ("target_shape", "(4, 5)"),
        ],
    );
    assert_eq!(got.shape().dims(), &[2, 3, 4, 5]);
    assert_eq!(got.to_vec::<f64>().unwrap(), want.to_vec::<f64>().unwrap());
}

#[test]
fn gradients_match_finite_differences() {
    let d = rand64(&[2, 2, 4, 5], -1.0, 1.0, 1);
    // Beyond [-1, 1] so that some corners fall outside the input.
    let grid = rand64(&[2, 2, 3, 3], -1.3, 1.3, 2);
    check_grad("BilinearSampler", &[], &[d.clone(), grid], &[0, 1]);
    check_grad(
        "GridGenerator",
        &[("transform_type", "affine"), ("target_shape", "(3, 4)")],
        &[rand64(&[2, 6], -1.0, 1.0, 3)],
        &[0],
    );
    check_grad(
        "GridGenerator",
        &[("transform_type", "warp")],
        &[rand64(&[2, 2, 3, 4], -2.0, 2.0, 4)],
        &[0],
    );
    check_grad(
        "SpatialTransformer",
        &[
            ("transform_type", "affine"),
            ("sampler_type", "bilinear"),
            ("target_shape", "(3, 3)"),
        ],
        &[d, rand64(&[2, 6], -1.2, 1.2, 5)],
        &[0, 1],
    );
}

#[test]
fn bad_shapes_and_params_are_errors() {
    let d = arr(&[1, 1, 4, 4], &[0f32; 16]);
    let e = err(
        "BilinearSampler",
        &[d.clone(), arr(&[1, 3, 2, 2], &[0f32; 12])],
        &[],
    );
    assert!(
        e.to_string().contains("BilinearSampler") && e.to_string().contains("[1,3,2,2]"),
        "{e}"
    );
    let e = err(
        "BilinearSampler",
        &[arr(&[4, 4], &[0f32; 16]), arr(&[1, 2, 2, 2], &[0f32; 8])],
        &[],
    );
    assert!(e.to_string().contains("4-D"), "{e}");
    let e = err("GridGenerator", &[arr(&[2, 4], &[0f32; 8])], &AFF);
    assert!(e.to_string().contains("(batch, 6)"), "{e}");
    let e = err(
        "GridGenerator",
        &[arr(&[1, 6], &[0f32; 6])],
        &[("transform_type", "affine")],
    );
    assert!(e.to_string().contains("target_shape"), "{e}");
    let e = err(
        "SpatialTransformer",
        &[d, arr(&[2, 6], &[0f32; 12])],
        &[
            ("transform_type", "affine"),
            ("sampler_type", "bilinear"),
            ("target_shape", "(2, 2)"),
        ],
    );
    assert!(e.to_string().contains("loc"), "{e}");
    let e = err(
        "BilinearSampler",
        &[
            arr(&[1, 1, 2, 2], &[0i32; 4]),
            arr(&[1, 2, 2, 2], &[0i32; 8]),
        ],
        &[],
    );
    assert!(e.to_string().contains("float"), "{e}");
}

#[test]
fn non_finite_grid_reads_nothing_out_of_bounds() {
    let d = arr(&[1, 1, 2, 2], &[1f32, 2., 3., 4.]);
    let g = arr(
        &[1, 2, 1, 3],
        &[f32::INFINITY, f32::NEG_INFINITY, f32::NAN, 0., 1e30, -1e30],
    );
    let o = f32s(&run("BilinearSampler", &[d, g], &[]));
    assert_eq!(o.len(), 3);
}
