"""Object detection augmenters and ImageDetIter (mx.image.detection, alias mx.image.det), as in
MXNet 1.9.1's python/mxnet/image/detection.py.

A detection label is a float array of shape (num_objects, object_width >= 5), each row
[class_id, xmin, ymin, xmax, ymax, extra...] with coordinates as fractions of the image size.
Records store it flattened behind a header: [header_width, object_width, header extras...,
objects...] (header_width >= 2 counts the header's own fields).

Detection augmenters are called as aug(src, label) and return (src, label). Their random
choices come from Python's `random` in MXNet's order, so `random.seed` reproduces MXNet's crops,
pads, flips and selections; draw_next's random box colors come from numpy's RNG as in MXNet.
"""
import inspect
import logging
import math
import numbers
import random
import warnings

import numpy as np

from .. import ndarray as nd
from ..base import MXNetError
from .image import (CastAug, ColorJitterAug, ColorNormalizeAug, ForceResizeAug, HueJitterAug,
                    LightingAug, RandomGrayAug, ResizeAug, Augmenter, _PCA_EIGVAL, _PCA_EIGVEC,
                    _check_mean_std, _dumpable, copyMakeBorder, fixed_crop)
from .image_iter import ImageIter

__all__ = ["DetAugmenter", "DetBorrowAug", "DetRandomSelectAug", "DetHorizontalFlipAug",
           "DetRandomCropAug", "DetRandomPadAug", "CreateMultiRandCropAugmenter",
           "CreateDetAugmenter", "ImageDetIter"]

_IMAGENET_MEAN = [123.68, 116.28, 103.53]
_IMAGENET_STD = [58.395, 57.12, 57.375]


