"""Every eltwise op MXNet 1.9.1 fuses into `_sg_mkldnn_fully_connected` (Activation relu /
sigmoid / tanh / softrelu, LeakyReLU leaky / elu / gelu, square, sqrt, exp, abs, clip from 0),
float and INT8, and the activations of the INT8 `_sg_mkldnn_conv`.

Oracles: data/sg_mkldnn_fc_eltwise/expected.npz, written by MXNet 1.9.1 (mxref) with
sg_mkldnn_fc_eltwise_mxnet_ref.py: for data (8, 32) -> fc0 (64) -> eltwise -> fc1 (10), the
float fusion, `quantize_model_mkldnn`'s graphs and params (naive calibration: int8/uint8
output; calib_mode none: int32 output; fc1 excluded: fc0 dequantizes as
`enable_float_output`) and MXNet's outputs; for the ops MXNet's partitioner leaves out of an
INT8 FC (sigmoid, tanh, softrelu, square, sqrt, exp), the graph it writes and an INT8 node made
by hand that MXNet runs. The same for a conv with relu / leaky / gelu / clip, and a BERT-like
FFN with gelu (tensor-wise and channel-wise). Besides MXNet's values: the unfused graph and
numpy for the float fusion, a numpy model of MXNet's INT8 arithmetic for the FC, and FP32
numpy for the dequantized INT8 outputs.

What MXNet's INT8 FC computes with an eltwise (mkldnn_fc.cc): the int32 sums plus bias are
dequantized, the eltwise applies to real values and the calibrated levels are its post-op
scale; without calibration the eltwise sees the raw int32 sums. The output is uint8 for every
eltwise but tanh, elu and gelu (`IsOutputUint8` tests the oneDNN algorithm only).
Two MXNet results are not FP32's, and oxnet reproduces both (tested against FP32 models of
what MXNet does, with the reason):
- FC + LeakyReLU leaky: its algorithm is oneDNN's relu (with a slope), so the output is uint8
  and the negative side is lost; the INT8 node computes relu.
- conv + gelu: the conv applies its activation to the output's levels, not to real values, so
  the gelu is evaluated at x * scale.
"""
import json
import math
import os

import numpy as np
import pytest

import oxnet as mx
from oxnet.base import MXNetError
from oxnet.contrib.quantization import quantize_model_mkldnn

from fc_eltwise_cases import eltwise
from quantization_cases import assert_same_graph

D = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "sg_mkldnn_fc_eltwise")
REF = np.load(os.path.join(D, "expected.npz"))
GRAPHS = json.loads(str(REF["graphs"]))
KINDS = ["relu", "sigmoid", "tanh", "softrelu", "leaky", "elu", "gelu", "square", "sqrt", "exp",
         "abs", "clip"]
# what MXNet's partitioner fuses into an INT8 FC; the rest stays an op after it
FUSED_INT8 = ["relu", "leaky", "elu", "gelu", "abs", "clip"]
CONV_KINDS = ["relu", "leaky", "gelu", "clip"]
MODES = ["naive", "none", "float"]
INT8_OUT = {"tanh", "elu", "gelu"}  # the FC's int8 outputs; uint8 for the others
f32 = np.float32
S32_MAX = f32(2147483520.0)  # oneDNN's int32 saturation: the largest float below 2^31
_erf = np.vectorize(math.erf)


def np_eltwise(v, kind):
    """The ops' definitions in float64 (gelu with erf, as MXNet's LeakyReLU and oneDNN's
    gelu_erf)."""
    v = np.asarray(v, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        return {
            "relu": lambda: np.maximum(v, 0),
            "sigmoid": lambda: 1 / (1 + np.exp(-v)),
            "tanh": lambda: np.tanh(v),
            # oneDNN passes large inputs through, where exp overflows in float32
            "softrelu": lambda: np.where(v < np.log(np.finfo(f32).max), np.log1p(np.exp(v)), v),
            "leaky": lambda: np.where(v > 0, v, 0.1 * v),
            "elu": lambda: np.where(v > 0, v, 0.3 * np.expm1(v)),
            "gelu": lambda: 0.5 * v * (1 + _erf(v / np.sqrt(2))),
            "square": lambda: v * v,
            "sqrt": lambda: np.sqrt(v),
            "exp": lambda: np.exp(v),
            "abs": lambda: np.abs(v),
            "clip": lambda: np.clip(v, 0, 0.75),
        }[kind]()


def mlp(kind):
    f0 = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=64, name="fc0")
    return mx.sym.FullyConnected(eltwise(mx, f0, kind), num_hidden=10, name="fc1")


