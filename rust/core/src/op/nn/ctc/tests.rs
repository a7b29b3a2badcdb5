use crate::ndarray::NDArray;
use crate::op::test_util::{arr, check_grad, err, rand64, run};

/// -log of the summed probability of every alignment of `label` over softmax(x[:, b, :]),
/// enumerating all alphabet^steps paths: the independent oracle.
fn brute(
    x: &[f64],
    (t, n, a): (usize, usize, usize),
    b: usize,
    steps: usize,
    label: &[usize],
    blank: usize,
) -> f64 {
    let mut p = 0.0;
    let total = a.pow(steps as u32);
    for code in 0..total {
        let mut path = Vec::with_capacity(steps);
        let mut c = code;
        for _ in 0..steps {
            path.push(c % a);
            c /= a;
        }
        // Collapse repeats, then drop blanks.
        let mut out = Vec::new();
        let mut prev = usize::MAX;
        for &k in &path {
            if k != prev && k != blank {
                out.push(k);
            }
            prev = k;
        }
        if out != label {
            continue;
        }
        let mut q = 1.0;
        for (s, &k) in path.iter().enumerate() {
            let row = &x[(s * n + b) * a..][..a];
            let z: f64 = row.iter().map(|v| v.exp()).sum();
            q *= row[k].exp() / z;
        }
        p += q;
    }
    let _ = t;
    -p.ln()
}

fn f64s(a: &NDArray) -> Vec<f64> {
    a.to_vec::<f64>().expect("to_vec")
}

#[test]
fn loss_matches_enumerated_alignments() {
    let (t, n, a) = (4, 4, 3);
    let x = rand64(&[t, n, a], -1.0, 1.0, 21);
    let xv = f64s(&x);
    // blank first: 0 pads; labels 1..=2. Includes a repeat and an empty label.
    let lab = arr(&[n, 3], &[1f64, 2., 0., 2., 2., 0., 0., 0., 0., 1., 0., 2.]);
    let loss = f64s(&run("CTCLoss", &[x.clone(), lab], &[]));
    let want = [
        brute(&xv, (t, n, a), 0, t, &[1, 2], 0),
        brute(&xv, (t, n, a), 1, t, &[2, 2], 0),
        brute(&xv, (t, n, a), 2, t, &[], 0),
        brute(&xv, (t, n, a), 3, t, &[1], 0),
    ];
    for (g, w) in loss.iter().zip(&want) {
        assert!((g - w).abs() < 1e-10, "{loss:?} vs {want:?}");
    }
    // blank last: -1 pads; labels 0..=1, blank 2; with data and label lengths.
    let lab = arr(
        &[n, 3],
        &[0f64, 1., -1., 1., 1., 0., 0., -1., -1., 1., 0., 0.],
    );
    let dl = arr(&[n], &[4f64, 3., 2., 4.]);
    let ll = arr(&[n], &[2f64, 2., 1., 3.]);
    let loss = f64s(&run(
        "CTCLoss",
        &[x.clone(), lab.clone(), dl.clone(), ll],
        &[
            ("blank_label", "last"),
            ("use_data_lengths", "True"),
            ("use_label_lengths", "True"),
        ],
    ));
    let want = [
        brute(&xv, (t, n, a), 0, 4, &[0, 1], 2),
        brute(&xv, (t, n, a), 1, 3, &[1, 1], 2),
        brute(&xv, (t, n, a), 2, 2, &[0], 2),
        brute(&xv, (t, n, a), 3, 4, &[1, 0, 0], 2),
    ];
    for (g, w) in loss.iter().zip(&want) {
        assert!((g - w).abs() < 1e-10, "{loss:?} vs {want:?}");
    }
    // Only data lengths; labels from padding (-1).
    let loss = f64s(&run(
        "CTCLoss",
        &[x, lab, dl],
        &[("blank_label", "last"), ("use_data_lengths", "True")],
    ));
    let w2 = brute(&xv, (t, n, a), 2, 2, &[0], 2);
    assert!((loss[2] - w2).abs() < 1e-10, "{loss:?}");
}

#[test]
fn infeasible_labels_cost_zero() {
    let x = rand64(&[3, 1, 3], -1.0, 1.0, 5);
    // [1, 1, 1] needs 5 steps (two blanks between repeats).
    let l = f64s(&run("CTCLoss", &[x, arr(&[1, 3], &[1f64, 1., 1.])], &[]));
    assert_eq!(l, [0.0]);
}

