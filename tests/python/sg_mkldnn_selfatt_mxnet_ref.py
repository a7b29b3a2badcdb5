"""Writes the MXNet 1.9.1 oneDNN self-attention data test_sg_mkldnn_int8.py checks.

Run with the reference install, never imported by the tests:
    cd tests/python && MXNET_ENGINE_TYPE=NaiveEngine /work/mxref/bin/python sg_mkldnn_selfatt_mxnet_ref.py
A one-layer self-attention block (qkv FullyConnected -> _contrib_interleaved_matmul_selfatt_qk
-> softmax -> ..._selfatt_valatt -> proj FullyConnected), its float fusion
(`get_backend_symbol('MKLDNN')`: `_sg_mkldnn_selfatt_qk` / `_valatt` nodes) and its INT8
fusions (`quantize_model_mkldnn`: naive calibration, none, and naive with
quantize_granularity='channel-wise', whose FullyConnected nodes read 3-D data with
flatten=False; MXNet cannot bind the uncalibrated one: its attention is quantized to int8,
valatt takes uint8). It writes data/sg_mkldnn/:
`att-symbol.json` + params, `att_fused-symbol.json`, `q_att-symbol.json`,
`q_att_none-symbol.json`, `q_att_cw-symbol.json` + params, and `expected_att.npz`: the input, every node output of
each graph, the names MXNet lists, and single nodes (`node/<op>_<mode>`) run by MXNet on fixed
int8/uint8 inputs in each output mode (float32, calibrated int8, int32).
"""
import json
import os

import mxnet as mx
import numpy as np
from mxnet.contrib.quantization import quantize_model_mkldnn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "sg_mkldnn")
L, B, H, D = 4, 2, 2, 3  # sequence, batch, heads, head_dim (3: 1/sqrt(3) is inexact)
E = H * D


def net():
    data = mx.sym.var("data")
    qkv = mx.sym.FullyConnected(data, num_hidden=3 * E, flatten=False, name="qkv")
    att = mx.sym.contrib.interleaved_matmul_selfatt_qk(qkv, heads=H, name="qk")
    att = mx.sym.softmax(att, axis=-1, name="sm")
    out = mx.sym.contrib.interleaved_matmul_selfatt_valatt(qkv, att, heads=H, name="valatt")
    return mx.sym.FullyConnected(out, num_hidden=E, flatten=False, name="proj")


def run_all(sym, arg, x):
    internals = sym.get_internals()
    leaves = set(sym.list_arguments())
    feed = dict(arg, data=mx.nd.array(x))
    res = {}
    for i, n in enumerate(internals.list_outputs()):
        if n in leaves:
            continue
        s = internals[i]
        ex = s.bind(mx.cpu(), args={k: feed[k] for k in s.list_arguments()}, grad_req="null")
        res[n] = ex.forward(is_train=False)[0].asnumpy()
    return res


def node_json(op, attrs, inputs):
    """A graph of one fused node reading variables `inputs`, with the subgraph MXNet writes."""
    nsub = 1 if op.endswith("qk") else 2
    inner = "_contrib_interleaved_matmul_selfatt_" + ("qk" if nsub == 1 else "valatt")
    sub = {"nodes": [{"op": "null", "name": n, "inputs": []} for n in inputs[:nsub]]
           + [{"op": inner, "name": "inner", "attrs": {"heads": str(H)},
               "inputs": [[i, 0, 0] for i in range(nsub)]}],
           "arg_nodes": list(range(nsub)), "node_row_ptr": list(range(nsub + 2)),
           "heads": [[nsub, 0, 0]]}
    nodes = [{"op": "null", "name": n, "inputs": []} for n in inputs]
    nodes.append({"op": op, "name": "node", "attrs": attrs,
                  "inputs": [[i, 0, 0] for i in range(len(inputs))], "subgraphs": [sub]})
    nout = 3 if attrs.get("quantized") == "True" and "enable_float_output" not in attrs else 1
    return json.dumps({"nodes": nodes, "arg_nodes": list(range(len(inputs))),
                       "heads": [[len(inputs), i, 0] for i in range(nout)],
                       "attrs": {"mxnet_version": ["int", 10901]}})


MODES = {"float": {"enable_float_output": "True"},
         "calib": {"min_calib_range": "-3.5", "max_calib_range": "2.25"},
         "int32": {}}


