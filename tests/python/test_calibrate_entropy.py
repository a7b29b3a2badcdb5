"""`_contrib_calibrate_entropy` (mx.nd.contrib.calibrate_entropy): the KL-divergence threshold
search of entropy calibration, against MXNet 1.9.1's printed result and a numpy model of its
algorithm."""
import numpy as np
import pytest

import oxnet as mx


def _smooth(p, eps=1e-4):
    zeros = p == 0
    nz = int((~zeros).sum())
    if nz == 0:
        return None
    eps1 = np.float32(eps * zeros.sum() / nz)
    if eps1 >= 1:
        return None
    return np.where(zeros, p + np.float32(eps), p - eps1).astype(np.float32)


def _numpy_calibrate(hist, edges, levels):
    """MXNet 1.9.1's calibrate.cc written with numpy (float64 sums; thresholds compared)."""
    hist = hist.astype(np.float32)
    counts = hist.astype(np.int64)
    zero = len(hist) // 2
    best = (np.inf, None)
    for half in range(levels // 2, zero + 1):
        start, stop = zero - half, zero + half + 1
        p = hist[start:stop].copy()
        p[0] = hist[:start + 1].sum()
        p[-1] += hist[stop:].sum()
        sliced = counts[start:stop].copy()
        sliced[0] = 0
        merged = len(sliced) // levels
        q = np.zeros_like(p)
        for j in range(levels):
            b = j * merged
            e = len(sliced) if j == levels - 1 else b + merged
            nonzero = np.count_nonzero(sliced[b:e])
            if nonzero:
                q[b:e] = np.where(p[b:e] != 0, sliced[b:e].sum() / nonzero, 0)
        ps, qs = _smooth(p), _smooth(q)
        if ps is None or qs is None:
            continue
        ps, qs = ps / ps.sum(), qs / qs.sum()
        d = float(np.sum(ps * np.log(ps / qs)))
        if d < best[0]:
            best = (d, edges[stop])
    return best[1], best[0]


def _normal_hist(seed=0, bins=2001):
    np.random.seed(seed)
    x = np.random.normal(size=10000).astype('float32')
    return np.histogram(x, bins=bins, range=(-4, 4))


def test_matches_mxnet_printed_threshold():
    h, e = _normal_hist()
    t, d = mx.nd.contrib.calibrate_entropy(mx.nd.array(h), mx.nd.array(e), num_quantized_bins=255)
    # MXNet 1.9.1 printed 3.0524738 and 0.04385798 for this histogram.
    assert t.shape == (1,) and d.shape == (1,) and t.dtype == np.float32
    assert t.asscalar() == pytest.approx(3.0524738, abs=1e-6)
    assert d.asscalar() == pytest.approx(0.04385798, rel=1e-4)


@pytest.mark.parametrize("seed,bins,levels", [(1, 1001, 255), (2, 401, 31), (3, 2001, 127)])
def test_matches_numpy_model(seed, bins, levels):
    h, e = _normal_hist(seed, bins)
    t, d = mx.nd.contrib.calibrate_entropy(mx.nd.array(h), mx.nd.array(e),
                                           num_quantized_bins=levels)
    t_ref, d_ref = _numpy_calibrate(h, e.astype(np.float32), levels)
    assert t.asscalar() == pytest.approx(t_ref, abs=1e-6)
    assert d.asscalar() == pytest.approx(d_ref, rel=1e-3)


def test_symbol_outputs_and_errors():
    s = mx.sym.contrib.calibrate_entropy(mx.sym.var('hist'), mx.sym.var('hist_edges'))
    assert s.list_arguments() == ['hist', 'hist_edges']
    assert s.list_outputs() == [s.name + '_threshold', s.name + '_divergence']
    with pytest.raises(mx.base.MXNetError, match="one more element"):
        mx.nd.contrib.calibrate_entropy(mx.nd.ones(10), mx.nd.ones(10))
    with pytest.raises(mx.base.MXNetError, match="num_quantized_bins"):
        mx.nd.contrib.calibrate_entropy(mx.nd.ones(11), mx.nd.ones(12))
    with pytest.raises(mx.base.MXNetError, match="float32"):
        mx.nd.contrib.calibrate_entropy(mx.nd.ones(301, dtype='float64'), mx.nd.ones(302))
    with pytest.raises(mx.base.MXNetError, match="non-negative"):
        h = np.ones(301, dtype=np.float32)
        h[3] = -1
        mx.nd.contrib.calibrate_entropy(mx.nd.array(h), mx.nd.ones(302))[0].wait_to_read()
