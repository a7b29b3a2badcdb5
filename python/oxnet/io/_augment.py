"""The augmentations of MXNet 1.9.1's default image augmenter (`aug_default`, the one behind
ImageRecordIter), in MXNet's order, on uint8 HWC RGB arrays:

resize of the shorter edge -> random resized crop (inception style), or: random affine
(rotation, shear, scale, aspect ratio, size bounds) -> pad -> crop (fixed or random size,
centered or random) -> HSL jitter -> brightness / contrast / saturation -> PCA lighting noise.

Draws come from a `SampleRng` per sample (numpy's Generator API), so the augmentations are
MXNet's but not its random numbers. Interpolation follows `inter_method` (OpenCV codes; 9 picks
by direction, 10 at random); the affine warp samples bilinearly (nearest for inter_method 0)
with a constant border.
"""
import math

import numpy as np

from ._imgops import INTER_CUBIC, INTER_AREA, INTER_LINEAR, INTER_NEAREST, resize

# AlexNet's PCA of ImageNet RGB pixels (eigenvalues, eigenvectors as columns), as mx.image uses.
_PCA_EIGVAL = np.array([55.46, 4.794, 1.148])
_PCA_EIGVEC = np.array([[-0.5675, 0.7192, 0.4009],
                        [-0.5808, -0.0045, -0.8140],
                        [-0.5836, -0.6948, 0.4203]])
_GRAY = np.array([0.299, 0.587, 0.114], np.float32)

DEFAULTS = dict(resize=-1, rand_crop=False, random_resized_crop=False, max_rotate_angle=0,
                rotate=-1, max_shear_ratio=0.0, max_random_scale=1.0, min_random_scale=1.0,
                max_aspect_ratio=0.0, min_aspect_ratio=None, max_random_area=1.0,
                min_random_area=1.0, max_img_size=1e10, min_img_size=0.0, max_crop_size=-1,
                min_crop_size=-1, pad=0, fill_value=255, inter_method=1, random_h=0, random_s=0,
                random_l=0, brightness=0.0, contrast=0.0, saturation=0.0, pca_noise=0.0)


class SampleRng:
    """The part of numpy's Generator API the augmenters use, for one sample. Scalar draws are
    served from `row`, uniform [0, 1) numbers drawn for the whole batch in one call: building
    a Generator per sample costs about 20 us, more than augmenting a 32x32 image. Array
    draws, and scalar ones past the row, come from a Generator keyed by `key` (the sample's
    own position), so every draw still depends only on the sample, not on thread scheduling."""

    __slots__ = ("_row", "_next", "_key", "_gen")

    def __init__(self, row, key):
        self._row, self._next, self._key, self._gen = row, 0, key, None

    def _more(self):
        if self._gen is None:
            self._gen = np.random.default_rng(self._key)
        return self._gen

    def random(self, size=None):
        if size is None and self._next < len(self._row):
            self._next += 1
            return self._row[self._next - 1]
        return self._more().random(size)

    def uniform(self, low=0.0, high=1.0, size=None):
        if size is None:
            return low + (high - low) * self.random()
        return self._more().uniform(low, high, size)

    def integers(self, low, high=None, size=None):
        if high is None:
            low, high = 0, low
        if size is None:
            if high <= low:
                raise ValueError("high <= low")
            return min(high - 1, low + int(self.random() * (high - low)))
        return self._more().integers(low, high, size)

    def permutation(self, n):
        return self._more().permutation(n)

    def normal(self, loc=0.0, scale=1.0, size=None):
        return self._more().normal(loc, scale, size)


