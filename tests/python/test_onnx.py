"""mx.onnx.export_model and mx.contrib.onnx.import_model: every exported model runs in
onnxruntime and matches oxnet's executor (rtol 1e-4); the imported symbol matches again; a
checkpoint written by MXNet 1.9.1 exports and matches MXNet's own recorded output."""
import base64
import sys

import numpy as np
import pytest

import oxnet as mx

onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install onnx)")
ort = pytest.importorskip("onnxruntime",
                          reason="onnxruntime is not installed (pip install onnxruntime)")
from onnx import helper, TensorProto, numpy_helper  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5
LABEL_SUFFIX = "_label"


# ------------------------------------------------------------------------------ helpers
def _random_params(sym, shapes, seed=0):
    """Random arg and aux params (positive moving variances) for ``sym`` given input shapes."""
    rng = np.random.RandomState(seed)
    arg_shapes, _, aux_shapes = sym.infer_shape(**shapes)
    args = {}
    for name, shape in zip(sym.list_arguments(), arg_shapes):
        if name in shapes or name.endswith(LABEL_SUFFIX):
            continue
        args[name] = mx.nd.array(rng.randn(*shape) * 0.5)
    aux = {}
    for name, shape in zip(sym.list_auxiliary_states(), aux_shapes):
        v = rng.rand(*shape) + 0.5 if name.endswith("var") else rng.randn(*shape) * 0.5
        aux[name] = mx.nd.array(v)
    return args, aux


def _forward(sym, args, aux, inputs):
    """oxnet's inference outputs (numpy); loss labels are bound to zeros."""
    feed = dict(args)
    feed.update({k: mx.nd.array(v, dtype=v.dtype) for k, v in inputs.items()})
    shapes = {k: v.shape for k, v in feed.items()}
    arg_shapes, _, _ = sym.infer_shape_partial(**shapes)
    for name, shape in zip(sym.list_arguments(), arg_shapes):
        if name not in feed:
            feed[name] = mx.nd.zeros(shape)
    exe = sym.bind(mx.cpu(), feed, aux_states=dict(aux), grad_req="null")
    exe.forward(is_train=False)
    return [o.asnumpy() for o in exe.outputs]


def _run_onnx(path, inputs):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return sess.run(None, inputs)


def _roundtrip(sym, inputs, tmp_path, seed=0, params_form="dict", rtol=RTOL, atol=ATOL):
    """Export with random params, compare onnxruntime and the re-imported symbol with oxnet."""
    shapes = {k: inputs[k].shape for k in sym.list_arguments() if k in inputs}
    args, aux = _random_params(sym, shapes, seed)
    expected = _forward(sym, args, aux, inputs)
    if params_form == "dict":
        params = dict(args, **aux)
    elif params_form == "prefixed":
        params = {"arg:" + k: v for k, v in args.items()}
        params.update({"aux:" + k: v for k, v in aux.items()})
    else:
        params = [args, aux]
    path = str(tmp_path / "model.onnx")
    in_types = [inputs[k].dtype for k in shapes]
    ret = mx.onnx.export_model(sym, params, list(shapes.values()), in_types, path)
    assert ret == path
    got = _run_onnx(path, inputs)
    assert len(got) == len(expected)
    for e, g in zip(expected, got):
        assert g.shape == e.shape and g.dtype == e.dtype
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)
    sym2, arg2, aux2 = mx.contrib.onnx.import_model(path)
    got2 = _forward(sym2, arg2, aux2, inputs)
    for e, g in zip(expected, got2):
        assert g.shape == e.shape and g.dtype == e.dtype
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)
    return path


def _data(*shape, seed=1, dtype=np.float32):
    return np.random.RandomState(seed).randn(*shape).astype(dtype)


# ------------------------------------------------------------------------------ models
def test_mlp(tmp_path):
    x = mx.sym.var("data")
    h = mx.sym.Activation(mx.sym.FullyConnected(x, num_hidden=16, name="fc1"), act_type="relu")
    h = mx.sym.Activation(mx.sym.FullyConnected(h, num_hidden=8, name="fc2"), act_type="tanh")
    h = mx.sym.Dropout(h, p=0.5)
    h = mx.sym.FullyConnected(h, num_hidden=4, name="fc3", no_bias=True)
    out = mx.sym.SoftmaxOutput(h, name="softmax")
    path = _roundtrip(out, {"data": _data(5, 10)}, tmp_path)
    meta = mx.contrib.onnx.get_model_metadata(path)
    assert meta["input_tensor_data"] == [("data", (5, 10), TensorProto.FLOAT)]
    assert meta["output_tensor_data"] == [("softmax", (5, 4))]


def test_lenet(tmp_path):
    x = mx.sym.var("data")
    h = mx.sym.Convolution(x, kernel=(5, 5), num_filter=6, pad=(2, 2), name="conv1")
    h = mx.sym.Pooling(mx.sym.Activation(h, act_type="tanh"), kernel=(2, 2), stride=(2, 2),
                       pool_type="max")
    h = mx.sym.Convolution(h, kernel=(5, 5), num_filter=8, name="conv2")
    h = mx.sym.Pooling(mx.sym.Activation(h, act_type="relu"), kernel=(2, 2), stride=(2, 2),
                       pool_type="avg")
    h = mx.sym.FullyConnected(mx.sym.Flatten(h), num_hidden=20, name="fc1")
    h = mx.sym.FullyConnected(mx.sym.Activation(h, act_type="sigmoid"), num_hidden=10,
                              name="fc2")
    out = mx.sym.SoftmaxOutput(h, name="softmax")
    _roundtrip(out, {"data": _data(2, 1, 28, 28)}, tmp_path, params_form="prefixed")


def test_resnet_block(tmp_path):
    x = mx.sym.var("data")
    h = mx.sym.Convolution(x, kernel=(3, 3), num_filter=8, stride=(2, 2), pad=(1, 1),
                           no_bias=True, name="conv1")
    h = mx.sym.Activation(mx.sym.BatchNorm(h, name="bn1"), act_type="relu")  # fix_gamma
    h = mx.sym.Convolution(h, kernel=(3, 3), num_filter=8, pad=(1, 1), no_bias=True,
                           name="conv2")
    h = mx.sym.BatchNorm(h, fix_gamma=False, eps=2e-5, name="bn2")
    sc = mx.sym.Convolution(x, kernel=(1, 1), num_filter=8, stride=(2, 2), no_bias=True,
                            name="sc")
    sc = mx.sym.BatchNorm(sc, fix_gamma=False, use_global_stats=True, name="sc_bn")
    h = mx.sym.Activation(h + sc, act_type="relu")
    h = mx.sym.Pooling(h, kernel=(1, 1), global_pool=True, pool_type="avg")
    out = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(h, num_hidden=5, name="fc"),
                               name="softmax")
    _roundtrip(out, {"data": _data(2, 4, 9, 9)}, tmp_path, params_form="list")


