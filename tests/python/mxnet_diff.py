"""Runs random calls of every registry op in oxnet and in Apache MXNet 1.9.1, and prints where
they disagree. A development tool, never imported by the tests: run it from oxnet's venv with
the interpreter of a reference venv (`pip install mxnet==1.9.1 'numpy<1.24'`):

    python tests/python/mxnet_diff.py --mxnet /path/to/mxref/bin/python [--seed 1] [--per-op 8]
                                      [--grad]

Cases are the op fuzz's random calls (test_op_fuzz.py) plus valid random calls of the layers,
whose random parameters rarely pass MXNet's checks. Each side runs in its own child process
(restarted after a crash or a hang, the case skipped) and records outputs or the error. Printed:
both ran and the outputs differ (VALUE, SHAPE, DTYPE), or MXNet ran a call oxnet refused
(REFUSED). With --grad the calls are recorded, and the gradients of their float inputs for
fixed random head gradients follow the outputs in the comparison. Not printed: calls only oxnet
accepts (MXNet's gaps: zero-size shapes, dtypes its CPU kernels lack). A disagreement still
needs judging (undefined casts of NaN to integers, uninitialised outputs, oneDNN-only paths
differ in MXNet itself); a real one becomes a regression test holding MXNet's values.
"""
import argparse
import os
import pickle
import random
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
# Random draws, user callbacks, image decoding and ops MXNet registers only for other builds.
SKIP = ("_random", "_sample", "random_", "sample_", "Dropout", "_shuffle", "Custom", "_backward",
        "_npi", "_np_", "_image_random", "_contrib_quantize", "_contrib_calibrate", "_cvim",
        "_cvcopy", "_imdecode", "_set_value", "_sg_", "uniform", "normal")
NAMESPACES = [("_contrib_", "contrib"), ("_linalg_", "linalg"), ("_image_", "image"),
              ("_random_", "random"), ("_sparse_", "sparse")]


def _pack(a):
    return str(a.dtype), a.shape, a.tobytes()


def _unpack(t):
    return np.frombuffer(t[2], dtype=t[0]).reshape(t[1]).copy()


