//! Registry-wide gradient check: every registered op either has rows here, checked against
//! central finite differences in float64, or is listed as non-differentiable / not yet done
//! with a reason. A newly registered op in neither place fails `every_op_is_covered`.
//!
//! Each row differentiates `L = sum_k <out_k, h_k>` (random head gradients `h_k` on the visible
//! outputs) through the op's gradient graph and compares with `(L(x+e) - L(x-e)) / 2e`.
//! Run one op: `OXNET_GRAD_OPS=FullyConnected,Convolution cargo test --release --test gradients`.

use oxnet::graph::{gradient, topo_order, Entry, Node};
use oxnet::op::{invoke_mode, registry, Operator};
use oxnet::{Context, NDArray, Result, Shape};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// One input of a row.
#[derive(Clone)]
enum In {
    /// Uniform random in [lo, hi).
    U(Vec<usize>, f64, f64),
    /// Fixed values (indices, labels, conditions...).
    V(Vec<usize>, Vec<f64>),
    /// Distinct values in [lo, hi) in random order (sort/topk/max must see no ties within the
    /// finite-difference step).
    Distinct(Vec<usize>, f64, f64),
}

struct Row {
    op: &'static str,
    attrs: Vec<(&'static str, &'static str)>,
    ins: Vec<In>,
    /// Inputs to check; default: every random input.
    wrt: Option<Vec<usize>>,
    train: bool,
    rtol: f64,
    atol: f64,
}

fn u(shape: &[usize], lo: f64, hi: f64) -> In {
    In::U(shape.to_vec(), lo, hi)
}
fn v(shape: &[usize], data: &[f64]) -> In {
    In::V(shape.to_vec(), data.to_vec())
}
fn distinct(shape: &[usize]) -> In {
    In::Distinct(shape.to_vec(), -2.0, 2.0)
}
/// Standard random input in [-1, 1).
fn n(shape: &[usize]) -> In {
    u(shape, -1.0, 1.0)
}
/// Positive input in [0.5, 2).
fn pos(shape: &[usize]) -> In {
    u(shape, 0.5, 2.0)
}

fn row(op: &'static str, attrs: &[(&'static str, &'static str)], ins: Vec<In>) -> Row {
    Row {
        op,
        attrs: attrs.to_vec(),
        ins,
        wrt: None,
        train: false,
        rtol: 1e-5,
        atol: 1e-7,
    }
}

impl Row {
    fn wrt(mut self, w: &[usize]) -> Row {
        self.wrt = Some(w.to_vec());
        self
    }
    /// Forward in training mode (`is_train`).
    #[allow(dead_code)]
    fn train(mut self) -> Row {
        self.train = true;
        self
    }
    #[allow(dead_code)]
    fn tol(mut self, rtol: f64, atol: f64) -> Row {
        self.rtol = rtol;
        self.atol = atol;
        self
    }
}

