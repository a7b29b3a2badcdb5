"""Writes the MXNet 1.9.1 oneDNN-fused models and outputs test_sg_mkldnn.py checks.

Run with the reference install, never imported by the tests:
    cd tests/python && MXNET_ENGINE_TYPE=NaiveEngine /work/mxref/bin/python sg_mkldnn_mxnet_ref.py
It writes data/sg_mkldnn/: the FP32 net's params, its float fusion (`fused-symbol.json`) and INT8
fusions (`q_<variant>-symbol.json` + params), and `expected.npz` with MXNet's outputs for a fixed
input, every fused node's outputs included, and the names MXNet lists for them.
"""
import json
import os
import subprocess
import sys

import mxnet as mx
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "sg_mkldnn")
SHAPE = (2, 3, 6, 6)


def net():
    data = mx.sym.var("data")
    c = mx.sym.Convolution(data, kernel=(3, 3), num_filter=8, pad=(1, 1), name="conv0")
    b = mx.sym.BatchNorm(c, name="bn0", fix_gamma=False)
    r = mx.sym.Activation(b, act_type="relu", name="relu0")
    c2 = mx.sym.Convolution(r, kernel=(3, 3), num_filter=8, pad=(1, 1), name="conv1")
    s = mx.sym.elemwise_add(c2, r, name="add0")
    c3 = mx.sym.Convolution(s, kernel=(1, 1), num_filter=4, no_bias=True, name="conv2")
    a3 = mx.sym.Activation(c3, act_type="relu", name="relu2")
    p = mx.sym.Pooling(a3, kernel=(2, 2), stride=(2, 2), pool_type="max", name="pool0")
    f = mx.sym.FullyConnected(mx.sym.flatten(p), num_hidden=10, name="fc0")
    return mx.sym.SoftmaxOutput(f, name="softmax")


def params(sym):
    rng = np.random.RandomState(1)
    shapes, _, aux_shapes = sym.infer_shape(data=SHAPE, softmax_label=(SHAPE[0],))
    arg = {}
    for n, s in zip(sym.list_arguments(), shapes):
        if n in ("data", "softmax_label"):
            continue
        arg[n] = mx.nd.array(rng.uniform(-0.5, 0.5, s).astype("float32"))
    aux = {}
    for n, s in zip(sym.list_auxiliary_states(), aux_shapes):
        lo, hi = (0.5, 1.5) if n.endswith("var") else (-0.2, 0.2)
        aux[n] = mx.nd.array(rng.uniform(lo, hi, s).astype("float32"))
    arg["bn0_gamma"] = mx.nd.array(rng.uniform(0.5, 1.5, arg["bn0_gamma"].shape))
    return arg, aux


def run_all(sym, arg, aux, x):
    """Every output of every op node of `sym` (its internals), by name, each bound on its own."""
    internals = sym.get_internals()
    leaves = set(sym.list_arguments()) | set(sym.list_auxiliary_states())
    feed = dict(arg, data=mx.nd.array(x), softmax_label=mx.nd.zeros((SHAPE[0],)))
    res = {}
    for i, n in enumerate(internals.list_outputs()):
        if n in leaves:
            continue
        s = internals[i]
        ex = s.bind(mx.cpu(), args={k: feed[k] for k in s.list_arguments()},
                    aux_states={k: aux[k] for k in s.list_auxiliary_states()}, grad_req="null")
        res[n] = ex.forward(is_train=False)[0].asnumpy()
    return res


def main(variant):
    os.makedirs(OUT, exist_ok=True)
    sym = net()
    arg, aux = params(sym)
    rng = np.random.RandomState(2)
    x = rng.uniform(0, 1, SHAPE).astype("float32")
    calib = rng.uniform(0, 1, (4,) + SHAPE[1:]).astype("float32")
    res = {}
    if variant == "float":
        mx.nd.save(os.path.join(OUT, "net-0000.params"),
                   {**{"arg:" + k: v for k, v in arg.items()},
                    **{"aux:" + k: v for k, v in aux.items()}})
        open(os.path.join(OUT, "net-symbol.json"), "w").write(sym.tojson())
        res.update({"plain/" + k: v for k, v in run_all(sym, arg, aux, x).items()})
        fused = sym.get_backend_symbol("MKLDNN")
        open(os.path.join(OUT, "fused-symbol.json"), "w").write(fused.tojson())
        res.update({"fused/" + k: v for k, v in run_all(fused, arg, aux, x).items()})
        names = fused.get_internals().list_outputs()
        res["names/fused_outputs"] = np.array(names)
        res["names/fused_args"] = np.array(fused.list_arguments())
        res["x"] = x
    else:
        from mxnet.contrib.quantization import quantize_model_mkldnn
        it = mx.io.NDArrayIter(calib, np.zeros(4), batch_size=2)
        qsym, qarg, qaux = quantize_model_mkldnn(
            sym, arg, aux, ctx=mx.cpu(), calib_mode="none" if variant == "nocalib" else "naive",
            calib_data=it, num_calib_examples=4, quantized_dtype="auto",
            label_names=("softmax_label",))
        qsym = qsym.get_backend_symbol("MKLDNN_QUANTIZE")
        open(os.path.join(OUT, "q_%s-symbol.json" % variant), "w").write(qsym.tojson())
        mx.nd.save(os.path.join(OUT, "q_%s-0000.params" % variant),
                   {**{"arg:" + k: v for k, v in qarg.items()},
                    **{"aux:" + k: v for k, v in qaux.items()}})
        out = run_all(qsym, qarg, qaux, x)
        res.update({variant + "/" + k: v for k, v in out.items()})
        res["names/%s_outputs" % variant] = np.array(qsym.get_internals().list_outputs())
        res["names/%s_args" % variant] = np.array(qsym.list_arguments())
        for n in json.loads(qsym.tojson())["nodes"]:
            if n["op"].startswith("_sg"):
                print(variant, n["op"], n["name"], n.get("attrs", {}))
    np.savez(os.path.join(OUT, "expected_%s.npz" % variant), **res)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        env = dict(os.environ)
        for v in ["float", "naive", "nocalib"]:
            subprocess.check_call([sys.executable, __file__, v], env=env)
        env["MXNET_DISABLE_MKLDNN_QFC_FLOAT_OUTPUT"] = "1"
        subprocess.check_call([sys.executable, __file__, "intfc"], env=env)
