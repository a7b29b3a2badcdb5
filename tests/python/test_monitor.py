"""mx.monitor.Monitor: the statistics, names and batch numbers MXNet 1.9.1's monitor reports,
on an executor and through Module.fit."""
import logging

import numpy as np
import pytest

import oxnet as mx


def _net():
    data = mx.sym.Variable("data")
    fc1 = mx.sym.FullyConnected(data, num_hidden=4, name="fc1")
    act = mx.sym.Activation(fc1, act_type="relu", name="relu1")
    return mx.sym.SoftmaxOutput(act, name="softmax")


def _bound():
    ex = _net().simple_bind(mx.cpu(), data=(2, 3))
    for v in ex.arg_dict.values():
        v[:] = np.arange(v.size).reshape(v.shape) * 0.1 - 0.3
    return ex


def _rms(a):
    return np.sqrt((a.astype(np.float64) ** 2).sum() / a.size)


def _watched_step(ex, backward=False):
    """What Monitor(1, '.*') reports for one training forward (and backward) of `ex`."""
    mon = mx.mon.Monitor(1, pattern=".*")
    mon.install(ex)
    mon.tic()
    ex.forward(is_train=True)
    if backward:
        ex.backward()
    return mon.toc()


def test_outputs_and_arguments_match_numpy_and_mxnet():
    ex = _bound()
    res = _watched_step(ex)
    assert [(n, k) for n, k, _ in res] == [
        (1, "fc1_output"), (1, "relu1_output"), (1, "softmax_output"), (1, "data"),
        (1, "fc1_weight"), (1, "fc1_bias"), (1, "softmax_label")]
    args = {k: v.asnumpy() for k, v in ex.arg_dict.items()}
    fc = args["data"] @ args["fc1_weight"].T + args["fc1_bias"]
    relu = np.maximum(fc, 0)
    e = np.exp(relu - relu.max(1, keepdims=True))
    expect = {"fc1_output": fc, "relu1_output": relu,
              "softmax_output": e / e.sum(1, keepdims=True)}
    expect.update(args)
    for _, k, text in res:
        assert text.endswith("\t")
        assert float(text) == pytest.approx(_rms(expect[k]), rel=1e-5), k
    # MXNet 1.9.1 printed these for the same network and values.
    mxnet_printed = {"fc1_output": 0.2593743, "relu1_output": 0.08253788,
                     "softmax_output": 0.25062305, "data": 0.17795129,
                     "fc1_weight": 0.42622375, "fc1_bias": 0.18708287,
                     "softmax_label": 0.254951}
    for _, k, text in res:
        assert float(text) == pytest.approx(mxnet_printed[k], rel=1e-6), k


def test_backward_shows_each_ops_input_gradients_as_mxnet():
    ex = _bound()
    res = [(k, float(text)) for _, k, text in _watched_step(ex, backward=True)]
    # MXNet 1.9.1 printed these, in this order, for the same network and values: each op's
    # backward node outputs (one per input: softmax's data and label, fc1's data, weight and
    # bias), after the forward outputs and before the arguments.
    mxnet_printed = [
        ("fc1_output", 0.25937426), ("relu1_output", 0.082537875),
        ("softmax_output", 0.25062305), ("softmax_backward_output0", 0.43836564),
        ("softmax_backward_output1", 0.0), ("relu1_backward_output", 0.13430339),
        ("fc1_backward_output0", 0.21559165), ("fc1_backward_output1", 0.024520334),
        ("fc1_backward_output2", 0.18993367), ("data", 0.17795129), ("fc1_weight", 0.42622375),
        ("fc1_bias", 0.18708287), ("softmax_label", 0.254951)]
    assert [k for k, _ in res] == [k for k, _ in mxnet_printed]
    for (k, got), (_, want) in zip(res, mxnet_printed):
        assert got == pytest.approx(want, rel=1e-5, abs=1e-7), k
    # fc1's backward outputs are the argument gradients the executor wrote.
    got = dict(res)
    for i, name in enumerate(("data", "fc1_weight", "fc1_bias")):
        assert got["fc1_backward_output%d" % i] == pytest.approx(
            _rms(ex.grad_dict[name].asnumpy()), rel=1e-5)


def test_monitor_all_shows_inputs_in_mxnet_order():
    ex = _bound()
    mon = mx.mon.Monitor(1, monitor_all=True)
    mon.install(ex)
    mon.tic()
    ex.forward(is_train=True)
    names = [k for _, k, _ in mon.toc()]
    # MXNet 1.9.1's order; it names Activation's input "relu1_input0" where oxnet uses the
    # argument name list_arguments() gives it ("relu1_data").
    assert names == ["data", "fc1_data", "fc1_weight", "fc1_weight", "fc1_bias", "fc1_bias",
                     "fc1_output", "relu1_data", "relu1_output", "softmax_data",
                     "softmax_label", "softmax_label", "softmax_output",
                     "data", "fc1_weight", "fc1_bias", "softmax_label"]


