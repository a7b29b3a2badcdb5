"""Tolerances and comparisons of ``mx.test_utils`` (MXNet 1.9.1): dtype-dependent default
tolerances, ``assert_almost_equal`` and its variants, and small numpy reference helpers."""
import functools
import json
import numbers

import numpy as np

from .. import ndarray as nd


def default_dtype():
    """The dtype random test data is made in."""
    return np.float32


def default_rtols():
    """Relative tolerance per dtype, used when a comparison is given none."""
    return {np.dtype(np.float16): 1e-2,
            np.dtype(np.float32): 1e-4,
            np.dtype(np.float64): 1e-5,
            np.dtype(np.bool_): 0,
            np.dtype(np.int8): 0,
            np.dtype(np.uint8): 0,
            np.dtype(np.int32): 0,
            np.dtype(np.uint32): 0,
            np.dtype(np.int64): 0,
            np.dtype(np.uint64): 0}


def default_atols():
    """Absolute tolerance per dtype, used when a comparison is given none."""
    return {np.dtype(np.float16): 1e-1,
            np.dtype(np.float32): 1e-3,
            np.dtype(np.float64): 1e-20,
            np.dtype(np.bool_): 0,
            np.dtype(np.int8): 0,
            np.dtype(np.uint8): 0,
            np.dtype(np.int32): 0,
            np.dtype(np.uint32): 0,
            np.dtype(np.int64): 0,
            np.dtype(np.uint64): 0}


def default_numeric_eps():
    """Finite-difference step per dtype: powers of two, so adding one to an input loses no
    bits of the step."""
    return {np.dtype(np.float16): 1.0 / 2**6,
            np.dtype(np.float32): 1.0 / 2**9,
            np.dtype(np.float64): 1.0 / 2**14}


def effective_dtype(dat):
    """The dtype whose tolerance applies to ``dat``. MXNet answers float16 for float32 data on
    GPUs that compute float32 GEMMs in TF32; oxnet keeps cuBLAS's TF32 off, so it is always
    ``dat``'s own dtype."""
    return np.dtype(dat.dtype)


def get_tolerance(dat, tol, default_tol):
    """``tol`` itself when it is a number; else the entry for ``dat``'s dtype in the dict
    ``tol`` (or in ``default_tol`` when ``tol`` is None or has none)."""
    if isinstance(tol, numbers.Number):
        return tol
    dtype = effective_dtype(dat)
    tol = {} if tol is None else tol
    if dtype in tol:
        return tol[dtype]
    if dtype in default_tol:
        return default_tol[dtype]
    if dtype.kind in "biu":
        return 0
    raise KeyError("no default tolerance for dtype %s" % dtype)


def get_tols(x, y, rtol, atol):
    """(rtol, atol) for comparing ``x`` with ``y``: the looser of the two dtypes' defaults
    where not given."""
    if isinstance(x, numbers.Number):
        x = np.array(x)
    if isinstance(y, numbers.Number):
        y = np.array(y)
    rtol = max(get_tolerance(x, rtol, default_rtols()), get_tolerance(y, rtol, default_rtols()))
    atol = max(get_tolerance(x, atol, default_atols()), get_tolerance(y, atol, default_atols()))
    return rtol, atol


def get_atol(atol=None, dtype=np.dtype(np.float64)):
    """``atol``, or the default absolute tolerance of ``dtype``."""
    return default_atols()[np.dtype(dtype)] if atol is None else atol


def get_rtol(rtol=None, dtype=np.dtype(np.float64)):
    """``rtol``, or the default relative tolerance of ``dtype``."""
    return default_rtols()[np.dtype(dtype)] if rtol is None else rtol


def get_etol(etol=None):
    """``etol`` (the fraction of elements allowed to mismatch), 0 by default."""
    return 0 if etol is None else etol


def _np(a):
    if isinstance(a, nd.NDArray):
        return a.asnumpy()
    return np.asarray(a)


def _with_dtype(a):
    """Lists and tuples as numpy arrays, so their dtype picks the tolerance."""
    return np.asarray(a) if isinstance(a, (list, tuple)) else a


def same(a, b):
    """True when both hold exactly the same values and shape."""
    return np.array_equal(_np(a), _np(b))


def checkShapes(a, b):
    """Raises AssertionError when ``a`` and ``b`` differ in shape."""
    if a.shape != b.shape:
        raise AssertionError("a.shape = %s and b.shape = %s are not equal"
                             % (str(a.shape), str(b.shape)))


