"""Training runs that fit_mxnet_ref.py records with real MXNet 1.9.1 and test_fit_vs_mxnet.py
repeats in oxnet: Module / BucketingModule / SequentialModule / FeedForward training from the
same weights and data, with each optimizer, KVStore placement, scheduler, loss head and
iterator convention. ``run(mx, name)`` gives a dict of numpy arrays: the trained parameters,
scores, predictions, per-batch metrics and (for one case) the training log."""
import logging
import os
import re
import shutil
import tempfile

import numpy as np

CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def run(mx, name):
    return CASES[name](mx)


def classes(n=53, d=7, k=3, seed=0):
    rs = np.random.RandomState(seed)
    x = rs.randn(n, d).astype("float32")
    return x, (x @ rs.randn(d, k).astype("float32")).argmax(1).astype("float32")


def mlp(mx, nh=16, act="relu"):
    x = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=nh, name="fc1")
    x = mx.sym.Activation(x, act_type=act, name="act1")
    x = mx.sym.FullyConnected(x, num_hidden=3, name="fc2")
    return mx.sym.SoftmaxOutput(x, name="softmax")


def weights(mx, sym, seed=1, **shapes):
    """Uniform arguments (other than the inputs in `shapes`) and positive auxiliary states."""
    rs = np.random.RandomState(seed)
    arg_shapes, _, aux_shapes = sym.infer_shape(**shapes)
    args = {k: mx.nd.array(rs.uniform(-0.5, 0.5, s).astype("float32"))
            for k, s in sorted(zip(sym.list_arguments(), arg_shapes)) if k not in shapes}
    aux = {k: mx.nd.array(rs.uniform(0.5, 1.5, s).astype("float32"))
           for k, s in sorted(zip(sym.list_auxiliary_states(), aux_shapes))}
    return args, aux


def params(mod, prefix=""):
    args, aux = mod.get_params()
    out = {prefix + "arg:" + k: v.asnumpy() for k, v in args.items()}
    out.update({prefix + "aux:" + k: v.asnumpy() for k, v in aux.items()})
    return out


def values(metric):
    """A metric's values, or those of the (name, value) pairs `score` returns."""
    pairs = metric if isinstance(metric, list) else metric.get_name_value()
    return np.array([v for _, v in pairs], dtype="float64")


def fit(mx, sym, x, y, batch=10, epochs=2, optimizer="sgd", optimizer_params=None, ctx=None,
        metric="acc", label="softmax_label", kvstore="local", last="pad", fixed=None):
    """Module.fit from `weights`, then score and predict over the training data."""
    it = mx.io.NDArrayIter(x, y, batch, last_batch_handle=last, label_name=label)
    mod = mx.mod.Module(sym, context=ctx or mx.cpu(), label_names=[label],
                        fixed_param_names=fixed)
    args, aux = weights(mx, sym, data=(batch,) + x.shape[1:], **{label: (batch,) + y.shape[1:]})
    seen = []
    mod.fit(it, num_epoch=epochs, optimizer=optimizer, arg_params=args, aux_params=aux,
            optimizer_params=optimizer_params or {"learning_rate": 0.1}, eval_metric=metric,
            kvstore=kvstore, batch_end_callback=lambda p: seen.append(values(p.eval_metric)))
    out = params(mod)
    out["batch_metrics"] = np.array(seen)
    it.reset()
    out["score"] = values(mod.score(it, metric))
    it.reset()
    out["predict"] = mod.predict(it).asnumpy()
    return out


@case
def sgd_momentum_wd(mx):
    # Weight decay reaches *_weight only: Module gives other names wd_mult 0.
    return fit(mx, mlp(mx), *classes(), optimizer_params={"learning_rate": 0.05, "momentum": 0.9,
                                                          "wd": 0.01})


@case
def adam_tanh(mx):
    return fit(mx, mlp(mx, act="tanh"), *classes(), optimizer="adam", epochs=3,
               optimizer_params={"learning_rate": 0.01, "wd": 0.1})


@case
def discard_last_batch(mx):
    return fit(mx, mlp(mx), *classes(), last="discard",
               optimizer_params={"learning_rate": 0.1, "rescale_grad": 0.5})


@case
def roll_over_last_batch(mx):
    return fit(mx, mlp(mx), *classes(), last="roll_over", epochs=3)


