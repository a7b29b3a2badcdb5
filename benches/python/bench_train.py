"""Training benchmarks: oxnet's Module.fit side by side with a PyTorch loop (when installed)
and a hand-written numpy loop, in one run. Medians of repeated timings.

    python benches/python/bench_train.py [--quick] [--rss]

Rows: one epoch of MXNet's MLP (784-128-64-10, batch 100, SGD) over 60,000 MNIST-shaped
samples via Module.fit (samples/s), and LeNet training (batch 64: forward, backward, SGD
update; samples/s). ``--rss`` also trains 10,000 MLP iterations and prints the resident
memory every 2,000 (it should stay flat)."""
import argparse
import logging
import os
import statistics
import time

import numpy as np

import oxnet as mx
from oxnet.demo import mlp_symbol

try:
    import torch
    torch.set_num_threads(max(1, torch.get_num_threads()))
except ImportError:  # optional peer
    torch = None


def row(name, ours, numpy_v=None, torch_v=None, target=None):
    def fmt(v):
        return "-" if v is None else "%.0f" % v

    def ratio(peer):
        return "-" if peer is None else "%.2fx" % (ours / peer)
    print("%-34s %-10s %9s %9s %9s %8s %8s %10s" % (name, "samples/s", fmt(ours), fmt(numpy_v),
                                                    fmt(torch_v), ratio(numpy_v),
                                                    ratio(torch_v), target or "-"))


