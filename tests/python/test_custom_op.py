"""mx.operator custom ops (CustomOp / CustomOpProp) in symbols, executors, Module, mx.nd and
autograd, against numpy and against the built-in operators they re-implement."""
import numpy as np
import pytest

import oxnet as mx


class _Softmax(mx.operator.CustomOp):
    """MXNet's documented example: a softmax loss written in numpy."""

    def forward(self, is_train, req, in_data, out_data, aux):
        x = in_data[0].asnumpy()
        y = np.exp(x - x.max(axis=1, keepdims=True))
        y /= y.sum(axis=1, keepdims=True)
        self.assign(out_data[0], req[0], mx.nd.array(y))

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        label = in_data[1].asnumpy().ravel().astype(int)
        y = out_data[0].asnumpy()
        y[np.arange(label.shape[0]), label] -= 1.0
        self.assign(in_grad[0], req[0], mx.nd.array(y))


@mx.operator.register("test_softmax")
class _SoftmaxProp(mx.operator.CustomOpProp):
    def __init__(self):
        super(_SoftmaxProp, self).__init__(need_top_grad=False)

    def list_arguments(self):
        return ["data", "label"]

    def list_outputs(self):
        return ["output"]

    def infer_shape(self, in_shape):
        return [in_shape[0], (in_shape[0][0],)], [in_shape[0]], []

    def create_operator(self, ctx, shapes, dtypes):
        return _Softmax()


class _Scale(mx.operator.CustomOp):
    """y = scale * x**2, keeping x for backward on the instance; counts calls in an aux state."""

    def __init__(self, scale):
        super(_Scale, self).__init__()
        self.scale = scale
        self.saved = None

    def forward(self, is_train, req, in_data, out_data, aux):
        self.saved = in_data[0].copy()
        self.assign(out_data[0], req[0], self.scale * in_data[0] * in_data[0])
        if aux:
            aux[0][:] = aux[0] + 1

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        self.assign(in_grad[0], req[0], 2 * self.scale * self.saved * out_grad[0])


@mx.operator.register("test_scale")
class _ScaleProp(mx.operator.CustomOpProp):
    def __init__(self, scale="1", count="False"):
        super(_ScaleProp, self).__init__(need_top_grad=True)
        # MXNet hands keyword arguments over as strings.
        assert isinstance(scale, str) and isinstance(count, str)
        self.scale = float(scale)
        self.count = count == "True"

    def list_auxiliary_states(self):
        return ["calls"] if self.count else []

    def infer_shape(self, in_shape):
        return in_shape, [in_shape[0]], [(1,)] if self.count else []

    def create_operator(self, ctx, shapes, dtypes):
        return _Scale(self.scale)


def _mlp(head):
    data = mx.sym.var("data")
    fc = mx.sym.FullyConnected(data, num_hidden=5, name="fc")
    return head(fc)


def test_custom_loss_matches_softmax_output_in_an_executor():
    x = np.random.RandomState(0).randn(8, 4).astype(np.float32)
    y = np.arange(8) % 5
    grads = []
    for head in (lambda s: mx.sym.Custom(s, op_type="test_softmax", name="softmax"),
                 lambda s: mx.sym.SoftmaxOutput(s, name="softmax")):
        net = _mlp(head)
        assert net.list_arguments() == ["data", "fc_weight", "fc_bias", "softmax_label"]
        ex = net.simple_bind(mx.cpu(), data=(8, 4))
        ex.arg_dict["data"][:] = x
        ex.arg_dict["fc_weight"][:] = np.linspace(-1, 1, 20).reshape(5, 4)
        ex.arg_dict["fc_bias"][:] = 0.1
        ex.arg_dict["softmax_label"][:] = y
        ex.forward(is_train=True)
        ex.backward()
        grads.append((ex.outputs[0].asnumpy(), ex.grad_dict["fc_weight"].asnumpy()))
    np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-4, atol=1e-5)


def test_custom_loss_trains_a_module():
    rng = np.random.RandomState(1)
    x = rng.randn(200, 4).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32) + 2 * (x[:, 1] > 0)
    net = _mlp(lambda s: mx.sym.Custom(s, op_type="test_softmax", name="softmax"))
    mod = mx.mod.Module(net)
    it = mx.io.NDArrayIter(x, y, 20, shuffle=True)
    mod.fit(it, num_epoch=15, optimizer_params={"learning_rate": 0.5}, progress_bar=False)
    acc = mod.score(mx.io.NDArrayIter(x, y, 20), "acc")[0][1]
    assert acc > 0.9


