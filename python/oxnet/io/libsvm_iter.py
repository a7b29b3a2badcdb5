"""LibSVMIter: MXNet's C++ LibSVM iterator (src/io/iter_libsvm.cc) in Python.

The file is parsed once at construction into compressed rows (numpy); each batch is a
`CSRNDArray` (dense memory underneath, see `mx.nd.sparse`). Feature indices are zero-based and
must be ascending per line, as MXNet requires. Where MXNet 1.9.1 silently builds an invalid
matrix (a feature index past `data_shape`, unsorted indices) this raises an error naming the
file and line.
"""
import os

import numpy as np

from .. import ndarray as nd
from ..base import MXNetError
from .base import DataBatch, DataDesc, _NativeIter, _ignore_unknown, _np_type
from .file_iters import _label_batch_shape


def _files(path, what):
    if os.path.isdir(path):
        names = sorted(os.listdir(path))
        files = [os.path.join(path, n) for n in names if os.path.isfile(os.path.join(path, n))]
    else:
        files = [path]
    for f in files:
        if not os.path.isfile(f):
            raise MXNetError("LibSVMIter: %s %s: No such file or directory" % (what, f))
    return files


def _part_lines(files, num_parts, part_index):
    """(file, line number, text) of the lines in partition `part_index` of the files' bytes,
    split as dmlc's InputSplit does: equal byte ranges, each boundary moved past the end of
    the line it falls in (so a line belongs to the part where the line before it ends)."""
    blobs = []
    for f in files:
        with open(f, "rb") as fh:
            blobs.append(fh.read())
    total = sum(len(b) for b in blobs)
    joined = b"".join(blobs)
    starts = np.cumsum([0] + [len(b) for b in blobs])

    def begin_of(offset):
        if offset <= 0:
            return 0
        if offset >= total:
            return total
        i = offset
        while i < total and joined[i:i + 1] not in (b"\n", b"\r"):
            i += 1
        while i < total and joined[i:i + 1] in (b"\n", b"\r"):
            i += 1
        return i

    step = (total + num_parts - 1) // num_parts
    lo = begin_of(min(step * part_index, total))
    hi = begin_of(min(step * (part_index + 1), total))
    out = []
    for fi, (f, b) in enumerate(zip(files, blobs)):
        pos = 0
        for no, line in enumerate(b.splitlines(keepends=True), 1):
            at = starts[fi] + pos
            pos += len(line)
            if lo <= at < hi:
                out.append((f, no, line.decode("utf-8", "replace").strip()))
    return out


def _parse(lines, ncols, what):
    """Labels and the compressed rows of `lines` (blank ones skipped)."""
    labels, indptr, indices, values = [], [0], [], []
    for f, no, text in lines:
        if not text:
            continue
        toks = text.split()
        where = "LibSVMIter: %s %s line %d" % (what, f, no)
        try:
            labels.append(float(toks[0].split(":")[0]))
        except ValueError:
            raise MXNetError("%s: bad label %r" % (where, toks[0])) from None
        prev = -1
        for tok in toks[1:]:
            k, sep, v = tok.partition(":")
            try:
                if not sep:
                    raise ValueError
                k, v = int(k), float(v)
            except ValueError:
                raise MXNetError("%s: bad feature %r (expected index:value)" % (where, tok)) from None
            if not 0 <= k < ncols:
                raise MXNetError("%s: feature index %d is out of range for shape (%d,) (indices are "
                                 "zero-based)" % (where, k, ncols))
            if k <= prev:
                raise MXNetError("%s: feature indices must be ascending, got %d after %d"
                                 % (where, k, prev))
            prev = k
            indices.append(k)
            values.append(v)
        indptr.append(len(indices))
    return (np.asarray(labels, np.float32), np.asarray(indptr, np.int64),
            np.asarray(indices, np.int64), np.asarray(values, np.float32))


