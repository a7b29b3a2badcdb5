"""MXNet 1.9.1's INT8 quantization operators (`_contrib_quantize*`, `_contrib_dequantize`,
`_contrib_requantize`, `_contrib_quantized_*`): exact integer outputs and ranges against a numpy
re-implementation of the arithmetic of MXNet's CPU (oneDNN) kernels and against the values
MXNet 1.9.1 printed for the same seeded inputs (quantized_mxnet_ref.py), error cases, symbol
argument names, and a JSON graph MXNet wrote."""
import os

import numpy as np
import pytest

import oxnet as mx
from oxnet.base import MXNetError

from quantized_mxnet_ref import (CHAIN_ARGS, CHAIN_OUT0, CHAIN_OUT1, CHAIN_OUTPUTS, MUL_FLOAT_OUTPUTS,
                                 MX, NAMES)

_ERR = (MXNetError, ValueError, TypeError, NotImplementedError)
F = np.float32
C = mx.nd.contrib
DATA = os.path.join(os.path.dirname(__file__), 'data')


def inputs():
    """The seeded inputs MXNet's values in quantized_mxnet_ref.py were printed for (same draws,
    same order)."""
    rs = np.random.RandomState(7)
    d = {'x': rs.uniform(-2, 3, size=(2, 6)).astype(F)}
    d['q8'] = rs.randint(-128, 128, size=(2, 6)).astype(np.int8)
    d['u8'] = rs.randint(0, 256, size=(2, 6)).astype(np.uint8)
    d['i32'] = rs.randint(-2 ** 20, 2 ** 20, size=(2, 6)).astype(np.int32)
    d['q8b'] = rs.randint(-128, 128, size=(2, 6)).astype(np.int8)
    d['p4'] = rs.randint(-128, 128, size=(1, 2, 5, 5)).astype(np.int8)
    d['b4'] = rs.randint(-128, 128, size=(2, 3, 2, 3)).astype(np.int8)
    d['gamma'] = rs.uniform(0.5, 2, 3).astype(F)
    d['beta'] = rs.uniform(-1, 1, 3).astype(F)
    d['mean'] = rs.uniform(-0.5, 0.5, 3).astype(F)
    d['var'] = rs.uniform(0.2, 2, 3).astype(F)
    d['wq'] = rs.randint(-128, 128, size=(5, 3)).astype(np.int8)
    return d


def R(v):
    return mx.nd.array([v])


def nd(a):
    return mx.nd.array(a, dtype=a.dtype)


def outs(o):
    return [a.asnumpy() for a in (o if isinstance(o, (list, tuple)) else [o])]


def same(got, want, dtype=None):
    """Exact equality of values (and dtype when given) of an op's outputs with expected ones."""
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, np.asarray(w, dtype=g.dtype))
    if dtype is not None:
        assert got[0].dtype == np.dtype(dtype)


# ---------------------------------------------------------------- numpy oracles (oneDNN rules)
LEVELS = {'int8': F(127.5), 'uint8': F(255.5), 'int32': F(2 ** 31 - 1)}
LIMITS = {'int8': (-128, 127), 'uint8': (0, 255), 'int32': (-2 ** 31, 2 ** 31 - 1)}


def rne(v, t):
    """Round half to even, saturate to type t (oneDNN's float-to-integer conversion)."""
    lo, hi = LIMITS[t]
    return np.clip(np.rint(v.astype(np.float64)), lo, hi)


def maxabs(lo, hi):
    return F(max(abs(F(lo)), abs(F(hi))))


def np_quantize(x, lo, hi, t):
    scale = F(127 if t == 'int8' else 255) / maxabs(lo, hi)
    r = maxabs(lo, hi)
    return rne(x * scale, t), (-r, r) if t == 'int8' else (lo, hi)


def np_quantize_v2(x, t='int8', calib=None):
    lo, hi = calib if calib else (x.min(), x.max())
    r = maxabs(lo, hi)
    return rne(x * (LEVELS[t] / r), t), (-r, r) if t == 'int8' else (lo, hi)


def np_quantize_asym(x, calib=None):
    lo, hi = (F(calib[0]), F(calib[1])) if calib else (x.min(), x.max())
    scale = F(255) / (hi - lo)
    shift = F(255) - hi * scale
    return rne(x * scale + shift, 'uint8'), scale, shift


def np_dequantize(q, lo, hi, t):
    return q.astype(F) * (maxabs(lo, hi) / LEVELS[t])


