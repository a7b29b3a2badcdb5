//! Building control-flow nodes from symbols: cutting a loop body out of the graph it was
//! composed in (MXNet's `MXSymbolCutSubgraph`) and creating the node that carries it.

use super::node::{topo_order, Entry, Node};
use super::symbol::{normalize_op_attrs, output_name, Symbol};
use crate::error::{Error, Result};
use crate::op::control_flow::create_with_subgraphs;
use std::collections::HashMap;
use std::sync::Arc;

const SUBGRAPH_KEY: &str = "__subgraph_name__";

fn in_subgraph(n: &Node, name: &str) -> bool {
    n.attr(SUBGRAPH_KEY).as_deref() == Some(name)
}

/// Replaces every input that a node of subgraph `name` reads from outside it by a fresh
/// variable named after that entry (`x`, `fc1_output`). Returns the cut graph and, per new
/// variable in creation order, its name and the outer entry it stands for.
pub fn cut_subgraph(sym: &Symbol, name: &str) -> (Symbol, Vec<(String, Entry)>) {
    let mut built: HashMap<usize, Arc<Node>> = HashMap::new();
    let mut cut: HashMap<(usize, usize), Arc<Node>> = HashMap::new();
    let mut cuts: Vec<(String, Entry)> = Vec::new();
    for n in topo_order(&sym.outputs) {
        let key = Arc::as_ptr(&n) as usize;
        let Some(op) = &n.op else {
            built.insert(key, n.clone());
            continue;
        };
        let inner = in_subgraph(&n, name);
        let inputs = n
            .inputs
            .iter()
            .map(|e| {
                if inner && !in_subgraph(&e.node, name) {
                    let v = cut.entry(e.key()).or_insert_with(|| {
                        let vname = output_name(e);
                        cuts.push((vname.clone(), e.clone()));
                        Node::variable(vname, Vec::new())
                    });
                    v.entry(0)
                } else {
                    let node = built
                        .get(&(Arc::as_ptr(&e.node) as usize))
                        .cloned()
                        .unwrap_or_else(|| e.node.clone());
                    node.entry(e.index)
                }
            })
            .collect();
        let node = Node::from_op(op.clone(), n.name.clone(), n.attrs(), inputs, None);
        built.insert(key, node);
    }
    let outputs = sym
        .outputs
        .iter()
        .map(|e| {
            built
                .get(&(Arc::as_ptr(&e.node) as usize))
                .cloned()
                .unwrap_or_else(|| e.node.clone())
                .entry(e.index)
        })
        .collect();
    (Symbol { outputs }, cuts)
}

/// A control-flow node `op_name` named `name` reading `args` and running `subgraphs`.
pub fn create_control_flow(
    op_name: &str,
    name: &str,
    attrs: &[(String, String)],
    args: &[Symbol],
    subgraphs: Vec<Symbol>,
) -> Result<Symbol> {
    let attrs = normalize_op_attrs(attrs)?;
    let op = create_with_subgraphs(op_name, &attrs, subgraphs)?;
    let inputs = args
        .iter()
        .enumerate()
        .map(|(i, s)| match s.outputs.as_slice() {
            [e] => Ok(e.clone()),
            _ => Err(Error::Graph(format!(
                "{op_name} ({name}) input {i}: expected a symbol with one output, got {}",
                s.outputs.len()
            ))),
        })
        .collect::<Result<Vec<_>>>()?;
    let expected = op.input_names().len();
    if inputs.len() != expected {
        return Err(Error::Value(format!(
            "operator {op_name} ({name}) takes {expected} inputs, {} given",
            inputs.len()
        )));
    }
    let node = Node::from_op(op, name, attrs, inputs, None);
    Ok(Symbol {
        outputs: (0..node.num_visible_outputs())
            .map(|i| node.entry(i))
            .collect(),
    })
}
