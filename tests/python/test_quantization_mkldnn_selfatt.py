"""MXNet 1.9.1's transformer self-attention fusions in the oneDNN backends: each
`_contrib_interleaved_matmul_selfatt_qk/valatt` becomes `_sg_mkldnn_selfatt_qk/valatt`
(`get_backend_symbol('MKLDNN' / 'MKLDNN_QUANTIZE')`), `quantize_model_mkldnn` quantizes those
nodes and folds the requantize/dequantize after them.

Oracles: data/quantization_mkldnn_selfatt/ was written by MXNet 1.9.1 (mxref) with
quantization_mkldnn_selfatt_mxnet_ref.py: the fused JSON text of small patterns (patterns.json),
`quantize_model_mkldnn`'s JSON and params for a BERT-like encoder layer, the bare attention
products and an attention output concatenated with an FC, and MXNet's FP32/INT8 outputs
(reference.json); data/sg_mkldnn/ holds sg_mkldnn_selfatt_mxnet_ref.py's quantized attention
block. The float fusions are also checked numerically against the unfused graph and a numpy
attention."""
import json
import os

import numpy as np
import pytest

import oxnet as mx
from oxnet.base import MXNetError
from oxnet.contrib import quantization as q

from quantization_cases import assert_same_graph

D = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data',
                 'quantization_mkldnn_selfatt')
SG = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'sg_mkldnn')
with open(os.path.join(D, 'reference.json')) as _f:
    REF = json.load(_f)
with open(os.path.join(D, 'patterns.json')) as _f:
    PATTERNS = json.load(_f)
CASES = sorted(REF)
BACKENDS = ('MKLDNN', 'MKLDNN_QUANTIZE')
SHAPES = {'bert': (4, 2, 8), 'bare': (4, 2, 24), 'cat': (4, 2, 8)}


def calib_array(net):
    """quantization_mkldnn_selfatt_mxnet_ref.calib_data: four batches of one sequence length."""
    shape = SHAPES[net]
    return np.random.RandomState(7).normal(size=(4 * shape[0],) + shape[1:]).astype('float32')


def fp32_model(net):
    sym = mx.sym.load(os.path.join(D, '%s-symbol.json' % net))
    saved = mx.nd.load(os.path.join(D, '%s-0000.params' % net))
    # `bare` has no params: MXNet saved an empty file
    return sym, {k[4:]: v for k, v in (saved or {}).items()}


def _run(sym, args, x):
    arrays = {k: v for k, v in args.items() if k in sym.list_arguments()}
    arrays['data'] = mx.nd.array(x)
    ex = sym.bind(mx.cpu(), args=arrays, grad_req='null')
    return [o.asnumpy() for o in ex.forward(is_train=False)]


def _env(monkeypatch, env):
    for k, v in env.items():
        monkeypatch.setenv(k, v)


# ---- get_backend_symbol ----

def _pattern_env(name, monkeypatch):
    _env(monkeypatch, PATTERNS[name].get('env', {}))


@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('pattern', sorted(PATTERNS))
def test_backend_symbol_selfatt_patterns(pattern, backend, monkeypatch):
    """MXNet's fused JSON byte for byte: one node per attention product, numbered in one
    sequence over qk and valatt after the FCs were fused (`sg_mkldnn_selfatt_qk_0`,
    `..._valatt_1`), the parsed heads with both flags off, the product as its subgraph reading
    `<producer output><k>` variables. Every product fuses, even a valatt whose qkv is not its
    qk's; MXNET_DISABLE_MKLDNN_TRANSFORMER_OPT (`disabled`) leaves them all unfused."""
    _pattern_env(pattern, monkeypatch)
    p = PATTERNS[pattern]
    sym = mx.sym.load_json(json.dumps(p['sym']))
    want = p[backend] if p[backend] is not None else p['MKLDNN']
    assert sym.get_backend_symbol(backend).tojson() == want


def test_disabled_pattern_is_unfused_attention():
    """The `disabled` reference really is the case where nothing of the attention fuses."""
    text = PATTERNS['disabled']['MKLDNN']
    assert '_sg_mkldnn_selfatt' not in text and '_contrib_interleaved_matmul_selfatt_qk' in text
    assert '_sg_mkldnn_selfatt_qk' in PATTERNS['block_proj_h2']['MKLDNN']


def _random_feed(sym, shapes, rng):
    arg_shapes, _, _ = sym.infer_shape(**{k: tuple(v) for k, v in shapes.items()})
    return {n: rng.uniform(-1, 1, s).astype('float32')
            for n, s in zip(sym.list_arguments(), arg_shapes)}


