"""mx.rnn: symbolic cells, BucketSentenceIter and RNN checkpoints.

Names and shapes are MXNet 1.9.1's, printed from the reference install (/work/mxref) and
hard-coded here; numbers are checked against numpy implementations of the recurrences below
and gradients against finite differences (test_operator_extra's `_numeric`).
"""
import logging
import os
import random

import numpy as np
import pytest

import oxnet as mx
from tight import assert_almost_equal
from test_operator_extra import _numeric


# ----------------------------------------------------------------------------- numpy oracles

def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _np_rnn(xs, h, w, act=np.tanh):
    outs = []
    for x in xs:
        h = act(x @ w["i2h_weight"].T + w["i2h_bias"] + h @ w["h2h_weight"].T + w["h2h_bias"])
        outs.append(h)
    return outs, [h]


def _np_lstm(xs, h, c, w):
    outs = []
    for x in xs:
        g = x @ w["i2h_weight"].T + w["i2h_bias"] + h @ w["h2h_weight"].T + w["h2h_bias"]
        i, f, cand, o = np.split(g, 4, axis=1)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(cand)
        h = _sigmoid(o) * np.tanh(c)
        outs.append(h)
    return outs, [h, c]


def _np_gru(xs, h, w):
    outs = []
    for x in xs:
        ir, iz, i_n = np.split(x @ w["i2h_weight"].T + w["i2h_bias"], 3, axis=1)
        hr, hz, h_n = np.split(h @ w["h2h_weight"].T + w["h2h_bias"], 3, axis=1)
        r, z = _sigmoid(ir + hr), _sigmoid(iz + hz)
        n = np.tanh(i_n + r * h_n)
        h = (1 - z) * n + z * h
        outs.append(h)
    return outs, [h]


def _bind(sym, shapes, dtype=np.float32, grad_req="null"):
    type_dict = {k: dtype for k in sym.list_arguments()}
    return sym.simple_bind(mx.cpu(), grad_req=grad_req, type_dict=type_dict, **shapes)


def _random_weights(prefix, gates, hidden, nin, rng):
    return {"i2h_weight": rng.uniform(-.5, .5, (gates * hidden, nin)),
            "i2h_bias": rng.uniform(-.5, .5, (gates * hidden,)),
            "h2h_weight": rng.uniform(-.5, .5, (gates * hidden, hidden)),
            "h2h_bias": rng.uniform(-.5, .5, (gates * hidden,))}


_CELLS = {
    "rnn_tanh": (lambda: mx.rnn.RNNCell(4, prefix="rnn_"), 1,
                 lambda xs, st, w: _np_rnn(xs, st[0], w)),
    "rnn_relu": (lambda: mx.rnn.RNNCell(4, activation="relu", prefix="rnn_"), 1,
                 lambda xs, st, w: _np_rnn(xs, st[0], w, act=lambda v: np.maximum(v, 0))),
    "lstm": (lambda: mx.rnn.LSTMCell(4, prefix="lstm_"), 4,
             lambda xs, st, w: _np_lstm(xs, st[0], st[1], w)),
    "gru": (lambda: mx.rnn.GRUCell(4, prefix="gru_"), 3,
            lambda xs, st, w: _np_gru(xs, st[0], w)),
}


# ----------------------------------------------------------------------------- names and shapes

def test_unrolled_names_and_shapes_match_mxnet():
    # Printed from MXNet 1.9.1: cell.unroll(3, Variable('data'), merge_outputs=False),
    # Group(outputs).list_arguments() / list_outputs() / infer_shape(data=(2, 3, 5)).
    expect = {
        "rnn": (mx.rnn.RNNCell(4, prefix="rnn_"), 4),
        "lstm": (mx.rnn.LSTMCell(4, prefix="lstm_"), 16),
        "gru": (mx.rnn.GRUCell(4, prefix="gru_"), 12),
    }
    for name, (cell, rows) in expect.items():
        outs, states = cell.unroll(3, mx.sym.Variable("data"), merge_outputs=False)
        assert isinstance(outs, list) and len(outs) == 3
        g = mx.sym.Group(outs)
        assert g.list_arguments() == ["data", name + "_i2h_weight", name + "_i2h_bias",
                                      name + "_h2h_weight", name + "_h2h_bias"]
        assert g.list_outputs() == ["%s_t%d_out_output" % (name, t) for t in range(3)]
        args, out_shapes, aux = g.infer_shape(data=(2, 3, 5))
        assert args == [(2, 3, 5), (rows, 5), (rows,), (rows, 4), (rows,)]
        assert out_shapes == [(2, 4)] * 3 and aux == []
    # MXNet: LSTM states are [lstm_t2_out, lstm_t2_state]; GRU nodes carry a doubled '_'.
    cell = mx.rnn.LSTMCell(4, prefix="lstm_")
    _, states = cell.unroll(3, mx.sym.Variable("data"))
    assert [s.name for s in states] == ["lstm_t2_out", "lstm_t2_state"]
    gru = mx.rnn.GRUCell(4, prefix="gru_")
    outs, _ = gru.unroll(2, mx.sym.Variable("data"), merge_outputs=True)
    internals = outs.get_internals().list_outputs()
    assert "gru_t0__i2h_output" in internals and "gru_t1__h2h_slice_output2" in internals
    assert "gru_begin_state_0_output" in internals


