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
    with pytest.raises(mx.MXNetError, match="non-differentiable"):
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
    # lengths clamp to the axis; 0 gives a zero row
    np.testing.assert_allclose(
        mx.nd.softmax(x, mx.nd.array([0, 7], dtype="int32"), use_length=True).asnumpy(),
        [[0, 0, 0, 0], [0.04574686, 0.01682933, 0.00619116, 0.9188503]], rtol=1e-5)
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
    with pytest.raises(mx.MXNetError, match="integer"):
        mx.nd.softmax(x, mx.nd.array([2, 3]), use_length=True)
    with pytest.raises(mx.MXNetError, match="length must have"):
        mx.nd.softmax(x, mx.nd.array([2, 3, 4], dtype="int32"), use_length=True)
    with pytest.raises(mx.MXNetError, match="log_softmax"):
        mx.nd.log_softmax(x, use_length=True)
