//! The native `NDArray` type: arithmetic dunders and hot methods go straight to the core;
//! `python/oxnet/ndarray/ndarray.py` adds the rarely used methods to this same class.

use crate::convert::{dtype_of, np_type, shape_tuple, to_numpy};
use crate::error::{enter, IntoPyResult};
use crate::origin;
use numpy::{PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use oxnet::autograd;
use oxnet::graph::Entry;
use oxnet::op::elemwise_binary::{binary_op, scalar_op, BinOp};
use oxnet::op::{self, Operator};
use oxnet::{DType, NDArray, Shape};
use pyo3::basic::CompareOp;
use pyo3::exceptions::PyBufferError;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use std::sync::{Arc, Mutex, OnceLock};

#[pyclass(name = "NDArray", module = "oxnet.ndarray", subclass, weakref, frozen)]
pub struct PyNDArray {
    pub inner: NDArray,
    /// Autograd entry: set by `attach_grad` or when a recorded op produced this array.
    pub ag: Mutex<Option<Entry>>,
}

impl PyNDArray {
    pub fn new(inner: NDArray, ag: Option<Entry>) -> PyNDArray {
        PyNDArray {
            inner,
            ag: Mutex::new(ag),
        }
    }

    /// This array's autograd entry while its node still holds its recorded history (an
    /// array whose history a backward freed is a constant again, as in MXNet).
    pub fn entry(&self) -> Option<Entry> {
        self.ag
            .lock()
            .ok()
            .and_then(|g| g.clone())
            .filter(|e| e.node.has_values())
    }

    /// Under `autograd.record()`, records view `v` of this tracked array as op `name` (views
    /// share memory, but their gradient flows like the op's).
    /// The attributes are made only when recording (views are taken in tight loops).
    fn record_view(
        &self,
        v: &NDArray,
        name: &str,
        attrs: impl FnOnce() -> Vec<(&'static str, String)>,
    ) -> PyResult<Option<Entry>> {
        if !autograd::is_recording() || self.entry().is_none() {
            return Ok(None);
        }
        let attrs: Vec<(String, String)> = attrs()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let opr = op::registry().get(name).py()?.create(&attrs).py()?;
        Ok(self.record_unary(&opr, attrs, v))
    }

    /// Records `v` as `opr` of this array when recording and this array is tracked.
    fn record_unary(
        &self,
        opr: &Arc<dyn Operator>,
        attrs: Vec<(String, String)>,
        v: &NDArray,
    ) -> Option<Entry> {
        let e = self.entry().filter(|_| autograd::is_recording())?;
        let ins = std::slice::from_ref(&self.inner);
        let rec = autograd::record(opr, attrs, ins, &[Some(e)], std::slice::from_ref(v));
        rec.into_iter().next()
    }

    /// `self op= other`. Under `autograd.record()` an array in the graph may not change (the
    /// ops that read it would differentiate with its new value; MXNet refuses it too); a
    /// fresh array combined with a recorded one becomes that op's recorded result, computed
    /// from a copy of its old value, which the gradient may read.
    fn inplace(&self, py: Python<'_>, other: &Bound<'_, PyAny>, kind: BinOp) -> PyResult<()> {
        let recorded = |a: &Bound<'_, PyAny>| {
            a.cast::<PyNDArray>()
                .is_ok_and(|b| b.get().entry().is_some())
        };
        if autograd::is_recording() && (self.entry().is_some() || recorded(other)) {
            if self.entry().is_some() {
                let (sym, name) = match kind {
                    BinOp::Add => ("+", "iadd"),
                    BinOp::Sub => ("-", "isub"),
                    BinOp::Mul => ("*", "imul"),
                    BinOp::Div => ("/", "itruediv"),
                    _ => ("%", "imod"),
                };
                return Err(crate::error::MXNetError::new_err(format!(
                    "NDArray.__{name}__: Inplace operations (+=, -=, x[:]=, etc) are not \
                     supported when recording with autograd: this array (shape {}) is part of \
                     the recorded graph; write `y = y {sym} z` instead of `y {sym}= z`",
                    self.inner.shape()
                )));
            }
            let old = NDArray::empty(
                self.inner.shape().clone(),
                self.inner.dtype(),
                self.inner.ctx(),
            )
            .py()?;
            op::copy_into(&self.inner, &old, origin::capture(py)).py()?;
            let Some(Out(res, e)) =
                arith(py, &PyNDArray::new(old, None), other, kind, false, None)?
            else {
                return Err(not_supported(other));
            };
            op::copy_into(&res, &self.inner, origin::capture(py)).py()?;
            if let Ok(mut slot) = self.ag.lock() {
                *slot = e;
            }
            return Ok(());
        }
        match arith(py, self, other, kind, false, Some(&self.inner))? {
            Some(_) => Ok(()),
            None => Err(not_supported(other)),
        }
    }

    /// Under `autograd.record()`, records `dst`, a copy of this tracked array made outside the
    /// engine's ops (`astype`, `copyto`), as `_copy` or `Cast`; a copy to another context as
    /// `_copyto`, whose gradient goes back there.
    fn record_copy(&self, dst: &NDArray) -> PyResult<Option<Entry>> {
        if dst.ctx() != self.inner.ctx() {
            let opr = op::cross_copy::CrossCopy::op(
                (self.inner.ctx(), self.inner.dtype()),
                (dst.ctx(), dst.dtype()),
            );
            return Ok(self.record_unary(&opr, Vec::new(), dst));
        }
        if dst.dtype() == self.inner.dtype() {
            self.record_view(dst, "_copy", Vec::new)
        } else {
            self.record_view(dst, "Cast", || {
                vec![("dtype", dst.dtype().name().to_string())]
            })
        }
    }
}

pub fn wrap(py: Python<'_>, a: NDArray) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, PyNDArray::new(a, None))?.into_any())
}

pub fn wrap_ag(py: Python<'_>, a: NDArray, ag: Option<Entry>) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, PyNDArray::new(a, ag))?.into_any())
}

/// Result of an arithmetic dunder: the array and, under `autograd.record()`, its entry.
pub struct Out(NDArray, Option<Entry>);

impl Out {
    fn wrap(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        wrap_ag(py, self.0, self.1)
    }
}

/// Runs `opr` and, when recording and some input is tracked, records it.
fn run_recorded(
    opr: &Arc<dyn Operator>,
    ins: &[&PyNDArray],
    out: Option<&[NDArray]>,
    origin: Option<oxnet::engine::Origin>,
) -> PyResult<Option<Out>> {
    // On the stack for the dunders' one or two operands: a tiny op's dispatch is mostly
    // allocations.
    let (one, two, many): ([NDArray; 1], [NDArray; 2], Vec<NDArray>);
    let arrays: &[NDArray] = match ins {
        [a] => {
            one = [a.inner.clone()];
            &one
        }
        [a, b] => {
            two = [a.inner.clone(), b.inner.clone()];
            &two
        }
        _ => {
            many = ins.iter().map(|a| a.inner.clone()).collect();
            &many
        }
    };
    let res = op::invoke(opr, arrays, out, origin).py()?;
    let Some(first) = res.first().cloned() else {
        return Ok(None);
    };
    if out.is_none() && autograd::is_recording() {
        let entries: Vec<Option<Entry>> = ins.iter().map(|a| a.entry()).collect();
        if entries.iter().any(|e| e.is_some()) {
            let e = autograd::record(opr, Vec::new(), arrays, &entries, &res);
            return Ok(Some(Out(first, e.into_iter().next())));
        }
    }
    Ok(Some(Out(first, None)))
}

const KINDS: [BinOp; 18] = [
    BinOp::Add,
    BinOp::Sub,
    BinOp::Mul,
    BinOp::Div,
    BinOp::Mod,
    BinOp::Pow,
    BinOp::Max,
    BinOp::Min,
    BinOp::Hypot,
    BinOp::Eq,
    BinOp::Ne,
    BinOp::Gt,
    BinOp::Ge,
    BinOp::Lt,
    BinOp::Le,
    BinOp::And,
    BinOp::Or,
    BinOp::Xor,
];

/// Configured array-array ops, built once (the dunders must not parse attributes per call).
fn cached(kind: BinOp, broadcast: bool) -> &'static Arc<dyn Operator> {
    static OPS: OnceLock<Vec<Arc<dyn Operator>>> = OnceLock::new();
    let ops = OPS.get_or_init(|| {
        KINDS
            .iter()
            .flat_map(|&k| [binary_op(k, false), binary_op(k, true)])
            .collect()
    });
    let i = KINDS.iter().position(|k| *k == kind).unwrap_or(0);
    &ops[i * 2 + broadcast as usize]
}

