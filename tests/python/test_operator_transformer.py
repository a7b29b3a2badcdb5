"""The transformer attention products (`_contrib_interleaved_matmul_*`) and the patch ops
(`im2col`, `col2im`): forward values against numpy reimplementations written here and against
MXNet 1.9.1's printed outputs and input gradients for fixed inputs (constants at the end of
the file), shape rules, symbols, and the bad-input errors."""
import itertools

import numpy as np
import pytest

import oxnet as mx
from tight import assert_almost_equal

ERRORS = (mx.MXNetError, ValueError)


# ----------------------------------------------------------------------------- numpy oracles


def np_heads(x, heads, slots, slot):
    """(seq, batch, heads*slots*d) -> (batch*heads, seq, d) of one slot."""
    s, b, w = x.shape
    d = w // (heads * slots)
    t = x.reshape(s, b, heads, slots, d)[:, :, :, slot, :]
    return t.transpose(1, 2, 0, 3).reshape(b * heads, s, d)


def np_merge(o, batch, heads):
    """(batch*heads, seq, d) -> (seq, batch, heads*d)."""
    bh, s, d = o.shape
    return o.reshape(batch, heads, s, d).transpose(2, 0, 1, 3).reshape(s, batch, heads * d)


def np_selfatt_qk(qkv, heads):
    q, k = np_heads(qkv, heads, 3, 0), np_heads(qkv, heads, 3, 1)
    return q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])


def np_selfatt_valatt(qkv, att, heads):
    return np_merge(att @ np_heads(qkv, heads, 3, 2), qkv.shape[1], heads)


def np_encdec_qk(q, kv, heads):
    qh, kh = np_heads(q, heads, 1, 0), np_heads(kv, heads, 2, 0)
    return qh @ kh.transpose(0, 2, 1) / np.sqrt(qh.shape[-1])


def np_encdec_valatt(kv, att, heads):
    return np_merge(att @ np_heads(kv, heads, 2, 1), kv.shape[1], heads)