def test_merged_tnc_layout_shapes():
    # MXNet 1.9.1: unroll(3, data, layout='TNC', merge_outputs=True).infer_shape(data=(3, 2, 5))
    # gives outputs [(3, 2, 4)].
    for make, _, _ in _CELLS.values():
        outs, _ = make().unroll(3, mx.sym.Variable("data"), layout="TNC", merge_outputs=True)
        assert isinstance(outs, mx.sym.Symbol)
        assert outs.infer_shape(data=(3, 2, 5))[1] == [(3, 2, 4)]


def test_sequential_stack_names_match_mxnet():
    # MXNet 1.9.1 (lstm_bucketing.py's stack with a DropoutCell in between).
    seq = mx.rnn.SequentialRNNCell()
    seq.add(mx.rnn.LSTMCell(4, prefix="lstm_l0_"))
    seq.add(mx.rnn.DropoutCell(0.5, prefix="drop_"))
    seq.add(mx.rnn.LSTMCell(4, prefix="lstm_l1_"))
    outs, states = seq.unroll(3, mx.sym.Variable("data"), merge_outputs=True)
    assert outs.list_arguments() == [
        "data", "lstm_l0_i2h_weight", "lstm_l0_i2h_bias", "lstm_l0_h2h_weight",
        "lstm_l0_h2h_bias", "lstm_l1_i2h_weight", "lstm_l1_i2h_bias", "lstm_l1_h2h_weight",
        "lstm_l1_h2h_bias"]
    assert outs.infer_shape(data=(2, 3, 5)) == (
        [(2, 3, 5), (16, 5), (16,), (16, 4), (16,), (16, 4), (16,), (16, 4), (16,)],
        [(2, 3, 4)], [])
    assert len(states) == 4
    assert [s.name for s in seq.begin_state(func=mx.sym.Variable)] == [
        "lstm_l0_begin_state_0", "lstm_l0_begin_state_1", "lstm_l1_begin_state_0",
        "lstm_l1_begin_state_1"]
    assert seq.state_info == [{"shape": (0, 4), "__layout__": "NC"}] * 4
    assert seq.state_shape == [(0, 4)] * 4
    assert sorted(seq.params._params) == sorted(outs.list_arguments()[1:])


def test_bidirectional_residual_zoneout_names_match_mxnet():
    # All printed from MXNet 1.9.1 with data of shape (2, 3, 5).
    bi = mx.rnn.BidirectionalCell(mx.rnn.GRUCell(4, prefix="l_"), mx.rnn.LSTMCell(3, prefix="r_"))
    outs, states = bi.unroll(3, mx.sym.Variable("data"), merge_outputs=True)
    assert outs.list_outputs() == ["bi_out_output"]
    assert outs.infer_shape(data=(2, 3, 5))[1] == [(2, 3, 7)]
    assert [len(s) for s in states] == [1, 2]
    for merge in (False, None):
        outs, _ = bi.unroll(3, mx.sym.Variable("data"), merge_outputs=merge)
        g = mx.sym.Group(outs)
        assert g.list_outputs() == ["bi_t0_output", "bi_t1_output", "bi_t2_output"]
        assert g.infer_shape(data=(2, 3, 5))[1] == [(2, 7)] * 3
    res = mx.rnn.ResidualCell(mx.rnn.GRUCell(5, prefix="res_"))
    outs, _ = res.unroll(3, mx.sym.Variable("data"), merge_outputs=False)
    assert mx.sym.Group(outs).list_outputs() == [
        "res_t0_out_plus_residual_output", "res_t1_out_plus_residual_output",
        "res_t2_out_plus_residual_output"]
    outs, _ = res.unroll(3, mx.sym.Variable("data"), merge_outputs=True)
    assert outs.list_outputs()[0].endswith("_plus_residual_output")
    assert outs.infer_shape(data=(2, 3, 5))[1] == [(2, 3, 5)]
    z = mx.rnn.ZoneoutCell(mx.rnn.RNNCell(4, prefix="z_"), zoneout_outputs=0.3,
                           zoneout_states=0.2)
    outs, _ = z.unroll(3, mx.sym.Variable("data"), merge_outputs=True)
    assert outs.list_arguments() == ["data", "z_i2h_weight", "z_i2h_bias", "z_h2h_weight",
                                     "z_h2h_bias"]
    assert outs.infer_shape(data=(2, 3, 5))[1] == [(2, 3, 4)]


