"""_contrib_quantized_rnn (MXNet's int8 LSTM) and the quantization pass that makes it: values
printed by MXNet 1.9.1, a numpy model of the documented arithmetic, and the FP32 RNN."""
import json
import os

import numpy as np
import pytest

import oxnet as mx

SCALE = SHIFT = 63.75  # quantize_asym's for the calibrated range [-1, 3]


def _inputs(T, N, I, H, L, D):
    P = sum(D * (4 * H * ((I if l == 0 else D * H) + H) + 8 * H) for l in range(L))
    data = np.sin(np.arange(T * N * I) * 0.37).reshape(T, N, I).astype(np.float32)
    params = (np.cos(np.arange(P) * 0.7) * 0.5).astype(np.float32)
    h0 = (np.sin(np.arange(L * D * N * H) * 1.3) * 0.3).reshape(L * D, N, H).astype(np.float32)
    c0 = (np.cos(np.arange(L * D * N * H) * 0.9) * 0.4).reshape(L * D, N, H).astype(np.float32)
    return data, params, h0, c0


def _run(data, params, h0, c0, **kw):
    q, scale, shift = mx.nd.contrib.quantize_asym(mx.nd.array(data), min_calib_range=-1.0,
                                                  max_calib_range=3.0)
    assert scale.asscalar() == SCALE and shift.asscalar() == SHIFT
    out = mx.nd.contrib.quantized_rnn(q, mx.nd.array(params), mx.nd.array(h0), mx.nd.array(c0),
                                      scale, shift, mode="lstm", **kw)
    return [o.asnumpy() for o in (out if isinstance(out, list) else [out])]


# MXNet 1.9.1's outputs for these inputs, as uint8 levels ((x * 63.75) + 63.75) and the cell
# state. All levels stay at most 128, where MXNet's int16 pair sums cannot saturate, so its
# results are the exact arithmetic's.
MXNET = [
    ((5, 3, 4, 3, 1, False, True),
     [70, 63, 63, 74, 59, 39, 63, 70, 61, 67, 62, 63, 72, 51, 56, 76, 66, 43, 63, 66, 50, 68, 60,
      60, 70, 56, 59, 76, 63, 43, 68, 63, 40, 67, 67, 59, 69, 51, 59, 76, 61, 47, 72, 64, 37],
     [69, 51, 59, 76, 61, 47, 72, 64, 37],
     [0.3743488, -0.347955, -0.2513257, 0.4454158, -0.199325, -0.3864309, 0.2202958, 0.05235383,
      -0.6525491]),
    ((4, 2, 3, 2, 1, True, True),
     [60, 62, 70, 71, 43, 59, 68, 78, 49, 57, 65, 73, 61, 39, 77, 69, 63, 35, 58, 65, 63, 41, 78,
      70, 51, 54, 63, 66, 45, 55, 67, 78],
     [51, 54, 45, 55, 70, 71, 68, 78],
     [-0.6472877, -0.9262359, -0.7577903, -1.080209, 0.3011973, 0.2836837, 0.4535258, 0.4484154]),
    ((3, 2, 5, 4, 1, False, False),
     [76, 68, 74, 57, 49, 71, 67, 70, 70, 82, 65, 65, 71, 63, 71, 64, 50, 70, 77, 64, 64, 78, 64,
      69], None, None),
]


@pytest.mark.parametrize("case", MXNET, ids=lambda c: "x".join(map(str, c[0][:5])))
def test_single_layer_values_printed_by_mxnet(case):
    (T, N, I, H, L, bidir, so), out, hy, cy = case
    D = 2 if bidir else 1
    got = _run(*_inputs(T, N, I, H, L, D), state_size=H, num_layers=L, bidirectional=bidir,
               state_outputs=so)
    assert len(got) == (3 if so else 1)
    assert got[0].shape == (T, N, D * H)
    np.testing.assert_allclose(got[0].ravel() * SCALE + SHIFT, out, atol=1e-4)
    if so:
        np.testing.assert_allclose(got[1].ravel() * SCALE + SHIFT, hy, atol=1e-4)
        np.testing.assert_allclose(got[2].ravel(), cy, rtol=1e-6, atol=1e-6)


