"""mx.io: data iterators with MXNet 1.x's API (pure Python over numpy and mx.nd).

`NDArrayIter`, `ResizeIter`, `PrefetchingIter` follow python/mxnet/io/io.py; `CSVIter`,
`MNISTIter`, `ImageRecordIter` and `ImageDetRecordIter` reimplement MXNet's C++ iterators
(src/io) in Python, with image decoding in a thread pool (libjpeg-turbo and the native resizes
release the GIL); `MXDataIter` is their common base, as in MXNet.
"""
from .base import DataDesc, DataBatch, DataIter, ResizeIter, PrefetchingIter
from .base import _NativeIter as MXDataIter
from .ndarray_iter import NDArrayIter
from .file_iters import CSVIter, MNISTIter
from .image_record_iter import ImageRecordIter, ImageRecordInt8Iter, ImageRecordUInt8Iter
from .image_det_record_iter import ImageDetRecordIter
from .libsvm_iter import LibSVMIter
from . import io  # noqa: F401 (mx.io.io, where MXNet defines these classes)
from . import utils  # noqa: F401
from .utils import _init_data, _getdata_by_idx, _has_instance  # noqa: F401 (as MXNet exports them)

# MXNet 1.x kept its first C++ record iterators under these names; same parameters.
ImageRecordIter_v1 = ImageRecordIter
ImageRecordUInt8Iter_v1 = ImageRecordUInt8Iter

__all__ = ["DataDesc", "DataBatch", "DataIter", "MXDataIter", "ResizeIter", "PrefetchingIter", "NDArrayIter",
           "CSVIter", "MNISTIter", "LibSVMIter", "ImageRecordIter", "ImageRecordUInt8Iter",
           "ImageRecordInt8Iter", "ImageDetRecordIter", "ImageRecordIter_v1",
           "ImageRecordUInt8Iter_v1"]