def test_params_sharing_and_lstm_bias_init():
    params = mx.rnn.RNNParams("shared_")
    a = mx.rnn.LSTMCell(3, prefix="a_", params=params, forget_bias=2.5)
    b = mx.rnn.LSTMCell(3, prefix="b_", params=params)
    x = mx.sym.Variable("data")
    out_a, _ = a.unroll(2, x, merge_outputs=True)
    out_b, _ = b.unroll(2, out_a, merge_outputs=True)
    # One weight set, named after the container's prefix; node names after each cell's.
    assert out_b.list_arguments() == ["data", "shared_i2h_weight", "shared_i2h_bias",
                                      "shared_h2h_weight", "shared_h2h_bias"]
    assert "b_t1_out_output" in out_b.get_internals().list_outputs()
    # LSTMBias puts forget_bias on the second (forget) quarter of i2h_bias.
    attrs = out_b.attr_dict()["shared_i2h_bias"]
    init = mx.init.create(attrs["__init__"])
    arr = mx.nd.zeros((12,))
    init._init_weight("shared_i2h_bias", arr)
    # The container keeps the first cell's initializer (forget_bias=2.5), as in MXNet.
    assert arr.asnumpy().tolist() == [0.0] * 3 + [2.5] * 3 + [0.0] * 6
    mod = mx.mod.Module(out_a, data_names=["data"], label_names=None)
    mod.bind(data_shapes=[("data", (2, 2, 3))], for_training=False)
    mod.init_params(mx.init.Xavier())
    bias = mod.get_params()[0]["shared_i2h_bias"].asnumpy()
    assert bias.tolist() == [0.0] * 3 + [2.5] * 3 + [0.0] * 6


def test_modifier_begin_state_and_deprecated_rnn_unroll():
    base = mx.rnn.GRUCell(3, prefix="g_")
    z = mx.rnn.ZoneoutCell(base, zoneout_states=0.5)
    # The modifier hands out the wrapped cell's begin states and params.
    assert [s.name for s in z.begin_state(func=mx.sym.Variable)] == ["g_begin_state_0"]
    assert z.params is base.params and z.state_info == base.state_info
    with pytest.warns(DeprecationWarning, match="rnn_unroll"):
        outs, _ = mx.rnn.rnn_unroll(mx.rnn.RNNCell(2, prefix="u_"), 2, mx.sym.Variable("data"))
    assert mx.sym.Group(outs).list_outputs() == ["u_t0_out_output", "u_t1_out_output"]


# ----------------------------------------------------------------------------- numerics

@pytest.mark.parametrize("kind", sorted(_CELLS))
@pytest.mark.parametrize("layout", ["NTC", "TNC"])
def test_unrolled_forward_matches_numpy(kind, layout):
    make, gates, oracle = _CELLS[kind]
    rng = np.random.RandomState(7)
    cell = make()
    T, N, C, H = 4, 3, 5, 4
    begin = cell.begin_state(func=mx.sym.Variable)
    outs, states = cell.unroll(T, mx.sym.Variable("data"), begin_state=begin, layout=layout,
                               merge_outputs=True)
    net = mx.sym.Group([outs] + states)
    data = rng.uniform(-1, 1, (T, N, C))
    feed = {"data": data if layout == "TNC" else data.transpose(1, 0, 2)}
    start = [rng.uniform(-1, 1, (N, H)) for _ in begin]
    feed.update({s.name: v for s, v in zip(begin, start)})
    w = _random_weights(cell._prefix, gates, H, C, rng)
    feed.update({cell._prefix + k: v for k, v in w.items()})
    exe = _bind(net, {k: v.shape for k, v in feed.items()}, dtype=np.float64)
    for k, v in feed.items():
        exe.arg_dict[k][:] = v
    exe.forward(is_train=False)
    want_outs, want_states = oracle(list(data), start, w)
    want = np.stack(want_outs, axis=0 if layout == "TNC" else 1)
    assert_almost_equal(exe.outputs[0].asnumpy(), want, rtol=1e-10, atol=1e-12)
    for got, ref in zip(exe.outputs[1:], want_states):
        assert_almost_equal(got.asnumpy(), ref, rtol=1e-10, atol=1e-12)


def test_step_by_step_equals_unroll_and_list_inputs():
    rng = np.random.RandomState(3)
    cell = mx.rnn.LSTMCell(3, prefix="lstm_")
    xs = [mx.sym.Variable("x%d" % t) for t in range(3)]
    # float64 states (begin states are float32 zeros unless told otherwise, as in MXNet).
    unrolled, _ = cell.unroll(3, xs, begin_state=cell.begin_state(dtype=np.float64),
                              merge_outputs=False)
    cell.reset()
    states = cell.begin_state(dtype=np.float64)
    stepped = []
    for x in xs:
        out, states = cell(x, states)
        stepped.append(out)
    feed = {"x%d" % t: rng.uniform(-1, 1, (2, 4)) for t in range(3)}
    feed.update({"lstm_" + k: v for k, v in _random_weights("", 4, 3, 4, rng).items()})
    results = []
    for outs in (unrolled, stepped):
        net = mx.sym.Group(outs)
        assert net.list_outputs() == ["lstm_t0_out_output", "lstm_t1_out_output",
                                      "lstm_t2_out_output"]
        exe = _bind(net, {k: v.shape for k, v in feed.items()}, dtype=np.float64)
        for k, v in feed.items():
            exe.arg_dict[k][:] = v
        exe.forward()
        results.append([o.asnumpy() for o in exe.outputs])
    want, _ = _np_lstm([feed["x%d" % t] for t in range(3)], np.zeros((2, 3)), np.zeros((2, 3)),
                       {k[5:]: v for k, v in feed.items() if k.startswith("lstm_")})
    for a, b, c in zip(results[0], results[1], want):
        assert_almost_equal(a, c, rtol=1e-10, atol=1e-12)
        assert_almost_equal(b, c, rtol=1e-10, atol=1e-12)


