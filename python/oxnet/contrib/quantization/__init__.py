"""``mx.contrib.quantization``: MXNet 1.9.1's INT8 post-training quantization of symbolic models.

``quantize_model(sym, arg_params, aux_params, ...)`` rewrites an FP32 symbol into one running
INT8 kernels (``_contrib_quantize_v2`` at the graph's INT8 entries, ``quantized_<layer>`` ops,
``requantize_<layer>`` after the int32-accumulating ones, ``<layer>_dequantize`` where FP32
resumes), quantizes weights and biases offline, and optionally calibrates the activation ranges
on sample data ('naive': observed min/max; 'entropy': KL-divergence thresholds) so that no
runtime min/max is needed. The graph pass works on the symbol's JSON (module ``graph``), so a
quantized graph can be built and saved before it is bound. The op choices are those of MXNet
1.9.1's CPU (oneDNN) build. ``quantize_model_mkldnn`` first fuses the graph with MXNet's oneDNN
subgraph passes (module ``mkldnn``, also behind ``Symbol.get_backend_symbol``), quantizes the
fused ``_sg_mkldnn_conv``/``_sg_mkldnn_fully_connected``/``_sg_mkldnn_selfatt_qk|valatt``
nodes, then folds requantize and dequantize nodes into them.
``quantize_granularity='channel-wise'`` only changes those fused FCs; unfused graphs come out
as with 'tensor-wise', as in MXNet.
``quantize_net``/``quantize_net_v2`` are Gluon APIs; oxnet has no Gluon.
"""
import json
import logging
import os

from ...base import string_types
from ...context import cpu, Context
from ...io import DataIter, DataDesc, DataBatch
from ...module import Module
from ...ndarray import load as nd_load
from ...symbol import Symbol, load as sym_load, load_json as sym_load_json
from . import graph as _graph
from . import mkldnn as _mkldnn
from .calibration import (combine_histogram, _LayerHistogramCollector,
                          _LayerOutputMinMaxCollector, _collect_layer_statistics,
                          _collect_layer_output_min_max, _collect_layer_histogram,
                          _smooth_distribution, _get_optimal_threshold,
                          _get_optimal_thresholds)
from .params import _quantize_params

__all__ = ['quantize_model', 'quantize_model_mkldnn', 'quantize_graph', 'calib_graph',
           'quantize_net', 'quantize_net_v2', 'combine_histogram']

_DTYPES = ('int8', 'uint8', 'auto')
_GRANULARITIES = ('tensor-wise', 'channel-wise')


def _check_names(func, arg, names):
    if names is None:
        return []
    if not isinstance(names, list) or not all(isinstance(n, string_types) for n in names):
        raise ValueError('%s: %s must be a list of strings naming what is not quantized, '
                         'got %r' % (func, arg, names))
    return names


def _check_options(func, ctx, quantized_dtype, quantize_mode, quantize_granularity):
    if not isinstance(ctx, Context):
        raise ValueError('%s: ctx must be a single Context, got %s' % (func, str(ctx)))
    if ctx.device_type != 'cpu':
        raise NotImplementedError(
            '%s: only the CPU quantization pass is implemented (MXNet picks different INT8 '
            'ops for GPU); got ctx=%s' % (func, ctx))
    if quantized_dtype not in _DTYPES:
        raise ValueError("%s: unknown quantized_dtype %r, expected 'int8', 'uint8' or 'auto'"
                         % (func, quantized_dtype))
    if quantize_mode not in ('smart', 'full'):
        raise ValueError("%s: unknown quantize_mode %r, expected 'smart' or 'full'"
                         % (func, quantize_mode))
    if quantize_granularity not in _GRANULARITIES:
        raise ValueError("%s: unknown quantize_granularity %r, expected 'tensor-wise' or "
                         "'channel-wise'" % (func, quantize_granularity))


def _graph_json(sym, func):
    if isinstance(sym, Symbol):
        return sym.tojson()
    if isinstance(sym, (dict, string_types)):
        return sym
    raise TypeError('%s: sym must be a Symbol (or its JSON), got %s' % (func, type(sym).__name__))