/// Ops whose gradient is checked by the rows below; one op may have several rows.
fn rows() -> Vec<Row> {
    let s23 = [2usize, 3];
    let s234 = [2usize, 3, 4];
    let mut r = vec![
        // elementwise binary
        row("elemwise_add", &[], vec![n(&s23), n(&s23)]),
    ];
    // nn: fully connected / convolution / pooling (helper B)

    // nn: activations / norms / losses (helper C)
    let bn = |c: usize, shape: &[usize]| {
        vec![n(shape), pos(&[c]), n(&[c]), n(&[c]), pos(&[c])]
    };
    for a in ["sigmoid", "tanh", "softrelu", "softsign"] {
        r.push(row("Activation", &[("act_type", a)], vec![n(&s234)]));
    }
    // relu away from its kink.
    r.push(row("Activation", &[("act_type", "relu")], vec![u(&s23, 0.1, 1.0)]));
    r.push(row("Activation", &[("act_type", "relu")], vec![u(&s23, -1.0, -0.1)]));
    for a in ["leaky", "elu", "selu", "gelu", "rrelu"] {
        r.push(row("LeakyReLU", &[("act_type", a), ("slope", "0.3")], vec![n(&s234)]));
    }
    r.push(row("LeakyReLU", &[("act_type", "prelu")], vec![n(&s234), pos(&[3])]));
    r.push(row("LeakyReLU", &[("act_type", "prelu")], vec![n(&s234), pos(&[1])]));
    r.push(row("SoftmaxActivation", &[], vec![n(&s234)]));
    r.push(row("SoftmaxActivation", &[("mode", "channel")], vec![n(&s234)]));
    for fix in ["True", "False"] {
        r.push(row("BatchNorm", &[("fix_gamma", fix)], bn(3, &s234)).wrt(&[0, 1, 2]).train().tol(1e-4, 1e-6));
        r.push(row("BatchNorm", &[("fix_gamma", fix)], bn(3, &s234)).wrt(&[0, 1, 2]));
        r.push(row("BatchNorm", &[("fix_gamma", fix), ("axis", "-1")], bn(4, &s234)).wrt(&[0, 1, 2]).train().tol(1e-4, 1e-6));
        r.push(row("BatchNorm", &[("fix_gamma", fix), ("use_global_stats", "True")], bn(3, &s234)).wrt(&[0, 1, 2]).train());
    }
    r.push(row("LayerNorm", &[], vec![n(&s234), pos(&[4]), n(&[4])]).tol(1e-4, 1e-6));
    r.push(row("LayerNorm", &[("axis", "1")], vec![n(&s234), pos(&[3]), n(&[3])]).tol(1e-4, 1e-6));
    r.push(row("InstanceNorm", &[], vec![n(&[2, 3, 2, 2]), pos(&[3]), n(&[3])]).tol(1e-4, 1e-6));
    // Dropout in prediction mode (training draws a new mask per call).
    r.push(row("Dropout", &[], vec![n(&s23)]));
    r.push(row("Embedding", &[("input_dim", "4"), ("output_dim", "3"), ("dtype", "float64")], vec![v(&[5], &[0.0, 3.0, 1.0, 3.0, 2.0]), n(&[4, 3])]));
    r.push(row("softmax_cross_entropy", &[], vec![n(&s234[1..]), v(&[3], &[0.0, 3.0, 1.0])]));
    r.push(row("smooth_l1", &[("scalar", "1.5")], vec![u(&[2, 5], 0.5, 2.0)]));
    r.push(row("smooth_l1", &[("scalar", "1.5")], vec![u(&[2, 5], -0.4, 0.4)]));

    let _ = (&mut r, s234);
    r
}

/// Ops with no gradient by design (MXNet registers none, or a zero one that carries no
/// information worth a numeric check), with the reason.
const NON_DIFFERENTIABLE: &[(&str, &str)] = &[
    ("_zeros", "no inputs"),
    ("_ones", "no inputs"),
    ("_empty", "no inputs"),
    ("_full", "no inputs"),
    ("_arange", "no inputs"),
    ("_eye", "no inputs"),
    ("_random_uniform", "no inputs (parameters are attributes)"),
    ("_random_normal", "no inputs (parameters are attributes)"),
    ("_random_randint", "no inputs (parameters are attributes)"),
    (
        "argmax",
        "integer-valued index output (MXNet registers no gradient)",
    ),
    (
        "argmin",
        "integer-valued index output (MXNet registers no gradient)",
    ),
    (
        "argmax_channel",
        "integer-valued index output (MXNet registers no gradient)",
    ),
    ("argsort", "integer-valued index output"),
    ("one_hot", "output depends on indices only"),
    (
        "sgd_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "sgd_mom_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "nag_mom_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "mp_sgd_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "mp_sgd_mom_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "mp_nag_mom_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "adam_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "rmsprop_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "rmspropalex_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "signsgd_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "signum_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    (
        "ftrl_update",
        "optimizer update: updates its inputs in place, never differentiated",
    ),
    // nn: fully connected / convolution / pooling (helper B)

    // nn: activations / norms / losses (helper C)
    (
        "SoftmaxOutput",
        "loss head: its gradient is the loss's, not the output's (checked against MXNet's numbers in op/nn/loss.rs)",
    ),
    (
        "LinearRegressionOutput",
        "loss head: its gradient is the loss's, not the output's (checked against MXNet's numbers in op/nn/loss.rs)",
    ),
    (
        "LogisticRegressionOutput",
        "loss head: its gradient is the loss's, not the output's (checked against MXNet's numbers in op/nn/loss.rs)",
    ),
    (
        "MAERegressionOutput",
        "loss head: its gradient is the loss's, not the output's (checked against MXNet's numbers in op/nn/loss.rs)",
    ),
    (
        "MakeLoss",
        "loss head: its gradient is the loss's, not the output's (checked against MXNet's numbers in op/nn/loss.rs)",
    ),
    (
        "make_loss",
        "loss head: its gradient is the loss's, not the output's (checked against MXNet's numbers in op/nn/loss.rs)",
    ),
];