def _model(data, params, h0, c0, H, L, D, clip=None):
    """The op's arithmetic in numpy: per gate row int8 weights (127 / max|w| of the row over
    every layer and direction), exact integer gate sums, the hidden state back to uint8 with
    the data's scale and shift at every step."""
    T, N, I = data.shape
    f32 = np.float32
    u8 = lambda v: np.rint(np.clip(v.astype(f32) * f32(SCALE) + f32(SHIFT), 0, 255))  # noqa: E731
    x = u8(data)
    blocks, off, sizes = [], 0, [I] + [D * H] * (L - 1)
    for size in sizes:
        for _ in range(D):
            wx = params[off:off + 4 * H * size].reshape(4 * H, size)
            off += 4 * H * size
            blocks.append([wx, params[off:off + 4 * H * H].reshape(4 * H, H)])
            off += 4 * H * H
    for b in blocks:
        b.append(params[off:off + 4 * H] + params[off + 4 * H:off + 8 * H])
        off += 8 * H
    row_max = np.max([np.abs(np.hstack(b[:2])).max(1) for b in blocks], axis=0)
    ws = (f32(127) / row_max).astype(f32)
    dq = (ws * f32(SCALE)).astype(f32)
    hy, cy = np.zeros_like(h0), np.zeros_like(c0)
    sig = lambda v: 1 / (1 + np.exp(-v.astype(np.float64)))  # noqa: E731
    for l in range(L):
        outs = []
        for d in range(D):
            wx, wh, bias = blocks[l * D + d]
            qx = np.rint(np.clip(wx * ws[:, None], -128, 127))
            qh = np.rint(np.clip(wh * ws[:, None], -128, 127))
            b = bias - (qx.sum(1) + qh.sum(1)) * f32(SHIFT) / dq
            h, c = u8(h0[l * D + d]), c0[l * D + d].astype(np.float64)
            hs = [None] * T
            for t in (range(T) if d == 0 else range(T - 1, -1, -1)):
                g = (x[t] @ qx.T + h @ qh.T) / dq + b
                i, f, o = sig(g[:, :H]), sig(g[:, H:2 * H]), sig(g[:, 3 * H:])
                c = f * c + i * np.tanh(g[:, 2 * H:3 * H])
                if clip is not None:
                    c = np.clip(c, *clip)
                h = hs[t] = u8(o * np.tanh(c))
            outs.append(np.stack(hs))
            hy[l * D + d], cy[l * D + d] = (h - SHIFT) / SCALE, c
        x = np.concatenate(outs, axis=-1)
    return (x - SHIFT) / SCALE, hy, cy


@pytest.mark.parametrize("T,N,I,H,L,bidir,clip", [
    (4, 2, 3, 3, 2, False, None), (3, 2, 4, 2, 2, True, None), (6, 3, 7, 5, 3, False, None),
    (5, 2, 4, 3, 2, True, (-0.3, 0.3)),
])
def test_layers_directions_and_clipping_follow_the_model(T, N, I, H, L, bidir, clip):
    D = 2 if bidir else 1
    inputs = _inputs(T, N, I, H, L, D)
    kw = {} if clip is None else {"lstm_state_clip_min": clip[0], "lstm_state_clip_max": clip[1]}
    got = _run(*inputs, state_size=H, num_layers=L, bidirectional=bidir, state_outputs=True, **kw)
    want = _model(*inputs, H, L, D, clip)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-5)
    if clip is not None:
        assert np.abs(got[2]).max() <= clip[1] + 1e-7


def test_close_to_the_float_lstm():
    # Levels of 1/63.75 carried through 12 steps and two layers stay within a few levels of
    # the FP32 RNN (whose hidden state is inside the calibrated range here).
    T, N, I, H, L = 12, 4, 6, 8, 2
    data, params, h0, c0 = _inputs(T, N, I, H, L, 1)
    params *= 0.6
    got = _run(data, params, h0, c0, state_size=H, num_layers=L)[0]
    ref = mx.nd.RNN(mx.nd.array(data), mx.nd.array(params), mx.nd.array(h0), mx.nd.array(c0),
                    state_size=H, num_layers=L, mode="lstm").asnumpy()
    assert np.abs(got - ref).max() < 4 / SCALE, np.abs(got - ref).max()


