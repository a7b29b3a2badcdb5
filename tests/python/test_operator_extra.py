"""Operators added for MXNet 1.9.1 parity (LRN, L2Normalization, Sequence*, special functions,
hard_sigmoid, softmin, ...): numpy oracles for the forward, finite differences for the
gradient, one bad-input check per family. Expected constants were cross-checked against
MXNet 1.9.1."""
import math

import numpy as np
import pytest

import oxnet as mx
from oxnet.test_utils import check_numeric_gradient
from tight import assert_almost_equal


def _grad(f, x, head, **kw):
    """Gradient of sum(f(x) * head) through autograd."""
    a = mx.nd.array(x, dtype=x.dtype)
    a.attach_grad()
    with mx.autograd.record():
        y = f(a, **kw)
    y.backward(mx.nd.array(head, dtype=x.dtype))
    return a.grad.asnumpy()


def _numeric(f, x, head, eps=1e-6, **kw):
    g = np.zeros_like(x)
    flat, gf = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        p = (f(mx.nd.array(x, dtype=x.dtype), **kw).asnumpy() * head).sum()
        flat[i] = old - eps
        m = (f(mx.nd.array(x, dtype=x.dtype), **kw).asnumpy() * head).sum()
        flat[i] = old
        gf[i] = (p - m) / (2 * eps)
    return g


def _check_grad(f, x, rtol=1e-5, atol=1e-7, **kw):
    x = x.astype(np.float64)
    head = np.random.uniform(-1, 1, size=f(mx.nd.array(x, dtype=x.dtype), **kw).shape)
    assert_almost_equal(_grad(f, x, head, **kw), _numeric(f, x, head, **kw), rtol=rtol, atol=atol)


# ----------------------------------------------------------------------------- special functions

_erf = np.vectorize(math.erf)
_gamma = np.vectorize(math.gamma)
_lgamma = np.vectorize(math.lgamma)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_erf_gamma_gammaln_forward(dtype):
    x = np.random.uniform(-3, 3, size=(3, 4)).astype(dtype)
    tol = 1e-6 if dtype == np.float32 else 1e-12
    assert_almost_equal(mx.nd.erf(mx.nd.array(x, dtype=dtype)).asnumpy(), _erf(x), rtol=tol, atol=tol)
    p = np.random.uniform(0.1, 6, size=(3, 4)).astype(dtype)
    assert_almost_equal(mx.nd.gamma(mx.nd.array(p, dtype=dtype)).asnumpy(), _gamma(p), rtol=tol, atol=tol)
    n = np.array([-2.5, -0.5, 0.5, 1.0, 7.5, 50.0], dtype=dtype)
    # gamma(50) = 6e62 overflows float32 to inf.
    want = _gamma(n.astype(np.float64))
    if dtype == np.float32:
        want[np.abs(want) > np.finfo(np.float32).max] = np.inf
    assert_almost_equal(mx.nd.gamma(mx.nd.array(n, dtype=dtype)).asnumpy(), want.astype(dtype),
                        rtol=tol)
    assert_almost_equal(mx.nd.gammaln(mx.nd.array(n, dtype=dtype)).asnumpy(), _lgamma(n),
                        rtol=tol, atol=tol)
    assert mx.nd.erf(mx.nd.array(x, dtype=dtype)).dtype == dtype


def test_special_edges_match_mxnet():
    # MXNet 1.9.1: gamma(0) = inf, gamma(-1) = nan, gammaln at poles = inf, erfinv(+-1) = +-inf.
    g = mx.nd.gamma(mx.nd.array([0.0, -1.0, 172.0])).asnumpy()
    assert g[0] == np.inf and np.isnan(g[1]) and g[2] == np.inf
    assert (mx.nd.gammaln(mx.nd.array([0.0, -2.0])).asnumpy() == np.inf).all()
    e = mx.nd.erfinv(mx.nd.array([-1.0, 1.0, 1.5])).asnumpy()
    assert e[0] == -np.inf and e[1] == np.inf and np.isnan(e[2])
    # Integer inputs truncate the result, as MXNet's integer kernels do.
    assert mx.nd.gamma(mx.nd.array([1, 2, 4], dtype="int32")).asnumpy().tolist() == [1, 1, 6]
    assert mx.nd.erf(mx.nd.array([1, 2], dtype="int32")).asnumpy().tolist() == [0, 0]


