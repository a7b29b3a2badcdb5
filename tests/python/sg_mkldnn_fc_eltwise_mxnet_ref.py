"""Writes tests/python/data/sg_mkldnn_fc_eltwise/expected.npz with Apache MXNet 1.9.1 (mxref) for
test_sg_mkldnn_fc_eltwise.py. Run from tests/python with
    MXNET_ENGINE_TYPE=NaiveEngine /work/mxref/bin/python sg_mkldnn_fc_eltwise_mxnet_ref.py
Never imported by the tests.

`mlp`: data (8, 32) -> fc0 (64) -> eltwise -> fc1 (10), for each eltwise op MXNet's FC fusion
takes (KINDS); sqrt's variant has non-negative weights and data so that fc0's output has a
root. Per kind: the FP32 outputs, the float fusion's (`get_backend_symbol('MKLDNN')`), and
`quantize_model_mkldnn` (naive calibration, quantized_dtype 'auto') in three modes: `naive`
(calibrated int8/uint8 output), `none` (calib_mode='none': int32 output) and `float` (fc1
excluded: the fused fc0 dequantizes, `enable_float_output`). MXNet's partitioner fuses only
relu / leaky / elu / gelu / abs / clip into an INT8 FC; for the others the graph MXNet wrote
(`partition`) is kept and the INT8 node is made by hand (`hand`): relu's graph of the same mode
with its Activation swapped for the op and, calibrated, the range MXNet calibrated for the op's
output. MXNet runs every graph; the fused node's outputs and the final output are recorded.

`conv`: data (2, 3, 5, 5) -> conv0 (4, 3x3, pad 1) -> relu / leaky / gelu / clip, quantized
(naive and none); `conv_sum`: conv0 + data -> gelu, which MXNet quantizes but refuses to
run (its error is kept); `bert`: a BERT-like FFN (ffn1 -> gelu -> ffn2, residual add, LayerNorm) on
(6, 2, 16), quantized tensor-wise and channel-wise.

Everything goes into one compressed npz: inputs, float params, MXNet's quantized params and
outputs, keyed '<net>/<mode>/<kind>/<what>', and `graphs`, one JSON text mapping each case
'<net>/<mode>/<kind>' to the graph MXNet ran and its fused node's name.
"""
import json
import os

import mxnet as mx
import numpy as np
from mxnet.contrib.quantization import quantize_model_mkldnn

from fc_eltwise_cases import eltwise

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "sg_mkldnn_fc_eltwise")
KINDS = ["relu", "sigmoid", "tanh", "softrelu", "leaky", "elu", "gelu", "square", "sqrt", "exp",
         "abs", "clip"]
FUSED_INT8 = ["relu", "leaky", "elu", "gelu", "abs", "clip"]
CONV_KINDS = ["relu", "leaky", "gelu", "clip"]
SHAPE = (8, 32)
ROWS = 4  # rows of the input MXNet runs (the calibration batches have SHAPE[0])
res, graphs = {}, {}


def mlp(kind):
    f0 = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=64, name="fc0")
    return mx.sym.FullyConnected(eltwise(mx, f0, kind), num_hidden=10, name="fc1")


def run(sym, feed, names):
    internals = sym.get_internals()
    outs = internals.list_outputs()
    g = mx.sym.Group([internals[outs.index(n)] for n in names])
    ex = g.bind(mx.cpu(), args={k: feed[k] for k in g.list_arguments()}, grad_req="null")
    return [o.asnumpy() for o in ex.forward(is_train=False)]


def quantize(sym, arg, calib, batch, **kw):
    it = mx.io.NDArrayIter(calib, batch_size=batch)
    qsym, qarg, _ = quantize_model_mkldnn(
        sym, arg, {}, ctx=mx.cpu(), calib_data=it, num_calib_examples=len(calib),
        quantized_dtype="auto", label_names=(), **kw)
    return qsym, qarg


def nodes(qsym):
    return json.loads(qsym.tojson())["nodes"]


def fused_name(graph, prefix):
    return [n["name"] for n in graph["nodes"] if n["op"].startswith("_sg_mkldnn")
            and n["name"].startswith(prefix)][0]


def record(key, graph, qarg, x, node):
    """Runs `graph` (a dict) on x, storing its text, the fused node's outputs and the last
    output under `key`."""
    text = json.dumps(graph)
    sym = mx.sym.load_json(text)
    feed = dict(qarg, data=mx.nd.array(x))
    n = [m for m in graph["nodes"] if m["name"] == node][0]
    float_out = n["attrs"].get("enable_float_output", "False") == "True"
    suffixes = ["output"] if float_out else (
        ["output", "output_min", "output_max"] if n["op"] == "_sg_mkldnn_conv"
        else ["output", "min_output", "max_output"])
    names = ["%s_%s" % (node, s) for s in suffixes] + [sym.list_outputs()[0]]
    outs = run(sym, feed, names)
    graphs[key] = {"graph": text, "node": node}
    res[key + "/out"] = outs[0]
    if not float_out:
        res[key + "/range"] = np.concatenate([outs[1], outs[2]])
    res[key + "/final"] = outs[-1]
    print(key, node, n["attrs"], outs[0].dtype)


