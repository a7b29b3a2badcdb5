"""MXNet 1.x's small modules: mx.error, mx.misc, mx.executor_manager, mx.notebook.callback,
mx.library, mx.rtc.

Values marked "mxref" were printed by Apache MXNet 1.9.1 (pip wheel, NaiveEngine) running the
same calls; the rest are computed here with numpy.
"""
import logging
import os
import sys
from types import SimpleNamespace

import numpy as np
import pytest

import oxnet as mx
import oxnet.misc
import oxnet.notebook.callback as nbcb
from oxnet import executor_manager as em


# -- mx.error -------------------------------------------------------------------------------
def test_internal_error_is_an_mxnet_error_with_the_hint():
    assert issubclass(mx.error.InternalError, mx.base.MXNetError)
    assert mx.error.MXNetError is mx.base.MXNetError
    with pytest.raises(mx.base.MXNetError) as info:
        raise mx.error.InternalError("bad state")
    # mxref: str(InternalError('bad state'))
    assert str(info.value) == (
        'bad state\nMXNet hint: You hit an internal error. Please open an issue in '
        'https://github.com/apache/incubator-mxnet/issues/new/choose to report it.')
    # mxref: a message that already carries a hint is left alone.
    assert str(mx.error.InternalError("x\nMXNet hint: already")) == "x\nMXNet hint: already"


def test_error_types_registry():
    # mxref: mx.base.error_types after import, less NotImplementedForSymbol (not in oxnet).
    for name, cls in [("InternalError", mx.error.InternalError), ("ValueError", ValueError),
                      ("TypeError", TypeError), ("AttributeError", AttributeError),
                      ("IndexError", IndexError), ("NotImplementedError", NotImplementedError)]:
        assert mx.base.error_types[name] is cls
    assert mx.error.register is mx.base.register_error

    @mx.error.register
    class CompatTestError(mx.base.MXNetError):
        pass

    class Other(mx.base.MXNetError):
        pass

    assert mx.base.error_types["CompatTestError"] is CompatTestError
    assert mx.error.register("CompatAlias")(Other) is Other
    assert mx.base.error_types["CompatAlias"] is Other
    mx.error.register("CompatPair", KeyError)
    assert mx.base.error_types["CompatPair"] is KeyError
    for k in ("CompatTestError", "CompatAlias", "CompatPair"):
        del mx.base.error_types[k]


# -- mx.misc --------------------------------------------------------------------------------
def test_misc_factor_scheduler_sequence_and_log(caplog):
    s = oxnet.misc.FactorScheduler(step=3, factor=0.5)
    with caplog.at_level(logging.INFO):
        lrs = [s(i) for i in range(10)]
    # mxref: [s(i) for i in range(10)] and its log lines
    assert lrs == [0.01, 0.01, 0.01, 0.005, 0.005, 0.005, 0.0025, 0.0025, 0.0025, 0.00125]
    assert [r.getMessage() for r in caplog.records] == [
        "At Iteration [3]: Swith to new learning rate 0.00500",
        "At Iteration [6]: Swith to new learning rate 0.00250",
        "At Iteration [9]: Swith to new learning rate 0.00125"]


def test_misc_factor_scheduler_is_stateless_in_the_iteration(caplog):
    s = oxnet.misc.FactorScheduler(step=2, factor=0.9)
    s.base_lr = 0.1
    with caplog.at_level(logging.INFO):
        lrs = [s(i) for i in [0, 1, 2, 5, 4, 3, 7]]
    # mxref: the same calls (going back in iteration goes back in rate)
    assert lrs == [0.1, 0.1, 0.09000000000000001, 0.08100000000000002, 0.08100000000000002,
                   0.09000000000000001, 0.0729]
    assert [r.getMessage() for r in caplog.records] == [
        "At Iteration [2]: Swith to new learning rate 0.09000",
        "At Iteration [5]: Swith to new learning rate 0.08100",
        "At Iteration [3]: Swith to new learning rate 0.09000",
        "At Iteration [7]: Swith to new learning rate 0.07290"]


