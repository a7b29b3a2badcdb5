"""The fused update ops MXNet 1.9.1's FTML, LAMB and AdamW use (`ftml_update`,
`lamb_update_phase1/2`, `_adamw_update`, `_mp_adamw_update`): outputs and in-place states equal
the values MXNet 1.9.1 printed for the same seeded inputs, and the optimizers built on them
equal their formulas in numpy."""
import numpy as np
import pytest

import oxnet as mx


def _inputs():
    rng = np.random.RandomState(7)

    def draw(*shape, lo=-1, hi=1):
        return rng.uniform(lo, hi, shape).astype(np.float32)
    w, g = draw(2, 3), draw(2, 3)
    d, v, z = draw(2, 3, lo=0.1, hi=1), draw(2, 3, lo=0.1, hi=1), draw(2, 3)
    return w, g, d, v, z


def _close(arr, want):
    np.testing.assert_allclose(arr.asnumpy(), np.array(want), rtol=2e-5, atol=2e-6)


def test_ftml_update_matches_mxnet():
    w, g, d, v, z = _inputs()
    W, D, V, Z = (mx.nd.array(x) for x in (w, d, v, z))
    out = mx.nd.ftml_update(W, mx.nd.array(g), D, V, Z, lr=0.1, t=3, beta1=0.6, beta2=0.9,
                            epsilon=1e-6, wd=0.05, rescale_grad=0.7, clip_grad=0.5)
    # MXNet 1.9.1 printed (out, d, v, z); the weight itself is untouched without out=.
    _close(out, [[-0.86541, 0.665794, -0.111866], [0.407133, 0.895106, 0.063027]])
    _close(D, [[13.839385, 5.536936, 11.542047], [13.963472, 8.046574, 11.196228]])
    _close(V, [[0.844443, 0.135168, 0.587357], [0.859654, 0.285469, 0.552688]])
    _close(Z, [[11.976744, -3.686458, 1.291167], [-5.684995, -7.202537, -0.705663]])
    _close(W, w)


def test_lamb_phases_match_mxnet():
    w, g, d, v, _ = _inputs()
    M, V = mx.nd.array(d), mx.nd.array(v)
    out = mx.nd.lamb_update_phase1(mx.nd.array(w), mx.nd.array(g), M, V, beta1=0.8, beta2=0.95,
                                   epsilon=1e-5, t=2, bias_correction=True, wd=0.1,
                                   rescale_grad=1.5, clip_gradient=0.9)
    # MXNet 1.9.1 printed (g, mean, var).
    _close(out, [[0.241385, -0.059073, 0.149655], [0.713806, 0.630231, 0.660925]])
    _close(M, [[0.35495, -0.052526, 0.148528], [0.734837, 0.341175, 0.585529]])
    _close(V, [[0.891182, 0.156789, 0.632599], [0.907361, 0.306364, 0.604459]])
    out = mx.nd.lamb_update_phase1(mx.nd.array(w), mx.nd.array(g), mx.nd.array(d),
                                   mx.nd.array(v), t=2, bias_correction=False, wd=0.1)
    _close(out, [[0.327204, 0.22083, 0.33402], [0.891065, 0.634589, 0.678793]])

    r1, r2 = mx.nd.array([2.0]), mx.nd.array([0.5])
    W = mx.nd.array(w)
    out = mx.nd.lamb_update_phase2(W, mx.nd.array(g), r1, r2, lr=0.1, lower_bound=3.0)
    # r1 raised to the lower bound 3: step 0.1 * 3 / 0.5 (MXNet 1.9.1 printed).
    _close(out, [[-0.848728, 1.073376, 0.154692], [0.447071, 0.740903, -0.287495]])
    _close(W, w)
    # upper_bound lowers r1 to 1 (MXNet's docstring says max; its kernel takes the min).
    out = mx.nd.lamb_update_phase2(mx.nd.array(w), mx.nd.array(g), r1, r2, lr=0.1,
                                   upper_bound=1.0)
    _close(out, [[-0.847832, 0.731017, -0.030557], [0.446977, 0.884287, -0.044504]])
    # A zero norm keeps the plain learning rate.
    out = mx.nd.lamb_update_phase2(mx.nd.array(w), mx.nd.array(g), mx.nd.array([0.0]), r2,
                                   lr=0.1)
    _close(out, [[-0.847608, 0.645427, -0.076869], [0.446954, 0.920133, 0.016244]])


