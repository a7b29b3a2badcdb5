"""Samplers against closed-form oracles: moments within 5 standard errors of ~200k draws,
goodness of fit (KS for gamma and exponential, chi-square for Poisson), per-element `_sample_*`
parameters, multinomial frequencies, shuffle, seeding, dtypes/shapes as MXNet 1.9.1, errors."""
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import oxnet as mx

N = 200_000
Z = 5.0  # standard errors allowed


def check_moments(x, mean, var):
    """Sample mean and variance against closed forms; the variance's standard error comes from
    the sample's fourth central moment."""
    x = np.asarray(x, dtype=np.float64).ravel()
    n = x.size
    m = x.mean()
    assert abs(m - mean) < Z * math.sqrt(var / n), (m, mean)
    d = x - m
    s2 = (d ** 2).mean()
    se = math.sqrt(max((d ** 4).mean() - s2 ** 2, 1e-300) / n)
    assert abs(s2 - var) < Z * se, (s2, var, se)


def ks_ok(x, cdf):
    """Kolmogorov-Smirnov: sqrt(n) D below 1.95 (p about 0.001)."""
    x = np.sort(np.asarray(x, dtype=np.float64).ravel())
    n = x.size
    f = cdf(x)
    d = max((np.arange(1, n + 1) / n - f).max(), (f - np.arange(n) / n).max())
    assert math.sqrt(n) * d < 1.95, d


def chi2_ok(counts, probs):
    """Pearson chi-square over categories with expected count >= 5 (the rest pooled), against
    the 0.999 quantile (Wilson-Hilferty)."""
    n = counts.sum()
    exp = probs * n
    keep = exp >= 5
    obs = np.append(counts[keep], counts[~keep].sum())
    ex = np.append(exp[keep], n - exp[keep].sum())
    if ex[-1] < 5:
        obs, ex = obs[:-1], ex[:-1]
        ex = ex * obs.sum() / ex.sum()
    stat = ((obs - ex) ** 2 / ex).sum()
    df = len(obs) - 1
    q = df * (1 - 2 / (9 * df) + 3.09 * math.sqrt(2 / (9 * df))) ** 3
    assert stat < q, (stat, q, df)


def poisson_pmf(lam, kmax):
    k = np.arange(kmax + 1)
    return np.exp(k * math.log(lam) - lam - np.array([math.lgamma(i + 1) for i in k]))


def draw(f, *args, **kw):
    mx.random.seed(42)
    return f(*args, **kw).asnumpy()


# ----------------------------------------------------------------------------- moments / fit

def test_bad_sampler_parameters_fail_at_the_call_but_not_in_a_symbol():
    # As MXNet 1.9.1: mx.nd raises at once; a symbol with such parameters builds and goes
    # through JSON (a graph MXNet saved loads), and fails when it runs (oxnet: at bind).
    with pytest.raises(mx.MXNetError, match="scale parameter in gaussian has to be positive"):
        mx.nd.random.normal(0, 0, shape=(2,))
    for s in (mx.sym.random_normal(loc=0, scale=0, shape=(2,)),
              mx.sym.random_uniform(low=1, high=0, shape=(2,))):
        again = mx.sym.load_json(s.tojson())
        with pytest.raises(mx.MXNetError, match="scale parameter|low .* must be <= high"):
            again.bind(mx.cpu(), {}).forward()


def test_exponential():
    x = draw(mx.nd.random.exponential, scale=2.0, shape=(N,))
    check_moments(x, 2.0, 4.0)
    ks_ok(x, lambda t: 1 - np.exp(-t / 2.0))
    y = draw(mx.nd.random_exponential, lam=0.5, shape=(N,))
    np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("alpha,beta", [(0.5, 2.0), (4.0, 0.5)])
