//! `_contrib_hawkesll`: log likelihood of a marked self-exciting Hawkes process (one exponential
//! kernel per mark), with MXNet 1.9.1's arithmetic (src/operator/contrib/hawkes_ll-inl.h) but
//! in f64 throughout (MXNet calls expf/logf even for float64 data).
//!
//! For sample i and mark k the memory s_k decays as exp(-beta_k dt) and gains 1 at each point
//! of mark k; a point of mark k at time t contributes log(lda_k + alpha_k beta_k s_k(t))
//! minus the compensator (integrated intensity) since the mark's previous point, and the
//! compensators up to max_time close the interval. `out_state` is s(max_time).
//!
//! The gradient covers lda, alpha and beta, as MXNet's does (state, lags, marks,
//! valid_length and max_time get none: MXNet's backward leaves the state gradient zero and
//! refuses the others). Unlike MXNet, beta's gradient also carries the head gradient of
//! `out_state` (which MXNet drops), so it is the derivative of both outputs.

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::ndarray::NDArray;
use crate::op::params::Params;
use crate::op::{expect_inputs, read_f64, write_f64};
use crate::op::{Desc, FnOp, Inputs, Operator, Registry, SimpleDef};
use crate::shape::Shape;
use std::sync::Arc;

const OP: &str = "_contrib_hawkesll";
const BWD: &str = "_backward_hawkesll";
const NAMES: [&str; 8] = [
    "lda",
    "alpha",
    "beta",
    "state",
    "lags",
    "marks",
    "valid_length",
    "max_time",
];

/// Checks the eight inputs; returns (N, T, K).
fn check(ins: &[Desc]) -> Result<(usize, usize, usize)> {
    expect_inputs(OP, ins, 8)?;
    let want_nd = [2, 1, 1, 2, 2, 2, 1, 1];
    for ((d, &nd), nm) in ins.iter().zip(&want_nd).zip(NAMES) {
        if d.shape.ndim() != nd {
            return Err(Error::shape(
                OP,
                format!("{nm} must be {nd}-D, got shape {}", d.shape),
            ));
        }
    }
    let (n, t) = (ins[4].shape[0], ins[4].shape[1]);
    let k = ins[0].shape[1];
    let want: [&[usize]; 8] = [&[n, k], &[k], &[k], &[n, k], &[n, t], &[n, t], &[n], &[n]];
    for ((d, w), nm) in ins.iter().zip(want).zip(NAMES) {
        if d.shape.dims() != w {
            let all: Vec<String> = ins
                .iter()
                .zip(NAMES)
                .map(|(d, nm)| format!("{nm} {}", d.shape))
                .collect();
            return Err(Error::shape(
                OP,
                format!(
                    "{nm} must have shape {} for N={n} samples, T={t} points and K={k} marks \
                     (lda (N, K), alpha and beta (K,), state (N, K), lags and marks (N, T), \
                     valid_length and max_time (N,)); got {}",
                    Shape::new(w.to_vec()),
                    all.join(", ")
                ),
            ));
        }
    }
    let dt = ins[0].dtype;
    if !dt.is_float() {
        return Err(Error::dtype(
            OP,
            format!("lda must be float16, float32 or float64, got {dt}"),
        ));
    }
    for (i, (d, nm)) in ins.iter().zip(NAMES).enumerate() {
        if i != 5 && d.dtype != dt {
            return Err(Error::dtype(
                OP,
                format!(
                    "{nm} has dtype {} but lda has {dt}; all inputs but marks share one dtype",
                    d.dtype
                ),
            ));
        }
    }
    if ins[5].dtype == DType::Bool {
        return Err(Error::dtype(
            OP,
            "marks must hold integer mark ids, got bool",
        ));
    }
    Ok((n, t, k))
}

/// Inputs as f64, with marks and valid lengths checked.
struct Data {
    n: usize,
    t: usize,
    k: usize,
    lda: Vec<f64>,
    alpha: Vec<f64>,
    beta: Vec<f64>,
    state: Vec<f64>,
    lags: Vec<f64>,
    marks: Vec<usize>,
    len: Vec<usize>,
    max_time: Vec<f64>,
}

