"""Model parallelism (`group2ctx`, `mx.AttrScope(ctx_group=...)`, `Module(group2ctxs=...)`):
where MXNet 1.9.1 puts each array (contexts recorded from it: MXNet's own
test_multi_device_exec / test_model_parallel / test_module ctx-group cases), with values checked
against numpy and against the same network on one context."""
import numpy as np
import pytest

import oxnet as mx
from oxnet.base import MXNetError


def two_stage_mlp():
    with mx.AttrScope(ctx_group="stage1"):
        data = mx.sym.Variable("data")
        fc1 = mx.sym.FullyConnected(data=data, name="fc1", num_hidden=8)
        act1 = mx.sym.Activation(data=fc1, name="relu1", act_type="relu")
    with mx.AttrScope(ctx_group="stage2"):
        fc2 = mx.sym.FullyConnected(data=act1, name="fc2", num_hidden=4)
        bn = mx.sym.BatchNorm(fc2, name="bn")
        return mx.sym.SoftmaxOutput(data=bn, name="softmax")


G2C = {"stage1": mx.cpu(1), "stage2": mx.cpu(2)}


def names_on(names, arrays):
    return {n: str(a.context) for n, a in zip(names, arrays) if a is not None}


def test_simple_bind_places_arrays_by_group_as_mxnet():
    net = two_stage_mlp()
    ex = net.simple_bind(mx.cpu(0), group2ctx=G2C, data=(2, 6))
    stage1 = {"data", "fc1_weight", "fc1_bias"}
    want = {n: "cpu(1)" if n in stage1 else "cpu(2)" for n in net.list_arguments()}
    assert names_on(net.list_arguments(), ex.arg_arrays) == want
    assert names_on(net.list_arguments(), ex.grad_arrays) == want
    assert names_on(net.list_auxiliary_states(), ex.aux_arrays) == {
        "bn_moving_mean": "cpu(2)", "bn_moving_var": "cpu(2)"}
    assert [str(o.context) for o in ex.outputs] == ["cpu(2)"]
    req = {n: "null" if n == "data" else "write" for n in net.list_arguments()}
    ex = net.simple_bind(mx.cpu(0), group2ctx=G2C, data=(2, 6), grad_req=req)
    assert names_on(net.list_arguments(), ex.arg_arrays) == want
    assert ex.grad_dict["data"] is None


def test_placed_executor_computes_what_one_context_does():
    net = two_stage_mlp()
    placed = net.simple_bind(mx.cpu(0), group2ctx=G2C, data=(5, 6))
    single = net.simple_bind(mx.cpu(0), data=(5, 6))
    rng = np.random.RandomState(0)
    for n in net.list_arguments():
        v = rng.uniform(-1, 1, placed.arg_dict[n].shape).astype("f")
        placed.arg_dict[n][:] = v
        single.arg_dict[n][:] = v
    labels = [1, 2, 0, 3, 1]
    placed.arg_dict["softmax_label"][:] = labels
    single.arg_dict["softmax_label"][:] = labels
    for is_train in (True, False):
        placed.forward(is_train=is_train)
        single.forward(is_train=is_train)
        np.testing.assert_allclose(placed.outputs[0].asnumpy(), single.outputs[0].asnumpy(),
                                   rtol=1e-6, atol=1e-7)
    placed.forward(is_train=True)
    single.forward(is_train=True)
    placed.backward()
    single.backward()
    for n in net.list_arguments():
        np.testing.assert_allclose(placed.grad_dict[n].asnumpy(), single.grad_dict[n].asnumpy(),
                                   rtol=1e-5, atol=1e-6, err_msg=n)
    for n in net.list_auxiliary_states():
        np.testing.assert_allclose(placed.aux_dict[n].asnumpy(), single.aux_dict[n].asnumpy(),
                                   rtol=1e-6, err_msg=n)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_bind_chain_over_two_contexts(dtype):
    # MXNet's test_model_parallel.test_chain: (a + b) * 3 in dev1, + c in dev2.
    ctx1, ctx2 = mx.cpu(0), mx.cpu(1)
    with mx.AttrScope(ctx_group="dev1"):
        a, b = mx.sym.Variable("data1"), mx.sym.Variable("data2")
        x = (a + b) * 3
    with mx.AttrScope(ctx_group="dev2"):
        c = mx.sym.Variable("data3")
        net = x + c
    shape = (4, 5)
    rng = np.random.RandomState(1)
    vals = [rng.uniform(-1, 1, shape).astype(dtype) for _ in range(3)]
    ctxs = [ctx1, ctx1, ctx2]
    args = [mx.nd.array(v, ctx=c, dtype=dtype) for v, c in zip(vals, ctxs)]
    grads = [mx.nd.zeros(shape, ctx=c, dtype=dtype) for c in ctxs]
    ex = net.bind(ctx1, args=args, args_grad=grads,
                  group2ctx={"dev1": ctx1, "dev2": ctx2})
    ex.forward(is_train=True)
    assert ex.outputs[0].context == ctx2
    want = (vals[0] + vals[1]) * 3 + vals[2]
    tol = 1e-3 if dtype == "float16" else 1e-6
    np.testing.assert_allclose(ex.outputs[0].asnumpy(), want, rtol=tol, atol=tol)
    head = rng.uniform(-1, 1, shape).astype(dtype)
    ex.backward([mx.nd.array(head, ctx=ctx1, dtype=dtype)])
    assert [g.context for g in grads] == ctxs
    for g, scale in zip(grads, (3, 3, 1)):
        np.testing.assert_allclose(g.asnumpy(), head * scale, rtol=tol, atol=tol)


