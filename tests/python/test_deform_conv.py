"""contrib.DeformableConvolution and contrib.ModulatedDeformableConvolution: forward and every
gradient against a numpy re-implementation (gradients by central differences of it), against
MXNet 1.9.1's printed values (deform_conv_mxnet_ref.py), zero offsets against Convolution,
symbols with MXNet's argument names and JSON, and bad inputs."""

import json

import numpy as np
import pytest

import oxnet as mx
from oxnet.base import MXNetError
from deform_conv_mxnet_ref import MX


# ---------------------------------------------------------------- numpy reference

def _sample(x, h, w, v2):
    """Bilinear samples of planes x (C, H, W) at positions h, w (same shape S) -> (C, *S),
    with MXNet's border rules: v1 samples only inside [0, H) x [0, W) and repeats the last
    row/column past it; v2 samples inside (-1, H) x (-1, W) with zero outside the image."""
    H, W = x.shape[1:]
    if v2:
        inside = (h > -1) & (w > -1) & (h < H) & (w < W)
    else:
        inside = (h >= 0) & (w >= 0) & (h < H) & (w < W)
        h, w = np.minimum(h, H - 1), np.minimum(w, W - 1)
    h0, w0 = np.floor(h), np.floor(w)
    out = np.zeros((x.shape[0],) + h.shape)
    for r in (h0, h0 + 1):
        for c in (w0, w0 + 1):
            wt = (1 - np.abs(h - r)) * (1 - np.abs(w - c))
            ok = inside & (r >= 0) & (r < H) & (c >= 0) & (c < W)
            ri = np.clip(r, 0, H - 1).astype(int)
            ci = np.clip(c, 0, W - 1).astype(int)
            out += wt * ok * x[:, ri, ci]
    return out


def np_deform_conv(x, off, w, b=None, mask=None, stride=(1, 1), pad=(0, 0),
                   dilate=(1, 1), num_group=1, dg=1):
    x, off, w = (np.asarray(a, np.float64) for a in (x, off, w))
    N, C, H, W = x.shape
    F, cg, kh, kw = w.shape
    K = kh * kw
    Ho = (H + 2 * pad[0] - dilate[0] * (kh - 1) - 1) // stride[0] + 1
    Wo = (W + 2 * pad[1] - dilate[1] * (kw - 1) - 1) // stride[1] + 1
    col = np.zeros((N, C, K, Ho, Wo))
    cpd = C // dg
    for n in range(N):
        for d in range(dg):
            for t in range(K):
                i, j = divmod(t, kw)
                h = (np.arange(Ho) * stride[0] - pad[0] + i * dilate[0])[:, None] \
                    + off[n, d * 2 * K + 2 * t]
                ww = (np.arange(Wo) * stride[1] - pad[1] + j * dilate[1])[None, :] \
                    + off[n, d * 2 * K + 2 * t + 1]
                m = 1.0 if mask is None else np.asarray(mask, np.float64)[n, d * K + t]
                col[n, d * cpd:(d + 1) * cpd, t] = _sample(x[n, d * cpd:(d + 1) * cpd], h, ww,
                                                           mask is not None) * m
    fg = F // num_group
    y = np.zeros((N, F, Ho, Wo))
    for g in range(num_group):
        wg = w[g * fg:(g + 1) * fg].reshape(fg, cg * K)
        cgrp = col[:, g * cg:(g + 1) * cg].reshape(N, cg * K, Ho * Wo)
        y[:, g * fg:(g + 1) * fg] = np.einsum('fk,nkl->nfl', wg, cgrp).reshape(N, fg, Ho, Wo)
    if b is not None:
        y += np.asarray(b, np.float64)[None, :, None, None]
    return y


def np_grads(args, dy, eps=1e-6, **kw):
    """Central differences of <np_deform_conv(*args), dy> for every array in `args`
    (dict name -> array, names as np_deform_conv's keywords)."""
    def loss(a):
        return float((np_deform_conv(**a, **kw) * dy).sum())
    grads = {}
    for name, v in args.items():
        if v is None:
            continue
        g = np.zeros(v.shape)
        flat = v.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            lp = loss(args)
            flat[i] = old - eps
            lm = loss(args)
            flat[i] = old
            g.reshape(-1)[i] = (lp - lm) / (2 * eps)
        grads[name] = g
    return grads


