//! `RNN` against a direct, loop-by-loop f64 reference and against finite differences.

use crate::op::call_str;
use crate::op::test_util::{arr, check_grad, err, rand64};

fn sig(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Straightforward reference: returns (out, hy, cy) for data (t, n, c).
#[allow(clippy::too_many_arguments)]
fn reference(
    mode: &str,
    layers: usize,
    bidir: bool,
    h: usize,
    (t, n, c): (usize, usize, usize),
    x: &[f64],
    w: &[f64],
    hx: &[f64],
    cx: &[f64],
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let g = match mode {
        "lstm" => 4,
        "gru" => 3,
        _ => 1,
    };
    let d = if bidir { 2 } else { 1 };
    // Walk the flat vector in MXNet's order: weights, then biases.
    let mut pos = 0;
    let mut take = |len: usize| {
        let s = pos;
        pos += len;
        s
    };
    let mut woff = vec![];
    for l in 0..layers {
        let inl = if l == 0 { c } else { d * h };
        for _ in 0..d {
            let wx = take(g * h * inl);
            let wh = take(g * h * h);
            woff.push((wx, wh, inl));
        }
    }
    let mut boff = vec![];
    for _ in 0..layers * d {
        let bx = take(g * h);
        let bh = take(g * h);
        boff.push((bx, bh));
    }
    assert_eq!(pos, w.len());
    let mut input = x.to_vec();
    let mut hy = vec![0.0; layers * d * n * h];
    let mut cy = vec![0.0; layers * d * n * h];
    for l in 0..layers {
        let inl = if l == 0 { c } else { d * h };
        let mut y = vec![0.0; t * n * d * h];
        for dir in 0..d {
            let slot = l * d + dir;
            let (wx, wh, _) = woff[slot];
            let (bx, bh) = boff[slot];
            let mut hs: Vec<f64> = hx[slot * n * h..(slot + 1) * n * h].to_vec();
            let mut cs: Vec<f64> = cx[slot * n * h..(slot + 1) * n * h].to_vec();
            for s in 0..t {
                let tt = if dir == 0 { s } else { t - 1 - s };
                let mut hn = vec![0.0; n * h];
                for b in 0..n {
                    // Gate pre-activations from input (ax) and hidden (ah), biases included.
                    let ax = |k: usize| -> f64 {
                        let r = k;
                        w[bx + r]
                            + (0..inl)
                                .map(|q| w[wx + r * inl + q] * input[(tt * n + b) * inl + q])
                                .sum::<f64>()
                    };
                    let ah = |k: usize| -> f64 {
                        w[bh + k]
                            + (0..h)
                                .map(|q| w[wh + k * h + q] * hs[b * h + q])
                                .sum::<f64>()
                    };
                    for j in 0..h {
                        let v = match mode {
                            "rnn_tanh" => (ax(j) + ah(j)).tanh(),
                            "rnn_relu" => (ax(j) + ah(j)).max(0.0),
                            "lstm" => {
                                let i = sig(ax(j) + ah(j));
                                let f = sig(ax(h + j) + ah(h + j));
                                let gg = (ax(2 * h + j) + ah(2 * h + j)).tanh();
                                let o = sig(ax(3 * h + j) + ah(3 * h + j));
                                let cn = f * cs[b * h + j] + i * gg;
                                cs[b * h + j] = cn;
                                o * cn.tanh()
                            }
                            _ => {
                                let r = sig(ax(j) + ah(j));
                                let z = sig(ax(h + j) + ah(h + j));
                                let nn = (ax(2 * h + j) + r * ah(2 * h + j)).tanh();
                                (1.0 - z) * nn + z * hs[b * h + j]
                            }
                        };
                        hn[b * h + j] = v;
                    }
                }
                hs = hn;
                for b in 0..n {
                    for j in 0..h {
                        y[(tt * n + b) * d * h + dir * h + j] = hs[b * h + j];
                    }
                }
            }
            hy[slot * n * h..(slot + 1) * n * h].copy_from_slice(&hs);
            cy[slot * n * h..(slot + 1) * n * h].copy_from_slice(&cs);
        }
        input = y;
    }
    (input, hy, cy)
}

fn plen(mode: &str, layers: usize, bidir: bool, h: usize, c: usize) -> usize {
    let g = match mode {
        "lstm" => 4,
        "gru" => 3,
        _ => 1,
    };
    let d = if bidir { 2 } else { 1 };
    (0..layers)
        .map(|l| {
            let inl = if l == 0 { c } else { d * h };
            d * (g * h * (inl + h) + 2 * g * h)
        })
        .sum()
}

fn close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "at {i}: {x} vs {y}");
    }
}

