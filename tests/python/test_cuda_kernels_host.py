"""The CUDA kernels' arithmetic, checked without a GPU: every kernel module's CUDA C is
compiled for the host with g++ (a header maps the CUDA keywords and runs each grid-stride loop
on one thread) and its kernels are run on numpy buffers, then compared with oxnet's CPU
operators (themselves tested against numpy and MXNet). What this cannot check (launches,
streams, cuBLAS calls) is left to tests/python/gpu on a GPU machine."""
import ctypes
import shutil
import subprocess

import numpy as np
import pytest

import oxnet as mx
from oxnet import _native

pytestmark = pytest.mark.skipif(shutil.which("g++") is None,
                                reason="no C++ compiler (g++) to run the CUDA kernels on the host")

EMULATION = r"""
#include <math.h>
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__
#define __syncthreads()
struct ox_dim3 { unsigned x, y, z; };
static const ox_dim3 threadIdx = {0, 0, 0}, blockDim = {1, 1, 1}, gridDim = {1, 1, 1};
// Kernels that give each block one channel are called once per block index.
static ox_dim3 blockIdx = {0, 0, 0};
extern "C" void ox_set_block(unsigned b) { blockIdx.x = b; }
"""

FLOATS = ["float32", "float64", "float16"]
TOL = {"float32": dict(rtol=2e-5, atol=1e-6), "float64": dict(rtol=1e-12, atol=1e-13),
       "float16": dict(rtol=2e-3, atol=2e-3)}


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    d = tmp_path_factory.mktemp("cuda_host")
    header = d / "emulation.h"
    header.write_text(EMULATION)
    libs = {}
    for module, src in _native.cuda_sources():
        cu, so = d / (module + ".cu"), d / (module + ".so")
        cu.write_text(src)
        r = subprocess.run(["g++", "-O1", "-shared", "-fPIC", "-std=c++17", "-include",
                            str(header), "-x", "c++", str(cu), "-o", str(so)],
                           capture_output=True, text=True)
        assert r.returncode == 0, "%s does not compile for the host:\n%s" % (module, r.stderr)
        libs[module] = ctypes.CDLL(str(so))
    return libs


class Bcast(ctypes.Structure):
    _fields_ = [("nd", ctypes.c_int64), ("shape", ctypes.c_int64 * 6),
                ("sa", ctypes.c_int64 * 6), ("sb", ctypes.c_int64 * 6)]


class ConvGeom(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int64 * (1 if n == "c" else 3))
                for n in ("c", "in_", "out", "k", "s", "d", "p")]


def run(lib, name, *args):
    """Calls kernel `name`: arrays become pointers, floats doubles, ints u64, bools ints."""
    c = []
    for a in args:
        if isinstance(a, np.ndarray):
            assert a.flags.c_contiguous
            c.append(ctypes.c_void_p(a.ctypes.data))
        elif isinstance(a, (ctypes.Structure, ctypes.c_int, ctypes.c_int64)):
            c.append(a)
        elif isinstance(a, bool):
            c.append(ctypes.c_int(int(a)))
        elif isinstance(a, float):
            c.append(ctypes.c_double(a))
        else:
            c.append(ctypes.c_uint64(a))
    f = getattr(lib, name)
    f.restype = None
    f(*c)


rng = np.random.RandomState(7)


def rand(*shape, low=-2.0, high=2.0, dtype="float32"):
    return rng.uniform(low, high, size=shape).astype(dtype)


def cpu(x):
    return mx.nd.array(x, dtype=x.dtype)


def close(got, want, dt):
    np.testing.assert_allclose(got.astype("float64"), want.astype("float64"), **TOL[dt])


