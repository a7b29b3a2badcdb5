"""LARS, LBSGD, GroupAdaGrad, ccSGD and Test against numpy references of MXNet 1.9.1's update
rules, run through the Updater as Module and KVStore run them, plus values MXNet printed."""
import math

import numpy as np
import pytest

import oxnet as mx

NAMES = {0: 'fc1_weight', 1: 'fc1_bias', 2: 'fc2_weight', 3: 'bn_gamma', 4: 'fc3_weight'}


def _params(seed=1, steps=6):
    rng = np.random.RandomState(seed)
    w = [rng.randn(4, 3), rng.randn(4), rng.randn(3, 3), rng.randn(2), np.zeros((2, 2))]
    w = [a.astype(np.float32) for a in w]
    g = [[rng.randn(*a.shape).astype(np.float32) for a in w] for _ in range(steps)]
    return w, g


def _run(opt, weights, grads, aggregated=True):
    up = mx.optimizer.get_updater(opt)
    ws = [mx.nd.array(w) for w in weights]
    for step in grads:
        if aggregated:
            up(list(range(len(ws))), [mx.nd.array(g) for g in step], ws)
        else:
            for i, g in enumerate(step):
                up(i, mx.nd.array(g), ws[i])
    return [w.asnumpy() for w in ws]


def _lars_step(w, mom, i, g, lr, m, wd, eta, eps, rescale, clip):
    name = NAMES[i]
    wdi = wd if name.endswith('_weight') else 0.0
    wn, gn = np.linalg.norm(w[i]), np.linalg.norm(g) * rescale
    if not name.endswith(('gamma', 'beta', 'bias')) and wn > 0 and gn > 0:
        lr = lr * eta * wn / (gn + wdi * wn + eps)
    gg = rescale * g if clip is None else np.clip(rescale * g, -clip, clip)
    mom[i] = m * mom[i] - lr * (gg + wdi * w[i])
    w[i] = w[i] + mom[i]


def _lars_ref(weights, grads, lr_at, momentum, wd, eta, eps, rescale, clip, calls):
    """``calls``: the weight indices of each optimizer call in a step. As MXNet, the momentum
    correction lr/previous lr is computed per call, so only the first call after the rate
    changes sees a ratio other than 1."""
    w = [a.astype(np.float64) for a in weights]
    mom = [np.zeros_like(a) for a in w]
    last = None
    for t, step in enumerate(grads, 1):
        for call in calls:
            lr = lr_at(t)
            m = momentum * lr / last if last else momentum
            last = lr
            for i in call:
                _lars_step(w, mom, i, step[i], lr, m, wd, eta, eps, rescale, clip)
    return w


@pytest.mark.parametrize("aggregated", [True, False])
def test_lars_momentum_schedule_against_numpy(aggregated):
    w, g = _params()
    sched = mx.lr_scheduler.FactorScheduler(step=2, factor=0.5, base_lr=0.5)
    opt = mx.optimizer.create('lars', learning_rate=0.5, momentum=0.9, wd=0.01, eta=0.02,
                              param_idx2name=NAMES, rescale_grad=0.5, lr_scheduler=sched)
    got = _run(opt, w, g, aggregated)
    lr_at = lambda t: 0.5 * 0.5 ** ((t - 1) // 2)  # noqa: E731 (FactorScheduler's steps)
    # The Updater hands over up to MXNET_OPTIMIZER_AGGREGATION_SIZE=4 weights per call.
    calls = [[0, 1, 2, 3], [4]] if aggregated else [[i] for i in range(5)]
    want = _lars_ref(w, g, lr_at, 0.9, 0.01, 0.02, 0, 0.5, None, calls)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)
    if not aggregated:
        return
    # The first values MXNet 1.9.1 printed for the same (aggregated) run.
    np.testing.assert_allclose(got[0].ravel()[:3], [1.638943076133728, -0.6555747389793396,
                                                    -0.5619397759437561], rtol=1e-6)
    np.testing.assert_allclose(got[3], [-0.3092362880706787, 0.5522525310516357], rtol=1e-6)


