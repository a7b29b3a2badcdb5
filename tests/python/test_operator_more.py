"""More operators added for MXNet 1.9.1 parity (gather_nd, scatter_nd, _scatter_set_nd,
batch_take, ravel/unravel, khatri_rao, moments, digamma, GroupNorm, SVMOutput): numpy oracles
or MXNet 1.9.1's printed outputs for the forward, finite differences (or MXNet's numbers) for
the gradient, and the bad-input errors."""
import math

import numpy as np
import pytest

import oxnet as mx
from tight import assert_almost_equal
from test_operator_extra import _check_grad  # the shared finite-difference check

ERRORS = (mx.MXNetError, IndexError, ValueError)


# ----------------------------------------------------------------------------- gather / scatter


def test_gather_nd_forward():
    d = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    idx = np.array([[1, 0], [2, -1]])
    out = mx.nd.gather_nd(mx.nd.array(d), mx.nd.array(idx)).asnumpy()
    # MXNet 1.9.1 prints [[20..23], [8..11]]: negative indices count from the end.
    assert_almost_equal(out, np.stack([d[1, 2], d[0, -1]]))
    x = np.random.uniform(size=(3, 4, 5)).astype(np.float32)
    i = np.array([[0, 2, 1, 2], [3, 0, 1, 3]])
    out = mx.nd.gather_nd(mx.nd.array(x), mx.nd.array(i, dtype="int32")).asnumpy()
    assert out.shape == (4, 5)
    assert_almost_equal(out, x[i[0], i[1]])
    full = mx.nd.gather_nd(mx.nd.array(x), mx.nd.array(i[:, :2].reshape(2, 2, 1).repeat(1, 2)))
    assert full.shape == (2, 1, 5)


def test_gather_nd_gradient_accumulates():
    x = mx.nd.array([[1.0, 2.0], [3.0, 4.0]])
    x.attach_grad()
    with mx.autograd.record():
        y = mx.nd.gather_nd(x, mx.nd.array([[1, 1, 0], [0, 1, 0]]))
    y.backward(mx.nd.array([1.0, 2.0, 3.0]))
    assert_almost_equal(x.grad.asnumpy(), np.array([[3.0, 0.0], [1.0, 2.0]]))  # MXNet 1.9.1
    i = mx.nd.array([[1, 1, 0, 1], [0, 0, 2, 2]])
    _check_grad(lambda a: mx.nd.gather_nd(a, i), np.random.uniform(-1, 1, (2, 3, 2)))


def test_scatter_nd():
    i = mx.nd.array([[1, 1, 0], [0, 1, 0]])
    out = mx.nd.scatter_nd(mx.nd.array([2.0, 3.0, 0.0]), i, shape=(2, 2))
    assert_almost_equal(out.asnumpy(), np.array([[0.0, 0.0], [2.0, 3.0]]))
    out = mx.nd.scatter_nd(mx.nd.array([[1, 2], [3, 4]]), mx.nd.array([[0, 1], [1, 0]]), shape=(2, 2, 2))
    assert_almost_equal(out.asnumpy(), np.array([[[0, 0], [1, 2]], [[3, 4], [0, 0]]], dtype=np.float32))
    d = mx.nd.array([2.0, 3.0, 0.0])
    d.attach_grad()
    with mx.autograd.record():
        y = mx.nd.scatter_nd(d, i, shape=(2, 2))
    y.backward(mx.nd.array([[1.0, 2.0], [3.0, 4.0]]))
    assert_almost_equal(d.grad.asnumpy(), np.array([3.0, 4.0, 1.0]))  # MXNet 1.9.1
    _check_grad(lambda a: mx.nd.scatter_nd(a, i, shape=(2, 2)), np.random.uniform(-1, 1, (3,)))


def test_gather_scatter_symbols():
    data, idx = mx.sym.Variable("data"), mx.sym.Variable("indices")
    g = mx.sym.gather_nd(data, idx)
    assert g.list_arguments() == ["data", "indices"]
    args, out, _ = g.infer_type(data=np.float32, indices=np.int32)
    assert args == [np.float32, np.int32] and out == [np.float32]
    s = mx.sym.scatter_nd(data, idx, shape=(4, 5))
    _, out, _ = s.infer_shape(data=(3,), indices=(2, 3))
    assert out == [(4, 5)]