UNARY = {
    "abs": (-2, 2), "sign": (-2, 2), "negative": (-2, 2), "reciprocal": (0.5, 2),
    "square": (-2, 2), "sqrt": (0.1, 4), "rsqrt": (0.1, 4), "cbrt": (-2, 2),
    "rcbrt": (0.2, 2), "exp": (-2, 2), "expm1": (-1, 1), "log": (0.1, 4), "log2": (0.1, 4),
    "log10": (0.1, 4), "log1p": (-0.5, 2), "sin": (-3, 3), "cos": (-3, 3), "tan": (-1, 1),
    "arcsin": (-0.9, 0.9), "arccos": (-0.9, 0.9), "arctan": (-3, 3), "sinh": (-2, 2),
    "cosh": (-2, 2), "tanh": (-2, 2), "arcsinh": (-2, 2), "arccosh": (1.1, 3),
    "arctanh": (-0.9, 0.9), "degrees": (-2, 2), "radians": (-90, 90), "sigmoid": (-4, 4),
    "relu": (-2, 2), "softsign": (-2, 2), "floor": (-3, 3), "ceil": (-3, 3),
    "round": (-3, 3), "rint": (-3, 3), "trunc": (-3, 3), "fix": (-3, 3),
    "logical_not": (-1, 1), "_copy": (-2, 2), "BlockGrad": (-2, 2),
}


@pytest.mark.parametrize("dt", FLOATS)
def test_unary(lib, dt):
    for name, (lo, hi) in UNARY.items():
        x = rand(3, 41, low=lo, high=hi, dtype=dt)
        x[0, :4] = [lo, hi, 0.5, -0.5] if lo < 0 else [lo, hi, lo, hi]
        out = np.empty_like(x)
        run(lib["elemwise_unary"], "unary_%s_%s" % (name, dt), x, out, x.size)
        want = getattr(mx.nd, {"_copy": "identity"}.get(name, name))(cpu(x)).asnumpy()
        try:
            close(out, want, dt)
        except AssertionError as e:
            raise AssertionError("%s %s: %s" % (name, dt, e)) from None


BINARY = ["add", "sub", "mul", "div", "mod", "power", "maximum", "minimum", "hypot",
          "equal", "not_equal", "greater", "greater_equal", "lesser", "lesser_equal",
          "logical_and", "logical_or", "logical_xor"]


def bcast(a_shape, b_shape, out_shape):
    g = Bcast()
    g.nd = len(out_shape)
    for d, s in enumerate(out_shape):
        g.shape[d] = s
    for field, shp in (("sa", a_shape), ("sb", b_shape)):
        off, acc = len(out_shape) - len(shp), 1
        for d in range(len(shp) - 1, -1, -1):
            getattr(g, field)[off + d] = 0 if (shp[d] == 1 and out_shape[off + d] != 1) else acc
            acc *= shp[d]
    return g


