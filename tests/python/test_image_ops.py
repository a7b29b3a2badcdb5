"""mx.nd.image / mx.sym.image: MXNet 1.9.1's _image_* operators.

Deterministic ops are compared with the values MXNet 1.9.1 printed for the same seeded inputs
(image_ops_mxnet_ref.py); the random augmenters with min_factor == max_factor too (that pins the
factor), and otherwise for ranges, determinism under mx.random.seed, and numpy formulas
evaluated with the factor recovered from the output. Gradients are checked against numpy.
"""
import numpy as np
import pytest

import oxnet as mx
from oxnet.base import MXNetError
from oxnet.io import _imgops
from image_ops_mxnet_ref import MX

I = mx.nd.image
OPS = ["to_tensor", "normalize", "flip_left_right", "flip_top_bottom", "random_flip_left_right",
       "random_flip_top_bottom", "crop", "resize", "adjust_lighting", "random_lighting",
       "random_brightness", "random_contrast", "random_saturation", "random_hue",
       "random_color_jitter"]
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _inputs():
    rs = np.random.RandomState(7)
    u3 = rs.randint(0, 256, (4, 6, 3)).astype(np.uint8)
    u4 = rs.randint(0, 256, (2, 3, 4, 3)).astype(np.uint8)
    f3 = rs.uniform(0, 255, (4, 6, 3)).astype(np.float32)
    f4 = rs.uniform(0, 1, (2, 3, 4, 1)).astype(np.float32)
    return u3, u4, f3, f4


U3, U4, F3, F4 = _inputs()


def nd(a):
    return mx.nd.array(a, dtype=a.dtype)


def same(out, key, shape, rtol=0.0, atol=0.0):
    """out equals MXNet's printed values for key (exactly unless a tolerance is given)."""
    want = np.array(MX[key]).reshape(shape)
    got = out.asnumpy()
    assert got.shape == tuple(shape)
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=rtol, atol=atol, err_msg=key)


def test_namespaces():
    for name in OPS:
        assert getattr(I, name) is getattr(mx.nd._internal, "_image_" + name)
        assert callable(getattr(mx.sym.image, name))
    s = mx.sym.image.resize(mx.sym.var("img"), size=(5, 4))
    assert s.name.startswith("resize")
    _, out, _ = s.infer_shape(img=(10, 20, 3))
    assert out == [(4, 5, 3)]
    t = mx.sym.image.to_tensor(mx.sym.var("img"))
    _, out, _ = t.infer_shape(img=(2, 10, 20, 3))
    assert out == [(2, 3, 10, 20)]
    _, types, _ = t.infer_type(img=np.uint8)
    assert types == [np.float32]


def test_to_tensor_matches_mxnet():
    out = I.to_tensor(nd(U3))
    assert out.dtype == np.float32
    same(out, "to_tensor_u3", (3, 4, 6))
    same(I.to_tensor(nd(U4)), "to_tensor_u4", (2, 3, 3, 4))
    same(I.to_tensor(nd(F4)), "to_tensor_f4", (2, 1, 3, 4))


def test_normalize_matches_mxnet():
    c3 = mx.nd.array(F3.transpose(2, 0, 1) / 255)
    same(I.normalize(c3, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)), "normalize_c3",
         (3, 4, 6), rtol=1e-6)
    same(I.normalize(mx.nd.array(F4.transpose(0, 3, 1, 2)), mean=(0.5,), std=(0.25,)),
         "normalize_n4", (2, 1, 3, 4), rtol=1e-6)
    u8 = I.normalize(nd(np.ascontiguousarray(U3.transpose(2, 0, 1))), mean=(10, 20, 30), std=(2,))
    assert u8.dtype == np.uint8
    # MXNet's printed values include the wrapped results of negative values cast to uint8;
    # oxnet saturates those to 0, so compare where the true result is non-negative.
    want = np.array(MX["normalize_u8"]).reshape(3, 4, 6)
    exact = (U3.transpose(2, 0, 1).astype(np.float32) - np.array([10, 20, 30])[:, None, None]) >= 0
    np.testing.assert_array_equal(u8.asnumpy()[exact], want[exact])
    assert (u8.asnumpy()[~exact] == 0).all()


