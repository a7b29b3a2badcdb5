"""Writes tests/data/golden/optimizer/: Updater.get_states(dump_optimizer=True) of MXNet 1.9.1
after one update of [1, 2, 3] by [0.1, -0.2, 0.3], and expected.json with the weight after that
step and after a second one by [0.4, -0.1, 0.2]. Run with MXNet (not part of the tests):
    mxref/bin/python tests/python/optimizer_states_mxnet_ref.py
"""
import json
import os

import mxnet as mx

OUT = os.path.join(os.path.dirname(__file__), "..", "data", "golden", "optimizer")
CASES = {
    "adam": {},
    "sgd": {"momentum": 0.9, "lr_scheduler": mx.lr_scheduler.FactorScheduler(step=1, factor=0.5,
                                                                            base_lr=0.1)},
    "rmsprop": {"centered": True},
    "ftml": {},
}


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}
    for name, kw in CASES.items():
        opt = mx.optimizer.create(name, learning_rate=0.1, wd=0.01, rescale_grad=0.5, **kw)
        up = mx.optimizer.get_updater(opt)
        w = mx.nd.array([1.0, 2.0, 3.0])
        up(0, mx.nd.array([0.1, -0.2, 0.3]), w)
        with open(os.path.join(OUT, name + ".states"), "wb") as f:
            f.write(up.get_states(dump_optimizer=True))
        first = w.asnumpy().tolist()
        up(0, mx.nd.array([0.4, -0.1, 0.2]), w)
        expected[name] = {"after_first": first, "after_second": w.asnumpy().tolist()}
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)


if __name__ == "__main__":
    main()