@pytest.mark.parametrize("dt", FLOATS)
def test_binary_broadcast_and_scalar(lib, dt):
    m = lib["elemwise_binary"]
    a, b = rand(4, 5, low=0.5, high=2, dtype=dt), rand(4, 5, low=0.5, high=2, dtype=dt)
    b[0, :3] = a[0, :3]  # equal elements for the comparisons
    a3, b3 = rand(3, 1, 5, low=0.5, high=2, dtype=dt), rand(4, 1, low=0.5, high=2, dtype=dt)
    for name in BINARY:
        out = np.empty_like(a)
        run(m, "binary_%s_%s" % (name, dt), a, b, out, a.size)
        close(out, getattr(mx.nd, "broadcast_" + name)(cpu(a), cpu(b)).asnumpy(), dt)
        want = getattr(mx.nd, "broadcast_" + name)(cpu(a3), cpu(b3)).asnumpy()
        out3 = np.empty(want.shape, dt)
        run(m, "bcast_%s_%s" % (name, dt), a3, b3, out3, out3.size,
            bcast(a3.shape, b3.shape, want.shape))
        close(out3, want, dt)
    for name, py in (("add", lambda x, s: x + s), ("sub", lambda x, s: x - s),
                     ("mul", lambda x, s: x * s), ("div", lambda x, s: x / s),
                     ("power", lambda x, s: x ** s), ("mod", lambda x, s: x % s),
                     ("greater", lambda x, s: x > s), ("maximum", mx.nd.maximum)):
        for s in (1.5, -0.75):
            out = np.empty_like(a)
            run(m, "scalar_%s_%s" % (name, dt), a, out, a.size, s)
            close(out, py(cpu(a), s).asnumpy(), dt)
    for name, py in (("sub", lambda x, s: s - x), ("div", lambda x, s: s / x),
                     ("power", lambda x, s: s ** x), ("mod", lambda x, s: s % x)):
        out = np.empty_like(a)
        run(m, "rscalar_%s_%s" % (name, dt), a, out, a.size, 1.5)
        close(out, py(cpu(a), 1.5).asnumpy(), dt)
    xs = [rand(7, 3, dtype=dt) for _ in range(8)]
    for k in range(2, 9):
        out = np.empty_like(xs[0])
        run(m, "add_n%d_%s" % (k, dt), *xs[:k], out, out.size)
        close(out, mx.nd.add_n(*[cpu(x) for x in xs[:k]]).asnumpy(), dt)


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("clip", [-1.0, 0.3])
def test_optimizer_updates(lib, dt, clip):
    m = lib["optimizer"]
    # the ops' hyperparameters are C floats in MXNet (so in oxnet): the kernels get them so
    sp = lambda v: float(np.float32(v))  # noqa: E731
    w, g = rand(64, dtype=dt), rand(64, dtype=dt)
    mom, var = rand(64, dtype=dt), rand(64, low=0.1, high=1, dtype=dt)
    hp = dict(lr=0.1, wd=0.01, rescale_grad=0.5, clip_gradient=clip)

    out = np.empty_like(w)
    run(m, "sgd_" + dt, w, g, out, w.size, sp(0.1), sp(0.01), 0.5, sp(clip))
    want = cpu(w)
    mx.nd.sgd_update(want, cpu(g), out=want, **hp)
    close(out, want.asnumpy(), dt)

    mm = mom.copy()
    run(m, "sgd_mom_" + dt, w, g, mm, out, w.size, sp(0.1), sp(0.01), 0.5, sp(clip), sp(0.9))
    want, wm = cpu(w), cpu(mom)
    mx.nd.sgd_mom_update(want, cpu(g), wm, momentum=0.9, out=want, **hp)
    close(out, want.asnumpy(), dt)
    close(mm, wm.asnumpy(), dt)

    mm, vv = mom.copy(), var.copy()
    run(m, "adam_" + dt, w, g, mm, vv, out, w.size, sp(0.1), sp(0.01), 0.5, sp(clip), sp(0.9),
        sp(0.99), sp(1e-8))
    want, wm, wv = cpu(w), cpu(mom), cpu(var)
    mx.nd.adam_update(want, cpu(g), wm, wv, beta1=0.9, beta2=0.99, epsilon=1e-8, out=want,
                      **hp)
    close(out, want.asnumpy(), dt)
    close(mm, wm.asnumpy(), dt)
    close(vv, wv.asnumpy(), dt)


@pytest.mark.parametrize("dt", FLOATS)
def test_activation_forward_backward(lib, dt):
    m = lib["activation"]
    for act in ("relu", "sigmoid", "tanh", "softrelu", "softsign"):
        x, hg = rand(5, 9, dtype=dt), rand(5, 9, dtype=dt)
        x[0, 0] = 25  # softrelu's linear branch
        xa = cpu(x)
        xa.attach_grad()
        with mx.autograd.record():
            y = mx.nd.Activation(xa, act_type=act)
        y.backward(cpu(hg))
        out = np.empty_like(x)
        run(m, "act_%s_%s" % (act, dt), x, out, x.size)
        close(out, y.asnumpy(), dt)
        v = x if act == "softsign" else y.asnumpy()
        dx = np.empty_like(x)
        run(m, "act_bwd_%s_%s" % (act, dt), hg, v, dx, x.size)
        close(dx, xa.grad.asnumpy(), dt)


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("kw", [dict(), dict(normalization="batch", grad_scale=2.0),
                                dict(use_ignore=True, ignore_label=1.0),
                                dict(smooth_alpha=0.1), dict(multi_output=True)])
