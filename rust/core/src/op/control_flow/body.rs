//! A subgraph run as a function: its inputs are its variables in MXNet's `list_inputs` order
//! (DFS), its results the graph's heads. Control-flow operators evaluate it once per iteration
//! with evaluation plans, and differentiate it with the project's graph autodiff.

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::graph::eval::{Plan, Slots};
use crate::graph::infer::{infer_shape_partial, infer_type_partial, refine, Inferred};
use crate::graph::symbol::Symbol;
use crate::graph::{gradient, topo_order, Entry, Node};
use crate::ndarray::NDArray;
use crate::op::{call_str, Desc};
use crate::shape::Shape;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

pub struct Body {
    pub sym: Symbol,
    pub inputs: Vec<Arc<Node>>,
}

/// A plan over some heads with the slots its variables are given in.
struct Runner {
    plan: Plan,
    slots: Slots,
    var_slots: Vec<usize>,
    heads: Vec<Option<usize>>,
}

impl Runner {
    fn new(vars: &[Entry], heads: &[Option<Entry>]) -> Runner {
        let mut slots = Slots::default();
        let targets: Vec<Entry> = heads.iter().flatten().cloned().collect();
        let mut plan = Plan::new(&mut slots, &targets, &[]);
        let var_slots = vars.iter().map(|v| slots.slot(v)).collect();
        let heads: Vec<Option<usize>> = heads
            .iter()
            .map(|h| h.as_ref().map(|h| slots.slot(h)))
            .collect();
        let keep: HashSet<usize> = heads.iter().flatten().copied().collect();
        plan.set_frees(&keep);
        Runner {
            plan,
            slots,
            var_slots,
            heads,
        }
    }

    fn run(&self, values: &[NDArray], is_train: bool) -> Result<Vec<Option<NDArray>>> {
        let mut table: Vec<Option<NDArray>> = vec![None; self.slots.len()];
        for (&s, v) in self.var_slots.iter().zip(values) {
            table[s] = Some(v.clone());
        }
        self.plan
            .run(&mut table, &HashMap::new(), is_train, None, None)?;
        Ok(self
            .heads
            .iter()
            .map(|h| h.and_then(|s| table[s].clone()))
            .collect())
    }
}

impl Body {
    pub fn new(sym: Symbol) -> Body {
        let inputs = topo_order(&sym.outputs)
            .into_iter()
            .filter(|n| n.is_variable())
            .collect();
        Body { sym, inputs }
    }

    pub fn num_outputs(&self) -> usize {
        self.sym.outputs.len()
    }

    fn var_entries(&self) -> Vec<Entry> {
        self.inputs.iter().map(|n| n.entry(0)).collect()
    }

    /// Output shapes and dtypes from complete input ones (in `inputs` order).
    pub fn infer(&self, op: &str, ins: &[Desc]) -> Result<Vec<Desc>> {
        let shapes: Vec<(String, Shape)> = self
            .inputs
            .iter()
            .zip(ins)
            .map(|(n, d)| (n.name.clone(), d.shape.clone()))
            .collect();
        let types: Vec<(String, DType)> = self
            .inputs
            .iter()
            .zip(ins)
            .map(|(n, d)| (n.name.clone(), d.dtype))
            .collect();
        let wrap = |e: Error| Error::shape(op, format!("in its subgraph: {e}"));
        let s = infer_shape_partial(&self.sym, &shapes).map_err(wrap)?;
        let t = infer_type_partial(&self.sym, &types).map_err(wrap)?;
        s.outputs
            .into_iter()
            .zip(t.outputs)
            .enumerate()
            .map(|(i, (s, t))| match (s, t) {
                (Some(s), Some(t)) if crate::graph::infer::shape_complete(&s) => {
                    Ok(Desc::new(s, t))
                }
                _ => Err(Error::shape(
                    op,
                    format!("the shape or dtype of subgraph output {i} cannot be inferred"),
                )),
            })
            .collect()
    }

    /// What the body's inference deduces from partial input knowledge: `fill` completes each
    /// entry of `ins` (body input order) from what the body found; returns the outputs.
    fn infer_partial<T: Clone>(
        &self,
        ins: &mut [Option<T>],
        run: impl Fn(&Symbol, &[(String, T)]) -> Result<Inferred<T>>,
        fill: impl Fn(&mut Option<T>, &T),
    ) -> Result<Vec<Option<T>>> {
        let given: Vec<(String, T)> = self
            .inputs
            .iter()
            .zip(ins.iter())
            .filter_map(|(n, t)| t.clone().map(|t| (n.name.clone(), t)))
            .collect();
        let r = run(&self.sym, &given)?;
        let names = self
            .sym
            .list_arguments()
            .into_iter()
            .chain(self.sym.list_auxiliary_states());
        let found: HashMap<String, T> = names
            .zip(r.args.into_iter().chain(r.aux))
            .filter_map(|(n, t)| t.map(|t| (n, t)))
            .collect();
        for (n, slot) in self.inputs.iter().zip(ins.iter_mut()) {
            if let Some(t) = found.get(&n.name) {
                fill(slot, t);
            }
        }
        Ok(r.outputs)
    }

