"""KVStore push/pull throughput: 10 keys of 1M float32, each round pushes 4 values (cpu(0..3))
per key and pulls into 4 outputs. Reports GB/s moved (4 reads + 4 writes of each value), with
the same reduce + copies written in plain numpy measured in the same run.

The count leaves out the stored array (written by the push, read by the pull), so the memory
traffic of a round is 10 x (16 MB read + 4 MB written + 4 MB read + 16 MB written) = 400 MB
for the 335 MB counted: the figure is bounded by about 0.84x the machine's memory bandwidth.

    .venv/bin/python benches/python/bench_kvstore.py"""
import statistics
import time

import numpy as np

import oxnet as mx

KEYS, N, DEV = 10, 1 << 20, 4


def median_times(fns, repeat=11):
    """Median seconds of each function, timed in alternation so that all of them see the same
    load on a shared machine (the ratio is then meaningful even when the machine is noisy)."""
    for fn in fns:
        fn()
    ts = [[] for _ in fns]
    for _ in range(repeat):
        for fn, t_list in zip(fns, ts):
            t = time.perf_counter()
            fn()
            t_list.append(time.perf_counter() - t)
    return [statistics.median(t) for t in ts]


def main():
    ctxs = [mx.cpu(i) for i in range(DEV)]
    kv = mx.kv.create("local")
    keys = list(range(KEYS))
    kv.init(keys, [mx.nd.zeros((N,)) for _ in keys])
    vals = [[mx.nd.ones((N,), ctx=c) for c in ctxs] for _ in keys]
    outs = [[mx.nd.zeros((N,), ctx=c) for c in ctxs] for _ in keys]

    def ours():
        kv.push(keys, vals)
        kv.pull(keys, out=outs)
        mx.nd.waitall()

    nvals = [[np.ones(N, np.float32) for _ in ctxs] for _ in keys]
    nouts = [[np.zeros(N, np.float32) for _ in ctxs] for _ in keys]
    store = [np.zeros(N, np.float32) for _ in keys]

    def numpy_ref():
        for k in keys:
            np.copyto(store[k], nvals[k][0])
            for v in nvals[k][1:]:
                np.add(store[k], v, out=store[k])
            for o in nouts[k]:
                np.copyto(o, store[k])

    gb = KEYS * 2 * DEV * N * 4 / 1e9
    t_ours, t_numpy = median_times([ours, numpy_ref])
    o, n = gb / t_ours, gb / t_numpy
    print("kvstore push+pull, %d keys x %d floats x %d devices: oxnet %.1f GB/s, numpy %.1f GB/s "
          "(ratio %.2f; target >= 33 GB/s, MXNet 1.9.1 16.3 here)" % (KEYS, N, DEV, o, n, o / n))


if __name__ == "__main__":
    main()
