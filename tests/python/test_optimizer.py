"""Optimizers, fused update ops and lr schedulers against numpy reference implementations."""
import io
import json
import math
import os
import pickle

import numpy as np
import pytest

import oxnet as mx
from conftest import DATA

SHAPE = (4, 5)
STEPS = 4


def _clip(g, c):
    return g if c is None or c < 0 else np.clip(g, -c, c)


# ---- numpy references: (state init, step) per optimizer; step(w, g, state, t, o) -> (w, state)

def ref_sgd(o):
    def step(w, g, s, t):
        g = _clip(o["rescale_grad"] * g, o["clip_gradient"])
        if o["momentum"] > 0:
            s = o["momentum"] * s - o["lr"] * (g + o["wd"] * w)
            return w + s, s
        return w - o["lr"] * (g + o["wd"] * w), s
    return 0.0, step


def ref_nag(o):
    # MXNet's state is the lr-scaled momentum; its weight-decay term uses the new weight.
    def step(w, g, s, t):
        lr, mu, wd = o["lr"], o["momentum"], o["wd"]
        cg = _clip(o["rescale_grad"] * g, o["clip_gradient"])
        m = mu * s
        w = w + mu * m - (mu + 1) * lr * (cg + wd * w)
        return w, m - lr * (cg + wd * w)
    return 0.0, step


def ref_adam(o):
    b1, b2, eps = 0.9, 0.999, 1e-8

    def step(w, g, s, t):
        m, v = s
        lr = o["lr"] * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        g = _clip(o["rescale_grad"] * g + o["wd"] * w, o["clip_gradient"])
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        return w - lr * m / (np.sqrt(v) + eps), (m, v)
    return (0.0, 0.0), step


def ref_adamw(o):
    b1, b2, eps = 0.9, 0.999, 1e-8

    def step(w, g, s, t):
        m, v = s
        lr_t = o["lr"] * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        g = _clip(o["rescale_grad"] * g, o["clip_gradient"])
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        return w * (1 - o["lr"] * o["wd"]) - lr_t * m / (np.sqrt(v) + eps), (m, v)
    return (0.0, 0.0), step


def ref_adagrad(o):
    def step(w, g, h, t):
        g = _clip(o["rescale_grad"] * g, o["clip_gradient"])
        h = h + g * g
        return w - o["lr"] * (g / np.sqrt(h + 1e-7) + o["wd"] * w), h
    return 0.0, step


def ref_rmsprop(o):
    g1, g2, eps, cw = 0.9, 0.9, 1e-8, o.get("clip_weights")

    def step(w, g, s, t):
        g = _clip(o["rescale_grad"] * g + o["wd"] * w, o["clip_gradient"])
        if o.get("centered"):
            n, gs, d = s
            n = (1 - g1) * g * g + g1 * n
            gs = (1 - g1) * g + g1 * gs
            d = g2 * d - o["lr"] * g / np.sqrt(n - gs * gs + eps)
            return _clip(w + d, cw), (n, gs, d)
        n = (1 - g1) * g * g + g1 * s
        return _clip(w - o["lr"] * g / np.sqrt(n + eps), cw), n
    return ((0.0, 0.0, 0.0) if o.get("centered") else 0.0), step


def ref_adadelta(o):
    rho, eps = 0.9, 1e-5

    def step(w, g, s, t):
        ag, ad = s
        g = _clip(o["rescale_grad"] * g, o["clip_gradient"])
        ag = rho * ag + (1 - rho) * g * g
        d = np.sqrt(ad + eps) / np.sqrt(ag + eps) * g
        ad = rho * ad + (1 - rho) * d * d
        return w - (d + o["wd"] * w), (ag, ad)
    return (0.0, 0.0), step


def ref_signum(o):
    mom, wd_lh = o["momentum"], o.get("wd_lh", 0.0)

    def step(w, g, s, t):
        g = _clip(o["rescale_grad"] * g, o["clip_gradient"])
        if mom > 0:
            s = mom * s - (1 - mom) * (o["wd"] * w + g)
            return (1 - o["lr"] * wd_lh) * w + o["lr"] * np.sign(s), s
        return (1 - o["lr"] * (o["wd"] + wd_lh)) * w - o["lr"] * np.sign(g), s
    return 0.0, step


def ref_ftrl(o):
    l1, beta = 0.01, 1.0

    def step(w, g, s, t):
        z, n = s
        lr = o["lr"]
        g = _clip(o["rescale_grad"] * g, o["clip_gradient"])
        z = z + g - (np.sqrt(n + g * g) - np.sqrt(n)) * w / lr
        n = n + g * g
        w = (np.sign(z) * l1 - z) / ((beta + np.sqrt(n)) / lr + o["wd"]) * (np.abs(z) > l1)
        return w, (z, n)
    return (0.0, 0.0), step


def ref_lamb(o):
    b1, b2, eps = 0.9, 0.999, 1e-6

    def step(w, g, s, t):
        m, v = s
        g = _clip(o["rescale_grad"] * g, o["clip_gradient"])
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        u = (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps) + o["wd"] * w
        r1, r2 = np.linalg.norm(w), np.linalg.norm(u)
        ratio = r1 / r2 if r1 > 0 and r2 > 0 else 1.0
        return w - o["lr"] * ratio * u, (m, v)
    return (0.0, 0.0), step


def ref_adamax(o):
    b1, b2 = 0.9, 0.999

    def step(w, g, s, t):
        m, u = s
        g = _clip(o["rescale_grad"] * g + o["wd"] * w, o["clip_gradient"])
        m = b1 * m + (1 - b1) * g
        u = np.maximum(b2 * u, np.abs(g))
        return w - o["lr"] / (1 - b1 ** t) * m / u, (m, u)
    return (0.0, 0.0), step


