//! The native `Symbol` type: graph construction, listing, JSON and inference go to the core;
//! `python/oxnet/symbol/symbol.py` adds MXNet's Python-level methods to this same class.

use crate::convert::{attrs_of, dtype_of, np_type, shape_tuple};
use crate::error::IntoPyResult;
use oxnet::graph::infer::{infer_shape, infer_shape_partial, infer_type_partial, Inferred};
use oxnet::graph::json::{load_json_logged, to_json};
use oxnet::graph::subgraph::{create_control_flow, cut_subgraph};
use oxnet::graph::symbol::Symbol;
use oxnet::{DType, Shape};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

/// A cut graph and, per new variable, its name and the outer symbol it stands for.
type CutResult = (Py<PySymbol>, Vec<(String, Py<PySymbol>)>);

#[pyclass(name = "Symbol", module = "oxnet._native", weakref)]
pub struct PySymbol {
    pub inner: Symbol,
}

fn new_sym(py: Python<'_>, s: Symbol) -> PyResult<Py<PySymbol>> {
    Py::new(py, PySymbol { inner: s })
}

fn syms_of(list: &Bound<'_, PyAny>) -> PyResult<Vec<Symbol>> {
    let mut v = Vec::new();
    for x in list.try_iter()? {
        let x = x?;
        match x.cast::<PySymbol>() {
            Ok(s) => v.push(s.borrow().inner.clone()),
            Err(_) => {
                return Err(PyTypeError::new_err(format!(
                    "expected a Symbol, got {}",
                    x.get_type().name()?
                )))
            }
        }
    }
    Ok(v)
}

fn named_syms(list: Vec<(String, Bound<'_, PyAny>)>) -> PyResult<Vec<(String, Symbol)>> {
    list.into_iter()
        .map(|(k, v)| match v.cast::<PySymbol>() {
            Ok(s) => Ok((k, s.borrow().inner.clone())),
            Err(_) => Err(PyTypeError::new_err(format!(
                "Compose expect `Symbol` as arguments, got {} for {k}",
                v.get_type().name()?
            ))),
        })
        .collect()
}

fn shape_lists<'py>(py: Python<'py>, r: Inferred<Shape>) -> PyResult<Bound<'py, PyTuple>> {
    let conv = |v: Vec<Option<Shape>>| -> PyResult<Bound<'py, PyList>> {
        let items = v
            .iter()
            .map(|s| match s {
                Some(s) => Ok(shape_tuple(py, s)?.into_any()),
                None => Ok(py.None().into_bound(py)),
            })
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    };
    PyTuple::new(py, [conv(r.args)?, conv(r.outputs)?, conv(r.aux)?])
}

fn type_lists<'py>(py: Python<'py>, r: Inferred<DType>) -> PyResult<Bound<'py, PyTuple>> {
    let conv = |v: Vec<Option<DType>>| -> PyResult<Bound<'py, PyList>> {
        let items = v
            .iter()
            .map(|t| match t {
                Some(t) => np_type(py, *t),
                None => Ok(py.None().into_bound(py)),
            })
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    };
    PyTuple::new(py, [conv(r.args)?, conv(r.outputs)?, conv(r.aux)?])
}

#[pymethods]
impl PySymbol {
    /// `mx.sym.Variable` with attributes in stored form.
    #[staticmethod]
    fn _variable(
        py: Python<'_>,
        name: &str,
        attrs: Vec<(String, String)>,
    ) -> PyResult<Py<PySymbol>> {
        new_sym(py, Symbol::variable(name, attrs))
    }