@case
def two_devices(mx):
    return fit(mx, mlp(mx), *classes(60), ctx=[mx.cpu(0), mx.cpu(1)],
               optimizer_params={"learning_rate": 0.1, "momentum": 0.9})


@case
def two_devices_device_kvstore(mx):
    return fit(mx, mlp(mx), *classes(60), ctx=[mx.cpu(0), mx.cpu(1)], kvstore="device",
               optimizer="rmsprop", optimizer_params={"learning_rate": 0.01})


@case
def updates_off_the_kvstore(mx):
    # One updater per device, its parameters numbered per device (MXNET_UPDATE_ON_KVSTORE=0).
    os.environ["MXNET_UPDATE_ON_KVSTORE"] = "0"
    try:
        return fit(mx, mlp(mx), *classes(60), ctx=[mx.cpu(0), mx.cpu(1)], optimizer="adam",
                   optimizer_params={"learning_rate": 0.01, "wd": 0.01})
    finally:
        del os.environ["MXNET_UPDATE_ON_KVSTORE"]


@case
def no_kvstore(mx):
    return fit(mx, mlp(mx), *classes(60), kvstore=None, optimizer="adagrad",
               optimizer_params={"learning_rate": 0.1, "wd": 0.01})


@case
def fixed_weight(mx):
    # MXNet records this one with its reference kernels: oneDNN's FullyConnected leaves the
    # bias gradient at zero when the weight's gradient is not requested.
    return fit(mx, mlp(mx), *classes(), fixed=["fc1_weight"],
               optimizer_params={"learning_rate": 0.1, "wd": 0.05})


@case
def lr_and_wd_mult(mx):
    w = mx.sym.Variable("fc1_weight", lr_mult=0.1, wd_mult=3.0)
    b = mx.sym.Variable("fc1_bias", lr_mult=2.0)
    x = mx.sym.FullyConnected(mx.sym.Variable("data"), weight=w, bias=b, num_hidden=8, name="fc1")
    x = mx.sym.FullyConnected(mx.sym.Activation(x, act_type="sigmoid"), num_hidden=3, name="fc2")
    return fit(mx, mx.sym.SoftmaxOutput(x, name="softmax"), *classes(),
               optimizer_params={"learning_rate": 0.5, "wd": 0.02})


@case
def factor_scheduler(mx):
    sched = mx.lr_scheduler.FactorScheduler(step=3, factor=0.5)
    return fit(mx, mlp(mx), *classes(), epochs=3,
               optimizer_params={"learning_rate": 0.2, "lr_scheduler": sched})


@case
def multifactor_warmup(mx):
    sched = mx.lr_scheduler.MultiFactorScheduler(step=[4, 8], factor=0.3, base_lr=0.2,
                                                 warmup_steps=3, warmup_begin_lr=0.01)
    return fit(mx, mlp(mx), *classes(), epochs=3,
               optimizer_params={"learning_rate": 0.2, "lr_scheduler": sched})


@case
def clip_gradient(mx):
    return fit(mx, mlp(mx), *classes(), optimizer_params={"learning_rate": 1.0, "momentum": 0.5,
                                                          "clip_gradient": 0.01})


@case
def nag_cross_entropy(mx):
    return fit(mx, mlp(mx), *classes(), optimizer="nag", metric="ce",
               optimizer_params={"learning_rate": 0.05, "momentum": 0.9, "wd": 0.001})


@case
def optimizer_instance(mx):
    sgd = mx.optimizer.SGD(learning_rate=0.1, momentum=0.9, rescale_grad=0.05, wd=0.01)
    return fit(mx, mlp(mx), *classes(), optimizer=sgd)


def regression_data(k):
    rs = np.random.RandomState(3)
    x = rs.randn(41, 5).astype("float32")
    return x, (x @ rs.randn(5, k)).astype("float32")


@case
def linear_regression(mx):
    x = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=2, name="fc")
    return fit(mx, mx.sym.LinearRegressionOutput(x, name="lro"), *regression_data(2),
               label="lro_label", metric="mse", optimizer_params={"learning_rate": 0.05})


@case
def mae_grad_scale(mx):
    x, y = regression_data(1)
    fc = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=1, name="fc")
    return fit(mx, mx.sym.MAERegressionOutput(fc, name="mae", grad_scale=3.0), x, y.ravel(),
               label="mae_label", metric="mae", optimizer_params={"learning_rate": 0.01})


