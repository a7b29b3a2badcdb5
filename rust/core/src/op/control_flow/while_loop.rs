//! `_while_loop` (`mx.sym.contrib.while_loop`): while the condition subgraph's single value is
//! nonzero (and fewer than `max_iterations` steps ran), runs the function subgraph, whose
//! outputs are per-step data then the new loop variables. Data outputs have `max_iterations`
//! rows; MXNet leaves the rows after the last step uninitialized, oxnet fills them with zeros.
//! Node inputs are the union of both subgraphs' inputs (`cond_input_locs`, `func_input_locs`);
//! loop variable k is function input `func_var_locs[k]`.

use super::body::{add, parse_int, parse_locs, row, zeros_like, Body};
use super::{backward_infer, backward_node};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::graph::symbol::Symbol;
use crate::graph::{Entry, GradBuilder};
use crate::ndarray::NDArray;
use crate::op::{call_str, copy_into, Desc, GradArgs, OpCtx, Operator};
use crate::shape::Shape;
use std::sync::Arc;

pub const NAME: &str = "_while_loop";

/// The node inputs each step saw (plus those after the last step), and each step's outputs.
type Steps = (Vec<Vec<NDArray>>, Vec<Vec<NDArray>>);

#[derive(Clone)]
pub struct WhileLoop {
    cond: Arc<Body>,
    func: Arc<Body>,
    subgraphs: Vec<Symbol>,
    cond_locs: Vec<usize>,
    func_locs: Vec<usize>,
    /// Node input holding each loop variable.
    var_inputs: Vec<usize>,
    num_inputs: usize,
    num_out_data: usize,
    num_outputs: usize,
    max_iterations: usize,
}

fn perr(msg: String) -> Error {
    Error::Param {
        op: NAME.into(),
        msg,
    }
}

impl WhileLoop {
    pub fn new(attrs: &[(String, String)], subgraphs: Vec<Symbol>) -> Result<WhileLoop> {
        let [c, f]: [Symbol; 2] = subgraphs.clone().try_into().map_err(|s: Vec<Symbol>| {
            Error::Value(format!(
                "operator {NAME} takes 2 subgraphs (condition, function), {} given",
                s.len()
            ))
        })?;
        let num_args = parse_int(NAME, "num_args", attrs)?;
        let num_inputs = num_args
            .checked_sub(2)
            .ok_or_else(|| perr(format!("num_args={num_args} must count the 2 subgraphs")))?;
        let num_outputs = parse_int(NAME, "num_outputs", attrs)?;
        let num_out_data = parse_int(NAME, "num_out_data", attrs)?;
        let max_iterations = parse_int(NAME, "max_iterations", attrs)?;
        if max_iterations == 0 {
            // MXNet's parameter bound: its outputs have max_iterations rows.
            return Err(perr(
                "value 0 for Parameter max_iterations should be greater equal to 1".into(),
            ));
        }
        let cond_locs = parse_locs(NAME, "cond_input_locs", attrs)?;
        let func_locs = parse_locs(NAME, "func_input_locs", attrs)?;
        let func_var_locs = parse_locs(NAME, "func_var_locs", attrs)?;
        let (cond, func) = (Arc::new(Body::new(c)), Arc::new(Body::new(f)));
        for (key, l, n) in [
            ("cond_input_locs", &cond_locs, cond.inputs.len()),
            ("func_input_locs", &func_locs, func.inputs.len()),
        ] {
            if l.len() != n || l.iter().any(|&x| x >= num_inputs) {
                return Err(perr(format!(
                    "{key}={l:?} must give one of the {num_inputs} node inputs for each of the \
                     subgraph's {n} inputs"
                )));
            }
        }
        let var_inputs = func_var_locs
            .iter()
            .map(|&v| func_locs.get(v).copied())
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                perr(format!(
                    "func_var_locs={func_var_locs:?} names a function input beyond its {}",
                    func_locs.len()
                ))
            })?;
        if num_out_data + var_inputs.len() != num_outputs || func.num_outputs() != num_outputs {
            return Err(perr(format!(
                "num_outputs={num_outputs} must be num_out_data={num_out_data} plus one per loop \
                 variable ({}), and the function subgraph's output count ({})",
                var_inputs.len(),
                func.num_outputs()
            )));
        }
        if cond.num_outputs() != 1 {
            return Err(perr(format!(
                "the condition subgraph has {} outputs; it must have 1",
                cond.num_outputs()
            )));
        }
        Ok(WhileLoop {
            cond,
            func,
            subgraphs,
            cond_locs,
            func_locs,
            var_inputs,
            num_inputs,
            num_out_data,
            num_outputs,
            max_iterations,
        })
    }

    fn input_count(&self) -> usize {
        self.num_inputs
    }

    fn pick<T: Clone>(locs: &[usize], inputs: &[T]) -> Vec<T> {
        locs.iter().map(|&l| inputs[l].clone()).collect()
    }

    /// Whether the condition holds for the current node inputs (waits for its value).
    fn holds(&self, cur: &[NDArray], is_train: bool) -> Result<bool> {
        let p = self
            .cond
            .run(&Self::pick(&self.cond_locs, cur), is_train)?
            .remove(0);
        if p.size() != 1 {
            return Err(Error::shape(
                NAME,
                format!(
                    "the condition must have exactly one element, got shape {}",
                    p.shape()
                ),
            ));
        }
        let v = call_str("Cast", &[p], &[("dtype", "float64")])?
            .remove(0)
            .to_vec::<f64>()?;
        Ok(v[0] != 0.0)
    }

    /// Runs the loop: the node inputs seen by each step, and each step's outputs.
    fn run_steps(&self, inputs: &[NDArray], is_train: bool) -> Result<Steps> {
        let mut cur = inputs.to_vec();
        let (mut seen, mut outs) = (Vec::new(), Vec::new());
        while seen.len() < self.max_iterations && self.holds(&cur, is_train)? {
            let o = self
                .func
                .run(&Self::pick(&self.func_locs, &cur), is_train)?;
            seen.push(cur.clone());
            for (k, &l) in self.var_inputs.iter().enumerate() {
                cur[l] = o[self.num_out_data + k].clone();
            }
            outs.push(o);
        }
        seen.push(cur);
        Ok((seen, outs))
    }
}

