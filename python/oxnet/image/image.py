"""Image functions and augmenters of mx.image, with MXNet 1.9.1's names, arguments and semantics.

Images are HWC NDArrays (uint8 after decoding). Random choices come from Python's `random`
module (and numpy's global RNG for LightingAug) exactly as MXNet draws them, so seeding
`random.seed` reproduces MXNet's crops, flips and jitter factors.

Interpolation codes are OpenCV's, which is what MXNet actually passes to cv2.resize:
0 nearest, 1 bilinear, 2 bicubic, 3 area, 4 Lanczos; 9 picks bicubic to enlarge, area to
shrink and bilinear otherwise; 10 picks one of 0-4 at random. (MXNet's docstrings call 2 "area"
and 3 "bicubic"; its code and ours do what OpenCV does.)
"""
import json
import numbers
import os
import random
import stat
import warnings

import numpy as np

from .. import ndarray as nd
from .. import recordio
from ..base import MXNetError, ValueAssertionError
from ..io import _imgops

__all__ = ["imread", "imdecode", "imresize", "scale_down", "copyMakeBorder", "resize_short",
           "fixed_crop", "random_crop", "center_crop", "color_normalize", "random_size_crop",
           "imrotate", "random_rotate",
           "Augmenter", "SequentialAug", "ResizeAug", "ForceResizeAug", "RandomCropAug",
           "RandomSizedCropAug", "CenterCropAug", "RandomOrderAug", "BrightnessJitterAug",
           "ContrastJitterAug", "SaturationJitterAug", "HueJitterAug", "ColorJitterAug",
           "LightingAug", "ColorNormalizeAug", "RandomGrayAug", "HorizontalFlipAug", "CastAug",
           "CreateAugmenter", "ImageIter"]


def _as_numpy(src, fn):
    if isinstance(src, nd.NDArray):
        return src.asnumpy()
    if isinstance(src, np.ndarray):
        return src
    raise TypeError("%s: src must be an NDArray, got %s" % (fn, type(src).__name__))


def _ret(arr, out):
    """arr as a new NDArray, or written into out (MXNet's `out=` argument)."""
    if out is None:
        return nd.array(arr, dtype=arr.dtype)
    out[:] = nd.array(arr, dtype=arr.dtype)
    return out


def _decode_np(buf, flag, to_rgb, fn):
    if flag not in (0, 1):
        raise MXNetError("%s: flag must be 0 (gray) or 1 (color), got %r" % (fn, flag))
    buf = bytes(buf)
    # libjpeg-turbo writes RGB itself: no channel swap (a copy, and another to make it
    # contiguous, 2 ms on a 500x375 photo)
    arr = _imgops.decode_jpeg(buf, "RGB") if flag == 1 and to_rgb else None
    if arr is None:
        try:
            arr = recordio._decode(buf, flag)
        except MXNetError as e:
            raise MXNetError("%s: %s" % (fn, e)) from None
        if to_rgb and arr.ndim == 3 and arr.shape[2] >= 3:
            arr = arr[:, :, [2, 1, 0, 3][:arr.shape[2]]]  # _decode returns BGR(A), as cv2 does
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return np.ascontiguousarray(arr)


# Leading bytes of the formats the decoders read (JPEG, PNG, GIF, BMP, TIFF, WebP, PNM).
_IMAGE_MAGICS = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"BM", b"II*\x00", b"MM\x00*", b"RIFF",
                 b"P1", b"P2", b"P3", b"P4", b"P5", b"P6")


def _read_stream(f, filename):
    """A device or pipe has no end to read to unless it holds an image: look at its first bytes
    before reading on (/dev/zero would fill the memory)."""
    head = f.read(16)
    if not head.startswith(_IMAGE_MAGICS):
        raise MXNetError("imread(%r): not an image file (it starts with %r)" % (filename, head[:8]))
    return head + f.read()


def imread(filename, flag=1, to_rgb=True, out=None):
    """Read and decode an image file to an HWC uint8 NDArray (RGB unless to_rgb is False;
    flag=0 gives one gray channel)."""
    try:
        with open(filename, "rb") as f:
            buf = f.read() if stat.S_ISREG(os.fstat(f.fileno()).st_mode) else _read_stream(f, filename)
    except OSError as e:
        raise MXNetError("imread: cannot open %r: %s" % (filename, e.strerror)) from e
    return _ret(_decode_np(buf, flag, to_rgb, "imread(%r)" % (filename,)), out)


