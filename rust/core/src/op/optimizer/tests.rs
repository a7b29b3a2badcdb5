//! Update ops against hand-computed MXNet arithmetic.

use crate::op::call_str;
use crate::op::test_util::{arr, as_f32, err, f32s};

fn close(a: &[f32], b: &[f32]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= 1e-5 * (1.0 + y.abs()), "{a:?} vs {b:?}");
    }
}

/// Runs `op` with `out=weight`, so the weight and the states change in place.
fn step(op: &str, ins: &[crate::ndarray::NDArray], attrs: &[(&str, &str)]) {
    let a: Vec<(String, String)> = attrs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let def = crate::op::registry().get(op).expect("registered");
    let opr = def.create(&a).expect("params");
    crate::op::invoke(&opr, ins, Some(&ins[..1]), None).expect("invoke");
}

#[test]
fn sgd_and_clip() {
    let w = arr(&[3], &[1.0f32, 2.0, 3.0]);
    let g = arr(&[3], &[10.0f32, -0.5, 0.0]);
    let o = call_str(
        "sgd_update",
        &[w.clone(), g],
        &[
            ("lr", "0.1"),
            ("wd", "0.5"),
            ("rescale_grad", "0.5"),
            ("clip_gradient", "1"),
        ],
    )
    .expect("sgd")
    .remove(0);
    // (1 - 0.05) * w - 0.1 * clip(0.5 * g, 1)
    close(&f32s(&o), &[0.95 - 0.1, 1.9 + 0.025, 2.85]);
    close(&f32s(&w), &[1.0, 2.0, 3.0]); // without out, weight is untouched
}

#[test]
fn sgd_mom_updates_state_in_place() {
    let w = arr(&[2], &[1.0f32, -1.0]);
    let g = arr(&[2], &[0.5f32, 0.25]);
    let m = arr(&[2], &[0.0f32, 0.0]);
    let (mut rw, mut rm) = ([1.0f32, -1.0], [0.0f32, 0.0]);
    for _ in 0..3 {
        step(
            "sgd_mom_update",
            &[w.clone(), g.clone(), m.clone()],
            &[("lr", "0.1"), ("momentum", "0.9"), ("wd", "0.01")],
        );
        for i in 0..2 {
            let gi = [0.5f32, 0.25][i];
            rm[i] = 0.9 * rm[i] - 0.1 * 0.01 * rw[i] - 0.1 * gi;
            rw[i] += rm[i];
        }
    }
    close(&f32s(&m), &rm);
    close(&f32s(&w), &rw);
}

#[test]
fn adam_two_steps() {
    let w = arr(&[1], &[1.0f32]);
    let g = arr(&[1], &[0.5f32]);
    let (m, v) = (arr(&[1], &[0.0f32]), arr(&[1], &[0.0f32]));
    let (mut rw, mut rm, mut rv) = (1.0f32, 0.0f32, 0.0f32);
    for _ in 0..2 {
        step(
            "adam_update",
            &[w.clone(), g.clone(), m.clone(), v.clone()],
            &[("lr", "0.01"), ("wd", "0.1")],
        );
        let gi = 0.5 + 0.1 * rw;
        rm = 0.9 * rm + 0.1 * gi;
        rv = 0.999 * rv + 0.001 * gi * gi;
        rw -= 0.01 * rm / (rv.sqrt() + 1e-8);
    }
    close(&f32s(&w), &[rw]);
    close(&f32s(&m), &[rm]);
    close(&f32s(&v), &[rv]);
}