    pub fn infer_types(&self, op: &str, ins: &mut [Option<DType>]) -> Result<Vec<Option<DType>>> {
        let fill = |slot: &mut Option<DType>, t: &DType| {
            slot.get_or_insert(*t);
        };
        self.infer_partial(ins, infer_type_partial, fill)
            .map_err(|e| Error::dtype(op, format!("in its subgraph: {e}")))
    }

    /// As [`Body::infer_types`]; a shape with unknown (0) dimensions takes the body's where
    /// it knows them (a weight given as (1, 0, 2, 2) learns its channels from the data).
    pub fn infer_shapes(&self, op: &str, ins: &mut [Option<Shape>]) -> Result<Vec<Option<Shape>>> {
        let fill = |slot: &mut Option<Shape>, t: &Shape| refine(slot, t.clone());
        self.infer_partial(ins, infer_shape_partial, fill)
            .map_err(|e| Error::shape(op, format!("in its subgraph: {e}")))
    }

    /// Evaluates the heads for input arrays in `inputs` order.
    pub fn run(&self, ins: &[NDArray], is_train: bool) -> Result<Vec<NDArray>> {
        let heads: Vec<Option<Entry>> = self.sym.outputs.iter().cloned().map(Some).collect();
        let r = Runner::new(&self.var_entries(), &heads);
        r.run(ins, is_train)?
            .into_iter()
            .map(|v| v.ok_or_else(|| Error::Internal("a subgraph output was not computed".into())))
            .collect()
    }

    /// The body's vector-Jacobian product: a function of (inputs, head gradients) giving the
    /// gradient of every input (`None` where no path leads from it to a head).
    pub fn vjp(&self) -> Result<Vjp> {
        let head_grads: Vec<Entry> = (0..self.num_outputs())
            .map(|j| Node::variable(format!("__head_grad{j}"), Vec::new()).entry(0))
            .collect();
        let hg: Vec<Option<Entry>> = head_grads.iter().cloned().map(Some).collect();
        let vars = self.var_entries();
        let g = gradient(&self.sym.outputs, &hg, &vars)?;
        let all_vars: Vec<Entry> = vars.into_iter().chain(head_grads).collect();
        Ok(Vjp {
            runner: Runner::new(&all_vars, &g),
        })
    }
}

pub struct Vjp {
    runner: Runner,
}

impl Vjp {
    /// Gradients of the inputs; a missing one is zeros like its input.
    pub fn run(
        &self,
        ins: &[NDArray],
        head_grads: &[NDArray],
        is_train: bool,
    ) -> Result<Vec<NDArray>> {
        let all: Vec<NDArray> = ins.iter().chain(head_grads).cloned().collect();
        self.runner
            .run(&all, is_train)?
            .into_iter()
            .zip(ins)
            .map(|(g, x)| match g {
                Some(g) => Ok(g),
                None => zeros_like(x),
            })
            .collect()
    }
}

pub fn zeros_like(x: &NDArray) -> Result<NDArray> {
    Ok(call_str("zeros_like", std::slice::from_ref(x), &[])?.remove(0))
}

pub fn add(a: &NDArray, b: &NDArray) -> Result<NDArray> {
    Ok(call_str("elemwise_add", &[a.clone(), b.clone()], &[])?.remove(0))
}

/// What a `_foreach` step sees of a data input of shape `s`: one row, which for a 1-D input is
/// (1,) as in MXNet 1.x (its shapes have no rank 0), not ().
pub fn data_row_shape(s: &Shape) -> Shape {
    if s.ndim() == 1 {
        Shape::new(vec![1])
    } else {
        Shape::new(s.0[1..].to_vec())
    }
}

/// Row `t` of data input `a`, shaped by [`data_row_shape`], as a view.
pub fn data_row(a: &NDArray, t: usize) -> Result<NDArray> {
    a.slice_rows(t, t + 1)?
        .reshape_view(data_row_shape(a.shape()))
}

/// Row `t` of `a` along axis 0, as a view.
pub fn row(a: &NDArray, t: usize) -> Result<NDArray> {
    let dims = a.shape().0[1..].to_vec();
    a.slice_rows(t, t + 1)?.reshape_view(Shape::new(dims))
}

/// `[0, 2]`, `(0, 2)` or `[]` as integers (MXNet's tuple attributes).
pub fn parse_locs(op: &str, key: &str, attrs: &[(String, String)]) -> Result<Vec<usize>> {
    let v = attrs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .ok_or_else(|| Error::Param {
            op: op.into(),
            msg: format!("Required parameter {key} of Shape(tuple) is not presented"),
        })?;
    v.trim()
        .trim_matches(|c| c == '[' || c == ']' || c == '(' || c == ')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>().map_err(|_| Error::Param {
                op: op.into(),
                msg: format!("{key}={v}: expected a tuple of non-negative integers"),
            })
        })
        .collect()
}

pub fn parse_int(op: &str, key: &str, attrs: &[(String, String)]) -> Result<usize> {
    let v = attrs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim())
        .ok_or_else(|| Error::Param {
            op: op.into(),
            msg: format!("Required parameter {key} of int is not presented"),
        })?;
    v.parse::<usize>().map_err(|_| Error::Param {
        op: op.into(),
        msg: format!("{key}={v}: expected a non-negative integer"),
    })
}