def np_requantize(q, lo, hi, t='int8', calib=None):
    in_real = maxabs(lo, hi)
    if calib:
        real = maxabs(*calib)
    else:
        real = F(int(max(abs(int(q.min())), abs(int(q.max()))))) * in_real / F(2 ** 31 - 1)
    levels = F(127 if t == 'int8' else 255)
    scale = (in_real / F(2 ** 31 - 1)) * (levels / real)
    return rne(q.astype(F) * scale, t), (-real if t == 'int8' else F(0), real)


def np_add(a, b, ra, rb, calib=None):
    ta, tb = str(a.dtype), str(b.dtype)
    tout = (ta if ta == tb else 'int8') if calib else 'int32'
    aa, ab = maxabs(*ra), maxabs(*rb)
    sa, sb = LEVELS[ta] / aa, LEVELS[tb] / ab
    lvl = LEVELS[tout]
    a, b = a.astype(F), b.astype(F)
    if calib:
        oscale = lvl / maxabs(*calib)
        s = [oscale / sa, oscale / sb]
        rng = calib
    else:
        tot = aa + ab
        s = [aa * lvl / (tot * LEVELS[ta]), ab * lvl / (tot * LEVELS[tb])]
        rng = (-tot, tot)
    if ta != tb:
        # the uint8 operand is first rescaled to int8 with its own scale
        if ta == 'int8':
            b = rne(b * F(s[1]), 'int8').astype(F)
            s[1] = F(1)
        else:
            a = rne(a * F(s[0]), 'int8').astype(F)
            s[0] = F(1)
    return rne(F(s[0]) * a + F(s[1]) * b, tout), rng, tout


def np_concat(arrays, ranges, dim):
    lo = min([F(0)] + [F(r[0]) for r in ranges])
    hi = max([F(0)] + [F(r[1]) for r in ranges])
    tout = 'uint8' if all(a.dtype == np.uint8 for a in arrays) else 'int8'
    oscale = LEVELS[tout] / maxabs(lo, hi)
    parts = []
    for a, r in zip(arrays, ranges):
        iscale = LEVELS[str(a.dtype)] / maxabs(*r)
        v = a.astype(F)
        if iscale != oscale or str(a.dtype) != tout:
            v = rne(v * (oscale / iscale), tout)
        parts.append(v)
    return np.concatenate(parts, axis=dim), (lo, hi), tout


def np_pool(x, k, s, p, kind, include_pad=True):
    """2-D pooling of NCHW data with symmetric padding and MXNet's 'valid' convention; a padded
    average divides by the kernel's area (oneDNN's avg_include_padding)."""
    n, c, h, w = x.shape
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            y0, x0 = i * s - p, j * s - p
            y1, x1 = min(y0 + k, h + p), min(x0 + k, w + p)
            win = x[:, :, max(y0, 0):min(y1, h), max(x0, 0):min(x1, w)].astype(np.float64)
            if kind == 'max':
                out[:, :, i, j] = win.max(axis=(2, 3))
            else:
                div = k * k if include_pad else win.shape[2] * win.shape[3]
                out[:, :, i, j] = win.sum(axis=(2, 3)) / div
    return rne(out.astype(F), 'int8')


def np_bn(x, g, b, m, v, rd, calib, eps):
    ad, ao = maxabs(*rd), maxabs(*calib)
    invstd = (1.0 / np.sqrt(v.astype(np.float64) + eps)).astype(F)
    w = g * invstd * ad / ao
    shift = (b - m * g * invstd) * F(127.5) / ao
    xs = x.astype(F)
    if x.dtype == np.uint8:
        xs = rne(xs * (F(127.5) / F(255.5)), 'int8').astype(F)
    w = w / np.sqrt(F(1) + F(eps))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return rne(xs * w.reshape(shape) + shift.reshape(shape), 'int8')


# ---------------------------------------------------------------- quantize family
def test_quantize_v2_matches_mxnet_and_numpy():
    d = inputs()
    x = d['x']
    for key, kw, calib, t, data in [
            ('quantize_v2', {}, None, 'int8', x),
            ('quantize_v2_u8', {'out_type': 'uint8'}, None, 'uint8', x),
            ('quantize_v2_calib', {'min_calib_range': -1.5, 'max_calib_range': 2.0}, (-1.5, 2.0),
             'int8', x),
            ('quantize_v2_auto', {'out_type': 'auto', 'min_calib_range': 0.0,
                                  'max_calib_range': 2.5}, (0.0, 2.5), 'uint8', np.abs(x))]:
        got = outs(C.quantize_v2(mx.nd.array(data), **kw))
        same(got, MX[key], t)
        q, (lo, hi) = np_quantize_v2(data, t, calib)
        same(got, [q, [lo], [hi]])