def test_misc_schedulers_errors_and_optimizer_use():
    # mxref: messages of the three errors
    with pytest.raises(ValueError, match="^Schedule step must be greater or equal than 1 round$"):
        oxnet.misc.FactorScheduler(step=0)
    with pytest.raises(ValueError, match="^Factor must be less than 1 to make lr reduce$"):
        oxnet.misc.FactorScheduler(step=1, factor=1.0)
    with pytest.raises(NotImplementedError, match="^must override this$"):
        oxnet.misc.LearningRateScheduler()(1)
    assert oxnet.misc.LearningRateScheduler().base_lr == 0.01
    # mxref: SGD(learning_rate=0.1, lr_scheduler=FactorScheduler(2, 0.9))._get_lr at these
    # num_update values
    o = mx.optimizer.SGD(learning_rate=0.1, lr_scheduler=oxnet.misc.FactorScheduler(2, 0.9))
    lrs = []
    for n in [0, 1, 2, 5]:
        o.num_update = n
        lrs.append(o._get_lr(0))
    assert lrs == [0.1, 0.1, 0.09000000000000001, 0.08100000000000002]


# -- mx.executor_manager: helpers -----------------------------------------------------------
# mxref: [(s.start, s.stop) for s in _split_input_slice(batch, work_load)]
@pytest.mark.parametrize("batch,work_load,expected", [
    (10, [1, 1], [(0, 5), (5, 10)]),
    (5, [1, 1], [(0, 2), (2, 5)]),
    (3, [1, 1], [(0, 2), (2, 3)]),
    (7, [1, 2, 4], [(0, 1), (1, 3), (3, 7)]),
    (10, [1, 1, 1], [(0, 3), (3, 6), (6, 10)]),
    (9, [0.5, 1.5], [(0, 2), (2, 9)]),
    (4, [1, 1, 1, 1], [(0, 1), (1, 2), (2, 3), (3, 4)]),
    (13, [3, 1], [(0, 10), (10, 13)]),
])
def test_split_input_slice(batch, work_load, expected):
    assert [(s.start, s.stop) for s in em._split_input_slice(batch, work_load)] == expected


# mxref: ValueError('Too many slices. Some splits are empty.') for each of these
@pytest.mark.parametrize("batch,work_load", [(2, [1, 1, 1]), (3, [1, 1, 1, 1]), (1, [1, 1]),
                                             (6, [1, 0, 1])])
def test_split_input_slice_too_small_batch(batch, work_load):
    with pytest.raises(ValueError, match="Too many slices"):
        em._split_input_slice(batch, work_load)


def test_check_arguments_messages():
    d = mx.sym.Variable("data")
    s = (mx.sym.FullyConnected(d, weight=mx.sym.Variable("w"), num_hidden=2, no_bias=True,
                               name="a")
         + mx.sym.FullyConnected(d, weight=mx.sym.Variable("w"), num_hidden=2, no_bias=True,
                                 name="b"))
    # mxref: the ValueError messages of _check_arguments
    with pytest.raises(ValueError) as info:
        em._check_arguments(s)
    assert str(info.value) == (
        'Find duplicated argument name "w", please make the weight name non-duplicated(using '
        "name arguments), arguments are ['data', 'w', 'w']")
    x = mx.sym.Concat(mx.sym.BatchNorm(d, name="bn"),
                      mx.sym.BatchNorm(d, name="bn", gamma=mx.sym.Variable("g2"),
                                       beta=mx.sym.Variable("b2")))
    with pytest.raises(ValueError) as info:
        em._check_arguments(x)
    assert str(info.value) == (
        'Find duplicated auxiliary param name "bn_moving_mean", please make the weight name '
        "non-duplicated(using name arguments), arguments are ['data', 'bn_gamma', 'bn_beta', "
        "'g2', 'b2'], auxiliary params are ['bn_moving_mean', 'bn_moving_var', "
        "'bn_moving_mean', 'bn_moving_var']")
    em._check_arguments(mx.sym.FullyConnected(d, num_hidden=2))  # no duplicates: no error
    # FeedForward checks its symbol with the same function.
    with pytest.raises(ValueError, match='duplicated argument name "w"'):
        mx.model.FeedForward(s, num_epoch=1)._check_arguments()