def test_flips_match_mxnet_and_numpy():
    # MXNet leaves the middle column/row of odd sizes unwritten; these sizes are even.
    same(I.flip_left_right(nd(U3)), "flip_lr_u3", (4, 6, 3))
    same(I.flip_top_bottom(nd(U3)), "flip_tb_u3", (4, 6, 3))
    same(I.flip_left_right(nd(F3)), "flip_lr_f3", (4, 6, 3))
    odd = np.arange(5 * 7, dtype=np.float32).reshape(5, 7, 1)
    np.testing.assert_array_equal(I.flip_left_right(nd(odd)).asnumpy(), odd[:, ::-1])
    np.testing.assert_array_equal(I.flip_top_bottom(nd(odd)).asnumpy(), odd[::-1])


def test_crop_matches_mxnet():
    same(I.crop(nd(U3), 1, 2, 4, 2), "crop_u3", (2, 4, 3))
    same(I.crop(nd(U4), 2, 0, 2, 3), "crop_u4", (2, 3, 2, 3))
    same(I.crop(nd(F3), x=0, y=1, width=6, height=3), "crop_f3", (3, 6, 3))


@pytest.mark.parametrize("name,arr", [("u3", U3), ("f3", F3), ("u4", U4)])
@pytest.mark.parametrize("size", [(9, 7), (3, 2), (5,), (4, 3)])
@pytest.mark.parametrize("interp", [0, 1])
def test_resize_matches_mxnet(name, arr, size, interp):
    key = "resize_%s_%s_%d" % (name, "x".join(map(str, size)), interp)
    w, h = (size[0], size[0]) if len(size) == 1 else size
    shape = arr.shape[:-3] + (h, w, arr.shape[-1])
    out = I.resize(nd(arr), size, interp=interp)
    assert out.dtype == arr.dtype
    # float32: OpenCV sums in float32, oxnet in float64 then rounds
    same(out, key, shape, rtol=1e-6 if arr.dtype == np.float32 else 0)


def test_resize_keep_ratio_matches_mxnet():
    out = I.resize(nd(U3), 5, keep_ratio=True)
    assert list(out.shape) == MX["resize_u3_keep_shape"]
    same(out, "resize_u3_keep", MX["resize_u3_keep_shape"])
    tall = I.resize(mx.nd.zeros((7, 3, 3)), (2,), keep_ratio=True)
    assert list(tall.shape) == MX["resize_tall_keep_shape"]
    # keep_ratio only applies to one size value
    assert I.resize(nd(U3), (3, 5), keep_ratio=True).shape == (5, 3, 3)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_imresize_uses_the_op_and_equals_the_opencv_model(dtype):
    rs = np.random.RandomState(3)
    img = (rs.uniform(0, 255, (13, 17, 3))).astype(dtype)
    for w, h in [(31, 8), (5, 29), (17, 13), (6, 4)]:
        for interp in (0, 1):
            got = mx.image.imresize(nd(img), w, h, interp=interp).asnumpy()
            want = _imgops.resize(img, w, h, interp)
            assert got.dtype == dtype
            np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64),
                                       rtol=1e-6 if dtype == np.float32 else 1e-12)
    gray = (rs.uniform(0, 255, (9, 11))).astype(np.uint8)
    np.testing.assert_array_equal(mx.image.imresize(nd(gray), 4, 6).asnumpy(),
                                  _imgops.resize(gray, 4, 6, 1))


# (h, w) -> (oh, ow): shrink, grow, mixed, by whole and fractional factors, to and from 1 pixel
RESIZES = [((13, 17), (5, 7)), ((13, 17), (31, 40)), ((13, 17), (26, 34)), ((13, 17), (4, 51)),
           ((13, 17), (40, 6)), ((1, 9), (3, 4)), ((8, 1), (2, 5)), ((9, 11), (1, 1)),
           ((64, 48), (17, 16)), ((37, 29), (37, 12))]


