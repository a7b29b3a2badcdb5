"""Names MXNet 1.9.1 re-exports from mx.model and mx.callback, which user code reaches there."""
import importlib.util
import os

import numpy as np
import pytest

import oxnet as mx


def test_model_reexports_are_the_originals():
    assert mx.model.DataDesc is mx.io.DataDesc
    assert mx.model.LogValidationMetricsCallback is mx.callback.LogValidationMetricsCallback
    assert mx.model.get_updater is mx.optimizer.get_updater
    assert mx.model.Uniform is mx.init.Uniform
    assert mx.callback.save_checkpoint is mx.model.save_checkpoint


def test_real_type_is_float32():
    # MXNet 1.9.1: mx.base.mx_real_t and mx.model.mx_real_t are numpy.float32
    assert mx.model.mx_real_t is np.float32
    assert mx.base.mx_real_t is np.float32


def test_sklearn_flag_reports_installation():
    assert mx.model.SKLEARN_INSTALLED == (importlib.util.find_spec("sklearn") is not None)
    assert mx.model.BASE_ESTIMATOR is object


def test_model_get_updater_applies_the_optimizer():
    opt = mx.optimizer.SGD(learning_rate=0.5, momentum=0.9)
    updater = mx.model.get_updater(opt)
    w = mx.nd.array([1.0, -2.0, 3.0])
    g = mx.nd.array([0.2, 0.4, -0.6])
    updater(0, g, w)
    updater(0, g, w)
    # momentum SGD: m = 0.9 m - lr g; w += m
    m1 = -0.5 * g.asnumpy()
    m2 = 0.9 * m1 - 0.5 * g.asnumpy()
    np.testing.assert_allclose(w.asnumpy(), np.array([1.0, -2.0, 3.0]) + m1 + m2, rtol=1e-6)
    assert set(updater.states) == {0}


def test_model_data_desc_and_uniform_work():
    desc = mx.model.DataDesc("data", (2, 3))
    assert desc.name == "data" and desc.shape == (2, 3) and desc.dtype == mx.model.mx_real_t
    arr = mx.nd.zeros((200,))
    mx.model.Uniform(0.25)(mx.init.InitDesc("fc_weight"), arr)
    vals = arr.asnumpy()
    assert vals.min() >= -0.25 and vals.max() <= 0.25 and vals.std() > 0.1


def test_callback_save_checkpoint_writes_mxnet_files(tmp_path):
    prefix = str(tmp_path / "net")
    sym = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=2, name="fc")
    arg = {"fc_weight": mx.nd.ones((2, 3)), "fc_bias": mx.nd.array([1.0, 2.0])}
    mx.callback.save_checkpoint(prefix, 7, sym, arg, {})
    assert os.path.exists(prefix + "-symbol.json") and os.path.exists(prefix + "-0007.params")
    sym2, arg2, aux2 = mx.model.load_checkpoint(prefix, 7)
    assert sym2.list_arguments() == sym.list_arguments()
    np.testing.assert_array_equal(arg2["fc_bias"].asnumpy(), [1.0, 2.0])
    assert aux2 == {}
    # a key without the arg:/aux: prefix is no checkpoint's (MXNet's split raises as well);
    # other prefixes are skipped
    mx.nd.save(prefix + "-0009.params", {"arg:fc_bias": mx.nd.ones(2), "x:y": mx.nd.ones(1)})
    arg9, aux9 = mx.model.load_params(prefix, 9)
    assert list(arg9) == ["fc_bias"] and aux9 == {}
    mx.nd.save(prefix + "-0008.params", {"arg:fc_bias": mx.nd.ones(2), "weird": mx.nd.ones(1)})
    with pytest.raises(ValueError, match="'weird' has no arg:/aux: prefix"):
        mx.model.load_params(prefix, 8)
    # do_checkpoint numbers epochs from 1
    mx.callback.do_checkpoint(prefix, period=2)(1, sym, arg, {})
    assert os.path.exists(prefix + "-0002.params")
