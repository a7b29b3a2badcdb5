"""NDArray benchmarks: oxnet side by side with numpy (and PyTorch when installed), one run.

    .venv/bin/python benches/python/bench_ndarray.py [--quick]

Prints medians and the ratio oxnet/peer for each row (higher is better for throughputs,
lower for latencies)."""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

import oxnet as mx

try:
    import torch
except ImportError:  # optional peer
    torch = None


def median_time(fn, repeat, inner=1):
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(inner):
            fn()
        ts.append((time.perf_counter() - t) / inner)
    return statistics.median(ts)


def row(name, unit, ours, numpy_v, torch_v=None, target=None, higher=True):
    def fmt(v):
        return "-" if v is None else ("%.2f" % v if v < 100 else "%.0f" % v)
    ratio = (ours / numpy_v if higher else numpy_v / ours) if numpy_v else None
    print("%-44s %-8s %10s %10s %10s %8s %10s" % (name, unit, fmt(ours), fmt(numpy_v), fmt(torch_v),
                                                  "-" if ratio is None else "%.2fx" % ratio,
                                                  "-" if target is None else target))


def bench_dispatch(q):
    a, b = mx.nd.ones((2, 3)), mx.nd.ones((2, 3))
    na, nb = np.ones((2, 3), np.float32), np.ones((2, 3), np.float32)
    n = 20000 if q else 200000
    ours = median_time(lambda: a + b, 5, n) * 1e6
    mx.nd.waitall()
    npv = median_time(lambda: na + nb, 5, n) * 1e6
    tv = None
    if torch is not None:
        ta, tb = torch.ones(2, 3), torch.ones(2, 3)
        tv = median_time(lambda: ta + tb, 5, n) * 1e6
    row("tiny-op dispatch c = a + b (2,3)", "us/op", ours, npv, tv, "<= 0.5", higher=False)


def bench_add(q):
    n = 1 << (22 if q else 24)
    x = np.random.uniform(size=n).astype(np.float32)
    a, b, c = mx.nd.array(x), mx.nd.array(x), mx.nd.array(x)
    gb = 3 * n * 4 / 1e9

    def fresh():
        (a + b).wait_to_read()

    def pre():
        mx.nd.elemwise_add(a, b, out=c)
        c.wait_to_read()
    # Two distinct operands for every library: `x + x` would read one buffer twice, a third
    # less memory traffic than the add measured for oxnet and PyTorch.
    y = x.copy()
    out = np.empty_like(x)
    tf = tp = None
    if torch is not None:
        ta, tb, tc = torch.from_numpy(x), torch.from_numpy(x.copy()), torch.empty(n)
        tf = gb / median_time(lambda: ta + tb, 7)
        tp = gb / median_time(lambda: torch.add(ta, tb, out=tc), 7)
    row("add 16M f32, fresh output", "GB/s", gb / median_time(fresh, 7), gb / median_time(lambda: x + y, 7), tf, ">= 25")
    row("add 16M f32, preallocated output", "GB/s", gb / median_time(pre, 7),
        gb / median_time(lambda: np.add(x, y, out=out), 7), tp, ">= 45")


def bench_sum(q):
    n = 1 << (22 if q else 24)
    x = np.random.uniform(size=n).astype(np.float32)
    a = mx.nd.array(x)
    gb = n * 4 / 1e9
    tv = None
    if torch is not None:
        t = torch.from_numpy(x)
        tv = gb / median_time(lambda: t.sum(), 7)
    row("sum of 16M f32", "GB/s", gb / median_time(lambda: mx.nd.sum(a).wait_to_read(), 7),
        gb / median_time(lambda: x.sum(), 7), tv, ">= 54")
    # A classifier's predictions: argmax over rows of 1024 classes.
    rows, rx = a.reshape((-1, 1024)), x.reshape((-1, 1024))
    tv = None if torch is None else gb / median_time(lambda: t.reshape(rx.shape).argmax(1), 7)
    ours = gb / median_time(lambda: mx.nd.argmax(rows, axis=1).wait_to_read(), 7)
    row("argmax over rows of 1024, 16M f32", "GB/s", ours, gb / median_time(lambda: rx.argmax(1), 7), tv)


def bench_dot(q):
    n = 1024 if q else 2048
    x = np.random.uniform(size=(n, n)).astype(np.float32)
    a = mx.nd.array(x)
    fl = 2 * n ** 3 / 1e9
    tv = None
    if torch is not None:
        t = torch.from_numpy(x)
        tv = fl / median_time(lambda: t @ t, 3)
    row("dot %d^3 f32" % n, "GFLOP/s", fl / median_time(lambda: mx.nd.dot(a, a).wait_to_read(), 3),
        fl / median_time(lambda: x @ x, 3), tv, ">= 260")