def test_bidirectional_forward_matches_numpy():
    rng = np.random.RandomState(5)
    bi = mx.rnn.BidirectionalCell(mx.rnn.RNNCell(3, prefix="l_"), mx.rnn.GRUCell(2, prefix="r_"))
    outs, _ = bi.unroll(4, mx.sym.Variable("data"), merge_outputs=True,
                        begin_state=bi.begin_state(dtype=np.float64))
    data = rng.uniform(-1, 1, (2, 4, 5))
    wl = _random_weights("", 1, 3, 5, rng)
    wr = _random_weights("", 3, 2, 5, rng)
    feed = {"data": data}
    feed.update({"l_" + k: v for k, v in wl.items()})
    feed.update({"r_" + k: v for k, v in wr.items()})
    exe = _bind(outs, {k: v.shape for k, v in feed.items()}, dtype=np.float64)
    for k, v in feed.items():
        exe.arg_dict[k][:] = v
    exe.forward()
    xs = [data[:, t] for t in range(4)]
    left, _ = _np_rnn(xs, np.zeros((2, 3)), wl)
    right, _ = _np_gru(xs[::-1], np.zeros((2, 2)), wr)
    want = np.concatenate([np.stack(left, 1), np.stack(right[::-1], 1)], axis=2)
    assert_almost_equal(exe.outputs[0].asnumpy(), want, rtol=1e-10, atol=1e-12)


def test_residual_and_inference_dropout_zoneout_are_identity_additions():
    rng = np.random.RandomState(9)
    data = rng.uniform(-1, 1, (2, 3, 4))
    w = _random_weights("", 3, 4, 4, rng)
    want, _ = _np_gru([data[:, t] for t in range(3)], np.zeros((2, 4)), w)
    want = np.stack(want, 1)
    cells = {
        "residual": (mx.rnn.ResidualCell(mx.rnn.GRUCell(4, prefix="g_")), want + data),
        # At inference Dropout is the identity, so zoneout keeps every new value.
        "zoneout": (mx.rnn.ZoneoutCell(mx.rnn.GRUCell(4, prefix="g_"), 0.5, 0.5), want),
    }
    for name, (cell, expected) in cells.items():
        for merge in (True, False):
            outs, _ = cell.unroll(3, mx.sym.Variable("data"), merge_outputs=merge,
                                  begin_state=cell.begin_state(dtype=np.float64))
            net = outs if merge else mx.sym.Group(outs)
            feed = dict({"g_" + k: v for k, v in w.items()}, data=data)
            exe = _bind(net, {k: v.shape for k, v in feed.items()}, dtype=np.float64)
            for k, v in feed.items():
                exe.arg_dict[k][:] = v
            exe.forward(is_train=False)
            got = exe.outputs[0].asnumpy() if merge else \
                np.stack([o.asnumpy() for o in exe.outputs], 1)
            assert_almost_equal(got, expected, rtol=1e-10, atol=1e-12, names=(name, "numpy"))


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
def test_unrolled_gradient_matches_finite_differences(kind):
    make, gates, _ = _CELLS[kind]
    rng = np.random.RandomState(11)
    cell = make()
    outs, states = cell.unroll(2, mx.sym.Variable("data"), merge_outputs=True,
                               begin_state=cell.begin_state(dtype=np.float64))
    net = mx.sym.Group([outs, states[-1]])
    N, T, C, H = 2, 2, 3, 4
    feed = {"data": rng.uniform(-1, 1, (N, T, C))}
    feed.update({cell._prefix + k: v for k, v in _random_weights("", gates, H, C, rng).items()})
    exe = _bind(net, {k: v.shape for k, v in feed.items()}, dtype=np.float64, grad_req="write")
    for k, v in feed.items():
        exe.arg_dict[k][:] = v
    heads = [rng.uniform(-1, 1, (N, T, H)), rng.uniform(-1, 1, (N, H))]
    exe.forward(is_train=True)
    exe.backward([mx.nd.array(h, dtype=np.float64) for h in heads])

    for name in ["data", cell._prefix + "i2h_weight", cell._prefix + "h2h_bias"]:
        def f(arr, name=name):
            exe.arg_dict[name][:] = arr
            exe.forward(is_train=False)
            # Both outputs in one array so that `_numeric` weights them with one head.
            flat = np.concatenate([o.asnumpy().reshape(-1) for o in exe.outputs])
            return mx.nd.array(flat, dtype=np.float64)
        head = np.concatenate([h.reshape(-1) for h in heads])
        x = feed[name].astype(np.float64).copy()
        numeric = _numeric(f, x, head)
        exe.arg_dict[name][:] = feed[name]
        assert_almost_equal(exe.grad_dict[name].asnumpy(), numeric, rtol=1e-5, atol=1e-7,
                            names=(name + " grad", "finite differences"))


# ----------------------------------------------------------------------------- weights

