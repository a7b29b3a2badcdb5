#!/usr/bin/env python3
"""Expected values of mx.metric observed with REAL Apache MXNet 1.9.1.

Provenance script: committed for reference, never run by CI (tests read the JSON only).

    cd tests/data && /work/mxref/bin/python make_golden_metric.py

Writes golden/metric/expected.json: {"inputs": {name: nested list}, "cases": [...]}, where each
case names a metric spec (create() name + kwargs), a list of updates (label/pred input names),
optional reset_local points, and the observed get(), get_global() and get_name_value().
"""
import json
import math
import os

import numpy as np
import mxnet as mx

assert mx.__version__ == "1.9.1", mx.__version__

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "metric")
os.makedirs(OUT, exist_ok=True)

rng = np.random.RandomState(20261130)


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


INPUTS = {
    # 3-class scores and labels, two batches
    "cls3_label_a": rng.randint(0, 3, size=8).astype(np.float32),
    "cls3_pred_a": softmax(rng.randn(8, 3)).astype(np.float32),
    "cls3_label_b": rng.randint(0, 3, size=6).astype(np.float32),
    "cls3_pred_b": softmax(rng.randn(6, 3)).astype(np.float32),
    # class-index predictions with the label's shape (no argmax)
    "idx_label": np.array([0, 1, 2, 2, 1], dtype=np.float32),
    "idx_pred": np.array([0, 2, 2, 1, 1], dtype=np.float32),
    # 2-D labels (N, 1) against scores (N, 3): shapes differ -> argmax
    "cls3_label_col": rng.randint(0, 3, size=(8, 1)).astype(np.float32),
    # axis=0 scores (classes, N)
    "cls3_pred_t": softmax(rng.randn(8, 3)).T.copy().astype(np.float32),
    # 10-class for top-k
    "cls10_label": rng.randint(0, 10, size=12).astype(np.float32),
    "cls10_pred": rng.rand(12, 10).astype(np.float32),
    "cls10_label_b": rng.randint(0, 10, size=7).astype(np.float32),
    "cls10_pred_b": rng.rand(7, 10).astype(np.float32),
    # binary
    "bin_label_a": rng.randint(0, 2, size=20).astype(np.float32),
    "bin_pred_a": softmax(rng.randn(20, 2)).astype(np.float32),
    "bin_label_b": rng.randint(0, 2, size=15).astype(np.float32),
    "bin_pred_b": softmax(rng.randn(15, 2)).astype(np.float32),
    "bin_label_ones": np.ones(6, dtype=np.float32),
    "bin_pred_ones": np.tile(np.array([[0.2, 0.8]], dtype=np.float32), (6, 1)),
    # regression
    "reg_label_a": rng.randn(10).astype(np.float32),
    "reg_pred_a": rng.randn(10).astype(np.float32),
    "reg_label_b": rng.randn(4).astype(np.float32),
    "reg_pred_b": rng.randn(4).astype(np.float32),
    "reg_label_2d": rng.randn(5, 3).astype(np.float32),
    "reg_pred_2d": rng.randn(5, 3).astype(np.float32),
    "reg_pred_col": rng.randn(10, 1).astype(np.float32),
    # perplexity with ignored entries (-1); (2, 4) labels flattened against (8, 5) scores
    "ppl_label": np.array([0, 2, -1, 1, 4, -1, 3, 0], dtype=np.float32),
    "ppl_pred": softmax(rng.randn(8, 5)).astype(np.float32),
    "ppl_label_seq": rng.randint(0, 5, size=(2, 4)).astype(np.float32),
    "ppl_pred_seq": softmax(rng.randn(8, 5)).astype(np.float32),
    # loss values
    "loss_a": rng.rand(6).astype(np.float32),
    "loss_b": rng.rand(3, 2).astype(np.float32),
    # multiclass for PCC
    "pcc_label": np.array([0, 1, 2, 3, 1, 2, 0, 3, 3, 1], dtype=np.float32),
    "pcc_pred": softmax(rng.randn(10, 4)).astype(np.float32),
    # sequence scores laid out (N, C, T) against (N, T) labels: argmax along axis 1
    "seq_label": rng.randint(0, 3, size=(2, 4)).astype(np.float32),
    "seq_pred": softmax(rng.randn(2, 4, 3)).transpose(0, 2, 1).copy().astype(np.float32),
    # every prediction negative
    "bin_pred_neg": np.tile(np.array([[0.9, 0.1]], dtype=np.float32), (20, 1)),
    "cls3_label_a_col": None,
}
INPUTS["cls3_label_a_col"] = INPUTS["cls3_label_a"].reshape(-1, 1)