def imdecode(buf, flag=1, to_rgb=True, out=None):
    """Decode encoded image bytes (bytes, bytearray, uint8 numpy array or NDArray) to an HWC uint8
    NDArray."""
    if isinstance(buf, nd.NDArray):
        buf = buf.asnumpy().astype(np.uint8).tobytes()
    elif isinstance(buf, np.ndarray):
        buf = buf.tobytes()
    elif not isinstance(buf, (bytes, bytearray)):
        raise ValueError("imdecode: buf must be of type bytes, bytearray or numpy.ndarray, got %s "
                         "(encode a str to bytes first)" % type(buf).__name__)
    return _ret(_decode_np(buf, flag, to_rgb, "imdecode"), out)


def imresize(src, w, h, interp=1, out=None):
    """Resize an HWC image to width w and height h with OpenCV's interpolation code interp."""
    if isinstance(src, nd.NDArray):
        shape, dtype = src.shape, np.dtype(src.dtype)
    else:
        arr = _as_numpy(src, "imresize")
        shape, dtype = arr.shape, arr.dtype
    w, h = int(w), int(h)
    if w <= 0 or h <= 0:
        raise ValueError("imresize: w and h must be positive, got w=%d, h=%d" % (w, h))
    if len(shape) not in (2, 3):
        raise ValueError("imresize: src must be HWC or HW, got shape %s" % (shape,))
    if interp == 5:  # OpenCV's INTER_LINEAR_EXACT: bilinear in fixed point
        interp = 1
    if interp not in (0, 1, 2, 3, 4):
        raise MXNetError("imresize: unknown interpolation method %r (0-5 as in OpenCV)" % (interp,))
    native = dtype == np.uint8 or (interp in (0, 1) and dtype in (np.float32, np.float64))
    if native and min(shape[:2]) > 0:
        # The _image_resize op reproduces cv2.resize for these in Rust, without leaving the
        # engine; the numpy model in _imgops serves the other interpolations and dtypes.
        x = src if isinstance(src, nd.NDArray) else nd.array(arr, dtype=dtype)
        if len(shape) == 2:
            x = x.reshape((shape[0], shape[1], 1))
        res = nd.image.resize(x, size=(w, h), interp=interp)
        if len(shape) == 2:
            res = res.reshape((h, w))
        if out is None:
            return res
        out[:] = res
        return out
    return _ret(_imgops.resize(_as_numpy(src, "imresize"), w, h, interp), out)


_BORDERS = {0: "constant", 1: "edge", 2: "symmetric", 3: "wrap", 4: "reflect"}


def copyMakeBorder(src, top, bot, left, right, type=0, value=0.0, values=(), out=None):  # noqa: A002
    """Pad an HWC image as cv2.copyMakeBorder: type 0 constant (value, or per-channel values),
    1 replicate, 2 reflect, 3 wrap, 4 reflect_101 (16, OpenCV's BORDER_ISOLATED flag, may be
    added). The fill is OpenCV's Scalar: ``values`` with 0 for the channels they leave out, or
    ``value`` on the first three channels."""
    arr = _as_numpy(src, "copyMakeBorder")
    if isinstance(type, int) and type & 16:
        type &= ~16  # ISOLATED only matters for an ROI of a larger image
    if type not in _BORDERS:
        raise ValueError("copyMakeBorder: type must be one of 0-4 (OpenCV border types), got %r" % (type,))
    if min(top, bot, left, right) < 0:
        raise ValueError("copyMakeBorder: border sizes must be >= 0, got %s" % ((top, bot, left, right),))
    pad = [(top, bot), (left, right)] + [(0, 0)] * (arr.ndim - 2)
    if type == 0:
        res = np.pad(arr, pad, mode="constant")
        fill = list(values) if len(values) else [value] * 3
        fill = np.asarray((fill + [0] * 4)[:max(4, arr.shape[2] if arr.ndim == 3 else 1)],
                          np.float64)
        if np.issubdtype(res.dtype, np.integer):
            # OpenCV saturates the border value into the image type (rounding half to even)
            info = np.iinfo(res.dtype)
            fill = np.clip(np.rint(fill), info.min, info.max)
        mask = np.ones(res.shape[:2], bool)
        mask[top:top + arr.shape[0], left:left + arr.shape[1]] = False
        res[mask] = fill[:res.shape[2]] if arr.ndim == 3 else fill[0]
    else:
        res = np.pad(arr, pad, mode=_BORDERS[type])
    return _ret(res, out)