def _variant(kind):
    # sqrt's net has non-negative weights and data: fc0's outputs have roots
    return "pos" if kind == "sqrt" else "std"


def _pick(prefix, fn=lambda v: v):
    return {k[len(prefix):]: fn(REF[k]) for k in REF.files if k.startswith(prefix)}


def mlp_data(kind):
    """FP32 params, the input MXNet ran and the calibration set of `kind`'s net."""
    fn = np.abs if _variant(kind) == "pos" else (lambda v: v)
    return _pick("mlp/params/", fn), fn(REF["mlp/x"]), fn(REF["mlp/calib"])


def _nd(v):
    return mx.nd.array(v, dtype=v.dtype)


def run(sym, feed, names):
    """The outputs `names` of `sym` (internal ones included) on `feed`."""
    internals = sym.get_internals()
    outs = internals.list_outputs()
    g = mx.sym.Group([internals[outs.index(n)] for n in names])
    ex = g.bind(mx.cpu(), args={k: _nd(feed[k]) for k in g.list_arguments()}, grad_req="null")
    return [o.asnumpy() for o in ex.forward(is_train=False)]


def _qscale(dt, lo, hi):
    """MXNet's GetQuantizeScale: 127.5 (int8) or 255.5 levels over the range's magnitude."""
    return f32(f32(127.5 if dt == np.int8 else 255.5) / max(abs(f32(lo)), abs(f32(hi))))


def _rsat(v, dt):
    info = np.iinfo(dt)
    hi = S32_MAX if dt == np.int32 else info.max
    return np.clip(np.rint(v), info.min, hi).astype(dt)


# ---- float fusion ----

@pytest.mark.parametrize("kind", KINDS)
def test_float_fusion_graph_is_mxnets(kind):
    """get_backend_symbol('MKLDNN') fuses fc0 and the op into `..._eltwise_0`, as MXNet."""
    got = json.loads(mlp(kind).get_backend_symbol("MKLDNN").tojson())
    want = json.loads(GRAPHS["mlp/fused/%s" % kind]["graph"])
    assert got == want


@pytest.mark.parametrize("kind", KINDS)
def test_float_fusion_computes_the_op(kind):
    """The fused node runs its subgraph: the unfused graph's values exactly, numpy's FC ->
    op -> FC to float32 rounding, and MXNet's fused output (oneDNN's float kernels)."""
    params, x, _ = mlp_data(kind)
    feed = dict(params, data=x)
    sym = mlp(kind)
    fused = sym.get_backend_symbol("MKLDNN")
    assert "_sg_mkldnn_fully_connected" in fused.tojson()
    got = run(fused, feed, [fused.list_outputs()[0]])[0]
    np.testing.assert_array_equal(got, run(sym, feed, ["fc1_output"])[0])
    p = {k: v.astype(np.float64) for k, v in params.items()}
    h = np_eltwise(x @ p["fc0_weight"].T + p["fc0_bias"], kind)
    want = h @ p["fc1_weight"].T + p["fc1_bias"]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got, REF["mlp/fused/%s/final" % kind], rtol=1e-5, atol=1e-5)


# ---- INT8: quantize_model_mkldnn ----

def _quantize(sym, params, calib, batch, **kw):
    it = mx.io.NDArrayIter(calib, batch_size=batch)
    qsym, qargs, _ = quantize_model_mkldnn(
        sym, {k: _nd(v) for k, v in params.items()}, {}, ctx=mx.cpu(), calib_data=it,
        num_calib_examples=len(calib), quantized_dtype="auto", label_names=None, **kw)
    return json.loads(qsym.tojson()), {k: v.asnumpy() for k, v in qargs.items()}