class DefaultAugmenter:
    """MXNet's aug_default for output size (height, width); `params` as ImageRecordIter's."""

    def __init__(self, height, width, **params):
        p = dict(DEFAULTS)
        p.update(params)
        self.h, self.w = int(height), int(width)
        self.p = p
        if p["inter_method"] not in (0, 1, 2, 3, 4, 9, 10):
            raise ValueError("ImageRecordIter: invalid inter_method %r: valid values are "
                             "0, 1, 2, 3, 4, 9, 10" % (p["inter_method"],))
        if (p["max_crop_size"] != -1 or p["min_crop_size"] != -1) and \
                not 0 < p["min_crop_size"] <= p["max_crop_size"]:
            raise ValueError("ImageRecordIter: need 0 < min_crop_size <= max_crop_size, got %s, %s"
                             % (p["min_crop_size"], p["max_crop_size"]))
        if p["min_aspect_ratio"] is None and not 0 <= p["max_aspect_ratio"] < 1:
            raise ValueError("ImageRecordIter: max_aspect_ratio must be in [0, 1) (the aspect ratio "
                             "is drawn from [1 - max_aspect_ratio, 1 + max_aspect_ratio]), got %r"
                             % (p["max_aspect_ratio"],))
        if p["min_aspect_ratio"] is not None and not 0 < p["min_aspect_ratio"] <= p["max_aspect_ratio"]:
            raise ValueError("ImageRecordIter: need 0 < min_aspect_ratio <= max_aspect_ratio, got "
                             "%r, %r" % (p["min_aspect_ratio"], p["max_aspect_ratio"]))
        if not 0 < p["min_random_scale"] <= p["max_random_scale"]:
            raise ValueError("ImageRecordIter: need 0 < min_random_scale <= max_random_scale, got "
                             "%r, %r" % (p["min_random_scale"], p["max_random_scale"]))
        self.affine = (p["max_rotate_angle"] > 0 or p["max_shear_ratio"] > 0 or p["rotate"] > 0
                       or p["max_random_scale"] != 1.0 or p["min_random_scale"] != 1.0
                       or p["max_aspect_ratio"] != 0.0 or p["max_img_size"] != 1e10
                       or p["min_img_size"] != 0.0)

        self.crop_only = not (p["resize"] > 0 or p["random_resized_crop"] or self.affine
                              or p["max_crop_size"] != -1 or p["min_crop_size"] != -1
                              or p["random_h"] or p["random_s"] or p["random_l"]
                              or p["brightness"] > 0 or p["contrast"] > 0 or p["saturation"] > 0
                              or p["pca_noise"] > 0)

    def windows(self, shapes, draws):
        """For a recipe of pad and crop only, the output windows of a chunk of images of
        `shapes` (H, W, ...) without running __call__: their (top, left) corners (negative,
        or past the far edge, where the pad shows) drawn from the leading columns of `draws`
        (one row a sample) exactly as __call__ draws them through SampleRng, and how many
        columns that took. Rows not `ok` (other recipes, images too small for the window)
        need __call__."""
        k = max(self.p["pad"], 0)
        hw = np.asarray(shapes, np.int64).reshape(-1, 3)[:, :2] + 2 * k
        dy, dx = hw[:, 0] - self.h, hw[:, 1] - self.w
        ok = (dy >= 0) & (dx >= 0) & self.crop_only
        if not self.p["rand_crop"]:
            return dy // 2 - k, dx // 2 - k, 0, ok
        # SampleRng.integers(0, d + 1) of each corner
        top = np.minimum(dy, (draws[:, 0] * (dy + 1)).astype(np.int64))
        left = np.minimum(dx, (draws[:, 1] * (dx + 1)).astype(np.int64))
        return top - k, left - k, 2, ok

    def _interp(self, rng, old_w, old_h, new_w, new_h):
        m = self.p["inter_method"]
        if m == 9:
            if new_w > old_w and new_h > old_h:
                return INTER_CUBIC
            if new_w < old_w and new_h < old_h:
                return INTER_AREA
            return INTER_LINEAR
        if m == 10:
            return int(rng.integers(0, 5))
        return m

    def _resize(self, img, rng, w, h):
        return resize(img, int(w), int(h), self._interp(rng, img.shape[1], img.shape[0], w, h))

    def __call__(self, img, rng):
        """The augmented (height, width) crop of uint8 image `img` (H, W, C)."""
        p = self.p
        if p["resize"] > 0:
            h, w = img.shape[:2]
            if h > w:
                img = self._resize(img, rng, p["resize"], p["resize"] * h // w)
            else:
                img = self._resize(img, rng, p["resize"] * w // h, p["resize"])
        if p["random_resized_crop"]:
            img = self._random_resized_crop(img, rng)
        else:
            if self.affine:
                img = self._warp(img, rng)
            if p["pad"] > 0:
                # a filled canvas: np.pad's generality costs more than a small image's crop
                k, (h, w, c) = p["pad"], img.shape
                canvas = np.full((h + 2 * k, w + 2 * k, c), p["fill_value"], img.dtype)
                canvas[k:k + h, k:k + w] = img
                img = canvas
            img = self._crop(img, rng)
        if (p["random_h"] or p["random_s"] or p["random_l"]) and img.shape[2] == 3:
            img = _hls_jitter(img, rng, p["random_h"], p["random_s"], p["random_l"])
        if p["brightness"] > 0 or p["contrast"] > 0 or p["saturation"] > 0 or p["pca_noise"] > 0:
            img = self._color(img, rng)
        return img

    def _fit(self, img, rng):
        """`img` enlarged to hold the output, as MXNet 1.9.1 does: too few rows, the height is
        scaled to the output's (the width truncated); then too few columns, the same for the
        width. Sizes come from float32 ratios, as in its C++."""
        f32 = np.float32
        h, w = img.shape[:2]
        if h < self.h:
            w = int(f32(self.h) / f32(h) * f32(w))
            img = self._resize(img, rng, w, self.h)
            h = self.h
        if w < self.w:
            img = self._resize(img, rng, self.w, int(f32(self.w) / f32(w) * f32(h)))
        return img

    def _crop(self, img, rng):
        p = self.p
        if p["max_crop_size"] != -1 or p["min_crop_size"] != -1:
            size = int(rng.integers(p["min_crop_size"], p["max_crop_size"] + 1))
            h, w = img.shape[:2]
            if h < size or w < size:
                raise ValueError("ImageRecordIter: an image of %dx%d is smaller than max_crop_size "
                                 "%d" % (w, h, p["max_crop_size"]))
            y, x = self._corner(rng, h - size, w - size)
            return self._resize(img[y:y + size, x:x + size], rng, self.w, self.h)
        img = self._fit(img, rng)
        h, w = img.shape[:2]
        y, x = self._corner(rng, h - self.h, w - self.w)
        return img[y:y + self.h, x:x + self.w]

    def _corner(self, rng, dy, dx):
        if self.p["rand_crop"]:
            return int(rng.integers(0, dy + 1)), int(rng.integers(0, dx + 1))
        return dy // 2, dx // 2

    def _aspect(self, rng):
        p = self.p
        if p["min_aspect_ratio"] is not None:
            return rng.uniform(p["min_aspect_ratio"], max(p["min_aspect_ratio"], p["max_aspect_ratio"]))
        return 1.0 + rng.uniform(-p["max_aspect_ratio"], p["max_aspect_ratio"])

    def _random_resized_crop(self, img, rng):
        # Inception-style: a random area fraction and aspect ratio, up to 10 tries, else the
        # centered crop of the output's aspect ratio; then resized to the output size.
        p = self.p
        h, w = img.shape[:2]
        for _ in range(10):
            area = h * w * rng.uniform(p["min_random_area"], p["max_random_area"])
            ratio = self._aspect(rng)
            if ratio <= 0:
                continue
            cw, ch = int(round(math.sqrt(area * ratio))), int(round(math.sqrt(area / ratio)))
            if 0 < cw <= w and 0 < ch <= h:
                y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
                return self._resize(img[y:y + ch, x:x + cw], rng, self.w, self.h)
        ch, cw = h, int(h * self.w / self.h)
        if cw > w:
            cw, ch = w, int(w * self.h / self.w)
        y, x = (h - ch) // 2, (w - cw) // 2
        return self._resize(img[y:y + ch, x:x + cw], rng, self.w, self.h)

    def _warp(self, img, rng):
        """MXNet's random affine: rotation, shear, scale and aspect ratio about the center,
        into a canvas of the scaled size (bounded by min/max_img_size), filled outside."""
        p = self.p
        shear = rng.uniform(-1, 1) * p["max_shear_ratio"]
        angle = int(rng.integers(-p["max_rotate_angle"], p["max_rotate_angle"] + 1))
        if p["rotate"] > 0:
            angle = p["rotate"]
        a, b = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        scale = rng.uniform(p["min_random_scale"], p["max_random_scale"]) \
            if p["max_random_scale"] != p["min_random_scale"] else p["min_random_scale"]
        ratio = self._aspect(rng)
        hs = 2 * scale / (1 + ratio)
        ws = ratio * hs
        rows, cols = img.shape[:2]
        new_w = int(max(p["min_img_size"], min(p["max_img_size"], scale * cols)))
        new_h = int(max(p["min_img_size"], min(p["max_img_size"], scale * rows)))
        m = np.array([[hs * a - shear * b * ws, hs * b + shear * a * ws, 0.0],
                      [-b * ws, a * ws, 0.0]])
        m[0, 2] = (new_w - (m[0, 0] * cols + m[0, 1] * rows)) / 2
        m[1, 2] = (new_h - (m[1, 0] * cols + m[1, 1] * rows)) / 2
        nearest = self._interp(rng, cols, rows, new_w, new_h) == INTER_NEAREST
        return warp_affine(img, m, new_w, new_h, p["fill_value"], nearest)

    def _color(self, img, rng):
        p = self.p
        x = img.astype(np.float32)
        jitters = []
        if p["brightness"] > 0:
            jitters.append(lambda v: v * (1.0 + rng.uniform(-p["brightness"], p["brightness"])))
        if p["contrast"] > 0:
            def contrast(v):
                alpha = 1.0 + rng.uniform(-p["contrast"], p["contrast"])
                gray = v @ _GRAY if v.shape[2] == 3 else v[..., 0]
                return v * alpha + (1.0 - alpha) * float(gray.mean())
            jitters.append(contrast)
        if p["saturation"] > 0 and x.shape[2] == 3:
            def saturation(v):
                alpha = 1.0 + rng.uniform(-p["saturation"], p["saturation"])
                return v * alpha + (1.0 - alpha) * (v @ _GRAY)[..., None]
            jitters.append(saturation)
        for i in rng.permutation(len(jitters)):  # a random order, as MXNet's ColorJitter
            x = jitters[i](x)
        if p["pca_noise"] > 0 and x.shape[2] == 3:
            alpha = rng.normal(0, p["pca_noise"], size=3)
            x = x + (_PCA_EIGVEC @ (alpha * _PCA_EIGVAL)).astype(np.float32)
        return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def warp_affine(img, m, width, height, fill, nearest=False):
    """cv2.warpAffine(img, m, (width, height)) with a constant border `fill`: each output pixel
    samples the source at the inverse image of its coordinates."""
    inv = np.linalg.inv(np.vstack([m, [0.0, 0.0, 1.0]]))[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    sx = inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]
    sy = inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]
    # One pixel of border on each side carries the fill into the interpolation.
    src = np.pad(img.astype(np.float32), ((1, 1), (1, 1), (0, 0)), constant_values=fill)
    h, w = src.shape[:2]
    sx, sy = sx + 1, sy + 1
    if nearest:
        xi, yi = np.rint(sx).astype(np.int64), np.rint(sy).astype(np.int64)
        inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        out = src[np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)]
    else:
        x0, y0 = np.floor(sx).astype(np.int64), np.floor(sy).astype(np.int64)
        fx, fy = (sx - x0)[..., None], (sy - y0)[..., None]
        inside = (x0 >= 0) & (x0 < w - 1) & (y0 >= 0) & (y0 < h - 1)
        x0, y0 = np.clip(x0, 0, w - 2), np.clip(y0, 0, h - 2)
        out = (src[y0, x0] * (1 - fx) * (1 - fy) + src[y0, x0 + 1] * fx * (1 - fy)
               + src[y0 + 1, x0] * (1 - fx) * fy + src[y0 + 1, x0 + 1] * fx * fy)
    out[~inside] = fill
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _hls_jitter(img, rng, dh, ds, dl):
    """Adds U(-dh, dh), U(-ds, ds), U(-dl, dl) to hue (0..180), saturation and lightness
    (0..255) in OpenCV's 8-bit HLS, clipped, as MXNet's augmenter does."""
    h, s, l = (int(rng.uniform(-1, 1) * d) for d in (dh, ds, dl))
    hue, light, sat = rgb_to_hls8(img)
    hue = np.clip(hue + h, 0, 180)
    light = np.clip(light + l, 0, 255)
    sat = np.clip(sat + s, 0, 255)
    return hls8_to_rgb(hue, light, sat)


