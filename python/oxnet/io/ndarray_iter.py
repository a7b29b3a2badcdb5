"""NDArrayIter: batches over in-memory arrays with MXNet 1.9.1's cursor and last-batch rules."""
import numpy as np

from .. import ndarray as nd
from ..base import MXNetError
from .base import DataBatch, DataDesc, DataIter, _np_type
from .utils import _init_data, _getdata_by_idx

_LAST_BATCH_HANDLES = ("pad", "discard", "roll_over")


class NDArrayIter(DataIter):
    """Iterates over NDArray/numpy data (and labels) in batches of batch_size.

    last_batch_handle: 'pad' fills the last batch from the start of the data (pad = number of
    filler samples), 'discard' drops it, 'roll_over' carries the leftover into the next epoch.
    shuffle permutes the samples with np.random at construction and at every reset.
    CSRNDArray data gives csr batches with any of these (MXNet only allows 'discard' for it,
    and no shuffle).
    """

    def __init__(self, data, label=None, batch_size=1, shuffle=False, last_batch_handle="pad",
                 data_name="data", label_name="softmax_label", layout="NCHW"):
        super().__init__(batch_size)
        if last_batch_handle not in _LAST_BATCH_HANDLES:
            raise ValueError("NDArrayIter: last_batch_handle must be one of %s, got %r"
                             % (", ".join(_LAST_BATCH_HANDLES), last_batch_handle))
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError("NDArrayIter: batch_size must be a positive integer, got %r" % (batch_size,))
        self.layout = layout
        self.data = _init_data(data, False, data_name, "data")
        self.label = _init_data(label, True, label_name, "label")
        self.num_data = self.data[0][1].shape[self._axis(self.data[0][1])]
        for k, v in self.data + self.label:
            if v.shape[self._axis(v)] != self.num_data:
                arg = "label" if any(k == name for name, _ in self.label) else "data"
                raise ValueError("NDArrayIter: %s '%s' has %d samples but data '%s' has %d"
                                 % (arg, k, v.shape[self._axis(v)], self.data[0][0], self.num_data))
        self.idx = np.arange(self.num_data)
        self.shuffle = shuffle
        self.last_batch_handle = last_batch_handle
        self.batch_size = batch_size
        self.cursor = -batch_size
        self._cache_data = None
        self._cache_label = None
        self.reset()
        self.data_list = [x[1] for x in self.data] + [x[1] for x in self.label]
        self.num_source = len(self.data_list)

    def _axis(self, v):
        """The batch axis of `v`: the layout's N (`TNC` batches along axis 1), as MXNet slices
        and joins batches; axis 0 for an array with fewer axes (1-D labels)."""
        n = self.layout.find("N") if isinstance(self.layout, str) else 0
        return n if 0 < n < v.ndim else 0

    def _batch_shape(self, v):
        shape = list(v.shape)
        shape[self._axis(v)] = self.batch_size
        return tuple(shape)

    @property
    def provide_data(self):
        return [DataDesc(k, self._batch_shape(v), _np_type(v.dtype), layout=self.layout)
                for k, v in self.data]

    @property
    def provide_label(self):
        return [DataDesc(k, self._batch_shape(v), _np_type(v.dtype), layout=self.layout)
                for k, v in self.label]

    def hard_reset(self):
        """Start over ignoring any roll_over leftover."""
        if self.shuffle:
            self._shuffle_data()
        self.cursor = -self.batch_size
        self._cache_data = None
        self._cache_label = None

    def reset(self):
        if self.shuffle:
            self._shuffle_data()
        # A cursor inside the last (incomplete) batch means roll_over has a leftover to prepend:
        # the next epoch starts that many samples before 0.
        if (self.last_batch_handle == "roll_over"
                and self.num_data - self.batch_size < self.cursor < self.num_data):
            self.cursor = self.cursor - self.num_data - self.batch_size
        else:
            self.cursor = -self.batch_size

    def iter_next(self):
        self.cursor += self.batch_size
        return self.cursor < self.num_data

    def next(self):
        if not self.iter_next():
            raise StopIteration
        data = self.getdata()
        label = self.getlabel()
        if data[0].shape[self._axis(data[0])] != self.batch_size:
            # An incomplete last batch (discard / roll_over) ends the epoch; roll_over keeps it.
            self._cache_data = data
            self._cache_label = label
            raise StopIteration
        return DataBatch(data=data, label=label, pad=self.getpad(), index=None)

    def _getdata(self, source, start=None, end=None):
        start = 0 if start is None else start
        if end is None:
            end = self.num_data
        return [v[start:end] if self._axis(v) == 0 else
                nd.slice_axis(v, axis=self._axis(v), begin=start, end=end) for _, v in source]

    def _concat(self, first, second):
        if first and second:
            return [nd.concat(a, b, dim=self._axis(a)) for a, b in zip(first, second)]
        return first or second

    def _batchify(self, source, cache_attr):
        if self.cursor >= self.num_data:
            raise StopIteration  # MXNet asserts 'DataIter needs reset.'
        if self.last_batch_handle == "roll_over" and -self.batch_size < self.cursor < 0:
            # first batch of an epoch after a leftover: leftover + head of this epoch
            if self.cursor + self.batch_size > self.num_data:
                # MXNet fails here too (slice past the end); say why instead
                raise MXNetError("NDArrayIter: last_batch_handle='roll_over' cannot complete a batch of "
                                 "%d from a leftover of %d and %d samples" % (
                                     self.batch_size, -self.cursor, self.num_data))
            head = self._getdata(source, end=self.cursor + self.batch_size)
            # The leftover is used once, by this batch; reads elsewhere in the epoch keep it.
            cache = getattr(self, cache_attr)
            setattr(self, cache_attr, None)
            return self._concat(cache, head) if cache is not None else head
        if self.last_batch_handle == "pad" and self.cursor + self.batch_size > self.num_data:
            pad = self.batch_size - self.num_data + self.cursor
            first = self._getdata(source, start=self.cursor)
            whole, rest = divmod(pad, self.num_data)
            filler = []
            for _ in range(whole):
                filler = self._concat(filler, self._getdata(source, end=self.num_data))
            if rest:
                filler = self._concat(filler, self._getdata(source, end=rest))
            return self._concat(first, filler)
        end = min(self.cursor + self.batch_size, self.num_data)
        return self._getdata(source, self.cursor, end)

    def getdata(self):
        return self._batchify(self.data, "_cache_data")

    def getlabel(self):
        return self._batchify(self.label, "_cache_label")

    def getpad(self):
        if self.last_batch_handle == "pad" and self.cursor + self.batch_size > self.num_data:
            return self.cursor + self.batch_size - self.num_data
        if self.last_batch_handle == "roll_over" and -self.batch_size < self.cursor < 0:
            return -self.cursor
        return 0

    def _shuffle_data(self):
        # Same draws as MXNet (np.random.shuffle of the running index, applied to the current
        # order) so a seeded np.random gives MXNet's batches.
        np.random.shuffle(self.idx)
        self.data = _getdata_by_idx(self.data, self.idx, self._axis)
        self.label = _getdata_by_idx(self.label, self.idx, self._axis)
