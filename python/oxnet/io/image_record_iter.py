"""ImageRecordIter: batches of decoded, augmented images from an image RecordIO file.

Reimplements MXNet's C++ ImageRecordIter (src/io/iter_image_recordio_2.cc) with its default
augmenter (`_augment.py`: resize, random affine, pad, fixed or random-size crops, random
resized crops, HSL / brightness / contrast / saturation jitter, PCA noise), mirroring, then
`((pixel - mean) * contrast + illumination) * scale / std` per channel, NCHW, RGB order.
Without random augmentation, color output is bit-identical to MXNet 1.9.1 (resizes follow
OpenCV's arithmetic, in native kernels: see _imgops.py), and the fixed augmentations (rotate,
pad, crop sizes, other interpolations) agree within OpenCV's rounding; gray (data_shape[0] ==
1) images are decoded to gray as OpenCV does it (_imgops.decode_gray). Random draws come from
numpy, so they differ from MXNet's. Differences kept on purpose: round_batch=False reports
the true pad (MXNet says 0) and zero-fills; shuffling reorders every record each epoch (MXNet
shuffles in chunks); inter_method=0 (nearest) is accepted where MXNet's check refuses it; a
missing `mean_img` file is computed from the deterministic augmentation steps only (MXNet
averages one augmented pass). num_parts splits as MXNet's dmlc input splits do: by bytes (a
record belongs to the part its first byte falls in), or with path_imgidx by ceil(n / num_parts)
index entries a part.

Samples are read, decoded (JPEGs by libjpeg-turbo through simplejpeg, other formats by
Pillow) and augmented in tasks of a few samples each, run by a thread pool of
`preprocess_threads` workers, at most one a core (decoding and the native resizes release the
GIL); a task crops, mirrors and normalizes its samples in one native call, and up to
`prefetch_buffer` batches are in flight ahead of the consumer. Augmentation draws come from
(seed_aug, or else seed; epoch; position), so results do not depend on thread scheduling or on
how samples are split into tasks; `seed` alone orders the shuffle.
"""
import collections
import io as _io
import os
import struct
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import _native
from .. import ndarray as nd
from .. import recordio
from ..base import MXNetError
from . import _augment
from ._imgops import decode_gray, decode_jpeg
from .base import DataBatch, DataDesc, _NativeIter, _ignore_unknown

# Arguments of MXNet's ImageRecordIter accepted and ignored (logging, devices, chunked shuffling,
# or a value oxnet gives anyway).
_IGNORED = {"verbose", "silent", "ctx", "device_id", "prefetch", "shuffle_chunk_size",
            "shuffle_chunk_seed", "aug_seq"}
_NOOP_VALUES = {"aug_seq": "aug_default"}


def _scan_offsets(uri):
    """Byte offsets of every record in a .rec file (validates the whole container)."""
    with open(uri, "rb") as f:
        return recordio._scan_offsets(f, uri)


def _read_idx_offsets(path):
    offsets = []
    with open(path) as f:
        for line in f:
            fields = line.split("\t")
            if len(fields) >= 2:
                offsets.append(int(fields[1]))
    return sorted(offsets)


def _part_offsets(offsets, size, num_parts, part_index):
    """The records of one part as dmlc's InputSplit cuts a .rec: by bytes (4-byte aligned), each
    record going to the part its first byte falls in."""
    step = (size + num_parts - 1) // num_parts
    step = (step + 3) // 4 * 4
    begin, end = min(step * part_index, size), min(step * (part_index + 1), size)
    return [o for o in offsets if begin <= o < end]