def test_load_general():
    src = mx.nd.array(np.arange(12, dtype=np.float32).reshape(4, 3))
    parts = [(slice(0, 1), mx.nd.zeros((1, 3), ctx=mx.cpu(0))),
             (slice(1, 4), mx.nd.zeros((3, 3), ctx=mx.cpu(1)))]
    whole = mx.nd.zeros((4, 3))
    em._load_general([src, src], [parts, whole])
    np.testing.assert_array_equal(parts[0][1].asnumpy(), src.asnumpy()[0:1])
    np.testing.assert_array_equal(parts[1][1].asnumpy(), src.asnumpy()[1:4])
    np.testing.assert_array_equal(whole.asnumpy(), src.asnumpy())
    batch = mx.io.DataBatch(data=[src], label=[src * 2])
    em._load_label(batch, [parts])
    np.testing.assert_array_equal(parts[1][1].asnumpy(), src.asnumpy()[1:4] * 2)
    em._load_data(batch, [parts])
    np.testing.assert_array_equal(parts[1][1].asnumpy(), src.asnumpy()[1:4])
    # mxref: AssertionError('Batch size miss match. Expected 4, got 5')
    with pytest.raises(AssertionError, match="^Batch size miss match. Expected 4, got 5$"):
        em._load_general([mx.nd.ones((5, 3))], [parts])


def test_bind_exec_grad_requests_and_sharing():
    d = mx.sym.Variable("data")
    fc = mx.sym.FullyConnected(d, num_hidden=2, name="fc")
    params = ["fc_weight", "fc_bias"]
    # mxref: grads bound for need_grad=True / False / {'fc_weight'}
    e = em._bind_exec(fc, mx.cpu(), {"data": (2, 3)}, params, need_grad=True)
    assert sorted(k for k, v in e.grad_dict.items() if v is not None) == ["fc_bias", "fc_weight"]
    assert [a.shape for a in e.arg_arrays] == [(2, 3), (2, 3), (2,)]
    assert em._bind_exec(fc, mx.cpu(), {"data": (2, 3)}, params).grad_arrays is None
    e2 = em._bind_exec(fc, mx.cpu(), {"data": (2, 3)}, params, need_grad={"fc_weight"})
    assert [None if g is None else g.shape for g in e2.grad_arrays] == [None, (2, 3), None]
    with pytest.raises(AssertionError, match="need_grad must be boolean or set"):
        em._bind_exec(fc, mx.cpu(), {"data": (2, 3)}, params, need_grad="yes")
    # A second executor on base_exec uses the same parameter and gradient arrays.
    shared = {}
    e3 = em._bind_exec(fc, mx.cpu(), {"data": (4, 3)}, params, need_grad=True, base_exec=e,
                       shared_data_arrays=shared)
    assert e3.arg_dict["fc_weight"] is e.arg_dict["fc_weight"]
    assert e3.grad_dict["fc_bias"] is e.grad_dict["fc_bias"]
    assert shared["data"] is e3.arg_dict["data"]


# -- mx.executor_manager: DataParallelExecutorManager ---------------------------------------
def _mlp():
    d = mx.sym.Variable("data")
    h = mx.sym.Activation(mx.sym.FullyConnected(d, num_hidden=5, name="fc1"), act_type="relu")
    return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(h, num_hidden=3, name="fc2"),
                                name="softmax")


def _mlp_numpy(x, y, p):
    """Outputs and parameter gradients of _mlp (SoftmaxOutput: grad = softmax - onehot)."""
    z1 = x @ p["fc1_weight"].T + p["fc1_bias"]
    a1 = np.maximum(z1, 0)
    z2 = a1 @ p["fc2_weight"].T + p["fc2_bias"]
    prob = np.exp(z2 - z2.max(1, keepdims=True))
    prob /= prob.sum(1, keepdims=True)
    dz2 = prob - np.eye(3)[y.astype(int)]
    dz1 = (dz2 @ p["fc2_weight"]) * (z1 > 0)
    grads = {"fc1_weight": dz1.T @ x, "fc1_bias": dz1.sum(0),
             "fc2_weight": dz2.T @ a1, "fc2_bias": dz2.sum(0)}
    return prob, grads