impl Data {
    fn read(ins: &[NDArray]) -> Result<Data> {
        let dims = ins[4].shape().dims().to_vec();
        let (n, t, k) = (dims[0], dims[1], ins[0].shape()[1]);
        let marks = read_f64(&ins[5])
            .into_iter()
            .map(|m| {
                if m >= 0.0 && m.fract() == 0.0 && (m as usize) < k {
                    Ok(m as usize)
                } else {
                    Err(Error::Value(format!(
                        "operator {OP}: marks holds {m}, but marks must be integers in [0, K={k})"
                    )))
                }
            })
            .collect::<Result<_>>()?;
        // MXNet's loop runs while j < valid_length[i], so a fractional length rounds up.
        let len = read_f64(&ins[6])
            .into_iter()
            .map(|v| {
                if v >= 0.0 && v.ceil() <= t as f64 {
                    Ok(v.ceil() as usize)
                } else {
                    Err(Error::Value(format!(
                        "operator {OP}: valid_length holds {v}, but it must lie in [0, T={t}]"
                    )))
                }
            })
            .collect::<Result<_>>()?;
        Ok(Data {
            n,
            t,
            k,
            lda: read_f64(&ins[0]),
            alpha: read_f64(&ins[1]),
            beta: read_f64(&ins[2]),
            state: read_f64(&ins[3]),
            lags: read_f64(&ins[4]),
            marks,
            len,
            max_time: read_f64(&ins[7]),
        })
    }
}

/// Log likelihood (N,) and final states (N, K).
fn forward(d: &Data) -> (Vec<f64>, Vec<f64>) {
    let (t_len, k) = (d.t, d.k);
    let mut ll = vec![0.0; d.n];
    let mut states = d.state.clone();
    let mut last = vec![0.0; k];
    for i in 0..d.n {
        let mu = &d.lda[i * k..(i + 1) * k];
        let s = &mut states[i * k..(i + 1) * k];
        last.fill(0.0);
        let (mut acc, mut now) = (0.0, 0.0);
        for j in 0..d.len[i] {
            let c = d.marks[i * t_len + j];
            now += d.lags[i * t_len + j];
            let dt = now - last[c];
            let ed = (-d.beta[c] * dt).exp();
            let lda = mu[c] + d.alpha[c] * d.beta[c] * s[c] * ed;
            let comp = mu[c] * dt + d.alpha[c] * s[c] * (1.0 - ed);
            acc += lda.ln() - comp;
            s[c] = 1.0 + s[c] * ed;
            last[c] = now;
        }
        for c in 0..k {
            let dt = d.max_time[i] - last[c];
            let ed = (-d.beta[c] * dt).exp();
            acc -= mu[c] * dt + d.alpha[c] * s[c] * (1.0 - ed);
            s[c] *= ed;
        }
        ll[i] = acc;
    }
    (ll, states)
}

/// Gradients of lda (N, K), alpha (K,) and beta (K,) given head gradients of the log
/// likelihood (N,) and of the final states (N, K). `ds` tracks d s / d beta along the
/// sequence, as MXNet's backward does.
fn backward(d: &Data, g_ll: &[f64], g_state: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (t_len, k) = (d.t, d.k);
    let mut g_lda = vec![0.0; d.n * k];
    let (mut g_alpha, mut g_beta) = (vec![0.0; k], vec![0.0; k]);
    let (mut s, mut ds, mut last) = (vec![0.0; k], vec![0.0; k], vec![0.0; k]);
    let (mut gmu, mut ga, mut gb) = (vec![0.0; k], vec![0.0; k], vec![0.0; k]);
    for i in 0..d.n {
        let mu = &d.lda[i * k..(i + 1) * k];
        s.copy_from_slice(&d.state[i * k..(i + 1) * k]);
        for v in [&mut ds, &mut last, &mut gmu, &mut ga, &mut gb] {
            v.fill(0.0);
        }
        let mut now = 0.0;
        for j in 0..d.len[i] {
            let c = d.marks[i * t_len + j];
            now += d.lags[i * t_len + j];
            let dt = now - last[c];
            let (a, b) = (d.alpha[c], d.beta[c]);
            let ed = (-b * dt).exp();
            let lda = mu[c] + a * b * s[c] * ed;
            gmu[c] += 1.0 / lda - dt;
            ga[c] += b * s[c] * ed / lda - s[c] * (1.0 - ed);
            gb[c] += a * ed * (s[c] * (1.0 - b * dt) + b * ds[c]) / lda
                - a * (ds[c] * (1.0 - ed) + s[c] * dt * ed);
            ds[c] = ed * (ds[c] - dt * s[c]);
            s[c] = 1.0 + s[c] * ed;
            last[c] = now;
        }
        for c in 0..k {
            let dt = d.max_time[i] - last[c];
            let (a, b) = (d.alpha[c], d.beta[c]);
            let ed = (-b * dt).exp();
            gmu[c] -= dt;
            ga[c] -= s[c] * (1.0 - ed);
            gb[c] -= a * (ds[c] * (1.0 - ed) + s[c] * dt * ed);
            // out_state = ed * s, so d out_state / d beta = ed * (ds - dt * s).
            let d_out_state = ed * (ds[c] - dt * s[c]);
            g_lda[i * k + c] = g_ll[i] * gmu[c];
            g_alpha[c] += g_ll[i] * ga[c];
            g_beta[c] += g_ll[i] * gb[c] + g_state[i * k + c] * d_out_state;
        }
    }
    (g_lda, g_alpha, g_beta)
}

