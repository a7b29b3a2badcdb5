"""Optimizer states files (`.states`) in MXNet 1.x's pickle format, both ways.

MXNet pickles an NDArray as ``mxnet.ndarray.ndarray.NDArray(None)`` plus ``{'handle': <one
array record of the .params format>}``. oxnet writes its arrays the same way, and its
optimizers and schedulers under MXNet's class paths (their attributes are MXNet's), so MXNet
1.x reads the states oxnet saves; MXNet's (and oxnet's own) come back through the same path.
"""
import importlib
import io
import pickle
import struct

from . import _native
from . import ndarray as nd
from .ndarray import NDArray
from .ndarray.utils import _STYPE_CODES

_MX_MODULE, _MX_NAME = "mxnet.ndarray.ndarray", "NDArray"
# The list header and the trailing names count around one unnamed record in a .params file.
_HEADER = struct.pack("<QQQ", 0x112, 0, 1)
_NO_NAMES = struct.pack("<Q", 0)


class _MXNetPickledArray(object):
    """Stands in for ``mxnet.ndarray.NDArray`` both ways: unpickled from a record, and what an
    oxnet NDArray is pickled as."""

    def __init__(self, *args):
        self.raw = None

    def __setstate__(self, state):
        self.raw = state.get("handle") if isinstance(state, dict) else None
        if not isinstance(self.raw, (bytes, bytearray)):
            raise pickle.UnpicklingError("an MXNet NDArray in the states holds no array bytes")

    def to_ndarray(self):
        return nd.load_frombuffer(_HEADER + bytes(self.raw) + _NO_NAMES)[0]


def _record(arr):
    codes = None if arr.stype == "default" else [_STYPE_CODES[arr.stype]]
    buf = _native.save_bytes([arr], None, codes)
    # A bytearray, as MXNet's: its __setstate__ needs a writable buffer.
    return bytearray(memoryview(buf)[len(_HEADER):len(buf) - len(_NO_NAMES)])


def _oxnet_class(module, name):
    """oxnet's class for MXNet's ``module.name``: MXNet's packages are oxnet's modules
    (``mxnet.optimizer.optimizer.Adam`` is ``oxnet.optimizer.Adam``), so the deepest module
    of oxnet along that path that has the name."""
    parts = ["oxnet"] + module.split(".")[1:]
    for k in range(len(parts), 0, -1):
        try:
            mod = importlib.import_module(".".join(parts[:k]))
        except ImportError:
            continue
        if hasattr(mod, name):
            return getattr(mod, name)
    raise pickle.UnpicklingError("the states refer to MXNet's %s.%s, which oxnet does not have"
                                 % (module, name))


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module.split(".")[0] == "mxnet":
            if name == _MX_NAME:
                return _MXNetPickledArray
            # An optimizer pickled by MXNet (dump_optimizer=True), with its scheduler.
            return _oxnet_class(module, name)
        return super().find_class(module, name)


class _Pickler(pickle._Pickler):  # the Python pickler: its save_global can be overridden
    def reducer_override(self, obj):
        if isinstance(obj, NDArray):
            return _MXNetPickledArray, (None,), {"handle": _record(obj)}
        return NotImplemented

    def save_global(self, obj, name=None):
        target = _mxnet_name(obj)
        if target is None:
            return super().save_global(obj, name)
        # Written by name: mxnet need not be importable here.
        module, name = target
        if self.proto >= 4:
            self.save(module)
            self.save(name)
            self.write(pickle.STACK_GLOBAL)
        else:
            self.write(pickle.GLOBAL + ("%s\n%s\n" % (module, name)).encode())
        self.memoize(obj)


# Where MXNet 1.x keeps the classes oxnet defines in these modules (same attributes).
_MX_HOMES = {"oxnet.optimizer": "mxnet.optimizer.optimizer",
             "oxnet.optimizer_extra": "mxnet.optimizer.optimizer",
             "oxnet.lr_scheduler": "mxnet.lr_scheduler"}
_MX_CONTRIB = {"GroupAdaGrad": "mxnet.optimizer.contrib"}


def _mxnet_name(obj):
    if obj is _MXNetPickledArray:
        return _MX_MODULE, _MX_NAME
    home = _MX_HOMES.get(getattr(obj, "__module__", None)) if isinstance(obj, type) else None
    if home is None:
        return None
    return _MX_CONTRIB.get(obj.__name__, home), obj.__name__


def _arrays_back(obj):
    from .optimizer import Optimizer  # noqa: PLC0415 - optimizer imports this module
    if isinstance(obj, _MXNetPickledArray):
        return obj.to_ndarray()
    if isinstance(obj, dict):
        return {k: _arrays_back(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        out = [_arrays_back(v) for v in obj]
        return tuple(out) if isinstance(obj, tuple) else out
    if isinstance(obj, Optimizer):
        obj.__dict__.update(_arrays_back(obj.__dict__))
    return obj


def dumps(obj):
    """``pickle.dumps(obj)`` with every NDArray in MXNet's form."""
    f = io.BytesIO()
    _Pickler(f, protocol=pickle.DEFAULT_PROTOCOL).dump(obj)
    return f.getvalue()


def loads(data):
    """What ``dumps`` (or MXNet's ``get_states``) wrote, arrays as oxnet NDArrays."""
    return _arrays_back(_Unpickler(io.BytesIO(data)).load())