def test_data_parallel_executor_manager_matches_numpy(caplog):
    rng = np.random.RandomState(0)
    x = rng.uniform(-1, 1, (8, 4)).astype(np.float32)
    y = np.array([0, 1, 2, 1, 0, 2, 2, 1], dtype=np.float32)
    p = {"fc1_weight": rng.uniform(-1, 1, (5, 4)), "fc1_bias": rng.uniform(-1, 1, 5),
         "fc2_weight": rng.uniform(-1, 1, (3, 5)), "fc2_bias": rng.uniform(-1, 1, 3)}
    p = {k: v.astype(np.float32) for k, v in p.items()}
    net = _mlp()
    # MXNet's model and io.io modules re-export these names.
    assert mx.model.DataParallelExecutorManager is em.DataParallelExecutorManager
    assert mx.io.io.NDArrayIter is mx.io.NDArrayIter and mx.io.io.DataBatch is mx.io.DataBatch
    it = mx.io.NDArrayIter(x, y, batch_size=8)
    args = net.list_arguments()
    params = [a for a in args if a not in ("data", "softmax_label")]
    ctx = [mx.cpu(0), mx.cpu(1)]
    with caplog.at_level(logging.INFO):
        mgr = em.DataParallelExecutorManager(net, ctx, it, args, params, [],
                                             work_load_list=[1, 3])
    assert "Start training with [cpu(0), cpu(1)]" in [r.getMessage() for r in caplog.records]
    assert [(s.start, s.stop) for s in mgr.slices] == [(0, 2), (2, 8)]
    mgr.set_params({k: mx.nd.array(v) for k, v in p.items()}, {})
    mgr.load_data_batch(it.next())
    mgr.forward(is_train=True)
    mgr.backward()

    for texec, islice, c in zip(mgr.execgrp.train_execs, mgr.slices, ctx):
        assert texec.outputs[0].context == c
        prob, grads = _mlp_numpy(x[islice], y[islice], p)
        np.testing.assert_allclose(texec.outputs[0].asnumpy(), prob, rtol=1e-5, atol=1e-6)
        for name in params:
            np.testing.assert_allclose(texec.grad_dict[name].asnumpy(), grads[name],
                                       rtol=1e-5, atol=1e-6)
    # The devices' gradients add up to the whole batch's.
    _, full = _mlp_numpy(x, y, p)
    assert mgr.param_names == params
    for name, block in zip(mgr.param_names, mgr.grad_arrays):
        np.testing.assert_allclose(sum(g.asnumpy() for g in block), full[name],
                                   rtol=1e-5, atol=1e-5)

    metric = mx.metric.Accuracy()
    mgr.update_metric(metric, [mx.nd.array(y)])
    prob, _ = _mlp_numpy(x, y, p)
    assert metric.get()[1] == pytest.approx((prob.argmax(1) == y).mean())

    # copy_to writes the devices' average.
    w0, w1 = mgr.param_arrays[0]
    w1[:] = w1 + 2.0
    out = {k: mx.nd.zeros(v.shape) for k, v in p.items()}
    mgr.copy_to(out, {})
    np.testing.assert_allclose(out["fc1_weight"].asnumpy(), p["fc1_weight"] + 1.0, rtol=1e-6)
    np.testing.assert_allclose(out["fc2_bias"].asnumpy(), p["fc2_bias"], rtol=1e-6)