def test_erfinv_inverts_erf():
    y = np.linspace(-0.999, 0.999, 41)
    x = mx.nd.erfinv(mx.nd.array(y, dtype=np.float64)).asnumpy()
    assert_almost_equal(_erf(x), y, rtol=1e-12, atol=1e-13)
    x32 = mx.nd.erfinv(mx.nd.array(y)).asnumpy()
    assert_almost_equal(x32, x.astype(np.float32), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op,lo,hi", [("erf", -2, 2), ("erfinv", -0.9, 0.9), ("gamma", 0.3, 4),
                                      ("gamma", -2.9, -2.1), ("gammaln", -1.9, 5)])
def test_special_gradients(op, lo, hi):
    x = np.random.uniform(lo, hi, size=(2, 3))
    _check_grad(getattr(mx.nd, op), x, rtol=1e-6)


def test_special_analytic_gradients():
    # The documented derivatives at a few points.
    x = np.array([-0.5, 0.3, 1.5, 2.5])
    ones = np.ones_like(x)
    assert_almost_equal(_grad(mx.nd.erf, x, ones), 2 / np.sqrt(np.pi) * np.exp(-x ** 2), rtol=1e-12)
    # digamma(-0.5), digamma(0.3), digamma(1.5), digamma(2.5)
    psi = np.array([0.03648997397857652, -3.502524222200133, 0.03648997397857652, 0.7031566406452432])
    assert_almost_equal(_grad(mx.nd.gammaln, x, ones), psi, rtol=1e-12)
    assert_almost_equal(_grad(mx.nd.gamma, x, ones), _gamma(x) * psi, rtol=1e-12)
    y = np.array([-0.5, 0.3, 0.7, 0.9])
    ey = mx.nd.erfinv(mx.nd.array(y, dtype=np.float64)).asnumpy()
    assert_almost_equal(_grad(mx.nd.erfinv, y, ones), np.sqrt(np.pi) / 2 * np.exp(ey ** 2), rtol=1e-12)


# ----------------------------------------------------------------------------- hard_sigmoid / softmin

def test_hard_sigmoid():
    x = np.random.uniform(-5, 5, size=(4, 5)).astype(np.float32)
    for kw in [{}, {"alpha": 0.3, "beta": 0.4}]:
        a, b = kw.get("alpha", 0.2), kw.get("beta", 0.5)
        y = mx.nd.hard_sigmoid(mx.nd.array(x), **kw).asnumpy()
        assert_almost_equal(y, np.clip(a * x + b, 0, 1), rtol=1e-6, atol=1e-7)
    # Gradient alpha strictly inside (0, 1), zero at and beyond the kinks (MXNet 1.9.1).
    g = _grad(mx.nd.hard_sigmoid, np.array([-3, -2.5, -1, 0, 2.5, 3.0]), np.ones(6))
    assert_almost_equal(g, [0, 0, 0.2, 0.2, 0, 0], rtol=1e-6)
    _check_grad(mx.nd.hard_sigmoid, np.random.uniform(-1.5, 1.5, size=(3, 4)), alpha=0.3)
    with pytest.raises(mx.MXNetError, match="hard_sigmoid.*int32"):
        mx.nd.hard_sigmoid(mx.nd.array([1, 2], dtype="int32")).asnumpy()


def _np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_softmin():
    x = np.random.uniform(-3, 3, size=(2, 3, 4))
    for axis, t in [(-1, 1.0), (0, 2.0), (1, 0.5)]:
        kw = {"axis": axis} if t == 1.0 else {"axis": axis, "temperature": t}
        y = mx.nd.softmin(mx.nd.array(x, dtype=np.float64), **kw).asnumpy()
        assert_almost_equal(y, _np_softmax(-x / t, axis), rtol=1e-12, atol=1e-14)
        _check_grad(mx.nd.softmin, x, **kw)
    # MXNet 1.9.1 reference values.
    r = mx.nd.softmin(mx.nd.array([[-2, -1, 0]])).asnumpy()
    assert_almost_equal(r, [[0.66524094, 0.24472848, 0.09003057]], rtol=1e-6)
    assert mx.nd.softmin(mx.nd.array(x), dtype="float64").dtype == np.float64
    with pytest.raises(mx.MXNetError, match="softmin"):
        mx.nd.softmin(mx.nd.array(x), axis=3)


# ----------------------------------------------------------------------------- LRN / L2Normalization

def _np_lrn(x, nsize, alpha=1e-4, beta=0.75, knorm=2.0):
    c = x.shape[1]
    half = (nsize - 1) // 2
    sq = x ** 2
    s = np.zeros_like(x)
    for k in range(c):
        s[:, k] = sq[:, max(0, k - half):min(c, k + half + 1)].sum(axis=1)
    return x / (knorm + alpha / nsize * s) ** beta


