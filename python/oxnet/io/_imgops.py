"""Image resizing as OpenCV's cv2.resize does it (MXNet's iterators, im2rec and mx.image resize
with OpenCV; Pillow's filters antialias when they shrink, which changes pixel values).

uint8 images, the iterators' case, go to the native kernels (rust/core/src/kernels/cpu/
cv_resize.rs: OpenCV's fixed-point arithmetic, bit-identical to MXNet 1.9.1 on the images
compared, GIL released). Float images are resized here in numpy, OpenCV's float arithmetic:
positions in double, fractions and weights in float32, sums in float64.
"""
import numpy as np

from .. import _native

try:
    import simplejpeg as _simplejpeg
except ImportError:  # a declared dependency; without it Pillow decodes every JPEG (slower)
    _simplejpeg = None

INTER_NEAREST, INTER_LINEAR, INTER_CUBIC, INTER_AREA, INTER_LANCZOS4 = 0, 1, 2, 3, 4


def _taps(src, dst, clamp_weights):
    """Left and right source index and float32 fraction of each output position (bilinear).

    OpenCV computes positions in double, keeps the fraction as float32, and resets the fraction
    to 0 at the borders only horizontally; vertically it just clamps the row indices.
    """
    scale = 1.0 / (dst / src)
    f = ((np.arange(dst, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    i0 = np.floor(f).astype(np.int64)
    f = f - i0.astype(np.float32)
    if clamp_weights:
        low = i0 < 0
        f[low], i0[low] = 0.0, 0
        high = i0 >= src - 1
        f[high], i0[high] = 0.0, src - 1
    i1 = np.clip(i0 + 1, 0, src - 1)
    i0 = np.clip(i0, 0, src - 1)
    return i0, i1, f


def resize_u8(img, width, height, interp=INTER_LINEAR):
    """uint8 image (H, W) or (H, W, C) resized to (height, width) by the native kernels."""
    if interp not in (0, 1, 2, 3, 4):
        raise ValueError("unknown interpolation method %r (OpenCV codes 0-4)" % (interp,))
    src = np.ascontiguousarray(img)
    gray = src.ndim == 2
    if gray:
        src = src[:, :, None]
    out = np.empty((int(height), int(width), src.shape[2]), np.uint8)
    _native.image_resize_u8(src, out, int(interp))
    return out[:, :, 0] if gray else out


def resize_linear(img, width, height):
    """uint8 image resized to (height, width), OpenCV INTER_LINEAR (the image itself when the
    size is unchanged)."""
    if img.shape[:2] == (height, width):
        return img
    return resize_u8(img, width, height, INTER_LINEAR)


# ---- float images -----------------------------------------------------------------------------
def _cubic_coeffs(x):
    """OpenCV's interpolateCubic, in float32 as it computes (the last weight completes 1)."""
    f = np.float32
    a, one, x = f(-0.75), f(1), x.astype(f)
    c0 = ((a * (x + one) - f(5) * a) * (x + one) + f(8) * a) * (x + one) - f(4) * a
    c1 = ((a + f(2)) * x - (a + f(3))) * x * x + one
    c2 = ((a + f(2)) * (one - x) - (a + f(3))) * (one - x) * (one - x) + one
    return np.stack([c0, c1, c2, one - c0 - c1 - c2], axis=1).astype(f)


def _lanczos4_coeffs(x):
    """OpenCV's interpolateLanczos4: offsets in float32, the sines in double from one angle by
    the addition theorem, the normalising sum in float32."""
    f = np.float32
    s45 = np.sqrt(0.5)
    cs = np.array([(1, 0), (-s45, -s45), (0, 1), (s45, -s45), (-1, 0), (s45, s45), (0, -1),
                   (-s45, s45)])
    x = x.astype(f)
    y0 = -(x + f(3)).astype(np.float64) * np.pi * 0.25
    t = (x[:, None] + f(3)) - np.arange(8, dtype=f)[None, :]
    y = -t.astype(np.float64) * np.pi * 0.25
    with np.errstate(divide="ignore", invalid="ignore"):  # x = 0 rows, replaced below
        c = ((cs[:, 0] * np.sin(y0)[:, None] + cs[:, 1] * np.cos(y0)[:, None]) / (y * y)).astype(f)
        total = np.zeros(len(x), f)
        for k in range(8):  # left to right, as OpenCV adds them
            total = total + c[:, k]
        c = c * (f(1) / total)[:, None]
    c[x < np.finfo(f).eps] = [0, 0, 0, 1, 0, 0, 0, 0]
    return c


def _kernel_taps(src, dst, ksize, coeffs):
    """(dst, ksize) source indices (border replicated) and float32 weights of a ksize-tap kernel."""
    scale = 1.0 / (dst / src)
    f = ((np.arange(dst, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    i0 = np.floor(f).astype(np.int64)
    frac = f - i0.astype(np.float32)
    idx = np.clip(i0[:, None] + np.arange(ksize)[None, :] - (ksize // 2 - 1), 0, src - 1)
    return idx, coeffs(frac)


def _area_up_taps(src, dst, clamp_weights):
    """INTER_AREA when an axis grows: linear taps with OpenCV's area-style fractions."""
    inv = dst / src
    scale = 1.0 / inv  # OpenCV's steps, to the last bit (see _taps)
    d = np.arange(dst, dtype=np.float64)
    i0 = np.floor(d * scale).astype(np.int64)
    f = ((d + 1) - (i0 + 1) * inv).astype(np.float32)
    f = np.where(f <= 0, np.float32(0), f - np.floor(f)).astype(np.float32)
    if clamp_weights:
        high = i0 >= src - 1
        f[high], i0[high] = 0.0, src - 1
    i1 = np.clip(i0 + 1, 0, src - 1)
    i0 = np.clip(i0, 0, src - 1)
    return np.stack([i0, i1], axis=1), np.stack([1 - f, f], axis=1).astype(np.float32)


def _area_down_taps(src, dst):
    """INTER_AREA when shrinking: each output averages the source cells it covers (weights by overlap)."""
    scale = 1.0 / (dst / src)
    rows = []
    for dx in range(dst):
        fs1 = dx * scale
        fs2 = fs1 + scale
        cell = min(scale, src - fs1)
        s1, s2 = int(np.ceil(fs1)), int(np.floor(fs2))
        s2 = min(s2, src - 1)
        s1 = min(s1, s2)
        taps = []
        if s1 - fs1 > 1e-3:
            taps.append((s1 - 1, (s1 - fs1) / cell))
        taps.extend((s, 1.0 / cell) for s in range(s1, s2))
        if fs2 - s2 > 1e-3:
            taps.append((s2, min(min(fs2 - s2, 1.0), cell) / cell))
        rows.append(taps)
    k = max(len(t) for t in rows)
    idx = np.zeros((dst, k), np.int64)
    w = np.zeros((dst, k), np.float64)
    for i, taps in enumerate(rows):
        for j, (s, wt) in enumerate(taps):
            idx[i, j], w[i, j] = s, wt
    return idx, w


def _apply(img, xidx, xw, yidx, yw):
    """Separable resampling: horizontal then vertical pass, float64 accumulation."""
    extra = (1,) * (img.ndim - 2)
    src = img.astype(np.float64)
    rows = sum(src[:, xidx[:, k]] * xw[:, k].reshape((1, -1) + extra) for k in range(xidx.shape[1]))
    return sum(rows[yidx[:, k]] * yw[:, k].reshape((-1, 1) + extra) for k in range(yidx.shape[1]))


def resize(img, width, height, interp=INTER_LINEAR):
    """img (H, W) or (H, W, C), uint8 or float, resized to (height, width) as cv2.resize does.

    interp: OpenCV's codes, 0 nearest, 1 bilinear, 2 bicubic, 3 area, 4 Lanczos (8x8).
    """
    h, w = img.shape[:2]
    if (h, w) == (height, width):
        return img.copy()
    if img.dtype == np.uint8:
        return resize_u8(img, width, height, interp)
    if interp == INTER_NEAREST:
        # OpenCV's resizeNN steps by 1 / (dst / src) (see nearest_taps in cv_resize.rs).
        xs = np.minimum(np.floor(np.arange(width) * (1 / (width / w))).astype(np.int64), w - 1)
        ys = np.minimum(np.floor(np.arange(height) * (1 / (height / h))).astype(np.int64), h - 1)
        return img[ys][:, xs]
    if interp == INTER_AREA and width <= w and height <= h:
        (xi, xw), (yi, yw) = _area_down_taps(w, width), _area_down_taps(h, height)
        return _apply(img, xi, xw, yi, yw).astype(img.dtype)
    if interp == INTER_LINEAR:
        (x0, x1, fx), (y0, y1, fy) = _taps(w, width, True), _taps(h, height, False)
        xi, xw = np.stack([x0, x1], 1), np.stack([1 - fx, fx], 1)
        yi, yw = np.stack([y0, y1], 1), np.stack([1 - fy, fy], 1)
    elif interp == INTER_AREA:
        xi, xw = _area_up_taps(w, width, True)
        yi, yw = _area_up_taps(h, height, False)
    elif interp == INTER_CUBIC:
        xi, xw = _kernel_taps(w, width, 4, _cubic_coeffs)
        yi, yw = _kernel_taps(h, height, 4, _cubic_coeffs)
    elif interp == INTER_LANCZOS4:
        xi, xw = _kernel_taps(w, width, 8, _lanczos4_coeffs)
        yi, yw = _kernel_taps(h, height, 8, _lanczos4_coeffs)
    else:
        raise ValueError("unknown interpolation method %r (OpenCV codes 0-4)" % (interp,))
    return _apply(img, xi, xw.astype(np.float64), yi, yw.astype(np.float64)).astype(img.dtype)


# ---- decoding ----------------------------------------------------------------------------------
def decode_jpeg(buf, mode):
    """A YCbCr or gray JPEG decoded by libjpeg-turbo (through simplejpeg: the library, and the
    accurate IDCT and upsampling, Pillow and OpenCV use, so the pixels are theirs, without
    Pillow's per-image Python cost and with the GIL released) to uint8 HWC in `mode` 'RGB' or
    'BGR', 2-D for 'GRAY' (the luma channel, as IMREAD_GRAYSCALE gives), or for 'KEEP' the
    file's own (2-D gray or BGR). None for anything else (other formats or color spaces, or a
    file libjpeg-turbo complains about): the caller's Pillow path decides those.
    """
    if _simplejpeg is None or bytes(buf[:2]) != b"\xff\xd8":
        return None
    try:
        space = _simplejpeg.decode_jpeg_header(buf)[2]
        if space not in ("YCbCr", "Gray"):
            return None
        if mode == "KEEP":
            mode = "GRAY" if space == "Gray" else "BGR"
        arr = _simplejpeg.decode_jpeg(buf, colorspace=mode)
    except ValueError:
        return None
    return arr[:, :, 0] if mode == "GRAY" else arr


# ---- decoding to gray the way OpenCV's imdecode(..., IMREAD_GRAYSCALE) does -------------------
def decode_gray(pil_img):
    """2-D uint8 gray image from an opened, not yet loaded, Pillow image, as OpenCV 3.4 decodes it:
    JPEGs come straight from libjpeg's luma channel (Pillow's draft mode), PNGs through libpng's
    truncating rgb_to_gray (0.299, 0.587 in 15-bit fixed point), other formats through
    cvtColor's rounded 14-bit BGR2GRAY. (Bit-identical to MXNet 1.9.1 on the PNG and JPEG
    samples in tests/python/test_image.py.)
    """
    fmt = pil_img.format
    if fmt == "JPEG":
        pil_img.draft("L", pil_img.size)
        return np.asarray(pil_img.convert("L"))
    if pil_img.mode == "L":
        return np.asarray(pil_img)
    if pil_img.mode == "LA":
        return np.asarray(pil_img.getchannel(0))
    rgb = np.asarray(pil_img.convert("RGB")).astype(np.int64)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    if fmt == "PNG":
        rc, gc = 9797, 19234  # libpng: 0.299 and 0.587 of 32768
        gray = (rc * r + gc * g + (32768 - rc - gc) * b) >> 15
        gray = np.where((r == g) & (r == b), r, gray)  # libpng keeps already-gray pixels as they are
    else:
        gray = (r * 4899 + g * 9617 + b * 1868 + 8192) >> 14
    return gray.astype(np.uint8)