def _range_pair(value, fn, name):
    """A (low, high) pair; a single number means (number, number)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError("%s: %s must be a number or a (low, high) pair, got %r" % (fn, name, value))
        return value
    if not isinstance(value, numbers.Number):
        raise TypeError("%s: %s must be a number or a (low, high) pair, got %r" % (fn, name, value))
    logging.info("Using fixed %s: %s in %s", name, value, fn)
    return (value, value)


def _as_label(label, fn):
    if isinstance(label, nd.NDArray):
        label = label.asnumpy()
    if not isinstance(label, np.ndarray) or label.ndim != 2 or label.shape[1] < 5:
        raise ValueError("%s: label must be a numpy array of shape (num_objects, 5+), got %s"
                         % (fn, getattr(label, "shape", type(label).__name__)))
    return label


def _box_areas(boxes):
    """Areas of rows [xmin, ymin, xmax, ymax, ...]; inverted boxes count as empty."""
    heights = np.maximum(0, boxes[:, 3] - boxes[:, 1])
    widths = np.maximum(0, boxes[:, 2] - boxes[:, 0])
    return heights * widths


class DetAugmenter:
    """Base class of detection augmenters: __call__(src, label) -> (src, label); keeps its
    constructor arguments (arrays as lists) for dumps()."""

    def __init__(self, **kwargs):
        self._kwargs = _dumpable(kwargs)

    def dumps(self):
        """JSON string [lowercase class name, constructor arguments]."""
        return Augmenter.dumps(self)

    def __call__(self, src, label):
        raise NotImplementedError("Must override implementation.")


class DetBorrowAug(DetAugmenter):
    """Apply an image Augmenter that leaves the boxes where they are (color, cast, normalize;
    resizes too, since the coordinates are relative)."""

    def __init__(self, augmenter):
        if not isinstance(augmenter, Augmenter):
            raise TypeError("DetBorrowAug: augmenter must be an mx.image.Augmenter, got %s"
                            % type(augmenter).__name__)
        super().__init__(augmenter=augmenter.dumps())
        self.augmenter = augmenter

    def dumps(self):
        return [self.__class__.__name__.lower(), self.augmenter.dumps()]

    def __call__(self, src, label):
        return self.augmenter(src), label


class DetRandomSelectAug(DetAugmenter):
    """With probability skip_prob return the input unchanged; otherwise shuffle aug_list in
    place (as MXNet) and apply its first augmenter. An empty aug_list always skips."""

    def __init__(self, aug_list, skip_prob=0):
        super().__init__(skip_prob=skip_prob)
        if isinstance(aug_list, tuple):
            aug_list = list(aug_list)
        elif not isinstance(aug_list, list):
            aug_list = [aug_list]
        for aug in aug_list:
            if not isinstance(aug, DetAugmenter):
                raise ValueError("DetRandomSelectAug: aug_list may only hold DetAugmenters, got %s"
                                 % type(aug).__name__)
        self.aug_list = aug_list
        self.skip_prob = skip_prob if aug_list else 1

    def dumps(self):
        return [self.__class__.__name__.lower(), [x.dumps() for x in self.aug_list]]

    def __call__(self, src, label):
        if random.random() < self.skip_prob:
            return src, label
        random.shuffle(self.aug_list)
        return self.aug_list[0](src, label)


class DetHorizontalFlipAug(DetAugmenter):
    """With probability p mirror the image left to right and the boxes with it (x -> 1 - x;
    a numpy label is changed in place, as in MXNet)."""

    def __init__(self, p):
        super().__init__(p=p)
        self.p = p

    def __call__(self, src, label):
        if random.random() < self.p:
            src = nd.flip(src, axis=1)
            boxes = _as_label(label, "DetHorizontalFlipAug")
            xmin = 1.0 - boxes[:, 1]
            boxes[:, 1] = 1.0 - boxes[:, 3]
            boxes[:, 3] = xmin
            if isinstance(label, nd.NDArray):  # changed in place as well, as MXNet does
                label[:] = boxes
            else:
                label = boxes
        return src, label


class DetRandomCropAug(DetAugmenter):
    """Crop a random window (area fraction in area_range, aspect ratio width/height in
    aspect_ratio_range) that covers more than min_object_covered of every box it touches;
    boxes are clipped to the window and dropped when less than min_eject_coverage of them
    remains. After max_attempts failed proposals the input is returned unchanged. Invalid
    ranges disable the augmenter with a warning."""

    def __init__(self, min_object_covered=0.1, aspect_ratio_range=(0.75, 1.33), area_range=(0.05, 1.0),
                 min_eject_coverage=0.3, max_attempts=50):
        aspect_ratio_range = _range_pair(aspect_ratio_range, "DetRandomCropAug", "aspect_ratio_range")
        area_range = _range_pair(area_range, "DetRandomCropAug", "area_range")
        super().__init__(min_object_covered=min_object_covered, aspect_ratio_range=aspect_ratio_range,
                         area_range=area_range, min_eject_coverage=min_eject_coverage,
                         max_attempts=max_attempts)
        self.min_object_covered = min_object_covered
        self.min_eject_coverage = min_eject_coverage
        self.max_attempts = max_attempts
        self.aspect_ratio_range = aspect_ratio_range
        self.area_range = area_range
        # MXNet means to warn here but passes the range as the warning category, which raises
        # TypeError; we warn.
        self.enabled = False
        if area_range[1] <= 0 or area_range[0] > area_range[1]:
            warnings.warn("Skip DetRandomCropAug due to invalid area_range: %s" % (area_range,))
        elif aspect_ratio_range[0] > aspect_ratio_range[1] or aspect_ratio_range[0] <= 0:
            warnings.warn("Skip DetRandomCropAug due to invalid aspect_ratio_range: %s" % (aspect_ratio_range,))
        else:
            self.enabled = True

    def __call__(self, src, label):
        label = _as_label(label, "DetRandomCropAug")
        crop = self._random_crop_proposal(label, src.shape[0], src.shape[1])
        if crop:
            x, y, w, h, label = crop
            src = fixed_crop(src, x, y, w, h, None)
        return src, label

    def _intersect(self, boxes, xmin, ymin, xmax, ymax):
        """boxes clipped to the window; rows that miss it become all zeros."""
        left = np.maximum(boxes[:, 0], xmin)
        right = np.minimum(boxes[:, 2], xmax)
        top = np.maximum(boxes[:, 1], ymin)
        bot = np.minimum(boxes[:, 3], ymax)
        out = boxes.copy()
        out[:, 0], out[:, 1], out[:, 2], out[:, 3] = left, top, right, bot
        out[(left >= right) | (top >= bot), :] = 0
        return out

    def _check_satisfy_constraints(self, label, xmin, ymin, xmax, ymax, width, height):
        if (xmax - xmin) * (ymax - ymin) < 2:
            return False  # a window of one pixel
        x1, y1 = float(xmin) / width, float(ymin) / height
        x2, y2 = float(xmax) / width, float(ymax) / height
        object_areas = _box_areas(label[:, 1:])
        valid = np.where(object_areas * width * height > 2)[0]
        if valid.size < 1:
            return False
        inter = self._intersect(label[valid, 1:], x1, y1, x2, y2)
        coverages = _box_areas(inter) / object_areas[valid]
        coverages = coverages[coverages > 0]
        return coverages.size > 0 and np.amin(coverages) > self.min_object_covered

    def _update_labels(self, label, crop_box, height, width):
        """Boxes in the crop's coordinates, clipped to [0, 1]; None when none is kept."""
        xmin = float(crop_box[0]) / width
        ymin = float(crop_box[1]) / height
        w = float(crop_box[2]) / width
        h = float(crop_box[3]) / height
        out = label.copy()
        out[:, (1, 3)] -= xmin
        out[:, (2, 4)] -= ymin
        out[:, (1, 3)] /= w
        out[:, (2, 4)] /= h
        out[:, 1:5] = np.maximum(0, out[:, 1:5])
        out[:, 1:5] = np.minimum(1, out[:, 1:5])
        coverage = _box_areas(out[:, 1:]) * w * h / _box_areas(label[:, 1:])
        keep = (out[:, 3] > out[:, 1]) & (out[:, 4] > out[:, 2]) & (coverage > self.min_eject_coverage)
        if not keep.any():
            return None
        return out[keep, :]

    def _random_crop_proposal(self, label, height, width):
        """(x, y, w, h, new_label) of an accepted window, or () after max_attempts."""
        if not self.enabled or height <= 0 or width <= 0:
            return ()
        min_area = self.area_range[0] * height * width
        max_area = self.area_range[1] * height * width
        for _ in range(self.max_attempts):
            ratio = random.uniform(*self.aspect_ratio_range)
            if ratio <= 0:
                continue
            h = int(round(math.sqrt(min_area / ratio)))
            max_h = int(round(math.sqrt(max_area / ratio)))
            if round(max_h * ratio) > width:
                # the largest max_h with round(max_h * ratio) <= width
                max_h = int((width + 0.4999999) / ratio)
            max_h = min(max_h, height)
            h = min(h, max_h)
            if h < max_h:
                h = random.randint(h, max_h)
            w = int(round(h * ratio))
            # rounding can leave the area just outside its range: nudge h once each way
            area = w * h
            if area < min_area:
                h += 1
                w = int(round(h * ratio))
                area = w * h
            if area > max_area:
                h -= 1
                w = int(round(h * ratio))
                area = w * h
            if not (min_area <= area <= max_area and 0 <= w <= width and 0 <= h <= height):
                continue
            y = random.randint(0, max(0, height - h))
            x = random.randint(0, max(0, width - w))
            if self._check_satisfy_constraints(label, x, y, x + w, y + h, width, height):
                new_label = self._update_labels(label, (x, y, w, h), height, width)
                if new_label is not None:
                    return (x, y, w, h, new_label)
        return ()