@pytest.mark.parametrize("nsize", [1, 2, 3, 5, 6])
def test_lrn(nsize):
    x = np.random.randn(2, 7, 3, 3)
    y = mx.nd.LRN(mx.nd.array(x, dtype=np.float64), nsize=nsize, alpha=0.5, beta=0.6, knorm=1.5)
    # alpha, beta and knorm are C floats in MXNet: 0.6 is float32(0.6)
    want = _np_lrn(x, nsize, 0.5, float(np.float32(0.6)), 1.5)
    assert_almost_equal(y.asnumpy(), want, rtol=1e-12, atol=1e-14)
    y32 = mx.nd.LRN(mx.nd.array(x), nsize=nsize).asnumpy()
    assert y32.dtype == np.float32
    assert_almost_equal(y32, _np_lrn(x, nsize), rtol=1e-5, atol=1e-6)
    _check_grad(mx.nd.LRN, np.random.randn(2, 5, 2, 2), nsize=nsize, alpha=0.9)


def test_lrn_mxnet_values_and_errors():
    # MXNet 1.9.1: LRN(nsize=3) of channels [1, 2, 3] at one pixel.
    y = mx.nd.LRN(mx.nd.array([1, 2, 3]).reshape((1, 3, 1, 1)), nsize=3).asnumpy().ravel()
    assert_almost_equal(y, [0.5945664, 1.188999, 1.7835207], rtol=1e-6)
    s = mx.sym.LRN(mx.sym.var("d"), nsize=3, name="lrn0")
    assert s.list_outputs() == ["lrn0_output"]
    assert s.infer_shape(d=(2, 3, 4, 4))[1] == [(2, 3, 4, 4)]
    with pytest.raises(mx.MXNetError, match=r"LRN.*4-D.*\[2,3,4\]"):
        mx.nd.LRN(mx.nd.ones((2, 3, 4)), nsize=3)
    with pytest.raises(mx.MXNetError, match="nsize"):
        mx.nd.LRN(mx.nd.ones((2, 3, 4, 4)))


def _np_l2(x, mode, eps=1e-10):
    axes = {"instance": tuple(range(1, x.ndim)), "channel": (1,),
            "spatial": tuple(range(2, x.ndim))}[mode]
    return x / np.sqrt((x ** 2).sum(axis=axes, keepdims=True) + eps)


@pytest.mark.parametrize("mode", ["instance", "channel", "spatial"])
@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 3, 2, 2)])
def test_l2_normalization(mode, shape):
    x = np.random.randn(*shape)
    y = mx.nd.L2Normalization(mx.nd.array(x, dtype=np.float64), mode=mode).asnumpy()
    assert_almost_equal(y, _np_l2(x, mode), rtol=1e-12, atol=1e-14)
    y32 = mx.nd.L2Normalization(mx.nd.array(x), mode=mode, eps=1e-3).asnumpy()
    assert_almost_equal(y32, _np_l2(x, mode, 1e-3), rtol=1e-5, atol=1e-6)
    _check_grad(mx.nd.L2Normalization, x, mode=mode)


def test_l2_normalization_edges():
    # Instance mode takes every shape; 2-D data is (batch, features) (MXNet 1.9.1).
    y = mx.nd.L2Normalization(mx.nd.ones((2, 3))).asnumpy()
    assert_almost_equal(y, np.full((2, 3), 1 / np.sqrt(3)), rtol=1e-6)
    assert (mx.nd.L2Normalization(mx.nd.zeros((2, 3))).asnumpy() == 0).all()
    sym = mx.sym.L2Normalization(mx.sym.var("d"), mode="channel")
    check_numeric_gradient(sym, [np.random.randn(2, 3, 4)], numeric_eps=1e-5, rtol=1e-4,
                           dtype=np.float64)
    with pytest.raises(mx.MXNetError, match=r"L2Normalization.*\[2,3\]"):
        mx.nd.L2Normalization(mx.nd.ones((2, 3)), mode="spatial")
    with pytest.raises(mx.MXNetError, match="mode"):
        mx.nd.L2Normalization(mx.nd.ones((2, 3)), mode="batch")


# ----------------------------------------------------------------------------- Sequence*