@case
def logistic(mx):
    rs = np.random.RandomState(4)
    x = rs.randn(40, 4).astype("float32")
    fc = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=1, name="fc")
    return fit(mx, mx.sym.LogisticRegressionOutput(fc, name="lr"), x,
               (x[:, :1] > 0).astype("float32"), label="lr_label", metric="rmse",
               optimizer_params={"learning_rate": 0.5})


@case
def svm_output(mx):
    fc = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=3, name="fc")
    return fit(mx, mx.sym.SVMOutput(fc, name="svm", margin=0.5, regularization_coefficient=0.5),
               *classes(30), label="svm_label", optimizer_params={"learning_rate": 0.05})


@case
def softmax_ignore_label(mx):
    x, y = classes(40)
    y[::4] = -1
    fc = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=3, name="fc")
    sym = mx.sym.SoftmaxOutput(fc, name="softmax", use_ignore=True, ignore_label=-1,
                               normalization="valid")
    return fit(mx, sym, x, y, optimizer_params={"learning_rate": 0.3})


@case
def softmax_multi_output(mx):
    rs = np.random.RandomState(8)
    x = rs.randn(12, 3, 5).astype("float32")
    conv = mx.sym.Convolution(mx.sym.Variable("data"), kernel=(1,), num_filter=3, name="c")
    sym = mx.sym.SoftmaxOutput(conv, multi_output=True, name="softmax", normalization="valid")
    return fit(mx, sym, x, rs.randint(0, 3, (12, 5)).astype("float32"), batch=4)


def images():
    rs = np.random.RandomState(5)
    x = rs.randn(24, 2, 8, 8).astype("float32")
    return x, (x.mean((1, 2, 3)) > 0).astype("float32")


@case
def convnet_batchnorm(mx):
    x = mx.sym.Convolution(mx.sym.Variable("data"), kernel=(3, 3), num_filter=4, pad=(1, 1),
                           name="conv1")
    x = mx.sym.Activation(mx.sym.BatchNorm(x, name="bn1"), act_type="relu")
    x = mx.sym.Pooling(x, kernel=(2, 2), stride=(2, 2), pool_type="max")
    x = mx.sym.Convolution(x, kernel=(3, 3), num_filter=4, name="conv2")
    x = mx.sym.BatchNorm(x, fix_gamma=False, momentum=0.8, name="bn2")
    x = mx.sym.Flatten(mx.sym.Pooling(x, global_pool=True, pool_type="avg", kernel=(1, 1)))
    x = mx.sym.FullyConnected(x, num_hidden=2, name="fc")
    return fit(mx, mx.sym.SoftmaxOutput(x, name="softmax"), *images(), batch=8,
               optimizer_params={"learning_rate": 0.1, "momentum": 0.9, "wd": 1e-3})


@case
def convnet_batchnorm_two_devices(mx):
    # Each device normalises its half batch and updates its own copy of the statistics.
    x = mx.sym.Convolution(mx.sym.Variable("data"), kernel=(3, 3), num_filter=4, pad=(1, 1),
                           name="conv1")
    x = mx.sym.Activation(mx.sym.BatchNorm(x, fix_gamma=False, name="bn1"), act_type="relu")
    x = mx.sym.FullyConnected(mx.sym.Flatten(x), num_hidden=2, name="fc")
    return fit(mx, mx.sym.SoftmaxOutput(x, name="softmax"), *images(), batch=8,
               ctx=[mx.cpu(0), mx.cpu(1)])


@case
def batchnorm_global_stats(mx):
    rs = np.random.RandomState(6)
    x = mx.sym.Convolution(mx.sym.Variable("data"), kernel=(3, 3), num_filter=3, name="c")
    x = mx.sym.BatchNorm(x, use_global_stats=True, fix_gamma=False, name="bn")
    x = mx.sym.BatchNorm(x, eps=0.01, momentum=0.5, name="bn2")
    x = mx.sym.FullyConnected(mx.sym.flatten(x), num_hidden=2, name="fc")
    return fit(mx, mx.sym.SoftmaxOutput(x, name="softmax"), rs.randn(20, 3, 4, 4).astype("f"),
               rs.randint(0, 2, 20).astype("f"), batch=5, optimizer_params={"learning_rate": 0.05})