def test_gather_scatter_errors():
    x = mx.nd.array(np.arange(6).reshape(2, 3))
    with pytest.raises(ERRORS, match="gather_nd.*index 5 is out of bounds for axis 0 with size 2"):
        mx.nd.gather_nd(x, mx.nd.array([[5], [0]])).asnumpy()
    with pytest.raises(ERRORS, match="gather_nd.*out of bounds"):
        mx.nd.gather_nd(x, mx.nd.array([[-3], [0]])).asnumpy()
    with pytest.raises(ERRORS, match=r"gather_nd.*\[3,1\]"):
        mx.nd.gather_nd(x, mx.nd.array([[0], [0], [0]]))
    with pytest.raises(ERRORS, match=r"scatter_nd.*\[3\]"):
        mx.nd.scatter_nd(mx.nd.array([1, 2, 3]), mx.nd.array([[1, 0]]), shape=(2,))
    with pytest.raises(ERRORS, match="scatter_nd.*out of bounds"):
        mx.nd.scatter_nd(mx.nd.array([1, 2]), mx.nd.array([[5, 0]]), shape=(2,)).asnumpy()


def test_scatter_set_nd():
    lhs = mx.nd.array(np.arange(6).reshape(2, 3))
    out = mx.nd._internal._scatter_set_nd(lhs, mx.nd.array([-1.0, -2.0]), mx.nd.array([[0, 1], [2, 0]]), shape=(2, 3))
    assert_almost_equal(out.asnumpy(), np.array([[0, 1, -1], [-2, 4, 5]], dtype=np.float32))
    mx.nd._internal._scatter_set_nd(lhs, mx.nd.array([9.0]), mx.nd.array([[1], [1]]), shape=(2, 3), out=lhs)
    assert lhs.asnumpy()[1, 1] == 9.0


def test_batch_take():
    a = mx.nd.array([[1, 2], [3, 4], [5, 6]])
    i = mx.nd.array([0, 1, 0], dtype="int32")
    assert_almost_equal(mx.nd.batch_take(a, i).asnumpy(), np.array([1, 4, 5], dtype=np.float32))
    # Out-of-range indices clip, as MXNet 1.9.1 does.
    j = mx.nd.array([-1, 5, 0], dtype="int32")
    assert_almost_equal(mx.nd.batch_take(a, j).asnumpy(), np.array([1, 4, 5], dtype=np.float32))
    x = np.random.uniform(size=(2, 3, 4)).astype(np.float32)
    k = np.random.randint(0, 4, size=(2, 3))
    out = mx.nd.batch_take(mx.nd.array(x), mx.nd.array(k, dtype="int32")).asnumpy()
    assert_almost_equal(out, np.take_along_axis(x, k[..., None], -1)[..., 0])
    with pytest.raises(ERRORS, match="batch_take"):
        mx.nd.batch_take(a, mx.nd.array([0, 1], dtype="int32"))


# ----------------------------------------------------------------------------- ravel / khatri_rao


@pytest.mark.parametrize("shape", [(7, 6), (-1, 6)])
def test_ravel_unravel(shape):
    a = mx.nd.array([[3, 6, 6], [4, 5, 1]])
    assert_almost_equal(mx.nd.ravel_multi_index(a, shape=shape).asnumpy(), np.array([22, 41, 37], dtype=np.float32))
    u = mx.nd.unravel_index(mx.nd.array([22, 41, 37]), shape=shape)
    assert_almost_equal(u.asnumpy(), a.asnumpy())
    assert mx.nd._internal._ravel_multi_index is not None


