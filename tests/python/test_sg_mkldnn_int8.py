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


# ---- self-attention ----

def _heads(qkv, slot):
    """(batch*heads, seq, head_dim) matrices of slot 0/1/2 (q/k/v) of interleaved projections."""
    seq, batch, width = qkv.shape
    d = width // HEADS // 3
    t = qkv.reshape(seq, batch, HEADS, 3, d)[:, :, :, slot, :]
    return t.transpose(1, 2, 0, 3).reshape(batch * HEADS, seq, d)


def _out_scale(mode, inputs):
    if mode == "float":
        return f32(f32(1) / inputs)
    if mode == "calib":
        return f32(_qscale(np.int8, -3.5, 2.25) / inputs)
    return f32(1)


def _finish(v, mode):
    return v if mode == "float" else _rsat(v, np.int8 if mode == "calib" else np.int32)


def selfatt_qk(qkv, qrange, mode):
    """Quantized qk: exact int32 q.k, times the output scale divided (in double) by
    sqrt(head_dim), rounded half to even and saturated."""
    d = qkv.shape[2] // HEADS // 3
    acc = np.einsum("bld,bmd->blm", _heads(qkv, 0).astype(np.int64),
                    _heads(qkv, 1).astype(np.int64)).astype(np.float32)
    ds = _qscale(np.int8, *qrange)
    s = f32(np.float64(_out_scale(mode, f32(ds * ds))) / np.sqrt(np.float64(d)))
    return _finish(acc * s, mode)


def selfatt_valatt(qkv, att, qrange, arange, mode):
    """Quantized valatt: exact int32 att.v, times the output scale, in (seq, batch, width)."""
    seq, batch, width = qkv.shape
    d = width // HEADS // 3
    acc = np.einsum("blm,bmd->bld", att.astype(np.int64),
                    _heads(qkv, 2).astype(np.int64)).astype(np.float32)
    s = _out_scale(mode, f32(_qscale(np.int8, *qrange) * _qscale(np.uint8, *arange)))
    acc = (acc * s).reshape(batch, HEADS, seq, d).transpose(2, 0, 1, 3)
    return _finish(acc.reshape(seq, batch, HEADS * d), mode)


def _node_graphs():
    return json.load(open(os.path.join(D, "att_nodes.json")))


