"""mx.model.FeedForward: MXNet 1.9.1's observed behaviour (reference §9.1)."""
import logging
import os
import pickle

import numpy as np
import pytest

import oxnet as mx

# FeedForward warns on every construction (checked once below).
pytestmark = pytest.mark.filterwarnings("ignore:.*FeedForward has been deprecated")


def regression_symbol():
    data = mx.sym.Variable("data")
    label = mx.sym.Variable("softmax_label")
    fc = mx.sym.FullyConnected(data, name="fc1", num_hidden=1)
    return mx.sym.LinearRegressionOutput(fc, label, name="lro")


def classifier_symbol():
    data = mx.sym.Variable("data")
    fc = mx.sym.FullyConnected(data, name="fc1", num_hidden=2)
    return mx.sym.SoftmaxOutput(fc, name="softmax")


def points(n=100, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.uniform(0, 1, (n, 1)).astype(np.float32)
    y = (5 * x[:, 0] + rng.normal(0, 0.05, n)).astype(np.float32)
    return x, y


def test_linear_regression_learns_slope_near_5():
    x, y = points()
    mx.random.seed(0)
    with pytest.warns(DeprecationWarning, match="FeedForward has been deprecated"):
        model = mx.model.FeedForward(regression_symbol(), ctx=mx.cpu(), num_epoch=60,
                                     learning_rate=0.01, numpy_batch_size=1)
    model.fit(x, y)
    slope = model.arg_params["fc1_weight"].asscalar()
    assert abs(slope - 5) < 0.25, slope
    # Extra constructor kwargs go to the optimizer; fit adds sym and param_idx2name.
    assert sorted(model.kwargs) == ["learning_rate", "param_idx2name", "sym"]
    pred = model.predict(x)
    assert pred.shape == (100, 1)
    np.testing.assert_allclose(pred[:, 0], y, atol=0.5)


def test_fit_logging_and_batch_numbers(caplog):
    x = np.random.RandomState(1).rand(100, 3).astype(np.float32)
    y = (x[:, 0] > 0.5).astype(np.float32)
    seen = []
    model = mx.model.FeedForward(classifier_symbol(), num_epoch=2, numpy_batch_size=30,
                                 learning_rate=0.1)
    with caplog.at_level(logging.INFO):
        model.fit(x, y, eval_data=(x, y),
                  batch_end_callback=lambda p: seen.append((p.epoch, p.nbatch)))
    # roll_over over 100 samples in batches of 30: 3 batches per epoch, numbered from 1.
    assert seen == [(0, 1), (0, 2), (0, 3), (1, 1), (1, 2), (1, 3)]
    msgs = [r.getMessage() for r in caplog.records]
    assert "Start training with [cpu(0)]" in msgs
    assert "Epoch[0] Resetting Data Iterator" in msgs
    assert any(m.startswith("Epoch[1] Time cost=") for m in msgs)
    assert any(m.startswith("Epoch[1] Validation-accuracy=") for m in msgs)
    assert not any("Train-" in m for m in msgs)


def test_epoch_size_counts_batches_without_reset():
    x, y = points(30)
    seen = []
    model = mx.model.FeedForward(regression_symbol(), num_epoch=2, epoch_size=2,
                                 numpy_batch_size=10)
    model.fit(x, y, eval_metric="mse", batch_end_callback=lambda p: seen.append(p.nbatch))
    assert seen == [1, 2, 1, 2]


def test_score_counts_padding_and_ignores_labels():
    x = np.random.RandomState(2).rand(100, 3).astype(np.float32)
    model = mx.model.FeedForward(classifier_symbol(), num_epoch=1, numpy_batch_size=30)
    model.fit(x, np.zeros(100, np.float32))
    pred = model.predict(x)
    assert pred.shape == (100, 2)
    # numpy X is scored against zero labels and the 20 padded rows count (120 in all).
    zeros_right = pred.argmax(1) == 0
    padded = np.concatenate([zeros_right, zeros_right[:20]])
    assert model.score(x) == pytest.approx(padded.mean())


def test_bad_inputs():
    model = mx.model.FeedForward(classifier_symbol(), num_epoch=1)
    x = np.zeros((10, 3), np.float32)
    with pytest.raises(ValueError, match="y must be specified"):
        model.fit(x)
    with pytest.raises(ValueError, match="Label must be 1D"):
        model.fit(x, np.zeros((10, 2)))
    with pytest.raises(ValueError, match="not equal"):
        model.fit(x, np.zeros(9))
    with pytest.raises(TypeError, match="Eval data"):
        model.fit(x, np.zeros(10), eval_data=[1, 2, 3])
    with pytest.raises(ValueError, match="num_epoch"):
        mx.model.FeedForward(classifier_symbol()).fit(x, np.zeros(10))


def test_label_column_vector_is_flattened():
    x, y = points(20)
    model = mx.model.FeedForward(regression_symbol(), num_epoch=1, numpy_batch_size=5)
    model.fit(x, y.reshape(-1, 1), eval_metric="mse")
    assert model.arg_params["fc1_weight"].shape == (1, 1)


def test_save_load_and_pickle(tmp_path):
    x, y = points(20)
    model = mx.model.FeedForward(regression_symbol(), num_epoch=2, numpy_batch_size=5)
    model.fit(x, y, eval_metric="mse")
    prefix = str(tmp_path / "ff")
    model.save(prefix)
    assert sorted(os.listdir(tmp_path)) == ["ff-0002.params", "ff-symbol.json"]
    again = mx.model.FeedForward.load(prefix, 2)
    assert again.begin_epoch == 2
    np.testing.assert_allclose(again.predict(x), model.predict(x), rtol=1e-6)
    clone = pickle.loads(pickle.dumps(model))
    assert clone._pred_exec is None
    np.testing.assert_allclose(clone.predict(x), model.predict(x), rtol=1e-6)


def test_create_and_data_iter_input():
    x, y = points(40)
    it = mx.io.NDArrayIter(x, y, 10)
    model = mx.model.FeedForward.create(regression_symbol(), it, num_epoch=3,
                                        eval_metric="mse", learning_rate=0.05)
    out, data, label = model.predict(it, return_data=True)
    assert out.shape == (40, 1) and data.shape == (40, 1) and label.shape == (40,)
    np.testing.assert_array_equal(data, x)


def test_numpy_fit_shuffles_in_mxnets_order():
    # numpy input trains from a shuffling iterator: shuffled at construction and once more
    # before the first epoch (MXNet's _train_multi_device resets first), then after each epoch.
    # Labels 0..n-1 name the samples; the metric sees them in training order.
    n, batch = 12, 4
    x = np.arange(n, dtype="float32")[:, None]
    seen = []
    model = mx.model.FeedForward(regression_symbol(), num_epoch=2, numpy_batch_size=batch,
                                 learning_rate=0.0)
    np.random.seed(7)
    model.fit(x, x[:, 0].copy(), eval_metric=mx.metric.np(
        lambda label, pred: seen.append(label.ravel().copy()) or 0.0))
    np.random.seed(7)
    idx, order, want = np.arange(n), np.arange(n), []
    for draws in (2, 1):
        for _ in range(draws):
            np.random.shuffle(idx)
            order = order[idx]
        want.append(order.copy())
    np.testing.assert_array_equal(np.concatenate(seen), np.concatenate(want))


@pytest.mark.parametrize("ctx", [mx.cpu(0), [mx.cpu(0), mx.cpu(1)]])
def test_fit_decays_the_weights_not_the_inputs(ctx):
    # Zero input: the weight's gradient is 0, so one SGD step leaves w * (1 - lr * wd) (MXNet
    # 1.9.1: 0.99); the bias (no decay, MXNet's wd_mult 0 for names not *_weight / *_gamma)
    # moves by the softmax gradient alone: [1.05, 0.95] as MXNet printed.
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=2,
                                                     name="fc"), name="softmax")
    it = mx.io.NDArrayIter(np.zeros((4, 3), "float32"), np.zeros(4, "float32"), batch_size=4)
    model = mx.model.FeedForward(net, ctx, num_epoch=1, learning_rate=0.1, wd=0.1,
                                 arg_params={"fc_weight": mx.nd.ones((2, 3)),
                                             "fc_bias": mx.nd.ones((2,))})
    model.fit(X=it)
    np.testing.assert_allclose(model.arg_params["fc_weight"].asnumpy(), np.full((2, 3), 0.99),
                               rtol=1e-6)
    np.testing.assert_allclose(model.arg_params["fc_bias"].asnumpy(), [1.05, 0.95], rtol=1e-6)
    names = set(model.kwargs["param_idx2name"].values())
    assert names == {"fc_weight", "fc_bias"}


