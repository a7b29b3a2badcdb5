//! Model parallelism (MXNet's `group2ctx`): the context each step of an executor's plans runs
//! on, from the `__ctx_group__` attribute of its node, by nnvm's PlaceDevice rules. A step's
//! inputs that live elsewhere are copied to its context when it runs ([`super::eval`]).

use super::eval::Plan;
use crate::context::Context;
use crate::error::{Error, Result};
use std::collections::HashMap;

/// The attribute `mx.AttrScope(ctx_group=...)` gives the nodes built inside it.
pub const CTX_GROUP: &str = "__ctx_group__";

/// Where grouped nodes run (`group2ctx`) and where the others go when nothing places them.
#[derive(Debug, Clone)]
pub struct Placement {
    pub default: Context,
    pub groups: HashMap<String, Context>,
}

/// Sets the context of every step of `plans` (which run in this order), given the contexts
/// of the slots filled before they run (bound variables). Rules, first match wins: the node's
/// group; the context of its first input that has one; the context of a later step reading
/// one of its outputs; the default.
pub fn place(
    plans: &mut [&mut Plan],
    known: &HashMap<usize, Context>,
    p: &Placement,
) -> Result<()> {
    let mut slot_ctx = known.clone();
    let mut ctxs: Vec<Option<Context>> = Vec::new();
    let mut producer: HashMap<usize, usize> = HashMap::new();
    for plan in plans.iter() {
        for step in &plan.steps {
            let ctx = match step.node.attr(CTX_GROUP) {
                Some(g) => Some(*p.groups.get(&g).ok_or_else(|| {
                    Error::Graph(format!(
                        "The device assignment not found for group {g} (node {}); group2ctx has {:?}",
                        step.node.name,
                        sorted_keys(&p.groups)
                    ))
                })?),
                None => step.ins.iter().find_map(|s| slot_ctx.get(s).copied()),
            };
            for &o in &step.outs {
                producer.insert(o, ctxs.len());
                if let Some(c) = ctx {
                    slot_ctx.insert(o, c);
                }
            }
            ctxs.push(ctx);
        }
    }
    let ins: Vec<&[usize]> = plans
        .iter()
        .flat_map(|plan| plan.steps.iter().map(|s| s.ins.as_slice()))
        .collect();
    for k in (0..ctxs.len()).rev() {
        let Some(c) = ctxs[k] else { continue };
        for s in ins[k] {
            if let Some(&j) = producer.get(s) {
                if ctxs[j].is_none() {
                    ctxs[j] = Some(c);
                }
            }
        }
    }
    let mut it = ctxs.into_iter();
    for plan in plans.iter_mut() {
        for step in &mut plan.steps {
            step.ctx = Some(it.next().flatten().unwrap_or(p.default));
        }
    }
    Ok(())
}

fn sorted_keys(m: &HashMap<String, Context>) -> Vec<&str> {
    let mut k: Vec<&str> = m.keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}