MODES = ["float", "calib", "int32"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", ["qk", "valatt"])
def test_quantized_selfatt_node_matches_mxnet(op, mode):
    e = _npz("att")
    graph = _node_graphs()["%s_%s" % (op, mode)]
    sym = mx.sym.load_json(json.dumps(graph))
    feed = {k: _nd(e["node/" + k]) for k in sym.list_arguments()}
    outs = _bind(sym, feed)
    qkv, att = e["node/qkv"], e["node/att"]
    qrange = (e["node/min_qkv"][0], e["node/max_qkv"][0])
    if op == "qk":
        want = selfatt_qk(qkv, qrange, mode)
    else:
        want = selfatt_valatt(qkv, att, qrange, (e["node/min_att"][0], e["node/max_att"][0]),
                              mode)
    mxnet = [e["node/%s_%s_%d" % (op, mode, i)] for i in range(len(outs))]
    assert outs[0].dtype == want.dtype == mxnet[0].dtype
    np.testing.assert_array_equal(want, mxnet[0])
    np.testing.assert_array_equal(outs[0], want)
    if mode != "float":
        # qk's int32 range is MXNet's product of two zero ranges, (-0, 0)
        np.testing.assert_array_equal(outs[1], mxnet[1])
        np.testing.assert_array_equal(outs[2], mxnet[2])
        assert np.signbit(outs[1][0]) == np.signbit(mxnet[1][0])
    # the same op from the registry, without the subgraph
    attrs = {k: v for k, v in graph["nodes"][-1]["attrs"].items()}
    fn = getattr(mx.nd._internal, "_sg_mkldnn_selfatt_" + op)
    got = fn(*[feed[k] for k in sym.list_arguments()], **attrs)
    got = got if isinstance(got, list) else [got]
    np.testing.assert_array_equal(got[0].asnumpy(), outs[0])


@pytest.mark.parametrize("op", ["qk", "valatt"])
def test_float_selfatt_node_matches_mxnet_and_contrib_op(op):
    e = _npz("att")
    sym = mx.sym.load_json(json.dumps(_node_graphs()["%s_fp32" % op]))
    feed = {k: _nd(e["node/" + k]) for k in sym.list_arguments()}
    got = _bind(sym, feed)[0]
    np.testing.assert_allclose(got, e["node/%s_fp32_0" % op], rtol=1e-5, atol=1e-6)
    contrib = getattr(mx.nd.contrib, "interleaved_matmul_selfatt_" + op)
    want = contrib(*[feed[k] for k in sym.list_arguments()], heads=HEADS).asnumpy()
    np.testing.assert_array_equal(got, want)


def test_selfatt_graphs_load_and_round_trip():
    e = _npz("att")
    for name in ("att_fused", "q_att", "q_att_none"):
        text = _text(name)
        assert mx.sym.load_json(text).tojson() == text, name
    assert mx.sym.load_json(_text("att_fused")).get_internals().list_outputs() == \
        list(e["names/fused_outputs"])
    q = mx.sym.load_json(_text("q_att"))
    assert q.list_arguments() == list(e["names/naive_args"])
    assert q.get_internals().list_outputs() == list(e["names/naive_outputs"])
    assert mx.sym.load_json(_text("q_att_none")).get_internals().list_outputs() == \
        list(e["names/none_outputs"])


def test_float_fused_attention_matches_mxnet():
    e = _npz("att")
    p = _params("att")
    sym = mx.sym.load_json(_text("att_fused"))
    feed = dict(p, data=mx.nd.array(e["x"]))
    internals = sym.get_internals()
    for name in ("sg_mkldnn_selfatt_qk_0_output", "sg_mkldnn_selfatt_valatt_1_output",
                 "sg_mkldnn_fully_connected_1_output"):
        got = _bind(internals[name], feed)[0]
        np.testing.assert_allclose(got, e["fused/" + name], rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    np.testing.assert_allclose(_bind(sym, feed)[0], e["plain/proj_output"], rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("name", ["quantized_sg_mkldnn_selfatt_qk_0",
                                  "quantized_sg_mkldnn_selfatt_valatt_1"])
def test_int8_attention_nodes_match_mxnet(name):
    """The nodes of MXNet's INT8 attention graph, each on MXNet's own inputs."""
    e = _npz("att")
    sym, inputs, _ = _isolate(json.loads(_text("q_att")), name)
    feed = {k: _nd(e["naive/" + k]) for k in inputs}
    outs = _bind(sym, feed)
    for i, o in enumerate(outs):
        key = "naive/%s_%s" % (name, ["output", "min_output", "max_output"][i])
        np.testing.assert_array_equal(o, e[key], err_msg=key)


def test_int8_attention_graph_end_to_end():
    e = _npz("att")
    p = _params("q_att")
    sym = mx.sym.load_json(_text("q_att"))
    got = _bind(sym, dict(p, data=mx.nd.array(e["x"])))[0]
    # equal to mxref's INT8 output up to float rounding of its softmax and dequantization
    np.testing.assert_allclose(got, e["naive/quantized_sg_mkldnn_fully_connected_1_output"],
                               rtol=1e-5, atol=1e-5)
    # and near the FP32 block (mxref's INT8 output is 0.076 away from it too)
    np.testing.assert_allclose(got, e["plain/proj_output"], atol=0.1)


def test_uncalibrated_int8_attention_is_mxnets_type_error():
    """Uncalibrated, quantize_v2 ('auto') gives int8 attention and valatt takes uint8: MXNet
    refuses to bind the graph, and so does oxnet."""
    e = _npz("att")
    sym = mx.sym.load_json(_text("q_att_none"))
    with pytest.raises(MXNetError) as err:
        _bind(sym, dict(_params("q_att_none"), data=mx.nd.array(e["x"])))
    msg = str(err.value)
    assert "_sg_mkldnn_selfatt_valatt" in msg and "uint8" in msg, msg


def test_selfatt_registry_signature_and_errors():
    qkv = mx.nd.array(np.zeros((3, 2, 18), np.int8), dtype="int8")
    lo, hi = mx.nd.array([-1.0]), mx.nd.array([1.0])
    out = mx.nd._internal._sg_mkldnn_selfatt_qk(qkv, lo, hi, heads=2, quantized=True)
    assert [o.shape for o in out] == [(4, 3, 3), (1,), (1,)]
    assert [o.dtype for o in out] == [np.int32, np.float32, np.float32]
    with pytest.raises(MXNetError) as err:  # float data into the quantized op
        mx.nd._internal._sg_mkldnn_selfatt_qk(qkv.astype("float32"), lo, hi, heads=2,
                                              quantized=True)
    assert "_sg_mkldnn_selfatt_qk" in str(err.value) and "int8" in str(err.value)
    with pytest.raises(MXNetError) as err:  # heads must divide the projection width
        mx.nd._internal._sg_mkldnn_selfatt_qk(qkv, lo, hi, heads=4, quantized=True)
    assert "_sg_mkldnn_selfatt_qk" in str(err.value) and "heads" in str(err.value)
    att = mx.nd.array(np.zeros((4, 3, 3), np.int8), dtype="int8")
    with pytest.raises(MXNetError) as err:  # int8 attention (MXNet: uint8 only)
        mx.nd._internal._sg_mkldnn_selfatt_valatt(qkv, att, lo, hi, lo, hi, heads=2,
                                                  quantized=True)
    assert "attention" in str(err.value) and "uint8" in str(err.value)
    s = mx.sym._internal._sg_mkldnn_selfatt_valatt(mx.sym.var("qkv"), mx.sym.var("att"),
                                                   heads=2)
    assert s.list_arguments() == ["qkv", "att"]


def test_channel_wise_attention_graph_matches_mxnet_node_for_node():
    """quantize_granularity='channel-wise' on the attention block: channel-wise FC nodes on
    3-D data (flatten=False), int8 in, int8 or float out, around the quantized selfatt nodes.
    Every output of every node equals mxref's (the float softmax to rounding)."""
    e = _npz("att")
    text = _text("q_att_cw")
    assert mx.sym.load_json(text).tojson() == text
    sym = mx.sym.load_json(text)
    feed = dict(_params("q_att_cw"), data=mx.nd.array(e["x"]))
    internals = sym.get_internals()
    names = [n for n in internals.list_outputs() if n not in sym.list_arguments()]
    assert len(names) == 15
    for name in names:
        got = _bind(internals[name], feed)[0]
        want = e["cw/" + name]
        assert got.dtype == want.dtype, name
        if name == "sm_output":
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
        else:
            np.testing.assert_array_equal(got, want, err_msg=name)