def test_ungrouped_ops_follow_their_inputs_and_grad_add_crosses_contexts():
    # MXNet: z and w (no group) run where their first input is (cpu(2)); variables without a
    # group stay on the bound context.
    a, s, c = mx.sym.Variable("a"), mx.sym.Variable("shared"), mx.sym.Variable("c")
    with mx.AttrScope(ctx_group="g1"):
        a1 = mx.sym.Variable("a1")
        x = mx.sym.elemwise_mul(mx.sym.elemwise_mul(a, a1, name="x"), s, name="xs")
    with mx.AttrScope(ctx_group="g2"):
        b = mx.sym.Variable("b")
        y = mx.sym.elemwise_add(x, b, name="y")
        y2 = mx.sym.elemwise_add(y, s, name="y2")
    w = mx.sym.relu(mx.sym.elemwise_add(y2, c, name="z"), name="w")
    out = mx.sym.Group([w, y])
    req = {"a": "null", "shared": "null", "c": "null", "a1": "add", "b": "add"}
    ex = out.simple_bind(mx.cpu(3), group2ctx={"g1": mx.cpu(1), "g2": mx.cpu(2)},
                         grad_req=req, a=(2,), a1=(2,), b=(2,), c=(2,), shared=(2,))
    assert names_on(out.list_arguments(), ex.arg_arrays) == {
        "a": "cpu(3)", "a1": "cpu(1)", "shared": "cpu(3)", "b": "cpu(2)", "c": "cpu(3)"}
    for i, n in enumerate(out.list_arguments()):
        ex.arg_dict[n][:] = i + 1
    ex.forward(is_train=True)
    # a=1 a1=2 shared=3 b=4 c=5: y = 1*2*3 + 4 = 10, w = y + 3 + 5 = 18 (MXNet's values).
    assert [(str(o.context), o.asnumpy().tolist()) for o in ex.outputs] == [
        ("cpu(2)", [18.0, 18.0]), ("cpu(2)", [10.0, 10.0])]
    for _ in range(2):  # grad_req 'add' accumulates across contexts
        ex.backward([mx.nd.ones((2,), ctx=mx.cpu(0)), mx.nd.ones((2,), ctx=mx.cpu(3))])
    # d(w + y)/d a1 = 2 * a * shared = 6 per backward; d/d b = 2.
    assert ex.grad_dict["a1"].asnumpy().tolist() == [12.0, 12.0]
    assert ex.grad_dict["b"].asnumpy().tolist() == [4.0, 4.0]


def test_group_missing_from_group2ctx_is_named():
    with mx.AttrScope(ctx_group="g3"):
        q = mx.sym.relu(mx.sym.Variable("q"), name="q_relu")
    with pytest.raises(MXNetError, match="device assignment not found for group g3"):
        q.simple_bind(mx.cpu(0), group2ctx={"g1": mx.cpu(1)}, q=(2,))


