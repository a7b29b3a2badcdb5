"""`mx.nd.random`: sampling into new arrays, seeded by `mx.random.seed`."""
import numpy as np

from ..context import current_context
from . import _internal

__all__ = ["uniform", "normal", "randint"]


def _shape(shape):
    if shape is None:
        return (1,)
    return (shape,) if isinstance(shape, int) else tuple(shape)


def _per_element(a, b, shape, dtype, out, draw, combine):
    """MXNet's `_sample_*` form: parameters given as arrays of one shape S, one draw of `shape`
    per parameter element, so the result has shape S + shape."""
    from .ndarray import NDArray, full
    like = a if isinstance(a, NDArray) else b
    a, b = (x if isinstance(x, NDArray) else full(like.shape, x, ctx=like.context) for x in (a, b))
    if a.shape != b.shape:
        raise ValueError("random: the parameter arrays must have one shape, got %s and %s"
                         % (a.shape, b.shape))
    extra = () if shape is None else _shape(shape)
    dtype = dtype or (a.dtype if np.dtype(a.dtype).kind == "f" else "float32")
    u = draw(a.shape + extra, dtype, a.context)
    keep = a.shape + (1,) * len(extra)
    res = combine(a.astype(dtype).reshape(keep), b.astype(dtype).reshape(keep), u)
    if out is not None:
        res.copyto(out)
        return out
    return res


def uniform(low=0, high=1, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Samples from a uniform distribution on [low, high); with arrays for low and high, one
    sample of `shape` per pair."""
    from .ndarray import NDArray
    if isinstance(low, NDArray) or isinstance(high, NDArray):
        return _per_element(
            low, high, shape, dtype, out,
            lambda s, dt, c: uniform(0, 1, s, dt, c, **kwargs),
            lambda lo, hi, u: _internal.broadcast_add(lo, _internal.broadcast_mul(hi - lo, u)))
    ctx = ctx or (out.context if out is not None else current_context())
    return _internal._random_uniform(low=low, high=high, shape=_shape(out.shape if out is not None and shape is None else shape),
                                     dtype=dtype or "float32", ctx=ctx, out=out, **kwargs)


def normal(loc=0, scale=1, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Samples from a normal distribution with mean `loc` and standard deviation `scale`; with
    arrays for them, one sample of `shape` per pair."""
    from .ndarray import NDArray
    if isinstance(loc, NDArray) or isinstance(scale, NDArray):
        return _per_element(
            loc, scale, shape, dtype, out,
            lambda s, dt, c: normal(0, 1, s, dt, c, **kwargs),
            lambda mu, sd, z: _internal.broadcast_add(mu, _internal.broadcast_mul(sd, z)))
    ctx = ctx or (out.context if out is not None else current_context())
    return _internal._random_normal(loc=loc, scale=scale, shape=_shape(out.shape if out is not None and shape is None else shape),
                                    dtype=dtype or "float32", ctx=ctx, out=out, **kwargs)


def randint(low, high, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Samples integers uniformly from [low, high)."""
    ctx = ctx or (out.context if out is not None else current_context())
    return _internal._random_randint(low=low, high=high, shape=_shape(out.shape if out is not None and shape is None else shape),
                                     dtype=dtype or "int32", ctx=ctx, out=out, **kwargs)
