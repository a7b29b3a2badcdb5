//! The linalg ops against MXNet 1.9.1's printed values (float64 inputs, pasted as constants),
//! naive references, and central finite differences of their gradients (in `grads`).

mod grads;

use crate::error::Error;
use crate::graph::eval::evaluate;
use crate::graph::{gradient, Entry, Node};
use crate::ndarray::NDArray;
use crate::op::test_util::{arr, err, rand64};
use crate::op::{call_str, registry, Operator};
use std::sync::Arc;

const A3: [f64; 9] = [4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0];
const B32: [f64; 6] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];

fn a3() -> NDArray {
    arr(&[3, 3], &A3)
}

fn outs(op: &str, ins: &[NDArray], attrs: &[(&str, &str)]) -> Vec<Vec<f64>> {
    call_str(op, ins, attrs)
        .unwrap_or_else(|e| panic!("{op} {attrs:?}: {e}"))
        .iter()
        .map(|o| o.to_vec::<f64>().expect("f64 output"))
        .collect()
}

fn out(op: &str, ins: &[NDArray], attrs: &[(&str, &str)]) -> Vec<f64> {
    outs(op, ins, attrs).remove(0)
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        let ok = (g == w) || (g - w).abs() <= tol * w.abs().max(1.0);
        assert!(ok, "{what}: got {got:?}, want {want:?}");
    }
}

fn make_op(op: &str, attrs: &[(&str, &str)]) -> Arc<dyn Operator> {
    let a: Vec<(String, String)> = attrs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    registry()
        .get(op)
        .and_then(|d| d.create(&a))
        .unwrap_or_else(|e| panic!("{op}: {e}"))
}

/// `sum_k <out_k, w_k>` over the visible outputs.
fn objective(op: &Arc<dyn Operator>, ins: &[NDArray], ws: &[Vec<f64>]) -> f64 {
    let o = crate::op::invoke(op, ins, None, None).expect("forward");
    o.iter()
        .zip(ws)
        .map(|(o, w)| {
            let v = o.to_vec::<f64>().expect("f64");
            v.iter().zip(w).map(|(a, b)| a * b).sum::<f64>()
        })
        .sum()
}

/// Input gradients of `op` with head gradients `ws` (one per visible output).
fn grads(op: &str, attrs: &[(&str, &str)], ins: &[NDArray], ws: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let o = make_op(op, attrs);
    let leaves: Vec<Arc<Node>> = ins.iter().map(|a| Node::leaf(a.clone(), None)).collect();
    let entries: Vec<Entry> = leaves.iter().map(|l| l.entry(0)).collect();
    let fwd = crate::op::invoke(&o, ins, None, None).expect("forward");
    let node = Node::from_op(
        o.clone(),
        op,
        Vec::new(),
        entries.clone(),
        Some(fwd.clone()),
    );
    let heads: Vec<Entry> = (0..ws.len()).map(|k| node.entry(k)).collect();
    let hg: Vec<Option<Entry>> = ws
        .iter()
        .zip(&fwd)
        .map(|(w, f)| {
            let a = arr(f.shape().dims(), w);
            Some(Node::leaf(a, None).entry(0))
        })
        .collect();
    let g = gradient(&heads, &hg, &entries).expect("gradient");
    g.iter()
        .zip(ins)
        .map(|(e, x)| match e {
            Some(e) => evaluate(std::slice::from_ref(e), false).expect("eval")[0]
                .to_vec::<f64>()
                .expect("f64"),
            None => vec![0.0; x.size()],
        })
        .collect()
}

/// Head weights 1, 2, 3, ... times (k + 1) on output k (the weights the MXNet constants used).
fn ramp(op: &str, ins: &[NDArray], attrs: &[(&str, &str)], visible: usize) -> Vec<Vec<f64>> {
    let o = call_str(op, ins, attrs).expect("forward");
    (0..visible)
        .map(|k| {
            (0..o[k].size())
                .map(|i| (k + 1) as f64 * (i + 1) as f64)
                .collect()
        })
        .collect()
}

