"""Symbol.bind / simple_bind executors: MXNet 1.9.1 behaviours (reference §5) with numpy
oracles and the numbers MXNet printed."""
import json
import os
import re
import subprocess
import sys

import warnings

import numpy as np
import pytest

import oxnet as mx
from oxnet import nd
from tight import assert_almost_equal
from oxnet.test_utils import (check_numeric_gradient,
                              check_symbolic_backward, check_symbolic_forward, simple_forward)


def fc_net(name="fc", num_hidden=2):
    return mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=num_hidden, name=name)


def test_bind_uses_arrays_directly_and_forward_matches_numpy():
    net = fc_net()
    x = nd.array([[1, 2, 3], [4, 5, 6]])
    w = nd.array([[1, 0, 1], [0, 1, 0]])
    b = nd.array([0.5, -0.5])
    ex = net.bind(mx.cpu(), args={"data": x, "fc_weight": w, "fc_bias": b})
    assert ex.arg_dict["fc_weight"] is w
    out = ex.forward()[0].asnumpy()
    np.testing.assert_allclose(out, x.asnumpy() @ w.asnumpy().T + b.asnumpy())
    w[:] = 2  # mutating a bound argument changes the next forward
    np.testing.assert_allclose(ex.forward()[0].asnumpy(), x.asnumpy() @ np.full((2, 3), 2).T + b.asnumpy())
    assert ex.grad_arrays is None
    with pytest.raises(TypeError):
        ex.grad_dict


def test_bind_argument_errors():
    net = fc_net()
    with pytest.raises(TypeError, match="Context type error"):
        net.bind("cpu", args=[])
    with pytest.raises(ValueError, match="Length of args"):
        net.bind(mx.cpu(), args=[nd.ones((2, 3))])
    with pytest.raises(ValueError, match="key `fc_weight` is missing in `args`"):
        net.bind(mx.cpu(), args={"data": nd.ones((2, 3))})
    with pytest.raises(ValueError, match="grad_req must be in"):
        net.bind(mx.cpu(), args=[nd.ones((2, 3)), nd.ones((2, 3)), nd.ones((2,))],
                 args_grad=[nd.ones((2, 3))] * 2 + [nd.ones((2,))], grad_req="foo")
    with pytest.raises(mx.MXNetError, match="fc"):
        net.bind(mx.cpu(), args=[nd.ones((2, 3)), nd.ones((2, 4)), nd.ones((2,))])


def test_simple_bind_zero_fills_and_grad_req():
    net = mx.sym.LinearRegressionOutput(fc_net(), name="lro")
    ex = net.simple_bind(mx.cpu(), data=(2, 3))
    assert [a.shape for a in ex.arg_arrays] == [(2, 3), (2, 3), (2,), (2, 2)]
    for a in ex.arg_arrays + ex.grad_arrays:
        assert not a.asnumpy().any()
    ex2 = net.simple_bind(mx.cpu(), grad_req={"fc_weight": "write"}, data=(2, 3))
    assert ex2.grad_dict["data"] is None and ex2.grad_dict["fc_weight"].shape == (2, 3)
    ex3 = net.simple_bind(mx.cpu(), type_dict={"data": "float64"}, data=(2, 3))
    assert all(a.dtype == np.float64 for a in ex3.arg_arrays)
    with pytest.raises(RuntimeError, match="simple_bind error"):
        net.simple_bind(mx.cpu())


def test_linear_regression_grad_write_and_add():
    # reference §5.4: data (2,3)=0..5, label ones, weight grad accumulates with 'add'
    data = mx.sym.Variable("data")
    net = mx.sym.LinearRegressionOutput(data, name="lro")
    x = nd.array(np.arange(6).reshape(2, 3))
    gx = nd.zeros((2, 3))
    ex = net.bind(mx.cpu(), args={"data": x, "lro_label": nd.ones((2, 3))},
                  args_grad={"data": gx}, grad_req="write")
    ex.forward(is_train=True)
    ex.backward(nd.ones((2, 3)) * 100)  # ignored by loss heads
    assert_almost_equal(gx, np.array([[-1, 0, 1], [2, 3, 4]]) / 3.0, rtol=1e-5)