@case
def fused_lstm(mx):
    rs = np.random.RandomState(9)
    seq = mx.sym.transpose(mx.sym.Variable("data"), axes=(1, 0, 2))
    out = mx.sym.RNN(seq, mx.sym.Variable("rnn_params"), mx.sym.Variable("h0"),
                     mx.sym.Variable("c0"), state_size=4, num_layers=1, mode="lstm", name="rnn")
    fc = mx.sym.FullyConnected(mx.sym.SequenceLast(out), num_hidden=2, name="fc")
    return fit(mx, mx.sym.SoftmaxOutput(fc, name="softmax"), rs.randn(8, 5, 3).astype("f"),
               rs.randint(0, 2, 8).astype("f"), batch=4, optimizer_params={"learning_rate": 0.5})


@case
def feedforward_numpy_shuffled(mx):
    # numpy input: FeedForward shuffles with np.random (seeded here) before every epoch.
    x, y = classes(50)
    sym = mlp(mx)
    args, _ = weights(mx, sym, data=(10, 7), softmax_label=(10,))
    model = mx.model.FeedForward(sym, ctx=mx.cpu(), num_epoch=2, optimizer="sgd",
                                 learning_rate=0.1, momentum=0.9, numpy_batch_size=10,
                                 arg_params=args, aux_params={}, wd=0.01)
    np.random.seed(11)
    model.fit(x, y)
    out = {"arg:" + k: v.asnumpy() for k, v in model.arg_params.items()}
    out["predict"] = model.predict(x)
    out["score"] = np.array([model.score(mx.io.NDArrayIter(x, y, 10))])
    return out


@case
def checkpoint_resume(mx):
    # Resuming from epoch 2 with the saved optimizer states continues the same run.
    x, y = classes()
    sym = mlp(mx)
    it = mx.io.NDArrayIter(x, y, 10)
    args, _ = weights(mx, sym, data=(10, 7), softmax_label=(10,))
    opt = {"learning_rate": 0.1, "momentum": 0.9}
    folder = tempfile.mkdtemp()
    try:
        prefix = os.path.join(folder, "ck")
        mod = mx.mod.Module(sym)
        mod.fit(it, num_epoch=2, arg_params=args, optimizer_params=opt,
                epoch_end_callback=mx.callback.module_checkpoint(mod, prefix,
                                                                 save_optimizer_states=True))
        resumed = mx.mod.Module.load(prefix, 2, load_optimizer_states=True)
        resumed.fit(it, num_epoch=4, begin_epoch=2, optimizer_params=opt)
    finally:
        shutil.rmtree(folder)
    mod.fit(it, num_epoch=4, begin_epoch=2, optimizer_params=opt)
    out = params(resumed)
    out.update(params(mod, "continued:"))
    return out


def bound_mlp(mx, optimizer_params, **bind):
    """`mlp` in a Module bound for batches of 10, from `weights`, with SGD."""
    sym = mlp(mx)
    mod = mx.mod.Module(sym)
    mod.bind([("data", (10, 7))], [("softmax_label", (10,))], **bind)
    mod.init_params(arg_params=weights(mx, sym, data=(10, 7), softmax_label=(10,))[0])
    mod.init_optimizer(optimizer_params=optimizer_params)
    return mod


@case
def forward_backward_update(mx):
    x, y = classes(20)
    mod = bound_mlp(mx, {"learning_rate": 0.2, "momentum": 0.5, "wd": 0.1},
                    inputs_need_grad=True)
    metric = mx.metric.create(["acc", "ce"])
    out = {}
    for i in range(3):
        rows = slice(i % 2 * 10, i % 2 * 10 + 10)
        batch = mx.io.DataBatch([mx.nd.array(x[rows])], [mx.nd.array(y[rows])])
        mod.forward(batch, is_train=True)
        mod.backward()
        out["output%d" % i] = mod.get_outputs()[0].asnumpy()
        out["input_grad%d" % i] = mod.get_input_grads()[0].asnumpy()
        mod.update()
        mod.update_metric(metric, batch.label)
    out["metric"] = values(metric)
    out.update(params(mod))
    return out