def almost_equal(a, b, rtol=None, atol=None, equal_nan=False, use_broadcast=True):
    """``np.allclose`` with the float64 defaults (rtol 1e-5, atol 1e-20) where not given."""
    if not use_broadcast:
        checkShapes(a, b)
    return np.allclose(_np(a), _np(b), rtol=get_rtol(rtol), atol=get_atol(atol),
                       equal_nan=equal_nan)


def locationError(a, b, index, names, maxError=False):
    """The mismatch line: the index and both values there."""
    maximum = "maximum " if maxError else ""
    index = tuple(int(i) for i in index)
    return "Location of %serror: %s, %s=%.8f, %s=%.8f" % (maximum, str(index), names[0],
                                                           a[index], names[1], b[index])


def _violations(a, b, rtol, atol, equal_nan):
    """|a - b| / (atol + rtol |b|) per element, 0 where ``isclose`` holds (so infinities
    and, with ``equal_nan``, NaNs that match count as equal) and inf where a NaN mismatches."""
    close = np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
    with np.errstate(invalid="ignore", over="ignore"):
        absdiff = np.abs(a.astype(np.float64) - b.astype(np.float64))
        viol = absdiff / (atol + rtol * np.abs(b.astype(np.float64)) + 1e-20)
    viol = np.where(np.isnan(viol), np.inf, viol)
    return np.where(close, 0.0, viol), close


def _mismatch_message(a, b, rtol, atol, names, equal_nan, mismatches):
    a, b = np.broadcast_arrays(a, b)
    viol, close = _violations(a, b, rtol, atol, equal_nan)
    bad = int(close.size - np.count_nonzero(close))
    order = np.argsort(-viol, axis=None, kind="stable")[:max(int(mismatches[0]), 1)]
    worst = np.unravel_index(order[0], viol.shape)
    lines = ["Error %f exceeds tolerance rtol=%e, atol=%e (mismatch %f%%)."
             % (viol[worst], rtol, atol, 100.0 * bad / max(a.size, 1)),
             locationError(a, b, worst, names, maxError=True)]
    lines += ["%3d: Error %f  %s" % (i + 1, viol[idx], locationError(a, b, idx, names))
              for i, idx in enumerate(np.unravel_index(k, viol.shape) for k in order)
              if viol[idx] > 0]
    with np.printoptions(threshold=4, suppress=True):
        lines += [" %s: %s" % (names[0], repr(a)), " %s: %s" % (names[1], repr(b))]
    return "\n".join(lines)


def assert_almost_equal(a, b, rtol=None, atol=None, names=("a", "b"), equal_nan=False,
                        use_broadcast=True, mismatches=(10, 10)):
    """Raises AssertionError, naming the worst elements, unless ``|a - b| <= atol + rtol |b|``
    everywhere. ``rtol``/``atol``: a number, a dict dtype -> number, or None for the looser
    default of the two dtypes (float32: 1e-4 / 1e-3). ``mismatches[0]`` elements are listed."""
    a, b = _with_dtype(a), _with_dtype(b)
    if not use_broadcast:
        checkShapes(a, b)
    rtol, atol = get_tols(a, b, rtol, atol)
    a, b = _np(a), _np(b)
    if a.dtype == np.bool_ and b.dtype == np.bool_:
        np.testing.assert_equal(a, b)
        return
    if np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan):
        return
    raise AssertionError(_mismatch_message(a, b, rtol, atol, names, equal_nan, mismatches))


def assert_allclose(a, b, rtol=1e-07, atol=0, equal_nan=True):
    """``assert_almost_equal`` with numpy's ``assert_allclose`` defaults."""
    assert_almost_equal(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)


def assert_almost_equal_with_err(a, b, rtol=None, atol=None, etol=None, names=("a", "b"),
                                 equal_nan=False, mismatches=(10, 10)):
    """Like ``assert_almost_equal`` but passes while at most a fraction ``etol`` of the
    elements mismatch (with ``etol`` 0, the default, it is ``assert_almost_equal``)."""
    etol = get_etol(etol)
    if etol <= 0:
        assert_almost_equal(a, b, rtol=rtol, atol=atol, names=names, equal_nan=equal_nan,
                            mismatches=mismatches)
        return
    a, b = _with_dtype(a), _with_dtype(b)
    rtol, atol = get_tols(a, b, rtol, atol)
    a, b = _np(a), _np(b)
    equals = np.isclose(a, b, rtol=rtol, atol=atol)
    err = 1 - np.count_nonzero(equals) / equals.size
    if err > etol:
        raise AssertionError("error rate %f exceeds etol=%f\n%s"
                             % (err, etol, _mismatch_message(a, b, rtol, atol, names,
                                                             equal_nan, mismatches)))


