"""mx.onnx.export_model for the index, sorting, logical, constructor and sequence operators:
each exported graph runs in onnxruntime and gives oxnet's executor outputs (values within
rtol 1e-4, integer and index outputs exactly, shapes and dtypes equal); parameter values ONNX
cannot express raise MXNetError naming the op and the node."""
import numpy as np
import pytest

import oxnet as mx

pytest.importorskip("onnx", reason="onnx is not installed (pip install onnx)")
ort = pytest.importorskip("onnxruntime",
                          reason="onnxruntime is not installed (pip install onnxruntime)")
from test_onnx import _data, _forward, _random_params, _run_onnx  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5


def _check(sym, inputs, tmp_path, exact=False):
    """Exports ``sym`` (random params), runs it in onnxruntime, compares with the executor.
    ``exact``: every output compared exactly (float-typed indices, masks); integer outputs
    always are."""
    shapes = {k: inputs[k].shape for k in sym.list_arguments() if k in inputs}
    args, aux = _random_params(sym, shapes)
    expected = _forward(sym, args, aux, inputs)
    path = str(tmp_path / "model.onnx")
    mx.onnx.export_model(sym, dict(args, **aux), list(shapes.values()),
                         [inputs[k].dtype for k in shapes], path)
    # Every data input is a graph input, also one whose shape alone is used (slice_like's),
    # as in MXNet's export.
    assert [i.name for i in ort.InferenceSession(path).get_inputs()] == list(shapes)
    got = _run_onnx(path, {k: inputs[k] for k in shapes})
    assert len(got) == len(expected)
    for i, (e, g) in enumerate(zip(expected, got)):
        assert (g.shape, g.dtype) == (e.shape, e.dtype), "output %d" % i
        if exact or e.dtype.kind in "iub":
            np.testing.assert_array_equal(g, e, err_msg="output %d" % i)
        else:
            np.testing.assert_allclose(g, e, rtol=RTOL, atol=ATOL, err_msg="output %d" % i)


_VARS = {}


def _v(name="data"):
    """One variable per name, so a case's graph has one input per name."""
    return _VARS.setdefault(name, mx.sym.var(name))


def _distinct(*shape, seed=1):
    """Values without ties, so that sorting and arg-reductions have one answer."""
    rng = np.random.RandomState(seed)
    return (rng.permutation(int(np.prod(shape))).reshape(shape) * 0.37 - 3).astype(np.float32)


def _ints(*shape, lo=-4, hi=5, seed=3, dtype=np.int32):
    return np.random.RandomState(seed).randint(lo, hi, size=shape).astype(dtype)


def _detections(batch, n, seed=4):
    """(batch, n, 6) rows of class id, score and corners (or center and size) that overlap."""
    rng = np.random.RandomState(seed)
    x = rng.rand(batch, n, 6).astype(np.float32)
    x[..., 0] = rng.randint(0, 3, (batch, n))
    x[..., 2:4] *= 10
    x[..., 4:6] = x[..., 2:4] + 1 + 5 * rng.rand(batch, n, 2)
    return x