def bench_half(q):
    """Half-precision elementwise work against the same in float32 (and numpy's float16):
    oxnet computes float16/bfloat16 in float32 tiles, so the rows should cost about what
    float32 does, or less where memory bounds them."""
    n = 1 << (20 if q else 22)
    x = np.random.uniform(-2, 2, size=n).astype(np.float32)
    print("%-44s %-8s %10s %10s %10s %10s" % ("half precision, %dM elements" % (n >> 20), "unit",
                                              "f32", "f16", "bf16", "numpy f16"))
    arrays = {dt: (mx.nd.array(x).astype(dt), mx.nd.array(x[::-1].copy()).astype(dt))
              for dt in ("float32", "float16", "bfloat16")}
    h, h2 = x.astype(np.float16), x[::-1].astype(np.float16)
    ops = [("a + b", lambda a, b: a + b, lambda: h + h2),
           ("a * 3", lambda a, b: a * 3, lambda: h * np.float16(3)),
           ("exp(a)", lambda a, b: mx.nd.exp(a), lambda: np.exp(h)),
           ("sum(a)", lambda a, b: mx.nd.sum(a), lambda: h.sum(dtype=np.float32)),
           ("a.astype(float32)", lambda a, b: a.astype("float32"), lambda: h.astype(np.float32))]
    # Optimizer updates, in place as optimizers run them (numpy: the same arithmetic in float16).
    mom = {id(a): mx.nd.zeros_like(a) for a, _ in arrays.values()}
    hw, hm = h.copy(), np.zeros_like(h)

    def np_sgd_mom():
        np.multiply(hm, np.float16(0.9), out=hm)
        hm.__isub__(np.float16(1e-3) * h2)
        hw.__iadd__(hm)
        return hw
    ops.append(("sgd_mom_update (in place)",
                lambda a, b: mx.nd.sgd_mom_update(a, b, mom[id(a)], lr=1e-3, momentum=0.9, out=a),
                np_sgd_mom))
    for name, f, g in ops:
        ms = [median_time(lambda: f(a, b).wait_to_read(), 7) * 1e3 for a, b in arrays.values()]
        print("%-44s %-8s %10.2f %10.2f %10.2f %10.2f" % (name, "ms", *ms, median_time(g, 7) * 1e3))


def bench_ops(q):
    """Ops whose work is more than a pass over memory: sorting rows, random draws,
    special functions, per-row normalisation (4M f32 as 1024 rows of 4096)."""
    rows = 256 if q else 1024
    x = np.random.uniform(-3, 3, size=(rows, 4096)).astype(np.float32)
    a = mx.nd.array(x)
    gen = np.random.default_rng(0)
    t = None if torch is None else torch.from_numpy(x)

    def ms(fn):
        return median_time(fn, 7) * 1e3

    def peer(fn):
        return None if t is None else ms(fn)
    cases = [
        ("sort rows", lambda: mx.nd.sort(a, axis=1), lambda: np.sort(x, axis=1),
         lambda: t.sort(1)),
        ("argsort rows", lambda: mx.nd.argsort(a, axis=1), lambda: np.argsort(x, axis=1, kind="stable"),
         lambda: t.argsort(1, stable=True)),
        ("topk k=10 of rows (indices)", lambda: mx.nd.topk(a, k=10),
         lambda: np.argpartition(-x, 10, axis=1)[:, :10], lambda: t.topk(10, 1)),
        ("erf", lambda: mx.nd.erf(a), None, lambda: torch.erf(t)),
        ("LeakyReLU gelu", lambda: mx.nd.LeakyReLU(a, act_type="gelu"), None,
         lambda: torch.nn.functional.gelu(t)),
        ("random.uniform", lambda: mx.nd.random.uniform(shape=x.shape),
         lambda: gen.random(x.shape, dtype=np.float32), lambda: torch.rand(x.shape)),
        ("random.normal", lambda: mx.nd.random.normal(shape=x.shape),
         lambda: gen.standard_normal(x.shape, dtype=np.float32), lambda: torch.randn(x.shape)),
        ("log of |x|", lambda: mx.nd.log(mx.nd.abs(a)), lambda: np.log(np.abs(x)),
         lambda: torch.log(torch.abs(t))),
        ("sin", lambda: mx.nd.sin(a), lambda: np.sin(x), lambda: torch.sin(t)),
        ("log1p of |x|", lambda: mx.nd.log1p(mx.nd.abs(a)), lambda: np.log1p(np.abs(x)),
         lambda: torch.log1p(torch.abs(t))),
        ("Activation softrelu", lambda: mx.nd.Activation(a, act_type="softrelu"),
         lambda: np.logaddexp(x, np.float32(0)), lambda: torch.nn.functional.softplus(t)),
        ("LeakyReLU elu", lambda: mx.nd.LeakyReLU(a, act_type="elu", slope=1.0),
         lambda: np.where(x > 0, x, np.expm1(x)), lambda: torch.nn.functional.elu(t)),
        ("softmax rows", lambda: mx.nd.softmax(a),
         lambda: (lambda e: e / e.sum(1, keepdims=True))(np.exp(x - x.max(1, keepdims=True))),
         lambda: torch.softmax(t, 1)),
        ("log_softmax rows", lambda: mx.nd.log_softmax(a),
         lambda: (lambda s: s - np.log(np.exp(s).sum(1, keepdims=True)))(x - x.max(1, keepdims=True)),
         lambda: torch.log_softmax(t, 1)),
        ("cumsum rows", lambda: mx.nd.cumsum(a, axis=1), lambda: np.cumsum(x, axis=1),
         lambda: torch.cumsum(t, 1)),
        ("Dropout p=0.5 (training)", lambda: mx.nd.Dropout(a, p=0.5, mode="always"),
         lambda: x * (gen.random(x.shape, dtype=np.float32) < 0.5) * np.float32(2),
         lambda: torch.nn.functional.dropout(t, 0.5)),
        ("L2Normalization (instance)", lambda: mx.nd.L2Normalization(a),
         lambda: x / np.sqrt((x * x).sum(1, keepdims=True) + 1e-10),
         lambda: torch.nn.functional.normalize(t)),
    ]
    for name, ours, np_fn, torch_fn in cases:
        row("%s, %dx4096 f32" % (name, rows), "ms", ms(lambda: ours().wait_to_read()),
            None if np_fn is None else ms(np_fn), peer(torch_fn), higher=False)


