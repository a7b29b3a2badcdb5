"""bfloat16 arrays (MXNet's type flag 12) against a numpy model of the format: float32 with the
low 16 bits dropped after rounding to nearest even, and against a file MXNet 1.9.1 wrote."""
import pickle

import numpy as np
import pytest

import oxnet as mx

BF16 = np.dtype([("bfloat16", np.uint16)])  # MXNet's numpy stand-in for bfloat16


def round_bits(x):
    """float32 -> bfloat16 bits, nearest even (quiet NaN kept NaN), computed independently."""
    u = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(np.asarray(x, np.float32))
    return np.where(nan, ((u >> 16) | 0x40).astype(np.uint16), rounded)


def widen(bits):
    return (np.asarray(bits, np.uint16).astype(np.uint32) << 16).view(np.float32)


def bits_of(a):
    assert a.dtype == BF16
    return a.asnumpy().view(np.uint16)


def values(a):
    return widen(bits_of(a))


def as_bf16(x):
    """numpy float32 values rounded to bfloat16, as float32."""
    return widen(round_bits(x))


# Written by MXNet 1.9.1: mx.nd.save(f, {'arg:w': mx.nd.array([[1.5, -2.25, 3.1],
# [1e-3, 65504, -0.0]]).astype(bf16), 'aux:f': mx.nd.array([0.5, 7.0])}).
MXNET_FILE = bytes.fromhex(
    "120100000000000000000000000000000200000000000000c9fa93f900000000"
    "020000000200000000000000030000000000000001000000000000000c000000"
    "c03f10c04640833a7f470080c9fa93f900000000010000000200000000000000"
    "0100000000000000000000000000003f0000e040020000000000000005000000"
    "000000006172673a7705000000000000006175783a66")
# MXNet truncates on conversion (its mshadow bf16_t); these bits are what it stored.
MXNET_BITS = [[0x3FC0, 0xC010, 0x4046], [0x3A83, 0x477F, 0x8000]]


def test_conversion_rounds_to_nearest_even():
    rng = np.random.default_rng(0)
    x = np.concatenate([
        rng.standard_normal(5000).astype(np.float32) * np.float32(10.0) ** rng.integers(-30, 30, 5000),
        np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 3.3895314e38, -3.4e38, 1e-40, -1e-42,
                  1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -10, 65504.0], np.float32)])
    a = mx.nd.array(x).astype("bfloat16")
    got = bits_of(a)
    want = round_bits(x)
    finite = ~np.isnan(x)
    np.testing.assert_array_equal(got[finite], want[finite])
    assert np.isnan(widen(got[~finite])).all()
    # widening is exact
    np.testing.assert_array_equal(a.astype(np.float32).asnumpy()[finite], widen(want)[finite])
    # ties go to even: 1 + 2^-8 is halfway between 1 and 1 + 2^-7
    assert list(got[-4:-1]) == [0x3F80, 0x3F82, 0x3F81]


def test_float64_rounds_once_into_half_types():
    # Just above, at and just below ties between neighbours: rounding through float32 first
    # would turn the first and last into ties (float16) or lose their sticky bits (bfloat16).
    rng = np.random.default_rng(3)
    lo16 = np.abs(rng.standard_normal(300) * 100).astype(np.float16)
    hi16 = np.nextafter(lo16, np.float16(np.inf))
    lo_b = np.abs(rng.standard_normal(300) * 100).astype(np.float32)
    lo_b = widen(round_bits(lo_b))
    hi_b = widen(round_bits(lo_b) + 1)
    for dtype, lo, hi in (("float16", lo16, hi16), ("bfloat16", lo_b, hi_b)):
        lo, hi = lo.astype(np.float64), hi.astype(np.float64)
        mid, nudge = (lo + hi) / 2, (hi - lo) * 2.0 ** -30
        for v, want in ((mid + nudge, hi), (mid - nudge, lo)):
            got = mx.nd.array(v, dtype="float64").astype(dtype).astype("float32").asnumpy()
            np.testing.assert_array_equal(got, want.astype(np.float32), err_msg=dtype)
            direct = mx.nd.array(v, dtype=dtype).astype("float32").asnumpy()
            np.testing.assert_array_equal(direct, want.astype(np.float32), err_msg=dtype)
    # and float16 agrees with numpy's own float64 -> float16 rounding everywhere
    v = rng.standard_normal(10_000) * 10.0 ** rng.integers(-9, 6, 10_000)
    got = mx.nd.array(v, dtype="float64").astype("float16").asnumpy()
    with np.errstate(over="ignore"):  # the largest overflow to inf, in both
        np.testing.assert_array_equal(got, v.astype(np.float16))