def test_adamw_updates_match_mxnet_and_skip_on_bad_rescale():
    w, g, d, v, _ = _inputs()
    W, M, V = mx.nd.array(w), mx.nd.array(d), mx.nd.array(v)
    mx.nd.contrib.adamw_update(W, mx.nd.array(g), M, V, rescale_grad=0.5, lr=0.01, eta=0.5,
                               beta1=0.8, beta2=0.9, epsilon=1e-6, wd=0.1, clip_gradient=0.3,
                               out=W)
    # MXNet 1.9.1 printed (weight, mean, var).
    _close(W, [[-0.806943, 0.530868, -0.118603], [0.420621, 0.905633, 0.069984]])
    _close(M, [[0.354502, 0.067474, 0.241153], [0.734884, 0.269483, 0.465529]])
    _close(V, [[0.844277, 0.119168, 0.581807], [0.859605, 0.279758, 0.543277]])
    for bad in (float("nan"), float("inf"), 0.0):
        W, M, V = mx.nd.array(w), mx.nd.array(d), mx.nd.array(v)
        mx.nd.contrib.adamw_update(W, mx.nd.array(g), M, V, rescale_grad=mx.nd.array([bad]),
                                   lr=0.01, eta=0.5, out=W)
        for arr, want in ((W, w), (M, d), (V, v)):
            _close(arr, want)
    fresh = mx.nd.contrib.adamw_update(mx.nd.array(w), mx.nd.array(g), mx.nd.array(d),
                                       mx.nd.array(v), rescale_grad=float("nan"), lr=0.01, eta=1)
    _close(fresh, w)

    W, M, V, W32 = (mx.nd.array(w).astype("float16"), mx.nd.array(d), mx.nd.array(v),
                    mx.nd.array(w))
    mx.nd.contrib.mp_adamw_update(W, mx.nd.array(g).astype("float16"), M, V, W32,
                                  rescale_grad=0.5, lr=0.01, eta=0.5, wd=0.1, out=W)
    assert W.dtype == np.float16
    # MXNet 1.9.1 printed (weight float16, mean, var, weight32).
    np.testing.assert_allclose(W.asnumpy(), [[-0.807129, 0.530273, -0.118896],
                                             [0.42041, 0.905762, 0.070007]], atol=1e-3)
    _close(M, [[0.398674, 0.100611, 0.300241], [0.826759, 0.280762, 0.486592]])
    _close(V, [[0.937147, 0.12247, 0.639907], [0.954161, 0.306997, 0.59314]])
    np.testing.assert_allclose(W32.asnumpy(), [[-0.807073, 0.530408, -0.118899],
                                               [0.420352, 0.905647, 0.069983]], atol=2e-4)


def test_fused_ops_check_their_inputs():
    w = mx.nd.ones((2, 3))
    with pytest.raises(mx.base.MXNetError, match="r1 must be a one-element float32 array"):
        mx.nd.lamb_update_phase2(w, w, mx.nd.ones((2,)), mx.nd.ones((1,)), lr=0.1)
    with pytest.raises(mx.base.MXNetError, match="var has shape"):
        mx.nd.lamb_update_phase1(w, w, w, mx.nd.ones((3, 2)), t=1, wd=0)
    with pytest.raises(mx.base.MXNetError, match="weight32 has dtype"):
        mx.nd.contrib.mp_adamw_update(w.astype("float16"), w.astype("float16"), w, w,
                                      w.astype("float16"), rescale_grad=1, lr=0.1, eta=1)