def rgb_to_hls8(img):
    """OpenCV's 8-bit RGB -> HLS: hue in degrees / 2, lightness and saturation * 255."""
    rgb = img.astype(np.float32) / 255.0
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    vmax, vmin = rgb.max(-1), rgb.min(-1)
    diff = vmax - vmin
    light = (vmax + vmin) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        sat = np.where(light < 0.5, diff / (vmax + vmin), diff / (2.0 - vmax - vmin))
        hue = np.where(vmax == r, 60 * (g - b) / diff,
                       np.where(vmax == g, 120 + 60 * (b - r) / diff, 240 + 60 * (r - g) / diff))
    flat = diff == 0
    sat[flat], hue[flat] = 0.0, 0.0
    hue = np.where(hue < 0, hue + 360, hue)
    return (np.rint(hue / 2).astype(np.int64), np.rint(light * 255).astype(np.int64),
            np.rint(sat * 255).astype(np.int64))


def hls8_to_rgb(hue, light, sat):
    """The inverse of rgb_to_hls8, rounded to uint8."""
    h = hue.astype(np.float32) * 2 / 60.0
    l, s = light.astype(np.float32) / 255.0, sat.astype(np.float32) / 255.0
    c = (1 - np.abs(2 * l - 1)) * s
    x = c * (1 - np.abs(np.mod(h, 2) - 1))
    m = l - c / 2
    z = np.zeros_like(c)
    sector = np.floor(h).astype(np.int64) % 6
    choices = [(c, x, z), (x, c, z), (z, c, x), (z, x, c), (x, z, c), (c, z, x)]
    out = np.zeros(hue.shape + (3,), np.float32)
    for k, (r, g, b) in enumerate(choices):
        sel = sector == k
        out[sel] = np.stack([r[sel], g[sel], b[sel]], -1)
    return np.clip(np.rint((out + m[..., None]) * 255), 0, 255).astype(np.uint8)