def _mode_kwargs(mode):
    kw = dict(calib_mode="none" if mode == "none" else "naive")
    if mode == "float":
        kw["excluded_sym_names"] = ["fc1"]
    return kw


def _assert_same(got, want):
    # calibration ranges may differ in the 6th decimal: oxnet's FP32 forward is not oneDNN's
    assert_same_graph(got, want, calib_atol=3e-6)
    for g, w in zip(got["nodes"], want["nodes"]):
        assert g.get("subgraphs") == w.get("subgraphs"), g["name"]


def _mlp_qparams(kind, qargs):
    """MXNet's quantized params for `kind`'s variant, those of fc1 float where it stayed."""
    want = _pick("mlp/qparams/%s/" % _variant(kind))
    return {k: want.get(k, v) for k, v in qargs.items()}


QUANTIZE_CASES = [(k, m) for k in FUSED_INT8 for m in MODES] + \
    [(k, "naive") for k in KINDS if k not in FUSED_INT8]


@pytest.mark.parametrize("kind,mode", QUANTIZE_CASES)
def test_quantize_model_mkldnn_graph_is_mxnets(kind, mode):
    """MXNet's INT8 graph node for node, and its params: the op fused into fc0 where MXNet's
    INT8 selector takes it (relu / leaky / elu / gelu / abs / clip), left after fc0 (which
    then dequantizes) otherwise."""
    params, _, calib = mlp_data(kind)
    got, qargs = _quantize(mlp(kind), params, calib, 8, **_mode_kwargs(mode))
    key = "mlp/%s/%s" % (mode, kind) if kind in FUSED_INT8 else "mlp/partition/%s" % kind
    _assert_same(got, json.loads(GRAPHS[key]["graph"]))
    fused = [n for n in got["nodes"] if n["op"] == "_sg_mkldnn_fully_connected"]
    assert (fused[0]["attrs"].get("with_eltwise") == "True") == (kind in FUSED_INT8)
    want = _mlp_qparams(kind, qargs)
    assert sorted(qargs) == sorted(want)
    for k, v in want.items():
        np.testing.assert_array_equal(qargs[k], v, err_msg=k)


MLP_CASES = [(m, k) for m in MODES for k in KINDS]


def _mxnet_case(key, params, x):
    """MXNet's graph for `key` run by oxnet on MXNet's inputs: the fused node's outputs and
    the graph's output, with the feed."""
    case = GRAPHS[key]
    sym = mx.sym.load_json(case["graph"])
    node = case["node"]
    feed = dict(params, data=x)
    nodes = json.loads(case["graph"])["nodes"]
    attrs = [n for n in nodes if n["name"] == node][0]["attrs"]
    suffixes = ["output"]
    if attrs.get("enable_float_output") != "True":
        conv = node.startswith("quantized_sg_mkldnn_conv")
        suffixes += ["output_min", "output_max"] if conv else ["min_output", "max_output"]
    names = ["%s_%s" % (node, s) for s in suffixes] + [sym.list_outputs()[0]]
    outs = run(sym, feed, names)
    return outs[:-1], outs[-1], feed


def _mlp_case(mode, kind):
    params, x, _ = mlp_data(kind)
    key = "mlp/%s/%s" % (mode, kind)
    qparams = _pick("mlp/qparams/%s/" % _variant(kind))
    node_outs, final, feed = _mxnet_case(key, dict(params, **qparams), x)
    return key, node_outs, final, feed


# The node's arithmetic is MXNet's; what may differ is a transcendental (sigmoid, tanh,
# softrelu, elu, gelu, exp) in its last float32 bit, oneDNN's polynomials against libm/erf,
# which moves a value across a rounding boundary to the next level now and then.
MAX_FLIPS = 3


