"""oxnet's demo: MXNet 1.x training code on real data (run: python -m oxnet.demo).

It trains an MLP and a small convolutional net on the handwritten digits shipped in
``oxnet.datasets`` with ``mx.mod.Module.fit``, checkpoints, reloads and predicts, fits the
classic ``FeedForward`` linear regression, and writes PNG plots. Apart from the data loading
and plotting, every line is ordinary MXNet 1.x code: ``import oxnet as mx`` is the only change.
"""
import argparse
import logging
import os
import sys
import time

import numpy as np

import oxnet as mx
from oxnet.datasets import load_digits, train_test_split


def mlp_symbol():
    """MXNet's classic MLP (128-64-10), as in its MNIST tutorial."""
    data = mx.sym.Variable("data")
    data = mx.sym.Flatten(data)
    fc1 = mx.sym.FullyConnected(data, name="fc1", num_hidden=128)
    act1 = mx.sym.Activation(fc1, name="relu1", act_type="relu")
    fc2 = mx.sym.FullyConnected(act1, name="fc2", num_hidden=64)
    act2 = mx.sym.Activation(fc2, name="relu2", act_type="relu")
    fc3 = mx.sym.FullyConnected(act2, name="fc3", num_hidden=10)
    return mx.sym.SoftmaxOutput(fc3, name="softmax")


def convnet_symbol():
    """A LeNet-style net sized for 8x8 images."""
    data = mx.sym.Variable("data")
    c1 = mx.sym.Convolution(data, name="conv1", kernel=(3, 3), pad=(1, 1), num_filter=16)
    a1 = mx.sym.Activation(c1, name="relu1", act_type="relu")
    p1 = mx.sym.Pooling(a1, name="pool1", pool_type="max", kernel=(2, 2), stride=(2, 2))
    c2 = mx.sym.Convolution(p1, name="conv2", kernel=(3, 3), pad=(1, 1), num_filter=32)
    a2 = mx.sym.Activation(c2, name="relu2", act_type="relu")
    p2 = mx.sym.Pooling(a2, name="pool2", pool_type="max", kernel=(2, 2), stride=(2, 2))
    fc1 = mx.sym.FullyConnected(mx.sym.Flatten(p2), name="fc1", num_hidden=64)
    a3 = mx.sym.Activation(fc1, name="relu3", act_type="relu")
    fc2 = mx.sym.FullyConnected(a3, name="fc2", num_hidden=10)
    return mx.sym.SoftmaxOutput(fc2, name="softmax")


def digits_iters(batch_size=32, image_shape=(1, 8, 8), seed=0):
    """Train and test iterators over the digits (a fixed 80/20 split)."""
    images, labels = load_digits()
    train, test = train_test_split(len(labels), 0.2, seed)
    x = images.reshape((len(labels),) + tuple(image_shape))
    train_iter = mx.io.NDArrayIter(x[train], labels[train], batch_size, shuffle=True)
    test_iter = mx.io.NDArrayIter(x[test], labels[test], batch_size)
    return train_iter, test_iter


class Curve:
    """Collects per-epoch training and validation accuracy from fit's callbacks."""

    def __init__(self):
        self.train, self.val = [], []
        self._last = None

    def batch_end(self, param):
        self._last = param.eval_metric.get_global()[1]
        if len(self.train) <= param.epoch:
            self.train.append(self._last)
        else:
            self.train[param.epoch] = self._last

    def eval_end(self, param):
        self.val.append(param.eval_metric.get()[1])


def train(symbol, image_shape, num_epoch, learning_rate, prefix=None, progress_bar=None,
          seed=0):
    """Fits ``symbol`` on the digits; returns (module, test accuracy, Curve)."""
    mx.random.seed(seed)
    np.random.seed(seed)
    train_iter, test_iter = digits_iters(image_shape=image_shape, seed=seed)
    mod = mx.mod.Module(symbol, context=mx.cpu())
    curve = Curve()
    # Every 5th epoch and the last one: checkpoints a user could resume from.
    epoch_end = [mx.callback.do_checkpoint(prefix, period=min(5, num_epoch))] if prefix else None
    mod.fit(train_iter, eval_data=test_iter, eval_metric="acc",
            optimizer="sgd",
            optimizer_params={"learning_rate": learning_rate, "momentum": 0.9, "wd": 1e-4},
            initializer=mx.init.Xavier(magnitude=2.0), num_epoch=num_epoch,
            batch_end_callback=[curve.batch_end, mx.callback.Speedometer(32, 20)],
            eval_end_callback=curve.eval_end, epoch_end_callback=epoch_end,
            progress_bar=progress_bar)
    pred, labels = predict_classes(mod, test_iter)
    return mod, float(np.mean(pred == labels)), curve