def swap(graph, node, kind, calib_range):
    """relu's fused node with its Activation replaced by `kind`'s op (and its range)."""
    g = json.loads(json.dumps(graph))
    ref = json.loads(mlp(kind).tojson())["nodes"]
    act = [m for m in ref if m["name"] == "act"][0]
    for n in g["nodes"]:
        if n["name"] != node:
            continue
        for m in n["subgraphs"][0]["nodes"]:
            if m["op"] == "Activation":
                m["op"], m["attrs"] = act["op"], dict(act.get("attrs", {}))
        if calib_range is not None:
            n["attrs"]["min_calib_range"], n["attrs"]["max_calib_range"] = calib_range
    return g


def act_range(qsym):
    """The range MXNet calibrated for the unfused eltwise's output (its quantize node)."""
    ns = nodes(qsym)
    q = [n for n in ns if n["op"] == "_contrib_quantize_v2"
         and ns[n["inputs"][0][0]]["name"] == "act"][0]
    return q["attrs"]["min_calib_range"], q["attrs"]["max_calib_range"]


def mlp_cases():
    rng = np.random.RandomState(0)
    sym = mlp("relu")
    shapes, _, _ = sym.infer_shape(data=SHAPE)
    params = {n: rng.uniform(-0.3, 0.3, s).astype("f4")
              for n, s in zip(sym.list_arguments(), shapes) if n != "data"}
    x = rng.uniform(-1, 1, (ROWS,) + SHAPE[1:]).astype("f4")
    calib = rng.uniform(-1, 1, (2 * SHAPE[0],) + SHAPE[1:]).astype("f4")
    variants = {"std": (params, x, calib),
                "pos": ({k: np.abs(v) for k, v in params.items()}, np.abs(x), np.abs(calib))}
    res.update({"mlp/x": x, "mlp/calib": calib})
    res.update({"mlp/params/" + k: v for k, v in params.items()})
    base = {}
    for var, (p, xv, cv) in variants.items():
        arg = {k: mx.nd.array(v) for k, v in p.items()}
        for mode in ("naive", "none", "float"):
            kw = dict(calib_mode="none" if mode == "none" else "naive")
            if mode == "float":
                kw["excluded_sym_names"] = ["fc1"]
            qsym, qarg = quantize(mlp("relu"), arg, cv, 8, **kw)
            base[var, mode] = (json.loads(qsym.tojson()), qarg)
            if mode == "naive":
                for k, v in qarg.items():
                    res["mlp/qparams/%s/%s" % (var, k)] = v.asnumpy()
            else:
                # weight quantization does not depend on calibration: one set per variant
                # (fc1 excluded keeps its float params)
                naive = base[var, "naive"][1]
                assert all(np.array_equal(v.asnumpy(), naive[k].asnumpy())
                           for k, v in qarg.items() if k in naive)
    for kind in KINDS:
        var = "pos" if kind == "sqrt" else "std"
        p, xv, cv = variants[var]
        arg = {k: mx.nd.array(v) for k, v in p.items()}
        sym = mlp(kind)
        feed = dict(arg, data=mx.nd.array(xv))
        res["mlp/fp32/%s/final" % kind] = run(sym, feed, ["fc1_output"])[0]
        fused = sym.get_backend_symbol("MKLDNN")
        res["mlp/fused/%s/final" % kind] = run(fused, feed, [fused.list_outputs()[0]])[0]
        graphs["mlp/fused/%s" % kind] = {"graph": fused.tojson()}
        qnaive = None
        for mode in ("naive", "none", "float"):
            kw = dict(calib_mode="none" if mode == "none" else "naive")
            if mode == "float":
                kw["excluded_sym_names"] = ["fc1"]
            qsym, qarg = quantize(sym, arg, cv, 8, **kw)
            graph = json.loads(qsym.tojson())
            key = "mlp/%s/%s" % (mode, kind)
            if kind in FUSED_INT8:
                record(key, graph, qarg, xv, fused_name(graph, "quantized_sg_mkldnn_fully"))
                continue
            # MXNet leaves the op outside its INT8 FC: keep that graph, run one made by hand
            if mode == "naive":
                qnaive = qsym
                graphs["mlp/partition/%s" % kind] = {"graph": qsym.tojson()}
            bgraph, bqarg = base[var, mode]
            node = fused_name(bgraph, "quantized_sg_mkldnn_fully_connected_eltwise")
            rng_ = act_range(qnaive) if mode == "naive" else None
            record(key, swap(bgraph, node, kind, rng_), bqarg, xv, node)


def conv_net(kind):
    c = mx.sym.Convolution(mx.sym.var("data"), num_filter=4, kernel=(3, 3), pad=(1, 1),
                           name="conv0")
    return eltwise(mx, c, kind)