def test_executor_manager_averages_aux_states():
    net = mx.sym.BatchNorm(mx.sym.Variable("data"), fix_gamma=False, name="bn")
    it = mx.io.NDArrayIter(np.zeros((4, 3), dtype=np.float32), batch_size=4)
    aux_names = net.list_auxiliary_states()
    mgr = em.DataParallelExecutorManager(net, [mx.cpu(0), mx.cpu(1)], it,
                                         net.list_arguments(), ["bn_gamma", "bn_beta"],
                                         aux_names)
    a = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    b = np.array([3.0, -2.0, 0.5], dtype=np.float32)
    mgr.set_params({"bn_gamma": mx.nd.array(a), "bn_beta": mx.nd.array(b)},
                   {"bn_moving_mean": mx.nd.array(a), "bn_moving_var": mx.nd.array(b)})
    mgr.aux_arrays[0][1][:] = mx.nd.array(b)
    aux = {n: mx.nd.zeros(3) for n in aux_names}
    mgr.copy_to({"bn_gamma": mx.nd.zeros(3), "bn_beta": mx.nd.zeros(3)}, aux)
    np.testing.assert_allclose(aux["bn_moving_mean"].asnumpy(), (a + b) / 2)
    np.testing.assert_allclose(aux["bn_moving_var"].asnumpy(), b)


def test_executor_manager_work_load_must_match_contexts():
    it = mx.io.NDArrayIter(np.ones((4, 2), dtype=np.float32), batch_size=4)
    d = mx.sym.Variable("data")
    # mxref: AssertionError('Invalid settings for work load. ')
    with pytest.raises(AssertionError, match="Invalid settings for work load"):
        em.DataParallelExecutorManager(d, [mx.cpu(0), mx.cpu(1)], it, ["data"], [], [],
                                       work_load_list=[1])


def _bucket_sym(length):
    # Weight shapes do not depend on the bucket's sequence length.
    d = mx.sym.Variable("data")
    s = mx.sym.sum(d, axis=1, keepdims=True)
    return mx.sym.SoftmaxOutput(mx.sym.FullyConnected(s, num_hidden=2, name="fc"),
                                name="softmax")


def test_executor_manager_bucketing_shares_parameters_and_buffers():
    # Reference: numpy. (MXNet 1.9.1 fails here with ValueError: its NDArray.reshape cannot
    # shrink the default bucket's data buffer to the smaller bucket.)
    batch, default_len = 4, 6
    desc = lambda n, s: mx.io.DataDesc(n, s)
    train = SimpleNamespace(batch_size=batch, default_bucket_key=default_len,
                            provide_data=[desc("data", (batch, default_len))],
                            provide_label=[desc("softmax_label", (batch,))])
    net = _bucket_sym(default_len)
    args = net.list_arguments()
    params = ["fc_weight", "fc_bias"]
    mgr = em.DataParallelExecutorManager(net, [mx.cpu(0), mx.cpu(1)], train, args, params, [],
                                         sym_gen=_bucket_sym)
    with pytest.raises(NotImplementedError, match="Monitoring is not implemented for bucketing"):
        mgr.install_monitor(mx.mon.Monitor(1))
    w = np.array([[0.5], [-1.0]], dtype=np.float32)
    bias = np.array([0.1, 0.2], dtype=np.float32)
    mgr.set_params({"fc_weight": mx.nd.array(w), "fc_bias": mx.nd.array(bias)}, {})

    x = np.random.uniform(-1, 1, (batch, 3)).astype(np.float32)
    y = np.array([0, 1, 1, 0], dtype=np.float32)
    data_batch = mx.io.DataBatch([mx.nd.array(x)], [mx.nd.array(y)], bucket_key=3,
                                 provide_data=[desc("data", (batch, 3))],
                                 provide_label=[desc("softmax_label", (batch,))])
    mgr.load_data_batch(data_batch)
    mgr.forward(is_train=True)
    mgr.backward()
    grp = mgr.execgrp_bucket[3]
    assert mgr.curr_execgrp is grp and grp is not mgr.execgrp
    z = x.sum(1, keepdims=True) @ w.T + bias
    prob = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    out = np.concatenate([e.outputs[0].asnumpy() for e in grp.train_execs])
    np.testing.assert_allclose(out, prob, rtol=1e-5, atol=1e-6)
    for k in range(2):
        # Parameters and gradients are the default bucket's arrays.
        assert grp.param_arrays[0][k] is mgr.execgrp.param_arrays[0][k]
        assert grp.grad_arrays[1][k] is mgr.execgrp.grad_arrays[1][k]
        # The smaller bucket's input lives in the leading elements of the default's buffer.
        big = mgr.execgrp.train_execs[k].arg_dict["data"].asnumpy().ravel()
        np.testing.assert_array_equal(big[:2 * 3], x[2 * k:2 * k + 2].ravel())
    dz = prob - np.eye(2)[y.astype(int)]
    np.testing.assert_allclose(sum(g.asnumpy() for g in mgr.grad_arrays[1]), dz.sum(0),
                               rtol=1e-5, atol=1e-6)


