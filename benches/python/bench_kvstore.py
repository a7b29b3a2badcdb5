"""KVStore push/pull throughput: 10 keys of 1M float32, each round pushes 4 values (cpu(0..3))
per key and pulls into 4 outputs. Reports GB/s moved (4 reads + 4 writes of each value), with
the same reduce + copies written in plain numpy measured in the same run.

    .venv/bin/python benches/python/bench_kvstore.py"""
import statistics
import time

import numpy as np

import oxnet as mx

KEYS, N, DEV = 10, 1 << 20, 4


def median_time(fn, repeat=7):
    fn()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


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
    o, n = gb / median_time(ours), gb / median_time(numpy_ref)
    print("kvstore push+pull, %d keys x %d floats x %d devices: oxnet %.1f GB/s, numpy %.1f GB/s "
          "(ratio %.2f; target >= 33 GB/s, MXNet 1.9.1 16.3 here)" % (KEYS, N, DEV, o, n, o / n))


if __name__ == "__main__":
    main()
