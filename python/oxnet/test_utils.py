"""Helpers MXNet users and tests rely on (`mx.test_utils`)."""
import numpy as np

from .context import Context, current_context
from . import ndarray as nd

_default_ctx = [None]


def default_context():
    return _default_ctx[0] or current_context()


def set_default_context(ctx):
    _default_ctx[0] = Context(ctx)


def _np(a):
    return a.asnumpy() if isinstance(a, nd.NDArray) else np.asarray(a)


def same(a, b):
    """True when both hold exactly the same values and shape."""
    return np.array_equal(_np(a), _np(b))


def almost_equal(a, b, rtol=None, atol=None, equal_nan=False):
    return np.allclose(_np(a), _np(b), rtol=1e-5 if rtol is None else rtol,
                       atol=1e-20 if atol is None else atol, equal_nan=equal_nan)


def assert_almost_equal(a, b, rtol=None, atol=None, names=("a", "b"), equal_nan=False):
    """Raises AssertionError naming the worst element when `a` and `b` differ."""
    a, b = _np(a), _np(b)
    np.testing.assert_allclose(a, b, rtol=1e-5 if rtol is None else rtol,
                               atol=1e-20 if atol is None else atol, equal_nan=equal_nan,
                               err_msg="%s and %s differ" % names)


def rand_shape_nd(num_dim, dim=10):
    return tuple(np.random.randint(1, dim + 1, size=num_dim))


def rand_ndarray(shape, stype="default", density=None, dtype=None, ctx=None):
    if stype != "default":
        raise NotImplementedError("only dense arrays are supported")
    return nd.array(np.random.uniform(-1, 1, size=shape), ctx=ctx or default_context(), dtype=dtype or np.float32)