/// Checks the gradient against central differences. `sym`: the op reads one triangle of a
/// symmetric input (potrf, syevd), so (i, j) and (j, i) are perturbed together and compared
/// with the sum of both gradient entries.
fn fd_check(op: &str, attrs: &[(&str, &str)], ins: &[NDArray], wrt: &[usize], sym: bool) {
    let o = make_op(op, attrs);
    let fwd = crate::op::invoke(&o, ins, None, None).expect("forward");
    let ws: Vec<Vec<f64>> = fwd
        .iter()
        .take(o.num_visible_outputs())
        .enumerate()
        .map(|(k, f)| {
            (0..f.size())
                .map(|i| ((i * 7 + k * 3) % 11) as f64 / 5.0 - 1.0)
                .collect()
        })
        .collect();
    let g = grads(op, attrs, ins, &ws);
    let eps = 1e-6;
    for &i in wrt {
        let base = ins[i].to_vec::<f64>().expect("f64");
        let dims = ins[i].shape().dims().to_vec();
        let n = *dims.last().expect("matrix");
        for j in 0..base.len() {
            let (r, c) = ((j / n) % n, j % n);
            if sym && c > r {
                continue;
            }
            let mirror = j - r * n - c + c * n + r;
            let at = |d: f64| {
                let mut v = base.clone();
                v[j] += d;
                if sym && r != c {
                    v[mirror] += d;
                }
                let mut x = ins.to_vec();
                x[i] = arr(&dims, &v);
                objective(&o, &x, &ws)
            };
            let num = (at(eps) - at(-eps)) / (2.0 * eps);
            let got = if sym && r != c {
                g[i][j] + g[i][mirror]
            } else {
                g[i][j]
            };
            assert!(
                (num - got).abs() <= 1e-6 + 1e-5 * num.abs().max(got.abs()),
                "{op} {attrs:?} input {i} element {j}: gradient {got}, finite difference {num}"
            );
        }
    }
}

/// A random symmetric positive definite batch (B·Bᵀ + n·I).
fn spd(batch: usize, n: usize, seed: u64) -> NDArray {
    let b = rand64(&[batch, n, n], -1.0, 1.0, seed)
        .to_vec::<f64>()
        .expect("f64");
    let mut v = vec![0.0; batch * n * n];
    for k in 0..batch {
        for i in 0..n {
            for j in 0..n {
                let s: f64 = (0..n)
                    .map(|p| b[k * n * n + i * n + p] * b[k * n * n + j * n + p])
                    .sum();
                v[k * n * n + i * n + j] = s + if i == j { n as f64 } else { 0.0 };
            }
        }
    }
    arr(&[batch, n, n], &v)
}

/// Random lower (or upper) triangular matrices with a diagonal in [1, 2).
fn triangular(batch: usize, n: usize, lower: bool, seed: u64) -> NDArray {
    let mut v = rand64(&[batch, n, n], -1.0, 1.0, seed)
        .to_vec::<f64>()
        .expect("f64");
    for k in 0..batch {
        for i in 0..n {
            for j in 0..n {
                let x = &mut v[k * n * n + i * n + j];
                if i == j {
                    *x = 1.5 + *x / 2.0;
                } else if (j > i) == lower {
                    *x = 0.0;
                }
            }
        }
    }
    arr(&[batch, n, n], &v)
}

