"""MXNet 1.9.1's aggregated optimizer ops (`multi_lars`, `preloaded_multi_*sgd*`,
`_multi_(mp_)adamw_update`, `_multi_(mp_)lamb_update`) and LAMB's mixed-precision phases:
each against a numpy re-implementation of MXNet's formula on seeded inputs, against the
single-weight ops applied one by one, and against values MXNet 1.9.1 printed; plus the LARS and
LAMB optimizers' aggregated paths and the errors bad inputs raise."""
import numpy as np
import pytest

import oxnet as mx
from oxnet.base import MXNetError

# Bad counts and values raise ValueError (as MXNet users expect), the rest MXNetError.
_ERR = (MXNetError, ValueError)

SHAPES = [(2, 3), (4,)]


def _groups(seed, k, shapes=SHAPES, positive=()):
    """k float32 arrays per shape, as the MXNet reference script drew them."""
    rs = np.random.RandomState(seed)
    out = []
    for s in shapes:
        grp = [rs.uniform(-1, 1, s).astype(np.float32) for _ in range(k)]
        for i in positive:
            grp[i] = np.abs(grp[i])
        out.append(grp)
    return out


def _nd(groups, dtypes=None):
    return [[mx.nd.array(a, dtype=(dtypes[i] if dtypes else 'float32')) for i, a in enumerate(g)]
            for g in groups]


def _flat(arrs):
    return [a for g in arrs for a in g]


def _close(arr, want, rtol=2e-5, atol=2e-6):
    got = arr.asnumpy() if hasattr(arr, 'asnumpy') else arr
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64).ravel(),
                               np.asarray(want, dtype=np.float64).ravel(), rtol=rtol, atol=atol)


def _clip(g, c):
    return g if c is None or c < 0 else np.clip(g, -c, c)


# ----------------------------------------------------------------------------- multi_lars

def _lars_np(lrs, wss, gss, wds, eta, eps, rescale):
    w, g = np.sqrt(wss), np.sqrt(gss)
    ok = (w > 0) & (gss > 0)
    with np.errstate(divide='ignore', invalid='ignore'):
        new = lrs * eta * w / (g * rescale + wds * w + eps)
    return np.where(ok, new, lrs)


def test_multi_lars_matches_mxnet_and_numpy():
    args = [np.array(v, np.float32) for v in
            ([0.1, 0.2, 0.3, 0.4], [4., 0, 9, 2.5], [1., 1, 0, 0.25], [0.01, 0.02, 0.03, 0.5])]
    out = mx.nd.multi_lars(*[mx.nd.array(a) for a in args], eta=0.002, eps=1e-3,
                           rescale_grad=0.5)
    # MXNet 1.9.1 printed these (zero weight or gradient norms keep lrs).
    _close(out, [0.000767754390835762, 0.2, 0.3, 0.0012144279899075627])
    _close(out, _lars_np(*args, 0.002, 1e-3, 0.5))
    rs = np.random.RandomState(0)
    args = [rs.uniform(0, 2, 7).astype(np.float32) for _ in range(4)]
    args[1][2] = 0
    out = mx.nd.multi_lars(*[mx.nd.array(a) for a in args], eta=0.01, eps=1e-6)
    _close(out, _lars_np(*args, 0.01, 1e-6, 1.0))


def test_multi_lars_errors():
    a = mx.nd.ones((3,))
    with pytest.raises(_ERR, match='multi_lars.*wds'):
        mx.nd.multi_lars(a, a, a, mx.nd.ones((2,)), eta=1, eps=0).wait_to_read()
    with pytest.raises(_ERR, match='multi_lars.*float64'):
        d = mx.nd.ones((3,), dtype='float64')
        mx.nd.multi_lars(d, d, d, d, eta=1, eps=0).wait_to_read()


# ------------------------------------------------------------------- preloaded multi SGD

def _sgd_np(w, g, lr, wd, rescale, clip, mom=None, momentum=0.0):
    g = _clip(rescale * g, clip)
    if mom is None:
        return (1 - lr * wd) * w - lr * g, None
    mom = momentum * mom - lr * wd * w - lr * g
    return w + mom, mom


