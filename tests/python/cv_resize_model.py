"""The numpy statement of OpenCV 3.4's uint8 cv2.resize (the arithmetic MXNet 1.9.1 inherits),
the oracle the native kernels (rust/core/src/kernels/cpu/cv_resize.rs) are tested against
across sizes and interpolations, beside MXNet's own outputs in image_mxnet_ref.py.

Bilinear: 11-bit fixed-point weights, the vertical pass rounded the way OpenCV's SIMD rows do
it; area when growing runs the same rows with area fractions. Bicubic: the first multiple of 8
values of each output row as its SSE2 rows compute them (float32, weights / 2^22, added in tap
order, rounded half to even), the rest as Lanczos all: the exact sum of 11-bit weights rounded
half up. Area when shrinking by whole factors (and bilinear at exactly half size): block means,
2x2 ones (1, 3 or 4 channels) rounded half up, others float32 mean rounded half to even; by
other factors the covered cells weighed in float32, in OpenCV's order. The tap positions and
float weights are the float path's (oxnet.io._imgops).
"""
import numpy as np

from oxnet.io._imgops import (_area_down_taps, _area_up_taps, _cubic_coeffs,
                              _kernel_taps, _lanczos4_coeffs, _taps)

_SCALE = 1 << 11


def _fixed(w):
    return np.rint(w.astype(np.float32) * np.float32(_SCALE)).astype(np.int64)


def _simd_rows(img, xi, xw, yi, yw):
    """OpenCV's two-tap vector path: integer rows, then the high 16 bits of (row >> 4) times
    each vertical weight, summed, >> 2 rounded."""
    extra = (1,) * (img.ndim - 2)
    src = img.astype(np.int64)
    a0, a1 = (_fixed(xw[:, k]).reshape((1, -1) + extra) for k in (0, 1))
    rows = src[:, xi[:, 0]] * a0 + src[:, xi[:, 1]] * a1
    b0, b1 = (_fixed(yw[:, k]).reshape((-1, 1) + extra) for k in (0, 1))
    out = (((rows[yi[:, 0]] >> 4) * b0) >> 16) + (((rows[yi[:, 1]] >> 4) * b1) >> 16)
    return np.clip((out + 2) >> 2, 0, 255).astype(np.uint8)


def _linear_taps(src, dst, clamp):
    i0, i1, f = _taps(src, dst, clamp)
    return np.stack([i0, i1], 1), np.stack([1 - f, f], 1)


def _hpass(img, xi, xw):
    """Exact integer rows of the horizontal pass."""
    extra = (1,) * (img.ndim - 2)
    src = img.astype(np.int64)
    a = _fixed(xw)
    return sum(src[:, xi[:, k]] * a[:, k].reshape((1, -1) + extra) for k in range(xi.shape[1]))


def _kernel(img, width, height, k, coeffs, cubic):
    h, w = img.shape[:2]
    xi, xw = _kernel_taps(w, width, k, coeffs)
    yi, yw = _kernel_taps(h, height, k, coeffs)
    rows = _hpass(img, xi, xw).reshape(h, -1)
    by = _fixed(yw)
    exact = sum(rows[yi[:, j]] * by[:, j:j + 1] for j in range(k))
    out = np.clip((exact + (1 << 21)) >> 22, 0, 255)
    n = rows.shape[1] // 8 * 8
    if cubic and n:
        b = by.astype(np.float32) * np.float32(1.0 / (1 << 22))
        acc = rows[yi[:, 0], :n].astype(np.float32) * b[:, :1]
        for j in range(1, k):
            acc = acc + rows[yi[:, j], :n].astype(np.float32) * b[:, j:j + 1]
        out[:, :n] = np.clip(np.rint(acc), 0, 255)
    return out.reshape((height, width) + img.shape[2:]).astype(np.uint8)


def _block_mean(img, width, height):
    h, w = img.shape[:2]
    sx, sy = w // width, h // height
    s = img.astype(np.int64).reshape((height, sy, width, sx) + img.shape[2:]).sum(axis=(1, 3))
    channels = img.shape[2] if img.ndim == 3 else 1
    if (sx, sy) == (2, 2) and channels in (1, 3, 4):
        return ((s + 2) >> 2).astype(np.uint8)
    mean = s.astype(np.float32) * (np.float32(1) / np.float32(sx * sy))
    return np.clip(np.rint(mean), 0, 255).astype(np.uint8)


def _area_f32(img, width, height):
    h, w = img.shape[:2]
    (xi, xw), (yi, yw) = _area_down_taps(w, width), _area_down_taps(h, height)
    extra = (1,) * (img.ndim - 2)
    src = img.astype(np.float32)
    xw, yw = xw.astype(np.float32), yw.astype(np.float32)
    rows = np.zeros((h, width) + img.shape[2:], np.float32)
    for k in range(xi.shape[1]):
        rows = rows + src[:, xi[:, k]] * xw[:, k].reshape((1, -1) + extra)
    out = np.zeros((height, width) + img.shape[2:], np.float32)
    for k in range(yi.shape[1]):
        out = out + yw[:, k].reshape((-1, 1) + extra) * rows[yi[:, k]]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def resize(img, width, height, interp=1):
    """uint8 img (H, W) or (H, W, C) resized to (height, width) as cv2.resize does."""
    h, w = img.shape[:2]
    if (h, w) == (height, width):
        return img.copy()
    if interp == 0:
        xs = np.minimum(np.floor(np.arange(width) * (1 / (width / w))).astype(np.int64), w - 1)
        ys = np.minimum(np.floor(np.arange(height) * (1 / (height / h))).astype(np.int64), h - 1)
        return img[ys][:, xs]
    whole = width <= w and height <= h and w % width == 0 and h % height == 0
    if (interp == 1 and (w, h) == (2 * width, 2 * height)) or (interp == 3 and whole):
        return _block_mean(img, width, height)
    if interp == 1:
        return _simd_rows(img, *_linear_taps(w, width, True), *_linear_taps(h, height, False))
    if interp == 3 and width <= w and height <= h:
        return _area_f32(img, width, height)
    if interp == 3:
        return _simd_rows(img, *_area_up_taps(w, width, True), *_area_up_taps(h, height, False))
    if interp == 2:
        return _kernel(img, width, height, 4, _cubic_coeffs, True)
    return _kernel(img, width, height, 8, _lanczos4_coeffs, False)