def scale_down(src_size, size):
    """Shrink a (width, height) crop size, keeping its aspect ratio, until it fits src_size."""
    w, h = size
    sw, sh = src_size
    if sh < h:
        w, h = float(w * sh) / h, sh
    if sw < w:
        w, h = sw, float(h * sw) / w
    return int(w), int(h)


def _get_interp_method(interp, sizes=()):
    """Resolve MXNet's interp codes 9 (by sizes = (old_h, old_w, new_h, new_w)) and 10 (random)."""
    if interp == 9:
        if sizes:
            oh, ow, nh, nw = sizes
            if nh > oh and nw > ow:
                return 2
            if nh < oh and nw < ow:
                return 3
            return 1
        return 2
    if interp == 10:
        return random.randint(0, 4)
    if interp not in (0, 1, 2, 3, 4):
        raise ValueError("Unknown interp method %r (0-4, 9 or 10)" % (interp,))
    return interp


def resize_short(src, size, interp=2):
    """Resize so that the shorter edge is `size` (the longer one scales, rounded down)."""
    h, w, _ = src.shape
    if h > w:
        new_h, new_w = size * h // w, size
    else:
        new_h, new_w = size, size * w // h
    return imresize(src, new_w, new_h, interp=_get_interp_method(interp, (h, w, new_h, new_w)))


def fixed_crop(src, x0, y0, w, h, size=None, interp=2):
    """Crop the w x h window at (x0, y0), then resize it to size = (width, height) if given."""
    H, W = src.shape[:2]
    if x0 < 0 or y0 < 0 or w <= 0 or h <= 0 or x0 >= W or y0 >= H:
        raise ValueError("fixed_crop: window x0=%d, y0=%d, w=%d, h=%d does not start inside the "
                         "%dx%d image" % (x0, y0, w, h, W, H))
    out = src[y0:y0 + h, x0:x0 + w]  # a window past the edge is clipped, as a slice is
    # MXNet compares (w, h) != size as written: a list never equals the tuple, so it always
    # resizes (and interp=10 draws its random method) when size is a list.
    if size is not None and ((w, h) != size if isinstance(size, (tuple, list))
                             else (w, h) != tuple(size)):
        sizes = (h, w, size[1], size[0])
        out = imresize(out, *size, interp=_get_interp_method(interp, sizes))
    return out


def random_crop(src, size, interp=2):
    """Crop a random window of size (width, height) (scaled down to fit, then resized back).
    Returns (image, (x0, y0, w, h))."""
    h, w, _ = src.shape
    new_w, new_h = scale_down((w, h), size)
    x0 = random.randint(0, w - new_w)
    y0 = random.randint(0, h - new_h)
    out = fixed_crop(src, x0, y0, new_w, new_h, size, interp)
    return out, (x0, y0, new_w, new_h)


def center_crop(src, size, interp=2):
    """Crop the central window of size (width, height) (scaled down to fit, then resized back).
    Returns (image, (x0, y0, w, h))."""
    h, w, _ = src.shape
    new_w, new_h = scale_down((w, h), size)
    x0 = int((w - new_w) / 2)
    y0 = int((h - new_h) / 2)
    out = fixed_crop(src, x0, y0, new_w, new_h, size, interp)
    return out, (x0, y0, new_w, new_h)


def color_normalize(src, mean, std=None):
    """(src - mean) / std, in place on src as MXNet does (either may be None)."""
    if mean is not None:
        src -= mean
    if std is not None:
        src /= std
    return src