def test_preloaded_multi_sgd_mom_matches_mxnet():
    arrs = _nd(_groups(1, 3))
    lrs, wds = mx.nd.array([0.1, 0.05]), mx.nd.array([0.01, 0.2])
    mx.nd.preloaded_multi_sgd_mom_update(*(_flat(arrs) + [lrs, wds]),
                                         out=[arrs[0][0], arrs[1][0]], num_weights=2,
                                         momentum=0.9, rescale_grad=0.5, clip_gradient=0.3)
    # MXNet 1.9.1's printed (weight, grad, mom) per group.
    want = [[[-0.6677759885787964, 1.1362636089324951, -1.8391506671905518,
              -0.09197968244552612, -0.8465524911880493, -0.7273877263069153],
             [-0.6274795532226562, -0.3088785409927368, -0.20646505057811737,
              0.07763347029685974, -0.16161097586154938, 0.37043899297714233],
             [-0.5018199682235718, 0.6956146359443665, -0.8393793702125549,
              0.3033551871776581, -0.1400643289089203, 0.08793506771326065]],
            [[-1.4496254920959473, -1.4370765686035156, -0.013830959796905518,
              1.5928144454956055],
             [-0.37315163016319275, 0.3846452236175537, 0.7527782917022705,
              0.7892132997512817],
             [-0.7303993701934814, -0.833279550075531, -0.615320086479187,
              0.6562912464141846]]]
    for grp, wgrp in zip(arrs, want):
        for a, w in zip(grp, wgrp):
            _close(a, w)


@pytest.mark.parametrize('momentum', [0.0, 0.8])
@pytest.mark.parametrize('mp', [False, True])
def test_preloaded_multi_sgd_matches_numpy_and_multi_sgd(momentum, mp):
    shapes = [(3, 2), (5,), (1, 4)]
    n = len(shapes)
    raw = _groups(5, 3, shapes)
    lrs, wds = np.array([0.1, 0.3, 0.05], np.float32), np.array([0.0, 0.1, 0.02], np.float32)
    kw = dict(rescale_grad=0.9, clip_gradient=0.6)
    if momentum:
        kw['momentum'] = momentum

    def build():
        groups = []
        for w, g, m in raw:
            if mp:
                grp = [mx.nd.array(w, dtype='float16'), mx.nd.array(g, dtype='float16')]
                if momentum:
                    grp.append(mx.nd.array(m))
                grp.append(mx.nd.array(w.astype(np.float16).astype(np.float32)))
            else:
                grp = [mx.nd.array(w), mx.nd.array(g)] + ([mx.nd.array(m)] if momentum else [])
            groups.append(grp)
        return groups
    name = 'preloaded_multi_%ssgd_%supdate' % ('mp_' if mp else '', 'mom_' if momentum else '')
    arrs = build()
    getattr(mx.nd, name)(*(_flat(arrs) + [mx.nd.array(lrs), mx.nd.array(wds)]),
                         out=[g[0] for g in arrs], num_weights=n, **kw)
    ref = build()
    getattr(mx.nd, name.replace('preloaded_', ''))(*_flat(ref), out=[g[0] for g in ref],
                                                   num_weights=n, lrs=list(lrs), wds=list(wds),
                                                   **kw)
    for k, (w, g, m) in enumerate(raw):
        if mp:
            w = w.astype(np.float16).astype(np.float32)
            g = g.astype(np.float16).astype(np.float32)
        new_w, new_m = _sgd_np(w, g, lrs[k], wds[k], 0.9, 0.6, m if momentum else None,
                               momentum)
        tol = dict(rtol=2e-3, atol=2e-3) if mp else {}
        _close(arrs[k][0], new_w, **tol)
        for a, b in zip(arrs[k], ref[k]):
            np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())
        if momentum:
            _close(arrs[k][2], new_m, **tol)
        if mp:
            _close(arrs[k][-1], new_w, rtol=1e-5, atol=1e-6)


def test_preloaded_errors():
    w = [mx.nd.ones((2,)) for _ in range(4)]
    with pytest.raises(_ERR, match=r'preloaded_multi_sgd_update.*lrs.*\(2,\)'):
        mx.nd.preloaded_multi_sgd_update(*(w + [mx.nd.ones((3,)), mx.nd.ones((2,))]),
                                         out=[w[0], w[2]], num_weights=2).wait_to_read()
    with pytest.raises(_ERR, match='preloaded_multi_sgd_update.*num_weights=3'):
        mx.nd.preloaded_multi_sgd_update(*(w + [mx.nd.ones((2,)), mx.nd.ones((2,))]),
                                         num_weights=3).wait_to_read()
    with pytest.raises(_ERR, match='preloaded_multi_sgd_update.*shape'):
        mx.nd.preloaded_multi_sgd_update(w[0], mx.nd.ones((3,)), mx.nd.ones((1,)),
                                         mx.nd.ones((1,)), num_weights=1).wait_to_read()


# ------------------------------------------------------------------------- multi AdamW

def _adamw_np(w, g, m, v, lr, wd, eta, rescale, clip, b1=0.9, b2=0.999, eps=1e-8):
    g = _clip(rescale * g, clip)
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    return w - eta * (lr * m / (np.sqrt(v) + eps) + wd * w), m, v


