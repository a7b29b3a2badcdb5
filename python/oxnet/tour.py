"""A walkthrough of oxnet's NDArray (run: python -m oxnet.tour).

Every line below is ordinary MXNet 1.x code: `import oxnet as mx` is the only change."""
import os
import tempfile
import time

import numpy as np

import oxnet as mx


def show(title, value):
    print("%-46s %s" % (title, str(value).strip().replace("\n", "\n" + " " * 47)))


def main():
    print("oxnet %s: MXNet 1.x NDArray on a Rust engine\n" % mx.__version__)
    a = mx.nd.ones((2, 3))
    show("mx.nd.ones((2, 3))", a)
    b = mx.nd.arange(6).reshape((2, 3))
    show("mx.nd.arange(6).reshape((2, 3))", b)
    show("a * 2 + b", a * 2 + b)
    show("b[1]", b[1])
    show("b[:, 1:]", b[:, 1:])
    c = b.copy()
    c[0, ::2] = -1
    show("c[0, ::2] = -1", c)
    show("mx.nd.dot(b, b.T)", mx.nd.dot(b, b.T))
    show("b.sum(axis=1)", b.sum(axis=1))
    show("mx.nd.softmax(b)", mx.nd.softmax(b))
    show("b > 2 (0/1 in the input dtype)", b > 2)
    show("broadcast: b + mx.nd.array([[10], [20]])", b + mx.nd.array([[10], [20]]))
    mx.random.seed(42)
    show("mx.nd.random.uniform(shape=(2, 2))", mx.nd.random.uniform(shape=(2, 2)))
    show("on another context: b.copyto(mx.cpu(1))", b.copyto(mx.cpu(1)))

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "demo.params")
        mx.nd.save(path, {"arg:weight": b, "aux:mean": a})
        loaded = mx.nd.load(path)
        show("mx.nd.save/load (MXNet's .params format)", sorted(loaded))
        show("  file size in bytes", os.path.getsize(path))

    # The engine runs ops asynchronously; errors surface where you wait.
    try:
        mx.nd.ones((2, 3)) + mx.nd.ones((3, 2))
    except mx.MXNetError as e:
        show("shape errors raise at the call", str(e).splitlines()[0])

    x = mx.nd.random.uniform(shape=(1024, 1024))
    t = time.perf_counter()
    for _ in range(10):
        y = mx.nd.dot(x, x)
    y.wait_to_read()
    dt = (time.perf_counter() - t) / 10
    show("dot 1024x1024 (GFLOP/s)", "%.1f" % (2 * 1024 ** 3 / dt / 1e9))
    print("\nNumPy interop: (b.asnumpy() == np.arange(6).reshape(2, 3)).all() ->",
          bool((b.asnumpy() == np.arange(6).reshape(2, 3)).all()))


if __name__ == "__main__":
    main()