def _assert_levels(got, want):
    """Quantized outputs equal, or one level apart in at most MAX_FLIPS elements (int32
    values past 2^24, where float32 has no unit steps, one float32 step apart); returns the
    number of elements that differ."""
    g, w = got.astype(np.float64), want.astype(np.float64)
    d = np.abs(g - w)
    step = np.maximum(1.0, np.abs(w) * 2.0 ** -23) if got.dtype == np.int32 else 1.0
    flips = int((d > 0).sum())
    assert (d <= step).all() and flips <= MAX_FLIPS, (flips, d.max())
    return flips


@pytest.mark.parametrize("mode,kind", MLP_CASES)
def test_int8_fc_eltwise_node_matches_mxnet(mode, kind):
    """MXNet's INT8 graph (made by hand where MXNet's partitioner does not fuse the op) loads
    and runs: the fused node's dtype, range and values are MXNet's (see _assert_levels), and
    so is the graph's output."""
    key, (out, *rng), final, _ = _mlp_case(mode, kind)
    want = REF[key + "/out"]
    assert out.dtype == want.dtype
    if mode == "naive":
        assert out.dtype == (np.int8 if kind in INT8_OUT else np.uint8)
    if rng:
        np.testing.assert_array_equal(np.concatenate(rng), REF[key + "/range"])
    if mode == "float":
        np.testing.assert_allclose(out, want, rtol=3e-7, atol=1e-7)
        step = 1e-5  # fc1 in float32, summed in another order than oneDNN's
    else:
        flips = _assert_levels(out, want)
        # fc1 after it: the same inputs give the same output, and each flipped level moves
        # fc1's outputs by at most a level's worth of its largest weight
        level = 1 / _qscale(out.dtype, rng[0][0], rng[1][0]) if mode == "naive" else 0.0
        step = flips * level * np.abs(REF["mlp/params/fc1_weight"]).max() * 1.01 + 1e-6
        if mode == "none" and flips:
            step = np.inf  # int32 steps go through a dynamic requantize: only equality counts
    np.testing.assert_allclose(final, REF[key + "/final"], rtol=0, atol=step)


def _fc0_quantization(key, feed):
    """fc0's quantized operands as the node reads them: data (as the graph's quantize node
    makes it), its scale and range, the int8 weight and bias and their scales."""
    graph = json.loads(GRAPHS[key]["graph"])
    sym = mx.sym.load_json(GRAPHS[key]["graph"])
    xq, dmin, dmax = run(sym, feed, ["data_quantize_output%d" % i for i in range(3)])
    ws = _qscale(np.int8, feed["fc0_weight_quantize_min"][0], feed["fc0_weight_quantize_max"][0])
    brange = (feed["fc0_bias_quantize_min"][0], feed["fc0_bias_quantize_max"][0])
    attrs = [n for n in graph["nodes"] if n["name"] == GRAPHS[key]["node"]][0]["attrs"]
    calib = None
    if "min_calib_range" in attrs:
        calib = (float(attrs["min_calib_range"]), float(attrs["max_calib_range"]))
    return dict(xq=xq, ds=_qscale(xq.dtype, dmin[0], dmax[0]), drange=(dmin[0], dmax[0]),
                wq=feed["fc0_weight_quantize"], ws=ws, bq=feed["fc0_bias_quantize"],
                bs=_qscale(np.int8, *brange), brange=brange, calib=calib)