@case
def accumulated_grads_and_head_grads(mx):
    rs = np.random.RandomState(2)
    fc = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=4, name="fc")
    sym = mx.sym.Group([mx.sym.tanh(fc), mx.sym.sum(fc * fc, axis=1)])
    mod = mx.mod.Module(sym, label_names=None)
    mod.bind([("data", (5, 3))], grad_req="add", inputs_need_grad=True)
    mod.init_params(arg_params=weights(mx, sym, data=(5, 3))[0])
    out = {}
    for i in range(2):
        mod.forward(mx.io.DataBatch([mx.nd.array(rs.randn(5, 3))]), is_train=True)
        mod.backward([mx.nd.array(rs.randn(5, 4)), mx.nd.array(rs.randn(5))])
        out["input_grad%d" % i] = mod.get_input_grads()[0].asnumpy()
        out["output%d" % i] = mod.get_outputs()[1].asnumpy()
    out["weight_grad"] = mod._exec_group.grad_arrays[0][0].asnumpy()
    return out


@case
def two_heads(mx):
    rs = np.random.RandomState(4)
    x = rs.randn(30, 6).astype("float32")
    labels = {"cls_label": rs.randint(0, 3, 30).astype("float32"),
              "reg_label": rs.randn(30, 2).astype("float32")}
    h = mx.sym.relu(mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=8, name="h"))
    sym = mx.sym.Group([
        mx.sym.SoftmaxOutput(mx.sym.FullyConnected(h, num_hidden=3, name="c"), name="cls"),
        mx.sym.LinearRegressionOutput(mx.sym.FullyConnected(h, num_hidden=2, name="r"),
                                      name="reg")])
    it = mx.io.NDArrayIter({"data": x}, labels, 6)
    mod = mx.mod.Module(sym, label_names=["cls_label", "reg_label"])
    metric = mx.metric.CompositeEvalMetric([
        mx.metric.Accuracy(output_names=["cls_output"], label_names=["cls_label"]),
        mx.metric.MSE(output_names=["reg_output"], label_names=["reg_label"])])
    mod.fit(it, num_epoch=2, eval_metric=metric, optimizer="adam",
            arg_params=weights(mx, sym, data=(6, 6), cls_label=(6,), reg_label=(6, 2))[0],
            optimizer_params={"learning_rate": 0.02})
    out = params(mod)
    out["metric"] = values(metric)
    it.reset()
    out["predict_cls"], out["predict_reg"] = [o.asnumpy() for o in mod.predict(it)]
    return out


@case
def sequential_module(mx):
    x, y = classes(30)
    body = mx.sym.Activation(mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=6,
                                                   name="fc1"), act_type="relu")
    head = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=3,
                                                      name="fc2"), name="softmax")
    seq = mx.mod.SequentialModule()
    seq.add(mx.mod.Module(body, label_names=None))
    seq.add(mx.mod.Module(head), take_labels=True, auto_wiring=True)
    it = mx.io.NDArrayIter(x, y, 6)
    seq.bind(it.provide_data, it.provide_label)
    args = weights(mx, body, data=(6, 7))[0]
    args.update(weights(mx, head, data=(6, 6), softmax_label=(6,))[0])
    seq.init_params(arg_params=args, allow_extra=True)
    seq.init_optimizer(optimizer_params={"learning_rate": 0.2, "momentum": 0.9})
    metric = mx.metric.Accuracy()
    for _ in range(2):
        it.reset()
        for batch in it:
            seq.forward(batch)
            seq.backward()
            seq.update()
            seq.update_metric(metric, batch.label)
    out = params(seq)
    out["metric"] = values(metric)
    return out