# (id, symbol builder, {input: array}, exact)
CASES = [
    ("argmax_argmin", lambda: mx.sym.Group([
        mx.sym.argmax(_v(), axis=1), mx.sym.argmin(_v(), axis=-1, keepdims=True),
        mx.sym.argmax(_v()), mx.sym.argmin(_v(), keepdims=True),
        mx.sym.argmax(mx.sym.reshape(_v(), shape=(-1,)), axis=0)]),
     {"data": _distinct(2, 3, 4)}, True),
    ("argmax_int", lambda: mx.sym.argmax(_v(), axis=0),
     {"data": np.array([[1, 7, 3], [4, 2, 9]], np.int32)}, True),
    ("topk_mask_int", lambda: mx.sym.topk(_v(), k=1, axis=0, ret_typ="mask"),
     {"data": np.array([[1, 7, 3], [4, 2, 9]], np.int32)}, True),
    ("topk", lambda: mx.sym.Group([
        mx.sym.topk(_v(), k=2),
        mx.sym.topk(_v(), k=2, axis=1, ret_typ="value", is_ascend=True),
        mx.sym.topk(_v(), k=3, axis=0, ret_typ="both", dtype="int32"),
        mx.sym.topk(_v(), k=2, axis=-1, ret_typ="mask"),
        mx.sym.topk(_v(), k=0, axis=2, ret_typ="both", dtype="int64"),
        mx.sym.topk(_v(), k=5, axis=None, ret_typ="indices")]),
     {"data": _distinct(3, 4, 5)}, True),
    ("argsort", lambda: mx.sym.Group([
        mx.sym.argsort(_v()), mx.sym.argsort(_v(), axis=0, is_ascend=False),
        mx.sym.argsort(_v(), axis=None, dtype="int32"),
        mx.sym.argsort(_v(), axis=1, dtype="float64")]),
     {"data": _distinct(3, 4, 2)}, True),
    ("unary_trig_log2_hard_sigmoid", lambda: mx.sym.Group([
        mx.sym.log2(mx.sym.abs(_v()) + 0.1), mx.sym.arcsin(mx.sym.tanh(_v())),
        mx.sym.arccos(mx.sym.tanh(_v())), mx.sym.arctan(_v() * 3),
        mx.sym.hard_sigmoid(_v()), mx.sym.hard_sigmoid(_v(), alpha=0.5, beta=0.3)]),
     {"data": _data(3, 5)}, False),
    ("logical_compare", lambda: mx.sym.Group([
        mx.sym.broadcast_not_equal(_v(), _v("b")), _v() != _v("b2"), _v() != 0.0,
        mx.sym.broadcast_logical_and(_v(), _v("b")), mx.sym.broadcast_logical_or(_v(), _v("b")),
        mx.sym.broadcast_logical_xor(_v(), _v("b")), mx.sym.logical_not(_v()),
        mx.sym._internal._logical_and(_v(), _v("b2")),
        mx.sym._internal._logical_or_scalar(_v(), scalar=0.0),
        mx.sym._internal._logical_xor_scalar(_v(), scalar=1.0),
        mx.sym._internal._logical_and_scalar(_v(), scalar=2.0)]),
     {"data": np.array([[0, 1, -2, 0], [3, 0, 0, 1], [0, 0, 5, 2]], np.float32),
      "b": np.array([[0], [1], [2]], np.float32),
      "b2": np.array([[0, 0, -2, 1], [3, 1, 0, 0], [0, 2, 5, 0]], np.float32)}, True),
    ("logical_int", lambda: mx.sym.Group([
        mx.sym.logical_not(_v()), mx.sym.broadcast_logical_xor(_v(), _v("b")),
        mx.sym.broadcast_not_equal(_v(), _v("b"))]),
     {"data": _ints(3, 4), "b": _ints(1, 4, seed=4)}, True),
    ("mod", lambda: mx.sym.Group([
        mx.sym.broadcast_mod(_v(), _v("b")), _v() % _v("b2"), _v() % 2.5, 7.0 % _v("b2")]),
     {"data": np.array([[5, -5, 5, -5, 3, 0, 2.5, -7.5]] * 2, np.float32),
      "b": np.array([[3], [-3]], np.float32),
      "b2": np.array([[3, 3, -3, -3, 0, 2, -1, 2.5], [1.5, -2, 4, 0, -0.5, 3, 3, -4]],
                     np.float32)}, False),
    ("mod_int", lambda: mx.sym.broadcast_mod(_v(), _v("b")),
     {"data": _ints(4, 6, lo=-9, hi=10), "b": np.array([3, -3, 4, -2, 0, 1], np.int32)}, True),
    ("repeat_stack_reverse", lambda: mx.sym.Group([
        mx.sym.repeat(_v(), repeats=2, axis=1), mx.sym.repeat(_v(), repeats=3),
        mx.sym.repeat(_v(), repeats=2, axis=-1),
        mx.sym.stack(_v(), _v("b"), axis=1), mx.sym.stack(_v(), _v("b"), _v(), axis=-1),
        mx.sym.stack(_v(), _v("b")),
        mx.sym.reverse(_v(), axis=1), mx.sym.flip(_v(), axis=(0, 2)),
        mx.sym.reverse(_v(), axis=-1)]),
     {"data": _data(2, 3, 4), "b": _data(2, 3, 4, seed=2)}, False),
    ("one_hot", lambda: mx.sym.Group([
        mx.sym.one_hot(_v(), depth=4),
        mx.sym.one_hot(_v(), depth=3, on_value=2.5, off_value=-1.0, dtype="float64"),
        mx.sym.one_hot(_v(), depth=5, dtype="int32")]),
     {"data": np.array([[-1, 0.7, 2], [5, -0.5, 3]], np.float32)}, True),
    ("one_hot_int_indices", lambda: mx.sym.one_hot(_v(), depth=6, dtype="int64"),
     {"data": _ints(2, 5, lo=-2, hi=8)}, True),
    ("depth_space", lambda: mx.sym.Group([
        mx.sym.depth_to_space(_v(), block_size=2), mx.sym.space_to_depth(_v(), block_size=2),
        mx.sym.space_to_depth(mx.sym.depth_to_space(_v(), block_size=2), block_size=2)]),
     {"data": _data(2, 8, 4, 6)}, True),
    ("shape_size_array", lambda: mx.sym.Group([
        mx.sym.shape_array(_v()), mx.sym.size_array(_v()),
        mx.sym.shape_array(mx.sym.size_array(_v()))]),
     {"data": _data(2, 3, 5)}, True),
    ("constructors", lambda: mx.sym.Group([
        mx.sym.zeros((2, 3)) + _v(), mx.sym.ones((2, 3), dtype="int32"),
        mx.sym.broadcast_mul(mx.sym.full((3, 1), 2.5), mx.sym.sum(_v())), mx.sym.arange(0, 5),
        mx.sym.arange(2, 11, step=3, repeat=2, dtype="int64"), mx.sym.arange(6, step=1.5),
        mx.sym.contrib.arange_like(_v(), start=1, step=2, axis=1),
        mx.sym.contrib.arange_like(_v(), step=0.5, repeat=2),
        mx.sym.zeros_like(_v()), mx.sym.ones_like(_v())]),
     {"data": _data(2, 3)}, False),
    ("gather_nd", lambda: mx.sym.Group([
        mx.sym.gather_nd(_v(), _v("i2")), mx.sym.gather_nd(_v(), _v("i1")),
        mx.sym.gather_nd(_v(), _v("i3"))]),
     {"data": _data(3, 4, 2), "i2": np.array([[0, 2, 1], [3, 0, 1]], np.float32),
      "i1": np.array([[2, 0]], np.float32),
      "i3": np.array([[[0, 1], [2, 2]], [[1, 3], [0, 0]], [[1, 0], [0, 1]]], np.int32)},
     False),
    ("slice_like_reshape_like", lambda: mx.sym.Group([
        mx.sym.slice_like(_v(), _v("small")), mx.sym.slice_like(_v(), _v("small"), axes=(1,)),
        mx.sym.slice_like(_v(), _v("small"), axes=(0, -1)),
        mx.sym.reshape_like(_v(), _v("flat")),
        mx.sym.reshape_like(_v(), _v("b"), lhs_begin=0, lhs_end=2, rhs_begin=0, rhs_end=2)]),
     {"data": _data(3, 4, 5), "small": _data(2, 2, 3, seed=2), "flat": _data(60, seed=3),
      "b": _data(2, 6, seed=4)},
     False),
    ("linalg_gemm2", lambda: mx.sym.Group([
        mx.sym.linalg.gemm2(_v("a"), _v("b")),
        mx.sym.linalg.gemm2(_v("a"), _v("a"), transpose_b=True, alpha=0.5),
        mx.sym.linalg.gemm2(_v("b"), _v("b"), transpose_a=True),
        mx.sym.linalg.gemm2(_v("m"), _v("m"), transpose_a=True, transpose_b=True,
                            alpha=-2.0)]),
     {"a": _data(2, 3, 4), "b": _data(2, 4, 5, seed=2), "m": _data(3, 3, seed=3)}, False),
    ("split_v2", lambda: mx.sym.Group([
        mx.sym.split_v2(_v(), 3, axis=1),
        mx.sym.split_v2(_v(), (1, 3), axis=-1),
        mx.sym.split_v2(_v(), 2, axis=0, squeeze_axis=True),
        mx.sym.split_v2(_v(), (2,), axis=1)]),
     {"data": _data(2, 6, 5)}, False),
    ("sequence_mask", lambda: mx.sym.Group([
        mx.sym.SequenceMask(_v(), _v("len"), use_sequence_length=True),
        mx.sym.SequenceMask(_v(), _v("len"), use_sequence_length=True, value=-2.0),
        mx.sym.SequenceMask(mx.sym.swapaxes(_v(), 0, 1), _v("len"),
                            use_sequence_length=True, axis=1, value=7.0),
        mx.sym.SequenceMask(_v()), mx.sym.SequenceMask(mx.sym.sum(_v(), axis=2), _v("len"),
                                                      use_sequence_length=True)]),
     {"data": _data(5, 3, 2), "len": np.array([2, 5, 0], np.float32)}, False),
    ("sequence_reverse", lambda: mx.sym.Group([
        mx.sym.SequenceReverse(_v(), _v("len"), use_sequence_length=True),
        mx.sym.SequenceReverse(_v())]),
     {"data": _data(5, 3, 2), "len": np.array([2, 5, 1], np.float32)}, False),
    ("crop", lambda: mx.sym.Group([
        mx.sym.Crop(_v(), num_args=1, h_w=(3, 4), offset=(1, 2)),
        mx.sym.Crop(_v(), _v("like"), num_args=2),
        mx.sym.Crop(_v(), _v("like"), num_args=2, center_crop=True),
        mx.sym.Crop(_v(), num_args=1, h_w=(4, 3), center_crop=True)]),
     {"data": _data(2, 3, 7, 8), "like": _data(1, 1, 2, 5, seed=2)}, False),
    ("softmax_use_length", lambda: mx.sym.Group([
        mx.sym.softmax(_v(), _v("len"), use_length=True, axis=-1),
        mx.sym.softmax(_v(), _v("len2"), use_length=True, axis=1, temperature=2.0)]),
     {"data": _data(2, 3, 4), "len": np.array([[1, 2, 0], [4, 3, 2]], np.int32),
      "len2": np.array([[1, 2, 0, 3], [3, 3, 2, 1]], np.int32)}, False),
    ("roi_pooling", lambda: mx.sym.ROIPooling(_v(), _v("rois"), pooled_size=(2, 3),
                                              spatial_scale=0.5),
     {"data": _data(2, 3, 8, 10), "rois": np.array(
         [[0, 0, 0, 9, 7], [1, 2, 4, 15, 13], [0, 5.5, 1.2, 12.3, 9.8], [1, 3, 3, 3, 3]],
         np.float32)}, False),
    ("roi_align", lambda: mx.sym.Group([
        mx.sym.contrib.ROIAlign(_v(), _v("rois"), pooled_size=(2, 3), spatial_scale=0.5),
        mx.sym.contrib.ROIAlign(_v(), _v("rois"), pooled_size=(2, 2), spatial_scale=1.0,
                                sample_ratio=2)]),
     {"data": _data(2, 3, 8, 10), "rois": np.array(
         [[0, 0, 0, 9, 7], [1, 2, 4, 15, 13], [0, 5.5, 1.2, 12.3, 9.8], [1, 3, 3, 3.5, 3.2]],
         np.float32)}, False),
    ("box_decode", lambda: mx.sym.Group([
        mx.sym.contrib.box_decode(_v(), _v("anchors"), std0=0.1, std1=0.2, std2=0.3, std3=0.4,
                                  clip=0.05, format="corner"),
        mx.sym.contrib.box_decode(_v(), _v("anchors"), format="center")]),
     {"data": _data(2, 5, 4) * 0.5,
      "anchors": np.abs(_data(1, 5, 4, seed=2)) + np.array([0, 0, 1, 1], np.float32)}, False),
    # rows (class id, score, x1, y1, x2, y2): oxnet's box_nms gives MXNet 1.9.1's results on
    # these (checked once against it); the export must give box_nms's
    ("box_nms", lambda: mx.sym.Group([
        mx.sym.contrib.box_nms(_v("boxes")),
        mx.sym.contrib.box_nms(_v("boxes"), topk=5, valid_thresh=0.3),
        mx.sym.contrib.box_nms(_v("boxes"), id_index=0, force_suppress=False,
                               overlap_thresh=0.3),
        mx.sym.contrib.box_nms(_v("boxes"), id_index=0, topk=7, overlap_thresh=0.2,
                               in_format="center", out_format="center")]),
     {"boxes": _detections(2, 30)}, True),
    ("attention", lambda: mx.sym.Group([
        mx.sym.contrib.div_sqrt_dim(_v()),
        mx.sym.contrib.interleaved_matmul_selfatt_qk(_v(), heads=2),
        mx.sym.contrib.interleaved_matmul_selfatt_valatt(_v(), _v("att"), heads=2)]),
     {"data": _data(4, 2, 18), "att": _data(4, 4, 4, seed=2)}, False),
]