def _np_int8_fc(q, kind, mode, out_dtype):
    """numpy model of MXNet 1.9.1's INT8 FC with an eltwise (mkldnn_fc.cc): the int8 bias
    rescaled to the product's int32 levels (rounded half away), the int32 sums plus bias;
    with a calibrated range, scaled by (1 / data_scale) / weight_scale, the op on these real
    values, then times the range's levels, rounded half to even and saturated; float output:
    the same without the levels; int32 output: the op on the raw sums."""
    ds, ws = q["ds"], q["ws"]
    rescale = f32(f32(ds * ws) / q["bs"])
    # MXNet caps the rescale where the int32 bias would pass INT_MAX / 2; not reached here
    assert rescale <= f32(2 ** 30) / max(map(abs, q["brange"])) / q["bs"]
    bias = np.sign(q["bq"]) * np.floor(np.abs(q["bq"].astype(f32) * rescale) + 0.5)
    acc = (q["xq"].astype(np.int64) @ q["wq"].astype(np.int64).T).astype(f32)
    acc = acc + bias.astype(f32)
    if mode == "none":
        with np.errstate(over="ignore"):  # exp of large sums: float32 infinity, saturated
            return _rsat(np_eltwise(acc, kind).astype(f32), np.int32)
    v = np_eltwise(acc * f32(f32(f32(1) / ds) / ws), kind).astype(f32)
    if mode == "float":
        return v
    return _rsat(v * _qscale(out_dtype, *q["calib"]), out_dtype)


@pytest.mark.parametrize("mode,kind", MLP_CASES)
def test_int8_fc_eltwise_node_matches_numpy_model(mode, kind):
    """oxnet's fused node against the numpy model of MXNet's arithmetic, on the node's
    inputs as oxnet quantized them."""
    key, (out, *_), _, feed = _mlp_case(mode, kind)
    want = _np_int8_fc(_fc0_quantization(key, feed), kind, mode, out.dtype)
    if mode == "float":
        np.testing.assert_allclose(out, want, rtol=3e-7, atol=1e-7)
    else:
        _assert_levels(out, want)


def _pre_and_error(q, w, b, x):
    """fc0's FP32 output and a bound on what quantizing its operands moves it by: each data
    value off by half a level (or by its clipping to the data range), each weight by half a
    level, the bias by half of its int8 level and half of the int32 one."""
    w, b, x = (v.astype(np.float64) for v in (w, b, x))
    lo, hi = q["drange"]
    ex = 0.5 / q["ds"] + np.abs(x - np.clip(x, lo, hi))
    ew = 0.5 / q["ws"]
    delta = ex @ np.abs(w).T + ew * np.abs(x).sum(1, keepdims=True) + \
        ew * ex.sum(1, keepdims=True) + 0.5 / q["bs"] + 0.5 / (q["ds"] * q["ws"])
    return x @ w.T + b, delta


def _spread(fn, pre, delta):
    """How far fn moves over [pre - delta, pre + delta] (sampled; the ops are smooth or
    piecewise linear at this scale)."""
    base = fn(pre)
    return np.max([np.abs(fn(pre + t * delta) - base) for t in np.linspace(-1, 1, 41)], 0)


def _assert_near(deq, fn, pre, delta, out_dtype, scale):
    """Dequantized values within fn's spread over the operands' quantization error, plus half
    an output level, of fn(pre) saturated to what the output type holds."""
    info = np.iinfo(out_dtype)
    want = np.clip(fn(pre), info.min / scale, info.max / scale)
    err = np.abs(deq - want)
    bound = _spread(fn, pre, delta) + 0.5 / scale + 1e-6
    assert (err <= bound).all(), (err.max(), bound[err > bound])


@pytest.mark.parametrize("kind", KINDS)
def test_int8_fc_eltwise_dequantized_near_fp32(kind):
    """The calibrated INT8 node, dequantized, against FP32 numpy of fc0 and the op. Leaky relu
    is MXNet's exception: its uint8 output holds relu, and so does oxnet's (MXNet 1.9.1's
    IsOutputUint8 sees oneDNN's relu algorithm; kept so that MXNet's INT8 graphs compute here
    what they compute there)."""
    key, (out, lo, hi), _, feed = _mlp_case("naive", kind)
    pre, delta = _pre_and_error(_fc0_quantization(key, feed), feed["fc0_weight"],
                                feed["fc0_bias"], feed["data"])
    scale = _qscale(out.dtype, lo[0], hi[0])
    op = "relu" if kind == "leaky" else kind
    _assert_near(out / scale, lambda v: np_eltwise(v, op), pre, delta, out.dtype, scale)
    if kind == "leaky":
        assert out.dtype == np.uint8 and (pre < -0.1).any()


