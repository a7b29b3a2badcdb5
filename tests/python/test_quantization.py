"""mx.contrib.quantization without binding a quantized graph: the graph pass, the calibration
table, offline params and calibration over oxnet's FP32 Module, against what Apache MXNet 1.9.1
(CPU, oneDNN build) wrote for the same nets, params and calibration data (data/quantization/,
made by quantization_mxnet_ref.py), and against a numpy port of MXNet's entropy calibration.

Tests marked `needs calibrate_entropy` call the `_contrib_calibrate_entropy` registry op."""
import json
import logging

import numpy as np
import pytest

import oxnet as mx
from oxnet.contrib import quantization as q
from oxnet.contrib.quantization import graph as qgraph

from quantization_cases import (CASES, REF, QDATA, assert_same_graph, calib_arrays,
                                calib_iter, fp32_model, kl_threshold, kwargs_of,
                                mxnet_qjson, mxnet_qparams)

NAIVE = [c for c in CASES if kwargs_of(c)['calib_mode'] == 'naive']
ENTROPY = [c for c in CASES if kwargs_of(c)['calib_mode'] == 'entropy']


def _pass_kwargs(case):
    kw = kwargs_of(case)
    return dict(excluded_symbols=kw.get('excluded_sym_names'),
                excluded_operators=kw.get('excluded_op_names'),
                quantized_dtype=kw.get('quantized_dtype', 'int8'),
                quantize_mode=kw.get('quantize_mode', 'smart'))


# ---------------------------------------------------------------- graph pass


@pytest.mark.parametrize('case', CASES)
def test_graph_pass_matches_mxnet(case):
    """Same nodes, names, wiring and attributes as MXQuantizeSymbol +
    MXSetCalibTableToQuantizedSymbol given MXNet's own calibration table."""
    net = REF[case]['net']
    sym, args, _ = fp32_model(net)
    qjson, calib_layer = q._quantize_symbol_json(sym, offline_params=list(args),
                                                 **_pass_kwargs(case))
    assert calib_layer == REF[case]['calib_layer']
    calibrated = q._calibrate_quantized_sym(qjson, REF[case]['th_dict'])
    assert_same_graph(calibrated, mxnet_qjson(case))
    assert calibrated == mxnet_qjson(case)  # exact, including the %f range strings


def test_smart_mode_leaves_graph_edges_fp32():
    """'smart' keeps the pooling/flatten before the first FC and the relu after the last one
    in FP32; 'full' quantizes them (and then starts INT8 at `data`)."""
    sym, args, _ = fp32_model('edge')
    smart, layers_smart = q._quantize_symbol_json(sym, offline_params=list(args))
    full, layers_full = q._quantize_symbol_json(sym, offline_params=list(args),
                                                quantize_mode='full')
    ops = lambda g: {n['name']: n['op'] for n in g['nodes']}
    assert ops(smart)['pool_in'] == 'Pooling' and ops(smart)['relu_out'] == 'Activation'
    assert ops(full)['quantized_pool_in'] == '_contrib_quantized_pooling'
    assert ops(full)['quantized_relu_out'] == '_contrib_quantized_act'
    assert 'flatten_in_0_quantize' in ops(smart) and 'data_quantize' in ops(full)
    # sigmoid has no INT8 kernel in either mode
    assert ops(full)['sig1'] == 'Activation'
    assert layers_smart[0] == 'flatten_in_output' and layers_full[0] == 'data'


def test_graph_pass_accepts_json_text_and_symbol():
    sym, args, _ = fp32_model('mlp')
    a, _ = q._quantize_symbol_json(sym, offline_params=list(args))
    b, _ = q._quantize_symbol_json(sym.tojson(), offline_params=list(args))
    assert a == b == mxnet_qjson('mlp_none')


def test_graph_pass_without_offline_params_keeps_weight_quantize_nodes():
    """Weights not named offline are quantized at runtime by a quantize_v2 node each."""
    sym, _, _ = fp32_model('mlp')
    qjson, _ = q._quantize_symbol_json(sym)
    nodes = {n['name']: n for n in qjson['nodes']}
    assert nodes['fc1_weight_quantize']['op'] == '_contrib_quantize_v2'
    assert nodes['fc1_weight']['op'] == 'null'
    fc1 = nodes['quantized_fc1']
    names = [qjson['nodes'][e[0]]['name'] for e in fc1['inputs']]
    assert names == ['data_quantize', 'fc1_weight_quantize', 'fc1_bias_quantize',
                     'data_quantize', 'data_quantize', 'fc1_weight_quantize',
                     'fc1_weight_quantize', 'fc1_bias_quantize', 'fc1_bias_quantize']
    assert [e[1] for e in fc1['inputs']] == [0, 0, 0, 1, 2, 1, 2, 1, 2]


