//! The symbolic executor (`Symbol.bind`): forward and backward plans over one graph, with
//! argument, gradient, auxiliary and output arrays bound by the caller. Forward and backward
//! push their steps to the engine and return at once.

use crate::context::Context;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::graph::eval::{Plan, Slots, Watch, Watched};
use crate::graph::gradient::{gradient_parts, HEAD_GRAD_REQUIRED};
use crate::graph::place::{place, Placement};
use crate::graph::symbol::{input_names, output_name};
use crate::graph::{list_inputs, topo_order, Entry, Node};
use crate::ndarray::NDArray;
use crate::op::elemwise_binary::{binary_op, BinOp};
use crate::op::{copy_into, in_context, invoke_mode, Desc};
use crate::runtime::rt;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// MXNet's grad_req per argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GradReq {
    Null,
    Write,
    Add,
}

impl GradReq {
    pub fn parse(s: &str) -> Result<GradReq> {
        match s {
            "null" => Ok(GradReq::Null),
            "write" | "inplace" => Ok(GradReq::Write),
            "add" => Ok(GradReq::Add),
            _ => Err(Error::Value(format!(
                "grad_req={s} is not a valid input; only 'null', 'write', and 'add' are supported"
            ))),
        }
    }
}

struct Backward {
    plan: Plan,
    /// Per head: the slot its gradient is read from (None for loss heads).
    head_grad_slots: Vec<Option<usize>>,
    bound: HashMap<usize, NDArray>,
    /// (slot, argument index) gradients to copy or add after the plan ran.
    finish: Vec<(usize, usize)>,
    /// Per op node differentiated, MXNet's monitor names of the gradients it gave its inputs
    /// (`fc1_backward_output1`).
    monitored: Vec<Vec<MonitoredGrad>>,
}

/// One output of a backward node as MXNet's monitor names it: the gradient-graph entry the
/// rule gave (None for a label's), and the forward input it is the gradient of.
struct MonitoredGrad {
    name: String,
    grad: Option<Entry>,
    input: Entry,
}

/// MXNet's names of a backward node's outputs: one per non-auxiliary input of the forward
/// node, `<node>_backward_output<i>`, or `<node>_backward_output` when there is one.
fn backward_output_names(node: &Node, grads: &[Option<Entry>]) -> Vec<MonitoredGrad> {
    let aux = node
        .op
        .as_ref()
        .map(|o| o.aux_inputs().to_vec())
        .unwrap_or_default();
    let shown: Vec<usize> = (0..grads.len()).filter(|i| !aux.contains(i)).collect();
    shown
        .iter()
        .enumerate()
        .map(|(k, &i)| MonitoredGrad {
            name: if shown.len() == 1 {
                format!("{}_backward_output", node.name)
            } else {
                format!("{}_backward_output{k}", node.name)
            },
            grad: grads[i].clone(),
            input: node.inputs[i].clone(),
        })
        .collect()
}

pub struct Executor {
    heads: Vec<Entry>,
    pub arg_nodes: Vec<Arc<Node>>,
    pub aux_nodes: Vec<Arc<Node>>,
    pub args: Vec<NDArray>,
    pub grads: Vec<Option<NDArray>>,
    pub reqs: Vec<GradReq>,
    pub aux: Vec<NDArray>,
    pub outputs: Vec<NDArray>,
    var_slots: Vec<usize>,
    fwd: Plan,
    fwd_bound: HashMap<usize, NDArray>,
    /// Heads that are variables (or repeated): copied into their output after forward.
    out_copies: Vec<(usize, usize)>,
    /// Heads whose shapes only forward learns: their outputs are the arrays it computed.
    dynamic_outs: Vec<(usize, usize)>,
    bwd: std::result::Result<Backward, Error>,
    values: Vec<Option<NDArray>>,
    slots: Slots,
}

/// An entry of the graph: (node address, output index).
type EntryKey = (usize, usize);

