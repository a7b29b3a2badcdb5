//! Control-flow operators whose nodes carry subgraphs (`_foreach`, `_cond`, `_while_loop`). The registry knows their
//! names, documentation and parameters; a configured operator needs its subgraphs too, so it
//! is built by [`create_with_subgraphs`] (JSON loading, `mx.sym.contrib.foreach`), never from
//! attributes alone.

pub mod body;
pub mod cond;
pub mod foreach;
pub mod while_loop;

#[cfg(test)]
mod tests;

use super::params::{param, ParamSpec};
use super::sg_mkldnn;
use super::{Desc, GradArgs, Inputs, OpDef, Operator, Registry};
use crate::error::{Error, Result};
use crate::graph::symbol::Symbol;
use crate::graph::{Entry, GradBuilder};
use std::sync::Arc;

const FOREACH_PARAMS: [ParamSpec; 6] = [
    param(
        "num_args",
        "int",
        None,
        "Number of inputs, the subgraph counted as one.",
    ),
    param(
        "num_outputs",
        "int",
        None,
        "Number of outputs: stacked data outputs, then final states.",
    ),
    param(
        "num_out_data",
        "int",
        None,
        "Number of per-iteration data outputs.",
    ),
    param(
        "in_data_locs",
        "Shape(tuple)",
        None,
        "Subgraph input fed by each data input.",
    ),
    param(
        "in_state_locs",
        "Shape(tuple)",
        None,
        "Subgraph input fed by each loop state.",
    ),
    param(
        "remain_locs",
        "Shape(tuple)",
        None,
        "Subgraph input fed by each remaining input.",
    ),
];

struct ForeachDef;

impl OpDef for ForeachDef {
    fn name(&self) -> &'static str {
        foreach::NAME
    }
    fn doc(&self) -> &str {
        "Run a for loop over the first axis of the data inputs, applying the body subgraph to \
         each slice with the loop states; outputs the stacked per-step outputs and the final \
         states (built by mx.sym.contrib.foreach)."
    }
    fn params(&self) -> &[ParamSpec] {
        &FOREACH_PARAMS
    }
    fn inputs(&self) -> Inputs {
        Inputs::Dynamic
    }
    fn create(&self, _attrs: &[(String, String)]) -> Result<Arc<dyn Operator>> {
        Err(Error::Value(format!(
            "operator {}: the loop body subgraph is missing; build the node with \
             mx.sym.contrib.foreach or load it from JSON with its \"subgraphs\"",
            foreach::NAME
        )))
    }
}

const COND_PARAMS: [ParamSpec; 5] = [
    param(
        "num_args",
        "int",
        None,
        "Number of inputs, the 3 subgraphs counted.",
    ),
    param(
        "num_outputs",
        "int",
        None,
        "Number of outputs of each branch.",
    ),
    param(
        "cond_input_locs",
        "Shape(tuple)",
        None,
        "Node input feeding each predicate-graph input.",
    ),
    param(
        "then_input_locs",
        "Shape(tuple)",
        None,
        "Node input feeding each then-graph input.",
    ),
    param(
        "else_input_locs",
        "Shape(tuple)",
        None,
        "Node input feeding each else-graph input.",
    ),
];

struct CondDef;

impl OpDef for CondDef {
    fn name(&self) -> &'static str {
        cond::NAME
    }
    fn doc(&self) -> &str {
        "Run the then subgraph if the predicate subgraph's single value is nonzero, else the \
         else subgraph (built by mx.sym.contrib.cond)."
    }
    fn params(&self) -> &[ParamSpec] {
        &COND_PARAMS
    }
    fn inputs(&self) -> Inputs {
        Inputs::Dynamic
    }
    fn create(&self, _attrs: &[(String, String)]) -> Result<Arc<dyn Operator>> {
        Err(Error::Value(format!(
            "operator {}: the predicate and branch subgraphs are missing; build the node with \
             mx.sym.contrib.cond or load it from JSON with its \"subgraphs\"",
            cond::NAME
        )))
    }
}