#[test]
fn ftrl_and_signum() {
    let w = arr(&[2], &[0.5f32, -0.5]);
    let g = arr(&[2], &[1.0f32, -0.001]);
    let (z, n) = (arr(&[2], &[0.0f32; 2]), arr(&[2], &[0.0f32; 2]));
    step(
        "ftrl_update",
        &[w.clone(), g.clone(), z.clone(), n.clone()],
        &[("lr", "0.1")],
    );
    // z = g - |g| * w / lr; n = g^2; w = (sign(z) l1 - z) / ((1 + |g|) / lr) if |z| > l1
    let z0 = 1.0 - 1.0 * 0.5 / 0.1;
    let z1 = -0.001 - 0.001 * -0.5 / 0.1;
    close(&f32s(&z), &[z0, z1]);
    let w0 = (-0.01 - z0) / ((1.0 + 1.0) / 0.1);
    assert!(z1.abs() < 0.01); // |z| <= lamda1: the weight is zeroed
    close(&f32s(&w), &[w0, 0.0]);

    let w = arr(&[2], &[1.0f32, 1.0]);
    let m = arr(&[2], &[0.0f32; 2]);
    step(
        "signum_update",
        &[w.clone(), arr(&[2], &[1.0f32, -1.0]), m.clone()],
        &[("lr", "0.1"), ("momentum", "0.9"), ("wd_lh", "0.5")],
    );
    close(&f32s(&m), &[-0.1, 0.1]);
    close(&f32s(&w), &[0.95 - 0.1, 0.95 + 0.1]);
}

#[test]
fn nag_momentum_sees_new_weight_only_in_place() {
    let (lr, mu, wd, g, m0, w0) = (0.1f32, 0.9f32, 0.5f32, 1.0f32, 0.2f32, 1.0f32);
    let attrs = [("lr", "0.1"), ("momentum", "0.9"), ("wd", "0.5")];
    let m = mu * m0;
    let w1 = w0 + mu * m - (mu + 1.0) * lr * (g + wd * w0);
    // Not in place: the momentum's weight decay uses the old weight.
    let (w, mom) = (arr(&[1], &[w0]), arr(&[1], &[m0]));
    let o = call_str(
        "nag_mom_update",
        &[w.clone(), arr(&[1], &[g]), mom.clone()],
        &attrs,
    )
    .expect("nag")
    .remove(0);
    close(&f32s(&o), &[w1]);
    close(&f32s(&mom), &[m - lr * (g + wd * w0)]);
    // In place (out=weight), as MXNet's kernel: it sees the new weight.
    let (w, mom) = (arr(&[1], &[w0]), arr(&[1], &[m0]));
    step(
        "nag_mom_update",
        &[w.clone(), arr(&[1], &[g]), mom.clone()],
        &attrs,
    );
    close(&f32s(&w), &[w1]);
    close(&f32s(&mom), &[m - lr * (g + wd * w1)]);
}

#[test]
fn mixed_precision_keeps_master_copy() {
    use half::f16;
    let w = arr(&[2], &[f16::from_f32(1.0), f16::from_f32(2.0)]);
    let g = arr(&[2], &[f16::from_f32(1.0), f16::from_f32(1.0)]);
    let w32 = arr(&[2], &[1.0f32, 2.0]);
    step(
        "mp_sgd_update",
        &[w.clone(), g, w32.clone()],
        &[("lr", "0.001")],
    );
    close(&f32s(&w32), &[0.999, 1.999]);
    let wv = w.to_vec::<f16>().expect("f16");
    assert!((wv[0].to_f32() - 0.999).abs() < 1e-3);
}

#[test]
fn bad_inputs_name_the_argument() {
    let w = arr(&[3], &[0.0f32; 3]);
    let m2 = arr(&[2], &[0.0f32; 2]);
    let e = err(
        "sgd_mom_update",
        &[w.clone(), w.clone(), m2],
        &[("lr", "1")],
    );
    assert!(e.to_string().contains("mom has shape"), "{e}");
    let e = err("sgd_update", std::slice::from_ref(&w), &[("lr", "1")]);
    assert!(e.to_string().contains("sgd_update takes 2"), "{e}");
    let e = err("sgd_update", &[w.clone(), w.clone()], &[]);
    assert!(e.to_string().contains("lr"), "{e}");
    let w64 = arr(&[3], &[0.0f64; 3]);
    let e = err(
        "mp_sgd_update",
        &[w64.clone(), w64.clone(), w64],
        &[("lr", "1")],
    );
    assert!(e.to_string().contains("mp_sgd_update"), "{e}");
}

