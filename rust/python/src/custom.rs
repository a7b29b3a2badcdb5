//! The binding's side of `Custom`: configured operators whose inference, forward and backward
//! call the Python `oxnet.operator._Bridge` made for their node. A Python exception is kept
//! (`error::stash`) as the cause of the MXNetError the caller sees (MXNet's type for it).

use crate::error::stash;
use crate::ndarray::wrap;
use oxnet::graph::{Entry, GradBuilder};
use oxnet::op::{call, Desc, GradArgs, OpCtx, Operator};
use oxnet::{DType, Error, NDArray, Result, Shape};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use std::sync::Arc;

/// A Python exception from the custom op's code, kept for the caller as the cause of an
/// MXNetError (MXNet code catches that type; the traceback still shows the user's line).
fn py_error(op_type: &str, what: &str, e: PyErr) -> Error {
    let msg = format!("Custom operator {op_type}: {what} raised {e}");
    Python::attach(|py| {
        let err = crate::error::MXNetError::new_err(msg.clone());
        err.set_cause(py, Some(e));
        stash(&msg, err);
    });
    Error::Graph(msg)
}

fn arrays<'py>(py: Python<'py>, a: &[NDArray]) -> PyResult<Bound<'py, PyList>> {
    let items = a
        .iter()
        .map(|x| wrap(py, x.clone()))
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}

/// What a `Custom` node and its backward share: the bridge and the declared names.
struct Shared {
    bridge: Py<PyAny>,
    op_type: String,
    args: Vec<String>,
    outs: Vec<String>,
    aux: Vec<String>,
    need_top_grad: bool,
}

impl Shared {
    fn call(
        &self,
        what: &str,
        f: impl FnOnce(Python<'_>, &Bound<'_, PyAny>) -> PyResult<()>,
    ) -> Result<()> {
        Python::attach(|py| {
            f(py, self.bridge.bind(py)).map_err(|e| py_error(&self.op_type, what, e))
        })
    }
}

pub struct Custom {
    s: Arc<Shared>,
    aux_idx: Vec<usize>,
}

/// Builds the configured op for `Custom` attributes (the core's factory).
pub fn create(attrs: &[(String, String)]) -> Result<Arc<dyn Operator>> {
    let op_type = attrs
        .iter()
        .rev()
        .find(|(k, _)| k == "op_type")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    Python::attach(|py| -> PyResult<Arc<dyn Operator>> {
        let pairs: Vec<(String, String)> = attrs
            .iter()
            .filter(|(k, _)| !(k.starts_with("__") && k.ends_with("__")))
            .cloned()
            .collect();
        let bridge = py
            .import("oxnet.operator")?
            .getattr("_Bridge")?
            .call1((pairs,))?;
        let names = |attr: &str| -> PyResult<Vec<String>> { bridge.getattr(attr)?.extract() };
        let (args, outs, aux) = (names("arguments")?, names("outputs")?, names("aux")?);
        let need_top_grad: bool = bridge.getattr("need_top_grad")?.extract()?;
        let aux_idx = (args.len()..args.len() + aux.len()).collect();
        Ok(Arc::new(Custom {
            s: Arc::new(Shared {
                bridge: bridge.unbind(),
                op_type: op_type.clone(),
                args,
                outs,
                aux,
                need_top_grad,
            }),
            aux_idx,
        }))
    })
    .map_err(|e| py_error(&op_type, "CustomOpProp", e))
}

type Split<T> = Option<(Vec<T>, Vec<T>)>;

impl Custom {
    /// The prop's shapes for inputs (args then aux) and outputs; `None` when partial and
    /// the prop could not tell.
    fn shapes(&self, given: &[Option<Shape>], partial: bool) -> Result<Split<Shape>> {
        let mut res = None;
        self.s.call("infer_shape", |py, b| {
            let given: Vec<Option<Vec<usize>>> = given
                .iter()
                .map(|s| s.as_ref().map(|s| s.dims().to_vec()))
                .collect();
            let r = b.call_method1("infer_shape", (given, partial))?;
            if !r.is_none() {
                let (ins, outs): (Vec<Vec<usize>>, Vec<Vec<usize>>) = r.extract()?;
                res = Some((
                    ins.into_iter().map(Shape::new).collect(),
                    outs.into_iter().map(Shape::new).collect(),
                ));
            }
            let _ = py;
            Ok(())
        })?;
        Ok(res)
    }

