//! Shape and type inference over a graph (`infer_shape`, `infer_shape_partial`, `infer_type`).
//!
//! Every entry holds what is known of it: `None` (nothing) or a shape whose 0 dims are unknown
//! (MXNet's legacy semantics). Op rules run to a fixpoint, forward then backward over the
//! nodes: each op's `infer_shape_partial` fills what follows from partial knowledge (weights
//! from data, labels from predictions), and its forward `infer` computes the outputs once all
//! inputs are complete. Knowledge only grows, so the loop terminates; a contradiction is an
//! error naming the node, the variables involved, and the chain of known shapes that led there.

use super::node::{topo_order, Entry, Node};
use super::symbol::{keyword_error, node_ptr, Symbol};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::{Desc, Operator};
use crate::shape::Shape;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Per-entry knowledge after inference, by (node pointer, output index).
pub struct EntryInfo<T> {
    map: HashMap<(usize, usize), T>,
}

impl<T: Clone> EntryInfo<T> {
    pub fn get(&self, e: &Entry) -> Option<&T> {
        self.map.get(&e.key())
    }
}

/// Shapes aligned with `list_arguments`, `list_outputs`, `list_auxiliary_states`.
#[derive(Debug, Clone, PartialEq)]
pub struct Inferred<T> {
    pub args: Vec<Option<T>>,
    pub outputs: Vec<Option<T>>,
    pub aux: Vec<Option<T>>,
}

impl<T> Inferred<T> {
    /// True when every argument, output and aux entry is known.
    pub fn all_known(&self, complete: impl Fn(&T) -> bool) -> bool {
        self.args
            .iter()
            .chain(&self.outputs)
            .chain(&self.aux)
            .all(|x| x.as_ref().is_some_and(&complete))
    }
}

/// A shape with every dimension known (legacy: `()` and 0 dims are unknown).
pub fn shape_complete(s: &Shape) -> bool {
    s.ndim() > 0 && s.dims().iter().all(|&d| d > 0)
}