def test_pack_unpack_round_trip():
    rng = np.random.RandomState(2)
    stack = mx.rnn.SequentialRNNCell()
    stack.add(mx.rnn.LSTMCell(3, prefix="l0_"))
    stack.add(mx.rnn.GRUCell(2, prefix="l1_"))
    stack.add(mx.rnn.RNNCell(2, prefix="l2_"))
    shapes = {"l0_i2h_weight": (12, 5), "l0_i2h_bias": (12,), "l0_h2h_weight": (12, 3),
              "l0_h2h_bias": (12,), "l1_i2h_weight": (6, 3), "l1_i2h_bias": (6,),
              "l1_h2h_weight": (6, 2), "l1_h2h_bias": (6,), "l2_i2h_weight": (2, 2),
              "l2_i2h_bias": (2,), "l2_h2h_weight": (2, 2), "l2_h2h_bias": (2,), "other": (3,)}
    args = {k: mx.nd.array(rng.uniform(-1, 1, s)) for k, s in shapes.items()}
    unpacked = stack.unpack_weights(args)
    # MXNet's per-gate names; an RNNCell's one gate is named by the empty string.
    assert sorted(unpacked) == sorted(
        ["l0_%s_%s_%s" % (g, gate, t) for g in ("i2h", "h2h") for gate in "ifco"
         for t in ("weight", "bias")]
        + ["l1_%s_%s_%s" % (g, gate, t) for g in ("i2h", "h2h") for gate in "rzo"
           for t in ("weight", "bias")]
        + ["l2_i2h_weight", "l2_i2h_bias", "l2_h2h_weight", "l2_h2h_bias", "other"])
    assert_almost_equal(unpacked["l0_i2h_f_weight"].asnumpy(),
                        args["l0_i2h_weight"].asnumpy()[3:6])
    assert_almost_equal(unpacked["l1_h2h_o_bias"].asnumpy(), args["l1_h2h_bias"].asnumpy()[4:6])
    assert sorted(args) == sorted(shapes)  # the input dict is left alone
    packed = stack.pack_weights(unpacked)
    assert sorted(packed) == sorted(shapes)
    for k in shapes:
        assert np.array_equal(packed[k].asnumpy(), args[k].asnumpy())
    # Unpacked arrays are copies: changing one does not change the packed original.
    unpacked["l0_i2h_i_bias"][:] = 100.0
    assert (args["l0_i2h_bias"].asnumpy() != 100.0).all()


# ----------------------------------------------------------------------------- bad use

def test_bad_use_raises_clear_errors():
    cell = mx.rnn.LSTMCell(3, prefix="lstm_")
    xs = [mx.sym.Variable("x%d" % t) for t in range(2)]
    with pytest.raises(ValueError, match="length=3.*2 input"):
        cell.unroll(3, xs)
    with pytest.raises(ValueError, match="needs inputs"):
        cell.unroll(3, None)
    with pytest.raises(ValueError, match="layout"):
        cell.unroll(2, mx.sym.Variable("data"), layout="NC")
    with pytest.raises(TypeError, match="Symbol"):
        cell.unroll(2, [np.zeros(3), np.zeros(3)])
    with pytest.raises(ValueError, match="one output"):
        cell.unroll(2, mx.sym.Group([xs[0], xs[1]]))
    with pytest.raises(ValueError, match="expects 2 state"):
        cell.unroll(2, xs, begin_state=cell.begin_state()[:1])
    with pytest.raises(ValueError, match="expects 2 state"):
        cell(xs[0], [mx.sym.Variable("h")])
    with pytest.raises(ValueError, match="num_hidden"):
        mx.rnn.GRUCell(0)
    with pytest.raises(ValueError, match="dropout"):
        mx.rnn.DropoutCell(1.5)
    with pytest.raises(TypeError, match="dropout"):
        mx.rnn.DropoutCell("0.5")
    with pytest.raises(KeyError, match="lstm_h2h_weight"):
        cell.unpack_weights({"lstm_i2h_weight": mx.nd.zeros((12, 2)),
                             "lstm_i2h_bias": mx.nd.zeros((12,))})
    wrapped = mx.rnn.LSTMCell(3, prefix="w_")
    mx.rnn.ResidualCell(wrapped)
    with pytest.raises(RuntimeError, match="modifier"):
        wrapped.begin_state()
    bi = mx.rnn.BidirectionalCell(mx.rnn.RNNCell(2, prefix="a_"), mx.rnn.RNNCell(2, prefix="b_"))
    with pytest.raises(NotImplementedError, match="unroll"):
        bi(xs[0], bi.begin_state())
    with pytest.raises(ValueError, match="zoneout"):
        mx.rnn.ZoneoutCell(bi, 0.1)
    seq = mx.rnn.SequentialRNNCell(params=mx.rnn.RNNParams("s_"))
    shared = mx.rnn.RNNCell(2, prefix="c_")
    shared.params  # handing out its params makes the cell a non-owner
    with pytest.raises(ValueError, match="not both"):
        seq.add(shared)
    with pytest.raises(TypeError, match="RNN cell"):
        mx.rnn.SequentialRNNCell().add("lstm")


# ----------------------------------------------------------------------------- io