def test_ravel_unravel_numpy():
    shape = (3, 4, 5)
    flat = np.random.randint(0, 60, size=(2, 7))
    multi = np.stack(np.unravel_index(flat, shape))
    out = mx.nd.unravel_index(mx.nd.array(flat, dtype="int64"), shape=shape)
    assert out.dtype == np.int64 and out.shape == (3, 2, 7)
    assert (out.asnumpy() == multi).all()
    back = mx.nd.ravel_multi_index(mx.nd.array(multi, dtype="int64"), shape=shape).asnumpy()
    assert (back == np.ravel_multi_index(tuple(multi), shape)).all()


def test_ravel_unravel_errors():
    a = mx.nd.array([[3, 7], [4, 5]])
    with pytest.raises(ERRORS, match="_ravel_multi_index.*index 7 is out of bounds"):
        mx.nd.ravel_multi_index(a, shape=(7, 6)).asnumpy()
    with pytest.raises(ERRORS, match="_unravel_index.*index 42 is out of bounds"):
        mx.nd.unravel_index(mx.nd.array([42]), shape=(7, 6)).asnumpy()
    with pytest.raises(ERRORS, match="ravel operator"):
        mx.nd.ravel_multi_index(a, shape=(7, 6, 2))
    # MXNet registers zero gradients.
    x = mx.nd.array([[1.0, 2.0], [3.0, 4.0]])
    x.attach_grad()
    with mx.autograd.record():
        y = mx.nd.ravel_multi_index(x, shape=(5, 5))
    y.backward()
    assert (x.grad.asnumpy() == 0).all()


def test_khatri_rao():
    a = mx.nd.array([[1, -1], [2, -3]])
    b = mx.nd.array([[1, 4], [2, 5], [3, 6]])
    want = np.array([[1, -4], [2, -5], [3, -6], [2, -12], [4, -15], [6, -18]], dtype=np.float32)
    assert_almost_equal(mx.nd.khatri_rao(a, b).asnumpy(), want)
    mats = [np.random.uniform(size=(r, 3)) for r in (2, 3, 4)]
    ref = np.stack([np.kron(np.kron(mats[0][:, j], mats[1][:, j]), mats[2][:, j]) for j in range(3)], 1)
    out = mx.nd.khatri_rao(*[mx.nd.array(m, dtype="float64") for m in mats]).asnumpy()
    assert_almost_equal(out, ref)
    with pytest.raises(ERRORS, match="khatri_rao"):
        mx.nd.khatri_rao(a, mx.nd.array([[1, 2, 3]]))
    s = mx.sym.khatri_rao(mx.sym.Variable("a"), mx.sym.Variable("b"))
    assert s.list_arguments() == ["a", "b"]
    # No input at all is MXNet's parameter error (num_args >= 1), for both front ends.
    for call in (mx.nd.khatri_rao, mx.sym.khatri_rao):
        with pytest.raises(mx.MXNetError, match="num_args must be at least 1"):
            call()


# ----------------------------------------------------------------------------- moments, digamma


@pytest.mark.parametrize("axes,keepdims", [((0,), False), ((1,), True), ((0, 2), False), ((-1,), False)])
def test_moments(axes, keepdims):
    x = np.random.uniform(-1, 1, size=(2, 3, 4)).astype(np.float32)
    mean, var = mx.nd.moments(mx.nd.array(x), axes=axes, keepdims=keepdims)
    assert_almost_equal(mean.asnumpy(), x.mean(axis=axes, keepdims=keepdims), rtol=1e-5, atol=1e-6)
    assert_almost_equal(var.asnumpy(), x.var(axis=axes, keepdims=keepdims), rtol=1e-5, atol=1e-6)


def test_moments_mxnet_values_and_gradient():
    x = mx.nd.array(np.arange(6.0).reshape(2, 3) ** 2)
    x.attach_grad()
    with mx.autograd.record():
        m, v = mx.nd.moments(x, axes=(1,))
    mx.autograd.backward([m, v])
    assert_almost_equal(m.asnumpy(), np.array([1.6666666, 16.666666], dtype=np.float32))
    assert_almost_equal(v.asnumpy(), np.array([2.888889, 42.88889], dtype=np.float32))
    want = np.array([[-0.7777777, -0.1111111, 1.8888891], [-4.777777, -0.1111107, 5.8888893]])
    assert_almost_equal(x.grad.asnumpy(), want, rtol=1e-5, atol=1e-5)  # MXNet 1.9.1
    with pytest.raises(ERRORS, match="Empty axes is not supported"):
        mx.nd.moments(x)
    with pytest.raises(ERRORS, match="moments.*Reduction axis 3"):
        mx.nd.moments(x, axes=(3,))