def test_multi_adamw_matches_mxnet_numpy_and_single_op():
    raw = _groups(2, 4, positive=(3,))
    arrs = _nd(raw)
    lrs, wds, etas = [0.01, 0.02], [0.1, 0.0], [1.0, 0.5]
    mx.nd.contrib.multi_adamw_update([x[0] for x in arrs], [x[1] for x in arrs],
                                     [x[2] for x in arrs], [x[3] for x in arrs], 0.7, lrs=lrs,
                                     wds=wds, etas=etas, out=[x[0] for x in arrs],
                                     clip_gradient=0.5)
    # MXNet 1.9.1's printed weights, means and variances.
    want = [[[-0.10680875927209854, -0.8537816405296326, 0.14739513397216797,
              -0.1215800866484642, -0.16059695184230804, -0.3053272068500519],
             None,
             [-0.6991052627563477, 0.04113855957984924, -0.5960565805435181,
              0.48095905780792236, 0.6541142463684082, -0.006293796002864838],
             [0.6926008462905884, 0.8398962020874023, 0.010560363531112671,
              0.8686640858650208, 0.14364035427570343, 0.8061329126358032]],
            [[-0.7484680414199829, 0.19477851688861847, -0.5480358600616455,
              -0.7822355031967163],
             None,
             [0.21357494592666626, -0.051498621702194214, 0.004916343837976456,
              -0.24534918367862701],
             [0.5868409872055054, 0.15989255905151367, 0.6747294664382935,
              0.4012775421142578]]]
    for k, (w, g, m, v) in enumerate(raw):
        nw, nm, nv = _adamw_np(w, g, m, v, lrs[k], wds[k], etas[k], 0.7, 0.5)
        for a, mine, theirs in zip(arrs[k], (nw, g, nm, nv), want[k]):
            _close(a, mine)
            if theirs is not None:
                _close(a, theirs)
    # Same as _adamw_update applied weight by weight.
    single = _nd(raw)
    for k, (w, g, m, v) in enumerate(single):
        mx.nd.contrib.adamw_update(w, g, m, v, 0.7, lr=lrs[k], wd=wds[k], eta=etas[k],
                                   clip_gradient=0.5, out=w)
    for a, b in zip(_flat(arrs), _flat(single)):
        np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())


def test_multi_mp_adamw_and_skipped_step():
    raw = _groups(6, 4, positive=(3,))
    arrs = [[mx.nd.array(w, dtype='float16'), mx.nd.array(g, dtype='float16'), mx.nd.array(m),
             mx.nd.array(v), mx.nd.array(w.astype(np.float16).astype(np.float32))]
            for w, g, m, v in raw]
    lrs, wds, etas = [0.05, 0.02], [0.1, 0.2], [1.0, 2.0]
    mx.nd.contrib.multi_mp_adamw_update(*[[x[i] for x in arrs] for i in range(5)], 1.3,
                                        lrs=lrs, wds=wds, etas=etas, out=[x[0] for x in arrs])
    for k, (w, g, m, v) in enumerate(raw):
        w32 = w.astype(np.float16).astype(np.float32)
        g16 = g.astype(np.float16).astype(np.float32)
        nw, nm, nv = _adamw_np(w32, g16, m, v, lrs[k], wds[k], etas[k], 1.3, None)
        _close(arrs[k][4], nw)
        _close(arrs[k][2], nm)
        _close(arrs[k][3], nv)
        _close(arrs[k][0], nw, rtol=1e-3, atol=1e-3)
    # A zero rescale_grad (overflowed loss scale) skips every group, states included.
    arrs = _nd(raw)
    mx.nd.contrib.multi_adamw_update(*[[x[i] for x in arrs] for i in range(4)], 0.0, lrs=lrs,
                                     wds=wds, etas=etas, out=[x[0] for x in arrs])
    for a, b in zip(_flat(arrs), _flat(raw)):
        np.testing.assert_array_equal(a.asnumpy(), b)


def test_multi_adamw_errors():
    arrs = _nd(_groups(2, 4, positive=(3,)))
    with pytest.raises(_ERR, match='_multi_adamw_update.*num_weights=2.*etas'):
        mx.nd.contrib.multi_adamw_update(*[[x[i] for x in arrs] for i in range(4)], 1.0,
                                         lrs=[0.1, 0.1], wds=[0, 0], etas=[1.0]).wait_to_read()
    with pytest.raises(_ERR, match='_multi_adamw_update.*mean_1.*shape'):
        bad = [arrs[0][2], mx.nd.zeros((5,))]
        mx.nd.contrib.multi_adamw_update([x[0] for x in arrs], [x[1] for x in arrs], bad,
                                         [x[3] for x in arrs], 1.0, lrs=[0.1, 0.1], wds=[0, 0],
                                         etas=[1, 1])[0].wait_to_read()


