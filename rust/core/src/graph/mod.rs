//! Computation graphs: nodes and entries, reverse-mode gradients, and evaluation plans shared
//! by the symbolic executor and imperative autograd.

pub mod check;
pub mod eval;
pub mod gradient;
pub mod infer;
pub mod json;
pub mod node;
pub mod place;
pub mod subgraph;
pub mod symbol;

pub use check::{check_grad, CheckOpts};
pub use gradient::{gradient, GradBuilder};
pub use node::{topo_order, Entry, LeafGrad, Node};

use std::collections::HashSet;
use std::sync::Arc;

/// Variable nodes feeding `heads`, split into arguments and auxiliary states (variables that
/// some op mutates, such as BatchNorm's moving statistics), each in DFS order.
pub fn list_inputs(heads: &[Entry]) -> (Vec<Arc<Node>>, Vec<Arc<Node>>) {
    let order = topo_order(heads);
    let mut aux_keys = HashSet::new();
    for n in &order {
        if let Some(op) = &n.op {
            for &i in op.aux_inputs() {
                if let Some(e) = n.inputs.get(i) {
                    if e.node.is_variable() {
                        aux_keys.insert(Arc::as_ptr(&e.node) as usize);
                    }
                }
            }
        }
    }
    let (mut args, mut aux) = (Vec::new(), Vec::new());
    for n in order.into_iter().filter(|n| n.is_variable()) {
        if aux_keys.contains(&(Arc::as_ptr(&n) as usize)) {
            aux.push(n);
        } else {
            args.push(n);
        }
    }
    (args, aux)
}