def _quantize_symbol_json(sym, excluded_symbols=None, excluded_operators=None,
                          offline_params=None, quantized_dtype='int8', quantize_mode='smart',
                          quantize_granularity='tensor-wise'):
    """The graph pass without building a Symbol: (quantized JSON dict, calibration layers)."""
    return _graph.quantize_graph_json(
        _graph_json(sym, '_quantize_symbol'), excluded_symbols or (), excluded_operators or (),
        offline_params or (), quantized_dtype, quantize_mode, quantize_granularity)


def _quantize_symbol(sym, ctx, excluded_symbols=None, excluded_operators=None,
                     offline_params=None, quantized_dtype='int8', quantize_mode='smart',
                     quantize_granularity='tensor-wise'):
    """MXQuantizeSymbol: (quantized Symbol, names of the FP32 layer outputs to calibrate).
    Parameters named in `offline_params` become `<name>_quantize` (+ `_min`/`_max`) inputs
    that `_quantize_params` fills."""
    excluded_symbols = _check_names('_quantize_symbol', 'excluded_symbols', excluded_symbols)
    excluded_operators = _check_names('_quantize_symbol', 'excluded_operators',
                                      excluded_operators)
    _check_options('_quantize_symbol', ctx, quantized_dtype, quantize_mode,
                   quantize_granularity)
    qjson, calib_layer = _quantize_symbol_json(sym, excluded_symbols, excluded_operators,
                                               offline_params, quantized_dtype, quantize_mode,
                                               quantize_granularity)
    return sym_load_json(json.dumps(qjson)), calib_layer


def _calibrate_quantized_sym(qsym, th_dict):
    """Writes the calibration table {layer output: (min, max)} into the quantized graph as
    min_calib_range/max_calib_range. Takes and returns a Symbol, or JSON (then a dict)."""
    if not th_dict:
        return qsym
    calibrated = _graph.calibrate_graph_json(_graph_json(qsym, '_calibrate_quantized_sym'),
                                             th_dict)
    if isinstance(qsym, Symbol):
        return sym_load_json(json.dumps(calibrated))
    return calibrated


def _load_sym(sym, logger=None):
    """A Symbol from a Symbol or the path of a symbol JSON file."""
    if isinstance(sym, string_types):
        path = os.path.realpath(sym)
        if logger:
            logger.info('Loading symbol from file %s' % path)
        return sym_load(path)
    if isinstance(sym, Symbol):
        return sym
    raise ValueError('_load_sym only accepts Symbol or path to the symbol file, while '
                     'received type %s' % str(type(sym)))


def _load_params(params, logger=None):
    """(arg_params, aux_params) from a .params path (``arg:``/``aux:`` keys) or a pair."""
    if isinstance(params, string_types):
        path = os.path.realpath(params)
        if logger:
            logger.info('Loading params from file %s' % path)
        arg_params, aux_params = {}, {}
        for key, value in nd_load(path).items():
            kind, name = key.split(':', 1)
            if kind == 'arg':
                arg_params[name] = value
            elif kind == 'aux':
                aux_params[name] = value
        return arg_params, aux_params
    if isinstance(params, (tuple, list)) and len(params) == 2:
        return params[0], params[1]
    raise ValueError('_load_params: params must be a path to a .params file or a pair of '
                     'dicts (arg_params, aux_params), got %s' % str(type(params)))


class _DataIterWrapper(DataIter):
    """A DataIter over any iterable of batches (tuples of arrays: data first, then the
    rest); names the inputs `data`, `data0`, ... as MXNet does."""

    def __init__(self, calib_data):
        super().__init__()
        self._data = calib_data
        try:
            first = next(iter(calib_data))
        except TypeError as err:
            raise TypeError('calib_data is not a valid iterator. {}'.format(str(err)))
        first = list(first) if isinstance(first, (list, tuple)) else [first]
        if not first:
            raise ValueError('calib_data yields empty batches')
        if len(first[0].shape) > 4:  # 5D/6D inputs are folded into the batch axis
            first[0] = first[0].reshape((-1,) + first[0].shape[2:])
        if len(first) >= 3:
            self.provide_data = [DataDesc(name='data{}'.format(i), shape=x.shape)
                                 for i, x in enumerate(first)]
        else:
            self.provide_data = [DataDesc(name='data', shape=first[0].shape)]
            self.provide_data += [DataDesc(name='data{}'.format(i), shape=x.shape)
                                  for i, x in enumerate(first[1:])]
        self.provide_label = []
        self.batch_size = first[0].shape[0]
        self.reset()

    def reset(self):
        self._iter = iter(self._data)

    def next(self):
        batch = next(self._iter)
        batch = list(batch) if isinstance(batch, (list, tuple)) else [batch]
        if len(batch[0].shape) > 4:
            batch[0] = batch[0].reshape((-1,) + batch[0].shape[2:])
        return DataBatch(data=batch)


