"""``mx.sym.sparse``: MXNet's sparse operator namespace for graphs.

oxnet keeps every array in dense memory (storage types are a property of NDArrays, see
``mx.nd.sparse``), so a graph built from these functions holds the same nodes as one built
from their dense namesakes and computes the values MXNet's sparse kernels compute. The node
names and ``-symbol.json`` output are MXNet's (``dot0``, op ``dot``).
"""
from . import op as _op
from . import register as _register

# MXNet 1.9.1's mx.sym.sparse functions that have a registry op of the same name.
_NAMES = (
    "ElementWiseSum", "Embedding", "FullyConnected", "LinearRegressionOutput",
    "LogisticRegressionOutput", "MAERegressionOutput", "abs", "adam_update", "add_n", "arccos",
    "arccosh", "arcsin", "arcsinh", "arctan", "arctanh", "broadcast_add", "broadcast_div",
    "broadcast_minus", "broadcast_mul", "broadcast_plus", "broadcast_sub", "cast_storage", "cbrt",
    "ceil", "clip", "concat", "cos", "cosh", "degrees", "dot", "elemwise_add", "elemwise_div",
    "elemwise_mul", "elemwise_sub", "exp", "expm1", "fix", "floor", "ftrl_update", "gamma",
    "gammaln", "log", "log10", "log1p", "log2", "make_loss", "mean", "negative", "norm",
    "radians", "relu", "rint", "round", "rsqrt", "sgd_mom_update", "sgd_update", "sigmoid",
    "sign", "sin", "sinh", "slice", "sqrt", "square", "stop_gradient", "sum", "tan", "tanh",
    "trunc", "where", "zeros_like",
)

__all__ = [_n for _n in _NAMES if hasattr(_op, _n)]
for _n in __all__:
    globals()[_n] = getattr(_op, _n)
del _n

# Registered under their `_sparse_` names only (MXNet has no dense AdaGrad op); the short
# name is the node names' hint, as in MXNet (`retain0`).
_PREFIXED = _register.make_namespace_functions("_sparse_")
adagrad_update = _PREFIXED["adagrad_update"]
retain = _PREFIXED["retain"]
__all__ += ["adagrad_update", "retain"]