def test_quantized_head_gets_dequantize():
    """A quantized op producing a graph output is followed by `<name>_dequantize`."""
    data = mx.sym.var('data')
    fc = mx.sym.FullyConnected(data, num_hidden=3, name='fc')
    qjson, layers = q._quantize_symbol_json(fc, offline_params=['fc_weight', 'fc_bias'])
    head = qjson['nodes'][qjson['heads'][0][0]]
    assert head['op'] == '_contrib_dequantize' and head['name'] == 'fc_dequantize'
    src = qjson['nodes'][head['inputs'][0][0]]
    assert src['name'] == 'requantize_fc'
    assert [e[1] for e in head['inputs']] == [0, 1, 2]
    assert layers == ['data', 'fc_output']


def test_calibration_table_ignores_unknown_layers_and_formats_like_cpp():
    sym, args, _ = fp32_model('mlp')
    qjson, _ = q._quantize_symbol_json(sym, offline_params=list(args))
    out = q._calibrate_quantized_sym(qjson, {'fc1_output': (np.float32(-1.5), 2.25),
                                             'not_a_layer': (0, 1)})
    nodes = {n['name']: n for n in out['nodes']}
    assert nodes['requantize_fc1']['attrs'] == {'out_type': 'int8',
                                               'min_calib_range': '-1.500000',
                                               'max_calib_range': '2.250000'}
    assert 'min_calib_range' not in nodes['data_quantize']['attrs']
    assert q._calibrate_quantized_sym(qjson, {}) is qjson


def test_output_name_rules():
    """FListOutputNames ops name outputs `<node>_<name>`, the others `<node>_output`."""
    bn = {'op': 'BatchNorm', 'name': 'bn', 'num_outputs': 3}
    fl = {'op': 'Flatten', 'name': 'f', 'num_outputs': 1}
    sp = {'op': 'SliceChannel', 'name': 's', 'num_outputs': 2}
    var = {'op': 'null', 'name': 'x', 'num_outputs': 1}
    assert qgraph.output_name(bn, 2) == 'bn_var'
    assert qgraph.output_name(fl, 0) == 'f_output'
    assert qgraph.output_name(sp, 1) == 's_output1'
    assert qgraph.output_name(var, 0) == 'x'


@pytest.mark.parametrize('op', ['Concat', 'elemwise_add', 'Pad', 'SwapAxis', 'Flatten', 'exp'])
def test_quantize_node_after_an_excluded_op_is_named_as_mxnet(op):
    # MXNet 1.9.1 names it <node>_<FListOutputNames entry>_quantize where the op registers
    # output names (X_output_quantize for the first four) and <node>_<index>_quantize else
    sym = mx.sym
    make = {'Concat': lambda x: sym.Concat(x, x, dim=1, name='X'),
            'elemwise_add': lambda x: sym.elemwise_add(x, x, name='X'),
            'Pad': lambda x: sym.Pad(x, mode='constant', pad_width=(0, 0, 0, 0, 1, 1, 1, 1),
                                     name='X'),
            'SwapAxis': lambda x: sym.SwapAxis(x, dim1=2, dim2=3, name='X'),
            'Flatten': lambda x: sym.Flatten(x, name='X'), 'exp': lambda x: sym.exp(x, name='X')}
    s = sym.FullyConnected(make[op](sym.Convolution(sym.var('data'), kernel=(1, 1), num_filter=2,
                                                    name='c0')), num_hidden=3, name='fc')
    args = {n: mx.nd.ones((1,)) for n in s.list_arguments() if n != 'data'}
    qs, _, _ = q.quantize_model(s, args, {}, calib_mode='none', excluded_sym_names=['X'],
                                quantize_mode='full')
    names = [n['name'] for n in json.loads(qs.tojson())['nodes'] if n['name'].startswith('X_')]
    want = 'X_0_quantize' if op in ('Flatten', 'exp') else 'X_output_quantize'
    assert names == [want]