def test_quantize_v2_rounds_half_to_even():
    # range ±127.5 makes the scale exactly 1; MXNet 1.9.1 printed these values.
    x = mx.nd.array([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 126.5, 127.4, 128, -128.5, -200])
    same(outs(C.quantize_v2(x, min_calib_range=-127.5, max_calib_range=127.5)),
         [[0, 2, 2, 4, 0, -2, -2, 126, 127, 127, -128, -128], [-127.5], [127.5]])


def test_quantize_v2_passes_quantized_data_through():
    # MXNet 1.9.1: bytes kept, declared type from out_type; ranges ±127.5 / (0, 255.5).
    same(outs(C.quantize_v2(mx.nd.array([200, 4], dtype='uint8'))), [[-56, 4], [0], [255.5]],
         'int8')
    same(outs(C.quantize_v2(mx.nd.array([-3, 4], dtype='int8'), out_type='uint8')),
         [[253, 4], [-127.5], [127.5]], 'uint8')
    same(outs(C.quantize_v2(mx.nd.array([-3, 4], dtype='int8'), min_calib_range=-2.0,
                            max_calib_range=3.0)), [[-3, 4], [-2], [3]], 'int8')


def test_quantize_matches_mxnet_and_numpy():
    x = inputs()['x']
    for key, t in [('quantize_i8', 'int8'), ('quantize_u8', 'uint8')]:
        kw = {'out_type': 'int8'} if t == 'int8' else {}
        got = outs(C.quantize(mx.nd.array(x), R(-1.0), R(2.5), **kw))
        same(got, MX[key], t)
        q, (lo, hi) = np_quantize(x, -1.0, 2.5, t)
        same(got, [q, [lo], [hi]])


def test_quantize_asym_matches_mxnet_and_numpy():
    x = inputs()['x'].reshape(1, 2, 6)
    for key, calib in [('quantize_asym', None), ('quantize_asym_calib', (-1.0, 2.0))]:
        kw = {'min_calib_range': calib[0], 'max_calib_range': calib[1]} if calib else {}
        got = outs(C.quantize_asym(mx.nd.array(x), **kw))
        same(got, MX[key], 'uint8')
        q, scale, shift = np_quantize_asym(x, calib)
        same(got, [q, [scale], [shift]])
    # MXNet crashes on non-3-D data; here every shape takes the same rule
    flat = outs(C.quantize_asym(mx.nd.array(x.reshape(12))))
    same(flat, [np.array(MX['quantize_asym'][0]).reshape(12)] + MX['quantize_asym'][1:])


def test_dequantize_matches_mxnet_and_numpy():
    d = inputs()
    got = outs(C.dequantize(nd(d['q8']), R(-0.7), R(1.3)))
    same(got, MX['dequantize_i8'], 'float32')
    same(got, [np_dequantize(d['q8'], -0.7, 1.3, 'int8')])
    got = outs(C.dequantize(nd(d['u8']), R(0.0), R(1.3)))
    same(got, MX['dequantize_u8'], 'float32')
    same(got, [np_dequantize(d['u8'], 0.0, 1.3, 'uint8')])
    # int32 (refused by MXNet 1.9.1): 2^31 - 1 levels
    q = np.array([-2 ** 30, 5, 2 ** 31 - 1], dtype=np.int32)
    same(outs(C.dequantize(nd(q), R(-2.0), R(2.0))), [np_dequantize(q, -2.0, 2.0, 'int32')])