class DetRandomPadAug(DetAugmenter):
    """Place the image at a random spot of a larger canvas filled with pad_val (canvas area
    area_range times the image's, aspect ratio in aspect_ratio_range) and shrink the boxes with
    it. After max_attempts failed proposals the input is returned unchanged."""

    def __init__(self, aspect_ratio_range=(0.75, 1.33), area_range=(1.0, 3.0), max_attempts=50,
                 pad_val=(128, 128, 128)):
        if not isinstance(pad_val, (list, tuple)) and not isinstance(pad_val, numbers.Number):
            raise TypeError("DetRandomPadAug: pad_val must be a number or one value per channel, got %r"
                            % (pad_val,))
        aspect_ratio_range = _range_pair(aspect_ratio_range, "DetRandomPadAug", "aspect_ratio_range")
        area_range = _range_pair(area_range, "DetRandomPadAug", "area_range")
        super().__init__(aspect_ratio_range=aspect_ratio_range, area_range=area_range,
                         max_attempts=max_attempts, pad_val=pad_val)
        self.pad_val = pad_val
        self.aspect_ratio_range = aspect_ratio_range
        self.area_range = area_range
        self.max_attempts = max_attempts
        self.enabled = False
        if area_range[1] <= 1.0 or area_range[0] > area_range[1]:
            warnings.warn("Skip DetRandomPadAug due to invalid parameters: %s" % (area_range,))
        elif aspect_ratio_range[0] <= 0 or aspect_ratio_range[0] > aspect_ratio_range[1]:
            warnings.warn("Skip DetRandomPadAug due to invalid aspect_ratio_range: %s" % (aspect_ratio_range,))
        else:
            self.enabled = True

    def __call__(self, src, label):
        label = _as_label(label, "DetRandomPadAug")
        height, width, _ = src.shape
        pad = self._random_pad_proposal(label, height, width)
        if pad:
            x, y, w, h, label = pad
            # a single number fills every channel (MXNet hands it to OpenCV as a 1-tuple,
            # which leaves the other channels' fill undefined)
            if isinstance(self.pad_val, (list, tuple)):
                src = copyMakeBorder(src, y, h - y - height, x, w - x - width, 0, values=self.pad_val)
            else:
                src = copyMakeBorder(src, y, h - y - height, x, w - x - width, 0, value=self.pad_val)
        return src, label

    def _update_labels(self, label, pad_box, height, width):
        out = label.copy()
        out[:, (1, 3)] = (out[:, (1, 3)] * width + pad_box[0]) / pad_box[2]
        out[:, (2, 4)] = (out[:, (2, 4)] * height + pad_box[1]) / pad_box[3]
        return out

    def _random_pad_proposal(self, label, height, width):
        """(x, y, w, h, new_label): the image's offset in the w x h canvas, or ()."""
        if not self.enabled or height <= 0 or width <= 0:
            return ()
        min_area = self.area_range[0] * height * width
        max_area = self.area_range[1] * height * width
        for _ in range(self.max_attempts):
            ratio = random.uniform(*self.aspect_ratio_range)
            if ratio <= 0:
                continue
            h = int(round(math.sqrt(min_area / ratio)))
            max_h = int(round(math.sqrt(max_area / ratio)))
            if round(h * ratio) < width:
                h = int((width + 0.499999) / ratio)
            h = max(h, height)
            h = min(h, max_h)
            if h < max_h:
                h = random.randint(h, max_h)
            w = int(round(h * ratio))
            if (h - height) < 2 or (w - width) < 2:
                continue  # a margin this thin is not worth a copy
            y = random.randint(0, max(0, h - height))
            x = random.randint(0, max(0, w - width))
            return (x, y, w, h, self._update_labels(label, (x, y, w, h), height, width))
        return ()