def test_encode_sentences_builds_and_uses_vocab():
    sents = [["a", "b", "c"], ["b", "d"], ["a"]]
    coded, vocab = mx.rnn.encode_sentences(sents)
    # MXNet 1.9.1: ids from start_label=0 in order of appearance; '\n' -> invalid_label -1.
    assert coded == [[0, 1, 2], [1, 3], [0]]
    assert vocab == {"\n": -1, "a": 0, "b": 1, "c": 2, "d": 3}
    # start_label == invalid_label skips that id (MXNet: encode_sentences(.., invalid_label=1,
    # start_label=1) gives a=2, b=3).
    coded, vocab = mx.rnn.encode_sentences([["a", "b"]], invalid_label=1, start_label=1,
                                           invalid_key="<pad>")
    assert coded == [[2, 3]] and vocab == {"<pad>": 1, "a": 2, "b": 3}
    coded, _ = mx.rnn.encode_sentences([["d", "a"]], vocab={"\n": -1, "a": 0, "d": 3})
    assert coded == [[3, 0]]
    with pytest.raises(ValueError, match="Unknown token 'z'"):
        mx.rnn.encode_sentences([["z"]], vocab={"a": 0})
    with pytest.raises(AssertionError):  # what MXNet 1.9.1 raises
        mx.rnn.encode_sentences([["z"]], vocab={"a": 0})
    vocab = {"\n": -1, "a": 0, "b": 1}
    coded, vocab = mx.rnn.encode_sentences([["a", "x", "y", "b"]], vocab=vocab,
                                           unknown_token="<unk>")
    assert coded == [[0, 2, 2, 1]] and vocab["<unk>"] == 2


def _iter_batches(it):
    return [(b.bucket_key, b.data[0].asnumpy(), b.label[0].asnumpy(), b.provide_data,
             b.provide_label, b.pad) for b in it]


def test_bucket_sentence_iter_batches(caplog):
    sents = [[1, 2], [3, 4, 5], [6], [7, 8, 9, 10], [11, 12, 13, 14, 15, 16], [17, 18, 19]]
    random.seed(0)
    np.random.seed(0)
    with caplog.at_level(logging.WARNING):
        it = mx.rnn.BucketSentenceIter(sents, batch_size=2, buckets=[4, 2], invalid_label=0)
    assert "discarded 1 sentences longer than the largest bucket 4" in caplog.text
    assert it.buckets == [2, 4] and it.default_bucket_key == 4
    assert it.provide_data == [("data", (2, 4))] and it.provide_label == [("softmax_label", (2, 4))]
    assert it.provide_data[0].layout == "NT"
    batches = _iter_batches(it)
    # Bucket 2 holds [1, 2] and [6, pad]; bucket 4 the three sentences of length 3 and 4, so
    # one full batch each (a bucket's last partial batch is dropped).
    assert sorted(b[0] for b in batches) == [2, 4]
    rows = {2: {(1, 2), (6, 0)},
            4: {(3, 4, 5, 0), (7, 8, 9, 10), (17, 18, 19, 0)}}
    for key, data, label, pdata, plabel, pad in batches:
        assert data.shape == (2, key) and label.shape == (2, key) and pad == 0
        assert pdata[0].name == "data" and pdata[0].shape == (2, key)
        assert plabel[0].name == "softmax_label" and plabel[0].shape == (2, key)
        got = [tuple(d) for d in data.astype(int).tolist()]
        assert len(set(got)) == 2 and set(got) <= rows[key]
        if key == 2:
            assert set(got) == rows[2]
        for d, lab in zip(data.astype(int).tolist(), label.astype(int).tolist()):
            assert lab == d[1:] + [0]  # the next word, invalid_label at the end
    # Reset reshuffles; over several epochs every sentence of bucket 4 shows up.
    seen = set()
    for _ in range(20):
        it.reset()
        for key, data, _, _, _, _ in _iter_batches(it):
            if key == 4:
                seen.update(tuple(d) for d in data.astype(int).tolist())
    assert seen == rows[4]


def test_bucket_sentence_iter_default_buckets_and_tn_layout():
    sents = [[1, 2, 3]] * 5 + [[4, 5]] * 2 + [[6, 7, 8, 9, 1]] * 4 + [[2]]
    it = mx.rnn.BucketSentenceIter(sents, batch_size=2, invalid_label=-1, layout="TN",
                                   data_name="words", label_name="next")
    # Default buckets: the lengths shared by at least batch_size sentences (2, 3 and 5); the
    # length-1 sentence goes to bucket 2.
    assert it.buckets == [2, 3, 5] and it.default_bucket_key == 5
    assert it.provide_data == [("words", (5, 2))] and it.provide_label == [("next", (5, 2))]
    batches = _iter_batches(it)
    # bucket 2: 3 rows -> 1 batch; bucket 3: 5 rows -> 2; bucket 5: 4 rows -> 2.
    assert sorted(b[0] for b in batches) == [2, 3, 3, 5, 5]
    for key, data, label, pdata, plabel, _ in batches:
        assert data.shape == (key, 2) and pdata[0].shape == (key, 2)
        assert pdata[0].layout == "TN" and plabel[0].name == "next"
        assert np.array_equal(label[:-1], data[1:]) and (label[-1] == -1).all()
    # MXNet 1.9.1 reads only where N stands: 'NTC' is batch major, N third is refused.
    assert mx.rnn.BucketSentenceIter(sents, 2, layout="NTC").provide_data[0].shape == (2, 5)
    with pytest.raises(ValueError, match="layout"):
        mx.rnn.BucketSentenceIter(sents, 2, layout="TCN")
    with pytest.raises(ValueError, match="no sentence"):
        mx.rnn.BucketSentenceIter([[1, 2, 3]], 1, buckets=[2])
    # uint8 rows pad with the label cast as numpy 1 cast it for MXNet: -1 is 255.
    it = mx.rnn.BucketSentenceIter([[1, 2], [1, 2]], 2, buckets=[3], dtype="uint8")
    b = next(it)
    assert b.data[0].asnumpy().tolist() == [[1, 2, 255]] * 2
    assert b.label[0].asnumpy().tolist() == [[2, 255, 255]] * 2
    # No bucket at all (none given, no length occurring batch_size times): MXNet's ValueError.
    for buckets in (None, []):
        with pytest.raises(ValueError, match="no bucket"):
            mx.rnn.BucketSentenceIter([[1, 2, 3]], 2, buckets=buckets)