# ---------------------------------------------------------------- offline params


@pytest.mark.parametrize('case', CASES)
def test_quantized_params_match_mxnet(case):
    """int8 weights/biases bit-exact, their min/max exact, other args passed through."""
    sym, args, _ = fp32_model(REF[case]['net'])
    got = q._quantize_params(mxnet_qjson(case), args, REF[case]['th_dict'])
    want = mxnet_qparams(case)
    assert sorted(got) == sorted(want)
    for name, value in want.items():
        assert got[name].dtype == value.dtype, name
        assert got[name].shape == value.shape, name
        np.testing.assert_array_equal(got[name].asnumpy(), value.asnumpy(), err_msg=name)


def test_quantize_params_rounding_and_layer_ranges():
    """Scale 127/max|w|, ties to even, as MXNet 1.9.1's (oneDNN) quantize printed for this
    input: [-127, -2, 0, 0, 0, 2, 127]; `<layer>_min/_max` args come from th_dict."""
    w = np.array([[-127, -1.5, -0.5, 0, 0.5, 2.5, 127]], dtype=np.float32)
    graph = {'nodes': [{'op': 'null', 'name': 'fc_weight_quantize', 'inputs': []},
                       {'op': 'null', 'name': 'pool_min', 'inputs': []},
                       {'op': 'null', 'name': 'other', 'inputs': []},
                       {'op': '_contrib_quantized_flatten', 'name': 'qf',
                        'inputs': [[0, 0, 0], [1, 0, 0], [2, 0, 0]]}],
             'arg_nodes': [0, 1, 2], 'node_row_ptr': [0, 1, 2, 3, 6], 'heads': [[3, 0, 0]]}
    out = q._quantize_params(graph, {'fc_weight': mx.nd.array(w)}, {'pool': (-0.5, 3.0)})
    np.testing.assert_array_equal(out['fc_weight_quantize'].asnumpy(),
                                  [[-127, -2, 0, 0, 0, 2, 127]])
    assert out['fc_weight_quantize'].dtype == np.int8
    assert out['fc_weight_quantize_min'].asnumpy().tolist() == [-127.0]
    assert out['fc_weight_quantize_max'].asnumpy().tolist() == [127.0]
    assert out['pool_min'].asnumpy().tolist() == [-0.5]
    assert 'other' not in out
    zeros = q._quantize_params(graph, {'fc_weight': mx.nd.zeros((2, 2))}, {})
    assert zeros['fc_weight_quantize'].asnumpy().tolist() == [[0, 0], [0, 0]]


def test_quantize_params_names_missing_weight():
    with pytest.raises(KeyError, match='_quantize_params.*fc1_weight'):
        q._quantize_params(mxnet_qjson('mlp_none'), {}, {})


# ---------------------------------------------------------------- calibration (naive)


@pytest.mark.parametrize('case', NAIVE)
def test_naive_calibration_pipeline_matches_mxnet(case):
    """quantize_model's steps through oxnet's FP32 Module: the calibration table equals
    MXNet's up to float32 rounding of the forward, the graph and params match MXNet's."""
    sym, args, auxs = fp32_model(REF[case]['net'])
    qjson, qargs, qauxs, th = q._quantize_model_json(
        sym, args, auxs, ctx=mx.cpu(), calib_data=calib_iter(REF[case]['net']),
        **kwargs_of(case))
    want = REF[case]['th_dict']
    assert sorted(th) == sorted(want)
    for name, (lo, hi) in want.items():
        np.testing.assert_allclose(th[name], (lo, hi), rtol=1e-5, atol=2e-6, err_msg=name)
    assert_same_graph(qjson, mxnet_qjson(case), calib_atol=3e-6)
    ref_params = mxnet_qparams(case)
    assert sorted(qargs) == sorted(ref_params)
    for name, value in ref_params.items():
        np.testing.assert_array_equal(qargs[name].asnumpy(), value.asnumpy(), err_msg=name)
    assert qauxs is auxs


