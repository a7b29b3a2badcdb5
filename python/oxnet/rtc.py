"""``mx.rtc``: MXNet's run-time CUDA compilation (``CudaModule``, ``CudaKernel``).

oxnet compiles its own kernels with NVRTC but does not expose compiling and launching user
CUDA source, so these classes only report why they cannot be used: no GPU (MXNetError, as a
CPU build of MXNet raises) or no run-time compilation API in oxnet (NotImplementedError).
"""
from .base import MXNetError

__all__ = ["CudaModule", "CudaKernel"]


def _unavailable(what):
    from .context import num_gpus
    if num_gpus() == 0:
        raise MXNetError("%s: no CUDA GPU is available (mx.context.num_gpus() == 0); run-time "
                         "CUDA compilation needs one." % what)
    raise NotImplementedError("%s: oxnet does not support run-time compilation of user CUDA "
                              "source; write the operator with mx.operator.CustomOp instead."
                              % what)


class CudaModule(object):
    """CUDA source compiled at run time (MXNet's ``mx.rtc.CudaModule(source, options,
    exports)``); always raises in oxnet (see the module docstring)."""

    def __init__(self, source, options=(), exports=()):
        _unavailable("mx.rtc.CudaModule")


class CudaKernel(object):
    """A kernel of a ``CudaModule`` (MXNet builds these in ``CudaModule.get_kernel``);
    always raises in oxnet."""

    def __init__(self, handle, name, is_ndarray, dtypes):
        _unavailable("mx.rtc.CudaKernel")