def CreateMultiRandCropAugmenter(min_object_covered=0.1, aspect_ratio_range=(0.75, 1.33),
                                 area_range=(0.05, 1.0), min_eject_coverage=0.3, max_attempts=50,
                                 skip_prob=0):
    """A DetRandomSelectAug over DetRandomCropAugs. Each argument given as a list (tuples are
    single values) yields one augmenter per element; single values are shared by all."""
    params = {"min_object_covered": min_object_covered, "aspect_ratio_range": aspect_ratio_range,
              "area_range": area_range, "min_eject_coverage": min_eject_coverage,
              "max_attempts": max_attempts}
    params = {k: (v if isinstance(v, list) else [v]) for k, v in params.items()}
    num = max(len(v) for v in params.values())
    for k, v in params.items():
        if len(v) not in (1, num):
            raise ValueError("CreateMultiRandCropAugmenter: %s has %d values, other arguments %d (give "
                             "one value or one per augmenter)" % (k, len(v), num))
        if len(v) == 1:
            params[k] = v * num
    augs = [DetRandomCropAug(**{k: v[i] for k, v in params.items()}) for i in range(num)]
    return DetRandomSelectAug(augs, skip_prob=skip_prob)


def CreateDetAugmenter(data_shape, resize=0, rand_crop=0, rand_pad=0, rand_gray=0, rand_mirror=False,
                       mean=None, std=None, brightness=0, contrast=0, saturation=0, pca_noise=0, hue=0,
                       inter_method=2, min_object_covered=0.1, aspect_ratio_range=(0.75, 1.33),
                       area_range=(0.05, 3.0), min_eject_coverage=0.3, max_attempts=50,
                       pad_val=(127, 127, 127)):
    """MXNet's default detection augmenter list for data_shape = (C, H, W): [resize short edge]
    -> [random crop with probability rand_crop] -> [mirror] -> [random pad with probability
    rand_pad] -> force resize to (W, H) -> CastAug -> [color jitter] -> [hue] -> [PCA lighting]
    -> [random gray] -> [normalize]. Crop and pad share aspect_ratio_range; crops use
    area_range, pads (1, area_range[1]). mean/std True means ImageNet's values."""
    if len(data_shape) != 3:
        raise ValueError("CreateDetAugmenter: data_shape must be (channels, height, width), got %s"
                         % (data_shape,))
    auglist = []
    if resize > 0:
        auglist.append(DetBorrowAug(ResizeAug(resize, inter_method)))
    if rand_crop > 0:
        auglist.append(CreateMultiRandCropAugmenter(min_object_covered, aspect_ratio_range, area_range,
                                                    min_eject_coverage, max_attempts,
                                                    skip_prob=(1 - rand_crop)))
    if rand_mirror > 0:
        auglist.append(DetHorizontalFlipAug(0.5))
    # padding late keeps the earlier steps on the smaller image
    if rand_pad > 0:
        pad_aug = DetRandomPadAug(aspect_ratio_range, (1.0, area_range[1]), max_attempts, pad_val)
        auglist.append(DetRandomSelectAug([pad_aug], 1 - rand_pad))
    auglist.append(DetBorrowAug(ForceResizeAug((data_shape[2], data_shape[1]), inter_method)))
    auglist.append(DetBorrowAug(CastAug()))
    if brightness or contrast or saturation:
        auglist.append(DetBorrowAug(ColorJitterAug(brightness, contrast, saturation)))
    if hue:
        auglist.append(DetBorrowAug(HueJitterAug(hue)))
    if pca_noise > 0:
        auglist.append(DetBorrowAug(LightingAug(pca_noise, _PCA_EIGVAL, _PCA_EIGVEC)))
    if rand_gray > 0:
        auglist.append(DetBorrowAug(RandomGrayAug(rand_gray)))
    if mean is True:
        mean = np.array(_IMAGENET_MEAN)
    elif mean is not None:
        _check_mean_std("CreateDetAugmenter", "mean", mean)
    if std is True:
        std = np.array(_IMAGENET_STD)
    elif std is not None:
        _check_mean_std("CreateDetAugmenter", "std", std)
    if mean is not None or std is not None:
        auglist.append(DetBorrowAug(ColorNormalizeAug(mean, std)))
    return auglist