def ref_nadam(o):
    b1, b2, eps, decay = 0.9, 0.999, 1e-8, 0.004

    def step(w, g, s, t):
        m, v, sched = s
        g = _clip(o["rescale_grad"] * g + o["wd"] * w, o["clip_gradient"])
        mom_t = b1 * (1 - 0.5 * 0.96 ** (t * decay))
        mom_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * decay))
        sched = sched * mom_t
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_bar = (1 - mom_t) * g / (1 - sched) + mom_next * m / (1 - sched * mom_next)
        w = w - o["lr"] * m_bar / (np.sqrt(v / (1 - b2 ** t)) + eps)
        return w, (m, v, sched)
    return (0.0, 0.0, 1.0), step


def ref_dcasgd(o):
    def step(w, g, s, t):
        mom, prev = s
        g = _clip(o["rescale_grad"] * g, o["clip_gradient"])
        d = -o["lr"] * (g + o["wd"] * w + 0.04 * g * g * (w - (w if prev is None else prev)))
        mom = o["momentum"] * mom + d
        return w + mom, (mom, w)
    return (0.0, None), step


def ref_ftml(o):
    b1, b2, eps = 0.6, 0.999, 1e-8

    def step(w, g, s, t):
        d, v, z = s
        g = _clip(o["rescale_grad"] * g + o["wd"] * w, o["clip_gradient"])
        v = b2 * v + (1 - b2) * g * g
        d_t = (1 - b1 ** t) / o["lr"] * (np.sqrt(v / (1 - b2 ** t)) + eps)
        z = b1 * z + (1 - b1) * g - (d_t - b1 * d) * w
        return -z / d_t, (d_t, v, z)
    return (0.0, 0.0, 0.0), step


CASES = [
    ("sgd", ref_sgd, dict(momentum=0.0)),
    ("sgd", ref_sgd, dict(momentum=0.9)),
    ("nag", ref_nag, dict(momentum=0.9)),
    ("adam", ref_adam, {}),
    ("adamw", ref_adamw, {}),
    ("adagrad", ref_adagrad, {}),
    ("rmsprop", ref_rmsprop, {}),
    ("rmsprop", ref_rmsprop, dict(centered=True, clip_weights=0.8)),
    ("adadelta", ref_adadelta, {}),
    ("signum", ref_signum, dict(momentum=0.9, wd_lh=0.01)),
    ("signum", ref_signum, dict(momentum=0.0)),
    ("signum", ref_signum, dict(momentum=0.0, wd_lh=0.02)),
    ("ftrl", ref_ftrl, {}),
    ("lamb", ref_lamb, {}),
    ("adamax", ref_adamax, {}),
    ("nadam", ref_nadam, {}),
    ("dcasgd", ref_dcasgd, dict(momentum=0.0)),
    ("dcasgd", ref_dcasgd, dict(momentum=0.9)),
    ("ftml", ref_ftml, {}),
]
VARIANTS = [
    dict(wd=0.0, rescale_grad=1.0, clip_gradient=None),
    dict(wd=0.05, rescale_grad=0.5, clip_gradient=0.4),
]


@pytest.mark.parametrize("variant", VARIANTS, ids=["plain", "wd_rescale_clip"])
@pytest.mark.parametrize("name,ref,extra", CASES,
                         ids=["%s-%d" % (c[0], i) for i, c in enumerate(CASES)])
def test_optimizer_matches_numpy(name, ref, extra, variant):
    lr = 1.0 if name == "adadelta" else 0.05
    kw = dict(variant, learning_rate=lr, **extra)
    opt = mx.optimizer.create(name, **kw)
    o = dict(variant, lr=lr, momentum=0.0)
    o.update(extra)
    state, step = ref(o)
    w = np.random.uniform(-1, 1, SHAPE).astype(np.float32)
    weight = mx.nd.array(w)
    st = opt.create_state(0, weight)
    for t in range(1, STEPS + 1):
        g = np.random.uniform(-1, 1, SHAPE).astype(np.float32)
        grad = mx.nd.array(g)
        opt.update(0, weight, grad, st)
        w, state = step(w.astype(np.float64), g.astype(np.float64), state, t)
        np.testing.assert_allclose(grad.asnumpy(), g)  # the caller's grad is left alone
    np.testing.assert_allclose(weight.asnumpy(), w, rtol=1e-4, atol=1e-5)
    assert opt.num_update == STEPS


def test_sgld_adds_gaussian_noise_of_variance_lr():
    mx.random.seed(7)
    lr, wd = 0.04, 0.1
    opt = mx.optimizer.create("sgld", learning_rate=lr, wd=wd)
    w = np.random.uniform(-1, 1, (200, 500)).astype(np.float32)
    g = np.random.uniform(-1, 1, w.shape).astype(np.float32)
    weight = mx.nd.array(w)
    opt.update(0, weight, mx.nd.array(g), opt.create_state(0, weight))
    noise = weight.asnumpy() - (w - lr / 2 * (g + wd * w))
    assert abs(noise.mean()) < 3 * math.sqrt(lr / noise.size)
    np.testing.assert_allclose(noise.std(), math.sqrt(lr), rtol=0.02)