/// The backward node: (out_grad ll, out_grad states, the eight forward inputs) -> gradients
/// of lda, alpha, beta.
fn backward_op() -> Arc<dyn Operator> {
    let mut op = FnOp::new(
        BWD,
        |ins| {
            expect_inputs(BWD, ins, 10)?;
            let (n, _, k) = check(&ins[2..])?;
            let dt = ins[2].dtype;
            for (g, want) in [(&ins[0], vec![n]), (&ins[1], vec![n, k])] {
                if g.shape.dims() != want.as_slice() {
                    return Err(Error::shape(
                        BWD,
                        format!(
                            "output gradients must have shapes ({n},) and ({n}, {k}), got {} \
                             and {}",
                            ins[0].shape, ins[1].shape
                        ),
                    ));
                }
            }
            Ok(vec![
                Desc::new(vec![n, k], dt),
                Desc::new(vec![k], dt),
                Desc::new(vec![k], dt),
            ])
        },
        |_, ins, outs| {
            let d = Data::read(&ins[2..])?;
            let (g_lda, g_alpha, g_beta) = backward(&d, &read_f64(&ins[0]), &read_f64(&ins[1]));
            write_f64(&outs[0], &g_lda);
            write_f64(&outs[1], &g_alpha);
            write_f64(&outs[2], &g_beta);
            Ok(())
        },
    );
    op.num_outputs = 3;
    op.arc()
}

fn create(_: &Params) -> Result<Arc<dyn Operator>> {
    let mut op = FnOp::new(
        OP,
        |ins| {
            let (n, _, k) = check(ins)?;
            let dt = ins[0].dtype;
            Ok(vec![Desc::new(vec![n], dt), Desc::new(vec![n, k], dt)])
        },
        |_, ins, outs| {
            let d = Data::read(ins)?;
            let (ll, states) = forward(&d);
            write_f64(&outs[0], &ll);
            write_f64(&outs[1], &states);
            Ok(())
        },
    )
    .with_type_partial(|ins, outs| {
        // marks has its own (integer) dtype; the rest share lda's.
        let marks = ins[5].take();
        crate::op::unify_types(OP, ins, outs)?;
        ins[5] = marks.or(Some(DType::I32));
        Ok(())
    })
    .with_grad(|g, a| {
        let mut ins = vec![a.out_grads[0].clone(), a.out_grads[1].clone()];
        ins.extend(a.inputs.iter().cloned());
        let mut gs = g.apply(backward_op(), &ins).into_iter();
        let mut out: Vec<Option<_>> = vec![gs.next(), gs.next(), gs.next()];
        out.resize(8, None);
        Ok(out)
    });
    op.num_outputs = 2;
    op.output_names = Some(vec!["output".into(), "out_state".into()]);
    Ok(op.arc())
}