def test_requantize_matches_mxnet_and_numpy():
    d = inputs()
    for key, kw, t, calib in [
            ('requantize', {}, 'int8', None),
            ('requantize_calib', {'min_calib_range': -0.01, 'max_calib_range': 0.015}, 'int8',
             (-0.01, 0.015)),
            ('requantize_u8', {'out_type': 'uint8', 'min_calib_range': -0.01,
                               'max_calib_range': 0.015}, 'uint8', (-0.01, 0.015))]:
        got = outs(C.requantize(nd(d['i32']), R(-50.0), R(50.0), **kw))
        same(got, MX[key], t)
        q, (lo, hi) = np_requantize(d['i32'], -50.0, 50.0, t, calib)
        same(got, [q, [lo], [hi]])
    # auto: uint8 only when calibrated with a non-negative minimum
    assert C.requantize(nd(d['i32']), R(-50.0), R(50.0), out_type='auto')[0].dtype == np.int8
    assert C.requantize(nd(d['i32']), R(-50.0), R(50.0), out_type='auto', min_calib_range=0.0,
                        max_calib_range=1.0)[0].dtype == np.uint8


# ---------------------------------------------------------------- elementwise
def test_elemwise_add_matches_mxnet_and_numpy():
    d = inputs()
    q8, q8b, u8 = d['q8'], d['q8b'], d['u8']
    cases = [('add_calib', q8, q8b, (-0.7, 1.3), (-2.0, 0.5), (-2.0, 2.0)),
             ('add_u8', u8, u8[::-1].copy(), (0.0, 1.3), (0.0, 0.5), (0.0, 1.5)),
             ('add_mixed', q8, u8, (-0.7, 1.3), (0.0, 0.5), (-1.0, 1.5)),
             ('add_i32', q8, q8b, (-0.7, 1.3), (-2.0, 0.5), None)]
    for key, a, b, ra, rb, calib in cases:
        kw = {'min_calib_range': calib[0], 'max_calib_range': calib[1]} if calib else {}
        got = outs(C.quantized_elemwise_add(nd(a), nd(b), R(ra[0]), R(ra[1]), R(rb[0]), R(rb[1]),
                                            **kw))
        q, (lo, hi), t = np_add(a, b, ra, rb, calib)
        assert got[0].dtype == np.dtype(t)
        same(got, [q, [lo], [hi]])
        if calib:
            same(got, MX[key])
        else:
            # int32 sums: oneDNN may fuse the multiply-add; within 64 int32 levels (one int8
            # level here is ~2^24 of them)
            np.testing.assert_allclose(got[0], MX[key][0], rtol=0, atol=64)
            same(got[1:], MX[key][1:])


def test_elemwise_add_mixed_int32_saturates_the_uint8_operand_as_mxnet():
    # MXNet 1.9.1 printed these: uint8 255 over (0, 2) rescaled into int8 saturates at 127.
    l = mx.nd.array([-127, -50, 0, 3, 100, 127], dtype='int8')
    r = mx.nd.array([255, 20, 5, 3, 100, 128], dtype='uint8')
    got = outs(C.quantized_elemwise_add(l, r, R(-1.0), R(1.0), R(0.0), R(2.0)))
    np.testing.assert_allclose(got[0], [-713020608, -280716704, 127, 16843136, 561433792,
                                        713020864], rtol=0, atol=64)
    same(got[1:], [[-3.0], [3.0]])


def _mul(d, **kw):
    return outs(C.quantized_elemwise_mul(nd(d['q8']), nd(d['q8b']), R(-0.7), R(1.3), R(-2.0),
                                         R(0.5), **kw))


def test_elemwise_mul_matches_mxnet_and_numpy():
    d = inputs()
    prod = d['q8'].astype(np.int64) * d['q8b'].astype(np.int64)
    la, rb = maxabs(-0.7, 1.3), maxabs(-2.0, 0.5)
    got = _mul(d)
    same(got, MX['mul_i32'], 'int32')
    hi = (la / F(127)) * (rb / F(127)) * F(2 ** 31 - 1)
    same(got, [prod, [-hi], [hi]])
    got = _mul(d, min_calib_range=-0.05, max_calib_range=0.05)
    same(got, MX['mul_calib'], 'int8')
    scale = F(127.5) / maxabs(-0.05, 0.05) / (F(127.5) / la) / (F(127.5) / rb)
    # the cast truncates toward zero and wraps beyond int8, as MXNet's
    want = np.trunc(prod.astype(F) * scale).astype(np.int64).astype(np.int8)
    same(got, [want, [-0.05], [0.05]])
    got = _mul(d, enable_float_output=True)
    assert len(got) == 1 and got[0].dtype == np.float32
    scale = F(1.0 / np.float64(F(127.5) / la) / np.float64(F(127.5) / rb))
    same(got, MX['mul_float'])
    same(got, [prod.astype(F) * scale])


