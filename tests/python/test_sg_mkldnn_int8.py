"""MXNet 1.9.1's oneDNN INT8 nodes beyond test_sg_mkldnn.py: `_sg_mkldnn_fully_connected` with
`channel_wise_quantize=True`, and the self-attention products `_sg_mkldnn_selfatt_qk` /
`_sg_mkldnn_selfatt_valatt` (float and quantized).

Reference data in data/sg_mkldnn/ was written by MXNet 1.9.1 (mxref, oneDNN, AVX2 host):
- sg_mkldnn_fc_cw_mxnet_ref.py: an MLP quantized by `quantize_model_mkldnn(...,
  quantize_granularity='channel-wise')` (`q_cw`, naive calibration; `q_cw_none`, none), its
  float weights, and every node output (`expected_cw.npz`);
- sg_mkldnn_selfatt_mxnet_ref.py: a self-attention block, its float fusion (`att_fused`), its
  INT8 fusion (`q_att`; `q_att_none` uncalibrated), every node output, and single selfatt
  nodes (`att_nodes.json`) run by MXNet in each output mode on fixed inputs
  (`expected_att.npz`, keys `node/...`).

Oracles: numpy models of MXNet's arithmetic (below), which reproduce every printed mxref value
of these nodes exactly (the integer products here are exact on mxref's host too), and oxnet
must equal both.
"""
import json
import os

import numpy as np
import pytest

import oxnet as mx
from oxnet.base import MXNetError

D = os.path.join(os.path.dirname(__file__), "data", "sg_mkldnn")
I32MAX = np.float32(2147483648.0)
f32 = np.float32
HEADS = 2


def _npz(name):
    return np.load(os.path.join(D, "expected_%s.npz" % name))


def _params(name):
    return {k[4:]: v for k, v in mx.nd.load(os.path.join(D, name + "-0000.params")).items()}


def _text(name):
    return open(os.path.join(D, name + "-symbol.json")).read()


def _qscale(dt, lo, hi):
    """MXNet's GetQuantizeScale: 127.5 (int8) or 255.5 levels over the range's magnitude."""
    return f32(f32(127.5 if dt == np.int8 else 255.5) / max(abs(f32(lo)), abs(f32(hi))))


def _rsat(v, dt):
    info = np.iinfo(dt)
    return np.clip(np.rint(v.astype(np.float32)), info.min, info.max).astype(dt)


def _bind(sym, feed):
    args = {k: feed[k] for k in sym.list_arguments()}
    ex = sym.bind(mx.cpu(), args=args, grad_req="null")
    return [o.asnumpy() for o in ex.forward(is_train=False)]


def _nd(v):
    return mx.nd.array(v, dtype=v.dtype)


OUTPUT_SUFFIXES = {
    "_contrib_quantize_v2": ["output0", "output1", "output2"],
    "_sg_mkldnn_fully_connected": ["output", "min_output", "max_output"],
    "_sg_mkldnn_selfatt_qk": ["output", "min_output", "max_output"],
    "_sg_mkldnn_selfatt_valatt": ["output", "min_output", "max_output"],
    "softmax": ["output"],
}


def _isolate(graph, name):
    """Node `name` alone, each input from another op a variable named as MXNet names that
    output (the key of its value in the npz); returns the symbol and its input names."""
    nodes = graph["nodes"]
    node = dict(nodes[[n["name"] for n in nodes].index(name)])
    new, inputs, seen = [], [], {}
    for src, idx, _ in node["inputs"]:
        s = nodes[src]
        var = s["name"] if s["op"] == "null" else \
            "%s_%s" % (s["name"], OUTPUT_SUFFIXES[s["op"]][idx])
        if var not in seen:
            seen[var] = len(new)
            new.append({"op": "null", "name": var, "inputs": []})
        inputs.append([seen[var], 0, 0])
    node["inputs"] = inputs
    new.append(node)
    attrs = node.get("attrs", {})
    nout = 1 if "enable_float_output" in attrs and attrs["enable_float_output"] == "True" \
        else 3
    g = {"nodes": new, "arg_nodes": list(range(len(new) - 1)),
         "heads": [[len(new) - 1, k, 0] for k in range(nout)], "attrs": graph["attrs"]}
    return mx.sym.load_json(json.dumps(g)), [new[k]["name"] for k, _, _ in inputs], attrs


# ---- channel-wise quantized FullyConnected ----

def sg_fc_channel_wise(x, drange, w, b, calib, relu, float_out):
    """MXNet 1.9.1's channel-wise quantized FC: per output channel, weight scale 127.5 over the
    row's magnitude, capped so that the int32 bias stays within INT_MAX / 2; weights and bias
    (at data_scale * weight_scale) rounded half to even; the int32 sum scaled per channel to
    the calibrated range's levels (or to float), relu, rounding with saturation."""
    x2 = x.reshape(x.shape[0], -1).astype(np.int64)
    ds = _qscale(x.dtype, *drange)
    ws = np.array([_qscale(np.int8, r.min(), r.max()) for r in w], np.float32)
    if b is not None:
        for c in range(len(ws)):
            if b[c]:
                cap = f32((I32MAX if b[c] > 0 else -I32MAX) / f32(2) / b[c] / ds)
                ws[c] = min(ws[c], cap)
    wq = _rsat(w * ws[:, None], np.int8).astype(np.int64)
    acc = (x2 @ wq.T).astype(np.float32)
    if b is not None:
        acc = acc + _rsat(b * (ws * ds), np.int32)[None, :].astype(np.float32)
    if float_out:
        return acc * (f32(f32(1) / ds) / ws)[None, :]
    odt = np.uint8 if relu else np.int8
    acc = acc * (_qscale(odt, *calib) / ds / ws)[None, :]
    if relu:
        acc = np.maximum(acc, 0)
    return _rsat(acc, odt)