def test_softmax_output(lib, dt, kw):
    m = lib["loss"]
    multi = kw.get("multi_output", False)
    x = rand(4, 5, 3, dtype=dt) if multi else rand(6, 5, dtype=dt)
    lab = rng.randint(0, 5, size=(4, 3) if multi else (6,)).astype(dt)
    xa = cpu(x)
    xa.attach_grad()
    with mx.autograd.record():
        y = mx.nd.SoftmaxOutput(xa, cpu(lab), **kw)
    y.backward()
    outer, n, inner = (4, 5, 3) if multi else (6, 5, 1)
    p = np.empty_like(x)
    run(m, "softmax_fwd_" + dt, x, p, outer, n, inner)
    close(p, y.asnumpy(), dt)
    norm = {"batch": lab.shape[0]}.get(kw.get("normalization"), 1)
    scale = kw.get("grad_scale", 1.0) / norm / (inner if multi else 1)
    alpha = float(np.float32(kw.get("smooth_alpha", 0.0)))  # a C float in MXNet
    dx = np.empty_like(x)
    run(m, "softmax_output_bwd_" + dt, y.asnumpy(), lab, dx, outer, n, inner, float(scale),
        1.0 - alpha, alpha / (n - 1), kw.get("use_ignore", False),
        float(kw.get("ignore_label", -1.0)), False)
    close(dx, xa.grad.asnumpy(), dt)


def conv_geom(c, spatial, out, k, s, d, p):
    g = ConvGeom()
    g.c[0] = c
    lift = lambda v, fill: [fill] * (3 - len(v)) + list(v)  # noqa: E731
    for name, v, fill in (("in_", spatial, 1), ("out", out, 1), ("k", k, 1), ("s", s, 1),
                          ("d", d, 1), ("p", p, 0)):
        for i, x in enumerate(lift(v, fill)):
            getattr(g, name)[i] = x
    return g


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("spatial,k,s,d,p", [((7, 6), (3, 3), (1, 1), (1, 1), (1, 1)),
                                             ((9, 8), (3, 2), (2, 1), (1, 2), (0, 1)),
                                             ((5, 4, 6), (2, 3, 3), (1, 2, 1), (2, 1, 1),
                                              (1, 0, 2))])
def test_convolution_im2col_col2im_bias(lib, dt, spatial, k, s, d, p):
    m = lib["convolution"]
    n, c, f = 2, 3, 4
    x, w, b = rand(n, c, *spatial, dtype=dt), rand(f, c, *k, dtype=dt), rand(f, dtype=dt)
    xa, wa, ba = cpu(x), cpu(w), cpu(b)
    xa.attach_grad()
    wa.attach_grad()
    ba.attach_grad()
    with mx.autograd.record():
        y = mx.nd.Convolution(xa, wa, ba, kernel=k, stride=s, dilate=d, pad=p, num_filter=f)
    dy = rand(*y.shape, dtype=dt)
    y.backward(cpu(dy))
    out_sp = y.shape[2:]
    g = conv_geom(c, spatial, out_sp, k, s, d, p)
    klen, olen = int(np.prod(k)), int(np.prod(out_sp))
    wm = w.reshape(f, c * klen)
    # The kernels take a run of samples: columns [sample][row][position].
    col = np.empty((n, c * klen, olen), dt)
    run(m, "im2col_" + dt, x, col, g, n)
    yk = np.ascontiguousarray((wm @ col).reshape(y.shape).astype(dt))
    run(m, "conv_bias_" + dt, b, yk, yk.size, f, olen)
    close(yk, y.asnumpy(), dt)
    back = np.ascontiguousarray(wm.T @ dy.reshape(n, f, olen))
    dx = np.empty(x.shape, dt)
    run(m, "col2im_" + dt, back, dx, g, n)
    close(dx, xa.grad.asnumpy(), dt)
    # Per-sample weight gradients folded by the row sum (beta 1 adds onto what is there).
    part = np.ascontiguousarray(dy.reshape(n, f, olen) @ col.transpose(0, 2, 1))
    dw = np.full((f, c * klen), 0.5, dt)
    run(m, "conv_sum_rows_" + dt, part, dw, n, f * c * klen, 1.0)
    close(dw - 0.5, wa.grad.asnumpy().reshape(f, -1), dt)
    run(m, "conv_sum_rows_" + dt, part, dw, n, f * c * klen, 0.0)
    close(dw, wa.grad.asnumpy().reshape(f, -1), dt)
    db = np.empty_like(b)
    run_blocks(m, "conv_bias_grad_" + dt, f, dy, db, n, f, olen)
    close(db, ba.grad.asnumpy(), dt)