# ---------------------------------------------------------------- layers
def test_flatten_and_act_match_mxnet():
    d = inputs()
    got = outs(C.quantized_flatten(nd(d['p4']), R(-1.0), R(2.0)))
    same(got, [d['p4'].reshape(1, 50), [-1.0], [2.0]], 'int8')
    got = outs(C.quantized_act(nd(d['q8']), R(-0.7), R(1.3), act_type='relu'))
    same(got, MX['act'], 'int8')
    same(got, [np.maximum(d['q8'], 0), [-0.7], [1.3]])
    # uint8 data: MXNet writes int8 holding the same bytes
    same(outs(C.quantized_act(mx.nd.array([5, 0, 255], dtype='uint8'), R(0.0), R(2.0),
                              act_type='relu')), [[5, 0, -1], [0.0], [2.0]], 'int8')


def test_concat_matches_mxnet_and_numpy():
    d = inputs()
    arrays = [d['q8'], d['q8b'][:, :4], d['u8'][:, :3]]
    ranges = [(-0.7, 1.3), (-2.0, 0.5), (0.0, 1.1)]
    args = [nd(a) for a in arrays] + [R(v) for r in ranges for v in r]
    got = outs(C.quantized_concat(*args, num_args=3, dim=1))
    same(got, MX['concat'], 'int8')
    q, (lo, hi), _ = np_concat(arrays, ranges, 1)
    same(got, [q, [lo], [hi]])
    # all uint8: uint8 output over (0, max)
    u = [d['u8'], d['u8'][::-1].copy()]
    ur = [(0.0, 1.0), (0.0, 3.0)]
    got = outs(C.quantized_concat(*([nd(a) for a in u] + [R(v) for r in ur for v in r]),
                                  num_args=2, dim=0))
    q, (lo, hi), t = np_concat(u, ur, 0)
    assert t == 'uint8'
    same(got, [q, [lo], [hi]], 'uint8')


def test_pooling_matches_mxnet_and_numpy():
    p4 = inputs()['p4']
    for key, kw, kind, inc in [('pool_max', {'pool_type': 'max'}, 'max', True),
                               ('pool_avg', {'pool_type': 'avg'}, 'avg', True),
                               ('pool_avg_noinc', {'pool_type': 'avg',
                                                   'count_include_pad': False}, 'avg', False)]:
        got = outs(C.quantized_pooling(nd(p4), R(-1.0), R(1.0), kernel=(3, 3), stride=(2, 2),
                                       pad=(1, 1), **kw))
        same(got, MX[key], 'int8')
        same(got, [np_pool(p4, 3, 2, 1, kind, inc), [-1.0], [1.0]])
    got = outs(C.quantized_pooling(nd(p4), R(-1.0), R(1.0), kernel=(2, 2), stride=(2, 2),
                                   pool_type='avg', pooling_convention='full'))
    same(got, MX['pool_avg_full'], 'int8')


def test_batch_norm_matches_mxnet_and_numpy():
    d = inputs()
    stats = [mx.nd.array(d[k]) for k in ('gamma', 'beta', 'mean', 'var')]
    got = outs(C.quantized_batch_norm(nd(d['b4']), *stats, R(-1.5), R(1.5), min_calib_range=-4.0,
                                      max_calib_range=4.0))
    same(got, MX['bn'], 'int8')
    same(got, [np_bn(d['b4'], d['gamma'], d['beta'], d['mean'], d['var'], (-1.5, 1.5),
                     (-4.0, 4.0), 1e-3), [-4.0], [4.0]])
    u = np.abs(d['b4'].astype(np.int64)).astype(np.uint8)
    got = outs(C.quantized_batch_norm(nd(u), *stats, R(0.0), R(1.5), min_calib_range=-4.0,
                                      max_calib_range=4.0, eps=1e-5))
    same(got, MX['bn_u8'], 'int8')
    same(got, [np_bn(u, d['gamma'], d['beta'], d['mean'], d['var'], (0.0, 1.5), (-4.0, 4.0),
                     1e-5), [-4.0], [4.0]])