CW_NODES = ["quantized_sg_mkldnn_fully_connected_eltwise_0",  # int8 in, relu, uint8 out
            "quantized_sg_mkldnn_fully_connected_1",  # uint8 in, int8 out, a capped scale
            "quantized_sg_mkldnn_fully_connected_2"]  # int8 in, no bias, float out


def test_channel_wise_names_and_json_are_mxnets():
    e = _npz("cw")
    sym = mx.sym.load_json(_text("q_cw"))
    assert sym.list_arguments() == list(e["names/cw_args"])
    assert sym.get_internals().list_outputs() == list(e["names/cw_outputs"])
    for name in ("q_cw", "q_cw_none"):
        assert mx.sym.load_json(_text(name)).tojson() == _text(name)


@pytest.mark.parametrize("name", CW_NODES)
def test_channel_wise_fc_node(name):
    e = _npz("cw")
    p = _params("q_cw")
    sym, inputs, attrs = _isolate(json.loads(_text("q_cw")), name)
    # channel-wise nodes take data, weight, [bias], min_data, max_data: no weight ranges
    assert sym.list_arguments()[-2:] == inputs[-2:] and len(inputs) in (4, 5)
    feed = {k: p[k] if k in p else _nd(e["cw/" + k]) for k in inputs}
    outs = _bind(sym, feed)
    x = feed[inputs[0]].asnumpy()
    w = p[inputs[1]].asnumpy()
    b = p[inputs[2]].asnumpy() if len(inputs) == 5 else None
    drange = (feed[inputs[-2]].asnumpy()[0], feed[inputs[-1]].asnumpy()[0])
    calib = (f32(attrs["min_calib_range"]), f32(attrs["max_calib_range"])) \
        if "min_calib_range" in attrs else None
    want = sg_fc_channel_wise(x, drange, w, b, calib, attrs.get("with_eltwise") == "True",
                              attrs.get("enable_float_output") == "True")
    mxnet_out = e["cw/%s_output" % name]
    assert outs[0].dtype == want.dtype == mxnet_out.dtype
    np.testing.assert_array_equal(want, mxnet_out)  # the model is MXNet's arithmetic
    np.testing.assert_array_equal(outs[0], want)
    if calib is not None:
        np.testing.assert_array_equal([outs[1][0], outs[2][0]], calib)


def test_channel_wise_scale_cap_is_exercised():
    """fc1's channel 2 (tiny weights, bias 3) has its weight scale capped by the bias."""
    p = _params("q_cw")
    e = _npz("cw")
    w, b = p["fc1_weight"].asnumpy(), p["fc1_bias"].asnumpy()
    n = "cw/quantized_sg_mkldnn_fully_connected_eltwise_0_"
    ds = _qscale(np.uint8, e[n + "min_output"][0], e[n + "max_output"][0])
    plain = _qscale(np.int8, w[2].min(), w[2].max())
    assert f32(I32MAX / f32(2) / b[2] / ds) < plain


def test_channel_wise_graph_end_to_end_matches_mxnet():
    e = _npz("cw")
    p = _params("q_cw")
    sym = mx.sym.load_json(_text("q_cw"))
    feed = dict(p, data=mx.nd.array(e["x"]), softmax_label=mx.nd.zeros((3,)))
    internals = sym.get_internals()
    for name in ("quantized_sg_mkldnn_fully_connected_1_output", "softmax_output"):
        got = _bind(internals[name], feed)[0]
        np.testing.assert_allclose(got, e["cw/" + name], rtol=1e-6, atol=1e-7, err_msg=name)
    # and the INT8 net tracks the FP32 one (mxref's own softmax is 0.02 away)
    np.testing.assert_allclose(_bind(sym, feed)[0], e["plain/softmax_output"], atol=0.03)


def test_channel_wise_without_calibration_is_mxnets_error():
    """MXNet 1.9.1 loads the uncalibrated graph and fails at run time: channel-wise scales
    need a fused requantize (calibration) or dequantize (float output)."""
    e = _npz("cw")
    sym = mx.sym.load_json(_text("q_cw_none"))
    p = _params("q_cw")
    feed = dict(p, data=mx.nd.array(e["x"]), softmax_label=mx.nd.zeros((3,)))
    _, out_types, _ = sym.get_internals()[
        "quantized_sg_mkldnn_fully_connected_1_output"].infer_type(data="float32")
    assert out_types == [np.int32]
    with pytest.raises(MXNetError) as err:
        _bind(sym, feed)
    msg = str(err.value)
    assert "_sg_mkldnn_fully_connected" in msg and "channel_wise_quantize" in msg, msg


def test_channel_wise_int8_weight_is_a_dtype_error():
    e = _npz("cw")
    p = _params("q_cw")
    name = "quantized_sg_mkldnn_fully_connected_1"
    sym, inputs, _ = _isolate(json.loads(_text("q_cw")), name)
    feed = {k: p[k] if k in p else _nd(e["cw/" + k]) for k in inputs}
    feed["fc1_weight"] = feed["fc1_weight"].astype("int8")
    with pytest.raises(MXNetError) as err:
        _bind(sym, feed)
    msg = str(err.value)
    assert "_sg_mkldnn_fully_connected" in msg and "fc1_weight" in msg and "float32" in msg