def test_naive_ranges_equal_numpy_min_max_of_layer_outputs():
    """The collected ranges are the min/max over all calibration batches of each layer output,
    recomputed here from the FP32 executor's internals."""
    sym, args, auxs = fp32_model('mlp')
    x, _ = calib_arrays('mlp')
    internals = sym.get_internals()
    outs = mx.sym.Group([internals['fc1_output'], internals['fc2_output']])
    ex = outs.simple_bind(mx.cpu(), data=x.shape, grad_req='null')
    ex.copy_params_from(args, auxs, allow_extra_params=True)
    fc1, fc2 = [o.asnumpy() for o in ex.forward(data=mx.nd.array(x))]
    _, _, _, th = q._quantize_model_json(sym, args, auxs, calib_mode='naive',
                                         calib_data=calib_iter('mlp'))
    np.testing.assert_allclose(th['data'], (x.min(), x.max()))
    np.testing.assert_allclose(th['fc1_output'], (fc1.min(), fc1.max()), rtol=1e-6)
    np.testing.assert_allclose(th['fc2_output'], (fc2.min(), fc2.max()), rtol=1e-6)


def test_num_calib_examples_stops_after_whole_batches():
    """cnn_naive_auto calibrates on 8 of the 16 examples (two batches of 4), as MXNet did."""
    sym, args, auxs = fp32_model('cnn')
    x, _ = calib_arrays('cnn')
    _, _, _, th = q._quantize_model_json(sym, args, auxs, calib_mode='naive',
                                         calib_data=calib_iter('cnn'), num_calib_examples=6)
    np.testing.assert_allclose(th['data'], (x[:8].min(), x[:8].max()))
    np.testing.assert_allclose(th['data'], REF['cnn_naive_auto']['th_dict']['data'])


def test_collector_on_a_plain_executor_monitor():
    """quantize_graph's flow by hand: a collector installed on an FP32 executor's monitor
    over the calibration batches yields MXNet's calibrated graph."""
    sym, args, auxs = fp32_model('cnn')
    qjson, layers = q._quantize_symbol_json(sym, offline_params=list(args))
    collector = q._LayerOutputMinMaxCollector('int8', include_layer=layers)
    x, _ = calib_arrays('cnn')
    ex = sym.simple_bind(mx.cpu(), data=(4,) + x.shape[1:], grad_req='null')
    ex.copy_params_from(args, auxs, allow_extra_params=True)
    ex.set_monitor_callback(collector.collect, monitor_all=True)
    for i in range(0, 16, 4):
        ex.forward(is_train=False, data=mx.nd.array(x[i:i + 4]))
    assert sorted(collector.min_max_dict) == sorted(layers)
    calibrated = q._calibrate_quantized_sym(qjson, collector.min_max_dict)
    assert_same_graph(calibrated, mxnet_qjson('cnn_naive'), calib_atol=3e-6)


def test_min_max_collector_filters_and_accumulates():
    c = q._LayerOutputMinMaxCollector('int8', include_layer=['a_output'])
    c.collect(b'a_output', mx.nd.array([[-1.0, 2.0]]))
    c.collect('a_output', np.array([0.5, 3.0], dtype=np.float32))
    c.collect('b_output', mx.nd.array([100.0]))
    assert c.min_max_dict == {'a_output': (-1.0, 3.0)}
    with pytest.raises(TypeError, match='NDArray or numpy'):
        c.collect('a_output', [1.0])


# ---------------------------------------------------------------- calibration (entropy)