def test_reshape_concat_split_pooling(tmp_path):
    x = mx.sym.var("data")  # (2, 4, 6, 6)
    a = mx.sym.Pooling(x, kernel=(3, 3), stride=(2, 2), pool_type="max",
                       pooling_convention="full")
    b = mx.sym.Pooling(x, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg",
                       count_include_pad=False)
    c = mx.sym.Pooling(x, kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg")
    h = mx.sym.Concat(a, b, c, dim=1)  # (2, 12, 3, 3)
    parts = mx.sym.split(h, num_outputs=3, axis=1)
    h = parts[0] * parts[1] - parts[2]
    sq = mx.sym.SliceChannel(h, num_outputs=4, axis=1, squeeze_axis=True)  # 4 x (2, 3, 3)
    h = mx.sym.Concat(sq[0], sq[3], dim=2)  # (2, 3, 6)
    h = mx.sym.Reshape(h, shape=(0, -1))  # (2, 18)
    g = mx.sym.Reshape(x, shape=(-3, -2))  # (8, 6, 6)
    g = mx.sym.Reshape(g, shape=(-4, 2, -1, -2))  # (2, 4, 6, 6)
    g = mx.sym.Pooling(g, kernel=(1, 1), global_pool=True, pool_type="max")
    g = mx.sym.Reshape(g, shape=(2, 4))
    out = mx.sym.Concat(h, g, mx.sym.Flatten(parts[2]), dim=1)
    _roundtrip(out, {"data": _data(2, 4, 6, 6)}, tmp_path)


_VARS = {}


def _v(name="data"):
    """One variable per name, so a case's graph has one input per name."""
    return _VARS.setdefault(name, mx.sym.var(name))


# (id, symbol builder, {input: array})
OP_CASES = [
    ("conv1d_group_dilate", lambda: mx.sym.Convolution(
        _v(), kernel=(3,), num_filter=4, num_group=2, dilate=(2,), pad=(1,), stride=(2,)),
     {"data": _data(2, 4, 11)}),
    ("deconv", lambda: mx.sym.Group([
        mx.sym.Deconvolution(_v(), kernel=(3, 3), num_filter=3, stride=(2, 2), pad=(1, 1),
                             adj=(1, 1), no_bias=False, name="dc1"),
        mx.sym.Deconvolution(_v(), kernel=(4, 3), num_filter=2, stride=(2, 2),
                             target_shape=(11, 10), name="dc2")]),
     {"data": _data(2, 2, 5, 5)}),
    ("leaky_variants", lambda: mx.sym.Concat(
        mx.sym.LeakyReLU(_v(), act_type="leaky", slope=0.1),
        mx.sym.LeakyReLU(_v(), act_type="elu", slope=0.7),
        mx.sym.LeakyReLU(_v(), act_type="selu"),
        mx.sym.LeakyReLU(_v(), act_type="gelu"),
        mx.sym.LeakyReLU(_v(), act_type="prelu", name="prelu"),
        mx.sym.Activation(_v(), act_type="softrelu"),
        mx.sym.Activation(_v(), act_type="softsign"), dim=1),
     {"data": _data(2, 3, 4, 4)}),
    ("softmax_family", lambda: mx.sym.Concat(
        mx.sym.softmax(_v(), axis=1), mx.sym.log_softmax(_v()),
        mx.sym.softmax(_v(), temperature=2.0), mx.sym.SoftmaxActivation(_v(), mode="channel"),
        mx.sym.SoftmaxActivation(_v()), dim=1),
     {"data": _data(2, 3, 4)}),
    ("softmax_output_multi", lambda: mx.sym.Group([
        mx.sym.SoftmaxOutput(_v(), multi_output=True, name="so1"),
        mx.sym.SoftmaxOutput(_v(), name="so2"),
        mx.sym.LinearRegressionOutput(_v(), name="lin"),
        mx.sym.LogisticRegressionOutput(_v(), name="logit")]),
     {"data": _data(2, 3, 4)}),
    ("unary_scalar_clip", lambda: mx.sym.Concat(
        mx.sym.exp(_v()), mx.sym.log(mx.sym.abs(_v()) + 1), mx.sym.sqrt(mx.sym.abs(_v())),
        mx.sym.negative(_v()), mx.sym.clip(_v(), a_min=-0.3, a_max=0.5), 2.0 - _v(),
        _v() / 4.0, 3.0 / (mx.sym.abs(_v()) + 1), (mx.sym.abs(_v()) + 1) ** 1.5,
        mx.sym.maximum(_v(), 0.2), mx.sym.square(_v()), mx.sym.sigmoid(_v()),
        mx.sym.relu(_v()), mx.sym.tanh(_v()), dim=1),
     {"data": _data(3, 5)}),
    ("broadcast_binary", lambda: mx.sym.Group([
        mx.sym.broadcast_add(_v(), _v("b")), mx.sym.broadcast_sub(_v(), _v("b")),
        mx.sym.broadcast_mul(_v(), _v("b")), mx.sym.broadcast_div(_v(), _v("b") + 3),
        mx.sym.broadcast_maximum(_v(), _v("b")), mx.sym.add_n(_v(), _v(), _v())]),
     {"data": _data(2, 3, 4), "b": _data(1, 3, 1, seed=2)}),
    ("shape_ops", lambda: mx.sym.Group([
        mx.sym.transpose(_v(), axes=(0, 2, 1, 3)), mx.sym.transpose(_v()),
        mx.sym.expand_dims(_v(), axis=2), mx.sym.squeeze(mx.sym.expand_dims(_v(), axis=-1)),
        mx.sym.squeeze(mx.sym.slice_axis(_v(), axis=1, begin=1, end=2), axis=1),
        mx.sym.squeeze(mx.sym.slice(_v(), begin=(0, 0, 0, 0), end=(1, 1, 1, 1))),
        mx.sym.slice_axis(_v(), axis=-1, begin=1, end=None),
        mx.sym.slice(_v(), begin=(None, 1, 0), end=(None, 3, 4), step=(1, 1, 2)),
        mx.sym.broadcast_to(mx.sym.slice_axis(_v(), axis=0, begin=0, end=1), shape=(3, 3, 4, 5)),
        mx.sym.Pad(_v(), mode="constant", pad_width=(0, 0, 0, 0, 1, 2, 2, 1),
                   constant_value=0.5),
        mx.sym.Pad(_v(), mode="edge", pad_width=(0, 0, 0, 0, 1, 1, 1, 1)),
        mx.sym.Pad(_v(), mode="reflect", pad_width=(0, 0, 0, 0, 1, 1, 1, 1))]),
     {"data": _data(2, 3, 4, 5)}),
    ("reductions", lambda: mx.sym.Group([
        mx.sym.mean(_v(), axis=(1, 2)), mx.sym.sum(_v(), axis=1, keepdims=True),
        mx.sym.max(_v(), axis=-1), mx.sym.sum(_v()), mx.sym.mean(_v(), axis=1, exclude=True),
        mx.sym.min(_v(), axis=0), mx.sym.prod(_v(), axis=2), mx.sym.norm(_v(), axis=1)]),
     {"data": _data(2, 3, 4)}),
    ("dot_batch_dot", lambda: mx.sym.Group([
        mx.sym.dot(_v(), _v("w")), mx.sym.dot(_v(), _v("w2"), transpose_b=True),
        mx.sym.dot(_v("w"), _v(), transpose_a=True, transpose_b=True),
        mx.sym.dot(mx.sym.reshape(_v(), shape=(2, 2, 4)), _v("w")),
        mx.sym.batch_dot(_v("a"), _v("c")),
        mx.sym.batch_dot(_v("a"), _v("a"), transpose_b=True),
        mx.sym.batch_dot(_v("c"), _v("c"), transpose_a=True),
        # more batch axes: the transposes swap the last two
        mx.sym.batch_dot(_v("e"), _v("f"), transpose_a=True, transpose_b=True)]),
     {"data": _data(4, 4), "w": _data(4, 3, seed=2), "w2": _data(5, 4, seed=3),
      "a": _data(2, 3, 4, seed=4), "c": _data(2, 4, 5, seed=5),
      "e": _data(2, 3, 4, 5, seed=6), "f": _data(2, 3, 6, 4, seed=7)}),
    ("lrn_upsampling", lambda: mx.sym.Group([
        mx.sym.LRN(_v(), nsize=3, alpha=1e-3, beta=0.7, knorm=1.5),
        mx.sym.UpSampling(_v(), scale=2, sample_type="nearest", num_args=1)]),
     {"data": _data(2, 4, 3, 3)}),
    ("embedding_take_cast", lambda: mx.sym.Group([
        mx.sym.Embedding(_v("idx"), input_dim=7, output_dim=3, name="emb"),
        mx.sym.take(_v(), _v("idx"), axis=1),
        mx.sym.take(_v(), _v("idx"), axis=0, mode="wrap"),
        mx.sym.Cast(mx.sym.Cast(_v() * 3, dtype="int32"), dtype="float32")]),
     {"data": _data(7, 5), "idx": np.array([[0, 6, 2], [1, 9, -1]], np.float32)}),
    ("pooling_sum_1d_3d", lambda: mx.sym.Group([
        mx.sym.Pooling(_v(), kernel=(2,), stride=(1,), pool_type="sum"),
        mx.sym.Pooling(mx.sym.reshape(_v(), shape=(2, 3, 2, 2, 4)), kernel=(2, 2, 2),
                       pool_type="max"),
        mx.sym.Pooling(_v(), kernel=(3,), stride=(2,), pool_type="avg",
                       pooling_convention="full")]),
     {"data": _data(2, 3, 16)}),
    # MXNet's 'full' keeps last windows that start in the padding (ONNX's ceil_mode drops them).
    ("pooling_full_padded", lambda: mx.sym.Group([
        mx.sym.Pooling(_v(), kernel=(2, 2), stride=(2, 2), pad=(1, 1), pool_type=t,
                       pooling_convention="full", count_include_pad=c)
        for t, c in (("max", True), ("avg", True), ("sum", True))] + [
        mx.sym.Pooling(_v(), kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg",
                       pooling_convention="full", count_include_pad=False),
        mx.sym.Pooling(_v(), kernel=(2, 2), stride=(3, 3), pool_type="max",
                       pooling_convention="full")]),
     {"data": _data(2, 2, 6, 6)}),
    # the last 'full' window along the width holds no input: MXNet gives 0 there
    ("pooling_full_empty_window", lambda: mx.sym.Pooling(
        _v(), kernel=(3, 3), stride=(2, 4), pool_type="avg", pooling_convention="full",
        count_include_pad=False),
     {"data": _data(1, 2, 5, 8)}),
    ("copy_blockgrad_identity", lambda: mx.sym.Group([
        mx.sym.BlockGrad(_v()) + mx.sym.identity(_v()), mx.sym.make_loss(_v()),
        mx.sym.elemwise_mul(_v(), _v())]),
     {"data": _data(2, 3)}),
    ("norms", lambda: mx.sym.Group([
        mx.sym.InstanceNorm(_v(), eps=1e-4, name="inorm"),
        mx.sym.LayerNorm(_v(), name="ln"), mx.sym.LayerNorm(_v(), axis=1, name="ln1"),
        mx.sym.L2Normalization(_v()), mx.sym.L2Normalization(_v(), mode="channel"),
        mx.sym.L2Normalization(_v(), mode="spatial")]),
     {"data": _data(2, 3, 4, 5)}),
    ("tile_fill_compare_where", lambda: mx.sym.Group([
        mx.sym.tile(_v(), reps=(2, 1, 3)), mx.sym.tile(_v(), reps=(2,)),
        mx.sym.zeros_like(_v()) + mx.sym.ones_like(_v()),
        mx.sym.broadcast_greater(_v(), _v("b")), mx.sym.broadcast_equal(_v(), _v()),
        mx.sym.where(mx.sym.broadcast_lesser(_v(), _v("b2")), _v(), _v("b2")),
        mx.sym.where(mx.sym.slice_axis(mx.sym.sum(_v(), axis=2), axis=1, begin=0, end=1)
                     .reshape((2,)) > 0, _v(), -_v())]),
     {"data": _data(2, 3, 4), "b": _data(1, 3, 1, seed=2), "b2": _data(2, 3, 4, seed=3)}),
    # GluonCV's ShuffleNet, SE-ResNet/ResNeSt/NASNet and residual-attention/segmentation nets.
    ("swapaxes_adaptive_pool", lambda: mx.sym.Concat(
        mx.sym.flatten(mx.sym.contrib.AdaptiveAvgPooling2D(mx.sym.SwapAxis(_v(), dim1=1, dim2=3))),
        mx.sym.flatten(mx.sym.contrib.AdaptiveAvgPooling2D(_v(), output_size=(3, 2))), dim=1),
     {"data": _data(2, 4, 6, 6)}),
    ("bilinear_resize", lambda: mx.sym.Group([
        mx.sym.contrib.BilinearResize2D(_v(), height=11, width=7, name="up"),
        mx.sym.contrib.BilinearResize2D(_v(), height=3, width=4, align_corners=False,
                                        name="down"),
        mx.sym.contrib.BilinearResize2D(_v(), scale_height=2.0, scale_width=1.5,
                                        align_corners=False, name="scaled")]),
     {"data": _data(2, 3, 6, 8)}),
    ("fc_flatten_false", lambda: mx.sym.FullyConnected(
        _v(), num_hidden=6, flatten=False, name="fc"),
     {"data": _data(2, 3, 4)}),
]


@pytest.mark.parametrize("case", OP_CASES, ids=[c[0] for c in OP_CASES])
def test_operator_roundtrip(case, tmp_path):
    _, build, inputs = case
    _roundtrip(build(), inputs, tmp_path)


# ------------------------------------------------------------------------------ MXNet 1.9.1 files
# Written by MXNet 1.9.1 (Module.save_checkpoint('tiny', 1)): conv -> BatchNorm -> relu -> avg
# pool -> FullyConnected -> SoftmaxOutput, random params; the output MXNet computed for
# np.linspace(-1, 1, 128).reshape(2, 1, 8, 8).
MXNET_SYMBOL_JSON = (
    '{"nodes": [{"op": "null", "name": "data", "inputs": []}, {"op": "null", "name": "conv0_wei'
    'ght", "attrs": {"kernel": "(3, 3)", "num_filter": "2"}, "inputs": []}, {"op": "null", "nam'
    'e": "conv0_bias", "attrs": {"kernel": "(3, 3)", "num_filter": "2"}, "inputs": []}, {"op": '
    '"Convolution", "name": "conv0", "attrs": {"kernel": "(3, 3)", "num_filter": "2"}, "inputs"'
    ': [[0, 0, 0], [1, 0, 0], [2, 0, 0]]}, {"op": "null", "name": "bn0_gamma", "attrs": {"fix_g'
    'amma": "False"}, "inputs": []}, {"op": "null", "name": "bn0_beta", "attrs": {"fix_gamma": '
    '"False"}, "inputs": []}, {"op": "null", "name": "bn0_moving_mean", "attrs": {"__init__": "'
    '[\\"zero\\", {}]", "fix_gamma": "False"}, "inputs": []}, {"op": "null", "name": "bn0_moving_'
    'var", "attrs": {"__init__": "[\\"one\\", {}]", "fix_gamma": "False"}, "inputs": []}, {"op": '
    '"BatchNorm", "name": "bn0", "attrs": {"fix_gamma": "False"}, "inputs": [[3, 0, 0], [4, 0, '
    '0], [5, 0, 0], [6, 0, 1], [7, 0, 1]]}, {"op": "Activation", "name": "relu0", "attrs": {"ac'
    't_type": "relu"}, "inputs": [[8, 0, 0]]}, {"op": "Pooling", "name": "pool0", "attrs": {"ke'
    'rnel": "(2, 2)", "pool_type": "avg", "stride": "(2, 2)"}, "inputs": [[9, 0, 0]]}, {"op": "'
    'Flatten", "name": "flat0", "inputs": [[10, 0, 0]]}, {"op": "null", "name": "fc0_weight", "'
    'attrs": {"num_hidden": "3"}, "inputs": []}, {"op": "null", "name": "fc0_bias", "attrs": {"'
    'num_hidden": "3"}, "inputs": []}, {"op": "FullyConnected", "name": "fc0", "attrs": {"num_h'
    'idden": "3"}, "inputs": [[11, 0, 0], [12, 0, 0], [13, 0, 0]]}, {"op": "null", "name": "sof'
    'tmax_label", "inputs": []}, {"op": "SoftmaxOutput", "name": "softmax", "inputs": [[14, 0, '
    '0], [15, 0, 0]]}], "arg_nodes": [0, 1, 2, 4, 5, 6, 7, 12, 13, 15], "node_row_ptr": [0, 1, '
    '2, 3, 4, 5, 6, 7, 8, 11, 12, 13, 14, 15, 16, 17, 18, 19], "heads": [[16, 0, 0]], "attrs": '
    '{"mxnet_version": ["int", 10901]}}')
MXNET_PARAMS_B64 = (
    "EgEAAAAAAAAAAAAAAAAAAAgAAAAAAAAAyfqT+QAAAAAEAAAAAgAAAAAAAAABAAAAAAAAAAMAAAAAAAAAAwAAAAAAAAAB"
    "AAAAAAAAAAAAAAC4LCi/nXbiPg+e4T5K01o/FPDMPOExT762nIu++PJFv298+z7J7wy/m68Xv+OV0r0cOj4/wGXyPWQL"
    "A7+5hra+DhCgPp1dpL3J+pP5AAAAAAEAAAACAAAAAAAAAAEAAAAAAAAAAAAAAK56s7zsVXS+yfqT+QAAAAABAAAAAgAA"
    "AAAAAAABAAAAAAAAAAAAAABedCm9HoOgvsn6k/kAAAAAAQAAAAIAAAAAAAAAAQAAAAAAAAAAAAAA1AUOvviiNb7J+pP5"
    "AAAAAAIAAAADAAAAAAAAABIAAAAAAAAAAQAAAAAAAAAAAAAAM/F8P28/H7/cXKC+ncPNvkLSmr+ifey+XA4Dv4LeDz+G"
    "FIe90cdPv4aMpT4faTa+Px9fvwi+mL4frpa+wLbfvmNqczx144+/FRgJvv+vAT/2UNo+F9kNPzFIDz/QZz4/eiQPv4qI"
    "2D6hMW6/rlaavmsNdb+zKQY/7LcqPxMnyr2SJ2M/8bqsvk87mj3MnZw9jTcIv4o6YD5yMHg/7zADvws75j4LN569JoNi"
    "Pxuzdz6FHK0+WaakPpYQ/z1hqDK/AyIyPxVyL7/pSfQ9KDSdPmuB1r50i5Q9yfqT+QAAAAABAAAAAwAAAAAAAAABAAAA"
    "AAAAAAAAAAB20sS+LI3rvQK8vj7J+pP5AAAAAAEAAAACAAAAAAAAAAEAAAAAAAAAAAAAAIyAhj+WpJo/yfqT+QAAAAAB"
    "AAAAAgAAAAAAAAABAAAAAAAAAAAAAAC8eEo/zWKBPwgAAAAAAAAAEAAAAAAAAABhcmc6Y29udjBfd2VpZ2h0DgAAAAAA"
    "AABhcmc6Y29udjBfYmlhcw0AAAAAAAAAYXJnOmJuMF9nYW1tYQwAAAAAAAAAYXJnOmJuMF9iZXRhDgAAAAAAAABhcmc6"
    "ZmMwX3dlaWdodAwAAAAAAAAAYXJnOmZjMF9iaWFzEwAAAAAAAABhdXg6Ym4wX21vdmluZ19tZWFuEgAAAAAAAABhdXg6"
    "Ym4wX21vdmluZ192YXI="
)
MXNET_OUTPUT = [[0.16753117740154266, 0.3353218138217926, 0.4971470534801483],
                [0.056295931339263916, 0.4355284571647644, 0.5081756711006165]]


# The same checkpoint (softmax on fc0's output) written to ONNX by MXNet 1.9.1's own exporter
# (onnx 1.13; opset 18; its FullyConnected is Flatten + Shape arithmetic + Gemm + Reshape).
MXNET_ONNX_B64 = (
    "CAg6jQ4KUgoEZGF0YQoMY29udjBfd2VpZ2h0Cgpjb252MF9iaWFzEgVjb252MCIEQ29udioMCgVncm91cBgBoAECKhUK"
    "DGtlcm5lbF9zaGFwZUADQAOgAQcKggEKBWNvbnYwCglibjBfZ2FtbWEKCGJuMF9iZXRhCg9ibjBfbW92aW5nX21lYW4K"
    "DmJuMF9tb3ZpbmdfdmFyEgNibjAaA2JuMCISQmF0Y2hOb3JtYWxpemF0aW9uKhEKB2Vwc2lsb24VbxKDOqABASoSCght"
    "b21lbnR1bRVmZmY/oAEBChkKA2JuMBIFcmVsdTAaBXJlbHUwIgRSZWx1CnAKBXJlbHUwEgVwb29sMCILQXZlcmFnZVBv"
    "b2wqEAoJY2VpbF9tb2RlGACgAQIqGAoRY291bnRfaW5jbHVkZV9wYWQYAaABAioVCgxrZXJuZWxfc2hhcGVAAkACoAEH"
    "KhAKB3N0cmlkZXNAAkACoAEHCh4KBXBvb2wwEgVmbGF0MBoFZmxhdDAiB0ZsYXR0ZW4KHgoFZmxhdDASDmZjMF9vcmln"
    "X3NoYXBlIgVTaGFwZQogCg5mYzBfb3JpZ19zaGFwZRIHZmMwX2RpbSIFU2hhcGUKOgoFZmxhdDASEmZjMF9kYXRhX2Zs"
    "YXR0ZW5lZCIHRmxhdHRlbioUCgRheGlzGP///////////wGgAQIKeQoSZmMwX2RhdGFfZmxhdHRlbmVkCgpmYzBfd2Vp"
    "Z2h0CghmYzBfYmlhcxIIZmMwX2dlbW0iBEdlbW0qDwoFYWxwaGEVAACAP6ABASoOCgRiZXRhFQAAgD+gAQEqDQoGdHJh"
    "bnNBGACgAQIqDQoGdHJhbnNCGAGgAQIKJQoHZmMwX2RpbQoFZmMwXzESDmZjMGRpbV9taW51c18xIgNTdWIKQAoOZmMw"
    "X29yaWdfc2hhcGUKBWZjMF8wCg5mYzBkaW1fbWludXNfMRIQZmMwX3NoYXBlX3NsaWNlZCIFU2xpY2UKRgoQZmMwX3No"
    "YXBlX3NsaWNlZAoOZmMwX251bV9oaWRkZW4SDWZjMF9zaGFwZV9uZXciBkNvbmNhdCoLCgRheGlzGACgAQIKLAoIZmMw"
    "X2dlbW0KDWZjMF9zaGFwZV9uZXcSA2ZjMBoDZmMwIgdSZXNoYXBlCioKA2ZjMBIEcHJvYiIHU29mdG1heCoUCgRheGlz"
    "GP///////////wGgAQISFW14bmV0X2NvbnZlcnRlZF9tb2RlbCpiCAIIAQgDCAMQASJIuCwov5124j4PnuE+StNaPxTw"
    "zDzhMU++tpyLvvjyRb9vfPs+ye8Mv5uvF7/jldK9HDo+P8Bl8j1kCwO/uYa2vg4QoD6dXaS9Qgxjb252MF93ZWlnaHQq"
    "GggCEAEiCK56s7zsVXS+Qgpjb252MF9iaWFzKhkIAhABIghedCm9HoOgvkIJYm4wX2dhbW1hKhgIAhABIgjUBQ6++KI1"
    "vkIIYm4wX2JldGEqHwgCEAEiCIyAhj+WpJo/Qg9ibjBfbW92aW5nX21lYW4qHggCEAEiCLx4Sj/NYoE/Qg5ibjBfbW92"
    "aW5nX3ZhcirtAQgDCBIQASLYATPxfD9vPx+/3Fygvp3Dzb5C0pq/on3svlwOA7+C3g8/hhSHvdHHT7+GjKU+H2k2vj8f"
    "X78Ivpi+H66WvsC2375janM8deOPvxUYCb7/rwE/9lDaPhfZDT8xSA8/0Gc+P3okD7+KiNg+oTFuv65Wmr5rDXW/sykG"
    "P+y3Kj8TJ8q9kidjP/G6rL5PO5o9zJ2cPY03CL+KOmA+cjB4P+8wA78LO+Y+CzeevSaDYj8bs3c+hRytPlmmpD6WEP89"
    "YagyvwMiMj8Vci+/6Un0PSg0nT5rgda+dIuUPUIKZmMwX3dlaWdodCocCAMQASIMdtLEviyN670CvL4+QghmYzBfYmlh"
    "cyoOCAEQBzoBAEIFZmMwXzAqDggBEAc6AQFCBWZjMF8xKhcIARAHOgEDQg5mYzBfbnVtX2hpZGRlbioPCAEQBzoBAEIG"
    "cHJvYl8wWh4KBGRhdGESFgoUCAESEAoCCAIKAggBCgIICAoCCAhaJgoMY29udjBfd2VpZ2h0EhYKFAgBEhAKAggCCgII"
    "AQoCCAMKAggDWhgKCmNvbnYwX2JpYXMSCgoICAESBAoCCAJaFwoJYm4wX2dhbW1hEgoKCAgBEgQKAggCWhYKCGJuMF9i"
    "ZXRhEgoKCAgBEgQKAggCWh0KD2JuMF9tb3ZpbmdfbWVhbhIKCggIARIECgIIAlocCg5ibjBfbW92aW5nX3ZhchIKCggI"
    "ARIECgIIAlocCgpmYzBfd2VpZ2h0Eg4KDAgBEggKAggDCgIIEloWCghmYzBfYmlhcxIKCggIARIECgIIA2IWCgRwcm9i"
    "Eg4KDAgBEggKAggCCgIIA0ICEBI="
)


def _mxnet_files(tmp_path):
    sym_file = tmp_path / "tiny-symbol.json"
    params_file = tmp_path / "tiny-0001.params"
    sym_file.write_text(MXNET_SYMBOL_JSON)
    params_file.write_bytes(base64.b64decode("".join(MXNET_PARAMS_B64)))
    return str(sym_file), str(params_file)


def test_mxnet_checkpoint_exports(tmp_path):
    sym_file, params_file = _mxnet_files(tmp_path)
    x = np.linspace(-1, 1, 128).reshape(2, 1, 8, 8).astype(np.float32)
    path = mx.onnx.export_model(sym_file, params_file, [(2, 1, 8, 8)], np.float32,
                                str(tmp_path / "tiny.onnx"))
    got = _run_onnx(path, {"data": x})[0]
    np.testing.assert_allclose(got, MXNET_OUTPUT, rtol=RTOL, atol=ATOL)
    sym, arg, aux = mx.model.load_checkpoint(str(tmp_path / "tiny"), 1)
    np.testing.assert_allclose(_forward(sym, arg, aux, {"data": x})[0], MXNET_OUTPUT,
                               rtol=RTOL, atol=ATOL)
    # MXNet 1.x's older spelling and argument names.
    legacy = mx.contrib.onnx.export_model(sym, [arg, aux], [(2, 1, 8, 8)], np.float32,
                                          str(tmp_path / "legacy.onnx"))
    np.testing.assert_allclose(_run_onnx(legacy, {"data": x})[0], MXNET_OUTPUT, rtol=RTOL,
                               atol=ATOL)
    newer = mx.contrib.onnx.export_model(sym, dict(arg, **aux), in_shapes=[(2, 1, 8, 8)],
                                         onnx_file_path=str(tmp_path / "newer.onnx"))
    np.testing.assert_allclose(_run_onnx(newer, {"data": x})[0], MXNET_OUTPUT, rtol=RTOL,
                               atol=ATOL)
    sym2, arg2, aux2 = mx.contrib.onnx.import_model(path)
    assert sym2.name == "softmax"  # MXNet's node names come back
    assert sorted(aux2) == ["bn0_moving_mean", "bn0_moving_var"]
    assert "conv0_weight" in arg2 and "fc0_bias" in arg2
    np.testing.assert_allclose(_forward(sym2, arg2, aux2, {"data": x})[0], MXNET_OUTPUT,
                               rtol=RTOL, atol=ATOL)


def test_import_onnx_written_by_mxnet(tmp_path):
    path = tmp_path / "tiny.mx.onnx"
    path.write_bytes(base64.b64decode("".join(MXNET_ONNX_B64)))
    x = np.linspace(-1, 1, 128).reshape(2, 1, 8, 8).astype(np.float32)
    sym, arg, aux = mx.contrib.onnx.import_model(str(path))
    np.testing.assert_allclose(_forward(sym, arg, aux, {"data": x})[0], MXNET_OUTPUT,
                               rtol=RTOL, atol=ATOL)
    assert sorted(aux) == ["bn0_moving_mean", "bn0_moving_var"]
    meta = mx.contrib.onnx.get_model_metadata(str(path))
    assert meta == {"input_tensor_data": [("data", (2, 1, 8, 8), TensorProto.FLOAT)],
                    "output_tensor_data": [("prob", (2, 3))]}


def test_export_keyword_forms(tmp_path):
    sym_file, params_file = _mxnet_files(tmp_path)
    x = np.linspace(-1, 1, 128).reshape(2, 1, 8, 8).astype(np.float32)
    path = mx.onnx.export_model(sym_file, params_file, input_shape=[(2, 1, 8, 8)],
                                input_type=np.float32, onnx_file_path=str(tmp_path / "k.onnx"),
                                run_shape_inference=True, verbose=True)
    np.testing.assert_allclose(_run_onnx(path, {"data": x})[0], MXNET_OUTPUT, rtol=RTOL,
                               atol=ATOL)
    dyn = mx.onnx.export_model(sym_file, params_file, [(2, 1, 8, 8)], np.float32,
                               str(tmp_path / "d.onnx"), dynamic=True)
    model = onnx.load(dyn)
    assert not model.graph.input[0].type.tensor_type.shape.dim[0].HasField("dim_value")
    np.testing.assert_allclose(_run_onnx(dyn, {"data": x[:1]})[0], MXNET_OUTPUT[:1],
                               rtol=RTOL, atol=ATOL)
    assert model.opset_import[0].version == mx.onnx.OPSET == 13
    assert "Convolution" in mx.onnx.get_operator_support()


def test_export_from_a_file_of_no_parameters(tmp_path):
    # what Gluon's export writes for a block without parameters: nd.load gives [] for it
    sym = mx.sym.relu(mx.sym.var("data")) * 2
    sym.save(str(tmp_path / "net-symbol.json"))
    mx.nd.save(str(tmp_path / "net-0000.params"), {})
    path = mx.onnx.export_model(str(tmp_path / "net-symbol.json"),
                                str(tmp_path / "net-0000.params"), [(2, 3)], np.float32,
                                str(tmp_path / "net.onnx"))
    x = _data(2, 3)
    np.testing.assert_allclose(_run_onnx(path, {"data": x})[0], np.maximum(x, 0) * 2)


def test_dynamic_batch(tmp_path):
    x = mx.sym.var("data")
    h = mx.sym.Convolution(x, kernel=(3, 3), num_filter=4, name="conv")
    h = mx.sym.Reshape(mx.sym.Activation(h, act_type="relu"), shape=(0, -1))
    h = mx.sym.Reshape(h, shape=(-1, 4, 16))
    out = mx.sym.softmax(mx.sym.FullyConnected(h, num_hidden=3, flatten=True, name="fc"))
    args, _ = _random_params(out, {"data": (2, 2, 6, 6)})
    path = mx.onnx.export_model(out, args, [(2, 2, 6, 6)], np.float32,
                                str(tmp_path / "dyn.onnx"), dynamic=True)
    data = _data(5, 2, 6, 6)
    np.testing.assert_allclose(_run_onnx(path, {"data": data})[0],
                               _forward(out, args, {}, {"data": data})[0], rtol=RTOL, atol=ATOL)


def test_signatures_match_mxnet():
    import inspect
    sig = inspect.signature(mx.onnx.export_model)
    assert [(p.name, p.default) for p in sig.parameters.values()] == [
        ("sym", inspect.Parameter.empty), ("params", inspect.Parameter.empty),
        ("in_shapes", None), ("in_types", np.float32), ("onnx_file_path", "model.onnx"),
        ("verbose", False), ("dynamic", False), ("dynamic_input_shapes", None),
        ("run_shape_inference", False), ("input_type", None), ("input_shape", None)]
    # MXNet's contrib name forwards every argument, positional ones included.
    assert mx.contrib.onnx.export_model is mx.onnx.export_model


def test_in_shapes_from_variable_shape(tmp_path):
    x = mx.sym.var("data", shape=(3, 6))
    out = mx.sym.FullyConnected(x, num_hidden=2, name="fc")
    args, _ = _random_params(out, {"data": (3, 6)})
    path = mx.onnx.export_model(out, args, onnx_file_path=str(tmp_path / "s.onnx"))
    data = _data(3, 6)
    np.testing.assert_allclose(_run_onnx(path, {"data": data})[0],
                               _forward(out, args, {}, {"data": data})[0], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("codes,reverse", [((-3, 0), False), ((0, 0, -1), True),
                                           ((-2,), False), ((0, -4, -1, 2, 0), False),
                                           ((-3, -1), True), ((0, -3), False)])
def test_dynamic_reshape_codes_follow_the_batch(codes, reverse, tmp_path):
    """Reshape codes that merge or split the batch are computed from the run-time shape."""
    x = mx.sym.var("data")
    out = mx.sym.Reshape(mx.sym.relu(x), shape=codes, reverse=reverse, name="r")
    path = mx.onnx.export_model(out, {}, [(2, 4, 6)], np.float32, str(tmp_path / "r.onnx"),
                                dynamic=True)
    for batch in (2, 5):
        data = _data(batch, 4, 6)
        got = _run_onnx(path, {"data": data})[0]
        want = _forward(out, {}, {}, {"data": data})[0]
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


def test_broadcast_like_keeps_its_shape_input(tmp_path):
    a, b = mx.sym.var("a"), mx.sym.var("b")
    out = mx.sym.broadcast_like(mx.sym.sum(a, axis=1, keepdims=True), b)
    path = mx.onnx.export_model(out, {}, [(2, 4), (2, 4)], np.float32,
                                str(tmp_path / "b.onnx"), dynamic=True)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["a", "b"]  # as MXNet's export
    feeds = {"a": _data(5, 4), "b": _data(5, 4, seed=2)}
    np.testing.assert_allclose(sess.run(None, feeds)[0], _forward(out, {}, {}, feeds)[0],
                               rtol=RTOL, atol=ATOL)


def test_rrelu_exports_its_inference_slope(tmp_path):
    out = mx.sym.LeakyReLU(mx.sym.var("data"), act_type="rrelu", lower_bound=0.1,
                           upper_bound=0.3, name="rr")
    path = mx.onnx.export_model(out, {}, [(2, 3)], np.float32, str(tmp_path / "rr.onnx"))
    data = _data(2, 3)
    got = _run_onnx(path, {"data": data})
    np.testing.assert_allclose(got[0], np.where(data > 0, data, 0.2 * data), rtol=RTOL)
    for g, w in zip(got, _forward(out, {}, {}, {"data": data})):
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL)


def test_contrib_export_takes_positional_dynamic(tmp_path):
    fc = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=3, name="fc")
    args, _ = _random_params(fc, {"data": (2, 4)})
    path = mx.contrib.onnx.export_model(fc, args, [(2, 4)], np.float32,
                                        str(tmp_path / "c.onnx"), False, True)
    data = _data(7, 4)
    np.testing.assert_allclose(_run_onnx(path, {"data": data})[0],
                               _forward(fc, args, {}, {"data": data})[0], rtol=RTOL, atol=ATOL)


