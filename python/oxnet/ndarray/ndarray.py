"""NDArray: the native array type (arithmetic and hot methods are in Rust) extended here with
the less frequent MXNet 1.x methods, indexing, printing, numpy/DLPack interop and pickling."""
import math
import operator
import warnings
import weakref

import numpy as np

from .. import _native
from ..base import numeric_types, integer_types, MXNetError, bfloat16, _as_np_dtype, _np_dtype_name
from ..base import ValueAssertionError
from ..context import Context, current_context
from . import _internal


class CopyShapeError(MXNetError, ValueError):
    """A copy between arrays of different shapes (MXNet raises MXNetError; a ValueError too,
    as the bad argument it is)."""

NDArray = _native.NDArray

__all__ = ["NDArray", "array", "empty", "zeros", "ones", "full", "arange", "linspace", "eye",
           "zeros_like", "ones_like", "concatenate", "waitall", "from_dlpack", "moveaxis",
           "cast_storage"]

_DTYPES = {np.dtype(n) for n in ("float32", "float64", "float16", "uint8", "int32", "int8", "int64", "bool")}
_DTYPES.add(bfloat16)


def _extend(fn):
    setattr(NDArray, fn.__name__, fn)
    return fn


def _prop(fn):
    setattr(NDArray, fn.__name__, property(fn))
    return fn


def _np_dtype(dtype):
    if dtype is None:
        return None
    try:
        d = _as_np_dtype(dtype)
    except (TypeError, ValueError, SyntaxError):
        raise TypeError("dtype %r is not a data type (supported: %s)" % (dtype, ", ".join(
            sorted(_np_dtype_name(x) for x in _DTYPES)))) from None
    if d not in _DTYPES:
        raise TypeError("dtype %s is not supported by oxnet (supported: %s)"
                        % (d, ", ".join(sorted(_np_dtype_name(x) for x in _DTYPES))))
    return d


# numpy computes `dtype.name` in Python (~5 µs): a quarter of what creating a small array cost.
_DTYPE_NAMES = {}


def _dtype_name(dtype):
    """The supported dtype's name (``'float32'``), cached per spelling of it."""
    try:
        return _DTYPE_NAMES[dtype]
    except (KeyError, TypeError):  # unseen, or an unhashable spelling
        pass
    name = _np_dtype_name(_np_dtype(dtype))
    try:
        _DTYPE_NAMES[dtype] = name
    except TypeError:
        pass
    return name


def _ctx(ctx):
    if ctx is None:
        return current_context()
    if isinstance(ctx, str):
        import re
        m = re.fullmatch(r"(\w+)\((\d+)\)", ctx)
        return Context(m.group(1), int(m.group(2))) if m else Context(ctx)
    if not isinstance(ctx, Context):
        raise TypeError("ctx must be a Context, got %r" % (ctx,))
    return ctx


def _shape(shape):
    if isinstance(shape, integer_types):
        return (int(shape),)
    try:
        if isinstance(shape, (str, bytes)):
            raise TypeError
        shape = tuple(shape)
        dims = tuple(int(s) for s in shape)
    except (TypeError, ValueError, OverflowError):
        dims = None
    # A float dimension must be whole (MXNet's parser refuses `2.5`).
    if dims is None or any(isinstance(s, float) and s != d for s, d in zip(shape, dims)):
        raise TypeError("shape must be an int or a tuple of ints, got %r" % (shape,))
    return dims


# ----------------------------------------------------------------------------- creation

def _sparse_stype(stype):
    """Whether `stype` names a sparse storage type (an unknown name is an error)."""
    if stype in (None, "default"):
        return False
    if stype in ("csr", "row_sparse"):
        return True
    raise ValueError("unknown storage type %r (expected 'default', 'row_sparse' or 'csr')" % (stype,))


def empty(shape, ctx=None, dtype=None, stype=None):
    """An array with unspecified contents (all zero for a sparse `stype`)."""
    if _sparse_stype(stype):
        from . import sparse
        return sparse.empty(stype, shape, ctx=ctx, dtype=dtype)
    ctx = _ctx(ctx)
    return _native.empty(list(_shape(shape)), _dtype_name(dtype or np.float32), ctx.device_typeid, ctx.device_id)


def zeros(shape, ctx=None, dtype=None, stype=None, **kwargs):
    """An array filled with zeros (a CSRNDArray / RowSparseNDArray for a sparse `stype`)."""
    if _sparse_stype(stype):
        from . import sparse
        return sparse.zeros(stype, shape, ctx=ctx, dtype=dtype, **kwargs)
    return _internal._zeros(shape=_shape(shape), ctx=_ctx(ctx), dtype=_dtype_name(dtype or np.float32), **kwargs)


def ones(shape, ctx=None, dtype=None, **kwargs):
    """An array filled with ones."""
    stype = kwargs.pop("stype", None)
    out = _internal._ones(shape=_shape(shape), ctx=_ctx(ctx), dtype=_dtype_name(dtype or np.float32), **kwargs)
    return out.tostype(stype) if _sparse_stype(stype) else out


def full(shape, val, ctx=None, dtype=np.float32, out=None):
    """An array filled with `val`."""
    if out is not None:
        return _internal._full(shape=out.shape, value=val, ctx=out.context, dtype=out.dtype, out=out)
    return _internal._full(shape=_shape(shape), value=val, ctx=_ctx(ctx), dtype=_dtype_name(dtype))


def arange(start, stop=None, step=1.0, repeat=1, infer_range=None, ctx=None, dtype=np.float32):
    """Evenly spaced values in [start, stop)."""
    return _internal._arange(start=start, stop=stop, step=step, repeat=repeat, ctx=_ctx(ctx),
                             dtype=_dtype_name(dtype))


def linspace(start, stop, num, endpoint=True, ctx=None, dtype=np.float32):
    """`num` evenly spaced values over [start, stop] ([start, stop) without `endpoint`)."""
    return _internal._linspace(start=start, stop=stop, num=num, endpoint=endpoint,
                               ctx=_ctx(ctx), dtype=_dtype_name(dtype))


def eye(N, M=0, k=0, ctx=None, dtype=np.float32, **kwargs):
    """A 2-D array with ones on the k-th diagonal."""
    return _internal._eye(N=N, M=M, k=k, ctx=_ctx(ctx), dtype=_dtype_name(dtype), **kwargs)


def zeros_like(data, **kwargs):
    return _internal.zeros_like(data, **kwargs)


def ones_like(data, **kwargs):
    return _internal.ones_like(data, **kwargs)