def test_gamma(alpha, beta):
    x = draw(mx.nd.random.gamma, alpha, beta, shape=(N,))
    check_moments(x, alpha * beta, alpha * beta ** 2)
    assert (x > 0).all()
    if alpha == 0.5:
        erf = np.vectorize(math.erf)
        ks_ok(x, lambda t: erf(np.sqrt(t / beta)))
    else:
        def cdf(t):
            y = t / beta
            return 1 - np.exp(-y) * sum(y ** k / math.factorial(k) for k in range(4))
        ks_ok(x, cdf)


@pytest.mark.parametrize("lam", [3.0, 60.0])
def test_poisson(lam):
    x = draw(mx.nd.random.poisson, lam, shape=(N,))
    assert x.dtype == np.float32
    np.testing.assert_array_equal(x, np.round(x))
    check_moments(x, lam, lam)
    kmax = int(lam + 12 * math.sqrt(lam) + 10)
    counts = np.bincount(x.astype(np.int64), minlength=kmax + 1)[:kmax + 1]
    chi2_ok(counts.astype(np.float64), poisson_pmf(lam, kmax))


def test_poisson_zero_rate_is_zero():
    assert (draw(mx.nd.random.poisson, 0.0, shape=(100,)) == 0).all()


def test_negative_binomial():
    k, p = 3, 0.4
    x = draw(mx.nd.random.negative_binomial, k, p, shape=(N,))
    np.testing.assert_array_equal(x, np.round(x))
    check_moments(x, k * (1 - p) / p, k * (1 - p) / p ** 2)
    # P(X = 0) = p^k
    assert abs((x == 0).mean() - p ** k) < Z * math.sqrt(p ** k * (1 - p ** k) / N)
    assert (draw(mx.nd.random.negative_binomial, 2, 1.0, shape=(10,)) == 0).all()


def test_generalized_negative_binomial():
    mu, alpha = 2.0, 0.5
    x = draw(mx.nd.random.generalized_negative_binomial, mu, alpha, shape=(N,))
    np.testing.assert_array_equal(x, np.round(x))
    check_moments(x, mu, mu + alpha * mu * mu)
    # alpha = 0 is Poisson(mu)
    y = draw(mx.nd.random.generalized_negative_binomial, 4.0, 0.0, shape=(N,))
    check_moments(y, 4.0, 4.0)


# ----------------------------------------------------------------------------- _sample_*

def test_degenerate_parameters_draw_their_point_mass_as_mxnet():
    # MXNet 1.9.1 draws these (its own test_random feeds gamma an alpha of 0); the scalar
    # gamma and gaussian still refuse a zero alpha / scale, as there.
    g = mx.nd.random.gamma(mx.nd.array([0.0, 2.0, 3.0]), mx.nd.array([1.0, 1.0, 0.0]),
                           shape=(50,)).asnumpy()
    assert (g[0] == 0).all() and (g[1] > 0).all() and (g[2] == 0).all()
    n = mx.nd.random.normal(mx.nd.array([1.5, 0.0]), mx.nd.array([0.0, 1.0]), shape=(50,)).asnumpy()
    assert (n[0] == 1.5).all() and n[1].std() > 0
    nb = mx.nd.random.negative_binomial(mx.nd.array([0.0, 4.0]), mx.nd.array([0.5, 0.5]),
                                        shape=(50,)).asnumpy()
    assert (nb[0] == 0).all() and nb[1].sum() > 0
    assert (draw(mx.nd.random.negative_binomial, 0, 0.5, shape=(20,)) == 0).all()