# (case id, create() spec, kwargs, updates [(labels, preds)], reset_local after update index)
CASES = [
    ("acc", "acc", {}, [(["cls3_label_a"], ["cls3_pred_a"]), (["cls3_label_b"], ["cls3_pred_b"])]),
    ("acc_two_outputs", "acc", {}, [(["cls3_label_a", "cls3_label_b"],
                                     ["cls3_pred_a", "cls3_pred_b"])]),
    ("acc_same_shape", "acc", {}, [(["idx_label"], ["idx_pred"])]),
    ("acc_label_col", "acc", {}, [(["cls3_label_col"], ["cls3_pred_a"])]),
    ("acc_axis0", "acc", {"axis": 0}, [(["cls3_label_a"], ["cls3_pred_t"])]),
    ("acc_reset_local", "acc", {}, [(["cls3_label_a"], ["cls3_pred_a"]),
                                    "reset_local",
                                    (["cls3_label_b"], ["cls3_pred_b"])]),
    ("top_k_3", "top_k_accuracy", {"top_k": 3}, [(["cls10_label"], ["cls10_pred"]),
                                                 (["cls10_label_b"], ["cls10_pred_b"])]),
    ("top_k_5", "top_k_acc", {"top_k": 5}, [(["cls10_label"], ["cls10_pred"])]),
    ("f1_macro", "f1", {}, [(["bin_label_a"], ["bin_pred_a"]), (["bin_label_b"], ["bin_pred_b"])]),
    ("f1_micro", "f1", {"average": "micro"}, [(["bin_label_a"], ["bin_pred_a"]),
                                              (["bin_label_b"], ["bin_pred_b"])]),
    ("f1_micro_reset_local", "f1", {"average": "micro"}, [(["bin_label_a"], ["bin_pred_a"]),
                                                          "reset_local",
                                                          (["bin_label_b"], ["bin_pred_b"])]),
    ("f1_all_positive", "f1", {}, [(["bin_label_ones"], ["bin_pred_ones"])]),
    ("mcc_macro", "mcc", {}, [(["bin_label_a"], ["bin_pred_a"]), (["bin_label_b"], ["bin_pred_b"])]),
    ("mcc_micro", "mcc", {"average": "micro"}, [(["bin_label_a"], ["bin_pred_a"]),
                                                (["bin_label_b"], ["bin_pred_b"])]),
    ("mcc_one_class", "mcc", {}, [(["bin_label_ones"], ["bin_pred_ones"])]),
    ("mae", "mae", {}, [(["reg_label_a"], ["reg_pred_a"]), (["reg_label_b"], ["reg_pred_b"])]),
    ("mse", "mse", {}, [(["reg_label_a"], ["reg_pred_a"]), (["reg_label_b"], ["reg_pred_b"])]),
    ("rmse", "rmse", {}, [(["reg_label_a"], ["reg_pred_a"]), (["reg_label_b"], ["reg_pred_b"])]),
    ("rmse_2d", "rmse", {}, [(["reg_label_2d"], ["reg_pred_2d"])]),
    ("mse_col", "mse", {}, [(["reg_label_a"], ["reg_pred_col"])]),
    ("ce", "ce", {}, [(["cls3_label_a"], ["cls3_pred_a"]), (["cls3_label_b"], ["cls3_pred_b"])]),
    ("ce_eps", "ce", {"eps": 0.1}, [(["cls3_label_a"], ["cls3_pred_a"])]),
    ("nll", "nll_loss", {}, [(["cls3_label_a"], ["cls3_pred_a"]), (["cls3_label_b"], ["cls3_pred_b"])]),
    ("ppl_ignore", "perplexity", {"ignore_label": -1}, [(["ppl_label"], ["ppl_pred"])]),
    ("ppl_no_ignore", "perplexity", {"ignore_label": None}, [(["cls3_label_a"], ["cls3_pred_a"]),
                                                             (["cls3_label_b"], ["cls3_pred_b"])]),
    ("ppl_seq", "perplexity", {"ignore_label": None}, [(["ppl_label_seq"], ["ppl_pred_seq"])]),
    ("pearsonr", "pearsonr", {}, [(["reg_label_a"], ["reg_pred_a"]), (["reg_label_b"], ["reg_pred_b"])]),
    ("pearsonr_micro", "pearsonr", {"average": "micro"}, [(["reg_label_a"], ["reg_pred_a"])]),
    ("pearsonr_micro_2", "pearsonr", {"average": "micro"}, [(["reg_label_a"], ["reg_pred_a"]),
                                                            (["reg_label_b"], ["reg_pred_b"])]),
    ("loss", "loss", {}, [([], ["loss_a"]), ([], ["loss_b"])]),
    ("pcc", "pcc", {}, [(["pcc_label"], ["pcc_pred"])]),
    ("acc_seq", "acc", {}, [(["seq_label"], ["seq_pred"])]),
    ("f1_no_positive_pred", "f1", {}, [(["bin_label_a"], ["bin_pred_neg"])]),
    ("mcc_no_positive_pred", "mcc", {}, [(["bin_label_a"], ["bin_pred_neg"])]),
    ("mcc_micro_reset_local", "mcc", {"average": "micro"}, [(["bin_label_a"], ["bin_pred_a"]),
                                                            "reset_local",
                                                            (["bin_label_b"], ["bin_pred_b"])]),
    ("ce_label_col", "ce", {}, [(["cls3_label_a_col"], ["cls3_pred_a"])]),
    ("loss_two_outputs", "loss", {}, [([], ["loss_a", "loss_b"])]),
    ("mae_label_vs_col", "mae", {}, [(["reg_label_a"], ["reg_pred_col"])]),
    ("composite", ["acc", "ce", "f1"], {}, [(["bin_label_a"], ["bin_pred_a"]),
                                            (["bin_label_b"], ["bin_pred_b"])]),
    ("composite_reset_local", ["acc", "mae"], {}, [(["cls3_label_a"], ["cls3_pred_a"]),
                                                   "reset_local",
                                                   (["cls3_label_b"], ["cls3_pred_b"])]),
]