# -------------------------------------------------------------------------------- LAMB

def _lamb_np(w, g, m, v, lr, wd, t, master=None, b1=0.9, b2=0.999, eps=1e-6, rescale=1.0,
             clip=None, bias=True, lower=-1.0, upper=-1.0):
    """(new weight, mean, var): phase I on the master copy (weight when None), r1 from the
    stored weight, as MXNet's multi-tensor kernels."""
    base = w if master is None else master
    g = _clip(rescale * g, clip)
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    mh, vh = (m / (1 - b1 ** t), v / (1 - b2 ** t)) if bias else (m, v)
    d = mh / (np.sqrt(vh) + eps) + wd * base
    r1, r2 = np.linalg.norm(w.astype(np.float64)), np.linalg.norm(d)
    if lower >= 0:
        r1 = max(r1, lower)
    if upper >= 0:
        r1 = min(r1, upper)
    ratio = 1.0 if r1 == 0 or r2 == 0 else r1 / r2
    return base - lr * ratio * d, m, v


MLAMB_MXNET = [
    [[0.09986118227243423, 0.4206215739250183, -0.4190113842487335, 0.020376024767756462,
      0.797297477722168, 0.7900553345680237],
     None,
     [0.20855292677879333, -0.44556403160095215, 0.24549353122711182, 0.15408264100551605,
      -0.9320524334907532, 0.09903066605329514],
     [0.48137250542640686, 0.16984720528125763, 0.43303191661834717, 0.38589853048324585,
      0.11953926831483841, 0.6855830550193787]],
    [[0.08060105890035629, 0.5467946529388428, -0.3854176104068756, -0.5495948195457458],
     None,
     [0.7071768045425415, 0.6921729445457458, -0.14345143735408783, -0.7064279913902283],
     [0.3065471053123474, 0.11605334281921387, 0.27717360854148865, 0.5494171380996704]]]


def test_multi_lamb_matches_mxnet_numpy_and_phases():
    raw = _groups(3, 4, positive=(3,))
    arrs = _nd(raw)
    kw = dict(rescale_grad=0.8, lower_bound=0.1, upper_bound=10.0)
    mx.nd.contrib.multi_lamb_update(*[[x[i] for x in arrs] for i in range(4)], step_count=[3, 1],
                                    lrs=[0.01, 0.02], wds=[0.1, 0.0], out=[x[0] for x in arrs],
                                    **kw)
    for k, (w, g, m, v) in enumerate(raw):
        nw, nm, nv = _lamb_np(w, g, m, v, [0.01, 0.02][k], [0.1, 0.0][k], [3, 1][k],
                              rescale=0.8, lower=0.1, upper=10.0)
        for a, mine, theirs in zip(arrs[k], (nw, g, nm, nv), MLAMB_MXNET[k]):
            _close(a, mine)
            if theirs is not None:
                _close(a, theirs)
    # The two phase ops applied tensor by tensor give the same.
    for k, (w, g, m, v) in enumerate(_nd(raw)):
        d = mx.nd.lamb_update_phase1(w, g, m, v, t=[3, 1][k], wd=[0.1, 0.0][k],
                                     rescale_grad=0.8)
        mx.nd.lamb_update_phase2(w, d, w.norm(), d.norm(), lr=[0.01, 0.02][k], lower_bound=0.1,
                                 upper_bound=10.0, out=w)
        for a, b in zip((w, m, v), (arrs[k][0], arrs[k][2], arrs[k][3])):
            _close(a, b.asnumpy(), rtol=1e-5, atol=1e-6)


