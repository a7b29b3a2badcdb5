"""`mx.nd.random`: sampling into new arrays, seeded by `mx.random.seed`."""
from ..context import current_context
from . import _internal

__all__ = ["uniform", "normal", "randint"]


def _shape(shape):
    if shape is None:
        return (1,)
    return (shape,) if isinstance(shape, int) else tuple(shape)


def uniform(low=0, high=1, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Samples from a uniform distribution on [low, high)."""
    ctx = ctx or (out.context if out is not None else current_context())
    return _internal._random_uniform(low=low, high=high, shape=_shape(out.shape if out is not None and shape is None else shape),
                                     dtype=dtype or "float32", ctx=ctx, out=out, **kwargs)


def normal(loc=0, scale=1, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Samples from a normal distribution with mean `loc` and standard deviation `scale`."""
    ctx = ctx or (out.context if out is not None else current_context())
    return _internal._random_normal(loc=loc, scale=scale, shape=_shape(out.shape if out is not None and shape is None else shape),
                                    dtype=dtype or "float32", ctx=ctx, out=out, **kwargs)


def randint(low, high, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Samples integers uniformly from [low, high)."""
    ctx = ctx or (out.context if out is not None else current_context())
    return _internal._random_randint(low=low, high=high, shape=_shape(out.shape if out is not None and shape is None else shape),
                                     dtype=dtype or "int32", ctx=ctx, out=out, **kwargs)