def test_predict_runs_on_the_first_context_from_data_shapes_alone():
    rs = np.random.RandomState(0)
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=10,
                                                     name="fc"), name="sm")
    w = rs.normal(0, 1, (10, 20)).astype("f")
    args = {"fc_weight": mx.nd.array(w), "fc_bias": mx.nd.zeros((10,))}
    x = rs.uniform(0, 1, (30, 20)).astype("f")
    z = x @ w.T
    want = np.exp(z - z.max(1, keepdims=True))
    want /= want.sum(1, keepdims=True)
    for ctx in (mx.cpu(0), [mx.cpu(0), mx.cpu(1)]):
        model = mx.model.FeedForward(net, ctx=ctx, arg_params=args, aux_params={})
        # An iterator without the symbol's label works: the label is inferred, left zero.
        got = model.predict(mx.io.NDArrayIter(x, batch_size=8))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        labeled = mx.io.NDArrayIter(x, np.zeros(30), batch_size=8, label_name="sm_label")
        np.testing.assert_array_equal(model.predict(labeled), got)
    # New parameters are used by the next predict (the bound executor is kept).
    model.arg_params = {"fc_weight": mx.nd.zeros((10, 20)), "fc_bias": mx.nd.zeros((10,))}
    np.testing.assert_allclose(model.predict(x), np.full((30, 10), 0.1), rtol=1e-6)