@pytest.mark.parametrize("dt", FLOATS)
def test_fully_connected_bias(lib, dt):
    m = lib["fully_connected"]
    b, dy = rand(6, dtype=dt), rand(5, 6, dtype=dt)
    o = np.empty((5, 6), dt)
    run(m, "fc_bias_rows_" + dt, b, o, o.size, 6)
    close(o, np.broadcast_to(b, (5, 6)), dt)
    db = np.empty_like(b)
    run(m, "fc_bias_grad_" + dt, dy, db, 6, 5)
    close(db, dy.astype("float64").sum(axis=0), dt)


class PoolGeom(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int64 * 3) for n in ("in_", "out", "k", "s", "p")]


POOL_KIND = {"max": 0, "avg": 1, "avg_nopad": 2, "sum": 3}


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("kind", sorted(POOL_KIND))
@pytest.mark.parametrize("spatial,k,s,p,conv", [((8, 8), (2, 2), (2, 2), (0, 0), "valid"),
                                                ((7, 9), (3, 3), (2, 1), (1, 1), "full"),
                                                ((5, 6, 7), (2, 3, 2), (1, 2, 2), (1, 0, 1),
                                                 "valid")])
def test_pooling(lib, dt, kind, spatial, k, s, p, conv):
    m = lib["pooling"]
    x = rand(2, 3, *spatial, dtype=dt)
    flat = x.reshape(-1)
    flat[1::5] = flat[::5][: len(flat[1::5])]  # equal neighbours: max ties go to the first
    kw = dict(kernel=k, stride=s, pad=p, pooling_convention=conv,
              pool_type="avg" if kind.startswith("avg") else kind)
    if kind == "avg_nopad":
        kw["count_include_pad"] = False
    xa = cpu(x)
    xa.attach_grad()
    with mx.autograd.record():
        y = mx.nd.Pooling(xa, **kw)
    dy = rand(*y.shape, dtype=dt)
    y.backward(cpu(dy))
    g = PoolGeom()
    lift = lambda v, fill: [fill] * (3 - len(v)) + list(v)  # noqa: E731
    for name, v, fill in (("in_", spatial, 1), ("out", y.shape[2:], 1), ("k", k, 1),
                          ("s", s, 1), ("p", p, 0)):
        for i, val in enumerate(lift(v, fill)):
            getattr(g, name)[i] = val
    lowest = {"float32": float(np.finfo(np.float32).min), "float16": -65504.0,
              "float64": float(np.finfo(np.float64).min)}[dt]
    out = np.empty(y.shape, dt)
    run(m, "pool_fwd_" + dt, x, out, 6, g, ctypes.c_int(POOL_KIND[kind]), lowest)
    close(out, y.asnumpy(), dt)
    dx = np.empty_like(x)
    run(m, "pool_bwd_" + dt, dy, x, dx, 6, g, ctypes.c_int(POOL_KIND[kind]))
    close(dx, xa.grad.asnumpy(), dt)