def test_sample_ops_draw_per_element():
    mx.random.seed(3)
    m = 40_000
    lam = mx.nd.array([[1.0, 4.0], [0.5, 20.0]])
    x = mx.nd.sample_poisson(lam, shape=(m,)).asnumpy()
    assert x.shape == (2, 2, m) and x.dtype == np.float32
    for (i, j), l in np.ndenumerate(lam.asnumpy()):
        check_moments(x[i, j], l, l)
    a, b = mx.nd.array([0.5, 3.0]), mx.nd.array([1.0, 2.0])
    g = mx.nd.random.gamma(a, b, shape=(m,)).asnumpy()
    for i in range(2):
        check_moments(g[i], [0.5, 6.0][i], [0.5, 12.0][i])
    e = mx.nd.random.exponential(mx.nd.array([1.0, 10.0]), shape=(m,)).asnumpy()
    check_moments(e[0], 1.0, 1.0)
    check_moments(e[1], 10.0, 100.0)
    k, p = mx.nd.array([2.0, 5.0]), mx.nd.array([0.5, 0.8])
    nb = mx.nd.random.negative_binomial(k, p, shape=(m,)).asnumpy()
    for i, (kk, pp) in enumerate([(2, 0.5), (5, 0.8)]):
        check_moments(nb[i], kk * (1 - pp) / pp, kk * (1 - pp) / pp ** 2)
    gn = mx.nd.random.generalized_negative_binomial(
        mx.nd.array([1.0, 3.0]), mx.nd.array([0.0, 1.0]), shape=(m,)).asnumpy()
    check_moments(gn[0], 1.0, 1.0)
    check_moments(gn[1], 3.0, 12.0)
    u = mx.nd.sample_uniform(mx.nd.array([0.0, 10.0]), mx.nd.array([1.0, 14.0]), shape=(m,)).asnumpy()
    check_moments(u[0], 0.5, 1 / 12)
    check_moments(u[1], 12.0, 16 / 12)
    n = mx.nd.random.normal(mx.nd.array([-3.0, 100.0]), mx.nd.array([1.0, 5.0]), shape=(m,)).asnumpy()
    check_moments(n[0], -3.0, 1.0)
    check_moments(n[1], 100.0, 25.0)


def test_sample_ops_shapes_and_dtypes_as_mxnet():
    a = mx.nd.array([1.0, 2.0], dtype="float64")
    assert mx.nd.sample_normal(a, a).shape == (2,)
    assert mx.nd.sample_normal(a, a).dtype == np.float32      # MXNet: float32 unless dtype
    assert mx.nd.sample_normal(a, a, dtype="float16").dtype == np.float16
    assert mx.nd.sample_gamma(a, a, shape=(3, 4)).shape == (2, 3, 4)
    assert mx.nd.random.exponential(mx.nd.array([1, 2]), shape=2).shape == (2, 2)
    assert mx.nd.random.poisson(mx.nd.array([1, 2])).dtype == np.float32
    for f in (mx.nd.random_gamma, mx.nd.random_poisson, mx.nd.random_exponential,
              mx.nd.random_negative_binomial, mx.nd.random_generalized_negative_binomial):
        r = f(shape=(2, 3))
        assert r.shape == (2, 3) and r.dtype == np.float32
    assert mx.nd.random_poisson(lam=2, shape=(3,), dtype="float64").dtype == np.float64
    assert mx.nd.random.exponential().shape == (1,)
    assert mx.nd.random.randn(2, 3).shape == (2, 3)
    with pytest.raises(mx.MXNetError, match="one shape"):
        mx.nd.sample_gamma(mx.nd.ones((2,)), mx.nd.ones((3,)))


def test_unset_dtype_follows_out_as_mxnet():
    # MXNet 1.9.1: a draw without dtype takes out='s (among the dtypes it can draw); an explicit
    # dtype must match out; normal draws are never integers, randint never floats.
    calls = [lambda o: mx.nd.random.normal(shape=2, out=o),
             lambda o: mx.nd.random_uniform(shape=2, out=o),
             lambda o: mx.nd.random.poisson(shape=2, out=o),
             lambda o: mx.nd.random.uniform(mx.nd.ones(2), mx.nd.ones(2) * 2, out=o),
             lambda o: mx.nd.random.randint(0, 3, shape=2, out=o),
             lambda o: mx.nd.random.uniform(shape=2, dtype="float32", out=o)]
    want = [["float64", "float16", None, None]] * 4 + [[None, None, "int32", "int64"],
                                                       [None, None, None, None]]
    for call, row in zip(calls, want):
        for dtype, expect in zip(["float64", "float16", "int32", "int64"], row):
            out = mx.nd.zeros(2, dtype=dtype)
            if expect is None:
                with pytest.raises(mx.MXNetError):
                    call(out)
                continue
            r = call(out)
            assert r is out and r.dtype == np.dtype(expect)
            assert np.isfinite(r.asnumpy()).all()
    with pytest.raises(mx.MXNetError, match="dtype must be one of float16, float32, float64, got int32"):
        mx.nd.random.normal(shape=2, dtype="int32")
    with pytest.raises(mx.MXNetError, match="dtype must be one of int32, int64, got float32"):
        mx.nd.random.randint(0, 3, shape=2, dtype="float32")