def test_executor_manager_larger_bucket_reallocates_with_warning(caplog):
    desc = mx.io.DataDesc
    train = SimpleNamespace(batch_size=4, default_bucket_key=3,
                            provide_data=[desc("data", (4, 3))],
                            provide_label=[desc("softmax_label", (4,))])
    mgr = em.DataParallelExecutorManager(_bucket_sym(3), [mx.cpu(0), mx.cpu(1)], train,
                                         ["data", "fc_weight", "fc_bias", "softmax_label"],
                                         ["fc_weight", "fc_bias"], [], sym_gen=_bucket_sym)
    batch = mx.io.DataBatch([mx.nd.ones((4, 6))], [mx.nd.zeros(4)], bucket_key=6,
                            provide_data=[desc("data", (4, 6))],
                            provide_label=[desc("softmax_label", (4,))])
    with caplog.at_level(logging.WARNING):
        mgr.load_data_batch(batch)
    # mxref: the same calls log this once per device and keep the larger buffer.
    assert [r.getMessage() for r in caplog.records] == [
        'bucketing: data "data" has a shape (2, 6), which is larger than already allocated '
        'shape (2, 3). Need to re-allocate. Consider putting default_bucket_key to be the '
        'bucket taking the largest input for better memory sharing.'] * 2
    assert [d["data"].shape for d in mgr.execgrp.shared_data_arrays] == [(2, 6), (2, 6)]


# -- mx.notebook.callback -------------------------------------------------------------------
def test_notebook_args_wrapper():
    class A(object):
        def callback_args(self):
            return {"batch_end_callback": "a1", "eval_end_callback": "a2"}

    class B(object):
        def callback_args(self):
            return {"batch_end_callback": "b1", "epoch_end_callback": "b3"}

    # mxref: args_wrapper(A(), B())
    assert nbcb.args_wrapper(A(), B()) == {"batch_end_callback": ["a1", "b1"],
                                           "eval_end_callback": ["a2"],
                                           "epoch_end_callback": ["b3"]}


def test_notebook_callbacks_name_the_missing_package(monkeypatch):
    # A None entry in sys.modules makes the import fail, installed or not.
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="PandasLogger needs pandas"):
        nbcb.PandasLogger(batch_size=10)
    monkeypatch.setitem(sys.modules, "bokeh", None)
    monkeypatch.setitem(sys.modules, "bokeh.io", None)
    monkeypatch.setitem(sys.modules, "bokeh.plotting", None)
    with pytest.raises(ImportError, match="LiveLearningCurve needs bokeh"):
        nbcb.LiveLearningCurve("accuracy")
    with pytest.raises(ImportError, match="LiveTimeSeries needs bokeh"):
        nbcb.LiveTimeSeries()


def test_pandas_logger_records_rows(monkeypatch):
    try:
        import pandas  # noqa: F401
    except ImportError:
        pytest.skip("pandas is not installed")
    now = [100.0]
    monkeypatch.setattr(nbcb.time, "time", lambda: now[0])
    log = nbcb.PandasLogger(batch_size=8, frequent=2)
    labels = np.array([1, 0, 1, 1], dtype=np.float32)
    preds = np.array([[0, 1], [1, 0], [1, 0], [0, 1]], dtype=np.float32)
    metric = mx.metric.Accuracy()
    metric.update([mx.nd.array(labels)], [mx.nd.array(preds)])
    now[0] = 104.0
    log.train_cb(SimpleNamespace(nbatch=2, epoch=0, eval_metric=metric))
    log.train_cb(SimpleNamespace(nbatch=3, epoch=0, eval_metric=metric))  # not a multiple of 2
    row = log.train_df.iloc[0]
    assert len(log.train_df) == 1
    assert row["accuracy"] == pytest.approx((preds.argmax(1) == labels).mean())
    # MXNet's column names: speed = frequent / seconds, times batch_size under batches_per_sec.
    assert row["records_per_sec"] == pytest.approx(2 / 4.0)
    assert row["batches_per_sec"] == pytest.approx(2 / 4.0 * 8)
    assert row["minibatch_count"] == 2 and row["epoch"] == 0
    assert metric.num_inst == 0  # reset after logging
    log.epoch_cb(0, None, {}, {})
    assert len(log.epoch_df) == 1 and "epoch_time" in log.epoch_df.columns
    assert set(log.callback_args()) == {"batch_end_callback", "eval_end_callback",
                                        "epoch_end_callback"}