def test_sgd_multi_precision_float16():
    opt = mx.optimizer.SGD(learning_rate=0.1, momentum=0.9, wd=0.01, multi_precision=True)
    w = np.random.uniform(-1, 1, SHAPE).astype(np.float16)
    weight = mx.nd.array(w, dtype=np.float16)
    state = opt.create_state_multi_precision(0, weight)
    mom, w32 = state
    assert w32.dtype == np.float32 and mom.dtype == np.float32
    ref, m = w.astype(np.float32), np.zeros(SHAPE, np.float32)
    for _ in range(STEPS):
        g = np.random.uniform(-1, 1, SHAPE).astype(np.float16)
        opt.update_multi_precision(0, weight, mx.nd.array(g, dtype=np.float16), state)
        m = 0.9 * m - 0.1 * (g.astype(np.float32) + 0.01 * ref)
        ref = ref + m
    assert weight.dtype == np.float16
    np.testing.assert_allclose(w32.asnumpy(), ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(weight.asnumpy(), ref.astype(np.float16))


def test_sgd_multi_precision_no_momentum_and_generic_path():
    w = np.random.uniform(-1, 1, SHAPE).astype(np.float16)
    g = np.random.uniform(-1, 1, SHAPE).astype(np.float16)
    for name in ("sgd", "adam"):
        opt = mx.optimizer.create(name, learning_rate=0.1, multi_precision=True)
        weight = mx.nd.array(w, dtype=np.float16)
        state = opt.create_state_multi_precision(0, weight)
        opt.update_multi_precision(0, weight, mx.nd.array(g, dtype=np.float16), state)
        # The reference: the same optimizer run in float32, rounded to float16.
        opt32 = mx.optimizer.create(name, learning_rate=0.1)
        w32 = mx.nd.array(w.astype(np.float32))
        opt32.update(0, w32, mx.nd.array(g.astype(np.float32)), opt32.create_state(0, w32))
        np.testing.assert_allclose(weight.asnumpy(), w32.asnumpy().astype(np.float16))


def test_fused_ops_update_weight_and_state_in_place():
    w = np.random.randn(*SHAPE).astype(np.float32)
    g = np.random.randn(*SHAPE).astype(np.float32)
    weight, grad, mom = mx.nd.array(w), mx.nd.array(g), mx.nd.zeros(SHAPE)
    for _ in range(2):
        r = mx.nd.sgd_mom_update(weight, grad, mom, lr=0.1, momentum=0.9, wd=0.0, out=weight)
        assert r is weight
    m1 = -0.1 * g
    m2 = 0.9 * m1 - 0.1 * g
    np.testing.assert_allclose(mom.asnumpy(), m2, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(weight.asnumpy(), w + m1 + m2, rtol=1e-6, atol=1e-6)

    # Without out: a new weight; the state is still updated in place.
    weight, mean, var = mx.nd.array(w), mx.nd.zeros(SHAPE), mx.nd.zeros(SHAPE)
    new = mx.nd.adam_update(weight, grad, mean, var, lr=0.01)
    np.testing.assert_allclose(weight.asnumpy(), w)
    np.testing.assert_allclose(mean.asnumpy(), 0.1 * g, rtol=1e-6)
    np.testing.assert_allclose(var.asnumpy(), 0.001 * g * g, rtol=1e-4)
    np.testing.assert_allclose(new.asnumpy(), w - 0.01 * (0.1 * g) / (np.sqrt(0.001 * g * g) + 1e-8),
                               rtol=1e-5)


def test_fused_ops_read_state_after_pending_writes():
    # A state read right after the update must see it (the engine orders the write).
    mom = mx.nd.zeros((1000,))
    weight, grad = mx.nd.ones((1000,)), mx.nd.ones((1000,))
    for _ in range(10):
        mx.nd.sgd_mom_update(weight, grad, mom, lr=1.0, momentum=0.5, out=weight)
        mom_copy = mom.copy()
    expect = 0.0
    for _ in range(10):
        expect = 0.5 * expect - 1.0
    np.testing.assert_allclose(mom_copy.asnumpy(), expect)


@pytest.mark.parametrize("op,nstate,kw", [
    ("sgd_update", 0, dict(lr=0.1, wd=0.01, rescale_grad=0.5, clip_gradient=0.3)),
    ("signsgd_update", 0, dict(lr=0.1, wd=0.01)),
    ("nag_mom_update", 1, dict(lr=0.1, momentum=0.9, wd=0.01)),
    ("rmsprop_update", 1, dict(lr=0.01, gamma1=0.9, clip_weights=0.5)),
    ("rmspropalex_update", 3, dict(lr=0.01)),
    ("ftrl_update", 2, dict(lr=0.1, lamda1=0.05, beta=1.5, wd=0.1)),
    ("signum_update", 1, dict(lr=0.01, momentum=0.8, wd_lh=0.05)),
])
def test_fused_ops_float64_match_float32(op, nstate, kw):
    w = np.random.randn(*SHAPE)
    g = np.random.randn(*SHAPE)
    st = [np.abs(np.random.randn(*SHAPE)) * 0.1 for _ in range(nstate)]
    res = []
    for dt in (np.float32, np.float64):
        sts = [mx.nd.array(s, dtype=dt) for s in st]
        weight = mx.nd.array(w, dtype=dt)
        getattr(mx.nd, op)(weight, mx.nd.array(g, dtype=dt), *sts, out=weight, **kw)
        assert weight.dtype == dt
        res.append([weight.asnumpy()] + [s.asnumpy() for s in sts])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_signsgd_update_ignores_rescale_and_clip_as_mxnet():
    # MXNet 1.9.1 returned these: its kernel steps by sign(grad) whatever rescale_grad and
    # clip_gradient say (its documented formula has neither).
    w, g = mx.nd.array([1.0, 2.0, -1.0]), mx.nd.array([0.5, -3.0, 0.0])
    for kw in (dict(clip_gradient=0.0), dict(rescale_grad=0.0), dict(rescale_grad=-1.0)):
        np.testing.assert_array_equal(mx.nd.signsgd_update(w, g, lr=2.0, **kw).asnumpy(),
                                      [-1.0, 4.0, -1.0])
    np.testing.assert_allclose(mx.nd.signsgd_update(w, g, lr=2.0, wd=0.1).asnumpy(),
                               [-1.2, 3.6, -0.8], rtol=1e-6)


def test_mp_ops_directly():
    w = np.random.randn(*SHAPE).astype(np.float32)
    g = np.random.randn(*SHAPE).astype(np.float16)
    weight, w32 = mx.nd.array(w.astype(np.float16), dtype=np.float16), mx.nd.array(w)
    mom = mx.nd.zeros(SHAPE)
    mx.nd.mp_sgd_mom_update(weight, mx.nd.array(g, dtype=np.float16), mom, w32, lr=0.1,
                            momentum=0.9, out=weight)
    expect = w - 0.1 * g.astype(np.float32)
    np.testing.assert_allclose(w32.asnumpy(), expect, rtol=1e-6)
    np.testing.assert_allclose(mom.asnumpy(), -0.1 * g.astype(np.float32), rtol=1e-6)
    np.testing.assert_allclose(weight.asnumpy(), expect.astype(np.float16))


def test_update_op_errors():
    w = mx.nd.ones((3,))
    with pytest.raises(mx.MXNetError, match="mom has shape"):
        mx.nd.sgd_mom_update(w, w, mx.nd.ones((2,)), lr=0.1)
    with pytest.raises(mx.MXNetError, match="Required parameter lr"):
        mx.nd.sgd_update(w, w)
    with pytest.raises(mx.MXNetError, match="weight32 has dtype"):
        w16 = mx.nd.ones((3,), dtype=np.float16)
        mx.nd.mp_sgd_update(w16, w16, w16, lr=0.1)
    with pytest.raises(Exception, match="adam_update takes 4 inputs"):
        mx.nd.adam_update(w, w, w, lr=0.1)


def test_update_op_scalar_input_dtypes_follow_mxnet():
    # MXNet 1.9.1: LAMB's r1/r2 take the weight's dtype; AdamW's rescale_grad is float32 for
    # every weight dtype ("Type inconsistent, Provided = float64, inferred type = float32").
    def arr(dt, n=3):
        return mx.nd.ones((n,), dtype=dt)
    with pytest.raises(mx.MXNetError, match="r1 must be a one-element float32 array"):
        mx.nd.lamb_update_phase2(arr("float32"), arr("float32"), arr("float64", 1),
                                 arr("float32", 1), lr=0.1)
    assert mx.nd.lamb_update_phase2(*[arr("float64")] * 2, *[arr("float64", 1)] * 2,
                                    lr=0.1).dtype == np.float64
    adamw = mx.nd.contrib.adamw_update
    assert adamw(*[arr("float64")] * 4, arr("float32", 1), lr=0.1, eta=1.0).dtype == np.float64
    assert adamw(*[arr("float16")] * 4, 0.5, lr=0.1, eta=1.0).dtype == np.float16
    with pytest.raises(mx.MXNetError, match="rescale_grad must be a one-element float32"):
        adamw(*[arr("float64")] * 4, arr("float64", 1), lr=0.1, eta=1.0)
    # The graph infers the same dtypes.
    v = [mx.sym.var(n) for n in ("w", "g", "m", "s", "r")]
    # (mean and var, which the update writes, are auxiliary states.)
    args, outs, aux = mx.sym._internal._adamw_update(*v, lr=0.1, eta=1.0).infer_type(w="float16")
    assert args == [np.float16, np.float16, np.float32] and outs == [np.float16]
    assert aux == [np.float16] * 2
    lamb = mx.sym.lamb_update_phase2(*v[:4], lr=0.1)
    assert lamb.infer_type(w="float64")[0] == [np.float64] * 4
    with pytest.raises(mx.MXNetError, match="expected float64, got float32"):
        lamb.infer_type(w="float64", m="float32")


def test_lr_wd_mult_and_idx2name():
    opt = mx.optimizer.SGD(learning_rate=0.1, wd=0.5,
                           param_idx2name={0: "fc_weight", 1: "fc_bias", 2: "bn_gamma"})
    assert opt.wd_mult == {"fc_bias": 0.0}
    assert opt._get_wd(0) == 0.5 and opt._get_wd(1) == 0.0 and opt._get_wd(2) == 0.5
    opt.set_lr_mult({"fc_weight": 2.0, 2: 0.5})
    assert opt._get_lr(0) == pytest.approx(0.2)
    assert opt._get_lr(2) == pytest.approx(0.05)
    assert opt._get_lr(1) == pytest.approx(0.1)
    opt.set_wd_mult({"fc_bias": 3.0})
    assert opt._get_wd(1) == pytest.approx(1.5)

    class Sym(object):
        def attr_dict(self):
            return {"a": {"__lr_mult__": "3", "__wd_mult__": "0.25"}}

        def list_arguments(self):
            return ["a", "b"]
    opt = mx.optimizer.SGD(learning_rate=0.1, wd=1.0, sym=Sym(), param_idx2name={0: "a", 1: "b"})
    assert opt._get_lr(0) == pytest.approx(0.3) and opt._get_wd(0) == pytest.approx(0.25)
    assert opt._get_wd(1) == 0.0  # "b" is not a weight


def test_learning_rate_and_scheduler_interplay():
    opt = mx.optimizer.SGD(learning_rate=0.5)
    assert opt.learning_rate == 0.5
    opt.set_learning_rate(0.25)
    assert opt.learning_rate == 0.25
    sched = mx.lr_scheduler.FactorScheduler(step=2, factor=0.5, base_lr=1.0)
    opt = mx.optimizer.SGD(lr_scheduler=sched)
    with pytest.raises(UserWarning):
        opt.set_learning_rate(0.1)
    weight, grad = mx.nd.zeros((2,)), mx.nd.ones((2,))
    lrs = []
    for _ in range(5):
        lrs.append(opt._get_lr(0) if opt.num_update else None)
        opt.update(0, weight, grad, None)
    # updates 1..5 used lr 1, 1, 0.5, 0.5, 0.25
    np.testing.assert_allclose(weight.asnumpy(), -(1 + 1 + 0.5 + 0.5 + 0.25))
    with pytest.warns(UserWarning):
        opt = mx.optimizer.SGD(learning_rate=0.3,
                               lr_scheduler=mx.lr_scheduler.FactorScheduler(step=2, base_lr=1.0))
    assert opt.lr_scheduler.base_lr == 0.3


def test_registry_create_register():
    assert isinstance(mx.optimizer.create("SGD"), mx.optimizer.SGD)
    assert isinstance(mx.opt.create("adam", learning_rate=0.1), mx.optimizer.Adam)
    assert isinstance(mx.optimizer.Optimizer.create_optimizer("ftrl"), mx.optimizer.FTRL)
    for n in ("nag", "adamw", "adagrad", "rmsprop", "adadelta", "signum", "lamb"):
        assert isinstance(mx.optimizer.create(n), mx.optimizer.Optimizer)
    with pytest.raises(ValueError, match="Cannot find optimizer nope"):
        mx.optimizer.create("nope")

    @mx.optimizer.register
    class MyOpt(mx.optimizer.Optimizer):
        def update(self, index, weight, grad, state):
            weight[:] = weight - grad
    o = mx.optimizer.create("myopt")
    w = mx.nd.ones((2,))
    mx.optimizer.get_updater(o)(0, mx.nd.ones((2,)), w)
    np.testing.assert_allclose(w.asnumpy(), 0)


def test_states_files_pickle_arrays_as_mxnet_does(tmp_path):
    # MXNet 1.9.1 pickles an NDArray as mxnet.ndarray.ndarray.NDArray(None) with state
    # {'handle': bytearray(one record of the .params format)}; so does a .states file of oxnet.
    upd = mx.optimizer.get_updater(mx.optimizer.Adam(learning_rate=0.01))
    w = mx.nd.array(np.random.randn(*SHAPE))
    upd(0, mx.nd.array(np.random.randn(*SHAPE)), w)
    blob = upd._states_file_bytes()

    class Seen(object):
        def __init__(self, *args):
            self.args = args

        def __setstate__(self, state):
            self.state = state

    class Unpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) == ("mxnet.ndarray.ndarray", "NDArray"):
                return Seen
            return super().find_class(module, name)

    mean, var = Unpickler(io.BytesIO(blob)).load()[0]
    assert mean.args == (None,) and isinstance(mean.state["handle"], bytearray)
    mx.nd.save(str(tmp_path / "m.params"), [upd.states[0][0]])
    raw = (tmp_path / "m.params").read_bytes()
    assert bytes(mean.state["handle"]) == raw[24:-8]  # list header, then no names
    upd2 = mx.optimizer.get_updater(mx.optimizer.Adam(learning_rate=0.01))
    upd2.set_states(blob)
    np.testing.assert_array_equal(upd2.states[0][1].asnumpy(), upd.states[0][1].asnumpy())
    # With the optimizer: its class and its scheduler's under MXNet's paths (MXNet 1.9.1 loads
    # them and takes the same next step; checked by hand against it).
    sched = mx.lr_scheduler.FactorScheduler(step=1, factor=0.5, base_lr=0.1)
    upd = mx.optimizer.get_updater(mx.optimizer.SGD(momentum=0.9, lr_scheduler=sched))
    upd(0, mx.nd.ones(SHAPE), w)
    seen = []

    class Names(Unpickler):
        def find_class(self, module, name):
            seen.append((module, name))
            if module.startswith("mxnet.") and name != "NDArray":
                return Seen
            return super().find_class(module, name)

    Names(io.BytesIO(upd._states_file_bytes(dump_optimizer=True))).load()
    assert ("mxnet.optimizer.optimizer", "SGD") in seen
    assert ("mxnet.lr_scheduler", "FactorScheduler") in seen
    assert not [m for m, _ in seen if m.startswith("oxnet")]


@pytest.mark.parametrize("name", ["adam", "sgd", "rmsprop", "ftml"])
def test_mxnet_states_with_the_optimizer_resume_as_mxnet(name):
    # get_states(dump_optimizer=True) of MXNet 1.9.1 (optimizer_states_mxnet_ref.py): the
    # optimizer, its scheduler and its states load, and the next step is MXNet's.
    gold = os.path.join(DATA, "golden", "optimizer")
    with open(os.path.join(gold, "expected.json")) as f:
        want = json.load(f)[name]
    upd = mx.optimizer.get_updater(mx.optimizer.create("sgd"))
    with open(os.path.join(gold, name + ".states"), "rb") as f:
        upd.set_states(f.read())
    assert type(upd.optimizer) is type(mx.optimizer.create(name))
    assert upd.optimizer.num_update == 1 and upd.optimizer.rescale_grad == 0.5
    w = mx.nd.array(want["after_first"])
    upd(0, mx.nd.array([0.4, -0.1, 0.2]), w)
    np.testing.assert_allclose(w.asnumpy(), want["after_second"], rtol=1e-5, atol=1e-6)


def test_updater_states_round_trip():
    opt = mx.optimizer.Adam(learning_rate=0.01)
    upd = mx.optimizer.get_updater(opt)
    w = mx.nd.array(np.random.randn(*SHAPE))
    g = mx.nd.array(np.random.randn(*SHAPE))
    upd(0, g, w)
    upd("k", g, mx.nd.ones(SHAPE))
    blob = upd.get_states()
    states = pickle.loads(blob)
    assert set(states) == {0, "k"}
    np.testing.assert_allclose(states[0][0].asnumpy(), upd.states[0][0].asnumpy())

    # Continue the original and a restored copy for one step each: they stay identical.
    upd2 = mx.optimizer.get_updater(mx.optimizer.Adam(learning_rate=0.01))
    upd2.set_states(upd.get_states(dump_optimizer=True))
    assert isinstance(upd2.optimizer, mx.optimizer.Adam) and upd2.optimizer.num_update == 1
    w2 = w.copy()
    upd(0, g, w)
    upd2(0, g, w2)
    np.testing.assert_allclose(w2.asnumpy(), w.asnumpy())
    np.testing.assert_allclose(upd2.states[0][1].asnumpy(), upd.states[0][1].asnumpy())

    upd3 = mx.optimizer.get_updater(mx.optimizer.Adam())
    upd3.set_states(blob)
    assert upd3.states_synced == {0: False, "k": False}
    upd3(0, g, w.copy())
    assert upd3.states_synced[0]


def test_optimizer_pickles_without_param_dict():
    opt = mx.optimizer.SGD(learning_rate=0.2, momentum=0.9, param_dict={0: object()})
    opt2 = pickle.loads(pickle.dumps(opt))
    assert opt2.param_dict == {} and opt2.lr == 0.2 and opt2.momentum == 0.9


# ---- lr schedulers against hand-computed values

def test_factor_scheduler():
    s = mx.lr_scheduler.FactorScheduler(step=3, factor=0.5, base_lr=1.0, stop_factor_lr=0.2)
    got = [s(n) for n in range(1, 12)]
    assert got == [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2, 0.2]


def test_factor_scheduler_warmup():
    s = mx.lr_scheduler.FactorScheduler(step=5, factor=0.1, base_lr=1.0, warmup_steps=4,
                                        warmup_begin_lr=0.2)
    assert [s(n) for n in range(4)] == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert s(4) == 1.0 and s(6) == pytest.approx(0.1)
    c = mx.lr_scheduler.FactorScheduler(step=5, base_lr=1.0, warmup_steps=2,
                                        warmup_begin_lr=0.3, warmup_mode="constant")
    assert c(0) == c(1) == 0.3 and c(2) == 1.0


def test_multifactor_scheduler():
    s = mx.lr_scheduler.MultiFactorScheduler(step=[2, 5], factor=0.1, base_lr=1.0)
    got = [s(n) for n in range(1, 8)]
    assert got == pytest.approx([1, 1, 0.1, 0.1, 0.1, 0.01, 0.01])
    with pytest.raises(ValueError):
        mx.lr_scheduler.MultiFactorScheduler(step=[3, 2])


def test_poly_scheduler():
    s = mx.lr_scheduler.PolyScheduler(max_update=10, base_lr=1.0, pwr=2, final_lr=0.1,
                                      warmup_steps=2, warmup_begin_lr=0.0)
    assert s(0) == 0.0 and s(1) == pytest.approx(0.5)
    # after warmup: 0.1 + 0.9 * (1 - (n - 2) / 8) ** 2
    assert s(2) == pytest.approx(1.0)
    assert s(6) == pytest.approx(0.1 + 0.9 * 0.25)
    assert s(10) == pytest.approx(0.1)
    assert s(20) == pytest.approx(0.1)


def test_cosine_scheduler():
    s = mx.lr_scheduler.CosineScheduler(max_update=10, base_lr=2.0, final_lr=0.0)
    assert s(0) == pytest.approx(2.0)
    assert s(5) == pytest.approx(1.0)
    assert s(10) == pytest.approx(0.0)
    assert s(15) == pytest.approx(0.0)
    w = mx.lr_scheduler.CosineScheduler(max_update=12, base_lr=1.0, warmup_steps=2,
                                        warmup_begin_lr=0.5)
    assert w(1) == pytest.approx(0.75) and w(7) == pytest.approx(0.5)


def test_warmup_ending_at_max_update_decays_at_once():
    # MXNet divides by zero here; the decay has no steps, so max_update gives final_lr.
    for cls in (mx.lr_scheduler.PolyScheduler, mx.lr_scheduler.CosineScheduler):
        s = cls(max_update=2, base_lr=1.0, final_lr=0.25, warmup_steps=2, warmup_begin_lr=0.5)
        assert [s(n) for n in range(4)] == pytest.approx([0.5, 0.75, 0.25, 0.25])


def test_scheduler_bad_args():
    with pytest.raises(ValueError):
        mx.lr_scheduler.LRScheduler(base_lr=0.1, warmup_begin_lr=0.5)
    with pytest.raises(ValueError):
        mx.lr_scheduler.LRScheduler(warmup_mode="cubic")
    with pytest.raises(ValueError):
        mx.lr_scheduler.FactorScheduler(step=0)
    with pytest.raises(ValueError):
        mx.lr_scheduler.FactorScheduler(step=2, factor=2.0)
    # MXNet 1.9.1 asserts these: AssertionErrors (and ValueError/TypeError) here
    for bad in (lambda: mx.lr_scheduler.MultiFactorScheduler(step=8),
                lambda: mx.lr_scheduler.PolyScheduler(max_update=2.5),
                lambda: mx.lr_scheduler.CosineScheduler(max_update=2.5),
                lambda: mx.lr_scheduler.FactorScheduler(step=2, warmup_steps=1.5)):
        with pytest.raises(AssertionError, match="must be"):
            bad()


def test_sgd_list_update_matches_single():
    ws = [np.random.randn(*SHAPE).astype(np.float32) for _ in range(2)]
    gs = [np.random.randn(*SHAPE).astype(np.float32) for _ in range(2)]
    a = mx.optimizer.SGD(learning_rate=0.1, momentum=0.9, wd=0.01)
    b = mx.optimizer.SGD(learning_rate=0.1, momentum=0.9, wd=0.01)
    wa = [mx.nd.array(w) for w in ws]
    wb = [mx.nd.array(w) for w in ws]
    sa = [a.create_state(i, w) for i, w in enumerate(wa)]
    sb = [b.create_state(i, w) for i, w in enumerate(wb)]
    a.update_multi_precision([0, 1], wa, [mx.nd.array(g) for g in gs], sa)
    for i in range(2):
        b.update(i, wb[i], mx.nd.array(gs[i]), sb[i])
    for x, y in zip(wa + sa, wb + sb):
        np.testing.assert_allclose(x.asnumpy(), y.asnumpy())


MULTI_SHAPES = [(4, 5), (7,), (2, 3, 2)]


@pytest.mark.parametrize("momentum", [0.0, 0.9])
@pytest.mark.parametrize("mp", [False, True])
def test_multi_sgd_ops_match_numpy(momentum, mp):
    """multi_[mp_]sgd[_mom]_update: per-weight lrs/wds, states updated in place."""
    rng = np.random.RandomState(3)
    wdt = np.float16 if mp else np.float32
    lrs, wds = [0.1, 0.05, 0.2], [0.0, 0.01, 0.1]
    kw = dict(rescale_grad=0.5, clip_gradient=0.3)
    ws = [rng.uniform(-1, 1, s).astype(wdt) for s in MULTI_SHAPES]
    ref_w = [w.astype(np.float64) for w in ws]
    ref_m = [np.zeros(s) for s in MULTI_SHAPES]
    weights = [mx.nd.array(w, dtype=wdt) for w in ws]
    moms = [mx.nd.zeros(s) for s in MULTI_SHAPES]
    masters = [w.astype(np.float32) for w in weights]
    name = "multi_%ssgd_%supdate" % ("mp_" if mp else "", "mom_" if momentum else "")
    op = getattr(mx.nd, name)
    for _ in range(2):
        gs = [rng.uniform(-1, 1, s).astype(wdt) for s in MULTI_SHAPES]
        args = []
        for k in range(3):
            args += [weights[k], mx.nd.array(gs[k], dtype=wdt)]
            args += [moms[k]] if momentum else []
            args += [masters[k]] if mp else []
        extra = dict(momentum=momentum) if momentum else {}
        out = op(*args, out=weights, lrs=lrs, wds=wds, num_weights=3, **kw, **extra)
        assert [o.handle for o in out] == [w.handle for w in weights]
        for k in range(3):
            g = np.clip(0.5 * gs[k].astype(np.float64), -0.3, 0.3)
            if momentum:
                ref_m[k] = momentum * ref_m[k] - lrs[k] * (g + wds[k] * ref_w[k])
                ref_w[k] = ref_w[k] + ref_m[k]
            else:
                ref_w[k] = ref_w[k] - lrs[k] * (g + wds[k] * ref_w[k])
    tol = dict(rtol=2e-3, atol=2e-3) if mp else dict(rtol=1e-5, atol=1e-6)
    for k in range(3):
        assert weights[k].dtype == wdt
        np.testing.assert_allclose(weights[k].asnumpy(), ref_w[k], **tol)
        if mp:
            np.testing.assert_allclose(masters[k].asnumpy(), ref_w[k], rtol=1e-5, atol=1e-6)
        if momentum:
            np.testing.assert_allclose(moms[k].asnumpy(), ref_m[k], rtol=1e-5, atol=1e-6)


def test_multi_sgd_num_weights_defaults_to_the_groups_given():
    w, g = mx.nd.ones((3,)), mx.nd.ones((3,))
    w2, g2 = mx.nd.ones((2,)), mx.nd.ones((2,))
    out = mx.nd.multi_sgd_update(w, g, w2, g2, lrs=(0.5, 0.25), wds=(0, 0))
    np.testing.assert_allclose(out[0].asnumpy(), [0.5] * 3)
    np.testing.assert_allclose(out[1].asnumpy(), [0.75] * 2)
    np.testing.assert_allclose(w.asnumpy(), [1] * 3)  # without out, the weights stay


def test_multi_sgd_bad_input():
    w, g = mx.nd.ones((3,)), mx.nd.ones((3,))
    with pytest.raises(ValueError, match=r"num_weights=2 takes 4 inputs .*3 given"):
        mx.nd.multi_sgd_update(w, g, w, lrs=(1, 1), wds=(0, 0), num_weights=2)
    with pytest.raises(ValueError, match=r"num_weights=2 needs that many lrs and wds, got 1"):
        mx.nd.multi_sgd_update(w, g, w, g, lrs=(1,), wds=(0, 0))
    with pytest.raises(mx.MXNetError, match=r"grad_1 has shape \[2\] but weight has shape \[3\]"):
        mx.nd.multi_sgd_update(w, g, w.copy(), mx.nd.ones(2), lrs=(1, 1), wds=(0, 0))
    with pytest.raises(mx.MXNetError, match=r"mom_0 has dtype float64"):
        mx.nd.multi_sgd_mom_update(w, g, mx.nd.zeros(3, dtype="float64"), lrs=(1,), wds=(0,))


def test_multi_sgd_symbol_names_its_groups():
    ws = [mx.sym.var("w%d" % i) for i in range(2)]
    gs = [mx.sym.var("g%d" % i) for i in range(2)]
    ms = [mx.sym.var("m%d" % i) for i in range(2)]
    s = mx.sym.multi_sgd_mom_update(ws[0], gs[0], ms[0], ws[1], gs[1], ms[1], lrs=(0.1, 0.1),
                                    wds=(0, 0), momentum=0.9, name="upd")
    assert s.list_arguments() == ["w0", "g0", "w1", "g1"]
    assert s.list_auxiliary_states() == ["m0", "m1"]
    assert len(s.list_outputs()) == 2
    s2 = mx.sym.load_json(s.tojson())
    assert s2.tojson() == s.tojson()
    _, out_shapes, aux_shapes = s.infer_shape(w0=(3,), g0=(3,), m0=(3,), w1=(2, 2), g1=(2, 2),
                                              m1=(2, 2))
    assert out_shapes == [(3,), (2, 2)] and aux_shapes == [(3,), (2, 2)]


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_updater_aggregates_sgd_by_dtype(monkeypatch, momentum):
    """The Updater hands SGD up to aggregate_num same-dtype weights per call, each list one
    multi op; results equal one update per weight."""
    rng = np.random.RandomState(0)
    shapes = [(3, 4), (4,), (5, 2), (2,), (6,), (1, 3)]
    dtypes = ["float32", "float64", "float32", "float32", "float32", "float64"]
    ws = [rng.randn(*s) for s in shapes]
    gs = [rng.randn(*s) for s in shapes]
    kw = dict(learning_rate=0.1, momentum=momentum, wd=0.01,
              param_idx2name={i: "p%d_weight" % i for i in range(6)})
    calls = []
    op_name = "multi_sgd_mom_update" if momentum else "multi_sgd_update"
    real = getattr(mx.nd, op_name)

    def counting(*args, **kwargs):
        calls.append(kwargs["num_weights"])
        return real(*args, **kwargs)
    monkeypatch.setattr(mx.nd, op_name, counting)
    results = []
    for agg in (4, 0):
        monkeypatch.setenv("MXNET_OPTIMIZER_AGGREGATION_SIZE", str(agg))
        opt = mx.optimizer.SGD(lr_scheduler=mx.lr_scheduler.FactorScheduler(step=1, factor=0.5),
                               **kw)
        upd = mx.optimizer.get_updater(opt)
        weights = [mx.nd.array(w, dtype=d) for w, d in zip(ws, dtypes)]
        for _ in range(2):
            upd(list(range(6)), [mx.nd.array(g, dtype=d) for g, d in zip(gs, dtypes)], weights)
        results.append(weights)
    # Per step: the four float32 weights in one call, the two float64 ones in another.
    assert calls == [4, 2, 4, 2]
    for a, b in zip(*results):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), rtol=1e-6)