class LibSVMIter(_NativeIter):
    """Batches of a LibSVM file as CSR data (`data_shape` = (number of features,)) with the
    first column as a dense label, or, given `label_libsvm`, CSR labels from that file."""

    def __init__(self, data_libsvm, data_shape, label_libsvm="NULL", label_shape=(1,),
                 batch_size=1, round_batch=True, num_parts=1, part_index=0,
                 data_name="data", label_name="softmax_label", **kwargs):
        unknown = set(kwargs) - {"prefetch_buffer", "ctx", "dtype", "silent"}
        _ignore_unknown("LibSVMIter", unknown)
        super().__init__(int(batch_size))
        data_shape, label_shape = tuple(data_shape), tuple(label_shape)
        if len(data_shape) != 1:
            raise MXNetError("LibSVMIter: dimension of data_shape is expected to be 1, got %s"
                             % (data_shape,))
        if len(label_shape) != 1:
            raise MXNetError("LibSVMIter: dimension of label_shape is expected to be 1, got %s"
                             % (label_shape,))
        if not round_batch:
            raise MXNetError("LibSVMIter: sparse batch loader doesn't support round_batch == false yet")
        if self.batch_size < 1:
            raise ValueError("LibSVMIter: batch_size must be positive, got %d" % self.batch_size)
        if not 0 <= part_index < num_parts:
            raise MXNetError("LibSVMIter: part_index %d is not in [0, num_parts=%d)" % (part_index, num_parts))
        self.data_name, self.label_name = data_name, label_name
        self._ncols = data_shape[0]
        lines = _part_lines(_files(data_libsvm, "data_libsvm"), num_parts, part_index)
        self._labels, self._indptr, self._indices, self._values = _parse(lines, self._ncols, "data_libsvm")
        self._sparse_label = label_libsvm not in (None, "NULL", "")
        if self._sparse_label:
            llines = _part_lines(_files(label_libsvm, "label_libsvm"), num_parts, part_index)
            self._label_cols = label_shape[0]
            _, self._lindptr, self._lindices, self._lvalues = _parse(llines, self._label_cols, "label_libsvm")
            if len(self._lindptr) != len(self._indptr):
                raise MXNetError("LibSVMIter: label_libsvm %s has %d rows but data_libsvm %s has %d"
                                 % (label_libsvm, len(self._lindptr) - 1, data_libsvm, len(self._indptr) - 1))
            self._label_batch_shape = (self.batch_size, self._label_cols)
        else:
            self._label_batch_shape = _label_batch_shape(self.batch_size, label_shape)
        self._n = len(self._indptr) - 1
        # As MXNet's batch loader, a padded batch wraps around to the start once: the first
        # batch needs at least half a batch of rows.
        if 2 * self._n < self.batch_size:
            raise MXNetError("LibSVMIter: %s has %d rows (in part %d of %d): number of input must be "
                             "bigger than batch size %d" % (data_libsvm, self._n, part_index, num_parts,
                                                            self.batch_size))
        self._pos = 0
        self._overflow = 0

    @property
    def provide_data(self):
        return [DataDesc(self.data_name, (self.batch_size, self._ncols), _np_type(np.float32))]

    @property
    def provide_label(self):
        return [DataDesc(self.label_name, self._label_batch_shape, _np_type(np.float32))]

    def reset(self):
        # As MXNet's batch loader: the next epoch starts after the samples the last padded
        # batch wrapped around to.
        self._pos, self._overflow = self._overflow, 0

    @staticmethod
    def _rows(take, indptr, indices, values, ncols):
        dense = np.zeros((take.size, ncols), np.float32)
        for i, r in enumerate(take):
            a, b = indptr[r], indptr[r + 1]
            dense[i, indices[a:b]] = values[a:b]
        return nd.array(dense).tostype("csr")

    def iter_next(self):
        n = self._n
        if self._pos >= n:
            return False
        take = np.arange(self._pos, min(self._pos + self.batch_size, n))
        pad = self.batch_size - take.size
        if pad > n:
            raise MXNetError("LibSVMIter: %d rows cannot pad a batch of %d starting at row %d: "
                             "number of input must be bigger than batch size" % (n, self.batch_size, self._pos))
        if pad:
            take = np.concatenate([take, np.arange(pad)])
            self._overflow = pad
        self._pos += self.batch_size
        data = self._rows(take, self._indptr, self._indices, self._values, self._ncols)
        if self._sparse_label:
            label = self._rows(take, self._lindptr, self._lindices, self._lvalues, self._label_cols)
        else:
            label = nd.array(self._labels[take].reshape(self._label_batch_shape))
        self.current_batch = DataBatch([data], [label], pad=pad, index=take.astype(np.uint64))
        return True

    def getpad(self):
        return self.current_batch.pad
