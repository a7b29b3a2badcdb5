//! Gradients: MXNet 1.9.1's numbers and central finite differences.

use super::*;

#[test]
fn linalg_gradients_match_mxnet() {
    let b = arr(&[3, 2], &B32);
    let bt = arr(&[2, 3], &[1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
    let check = |op: &str, attrs: &[(&str, &str)], ins: &[NDArray], vis: usize, want: &[&[f64]]| {
        let ws = ramp(op, ins, attrs, vis);
        let g = grads(op, attrs, ins, &ws);
        for (k, w) in want.iter().enumerate() {
            assert_close(&g[k], w, 1e-10, &format!("{op} gradient {k}"));
        }
    };
    check(
        "_linalg_potrf",
        &[],
        &[a3()],
        1,
        &[&[
            0.06729396633575183,
            0.34847112893328414,
            0.7647060114474172,
            0.34847112893328414,
            1.4441783328093152,
            2.3238743029150966,
            0.7647060114474175,
            2.323874302915096,
            3.2346033025904686,
        ]],
    );
    let l = call_str("_linalg_potrf", &[a3()], &[])
        .expect("potrf")
        .remove(0);
    check(
        "_linalg_potri",
        &[],
        &[l],
        1,
        &[&[
            0.29309534992954434,
            0.0,
            0.0,
            -0.9323626115547206,
            -1.4721514452258586,
            0.0,
            -2.4800375763269136,
            -3.308269144826941,
            -5.551023764116522,
        ]],
    );
    check(
        "_linalg_syevd",
        &[],
        &[a3()],
        2,
        &[&[
            6.823330861353654,
            -0.7310199837470139,
            -0.03201663643215508,
            -0.7310199837470144,
            3.980395702434769,
            3.874913821124734,
            -0.03201663643215509,
            3.8749138211247334,
            1.196273436211575,
        ]],
    );
    check(
        "_linalg_gelqf",
        &[],
        &[arr(&[2, 3], &B32)],
        2,
        &[&[
            -21.239710225771447,
            -6.245341903136346,
            8.74902641949875,
            5.37940503607721,
            -1.4613917810611545,
            -8.302188598199516,
        ]],
    );
    check(
        "_linalg_det",
        &[],
        &[a3()],
        1,
        &[&[
            5.960000000000002,
            -1.9000000000000006,
            -1.3,
            -1.9000000000000006,
            7.750000000000003,
            -0.30000000000000016,
            -1.3,
            -0.30000000000000016,
            11.000000000000002,
        ]],
    );
    check(
        "_linalg_inverse",
        &[],
        &[a3()],
        1,
        &[&[
            0.09279887818161639,
            0.08796858167236277,
            0.09059618884442872,
            -0.10930713462636905,
            -0.4181502572120757,
            -0.8256444752628764,
            -0.360319734124101,
            -1.0604965184756523,
            -1.9950399777966088,
        ]],
    );
    check(
        "_linalg_trsm",
        &[("transpose", "True"), ("alpha", "2.0")],
        &[a3(), b.clone()],
        1,
        &[
            &[
                0.29374999999999996,
                0.0,
                0.0,
                -1.5499999999999998,
                -4.172222222222222,
                0.0,
                -4.25,
                -11.583333333333332,
                -28.279166666666665,
            ],
            &[
                0.5,
                1.0,
                1.8333333333333333,
                2.333333333333333,
                4.691666666666666,
                5.516666666666667,
            ],
        ],
    );
    check(
        "_linalg_trmm",
        &[("rightside", "True"), ("lower", "False")],
        &[a3(), bt],
        1,
        &[
            &[9.0, 12.0, 15.0, 0.0, 26.0, 33.0, 0.0, 0.0, 51.0],
            &[7.5, 6.6, 6.0, 24.0, 16.2, 12.0],
        ],
    );
    check(
        "_linalg_sumlogdiag",
        &[],
        &[a3()],
        1,
        &[&[0.25, 0.0, 0.0, 0.0, 0.3333333333333333, 0.0, 0.0, 0.0, 0.5]],
    );
    check(
        "_linalg_syrk",
        &[("alpha", "2.0")],
        &[b.clone()],
        1,
        &[&[140.0, 176.0, 212.0, 272.0, 284.0, 368.0]],
    );
    let c = arr(&[2, 2], &[4.0, 1.0, 1.0, 3.0]);
    check(
        "_linalg_gemm",
        &[("transpose_a", "True"), ("alpha", "2.0"), ("beta", "3.0")],
        &[b.clone(), b, c],
        1,
        &[
            &[10.0, 22.0, 22.0, 50.0, 34.0, 78.0],
            &[14.0, 20.0, 30.0, 44.0, 46.0, 68.0],
            &[3.0, 6.0, 9.0, 12.0],
        ],
    );
}

#[test]
fn linalg_gradients_match_finite_differences() {
    let n = |s: &[usize], seed| rand64(s, -1.0, 1.0, seed);
    for (ta, tb) in [
        ("False", "False"),
        ("True", "False"),
        ("False", "True"),
        ("True", "True"),
    ] {
        let (sa, sb) = match (ta, tb) {
            ("False", "False") => ([2, 2, 3], [2, 3, 4]),
            ("True", "False") => ([2, 3, 2], [2, 3, 4]),
            ("False", "True") => ([2, 2, 3], [2, 4, 3]),
            _ => ([2, 3, 2], [2, 4, 3]),
        };
        let attrs = [
            ("transpose_a", ta),
            ("transpose_b", tb),
            ("alpha", "0.7"),
            ("beta", "-1.3"),
        ];
        fd_check(
            "_linalg_gemm",
            &attrs,
            &[n(&sa, 1), n(&sb, 2), n(&[2, 2, 4], 3)],
            &[0, 1, 2],
            false,
        );
        fd_check(
            "_linalg_gemm2",
            &attrs[..3],
            &[n(&sa, 4), n(&sb, 5)],
            &[0, 1],
            false,
        );
    }
    // Rows along axis 1 of 4-d tensors.
    fd_check(
        "_linalg_gemm2",
        &[("axis", "1"), ("transpose_a", "True")],
        &[n(&[2, 3, 2, 4], 6), n(&[2, 3, 2, 5], 7)],
        &[0, 1],
        false,
    );
    for t in ["False", "True"] {
        fd_check(
            "_linalg_syrk",
            &[("transpose", t), ("alpha", "1.5")],
            &[n(&[2, 3, 2], 8)],
            &[0],
            false,
        );
        for rs in ["False", "True"] {
            for lower in ["False", "True"] {
                let attrs = [
                    ("transpose", t),
                    ("rightside", rs),
                    ("lower", lower),
                    ("alpha", "-0.8"),
                ];
                let a = triangular(2, 3, lower == "True", 9);
                let b = if rs == "True" {
                    n(&[2, 2, 3], 10)
                } else {
                    n(&[2, 3, 2], 10)
                };
                fd_check(
                    "_linalg_trmm",
                    &attrs,
                    &[n(&[2, 3, 3], 11), b.clone()],
                    &[0, 1],
                    false,
                );
                fd_check("_linalg_trsm", &attrs, &[a, b], &[0, 1], false);
            }
        }
    }
    for lower in ["True", "False"] {
        fd_check(
            "_linalg_potrf",
            &[("lower", lower)],
            &[spd(2, 3, 12)],
            &[0],
            true,
        );
        let l = call_str("_linalg_potrf", &[spd(2, 3, 13)], &[("lower", lower)])
            .expect("potrf")
            .remove(0);
        fd_check("_linalg_potri", &[("lower", lower)], &[l], &[0], false);
    }
    fd_check("_linalg_sumlogdiag", &[], &[spd(2, 3, 14)], &[0], false);
    fd_check(
        "_linalg_extractdiag",
        &[("offset", "1")],
        &[n(&[2, 3, 3], 15)],
        &[0],
        false,
    );
    fd_check(
        "_linalg_makediag",
        &[("offset", "-1")],
        &[n(&[2, 3], 16)],
        &[0],
        false,
    );
    fd_check(
        "_linalg_extracttrian",
        &[("offset", "0"), ("lower", "False")],
        &[n(&[2, 3, 3], 17)],
        &[0],
        false,
    );
    fd_check(
        "_linalg_maketrian",
        &[("offset", "-1")],
        &[n(&[2, 6], 18)],
        &[0],
        false,
    );
    let reg = |seed| {
        let mut v = n(&[2, 3, 3], seed).to_vec::<f64>().expect("f64");
        for k in 0..2 {
            for i in 0..3 {
                v[k * 9 + i * 4] += 3.0;
            }
        }
        arr(&[2, 3, 3], &v)
    };
    fd_check("_linalg_inverse", &[], &[reg(19)], &[0], false);
    fd_check("_linalg_det", &[], &[reg(20)], &[0], false);
    fd_check("_linalg_slogdet", &[], &[reg(21)], &[0], false);
    fd_check("_linalg_gelqf", &[], &[n(&[2, 2, 4], 22)], &[0], false);
    fd_check("_linalg_gelqf", &[], &[n(&[3, 3], 23)], &[0], false);
    fd_check("_linalg_syevd", &[], &[spd(2, 4, 24)], &[0], true);
}