def np_im2col(x, kernel, stride, dilate, pad):
    n, c = x.shape[:2]
    nd = len(kernel)
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in pad])
    out = [(xp.shape[2 + i] - dilate[i] * (kernel[i] - 1) - 1) // stride[i] + 1 for i in range(nd)]
    cols = np.zeros((n, c) + tuple(kernel) + tuple(out), x.dtype)
    for k in itertools.product(*[range(v) for v in kernel]):
        for o in itertools.product(*[range(v) for v in out]):
            idx = tuple(o[i] * stride[i] + k[i] * dilate[i] for i in range(nd))
            cols[(slice(None), slice(None)) + k + o] = xp[(slice(None), slice(None)) + idx]
    return cols.reshape(n, c * int(np.prod(kernel)), int(np.prod(out)))


def rand(rs, *shape, dtype=np.float32):
    return rs.uniform(-1, 1, shape).astype(dtype)


# ------------------------------------------------------------------- attention: numpy oracle


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seq,batch,heads,d", [(3, 2, 2, 2), (5, 1, 3, 4), (1, 3, 1, 5), (4, 2, 4, 1)])
def test_selfatt_matches_numpy(dtype, seq, batch, heads, d):
    rs = np.random.RandomState(seq * 10 + heads)
    qkv = rand(rs, seq, batch, heads * 3 * d, dtype=dtype)
    att = rand(rs, batch * heads, seq, seq, dtype=dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    qk = mx.nd.contrib.interleaved_matmul_selfatt_qk(mx.nd.array(qkv, dtype=dtype), heads=heads)
    assert qk.shape == (batch * heads, seq, seq) and qk.dtype == dtype
    assert_almost_equal(qk.asnumpy(), np_selfatt_qk(qkv, heads), rtol=tol, atol=tol)
    va = mx.nd.contrib.interleaved_matmul_selfatt_valatt(
        mx.nd.array(qkv, dtype=dtype), mx.nd.array(att, dtype=dtype), heads=heads
    )
    assert va.shape == (seq, batch, heads * d)
    assert_almost_equal(va.asnumpy(), np_selfatt_valatt(qkv, att, heads), rtol=tol, atol=tol)


@pytest.mark.parametrize("lq,lk,batch,heads,d", [(2, 3, 2, 2, 2), (4, 1, 3, 2, 3), (1, 5, 1, 4, 2)])
def test_encdec_matches_numpy(lq, lk, batch, heads, d):
    rs = np.random.RandomState(lq * 7 + lk)
    q = rand(rs, lq, batch, heads * d)
    kv = rand(rs, lk, batch, heads * 2 * d)
    att = rand(rs, batch * heads, lq, lk)
    qk = mx.nd.contrib.interleaved_matmul_encdec_qk(mx.nd.array(q), mx.nd.array(kv), heads=heads)
    assert qk.shape == (batch * heads, lq, lk)
    assert_almost_equal(qk.asnumpy(), np_encdec_qk(q, kv, heads), rtol=1e-5, atol=1e-6)
    va = mx.nd.contrib.interleaved_matmul_encdec_valatt(mx.nd.array(kv), mx.nd.array(att), heads=heads)
    assert va.shape == (lq, batch, heads * d)
    assert_almost_equal(va.asnumpy(), np_encdec_valatt(kv, att, heads), rtol=1e-5, atol=1e-6)


def test_selfattention_block_gradient_matches_numpy():
    """softmax(qk)·v through autograd: the qkv gradient against the chain rule in numpy."""
    rs = np.random.RandomState(11)
    seq, batch, heads, d = 4, 2, 2, 3
    qkv = rand(rs, seq, batch, heads * 3 * d, dtype=np.float64)
    hg = rand(rs, seq, batch, heads * d, dtype=np.float64)
    x = mx.nd.array(qkv, dtype=np.float64)
    x.attach_grad()
    with mx.autograd.record():
        att = mx.nd.softmax(mx.nd.contrib.interleaved_matmul_selfatt_qk(x, heads=heads), axis=-1)
        out = mx.nd.contrib.interleaved_matmul_selfatt_valatt(x, att, heads=heads)
    out.backward(mx.nd.array(hg, dtype=np.float64))
    q, k, v = (np_heads(qkv, heads, 3, s) for s in range(3))
    s = q @ k.transpose(0, 2, 1) / np.sqrt(d)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    assert_almost_equal(out.asnumpy(), np_merge(p @ v, batch, heads), rtol=1e-12, atol=1e-12)
    g = np_heads(hg, heads, 1, 0)  # (bh, seq, d)
    dv = p.transpose(0, 2, 1) @ g
    dp = g @ v.transpose(0, 2, 1)
    ds = p * (dp - (dp * p).sum(-1, keepdims=True))
    dq = ds @ k / np.sqrt(d)
    dk = ds.transpose(0, 2, 1) @ q / np.sqrt(d)
    want = np.stack([np_merge(t, batch, heads).reshape(seq, batch, heads, d) for t in (dq, dk, dv)], 3)
    assert_almost_equal(x.grad.asnumpy(), want.reshape(qkv.shape), rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------- attention: MXNet 1.9.1 values


def _run_mx(f, ins, out_shape):
    xs = [mx.nd.array(a) for a in ins]
    for x in xs:
        x.attach_grad()
    with mx.autograd.record():
        y = f(*xs, heads=2)
    assert y.shape == out_shape
    hg = np.round(np.cos(np.arange(y.size)).reshape(y.shape), 3)
    y.backward(mx.nd.array(hg))
    return y.asnumpy(), [x.grad.asnumpy() for x in xs]


def test_attention_matches_mxnet_printed():
    qkv = np.array(MX_QKV, np.float32).reshape(3, 2, 12)
    att = np.array(MX_ATT, np.float32).reshape(4, 3, 3)
    q = np.array(MX_Q, np.float32).reshape(2, 2, 4)
    kv = np.array(MX_KV, np.float32).reshape(3, 2, 8)
    att2 = np.array(MX_ATT2, np.float32).reshape(4, 2, 3)
    c = mx.nd.contrib
    cases = [
        (c.interleaved_matmul_selfatt_qk, [qkv], (4, 3, 3), MX_SELFQK_OUT, [MX_SELFQK_GRAD0]),
        (
            c.interleaved_matmul_selfatt_valatt,
            [qkv, att],
            (3, 2, 4),
            MX_SELFVAL_OUT,
            [MX_SELFVAL_GRAD0, MX_SELFVAL_GRAD1],
        ),
        (c.interleaved_matmul_encdec_qk, [q, kv], (4, 2, 3), MX_ENCQK_OUT, [MX_ENCQK_GRAD0, MX_ENCQK_GRAD1]),
        (
            c.interleaved_matmul_encdec_valatt,
            [kv, att2],
            (2, 2, 4),
            MX_ENCVAL_OUT,
            [MX_ENCVAL_GRAD0, MX_ENCVAL_GRAD1],
        ),
    ]
    for f, ins, shape, want, want_grads in cases:
        y, grads = _run_mx(f, ins, shape)
        assert_almost_equal(y.ravel(), np.array(want), rtol=1e-4, atol=2e-5)
        for g, w in zip(grads, want_grads):
            assert_almost_equal(g.ravel(), np.array(w), rtol=1e-4, atol=2e-5)


# ------------------------------------------------------------------- attention: symbols, errors


def test_attention_symbols_infer_shapes():
    qkv = mx.sym.Variable("qkv")
    qk = mx.sym.contrib.interleaved_matmul_selfatt_qk(qkv, heads=4, name="qk")
    att = mx.sym.softmax(qk, axis=-1)
    out = mx.sym.contrib.interleaved_matmul_selfatt_valatt(qkv, att, heads=4, name="va")
    assert out.list_arguments() == ["qkv"]
    _, outs, _ = out.infer_shape(qkv=(7, 3, 96))
    assert outs == [(7, 3, 32)]
    _, outs, _ = qk.infer_shape(qkv=(7, 3, 96))
    assert outs == [(12, 7, 7)]
    q, kv = mx.sym.Variable("q"), mx.sym.Variable("kv")
    e = mx.sym.contrib.interleaved_matmul_encdec_qk(q, kv, heads=2)
    assert e.list_arguments() == ["q", "kv"]
    _, outs, _ = e.infer_shape(q=(5, 2, 8), kv=(6, 2, 16))
    assert outs == [(4, 5, 6)]
    ev = mx.sym.contrib.interleaved_matmul_encdec_valatt(kv, mx.sym.Variable("a"), heads=2)
    _, outs, _ = ev.infer_shape(kv=(6, 2, 16), a=(4, 5, 6))
    assert outs == [(5, 2, 8)]


def test_attention_bad_inputs():
    c = mx.nd.contrib
    z = mx.nd.zeros
    with pytest.raises(ERRORS, match="heads"):
        c.interleaved_matmul_selfatt_qk(z((3, 2, 12)), heads=0)
    with pytest.raises(ERRORS, match=r"interleaved_matmul_selfatt_qk.*multiple of 3 \* heads"):
        c.interleaved_matmul_selfatt_qk(z((3, 2, 12)), heads=3)
    with pytest.raises(ERRORS, match="3D"):
        c.interleaved_matmul_selfatt_qk(z((3, 24)), heads=2)
    with pytest.raises(ERRORS, match=r"attention must have shape.*\(4, 3, 3\)"):
        c.interleaved_matmul_selfatt_valatt(z((3, 2, 12)), z((2, 3, 3)), heads=2)
    with pytest.raises(ERRORS, match="twice"):
        c.interleaved_matmul_encdec_qk(z((2, 2, 4)), z((3, 2, 4)), heads=2)
    with pytest.raises(ERRORS, match="attention must have shape"):
        c.interleaved_matmul_encdec_valatt(z((3, 2, 8)), z((4, 2, 5)), heads=2)
    with pytest.raises(ERRORS, match="float"):
        c.interleaved_matmul_selfatt_qk(z((3, 2, 12), dtype="int32"), heads=2)
    with pytest.raises(ERRORS, match="dtype"):
        c.interleaved_matmul_encdec_qk(z((2, 2, 4)), z((3, 2, 8), dtype="float64"), heads=2)


# ------------------------------------------------------------------------- im2col / col2im


@pytest.mark.parametrize(
    "shape,kernel,stride,dilate,pad",
    [
        ((2, 3, 7), (3,), (2,), (1,), (1,)),
        ((2, 2, 4, 5), (2, 3), (1, 2), (2, 1), (1, 1)),
        ((1, 3, 6, 6), (3, 3), (1, 1), (1, 1), (0, 0)),
        ((1, 2, 4, 5, 3), (2, 2, 2), (2, 1, 1), (1, 2, 1), (0, 1, 1)),
    ],
)
def test_im2col_col2im_match_numpy(shape, kernel, stride, dilate, pad):
    rs = np.random.RandomState(len(shape))
    x = rand(rs, *shape, dtype=np.float64)
    kw = dict(kernel=kernel, stride=stride, dilate=dilate, pad=pad)
    cols = mx.nd.im2col(mx.nd.array(x, dtype=np.float64), **kw)
    want = np_im2col(x, kernel, stride, dilate, pad)
    assert cols.shape == want.shape
    assert_almost_equal(cols.asnumpy(), want, rtol=0, atol=0)
    # col2im is the adjoint: <im2col(x), c> == <x, col2im(c)>.
    c = rand(rs, *want.shape, dtype=np.float64)
    img = mx.nd.col2im(mx.nd.array(c, dtype=np.float64), output_size=shape[2:], **kw)
    assert img.shape == shape
    assert abs((want * c).sum() - (x * img.asnumpy()).sum()) < 1e-10
    # ... and each is the other's gradient through autograd.
    xa = mx.nd.array(x, dtype=np.float64)
    xa.attach_grad()
    with mx.autograd.record():
        y = mx.nd.im2col(xa, **kw)
    y.backward(mx.nd.array(c, dtype=np.float64))
    assert_almost_equal(xa.grad.asnumpy(), img.asnumpy(), rtol=1e-12, atol=1e-12)
    ca = mx.nd.array(c, dtype=np.float64)
    ca.attach_grad()
    with mx.autograd.record():
        z = mx.nd.col2im(ca, output_size=shape[2:], **kw)
    z.backward(mx.nd.array(x, dtype=np.float64))
    assert_almost_equal(ca.grad.asnumpy(), want, rtol=0, atol=0)


def test_im2col_matches_mxnet_printed():
    x = np.array(MX_IM_X, np.float32).reshape(2, 2, 4, 5)
    kw = dict(kernel=(2, 3), stride=(1, 2), dilate=(2, 1), pad=(1, 1))
    xa = mx.nd.array(x)
    xa.attach_grad()
    with mx.autograd.record():
        y = mx.nd.im2col(xa, **kw)
    assert y.shape == (2, 12, 12)
    assert_almost_equal(y.asnumpy(), np_im2col(x, **kw), rtol=0, atol=0)
    hg = np.round(np.sin(np.arange(y.size)).reshape(y.shape), 3).astype(np.float32)
    y.backward(mx.nd.array(hg))
    assert_almost_equal(xa.grad.asnumpy().ravel(), np.array(MX_IM_GRAD), rtol=1e-5, atol=1e-6)
    # MXNet printed the same numbers for col2im of the head gradient.
    z = mx.nd.col2im(mx.nd.array(hg), output_size=(4, 5), **kw)
    assert_almost_equal(z.asnumpy().ravel(), np.array(MX_IM_GRAD), rtol=1e-5, atol=1e-6)


def test_im2col_symbol_and_defaults():
    d = mx.sym.Variable("data")
    s = mx.sym.im2col(d, kernel=(3, 3), pad=(1, 1))
    _, outs, _ = s.infer_shape(data=(2, 4, 5, 6))
    assert outs == [(2, 36, 30)]
    t = mx.sym.col2im(d, output_size=(5, 6), kernel=(3, 3), pad=(1, 1))
    _, outs, _ = t.infer_shape(data=(2, 36, 30))
    assert outs == [(2, 4, 5, 6)]
    # MXNet 1.9.1 printed: col2im of ones, 3x3 blocks, stride 2, pad 1 on a 5x5 image counts
    # how many blocks cover each pixel.
    z = mx.nd.col2im(mx.nd.ones((1, 9, 9)), output_size=(5, 5), kernel=(3, 3), pad=(1, 1), stride=(2, 2))
    row_a, row_b = [1, 2, 1, 2, 1], [2, 4, 2, 4, 2]
    assert_almost_equal(z.asnumpy()[0, 0], np.array([row_a, row_b, row_a, row_b, row_a], np.float32))


def test_im2col_bad_inputs():
    z = mx.nd.zeros
    with pytest.raises(ERRORS, match="kernel size exceeds input"):
        mx.nd.im2col(z((1, 2, 3, 3)), kernel=(4, 4))
    with pytest.raises(ERRORS, match="stride must be positive"):
        mx.nd.im2col(z((1, 2, 3, 3)), kernel=(2, 2), stride=(0, 1))
    with pytest.raises(ERRORS, match="im2col.*4-D"):
        mx.nd.im2col(z((2, 3, 3)), kernel=(2, 2))
    with pytest.raises(ERRORS, match="same number of dimensions"):
        mx.nd.im2col(z((1, 2, 3, 3)), kernel=(2, 2), pad=(1,))
    with pytest.raises(ERRORS, match="multiple of the kernel size"):
        mx.nd.col2im(z((1, 7, 4)), output_size=(3, 3), kernel=(2, 2))
    with pytest.raises(ERRORS, match="blocks"):
        mx.nd.col2im(z((1, 8, 5)), output_size=(3, 3), kernel=(2, 2))
    with pytest.raises(ERRORS, match="float"):
        mx.nd.im2col(z((1, 2, 3, 3), dtype="int32"), kernel=(2, 2))


# ------------------------------------------------------------------------------ Correlation


def np_correlation(a, b, kernel_size=1, max_displacement=1, stride1=1, stride2=1, pad_size=0, is_multiply=True):
    """FlowNet correlation as MXNet lays it out, in plain loops over padded maps."""
    n, c, h, w = a.shape
    p = pad_size
    pa = np.pad(a, [(0, 0), (0, 0), (p, p), (p, p)]).astype(np.float64)
    pb = np.pad(b, [(0, 0), (0, 0), (p, p), (p, p)]).astype(np.float64)
    border = max_displacement + (kernel_size - 1) // 2
    th = -(-(h + 2 * p - 2 * border) // stride1)
    tw = -(-(w + 2 * p - 2 * border) // stride1)
    r = max_displacement // stride2
    gw = 2 * r + 1
    out = np.zeros((n, gw * gw, th, tw))
    k = kernel_size
    for q, i, j in itertools.product(range(gw * gw), range(th), range(tw)):
        y1, x1 = i * stride1 + max_displacement, j * stride1 + max_displacement
        y2, x2 = y1 + (q // gw - r) * stride2, x1 + (q % gw - r) * stride2
        p1 = pa[:, :, y1 : y1 + k, x1 : x1 + k]
        p2 = pb[:, :, y2 : y2 + k, x2 : x2 + k]
        v = p1 * p2 if is_multiply else np.abs(p1 - p2)
        out[:, q, i, j] = v.reshape(n, -1).sum(1) / (k * k * c)
    return out


CORR_CASES = [
    dict(kernel_size=1, max_displacement=1, stride1=1, stride2=1, pad_size=1, is_multiply=True),
    dict(kernel_size=3, max_displacement=2, stride1=2, stride2=2, pad_size=2, is_multiply=False),
]


@pytest.mark.parametrize(
    "shape,kw",
    [
        ((2, 3, 5, 6), CORR_CASES[0]),
        ((2, 3, 5, 6), CORR_CASES[1]),
        ((1, 4, 9, 7), dict(kernel_size=3, max_displacement=4, stride1=1, stride2=2, pad_size=4)),
        ((1, 2, 6, 6), dict(kernel_size=1, max_displacement=0)),
        ((2, 1, 7, 8), dict(kernel_size=3, max_displacement=2, stride1=3, stride2=1, pad_size=0)),
    ],
)
def test_correlation_matches_numpy(shape, kw):
    rs = np.random.RandomState(sum(shape))
    a, b = rand(rs, *shape, dtype=np.float64), rand(rs, *shape, dtype=np.float64)
    y = mx.nd.Correlation(mx.nd.array(a, dtype=np.float64), mx.nd.array(b, dtype=np.float64), **kw)
    want = np_correlation(a, b, **kw)
    assert y.shape == want.shape
    assert_almost_equal(y.asnumpy(), want, rtol=1e-12, atol=1e-13)


def test_correlation_matches_mxnet_printed():
    a = np.array(MX_CORR_A, np.float32).reshape(2, 3, 5, 6)
    b = np.array(MX_CORR_B, np.float32).reshape(2, 3, 5, 6)
    printed = [
        ((2, 9, 5, 6), MX_CORR_Y0, MX_CORR_GA0, MX_CORR_GB0),
        ((2, 9, 2, 2), MX_CORR_Y1, MX_CORR_GA1, MX_CORR_GB1),
    ]
    for kw, (shape, want, ga, gb) in zip(CORR_CASES, printed):
        xa, xb = mx.nd.array(a), mx.nd.array(b)
        xa.attach_grad()
        xb.attach_grad()
        with mx.autograd.record():
            y = mx.nd.Correlation(xa, xb, **kw)
        assert y.shape == shape
        hg = np.round(np.cos(np.arange(y.size)).reshape(y.shape), 3).astype(np.float32)
        y.backward(mx.nd.array(hg))
        assert_almost_equal(y.asnumpy().ravel(), np.array(want), rtol=1e-4, atol=2e-5)
        assert_almost_equal(xa.grad.asnumpy().ravel(), np.array(ga), rtol=1e-4, atol=2e-5)
        assert_almost_equal(xb.grad.asnumpy().ravel(), np.array(gb), rtol=1e-4, atol=2e-5)


def test_correlation_symbol_and_errors():
    s = mx.sym.Correlation(mx.sym.Variable("a"), mx.sym.Variable("b"), name="corr")
    assert s.list_arguments() == ["a", "b"]
    assert s.list_outputs() == ["corr_output"]
    _, outs, _ = s.infer_shape(a=(1, 1, 7, 8))
    assert outs == [(1, 9, 5, 6)]
    # MXNet 1.9.1 printed (1, 9, 1, 1) for this geometry.
    y = mx.nd.Correlation(
        mx.nd.ones((1, 1, 7, 8)), mx.nd.ones((1, 1, 7, 8)), max_displacement=2, stride1=2, stride2=2, kernel_size=3
    )
    assert y.shape == (1, 9, 1, 1)
    o = mx.nd.ones((1, 1, 5, 5))
    with pytest.raises(ERRORS, match="odd"):
        mx.nd.Correlation(o, o, kernel_size=2)
    with pytest.raises(ERRORS, match="don't fit"):
        mx.nd.Correlation(o, o, max_displacement=4)
    with pytest.raises(ERRORS, match="stride"):
        mx.nd.Correlation(o, o, stride1=0)
    with pytest.raises(ERRORS, match=r"Correlation.*one shape.*\[1,1,5,4\]"):
        mx.nd.Correlation(o, mx.nd.ones((1, 1, 5, 4)))
    with pytest.raises(ERRORS, match="float"):
        mx.nd.Correlation(o.astype("int32"), o.astype("int32"))


# ------------------------------------------------------------------ MXNet 1.9.1 printed values
# Inputs rounded to 2 decimals (seeded), head gradients round(cos(arange(size)), 3) for the
# attention ops and round(sin(arange(size)), 3) for im2col; heads=2;
# Correlation's head gradient round(cos(arange(size)), 3), parameters CORR_CASES.


MX_QKV = [
    -0.85, 0.56, -0.12, 0.45, 0.96, 0.08, 0.0, -0.86, -0.46, -0.0, 0.36, 0.61, -0.24, -0.87,
    -0.42, 0.82, -0.57, -0.1, 0.86, -0.95, 0.2, 0.9, -0.54, 0.1, 0.82, -0.73, 0.05, 0.5, 0.34,
    -0.06, -0.59, -0.02, -0.26, -0.05, -0.27, 0.68, 0.54, -0.37, 0.15, -0.45, -0.09, -0.29,
    0.31, -0.26, -0.08, 0.44, -0.17, 0.81, -0.64, 0.48, -0.16, -0.15, 0.27, 0.05, -0.17, -1.0,
    -0.82, 0.42, 0.05, 0.39, 0.91, 0.37, -0.89, -0.38, 0.19, -0.53, 0.93, 0.89, 0.7, -0.06,
    0.68, -0.74
]

MX_ATT = [
    -0.38, -0.07, 0.48, -0.03, -0.73, -0.31, -0.35, -0.4, -0.67, -0.17, -0.1, 0.55, 0.59, 0.04,
    -0.08, 0.56, 0.77, 0.35, 0.6, 0.88, -0.92, 0.75, -0.45, -0.05, 0.59, 0.43, -0.71, 0.32,
    -0.86, -0.29, 0.63, -0.14, 0.2, 0.46, 0.64, 0.52
]

MX_Q = [
    -0.99, -0.16, -0.07, -0.89, 0.08, 0.22, 0.66, 0.88, -0.74, -0.54, 0.32, -0.74, -0.55, 0.15,
    -0.66, 0.56
]

MX_KV = [
    0.71, -0.93, 0.07, 0.59, 0.95, -0.45, -0.66, 0.75, 0.82, -0.6, -0.12, 0.44, 0.69, -0.66,
    0.33, 0.62, 0.1, -0.67, -0.93, -0.44, 0.62, -0.91, -0.98, -0.28, -0.87, -0.7, -0.95, 0.05,
    0.39, -0.15, -0.73, -0.34, 0.18, 0.88, 0.99, -0.52, -0.98, 0.66, 0.85, -0.08, 0.54, 0.73,
    0.22, 0.75, -0.95, -0.46, -0.45, -0.76
]

MX_ATT2 = [
    0.82, -0.94, 0.35, -0.86, -0.28, -0.16, -0.64, 0.04, 0.07, -0.37, 0.47, -0.68, -0.61,
    -0.29, -0.24, -0.59, 0.84, 0.66, -0.79, -0.26, -0.53, -0.1, -0.45, 0.0
]

MX_SELFQK_OUT = [  # shape (4, 3, 3)
    0.25032, 0.16794, 0.03677, -0.30186, -0.2291, -0.01534, 0.20704, 0.14708, 0.0215, 0.0,
    0.03041, -0.25541, 0.19191, 0.10918, 0.33616, 0.0553, 0.06661, -0.19841, -0.43317, 0.25138,
    0.38481, -0.37491, 0.17501, -0.24042, -0.05572, -0.02121, -0.67211, -0.48295, -0.34422,
    0.46598, -0.12162, -0.09843, 0.16447, 0.69791, 0.22429, 0.42257
]

MX_SELFQK_GRAD0 = [  # shape (3, 2, 12)
    -0.0187, 0.55324, -1.60952, 1.23284, 0.0, 0.0, 0.44825, 0.03085, -0.26075, 1.07946, 0.0,
    0.0, -0.34788, -0.04164, -0.04842, -0.15172, 0.0, 0.0, -0.35706, -0.45371, -0.15236,
    0.15966, 0.0, 0.0, 0.02875, -0.57636, -1.04499, 0.80733, 0.0, 0.0, -0.52071, 0.00862,
    -0.26323, 1.17479, 0.0, 0.0, 0.39211, 0.14367, 0.088, -0.08751, 0.0, 0.0, 0.38283, 0.3473,
    -0.94335, -0.05562, 0.0, 0.0, -0.03828, 0.58754, 0.48078, -0.36088, 0.0, 0.0, 0.58278,
    -0.0478, -0.0241, 0.19008, 0.0, 0.0, -0.42798, -0.24334, 0.14356, 0.05773, 0.0, 0.0,
    -0.40127, -0.23407, -0.86653, -0.21977, 0.0, 0.0
]

MX_SELFVAL_OUT = [  # shape (3, 2, 4)
    -0.259, -0.0022, -0.0067, 0.0428, -0.596, 0.1724, -0.2238, -0.45, -0.3607, 0.0259, 0.1976,
    0.3559, -0.3965, 0.082, -0.1804, -0.1984, -0.6529, -0.0375, 0.0112, 1.0017, -0.5099,
    0.1926, -0.0036, 0.1796
]

MX_SELFVAL_GRAD0 = [  # shape (3, 2, 12)
    0.0, 0.0, 0.0, 0.0, -0.04032, -0.08162, 0.0, 0.0, 0.0, 0.0, -0.05469, 0.7245, 0.0, 0.0,
    0.0, 0.0, 0.48132, 0.52733, 0.0, 0.0, 0.0, 0.0, -0.06649, -0.4827, 0.0, 0.0, 0.0, 0.0,
    0.41978, 0.73723, 0.0, 0.0, 0.0, 0.0, 0.51624, 0.86069, 0.0, 0.0, 0.0, 0.0, -0.77988,
    -0.39387, 0.0, 0.0, 0.0, 0.0, -1.48478, -0.88316, 0.0, 0.0, 0.0, 0.0, 1.16712, 0.72586,
    0.0, 0.0, 0.0, 0.0, 0.06932, -0.19867, 0.0, 0.0, 0.0, 0.0, 0.2698, 0.08245, 0.0, 0.0, 0.0,
    0.0, -0.771, -0.64782
]

MX_SELFVAL_GRAD1 = [  # shape (4, 3, 3)
    1.0032, 0.3076, 0.297, -0.21304, 0.00502, -0.08497, -0.94168, -0.30922, -0.27241, -0.75366,
    -0.56088, -0.4069, -0.2996, 0.22925, -0.04039, 0.84089, 0.49432, 0.41871, 0.34438, -0.0235,
    -0.27478, -0.57178, -0.33899, -0.32035, -0.17776, 0.1222, 0.36796, -0.443, 0.44754,
    0.09484, -0.14998, -0.63889, 0.65556, 0.4867, -0.26173, -0.28558
]

MX_ENCQK_OUT = [  # shape (4, 2, 3)
    -0.39181, 0.0058, -0.22557, -0.0164, 0.20351, -0.4302, 0.23617, 0.542, -0.36685, 0.45043,
    0.61646, -0.5671, -0.04695, -0.15811, 0.14411, -0.38254, 0.2641, -0.13258, -0.08867,
    0.08867, -0.72959, -0.58336, -0.24141, 0.26121
]

MX_ENCQK_GRAD0 = [  # shape (2, 2, 4)
    0.48728, -1.1723, 1.07661, -0.85878, -0.01628, -0.7363, 0.32068, -0.54562, -0.50712,
    1.13759, -0.98256, 0.83161, 0.04367, 0.65467, -0.1851, 0.53518
]

MX_ENCQK_GRAD1 = [  # shape (3, 2, 8)
    -0.18201, 0.26488, 0.0, 0.0, -0.25365, -0.12746, 0.0, 0.0, 0.34331, 0.05069, 0.0, 0.0,
    0.56376, 0.19369, 0.0, 0.0, -0.03581, 0.18863, 0.0, 0.0, -0.22717, -0.0355, 0.0, 0.0,
    0.42388, 0.03948, 0.0, 0.0, 0.92825, 0.21943, 0.0, 0.0, 0.14261, -0.06138, 0.0, 0.0,
    0.00813, 0.08979, 0.0, 0.0, 0.1147, -0.00786, 0.0, 0.0, 0.43916, 0.04282, 0.0, 0.0
]

MX_ENCVAL_OUT = [  # shape (2, 2, 4)
    1.2781, 0.7154, 0.4427, -0.4968, 0.2959, -0.4629, 0.1676, 0.0014, 0.0418, -0.301, -0.7944,
    -0.3547, -0.582, 0.2774, 0.2955, 0.091
]

MX_ENCVAL_GRAD0 = [  # shape (3, 2, 8)
    0.0, 0.0, 0.94556, 1.22626, 0.0, 0.0, 0.57667, 0.63212, 0.0, 0.0, -0.09902, -0.70837, 0.0,
    0.0, -0.7721, -0.51966, 0.0, 0.0, -0.89912, -0.25252, 0.0, 0.0, -0.41097, -0.03772, 0.0,
    0.0, 0.89862, 0.67952, 0.0, 0.0, -0.31125, 0.14596, 0.0, 0.0, 0.37336, 0.33476, 0.0, 0.0,
    0.5414, -0.07202, 0.0, 0.0, 0.714, 0.53046, 0.0, 0.0, -0.5088, -0.39962
]

MX_ENCVAL_GRAD1 = [  # shape (4, 2, 3)
    0.3886, -1.1676, 0.7092, -0.54771, 0.53662, 0.32918, -0.46794, 0.68488, -0.2744, 0.55674,
    0.8211, -0.71347, 0.20344, 0.6355, 0.06912, 0.2978, -0.75645, 0.86593, 0.78428, -0.95716,
    -1.00504, -0.42599, 0.15839, 0.51595
]

MX_IM_X = [  # shape (2, 2, 4, 5)
    0.1, 0.42, -0.42, 0.02, 0.79, 0.79, -0.75, -0.59, -0.9, -0.12, -0.94, -0.09, 0.3, -0.44,
    0.35, 0.18, -0.95, 0.12, -0.48, -0.17, -0.43, 0.39, -0.12, -0.69, 0.09, 0.56, -0.39, -0.56,
    -0.22, 0.87, 0.95, 0.34, 0.81, 0.69, -0.24, -0.82, 0.31, 0.12, -0.28, -0.55, -0.19, -0.06,
    -0.46, -0.42, -0.08, 0.72, 0.17, -0.43, -0.44, -0.09, -0.59, -0.6, 0.03, -0.83, -0.03,
    -0.28, 0.42, 0.49, 0.38, 0.38, -0.25, 0.34, -0.32, 0.15, -0.35, -0.11, -0.88, -0.51, 0.94,
    -0.54, 0.38, 0.3, 0.45, -0.05, 0.19, -0.87, -0.85, -0.6, -0.7, -0.8
]

MX_IM_GRAD = [  # shape (2, 2, 4, 5)
    0.65, 0.199, -0.288, -0.688, -0.961, -1.519, -1.28, -0.804, -0.085, 0.651, 1.507, 1.368,
    0.978, 0.29, -0.45, -0.559, -0.859, -1.0, -0.838, -0.522, -0.822, -0.433, 0.035, 0.494,
    0.86, 1.475, 1.421, 1.105, 0.454, -0.28, -1.408, -1.46, -1.241, -0.646, 0.067, 0.33, 0.717,
    0.973, 0.933, 0.721, 0.94, 0.639, 0.219, -0.266, -0.702, -1.333, -1.468, -1.333, -0.794,
    -0.107, 1.217, 1.455, 1.423, 0.961, 0.32, -0.08, -0.529, -0.882, -0.967, -0.873, -0.996,
    -0.802, -0.46, 0.021, 0.499, 1.105, 1.421, 1.475, 1.081, 0.489, -0.947, -1.353, -1.512,
    -1.211, -0.686, -0.176, 0.307, 0.733, 0.937, 0.968
]
MX_CORR_A = [  # shape (2, 3, 5, 6)
    -0.56, 0.74, -0.59, 0.84, -0.02, 0.22, 0.53, 0.04, -0.41, -0.62, -0.84, 0.48, -0.12, -0.68,
    0.76, -0.45, -0.17, -0.41, 0.26, 0.16, 0.2, -0.47, -0.43, -0.49, -0.34, -0.71, -0.67, 0.93,
    0.92, -0.62, -0.95, -0.59, 0.4, 0.56, -0.95, 0.16, -1.0, 0.03, 0.28, 0.97, -0.48, 0.6,
    0.74, 0.85, -1.0, -0.06, 0.96, -0.2, 0.63, 0.09, 0.54, -0.03, -0.94, -0.83, -0.78, -0.5,
    0.93, 0.26, 0.63, 0.13, 0.27, 0.62, 0.85, 0.83, 0.65, -0.81, -0.28, -0.93, 0.09, 0.59,
    -0.9, -0.62, -0.27, -0.51, 0.59, -0.3, 0.28, -0.01, 0.17, 0.88, 0.89, -0.78, 0.69, -0.31,
    -0.8, -0.23, 0.02, 0.92, -0.26, -0.98, 0.72, -0.78, -0.04, 0.7, 0.03, -0.11, 0.6, -0.96,
    0.15, -0.18, 0.97, 0.6, -0.89, -0.62, -0.1, 0.41, -0.34, -0.28, 0.84, 0.91, -0.18, 0.8,
    -0.34, -0.83, 0.05, 0.32, 0.79, 0.93, 0.54, 0.52, 0.42, 0.4, 0.53, 0.95, -0.25, -0.83,
    -0.52, -0.56, -0.27, 0.62, -0.88, -0.1, 0.63, -0.47, -0.87, -0.52, -0.83, 0.62, -0.66,
    -0.61, 0.63, 0.62, 0.18, 0.83, -0.88, 0.93, 0.14, -0.39, 0.65, 0.32, 0.97, -0.79, 0.16,
    -0.05, 0.3, -0.52, -0.94, 0.09, -0.27, 0.78, -0.08, -0.16, 0.27, 0.05, 0.92, 0.58, -0.01,
    -0.58, 0.21, 0.5, 0.51, 0.99, -0.56, -0.15, -0.15, -0.36, -0.27, -0.04, 0.08, -0.47
]

MX_CORR_B = [  # shape (2, 3, 5, 6)
    -0.73, -0.4, -0.73, -0.36, 0.36, 0.2, 0.99, 0.12, 0.1, 0.28, 0.45, 0.23, 0.18, 0.21, -0.29,
    0.55, 0.21, -0.38, -0.51, -0.86, -0.3, -0.97, -0.67, -0.88, -0.44, -0.3, 0.18, 0.55, 0.25,
    -0.68, 0.79, 0.46, -0.0, 0.29, 0.02, -0.66, 0.28, 0.98, 0.54, -0.64, -0.76, 0.86, 0.82,
    0.5, 0.52, -0.71, 0.62, -0.62, -0.69, -0.19, -1.0, 0.69, -0.68, 0.48, 0.17, 0.54, 0.2,
    0.92, -0.24, -0.01, -0.32, 0.49, -0.4, 0.6, -0.83, -0.53, -0.12, -0.75, -0.59, 0.68, -0.26,
    -0.56, 0.69, 0.15, 0.27, 0.78, 0.43, -0.47, -0.98, 0.1, 0.42, 0.61, -0.62, 0.27, 0.88,
    -0.48, -0.42, -0.15, 0.14, 0.98, 0.18, 0.78, 0.31, -0.05, -0.39, -0.3, 0.55, -0.64, -0.72,
    -0.57, 0.34, -0.26, -0.59, -0.34, -0.84, -0.13, 0.62, -0.11, -0.11, -0.94, -0.44, -0.85,
    -0.9, 0.73, 0.43, 0.66, -0.73, -0.27, 0.83, -0.13, 0.85, 0.92, -0.99, -0.13, 0.17, -0.3,
    -0.25, -0.29, -0.54, -0.95, 0.46, 1.0, -0.92, 0.72, 0.09, -0.96, -0.86, 0.05, -0.79, -0.41,
    -0.45, 0.94, -0.06, -0.43, 0.88, 0.93, 0.44, -0.73, 0.78, -0.12, 0.57, 0.44, 0.31, 0.53,
    0.62, -0.08, -0.03, -0.81, -0.26, 0.77, -0.56, 0.5, 0.61, -0.61, 0.53, 0.31, 0.95, -0.22,
    0.51, 0.69, -0.24, -0.55, -0.26, 0.31, -0.49, 0.72, -0.41, 0.53, -0.36, 0.01
]

MX_CORR_Y0 = [  # shape (2, 9, 5, 6)
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.09737, 0.1123, 0.0722, -0.1256, 0.23313, 0.0,
    -0.12467, -0.44377, 0.0332, -0.1572, -0.00997, 0.0, 0.2366, 0.1485, -0.02997, 0.32303,
    -0.25027, 0.0, 0.31083, 0.13383, -0.05087, -0.20543, 0.31153, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    -0.36243, -0.15263, 0.08777, 0.28617, 0.145, 0.00953, 0.04027, 0.37797, -0.2707, -0.0972,
    -0.29297, -0.0869, 0.2269, 0.0702, 0.15437, -0.28187, -0.12547, 0.28217, 0.49853, 0.22753,
    -0.2402, -0.05383, -0.29453, 0.11447, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.26973, 0.11427,
    0.09427, -0.23117, 0.2086, 0.0, 0.30443, 0.23063, 0.418, -0.0263, 0.2099, 0.0, 0.1317,
    0.07933, 0.14027, -0.1509, 0.14063, 0.0, 0.1202, 0.20547, 0.4346, -0.45677, -0.19247, 0.0,
    0.0, -0.40157, 0.27883, -0.31507, 0.04057, 0.25157, 0.0, 0.0532, 0.05257, 0.0379, -0.18,
    -0.02627, 0.0, 0.07423, -0.08397, 0.0061, -0.18557, -0.07147, 0.0, -0.33537, -0.06187,
    -0.0522, 0.06313, 0.36163, 0.0, 0.00833, 0.2312, -0.05567, 0.37487, -0.1078, -0.1427,
    -0.08787, 0.03023, 0.11933, -0.18857, 0.12257, 0.09277, 0.2439, 0.01903, -0.13107, 0.0736,
    0.32453, 0.13297, 0.06857, -0.1937, -0.1463, 0.22663, 0.09483, -0.24463, -0.02223, -0.0754,
    -0.01353, 0.1665, -0.01697, -0.229, 0.0178, 0.019, 0.20423, 0.01413, -0.18003, -0.0269,
    -0.26273, 0.27947, -0.1251, 0.09283, 0.0, -0.23547, 0.18963, -0.0776, -0.38987, -0.034,
    0.0, 0.10143, 0.16717, 0.5294, -0.0869, -0.22073, 0.0, -0.10877, 0.0772, 0.2405, 0.27297,
    0.03783, 0.0, 0.0216, -0.04373, 0.16137, 0.09963, -0.29557, 0.0, 0.0, 0.16433, -0.10543,
    -0.03443, 0.34813, 0.06267, 0.0, -0.2033, 0.02247, 0.28117, -0.2744, 0.06873, 0.0, 0.0867,
    -0.13487, 0.023, 0.3327, 0.13897, 0.0, 0.23977, -0.0652, 0.079, -0.4016, 0.0111, 0.0, 0.0,
    0.0, 0.0, 0.0, 0.0, -0.28427, -0.31813, -0.11483, 0.14707, 0.18133, 0.21393, -0.30593,
    -0.0387, 0.09627, -0.18983, -0.287, -0.08767, -0.0616, 0.1241, 0.33993, 0.0707, -0.2375,
    0.08737, 0.04743, -0.1406, -0.0766, -0.05637, 0.07157, 0.01257, 0.0, 0.0, 0.0, 0.0, 0.0,
    0.0, -0.40023, -0.20347, 0.05227, -0.0878, -0.3952, 0.0, -0.14357, -0.08237, -0.11803,
    0.24163, 0.3466, 0.0, -0.02147, -0.28673, -0.35577, 0.1761, 0.22867, 0.0, 0.0602, -0.1076,
    0.15777, -0.07317, 0.326, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    0.0, -0.19917, -0.0834, -0.1426, 0.00783, -0.11673, 0.0, -0.075, -0.14297, -0.05507,
    0.32487, 0.1716, 0.0, 0.10977, 0.0679, -0.0305, -0.10073, -0.45697, 0.0, -0.31783,
    -0.32877, -0.0747, 0.036, -0.12167, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.28993, -0.40813,
    0.0767, 0.11393, -0.1925, -0.04573, -0.21837, 0.1642, 0.10087, 0.23563, -0.16393, 0.13427,
    0.0799, -0.3512, 0.1594, -0.13077, -0.2992, 0.05527, 0.2044, -0.31017, -0.11527, -0.37837,
    -0.18193, 0.0321, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.14133, 0.0949, -0.0385, 0.21973,
    -0.00687, 0.0, 0.05607, 0.22907, 0.53063, -0.14153, -0.24887, 0.0, -0.2963, -0.18477,
    -0.1411, 0.3011, 0.05653, 0.0, 0.0701, -0.15763, -0.13047, -0.26773, 0.0465, 0.0, 0.0,
    -0.08357, 0.1756, -0.24633, 0.06333, -0.1402, 0.0, -0.13023, 0.067, -0.136, 0.07383,
    0.08253, 0.0, 0.27623, -0.38453, -0.02793, 0.2793, -0.41927, 0.0, 0.21227, 0.0876,
    -0.28953, 0.2554, 0.2454, 0.0, 0.37747, 0.1524, -0.27803, -0.19263, 0.28347, 0.3465,
    -0.196, -0.1625, -0.06167, 0.04393, 0.10787, 0.16273, 0.23463, 0.036, 0.03807, -0.01007,
    -0.112, 0.03673, -0.0527, 0.16443, 0.20857, 0.1645, 0.06313, 0.1787, -0.08677, -0.1089,
    -0.2139, 0.14693, -0.33643, -0.22647, 0.2723, -0.1348, 0.00413, 0.3088, -0.0369, 0.45827,
    -0.29423, 0.00597, -0.0475, 0.014, 0.0, 0.17607, 0.3234, -0.0123, -0.07093, -0.39073, 0.0,
    0.19717, 0.16833, 0.3778, 0.41747, -0.00063, 0.0, -0.1247, -0.08197, 0.1549, -0.3382,
    -0.1664, 0.0, -0.2978, 0.10773, -0.15287, 0.1607, -0.04913, 0.0, 0.0, -0.16843, -0.0859,
    -0.33467, 0.15047, -0.04267, 0.0, 0.37883, -0.0269, 0.2068, 0.2313, 0.102, 0.0, 0.155,
    0.36183, -0.02853, -0.1619, 0.12187, 0.0, -0.13017, 0.2781, -0.23903, -0.11213, 0.00417,
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0873, 0.34103, -0.09967, -0.44667, -0.09093, -0.3538,
    -0.14967, -0.0439, -0.0978, -0.11, 0.4274, -0.01193, -0.08737, 0.27, 0.07157, -0.38543,
    0.11947, -0.21693, -0.1075, 0.1311, 0.0665, -0.04797, 0.01993, 0.00227, 0.0, 0.0, 0.0, 0.0,
    0.0, 0.0, -0.4561, 0.18367, -0.11917, 0.23433, -0.03593, 0.0, -0.00167, 0.2679, 0.052,
    0.03207, -0.04437, 0.0, 0.25487, 0.15743, -0.41293, -0.16287, 0.0352, 0.0, 0.0306,
    -0.37923, -0.047, 0.26373, 0.00567, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
]

MX_CORR_GA0 = [
    -0.56995, 0.07051, 0.19571, -0.01086, -0.03568, 0.01461, 0.49219, -0.4495, -0.35135,
    0.14705, 0.06471, -0.0018, -0.23634, 0.52592, 0.32354, -0.02571, -0.21529, -0.15874,
    -0.30101, 0.15391, -0.31181, 0.54321, 0.17946, -0.3867, 0.24322, -0.08108, 0.13841,
    -0.53801, 0.05656, 0.52132, 0.34552, -0.63263, 0.4602, -0.01977, 0.26656, 0.12589,
    -0.04483, 0.27776, -0.18, 0.20037, -0.4551, -0.10345, 0.0185, 0.30894, -0.29607, -0.3476,
    0.29172, 0.16766, -0.38385, -0.19824, 0.41757, -0.03287, 0.2932, -0.11086, 0.21991,
    0.27919, -0.27724, -0.15464, 0.04621, -0.02731, -0.0188, 0.29313, -0.37367, 0.02769,
    0.17244, -0.29685, -0.44173, -0.16878, 0.17358, -0.16065, 0.43645, -0.20099, 0.68559,
    -0.08153, -0.3114, 0.28786, -0.24274, 0.48519, -0.72683, 0.47341, 0.27726, -0.23898,
    -0.32749, 0.13348, 0.55979, -0.78154, 0.15682, 0.18768, -0.34033, 0.05533, -0.048, 0.42668,
    -0.23595, -0.30871, 0.20788, -0.30527, -0.12601, -0.13123, 0.38333, -0.46493, 0.0766,
    0.02904, -0.37035, 0.41947, 0.0064, 0.37785, -0.54358, 0.56725, 0.48742, -0.65207, 0.07117,
    -0.07529, 0.23267, -0.51943, 0.20106, 0.23837, -0.55183, 0.0566, 0.14807, 0.35034, 0.44707,
    -0.40153, 0.26684, -0.49152, 0.32211, -0.029, -0.15072, 0.30008, 0.09677, 0.73285,
    -1.05584, 0.5883, -0.19516, 0.63502, -0.96088, 0.22735, 0.77136, -0.77659, 0.13223,
    -0.80849, 0.8171, -0.74504, 0.56865, 0.09004, 0.38281, 0.23601, -0.87445, 0.51572,
    -0.67658, 0.34622, 0.13058, 0.23369, -0.58366, -0.02455, -0.00398, 0.37768, -0.55906,
    0.15114, 0.29446, -0.06288, 0.18321, -0.37821, 0.59146, -0.45105, 0.40714, -0.10245,
    -0.36976, 0.3508, 0.34052, -0.08401, -0.29725, 0.3724, -0.17365, -0.2219, -0.52808,
    0.39883, 0.13724, -0.2833, 0.36155, -0.09612
]

MX_CORR_GB0 = [
    -0.40969, -0.16597, 0.55161, -0.2061, -0.12915, -0.27072, 0.21645, -0.32204, 0.68985,
    0.32131, 0.03724, 0.46677, 0.00873, -0.42277, -0.33113, 0.32314, -0.36676, 0.02447,
    -0.02045, 0.26809, -0.21121, -0.08778, 0.44407, 0.46498, -0.06684, 0.10993, -0.58401,
    -0.55848, -0.2487, -0.19677, -0.01207, 0.03218, -0.45957, -0.16311, 0.38665, 0.05938,
    0.0453, -0.15993, -0.32232, -0.68651, -0.44209, 0.45405, 0.16021, 0.28908, 0.82469,
    0.35345, -0.61157, -0.29171, 0.05714, -0.12782, 0.5427, 0.19144, 0.38959, 0.32255,
    -0.23501, -0.1038, -0.28279, -0.03748, -0.28511, -0.25084, -0.35396, -0.27278, 0.05445,
    0.3834, 0.0138, -0.41491, 0.07343, 0.00551, 0.12684, -0.64611, 0.05592, 0.30784, 0.34063,
    0.14627, 0.21846, -0.06254, -0.50588, 0.06239, 0.1106, 0.33343, 0.10259, 0.80217, 0.24383,
    -0.00914, -0.35887, -0.06067, -0.70777, -0.35774, 0.41858, -0.04781, 0.1318, -0.2894,
    0.09451, -0.53091, -0.39773, 0.01135, 0.19636, 0.41455, 0.04296, 0.72096, 0.11818,
    -0.23585, -0.15292, 0.18667, -0.68835, 0.13466, 0.5978, 0.33533, 0.39131, 0.33952, 0.23343,
    -0.32858, -0.21962, 0.11244, -0.20758, -0.15783, 0.2759, -0.01336, -0.13971, -0.33106,
    -0.10943, 0.01171, -0.09196, 0.04816, 0.00851, -0.29139, -0.3679, -0.28361, -0.04772,
    -0.28892, -0.11113, -0.32348, 0.39695, 0.44361, 0.60652, -0.07818, -0.09279, 0.03752,
    0.43638, -0.00497, -0.51291, -0.23929, 0.02048, 0.30504, -0.13528, 0.43242, 0.20321,
    0.03711, -0.41521, 0.12111, 0.66515, 0.43409, -0.62989, 0.2468, 0.10746, -0.18185, -0.6706,
    0.47199, 0.30784, -0.28419, 0.42396, 0.15383, 0.37132, -0.54919, -0.00801, 0.70069,
    -0.12151, -0.20648, -0.11121, 0.1682, -0.07545, -0.36538, 0.28615, 0.08442, -0.1273,
    -0.02768, 0.16312, -0.34482, -0.63524, 0.09532
]

MX_CORR_Y1 = [  # shape (2, 9, 2, 2)
    0.61185, 0.68963, 0.61481, 0.73852, 0.5563, 0.67667, 0.67852, 0.65741, 0.57296, 0.61481,
    0.65074, 0.71444, 0.57481, 0.62222, 0.62519, 0.61222, 0.64074, 0.7063, 0.75593, 0.72185,
    0.78481, 0.70259, 0.82333, 0.67148, 0.58741, 0.61667, 0.54185, 0.58926, 0.64778, 0.53074,
    0.53148, 0.63667, 0.54407, 0.61741, 0.48778, 0.56296, 0.53519, 0.46815, 0.63593, 0.80704,
    0.55852, 0.40481, 0.65, 0.63852, 0.55741, 0.43, 0.73407, 0.53667, 0.48667, 0.53333,
    0.48185, 0.63852, 0.62889, 0.60926, 0.66593, 0.62667, 0.51, 0.43481, 0.65185, 0.45593,
    0.68074, 0.69444, 0.5763, 0.60111, 0.68556, 0.73667, 0.66259, 0.59185, 0.72556, 0.64741,
    0.55259, 0.56259
]

MX_CORR_GA1 = [
    -0.06996, 0.02922, 0.00074, 0.00841, 0.13219, 0.0, 0.10019, 0.06996, 0.128, 0.00863,
    -0.00841, 0.0, -0.16307, -0.009, -0.01285, -0.04607, -0.00059, 0.0, -0.09133, 0.04193,
    0.11552, 0.00774, 0.10352, 0.0, 0.06911, 0.02022, 0.05048, -0.03026, -0.03026, 0.0,
    -0.02922, 0.03256, -0.13096, 0.00841, -0.00841, 0.0, 0.03256, 0.03841, 0.12896, -0.05878,
    -0.01078, 0.0, 0.00841, 0.01011, 0.01285, -0.07252, -0.02185, 0.0, -0.02022, -0.01726,
    -0.05048, 0.02981, -0.02604, 0.0, 0.02022, -0.04193, -0.05048, 0.02611, -0.03026, 0.0,
    0.10056, -0.03256, 0.03763, 0.00841, 0.00841, 0.0, -0.07033, -0.02922, 0.16437, 0.08419,
    -0.00841, 0.0, -0.06041, -0.009, -0.22752, -0.07363, -0.07474, 0.0, 0.05385, -0.02022,
    -0.05048, 0.03026, -0.03026, 0.0, 0.02022, 0.06911, 0.14826, 0.00922, -0.02604, 0.0, 0.005,
    -0.005, -0.00548, 0.00581, 0.04744, 0.0, 0.005, -0.005, -0.07163, -0.06789, 0.02811, 0.0,
    -0.03037, -0.03037, -0.21389, -0.10293, 0.07174, 0.0, 0.02537, 0.02537, -0.1213, -0.00067,
    0.07704, 0.0, 0.08678, 0.08678, 0.073, -0.00067, -0.04341, 0.0, 0.01707, -0.01196, 0.05822,
    0.02811, -0.04744, 0.0, 0.08722, 0.05819, -0.21541, 0.00307, -0.02811, 0.0, 0.15444,
    0.12111, -0.06752, -0.17381, -0.01737, 0.0, -0.08678, -0.05737, 0.0247, 0.07119, -0.04178,
    0.0, -0.055, 0.02537, 0.00633, 0.04341, -0.0023, 0.0, 0.005, -0.005, 0.00452, 0.093,
    0.13456, 0.0, -0.005, -0.08722, 0.09674, 0.02811, -0.13456, 0.0, 0.06881, -0.03911,
    -0.02374, -0.02648, -0.05352, 0.0, 0.08678, 0.11878, 0.0247, -0.00067, 0.04178, 0.0,
    -0.07796, -0.055, -0.00633, -0.05304, -0.06156, 0.0
]

MX_CORR_GB1 = [
    -0.04567, -0.00344, 0.00033, -0.00296, 0.09315, -0.0133, 0.01285, -0.07411, -0.09626,
    0.00178, -0.01837, -0.02015, -0.05259, 0.06559, 0.00096, -0.05767, 0.03226, -0.0397,
    -0.01811, 0.00267, -0.10974, -0.00278, -0.03796, 0.02022, -0.08311, 0.04852, 0.1013,
    -0.06804, -0.0527, 0.0537, 0.04567, -0.09707, 0.1973, 0.10022, -0.11352, 0.05389, -0.08381,
    -0.003, -0.06604, -0.00178, 0.07422, 0.02044, 0.13511, -0.057, -0.02178, -0.00456, -0.0827,
    0.04037, -0.08944, 0.00267, -0.00011, 0.05819, 0.0907, -0.01926, 0.14304, 0.05215,
    -0.11907, 0.00522, -0.02056, -0.01422, -0.04567, -0.00344, 0.00033, -0.00296, 0.047,
    0.05389, -0.08381, -0.1413, 0.06841, 0.06393, -0.002, 0.02044, -0.07385, 0.06559, -0.05126,
    0.00411, 0.0827, 0.04037, -0.01811, -0.12496, -0.06574, 0.07685, -0.03796, -0.01926,
    0.03696, -0.05215, -0.07152, -0.06804, 0.00819, -0.0537, 0.02281, 0.00381, -0.05674,
    0.10263, -0.01867, -0.01604, 0.05356, -0.01226, -0.00233, 0.06104, 0.06674, 0.00341,
    -0.08756, -0.04637, 0.06722, 0.10174, 0.11315, -0.00481, 0.12422, 0.0273, -0.00244,
    0.03189, -0.00893, 0.06533, -0.09978, -0.05374, 0.0733, 0.07452, 0.00174, 0.00322, 0.01074,
    -0.01848, -0.00644, 0.00744, -0.11119, -0.05063, -0.07867, -0.04189, -0.01204, -0.00215,
    0.10422, -0.00341, -0.01407, 0.05067, -0.11848, -0.00285, 0.07389, -0.06874, -0.00222,
    -0.03411, 0.01985, 0.0007, 0.05559, -0.00822, 0.02667, 0.06263, -0.12826, -0.00496,
    0.00174, -0.00322, -0.11489, -0.07263, 0.0543, 0.03463, 0.01119, -0.01604, -0.04904,
    -0.00019, 0.00056, 0.02904, 0.00126, 0.00341, -0.1163, 0.02711, 0.11204, 0.06922, 0.00767,
    -0.00481, -0.12422, -0.03411, 0.07252, -0.0007, 0.09885, -0.00822, -0.02667, 0.00122,
    -0.00619, 0.08496, -0.00174, -0.05389
]