@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_export_matches_executor(case, tmp_path):
    _, build, inputs, exact = case
    _check(build(), inputs, tmp_path, exact)


def test_new_operators_are_listed():
    support = set(mx.onnx.get_operator_support())
    for op in ("argmax", "argmin", "topk", "argsort", "log2", "arcsin", "arccos", "arctan",
               "hard_sigmoid", "broadcast_not_equal", "broadcast_logical_and",
               "broadcast_logical_or", "broadcast_logical_xor", "logical_not", "broadcast_mod",
               "repeat", "stack", "reverse", "flip", "one_hot", "depth_to_space",
               "space_to_depth", "shape_array", "size_array", "_zeros", "_ones", "_full",
               "_arange", "gather_nd", "slice_like", "reshape_like", "_linalg_gemm2",
               "_split_v2", "SequenceMask", "SequenceReverse", "Crop", "ROIPooling", "RNN",
               "_rnn_param_concat", "_random_uniform", "_random_normal", "_random_uniform_like",
               "_random_normal_like", "_sample_multinomial", "_contrib_ROIAlign",
               "_contrib_box_decode", "_contrib_box_nms", "_contrib_div_sqrt_dim",
               "_contrib_interleaved_matmul_selfatt_qk",
               "_contrib_interleaved_matmul_selfatt_valatt"):
        assert op in support, op