def jsonable(v):
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    v = float(v)
    return None if math.isnan(v) else v


cases = []
for cid, spec, kwargs, updates in CASES:
    metric = mx.metric.create(spec, **kwargs)
    for step in updates:
        if step == "reset_local":
            metric.reset_local()
            continue
        labels, preds = step
        metric.update([mx.nd.array(INPUTS[n]) for n in labels],
                      [mx.nd.array(INPUTS[n]) for n in preds])
    name, value = metric.get()
    gname, gvalue = metric.get_global()
    cases.append({
        "id": cid, "spec": spec, "kwargs": kwargs,
        "updates": [u if u == "reset_local" else {"labels": u[0], "preds": u[1]} for u in updates],
        "name": name, "value": jsonable(value),
        "global_name": gname, "global_value": jsonable(gvalue),
        "name_value": [[n, jsonable(v)] for n, v in metric.get_name_value()],
        "num_inst": jsonable(metric.num_inst) if not isinstance(metric, mx.metric.CompositeEvalMetric) else None,
    })

observed = {
    "acc_config": mx.metric.create("acc").get_config(),
    "topk_name": mx.metric.TopKAccuracy(top_k=3).name,
    "custom_lambda_name": mx.metric.create(lambda l, p: 0.0).name,
    "str_acc": str(mx.metric.Accuracy()),
}