class ImageDetIter(ImageIter):
    """ImageIter for object detection: samples carry packed detection labels ([header_width,
    object_width, ..., objects...], see the module docstring) that the augmenters move along
    with the pixels. Batches have labels of shape (batch_size, max_objects, object_width), rows
    past a sample's objects filled with -1; max_objects is the largest count of valid boxes
    (xmax > xmin and ymax > ymin) over the whole data set, read once on construction.

    Sources, shuffling, partitions and last_batch_handle are ImageIter's. Extra keyword
    arguments go to CreateDetAugmenter when aug_list is None. Samples whose label is malformed or
    has no valid box left after augmentation are skipped.
    """

    def __init__(self, batch_size, data_shape, path_imgrec=None, path_imglist=None, path_root=None,
                 path_imgidx=None, shuffle=False, part_index=0, num_parts=1, aug_list=None, imglist=None,
                 data_name="data", label_name="label", last_batch_handle="pad", **kwargs):
        super().__init__(batch_size=batch_size, data_shape=data_shape, path_imgrec=path_imgrec,
                         path_imglist=path_imglist, path_root=path_root, path_imgidx=path_imgidx,
                         shuffle=shuffle, part_index=part_index, num_parts=num_parts, aug_list=[],
                         imglist=imglist, data_name=data_name, label_name=label_name,
                         last_batch_handle=last_batch_handle)
        if aug_list is None:
            unknown = sorted(set(kwargs) - set(inspect.signature(CreateDetAugmenter).parameters))
            if unknown:
                raise TypeError("ImageDetIter: unexpected keyword argument(s) %s" % ", ".join(unknown))
            self.auglist = CreateDetAugmenter(self.data_shape, **kwargs)
        else:
            if kwargs:  # MXNet ignores them silently
                warnings.warn("ImageDetIter: keyword argument(s) %s are CreateDetAugmenter's and "
                              "are ignored with aug_list" % ", ".join(sorted(kwargs)), stacklevel=2)
            self.auglist = aug_list
        label_shape = self._estimate_label_shape()
        self.provide_label = [(label_name, (self.batch_size,) + label_shape)]
        self.label_shape = label_shape

    def _estimate_label_shape(self):
        """(max valid objects per sample, object width) over one pass of the labels."""
        max_count, width = 0, None
        self.reset()
        try:
            while True:
                label, _ = self.next_sample()
                label = self._parse_label(label)
                if width is not None and label.shape[1] != width:
                    raise RuntimeError("ImageDetIter: samples have object widths %d and %d; all labels "
                                       "need the same object_width" % (width, label.shape[1]))
                max_count, width = max(max_count, label.shape[0]), label.shape[1]
        except StopIteration:
            pass
        self.reset()
        if width is None:
            raise ValueError("ImageDetIter: the data source holds no samples")
        return (max_count, width)

    def _parse_label(self, label):
        """The (num_objects, object_width) array of valid boxes of a packed raw label."""
        if isinstance(label, nd.NDArray):
            label = label.asnumpy()
        raw = np.asarray(label, np.float32).ravel()
        if raw.size < 7:
            raise RuntimeError("ImageDetIter: a label needs at least 7 values ([header_width, object_width, "
                               "id, xmin, ymin, xmax, ymax]), got shape %s" % (raw.shape,))
        header_width, obj_width = int(raw[0]), int(raw[1])
        if header_width < 2 or obj_width < 5:
            raise RuntimeError("ImageDetIter: label header [%g, %g, ...] needs header_width >= 2 and "
                               "object_width >= 5" % (raw[0], raw[1]))
        if (raw.size - header_width) % obj_width != 0:
            raise RuntimeError("ImageDetIter: label shape %s inconsistent with annotation width %d "
                               "(header_width %d)" % (raw.shape, obj_width, header_width))
        out = raw[header_width:].reshape(-1, obj_width)
        out = out[(out[:, 3] > out[:, 1]) & (out[:, 4] > out[:, 2])]
        if out.shape[0] < 1:
            raise RuntimeError("ImageDetIter: encountered a sample with no valid label (every box has "
                               "xmax <= xmin or ymax <= ymin)")
        return out

    def _check_valid_label(self, label):
        """RuntimeError (the sample is skipped) unless some row is a valid box with id >= 0."""
        if len(label.shape) != 2 or label.shape[1] < 5:
            raise RuntimeError("Label with shape (1+, 5+) required, %s received." % (label.shape,))
        valid = (label[:, 0] >= 0) & (label[:, 3] > label[:, 1]) & (label[:, 4] > label[:, 2])
        if not valid.any():
            raise RuntimeError("Invalid label occurs.")

    def reshape(self, data_shape=None, label_shape=None):
        """Change data_shape (C, H, W) and/or label_shape (max_objects, object_width) of later
        batches; label_shape may only grow max_objects. The augmenter list stays as it is, so a
        new data_shape needs augmenters that produce it (as in MXNet)."""
        if data_shape is not None:
            data_shape = tuple(data_shape)
            self.check_data_shape(data_shape)
            self.provide_data = [(self.provide_data[0][0], (self.batch_size,) + data_shape)]
            self.data_shape = data_shape
        if label_shape is not None:
            label_shape = tuple(label_shape)
            self.check_label_shape(label_shape)
            self.provide_label = [(self.provide_label[0][0], (self.batch_size,) + label_shape)]
            self.label_shape = label_shape

    def check_label_shape(self, label_shape):
        """ValueError unless label_shape = (max_objects >= the current one, same object width)."""
        if len(label_shape) != 2:
            raise ValueError("ImageDetIter: label_shape should have length 2 (max_objects, object_width), "
                             "got %s" % (tuple(label_shape),))
        if label_shape[0] < self.label_shape[0]:
            raise ValueError("ImageDetIter: label_shape %s attempts to reduce label count from %d to %d, "
                             "not allowed." % (tuple(label_shape), self.label_shape[0], label_shape[0]))
        if label_shape[1] != self.provide_label[0][1][2]:
            raise ValueError("ImageDetIter: label_shape object width inconsistent: %d vs %d."
                             % (self.provide_label[0][1][2], label_shape[1]))

    def _empty_batch_label(self):
        return nd.full(self.provide_label[0][1], -1)

    def _batchify(self, batch_data, batch_label, start=0):
        i = start
        row_shape = batch_label.shape[1:]
        try:
            while i < self.batch_size:
                label, s = self.next_sample()
                data = self.imdecode(s)
                try:
                    self.check_valid_image([data])
                    label = self._parse_label(label)
                    data, label = self.augmentation_transform(data, label)
                    self._check_valid_label(label)
                except RuntimeError as e:
                    logging.debug("Invalid image, skipping:  %s", e)
                    continue
                batch_data[i] = self.postprocess_data(data)
                batch_label[i] = self._padded_label(label, row_shape)
                i += 1
        except StopIteration:
            if not i:
                raise
        return i

    @staticmethod
    def _padded_label(label, row_shape):
        if isinstance(label, nd.NDArray):
            label = label.asnumpy()
        n, width = label.shape
        if n > row_shape[0] or width != row_shape[1]:
            raise MXNetError("ImageDetIter: a sample's label has shape %s after augmentation, which does not "
                             "fit label_shape %s (see reshape)" % (label.shape, tuple(row_shape)))
        row = np.full(row_shape, -1, np.float32)
        row[:n] = label
        return row

    def augmentation_transform(self, data, label):  # pylint: disable=arguments-differ
        """Run the detection augmenter list on one HWC image and its label."""
        for aug in self.auglist:
            data, label = aug(data, label)
        return data, label

    def draw_next(self, color=None, thickness=2, mean=None, std=None, clip=True, waitKey=None,
                  window_name="draw_next", id2labels=None):
        """Generator of the next samples, augmented, as HWC uint8 **BGR** numpy images with their
        boxes drawn (color an RGB triple, None for a random color per box from numpy's RNG;
        thickness < 0 fills). mean/std (True for ImageNet's) undo a normalization; clip keeps
        values in [0, 255]; id2labels maps class ids to names written in each box. With waitKey
        set, each image is also shown with cv2.imshow for waitKey ms (needs OpenCV's cv2).

        Boxes are drawn in numpy with square corners and names with Pillow's default font, so
        pixels differ slightly from MXNet's cv2.rectangle/putText; the image otherwise matches.
        """
        std = self._draw_stat(std, _IMAGENET_STD, "std")
        mean = self._draw_stat(mean, _IMAGENET_MEAN, "mean")
        if color:
            # MXNet reverses the color again on every image; once is what it means
            color = tuple(color)[::-1]
        cv2 = None
        if waitKey is not None:
            try:
                import cv2  # pylint: disable=import-outside-toplevel
            except ImportError as e:
                warnings.warn("draw_next: cannot show images without cv2 (%s); yielding them only" % e)
        while True:
            try:
                label, s = self.next_sample()
            except StopIteration:
                return
            data = self.imdecode(s)
            try:
                self.check_valid_image([data])
                label = self._parse_label(label)
            except RuntimeError as e:
                logging.debug("Invalid image, skipping:  %s", e)
                continue
            data, label = self.augmentation_transform(data, label)
            image = data.asnumpy().astype(np.float32)
            if std is not None:
                image *= std
            if mean is not None:
                image += mean
            image = image[:, :, ::-1]
            if clip:
                image = np.clip(image, 0, 255)
            image = np.ascontiguousarray(image.astype(np.uint8))
            height, width, _ = image.shape
            texts = []
            for obj in np.asarray(label):
                x1 = int(obj[1] * width)
                if x1 < 0:
                    continue
                y1, x2, y2 = int(obj[2] * height), int(obj[3] * width), int(obj[4] * height)
                bc = np.random.rand(3) * 255 if not color else color
                _draw_rect(image, x1, y1, x2, y2, np.clip(np.rint(bc), 0, 255).astype(np.uint8), thickness)
                if id2labels is not None and int(obj[0]) in id2labels:
                    texts.append(((x1 + 5, y1 + 5), "{:s}".format(id2labels[int(obj[0])])))
            if texts:
                image = _draw_texts(image, texts)
            if cv2 is not None:
                cv2.imshow(window_name, image)
                cv2.waitKey(waitKey)
            yield image

    @staticmethod
    def _draw_stat(v, default, name):
        if v is True:
            return np.array(default)
        if v is not None:
            _check_mean_std("ImageDetIter.draw_next", name, v)
            return v.asnumpy() if isinstance(v, nd.NDArray) else v
        return None

    def sync_label_shape(self, it, verbose=False):
        """Give this iterator and `it` (another ImageDetIter, e.g. the validation one) the same
        label_shape, the larger max_objects of both. Returns it."""
        if not isinstance(it, ImageDetIter):
            raise TypeError("ImageDetIter.sync_label_shape: it must be an ImageDetIter, got %s"
                            % type(it).__name__)
        train_shape, val_shape = self.label_shape, it.label_shape
        if train_shape[1] != val_shape[1]:
            raise ValueError("ImageDetIter.sync_label_shape: object width mismatch: %d vs %d"
                             % (train_shape[1], val_shape[1]))
        max_count = max(train_shape[0], val_shape[0])
        if max_count > train_shape[0]:
            self.reshape(None, (max_count, train_shape[1]))
        if max_count > val_shape[0]:
            it.reshape(None, (max_count, val_shape[1]))
        if verbose and max_count > min(train_shape[0], val_shape[0]):
            logging.info("Resized label_shape to (%d, %d).", max_count, train_shape[1])
        return it


