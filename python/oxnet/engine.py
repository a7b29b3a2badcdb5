"""``mx.engine``: bulk execution of imperative operators. Within a bulk, the small ops a thread
issues are handed to the engine in segments rather than one by one, which saves a scheduling
round per op; a segment is pushed when full and before anything waits on a result."""
import contextlib

from . import _native


def set_bulk_size(size):
    """Sets how many ops this thread's imperative calls bundle per segment (0 or 1: off) and
    returns the previous size."""
    size = int(size)
    if size < 0:
        raise ValueError("engine.set_bulk_size: size must be >= 0, got %d" % size)
    return _native.engine_set_bulk_size(size)


@contextlib.contextmanager
def bulk(size):
    """``with mx.engine.bulk(size):`` bundles the ops issued inside into segments of ``size``."""
    prev = set_bulk_size(size)
    try:
        yield
    finally:
        set_bulk_size(prev)
