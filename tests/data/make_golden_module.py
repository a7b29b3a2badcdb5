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


if __name__ == "__main__":
    main()