def test_lars_without_momentum_with_eps_and_clip():
    w, g = _params(2)
    opt = mx.optimizer.create('lars', learning_rate=0.5, wd=0.001, param_idx2name=NAMES,
                              eps=0.1, clip_gradient=0.8)
    got = _run(opt, w, g)
    want = _lars_ref(w, g, lambda t: 0.5, 0.0, 0.001, 0.001, 0.1, 1.0, 0.8, [[0, 1, 2, 3], [4]])
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


def _lbsgd_ref(weights, grads, lr, momentum, wd, scale, nwup, strategy):
    w = [a.astype(np.float64) for a in weights]
    mom = [np.zeros_like(a) for a in w]
    cum = [None] * len(w)
    count = [0] * len(w)
    for step in grads:
        for i, g in enumerate(step):
            wdi = wd if NAMES[i].endswith(('_weight', '_gamma')) else 0.0
            cum[i] = g.astype(np.float64) if count[i] == 0 or cum[i] is None else cum[i] + g
            count[i] += 1
            if count[i] % scale:
                continue
            gg = cum[i] / scale
            n = count[i]
            if n >= nwup:
                mult = float(scale)
            elif strategy == 'linear':
                mult = 1 + (scale - 1) * n / nwup
            else:
                mult = 1 + (scale - 1) * math.sqrt(n / nwup)
            mom[i] = momentum * mom[i] - lr * mult * (gg + wdi * w[i])
            w[i] = w[i] + mom[i]
            cum[i] = np.zeros_like(gg)
    return w