@pytest.mark.parametrize("kind", FUSED_INT8)
def test_uncalibrated_int8_fc_eltwise_sees_raw_sums(kind):
    """Without calibration MXNet applies the op to the int32 sums as they are (its scale is
    1): relu, leaky and abs commute with the scale and come out right in the sums' units
    (1 / (data_scale * weight_scale)); elu and gelu of a sum of many levels are its relu
    (elu's -slope and gelu's dip are under a level); clip bounds the sums at 0.75, leaving
    0 and 1."""
    key, (out, _, _), _, feed = _mlp_case("none", kind)
    assert out.dtype == np.int32
    q = _fc0_quantization(key, feed)
    pre, delta = _pre_and_error(q, feed["fc0_weight"], feed["fc0_bias"], feed["data"])
    unit = float(q["ds"] * q["ws"])
    if kind == "clip":
        assert set(np.unique(out)) == {0, 1}
        return
    op = kind if kind in ("relu", "leaky", "abs") else "relu"
    _assert_near(out / unit, lambda v: np_eltwise(v, op), pre, delta + 1 / unit, np.int32,
                 unit)


# ---- INT8 conv ----

def conv_net(kind):
    c = mx.sym.Convolution(mx.sym.var("data"), num_filter=4, kernel=(3, 3), pad=(1, 1),
                           name="conv0")
    return eltwise(mx, c, kind)


CONV_CASES = [(m, k) for m in ("naive", "none") for k in CONV_KINDS]


@pytest.mark.parametrize("mode,kind", CONV_CASES)
def test_int8_conv_activation_graph_is_mxnets(mode, kind):
    params = _pick("conv/params/")
    got, _ = _quantize(conv_net(kind), params, REF["conv/calib"], 2, calib_mode=mode)
    _assert_same(got, json.loads(GRAPHS["conv/%s/%s" % (mode, kind)]["graph"]))


@pytest.mark.parametrize("mode,kind", CONV_CASES)
def test_int8_conv_activation_matches_mxnet(mode, kind):
    """The conv node's dtype (uint8 for relu and clip; a leaky relu keeps int8, the conv's
    IsOutputUInt8 checks relu's slope), range and values are MXNet's, and so is the
    dequantized output."""
    key = "conv/%s/%s" % (mode, kind)
    (out, *rng), final, _ = _mxnet_case(key, _pick("conv/params/"), REF["conv/x"])
    want = REF[key + "/out"]
    assert out.dtype == want.dtype
    if mode == "naive":
        assert out.dtype == (np.uint8 if kind in ("relu", "clip") else np.int8)
    np.testing.assert_array_equal(np.concatenate(rng), REF[key + "/range"])
    flips = _assert_levels(out, want)
    level = 1 / _qscale(out.dtype, rng[0][0], rng[1][0]) if mode == "naive" else \
        max(map(abs, np.concatenate(rng))) / 2147483647.0
    np.testing.assert_allclose(final, REF[key + "/final"], rtol=0,
                               atol=flips * level * 1.01 + 1e-6)


def _np_conv(x, w, b):
    """3x3 convolution, padding 1, in float64."""
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    patches = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))
    return np.einsum("nchwij,fcij->nfhw", patches, w.astype(np.float64)) + \
        b.astype(np.float64)[:, None, None], patches