def run_blocks(lib, name, blocks, *args):
    for b in range(blocks):
        lib.ox_set_block(ctypes.c_uint(b))
        run(lib, name, *args)
    lib.ox_set_block(ctypes.c_uint(0))


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("fix_gamma", [True, False])
def test_batch_norm(lib, dt, train, fix_gamma):
    m = lib["batch_norm"]
    outer, c, inner = 3, 4, 10
    x = rand(outer, c, 2, 5, dtype=dt)
    gamma, beta = rand(c, low=0.5, high=1.5, dtype=dt), rand(c, dtype=dt)
    mm, mv = rand(c, dtype=dt), rand(c, low=0.5, high=1.5, dtype=dt)
    dy = rand(*x.shape, dtype=dt)
    eps, mom = 1e-3, float(np.float32(0.9))  # momentum is a C float in MXNet, eps a double
    args = [cpu(v) for v in (x, gamma, beta, mm, mv)]
    args[0].attach_grad()
    args[1].attach_grad()
    args[2].attach_grad()
    with mx.autograd.record(train_mode=train):
        y = mx.nd.BatchNorm(*args, eps=eps, momentum=mom, fix_gamma=fix_gamma)
    y.backward(cpu(dy), train_mode=train)

    g = gamma.copy()
    mean, istd, out = np.empty(c, dt), np.empty(c, dt), np.empty_like(x)
    if train:
        run_blocks(m, "bn_stats_" + dt, c, x, mean, istd, g, outer, c, inner, eps, fix_gamma)
        xd = x.astype("float64").transpose(1, 0, 2, 3).reshape(c, -1)
        close(mean, xd.mean(axis=1), dt)
        close(istd, 1 / np.sqrt(xd.var(axis=1) + eps), dt)
    else:
        run(m, "bn_moving_" + dt, mm, mv, mean, istd, g, c, eps, fix_gamma)
    if fix_gamma:
        close(g, np.ones(c), dt)
    run(m, "bn_apply_" + dt, x, out, g, beta, mean, istd, x.size, c, inner, fix_gamma)
    close(out, y.asnumpy(), dt)

    dgamma, dbeta, s2 = np.empty(c, dt), np.empty(c, dt), np.empty(c, dt)
    mm2, mv2, dx = mm.copy(), mv.copy(), np.empty_like(x)
    run_blocks(m, "bn_grad_sums_" + dt, c, dy, x, mean, istd, dgamma, dbeta, s2, mm2, mv2,
               outer, c, inner, eps, mom, fix_gamma, train)
    run(m, "bn_grad_dx_" + dt, dy, x, g, mean, istd, dbeta, s2, dx, x.size, c, inner,
        float(outer * inner), fix_gamma, train)
    close(dx, args[0].grad.asnumpy(), dt)
    close(dgamma, args[1].grad.asnumpy(), dt)
    close(dbeta, args[2].grad.asnumpy(), dt)
    if train:
        close(mm2, args[3].asnumpy(), dt)
        close(mv2, args[4].asnumpy(), dt)


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("op,kind", [("sum", 0), ("mean", 1), ("max", 2), ("min", 3)])
@pytest.mark.parametrize("shape,axis", [((4, 5, 6), 1), ((4, 5, 6), (1, 2)), ((300,), None),
                                        ((3, 70), 1), ((2, 3), 0)])
def test_reductions_and_unreduce(lib, dt, op, kind, shape, axis):
    m = lib["reduce"]
    x = rand(*shape, dtype=dt)
    xa = cpu(x)
    xa.attach_grad()
    with mx.autograd.record():
        y = getattr(mx.nd, op)(xa, axis=axis)
    y.backward()
    axes = tuple(range(len(shape))) if axis is None else \
        ((axis,) if isinstance(axis, int) else axis)
    r = int(np.prod([shape[a] for a in axes]))
    outer = int(np.prod(shape[:min(axes)]))
    inner = int(np.prod(shape[max(axes) + 1:]))
    for kernel in ("reduce_rows_", "reduce_blocks_"):
        out = np.empty(outer * inner, dt)
        if kernel == "reduce_rows_":
            run(m, kernel + dt, x, out, outer, r, inner, ctypes.c_int(kind))
        else:
            run_blocks(m, kernel + dt, outer * inner, x, out, outer, r, inner, ctypes.c_int(kind))
        close(out, y.asnumpy().reshape(-1), dt)
    if op in ("sum", "mean"):
        g = np.ones(outer * inner, dt)
        dx = np.empty_like(x)
        run(m, "unreduce_" + dt, g, dx, x.size, r, inner, 1.0 / r if op == "mean" else 1.0)
        close(dx, xa.grad.asnumpy(), dt)


class Strided(ctypes.Structure):
    _fields_ = [("nd", ctypes.c_int64), ("shape", ctypes.c_int64 * 6),
                ("src", ctypes.c_int64 * 6), ("dst", ctypes.c_int64 * 6)]


@pytest.mark.parametrize("dt,kernel", [("float32", "strided_copy_float32"),
                                       ("int64", "strided_copy_float64"),
                                       ("float16", "strided_copy_float16"),
                                       ("uint8", "strided_copy_1")])