const WHILE_PARAMS: [ParamSpec; 7] = [
    param(
        "num_args",
        "int",
        None,
        "Number of inputs, the 2 subgraphs counted.",
    ),
    param(
        "num_outputs",
        "int",
        None,
        "Number of outputs: per-step data, then loop variables.",
    ),
    param(
        "num_out_data",
        "int",
        None,
        "Number of per-step data outputs.",
    ),
    param(
        "max_iterations",
        "int",
        None,
        "Most steps run; data outputs have this many rows.",
    ),
    param(
        "cond_input_locs",
        "Shape(tuple)",
        None,
        "Node input feeding each condition input.",
    ),
    param(
        "func_input_locs",
        "Shape(tuple)",
        None,
        "Node input feeding each function input.",
    ),
    param(
        "func_var_locs",
        "Shape(tuple)",
        None,
        "Function input holding each loop variable.",
    ),
];

struct WhileDef;

impl OpDef for WhileDef {
    fn name(&self) -> &'static str {
        while_loop::NAME
    }
    fn doc(&self) -> &str {
        "Run the function subgraph while the condition subgraph's single value is nonzero, at \
         most max_iterations times; outputs the per-step outputs (max_iterations rows, zeros \
         after the last step) and the final loop variables (built by \
         mx.sym.contrib.while_loop)."
    }
    fn params(&self) -> &[ParamSpec] {
        &WHILE_PARAMS
    }
    fn inputs(&self) -> Inputs {
        Inputs::Dynamic
    }
    fn create(&self, _attrs: &[(String, String)]) -> Result<Arc<dyn Operator>> {
        Err(Error::Value(format!(
            "operator {}: the condition and function subgraphs are missing; build the node \
             with mx.sym.contrib.while_loop or load it from JSON with its \"subgraphs\"",
            while_loop::NAME
        )))
    }
}

/// Configures an op whose node carries subgraphs (control flow, oneDNN-fused nodes) from its
/// attributes and subgraphs.
pub fn create_with_subgraphs(
    op: &str,
    attrs: &[(String, String)],
    subgraphs: Vec<Symbol>,
) -> Result<Arc<dyn Operator>> {
    let n = subgraphs.len();
    let one = |mut s: Vec<Symbol>| -> Result<Symbol> {
        match s.len() {
            1 => Ok(s.remove(0)),
            _ => Err(Error::Value(format!(
                "operator {op} takes 1 subgraph, {n} given"
            ))),
        }
    };
    match op {
        foreach::NAME => Ok(Arc::new(foreach::Foreach::new(attrs, one(subgraphs)?)?)),
        cond::NAME => Ok(Arc::new(cond::Cond::new(attrs, subgraphs)?)),
        while_loop::NAME => Ok(Arc::new(while_loop::WhileLoop::new(attrs, subgraphs)?)),
        sg_mkldnn::CONV | sg_mkldnn::FC => sg_mkldnn::create(op, attrs, subgraphs),
        sg_mkldnn::selfatt::QK | sg_mkldnn::selfatt::VALATT => {
            sg_mkldnn::selfatt::create(op, attrs, subgraphs)
        }
        _ => Err(Error::Value(format!(
            "operator {op} does not take subgraphs ({n} given)"
        ))),
    }
}

/// The gradient of a control-flow op: one backward node that reads the forward inputs and the
/// output gradients and gives one gradient per forward input.
fn backward_node(
    g: &mut GradBuilder,
    a: &GradArgs,
    back: Arc<dyn Operator>,
) -> Result<Vec<Option<Entry>>> {
    let ins: Vec<Entry> = a.inputs.iter().chain(a.out_grads).cloned().collect();
    Ok(g.apply(back, &ins).into_iter().map(Some).collect())
}

/// Outputs of such a backward node: one per forward input (`n`), after `num_outputs` output
/// gradients.
fn backward_infer(name: &str, n: usize, num_outputs: usize, inputs: &[Desc]) -> Result<Vec<Desc>> {
    if inputs.len() != n + num_outputs {
        return Err(Error::Internal(format!(
            "{name}: {} inputs, expected {}",
            inputs.len(),
            n + num_outputs
        )));
    }
    Ok(inputs[..n].to_vec())
}

pub fn register(r: &mut Registry) {
    r.add(ForeachDef);
    r.add(CondDef);
    r.add(WhileDef);
}