def test_softmax_output_gradients_from_reference():
    x = np.arange(6).reshape(2, 3) / 10.0
    label = np.array([0, 2])
    net = mx.sym.SoftmaxOutput(mx.sym.Variable("data"), name="sm")
    p = np.exp(x) / np.exp(x).sum(1, keepdims=True)
    onehot = np.eye(3)[label]
    check_symbolic_forward(net, {"data": x, "sm_label": label}, [p], rtol=1e-5, atol=1e-7)
    check_symbolic_backward(net, {"data": x, "sm_label": label}, None,
                            {"data": p - onehot}, rtol=1e-4, atol=1e-6,
                            grad_req={"data": "write", "sm_label": "null"})
    assert_almost_equal((p - onehot).reshape(-1),
                        np.array([-0.6994, 0.3322, 0.3672, 0.3006, 0.3322, -0.6328]), atol=1e-4)
    scaled = mx.sym.SoftmaxOutput(mx.sym.Variable("data"), name="sm", grad_scale=2,
                                  normalization="batch")
    check_symbolic_backward(scaled, {"data": x, "sm_label": label}, None,
                            {"data": (p - onehot) * 2 / 2}, rtol=1e-4, atol=1e-6,
                            grad_req={"data": "write", "sm_label": "null"})


def test_non_loss_head_requires_out_grads():
    net = fc_net()
    ex = net.simple_bind(mx.cpu(), data=(2, 3))
    ex.forward(is_train=True)
    with pytest.raises(mx.MXNetError, match="head_gradient is required"):
        ex.backward()


def test_make_loss_seeds_ones():
    # reference §5.4: fc num_hidden=2, weight 1, data [1,2,3], loss = sum(fc*fc) -> dW rows 12,24,36
    data = mx.sym.Variable("data")
    fc = mx.sym.FullyConnected(data, num_hidden=2, no_bias=True, name="fc")
    loss = mx.sym.MakeLoss(mx.sym.sum(fc * fc))
    ex = loss.simple_bind(mx.cpu(), data=(1, 3))
    ex.arg_dict["data"][:] = nd.array([[1, 2, 3]])
    ex.arg_dict["fc_weight"][:] = 1
    ex.forward(is_train=True)
    ex.backward()
    assert_almost_equal(ex.grad_dict["fc_weight"], np.array([[12, 24, 36], [12, 24, 36]]))


def test_mlp_numeric_gradient_and_outputs_dict():
    data = mx.sym.Variable("data")
    h = mx.sym.Activation(mx.sym.FullyConnected(data, num_hidden=4, name="fc1"), act_type="tanh")
    out = mx.sym.FullyConnected(h, num_hidden=3, name="fc2")
    rng = np.random.RandomState(0)
    loc = {"data": rng.normal(size=(2, 5)), "fc1_weight": rng.normal(size=(4, 5)),
           "fc1_bias": rng.normal(size=(4,)), "fc2_weight": rng.normal(size=(3, 4)),
           "fc2_bias": rng.normal(size=(3,))}
    check_numeric_gradient(out, loc)
    ex = out.simple_bind(mx.cpu(), data=(2, 5))
    assert list(ex.output_dict) == ["fc2_output"]


def test_forward_kwargs_checks():
    ex = fc_net().simple_bind(mx.cpu(), data=(1, 3))
    ex.forward(data=np.ones((1, 3), np.float32))
    with pytest.raises(ValueError, match="Shape not match"):
        ex.forward(data=nd.ones((2, 3)))
    with pytest.raises(TypeError, match="Unknown argument foo"):
        ex.forward(foo=nd.ones((1, 3)))
    with pytest.raises(ValueError, match="only accept keyword argument"):
        ex.forward(data=[1, 2, 3])


