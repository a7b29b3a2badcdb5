"""``mx.library.load``: MXNet's loader for C++ extension libraries (custom operators,
partitioners and graph passes compiled against MXNet's C ABI, ``lib_api.h``).

oxnet's operators live in its Rust core and it has no such ABI, so no extension library can
be loaded. ``load`` still checks the path first, as MXNet does, so a script gets the same
error for a wrong path as under MXNet.
"""
import os

from .base import MXNetError

__all__ = ["load"]


def load(path, verbose=True):
    """Raises MXNetError: MXNet's path errors for a bad ``path``, otherwise an error saying
    oxnet cannot load MXNet C++ extension libraries. ``verbose`` is accepted for MXNet's
    signature."""
    if not os.path.exists(path):
        raise MXNetError("load path %s does NOT exist" % path)
    if not os.path.isabs(path):
        raise MXNetError("load path %s is not an absolute path" % path)
    if os.path.splitext(path)[1] not in (".so", ".dll"):
        raise MXNetError("load path %s is NOT a library file" % path)
    raise MXNetError("mx.library.load(path=%r): oxnet cannot load MXNet C++ extension "
                     "libraries (built against MXNet's C ABI, lib_api.h); its operators are "
                     "implemented in oxnet's Rust core. Port the extension's operators to "
                     "Python with mx.operator.CustomOp instead." % path)
