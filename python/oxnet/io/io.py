"""``mxnet.io.io``, where MXNet 1.x defines its Python iterators (code importing them from
there finds the same classes as ``mx.io``)."""
from .base import DataDesc, DataBatch, DataIter, ResizeIter, PrefetchingIter
from .base import _NativeIter as MXDataIter
from .ndarray_iter import NDArrayIter

__all__ = ["DataDesc", "DataBatch", "DataIter", "MXDataIter", "ResizeIter", "PrefetchingIter",
           "NDArrayIter"]
