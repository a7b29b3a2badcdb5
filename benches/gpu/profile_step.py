"""Where the host spends a LeNet training step on gpu(0): cProfile of 30 steps (the device
runs asynchronously, so time in Python here is time the GPU may wait for)."""
import cProfile
import pstats
import sys
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import bench_gpu as b  # noqa: E402  (the same network and batch as the benchmark)

import oxnet as mx  # noqa: E402


def main():
    mod = mx.mod.Module(b.lenet(), context=b.GPU)
    mod.bind(data_shapes=[("data", (128, 1, 28, 28))], label_shapes=[("softmax_label", (128,))])
    mod.init_params(mx.init.Xavier())
    mod.init_optimizer(optimizer="sgd", optimizer_params={"learning_rate": 0.01, "momentum": 0.9})
    db = mx.io.DataBatch([mx.nd.random.uniform(shape=(128, 1, 28, 28), ctx=b.GPU)],
                         [mx.nd.zeros((128,), ctx=b.GPU)])

    def steps(n):
        for _ in range(n):
            mod.forward_backward(db)
            mod.update()
        mx.nd.waitall()
    steps(3)
    t = time.perf_counter()
    steps(30)
    print("30 steps: %.2f ms each" % ((time.perf_counter() - t) / 30 * 1e3))
    t = time.perf_counter()
    for _ in range(30):
        mod.forward_backward(db)
        mod.update()
    issue = time.perf_counter() - t
    mx.nd.waitall()
    print("issuing 30 steps: %.2f ms each, waiting for them after: %.2f ms" % (
        issue / 30 * 1e3, (time.perf_counter() - t - issue) * 1e3))
    prof = cProfile.Profile()
    prof.runcall(steps, 30)
    pstats.Stats(prof).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
