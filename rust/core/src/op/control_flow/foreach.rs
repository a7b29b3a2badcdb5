//! `_foreach` (`mx.sym.contrib.foreach`): runs its body subgraph once per row of its data
//! inputs, threading loop states; outputs are the stacked per-step outputs, then the final
//! states. Node inputs are data, then states, then the body's other (free) inputs; the
//! `*_locs` attributes say which body input each one feeds.

use super::body::{add, data_row, data_row_shape, parse_int, parse_locs, row, zeros_like, Body};
use super::{backward_infer, backward_node};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::graph::symbol::Symbol;
use crate::graph::{Entry, GradBuilder};
use crate::ndarray::NDArray;
use crate::op::{copy_into, Desc, GradArgs, OpCtx, Operator};
use crate::shape::Shape;
use std::sync::Arc;

pub const NAME: &str = "_foreach";

pub struct Foreach {
    body: Arc<Body>,
    subgraphs: Vec<Symbol>,
    num_outputs: usize,
    num_out_data: usize,
    /// Body input position of each node input (data, states, remaining).
    locs: Vec<usize>,
    num_data: usize,
    num_states: usize,
}

impl Foreach {
    pub fn new(attrs: &[(String, String)], body: Symbol) -> Result<Foreach> {
        let data = parse_locs(NAME, "in_data_locs", attrs)?;
        let states = parse_locs(NAME, "in_state_locs", attrs)?;
        let remain = parse_locs(NAME, "remain_locs", attrs)?;
        let num_outputs = parse_int(NAME, "num_outputs", attrs)?;
        let num_out_data = parse_int(NAME, "num_out_data", attrs)?;
        let b = Body::new(body.clone());
        let locs: Vec<usize> = data.iter().chain(&states).chain(&remain).copied().collect();
        let n = b.inputs.len();
        let mut sorted = locs.clone();
        sorted.sort_unstable();
        if sorted != (0..n).collect::<Vec<_>>() {
            return Err(Error::Param {
                op: NAME.into(),
                msg: format!(
                    "in_data_locs {data:?}, in_state_locs {states:?} and remain_locs {remain:?} \
                     must together name each of the subgraph's {n} inputs once"
                ),
            });
        }
        if data.is_empty() {
            return Err(Error::Param {
                op: NAME.into(),
                msg: "in_data_locs is empty: foreach needs at least one data input".into(),
            });
        }
        if num_out_data > num_outputs || num_outputs - num_out_data != states.len() {
            return Err(Error::Param {
                op: NAME.into(),
                msg: format!(
                    "num_outputs={num_outputs} must be num_out_data={num_out_data} plus one per \
                     state ({} in in_state_locs)",
                    states.len()
                ),
            });
        }
        if b.num_outputs() != num_outputs {
            return Err(Error::Param {
                op: NAME.into(),
                msg: format!(
                    "the subgraph has {} output(s), num_outputs is {num_outputs}",
                    b.num_outputs()
                ),
            });
        }
        Ok(Foreach {
            body: Arc::new(b),
            subgraphs: vec![body],
            num_outputs,
            num_out_data,
            locs,
            num_data: data.len(),
            num_states: states.len(),
        })
    }

    /// Body inputs for step `t` from the node inputs and the current states.
    fn step_inputs(
        &self,
        inputs: &[NDArray],
        states: &[NDArray],
        t: usize,
    ) -> Result<Vec<NDArray>> {
        let mut sub: Vec<Option<NDArray>> = vec![None; self.locs.len()];
        for (k, &l) in self.locs.iter().enumerate() {
            sub[l] = Some(if k < self.num_data {
                data_row(&inputs[k], t)?
            } else if k < self.num_data + self.num_states {
                states[k - self.num_data].clone()
            } else {
                inputs[k].clone()
            });
        }
        Ok(sub.into_iter().flatten().collect())
    }

    /// Node-input knowledge in body-input order (data mapped to one row by `row_of`).
    fn to_body<T: Clone>(
        &self,
        node: &[Option<T>],
        row_of: impl Fn(&T) -> Option<T>,
    ) -> Vec<Option<T>> {
        let mut sub: Vec<Option<T>> = vec![None; self.locs.len()];
        for (k, (&l, v)) in self.locs.iter().zip(node).enumerate() {
            sub[l] = if k < self.num_data {
                v.as_ref().and_then(&row_of)
            } else {
                v.clone()
            };
        }
        sub
    }

