"""`mx.random`: seeding and the sampling functions of `mx.nd.random`."""
import numbers

from . import _native
from .context import Context
from .ndarray.random import (  # noqa: F401
    uniform, normal, randn, randint, poisson, exponential, gamma, negative_binomial,
    generalized_negative_binomial, multinomial, shuffle,
)


def seed(seed_state, ctx="all"):
    """Seeds the generators of every context (`ctx='all'`) or of one context."""
    if not isinstance(seed_state, numbers.Integral):  # numpy's integers too, as MXNet's
        raise ValueError("seed_state must be an int, got %r" % (seed_state,))
    seed_state = int(seed_state) & ((1 << 64) - 1)
    if ctx == "all":
        _native.seed(seed_state)
    else:
        ctx = Context(ctx)
        _native.seed(seed_state, ctx.device_typeid, ctx.device_id)