def _np_seq(op, x, lens, axis=0, value=0.0):
    """Sequence ops on (T, B, ...) data (axis 0) or (B, T, ...) (axis 1)."""
    xs = np.moveaxis(x, axis, 0)  # (T, B, ...)
    t = xs.shape[0]
    lens = [t] * xs.shape[1] if lens is None else [int(v) for v in lens]
    if op == "SequenceLast":
        return np.stack([xs[l - 1, b] for b, l in enumerate(lens)])
    out = xs.copy()
    for b, l in enumerate(lens):
        if op == "SequenceMask":
            out[min(max(l, 0), t):, b] = value
        else:
            out[:l, b] = xs[:l, b][::-1]
    return np.moveaxis(out, 0, axis)


# MXNet's SequenceReverse has no axis parameter: time is always axis 0.
@pytest.mark.parametrize("op,axis", [("SequenceMask", 0), ("SequenceMask", 1), ("SequenceLast", 0),
                                     ("SequenceLast", 1), ("SequenceReverse", 0)])
def test_sequence_ops(op, axis):
    x = np.random.randn(4, 3, 2) if axis == 0 else np.random.randn(3, 4, 2)
    lens = np.array([1, 4, 2.7])
    f = getattr(mx.nd, op)
    kw = {"axis": axis} if axis else {}
    if op == "SequenceMask":
        kw["value"] = -1.5
    got = f(mx.nd.array(x), mx.nd.array(lens), use_sequence_length=True, **kw).asnumpy()
    assert_almost_equal(got, _np_seq(op, x, lens, axis, kw.get("value", 0)), rtol=1e-6)
    got = f(mx.nd.array(x), **kw).asnumpy()
    assert_almost_equal(got, _np_seq(op, x, None, axis, kw.get("value", 0)), rtol=1e-6)
    # Integer lengths work too.
    got = f(mx.nd.array(x), mx.nd.array([1, 4, 2], dtype="int32"), use_sequence_length=True,
            **kw).asnumpy()
    assert_almost_equal(got, _np_seq(op, x, lens, axis, kw.get("value", 0)), rtol=1e-6)
    # Gradient w.r.t. data through the symbol executor; lengths get none.
    sym = getattr(mx.sym, op)(mx.sym.var("data"), mx.sym.var("len"), use_sequence_length=True,
                              **kw)
    check_numeric_gradient(sym, {"data": x, "len": lens}, grad_nodes=["data"],
                           numeric_eps=1e-5, rtol=1e-5, dtype=np.float64)


def test_sequence_symbols_and_errors():
    assert mx.sym.SequenceMask(mx.sym.var("d")).list_arguments() == ["d"]
    s = mx.sym.SequenceLast(mx.sym.var("d"), mx.sym.var("l"), use_sequence_length=True)
    assert s.list_arguments() == ["d", "l"]
    _, out, _ = s.infer_shape(d=(5, 3, 2))
    assert out == [(3, 2)]
    arg, _, _ = s.infer_shape(d=(5, 3, 2))
    assert arg[1] == (3,)
    # MXNet 1.9.1 values for data[t, b] = 2t + b, lengths [1.7, 2].
    x, l = mx.nd.arange(6).reshape((3, 2)), mx.nd.array([1.7, 2])
    assert mx.nd.SequenceMask(x, l, use_sequence_length=True, value=-1).asnumpy().tolist() == \
        [[0, 1], [-1, 3], [-1, -1]]
    assert mx.nd.SequenceReverse(x, l, use_sequence_length=True).asnumpy().tolist() == \
        [[0, 3], [2, 1], [4, 5]]
    with pytest.raises(mx.MXNetError, match=r"SequenceMask.*\[2\].*\[3\]"):
        mx.nd.SequenceMask(x, mx.nd.array([1, 2, 3]), use_sequence_length=True)
    with pytest.raises(mx.MXNetError, match=r"SequenceLast.*sequence_length\[0\] = 0"):
        mx.nd.SequenceLast(x, mx.nd.array([0, 2]), use_sequence_length=True).asnumpy()
    with pytest.raises(mx.MXNetError, match="axis.*SequenceReverse"):
        mx.nd.SequenceReverse(x, axis=1)


# ----------------------------------------------------------------------------- shape queries, logical