def test_multi_mp_lamb_matches_mxnet_and_numpy():
    raw = _groups(4, 4, positive=(3,))
    arrs = [[mx.nd.array(w, dtype='float16'), mx.nd.array(g, dtype='float16'), mx.nd.array(m),
             mx.nd.array(v), mx.nd.array(w.astype(np.float16).astype(np.float32) + 0.001)]
            for w, g, m, v in raw]
    mx.nd.contrib.multi_mp_lamb_update(*[[x[i] for x in arrs] for i in range(5)],
                                       step_count=[2, 5], lrs=[0.01, 0.02], wds=[0.1, 0.3],
                                       out=[x[0] for x in arrs], bias_correction=False,
                                       clip_gradient=0.4)
    # MXNet 1.9.1's printed (weight16, mean, var, weight32) per tensor.
    want = [[[0.9296875, 0.0897216796875, 0.95751953125, 0.42919921875, 0.403564453125,
              -0.564453125],
             [0.6933878660202026, 0.8301211595535278, -0.6450839638710022, 0.16216398775577545,
              -0.8438249826431274, -0.24417169392108917],
             [0.9109281897544861, 0.9125525951385498, 0.12773899734020233, 0.8970736861228943,
              0.5721993446350098, 0.7320060133934021],
             [0.929713785648346, 0.08973100781440735, 0.9575089812278748, 0.4292846620082855,
              0.4035511016845703, -0.5646316409111023]],
            [[-0.65478515625, -0.8291015625, 0.218505859375, -0.66357421875],
             [0.07905302941799164, -0.7235624194145203, -0.6096161603927612,
              0.1213647723197937],
             [0.048919349908828735, 0.27497878670692444, 0.19681522250175476,
              0.2994706332683563],
             [-0.6547712683677673, -0.8292425274848938, 0.21849165856838226,
              -0.663340151309967]]]
    for k, (w, g, m, v) in enumerate(raw):
        w16 = w.astype(np.float16).astype(np.float32)
        nw, nm, nv = _lamb_np(w16, g.astype(np.float16).astype(np.float32), m, v,
                              [0.01, 0.02][k], [0.1, 0.3][k], [2, 5][k], master=w16 + 0.001,
                              clip=0.4, bias=False)
        _close(arrs[k][4], nw)
        _close(arrs[k][2], nm)
        _close(arrs[k][3], nv)
        _close(arrs[k][0], nw.astype(np.float16), rtol=0, atol=1e-3)
        for a, theirs in zip((arrs[k][0], arrs[k][2], arrs[k][3], arrs[k][4]), want[k]):
            _close(a, theirs, rtol=1e-4, atol=1e-5)


def test_mp_lamb_phases_match_mxnet():
    w = mx.nd.array([1, 2, 3], dtype='float16')
    w32, m, v = mx.nd.array([1, 2, 3]), mx.nd.zeros(3), mx.nd.zeros(3)
    g = mx.nd.mp_lamb_update_phase1(w, mx.nd.array([.5, .5, .5], dtype='float16'), m, v, w32,
                                    t=1, wd=0.1)
    # MXNet 1.9.1 printed g (float32), mean and var.
    assert g.dtype == np.float32
    _close(g, [1.099998, 1.199998, 1.299998])
    _close(m, [0.05] * 3)
    _close(v, [0.00025] * 3)
    out = mx.nd.mp_lamb_update_phase2(w, mx.nd.array([.1, .2, .3]), mx.nd.array([2.0]),
                                      mx.nd.array([4.0]), w32, lr=0.5)
    # MXNet 1.9.1: float16 [0.975 1.95 2.926]; weight32 is left as it was.
    assert out.dtype == np.float16
    _close(out, [0.975, 1.95, 2.926], rtol=0, atol=1e-3)
    _close(w32, [1, 2, 3])


def test_mp_lamb_phases_match_numpy():
    rs = np.random.RandomState(11)
    w32 = rs.uniform(-1, 1, (3, 4)).astype(np.float32)
    grad = rs.uniform(-2, 2, (3, 4)).astype(np.float16)
    m, v = rs.uniform(-.1, .1, (3, 4)).astype(np.float32), rs.uniform(0, .1, (3, 4)).astype(
        np.float32)
    M, V, W32 = mx.nd.array(m), mx.nd.array(v), mx.nd.array(w32)
    d = mx.nd.mp_lamb_update_phase1(mx.nd.array(w32, dtype='float16'),
                                    mx.nd.array(grad, dtype='float16'), M, V, W32, t=4,
                                    wd=0.05, beta1=0.8, beta2=0.99, epsilon=1e-5,
                                    rescale_grad=0.5, clip_gradient=0.7)
    g = np.clip(0.5 * grad.astype(np.float32), -0.7, 0.7)
    nm, nv = 0.8 * m + 0.2 * g, 0.99 * v + 0.01 * g * g
    want = (nm / (1 - 0.8 ** 4)) / (np.sqrt(nv / (1 - 0.99 ** 4)) + 1e-5) + 0.05 * w32
    _close(d, want)
    _close(M, nm)
    _close(V, nv)
    r1, r2 = float(np.linalg.norm(w32)), float(np.linalg.norm(want))
    out = mx.nd.mp_lamb_update_phase2(mx.nd.array(w32, dtype='float16'), d,
                                      mx.nd.array([r1]), mx.nd.array([r2]), W32, lr=0.1,
                                      upper_bound=0.5)
    _close(out, (w32 - 0.1 * min(r1, 0.5) / r2 * want).astype(np.float16), rtol=0, atol=2e-3)