#[test]
fn forward_matches_reference() {
    let (t, n, c, h) = (4, 3, 5, 3);
    for mode in ["rnn_tanh", "rnn_relu", "lstm", "gru"] {
        for (layers, bidir) in [(1, false), (2, false), (1, true), (2, true)] {
            let d = if bidir { 2 } else { 1 };
            let pl = plen(mode, layers, bidir, h, c);
            let x = rand64(&[t, n, c], -1.0, 1.0, 1);
            let w = rand64(&[pl], -0.6, 0.6, 2);
            let hx = rand64(&[layers * d, n, h], -1.0, 1.0, 3);
            let cx = rand64(&[layers * d, n, h], -1.0, 1.0, 4);
            let mut ins = vec![x.clone(), w.clone(), hx.clone()];
            if mode == "lstm" {
                ins.push(cx.clone());
            }
            let hs = h.to_string();
            let ls = layers.to_string();
            let bs = if bidir { "True" } else { "False" };
            let attrs = [
                ("mode", mode),
                ("state_size", hs.as_str()),
                ("num_layers", ls.as_str()),
                ("bidirectional", bs),
                ("state_outputs", "True"),
            ];
            let outs = call_str("RNN", &ins, &attrs).unwrap();
            let v = |a: &crate::ndarray::NDArray| a.to_vec::<f64>().unwrap();
            let (ro, rh, rc) = reference(
                mode,
                layers,
                bidir,
                h,
                (t, n, c),
                &v(&x),
                &v(&w),
                &v(&hx),
                &v(&cx),
            );
            assert_eq!(outs[0].shape().dims(), &[t, n, d * h]);
            close(&v(&outs[0]), &ro, 1e-12);
            close(&v(&outs[1]), &rh, 1e-12);
            if mode == "lstm" {
                close(&v(&outs[2]), &rc, 1e-12);
            }
        }
    }
}

#[test]
fn gradient_matches_finite_differences() {
    let (t, n, c, h) = (3, 2, 3, 2);
    for mode in ["rnn_tanh", "rnn_relu", "lstm", "gru"] {
        for (layers, bidir, so) in [(1, false, "False"), (2, true, "True")] {
            let d = if bidir { 2 } else { 1 };
            let pl = plen(mode, layers, bidir, h, c);
            let mut ins = vec![
                rand64(&[t, n, c], -1.0, 1.0, 11),
                rand64(&[pl], -0.7, 0.7, 12),
                rand64(&[layers * d, n, h], -1.0, 1.0, 13),
            ];
            if mode == "lstm" {
                ins.push(rand64(&[layers * d, n, h], -1.0, 1.0, 14));
            }
            let wrt: Vec<usize> = (0..ins.len()).collect();
            let hs = h.to_string();
            let ls = layers.to_string();
            let bs = if bidir { "True" } else { "False" };
            check_grad(
                "RNN",
                &[
                    ("mode", mode),
                    ("state_size", &hs),
                    ("num_layers", &ls),
                    ("bidirectional", bs),
                    ("state_outputs", so),
                ],
                &ins,
                &wrt,
            );
        }
    }
}