impl Operator for WhileLoop {
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
    fn infer_type_partial(
        &self,
        inputs: &mut [Option<DType>],
        outputs: &mut [Option<DType>],
    ) -> Result<()> {
        let mut sub = Self::pick(&self.func_locs, inputs);
        let outs = self.func.infer_types(NAME, &mut sub)?;
        for (&l, v) in self.func_locs.iter().zip(sub) {
            if inputs[l].is_none() {
                inputs[l] = v;
            }
        }
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
        let mut sub = Self::pick(&self.func_locs, inputs);
        self.func.infer_shapes(NAME, &mut sub)?;
        for (&l, v) in self.func_locs.iter().zip(sub) {
            if inputs[l].is_none() {
                inputs[l] = v;
            }
        }
        Ok(())
    }
    fn infer(&self, inputs: &[Desc]) -> Result<Vec<Desc>> {
        if inputs.len() != self.num_inputs {
            return Err(Error::Value(format!(
                "operator {NAME}: {} inputs given, it takes {}",
                inputs.len(),
                self.num_inputs
            )));
        }
        let outs = self
            .func
            .infer(NAME, &Self::pick(&self.func_locs, inputs))?;
        let mut res = Vec::with_capacity(outs.len());
        for (i, d) in outs.into_iter().enumerate() {
            if i < self.num_out_data {
                let mut dims = vec![self.max_iterations];
                dims.extend_from_slice(&d.shape.0);
                res.push(Desc::new(Shape::new(dims), d.dtype));
            } else {
                let init = &inputs[self.var_inputs[i - self.num_out_data]];
                if *init != d {
                    return Err(Error::shape(
                        NAME,
                        format!(
                            "loop variable {} enters the function as {} {} and leaves it as {} {}",
                            i - self.num_out_data,
                            init.shape,
                            init.dtype,
                            d.shape,
                            d.dtype
                        ),
                    ));
                }
                res.push(d);
            }
        }
        Ok(res)
    }
    fn forward(&self, cx: &OpCtx, inputs: &[NDArray], outputs: &[NDArray]) -> Result<()> {
        let (seen, outs) = self.run_steps(inputs, cx.is_train)?;
        for (k, out) in outputs[..self.num_out_data].iter().enumerate() {
            copy_into(&zeros_like(out)?, out, None)?;
            for (t, o) in outs.iter().enumerate() {
                copy_into(&o[k], &row(out, t)?, None)?;
            }
        }
        let last = &seen[seen.len() - 1];
        for (k, &l) in self.var_inputs.iter().enumerate() {
            copy_into(&last[l], &outputs[self.num_out_data + k], None)?;
        }
        Ok(())
    }
    fn gradient(&self, g: &mut GradBuilder, a: &GradArgs) -> Result<Vec<Option<Entry>>> {
        let back = WhileLoopBackward { fwd: self.clone() };
        backward_node(g, a, Arc::new(back))
    }
}

/// Input gradients of `_while_loop`: the loop is rerun to recover each step's inputs, then the
/// function's vector-Jacobian product runs backwards over the steps taken (padding rows get
/// no gradient), carrying the loop variables' gradients and summing the others'.
struct WhileLoopBackward {
    fwd: WhileLoop,
}

impl Operator for WhileLoopBackward {
    fn name(&self) -> &'static str {
        "_backward_while_loop"
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
            "_backward_while_loop",
            self.fwd.num_inputs,
            self.fwd.num_outputs,
            inputs,
        )
    }
    fn forward(&self, cx: &OpCtx, inputs: &[NDArray], outputs: &[NDArray]) -> Result<()> {
        let f = &self.fwd;
        let (xs, dys) = inputs.split_at(f.num_inputs);
        let (seen, _) = f.run_steps(xs, cx.is_train)?;
        let steps = seen.len() - 1;
        // Gradient per node input: loop variables hold the carried gradient, others the sum.
        let mut grads: Vec<Option<NDArray>> = vec![None; f.num_inputs];
        for (k, &l) in f.var_inputs.iter().enumerate() {
            grads[l] = Some(dys[f.num_out_data + k].clone());
        }
        let vjp = if steps > 0 { Some(f.func.vjp()?) } else { None };
        for t in (0..steps).rev() {
            let Some(vjp) = &vjp else { break };
            let mut heads = Vec::with_capacity(f.num_outputs);
            for dy in &dys[..f.num_out_data] {
                heads.push(row(dy, t)?);
            }
            for &l in &f.var_inputs {
                let g = match &grads[l] {
                    Some(g) => g.clone(),
                    None => zeros_like(&xs[l])?,
                };
                heads.push(g);
            }
            let g = vjp.run(
                &WhileLoop::pick(&f.func_locs, &seen[t]),
                &heads,
                cx.is_train,
            )?;
            for &l in &f.var_inputs {
                grads[l] = None;
            }
            for (gi, &l) in g.into_iter().zip(&f.func_locs) {
                let slot = &mut grads[l];
                *slot = Some(match slot.take() {
                    Some(acc) if !f.var_inputs.contains(&l) => add(&acc, &gi)?,
                    _ => gi,
                });
            }
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