#[test]
fn linalg_gemm_matches_mxnet_and_reference() {
    let x = arr(&[2, 2], &[1.0, 1.0, 1.0, 1.0]);
    let y = arr(&[3, 2], &[1.0; 6]);
    let c = arr(&[2, 3], &[1.0; 6]);
    let attrs = [("transpose_b", "True"), ("alpha", "2.0"), ("beta", "10.0")];
    assert_eq!(
        out("_linalg_gemm", &[x.clone(), y.clone(), c], &attrs),
        vec![14.0; 6]
    );
    assert_eq!(
        out(
            "linalg_gemm2",
            &[x, y],
            &[("transpose_b", "True"), ("alpha", "2.0")]
        ),
        vec![4.0; 6]
    );
    // A non-default row axis, printed by MXNet 1.9.1.
    let a: Vec<f64> = (0..48).map(f64::from).collect();
    let b: Vec<f64> = (0..80).map(|i| f64::from(i) * 0.1).collect();
    let got = out(
        "_linalg_gemm",
        &[
            arr(&[2, 3, 2, 4], &a),
            arr(&[2, 5, 2, 4], &b),
            arr(&[2, 3, 2, 5], &[1.0; 60]),
        ],
        &[
            ("axis", "1"),
            ("transpose_b", "True"),
            ("alpha", "0.5"),
            ("beta", "2"),
        ],
    );
    assert_close(
        &got[..10],
        &[2.7, 5.1, 7.5, 9.9, 12.3, 8.3, 17.1, 25.9, 34.7, 43.5],
        1e-12,
        "gemm axis=1",
    );
    // Every element against a naive loop over the swapped axes.
    for (o, i0, r, j) in [(0usize, 0usize, 0usize, 0usize), (1, 2, 1, 4), (1, 1, 0, 3)] {
        let want: f64 = 0.5
            * (0..4)
                .map(|k| a[((o * 3 + i0) * 2 + r) * 4 + k] * b[((o * 5 + j) * 2 + r) * 4 + k])
                .sum::<f64>()
            + 2.0;
        let idx = ((o * 3 + i0) * 2 + r) * 5 + j;
        assert!((got[idx] - want).abs() < 1e-9, "{idx}: {} {want}", got[idx]);
    }
    let e = err(
        "_linalg_gemm2",
        &[arr(&[2, 3], &[0.0; 6]), arr(&[2, 3], &[0.0; 6])],
        &[],
    );
    assert!(
        matches!(e, Error::Shape { .. })
            && e.to_string().contains("_linalg_gemm2")
            && e.to_string().contains("[2,3]"),
        "{e}"
    );
    let e = err(
        "_linalg_gemm2",
        &[arr(&[2, 2], &[1i32; 4]), arr(&[2, 2], &[1i32; 4])],
        &[],
    );
    assert!(matches!(e, Error::DType { .. }), "{e}");
    let e = err(
        "_linalg_gemm2",
        &[arr(&[2, 2], &[0.0; 4]), arr(&[2, 2], &[0.0; 4])],
        &[("axis", "-1")],
    );
    assert!(e.to_string().contains("Invalid row axis"), "{e}");
    // float32 through the same GEMM.
    let f = call_str(
        "_linalg_gemm2",
        &[
            arr(&[1, 2, 2], &[1.0f32, 2.0, 3.0, 4.0]),
            arr(&[1, 2, 2], &[1.0f32, 0.0, 0.0, 1.0]),
        ],
        &[("alpha", "3")],
    )
    .expect("f32");
    assert_eq!(
        f[0].to_vec::<f32>().expect("f32"),
        vec![3.0, 6.0, 9.0, 12.0]
    );
}

