//! `mx.autograd` entry points: flags, marking variables, backward and grad.

use crate::error::{enter, IntoPyResult};
use crate::ndarray::{wrap, wrap_ag, PyNDArray};
use oxnet::autograd;
use oxnet::executor::GradReq;
use oxnet::graph::Entry;
use oxnet::NDArray;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

#[pyfunction]
pub fn set_recording(on: bool) -> bool {
    autograd::set_recording(on)
}

#[pyfunction]
pub fn set_training(on: bool) -> bool {
    autograd::set_training(on)
}

#[pyfunction]
pub fn is_recording() -> bool {
    autograd::is_recording()
}

#[pyfunction]
pub fn is_training() -> bool {
    autograd::is_training()
}

/// Makes each array an autograd leaf whose gradient goes into the matching `grads` array.
#[pyfunction]
pub fn mark_variables(
    arrays: Vec<PyRef<'_, PyNDArray>>,
    grads: Vec<PyRef<'_, PyNDArray>>,
    reqs: Vec<String>,
) -> PyResult<()> {
    if arrays.len() != grads.len() || arrays.len() != reqs.len() {
        return Err(PyValueError::new_err(
            "mark_variables: variables, gradients and grad_reqs must have the same length",
        ));
    }
    for ((a, g), r) in arrays.iter().zip(&grads).zip(&reqs) {
        let req = GradReq::parse(r).py()?;
        let e = autograd::mark_variable(&a.inner, g.inner.clone(), req);
        if let Ok(mut slot) = a.ag.lock() {
            *slot = Some(e);
        }
    }
    Ok(())
}

/// The gradient buffer attached to `a`, or None.
#[pyfunction]
pub fn get_grad(py: Python<'_>, a: &PyNDArray) -> PyResult<Option<Py<PyAny>>> {
    let Some(e) = a.entry() else { return Ok(None) };
    let g = e.node.leaf_grad.lock().ok().and_then(|l| l.clone());
    g.map(|l| wrap(py, l.grad)).transpose()
}

/// MXNet's `_fresh_grad`: whether a backward has written `a`'s gradient since it was reset.
#[pyfunction]
pub fn fresh_grad(a: &PyNDArray) -> bool {
    a.entry().is_some_and(|e| {
        e.node
            .leaf_grad
            .lock()
            .is_ok_and(|g| g.as_ref().is_some_and(|g| g.fresh))
    })
}

#[pyfunction]
pub fn set_fresh_grad(a: &PyNDArray, fresh: bool) {
    if let Some(e) = a.entry() {
        if let Ok(mut g) = e.node.leaf_grad.lock() {
            if let Some(g) = g.as_mut() {
                g.fresh = fresh;
            }
        }
    }
}

/// Drops `a`'s autograd history (`detach`): a new handle on the same memory, untracked.
#[pyfunction]
pub fn detach(py: Python<'_>, a: &PyNDArray) -> PyResult<Py<PyAny>> {
    wrap(py, a.inner.clone())
}

/// The recorded computation of `a` as a Symbol (`autograd.get_symbol`).
#[pyfunction]
pub fn get_symbol(a: &PyNDArray) -> PyResult<crate::symbol::PySymbol> {
    let e = a
        .entry()
        .ok_or_else(|| crate::error::MXNetError::new_err(autograd::NOT_RECORDED))?;
    Ok(crate::symbol::PySymbol {
        inner: autograd::get_symbol(&e).py()?,
    })
}

/// The recorded heads and their head gradients. As MXNet, a head no recorded op produced
/// (it reaches no variable) is left out while another head was recorded.
fn heads_of(
    heads: &[PyRef<'_, PyNDArray>],
    head_grads: Vec<Option<PyRef<'_, PyNDArray>>>,
) -> PyResult<(Vec<Entry>, Vec<Option<NDArray>>)> {
    let mut grads = head_grads.into_iter();
    let (hs, hg): (Vec<Entry>, Vec<Option<NDArray>>) = heads
        .iter()
        .filter_map(|h| {
            let g = grads.next().flatten().map(|g| g.inner.clone());
            h.entry().map(|e| (e, g))
        })
        .unzip();
    if hs.is_empty() {
        return Err(crate::error::MXNetError::new_err(autograd::NOT_RECORDED));
    }
    Ok((hs, hg))
}

#[pyfunction]
#[pyo3(signature = (heads, head_grads, train_mode=true, retain_graph=false))]
pub fn backward(
    py: Python<'_>,
    heads: Vec<PyRef<'_, PyNDArray>>,
    head_grads: Vec<Option<PyRef<'_, PyNDArray>>>,
    train_mode: bool,
    retain_graph: bool,
) -> PyResult<()> {
    let (hs, hg) = heads_of(&heads, head_grads)?;
    enter(py, move || {
        let prev = autograd::set_recording(false);
        let r = autograd::backward(&hs, &hg, train_mode, retain_graph);
        autograd::set_recording(prev);
        r
    })
}

#[pyfunction]
#[pyo3(signature = (heads, variables, head_grads, create_graph=false, train_mode=true, retain_graph=false))]
pub fn grad(
    py: Python<'_>,
    heads: Vec<PyRef<'_, PyNDArray>>,
    variables: Vec<PyRef<'_, PyNDArray>>,
    head_grads: Vec<Option<PyRef<'_, PyNDArray>>>,
    create_graph: bool,
    train_mode: bool,
    retain_graph: bool,
) -> PyResult<Vec<Py<PyAny>>> {
    let (hs, hg) = heads_of(&heads, head_grads)?;
    let vs = variables
        .iter()
        .map(|v| {
            v.entry().ok_or_else(|| {
                crate::error::MXNetError::new_err(
                    "autograd.grad: a variable was not marked (attach_grad)",
                )
            })
        })
        .collect::<PyResult<Vec<_>>>()?;
    let res = enter(py, move || {
        let prev = autograd::set_recording(false);
        let r = autograd::grad(&hs, &hg, &vs, create_graph, train_mode, retain_graph);
        autograd::set_recording(prev);
        r
    })?;
    res.into_iter().map(|(a, e)| wrap_ag(py, a, e)).collect()
}