def _as_data_iter(calib_data):
    """(DataIter, provide_data) for a DataIter or any iterable of batches."""
    if isinstance(calib_data, DataIter):
        return calib_data, calib_data.provide_data
    calib_data = _DataIterWrapper(calib_data)
    return calib_data, calib_data.provide_data


def _calibrate(sym, arg_params, aux_params, data_names, label_names, ctx, calib_mode,
               calib_data, num_calib_examples, quantized_dtype, calib_layer, logger):
    """Runs the FP32 model over calib_data and returns the calibration table."""
    if calib_data is None:
        raise ValueError('quantize_model: calib_data must be provided when calib_mode=%s'
                         % calib_mode)
    if not isinstance(calib_data, DataIter):
        raise ValueError('quantize_model: calib_data must be of DataIter type when '
                         'calib_mode=%s, while received type %s'
                         % (calib_mode, str(type(calib_data))))
    if calib_mode not in ('naive', 'entropy'):
        raise ValueError("quantize_model: unknown calib_mode %r, expected 'none', 'naive' or "
                         "'entropy'" % (calib_mode,))
    mod = Module(symbol=sym, data_names=data_names, label_names=label_names, context=ctx)
    if calib_data.provide_label:
        mod.bind(for_training=False, data_shapes=calib_data.provide_data,
                 label_shapes=calib_data.provide_label)
    else:
        mod.bind(for_training=False, data_shapes=calib_data.provide_data)
    mod.set_params(arg_params, aux_params)
    if calib_mode == 'entropy':
        hist_dict, n = _collect_layer_histogram(mod, calib_data, include_layer=calib_layer,
                                                max_num_examples=num_calib_examples,
                                                logger=logger)
        if logger:
            logger.info('Collected layer outputs from FP32 model using %d examples' % n)
            logger.info('Calculating optimal thresholds for quantization')
        return _get_optimal_thresholds(hist_dict, quantized_dtype, logger=logger)
    th_dict, n = _collect_layer_output_min_max(mod, calib_data, quantized_dtype,
                                               include_layer=calib_layer,
                                               max_num_examples=num_calib_examples,
                                               logger=logger)
    if logger:
        logger.info('Collected layer output min/max values from FP32 model using %d examples'
                    % n)
    return th_dict


def _quantize_model_json(sym, arg_params, aux_params, data_names=('data',),
                         label_names=('softmax_label',), ctx=cpu(), excluded_sym_names=None,
                         excluded_op_names=None, calib_mode='entropy', calib_data=None,
                         num_calib_examples=None, quantized_dtype='int8',
                         quantize_mode='smart', quantize_granularity='tensor-wise',
                         logger=None):
    """quantize_model up to (not including) building the quantized Symbol:
    returns (quantized JSON dict, qarg_params, aux_params, calibration table)."""
    excluded_sym_names = _check_names('quantize_model', 'excluded_sym_names',
                                      excluded_sym_names)
    excluded_op_names = _check_names('quantize_model', 'excluded_op_names', excluded_op_names)
    _check_options('quantize_model', ctx, quantized_dtype, quantize_mode, quantize_granularity)
    if not isinstance(arg_params, dict) or not isinstance(aux_params, dict):
        raise TypeError('quantize_model: arg_params and aux_params must be dicts of name to '
                        'NDArray')
    sym = _load_sym(sym, logger)
    if logger:
        logger.info('Quantizing symbol')
    qjson, calib_layer = _quantize_symbol_json(
        sym, excluded_sym_names, excluded_op_names, list(arg_params.keys()), quantized_dtype,
        quantize_mode, quantize_granularity)
    th_dict = {}
    if calib_mode is not None and calib_mode != 'none':
        th_dict = _calibrate(sym, arg_params, aux_params, data_names, label_names, ctx,
                             calib_mode, calib_data, num_calib_examples, quantized_dtype,
                             calib_layer, logger)
        qjson = _calibrate_quantized_sym(qjson, th_dict)
    if logger:
        logger.info('Quantizing parameters')
    return qjson, _quantize_params(qjson, arg_params, th_dict), aux_params, th_dict