def _draw_rect(image, x1, y1, x2, y2, color, thickness):
    """A box outline `thickness` pixels wide centered on the edges (filled if thickness < 0),
    clipped to the image."""
    height, width = image.shape[:2]
    x1, x2 = sorted((x1, x2))
    y1, y2 = sorted((y1, y2))

    def fill(ya, yb, xa, xb):
        ya, xa = max(ya, 0), max(xa, 0)
        yb, xb = min(yb, height - 1), min(xb, width - 1)
        if ya <= yb and xa <= xb:
            image[ya:yb + 1, xa:xb + 1] = color

    if thickness < 0:
        fill(y1, y2, x1, x2)
        return
    lo, hi = -(thickness // 2), (max(thickness, 1) - 1) // 2
    fill(y1 + lo, y1 + hi, x1 + lo, x2 + hi)
    fill(y2 + lo, y2 + hi, x1 + lo, x2 + hi)
    fill(y1 + lo, y2 + hi, x1 + lo, x1 + hi)
    fill(y1 + lo, y2 + hi, x2 + lo, x2 + hi)


def _draw_texts(image, texts):
    from PIL import Image, ImageDraw  # pylint: disable=import-outside-toplevel

    pil = Image.fromarray(image)
    draw = ImageDraw.Draw(pil)
    for pos, text in texts:
        draw.text(pos, text, fill=(255, 255, 255))
    return np.asarray(pil).copy()
