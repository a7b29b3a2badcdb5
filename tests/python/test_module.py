"""mx.mod.Module, BucketingModule, SequentialModule and checkpoints, against numpy and against
checkpoints written by real MXNet 1.9.1 (tests/data/make_golden_module.py)."""
import json
import logging
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import oxnet as mx
from conftest import DATA

GOLD = os.path.join(DATA, "golden", "module")


def mlp(num_hidden=8, num_out=3, bn=False):
    data = mx.sym.Variable("data")
    h = mx.sym.FullyConnected(data, name="fc1", num_hidden=num_hidden)
    if bn:
        h = mx.sym.BatchNorm(h, name="bn1")
    h = mx.sym.Activation(h, name="relu1", act_type="relu")
    out = mx.sym.FullyConnected(h, name="fc2", num_hidden=num_out)
    return mx.sym.SoftmaxOutput(out, name="softmax")


def toy_data(n=40, dim=5, classes=3, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.uniform(-1, 1, (n, dim)).astype(np.float32)
    y = rng.randint(0, classes, n).astype(np.float32)
    return x, y


def fixed_params(seed=1, dim=5, hidden=8, out=3):
    rng = np.random.RandomState(seed)
    return {"fc1_weight": mx.nd.array(rng.normal(0, 0.5, (hidden, dim))),
            "fc1_bias": mx.nd.array(rng.normal(0, 0.1, hidden)),
            "fc2_weight": mx.nd.array(rng.normal(0, 0.5, (out, hidden))),
            "fc2_bias": mx.nd.array(rng.normal(0, 0.1, out))}


def numpy_sgd_step(p, x, y, lr, wd=0.0):
    """One SGD step of the MLP in numpy (softmax cross-entropy, gradient averaged over the
    batch as rescale_grad = 1/batch does; wd on weights only, as MXNet's default)."""
    h_pre = x @ p["fc1_weight"].T + p["fc1_bias"]
    h = np.maximum(h_pre, 0)
    z = h @ p["fc2_weight"].T + p["fc2_bias"]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    prob = e / e.sum(axis=1, keepdims=True)
    dz = prob.copy()
    dz[np.arange(len(y)), y.astype(int)] -= 1
    dz /= len(y)
    g = {"fc2_weight": dz.T @ h, "fc2_bias": dz.sum(0)}
    dh = (dz @ p["fc2_weight"]) * (h_pre > 0)
    g["fc1_weight"] = dh.T @ x
    g["fc1_bias"] = dh.sum(0)
    out = {}
    for k in p:
        decay = wd if k.endswith("_weight") else 0.0
        out[k] = p[k] - lr * (g[k] + decay * p[k])
    return out


def bound_module(ctx=None, batch=10, params=None, **kw):
    mod = mx.mod.Module(mlp(), context=ctx or mx.cpu(), **kw)
    mod.bind(data_shapes=[("data", (batch, 5))], label_shapes=[("softmax_label", (batch,))])
    mod.init_params(arg_params=params or fixed_params())
    return mod


def test_module_names_and_shapes():
    mod = mx.mod.Module(mlp())
    assert mod.data_names == ["data"] and mod.label_names == ["softmax_label"]
    assert mod.output_names == ["softmax_output"]
    mod.bind(data_shapes=[("data", (10, 5))], label_shapes=[("softmax_label", (10,))])
    assert mod.data_shapes == [mx.io.DataDesc("data", (10, 5))]
    assert mod.output_shapes == [("softmax_output", (10, 3))]
    mod.init_params()
    arg, aux = mod.get_params()
    assert sorted(arg) == ["fc1_bias", "fc1_weight", "fc2_bias", "fc2_weight"] and aux == {}
    assert arg["fc1_weight"].shape == (8, 5)
    # MXNet's default initializer: Uniform(0.01) for weights, zeros for biases.
    w = arg["fc1_weight"].asnumpy()
    assert np.abs(w).max() <= 0.01 and w.std() > 0
    assert not arg["fc1_bias"].asnumpy().any()


def test_forward_backward_update_matches_numpy():
    x, y = toy_data(10)
    p0 = fixed_params()
    mod = bound_module(params=p0)
    mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.5, "wd": 0.01})
    batch = mx.io.DataBatch([mx.nd.array(x)], [mx.nd.array(y)])
    mod.forward(batch, is_train=True)
    mod.backward()
    mod.update()
    expect = numpy_sgd_step({k: v.asnumpy() for k, v in p0.items()}, x, y, 0.5, wd=0.01)
    arg, _ = mod.get_params()
    for k in expect:
        np.testing.assert_allclose(arg[k].asnumpy(), expect[k], rtol=1e-5, atol=1e-6)