def quantize_model(sym, arg_params, aux_params, data_names=('data',),
                   label_names=('softmax_label',), ctx=cpu(), excluded_sym_names=None,
                   excluded_op_names=None, calib_mode='entropy', calib_data=None,
                   num_calib_examples=None, quantized_dtype='int8', quantize_mode='smart',
                   quantize_granularity='tensor-wise', logger=None):
    """Quantizes an FP32 symbolic model to INT8: returns (qsym, qarg_params, aux_params).

    calib_mode 'none' leaves the requantize ranges to runtime min/max; 'naive' takes each
    quantized layer's observed output min/max over `calib_data` (a DataIter, at most
    `num_calib_examples` examples); 'entropy' the thresholds minimizing the KL divergence
    between the FP32 and INT8 output distributions. quantized_dtype is the type of the
    activations ('auto': uint8 where calibration found no negative value); 'smart' mode skips
    quantizable ops at the graph's edges that would only add quantize/dequantize pairs, 'full'
    quantizes every op it can. Weights and biases are always quantized offline to int8.
    Names in excluded_sym_names / op names in excluded_op_names stay FP32."""
    qjson, qarg_params, aux_params, _ = _quantize_model_json(
        sym, arg_params, aux_params, data_names=data_names, label_names=label_names, ctx=ctx,
        excluded_sym_names=excluded_sym_names, excluded_op_names=excluded_op_names,
        calib_mode=calib_mode, calib_data=calib_data, num_calib_examples=num_calib_examples,
        quantized_dtype=quantized_dtype, quantize_mode=quantize_mode,
        quantize_granularity=quantize_granularity, logger=logger)
    return sym_load_json(json.dumps(qjson)), qarg_params, aux_params


def quantize_model_mkldnn(sym, arg_params, aux_params, data_names=('data',),
                          label_names=('softmax_label',), ctx=cpu(), excluded_sym_names=None,
                          excluded_op_names=None, calib_mode='entropy', calib_data=None,
                          num_calib_examples=None, quantized_dtype='int8',
                          quantize_mode='smart', quantize_granularity='tensor-wise',
                          logger=None):
    """``quantize_model`` between two oneDNN fusion passes, as MXNet 1.9.1 does: the FP32
    graph is fused (``get_backend_symbol('MKLDNN_QUANTIZE')``: conv+bn+sum+relu into
    ``_sg_mkldnn_conv``, FC+eltwise into ``_sg_mkldnn_fully_connected``, each interleaved
    self-attention product into ``_sg_mkldnn_selfatt_qk``/``_valatt``), the fused ops are
    quantized (the conv keeps its FP32 weights and folds BatchNorm itself at run time), and the
    same backend then folds each calibrated requantize into the fused op before it and the
    dequantize after a quantized FC or selfatt node into its ``enable_float_output``. The
    valatt kernel takes its attention as uint8 only, so with quantized_dtype='int8', or 'auto'
    without calibration (quantize_v2 then gives int8), the quantized attention graph does not
    bind, in MXNet as here. A fused node is excluded by its own name (e.g.
    ``sg_mkldnn_conv_bn_act_0``) or by the name of an op inside it (``conv0``), as in MXNet."""
    if not isinstance(ctx, Context):
        raise ValueError('quantize_model_mkldnn: ctx must be a single Context, got %s'
                         % str(ctx))
    if ctx.device_type != 'cpu':
        raise ValueError('quantize_model_mkldnn: only supports a CPU context (the oneDNN '
                         'backend), got %s' % str(ctx))
    sym = _load_sym(sym, logger).get_backend_symbol('MKLDNN_QUANTIZE')
    qjson, qarg_params, aux_params, _ = _quantize_model_json(
        sym, arg_params, aux_params, data_names=data_names, label_names=label_names, ctx=ctx,
        excluded_sym_names=excluded_sym_names, excluded_op_names=excluded_op_names,
        calib_mode=calib_mode, calib_data=calib_data, num_calib_examples=num_calib_examples,
        quantized_dtype=quantized_dtype, quantize_mode=quantize_mode,
        quantize_granularity=quantize_granularity, logger=logger)
    qjson = _mkldnn.backend_graph_json(qjson, 'MKLDNN_QUANTIZE')
    return sym_load_json(json.dumps(qjson)), qarg_params, aux_params


