"""ImageIter: MXNet 1.9.1's Python image iterator (mx.image.ImageIter).

Reads samples from a RecordIO file (path_imgrec, optionally indexed with path_imgidx), from an
image list file (path_imglist: `index<TAB>label(s)<TAB>path` lines, paths under path_root), or
from an in-memory imglist ([label(s)..., path] entries); decodes, runs the augmenter list on the
HWC image, transposes to CHW and batches. last_batch_handle: 'pad' fills the last batch from the
start of the data (pad = filled samples), 'discard' drops it, 'roll_over' carries the leftover
samples into the first batch of the next epoch. Shuffling uses Python's `random.shuffle`, like
MXNet.
"""
import inspect
import logging
import numbers
import os
import random
import warnings

import numpy as np

from .. import ndarray as nd
from .. import recordio
from ..base import MXNetError, ValueAssertionError
from ..io import DataBatch, DataIter
from .image import CreateAugmenter, imdecode

_LABEL_DTYPES = ("int32", "float32", "int64", "float64")


class _LabelWidthError(MXNetError, ValueError):
    """A sample's label count differs from label_width: MXNet raises ValueError there."""


class ImageIter(DataIter):
    """Image data iterator with a Python augmenter list (see module docstring).

    Extra keyword arguments go to CreateAugmenter when aug_list is None.
    """

    def __init__(self, batch_size, data_shape, label_width=1, path_imgrec=None, path_imglist=None,
                 path_root=None, path_imgidx=None, shuffle=False, part_index=0, num_parts=1,
                 aug_list=None, imglist=None, data_name="data", label_name="softmax_label",
                 dtype="float32", last_batch_handle="pad", **kwargs):
        super().__init__(batch_size)
        if not (path_imgrec or path_imglist or isinstance(imglist, list)):
            raise ValueAssertionError("ImageIter: give path_imgrec, path_imglist or imglist (a list)")
        if dtype not in _LABEL_DTYPES:
            raise ValueAssertionError("ImageIter: dtype %r label not supported (one of %s)"
                             % (dtype, ", ".join(_LABEL_DTYPES)))
        if not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError("ImageIter: batch_size must be a positive integer, got %r" % (batch_size,))
        if last_batch_handle not in ("pad", "discard", "roll_over"):
            raise ValueError("ImageIter: last_batch_handle must be 'pad', 'discard' or 'roll_over', got %r"
                             % (last_batch_handle,))
        if num_parts < 1 or not 0 <= part_index < num_parts:
            raise ValueError("ImageIter: need 0 <= part_index < num_parts, got part_index=%r, num_parts=%r"
                             % (part_index, num_parts))
        data_shape = tuple(data_shape)
        self.check_data_shape(data_shape)
        if aug_list is not None and kwargs:
            # MXNet ignores them silently; a script may pass one config dict and a list
            warnings.warn("ImageIter: keyword argument(s) %s are CreateAugmenter's and are ignored "
                          "with aug_list" % ", ".join(sorted(kwargs)), stacklevel=2)
            kwargs = {}
        unknown = sorted(set(kwargs) - set(inspect.signature(CreateAugmenter).parameters))
        if unknown:
            raise TypeError("ImageIter: unexpected keyword argument(s) %s" % ", ".join(unknown))
        imgkeys = None
        if path_imgrec:
            logging.info("%s: loading recordio %s...", type(self).__name__, path_imgrec)
            if path_imgidx:
                self.imgrec = recordio.MXIndexedRecordIO(path_imgidx, path_imgrec, "r")
                self.imgidx = list(self.imgrec.keys)
            else:
                self.imgrec = recordio.MXRecordIO(path_imgrec, "r")
                self.imgidx = None
        else:
            self.imgrec = None
        if path_imglist:
            self.imglist, imgkeys = self._read_imglist(path_imglist, dtype)
        elif isinstance(imglist, list):
            self.imglist, imgkeys = {}, []
            for index, img in enumerate(imglist, 1):
                key = str(index)
                if len(img) > 2:
                    label = nd.array(img[:-1], dtype=dtype)
                elif isinstance(img[0], numbers.Number):
                    label = nd.array([img[0]], dtype=dtype)
                else:
                    label = nd.array(img[0], dtype=dtype)
                self.imglist[key] = (label, img[-1])
                imgkeys.append(key)
        else:
            self.imglist = None
        self.path_root = path_root
        # plain (name, shape) tuples, as MXNet's ImageIter gives them
        self.provide_data = [(data_name, (batch_size,) + data_shape)]
        label_shape = (batch_size, label_width) if label_width > 1 else (batch_size,)
        self.provide_label = [(label_name, label_shape)]
        self.batch_size = batch_size
        self.data_shape = data_shape
        self.label_width = label_width
        self.shuffle = shuffle
        if self.imgrec is None:
            self.seq = imgkeys
        elif shuffle or num_parts > 1 or path_imgidx:
            if self.imgidx is None:
                raise ValueError("ImageIter: shuffle, num_parts > 1 and path_imgidx need an indexed .rec "
                                 "(give path_imgidx)")
            self.seq = self.imgidx
        else:
            self.seq = None
        if num_parts > 1:
            n = len(self.seq) // num_parts  # MXNet drops the remainder
            self.seq = self.seq[part_index * n:(part_index + 1) * n]
        self.auglist = CreateAugmenter(data_shape, **kwargs) if aug_list is None else aug_list
        self.cur = 0
        self._allow_read = True
        self.last_batch_handle = last_batch_handle
        self.num_image = len(self.seq) if self.seq is not None else None
        self._cache_data = self._cache_label = self._cache_idx = None
        self.reset()

    @staticmethod
    def _read_imglist(path, dtype):
        imglist, keys = {}, []
        with open(path) as fin:
            for lineno, line in enumerate(fin, 1):
                if not line.strip():
                    continue
                fields = line.strip().split("\t")
                if len(fields) < 3:
                    raise ValueError("ImageIter: %s line %d: expected 'index<TAB>label(s)<TAB>path', got %r"
                                     % (path, lineno, line.rstrip("\n")))
                key = int(fields[0])
                imglist[key] = (nd.array([float(x) for x in fields[1:-1]], dtype=dtype), fields[-1])
                keys.append(key)
        return imglist, keys

    def reset(self):
        """Start a new epoch (reshuffling when shuffle=True); with 'roll_over', the cached
        leftover samples stay and fill the first batch."""
        if self.seq is not None and self.shuffle:
            random.shuffle(self.seq)
        if self.last_batch_handle != "roll_over" or self._cache_data is None:
            if self.imgrec is not None:
                self.imgrec.reset()
            self.cur = 0
            self._allow_read = True

    def hard_reset(self):
        """reset() that also drops a roll_over cache."""
        if self.seq is not None and self.shuffle:
            random.shuffle(self.seq)
        if self.imgrec is not None:
            self.imgrec.reset()
        self.cur = 0
        self._allow_read = True
        self._cache_data = self._cache_label = self._cache_idx = None

    def next_sample(self):
        """(label, encoded image bytes) of the next sample; StopIteration at the end."""
        if not self._allow_read:
            raise StopIteration
        if self.seq is not None:
            if self.cur >= self.num_image:
                if self.last_batch_handle != "discard":
                    self.cur = 0
                raise StopIteration
            idx = self.seq[self.cur]
            self.cur += 1
            if self.imgrec is not None:
                header, img = recordio.unpack(self.imgrec.read_idx(idx))
                if self.imglist is None:
                    return header.label, img
                return self.imglist[idx][0], img
            label, fname = self.imglist[idx]
            return label, self.read_image(fname)
        s = self.imgrec.read()
        if s is None:
            if self.last_batch_handle != "discard":
                self.imgrec.reset()
            raise StopIteration
        header, img = recordio.unpack(s)
        return header.label, img

    def _batchify(self, batch_data, batch_label, start=0):
        i = start
        try:
            while i < self.batch_size:
                label, s = self.next_sample()
                data = self.imdecode(s)
                try:
                    self.check_valid_image(data)
                except RuntimeError as e:
                    logging.debug("Invalid image, skipping:  %s", e)
                    continue
                data = self.augmentation_transform(data)
                batch_data[i] = self.postprocess_data(data)
                batch_label[i] = self._label(label)
                i += 1
        except StopIteration:
            if not i:
                raise
        return i

    def _label(self, label):
        if isinstance(label, nd.NDArray):
            label = label.asnumpy()
        label = np.asarray(label, np.float32).ravel()
        if label.size == 1 and self.label_width > 1:
            # MXNet assigns it to the batch's label row, which broadcasts one value.
            label = np.repeat(label, self.label_width)
        if label.size != self.label_width:
            raise _LabelWidthError("ImageIter: a sample has %d label(s), label_width is %d"
                             % (label.size, self.label_width))
        return label[0] if self.label_width == 1 else label

    def next(self):
        """The next DataBatch (data (N, C, H, W) float32, label, pad)."""
        batch_size = self.batch_size
        c, h, w = self.data_shape
        if self._cache_data is not None:
            batch_data, batch_label, i = self._cache_data, self._cache_label, self._cache_idx
        else:
            batch_data = nd.zeros((batch_size, c, h, w))
            batch_label = self._empty_batch_label()
            i = self._batchify(batch_data, batch_label)
        pad = batch_size - i
        if pad != 0:
            if self.last_batch_handle == "discard":
                raise StopIteration
            if self.last_batch_handle == "roll_over" and self._cache_data is None:
                self._cache_data, self._cache_label, self._cache_idx = batch_data, batch_label, i
                raise StopIteration
            self._batchify(batch_data, batch_label, i)
            if self.last_batch_handle == "pad":
                self._allow_read = False
            else:
                self._cache_data = self._cache_label = self._cache_idx = None
        return DataBatch([batch_data], [batch_label], pad=pad)

    def _empty_batch_label(self):
        return nd.empty(self.provide_label[0][1])

    def check_data_shape(self, data_shape):
        """data_shape must be (3, height, width)."""
        if len(data_shape) != 3:
            raise ValueError("ImageIter: data_shape should have length 3, with dimensions CxHxW, got %s"
                             % (data_shape,))
        if data_shape[0] != 3:
            raise ValueError("ImageIter: this iterator expects inputs to have 3 channels, got data_shape %s"
                             % (data_shape,))

    def check_valid_image(self, data):
        """RuntimeError (the sample is skipped) for an empty decoded image."""
        if len(data[0].shape) == 0:
            raise RuntimeError("Data shape is wrong")

    def imdecode(self, s):
        """Decode one sample's bytes; a RuntimeError names the broken file or record."""
        try:
            return imdecode(s)
        except Exception as e:
            if self.seq is not None:
                idx = self.seq[(self.cur % self.num_image) - 1]
            else:
                idx = None
            if self.imglist is not None and idx is not None:
                where = "filename: %s" % (self.imglist[idx][1],)
            else:
                pos = "record before byte %d" % self.imgrec.tell() if idx is None else idx
                where = "index: %s" % (pos,)
            raise RuntimeError("Broken image %s, %s" % (where, e)) from e

    def read_image(self, fname):
        """The bytes of image file fname under path_root."""
        path = os.path.join(self.path_root, fname) if self.path_root else fname
        with open(path, "rb") as fin:
            return fin.read()

    def augmentation_transform(self, data):
        """Run the augmenter list on one HWC image."""
        for aug in self.auglist:
            data = aug(data)
        return data

    def postprocess_data(self, datum):
        """HWC -> CHW."""
        return nd.transpose(datum, axes=(2, 0, 1))
