"""mx.rnn.FusedRNNCell: names, shapes and outputs as MXNet 1.9.1 prints them; the fused cell
against its unfused stack (the stacked cells are checked against numpy in test_rnn_cell.py);
weights packing; training."""
import json

import numpy as np
import pytest

import oxnet as mx

# (mode, layers, bidirectional, get_next_state) and what MXNet 1.9.1 printed for
# cell.unroll(3, data, layout='NTC', merge_outputs=True) with data (2, 3, 5), the flat weights
# sin(arange(n) * 0.37) * 0.5 and the data cos(arange(30).reshape(2, 3, 5) * 0.21).
CASES = [
    ("lstm", 2, True, True, 800, [(2, 3, 8), (4, 2, 4), (4, 2, 4)], 64,
     ["lstm_rnn_state_output", "lstm_rnn_statecell_output"],
     [-0.3365, -0.324298, -0.218888, -0.177835, -0.165978, -0.220865, -0.258204, -0.256332],
     [-0.789001, -0.83508, -0.772478, -0.754417]),
    ("gru", 1, False, True, 132, [(2, 3, 4), (1, 2, 4)], 12, ["gru_rnn_state_output"],
     [-0.608459, -0.52954, 0.403714, -0.298042], [-0.608459, -0.52954, 0.403714, -0.298042]),
    ("rnn_tanh", 2, False, False, 84, [(2, 3, 4)], 8, [],
     [-0.551569, -0.677164, -0.495997, -0.446806], None),
]


def _data():
    return mx.nd.array(np.cos(np.arange(30).reshape(2, 3, 5) * 0.21))