def test_embedding_matches_mxnet():
    d = inputs()
    idx = np.array([[0, 4, 2], [1, 3, 7]], dtype=F)
    got = outs(C.quantized_embedding(mx.nd.array(idx), nd(d['wq']), R(-0.3), R(0.4), input_dim=5,
                                     output_dim=3))
    same(got, MX['embedding'], 'int8')
    same(got, [d['wq'][np.clip(idx.astype(np.int64), 0, 4)], [-0.3], [0.4]])


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize('call, match', [
    (lambda: C.quantize_v2(mx.nd.array([1, 2], dtype='int32')), 'quantize_v2.*int32'),
    (lambda: C.quantize(mx.nd.array([1, 2], dtype='int8'), R(-1.0), R(1.0)), 'quantize.*float32'),
    (lambda: C.quantize_asym(mx.nd.array([1, 2], dtype='int8')), 'quantize_asym.*int8'),
    (lambda: C.dequantize(mx.nd.array([1.0, 2.0]), R(-1.0), R(1.0)), 'dequantize.*float32'),
    (lambda: C.dequantize(mx.nd.array([1, 2], dtype='int8'), mx.nd.array([-1.0, 0.0]), R(1.0)),
     'min_range.*\\[2\\]'),
    (lambda: C.requantize(mx.nd.array([1.0]), R(-1.0), R(1.0)), 'requantize.*int32'),
    (lambda: C.requantize(mx.nd.array([1], dtype='int32'), R(-1.0), mx.nd.array([[1.0]])),
     'max_range.*\\[1, ?1\\]'),
    (lambda: C.quantized_elemwise_add(mx.nd.array([1], dtype='int32'),
                                      mx.nd.array([1], dtype='int8'), R(-1.0), R(1.0), R(-1.0),
                                      R(1.0)), 'elemwise_add.*lhs.*int32'),
    (lambda: C.quantized_elemwise_add(mx.nd.array([1, 2], dtype='int8'),
                                      mx.nd.array([1], dtype='int8'), R(-1.0), R(1.0), R(-1.0),
                                      R(1.0)), 'elemwise_add.*\\[2\\].*\\[1\\]'),
    (lambda: C.quantized_elemwise_mul(mx.nd.array([1], dtype='uint8'),
                                      mx.nd.array([1], dtype='int8'), R(-1.0), R(1.0), R(-1.0),
                                      R(1.0)), 'elemwise_mul.*lhs.*uint8'),
    (lambda: C.quantized_act(mx.nd.array([1], dtype='int8'), R(-1.0), R(1.0), act_type='tanh'),
     'tanh'),
    (lambda: C.quantized_act(mx.nd.array([1], dtype='int32'), R(-1.0), R(1.0), act_type='relu'),
     'quantized_act.*int32'),
    (lambda: C.quantized_pooling(mx.nd.ones((1, 1, 2, 2)), R(-1.0), R(1.0), kernel=(2, 2)),
     'quantized_pooling.*float32'),
    (lambda: C.quantized_pooling(mx.nd.ones((1, 1, 2, 2), dtype='int8'), R(-1.0), R(1.0),
                                 kernel=(2, 2), pool_type='lp', p_value=2),
     'quantized_pooling.*max'),
    (lambda: C.quantized_pooling(mx.nd.ones((1, 2, 4), dtype='int8'), R(-1.0), R(1.0),
                                 kernel=(2,)), 'quantized_pooling.*2-D'),
    (lambda: C.quantized_batch_norm(mx.nd.ones((1, 3, 2), dtype='int8'), mx.nd.ones(3),
                                    mx.nd.ones(3), mx.nd.ones(3), mx.nd.ones(3), R(-1.0), R(1.0)),
     'min_calib_range'),
    (lambda: C.quantized_batch_norm(mx.nd.ones((1, 3, 2), dtype='int8'), mx.nd.ones(2),
                                    mx.nd.ones(3), mx.nd.ones(3), mx.nd.ones(3), R(-1.0), R(1.0),
                                    min_calib_range=-1.0, max_calib_range=1.0), 'gamma.*\\(3,\\)'),
    (lambda: C.quantized_embedding(mx.nd.array([0]), mx.nd.ones((2, 3)), R(-1.0), R(1.0),
                                   input_dim=2, output_dim=3), 'weight.*int8'),
    (lambda: C.quantized_embedding(mx.nd.array([0]), mx.nd.ones((2, 3), dtype='int8'), R(-1.0),
                                   R(1.0), input_dim=3, output_dim=3), 'weight.*\\[2, ?3\\]'),
    (lambda: C.quantized_concat(mx.nd.ones((2, 3), dtype='int8'), mx.nd.ones((3, 3), dtype='int8'),
                                R(-1.0), R(1.0), R(-1.0), R(1.0), num_args=2, dim=1),
     'quantized_concat.*arg1'),
])
def test_bad_inputs_raise_clear_errors(call, match):
    with pytest.raises(_ERR, match=match):
        for o in outs(call()):
            pass