def test_unknown_label_name_warns_and_bad_data_name_raises():
    # warnings.warn as in MXNet: a logging call would configure the root logger before the
    # script's logging.basicConfig(level=DEBUG), silencing its training log
    with pytest.warns(UserWarning, match=r"label_names=\['lbl'\].*not found"):
        mx.mod.Module(mlp(), label_names=["lbl"])
    # ... so a script's logging set up after that warning still shows its lines
    script = ("import logging, oxnet as mx\n"
              "d = mx.sym.Variable('data')\n"
              "mx.mod.Module(mx.sym.FullyConnected(d, num_hidden=2), label_names=['lbl'])\n"
              "logging.basicConfig(level=logging.INFO)\n"
              "logging.info('epoch line')\n")
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0 and "epoch line" in res.stderr, res.stderr
    with pytest.raises(ValueError, match="data_names"):
        mx.mod.Module(mlp(), data_names=["images"])


def test_failed_bind_leaves_the_module_unbound():
    mod = mx.mod.Module(mx.sym.Variable("data") * 2, ("data",), None)
    with pytest.raises(TypeError, match="shape of 'data' must be a tuple"):
        mod.bind(data_shapes=[("data", mx.nd.array([10, 10]))])
    assert not mod.binded
    mod.bind(data_shapes=[("data", (10, 10))])
    mod.init_params()
    mod.forward(mx.io.DataBatch([mx.nd.ones((10, 10))]), is_train=False)
    assert (mod.get_outputs()[0].asnumpy() == 2).all()


def _train(ctx, kvstore, steps=4, batch=8):
    x, y = toy_data(batch * steps)
    mod = mx.mod.Module(mlp(), context=ctx)
    mod.bind(data_shapes=[("data", (batch, 5))], label_shapes=[("softmax_label", (batch,))])
    mod.init_params(arg_params=fixed_params())
    mod.init_optimizer(kvstore=kvstore, optimizer="sgd",
                       optimizer_params={"learning_rate": 0.3, "momentum": 0.9})
    it = mx.io.NDArrayIter(x, y, batch)
    outs = []
    for b in it:
        mod.forward_backward(b)
        mod.update()
        outs.append(mod.get_outputs()[0].asnumpy())
    arg, _ = mod.get_params()
    return {k: v.asnumpy() for k, v in arg.items()}, outs


@pytest.mark.parametrize("kvstore", ["local", "device", "object", "workers_update"])
def test_data_parallel_matches_single_context(kvstore, monkeypatch):
    single, single_out = _train(mx.cpu(0), "local")
    kv = mx.kv.create("local") if kvstore == "object" else kvstore
    if kvstore == "workers_update":
        # The store only sums; each device runs the optimizer on its own copy.
        monkeypatch.setenv("MXNET_UPDATE_ON_KVSTORE", "0")
        kv = "local"
    multi, multi_out = _train([mx.cpu(0), mx.cpu(1)], kv)
    for k in single:
        np.testing.assert_allclose(multi[k], single[k], rtol=1e-5, atol=1e-6)
    for a, b in zip(single_out, multi_out):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_devices_split_and_merge_along_the_layout_batch_axis():
    # MXNet 1.9.1: outputs join on their `__layout__` batch axis (N of TNC is axis 1), input
    # gradients on the data's; out_grads are cut the same way.
    sym = mx.sym.Activation(mx.sym.Variable("data"), act_type="relu", __layout__="TNC")
    mod = mx.mod.Module(sym, ("data",), None, context=[mx.cpu(0), mx.cpu(1)])
    mod.bind(data_shapes=[mx.io.DataDesc("data", (3, 8, 7), layout="TNC")],
             inputs_need_grad=True)
    mod.init_params()
    rng = np.random.RandomState(0)
    x, g = rng.randn(3, 8, 7).astype(np.float32), rng.randn(3, 8, 7).astype(np.float32)
    mod.forward(mx.io.DataBatch([mx.nd.array(x)]))
    np.testing.assert_array_equal(mod.get_outputs()[0].asnumpy(), np.maximum(x, 0))
    mod.backward([mx.nd.array(g)])
    np.testing.assert_array_equal(mod.get_input_grads()[0].asnumpy(), g * (x > 0))