/// Ops whose gradient is not implemented yet, with who owns it.
const NOT_YET: &[(&str, &str)] = &[
    ("broadcast_add", "helper D: in progress"),
    ("elemwise_sub", "helper D: in progress"),
    ("broadcast_sub", "helper D: in progress"),
    ("elemwise_mul", "helper D: in progress"),
    ("broadcast_mul", "helper D: in progress"),
    ("elemwise_div", "helper D: in progress"),
    ("broadcast_div", "helper D: in progress"),
    ("_mod", "helper D: in progress"),
    ("broadcast_mod", "helper D: in progress"),
    ("_power", "helper D: in progress"),
    ("broadcast_power", "helper D: in progress"),
    ("_maximum", "helper D: in progress"),
    ("broadcast_maximum", "helper D: in progress"),
    ("_minimum", "helper D: in progress"),
    ("broadcast_minimum", "helper D: in progress"),
    ("_hypot", "helper D: in progress"),
    ("broadcast_hypot", "helper D: in progress"),
    ("_equal", "helper D: in progress"),
    ("broadcast_equal", "helper D: in progress"),
    ("_not_equal", "helper D: in progress"),
    ("broadcast_not_equal", "helper D: in progress"),
    ("_greater", "helper D: in progress"),
    ("broadcast_greater", "helper D: in progress"),
    ("_greater_equal", "helper D: in progress"),
    ("broadcast_greater_equal", "helper D: in progress"),
    ("_lesser", "helper D: in progress"),
    ("broadcast_lesser", "helper D: in progress"),
    ("_lesser_equal", "helper D: in progress"),
    ("broadcast_lesser_equal", "helper D: in progress"),
    ("_logical_and", "helper D: in progress"),
    ("broadcast_logical_and", "helper D: in progress"),
    ("_logical_or", "helper D: in progress"),
    ("broadcast_logical_or", "helper D: in progress"),
    ("_logical_xor", "helper D: in progress"),
    ("broadcast_logical_xor", "helper D: in progress"),
    ("_plus_scalar", "helper D: in progress"),
    ("_minus_scalar", "helper D: in progress"),
    ("_rminus_scalar", "helper D: in progress"),
    ("_mul_scalar", "helper D: in progress"),
    ("_div_scalar", "helper D: in progress"),
    ("_rdiv_scalar", "helper D: in progress"),
    ("_mod_scalar", "helper D: in progress"),
    ("_rmod_scalar", "helper D: in progress"),
    ("_power_scalar", "helper D: in progress"),
    ("_rpower_scalar", "helper D: in progress"),
    ("_maximum_scalar", "helper D: in progress"),
    ("_minimum_scalar", "helper D: in progress"),
    ("_hypot_scalar", "helper D: in progress"),
    ("_equal_scalar", "helper D: in progress"),
    ("_not_equal_scalar", "helper D: in progress"),
    ("_greater_scalar", "helper D: in progress"),
    ("_greater_equal_scalar", "helper D: in progress"),
    ("_lesser_scalar", "helper D: in progress"),
    ("_lesser_equal_scalar", "helper D: in progress"),
    ("_logical_and_scalar", "helper D: in progress"),
    ("_logical_or_scalar", "helper D: in progress"),
    ("_logical_xor_scalar", "helper D: in progress"),
    ("abs", "helper D: in progress"),
    ("sign", "helper D: in progress"),
    ("negative", "helper D: in progress"),
    ("reciprocal", "helper D: in progress"),
    ("square", "helper D: in progress"),
    ("sqrt", "helper D: in progress"),
    ("rsqrt", "helper D: in progress"),
    ("cbrt", "helper D: in progress"),
    ("rcbrt", "helper D: in progress"),
    ("exp", "helper D: in progress"),
    ("expm1", "helper D: in progress"),
    ("log", "helper D: in progress"),
    ("log2", "helper D: in progress"),
    ("log10", "helper D: in progress"),
    ("log1p", "helper D: in progress"),
    ("sin", "helper D: in progress"),
    ("cos", "helper D: in progress"),
    ("tan", "helper D: in progress"),
    ("arcsin", "helper D: in progress"),
    ("arccos", "helper D: in progress"),
    ("arctan", "helper D: in progress"),
    ("sinh", "helper D: in progress"),
    ("cosh", "helper D: in progress"),
    ("tanh", "helper D: in progress"),
    ("arcsinh", "helper D: in progress"),
    ("arccosh", "helper D: in progress"),
    ("arctanh", "helper D: in progress"),
    ("degrees", "helper D: in progress"),
    ("radians", "helper D: in progress"),
    ("sigmoid", "helper D: in progress"),
    ("relu", "helper D: in progress"),
    ("softsign", "helper D: in progress"),
    ("floor", "helper D: in progress"),
    ("ceil", "helper D: in progress"),
    ("round", "helper D: in progress"),
    ("rint", "helper D: in progress"),
    ("trunc", "helper D: in progress"),
    ("fix", "helper D: in progress"),
    ("logical_not", "helper D: in progress"),
    ("_copy", "helper D: in progress"),
    ("BlockGrad", "helper D: in progress"),
    ("Cast", "helper D: in progress"),
    ("clip", "helper D: in progress"),
    ("zeros_like", "helper D: in progress"),
    ("ones_like", "helper D: in progress"),
    ("sum", "helper D: in progress"),
    ("mean", "helper D: in progress"),
    ("prod", "helper D: in progress"),
    ("max", "helper D: in progress"),
    ("min", "helper D: in progress"),
    ("nansum", "helper D: in progress"),
    ("nanprod", "helper D: in progress"),
    ("norm", "helper D: in progress"),
    ("dot", "helper D: in progress"),
    ("batch_dot", "helper D: in progress"),
    ("Reshape", "helper D: in progress"),
    ("Flatten", "helper D: in progress"),
    ("expand_dims", "helper D: in progress"),
    ("squeeze", "helper D: in progress"),
    ("broadcast_to", "helper D: in progress"),
    ("broadcast_axis", "helper D: in progress"),
    ("broadcast_like", "helper D: in progress"),
    ("tile", "helper D: in progress"),
    ("repeat", "helper D: in progress"),
    ("Concat", "helper D: in progress"),
    ("stack", "helper D: in progress"),
    ("SliceChannel", "helper D: in progress"),
    ("transpose", "helper D: in progress"),
    ("SwapAxis", "helper D: in progress"),
    ("flip", "helper D: in progress"),
    ("diag", "helper D: in progress"),
    ("slice", "helper D: in progress"),
    ("slice_axis", "helper D: in progress"),
    ("_slice_assign", "helper D: in progress"),
    ("_slice_assign_scalar", "helper D: in progress"),
    ("take", "helper D: in progress"),
    ("pick", "helper D: in progress"),
    ("where", "helper D: in progress"),
    ("softmax", "helper D: in progress"),
    ("log_softmax", "helper D: in progress"),
    ("sort", "helper D: in progress"),
    ("topk", "helper D: in progress"),
    // nn: fully connected / convolution / pooling (helper B)

    // nn: activations / norms / losses (helper C)
];