# valatt_same_input only probes the partitioner: a tensor cannot be both qkv and attention
@pytest.mark.parametrize('pattern', sorted(set(PATTERNS) - {'valatt_same_input'}))
def test_fused_selfatt_graph_computes_the_unfused_graph(pattern, monkeypatch):
    """Every output of the fused FP32 graph equals the unfused graph's, on random inputs."""
    _pattern_env(pattern, monkeypatch)
    sym = mx.sym.load_json(json.dumps(PATTERNS[pattern]['sym']))
    feed = _random_feed(sym, PATTERNS[pattern]['shapes'], np.random.RandomState(3))
    fused = sym.get_backend_symbol('MKLDNN')
    assert ('_sg_mkldnn_selfatt' in fused.tojson()) == (pattern != 'disabled')
    outs = []
    for s in (sym, fused):
        ex = s.bind(mx.cpu(), args={k: mx.nd.array(feed[k]) for k in s.list_arguments()},
                    grad_req='null')
        outs.append([o.asnumpy() for o in ex.forward(is_train=False)])
    assert len(outs[0]) == len(outs[1])
    for want, got in zip(*outs):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def _np_attention(qkv, heads):
    """Interleaved self-attention in numpy: the projection's last axis is (heads, q/k/v,
    head width); scores scaled by 1/sqrt(head width), softmax over keys, then att . v."""
    seq, batch, width = qkv.shape
    dh = width // (3 * heads)
    x = qkv.astype(np.float64).reshape(seq, batch, heads, 3, dh)
    qh, kh, vh = x[..., 0, :], x[..., 1, :], x[..., 2, :]
    scores = np.einsum('ibhd,jbhd->bhij', qh, kh) / np.sqrt(dh)
    att = np.exp(scores - scores.max(-1, keepdims=True))
    att /= att.sum(-1, keepdims=True)
    return np.einsum('bhij,jbhd->ibhd', att, vh).reshape(seq, batch, heads * dh)


@pytest.mark.parametrize('pattern,heads', [('bare_h3', 3), ('block_h4', 4),
                                           ('block_proj_h2', 2)])
def test_fused_selfatt_graph_matches_numpy_attention(pattern, heads):
    sym = mx.sym.load_json(json.dumps(PATTERNS[pattern]['sym']))
    feed = _random_feed(sym, PATTERNS[pattern]['shapes'], np.random.RandomState(5))
    fused = sym.get_backend_symbol('MKLDNN')
    assert '_sg_mkldnn_selfatt_valatt' in fused.tojson()
    ex = fused.bind(mx.cpu(), args={k: mx.nd.array(feed[k]) for k in fused.list_arguments()},
                    grad_req='null')
    got = ex.forward(is_train=False)[0].asnumpy()
    x = feed['data'].astype(np.float64)
    if 'qkv_weight' in feed:
        x = x @ feed['qkv_weight'].T.astype(np.float64) + feed['qkv_bias']
    want = _np_attention(x, heads)
    if 'proj_weight' in feed:
        want = want @ feed['proj_weight'].T.astype(np.float64) + feed['proj_bias']
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


# ---- quantize_model_mkldnn ----

_QUANTIZED = {}


def _quantize(case, monkeypatch):
    _env(monkeypatch, REF[case]['env'])
    if case not in _QUANTIZED:
        net = REF[case]['net']
        sym, args = fp32_model(net)
        x = calib_array(net)
        it = mx.io.NDArrayIter(x, batch_size=SHAPES[net][0])
        _QUANTIZED[case] = q.quantize_model_mkldnn(sym, args, {}, ctx=mx.cpu(), calib_data=it,
                                                   label_names=None, **REF[case]['kwargs'])
    return _QUANTIZED[case]


def _assert_same_quantized(got, want, calib_atol):
    assert_same_graph(got, want, calib_atol=calib_atol)
    # assert_same_graph leaves the fused nodes' subgraphs out
    for g, w in zip(got['nodes'], want['nodes']):
        assert g.get('subgraphs') == w.get('subgraphs'), g['name']


def _assert_same_params(qargs, want):
    assert sorted(qargs) == sorted(want)
    for name, value in want.items():
        assert qargs[name].dtype == value.dtype, name
        np.testing.assert_array_equal(qargs[name].asnumpy(), value.asnumpy(), err_msg=name)


@pytest.mark.parametrize('case', CASES)
def test_quantize_model_mkldnn_attention_graph_and_params(case, monkeypatch):
    """MXNet's quantized graph node for node and its params exactly: the selfatt nodes are
    quantized (kMust, every input quantized: qkv, and valatt's softmax through
    `sm_output_quantize`), a calibrated requantize after them folds in (qk's, followed by a
    dequantize before the FP32 softmax, as enable_float_output), excluded ones stay FP32, the
    MXNET_DISABLE_MKLDNN_QTRANSFORMER_* switches keep the requantize/dequantize, and with
    MXNET_DISABLE_MKLDNN_TRANSFORMER_OPT the contrib products stay FP32. Calibration ranges may
    differ in the 6th decimal (oxnet's FP32 forward is not bit-identical to oneDNN's)."""
    qsym, qargs, _ = _quantize(case, monkeypatch)
    with open(os.path.join(D, '%s-quantized-symbol.json' % case)) as f:
        want = json.load(f)
    _assert_same_quantized(json.loads(qsym.tojson()), want, 3e-6)
    _assert_same_params(qargs, mx.nd.load(os.path.join(D, '%s-quantized.params' % case)) or {})


