"""mx.callback: exact log lines of MXNet 1.9.1's callbacks, checkpoint scheduling."""
import logging
import re
from collections import namedtuple

import pytest

import oxnet as mx

# mx.model defines the real one; callbacks only use these four fields.
BatchEndParam = namedtuple("BatchEndParams", ["epoch", "nbatch", "eval_metric", "locals"])


class _Clock(object):
    """Replaces time.time inside mx.callback so speeds are exact."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = _Clock()
    monkeypatch.setattr(mx.callback.time, "time", c)
    return c


def _messages(caplog):
    return [r.getMessage() for r in caplog.records]


def _acc_metric(correct, total):
    m = mx.metric.Accuracy()
    m.update([mx.nd.array([1] * correct + [0] * (total - correct))],
             [mx.nd.array([1] * total)])
    return m


def test_speedometer_auto_reset_lines(caplog, clock):
    caplog.set_level(logging.INFO)
    speedo = mx.callback.Speedometer(batch_size=4, frequent=2)
    metric = _acc_metric(3, 4)
    for nbatch in range(5):
        speedo(BatchEndParam(0, nbatch, metric, None))
        clock.now += 0.5
        if nbatch == 2:
            metric.update([mx.nd.array([0, 0])], [mx.nd.array([0, 1])])
    # batch 0 starts the clock; 2 and 4 log; the metric is reset_local after each line.
    assert _messages(caplog) == [
        "Epoch[0] Batch [0-2]\tSpeed: 8.00 samples/sec\taccuracy=0.750000",
        "Epoch[0] Batch [2-4]\tSpeed: 8.00 samples/sec\taccuracy=0.500000",
    ]
    assert metric.get_global()[1] == pytest.approx(4 / 6)


def test_speedometer_no_auto_reset_and_composite(caplog, clock):
    caplog.set_level(logging.INFO)
    speedo = mx.callback.Speedometer(batch_size=10, frequent=3, auto_reset=False)
    metric = mx.metric.create(["acc", "mse"])
    metric.update([mx.nd.array([1, 0])], [mx.nd.array([1, 1])])
    for nbatch in range(4):
        speedo(BatchEndParam(2, nbatch, metric, None))
        clock.now += 1.0
    assert _messages(caplog) == [
        "Epoch[2] Batch [0-3]\tSpeed: 10.00 samples/sec\taccuracy=0.500000\tmse=0.500000"]
    assert metric.get()[1] == [0.5, 0.5]


def test_speedometer_without_metric(caplog, clock):
    caplog.set_level(logging.INFO)
    speedo = mx.callback.Speedometer(batch_size=2, frequent=1)
    speedo(BatchEndParam(1, 0, None, None))
    clock.now += 0.25
    speedo(BatchEndParam(1, 1, None, None))
    assert _messages(caplog) == ["Iter[1] Batch [1]\tSpeed: 8.00 samples/sec"]


def test_speedometer_restarts_each_epoch(caplog, clock):
    caplog.set_level(logging.INFO)
    speedo = mx.callback.Speedometer(batch_size=1, frequent=1)
    speedo(BatchEndParam(0, 0, None, None))
    clock.now += 1
    speedo(BatchEndParam(0, 1, None, None))
    clock.now += 100  # the epoch boundary (evaluation, checkpoints) must not count
    speedo(BatchEndParam(1, 0, None, None))
    clock.now += 0.5
    speedo(BatchEndParam(1, 1, None, None))
    assert _messages(caplog) == ["Iter[0] Batch [1]\tSpeed: 1.00 samples/sec",
                                 "Iter[1] Batch [1]\tSpeed: 2.00 samples/sec"]


def test_speedometer_real_clock(caplog):
    caplog.set_level(logging.INFO)
    speedo = mx.callback.Speedometer(batch_size=32, frequent=1)
    metric = _acc_metric(1, 2)
    speedo(BatchEndParam(0, 0, metric, None))
    speedo(BatchEndParam(0, 1, metric, None))
    (line,) = _messages(caplog)
    assert re.fullmatch(r"Epoch\[0\] Batch \[0-1\]\tSpeed: (\d+\.\d\d|inf) samples/sec"
                        r"\taccuracy=0\.500000", line), line


def test_log_train_metric(caplog):
    caplog.set_level(logging.INFO)
    metric = _acc_metric(1, 4)
    cb = mx.callback.log_train_metric(period=2, auto_reset=True)
    cb(BatchEndParam(3, 1, metric, None))
    assert _messages(caplog) == []
    cb(BatchEndParam(3, 2, metric, None))
    assert _messages(caplog) == ["Iter[3] Batch[2] Train-accuracy=0.250000"]
    assert metric.num_inst == 0 and metric.global_num_inst == 4
    cb(BatchEndParam(3, 4, None, None))  # no metric: nothing to log
    assert len(caplog.records) == 1


def test_progress_bar(caplog):
    caplog.set_level(logging.INFO)
    bar = mx.callback.ProgressBar(total=3, length=12)
    for n in (1, 2, 3):
        bar(BatchEndParam(0, n, None, None))
    assert _messages(caplog) == ["[====--------] 34%\r", "[========----] 67%\r",
                                 "[============] 100%\r"]


def test_log_validation_metrics(caplog):
    caplog.set_level(logging.INFO)
    cb = mx.callback.LogValidationMetricsCallback()
    cb(BatchEndParam(5, 0, mx.metric.create(["acc", "mae"]), None))
    cb(BatchEndParam(5, 0, None, None))
    metric = _acc_metric(3, 4)
    cb(BatchEndParam(6, 9, metric, None))
    assert _messages(caplog) == ["Epoch[5] Validation-accuracy=nan", "Epoch[5] Validation-mae=nan",
                                 "Epoch[6] Validation-accuracy=0.750000"]


def test_do_checkpoint_period_and_numbering(monkeypatch):
    calls = []
    monkeypatch.setattr(mx.model, "save_checkpoint",
                        lambda *args: calls.append(args), raising=False)
    cb = mx.callback.do_checkpoint("pre", period=2)
    for epoch in range(5):
        cb(epoch, "SYM", {"w": 1}, {"a": 2})
    assert calls == [("pre", 2, "SYM", {"w": 1}, {"a": 2}),
                     ("pre", 4, "SYM", {"w": 1}, {"a": 2})]
    calls.clear()
    every = mx.callback.do_checkpoint("p", period=0)  # clamped to 1
    every(0, None, {}, {})
    assert calls == [("p", 1, None, {}, {})]


def test_module_checkpoint():
    class FakeModule(object):
        def __init__(self):
            self.calls = []

        def save_checkpoint(self, prefix, epoch, save_optimizer_states=False):
            self.calls.append((prefix, epoch, save_optimizer_states))

    mod = FakeModule()
    cb = mx.callback.module_checkpoint(mod, "m", period=3, save_optimizer_states=True)
    for epoch in range(7):
        cb(epoch)
    assert mod.calls == [("m", 3, True), ("m", 6, True)]


@pytest.mark.skipif(not hasattr(mx.model, "save_checkpoint"),
                    reason="mx.model.save_checkpoint not available")
def test_do_checkpoint_writes_mxnet_files(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    prefix = str(tmp_path / "net")
    sym = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=2, name="fc")
    arg = {"fc_weight": mx.nd.ones((2, 3)), "fc_bias": mx.nd.zeros((2,))}
    aux = {"bn_moving_var": mx.nd.ones((2,))}
    mx.callback.do_checkpoint(prefix)(0, sym, arg, aux)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net-0001.params", "net-symbol.json"]
    saved = mx.nd.load(prefix + "-0001.params")
    assert sorted(saved) == ["arg:fc_bias", "arg:fc_weight", "aux:bn_moving_var"]
    assert 'Saved checkpoint to "%s-0001.params"' % prefix in _messages(caplog)