def test_shape_and_size_array():
    x = mx.nd.ones((2, 3, 4))
    s = mx.nd.shape_array(x)
    assert s.dtype == np.int64 and s.asnumpy().tolist() == [2, 3, 4]
    n = mx.nd.size_array(x)
    assert n.dtype == np.int64 and n.asnumpy().tolist() == [24]
    sym = mx.sym.shape_array(mx.sym.var("d"))
    assert sym.infer_shape(d=(2, 3, 4))[1] == [(3,)]
    assert sym.infer_type(d=np.float64)[1] == [np.int64]
    assert mx.sym.size_array(mx.sym.var("d")).infer_shape(d=(2, 3, 4))[1] == [(1,)]
    # Zero gradient, as MXNet registers.
    a = mx.nd.ones((2, 3))
    a.attach_grad()
    with mx.autograd.record():
        y = mx.nd.shape_array(a)
    y.backward()
    assert (a.grad.asnumpy() == 0).all()


@pytest.mark.parametrize("name", ["logical_and", "logical_or", "logical_xor"])
def test_logical_functions(name):
    ref = getattr(np, name)
    x = np.random.randint(-1, 2, size=(2, 3)).astype(np.float32)
    y = np.random.randint(-1, 2, size=(2, 3)).astype(np.float32)
    f = getattr(mx.nd, name)
    out = f(mx.nd.array(x), mx.nd.array(y))
    assert out.dtype == np.float32
    assert_almost_equal(out.asnumpy(), ref(x, y).astype(np.float32))
    assert_almost_equal(f(mx.nd.array(x), mx.nd.array(y[:1])).asnumpy(), ref(x, y[:1]))
    assert_almost_equal(f(mx.nd.array(x), 1).asnumpy(), ref(x, 1))
    assert_almost_equal(f(0, mx.nd.array(x)).asnumpy(), ref(0, x))
    with pytest.raises(mx.MXNetError, match=r"\[2,3\].*\[4\]|\[4\].*\[2,3\]"):
        f(mx.nd.array(x), mx.nd.ones(4))


# ----------------------------------------------------------------------------- slice_like / Crop

def test_slice_like():
    x = np.random.randn(2, 3, 4)
    like = mx.nd.zeros((1, 2, 3))
    assert_almost_equal(mx.nd.slice_like(mx.nd.array(x), like).asnumpy(), x[:1, :2, :3])
    assert_almost_equal(mx.nd.slice_like(mx.nd.array(x), like, axes=(0, 2)).asnumpy(), x[:1, :, :3])
    assert_almost_equal(mx.nd.slice_like(mx.nd.array(x), like, axes=(-1,)).asnumpy(), x[:, :, :3])
    assert_almost_equal(mx.nd.slice_like(mx.nd.array(x), mx.nd.zeros((5, 2)), axes=(1,)).asnumpy(),
                        x[:, :2])
    sym = mx.sym.slice_like(mx.sym.var("data"), mx.sym.var("like"), axes=(0, 2))
    assert sym.list_arguments() == ["data", "like"]
    check_numeric_gradient(sym, {"data": x, "like": np.zeros((1, 2, 3))}, grad_nodes=["data"],
                           numeric_eps=1e-5, rtol=1e-5, dtype=np.float64)
    with pytest.raises(mx.MXNetError, match=r"slice_like.*exceeds"):
        mx.nd.slice_like(mx.nd.array(x), mx.nd.zeros((3, 2, 3)))
    with pytest.raises(mx.MXNetError, match=r"slice_like.*ndim"):
        mx.nd.slice_like(mx.nd.array(x), mx.nd.zeros((1, 2)))


def test_crop():
    x = np.arange(2 * 3 * 5 * 6, dtype=np.float64).reshape(2, 3, 5, 6)
    a = mx.nd.array(x)
    assert_almost_equal(mx.nd.Crop(a, num_args=1, h_w=(3, 2)).asnumpy(), x[:, :, :3, :2])
    assert_almost_equal(mx.nd.Crop(a, num_args=1, h_w=(3, 2), offset=(1, 2)).asnumpy(),
                        x[:, :, 1:4, 2:4])
    # Centred: offsets floor((5 - 2) / 2) = 1, floor((6 - 3) / 2) = 1 (MXNet 1.9.1).
    assert_almost_equal(mx.nd.Crop(a, num_args=1, h_w=(2, 3), center_crop=True).asnumpy(),
                        x[:, :, 1:3, 1:4])
    like = mx.nd.zeros((1, 1, 3, 2))
    assert_almost_equal(mx.nd.Crop(a, like, num_args=2, h_w=(1, 1)).asnumpy(), x[:, :, :3, :2])
    assert_almost_equal(mx.nd.Crop(a, like, num_args=2, center_crop=True).asnumpy(),
                        x[:, :, 1:4, 2:4])
    sym = mx.sym.Crop(mx.sym.var("a"), mx.sym.var("b"), num_args=2, offset=(1, 1))
    assert sym.list_arguments() == ["a", "b"]
    assert sym.infer_shape(a=(2, 3, 5, 6), b=(1, 1, 3, 2))[1] == [(2, 3, 3, 2)]
    check_numeric_gradient(sym, {"a": x / 100, "b": np.zeros((1, 1, 3, 2))}, grad_nodes=["a"],
                           numeric_eps=1e-5, rtol=1e-5, dtype=np.float64)
    with pytest.raises(mx.MXNetError, match=r"Crop.*\(6, 2\).*\[2,3,5,6\]"):
        mx.nd.Crop(a, num_args=1, h_w=(6, 2))
    with pytest.raises(mx.MXNetError, match=r"Crop.*offset"):
        mx.nd.Crop(a, num_args=1, h_w=(3, 2), offset=(3, 0))
    with pytest.raises(mx.MXNetError, match=r"Crop.*4D"):
        mx.nd.Crop(mx.nd.ones((2, 5, 6)), num_args=1, h_w=(3, 2))