def test_copy_params_from_and_reshape():
    ex = fc_net().simple_bind(mx.cpu(), data=(4, 3))
    ex.copy_params_from({"fc_weight": nd.ones((2, 3)), "fc_bias": nd.ones((2,))})
    assert_almost_equal(ex.arg_dict["fc_weight"], np.ones((2, 3)))
    with pytest.raises(ValueError, match='Find name "foo"'):
        ex.copy_params_from({"foo": nd.ones((1,))})
    # The executor's own arrays (MXNet examples pass arg_dict back) copy silently, as MXNet.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ex.copy_params_from(ex.arg_dict)
    small = ex.reshape(data=(2, 3))
    assert small.arg_dict["data"].shape == (2, 3)
    assert small.arg_dict["fc_weight"] is ex.arg_dict["fc_weight"]
    with pytest.raises(mx.MXNetError, match="larger than original"):
        ex.reshape(data=(8, 3))
    assert ex.reshape(allow_up_sizing=True, data=(8, 3)).arg_dict["data"].shape == (8, 3)


def test_reshape_down_views_the_original_arrays():
    # MXNet 1.9.1: a shrunk argument (and its gradient) is the start of the old buffer.
    ex = fc_net().simple_bind(mx.cpu(), data=(4, 3))
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    ex.arg_dict["data"][:] = x
    small = ex.reshape(data=(2, 3))
    assert_almost_equal(small.arg_dict["data"], x[:2])
    small.arg_dict["data"][:] = -1
    assert_almost_equal(ex.arg_dict["data"], np.concatenate([-np.ones((2, 3)), x[2:]]))
    small.grad_dict["data"][:] = 5
    assert_almost_equal(ex.grad_dict["data"][:2], np.full((2, 3), 5))
    w, b = ex.arg_dict["fc_weight"].asnumpy(), ex.arg_dict["fc_bias"].asnumpy()
    assert_almost_equal(small.forward()[0], -np.ones((2, 3)) @ w.T + b, rtol=1e-5)


def test_simple_forward():
    net = mx.sym.Variable("a") * 2 + mx.sym.Variable("b")
    out = simple_forward(net, a=np.ones((2,), np.float32), b=np.arange(2, dtype=np.float32))
    np.testing.assert_allclose(out, [2, 3])


def test_batchnorm_moving_stats_update_in_backward():
    # reference §5.5: data arange(8).reshape(4,2), momentum 0.9 -> mean [0.3,0.4], var [1.4,1.4]
    bn = mx.sym.BatchNorm(mx.sym.Variable("data"), name="bn", fix_gamma=False)
    ex = bn.simple_bind(mx.cpu(), data=(4, 2))
    ex.arg_dict["data"][:] = nd.array(np.arange(8).reshape(4, 2))
    ex.arg_dict["bn_gamma"][:] = 1
    ex.aux_dict["bn_moving_var"][:] = 1
    ex.forward(is_train=True)
    assert_almost_equal(ex.aux_dict["bn_moving_mean"], np.zeros(2))
    ex.backward(nd.ones((4, 2)))
    assert_almost_equal(ex.aux_dict["bn_moving_mean"], np.array([0.3, 0.4]), rtol=1e-5)
    assert_almost_equal(ex.aux_dict["bn_moving_var"], np.array([1.4, 1.4]), rtol=1e-5)


@pytest.mark.parametrize("frozen", [False, True])
def test_batchnorm_under_blockgrad_still_updates_moving_stats(frozen):
    # MXNet 1.9.1 runs BatchNorm's backward on BlockGrad's zero gradient whenever one of its
    # inputs needs a gradient (here gamma), and that backward folds in the batch statistics:
    # moving_mean [0.75, 1.25] (momentum 0.5, batch mean [1.5, 2.5]), gamma's gradient 0.
    # With no input needing one (frozen) MXNet has no backward node: nothing changes.
    data = np.array([[1., 2.], [3., 5.], [0., 1.], [2., 2.]])
    y = mx.sym.BlockGrad(mx.sym.BatchNorm(mx.sym.Variable("d"), name="bn", momentum=0.5), name="stop")
    req = {"d": "null", "bn_gamma": "null" if frozen else "write", "bn_beta": "null"}
    ex = y.simple_bind(mx.cpu(), grad_req=req, d=(4, 2))
    ex.arg_dict["d"][:] = data
    ex.arg_dict["bn_gamma"][:] = 1
    ex.aux_dict["bn_moving_var"][:] = 1
    ex.forward(is_train=True)
    ex.backward(nd.ones((4, 2)))
    want = np.zeros(2) if frozen else 0.5 * data.mean(axis=0)
    assert_almost_equal(ex.aux_dict["bn_moving_mean"], want, rtol=1e-6)
    if not frozen:
        assert_almost_equal(ex.grad_dict["bn_gamma"], np.zeros(2))


