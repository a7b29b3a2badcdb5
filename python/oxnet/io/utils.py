"""The helpers MXNet 1.x keeps in ``mxnet.io.utils`` (example programs call them as
``mx.io._init_data``): named data sources for iterators."""
from collections import OrderedDict

import numpy as np

from .. import ndarray as nd
from ..ndarray import NDArray


def _init_data(data, allow_empty, default_name, arg="data"):
    """[(name, NDArray)] sorted by name, as MXNet orders sources (a plain string sort)."""
    if data is None:
        if not allow_empty:
            raise ValueError("NDArrayIter: %s must not be None" % arg)
        data = []
    if isinstance(data, (np.ndarray, NDArray)):
        data = [data]
    if isinstance(data, (list, tuple)):
        if not allow_empty and not data:
            raise ValueError("NDArrayIter: %s must not be empty" % arg)
        if len(data) == 1:
            data = OrderedDict([(default_name, data[0])])
        else:
            data = OrderedDict([("_%d_%s" % (i, default_name), d) for i, d in enumerate(data)])
    if not isinstance(data, dict):
        raise TypeError("NDArrayIter: %s must be NDArray, numpy.ndarray or a list or dict of them, "
                        "got %s" % (arg, type(data).__name__))
    out = []
    for k, v in data.items():
        if not isinstance(v, NDArray):
            try:
                v = nd.array(v)  # numpy of any dtype becomes float32, as in MXNet
            except Exception as e:
                raise TypeError("NDArrayIter: invalid type %s for %s '%s', should be NDArray or "
                                "numpy.ndarray" % (type(v).__name__, arg, k)) from e
        if v.ndim == 0:
            raise ValueError("NDArrayIter: %s '%s' must have a batch axis, got a scalar" % (arg, k))
        out.append((k, v))
    return sorted(out, key=lambda kv: kv[0])


def _has_instance(data, dtype):
    """Whether any array of ``[(name, array)]`` is a ``dtype`` (``CSRNDArray``...)."""
    return any(isinstance(arr, dtype) for _, arr in data)


def _getdata_by_idx(data, idx, axis_of=None):
    """``[(name, array)]`` with each array's rows (its samples along ``axis_of(array)``) taken
    in ``idx`` order (storage type kept: shuffled csr rows are csr)."""
    def rows(v):
        axis = axis_of(v) if axis_of is not None else 0
        out = nd.array(np.take(v.asnumpy(), idx, axis=axis), ctx=v.context, dtype=v.dtype)
        return out if v.stype == "default" else out.tostype(v.stype)
    return [(k, rows(v)) for k, v in data]