def test_interval_pattern_sort_and_list_statistics():
    ex = _bound()
    mon = mx.mon.Monitor(2, stat_func=lambda x: [x.sum(), x.max()], pattern="fc1.*", sort=True)
    mon.install(ex)
    got = []
    for _ in range(3):
        mon.tic()
        ex.forward()
        got.append(mon.toc())
    assert got[1] == []
    assert [(n, k) for n, k, _ in got[0]] == [(1, "fc1_bias"), (1, "fc1_output"),
                                             (1, "fc1_weight")]
    assert [(n, k) for n, k, _ in got[2]] == [(3, "fc1_bias"), (3, "fc1_output"),
                                             (3, "fc1_weight")]
    w = ex.arg_dict["fc1_weight"].asnumpy()
    s, m = got[0][2][2].split("\t")[:2]
    assert float(s) == pytest.approx(w.sum(), rel=1e-6)
    assert float(m) == pytest.approx(w.max(), rel=1e-6)


def test_inplace_reuse_does_not_change_what_was_seen():
    # relu may overwrite its input's buffer; the statistic of fc1's output is taken before.
    ex = _bound()
    seen = {}
    ex.set_monitor_callback(lambda name, arr: seen.setdefault(name, arr.copy()))
    ex.forward(is_train=False)
    args = {k: v.asnumpy() for k, v in ex.arg_dict.items()}
    fc = args["data"] @ args["fc1_weight"].T + args["fc1_bias"]
    np.testing.assert_allclose(seen["fc1_output"].asnumpy(), fc, rtol=1e-6)
    np.testing.assert_allclose(seen["relu1_output"].asnumpy(), np.maximum(fc, 0), rtol=1e-6)


def test_callback_exception_reaches_the_caller():
    ex = _bound()

    def bad(name, arr):
        raise KeyError("from the callback: " + name)
    ex.set_monitor_callback(bad)
    with pytest.raises(KeyError, match="from the callback: fc1_output"):
        ex.forward()
    ex.set_monitor_callback(None)
    ex.forward()[0].wait_to_read()


def test_module_fit_logs_monitor_lines(caplog):
    rng = np.random.RandomState(0)
    x = rng.rand(40, 3).astype(np.float32)
    y = (x.sum(1) > 1.5).astype(np.float32)
    it = mx.io.NDArrayIter(x, y, 10)
    mod = mx.mod.Module(_net())
    mon = mx.mon.Monitor(2, pattern="relu1.*")
    with caplog.at_level(logging.INFO):
        mod.fit(it, num_epoch=1, monitor=mon, optimizer_params={"learning_rate": 0.1})
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Batch:")]
    # 4 batches, interval 2: batches 1 and 3, relu1's output and its backward output each.
    assert [line.split()[1:3] for line in lines] == [
        ["1", "relu1_output"], ["1", "relu1_backward_output"],
        ["3", "relu1_output"], ["3", "relu1_backward_output"]]
    assert float(lines[0].split()[-1]) >= 0


def test_bad_interval():
    with pytest.raises(ValueError, match="interval"):
        mx.mon.Monitor(0)


def test_hidden_outputs_and_every_variable_read_are_shown_as_mxnet():
    # MXNet 1.9.1's names for this graph: hidden outputs (BatchNorm's mean/var, Dropout's
    # mask) are shown, and a variable read twice is shown before each read.
    data = mx.sym.Variable("data")
    bn = mx.sym.BatchNorm(data, name="bn")
    drop = mx.sym.Dropout(bn, p=0.5, name="drop")
    cat = mx.sym.concat(drop, data, data, dim=1, name="cat")
    ex = cat.simple_bind(mx.cpu(), data=(1, 2, 3, 3))
    for monitor_all, expected in [
        (False, ["bn_output", "bn_mean", "bn_var", "drop_output", "drop_mask", "cat_output"]),
        (True, ["data", "bn_data", "bn_gamma", "bn_gamma", "bn_beta", "bn_beta",
                "bn_moving_mean", "bn_moving_mean", "bn_moving_var", "bn_moving_var",
                "bn_output", "bn_mean", "bn_var", "drop_data", "drop_output", "drop_mask",
                "cat_arg0", "data", "cat_arg1", "data", "cat_arg2", "cat_output"]),
    ]:
        names = []
        ex.set_monitor_callback(lambda n, a: names.append(n), monitor_all=monitor_all)
        ex.forward(is_train=True)
        assert names == expected, monitor_all
