//! `_cond` (`mx.sym.contrib.cond`): evaluates its predicate subgraph, then runs only the
//! `then` or the `else` subgraph. Node inputs are the union of the three subgraphs' inputs;
//! `cond_input_locs`/`then_input_locs`/`else_input_locs` give, per subgraph input (in its
//! `list_inputs` order), the node input that feeds it.

use super::body::{parse_int, parse_locs, zeros_like, Body};
use super::{backward_infer, backward_node};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::graph::symbol::Symbol;
use crate::graph::{Entry, GradBuilder};
use crate::ndarray::NDArray;
use crate::op::{call_str, copy_into, Desc, GradArgs, OpCtx, Operator};
use crate::shape::Shape;
use std::sync::Arc;

pub const NAME: &str = "_cond";

#[derive(Clone)]
pub struct Cond {
    /// Predicate, then, else.
    bodies: [Arc<Body>; 3],
    locs: [Vec<usize>; 3],
    subgraphs: Vec<Symbol>,
    num_inputs: usize,
    num_outputs: usize,
}

const LOC_KEYS: [&str; 3] = ["cond_input_locs", "then_input_locs", "else_input_locs"];

impl Cond {
    pub fn new(attrs: &[(String, String)], subgraphs: Vec<Symbol>) -> Result<Cond> {
        let [c, t, e]: [Symbol; 3] = subgraphs.clone().try_into().map_err(|s: Vec<Symbol>| {
            Error::Value(format!(
                "operator {NAME} takes 3 subgraphs (predicate, then, else), {} given",
                s.len()
            ))
        })?;
        let num_outputs = parse_int(NAME, "num_outputs", attrs)?;
        let num_args = parse_int(NAME, "num_args", attrs)?;
        let num_inputs = num_args.checked_sub(3).ok_or_else(|| Error::Param {
            op: NAME.into(),
            msg: format!("num_args={num_args} must count the 3 subgraphs and the inputs"),
        })?;
        let bodies = [Body::new(c), Body::new(t), Body::new(e)].map(Arc::new);
        let mut locs: [Vec<usize>; 3] = Default::default();
        for (k, key) in LOC_KEYS.iter().enumerate() {
            let l = parse_locs(NAME, key, attrs)?;
            let n = bodies[k].inputs.len();
            if l.len() != n || l.iter().any(|&x| x >= num_inputs) {
                return Err(Error::Param {
                    op: NAME.into(),
                    msg: format!(
                        "{key}={l:?} must give one of the {num_inputs} node inputs for each of \
                         the subgraph's {n} inputs"
                    ),
                });
            }
            locs[k] = l;
        }
        if bodies[0].num_outputs() != 1 {
            return Err(Error::Param {
                op: NAME.into(),
                msg: format!(
                    "the predicate subgraph has {} outputs; it must have 1",
                    bodies[0].num_outputs()
                ),
            });
        }
        for (k, what) in [(1, "then"), (2, "else")] {
            if bodies[k].num_outputs() != num_outputs {
                return Err(Error::Param {
                    op: NAME.into(),
                    msg: format!(
                        "the {what} subgraph has {} outputs, num_outputs is {num_outputs}",
                        bodies[k].num_outputs()
                    ),
                });
            }
        }
        Ok(Cond {
            bodies,
            locs,
            subgraphs,
            num_inputs,
            num_outputs,
        })
    }

    /// Partial inference through each subgraph: inputs any of them determines, outputs from
    /// the branches (the predicate's dtype is its own).
    fn partial<T: Clone>(
        &self,
        inputs: &mut [Option<T>],
        outputs: &mut [Option<T>],
        run: impl Fn(&Body, &mut [Option<T>]) -> Result<Vec<Option<T>>>,
    ) -> Result<()> {
        for k in 0..3 {
            let mut sub = self.pick(k, inputs);
            let outs = run(&self.bodies[k], &mut sub)?;
            for (&l, v) in self.locs[k].iter().zip(sub) {
                if inputs[l].is_none() {
                    inputs[l] = v;
                }
            }
            if k > 0 {
                for (o, t) in outputs.iter_mut().zip(outs) {
                    if o.is_none() {
                        *o = t;
                    }
                }
            }
        }
        Ok(())
    }

    fn input_count(&self) -> usize {
        self.num_inputs
    }

    fn pick<T: Clone>(&self, k: usize, inputs: &[T]) -> Vec<T> {
        self.locs[k].iter().map(|&l| inputs[l].clone()).collect()
    }