def nodes():
    rng = np.random.RandomState(5)
    feed = {"qkv": rng.randint(-128, 128, (L + 1, B, 3 * E)).astype(np.int8),
            "att": rng.randint(0, 256, (B * H, L + 1, L + 1)).astype(np.uint8),
            "min_qkv": np.array([-2.0], np.float32), "max_qkv": np.array([1.5], np.float32),
            "min_att": np.array([0.0], np.float32), "max_att": np.array([0.8], np.float32),
            "fqkv": rng.uniform(-1, 1, (L + 1, B, 3 * E)).astype(np.float32),
            "fatt": rng.uniform(0, 1, (B * H, L + 1, L + 1)).astype(np.float32)}
    res = {"node/" + k: v for k, v in feed.items()}
    graphs = {}
    for op, ins in (("_sg_mkldnn_selfatt_qk", ["qkv", "min_qkv", "max_qkv"]),
                    ("_sg_mkldnn_selfatt_valatt",
                     ["qkv", "att", "min_qkv", "max_qkv", "min_att", "max_att"])):
        short = op.split("_")[-1]
        for mode, extra in MODES.items():
            attrs = dict(heads=str(H), quantized="True", **extra)
            js = node_json(op, attrs, ins)
            graphs["%s_%s" % (short, mode)] = json.loads(js)
            ex = mx.sym.load_json(js).bind(
                mx.cpu(), args={k: mx.nd.array(feed[k], dtype=feed[k].dtype) for k in ins},
                grad_req="null")
            for i, o in enumerate(ex.forward(is_train=False)):
                res["node/%s_%s_%d" % (short, mode, i)] = o.asnumpy()
        fins = ["fqkv"] + (["fatt"] if short == "valatt" else [])
        js = node_json(op, {"heads": str(H)}, fins)
        graphs["%s_fp32" % short] = json.loads(js)
        ex = mx.sym.load_json(js).bind(mx.cpu(), args={k: mx.nd.array(feed[k]) for k in fins},
                                       grad_req="null")
        res["node/%s_fp32_0" % short] = ex.forward(is_train=False)[0].asnumpy()
    with open(os.path.join(OUT, "att_nodes.json"), "w") as f:
        json.dump(graphs, f, sort_keys=True)
    return res


def main():
    sym = net()
    rng = np.random.RandomState(0)
    shapes, _, _ = sym.infer_shape(data=(L, B, E))
    arg = {n: mx.nd.array(rng.uniform(-0.5, 0.5, s).astype("float32"))
           for n, s in zip(sym.list_arguments(), shapes) if n != "data"}
    calib = rng.uniform(-1, 1, (2 * L, B, E)).astype("float32")
    x = rng.uniform(-1, 1, (L, B, E)).astype("float32")
    open(os.path.join(OUT, "att-symbol.json"), "w").write(sym.tojson())
    mx.nd.save(os.path.join(OUT, "att-0000.params"), {"arg:" + k: v for k, v in arg.items()})
    res = {"x": x}
    res.update({"plain/" + k: v for k, v in run_all(sym, arg, x).items()})
    fused = sym.get_backend_symbol("MKLDNN")
    open(os.path.join(OUT, "att_fused-symbol.json"), "w").write(fused.tojson())
    res.update({"fused/" + k: v for k, v in run_all(fused, arg, x).items()})
    res["names/fused_outputs"] = np.array(fused.get_internals().list_outputs())
    for mode, name, granularity in (("naive", "q_att", "tensor-wise"),
                                    ("none", "q_att_none", "tensor-wise"),
                                    ("cw", "q_att_cw", "channel-wise")):
        it = mx.io.NDArrayIter(calib, batch_size=L)
        qsym, qarg, _ = quantize_model_mkldnn(
            sym, arg, {}, ctx=mx.cpu(), calib_mode="none" if mode == "none" else "naive",
            calib_data=it, num_calib_examples=2 * L, quantized_dtype="auto",
            quantize_granularity=granularity, label_names=None)
        open(os.path.join(OUT, name + "-symbol.json"), "w").write(qsym.tojson())
        mx.nd.save(os.path.join(OUT, name + "-0000.params"),
                   {"arg:" + k: v for k, v in qarg.items()})
        if mode == "none":
            # uncalibrated, quantize_v2 ('auto') gives int8 attention: MXNet refuses to bind
            try:
                run_all(qsym, qarg, x)
                raise AssertionError("MXNet ran the uncalibrated attention graph")
            except mx.MXNetError as e:
                assert "Type inconsistent" in str(e), e
        else:
            res.update({"%s/%s" % (mode, k): v for k, v in run_all(qsym, qarg, x).items()})
        res["names/%s_outputs" % mode] = np.array(qsym.get_internals().list_outputs())
        res["names/%s_args" % mode] = np.array(qsym.list_arguments())
    res.update(nodes())
    np.savez(os.path.join(OUT, "expected_att.npz"), **res)


if __name__ == "__main__":
    main()