@pytest.mark.parametrize("kind", CONV_KINDS)
def test_int8_conv_activation_near_fp32(kind):
    """Dequantized against numpy FP32, within the spread of the activation over what
    quantizing the operands moves the conv by (data by half a level, each channel's weights
    by half of their own level). relu, leaky and clip are right (a clip's bound comes from
    the calibrated range's saturation: MXNet drops the post-op). gelu is MXNet's exception:
    its conv evaluates the activation on the output's levels, gelu(x * scale) / scale, and
    oxnet does the same; that is the model it is held to, and it is far from gelu."""
    key = "conv/naive/%s" % kind
    (out, lo, hi), _, _ = _mxnet_case(key, _pick("conv/params/"), REF["conv/x"])
    scale = _qscale(out.dtype, lo[0], hi[0])
    w, b, x = REF["conv/params/conv0_weight"], REF["conv/params/conv0_bias"], REF["conv/x"]
    pre, patches = _np_conv(x, w, b)
    node = [n for n in json.loads(GRAPHS[key]["graph"])["nodes"]
            if n["name"] == "data_quantize"][0]["attrs"]
    ds = _qscale(np.int8, float(node["min_calib_range"]), float(node["max_calib_range"]))
    ws = f32(127.5) / np.abs(w).reshape(len(w), -1).max(1)
    aw = np.abs(w).astype(np.float64)
    delta = 0.5 / ds * aw.sum((1, 2, 3))[None, :, None, None] + \
        (0.5 / ws)[None, :, None, None] * np.einsum("nchwij->nhw", np.abs(patches))[:, None] + \
        (0.5 / (ds * ws))[None, :, None, None] * 28
    if kind == "gelu":
        fn = lambda v: np_eltwise(v * scale, "gelu") / scale  # noqa: E731
        assert np.abs(fn(pre) - np_eltwise(pre, "gelu")).max() > 10 / scale
    else:
        fn = lambda v: np_eltwise(v, kind)  # noqa: E731
    _assert_near(out / scale, fn, pre, delta, out.dtype, scale)


# ---- BERT-like FFN with gelu ----

def bert():
    data = mx.sym.var("data")
    f1 = mx.sym.FullyConnected(data, num_hidden=64, flatten=False, name="ffn1")
    f1 = mx.sym.LeakyReLU(f1, act_type="gelu", name="gelu")
    f2 = mx.sym.FullyConnected(f1, num_hidden=16, flatten=False, name="ffn2")
    return mx.sym.LayerNorm(mx.sym.elemwise_add(f2, data, name="add"), axis=-1, name="ln")


@pytest.mark.parametrize("mode", ["naive", "channel"])
def test_bert_ffn_gelu_int8(mode):
    """quantize_model_mkldnn of an FFN with gelu: ffn1 and gelu fuse into one INT8 node
    (int8 output), as in MXNet's graph and params; MXNet's graph runs to MXNet's values (the
    add and LayerNorm after it in float32), and as near FP32 as MXNet's."""
    params = _pick("bert/params/")
    gran = "channel-wise" if mode == "channel" else "tensor-wise"
    got, qargs = _quantize(bert(), params, REF["bert/calib"], 6, calib_mode="naive",
                           quantize_granularity=gran)
    key = "bert/%s/gelu" % mode
    _assert_same(got, json.loads(GRAPHS[key]["graph"]))
    want = _pick("bert/qparams/%s/" % mode)
    assert sorted(qargs) == sorted(want)
    for k, v in want.items():
        np.testing.assert_array_equal(qargs[k], v, err_msg=k)
    (out, *rng), final, _ = _mxnet_case(key, dict(params, **want), REF["bert/x"])
    assert out.dtype == np.int8
    np.testing.assert_array_equal(np.concatenate(rng), REF[key + "/range"])
    flips = _assert_levels(out, REF[key + "/out"])
    # float32 rounding in ffn2's float output, the add and LayerNorm; a flipped level moves
    # a LayerNorm output by about level * |w| / std
    np.testing.assert_allclose(final, REF[key + "/final"], rtol=0, atol=1e-5 + 0.01 * flips)
    fp32 = REF["bert/fp32/gelu/final"]
    mxnet_err = np.abs(REF[key + "/final"] - fp32).max()
    assert np.abs(final - fp32).max() <= mxnet_err * 1.05 + 1e-4
    assert mxnet_err < 0.1  # LayerNorm's outputs are O(1)


# ---- bad nodes ----