#[test]
fn linalg_triangular_products_match_mxnet() {
    let b = arr(&[3, 2], &B32);
    let bt = arr(&[2, 3], &[1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
    assert_close(
        &out(
            "_linalg_trsm",
            &[a3(), bt.clone()],
            &[
                ("rightside", "True"),
                ("transpose", "True"),
                ("alpha", "2.0"),
            ],
        ),
        &[
            0.5,
            1.8333333333333333,
            4.691666666666666,
            1.0,
            2.333333333333333,
            5.516666666666667,
        ],
        1e-12,
        "trsm",
    );
    assert_close(
        &out(
            "_linalg_trmm",
            &[a3(), bt.clone()],
            &[("rightside", "True"), ("lower", "False"), ("alpha", "-1.5")],
        ),
        &[-6.0, -15.0, -16.65, -12.0, -21.0, -20.7],
        1e-12,
        "trmm",
    );
    assert_eq!(
        out(
            "_linalg_syrk",
            &[b.clone()],
            &[("transpose", "True"), ("alpha", "0.5")]
        ),
        vec![17.5, 22.0, 22.0, 28.0]
    );
    // MXNet's docstring examples.
    let l = arr(&[2, 2], &[1.0, 0.0, 1.0, 1.0]);
    assert_eq!(
        out(
            "_linalg_trmm",
            &[l.clone(), arr(&[2, 3], &[1.0; 6])],
            &[("alpha", "2.0")]
        ),
        vec![2.0, 2.0, 2.0, 4.0, 4.0, 4.0]
    );
    assert_eq!(
        out(
            "_linalg_trsm",
            &[l, arr(&[2, 3], &[2.0, 2.0, 2.0, 4.0, 4.0, 4.0])],
            &[("alpha", "0.5")]
        ),
        vec![1.0; 6]
    );
    // A zero on the diagonal: MXNet returns inf, this is an error.
    let e = err(
        "_linalg_trsm",
        &[arr(&[2, 2], &[0.0, 0.0, 1.0, 1.0]), arr(&[2, 2], &[1.0; 4])],
        &[],
    );
    assert!(
        e.to_string().contains("singular") && e.to_string().contains("_linalg_trsm"),
        "{e}"
    );
    let e = err("_linalg_trmm", &[a3(), b], &[("rightside", "True")]);
    assert!(
        matches!(e, Error::Shape { .. }) && e.to_string().contains("[3,2]"),
        "{e}"
    );
}

#[test]
fn linalg_diag_and_trian_match_mxnet() {
    let sq: Vec<f64> = (0..16).map(f64::from).collect();
    let m9: Vec<f64> = (0..9).map(f64::from).collect();
    assert_close(
        &out("_linalg_sumlogdiag", &[a3()], &[]),
        &[3.1780538303479458],
        1e-14,
        "sumlogdiag",
    );
    assert_eq!(
        out("_linalg_extractdiag", &[a3()], &[("offset", "-1")]),
        vec![1.0, 0.2]
    );
    assert_eq!(
        out(
            "_linalg_makediag",
            &[arr(&[2], &[1.0, 2.0])],
            &[("offset", "2")]
        ),
        vec![0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    );
    assert_eq!(
        out(
            "_linalg_extracttrian",
            &[arr(&[3, 3], &m9)],
            &[("lower", "False")]
        ),
        vec![0.0, 1.0, 4.0, 2.0, 5.0, 8.0]
    );
    assert_eq!(
        out(
            "_linalg_extracttrian",
            &[arr(&[4, 4], &sq)],
            &[("offset", "1")]
        ),
        vec![1.0, 2.0, 6.0, 3.0, 7.0, 11.0]
    );
    assert_eq!(
        out(
            "_linalg_extracttrian",
            &[arr(&[4, 4], &sq)],
            &[("offset", "-1")]
        ),
        vec![4.0, 8.0, 9.0, 12.0, 13.0, 14.0]
    );
    assert_eq!(
        out(
            "_linalg_maketrian",
            &[arr(&[6], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])],
            &[("lower", "False")]
        ),
        vec![1.0, 2.0, 4.0, 0.0, 3.0, 5.0, 0.0, 0.0, 6.0]
    );
    let o = call_str(
        "_linalg_maketrian",
        &[arr(&[2, 3], &B32)],
        &[("offset", "1")],
    )
    .expect("maketrian");
    assert_eq!(o[0].shape().dims(), &[2, 3, 3]);
    assert_eq!(
        o[0].to_vec::<f64>().expect("f64"),
        vec![
            0.0, 1.0, 2.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0, 4.0, 5.0, 0.0, 0.0, 6.0, 0.0, 0.0,
            0.0
        ]
    );
    let e = err("_linalg_maketrian", &[arr(&[4], &[0.0; 4])], &[]);
    assert!(e.to_string().contains("invalid dimension"), "{e}");
    let e = err(
        "_linalg_extractdiag",
        &[arr(&[2, 2], &[0.0; 4])],
        &[("offset", "2")],
    );
    assert!(e.to_string().contains("Illegal offset 2"), "{e}");
    let o = call_str("_linalg_sumlogdiag", &[spd(4, 2, 1)], &[]).expect("batch");
    assert_eq!(o[0].shape().dims(), &[4]);
}

#[test]
fn linalg_factorizations_match_mxnet() {
    assert_close(
        &out("_linalg_potrf", &[a3()], &[]),
        &[
            2.0,
            0.0,
            0.0,
            0.5,
            1.6583123951777,
            0.0,
            0.25,
            0.04522670168666455,
            1.391206147720224,
        ],
        1e-14,
        "potrf",
    );
    assert_close(
        &out("_linalg_potrf", &[a3()], &[("lower", "False")]),
        &[
            2.0,
            0.5,
            0.25,
            0.0,
            1.6583123951777,
            0.04522670168666455,
            0.0,
            0.0,
            1.391206147720224,
        ],
        1e-14,
        "potrf upper",
    );
    let inv = [
        0.2799436355096289,
        -0.08924377642085486,
        -0.06106153123532173,
        -0.08924377642085486,
        0.36402066697980273,
        -0.014091122592766557,
        -0.06106153123532173,
        -0.014091122592766557,
        0.516674495068107,
    ];
    let l = call_str("_linalg_potrf", &[a3()], &[])
        .expect("potrf")
        .remove(0);
    assert_close(&out("_linalg_potri", &[l], &[]), &inv, 1e-13, "potri");
    assert_close(
        &out("_linalg_inverse", &[a3()], &[]),
        &inv,
        1e-13,
        "inverse",
    );
    assert_close(
        &out("_linalg_det", &[a3()], &[]),
        &[21.290000000000006],
        1e-13,
        "det",
    );
    let s = outs(
        "_linalg_slogdet",
        &[arr(
            &[3, 2, 2],
            &[2.0, 3.0, 1.0, 4.0, 1.0, 2.0, 2.0, 4.0, 1.0, 2.0, 4.0, 3.0],
        )],
        &[],
    );
    assert_eq!(s[0], vec![1.0, 0.0, -1.0]);
    assert_close(
        &s[1],
        &[1.6094379124341005, f64::NEG_INFINITY, 1.6094379124341005],
        1e-14,
        "slogdet",
    );
    let g = outs("_linalg_gelqf", &[arr(&[2, 3], &B32)], &[]);
    assert_close(
        &g[0],
        &[
            -0.2672612419124243,
            -0.5345224838248488,
            -0.8017837257372732,
            0.8728715609439696,
            0.21821789023599236,
            -0.43643578047198456,
        ],
        1e-13,
        "gelqf Q",
    );
    assert_close(
        &g[1],
        &[
            -3.7416573867739413,
            0.0,
            -8.55235974119758,
            1.963961012123933,
        ],
        1e-13,
        "gelqf L",
    );
    let e = outs("_linalg_syevd", &[a3()], &[]);
    assert_close(
        &e[0],
        &[
            -0.25304236163525423,
            0.05343872082877554,
            0.9659781914382112,
            -0.4819496604261803,
            0.8587971746720291,
            -0.17375827344454664,
            0.8388647614682253,
            0.5095210652088139,
            0.1915572918876564,
        ],
        1e-12,
        "syevd U",
    );
    assert_close(
        &e[1],
        &[1.8800869029150526, 2.398343019336998, 4.721570077747948],
        1e-13,
        "syevd L",
    );
    // MXNet's docstring example, with its sign convention.
    let e = outs("_linalg_syevd", &[arr(&[2, 2], &[1.0, 2.0, 2.0, 4.0])], &[]);
    assert_close(
        &e[0],
        &[0.89442719, -0.4472136, 0.4472136, 0.89442719],
        1e-8,
        "syevd doc U",
    );
    assert_close(&e[1], &[0.0, 5.0], 1e-12, "syevd doc L");
}

#[test]
fn linalg_errors_name_op_and_shapes() {
    let e = err("_linalg_potrf", &[arr(&[2, 2], &[1.0, 2.0, 2.0, 1.0])], &[]);
    assert!(
        e.to_string().contains("_linalg_potrf") && e.to_string().contains("not positive definite"),
        "{e}"
    );
    let e = err(
        "_linalg_inverse",
        &[arr(&[2, 2], &[1.0, 2.0, 2.0, 4.0])],
        &[],
    );
    assert!(
        e.to_string().contains("_linalg_inverse") && e.to_string().contains("singular"),
        "{e}"
    );
    let e = err("_linalg_inverse", &[arr(&[2, 3], &[0.0; 6])], &[]);
    assert!(
        matches!(e, Error::Shape { .. }) && e.to_string().contains("[2,3]"),
        "{e}"
    );
    let e = err("_linalg_gelqf", &[arr(&[3, 2], &[0.0; 6])], &[]);
    assert!(
        matches!(e, Error::Shape { .. }) && e.to_string().contains("[3,2]"),
        "{e}"
    );
    let e = err("_linalg_det", &[arr(&[3], &[0.0; 3])], &[]);
    assert!(matches!(e, Error::Shape { .. }), "{e}");
    assert!(matches!(
        err("_linalg_potrf", &[a3()], &[("bogus", "1")]),
        Error::Param { .. }
    ));
    // A singular matrix: det 0 (MXNet prints -0) and, as MXNet, a zero gradient.
    let s = arr(&[2, 2], &[1.0, 2.0, 2.0, 4.0]);
    assert_eq!(out("_linalg_det", &[s.clone()], &[]), vec![0.0]);
    assert_eq!(
        grads("_linalg_det", &[], &[s.clone()], &[vec![1.0]])[0],
        vec![0.0; 4]
    );
    assert_eq!(
        grads("_linalg_slogdet", &[], &[s], &[vec![1.0], vec![1.0]])[0],
        vec![0.0; 4]
    );
}
