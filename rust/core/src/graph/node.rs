//! Graph nodes and entries: a node is a variable or a configured op applied to entries (outputs
//! of other nodes). Nodes are shared (`Arc`) and immutable but for their attributes (which
//! `_set_attr` changes in place, as MXNet's does) and autograd's arrays; a symbol, a gradient
//! graph and an autograd tape are all just entries into such DAGs.

use crate::error::{Error, Result};
use crate::ndarray::NDArray;
use crate::op::{registry, Operator};
use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

/// An array an autograd leaf writes its gradient into (`attach_grad`).
#[derive(Clone)]
pub struct LeafGrad {
    pub grad: NDArray,
    /// MXNet's grad_req: `write` or `add` (`null` leaves get no LeafGrad).
    pub add: bool,
    /// Set by a backward that reached this leaf (MXNet's `_fresh_grad`; optimizers reset it).
    pub fresh: bool,
}

pub struct Node {
    /// `None` for a variable.
    pub op: Option<Arc<dyn Operator>>,
    /// Registered op name as written in JSON (`"null"` for a variable).
    pub op_name: String,
    pub name: String,
    /// Attributes as given by the user (op params and `__hidden__` keys), in insertion order.
    /// Every symbol holding the node sees a change (`_set_attr` on one output of a node that
    /// other symbols already use), so the graph keeps one node, not a copy per handle.
    pub(super) attrs: Mutex<Vec<(String, String)>>,
    pub inputs: Vec<Entry>,
    /// Arrays recorded by autograd: a leaf's value, or an op's outputs; taken away when a
    /// backward that does not retain its graph has used them ([`Node::release`]).
    pub values: Mutex<Option<Vec<NDArray>>>,
    /// Autograd leaf gradient buffer (attach_grad); replaced when grads are re-attached.
    pub leaf_grad: Mutex<Option<LeafGrad>>,
}

impl Node {
    pub fn variable(name: impl Into<String>, attrs: Vec<(String, String)>) -> Arc<Node> {
        Arc::new(Node {
            op: None,
            op_name: "null".into(),
            name: name.into(),
            attrs: Mutex::new(attrs),
            inputs: Vec::new(),
            values: Mutex::new(None),
            leaf_grad: Mutex::new(None),
        })
    }

    /// A node of registered op `op_name` configured with `attrs` (the op's own parameters;
    /// `__hidden__` keys are kept but not parsed).
    pub fn from_registry(
        op_name: &str,
        name: impl Into<String>,
        attrs: Vec<(String, String)>,
        inputs: Vec<Entry>,
    ) -> Result<Arc<Node>> {
        let def = registry().get(op_name)?;
        let op = def.create(&attrs)?;
        Ok(Arc::new(Node {
            op: Some(op),
            op_name: op_name.to_string(),
            name: name.into(),
            attrs: Mutex::new(attrs),
            inputs,
            values: Mutex::new(None),
            leaf_grad: Mutex::new(None),
        }))
    }

    /// A node of an already configured op (gradient helpers, autograd recording).
    pub fn from_op(
        op: Arc<dyn Operator>,
        name: impl Into<String>,
        attrs: Vec<(String, String)>,
        inputs: Vec<Entry>,
        values: Option<Vec<NDArray>>,
    ) -> Arc<Node> {
        Arc::new(Node {
            op_name: op.name().to_string(),
            op: Some(op),
            name: name.into(),
            attrs: Mutex::new(attrs),
            inputs,
            values: Mutex::new(values),
            leaf_grad: Mutex::new(None),
        })
    }

    /// An autograd leaf holding `value` (arrays not produced by a recorded op).
    pub fn leaf(value: NDArray, grad: Option<LeafGrad>) -> Arc<Node> {
        Arc::new(Node {
            op: None,
            op_name: "null".into(),
            name: String::new(),
            attrs: Mutex::new(Vec::new()),
            inputs: Vec::new(),
            values: Mutex::new(Some(vec![value])),
            leaf_grad: Mutex::new(grad),
        })
    }