# ------------------------------------------------------------------------------ other exporters
def _onnx_model(nodes, inputs, outputs, inits, opset):
    graph = helper.make_graph(nodes, "g", inputs, outputs,
                              initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


def _import_outputs(model, inputs, tmp_path):
    """(onnxruntime's outputs, the imported symbol's outputs) of an ONNX model."""
    path = str(tmp_path / "ext.onnx")
    onnx.save(model, path)
    expected = _run_onnx(path, inputs)
    sym, arg, aux = mx.contrib.onnx.import_model(path)
    got = _forward(sym, arg, aux, inputs)
    assert len(got) == len(expected)
    return expected, got


def _import_and_compare(model, inputs, tmp_path):
    expected, got = _import_outputs(model, inputs, tmp_path)
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("opset", [11, 13])
def test_import_foreign_cnn(opset, tmp_path):
    """The op spellings of other exporters: Constant shapes, Gemm without transB, MatMul,
    asymmetric-free Conv with bias, Unsqueeze/Squeeze, GlobalAveragePool, Softmax."""
    rng = np.random.RandomState(0)
    f32 = TensorProto.FLOAT
    inits = {"W": rng.randn(4, 3, 3, 3).astype(np.float32), "B": rng.randn(4).astype(np.float32),
             "scale": rng.rand(4).astype(np.float32) + 0.5, "bias": rng.randn(4).astype(np.float32),
             "mean": rng.randn(4).astype(np.float32), "var": rng.rand(4).astype(np.float32) + 0.5,
             "G": rng.randn(16, 5).astype(np.float32), "GC": rng.randn(5).astype(np.float32),
             "M": rng.randn(5, 3).astype(np.float32), "two": np.array(2.0, np.float32)}
    shape_node = helper.make_node("Constant", [], ["shp"], value=numpy_helper.from_array(
        np.array([0, -1], np.int64)))
    nodes = [
        helper.make_node("Conv", ["x", "W", "B"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["bn"],
                         epsilon=1e-4),
        helper.make_node("Relu", ["bn"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        shape_node,
        helper.make_node("Reshape", ["p", "shp"], ["flat"]),
        helper.make_node("Gemm", ["flat", "G", "GC"], ["g"], alpha=0.5, beta=2.0),
        helper.make_node("Mul", ["g", "two"], ["g2"]),
        helper.make_node("MatMul", ["g2", "M"], ["mm"]),
        helper.make_node("Softmax", ["mm"], ["prob"], axis=1),
        helper.make_node("GlobalAveragePool", ["r"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["gapf"], axis=1),
        helper.make_node("Sigmoid", ["gapf"], ["sg"]),
        helper.make_node("Identity", ["sg"], ["out2"]),
    ]
    model = _onnx_model(nodes, [helper.make_tensor_value_info("x", f32, [2, 3, 4, 4])],
                        [helper.make_tensor_value_info("prob", f32, [2, 3]),
                         helper.make_tensor_value_info("out2", f32, [2, 4])], inits, opset)
    _import_and_compare(model, {"x": _data(2, 3, 4, 4)}, tmp_path)


def test_import_foreign_tensor_ops(tmp_path):
    f32 = TensorProto.FLOAT
    i64 = lambda v: numpy_helper.from_array(np.array(v, np.int64))  # noqa: E731
    nodes = [
        helper.make_node("Constant", [], ["ax"], value=i64([1])),
        helper.make_node("Unsqueeze", ["x", "ax"], ["u"]),
        helper.make_node("Squeeze", ["u", "ax"], ["s"]),
        helper.make_node("Transpose", ["s"], ["t"], perm=[0, 2, 1]),
        helper.make_node("Constant", [], ["sp"], value=i64([1, 2])),
        helper.make_node("Split", ["t", "sp"], ["a", "b"], axis=1),
        helper.make_node("Concat", ["b", "a"], ["cat"], axis=1),
        helper.make_node("Constant", [], ["st"], value=i64([1])),
        helper.make_node("Constant", [], ["en"], value=i64([3])),
        helper.make_node("Constant", [], ["sax"], value=i64([2])),
        helper.make_node("Slice", ["cat", "st", "en", "sax"], ["sl"]),
        helper.make_node("ReduceMean", ["sl"], ["rm"], axes=[2], keepdims=0),
        helper.make_node("Exp", ["rm"], ["e"]),
        helper.make_node("Sub", ["e", "rm"], ["d"]),
        helper.make_node("Abs", ["d"], ["ab"]),
        helper.make_node("Sqrt", ["ab"], ["sq"]),
        helper.make_node("LeakyRelu", ["sq"], ["out"], alpha=0.2),
    ]
    model = _onnx_model(nodes, [helper.make_tensor_value_info("x", f32, [2, 4, 3])],
                        [helper.make_tensor_value_info("out", f32, [2, 3])], {}, 13)
    _import_and_compare(model, {"x": _data(2, 4, 3)}, tmp_path)


@pytest.mark.parametrize("opset", [11, 13])
def test_import_folds_shape_arithmetic(opset, tmp_path):
    """PyTorch's flatten: Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1]))."""
    f32 = TensorProto.FLOAT
    i64 = lambda v: numpy_helper.from_array(np.array(v, np.int64))  # noqa: E731
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Constant", [], ["zero"], value=i64(0)),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Constant", [], ["ax"], value=i64([0])),
        helper.make_node("Unsqueeze", ["n", "ax"], ["n1"]) if opset >= 13 else
        helper.make_node("Unsqueeze", ["n"], ["n1"], axes=[0]),
        helper.make_node("Constant", [], ["m1"], value=i64([-1])),
        helper.make_node("Concat", ["n1", "m1"], ["shp"], axis=0),
        helper.make_node("Reshape", ["x", "shp"], ["flat"]),
        helper.make_node("MatMul", ["flat", "W"], ["y"]),
    ]
    model = _onnx_model(nodes, [helper.make_tensor_value_info("x", f32, [2, 3, 4])],
                        [helper.make_tensor_value_info("y", f32, [2, 5])],
                        {"W": _data(12, 5, seed=3)}, opset)
    _import_and_compare(model, {"x": _data(2, 3, 4)}, tmp_path)


# MXNet 1.9.1's export (onnx 1.13, opset 13) of FullyConnected(8) -> relu -> FullyConnected(4)
# -> softmax on data (3, 5): its FCs reshape through Shape/Slice/Concat arithmetic around
# Flatten(axis=-1).
MXNET_MLP_ONNX_B64 = (
    "CAg6yQ0KHQoEZGF0YRIOZmMxX29yaWdfc2hhcGUiBVNoYXBlCiAKDmZjMV9vcmlnX3NoYXBlEgdmYzFfZGltIgVTaGFwZQo5",
    "CgRkYXRhEhJmYzFfZGF0YV9mbGF0dGVuZWQiB0ZsYXR0ZW4qFAoEYXhpcxj///////////8BoAECCnkKEmZjMV9kYXRhX2Zs",
    "YXR0ZW5lZAoKZmMxX3dlaWdodAoIZmMxX2JpYXMSCGZjMV9nZW1tIgRHZW1tKg8KBWFscGhhFQAAgD+gAQEqDgoEYmV0YRUA",
    "AIA/oAEBKg0KBnRyYW5zQRgAoAECKg0KBnRyYW5zQhgBoAECCiUKB2ZjMV9kaW0KBWZjMV8xEg5mYzFkaW1fbWludXNfMSID",
    "U3ViCkAKDmZjMV9vcmlnX3NoYXBlCgVmYzFfMAoOZmMxZGltX21pbnVzXzESEGZjMV9zaGFwZV9zbGljZWQiBVNsaWNlCkYK",
    "EGZjMV9zaGFwZV9zbGljZWQKDmZjMV9udW1faGlkZGVuEg1mYzFfc2hhcGVfbmV3IgZDb25jYXQqCwoEYXhpcxgAoAECCiwK",
    "CGZjMV9nZW1tCg1mYzFfc2hhcGVfbmV3EgNmYzEaA2ZjMSIHUmVzaGFwZQoZCgNmYzESBXJlbHUxGgVyZWx1MSIEUmVsdQoe",
    "CgVyZWx1MRIOZmMyX29yaWdfc2hhcGUiBVNoYXBlCiAKDmZjMl9vcmlnX3NoYXBlEgdmYzJfZGltIgVTaGFwZQo6CgVyZWx1",
    "MRISZmMyX2RhdGFfZmxhdHRlbmVkIgdGbGF0dGVuKhQKBGF4aXMY////////////AaABAgp5ChJmYzJfZGF0YV9mbGF0dGVu",
    "ZWQKCmZjMl93ZWlnaHQKCGZjMl9iaWFzEghmYzJfZ2VtbSIER2VtbSoPCgVhbHBoYRUAAIA/oAEBKg4KBGJldGEVAACAP6AB",
    "ASoNCgZ0cmFuc0EYAKABAioNCgZ0cmFuc0IYAaABAgolCgdmYzJfZGltCgVmYzJfMRIOZmMyZGltX21pbnVzXzEiA1N1YgpA",
    "Cg5mYzJfb3JpZ19zaGFwZQoFZmMyXzAKDmZjMmRpbV9taW51c18xEhBmYzJfc2hhcGVfc2xpY2VkIgVTbGljZQpGChBmYzJf",
    "c2hhcGVfc2xpY2VkCg5mYzJfbnVtX2hpZGRlbhINZmMyX3NoYXBlX25ldyIGQ29uY2F0KgsKBGF4aXMYAKABAgosCghmYzJf",
    "Z2VtbQoNZmMyX3NoYXBlX25ldxIDZmMyGgNmYzIiB1Jlc2hhcGUKKAoDZmMyEgJzbSIHU29mdG1heCoUCgRheGlzGP//////",
    "/////wGgAQISFW14bmV0X2NvbnZlcnRlZF9tb2RlbCq1AQgICAUQASKgAYOeKb5yKk+/Oh2OvmmiZz5Ow/E9W1I5P0AS4L5t",
    "yJG+jQvHvnAlRr7h0sS9Q9ngPpfEcT9AOWY/c0Z9P+e9WD873z4/x901P6Eacb8qhbq+HU8xPTN1pT7Zbnc+QhtBv/MUWr72",
    "C2O+4ZS0Pt2Ui75SyC2/A97VvfjzJT9tg3c+x+OovaZmU794+zy8D5gdv9XGfz985/m+zwufvVHLVz9CCmZjMV93ZWlnaHQq",
    "MAgIEAEiIN6KgD0wLZG+nAapvrd4sT4sszq/4yEQP099R7+bJvS+QghmYzFfYmlhcyoOCAEQBzoBAEIFZmMxXzAqDggBEAc6",
    "AQFCBWZjMV8xKhcIARAHOgEIQg5mYzFfbnVtX2hpZGRlbiqVAQgECAgQASKAASGsmb6sOti+XukFP34wFL/MqV4/97vmvHVC",
    "F78sFRc/ZC93OwXqI79vOT8+R389vpJoTb/Z6u6+WTU0vwhoiz7UA2U/WhDIvteLEL/8qF0/LQjEPkuqkT5icXe/tTXfPjtP",
    "PT6JPaY+7CHEPdPF+j54jV09dsZlv0YO8L7PS+K+QgpmYzJfd2VpZ2h0KiAIBBABIhAH/Da/AQQlP8UOQT2RByY/QghmYzJf",
    "YmlhcyoOCAEQBzoBAEIFZmMyXzAqDggBEAc6AQFCBWZjMl8xKhcIARAHOgEEQg5mYzJfbnVtX2hpZGRlbioNCAEQBzoBAEIE",
    "c21fMFoWCgRkYXRhEg4KDAgBEggKAggDCgIIBVocCgpmYzFfd2VpZ2h0Eg4KDAgBEggKAggICgIIBVoWCghmYzFfYmlhcxIK",
    "CggIARIECgIICFocCgpmYzJfd2VpZ2h0Eg4KDAgBEggKAggECgIICFoWCghmYzJfYmlhcxIKCggIARIECgIIBGIUCgJzbRIO",
    "CgwIARIICgIIAwoCCARCAhAN",
)


def test_import_mxnet_exported_mlp(tmp_path):
    path = str(tmp_path / "mlp.mx.onnx")
    with open(path, "wb") as f:
        f.write(base64.b64decode("".join(MXNET_MLP_ONNX_B64)))
    data = _data(3, 5)
    want = _run_onnx(path, {"data": data})[0]
    sym, arg, aux = mx.contrib.onnx.import_model(path)
    np.testing.assert_allclose(_forward(sym, arg, aux, {"data": data})[0], want, rtol=RTOL,
                               atol=ATOL)


def test_import_mixed_type_and_rank_operands(tmp_path):
    """Pow with an int64 exponent (MXNet's export of square), Where with a lower-rank
    constant (its SequenceMask), Gather with a 0-d index (drops the axis), Flatten(-1)."""
    f32 = TensorProto.FLOAT
    nodes = [
        helper.make_node("Pow", ["x", "two"], ["sq"]),
        helper.make_node("Greater", ["x", "zero"], ["pos"]),
        helper.make_node("Where", ["pos", "sq", "fill"], ["w"]),
        helper.make_node("Gather", ["w", "col"], ["g"], axis=1),
        helper.make_node("Flatten", ["w"], ["f"], axis=-1),
        helper.make_node("Where", ["pos", "scalar", "x"], ["w0"]),
    ]
    inits = {"two": np.array([2], np.int64), "zero": np.array(0.0, np.float32),
             "fill": np.array([-7.0], np.float32), "col": np.array(2, np.int64),
             "scalar": np.array(3.0, np.float32)}
    model = _onnx_model(nodes, [helper.make_tensor_value_info("x", f32, [3, 4])],
                        [helper.make_tensor_value_info("w", f32, [3, 4]),
                         helper.make_tensor_value_info("g", f32, [3]),
                         helper.make_tensor_value_info("f", f32, [3, 4]),
                         helper.make_tensor_value_info("w0", f32, [3, 4])], inits, 13)
    data = _data(3, 4)
    _import_and_compare(model, {"x": data}, tmp_path)  # shapes compared too: g is (3,)


# ------------------------------------------------------------------------------ errors
def test_export_unsupported_operator_names_op_and_node(tmp_path):
    out = mx.sym.digamma(mx.sym.var("data"), name="my_digamma")
    with pytest.raises(mx.MXNetError, match="digamma.*my_digamma"):
        mx.onnx.export_model(out, {}, [(2, 3)], np.float32, str(tmp_path / "x.onnx"))


def test_export_argument_errors(tmp_path):
    fc = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=3, name="fc")
    args, _ = _random_params(fc, {"data": (2, 4)})
    with pytest.raises(ValueError, match="1 input shapes given for the 2 inputs"):
        mx.onnx.export_model(mx.sym.var("a") + mx.sym.var("b"), {}, [(2, 4)], np.float32,
                             str(tmp_path / "x.onnx"))
    with pytest.raises(ValueError, match="fc_weight"):  # a parameter missing from params
        mx.onnx.export_model(fc, {"fc_bias": args["fc_bias"]}, [(2, 4)], np.float32,
                             str(tmp_path / "x.onnx"))
    with pytest.raises(ValueError, match="files or objects|file path"):
        mx.onnx.export_model(42, args, [(2, 4)])
    # An ONNX node binds one type to its operands: MXNet's infer_type error, not a bad file.
    with pytest.raises(mx.MXNetError, match="in_types.*float64"):
        mx.onnx.export_model(fc, args, [(2, 4)], np.float64, str(tmp_path / "x.onnx"))
    with pytest.raises(ValueError, match="dynamic=True"):
        mx.onnx.export_model(fc, args, [(2, 4)], dynamic_input_shapes=[(None, 4)])
    with pytest.raises(ValueError, match="2 dynamic_input_shapes"):
        mx.onnx.export_model(fc, args, [(2, 4)], dynamic=True,
                             dynamic_input_shapes=[(None, 4), (None,)])
    with pytest.raises(ValueError, match="differ in rank"):
        mx.onnx.export_model(fc, args, [(2, 4)], dynamic=True, dynamic_input_shapes=[(None,)])


def test_export_in_shapes_as_mxnet_pairs_them(tmp_path):
    # MXNet 1.9.1 pairs in_shapes with every variable but '<head>_label' and ignores extra
    # shapes; its export of these keeps the graph inputs ['data', 'lbl'] and ['data'].
    data = _data(4, 3)
    out = mx.sym.LogisticRegressionOutput(mx.sym.var("data"), label=mx.sym.var("lbl"))
    path = str(tmp_path / "lbl.onnx")
    mx.onnx.export_model(out, {}, [(4, 3), (4, 3)], np.float32, path)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["data", "lbl"]
    (got,) = sess.run(None, {"data": data, "lbl": np.zeros((4, 3), np.float32)})
    np.testing.assert_allclose(got, 1 / (1 + np.exp(-data)), rtol=RTOL, atol=ATOL)
    mx.onnx.export_model(out, {}, [(4, 3)], np.float32, path)  # the label dropped, as before
    assert [i.name for i in onnx.load(path).graph.input] == ["data"]
    out = mx.sym.relu(mx.sym.var("data"))
    mx.onnx.export_model(out, {}, [(4, 3), (5,)], [np.float32, np.int32], path)
    assert [i.name for i in onnx.load(path).graph.input] == ["data"]
    np.testing.assert_array_equal(_run_onnx(path, {"data": data})[0], np.maximum(data, 0))


def test_import_unsupported_operator(tmp_path):
    f32 = TensorProto.FLOAT
    model = _onnx_model([helper.make_node("Det", ["x"], ["y"], name="det")],
                        [helper.make_tensor_value_info("x", f32, [2, 3, 3])],
                        [helper.make_tensor_value_info("y", f32, [2])], {}, 13)
    path = str(tmp_path / "h.onnx")
    onnx.save(model, path)
    with pytest.raises(mx.MXNetError, match="Det.*det"):
        mx.contrib.onnx.import_model(path)
    with pytest.raises(NotImplementedError, match="import_model"):
        mx.contrib.onnx.import_to_gluon(path, mx.cpu())


def test_oxnet_imports_without_onnx():
    import subprocess
    code = ("import sys; sys.modules['onnx'] = None; sys.modules['onnxruntime'] = None; "
            "import oxnet as mx; print(mx.onnx.OPSET, callable(mx.contrib.onnx.import_model))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["13", "True"]


def test_missing_onnx_package_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)
    fc = mx.sym.FullyConnected(mx.sym.var("data"), num_hidden=3, name="fc")
    with pytest.raises(ImportError, match="pip install onnx"):
        mx.onnx.export_model(fc, {}, [(2, 4)])
    with pytest.raises(ImportError, match="pip install onnx"):
        mx.contrib.onnx.import_model(str(tmp_path / "none.onnx"))