def test_histogram_collector_and_combine_histogram():
    rng = np.random.RandomState(3)
    a = rng.normal(size=1000).astype(np.float32)
    b = 3 * rng.normal(size=1000).astype(np.float32)
    c = q._LayerHistogramCollector(num_bins=101, include_layer=['x'])
    c.collect('x', mx.nd.array(a))
    th_a = np.abs(a).max()
    hist_a, edges_a, _, _, _ = c.hist_dict['x']
    np.testing.assert_array_equal(hist_a, np.histogram(a, bins=101, range=(-th_a, th_a))[0])
    c.collect('x', b)  # wider range: the histogram grows by whole old bins on each side
    hist, edges, lo, hi, th = c.hist_dict['x']
    step = 2 * th_a / 101
    grow = int((np.abs(b).max() - th_a) // step + 1)
    assert len(hist) == 101 + 2 * grow
    np.testing.assert_allclose(th, th_a + grow * step, rtol=1e-6)
    assert hist.sum() == 2000
    b_counts = np.histogram(b, bins=len(hist), range=(-th, th))[0]
    np.testing.assert_array_equal(hist[grow:grow + 101], hist_a + b_counts[grow:grow + 101])
    assert lo == min(a.min(), b.min()) and hi == max(a.max(), b.max())
    # a narrower batch is binned into the existing range
    combined = q.combine_histogram(c.hist_dict['x'], a, a.min(), a.max(), th_a)
    np.testing.assert_array_equal(combined[0], hist + np.histogram(a, bins=len(hist),
                                                                   range=(-th, th))[0])
    assert combined[4] == th


def test_smooth_distribution():
    p = np.array([0, 4, 0, 6], dtype=np.float32)
    s = q._smooth_distribution(p, eps=0.01)
    np.testing.assert_allclose(s, [0.01, 3.99, 0.01, 5.99], rtol=1e-6)
    assert s.sum() == pytest.approx(p.sum())
    with pytest.raises(ValueError, match='all entries are 0'):
        q._smooth_distribution(np.zeros(3))


def test_kl_oracle_matches_mxnet_printed_thresholds():
    """The numpy oracle used below reproduces MXNet's _contrib_calibrate_entropy."""
    np.random.seed(0)
    x = np.random.normal(size=10000).astype('float32')
    h, e = np.histogram(x, bins=2001, range=(-4, 4))
    th, div = kl_threshold(h, e, 255)
    assert th == np.float32(REF['_calibrate_entropy_example'][0])
    assert div == pytest.approx(REF['_calibrate_entropy_example'][1], rel=1e-4)
    np.random.seed(1)
    v = np.abs(np.random.normal(size=5000)).astype('float32')
    h, e = np.histogram(v, bins=1001, range=(-3, 3))
    th, div = kl_threshold(h, e, 511)
    assert th == np.float32(REF['_calibrate_entropy_relu'][0])
    assert div == pytest.approx(REF['_calibrate_entropy_relu'][1], rel=1e-4)


@pytest.mark.parametrize('case', ENTROPY)
def test_entropy_histograms_give_mxnet_thresholds(case):
    """Histograms collected through oxnet's FP32 Module, fed to the numpy oracle, give MXNet's
    entropy thresholds: the same histogram bin edge, up to float32 rounding."""
    net = REF[case]['net']
    sym, args, auxs = fp32_model(net)
    _, layers = q._quantize_symbol_json(sym, offline_params=list(args))
    it = calib_iter(net)
    mod = mx.mod.Module(sym, context=mx.cpu())
    mod.bind(for_training=False, data_shapes=it.provide_data, label_shapes=it.provide_label)
    mod.set_params(args, auxs)
    hist_dict, n = q._collect_layer_histogram(mod, it, include_layer=layers)
    assert n == 16 and sorted(hist_dict) == sorted(layers)
    for name, (lo, hi) in REF[case]['th_dict'].items():
        hist, edges, _, _, _ = hist_dict[name]
        th, _ = kl_threshold(hist, edges, 255)
        assert abs(th - hi) <= 1e-6 * hi, (name, th, hi)
        assert lo == -hi


def test_get_optimal_threshold_needs_calibrate_entropy():
    """needs calibrate_entropy: the documented example through the registry op."""
    np.random.seed(0)
    x = np.random.normal(size=10000).astype('float32')
    h, e = np.histogram(x, bins=2001, range=(-4, 4))
    lo, hi, th, div = q._get_optimal_threshold((h, e, x.min(), x.max(), 4.0), 'int8')
    assert th.shape == (1,) and div.shape == (1,)
    assert th[0] == np.float32(3.0524738)
    assert div[0] == pytest.approx(0.04385798, rel=1e-5)
    assert (lo, hi) == (x.min(), x.max())


def test_get_optimal_thresholds_uint8_doubles_bins_needs_calibrate_entropy():
    """needs calibrate_entropy: a non-negative layer quantized to uint8/auto uses 511 bins
    and gets (0, th); with int8 it stays symmetric over 255 bins."""
    np.random.seed(1)
    v = np.abs(np.random.normal(size=5000)).astype('float32')
    h, e = np.histogram(v, bins=1001, range=(-3, 3))
    data = (h, e, v.min(), v.max(), 3.0)
    for dtype in ('uint8', 'auto'):
        th = q._get_optimal_thresholds({'r': data}, dtype)
        assert th['r'][0] == 0
        assert th['r'][1][0] == np.float32(REF['_calibrate_entropy_relu'][0])
    th8 = q._get_optimal_thresholds({'r': data}, 'int8')
    want, _ = kl_threshold(h, e, 255)
    assert th8['r'][1][0] == want and th8['r'][0][0] == -want


def test_get_optimal_thresholds_logs_each_layer(caplog):
    """needs calibrate_entropy: with a logger (as MXNet's example passes) each layer's
    threshold is logged as a number."""
    np.random.seed(1)
    v = np.random.normal(size=5000).astype('float32')
    h, e = np.histogram(v, bins=1001, range=(-3, 3))
    logger = logging.getLogger('calib-test')
    with caplog.at_level(logging.DEBUG, logger='calib-test'):
        th = q._get_optimal_thresholds({'r': (h, e, v.min(), v.max(), 3.0)}, 'int8',
                                       logger=logger)
    assert 'layer=r, min_val=%f, max_val=%f, th=%f,' % (v.min(), v.max(), th['r'][1][0]) \
        in caplog.text


@pytest.mark.parametrize('case', ENTROPY)
def test_entropy_pipeline_matches_mxnet_needs_calibrate_entropy(case):
    """needs calibrate_entropy: quantize_model's entropy calibration end to end (no binding
    of the quantized graph)."""
    net = REF[case]['net']
    sym, args, auxs = fp32_model(net)
    qjson, qargs, _, th = q._quantize_model_json(sym, args, auxs, calib_data=calib_iter(net),
                                                 **kwargs_of(case))
    assert sorted(th) == sorted(REF[case]['th_dict'])
    for name, (lo, hi) in REF[case]['th_dict'].items():
        assert abs(float(np.ravel(th[name][1])[0]) - hi) <= 1e-6 * hi, name
        assert abs(float(np.ravel(th[name][0])[0]) - lo) <= 1e-6 * hi, name
    assert_same_graph(qjson, mxnet_qjson(case), calib_atol=1e-5)
    want = mxnet_qparams(case)
    for name, value in want.items():
        np.testing.assert_array_equal(qargs[name].asnumpy(), value.asnumpy(), err_msg=name)


# ---------------------------------------------------------------- API surface and errors


def test_module_wiring():
    assert mx.contrib.quantization is q
    for name in ('quantize_model', 'quantize_model_mkldnn', 'quantize_graph', 'calib_graph',
                 'combine_histogram', '_quantize_symbol', '_quantize_params',
                 '_calibrate_quantized_sym', '_collect_layer_statistics',
                 '_LayerOutputMinMaxCollector', '_LayerHistogramCollector',
                 '_get_optimal_threshold', '_get_optimal_thresholds', '_smooth_distribution',
                 '_load_sym', '_load_params', '_as_data_iter', '_DataIterWrapper'):
        assert callable(getattr(q, name)), name


@pytest.mark.parametrize('func', ['quantize_net', 'quantize_net_v2'])
def test_gluon_entry_points_say_there_is_no_gluon(func):
    with pytest.raises(NotImplementedError, match='no Gluon'):
        getattr(q, func)(object())


@pytest.mark.parametrize('kwargs,exc,match', [
    (dict(quantized_dtype='int4'), ValueError, "quantized_dtype 'int4'"),
    (dict(quantize_granularity='row'), ValueError, "quantize_granularity 'row'"),
    (dict(quantize_mode='half'), ValueError, "quantize_mode 'half'"),
    (dict(excluded_sym_names='fc1'), ValueError, 'excluded_sym_names must be a list'),
    (dict(excluded_op_names=('Pooling',)), ValueError, 'excluded_op_names must be a list'),
    (dict(calib_mode='naive'), ValueError, 'calib_data must be provided'),
    (dict(calib_mode='naive', calib_data=[1, 2]), ValueError, 'must be of DataIter type'),
    (dict(calib_mode='minmax', calib_data='it'), ValueError, "unknown calib_mode 'minmax'"),
    (dict(ctx='cpu'), ValueError, 'single Context'),
    (dict(ctx=mx.gpu(0)), NotImplementedError, 'only the CPU quantization pass'),
])
def test_quantize_model_rejects_bad_arguments(kwargs, exc, match):
    sym, args, auxs = fp32_model('mlp')
    if kwargs.get('calib_data') == 'it':
        kwargs['calib_data'] = calib_iter('mlp')
    with pytest.raises(exc, match=match):
        q._quantize_model_json(sym, args, auxs, **kwargs)
    with pytest.raises(exc, match=match):
        q.quantize_model(sym, args, auxs, **kwargs)


def test_quantize_model_rejects_non_dict_params():
    sym, args, auxs = fp32_model('mlp')
    with pytest.raises(TypeError, match='arg_params and aux_params must be dicts'):
        q.quantize_model(sym, list(args.values()), auxs, calib_mode='none')


def test_calib_graph_needs_a_calibration_mode():
    with pytest.raises(ValueError, match='calib_graph: please set calib_mode'):
        q.calib_graph(mxnet_qjson('mlp_none'), {}, {}, None, calib_mode='none')


def test_collect_layer_statistics_wants_a_data_iter():
    with pytest.raises(ValueError, match='data must be a DataIter'):
        q._collect_layer_statistics(None, [np.zeros(3)], None)


def test_load_sym_and_load_params(tmp_path):
    sym, args, auxs = fp32_model('cnn')
    path = '%s/cnn-symbol.json' % QDATA
    assert q._load_sym(path).tojson() == sym.tojson()
    assert q._load_sym(sym) is sym
    with pytest.raises(ValueError, match='_load_sym only accepts Symbol'):
        q._load_sym(3)
    a, x = q._load_params('%s/cnn-0000.params' % QDATA)
    assert sorted(a) == sorted(args) and sorted(x) == sorted(auxs)
    assert sorted(x) == ['bn0_moving_mean', 'bn0_moving_var']
    assert q._load_params((args, auxs)) == (args, auxs)
    with pytest.raises(ValueError, match='_load_params'):
        q._load_params(3)


def test_as_data_iter_wraps_plain_iterables():
    x, y = calib_arrays('mlp')
    batches = [(mx.nd.array(x[i:i + 4]), mx.nd.array(y[i:i + 4])) for i in range(0, 16, 4)]
    it, shapes = q._as_data_iter(batches)
    assert [(d.name, d.shape) for d in shapes] == [('data', (4, 12)), ('data0', (4,))]
    assert it.batch_size == 4
    got = [b.data[0].asnumpy() for b in it]
    assert len(got) == 4
    np.testing.assert_array_equal(np.concatenate(got), x)
    it.reset()
    assert len(list(it)) == 4
    nd_it = calib_iter('mlp')
    assert q._as_data_iter(nd_it)[0] is nd_it
    with pytest.raises(TypeError, match='calib_data is not a valid iterator'):
        q._as_data_iter(3)


def test_logger_reports_steps(caplog):
    sym, args, auxs = fp32_model('mlp')
    log = logging.getLogger('quantization-test')
    with caplog.at_level(logging.INFO, logger='quantization-test'):
        q._quantize_model_json(sym, args, auxs, calib_mode='naive',
                               calib_data=calib_iter('mlp'), logger=log)
    text = caplog.text
    assert 'Quantizing symbol' in text and 'Quantizing parameters' in text
    assert 'Collected layer output min/max values from FP32 model using 16 examples' in text


def test_saved_fixture_json_is_mxnet_format():
    """Sanity of the oracle files themselves: the quantized graphs come from MXNet 1.9.1."""
    g = mxnet_qjson('cnn_naive')
    assert g['attrs']['mxnet_version'] == ['int', 10901]
    assert json.dumps(g)  # parsed, re-serializable


def test_control_flow_subgraphs_pass_through():
    """Nodes the pass does not touch keep every JSON field, subgraphs included."""
    with open('%s/../foreach_rnn-symbol.json' % QDATA) as f:
        src = json.load(f)
    qjson, _ = q._quantize_symbol_json(json.dumps(src))
    by_name = {n['name']: n for n in qjson['nodes']}
    carried = [n for n in src['nodes'] if 'subgraphs' in n]
    assert carried
    for n in carried:
        assert by_name[n['name']]['subgraphs'] == n['subgraphs']


def test_contrib_quant_is_the_quantization_module():
    assert mx.contrib.quant is q


def test_quantize_ops_pass_the_data_shape_both_ways():
    # A zeros((0, 8)) begin state learns its batch from the graph through quantize_v2 /
    # dequantize, as MXNet 1.9.1 infers it ('z_output': (2, 8)).
    z = mx.sym.zeros(shape=(0, 8), name="z")
    s = mx.sym.elemwise_add(mx.sym.Variable("d"), mx.sym.contrib.dequantize(
        *mx.sym.contrib.quantize_v2(z, out_type="int8")))
    internals = s.get_internals()
    shapes = dict(zip(internals.list_outputs(), internals.infer_shape_partial(d=(2, 8))[1]))
    assert shapes["z_output"] == (2, 8) and shapes["quantize_v20_output0"] == (2, 8)


def test_uint8_quantized_residual_binds():
    """The residual pattern quantize_model(quantized_dtype='uint8') makes: data feeds both its
    uint8 quantize node and a float32 add. MXNet 1.9.1 infers, binds and runs it, printing
    0.53149605 everywhere (0.03149606 from the conv alone)."""
    data = mx.sym.Variable("data")
    q = mx.sym.contrib.quantize_v2(data, out_type="uint8", name="data_quantize")
    qconv = mx.sym.contrib.quantized_conv(
        data=q[0], weight=mx.sym.Variable("w", dtype="int8"), min_data=q[1], max_data=q[2],
        min_weight=mx.sym.Variable("wmin"), max_weight=mx.sym.Variable("wmax"),
        kernel=(1, 1), num_filter=4, no_bias=True, name="qconv")
    deq = mx.sym.contrib.dequantize(*mx.sym.contrib.requantize(*qconv))
    out = mx.sym.elemwise_add(deq, data)
    assert out.infer_shape(data=(2, 4, 5, 5))[1] == [(2, 4, 5, 5)]
    ex = out.simple_bind(mx.cpu(), data=(2, 4, 5, 5), grad_req="null")
    ex.arg_dict["data"][:] = 0.5
    ex.arg_dict["w"][:] = 1
    ex.arg_dict["wmin"][:] = -1
    ex.arg_dict["wmax"][:] = 1
    got = ex.forward()[0].asnumpy()
    assert got.shape == (2, 4, 5, 5)
    np.testing.assert_allclose(got, 0.53149605, rtol=1e-6)


@pytest.mark.parametrize("quantized_dtype", ["int8", "auto"])
def test_quantized_lstm_binds_and_tracks_fp32(quantized_dtype):
    # mx.rnn begin states are zeros((0, num_hidden)) feeding the quantized h2h layer: their
    # batch comes back through quantized_fully_connected (MXNet 1.9.1 binds this graph; its
    # int8 outputs differ from FP32 by 0.0018 at most).
    cell = mx.rnn.LSTMCell(num_hidden=64)
    outputs, _ = cell.unroll(4, mx.sym.Variable("data"))
    sym = mx.sym.Group(outputs)
    mod = mx.mod.Module(sym, label_names=None)
    mod.bind(data_shapes=[("data", (4, 4, 32))], for_training=False)
    mx.random.seed(0)
    mod.init_params(mx.init.Uniform(0.1))
    arg, aux = mod.get_params()
    x = mx.nd.array(np.random.RandomState(0).uniform(-1, 1, (4, 4, 32)))
    mod.forward(mx.io.DataBatch([x]), is_train=False)
    ref = mod.get_outputs()[0].asnumpy()
    qsym, qarg, qaux = q.quantize_model(sym, arg, aux, ctx=mx.cpu(), calib_mode="none",
                                        quantized_dtype=quantized_dtype)
    # MXNet names the quantize node of a SliceChannel output by its listed name (output<i>).
    assert any(n.startswith("split") and n.endswith("_output0_quantize_output0")
               for n in qsym.get_internals().list_outputs())
    qmod = mx.mod.Module(qsym, label_names=None)
    qmod.bind(data_shapes=[("data", (4, 4, 32))], for_training=False)
    qmod.set_params(qarg, qaux)
    qmod.forward(mx.io.DataBatch([x]), is_train=False)
    got = qmod.get_outputs()[0].asnumpy()
    assert got.shape == ref.shape
    assert np.abs(got - ref).max() < 0.01