def array(source_array, ctx=None, dtype=None):
    """Creates an array from an NDArray, numpy array, list, tuple or scalar.

    As in MXNet, non-NDArray sources become float32 unless `dtype` is given; a sparse array
    or a scipy.sparse matrix gives a sparse copy (`mx.nd.sparse.array`)."""
    if (isinstance(source_array, NDArray) and source_array.stype != "default") or \
            type(source_array).__module__.startswith("scipy.sparse"):
        from . import sparse
        return sparse.array(source_array, ctx=ctx, dtype=dtype)
    ctx = _ctx(ctx)
    if isinstance(source_array, NDArray):
        dtype = _np_dtype(dtype) or np.dtype(source_array.dtype)
        out = empty(source_array.shape, ctx, dtype)
        source_array._copyto(out)
        return out
    dtype = _np_dtype(dtype) or np.dtype(np.float32)
    if (dtype == bfloat16) != (getattr(source_array, "dtype", None) == bfloat16):
        # Between bfloat16 and other types by value (numpy would convert the bits).
        if dtype == bfloat16:
            # Through float64 unless float32 holds the source exactly: rounding twice (to
            # float32, then bfloat16) can differ from rounding once.
            src = getattr(source_array, "dtype", None)
            exact = src is not None and np.can_cast(src, np.float32, "safe")
            return array(source_array, ctx, np.float32 if exact else np.float64).astype(bfloat16)
        return array(source_array, ctx, bfloat16).astype(dtype)
    try:
        src = np.ascontiguousarray(np.asarray(source_array, dtype=dtype))
    except OverflowError:
        # numpy 2 refuses Python numbers outside an integer dtype's range; MXNet (numpy 1)
        # wraps them as a C cast does, which is what oxnet's `astype` does.
        return array(source_array, ctx, np.asarray(source_array).dtype).astype(dtype)
    except (TypeError, ValueError) as e:
        raise TypeError("source_array must be array like object: %s" % e) from e
    return _native.from_numpy_array(src, ctx.device_typeid, ctx.device_id)


def _from_numpy(a, ctx=None):
    ctx = _ctx(ctx)
    return _native.from_numpy_array(np.ascontiguousarray(a), ctx.device_typeid, ctx.device_id)


def concatenate(arrays, axis=0, always_copy=True):
    """Joins arrays along an existing axis."""
    if not arrays:
        raise ValueError("concatenate needs at least one array")
    if len(arrays) == 1 and not always_copy:
        return arrays[0]
    return _internal.Concat(*arrays, dim=axis)


def waitall():
    """Waits for every pushed operation; raises the first error not raised yet."""
    _native.waitall()


def moveaxis(tensor, source, destination):
    """Moves axes `source` (an int or a sequence) to positions `destination`, as numpy."""
    src = _axis_tuple(source, tensor.ndim, "source")
    dst = _axis_tuple(destination, tensor.ndim, "destination")
    if len(src) != len(dst):
        raise ValueError("moveaxis: source %s and destination %s must have the same number of "
                         "elements" % (source, destination))
    order = [a for a in range(tensor.ndim) if a not in src]
    for d, a in sorted(zip(dst, src)):
        order.insert(d, a)
    return _internal.transpose(tensor, axes=tuple(order))


def _axis_tuple(axes, ndim, what):
    """`axes` (int or sequence) as non-negative axes of an `ndim`-dim array, each once."""
    axes = [axes] if isinstance(axes, integer_types) else list(axes)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError("moveaxis: %s axis %d is out of range for an array of %d dims"
                             % (what, a, ndim))
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError("moveaxis: repeated axis in %s %s" % (what, axes))
    return out


def _py_max(x, y):
    return x if x > y else y


def _py_min(x, y):
    return x if x < y else y


def _py_cmp(test):
    return lambda x, y: 1 if test(x, y) else 0


def _ufunc(lhs, rhs, name, lscalar, rscalar, py):
    if isinstance(lhs, NDArray) and isinstance(rhs, NDArray):
        return getattr(_internal, "broadcast_" + name)(lhs, rhs)
    if isinstance(lhs, NDArray):
        return getattr(_internal, lscalar)(lhs, scalar=float(rhs))
    if isinstance(rhs, NDArray):
        return getattr(_internal, rscalar)(rhs, scalar=float(lhs))
    if isinstance(lhs, numeric_types) and isinstance(rhs, numeric_types):
        # Two numbers: the Python result, as MXNet gives (mx.nd.power(0.9, t) in optimizers).
        return py(lhs, rhs)
    raise TypeError("%s: arguments must be NDArrays or numbers, got %s and %s"
                    % (name, type(lhs).__name__, type(rhs).__name__))


def add(lhs, rhs):
    return _ufunc(lhs, rhs, "add", "_plus_scalar", "_plus_scalar", operator.add)


def subtract(lhs, rhs):
    return _ufunc(lhs, rhs, "sub", "_minus_scalar", "_rminus_scalar", operator.sub)


def multiply(lhs, rhs):
    return _ufunc(lhs, rhs, "mul", "_mul_scalar", "_mul_scalar", operator.mul)


def divide(lhs, rhs):
    return _ufunc(lhs, rhs, "div", "_div_scalar", "_rdiv_scalar", operator.truediv)


true_divide = divide


def modulo(lhs, rhs):
    return _ufunc(lhs, rhs, "mod", "_mod_scalar", "_rmod_scalar", operator.mod)


def power(base, exp):
    return _ufunc(base, exp, "power", "_power_scalar", "_rpower_scalar", operator.pow)


def maximum(lhs, rhs):
    return _ufunc(lhs, rhs, "maximum", "_maximum_scalar", "_maximum_scalar", _py_max)


def minimum(lhs, rhs):
    return _ufunc(lhs, rhs, "minimum", "_minimum_scalar", "_minimum_scalar", _py_min)


def equal(lhs, rhs):
    return _ufunc(lhs, rhs, "equal", "_equal_scalar", "_equal_scalar", _py_cmp(operator.eq))


def not_equal(lhs, rhs):
    return _ufunc(lhs, rhs, "not_equal", "_not_equal_scalar", "_not_equal_scalar",
                  _py_cmp(operator.ne))


def greater(lhs, rhs):
    return _ufunc(lhs, rhs, "greater", "_greater_scalar", "_lesser_scalar", _py_cmp(operator.gt))


def greater_equal(lhs, rhs):
    return _ufunc(lhs, rhs, "greater_equal", "_greater_equal_scalar", "_lesser_equal_scalar",
                  _py_cmp(operator.ge))


def lesser(lhs, rhs):
    return _ufunc(lhs, rhs, "lesser", "_lesser_scalar", "_greater_scalar", _py_cmp(operator.lt))


def lesser_equal(lhs, rhs):
    return _ufunc(lhs, rhs, "lesser_equal", "_lesser_equal_scalar", "_greater_equal_scalar",
                  _py_cmp(operator.le))


def logical_and(lhs, rhs):
    return _ufunc(lhs, rhs, "logical_and", "_logical_and_scalar", "_logical_and_scalar", _py_cmp(lambda x,
                  y: x and y))


def logical_or(lhs, rhs):
    return _ufunc(lhs, rhs, "logical_or", "_logical_or_scalar", "_logical_or_scalar", _py_cmp(lambda x,
                  y: x or y))


def logical_xor(lhs, rhs):
    return _ufunc(lhs, rhs, "logical_xor", "_logical_xor_scalar", "_logical_xor_scalar", _py_cmp(lambda x,
                  y: bool(x) != bool(y)))


def onehot_encode(indices, out):
    """One-hot encodes `indices` into `out` (MXNet's legacy helper)."""
    return _internal.one_hot(indices, depth=out.shape[1], out=out)


