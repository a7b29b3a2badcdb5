"""mx.rnn's convolutional cells (ConvRNNCell, ConvLSTMCell, ConvGRUCell) and mx.sym.sparse.

Every number is MXNet 1.9.1's, printed by the reference install for the same seeded inputs
(three-step unroll, outputs and all gradients), so the cells' graphs — gate order, slicing
axis, "same" padding of the state convolution, activation placement — must match MXNet's.
"""
import numpy as np
import pytest

import oxnet as mx


def _unroll_and_run(cell, rng, length=3, shape=(2, 3, 5, 5)):
    outputs, states = cell.unroll(length, mx.sym.Variable("data"), layout="NTC",
                                  merge_outputs=True)
    graph = mx.sym.Group([outputs] + list(states))
    args = graph.list_arguments()
    arg_shapes, out_shapes, _ = graph.infer_shape(data=(shape[0], length) + shape[1:])
    values = {n: mx.nd.array(rng.uniform(-0.5, 0.5, s).astype(np.float32))
              for n, s in zip(args, arg_shapes)}
    grads = {n: mx.nd.zeros(v.shape) for n, v in values.items()}
    ex = graph.bind(mx.cpu(), values, args_grad=grads)
    ex.forward(is_train=True)
    heads = [mx.nd.array(rng.uniform(-1, 1, o.shape).astype(np.float32)) for o in ex.outputs]
    ex.backward(heads)
    out_sums = [o.asnumpy().astype(np.float64).sum() for o in ex.outputs]
    grad_sums = {n: grads[n].asnumpy().astype(np.float64).sum() for n in args}
    return args, out_shapes, ex.outputs[0].asnumpy().ravel()[:6], out_sums, grad_sums


# (cell factory, arguments, output shapes, state_info shape, first outputs, output sums,
#  gradient sums): MXNet 1.9.1 printed, one RandomState(3) stream across the three cells.
CASES = [
    (lambda: mx.rnn.ConvRNNCell((2, 3, 5, 5), 4),
     ["data", "ConvRNN_i2h_weight", "ConvRNN_i2h_bias", "ConvRNN_h2h_weight", "ConvRNN_h2h_bias"],
     [(2, 3, 4, 5, 5), (2, 4, 5, 5)], (0, 4, 5, 5),
     [0.6781119108200073, -0.009681475348770618, 0.314758837223053, 0.7365944385528564,
      0.8554074764251709, 0.628038227558136],
     [99.42983360009384, 37.651380747323856],
     [11.9716, -26.12922, 31.69345, 100.58242, 31.69345]),
    (lambda: mx.rnn.ConvLSTMCell((2, 3, 5, 5), 2, i2h_kernel=(3, 3), i2h_stride=(2, 2),
                                 i2h_pad=(1, 1), prefix="cl_"),
     ["data", "cl_i2h_weight", "cl_i2h_bias", "cl_h2h_weight", "cl_h2h_bias"],
     [(2, 3, 2, 3, 3), (2, 2, 3, 3), (2, 2, 3, 3)], (0, 2, 3, 3),
     [-0.0013760613510385156, 0.00041912985034286976, -0.0007992050377652049,
      0.01061968132853508, -0.0015774609055370092, -0.006768843159079552],
     [9.535470808390528, 3.6534637422300875, 6.5602820217609406],
     [6.32551, -0.64033, -3.07949, -1.99499, -3.07949]),
    (lambda: mx.rnn.ConvGRUCell((2, 3, 5, 5), 3, (3, 3), (2, 2), activation="tanh"),
     ["data", "ConvGRU_i2h_weight", "ConvGRU_i2h_bias", "ConvGRU_h2h_weight", "ConvGRU_h2h_bias"],
     [(2, 3, 3, 5, 5), (2, 3, 5, 5)], (0, 3, 5, 5),
     [0.06947267055511475, 0.1464325487613678, 0.13597458600997925, 0.07030297815799713,
      0.17487533390522003, 0.14097960293293],
     [11.814118425594643, 4.749036677181721],
     [5.98459, -8.49735, 8.71367, -0.57893, 3.50193]),
]