@pytest.mark.parametrize("build,inputs,match", [
    (lambda: mx.sym.topk(_v(), k=2, axis=None, ret_typ="mask", name="tk"),
     [(2, 3)], "topk node 'tk'.*mask"),
    (lambda: mx.sym.linalg.gemm2(_v("a"), _v("b"), axis=-3, name="gm"),
     [(2, 3, 4), (4, 3, 5)], "_linalg_gemm2 node 'gm'.*axis"),
    (lambda: mx.sym.RNN(_v(), _v("p"), _v("h0"), sequence_length=_v("len"), state_size=2,
                        num_layers=1, mode="gru", use_sequence_length=True, name="seq_rnn"),
     [(3, 2, 4), (48,), (1, 2, 2), (2,)], "RNN node 'seq_rnn'.*use_sequence_length"),
    (lambda: mx.sym.sample_multinomial(_v(), shape=(2,), get_prob=True, name="draw"),
     [(2, 3)], "_sample_multinomial node 'draw'.*get_prob"),
    (lambda: mx.sym.contrib.box_nms(_v(), background_id=0, id_index=0, name="nms"),
     [(2, 5, 6)], "_contrib_box_nms node 'nms'.*background_id"),
])
def test_unsupported_parameters_name_op_and_node(build, inputs, match, tmp_path):
    with pytest.raises(mx.MXNetError, match=match):
        mx.onnx.export_model(build(), {}, inputs, np.float32, str(tmp_path / "x.onnx"))