def random_size_crop(src, size, area, ratio, interp=2, **kwargs):
    """Crop a random window whose area is a fraction in `area` (a number means (area, 1)) of the
    image and whose aspect ratio is log-uniform in `ratio`; center_crop after 10 failed tries.
    Returns (image, (x0, y0, w, h))."""
    h, w, _ = src.shape
    src_area = h * w
    if "min_area" in kwargs:
        warnings.warn("`min_area` is deprecated. Please use `area` instead.", DeprecationWarning)
        area = kwargs.pop("min_area")
    if kwargs:
        raise TypeError("random_size_crop: unexpected keyword argument(s) %s" % ", ".join(sorted(kwargs)))
    if isinstance(area, numbers.Number):
        area = (area, 1.0)
    for _ in range(10):
        target_area = random.uniform(area[0], area[1]) * src_area
        log_ratio = (np.log(ratio[0]), np.log(ratio[1]))
        new_ratio = np.exp(random.uniform(*log_ratio))
        new_w = int(round(np.sqrt(target_area * new_ratio)))
        new_h = int(round(np.sqrt(target_area / new_ratio)))
        if new_w <= w and new_h <= h:
            x0 = random.randint(0, w - new_w)
            y0 = random.randint(0, h - new_h)
            out = fixed_crop(src, x0, y0, new_w, new_h, size, interp)
            return out, (x0, y0, new_w, new_h)
    return center_crop(src, size, interp)


def _bilinear_sample(data, gx, gy):
    """MXNet's BilinearSampler on numpy: data (N, C, H, W), grid gx/gy (N, H', W') in [-1, 1];
    the four neighbours outside the image count as zero."""
    n, c, ih, iw = data.shape
    x = (gx + 1) * (iw - 1) / 2
    y = (gy + 1) * (ih - 1) / 2
    x0, y0 = np.floor(x), np.floor(y)
    wx, wy = 1 - (x - x0), 1 - (y - y0)
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
    batch = np.arange(n).reshape(n, 1, 1)
    out = np.zeros((n, c) + gx.shape[1:], np.float32)
    for dy, dx, wt in ((0, 0, wy * wx), (0, 1, wy * (1 - wx)), (1, 0, (1 - wy) * wx), (1, 1, (1 - wy) * (1 - wx))):
        xs, ys = x0 + dx, y0 + dy
        inside = (xs >= 0) & (xs <= iw - 1) & (ys >= 0) & (ys <= ih - 1)
        v = data[batch, :, np.clip(ys, 0, ih - 1), np.clip(xs, 0, iw - 1)]  # (N, H', W', C)
        out += (np.moveaxis(v, -1, 1) * (wt * inside)[:, None]).astype(np.float32)
    return out


def imrotate(src, rotation_degrees, zoom_in=False, zoom_out=False):
    """Rotate float32 CHW image(s) (C, H, W) or (N, C, H, W) counterclockwise by rotation_degrees
    (a number, or one per image) about the center, bilinear, zero outside. zoom_in scales so no
    zero border shows; zoom_out so that the whole rotated image fits."""
    if zoom_in and zoom_out:
        raise ValueError("`zoom_in` and `zoom_out` cannot be both True")
    if np.dtype(src.dtype) != np.float32:
        raise TypeError("Only `float32` images are supported by this function")
    arr = _as_numpy(src, "imrotate")
    if arr.ndim == 3:
        if not isinstance(rotation_degrees, numbers.Number):
            raise TypeError("When a single image is passed the rotation angle is required to be a scalar.")
        arr = arr[None]
    elif arr.ndim != 4:
        raise ValueError("Only 3D and 4D are supported by this function")
    if isinstance(rotation_degrees, numbers.Number):
        degrees = np.full(len(arr), rotation_degrees, np.float32)
    else:
        degrees = _as_numpy(rotation_degrees, "imrotate").astype(np.float32).ravel()
    if len(arr) != len(degrees):
        raise ValueError("The number of images must be equal to the number of rotation angles")
    rad = (np.float32(np.pi) * degrees / 180).reshape(-1, 1, 1)
    _, _, h, w = arr.shape
    hscale, wscale = np.float32((h - 1) / 2), np.float32((w - 1) / 2)
    hm = (np.arange(h, dtype=np.float32).reshape(1, h, 1) - hscale) * np.ones((1, 1, w), np.float32)
    wm = (np.arange(w, dtype=np.float32).reshape(1, 1, w) - wscale) * np.ones((1, h, 1), np.float32)
    cos, sin = np.cos(rad), np.sin(rad)
    gx = (wm * cos - hm * sin) / wscale
    gy = (wm * sin + hm * cos) / hscale
    if zoom_in or zoom_out:
        fh, fw = np.float32(h), np.float32(w)
        rho = np.sqrt(fh * fh + fw * fw)
        ang = np.arctan(fh / fw)
        a = np.abs(rad)
        max_x = np.maximum(np.abs(rho * np.cos(ang + a)), np.abs(rho * np.cos(ang - a)))
        max_y = np.maximum(np.abs(rho * np.sin(ang + a)), np.abs(rho * np.sin(ang - a)))
        if zoom_out:
            scale = np.maximum(max_x / fw, max_y / fh)
        else:
            scale = np.minimum(fw / max_x, fh / max_y)
        gx, gy = gx * scale, gy * scale
    out = _bilinear_sample(arr.astype(np.float32), gx.astype(np.float32), gy.astype(np.float32))
    return nd.array(out if len(src.shape) == 4 else out[0], dtype=np.float32)