    /// Which branch runs (1 = then, 2 = else): the predicate's single value, nonzero = then.
    /// Waits for the predicate: the branch decides what is pushed next.
    fn branch(&self, inputs: &[NDArray], is_train: bool) -> Result<usize> {
        let p = self.bodies[0]
            .run(&self.pick(0, inputs), is_train)?
            .remove(0);
        if p.size() != 1 {
            return Err(Error::shape(
                NAME,
                format!(
                    "the predicate must have exactly one element, got shape {}",
                    p.shape()
                ),
            ));
        }
        let v = call_str("Cast", &[p], &[("dtype", "float64")])?
            .remove(0)
            .to_vec::<f64>()?;
        Ok(if v[0] != 0.0 { 1 } else { 2 })
    }
}

impl Operator for Cond {
    fn name(&self) -> &'static str {
        NAME
    }
    fn num_outputs(&self) -> usize {
        self.num_outputs
    }
    fn input_names(&self) -> Vec<String> {
        (0..self.num_inputs).map(|i| format!("data{i}")).collect()
    }
    fn subgraphs(&self) -> &[Symbol] {
        &self.subgraphs
    }
    fn runs_at_push(&self) -> bool {
        true
    }
    fn infer(&self, inputs: &[Desc]) -> Result<Vec<Desc>> {
        if inputs.len() != self.num_inputs {
            return Err(Error::Value(format!(
                "operator {NAME}: {} inputs given, it takes {}",
                inputs.len(),
                self.num_inputs
            )));
        }
        let then = self.bodies[1].infer(NAME, &self.pick(1, inputs))?;
        let els = self.bodies[2].infer(NAME, &self.pick(2, inputs))?;
        for (i, (a, b)) in then.iter().zip(&els).enumerate() {
            if a != b {
                return Err(Error::shape(
                    NAME,
                    format!(
                        "output {i} is {} {} from the then branch but {} {} from the else branch",
                        a.shape, a.dtype, b.shape, b.dtype
                    ),
                ));
            }
        }
        Ok(then)
    }
    fn infer_type_partial(
        &self,
        inputs: &mut [Option<DType>],
        outputs: &mut [Option<DType>],
    ) -> Result<()> {
        self.partial(inputs, outputs, |b, ins| b.infer_types(NAME, ins))
    }
    fn infer_shape_partial(
        &self,
        inputs: &mut [Option<Shape>],
        outputs: &mut [Option<Shape>],
    ) -> Result<()> {
        self.partial(inputs, outputs, |b, ins| b.infer_shapes(NAME, ins))
    }
    fn forward(&self, cx: &OpCtx, inputs: &[NDArray], outputs: &[NDArray]) -> Result<()> {
        let k = self.branch(inputs, cx.is_train)?;
        let outs = self.bodies[k].run(&self.pick(k, inputs), cx.is_train)?;
        for (o, t) in outs.iter().zip(outputs) {
            copy_into(o, t, None)?;
        }
        Ok(())
    }
    fn gradient(&self, g: &mut GradBuilder, a: &GradArgs) -> Result<Vec<Option<Entry>>> {
        let back = CondBackward { fwd: self.clone() };
        backward_node(g, a, Arc::new(back))
    }
}

/// Input gradients of `_cond` from (forward inputs, output gradients): the taken branch's
/// vector-Jacobian product, zeros for inputs only the other branch or the predicate reads.
struct CondBackward {
    fwd: Cond,
}

impl Operator for CondBackward {
    fn name(&self) -> &'static str {
        "_backward_cond"
    }
    /// One gradient per forward input.
    fn num_outputs(&self) -> usize {
        self.fwd.input_count()
    }
    fn runs_at_push(&self) -> bool {
        true
    }
    fn infer(&self, inputs: &[Desc]) -> Result<Vec<Desc>> {
        backward_infer(
            "_backward_cond",
            self.fwd.num_inputs,
            self.fwd.num_outputs,
            inputs,
        )
    }
    fn forward(&self, cx: &OpCtx, inputs: &[NDArray], outputs: &[NDArray]) -> Result<()> {
        let f = &self.fwd;
        let (xs, dys) = inputs.split_at(f.num_inputs);
        let k = f.branch(xs, cx.is_train)?;
        let g = f.bodies[k].vjp()?.run(&f.pick(k, xs), dys, cx.is_train)?;
        let mut grads: Vec<Option<NDArray>> = vec![None; f.num_inputs];
        for (gi, &l) in g.into_iter().zip(&f.locs[k]) {
            grads[l] = Some(gi);
        }
        for (o, (gi, x)) in outputs.iter().zip(grads.into_iter().zip(xs)) {
            let v = match gi {
                Some(v) => v,
                None => zeros_like(x)?,
            };
            copy_into(&v, o, None)?;
        }
        Ok(())
    }
}