# the INT8 arithmetic agrees exactly; what is left is float32 rounding in the FP32 ops around
# it (softmax, LayerNorm, the float outputs' scaling): at most 8e-7 on these outputs
TOL_MXNET = 2e-6
MXNET_RAN = [c for c in CASES if not isinstance(REF[c]['outputs']['int8'], str)]
MXNET_REFUSED = [c for c in CASES if c not in MXNET_RAN]


def test_fp32_nets_match_mxnet():
    for net in SHAPES:
        case = next(c for c in CASES if REF[c]['net'] == net)
        sym, args = fp32_model(net)
        got = _run(sym, args, calib_array(net)[:SHAPES[net][0]])[0]
        np.testing.assert_allclose(got, np.array(REF[case]['outputs']['fp32']), rtol=1e-5,
                                   atol=1e-5)


@pytest.mark.parametrize('case', MXNET_RAN)
def test_quantized_attention_outputs_match_mxnet(case, monkeypatch):
    """The INT8 model computes what MXNet's oneDNN kernels compute (see TOL_MXNET)."""
    qsym, qargs, _ = _quantize(case, monkeypatch)
    net = REF[case]['net']
    got = _run(qsym, qargs, calib_array(net)[:SHAPES[net][0]])[0]
    want = np.array(REF[case]['outputs']['int8'])
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL_MXNET)


@pytest.mark.parametrize('case', MXNET_RAN)
def test_quantized_attention_outputs_near_fp32(case, monkeypatch):
    """Within MXNet's own INT8 error of the FP32 outputs, plus a little."""
    qsym, qargs, _ = _quantize(case, monkeypatch)
    net = REF[case]['net']
    got = _run(qsym, qargs, calib_array(net)[:SHAPES[net][0]])[0]
    fp32 = np.array(REF[case]['outputs']['fp32'])
    mxnet_err = np.abs(np.array(REF[case]['outputs']['int8']) - fp32).max()
    assert np.abs(got - fp32).max() <= mxnet_err * 1.05 + 1e-4


@pytest.mark.parametrize('case', MXNET_REFUSED)
def test_int8_attention_type_error_as_mxnet(case, monkeypatch):
    """Uncalibrated ('none', quantize_v2 'auto' then gives int8) or with int8 activations, the
    softmax reaches valatt as int8 where the kernel takes uint8: MXNet refuses to bind, and
    so does oxnet, at the same node."""
    assert 'quantized_sg_mkldnn_selfatt_valatt_1' in REF[case]['outputs']['int8']
    assert 'uint8' in REF[case]['outputs']['int8']
    qsym, qargs, _ = _quantize(case, monkeypatch)
    net = REF[case]['net']
    with pytest.raises(MXNetError) as err:
        _run(qsym, qargs, calib_array(net)[:SHAPES[net][0]])
    msg = str(err.value)
    assert 'quantized_sg_mkldnn_selfatt_valatt_1' in msg and 'uint8' in msg, msg


# ---- data/sg_mkldnn's attention block (sg_mkldnn_selfatt_mxnet_ref.py) ----

def _sg_att_model():
    """att's params and the calibration set the reference script drew after them."""
    sym = mx.sym.load(os.path.join(SG, 'att-symbol.json'))
    args = {k[4:]: v for k, v in mx.nd.load(os.path.join(SG, 'att-0000.params')).items()}
    rng = np.random.RandomState(0)
    shapes, _, _ = sym.infer_shape(data=(4, 2, 6))
    for name, s in zip(sym.list_arguments(), shapes):
        if name != 'data':
            drawn = rng.uniform(-0.5, 0.5, s).astype('float32')
            np.testing.assert_array_equal(drawn, args[name].asnumpy())  # same stream
    return sym, args, rng.uniform(-1, 1, (8, 2, 6)).astype('float32')


@pytest.mark.parametrize('variant,kwargs', [
    ('q_att', dict(calib_mode='naive')),
    ('q_att_none', dict(calib_mode='none')),
    ('q_att_cw', dict(calib_mode='naive', quantize_granularity='channel-wise'))])
def test_sg_mkldnn_attention_fixture_reproduced(variant, kwargs):
    sym, args, calib = _sg_att_model()
    it = mx.io.NDArrayIter(calib, batch_size=4)
    qsym, qargs, _ = q.quantize_model_mkldnn(sym, args, {}, ctx=mx.cpu(), calib_data=it,
                                             num_calib_examples=8, quantized_dtype='auto',
                                             label_names=None, **kwargs)
    with open(os.path.join(SG, variant + '-symbol.json')) as f:
        want = json.load(f)
    _assert_same_quantized(json.loads(qsym.tojson()), want, 3e-6)
    want_params = {k[4:]: v for k, v in mx.nd.load(
        os.path.join(SG, variant + '-0000.params')).items()}
    _assert_same_params(qargs, want_params)