@case
def bucketing_lstm(mx):
    rs = np.random.RandomState(7)

    def sym_gen(seq_len):
        emb = mx.sym.Embedding(mx.sym.Variable("data"), input_dim=10, output_dim=4, name="emb")
        cell = mx.rnn.LSTMCell(num_hidden=5, prefix="lstm_")
        outs, _ = cell.unroll(seq_len, inputs=emb, layout="NTC", merge_outputs=True)
        pred = mx.sym.FullyConnected(mx.sym.Reshape(outs, shape=(-1, 5)), num_hidden=10,
                                     name="pred")
        label = mx.sym.Reshape(mx.sym.Variable("softmax_label"), shape=(-1,))
        return mx.sym.SoftmaxOutput(pred, label, name="softmax"), ("data",), ("softmax_label",)

    mod = mx.mod.BucketingModule(sym_gen, default_bucket_key=6)
    mod.bind(data_shapes=[("data", (4, 6))], label_shapes=[("softmax_label", (4, 6))])
    mod.init_params(arg_params=weights(mx, sym_gen(6)[0], data=(4, 6),
                                       softmax_label=(4, 6))[0])
    mod.init_optimizer(optimizer="adam", optimizer_params={"learning_rate": 0.05})
    metric = mx.metric.Perplexity(None)
    out = {}
    for i, n in enumerate([6, 3, 4, 6, 3]):
        data = mx.nd.array(rs.randint(0, 10, (4, n)))
        label = mx.nd.array(rs.randint(0, 10, (4, n)))
        batch = mx.io.DataBatch([data], [label], bucket_key=n,
                                provide_data=[mx.io.DataDesc("data", (4, n))],
                                provide_label=[mx.io.DataDesc("softmax_label", (4, n))])
        mod.forward(batch, is_train=True)
        mod.backward()
        mod.update()
        mod.update_metric(metric, batch.label)
        out["output%d" % i] = mod.get_outputs()[0].asnumpy()
    out["perplexity"] = values(metric)
    out.update(params(mod))
    return out


@case
def reshape_between_batches(mx):
    x, y = classes(20)
    mod = bound_mlp(mx, {"learning_rate": 0.1})

    def step(rows):
        mod.forward(mx.io.DataBatch([mx.nd.array(x[rows])], [mx.nd.array(y[rows])]),
                    is_train=True)
        mod.backward()
        mod.update()

    step(slice(0, 10))
    mod.reshape([("data", (4, 7))], [("softmax_label", (4,))])
    step(slice(10, 14))
    step(slice(14, 20))  # a batch of another size rebinds by itself
    out = params(mod)
    out["output"] = mod.get_outputs()[0].asnumpy()
    return out


@case
def mixed_initializer_adadelta(mx):
    x, y = classes(20)
    mod = mx.mod.Module(mlp(mx))
    mod.bind([("data", (10, 7))], [("softmax_label", (10,))])
    mod.init_params(mx.init.Mixed(["fc1_weight", "bias", ".*"],
                                  [mx.init.Constant(0.05), mx.init.Constant(-0.2),
                                   mx.init.One()]))
    mod.init_optimizer(optimizer="adadelta", optimizer_params={"rho": 0.9})
    for i in range(2):
        rows = slice(i * 10, i * 10 + 10)
        mod.forward(mx.io.DataBatch([mx.nd.array(x[rows])], [mx.nd.array(y[rows])]))
        mod.backward()
        mod.update()
    return params(mod)


@case
def shuffled_fit_with_validation_log(mx):
    """Module.fit's log (times and speeds blanked), validation metric and score/predict
    options, with a shuffling iterator seeded through np.random."""
    np.random.seed(3)
    x, y = classes(47)
    xv, yv = classes(21, seed=9)
    it = mx.io.NDArrayIter(x, y, 8, shuffle=True)
    val = mx.io.NDArrayIter(xv, yv, 8)
    sym = mlp(mx)
    mod = mx.mod.Module(sym)
    log = _LogText()
    logging.getLogger().addHandler(log)
    level = logging.getLogger().level
    logging.getLogger().setLevel(logging.INFO)
    try:
        mod.fit(it, eval_data=val, num_epoch=3, eval_metric=["acc", "ce"],
                arg_params=weights(mx, sym, data=(8, 7), softmax_label=(8,))[0],
                optimizer_params={"learning_rate": 0.1}, validation_metric="mse",
                batch_end_callback=mx.callback.Speedometer(8, 2))
    finally:
        logging.getLogger().removeHandler(log)
        logging.getLogger().setLevel(level)
    out = params(mod)
    out["log"] = np.array(log.text())
    out["score"] = values(mod.score(val, ["acc", mx.metric.TopKAccuracy(2)], num_batch=2))
    per_batch = mod.predict(val, merge_batches=False)
    out["predict_batches"] = np.array(len(per_batch))
    out["predict_last"] = per_batch[-1][0].asnumpy()
    out["predict_one"] = mod.predict(val, num_batch=1, always_output_list=True)[0].asnumpy()
    return out


class _LogText(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())

    def text(self):
        text = "\n".join(self.lines)
        text = re.sub(r"Time cost=[0-9.]+", "Time cost=T", text)
        return re.sub(r"Speed: [0-9.]+", "Speed: S", text)
