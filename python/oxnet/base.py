"""Shared definitions: the error type, numeric type tuples, engine settings checks."""
import os
import platform
import numbers

import numpy as np

# mimalloc, the native allocator, hands freed memory back to the system by decommitting it,
# so a network's large temporaries (convolution columns, ...) fault back in, zeroed, at every
# step: a fifth of DenseNet-121's training step. Purging by reset instead keeps the pages
# mapped for reuse while the kernel may still reclaim them under memory pressure. Read when
# the allocator first purges, so it is set before the library loads and left set.
os.environ.setdefault("MIMALLOC_PURGE_DECOMMITS", "0")

from . import _native  # noqa: E402

MXNetError = _native.MXNetError
MXNetError.__module__ = "oxnet.base"
# What the core cannot do (an op without a gradient...): MXNet raises MXNetError there, code
# written for oxnet may catch NotImplementedError; this class is both.
MXNetNotImplementedError = _native.MXNetNotImplementedError

# Error classes by name (MXNet's ``mx.base.error_types``). The Rust core raises Python's
# ValueError, TypeError, IndexError, ... directly (by error kind, not by parsing a
# "ValueError: ..." message prefix), so this table only serves code that registers or looks
# up classes by name; ``oxnet.error`` registers MXNet's entries.
error_types = {}


def register_error(func_name=None, cls=None):
    """Registers an error class under a name; usable as ``@register_error``,
    ``@register_error("Name")`` or ``register_error("Name", cls)``. Returns the class (or,
    without ``cls``, a decorator)."""
    if callable(func_name):
        cls, func_name = func_name, None

    def register(mycls):
        error_types[func_name if isinstance(func_name, str) else mycls.__name__] = mycls
        return mycls

    return register if cls is None else register(cls)


class ValueAssertionError(ValueError, AssertionError):
    """A bad argument MXNet 1.9.1 rejects with ``assert``: a ValueError here, and an
    AssertionError too, so that code written against MXNet still catches it."""


class TypeAssertionError(TypeError, AssertionError):
    """An argument of the wrong type that MXNet 1.9.1 rejects with ``assert``: a TypeError
    here, and an AssertionError too."""


class NotImplementedForSymbol(MXNetError):
    """An NDArray-only operation (``asnumpy``, ``bool()``...) attempted on a Symbol."""

    def __init__(self, function, alias=None, *args):
        super().__init__()
        self.function = getattr(function, "__name__", str(function))
        self.alias = alias
        self.args = [str(type(a)) for a in args]

    def __str__(self):
        what = self.function + (' (operator "%s")' % self.alias if self.alias else "")
        if self.args:
            what += " with arguments (%s)" % ", ".join(self.args)
        return "%s works on NDArray only; a Symbol has no value until it is bound and run" % what


numeric_types = (float, int, np.generic, numbers.Number)
integer_types = (int, np.integer)
string_types = (str,)
# MXNet's default real type (``mx.base.mx_real_t``).
mx_real_t = np.float32

# numpy has no bfloat16: MXNet stands in this structured type for it (`NDArray.dtype`,
# `asnumpy()`), and so does oxnet.
bfloat16 = np.dtype([("bfloat16", np.uint16)])


def _as_np_dtype(dtype):
    """`np.dtype(dtype)`, reading the name 'bfloat16' as MXNet's stand-in."""
    return bfloat16 if isinstance(dtype, str) and dtype == "bfloat16" else np.dtype(dtype)


def _np_dtype_name(dtype):
    """MXNet's name of a dtype: numpy's, but 'bfloat16' for the stand-in."""
    d = _as_np_dtype(dtype)
    return "bfloat16" if d == bfloat16 else d.name

_ENGINES = ("NaiveEngine", "ThreadedEngine", "ThreadedEnginePerDevice", "ThreadedEnginePooled")
_engine = os.environ.get("MXNET_ENGINE_TYPE")
if _engine is not None and _engine not in _ENGINES:
    raise MXNetError("Cannot find Engine %s: MXNET_ENGINE_TYPE must be one of %s" % (_engine, ", ".join(_ENGINES)))

_native._set_package_dir(os.path.dirname(os.path.abspath(__file__)))


def _drain_before_fork():
    _native._before_fork()


os.register_at_fork(before=_drain_before_fork, after_in_child=_native._after_fork_child)


def py_str(x):
    return x.decode("utf-8") if isinstance(x, bytes) else x


def data_dir_default():
    """MXNet's default folder for downloaded data and models: ~/.mxnet (%APPDATA%/mxnet on
    Windows)."""
    if platform.system() == "Windows":
        return os.path.join(os.environ.get("APPDATA", os.path.expanduser("~")), "mxnet")
    return os.path.join(os.path.expanduser("~"), ".mxnet")


def data_dir():
    """`$MXNET_HOME`, else `data_dir_default()`."""
    return os.getenv("MXNET_HOME", data_dir_default())


def _as_list(obj):
    """`obj` itself when it is a list or tuple, else `[obj]` (MXNet's helper, which its own
    tests and user code import from here)."""
    return obj if isinstance(obj, (list, tuple)) else [obj]


class _NullType:
    """Placeholder for arguments not given (MXNet's `_Null`)."""

    def __repr__(self):
        return "_Null"


_Null = _NullType()
