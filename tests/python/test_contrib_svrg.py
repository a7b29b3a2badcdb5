"""mx.contrib.svrg_optimization on least squares: the full-gradient snapshot against numpy,
the SVRG step rule against a numpy re-implementation, and convergence."""
import logging

import numpy as np
import pytest

import oxnet as mx
from oxnet.contrib.svrg_optimization import SVRGModule, _SVRGOptimizer

N, D, BS = 32, 4, 8


def _problem(seed=0):
    rng = np.random.RandomState(seed)
    x = rng.randn(N, D).astype(np.float32)
    w_true = np.array([[1.5, -2.0, 0.5, 3.0]], dtype=np.float32)
    y = (x @ w_true.T).ravel() + 0.01 * rng.randn(N).astype(np.float32)
    return x, y, w_true


def _symbol():
    data = mx.sym.Variable('data')
    fc = mx.sym.FullyConnected(data, num_hidden=1, no_bias=True, name='fc')
    return mx.sym.LinearRegressionOutput(fc, name='lin')


def _batch_grad(w, xb, yb):
    # LinearRegressionOutput's gradient summed over the batch: sum_i (x_i.w - y_i) x_i.
    return ((xb @ w.T).ravel() - yb) @ xb


def _full_grad(w, x, y):
    return np.mean([_batch_grad(w, x[i:i + BS], y[i:i + BS]) for i in range(0, N, BS)], axis=0)


def _module(x, y, w0, update_freq=1, lr=0.05):
    it = mx.io.NDArrayIter(x, y, batch_size=BS, shuffle=False, label_name='lin_label')
    mod = SVRGModule(_symbol(), data_names=['data'], label_names=['lin_label'],
                     update_freq=update_freq, logger=logging)
    mod.bind(data_shapes=it.provide_data, label_shapes=it.provide_label)
    mod.init_params(arg_params={'fc_weight': mx.nd.array(w0)})
    mod.init_optimizer(optimizer='sgd', optimizer_params=(('learning_rate', lr),))
    return mod, it


def test_full_gradient_snapshot_is_numpy_mean_gradient():
    x, y, _ = _problem()
    w0 = np.array([[0.1, 0.2, -0.3, 0.4]], dtype=np.float32)
    mod, it = _module(x, y, w0)
    mod.update_full_grads(it)
    np.testing.assert_allclose(mod._param_dict[0]['fc_weight'].asnumpy().ravel(),
                               _full_grad(w0, x, y), rtol=1e-5, atol=1e-5)
    # A second snapshot at other weights replaces the first (it is not added onto it).
    w1 = np.array([[1.0, -1.0, 0.0, 2.0]], dtype=np.float32)
    mod.set_params({'fc_weight': mx.nd.array(w1)}, {})
    mod.update_full_grads(it)
    np.testing.assert_allclose(mod._param_dict[0]['fc_weight'].asnumpy().ravel(),
                               _full_grad(w1, x, y), rtol=1e-5, atol=1e-5)


def _numpy_svrg(x, y, w0, lr, epochs, update_freq):
    w = w0.astype(np.float64).copy()
    for epoch in range(epochs):
        if epoch % update_freq == 0:
            snap, full = w.copy(), _full_grad(w, x, y)
        for i in range(0, N, BS):
            xb, yb = x[i:i + BS], y[i:i + BS]
            g = _batch_grad(w, xb, yb) - _batch_grad(snap, xb, yb) + full
            w = w - lr / BS * g
    return w


def test_svrg_fit_matches_numpy_svrg():
    x, y, w_true = _problem()
    w0 = np.zeros((1, D), dtype=np.float32)
    mod, it = _module(x, y, w0, update_freq=2, lr=0.05)
    mod.fit(it, num_epoch=4, eval_metric='mse', optimizer='sgd',
            optimizer_params=(('learning_rate', 0.05),),
            arg_params={'fc_weight': mx.nd.array(w0)}, force_init=True)
    got = mod.get_params()[0]['fc_weight'].asnumpy()
    np.testing.assert_allclose(got, _numpy_svrg(x, y, w0, 0.05, 4, 2), rtol=1e-4, atol=1e-5)