def imdecode(str_img, clip_rect=(0, 0, 0, 0), out=None, index=0, channels=3, mean=None):
    """DEPRECATED (as in MXNet 1.x): use ``mx.image.imdecode``. Decodes image bytes to a
    (channels, height, width) array in OpenCV's BGR order (``channels=1``: gray), clipped to
    ``clip_rect`` (x0, y0, x1, y1; all zero for the whole image), minus ``mean`` (an array of
    that shape), in mean's dtype (float32 without one). Writes into ``out`` when given: a
    (c, h, w) array, or slice ``index`` of an (n, c, h, w) one, in out's dtype."""
    from ..image.image import imdecode as decode_hwc
    if channels not in (1, 3):
        raise MXNetError("imdecode: channels must be 1 (gray) or 3 (BGR), got %r" % (channels,))
    img = decode_hwc(str_img, flag=1 if channels == 3 else 0, to_rgb=False).asnumpy()
    h, w = img.shape[:2]
    x0, y0, x1, y1 = (int(v) for v in clip_rect)
    if y1 == y0:  # MXNet's test for "no clipping"
        x0, y0, x1, y1 = 0, 0, w, h
    if not (0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h):
        raise MXNetError("imdecode: clip_rect (x0, y0, x1, y1) = %s is not a rectangle inside the "
                         "%dx%d (width x height) image" % ((x0, y0, x1, y1), w, h))
    chw = img[y0:y1, x0:x1].transpose(2, 0, 1)
    if out is None:
        dtype = np.dtype(np.float32) if mean is None else _as_np_dtype(mean.dtype)
    else:
        if out.ndim not in (3, 4) or (out.ndim == 4 and not 0 <= index < out.shape[0]):
            raise MXNetError("imdecode: out must be (c, h, w), or (n, c, h, w) with 0 <= index < n; "
                             "got shape %s and index %d" % (out.shape, index))
        dest = out if out.ndim == 3 else out[index]
        if dest.shape != chw.shape:
            raise MXNetError("imdecode: out%s has shape %s, the clipped image %s"
                             % ("" if out.ndim == 3 else "[%d]" % index, dest.shape, chw.shape))
        dtype = _as_np_dtype(out.dtype)
    res = chw.astype(dtype)
    if mean is not None:
        if mean.shape != chw.shape or _as_np_dtype(mean.dtype) != dtype:
            raise MXNetError("imdecode: mean must be %s of shape %s like the clipped image, got %s %s"
                             % (_np_dtype_name(dtype), chw.shape, _np_dtype_name(mean.dtype), mean.shape))
        res = res - mean.asnumpy()
    if out is None:
        return array(res, dtype=dtype)
    dest[:] = res
    return out


def histogram(a, bins=10, range=None):  # noqa: A002 - MXNet's argument name
    """Histogram of `a`: `bins` equal bins over `range`, or the bin edges as an NDArray.
    Returns (counts, bin edges), as MXNet's `mx.nd.histogram`."""
    if isinstance(bins, NDArray):
        return _internal._histogram(data=a, bins=bins)
    if isinstance(bins, integer_types) and not isinstance(bins, bool):
        if range is None:
            # MXNet's answer too: numpy's histogram over the data's own range, as a tuple
            warnings.warn("range is not specified, using numpy's result to ensure consistency "
                          "with numpy")
            counts, edges = np.histogram(a.asnumpy(), bins=int(bins))
            return array(counts, ctx=a.context), array(edges, ctx=a.context)
        return _internal._histogram(data=a, bin_cnt=int(bins), range=range)
    raise ValueError("bins argument should be either an integer or an NDArray")


# ----------------------------------------------------------------------------- attributes

@_prop
def context(self):
    return Context._from_tuple(self._ctx)


NDArray.ctx = property(context)


@_prop
def __cuda_array_interface__(self):
    """CUDA Array Interface v3 of a GPU array (CuPy, PyTorch, Numba read it zero-copy).
    The array's stream is synchronised before the pointer is handed out."""
    if self.context.device_type != "gpu":
        raise AttributeError("__cuda_array_interface__ exists only for GPU arrays, this one "
                             "is on %s" % self.context)
    return {"shape": tuple(self.shape), "typestr": np.dtype(self.dtype).str,
            "data": (self._data_ptr(), False), "strides": None, "version": 3,
            "stream": None}


@_prop
def stype(self):
    return "default"


@_prop
def T(self):
    if self.ndim < 2:
        return self
    return _internal.transpose(self)


@_extend
def __repr__(self):
    shape_info = "x".join("%d" % x for x in self.shape)
    return "\n%s\n<%s %s @%s>" % (str(_values(self)), self.__class__.__name__, shape_info, self.context)


def _values(a):
    """`a.asnumpy()`, with bfloat16 widened to float32 (its numbers rather than its bits)."""
    return (a.astype(np.float32) if a.dtype == bfloat16 else a).asnumpy()


NDArray.__str__ = NDArray.__repr__


@_extend
def __iter__(self):
    if self.ndim == 0:
        raise TypeError("iteration over a 0-d array")
    for i in range(self.shape[0]):
        yield self[i]


@_extend
def __array__(self, dtype=None, copy=None):
    a = self.asnumpy()
    return a if dtype is None else a.astype(dtype, copy=False)


NDArray.__array_priority__ = 1000.0


@_extend
def __reversed__(self):
    if self.ndim == 0:
        raise TypeError("iteration over a 0-d array")
    for i in range(self.shape[0] - 1, -1, -1):
        yield self[i]


def _refused(symbol):
    def method(self, other):
        raise TypeError("unsupported operand type(s) for %s: 'NDArray' and '%s'"
                        % (symbol, type(other).__name__))
    return method


# MXNet 1.x's NDArray has none of these. They refuse, as its absent ones do, also a numpy
# operand, which would otherwise take the NDArray in through __array__ and return numpy.
for _name, _symbol in (("floordiv", "//"), ("and", "&"), ("or", "|"), ("xor", "^"),
                       ("matmul", "@"), ("lshift", "<<"), ("rshift", ">>")):
    for _form in ("__%s__", "__r%s__", "__i%s__"):
        setattr(NDArray, _form % _name, _refused(_symbol))

# Python 2's names, which MXNet 1.x still defines (its docstrings call `__rdiv__`).
for _py2, _py3 in (("__div__", "__truediv__"), ("__rdiv__", "__rtruediv__"),
                   ("__idiv__", "__itruediv__"), ("__nonzero__", "__bool__")):
    setattr(NDArray, _py2, getattr(NDArray, _py3))


@_extend
def __abs__(self):
    return _internal.abs(self)


@_extend
def __pos__(self):
    return self


@_extend
def __reduce__(self):
    return (_rebuild, (self.asnumpy(), self._ctx))


def _rebuild(data, ctx):
    return _from_numpy(data, Context._from_tuple(ctx))


@_extend
def __copy__(self):
    return self.copy()


@_extend
def __deepcopy__(self, memo):
    return self.copy()


@_extend
def asscalar(self):
    if self.size != 1:
        raise ValueError("The current array is not a scalar")
    return self.asnumpy().reshape(()).item() if self.dtype == np.bool_ else _values(self).reshape(())[()]


def _one_element(self, kind):
    if self.size != 1:
        raise TypeError("only one-element NDArrays can be converted to Python %ss (shape %s)"
                        % (kind, self.shape))
    return _values(self).reshape(())[()]


@_extend
def __float__(self):
    # MXNet 1.x has no conversion (float() then parses the array's bytes as text); numpy's
    # rule for one-element arrays is what such code means.
    return float(_one_element(self, "float"))


