"""Legacy aliases, small contrib ops and softmax's length input, against numpy, finite
differences and values MXNet 1.9.1 printed for the same calls."""
import numpy as np
import pytest

import oxnet as mx
from oxnet import autograd as ag

I = mx.nd._internal
C = mx.nd.contrib


def _grad(f, *xs, head=None):
    for x in xs:
        x.attach_grad()
    with ag.record():
        y = f(*xs)
    y.backward(head if head is not None else mx.nd.ones_like(y))
    return [x.grad.asnumpy() for x in xs]


def _fd(f, x, head, eps=1e-4):
    """Central finite differences of sum(f(x) * head) in float64."""
    x = x.astype(np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        p, m = x.copy(), x.copy()
        p[i] += eps
        m[i] -= eps
        g[i] = ((f(p) - f(m)) * head).sum() / (2 * eps)
    return g


LEGACY = {
    "_Equal": "_equal", "_Not_Equal": "_not_equal", "_Greater": "_greater",
    "_Greater_Equal": "_greater_equal", "_Lesser": "_lesser", "_Lesser_Equal": "_lesser_equal",
    "_Logical_And": "_logical_and", "_Logical_Or": "_logical_or", "_Logical_Xor": "_logical_xor",
    "_Hypot": "_hypot",
}
LEGACY_SCALAR = {
    "_EqualScalar": "_equal_scalar", "_NotEqualScalar": "_not_equal_scalar",
    "_GreaterScalar": "_greater_scalar", "_GreaterEqualScalar": "_greater_equal_scalar",
    "_LesserScalar": "_lesser_scalar", "_LesserEqualScalar": "_lesser_equal_scalar",
    "_LogicalAndScalar": "_logical_and_scalar", "_LogicalOrScalar": "_logical_or_scalar",
    "_LogicalXorScalar": "_logical_xor_scalar", "_HypotScalar": "_hypot_scalar",
    "_ModScalar": "_mod_scalar", "_RModScalar": "_rmod_scalar",
}


def test_legacy_binary_aliases():
    a = mx.nd.array([[1, 2, 3], [4, 5, 6]])
    b = mx.nd.array([[1, 0, 3], [0, 5, 0]])
    for alias, target in LEGACY.items():
        assert (alias, target) in mx._native.list_aliases()
        np.testing.assert_array_equal(getattr(I, alias)(a, b).asnumpy(),
                                      getattr(I, target)(a, b).asnumpy())
    # MXNet 1.9.1
    np.testing.assert_array_equal(I._Equal(a, b).asnumpy(), [[1, 0, 1], [0, 1, 0]])
    np.testing.assert_allclose(I._Hypot(a, b).asnumpy(),
                               [[1.4142135, 2., 4.2426405], [4., 7.071068, 6.]], rtol=1e-6)
    s = mx.sym._internal._Greater(mx.sym.var("x"), mx.sym.var("y"))
    assert s.list_arguments() == ["x", "y"]


def test_legacy_scalar_aliases():
    a = mx.nd.array([[1, 2, 3], [4, 5, 6]])
    for alias, target in LEGACY_SCALAR.items():
        np.testing.assert_array_equal(getattr(I, alias)(a, scalar=4).asnumpy(),
                                      getattr(I, target)(a, scalar=4).asnumpy())
    # MXNet 1.9.1
    np.testing.assert_array_equal(I._ModScalar(a, scalar=4).asnumpy(), [[1, 2, 3], [0, 1, 2]])
    np.testing.assert_array_equal(I._RModScalar(a, scalar=4).asnumpy(), [[0, 0, 1], [0, 4, 4]])


def test_choose_and_fill_element_0index():
    a = mx.nd.array([[1, 2, 3], [4, 5, 6]])
    # MXNet 1.9.1: choose_element_0index is pick (clip mode)
    np.testing.assert_array_equal(mx.nd.choose_element_0index(a, mx.nd.array([2, 0])).asnumpy(), [3, 4])
    np.testing.assert_array_equal(mx.nd.choose_element_0index(a, mx.nd.array([5, -1])).asnumpy(), [3, 4])
    v = mx.nd.array([9, 8])
    np.testing.assert_array_equal(mx.nd.fill_element_0index(a, v, mx.nd.array([2, 0])).asnumpy(),
                                  [[1, 2, 9], [8, 5, 6]])
    # out-of-row indices are skipped, as in MXNet
    np.testing.assert_array_equal(mx.nd.fill_element_0index(a, v, mx.nd.array([7, -3])).asnumpy(),
                                  a.asnumpy())
    rng = np.random.RandomState(0)
    x = rng.randint(0, 100, (10, 6)).astype(np.float32)
    idx = rng.randint(0, 6, 10)
    val = rng.randint(0, 100, 10).astype(np.float32)
    want = x.copy()
    want[np.arange(10), idx] = val
    got = mx.nd.fill_element_0index(mx.nd.array(x), mx.nd.array(val), mx.nd.array(idx))
    np.testing.assert_array_equal(got.asnumpy(), want)
    with pytest.raises(mx.MXNetError, match="fill_element_0index"):
        mx.nd.fill_element_0index(a, mx.nd.array([1, 2, 3]), mx.nd.array([0, 1]))
    with pytest.raises(NotImplementedError, match="non-differentiable"):
        _grad(lambda x: mx.nd.fill_element_0index(x, v, mx.nd.array([0, 1])), a)


def test_onehot_encode_and_copyto():
    o = mx.nd.ones((3, 4))
    I._onehot_encode(mx.nd.array([1, 7, -1]), o, out=o)
    # MXNet 1.9.1: out-of-range rows stay all zero
    np.testing.assert_array_equal(o.asnumpy(), [[0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    r = I._onehot_encode(mx.nd.array([3, 0]), mx.nd.zeros((2, 4), dtype="int32"))
    assert r.dtype == np.int32
    np.testing.assert_array_equal(r.asnumpy(), [[0, 0, 0, 1], [1, 0, 0, 0]])
    a = mx.nd.array([[1, 2, 3], [4, 5, 6]])
    out = mx.nd.zeros((2, 3))
    I._copyto(a, out=out)
    np.testing.assert_array_equal(out.asnumpy(), a.asnumpy())


def test_quadratic_and_div_sqrt_dim():
    x = np.array([[1.5, -2.5, 0.5], [2.2, -0.4, 3.7]], np.float32)
    # MXNet 1.9.1 values and gradients (head gradient 2)
    np.testing.assert_allclose(C.quadratic(mx.nd.array(x), a=2, b=3, c=1).asnumpy(),
                               [[10, 6, 3], [17.280000686645508, 0.1199999451637268, 39.47999954223633]],
                               rtol=1e-6)
    g, = _grad(lambda t: C.quadratic(t, a=2, b=3, c=1), mx.nd.array(x), head=mx.nd.full((2, 3), 2))
    np.testing.assert_allclose(g, [[18, -14, 10], [23.600000381469727, 2.799999952316284, 35.599998474121094]],
                               rtol=1e-6)
    np.testing.assert_allclose(C.div_sqrt_dim(mx.nd.array(x)).asnumpy(), x / np.sqrt(3), rtol=1e-6)
    g, = _grad(C.div_sqrt_dim, mx.nd.array(x), head=mx.nd.full((2, 3), 2))
    np.testing.assert_allclose(g, np.full((2, 3), 1.154700517654419), rtol=1e-6)
    # integer data truncates, as MXNet's integer kernel does
    np.testing.assert_array_equal(C.div_sqrt_dim(mx.nd.array([[1, 2, 3, 4]], dtype="int32")).asnumpy(),
                                  [[0, 1, 1, 2]])
    # finite differences through the symbolic executor (float64)
    rng = np.random.RandomState(1)
    xv = rng.uniform(-1, 1, (3, 4))
    head = rng.uniform(-1, 1, (3, 4))
    s = mx.sym.contrib.quadratic(mx.sym.var("x"), a=0.5, b=-1.5, c=2)
    ex = s.simple_bind(mx.cpu(), x=(3, 4), type_dict={"x": np.float64})
    ex.forward(is_train=True, x=mx.nd.array(xv, dtype=np.float64))
    ex.backward(mx.nd.array(head, dtype=np.float64))
    np.testing.assert_allclose(ex.grad_dict["x"].asnumpy(),
                               _fd(lambda t: 0.5 * t * t - 1.5 * t + 2, xv, head), rtol=1e-6)


def test_straight_through_estimators_and_gradient_multiplier():
    x = mx.nd.array([[1.5, -2.5, 0.5], [2.2, -0.4, 3.7]])
    # MXNet 1.9.1
    np.testing.assert_array_equal(C.round_ste(x).asnumpy(), [[2, -3, 1], [2, -0., 4]])
    np.testing.assert_array_equal(C.sign_ste(x).asnumpy(), [[1, -1, 1], [1, -1, 1]])
    np.testing.assert_array_equal(C.sign_ste(mx.nd.array([0.0])).asnumpy(), [0])
    two = mx.nd.full((2, 3), 2)
    for f in (C.round_ste, C.sign_ste):
        g, = _grad(f, x.copy(), head=two)
        np.testing.assert_array_equal(g, np.full((2, 3), 2))
    np.testing.assert_array_equal(C.gradientmultiplier(x, scalar=-0.5).asnumpy(), x.asnumpy())
    g, = _grad(lambda t: C.gradientmultiplier(t, scalar=-0.5), x.copy(), head=two)
    np.testing.assert_array_equal(g, np.full((2, 3), -1))


def test_arange_like_and_index_array():
    x = mx.nd.zeros((2, 3))
    # MXNet 1.9.1
    np.testing.assert_array_equal(C.arange_like(x).asnumpy(), [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(C.arange_like(x, start=2, step=0.5, axis=1).asnumpy(), [2, 2.5, 3])
    np.testing.assert_array_equal(C.arange_like(x, repeat=2).asnumpy(), [[0, 0, 1], [1, 2, 2]])
    np.testing.assert_array_equal(C.arange_like(x, repeat=2, axis=1).asnumpy(), [0, 0, 1])
    assert C.arange_like(mx.nd.zeros((2, 2), dtype="float64")).dtype == np.float64
    assert C.arange_like(mx.nd.zeros((2, 2), dtype="int32")).dtype == np.int32
    with pytest.raises(mx.MXNetError, match="arange_like"):
        C.arange_like(x, axis=2)
    ia = C.index_array(x)
    assert ia.dtype == np.int64
    np.testing.assert_array_equal(ia.asnumpy(), np.stack(np.indices((2, 3)), axis=-1))
    np.testing.assert_array_equal(C.index_array(mx.nd.zeros((2, 3, 2)), axes=(2, 0)).asnumpy(),
                                  np.stack([np.indices((2, 3, 2))[2], np.indices((2, 3, 2))[0]], -1))
    np.testing.assert_array_equal(C.index_array(x, axes=(-1,)).asnumpy(), [[[0], [1], [2]]] * 2)
    assert mx.sym.contrib.index_array(mx.sym.var("d")).infer_type(d=np.float32)[1] == [np.int64]


def test_allclose():
    a = mx.nd.array([1, 2, 3])
    b = mx.nd.array([1, 2.00001, 3.1])
    r = C.allclose(a, b)
    # MXNet 1.9.1: a 0-d uint8 array
    assert r.shape == () and r.dtype == np.uint8 and r.asscalar() == 0
    assert C.allclose(a, b, rtol=0.1).asscalar() == 1
    nan = mx.nd.array([np.nan, 1])
    assert C.allclose(nan, nan).asscalar() == 1
    assert C.allclose(nan, nan, equal_nan=False).asscalar() == 0
    inf = mx.nd.array([np.inf, 1])
    assert C.allclose(inf, inf, equal_nan=False).asscalar() == 1
    one, oneone = mx.nd.array([1, 1]), mx.nd.array([1.1, 1])
    assert C.allclose(one, oneone, rtol=0.05, atol=0.06).asscalar() == 1
    assert C.allclose(oneone, one, rtol=0.05, atol=0.051).asscalar() == 1
    assert C.allclose(one, oneone, rtol=0.05, atol=0.04).asscalar() == 0
    with pytest.raises(mx.MXNetError, match="same shape"):
        C.allclose(one, mx.nd.array([1, 1, 1]))


def test_index_copy():
    old = mx.nd.zeros((5, 3))
    new = mx.nd.array([[1, 2, 3], [4, 5, 6]])
    idx = mx.nd.array([3, 0], dtype="int64")
    # MXNet 1.9.1
    np.testing.assert_array_equal(C.index_copy(old, idx, new).asnumpy(),
                                  [[4, 5, 6], [0, 0, 0], [0, 0, 0], [1, 2, 3], [0, 0, 0]])
    go, gn = _grad(lambda o, n: C.index_copy(o, idx, n), old, new,
                   head=mx.nd.arange(15).reshape((5, 3)))
    np.testing.assert_array_equal(go, [[0, 0, 0], [3, 4, 5], [6, 7, 8], [0, 0, 0], [12, 13, 14]])
    np.testing.assert_array_equal(gn, [[9, 10, 11], [0, 1, 2]])
    with pytest.raises(mx.MXNetError, match="new_tensor must have shape"):
        C.index_copy(old, mx.nd.array([1]), mx.nd.ones((2, 3)))
    with pytest.raises(mx.MXNetError, match="out of range"):
        C.index_copy(old, mx.nd.array([5]), mx.nd.ones((1, 3))).asnumpy()


def test_softmax_length():
    x = mx.nd.array([[1, 2, 3, 4], [2, 1, 0, 5]])
    ln = mx.nd.array([2, 3], dtype="int32")
    # MXNet 1.9.1
    np.testing.assert_allclose(mx.nd.softmax(x, ln, use_length=True).asnumpy(),
                               [[0.2689414322376251, 0.7310585975646973, 0, 0],
                                [0.6652409434318542, 0.2447284758090973, 0.09003057330846786, 0]],
                               rtol=1e-6)
    np.testing.assert_allclose(mx.nd.softmax(x, ln, use_length=True, temperature=2.0).asnumpy(),
                               [[0.3775406777858734, 0.622459352016449, 0, 0],
                                [0.5064803957939148, 0.30719590187072754, 0.18632373213768005, 0]],
                               rtol=1e-6)
    x3 = mx.nd.arange(24).reshape((2, 3, 4)) / 5
    l3 = mx.nd.array([[1, 2, 3, 0], [3, 2, 1, 0]], dtype="int64")
    np.testing.assert_allclose(
        mx.nd.softmax(x3, l3, use_length=True, axis=1).asnumpy(),
        [[[1.0, 0.31002554297447205, 0.12227071076631546, 0.0], [0.0, 0.6899744868278503, 0.272118479013443, 0.0],
          [0.0, 0.0, 0.6056107878684998, 0.0]],
         [[0.12227071821689606, 0.3100254535675049, 1.0, 0.0], [0.272118479013443, 0.6899744868278503, 0.0, 0.0],
          [0.6056107878684998, 0.0, 0.0, 0.0]]], rtol=1e-6)
    # 0 gives a zero row; lengths past the axis clamp to it (MXNet 1.9.1 reads past the row
    # there, and its row sums to 0.98765)
    e = np.exp(np.array([2, 1, 0, 5.0]) - 5)
    np.testing.assert_allclose(
        mx.nd.softmax(x, mx.nd.array([0, 7], dtype="int32"), use_length=True).asnumpy(),
        [[0, 0, 0, 0], e / e.sum()], rtol=1e-5)
    g, = _grad(lambda t: mx.nd.softmax(t, ln, use_length=True), x.copy(),
               head=mx.nd.array([[1, 2, 3, 4], [4, 3, 2, 1]]))
    np.testing.assert_allclose(g, [[-0.1966119408607483, 0.1966119259595871, 0.0, 0.0],
                                   [0.282587468624115, -0.1407703459262848, -0.1418170928955078, 0.0]],
                               rtol=1e-5, atol=1e-7)
    # symbol: length is the second argument, made automatically when not given
    s = mx.sym.softmax(mx.sym.var("x"), mx.sym.var("l"), use_length=True)
    assert s.list_arguments() == ["x", "l"]
    assert mx.sym.softmax(mx.sym.var("x")).list_arguments() == ["x"]
    assert mx.sym.softmax(mx.sym.var("x"), use_length=True, name="sm").list_arguments() == ["x", "sm_length"]
    assert s.infer_shape(x=(2, 4))[0] == [(2, 4), (2,)]
    assert s.infer_type(x=np.float32)[0] == [np.float32, np.int32]
    ex = s.simple_bind(mx.cpu(), x=(2, 4))
    ex.forward(x=x, l=ln)
    np.testing.assert_allclose(ex.outputs[0].asnumpy(), mx.nd.softmax(x, ln, use_length=True).asnumpy())
    with pytest.raises(mx.MXNetError, match="integer"):
        mx.nd.softmax(x, mx.nd.array([2, 3]), use_length=True).asnumpy()
    with pytest.raises(mx.MXNetError, match="length must have"):
        mx.nd.softmax(x, mx.nd.array([2, 3, 4], dtype="int32"), use_length=True)
    with pytest.raises(mx.MXNetError, match="log_softmax"):
        mx.nd.log_softmax(x, use_length=True)


def test_boolean_mask():
    d = mx.nd.array([[1, 2], [3, 4], [5, 6]])
    m = mx.nd.array([0, 1, 1])
    # MXNet 1.9.1
    np.testing.assert_array_equal(C.boolean_mask(d, m).asnumpy(), [[3, 4], [5, 6]])
    g, = _grad(lambda t: C.boolean_mask(t, m), d.copy(), head=mx.nd.array([[1, 2], [3, 4]]))
    np.testing.assert_array_equal(g, [[0, 0], [1, 2], [3, 4]])
    assert C.boolean_mask(d, mx.nd.array([0, 0, 0])).shape == (0, 2)
    x = np.arange(24).reshape(2, 3, 4).astype(np.float32)
    mask = np.array([1, 0, 0, 1])
    np.testing.assert_array_equal(C.boolean_mask(mx.nd.array(x), mx.nd.array(mask), axis=-1).asnumpy(),
                                  x[:, :, mask != 0])
    xi = mx.nd.array(x, dtype="int64")
    assert C.boolean_mask(xi, mx.nd.array([1, 0, 1]), axis=1).dtype == np.int64
    with pytest.raises(mx.MXNetError, match="index must be 1-D"):
        C.boolean_mask(d, mx.nd.array([1, 0]))
    # graphs cannot know the output shape before they run: MXNet 1.9.1 leaves it unknown
    s = mx.sym.contrib.boolean_mask(mx.sym.var("d"), mx.sym.var("m"))
    with pytest.warns(UserWarning):
        assert s.infer_shape(d=(3, 2), m=(3,)) == (None, None, None)
    assert s.infer_shape_partial(d=(3, 2), m=(3,)) == ([(3, 2), (3,)], [()], [])


def test_boolean_mask_in_a_bound_graph():
    """A graph bound with bind learns boolean_mask's shape (and its consumers') in forward, and
    each forward gives new output arrays; MXNet 1.9.1 printed these outputs and gradients
    (data arange(9) as 3x3, index [0, 1, 1], head gradients of ones). With every index entry
    set, the first output is numpy's on the whole array."""
    d, m = mx.sym.var("data"), mx.sym.var("index")
    out = mx.sym.contrib.boolean_mask(d, m)
    full = np.arange(9.0).reshape(3, 3)
    data = mx.nd.array(full)
    cases = [
        (out, [[[3, 4, 5], [6, 7, 8]]], [[0, 0, 0], [1, 1, 1], [1, 1, 1]], full),
        (mx.sym.sum(out) * 2, [[66]], [[0, 0, 0], [2, 2, 2], [2, 2, 2]], [full.sum() * 2]),
        (mx.sym.Group([out * 2, d + 1]),
         [[[6, 8, 10], [12, 14, 16]], [[1, 2, 3], [4, 5, 6], [7, 8, 9]]],
         [[1, 1, 1], [3, 3, 3], [3, 3, 3]], full * 2),
    ]
    for sym, want, want_grad, want_full in cases:
        index = mx.nd.array([0, 1, 1])
        g = mx.nd.zeros((3, 3))
        ex = sym.bind(mx.cpu(), args={"data": data, "index": index}, args_grad={"data": g},
                      grad_req={"data": "write", "index": "null"})
        first = ex.forward(is_train=True)
        for o, w in zip(ex.outputs, want):
            np.testing.assert_array_equal(o.asnumpy(), w)
        ex.backward([mx.nd.ones(o.shape) for o in ex.outputs])
        np.testing.assert_array_equal(g.asnumpy(), want_grad)
        index[:] = 1
        ex.forward()
        np.testing.assert_array_equal(ex.outputs[0].asnumpy(), want_full)
        np.testing.assert_array_equal(first[0].asnumpy(), want[0])  # the earlier result stays
        assert list(ex.output_dict) == sym.list_outputs()
    with pytest.raises(mx.MXNetError, match="index must be 1-D"):
        out.bind(mx.cpu(), args={"data": data, "index": mx.nd.array([1, 0])}).forward()


def test_adaptive_avg_pooling():
    x = mx.nd.arange(2 * 5 * 7).reshape((2, 1, 5, 7))
    # MXNet 1.9.1
    np.testing.assert_allclose(C.AdaptiveAvgPooling2D(x, output_size=(3, 2)).asnumpy(),
                               [[[[5, 8], [15.5, 18.5], [26, 29]]], [[[40, 43], [50.5, 53.5], [61, 64]]]])
    assert C.AdaptiveAvgPooling2D(x).shape == (2, 1, 1, 1)
    assert C.AdaptiveAvgPooling2D(x, output_size=4).shape == (2, 1, 4, 4)
    np.testing.assert_allclose(C.AdaptiveAvgPooling2D(x).asnumpy().ravel(), x.asnumpy().mean(axis=(1, 2, 3)))
    g, = _grad(lambda t: C.AdaptiveAvgPooling2D(t, output_size=(3, 2)), x.copy(),
               head=mx.nd.arange(12).reshape((2, 1, 3, 2)))
    np.testing.assert_allclose(g[0], [[[0, 0, 0, 0.125, 0.125, 0.125, 0.125],
                                       [1 / 6, 1 / 6, 1 / 6, 0.5416666865348816, 0.375, 0.375, 0.375],
                                       [1 / 6, 1 / 6, 1 / 6, 0.4166666865348816, 0.25, 0.25, 0.25],
                                       [2 / 3, 2 / 3, 2 / 3, 1.5416667461395264, 0.875, 0.875, 0.875],
                                       [0.5, 0.5, 0.5, 1.125, 0.625, 0.625, 0.625]]], rtol=1e-6)
    with pytest.raises(mx.MXNetError, match="4-D"):
        C.AdaptiveAvgPooling2D(mx.nd.zeros((2, 3)))


BILINEAR = [  # (kwargs, MXNet 1.9.1 output on arange(12).reshape(1, 1, 3, 4))
    (dict(height=5, width=6), [[0.0, 0.6, 1.2, 1.8, 2.4, 3.0], [2.0, 2.6, 3.2, 3.8, 4.4, 5.0],
                               [4.0, 4.6, 5.2, 5.8, 6.4, 7.0], [6.0, 6.6, 7.2, 7.8, 8.4, 9.0],
                               [8.0, 8.6, 9.2, 9.8, 10.4, 11.0]]),
    (dict(height=5, width=6, align_corners=False),
     [[0.0, 0.5, 1.1666669845581055, 1.8333330154418945, 2.5, 3.0],
      [1.600000023841858, 2.0999999046325684, 2.766666889190674, 3.4333341121673584, 4.099999904632568, 4.599999904632568],
      [4.0, 4.5, 5.166666030883789, 5.8333330154418945, 6.5, 7.0],
      [6.400000095367432, 6.900000095367432, 7.566666126251221, 8.233333587646484, 8.90000057220459, 9.40000057220459],
      [8.0, 8.5, 9.166666030883789, 9.833333969116211, 10.5, 11.0]]),
    (dict(scale_height=2, scale_width=1.5, mode="odd_scale"),
     [[0.0, 0.6, 1.2, 1.8, 2.4, 3.0], [2.0, 2.6, 3.2, 3.8, 4.4, 5.0], [4.0, 4.6, 5.2, 5.8, 6.4, 7.0],
      [6.0, 6.6, 7.2, 7.8, 8.4, 9.0], [8.0, 8.6, 9.2, 9.8, 10.4, 11.0]]),
    (dict(mode="to_even_up"), [[0.0, 1.0, 2.0, 3.0], [2.6666669845581055, 3.6666669845581055, 4.666666030883789, 5.6666669845581055],
                               [5.333333969116211, 6.333333969116211, 7.333333969116211, 8.333333969116211], [8.0, 9.0, 10.0, 11.0]]),
    (dict(mode="to_odd_down"), [[0.0, 1.5, 3.0], [4.0, 5.5, 7.0], [8.0, 9.5, 11.0]]),
    (dict(mode="to_even_down"), [[0.0, 1.0, 2.0, 3.0], [8.0, 9.0, 10.0, 11.0]]),
    (dict(mode="to_odd_up"), [[0.0, 0.75, 1.5, 2.25, 3.0], [4.0, 4.75, 5.5, 6.25, 7.0], [8.0, 8.75, 9.5, 10.25, 11.0]]),
    (dict(height=2, width=3), [[0.0, 1.5, 3.0], [8.0, 9.5, 11.0]]),
    (dict(height=1, width=1), [[0.0]]),
    # A single output row or column reads the first input one, not the middle.
    (dict(height=1, width=3, align_corners=False), [[0.1666666865348816, 1.5, 2.8333334922790527]]),
    (dict(height=5, width=1, align_corners=False), [[0.0], [1.6000001430511475], [4.0],
                                                    [6.40000057220459], [8.0]]),
    (dict(height=1, width=1, align_corners=False), [[0.0]]),
]


@pytest.mark.parametrize("kw,want", BILINEAR)
def test_bilinear_resize(kw, want):
    y = mx.nd.arange(12).reshape((1, 1, 3, 4))
    np.testing.assert_allclose(C.BilinearResize2D(y, **kw).asnumpy()[0, 0], want, rtol=1e-5, atol=1e-5)


def test_bilinear_resize_shapes_like_and_gradient():
    y = mx.nd.arange(12).reshape((1, 1, 3, 4))
    g, = _grad(lambda t: C.BilinearResize2D(t, height=1, width=3, align_corners=False), y.copy(),
               head=mx.nd.array([[[[1.0, 2.0, 3.0]]]]))
    np.testing.assert_allclose(g[0, 0], [[0.8333333, 1.1666667, 1.5, 2.5], [0] * 4, [0] * 4],  # MXNet
                               rtol=1e-5, atol=1e-6)
    z = mx.nd.zeros((1, 1, 3, 4))
    # MXNet 1.9.1 output sizes: scales override height/width in 'size' mode
    assert C.BilinearResize2D(z, height=5, width=6, scale_height=2.0, scale_width=0.5).shape == (1, 1, 6, 2)
    assert C.BilinearResize2D(z, scale_height=2.5, scale_width=1.7).shape == (1, 1, 7, 6)
    assert C.BilinearResize2D(z, scale_height=2.5, scale_width=1.7, mode="to_even_up").shape == (1, 1, 4, 4)
    assert C.BilinearResize2D(mx.nd.zeros((1, 1, 4, 5)), scale_height=2.5, scale_width=1.7,
                              mode="odd_scale").shape == (1, 1, 10, 7)
    r = C.BilinearResize2D(y, mx.nd.zeros((1, 1, 4, 2)), mode="like")
    np.testing.assert_allclose(r.asnumpy()[0, 0], [[0, 3], [2.6666667461395264, 5.6666669845581055],
                                                   [5.333333492279053, 8.333333969116211], [8, 11]], rtol=1e-6)
    g, = _grad(lambda t: C.BilinearResize2D(t, height=5, width=6), y.copy(),
               head=mx.nd.arange(30).reshape((1, 1, 5, 6)))
    np.testing.assert_allclose(g[0, 0], [[4.8, 9.0, 12.6, 14.1], [34.4, 44.0, 48.8, 46.8],
                                         [46.8, 57.0, 60.6, 56.1]], rtol=1e-5)
    g, = _grad(lambda t: C.BilinearResize2D(t, height=5, width=6, align_corners=False), y.copy(),
               head=mx.nd.arange(30).reshape((1, 1, 5, 6)))
    np.testing.assert_allclose(g[0, 0], [[6.2, 9.666665077209473, 13.133333206176758, 16.6],
                                         [33.3, 37.2, 41.1, 45.0], [53.0, 56.46666717529297, 59.9333381652832, 63.4]],
                               rtol=1e-5)
    s = mx.sym.contrib.BilinearResize2D(mx.sym.var("d"), mode="like")
    assert s.list_arguments() == ["d", "bilinearresize2d0_like"] or len(s.list_arguments()) == 2
    assert mx.sym.contrib.BilinearResize2D(mx.sym.var("d"), height=3, width=3).list_arguments() == ["d"]
    with pytest.raises(mx.MXNetError, match="odd_scale"):
        C.BilinearResize2D(y, mode="odd_scale")
    with pytest.raises(mx.MXNetError, match="mode"):
        C.BilinearResize2D(y, mode="bicubic")


def _bilinear_f32_taps(n_in, n_out, align):
    # MXNet 1.9.1's coordinates: a float32 scale; the source position float32 (align_corners)
    # or computed in double from that scale and rounded to float32.
    f32 = np.float32
    if n_out == 1:
        return [(0, 0, 0.0)]
    sc = f32(n_in - 1) / f32(n_out - 1) if align else f32(n_in) / f32(n_out)
    taps = []
    for i in range(n_out):
        src = sc * f32(i) if align else f32(max(float(sc) * (i + 0.5) - 0.5, 0.0))
        i0 = min(int(src), n_in - 1)
        taps.append((i0, min(i0 + 1, n_in - 1), float(f32(src - f32(i0)))))
    return taps


@pytest.mark.parametrize("align", [True, False])
def test_bilinear_resize_float64_uses_mxnets_float32_coordinates(align):
    # The oracle reproduces MXNet 1.9.1's float64 outputs exactly (checked on 7x6, 13x17, 5x3);
    # float64 coordinates differ from it by up to 4e-7 here.
    x = np.random.RandomState(0).uniform(-1, 1, (8, 11))
    for oh, ow in ((7, 6), (13, 17)):
        want = np.zeros((oh, ow))
        for oy, (y0, y1, ly) in enumerate(_bilinear_f32_taps(8, oh, align)):
            for ox, (x0, x1, lx) in enumerate(_bilinear_f32_taps(11, ow, align)):
                want[oy, ox] = ((1 - ly) * ((1 - lx) * x[y0, x0] + lx * x[y0, x1])
                                + ly * ((1 - lx) * x[y1, x0] + lx * x[y1, x1]))
        got = C.BilinearResize2D(mx.nd.array(x[None, None], dtype="float64"), height=oh,
                                 width=ow, align_corners=align).asnumpy()[0, 0]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-15)


def test_random_like():
    mx.random.seed(7)
    x = mx.nd.zeros((200, 50), dtype="float64")
    u = mx.nd.random.uniform_like(x, low=2, high=3)
    assert u.shape == x.shape and u.dtype == np.float64
    a = u.asnumpy()
    assert a.min() >= 2 and a.max() < 3 and abs(a.mean() - 2.5) < 0.01
    n = mx.nd.random.normal_like(x, loc=1, scale=2).asnumpy()
    assert abs(n.mean() - 1) < 0.05 and abs(n.std() - 2) < 0.05
    assert abs(mx.nd.random.exponential_like(x, lam=4).asnumpy().mean() - 0.25) < 0.01
    assert abs(mx.nd.random.gamma_like(x, alpha=2, beta=3).asnumpy().mean() - 6) < 0.15
    p = mx.nd.random.poisson_like(x, lam=3).asnumpy()
    assert abs(p.mean() - 3) < 0.1 and np.all(p == np.round(p))
    nb = mx.nd.random.negative_binomial_like(x, k=3, p=0.4).asnumpy()
    assert abs(nb.mean() - 3 * 0.6 / 0.4) < 0.15
    gnb = mx.nd.random.generalized_negative_binomial_like(x, mu=2, alpha=0.5).asnumpy()
    assert abs(gnb.mean() - 2) < 0.1
    mx.random.seed(3)
    a = mx.nd.random.uniform_like(x).asnumpy()
    mx.random.seed(3)
    np.testing.assert_array_equal(a, mx.nd.random.uniform_like(x).asnumpy())
    s = mx.sym.random.uniform_like(mx.sym.var("d"), low=-1, high=1)
    assert s.infer_shape(d=(2, 3))[1] == [(2, 3)]
    with pytest.raises(mx.MXNetError, match="float"):
        mx.nd.random.uniform_like(mx.nd.zeros((2, 2), dtype="int32"))
    g, = _grad(lambda t: mx.nd.random.normal_like(t), mx.nd.ones((2, 2)))
    np.testing.assert_array_equal(g, np.zeros((2, 2)))


def test_random_pdf_values_match_mxnet():
    nd = mx.nd
    s = nd.array([[1.0, 2.0, 0.5], [0.3, 1.5, 2.5]])
    k = nd.array([[0, 1, 2], [3, 4, 5]])
    r = lambda x: np.asarray(x.asnumpy())  # noqa: E731
    # MXNet 1.9.1
    np.testing.assert_allclose(r(nd.random_pdf_normal(s, nd.array([0.5, 1.0]), nd.array([1.0, 2.0]))),
                               [[0.3520653247833252, 0.1295175999403, 0.3989422917366028],
                                [0.18762017786502838, 0.19333405792713165, 0.15056870877742767]], rtol=1e-5)
    np.testing.assert_allclose(r(nd.random_pdf_normal(s, nd.array([0.5, 1.0]), nd.array([1.0, 2.0]), is_log=True)),
                               [[-1.0439385175704956, -2.043938636779785, -0.9189385175704956],
                                [-1.6733356714248657, -1.6433357000350952, -1.8933357000350952]], rtol=1e-5)
    np.testing.assert_allclose(r(nd.random_pdf_uniform(s, nd.array([0.0, 1.0]), nd.array([2.0, 2.0]))),
                               [[0.5, 0.5, 0.5], [1.0, 1.0, 1.0]])  # MXNet ignores the support
    np.testing.assert_allclose(r(nd.random_pdf_gamma(s, nd.array([2.0, 0.5]), nd.array([1.5, 3.0]))),
                               [[0.502042829990387, 0.22404178977012634, 0.5314123630523682],
                                [0.7253707051277161, 0.00886369589716196, 0.0003418276028241962]], rtol=1e-5)
    np.testing.assert_allclose(r(nd.random_pdf_exponential(s, nd.array([1.5, 3.0]))),
                               [[0.3346952497959137, 0.07468060404062271, 0.7085498571395874],
                                [1.2197089195251465, 0.03332699090242386, 0.0016592531464993954]], rtol=1e-5)
    np.testing.assert_allclose(r(nd.random_pdf_poisson(k, nd.array([1.5, 3.0]))),
                               [[0.22313016653060913, 0.3346952497959137, 0.25102144479751587],
                                [0.22404181957244873, 0.16803136467933655, 0.10081882029771805]], rtol=1e-5)
    np.testing.assert_allclose(r(nd.random_pdf_negative_binomial(k, nd.array([2, 3]), nd.array([0.4, 0.7]))),
                               [[0.1600000113248825, 0.19200001657009125, 0.1728000044822693],
                                [0.09261000901460648, 0.04167450591921806, 0.017503291368484497]], rtol=1e-5)
    np.testing.assert_allclose(
        r(nd.random_pdf_generalized_negative_binomial(k, nd.array([2.0, 3.0]), nd.array([0.4, 0.7]))),
        [[0.23004812002182007, 0.25560903549194336, 0.19880704581737518],
         [0.12241717427968979, 0.09181288629770279, 0.06752689927816391]], rtol=1e-5)
    ds = nd.array([[[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]], [[0.3, 0.3, 0.4], [0.6, 0.2, 0.2]]])
    al = nd.array([[1.0, 2.0, 3.0], [0.5, 0.6, 0.7]])
    np.testing.assert_allclose(r(nd.random_pdf_dirichlet(ds, al)),
                               [[4.5, 3.8399999141693115], [1.0575053691864014, 1.0827124118804932]], rtol=1e-5)
    with pytest.raises(mx.MXNetError, match="prefix"):
        nd.random_pdf_normal(s, nd.array([1.0, 2, 3]), nd.array([1.0, 2, 3]))
    # One sample vector has one density, of shape (1,) (MXNet 1.9.1 printed [1.764]).
    one = nd.random_pdf_dirichlet(nd.array([0.3, 0.7]), nd.array([2.0, 3.0]))
    assert one.shape == (1,)
    np.testing.assert_allclose(one.asnumpy(), [1.7639999389648438], rtol=1e-6)
    v = mx.sym.Variable
    assert mx.sym.random_pdf_dirichlet(v("s"), v("a")).infer_shape(s=(2,), a=(2,)) == \
        ([(2,), (2,)], [(1,)], [])


def test_random_pdf_gradients_match_mxnet():
    nd = mx.nd
    s = nd.array([[1.0, 2.0, 0.5], [0.3, 1.5, 2.5]])
    mu, sig = nd.array([0.5, 1.0]), nd.array([1.0, 2.0])
    gs, gm, gsig = _grad(lambda a, b, c: nd.random_pdf_normal(a, b, c), s.copy(), mu, sig)
    # MXNet 1.9.1
    np.testing.assert_allclose(gs, [[-0.1760326623916626, -0.19427639245986938, 0.0],
                                    [0.032833531498909, -0.024166757240891457, -0.05646326392889023]],
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gm, [0.370309054851532, 0.04779648780822754], rtol=1e-5)
    np.testing.assert_allclose(gsig, [-0.5010942816734314, -0.20588059723377228], rtol=1e-5)
    gs, gm, gsig = _grad(lambda a, b, c: nd.random_pdf_normal(a, b, c, is_log=True), s.copy(), mu, sig)
    np.testing.assert_allclose(gs, [[-0.5, -1.5, 0.0], [0.175, -0.125, -0.375]], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gm, [2.0, 0.325], rtol=1e-5)
    np.testing.assert_allclose(gsig, [-0.5, -1.12625], rtol=1e-5)
    gs, ga, gb = _grad(lambda a, b, c: nd.random_pdf_gamma(a, b, c), s.copy(), nd.array([2.0, 0.5]),
                       nd.array([1.5, 3.0]))
    np.testing.assert_allclose(gs, [[-0.2510214149951935, -0.22404178977012634, 0.2657061815261841],
                                    [-3.3850631713867188, -0.029545651748776436, -0.0010938483756035566]], rtol=1e-4)
    np.testing.assert_allclose(ga, [-0.23483191430568695, 1.3799433708190918], rtol=1e-4)
    np.testing.assert_allclose(gb, [0.46083009243011475, -0.10933195799589157], rtol=1e-4)
    gk, gl = _grad(lambda a, b: nd.random_pdf_poisson(a, b), nd.array([[0, 1, 2], [3, 4, 5]]), nd.array([1.5, 3.0]))
    np.testing.assert_array_equal(gk, np.zeros((2, 3)))
    # A count sample's gradient is 0 even where the density is NaN (rate 0, MXNet 1.9.1).
    g0, _ = _grad(lambda a, b: nd.random_pdf_poisson(a, b), nd.array([0.0], dtype="float64"),
                  nd.array([0.0], dtype="float64"))
    np.testing.assert_array_equal(g0, [0.0])
    np.testing.assert_allclose(gl, [-0.2510214149951935, 0.12322300672531128], rtol=1e-5)
    ds = nd.array([[[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]], [[0.3, 0.3, 0.4], [0.6, 0.2, 0.2]]])
    al = nd.array([[1.0, 2.0, 3.0], [0.5, 0.6, 0.7]])
    gd, ga = _grad(lambda a, b: nd.random_pdf_dirichlet(a, b), ds, al)
    np.testing.assert_allclose(gd, [[[0.0, 15.0, 18.0], [0.0, 38.4, 9.6]],
                                    [[-1.7625088691711426, -1.4100069999694824, -0.793129026889801],
                                     [-0.9022603034973145, -2.1654245853424072, -1.6240686178207397]]], rtol=1e-5)
    np.testing.assert_allclose(ga, [[2.958604335784912, -3.556802272796631, 2.5569682121276855],
                                    [2.98599910736084, 0.8914377689361572, 0.5095193982124329]], rtol=1e-4)
    assert hasattr(mx.sym, "random_pdf_normal")
    k = nd.array([[0, 1, 2], [3, 4, 5]])
    _, g1, g2 = _grad(lambda a, b, c: nd.random_pdf_negative_binomial(a, b, c), k.copy(), nd.array([2.0, 3.0]),
                      nd.array([0.4, 0.7]))
    np.testing.assert_allclose(g1, [-0.24086937308311462, 0.07712501287460327], rtol=1e-4)
    np.testing.assert_allclose(g2, [1.7280001640319824, -1.122962474822998], rtol=1e-4)
    _, g1, g2 = _grad(lambda a, b, c: nd.random_pdf_generalized_negative_binomial(a, b, c), k.copy(),
                      nd.array([2.0, 3.0]), nd.array([0.4, 0.7]))
    np.testing.assert_allclose(g1, [-0.19880709052085876, 0.024394279345870018], rtol=1e-4)
    np.testing.assert_allclose(g2, [0.029405131936073303, -0.1506882756948471], rtol=1e-4)
    _, g1, g2 = _grad(lambda a, b, c: nd.random_pdf_uniform(a, b, c), s.copy(), nd.array([0.0, 1.0]),
                      nd.array([2.0, 2.0]))
    np.testing.assert_allclose(g1, [0.75, 3.0], rtol=1e-6)
    np.testing.assert_allclose(g2, [-0.75, -3.0], rtol=1e-6)
    gs, gl = _grad(lambda a, b: nd.random_pdf_exponential(a, b), s.copy(), nd.array([1.5, 3.0]))
    np.testing.assert_allclose(gs, [[-0.5020428895950317, -0.11202090978622437, -1.0628247261047363],
                                    [-3.6591267585754395, -0.09998097270727158, -0.004977759439498186]], rtol=1e-5)
    np.testing.assert_allclose(gl, [-0.09304755181074142, -0.0018195752054452896], rtol=1e-4)


def test_finite_checks_and_sum_sq():
    x = mx.nd.array([[1, 2], [3, np.inf]])
    # MXNet 1.9.1: (1,) float32 flags
    r = mx.nd.all_finite(x)
    assert r.shape == (1,) and r.dtype == np.float32 and r.asscalar() == 0
    assert mx.nd.all_finite(mx.nd.ones(2)).asscalar() == 1
    assert mx.nd.all_finite(mx.nd.array([np.nan])).asscalar() == 0
    assert mx.nd.multi_all_finite(mx.nd.ones(2), x, num_arrays=2).asscalar() == 0
    assert mx.nd.multi_all_finite(mx.nd.ones(2), mx.nd.ones(3), num_arrays=2).asscalar() == 1
    r = mx.nd.multi_sum_sq(mx.nd.array([1, 2]), mx.nd.array([[3, 4], [5, 6]]), num_arrays=2)
    assert r.dtype == np.float32
    np.testing.assert_array_equal(r.asnumpy(), [5, 86])


def test_amp_casts():
    # MXNet 1.9.1: floats are cast, other dtypes pass through
    assert mx.nd.amp_cast(mx.nd.array([1.5, 2]), dtype="float16").dtype == np.float16
    assert mx.nd.amp_cast(mx.nd.array([1, 2], dtype="int32"), dtype="float16").dtype == np.int32
    a, b, c = mx.nd.amp_multicast(mx.nd.array([1.5, 2], dtype="float16"), mx.nd.array([1, 2]),
                                  mx.nd.array([3], dtype="int32"), num_outputs=3)
    assert (a.dtype, b.dtype, c.dtype) == (np.float32, np.float32, np.int32)
    np.testing.assert_array_equal(a.asnumpy(), [1.5, 2])
    a, b = mx.nd.amp_multicast(mx.nd.array([1.5, 2], dtype="float16"), mx.nd.array([1, 2]), num_outputs=2,
                               cast_narrow=True)
    assert (a.dtype, b.dtype) == (np.float16, np.float16)
    x = mx.nd.array([1.5, 2], dtype="float16")
    g, = _grad(lambda t: mx.nd.amp_cast(t, dtype="float32") * 3, x)
    assert g.dtype == np.float16
    np.testing.assert_array_equal(g, [3, 3])


def test_cumsum():
    a = np.array([[1, 2], [3, 4]], np.float32)
    # MXNet 1.9.1
    np.testing.assert_array_equal(mx.nd.cumsum(mx.nd.array(a)).asnumpy(), [1, 3, 6, 10])
    np.testing.assert_array_equal(mx.nd.cumsum(mx.nd.array(a), axis=0).asnumpy(), [[1, 2], [4, 6]])
    assert mx.nd.cumsum(mx.nd.array(a, dtype="int32")).dtype == np.int32
    assert mx.nd.cumsum(mx.nd.array(a), dtype="float64").dtype == np.float64
    # Elements take the requested dtype before they are summed (MXNet 1.9.1 and numpy agree).
    f = np.array([0.6, 0.6, 0.6, -0.6, 1.7, -2.5], np.float32)
    got = mx.nd.cumsum(mx.nd.array(f), dtype="int64")
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got.asnumpy(), np.cumsum(f, dtype=np.int64))
    x = np.random.RandomState(2).uniform(-1, 1, (2, 3, 4))
    for axis in (None, 0, 1, -1):
        np.testing.assert_allclose(mx.nd.cumsum(mx.nd.array(x, dtype="float64"), axis=axis).asnumpy(),
                                   np.cumsum(x, axis=axis))
    # Large enough to split across threads: rows in groups of 8 with a partial group, and
    # columns in blocks of 1024 with a partial block; the gradient is the reverse scan.
    big = np.random.RandomState(3).uniform(-1, 1, (37, 3, 1500)).astype(np.float32)
    for axis in (0, 1, 2):
        np.testing.assert_allclose(mx.nd.cumsum(mx.nd.array(big), axis=axis).asnumpy(),
                                   np.cumsum(big.astype(np.float64), axis=axis), rtol=1e-5, atol=1e-4)
    hb = np.random.RandomState(5).uniform(-1, 1, big.shape).astype(np.float32)
    g, = _grad(lambda t: mx.nd.cumsum(t, axis=2), mx.nd.array(big), head=mx.nd.array(hb))
    want = np.flip(np.cumsum(np.flip(hb.astype(np.float64), 2), axis=2), 2)
    np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-4)
    head = np.arange(4.0).reshape(2, 2) + 1
    g, = _grad(lambda t: mx.nd.cumsum(t, axis=1), mx.nd.array(a), head=mx.nd.array(head))
    np.testing.assert_array_equal(g, _fd(lambda t: np.cumsum(t, axis=1), a, head).round(6))
    with pytest.raises(mx.MXNetError, match="cumsum"):
        mx.nd.cumsum(mx.nd.array(a), axis=2)


def test_histogram():
    counts, edges = mx.nd.histogram(mx.nd.array([0, 1, 1, 2, 3, 5]), bins=3, range=(0, 6))
    # MXNet 1.9.1
    assert counts.dtype == np.int64
    np.testing.assert_array_equal(counts.asnumpy(), [3, 2, 1])
    np.testing.assert_array_equal(edges.asnumpy(), [0, 2, 4, 6])
    counts, edges = mx.nd.histogram(mx.nd.array([0, 1, 1, 2, 3, 6, 7, -1]), bins=mx.nd.array([0, 2, 4, 6]))
    np.testing.assert_array_equal(counts.asnumpy(), [3, 2, 1])
    x = np.random.RandomState(4).normal(size=500)
    c, e = mx.nd.histogram(mx.nd.array(x, dtype="float64"), bins=7, range=(-2, 2))
    wc, we = np.histogram(x, bins=7, range=(-2, 2))
    np.testing.assert_array_equal(c.asnumpy(), wc)
    np.testing.assert_allclose(e.asnumpy(), we)
    with pytest.raises(mx.MXNetError, match="both or neither"):
        mx.nd._internal._histogram(mx.nd.array([1, 2]), bin_cnt=4)
    # As numpy's (MXNet 1.9.1 counted into whichever bin its search happened to land on).
    for bad in ([0, 3, 2], [0, np.nan, 2]):
        with pytest.raises(mx.MXNetError, match="_histogram: bins must increase monotonically"):
            mx.nd.histogram(mx.nd.array([1, 2]), bins=mx.nd.array(bad))[0].asnumpy()
    counts, _ = mx.nd.histogram(mx.nd.array([1, 2, 2]), bins=mx.nd.array([0, 2, 2, 3]))
    np.testing.assert_array_equal(counts.asnumpy(), np.histogram([1, 2, 2], [0, 2, 2, 3])[0])


def test_split_v2():
    x = mx.nd.arange(12).reshape((2, 6))
    # MXNet 1.9.1
    parts = mx.nd.split_v2(x, 3, axis=1)
    assert [p.asnumpy().tolist() for p in parts] == [[[0, 1], [6, 7]], [[2, 3], [8, 9]], [[4, 5], [10, 11]]]
    parts = mx.nd.split_v2(x, (1, 4), axis=1)
    assert [p.asnumpy().tolist() for p in parts] == [[[0], [6]], [[1, 2, 3], [7, 8, 9]], [[4, 5], [10, 11]]]
    assert [p.shape for p in x.split_v2(2, axis=0, squeeze_axis=True)] == [(6,), (6,)]
    assert [p.shape for p in mx.nd._internal._split_v2(x, indices=(0, 1, 4), axis=1)] == [(2, 1), (2, 3), (2, 2)]
    assert [p.shape for p in mx.nd._internal._split_v2(x, indices=(), sections=2, axis=1)] == [(2, 3), (2, 3)]
    s = mx.sym.split_v2(mx.sym.var("x"), 3, axis=1)
    assert s.infer_shape(x=(2, 6))[1] == [(2, 2)] * 3
    with pytest.raises(ValueError):
        mx.nd.split_v2(x, 4, axis=1)
    with pytest.raises(mx.MXNetError, match="_split_v2"):
        mx.nd._internal._split_v2(x, indices=(0, 9), axis=1)
    with pytest.raises(mx.MXNetError, match=r"_split_v2.*must start at 0"):  # MXNet: shape error
        mx.nd._internal._split_v2(x, indices=(2,), axis=1)
    xv = x.astype("float64")
    xv.attach_grad()
    with ag.record():
        a, b = mx.nd.split_v2(xv, (2,), axis=1)
        y = (a * 2).sum() + (b * 3).sum()
    y.backward()
    np.testing.assert_array_equal(xv.grad.asnumpy(), [[2, 2, 3, 3, 3, 3]] * 2)