    /// Creates op `op` named `name` with MXNet string attrs, composed with symbol inputs.
    #[staticmethod]
    fn _create(
        py: Python<'_>,
        op: &str,
        name: &str,
        attrs: Option<&Bound<'_, PyDict>>,
        args: &Bound<'_, PyAny>,
        kwargs: Vec<(String, Bound<'_, PyAny>)>,
    ) -> PyResult<Py<PySymbol>> {
        let attrs = attrs_of(py, attrs)?;
        let args = syms_of(args)?;
        let kwargs = named_syms(kwargs)?;
        new_sym(py, Symbol::create(op, name, &attrs, &args, &kwargs).py()?)
    }

    /// A control-flow node (`_foreach`) with its subgraphs; inputs positional.
    #[staticmethod]
    fn _create_control_flow(
        py: Python<'_>,
        op: &str,
        name: &str,
        attrs: Option<&Bound<'_, PyDict>>,
        args: &Bound<'_, PyAny>,
        subgraphs: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PySymbol>> {
        let attrs = attrs_of(py, attrs)?;
        let args = syms_of(args)?;
        let subs = syms_of(subgraphs)?;
        new_sym(py, create_control_flow(op, name, &attrs, &args, subs).py()?)
    }

    /// (cut graph, [(variable name, outer symbol)]) for subgraph `name` (MXSymbolCutSubgraph).
    fn _cut_subgraph(&self, py: Python<'_>, name: &str) -> PyResult<CutResult> {
        let (g, cuts) = cut_subgraph(&self.inner, name);
        let cuts = cuts
            .into_iter()
            .map(|(n, e)| Ok((n, new_sym(py, Symbol { outputs: vec![e] })?)))
            .collect::<PyResult<Vec<_>>>()?;
        Ok((new_sym(py, g)?, cuts))
    }

    #[staticmethod]
    fn _group(py: Python<'_>, symbols: &Bound<'_, PyAny>) -> PyResult<Py<PySymbol>> {
        new_sym(py, Symbol::group(&syms_of(symbols)?))
    }

    /// (symbol, info messages, warnings) from JSON text.
    #[staticmethod]
    fn _load_json(
        py: Python<'_>,
        text: &str,
    ) -> PyResult<(Py<PySymbol>, Vec<String>, Vec<String>)> {
        let (s, log) = load_json_logged(text).py()?;
        Ok((new_sym(py, s)?, log.info, log.warnings))
    }

    /// A composed copy (`sym(**kwargs, name=...)`).
    #[pyo3(signature = (kwargs, name=None))]
    fn _compose_copy(
        &self,
        py: Python<'_>,
        kwargs: Vec<(String, Bound<'_, PyAny>)>,
        name: Option<&str>,
    ) -> PyResult<Py<PySymbol>> {
        let kw = named_syms(kwargs)?;
        new_sym(py, self.inner.compose(&kw, name).py()?)
    }

    /// A copy of the graph (`__copy__`, `__deepcopy__`).
    fn _copy(&self, py: Python<'_>) -> PyResult<Py<PySymbol>> {
        new_sym(py, self.inner.deep_copy())
    }

    /// Makes this object hold `other`'s graph (in-place `_compose`).
    fn _assign(&mut self, other: PyRef<'_, PySymbol>) {
        self.inner = other.inner.clone();
    }

    fn _output(&self, py: Python<'_>, index: usize) -> PyResult<Py<PySymbol>> {
        new_sym(py, self.inner.output(index).py()?)
    }

    fn _set_attrs(&self, attrs: Vec<(String, String)>) -> PyResult<()> {
        self.inner.set_attrs(&attrs).py()
    }

    #[getter]
    fn name(&self) -> Option<String> {
        self.inner.name()
    }

    fn __len__(&self) -> usize {
        self.inner.outputs.len()
    }

    fn list_outputs(&self) -> Vec<String> {
        self.inner.list_outputs()
    }

    fn list_arguments(&self) -> Vec<String> {
        self.inner.list_arguments()
    }

    fn list_auxiliary_states(&self) -> Vec<String> {
        self.inner.list_auxiliary_states()
    }

    fn list_inputs(&self) -> Vec<String> {
        self.inner.list_inputs()
    }

    fn get_internals(&self, py: Python<'_>) -> PyResult<Py<PySymbol>> {
        new_sym(py, self.inner.internals())
    }

    fn get_children(&self, py: Python<'_>) -> PyResult<Option<Py<PySymbol>>> {
        self.inner.children().map(|s| new_sym(py, s)).transpose()
    }

    fn _attr(&self, key: &str) -> Option<String> {
        self.inner.attr(key)
    }

    fn _list_attr(&self) -> Vec<(String, String)> {
        self.inner.list_attr()
    }

    fn _attr_dict(&self) -> Vec<(String, Vec<(String, String)>)> {
        self.inner.attr_dict()
    }

    fn tojson(&self) -> String {
        to_json(&self.inner)
    }

    /// (arg, out, aux) shapes: tuples with 0 for unknown dims, None for unknown shapes.
    fn _infer_shape_partial<'py>(
        &self,
        py: Python<'py>,
        given: Vec<(String, Vec<usize>)>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let given: Vec<(String, Shape)> =
            given.into_iter().map(|(k, v)| (k, Shape::new(v))).collect();
        let r = py
            .detach(|| infer_shape_partial(&self.inner, &given))
            .py()?;
        shape_lists(py, r)
    }

    /// (arg, out, aux) shapes once every one is known, else None.
    fn _infer_shape<'py>(
        &self,
        py: Python<'py>,
        given: Vec<(String, Vec<usize>)>,
    ) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let given: Vec<(String, Shape)> =
            given.into_iter().map(|(k, v)| (k, Shape::new(v))).collect();
        let r = py.detach(|| infer_shape(&self.inner, &given)).py()?;
        r.map(|r| shape_lists(py, r)).transpose()
    }

    /// (arg, out, aux) numpy type classes, None where unknown.
    fn _infer_type_partial<'py>(
        &self,
        py: Python<'py>,
        given: Vec<(String, Bound<'py, PyAny>)>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let given = given
            .into_iter()
            .map(|(k, v)| Ok((k, dtype_of(py, &v)?)))
            .collect::<PyResult<Vec<_>>>()?;
        let r = infer_type_partial(&self.inner, &given).py()?;
        type_lists(py, r)
    }
}