/// Python-style text of a shape: `(100, 784)`, `(5,)`.
pub fn shape_text(s: &Shape) -> String {
    match s.dims() {
        [d] => format!("({d},)"),
        d => format!(
            "({})",
            d.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn opt_text(s: &Option<Shape>) -> String {
    s.as_ref().map_or("unknown".into(), shape_text)
}

/// Combines two partial shapes; `None` when they contradict.
fn merge(a: &Option<Shape>, b: &Option<Shape>) -> Option<Option<Shape>> {
    match (a, b) {
        (None, x) | (x, None) => Some(x.clone()),
        (Some(x), Some(y)) => {
            if x.ndim() == 0 {
                return Some(Some(y.clone()));
            }
            if y.ndim() == 0 {
                return Some(Some(x.clone()));
            }
            if x.ndim() != y.ndim() {
                return None;
            }
            let mut out = Vec::with_capacity(x.ndim());
            for (&p, &q) in x.dims().iter().zip(y.dims()) {
                out.push(match (p, q) {
                    (0, q) => q,
                    (p, 0) => p,
                    (p, q) if p == q => p,
                    _ => return None,
                });
            }
            Some(Some(Shape::new(out)))
        }
    }
}

/// Merges `known` into a partial-shape rule's slot. A contradiction is left for the op's
/// complete rule, which reports it with both shapes once the inputs are known.
pub fn refine(slot: &mut Option<Shape>, known: Shape) {
    if let Some(m) = merge(slot, &Some(known)) {
        *slot = m;
    }
}

/// Completes slots that hold a shape with unknown (0) dimensions, such as the `(0,)` that Gluon
/// exports write on a BatchNorm's parameters: many rules only fill a slot that is wholly
/// unknown, so the rule runs again with those slots emptied and what it finds is merged in,
/// as MXNet's rules fill a 0 dimension.
fn fill_holes(
    op: &dyn Operator,
    ins: &mut [Option<Shape>],
    outs: &mut [Option<Shape>],
) -> std::result::Result<(), String> {
    let is_hole = |s: &Option<Shape>| s.as_ref().is_some_and(|s| !shape_complete(s));
    if !ins.iter().chain(outs.iter()).any(is_hole) {
        return Ok(());
    }
    let empty = |v: &[Option<Shape>]| -> Vec<Option<Shape>> {
        v.iter()
            .map(|s| if is_hole(s) { None } else { s.clone() })
            .collect()
    };
    let (mut ins2, mut outs2) = (empty(ins), empty(outs));
    // A rule that cannot run without the partial shapes has nothing to add here.
    if op.infer_shape_partial(&mut ins2, &mut outs2).is_err() {
        return Ok(());
    }
    for (side, slots, found) in [("input", ins, ins2), ("output", outs, outs2)] {
        for (k, (slot, new)) in slots.iter_mut().zip(found).enumerate() {
            if !is_hole(slot) {
                continue;
            }
            match merge(slot, &new) {
                Some(m) => *slot = m,
                None => {
                    return Err(format!(
                        "Shape inconsistent, Provided = {}, inferred shape={} ({side} {k})",
                        slot.as_ref().map(shape_text).unwrap_or_default(),
                        new.as_ref().map(shape_text).unwrap_or_default()
                    ))
                }
            }
        }
    }
    Ok(())
}

/// The shape rule of elementwise ops (every input and output has one shape): merges what is
/// known of each into all of them, so `a + b` learns `b` from `a` and `(2, 0)` + `(0, 3)`
/// gives `(2, 3)`. Ops set it with `FnOp::with_shape_partial(same_shape_partial)`.
pub fn same_shape_partial(
    inputs: &mut [Option<Shape>],
    outputs: &mut [Option<Shape>],
) -> Result<()> {
    let mut acc: Option<Shape> = None;
    for (i, s) in inputs.iter().enumerate() {
        match merge(&acc, s) {
            Some(m) => acc = m,
            None => {
                return Err(Error::shape(
                    "",
                    format!(
                        "Incompatible attr at {i}-th input: expected {}, got {}",
                        acc.unwrap_or_default(),
                        s.clone().unwrap_or_default()
                    ),
                ))
            }
        }
    }
    for (i, s) in outputs.iter().enumerate() {
        match merge(&acc, s) {
            Some(m) => acc = m,
            None => {
                return Err(Error::shape(
                    "",
                    format!(
                        "Incompatible attr at {i}-th output: expected {}, got {}",
                        acc.unwrap_or_default(),
                        s.clone().unwrap_or_default()
                    ),
                ))
            }
        }
    }
    if acc.is_some() {
        for s in inputs.iter_mut().chain(outputs.iter_mut()) {
            *s = acc.clone();
        }
    }
    Ok(())
}

/// Parses MXNet's `__shape__` text `"(3, 4)"`.
fn parse_shape_attr(s: &str) -> Option<Shape> {
    let t = s
        .trim()
        .trim_start_matches(['(', '['])
        .trim_end_matches([')', ']']);
    let dims: Option<Vec<usize>> = t
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| x.parse::<i64>().ok().map(|v| v.max(0) as usize))
        .collect();
    dims.map(Shape::new)
}

struct Graph {
    order: Vec<Arc<Node>>,
    index: HashMap<usize, usize>,
}

impl Graph {
    fn new(heads: &[Entry]) -> Graph {
        let order = topo_order(heads);
        let index = order
            .iter()
            .enumerate()
            .map(|(i, n)| (node_ptr(n), i))
            .collect();
        Graph { order, index }
    }

    fn id(&self, n: &Arc<Node>) -> usize {
        self.index.get(&node_ptr(n)).copied().unwrap_or(0)
    }
}

/// User-given values matched against the input names, auxiliary states included (MXNet
/// refuses other names).
fn match_given<T: Clone>(sym: &Symbol, given: &[(String, T)]) -> Result<HashMap<String, T>> {
    let args = sym.list_inputs();
    let mut m = HashMap::new();
    for (k, v) in given {
        if !args.iter().any(|a| a == k) {
            return Err(keyword_error("InferShape", k, &args));
        }
        m.insert(k.clone(), v.clone());
    }
    Ok(m)
}

/// Result lists aligned with the symbol's arguments, outputs and aux states.
fn collect<T: Clone>(sym: &Symbol, g: &Graph, slots: &[Vec<Option<T>>]) -> Inferred<T> {
    let (args, aux) = sym.inputs_split();
    let var = |n: &Arc<Node>| slots[g.id(n)].first().cloned().flatten();
    Inferred {
        args: args.iter().map(var).collect(),
        outputs: sym
            .outputs
            .iter()
            .map(|e| slots[g.id(&e.node)].get(e.index).cloned().flatten())
            .collect(),
        aux: aux.iter().map(var).collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// Shapes

struct ShapeState<'a> {
    g: &'a Graph,
    slots: Vec<Vec<Option<Shape>>>,
    /// Slots an op's complete rule computed from its inputs with a 0 dimension: an empty
    /// array, final (in MXNet's legacy shapes a 0 is unknown where it was given or guessed).
    empty: Vec<Vec<bool>>,
    given: HashSet<usize>,
    types: Vec<Vec<Option<DType>>>,
}

impl ShapeState<'_> {
    fn input_names(&self, n: &Node) -> Vec<String> {
        n.op.as_ref()
            .and_then(|op| super::symbol::input_names(&n.op_name, op.as_ref(), n.inputs.len()).ok())
            .unwrap_or_default()
    }

    /// What the user needs to see: the node's inputs (argument name, variable, shape) and the
    /// chain of known shapes from a given variable down to the node.
    fn context(&self, i: usize) -> String {
        let n = &self.g.order[i];
        let names = self.input_names(n);
        let mut s = format!("\n  inputs of {} ({}):", n.name, n.op_name);
        for (j, e) in n.inputs.iter().enumerate() {
            let src = self.g.id(&e.node);
            let shape = self.slots[src].get(e.index).cloned().flatten();
            let arg = names.get(j).map_or(format!("{j}"), |x| x.clone());
            let from = if e.node.is_variable() {
                if self.given.contains(&src) {
                    format!("variable {}, given", e.node.name)
                } else {
                    format!("variable {}", e.node.name)
                }
            } else {
                format!("output {} of {}", e.index, e.node.name)
            };
            s += &format!("\n    {arg} = {} ({from})", opt_text(&shape));
        }
        // Walk up the first input with a known shape to where it came from.
        let mut chain = Vec::new();
        let mut cur = i;
        let mut steps = 0;
        while steps < 64 {
            steps += 1;
            let node = &self.g.order[cur];
            let next = node.inputs.iter().find(|e| {
                self.slots[self.g.id(&e.node)]
                    .get(e.index)
                    .is_some_and(|x| x.is_some())
            });
            let Some(e) = next else { break };
            let src = self.g.id(&e.node);
            let shape = self.slots[src].get(e.index).cloned().flatten();
            if e.node.is_variable() {
                let tag = if self.given.contains(&src) {
                    ", given"
                } else {
                    ""
                };
                chain.push(format!("{} {}{tag}", e.node.name, opt_text(&shape)));
                break;
            }
            chain.push(format!(
                "{} ({}) -> {}",
                e.node.name,
                e.node.op_name,
                opt_text(&shape)
            ));
            cur = src;
        }
        if !chain.is_empty() {
            chain.reverse();
            s += &format!(
                "\n  chain of known shapes: {} -> {}",
                chain.join(" -> "),
                n.name
            );
        }
        s
    }

    fn fail(&self, i: usize, msg: String) -> Error {
        let n = &self.g.order[i];
        Error::Shape {
            op: format!("Error in operator {}", n.name),
            msg: format!("{msg}{}", self.context(i)),
        }
    }

    /// Output shapes of an op whose inputs have unknown dimensions, for ops without their own
    /// partial rule (Activation on `(0, 128)` gives `(0, 128)`): the forward rule runs with
    /// each unknown dimension set to a few probe values, and an output dimension is known
    /// where every successful probe agrees. Two large probes must succeed; small ones catch
    /// dimensions clipped to a constant (slicing) and dropped when 1.
    fn probe(
        &self,
        op: &dyn Operator,
        ins: &[Option<Shape>],
        srcs: &[(usize, usize)],
    ) -> Vec<Option<Shape>> {
        let run = |v: usize| -> Option<Vec<Shape>> {
            let descs: Vec<Desc> = ins
                .iter()
                .zip(srcs)
                .map(|(s, &(src, k))| {
                    let dims: Vec<usize> = s
                        .as_ref()
                        .map(|s| {
                            s.dims()
                                .iter()
                                .map(|&d| if d == 0 { v } else { d })
                                .collect()
                        })
                        .unwrap_or_default();
                    let t = self.types[src].get(k).copied().flatten();
                    Desc::new(Shape::new(dims), t.unwrap_or(DType::F32))
                })
                .collect();
            op.infer(&descs)
                .ok()
                .map(|r| r.into_iter().map(|d| d.shape).collect())
        };
        let (Some(a), Some(b)) = (run(101), run(103)) else {
            return Vec::new();
        };
        // an unknown dim may be 1, which some ops drop (squeeze without an axis)
        let (c, one) = (run(3), run(1));
        (0..a.len())
            .map(|k| {
                let (x, y) = (&a[k], b.get(k)?);
                let z = c.as_ref().and_then(|c| c.get(k));
                let w = one.as_ref().and_then(|c| c.get(k));
                if x.ndim() != y.ndim() || [z, w].iter().flatten().any(|z| z.ndim() != x.ndim()) {
                    return None;
                }
                let dims = (0..x.ndim())
                    .map(|d| {
                        let same = x[d] == y[d] && [z, w].iter().flatten().all(|z| z[d] == x[d]);
                        if same {
                            x[d]
                        } else {
                            0
                        }
                    })
                    .collect::<Vec<_>>();
                Some(Shape::new(dims))
            })
            .collect()
    }

    /// Runs node `i`'s rules once; true when anything new was learned.
    fn step(&mut self, i: usize) -> Result<bool> {
        let n = self.g.order[i].clone();
        let Some(op) = n.op.clone() else {
            return Ok(false);
        };
        let srcs: Vec<(usize, usize)> = n
            .inputs
            .iter()
            .map(|e| (self.g.id(&e.node), e.index))
            .collect();
        let before_in: Vec<Option<Shape>> = srcs
            .iter()
            .map(|&(s, k)| self.slots[s].get(k).cloned().flatten())
            .collect();
        let before_out = self.slots[i].clone();
        let mut ins = before_in.clone();
        let mut outs = before_out.clone();
        op.infer_shape_partial(&mut ins, &mut outs)
            .map_err(|e| self.fail(i, strip_op(&e, &n)))?;
        fill_holes(op.as_ref(), &mut ins, &mut outs).map_err(|e| self.fail(i, e))?;
        for (j, &(src, k)) in srcs.iter().enumerate() {
            if self.empty[src][k] {
                ins[j] = before_in[j].clone();
            }
        }
        for (k, o) in outs.iter_mut().enumerate() {
            if self.empty[i][k] {
                *o = before_out[k].clone();
            }
        }
        let known = |j: usize| {
            let (src, k) = srcs[j];
            ins[j].as_ref().is_some_and(shape_complete) || self.empty[src][k]
        };
        // An op whose output shapes depend on values leaves them unknown here, as in MXNet.
        if (0..ins.len()).all(known) && !op.shape_needs_values() {
            let descs: Vec<Desc> = ins
                .iter()
                .zip(&srcs)
                .map(|(s, &(src, k))| {
                    let t = self.types[src].get(k).copied().flatten();
                    Desc::new(s.clone().unwrap_or_default(), t.unwrap_or(DType::F32))
                })
                .collect();
            let res = op
                .infer(&descs)
                .map_err(|e| self.fail(i, strip_op(&e, &n)))?;
            for (k, d) in res.into_iter().enumerate() {
                if k >= outs.len() {
                    break;
                }
                // A creation op's 0 (`zeros((0, 3))`, Gluon's deferred shapes) stays unknown.
                if !srcs.is_empty() && d.shape.ndim() > 0 && !shape_complete(&d.shape) {
                    outs[k] = Some(d.shape);
                    self.empty[i][k] = true;
                    continue;
                }
                let inferred = Some(d.shape);
                match merge(&outs[k], &inferred) {
                    Some(m) => outs[k] = m,
                    None => {
                        return Err(self.fail(
                            i,
                            format!(
                                "Shape inconsistent, Provided = {}, inferred shape={} (output {k})",
                                outs[k].clone().unwrap_or_default(),
                                inferred.map(|s| shape_text(&s)).unwrap_or_default()
                            ),
                        ))
                    }
                }
            }
        } else if ins.iter().all(|s| s.as_ref().is_some_and(|s| s.ndim() > 0)) {
            for (k, probed) in self.probe(op.as_ref(), &ins, &srcs).into_iter().enumerate() {
                if let (Some(slot), Some(p)) = (outs.get_mut(k), probed) {
                    // A probe never contradicts what is known; the complete pass checks that.
                    if let Some(m) = merge(slot, &Some(p)) {
                        *slot = m;
                    }
                }
            }
        }
        let names = self.input_names(&n);
        let mut changed = false;
        for (j, (&(src, k), new)) in srcs.iter().zip(&ins).enumerate() {
            let old = self.slots[src].get(k).cloned().flatten();
            match merge(&old, new) {
                Some(m) => {
                    if m != old {
                        if let Some(slot) = self.slots[src].get_mut(k) {
                            *slot = m;
                            changed = true;
                        }
                    }
                }
                None => {
                    let arg = names.get(j).cloned().unwrap_or_else(|| format!("{j}"));
                    let var = &n.inputs[j].node.name;
                    return Err(self.fail(
                        i,
                        format!(
                            "Shape inconsistent, Provided = {}, inferred shape={} \
                             (input {arg}, from {var})",
                            old.unwrap_or_default(),
                            new.as_ref().map(shape_text).unwrap_or_default()
                        ),
                    ));
                }
            }
        }
        for (k, new) in outs.iter().enumerate() {
            let old = before_out.get(k).cloned().flatten();
            if self.empty[i][k] {
                changed |= *new != old;
                self.slots[i][k] = new.clone();
                continue;
            }
            match merge(&old, new) {
                Some(m) => {
                    if m != old {
                        self.slots[i][k] = m;
                        changed = true;
                    }
                }
                None => {
                    return Err(self.fail(
                        i,
                        format!(
                            "Shape inconsistent, Provided = {}, inferred shape={} (output {k})",
                            old.unwrap_or_default(),
                            new.as_ref().map(shape_text).unwrap_or_default()
                        ),
                    ))
                }
            }
        }
        Ok(changed)
    }
}

/// An op's own error text without its `op: ` prefix (the node name replaces it).
fn strip_op(e: &Error, n: &Node) -> String {
    match e {
        Error::Shape { msg, .. } | Error::DType { msg, .. } => msg.replacen(
            "Incompatible attr at",
            &format!("Incompatible attr in node {} at", n.name),
            1,
        ),
        other => {
            let s = other.to_string();
            let prefix = format!("{}: ", n.op_name);
            s.strip_prefix(&prefix).map_or(s.clone(), str::to_string)
        }
    }
}

/// Shapes of every entry reachable from `heads`, with `given` shapes for variables by name
/// (the executor's `simple_bind` and `infer_shape` share this).
pub fn infer_entry_shapes(
    heads: &[Entry],
    given: &HashMap<String, Shape>,
) -> Result<EntryInfo<Option<Shape>>> {
    let g = Graph::new(heads);
    let (slots, _) = run_shapes(&g, given)?;
    Ok(entry_info(&g, slots))
}

fn entry_info<T>(g: &Graph, slots: Vec<Vec<Option<T>>>) -> EntryInfo<Option<T>> {
    let mut map = HashMap::new();
    for (n, s) in g.order.iter().zip(slots) {
        for (k, v) in s.into_iter().enumerate() {
            map.insert((node_ptr(n), k), v);
        }
    }
    EntryInfo { map }
}

/// Every node's output shapes, and which of them are computed empty arrays.
type Slots = (Vec<Vec<Option<Shape>>>, Vec<Vec<bool>>);

fn run_shapes(g: &Graph, given: &HashMap<String, Shape>) -> Result<Slots> {
    // The forward rules that see these types check them (a quantized node wants int8 data
    // from its quantize node), so the variables the graph leaves untyped count as float32,
    // as `simple_bind` makes them; where that contradicts the graph, none is assumed.
    let untyped = |t: &[Vec<Option<DType>>]| -> HashMap<String, DType> {
        g.order
            .iter()
            .zip(t)
            .filter(|(n, t)| n.is_variable() && t.first().copied().flatten().is_none())
            .map(|(n, _)| (n.name.clone(), DType::F32))
            .collect()
    };
    let types = run_types(g, &HashMap::new())
        .map(|t| {
            let seeds = untyped(&t);
            if seeds.is_empty() {
                t
            } else {
                run_types(g, &seeds).unwrap_or(t)
            }
        })
        .unwrap_or_else(|_| {
            g.order
                .iter()
                .map(|n| vec![None; n.num_outputs()])
                .collect()
        });
    let mut st = ShapeState {
        g,
        slots: g
            .order
            .iter()
            .map(|n| vec![None; n.num_outputs()])
            .collect(),
        empty: g
            .order
            .iter()
            .map(|n| vec![false; n.num_outputs()])
            .collect(),
        given: HashSet::new(),
        types,
    };
    for (i, n) in g.order.iter().enumerate() {
        if !n.is_variable() {
            continue;
        }
        let from_attr = n.attr("__shape__").as_deref().and_then(parse_shape_attr);
        let s = match given.get(&n.name) {
            Some(s) => {
                st.given.insert(i);
                Some(s.clone())
            }
            None => from_attr,
        };
        st.slots[i][0] = s.filter(|s| s.ndim() > 0);
    }
    let n = g.order.len();
    // Each productive pass learns at least one dimension, so this bound is never the reason
    // the loop stops on a sane graph; it only guards against an op rule that flip-flops.
    let max_passes = 4 * n + 16;
    for _ in 0..max_passes {
        let mut changed = false;
        for i in 0..n {
            changed |= st.step(i)?;
        }
        for i in (0..n).rev() {
            changed |= st.step(i)?;
        }
        if !changed {
            break;
        }
    }
    Ok((st.slots, st.empty))
}

/// `infer_shape_partial(**given)`: whatever follows from the given argument shapes.
pub fn infer_shape_partial(sym: &Symbol, given: &[(String, Shape)]) -> Result<Inferred<Shape>> {
    let m = match_given(sym, given)?;
    let g = Graph::new(&sym.outputs);
    let (slots, _) = run_shapes(&g, &m)?;
    Ok(collect(sym, &g, &slots))
}

/// `infer_shape(**given)`: every shape, or None while one is unknown. An output an op
/// computes with a 0 dimension (an empty array) is known, as in MXNet.
pub fn infer_shape(sym: &Symbol, given: &[(String, Shape)]) -> Result<Option<Inferred<Shape>>> {
    let m = match_given(sym, given)?;
    let g = Graph::new(&sym.outputs);
    let (slots, empty) = run_shapes(&g, &m)?;
    let r = collect(sym, &g, &slots);
    let outs_known = sym
        .outputs
        .iter()
        .zip(&r.outputs)
        .all(|(e, s)| s.as_ref().is_some_and(shape_complete) || empty[g.id(&e.node)][e.index]);
    let complete = |v: &[Option<Shape>]| v.iter().all(|s| s.as_ref().is_some_and(shape_complete));
    Ok((outs_known && complete(&r.args) && complete(&r.aux)).then_some(r))
}

// ---------------------------------------------------------------------------------------------
// Types

fn run_types(g: &Graph, given: &HashMap<String, DType>) -> Result<Vec<Vec<Option<DType>>>> {
    let mut slots: Vec<Vec<Option<DType>>> = g
        .order
        .iter()
        .map(|n| vec![None; n.num_outputs()])
        .collect();
    for (i, n) in g.order.iter().enumerate() {
        if !n.is_variable() {
            continue;
        }
        slots[i][0] = given.get(&n.name).copied().or_else(|| {
            n.attr("__dtype__")
                .and_then(|s| s.trim().parse::<i32>().ok())
                .and_then(DType::from_flag)
        });
    }
    let n = g.order.len();
    let max_passes = 4 * n + 16;
    for _ in 0..max_passes {
        let mut changed = false;
        for i in (0..n).chain((0..n).rev()) {
            let node = &g.order[i];
            let Some(op) = &node.op else { continue };
            let srcs: Vec<(usize, usize)> = node
                .inputs
                .iter()
                .map(|e| (g.id(&e.node), e.index))
                .collect();
            let mut ins: Vec<Option<DType>> = srcs
                .iter()
                .map(|&(s, k)| slots[s].get(k).copied().flatten())
                .collect();
            let mut outs = slots[i].clone();
            if srcs.is_empty() && outs.iter().any(Option::is_none) {
                // Creation ops (zeros, arange, samplers) take their dtype from their
                // parameters, which only the forward rule reads.
                if let Ok(descs) = op.infer(&[]) {
                    for (o, d) in outs.iter_mut().zip(descs) {
                        o.get_or_insert(d.dtype);
                    }
                }
            }
            op.infer_type_partial(&mut ins, &mut outs)
                .map_err(|e| Error::DType {
                    op: format!("Error in operator {}", node.name),
                    msg: strip_op(&e, node).replace(
                        &format!("node {} ", node.op_name),
                        &format!("node {} ", node.name),
                    ),
                })?;
            for (j, (&(s, k), t)) in srcs.iter().zip(&ins).enumerate() {
                let old = slots[s].get(k).copied().flatten();
                match (old, t) {
                    (None, Some(t)) => {
                        slots[s][k] = Some(*t);
                        changed = true;
                    }
                    (Some(o), Some(t)) if o != *t => {
                        return Err(Error::DType {
                            op: format!("Error in operator {}", node.name),
                            msg: format!(
                            "Incompatible attr in node {} at {j}-th input: expected {t}, got {o} \
                                 (from {})",
                            node.name, node.inputs[j].node.name
                        ),
                        })
                    }
                    _ => {}
                }
            }
            for (k, t) in outs.into_iter().enumerate() {
                if slots[i][k].is_none() && t.is_some() {
                    slots[i][k] = t;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    Ok(slots)
}

/// Dtypes of every entry reachable from `heads`.
pub fn infer_entry_types(
    heads: &[Entry],
    given: &HashMap<String, DType>,
) -> Result<EntryInfo<Option<DType>>> {
    let g = Graph::new(heads);
    let slots = run_types(&g, given)?;
    Ok(entry_info(&g, slots))
}

/// `infer_type_partial(**given)`.
pub fn infer_type_partial(sym: &Symbol, given: &[(String, DType)]) -> Result<Inferred<DType>> {
    let m = match_given(sym, given).map_err(|e| match e {
        Error::Value(s) => Error::Value(s.replacen("InferShape", "InferType", 1)),
        e => e,
    })?;
    let g = Graph::new(&sym.outputs);
    let slots = run_types(&g, &m)?;
    Ok(collect(sym, &g, &slots))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(n: &str) -> Symbol {
        Symbol::variable(n, vec![])
    }

    fn sh(d: &[usize]) -> Shape {
        Shape::new(d.to_vec())
    }

    #[test]
    fn forward_through_scalar_and_unary() {
        let a = var("a");
        let m = Symbol::create(
            "_mul_scalar",
            "m",
            &[("scalar".into(), "2".into())],
            &[a],
            &[],
        )
        .unwrap();
        let r = infer_shape_partial(&m, &[("a".into(), sh(&[2, 3]))]).unwrap();
        assert_eq!(r.args, vec![Some(sh(&[2, 3]))]);
        assert_eq!(r.outputs, vec![Some(sh(&[2, 3]))]);
        let r = infer_shape_partial(&m, &[]).unwrap();
        assert_eq!(r.outputs, vec![None]);
        let t = infer_type_partial(&m, &[("a".into(), DType::F16)]).unwrap();
        assert_eq!(t.outputs, vec![Some(DType::F16)]);
    }

    #[test]
    fn creation_ops_type_from_their_parameters() {
        let z = Symbol::create(
            "_zeros",
            "z",
            &[
                ("shape".into(), "(2,)".into()),
                ("dtype".into(), "float16".into()),
            ],
            &[],
            &[],
        )
        .unwrap();
        let t = infer_type_partial(&z, &[]).unwrap();
        assert_eq!(t.outputs, vec![Some(DType::F16)]);
    }

    #[test]
    fn mismatch_names_node_and_inputs() {
        let p = Symbol::create("elemwise_add", "_plus0", &[], &[var("a"), var("b")], &[]).unwrap();
        let e = infer_shape_partial(&p, &[("a".into(), sh(&[2, 3])), ("b".into(), sh(&[3, 2]))])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("Error in operator _plus0: "), "{e}");
        assert!(e.contains("lhs = (2, 3) (variable a, given)"), "{e}");
        let e = infer_shape_partial(&p, &[("foo".into(), sh(&[2]))]).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("InferShapeKeyword argument name foo not found."));
        let e = infer_type_partial(&p, &[("a".into(), DType::F32), ("b".into(), DType::F16)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("Incompatible attr in node _plus0"), "{e}");
    }

    #[test]
    fn shape_attr_and_merge() {
        let v = Symbol::variable("v", vec![("__shape__".into(), "(3, 4)".into())]);
        let r = infer_shape_partial(&v, &[]).unwrap();
        assert_eq!(r.args, vec![Some(sh(&[3, 4]))]);
        assert_eq!(
            merge(&Some(sh(&[2, 0])), &Some(sh(&[0, 3]))),
            Some(Some(sh(&[2, 3])))
        );
        assert_eq!(merge(&Some(sh(&[2, 1])), &Some(sh(&[0, 3]))), None);
        assert_eq!(parse_shape_attr("(5,)"), Some(sh(&[5])));
    }

    #[test]
    fn partial_dims_flow_through_ops_without_partial_rules() {
        let t = Symbol::create("transpose", "t", &[], &[var("a")], &[]).unwrap();
        let r = infer_shape_partial(&t, &[("a".into(), sh(&[0, 3]))]).unwrap();
        assert_eq!(r.outputs, vec![Some(sh(&[3, 0]))]);
        let sl = Symbol::create(
            "slice_axis",
            "s",
            &[
                ("axis".into(), "0".into()),
                ("begin".into(), "0".into()),
                ("end".into(), "2".into()),
            ],
            &[var("a")],
            &[],
        )
        .unwrap();
        let r = infer_shape_partial(&sl, &[("a".into(), sh(&[0, 3]))]).unwrap();
        assert_eq!(r.outputs, vec![Some(sh(&[2, 3]))]);
        let p = Symbol::create("elemwise_add", "p", &[], &[var("a"), var("b")], &[]).unwrap();
        let r = infer_shape_partial(&p, &[("a".into(), sh(&[2, 0])), ("b".into(), sh(&[0, 3]))])
            .unwrap();
        assert_eq!(r.args, vec![Some(sh(&[2, 3])), Some(sh(&[2, 3]))]);
    }
}
