"""mx.mod.PythonModule / PythonLossModule (MXNet 1.9.1 mxnet/module/python_module.py), alone
and as stages of a SequentialModule, against numpy and the equivalent SoftmaxOutput Module."""
import logging

import numpy as np
import pytest

import oxnet as mx


def softmax_ce_grad(scores, labels):
    """d(mean-free softmax cross-entropy)/d scores, per sample: softmax(s) - onehot(label)."""
    s = scores.asnumpy()
    lab = labels.asnumpy().astype(int)
    p = np.exp(s - s.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(lab)), lab] -= 1
    return p


def separable(n=60, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.randn(n, 4).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.float32)
    return x, y


def fc_symbol():
    return mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=2, name="fc")


def start_params():
    w = (np.arange(8, dtype=np.float32).reshape(2, 4) / 8 - 0.4) * 0.3
    b = np.array([0.05, -0.05], np.float32)
    return {"fc_weight": mx.nd.array(w), "fc_bias": mx.nd.array(b)}


def sequential_with_loss(**loss_kwargs):
    seq = mx.mod.SequentialModule()
    seq.add(mx.mod.Module(fc_symbol(), label_names=None))
    seq.add(mx.mod.PythonLossModule(grad_func=softmax_ce_grad, **loss_kwargs),
            take_labels=True, auto_wiring=True)
    return seq


def test_exported_names():
    assert mx.mod.PythonModule is mx.module.python_module.PythonModule
    assert mx.mod.PythonLossModule is mx.module.PythonLossModule
    assert issubclass(mx.mod.PythonLossModule, mx.mod.PythonModule)
    assert issubclass(mx.mod.PythonModule, mx.mod.BaseModule)


def test_loss_module_api():
    loss = mx.mod.PythonLossModule(name="ce", grad_func=softmax_ce_grad)
    assert loss.data_names == ["data"]
    assert loss.output_names == ["ce_output"]
    assert loss.get_params() == ({}, {})
    assert loss.init_params() is None
    loss.bind([("data", (3, 2))], [("softmax_label", (3,))])
    assert loss.data_shapes == [("data", (3, 2))]
    assert loss.label_shapes == [("softmax_label", (3,))]
    assert loss.output_shapes == [("ce_output", (3, 2))]
    scores = mx.nd.array([[1.0, 2.0], [0.5, -0.5], [0.0, 0.0]])
    labels = mx.nd.array([1, 0, 1])
    loss.forward(mx.io.DataBatch([scores], [labels]), is_train=True)
    out = loss.get_outputs()
    assert len(out) == 1 and out[0] is scores
    loss.backward()
    grad = loss.get_input_grads()
    assert len(grad) == 1 and isinstance(grad[0], mx.nd.NDArray)
    np.testing.assert_allclose(grad[0].asnumpy(),
                               softmax_ce_grad(scores, labels).astype(np.float32), rtol=1e-6)
    # no parameters: update and init_optimizer change nothing
    assert loss.update() is None
    assert loss.init_optimizer() is None
    with pytest.raises(AssertionError):
        loss.backward(out_grads=[mx.nd.ones((3, 2))])
    with pytest.raises(AssertionError):
        loss.get_outputs(merge_multi_context=False)
    metric = mx.metric.Accuracy()
    loss.update_metric(metric, [labels])
    assert metric.get() == ("accuracy", pytest.approx(2 / 3))
    with pytest.raises(RuntimeError, match="presliced"):
        loss.update_metric(metric, [labels], pre_sliced=True)


def test_loss_module_bind_checks():
    loss = mx.mod.PythonLossModule()
    with pytest.raises(ValueError, match="data_names"):
        loss.bind([("fc_output", (3, 2))], [("softmax_label", (3,))])
    with pytest.raises(ValueError, match="label_names"):
        loss.bind([("data", (3, 2))], [("label", (3,))])
    with pytest.raises(ValueError, match="write"):
        loss.bind([("data", (3, 2))], None, grad_req="add")
    with pytest.raises(ValueError, match="one data"):
        mx.mod.PythonLossModule(data_names=("a", "b"))
    loss.bind([("data", (3, 2))], None, for_training=False)
    loss.forward(mx.io.DataBatch([mx.nd.ones((3, 2))], None))
    with pytest.raises(AssertionError):
        loss.backward()
    # not bound with labels: the metric is not fed
    metric = mx.metric.Accuracy()
    loss.update_metric(metric, [mx.nd.zeros((3,))])
    assert metric.num_inst == 0


def test_loss_module_without_grad_func():
    loss = mx.mod.PythonLossModule()
    loss.bind([("data", (2, 2))], [("softmax_label", (2,))])
    loss.forward(mx.io.DataBatch([mx.nd.ones((2, 2))], [mx.nd.zeros((2,))]), is_train=True)
    with pytest.raises(NotImplementedError):
        loss.backward()


def test_loss_module_forward_not_training_keeps_labels():
    loss = mx.mod.PythonLossModule(grad_func=softmax_ce_grad)
    loss.bind([("data", (2, 2))], [("softmax_label", (2,))])
    first = mx.nd.array([0, 1])
    loss.forward(mx.io.DataBatch([mx.nd.ones((2, 2))], [first]), is_train=True)
    loss.forward(mx.io.DataBatch([mx.nd.zeros((2, 2))], [mx.nd.array([1, 1])]), is_train=False)
    assert loss._labels is first


