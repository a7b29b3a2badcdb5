"""Registry ops against numpy: random shapes with broadcasting, empty arrays, strided inputs."""
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import oxnet as mx

UNARY = {
    "abs": np.abs, "sign": np.sign, "negative": np.negative, "square": np.square,
    "exp": np.exp, "expm1": np.expm1, "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "tanh": np.tanh, "arctan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "arcsinh": np.arcsinh,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "relu": lambda x: np.maximum(x, 0),
    "softsign": lambda x: x / (1 + np.abs(x)), "floor": np.floor, "ceil": np.ceil,
    "trunc": np.trunc, "fix": np.fix, "rint": np.rint, "degrees": np.degrees, "radians": np.radians,
    "round": lambda x: np.sign(x) * np.floor(np.abs(x) + 0.5),
    "logical_not": lambda x: (x == 0).astype(x.dtype), "cbrt": np.cbrt,
}
POSITIVE = {
    "sqrt": np.sqrt, "rsqrt": lambda x: 1 / np.sqrt(x), "log": np.log, "log2": np.log2,
    "log10": np.log10, "log1p": np.log1p, "reciprocal": np.reciprocal, "rcbrt": lambda x: 1 / np.cbrt(x),
}
BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
    "maximum": np.maximum, "minimum": np.minimum, "power": np.power, "hypot": np.hypot, "mod": np.mod,
    "equal": np.equal, "not_equal": np.not_equal, "greater": np.greater,
    "greater_equal": np.greater_equal, "lesser": np.less, "lesser_equal": np.less_equal,
    "logical_and": np.logical_and, "logical_or": np.logical_or, "logical_xor": np.logical_xor,
}


@pytest.mark.parametrize("name", sorted(UNARY) + sorted(POSITIVE))
@pytest.mark.parametrize("shape", [(3, 4), (0, 3), (2, 3, 5), ()])
def test_unary(name, shape):
    f = UNARY.get(name) or POSITIVE[name]
    if shape == ():
        shape = (1,)
    x = np.random.uniform(-3, 3, shape).astype(np.float32)
    if name in POSITIVE:
        x = np.abs(x) + 0.1
    got = getattr(mx.nd, name)(mx.nd.array(x)).asnumpy()
    np.testing.assert_allclose(got, f(x).astype(np.float32), rtol=2e-5, atol=1e-6)
    got64 = getattr(mx.nd, name)(mx.nd.array(x, dtype="float64")).asnumpy()
    np.testing.assert_allclose(got64, f(x.astype(np.float64)), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["abs", "exp", "sqrt", "tanh", "square"])
def test_unary_float16(name):
    f = UNARY.get(name) or POSITIVE[name]
    x = np.random.uniform(0.1, 2, (4, 5)).astype(np.float16)
    got = getattr(mx.nd, name)(mx.nd.array(x, dtype="float16"))
    assert got.dtype == np.float16
    np.testing.assert_allclose(got.asnumpy(), f(x.astype(np.float32)).astype(np.float16), rtol=2e-3)


@pytest.mark.parametrize("name", ["sin", "cos", "tan"])
def test_trig_float32_over_the_whole_range_and_in_place(name):
    # Arguments past the fast reduction's range (1.6e6), infinities and NaN sit in tiles
    # with ordinary ones; the oracle is float64 numpy rounded to float32.
    rng = np.random.RandomState(1)
    x = rng.uniform(-10, 10, 20000).astype(np.float32)
    x[::997] = rng.uniform(-1e30, 1e30, x[::997].size)
    x[5::1999] = [1.6e6, -1.7e6, 3e7, np.inf, -np.inf, np.nan, 0.0, -0.0, 1e-30, 2e6, 12.566371][:x[5::1999].size]
    f = getattr(np, name)
    with np.errstate(invalid="ignore"):
        want = f(x.astype(np.float64)).astype(np.float32)
    a = mx.nd.array(x)
    got = getattr(mx.nd, name)(a).asnumpy()
    np.testing.assert_allclose(got, want, rtol=3e-7, atol=0)
    assert np.array_equal(np.signbit(got[x == 0]), np.signbit(want[x == 0]))
    getattr(mx.nd, name)(a, out=a)
    np.testing.assert_array_equal(a.asnumpy(), got)
    for dt, tol in [("float16", 1e-3), ("bfloat16", 8e-3)]:
        small = rng.uniform(-60000, 60000, 300).astype(np.float32)
        h = mx.nd.array(small, dtype=dt)
        hx = h.astype("float32").asnumpy().astype(np.float64)
        got = getattr(mx.nd, name)(h).astype("float32").asnumpy()
        np.testing.assert_allclose(got, f(hx), rtol=tol, atol=tol)