@_extend
def __int__(self):
    return int(_one_element(self, "int"))


@_extend
def copy(self):
    return self.copyto(self.context)  # recorded under autograd, as MXNet's


@_extend
def copyto(self, other):
    """Copies into another NDArray (returned) or onto a Context (a new array)."""
    if isinstance(other, NDArray):
        if other._same_array(self) and other.shape == self.shape:
            import warnings
            warnings.warn("You are attempting to copy an array to itself", RuntimeWarning)
            return False  # as MXNet
        if other.shape != self.shape:
            raise CopyShapeError("copyto: shape mismatch, source %s, destination %s"
                                 % (self.shape, other.shape))
        self._copyto(other)
        return other
    if isinstance(other, Context):
        out = empty(self.shape, other, self.dtype)
        self._copyto(out)
        return out
    raise TypeError("copyto does not support type " + str(type(other)))


@_extend
def as_in_context(self, context):
    if self.context == context:
        return self
    return self.copyto(context)


@_extend
def wait_to_write(self):
    self.wait_to_read()


@_extend
def tostype(self, stype):
    """A copy with storage type `stype` ('csr' needs a 2-D array)."""
    if not _sparse_stype(stype):
        return self.copy()
    from . import sparse
    return sparse._wrap(self.copy(), stype)


def cast_storage(data, stype, out=None, name=None):
    """MXNet's `cast_storage`: a copy of `data` with storage type `stype`."""
    from . import sparse
    return sparse.cast_storage(data, stype, out=out)


@_extend
def cast(self, dtype, copy=True):
    return self.astype(dtype, copy=copy)


# ----------------------------------------------------------------------------- shape methods

def _reshape_target(cur, shape, reverse):
    """MXNet's reshape codes: 0 copy dim, -1 infer, -2 copy rest, -3 merge two, -4 split one."""
    src = list(cur)
    spec = list(shape)
    if reverse:
        src, spec = src[::-1], spec[::-1]
    out, i, j, infer = [], 0, 0, -1
    while j < len(spec):
        s = spec[j]
        if s == 0:
            if i >= len(src):
                raise ValueError("reshape: code 0 at position %d but the input has only %d dims" % (j, len(src)))
            out.append(src[i]); i += 1
        elif s == -1:
            if infer >= 0:
                raise ValueError("reshape: one and only one dim can be inferred")
            infer = len(out); out.append(1); i += 1
        elif s == -2:
            out.extend(src[i:]); i = len(src)
        elif s == -3:
            if i + 1 >= len(src):
                raise ValueError("reshape: code -3 needs two input dims at position %d" % i)
            out.append(src[i] * src[i + 1]); i += 2
        elif s == -4:
            if j + 2 >= len(spec) or i >= len(src):
                raise ValueError("reshape: code -4 needs two following values")
            d0, d1 = spec[j + 1], spec[j + 2]
            if d0 == -1 and d1 == -1:
                raise ValueError("reshape: split dims cannot both be -1")
            if d0 == -1:
                d0 = src[i] // d1
            if d1 == -1:
                d1 = src[i] // d0
            if d0 * d1 != src[i]:
                raise ValueError("reshape: cannot split dim %d into %d x %d" % (src[i], d0, d1))
            out.extend([d0, d1]); i += 1; j += 2
        elif s > 0:
            out.append(s); i += 1
        else:
            raise ValueError("reshape: invalid shape code %d" % s)
        j += 1
    if infer >= 0:
        known = 1
        for k, d in enumerate(out):
            if k != infer:
                known *= d
        total = math.prod(cur)
        if known == 0 or total % known:
            raise ValueError("reshape: cannot infer dim: %s into %s" % (tuple(cur), tuple(shape)))
        out[infer] = total // known
    if reverse:
        out = out[::-1]
    return tuple(out)


@_extend
def reshape(self, *shape, **kwargs):
    """A view of the same memory with another shape (MXNet codes 0, -1, -2, -3, -4, reverse)."""
    if len(shape) == 1 and isinstance(shape[0], (list, tuple)):
        shape = shape[0]
    elif not shape:
        shape = kwargs.pop("shape")
    reverse = kwargs.pop("reverse", False)
    if kwargs:
        raise TypeError("reshape got unexpected keyword arguments %s" % list(kwargs))
    target = _reshape_target(self.shape, shape, reverse)
    size = math.prod(target)
    if size != self.size:
        # MXNet's frontend raises ValueError here.
        raise ValueError("NDArray.reshape: cannot reshape array of shape %s (size %d) into shape "
                         "%s (size %d)" % (self.shape, self.size, target, size))
    return self._reshape_view(list(target))


# flatten, expand_dims and squeeze copy unless `inplace` (MXNet 1.x); the view is reshape's.
@_extend
def flatten(self, inplace=False):
    if inplace or not self.ndim:
        return self.reshape((self.shape[0], -1)) if self.ndim else self.reshape((1, 1))
    return _internal.Flatten(self)


@_extend
def expand_dims(self, axis, inplace=False):
    nd = self.ndim + 1
    a = axis + nd if axis < 0 else axis
    if not 0 <= a < nd:
        raise ValueError("expand_dims: axis %d is out of range for an array of %d dims" % (axis, self.ndim))
    s = list(self.shape)
    s.insert(a, 1)
    return self._reshape_view(s) if inplace else _internal.expand_dims(self, axis=a)


@_extend
def squeeze(self, axis=None, inplace=False):
    if axis is None:
        s = [d for d in self.shape if d != 1]
    else:
        axes = [axis] if isinstance(axis, int) else list(axis)
        axes = [a + self.ndim if a < 0 else a for a in axes]
        for a in axes:
            if not 0 <= a < self.ndim or self.shape[a] != 1:
                raise ValueError("squeeze: cannot select an axis to squeeze out which has size not "
                                 "equal to one (axis %s of shape %s)" % (a, self.shape))
        s = [d for i, d in enumerate(self.shape) if i not in axes]
    return self._reshape_view(s or [1]) if inplace else _internal.reshape(self, shape=s or [1])


def _method(opname):
    """NDArray.method forwarding every argument to the registry op, positional ones in the
    op's own order (MXNet's fluent methods)."""
    def f(self, *args, **kwargs):
        return getattr(_internal, opname)(self, *args, **kwargs)
    f.__name__ = opname
    f.__doc__ = "Convenience fluent method for :py:func:`%s`." % opname
    return f


for _n in ("abs", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctanh", "argmax",
           "argmax_channel", "argmin", "argsort", "broadcast_axes", "broadcast_like", "cbrt",
           "ceil", "clip", "cos", "cosh", "degrees", "depth_to_space", "diag", "exp", "expm1", "fix",
           "flip", "floor", "log", "log10", "log1p", "log2", "log_softmax", "max", "mean", "min",
           "nanprod", "nansum", "norm", "one_hot", "ones_like", "pad", "pick", "prod", "radians",
           "rcbrt", "reciprocal", "relu", "repeat", "reshape_like", "rint", "round", "rsqrt",
           "shape_array", "sigmoid", "sign", "sin", "sinh", "size_array", "slice", "slice_axis",
           "slice_like", "softmax", "softmin", "sort", "space_to_depth", "sqrt", "square", "sum",
           "swapaxes", "take", "tan", "tanh", "tile", "topk", "transpose", "trunc", "zeros_like"):
    if hasattr(_internal, _n):
        setattr(NDArray, _n, _method(_n))