def assert_almost_equal_ignore_nan(a, b, rtol=None, atol=None, names=("a", "b")):
    """``assert_almost_equal`` where elements that are NaN in either array are skipped."""
    a = np.copy(_np(a))
    b = np.copy(_np(b))
    a, b = np.broadcast_arrays(a, b)
    a, b = a.copy(), b.copy()
    nan_mask = np.logical_or(np.isnan(a), np.isnan(b))
    a[nan_mask] = 0
    b[nan_mask] = 0
    assert_almost_equal(a, b, rtol, atol, names)


def assert_exception(f, exception_type, *args, **kwargs):
    """Raises AssertionError unless ``f(*args, **kwargs)`` raises ``exception_type``."""
    try:
        f(*args, **kwargs)
    except exception_type:
        return
    # Outside the try, so exception_type=AssertionError cannot swallow it (as it does in MXNet).
    raise AssertionError("%s did not raise %s" % (getattr(f, "__name__", repr(f)),
                                                  getattr(exception_type, "__name__",
                                                          exception_type)))


def retry(n):
    """Decorator: runs a stochastic test up to ``n`` times; only the last AssertionError
    propagates."""
    assert n > 0

    def decorate(f):
        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            for i in range(n):
                try:
                    f(*args, **kwargs)
                    return
                except AssertionError:
                    if i == n - 1:
                        raise
                    nd.waitall()
        return wrapper
    return decorate


def np_reduce(dat, axis, keepdims, numpy_reduce_func):
    """``numpy_reduce_func`` applied one axis at a time over ``axis`` (int, list-like or None
    for all), keeping reduced axes as size 1 when ``keepdims``."""
    if isinstance(axis, int):
        axis = [axis]
    else:
        axis = list(axis) if axis is not None else range(len(dat.shape))
    ret = dat
    for i in reversed(sorted(axis)):
        ret = numpy_reduce_func(ret, axis=i)
    if keepdims:
        keepdims_shape = list(dat.shape)
        for i in axis:
            keepdims_shape[i] = 1
        ret = ret.reshape(tuple(keepdims_shape))
    return ret


def collapse_sum_like(a, shape):
    """Sums numpy array ``a`` over the axes that broadcasting ``shape`` to ``a.shape`` added
    or stretched (the gradient of a broadcast)."""
    assert len(a.shape) >= len(shape)
    if np.prod(shape) == 0 or a.size == 0:
        return np.zeros(shape, dtype=a.dtype)
    ndim_diff = len(a.shape) - len(shape)
    axes = list(range(ndim_diff))
    for i, s in enumerate(shape):
        if s != a.shape[i + ndim_diff]:
            assert s == 1, "shape %s does not broadcast to %s" % (shape, a.shape)
            axes.append(i + ndim_diff)
    return np.sum(a, axis=tuple(axes)).reshape(shape)


def compare_ndarray_tuple(t1, t2, rtol=None, atol=None):
    """``assert_almost_equal`` over (nested tuples of) arrays; None on either side skips."""
    if t1 is None or t2 is None:
        return
    if isinstance(t1, tuple):
        for s1, s2 in zip(t1, t2):
            compare_ndarray_tuple(s1, s2, rtol, atol)
    else:
        assert_almost_equal(t1, t2, rtol=rtol, atol=atol)


def same_array(array1, array2):
    """True when the two NDArrays share memory: a change through one shows in the other."""
    array1[:] += 1
    if not same(array1.asnumpy(), array2.asnumpy()):
        array1[:] -= 1
        return False
    array1[:] -= 1
    return same(array1.asnumpy(), array2.asnumpy())


def same_symbol_structure(sym1, sym2):
    """True when both graphs have the same operator at every node index of their common
    prefix, as in MXNet (whose AMP tests compare a graph against one with casts appended)."""
    nodes1 = json.loads(sym1.tojson())["nodes"]
    nodes2 = json.loads(sym2.tojson())["nodes"]
    return all(n1["op"] == n2["op"] for n1, n2 in zip(nodes1, nodes2))