def test_imperative_custom_with_autograd_keeps_instance_state():
    x = mx.nd.array([[1.0, -2.0, 3.0]])
    x.attach_grad()
    with mx.autograd.record():
        y = mx.nd.Custom(x, op_type="test_scale", scale=1.5)
    np.testing.assert_allclose(y.asnumpy(), 1.5 * x.asnumpy() ** 2)
    y.backward(mx.nd.array([[1.0, 2.0, 0.5]]))
    np.testing.assert_allclose(x.grad.asnumpy(), 3.0 * np.array([[1.0, -2.0, 3.0]])
                               * np.array([[1.0, 2.0, 0.5]]))


def test_create_operator_gets_mxnet_type_flags():
    seen = []

    @mx.operator.register("test_dtype_flags")
    class _Prop(mx.operator.CustomOpProp):
        def create_operator(self, ctx, shapes, dtypes):
            seen.append((shapes, dtypes))
            return _Scale(1.0)

    for dt in ("float32", "float64", "float16", "int32"):
        mx.nd.Custom(mx.nd.ones((2, 3), dtype=dt), op_type="test_dtype_flags").wait_to_read()
    # MXNet 1.9.1's flags (mshadow TypeFlag), as ints: float32 0, float64 1, float16 2, int32 4.
    assert seen == [([[2, 3]], [0]), ([[2, 3]], [1]), ([[2, 3]], [2]), ([[2, 3]], [4])]
    assert all(type(d) is int for _, dts in seen for d in dts)


class _SparseSqr(mx.operator.CustomOp):
    """MXNet's example/numpy-ops/custom_sparse_sqr.py: squares the stored values of a csr
    input through its csr components."""

    def __init__(self, seen):
        super(_SparseSqr, self).__init__()
        self.seen = seen

    def forward(self, is_train, req, in_data, out_data, aux):
        x = in_data[0]
        self.seen.append((x.stype, out_data[0].stype))
        if x.stype == "csr":
            y = mx.nd.sparse.csr_matrix((x.data * x.data, x.indices, x.indptr), shape=x.shape)
        else:
            y = x * x
        self.assign(out_data[0], req[0], y)

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        self.assign(in_grad[0], req[0], 2 * in_data[0] * out_grad[0])


_SPARSE_SEEN = []


@mx.operator.register("test_sparse_sqr")
class _SparseSqrProp(mx.operator.CustomOpProp):
    def infer_storage_type(self, in_stype):
        st = "csr" if in_stype[0] == "csr" else "default"
        return [st], [st], []

    def create_operator(self, ctx, shapes, dtypes):
        return _SparseSqr(_SPARSE_SEEN)


def test_custom_infer_storage_type_gives_sparse_arrays():
    del _SPARSE_SEEN[:]
    dense = np.array([[0, 2, 0], [-3, 0, 0], [0, 0, 4]], dtype=np.float32)
    x = mx.nd.array(dense).tostype("csr")
    y = mx.nd.Custom(x, op_type="test_sparse_sqr")
    # As MXNet 1.9.1: forward sees csr in and out, and the result is csr.
    assert _SPARSE_SEEN == [("csr", "csr")]
    assert y.stype == "csr"
    np.testing.assert_array_equal(y.asnumpy(), dense ** 2)
    np.testing.assert_array_equal(y.indices.asnumpy(), [1, 0, 2])
    yd = mx.nd.Custom(mx.nd.array(dense), op_type="test_sparse_sqr")
    assert _SPARSE_SEEN[1] == ("default", "default") and yd.stype == "default"
    x.attach_grad()
    with mx.autograd.record():
        z = mx.nd.Custom(x, op_type="test_sparse_sqr")
    z.backward(mx.nd.ones((3, 3)))
    np.testing.assert_array_equal(x.grad.asnumpy(), 2 * dense)
    # Bound with a csr argument, the output is csr too (MXNet 1.9.1).
    sym = mx.sym.Custom(mx.sym.var("x", stype="csr"), op_type="test_sparse_sqr")
    ex = sym.bind(mx.cpu(), {"x": x})
    out = ex.forward()[0]
    assert out.stype == "csr"
    np.testing.assert_array_equal(out.asnumpy(), dense ** 2)
    ex = sym.bind(mx.cpu(), {"x": mx.nd.array(dense)})
    assert ex.forward()[0].stype == "default"