def test_uneven_workload_split():
    single, _ = _train(mx.cpu(0), "local")
    x, y = toy_data(32)
    mod = mx.mod.Module(mlp(), context=[mx.cpu(0), mx.cpu(1), mx.cpu(2)], work_load_list=[1, 2, 1])
    mod.bind(data_shapes=[("data", (8, 5))], label_shapes=[("softmax_label", (8,))])
    assert [s.stop - s.start for s in mod._exec_group.slices] == [2, 4, 2]
    mod.init_params(arg_params=fixed_params())
    mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.3, "momentum": 0.9})
    for b in mx.io.NDArrayIter(x, y, 8):
        mod.forward_backward(b)
        mod.update()
    arg, _ = mod.get_params()
    for k in single:
        np.testing.assert_allclose(arg[k].asnumpy(), single[k], rtol=1e-5, atol=1e-6)


def test_fit_logs_mxnet_lines_and_callbacks(caplog):
    x, y = toy_data(40)
    train = mx.io.NDArrayIter(x, y, 10, shuffle=True)
    val = mx.io.NDArrayIter(x, y, 10)
    seen, epochs = [], []
    mod = mx.mod.Module(mlp())
    with caplog.at_level(logging.INFO):
        mod.fit(train, eval_data=val, num_epoch=2, optimizer_params={"learning_rate": 0.1},
                batch_end_callback=lambda p: seen.append((p.epoch, p.nbatch)),
                epoch_end_callback=lambda e, s, a, x_: epochs.append((e, sorted(a))),
                progress_bar=False)
    assert seen == [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0), (1, 1), (1, 2), (1, 3)]
    assert epochs == [(0, ["fc1_bias", "fc1_weight", "fc2_bias", "fc2_weight"]),
                      (1, ["fc1_bias", "fc1_weight", "fc2_bias", "fc2_weight"])]
    lines = [r.getMessage() for r in caplog.records]
    import re
    assert any(re.fullmatch(r"Epoch\[0\] Train-accuracy=\d\.\d{6}", s) for s in lines)
    assert any(re.fullmatch(r"Epoch\[1\] Time cost=\d+\.\d{3}", s) for s in lines)
    assert any(re.fullmatch(r"Epoch\[1\] Validation-accuracy=\d\.\d{6}", s) for s in lines)
    with pytest.raises(AssertionError, match="please specify number of epochs"):
        mx.mod.Module(mlp()).fit(train)


