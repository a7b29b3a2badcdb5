"""Statistical checks of random generators in ``mx.test_utils`` (MXNet 1.9.1): mean and
variance bands and Pearson's chi-square test. MXNet takes the chi-square p-value from scipy
and raises ImportError without it; oxnet computes it itself, so scipy is not needed."""
import math

import numpy as np


def _upper_gamma_regularized(a, x):
    """Q(a, x) = Γ(a, x) / Γ(a): a power series for P = 1 - Q below x = a + 1, where it
    converges fast, and a continued fraction for Q above, where the series would not."""
    if x <= 0:
        return 1.0
    log_prefix = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        n = a
        while abs(term) > abs(total) * 1e-16:
            n += 1
            term *= x / n
            total += term
        return max(0.0, 1.0 - total * math.exp(log_prefix))
    # Modified Lentz evaluation of the continued fraction for Γ(a, x).
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-16:
            break
    return math.exp(log_prefix) * h


def _chi2_sf(stat, dof):
    """P(X >= stat) for X chi-square distributed with ``dof`` degrees of freedom."""
    return _upper_gamma_regularized(dof / 2.0, stat / 2.0)


def gen_buckets_probs_with_ppf(ppf, nbuckets):
    """``nbuckets`` equal-probability buckets ``[(ppf(i/n), ppf((i+1)/n))]`` and their
    probabilities ``[1/n] * n`` for ``chi_square_check``."""
    assert nbuckets > 0
    probs = [1.0 / nbuckets for _ in range(nbuckets)]
    buckets = [(ppf(i / float(nbuckets)), ppf((i + 1) / float(nbuckets)))
               for i in range(nbuckets)]
    return buckets, probs


def mean_check(generator, mu, sigma, nsamples=1000000):
    """True when the mean of ``generator(nsamples)`` lies within mu ± 3 sigma / sqrt(n)."""
    samples = np.array(generator(nsamples))
    sample_mean = samples.mean()
    band = 3 * sigma / np.sqrt(nsamples)
    return (sample_mean > mu - band) and (sample_mean < mu + band)


def var_check(generator, sigma, nsamples=1000000):
    """True when the sample variance of ``generator(nsamples)`` lies within
    sigma^2 ± 3 sqrt(2 sigma^4 / (n - 1))."""
    samples = np.array(generator(nsamples))
    sample_var = samples.var(ddof=1)
    band = 3 * np.sqrt(2 * sigma ** 4 / (nsamples - 1))
    return (sample_var > sigma ** 2 - band) and (sample_var < sigma ** 2 + band)


def chi_square_check(generator, buckets, probs, nsamples=1000000):
    """Pearson's chi-square test of ``generator(nsamples)`` against ``probs``.

    ``buckets``: ascending, disjoint ``(low, high)`` ranges for a continuous generator, or
    the possible values of a discrete one. Returns ``(p, obs_freq, expected_freq)``; a
    small p (e.g. below 0.05) rejects the generator.
    """
    assert isinstance(buckets, list)
    samples = generator(nsamples)
    assert len(probs) == len(buckets)
    continuous_dist = isinstance(buckets[0], (list, tuple))
    if continuous_dist:
        buckets_npy = np.zeros((len(buckets) * 2,), dtype=np.float32)
        for i, (low, high) in enumerate(buckets):
            assert low <= high, "bucket %d is (%s, %s)" % (i, low, high)
            if i < len(buckets) - 1:
                assert high <= buckets[i + 1][0], "buckets %d and %d overlap" % (i, i + 1)
            buckets_npy[i * 2] = low
            buckets_npy[i * 2 + 1] = high
        # A sample in [low_i, high_i) lands at 2 i + 1; the integer half is the bucket.
        sample_bucket_ids = np.searchsorted(buckets_npy, samples, side="right") // 2
    else:
        sample_bucket_ids = np.array(samples)
    expected_freq = (nsamples * np.array(probs, dtype=np.float32)).astype(np.int32)
    obs_freq = np.zeros(shape=len(buckets), dtype=np.int64)
    for i, bucket in enumerate(buckets):
        obs_freq[i] = (sample_bucket_ids == (i if continuous_dist else bucket)).sum()
    expected = expected_freq.astype(np.float64)
    stat = float(((obs_freq - expected) ** 2 / expected).sum())
    p = _chi2_sf(stat, len(buckets) - 1)
    return p, obs_freq, expected_freq


def verify_generator(generator, buckets, probs, nsamples=1000000, nrepeat=5, success_rate=0.2,
                     alpha=0.05):
    """Runs ``chi_square_check`` ``nrepeat`` times and raises AssertionError unless p > alpha
    in at least ``nrepeat * success_rate`` of them; returns the p-values."""
    cs_ret_l, obs_freq_l, expected_freq_l = [], [], []
    for _ in range(nrepeat):
        cs_ret, obs_freq, expected_freq = chi_square_check(generator=generator, buckets=buckets,
                                                           probs=probs, nsamples=nsamples)
        cs_ret_l.append(cs_ret)
        obs_freq_l.append(obs_freq)
        expected_freq_l.append(expected_freq)
    success_num = (np.array(cs_ret_l) > alpha).sum()
    if success_num < nrepeat * success_rate:
        raise AssertionError("Generator test fails, Chi-square p=%s, obs_freq=%s, "
                             "expected_freq=%s.\nbuckets=%s, probs=%s"
                             % (str(cs_ret_l), str(obs_freq_l), str(expected_freq_l),
                                str(buckets), str(probs)))
    return cs_ret_l
