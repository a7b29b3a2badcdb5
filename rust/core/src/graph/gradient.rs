//! Reverse-mode differentiation over graphs: each op's gradient rule adds nodes built from
//! registered ops, so one rule serves `Executor.backward`, `mx.autograd` and (by
//! differentiating the gradient graph again) higher orders.

use super::node::{topo_order, Entry, Node};
use super::place::CTX_GROUP;
use crate::error::{Error, Result};
use crate::op::{GradArgs, Operator};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// MXNet's message for a backward from a non-loss head without a head gradient.
pub const HEAD_GRAD_REQUIRED: &str = "Check failed: i < head_grads.size() && \
    !head_grads[i].is_none(): Because the last operator is not Loss function, head_gradient is \
    required when calling backward. If you are attempting to minimize the output as an \
    objective, please modify your network and pass it through the make_loss symbol.";

/// Builds gradient nodes; gradient rules call it to apply ops to entries.
pub struct GradBuilder {
    /// Name prefix of the node being differentiated (`fc1_backward`).
    prefix: String,
    count: usize,
    /// The differentiated node's placement group (`__ctx_group__`), given to every node its
    /// rule adds: a model-parallel executor runs a layer's backward where its forward ran.
    group: Vec<(String, String)>,
}

impl GradBuilder {
    fn name(&mut self) -> String {
        self.count += 1;
        format!("{}_backward{}", self.prefix, self.count - 1)
    }

    /// Applies registered op `op` (parsed from `attrs`) to `inputs`; all its outputs.
    pub fn op(&mut self, op: &str, attrs: &[(&str, &str)], inputs: &[Entry]) -> Result<Vec<Entry>> {
        let attrs: Vec<(String, String)> = attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .chain(self.group.iter().cloned())
            .collect();
        let node = Node::from_registry(op, self.name(), attrs, inputs.to_vec())?;
        Ok((0..node.num_outputs()).map(|i| node.entry(i)).collect())
    }

    /// `op` with one output.
    pub fn op1(&mut self, op: &str, attrs: &[(&str, &str)], inputs: &[Entry]) -> Result<Entry> {
        let mut v = self.op(op, attrs, inputs)?;
        Ok(v.swap_remove(0))
    }

    /// Applies an already configured op (a backward kernel defined next to its forward).
    pub fn apply(&mut self, op: Arc<dyn Operator>, inputs: &[Entry]) -> Vec<Entry> {
        let name = self.name();
        let node = Node::from_op(op, name, self.group.clone(), inputs.to_vec(), None);
        (0..node.num_outputs()).map(|i| node.entry(i)).collect()
    }

    pub fn add(&mut self, a: &Entry, b: &Entry) -> Result<Entry> {
        self.op1("elemwise_add", &[], &[a.clone(), b.clone()])
    }

    pub fn mul(&mut self, a: &Entry, b: &Entry) -> Result<Entry> {
        self.op1("elemwise_mul", &[], &[a.clone(), b.clone()])
    }

    pub fn scale(&mut self, a: &Entry, s: f64) -> Result<Entry> {
        self.op1(
            "_mul_scalar",
            &[("scalar", &s.to_string())],
            std::slice::from_ref(a),
        )
    }

    pub fn zeros_like(&mut self, a: &Entry) -> Result<Entry> {
        self.op1("zeros_like", &[], std::slice::from_ref(a))
    }

    pub fn ones_like(&mut self, a: &Entry) -> Result<Entry> {
        self.op1("ones_like", &[], std::slice::from_ref(a))
    }

    /// Sum of several gradient contributions.
    pub fn sum(&mut self, parts: &[Entry]) -> Result<Entry> {
        match parts {
            [] => Err(Error::Internal("sum of no gradients".into())),
            [one] => Ok(one.clone()),
            [a, b] => self.add(a, b),
            _ => self.op1("add_n", &[("num_args", &parts.len().to_string())], parts),
        }
    }
}

/// Builds the gradient of `heads` with respect to `wrt`. `head_grads[i]` is the gradient
/// flowing into head i; `None` is allowed only for loss heads (they make their own).
/// Returns one entry per `wrt` (None when no path leads there).
pub fn gradient(
    heads: &[Entry],
    head_grads: &[Option<Entry>],
    wrt: &[Entry],
) -> Result<Vec<Option<Entry>>> {
    Ok(gradient_parts(heads, head_grads, wrt)?.0)
}