@_extend
def broadcast_to(self, shape):
    shape = _shape(shape)
    cur = (1,) * (len(shape) - self.ndim) + tuple(self.shape)
    if len(shape) < self.ndim or any(c != s and c != 1 and s != 0 for c, s in zip(cur, shape)):
        raise _not_broadcastable(self.shape, shape)
    src = self.reshape(cur) if cur != self.shape else self
    # A new array even when no axis grows: writes to it must not reach `self` (MXNet's too).
    return _internal.broadcast_to(src, shape=shape)


@_extend
def slice_assign(self, rhs, begin, end, step):
    """Writes `rhs` into ``self[begin:end:step]`` in place; returns self."""
    return _internal._slice_assign(self, rhs, begin=begin, end=end, step=step, out=self)


@_extend
def slice_assign_scalar(self, value, begin, end, step):
    """Writes the scalar `value` into ``self[begin:end:step]`` in place; returns self."""
    return _internal._slice_assign_scalar(self, scalar=value, begin=begin, end=end, step=step,
                                          out=self)


@_prop
def writable(self):
    """Whether the array may be written (always, for arrays made through mx.nd)."""
    return True


@_extend
def as_nd_ndarray(self):
    """This array (it is already a classic NDArray)."""
    return self


@_extend
def as_np_ndarray(self):
    raise NotImplementedError("as_np_ndarray: oxnet has no mx.np (MXNet's NumPy-compatible "
                              "interface); use asnumpy() for a numpy array")


@_extend
def split(self, num_outputs, axis=1, squeeze_axis=False):
    return _internal.split(self, num_outputs=num_outputs, axis=axis, squeeze_axis=squeeze_axis)


def split_v2(ary, indices_or_sections, axis=0, squeeze_axis=False):
    """Splits `ary` along `axis` into equal sections (an int) or at the given indices (a tuple),
    as numpy.split; MXNet's `mx.nd.split_v2`."""
    if isinstance(indices_or_sections, int):
        axis_size = ary.shape[axis]
        if axis_size % indices_or_sections:
            raise ValueError("array split does not result in an equal division")
        size = axis_size // indices_or_sections
        indices = [i * size for i in range(indices_or_sections)]
    elif isinstance(indices_or_sections, tuple):
        indices = [0] + list(indices_or_sections)
    else:
        raise ValueError("indices_or_sections must either int or tuple of ints")
    return _internal._split_v2(ary, indices=tuple(indices), axis=axis, squeeze_axis=squeeze_axis)


NDArray.split_v2 = split_v2


# ----------------------------------------------------------------------------- indexing

def _index_error(idx, axis, size):
    return IndexError("index %d is out of bounds for axis %d with size %d" % (idx, axis, size))


def _norm_index(i, axis, size):
    i = int(i)
    j = i + size if i < 0 else i
    if not 0 <= j < size:
        raise _index_error(i, axis, size)
    return j


def _listed_positions(key):
    """`key` with each tuple or range entry (and a range as the whole key) as a list: MXNet
    and numpy read them as lists of positions."""
    if isinstance(key, range):
        return list(key)
    if isinstance(key, tuple) and any(isinstance(k, (tuple, range)) for k in key):
        return tuple(list(k) if isinstance(k, (tuple, range)) else k for k in key)
    return key


def _basic_key(key, ndim):
    """Expands a basic index to one entry per axis plus None insertions; None if advanced."""
    if not isinstance(key, tuple):
        key = (key,)
    out = []
    for k in key:
        if isinstance(k, (NDArray, np.ndarray, list)):
            return None
        if isinstance(k, (bool, np.bool_)):
            return None
        if not (k is None or k is Ellipsis or isinstance(k, (slice, integer_types))):
            raise IndexError("NDArray index of type %s is not supported" % type(k).__name__)
        out.append(k)
    n_ell = sum(1 for k in out if k is Ellipsis)
    if n_ell > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    used = sum(1 for k in out if k is not None and k is not Ellipsis)
    if used > ndim:
        raise IndexError("too many indices for array: array is %d-dimensional, but %d were indexed" % (ndim, used))
    if n_ell:
        i = out.index(Ellipsis)
        out[i:i + 1] = [slice(None)] * (ndim - used)
    else:
        out += [slice(None)] * (ndim - used)
    return out


def _plan(self, key):
    """(begin, end, step, result shape, length taken along each axis, positions of the None
    axes in the result) for a basic key, in the `slice` op's terms: a negative begin or end
    there counts from the end, so an empty range is written (0, 0, 1) and a negative step that
    runs past index 0 ends at None."""
    entries = _basic_key(key, self.ndim)
    if entries is None:
        return None
    begin, end, step, shape, lens, new_axes = [], [], [], [], [], []
    axis = 0
    for k in entries:
        if k is None:
            new_axes.append(len(shape))
            shape.append(1)
            continue
        size = self.shape[axis]
        if isinstance(k, slice):
            b, e, s = k.indices(size)
            n = len(range(b, e, s))
            if n == 0:
                b, e, s = 0, 0, 1
            begin.append(b); end.append(e if (s > 0 or e >= 0) else None); step.append(s)
            shape.append(n); lens.append(n)
        else:
            i = _norm_index(k, axis, size)
            begin.append(i); end.append(i + 1); step.append(1); lens.append(1)
        axis += 1
    return begin, end, step, shape, lens, new_axes


def _is_contiguous(lens, step, shape):
    """Whether taking `lens` elements with `step` along each axis selects one run of memory
    (MXNet's rule): right to left, once an axis is cut short, every axis left of it takes at
    most one element; more than one element needs step 1."""
    if math.prod(lens) <= 1:
        return True
    cut = False
    for n, s, d in zip(reversed(lens), reversed(step), reversed(shape)):
        if n == 0:
            return True
        if n > 1 and (s != 1 or cut):
            return False
        cut = cut or n < d
    return True


@_extend
def __getitem__(self, key):
    if (isinstance(key, slice) and key.start is None and key.stop is None
            and key.step in (None, 1)) or (isinstance(key, tuple) and not key):
        return self  # as MXNet: `a[:]`, `a[::1]` and `a[()]` are `a`
    key = _listed_positions(key)
    if isinstance(key, integer_types) and not isinstance(key, (bool, np.bool_)):
        if self.ndim == 0:
            raise IndexError("too many indices for array: array is 0-dimensional")
        i = _norm_index(key, 0, self.shape[0])
        v = self._slice_rows(i, i + 1)
        return v._reshape_view(list(self.shape[1:])) if self.ndim > 1 else v
    if isinstance(key, slice) and (key.step is None or key.step == 1) and self.ndim:
        b, e, _ = key.indices(self.shape[0])
        return self._slice_rows(b, max(b, e))
    plan = _plan(self, key)
    if plan is None:
        return _advanced_get(self, key)
    begin, end, step, shape, lens, _ = plan
    if not shape:
        shape = [1]  # MXNet: full integer indexing gives shape (1,)
    if self.ndim == 0:
        return self._reshape_view(shape)
    if _is_contiguous(lens, step, self.shape):
        # MXNet returns a view whenever the selection is one run of memory.
        flat = int(np.ravel_multi_index(begin, self.shape)) if all(lens) else 0
        v = self._reshape_view([self.size])._slice_rows(flat, flat + math.prod(lens))
        return v._reshape_view(shape)
    r = _internal.slice(self, begin=tuple(begin), end=tuple(end), step=tuple(step))
    return r._reshape_view(shape) if tuple(shape) != r.shape else r


