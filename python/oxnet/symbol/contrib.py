"""`mx.sym.contrib`: the registry's `_contrib_<name>` ops as `<name>` (added by the package
``__init__``), and MXNet's Python-level `rand_zipfian` and AdamW updates."""
import math

from . import _internal
from .random import uniform
from .symbol import Symbol, full

__all__ = ["rand_zipfian", "adamw_update", "mp_adamw_update"]


def rand_zipfian(true_classes, num_sampled, range_max):
    """Symbolic form of `mx.nd.contrib.rand_zipfian`: (sampled int64 classes, expected count of
    each true class, expected count of each sampled class)."""
    log_range = math.log(range_max + 1)
    rand = uniform(0, log_range, shape=(num_sampled,), dtype="float64")
    sampled = _internal.Cast(_internal.exp(rand) - 1, dtype="int64") % range_max
    true_cls = _internal.Cast(true_classes, dtype="float64")
    count_true = _internal.log((true_cls + 2.0) / (true_cls + 1.0)) / log_range * num_sampled
    sampled_f = _internal.Cast(sampled, dtype="float64")
    count_sampled = _internal.log((sampled_f + 2.0) / (sampled_f + 1.0)) / log_range * num_sampled
    return sampled, count_true, count_sampled


def _rescale_symbol(rescale_grad):
    return rescale_grad if isinstance(rescale_grad, Symbol) else full((1,), rescale_grad)


def adamw_update(weight, grad, mean, var, rescale_grad, lr, eta, beta1=0.9, beta2=0.999,
                 epsilon=1e-8, wd=0, clip_gradient=-1, name=None, **kwargs):
    """Symbolic `mx.nd.contrib.adamw_update`: `rescale_grad` a number or a symbol."""
    return _internal._adamw_update(weight, grad, mean, var, _rescale_symbol(rescale_grad),
                                   lr=lr, eta=eta, beta1=beta1, beta2=beta2, epsilon=epsilon,
                                   wd=wd, clip_gradient=clip_gradient, name=name, **kwargs)


def mp_adamw_update(weight, grad, mean, var, weight32, rescale_grad, lr, eta, beta1=0.9,
                    beta2=0.999, epsilon=1e-8, wd=0, clip_gradient=-1, name=None, **kwargs):
    """Symbolic `mx.nd.contrib.mp_adamw_update`: `rescale_grad` a number or a symbol."""
    return _internal._mp_adamw_update(weight, grad, mean, var, weight32,
                                      _rescale_symbol(rescale_grad), lr=lr, eta=eta, beta1=beta1,
                                      beta2=beta2, epsilon=epsilon, wd=wd,
                                      clip_gradient=clip_gradient, name=name, **kwargs)