def conv_cases():
    rng = np.random.RandomState(1)
    shape = (2, 3, 5, 5)
    sym = conv_net("relu")
    shapes, _, _ = sym.infer_shape(data=shape)
    params = {n: rng.uniform(-0.3, 0.3, s).astype("f4")
              for n, s in zip(sym.list_arguments(), shapes) if n != "data"}
    x = rng.uniform(-1, 1, shape).astype("f4")
    calib = rng.uniform(-1, 1, (4,) + shape[1:]).astype("f4")
    res.update({"conv/x": x, "conv/calib": calib})
    res.update({"conv/params/" + k: v for k, v in params.items()})
    arg = {k: mx.nd.array(v) for k, v in params.items()}
    for kind in CONV_KINDS:
        sym = conv_net(kind)
        res["conv/fp32/%s/final" % kind] = run(sym, dict(arg, data=mx.nd.array(x)),
                                               ["act_output"])[0]
        for mode in ("naive", "none"):
            qsym, qarg = quantize(sym, arg, calib, 2, calib_mode=mode)
            graph = json.loads(qsym.tojson())
            record("conv/%s/%s" % (mode, kind), graph, qarg, x,
                   fused_name(graph, "quantized_sg_mkldnn_conv"))


def conv_sum_gelu_case():
    """conv + sum + gelu: MXNet's INT8 selector fuses it, then its conv refuses to run it
    (only relu after the sum); the error is recorded."""
    rng = np.random.RandomState(3)
    data = mx.sym.var("data")
    c = mx.sym.Convolution(data, num_filter=3, kernel=(3, 3), pad=(1, 1), name="conv0")
    sym = mx.sym.LeakyReLU(mx.sym.elemwise_add(c, data, name="add"), act_type="gelu",
                           name="act")
    shapes, _, _ = sym.infer_shape(data=(2, 3, 5, 5))
    arg = {n: mx.nd.array(rng.uniform(-0.3, 0.3, s).astype("f4"))
           for n, s in zip(sym.list_arguments(), shapes) if n != "data"}
    calib = rng.uniform(-1, 1, (4, 3, 5, 5)).astype("f4")
    qsym, qarg = quantize(sym, arg, calib, 2, calib_mode="naive")
    graphs["conv_sum/naive/gelu"] = {"graph": qsym.tojson()}
    try:
        run(qsym, dict(qarg, data=mx.nd.array(calib[:2])), [qsym.list_outputs()[0]])
    except mx.MXNetError as e:
        res["conv_sum/naive/gelu/error"] = np.array(str(e).splitlines()[-1])
        print("conv_sum", res["conv_sum/naive/gelu/error"])


def bert():
    data = mx.sym.var("data")
    f1 = mx.sym.FullyConnected(data, num_hidden=64, flatten=False, name="ffn1")
    f1 = mx.sym.LeakyReLU(f1, act_type="gelu", name="gelu")
    f2 = mx.sym.FullyConnected(f1, num_hidden=16, flatten=False, name="ffn2")
    return mx.sym.LayerNorm(mx.sym.elemwise_add(f2, data, name="add"), axis=-1, name="ln")


def bert_cases():
    rng = np.random.RandomState(2)
    shape = (6, 2, 16)
    sym = bert()
    shapes, _, _ = sym.infer_shape(data=shape)
    params = {n: rng.uniform(-0.3, 0.3, s).astype("f4")
              for n, s in zip(sym.list_arguments(), shapes) if n != "data"}
    params["ln_gamma"] = (1 + 0.1 * rng.uniform(-1, 1, 16)).astype("f4")
    x = rng.uniform(-2, 2, shape).astype("f4")
    calib = rng.uniform(-2, 2, (12,) + shape[1:]).astype("f4")
    res.update({"bert/x": x, "bert/calib": calib})
    res.update({"bert/params/" + k: v for k, v in params.items()})
    arg = {k: mx.nd.array(v) for k, v in params.items()}
    res["bert/fp32/gelu/final"] = run(sym, dict(arg, data=mx.nd.array(x)), ["ln_output"])[0]
    for mode, gran in (("naive", "tensor-wise"), ("channel", "channel-wise")):
        qsym, qarg = quantize(sym, arg, calib, 6, calib_mode="naive",
                              quantize_granularity=gran)
        graph = json.loads(qsym.tojson())
        for k, v in qarg.items():
            res["bert/qparams/%s/%s" % (mode, k)] = v.asnumpy()
        record("bert/%s/gelu" % mode, graph, qarg, x,
               fused_name(graph, "quantized_sg_mkldnn_fully_connected_eltwise"))


def main():
    os.makedirs(OUT, exist_ok=True)
    mlp_cases()
    conv_cases()
    conv_sum_gelu_case()
    bert_cases()
    # one text for all graphs: they compress against each other
    res["graphs"] = np.array(json.dumps(graphs, sort_keys=True))
    np.savez_compressed(os.path.join(OUT, "expected.npz"), **res)


if __name__ == "__main__":
    main()