def _numpy_key(key):
    """`key` for numpy, NDArray indices as integer arrays (MXNet truncates float indices)."""
    def conv(x):
        if not isinstance(x, NDArray):
            return x
        n = x.asnumpy()
        return n if n.dtype.kind in "biu" else n.astype(np.int64)
    return tuple(conv(x) for x in (key if isinstance(key, tuple) else (key,)))


def _leading_positions(self, key):
    """For a tuple of integer index arrays (and ints) addressing the leading axes, numpy's
    "advanced indexing" with every index adjacent: (the row positions into the array viewed as
    rows of its other axes, the result's shape, that view). None for other keys."""
    if not isinstance(key, tuple) or not 0 < len(key) <= self.ndim:
        return None
    parts = []
    for axis, k in enumerate(key):
        if isinstance(k, (bool, np.bool_)):
            return None
        if isinstance(k, integer_types):
            v = np.int64(k)
        elif isinstance(k, NDArray):
            v = k.asnumpy()
        elif isinstance(k, (list, np.ndarray)):
            v = np.asarray(k)
            if v.size and v.dtype.kind not in "iu":
                return None
        else:
            return None
        if v.dtype == np.bool_:
            return None
        v = np.asarray(v).astype(np.int64)
        if not v.ndim:
            _norm_index(v, axis, self.shape[axis])
        parts.append(v)
    if all(v.ndim == 0 for v in parts):
        return None
    try:
        parts = np.broadcast_arrays(*parts)
        shape = parts[0].shape
    except ValueError:
        raise IndexError("shape mismatch: indexing arrays could not be broadcast together with "
                         "shapes " + " ".join(str(v.shape) for v in parts)) from None
    lead, rest = self.shape[:len(key)], self.shape[len(key):]
    # Index arrays are checked after broadcasting, as numpy's: those selecting nothing pass.
    parts = [_row_indices(v.reshape(-1), n, axis) % n if n else v.reshape(-1)
             for axis, (v, n) in enumerate(zip(parts, lead))]
    lin = np.ravel_multi_index(parts, lead)
    table = self._reshape_view([math.prod(lead)] + list(rest))
    return lin, shape + rest, table


def _one_axis_list(self, key):
    """(axis, positions) for `a[:, rows]`, `a[:, :, rows, :]`...: one index list among whole
    slices. None for other keys."""
    if not isinstance(key, tuple) or len(key) > self.ndim:
        return None
    whole = slice(None)
    arrays = [j for j, k in enumerate(key) if not (isinstance(k, slice) and k == whole)]
    if len(arrays) != 1:
        return None
    axis = arrays[0]
    rows = _row_indices(key[axis], self.shape[axis], axis)
    return None if rows is None else (axis, rows)


def _take_along_one_axis(self, key):
    """`a[:, rows]`: a `take` along the axis (not a copy of the array through numpy)."""
    found = _one_axis_list(self, key)
    if found is None:
        return None
    axis, rows = found
    return _internal.take(self, array(rows, ctx=self.context, dtype=np.int64), axis=axis, mode="wrap")


def _one_axis_positions(self, key):
    """For `a[:, rows] = v`: the rows it writes of the array viewed as rows of the axes after
    `rows`' (each leading position, then each listed one), the value's shape, that view."""
    found = _one_axis_list(self, key)
    if found is None:
        return None
    axis, rows = found
    n, lead, rest = self.shape[axis], self.shape[:axis], self.shape[axis + 1:]
    outer = np.arange(math.prod(lead), dtype=np.int64)[:, None] * n
    lin = (outer + (rows % n if n else rows)[None, :]).reshape(-1)
    table = self._reshape_view([math.prod(lead) * n] + list(rest))
    return lin, lead + (len(rows),) + rest, table


def _advanced_get(self, key):
    if isinstance(key, NDArray) and key.dtype == np.bool_:
        key = key.asnumpy()  # a mask, as `a[mask] = v` reads it (not positions 0 and 1)
    if isinstance(key, (NDArray, list, np.ndarray)) and not (isinstance(key, np.ndarray) and key.dtype == np.bool_):
        idx = key if isinstance(key, NDArray) else array(np.asarray(key), ctx=self.context, dtype=np.int64)
        ni = idx.asnumpy()
        if ni.size and (ni.max() >= self.shape[0] or ni.min() < -self.shape[0]):
            bad = ni.max() if ni.max() >= self.shape[0] else ni.min()
            raise _index_error(int(bad), 0, self.shape[0])
        return _internal.take(self, idx.astype(np.int64) if idx.dtype != np.int64 else idx, axis=0, mode="wrap")
    taken = _take_along_one_axis(self, key)
    if taken is not None:
        return taken
    if not _native.is_recording():
        flat = _leading_positions(self, key)
        if flat is not None:
            lin, shape, table = flat
            got = _internal.take(table, array(lin, ctx=self.context, dtype=np.int64), axis=0)
            return got._reshape_view(list(shape))
    k = _numpy_key(key)
    if _native.is_recording():
        # Recorded: one `take` of the flat positions numpy's indexing selects, so the
        # gradient flows back to them (MXNet's gather_nd).
        try:
            pos = np.arange(self.size, dtype=np.int64).reshape(self.shape)[k]
        except IndexError as e:
            raise IndexError(str(e)) from None
        flat = _internal.take(self._reshape_view([self.size]),
                              array(pos.reshape(-1), ctx=self.context, dtype=np.int64), axis=0)
        return flat._reshape_view(list(pos.shape) or [1])
    try:
        res = self.asnumpy()[k]
    except IndexError as e:
        raise IndexError(str(e)) from None
    return array(res, ctx=self.context, dtype=self.dtype)


def _squeeze_leading(shape, ndim):
    """`shape` without leading 1s beyond `ndim` dims: MXNet assigns a (1, 1, 4) value to a
    (4,) destination (and reports other extra dims at the broadcast)."""
    k = 0
    while len(shape) - k > ndim and shape[k] == 1:
        k += 1
    return shape[k:]


def _assign_full(dst, value):
    """Writes `value` (scalar, NDArray or array-like) over the whole of `dst`."""
    if isinstance(value, numeric_types):
        _internal._full(shape=dst.shape, value=float(value), ctx=dst.context, dtype=dst.dtype, out=dst)
        return
    if dst.size == 0:
        _check_broadcasts_to_empty(value.shape if isinstance(value, NDArray) else np.shape(value), dst.shape)
        return
    if isinstance(value, NDArray):
        if value.shape == dst.shape:
            if not value._same_array(dst):
                value._copyto(dst)
            return
        if value.ndim > dst.ndim:
            value = value.reshape(_squeeze_leading(value.shape, dst.ndim))
        try:
            src = value.broadcast_to(dst.shape)
        except (ValueError, MXNetError):
            raise _not_broadcastable(value.shape, dst.shape) from None
        if src.shape != dst.shape:
            src = src.reshape(dst.shape)
        src._copyto(dst)
        return
    if dst.dtype == bfloat16 and getattr(value, "dtype", None) != bfloat16:
        return _assign_full(dst, array(value, dst.context, bfloat16))
    try:
        src = np.asarray(value, dtype=np.dtype(dst.dtype))
    except OverflowError:
        return _assign_full(dst, array(value, dst.context, dst.dtype))
    if src.ndim > dst.ndim:
        src = src.reshape(_squeeze_leading(src.shape, dst.ndim))
    try:
        src = np.broadcast_to(src, dst.shape)
    except ValueError:
        raise _not_broadcastable(src.shape, dst.shape) from None
    dst._sync_copyfrom(np.ascontiguousarray(src))