    /// The prop's dtypes for inputs (args then aux) and outputs, `None` where it leaves one
    /// undecided (as MXNet's default `infer_type` leaves an unknown input).
    fn types(&self, given: &[Option<DType>], partial: bool) -> Result<Split<Option<DType>>> {
        let mut res = None;
        self.s.call("infer_type", |_, b| {
            let given: Vec<Option<&str>> = given.iter().map(|t| t.map(|t| t.name())).collect();
            let r = b.call_method1("infer_type", (given, partial))?;
            if !r.is_none() {
                let (ins, outs): (Vec<Option<String>>, Vec<Option<String>>) = r.extract()?;
                let dt = |n: Option<String>| {
                    n.map(|n| {
                        DType::from_name(&n).ok_or_else(|| {
                            pyo3::exceptions::PyTypeError::new_err(format!(
                                "dtype {n} is not supported by oxnet"
                            ))
                        })
                    })
                    .transpose()
                };
                res = Some((
                    ins.into_iter().map(dt).collect::<PyResult<_>>()?,
                    outs.into_iter().map(dt).collect::<PyResult<_>>()?,
                ));
            }
            Ok(())
        })?;
        Ok(res)
    }
}

impl Operator for Custom {
    fn name(&self) -> &'static str {
        "Custom"
    }
    fn num_outputs(&self) -> usize {
        self.s.outs.len()
    }
    fn input_names(&self) -> Vec<String> {
        self.s.args.iter().chain(&self.s.aux).cloned().collect()
    }
    fn output_names(&self) -> Vec<String> {
        self.s.outs.clone()
    }
    fn num_inputs(&self) -> Option<usize> {
        Some(self.s.args.len() + self.s.aux.len())
    }
    fn mutate_inputs(&self) -> &[usize] {
        &self.aux_idx
    }
    fn runs_at_push(&self) -> bool {
        true
    }
    fn is_loss(&self) -> bool {
        !self.s.need_top_grad
    }
    fn infer(&self, inputs: &[Desc]) -> Result<Vec<Desc>> {
        let n = self.s.args.len() + self.s.aux.len();
        if inputs.len() != n {
            return Err(Error::Value(format!(
                "Custom operator {} takes {n} inputs ({}), {} given",
                self.s.op_type,
                self.input_names().join(", "),
                inputs.len()
            )));
        }
        let given: Vec<Option<Shape>> = inputs.iter().map(|d| Some(d.shape.clone())).collect();
        let types: Vec<Option<DType>> = inputs.iter().map(|d| Some(d.dtype)).collect();
        let (Some((ins, outs)), Some((tins, touts))) =
            (self.shapes(&given, false)?, self.types(&types, false)?)
        else {
            return Err(Error::Internal("custom inference gave no result".into()));
        };
        let undecided = |what: &str| {
            Error::dtype(
                "Custom",
                format!(
                    "op_type {}: infer_type left the dtype of {what} undecided (None)",
                    self.s.op_type
                ),
            )
        };
        let tins = tins
            .into_iter()
            .enumerate()
            .map(|(i, t)| t.ok_or_else(|| undecided(&self.input_names()[i])))
            .collect::<Result<Vec<DType>>>()?;
        let touts = touts
            .into_iter()
            .enumerate()
            .map(|(i, t)| t.ok_or_else(|| undecided(&self.s.outs[i])))
            .collect::<Result<Vec<DType>>>()?;
        for (i, (d, (s, t))) in inputs.iter().zip(ins.iter().zip(&tins)).enumerate() {
            if &d.shape != s || d.dtype != *t {
                return Err(Error::shape(
                    "Custom",
                    format!(
                        "op_type {}: input {} has shape {} and dtype {}, but the prop's \
                         infer_shape/infer_type expects {s} and {t}",
                        self.s.op_type,
                        self.input_names()[i],
                        d.shape,
                        d.dtype
                    ),
                ));
            }
        }
        Ok(outs
            .into_iter()
            .zip(touts)
            .map(|(s, t)| Desc::new(s, t))
            .collect())
    }
    fn infer_shape_partial(
        &self,
        inputs: &mut [Option<Shape>],
        outputs: &mut [Option<Shape>],
    ) -> Result<()> {
        if inputs.iter().all(Option::is_none) {
            return Ok(());
        }
        if let Some((ins, outs)) = self.shapes(inputs, true)? {
            let known = |s: &Shape| !s.dims().is_empty() && !s.dims().contains(&0);
            for (slot, s) in inputs
                .iter_mut()
                .zip(ins)
                .chain(outputs.iter_mut().zip(outs))
            {
                if slot.is_none() && known(&s) {
                    *slot = Some(s);
                }
            }
        }
        Ok(())
    }
    fn infer_type_partial(
        &self,
        inputs: &mut [Option<DType>],
        outputs: &mut [Option<DType>],
    ) -> Result<()> {
        if let Some((ins, outs)) = self.types(inputs, true)? {
            for (slot, t) in inputs
                .iter_mut()
                .zip(ins)
                .chain(outputs.iter_mut().zip(outs))
            {
                if slot.is_none() {
                    *slot = t;
                }
            }
        }
        Ok(())
    }
    fn forward(&self, cx: &OpCtx, inputs: &[NDArray], outputs: &[NDArray]) -> Result<()> {
        let n = self.s.args.len();
        self.s.call("forward", |py, b| {
            let (ins, aux) = (arrays(py, &inputs[..n])?, arrays(py, &inputs[n..])?);
            b.call_method1("forward", (cx.is_train, ins, arrays(py, outputs)?, aux))?;
            Ok(())
        })
    }
    fn gradient(&self, g: &mut GradBuilder, a: &GradArgs) -> Result<Vec<Option<Entry>>> {
        let (n_args, n_out) = (self.s.args.len(), self.s.outs.len());
        let mut inputs = Vec::new();
        if self.s.need_top_grad {
            inputs.extend(a.out_grads.iter().take(n_out).cloned());
        }
        inputs.extend(a.inputs.iter().cloned());
        inputs.extend(a.outputs.iter().take(n_out).cloned());
        let needs: Vec<bool> = (0..n_args).map(|i| a.needs.get(i) == Some(&true)).collect();
        let grads = g.apply(
            Arc::new(CustomBackward {
                s: self.s.clone(),
                needs: needs.clone(),
            }),
            &inputs,
        );
        Ok((0..a.inputs.len())
            .map(|i| (i < n_args && needs[i]).then(|| grads[i].clone()))
            .collect())
    }
}