# ----------------------------------------------------------------------------- training

def _pattern_sentences(n, rng):
    # Words 1..5 (0 is padding); after the random first word each word is its cyclic
    # successor, so everything but the first word is predictable.
    sents = []
    for _ in range(n):
        length = rng.randint(3, 9)
        w = rng.randint(1, 6)
        sent = []
        for _ in range(length):
            sent.append(w)
            w = w % 5 + 1
        sents.append(sent)
    return sents


def _lm_sym_gen(stack, vocab, num_embed, num_hidden):
    # The structure of MXNet's example/rnn/bucketing/lstm_bucketing.py.
    def sym_gen(seq_len):
        data = mx.sym.Variable("data")
        label = mx.sym.Variable("softmax_label")
        embed = mx.sym.Embedding(data=data, input_dim=vocab, output_dim=num_embed, name="embed")
        stack.reset()
        outputs, _ = stack.unroll(seq_len, inputs=embed, merge_outputs=True)
        pred = mx.sym.Reshape(outputs, shape=(-1, num_hidden))
        pred = mx.sym.FullyConnected(data=pred, num_hidden=vocab, name="pred")
        label = mx.sym.Reshape(label, shape=(-1,))
        pred = mx.sym.SoftmaxOutput(data=pred, label=label, name="softmax")
        return pred, ("data",), ("softmax_label",)
    return sym_gen


def _make_stack(num_hidden, num_layers=2):
    stack = mx.rnn.SequentialRNNCell()
    for i in range(num_layers):
        stack.add(mx.rnn.LSTMCell(num_hidden=num_hidden, prefix="lstm_l%d_" % i))
    return stack


def test_bucketing_lstm_language_model_learns_and_checkpoints(tmp_path):
    rng = np.random.RandomState(0)
    random.seed(0)
    mx.random.seed(0)
    vocab, num_embed, num_hidden, batch_size, invalid_label = 6, 8, 16, 8, 0
    buckets = [4, 8]
    train = mx.rnn.BucketSentenceIter(_pattern_sentences(192, rng), batch_size,
                                      buckets=buckets, invalid_label=invalid_label)
    val = mx.rnn.BucketSentenceIter(_pattern_sentences(64, rng), batch_size,
                                    buckets=buckets, invalid_label=invalid_label)
    stack = _make_stack(num_hidden)
    model = mx.mod.BucketingModule(sym_gen=_lm_sym_gen(stack, vocab, num_embed, num_hidden),
                                   default_bucket_key=train.default_bucket_key,
                                   context=mx.cpu())
    model.bind(data_shapes=train.provide_data, label_shapes=train.provide_label)
    model.init_params(mx.init.Xavier(factor_type="in", magnitude=2.34))
    metric = mx.metric.Perplexity(invalid_label)
    before = dict(model.score(val, metric))["perplexity"]
    prefix = str(tmp_path / "lm")
    model.fit(train_data=train, eval_data=val, eval_metric=mx.metric.Perplexity(invalid_label),
              optimizer="adam", optimizer_params={"learning_rate": 0.02},
              num_epoch=6, epoch_end_callback=mx.rnn.do_rnn_checkpoint(stack, prefix, period=3))
    after = dict(model.score(val, mx.metric.Perplexity(invalid_label)))["perplexity"]
    # Uniform guessing over 6 words is perplexity 6; only the first word of each sentence
    # (and the padding label after the last) is unpredictable.
    assert before > 4.0, before
    assert after < 1.8 and after < before / 3, (before, after)
    assert os.path.exists(prefix + "-0003.params") and os.path.exists(prefix + "-0006.params")

    # The checkpoint holds per-gate (unpacked) weights, as MXNet writes it.
    saved = mx.nd.load(prefix + "-0006.params")
    assert "arg:lstm_l0_i2h_f_weight" in saved and "arg:lstm_l1_h2h_o_bias" in saved
    assert "arg:lstm_l0_i2h_weight" not in saved
    arg, aux = model.get_params()
    mx.rnn.save_rnn_checkpoint(stack, prefix + "-own", 7, model.symbol, arg, aux)
    sym, arg2, aux2 = mx.rnn.load_rnn_checkpoint(stack, prefix + "-own", 7)
    assert sorted(arg2) == sorted(arg) and aux2 == {} and aux == {}
    for k in arg:
        assert np.array_equal(arg2[k].asnumpy(), arg[k].asnumpy()), k
    assert sym.list_arguments() == model.symbol.list_arguments()

    # A fresh inference module from the loaded weights predicts exactly the same.
    fresh = mx.mod.BucketingModule(sym_gen=_lm_sym_gen(_make_stack(num_hidden), vocab,
                                                       num_embed, num_hidden),
                                   default_bucket_key=val.default_bucket_key, context=mx.cpu())
    fresh.bind(data_shapes=val.provide_data, label_shapes=val.provide_label,
               for_training=False)
    fresh.set_params(arg2, aux2)
    val.reset()
    keys = set()
    for batch in val:
        keys.add(batch.bucket_key)
        model.forward(batch, is_train=False)
        want = model.get_outputs()[0].asnumpy()
        fresh.forward(batch, is_train=False)
        got = fresh.get_outputs()[0].asnumpy()
        assert got.shape == (batch_size * batch.bucket_key, vocab)
        assert np.array_equal(got, want)
    assert keys == set(buckets)