def test_ftrl_updates_only_stored_rows_of_a_row_sparse_weight():
    # MXNet 1.9.1: ftrl_update on row_sparse weight, gradient and states leaves rows without
    # gradient alone; with a dense weight every row is updated (values from MXNet).
    g = mx.nd.array([[0.1, 0.1], [0, 0]]).tostype("row_sparse")
    for stype, row1 in (("row_sparse", 0.7), ("default", 0.0)):
        w = mx.nd.array([[0.5, 0.5], [0.7, 0.7]]).tostype(stype)
        opt = mx.optimizer.Ftrl()
        state = opt.create_state_multi_precision(0, w)
        opt.update_multi_precision(0, w, g, state)
        np.testing.assert_allclose(w.asnumpy(), [[0.0354545452, 0.0354545452], [row1, row1]],
                                   rtol=1e-6)


def test_compare_optimizer_gives_the_reference_dense_copies_and_sparse_gaps():
    seen = []

    class Ref(mx.optimizer.SGD):
        def update_multi_precision(self, index, weight, grad, state):
            seen.append((weight.stype, grad.stype))
            super().update_multi_precision(index, weight, grad, state)

    mx.random.seed(3)
    mx.test_utils.compare_optimizer(Ref(), mx.optimizer.SGD(), (30, 4), "float32",
                                    w_stype="row_sparse", g_stype="row_sparse")
    assert seen == [("default", "default")]