# ---------------------------------------------------------------- symbols and graphs
def _sym(op):
    s = mx.sym.contrib
    if op == 'quantized_concat':
        return s.quantized_concat(num_args=2)
    if op == 'quantized_act':
        return s.quantized_act(act_type='relu')
    if op == 'quantized_pooling':
        return s.quantized_pooling(kernel=(2, 2))
    if op == 'quantized_embedding':
        return s.quantized_embedding(input_dim=3, output_dim=2)
    if op == 'quantized_batch_norm':
        return s.quantized_batch_norm(min_calib_range=0.0, max_calib_range=1.0)
    return getattr(s, op)()


@pytest.mark.parametrize('op', sorted(NAMES))
def test_symbol_names_match_mxnet(op):
    s = _sym(op)
    args, outputs, aux = NAMES[op]
    prefix = s.name + '_'
    assert s.list_arguments() == [prefix + a for a in args]
    assert s.list_outputs() == [prefix + o for o in outputs]
    assert s.list_auxiliary_states() == [prefix + a for a in aux]
    f = mx.sym.contrib.quantized_elemwise_mul(enable_float_output=True)
    assert [o.split('_', 3)[-1] for o in f.list_outputs()] == MUL_FLOAT_OUTPUTS


def test_symbol_composition_by_mxnet_argument_names():
    data = mx.sym.var('data')
    q = mx.sym.contrib.quantize_v2(data=data, min_calib_range=-1.0, max_calib_range=1.0,
                                   name='q')
    a = mx.sym.contrib.quantized_act(data=q[0], min_data=q[1], max_data=q[2], act_type='relu',
                                     name='a')
    d = mx.sym.contrib.dequantize(data=a[0], min_range=a[1], max_range=a[2], name='d')
    assert d.list_arguments() == ['data']
    _, out_types, _ = d.infer_type(data='float32')
    assert out_types == [np.float32]
    x = np.array([[-1.0, -0.25, 0.3, 0.9]], dtype=F)
    ex = d.bind(mx.cpu(), {'data': mx.nd.array(x)})
    q8 = np.maximum(np_quantize_v2(x, 'int8', (-1.0, 1.0))[0], 0)
    np.testing.assert_array_equal(ex.forward()[0].asnumpy(), np_dequantize(q8, -1, 1, 'int8'))


def test_mxnet_json_graph_loads_and_matches():
    g = mx.sym.load(os.path.join(DATA, 'quantized_chain-symbol.json'))
    assert g.list_arguments() == CHAIN_ARGS
    assert g.list_outputs() == CHAIN_OUTPUTS
    rs = np.random.RandomState(11)
    x = rs.uniform(-2.5, 3, size=(1, 2, 4, 4)).astype(F)
    y = rs.uniform(-1, 1, size=(1, 2, 4, 4)).astype(F)
    ex = g.bind(mx.cpu(), {'data': mx.nd.array(x), 'other': mx.nd.array(y)})
    o = ex.forward()
    assert o[0].shape == (1, 8) and o[1].shape == (1, 2, 4, 4)
    np.testing.assert_array_equal(o[0].asnumpy().ravel(), np.array(CHAIN_OUT0, dtype=F))
    np.testing.assert_array_equal(o[1].asnumpy().ravel(), np.array(CHAIN_OUT1, dtype=F))
    # the JSON round-trips through oxnet with the same graph
    again = mx.sym.load_json(g.tojson())
    assert again.list_arguments() == CHAIN_ARGS
    assert [n for n in again.get_internals().list_outputs()] == \
        [n for n in g.get_internals().list_outputs()]


def test_gradients_are_zero_or_absent_as_in_mxnet():
    x = mx.nd.array([0.5, 0.25])
    x.attach_grad()
    with mx.autograd.record():
        q = C.quantize_v2(x)
        y = C.dequantize(q[0], q[1], q[2]).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad.asnumpy(), [0, 0])
    a = mx.nd.array([1, 2], dtype='int8')
    with pytest.raises(_ERR, match='quantized_elemwise_add'):
        a.attach_grad()
        with mx.autograd.record():
            o = C.quantized_elemwise_add(a, a, R(-1.0), R(1.0), R(-1.0), R(1.0))
        o[0].backward()