@pytest.mark.parametrize("strategy,scale,nwup", [("linear", 2, 4), ("sqrt", 3, 8)])
def test_lbsgd_accumulates_and_warms_up_against_numpy(strategy, scale, nwup):
    w, g = _params(3, steps=9)
    opt = mx.optimizer.create('lbsgd', learning_rate=0.1, momentum=0.9, wd=0.01,
                              batch_scale=scale, warmup_strategy=strategy, warmup_epochs=2,
                              updates_per_epoch=nwup // 2, param_idx2name=NAMES)
    got = _run(opt, w, g, aggregated=False)
    want = _lbsgd_ref(w, g, 0.1, 0.9, 0.01, scale, nwup, strategy)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


def test_lbsgd_matches_mxnet_printed_values():
    w, g = _params()
    opt = mx.optimizer.create('lbsgd', learning_rate=0.1, momentum=0.9, wd=0.01, batch_scale=2,
                              warmup_epochs=1, updates_per_epoch=4, param_idx2name=NAMES)
    got = _run(opt, w, g, aggregated=False)
    np.testing.assert_allclose(got[0].ravel()[:3], [1.7235867977142334, -1.0444698333740234,
                                                    -0.9621152877807617], rtol=1e-6)
    np.testing.assert_allclose(got[3], [-0.6652963161468506, 0.283876895904541], rtol=1e-6)


def test_lbsgd_accumulating_step_still_applies_a_zero_rate_update():
    # MXNet 1.9.1 runs sgd_update(lr=0) between accumulated steps: a NaN/inf gradient
    # reaches the weight at once ([nan nan 3.]).
    opt = mx.optimizer.LBSGD(learning_rate=0.1, batch_scale=2)
    w = mx.nd.array([1., 2., 3.])
    mx.optimizer.get_updater(opt)(0, mx.nd.array([np.nan, np.inf, 1.]), w)
    got = w.asnumpy()
    assert np.isnan(got[:2]).all() and got[2] == 3


def test_lbsgd_multi_precision_state_and_lazy_update_match_mxnet():
    # MXNet 1.9.1: float16 weights keep (weight32, momentum) and the master copy is updated
    # lazily from a row_sparse gradient (row 0, without one, is not decayed).
    opt = mx.optimizer.create('lbsgd', learning_rate=0.1, momentum=0.9, wd=0.5,
                              multi_precision=True)
    w = mx.nd.array([[1, 2], [3, 4]], dtype='float16')
    g = mx.nd.array([[0, 0], [1, 1]], dtype='float16').tostype('row_sparse')
    up = mx.optimizer.get_updater(opt)
    up(0, g, w)
    up(0, g, w)
    master, mom = up.states[0]
    assert master.dtype == np.float32 and mom.dtype == np.float32
    assert w.asnumpy().tolist() == [[1.0, 2.0], [2.287109375, 3.14453125]]
    np.testing.assert_allclose(master.asnumpy(), [[1, 2], [2.2875, 3.145]], rtol=1e-6)
    np.testing.assert_allclose(mom.asnumpy(), [[0, 0], [-0.4625, -0.555]], rtol=1e-6)


def test_group_adagrad_against_numpy_and_errors():
    w, g = _params()
    opt = mx.optimizer.contrib.GroupAdaGrad(learning_rate=0.1, rescale_grad=0.5,
                                            clip_gradient=0.7)
    assert isinstance(mx.optimizer.create('groupadagrad'), mx.optimizer.GroupAdaGrad)
    weight = mx.nd.array(w[0])
    state = opt.create_state(0, weight)
    assert state.shape == (4, 1)
    ref_w, ref_h = w[0].astype(np.float64), np.zeros((4, 1))
    for step in g:
        opt.update(0, weight, mx.nd.array(step[0]), state)
        gg = np.clip(0.5 * step[0], -0.7, 0.7)
        ref_h += (gg * gg).mean(axis=1, keepdims=True)
        ref_w -= 0.1 * gg / np.sqrt(ref_h + 1e-5)
    np.testing.assert_allclose(weight.asnumpy(), ref_w, rtol=1e-5)
    np.testing.assert_allclose(state.asnumpy(), ref_h, rtol=1e-5)
    # MXNet 1.9.1 printed these for the same run.
    np.testing.assert_allclose(weight.asnumpy().ravel()[:3],
                               [1.7030738592147827, -0.8138332366943359, -0.6878134608268738],
                               rtol=1e-6)
    with pytest.raises(ValueError, match="must be 2-D"):
        opt.create_state(1, mx.nd.ones(3))
    with pytest.raises(ValueError, match="weight decay is not supported"):
        mx.optimizer.GroupAdaGrad(wd=0.1).update(0, weight, weight, state)


def test_ccsgd_is_sgd_and_test_optimizer():
    w, g = _params()
    a = _run(mx.optimizer.create('ccsgd', learning_rate=0.1, momentum=0.5), w, g)
    b = _run(mx.optimizer.create('sgd', learning_rate=0.1, momentum=0.5), w, g)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    opt = mx.optimizer.create('test', rescale_grad=0.5)
    weight = mx.nd.array(w[0])
    state = opt.create_state(0, weight)
    opt.update(0, weight, mx.nd.array(g[0][0]), state)
    np.testing.assert_allclose(weight.asnumpy(), w[0] + 0.5 * g[0][0], rtol=1e-6)
    np.testing.assert_array_equal(state.asnumpy(), weight.asnumpy())


def test_lars_module_fit_trains():
    mx.random.seed(1)
    np.random.seed(1)
    rng = np.random.RandomState(0)
    x = rng.randn(200, 5).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.float32)
    data = mx.sym.var('data')
    net = mx.sym.FullyConnected(data, num_hidden=8, name='fc1')
    net = mx.sym.Activation(net, act_type='relu')
    net = mx.sym.FullyConnected(net, num_hidden=2, name='fc2')
    net = mx.sym.SoftmaxOutput(net, name='softmax')
    mod = mx.mod.Module(net)
    it = mx.io.NDArrayIter(x, y, batch_size=20, shuffle=True)
    mod.fit(it, num_epoch=20, optimizer='lars', initializer=mx.init.Xavier(),
            optimizer_params={'learning_rate': 0.1, 'momentum': 0.9, 'eta': 0.05})
    assert mod.score(mx.io.NDArrayIter(x, y, batch_size=20), 'acc')[0][1] > 0.95