def random_rotate(src, angle_limits, zoom_in=False, zoom_out=False):
    """imrotate by angles drawn uniformly from angle_limits = (low, high) degrees (numpy's RNG,
    one angle per image)."""
    if len(src.shape) == 3:
        degrees = np.random.uniform(*angle_limits)
    else:
        degrees = nd.array(np.random.uniform(*angle_limits, size=src.shape[0]))
    return imrotate(src, degrees, zoom_in=zoom_in, zoom_out=zoom_out)


# ---- augmenters --------------------------------------------------------------------------------
def _dumpable(kwargs):
    """kwargs with NDArrays and numpy arrays as nested lists, so that json.dumps takes them."""
    for k, v in kwargs.items():
        if isinstance(v, nd.NDArray):
            v = v.asnumpy()
        if isinstance(v, np.ndarray):
            kwargs[k] = v.tolist()
    return kwargs


class Augmenter:
    """Base class: keeps its constructor arguments (arrays as lists) for dumps()."""

    def __init__(self, **kwargs):
        self._kwargs = _dumpable(kwargs)

    def dumps(self):
        """JSON string [lowercase class name, constructor arguments]."""
        return json.dumps([self.__class__.__name__.lower(), self._kwargs])

    def __call__(self, src):
        raise NotImplementedError("Must override implementation.")


class SequentialAug(Augmenter):
    """Apply the augmenters ts in order."""

    def __init__(self, ts):
        super().__init__()
        self.ts = ts

    def dumps(self):
        return [self.__class__.__name__.lower(), [x.dumps() for x in self.ts]]

    def __call__(self, src):
        for aug in self.ts:
            src = aug(src)
        return src


class RandomOrderAug(Augmenter):
    """Apply the augmenters ts in a random order (shuffles self.ts in place, as MXNet)."""

    def __init__(self, ts):
        super().__init__()
        self.ts = ts

    def dumps(self):
        return [self.__class__.__name__.lower(), [x.dumps() for x in self.ts]]

    def __call__(self, src):
        random.shuffle(self.ts)
        for t in self.ts:
            src = t(src)
        return src


class ResizeAug(Augmenter):
    """resize_short to `size`."""

    def __init__(self, size, interp=2):
        super().__init__(size=size, interp=interp)
        self.size, self.interp = size, interp

    def __call__(self, src):
        return resize_short(src, self.size, self.interp)


class ForceResizeAug(Augmenter):
    """Resize to size = (width, height), ignoring the aspect ratio."""

    def __init__(self, size, interp=2):
        super().__init__(size=size, interp=interp)
        self.size, self.interp = size, interp

    def __call__(self, src):
        sizes = (src.shape[0], src.shape[1], self.size[1], self.size[0])
        return imresize(src, *self.size, interp=_get_interp_method(self.interp, sizes))


class RandomCropAug(Augmenter):
    """random_crop to size = (width, height)."""

    def __init__(self, size, interp=2):
        super().__init__(size=size, interp=interp)
        self.size, self.interp = size, interp

    def __call__(self, src):
        return random_crop(src, self.size, self.interp)[0]


class RandomSizedCropAug(Augmenter):
    """random_size_crop to size = (width, height) with the given area and ratio ranges."""

    def __init__(self, size, area, ratio, interp=2, **kwargs):
        super().__init__(size=size, area=area, ratio=ratio, interp=interp)
        self.size = size
        if "min_area" in kwargs:
            warnings.warn("`min_area` is deprecated. Please use `area` instead.", DeprecationWarning)
            self.area = kwargs.pop("min_area")
        else:
            self.area = area
        if kwargs:
            raise TypeError("RandomSizedCropAug: unexpected keyword argument(s) %s" % ", ".join(sorted(kwargs)))
        self.ratio, self.interp = ratio, interp

    def __call__(self, src):
        return random_size_crop(src, self.size, self.area, self.ratio, self.interp)[0]