@pytest.mark.parametrize("interp", [0, 1, 2, 3, 4])
def test_uint8_resize_kernels_equal_the_opencv_model(interp):
    """The native uint8 kernels (iterators, im2rec, imresize, the op) against the numpy
    statement of OpenCV's arithmetic, which image_mxnet_ref.py pins to MXNet's outputs."""
    import cv_resize_model
    rs = np.random.RandomState(interp)
    for (h, w), (oh, ow) in RESIZES:
        for c in (1, 3, 4):
            img = rs.randint(0, 256, (h, w, c)).astype(np.uint8)
            want = cv_resize_model.resize(img, ow, oh, interp)
            got = _imgops.resize(img, ow, oh, interp)
            assert got.shape == (oh, ow, c) and got.dtype == np.uint8
            np.testing.assert_array_equal(got, want, err_msg="%s -> %s, c=%d" % ((h, w), (oh, ow), c))
    # a batch through the op equals each image through the model; a strided view is read right
    batch = rs.randint(0, 256, (3, 21, 30, 3)).astype(np.uint8)
    out = I.resize(nd(batch), (11, 9), interp=interp).asnumpy()
    for k in range(3):
        np.testing.assert_array_equal(out[k], cv_resize_model.resize(batch[k], 11, 9, interp))
    view = batch[0, ::2, ::3]
    np.testing.assert_array_equal(_imgops.resize(view, 7, 5, interp),
                                  cv_resize_model.resize(np.ascontiguousarray(view), 7, 5, interp))
    gray = batch[1, :, :, 0]
    np.testing.assert_array_equal(_imgops.resize(gray, 13, 40, interp),
                                  cv_resize_model.resize(gray, 13, 40, interp))


def test_uint8_resize_rejects_bad_arguments():
    img = np.zeros((4, 5, 3), np.uint8)
    with pytest.raises(ValueError, match="interpolation method 5"):
        _imgops.resize(img, 3, 3, 5)
    with pytest.raises(MXNetError, match="every size must be positive"):
        _imgops.resize(img, 0, 3, 1)
    with pytest.raises(MXNetError, match="interp must be .* got 6, in operator _image_resize"):
        I.resize(nd(img), (3, 3), interp=6)
    with pytest.raises(MXNetError, match="interp=3 .* uint8 images only, the data is float32"):
        I.resize(mx.nd.zeros((4, 5, 3)), (3, 3), interp=3).wait_to_read()


def test_lighting_and_pinned_random_ops_match_mxnet():
    same(I.adjust_lighting(nd(U3), alpha=(0.02, -0.05, 0.1)), "adjl_u3", (4, 6, 3))
    same(I.adjust_lighting(nd(F3), alpha=(-0.1, 0.3, 0.05)), "adjl_f3", (4, 6, 3), rtol=1e-6)
    same(I.random_brightness(nd(U3), 1.3, 1.3), "bright_u3", (4, 6, 3))
    same(I.random_brightness(nd(F3), 0.7, 0.7), "bright_f3", (4, 6, 3), rtol=1e-6)
    # MXNet sums the gray mean in float32; a uint8 value may truncate one level apart
    same(I.random_contrast(nd(U3), 0.6, 0.6), "contrast_u3", (4, 6, 3), atol=1)
    same(I.random_contrast(nd(F3), 1.4, 1.4), "contrast_f3", (4, 6, 3), rtol=1e-5)
    same(I.random_hue(nd(U3), 0.2, 0.2), "hue_u3", (4, 6, 3), atol=1)
    same(I.random_hue(nd(F3), 0.7, 0.7), "hue_f3", (4, 6, 3), rtol=1e-4, atol=1e-3)


def _seeded(f, seed):
    mx.random.seed(seed)
    return f().asnumpy()


def test_random_ops_are_deterministic_under_seed():
    x = nd(U3)
    calls = [
        lambda: I.random_flip_left_right(x), lambda: I.random_flip_top_bottom(x),
        lambda: I.random_brightness(x, 0.2, 1.8), lambda: I.random_contrast(x, 0.2, 1.8),
        lambda: I.random_saturation(x, 0.2, 1.8), lambda: I.random_hue(x, 0.0, 0.5),
        lambda: I.random_color_jitter(x, 0.4, 0.4, 0.4, 0.2), lambda: I.random_lighting(x, 0.5),
    ]
    for f in calls:
        a, b = _seeded(f, 11), _seeded(f, 11)
        np.testing.assert_array_equal(a, b)
        outs = [_seeded(f, s).tobytes() for s in range(12)]
        assert len(set(outs)) > 1


def test_random_flips_choose_between_identity_and_flip():
    x = nd(F3)
    seen = {"lr": set(), "tb": set()}
    for s in range(40):
        a = _seeded(lambda: I.random_flip_left_right(x), s)
        b = _seeded(lambda: I.random_flip_top_bottom(x), s)
        seen["lr"].add("same" if np.array_equal(a, F3) else
                       "flip" if np.array_equal(a, F3[:, ::-1]) else "bad")
        seen["tb"].add("same" if np.array_equal(b, F3) else
                       "flip" if np.array_equal(b, F3[::-1]) else "bad")
    assert seen == {"lr": {"same", "flip"}, "tb": {"same", "flip"}}


