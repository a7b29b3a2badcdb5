"""Shared by test_quantization.py and test_quantization_e2e.py: the MXNet 1.9.1 fixtures in
data/quantization/ (written by quantization_mxnet_ref.py), the seeded calibration data they
were made with, a numpy port of MXNet's KL-divergence threshold search (the oracle for
`_contrib_calibrate_entropy`), and a graph comparison that tolerates calibration ranges a few
float32 ulps apart (oxnet's FP32 forward is not bit-identical to oneDNN's)."""
import json
import os

import numpy as np

import oxnet as mx

QDATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'quantization')

with open(os.path.join(QDATA, 'reference.json')) as _f:
    REF = json.load(_f)

CASES = sorted(k for k in REF if not k.startswith('_'))
SHAPES = {'mlp': (2, 12), 'cnn': (2, 3, 8, 8), 'edge': (2, 2, 4, 4), 'branch': (2, 7),
          'emb': (2, 4)}


def calib_arrays(net):
    """The calibration set of quantization_mxnet_ref.calib_data: 16 examples, 5 classes."""
    rng = np.random.RandomState(7)
    x = rng.normal(size=(16,) + SHAPES[net][1:]).astype('float32')
    if net == 'emb':  # indices 0..4 for the Embedding
        x = rng.randint(0, 5, size=(16,) + SHAPES[net][1:]).astype('float32')
    y = rng.randint(0, 5, size=(16,)).astype('float32')
    return x, y


def calib_iter(net):
    x, y = calib_arrays(net)
    return mx.io.NDArrayIter(x, y, batch_size=4, label_name='softmax_label')


def fp32_model(net):
    """(symbol, arg_params, aux_params) of a fixture net, as MXNet saved them."""
    sym = mx.sym.load(os.path.join(QDATA, '%s-symbol.json' % net))
    args, auxs = {}, {}
    for key, value in mx.nd.load(os.path.join(QDATA, '%s-0000.params' % net)).items():
        kind, name = key.split(':', 1)
        (args if kind == 'arg' else auxs)[name] = value
    return sym, args, auxs


def mxnet_qjson(case):
    with open(os.path.join(QDATA, '%s-quantized-symbol.json' % case)) as f:
        return json.load(f)


def mxnet_qparams(case):
    return mx.nd.load(os.path.join(QDATA, '%s-quantized.params' % case))


def kwargs_of(case):
    return dict(REF[case]['kwargs'])


_CALIB_KEYS = ('min_calib_range', 'max_calib_range')


def assert_same_graph(got, want, calib_atol=0.0):
    """Same nodes (op, name, inputs, attrs), heads, arg_nodes and node_row_ptr; the
    calibration attributes may differ by `calib_atol`."""
    assert [n['name'] for n in got['nodes']] == [n['name'] for n in want['nodes']]
    for g, w in zip(got['nodes'], want['nodes']):
        assert g['op'] == w['op'], g['name']
        assert g['inputs'] == w['inputs'], g['name']
        ga, wa = dict(g.get('attrs', {})), dict(w.get('attrs', {}))
        for key in _CALIB_KEYS:
            assert (key in ga) == (key in wa), (g['name'], key)
            if key in wa:
                gv, wv = float(ga.pop(key)), float(wa.pop(key))
                assert abs(gv - wv) <= calib_atol, (g['name'], key, gv, wv)
        assert ga == wa, g['name']
    for key in ('heads', 'arg_nodes', 'node_row_ptr'):
        assert got[key] == want[key], key


def _smooth(p, eps=0.0001):
    p = np.asarray(p, dtype=np.float32)
    zeros = p == 0
    n_zeros = int(zeros.sum())
    n_nonzeros = p.size - n_zeros
    if not n_nonzeros:
        return None
    eps1 = np.float32(eps * np.float32(n_zeros) / np.float32(n_nonzeros))
    if eps1 >= 1.0:
        return None
    return np.where(zeros, p + np.float32(eps), p - eps1).astype(np.float32)


def _seq_sum(x):
    return np.cumsum(x, dtype=np.float32)[-1]


def kl_threshold(hist, edges, num_quantized_bins=255):
    """numpy port of MXNet 1.9.1's CalibrateComputeCPU (src/operator/quantization/
    calibrate.cc): for each candidate half-width i, clip the histogram to the 2i+1 middle
    bins (outliers into the end bins), merge it into num_quantized_bins bins, spread each
    merged count back over the non-empty source bins, smooth both and take KL(p || q); the
    threshold is the right edge of the best candidate. Returns (threshold, divergence)."""
    hist = np.asarray(hist, dtype=np.float32)
    edges = np.asarray(edges, dtype=np.float32)
    num_bins = hist.size
    zero = num_bins // 2
    half_q = num_quantized_bins // 2
    best_div, best_th = np.float32(np.finfo(np.float32).max), None
    for i in range(half_q, zero + 1):
        start, stop = zero - i, zero + i + 1
        # p: the clipped distribution, outliers summed into the end bins; `sliced` is the
        # same window without the left outliers (MXNet never writes its first slot)
        p = hist[start:stop].copy()
        p[0] = hist[:start + 1].sum(dtype=np.float64)
        p[-1] = hist[stop - 1:].sum(dtype=np.float64)
        sliced = hist[start:stop].astype(np.float64)
        sliced[0] = 0
        n = sliced.size
        merged = n // num_quantized_bins
        group = np.minimum(np.arange(n) // merged, num_quantized_bins - 1)
        qb = np.bincount(group, weights=sliced, minlength=num_quantized_bins)
        norm = np.bincount(group, weights=(sliced != 0), minlength=num_quantized_bins)
        spread = np.zeros(n, dtype=np.float32)
        ok = norm[group] > 0
        spread[ok] = qb[group][ok].astype(np.float32) / norm[group][ok].astype(np.float32)
        q = np.where(p != 0, spread, np.float32(0)).astype(np.float32)
        th = edges[stop]
        ps, qs = _smooth(p), _smooth(q)
        if qs is None or ps is None:
            div = np.float32(np.inf)
        else:
            # MXNet sums in float32 left to right; cumsum does too (np.sum would pair up),
            # and near-equal candidates make the argmin sensitive to that order
            ps = ps / _seq_sum(ps)
            qs = qs / _seq_sum(qs)
            div = _seq_sum(ps * np.log(ps / qs))
        if div < best_div:
            best_div, best_th = div, th
    return np.float32(best_th), best_div
