"""Distributed kvstore round time: one 16 MB key (4M float32), 2 workers on this machine.

A round is `kv.push(k, g); kv.pull(k, out=w); w.wait_to_read()`, timed on every rank after a
barrier; the round's time is the slower rank's. Measured in the same run, interleaved in blocks
so background load hits every method alike:

- raw MPI: mpi4py `Allreduce(send, recv)` of the same 16 MB in numpy buffers (the ceiling: no
  pull copy, no descriptor check), and the same as `Iallreduce` polled with `Test` (what the
  store does, so that a failed peer is noticed; on this machine it is often the faster one);
- dist_sync on zero-copy NDArray buffers (the default), and with `asnumpy` staging copies;
- dist_sync with an SGD updater (every worker applies it);
- dist_sync `pushpull(k, g, out=w)`: the sum lands in w directly (the store's copy is an engine
  op that overlaps);
- dist_async with SGD (rank 0 hosts the server: its own round is local, rank 1's crosses MPI).

Two phases: everything but dist_async first, then dist_async beside raw MPI and dist_sync+sgd.
A dist_async server's communication thread polls MPI on rank 0 (and takes the GIL to do so),
which slowed every other method of the same process, raw MPI included (16 MB Allreduce 6.6 ms
without it, 9.6-10.5 ms with it), so the first phase runs before that store exists.

Targets (issue 6): dist_sync >= 0.9x raw MPI; dist_async round <= 2x dist_sync's; MXNet 1.9.1
ps-lite took ~37 ms per round here.

    .venv/bin/python benches/python/bench_kvstore_dist.py          (launches itself on 2 workers)
    .venv/bin/python benches/python/bench_kvstore_dist.py --tcp    (TCP on loopback: multi-node path)
    .venv/bin/python -m oxnet.launch -n 2 python benches/python/bench_kvstore_dist.py
"""
import os
import statistics
import sys
import time

import numpy as np

N = 4 << 20            # 16 MB of float32
BLOCKS, PER_BLOCK, WARM = 8, 5, 2


def _relaunch(tcp):
    from oxnet import launch
    return launch.main(["-n", "2", "--timeout", "300"] + (["--tcp"] if tcp else [])
                       + [sys.executable, os.path.abspath(__file__)])


def main():
    import oxnet as mx
    from oxnet import kvstore_dist
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rank = comm.rank
    g = mx.nd.ones((N,))
    w = mx.nd.zeros((N,))
    stores = {}

    def make_store(name):
        kv = kvstore_dist.create_dist(name.split("/")[0].split("+")[0])
        kv.init(0, mx.nd.zeros((N,)))
        if "sgd" in name:
            kv.set_optimizer(mx.optimizer.SGD(learning_rate=1e-9, rescale_grad=1.0))
        kv._zero_copy = "asnumpy" not in name
        stores[name] = kv
    for name in ("dist_sync", "dist_sync/asnumpy", "dist_sync+sgd"):
        make_store(name)
    raw_src = np.ones(N, dtype=np.float32)
    raw_dst = np.zeros(N, dtype=np.float32)

    def raw_round():
        comm.Allreduce(raw_src, raw_dst, MPI.SUM)

    def kv_round(kv):
        def f():
            kv.push(0, g)
            kv.pull(0, out=w)
            w.wait_to_read()
        return f

    def pushpull_round():
        stores["dist_sync"].pushpull(0, g, out=w)
        w.wait_to_read()

    def raw_polled_round():
        req = comm.Iallreduce(raw_src, raw_dst, MPI.SUM)
        while not req.Test():
            pass

    def measure(methods, barrier=None):
        times = {k: [] for k in methods}
        mine = {k: [] for k in methods}
        for block in range(BLOCKS + 1):
            for name, fn in methods.items():
                for i in range(PER_BLOCK):
                    comm.Barrier()
                    t = time.perf_counter()
                    fn()
                    dt = time.perf_counter() - t
                    slowest = comm.allreduce(dt, op=MPI.MAX)
                    if block > 0 or i >= WARM:
                        times[name].append(slowest)
                        mine[name].append(dt)
            if barrier is not None:
                barrier()
        per_rank = comm.gather({k: statistics.median(v) for k, v in mine.items()}, root=0)
        return times, per_rank

    def report(title, times, per_rank):
        base = statistics.median(times["raw MPI Allreduce"])
        print(title)
        print("%-22s %9s %9s %10s %s" % ("method", "ms", "GB/s", "raw/this", "per rank ms"))
        for name, ts in times.items():
            m = statistics.median(ts)
            ranks = " ".join("%.2f" % (p[name] * 1e3) for p in per_rank)
            print("%-22s %9.2f %9.2f %10.2f %s" % (name, m * 1e3, N * 4 / 1e9 / m, base / m, ranks))
        return {k: statistics.median(v) for k, v in times.items()}

    methods = {"raw MPI Allreduce": raw_round, "raw Iallreduce+Test": raw_polled_round}
    methods.update({k: kv_round(v) for k, v in stores.items()})
    methods["dist_sync pushpull"] = pushpull_round
    first = measure(methods)
    make_store("dist_async+sgd")
    second = measure({"raw MPI Allreduce": raw_round,
                      "dist_sync+sgd": kv_round(stores["dist_sync+sgd"]),
                      "dist_async+sgd": kv_round(stores["dist_async+sgd"])},
                     stores["dist_async+sgd"].barrier)
    if rank != 0:
        return 0
    print("16 MB key, %d workers (btl %s), %d rounds each; median round (slowest rank), per-rank "
          "medians" % (comm.size, os.environ.get("OMPI_MCA_btl", "?"), BLOCKS * PER_BLOCK))
    med = report("-- without a dist_async store in the process", *first)
    base, sync, pp = med["raw MPI Allreduce"], med["dist_sync"], med["dist_sync pushpull"]
    polled = med["raw Iallreduce+Test"]
    print("dist_sync push+pull vs raw MPI: %.2fx, pushpull: %.2fx (target >= 0.9); "
          "against the polled Iallreduce: %.2fx, %.2fx"
          % (base / sync, base / pp, polled / sync, polled / pp))
    print("zero-copy vs asnumpy staging: %.2fx faster" % (med["dist_sync/asnumpy"] / sync))
    med2 = report("-- with rank 0 serving a dist_async store", *second)
    print("dist_async+sgd / dist_sync+sgd: %.2fx (target <= 2; both apply the same SGD update "
          "once per round); raw MPI here: %.2f ms (%.2f ms before)"
          % (med2["dist_async+sgd"] / med2["dist_sync+sgd"], med2["raw MPI Allreduce"] * 1e3,
             base * 1e3))
    return 0


if __name__ == "__main__":
    if not any(v in os.environ for v in ("OMPI_COMM_WORLD_SIZE", "PMIX_RANK")):
        sys.exit(_relaunch("--tcp" in sys.argv[1:]))
    sys.exit(main())
