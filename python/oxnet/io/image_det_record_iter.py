"""ImageDetRecordIter: batches of decoded, augmented images and their boxes from a detection .rec.

Reimplements MXNet 1.9.1's C++ ImageDetRecordIter (src/io/iter_image_det_recordio.cc with the
`det_aug_default` augmenter of src/io/image_det_aug_default.cc and ImageDetNormalizeIter) on the
prefetching pipeline of ImageRecordIter. Per sample, in MXNet's order: decode, `resize` of the
shorter edge, color jitter in HLS (RGB only) and contrast, mirror, random pad, random crop (samplers), then
`resize_mode` into data_shape; the image goes to the top-left of a zeroed (C, H, W) slot.

The record label is `[header_width, object_width, extra header..., (cls, xmin, ymin, xmax, ymax,
extra...) x N]`, coordinates normalized to [0, 1]; objects with xmax <= xmin or ymax <= ymin are
dropped. Each batch label row is MXNet's layout, (batch, label_pad_width + 4):
`[channels, rows, cols, len(label), label..., label_pad_value...]` where rows/cols are the image
size before it was placed in the slot (smaller than data_shape with 'fit'/'shrink').
With label_pad_width <= 0 the width is the longest label in the part, as MXNet estimates it.

Without random augmentation, output is bit-identical to MXNet 1.9.1 (tests/python/
test_io_det_record.py; INTER_AREA shrinks, inter_method 3 or 9, within one gray level).
Random draws come from numpy seeded by (seed, epoch, position), so
they differ from MXNet's. Deliberate differences: unknown arguments raise TypeError (MXNet
ignores them); `dtype` casts the output (MXNet 1.9.1 fails for anything but float32); with
round_batch=False the missing samples of the last batch are zeros with label_pad_value labels
and index 0 (MXNet repeats stale samples); shuffle permutes the whole part each epoch.

MXNet quirks kept: num_parts splits the file by bytes (a record belongs to the part its first
byte falls in), not by record count; means are subtracted only when one is positive and stds
divide only when positive; a crop passes when one object meets all of the sampler's active
(min > 0 or max < 1) overlap/coverage limits and one object survives crop_emit_mode; the
aspect-ratio draw is a square root of a uniform draw between max(min_ratio / image aspect, s^2)
and min(max_ratio / image aspect, 1 / s^2); a created mean_img averages the std-divided, scaled
images but is subtracted before the division.
"""
import os
import struct

import numpy as np

from .. import ndarray as nd
from .. import recordio
from ..base import MXNetError
from ._imgops import resize as _cv_resize
from .base import DataDesc
from .image_record_iter import _part_offsets, _read_imglist, _RecordPipelineIter, _scan_offsets