fn scalar_name(kind: BinOp, reverse: bool) -> &'static str {
    match (kind, reverse) {
        (BinOp::Add, _) => "_plus_scalar",
        (BinOp::Sub, false) => "_minus_scalar",
        (BinOp::Sub, true) => "_rminus_scalar",
        (BinOp::Mul, _) => "_mul_scalar",
        (BinOp::Div, false) => "_div_scalar",
        (BinOp::Div, true) => "_rdiv_scalar",
        (BinOp::Mod, false) => "_mod_scalar",
        (BinOp::Mod, true) => "_rmod_scalar",
        (BinOp::Pow, false) => "_power_scalar",
        (BinOp::Pow, true) => "_rpower_scalar",
        (BinOp::Max, _) => "_maximum_scalar",
        (BinOp::Min, _) => "_minimum_scalar",
        (BinOp::Eq, _) => "_equal_scalar",
        (BinOp::Ne, _) => "_not_equal_scalar",
        (BinOp::Gt, false) | (BinOp::Lt, true) => "_greater_scalar",
        (BinOp::Ge, false) | (BinOp::Le, true) => "_greater_equal_scalar",
        (BinOp::Lt, false) | (BinOp::Gt, true) => "_lesser_scalar",
        (BinOp::Le, false) | (BinOp::Ge, true) => "_lesser_equal_scalar",
        _ => "_scalar_op",
    }
}