def test_fit_is_not_silent_without_logging_config(tmp_path):
    script = (
        "import numpy as np, oxnet as mx\n"
        "x = np.random.rand(20, 5).astype('f'); y = np.zeros(20)\n"
        "d = mx.sym.Variable('data')\n"
        "net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(d, num_hidden=2), name='softmax')\n"
        "mx.mod.Module(net).fit(mx.io.NDArrayIter(x, y, 10), num_epoch=1)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Epoch[0] Train-accuracy=" in out.stderr and "Epoch[0] Time cost=" in out.stderr


def test_fit_progress_bar_on_request(capsys):
    x, y = toy_data(40)
    mx.mod.Module(mlp()).fit(mx.io.NDArrayIter(x, y, 10), num_epoch=1, progress_bar=True)
    err = capsys.readouterr().err
    assert "Epoch 0" in err and "4/4" in err


def test_predict_removes_padding_and_score_counts_it():
    x, y = toy_data(25)
    mod = bound_module()
    it = mx.io.NDArrayIter(x, y, 10)  # last batch padded by 5
    pred = mod.predict(it)
    assert pred.shape == (25, 3)
    p = fixed_params()
    h = np.maximum(x @ p["fc1_weight"].asnumpy().T + p["fc1_bias"].asnumpy(), 0)
    z = h @ p["fc2_weight"].asnumpy().T + p["fc2_bias"].asnumpy()
    soft = np.exp(z - z.max(1, keepdims=True))
    soft /= soft.sum(1, keepdims=True)
    np.testing.assert_allclose(pred.asnumpy(), soft, rtol=1e-5, atol=1e-6)
    # score counts the 5 padded samples (they repeat samples 0..4), as MXNet does.
    correct = soft.argmax(1) == y
    padded = np.concatenate([correct, correct[:5]])
    assert mod.score(it, "acc")[0] == ("accuracy", pytest.approx(padded.mean()))
    parts = list(mod.iter_predict(it))
    assert [o[0].shape[0] for o, _, _ in parts] == [10, 10, 5]
    lists = mod.predict(it, merge_batches=False)
    assert len(lists) == 3 and lists[2][0].shape == (5, 3)
    assert mod.predict(it, always_output_list=True)[0].shape == (25, 3)


def test_forward_with_new_batch_size_rebinds():
    mod = bound_module(batch=10)
    x, _ = toy_data(4)
    mod.forward(mx.io.DataBatch([mx.nd.array(x)], None), is_train=False)
    assert mod.get_outputs()[0].shape == (4, 3)
    assert mod.data_shapes[0].shape == (4, 5)
    arg, _ = mod.get_params()
    np.testing.assert_allclose(arg["fc1_weight"].asnumpy(), fixed_params()["fc1_weight"].asnumpy())


def test_input_grads_match_finite_differences():
    x, y = toy_data(4)
    data = mx.sym.Variable("data")
    net = mx.sym.LinearRegressionOutput(mx.sym.FullyConnected(data, name="fc", num_hidden=1),
                                        name="lro")
    mod = mx.mod.Module(net, label_names=["lro_label"])
    mod.bind(data_shapes=[("data", (4, 5))], label_shapes=[("lro_label", (4, 1))],
             inputs_need_grad=True)
    w = np.random.RandomState(3).normal(size=(1, 5)).astype(np.float32)
    mod.init_params(arg_params={"fc_weight": mx.nd.array(w), "fc_bias": mx.nd.zeros((1,))})
    label = y.reshape(4, 1)
    mod.forward(mx.io.DataBatch([mx.nd.array(x)], [mx.nd.array(label)]), is_train=True)
    mod.backward()
    grad = mod.get_input_grads()[0].asnumpy()
    # d/dx of 0.5 * (x.w - label)^2 is (x.w - label) w.
    expect = (x @ w.T - label) * w
    np.testing.assert_allclose(grad, expect, rtol=1e-5, atol=1e-6)


def test_checkpoint_round_trip_with_optimizer_states(tmp_path):
    """Training 2 steps, checkpointing, reloading and training 2 more equals 4 steps straight
    (momentum included)."""
    x, y = toy_data(32)
    opt = {"learning_rate": 0.2, "momentum": 0.9}
    straight = bound_module(batch=8)
    straight.init_optimizer(optimizer="sgd", optimizer_params=opt)
    batches = list(mx.io.NDArrayIter(x, y, 8))
    for b in batches:
        straight.forward_backward(b)
        straight.update()
    first = bound_module(batch=8)
    first.init_optimizer(optimizer="sgd", optimizer_params=opt)
    for b in batches[:2]:
        first.forward_backward(b)
        first.update()
    prefix = str(tmp_path / "ck")
    first.save_checkpoint(prefix, 2, save_optimizer_states=True)
    assert sorted(os.listdir(tmp_path)) == ["ck-0002.params", "ck-0002.states", "ck-symbol.json"]
    keys = list(mx.nd.load(prefix + "-0002.params"))
    assert keys == ["arg:fc1_weight", "arg:fc1_bias", "arg:fc2_weight", "arg:fc2_bias"]
    second = mx.mod.Module.load(prefix, 2, load_optimizer_states=True)
    second.bind(data_shapes=[("data", (8, 5))], label_shapes=[("softmax_label", (8,))])
    second.init_optimizer(optimizer="sgd", optimizer_params=opt)
    for b in batches[2:]:
        second.forward_backward(b)
        second.update()
    a, _ = straight.get_params()
    b_, _ = second.get_params()
    for k in a:
        np.testing.assert_allclose(b_[k].asnumpy(), a[k].asnumpy(), rtol=1e-5, atol=1e-6)


def test_checkpoint_files_are_replaced_whole(tmp_path):
    # Every file of a checkpoint is written to a temporary file and renamed over the old one,
    # as .params files are: through a symlink the target is replaced and its mode kept.
    mod = bound_module(batch=8)
    mod.init_optimizer(optimizer="sgd", optimizer_params={"momentum": 0.9})
    x, y = toy_data(8)
    mod.forward_backward(next(iter(mx.io.NDArrayIter(x, y, 8))))
    mod.update()
    real = tmp_path / "real"
    real.mkdir()
    for name in ("ck-symbol.json", "ck-0001.states", "ck-0001.params"):
        (real / name).write_bytes(b"old")
        os.chmod(real / name, 0o640)
        os.symlink(real / name, tmp_path / name)
    mod.save_checkpoint(str(tmp_path / "ck"), 1, save_optimizer_states=True)
    for name in ("ck-symbol.json", "ck-0001.states", "ck-0001.params"):
        assert os.path.islink(tmp_path / name)
        assert (os.stat(real / name).st_mode & 0o777) == 0o640
    assert sorted(os.listdir(real)) == ["ck-0001.params", "ck-0001.states", "ck-symbol.json"]
    back = mx.mod.Module.load(str(tmp_path / "ck"), 1, load_optimizer_states=True)
    assert back.symbol.tojson() == mod.symbol.tojson()
    back.bind(data_shapes=[("data", (8, 5))], label_shapes=[("softmax_label", (8,))])
    back.init_optimizer(optimizer="sgd", optimizer_params={"momentum": 0.9})  # reads the states
    assert sorted(back._updater.states) == sorted(mod._updater.states)
    with pytest.raises(mx.MXNetError, match="Is a directory"):
        mod.symbol.save(str(real))


def test_model_save_load_checkpoint_names(tmp_path):
    prefix = str(tmp_path / "m")
    arg = fixed_params()
    aux = {"bn_moving_mean": mx.nd.zeros((3,))}
    mx.model.save_checkpoint(prefix, 12345, mlp(), arg, aux)
    assert sorted(os.listdir(tmp_path)) == ["m-12345.params", "m-symbol.json"]
    sym, arg2, aux2 = mx.model.load_checkpoint(prefix, 12345)
    assert sym.tojson() == mlp().tojson()
    assert sorted(arg2) == sorted(arg) and list(aux2) == ["bn_moving_mean"]
    mx.model.save_checkpoint(prefix, 3, None, arg, {})
    assert not os.path.exists(prefix + "-0003.json") and os.path.exists(prefix + "-0003.params")


def test_load_mxnet_checkpoint_and_predict_the_same():
    """A checkpoint MXNet 1.9.1 wrote loads and predicts what MXNet predicted."""
    expected = json.load(open(os.path.join(GOLD, "expected.json")))
    prefix = os.path.join(GOLD, "mlp")
    assert list(mx.nd.load(prefix + "-0002.params")) == expected["params_keys"]
    mod = mx.mod.Module.load(prefix, 2)
    x = np.load(os.path.join(GOLD, "mlp_input.npy"))
    it = mx.io.NDArrayIter(x, np.zeros(len(x)), 10)
    mod.bind(it.provide_data, it.provide_label, for_training=False)
    got = mod.predict(it).asnumpy()
    np.testing.assert_allclose(got, np.load(os.path.join(GOLD, "mlp_predict.npy")),
                               rtol=1e-4, atol=1e-6)


def test_fit_from_mxnet_checkpoint_reaches_mxnet_weights():
    """One epoch of Module.fit (SGD, momentum, wd, BatchNorm) from an MXNet checkpoint lands
    on the weights MXNet 1.9.1 reached from the same start."""
    _, arg, aux = mx.model.load_checkpoint(os.path.join(GOLD, "mlp"), 1)
    x = np.load(os.path.join(GOLD, "mlp_input.npy"))
    rng = np.random.RandomState(0)
    rng.uniform(-1, 1, (30, 5))
    y = rng.randint(0, 3, 30).astype(np.float32)
    mod = mx.mod.Module(mx.sym.load(os.path.join(GOLD, "mlp-symbol.json")))
    mod.fit(mx.io.NDArrayIter(x, y, 10), num_epoch=1, arg_params=arg, aux_params=aux,
            optimizer="sgd", optimizer_params={"learning_rate": 0.1, "momentum": 0.9, "wd": 0.01},
            progress_bar=False)
    got_arg, got_aux = mod.get_params()
    _, exp_arg, exp_aux = mx.model.load_checkpoint(os.path.join(GOLD, "cont"), 1)
    for k in exp_arg:
        np.testing.assert_allclose(got_arg[k].asnumpy(), exp_arg[k].asnumpy(), rtol=1e-4,
                                   atol=1e-5, err_msg=k)
    for k in exp_aux:
        np.testing.assert_allclose(got_aux[k].asnumpy(), exp_aux[k].asnumpy(), rtol=1e-4,
                                   atol=1e-5, err_msg=k)


def test_fixed_params_do_not_change():
    x, y = toy_data(10)
    mod = bound_module(fixed_param_names=["fc1_weight"])
    mod.init_optimizer(optimizer_params={"learning_rate": 1.0})
    mod.forward_backward(mx.io.DataBatch([mx.nd.array(x)], [mx.nd.array(y)]))
    mod.update()
    arg, _ = mod.get_params()
    np.testing.assert_array_equal(arg["fc1_weight"].asnumpy(),
                                  fixed_params()["fc1_weight"].asnumpy())
    assert not np.array_equal(arg["fc2_weight"].asnumpy(), fixed_params()["fc2_weight"].asnumpy())


def test_bucketing_module_shares_parameters():
    def sym_gen(key):
        data = mx.sym.Variable("data")
        # Sequences of length `key`: the same weights apply to every bucket.
        pooled = mx.sym.mean(data, axis=1)
        fc = mx.sym.FullyConnected(pooled, name="fc", num_hidden=2)
        return mx.sym.SoftmaxOutput(fc, name="softmax"), ("data",), ("softmax_label",)

    mod = mx.mod.BucketingModule(sym_gen, default_bucket_key=6)
    mod.bind(data_shapes=[("data", (4, 6, 3))], label_shapes=[("softmax_label", (4,))])
    mod.init_params()
    mod.init_optimizer(optimizer_params={"learning_rate": 0.5})
    rng = np.random.RandomState(0)
    for key in (6, 3, 6, 3):
        x = rng.rand(4, key, 3).astype(np.float32)
        batch = mx.io.DataBatch([mx.nd.array(x)], [mx.nd.array([0, 1, 0, 1])], bucket_key=key,
                                provide_data=[mx.io.DataDesc("data", (4, key, 3))],
                                provide_label=[mx.io.DataDesc("softmax_label", (4,))])
        mod.forward_backward(batch)
        mod.update()
        assert mod.get_outputs()[0].shape == (4, 2)
    assert sorted(mod._buckets) == [3, 6]
    w6 = mod._buckets[6]._exec_group.param_arrays[0][0]
    w3 = mod._buckets[3]._exec_group.param_arrays[0][0]
    assert w6 is w3
    arg, _ = mod.get_params()
    np.testing.assert_array_equal(arg["fc_weight"].asnumpy(), w6.asnumpy())



def test_bucketing_module_inference_only_switches_buckets():
    # Binding for_training=False leaves executors without gradient arrays; a second bucket
    # sharing the first one's arrays must still bind (it raised TypeError before).
    def sym_gen(key):
        pooled = mx.sym.mean(mx.sym.Variable("data"), axis=1)
        return mx.sym.FullyConnected(pooled, name="fc", num_hidden=2), ("data",), None

    mod = mx.mod.BucketingModule(sym_gen, default_bucket_key=6)
    mod.bind(data_shapes=[("data", (2, 6, 3))], for_training=False)
    weight = np.arange(6, dtype=np.float32).reshape(2, 3)
    mod.init_params(arg_params={"fc_weight": mx.nd.array(weight), "fc_bias": mx.nd.zeros((2,))})
    x = np.random.RandomState(1).rand(2, 3, 3).astype(np.float32)
    mod.forward(mx.io.DataBatch([mx.nd.array(x)], bucket_key=3,
                                provide_data=[mx.io.DataDesc("data", (2, 3, 3))]),
                is_train=False)
    np.testing.assert_allclose(mod.get_outputs()[0].asnumpy(), x.mean(axis=1) @ weight.T,
                               rtol=1e-5)

def test_bucketing_module_names_each_bucket_from_a_fresh_counter():
    # MXNet 1.9.1: sym_gen runs under a new NameManager, so automatic parameter names do not
    # drift from one call to the next (the constructor's call must not shift them).
    def sym_gen(key):
        emb = mx.sym.Embedding(mx.sym.Variable("data"), input_dim=5, output_dim=3)
        return emb, ("data",), None

    mod = mx.mod.BucketingModule(sym_gen, default_bucket_key=3)
    mod.bind([("data", (2, 3))], for_training=False)
    assert mod.symbol.list_arguments() == ["data", "embedding0_weight"]
    mod.init_params()
    mod.switch_bucket(4, [mx.io.DataDesc("data", (2, 4))])
    assert mod.symbol.list_arguments() == ["data", "embedding0_weight"]


def test_sequential_module_equals_one_module():
    x, y = toy_data(10)
    p = fixed_params()
    data = mx.sym.Variable("data")
    first = mx.sym.Activation(mx.sym.FullyConnected(data, name="fc1", num_hidden=8),
                              act_type="relu", name="relu1")
    second = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.Variable("data"), name="fc2",
                                                         num_hidden=3), name="softmax")
    seq = mx.mod.SequentialModule()
    seq.add(mx.mod.Module(first, label_names=None))
    seq.add(mx.mod.Module(second), take_labels=True, auto_wiring=True)
    seq.bind(data_shapes=[("data", (10, 5))], label_shapes=[("softmax_label", (10,))])
    seq.init_params(arg_params=p)
    seq.init_optimizer(optimizer_params={"learning_rate": 0.5})
    seq.forward_backward(mx.io.DataBatch([mx.nd.array(x)], [mx.nd.array(y)]))
    seq.update()
    expect = numpy_sgd_step({k: v.asnumpy() for k, v in p.items()}, x, y, 0.5)
    arg, _ = seq.get_params()
    for k in expect:
        np.testing.assert_allclose(arg[k].asnumpy(), expect[k], rtol=1e-5, atol=1e-6)