def test_float_params_are_single_precision_and_double_params_are_not():
    # MXNet stores BatchNorm's momentum as a C float and a scalar op's scalar as a double, so
    # in float64 the moving mean is 0.1 * (1 - float32(0.9)) * mean and x * 0.17 is exact
    bn = mx.sym.BatchNorm(mx.sym.Variable("data"), name="bn", momentum=0.9) * 0.17
    data = np.arange(8, dtype=np.float64).reshape(4, 2)
    ex = bn.simple_bind(mx.cpu(), data=(4, 2), type_dict={"data": np.float64})
    ex.arg_dict["data"][:] = data
    ex.aux_dict["bn_moving_mean"][:] = 0
    ex.forward(is_train=True)
    ex.backward(nd.ones((4, 2), dtype=np.float64))
    want = (1 - np.float64(np.float32(0.9))) * data.mean(axis=0)
    np.testing.assert_array_equal(ex.aux_dict["bn_moving_mean"].asnumpy(), want)
    x = mx.sym.Variable("x") * 0.17
    out = x.bind(mx.cpu(), {"x": nd.array([1.0], dtype=np.float64)}).forward()[0]
    assert out.asnumpy()[0] == 0.17


_BULK_SCRIPT = """
import sys
import numpy as np
import oxnet as mx
data = mx.sym.Variable("data")
h = mx.sym.Activation(mx.sym.FullyConnected(data, num_hidden=16, name="fc1"), act_type="tanh")
h = mx.sym.Activation(mx.sym.FullyConnected(h, num_hidden=8, name="fc2"), act_type="relu")
net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(h, num_hidden=3, name="fc3"), name="sm")
ex = net.simple_bind(mx.cpu(), data=(5, 7), sm_label=(5,))
rng = np.random.RandomState(0)
for name in sorted(ex.arg_dict):
    a = ex.arg_dict[name]
    a[:] = rng.randint(0, 3, a.shape) if name == "sm_label" else rng.uniform(-1, 1, a.shape)
ex.forward(is_train=True)
ex.backward()
np.savez(sys.argv[1], out=ex.outputs[0].asnumpy(),
         **{k: v.asnumpy() for k, v in ex.grad_dict.items() if v is not None})
"""


@pytest.mark.parametrize("env", [{"MXNET_EXEC_BULK_EXEC_MAX_NODE_TRAIN": "2"},
                                 {"MXNET_EXEC_BULK_EXEC_MAX_NODE_TRAIN": "15"}])
def test_bulk_execution_matches_op_by_op(tmp_path, env):
    # Segments of 2 ops (several per pass) and of 15 (one per pass) against bulking off:
    # the same results, bit for bit (the setting is read once per process).
    def run(extra, name):
        path = str(tmp_path / name)
        r = subprocess.run([sys.executable, "-c", _BULK_SCRIPT, path], capture_output=True,
                           text=True, timeout=300, env=dict(os.environ, **extra))
        assert r.returncode == 0, r.stderr[-2000:]
        return np.load(path)

    off = run({"MXNET_EXEC_BULK_EXEC_TRAIN": "0"}, "off.npz")
    on = run(env, "on.npz")
    assert sorted(off.files) == sorted(on.files) and "fc1_weight" in off.files
    for k in off.files:
        np.testing.assert_array_equal(on[k], off[k], err_msg=k)


