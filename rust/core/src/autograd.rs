//! Imperative autograd (`mx.autograd`): recording flags, the tape (graph nodes carrying the
//! arrays they produced) and backward through the same gradient rules as the executor.

use crate::error::{Error, Result};
use crate::executor::GradReq;
use crate::graph::eval::{evaluate_into, evaluate_with};
use crate::graph::symbol::{node_ptr, Symbol};
use crate::graph::{gradient, topo_order, Entry, LeafGrad, Node};
use crate::ndarray::NDArray;
use crate::op::{copy_into, Operator};
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;

thread_local! {
    static RECORDING: Cell<bool> = const { Cell::new(false) };
    static TRAINING: Cell<bool> = const { Cell::new(false) };
}

pub fn is_recording() -> bool {
    RECORDING.with(|c| c.get())
}

pub fn is_training() -> bool {
    TRAINING.with(|c| c.get())
}

/// Sets the recording flag; returns the previous one.
pub fn set_recording(on: bool) -> bool {
    RECORDING.with(|c| c.replace(on))
}

/// Sets the training flag; returns the previous one.
pub fn set_training(on: bool) -> bool {
    TRAINING.with(|c| c.replace(on))
}

/// MXNet's message for a backward from an array no recorded op produced.
pub const NOT_RECORDED: &str = "Cannot differentiate node because it is not in a computational \
    graph. You need to set is_recording to true or use autograd.record() to save computational \
    graphs for backward.";

/// Where a graph's history went: a backward without `retain_graph` took it.
const FREED: &str = "Part of this computation's recorded history was freed by an earlier \
    backward (as in MXNet, backward frees it unless called with retain_graph=True); pass \
    retain_graph=True to that backward to differentiate the graph again";

/// The nodes of the graph of `heads`, checked to still hold their recorded arrays.
fn recorded_graph(heads: &[Entry]) -> Result<Vec<Arc<Node>>> {
    if heads.iter().any(|h| !h.node.has_values()) {
        return Err(Error::Graph(NOT_RECORDED.into()));
    }
    let order = topo_order(heads);
    if order.iter().any(|n| !n.has_values()) {
        return Err(Error::Graph(FREED.into()));
    }
    Ok(order)
}

/// Frees the arrays a graph recorded once a backward has used them (MXNet's default, so a
/// training loop holding last step's loss does not also hold all of its activations).
fn release(graph: &[Arc<Node>]) {
    for n in graph {
        n.release();
    }
}

/// Records op `op` applied to `inputs` producing `outputs`; `entries[i]` is input i's
/// autograd entry (None for arrays nothing recorded, which become constant leaves). Returns
/// the outputs' entries.
pub fn record(
    op: &Arc<dyn Operator>,
    attrs: Vec<(String, String)>,
    inputs: &[NDArray],
    entries: &[Option<Entry>],
    outputs: &[NDArray],
) -> Vec<Entry> {
    let ins: Vec<Entry> = inputs
        .iter()
        .zip(entries.iter().chain(std::iter::repeat(&None)))
        .map(|(a, e)| match e {
            Some(e) => e.clone(),
            None => Node::leaf(a.clone(), None).entry(0),
        })
        .collect();
    let node = Node::from_op(op.clone(), op.name(), attrs, ins, Some(outputs.to_vec()));
    (0..outputs.len()).map(|i| node.entry(i)).collect()
}

