"""DataDesc, DataBatch, the DataIter protocol and the wrapper iterators (ResizeIter,
PrefetchingIter), as in MXNet's python/mxnet/io/io.py."""
import threading
import warnings
from collections import namedtuple

import numpy as np

from ..base import TypeAssertionError


class DataDesc(namedtuple("DataDesc", ["name", "shape"])):
    """(name, shape) plus dtype and layout; compares equal to the plain tuple, as in MXNet."""

    def __new__(cls, name, shape, dtype=np.float32, layout="NCHW"):
        ret = super().__new__(cls, name, shape)
        ret.dtype = dtype
        ret.layout = layout
        return ret

    def __repr__(self):
        return "DataDesc[%s,%s,%s,%s]" % (self.name, self.shape, self.dtype, self.layout)

    @staticmethod
    def get_batch_axis(layout):
        """Index of 'N' in layout (0 when layout is None)."""
        if layout is None:
            return 0
        return layout.find("N")

    @staticmethod
    def get_list(shapes, types):
        """DataDescs from [(name, shape)] and optionally [(name, dtype)]."""
        if types is not None:
            type_dict = dict(types)
            return [DataDesc(x[0], x[1], type_dict[x[0]]) for x in shapes]
        return [DataDesc(x[0], x[1]) for x in shapes]


def _np_type(dtype):
    # MXNet's DataDescs carry numpy scalar classes (repr `<class 'numpy.float32'>`).
    return np.dtype(dtype).type


class DataBatch:
    """One batch: lists of data and label NDArrays, pad (samples of padding at the end), index."""

    def __init__(self, data, label=None, pad=None, index=None, bucket_key=None,
                 provide_data=None, provide_label=None):
        if data is not None and not isinstance(data, (list, tuple)):
            raise TypeAssertionError("DataBatch: data must be a list of NDArrays, got %s"
                                     % type(data).__name__)
        if label is not None and not isinstance(label, (list, tuple)):
            raise TypeAssertionError("DataBatch: label must be a list of NDArrays, got %s"
                                     % type(label).__name__)
        self.data = data
        self.label = label
        self.pad = pad
        self.index = index
        self.bucket_key = bucket_key
        self.provide_data = provide_data
        self.provide_label = provide_label

    def __str__(self):
        data_shapes = [d.shape for d in self.data]
        label_shapes = [l.shape for l in self.label] if self.label else None
        return "{}: data shapes: {} label shapes: {}".format(
            self.__class__.__name__, data_shapes, label_shapes)


class DataIter:
    """Base iterator: subclasses implement iter_next/getdata/getlabel/getpad (and reset)."""

    def __init__(self, batch_size=0):
        self.batch_size = batch_size

    def __iter__(self):
        return self

    def reset(self):
        pass

    def next(self):
        if self.iter_next():
            return DataBatch(data=self.getdata(), label=self.getlabel(), pad=self.getpad(),
                             index=self.getindex())
        raise StopIteration

    def __next__(self):
        return self.next()

    def iter_next(self):
        pass

    def getdata(self):
        pass

    def getlabel(self):
        pass

    def getindex(self):
        return None

    def getpad(self):
        pass


class _HeldBatchIter(DataIter):
    """An iterator whose ``iter_next`` builds the whole batch into ``current_batch``."""

    current_batch = None

    def next(self):
        if self.iter_next():
            return self.current_batch
        raise StopIteration

    def getdata(self):
        return self.current_batch.data

    def getlabel(self):
        return self.current_batch.label

    def getindex(self):
        return self.current_batch.index

    def getpad(self):
        return self.current_batch.pad


def _ignore_unknown(iter_name, unknown):
    """MXNet's native iterators ignore arguments they do not know (scripts pass `data_shape`
    to MNISTIter); so do these, with a warning naming them, since a misspelt option would
    otherwise do nothing unnoticed."""
    if unknown:
        warnings.warn("%s: ignoring unknown argument(s) %s"
                      % (iter_name, ", ".join(sorted(unknown))), stacklevel=3)


class _NativeIter(_HeldBatchIter):
    """The iterators MXNet implements in C++ (``MXDataIter``: CSVIter, MNISTIter, LibSVMIter,
    the record iterators): their ``getdata``/``getlabel`` return one array, not a list."""

    def getdata(self):
        return self.current_batch.data[0]

    def getlabel(self):
        label = self.current_batch.label
        return label[0] if label else None