def _not_broadcastable(shape, dst_shape):
    return ValueError("operands could not be broadcast together with remapped shapes"
                      "[original->remapped]: %s and requested shape %s" % (tuple(shape), tuple(dst_shape)))


def _check_broadcasts_to_empty(shape, dst_shape):
    # Nothing is written, but numpy's rule still applies: a length-1 axis stretches to 0, any
    # other length must match (broadcast_to cannot tell: its 0 means "keep this axis").
    shape = tuple(shape)
    if len(shape) > len(dst_shape):
        shape = _squeeze_leading(shape, len(dst_shape))
    if len(shape) > len(dst_shape) or any(
            n not in (1, m) for n, m in zip(shape[::-1], tuple(dst_shape)[::-1])):
        raise _not_broadcastable(shape, dst_shape)


def _row_indices(key, n, axis=0):
    """`key` as an int64 index array (on the host) when it lists positions along an axis of
    size `n`: a 1-D integer list, numpy array or NDArray (float NDArrays truncate, as MXNet's).
    None for other keys; IndexError for a position out of range."""
    if isinstance(key, NDArray):
        if key.ndim != 1:
            return None
        rows = key.asnumpy()
    elif isinstance(key, (list, np.ndarray)):
        rows = np.asarray(key)
        if rows.ndim != 1 or (rows.size and rows.dtype.kind not in "iu"):
            return None
    else:
        return None
    if rows.dtype == np.bool_:
        return None
    rows = rows.astype(np.int64)
    if rows.size and (rows.max() >= n or rows.min() < -n):
        raise _index_error(int(rows.max() if rows.max() >= n else rows.min()), axis, n)
    return rows


def _set_indexed_rows(self, key, value):
    """`self[key] = value` for a list of rows, index arrays over the leading axes, or one index
    list among whole slices: written in place by `_set_rows` (one engine op) instead of a
    round trip of the whole array through numpy. False for other keys."""
    if not self.ndim or _native.is_recording():
        return False
    listed = _row_indices(key, self.shape[0])
    if listed is not None:
        rows, shape, table = listed, (len(listed),) + self.shape[1:], self
    else:
        flat = _leading_positions(self, key)
        if flat is None:
            flat = _one_axis_positions(self, key)
        if flat is None:
            return False
        rows, shape, table = flat
    if not rows.size:
        return True
    if isinstance(value, NDArray) and value.shape == shape:
        src = value if value.dtype == self.dtype else value.astype(self.dtype)
        if src._same_memory(self):
            src = src.copy()  # `a[i] = a[j]` reads the rows before any is written
    else:
        src = empty(shape, self.context, self.dtype)
        _assign_full(src, value)
    idx = array(rows, ctx=self.context, dtype=np.int64)
    src = src.as_in_context(self.context)._reshape_view([len(rows)] + list(table.shape[1:]))
    _internal._set_rows(table, idx, src)
    return True


def _check_recorded_assign(dst, key, value):
    """Inside ``autograd.record()``, an assignment autograd could not follow is refused, as
    MXNet refuses it, instead of giving wrong gradients."""
    if dst._in_graph:
        raise MXNetError("NDArray.__setitem__: the array (shape %s, %s) is part of the graph "
                         "being recorded; assigning into it inside autograd.record() would make "
                         "its gradients wrong (MXNet refuses it too). Assign before record(), or "
                         "build the new value with ops (where, concat, scatter_nd)"
                         % (dst.shape, dst.dtype.__name__))
    whole = isinstance(key, slice) and key == slice(None)
    if not whole and isinstance(value, NDArray) and value._in_graph:
        # MXNet's sentence first: code (and MXNet's own tests) match on it
        raise MXNetError("Inplace operations (+=, -=, x[:]=, etc) are not supported when "
                         "recording with autograd. NDArray.__setitem__: assigning a recorded "
                         "array (shape %s) into part of another (shape %s, key %r) is not "
                         "differentiable; build the result with ops (concat, where, scatter_nd) "
                         "instead" % (value.shape, dst.shape, key))


def _fit_past_new_axes(shape, key, value):
    """`value` for numpy's `a[key] = value` as MXNet assigns it when an advanced key holds None:
    broadcast to the selection without those length-1 axes, then given them back. None where
    that does not help either."""
    if not any(e is None for e in key):
        return None
    try:
        # Axes of the source each entry takes (a boolean mask as many as it has).
        taken = [0 if e is None or e is Ellipsis
                 else max(np.ndim(e), 1) if np.asarray(e).dtype == np.bool_ else 1
                 for e in key]
        rest = len(shape) - sum(taken)
        # Where numpy puts each None's axis: the same key over a source with a length-2 axis
        # there, taken whole (a slice breaks adjacency of index arrays as None does), differs
        # from the result exactly on those axes.
        marked, at = list(shape), 0
        for e, n in zip(key, taken):
            if e is None:
                marked.insert(at, 2)
                at += 1
            at += rest if e is Ellipsis else n
        probe = np.broadcast_to(np.zeros((), np.int8), shape)[key].shape
        wide = np.broadcast_to(np.zeros((), np.int8), marked)[
            tuple(slice(None) if e is None else e for e in key)].shape
        kept = [n for n, w in zip(probe, wide) if n == w]
        return np.broadcast_to(np.asarray(value), kept).reshape(probe)
    except (ValueError, IndexError, TypeError):
        return None