def _read_imglist(path, label_width, name):
    """{image index: label} from an image list `index \\t label... \\t path` (MXNet's ImageLabelMap;
    label_width <= 0: every field between the index and the path, as its ImageDetLabelMap)."""
    labels = {}
    with open(path) as f:
        for line in f:
            fields = line.split()
            if not fields:
                continue
            if label_width > 0:
                if len(fields) < 1 + label_width:
                    raise MXNetError("%s: bad path_imglist line %r: fewer than label_width=%d labels"
                                     % (name, line.rstrip(), label_width))
                values = fields[1:1 + label_width]
            else:
                values = fields[1:-1]
                if not values:
                    raise MXNetError("%s: bad path_imglist line %r: empty label" % (name, line.rstrip()))
            labels[int(float(fields[0]))] = np.asarray([float(x) for x in values], np.float32)
    return labels


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_HEAD = struct.Struct("<II")


def _read_single(f, offset):
    """The record at `offset` of open file `f` when it is a whole one (two preads, no seek),
    else None: the caller's validating reader then deals with parts, damage and the end."""
    head = os.pread(f.fileno(), 8, offset)
    if len(head) == 8:
        magic, lrec = _HEAD.unpack(head)
        if magic == recordio._MAGIC and lrec >> 29 == 0:
            body = os.pread(f.fileno(), lrec & recordio._LEN_MASK, offset + 8)
            if len(body) == lrec & recordio._LEN_MASK:
                return body
    return None


def _decode(payload, channels):
    """A record's image as an RGB array, a Pillow image (RGBA) or, for one channel, a gray
    array."""
    if channels != 4:
        arr = decode_jpeg(payload, "RGB" if channels == 3 else "GRAY")
        if arr is not None:
            return arr
    from PIL import Image

    img = Image.open(_io.BytesIO(payload))
    if channels == 4:
        if "A" not in img.mode and "transparency" not in img.info:
            raise ValueError("expected 4 channels, the image has %d (mode %s)"
                             % (len(img.getbands()), img.mode))
        return img.convert("RGBA")
    if channels == 3:
        return img if img.mode == "RGB" else img.convert("RGB")  # convert would copy an RGB one
    return decode_gray(img)


def _mean_image(path, offsets, augment, channels):
    """MXNet's `mean_img`: the mean (C, H, W) of every image after the augmenter's
    deterministic steps (resize, center crop), in float32."""
    total = None
    with open(path, "rb") as f:
        for offset in offsets:
            f.seek(int(offset))
            record = recordio._read_record(f, path)
            if record is None:
                raise MXNetError("ImageRecordIter: no record at byte offset %d of %s"
                                 % (offset, path))
            _, payload = recordio.unpack(record)
            arr = np.asarray(_decode(payload, channels))
            arr = augment(arr[:, :, None] if arr.ndim == 2 else arr, None)
            total = arr.astype(np.float64) if total is None else total + arr
    return (total / len(offsets)).transpose(2, 0, 1).astype(np.float32)


class _Pending:
    """One batch being decoded: its buffer, the tasks filling it, and its bookkeeping."""

    def __init__(self, data, label, ids, futures, pad, overflow):
        self.data, self.label, self.ids = data, label, ids
        self.futures, self.pad, self.overflow = futures, pad, overflow
        self.draws = None