def test_partial_zeros_shape_completed_at_bind():
    # MXNet 1.9.1: zeros((0, 3)) feeding FullyConnected takes its batch size from the rest of
    # the graph (mx.rnn's begin states rely on it); infer_shape_partial(y=(2, 4), x=(0, 3)) on
    # FullyConnected(x) + y gives x=(2, 3).
    x, y = mx.sym.Variable("x"), mx.sym.Variable("y")
    net = mx.sym.FullyConnected(x, num_hidden=4, no_bias=True, name="fc") + y
    assert net.infer_shape_partial(y=(2, 4), x=(0, 3))[0] == [(2, 3), (4, 3), (2, 4)]
    z = mx.sym.zeros((0, 3), name="start")
    net = mx.sym.FullyConnected(z, num_hidden=4, name="fc") + y
    exe = net.simple_bind(mx.cpu(), y=(2, 4))
    exe.arg_dict["y"][:] = np.arange(8).reshape(2, 4)
    exe.arg_dict["fc_bias"][:] = np.array([1.0, 2.0, 3.0, 4.0])
    exe.forward()
    # zeros @ W + b + y
    assert exe.outputs[0].asnumpy().tolist() == (np.arange(8).reshape(2, 4) + [1, 2, 3, 4]).tolist()
    assert exe.outputs[0].shape == (2, 4)


_CHAIN_SCRIPT = """
import json, sys
import numpy as np
import oxnet as mx
from oxnet import _native
layers, width, batch = 40, 256, 256
h = mx.sym.Variable("data")
for i in range(layers):
    h = mx.sym.FullyConnected(h, num_hidden=width, no_bias=True, name="fc%d" % i)
ex = h.simple_bind(mx.cpu(), data=(batch, width), grad_req="null")
rng = np.random.RandomState(0)
ws = [rng.uniform(-1, 1, (width, width)) / 9 for _ in range(layers)]
for i, w in enumerate(ws):
    ex.arg_dict["fc%d_weight" % i][:] = w
x = rng.uniform(-1, 1, (batch, width))
ex.arg_dict["data"][:] = x
mx.nd.waitall()
before = sum(_native.cpu_memory_info())
out = ex.forward(is_train=False)[0].asnumpy()
grown = sum(_native.cpu_memory_info()) - before
want = x.astype(np.float32)
for w in ws:
    want = want @ w.astype(np.float32).T
print(json.dumps({"grown": grown, "err": float(np.abs(out - want).max()),
                  "scale": float(np.abs(want).max())}))
"""