def test_lamb_errors():
    arrs = _nd(_groups(3, 4, positive=(3,)))
    groups = [[x[i] for x in arrs] for i in range(4)]
    with pytest.raises(_ERR, match='_multi_lamb_update.*num_tensors=2.*step_count'):
        mx.nd.contrib.multi_lamb_update(*groups, step_count=[1], lrs=[0.1, 0.1],
                                        wds=[0, 0])[0].wait_to_read()
    with pytest.raises(_ERR, match='_multi_lamb_update.*num_tensors=3'):
        mx.nd.contrib.multi_lamb_update(*groups, step_count=[1, 1, 1], lrs=[0.1] * 3,
                                        wds=[0] * 3, num_tensors=3)[0].wait_to_read()
    with pytest.raises(_ERR, match='_multi_mp_lamb_update.*mean_0.*float32'):
        w = mx.nd.ones((2,), dtype='float16')
        h = mx.nd.ones((2,), dtype='float16')
        mx.nd.contrib.multi_mp_lamb_update([w], [w], [h], [mx.nd.ones((2,))], [mx.nd.ones((2,))],
                                           step_count=[1], lrs=[0.1], wds=[0])[0].wait_to_read()
    with pytest.raises(_ERR, match='mp_lamb_update_phase2.*r1'):
        w = mx.nd.ones((2,), dtype='float16')
        mx.nd.mp_lamb_update_phase2(w, mx.nd.ones((2,)), mx.nd.ones((2,)), mx.nd.ones((1,)),
                                    mx.nd.ones((2,)), lr=0.1).wait_to_read()


# ---------------------------------------------------------------- optimizers' aggregated paths

def _lars_opt_np(w, g, mom, lr, wd, eta, eps, rescale, momentum, use_lars):
    if use_lars:
        wn, gn = np.linalg.norm(w), np.linalg.norm(g) * rescale
        if wn > 0 and gn > 0:
            lr = lr * eta * wn / (gn + wd * wn + eps)
    return _sgd_np(w, g, lr, wd, rescale, None, mom, momentum)


@pytest.mark.parametrize('momentum', [0.0, 0.9])
def test_lars_aggregated_matches_numpy(momentum):
    rs = np.random.RandomState(3)
    shapes = [(3, 4), (4,), (2, 2), (5,), (3,)]
    names = ['fc1_weight', 'fc1_bias', 'conv_weight', 'bn_gamma', 'bn_beta']
    ws = [rs.uniform(-1, 1, s).astype(np.float32) for s in shapes]
    gs = [rs.uniform(-1, 1, s).astype(np.float32) for s in shapes]
    opt = mx.optimizer.create('lars', learning_rate=0.5, momentum=momentum, eta=0.01, eps=1e-4,
                              wd=0.01, rescale_grad=0.5, param_idx2name=dict(enumerate(names)))
    updater = mx.optimizer.get_updater(opt)
    assert opt.aggregate_num > 1
    W = [mx.nd.array(w) for w in ws]
    moms = [np.zeros(s, np.float32) for s in shapes]
    for _ in range(2):
        updater(list(range(len(ws))), [mx.nd.array(g) for g in gs], W)
        for i, name in enumerate(names):
            # LARS gives weight decay to _weight parameters only.
            wd = 0.01 if name.endswith('_weight') else 0.0
            ws[i], m = _lars_opt_np(ws[i], gs[i], moms[i] if momentum else None, 0.5, wd, 0.01,
                                    1e-4, 0.5, momentum, not name.endswith(('bias', 'gamma',
                                                                            'beta')))
            if momentum:
                moms[i] = m
    for a, b in zip(W, ws):
        _close(a, b, rtol=1e-5, atol=1e-6)


def test_lamb_aggregated_equals_single_updates():
    rs = np.random.RandomState(8)
    shapes = [(3, 4), (4,), (2, 2)]
    ws = [rs.uniform(-1, 1, s).astype(np.float32) for s in shapes]
    grads = [[rs.uniform(-1, 1, s).astype(np.float32) for s in shapes] for _ in range(3)]
    kw = dict(learning_rate=0.05, wd=0.01, lower_bound=0.01, upper_bound=5.0)
    agg = mx.optimizer.create('lamb', **kw)
    assert agg.aggregate_num == 45
    single = mx.optimizer.create('lamb', **kw)
    single.aggregate_num = 0
    ua, us = mx.optimizer.get_updater(agg), mx.optimizer.get_updater(single)
    Wa, Ws = [mx.nd.array(w) for w in ws], [mx.nd.array(w) for w in ws]
    for step in grads:
        ua(list(range(3)), [mx.nd.array(g) for g in step], Wa)
        for i, g in enumerate(step):
            us(i, mx.nd.array(g), Ws[i])
    for a, b in zip(Wa, Ws):
        _close(a, b.asnumpy(), rtol=1e-5, atol=1e-6)
    # And both equal the numpy formula.
    ms, vs = [np.zeros(s, np.float32) for s in shapes], [np.zeros(s, np.float32) for s in shapes]
    for t, step in enumerate(grads, 1):
        for i, g in enumerate(step):
            ws[i], ms[i], vs[i] = _lamb_np(ws[i], g, ms[i], vs[i], 0.05, 0.01, t, lower=0.01,
                                           upper=5.0)
    for a, b in zip(Wa, ws):
        _close(a, b, rtol=1e-5, atol=1e-6)