@pytest.mark.parametrize("name,kwargs,want", [
    # MXNet 1.9.1's create_state for a row_sparse weight (printed by MXNet).
    ("sgd", {"momentum": 0.9}, "row_sparse"),
    ("sgd", {"momentum": 0.9, "lazy_update": False}, "default"),
    ("nag", {"momentum": 0.9}, "default"),
    ("signum", {}, "row_sparse"),
    ("adam", {}, ["row_sparse", "row_sparse"]),
    ("adam", {"lazy_update": False}, ["default", "default"]),
    ("adagrad", {}, "row_sparse"),
    ("rmsprop", {"centered": True}, ["row_sparse"] * 3),
    ("ftrl", {}, ["row_sparse", "row_sparse"]),
    ("lamb", {}, ["row_sparse", "row_sparse"]),
    ("groupadagrad", {}, "row_sparse"),
    ("adadelta", {}, ["default", "default"]),
    ("ftml", {}, ["default"] * 3),
])
def test_states_of_a_row_sparse_weight_are_row_sparse_as_in_mxnet(name, kwargs, want):
    w = mx.nd.ones((4, 2)).tostype("row_sparse")
    state = mx.optimizer.create(name, **kwargs).create_state(0, w)
    got = [s.stype for s in state] if isinstance(state, (list, tuple)) else state.stype
    assert got == want
    # The values are zeros, whatever the storage type.
    for s in (state if isinstance(state, (list, tuple)) else [state]):
        assert not s.asnumpy().any()