# Every argument of MXNet 1.9.1's ImageDetRecordIter, with its default (None: required).
_PARAMS = {
    "path_imglist": "", "path_imgrec": "./data/imgrec.rec", "aug_seq": "det_aug_default",
    "label_width": -1, "data_shape": None, "preprocess_threads": 4, "verbose": True,
    "num_parts": 1, "part_index": 0, "shuffle_chunk_size": 0, "shuffle_chunk_seed": 0,
    "label_pad_width": 0, "label_pad_value": -1.0, "shuffle": False, "seed": 0, "batch_size": None,
    "round_batch": True, "prefetch_buffer": 4, "ctx": "gpu", "dtype": None, "resize": -1,
    "rand_crop_prob": 0.0, "min_crop_scales": (0.0,), "max_crop_scales": (1.0,),
    "min_crop_aspect_ratios": (1.0,), "max_crop_aspect_ratios": (1.0,),
    "min_crop_overlaps": (0.0,), "max_crop_overlaps": (1.0,),
    "min_crop_sample_coverages": (0.0,), "max_crop_sample_coverages": (1.0,),
    "min_crop_object_coverages": (0.0,), "max_crop_object_coverages": (1.0,),
    "num_crop_sampler": 1, "crop_emit_mode": "center", "emit_overlap_thresh": 0.3,
    "max_crop_trials": (25,), "rand_pad_prob": 0.0, "max_pad_scale": 1.0,
    "max_random_hue": 0, "random_hue_prob": 0.0, "max_random_saturation": 0,
    "random_saturation_prob": 0.0, "max_random_illumination": 0, "random_illumination_prob": 0.0,
    "max_random_contrast": 0.0, "random_contrast_prob": 0.0, "rand_mirror_prob": 0.0,
    "fill_value": 127, "inter_method": 1, "resize_mode": "force", "mean_img": "",
    "mean_r": 0.0, "mean_g": 0.0, "mean_b": 0.0, "mean_a": 0.0,
    "std_r": 0.0, "std_g": 0.0, "std_b": 0.0, "std_a": 0.0, "scale": 1.0,
    # Python-side names of MXNet's MXDataIter
    "data_name": "data", "label_name": "softmax_label",
}
_CROP_TUPLES = ("min_crop_scales", "max_crop_scales", "min_crop_aspect_ratios", "max_crop_aspect_ratios",
                "min_crop_overlaps", "max_crop_overlaps", "min_crop_sample_coverages",
                "max_crop_sample_coverages", "min_crop_object_coverages", "max_crop_object_coverages",
                "max_crop_trials")
_DTYPES = {None: np.float32, "None": np.float32, "float16": np.float16, "float32": np.float32,
           "float64": np.float64, "int32": np.int32, "int64": np.int64, "int8": np.int8, "uint8": np.uint8}
_INTER_METHODS = (0, 1, 2, 3, 4, 9, 10)
_NAME = "ImageDetRecordIter"


def _tuple(name, value, kind=float):
    v = value if isinstance(value, (tuple, list, np.ndarray)) else (value,)
    try:
        return [kind(x) for x in v]
    except (TypeError, ValueError):
        raise ValueError("%s: %s must be a number or a tuple of numbers, got %r" % (_NAME, name, value)) from None


def _from_string(name, value):
    """MXNet passes every argument to C++ as a string; accept the strings it would parse."""
    default = _PARAMS[name]
    if not isinstance(value, str) or isinstance(default, str):
        return value
    text = value.strip()
    try:
        if name == "data_shape" or isinstance(default, tuple):
            return tuple(float(x) for x in text.strip("()[]").split(",") if x.strip())
        if isinstance(default, bool):
            if text.lower() in ("1", "true"):
                return True
            if text.lower() in ("0", "false"):
                return False
            raise ValueError(text)
        if name == "batch_size" or isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
    except ValueError:
        raise ValueError("%s: cannot parse %s=%r" % (_NAME, name, value)) from None
    return value


def _uniform(rng, a, b):
    """std::uniform_real_distribution<float>(a, b): also defined (between them) when a > b."""
    a, b = np.float32(a), np.float32(b)
    return np.float32(a + (b - a) * np.float32(rng.random()))


def _label_size(f, path, offset):
    """Number of label values of the record at offset, reading its headers only (a .rec of
    images is mostly payload); the whole record when its first part is too short to hold them."""
    f.seek(offset)
    head = f.read(8 + recordio._IR_SIZE)
    if len(head) == 8 + recordio._IR_SIZE:
        length = struct.unpack("<I", head[4:8])[0] & recordio._LEN_MASK
        flag = struct.unpack("<I", head[8:12])[0]
        if length >= recordio._IR_SIZE + 4 * flag:
            return max(flag, 1)
    f.seek(offset)
    header, _ = recordio.unpack(recordio._read_record(f, path))
    return _record_label(header).size


def _record_label(header):
    return np.atleast_1d(np.asarray(header.label, np.float32))