/// `a (kind) other` (or `other (kind) a` when `reverse`), written into `out` if given.
pub fn arith(
    py: Python<'_>,
    a: &PyNDArray,
    other: &Bound<'_, PyAny>,
    kind: BinOp,
    reverse: bool,
    out: Option<&NDArray>,
) -> PyResult<Option<Out>> {
    let origin = origin::capture(py);
    let outs = out.map(std::slice::from_ref);
    if let Ok(b) = other.cast::<PyNDArray>() {
        let b = b.get();
        let (l, r) = if reverse { (b, a) } else { (a, b) };
        let opr = cached(kind, l.inner.shape() != r.inner.shape());
        return run_recorded(opr, &[l, r], outs, origin);
    }
    let s: f64 = match other.extract::<f64>() {
        Ok(s) => s,
        Err(_) => return Ok(None),
    };
    let opr = cached_scalar(py, kind, s, reverse)?;
    run_recorded(&opr, &[a], outs, origin)
}

/// The configured `array (op) scalar` op, reused while a loop applies the same constants
/// (which also lets the inference cache hit).
fn cached_scalar(
    py: Python<'_>,
    kind: BinOp,
    s: f64,
    reverse: bool,
) -> PyResult<Arc<dyn Operator>> {
    type Slot = Option<((usize, bool, u64), Arc<dyn Operator>)>;
    static OPS: Mutex<[Slot; 16]> = Mutex::new([const { None }; 16]);
    let k = KINDS.iter().position(|k| *k == kind).unwrap_or(0);
    let key = (k, reverse, s.to_bits());
    let slot =
        (k * 2 + reverse as usize + s.to_bits().wrapping_mul(0x9E37_79B9_7F4A_7C15) as usize) % 16;
    if let Ok(g) = OPS.lock() {
        if let Some((_, op)) = g[slot].as_ref().filter(|(k, _)| *k == key) {
            return Ok(op.clone());
        }
    }
    // MXNet hands `str(float(other))` to its parser, which is not always the nearest double
    let v = if s.is_finite() {
        let text = pyo3::types::PyFloat::new(py, s).str()?;
        oxnet::op::params::dmlc_decimal(text.to_str()?, false).unwrap_or(s)
    } else {
        s
    };
    let op = scalar_op(kind, v, true, reverse, scalar_name(kind, reverse));
    if let Ok(mut g) = OPS.lock() {
        g[slot] = Some((key, op.clone()));
    }
    Ok(op)
}