with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump({"inputs": {k: v.tolist() for k, v in INPUTS.items()}, "cases": cases,
               "observed": observed}, f, indent=1, sort_keys=True)
print("wrote", len(cases), "cases")


# ---------------------------------------------------------------------------------------------
# mx.init values that need no random numbers: FusedRNN's unpacking of the RNN parameter vector
# (with a deterministic, name-dependent inner initializer), Bilinear, and dumps() strings.
# Written to golden/metric/init_expected.json (kept next to the metric file on purpose: one
# generator, one directory for these pure-Python modules).
# ---------------------------------------------------------------------------------------------

@mx.init.register
class NameRamp(mx.init.Initializer):
    """weight[i] = sum(ord(name)) + i / 1000: every piece distinguishable and ordered."""

    def __init__(self):
        super(NameRamp, self).__init__()

    def _init_weight(self, name, arr):
        base = float(sum(ord(c) for c in name))
        arr[:] = (base + np.arange(arr.size) / 1000.0).reshape(arr.shape)


def fused_size(mode, layers, bidir, hidden, num_input):
    m = {"rnn_relu": 1, "rnn_tanh": 1, "lstm": 4, "gru": 3}[mode]
    b = 2 if bidir else 1
    return (num_input + hidden + 2) * hidden * m * b + (layers - 1) * m * hidden * (hidden + b * hidden + 2) * b


fused = []
for mode, layers, bidir, hidden, num_input, forget, inner in [
        ("lstm", 2, True, 3, 4, 1.5, "ramp"), ("gru", 1, False, 2, 3, 1.0, "ramp"),
        ("rnn_tanh", 2, False, 2, 2, 1.0, "global"), ("lstm", 1, False, 2, 2, 0.5, "global")]:
    size = fused_size(mode, layers, bidir, hidden, num_input)
    arr = mx.nd.zeros((size,))
    if inner == "ramp":
        init = mx.init.FusedRNN(NameRamp(), hidden, layers, mode, bidir, forget)
        init._init_weight(mx.init.InitDesc("rnn_parameters"), arr)
    else:
        init = mx.init.FusedRNN(None, hidden, layers, mode, bidir, forget)
        # the Module path: the variable's __init__ attribute, the global initializer falls in
        NameRamp()(mx.init.InitDesc("rnn_parameters", {"__init__": init.dumps()}), arr)
    fused.append({"mode": mode, "num_layers": layers, "bidirectional": bidir,
                  "num_hidden": hidden, "num_input": num_input, "forget_bias": forget,
                  "inner": inner, "dumps": init.dumps(), "values": arr.asnumpy().tolist()})

bilinear = {}
for shape in [(1, 1, 4, 4), (2, 1, 3, 5)]:
    arr = mx.nd.zeros(shape)
    mx.init.Bilinear()._init_weight("up", arr)
    bilinear[str(shape)] = arr.asnumpy().tolist()

dumps = {
    "xavier": mx.init.Xavier().dumps(),
    "xavier_in": mx.init.Xavier(factor_type="in", magnitude=2.34).dumps(),
    "msraprelu": mx.init.MSRAPrelu().dumps(),
    "normal": mx.init.Normal(0.5).dumps(),
    "uniform": mx.init.Uniform().dumps(),
    "orthogonal": mx.init.Orthogonal().dumps(),
    "constant": mx.init.Constant(2.0).dumps(),
    "lstmbias": mx.init.LSTMBias().dumps(),
    "zero": mx.init.Zero().dumps(),
    "one": mx.init.One().dumps(),
    "bilinear": mx.init.Bilinear().dumps(),
}

with open(os.path.join(OUT, "init_expected.json"), "w") as f:
    json.dump({"fused_rnn": fused, "bilinear": bilinear, "dumps": dumps}, f, indent=1,
              sort_keys=True)
print("wrote init_expected.json")
