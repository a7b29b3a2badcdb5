"""`mx.nd.sparse`: MXNet 1.x's sparse arrays, `CSRNDArray` and `RowSparseNDArray`.

How oxnet differs from MXNet 1.9.1 here:

* **Storage is dense.** A sparse array is an `NDArray` subclass whose memory is the whole dense
  array (shape × dtype bytes), so every operator, executor, KVStore, autograd and file path
  accepts it and computes MXNet's values (what MXNet calls "storage fallback", without the
  log line). A `csr` matrix of shape (10^6, 10^6) therefore does not fit in memory here.
* The sparse structure is derived from the values when asked: `.data`, `.indices`, `.indptr`
  (int64, as MXNet's) list exactly the nonzero entries (csr) or the rows holding a nonzero
  (row_sparse). An explicit zero given to `csr_matrix`/`row_sparse_array` is not kept as a
  stored entry (MXNet keeps it). Values are equal either way, except where MXNet acts on the
  stored rows themselves: a lazy optimizer update (`lazy_update=True`) with a row_sparse
  gradient that lists an all-zero row applies weight decay and momentum to that row in MXNet
  and leaves it alone here.
* Components given to `csr_matrix((data, indices, indptr))` / `row_sparse_array((data,
  indices))` are validated at construction (MXNet defers this to `check_format`), raising
  `SparseFormatError` (both an `MXNetError` and a `ValueError`) naming the argument and value.
* Operators give MXNet's output storage type (its FInferStorageType), whichever namespace
  calls them (`mx.nd.X`, `mx.nd.sparse.X`, NDArray methods and arithmetic): zero-preserving
  unary functions keep the input's, `csr + csr` is csr, `csr * dense` csr, `csr.T . dense`
  row_sparse... (`storage_rules`). Where MXNet computes on the stored entries alone,
  so do these (`x / 0` leaves unstored entries 0). Where MXNet has no sparse kernel and
  raises (e.g. `csr / dense`, `clip` to a range without 0), oxnet computes the dense answer.
* `size` and `reshape` work on sparse arrays (MXNet raises), giving the dense array's answers.
"""
import operator as _operator

import numpy as np

from ..autograd import Function, is_recording
from ..base import MXNetError, integer_types, numeric_types
from ..context import Context
from . import _internal
from . import storage_rules as _rules
from .ndarray import NDArray, CopyShapeError, _ctx, _np_dtype, _shape, _from_numpy

__all__ = ["BaseSparseNDArray", "CSRNDArray", "RowSparseNDArray", "csr_matrix", "row_sparse_array",
           "zeros", "empty", "array", "SparseFormatError"]

try:
    import scipy.sparse as spsp
except ImportError:
    spsp = None

_py_slice = slice  # this module defines MXNet's `slice` operator below

_STORAGE_TYPE_STR_TO_ID = {"undefined": -1, "default": 0, "row_sparse": 1, "csr": 2}
_STORAGE_AUX_TYPES = {"row_sparse": [np.int64], "csr": [np.int64, np.int64]}


class SparseFormatError(MXNetError, ValueError):
    """Sparse components that do not describe an array (unsorted or out-of-range indices...)."""


def _nonzero_mask(d):
    # MXNet's cast_storage tests `v != 0`: -0.0 is zero, NaN is stored.
    return d != 0


def _csr_parts(dense):
    mask = _nonzero_mask(dense)
    rows, cols = np.nonzero(mask)
    indptr = np.zeros(dense.shape[0] + 1, dtype=np.int64)
    np.cumsum(mask.sum(axis=1), out=indptr[1:])
    return dense[rows, cols], cols.astype(np.int64), indptr


def _rsp_parts(dense):
    n = dense.shape[0]
    flat = _nonzero_mask(dense).reshape(n, int(np.prod(dense.shape[1:], dtype=np.int64)))
    rows = np.flatnonzero(flat.any(axis=1)).astype(np.int64)
    return dense[rows], rows


def _on_stored(x, res, cls):
    """`res` as a `cls` array, zero wherever `x` stores nothing: MXNet computes a sparse result
    on the stored entries (rows) alone, so `x / 0` or `x * inf` is not NaN there."""
    stored = _internal._not_equal_scalar(x._dense(), scalar=0)
    if isinstance(x, RowSparseNDArray) and x.ndim > 1:
        rows = _internal.max(stored, axis=tuple(range(1, x.ndim)), keepdims=True)
        stored = _internal.broadcast_to(rows, shape=x.shape)
    if is_recording():
        # The mask shapes the value only: MXNet differentiates the dense op, so every row
        # gets its gradient (through `where` the unstored rows would get none).
        return _rewrap(cls, _StoredValues(stored)(res))
    return _rewrap(cls, _internal.where(stored, res, _internal.zeros_like(res)))