def test_default_infer_type_leaves_unknown_inputs_unknown():
    seen = []

    @mx.operator.register("test_two_inputs")
    class _Prop(mx.operator.CustomOpProp):
        def list_arguments(self):
            return ["data", "weight"]

        def infer_type(self, in_type):
            seen.append(list(in_type))
            return super(_Prop, self).infer_type(in_type)

        def create_operator(self, ctx, shapes, dtypes):
            return _Scale(1.0)

    s = mx.sym.Custom(mx.sym.var("data"), mx.sym.var("weight"), op_type="test_two_inputs")
    # MXNet 1.9.1: the prop sees None for the unknown weight, keeps it, and the symbol's
    # types stay undecided (with a warning naming weight).
    with pytest.warns(UserWarning, match="weight"):
        assert s.infer_type(data="float32") == (None, None, None)
    assert [np.float32, None] in seen
    assert s.infer_type(data="float32", weight="float16") == (
        [np.float32, np.float16], [np.float32], [])


def test_custom_symbol_json_shapes_types_and_aux():
    data = mx.sym.var("data")
    s = mx.sym.Custom(data, op_type="test_scale", scale=2, count=True, name="sq")
    assert s.list_arguments() == ["data"]
    assert s.list_auxiliary_states() == ["sq_calls"]
    assert s.list_outputs() == ["sq_output"]
    js = s.tojson()
    assert '"op": "Custom"' in js and '"op_type": "test_scale"' in js
    s2 = mx.sym.load_json(js)
    assert s2.tojson() == js
    assert s2.infer_shape(data=(2, 3)) == ([(2, 3)], [(2, 3)], [(1,)])
    assert s2.infer_type(data="float64") == ([np.float64], [np.float64], [np.float64])
    ex = s2.simple_bind(mx.cpu(), data=(2, 3))
    ex.arg_dict["data"][:] = np.arange(6).reshape(2, 3)
    ex.aux_dict["sq_calls"][:] = 0
    for _ in range(3):
        ex.forward(is_train=True)
        ex.backward(mx.nd.ones((2, 3)))
    np.testing.assert_allclose(ex.outputs[0].asnumpy(), 2 * np.arange(6).reshape(2, 3) ** 2)
    np.testing.assert_allclose(ex.grad_dict["data"].asnumpy(), 4 * np.arange(6).reshape(2, 3))
    np.testing.assert_allclose(ex.aux_dict["sq_calls"].asnumpy(), [3])


def test_custom_shape_inference_fills_the_label():
    net = _mlp(lambda s: mx.sym.Custom(s, op_type="test_softmax", name="softmax"))
    arg, out, _ = net.infer_shape(data=(6, 4))
    assert dict(zip(net.list_arguments(), arg))["softmax_label"] == (6,)
    assert out == [(6, 5)]


class _Raises(mx.operator.CustomOp):
    def forward(self, is_train, req, in_data, out_data, aux):
        raise KeyError("boom in forward")


@mx.operator.register("test_raises")
class _RaisesProp(mx.operator.CustomOpProp):
    def create_operator(self, ctx, shapes, dtypes):
        return _Raises()


def test_custom_errors():
    # MXNet's type, with the user's exception as its cause.
    with pytest.raises(mx.MXNetError, match="boom in forward") as err:
        mx.nd.Custom(mx.nd.ones(3), op_type="test_raises")
    assert isinstance(err.value.__cause__, KeyError)
    with pytest.raises(mx.MXNetError, match="op_type 'nope' is not registered"):
        mx.nd.Custom(mx.nd.ones(3), op_type="nope")
    with pytest.raises(mx.MXNetError, match="op_type"):
        mx.nd.Custom(mx.nd.ones(3))
    with pytest.raises(ValueError, match="takes 1 inputs"):
        mx.nd.Custom(mx.nd.ones(3), mx.nd.ones(3), op_type="test_scale")
    with pytest.raises(TypeError):
        mx.operator.register("bad")(object)
    # MXNet lists its backend operators (the registered types run through `Custom`).
    ops = mx.operator.get_all_registered_operators()
    assert {"Custom", "Activation", "_contrib_quadratic", "linalg_gemm"} <= set(ops)
    assert "test_softmax" not in ops