    /// Fills unknown state and free node inputs from what the body deduced.
    fn fill_from_body<T: Clone>(&self, sub: &[Option<T>], node: &mut [Option<T>]) {
        for (k, &l) in self.locs.iter().enumerate().skip(self.num_data) {
            if node[k].is_none() {
                node[k] = sub[l].clone();
            }
        }
    }

    fn steps(&self, inputs: &[NDArray]) -> usize {
        inputs[0].shape().0.first().copied().unwrap_or(0)
    }

    fn states0(&self, inputs: &[NDArray]) -> Vec<NDArray> {
        inputs[self.num_data..self.num_data + self.num_states].to_vec()
    }
}

impl Operator for Foreach {
    fn name(&self) -> &'static str {
        NAME
    }
    fn num_outputs(&self) -> usize {
        self.num_outputs
    }
    fn input_names(&self) -> Vec<String> {
        (0..self.locs.len()).map(|i| format!("data{i}")).collect()
    }
    fn subgraphs(&self) -> &[Symbol] {
        &self.subgraphs
    }
    fn runs_at_push(&self) -> bool {
        true
    }
    fn infer_type_partial(
        &self,
        inputs: &mut [Option<DType>],
        outputs: &mut [Option<DType>],
    ) -> Result<()> {
        let mut sub = self.to_body(inputs, |t| Some(*t));
        let outs = self.body.infer_types(NAME, &mut sub)?;
        self.fill_from_body(&sub, inputs);
        for (o, t) in outputs.iter_mut().zip(outs) {
            if o.is_none() {
                *o = t;
            }
        }
        Ok(())
    }
    fn infer_shape_partial(
        &self,
        inputs: &mut [Option<Shape>],
        _outputs: &mut [Option<Shape>],
    ) -> Result<()> {
        let row_of = |s: &Shape| (!s.0.is_empty()).then(|| data_row_shape(s));
        let mut sub = self.to_body(inputs, row_of);
        self.body.infer_shapes(NAME, &mut sub)?;
        self.fill_from_body(&sub, inputs);
        Ok(())
    }
    fn infer(&self, inputs: &[Desc]) -> Result<Vec<Desc>> {
        if inputs.len() != self.locs.len() {
            return Err(Error::Value(format!(
                "operator {NAME}: {} inputs given, the subgraph takes {}",
                inputs.len(),
                self.locs.len()
            )));
        }
        let mut len = None;
        for (k, d) in inputs[..self.num_data].iter().enumerate() {
            let Some(&n) = d.shape.0.first() else {
                return Err(Error::shape(
                    NAME,
                    format!("data input {k} is a scalar; it is iterated over its first axis"),
                ));
            };
            match len {
                Some(m) if m != n => {
                    return Err(Error::shape(
                        NAME,
                        format!(
                            "data inputs must have the same length on axis 0: {m} and {n} \
                             (input {k} has shape {})",
                            d.shape
                        ),
                    ))
                }
                _ => len = Some(n),
            }
        }
        let len = len.unwrap_or(0);
        let mut sub: Vec<Option<Desc>> = vec![None; self.locs.len()];
        for (k, (&l, d)) in self.locs.iter().zip(inputs).enumerate() {
            sub[l] = Some(if k < self.num_data {
                Desc::new(data_row_shape(&d.shape), d.dtype)
            } else {
                d.clone()
            });
        }
        let sub: Vec<Desc> = sub.into_iter().flatten().collect();
        let outs = self.body.infer(NAME, &sub)?;
        let mut res = Vec::with_capacity(outs.len());
        for (i, d) in outs.into_iter().enumerate() {
            if i < self.num_out_data {
                let mut dims = vec![len];
                dims.extend_from_slice(&d.shape.0);
                res.push(Desc::new(Shape::new(dims), d.dtype));
            } else {
                let init = &inputs[self.num_data + i - self.num_out_data];
                if init.shape != d.shape {
                    return Err(Error::shape(
                        NAME,
                        format!(
                            "loop state {} enters the body with shape {} and leaves it with {}",
                            i - self.num_out_data,
                            init.shape,
                            d.shape
                        ),
                    ));
                }
                res.push(d);
            }
        }
        Ok(res)
    }
    fn forward(&self, cx: &OpCtx, inputs: &[NDArray], outputs: &[NDArray]) -> Result<()> {
        let mut states = self.states0(inputs);
        for t in 0..self.steps(inputs) {
            let outs = self
                .body
                .run(&self.step_inputs(inputs, &states, t)?, cx.is_train)?;
            for (k, o) in outs[..self.num_out_data].iter().enumerate() {
                copy_into(o, &row(&outputs[k], t)?, None)?;
            }
            states = outs[self.num_out_data..].to_vec();
        }
        for (s, o) in states.iter().zip(&outputs[self.num_out_data..]) {
            copy_into(s, o, None)?;
        }
        Ok(())
    }
    fn gradient(&self, g: &mut GradBuilder, a: &GradArgs) -> Result<Vec<Option<Entry>>> {
        let back = ForeachBackward {
            fwd: Foreach {
                body: self.body.clone(),
                subgraphs: self.subgraphs.clone(),
                num_outputs: self.num_outputs,
                num_out_data: self.num_out_data,
                locs: self.locs.clone(),
                num_data: self.num_data,
                num_states: self.num_states,
            },
        };
        backward_node(g, a, Arc::new(back))
    }
}