def test_init_params_errors():
    mod = mx.mod.Module(mlp())
    with pytest.raises(AssertionError, match="call bind"):
        mod.init_params()
    mod.bind(data_shapes=[("data", (10, 5))], label_shapes=[("softmax_label", (10,))])
    partial = fixed_params()
    del partial["fc2_bias"]
    with pytest.raises(RuntimeError, match="fc2_bias is not presented"):
        mod.init_params(arg_params=partial)
    bad = fixed_params()
    bad["fc1_weight"] = mx.nd.zeros((2, 2))
    with pytest.raises(ValueError, match="fc1_weight"):
        mod.init_params(arg_params=bad, force_init=True)
    mod.init_params(arg_params=partial, allow_missing=True, force_init=True)
    with pytest.warns(UserWarning, match="already initialized"):
        mod.init_params()



# Module.load marks the parameters initialised, so fit's init_params warns (as MXNet does).
@pytest.mark.filterwarnings("ignore:Parameters already initialized")
def test_resume_from_mxnet_optimizer_states():
    """MXNet's .states file (pickled momentum) loads, and one more epoch from it reaches the
    weights MXNet reached."""
    x = np.load(os.path.join(GOLD, "mlp_input.npy"))
    rng = np.random.RandomState(0)
    rng.uniform(-1, 1, (30, 5))
    y = rng.randint(0, 3, 30).astype(np.float32)
    mod = mx.mod.Module.load(os.path.join(GOLD, "cont"), 1, load_optimizer_states=True)
    mod.fit(mx.io.NDArrayIter(x, y, 10), num_epoch=1, optimizer="sgd",
            optimizer_params={"learning_rate": 0.1, "momentum": 0.9, "wd": 0.01},
            progress_bar=False)
    got, got_aux = mod.get_params()
    _, exp, exp_aux = mx.model.load_checkpoint(os.path.join(GOLD, "resumed"), 2)
    for k in exp:
        np.testing.assert_allclose(got[k].asnumpy(), exp[k].asnumpy(), rtol=1e-4, atol=1e-5,
                                   err_msg=k)
    for k in exp_aux:
        np.testing.assert_allclose(got_aux[k].asnumpy(), exp_aux[k].asnumpy(), rtol=1e-4,
                                   atol=1e-5, err_msg=k)