class _StoredValues(Function):
    """Zeroes the unstored entries of an op's result; the gradient passes unchanged."""

    def __init__(self, stored):
        super().__init__()
        self.stored = stored

    def forward(self, res):
        return _internal.where(self.stored, res, _internal.zeros_like(res))

    def backward(self, dy):
        return dy


def _rewrap(cls, res):
    """Op result `res` as a `cls` array; under autograd it stays the recorded result."""
    return cls(res, keep_autograd=True)


class BaseSparseNDArray(NDArray):
    """The base class of `CSRNDArray` and `RowSparseNDArray`: a dense array underneath (see the
    module docstring) whose sparse components are computed from its values."""

    def __repr__(self):
        shape_info = "x".join("%d" % x for x in self.shape)
        return "\n<%s %s @%s>" % (self.__class__.__name__, shape_info, self.context)

    __str__ = __repr__

    def __reduce__(self):
        return _rebuild_sparse, (self.stype, self.asnumpy(), self._ctx)

    def _dense(self):
        """The same memory as a plain NDArray."""
        return NDArray(self)

    def tostype(self, stype):
        """A copy with storage type `stype` (csr <-> row_sparse is refused, as in MXNet)."""
        cur = self.stype
        if stype not in ("default", "csr", "row_sparse"):
            raise ValueError("unknown storage type %r" % (stype,))
        if stype not in ("default", cur):
            raise ValueError("cast_storage from %s to %s is not supported" % (cur, stype))
        out = NDArray.copyto(self._dense(), self.context)
        return out if stype == "default" else type(self)(out)

    def copyto(self, other):
        """Copies into `other` (an array of stype 'default' or this one's; returned) or onto a
        Context (a new array of this class)."""
        if isinstance(other, Context):
            return type(self)(NDArray.copyto(self._dense(), other))
        if isinstance(other, NDArray):
            if other.stype not in ("default", self.stype):
                raise TypeError("copyto does not support destination NDArray stype " + other.stype)
            if other._same_array(self) and other.shape == self.shape:
                import warnings
                warnings.warn("You are attempting to copy an array to itself", RuntimeWarning)
                return False
            NDArray.copyto(self._dense(), other)
            return other
        raise TypeError("copyto does not support type " + str(type(other)))

    def copy(self):
        return self.copyto(self.context)

    def astype(self, dtype, copy=True):
        """A copy cast to `dtype`, of the same storage type (this array when `copy` is False
        and the dtype is already `dtype`)."""
        if not copy and np.dtype(dtype) == self.dtype:
            return self
        return type(self)(NDArray.astype(self._dense(), dtype, True))

    def check_format(self, full_check=True):
        """Always valid: the components are derived from the values (and constructors validate
        the components they are given)."""

    def _data(self):
        return self.data

    def _aux_data(self, i):
        aux = self._aux()
        if not 0 <= i < len(aux):
            raise IndexError("%s has %d aux arrays" % (type(self).__name__, len(aux)))
        return aux[i]

    @property
    def _num_aux(self):
        return len(_STORAGE_AUX_TYPES[self.stype])

    @property
    def _aux_types(self):
        return list(_STORAGE_AUX_TYPES[self.stype])

    __hash__ = NDArray.__hash__