/// Per forward op node differentiated, the gradients its rule gave its inputs (MXNet's
/// `<node>_backward` outputs), in the order the rules ran.
pub type NodeGrads = Vec<(Arc<Node>, Vec<Option<Entry>>)>;

/// [`gradient`], and the gradient of every input of every node on the way.
pub fn gradient_parts(
    heads: &[Entry],
    head_grads: &[Option<Entry>],
    wrt: &[Entry],
) -> Result<(Vec<Option<Entry>>, NodeGrads)> {
    let mut parts: NodeGrads = Vec::new();
    let order = topo_order(heads);
    // Only nodes on a path from some wrt entry need differentiating.
    let targets: HashSet<usize> = wrt.iter().map(|e| Arc::as_ptr(&e.node) as usize).collect();
    let mut needed: HashSet<usize> = HashSet::new();
    for n in &order {
        let k = Arc::as_ptr(n) as usize;
        if targets.contains(&k)
            || n.inputs
                .iter()
                .any(|e| needed.contains(&(Arc::as_ptr(&e.node) as usize)))
        {
            needed.insert(k);
        }
    }
    let mut grads: HashMap<(usize, usize), Vec<Entry>> = HashMap::new();
    for (i, h) in heads.iter().enumerate() {
        match head_grads.get(i).cloned().flatten() {
            Some(g) => grads.entry(h.key()).or_default().push(g),
            None => {
                let is_loss = h.node.op.as_ref().is_some_and(|o| o.is_loss());
                if !is_loss && needed.contains(&(Arc::as_ptr(&h.node) as usize)) {
                    return Err(Error::Graph(HEAD_GRAD_REQUIRED.into()));
                }
            }
        }
    }
    let mut b = GradBuilder {
        prefix: String::new(),
        count: 0,
        group: Vec::new(),
    };
    for n in order.iter().rev() {
        let Some(op) = &n.op else { continue };
        if !needed.contains(&(Arc::as_ptr(n) as usize)) {
            continue;
        }
        let nout = n.num_outputs();
        let outputs: Vec<Entry> = (0..nout).map(|i| n.entry(i)).collect();
        b.prefix = n.name.clone();
        b.count = 0;
        b.group = n
            .attr(CTX_GROUP)
            .map(|g| vec![(CTX_GROUP.to_string(), g)])
            .unwrap_or_default();
        let out_grads: Vec<Entry> = if op.is_loss() {
            Vec::new()
        } else {
            let parts: Vec<Option<Vec<Entry>>> = outputs
                .iter()
                .map(|o| grads.get(&o.key()).cloned())
                .collect();
            // A backward that updates auxiliary states (BatchNorm's moving statistics) runs
            // on zero gradients too, as MXNet's does under BlockGrad: skipping it would
            // leave the statistics of a frozen-output branch unchanged.
            if parts.iter().all(|p| p.is_none()) && op.aux_inputs().is_empty() {
                continue;
            }
            let mut v = Vec::with_capacity(nout);
            for (o, p) in outputs.iter().zip(parts) {
                v.push(match p {
                    Some(p) => b.sum(&p)?,
                    None => b.zeros_like(o)?,
                });
            }
            v
        };
        let needs: Vec<bool> = n
            .inputs
            .iter()
            .map(|e| needed.contains(&(Arc::as_ptr(&e.node) as usize)))
            .collect();
        let in_grads = op.gradient(
            &mut b,
            &GradArgs {
                node: n,
                inputs: &n.inputs,
                outputs,
                out_grads: &out_grads,
                needs: &needs,
            },
        )?;
        if in_grads.len() != n.inputs.len() {
            return Err(Error::Internal(format!(
                "gradient of {} returned {} entries for {} inputs",
                op.name(),
                in_grads.len(),
                n.inputs.len()
            )));
        }
        for (inp, g) in n.inputs.iter().zip(&in_grads) {
            if let Some(g) = g {
                grads.entry(inp.key()).or_default().push(g.clone());
            }
        }
        // Only the gradients something asked for: a rule may return partial terms for the
        // other inputs, which the plan never completes.
        let asked = in_grads
            .into_iter()
            .zip(&needs)
            .map(|(g, &need)| g.filter(|_| need))
            .collect();
        parts.push((n.clone(), asked));
    }
    b.prefix = "grad".into();
    b.group.clear();
    let total = wrt
        .iter()
        .map(|w| match grads.get(&w.key()) {
            Some(parts) => b.sum(parts).map(Some),
            None => Ok(None),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((total, parts))
}
