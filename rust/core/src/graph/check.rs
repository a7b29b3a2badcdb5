//! Numeric gradient checking: an op's gradient graph against central finite differences. Used
//! by the op tests and the registry-wide gradient test (tests/gradients.rs).

use super::eval::evaluate;
use super::gradient::gradient;
use super::node::{Entry, Node};
use crate::autograd;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::ndarray::NDArray;
use crate::op::{registry, Operator};
use crate::shape::Shape;
use std::sync::Arc;

/// Options of `check_grad`.
#[derive(Debug, Clone, Copy)]
pub struct CheckOpts {
    pub eps: f64,
    pub rtol: f64,
    pub atol: f64,
    /// Run forward and gradient in training mode (BatchNorm batch statistics...).
    pub is_train: bool,
}

impl Default for CheckOpts {
    fn default() -> Self {
        CheckOpts {
            eps: 1e-4,
            rtol: 1e-2,
            atol: 1e-4,
            is_train: false,
        }
    }
}

fn to_f64(a: &NDArray) -> Result<Vec<f64>> {
    let c = crate::op::call_str("Cast", std::slice::from_ref(a), &[("dtype", "float64")])?;
    c[0].to_vec::<f64>()
}

fn from_f64(v: &[f64], like: &NDArray) -> Result<NDArray> {
    let a = NDArray::from_vec(like.shape().clone(), v, like.ctx())?;
    if like.dtype() == DType::F64 {
        return Ok(a);
    }
    let c = crate::op::call_str("Cast", &[a], &[("dtype", &like.dtype().to_string())])?;
    Ok(c[0].clone())
}

/// Deterministic pseudo-random head gradients in [-1, 1).
fn weights(n: usize, salt: usize) -> Vec<f64> {
    let mut s = 0x9E37_79B9_7F4A_7C15u64 ^ (salt as u64).wrapping_mul(0x2545_F491_4F6C_DD1D);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect()
}

/// Restores the training flag on drop.
struct TrainScope(bool);
impl Drop for TrainScope {
    fn drop(&mut self) {
        autograd::set_training(self.0);
    }
}

/// Checks the gradient of registered op `name` (configured by `attrs`) at `inputs` with
/// respect to the inputs listed in `wrt`, on the loss `sum_k <out_k, w_k>` over the visible
/// outputs with fixed pseudo-random weights `w_k`. Returns a description of the first
/// mismatch as an error.
pub fn check_grad(
    name: &str,
    attrs: &[(&str, &str)],
    inputs: &[NDArray],
    wrt: &[usize],
    opts: CheckOpts,
) -> Result<()> {
    let _scope = TrainScope(autograd::set_training(opts.is_train));
    let attrs: Vec<(String, String)> = attrs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let op: Arc<dyn Operator> = registry().get(name)?.create(&attrs)?;
    let visible = op.num_visible_outputs();
    let loss = |ins: &[NDArray], ws: &[Vec<f64>]| -> Result<f64> {
        let outs = crate::op::invoke(&op, ins, None, None)?;
        let mut total = 0.0;
        for (o, w) in outs.iter().take(visible).zip(ws) {
            total += to_f64(o)?.iter().zip(w).map(|(a, b)| a * b).sum::<f64>();
        }
        Ok(total)
    };
    // Analytic: leaves -> op node -> gradient graph with head gradients w_k.
    let leaves: Vec<Arc<Node>> = inputs.iter().map(|a| Node::leaf(a.clone(), None)).collect();
    let entries: Vec<Entry> = leaves.iter().map(|l| l.entry(0)).collect();
    let fwd = crate::op::invoke(&op, inputs, None, None)?;
    let node = Node::from_op(
        op.clone(),
        name,
        attrs.clone(),
        entries.clone(),
        Some(fwd.clone()),
    );
    let mut ws = Vec::new();
    let mut head_grads = Vec::new();
    for (k, o) in fwd.iter().take(visible).enumerate() {
        let w = weights(o.size(), k);
        let wa = from_f64(&w, o)?;
        head_grads.push(Some(Node::leaf(wa, None).entry(0)));
        ws.push(w);
    }
    let heads: Vec<Entry> = (0..visible).map(|k| node.entry(k)).collect();
    let head_grads = if op.is_loss() {
        vec![None; visible]
    } else {
        head_grads
    };
    let wrt_entries: Vec<Entry> = wrt.iter().map(|&i| entries[i].clone()).collect();
    let grads = gradient(&heads, &head_grads, &wrt_entries)?;
    for (gi, &i) in wrt.iter().enumerate() {
        let analytic = match &grads[gi] {
            Some(g) => to_f64(&evaluate(std::slice::from_ref(g), opts.is_train)?[0])?,
            None => vec![0.0; inputs[i].size()],
        };
        if analytic.len() != inputs[i].size() {
            return Err(Error::Internal(format!(
                "{name}: gradient of input {i} has {} elements, the input {}",
                analytic.len(),
                inputs[i].size()
            )));
        }
        let base = to_f64(&inputs[i])?;
        for j in 0..base.len() {
            let mut plus = base.clone();
            plus[j] += opts.eps;
            let mut minus = base.clone();
            minus[j] -= opts.eps;
            let mut ins = inputs.to_vec();
            ins[i] = from_f64(&plus, &inputs[i])?;
            let lp = loss(&ins, &ws)?;
            ins[i] = from_f64(&minus, &inputs[i])?;
            let lm = loss(&ins, &ws)?;
            let numeric = (lp - lm) / (2.0 * opts.eps);
            let a = analytic[j];
            if (a - numeric).abs() > opts.atol + opts.rtol * numeric.abs().max(a.abs()) {
                return Err(Error::Value(format!(
                    "{name} {attrs:?}: gradient of input {i} ({}) at element {j}: analytic {a}, \
                     numeric {numeric}",
                    Shape::clone(inputs[i].shape())
                )));
            }
        }
    }
    Ok(())
}