class CenterCropAug(Augmenter):
    """center_crop to size = (width, height)."""

    def __init__(self, size, interp=2):
        super().__init__(size=size, interp=interp)
        self.size, self.interp = size, interp

    def __call__(self, src):
        return center_crop(src, self.size, self.interp)[0]


_GRAY_COEF = [[[0.299, 0.587, 0.114]]]


class BrightnessJitterAug(Augmenter):
    """Multiply by 1 + U(-brightness, brightness) (in place)."""

    def __init__(self, brightness):
        super().__init__(brightness=brightness)
        self.brightness = brightness

    def __call__(self, src):
        alpha = 1.0 + random.uniform(-self.brightness, self.brightness)
        src *= alpha
        return src


class ContrastJitterAug(Augmenter):
    """Blend with the mean luminance: alpha * src + (1 - alpha) * mean gray, alpha = 1 + U(-c, c)."""

    def __init__(self, contrast):
        super().__init__(contrast=contrast)
        self.contrast = contrast
        self.coef = nd.array(_GRAY_COEF)

    def __call__(self, src):
        alpha = 1.0 + random.uniform(-self.contrast, self.contrast)
        gray = src * self.coef
        gray = (3.0 * (1.0 - alpha) / gray.size) * nd.sum(gray)
        src *= alpha
        src += gray
        return src


class SaturationJitterAug(Augmenter):
    """Blend each pixel with its luminance: alpha * src + (1 - alpha) * gray, alpha = 1 + U(-s, s)."""

    def __init__(self, saturation):
        super().__init__(saturation=saturation)
        self.saturation = saturation
        self.coef = nd.array(_GRAY_COEF)

    def __call__(self, src):
        alpha = 1.0 + random.uniform(-self.saturation, self.saturation)
        gray = src * self.coef
        gray = nd.sum(gray, axis=2, keepdims=True)
        gray *= (1.0 - alpha)
        src *= alpha
        src += gray
        return src


class HueJitterAug(Augmenter):
    """Rotate the hue by U(-hue, hue) * 180 degrees in YIQ space (MXNet's approximate matrices,
    so even a zero rotation changes pixels slightly)."""

    def __init__(self, hue):
        super().__init__(hue=hue)
        self.hue = hue
        self.tyiq = np.array([[0.299, 0.587, 0.114],
                              [0.596, -0.274, -0.321],
                              [0.211, -0.523, 0.311]])
        self.ityiq = np.array([[1.0, 0.956, 0.621],
                               [1.0, -0.272, -0.647],
                               [1.0, -1.107, 1.705]])

    def __call__(self, src):
        alpha = random.uniform(-self.hue, self.hue)
        u, w = np.cos(alpha * np.pi), np.sin(alpha * np.pi)
        bt = np.array([[1.0, 0.0, 0.0], [0.0, u, -w], [0.0, w, u]])
        t = np.dot(np.dot(self.ityiq, bt), self.tyiq).T
        return nd.dot(src, nd.array(t))


class ColorJitterAug(RandomOrderAug):
    """Brightness, contrast and saturation jitter (those > 0), in random order."""

    def __init__(self, brightness, contrast, saturation):
        ts = []
        if brightness > 0:
            ts.append(BrightnessJitterAug(brightness))
        if contrast > 0:
            ts.append(ContrastJitterAug(contrast))
        if saturation > 0:
            ts.append(SaturationJitterAug(saturation))
        super().__init__(ts)


class LightingAug(Augmenter):
    """AlexNet-style PCA lighting noise: add eigvec @ (N(0, alphastd) * eigval) (numpy's RNG)."""

    def __init__(self, alphastd, eigval, eigvec):
        super().__init__(alphastd=alphastd, eigval=eigval, eigvec=eigvec)
        self.alphastd, self.eigval, self.eigvec = alphastd, eigval, eigvec

    def __call__(self, src):
        alpha = np.random.normal(0, self.alphastd, size=(3,))
        rgb = np.dot(self.eigvec * alpha, self.eigval)
        src += nd.array(rgb)
        return src