def test_bind_refuses_arrays_off_its_context_without_group2ctx():
    net = mx.sym.Variable("x") + mx.sym.Variable("y")
    args = {"x": mx.nd.ones((2,), ctx=mx.cpu(0)), "y": mx.nd.ones((2,), ctx=mx.cpu(1))}
    with pytest.raises(MXNetError, match=r"y is in cpu\(1\) while binding with ctx=cpu\(0\)"):
        net.bind(mx.cpu(0), args=args)


def test_head_gradient_on_another_context_is_copied():
    x = mx.sym.Variable("x")
    ex = (x * 2).bind(mx.cpu(0), args={"x": mx.nd.ones((2,))},
                      args_grad={"x": mx.nd.zeros((2,))})
    ex.forward(is_train=True)
    ex.backward([mx.nd.array([1.0, 3.0], ctx=mx.cpu(1))])
    assert ex.grad_dict["x"].asnumpy().tolist() == [2.0, 6.0]


@pytest.mark.parametrize("contexts, group2ctxs, want", [
    ([mx.cpu(0)], {"dev1": mx.cpu(1), "dev2": mx.cpu(2)}, [[("cpu(1)", "cpu(2)"), "cpu(2)"]]),
    ([mx.cpu(0), mx.cpu(1)],
     [{"dev1": mx.cpu(2), "dev2": mx.cpu(3)}, {"dev1": mx.cpu(4), "dev2": mx.cpu(5)}],
     [[("cpu(2)", "cpu(3)"), "cpu(3)"], [("cpu(4)", "cpu(5)"), "cpu(5)"]]),
    ([mx.cpu(0), mx.cpu(1)], {"dev1": mx.cpu(2), "dev2": [mx.cpu(3), mx.cpu(3)]},
     [[("cpu(2)", "cpu(3)"), "cpu(3)"], [("cpu(2)", "cpu(3)"), "cpu(3)"]]),
])
def test_module_group2ctxs(contexts, group2ctxs, want):
    # MXNet's test_module.test_module_ctx_group, with the contexts MXNet 1.9.1 gave.
    with mx.AttrScope(ctx_group="dev1"):
        a = mx.sym.Variable("a") * 2
    with mx.AttrScope(ctx_group="dev2"):
        c = a + mx.sym.Variable("b")
    shape = (2, 5)
    mod = mx.mod.Module(c, context=contexts, data_names=["a", "b"], label_names=None,
                        group2ctxs=group2ctxs)
    mod.bind(data_shapes=[["a", shape], ["b", shape]], inputs_need_grad=True)
    mod.init_params()
    mod.forward(mx.io.DataBatch(data=[mx.nd.ones(shape), mx.nd.ones(shape) * 3]),
                is_train=True)
    mod.backward([mx.nd.ones(shape)])
    execs = mod._exec_group.execs
    assert [[(str(e.arg_dict["a"].context), str(e.arg_dict["b"].context)),
             str(e.outputs[0].context)] for e in execs] == want
    np.testing.assert_array_equal(mod.get_outputs()[0].asnumpy(), np.full(shape, 5.0))
    grads = mod.get_input_grads()
    np.testing.assert_array_equal(grads[0].asnumpy(), np.full(shape, 2.0))
    np.testing.assert_array_equal(grads[1].asnumpy(), np.full(shape, 1.0))


def test_module_fit_over_two_groups_matches_one_context():
    rng = np.random.RandomState(3)
    x = rng.uniform(-1, 1, (64, 6)).astype("f")
    y = (x[:, 0] > 0).astype("f")

    def train(group2ctxs):
        mx.random.seed(7)
        mod = mx.mod.Module(two_stage_mlp(), context=mx.cpu(0), group2ctxs=group2ctxs)
        it = mx.io.NDArrayIter(x, y, batch_size=16)
        mod.fit(it, num_epoch=3, optimizer="sgd", initializer=mx.init.Xavier(),
                optimizer_params={"learning_rate": 0.5})
        arg, aux = mod.get_params()
        return {k: v.asnumpy() for k, v in list(arg.items()) + list(aux.items())}

    single, placed = train(None), train(G2C)
    assert single.keys() == placed.keys()
    for k in single:
        np.testing.assert_allclose(placed[k], single[k], rtol=1e-5, atol=1e-6, err_msg=k)