def test_random_enhance_factors_stay_in_range_and_follow_the_formulas():
    x = F3 + 1.0
    g = (x * LUMA).sum(-1, keepdims=True)
    for s in range(20):
        b = _seeded(lambda: I.random_brightness(nd(x), 0.5, 1.5), s)
        a = (b / x).ravel()
        assert np.ptp(a) < 1e-5 and 0.5 <= a[0] < 1.5
        np.testing.assert_allclose(b, x * np.float32(a[0]), rtol=1e-6)
        c = _seeded(lambda: I.random_contrast(nd(x), 0.5, 1.5), s)
        m = g.mean()
        ac = ((c - m) / (x - m)).ravel()
        assert 0.5 - 1e-4 <= np.median(ac) < 1.5 + 1e-4
        np.testing.assert_allclose(c, x * np.median(ac) + (1 - np.median(ac)) * m, rtol=1e-4,
                                   atol=1e-2)
        sa = _seeded(lambda: I.random_saturation(nd(x), 0.0, 2.0), s)
        asat = np.median(((sa - g) / (x - g)).ravel())
        assert -1e-4 <= asat < 2.0 + 1e-4
        np.testing.assert_allclose(sa, g * (1 - asat) + x * asat, rtol=1e-4, atol=1e-2)
    # uint8 results saturate to [0, 255] and truncate
    mx.random.seed(5)
    bu = I.random_brightness(nd(U3), 1.5, 2.0).asnumpy()
    mx.random.seed(5)
    bf = I.random_brightness(nd(U3.astype(np.float32) + 0), 1.5, 2.0).asnumpy()
    np.testing.assert_array_equal(bu, np.clip(bf, 0, 255).astype(np.uint8))


def test_random_hue_and_jitter_ranges():
    gray = np.repeat(F3[..., :1], 3, axis=2)
    # hue only rotates colors: grays are fixed points, and lightness is kept
    np.testing.assert_allclose(I.random_hue(nd(gray), 0.0, 1.0).asnumpy(), gray, rtol=1e-5)
    for s in range(10):
        h = _seeded(lambda: I.random_hue(nd(F3), 0.0, 0.5), s)
        lum = lambda a: (a.max(-1) + a.min(-1)) / 2  # noqa: E731
        np.testing.assert_allclose(lum(h), lum(F3), rtol=1e-4, atol=1e-3)
        # jitter with brightness only: factor 1 + U(-0.3, 0.3)
        j = _seeded(lambda: I.random_color_jitter(nd(F3 + 1), 0.3, 0, 0, 0), s)
        a = (j / (F3 + 1)).ravel()
        assert np.ptp(a) < 1e-5 and 0.7 <= a[0] < 1.3
    # all amounts non-positive: the image is unchanged
    np.testing.assert_array_equal(I.random_color_jitter(nd(U3), 0, 0, -1, 0).asnumpy(), U3)


def test_random_lighting_adds_pca_noise():
    eig = np.array([[55.46 * -0.5675, 4.794 * 0.7192, 1.148 * 0.4009],
                    [55.46 * -0.5808, 4.794 * -0.0045, 1.148 * -0.8140],
                    [55.46 * -0.5836, 4.794 * -0.6948, 1.148 * 0.4203]])
    alphas = []
    for s in range(30):
        o = _seeded(lambda: I.random_lighting(nd(F3), alpha_std=0.1), s)
        shift = (o - F3).reshape(-1, 3)
        assert np.ptp(shift, axis=0).max() < 1e-3
        alphas.append(np.linalg.solve(eig, shift[0].astype(np.float64)))
    alphas = np.array(alphas)
    assert 0.03 < alphas.std() < 0.2 and abs(alphas.mean()) < 0.06
    np.testing.assert_array_equal(I.random_lighting(nd(F3), alpha_std=0.0).asnumpy(), F3)
    # gray images pass through (MXNet leaves them unwritten)
    g1 = F3[..., :1].copy()
    np.testing.assert_array_equal(I.adjust_lighting(nd(g1), alpha=(1, 1, 1)).asnumpy(), g1)


