"""CSVIter and MNISTIter: MXNet's C++ file iterators (src/io/iter_csv.cc, iter_mnist.cc) in Python.

Both load the whole file into numpy at construction; batches are copied into fresh NDArrays.
"""
import gzip
import logging
import struct

import numpy as np

from .. import ndarray as nd
from ..base import MXNetError
from .base import DataBatch, DataDesc, _NativeIter, _ignore_unknown, _np_type


def _label_batch_shape(batch_size, label_shape):
    # MXNet's batch loader drops a trailing label dimension of 1: label_shape (1,) -> (batch,).
    label_shape = tuple(label_shape)
    if label_shape == (1,):
        return (batch_size,)
    return (batch_size,) + label_shape


class _RoundBatchIter(_NativeIter):
    """Batches over in-memory rows with the C++ BatchLoader's rules.

    round_batch=True: the last batch wraps around to the start (pad = wrapped samples) and after
    reset the next epoch starts after the wrapped samples. round_batch=False: the missing rows of
    the last batch keep the previous batch's contents (as MXNet's reused buffer does), pad says
    how many.
    """

    def __init__(self, data, label, batch_size, round_batch, data_name, label_name, label_shape,
                 dtype=np.float32):
        super().__init__(batch_size)
        if batch_size < 1:
            raise ValueError("batch_size must be positive, got %d" % batch_size)
        self._data = data
        self._label = label
        self.round_batch = bool(round_batch)
        self.data_name = data_name
        self.label_name = label_name
        self._label_batch_shape = _label_batch_shape(batch_size, label_shape)
        self._dtype = dtype
        self._data_buf = np.zeros((batch_size,) + data.shape[1:], dtype)
        self._label_buf = np.zeros((batch_size,) + label.shape[1:], label.dtype)
        self._index_buf = np.zeros(batch_size, np.uint64)
        self._pos = 0
        self._overflow = 0
        self.current_batch = None

    @property
    def provide_data(self):
        return [DataDesc(self.data_name, (self.batch_size,) + self._data.shape[1:], _np_type(self._dtype))]

    @property
    def provide_label(self):
        return [DataDesc(self.label_name, self._label_batch_shape, _np_type(self._label.dtype))]

    def reset(self):
        if self.round_batch and self._overflow:
            self._pos, self._overflow = self._overflow, 0
        else:
            self._pos = 0

    def iter_next(self):
        n = self._data.shape[0]
        if self._pos >= n:
            return False
        take = np.arange(self._pos, min(self._pos + self.batch_size, n))
        pad = self.batch_size - take.size
        if pad and self.round_batch:
            if pad > n:  # MXNet's loader wraps around once only
                raise MXNetError("round_batch: cannot fill a batch of %d from %d samples: number of input "
                                 "must be bigger than batch size" % (self.batch_size, n))
            take = np.concatenate([take, np.arange(pad)])
            self._overflow = pad
        self._data_buf[:take.size] = self._data[take]
        self._label_buf[:take.size] = self._label[take]
        self._index_buf[:take.size] = take
        self._pos += self.batch_size
        self.current_batch = DataBatch([nd.array(self._data_buf, dtype=self._dtype)],
                                [nd.array(self._label_buf.reshape(self._label_batch_shape),
                                          dtype=self._label.dtype)],
                                pad=pad, index=self._index_buf.copy())
        return True



def _read_csv(path, row_shape, what):
    try:
        arr = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    except OSError as e:
        raise MXNetError('Check failed: allow_null: :Open "%s": %s' % (path, e.strerror)) from e
    except ValueError as e:
        raise MXNetError("CSVIter: cannot parse %s %s: %s" % (what, path, e)) from e
    size = int(np.prod(row_shape))
    if arr.shape[1] != size:
        raise MXNetError("CSVIter: %s %s has %d columns per row, %s_shape %s needs %d"
                         % (what, path, arr.shape[1], what.split("_")[0], tuple(row_shape), size))
    return arr.reshape((arr.shape[0],) + tuple(row_shape))