# ----------------------------------------------------------------------------- multinomial

def test_multinomial_frequencies_and_log_prob():
    mx.random.seed(11)
    p = np.array([[0.1, 0.2, 0.3, 0.4], [0.7, 0.0, 0.0, 0.3]], dtype=np.float32)
    idx, lp = mx.nd.random.multinomial(mx.nd.array(p), shape=(N // 2,), get_prob=True)
    idx, lp = idx.asnumpy(), lp.asnumpy()
    assert idx.shape == (2, N // 2) and idx.dtype == np.int32 and lp.dtype == np.float32
    for r in range(2):
        chi2_ok(np.bincount(idx[r], minlength=4).astype(np.float64), p[r].astype(np.float64))
        np.testing.assert_allclose(lp[r], np.log(p[r][idx[r]]), rtol=1e-6)
    assert not np.isin(idx[1], [1, 2]).any()


def test_multinomial_shapes_and_dtypes_as_mxnet():
    p1 = mx.nd.array([0.2, 0.8])
    assert mx.nd.random.multinomial(p1).shape == (1,)
    assert mx.nd.random.multinomial(p1, shape=2).shape == (2,)
    assert mx.nd.random.multinomial(mx.nd.array([[0.5, 0.5]] * 3), shape=(2, 3)).shape == (3, 2, 3)
    r = mx.nd.sample_multinomial(mx.nd.array([0.2, 0.8], dtype="float64"), get_prob=True)
    assert r[0].dtype == np.int32 and r[1].dtype == np.float64
    assert mx.nd.random.multinomial(p1, dtype="float32").dtype == np.float32
    assert mx.nd.random.multinomial(p1, dtype="uint8").dtype == np.uint8


def test_multinomial_log_prob_gradient():
    p = mx.nd.array([[0.0, 1.0, 0.0], [0.25, 0.0, 0.75]])
    p.attach_grad()
    with mx.autograd.record():
        idx, lp = mx.nd.random.multinomial(p, shape=(5,), get_prob=True)
    lp.backward()
    want = np.zeros((2, 3))
    for r, row in enumerate(idx.asnumpy()):
        for j in row:
            want[r, j] += 1 / p.asnumpy()[r, j]
    np.testing.assert_allclose(p.grad.asnumpy(), want, rtol=1e-6)


# ----------------------------------------------------------------------------- shuffle

def test_shuffle_permutes_rows():
    mx.random.seed(5)
    x = np.arange(200 * 3, dtype=np.float32).reshape(200, 3)
    y = mx.nd.random.shuffle(mx.nd.array(x)).asnumpy()
    assert y.shape == x.shape
    assert sorted(map(tuple, y)) == sorted(map(tuple, x))
    assert not np.array_equal(x, y)
    assert (y[:, 1] - y[:, 0] == 1).all()      # rows move whole
    v = mx.nd.shuffle(mx.nd.arange(50, dtype="int32")).asnumpy()
    assert v.dtype == np.int32 and sorted(v.tolist()) == list(range(50))


# ----------------------------------------------------------------------------- seeding

@pytest.mark.parametrize("f", [
    lambda: mx.nd.random.gamma(0.7, 1.0, shape=(10_000,)),
    lambda: mx.nd.random.poisson(30.0, shape=(10_000,)),
    lambda: mx.nd.random.negative_binomial(2, 0.3, shape=(10_000,)),
    lambda: mx.nd.random.poisson(mx.nd.array([1.0, 50.0]), shape=(5000,)),
    lambda: mx.nd.random.multinomial(mx.nd.array([0.3, 0.7]), shape=(10_000,)),
    lambda: mx.nd.random.shuffle(mx.nd.arange(1000)),
])
def test_same_seed_same_numbers(f):
    mx.random.seed(123)
    a = f().asnumpy()
    mx.random.seed(123)
    b = f().asnumpy()
    mx.random.seed(124)
    c = f().asnumpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_numpy_integer_seeds():
    # MXNet's integer_types include numpy's: a seed drawn from a numpy generator works
    mx.random.seed(123)
    want = mx.nd.random.uniform(shape=(5,)).asnumpy()
    for s in (np.int64(123), np.int32(123), np.uint64(123)):
        mx.random.seed(s)
        np.testing.assert_array_equal(mx.nd.random.uniform(shape=(5,)).asnumpy(), want)
    with pytest.raises(ValueError, match="seed_state must be an int"):
        mx.random.seed(1.5)


_THREADS_SCRIPT = """
import numpy as np, oxnet as mx
mx.random.seed(9)
a = mx.nd.random.gamma(0.8, 2.0, shape=(50_000,)).asnumpy()
b = mx.nd.random.poisson(mx.nd.array([2.0, 40.0]), shape=(30_000,)).asnumpy()
c = mx.nd.random.multinomial(mx.nd.array([0.2, 0.3, 0.5]), shape=(30_000,)).asnumpy()
print(hash(a.tobytes()) ^ hash(b.tobytes()) ^ hash(c.tobytes()))
"""


def test_results_do_not_depend_on_thread_count():
    outs = []
    for n in ("1", "4"):
        env = dict(os.environ, OMP_NUM_THREADS=n, PYTHONHASHSEED="0")
        r = subprocess.run([sys.executable, "-c", _THREADS_SCRIPT], capture_output=True,
                           text=True, env=env, timeout=120)
        assert r.returncode == 0, r.stderr
        outs.append(r.stdout.strip())
    assert outs[0] == outs[1]


def test_symbol_random_module():
    a, b = mx.sym.var("a"), mx.sym.var("b")
    s = mx.sym.random.gamma(a, b, shape=(2,))
    assert s.list_arguments() == ["a", "b"]
    _, out, _ = s.infer_shape(a=(3,), b=(3,))
    assert out == [(3, 2)]
    _, out, _ = mx.sym.random.randn(2, 3).infer_shape()
    assert out == [(2, 3)]
    # MXNet 1.9.1's mx.sym.random.multinomial defaults to get_prob=True (mx.nd's to False).
    with mx.name.NameManager():  # counters of its own: other tests made multinomials too
        m = mx.sym.random.multinomial(mx.sym.var("d"))
    assert m.list_outputs() == ["_sample_multinomial0_output0", "_sample_multinomial0_output1"]
    assert len(mx.sym.random.multinomial(mx.sym.var("d"), get_prob=False).list_outputs()) == 1



def test_a_draw_without_shape_takes_it_from_out_or_the_graph():
    # MXNet 1.9.1: the `_random_*` ops' shape defaults to unknown; out= or the consumers give it.
    for f, dtype in ((lambda o: mx.nd.random_uniform(low=0, high=5, out=o), "float32"),
                     (lambda o: mx.nd.random_normal(out=o), "float64"),
                     (lambda o: mx.nd.random_randint(low=0, high=5, out=o), "int32"),
                     (lambda o: mx.nd.random.uniform(0, 1, shape=(), out=o), "float32")):
        out = mx.nd.zeros((2, 3), dtype=dtype)
        r = f(out)
        assert r is out and r.shape == (2, 3) and r.dtype == np.dtype(dtype)
    r = mx.nd.random_randint(low=2, high=5, out=mx.nd.zeros((50,), dtype="int32")).asnumpy()
    assert r.min() >= 2 and r.max() < 5
    x = mx.sym.Variable("x")
    for s in (x + mx.sym.random.uniform(), x + mx.sym.random_normal(),
              x + mx.sym.random.randint(0, 5)):
        assert s.infer_shape(x=(2, 3))[1] == [(2, 3)]
    exe = (x + mx.sym.random.uniform(low=10, high=11)).bind(mx.cpu(), {"x": mx.nd.zeros((2, 3))})
    y = exe.forward()[0].asnumpy()
    assert y.shape == (2, 3) and ((y >= 10) & (y < 11)).all()
    assert mx.sym.random.randint(0, 5).list_attr() == {"low": "0", "high": "5", "dtype": "int32"}


def test_sample_ops_pass_zero_gradients_to_their_parameters():
    # MXNet registers zero gradients for the samplers: a graph that also uses the parameters
    # elsewhere runs backward (MXNet 1.9.1 printed mu.grad [3, 3], sigma.grad [0, 0]).
    mu, sigma = mx.nd.array([0.0, 1.0]), mx.nd.array([1.0, 2.0])
    mu.attach_grad()
    sigma.attach_grad()
    for sampler in (lambda: mx.nd.sample_normal(mu, sigma, shape=(3,)),
                    lambda: mx.nd.random.normal(mu, sigma),
                    lambda: mx.nd.sample_gamma(sigma, sigma),
                    lambda: mx.nd.sample_poisson(sigma)):
        with mx.autograd.record():
            y = (sampler() * 2).sum() + (mu * 3).sum()
        y.backward()
        np.testing.assert_array_equal(mu.grad.asnumpy(), [3, 3])
        np.testing.assert_array_equal(sigma.grad.asnumpy(), [0, 0])


# ----------------------------------------------------------------------------- errors

@pytest.mark.parametrize("f,match", [
    (lambda: mx.nd.random_exponential(lam=-1, shape=(2,)), "lambda.*_random_exponential"),
    (lambda: mx.nd.random_gamma(alpha=0, shape=(2,)), "alpha.*_random_gamma"),
    (lambda: mx.nd.random_gamma(beta=-1, shape=(2,)), "beta.*_random_gamma"),
    (lambda: mx.nd.random_poisson(lam=-1, shape=(2,)), "lambda.*_random_poisson"),
    (lambda: mx.nd.random_negative_binomial(k=1, p=0, shape=(2,)), "p parameter.*_random_negative_binomial"),
    (lambda: mx.nd.random_negative_binomial(k=1, p=1.5, shape=(2,)), "p parameter.*_random_negative_binomial"),
    (lambda: mx.nd.random_negative_binomial(k=-1, p=0.5, shape=(2,)), "k parameter.*_random_negative_binomial"),
    (lambda: mx.nd.random_gamma(alpha=0, shape=(2,)), "alpha.*_random_gamma"),
    (lambda: mx.nd.random_generalized_negative_binomial(mu=1, alpha=-1, shape=(2,)),
     "alpha.*_random_generalized_negative_binomial"),
    (lambda: mx.nd.sample_gamma(mx.nd.array([1.0, -1.0]), mx.nd.array([1.0, 1.0])), "alpha.*_sample_gamma"),
    (lambda: mx.nd.sample_poisson(mx.nd.array([-2.0])), "lambda.*_sample_poisson"),
    (lambda: mx.nd.sample_negative_binomial(mx.nd.array([1.0]), mx.nd.array([0.0])),
     "p parameter.*_sample_negative_binomial"),
    (lambda: mx.nd.sample_multinomial(mx.nd.array([0.5, 0.8])), "sum to 1.*_sample_multinomial"),
    (lambda: mx.nd.sample_multinomial(mx.nd.array([-0.5, 1.5])), "non-negative.*_sample_multinomial"),
    (lambda: mx.nd.sample_multinomial(mx.nd.zeros((2, 0))), "_sample_multinomial.*category"),
])
def test_bad_parameters_raise(f, match):
    with pytest.raises(mx.MXNetError, match=match):
        f().asnumpy()