# ---- labels ---------------------------------------------------------------------------------
class _DetLabel:
    """A raw detection label split into its header and an (N, object_width) float32 array of
    valid objects (MXNet's ImageDetLabel)."""

    def __init__(self, raw, where):
        raw = np.asarray(raw, np.float32)
        if raw.size < 7:
            raise MXNetError("%s: %s: detection label needs at least 7 values (header_width, "
                             "object_width, one object), got %d" % (_NAME, where, raw.size))
        hw, ow = int(raw[0]), int(raw[1])
        if hw < 2 or ow < 5 or (raw.size - hw) % ow or hw > raw.size:
            raise MXNetError("%s: %s: bad detection label: header_width %d, object_width %d, %d values"
                             % (_NAME, where, hw, ow, raw.size))
        self.header = raw[:hw].copy()
        objs = raw[hw:].reshape(-1, ow)
        self.objects = objs[(objs[:, 3] > objs[:, 1]) & (objs[:, 4] > objs[:, 2])].copy()

    def to_array(self):
        return np.concatenate([self.header, self.objects.reshape(-1)])

    def project(self, box, objects=None):
        """Coordinates relative to box (x, y, w, h), clipped to [0, 1] on the far sides only."""
        o = (self.objects if objects is None else objects).copy()
        x, y, w, h = (np.float32(v) for v in box)
        o[:, 1] = np.maximum(np.float32(0), (o[:, 1] - x) / w)
        o[:, 2] = np.maximum(np.float32(0), (o[:, 2] - y) / h)
        o[:, 3] = np.minimum(np.float32(1), (o[:, 3] - x) / w)
        o[:, 4] = np.minimum(np.float32(1), (o[:, 4] - y) / h)
        return o


def _intersect(box, objs):
    """Intersection areas of box (x, y, w, h) with each (xmin, ymin, xmax, ymax) row."""
    x, y, w, h = box
    iw = np.minimum(x + w, objs[:, 3]) - np.maximum(x, objs[:, 1])
    ih = np.minimum(y + h, objs[:, 4]) - np.maximum(y, objs[:, 2])
    return np.where((iw > 0) & (ih > 0), iw * ih, 0.0)


# ---- color jitter (OpenCV's 8-bit BGR<->HLS, H in [0, 180)) -----------------------------------
def _rgb_to_hls(rgb):
    c = rgb.astype(np.float32) / np.float32(255)
    r, g, b = c[..., 0], c[..., 1], c[..., 2]
    vmax, vmin = c.max(axis=-1), c.min(axis=-1)
    diff = vmax - vmin
    l = (vmax + vmin) * 0.5
    gray = diff <= np.finfo(np.float32).eps
    safe = np.where(gray, 1, diff)
    s = np.where(l < 0.5, diff / np.where(gray, 1, vmax + vmin), diff / np.where(gray, 1, 2 - vmax - vmin))
    h = np.where(vmax == r, (g - b) * 60 / safe, np.where(vmax == g, (b - r) * 60 / safe + 120,
                                                          (r - g) * 60 / safe + 240))
    h = np.where(h < 0, h + 360, h)
    h, s = np.where(gray, 0, h), np.where(gray, 0, s)
    return np.stack([np.rint(h * 0.5), np.rint(l * 255), np.rint(s * 255)], -1).clip(0, 255)


def _hls_to_rgb(hls):
    h, l, s = hls[..., 0] * (6.0 / 180), hls[..., 1] / 255.0, hls[..., 2] / 255.0
    p2 = np.where(l <= 0.5, l * (1 + s), l + s - l * s)
    p1 = 2 * l - p2
    h = np.mod(h, 6.0)
    sector = np.floor(h).astype(np.int64) % 6
    f = h - np.floor(h)
    tab = np.stack([p2, p1, p1 + (p2 - p1) * (1 - f), p1 + (p2 - p1) * f], -1)
    order = np.array([[1, 3, 0], [1, 0, 2], [3, 0, 1], [0, 2, 1], [0, 1, 3], [2, 1, 0]])  # b, g, r
    bgr = np.take_along_axis(tab, order[sector], axis=-1)
    rgb = np.where((s == 0)[..., None], l[..., None], bgr[..., ::-1])
    return np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)