def test_sym_adamw_update_binds():
    # MXNet 1.9.1's own mx.sym.contrib.adamw_update fails on a number rescale_grad ("Not enough
    # argument to call operator _adamw_update"); here it becomes a (1,) constant. The mutated
    # states are auxiliary states, as MXNet lists mutable inputs.
    names = ("weight", "grad", "mean", "var")
    sym = mx.sym.contrib.adamw_update(*(mx.sym.Variable(n) for n in names), rescale_grad=0.5,
                                      lr=0.01, eta=0.5, beta1=0.8, beta2=0.9, epsilon=1e-6,
                                      wd=0.1, clip_gradient=0.3)
    assert sym.list_arguments() == ["weight", "grad"]
    assert sym.list_auxiliary_states() == ["mean", "var"]
    w, g, d, v, _ = _inputs()
    mean, var = mx.nd.array(d), mx.nd.array(v)
    ex = sym.bind(mx.cpu(), {"weight": mx.nd.array(w), "grad": mx.nd.array(g)},
                  aux_states={"mean": mean, "var": var})
    out = ex.forward()
    _close(out[0], [[-0.806943, 0.530868, -0.118603], [0.420621, 0.905633, 0.069984]])
    _close(mean, [[0.354502, 0.067474, 0.241153], [0.734884, 0.269483, 0.465529]])


def _ftml_numpy(w, grads, lr, wd, beta1=0.6, beta2=0.999, eps=1e-8):
    d, v, z = np.zeros_like(w), np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, 1):
        g = g + wd * w
        v = beta2 * v + (1 - beta2) * g * g
        d_t = (1 - beta1 ** t) / lr * (np.sqrt(v / (1 - beta2 ** t)) + eps)
        z = beta1 * z + (1 - beta1) * g - (d_t - beta1 * d) * w
        d, w = d_t, -z / d_t
    return w


def _lamb_numpy(w, grads, lr, wd, lower=None, upper=None, beta1=0.9, beta2=0.999, eps=1e-6):
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, 1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        step = m / (1 - beta1 ** t) / (np.sqrt(v / (1 - beta2 ** t)) + eps) + wd * w
        r1, r2 = np.linalg.norm(w), np.linalg.norm(step)
        r1 = max(r1, lower) if lower else r1
        r1 = min(r1, upper) if upper else r1
        w = w - lr * (r1 / r2 if r1 > 0 and r2 > 0 else 1.0) * step
    return w


@pytest.mark.parametrize("name,oracle,kwargs", [
    ("ftml", _ftml_numpy, {}),
    ("lamb", _lamb_numpy, {}),
    ("lamb", _lamb_numpy, {"lower_bound": 5.0, "upper_bound": 6.0}),
])
def test_optimizers_on_the_fused_ops_follow_their_formulas(name, oracle, kwargs):
    rng = np.random.RandomState(1)
    w0 = rng.uniform(-1, 1, (4, 5))
    grads = [rng.uniform(-1, 1, (4, 5)) for _ in range(4)]
    opt = mx.optimizer.create(name, learning_rate=0.05, wd=0.01, **kwargs)
    weight = mx.nd.array(w0, dtype="float64")
    state = opt.create_state(0, weight)
    for g in grads:
        opt.update(0, weight, mx.nd.array(g, dtype="float64"), state)
    oracle_kwargs = {"lower": kwargs.get("lower_bound"), "upper": kwargs.get("upper_bound")} \
        if name == "lamb" else {}
    # float64 weights, but the ops' learning rate, wd and betas are C floats as in MXNet
    # (0.05 is stored as 0.0500000007), which the oracle's doubles miss by 1e-8
    np.testing.assert_allclose(weight.asnumpy(), oracle(w0, grads, 0.05, 0.01, **oracle_kwargs),
                               rtol=1e-6, atol=1e-9)