/// `_backward_Custom`: inputs are the head gradients (unless the prop is a loss), the
/// forward's inputs (args then aux) and its outputs; outputs are the arguments' gradients.
struct CustomBackward {
    s: Arc<Shared>,
    needs: Vec<bool>,
}

impl CustomBackward {
    fn offsets(&self) -> (usize, usize) {
        let og = if self.s.need_top_grad {
            self.s.outs.len()
        } else {
            0
        };
        (og, og + self.s.args.len() + self.s.aux.len())
    }
}

impl Operator for CustomBackward {
    fn name(&self) -> &'static str {
        "_backward_Custom"
    }
    fn num_outputs(&self) -> usize {
        self.s.args.len()
    }
    fn runs_at_push(&self) -> bool {
        true
    }
    fn infer(&self, inputs: &[Desc]) -> Result<Vec<Desc>> {
        let (start, out_at) = self.offsets();
        if inputs.len() != out_at + self.s.outs.len() {
            return Err(Error::Internal(format!(
                "_backward_Custom ({}) got {} inputs",
                self.s.op_type,
                inputs.len()
            )));
        }
        Ok(inputs[start..start + self.s.args.len()].to_vec())
    }
    fn forward(&self, _: &OpCtx, inputs: &[NDArray], outputs: &[NDArray]) -> Result<()> {
        let (start, out_at) = self.offsets();
        let n_args = self.s.args.len();
        let out_data = &inputs[out_at..];
        // A loss prop's backward still gets an out_grad list, as in MXNet: zeros.
        let out_grad = if self.s.need_top_grad {
            inputs[..start].to_vec()
        } else {
            out_data
                .iter()
                .map(|o| call("zeros_like", std::slice::from_ref(o), &[]).map(|mut v| v.remove(0)))
                .collect::<Result<Vec<_>>>()?
        };
        let req: Vec<&str> = self
            .needs
            .iter()
            .map(|&n| if n { "write" } else { "null" })
            .collect();
        self.s.call("backward", |py, b| {
            let in_data = arrays(py, &inputs[start..start + n_args])?;
            let aux = arrays(py, &inputs[start + n_args..out_at])?;
            let args = PyTuple::new(
                py,
                [
                    PyList::new(py, &req)?.into_any(),
                    arrays(py, &out_grad)?.into_any(),
                    in_data.into_any(),
                    arrays(py, out_data)?.into_any(),
                    arrays(py, outputs)?.into_any(),
                    aux.into_any(),
                ],
            )?;
            b.call_method1("backward", args)?;
            Ok(())
        })
    }
}