class ImageDetRecordIter(_RecordPipelineIter):
    """Iterates over a detection .rec file (labels as described in the module docstring).

    Takes MXNet 1.9.1's arguments with its defaults; data_shape and batch_size are required.
    """

    def __init__(self, **kwargs):
        unknown = sorted(set(kwargs) - set(_PARAMS))
        if unknown:
            raise TypeError("%s got unexpected keyword argument(s): %s" % (_NAME, ", ".join(unknown)))
        p = dict(_PARAMS)
        p.update({k: _from_string(k, v) for k, v in kwargs.items()})
        missing = [k for k in ("data_shape", "batch_size") if p[k] is None]
        if missing:
            raise TypeError("%s: missing required argument(s): %s" % (_NAME, ", ".join(missing)))
        batch_size = int(p["batch_size"])
        if batch_size < 1:
            raise ValueError("%s: batch_size must be positive, got %d" % (_NAME, batch_size))
        super().__init__(batch_size)
        try:
            data_shape = tuple(int(x) for x in p["data_shape"])
        except (TypeError, ValueError):
            raise ValueError("%s: data_shape must be (channels, height, width), got %r"
                             % (_NAME, p["data_shape"])) from None
        if len(data_shape) != 3 or min(data_shape) <= 0:
            raise ValueError("%s: data_shape must be (channels, height, width) with positive sizes, got %s"
                             % (_NAME, data_shape))
        if data_shape[0] not in (1, 3, 4):
            raise ValueError("%s: data_shape[0] (channels) must be 1 (gray), 3 (RGB) or 4 (RGBA), got %d"
                             % (_NAME, data_shape[0]))
        num_parts, part_index = int(p["num_parts"]), int(p["part_index"])
        if not 0 <= part_index < num_parts:
            raise ValueError("%s: need 0 <= part_index < num_parts, got part_index=%d, num_parts=%d"
                             % (_NAME, part_index, num_parts))
        if p["aug_seq"] != "det_aug_default":
            raise NotImplementedError("%s: aug_seq=%r: only 'det_aug_default' is implemented"
                                      % (_NAME, p["aug_seq"]))
        dtype = p["dtype"]
        try:
            dtype = dtype if dtype is None or isinstance(dtype, str) else np.dtype(dtype).name
        except TypeError:
            pass
        if dtype not in _DTYPES:
            raise ValueError("%s: dtype must be one of %s, got %r"
                             % (_NAME, ", ".join(str(k) for k in _DTYPES if k != "None"), p["dtype"]))
        self._out_dtype = _DTYPES[dtype]
        self._init_aug(p, data_shape)

        path = str(p["path_imgrec"])
        if not os.path.isfile(path):
            raise MXNetError("%s: path_imgrec %r: no such file" % (_NAME, path))
        offsets = _scan_offsets(path)
        offsets = _part_offsets(offsets, os.path.getsize(path), num_parts, part_index)
        if not offsets:
            raise MXNetError("%s: part %d of %d of path_imgrec %s holds no records"
                             % (_NAME, part_index, num_parts, path))
        self.label_width = int(p["label_width"])
        self._imglist = None
        if p["path_imglist"]:
            if not os.path.isfile(p["path_imglist"]):
                raise MXNetError("%s: path_imglist %r: no such file" % (_NAME, p["path_imglist"]))
            self._imglist = _read_imglist(p["path_imglist"], self.label_width, _NAME)
            max_width = max((v.size for v in self._imglist.values()), default=0)
        else:
            max_width = self._scan_labels(path, offsets)
        pad_width = int(p["label_pad_width"])
        if max_width > pad_width:
            if pad_width > 0:
                raise MXNetError("%s: label_pad_width %d is smaller than the longest label, %d"
                                 % (_NAME, pad_width, max_width))
            pad_width = max_width
        self.label_pad_width = pad_width
        self.label_pad_value = np.float32(p["label_pad_value"])
        self._label_fill = self.label_pad_value
        self._init_norm(p, data_shape)
        self._start(path, offsets, data_shape, pad_width + 4, p["shuffle"], p["round_batch"], p["seed"],
                    p["preprocess_threads"], p["prefetch_buffer"], p["data_name"], p["label_name"])
        if self._mean_img_path and self._mean_img is None:
            self._make_mean_img()

    # ---- set-up --------------------------------------------------------------------------------
    def _init_aug(self, p, data_shape):
        self.resize = int(p["resize"])
        self.resize_mode = p["resize_mode"]
        if self.resize_mode not in ("force", "shrink", "fit"):
            raise ValueError("%s: resize_mode must be 'force', 'shrink' or 'fit', got %r" % (_NAME, self.resize_mode))
        self.inter_method = int(p["inter_method"])
        if self.inter_method not in _INTER_METHODS:
            raise ValueError("%s: inter_method must be one of %s, got %d" % (_NAME, _INTER_METHODS, self.inter_method))
        n = int(p["num_crop_sampler"])
        self.num_crop_sampler = n
        crop = {}
        for name in _CROP_TUPLES:
            v = _tuple(name, p[name], int if name == "max_crop_trials" else float)
            if n == 1 and len(v) != 1:
                raise ValueError("%s: %s must hold one value with num_crop_sampler=1, got %d"
                                 % (_NAME, name, len(v)))
            if n > 1:
                if len(v) == 1:
                    v = v * n
                elif len(v) != n:
                    raise ValueError("%s: %s holds %d values for num_crop_sampler=%d" % (_NAME, name, len(v), n))
            crop[name] = v
        for i in range(max(n, 0)):
            if not (crop["min_crop_scales"][i] >= 0 and crop["max_crop_scales"][i] <= 1
                    and crop["max_crop_scales"][i] > crop["min_crop_scales"][i]):
                raise ValueError("%s: crop sampler %d: need 0 <= min_crop_scales < max_crop_scales <= 1" % (_NAME, i))
            for lo, hi in (("min_crop_aspect_ratios", "max_crop_aspect_ratios"),
                           ("min_crop_overlaps", "max_crop_overlaps"),
                           ("min_crop_sample_coverages", "max_crop_sample_coverages"),
                           ("min_crop_object_coverages", "max_crop_object_coverages")):
                if crop[hi][i] < crop[lo][i]:
                    raise ValueError("%s: crop sampler %d: %s is below %s" % (_NAME, i, hi, lo))
            if crop["min_crop_aspect_ratios"][i] < 0:
                raise ValueError("%s: crop sampler %d: min_crop_aspect_ratios is negative" % (_NAME, i))
        self._crop = crop
        if p["crop_emit_mode"] not in ("center", "overlap"):
            raise ValueError("%s: crop_emit_mode must be 'center' or 'overlap', got %r" % (_NAME, p["crop_emit_mode"]))
        self.crop_emit_mode = p["crop_emit_mode"]
        self.emit_overlap_thresh = np.float32(p["emit_overlap_thresh"])
        if self.emit_overlap_thresh < 0:
            raise ValueError("%s: emit_overlap_thresh must be >= 0" % _NAME)
        for name in ("rand_crop_prob", "rand_pad_prob", "max_pad_scale", "random_hue_prob",
                     "random_saturation_prob", "random_illumination_prob", "max_random_contrast",
                     "random_contrast_prob", "rand_mirror_prob"):
            setattr(self, name, float(p[name]))
        for name in ("max_random_hue", "max_random_saturation", "max_random_illumination", "fill_value"):
            setattr(self, name, int(p[name]))

    def _init_norm(self, p, data_shape):
        c = data_shape[0]
        means = np.asarray([p["mean_r"], p["mean_g"], p["mean_b"], p["mean_a"]], np.float32)
        stds = np.asarray([p["std_r"], p["std_g"], p["std_b"], p["std_a"]], np.float32)
        # MXNet subtracts the per-channel means only when one of them is positive, divides only by
        # positive stds, and ignores mean_img when means are given.
        self._mean = means[:c].reshape(c, 1, 1) if (means > 0).any() else None
        self._std = np.where(stds > 0, stds, np.float32(1))[:c].reshape(c, 1, 1)
        self._scale = np.float32(p["scale"])
        self._mean_img_path = str(p["mean_img"]) if self._mean is None else ""
        self._mean_img = None
        if self._mean_img_path and os.path.isfile(self._mean_img_path):
            loaded = nd.load(self._mean_img_path)
            arrays = list(loaded.values()) if isinstance(loaded, dict) else list(loaded)
            if len(arrays) != 1:
                raise MXNetError("%s: mean_img %s: invalid mean image file (holds %d arrays)"
                                 % (_NAME, self._mean_img_path, len(arrays)))
            self._mean_img = arrays[0].asnumpy().astype(np.float32)
            if self._mean_img.shape != data_shape:
                raise MXNetError("%s: mean_img %s has shape %s, data_shape is %s"
                                 % (_NAME, self._mean_img_path, self._mean_img.shape, data_shape))

    def _scan_labels(self, path, offsets):
        """Longest raw label of the part; checks label_width (MXNet reads every header up front)."""
        longest = 0
        with open(path, "rb") as f:
            for off in offsets:
                n = _label_size(f, path, off)
                if self.label_width > 0 and n != self.label_width:
                    raise MXNetError("%s: record at byte offset %d of %s has a %d-value label, "
                                     "label_width is %d" % (_NAME, off, path, n, self.label_width))
                longest = max(longest, n)
        return longest

    def _make_mean_img(self):
        """MXNet's mean_img creation: average every sample of the part (normalized without a mean)
        and save it under mean_img as {'mean_img': array}."""
        total = np.zeros(self.data_shape, np.float32)  # float32 sums and 1/n, as MXNet
        for k in range(self._offsets.size):
            data, _, _ = self._sample(k, -1, k)
            total += self._normalize(data)
        self._mean_img = total * np.float32(1.0 / self._offsets.size)
        nd.save(self._mean_img_path, {"mean_img": nd.array(self._mean_img)})
        for pending in self._pending:  # decoded before the mean existed: start over
            for fut in pending.futures:
                fut.cancel()
            for fut in pending.futures:
                if not fut.cancelled():
                    fut.exception()
        self._pending.clear()
        self._sched_pos = 0
        self._fill()

    @property
    def provide_label(self):
        return [DataDesc(self.label_name, (self.batch_size, self.label_pad_width + 4), np.float32)]

    def _batch_label(self, label):
        return label

    # ---- one sample (pool side) -----------------------------------------------------------------
    def _load(self, slot, pending, record, epoch, pos):
        data, label, rec_id = self._sample(record, epoch, pos)
        if self._mean is None and self._mean_img is not None:
            data -= self._mean_img
        pending.data[slot] = self._normalize(data)
        pending.label[slot] = label
        pending.ids[slot] = rec_id

    def _normalize(self, data):
        if self._mean is not None:
            data = data - self._mean
        return (data / self._std) * self._scale

    def _sample(self, record, epoch, pos):
        """(float32 (C, H, W) pixels, label row, record id) of one record, augmented."""
        c, th, tw = self.data_shape
        header, img, offset = self._read(record, c)
        where = "record at byte offset %d of %s" % (offset, self.path_imgrec)
        if self._imglist is not None:
            if int(header.id) not in self._imglist:
                raise MXNetError("%s: path_imglist has no label for image index %d" % (_NAME, header.id))
            raw = self._imglist[int(header.id)]
        else:
            raw = _record_label(header)
            if self.label_width > 0 and raw.size != self.label_width:
                raise MXNetError("%s: %s has a %d-value label, label_width is %d"
                                 % (_NAME, where, raw.size, self.label_width))
        rng = np.random.default_rng([self.seed, epoch + 1, pos])
        arr = np.asarray(img)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        arr, label = self._augment(arr, _DetLabel(raw, where), rng)
        buf = label.to_array()
        if buf.size > self.label_pad_width:
            raise MXNetError("%s: %s: label of %d values exceeds label_pad_width %d"
                             % (_NAME, where, buf.size, self.label_pad_width))
        data = np.zeros(self.data_shape, np.float32)
        h, w = arr.shape[:2]
        data[:, :h, :w] = arr.transpose(2, 0, 1)
        row = np.full(self.label_pad_width + 4, self.label_pad_value, np.float32)
        row[:4] = (arr.shape[2], h, w, buf.size)
        row[4:4 + buf.size] = buf
        return data, row, header.id

    def _interp(self, old_w, old_h, new_w, new_h, rng):
        m = self.inter_method
        if m == 9:
            if new_w > old_w and new_h > old_h:
                return 2
            if new_w < old_w and new_h < old_h:
                return 3
            return 1
        if m == 10:
            return int(rng.integers(0, 5))
        return m

    def _resize_to(self, arr, w, h, rng):
        w, h = max(1, int(w)), max(1, int(h))
        out = _cv_resize(arr, w, h, self._interp(arr.shape[1], arr.shape[0], w, h, rng))
        return out[:, :, None] if out.ndim == 2 else out

    def _augment(self, arr, label, rng):
        """MXNet's det_aug_default on an (H, W, C) uint8 image and its _DetLabel."""
        if self.resize != -1:
            h, w = arr.shape[:2]
            if h > w:
                arr = self._resize_to(arr, self.resize, self.resize * h // w, rng)
            else:
                arr = self._resize_to(arr, self.resize * w // h, self.resize, rng)
        arr = self._color(arr, rng)
        if self.rand_mirror_prob > 0 and rng.random() < self.rand_mirror_prob:
            o = label.objects
            o[:, 1], o[:, 3] = 1 - o[:, 3], 1 - o[:, 1].copy()
            arr = arr[:, ::-1]
        if self.rand_pad_prob > 0 and self.max_pad_scale > 1 and rng.random() < self.rand_pad_prob:
            arr = self._pad(arr, label, rng)
        if self.rand_crop_prob > 0 and self.num_crop_sampler > 0 and rng.random() < self.rand_crop_prob:
            arr = self._random_crop(arr, label, rng)
        _, th, tw = self.data_shape
        h, w = arr.shape[:2]
        if self.resize_mode == "force":
            arr = self._resize_to(arr, tw, th, rng)
        elif self.resize_mode == "fit" or h > th or w > tw:
            ratio = min(np.float32(th) / np.float32(h), np.float32(tw) / np.float32(w))
            arr = self._resize_to(arr, ratio * np.float32(w), ratio * np.float32(h), rng)
        return np.ascontiguousarray(arr), label

    def _color(self, arr, rng):
        if not (self.random_hue_prob > 0 or self.random_saturation_prob > 0
                or self.random_illumination_prob > 0 or self.random_contrast_prob > 0):
            return arr
        u = rng.uniform(-1, 1, 4)
        h, s, l = int(u[0] * self.max_random_hue), int(u[1] * self.max_random_saturation), \
            int(u[2] * self.max_random_illumination)
        c = float(np.float32(u[3] * self.max_random_contrast))
        gate = rng.random(4)
        h = h if gate[0] < self.random_hue_prob else 0
        s = s if gate[1] < self.random_saturation_prob else 0
        l = l if gate[2] < self.random_illumination_prob else 0
        c = c if gate[3] < self.random_contrast_prob else 0.0
        if (h or s or l) and arr.shape[2] == 3:
            hls = _rgb_to_hls(arr) + np.asarray([h, l, s], np.float32)
            hls = np.clip(hls, 0, np.asarray([180, 255, 255], np.float32))
            arr = _hls_to_rgb(hls)
        if abs(c) > 1e-3:
            arr = np.clip(np.rint(arr.astype(np.float32) * np.float32(c + 1)), 0, 255).astype(np.uint8)
        return arr

    def _pad(self, arr, label, rng):
        s = _uniform(rng, 1, self.max_pad_scale)
        if s < np.float32(1.05):
            return arr
        x0, y0 = _uniform(rng, 0, s - 1), _uniform(rng, 0, s - 1)
        label.objects = label.project((-x0, -y0, s, s))
        h, w = arr.shape[:2]
        left, top = int(x0 * w), int(y0 * h)
        right, bot = int((s - x0 - 1) * w), int((s - y0 - 1) * h)
        out = np.full((h + top + bot, w + left + right, arr.shape[2]), self.fill_value, np.uint8)
        out[top:top + h, left:left + w] = arr
        return out

    def _crop_box(self, i, img_aspect, rng):
        cr = self._crop
        scale = _uniform(rng, cr["min_crop_scales"][i], cr["max_crop_scales"][i]) + np.float32(1e-12)
        lo = max(np.float32(cr["min_crop_aspect_ratios"][i]) / img_aspect, scale * scale)
        hi = min(np.float32(cr["max_crop_aspect_ratios"][i]) / img_aspect, np.float32(1.0 / float(scale * scale)))
        ratio = np.float32(np.sqrt(_uniform(rng, lo, hi)))
        w, h = min(np.float32(1), scale * ratio), min(np.float32(1), scale / ratio)
        x, y = _uniform(rng, 0, 1 - w), _uniform(rng, 0, 1 - h)
        return (x, y, w, h)

    def _try_crop(self, box, i, label):
        """Objects projected into box, or None when the box fails the sampler's constraints."""
        objs = label.objects
        if objs.shape[0] == 0:
            return objs
        cr = self._crop
        lims = [(cr[a][i], cr[b][i]) for a, b in (("min_crop_overlaps", "max_crop_overlaps"),
                                                  ("min_crop_sample_coverages", "max_crop_sample_coverages"),
                                                  ("min_crop_object_coverages", "max_crop_object_coverages"))]
        active = [lo > 0 or hi < 1 for lo, hi in lims]
        if any(active):
            # valid when one object meets every active limit
            inter = _intersect(box, objs)
            gt_area = (objs[:, 3] - objs[:, 1]) * (objs[:, 4] - objs[:, 2])
            crop_area = box[2] * box[3]
            iou = np.where(inter > 0, inter / np.maximum(crop_area + gt_area - inter, 1e-12), 0)
            ok = np.ones(objs.shape[0], bool)
            for on, (lo, hi), v in zip(active, lims, (iou, inter / crop_area, inter / gt_area)):
                if on:
                    ok &= (v >= lo) & (v <= hi)
            if not ok.any():
                return None
        x, y, w, h = box
        if self.crop_emit_mode == "center":
            cx, cy = (objs[:, 1] + objs[:, 3]) * 0.5, (objs[:, 2] + objs[:, 4]) * 0.5
            keep = (cx >= x) & (cx < x + w) & (cy >= y) & (cy < y + h)
        else:
            gt_area = (objs[:, 3] - objs[:, 1]) * (objs[:, 4] - objs[:, 2])
            keep = _intersect(box, objs) / gt_area > self.emit_overlap_thresh
        if not keep.any():
            return None
        return label.project(box, objs[keep])

    def _random_crop(self, arr, label, rng):
        h, w = arr.shape[:2]
        for i in rng.permutation(self.num_crop_sampler):
            for _ in range(self._crop["max_crop_trials"][i]):
                box = self._crop_box(i, np.float32(w) / np.float32(h), rng)
                objs = self._try_crop(box, i, label)
                if objs is not None:
                    label.objects = objs
                    left, top = int(box[0] * w), int(box[1] * h)
                    cw, ch = max(1, int(box[2] * w)), max(1, int(box[3] * h))
                    return arr[top:top + ch, left:left + cw]
        return arr  # every sampler ran out of trials: keep the image