/// `autograd.get_symbol`: the recorded computation of `head` as a Symbol. Every leaf
/// (attached or constant) becomes a variable `var0`, `var1`, ... in the order the graph
/// reaches them, as in MXNet; ops are named `<op><k>`.
pub fn get_symbol(head: &Entry) -> Result<Symbol> {
    if !head.node.has_values() {
        return Err(Error::Graph(NOT_RECORDED.into()));
    }
    let mut made: HashMap<usize, Arc<Node>> = HashMap::new();
    let (mut vars, mut counts) = (0usize, HashMap::<String, usize>::new());
    for n in topo_order(std::slice::from_ref(head)) {
        let copy = match &n.op {
            None => {
                vars += 1;
                Node::variable(format!("var{}", vars - 1), Vec::new())
            }
            Some(op) => {
                let k = counts.entry(n.op_name.clone()).or_default();
                *k += 1;
                let ins = n
                    .inputs
                    .iter()
                    .map(|e| {
                        made.get(&node_ptr(&e.node))
                            .map(|m| m.entry(e.index))
                            .ok_or_else(|| Error::Internal("get_symbol: input not ordered".into()))
                    })
                    .collect::<Result<Vec<_>>>()?;
                let name = format!("{}{}", n.op_name, *k - 1);
                Node::from_op(op.clone(), name, n.attrs(), ins, None)
            }
        };
        made.insert(node_ptr(&n), copy);
    }
    let top = made
        .get(&node_ptr(&head.node))
        .ok_or_else(|| Error::Internal("get_symbol: head not ordered".into()))?;
    Ok(Symbol {
        outputs: vec![top.entry(head.index)],
    })
}

/// A leaf for `attach_grad`/`mark_variables`: gradients are written (or added) into `grad`;
/// `req` null makes a leaf that receives none.
pub fn mark_variable(value: &NDArray, grad: NDArray, req: GradReq) -> Entry {
    let lg = (req != GradReq::Null).then_some(LeafGrad {
        grad,
        add: req == GradReq::Add,
        fresh: false,
    });
    Node::leaf(value.clone(), lg).entry(0)
}

/// Head gradients as leaf entries: given arrays, or ones for non-loss heads (MXNet's default
/// `out_grad`), or nothing for loss heads.
fn head_grad_entries(
    heads: &[Entry],
    head_grads: &[Option<NDArray>],
) -> Result<Vec<Option<Entry>>> {
    heads
        .iter()
        .enumerate()
        .map(|(i, h)| {
            if let Some(g) = head_grads.get(i).cloned().flatten() {
                let v = h.node.value(h.index)?;
                // A 0-d head takes a one-element gradient and back, as in MXNet, where
                // `nd.array` makes (1,) of a Python scalar.
                let scalar = (g.shape().ndim() == 0) != (v.shape().ndim() == 0) && g.size() == 1;
                let g = if scalar && v.size() == 1 {
                    g.reshape_view(v.shape().clone())?
                } else {
                    g
                };
                if g.shape() != v.shape() {
                    return Err(Error::shape(
                        "backward",
                        format!(
                            "head_grads[{i}] has shape {}, the head {}",
                            g.shape(),
                            v.shape()
                        ),
                    ));
                }
                return Ok(Some(Node::leaf(g, None).entry(0)));
            }
            if h.node.op.as_ref().is_some_and(|o| o.is_loss()) {
                return Ok(None);
            }
            let v = h.node.value(h.index)?;
            let ones = crate::op::call_str("ones_like", std::slice::from_ref(&v), &[])?;
            Ok(Some(Node::leaf(ones[0].clone(), None).entry(0)))
        })
        .collect()
}