def predict_classes(mod, data_iter):
    """(predicted classes, true labels) over ``data_iter``, padding removed (``score`` would
    count the padded end of the last batch)."""
    probs = mod.predict(data_iter).asnumpy()
    data_iter.reset()
    labels = np.concatenate([b.label[0].asnumpy()[:b.label[0].shape[0] - b.pad]
                             for b in data_iter])
    return probs.argmax(axis=1), labels


def reload_and_predict(prefix, epoch, image_shape):
    """Loads a checkpoint into a fresh Module and predicts the test set: (predictions, labels)."""
    _, test_iter = digits_iters(image_shape=image_shape)
    mod = mx.mod.Module.load(prefix, epoch, context=mx.cpu())
    mod.bind(data_shapes=test_iter.provide_data, label_shapes=test_iter.provide_label,
             for_training=False)
    return predict_classes(mod, test_iter)


def linear_regression(num_epoch=100, seed=0):
    """The classic FeedForward example: 100 noisy points of y = 5x + 1, one sample per batch.
    Returns (model, x, y, learned slope, learned intercept)."""
    rng = np.random.RandomState(seed)
    mx.random.seed(seed)
    x = rng.uniform(0, 1, (100, 1)).astype(np.float32)
    y = (5 * x[:, 0] + 1 + rng.normal(0, 0.1, 100)).astype(np.float32)
    data = mx.sym.Variable("data")
    label = mx.sym.Variable("softmax_label")
    fc = mx.sym.FullyConnected(data, name="fc1", num_hidden=1)
    lro = mx.sym.LinearRegressionOutput(fc, label, name="lro")
    model = mx.model.FeedForward(lro, ctx=mx.cpu(), num_epoch=num_epoch, learning_rate=0.01,
                                 numpy_batch_size=1)
    model.fit(x, y, eval_metric="mse")
    w = model.arg_params["fc1_weight"].asscalar()
    b = model.arg_params["fc1_bias"].asscalar()
    return model, x, y, w, b


def plot_curves(curves, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, curve in curves.items():
        epochs = np.arange(1, len(curve.train) + 1)
        line, = ax.plot(epochs, curve.train, label="%s train" % name)
        ax.plot(epochs[:len(curve.val)], curve.val, "--", color=line.get_color(),
                label="%s test" % name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_title("oxnet: handwritten digits (8x8), Module.fit")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_regression(x, y, w, b, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.scatter(x[:, 0], y, s=12, label="data: y = 5x + 1 + noise")
    grid = np.linspace(0, 1, 50)
    ax.plot(grid, w * grid + b, color="C3", label="learned: y = %.3fx + %.3f" % (w, b))
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("oxnet: FeedForward linear regression")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="oxnet-demo-output",
                        help="folder for checkpoints and plots (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--no-progress", action="store_true", help="no tqdm progress bars")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    os.makedirs(args.out, exist_ok=True)
    progress = False if args.no_progress else None
    print("oxnet %s: MXNet 1.x training on a Rust core\n" % mx.__version__)

    images, labels = load_digits()
    print("Data: %d handwritten digits, 8x8 pixels, 10 classes (UCI, shipped in "
          "oxnet.datasets)\n" % len(labels))
    curves, results = {}, {}
    for name, symbol, shape, lr in (("MLP", mlp_symbol(), (64,), 0.05),
                                    ("ConvNet", convnet_symbol(), (1, 8, 8), 0.05)):
        print("== %s: Module.fit, %d epochs ==" % (name, args.epochs))
        prefix = os.path.join(args.out, name.lower())
        tic = time.time()
        mod, acc, curve = train(symbol, shape, args.epochs, lr, prefix=prefix,
                                progress_bar=progress)
        curves[name] = curve
        results[name] = (acc, time.time() - tic)
        print("%s test accuracy: %.2f%% (%.1f s)\n" % (name, 100 * acc, results[name][1]))
        pred, truth = reload_and_predict(prefix, args.epochs, shape)
        print("Reloaded %s-%04d.params: predictions agree with the test labels on %.2f%%\n"
              % (prefix, args.epochs, 100 * np.mean(pred == truth)))

    curve_png = os.path.join(args.out, "digits_training.png")
    plot_curves(curves, curve_png)

    print("== FeedForward linear regression (numpy_batch_size=1) ==")
    _, x, y, w, b = linear_regression()
    reg_png = os.path.join(args.out, "linear_regression.png")
    plot_regression(x, y, w, b, reg_png)
    print("learned y = %.3f x + %.3f (true: 5x + 1)\n" % (w, b))

    print("Summary")
    for name, (acc, secs) in results.items():
        print("  %-8s test accuracy %.2f%%  (%.1f s)" % (name, 100 * acc, secs))
    print("  linear regression slope %.3f" % w)
    print("  plots: %s, %s" % (curve_png, reg_png))
    ok = all(acc >= 0.95 for acc, _ in results.values()) and abs(w - 5) < 0.5
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