class CSRNDArray(BaseSparseNDArray):
    """A 2-D array in compressed sparse row format: the column indices of row i are
    ``indices[indptr[i]:indptr[i+1]]`` and their values ``data[indptr[i]:indptr[i+1]]``."""

    @property
    def stype(self):
        return "csr"

    def _parts(self):
        return _csr_parts(self.asnumpy())

    @property
    def data(self):
        """The stored (nonzero) values, in row-major order (a new NDArray)."""
        return _from_numpy(self._parts()[0], self.context)

    @property
    def indices(self):
        """The column index of every stored value (int64)."""
        return _from_numpy(self._parts()[1], self.context)

    @property
    def indptr(self):
        """Row offsets into `data`/`indices` (int64, ``shape[0] + 1`` entries)."""
        return _from_numpy(self._parts()[2], self.context)

    def _aux(self):
        _, indices, indptr = self._parts()
        return [_from_numpy(indptr, self.context), _from_numpy(indices, self.context)]

    def __getitem__(self, key):
        """Rows `key` (an int or a contiguous slice) as a new CSRNDArray, as MXNet's `slice`."""
        n = self.shape[0]
        if isinstance(key, integer_types) and not isinstance(key, bool):
            i = key + n if key < 0 else key
            if not 0 <= i < n:
                raise IndexError("index %d is out of bounds for axis 0 with size %d" % (key, n))
            return slice(self, begin=(i,), end=(i + 1,))
        if isinstance(key, _py_slice):
            if key.step is not None:
                raise ValueError("CSRNDArray only supports continuous slicing on axis 0")
            if key.start is None and key.stop is None:
                return self
            b, e, _ = key.indices(n)
            return slice(self, begin=(b,), end=(max(b, e),))
        if isinstance(key, tuple):
            raise ValueError("Multi-dimension indexing is not supported")
        raise ValueError("Undefined behaviour for {}".format(key))

    def __setitem__(self, key, value):
        """Only ``x[:] = value`` (an NDArray or a numpy array), as in MXNet."""
        if not (isinstance(key, _py_slice) and key == _py_slice(None)):
            if isinstance(key, _py_slice):
                raise ValueError("Assignment with slice for CSRNDArray is not implmented yet.")
            raise Exception("CSRNDArray only supports [:] for assignment")
        if isinstance(value, numeric_types):
            raise ValueError("Assigning numeric types to CSRNDArray is not implemented yet.")
        if not isinstance(value, (NDArray, np.ndarray, np.generic)):
            raise TypeError("type %s not supported" % str(type(value)))
        _assign_whole(self, value)

    def asscipy(self):
        """The matrix as a ``scipy.sparse.csr_matrix`` (needs scipy)."""
        if spsp is None:
            raise ImportError("scipy is not available; install scipy to use CSRNDArray.asscipy()")
        data, indices, indptr = self._parts()
        return spsp.csr_matrix((data, indices, indptr), shape=self.shape, dtype=self.dtype)


def _assign_whole(dst, value):
    """``dst[:] = value`` as MXNet's sparse arrays do it, a copy: shapes must be equal (no
    broadcasting); a number fills."""
    shape = getattr(value, "shape", ())
    if not isinstance(value, tuple(numeric_types)) and tuple(shape) != tuple(dst.shape):
        raise CopyShapeError("%s[:] = value: the value has shape %s, the array %s (a sparse "
                             "array is assigned by a copy of the same shape)"
                             % (type(dst).__name__, tuple(shape), tuple(dst.shape)))
    NDArray.__setitem__(dst, _py_slice(None), value)


class RowSparseNDArray(BaseSparseNDArray):
    """An array of which only some rows (slices along axis 0) are nonzero: ``dense[indices[i]]
    = data[i]``, the other rows zero."""

    @property
    def stype(self):
        return "row_sparse"

    def _parts(self):
        return _rsp_parts(self.asnumpy())

    @property
    def data(self):
        """The rows holding a nonzero value (a new NDArray)."""
        return _from_numpy(np.ascontiguousarray(self._parts()[0]), self.context)

    @property
    def indices(self):
        """The index of every stored row, ascending (int64)."""
        return _from_numpy(self._stored_rows(), self.context)

    def _stored_rows(self):
        # Which rows hold a nonzero is reduced by the engine; only that (rows,) vector comes
        # back to numpy, not the whole array.
        if self.ndim == 0 or self.size == 0:
            return np.zeros(0, dtype=np.int64)
        stored = _internal._not_equal_scalar(self._dense(), scalar=0)
        if self.ndim > 1:
            stored = _internal.max(stored, axis=tuple(range(1, self.ndim)))
        return np.flatnonzero(stored.asnumpy()).astype(np.int64)

    def _aux(self):
        return [self.indices]

    def __getitem__(self, key):
        if isinstance(key, integer_types) and not isinstance(key, bool):
            raise Exception("__getitem__ with int key is not implemented for RowSparseNDArray yet")
        if isinstance(key, _py_slice):
            if key.step is not None or key.start is not None or key.stop is not None:
                raise Exception("RowSparseNDArray only supports [:] for __getitem__")
            return self
        if isinstance(key, tuple):
            raise ValueError("Multi-dimension indexing is not supported")
        raise ValueError("Undefined behaviour for {}".format(key))

    def __setitem__(self, key, value):
        """Only ``x[:] = value`` (an NDArray, numpy array or number), as in MXNet."""
        if not (isinstance(key, _py_slice) and key == _py_slice(None)):
            if isinstance(key, _py_slice):
                raise ValueError("Assignment with slice for RowSparseNDArray is not implmented yet.")
            raise TypeError("RowSparseNDArray only supports [:] for assignment")
        if not isinstance(value, (NDArray, np.ndarray, np.generic) + tuple(numeric_types)):
            raise TypeError("type %s not supported" % str(type(value)))
        _assign_whole(self, value)

    def retain(self, indices):
        """`retain(self, indices)`: only the rows in `indices` kept."""
        return retain(self, indices)