def mnist_like(n, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.uniform(0, 1, (n, 784)).astype(np.float32)
    y = rng.randint(0, 10, n).astype(np.float32)
    return x, y


def oxnet_mlp_epoch(x, y, epochs):
    it = mx.io.NDArrayIter(x, y, 100)
    mod = mx.mod.Module(mlp_symbol())
    times = []

    def epoch_end(*_):
        times.append(time.perf_counter())
    start = time.perf_counter()
    mod.fit(it, num_epoch=epochs, optimizer="sgd", optimizer_params={"learning_rate": 0.1},
            epoch_end_callback=epoch_end, progress_bar=False)
    edges = [start] + times
    return len(x) / statistics.median(np.diff(edges))


def numpy_mlp_epoch(x, y, epochs):
    rng = np.random.RandomState(1)
    ws = [rng.uniform(-0.07, 0.07, s).astype(np.float32)
          for s in ((784, 128), (128, 64), (64, 10))]
    bs = [np.zeros(s, np.float32) for s in (128, 64, 10)]
    lr = 0.1
    secs = []
    for _ in range(epochs):
        t = time.perf_counter()
        for i in range(0, len(x), 100):
            xb, yb = x[i:i + 100], y[i:i + 100].astype(int)
            h1 = np.maximum(xb @ ws[0] + bs[0], 0)
            h2 = np.maximum(h1 @ ws[1] + bs[1], 0)
            z = h2 @ ws[2] + bs[2]
            z = np.exp(z - z.max(1, keepdims=True))
            z /= z.sum(1, keepdims=True)
            z[np.arange(len(yb)), yb] -= 1
            z /= len(yb)
            d2 = (z @ ws[2].T) * (h2 > 0)
            d1 = (d2 @ ws[1].T) * (h1 > 0)
            for w, b, a, d in ((ws[2], bs[2], h2, z), (ws[1], bs[1], h1, d2),
                               (ws[0], bs[0], xb, d1)):
                w -= lr * (a.T @ d)
                b -= lr * d.sum(0)
        secs.append(time.perf_counter() - t)
    return len(x) / statistics.median(secs)


def torch_mlp_epoch(x, y, epochs):
    if torch is None:
        return None
    net = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64),
                              torch.nn.ReLU(), torch.nn.Linear(64, 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    secs = []
    for _ in range(epochs):
        t = time.perf_counter()
        for i in range(0, len(x), 100):
            opt.zero_grad()
            loss = loss_fn(net(xt[i:i + 100]), yt[i:i + 100])
            loss.backward()
            opt.step()
        secs.append(time.perf_counter() - t)
    return len(x) / statistics.median(secs)


def lenet_symbol():
    data = mx.sym.Variable("data")
    c1 = mx.sym.Convolution(data, kernel=(5, 5), num_filter=20, name="conv1")
    a1 = mx.sym.Activation(c1, act_type="tanh")
    p1 = mx.sym.Pooling(a1, pool_type="max", kernel=(2, 2), stride=(2, 2))
    c2 = mx.sym.Convolution(p1, kernel=(5, 5), num_filter=50, name="conv2")
    a2 = mx.sym.Activation(c2, act_type="tanh")
    p2 = mx.sym.Pooling(a2, pool_type="max", kernel=(2, 2), stride=(2, 2))
    f1 = mx.sym.FullyConnected(mx.sym.Flatten(p2), num_hidden=500, name="fc1")
    a3 = mx.sym.Activation(f1, act_type="tanh")
    f2 = mx.sym.FullyConnected(a3, num_hidden=10, name="fc2")
    return mx.sym.SoftmaxOutput(f2, name="softmax")


def oxnet_lenet(steps):
    rng = np.random.RandomState(0)
    x = mx.nd.array(rng.uniform(0, 1, (64, 1, 28, 28)))
    y = mx.nd.array(rng.randint(0, 10, 64))
    mod = mx.mod.Module(lenet_symbol())
    mod.bind(data_shapes=[("data", (64, 1, 28, 28))], label_shapes=[("softmax_label", (64,))])
    mod.init_params(mx.init.Xavier())
    mod.init_optimizer(optimizer_params={"learning_rate": 0.05})
    batch = mx.io.DataBatch([x], [y])
    secs = []
    for i in range(steps + 3):
        t = time.perf_counter()
        mod.forward_backward(batch)
        mod.update()
        mod.get_outputs()[0].wait_to_read()
        mx.nd.waitall()
        if i >= 3:
            secs.append(time.perf_counter() - t)
    return 64 / statistics.median(secs)


def torch_lenet(steps):
    if torch is None:
        return None
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 20, 5), torch.nn.Tanh(), torch.nn.MaxPool2d(2),
                              torch.nn.Conv2d(20, 50, 5), torch.nn.Tanh(), torch.nn.MaxPool2d(2),
                              torch.nn.Flatten(), torch.nn.Linear(800, 500), torch.nn.Tanh(),
                              torch.nn.Linear(500, 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    x = torch.rand(64, 1, 28, 28)
    y = torch.randint(0, 10, (64,))
    loss_fn = torch.nn.CrossEntropyLoss()
    secs = []
    for i in range(steps + 3):
        t = time.perf_counter()
        opt.zero_grad()
        loss_fn(net(x), y).backward()
        opt.step()
        if i >= 3:
            secs.append(time.perf_counter() - t)
    return 64 / statistics.median(secs)


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def rss_check(iters=10000):
    x, y = mnist_like(100)
    mod = mx.mod.Module(mlp_symbol())
    mod.bind(data_shapes=[("data", (100, 784))], label_shapes=[("softmax_label", (100,))])
    mod.init_params()
    mod.init_optimizer()
    metric = mx.metric.create("acc")
    batch = mx.io.DataBatch([mx.nd.array(x)], [mx.nd.array(y)])
    print("RSS over %d MLP training iterations (MB):" % iters, end="", flush=True)
    for i in range(iters + 1):
        mod.forward_backward(batch)
        mod.update()
        mod.update_metric(metric, batch.label)
        if i % 2000 == 0:
            mx.nd.waitall()
            print(" %.1f" % rss_mb(), end="", flush=True)
    print()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rss", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    n = 12000 if args.quick else 60000
    epochs = 3
    x, y = mnist_like(n)
    print("%-34s %-10s %9s %9s %9s %8s %8s %10s" % ("benchmark", "unit", "oxnet", "numpy",
                                                    "torch", "vs np", "vs torch", "target"))
    ours = oxnet_mlp_epoch(x, y, epochs)
    row("MLP epoch, Module.fit (batch 100)", ours, numpy_mlp_epoch(x, y, epochs),
        torch_mlp_epoch(x, y, epochs), ">=300k")
    steps = 10 if args.quick else 30
    row("LeNet train step (batch 64)", oxnet_lenet(steps), None, torch_lenet(steps), ">=8k")
    if args.rss:
        rss_check()


if __name__ == "__main__":
    main()
