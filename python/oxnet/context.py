"""Device contexts: `mx.cpu(i)`, `mx.gpu(i)`, `mx.cpu_pinned(i)` and the default-context scope."""
import threading
import warnings

__all__ = ["Context", "cpu", "gpu", "cpu_pinned", "current_context", "num_gpus",
           "gpu_memory_info"]


def _get_default_ctx(_=None):
    warnings.warn("Context.default_ctx is deprecated (as in MXNet 1.x): use "
                  "mx.current_context()", DeprecationWarning, stacklevel=3)
    return current_context()


def _set_default_ctx(_, ctx):
    warnings.warn("Context.default_ctx is deprecated (as in MXNet 1.x): use `with ctx:`",
                  DeprecationWarning, stacklevel=3)
    Context._default.value = ctx


class _ContextType(type):
    # MXNet 1.x code reads and assigns `Context.default_ctx` on the class itself.
    default_ctx = property(_get_default_ctx, _set_default_ctx)


class Context(metaclass=_ContextType):
    """A device (type and id) where arrays live and ops run. Use as `with mx.cpu(1): ...`."""

    devtype2str = {1: "cpu", 2: "gpu", 3: "cpu_pinned", 5: "cpu_shared"}
    devstr2type = {"cpu": 1, "gpu": 2, "cpu_pinned": 3, "cpu_shared": 5}
    _default = threading.local()

    def __init__(self, device_type, device_id=0):
        if isinstance(device_type, Context):
            self.device_typeid = device_type.device_typeid
            self.device_id = device_type.device_id
        else:
            self.device_typeid = Context.devstr2type[device_type]
            self.device_id = int(device_id)
        self._old_ctx = None
        if self.device_typeid == 2:
            # Before the backend first opens CUDA: pip's libraries must be found by name.
            from . import cuda
            cuda.preload_libraries()

    default_ctx = property(_get_default_ctx, _set_default_ctx)

    @property
    def device_type(self):
        return Context.devtype2str[self.device_typeid]

    def __hash__(self):
        return hash((self.device_typeid, self.device_id))

    def __eq__(self, other):
        return (isinstance(other, Context) and self.device_typeid == other.device_typeid
                and self.device_id == other.device_id)

    def __ne__(self, other):
        return not self.__eq__(other)

    def __str__(self):
        return "%s(%d)" % (self.device_type, self.device_id)

    __repr__ = __str__

    def __enter__(self):
        self._old_ctx = current_context()
        Context._default.value = self
        return self

    def __exit__(self, ptype, value, trace):
        Context._default.value = self._old_ctx

    def empty_cache(self):
        """Returns a GPU's cached free memory to the driver (a no-op for cpu contexts)."""
        if self.device_typeid == 2:
            from . import _native
            _native.gpu_empty_cache(self.device_id)

    @classmethod
    def _from_tuple(cls, t):
        c = cls.__new__(cls)
        c.device_typeid, c.device_id = t
        c._old_ctx = None
        return c


def cpu(device_id=0):
    """A CPU context. Different ids are separate placements (arrays are copied between them)."""
    return Context("cpu", device_id)


def gpu(device_id=0):
    """A GPU context. Arrays on it need a CUDA driver and device (see `num_gpus`)."""
    return Context("gpu", device_id)


def cpu_pinned(device_id=0):
    """Host memory for transfers to GPUs (plain pooled host memory in oxnet)."""
    return Context("cpu_pinned", device_id)


def num_gpus():
    """Number of GPUs oxnet can use (0 without a CUDA driver or device)."""
    from . import cuda
    return cuda.num_gpus()


def gpu_memory_info(device_id=0):
    """(free, total) bytes of memory on gpu(device_id), as MXNet 1.9 returns them."""
    from . import _native, cuda
    cuda.preload_libraries()
    return _native.gpu_memory_info(device_id)


def current_context():
    """The default context of this thread (`cpu(0)` unless inside `with ctx:`)."""
    ctx = getattr(Context._default, "value", None)
    if ctx is None:
        ctx = Context("cpu", 0)
        Context._default.value = ctx
    return ctx