/// Half-precision arrays update in f32 tiles: each step must equal the f32 update of the
/// widened arrays, rounded once, bit for bit, across tile and task boundaries and in place
/// or not.
#[test]
fn half_updates_round_the_f32_update_once() {
    use crate::dtype::{DType, Element};
    use crate::ndarray::NDArray;

    fn check<H: Element>(op: &str, states: &[DType], attrs: &[(&str, &str)], in_place: bool) {
        let n = 5000;
        let vals = |seed: u32, lo: f32, hi: f32| -> Vec<f32> {
            let mut x = seed;
            (0..n)
                .map(|_| {
                    x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    let v = lo + (hi - lo) * ((x >> 8) as f32 / (1 << 24) as f32);
                    H::from_f32(v).to_f32()
                })
                .collect()
        };
        let mk = |v: &[f32], d: DType| -> NDArray {
            if d == DType::F32 {
                arr(&[n], v)
            } else {
                arr(&[n], &v.iter().map(|&x| H::from_f32(x)).collect::<Vec<H>>())
            }
        };
        let data: Vec<Vec<f32>> = (0..2 + states.len())
            .map(|i| vals(7 + i as u32, if i >= 2 { 0.0 } else { -2.0 }, 2.0))
            .collect();
        let dts: Vec<DType> = [H::DTYPE, H::DTYPE]
            .into_iter()
            .chain(states.iter().copied())
            .collect();
        let half: Vec<NDArray> = data.iter().zip(&dts).map(|(v, &d)| mk(v, d)).collect();
        let wide: Vec<NDArray> = data.iter().map(|v| arr(&[n], v)).collect();
        let run = |ins: &[NDArray]| {
            if in_place {
                step(op, ins, attrs);
                ins[0].clone()
            } else {
                call_str(op, ins, attrs).expect("update").remove(0)
            }
        };
        let (got, want) = (run(&half), run(&wide));
        let rounded = |a: &NDArray| -> Vec<u32> {
            as_f32(a)
                .iter()
                .map(|&v| H::from_f32(v).to_f32().to_bits())
                .collect()
        };
        let bits = |a: &NDArray| -> Vec<u32> { as_f32(a).iter().map(|v| v.to_bits()).collect() };
        assert_eq!(bits(&got), rounded(&want), "{op} weight, {:?}", H::DTYPE);
        for (k, &d) in states.iter().enumerate() {
            let (g, w) = (&half[2 + k], &wide[2 + k]);
            let want = if d == DType::F32 { bits(w) } else { rounded(w) };
            assert_eq!(bits(g), want, "{op} state {k}, {:?}", H::DTYPE);
        }
    }

    fn all<H: Element>() {
        let h = H::DTYPE;
        let mom = [("lr", "0.1"), ("momentum", "0.9"), ("wd", "0.01")];
        check::<H>(
            "sgd_update",
            &[],
            &[("lr", "0.1"), ("clip_gradient", "1.5")],
            true,
        );
        check::<H>("sgd_update", &[], &[("lr", "0.1")], false);
        check::<H>("sgd_mom_update", &[h], &mom, true);
        check::<H>("nag_mom_update", &[h], &mom, false);
        check::<H>(
            "adam_update",
            &[h, h],
            &[("lr", "0.01"), ("wd", "0.001")],
            true,
        );
        check::<H>(
            "ftml_update",
            &[h, h, h],
            &[("lr", "0.01"), ("t", "3")],
            true,
        );
        if h == DType::F16 {
            // Mixed precision: f16 weight and gradient, f32 states (the last the master copy).
            check::<H>("mp_sgd_mom_update", &[DType::F32, DType::F32], &mom, true);
        }
    }
    all::<half::f16>();
    all::<half::bf16>();
}