/// xorshift: reproducible inputs without extra crates.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next()
    }
}

fn arr(shape: &[usize], data: &[f64]) -> NDArray {
    NDArray::from_vec(Shape::new(shape.to_vec()), data, Context::cpu(0)).expect("array")
}

fn values(rng: &mut Rng, ins: &[In]) -> Vec<(Vec<usize>, Vec<f64>)> {
    ins.iter()
        .map(|i| match i {
            In::U(s, lo, hi) => {
                let n: usize = s.iter().product();
                (s.clone(), (0..n).map(|_| rng.uniform(*lo, *hi)).collect())
            }
            In::V(s, d) => (s.clone(), d.clone()),
            In::Distinct(s, lo, hi) => {
                // A shuffled even grid plus small jitter: distinct, gaps ~ (hi-lo)/n.
                let n: usize = s.iter().product();
                let step = (hi - lo) / n.max(1) as f64;
                let mut d: Vec<f64> = (0..n)
                    .map(|k| lo + step * (k as f64 + 0.25 + 0.5 * rng.next()))
                    .collect();
                for k in (1..n).rev() {
                    let j = (rng.next() * (k + 1) as f64) as usize;
                    d.swap(k, j.min(k));
                }
                (s.clone(), d)
            }
        })
        .collect()
}

