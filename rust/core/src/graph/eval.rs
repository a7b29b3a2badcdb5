//! Evaluation plans: the op nodes needed for some entries, in dependency order, with each
//! entry given a slot in a value table. Each step is pushed to the engine as it is reached, so
//! a plan runs asynchronously; slots are dropped after their last reader, and their arrays
//! become the outputs of later steps (the engine orders each reuse after the last read).

use super::node::{Entry, Node};
use crate::context::Context;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::ndarray::NDArray;
use crate::op::{in_context, invoke_with, Desc};
use crate::runtime::rt;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Entry -> slot numbering shared by the plans of one executor.
#[derive(Default)]
pub struct Slots {
    map: HashMap<(usize, usize), usize>,
}

impl Slots {
    pub fn slot(&mut self, e: &Entry) -> usize {
        let n = self.map.len();
        *self.map.entry(e.key()).or_insert(n)
    }

    pub fn get(&self, e: &Entry) -> Option<usize> {
        self.map.get(&e.key()).copied()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

pub struct Step {
    pub node: Arc<Node>,
    pub ins: Vec<usize>,
    pub outs: Vec<usize>,
    /// Slots whose last reader is this step.
    pub free: Vec<usize>,
    /// Where the step runs when placed ([`super::place`]); its inputs are copied there.
    /// Unplaced steps run where their inputs are.
    pub ctx: Option<Context>,
}

/// Which arrays of a step a [`Watch`] is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watched {
    Inputs,
    Outputs,
}

/// Observes the arrays of each step of a running plan; an error stops the run.
pub type Watch<'a> = &'a mut dyn FnMut(&Arc<Node>, Watched, &[NDArray]) -> Result<()>;

pub struct Plan {
    pub steps: Vec<Step>,
    /// Slots written by this plan's steps (their arrays are the plan's own to reuse).
    pub owned: HashSet<usize>,
    /// Slots filled from arrays recorded on nodes (autograd tapes) before the run.
    pub preset: Vec<(usize, NDArray)>,
    /// A step whose result does not fit its bound array (a gradient of another dtype than
    /// its variable's buffer) is computed apart and copied over, instead of failing.
    pub copy_misfits: bool,
}

/// Arrays of dead slots, handed (reshaped) to later steps as outputs of the same size, dtype
/// and context. A plan is pushed far ahead of its kernels, so a buffer freed only when its
/// last reader has run would not come back before the whole plan had allocated its own:
/// without reuse a backward pass holds one buffer per step at once. Writing into a dead array
/// is safe because the engine orders the write after the reads already pushed.
///
/// Only whole arrays this run allocated are reused, and only once no slot holds a handle to
/// their memory (a view or a returned input shares it).
#[derive(Default)]
struct Recycler {
    /// Slots holding a handle to each chunk.
    live: HashMap<usize, usize>,
    /// The arrays this run allocated, by chunk.
    made: HashMap<usize, NDArray>,
    /// Dead arrays by element count, dtype and context.
    spare: HashMap<(usize, DType, Context), Vec<NDArray>>,
}

impl Recycler {
    fn hold(&mut self, a: &NDArray) {
        *self.live.entry(a.chunk_id()).or_insert(0) += 1;
    }

    /// Slots holding a handle to `a`'s memory.
    fn holders(&self, a: &NDArray) -> usize {
        self.live.get(&a.chunk_id()).copied().unwrap_or(0)
    }

    fn drop_slot(&mut self, a: &NDArray) {
        let id = a.chunk_id();
        let Some(n) = self.live.get_mut(&id) else {
            return;
        };
        *n -= 1;
        if *n == 0 {
            self.live.remove(&id);
            if let Some(whole) = self.made.remove(&id) {
                let key = (whole.size(), whole.dtype(), whole.ctx());
                self.spare.entry(key).or_default().push(whole);
            }
        }
    }

