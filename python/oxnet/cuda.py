"""CUDA libraries and kernels.

oxnet opens the CUDA driver, NVRTC and cuBLAS at run time (nothing CUDA is linked into the
wheel). The NVRTC and cuBLAS libraries that pip installs (``nvidia-cuda-nvrtc``,
``nvidia-cublas``) live in ``site-packages/nvidia/*/lib``, a folder the dynamic loader does not
search; :func:`preload_libraries` opens them first so the backend finds them by name.
"""
import ctypes
import glob
import os
import sys
import threading

__all__ = ["preload_libraries", "library_dirs", "compile_all", "num_gpus"]

# Load order matters: each library's dependencies first.
_LIBS = ("libnvrtc-builtins.so*", "libnvrtc.so*", "libcublasLt.so*", "libcublas.so*")
_lock = threading.Lock()
_loaded = None


def library_dirs():
    """The ``nvidia/*/lib`` folders of pip's CUDA packages on ``sys.path``."""
    dirs = []
    for root in sys.path:
        base = os.path.join(root or ".", "nvidia")
        if os.path.isdir(base):
            dirs.extend(sorted(glob.glob(os.path.join(base, "*", "lib"))))
    return dirs


def preload_libraries():
    """Opens pip's CUDA libraries (once) so the backend can use them; returns their paths."""
    global _loaded
    with _lock:
        if _loaded is not None:
            return list(_loaded)
        _loaded = []
        dirs = library_dirs()
        for pattern in _LIBS:
            for d in dirs:
                # The newest version of each library in the first folder that has it.
                found = sorted(glob.glob(os.path.join(d, pattern)), reverse=True)
                if not found:
                    continue
                try:
                    ctypes.CDLL(found[0], mode=ctypes.RTLD_GLOBAL)
                    _loaded.append(found[0])
                except OSError:
                    continue
                break
        return list(_loaded)


def num_gpus():
    """Number of CUDA devices oxnet can use (0 without a driver)."""
    from . import _native
    preload_libraries()
    return _native.num_gpus()


def compile_all(arch="compute_90"):
    """Compiles every kernel module for ``arch`` with NVRTC (no GPU needed).

    Returns a list of ``(module, ptx_text or None, nvrtc_log or None)``.
    """
    from . import _native
    preload_libraries()
    return _native.cuda_compile_all(arch)