/// Evaluates `heads` with variables bound by node identity.
fn eval(heads: &[Entry], bind: &HashMap<usize, NDArray>, train: bool) -> Result<Vec<NDArray>> {
    let mut vals: HashMap<(usize, usize), NDArray> = HashMap::new();
    for n in topo_order(heads) {
        let key = Arc::as_ptr(&n) as usize;
        match &n.op {
            None => {
                let a = bind.get(&key).cloned().ok_or_else(|| {
                    oxnet::Error::Value(format!("variable {} is not bound", n.name))
                })?;
                vals.insert((key, 0), a);
            }
            Some(op) => {
                let ins: Vec<NDArray> = n.inputs.iter().map(|e| vals[&e.key()].clone()).collect();
                let outs = invoke_mode(op, &ins, None, None, train)?;
                for (i, o) in outs.into_iter().enumerate() {
                    vals.insert((key, i), o);
                }
            }
        }
    }
    Ok(heads.iter().map(|h| vals[&h.key()].clone()).collect())
}

fn host(a: &NDArray) -> Result<Vec<f64>> {
    a.to_vec::<f64>()
}

/// Runs one row: returns a description of the first mismatch or error.
fn check_row(r: &Row, seed: u64) -> std::result::Result<(), String> {
    let fail = |e: oxnet::Error| format!("{e}");
    let mut rng = Rng(seed | 1);
    let data = values(&mut rng, &r.ins);
    let attrs: Vec<(String, String)> = r
        .attrs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let vars: Vec<Arc<Node>> = (0..data.len())
        .map(|i| Node::variable(format!("x{i}"), Vec::new()))
        .collect();
    let node = Node::from_registry(r.op, "op", attrs, vars.iter().map(|v| v.entry(0)).collect())
        .map_err(fail)?;
    let op: Arc<dyn Operator> = node.op.clone().ok_or("no op")?;
    let nvis = node.num_visible_outputs();
    let inputs: Vec<NDArray> = data.iter().map(|(s, d)| arr(s, d)).collect();
    let forward = |ins: &[NDArray]| -> std::result::Result<Vec<Vec<f64>>, String> {
        let o = invoke_mode(&op, ins, None, None, r.train).map_err(fail)?;
        o[..nvis].iter().map(|a| host(a).map_err(fail)).collect()
    };
    let out0 = forward(&inputs)?;
    let heads: Vec<Entry> = (0..nvis).map(|i| node.entry(i)).collect();
    let out_shapes: Vec<Shape> = {
        let o = invoke_mode(&op, &inputs, None, None, r.train).map_err(fail)?;
        o[..nvis].iter().map(|a| a.shape().clone()).collect()
    };
    let hg: Vec<Vec<f64>> = out0
        .iter()
        .map(|o| o.iter().map(|_| rng.uniform(-1.0, 1.0)).collect())
        .collect();
    let hg_vars: Vec<Arc<Node>> = (0..nvis)
        .map(|i| Node::variable(format!("head_grad{i}"), Vec::new()))
        .collect();
    let wrt: Vec<usize> = r.wrt.clone().unwrap_or_else(|| {
        (0..r.ins.len())
            .filter(|&i| !matches!(r.ins[i], In::V(..)))
            .collect()
    });
    let wrt_entries: Vec<Entry> = wrt.iter().map(|&i| vars[i].entry(0)).collect();
    let head_grads: Vec<Option<Entry>> = if op.is_loss() {
        vec![None; nvis]
    } else {
        hg_vars.iter().map(|v| Some(v.entry(0))).collect()
    };
    let grads = gradient(&heads, &head_grads, &wrt_entries).map_err(fail)?;
    let mut bind: HashMap<usize, NDArray> = HashMap::new();
    for (v, a) in vars.iter().zip(&inputs) {
        bind.insert(Arc::as_ptr(v) as usize, a.clone());
    }
    for ((v, h), s) in hg_vars.iter().zip(&hg).zip(&out_shapes) {
        bind.insert(Arc::as_ptr(v) as usize, arr(s.dims(), h));
    }
    let present: Vec<Entry> = grads.iter().flatten().cloned().collect();
    let mut got_vals = eval(&present, &bind, r.train).map_err(fail)?.into_iter();
    let objective = |outs: &[Vec<f64>]| -> f64 {
        outs.iter()
            .zip(&hg)
            .map(|(o, h)| o.iter().zip(h).map(|(a, b)| a * b).sum::<f64>())
            .sum()
    };
    for (wi, &i) in wrt.iter().enumerate() {
        let (shape, base) = &data[i];
        let got: Vec<f64> = match &grads[wi] {
            Some(_) => {
                let a = got_vals.next().ok_or("missing gradient value")?;
                if a.shape().dims() != &shape[..] {
                    return Err(format!(
                        "input {i}: gradient shape {} != input shape {:?}",
                        a.shape(),
                        shape
                    ));
                }
                host(&a).map_err(fail)?
            }
            None => vec![0.0; base.len()],
        };
        let eps = 1e-6;
        for j in 0..base.len() {
            let mut at = |delta: f64| -> std::result::Result<f64, String> {
                let mut d = base.clone();
                d[j] += delta;
                let mut ins = inputs.clone();
                ins[i] = arr(shape, &d);
                Ok(objective(&forward(&ins)?))
            };
            let num = (at(eps)? - at(-eps)?) / (2.0 * eps);
            if (num - got[j]).abs() > r.atol + r.rtol * num.abs().max(got[j].abs()) {
                return Err(format!(
                    "input {i} element {j}: gradient {} but finite difference {num}",
                    got[j]
                ));
            }
        }
    }
    Ok(())
}

