"""mx.nd.contrib's Python-level functions: imperative control flow, rand_zipfian, isinf/isnan.
Expected values were printed by MXNet 1.9.1 for the same calls, or come from numpy."""
import numpy as np
import pytest

import oxnet as mx


def test_while_loop_matches_mxnet_docs_example():
    outs, states = mx.nd.contrib.while_loop(
        lambda i, s: i <= 5, lambda i, s: ([i + s], [i + 1, s + i]),
        (mx.nd.array([0]), mx.nd.array([1])), max_iterations=10)
    assert outs[0].shape == (10, 1)
    # MXNet 1.9.1 printed these six rows; its padding rows are uninitialised, ours are zeros.
    np.testing.assert_array_equal(outs[0].asnumpy().ravel(), [1, 2, 4, 7, 11, 16, 0, 0, 0, 0])
    assert [s.asnumpy().tolist() for s in states] == [[6.0], [16.0]]


def test_while_loop_single_var_no_outputs_and_full_length():
    outs, var = mx.nd.contrib.while_loop(lambda i: i < 3, lambda i: (None, i + 1),
                                         mx.nd.array([0]), max_iterations=5)
    assert outs == [] and isinstance(var, mx.nd.NDArray) and var.asscalar() == 3
    outs, var = mx.nd.contrib.while_loop(lambda i: i < 100, lambda i: ([i * 2], [i + 1]),
                                         [mx.nd.array([0])], max_iterations=4)
    np.testing.assert_array_equal(outs[0].asnumpy().ravel(), [0, 2, 4, 6])
    assert var[0].asscalar() == 4


def test_while_loop_errors():
    with pytest.raises(ValueError, match="max_iterations"):
        mx.nd.contrib.while_loop(lambda i: i < 3, lambda i: (None, i + 1), mx.nd.array([0]))
    with pytest.raises(ValueError, match="loop variables"):
        mx.nd.contrib.while_loop(lambda i, j: i < 3, lambda i, j: (None, [i + 1]),
                                 [mx.nd.array([0]), mx.nd.array([0])], max_iterations=3)
    with pytest.raises(ValueError, match="changes shape"):
        mx.nd.contrib.while_loop(lambda i: i < 2, lambda i: ([mx.nd.ones(int(i.asscalar()) + 1)],
                                                             [i + 1]),
                                 mx.nd.array([0]), max_iterations=3)


def _body(x, s):
    a, b = s
    return [x * 2, x + a], [a + x, b * x]


def test_foreach_outputs_states_and_gradient_against_numpy():
    xs = np.arange(12, dtype=np.float32).reshape(4, 3)
    x = mx.nd.array(xs)
    x.attach_grad()
    with mx.autograd.record():
        outs, states = mx.nd.contrib.foreach(_body, x, [mx.nd.zeros(3), mx.nd.ones(3)])
        loss = outs[1].sum() + states[0].sum()
    loss.backward()
    a, b, o0, o1 = np.zeros(3), np.ones(3), [], []
    for row in xs:
        o0.append(row * 2)
        o1.append(row + a)
        a, b = a + row, b * row
    np.testing.assert_array_equal(outs[0].asnumpy(), o0)
    np.testing.assert_array_equal(outs[1].asnumpy(), o1)
    np.testing.assert_array_equal(states[0].asnumpy(), a)
    np.testing.assert_array_equal(states[1].asnumpy(), b)
    # d/dx_i of sum_t (x_t + sum_{j<t} x_j) + sum_j x_j = 1 + (steps after i) + 1; MXNet: 5,4,3,2.
    np.testing.assert_array_equal(x.grad.asnumpy(), np.repeat([[5.], [4.], [3.], [2.]], 3, 1))


def test_foreach_list_data_and_length_mismatch():
    d1, d2 = mx.nd.array([[1, 2], [3, 4]]), mx.nd.array([10, 20])
    outs, s = mx.nd.contrib.foreach(lambda d, s: (d[0] * d[1], s + d[1]), [d1, d2], mx.nd.zeros(1))
    np.testing.assert_array_equal(outs.asnumpy(), [[10, 20], [60, 80]])
    assert s.asscalar() == 30
    with pytest.raises(ValueError, match="same length"):
        mx.nd.contrib.foreach(lambda d, s: (d[0], s), [d1, mx.nd.ones(3)], mx.nd.zeros(1))
    with pytest.raises(TypeError, match="foreach data"):
        mx.nd.contrib.foreach(lambda d, s: (d, s), [1, 2], mx.nd.zeros(1))


def test_cond_takes_one_branch():
    calls = []
    out = mx.nd.contrib.cond(mx.nd.array([0]), lambda: calls.append("then") or mx.nd.ones(2),
                             lambda: calls.append("else") or mx.nd.zeros(2))
    assert calls == ["else"] and out.asnumpy().tolist() == [0, 0]
    assert mx.nd.contrib.cond(3, lambda: 1, lambda: 2) == 1


