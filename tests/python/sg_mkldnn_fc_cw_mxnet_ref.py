"""Writes the MXNet 1.9.1 channel-wise INT8 FullyConnected model test_sg_mkldnn_fc_cw.py checks.

Run with the reference install, never imported by the tests:
    cd tests/python && MXNET_ENGINE_TYPE=NaiveEngine /work/mxref/bin/python sg_mkldnn_fc_cw_mxnet_ref.py
An MLP (fc0 -> relu -> fc1 -> fc2 without bias -> softmax) quantized by
`quantize_model_mkldnn(..., quantize_granularity='channel-wise')` with naive calibration and
'auto' activations: three `_sg_mkldnn_fully_connected` nodes with `channel_wise_quantize=True`
(int8 data in, relu fused with uint8 out; uint8 in, int8 out; int8 in, float out). It writes
data/sg_mkldnn/: the FP32 net (`mlp-symbol.json` + params), the INT8 graph (`q_cw-symbol.json`
+ params, whose weights stay float) and `expected_cw.npz`: the input, every node output of both
graphs and the names MXNet lists; also `q_cw_none-symbol.json`, the same pass uncalibrated.
"""
import json
import os

import mxnet as mx
import numpy as np
from mxnet.contrib.quantization import quantize_model_mkldnn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "sg_mkldnn")
SHAPE = (3, 8)


def net():
    data = mx.sym.var("data")
    f0 = mx.sym.FullyConnected(data, num_hidden=6, name="fc0")
    a0 = mx.sym.Activation(f0, act_type="relu", name="relu0")
    f1 = mx.sym.FullyConnected(a0, num_hidden=5, name="fc1")
    f2 = mx.sym.FullyConnected(f1, num_hidden=4, no_bias=True, name="fc2")
    return mx.sym.SoftmaxOutput(f2, name="softmax")


def run_all(sym, arg, x):
    internals = sym.get_internals()
    leaves = set(sym.list_arguments())
    feed = dict(arg, data=mx.nd.array(x), softmax_label=mx.nd.zeros((SHAPE[0],)))
    res = {}
    for i, n in enumerate(internals.list_outputs()):
        if n in leaves:
            continue
        s = internals[i]
        ex = s.bind(mx.cpu(), args={k: feed[k] for k in s.list_arguments()}, grad_req="null")
        res[n] = ex.forward(is_train=False)[0].asnumpy()
    return res


def main():
    sym = net()
    rng = np.random.RandomState(0)
    shapes, _, _ = sym.infer_shape(data=SHAPE, softmax_label=(SHAPE[0],))
    arg = {n: mx.nd.array(rng.uniform(-0.5, 0.5, s).astype("float32"))
           for n, s in zip(sym.list_arguments(), shapes) if n not in ("data", "softmax_label")}
    # fc1's channel 2: tiny weights (a large weight scale) and a bias of 3, so that the int32
    # bias would pass INT_MAX / 2 and MXNet caps the channel's weight scale
    w, b = arg["fc1_weight"].asnumpy(), arg["fc1_bias"].asnumpy()
    w[2] *= 1e-4
    b[2] = 3.0
    arg["fc1_weight"], arg["fc1_bias"] = mx.nd.array(w), mx.nd.array(b)
    calib = rng.uniform(-1, 1, (4,) + SHAPE[1:]).astype("float32")
    x = rng.uniform(-1, 1, SHAPE).astype("float32")
    open(os.path.join(OUT, "mlp-symbol.json"), "w").write(sym.tojson())
    mx.nd.save(os.path.join(OUT, "mlp-0000.params"), {"arg:" + k: v for k, v in arg.items()})
    res = {"x": x}
    res.update({"plain/" + k: v for k, v in run_all(sym, arg, x).items()})
    for mode, name in (("naive", "q_cw"), ("none", "q_cw_none")):
        it = mx.io.NDArrayIter(calib, np.zeros(4), batch_size=2)
        qsym, qarg, _ = quantize_model_mkldnn(
            sym, arg, {}, ctx=mx.cpu(), calib_mode=mode, calib_data=it, num_calib_examples=4,
            quantized_dtype="auto", quantize_granularity="channel-wise",
            label_names=("softmax_label",))
        open(os.path.join(OUT, name + "-symbol.json"), "w").write(qsym.tojson())
        if mode == "none":
            continue
        mx.nd.save(os.path.join(OUT, name + "-0000.params"),
                   {"arg:" + k: v for k, v in qarg.items()})
        res.update({"cw/" + k: v for k, v in run_all(qsym, qarg, x).items()})
        res["names/cw_outputs"] = np.array(qsym.get_internals().list_outputs())
        res["names/cw_args"] = np.array(qsym.list_arguments())
        for n in json.loads(qsym.tojson())["nodes"]:
            if n["op"].startswith("_sg"):
                print(n["name"], n.get("attrs", {}))
    np.savez(os.path.join(OUT, "expected_cw.npz"), **res)


if __name__ == "__main__":
    main()