def test_dynamic_reshape_like_with_ranges_is_refused(tmp_path):
    out = mx.sym.reshape_like(_v(), _v("b"), lhs_begin=0, lhs_end=1, rhs_begin=0, rhs_end=2,
                              name="rl")
    with pytest.raises(mx.MXNetError, match="reshape_like node 'rl'.*dynamic"):
        mx.onnx.export_model(out, {}, [(6, 4), (2, 3)], np.float32, str(tmp_path / "x.onnx"),
                             dynamic=True)


def test_dynamic_batch(tmp_path):
    # Exported for batch 2, run with batch 5: no converter here fixes the leading dimension.
    x = _v()
    out = mx.sym.Group([mx.sym.repeat(x, repeats=2, axis=1), mx.sym.argmax(x, axis=1),
                        mx.sym.topk(x, k=2, ret_typ="both"), mx.sym.SequenceReverse(x),
                        mx.sym.one_hot(mx.sym.argmin(x, axis=-1), depth=4),
                        mx.sym.logical_not(x), mx.sym.broadcast_mod(x, x + 2.0),
                        mx.sym.reverse(x, axis=1)])
    path = str(tmp_path / "dyn.onnx")
    mx.onnx.export_model(out, {}, [(2, 3, 4)], np.float32, path, dynamic=True)
    data = _distinct(5, 3, 4)
    expected = _forward(out, {}, {}, {"data": data})
    for e, g in zip(expected, _run_onnx(path, {"data": data})):
        assert (g.shape, g.dtype) == (e.shape, e.dtype)
        np.testing.assert_allclose(g, e, rtol=RTOL, atol=ATOL)