def _bucket_sym_gen(length):
    emb = mx.sym.Embedding(mx.sym.var("data"), input_dim=10, output_dim=4, name="emb")
    fc = mx.sym.FullyConnected(mx.sym.mean(emb, axis=1), num_hidden=3, name="fc")
    return mx.sym.SoftmaxOutput(fc, name="softmax"), ("data",), ("softmax_label",)


def _bucket3_output(mod):
    x = mx.nd.array(np.arange(6).reshape(2, 3))
    mod.forward(mx.io.DataBatch([x], None, bucket_key=3,
                                provide_data=[mx.io.DataDesc("data", (2, 3))]), is_train=False)
    return mod.get_outputs()[0].asnumpy()


def test_bucketing_checkpoint_round_trips_with_mxnet(tmp_path):
    # MXNet 1.9.1's BucketingModule.save_checkpoint files (three buckets) load and predict
    # what MXNet predicted; oxnet writes the same set of files, which load back the same.
    mod = mx.mod.BucketingModule.load(os.path.join(GOLD, "bucket"), 3,
                                      sym_gen=_bucket_sym_gen, default_bucket_key=5)
    mod.bind([("data", (2, 5))], [("softmax_label", (2,))], for_training=False)
    want = np.load(os.path.join(GOLD, "bucket_predict.npy"))
    np.testing.assert_allclose(_bucket3_output(mod), want, rtol=1e-5, atol=1e-6)
    prefix = str(tmp_path / "bucket")
    mod.save_checkpoint(prefix, 3)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["bucket-0003.params", "bucket-3-symbol.json", "bucket-5-symbol.json",
                     "bucket-7-symbol.json", "bucket.buckets"]
    assert sorted(mx.nd.load(os.path.join(GOLD, "bucket.buckets"))[0].asnumpy()) == [3, 5, 7]
    assert mx.nd.load(prefix + ".buckets")[0].dtype == np.int32
    back = mx.mod.BucketingModule.load(prefix, 3, sym_gen=_bucket_sym_gen, default_bucket_key=5)
    back.bind([("data", (2, 5))], [("softmax_label", (2,))], for_training=False)
    np.testing.assert_allclose(_bucket3_output(back), want, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="sym_gen"):
        mx.mod.BucketingModule.load(prefix, 3)
    with pytest.raises(TypeError, match="integer"):
        named = mx.mod.BucketingModule(_bucket_sym_gen, default_bucket_key="a")
        named.bind([("data", (2, 5))], [("softmax_label", (2,))])
        named.init_params()
        named.save_checkpoint(prefix, 1)