GOLD = os.path.join(os.path.dirname(__file__), "..", "data", "golden", "rnn")


def _golden_stack():
    # The cells of tests/data/make_golden_rnn.py.
    stack = mx.rnn.SequentialRNNCell()
    stack.add(mx.rnn.LSTMCell(6, prefix="lstm_l0_"))
    stack.add(mx.rnn.DropoutCell(0.2, prefix="drop_"))
    stack.add(mx.rnn.GRUCell(5, prefix="gru_l1_"))
    return stack


def test_mxnet_rnn_checkpoint_loads_into_the_same_cells():
    import json
    with open(os.path.join(GOLD, "expected.json")) as f:
        expected = json.load(f)
    prefix = os.path.join(GOLD, "lm")
    assert sorted(mx.nd.load(prefix + "-0001.params")) == expected["params_keys"]
    stack = _golden_stack()
    sym, arg, aux = mx.rnn.load_rnn_checkpoint(stack, prefix, 1)
    assert "lstm_l0_i2h_weight" in arg and "lstm_l0_i2h_f_weight" not in arg
    assert arg["lstm_l0_i2h_weight"].shape == (24, 4) and arg["gru_l1_h2h_bias"].shape == (15,)

    vocab = 7
    sym_gen = _lm_sym_gen(stack, vocab, 4, 5)
    # MXNet's saved graph (default bucket, 5 steps) has the arguments our cells build.
    assert sym.list_arguments() == sym_gen(5)[0].list_arguments()
    mod = mx.mod.BucketingModule(sym_gen, default_bucket_key=5)
    mod.bind(data_shapes=[("data", (4, 5))], label_shapes=[("softmax_label", (4, 5))],
             for_training=False)
    mod.set_params(arg, aux)
    for length in (3, 5):
        x = np.load(os.path.join(GOLD, "input_%d.npy" % length))
        batch = mx.io.DataBatch([mx.nd.array(x)], [mx.nd.zeros(x.shape)], bucket_key=length,
                                provide_data=[mx.io.DataDesc("data", x.shape)],
                                provide_label=[mx.io.DataDesc("softmax_label", x.shape)])
        mod.forward(batch, is_train=False)
        assert_almost_equal(mod.get_outputs()[0].asnumpy(),
                            np.load(os.path.join(GOLD, "predict_%d.npy" % length)),
                            rtol=1e-5, atol=1e-6)
    # MXNet's own symbol file binds and predicts the same.
    plain = mx.mod.Module(sym, data_names=["data"], label_names=["softmax_label"])
    plain.bind(data_shapes=[("data", (4, 5))], label_shapes=[("softmax_label", (4, 5))],
               for_training=False)
    plain.set_params(arg, aux)
    x = np.load(os.path.join(GOLD, "input_5.npy"))
    plain.forward(mx.io.DataBatch([mx.nd.array(x)], [mx.nd.zeros(x.shape)]), is_train=False)
    assert_almost_equal(plain.get_outputs()[0].asnumpy(),
                        np.load(os.path.join(GOLD, "predict_5.npy")), rtol=1e-5, atol=1e-6)


def test_cells_import_from_rnn_cell_as_in_mxnet():
    # MXNet defines every cell in mxnet/rnn/rnn_cell.py; user code imports them from there.
    from oxnet.rnn.rnn_cell import ConvGRUCell, ConvLSTMCell, FusedRNNCell
    assert FusedRNNCell is mx.rnn.FusedRNNCell
    assert (ConvLSTMCell, ConvGRUCell) == (mx.rnn.ConvLSTMCell, mx.rnn.ConvGRUCell)


def test_modifier_cell_keeps_its_base_cells_step_numbers_across_unrolls():
    # MXNet 1.9.1 resets a modifier cell, not the cell it wraps: a second unroll goes on
    # with the base cell's step names (t2, t3) and begin-state numbers.
    cell = mx.rnn.ZoneoutCell(mx.rnn.GRUCell(2, prefix="g_"), 0.0, 0.0)
    x = mx.sym.Variable("x")
    cell.unroll(2, x)
    o, s = cell.unroll(2, x, begin_state=cell.begin_state(mx.sym.Variable))
    assert mx.sym.Group(o + s).list_arguments() == [
        "x", "g_i2h_weight", "g_i2h_bias", "g_begin_state_1", "g_h2h_weight", "g_h2h_bias"]
    assert mx.sym.Group(o).list_outputs() == ["g_t2_out_output", "g_t3_out_output"]