def test_gradients():
    x = mx.nd.array(F3 / 255)
    og = np.random.RandomState(1).uniform(-1, 1, (3, 4, 6)).astype(np.float32)
    x.attach_grad()
    with mx.autograd.record():
        y = I.to_tensor(x)
    y.backward(mx.nd.array(og))
    np.testing.assert_allclose(x.grad.asnumpy(), og.transpose(1, 2, 0) / 255, rtol=1e-6)
    c = mx.nd.array(og)
    c.attach_grad()
    with mx.autograd.record():
        y = I.normalize(c, mean=(1, 2, 3), std=(2, 4, 0.5))
    y.backward(mx.nd.ones_like(y))
    np.testing.assert_allclose(c.grad.asnumpy()[:, 0, 0], [0.5, 0.25, 2.0])
    h = np.random.RandomState(2).uniform(-1, 1, (4, 6, 3)).astype(np.float32)
    for op, ref in [(I.flip_left_right, h[:, ::-1]), (I.flip_top_bottom, h[::-1]),
                    (lambda a: I.random_brightness(a, 2, 2), h)]:
        x = mx.nd.array(F3)
        x.attach_grad()
        with mx.autograd.record():
            y = op(x)
        y.backward(mx.nd.array(h))
        np.testing.assert_array_equal(x.grad.asnumpy(), ref)
    x = mx.nd.array(F3)
    x.attach_grad()
    with mx.autograd.record():
        y = I.crop(x, 1, 2, 3, 2)
    y.backward(mx.nd.ones_like(y))
    want = np.zeros_like(F3)
    want[2:4, 1:4] = 1
    np.testing.assert_array_equal(x.grad.asnumpy(), want)


@pytest.mark.parametrize("call,words", [
    (lambda: I.to_tensor(mx.nd.zeros((2, 2))), ["_image_to_tensor", "[2,2]"]),
    (lambda: I.normalize(mx.nd.zeros((2, 4, 5)), mean=(0,), std=(1,)), ["_image_normalize", "1 or 3"]),
    (lambda: I.normalize(mx.nd.zeros((3, 2, 2))), ["_image_normalize", "mean"]),
    (lambda: I.normalize(mx.nd.zeros((3, 2, 2)), mean=(1, 2), std=(1,)), ["mean", "1 or 3"]),
    (lambda: I.flip_left_right(mx.nd.zeros((2, 4, 5, 3))), ["_image_flip_left_right", "(height"]),
    (lambda: I.random_brightness(mx.nd.zeros((4, 5, 2)), 1, 2), ["_image_random_brightness", "1 or 3"]),
    (lambda: I.random_brightness(mx.nd.zeros((4, 5, 3)), -1, 2), ["min_factor", "greater equal"]),
    (lambda: I.crop(mx.nd.zeros((4, 5, 3)), 4, 1, 2, 2), ["_image_crop", "x + width"]),
    (lambda: I.crop(mx.nd.zeros((4, 5, 3)), 1, 3, 2, 2), ["_image_crop", "y + height"]),
    (lambda: I.crop(mx.nd.zeros((4, 5, 3)), -1, 0, 2, 2), ["_image_crop", "x=-1"]),
    (lambda: I.crop(mx.nd.zeros((4, 5, 3)), 0, 0, 0, 2), ["_image_crop", "greater than 0"]),
    (lambda: I.resize(mx.nd.zeros((4, 5, 3))), ["_image_resize", "1 or 2"]),
    (lambda: I.resize(mx.nd.zeros((4, 5, 3)), (0, 3)), ["_image_resize", "width"]),
    (lambda: I.resize(mx.nd.zeros((4, 5)), (2, 3)), ["_image_resize", "3 or 4"]),
    (lambda: I.resize(mx.nd.zeros((4, 5, 3), dtype="float16"), (2, 3)), ["_image_resize", "float16"]),
    (lambda: I.resize(mx.nd.zeros((4, 5, 3)), (2, 3), interp=2), ["_image_resize", "interp=2"]),
    (lambda: I.adjust_lighting(mx.nd.zeros((4, 5, 3)), alpha=(1, 2)), ["_image_adjust_lighting", "3 values"]),
])
def test_errors_name_the_op_and_argument(call, words):
    with pytest.raises(MXNetError) as e:
        call().wait_to_read()
    for w in words:
        assert w in str(e.value), (w, str(e.value))