def test_isinf_isfinite_isnan_against_numpy():
    v = np.array([1, np.inf, -np.inf, np.nan, -0.0], dtype=np.float32)
    d = mx.nd.array(v)
    np.testing.assert_array_equal(mx.nd.contrib.isinf(d).asnumpy(), np.isinf(v))
    np.testing.assert_array_equal(mx.nd.contrib.isfinite(d).asnumpy(), np.isfinite(v))
    np.testing.assert_array_equal(mx.nd.contrib.isnan(d).asnumpy(), np.isnan(v))


def test_rand_zipfian_range_and_expected_counts():
    mx.random.seed(7)
    true = mx.nd.array([3, 10])
    sampled, count_true, count_sampled = mx.nd.contrib.rand_zipfian(true, 2000, 20)
    s = sampled.asnumpy()
    assert sampled.dtype == np.int64 and s.shape == (2000,) and s.min() >= 0 and s.max() < 20
    p = lambda c: np.log((c + 2.0) / (c + 1.0)) / np.log(21)  # noqa: E731
    # MXNet 1.9.1 printed [0.36646725 0.14289824] for num_sampled=5.
    np.testing.assert_allclose(count_true.asnumpy(), p(np.array([3., 10.])) * 2000, rtol=1e-12)
    np.testing.assert_allclose(count_sampled.asnumpy(), p(s.astype(np.float64)) * 2000,
                               rtol=1e-12)
    # Class 0 has probability log(2)/log(21) ~ 0.228: the draw follows the distribution.
    assert abs((s == 0).mean() - p(0.0)) < 5 * np.sqrt(p(0.0) * (1 - p(0.0)) / 2000)


def test_sym_rand_zipfian_shapes_types_and_counts():
    t = mx.sym.var("t")
    with mx.name.NameManager():  # the names below count from 0 whatever ran before
        g = mx.sym.Group(list(mx.sym.contrib.rand_zipfian(t, 5, 20)))
    # MXNet 1.9.1 gives these names, shapes and types for the same graph.
    assert g.list_outputs() == ["_modscalar0_output", "_mulscalar0_output", "_mulscalar1_output"]
    assert g.infer_shape(t=(2,))[1] == [(5,), (2,), (5,)]
    assert g.infer_type(t="float32")[1] == [np.int64, np.float64, np.float64]
    sampled, count_true, count_sampled = g.bind(mx.cpu(), {"t": mx.nd.array([3, 10])}).forward()
    np.testing.assert_allclose(count_true.asnumpy(), [0.36646725, 0.14289824], rtol=1e-7)
    s = sampled.asnumpy().astype(np.float64)
    np.testing.assert_allclose(count_sampled.asnumpy(),
                               np.log((s + 2) / (s + 1)) / np.log(21) * 5, rtol=1e-12)


def test_mx_contrib_namespaces():
    assert mx.contrib.nd is mx.nd.contrib and mx.contrib.ndarray is mx.nd.contrib
    assert mx.contrib.sym is mx.sym.contrib and mx.contrib.symbol is mx.sym.contrib
    assert mx.nd.contrib.CTCLoss is mx.nd._internal._contrib_CTCLoss


def test_contrib_autograd_legacy_api():
    cag = mx.contrib.autograd
    grads, loss = cag.grad_and_loss(lambda a, b: (a * a * b).sum(), argnum=0)(
        mx.nd.array([1., 2.]), mx.nd.array([3., 4.]))
    np.testing.assert_array_equal(grads[0].asnumpy(), [6., 16.])
    assert loss.asscalar() == 19.
    x = np.array([0., 1.], dtype=np.float32)
    np.testing.assert_allclose(cag.grad(lambda a: mx.nd.exp(a))(mx.nd.array(x))[0].asnumpy(),
                               np.exp(x), rtol=1e-6)
    with cag.train_section():
        assert mx.autograd.is_recording() and mx.autograd.is_training()
        with cag.test_section():
            assert not mx.autograd.is_recording() and not mx.autograd.is_training()
        assert mx.autograd.is_recording()
    assert not mx.autograd.is_recording() and not mx.autograd.is_training()
    # set_is_training returns the previous recording state, as MXNet 1.9.1's does, so a
    # section inside train_mode (training without recording) restores both modes off
    with mx.autograd.train_mode():
        with cag.test_section():
            pass
        assert not mx.autograd.is_recording()
        assert cag.set_is_training(False) is False
    assert not mx.autograd.is_recording() and not mx.autograd.is_training()
    with pytest.raises(TypeError, match="list or tuple"):
        cag.backward(mx.nd.ones(1))