def _bshapes():
    dims = st.integers(0, 4)

    @st.composite
    def pair(draw):
        nd = draw(st.integers(1, 4))
        out = [draw(dims) for _ in range(nd)]
        a = [d if draw(st.booleans()) else 1 for d in out]
        b = [d if draw(st.booleans()) else 1 for d in out]
        a = a[draw(st.integers(0, nd - 1)):]
        return tuple(a) or (1,), tuple(b)
    return pair()


@settings(max_examples=60, deadline=None)
@given(_bshapes(), st.sampled_from(sorted(BINARY)))
def test_broadcast_binary(shapes, name):
    sa, sb = shapes
    x = np.random.uniform(-2, 2, sa).astype(np.float32)
    y = np.random.uniform(0.5, 2, sb).astype(np.float32)
    if name == "power":
        x = np.abs(x)
    exp = BINARY[name](x, y).astype(np.float32)
    got = getattr(mx.nd, "broadcast_" + name)(mx.nd.array(x), mx.nd.array(y)).asnumpy()
    np.testing.assert_allclose(got, exp, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", ["int32", "int64", "int8", "uint8", "float64"])
def test_binary_dtypes(dtype):
    x = np.random.randint(1, 9, (3, 4)).astype(dtype)
    y = np.random.randint(1, 9, (3, 4)).astype(dtype)
    a, b = mx.nd.array(x, dtype=dtype), mx.nd.array(y, dtype=dtype)
    np.testing.assert_array_equal((a + b).asnumpy(), x + y)
    np.testing.assert_array_equal((a * b).asnumpy(), x * y)
    np.testing.assert_array_equal(mx.nd.broadcast_maximum(a, b).asnumpy(), np.maximum(x, y))
    if dtype != "float64":
        np.testing.assert_array_equal((a / b).asnumpy(), np.trunc(x / y).astype(dtype))
    np.testing.assert_array_equal((a % b).asnumpy(), np.mod(x, y))


def test_binary_dtype_mismatch_names_types():
    with pytest.raises(mx.MXNetError, match="float32.*float16|float16.*float32"):
        mx.nd.ones((2,)) + mx.nd.ones((2,), dtype="float16")


def test_elemwise_shape_mismatch():
    with pytest.raises(mx.MXNetError, match=r"\[2,3\].*\[3,2\]"):
        mx.nd.elemwise_add(mx.nd.ones((2, 3)), mx.nd.ones((3, 2)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_in_place_elementwise(dtype):
    # In place, the kernels take their own (vectorised) loops; 1037 leaves a scalar remainder.
    rng = np.random.RandomState(3)
    x, y = (rng.uniform(-2, 2, 1037).astype(dtype) for _ in range(2))
    a, b = mx.nd.array(x, dtype=dtype), mx.nd.array(y, dtype=dtype)
    a += b
    np.testing.assert_allclose(a.asnumpy(), x + y, rtol=1e-6)
    mx.nd.elemwise_sub(b, a, out=a)
    np.testing.assert_allclose(a.asnumpy(), y - (x + y), rtol=1e-6, atol=1e-6)
    a *= a
    np.testing.assert_allclose(a.asnumpy(), (y - (x + y)) ** 2, rtol=1e-5)
    mx.nd.tanh(b, out=b)
    np.testing.assert_allclose(b.asnumpy(), np.tanh(y), rtol=1e-5, atol=1e-6)
    mx.nd.Activation(b, act_type="relu", out=b)
    np.testing.assert_allclose(b.asnumpy(), np.maximum(np.tanh(y), 0), rtol=1e-5, atol=1e-6)


def test_max_pooling_2x2_gradient_goes_to_first_maximum():
    # Many ties: MXNet gives each window's output gradient to its first maximum (row-major).
    rng = np.random.RandomState(0)
    x = rng.randint(0, 3, (2, 3, 7, 9)).astype(np.float32)
    dy = rng.uniform(1, 2, (2, 3, 3, 4)).astype(np.float32)
    want_y = np.zeros_like(dy)
    want_dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(*dy.shape):
        win = x[n, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
        k = int(np.argmax(win))  # numpy: first occurrence
        want_y[n, c, i, j] = win.max()
        want_dx[n, c, 2 * i + k // 2, 2 * j + k % 2] = dy[n, c, i, j]
    a = mx.nd.array(x)
    a.attach_grad()
    # The gradient is written over what the buffer held, also in the last row and column,
    # which no window covers.
    a.grad[:] = 5.0
    with mx.autograd.record():
        out = mx.nd.Pooling(a, kernel=(2, 2), stride=(2, 2), pool_type="max")
    out.backward(mx.nd.array(dy))
    np.testing.assert_array_equal(out.asnumpy(), want_y)
    np.testing.assert_array_equal(a.grad.asnumpy(), want_dx)


@pytest.mark.parametrize("dtype,tol", [("float32", 1e-6), ("float64", 1e-12), ("float16", 2e-3)])
@pytest.mark.parametrize("spatial", [(3000,), (56, 56), (5, 7, 9)])
@pytest.mark.parametrize("kind", ["avg", "sum"])
def test_global_sum_and_avg_pooling_match_numpy(kind, spatial, dtype, tol):
    # Whole-plane windows take the reductions' run sum; planes long enough for its blocks.
    rng = np.random.RandomState(len(spatial))
    x = rng.uniform(-1, 2, (3, 5) + spatial).astype(dtype)
    dy = rng.uniform(1, 2, (3, 5) + (1,) * len(spatial)).astype(dtype)
    axes = tuple(range(2, x.ndim))
    area = int(np.prod(spatial))
    want = x.astype(np.float64).sum(axis=axes, keepdims=True)
    if kind == "avg":
        want /= area
    a = mx.nd.array(x, dtype=dtype)
    a.attach_grad()
    with mx.autograd.record():
        out = mx.nd.Pooling(a, kernel=(1,) * len(spatial), global_pool=True, pool_type=kind)
    out.backward(mx.nd.array(dy, dtype=dtype))
    assert out.dtype == np.dtype(dtype) and out.shape == want.shape
    np.testing.assert_allclose(out.asnumpy().astype(np.float64), want,
                               rtol=tol, atol=tol * (area if kind == "sum" else 1))
    g = np.broadcast_to(dy.astype(np.float64) / (area if kind == "avg" else 1), x.shape)
    np.testing.assert_allclose(a.grad.asnumpy().astype(np.float64), g, rtol=tol)


@pytest.mark.parametrize("log", [False, True])
@pytest.mark.parametrize("dtype,tol", [("float64", 1e-12), ("float32", 2e-5), ("float16", 3e-3)])
@pytest.mark.parametrize("shape,axis", [((5, 3000), -1), ((7, 2, 1500), 1), ((9, 2100), 0)])
def test_softmax_gradient_with_temperature_matches_numpy(shape, axis, dtype, tol, log):
    # Non-last axes with more columns than one block (1024), and a remainder block.
    rng = np.random.RandomState(3)
    x = rng.uniform(-4, 4, shape).astype(dtype)
    dy = rng.uniform(-1, 1, shape).astype(dtype)
    t = 1.7
    xs = x.astype(np.float64) / t
    e = np.exp(xs - xs.max(axis=axis, keepdims=True))
    y = e / e.sum(axis=axis, keepdims=True)
    d = dy.astype(np.float64)
    if log:
        want = (d - y * d.sum(axis=axis, keepdims=True)) / t
    else:
        want = y * (d - (d * y).sum(axis=axis, keepdims=True)) / t
    a = mx.nd.array(x, dtype=dtype)
    a.attach_grad()
    with mx.autograd.record():
        out = (mx.nd.log_softmax if log else mx.nd.softmax)(a, axis=axis, temperature=t)
    out.backward(mx.nd.array(dy, dtype=dtype))
    got = a.grad.asnumpy().astype(np.float64)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())


def test_strided_numpy_input():
    base = np.arange(60, dtype=np.float32).reshape(6, 10)
    view = base[::2, 1::3]  # non-contiguous
    a = mx.nd.array(view)
    np.testing.assert_array_equal(a.asnumpy(), view)
    np.testing.assert_array_equal((a * 2).asnumpy(), view * 2)
    t = mx.nd.array(base.T)
    np.testing.assert_array_equal(mx.nd.sum(t, axis=0).asnumpy(), base.T.sum(0))


@pytest.mark.filterwarnings("ignore:Mean of empty slice", "ignore:invalid value encountered")
@pytest.mark.parametrize("shape,axis", [((3, 4, 5), None), ((3, 4, 5), 1), ((3, 4, 5), (0, 2)),
                                        ((3, 4, 5), -1), ((0, 4), 0), ((7,), 0),
                                        # Non-adjacent reduced axes whose last run is long
                                        # (folded in place), one split across threads.
                                        ((3, 5, 2, 70), (0, 2, 3)), ((3, 5, 2, 70), (0, 3)),
                                        ((2, 3, 1, 4, 65), (1, 4)), ((48, 3, 4096), (0, 2))])
@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "prod"])
def test_reduce(shape, axis, name):
    if name in ("max", "min") and 0 in shape:
        return
    # Long products stay in range only for factors near 1.
    spread = 1e-4 if name == "prod" and np.prod(shape) > 1000 else 0.5
    x = np.random.uniform(1 - spread, 1 + spread, shape).astype(np.float32)
    kw = {} if axis is None else {"axis": axis}
    got = getattr(mx.nd, name)(mx.nd.array(x), **kw).asnumpy()
    exp = getattr(np, name)(x.astype(np.float64), axis=axis)   # oxnet accumulates in f64
    exp = np.atleast_1d(exp)
    np.testing.assert_allclose(got, exp, rtol=1e-5)
    gk = getattr(mx.nd, name)(mx.nd.array(x), keepdims=True, **kw).asnumpy()
    np.testing.assert_allclose(gk, getattr(np, name)(x.astype(np.float64), axis=axis, keepdims=True), rtol=1e-5)


def test_reduce_int_and_large_sum():
    x = np.random.randint(0, 10, (5, 6)).astype(np.int32)
    r = mx.nd.sum(mx.nd.array(x, dtype="int32"), axis=1)
    assert r.dtype == np.int32
    np.testing.assert_array_equal(r.asnumpy(), x.sum(1))
    big = np.random.uniform(0, 1, 1 << 22).astype(np.float32)
    np.testing.assert_allclose(mx.nd.sum(mx.nd.array(big)).asnumpy()[0], big.astype(np.float64).sum(), rtol=1e-5)


def test_l2_norm_out_of_the_squares_range():
    # float64 squares overflow past 1e154 and underflow below 1e-154; the norm does not (as
    # MXNet's scaled sum of squares), row by row, with infinities and NaN kept.
    rows = np.array([[3e300, 4e300, 0.0], [3e-200, 0.0, 4e-200], [1.0, 2.0, 2.0],
                     [np.inf, 1e300, 1.0], [np.nan, 1e300, 1.0], [0.0, 0.0, 0.0]])
    got = mx.nd.norm(mx.nd.array(rows, dtype="float64"), axis=1).asnumpy()
    want = [np.hypot(3e300, 4e300), np.hypot(3e-200, 4e-200), 3.0, np.inf, np.nan, 0.0]
    np.testing.assert_allclose(got, want, rtol=1e-15)
    col = mx.nd.norm(mx.nd.array(rows[:3], dtype="float64"), axis=0).asnumpy()
    np.testing.assert_allclose(col, [3e300, 4e300, 2.0], rtol=1e-15)
    # Integers square in float64 instead of wrapping (int64 squares past 2^63, int32 past 2^31).
    big = mx.nd.array(np.array([3 * 10**9, 4 * 10**9], dtype=np.int64), dtype="int64")
    assert mx.nd.norm(big).asnumpy().tolist() == [5 * 10**9]
    i32 = mx.nd.array(np.array([[30000, 40000], [3, 4]], dtype=np.int32), dtype="int32")
    assert mx.nd.norm(i32, axis=1).asnumpy().tolist() == [50000, 5]


def test_dot_and_batch_dot():
    a = np.random.uniform(-1, 1, (5, 7)).astype(np.float32)
    b = np.random.uniform(-1, 1, (7, 3)).astype(np.float32)
    np.testing.assert_allclose(mx.nd.dot(mx.nd.array(a), mx.nd.array(b)).asnumpy(), a @ b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mx.nd.dot(mx.nd.array(a), mx.nd.array(a), transpose_b=True).asnumpy(), a @ a.T, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mx.nd.dot(mx.nd.array(a), mx.nd.array(a), transpose_a=True).asnumpy(), a.T @ a, rtol=1e-5, atol=1e-6)
    v = np.random.uniform(size=7).astype(np.float32)
    np.testing.assert_allclose(mx.nd.dot(mx.nd.array(v), mx.nd.array(v)).asnumpy(), [v @ v], rtol=1e-5)
    x = np.random.uniform(-1, 1, (4, 2, 3)).astype(np.float64)
    y = np.random.uniform(-1, 1, (4, 3, 5)).astype(np.float64)
    np.testing.assert_allclose(mx.nd.batch_dot(mx.nd.array(x, dtype="float64"), mx.nd.array(y, dtype="float64")).asnumpy(), x @ y, rtol=1e-12)
    h = mx.nd.dot(mx.nd.array(a, dtype="float16"), mx.nd.array(b, dtype="float16"))
    assert h.dtype == np.float16
    np.testing.assert_allclose(h.asnumpy(), (a.astype(np.float16).astype(np.float32) @ b.astype(np.float16).astype(np.float32)), rtol=1e-2, atol=1e-2)
    with pytest.raises(mx.MXNetError, match=r"\[5,7\].*\[5,7\]"):
        mx.nd.dot(mx.nd.array(a), mx.nd.array(a))


# Products past the size where they are split over the pool: by rows, by columns (few rows),
# transposed operands; float64 and float32.
LARGE_PRODUCTS = [((300, 200), (200, 100), False, False), ((8, 600), (600, 1024), False, False),
                  ((600, 8), (1024, 600), True, True), ((200, 300), (100, 200), True, True)]


def check_large_products():
    rng = np.random.RandomState(3)
    for sa, sb, ta, tb in LARGE_PRODUCTS:
        for dt, tol in ((np.float32, 1e-4), (np.float64, 1e-12)):
            a = rng.uniform(-1, 1, sa).astype(dt)
            b = rng.uniform(-1, 1, sb).astype(dt)
            ref = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
            got = mx.nd.dot(mx.nd.array(a, dtype=dt), mx.nd.array(b, dtype=dt), transpose_a=ta,
                            transpose_b=tb)
            assert got.dtype == dt
            np.testing.assert_allclose(got.asnumpy(), ref, rtol=tol, atol=tol * 10)
    # FullyConnected accumulates the product onto the broadcast bias.
    x = rng.uniform(-1, 1, (64, 700)).astype(np.float32)
    w = rng.uniform(-1, 1, (300, 700)).astype(np.float32)
    bias = rng.uniform(-1, 1, 300).astype(np.float32)
    got = mx.nd.FullyConnected(mx.nd.array(x), mx.nd.array(w), mx.nd.array(bias), num_hidden=300)
    np.testing.assert_allclose(got.asnumpy(), x.astype(np.float64) @ w.T + bias, rtol=1e-4, atol=1e-3)


def test_fully_connected_takes_a_column_bias():
    # MXNet accepts bias (num_hidden, 1) too (large_word_lm's decoder_bias).
    sym = mx.sym.FullyConnected(mx.sym.var("x"), weight=mx.sym.var("w"),
                                bias=mx.sym.var("b", shape=(3, 1)), num_hidden=3)
    args, outs, _ = sym.infer_shape(x=(2, 4))
    assert args == [(2, 4), (3, 4), (3, 1)] and outs == [(2, 3)]
    rng = np.random.RandomState(3)
    x, w = rng.randn(2, 4).astype(np.float32), rng.randn(3, 4).astype(np.float32)
    b = np.array([[1.0], [2.0], [3.0]], dtype=np.float32)
    want = x @ w.T + b[:, 0]
    got = mx.nd.FullyConnected(mx.nd.array(x), mx.nd.array(w), mx.nd.array(b), num_hidden=3)
    np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-5)
    ex = sym.simple_bind(mx.cpu(), x=(2, 4))
    ex.arg_dict["x"][:] = x
    ex.arg_dict["w"][:] = w
    ex.arg_dict["b"][:] = b
    ex.forward(is_train=True)
    np.testing.assert_allclose(ex.outputs[0].asnumpy(), want, rtol=1e-5)
    dy = rng.randn(2, 3).astype(np.float32)
    ex.backward(mx.nd.array(dy))
    assert ex.grad_dict["b"].shape == (3, 1)
    np.testing.assert_allclose(ex.grad_dict["b"].asnumpy(), dy.sum(0)[:, None], rtol=1e-5)
    np.testing.assert_allclose(ex.grad_dict["w"].asnumpy(), dy.T @ x, rtol=1e-5)
    with pytest.raises(mx.base.MXNetError, match="bias"):
        mx.nd.FullyConnected(mx.nd.array(x), mx.nd.array(w), mx.nd.ones((1, 3)), num_hidden=3)


def test_large_products():
    check_large_products()


def test_large_products_builtin_gemm():
    """The same products on the gemm crate, as without OpenBLAS."""
    import os
    import subprocess
    import sys
    code = ("import oxnet as mx, test_operator as t\n"
            "assert mx.blas.library() is None, mx.blas.library()\n"
            "t.check_large_products()\n")
    env = dict(os.environ, OXNET_BLAS="builtin")
    r = subprocess.run([sys.executable, "-c", code], cwd=os.path.dirname(__file__), env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr


def test_openblas_is_used_when_installed():
    try:
        import scipy_openblas32
    except ImportError:
        pytest.skip("scipy-openblas32 is not installed: products use the built-in gemm crate")
    lib = mx.blas.library()
    assert lib is not None and lib.startswith(scipy_openblas32.get_lib_dir())



@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux /proc to count threads")
def test_openblas_starts_no_threads_of_its_own():
    pytest.importorskip("scipy_openblas32", reason="scipy-openblas32 is not installed")
    # A fresh process: importing oxnet (after numpy) adds no thread; OpenBLAS's own pool would
    # spin beside the engine's threads.
    code = ("import os, numpy\n"
            "n = len(os.listdir('/proc/self/task'))\n"
            "import oxnet\n"
            "assert oxnet.blas.library() is not None\n"
            "print(n, len(os.listdir('/proc/self/task')))\n")
    env = {k: v for k, v in os.environ.items() if k not in ("OXNET_BLAS", "OPENBLAS_NUM_THREADS")}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    before, after = map(int, r.stdout.split())
    assert after == before, r.stdout

def test_shape_ops():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    a = mx.nd.array(x)
    np.testing.assert_array_equal(mx.nd.concat(a, a, dim=1).asnumpy(), np.concatenate([x, x], 1))
    np.testing.assert_array_equal(mx.nd.stack(a, a, axis=0).asnumpy(), np.stack([x, x]))
    parts = mx.nd.split(a, num_outputs=2, axis=2)
    np.testing.assert_array_equal(parts[1].asnumpy(), x[:, :, 2:])
    np.testing.assert_array_equal(mx.nd.slice(a, begin=(0, 1), end=(2, 3)).asnumpy(), x[0:2, 1:3])
    np.testing.assert_array_equal(mx.nd.slice(a, begin=(None, None, 3), end=(None, None, 0), step=(1, 1, -2)).asnumpy(), x[:, :, 3:0:-2])
    np.testing.assert_array_equal(mx.nd.slice_axis(a, axis=2, begin=1, end=None).asnumpy(), x[:, :, 1:])
    np.testing.assert_array_equal(mx.nd.reshape(a, shape=(-1, 4)).asnumpy(), x.reshape(-1, 4))
    with pytest.raises(mx.MXNetError):
        mx.nd.reshape(a, shape=(5, 5))
    np.testing.assert_array_equal(mx.nd.transpose(a, axes=(2, 0, 1)).asnumpy(), x.transpose(2, 0, 1))
    np.testing.assert_array_equal(mx.nd.expand_dims(a, axis=0).asnumpy(), x[None])
    np.testing.assert_array_equal(mx.nd.flip(a, axis=0).asnumpy(), x[::-1])
    np.testing.assert_array_equal(mx.nd.Flatten(a).asnumpy(), x.reshape(2, 12))
    np.testing.assert_array_equal(mx.nd.broadcast_axis(mx.nd.ones((2, 1)), axis=1, size=3).asnumpy(), np.ones((2, 3)))


def test_indexing_ops():
    x = np.random.uniform(size=(5, 4)).astype(np.float32)
    a = mx.nd.array(x)
    idx = np.array([4, 0, 2])
    np.testing.assert_array_equal(mx.nd.take(a, mx.nd.array(idx)).asnumpy(), x[idx])
    np.testing.assert_array_equal(mx.nd.take(a, mx.nd.array([7, -1]), mode="clip").asnumpy(), x[[4, 0]])
    np.testing.assert_array_equal(mx.nd.take(a, mx.nd.array([1, 2]), axis=1).asnumpy(), x[:, [1, 2]])
    p = np.array([0, 3, 1, 2, 2])
    np.testing.assert_array_equal(mx.nd.pick(a, mx.nd.array(p), axis=1).asnumpy(), x[np.arange(5), p])
    # MXNet 1.9.1 has no 0-d arrays: picking along the only axis gives shape (1,).
    v = mx.nd.array([1.0, 2.0, 3.0])
    v.attach_grad()
    with mx.autograd.record():
        one = mx.nd.pick(v, mx.nd.array([2]), axis=0)
    one.backward()
    assert one.shape == (1,) and one.asnumpy().tolist() == [3.0]
    assert v.grad.asnumpy().tolist() == [0.0, 0.0, 1.0]
    assert mx.sym.pick(mx.sym.var("v"), mx.sym.var("i"), axis=0).infer_shape(v=(3,), i=(1,))[1] == [(1,)]
    oh = mx.nd.one_hot(mx.nd.array([1, 0, 3]), depth=4).asnumpy()
    np.testing.assert_array_equal(oh, np.eye(4)[[1, 0, 3]])
    c = (x > 0.5).astype(np.float32)
    np.testing.assert_array_equal(mx.nd.where(mx.nd.array(c), a, -a).asnumpy(), np.where(c, x, -x))


def test_where_over_many_tasks_with_odd_conditions():
    rng = np.random.RandomState(3)
    x = rng.uniform(-1, 1, (300, 1001)).astype(np.float32)
    y = rng.uniform(-1, 1, x.shape).astype(np.float32)
    c = rng.choice(np.array([0.0, -0.0, np.nan, 2.5, -1.0], np.float32), x.shape)
    for dt in ("float32", "float16", "int32", "uint8"):
        cond = c.astype(dt) if dt in ("float32", "float16") else np.nan_to_num(c).astype(dt)
        got = mx.nd.where(mx.nd.array(cond, dtype=dt), mx.nd.array(x), mx.nd.array(y))
        np.testing.assert_array_equal(got.asnumpy(), np.where(cond != 0, x, y), err_msg=dt)
    rows = c[:, 0]  # one flag per row of x
    got = mx.nd.where(mx.nd.array(rows), mx.nd.array(x), mx.nd.array(y)).asnumpy()
    np.testing.assert_array_equal(got, np.where((rows != 0)[:, None], x, y))
    a, b = mx.nd.array(x), mx.nd.array(y)
    np.testing.assert_array_equal(mx.nd.where(mx.nd.array(c), a, a).asnumpy(), x)
    mx.nd.where(mx.nd.array(c), a, b, out=a)
    np.testing.assert_array_equal(a.asnumpy(), np.where(c != 0, x, y))
    a = mx.nd.array(x)
    mx.nd.where(mx.nd.array(c), a, b, out=b)
    np.testing.assert_array_equal(b.asnumpy(), np.where(c != 0, x, y))


def test_softmax_topk_sort():
    x = np.random.uniform(-3, 3, (4, 6)).astype(np.float32)
    a = mx.nd.array(x)
    e = np.exp(x - x.max(1, keepdims=True))
    np.testing.assert_allclose(mx.nd.softmax(a).asnumpy(), e / e.sum(1, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(mx.nd.log_softmax(a, axis=0).asnumpy(),
                               x - x.max(0) - np.log(np.exp(x - x.max(0)).sum(0)), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(mx.nd.sort(a).asnumpy(), np.sort(x))
    np.testing.assert_array_equal(mx.nd.sort(a, is_ascend=False).asnumpy(), -np.sort(-x))
    np.testing.assert_array_equal(mx.nd.argsort(a, axis=0).asnumpy(), np.argsort(x, axis=0, kind="stable"))
    top = mx.nd.topk(a, k=2, ret_typ="value").asnumpy()
    np.testing.assert_array_equal(top, -np.sort(-x)[:, :2])
    ti = mx.nd.topk(a, k=2)
    assert ti.dtype == np.float32
    np.testing.assert_array_equal(ti.asnumpy(), np.argsort(-x, kind="stable")[:, :2])
    v, i = mx.nd.topk(a, k=1, ret_typ="both", is_ascend=True)
    np.testing.assert_array_equal(v.asnumpy()[:, 0], x.min(1))


@pytest.mark.parametrize("dtype", ["float32", "float16", "float64", "int32", "int8", "uint8", "int64"])
def test_sort_values_of_long_rows_match_numpy(dtype):
    # Rows long enough for the vectorised key sort; zeros of both signs, NaN and ties.
    rng = np.random.default_rng(5)
    x = rng.integers(0, 100, (7, 1000)).astype(dtype)
    if dtype.startswith("float"):
        x = (rng.standard_normal((7, 1000)) * 3).astype(dtype)
        x[:, ::7] = 0.0
        x[:, 3::11] = -0.0
        x[1, ::5] = np.nan
    a = mx.nd.array(x, dtype=dtype)
    for axis in (1, 0):
        want = np.sort(x, axis=axis)
        got = mx.nd.sort(a, axis=axis).asnumpy()
        np.testing.assert_array_equal(got, want)
        # MXNet puts NaN first in descending order: it is the largest value.
        down = mx.nd.sort(a, axis=axis, is_ascend=False).asnumpy()
        np.testing.assert_array_equal(down, np.flip(want, axis=axis))
    top = mx.nd.topk(a, k=600, ret_typ="value").asnumpy()
    np.testing.assert_array_equal(top, np.flip(np.sort(x, axis=1), axis=1)[:, :600])
    if dtype.startswith("float"):
        # Each zero comes back with its sign: negative zeros first, then positive ones.
        row = mx.nd.sort(a[0]).asnumpy()
        zeros = row[row == 0]
        assert np.signbit(zeros).sum() == np.signbit(x[0][x[0] == 0]).sum()
        assert np.all(np.diff(np.signbit(zeros).astype(int)) <= 0)


@pytest.mark.parametrize("preserve,multi", [(True, False), (False, True), (False, False)])
@pytest.mark.parametrize("norm", ["batch", "valid"])
def test_softmax_output_normalization_counts_every_label(preserve, multi, norm):
    # MXNet divides by the label's size (its rows with multi_output), whatever the data's rank;
    # 'valid' counts every label that is not ignored. Without preserve_shape, 3-D data takes a
    # label of shape data.shape[:-1] (as MXNet infers it) although only the first of them are
    # the rows' classes.
    rs = np.random.RandomState(3)
    x = rs.normal(size=(2, 3, 4))
    lab = rs.randint(0, 3, size=(2, 4)) if multi else rs.randint(0, 4, size=(2, 3))
    a = mx.nd.array(x, dtype="float64")
    a.attach_grad()
    with mx.autograd.record():
        y = mx.nd.SoftmaxOutput(a, mx.nd.array(lab, dtype="float64"), normalization=norm,
                                use_ignore=True, ignore_label=1,
                                preserve_shape=preserve, multi_output=multi)
    y.backward()
    if preserve or multi:
        axis = 2 if preserve else 1
        p = np.exp(x - x.max(axis, keepdims=True))
        p /= p.sum(axis, keepdims=True)
        keep = np.expand_dims(lab != 1, axis)
        want = (p - np.moveaxis(np.eye(x.shape[axis])[lab], -1, axis)) * keep
    else:
        flat = x.reshape(2, 12)
        p = np.exp(flat - flat.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        rows = lab.ravel()[:2]
        p[np.arange(2), rows] -= 1
        want = (p * (rows != 1)[:, None]).reshape(x.shape)
    if norm == "valid":
        want /= max((lab != 1).sum(), 1)
    else:
        want /= (x.shape[0] * x.shape[2]) if multi else lab.size
    np.testing.assert_allclose(a.grad.asnumpy(), want, rtol=1e-7, atol=1e-12)


def test_cast_clip_creation_ops():
    x = np.array([[1.7, -2.2], [3.5, 0.1]], dtype=np.float32)
    a = mx.nd.array(x)
    assert mx.nd.cast(a, dtype="int32").asnumpy().tolist() == [[1, -2], [3, 0]]
    np.testing.assert_array_equal(mx.nd.clip(a, a_min=0, a_max=2).asnumpy(), np.clip(x, 0, 2))
    np.testing.assert_array_equal(mx.nd.zeros((0, 3)).asnumpy(), np.zeros((0, 3)))


def test_softmax_output_casts_labels_toward_zero():
    # MXNet casts labels to int: -0.3 is class 0 (not an out-of-range label), 2.9 class 2.
    x = mx.nd.array([[1.0, 2.0, 3.0], [0.5, 0.1, 0.2]])
    x.attach_grad()
    grads = []
    for labels in ([-0.3, 2.9], [0.0, 2.0]):
        with mx.autograd.record():
            y = mx.nd.SoftmaxOutput(x, mx.nd.array(labels))
        y.backward()
        grads.append(x.grad.asnumpy().copy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6)
    e = np.exp(x.asnumpy() - x.asnumpy().max(1, keepdims=True))
    p = e / e.sum(1, keepdims=True)
    p[0, 0] -= 1
    p[1, 2] -= 1
    np.testing.assert_allclose(grads[0], p, rtol=1e-5)