# -- mx.library, mx.rtc ---------------------------------------------------------------------
def test_library_load_errors(tmp_path):
    # mxref: MXNetError messages for a missing path, a relative path and a non-library file
    with pytest.raises(mx.base.MXNetError, match="^load path /nonexistent/libfoo.so does NOT "
                                                 "exist$"):
        mx.library.load("/nonexistent/libfoo.so")
    with pytest.raises(mx.base.MXNetError, match="^load path rel.so does NOT exist$"):
        mx.library.load("rel.so")
    text = tmp_path / "notes.txt"
    text.write_text("x")
    with pytest.raises(mx.base.MXNetError, match="is NOT a library file"):
        mx.library.load(str(text))
    lib = tmp_path / "libcustom_op.so"
    lib.write_bytes(b"\x7fELF")
    with pytest.raises(mx.base.MXNetError) as info:
        mx.library.load(str(lib))
    msg = str(info.value)
    assert str(lib) in msg and "cannot load MXNet C++ extension libraries" in msg
    rel = os.path.relpath(str(lib))
    with pytest.raises(mx.base.MXNetError, match="is not an absolute path"):
        mx.library.load(rel)


def test_rtc_without_gpu_raises_clearly():
    source = 'extern "C" __global__ void axpy(const float *x, float *y, float a) {}'
    if mx.context.num_gpus() == 0:
        with pytest.raises(mx.base.MXNetError, match="no CUDA GPU is available"):
            mx.rtc.CudaModule(source)
    else:
        with pytest.raises(NotImplementedError, match="run-time compilation"):
            mx.rtc.CudaModule(source, exports=["axpy"])


def test_registry_functions_share_the_tables_of_init_and_metric():
    # MXNet 1.9.1 lists these (mxref); other tests may have registered more.
    assert set(mx.registry.get_registry(mx.init.Initializer)) >= {
        "bilinear", "constant", "fusedrnn", "lstmbias", "msraprelu", "normal", "one", "ones",
        "orthogonal", "uniform", "xavier", "zero", "zeros"}

    @mx.init.register
    class Halves(mx.init.Initializer):
        def _init_weight(self, _, arr):
            arr[:] = 0.5
    assert mx.registry.get_registry(mx.init.Initializer)["halves"] is Halves
    assert mx.registry.get_create_func(mx.metric.EvalMetric, "metric")("acc").name == "accuracy"

    class Shape(object):
        pass
    register = mx.registry.get_register_func(Shape, "shape")
    create = mx.registry.get_create_func(Shape, "shape")

    @mx.registry.get_alias_func(Shape, "shape")("sq")
    class Square(Shape):
        def __init__(self, side=1):
            self.side = side
    register(Square)
    assert sorted(mx.registry.get_registry(Shape)) == ["sq", "square"]
    assert create("SQUARE", 3).side == 3
    assert create('["sq", {"side": 4}]').side == 4
    assert create({"shape": "square", "side": 5}).side == 5
    assert create(shape="sq").side == 1
    s = Square()
    assert create(s) is s
    with pytest.raises(ValueError, match="already an instance"):
        create(s, 2)
    with pytest.raises(ValueError, match="'circle' is not registered"):
        create("circle")
    with pytest.raises(AssertionError):  # what MXNet 1.9.1 raises
        create("circle")
    with pytest.raises(TypeError, match="subclass"):
        register(int)
    with pytest.warns(UserWarning, match="overriding"):
        register(type("Other", (Shape,), {}), "sq")
