"""`mx.sym.random`: the sampling functions of `mx.nd.random` as graph nodes. Numbers as
parameters make a `_random_*` node; Symbols make a `_sample_*` node."""
import numbers

from . import _internal
from . import register as _register
from .symbol import Symbol

__all__ = ["uniform", "normal", "randn", "poisson", "exponential", "gamma", "multinomial",
           "negative_binomial", "generalized_negative_binomial", "shuffle", "randint"]


def _shape(shape):
    return (shape,) if isinstance(shape, int) else tuple(shape)


def _helper(random, sampler, params, shape, dtype, kwargs):
    """Dispatches to `sampler` when the parameters are Symbols, `random` when numbers."""
    if shape is not None:
        kwargs["shape"] = _shape(shape)
    if dtype is not None:
        kwargs["dtype"] = dtype
    if isinstance(params[0], Symbol):
        for p in params[1:]:
            if not isinstance(p, Symbol):
                raise ValueError("Distribution parameters must all have the same type, but got "
                                 "both %s and %s." % (type(params[0]), type(p)))
        return sampler(*params, **kwargs)
    for p in params:
        if not isinstance(p, numbers.Number):
            raise ValueError("Distribution parameters must be either Symbol or numbers, but got %s."
                             % type(p))
    return random(*params, **kwargs)


def uniform(low=0, high=1, shape=None, dtype=None, **kwargs):
    """Samples from a uniform distribution on [low, high)."""
    return _helper(lambda lo, hi, **kw: _internal._random_uniform(low=lo, high=hi, **kw),
                   _internal._sample_uniform, [low, high], shape, dtype, kwargs)


def normal(loc=0, scale=1, shape=None, dtype=None, **kwargs):
    """Samples from a normal distribution with mean `loc` and standard deviation `scale`."""
    return _helper(lambda mu, sd, **kw: _internal._random_normal(loc=mu, scale=sd, **kw),
                   _internal._sample_normal, [loc, scale], shape, dtype, kwargs)


def randn(*shape, **kwargs):
    """Samples from a normal distribution; the positional arguments are the output shape."""
    loc = kwargs.pop("loc", 0)
    scale = kwargs.pop("scale", 1)
    dtype = kwargs.pop("dtype", None)
    return normal(loc, scale, shape, dtype, **kwargs)


def poisson(lam=1, shape=None, dtype=None, **kwargs):
    """Samples from a Poisson distribution of rate `lam`."""
    return _helper(lambda l, **kw: _internal._random_poisson(lam=l, **kw),
                   _internal._sample_poisson, [lam], shape, dtype, kwargs)


def exponential(scale=1, shape=None, dtype=None, **kwargs):
    """Samples from an exponential distribution of scale `scale` (rate 1/scale)."""
    return _helper(lambda l, **kw: _internal._random_exponential(lam=l, **kw),
                   _internal._sample_exponential, [1.0 / scale], shape, dtype, kwargs)


def gamma(alpha=1, beta=1, shape=None, dtype=None, **kwargs):
    """Samples from a gamma distribution of shape `alpha` and scale `beta`."""
    return _helper(lambda a, b, **kw: _internal._random_gamma(alpha=a, beta=b, **kw),
                   _internal._sample_gamma, [alpha, beta], shape, dtype, kwargs)


def negative_binomial(k=1, p=1, shape=None, dtype=None, **kwargs):
    """Samples from a negative binomial distribution (failure limit `k`, probability `p`)."""
    return _helper(lambda kk, pp, **kw: _internal._random_negative_binomial(k=kk, p=pp, **kw),
                   _internal._sample_negative_binomial, [k, p], shape, dtype, kwargs)


def generalized_negative_binomial(mu=1, alpha=1, shape=None, dtype=None, **kwargs):
    """Samples a negative binomial of mean `mu` and dispersion `alpha`."""
    return _helper(
        lambda m, a, **kw: _internal._random_generalized_negative_binomial(mu=m, alpha=a, **kw),
        _internal._sample_generalized_negative_binomial, [mu, alpha], shape, dtype, kwargs)


def multinomial(data, shape=None, get_prob=True, dtype="int32", **kwargs):
    """Draws category indices from the probability rows of `data`; with `get_prob`, also their
    log probabilities. Unlike `mx.nd.random.multinomial`, `get_prob` defaults to True: MXNet's
    symbol has both outputs unless told otherwise."""
    if shape is not None:
        kwargs["shape"] = _shape(shape)
    return _internal._sample_multinomial(data, get_prob=get_prob, dtype=dtype, **kwargs)


def shuffle(data, **kwargs):
    """`data` with its first axis randomly permuted."""
    return _internal._shuffle(data, **kwargs)


def randint(low, high, shape=None, dtype=None, **kwargs):
    """Samples integers uniformly from [low, high)."""
    if shape is not None:  # else unknown, as MXNet: the consumers give it
        kwargs["shape"] = _shape(shape)
    return _internal._random_randint(low=low, high=high, dtype=dtype or "int32", **kwargs)


# MXNet generates `<dist>_like` here from the registry ops `_random_<dist>_like`.
_LIKE = ["uniform_like", "normal_like", "gamma_like", "exponential_like", "poisson_like",
         "negative_binomial_like", "generalized_negative_binomial_like"]
_GENERATED = _register.make_namespace_functions("_random_")
for _n in _LIKE:
    globals()[_n] = _GENERATED[_n]
__all__ += _LIKE