def test_dead_intermediates_are_reused_by_later_steps():
    # A forward pass is pushed far ahead of its kernels, so buffers freed only when their
    # last reader has run would not come back in time: 40 chained layers would hold 40
    # activations at once. A dead slot's array becomes a later step's output instead (the
    # engine orders the write after the read), so the pass needs a few. A fresh process, so
    # that no buffer cached by other tests hides the growth.
    r = subprocess.run([sys.executable, "-c", _CHAIN_SCRIPT], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    activation = 256 * 256 * 4
    assert res["err"] <= 1e-4 * res["scale"], res
    assert res["grown"] <= 4 * activation, (res["grown"] / activation, "activations allocated")


def test_simple_bind_takes_declared_dtypes_and_skips_non_shape_keywords():
    # MXNet 1.9.1: float32 only for arguments without a __dtype__; keywords that are not
    # shapes (op parameters passed along) are ignored.
    a, b = mx.sym.Variable("a", dtype="float64"), mx.sym.Variable("b", dtype="float64")
    ex = mx.sym.dot(a, b).simple_bind(mx.cpu(), a=(2, 2), b=(2, 2))
    assert [x.dtype for x in ex.arg_arrays] == [np.float64, np.float64]
    assert ex.forward()[0].dtype == np.float64
    x = mx.sym.Variable("x", dtype="int32")
    ex = mx.sym.Cast(x * 2, dtype="float16").simple_bind(mx.cpu(), x=(2,), axis=0, mode="clip")
    assert ex.arg_arrays[0].dtype == np.int32 and ex.forward()[0].dtype == np.float16


def test_head_gradient_of_another_dtype_is_cast_and_unused_ones_are_optional():
    a, b = mx.sym.Variable("a"), mx.sym.Variable("b")
    c = mx.sym.cast(a, dtype="float64") % mx.sym.cast(b, dtype="float64")
    ga, gb = nd.zeros((3,)), nd.zeros((3,))
    ex = c.bind(mx.cpu(), args={"a": nd.array([5, 7, 9]), "b": nd.array([2, 3, 4])},
                args_grad=[ga, gb])
    ex.forward(is_train=True)
    ex.backward([nd.ones((3,))])  # a float32 head gradient for a float64 output, as MXNet takes
    assert_almost_equal(ga, np.ones(3))
    assert_almost_equal(gb, -np.floor(np.array([5, 7, 9]) / np.array([2, 3, 4])))
    # The gradient of a comparison is zero whatever comes in: no head gradient is needed.
    ex = (a > b).simple_bind(mx.cpu(), a=(3,), b=(3,))
    ex.arg_dict["a"][:] = 1
    ex.grad_dict["a"][:] = 5
    ex.forward(is_train=True)
    ex.backward()
    assert_almost_equal(ex.grad_dict["a"], np.zeros(3))
    with pytest.raises(mx.MXNetError, match="head_grad"):
        ex = (a * 2).simple_bind(mx.cpu(), a=(3,))
        ex.forward(is_train=True)
        ex.backward()
    # A head gradient nothing reads is not checked either: MXNet's own test_shape_array and
    # test_size_array give the input's shape (3, 4) for the (2,) output; the gradient is 0.
    for op in ("shape_array", "size_array", "argmax"):
        ga = nd.full((3, 4), 5)
        ex = getattr(mx.sym, op)(a).bind(mx.cpu(), args={"a": nd.ones((3, 4))}, args_grad=[ga])
        ex.forward(is_train=True)
        ex.backward([nd.ones((3, 4))])
        assert_almost_equal(ga, np.zeros((3, 4)))
    ex = mx.sym.relu(a).bind(mx.cpu(), args={"a": nd.ones((3, 4))}, args_grad=[nd.zeros((3, 4))])
    ex.forward(is_train=True)
    with pytest.raises(mx.MXNetError, match=re.escape("out_grads[0] has shape [2]")):
        ex.backward([nd.ones((2,))])  # relu's gradient reads it: checked


def test_reshapes_of_computed_values_are_views_and_in_place_ops_respect_them():
    # Flatten/Reshape of a value the graph computed hands out a view (no kernel runs); an
    # elementwise op that could overwrite its dying input in place must not, while a view of
    # that input is still to be read (z below reads y's memory after sigmoid(y) ran).
    x = mx.sym.Variable("x")
    y = mx.sym.relu(x * 2)
    z = mx.sym.Reshape(mx.sym.Flatten(y), shape=(2, 6))
    w = mx.sym.Reshape(mx.sym.sigmoid(y), shape=(2, 6))
    net = mx.sym.MakeLoss(mx.sym.sum((z + w) * mx.sym.Variable("c")))
    rng = np.random.RandomState(2)
    xv = rng.uniform(-1, 1, (2, 3, 2)).astype(np.float32)
    cv = rng.uniform(-1, 1, (2, 6)).astype(np.float32)
    exe = net.bind(mx.cpu(), {"x": mx.nd.array(xv), "c": mx.nd.array(cv)},
                   args_grad={"x": mx.nd.zeros((2, 3, 2))})
    mx.profiler.set_config(profile_all=True, aggregate_stats=True,
                           filename=os.devnull)
    mx.profiler.set_state("run")
    try:
        exe.forward(is_train=True)
        exe.backward()
        mx.nd.waitall()
    finally:
        mx.profiler.set_state("stop")
    table = mx.profiler.dumps(reset=True)
    yv = np.maximum(xv * 2, 0)
    sig = 1 / (1 + np.exp(-yv))
    want = ((yv + sig).reshape(2, 6) * cv).sum()
    np.testing.assert_allclose(exe.outputs[0].asnumpy(), [want], rtol=1e-5)
    dy = cv.reshape(2, 3, 2) * (1 + sig * (1 - sig))
    np.testing.assert_allclose(exe.grad_dict["x"].asnumpy(), dy * 2 * (xv > 0), rtol=1e-5, atol=1e-6)
    assert "sigmoid" in table and "Flatten" not in table and "Reshape" not in table, table
    # Inference keeps nothing for a backward pass: y dies at sigmoid, the in-place candidate.
    np.testing.assert_allclose(exe.forward(is_train=False)[0].asnumpy(), [want], rtol=1e-5)


def test_simple_bind_ignores_type_dict_names_the_symbol_lacks():
    # MXNet 1.9.1 ignores them ('ok float32').
    ex = fc_net().simple_bind(mx.cpu(), data=(2, 3), type_dict={"data": "float32",
                                                                  "not_there": "float16"})
    assert ex.arg_dict["data"].dtype == np.float32


def test_an_output_listed_twice_gets_both_head_gradients():
    # d/dx (1 * y + 2 * y) for y = 2x is 6 per element. MXNet 1.9.1 keeps only the last head
    # gradient of a repeated output (4 here), in its executor and in autograd alike; an
    # unrolled RNN grouping its outputs with its states lists the last output twice.
    x = mx.sym.Variable("x")
    y = x * 2
    ex = mx.sym.Group([y, y * 1, y]).bind(mx.cpu(), {"x": mx.nd.ones(2)},
                                          args_grad={"x": mx.nd.zeros(2)})
    ex.forward(is_train=True)
    ex.backward([mx.nd.ones(2), mx.nd.ones(2) * 2, mx.nd.ones(2) * 3])
    np.testing.assert_array_equal(ex.grad_dict["x"].asnumpy(), [12, 12])
    a = mx.nd.ones(2)
    a.attach_grad()
    with mx.autograd.record():
        b = a * 2
    mx.autograd.backward([b, b], [mx.nd.ones(2), mx.nd.ones(2) * 2])
    np.testing.assert_array_equal(a.grad.asnumpy(), [6, 6])


@pytest.mark.parametrize("case, reqs, want", [
    ("plain", "null", 0.5), ("plain", "write", 1.0), ("plain", {"x": "write"}, 1.0),
    ("plain", {"bn_beta": "write"}, 1.0), ("mean_var", "null", 1.0),
    ("mean_var_first", "null", 0.5), ("internal", "null", 0.5), ("v1", "null", 1.0),
])
def test_fixed_gamma_is_reset_only_where_batchnorm_mean_is_read(case, reqs, want):
    # MXNet 1.9.1 resets a fixed gamma to 1 in BatchNorm's forward only when the mean output
    # is requested (a backward pass reads it, or the graph outputs it), in either is_train:
    # an inference executor leaves a loaded gamma as it was. BatchNorm_v1 always resets it.
    x = mx.sym.var("x")
    fc = mx.sym.FullyConnected(x, num_hidden=3, no_bias=True, name="fc")
    op = mx.sym.BatchNorm_v1 if case == "v1" else mx.sym.BatchNorm
    bn = op(fc, fix_gamma=True, output_mean_var=case.startswith("mean_var"), name="bn")
    net = {"mean_var_first": lambda: bn[0],
           "internal": lambda: bn.get_internals()["bn_output"]}.get(case, lambda: bn)()
    if isinstance(reqs, dict):
        reqs = {n: reqs.get(n, "null") for n in net.list_arguments()}
    for is_train in (False, True):
        ex = net.simple_bind(mx.cpu(), x=(4, 2), grad_req=reqs)
        ex.arg_dict["x"][:] = np.arange(8).reshape(4, 2)
        ex.arg_dict["fc_weight"][:] = 1
        ex.arg_dict["bn_gamma"][:] = 0.5
        y = ex.forward(is_train=is_train)[0].asnumpy()
        np.testing.assert_array_equal(ex.arg_dict["bn_gamma"].asnumpy(), [want] * 3)
        # The output takes gamma as 1 either way.
        h = np.arange(8).reshape(4, 2).sum(1, keepdims=True).repeat(3, 1).astype(np.float64)
        mean, var = (h.mean(0), h.var(0)) if is_train else (0.0, 0.0)  # aux start at 0
        np.testing.assert_allclose(y, (h - mean) / np.sqrt(var + 1e-3), rtol=1e-5)


def test_simple_bind_refuses_an_empty_grad_req_dict():
    # MXNet 1.9.1: RuntimeError "grad_req in simple_bind cannot be an empty dict".
    with pytest.raises(RuntimeError, match="empty dict"):
        fc_net().simple_bind(mx.cpu(), data=(2, 3), grad_req={})