    fn alloc(&mut self, d: &Desc, ctx: Context) -> Result<NDArray> {
        let key = (d.shape.size(), d.dtype, ctx);
        let a = match self.spare.get_mut(&key).and_then(|v| v.pop()) {
            Some(a) => a.reshape_view(d.shape.clone())?,
            None => NDArray::empty(d.shape.clone(), d.dtype, ctx)?,
        };
        self.made.insert(a.chunk_id(), a.clone());
        Ok(a)
    }
}

/// A node is a source when its values come from outside the plan.
fn is_source(n: &Node, provided: &HashSet<(usize, usize)>) -> bool {
    n.is_variable()
        || n.has_values()
        || (0..n.num_outputs()).any(|i| provided.contains(&(n as *const Node as usize, i)))
}

impl Plan {
    /// Plans the computation of `heads`. Variables, nodes with recorded values, and entries in
    /// `provided` (slots the caller fills) are not computed.
    pub fn new(slots: &mut Slots, heads: &[Entry], provided: &[Entry]) -> Plan {
        let provided: HashSet<(usize, usize)> = provided.iter().map(|e| e.key()).collect();
        let mut seen: HashSet<usize> = HashSet::new();
        let mut order: Vec<Arc<Node>> = Vec::new();
        for h in heads {
            if !seen.insert(Arc::as_ptr(&h.node) as usize) {
                continue;
            }
            let mut stack: Vec<(Arc<Node>, usize)> = vec![(h.node.clone(), 0)];
            while let Some((n, i)) = stack.pop() {
                let source = is_source(&n, &provided);
                if !source && i < n.inputs.len() {
                    let child = n.inputs[i].node.clone();
                    stack.push((n, i + 1));
                    if seen.insert(Arc::as_ptr(&child) as usize) {
                        stack.push((child, 0));
                    }
                } else {
                    order.push(n);
                }
            }
        }
        let mut steps = Vec::new();
        let mut preset = Vec::new();
        for n in order {
            if is_source(&n, &provided) {
                if let Some(vals) = n.recorded() {
                    for (i, v) in vals.into_iter().enumerate() {
                        let s = slots.slot(&n.entry(i));
                        preset.push((s, v));
                    }
                }
                continue;
            }
            let ins = n.inputs.iter().map(|e| slots.slot(e)).collect();
            let outs = (0..n.num_outputs())
                .map(|i| slots.slot(&n.entry(i)))
                .collect();
            steps.push(Step {
                node: n,
                ins,
                outs,
                free: Vec::new(),
                ctx: None,
            });
        }
        let owned = steps.iter().flat_map(|s| s.outs.iter().copied()).collect();
        Plan {
            steps,
            preset,
            owned,
            copy_misfits: false,
        }
    }

    /// Marks slots for release after their last reader, except those in `keep`.
    pub fn set_frees(&mut self, keep: &HashSet<usize>) {
        let mut last: HashMap<usize, usize> = HashMap::new();
        for (i, s) in self.steps.iter().enumerate() {
            for &x in s.ins.iter().chain(&s.outs) {
                last.insert(x, i);
            }
        }
        for s in &mut self.steps {
            s.free.clear();
        }
        for (x, i) in last {
            if !keep.contains(&x) {
                self.steps[i].free.push(x);
            }
        }
    }

    /// For an elementwise step whose first input dies here and was computed by an earlier
    /// step of this plan (not a caller's array), the input to overwrite with the output.
    /// The input must not share its memory with another live slot (a reshape's view of it).
    fn inplace_input(
        &self,
        step: &Step,
        ins: &[NDArray],
        bound: &HashMap<usize, NDArray>,
        recycler: Option<&Recycler>,
    ) -> Option<usize> {
        let op = step.node.op.as_ref()?;
        if !op.inplace() || step.outs.len() != 1 || bound.contains_key(&step.outs[0]) {
            return None;
        }
        let s = *step.ins.first()?;
        if !step.free.contains(&s)
            || bound.contains_key(&s)
            || step.ins[1..].contains(&s)
            || !self.owned.contains(&s)
            || recycler.is_some_and(|r| r.holders(&ins[0]) > 1)
        {
            return None;
        }
        let descs = crate::op::Desc::of_all(ins);
        let out = op.infer(&descs).ok()?;
        (out.len() == 1 && out[0] == descs[0]).then_some(0)
    }

    /// For a step that only reshapes its first input (`Flatten`, `Reshape`, their gradients),
    /// a view of that input in the output's shape instead of a copy: when the input is an
    /// array this plan computed (not an argument the caller may overwrite before a backward
    /// pass reads it) and the output is not written into a caller's array.
    fn reshaped_view(
        &self,
        step: &Step,
        ins: &[NDArray],
        bound: &HashMap<usize, NDArray>,
    ) -> Option<NDArray> {
        let op = step.node.op.as_ref()?;
        let (&s, &o) = (step.ins.first()?, step.outs.first()?);
        if !op.reshapes_input()
            || step.outs.len() != 1
            || bound.contains_key(&o)
            || bound.contains_key(&s)
            || !self.owned.contains(&s)
        {
            return None;
        }
        let descs = Desc::of_all(ins);
        let out = op.infer(&descs).ok()?;
        ins[0].reshape_view(out.first()?.shape.clone()).ok()
    }