# RNN: (mode, num_layers, bidirectional); T=5, N=2, input 3, state 4, random flat parameters.
RNNS = [(m, layers, bi) for m in ("lstm", "gru", "rnn_tanh", "rnn_relu")
        for layers, bi in ((1, False), (2, True), (3, False))]


@pytest.mark.parametrize("mode,layers,bidirectional", RNNS)
def test_rnn_matches_executor(mode, layers, bidirectional, tmp_path):
    states = [_v("h0")] + ([_v("c0")] if mode == "lstm" else [])
    out = mx.sym.RNN(_v(), _v("p"), *states, state_size=4, num_layers=layers, mode=mode,
                     bidirectional=bidirectional, state_outputs=True)
    d = 2 if bidirectional else 1
    inputs = {"data": _data(5, 2, 3), "h0": _data(layers * d, 2, 4, seed=2)}
    if mode == "lstm":
        inputs["c0"] = _data(layers * d, 2, 4, seed=3)
    _check(out, inputs, tmp_path)
    # Without state outputs, from parameters joined in the graph (Gluon's _rnn_param_concat).
    first = mx.sym.var("p1", shape=(7,))
    out = mx.sym.RNN(_v(), mx.sym._internal._rnn_param_concat(first, _v("p2"), dim=0,
                                                                num_args=2),
                     *states, state_size=4, num_layers=layers, mode=mode,
                     bidirectional=bidirectional)
    _check(out, inputs, tmp_path)


