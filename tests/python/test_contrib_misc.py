"""mx.contrib's namespace aliases and mx.contrib.tensorboard.LogMetricsCallback (with a fake
SummaryWriter module standing in for mxboard)."""
import sys
import types

import pytest

import oxnet as mx
from oxnet.model import BatchEndParam


def test_contrib_aliases():
    # MXNet 1.9.1: mx.contrib.ndarray is mx.nd.contrib and mx.contrib.symbol is mx.sym.contrib.
    assert mx.contrib.ndarray is mx.nd.contrib and mx.contrib.nd is mx.nd.contrib
    assert mx.contrib.symbol is mx.sym.contrib and mx.contrib.sym is mx.sym.contrib
    assert mx.contrib.text.vocab.Vocabulary is not None
    assert mx.contrib.tensorboard.LogMetricsCallback is not None


class _FakeWriter:
    instances = []

    def __init__(self, logdir):
        self.logdir = logdir
        self.scalars = []
        _FakeWriter.instances.append(self)

    def add_scalar(self, name, value, global_step=None):
        self.scalars.append((name, value, global_step))


def _fake_module(monkeypatch, name):
    mod = types.ModuleType(name)
    mod.SummaryWriter = _FakeWriter
    monkeypatch.setitem(sys.modules, name, mod)


def test_log_metrics_callback_writes_scalars(monkeypatch, tmp_path):
    _fake_module(monkeypatch, 'mxboard')
    cb = mx.contrib.tensorboard.LogMetricsCallback(str(tmp_path), prefix='train')
    writer = cb.summary_writer
    assert isinstance(writer, _FakeWriter) and writer.logdir == str(tmp_path)
    metric = mx.metric.create(['acc', 'mse'])
    metric.update([mx.nd.array([0, 1, 1])], [mx.nd.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])])
    cb(BatchEndParam(epoch=3, nbatch=0, eval_metric=metric, locals=None))
    names = [s[0] for s in writer.scalars]
    assert names == ['train-accuracy', 'train-mse'] and all(s[2] == 3 for s in writer.scalars)
    assert writer.scalars[0][1] == pytest.approx(2 / 3)
    # Without a prefix the metric names are written as they are; no metric -> nothing written.
    cb2 = mx.contrib.tensorboard.LogMetricsCallback(str(tmp_path))
    cb2(BatchEndParam(epoch=0, nbatch=0, eval_metric=None, locals=None))
    assert cb2.summary_writer.scalars == []
    metric = mx.metric.Accuracy()
    metric.update([mx.nd.array([1])], [mx.nd.array([[0.2, 0.8]])])
    cb2(BatchEndParam(epoch=1, nbatch=0, eval_metric=metric, locals=None))
    assert cb2.summary_writer.scalars == [('accuracy', 1.0, 1)]


def test_log_metrics_callback_falls_back_to_tensorboardx(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, 'mxboard', None)  # import mxboard -> ImportError
    _fake_module(monkeypatch, 'tensorboardX')
    cb = mx.contrib.tensorboard.LogMetricsCallback(str(tmp_path))
    assert isinstance(cb.summary_writer, _FakeWriter)


def test_log_metrics_callback_without_writer_names_the_package(monkeypatch, tmp_path):
    for name in ('mxboard', 'tensorboardX', 'torch', 'torch.utils', 'torch.utils.tensorboard'):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match="pip install mxboard"):
        mx.contrib.tensorboard.LogMetricsCallback(str(tmp_path))