/// Shapes and dtypes of every entry, from the argument arrays (a forward pass of each op's
/// inference, so wrong shapes are reported at bind with the op's own message), and the
/// entries whose shapes are known only when the graph runs (downstream of an op whose shape
/// depends on values).
fn infer_entries(
    heads: &[Entry],
    known: &HashMap<EntryKey, Desc>,
) -> Result<(HashMap<EntryKey, Desc>, HashSet<EntryKey>)> {
    let mut descs = known.clone();
    let mut dynamic = HashSet::new();
    for n in topo_order(heads) {
        let Some(op) = &n.op else { continue };
        if n.inputs.iter().any(|e| dynamic.contains(&e.key())) {
            dynamic.extend((0..n.num_outputs()).map(|i| n.entry(i).key()));
            continue;
        }
        let ins = n
            .inputs
            .iter()
            .map(|e| {
                descs.get(&e.key()).cloned().ok_or_else(|| {
                    Error::Value(format!(
                        "Error in operator {}: input {} has no known shape",
                        n.name, e.node.name
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let outs = match op.infer(&ins) {
            Err(_) if op.shape_needs_values() => {
                dynamic.extend((0..n.num_outputs()).map(|i| n.entry(i).key()));
                continue;
            }
            r => r.map_err(|e| {
                Error::shape(&format!("Error in operator {}", n.name), e.to_string())
            })?,
        };
        for (i, d) in outs.into_iter().enumerate() {
            descs.insert(n.entry(i).key(), d);
        }
    }
    Ok((descs, dynamic))
}

impl Executor {
    /// Binds `heads` to arrays: `args` in list_arguments order, `grads`/`reqs` per argument,
    /// `aux` in list_auxiliary_states order. Arrays are used directly, not copied. With a
    /// `placement` (`group2ctx`), every step runs on the context its group gives
    /// ([`place`]); without one, each op runs where its inputs are.
    pub fn bind(
        heads: Vec<Entry>,
        args: Vec<NDArray>,
        grads: Vec<Option<NDArray>>,
        reqs: Vec<GradReq>,
        aux: Vec<NDArray>,
        placement: Option<Placement>,
    ) -> Result<Executor> {
        let (arg_nodes, aux_nodes) = list_inputs(&heads);
        if args.len() != arg_nodes.len() {
            return Err(Error::Value(
                "Length of args does not match the number of arguments".into(),
            ));
        }
        if aux.len() != aux_nodes.len() {
            return Err(Error::Value(
                "Length of aux_states does not match the number of arguments".into(),
            ));
        }
        if grads.len() != args.len() || reqs.len() != args.len() {
            return Err(Error::Value(
                "Length of args_grad/grad_req does not match the number of arguments".into(),
            ));
        }
        let mut known = HashMap::new();
        for (n, a) in arg_nodes
            .iter()
            .zip(&args)
            .chain(aux_nodes.iter().zip(&aux))
        {
            known.insert(n.entry(0).key(), Desc::of(a));
        }
        for ((n, g), a) in arg_nodes.iter().zip(&grads).zip(&args) {
            if let Some(g) = g {
                if g.shape() != a.shape() {
                    return Err(Error::shape(
                        "bind",
                        format!(
                            "gradient array of {} has shape {}, the argument {}",
                            n.name,
                            g.shape(),
                            a.shape()
                        ),
                    ));
                }
            }
        }
        let (descs, dynamic) = infer_entries(&heads, &known)?;
        let ctx = args
            .first()
            .or(aux.first())
            .map(|a| a.ctx())
            .unwrap_or_default();
        let mut slots = Slots::default();
        let var_slots: Vec<usize> = arg_nodes
            .iter()
            .chain(&aux_nodes)
            .map(|n| slots.slot(&n.entry(0)))
            .collect();
        let mut fwd = Plan::new(&mut slots, &heads, &[]);
        let mut bwd = Self::plan_backward(&heads, &arg_nodes, &grads, &reqs, &fwd, &mut slots);
        let var_ctx: HashMap<usize, Context> = var_slots
            .iter()
            .zip(args.iter().chain(&aux))
            .map(|(&s, a)| (s, a.ctx()))
            .collect();
        if let Some(p) = &placement {
            let mut plans = vec![&mut fwd];
            if let Ok(b) = &mut bwd {
                plans.push(&mut b.plan);
            }
            place(&mut plans, &var_ctx, p)?;
        }
        // Each output lives where the step computing it runs (a variable's, where it is).
        let mut out_ctx = var_ctx;
        for st in &fwd.steps {
            if let Some(c) = st.ctx {
                out_ctx.extend(st.outs.iter().map(|&o| (o, c)));
            }
        }
        let mut outputs = Vec::with_capacity(heads.len());
        let mut fwd_bound = HashMap::new();
        let mut out_copies = Vec::new();
        let mut dynamic_outs = Vec::new();
        for (i, h) in heads.iter().enumerate() {
            let s = slots.slot(h);
            if dynamic.contains(&h.key()) {
                // Shape unknown until forward: an empty stand-in, replaced by what it computes.
                dynamic_outs.push((s, i));
                outputs.push(NDArray::empty(
                    crate::shape::Shape::new(vec![0]),
                    DType::F32,
                    ctx,
                )?);
                continue;
            }
            let d = descs
                .get(&h.key())
                .ok_or_else(|| Error::Internal("a head has no inferred shape".into()))?;
            let o = NDArray::empty(
                d.shape.clone(),
                d.dtype,
                out_ctx.get(&s).copied().unwrap_or(ctx),
            )?;
            if h.node.is_variable() || fwd_bound.contains_key(&s) {
                out_copies.push((s, i));
            } else {
                fwd_bound.insert(s, o.clone());
            }
            outputs.push(o);
        }
        let mut keep: HashSet<usize> = var_slots.iter().copied().collect();
        keep.extend(heads.iter().map(|h| slots.slot(h)));
        let fwd_slots = fwd.used_slots();
        if let Ok(b) = &bwd {
            keep.extend(b.plan.used_slots().intersection(&fwd_slots));
        }
        fwd.set_frees(&keep);
        let mut read: HashSet<usize> = heads.iter().map(|h| slots.slot(h)).collect();
        read.extend(fwd.steps.iter().flat_map(|s| s.ins.iter().copied()));
        if let Ok(b) = &bwd {
            read.extend(b.plan.steps.iter().flat_map(|s| s.ins.iter().copied()));
        }
        specialise_unread(&mut fwd, &read);
        if let Ok(b) = &mut bwd {
            let mut keep_b: HashSet<usize> = fwd_slots;
            keep_b.extend(var_slots.iter().copied());
            // Gradients copied or added into their buffers after the plan must outlive it.
            keep_b.extend(b.finish.iter().map(|&(s, _)| s));
            b.plan.set_frees(&keep_b);
        }
        let values = vec![None; slots.len()];
        Ok(Executor {
            heads,
            arg_nodes,
            aux_nodes,
            args,
            grads,
            reqs,
            aux,
            outputs,
            var_slots,
            fwd,
            fwd_bound,
            out_copies,
            dynamic_outs,
            bwd,
            values,
            slots,
        })
    }

    fn plan_backward(
        heads: &[Entry],
        arg_nodes: &[Arc<Node>],
        grads: &[Option<NDArray>],
        reqs: &[GradReq],
        fwd: &Plan,
        slots: &mut Slots,
    ) -> Result<Backward> {
        let wrt_idx: Vec<usize> = (0..arg_nodes.len())
            .filter(|&i| reqs[i] != GradReq::Null && grads[i].is_some())
            .collect();
        let mut head_grads = Vec::new();
        let mut head_grad_slots = Vec::new();
        for (i, h) in heads.iter().enumerate() {
            if h.node.op.as_ref().is_some_and(|o| o.is_loss()) {
                head_grads.push(None);
                head_grad_slots.push(None);
            } else {
                let v = Node::variable(format!("head_grad{i}"), Vec::new()).entry(0);
                head_grad_slots.push(Some(slots.slot(&v)));
                head_grads.push(Some(v));
            }
        }
        if wrt_idx.is_empty() {
            return Ok(Backward {
                plan: Plan {
                    steps: Vec::new(),
                    preset: Vec::new(),
                    owned: HashSet::new(),
                    copy_misfits: false,
                },
                head_grad_slots,
                bound: HashMap::new(),
                finish: Vec::new(),
                monitored: Vec::new(),
            });
        }
        let wrt: Vec<Entry> = wrt_idx.iter().map(|&i| arg_nodes[i].entry(0)).collect();
        let (g, node_grads) = gradient_parts(heads, &head_grads, &wrt)?;
        let monitored = node_grads
            .iter()
            .map(|(n, grads)| backward_output_names(n, grads))
            .collect();
        let provided: Vec<Entry> = fwd
            .steps
            .iter()
            .flat_map(|s| (0..s.outs.len()).map(|i| s.node.entry(i)))
            .collect();
        let targets: Vec<Entry> = g.iter().flatten().cloned().collect();
        let plan = Plan::new(slots, &targets, &provided);
        let produced: HashSet<usize> = plan.steps.iter().flat_map(|s| s.outs.clone()).collect();
        let mut bound = HashMap::new();
        let mut finish = Vec::new();
        for (k, &i) in wrt_idx.iter().enumerate() {
            let Some(e) = &g[k] else {
                // No path: the gradient is zero (write) or unchanged (add).
                finish.push((usize::MAX, i));
                continue;
            };
            let s = slots.slot(e);
            let grad = grads[i]
                .clone()
                .ok_or_else(|| Error::Internal("grad".into()))?;
            if reqs[i] == GradReq::Write && produced.contains(&s) && !bound.contains_key(&s) {
                bound.insert(s, grad);
            } else {
                finish.push((s, i));
            }
        }
        Ok(Backward {
            plan,
            head_grad_slots,
            bound,
            finish,
            monitored,
        })
    }

    pub fn heads(&self) -> &[Entry] {
        &self.heads
    }

    /// Runs the forward plan (`is_train` selects training behaviour of Dropout, BatchNorm).
    pub fn forward(&mut self, is_train: bool) -> Result<()> {
        self.forward_watched(is_train, None)
    }

    /// `forward`, showing `monitor` every op's outputs as MXNet's monitor callback names them
    /// (`fc1_output`); with `monitor_inputs`, also every op's inputs before it runs
    /// (`fc1_data`) and the variables it reads (`fc1_weight`).
    pub fn forward_monitored(
        &mut self,
        is_train: bool,
        monitor_inputs: bool,
        monitor: &mut dyn FnMut(&str, &NDArray) -> Result<()>,
    ) -> Result<()> {
        let mut watch = |node: &Arc<Node>, seen: Watched, arrays: &[NDArray]| -> Result<()> {
            let Some(op) = &node.op else { return Ok(()) };
            match seen {
                Watched::Inputs if monitor_inputs => {
                    // A variable is shown under its own name just before each input that
                    // reads it, the order MXNet shows them in.
                    let names = input_names(op.name(), op.as_ref(), arrays.len())?;
                    for ((name, a), e) in names.iter().zip(arrays).zip(&node.inputs) {
                        if e.node.is_variable() {
                            monitor(&e.node.name, a)?;
                        }
                        monitor(&format!("{}_{name}", node.name), a)?;
                    }
                }
                Watched::Inputs => {}
                // Hidden outputs too (BatchNorm's mean and var), as MXNet's monitor shows them.
                Watched::Outputs => {
                    for (i, a) in arrays.iter().enumerate() {
                        monitor(&output_name(&node.entry(i)), a)?;
                    }
                }
            }
            Ok(())
        };
        self.forward_watched(is_train, Some(&mut watch))
    }

    fn forward_watched(&mut self, is_train: bool, watch: Option<Watch<'_>>) -> Result<()> {
        for (k, &s) in self.var_slots.iter().enumerate() {
            let a = if k < self.args.len() {
                &self.args[k]
            } else {
                &self.aux[k - self.args.len()]
            };
            self.values[s] = Some(a.clone());
        }
        rt().engine.bulk(is_train, || {
            self.fwd
                .run(&mut self.values, &self.fwd_bound, is_train, None, watch)?;
            for &(s, i) in &self.out_copies {
                let v = self.values[s]
                    .clone()
                    .ok_or_else(|| Error::Internal("an output was not computed".into()))?;
                copy_into(&v, &self.outputs[i], None)?;
            }
            for &(s, i) in &self.dynamic_outs {
                self.outputs[i] = self.values[s]
                    .clone()
                    .ok_or_else(|| Error::Internal("an output was not computed".into()))?;
            }
            Ok(())
        })
    }

    /// Whether forward replaces some outputs (their shapes depend on values).
    pub fn has_dynamic_outputs(&self) -> bool {
        !self.dynamic_outs.is_empty()
    }

    /// Runs the backward plan; `out_grads[i]` is the gradient of head i (ignored for loss
    /// heads; required for others).
    pub fn backward(&mut self, out_grads: &[Option<NDArray>], is_train: bool) -> Result<()> {
        self.backward_watched(out_grads, is_train, None)
    }

    /// `backward`, showing `monitor` the gradient each op gave each of its inputs under
    /// MXNet's backward node names (`fc1_backward_output1`: fc1's weight gradient), node by
    /// node in backward order. A gradient nothing asked for (the data's in training, a
    /// label's) shows as zeros shaped like its input, where MXNet shows whatever its kernel
    /// left in that output (zeros for some ops, the computed gradient for others).
    pub fn backward_monitored(
        &mut self,
        out_grads: &[Option<NDArray>],
        is_train: bool,
        monitor: &mut dyn FnMut(&str, &NDArray) -> Result<()>,
    ) -> Result<()> {
        let groups: &[Vec<MonitoredGrad>] = match &self.bwd {
            Ok(b) => &b.monitored,
            Err(_) => &[],
        };
        let wanted: HashSet<(usize, usize)> = groups
            .iter()
            .flatten()
            .filter_map(|m| m.grad.as_ref().map(|e| e.key()))
            .collect();
        // Input arrays as zero templates, taken before the plan may reuse their buffers.
        let value = |e: &Entry| self.slots.get(e).and_then(|s| self.values[s].clone());
        let templates: HashMap<(usize, usize), NDArray> = groups
            .iter()
            .flatten()
            .filter_map(|m| value(&m.input).map(|v| (m.input.key(), v)))
            .collect();
        // Each gradient is copied as its step produces it (a later step may overwrite its
        // buffer in place) and shown once the plan ran, in MXNet's order.
        let mut copies: HashMap<(usize, usize), NDArray> = HashMap::new();
        let mut watch = |node: &Arc<Node>, seen: Watched, arrays: &[NDArray]| -> Result<()> {
            if seen == Watched::Outputs {
                for (i, a) in arrays.iter().enumerate() {
                    let key = node.entry(i).key();
                    if wanted.contains(&key) && !copies.contains_key(&key) {
                        let c = crate::op::call_str("_copy", std::slice::from_ref(a), &[])?;
                        if let Some(c) = c.into_iter().next() {
                            copies.insert(key, c);
                        }
                    }
                }
            }
            Ok(())
        };
        self.backward_watched(out_grads, is_train, Some(&mut watch))?;
        let Ok(b) = &self.bwd else { return Ok(()) };
        let value = |e: &Entry| self.slots.get(e).and_then(|s| self.values[s].clone());
        for m in b.monitored.iter().flatten() {
            // Produced by a step, or a head's given gradient passed through unchanged.
            let grad = m
                .grad
                .as_ref()
                .and_then(|e| copies.get(&e.key()).cloned().or_else(|| value(e)));
            let shown = match (grad, templates.get(&m.input.key())) {
                (Some(g), _) => Some(g),
                (None, Some(t)) => crate::op::call_str("zeros_like", std::slice::from_ref(t), &[])?
                    .into_iter()
                    .next(),
                (None, None) => None,
            };
            if let Some(v) = shown {
                monitor(&m.name, &v)?;
            }
        }
        Ok(())
    }

    fn backward_watched(
        &mut self,
        out_grads: &[Option<NDArray>],
        is_train: bool,
        watch: Option<Watch<'_>>,
    ) -> Result<()> {
        if self.values[self.var_slots.first().copied().unwrap_or(0)].is_none()
            && self.bwd.as_ref().is_ok_and(|b| !b.plan.steps.is_empty())
        {
            // MXNet runs a backward with no forward before it on whatever its buffers hold
            // (right for ops that read only their inputs); the forward pass it skipped gives
            // every op the values its gradient reads.
            self.forward_watched(is_train, None)?;
        }
        let b = self.bwd.as_ref().map_err(|e| e.clone())?;
        for (i, s) in b.head_grad_slots.iter().enumerate() {
            let Some(s) = s else { continue };
            // Only a head gradient the backward pass reads matters: the gradient of `x > y`
            // or `shape_array(x)` is zero whatever comes in (MXNet takes any shape there).
            let read = b.plan.steps.iter().any(|st| st.ins.contains(s))
                || b.finish.iter().any(|&(f, _)| f == *s);
            match out_grads.get(i).cloned().flatten() {
                Some(g) if !read && g.shape() != self.outputs[i].shape() => {}
                Some(g) => {
                    if g.shape() != self.outputs[i].shape() {
                        return Err(Error::shape(
                            "backward",
                            format!(
                                "out_grads[{i}] has shape {}, the output {}",
                                g.shape(),
                                self.outputs[i].shape()
                            ),
                        ));
                    }
                    // MXNet copies a head gradient into a buffer of the output's dtype and
                    // context.
                    let out = &self.outputs[i];
                    let g = in_context(g, out.ctx())?;
                    self.values[*s] = Some(if g.dtype() == out.dtype() {
                        g
                    } else {
                        cast(&g, out.dtype())?
                    })
                }
                None if read => return Err(Error::Graph(HEAD_GRAD_REQUIRED.into())),
                None => {}
            }
        }
        rt().engine.bulk(is_train, || {
            b.plan
                .run(&mut self.values, &b.bound, is_train, None, watch)?;
            for &(s, i) in &b.finish {
                let Some(grad) = &self.grads[i] else { continue };
                let add = self.reqs[i] == GradReq::Add;
                if s == usize::MAX {
                    if !add {
                        fill_zero(grad)?;
                    }
                    continue;
                }
                let v = self.values[s]
                    .clone()
                    .ok_or_else(|| Error::Internal("a gradient was not computed".into()))?;
                if add {
                    binary_add_into(grad, &v)?;
                } else {
                    copy_into(&v, grad, None)?;
                }
            }
            Ok(())
        })
    }

    /// Slot count (for tests of the memory plan).
    pub fn num_slots(&self) -> usize {
        self.slots.len()
    }
}

/// Gives each forward op the outputs nobody reads ([`crate::op::Operator::for_unread_outputs`]).
fn specialise_unread(fwd: &mut Plan, read: &HashSet<usize>) {
    for st in &mut fwd.steps {
        let Some(op) = &st.node.op else { continue };
        let unread: Vec<bool> = st.outs.iter().map(|s| !read.contains(s)).collect();
        if let Some(op) = op.for_unread_outputs(&unread) {
            let n = &st.node;
            st.node = Node::from_op(op, n.name.clone(), n.attrs(), n.inputs.clone(), None);
        }
    }
}

/// `grad += v` in place (grad_req `add`), `v` first copied to `grad`'s context.
fn binary_add_into(grad: &NDArray, v: &NDArray) -> Result<()> {
    let v = &in_context(v.clone(), grad.ctx())?;
    let op = binary_op(BinOp::Add, false);
    invoke_mode(
        &op,
        &[grad.clone(), v.clone()],
        Some(std::slice::from_ref(grad)),
        None,
        false,
    )?;
    Ok(())
}

fn cast(a: &NDArray, dtype: DType) -> Result<NDArray> {
    let out = crate::op::call_str(
        "Cast",
        std::slice::from_ref(a),
        &[("dtype", &dtype.to_string())],
    )?;
    out.into_iter()
        .next()
        .ok_or_else(|| Error::Internal("Cast gave no output".into()))
}

fn fill_zero(a: &NDArray) -> Result<()> {
    let z = crate::op::call_str("zeros_like", std::slice::from_ref(a), &[])?;
    copy_into(&z[0], a, None)
}