# ------------------------------------------------------------------ valid calls of the layers
def _layer_cases(r, g):
    def A(*shape, lo=-2, hi=2):
        return g.uniform(lo, hi, shape).astype("float32")

    def steps(k):
        return tuple(r.randint(1, 3) for _ in range(k))

    def fc():
        f = [r.randint(1, 5) for _ in range(r.randint(1, 3))]
        nh, flat, nb = r.randint(1, 6), r.random() < 0.5, r.random() < 0.5
        din = int(np.prod(f)) if flat else f[-1]
        ins = [A(r.randint(1, 4), *f), A(nh, din)] + ([] if nb else [A(nh)])
        return ins, dict(num_hidden=nh, flatten=flat, no_bias=nb)

    def conv(deconv):
        k, grp = r.choice([1, 2, 2, 3]), r.choice([1, 1, 2])
        cin, nf = grp * r.randint(1, 3), grp * r.randint(1, 3)
        kern, stride = tuple(r.randint(1, 3) for _ in range(k)), steps(k)
        kw = dict(kernel=kern, stride=stride, pad=tuple(r.randint(0, 2) for _ in range(k)),
                  dilate=steps(k) if r.random() < 0.3 and not deconv else (1,) * k,
                  num_filter=nf, num_group=grp, no_bias=r.random() < 0.5)
        if deconv and r.random() < 0.4:
            kw["adj"] = tuple(r.randint(0, s - 1) for s in stride)
        w = A(cin, nf // grp, *kern) if deconv else A(nf, cin // grp, *kern)
        x = A(r.randint(1, 3), cin, *[r.randint(3, 8) for _ in range(k)])
        return [x, w] + ([] if kw["no_bias"] else [A(nf)]), kw

    def pool():
        k, pt = r.choice([1, 2, 2, 3]), r.choice(["max", "avg", "sum", "lp"])
        kern = tuple(r.randint(1, 3) for _ in range(k))
        kw = dict(kernel=kern, pool_type=pt, stride=steps(k), global_pool=r.random() < 0.2,
                  pad=tuple(r.randint(0, n - 1) for n in kern),
                  pooling_convention=r.choice(["valid", "full"]))
        if pt == "avg":
            kw["count_include_pad"] = r.random() < 0.5
        if pt == "lp":
            kw["p_value"] = r.choice([1, 2, 3])
        return [A(r.randint(1, 2), r.randint(1, 3), *[r.randint(3, 7) for _ in range(k)])], kw

    def batch_norm():
        shape = [r.randint(1, 4) for _ in range(r.randint(2, 4))]
        ax = r.randint(-len(shape), len(shape) - 1)
        c = shape[ax]
        kw = dict(eps=r.choice([1e-3, 0.1]), fix_gamma=r.random() < 0.5, axis=ax,
                  use_global_stats=r.random() < 0.5, output_mean_var=r.random() < 0.5)
        return [A(*shape), A(c), A(c), A(c), A(c, lo=0.1, hi=2)], kw

    def softmax():
        shape = [r.randint(1, 5) for _ in range(r.randint(1, 4))]
        kw = dict(axis=r.randint(-len(shape), len(shape) - 1))
        if r.random() < 0.3:
            kw["temperature"] = r.choice([0.5, 2.0])
        return [A(*shape)], kw

    def leaky():
        t = r.choice(["leaky", "elu", "selu", "gelu", "prelu"])
        x = A(r.randint(1, 3), r.randint(1, 4), r.randint(1, 3))
        kw = dict(act_type=t, slope=r.choice([0.1, 0.25, 1.5]))
        return ([x, A(x.shape[1])] if t == "prelu" else [x]), kw

    def pad():
        nd, mode = r.choice([4, 5]), r.choice(["constant", "edge", "reflect"])
        shape = [r.randint(1, 3), r.randint(1, 3)] + [r.randint(2, 4) for _ in range(nd - 2)]
        widths = [r.randint(0, 1 if mode == "reflect" else 2) for _ in range(2 * (nd - 2))]
        return [A(*shape)], dict(mode=mode, pad_width=tuple([0] * 4 + widths))

    def seq():
        t, b = r.randint(1, 4), r.randint(1, 3)
        use = r.random() < 0.7
        ins = [A(t, b, r.randint(1, 3))] + ([g.randint(1, t + 1, b).astype("float32")] if use else [])
        return ins, dict(use_sequence_length=use)

    def rnn():
        mode = r.choice(["lstm", "gru", "rnn_tanh", "rnn_relu"])
        gates = {"lstm": 4, "gru": 3}.get(mode, 1)
        layers, dirs, h, i0 = r.randint(1, 2), r.choice([1, 2]), r.randint(1, 3), r.randint(1, 3)
        n = sum(dirs * gates * h * ((i0 if l == 0 else h * dirs) + h + 2) for l in range(layers))
        b = r.randint(1, 2)
        ins = [A(r.randint(1, 3), b, i0), A(n, lo=-0.5, hi=0.5), A(layers * dirs, b, h)]
        if mode == "lstm":
            ins.append(A(layers * dirs, b, h))
        return ins, dict(mode=mode, num_layers=layers, bidirectional=dirs == 2, state_size=h,
                         state_outputs=r.random() < 0.5)

    def sliced():
        shape = [r.randint(1, 5) for _ in range(r.randint(1, 3))]
        begin, end, step = [], [], []
        for d in shape:
            s = r.choice([None, 1, -1, 2, -2])
            if s is not None and s < 0:
                begin.append(r.choice([None, d - 1, -1]))
                end.append(r.choice([None, None, 0, -d - 1]))
            else:
                begin.append(r.choice([None, 0, -d]))
                end.append(r.choice([None, d, -1 if d > 1 else None]))
            step.append(s)
        return [A(*shape)], dict(begin=tuple(begin), end=tuple(end), step=tuple(step))

    return {"FullyConnected": fc, "Convolution": lambda: conv(False),
            "Deconvolution": lambda: conv(True), "Pooling": pool, "BatchNorm": batch_norm,
            "softmax": softmax, "log_softmax": softmax, "LeakyReLU": leaky, "Pad": pad,
            "SequenceMask": seq, "SequenceLast": seq, "SequenceReverse": seq, "RNN": rnn,
            "slice": sliced}


def make_cases(seed, per_op):
    sys.path.insert(0, HERE)
    import test_op_fuzz as fuzz
    import oxnet._native as native
    r, g = random.Random(seed), np.random.RandomState(seed)
    cases = []
    for name, _doc, params, inputs, variadic, group in native.list_ops():
        if name.startswith(SKIP):
            continue
        for _ in range(per_op):
            base = tuple(r.choice([1, 2, 3, 4, 5]) for _ in range(r.choice([1, 2, 2, 3, 3, 4])))
            dtype = r.choice(["float32"] * 6 + ["float64", "int32", "float16"])
            n_in = r.choice([1, 2, 3]) * max(group, 1) if variadic else len(inputs)
            arrs = [fuzz._array(r, base if r.random() < 0.8 else fuzz._shape(r),
                                dtype if r.random() < 0.9 else r.choice(fuzz.DTYPES))
                    for _ in range(n_in)]
            kw = {}
            for pname, ty, default, _ in params:
                if variadic and pname == variadic:
                    kw[pname] = n_in // max(group, 1)
                elif default is None or r.random() < 0.25:
                    v = fuzz._value(r, ty)
                    # Huge counts make MXNet allocate without bound.
                    kw[pname] = 3 if isinstance(v, int) and abs(v) > 1000 else v
            cases.append((name, [_pack(a) for a in arrs], kw))
    for name, make in _layer_cases(r, g).items():
        for _ in range(4 * per_op):
            ins, kw = make()
            if r.random() < 0.15:
                ins = [a.astype("float64") for a in ins]
            cases.append((name, [_pack(np.ascontiguousarray(a)) for a in ins], kw))
    return cases


# ------------------------------------------------------------------ one side, in a child
def _resolve(mx, name):
    for prefix, module in NAMESPACES:
        if name.startswith(prefix):
            f = getattr(getattr(mx.nd, module, None), name[len(prefix):], None)
            if f is not None:
                return f
    return getattr(mx.nd, name, None) or getattr(mx.nd._internal, name, None)


def worker(module, cases_path, out_path, start, grad):
    import warnings
    warnings.filterwarnings("ignore")
    mx = __import__(module)
    with open(cases_path, "rb") as f:
        cases = pickle.load(f)
    with open(out_path, "ab") as out:
        for i in range(start, len(cases)):
            pickle.dump(("begin", i), out)  # a crash leaves this one without a result
            out.flush()
            name, arrays, kw = cases[i]
            f = _resolve(mx, name)
            try:
                if f is None:
                    res = ("missing", name)
                else:
                    xs = [mx.nd.array(_unpack(a), dtype=_unpack(a).dtype) for a in arrays]
                    floats = [x for x in xs if np.dtype(x.dtype).kind == "f"] if grad else []
                    for x in floats:
                        x.attach_grad()
                    with mx.autograd.record():
                        ys = f(*xs, **kw)
                    ys = list(ys) if isinstance(ys, (list, tuple)) else [ys]
                    if grad:
                        heads = [mx.nd.array(np.random.RandomState(7).uniform(-1, 1, y.shape),
                                             dtype=y.dtype) for y in ys]
                        mx.autograd.backward(ys, head_grads=heads)
                    res = ("ok", [_pack(y.asnumpy()) for y in ys + [x.grad for x in floats]])
            except Exception as e:  # noqa: BLE001 - every refusal is a result here
                res = ("err", "%s: %s" % (type(e).__name__, str(e).split("Stack trace")[0][-300:]))
            pickle.dump(("done", i, res), out)
            out.flush()


def _read(path):
    res, begun = {}, set()
    with open(path, "rb") as f:
        while True:
            try:
                t = pickle.load(f)
            except (EOFError, pickle.UnpicklingError):
                break
            if t[0] == "begin":
                begun.add(t[1])
            else:
                res[t[1]] = t[2]
    for i in begun - set(res):
        res[i] = ("crash", None)
    return res


def run_side(python, module, cases_path, n, tmp, grad):
    """Results by case, from as many children as it takes: each resumes after the case its
    predecessor crashed or hung on (MXNet 1.9.1 hangs on some BatchNorm shapes)."""
    out = os.path.join(tmp, module + ".out")
    start = 0
    while start < n:
        try:
            subprocess.run([python, os.path.abspath(__file__), "--worker", module, cases_path,
                            out, str(start), str(int(grad))], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=120, check=False)
        except subprocess.TimeoutExpired:
            pass
        done = _read(out)
        start = max(done) + 1 if done else n
    return _read(out)


# ------------------------------------------------------------------ comparison
def disagreement(a, b):
    if a[0] == "ok" and b[0] != "ok":
        return "REFUSED " + str(b[1])[:200]
    if a[0] != "ok" or b[0] != "ok":
        return None
    xs, ys = [_unpack(t) for t in a[1]], [_unpack(t) for t in b[1]]
    if len(xs) != len(ys):
        return "OUTPUTS %d vs %d" % (len(xs), len(ys))
    for k, (x, y) in enumerate(zip(xs, ys)):
        if x.shape != y.shape:
            return "SHAPE out%d %s vs %s" % (k, x.shape, y.shape)
        if x.dtype != y.dtype:
            return "DTYPE out%d %s vs %s" % (k, x.dtype, y.dtype)
        tol = 1e-2 if x.dtype == np.float16 else 1e-4
        if not np.allclose(x.astype(np.float64), y.astype(np.float64), rtol=tol, atol=tol,
                           equal_nan=True):
            return "VALUE out%d max |mxnet - oxnet| %g" % (
                k, np.nanmax(np.abs(x.astype(np.float64) - y.astype(np.float64))))
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mxnet", required=True, help="python of a venv with mxnet==1.9.1")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--per-op", type=int, default=8)
    ap.add_argument("--grad", action="store_true",
                    help="also compare the float inputs' gradients (outputs after the outputs)")
    args = ap.parse_args()
    cases = make_cases(args.seed, args.per_op)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "cases.pkl")
        with open(path, "wb") as f:
            pickle.dump(cases, f, protocol=4)
        theirs = run_side(args.mxnet, "mxnet", path, len(cases), tmp, args.grad)
        ours = run_side(sys.executable, "oxnet", path, len(cases), tmp, args.grad)
    both = found = 0
    for i, (name, arrays, kw) in enumerate(cases):
        a, b = theirs.get(i, ("crash", None)), ours.get(i, ("crash", None))
        both += a[0] == b[0] == "ok"
        what = disagreement(a, b)
        if what:
            found += 1
            shapes = [(t[0], t[1]) for t in arrays]
            print("%d %s %s %s -> %s" % (i, name, shapes, kw, what))
    print("%d cases, %d run by both, %d disagreements" % (len(cases), both, found))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6] == "1")
    else:
        main()