# ----------------------------------------------------------------------------- linspace, depth/space

def test_linspace():
    assert_almost_equal(mx.nd.linspace(0, 1, 5).asnumpy(), np.linspace(0, 1, 5))
    assert_almost_equal(mx.nd.linspace(2, 3, 5, endpoint=False).asnumpy(),
                        np.linspace(2, 3, 5, endpoint=False))
    assert mx.nd.linspace(2, 3, 1).asnumpy().tolist() == [2.0]
    assert mx.nd.linspace(2, 3, 0).shape == (0,)
    # Integer dtypes truncate (MXNet 1.9.1: [0, 3, 6, 10]).
    r = mx.nd.linspace(0, 10, 4, dtype="int32")
    assert r.dtype == np.int32 and r.asnumpy().tolist() == [0, 3, 6, 10]
    assert mx.nd.linspace(-1, 1, 9, dtype="float64").dtype == np.float64
    s = mx.sym.linspace(0, 1, 5)
    assert s.infer_shape()[1] == [(5,)]
    assert '"op": "_linspace"' in s.tojson()
    with pytest.raises(mx.MXNetError, match="non-negative.*_linspace"):
        mx.nd.linspace(0, 10, -1)


def _np_d2s(x, b):
    n, c, h, w = x.shape
    return x.reshape(n, b, b, c // b ** 2, h, w).transpose(0, 3, 4, 1, 5, 2).reshape(
        n, c // b ** 2, h * b, w * b)


def _np_s2d(x, b):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // b, b, w // b, b).transpose(0, 3, 5, 1, 2, 4).reshape(
        n, c * b * b, h // b, w // b)


@pytest.mark.parametrize("b", [1, 2, 3])
def test_depth_to_space_and_back(b):
    x = np.random.randn(2, 2 * b * b, 2, 3)
    y = mx.nd.depth_to_space(mx.nd.array(x), block_size=b)
    assert_almost_equal(y.asnumpy(), _np_d2s(x, b).astype(np.float32))
    back = mx.nd.space_to_depth(y, block_size=b)
    assert_almost_equal(back.asnumpy(), x.astype(np.float32))
    z = np.random.randn(1, 3, 2 * b, 4 * b)
    assert_almost_equal(mx.nd.space_to_depth(mx.nd.array(z), block_size=b).asnumpy(),
                        _np_s2d(z, b).astype(np.float32))
    _check_grad(mx.nd.depth_to_space, x, block_size=b)
    _check_grad(mx.nd.space_to_depth, z, block_size=b)


def test_depth_space_errors():
    with pytest.raises(mx.MXNetError, match=r"depth_to_space.*\[1,6,2,2\]"):
        mx.nd.depth_to_space(mx.nd.ones((1, 6, 2, 2)), block_size=2)
    with pytest.raises(mx.MXNetError, match=r"space_to_depth.*\[1,2,3,4\]"):
        mx.nd.space_to_depth(mx.nd.ones((1, 2, 3, 4)), block_size=2)
    with pytest.raises(mx.MXNetError, match="depth_to_space.*4D"):
        mx.nd.depth_to_space(mx.nd.ones((4, 2, 2)), block_size=2)
    with pytest.raises(mx.MXNetError, match="block_size"):
        mx.nd.depth_to_space(mx.nd.ones((1, 4, 2, 2)), block_size=0)