#[test]
fn float32_matches_float64() {
    let (t, n, c, h) = (5, 2, 4, 3);
    let pl = plen("lstm", 2, true, h, c);
    let x = rand64(&[t, n, c], -1.0, 1.0, 21);
    let w = rand64(&[pl], -0.5, 0.5, 22);
    let s = rand64(&[4, n, h], -1.0, 1.0, 23);
    let f32v = |a: &crate::ndarray::NDArray| -> crate::ndarray::NDArray {
        let v: Vec<f32> = a
            .to_vec::<f64>()
            .unwrap()
            .iter()
            .map(|&x| x as f32)
            .collect();
        arr(a.shape().dims(), &v)
    };
    let attrs = [
        ("mode", "lstm"),
        ("state_size", "3"),
        ("num_layers", "2"),
        ("bidirectional", "True"),
    ];
    let o64 = call_str("RNN", &[x.clone(), w.clone(), s.clone(), s.clone()], &attrs).unwrap();
    let o32 = call_str("RNN", &[f32v(&x), f32v(&w), f32v(&s), f32v(&s)], &attrs).unwrap();
    let a = o64[0].to_vec::<f64>().unwrap();
    let b: Vec<f64> = o32[0]
        .to_vec::<f32>()
        .unwrap()
        .iter()
        .map(|&v| v as f64)
        .collect();
    close(&b, &a, 1e-5);
}

#[test]
fn lstm_state_clip_bounds_the_cell() {
    let (t, n, c, h) = (3, 2, 3, 2);
    let pl = plen("lstm", 1, false, h, c);
    let x = rand64(&[t, n, c], 2.0, 3.0, 31);
    let w = rand64(&[pl], 0.5, 1.0, 32);
    let s = rand64(&[1, n, h], 0.0, 1.0, 33);
    let attrs = [
        ("mode", "lstm"),
        ("state_size", "2"),
        ("num_layers", "1"),
        ("state_outputs", "True"),
        ("lstm_state_clip_min", "-0.5"),
        ("lstm_state_clip_max", "0.5"),
    ];
    let o = call_str("RNN", &[x, w, s.clone(), s], &attrs).unwrap();
    let cy = o[2].to_vec::<f64>().unwrap();
    assert!(cy.iter().all(|&v| (-0.5..=0.5).contains(&v)), "{cy:?}");
    assert!(cy.contains(&0.5), "{cy:?}");
}

#[test]
fn bad_inputs_are_errors() {
    let x = rand64(&[3, 2, 4], -1.0, 1.0, 1);
    let s = rand64(&[1, 2, 3], -1.0, 1.0, 2);
    let w = rand64(&[plen("gru", 1, false, 3, 4)], -1.0, 1.0, 3);
    let attrs = [("mode", "gru"), ("state_size", "3"), ("num_layers", "1")];
    let bad_w = rand64(&[7], -1.0, 1.0, 3);
    let e = err("RNN", &[x.clone(), bad_w, s.clone()], &attrs).to_string();
    assert!(
        e.contains("RNN") && e.contains("parameters") && e.contains("[7]"),
        "{e}"
    );
    let x2 = rand64(&[3, 8], -1.0, 1.0, 1);
    let e = err("RNN", &[x2, w.clone(), s.clone()], &attrs).to_string();
    assert!(e.contains("3 dimensions") && e.contains("RNN"), "{e}");
    let bad_s = rand64(&[2, 2, 3], -1.0, 1.0, 2);
    let e = err("RNN", &[x.clone(), w.clone(), bad_s], &attrs).to_string();
    assert!(e.contains("state"), "{e}");
    let e = err(
        "RNN",
        &[x.clone(), w.clone(), s.clone()],
        &[("mode", "foo"), ("state_size", "3"), ("num_layers", "1")],
    )
    .to_string();
    assert!(e.contains("mode"), "{e}");
    let e = err("RNN", &[x, w], &attrs).to_string();
    assert!(e.contains("3 inputs"), "{e}");
}

/// Slice `[t0..t1) × [b]` of a (T, N, K) f64 array as a (t1 - t0, 1, K) array.
fn slice_tb(a: &[f64], dims: (usize, usize, usize), t1: usize, b: usize) -> Vec<f64> {
    let (_, n, k) = dims;
    (0..t1)
        .flat_map(|t| a[(t * n + b) * k..(t * n + b + 1) * k].to_vec())
        .collect()
}