class _RecordPipelineIter(_NativeIter):
    """The machinery shared by the image record iterators: per-epoch record order, batches of
    samples decoded by a thread pool up to `prefetch_buffer` batches ahead, round_batch wrap.

    Subclasses call `_start` at the end of __init__ and define `_load` (fill one slot of a
    `_Pending`) or `_load_chunk` (fill consecutive slots), `provide_label` and `_batch_label`
    (the label array a batch carries).
    """

    _label_fill = 0.0

    def _start(self, path_imgrec, offsets, data_shape, label_len, shuffle, round_batch, seed,
               preprocess_threads, prefetch_buffer, data_name, label_name):
        self.path_imgrec = path_imgrec
        self._offsets = np.asarray(offsets, np.int64)
        self.data_shape = tuple(data_shape)
        self._label_len = int(label_len)
        self.shuffle = bool(shuffle)
        self.round_batch = bool(round_batch)
        self.seed = int(seed)
        self.data_name, self.label_name = data_name, label_name
        self._prefetch = max(1, int(prefetch_buffer))
        if not hasattr(self, "_out_dtype"):
            self._out_dtype = np.float32
        # Workers past the cores only contend for them, and for the GIL between decodes (4
        # threads on 2 cores halved the rate on 32x32 images).
        threads = max(1, min(int(preprocess_threads), _cores()))
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=type(self).__name__)
        # A task per sample costs ~30 us of the consumer's time in submit and result, as much
        # as a small image's decode; two tasks a thread per batch still balance the load.
        self._chunk = max(1, min(16, -(-self.batch_size // (2 * threads))))
        self._local = threading.local()
        self._files = []
        self._files_lock = threading.Lock()
        self._epoch = 0
        self._order = self._epoch_order()
        self._sched_pos = 0
        self._overflow = 0
        self._pending = collections.deque()
        self.current_batch = None
        self._fill()

    @property
    def provide_data(self):
        return [DataDesc(self.data_name, (self.batch_size,) + self.data_shape, self._out_dtype)]

    def _epoch_order(self):
        if self.shuffle:
            return np.random.RandomState([self.seed, self._epoch]).permutation(self._offsets.size)
        return np.arange(self._offsets.size)

    # ---- worker side -------------------------------------------------------------------------
    def _file(self):
        f = getattr(self._local, "f", None)
        if f is None:
            f = open(self.path_imgrec, "rb")
            self._local.f = f
            with self._files_lock:
                self._files.append(f)
        return f

    def _read(self, record, channels):
        """(header, decoded Pillow image or gray array, byte offset) of one record (pool side)."""
        f = self._file()
        offset = int(self._offsets[record])
        s = _read_single(f, offset)
        if s is None:
            f.seek(offset)
            s = recordio._read_record(f, self.path_imgrec)
        if s is None:
            raise MXNetError("%s: no record at byte offset %d of %s"
                             % (type(self).__name__, offset, self.path_imgrec))
        header, payload = recordio.unpack(s)
        try:
            img = _decode(payload, channels)
        except Exception as e:
            raise MXNetError("%s: cannot decode the image at byte offset %d of %s: %s"
                             % (type(self).__name__, offset, self.path_imgrec, e)) from e
        return header, img, offset

    # ---- consumer side -----------------------------------------------------------------------
    def _fill(self):
        n = self._order.size
        while len(self._pending) < self._prefetch and self._sched_pos < n:
            start = self._sched_pos
            pos = np.arange(start, min(start + self.batch_size, n))
            pad = self.batch_size - pos.size
            overflow = 0
            if pad and self.round_batch:
                if pad > n:  # MXNet's loader wraps around once only
                    raise MXNetError("ImageRecordIter: round_batch cannot fill a batch of %d from %d records: "
                                     "number of input must be bigger than batch size" % (self.batch_size, n))
                pos = np.concatenate([pos, np.arange(pad)])
                overflow = pad
            c, h, w = self.data_shape
            p = _Pending(np.zeros((self.batch_size, c, h, w), np.float32),
                         np.full((self.batch_size, self._label_len), self._label_fill, np.float32),
                         np.zeros(self.batch_size, np.uint64), [], pad, overflow)
            p.draws = self._batch_draws(self._epoch, start)
            records = self._order[pos].tolist()
            p.futures = [self._pool.submit(self._load_chunk, p, i, records[i:i + self._chunk],
                                           self._epoch, start + i)
                         for i in range(0, len(records), self._chunk)]
            self._pending.append(p)
            self._sched_pos += self.batch_size

    def _batch_draws(self, epoch, start):
        """Random numbers made once per batch for its tasks to share (see ImageRecordIter)."""
        return None

    def _load_chunk(self, pending, first, records, epoch, pos):
        """Fills slots first, first + 1, ... of `pending` with `records` (runs in the pool)."""
        for i, record in enumerate(records):
            self._load(first + i, pending, record, epoch, pos + i)

    def iter_next(self):
        if not self._pending:
            return False
        p = self._pending.popleft()
        for fut in p.futures:
            fut.result()  # re-raises a worker's error here, in the consumer
        self._overflow = p.overflow
        label = self._batch_label(p.label)
        data = p.data if self._out_dtype == np.float32 else _cast_pixels(p.data, self._out_dtype)
        self.current_batch = DataBatch([nd.array(data, dtype=self._out_dtype)], [nd.array(label)],
                                pad=p.pad, index=p.ids)
        self._fill()
        return True

    def reset(self):
        for p in self._pending:
            for fut in p.futures:
                fut.cancel()
        self._pending.clear()
        if self.round_batch and self._overflow:
            # the wrapped samples were this epoch's first ones: continue after them, same order
            self._sched_pos = self._overflow
        else:
            self._epoch += 1
            self._order = self._epoch_order()
            self._sched_pos = 0
        self._overflow = 0
        self._fill()

    def close(self, wait=True):
        """Stop the decoding threads and close the file handles."""
        pool = getattr(self, "_pool", None)
        if pool is not None:
            self._pool = None
            pool.shutdown(wait=wait, cancel_futures=True)
        with getattr(self, "_files_lock", threading.Lock()):
            files, self._files = getattr(self, "_files", []), []
        for f in files:
            f.close()  # a worker still reading gets an error nobody collects

    def __del__(self):
        # May run on a pool thread (the last reference can die with a task): never join there.
        try:
            self.close(wait=False)
        except Exception:
            pass


class ImageRecordIter(_RecordPipelineIter):
    """Iterates over an image .rec file (see `mx.recordio.pack_img` and `oxnet.tools.im2rec`).

    data_shape: (channels, height, width) with channels 1 (gray), 3 (RGB) or 4 (RGBA, whose
    images must have alpha; mean_a and std_a normalize it).
    round_batch=True wraps the last batch around to the start (pad = wrapped samples, and the
    next epoch starts after them); False zero-fills it (pad = missing samples).
    """

    def __init__(self, path_imgrec, data_shape, batch_size, path_imgidx="", shuffle=False,
                 rand_crop=False, rand_mirror=False, mean_r=0.0, mean_g=0.0, mean_b=0.0,
                 mean_a=0.0, std_r=1.0, std_g=1.0, std_b=1.0, std_a=1.0, scale=1.0, resize=-1,
                 label_width=1, preprocess_threads=4, round_batch=True, prefetch_buffer=4, seed=0,
                 num_parts=1, part_index=0, data_name="data", label_name="softmax_label",
                 mirror=False, max_random_contrast=0.0, max_random_illumination=0.0,
                 dtype=None, mean_img="", path_imglist="", seed_aug=None, **kwargs):
        super().__init__(batch_size)
        aug = {k: kwargs.pop(k) for k in list(kwargs) if k in _augment.DEFAULTS}
        unknown = sorted(set(kwargs) - _IGNORED)
        _ignore_unknown("ImageRecordIter", unknown)
        unsupported = sorted(k for k, v in kwargs.items() if k in _NOOP_VALUES and v != _NOOP_VALUES[k])
        if unsupported:
            raise NotImplementedError("ImageRecordIter: argument(s) %s are not supported by oxnet yet"
                                      % ", ".join(unsupported))
        data_shape = tuple(int(x) for x in data_shape)
        if len(data_shape) != 3 or data_shape[0] not in (1, 3, 4):
            raise ValueError("ImageRecordIter: data_shape must be (channels, height, width) with 1, 3 or 4 "
                             "channels, got %s" % (data_shape,))
        if batch_size < 1:
            raise ValueError("ImageRecordIter: batch_size must be positive, got %d" % batch_size)
        if label_width < 1:
            raise ValueError("ImageRecordIter: label_width must be positive, got %d" % label_width)
        if not 0 <= part_index < num_parts:
            raise ValueError("ImageRecordIter: need 0 <= part_index < num_parts, got %d, %d"
                             % (part_index, num_parts))
        path_imgrec = str(path_imgrec)
        try:
            offsets = _read_idx_offsets(path_imgidx) if path_imgidx else _scan_offsets(path_imgrec)
        except OSError as e:
            raise MXNetError('Check failed: allow_null: :Open "%s": %s' % (e.filename, e.strerror)) from e
        if path_imgidx:  # dmlc's indexed split: ceil(n / num_parts) records a part
            step = -(-len(offsets) // num_parts)
            offsets = offsets[step * part_index:step * (part_index + 1)]
        else:
            offsets = _part_offsets(offsets, os.path.getsize(path_imgrec), num_parts, part_index)
        if not offsets:
            raise MXNetError("ImageRecordIter: %s contains no records" % path_imgrec)
        self.rand_crop, self.rand_mirror = bool(rand_crop), bool(rand_mirror)
        self.mirror = bool(mirror)
        means, stds = (mean_r, mean_g, mean_b, mean_a), (std_r, std_g, std_b, std_a)
        c = data_shape[0]
        self._mean = np.asarray(means[:c], np.float32).reshape(c, 1, 1)
        self._mult = (np.float32(scale) / np.asarray(stds[:c], np.float32)).reshape(c, 1, 1)
        self._contrast, self._illumination = float(max_random_contrast), float(max_random_illumination)
        self.resize = int(resize)
        self.label_width = int(label_width)
        self._imglist = None
        if path_imglist:  # labels by image index, in place of the records' own
            if not os.path.isfile(path_imglist):
                raise MXNetError("ImageRecordIter: path_imglist %r: no such file" % (path_imglist,))
            self._imglist = _read_imglist(path_imglist, self.label_width, "ImageRecordIter")
        self._aug = _augment.DefaultAugmenter(data_shape[1], data_shape[2], resize=self.resize,
                                              rand_crop=self.rand_crop, **aug)
        if dtype is not None:
            self._out_dtype = np.dtype(dtype)
        if mean_img:
            # MXNet's mean image file ({"mean_img": (C, H, W)}), computed and saved when missing.
            if os.path.exists(mean_img):
                self._mean = nd.load(mean_img)["mean_img"].asnumpy()
            else:
                fixed = _augment.DefaultAugmenter(data_shape[1], data_shape[2], resize=self.resize)
                self._mean = _mean_image(path_imgrec, offsets, fixed, c)
                nd.save(mean_img, {"mean_img": nd.array(self._mean)})
            if self._mean.shape != data_shape:
                raise MXNetError("ImageRecordIter: mean_img %s has shape %s, data_shape is %s"
                                 % (mean_img, self._mean.shape, data_shape))
        self._mean_chw = np.ascontiguousarray(np.broadcast_to(self._mean, data_shape), np.float32)
        self._mult_c = np.ascontiguousarray(self._mult.ravel())
        self._jitter = self._contrast > 0 or self._illumination > 0
        self._aug_seed = int(seed if seed_aug is None else seed_aug)
        self._start(path_imgrec, offsets, data_shape, self.label_width, shuffle, round_batch, seed,
                    preprocess_threads, prefetch_buffer, data_name, label_name)

    @property
    def provide_label(self):
        shape = (self.batch_size,) if self.label_width == 1 else (self.batch_size, self.label_width)
        return [DataDesc(self.label_name, shape, np.float32)]

    def _batch_label(self, label):
        return label[:, 0] if self.label_width == 1 else label

    # Scalar draws a sample usually needs (crop corner, mirror, contrast, illumination, ...);
    # a sample that needs more continues on its own Generator (_augment.SampleRng).
    _DRAWS = 16

    def _batch_draws(self, epoch, start):
        return np.random.default_rng([self._aug_seed, epoch, start, 1]).random((self.batch_size, self._DRAWS))

    def _load_chunk(self, pending, first, records, epoch, pos):
        """Read, decode and augment consecutive samples into pending's buffers, then crop,
        mirror and normalize them in one native call (runs in the pool)."""
        images = []
        for i, record in enumerate(records):
            header, img, offset = self._read(record, self.data_shape[0])
            label = header.label
            if self._imglist is not None:
                label = self._imglist.get(int(header.id))
                if label is None:
                    raise MXNetError("ImageRecordIter: path_imglist has no label for image index %d "
                                     "(record at byte offset %d of %s)" % (header.id, offset, self.path_imgrec))
            elif not (self.label_width == 1 and isinstance(label, float)):
                label = np.atleast_1d(np.asarray(label, np.float32))
                if label.size < self.label_width:
                    raise MXNetError("ImageRecordIter: record at byte offset %d of %s has %d label(s), "
                                     "label_width is %d" % (offset, self.path_imgrec, label.size,
                                                            self.label_width))
                label = label[:self.label_width]
            pending.label[first + i] = label
            pending.ids[first + i] = header.id
            arr = np.asarray(img)
            images.append(np.ascontiguousarray(arr[:, :, None] if arr.ndim == 2 else arr))
        # The draws of every sample, vectorized over the chunk in SampleRng's order: window,
        # mirror, then MXNet's normalizer jitter, (pixel - mean) * contrast + illumination.
        n = len(images)
        draws = pending.draws[first:first + n]
        top, left, col, ok = self._aug.windows([a.shape for a in images], draws)
        if self.mirror or not self.rand_mirror:
            mirror = np.full(n, self.mirror)
        else:
            mirror, col = draws[:, col] < 0.5, col + 1
        windows = list(zip(top.tolist(), left.tolist(), mirror.tolist()))
        jitters = None
        if self._jitter:
            jitters = list(zip((1.0 + (-1.0 + 2.0 * draws[:, col]) * self._contrast).tolist(),
                               ((-1.0 + 2.0 * draws[:, col + 1]) * self._illumination).tolist()))
        for i in np.flatnonzero(~ok).tolist():  # the same draws, one sample at a time
            rng = _augment.SampleRng(draws[i].tolist(), [self._aug_seed, epoch, pos + i])
            images[i] = np.ascontiguousarray(self._aug(images[i], rng))
            windows[i] = (0, 0, self.mirror or (self.rand_mirror and rng.random() < 0.5))
            if self._jitter:
                jitters[i] = (1.0 + rng.uniform(-1, 1) * self._contrast,
                              rng.uniform(-1, 1) * self._illumination)
        _native.image_crop_normalize(images, windows, jitters, self._aug.p["fill_value"],
                                     self._mean_chw, self._mult_c, pending.data[first:first + n])


def _cast_pixels(data, dtype):
    """Float pixels as integers of `dtype`, saturated to its range as MXNet's iterators cast
    (an int8 pixel above 127 is 127, not wrapped)."""
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        data = np.clip(data, info.min, info.max)
    return data.astype(dtype)


class ImageRecordUInt8Iter(ImageRecordIter):
    """ImageRecordIter yielding the augmented uint8 pixels (no mean/std/scale), as MXNet's."""

    _pixel_dtype = np.uint8

    def __init__(self, *args, **kwargs):
        for k in ("mean_r", "mean_g", "mean_b", "std_r", "std_g", "std_b", "scale"):
            if k in kwargs:
                raise MXNetError("%s: cannot find argument %s" % (type(self).__name__, k))
        super().__init__(*args, **kwargs)
        self._out_dtype = np.dtype(self._pixel_dtype)

    @property
    def provide_data(self):
        return [DataDesc(self.data_name, (self.batch_size,) + self.data_shape, self._out_dtype)]


class ImageRecordInt8Iter(ImageRecordUInt8Iter):
    """ImageRecordIter yielding the augmented pixels as int8, saturated at 127, as MXNet's."""

    _pixel_dtype = np.int8