def test_bad_inputs_are_refused_with_the_op_named():
    data, params, h0, c0 = _inputs(3, 2, 4, 2, 1, 1)
    q, s, z = mx.nd.contrib.quantize_asym(mx.nd.array(data))
    args = (mx.nd.array(params), mx.nd.array(h0), mx.nd.array(c0), s, z)
    with pytest.raises(mx.MXNetError, match="quantized_rnn.*only supports uint8 input, while float32"):
        mx.nd.contrib.quantized_rnn(mx.nd.array(data), *args, state_size=2, num_layers=1,
                                    mode="lstm").wait_to_read()
    with pytest.raises(mx.MXNetError, match="only supports LSTM"):
        mx.nd.contrib.quantized_rnn(q, *args, state_size=2, num_layers=1, mode="gru")
    with pytest.raises(mx.MXNetError, match="projection_size"):
        mx.nd.contrib.quantized_rnn(q, *args, state_size=2, num_layers=1, mode="lstm",
                                    projection_size=1)
    with pytest.raises(mx.MXNetError, match=r"quantized_rnn.*parameters"):
        mx.nd.contrib.quantized_rnn(q, mx.nd.array(params[:-1]), *args[1:], state_size=2,
                                    num_layers=1, mode="lstm").wait_to_read()
    s = mx.sym.contrib.quantized_rnn(state_size=2, num_layers=1, mode="lstm", state_outputs=True,
                                     name="q")
    assert s.list_arguments() == ["q_data", "q_parameters", "q_state", "q_state_cell",
                                  "q_min_data", "q_max_data"]
    assert s.list_outputs() == ["q_output", "q_state_output", "q_statecell_ouput"]
    assert s.infer_type(q_data=np.uint8)[1] == [np.float32] * 3
    qa = mx.sym.contrib.quantize_asym(mx.sym.var("x"))
    s = mx.sym.contrib.quantized_rnn(qa[0], min_data=qa[1], max_data=qa[2], state_size=2,
                                     num_layers=1, mode="lstm", state_outputs=True, name="q")
    arg, out, _ = s.infer_shape(x=(3, 2, 4))
    assert arg == [(3, 2, 4), (64,), (1, 2, 2), (1, 2, 2)]
    assert out == [(3, 2, 2), (1, 2, 2), (1, 2, 2)]


def _lstm_fc(state_outputs):
    data = mx.sym.var("data")
    rnn = mx.sym.RNN(data, mx.sym.var("rnn_parameters"), mx.sym.var("rnn_state"),
                     mx.sym.var("rnn_state_cell"), state_size=4, num_layers=1, mode="lstm",
                     state_outputs=state_outputs, name="rnn")
    return mx.sym.FullyConnected(rnn[0], num_hidden=3, flatten=False, name="fc")


def _params(sym, shapes):
    arg_shapes, _, _ = sym.infer_shape(**shapes)
    rng = np.random.RandomState(0)
    return {n: mx.nd.array(rng.uniform(-0.5, 0.5, s)) for n, s in
            zip(sym.list_arguments(), arg_shapes) if n != "data"}


@pytest.mark.parametrize("state_outputs", [True, False])
def test_quantize_model_makes_the_int8_lstm(state_outputs):
    sym = _lstm_fc(state_outputs)
    data = np.random.RandomState(1).uniform(-1, 2, (5, 3, 6)).astype(np.float32)
    args = _params(sym, {"data": data.shape})
    it = mx.io.NDArrayIter(data, batch_size=5)
    qsym, qargs, _ = mx.contrib.quantization.quantize_model(
        sym, args, {}, ctx=mx.cpu(), calib_mode="naive", calib_data=it, quantized_dtype="auto",
        quantize_mode="full", num_calib_examples=5, label_names=())
    nodes = {n["name"]: n for n in _json_nodes(qsym)}
    # MXNet 1.9.1's graph: quantize_asym on the data (calibrated on its min/max, printed %f),
    # the int8 LSTM on FP32 parameters, and a quantize_v2 before the quantized FC
    qa = nodes["data_quantize"]
    assert qa["op"] == "_contrib_quantize_asym"
    assert qa["attrs"] == {"min_calib_range": "%f" % data.min(), "max_calib_range": "%f" % data.max()}
    q = nodes["quantized_rnn"]
    assert q["op"] == "_contrib_quantized_rnn" and q["attrs"]["quantized"] == "true"
    assert nodes["rnn_output_quantize"]["op"] == "_contrib_quantize_v2"
    assert nodes["quantized_fc"]["op"] == "_contrib_quantized_fully_connected"
    assert sorted(k for k in qargs if k.startswith("rnn")) == [
        "rnn_parameters", "rnn_state", "rnn_state_cell"]
    # with state_outputs=False MXNet wires the FC's range to output 4294967295; here it runs
    ex = qsym.bind(mx.cpu(), dict(qargs, data=mx.nd.array(data)), grad_req="null")
    got = ex.forward()[0].asnumpy()
    ref = sym.bind(mx.cpu(), dict(args, data=mx.nd.array(data))).forward()[0].asnumpy()
    assert np.abs(got - ref).max() < 0.1, np.abs(got - ref).max()