def test_sequential_updates_match_softmax_output_module():
    x, y = separable(40)
    lr, batch = 0.5, 10
    seq = sequential_with_loss()
    ref = mx.mod.Module(mx.sym.SoftmaxOutput(fc_symbol(), name="softmax"))
    it = mx.io.NDArrayIter(x, y, batch_size=batch)
    for mod in (seq, ref):
        mod.bind(it.provide_data, it.provide_label)
        mod.init_params(arg_params=start_params(), aux_params={})
        mod.init_optimizer(optimizer="sgd", optimizer_params=(("learning_rate", lr),))
    w = start_params()["fc_weight"].asnumpy().astype(np.float64)
    b = start_params()["fc_bias"].asnumpy().astype(np.float64)
    for step, data_batch in enumerate(it):
        for mod in (seq, ref):
            mod.forward(data_batch, is_train=True)
            mod.backward()
            mod.update()
        xb = data_batch.data[0].asnumpy().astype(np.float64)
        yb = data_batch.label[0].asnumpy().astype(int)
        s = xb @ w.T + b
        p = np.exp(s - s.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(batch), yb] -= 1
        # Module's SGD rescales gradients by 1 / batch size
        w -= lr * p.T @ xb / batch
        b -= lr * p.sum(axis=0) / batch
        got, _ = seq.get_params()
        want, _ = ref.get_params()
        np.testing.assert_allclose(got["fc_weight"].asnumpy(), w, rtol=1e-5, atol=1e-6,
                                   err_msg="step %d" % step)
        np.testing.assert_allclose(got["fc_bias"].asnumpy(), b, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got["fc_weight"].asnumpy(), want["fc_weight"].asnumpy(),
                                   rtol=1e-5, atol=1e-6)
    assert step == 3


def test_sequential_fit_score_predict():
    x, y = separable(80, seed=1)
    train = mx.io.NDArrayIter(x, y, batch_size=10, shuffle=False)
    mx.random.seed(3)
    seq = sequential_with_loss()
    seq.fit(train, num_epoch=15, optimizer_params=(("learning_rate", 0.5),),
            initializer=mx.init.Xavier())
    ((name, acc),) = seq.score(train, "acc")
    assert name == "accuracy" and acc >= 0.95
    scores = seq.predict(train)
    assert scores.shape == (80, 2)
    np.testing.assert_allclose(
        scores.asnumpy(),
        x @ seq.get_params()[0]["fc_weight"].asnumpy().T + seq.get_params()[0]["fc_bias"].asnumpy(),
        rtol=1e-5, atol=1e-5)
    assert (scores.asnumpy().argmax(axis=1) == y).mean() == acc
    assert seq.output_names == ["pyloss_output"]


def test_sequential_explicit_wiring_by_name():
    # without auto_wiring the loss must be named after the previous stage's output
    x, y = separable(20)
    it = mx.io.NDArrayIter(x, y, batch_size=10)
    seq = mx.mod.SequentialModule()
    seq.add(mx.mod.Module(fc_symbol(), label_names=None))
    seq.add(mx.mod.PythonLossModule(data_names=["fc_output"], grad_func=softmax_ce_grad),
            take_labels=True)
    seq.bind(it.provide_data, it.provide_label)
    seq.init_params(arg_params=start_params(), aux_params={})
    seq.init_optimizer()
    seq.forward_backward(next(iter(it)))
    seq.update()
    bad = mx.mod.SequentialModule()
    bad.add(mx.mod.Module(fc_symbol(), label_names=None))
    bad.add(mx.mod.PythonLossModule(grad_func=softmax_ce_grad), take_labels=True)
    with pytest.raises(ValueError, match="data_names"):
        bad.bind(it.provide_data, it.provide_label)


class Scale(mx.mod.PythonModule):
    """A parameter-free middle stage: y = k * x, dy/dx = k."""

    def __init__(self, k):
        super().__init__(["data"], None, ["scale_output"], logger=logging)
        self.k = k
        self._out = None
        self._grad = None

    def _compute_output_shapes(self):
        return [("scale_output", self._data_shapes[0][1])]

    def forward(self, data_batch, is_train=None):
        self._out = data_batch.data[0] * self.k

    def get_outputs(self, merge_multi_context=True):
        return [self._out]

    def backward(self, out_grads=None):
        self._grad = out_grads[0] * self.k

    def get_input_grads(self, merge_multi_context=True):
        return [self._grad]


def test_python_module_subclass_as_middle_stage():
    x, y = separable(10)
    it = mx.io.NDArrayIter(x, y, batch_size=10)
    seq = mx.mod.SequentialModule()
    seq.add(mx.mod.Module(fc_symbol(), label_names=None))
    seq.add(Scale(3.0), auto_wiring=True)
    seq.add(mx.mod.PythonLossModule(grad_func=softmax_ce_grad), take_labels=True,
            auto_wiring=True)
    seq.bind(it.provide_data, it.provide_label)
    seq.init_params(arg_params=start_params(), aux_params={})
    seq.init_optimizer(optimizer_params=(("learning_rate", 1.0),))
    seq.forward_backward(next(iter(it)))
    seq.update()
    w0 = start_params()["fc_weight"].asnumpy().astype(np.float64)
    b0 = start_params()["fc_bias"].asnumpy().astype(np.float64)
    s = 3.0 * (x @ w0.T + b0)
    p = np.exp(s - s.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(10), y.astype(int)] -= 1
    g = 3.0 * p
    np.testing.assert_allclose(seq.get_params()[0]["fc_weight"].asnumpy(), w0 - g.T @ x / 10,
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(NotImplementedError):
        mx.mod.PythonModule(["data"], None, ["o"]).bind([("data", (1,))])
