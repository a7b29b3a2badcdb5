"""``mx.util``: GPU queries and environment variables, as in MXNet 1.x. oxnet implements the
MXNet 1.x NDArray semantics only; the NumPy-compatible mode (``mx.np``) is not part of it."""
import contextlib
import os

from .context import gpu_memory_info, num_gpus


def get_gpu_count():
    """Number of GPUs visible to oxnet."""
    return num_gpus()


def get_gpu_memory(gpu_dev_id):
    """(free, total) bytes of memory on gpu(gpu_dev_id)."""
    return gpu_memory_info(gpu_dev_id)


def get_cuda_compute_capability(ctx):
    """The compute capability of ``ctx``'s GPU as one number (70 for sm_70)."""
    if ctx.device_type != "gpu":
        raise ValueError("get_cuda_compute_capability: expects a gpu context, got %s" % (ctx,))
    from . import _native, cuda
    cuda.preload_libraries()
    major, minor = _native.gpu_compute_capability(ctx.device_id)
    return major * 10 + minor


def getenv(name):
    """The value of environment variable ``name``, or None."""
    return os.environ.get(name)


def setenv(name, value):
    """Sets (or, with None, removes) environment variable ``name``."""
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = str(value)


def is_np_array():
    """False: oxnet runs MXNet 1.x's NDArray semantics, not the ``mx.np`` mode."""
    return False


def is_np_shape():
    """False: shapes follow MXNet 1.x (0 means an unknown dimension)."""
    return False


def _np_mode_unsupported(*_args, **_kwargs):
    raise NotImplementedError("oxnet implements MXNet 1.x's NDArray API; the NumPy-compatible "
                              "mode (set_np, use_np, mx.np) is not available")


def _np_mode_decorator(func):
    """``@use_np`` (and its kin) on a function or class: a module holding one still imports;
    calling what it decorated raises, as the mode it asks for is not available."""
    import functools

    if isinstance(func, type):
        def refuse_init(self, *args, **kwargs):
            _np_mode_unsupported()
        func.__init__ = refuse_init
        return func

    @functools.wraps(func)
    def refuse(*args, **kwargs):
        _np_mode_unsupported()
    return refuse


use_np = use_np_array = use_np_shape = _np_mode_decorator


def set_np_shape(active):
    """Returns the previous state (always False); only turning the mode off is possible."""
    if active:
        _np_mode_unsupported()
    return False


def set_np(shape=True, array=True, dtype=False):
    """Only ``set_np(False, False)``, which leaves MXNet 1.x semantics on, is possible."""
    if shape or array or dtype:
        _np_mode_unsupported()


@contextlib.contextmanager
def np_shape(active=True):
    """``with np_shape(False):`` (legacy shapes, as always here) runs its block; True raises."""
    if active:
        _np_mode_unsupported()
    yield


@contextlib.contextmanager
def np_array(active=True):
    """``with np_array(False):`` runs its block; True raises, as ``np_shape`` does."""
    if active:
        _np_mode_unsupported()
    yield


def reset_np():
    """Nothing to reset: the NumPy-compatible mode is never on."""