#[test]
fn gradient_matches_finite_differences() {
    let x = rand64(&[5, 3, 4], -1.0, 1.0, 9);
    let lab = arr(&[3, 3], &[1f64, 2., 2., 3., 0., 0., 1., 3., 0.]);
    check_grad("CTCLoss", &[], &[x.clone(), lab.clone()], &[0]);
    let dl = arr(&[3], &[5f64, 3., 4.]);
    let ll = arr(&[3], &[3f64, 1., 2.]);
    check_grad(
        "CTCLoss",
        &[("use_data_lengths", "1"), ("use_label_lengths", "1")],
        &[x.clone(), lab.clone(), dl, ll.clone()],
        &[0],
    );
    check_grad(
        "ctc_loss",
        &[("use_label_lengths", "1"), ("blank_label", "last")],
        &[x, arr(&[3, 3], &[0f64, 2., 1., 2., 0., 0., 1., 2., 0.]), ll],
        &[0],
    );
}

#[test]
fn gradient_is_zero_past_the_data_length_and_stable_for_large_activations() {
    let mut xv = f64s(&rand64(&[4, 2, 3], -1.0, 1.0, 13));
    xv[0] = 800.0; // exp would overflow outside log space
    let x = arr(&[4, 2, 3], &xv);
    let lab = arr(&[2, 2], &[1f64, 2., 2., 0.]);
    let dl = arr(&[2], &[4f64, 2.]);
    let op = crate::op::registry()
        .get("CTCLoss")
        .unwrap()
        .create(&[("use_data_lengths".into(), "True".into())])
        .unwrap();
    let l = f64s(
        &crate::op::invoke(&op, &[x.clone(), lab.clone(), dl.clone()], None, None).unwrap()[0],
    );
    assert!(l.iter().all(|v| v.is_finite()), "{l:?}");
    let dy = arr(&[2], &[1f64, 1.]);
    let b = super::backward_op(super::Cfg {
        data_lengths: true,
        label_lengths: false,
        blank_last: false,
    });
    let g = f64s(&crate::op::invoke(&b, &[dy, x, lab, dl], None, None).unwrap()[0]);
    assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
    // Sample 1 has 2 steps: rows t = 2, 3 of it are zero; each used row sums to 0.
    for t in 2..4 {
        assert_eq!(&g[(t * 2 + 1) * 3..][..3], &[0.0; 3]);
    }
    for t in 0..4 {
        let s: f64 = g[t * 6..t * 6 + 3].iter().sum();
        assert!(s.abs() < 1e-9, "{g:?}");
    }
}

#[test]
fn bad_inputs_are_errors() {
    let x = rand64(&[3, 2, 4], -1.0, 1.0, 1);
    let e = err("CTCLoss", &[x.clone(), arr(&[3, 2], &[1f32; 6])], &[]);
    assert!(
        e.to_string().contains("label") && e.to_string().contains("[3,2]"),
        "{e}"
    );
    let e = err("CTCLoss", &[x.clone(), arr(&[2, 4], &[1f32; 8])], &[]);
    assert!(e.to_string().contains("cannot exceed"), "{e}");
    let e = err(
        "CTCLoss",
        &[x.clone(), arr(&[2, 2], &[1f32, 4., 1., 0.])],
        &[],
    );
    assert!(e.to_string().contains("label[0, 1] = 4"), "{e}");
    let e = err(
        "CTCLoss",
        &[x.clone(), arr(&[2, 2], &[1f32; 4]), arr(&[2], &[3f32, 5.])],
        &[("use_data_lengths", "1")],
    );
    assert!(e.to_string().contains("data_lengths[1] = 5"), "{e}");
    let e = err(
        "CTCLoss",
        &[x.clone(), arr(&[2, 2], &[1f32; 4]), arr(&[2], &[1f32, -1.])],
        &[("use_label_lengths", "1")],
    );
    assert!(e.to_string().contains("label_lengths[1] = -1"), "{e}");
    let e = err(
        "CTCLoss",
        &[x.clone(), arr(&[2, 2], &[1f32; 4]), arr(&[3], &[3f32; 3])],
        &[("use_label_lengths", "1")],
    );
    assert!(
        e.to_string().contains("label_lengths must be a vector"),
        "{e}"
    );
    let e = err(
        "CTCLoss",
        &[x, arr(&[2, 2], &[1f32; 4])],
        &[("use_label_lengths", "1")],
    );
    assert!(e.to_string().contains("takes 3 inputs"), "{e}");
}