def test_a_batch_that_would_reshape_the_parameters_is_refused():
    # (4, 6) data for a module bound with (4, 5) would need a (3, 6) weight: MXNet 1.9.1
    # refuses ("Shape of unspecified arg: fc_weight changed"); a fresh zero weight would
    # silently replace the trained one.
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=3,
                                                     name="fc"), name="softmax")
    mod = mx.mod.Module(net)
    mod.bind([("data", (4, 5))], [("softmax_label", (4,))])
    w = np.arange(15, dtype="f").reshape(3, 5) / 10
    mod.init_params(arg_params={"fc_weight": mx.nd.array(w), "fc_bias": mx.nd.zeros(3)})
    with pytest.raises(mx.MXNetError, match=r"fc_weight changed from \(3, 5\) to \(3, 6\)"):
        mod.forward(mx.io.DataBatch([mx.nd.ones((4, 6))], [mx.nd.zeros(4)]))
    # The module still holds its weights and runs batches of its shape (or another size).
    z = np.exp(w.sum(1) - w.sum(1).max())
    for n in (4, 2):
        mod.forward(mx.io.DataBatch([mx.nd.ones((n, 5))], [mx.nd.zeros(n)]), is_train=False)
        np.testing.assert_allclose(mod.get_outputs()[0].asnumpy(), np.tile(z / z.sum(), (n, 1)),
                                   rtol=1e-5)
    np.testing.assert_array_equal(mod.get_params()[0]["fc_weight"].asnumpy(), w)