def test_dtype_spellings_and_creation():
    for spelling in ("bfloat16", BF16):
        z = mx.nd.zeros((2, 3), dtype=spelling)
        assert z.dtype == BF16 and z.dtype != np.float16
        assert bits_of(z).tolist() == [[0] * 3] * 2
    assert values(mx.nd.ones((2,), dtype="bfloat16")).tolist() == [1.0, 1.0]
    assert values(mx.nd.full((2,), 3.3, dtype="bfloat16")).tolist() == [3.296875] * 2
    assert values(mx.nd.arange(0, 4, dtype="bfloat16")).tolist() == [0, 1, 2, 3]
    assert values(mx.nd.array([1.1, 2.2], dtype="bfloat16")).tolist() == [1.1015625, 2.203125]
    assert mx.nd.empty((3,), dtype="bfloat16").dtype == BF16
    # a numpy array of the stand-in type is taken bit for bit, and converts by value
    raw = np.array([0x3FC0, 0x4049], np.uint16).view(BF16)
    assert bits_of(mx.nd.array(raw, dtype=BF16)).tolist() == [0x3FC0, 0x4049]
    assert mx.nd.array(raw).asnumpy().tolist() == [1.5, 3.140625]  # default float32, by value
    assert mx.nd.array(raw).dtype == np.float32


def test_loads_and_saves_mxnet_file(tmp_path):
    p = tmp_path / "mx.params"
    p.write_bytes(MXNET_FILE)
    d = mx.nd.load(str(p))
    assert d["arg:w"].dtype == BF16 and d["aux:f"].dtype == np.float32
    assert bits_of(d["arg:w"]).tolist() == MXNET_BITS
    assert d["aux:f"].asnumpy().tolist() == [0.5, 7.0]
    q = tmp_path / "ox.params"
    mx.nd.save(str(q), d)
    assert q.read_bytes() == MXNET_FILE
    # a bfloat16 array is also listed in a .params file's header as the dtype it is
    lst = mx.nd.load_frombuffer(MXNET_FILE)
    assert bits_of(lst["arg:w"]).tolist() == MXNET_BITS


def test_elementwise_computes_in_float32_and_rounds_once():
    rng = np.random.default_rng(1)
    xa = as_bf16(rng.uniform(-4, 4, (3, 5)).astype(np.float32))
    xb = as_bf16(rng.uniform(0.5, 4, (3, 5)).astype(np.float32))
    a, b = mx.nd.array(xa, dtype="bfloat16"), mx.nd.array(xb, dtype="bfloat16")
    cases = {
        "add": (a + b, xa + xb), "sub": (a - b, xa - xb), "mul": (a * b, xa * xb),
        "div": (a / b, xa / xb), "scalar": (a * 3 + 1, (xa * np.float32(3)) + np.float32(1)),
        "rsub": (1 - a, np.float32(1) - xa), "maximum": (mx.nd.maximum(a, b), np.maximum(xa, xb)),
        "sqrt": (mx.nd.sqrt(b), np.sqrt(xb)), "exp": (mx.nd.exp(a), np.exp(xa)),
        "tanh": (mx.nd.tanh(a), np.tanh(xa)), "relu": (mx.nd.relu(a), np.maximum(xa, 0)),
        "bcast": (mx.nd.broadcast_add(a, b[0:1]), xa + xb[0:1]),
    }
    for name, (got, want) in cases.items():
        assert got.dtype == BF16, name
        if name == "scalar":  # two rounded steps
            want = as_bf16(as_bf16(xa * np.float32(3)) + np.float32(1))
        np.testing.assert_array_equal(values(got), as_bf16(want.astype(np.float32)), err_msg=name)
    assert (a > b).dtype == BF16
    np.testing.assert_array_equal(values(a > b), (xa > xb).astype(np.float32))


def test_reductions_and_products_against_float_math():
    rng = np.random.default_rng(2)
    x = as_bf16(rng.uniform(-1, 1, (4, 6)).astype(np.float32))
    w = as_bf16(rng.uniform(-1, 1, (5, 6)).astype(np.float32))
    a, b = mx.nd.array(x, dtype="bfloat16"), mx.nd.array(w, dtype="bfloat16")
    # sums accumulate wide and round once
    np.testing.assert_array_equal(values(mx.nd.sum(a, axis=1)), as_bf16(x.astype(np.float64).sum(1).astype(np.float32)))
    np.testing.assert_array_equal(values(mx.nd.max(a, axis=0)), x.max(0))
    ulp = 2.0 ** -7  # relative spacing of bfloat16 values
    for got, want in ((mx.nd.dot(a, b.T), x @ w.T),
                      (mx.nd.FullyConnected(a, b, num_hidden=5, no_bias=True), x @ w.T),
                      (mx.nd.batch_dot(a.reshape((2, 2, 6)), b[0:4].reshape((2, 6, 2))),
                       np.matmul(x.reshape(2, 2, 6), w[0:4].reshape(2, 6, 2)))):
        assert got.dtype == BF16
        np.testing.assert_allclose(values(got), want, rtol=ulp, atol=1e-6)
    img = as_bf16(rng.uniform(-1, 1, (1, 2, 5, 5)).astype(np.float32))
    k = as_bf16(rng.uniform(-1, 1, (3, 2, 3, 3)).astype(np.float32))
    conv = mx.nd.Convolution(mx.nd.array(img, dtype="bfloat16"), mx.nd.array(k, dtype="bfloat16"),
                             kernel=(3, 3), num_filter=3, no_bias=True)
    ref = mx.nd.Convolution(mx.nd.array(img), mx.nd.array(k), kernel=(3, 3), num_filter=3, no_bias=True)
    assert conv.dtype == BF16
    np.testing.assert_allclose(values(conv), ref.asnumpy(), rtol=ulp, atol=1e-5)
    sm = mx.nd.softmax(a)
    np.testing.assert_allclose(values(sm), mx.nd.softmax(mx.nd.array(x)).asnumpy(), rtol=ulp)