# MXNet 1.9.1's outputs (printed) of 2-layer bidirectional RNNs: T=3, N=2, input 3, state 2,
# parameters * 0.5, data, h0 (and c0) drawn in that order from RandomState(0).
MXNET_RNN_OUT = {
    "lstm": [[-0.176473, 0.265721, 0.076439, -0.283746, 0.029290, -0.087466, 0.043237,
              -0.242347],
             [-0.231801, 0.166784, 0.065175, -0.065204, 0.016257, -0.186707, 0.084241,
              -0.145012],
             [-0.186806, 0.112574, -0.050546, 0.160098, 0.002389, -0.139817, 0.189082,
              0.082205]],
    "gru": [[-0.730319, -0.179395, 0.758484, -0.345294, -0.246566, 0.427324, 0.090015,
             -0.572210],
            [-0.642444, 0.298193, 0.719790, -0.259623, -0.382826, 0.451104, -0.025766,
             -0.543763],
            [-0.501297, 0.149336, 0.706696, -0.136862, -0.540725, 0.531240, 0.142940,
             -0.519143]],
}
MXNET_LSTM_STATE_C = [[-0.336971, 0.363083, -0.284897, -0.065858],
                      [-0.386331, -0.178060, 0.860497, -0.294821],
                      [-0.563713, 0.246249, 0.006180, -0.444390],
                      [0.189068, -0.556357, 0.106622, -0.635009]]


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_rnn_matches_mxnet(mode, tmp_path):
    gates = {"lstm": 4, "gru": 3}[mode]
    size = sum(2 * gates * 2 * (i + 2) + 2 * 2 * gates * 2 for i in (3, 4))
    rng = np.random.RandomState(0)
    params = {"p": mx.nd.array(rng.randn(size) * 0.5)}
    inputs = {"data": rng.randn(3, 2, 3).astype(np.float32),
              "h0": rng.randn(4, 2, 2).astype(np.float32)}
    states = [_v("h0")]
    if mode == "lstm":
        inputs["c0"] = rng.randn(4, 2, 2).astype(np.float32)
        states.append(_v("c0"))
    out = mx.sym.RNN(_v(), _v("p"), *states, state_size=2, num_layers=2, mode=mode,
                     bidirectional=True, state_outputs=True)
    path = str(tmp_path / "rnn.onnx")
    mx.onnx.export_model(out, params, [v.shape for v in inputs.values()], np.float32, path)
    got = _run_onnx(path, inputs)
    np.testing.assert_allclose(got[0].reshape(3, -1), MXNET_RNN_OUT[mode], atol=2e-6)
    if mode == "lstm":
        np.testing.assert_allclose(got[2].reshape(4, -1), MXNET_LSTM_STATE_C, atol=2e-6)


def test_samplers(tmp_path):
    # The draws differ from MXNet's: shapes, dtypes, ranges and moments.
    probs = np.array([[0.1, 0.2, 0.7], [0.5, 0.5, 0.0]], np.float32)
    out = mx.sym.Group([
        mx.sym.random.uniform(low=2, high=3, shape=(300, 200)),
        mx.sym.random.normal(loc=5, scale=2, shape=(300, 200), dtype="float64"),
        mx.sym.random.uniform_like(_v("z"), low=-1, high=0),
        mx.sym.random.normal_like(_v("z"), loc=1, scale=0.1),
        mx.sym.sample_multinomial(_v("probs"), shape=(100, 40)),
        mx.sym.sample_multinomial(mx.sym.slice_axis(_v("probs"), axis=0, begin=0, end=1),
                                  shape=(7,), dtype="float32")])
    inputs = {"z": np.zeros((200, 300), np.float32), "probs": probs}
    path = str(tmp_path / "random.onnx")
    mx.onnx.export_model(out, {}, [(200, 300), (2, 3)], np.float32, path)
    u, n, ul, nl, m, m1 = _run_onnx(path, inputs)
    expected = _forward(out, {}, {}, inputs)
    for g, e in zip((u, n, ul, nl, m, m1), expected):
        assert (g.shape, g.dtype) == (e.shape, e.dtype)
    # onnxruntime draws unseeded, and low + (high - low) * r rounds to high in float32 for the
    # largest r (about one run in a hundred): the upper bound is inclusive here.
    assert u.min() >= 2 and u.max() <= 3 and abs(u.mean() - 2.5) < 0.01
    assert abs(n.mean() - 5) < 0.03 and abs(n.std() - 2) < 0.03
    assert ul.min() >= -1 and ul.max() < 0 and abs(nl.std() - 0.1) < 0.003
    for row, p in zip(m, probs):  # each row drawn from its own probabilities
        assert np.abs(np.bincount(row.ravel(), minlength=3) / row.size - p).max() < 0.03
    assert set(np.unique(m1)) <= {0.0, 1.0, 2.0}