class CSVIter(_RoundBatchIter):
    """Rows of data_csv (each reshaped to data_shape) with labels from label_csv (or zeros)."""

    def __init__(self, data_csv, data_shape, label_csv="NULL", label_shape=(1,), batch_size=1,
                 round_batch=True, dtype="float32", data_name="data", label_name="softmax_label",
                 **kwargs):
        unknown = set(kwargs) - {"prefetch_buffer", "ctx", "prefetch", "silent"}
        _ignore_unknown("CSVIter", unknown)
        data_shape = tuple(data_shape)
        label_shape = tuple(label_shape)
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.int32, np.int64):
            raise ValueError("CSVIter: dtype must be float32, int32 or int64, got %s" % dtype)
        data = _read_csv(data_csv, data_shape, "data_csv").astype(dtype)
        # Labels are read as the data's dtype, as MXNet's CSVIter<DType> does.
        if label_csv in (None, "NULL"):
            # MXNet's zero labels are one per row whatever label_shape says.
            label_shape = (1,)
            label = np.zeros((data.shape[0],) + label_shape, dtype)
        else:
            label = _read_csv(label_csv, label_shape, "label_csv").astype(dtype)
            if label.shape[0] != data.shape[0]:
                raise MXNetError("CSVIter: label_csv %s has %d rows but data_csv %s has %d"
                                 % (label_csv, label.shape[0], data_csv, data.shape[0]))
        super().__init__(data, label, batch_size, round_batch, data_name, label_name, label_shape, dtype)


def _open_maybe_gz(path):
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise MXNetError('Check failed: allow_null: :Open "%s": %s' % (path, e.strerror)) from e
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw


def _read_idx(path, want_dims):
    raw = _open_maybe_gz(path)
    if len(raw) < 4 + 4 * want_dims:
        raise MXNetError("MNISTIter: %s is too short for an IDX header (invalid mnist format)" % path)
    dims = struct.unpack(">%dI" % want_dims, raw[4:4 + 4 * want_dims])
    body = raw[4 + 4 * want_dims:]
    need = int(np.prod(dims))
    if len(body) < need:
        raise MXNetError("MNISTIter: %s holds %d bytes of data, header says %d (invalid mnist format)"
                         % (path, len(body), need))
    return np.frombuffer(body, np.uint8, need).reshape(dims)


class MNISTIter(_NativeIter):
    """MNIST IDX files (optionally gzipped): pixels scaled by 1/256 like MXNet, full batches only.

    shuffle permutes the samples once at construction from `seed` (np.random.RandomState, so the
    order differs from MXNet's std::mt19937 shuffle); reset keeps the order.
    """

    def __init__(self, image="./train-images-idx3-ubyte", label="./train-labels-idx1-ubyte",
                 batch_size=128, shuffle=True, flat=False, seed=0, silent=False, num_parts=1,
                 part_index=0, data_name="data", label_name="softmax_label", **kwargs):
        super().__init__(batch_size)
        unknown = set(kwargs) - {"prefetch_buffer", "ctx", "dtype"}
        _ignore_unknown("MNISTIter", unknown)
        if batch_size < 1:
            raise ValueError("MNISTIter: batch_size must be positive, got %d" % batch_size)
        if not 0 <= part_index < num_parts:
            raise ValueError("MNISTIter: need 0 <= part_index < num_parts, got %d, %d" % (part_index, num_parts))
        imgs = _read_idx(image, 3)
        labels = _read_idx(label, 1)

        def part(n):
            return int(n / num_parts * part_index), int(n / num_parts * (part_index + 1))

        s, e = part(imgs.shape[0])
        imgs = imgs[s:e]
        s, e = part(labels.shape[0])
        labels = labels[s:e]
        if labels.shape[0] < imgs.shape[0]:
            raise MXNetError("MNISTIter: %s has %d labels for %d images in %s"
                             % (label, labels.shape[0], imgs.shape[0], image))
        self._images = imgs.astype(np.float32) * np.float32(1.0 / 256.0)
        self._labels = labels.astype(np.float32)
        self._order = np.arange(imgs.shape[0])
        if shuffle:
            self._order = np.random.RandomState(seed).permutation(imgs.shape[0])
        rows, cols = imgs.shape[1], imgs.shape[2]
        self._shape = (batch_size, rows * cols) if flat else (batch_size, 1, rows, cols)
        if not silent:
            logging.info("MNISTIter: load %d images, shuffle=%d, shape=%s", imgs.shape[0],
                         int(bool(shuffle)), self._shape)
        self.data_name, self.label_name = data_name, label_name
        self._loc = 0
        self.current_batch = None

    @property
    def provide_data(self):
        return [DataDesc(self.data_name, self._shape, np.float32)]

    @property
    def provide_label(self):
        return [DataDesc(self.label_name, (self.batch_size,), np.float32)]

    def reset(self):
        self._loc = 0

    def iter_next(self):
        if self._loc + self.batch_size > self._order.size:
            return False
        sel = self._order[self._loc:self._loc + self.batch_size]
        self._loc += self.batch_size
        self.current_batch = DataBatch([nd.array(self._images[sel].reshape(self._shape))],
                                [nd.array(self._labels[sel])], pad=0, index=sel.astype(np.uint64))
        return True

