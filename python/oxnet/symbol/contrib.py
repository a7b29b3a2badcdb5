"""`mx.sym.contrib`: the registry's `_contrib_<name>` ops as `<name>` (added by the package
``__init__``), and MXNet's Python-level `rand_zipfian`."""
import math

from . import _internal
from .random import uniform

__all__ = ["rand_zipfian"]


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
