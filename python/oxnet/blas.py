"""The BLAS behind float32/float64 matrix products.

oxnet multiplies matrices with OpenBLAS from the ``scipy-openblas32`` wheel (a dependency:
the same OpenBLAS build numpy and SciPy ship), opened at import. Without it, or with
``OXNET_BLAS=builtin``, products use the ``gemm`` crate compiled into oxnet: correct, and
about two thirds of OpenBLAS's speed on small products here.
"""
import glob
import os
import re
import warnings

from . import _native

__all__ = ["library", "load"]


def _wheel_library():
    """(path, symbol prefix) of the scipy-openblas32 library, or None when not installed."""
    try:
        import scipy_openblas32 as wheel
    except ImportError:
        return None
    name = "lib" + wheel.get_library()
    found = [p for p in glob.glob(os.path.join(wheel.get_lib_dir(), name + ".*"))
             if p.endswith((".so", ".dylib", ".dll"))]
    if not found:
        return None
    m = re.search(r"-DBLAS_SYMBOL_PREFIX=(\S+)", wheel.get_pkg_config())
    return found[0], (m.group(1) if m else "")


def load():
    """Opens the wheel's OpenBLAS unless ``OXNET_BLAS=builtin``; returns :func:`library`."""
    if os.environ.get("OXNET_BLAS", "").lower() in ("builtin", "gemm"):
        return library()
    # oxnet calls it single-threaded; told so before it initialises, OpenBLAS starts no
    # thread pool of its own (that would spin beside the engine's threads). Importing the
    # wheel's module already opens the library.
    saved = os.environ.get("OPENBLAS_NUM_THREADS")
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        lib = _wheel_library()
        if lib is not None:
            _native._load_blas(*lib)
    except Exception as e:  # a broken install must not stop the import
        warnings.warn("oxnet: OpenBLAS not used (%s); products use the built-in gemm" % e)
    finally:
        if saved is None:
            del os.environ["OPENBLAS_NUM_THREADS"]
        else:
            os.environ["OPENBLAS_NUM_THREADS"] = saved
    return library()


def library():
    """Path of the BLAS library in use, or None for the built-in ``gemm`` crate."""
    return _native.blas_library()