#[test]
fn sequence_length_equals_running_each_sequence_alone() {
    let (t, n, c, h) = (4, 3, 3, 2);
    let lens = [4.0, 1.0, 3.0];
    for mode in ["lstm", "gru", "rnn_tanh"] {
        for (layers, bidir) in [(1, true), (2, true), (2, false)] {
            let d = if bidir { 2 } else { 1 };
            let pl = plen(mode, layers, bidir, h, c);
            let x = rand64(&[t, n, c], -1.0, 1.0, 41);
            let w = rand64(&[pl], -0.6, 0.6, 42);
            let hx = rand64(&[layers * d, n, h], -1.0, 1.0, 43);
            let cx = rand64(&[layers * d, n, h], -1.0, 1.0, 44);
            let hs = h.to_string();
            let ls = layers.to_string();
            let bs = if bidir { "True" } else { "False" };
            let attrs = |seq: &'static str| {
                vec![
                    ("mode", mode),
                    ("state_size", hs.as_str()),
                    ("num_layers", ls.as_str()),
                    ("bidirectional", bs),
                    ("state_outputs", "True"),
                    ("use_sequence_length", seq),
                ]
            };
            let mut ins = vec![x.clone(), w.clone(), hx.clone()];
            if mode == "lstm" {
                ins.push(cx.clone());
            }
            ins.push(arr(&[n], &[4i32, 1, 3]));
            let got = call_str("RNN", &ins, &attrs("True")).unwrap();
            let v = |a: &crate::ndarray::NDArray| a.to_vec::<f64>().unwrap();
            let (go, gh) = (v(&got[0]), v(&got[1]));
            let (xv, hv, cv) = (v(&x), v(&hx), v(&cx));
            for (b, &len) in lens.iter().enumerate() {
                let len = len as usize;
                let mut one = vec![
                    arr(&[len, 1, c], &slice_tb(&xv, (t, n, c), len, b)),
                    w.clone(),
                    arr(
                        &[layers * d, 1, h],
                        &slice_tb(&hv, (layers * d, n, h), layers * d, b),
                    ),
                ];
                if mode == "lstm" {
                    one.push(arr(
                        &[layers * d, 1, h],
                        &slice_tb(&cv, (layers * d, n, h), layers * d, b),
                    ));
                }
                let alone = call_str("RNN", &one, &attrs("False")).unwrap();
                let (ao, ah) = (v(&alone[0]), v(&alone[1]));
                let mut want = ao.clone();
                want.resize(t * d * h, 0.0);
                close(&slice_tb(&go, (t, n, d * h), t, b), &want, 1e-12);
                close(
                    &slice_tb(&gh, (layers * d, n, h), layers * d, b),
                    &ah,
                    1e-12,
                );
                if mode == "lstm" {
                    let gc = v(&got[2]);
                    close(
                        &slice_tb(&gc, (layers * d, n, h), layers * d, b),
                        &v(&alone[2]),
                        1e-12,
                    );
                }
            }
        }
    }
}

#[test]
fn sequence_length_gradient_matches_finite_differences() {
    let (t, n, c, h) = (3, 3, 2, 2);
    for mode in ["lstm", "gru", "rnn_tanh"] {
        let pl = plen(mode, 2, true, h, c);
        let mut ins = vec![
            rand64(&[t, n, c], -1.0, 1.0, 51),
            rand64(&[pl], -0.7, 0.7, 52),
            rand64(&[4, n, h], -1.0, 1.0, 53),
        ];
        if mode == "lstm" {
            ins.push(rand64(&[4, n, h], -1.0, 1.0, 54));
        }
        let wrt: Vec<usize> = (0..ins.len()).collect();
        ins.push(arr(&[n], &[2.0f64, 3.0, 1.0]));
        check_grad(
            "RNN",
            &[
                ("mode", mode),
                ("state_size", "2"),
                ("num_layers", "2"),
                ("bidirectional", "True"),
                ("state_outputs", "True"),
                ("use_sequence_length", "True"),
            ],
            &ins,
            &wrt,
        );
    }
}
