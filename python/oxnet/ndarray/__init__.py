"""`mx.nd`: NDArray, the operator functions generated from the registry, files, random."""
import sys as _sys
import types as _types

from . import register as _register
from . import lazy_update as _lazy_update

_internal = _types.ModuleType("oxnet.ndarray._internal", "Every registry op, including internal ones.")
op = _types.ModuleType("oxnet.ndarray.op", "Every registry op.")
linalg = _types.ModuleType("oxnet.ndarray.linalg", "Registry ops named _linalg_<name>, as <name>.")
_sys.modules[linalg.__name__] = linalg
image = _types.ModuleType("oxnet.ndarray.image", "Registry ops named _image_<name>, as <name>.")
_sys.modules[image.__name__] = image
_sys.modules[_internal.__name__] = _internal
_sys.modules[op.__name__] = op
_contrib_ops = {}
_funcs = _register.make_op_functions()
for _name, _states in _lazy_update.LAZY_OPS.items():
    _funcs[_name] = _lazy_update.lazy_rows(_funcs[_name], _states,
                                           _name in _lazy_update.SPARSE_WEIGHT_ONLY)
for _name, _f in _funcs.items():
    setattr(_internal, _name, _f)
    setattr(op, _name, _f)
    if _name.startswith("_contrib_"):
        _contrib_ops[_name[len("_contrib_"):]] = _f
    if _name.startswith("_linalg_"):
        setattr(linalg, _name[len("_linalg_"):], _f)
    if _name.startswith("_image_"):
        setattr(image, _name[len("_image_"):], _f)
    if not _name.startswith("_"):
        globals()[_name] = _f

from .ndarray import (  # noqa: E402
    NDArray, array, empty, zeros, ones, full, arange, eye, zeros_like, ones_like, concatenate,
    waitall, from_dlpack, from_numpy, to_dlpack_for_read, to_dlpack_for_write, moveaxis, maximum,
    minimum, power, equal, not_equal, greater, greater_equal, lesser, lesser_equal, add, subtract,
    multiply, divide, modulo, true_divide, onehot_encode, linspace, logical_and, logical_or,
    logical_xor, cast_storage, histogram, split_v2, imdecode,
)
from .utils import save, load, load_frombuffer  # noqa: E402
from .cached_op import CachedOp  # noqa: E402
from . import random  # noqa: E402
from . import contrib  # noqa: E402
from . import sparse  # noqa: E402
dot = op.dot = sparse.dot  # forward_stype and MXNet's output storage types
for _name, _f in _contrib_ops.items():
    setattr(contrib, _name, _f)
del _contrib_ops, _funcs
from . import ndarray  # noqa: E402,F401
