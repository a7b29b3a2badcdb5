"""The numpy statement of OpenCV 3.4's uint8 cv2.resize (the arithmetic MXNet 1.9.1 inherits),
the oracle the native kernels (rust/core/src/kernels/cpu/cv_resize.rs) are tested against
across sizes and interpolations, beside MXNet's own outputs in image_mxnet_ref.py.

Bilinear: 11-bit fixed-point weights, the vertical pass rounded the way OpenCV's SIMD rows do
it; area when growing runs the same rows with area fractions; bicubic and Lanczos sum 11-bit
weights exactly and round once; area when shrinking weighs the covered cells in double. The
tap positions and float weights are the float path's (oxnet.io._imgops).
"""
import numpy as np

from oxnet.io._imgops import (_apply, _area_down_taps, _area_up_taps, _cubic_coeffs,
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


def resize(img, width, height, interp=1):
    """uint8 img (H, W) or (H, W, C) resized to (height, width) as cv2.resize does."""
    h, w = img.shape[:2]
    if (h, w) == (height, width):
        return img.copy()
    if interp == 0:
        xs = np.minimum(np.floor(np.arange(width) * (1 / (width / w))).astype(np.int64), w - 1)
        ys = np.minimum(np.floor(np.arange(height) * (1 / (height / h))).astype(np.int64), h - 1)
        return img[ys][:, xs]
    if interp == 1:
        return _simd_rows(img, *_linear_taps(w, width, True), *_linear_taps(h, height, False))
    if interp == 3 and width <= w and height <= h:
        out = _apply(img, *_area_down_taps(w, width), *_area_down_taps(h, height))
    elif interp == 3:
        return _simd_rows(img, *_area_up_taps(w, width, True), *_area_up_taps(h, height, False))
    else:
        k, coeffs = (4, _cubic_coeffs) if interp == 2 else (8, _lanczos4_coeffs)
        xi, xw = _kernel_taps(w, width, k, coeffs)
        yi, yw = _kernel_taps(h, height, k, coeffs)
        out = _apply(img, xi, _fixed(xw).astype(np.float64), yi, _fixed(yw).astype(np.float64))
        out = out / float(_SCALE * _SCALE)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