def _conv_kw(kw):
    out = dict(kernel=kw['kernel'], num_filter=kw['num_filter'])
    for k in ('stride', 'pad', 'dilate', 'num_group', 'num_deformable_group', 'no_bias'):
        if k in kw:
            out[k] = kw[k]
    return out


def _np_kw(kw):
    return dict(stride=kw.get('stride', (1, 1)), pad=kw.get('pad', (0, 0)),
                dilate=kw.get('dilate', (1, 1)), num_group=kw.get('num_group', 1),
                dg=kw.get('num_deformable_group', 1))


CASES = [
    # (modulated, data shape, op kwargs)
    (False, (2, 4, 5, 5), dict(kernel=(3, 3), num_filter=4, pad=(1, 1), num_group=2,
                               num_deformable_group=2)),
    (True, (2, 4, 5, 5), dict(kernel=(3, 3), num_filter=4, pad=(1, 1), num_group=2,
                              num_deformable_group=2)),
    (False, (1, 2, 6, 5), dict(kernel=(2, 3), num_filter=3, stride=(2, 1), dilate=(1, 2),
                               no_bias=True)),
    (True, (1, 2, 6, 5), dict(kernel=(2, 3), num_filter=3, stride=(2, 1), dilate=(1, 2),
                              pad=(1, 2), no_bias=True)),
]


# Smaller shapes for the finite-difference checks (one numpy forward per perturbed value).
GRAD_CASES = [
    (False, (1, 4, 4, 4), dict(kernel=(2, 2), num_filter=4, pad=(1, 1), num_group=2,
                               num_deformable_group=2)),
    (True, (1, 4, 4, 4), dict(kernel=(2, 2), num_filter=4, pad=(1, 1), num_group=2,
                              num_deformable_group=2)),
] + CASES[2:]