def test_symbol_variables_and_json_carry_the_flag():
    w = mx.sym.var("w", dtype="bfloat16")
    assert w.attr_dict()["w"]["__dtype__"] == "12"
    y = mx.sym.load_json((w * 2).tojson())
    assert y.infer_type()[1] == [BF16]


def test_batchnorm_keeps_float32_parameters():
    x = mx.sym.Variable("x")
    y = mx.sym.BatchNorm(x, name="bn")
    args, outs, auxs = y.infer_type(x="bfloat16")
    assert args == [BF16, np.float32, np.float32] and outs == [BF16] and auxs == [np.float32] * 2


def test_autograd_and_executor():
    xv = as_bf16(np.array([[0.5, -1.25, 2.0]], np.float32))
    x = mx.nd.array(xv, dtype="bfloat16")
    x.attach_grad()
    with mx.autograd.record():
        y = mx.nd.sum(x * x)
    y.backward()
    assert x.grad.dtype == BF16
    np.testing.assert_array_equal(values(x.grad), 2 * xv)

    data = mx.sym.Variable("data")
    net = mx.sym.FullyConnected(data, num_hidden=2, name="fc")
    exe = net.simple_bind(mx.cpu(), data=(1, 3), type_dict={"data": "bfloat16"})
    assert [a.dtype for a in exe.arg_arrays] == [BF16] * 3
    exe.arg_dict["data"][:] = xv
    exe.arg_dict["fc_weight"][:] = np.array([[1, 0, 0], [0, 1, 1]], np.float32)
    exe.arg_dict["fc_bias"][:] = 0.25
    out = exe.forward(is_train=True)[0]
    np.testing.assert_array_equal(values(out), [[0.75, 1.0]])
    exe.backward(mx.nd.ones((1, 2), dtype="bfloat16"))
    np.testing.assert_array_equal(values(exe.grad_dict["fc_weight"]), np.vstack([xv, xv]))


def test_indexing_assignment_printing_pickle():
    a = mx.nd.array([[1, 2, 3], [4, 5, 6]], dtype="bfloat16")
    a[0] = 7.7
    a[1, 1:] = np.array([1.1, 2.2], np.float32)
    assert values(a).tolist() == [[7.6875] * 3, [4.0, 1.1015625, 2.203125]]
    assert values(a[1]).tolist() == [4.0, 1.1015625, 2.203125]
    assert values(a.T).tolist() == [[7.6875, 4.0], [7.6875, 1.1015625], [7.6875, 2.203125]]
    assert float(a[0, 0]) == 7.6875 and a[1, 0].asscalar() == 4.0
    assert "7.6875" in repr(a) and "<NDArray 2x3 @cpu(0)>" in repr(a)
    b = pickle.loads(pickle.dumps(a))
    assert b.dtype == BF16 and bits_of(b).tolist() == bits_of(a).tolist()
    assert bits_of(a.copyto(mx.cpu(1))).tolist() == bits_of(a).tolist()


def test_kvstore_sums_bfloat16():
    kv = mx.kv.create("local")
    kv.init("w", mx.nd.zeros((3,), dtype="bfloat16"))
    kv.push("w", [mx.nd.array([1.0, 2.0, 0.5], dtype="bfloat16", ctx=mx.cpu(i)) for i in range(3)])
    out = mx.nd.empty((3,), dtype="bfloat16")
    kv.pull("w", out=out)
    assert values(out).tolist() == [3.0, 6.0, 1.5]


def test_ops_without_bfloat16_say_so():
    x = mx.nd.ones((2, 4), dtype="bfloat16")
    with pytest.raises(mx.base.MXNetError, match=r"(?s)fft.*bfloat16"):
        mx.nd.contrib.fft(x).wait_to_read()