def bench_save_load(q):
    k = 5 if q else 20
    d = {"arg:w%d" % i: mx.nd.array(np.random.uniform(size=1 << 20).astype(np.float32)) for i in range(k)}
    nd_ = {k2: v.asnumpy() for k2, v in d.items()}
    mb = 2 * k * (1 << 20) * 4 / 1e6
    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, "x.params")
        pn = os.path.join(tmp, "x.npz")

        def ours():
            mx.nd.save(p, d)
            r = mx.nd.load(p)
            r["arg:w0"].wait_to_read()

        def theirs():
            np.savez(pn, **nd_)
            with np.load(pn) as z:
                for key in z.files:
                    z[key]
        row("save+load dict of %dx1M f32" % k, "MB/s", mb / median_time(ours, 5), mb / median_time(theirs, 5),
            None, ">= 4000")


def bench_chains(q, label="two independent 512^2 dot chains (cpu0,cpu1)"):
    n, length = 512, (10 if q else 30)
    x = np.random.uniform(size=(n, n)).astype(np.float32) / n
    a0 = mx.nd.array(x, ctx=mx.cpu(0))
    a1 = mx.nd.array(x, ctx=mx.cpu(1))

    def chain(a):
        y = a
        for _ in range(length):
            y = mx.nd.dot(y, a)
        return y

    def one():
        chain(a0).wait_to_read()

    def two():
        y0, y1 = chain(a0), chain(a1)
        y0.wait_to_read()
        y1.wait_to_read()
    t1, t2 = median_time(one, 5), median_time(two, 5)
    print("%-44s %-8s %10.2f %10s %10s %8s %10s" % (label, "speedup", 2 * t1 / t2, "-", "-", "-",
                                                    ">= 1.9"))


def bench_chains_one_thread_per_op(q):
    """The same with intra-op splitting off (OMP_NUM_THREADS=1, fixed when the runtime starts,
    hence a fresh process): a single chain then uses one core, and the speedup shows the
    engine running the independent chains side by side. With splitting on, one chain already
    keeps both cores busy, so the row above stays near 1x."""
    args = [sys.executable, os.path.abspath(__file__), "--chains-only"] + (["--quick"] if q else [])
    r = subprocess.run(args, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True,
                       text=True, timeout=600)
    print(r.stdout.rstrip() if r.returncode == 0 else "chains subprocess failed: " + r.stderr[-400:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    ap.add_argument("--chains-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    q = args.quick
    if args.chains_only:
        bench_chains(q, "  same, OMP_NUM_THREADS=1 (ops not split)")
        return
    print("oxnet %s, numpy %s, torch %s, engine %s" % (mx.__version__, np.__version__,
                                                       torch.__version__ if torch else "not installed",
                                                       mx._native.engine_info()))
    print("%-44s %-8s %10s %10s %10s %8s %10s" % ("benchmark", "unit", "oxnet", "numpy", "torch", "vs numpy", "target"))
    for f in (bench_dispatch, bench_add, bench_sum, bench_dot, bench_half, bench_ops, bench_save_load, bench_chains,
              bench_chains_one_thread_per_op):
        f(q)


if __name__ == "__main__":
    main()
