"""The CPU suites' operators, NDArray, executor, Module and KVStore re-run on gpu(0) and
compared with the CPU results (the CPU kernels are the oracle, themselves tested against
numpy). Skipped, with the reason printed, where no CUDA device is found."""
import numpy as np
import pytest

import oxnet as mx

pytestmark = pytest.mark.skipif(
    mx.context.num_gpus() == 0,
    reason="no CUDA GPU on this machine (mx.context.num_gpus() == 0)")

GPU, CPU = mx.gpu(0), mx.cpu(0)
TOL = {np.float32: (1e-5, 1e-6), np.float64: (1e-12, 1e-14), np.float16: (2e-3, 2e-3)}


def check_consistency(fn, *arrays, dtype=np.float32, rtol=None, atol=None):
    """fn(*ndarrays) on the CPU and on gpu(0) from the same numpy inputs; results agree."""
    r, a = TOL[dtype]
    rtol, atol = rtol or r, atol or a
    outs = []
    for ctx in (CPU, GPU):
        res = fn(*[mx.nd.array(x, ctx=ctx, dtype=dtype) for x in arrays])
        res = res if isinstance(res, (list, tuple)) else [res]
        for o in res:
            assert o.context == ctx, (o.context, ctx)
        outs.append([o.asnumpy() for o in res])
    for c, g in zip(*outs):
        np.testing.assert_allclose(g.astype(np.float64), c.astype(np.float64),
                                   rtol=rtol, atol=atol)
    return outs[0]


rng = np.random.RandomState(0)


def rand(*shape, low=-2.0, high=2.0):
    return rng.uniform(low, high, size=shape)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "uint8", "int32",
                                   "int64", "int8", "bool"])
def test_copies_round_trip(dtype):
    x = (rng.uniform(0, 100, size=(3, 17)) > 30) if dtype == "bool" else \
        rng.uniform(0, 100, size=(3, 17)).astype(dtype)
    g = mx.nd.array(x, ctx=GPU, dtype=dtype)
    assert g.context == GPU and g.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(g.asnumpy(), x)
    np.testing.assert_array_equal(g.copyto(CPU).asnumpy(), x)
    np.testing.assert_array_equal(mx.nd.array(x, dtype=dtype).copyto(GPU).asnumpy(), x)
    np.testing.assert_array_equal(g.astype("float64").asnumpy(), x.astype("float64"))
    c = mx.nd.zeros((3, 17), ctx=GPU, dtype=dtype)
    g.copyto(c)
    np.testing.assert_array_equal(c.asnumpy(), x)


UNARY = {
    "abs": (-2, 2), "sign": (-2, 2), "negative": (-2, 2), "reciprocal": (0.5, 2),
    "square": (-2, 2), "sqrt": (0.1, 4), "rsqrt": (0.1, 4), "cbrt": (-2, 2),
    "exp": (-2, 2), "expm1": (-1, 1), "log": (0.1, 4), "log2": (0.1, 4), "log10": (0.1, 4),
    "log1p": (-0.5, 2), "sin": (-3, 3), "cos": (-3, 3), "tan": (-1, 1), "arcsin": (-0.9, 0.9),
    "arccos": (-0.9, 0.9), "arctan": (-3, 3), "sinh": (-2, 2), "cosh": (-2, 2),
    "tanh": (-2, 2), "arcsinh": (-2, 2), "arccosh": (1.1, 3), "arctanh": (-0.9, 0.9),
    "degrees": (-2, 2), "radians": (-90, 90), "sigmoid": (-4, 4), "relu": (-2, 2),
    "softsign": (-2, 2), "floor": (-3, 3), "ceil": (-3, 3), "trunc": (-3, 3), "fix": (-3, 3),
    "logical_not": (-1, 1),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary(name, dtype):
    lo, hi = UNARY[name]
    x = rand(4, 33, low=lo, high=hi)
    check_consistency(getattr(mx.nd, name), x, dtype=dtype)


BINARY = ["broadcast_add", "broadcast_sub", "broadcast_mul", "broadcast_div",
          "broadcast_maximum", "broadcast_minimum", "broadcast_power", "broadcast_hypot",
          "broadcast_mod", "broadcast_equal", "broadcast_greater", "broadcast_lesser_equal",
          "broadcast_logical_and", "broadcast_logical_xor"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((3, 1, 5), (1, 4, 5)),
                                    ((5,), (2, 3, 5)), ((2, 1, 3, 1, 2, 1), (1, 2, 1, 2, 1, 3)),
                                    ((1, 2, 1, 2, 1, 2, 3), (2, 1, 2, 1, 2, 1, 1))])