def _hand_node(kind_op, attrs, quantized=True, layer="fc"):
    """MXNet's calibrated relu node with its Activation replaced by `kind_op` / `attrs`."""
    key = "mlp/naive/relu" if layer == "fc" else "conv/naive/relu"
    g = json.loads(GRAPHS[key]["graph"])
    for n in g["nodes"]:
        if n["name"] == GRAPHS[key]["node"]:
            for m in n["subgraphs"][0]["nodes"]:
                if m["op"] == "Activation":
                    m["op"], m["attrs"] = kind_op, attrs
            if not quantized:
                n["attrs"] = {"with_eltwise": "True"} if layer == "fc" else {"with_act": "True"}
    return g


def _load_and_run(g, layer="fc"):
    if layer == "fc":
        params = dict(_pick("mlp/params/"), **_pick("mlp/qparams/std/"))
        x = REF["mlp/x"]
    else:
        params, x = _pick("conv/params/"), REF["conv/x"]
    sym = mx.sym.load_json(json.dumps(g))
    return run(sym, dict(params, data=x), [sym.list_outputs()[0]])


@pytest.mark.parametrize("op,attrs,named", [
    ("Activation", {"act_type": "softsign"}, "act_type"),
    ("LeakyReLU", {"act_type": "rrelu"}, "act_type"),
    ("LeakyReLU", {"act_type": "selu"}, "act_type"),
    ("clip", {"a_min": "-1", "a_max": "1"}, "a_min"),
    ("log", {}, "log"),
])
def test_fc_eltwise_mxnet_has_no_algorithm_for(op, attrs, named):
    """An eltwise MXNet's FC parser maps to no oneDNN algorithm is an MXNetError naming the
    fused op, the node's op and the attribute."""
    with pytest.raises(MXNetError) as err:
        _load_and_run(_hand_node(op, attrs))
    msg = str(err.value)
    assert "_sg_mkldnn_fully_connected" in msg and op in msg and named in msg, msg


def test_float_fc_checks_its_eltwise_too():
    with pytest.raises(MXNetError) as err:
        _load_and_run(_hand_node("Activation", {"act_type": "softsign"}, quantized=False))
    assert "softsign" in str(err.value)


@pytest.mark.parametrize("op", ["square", "exp"])
def test_conv_takes_no_fc_only_eltwise(op):
    """square / sqrt / exp / abs are FC fusions only: MXNet's conv parser has no activation
    for them."""
    with pytest.raises(MXNetError) as err:
        _load_and_run(_hand_node(op, {}, layer="conv"), layer="conv")
    msg = str(err.value)
    assert "_sg_mkldnn_conv" in msg and op in msg, msg


def test_int8_conv_sum_gelu_refused_as_mxnet():
    """conv + sum + gelu: MXNet's INT8 selector fuses it and its conv then refuses to run
    anything but relu after the sum (a CHECK in mkldnn_conv.cc when the node runs). oxnet
    refuses the node when it loads, naming the attribute: MXNet's graph, and the one
    quantize_model_mkldnn builds."""
    assert "eltwise_relu" in str(REF["conv_sum/naive/gelu/error"])
    with pytest.raises(MXNetError) as err:
        mx.sym.load_json(GRAPHS["conv_sum/naive/gelu"]["graph"])
    msg = str(err.value)
    assert "_sg_mkldnn_conv" in msg and "gelu" in msg and "with_postsum_act" in msg, msg
    data = mx.sym.var("data")
    c = mx.sym.Convolution(data, num_filter=3, kernel=(3, 3), pad=(1, 1), name="conv0")
    sym = mx.sym.LeakyReLU(mx.sym.elemwise_add(c, data, name="add"), act_type="gelu",
                           name="act")
    rng = np.random.RandomState(3)
    params = {"conv0_weight": rng.uniform(-0.3, 0.3, (3, 3, 3, 3)).astype(f32),
              "conv0_bias": rng.uniform(-0.3, 0.3, 3).astype(f32)}
    calib = rng.uniform(-1, 1, (4, 3, 5, 5)).astype(f32)
    with pytest.raises(MXNetError) as err:
        _quantize(sym, params, calib, 2, calib_mode="naive")
    assert "with_postsum_act" in str(err.value)