def test_lamb_aggregated_multi_precision():
    rs = np.random.RandomState(9)
    shapes = [(3, 4), (5,)]
    ws = [rs.uniform(-1, 1, s).astype(np.float16) for s in shapes]
    gs = [rs.uniform(-1, 1, s).astype(np.float16) for s in shapes]
    opt = mx.optimizer.create('lamb', learning_rate=0.05, wd=0.01, multi_precision=True)
    upd = mx.optimizer.get_updater(opt)
    W = [mx.nd.array(w, dtype='float16') for w in ws]
    upd([0, 1], [mx.nd.array(g, dtype='float16') for g in gs], W)
    for i, (w, g) in enumerate(zip(ws, gs)):
        w32 = w.astype(np.float32)
        nw, _, _ = _lamb_np(w32, g.astype(np.float32), np.zeros_like(w32), np.zeros_like(w32),
                            0.05, 0.01, 1)
        _close(upd.states[i][0], nw, rtol=1e-5, atol=1e-6)
        assert W[i].dtype == np.float16
        _close(W[i], nw.astype(np.float16), rtol=0, atol=1e-3)


# ------------------------------------------------------------------ AdaGrad's row-sparse ops

def _rsp_grad():
    return mx.nd.sparse.row_sparse_array(np.array([[.5, -1], [0, 0], [2, 1]], np.float32))


def test_group_adagrad_update_matches_mxnet():
    w = mx.nd.array([[1, 2], [3, 4], [5, 6]])
    h = mx.nd.array([[0.1], [0.2], [0.3]])
    mx.nd.contrib.group_adagrad_update(w, _rsp_grad(), h, lr=0.1, rescale_grad=0.5,
                                       clip_gradient=0.8, epsilon=1e-3, out=w)
    # MXNet 1.9.1 printed these; the zero gradient row keeps its weight and history.
    _close(w, [[0.9507095813751221, 2.098580837249756], [3.0, 4.0],
               [4.907376766204834, 5.942110538482666]])
    _close(h, [0.25625, 0.2, 0.745])


def test_group_adagrad_update_matches_numpy():
    rs = np.random.RandomState(12)
    w = rs.uniform(-1, 1, (4, 3, 2)).astype(np.float32)
    g = rs.uniform(-2, 2, (4, 3, 2)).astype(np.float32)
    g[2] = 0
    h = rs.uniform(0, 1, (4, 1)).astype(np.float32)
    W, H = mx.nd.array(w), mx.nd.array(h)
    out = mx.nd.contrib.group_adagrad_update(W, mx.nd.array(g), H, lr=0.2, rescale_grad=0.7)
    gg = (0.7 * g).reshape(4, -1)
    nh = h + (gg * gg).mean(axis=1, keepdims=True)
    want = w.reshape(4, -1) - 0.2 * gg / np.sqrt(nh + 1e-5)
    _close(out, want)
    _close(H, nh)
    _close(W, w)
    with pytest.raises(_ERR, match='_contrib_group_adagrad_update.*history'):
        mx.nd.contrib.group_adagrad_update(W, mx.nd.array(g), mx.nd.zeros((3, 1)),
                                           lr=0.1).wait_to_read()


def test_sparse_adagrad_update_matches_mxnet_and_numpy():
    w = mx.nd.array([[1, 2], [3, 4], [5, 6]])
    h = mx.nd.array([[0.1, .1], [0.2, .2], [0.3, .3]])
    mx.nd.sparse.adagrad_update(w, _rsp_grad(), h, lr=0.1, rescale_grad=0.5, clip_gradient=0.8,
                                epsilon=1e-3, out=w)
    # MXNet 1.9.1's printed values.
    _close(w, [[0.9381725788116455, 2.084394931793213], [3.0, 4.0],
               [4.917530059814453, 5.93264102935791]])
    _close(h, [[0.1625, 0.35], [0.2, 0.2], [0.94, 0.55]])
    rs = np.random.RandomState(13)
    w, g, h = (rs.uniform(0, 1, (5, 3)).astype(np.float32) for _ in range(3))
    W, H = mx.nd.array(w), mx.nd.array(h)
    mx.nd.sparse.adagrad_update(W, mx.nd.array(g), H, lr=0.3, out=W)
    _close(H, h + g * g)
    _close(W, w - 0.3 * g / np.sqrt(h + g * g + 1e-7))
    # MXNet 1.9.1: an MXNetError ("Operator not implemented").
    with pytest.raises(MXNetError, match='_sparse_adagrad_update.*wd'):
        mx.nd.sparse.adagrad_update(W, mx.nd.array(g), H, lr=0.3, wd=0.1).wait_to_read()