class ColorNormalizeAug(Augmenter):
    """color_normalize with mean and std (NDArrays, arrays or None)."""

    def __init__(self, mean, std):
        super().__init__(mean=mean, std=std)
        self.mean = mean if mean is None or isinstance(mean, nd.NDArray) else nd.array(mean)
        self.std = std if std is None or isinstance(std, nd.NDArray) else nd.array(std)

    def __call__(self, src):
        return color_normalize(src, self.mean, self.std)


class RandomGrayAug(Augmenter):
    """With probability p, replace every channel by 0.21 R + 0.72 G + 0.07 B."""

    def __init__(self, p):
        super().__init__(p=p)
        self.p = p
        self.mat = nd.array([[0.21, 0.21, 0.21], [0.72, 0.72, 0.72], [0.07, 0.07, 0.07]])

    def __call__(self, src):
        if random.random() < self.p:
            src = nd.dot(src, self.mat)
        return src


class HorizontalFlipAug(Augmenter):
    """With probability p, mirror left to right."""

    def __init__(self, p):
        super().__init__(p=p)
        self.p = p

    def __call__(self, src):
        if random.random() < self.p:
            src = nd.flip(src, axis=1)
        return src


class CastAug(Augmenter):
    """Cast to dtype typ (float32 by default)."""

    def __init__(self, typ="float32"):
        super().__init__(type=typ)
        self.typ = typ

    def __call__(self, src):
        return src.astype(self.typ)


_PCA_EIGVAL = np.array([55.46, 4.794, 1.148])
_PCA_EIGVEC = np.array([[-0.5675, 0.7192, 0.4009],
                        [-0.5808, -0.0045, -0.8140],
                        [-0.5836, -0.6948, 0.4203]])


def CreateAugmenter(data_shape, resize=0, rand_crop=False, rand_resize=False, rand_mirror=False,
                    mean=None, std=None, brightness=0, contrast=0, saturation=0, hue=0,
                    pca_noise=0, rand_gray=0, inter_method=2):
    """MXNet's default augmenter list for data_shape = (C, H, W): [resize] -> crop (center,
    random, or random-sized with rand_resize) -> [mirror] -> CastAug -> [color jitter] -> [hue]
    -> [PCA lighting] -> [random gray] -> [normalize]. mean/std True means ImageNet's values."""
    if len(data_shape) != 3:
        raise ValueError("CreateAugmenter: data_shape must be (channels, height, width), got %s" % (data_shape,))
    auglist = []
    if resize > 0:
        auglist.append(ResizeAug(resize, inter_method))
    crop_size = (data_shape[2], data_shape[1])
    if rand_resize:
        if not rand_crop:
            raise ValueAssertionError("CreateAugmenter: rand_resize=True needs rand_crop=True")
        auglist.append(RandomSizedCropAug(crop_size, 0.08, (3.0 / 4.0, 4.0 / 3.0), inter_method))
    elif rand_crop:
        auglist.append(RandomCropAug(crop_size, inter_method))
    else:
        auglist.append(CenterCropAug(crop_size, inter_method))
    if rand_mirror:
        auglist.append(HorizontalFlipAug(0.5))
    auglist.append(CastAug())
    if brightness or contrast or saturation:
        auglist.append(ColorJitterAug(brightness, contrast, saturation))
    if hue:
        auglist.append(HueJitterAug(hue))
    if pca_noise > 0:
        auglist.append(LightingAug(pca_noise, _PCA_EIGVAL, _PCA_EIGVEC))
    if rand_gray > 0:
        auglist.append(RandomGrayAug(rand_gray))
    if mean is True:
        mean = nd.array([123.68, 116.28, 103.53])
    elif mean is not None:
        _check_mean_std("CreateAugmenter", "mean", mean)
    if std is True:
        std = nd.array([58.395, 57.12, 57.375])
    elif std is not None:
        _check_mean_std("CreateAugmenter", "std", std)
    if mean is not None or std is not None:
        auglist.append(ColorNormalizeAug(mean, std))
    return auglist


def _check_mean_std(fn, name, v):
    if not isinstance(v, (np.ndarray, nd.NDArray)) or v.shape[0] not in (1, 3):
        raise ValueError("%s: %s must be True, None, or a numpy array / NDArray of 1 or 3 "
                         "values, got %r" % (fn, name, v))


# MXNet defines ImageIter in this module (mx.image.image.ImageIter); it lives in image_iter.py
# and is re-exported here, after everything it imports from this module exists.
from .image_iter import ImageIter  # noqa: E402