def test_strided_copy(lib, dt, kernel):
    """The layout ops' GPU kernel moves raw elements of any dtype between two walks: checked
    on a transpose, a stepped and flipped slice, a broadcast, and a write into a slab."""
    m = lib["strided"]
    x = (rng.uniform(-100, 100, size=(4, 5, 6)) * 7).astype(dt)
    es = x.itemsize

    def walk(shape, src_strides, src_off, dst, dst_strides, dst_off):
        g = Strided()
        g.nd = len(shape)
        for k, (n, a, b) in enumerate(zip(shape, src_strides, dst_strides)):
            g.shape[k], g.src[k], g.dst[k] = n, a, b
        run(m, kernel, x, dst, int(np.prod(shape)), g,
            ctypes.c_int64(src_off), ctypes.c_int64(dst_off))

    el = [s // es for s in x.strides]
    t = np.empty((6, 4, 5), dt)
    walk((6, 4, 5), (el[2], el[0], el[1]), 0, t, (20, 5, 1), 0)
    np.testing.assert_array_equal(t, x.transpose(2, 0, 1))
    v = x[1:4, ::-2, 5:0:-2]
    s = np.empty(v.shape, dt)
    off = 1 * el[0] + 4 * el[1] + 5 * el[2]
    walk(v.shape, (el[0], -2 * el[1], -2 * el[2]), off, s, (9, 3, 1), 0)
    np.testing.assert_array_equal(s, v)
    b = np.empty((3, 4, 5, 6), dt)
    walk((3, 4, 5, 6), (0, el[0], el[1], el[2]), 0, b, (120, 30, 6, 1), 0)
    np.testing.assert_array_equal(b, np.broadcast_to(x, (3, 4, 5, 6)))
    slab = np.zeros((4, 9, 6), dt)
    walk(x.shape, el, 0, slab, (54, 6, 1), 2 * 6)
    np.testing.assert_array_equal(slab[:, 2:7], x)
    assert not slab[:, :2].any() and not slab[:, 7:].any()


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("log", [False, True])
def test_softmax_axis(lib, dt, log):
    """softmax/log_softmax along a middle and the last axis, with a temperature, and their
    gradients, against the CPU operators."""
    m = lib["softmax"]
    op = mx.nd.log_softmax if log else mx.nd.softmax
    for shape, axis in (((3, 5, 4), 1), ((6, 7), -1)):
        x = rand(*shape, low=-3, high=3, dtype=dt)
        xa = cpu(x)
        xa.attach_grad()
        with mx.autograd.record():
            y = op(xa, axis=axis, temperature=1.5)
        dy = rand(*shape, dtype=dt)
        y.backward(cpu(dy))
        ax = axis % len(shape)
        outer, n = int(np.prod(shape[:ax])), shape[ax]
        inner = int(np.prod(shape[ax + 1:]))
        out = np.empty_like(x)
        run(m, "softmax_axis_" + dt, x, out, outer, n, inner, 1 / 1.5, ctypes.c_int(log))
        close(out, y.asnumpy(), dt)
        dx = np.empty_like(x)
        run(m, "softmax_axis_bwd_" + dt, dy, y.asnumpy(), dx, outer, n, inner, 1 / 1.5,
            ctypes.c_int(log))
        close(dx, xa.grad.asnumpy(), dt)


def _xoshiro_uniforms(seed, stream, count):
    """xoshiro256++ seeded by splitmix64 as oxnet's CPU generator (`Xoshiro::new`)."""
    M = (1 << 64) - 1
    x = (seed ^ (stream * 0xD1B54A32D192ED03)) & M
    s = []
    for _ in range(4):
        x = (x + 0x9E3779B97F4A7C15) & M
        z = x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
        s.append(z ^ (z >> 31))
    rotl = lambda v, k: ((v << k) | (v >> (64 - k))) & M  # noqa: E731
    out = []
    for _ in range(count):
        r = (rotl((s[0] + s[3]) & M, 23) + s[0]) & M
        t = (s[1] << 17) & M
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        out.append((r >> 11) * (1.0 / (1 << 53)))
    return out


@pytest.mark.parametrize("dt", FLOATS)
def test_dropout_mask_draws_the_cpu_stream(lib, dt):
    """The GPU mask is the CPU's: per block of 4096 elements, the generator of (seed, block)."""
    n, seed, keep = 4096 + 1000, 0x1234_5678_9ABC_DEF0, 0.7
    mask = np.empty(n, dt)
    run(lib["dropout"], "dropout_mask_" + dt, mask, n, seed, keep, 1 / keep)
    u = _xoshiro_uniforms(seed, 0, 4096) + _xoshiro_uniforms(seed, 1, 1000)
    want = np.where(np.array(u) < keep, 1 / keep, 0).astype(dt)
    np.testing.assert_array_equal(mask, want)
    assert abs((mask != 0).mean() - keep) < 0.03