class _NumpySoftmax(mx.operator.NumpyOp):
    """MXNet 1.x's example/numpy-ops softmax loss, as users wrote it."""

    def __init__(self):
        super(_NumpySoftmax, self).__init__(False)

    def list_arguments(self):
        return ["data", "label"]

    def list_outputs(self):
        return ["output"]

    def infer_shape(self, in_shape):
        data_shape = in_shape[0]
        label_shape = (in_shape[0][0],)
        return [data_shape, label_shape], [data_shape]

    def forward(self, in_data, out_data):
        x, y = in_data[0], out_data[0]
        y[:] = np.exp(x - x.max(axis=1).reshape((x.shape[0], 1)))
        y /= y.sum(axis=1).reshape((x.shape[0], 1))

    def backward(self, out_grad, in_data, out_data, in_grad):
        label = in_data[1].astype(int)
        dx = in_grad[0]
        dx[:] = out_data[0]
        dx[np.arange(label.shape[0]), label] -= 1.0


class _Double(mx.operator.NDArrayOp):
    def forward(self, in_data, out_data):
        out_data[0][:] = in_data[0] * 2

    def backward(self, out_grad, in_data, out_data, in_grad):
        in_grad[0][:] = out_grad[0] * 2


def test_deprecated_numpy_and_ndarray_ops():
    x = np.random.RandomState(0).uniform(-1, 1, (4, 5)).astype(np.float32)
    label = np.array([0, 3, 1, 4], dtype=np.float32)
    with pytest.warns(UserWarning, match="deprecated"):
        op = _NumpySoftmax()
    sym = op(mx.sym.Variable("data"), mx.sym.Variable("label"), name="softmax")
    assert sym.list_arguments() == ["data", "label"]
    assert sym.infer_shape(data=(4, 5))[1] == [(4, 5)]
    grad = mx.nd.zeros((4, 5))
    exe = sym.bind(mx.cpu(), args={"data": mx.nd.array(x), "label": mx.nd.array(label)},
                   args_grad={"data": grad}, grad_req={"data": "write", "label": "null"})
    out = exe.forward(is_train=True)[0].asnumpy()
    want = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(out, want, rtol=1e-5)
    exe.backward()
    want[np.arange(4), label.astype(int)] -= 1
    np.testing.assert_allclose(grad.asnumpy(), want, rtol=1e-5, atol=1e-6)

    with pytest.warns(UserWarning):
        dbl = _Double()
    s = dbl(mx.sym.Variable("x"))
    g = mx.nd.zeros((4, 5))
    exe = s.bind(mx.cpu(), args=[mx.nd.array(x)], args_grad=[g])
    np.testing.assert_allclose(exe.forward(is_train=True)[0].asnumpy(), 2 * x)
    exe.backward(mx.nd.ones((4, 5)))
    np.testing.assert_array_equal(g.asnumpy(), np.full((4, 5), 2.0))


def test_default_backward_storage_types_are_dense():
    # MXNet's default: every list keeps its length and holds 'default' (an undefined input
    # gradient becomes dense too).
    got = _SoftmaxProp().infer_storage_type_backward(
        ["default"], ["default", "default"], ["default"], ["undefined", "default"], [])
    assert [list(x) for x in got] == [["default"], ["default"] * 2, ["default"],
                                      ["default"] * 2, []]


def test_each_imperative_call_configures_a_new_custom_operator():
    # As MXNet 1.9.1 ({'prop': 3, 'op': 3} for three calls): mx.nd reuses configured ops
    # between calls with the same parameters, but never a Custom one, whose Python operator
    # may keep state for its backward.
    made = {"prop": 0, "op": 0}

    class Ident(mx.operator.CustomOp):
        def forward(self, is_train, req, in_data, out_data, aux):
            self.assign(out_data[0], req[0], in_data[0] * 1)

        def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
            self.assign(in_grad[0], req[0], out_grad[0])

    @mx.operator.register("test_ident_count")
    class IdentProp(mx.operator.CustomOpProp):
        def __init__(self):
            super().__init__(need_top_grad=True)
            made["prop"] += 1

        def create_operator(self, ctx, shapes, dtypes):
            made["op"] += 1
            return Ident()

    a = mx.nd.array([1.0, 2.0])
    for _ in range(3):
        np.testing.assert_array_equal(mx.nd.Custom(a, op_type="test_ident_count").asnumpy(), [1, 2])
    assert made == {"prop": 3, "op": 3}