    pub fn is_variable(&self) -> bool {
        self.op.is_none()
    }

    /// Total outputs, hidden ones included (BatchNorm: 3).
    pub fn num_outputs(&self) -> usize {
        self.op.as_ref().map_or(1, |o| o.num_outputs())
    }

    /// Outputs a symbol shows (BatchNorm: 1).
    pub fn num_visible_outputs(&self) -> usize {
        self.op.as_ref().map_or(1, |o| o.num_visible_outputs())
    }

    fn attrs_locked(&self) -> MutexGuard<'_, Vec<(String, String)>> {
        // A panic while the list was held cannot leave it half-written: a push or a clone.
        self.attrs.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn attrs(&self) -> Vec<(String, String)> {
        self.attrs_locked().clone()
    }

    pub fn has_attrs(&self) -> bool {
        !self.attrs_locked().is_empty()
    }

    pub fn attr(&self, key: &str) -> Option<String> {
        self.attrs_locked()
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    /// Changes the attributes in place (`_set_attr`).
    pub fn update_attrs(&self, f: impl FnOnce(&mut Vec<(String, String)>)) {
        f(&mut self.attrs_locked())
    }

    pub fn entry(self: &Arc<Self>, index: usize) -> Entry {
        Entry {
            node: self.clone(),
            index,
        }
    }

    /// The recorded array of output `index` (autograd graphs only).
    pub fn value(&self, index: usize) -> Result<NDArray> {
        self.recorded()
            .and_then(|v| v.get(index).cloned())
            .ok_or_else(|| Error::Internal(format!("node {} has no recorded value", self.name)))
    }

    /// The arrays autograd recorded on this node, if it holds them.
    pub fn recorded(&self) -> Option<Vec<NDArray>> {
        self.values.lock().ok().and_then(|v| v.clone())
    }

    pub fn has_values(&self) -> bool {
        self.values.lock().is_ok_and(|v| v.is_some())
    }

    /// Drops the recorded arrays of an op or constant node (MXNet frees a graph's history
    /// after a backward that does not retain it); a leaf with a gradient buffer keeps its
    /// value, as later recordings start from it.
    pub fn release(&self) {
        if self.leaf_grad.lock().is_ok_and(|g| g.is_some()) {
            return;
        }
        if let Ok(mut v) = self.values.lock() {
            *v = None;
        }
    }
}

/// Output `index` of `node`.
#[derive(Clone)]
pub struct Entry {
    pub node: Arc<Node>,
    pub index: usize,
}

impl Entry {
    pub fn key(&self) -> (usize, usize) {
        (Arc::as_ptr(&self.node) as usize, self.index)
    }
}

impl PartialEq for Entry {
    fn eq(&self, o: &Entry) -> bool {
        Arc::ptr_eq(&self.node, &o.node) && self.index == o.index
    }
}

impl Eq for Entry {}

impl std::hash::Hash for Entry {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.key().hash(h)
    }
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}[{}]", self.node.name, self.index)
    }
}

fn node_key(n: &Arc<Node>) -> usize {
    Arc::as_ptr(n) as usize
}

/// Every node reachable from `heads`, in MXNet's order: DFS post-order from the heads, inputs
/// visited left to right. Iterative, so deep graphs cannot overflow the stack.
pub fn topo_order(heads: &[Entry]) -> Vec<Arc<Node>> {
    let mut seen: HashSet<usize> = HashSet::new();
    let mut order = Vec::new();
    for h in heads {
        if !seen.insert(node_key(&h.node)) {
            continue;
        }
        // (node, index of the next input to visit)
        let mut stack: Vec<(Arc<Node>, usize)> = vec![(h.node.clone(), 0)];
        while let Some((n, i)) = stack.pop() {
            if i < n.inputs.len() {
                let child = n.inputs[i].node.clone();
                stack.push((n, i + 1));
                if seen.insert(node_key(&child)) {
                    stack.push((child, 0));
                }
            } else {
                order.push(n);
            }
        }
    }
    order
}
