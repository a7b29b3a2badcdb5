"""``mx.libinfo``: the version and where the native library is."""
import os

# The MXNet API this library implements (``mx.__version__`` is oxnet's own release), for code
# that checks which MXNet it runs on.
__version__ = "1.9.1"


def find_lib_path():
    """Paths of the native library oxnet loads (MXNet: ``libmxnet.so``)."""
    from . import _native
    path = os.path.abspath(_native.__file__)
    if not os.path.isfile(path):
        raise RuntimeError("Cannot find the oxnet native library (looked at %s)" % path)
    return [path]


def find_include_path():
    """oxnet has no C headers: its core is a Rust crate, used through Python."""
    raise RuntimeError("oxnet ships no C/C++ include directory; its core is the Rust crate "
                       "under rust/ and is used through the Python package")