@pytest.mark.parametrize("x,dtype,axes,mean,var", [
    # MXNet 1.9.1's printed results: integer moments sum, subtract and square in the element
    # type (wrapping) and divide with truncation.
    ([[1, 2, 4], [3, 4, 9]], "int32", (1,), [2, 5], [1, 7]),
    ([[200, 100, 7], [250, 3, 255]], "uint8", (1,), [17, 84], [10, 42]),
    ([[200, 100, 7], [250, 3, 255]], "uint8", (0,), [97, 51, 3], [113, 48, 16]),
    ([[-100, -90, 120], [127, 100, -128]], "int8", (1,), [-23, 33], [-36, 26]),
    ([[-7, 2], [5, -3]], "int32", (0, 1), [0], [21]),
    ([[2**40, -3, 2**62], [5, 7, 9]], "int64", (1,), [1537229039313005225, 7],
     [1024819848213838054, 2]),
])
def test_moments_integer_data(x, dtype, axes, mean, var):
    m, v = mx.nd.moments(mx.nd.array(np.array(x, dtype=dtype), dtype=dtype), axes=axes)
    assert m.dtype == v.dtype == np.dtype(dtype)
    assert m.asnumpy().tolist() == mean and v.asnumpy().tolist() == var


def test_digamma():
    x = np.random.uniform(0.2, 6, size=(3, 4))
    # Forward against the derivative of lgamma; gradient against finite differences.
    lg = np.vectorize(math.lgamma)
    h = 1e-5
    want = (lg(x + h) - lg(x - h)) / (2 * h)
    assert_almost_equal(mx.nd.digamma(mx.nd.array(x, dtype="float64")).asnumpy(), want, rtol=1e-7, atol=1e-7)
    _check_grad(mx.nd.digamma, x, rtol=1e-4, atol=1e-6)
    half = -0.5772156649015329 - 2 * math.log(2)
    assert abs(mx.nd.digamma(mx.nd.array([0.5], dtype="float64")).asscalar() - half) < 1e-12
    assert np.isnan(mx.nd.digamma(mx.nd.array([0.0, -2.0])).asnumpy()).all()


# ----------------------------------------------------------------------------- GroupNorm, SVMOutput