    /// Every slot this plan reads or writes.
    pub fn used_slots(&self) -> HashSet<usize> {
        self.steps
            .iter()
            .flat_map(|s| s.ins.iter().chain(&s.outs).copied())
            .collect()
    }

    /// Runs the plan. `bound` gives arrays that steps must write their outputs into (executor
    /// outputs and gradient buffers). With `record`, every step's outputs are also recorded as
    /// new graph nodes (autograd's `create_graph`): the map goes from old entries to new ones.
    /// `watch` sees each step's inputs before it is pushed and its outputs after (`Monitor`).
    pub fn run(
        &self,
        values: &mut [Option<NDArray>],
        bound: &HashMap<usize, NDArray>,
        is_train: bool,
        mut record: Option<&mut HashMap<(usize, usize), Entry>>,
        mut watch: Option<Watch<'_>>,
    ) -> Result<()> {
        for (s, v) in &self.preset {
            values[*s] = Some(v.clone());
        }
        // A recorded graph or a monitor may keep arrays beyond their last reader here.
        let mut recycler = (record.is_none() && watch.is_none()).then(Recycler::default);
        for step in &self.steps {
            let Some(op) = &step.node.op else { continue };
            let ins = step
                .ins
                .iter()
                .map(|&s| {
                    values[s].clone().ok_or_else(|| {
                        Error::Internal(format!(
                            "operator {} ({}) reads a value that was not computed",
                            step.node.name,
                            op.name()
                        ))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let ins = match step.ctx {
                Some(c) => ins
                    .into_iter()
                    .map(|a| in_context(a, c))
                    .collect::<Result<Vec<_>>>()?,
                None => ins,
            };
            if let Some(w) = watch.as_deref_mut() {
                w(&step.node, Watched::Inputs, &ins)?;
            }
            let targets: Vec<Option<&NDArray>> = step.outs.iter().map(|s| bound.get(s)).collect();
            // A bound array on another context than the step's is filled by a copy.
            let direct = targets
                .iter()
                .all(|t| t.is_some_and(|t| step.ctx.is_none_or(|c| t.ctx() == c)));
            let reuse = if record.is_none() {
                self.inplace_input(step, &ins, bound, recycler.as_ref())
            } else {
                None
            };
            // Views only where the recycler tracks who shares memory (no tape, no monitor).
            let view = recycler
                .as_ref()
                .and_then(|_| self.reshaped_view(step, &ins, bound));
            let outs = if let Some(v) = view {
                vec![v]
            } else if let Some(k) = reuse {
                invoke_with(
                    op,
                    &ins,
                    Some(std::slice::from_ref(&ins[k])),
                    None,
                    is_train,
                    None,
                )?
            } else {
                // Shape and dtype errors come before anything is pushed: a misfit may retry.
                let direct = direct.then(|| {
                    let o: Vec<NDArray> = targets.iter().flatten().map(|a| (*a).clone()).collect();
                    invoke_with(op, &ins, Some(&o), None, is_train, None)
                });
                match direct {
                    Some(Ok(o)) => o,
                    Some(Err(e)) if !self.copy_misfits => return Err(e),
                    _ => {
                        // Outputs whose bound array fits are still written straight into it
                        // (a convolution's weight and bias gradients when its data needs
                        // none); the others are made here, and bound ones copied after.
                        let mut placed = vec![false; targets.len()];
                        let mut k = 0;
                        let mut alloc = |d: &Desc, ctx: Context| {
                            let fit = targets.get(k).copied().flatten().filter(|t| {
                                t.shape() == &d.shape && t.dtype() == d.dtype && t.ctx() == ctx
                            });
                            k += 1;
                            if let Some(t) = fit {
                                placed[k - 1] = true;
                                return Ok(t.clone());
                            }
                            match recycler.as_mut() {
                                Some(r) => r.alloc(d, ctx),
                                None => NDArray::empty(d.shape.clone(), d.dtype, ctx),
                            }
                        };
                        let o = invoke_with(op, &ins, None, None, is_train, Some(&mut alloc))?;
                        for ((t, v), &p) in targets.iter().zip(&o).zip(&placed) {
                            if let (Some(t), false) = (t, p) {
                                crate::op::copy_into(v, t, None)?;
                            }
                        }
                        o
                    }
                }
            };
            if let Some(map) = record.as_deref_mut() {
                let inputs = step
                    .node
                    .inputs
                    .iter()
                    .map(|e| map.get(&e.key()).cloned().unwrap_or_else(|| e.clone()))
                    .collect();
                let n = Node::from_op(
                    op.clone(),
                    step.node.name.clone(),
                    step.node.attrs(),
                    inputs,
                    Some(outs.clone()),
                );
                for i in 0..outs.len() {
                    map.insert(step.node.entry(i).key(), n.entry(i));
                }
            }
            if let Some(w) = watch.as_deref_mut() {
                w(&step.node, Watched::Outputs, &outs)?;
            }
            for (&s, o) in step.outs.iter().zip(outs) {
                if let Some(r) = recycler.as_mut() {
                    r.hold(&o);
                    if let Some(old) = &values[s] {
                        r.drop_slot(old);
                    }
                }
                values[s] = Some(o);
            }
            for &s in &step.free {
                if let (Some(r), Some(old)) = (recycler.as_mut(), &values[s]) {
                    r.drop_slot(old);
                }
                values[s] = None;
            }
        }
        Ok(())
    }
}

/// Computes `heads` from nodes with recorded values (autograd), returning their arrays.
pub fn evaluate(heads: &[Entry], is_train: bool) -> Result<Vec<NDArray>> {
    Ok(evaluate_with(heads, is_train, false)?.0)
}

/// `evaluate`, computing each head that has a destination straight into it where a step of
/// the plan writes that head, and no array the plan reads or another destination shares the
/// destination's memory (autograd writes gradients into their buffers without a copy).
/// Returns the heads' arrays and, per head, whether its destination was written.
pub fn evaluate_into(
    heads: &[Entry],
    dests: &[Option<NDArray>],
    is_train: bool,
) -> Result<(Vec<NDArray>, Vec<bool>)> {
    if dests.len() != heads.len() {
        return Err(Error::Internal(
            "evaluate_into: one destination per head".into(),
        ));
    }
    let mut slots = Slots::default();
    let mut plan = Plan::new(&mut slots, heads, &[]);
    plan.copy_misfits = true;
    let keep: HashSet<usize> = heads.iter().map(|h| slots.slot(h)).collect();
    plan.set_frees(&keep);
    let mut bound: HashMap<usize, NDArray> = HashMap::new();
    for (h, d) in heads.iter().zip(dests) {
        let (Some(d), Some(s)) = (d, slots.get(h)) else {
            continue;
        };
        let shared = plan.preset.iter().any(|(_, v)| v.same_chunk(d))
            || bound.values().any(|b| b.same_chunk(d));
        if plan.owned.contains(&s) && !shared && !bound.contains_key(&s) {
            bound.insert(s, d.clone());
        }
    }
    let mut values = vec![None; slots.len()];
    rt().engine.bulk(is_train, || {
        plan.run(&mut values, &bound, is_train, None, None)
    })?;
    let mut arrays = Vec::with_capacity(heads.len());
    let mut written = Vec::with_capacity(heads.len());
    for (h, d) in heads.iter().zip(dests) {
        let s = slots
            .get(h)
            .ok_or_else(|| Error::Internal("an evaluated head has no slot".into()))?;
        let v = values[s]
            .clone()
            .ok_or_else(|| Error::Internal("an evaluated head has no value".into()))?;
        written.push(matches!((d, bound.get(&s)), (Some(d), Some(b)) if b.same_chunk(d)));
        arrays.push(v);
    }
    Ok((arrays, written))
}

/// `evaluate`; with `record`, also returns entries of a new recorded graph computing each head
/// (so the results can be differentiated again).
pub fn evaluate_with(
    heads: &[Entry],
    is_train: bool,
    record: bool,
) -> Result<(Vec<NDArray>, Vec<Entry>)> {
    let mut slots = Slots::default();
    let mut plan = Plan::new(&mut slots, heads, &[]);
    let keep: HashSet<usize> = heads.iter().map(|h| slots.slot(h)).collect();
    plan.set_frees(&keep);
    let mut values = vec![None; slots.len()];
    let mut map = HashMap::new();
    rt().engine.bulk(is_train, || {
        plan.run(
            &mut values,
            &HashMap::new(),
            is_train,
            record.then_some(&mut map),
            None,
        )
    })?;
    let arrays = heads
        .iter()
        .map(|h| {
            slots
                .get(h)
                .and_then(|s| values[s].clone())
                .ok_or_else(|| Error::Internal("an evaluated head has no value".into()))
        })
        .collect::<Result<Vec<_>>>()?;
    let entries = if record {
        heads
            .iter()
            .map(|h| map.get(&h.key()).cloned().unwrap_or_else(|| h.clone()))
            .collect()
    } else {
        Vec::new()
    };
    Ok((arrays, entries))
}