def test_conv_cells_match_mxnet_outputs_and_gradients():
    rng = np.random.RandomState(3)
    for make, want_args, want_shapes, state_shape, first, out_sums, grad_sums in CASES:
        cell = make()
        assert [info["shape"] for info in cell.state_info] == [state_shape] * len(cell.state_info)
        assert all(info["__layout__"] == "NCHW" for info in cell.state_info)
        args, shapes, got_first, got_sums, got_grads = _unroll_and_run(cell, rng)
        assert args == want_args
        assert [tuple(s) for s in shapes] == want_shapes
        np.testing.assert_allclose(got_first, first, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(got_sums, out_sums, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose([got_grads[n] for n in args], grad_sums, rtol=1e-3, atol=2e-4)


def test_conv_cell_node_names_are_mxnet_s():
    cell = mx.rnn.ConvGRUCell((2, 3, 5, 5), 3)
    outputs, _ = cell.unroll(2, mx.sym.Variable("data"), merge_outputs=True)
    names = [n for n in outputs.get_internals().list_outputs() if "t1_" in n]
    # MXNet 1.9.1's GRU step nodes carry a doubled underscore.
    for want in ("ConvGRU_t1_i2h_output", "ConvGRU_t1__i2h_slice_output2",
                 "ConvGRU_t1__r_act_output", "ConvGRU_t1__h_act_output", "ConvGRU_t1_out_output"):
        assert want in names
    lstm = mx.rnn.ConvLSTMCell((2, 3, 5, 5), 2, prefix="cl_")
    outputs, _ = lstm.unroll(2, mx.sym.Variable("data"), merge_outputs=True)
    names = outputs.get_internals().list_outputs()
    for want in ("cl_t1_slice_output3", "cl_t1_f_output", "cl_t1_state_output", "cl_t1_out_output"):
        assert want in names


def test_conv_lstm_unpack_and_pack_weights():
    cell = mx.rnn.ConvLSTMCell((2, 3, 5, 5), 2, prefix="p_")
    args = {"p_i2h_weight": mx.nd.array(np.arange(8 * 3 * 9).reshape(8, 3, 3, 3)),
            "p_i2h_bias": mx.nd.arange(8),
            "p_h2h_weight": mx.nd.array(np.arange(8 * 2 * 9).reshape(8, 2, 3, 3)),
            "p_h2h_bias": mx.nd.arange(8)}
    unpacked = cell.unpack_weights(args)
    assert sorted(unpacked) == sorted("p_%s_%s_%s" % (g, gate, kind) for g in ("i2h", "h2h")
                                      for gate in "ifco" for kind in ("weight", "bias"))
    assert unpacked["p_i2h_f_weight"].shape == (2, 3, 3, 3)
    np.testing.assert_array_equal(unpacked["p_h2h_o_bias"].asnumpy(), [6, 7])
    packed = cell.pack_weights(unpacked)
    for name, value in args.items():
        np.testing.assert_array_equal(packed[name].asnumpy(), value.asnumpy())


def test_conv_cell_arguments_are_checked():
    with pytest.raises(ValueError, match="h2h_kernel must be odd"):
        mx.rnn.ConvRNNCell((1, 3, 5, 5), 4, h2h_kernel=(2, 3))
    with pytest.raises(ValueError, match="i2h_stride must be a pair"):
        mx.rnn.ConvLSTMCell((1, 3, 5, 5), 4, i2h_stride=2)
    with pytest.raises(TypeError, match="unexpected argument 'kernel'"):
        mx.rnn.ConvGRUCell((1, 3, 5, 5), 4, kernel=(3, 3))
    with pytest.raises(TypeError, match="multiple values for argument 'h2h_kernel'"):
        mx.rnn.ConvGRUCell((1, 3, 5, 5), 4, (3, 3), h2h_kernel=(3, 3))
    with pytest.raises(NotImplementedError, match="abstract"):
        cell = mx.rnn.BaseConvRNNCell((1, 3, 5, 5), 4, (3, 3), (1, 1), (3, 3), (1, 1), (1, 1),
                                      (1, 1), None, None, "zeros", "zeros", "tanh")
        cell(mx.sym.Variable("x"), [mx.sym.Variable("h")])


def test_sym_sparse_builds_the_dense_nodes_mxnet_writes():
    a, b = mx.sym.Variable("a"), mx.sym.Variable("b")
    with mx.name.NameManager():
        net = mx.sym.sparse.elemwise_add(mx.sym.sparse.dot(a, b, transpose_b=True), a)
    nodes = [n for n in __import__("json").loads(net.tojson())["nodes"] if n["op"] != "null"]
    # MXNet 1.9.1: the canonical op names and short-name automatic node names.
    assert [(n["op"], n["name"]) for n in nodes] == [("dot", "dot0"), ("elemwise_add", "elemwise_add0")]
    x = np.random.RandomState(0).uniform(-1, 1, (3, 3)).astype(np.float32)
    ex = net.bind(mx.cpu(), {"a": mx.nd.array(x), "b": mx.nd.array(x)})
    np.testing.assert_allclose(ex.forward()[0].asnumpy(), x @ x.T + x, rtol=1e-5, atol=1e-6)
    for name in ("sum", "mean", "FullyConnected", "Embedding", "sgd_update", "where", "concat",
                 "retain"):
        assert callable(getattr(mx.sym.sparse, name))