def _group_norm(x, gamma, beta, g, eps=1e-5):
    n, c = x.shape[:2]
    r = x.reshape(n, g, -1)
    mean, var = r.mean(-1, keepdims=True), r.var(-1, keepdims=True)
    y = ((r - mean) / np.sqrt(var + eps)).reshape(n, g, c // g, -1)
    y = y * gamma.reshape(1, g, 1, 1) + beta.reshape(1, g, 1, 1)
    return y.reshape(x.shape), mean[..., 0], np.sqrt(var[..., 0] + eps)


def test_group_norm_forward():
    x = np.arange(16.0).reshape(2, 4, 2) / 7 - 1
    g, b = np.array([1.0, 2.0]), np.array([0.1, 0.2])
    out, mean, std = mx.nd.GroupNorm(mx.nd.array(x), mx.nd.array(g), mx.nd.array(b), num_groups=2, output_mean_var=True)
    first = [[-1.2413781, -0.34712616], [0.5471258, 1.4413778], [-2.4827557, -0.6942521], [1.0942519, 2.8827558]]
    assert_almost_equal(out.asnumpy()[0], np.array(first, dtype=np.float32), rtol=1e-5, atol=1e-5)  # MXNet 1.9.1
    assert_almost_equal(mean.asnumpy(), np.array([[-0.78571427, -0.21428572], [0.35714287, 0.92857146]], dtype=np.float32))
    assert_almost_equal(std.asnumpy(), np.full((2, 2), 0.15975045, dtype=np.float32), rtol=1e-5, atol=1e-6)
    x = np.random.uniform(-1, 1, size=(2, 6, 3, 2))
    g, b = np.random.uniform(0.5, 2, size=3), np.random.uniform(-1, 1, size=3)
    out = mx.nd.GroupNorm(mx.nd.array(x, dtype="float64"), mx.nd.array(g, dtype="float64"), mx.nd.array(b, dtype="float64"), num_groups=3)
    assert_almost_equal(out.asnumpy(), _group_norm(x, g, b, 3)[0], rtol=1e-10, atol=1e-10)


def test_group_norm_gradient_and_errors():
    x = np.random.uniform(-1, 1, size=(2, 4, 3))
    g, b = mx.nd.array([0.7, 1.3], dtype="float64"), mx.nd.array([0.1, -0.2], dtype="float64")
    _check_grad(lambda a: mx.nd.GroupNorm(a, g, b, num_groups=2), x, rtol=1e-4, atol=1e-6)
    gn = mx.sym.GroupNorm(mx.sym.Variable("data"), num_groups=2, name="gn")
    args, outs, _ = gn.infer_shape(data=(2, 4, 3))
    assert args == [(2, 4, 3), (2,), (2,)] and outs == [(2, 4, 3)]
    xa = mx.nd.array(x)
    with pytest.raises(ERRORS, match="GroupNorm.*divisible"):
        mx.nd.GroupNorm(xa, mx.nd.ones(3), mx.nd.ones(3), num_groups=3)
    with pytest.raises(ERRORS, match=r"GroupNorm.*gamma.*\(2,\)"):
        mx.nd.GroupNorm(xa, mx.nd.ones(4), mx.nd.ones(4), num_groups=2)
    with pytest.raises(ERRORS, match="GroupNorm.*at least 3 dimensions"):
        mx.nd.GroupNorm(mx.nd.ones((2, 4)), mx.nd.ones(2), mx.nd.ones(2), num_groups=2)


@pytest.mark.parametrize(
    "kw,want",
    [
        ({}, [[3.0, 0.0, 0.0], [-1.6, 2.6, 1.2]]),
        ({"margin": 0.5, "regularization_coefficient": 2}, [[4.0, 0.0, 0.0], [-1.2, 3.2, 0.4]]),
        ({"use_linear": True}, [[1.0, 0.0, 0.0], [-1.0, 1.0, 1.0]]),
        ({"use_linear": True, "margin": 0.5, "regularization_coefficient": 2}, [[2.0, 0.0, 0.0], [-2.0, 2.0, 2.0]]),
    ],
)
def test_svm_output(kw, want):
    d = np.array([[0.5, -1.0, 2.0], [0.2, 0.3, -0.4]], dtype=np.float32)
    x, l = mx.nd.array(d), mx.nd.array([2, 0])
    x.attach_grad()
    with mx.autograd.record():
        y = mx.nd.SVMOutput(x, l, **kw)
    y.backward()
    assert_almost_equal(y.asnumpy(), d)
    assert_almost_equal(x.grad.asnumpy(), np.array(want, dtype=np.float32), rtol=1e-5, atol=1e-6)  # MXNet 1.9.1


def test_svm_output_errors_and_symbol():
    x = mx.nd.array([[0.5, -1.0, 2.0], [0.2, 0.3, -0.4]])
    with pytest.raises(ERRORS, match=r"SVMOutput.*\[3\]"):
        mx.nd.SVMOutput(x, mx.nd.array([0, 1, 2]))
    x.attach_grad()
    with mx.autograd.record():
        y = mx.nd.SVMOutput(x, mx.nd.array([5, 0]))
    with pytest.raises(ERRORS, match="SVMOutput.*label 5"):
        y.backward()
        x.grad.asnumpy()
    s = mx.sym.SVMOutput(mx.sym.Variable("data"), name="svm")
    assert s.list_arguments() == ["data", "svm_label"]
    args, _, _ = s.infer_shape(data=(4, 3))
    assert args == [(4, 3), (4,)]
