"""`mx.nd.random`: sampling into new arrays, seeded by `mx.random.seed`.

Numbers as parameters call the `_random_*` op (one distribution, `shape` draws); NDArrays call
the `_sample_*` op (one distribution per parameter element, output shape S + `shape`)."""
import numbers

import numpy as np

from ..context import current_context
from . import _internal

__all__ = ["uniform", "normal", "randn", "poisson", "exponential", "gamma", "multinomial",
           "negative_binomial", "generalized_negative_binomial", "shuffle", "randint"]


def _shape(shape):
    from .ndarray import _shape as checked
    return (1,) if shape is None else checked(shape)


def _is_float(a):
    return np.dtype(a.dtype).kind == "f"


def _helper(random, sampler, params, shape, dtype, ctx, out, kwargs):
    """Dispatches to `random` (numbers) or `sampler` (arrays). A number next to an array is
    broadcast to the array's shape (MXNet refuses the mix; accepting it loses nothing)."""
    from .ndarray import NDArray, full
    like = next((p for p in params if isinstance(p, NDArray)), None)
    if like is not None:
        pdt = like.dtype if _is_float(like) else "float32"
        params = [p if isinstance(p, NDArray) else full(like.shape, p, ctx=like.context, dtype=pdt)
                  for p in params]
        if shape is not None:
            kwargs["shape"] = _shape(shape)
        if dtype is not None:
            kwargs["dtype"] = dtype
        return sampler(*params, out=out, **kwargs)
    for p in params:
        if not isinstance(p, numbers.Number):
            raise ValueError("Distribution parameters must be either NDArray or numbers, but got %s."
                             % type(p))
    ctx = ctx or (out.context if out is not None else current_context())
    if shape is None and out is not None:
        shape = out.shape
    # An unset dtype lets the op take out='s (MXNet's rule), float32 otherwise.
    return random(*params, shape=_shape(shape), dtype=dtype or "None", ctx=ctx, out=out, **kwargs)


def uniform(low=0, high=1, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Samples from a uniform distribution on [low, high)."""
    return _helper(lambda lo, hi, **kw: _internal._random_uniform(low=lo, high=hi, **kw),
                   _internal._sample_uniform, [low, high], shape, dtype, ctx, out, kwargs)


def normal(loc=0, scale=1, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Samples from a normal distribution with mean `loc` and standard deviation `scale`."""
    return _helper(lambda mu, sd, **kw: _internal._random_normal(loc=mu, scale=sd, **kw),
                   _internal._sample_normal, [loc, scale], shape, dtype, ctx, out, kwargs)


def randn(*shape, **kwargs):
    """Samples from a normal distribution; the positional arguments are the output shape."""
    loc = kwargs.pop("loc", 0)
    scale = kwargs.pop("scale", 1)
    dtype = kwargs.pop("dtype", None)
    ctx = kwargs.pop("ctx", None)
    out = kwargs.pop("out", None)
    return normal(loc, scale, shape if shape else None, dtype, ctx, out, **kwargs)


def poisson(lam=1, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Samples from a Poisson distribution of rate `lam` (integer values, float dtype)."""
    return _helper(lambda l, **kw: _internal._random_poisson(lam=l, **kw),
                   _internal._sample_poisson, [lam], shape, dtype, ctx, out, kwargs)


def exponential(scale=1, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Samples from an exponential distribution of scale `scale` (rate 1/scale)."""
    from .ndarray import NDArray
    if isinstance(scale, NDArray) and not _is_float(scale):
        scale = scale.astype("float32")   # 1 / an integer array would divide as integers
    lam = 1.0 / scale
    return _helper(lambda l, **kw: _internal._random_exponential(lam=l, **kw),
                   _internal._sample_exponential, [lam], shape, dtype, ctx, out, kwargs)


def gamma(alpha=1, beta=1, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Samples from a gamma distribution of shape `alpha` and scale `beta`."""
    return _helper(lambda a, b, **kw: _internal._random_gamma(alpha=a, beta=b, **kw),
                   _internal._sample_gamma, [alpha, beta], shape, dtype, ctx, out, kwargs)


def negative_binomial(k=1, p=1, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Samples the failures before `k` successes, each trial succeeding with probability `p`."""
    return _helper(lambda kk, pp, **kw: _internal._random_negative_binomial(k=kk, p=pp, **kw),
                   _internal._sample_negative_binomial, [k, p], shape, dtype, ctx, out, kwargs)


def generalized_negative_binomial(mu=1, alpha=1, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Samples a negative binomial of mean `mu` and dispersion `alpha` (variance mu + alpha mu^2)."""
    return _helper(
        lambda m, a, **kw: _internal._random_generalized_negative_binomial(mu=m, alpha=a, **kw),
        _internal._sample_generalized_negative_binomial, [mu, alpha], shape, dtype, ctx, out, kwargs)


def multinomial(data, shape=None, get_prob=False, out=None, dtype="int32", **kwargs):
    """Draws category indices from the probability rows of `data` (last axis); with `get_prob`,
    also their log probabilities."""
    if shape is not None:
        kwargs["shape"] = _shape(shape)
    return _internal._sample_multinomial(data, get_prob=get_prob, out=out, dtype=dtype, **kwargs)


def shuffle(data, **kwargs):
    """A copy of `data` with its first axis randomly permuted."""
    return _internal._shuffle(data, **kwargs)


def randint(low, high, shape=None, dtype=None, ctx=None, out=None, **kwargs):
    """Samples integers uniformly from [low, high)."""
    ctx = ctx or (out.context if out is not None else current_context())
    return _internal._random_randint(low=low, high=high, shape=_shape(out.shape if out is not None and shape is None else shape),
                                     dtype=dtype or "None", ctx=ctx, out=out, **kwargs)


# MXNet generates `<dist>_like` here from the registry ops `_random_<dist>_like`.
_LIKE = ["uniform_like", "normal_like", "gamma_like", "exponential_like", "poisson_like",
         "negative_binomial_like", "generalized_negative_binomial_like"]
for _n in _LIKE:
    globals()[_n] = getattr(_internal, "_random_" + _n)
__all__ += _LIKE