fn not_supported(other: &Bound<'_, PyAny>) -> PyErr {
    let t = other
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default();
    PyTypeError::new_err(format!("type {t} not supported"))
}

#[pymethods]
impl PyNDArray {
    /// `NDArray(source)`: a new handle on `source`'s memory (no copy), so Python subclasses
    /// (`CSRNDArray`, `RowSparseNDArray`) can wrap a dense array. Its autograd entry is carried
    /// over only with `keep_autograd=True` (an op result re-wrapped with its storage type).
    #[new]
    #[pyo3(signature = (source, keep_autograd=false))]
    fn py_new(source: &Bound<'_, PyAny>, keep_autograd: bool) -> PyResult<PyNDArray> {
        let src = source.cast::<PyNDArray>().map_err(|_| {
            PyTypeError::new_err(format!(
                "NDArray(source): source must be an NDArray, got {}",
                source
                    .get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?;
        let ag = if keep_autograd {
            src.get().entry()
        } else {
            None
        };
        Ok(PyNDArray::new(src.get().inner.clone(), ag))
    }

    fn __add__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match arith(py, self, other, BinOp::Add, false, None)? {
            Some(r) => r.wrap(py),
            None => Err(not_supported(other)),
        }
    }

    fn __radd__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match arith(py, self, other, BinOp::Add, true, None)? {
            Some(r) => r.wrap(py),
            None => Err(not_supported(other)),
        }
    }

    fn __iadd__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inplace(py, other, BinOp::Add)
    }

    fn __sub__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match arith(py, self, other, BinOp::Sub, false, None)? {
            Some(r) => r.wrap(py),
            None => Err(not_supported(other)),
        }
    }

