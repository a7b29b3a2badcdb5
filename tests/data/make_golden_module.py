"""Writes checkpoints with real MXNet 1.9.1 for tests/python/test_module.py.

Run with an MXNet 1.9.1 interpreter (never at test time):
    /work/mxref/bin/python tests/data/make_golden_module.py
"""
import json
import logging
import os

import mxnet as mx
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "module")


def net():
    data = mx.sym.Variable("data")
    fc1 = mx.sym.FullyConnected(data, name="fc1", num_hidden=8)
    bn1 = mx.sym.BatchNorm(fc1, name="bn1")
    act = mx.sym.Activation(bn1, name="relu1", act_type="relu")
    fc2 = mx.sym.FullyConnected(act, name="fc2", num_hidden=3)
    return mx.sym.SoftmaxOutput(fc2, name="softmax")


def main():
    logging.basicConfig(level=logging.INFO)
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.RandomState(0)
    x = rng.uniform(-1, 1, (30, 5)).astype(np.float32)
    y = rng.randint(0, 3, 30).astype(np.float32)
    mx.random.seed(0)
    np.random.seed(0)
    it = mx.io.NDArrayIter(x, y, batch_size=10)
    mod = mx.mod.Module(net())
    prefix = os.path.join(OUT, "mlp")
    mod.fit(it, num_epoch=2, optimizer="sgd",
            optimizer_params={"learning_rate": 0.1, "momentum": 0.9},
            initializer=mx.init.Xavier(), epoch_end_callback=mx.callback.do_checkpoint(prefix))
    it.reset()
    probs = mod.predict(it).asnumpy()
    np.save(os.path.join(OUT, "mlp_input.npy"), x)
    np.save(os.path.join(OUT, "mlp_predict.npy"), probs)
    # Continuing from epoch 1 with a fresh optimizer: oxnet must reach the same weights.
    _, arg, aux = mx.model.load_checkpoint(prefix, 1)
    it.reset()
    cont = mx.mod.Module(net())
    cont.fit(it, num_epoch=1, optimizer="sgd", arg_params=arg, aux_params=aux,
             optimizer_params={"learning_rate": 0.1, "momentum": 0.9, "wd": 0.01})
    cont.save_checkpoint(os.path.join(OUT, "cont"), 1, save_optimizer_states=True)
    # Resuming with MXNet's .states file (momentum) for one more epoch.
    it.reset()
    resumed = mx.mod.Module.load(os.path.join(OUT, "cont"), 1, load_optimizer_states=True)
    resumed.fit(it, num_epoch=1, optimizer="sgd",
                optimizer_params={"learning_rate": 0.1, "momentum": 0.9, "wd": 0.01})
    resumed.save_checkpoint(os.path.join(OUT, "resumed"), 2)
    keys = list(mx.nd.load(prefix + "-0002.params").keys())
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"params_keys": keys, "mxnet": mx.__version__}, f, indent=1)
    bucketing()


def bucket_sym_gen(length):
    # The same network for every length (oxnet's test builds it with its own symbols).
    emb = mx.sym.Embedding(mx.sym.var("data"), input_dim=10, output_dim=4, name="emb")
    fc = mx.sym.FullyConnected(mx.sym.mean(emb, axis=1), num_hidden=3, name="fc")
    return mx.sym.SoftmaxOutput(fc, name="softmax"), ("data",), ("softmax_label",)


def bucketing():
    """A BucketingModule trained on buckets 5, 3 and 7, saved with save_checkpoint; and its
    outputs for one bucket-3 batch."""
    mx.random.seed(0)
    mod = mx.mod.BucketingModule(bucket_sym_gen, default_bucket_key=5)
    mod.bind([("data", (2, 5))], [("softmax_label", (2,))])
    mod.init_params(mx.init.Xavier())
    mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.1})
    for length in (5, 3, 5, 7):
        batch = mx.io.DataBatch([mx.nd.array(np.arange(2 * length).reshape(2, length) % 10)],
                                [mx.nd.array([0, 2])], bucket_key=length,
                                provide_data=[mx.io.DataDesc("data", (2, length))],
                                provide_label=[mx.io.DataDesc("softmax_label", (2,))])
        mod.forward(batch)
        mod.backward()
        mod.update()
    mod.save_checkpoint(os.path.join(OUT, "bucket"), 3)
    x = np.arange(6).reshape(2, 3).astype(np.float32)
    mod.forward(mx.io.DataBatch([mx.nd.array(x)], None, bucket_key=3,
                                provide_data=[mx.io.DataDesc("data", (2, 3))]), is_train=False)
    np.save(os.path.join(OUT, "bucket_predict.npy"), mod.get_outputs()[0].asnumpy())


if __name__ == "__main__":
    main()