def _json_nodes(sym):
    import json
    return json.loads(sym.tojson())["nodes"]


def test_rnns_without_an_int8_kernel_stay_fp32():
    data = mx.sym.var("data")
    gru = mx.sym.RNN(data, mx.sym.var("p"), mx.sym.var("s"), state_size=4, num_layers=1,
                     mode="gru", name="gru")
    lstm = mx.sym.RNN(gru, mx.sym.var("p2"), mx.sym.var("s2"), mx.sym.var("c2"), state_size=4,
                      num_layers=1, mode="lstm", name="lstm")
    excluded, _ = mx.contrib.quantization._quantize_symbol(lstm, mx.cpu(),
                                                         excluded_symbols=["lstm"],
                                                         quantize_mode="full")
    assert {n["op"] for n in _json_nodes(excluded)} == {"null", "RNN"}
    q, calib = mx.contrib.quantization._quantize_symbol(lstm, mx.cpu(), quantize_mode="full")
    ops = [(n["op"], n["name"]) for n in _json_nodes(q) if n["op"] != "null"]
    assert ops == [("RNN", "gru"), ("_contrib_quantize_asym", "gru_output_quantize"),
                   ("_contrib_quantized_rnn", "quantized_lstm")]


DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "quantized_rnn")


def gluon_input():
    return np.sin(np.arange(90) * 0.61).reshape(5, 3, 6).astype(np.float32)


def test_gluon_lstm_export_quantizes_as_mxnet_did():
    # A two-layer Gluon LSTM with a Dense head, exported and quantized by MXNet 1.9.1
    # (quantized_rnn_mxnet_ref.py): the same graph, node for node, and outputs as close to the
    # FP32 model's. (MXNet's own int8 values here come from its int16-saturating sums on an
    # AVX2 CPU, a level off in places; on a VNNI CPU they differ again.)
    sym, args, aux = mx.model.load_checkpoint(os.path.join(DATA, "lstm"), 0)
    x = gluon_input()
    qsym, qargs, qaux = mx.contrib.quantization.quantize_model_mkldnn(
        sym, args, aux, ctx=mx.cpu(), calib_mode="naive",
        calib_data=mx.io.NDArrayIter(x, batch_size=5), quantized_dtype="auto",
        quantize_mode="full", num_calib_examples=5, label_names=())
    with open(os.path.join(DATA, "lstm-quantized-symbol.json")) as f:
        want = json.load(f)
    got = json.loads(qsym.tojson())
    strip = lambda g: [(n["op"], n["name"], n.get("attrs", {}), n["inputs"])  # noqa: E731
                       for n in g["nodes"]]
    assert strip(got) == strip(want)
    assert got["heads"] == want["heads"]
    with open(os.path.join(DATA, "outputs.json")) as f:
        outs = json.load(f)
    run = lambda s, a, b: s.bind(mx.cpu(), dict(a, data=mx.nd.array(x)), aux_states=b,  # noqa: E731
                                 grad_req="null").forward()[0].asnumpy().ravel()
    fp32 = np.array(outs["fp32"])
    np.testing.assert_allclose(run(sym, args, aux), fp32, rtol=1e-5, atol=1e-6)
    got = run(qsym, qargs, qaux)
    assert np.abs(got - fp32).max() <= np.abs(np.array(outs["int8"]) - fp32).max()
    # and MXNet's own quantized file runs here to the same values
    msym = mx.sym.load(os.path.join(DATA, "lstm-quantized-symbol.json"))
    np.testing.assert_array_equal(run(msym, qargs, qaux), got)