_CLASSES = {"csr": CSRNDArray, "row_sparse": RowSparseNDArray}


def _rebuild_sparse(stype, data, ctx):
    return _CLASSES[stype](_from_numpy(data, Context._from_tuple(ctx)))


def _wrap(dense, stype):
    """`dense` (an NDArray; its memory is shared) as an array of storage type `stype`."""
    if stype == "default":
        return dense
    if stype not in _CLASSES:
        raise ValueError("unknown storage type %r" % (stype,))
    if stype == "csr" and dense.ndim != 2:
        raise ValueError("To convert to a CSR, the NDArray should be 2 Dimensional. Current shape "
                         "is %s" % (tuple(dense.shape),))
    if stype == "row_sparse" and dense.ndim < 1:
        raise ValueError("a row_sparse array needs at least 1 dimension, got shape ()")
    return _rewrap(_CLASSES[stype], dense)


# ----------------------------------------------------------------------------- creation

def _default_dtype(src, dtype):
    if dtype is not None:
        return _np_dtype(dtype)
    if isinstance(src, (NDArray, np.ndarray)):
        return _np_dtype(src.dtype)
    if spsp is not None and spsp.issparse(src):
        return _np_dtype(src.dtype)
    return np.dtype(np.float32)


def _as_numpy(x, dtype, what, fn):
    if isinstance(x, NDArray):
        x = x.asnumpy()
    try:
        return np.asarray(x, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise TypeError("%s: %s must be array like object: %s" % (fn, what, e)) from e


def _check_shape(s1, s2):
    if s1 and s2 and tuple(s1) != tuple(s2):
        raise ValueError("Shape mismatch detected. " + str(tuple(s1)) + " v.s. " + str(tuple(s2)))


def _bad(fn, msg):
    return SparseFormatError("%s: %s" % (fn, msg))


def _dense_of(values, dtype, ctx):
    return _from_numpy(np.ascontiguousarray(values, dtype=dtype), ctx)


def _csr_from_definition(data, indices, indptr, shape, ctx, dtype):
    fn = "csr_matrix"
    dtype = _default_dtype(data, dtype)
    data = _as_numpy(data, dtype, "data", fn)
    indices = _as_numpy(indices, np.int64, "indices", fn)
    indptr = _as_numpy(indptr, np.int64, "indptr", fn)
    if data.ndim != 1 or indices.ndim != 1 or indptr.ndim != 1 or indptr.shape[0] == 0:
        raise ValueError("invalid shape: csr_matrix needs 1-D data, indices and a non-empty 1-D "
                         "indptr, got shapes %s, %s, %s" % (data.shape, indices.shape, indptr.shape))
    if shape is None:
        if indices.shape[0] == 0:
            raise ValueError("invalid shape: csr_matrix cannot infer the shape of a matrix "
                             "without entries; pass shape=")
        shape = (indptr.shape[0] - 1, int(indices.max()) + 1)
    shape = _shape(shape)
    if len(shape) != 2:
        raise ValueError("invalid shape: a csr matrix is 2-D, got shape %s" % (shape,))
    nrows, ncols = shape
    if indptr.shape[0] != nrows + 1:
        raise _bad(fn, "indptr has %d entries; a matrix of shape %s needs %d (shape[0] + 1)"
                   % (indptr.shape[0], shape, nrows + 1))
    steps = np.diff(indptr)
    if indptr[0] != 0 or (steps < 0).any() or indptr[-1] != indices.shape[0]:
        raise _bad(fn, "indptr %s must start at 0, never decrease and end at the number of "
                   "indices (%d)" % (indptr.tolist()[:20], indices.shape[0]))
    if data.shape[0] != indices.shape[0]:
        raise _bad(fn, "data has %d values but indices has %d" % (data.shape[0], indices.shape[0]))
    if indices.size and (indices.min() < 0 or indices.max() >= ncols):
        bad = indices[(indices < 0) | (indices >= ncols)][0]
        raise _bad(fn, "column index %d in indices is out of range for shape %s" % (bad, shape))
    rows = np.repeat(np.arange(nrows, dtype=np.int64), steps)
    if indices.size > 1:
        same_row = rows[1:] == rows[:-1]
        unsorted = same_row & (indices[1:] <= indices[:-1])
        if unsorted.any():
            k = int(np.flatnonzero(unsorted)[0])
            raise _bad(fn, "indices of row %d are not in strictly ascending order (%d then %d); "
                       "MXNet requires sorted column indices without duplicates per row"
                       % (rows[k], indices[k], indices[k + 1]))
    dense = np.zeros(shape, dtype=dtype)
    dense[rows, indices] = data
    return CSRNDArray(_dense_of(dense, dtype, _ctx(ctx)))


def _csr_from_coo(data, row, col, shape, ctx, dtype):
    fn = "csr_matrix"
    data = data.asnumpy() if isinstance(data, NDArray) else np.asarray(data)
    dtype = _np_dtype(dtype) if dtype is not None else _np_dtype(data.dtype)
    row = _as_numpy(row, np.int64, "row", fn)
    col = _as_numpy(col, np.int64, "col", fn)
    if not (data.ndim == row.ndim == col.ndim == 1) or not (data.shape == row.shape == col.shape):
        raise ValueError("csr_matrix: data, row and col must be 1-D of one length, got shapes "
                         "%s, %s, %s" % (data.shape, row.shape, col.shape))
    if shape is None:
        if row.size == 0:
            raise ValueError("csr_matrix: cannot infer the shape of a matrix without entries")
        shape = (int(row.max()) + 1, int(col.max()) + 1)
    shape = _shape(shape)
    if len(shape) != 2:
        raise ValueError("invalid shape: a csr matrix is 2-D, got shape %s" % (shape,))
    for what, idx, n in (("row", row, shape[0]), ("col", col, shape[1])):
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise _bad(fn, "%s index %d is out of range for shape %s"
                       % (what, idx[(idx < 0) | (idx >= n)][0], shape))
    dense = np.zeros(shape, dtype=np.result_type(data.dtype, dtype))
    np.add.at(dense, (row, col), data)  # duplicates sum, as scipy's coo -> csr
    return CSRNDArray(_dense_of(dense, dtype, _ctx(ctx)))


def _from_dense_source(arg1, shape, ctx, dtype, stype):
    from .ndarray import array as _array
    dtype = _default_dtype(arg1, dtype)
    dns = _array(arg1, dtype=dtype, ctx=arg1.context if isinstance(arg1, NDArray) else None)
    if ctx is not None and dns.context != _ctx(ctx):
        dns = dns.as_in_context(_ctx(ctx))
    _check_shape(dns.shape, shape)
    return _wrap(dns, stype)


def csr_matrix(arg1, shape=None, ctx=None, dtype=None):
    """Creates a `CSRNDArray` from ``(data, indices, indptr)``, ``(data, (row, col))``
    (duplicates summed), ``(M, N)`` (all zero), a dense array-like or NDArray, a CSRNDArray or
    a scipy.sparse matrix. Sparse components are validated (see `SparseFormatError`)."""
    if isinstance(arg1, tuple):
        if len(arg1) == 2:
            if isinstance(arg1[1], tuple) and len(arg1[1]) == 2:
                data, (row, col) = arg1
                return _csr_from_coo(data, row, col, shape, ctx, dtype)
            _check_shape(arg1, shape)
            return zeros("csr", arg1, ctx=ctx, dtype=dtype)
        if len(arg1) == 3:
            return _csr_from_definition(arg1[0], arg1[1], arg1[2], shape, ctx, dtype)
        raise ValueError("Unexpected length of input tuple: " + str(len(arg1)))
    if isinstance(arg1, CSRNDArray) or (spsp is not None and spsp.issparse(arg1)):
        _check_shape(arg1.shape, shape)
        return array(arg1, ctx=ctx, dtype=dtype)
    if isinstance(arg1, RowSparseNDArray):
        raise ValueError("Unexpected input type: RowSparseNDArray")
    return _from_dense_source(arg1, shape, ctx, dtype, "csr")


def _rsp_from_definition(data, indices, shape, ctx, dtype):
    fn = "row_sparse_array"
    dtype = _default_dtype(data, dtype)
    data = _as_numpy(data, dtype, "data", fn)
    indices = _as_numpy(indices, np.int64, "indices", fn)
    if indices.ndim != 1:
        raise ValueError("invalid shape: row_sparse_array indices must be 1-D, got shape %s"
                         % (indices.shape,))
    if shape is None:
        if indices.shape[0] == 0:
            raise ValueError("invalid shape: row_sparse_array cannot infer the shape without "
                             "indices; pass shape=")
        shape = (int(indices[-1]) + 1,) + data.shape[1:]
    shape = _shape(shape)
    if data.ndim != len(shape) or int(np.prod(shape[1:], dtype=np.int64)) == 0:
        raise ValueError("invalid shape: data of shape %s for a row_sparse array of shape %s"
                         % (data.shape, shape))
    if data.shape[1:] != shape[1:] or data.shape[0] != indices.shape[0]:
        raise _bad(fn, "data of shape %s does not hold %d rows of shape %s"
                   % (data.shape, indices.shape[0], shape[1:]))
    if indices.size and (indices.min() < 0 or indices.max() >= shape[0]):
        bad = indices[(indices < 0) | (indices >= shape[0])][0]
        raise _bad(fn, "row index %d in indices is out of range for shape %s" % (bad, shape))
    if indices.size > 1 and (np.diff(indices) <= 0).any():
        k = int(np.flatnonzero(np.diff(indices) <= 0)[0])
        raise _bad(fn, "indices must be strictly ascending (MXNet requires sorted row indices "
                   "without duplicates), got %d then %d" % (indices[k], indices[k + 1]))
    dense = np.zeros(shape, dtype=dtype)
    dense[indices] = data
    return RowSparseNDArray(_dense_of(dense, dtype, _ctx(ctx)))


def row_sparse_array(arg1, shape=None, ctx=None, dtype=None):
    """Creates a `RowSparseNDArray` from ``(data, indices)`` (rows ``dense[indices[i]] =
    data[i]``, indices strictly ascending), a shape tuple (all zero), a dense array-like or
    NDArray, or a RowSparseNDArray."""
    if isinstance(arg1, tuple):
        if len(arg1) < 2:
            raise ValueError("Unexpected length of input tuple: " + str(len(arg1)))
        if len(arg1) > 2 or (isinstance(arg1[0], integer_types) and isinstance(arg1[1], integer_types)):
            _check_shape(arg1, shape)
            return zeros("row_sparse", arg1, ctx=ctx, dtype=dtype)
        return _rsp_from_definition(arg1[0], arg1[1], shape, ctx, dtype)
    if isinstance(arg1, RowSparseNDArray):
        _check_shape(arg1.shape, shape)
        return array(arg1, ctx=ctx, dtype=dtype)
    if isinstance(arg1, CSRNDArray):
        raise ValueError("Unexpected input type: CSRNDArray")
    return _from_dense_source(arg1, shape, ctx, dtype, "row_sparse")


def zeros(stype, shape, ctx=None, dtype=None, **kwargs):
    """An all-zero array of storage type `stype` ('csr' needs a 2-D shape)."""
    from .ndarray import zeros as _zeros
    if stype == "default":
        return _zeros(shape, ctx=ctx, dtype=dtype, **kwargs)
    if stype not in _CLASSES:
        raise ValueError("unknown storage type" + str(stype))
    shape = _shape(shape)
    if stype == "csr" and len(shape) != 2:
        raise MXNetError("zeros: a csr array must be 2-D, got shape %s" % (shape,))
    return _CLASSES[stype](_zeros(shape, ctx=ctx, dtype=dtype, **kwargs))


def empty(stype, shape, ctx=None, dtype=None):
    """A new sparse array (all zero, as MXNet's empty sparse arrays hold no entries)."""
    if stype not in _CLASSES:
        raise ValueError("unknown stype : " + str(stype))
    return zeros(stype, shape, ctx=ctx, dtype=dtype)


def array(source_array, ctx=None, dtype=None):
    """A sparse copy of a CSRNDArray/RowSparseNDArray or a scipy.sparse matrix."""
    if isinstance(source_array, NDArray):
        if source_array.stype == "default":
            raise AssertionError("Please use `tostype` to create RowSparseNDArray or CSRNDArray "
                                 "from an NDArray")
        dtype = _default_dtype(source_array, dtype)
        ctx = _ctx(ctx)
        out = NDArray.astype(NDArray(source_array), dtype, True)
        if out.context != ctx:
            out = NDArray.copyto(out, ctx)
        return type(source_array)(out)
    if spsp is not None and spsp.issparse(source_array):
        csr = source_array.tocsr().sorted_indices()
        csr.sum_duplicates()
        dtype = _default_dtype(source_array, dtype)
        return csr_matrix((csr.data, csr.indices, csr.indptr), shape=csr.shape, dtype=dtype, ctx=ctx)
    if isinstance(source_array, (np.ndarray, np.generic)):
        raise ValueError("Please use mx.nd.array to create an NDArray with source_array of type ",
                         type(source_array))
    raise ValueError("Unexpected source_array type: ", type(source_array))


# ----------------------------------------------------------------------------- operators

def cast_storage(data, stype, out=None, name=None):
    """`data` converted to storage type `stype` (a copy), as MXNet's `cast_storage`."""
    if data.stype == stype == "default":
        res = data.copy()
    elif data.stype != "default":
        res = data.tostype(stype)
    else:
        res = _wrap(data.copy(), stype)
    if out is not None:
        NDArray.copyto(NDArray(res), out)
        return out
    return res


def retain(data=None, indices=None, out=None, name=None, **kwargs):
    """A row_sparse array holding only the rows of `data` listed in `indices` (MXNet's
    `_sparse_retain`; here `indices` need not be sorted)."""
    if kwargs or indices is None:
        raise MXNetError("retain: takes data and indices (and out, name), got %s"
                         % ", ".join(["data"] * (data is not None) + ["indices"] * (
                             indices is not None) + sorted(kwargs)))
    if not isinstance(data, NDArray) or data.stype != "row_sparse":
        raise MXNetError("retain: data must be a RowSparseNDArray, got storage type %s"
                         % getattr(data, "stype", type(data).__name__))
    res = RowSparseNDArray(_keep_rows(data, indices))
    if out is not None:
        NDArray.copyto(NDArray(res), out)
        return out
    return res


def _keep_rows(data, indices, strict=True):
    """A dense copy of `data` with every row not listed in `indices` zeroed (ids out of range
    are an error, or with `strict=False` select nothing, as KVStore.row_sparse_pull does)."""
    n = data.shape[0]
    idx = indices.asnumpy() if isinstance(indices, NDArray) else np.asarray(indices)
    idx = idx.astype(np.int64).ravel()
    if not strict:
        idx = idx[(idx >= 0) & (idx < n)]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx[(idx < 0) | (idx >= n)][0]
        raise MXNetError("row index %d is out of range for an array of %d rows" % (bad, n))
    mask = np.zeros((n,) + (1,) * (data.ndim - 1), dtype=np.dtype(data.dtype))
    mask[idx] = 1
    m = _from_numpy(mask, data.context)
    zero = _internal.zeros_like(data)
    return _internal.where(_internal.broadcast_to(m, shape=data.shape), data, zero)


def dot(lhs, rhs, transpose_a=False, transpose_b=False, forward_stype=None, out=None, name=None):
    """MXNet's `dot`. Output storage as MXNet's: csr.T · dense (or row_sparse, not transposed)
    is row_sparse, dense · csr is csr, the rest dense (or `forward_stype` when given)."""
    res = _internal.dot(lhs, rhs, transpose_a=transpose_a, transpose_b=transpose_b, out=out)
    if out is not None:
        return out
    found = _rules.RULES["dot"]([lhs, rhs], {"forward_stype": forward_stype,
                                             "transpose_a": transpose_a,
                                             "transpose_b": transpose_b})
    return res if not found or found[0] == "default" else _wrap(res, found[0])


def _ufunc(elemwise, broadcast, operator_):
    """MXNet's `mx.nd.sparse.add`-style functions: elementwise for equal shapes, broadcasting
    otherwise, the scalar operators for a number."""
    def fn(lhs, rhs):
        if isinstance(lhs, NDArray) and isinstance(rhs, NDArray):
            return getattr(_internal, elemwise if lhs.shape == rhs.shape else broadcast)(lhs, rhs)
        return operator_(lhs, rhs)
    fn.__name__ = elemwise.replace("elemwise_", "")
    fn.__doc__ = "MXNet's sparse `%s` (output storage type as MXNet's)." % fn.__name__
    return fn


add = _ufunc("elemwise_add", "broadcast_add", _operator.add)
subtract = _ufunc("elemwise_sub", "broadcast_sub", _operator.sub)
multiply = _ufunc("elemwise_mul", "broadcast_mul", _operator.mul)
divide = _ufunc("elemwise_div", "broadcast_div", _operator.truediv)


def square_sum(data, axis=None, keepdims=False, exclude=False, out=None, name=None):
    """Sum of squares (MXNet's `_square_sum`, for row_sparse inputs)."""
    kw = {} if axis is None else {"axis": axis}
    return _internal._square_sum(data, keepdims=keepdims, exclude=exclude, out=out, **kw)


# Scalar operator each arithmetic method uses, MXNet's operator for two arrays of the same
# shape and of different shapes, and whether `self` is the right operand (then the left one is
# a dense NDArray, whose operators always broadcast).
_ARITH = {
    "__add__": ("_plus_scalar", "elemwise_add", "broadcast_add", False),
    "__radd__": ("_plus_scalar", "broadcast_add", "broadcast_add", True),
    "__sub__": ("_minus_scalar", "elemwise_sub", "broadcast_sub", False),
    "__rsub__": ("_rminus_scalar", "broadcast_sub", "broadcast_sub", True),
    "__mul__": ("_mul_scalar", "elemwise_mul", "broadcast_mul", False),
    "__rmul__": ("_mul_scalar", "broadcast_mul", "broadcast_mul", True),
    "__truediv__": ("_div_scalar", "elemwise_div", "broadcast_div", False),
    "__rtruediv__": ("_rdiv_scalar", "broadcast_div", "broadcast_div", True),
    "__eq__": ("_equal_scalar", "_equal", "broadcast_equal", False),
    "__ne__": ("_not_equal_scalar", "_not_equal", "broadcast_not_equal", False),
    "__gt__": ("_greater_scalar", "_greater", "broadcast_greater", False),
    "__ge__": ("_greater_equal_scalar", "_greater_equal", "broadcast_greater_equal", False),
    "__lt__": ("_lesser_scalar", "_lesser", "broadcast_lesser", False),
    "__le__": ("_lesser_equal_scalar", "_lesser_equal", "broadcast_lesser_equal", False),
}


def _arith_method(name, scalar_op, same_op, bcast_op, reflected):
    base = getattr(NDArray, name)

    def method(self, other):
        res = base(self, other)
        if isinstance(other, numeric_types) and not isinstance(other, bool):
            rule = _rules.RULES.get(scalar_op, _rules.dense)
            return _rules.apply(rule, [self], {"scalar": other}, res)
        if isinstance(other, NDArray):
            rule = _rules.RULES.get(same_op if other.shape == self.shape else bcast_op,
                                    _rules.dense)
            return _rules.apply(rule, [other, self] if reflected else [self, other], {}, res)
        return res
    method.__name__ = name
    return method


def _negative(self):
    return _rules.apply(_rules.keep_on_stored, [self], {}, NDArray.__neg__(self))


def _install_ops():
    """MXNet's operator namespace of this module, and the arithmetic of sparse arrays."""
    g = globals()
    for n in _rules.RULES:
        if not n.startswith("_") and hasattr(_internal, n):
            g[n] = getattr(_internal, n)
    for n in ("arccos", "arccosh", "cos", "cosh", "exp", "gamma", "gammaln", "log", "log10",
              "log2", "rsqrt", "sigmoid", "sum", "mean", "norm", "where", "broadcast_add",
              "broadcast_sub", "broadcast_plus", "broadcast_minus", "Embedding", "FullyConnected",
              "LinearRegressionOutput", "LogisticRegressionOutput", "MAERegressionOutput",
              "sgd_update", "sgd_mom_update", "adam_update", "adagrad_update", "ftrl_update"):
        if hasattr(_internal, n) and n not in g:
            g[n] = getattr(_internal, n)
    # Registry ops MXNet files under mx.nd.sparse by their `_sparse_` prefix.
    for n in dir(_internal):
        if n.startswith("_sparse_") and n[len("_sparse_"):] not in g:
            g[n[len("_sparse_"):]] = getattr(_internal, n)
    for name, spec in _ARITH.items():
        setattr(BaseSparseNDArray, name, _arith_method(name, *spec))
    BaseSparseNDArray.__div__ = BaseSparseNDArray.__truediv__
    BaseSparseNDArray.__rdiv__ = BaseSparseNDArray.__rtruediv__
    BaseSparseNDArray.__neg__ = _negative


_install_ops()


def _load_wrap(items, codes):
    """Arrays loaded from a file, sparse records as their classes."""
    names = {1: "row_sparse", 2: "csr"}
    return [a if c not in names else _CLASSES[names[c]](a) for a, c in zip(items, codes)]

