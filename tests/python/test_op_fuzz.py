"""Every registry op, called with random arrays and parameters (zero-size shapes, mixed dtypes,
huge counts and sizes, NaN, unknown enum values), either returns arrays or raises a Python
exception that names the problem: never a panic, an abort, a hang or a stray exception type.
Where a call succeeds, the op's symbol, told only its inputs' dtypes, infers either nothing or
the dtypes the call returned. The calls run in a child process, so a crash fails the test with
the call that caused it."""
import os
import random
import re
import subprocess
import sys

import numpy as np

SEED = int(os.environ.get("OXNET_FUZZ_SEED", "20261202"))  # another seed explores further
PER_OP = 12
ALLOWED = ("MXNetError", "MXNetNotImplementedError", "ValueError", "TypeError", "NotImplementedError", "IndexError", "MemoryError")
SKIP = ("Custom", "_CustomFunction")  # run user Python; covered by test_custom_op.py
# Graphs refuse mixed input dtypes that these ops' calls accept, as MXNet's do (loss heads want
# labels of the data's dtype; distribution parameters share one dtype).
STRICT_TYPES = ("SoftmaxOutput", "LinearRegressionOutput", "MAERegressionOutput",
                "LogisticRegressionOutput", "_identity_with_attr_like_rhs", "_random_pdf_", "_sample_")
NO_OUTPUTS = ("reset_arrays", "_set_rows")
DTYPES = ["float32"] * 5 + ["float64", "float16", "int32", "int64", "int8", "uint8"]


def _shape(r):
    dims = [r.choice([1, 2, 3, 4, 5]) for _ in range(r.choice([1, 2, 2, 3, 3, 4, 5]))]
    if r.random() < 0.2:
        dims[r.randrange(len(dims))] = 0
    return tuple(dims)


def _array(r, shape, dtype):
    g = np.random.RandomState(r.randrange(1 << 30))
    a = g.normal(size=shape) * 3 if dtype.startswith("float") else g.randint(-3, 6, size=shape)
    return a.astype(dtype)


def _value(r, ty):
    if "or None" in ty and r.random() < 0.25:
        return None
    ty = re.sub(r"(, ?optional|, required|, default=.*)", "", ty).strip()
    if ty.startswith("{"):
        choices = re.findall(r"'([^']*)'", ty)
        return "bogus" if r.random() < 0.05 or not choices else r.choice(choices)
    if ty.startswith("Shape"):
        return tuple(r.choice([1, 2, 3, 0, -1, -2, -3, -4, 5]) for _ in range(r.choice([0, 1, 2, 3, 4])))
    if ty.startswith("tuple of <float>"):
        return tuple(r.choice([0.0, 1.0, -1.0, 0.5, float("nan")]) for _ in range(r.choice([0, 1, 2, 3])))
    if ty.startswith("tuple"):
        return tuple(r.choice([0, 1, 2, -1]) for _ in range(r.choice([0, 1, 2, 3])))
    if ty.startswith("boolean"):
        return r.choice([True, False])
    if ty.startswith(("int", "long")):
        return r.choice([0, 1, 2, 3, -1, -2, 5, 100, 2 ** 31, -2 ** 40, 2 ** 40])
    if ty.startswith(("float", "double")):
        return r.choice([0.0, 1.0, -1.0, 0.5, 2.5, 1e30, float("nan"), float("inf")])
    return r.choice(["", "abc", "0", "(1, 2)", "cpu(0)"])


def _cases():
    import oxnet._native as native
    r = random.Random(SEED)
    for name, _doc, params, inputs, variadic, group in native.list_ops():
        if name in SKIP or name.startswith("_backward"):
            continue
        for _ in range(PER_OP):
            base, dtype = _shape(r), r.choice(DTYPES)
            n_in = r.choice([1, 2, 3]) * max(group, 1) if variadic else len(inputs)
            arrs = [_array(r, base if r.random() < 0.7 else _shape(r),
                           dtype if r.random() < 0.85 else r.choice(DTYPES)) for _ in range(n_in)]
            kw = {}
            for pname, ty, default, _ in params:
                if variadic and pname == variadic:
                    kw[pname] = r.choice([n_in // max(group, 1)] * 4 + [2 ** 31, 0])
                elif default is None or r.random() < 0.3:
                    kw[pname] = _value(r, ty)
            yield name, arrs, kw


def _symbolic_types(mx, name, arrs, kw, dtypes):
    """What is wrong with the types `name`'s symbol infers from its inputs' dtypes alone, or None."""
    make = getattr(mx.sym, name, None) or getattr(mx.sym._internal, name, None)
    if make is None or name in NO_OUTPUTS:
        return None
    try:
        sym = make(*[mx.sym.var("in%d" % k) for k in range(len(arrs))], **kw)
        _, got, _ = sym.infer_type(**{"in%d" % k: a.dtype for k, a in enumerate(arrs)})
    except Exception as e:  # noqa: BLE001 - any refusal of what the call accepted is the finding
        if isinstance(e, mx.base.MXNetError) and name.startswith(STRICT_TYPES):
            return None
        return "infer_type raised %s: %s" % (type(e).__name__, str(e)[:300])
    if got is not None and any(g is not None and np.dtype(g) != np.dtype(d) for g, d in zip(got, dtypes)):
        return "infer_type gave %s, the call returned %s" % ([str(np.dtype(g)) for g in got],
                                                              [str(np.dtype(d)) for d in dtypes])
    return None


def _worker():
    import faulthandler
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))  # big requests fail, not swap
    import oxnet as mx
    from oxnet.ndarray.register import make_op_functions
    funcs = make_op_functions()
    bad = []
    for i, (name, arrs, kw) in enumerate(_cases()):
        print("CALL %d %s %s %s" % (i, name, [(a.dtype.name, a.shape) for a in arrs], kw), flush=True)
        faulthandler.dump_traceback_later(60, exit=True)
        try:
            out = funcs[name](*[mx.nd.array(a, dtype=a.dtype) for a in arrs], **kw)
            outs = [o.asnumpy() for o in (out if isinstance(out, (list, tuple)) else [out])]
            wrong = _symbolic_types(mx, name, arrs, kw, [o.dtype for o in outs])
            if wrong:
                bad.append("%s %s %s: %s" % (name, [a.dtype.name for a in arrs], kw, wrong))
        except Exception as e:  # noqa: BLE001 - classifying every exception is the point
            msg = str(e)
            if type(e).__name__ not in ALLOWED or "panicked" in msg or not msg.strip():
                bad.append("%s %s: %s: %s" % (name, kw, type(e).__name__, msg[:300]))
        faulthandler.cancel_dump_traceback_later()
    print("BAD %d" % len(bad))
    for b in bad:
        print("  " + b)


def test_random_calls_of_every_op_never_crash_and_graphs_infer_their_dtypes():
    env = dict(os.environ, PYTHONFAULTHANDLER="1")
    p = subprocess.run([sys.executable, __file__], capture_output=True, text=True, env=env, timeout=1500)
    calls = [l for l in p.stdout.splitlines() if l.startswith("CALL ")]
    assert p.returncode == 0, "the child died (rc %d) in %s\n%s" % (
        p.returncode, calls[-1] if calls else "start-up", p.stderr[-3000:])
    tail = p.stdout[p.stdout.rindex("BAD "):]
    assert tail.startswith("BAD 0"), tail[:4000]
    assert len(calls) > 3000


if __name__ == "__main__":
    _worker()
