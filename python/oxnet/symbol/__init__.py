"""``mx.sym`` / ``mx.symbol``: symbolic graphs and the operator functions generated from the
registry."""
import sys as _sys
import types as _types

from . import register as _register
from .symbol import (  # noqa: F401
    Symbol, var, Variable, Group, load, load_json, zeros, ones, eye, full, arange, linspace, pow,
    power, maximum, minimum, hypot, split_v2, histogram, _install_fluent,
)

_internal = _types.ModuleType("oxnet.symbol._internal", "Every registry op, including internal ones.")
op = _types.ModuleType("oxnet.symbol.op", "Every registry op.")
linalg = _types.ModuleType("oxnet.symbol.linalg", "Registry ops named _linalg_<name>, as <name>.")
_sys.modules[linalg.__name__] = linalg
image = _types.ModuleType("oxnet.symbol.image", "Registry ops named _image_<name>, as <name>.")
_sys.modules[image.__name__] = image
_sys.modules[_internal.__name__] = _internal
_sys.modules[op.__name__] = op
_ops = _register.make_op_functions()
_reserved = set(globals())
for _name, _f in _ops.items():
    setattr(_internal, _name, _f)
    setattr(op, _name, _f)
    if not _name.startswith("_") and _name not in _reserved:
        globals()[_name] = _f
_install_fluent(_ops)
del _reserved
from . import symbol  # noqa: E402,F401
from . import random  # noqa: E402,F401
from . import contrib  # noqa: E402
from . import sparse  # noqa: E402,F401
for _name, _f in _register.make_namespace_functions("_contrib_").items():
    setattr(contrib, _name, _f)
for _name, _f in _register.make_namespace_functions("_linalg_").items():
    setattr(linalg, _name, _f)
for _name, _f in _register.make_namespace_functions("_image_").items():
    setattr(image, _name, _f)
del _name, _f