def test_svrg_fit_converges_to_least_squares():
    x, y, w_true = _problem(2)
    w0 = np.zeros((1, D), dtype=np.float32)
    mod, it = _module(x, y, w0, update_freq=2, lr=0.2)
    metric = mx.metric.MSE()
    mod.fit(it, num_epoch=30, eval_metric=metric)
    got = mod.get_params()[0]['fc_weight'].asnumpy()
    w_ls = np.linalg.lstsq(x, y, rcond=None)[0]
    np.testing.assert_allclose(got.ravel(), w_ls, atol=1e-3)
    np.testing.assert_allclose(got, w_true, atol=0.02)
    assert metric.get()[1] < 1e-3


def test_first_step_after_snapshot_uses_full_gradient():
    x, y, _ = _problem(1)
    w0 = np.array([[0.3, -0.1, 0.2, 0.0]], dtype=np.float32)
    mod, it = _module(x, y, w0, lr=0.1)
    mod.update_full_grads(it)
    it.reset()
    mod.forward_backward(next(iter(it)))
    mod.update()
    # At the snapshot the batch terms cancel: w1 = w0 - lr / batch_size * full_gradient.
    expect = w0 - 0.1 / BS * _full_grad(w0, x, y)
    np.testing.assert_allclose(mod.get_params()[0]['fc_weight'].asnumpy(), expect,
                               rtol=1e-5, atol=1e-6)


def test_svrg_optimizer_dispatch():
    o = _SVRGOptimizer(default_optimizer='sgd', learning_rate=0.5,
                       param_idx2name={0: 'w', 1: 'w_full'})
    w, g = mx.nd.array([1.0, 2.0]), mx.nd.array([4.0, 6.0])
    o.update(0, w, g, o.create_state(0, w))  # plain SGD step
    np.testing.assert_allclose(w.asnumpy(), [-1.0, -1.0])
    full = mx.nd.zeros(2)
    o.update('w_full', full, g, o.create_state('w_full', full))  # assignment
    np.testing.assert_allclose(full.asnumpy(), [4.0, 6.0])
    with pytest.raises(KeyError, match="index 7"):
        o.update(7, w, g, None)
    with pytest.raises(TypeError, match="default_optimizer"):
        _SVRGOptimizer(default_optimizer=3)


def test_update_freq_validation():
    with pytest.raises(TypeError, match="update_freq must be an int"):
        SVRGModule(_symbol(), label_names=['lin_label'])
    with pytest.raises(ValueError, match="update_freq must be positive"):
        SVRGModule(_symbol(), label_names=['lin_label'], update_freq=0)


def test_two_devices_share_full_gradient_through_kvstore():
    x, y, w_true = _problem()
    w0 = np.array([[0.1, 0.2, -0.3, 0.4]], dtype=np.float32)
    it = mx.io.NDArrayIter(x, y, batch_size=BS, shuffle=False, label_name='lin_label')
    mod = SVRGModule(_symbol(), label_names=['lin_label'], update_freq=2,
                     context=[mx.cpu(0), mx.cpu(1)])
    mod.bind(data_shapes=it.provide_data, label_shapes=it.provide_label)
    mod.init_params(arg_params={'fc_weight': mx.nd.array(w0)})
    mod.init_optimizer(kvstore='local', optimizer='sgd',
                       optimizer_params=(('learning_rate', 0.2),))
    assert mod._kvstore is not None and mod._update_on_kvstore
    mod.update_full_grads(it)
    # Each device holds the mean of the devices' full gradients: half the whole-batch one,
    # since each device sees half of every batch; the store sums them back at each update.
    for k in range(2):
        np.testing.assert_allclose(mod._param_dict[k]['fc_weight'].asnumpy().ravel(),
                                   _full_grad(w0, x, y) / 2, rtol=1e-5, atol=1e-5)
    mod.fit(it, num_epoch=40, eval_metric='mse')
    np.testing.assert_allclose(mod.get_params()[0]['fc_weight'].asnumpy(), w_true, atol=0.02)