def test_binary(name, shapes, dtype):
    a, b = rand(*shapes[0], low=0.5, high=2), rand(*shapes[1], low=0.5, high=2)
    check_consistency(getattr(mx.nd, name), a, b, dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_operators_and_scalars(dtype):
    a, b = rand(6, 7, low=0.5, high=2), rand(6, 7, low=0.5, high=2)
    for f in (lambda x, y: x + y, lambda x, y: x - y, lambda x, y: x * y,
              lambda x, y: x / y, lambda x, y: x ** y, lambda x, y: x % y,
              lambda x, y: x + 2, lambda x, y: 2 - x, lambda x, y: x * 0.5,
              lambda x, y: 3 / x, lambda x, y: x ** 2, lambda x, y: 2 ** x,
              lambda x, y: x > 1, lambda x, y: mx.nd.maximum(x, 1.2),
              lambda x, y: mx.nd.elemwise_add(x, y), lambda x, y: mx.nd.add_n(x, y, x)):
        check_consistency(f, a, b, dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_in_place_and_slices(dtype):
    def f(x, y):
        x += y
        x[1:3] = 5
        x[:, 0] = y[:, 1]
        return [x, x[2:4], y.reshape((-1,)), y.T]
    check_consistency(f, rand(5, 4), rand(5, 4), dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_dot_and_batch_dot(ta, tb, dtype):
    a = rand(*((7, 5) if ta else (5, 7)))
    b = rand(*((9, 7) if tb else (7, 9)))
    tol = {"rtol": 1e-2, "atol": 1e-2} if dtype == np.float16 else {}
    check_consistency(lambda x, y: mx.nd.dot(x, y, transpose_a=ta, transpose_b=tb), a, b,
                      dtype=dtype, **tol)
    a3 = rand(3, *((7, 5) if ta else (5, 7)))
    b3 = rand(3, *((9, 7) if tb else (7, 9)))
    check_consistency(lambda x, y: mx.nd.batch_dot(x, y, transpose_a=ta, transpose_b=tb),
                      a3, b3, dtype=dtype, **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("no_bias", [False, True])
def test_fully_connected_forward_backward(no_bias, dtype):
    def f(x, w, b):
        for a in (x, w, b):
            a.attach_grad()
        with mx.autograd.record():
            args = dict(num_hidden=6, no_bias=no_bias)
            y = mx.nd.FullyConnected(x, w, **args) if no_bias else \
                mx.nd.FullyConnected(x, w, b, **args)
            loss = (y * y).sum()
        loss.backward()
        out = [y, x.grad, w.grad]
        return out if no_bias else out + [b.grad]
    check_consistency(f, rand(8, 2, 5), rand(6, 10), rand(6), dtype=dtype, rtol=1e-4)


@pytest.mark.parametrize("shape,groups,bias", [
    ((3, 4, 9, 8), 1, True), ((3, 4, 9, 8), 2, False), ((2, 6, 5, 7, 4), 3, True),
    # Over 256 MB of columns: the batch runs in two pieces of 35 and 5 samples.
    ((40, 64, 56, 56), 1, True)])
def test_convolution_forward_backward(shape, groups, bias):
    nd = len(shape) - 2
    kernel, f = (3,) * nd, 64 if shape[1] == 64 else 6

    def fn(x, w, b):
        args = [x, w, b] if bias else [x, w]
        for a in args:
            a.attach_grad()
        with mx.autograd.record():
            y = mx.nd.Convolution(*args, kernel=kernel, pad=(1,) * nd, num_filter=f,
                                  num_group=groups, no_bias=not bias)
            loss = (y * y).sum()
        loss.backward()
        return [y] + [a.grad for a in args]
    big = shape[0] == 40
    check_consistency(fn, rand(*shape), rand(f, shape[1] // groups, *kernel) * 0.3, rand(f),
                      rtol=2e-4 if big else 1e-4, atol=1e-2 if big else 1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("clip", [-1.0, 0.3])
def test_optimizer_updates(clip, dtype):
    w, g, m, v = rand(50), rand(50), rand(50), rand(50, low=0.1, high=1)

    def f(w, g, m, v):
        a, mm, vv = w.copy(), m.copy(), v.copy()
        mx.nd.sgd_update(a, g, lr=0.1, wd=0.01, rescale_grad=0.5, clip_gradient=clip, out=a)
        b = w.copy()
        mx.nd.sgd_mom_update(b, g, mm, lr=0.1, momentum=0.9, wd=0.01, clip_gradient=clip,
                             out=b)
        c = w.copy()
        mx.nd.adam_update(c, g, m, vv, lr=0.01, beta1=0.9, beta2=0.99, epsilon=1e-8,
                          wd=0.01, clip_gradient=clip, out=c)
        d = w.copy()
        mx.nd.rmsprop_update(d, g, v.copy(), lr=0.01, out=d)  # host path
        return [a, b, mm, c, m, vv, d]
    check_consistency(f, w, g, m, v, dtype=dtype)


def test_host_path_ops_match_cpu():
    x = rand(2, 3, 8, 8)
    w = rand(4, 3, 3, 3)
    check_consistency(lambda x, w: mx.nd.Convolution(x, w, kernel=(3, 3), num_filter=4,
                                                     no_bias=True, pad=(1, 1)), x, w,
                      rtol=1e-4, atol=1e-5)
    check_consistency(lambda x: mx.nd.Pooling(x, kernel=(2, 2), stride=(2, 2),
                                              pool_type="max"), x)
    check_consistency(lambda x: [mx.nd.softmax(x, axis=1), x.sum(axis=(1, 3)),
                                 x.mean(), mx.nd.transpose(x, axes=(3, 1, 0, 2)),
                                 mx.nd.concat(x, x, dim=1), x.argmax(axis=2),
                                 mx.nd.slice(x, begin=(0, 1), end=(2, 3))], x)


def _mlp():
    data = mx.sym.var("data")
    h = mx.sym.Activation(mx.sym.FullyConnected(data, num_hidden=16, name="fc1"),
                          act_type="relu")
    out = mx.sym.FullyConnected(h, num_hidden=3, name="fc2")
    return mx.sym.SoftmaxOutput(out, name="softmax")


def test_executor_forward_backward():
    net = _mlp()
    x, y = rand(8, 5), rng.randint(0, 3, size=8).astype("float32")
    shapes = {"data": (8, 5), "softmax_label": (8,)}
    params = {n: rand(*s) * 0.3 for n, s in zip(net.list_arguments(),
                                               net.infer_shape(**shapes)[0])
              if n not in shapes}
    res = []
    for ctx in (CPU, GPU):
        ex = net.simple_bind(ctx, **shapes)
        for n, v in params.items():
            ex.arg_dict[n][:] = v
        ex.forward(is_train=True, data=mx.nd.array(x, ctx=ctx),
                   softmax_label=mx.nd.array(y, ctx=ctx))
        ex.backward()
        res.append([ex.outputs[0].asnumpy()] + [ex.grad_dict[n].asnumpy() for n in params])
    for c, g in zip(*res):
        np.testing.assert_allclose(g, c, rtol=1e-4, atol=1e-6)


def test_module_fit_on_gpu_matches_cpu():
    x = rand(64, 5).astype("float32")
    y = (x.sum(axis=1) > 0).astype("float32") + (x[:, 0] > 1)
    res = []
    for ctx in (CPU, GPU):
        mx.random.seed(3)
        it = mx.io.NDArrayIter(x, y, batch_size=16)
        mod = mx.mod.Module(_mlp(), context=ctx)
        mod.fit(it, num_epoch=3, optimizer="sgd",
                optimizer_params={"learning_rate": 0.1, "momentum": 0.9},
                initializer=mx.init.Xavier(), progress_bar=False)
        arg, _ = mod.get_params()
        res.append({k: v.asnumpy() for k, v in arg.items()})
    for k in res[0]:
        np.testing.assert_allclose(res[1][k], res[0][k], rtol=1e-4, atol=1e-5)


def test_kvstore_device_sums_gpu_values():
    ctxs = [GPU, CPU, GPU]
    kv = mx.kv.create("device")
    kv.init(3, mx.nd.zeros((4, 5), ctx=GPU))
    vals = [mx.nd.array(rand(4, 5), ctx=c) for c in ctxs]
    kv.push(3, vals)
    outs = [mx.nd.zeros((4, 5), ctx=c) for c in ctxs]
    kv.pull(3, out=outs)
    want = sum(v.asnumpy() for v in vals)
    for o in outs:
        np.testing.assert_allclose(o.asnumpy(), want, rtol=1e-6)


def test_save_load_gpu_arrays(tmp_path):
    a = mx.nd.array(rand(3, 4), ctx=GPU)
    f = str(tmp_path / "x.params")
    mx.nd.save(f, {"a": a})
    np.testing.assert_array_equal(mx.nd.load(f)["a"].asnumpy(), a.asnumpy())


def test_multi_gpu_copies():
    if mx.context.num_gpus() < 2:
        pytest.skip("needs 2 GPUs, found %d" % mx.context.num_gpus())
    x = rand(5, 6)
    a = mx.nd.array(x, ctx=mx.gpu(0))
    b = a.copyto(mx.gpu(1)) * 2
    np.testing.assert_allclose(b.asnumpy(), 2 * x, rtol=1e-6)


def test_cuda_array_interface_is_zero_copy():
    a = mx.nd.array(rand(3, 4), ctx=GPU)
    cai = a.__cuda_array_interface__
    assert cai["shape"] == (3, 4) and cai["typestr"] == "<f4" and cai["version"] == 3
    assert cai["data"][0] != 0
    assert not hasattr(mx.nd.ones((2,)), "__cuda_array_interface__")
    try:
        import torch
    except ImportError:
        pytest.skip("PyTorch not installed: zero-copy read not checked")
    t = torch.as_tensor(a, device="cuda")
    assert t.data_ptr() == cai["data"][0]
    np.testing.assert_array_equal(t.cpu().numpy(), a.asnumpy())


def test_dlpack_with_torch():
    torch = pytest.importorskip("torch", reason="PyTorch not installed: DLPack not checked")
    a = mx.nd.array(rand(4, 3), ctx=GPU)
    t = torch.from_dlpack(a)
    assert t.is_cuda and t.data_ptr() == a.__cuda_array_interface__["data"][0]
    np.testing.assert_array_equal(t.cpu().numpy(), a.asnumpy())
    src = torch.arange(12, dtype=torch.float32, device="cuda").reshape(3, 4) * 2
    b = mx.nd.from_dlpack(src)
    assert b.context == GPU and b.shape == (3, 4)
    np.testing.assert_array_equal(b.asnumpy(), src.cpu().numpy())
    with pytest.raises(TypeError, match="C-contiguous"):
        mx.nd.from_dlpack(src.t())


def test_memory_info_and_empty_cache():
    free, total = mx.context.gpu_memory_info(0)
    assert 0 < free <= total
    a = mx.nd.zeros((1 << 20,), ctx=GPU)
    a.wait_to_read()
    del a
    GPU.empty_cache()
    with pytest.raises(mx.MXNetError, match="gpu\\(99\\) does not exist"):
        mx.nd.zeros((2,), ctx=mx.gpu(99))