def quantize_graph(sym, arg_params, aux_params, ctx=cpu(), excluded_sym_names=None,
                   excluded_op_names=None, calib_mode='entropy', quantized_dtype='int8',
                   quantize_mode='full', quantize_granularity='tensor-wise',
                   LayerOutputCollector=None, logger=None):
    """The graph half of quantize_model: returns (qsym, qarg_params, aux_params, collector),
    where `collector` (None for calib_mode 'none') is to be installed as a monitor callback
    (``collector.collect``) on an FP32 executor and then handed to ``calib_graph``."""
    excluded_sym_names = _check_names('quantize_graph', 'excluded_sym_names',
                                      excluded_sym_names)
    excluded_op_names = _check_names('quantize_graph', 'excluded_op_names', excluded_op_names)
    _check_options('quantize_graph', ctx, quantized_dtype, quantize_mode, quantize_granularity)
    if logger:
        logger.info('Quantizing graph')
    qsym, calib_layer = _quantize_symbol(
        sym, ctx, excluded_symbols=excluded_sym_names, excluded_operators=excluded_op_names,
        offline_params=list(arg_params.keys()), quantized_dtype=quantized_dtype,
        quantize_mode=quantize_mode, quantize_granularity=quantize_granularity)
    collector = None
    if calib_mode is not None and calib_mode != 'none':
        if calib_mode == 'entropy':
            collector = _LayerHistogramCollector(include_layer=calib_layer, logger=logger)
        elif calib_mode == 'naive':
            collector = _LayerOutputMinMaxCollector(quantized_dtype=quantized_dtype,
                                                    include_layer=calib_layer, logger=logger)
        elif calib_mode == 'customize' and LayerOutputCollector is not None:
            collector = LayerOutputCollector
        else:
            raise ValueError("quantize_graph: unknown calib_mode %r, expected 'none', 'naive', "
                             "'entropy' or 'customize' (with LayerOutputCollector)"
                             % (calib_mode,))
        if logger:
            logger.info('Collector created, please use set_monitor_callback'
                        ' to collect calibration information.')
    if logger:
        logger.info('Quantizing parameters')
    return qsym, _quantize_params(qsym, arg_params, {}), aux_params, collector


def calib_graph(qsym, arg_params, aux_params, collector, calib_mode='entropy',
                quantized_dtype='int8', logger=logging):
    """Calibrates a quantize_graph result with its filled collector:
    returns (calibrated qsym, qarg_params, aux_params)."""
    if calib_mode == 'entropy':
        if logger:
            logger.info('Calculating optimal thresholds for quantization')
        th_dict = _get_optimal_thresholds(collector.hist_dict, quantized_dtype, logger=logger)
    elif calib_mode in ('naive', 'customize'):
        th_dict = collector.min_max_dict
    elif calib_mode is None or calib_mode == 'none':
        raise ValueError('calib_graph: please set calib_mode to naive or entropy.')
    else:
        raise ValueError("calib_graph: unknown calib_mode %r, expected 'naive', 'entropy' or "
                         "'customize'" % (calib_mode,))
    qsym = _calibrate_quantized_sym(qsym, th_dict)
    if logger:
        logger.info('Quantizing parameters')
    return qsym, _quantize_params(qsym, arg_params, th_dict), aux_params


def quantize_net_v2(network, *args, **kwargs):
    """Gluon's quantization entry point; oxnet has no Gluon."""
    raise NotImplementedError('quantize_net_v2 quantizes a Gluon HybridBlock and oxnet has no '
                              'Gluon; export the model as symbol + params and use '
                              'mx.contrib.quantization.quantize_model')


def quantize_net(network, *args, **kwargs):
    """Gluon's (deprecated) quantization entry point; oxnet has no Gluon."""
    raise NotImplementedError('quantize_net quantizes a Gluon HybridBlock and oxnet has no '
                              'Gluon; export the model as symbol + params and use '
                              'mx.contrib.quantization.quantize_model')