/// Gradients of every `_foreach` input from (forward inputs, output gradients): the states of
/// each step are recomputed, then the body's vector-Jacobian product runs from the last step
/// to the first, carrying the state gradient back and summing the free inputs' gradients.
struct ForeachBackward {
    fwd: Foreach,
}

impl Operator for ForeachBackward {
    fn name(&self) -> &'static str {
        "_backward_foreach"
    }
    fn num_outputs(&self) -> usize {
        self.fwd.locs.len()
    }
    fn runs_at_push(&self) -> bool {
        true
    }
    fn infer(&self, inputs: &[Desc]) -> Result<Vec<Desc>> {
        backward_infer(
            "_backward_foreach",
            self.fwd.locs.len(),
            self.fwd.num_outputs,
            inputs,
        )
    }
    fn forward(&self, cx: &OpCtx, inputs: &[NDArray], outputs: &[NDArray]) -> Result<()> {
        let f = &self.fwd;
        let n = f.locs.len();
        let (xs, dys) = inputs.split_at(n);
        let steps = f.steps(xs);
        let mut states = vec![f.states0(xs)];
        for t in 0..steps.saturating_sub(1) {
            let outs = f
                .body
                .run(&f.step_inputs(xs, &states[t], t)?, cx.is_train)?;
            states.push(outs[f.num_out_data..].to_vec());
        }
        let vjp = f.body.vjp()?;
        let mut dstates: Vec<NDArray> = dys[f.num_out_data..].to_vec();
        let mut dfree: Vec<Option<NDArray>> = vec![None; n - f.num_data - f.num_states];
        for t in (0..steps).rev() {
            let mut heads = Vec::with_capacity(f.num_outputs);
            for dy in &dys[..f.num_out_data] {
                heads.push(row(dy, t)?);
            }
            heads.extend(dstates.iter().cloned());
            let g = vjp.run(&f.step_inputs(xs, &states[t], t)?, &heads, cx.is_train)?;
            for (k, &l) in f.locs.iter().enumerate() {
                let gl = &g[l];
                if k < f.num_data {
                    copy_into(gl, &data_row(&outputs[k], t)?, None)?;
                } else if k < f.num_data + f.num_states {
                    dstates[k - f.num_data] = gl.clone();
                } else {
                    let slot = &mut dfree[k - f.num_data - f.num_states];
                    *slot = Some(match slot.take() {
                        Some(acc) => add(&acc, gl)?,
                        None => gl.clone(),
                    });
                }
            }
        }
        for (k, o) in outputs.iter().enumerate().skip(f.num_data) {
            let v = if k < f.num_data + f.num_states {
                dstates[k - f.num_data].clone()
            } else {
                match &dfree[k - f.num_data - f.num_states] {
                    Some(v) => v.clone(),
                    None => zeros_like(&xs[k])?,
                }
            };
            copy_into(&v, o, None)?;
        }
        if steps == 0 {
            for o in &outputs[..f.num_data] {
                copy_into(&zeros_like(o)?, o, None)?;
            }
        }
        Ok(())
    }
}