def test_exec_group_output_shapes_span_the_batch_as_mxnet():
    # MXNet 1.9.1 printed these for the same module: the batch axis (0, or the one a
    # __layout__ names) counts the whole batch, not one device's slice.
    data = mx.sym.var("data")
    fc = mx.sym.FullyConnected(data, num_hidden=4, name="fc")
    tnc = mx.sym.transpose(mx.sym.Reshape(fc, shape=(0, 2, 2)), axes=(1, 0, 2))
    g = mx.sym.Group([mx.sym.SoftmaxOutput(fc, name="softmax"),
                      mx.sym.BlockGrad(tnc, __layout__="TNC")])
    mod = mx.mod.Module(g, context=[mx.cpu(0), mx.cpu(1)])
    mod.bind(data_shapes=[("data", (6, 3))], label_shapes=[("softmax_label", (6,))])
    assert [e.outputs[1].shape for e in mod._exec_group.execs] == [(2, 3, 2)] * 2
    assert mod._exec_group.get_output_shapes() == [("softmax_output", (6, 4)),
                                                   ("blockgrad0_output", (2, 6, 2))]
    # MXNet's per-context input arrays, the executors' own data and label buffers.
    shared = mod._exec_group.shared_data_arrays
    assert [sorted(d) for d in shared] == [["data", "softmax_label"]] * 2
    assert [d["data"].shape for d in shared] == [(3, 3)] * 2
    assert all(d["data"] is e.arg_dict["data"] for d, e in zip(shared, mod._exec_group.execs))


def test_bind_refuses_data_of_different_batch_sizes_as_mxnet_asserts():
    net = mx.sym.FullyConnected(mx.sym.Variable("a") + mx.sym.Variable("b"), num_hidden=2)
    mod = mx.mod.Module(net, data_names=["a", "b"], label_names=None)
    # MXNet 1.9.1 raises AssertionError; oxnet's error is also a ValueError.
    with pytest.raises(AssertionError, match=r"same batch size: a\(2, 3\), b\(4, 3\)"):
        mod.bind(data_shapes=[("a", (2, 3)), ("b", (4, 3))])


def test_update_metric_cuts_labels_to_the_bound_batch():
    # MXNet 1.9.1 slices labels to each executor's rows even on one device: 5 labels for a
    # batch of 2 score the first two (accuracy 1.0), where the whole array would not fit.
    x = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=3,
                                                   name="fc"), name="softmax")
    mod = mx.mod.Module(x)
    mod.bind([("data", (2, 4))], [("softmax_label", (2,))])
    mod.init_params(mx.init.One())
    mod.forward(mx.io.DataBatch([mx.nd.ones((2, 4))], [mx.nd.zeros((2,))]), is_train=False)
    m = mx.metric.Accuracy()
    mod.update_metric(m, [mx.nd.array([0, 0, 1, 1, 2])])
    assert m.get() == ("accuracy", 1.0) and m.num_inst == 2
