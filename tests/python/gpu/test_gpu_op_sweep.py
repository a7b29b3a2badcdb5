"""Every registry op on gpu(0): the random calls of test_op_fuzz.py that the CPU answers are
repeated on the GPU with the same inputs. The GPU must give the CPU's dtypes, shapes and values
(random ops: dtypes and shapes), keep its outputs on the GPU, and refuse what the CPU refuses.

Two child processes: the CPU pass under an address-space limit (so the fuzzer's huge requests
fail instead of swapping) saves its answers; the GPU pass, which cannot run under such a limit
(CUDA reserves large address ranges), replays them. A crash fails the test with the call that
caused it. ``OXNET_SWEEP_CTX=cpu(1)`` dry-runs the harness on a machine without a GPU."""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import oxnet as mx

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import test_op_fuzz as fuzz  # noqa: E402  (the case generator: one definition of "random call")

RANDOM = ("random", "sample", "shuffle", "Dropout", "multinomial", "randint", "_rnd")
# Ops whose outputs are not defined by their inputs (uninitialised memory).
UNDEFINED = ("_empty", "empty")
TOL = {"float16": (1e-2, 1e-2), "float32": (2e-4, 1e-5), "float64": (1e-9, 1e-12)}


def _ctx():
    spec = os.environ.get("OXNET_SWEEP_CTX", "gpu(0)")
    kind, dev = spec.rstrip(")").split("(")
    return mx.Context(kind, int(dev))


def _call(funcs, name, arrs, kw, ctx):
    out = funcs[name](*[mx.nd.array(a, ctx=ctx, dtype=a.dtype) for a in arrs], **kw)
    outs = out if isinstance(out, (list, tuple)) else [out]
    return [(str(o.context), o.asnumpy()) for o in outs]


def _cpu_pass(path):
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))
    from oxnet.ndarray.register import make_op_functions
    funcs = make_op_functions()
    answers = []
    for i, (name, arrs, kw) in enumerate(fuzz._cases()):
        if name in fuzz.NO_OUTPUTS:
            continue
        try:
            res = ("ok", [a for _, a in _call(funcs, name, arrs, kw, mx.cpu(0))])
            if sum(a.size for a in res[1]) > 1 << 22:
                continue
        except MemoryError:
            continue
        except Exception as e:  # noqa: BLE001 - the refusal's type is what the GPU must match
            if "out of memory" in str(e):  # the limit's doing, not the op's
                continue
            res = ("raise", type(e).__name__)
        answers.append((i, name, arrs, kw, res))
    with open(path, "wb") as f:
        pickle.dump(answers, f)
    print("CPU %d" % len(answers))


def _compare(name, want, got, on, no_inputs):
    if len(want) != len(got):
        return "%d outputs, the CPU gave %d" % (len(got), len(want))
    for k, (w, (ctx, g)) in enumerate(zip(want, got)):
        if ctx != on and not no_inputs:  # as MXNet's, they create on cpu(0) unless told
            return "output %d on %s" % (k, ctx)
        if w.dtype != g.dtype or w.shape != g.shape:
            return "output %d %s%s, the CPU gave %s%s" % (k, g.dtype, g.shape, w.dtype, w.shape)
        if name.startswith(UNDEFINED) or any(r in name for r in RANDOM) or w.size == 0:
            continue
        if w.dtype.kind in "fc":
            rtol, atol = TOL.get(w.dtype.name, (1e-5, 1e-6))
            if not np.allclose(g, w, rtol=rtol, atol=atol, equal_nan=True):
                bad = ~np.isclose(g, w, rtol=rtol, atol=atol, equal_nan=True)
                idx = np.argwhere(bad)[0]
                return "output %d differs at %d of %d places, first %s: gpu %r cpu %r" % (
                    k, bad.sum(), w.size, tuple(idx), g[tuple(idx)], w[tuple(idx)])
        elif not np.array_equal(g, w):
            bad = g != w
            idx = np.argwhere(bad)[0]
            return "output %d differs at %d of %d places, first %s: gpu %r cpu %r" % (
                k, bad.sum(), w.size, tuple(idx), g[tuple(idx)], w[tuple(idx)])
    return None


def _gpu_pass(path):
    import faulthandler
    from oxnet.ndarray.register import make_op_functions
    funcs = make_op_functions()
    ctx = _ctx()
    with open(path, "rb") as f:
        answers = pickle.load(f)
    bad, ran = [], 0
    for i, name, arrs, kw, (kind, want) in answers:
        print("CALL %d %s %s %s" % (i, name, [(a.dtype.name, a.shape) for a in arrs], kw),
              flush=True)
        faulthandler.dump_traceback_later(120, exit=True)
        mx.random.seed(i)
        try:
            got = _call(funcs, name, arrs, kw, ctx)
            wrong = "the CPU raised %s" % want if kind == "raise" else \
                _compare(name, want, got, str(ctx), no_inputs=not arrs)
        except Exception as e:  # noqa: BLE001 - compared with the CPU's answer
            wrong = None if kind == "raise" and type(e).__name__ == want else \
                "raised %s: %s" % (type(e).__name__, str(e)[:300])
        faulthandler.cancel_dump_traceback_later()
        ran += 1
        if wrong:
            bad.append("%s %s %s: %s" % (name, [(a.dtype.name, a.shape) for a in arrs], kw,
                                         wrong))
    print("RAN %d" % ran)
    print("BAD %d" % len(bad))
    for b in bad:
        print("  " + b)


def test_every_op_on_the_gpu_answers_as_the_cpu(tmp_path):
    if "OXNET_SWEEP_CTX" not in os.environ and mx.context.num_gpus() == 0:
        pytest.skip("no CUDA GPU on this machine (mx.context.num_gpus() == 0)")
    path = str(tmp_path / "cpu.pkl")
    env = dict(os.environ, PYTHONFAULTHANDLER="1")
    for stage in ("cpu", "gpu"):
        p = subprocess.run([sys.executable, __file__, stage, path], capture_output=True,
                           text=True, env=env, timeout=1500)
        calls = [l for l in p.stdout.splitlines() if l.startswith("CALL ")]
        died = None if p.returncode == 0 else "the %s pass died (rc %d) in %s\n%s" % (
            stage, p.returncode, calls[-1] if calls else "start-up", p.stderr[-3000:])
        if os.environ.get("OXNET_SWEEP_REPORT") and (died or stage == "gpu"):
            with open(os.environ["OXNET_SWEEP_REPORT"], "w") as f:
                f.write(died or p.stdout[p.stdout.rindex("RAN "):])
        assert not died, died
    tail = p.stdout[p.stdout.rindex("RAN "):]
    assert "\nBAD 0" in tail, tail[:6000]
    assert len(calls) > 2000


if __name__ == "__main__":
    {"cpu": _cpu_pass, "gpu": _gpu_pass}[sys.argv[1]](sys.argv[2])