    fn __rsub__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match arith(py, self, other, BinOp::Sub, true, None)? {
            Some(r) => r.wrap(py),
            None => Err(not_supported(other)),
        }
    }

    fn __isub__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inplace(py, other, BinOp::Sub)
    }

    fn __mul__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match arith(py, self, other, BinOp::Mul, false, None)? {
            Some(r) => r.wrap(py),
            None => Err(not_supported(other)),
        }
    }

    fn __rmul__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match arith(py, self, other, BinOp::Mul, true, None)? {
            Some(r) => r.wrap(py),
            None => Err(not_supported(other)),
        }
    }

    fn __imul__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inplace(py, other, BinOp::Mul)
    }

    fn __truediv__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match arith(py, self, other, BinOp::Div, false, None)? {
            Some(r) => r.wrap(py),
            None => Err(not_supported(other)),
        }
    }

    fn __rtruediv__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match arith(py, self, other, BinOp::Div, true, None)? {
            Some(r) => r.wrap(py),
            None => Err(not_supported(other)),
        }
    }

    fn __itruediv__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inplace(py, other, BinOp::Div)
    }

    fn __mod__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match arith(py, self, other, BinOp::Mod, false, None)? {
            Some(r) => r.wrap(py),
            None => Err(not_supported(other)),
        }
    }

    fn __rmod__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        match arith(py, self, other, BinOp::Mod, true, None)? {
            Some(r) => r.wrap(py),
            None => Err(not_supported(other)),
        }
    }

    fn __imod__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inplace(py, other, BinOp::Mod)
    }

    fn __pow__(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        _modulo: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        match arith(py, self, other, BinOp::Pow, false, None)? {
            Some(r) => r.wrap(py),
            None => Err(not_supported(other)),
        }
    }

    fn __rpow__(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        _modulo: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        match arith(py, self, other, BinOp::Pow, true, None)? {
            Some(r) => r.wrap(py),
            None => Err(not_supported(other)),
        }
    }

    fn __neg__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let opr = scalar_op(BinOp::Mul, -1.0, true, false, "_mul_scalar");
        run_recorded(&opr, &[self], None, origin::capture(py))?
            .ok_or_else(|| PyValueError::new_err("no output"))?
            .wrap(py)
    }

    fn __richcmp__(
        &self,
        py: Python<'_>,
        other: &Bound<'_, PyAny>,
        cmp: CompareOp,
    ) -> PyResult<Py<PyAny>> {
        let kind = match cmp {
            CompareOp::Eq => BinOp::Eq,
            CompareOp::Ne => BinOp::Ne,
            CompareOp::Lt => BinOp::Lt,
            CompareOp::Le => BinOp::Le,
            CompareOp::Gt => BinOp::Gt,
            CompareOp::Ge => BinOp::Ge,
        };
        // `==` with an unsupported type raises, as MXNet's, rather than being False.
        match arith(py, self, other, kind, false, None)? {
            Some(r) => r.wrap(py),
            None => Err(not_supported(other)),
        }
    }

    fn __hash__(slf: &Bound<'_, Self>) -> isize {
        (slf.as_ptr() as isize) >> 4
    }

    fn __len__(&self) -> PyResult<usize> {
        self.inner
            .shape()
            .dims()
            .first()
            .copied()
            .ok_or_else(|| PyTypeError::new_err("len() of unsized object"))
    }

    fn __bool__(&self, py: Python<'_>) -> PyResult<bool> {
        match self.inner.size() {
            0 => Ok(false),
            1 => {
                let v = to_numpy(py, &self.inner)?;
                v.call_method0("item")?.is_truthy()
            }
            _ => Err(PyValueError::new_err(
                "The truth value of an NDArray with multiple elements is ambiguous.",
            )),
        }
    }

    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        shape_tuple(py, self.inner.shape())
    }

    #[getter]
    fn dtype<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        np_type(py, self.inner.dtype())
    }

    #[getter]
    fn size(&self) -> usize {
        self.inner.size()
    }

    #[getter]
    fn ndim(&self) -> usize {
        self.inner.ndim()
    }

    /// (device type code, device id) of the array's context.
    #[getter]
    fn _ctx(&self) -> (i32, i32) {
        let c = self.inner.ctx();
        (c.dev_type.code(), c.dev_id)
    }

    #[getter]
    fn _dtype_name(&self) -> &'static str {
        self.inner.dtype().name()
    }

    /// An identifier of the memory chunk (MXNet exposes a C handle here).
    #[getter]
    fn handle(slf: &Bound<'_, Self>) -> usize {
        slf.as_ptr() as usize
    }

    fn asnumpy<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_numpy(py, &self.inner)
    }

    fn wait_to_read(&self, py: Python<'_>) -> PyResult<()> {
        let a = self.inner.clone();
        enter(py, move || a.wait_to_read())
    }

    /// Address of the first element once pending writes (and, `for_write`, reads) are done
    /// (device address for GPU arrays), for `__cuda_array_interface__` and DLPack.
    #[pyo3(signature = (for_write=false))]
    fn _data_ptr(&self, py: Python<'_>, for_write: bool) -> PyResult<usize> {
        let a = self.inner.clone();
        enter(py, move || {
            if for_write {
                a.wait_to_write()
            } else {
                a.wait_to_read()
            }
        })?;
        // SAFETY: only the address is handed out; the array object keeps the memory alive.
        Ok(unsafe { self.inner.raw() } as usize)
    }

    fn _reshape_view(&self, py: Python<'_>, shape: Vec<usize>) -> PyResult<Py<PyAny>> {
        let v = self.inner.reshape_view(Shape::new(shape)).py()?;
        let e = self.record_view(&v, "Reshape", || {
            let dims: Vec<String> = v.shape().dims().iter().map(|d| d.to_string()).collect();
            vec![("shape", format!("({})", dims.join(",")))]
        })?;
        wrap_ag(py, v, e)
    }

    fn _slice_rows(&self, py: Python<'_>, begin: usize, end: usize) -> PyResult<Py<PyAny>> {
        let v = self.inner.slice_rows(begin, end).py()?;
        let e = self.record_view(&v, "slice_axis", || {
            vec![
                ("axis", "0".to_string()),
                ("begin", begin.to_string()),
                ("end", end.to_string()),
            ]
        })?;
        wrap_ag(py, v, e)
    }

    /// Whether the two arrays share any memory (a view of the other, overlapping slices).
    fn _same_memory(&self, other: &PyNDArray) -> bool {
        self.inner.overlaps(&other.inner)
    }

    /// Whether the two are the very same elements (copying one onto the other changes
    /// nothing), unlike slices that merely overlap.
    fn _same_array(&self, other: &PyNDArray) -> bool {
        let (a, b) = (&self.inner, &other.inner);
        a.overlaps(b)
            && a.offset() == b.offset()
            && a.nbytes() == b.nbytes()
            && a.dtype() == b.dtype()
    }

    /// Copies this array into `other` (shapes must match; dtype converts; any contexts).
    fn _copyto(&self, py: Python<'_>, other: &PyNDArray) -> PyResult<()> {
        if autograd::is_recording() && other.entry().is_some() {
            return Err(crate::error::MXNetError::new_err(format!(
                "copyto: the destination (shape {}, {}) is part of the graph being recorded; \
                 overwriting it inside autograd.record() would make its gradients wrong \
                 (MXNet refuses it too): copy before record(), or use the copy's result",
                other.inner.shape(),
                other.inner.dtype().name()
            )));
        }
        op::copy_into(&self.inner, &other.inner, origin::capture(py)).py()?;
        if let Some(e) = self.record_copy(&other.inner)? {
            if let Ok(mut slot) = other.ag.lock() {
                *slot = Some(e);
            }
        }
        Ok(())
    }

    /// Whether autograd tracks this array (an attached variable or a recorded result).
    #[getter]
    fn _in_graph(&self) -> bool {
        self.entry().is_some()
    }

    /// As MXNet's: `dtype=None` is float32 (its `empty`'s default), `copy` is any truth value,
    /// and without a copy the array itself comes back.
    #[pyo3(signature = (dtype, copy=None))]
    fn astype(
        slf: &Bound<'_, Self>,
        dtype: &Bound<'_, PyAny>,
        copy: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let inner = slf.borrow().inner.clone();
        let d = if dtype.is_none() {
            DType::F32
        } else {
            dtype_of(py, dtype)?
        };
        let copy = copy.map_or(Ok(true), |c| c.is_truthy())?;
        if d == inner.dtype() && !copy {
            return Ok(slf.clone().into_any().unbind());
        }
        let out = NDArray::empty(inner.shape().clone(), d, inner.ctx()).py()?;
        op::copy_into(&inner, &out, origin::capture(py)).py()?;
        let e = slf.borrow().record_copy(&out)?;
        wrap_ag(py, out, e)
    }

    /// Overwrites the contents from a C-contiguous numpy array of the same dtype and size.
    fn _sync_copyfrom(&self, py: Python<'_>, arr: &Bound<'_, PyUntypedArray>) -> PyResult<()> {
        if !arr.is_c_contiguous() {
            return Err(PyValueError::new_err(
                "internal: _sync_copyfrom needs a C-contiguous array",
            ));
        }
        let n = arr.len() * arr.dtype().itemsize();
        if n != self.inner.nbytes() {
            return Err(PyValueError::new_err(format!(
                "cannot copy an array of {} bytes into an NDArray of shape {} ({} bytes)",
                n,
                self.inner.shape(),
                self.inner.nbytes()
            )));
        }
        // SAFETY: contiguous numpy buffer of n bytes, kept alive by `arr` during the call.
        let addr = unsafe { (*arr.as_array_ptr()).fields.data as usize };
        let a = self.inner.clone();
        enter(py, move || {
            a.sync_copy_from_host(unsafe { std::slice::from_raw_parts(addr as *const u8, n) })
        })
    }
    /// Read-only, zero-copy export (PEP 3118) after pending writes are done.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: std::os::raw::c_int,
    ) -> PyResult<()> {
        if view.is_null() {
            return Err(PyBufferError::new_err("View is null"));
        }
        if (flags & ffi::PyBUF_WRITABLE) == ffi::PyBUF_WRITABLE {
            return Err(PyBufferError::new_err(
                "NDArray exports read-only buffers; write with a[:] = value",
            ));
        }
        let a = slf.get().inner.clone();
        if !a.ctx().is_host() {
            return Err(PyBufferError::new_err(format!(
                "an NDArray on {} has no host buffer; use asnumpy()",
                a.ctx()
            )));
        }
        let py = slf.py();
        let a2 = a.clone();
        enter(py, move || a2.wait_to_read())?;
        let item = a.dtype().size() as ffi::Py_ssize_t;
        let shape: Vec<ffi::Py_ssize_t> = a
            .shape()
            .dims()
            .iter()
            .map(|&d| d as ffi::Py_ssize_t)
            .collect();
        let strides: Vec<ffi::Py_ssize_t> = a
            .shape()
            .strides()
            .iter()
            .map(|&s| s as ffi::Py_ssize_t * item)
            .collect();
        let info = Box::new(BufferInfo { shape, strides });
        // SAFETY: `view` is a valid Py_buffer to fill; `obj` keeps the array (and its memory)
        // alive until the buffer is released; shape/strides live in `internal` until then.
        unsafe {
            (*view).obj = slf.clone().into_any().into_ptr();
            (*view).buf = a.raw() as *mut std::os::raw::c_void;
            (*view).len = a.nbytes() as ffi::Py_ssize_t;
            (*view).readonly = 1;
            (*view).itemsize = item;
            (*view).format = if (flags & ffi::PyBUF_FORMAT) == ffi::PyBUF_FORMAT {
                buffer_format(a.dtype()).as_ptr() as *mut std::os::raw::c_char
            } else {
                std::ptr::null_mut()
            };
            (*view).ndim = a.ndim() as std::os::raw::c_int;
            (*view).shape = if (flags & ffi::PyBUF_ND) == ffi::PyBUF_ND {
                info.shape.as_ptr() as *mut _
            } else {
                std::ptr::null_mut()
            };
            (*view).strides = if (flags & ffi::PyBUF_STRIDES) == ffi::PyBUF_STRIDES {
                info.strides.as_ptr() as *mut _
            } else {
                std::ptr::null_mut()
            };
            (*view).suboffsets = std::ptr::null_mut();
            (*view).internal = Box::into_raw(info) as *mut std::os::raw::c_void;
        }
        Ok(())
    }

    unsafe fn __releasebuffer__(&self, view: *mut ffi::Py_buffer) {
        // SAFETY: `internal` was set by __getbuffer__ to a leaked BufferInfo.
        unsafe {
            if !view.is_null() && !(*view).internal.is_null() {
                drop(Box::from_raw((*view).internal as *mut BufferInfo));
                (*view).internal = std::ptr::null_mut();
            }
        }
    }
}

/// Shape and strides a buffer export points into; freed in `__releasebuffer__`.
struct BufferInfo {
    shape: Vec<ffi::Py_ssize_t>,
    strides: Vec<ffi::Py_ssize_t>,
}

fn buffer_format(d: DType) -> &'static std::ffi::CStr {
    match d {
        DType::F32 => c"f",
        DType::F64 => c"d",
        DType::F16 => c"e",
        DType::U8 => c"B",
        DType::I32 => c"i",
        DType::I8 => c"b",
        DType::I64 => c"q",
        DType::Bool => c"?",
        DType::BF16 => c"T{H:bfloat16:}",
    }
}
