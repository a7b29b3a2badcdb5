//! Control-flow operators whose nodes carry subgraphs (`_foreach`). The registry knows their
//! names, documentation and parameters; a configured operator needs its subgraphs too, so it
//! is built by [`create_with_subgraphs`] (JSON loading, `mx.sym.contrib.foreach`), never from
//! attributes alone.

pub mod body;
pub mod foreach;

use super::params::{param, ParamSpec};
use super::{Inputs, OpDef, Operator, Registry};
use crate::error::{Error, Result};
use crate::graph::symbol::Symbol;
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

/// Configures control-flow op `op` from its attributes and subgraphs.
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
        _ => Err(Error::Value(format!(
            "operator {op} does not take subgraphs ({n} given)"
        ))),
    }
}

pub fn register(r: &mut Registry) {
    r.add(ForeachDef);
}