class ResizeIter(_HeldBatchIter):
    """Presents data_iter as an epoch of exactly `size` batches, restarting it when it runs out."""

    def __init__(self, data_iter, size, reset_internal=True):
        super().__init__()
        self.data_iter = data_iter
        self.size = size
        self.reset_internal = reset_internal
        self.cur = 0
        self.current_batch = None
        self.provide_data = data_iter.provide_data
        self.provide_label = data_iter.provide_label
        self.batch_size = data_iter.batch_size
        if hasattr(data_iter, "default_bucket_key"):
            self.default_bucket_key = data_iter.default_bucket_key

    def reset(self):
        self.cur = 0
        if self.reset_internal:
            self.data_iter.reset()

    def iter_next(self):
        if self.cur == self.size:
            return False
        try:
            self.current_batch = self.data_iter.next()
        except StopIteration:
            self.data_iter.reset()
            self.current_batch = self.data_iter.next()
        self.cur += 1
        return True

    # MXNet rebuilds the batch from the getters (bucket keys are not passed through).
    next = DataIter.next


class _Prefetcher(threading.Thread):
    """Fetches the next batch of one iterator while the consumer works on the current one.

    Exceptions raised by the wrapped iterator are handed to the consumer instead of killing the
    thread silently (MXNet's version would hang the consumer).
    """

    def __init__(self, it):
        super().__init__(daemon=True)
        self.it = it
        self.want = threading.Event()
        self.ready = threading.Event()
        self.result = None  # (batch or None at the end, exception or None)
        self.alive = True
        self.want.set()
        self.start()

    def run(self):
        while True:
            self.want.wait()
            self.want.clear()
            if not self.alive:
                return
            try:
                self.result = (self.it.next(), None)
            except StopIteration:
                self.result = (None, None)
            except BaseException as e:  # noqa: B902 - re-raised in the consumer thread
                self.result = (None, e)
            self.ready.set()

    def take(self):
        self.ready.wait()
        batch, err = self.result
        if err is not None:
            raise err
        return batch

    def request(self):
        self.ready.clear()
        self.want.set()

    def stop(self):
        self.alive = False
        self.want.set()


class PrefetchingIter(_HeldBatchIter):
    """Runs one background thread per iterator in `iters` and zips their batches.

    rename_data / rename_label: one dict per iterator mapping its names to new names.
    """

    def __init__(self, iters, rename_data=None, rename_label=None):
        super().__init__()
        if not isinstance(iters, list):
            iters = [iters]
        if not iters:
            raise ValueError("PrefetchingIter: iters must contain at least one iterator")
        self.n_iter = len(iters)
        self.iters = iters
        self.rename_data = rename_data
        self.rename_label = rename_label
        self.batch_size = self.provide_data[0][1][0]
        self.current_batch = None
        self._workers = [_Prefetcher(it) for it in iters]

    def __del__(self):
        for w in getattr(self, "_workers", []):
            w.stop()

    @staticmethod
    def _rename(descs, renames):
        if renames is None:
            return sum(descs, [])
        out = []
        for r, ds in zip(renames, descs):
            for x in ds:
                name = x.name if isinstance(x, DataDesc) else x[0]
                if name not in r:  # MXNet's KeyError, with what is missing said
                    raise KeyError("PrefetchingIter: the rename dict %r has no entry for %r"
                                   % (r, name))
                if isinstance(x, DataDesc):
                    out.append(DataDesc(r[name], x.shape, x.dtype, x.layout))
                else:
                    out.append(DataDesc(r[name], x[1]))
        return out

    @property
    def provide_data(self):
        return self._rename([i.provide_data for i in self.iters], self.rename_data)

    @property
    def provide_label(self):
        return self._rename([i.provide_label for i in self.iters], self.rename_label)

    def reset(self):
        for w in self._workers:
            w.ready.wait()  # let an in-flight fetch finish before rewinding its iterator
        for it in self.iters:
            it.reset()
        for w in self._workers:
            w.request()

    def iter_next(self):
        batches = [w.take() for w in self._workers]
        if batches[0] is None:
            if any(b is not None for b in batches):
                raise ValueError("PrefetchingIter: the iterators yield different numbers of batches")
            return False
        if any(b is None or b.pad != batches[0].pad for b in batches):
            raise ValueError("PrefetchingIter: the iterators yield different numbers of samples")
        self.current_batch = DataBatch(sum([b.data for b in batches], []),
                                       sum([b.label for b in batches], []),
                                       batches[0].pad, batches[0].index,
                                       provide_data=self.provide_data,
                                       provide_label=self.provide_label)
        for w in self._workers:
            w.request()
        return True