/// `NDArray.backward` / `autograd.backward`: gradients of `heads` into every reachable leaf
/// that has a gradient buffer.
pub fn backward(
    heads: &[Entry],
    head_grads: &[Option<NDArray>],
    is_train: bool,
    retain_graph: bool,
) -> Result<()> {
    let graph = recorded_graph(heads)?;
    let leaves: Vec<(Arc<Node>, LeafGrad)> = graph
        .iter()
        .filter_map(|n| {
            let lg = n.leaf_grad.lock().ok()?.clone()?;
            Some((n.clone(), lg))
        })
        .collect();
    if leaves.is_empty() {
        return Err(Error::Graph(NOT_RECORDED.into()));
    }
    let hg = head_grad_entries(heads, head_grads)?;
    let wrt: Vec<Entry> = leaves.iter().map(|(n, _)| n.entry(0)).collect();
    let grads = gradient(heads, &hg, &wrt)?;
    // A written gradient is computed straight into its buffer (`evaluate_into` copies it
    // there instead where the buffer does not fit or is read by the graph).
    let (computed, dests): (Vec<Entry>, Vec<Option<NDArray>>) = leaves
        .iter()
        .zip(&grads)
        .filter_map(|((_, lg), g)| Some((g.clone()?, (!lg.add).then(|| lg.grad.clone()))))
        .unzip();
    let (values, written) = evaluate_into(&computed, &dests, is_train)?;
    let mut it = values.into_iter().zip(written);
    let mut add = None;
    for ((_, lg), g) in leaves.iter().zip(&grads) {
        match g {
            Some(_) => {
                let (v, done) = it
                    .next()
                    .ok_or_else(|| Error::Internal("missing gradient value".into()))?;
                if lg.add {
                    // In place: each element is read before it is written.
                    let add = match &mut add {
                        Some(op) => op,
                        none => {
                            none.insert(crate::op::registry().get("elemwise_add")?.create(&[])?)
                        }
                    };
                    let target = std::slice::from_ref(&lg.grad);
                    crate::op::invoke(add, &[lg.grad.clone(), v], Some(target), None)?;
                } else if !done {
                    copy_into(&v, &lg.grad, None)?;
                }
            }
            None if !lg.add => {
                let z = crate::op::call_str("zeros_like", std::slice::from_ref(&lg.grad), &[])?;
                copy_into(&z[0], &lg.grad, None)?;
            }
            None => {}
        }
    }
    for (n, _) in &leaves {
        if let Ok(mut lg) = n.leaf_grad.lock() {
            if let Some(lg) = lg.as_mut() {
                lg.fresh = true;
            }
        }
    }
    if !retain_graph {
        release(&graph);
    }
    Ok(())
}

/// A recorded gradient that does not depend on its variable (a constant derivative, or none
/// at all) is recorded as depending on it with a zero derivative: differentiating it again
/// then gives zeros, as in MXNet, whose backward ops read their inputs, instead of an error.
fn tied_to(v: NDArray, e: Option<Entry>, var: &Entry) -> Result<(NDArray, Option<Entry>)> {
    let reaches = e.as_ref().is_some_and(|e| {
        let target = node_ptr(&var.node);
        topo_order(std::slice::from_ref(e))
            .iter()
            .any(|n| node_ptr(n) == target)
    });
    if reaches {
        return Ok((v, e));
    }
    let x = var.node.value(var.index)?;
    let op = crate::op::registry()
        .get("_identity_with_attr_like_rhs")?
        .create(&[])?;
    let ins = [v, x];
    let out = crate::op::invoke(&op, &ins, None, None)?;
    let entry = record(&op, Vec::new(), &ins, &[e, Some(var.clone())], &out);
    let value = out.into_iter().next();
    let value = value.ok_or_else(|| Error::Internal("tied gradient has no output".into()))?;
    Ok((value, entry.into_iter().next()))
}

/// `autograd.grad`: gradients of `heads` with respect to `variables` (entries of marked
/// arrays), returned as new arrays; with `create_graph` they are recorded too (their entries
/// are returned) so they can be differentiated again.
pub fn grad(
    heads: &[Entry],
    head_grads: &[Option<NDArray>],
    variables: &[Entry],
    create_graph: bool,
    is_train: bool,
    retain_graph: bool,
) -> Result<Vec<(NDArray, Option<Entry>)>> {
    let graph = recorded_graph(heads)?;
    let hg = head_grad_entries(heads, head_grads)?;
    let grads = gradient(heads, &hg, variables)?;
    let mut out = Vec::with_capacity(variables.len());
    let computed: Vec<Entry> = grads.iter().flatten().cloned().collect();
    let (values, entries) = evaluate_with(&computed, is_train, create_graph)?;
    let (mut vi, mut ei) = (values.into_iter(), entries.into_iter());
    for (g, var) in grads.iter().zip(variables) {
        let (v, e) = match g {
            Some(_) => {
                let v = vi
                    .next()
                    .ok_or_else(|| Error::Internal("missing gradient value".into()))?;
                (v, if create_graph { ei.next() } else { None })
            }
            None => {
                let x = var.node.value(var.index)?;
                let z = crate::op::call_str("zeros_like", std::slice::from_ref(&x), &[])?;
                (z[0].clone(), None)
            }
        };
        out.push(match create_graph {
            true => tied_to(v, e, var)?,
            false => (v, None),
        });
    }
    if !retain_graph {
        release(&graph);
    }
    Ok(out)
}
