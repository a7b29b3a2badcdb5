//! `Executor` handle: the core executor behind `Symbol.bind`.

use crate::convert::ctx_of;
use crate::error::{enter, stash, IntoPyResult};
use crate::ndarray::{wrap, PyNDArray};
use crate::symbol::PySymbol;
use oxnet::executor::{Executor, GradReq};
use oxnet::graph::place::Placement;
use oxnet::graph::Entry;
use oxnet::NDArray;
use pyo3::prelude::*;
use std::sync::Mutex;

#[pyclass(name = "Executor", module = "oxnet._native", frozen)]
pub struct PyExecutor {
    ex: Mutex<Executor>,
}

fn lock(m: &Mutex<Executor>) -> std::sync::MutexGuard<'_, Executor> {
    // A panic inside forward leaves no broken invariant (plans are immutable).
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A context as `(device type code, device id)`.
type CtxCode = (i32, i32);

/// Binds a symbol's outputs to arrays (used directly, not copied). `group2ctx`, when given, is
/// the default context and the context of each `ctx_group` (model parallelism).
#[pyfunction]
#[pyo3(signature = (symbol, args, grads, reqs, aux, group2ctx=None))]
pub fn bind_executor(
    py: Python<'_>,
    symbol: PyRef<'_, PySymbol>,
    args: Vec<PyRef<'_, PyNDArray>>,
    grads: Vec<Option<PyRef<'_, PyNDArray>>>,
    reqs: Vec<String>,
    aux: Vec<PyRef<'_, PyNDArray>>,
    group2ctx: Option<(CtxCode, Vec<(String, CtxCode)>)>,
) -> PyResult<PyExecutor> {
    let placement = match group2ctx {
        Some(((t, i), groups)) => Some(Placement {
            default: ctx_of(t, i)?,
            groups: groups
                .into_iter()
                .map(|(g, (t, i))| Ok((g, ctx_of(t, i)?)))
                .collect::<PyResult<_>>()?,
        }),
        None => None,
    };
    let heads: Vec<Entry> = symbol.inner.outputs.clone();
    let args: Vec<NDArray> = args.iter().map(|a| a.inner.clone()).collect();
    let grads: Vec<Option<NDArray>> = grads
        .iter()
        .map(|g| g.as_ref().map(|g| g.inner.clone()))
        .collect();
    let reqs = reqs
        .iter()
        .map(|r| GradReq::parse(r))
        .collect::<oxnet::Result<Vec<_>>>()
        .py()?;
    let aux: Vec<NDArray> = aux.iter().map(|a| a.inner.clone()).collect();
    let ex = enter(py, move || {
        Executor::bind(heads, args, grads, reqs, aux, placement)
    })?;
    Ok(PyExecutor { ex: Mutex::new(ex) })
}

#[pymethods]
impl PyExecutor {
    /// The output arrays (bound once; every forward writes into them, except into those whose
    /// shapes depend on values: forward replaces them).
    fn outputs(&self, py: Python<'_>) -> PyResult<Vec<Py<PyAny>>> {
        let outs = lock(&self.ex).outputs.clone();
        outs.into_iter().map(|a| wrap(py, a)).collect()
    }

    fn has_dynamic_outputs(&self) -> bool {
        lock(&self.ex).has_dynamic_outputs()
    }

    #[pyo3(signature = (is_train=false))]
    fn forward(&self, py: Python<'_>, is_train: bool) -> PyResult<()> {
        enter(py, || lock(&self.ex).forward(is_train))
    }

    /// `forward` calling `monitor(name, array)` on every op's outputs (and, with
    /// `monitor_all`, on the arguments and every op's inputs), as `Executor.set_monitor_callback`
    /// asks. An exception the callback raises reaches the caller unchanged.
    fn forward_monitored(
        &self,
        py: Python<'_>,
        is_train: bool,
        monitor_all: bool,
        monitor: Py<PyAny>,
    ) -> PyResult<()> {
        let mut call = monitor_call(&monitor);
        enter(py, move || {
            lock(&self.ex).forward_monitored(is_train, monitor_all, &mut call)
        })
    }

    /// `backward` calling `monitor(name, array)` on the gradient every op gives each of its
    /// inputs (`fc1_backward_output1`), as MXNet's monitor sees its backward nodes.
    fn backward_monitored(
        &self,
        py: Python<'_>,
        out_grads: Vec<Option<PyRef<'_, PyNDArray>>>,
        is_train: bool,
        monitor: Py<PyAny>,
    ) -> PyResult<()> {
        let og: Vec<Option<NDArray>> = out_grads
            .iter()
            .map(|g| g.as_ref().map(|g| g.inner.clone()))
            .collect();
        let mut call = monitor_call(&monitor);
        enter(py, move || {
            lock(&self.ex).backward_monitored(&og, is_train, &mut call)
        })
    }

    #[pyo3(signature = (out_grads, is_train=true))]
    fn backward(
        &self,
        py: Python<'_>,
        out_grads: Vec<Option<PyRef<'_, PyNDArray>>>,
        is_train: bool,
    ) -> PyResult<()> {
        let og: Vec<Option<NDArray>> = out_grads
            .iter()
            .map(|g| g.as_ref().map(|g| g.inner.clone()))
            .collect();
        enter(py, move || lock(&self.ex).backward(&og, is_train))
    }
}

/// A Rust monitor that calls the Python `monitor(name, array)`; an exception it raises is kept
/// for the caller and stops the run.
fn monitor_call(monitor: &Py<PyAny>) -> impl FnMut(&str, &NDArray) -> oxnet::Result<()> + '_ {
    move |name: &str, a: &NDArray| -> oxnet::Result<()> {
        Python::attach(|py| {
            let arr = wrap(py, a.clone())?;
            monitor.call1(py, (name, arr)).map(drop)
        })
        .map_err(|e| {
            let msg = format!("the monitor callback raised {e} on {name}");
            stash(&msg, e);
            oxnet::Error::Value(msg)
        })
    }
}