def _inputs(modulated, dshape, kw, rs, frac=False):
    N, C, H, W = dshape
    kh, kw_ = kw['kernel']
    s, p, d = kw.get('stride', (1, 1)), kw.get('pad', (0, 0)), kw.get('dilate', (1, 1))
    Ho = (H + 2 * p[0] - d[0] * (kh - 1) - 1) // s[0] + 1
    Wo = (W + 2 * p[1] - d[1] * (kw_ - 1) - 1) // s[1] + 1
    dg = kw.get('num_deformable_group', 1)
    x = rs.uniform(-1, 1, dshape)
    if frac:
        # Integer part in [-2, 1], fraction in (0.15, 0.85): differences stay off pixel lines.
        off = rs.randint(-2, 2, (N, dg * 2 * kh * kw_, Ho, Wo)) + rs.uniform(
            0.15, 0.85, (N, dg * 2 * kh * kw_, Ho, Wo))
    else:
        off = rs.uniform(-2.5, 2.5, (N, dg * 2 * kh * kw_, Ho, Wo))
    mask = rs.uniform(0, 1, (N, dg * kh * kw_, Ho, Wo)) if modulated else None
    w = rs.uniform(-1, 1, (kw['num_filter'], C // kw.get('num_group', 1), kh, kw_))
    b = None if kw.get('no_bias') else rs.uniform(-1, 1, (kw['num_filter'],))
    return x, off, mask, w, b


def _call(modulated, x, off, mask, w, b, kw, dtype='float64'):
    arrs = [x, off] + ([mask] if modulated else []) + [w] + ([] if b is None else [b])
    nds = [mx.nd.array(a, dtype=dtype) for a in arrs]
    op = (mx.nd.contrib.ModulatedDeformableConvolution if modulated
          else mx.nd.contrib.DeformableConvolution)
    return op, nds


# ---------------------------------------------------------------- forward / gradients

@pytest.mark.parametrize('modulated,dshape,kw', CASES)
def test_forward_matches_numpy(modulated, dshape, kw):
    rs = np.random.RandomState(10)
    x, off, mask, w, b = _inputs(modulated, dshape, kw, rs)
    op, nds = _call(modulated, x, off, mask, w, b, kw)
    got = op(*nds, **kw).asnumpy()
    want = np_deform_conv(x, off, w, b, mask, **_np_kw(kw))
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    # float32 too.
    op, nds = _call(modulated, x, off, mask, w, b, kw, 'float32')
    got = op(*nds, **kw)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('modulated,dshape,kw', GRAD_CASES)
def test_autograd_matches_numpy_differences(modulated, dshape, kw):
    rs = np.random.RandomState(20)
    x, off, mask, w, b = _inputs(modulated, dshape, kw, rs, frac=True)
    op, nds = _call(modulated, x, off, mask, w, b, kw)
    for a in nds:
        a.attach_grad()
    dy = rs.uniform(-1, 1, np_deform_conv(x, off, w, b, mask, **_np_kw(kw)).shape)
    with mx.autograd.record():
        y = op(*nds, **kw)
    y.backward(mx.nd.array(dy, dtype='float64'))
    names = ['x', 'off'] + (['mask'] if modulated else []) + ['w'] + ([] if b is None else ['b'])
    want = np_grads(dict(x=x.copy(), off=off.copy(), mask=None if mask is None else mask.copy(),
                         w=w.copy(), b=None if b is None else b.copy()), dy, **_np_kw(kw))
    for name, a in zip(names, nds):
        np.testing.assert_allclose(a.grad.asnumpy(), want[name], rtol=1e-5, atol=1e-6,
                                   err_msg=name)


def test_executor_backward_matches_numpy_differences():
    kw = dict(kernel=(2, 2), num_filter=2, pad=(1, 1), num_deformable_group=2)
    rs = np.random.RandomState(30)
    x, off, mask, w, b = _inputs(True, (1, 2, 4, 4), kw, rs, frac=True)
    sym = mx.sym.contrib.ModulatedDeformableConvolution(
        data=mx.sym.var('data'), offset=mx.sym.var('offset'), mask=mx.sym.var('mask'),
        name='dcn', **kw)
    exe = sym.simple_bind(mx.cpu(), data=x.shape, offset=off.shape, mask=mask.shape,
                          type_dict={'data': 'float64', 'offset': 'float64', 'mask': 'float64',
                                     'dcn_weight': 'float64', 'dcn_bias': 'float64'})
    for name, v in [('data', x), ('offset', off), ('mask', mask), ('dcn_weight', w),
                    ('dcn_bias', b)]:
        exe.arg_dict[name][:] = v
    y = exe.forward(is_train=True)[0]
    np.testing.assert_allclose(y.asnumpy(), np_deform_conv(x, off, w, b, mask, pad=(1, 1), dg=2),
                               rtol=1e-10, atol=1e-10)
    dy = rs.uniform(-1, 1, y.shape)
    exe.backward(mx.nd.array(dy, dtype='float64'))
    want = np_grads(dict(x=x, off=off, mask=mask, w=w, b=b), dy, pad=(1, 1), dg=2)
    for name, key in [('data', 'x'), ('offset', 'off'), ('mask', 'mask'), ('dcn_weight', 'w'),
                      ('dcn_bias', 'b')]:
        np.testing.assert_allclose(exe.grad_dict[name].asnumpy(), want[key], rtol=1e-5,
                                   atol=1e-6, err_msg=name)


# ---------------------------------------------------------------- MXNet 1.9.1

def mxnet_case(modulated, dg, seed):
    """The inputs deform_conv_mxnet_ref.py's values were printed for (float32)."""
    rs = np.random.RandomState(seed)
    x = rs.uniform(-1, 1, (1, 4, 5, 5)).astype(np.float32)
    off = rs.uniform(-1.7, 1.7, (1, dg * 18, 3, 3)).astype(np.float32)
    mask = rs.uniform(0, 1, (1, dg * 9, 3, 3)).astype(np.float32)
    w = rs.uniform(-1, 1, (4, 2, 3, 3)).astype(np.float32)
    b = rs.uniform(-1, 1, (4,)).astype(np.float32)
    dy = rs.uniform(-1, 1, (1, 4, 3, 3)).astype(np.float32)
    kw = dict(kernel=(3, 3), stride=(2, 2), pad=(1, 1), num_filter=4, num_group=2,
              num_deformable_group=dg)
    return x, off, mask, w, b, dy, kw


@pytest.mark.parametrize('key,dg,seed', [('deform_dg1', 1, 0), ('deform_dg2', 2, 1)])
def test_deformable_matches_mxnet(key, dg, seed):
    x, off, _, w, b, dy, kw = mxnet_case(False, dg, seed)
    nds = [mx.nd.array(a) for a in (x, off, w, b)]
    for a in nds:
        a.attach_grad()
    with mx.autograd.record():
        y = mx.nd.contrib.DeformableConvolution(*nds, **kw)
    y.backward(mx.nd.array(dy))
    ref = MX[key]
    np.testing.assert_allclose(y.asnumpy().ravel(), ref['y'], rtol=1e-4, atol=1e-5)
    for name, a in zip(['ddata', 'doffset', 'dweight', 'dbias'], nds):
        np.testing.assert_allclose(a.grad.asnumpy().ravel(), ref[name], rtol=1e-4, atol=1e-5,
                                   err_msg=name)


@pytest.mark.parametrize('key,dg,seed', [('modulated_dg1', 1, 2), ('modulated_dg2', 2, 3)])
def test_modulated_forward_matches_mxnet(key, dg, seed):
    # MXNet 1.9.1 has no CPU backward for this op ("only implemented in GPU"); its gradients
    # are checked against numpy above.
    x, off, mask, w, b, _, kw = mxnet_case(True, dg, seed)
    y = mx.nd.contrib.ModulatedDeformableConvolution(
        *[mx.nd.array(a) for a in (x, off, mask, w, b)], **kw)
    np.testing.assert_allclose(y.asnumpy().ravel(), MX[key]['y'], rtol=1e-4, atol=1e-5)


def test_zero_offsets_equal_convolution():
    rs = np.random.RandomState(40)
    x = mx.nd.array(rs.uniform(-1, 1, (2, 4, 6, 5)))
    w = mx.nd.array(rs.uniform(-1, 1, (6, 2, 3, 3)))
    b = mx.nd.array(rs.uniform(-1, 1, (6,)))
    kw = dict(kernel=(3, 3), num_filter=6, stride=(2, 1), pad=(1, 1), num_group=2)
    conv = mx.nd.Convolution(x, w, b, **kw).asnumpy()
    off = mx.nd.zeros((2, 2 * 18, 3, 5))
    d = mx.nd.contrib.DeformableConvolution(x, off, w, b, num_deformable_group=2, **kw)
    np.testing.assert_allclose(d.asnumpy(), conv, rtol=1e-5, atol=1e-6)
    m = mx.nd.contrib.ModulatedDeformableConvolution(x, off, mx.nd.ones((2, 18, 3, 5)), w, b,
                                                     num_deformable_group=2, **kw)
    np.testing.assert_allclose(m.asnumpy(), conv, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- symbols

# MXNet 1.9.1's `tojson()` of
# mx.sym.contrib.DeformableConvolution(data=var('data'), offset=var('offset'),
#                                      kernel=(3, 3), num_filter=4, name='conv').
MXNET_JSON = json.dumps({
    "nodes": [
        {"op": "null", "name": "data", "inputs": []},
        {"op": "null", "name": "offset", "inputs": []},
        {"op": "null", "name": "conv_weight",
         "attrs": {"kernel": "(3, 3)", "num_filter": "4"}, "inputs": []},
        {"op": "null", "name": "conv_bias",
         "attrs": {"kernel": "(3, 3)", "num_filter": "4"}, "inputs": []},
        {"op": "_contrib_DeformableConvolution", "name": "conv",
         "attrs": {"kernel": "(3, 3)", "num_filter": "4"},
         "inputs": [[0, 0, 0], [1, 0, 0], [2, 0, 0], [3, 0, 0]]},
    ],
    "arg_nodes": [0, 1, 2, 3],
    "node_row_ptr": [0, 1, 2, 3, 4, 5],
    "heads": [[4, 0, 0]],
    "attrs": {"mxnet_version": ["int", 10901]},
})


def test_symbol_names_shapes_and_json():
    data, offset, mask = mx.sym.var('data'), mx.sym.var('offset'), mx.sym.var('mask')
    s = mx.sym.contrib.DeformableConvolution(data=data, offset=offset, kernel=(3, 3),
                                             num_filter=4, name='conv')
    assert s.list_arguments() == ['data', 'offset', 'conv_weight', 'conv_bias']
    # MXNet 1.9.1: ([(1,2,5,5), (1,18,3,3), (4,2,3,3), (4,)], [(1,4,3,3)], []).
    args, outs, aux = s.infer_shape(data=(1, 2, 5, 5), offset=(1, 18, 3, 3))
    assert args == [(1, 2, 5, 5), (1, 18, 3, 3), (4, 2, 3, 3), (4,)]
    assert outs == [(1, 4, 3, 3)] and aux == []
    s2 = mx.sym.load_json(s.tojson())
    assert s2.list_arguments() == s.list_arguments()
    assert '_contrib_DeformableConvolution' in s.tojson()
    m = mx.sym.contrib.ModulatedDeformableConvolution(data=data, offset=offset, mask=mask,
                                                      kernel=(3, 3), num_filter=4, name='conv',
                                                      no_bias=True)
    assert m.list_arguments() == ['data', 'offset', 'mask', 'conv_weight']
    args, outs, _ = m.infer_shape(data=(1, 2, 5, 5), offset=(1, 18, 3, 3), mask=(1, 9, 3, 3))
    assert args[3] == (4, 2, 3, 3) and outs == [(1, 4, 3, 3)]
    m2 = mx.sym.load_json(m.tojson())
    assert m2.list_arguments() == m.list_arguments()
    # A graph saved by MXNet 1.9.1 loads and runs.
    g = mx.sym.load_json(MXNET_JSON)
    assert g.list_arguments() == ['data', 'offset', 'conv_weight', 'conv_bias']
    rs = np.random.RandomState(50)
    vals = dict(data=rs.uniform(-1, 1, (1, 2, 5, 5)), offset=rs.uniform(-1, 1, (1, 18, 3, 3)),
                conv_weight=rs.uniform(-1, 1, (4, 2, 3, 3)), conv_bias=rs.uniform(-1, 1, (4,)))
    exe = g.bind(mx.cpu(), {k: mx.nd.array(v) for k, v in vals.items()})
    y = exe.forward()[0].asnumpy()
    want = np_deform_conv(vals['data'], vals['offset'], vals['conv_weight'], vals['conv_bias'])
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)


def test_defaults_match_mxnet():
    # MXNet 1.9.1: no_bias defaults to False for both, im2col_step to 64 for the modulated one.
    x = mx.nd.ones((1, 2, 4, 4))
    off = mx.nd.zeros((1, 8, 3, 3))
    w = mx.nd.ones((1, 2, 2, 2))
    b = mx.nd.array([0.5])
    y = mx.nd.contrib.DeformableConvolution(x, off, w, b, kernel=(2, 2), num_filter=1)
    np.testing.assert_allclose(y.asnumpy(), np.full((1, 1, 3, 3), 8.5))
    y = mx.nd.contrib.ModulatedDeformableConvolution(x, off, mx.nd.ones((1, 4, 3, 3)), w, b,
                                                     kernel=(2, 2), num_filter=1,
                                                     im2col_step=1)
    np.testing.assert_allclose(y.asnumpy(), np.full((1, 1, 3, 3), 8.5))


# ---------------------------------------------------------------- errors

def test_bad_inputs_raise():
    x = mx.nd.ones((1, 2, 5, 5))
    w = mx.nd.ones((4, 2, 3, 3))
    b = mx.nd.ones((4,))
    with pytest.raises(MXNetError, match=r'DeformableConvolution.*offset.*\[1, ?9, ?3, ?3\]'):
        mx.nd.contrib.DeformableConvolution(x, mx.nd.ones((1, 9, 3, 3)), w, b, kernel=(3, 3),
                                            num_filter=4).wait_to_read()
    with pytest.raises(MXNetError, match='2-D'):
        mx.nd.contrib.DeformableConvolution(mx.nd.ones((1, 2, 5, 5, 5)), mx.nd.ones((1, 54, 3, 3, 3)),
                                            mx.nd.ones((4, 2, 3, 3, 3)), b, kernel=(3, 3, 3),
                                            num_filter=4).wait_to_read()
    # As Convolution does for a layout it lacks.
    with pytest.raises(NotImplementedError, match='layout'):
        mx.nd.contrib.DeformableConvolution(x, mx.nd.ones((1, 18, 3, 3)), w, b, kernel=(3, 3),
                                            num_filter=4, layout='NHWC').wait_to_read()
    with pytest.raises(MXNetError, match=r'mask'):
        mx.nd.contrib.ModulatedDeformableConvolution(x, mx.nd.ones((1, 18, 3, 3)),
                                                     mx.nd.ones((1, 18, 3, 3)), w, b,
                                                     kernel=(3, 3), num_filter=4).wait_to_read()
    with pytest.raises(MXNetError, match='num_deformable_group'):
        mx.nd.contrib.DeformableConvolution(x, mx.nd.ones((1, 54, 3, 3)), w, b, kernel=(3, 3),
                                            num_filter=4,
                                            num_deformable_group=3).wait_to_read()
    sym = mx.sym.contrib.DeformableConvolution(data=mx.sym.var('data'),
                                               offset=mx.sym.var('offset'), kernel=(3, 3),
                                               num_filter=4, name='conv')
    with pytest.raises(MXNetError, match='offset'):
        sym.infer_shape(data=(1, 2, 5, 5), offset=(1, 18, 4, 3))