def test_feedforward_edges_as_mxnet():
    # MXNet 1.9.1's FeedForward: the initializer goes by name and ignores a variable's init=,
    # predict counts num_batch after each batch (0 predicts all) and returns single data and
    # label arrays unwrapped, and eval_data may be a pair of lists.
    w = mx.sym.Variable("fc_weight", init=mx.init.Constant(0.25))
    d = mx.sym.Variable("data")
    fc = mx.sym.FullyConnected(d, weight=w, num_hidden=3, name="fc")
    x = np.arange(14, dtype=np.float32).reshape(7, 2)
    model = mx.model.FeedForward(mx.sym.SoftmaxOutput(fc, name="softmax"), num_epoch=1,
                                 numpy_batch_size=3, initializer=mx.init.One(), learning_rate=0)
    model.fit(x, np.zeros(7, np.float32), eval_data=(x.tolist(), [0.0] * 7))
    np.testing.assert_array_equal(model.arg_params["fc_weight"].asnumpy(), np.ones((3, 2)))
    assert model.predict(x, num_batch=0).shape == (7, 3)
    assert model.predict(x, num_batch=1).shape == (3, 3)
    both = mx.model.FeedForward(mx.sym.Group([mx.sym.SoftmaxOutput(fc, name="softmax"),
                                              d * 2]),
                                arg_params=model.arg_params, numpy_batch_size=3)
    outs, data, label = both.predict(x, return_data=True)
    assert len(outs) == 2 and isinstance(data, np.ndarray) and isinstance(label, np.ndarray)
    np.testing.assert_array_equal(data, x)
    with pytest.raises(ValueError, match="Eval data is NONE"):
        model.fit(x, np.zeros(7, np.float32), eval_data=(None, [0.0] * 7))