fn selected() -> Option<HashSet<String>> {
    std::env::var("OXNET_GRAD_OPS")
        .ok()
        .map(|s| s.split(',').map(|x| x.trim().to_string()).collect())
}

/// Canonical name of an op or alias.
fn canonical(name: &str) -> String {
    registry()
        .aliases()
        .iter()
        .find(|(a, _)| *a == name)
        .map_or(name, |(_, t)| t)
        .to_string()
}

#[test]
fn gradients_match_finite_differences() {
    let sel = selected();
    let mut failures = Vec::new();
    let mut count = 0;
    for (k, r) in rows().iter().enumerate() {
        if let Some(s) = &sel {
            if !s.contains(r.op) && !s.contains(&canonical(r.op)) {
                continue;
            }
        }
        count += 1;
        if let Err(e) = check_row(r, 0x9E37_79B9_7F4A_7C15 ^ (k as u64 * 7919)) {
            failures.push(format!("{} {:?}: {e}", r.op, r.attrs));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} gradient rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_op_is_covered() {
    let mut covered: HashMap<String, &str> = HashMap::new();
    for r in rows() {
        covered.insert(canonical(r.op), "row");
    }
    for (name, _) in NON_DIFFERENTIABLE.iter().chain(NOT_YET) {
        assert!(
            registry().get(name).is_ok(),
            "{name} is listed but not registered"
        );
        let c = canonical(name);
        assert!(
            covered.insert(c, "list").is_none(),
            "{name} is both listed and checked, or listed twice"
        );
    }
    let missing: Vec<&str> = registry()
        .defs()
        .iter()
        .map(|d| d.name())
        .filter(|n| !covered.contains_key(*n))
        .collect();
    assert!(
        missing.is_empty(),
        "ops with neither a gradient row nor a NON_DIFFERENTIABLE/NOT_YET entry: {missing:?}"
    );
}