def _weights(n):
    return mx.nd.array(np.sin(np.arange(n) * 0.37) * 0.5)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_matches_mxnet(case):
    mode, layers, bi, nxt, n, out_shapes, n_pieces, state_names, last, state = case
    cell = mx.rnn.FusedRNNCell(4, num_layers=layers, mode=mode, bidirectional=bi,
                               get_next_state=nxt, prefix=mode + "_")
    out, states = cell.unroll(3, mx.sym.Variable("data"), layout="NTC", merge_outputs=True)
    g = mx.sym.Group([out] + list(states))
    assert g.list_arguments() == ["data", mode + "_parameters"]
    assert g.list_outputs()[1:] == state_names
    arg_shapes, shapes, _ = g.infer_shape(data=(2, 3, 5))
    assert arg_shapes == [(2, 3, 5), (n,)]
    assert shapes == out_shapes
    pieces = cell.unpack_weights({mode + "_parameters": _weights(n)})
    assert len(pieces) == n_pieces
    outs = g.bind(mx.cpu(), {"data": _data(), mode + "_parameters": _weights(n)}).forward()
    np.testing.assert_allclose(outs[0].asnumpy()[1, 2], last, atol=2e-6)
    if state is not None:
        np.testing.assert_allclose(outs[-1].asnumpy()[-1, 1], state, atol=2e-6)


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_relu", "rnn_tanh"])
@pytest.mark.parametrize("bi", [False, True])
def test_fused_equals_unfused_forward_and_gradients(mode, bi):
    cell = mx.rnn.FusedRNNCell(6, num_layers=2, mode=mode, bidirectional=bi, prefix="f_")
    out, _ = cell.unroll(4, mx.sym.Variable("data"), layout="TNC", merge_outputs=True)
    stack = cell.unfuse()
    uout, _ = stack.unroll(4, mx.sym.Variable("data"), layout="TNC", merge_outputs=True)
    rng = np.random.RandomState(0)
    data = rng.uniform(-1, 1, (4, 3, 5)).astype(np.float32)
    (n,), = [s for name, s in zip(out.list_arguments(),
                                  out.infer_shape(data=(4, 3, 5))[0]) if name == "f_parameters"]
    flat = mx.nd.array(rng.uniform(-0.5, 0.5, n))
    pieces = cell.unpack_weights({"f_parameters": flat})
    unfused_args = stack.pack_weights(pieces)
    head = rng.uniform(-1, 1, (4, 3, 6 * (2 if bi else 1))).astype(np.float32)

    def run(sym, args):
        args = dict(args, data=mx.nd.array(data))
        grads = {k: mx.nd.zeros(v.shape) for k, v in args.items()}
        ex = sym.bind(mx.cpu(), args, args_grad=grads)
        o = ex.forward(is_train=True)[0].asnumpy()
        ex.backward(mx.nd.array(head))
        return o, {k: g.asnumpy() for k, g in grads.items()}
    fo, fg = run(out, {"f_parameters": flat})
    uo, ug = run(uout, unfused_args)
    np.testing.assert_allclose(fo, uo, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(fg["data"], ug["data"], rtol=1e-4, atol=1e-5)
    # the fused weight gradient, split, equals the unfused cells' gradients
    split = cell.unpack_weights({"f_parameters": mx.nd.array(fg["f_parameters"])})
    joined = stack.unpack_weights({k: mx.nd.array(v) for k, v in ug.items() if k != "data"})
    assert sorted(split) == sorted(joined)
    for k in split:
        np.testing.assert_allclose(split[k].asnumpy(), joined[k].asnumpy(), rtol=1e-3,
                                   atol=1e-5, err_msg=k)


def test_pack_unpack_round_trip_and_errors():
    cell = mx.rnn.FusedRNNCell(3, num_layers=2, mode="gru", bidirectional=True)
    w = mx.nd.array(np.arange(cell._flat_size(4)))
    back = cell.pack_weights(cell.unpack_weights({"gru_parameters": w, "other": w}))
    assert sorted(back) == ["gru_parameters", "other"]
    np.testing.assert_array_equal(back["gru_parameters"].asnumpy(), w.asnumpy())
    with pytest.raises(ValueError, match="does not fit"):
        cell.unpack_weights({"gru_parameters": mx.nd.zeros((7,))})
    with pytest.raises(KeyError, match="gru_l0_i2h_r_weight"):
        cell.pack_weights({})
    with pytest.raises(NotImplementedError, match="unroll"):
        cell(mx.sym.Variable("x"), [])
    with pytest.raises(ValueError, match="mode"):
        mx.rnn.FusedRNNCell(3, mode="lstmm")


def test_initializer_sets_lstm_forget_bias():
    cell = mx.rnn.FusedRNNCell(4, num_layers=1, mode="lstm", forget_bias=2.5)
    out, _ = cell.unroll(2, mx.sym.Variable("data"), layout="TNC", merge_outputs=True)
    mod = mx.mod.Module(out, data_names=["data"], label_names=None)
    mod.bind([("data", (2, 3, 5))])
    mod.init_params(mx.init.Xavier())
    args, _ = mod.get_params()
    pieces = cell.unpack_weights(args)
    for g in ("i", "c", "o"):
        assert np.all(pieces["lstm_l0_i2h_%s_bias" % g].asnumpy() == 0)
    assert np.all(pieces["lstm_l0_i2h_f_bias"].asnumpy() == 2.5)
    assert np.abs(pieces["lstm_l0_i2h_i_weight"].asnumpy()).max() > 0


def test_unfused_lstm_cells_keep_the_default_forget_bias_as_mxnet():
    # MXNet 1.9.1's unfuse() builds LSTMCell(num_hidden, prefix=...): the unfused network's
    # bias initializer is LSTMBias(1.0) whatever the fused cell's forget_bias.
    stack = mx.rnn.FusedRNNCell(2, mode="lstm", forget_bias=0.0, prefix="f_").unfuse()
    out, _ = stack.unroll(2, mx.sym.Variable("data"), layout="NTC")
    attrs = mx.sym.Group(out).attr_dict()["f_l0_i2h_bias"]
    assert json.loads(attrs["__init__"]) == ["lstmbias", {"forget_bias": 1.0}]


def test_fused_lstm_learns_a_sequence_task():
    # the label is the sign of the running sum of the inputs: needs memory across steps
    rng = np.random.RandomState(3)
    x = rng.uniform(-1, 1, (400, 8, 1)).astype(np.float32)
    y = (np.cumsum(x, axis=1)[:, -1, 0] > 0).astype(np.float32)
    cell = mx.rnn.FusedRNNCell(16, num_layers=1, mode="lstm", prefix="lstm_")
    out, _ = cell.unroll(8, mx.sym.Variable("data"), layout="NTC", merge_outputs=False)
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(out[-1], num_hidden=2, name="fc"),
                               name="softmax")
    it = mx.io.NDArrayIter(x, y, 20, shuffle=True)
    mod = mx.mod.Module(net)
    mod.fit(it, num_epoch=12, optimizer="adam", optimizer_params={"learning_rate": 0.01},
            initializer=mx.init.Xavier())
    acc = dict(mod.score(mx.io.NDArrayIter(x, y, 20), "acc"))["accuracy"]
    assert acc > 0.9, acc
