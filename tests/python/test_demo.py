"""The demo's pieces on the real data shipped with oxnet: accuracy, checkpoint round trip,
plots."""
import numpy as np
import pytest

import oxnet as mx
from oxnet import demo
from oxnet.datasets import load_digits, train_test_split

pytestmark = pytest.mark.filterwarnings("ignore:.*FeedForward has been deprecated")


def test_digits_data_is_the_uci_set():
    images, labels = load_digits()
    assert images.shape == (1797, 8, 8) and images.dtype == np.float32
    assert images.min() == 0 and images.max() == 1
    # The UCI test set's class counts.
    assert np.bincount(labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    train, test = train_test_split(len(labels))
    assert len(test) == 359 and len(train) == 1438
    assert not set(train) & set(test)


@pytest.mark.parametrize("name", ["mlp", "convnet"])
def test_demo_models_reach_95_percent_and_reload(name, tmp_path):
    symbol, shape, lr = {"mlp": (demo.mlp_symbol(), (64,), 0.05),
                         "convnet": (demo.convnet_symbol(), (1, 8, 8), 0.05)}[name]
    prefix = str(tmp_path / name)
    mod, acc, curve = demo.train(symbol, shape, 20, lr, prefix=prefix, progress_bar=False)
    assert acc >= 0.95, acc
    assert len(curve.train) == 20 and len(curve.val) == 20
    pred, truth = demo.reload_and_predict(prefix, 20, shape)
    assert len(truth) == 359
    assert np.mean(pred == truth) == pytest.approx(acc)
    # The reloaded module predicts exactly what the trained one does.
    _, test_iter = demo.digits_iters(image_shape=shape)
    ours = mod.predict(test_iter).asnumpy().argmax(1)
    np.testing.assert_array_equal(ours, pred)


def test_linear_regression_and_plots(tmp_path):
    _, x, y, w, b = demo.linear_regression()
    assert abs(w - 5) < 0.25 and abs(b - 1) < 0.25
    path = tmp_path / "reg.png"
    demo.plot_regression(x, y, w, b, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    curve = demo.Curve()
    curve.train, curve.val = [0.5, 0.9], [0.6, 0.92]
    demo.plot_curves({"MLP": curve}, str(tmp_path / "c.png"))
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