@_extend
def __setitem__(self, key, value):
    key = _listed_positions(key)
    if _native.is_recording():
        _check_recorded_assign(self, key, value)
    if isinstance(key, slice) and key == slice(None):
        return _assign_full(self, value)
    if isinstance(key, integer_types) and not isinstance(key, (bool, np.bool_)) and self.ndim:
        i = _norm_index(key, 0, self.shape[0])
        return _assign_full(self._slice_rows(i, i + 1)._reshape_view(list(self.shape[1:]) or [1]), value)
    if isinstance(key, slice) and (key.step is None or key.step == 1) and self.ndim:
        b, e, _ = key.indices(self.shape[0])
        return _assign_full(self._slice_rows(b, max(b, e)), value)
    plan = _plan(self, key)
    if plan is None and _set_indexed_rows(self, key, value):
        return
    if plan is None:
        n = self.asnumpy()
        k = _numpy_key(key)
        v = value.asnumpy() if isinstance(value, NDArray) else value
        try:
            n[k] = v
        except ValueError:
            fitted = _fit_past_new_axes(n.shape, k, v)
            if fitted is None:
                raise
            n[k] = fitted
        self._sync_copyfrom(np.ascontiguousarray(n))
        return
    begin, end, step, shape, sliced, new_axes = plan
    if isinstance(value, numeric_types):
        _internal._slice_assign_scalar(self, scalar=float(value), begin=tuple(begin), end=tuple(end),
                                       step=tuple(step), out=self)
        return
    if not isinstance(value, NDArray):
        value = array(np.asarray(value), ctx=self.context, dtype=self.dtype)
    elif value.dtype != self.dtype:
        value = value.astype(self.dtype)
    if value.shape != tuple(sliced):
        # MXNet: the value broadcasts to what indexing returns without its integer and None
        # axes; a value with more axes first loses its length-1 axes at the None positions.
        target = [n for i, n in enumerate(shape) if i not in new_axes]
        if value.ndim > len(target):
            value = value._reshape_view([n for i, n in enumerate(value.shape)
                                         if not (i in new_axes and n == 1)])
        tmp = empty(sliced, self.context, self.dtype)
        _assign_full(tmp._reshape_view(target or [1]), value)
        value = tmp
    _internal._slice_assign(self, value, begin=tuple(begin), end=tuple(end), step=tuple(step), out=self)


# ----------------------------------------------------------------------------- DLPack

class _Capsule:
    def __init__(self, capsule):
        self._c = capsule

    def __dlpack__(self, stream=None, **kwargs):
        return self._c

    def __dlpack_device__(self):
        return (1, 0)


@_extend
def __dlpack__(self, stream=None, **kwargs):
    """DLPack export: a host copy of a CPU array's contents, after pending writes; a GPU
    array's own device memory (zero-copy, through PyTorch or CuPy, which keep it alive)."""
    if self.context.device_type == "gpu":
        return _gpu_view(self).__dlpack__()
    return self.asnumpy().__dlpack__()


def _gpu_view(a):
    """A PyTorch or CuPy array on a GPU array's memory (via __cuda_array_interface__)."""
    try:
        import torch
        return torch.as_tensor(a, device="cuda:%d" % a.context.device_id)
    except ImportError:
        pass
    try:
        import cupy
        with cupy.cuda.Device(a.context.device_id):
            return cupy.asarray(a)
    except ImportError:
        raise BufferError("DLPack export of a GPU array needs PyTorch or CuPy; "
                          "__cuda_array_interface__ works without them") from None


@_extend
def __dlpack_device__(self):
    if self.context.device_type == "gpu":
        return (2, self.context.device_id)  # kDLCUDA
    return (1, 0)


class _HostMemory:
    """A CPU array's memory as numpy sees it (``__array_interface__``), without a copy. It
    holds the array, so the memory outlives every numpy array and DLPack capsule on it."""

    def __init__(self, arr, ptr):
        self.arr = arr
        self.__array_interface__ = {"shape": tuple(arr.shape), "typestr": np.dtype(arr.dtype).str,
                                    "data": (ptr, False), "version": 3}


# Memory handed out by to_dlpack_for_*: its address -> the _HostMemory holding the array, so
# that from_dlpack of such a capsule is that array again (MXNet shares the memory).
_EXPORTED = weakref.WeakValueDictionary()


def _to_dlpack(data, for_write):
    if data.context.device_type == "gpu":
        return _gpu_view(data).__dlpack__()
    if np.dtype(data.dtype).kind not in "biuf" or data.size == 0:
        return data.__dlpack__()  # what numpy cannot view (bfloat16), __dlpack__ reports
    # As MXNet: after pending writes (for writing, after pending reads too) the consumer
    # gets the memory itself; what it writes, the array holds.
    ptr = data._data_ptr(for_write)
    mem = _HostMemory(data, ptr)
    _EXPORTED[ptr] = mem
    return np.asarray(mem).__dlpack__()


def to_dlpack_for_read(data):
    """A DLPack capsule on the array's memory, once pending writes are done."""
    return _to_dlpack(data, False)


def to_dlpack_for_write(data):
    """A DLPack capsule on the array's memory, once every pending op on it is done: the
    consumer (PyTorch, numpy...) writes into the array."""
    return _to_dlpack(data, True)


NDArray.to_dlpack_for_read = to_dlpack_for_read
NDArray.to_dlpack_for_write = to_dlpack_for_write


def _from_cuda_interface(cai, device_id):
    """A GPU NDArray with a copy of a CUDA array (CuPy, PyTorch...) given its interface."""
    shape, dtype = tuple(cai["shape"]), np.dtype(cai["typestr"])
    strides = cai.get("strides")
    if strides is not None:
        want, acc = [], dtype.itemsize
        for d in reversed(shape):
            want.insert(0, acc)
            acc *= d
        if tuple(strides) != tuple(want) and math.prod(shape) > 1:
            raise TypeError("from_dlpack: the CUDA array is not C-contiguous (strides %r)"
                            % (tuple(strides),))
    out = empty(shape, ctx=Context("gpu", device_id), dtype=dtype)
    if out.size:
        _native.copy_from_cuda_ptr(out, cai["data"][0])
    return out


def from_numpy(ndarray, zero_copy=True, array_cls=NDArray):
    """An NDArray with the contents of a numpy array. As MXNet, ``zero_copy`` requires a
    C-contiguous array and marks it read-only (its memory is meant to be handed over); oxnet
    copies the values either way."""
    if array_cls is not NDArray:
        raise TypeError("from_numpy: array_cls must be NDArray, got %r" % (array_cls,))
    if zero_copy:
        if not ndarray.flags["C_CONTIGUOUS"]:
            raise ValueError("Only c-contiguous arrays are supported for zero-copy")
        ndarray.flags["WRITEABLE"] = False
    return array(ndarray, dtype=ndarray.dtype)


def from_dlpack(dlpack):
    """An NDArray from a DLPack capsule or any object with `__dlpack__` (numpy, torch...): a
    copy of its values, except for a capsule of an oxnet array (``to_dlpack_for_*``), which
    gives that array's memory back, as in MXNet."""
    obj = _Capsule(dlpack) if type(dlpack).__name__ == "PyCapsule" else dlpack
    dev = getattr(obj, "__dlpack_device__", lambda: (1, 0))()
    if dev[0] != 1:
        cai = getattr(obj, "__cuda_array_interface__", None)
        if cai is None or dev[0] != 2:
            raise TypeError("from_dlpack: only host and CUDA arrays with "
                            "__cuda_array_interface__ are supported, got device %r" % (dev,))
        return _from_cuda_interface(cai, dev[1])
    try:
        a = np.from_dlpack(obj)
    except ValueError as e:
        if isinstance(obj, _Capsule):  # MXNet asserts that a capsule is still unused
            raise ValueAssertionError("from_dlpack: the capsule was already used (%s)" % e) from e
        raise
    except (TypeError, RuntimeError, BufferError) as e:
        raise TypeError("from_dlpack: cannot import %s: %s" % (type(dlpack).__name__, e)) from e
    mem = _EXPORTED.get(a.__array_interface__["data"][0]) if a.size else None
    if mem is not None and mem.arr.shape == a.shape and mem.arr.dtype == a.dtype:
        # A capsule of an oxnet array: the same memory, as in MXNet.
        return mem.arr._reshape_view(list(a.shape))
    return _from_numpy(a)