pub(super) fn register(r: &mut Registry) {
    r.add(SimpleDef {
        name: OP,
        doc: "Computes the log likelihood of a marked self-exciting Hawkes process (one exponential kernel per mark).\n\nThe conditional intensity of mark k is\n\n    lambda_k*(t) = lda_k + alpha_k * sum_{t_i < t, y_i = k} beta_k * exp(-beta_k (t - t_i))\n\nwith background intensity `lda` (N, K), branching ratio `alpha` (K,) and decay `beta` (K,). Observations are left-aligned ragged (N, T) matrices: `lags` (interarrival times w.r.t. the previous point) and `marks` (mark ids in [0, K)), of which the first `valid_length[i]` entries of row i are used; `max_time` (N,) ends each observation interval (0, max_time[i]]. `state` (N, K) is the memory s_k(0) = sum_{t_i < 0} exp(-beta_k (0 - t_i)) carried over from earlier batches. Returns the log likelihood (N,) and the memory at max_time (N, K).\n\nGradients flow to lda, alpha and beta.".to_string(),
        params: vec![],
        inputs: Inputs::Fixed(&NAMES),
        create: Box::new(create),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Context;
    use crate::op::call_str;

    /// MXNet 1.9.1 (CPU, float64) on seeded inputs; see tests/python/test_fft_hawkes.py.
    #[test]
    fn matches_mxnet_values() {
        let a = |shape: &[usize], v: &[f64]| {
            NDArray::from_vec(Shape::new(shape.to_vec()), v, Context::cpu(0)).unwrap()
        };
        let lda = a(
            &[3, 2],
            &[
                0.6144624340609357,
                1.6698781883601719,
                1.1576138471613402,
                1.5851977667464119,
                1.9669842679949041,
                1.3077438056156505,
            ],
        );
        let alpha = a(&[2], &[0.350560231829969, 0.13602556667988078]);
        let beta = a(&[2], &[0.9026584701528068, 1.2498237512383399]);
        let state = a(
            &[3, 2],
            &[
                0.6792299961209405,
                0.8037390361043755,
                0.3809411331485384,
                0.06593634690590511,
                0.28814559930799355,
                0.9095935277196137,
            ],
        );
        let lags = a(
            &[3, 5],
            &[
                0.29204681822192397,
                0.5069115656359148,
                0.9380854177201196,
                0.12240930479531321,
                0.6404940257177103,
                0.955116550372281,
                0.30727259111886834,
                0.5936409273124273,
                0.9182155373980582,
                0.21985250118332517,
                0.5710713226063893,
                0.7753688731918313,
                0.7021119167955224,
                0.5209775737704827,
                0.28436418126801555,
            ],
        );
        let marks = a(
            &[3, 5],
            &[1., 0., 0., 0., 1., 1., 0., 1., 1., 0., 1., 1., 1., 0., 1.],
        );
        let vl = a(&[3], &[5., 3., 0.]);
        let mt = a(
            &[3],
            &[2.9999471320909814, 3.4940981073849597, 3.353893867632242],
        );
        let out = call_str(OP, &[lda, alpha, beta, state, lags, marks, vl, mt], &[]).unwrap();
        let ll = out[0].to_vec::<f64>().unwrap();
        let st = out[1].to_vec::<f64>().unwrap();
        let want_ll = [-7.553748329144996, -9.135386565068561, -11.201066992048325];
        let want_st = [
            0.8594515012630886,
            0.588120016840303,
            0.14965029037701694,
            0.1717861954959968,
            0.01395789252967296,
            0.01375251250529573,
        ];
        // MXNet evaluates exp/log in float32.
        for (g, w) in ll.iter().zip(&want_ll).chain(st.iter().zip(&want_st)) {
            assert!((g - w).abs() < 1e-6 * w.abs().max(1.0), "{g} vs {w}");
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        let z = |shape: &[usize]| Desc::new(shape.to_vec(), DType::F32);
        let good = [
            z(&[2, 3]),
            z(&[3]),
            z(&[3]),
            z(&[2, 3]),
            z(&[2, 4]),
            Desc::new(vec![2, 4], DType::I32),
            z(&[2]),
            z(&[2]),
        ];
        assert!(check(&good).is_ok());
        let mut bad = good.clone();
        bad[1] = z(&[2]);
        let e = check(&bad).unwrap_err().to_string();
        assert!(
            e.contains("alpha must have shape [3]") && e.contains(OP),
            "{e}"
        );
        let mut bad = good.clone();
        bad[4] = z(&[2, 4, 1]);
        assert!(check(&bad)
            .unwrap_err()
            .to_string()
            .contains("lags must be 2-D"));
        let mut bad = good.clone();
        bad[7] = Desc::new(vec![2], DType::F64);
        assert!(check(&bad)
            .unwrap_err()
            .to_string()
            .contains("max_time has dtype float64"));
        assert!(check(&good[..7]).is_err());
    }
}