def test_adagrad_optimizers_take_the_sparse_ops_for_row_sparse_grads():
    rs = np.random.RandomState(14)
    w = rs.uniform(-1, 1, (4, 3)).astype(np.float32)
    g = rs.uniform(-1, 1, (4, 3)).astype(np.float32)
    g[1] = 0
    for name, kw in (('groupadagrad', {}), ('adagrad', {})):
        dense = mx.optimizer.create(name, learning_rate=0.1, rescale_grad=0.5, **kw)
        sparse = mx.optimizer.create(name, learning_rate=0.1, rescale_grad=0.5, **kw)
        Wd, Ws = mx.nd.array(w), mx.nd.array(w)
        sd, ss = dense.create_state(0, Wd), sparse.create_state(0, Ws)
        dense.update(0, Wd, mx.nd.array(g), sd)
        sparse.update(0, Ws, mx.nd.sparse.row_sparse_array(g), ss)
        _close(Ws, Wd.asnumpy(), rtol=1e-6, atol=1e-7)
        np.testing.assert_array_equal(Ws.asnumpy()[1], w[1])


def test_sym_sparse_adagrad_update_runs_in_a_graph():
    rs = np.random.RandomState(5)
    w0 = rs.uniform(-1, 1, (4, 3)).astype(np.float32)
    g = rs.uniform(-1, 1, (4, 3)).astype(np.float32)
    g[2] = 0  # a row the row_sparse gradient does not hold
    h0 = rs.uniform(0.1, 0.5, (4, 3)).astype(np.float32)
    net = mx.sym.sparse.adagrad_update(mx.sym.var("w"), mx.sym.var("g"), mx.sym.var("h"),
                                       lr=0.2, epsilon=1e-6, rescale_grad=0.5)
    # The history is mutated in place: an auxiliary state, as MXNet lists it.
    assert net.list_arguments() == ["w", "g"] and net.list_auxiliary_states() == ["h"]
    h = mx.nd.array(h0)
    ex = net.bind(mx.cpu(), {"w": mx.nd.array(w0), "g": mx.nd.array(g)}, aux_states={"h": h})
    out = ex.forward()[0].asnumpy()
    gs = g * 0.5
    h1 = h0 + gs * gs
    np.testing.assert_allclose(h.asnumpy(), h1, rtol=1e-6)
    np.testing.assert_allclose(out, w0 - 0.2 * gs / (np.sqrt(h1) + 1e-6), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(out[2], w0[2])


def test_groups_sharing_memory_update_one_after_another_as_mxnet():
    # MXNet 1.9.1 applies the groups in order: rows two overlapping views share get both steps,
    # exactly as two sgd_update calls give them.
    def run(multi):
        big = mx.nd.array(np.arange(1.0, 9.0).reshape(4, 2))
        c, a = big[1:4], big[0:3]
        g = mx.nd.ones((3, 2))
        if multi:
            mx.nd.multi_sgd_update(c, g, a, g, out=[c, a], lrs=[0.1, 0.1], wds=[0., 0.],
                                   num_weights=2)
        else:
            mx.nd.sgd_update(c, g, out=c, lr=0.1)
            mx.nd.sgd_update(a, g, out=a, lr=0.1)
        return big.asnumpy().ravel()
    np.testing.assert_allclose(run(True), [0.9, 1.9, 2.8, 3.8, 4.8, 5.8, 6.9, 7.9], rtol=1e-6)
    np.testing.assert_allclose(run(True), run(False), rtol=1e-6)
    # One weight listed twice in an aggregated update: both gradients applied (MXNet's values).
    for name, kw, want in (("sgd", {"momentum": 0.9}, [0.61, 1.61, 2.61]),
                           ("sgd", {}, [0.7, 1.7, 2.7]),
                           ("lamb", {}, [0.5679506, 1.5679507, 2.5679507])):
        opt = mx.optimizer.create(name, learning_rate=0.1, **kw)
        w = mx.nd.array([1., 2., 3.])
        mx.optimizer.get_updater(opt)([0, 0], [mx.nd.ones((3,)), mx.nd.ones((3,)) * 2], [w, w])
        np.testing.assert_allclose(w.asnumpy(), want, rtol=1e-5, err_msg=name)
