"""Calibration for ``mx.contrib.quantization``: run the FP32 model over calibration batches,
collect each quantized layer's output range ('naive': running min/max) or histogram
('entropy'), and turn histograms into thresholds by minimizing the KL divergence between the
FP32 distribution and its INT8 quantization (``_contrib_calibrate_entropy``)."""
import numpy as np

from ...base import py_str
from ...context import cpu
from ...io import DataIter
from ... import ndarray


def _as_numpy(arr):
    # the executors' monitor hands NDArrays; user collectors may be fed numpy arrays directly
    if isinstance(arr, np.ndarray):
        return arr
    if hasattr(arr, 'asnumpy'):
        return arr.asnumpy()
    raise TypeError('calibration collector: expected an NDArray or numpy array for the layer '
                    'output, got %s' % type(arr).__name__)


def combine_histogram(old_hist, arr, new_min, new_max, new_th):
    """Adds the histogram of `arr` to `old_hist` = (hist, edges, min, max, th), a symmetric
    histogram over [-th, th]. When `new_th` is wider, the range grows by whole old bins on each
    side (so old counts land unchanged in the middle) and `arr` is binned over the new range."""
    hist, edges, old_min, old_max, old_th = old_hist
    if new_th <= old_th:
        counts, _ = np.histogram(arr, bins=len(hist), range=(-old_th, old_th))
        return (hist + counts, edges, min(old_min, new_min), max(old_max, new_max), old_th)
    old_bins = len(hist)
    step = 2 * old_th / old_bins
    grow = int((new_th - old_th) // step + 1)
    bins = old_bins + 2 * grow
    th = grow * step + old_th
    counts, new_edges = np.histogram(arr, bins=bins, range=(-th, th))
    counts[grow:bins - grow] += hist
    return (counts, new_edges, min(old_min, new_min), max(old_max, new_max), th)


class _LayerCollector(object):
    """Monitor callback base: `_wanted` gives the numpy value of a layer output named in
    `include_layer` (every output when it is None), else None."""

    def __init__(self, include_layer=None, logger=None):
        self.include_layer = include_layer
        self.logger = logger

    def _wanted(self, name, arr):
        name = py_str(name)
        if self.include_layer is not None and name not in self.include_layer:
            return name, None
        return name, _as_numpy(arr)


class _LayerHistogramCollector(_LayerCollector):
    """Keeps, per layer output, a symmetric histogram (hist, edges, min, max, th) of
    everything seen (for 'entropy' calibration)."""

    def __init__(self, num_bins=8001, include_layer=None, logger=None):
        super().__init__(include_layer, logger)
        self.hist_dict = {}
        self.num_bins = num_bins

    def collect(self, name, arr):
        """Callback for ``Executor.set_monitor_callback``."""
        name, arr = self._wanted(name, arr)
        if arr is None:
            return
        if self.logger:
            self.logger.debug('Collecting layer %s histogram of shape %s' % (name, arr.shape))
        lo, hi = np.min(arr), np.max(arr)
        th = max(abs(lo), abs(hi))
        if name in self.hist_dict:
            self.hist_dict[name] = combine_histogram(self.hist_dict[name], arr, lo, hi, th)
        else:
            hist, edges = np.histogram(arr, bins=self.num_bins, range=(-th, th))
            self.hist_dict[name] = (hist, edges, lo, hi, th)


class _LayerOutputMinMaxCollector(_LayerCollector):
    """Keeps, per layer output, the running (min, max) (for 'naive' calibration)."""

    def __init__(self, quantized_dtype, include_layer=None, logger=None):
        super().__init__(include_layer, logger)
        self.min_max_dict = {}
        self.quantized_dtype = quantized_dtype

    def collect(self, name, arr):
        """Callback for ``Executor.set_monitor_callback``."""
        name, arr = self._wanted(name, arr)
        if arr is None:
            return
        lo, hi = float(np.min(arr)), float(np.max(arr))
        if name in self.min_max_dict:
            old = self.min_max_dict[name]
            self.min_max_dict[name] = (min(old[0], lo), max(old[1], hi))
        else:
            self.min_max_dict[name] = (lo, hi)
        if self.logger:
            self.logger.debug('Collecting layer %s min_range=%f, max_range=%f'
                              % (name, lo, hi))


def _collect_layer_statistics(mod, data, collector, max_num_examples=None, logger=None):
    """Runs `mod` forward over `data` (a DataIter) with `collector.collect` as the monitor of
    every layer output; stops once `max_num_examples` examples were seen. Returns the number
    of examples used (whole batches)."""
    if not isinstance(data, DataIter):
        raise ValueError('_collect_layer_statistics: data must be a DataIter, got %s'
                         % str(type(data)))
    mod._exec_group.execs[0].set_monitor_callback(collector.collect, monitor_all=True)
    num_batches = num_examples = 0
    try:
        for batch in data:
            mod.forward(data_batch=batch, is_train=False)
            num_batches += 1
            num_examples += data.batch_size
            if max_num_examples is not None and num_examples >= max_num_examples:
                break
    finally:
        mod._exec_group.execs[0].set_monitor_callback(None)
    if logger is not None:
        logger.info('Collected statistics from %d batches with batch_size=%d'
                    % (num_batches, data.batch_size))
    return num_examples


def _collect_layer_output_min_max(mod, data, quantized_dtype, include_layer=None,
                                  max_num_examples=None, logger=None):
    """({layer output name: (min, max)}, examples used)."""
    collector = _LayerOutputMinMaxCollector(quantized_dtype=quantized_dtype,
                                            include_layer=include_layer, logger=logger)
    n = _collect_layer_statistics(mod, data, collector, max_num_examples, logger)
    return collector.min_max_dict, n


def _collect_layer_histogram(mod, data, include_layer=None, max_num_examples=None,
                             logger=None):
    """({layer output name: (hist, edges, min, max, th)}, examples used)."""
    collector = _LayerHistogramCollector(include_layer=include_layer, logger=logger)
    n = _collect_layer_statistics(mod, data, collector, max_num_examples, logger)
    return collector.hist_dict, n


def _smooth_distribution(p, eps=0.0001):
    """`p` (unnormalized counts) with every zero raised to `eps` and the same total mass taken
    evenly off the non-zero entries, so KL divergence against it stays finite."""
    p = np.asarray(p)
    zeros = (p == 0).astype(np.float32)
    nonzeros = (p != 0).astype(np.float32)
    n_zeros = zeros.sum()
    n_nonzeros = p.size - n_zeros
    if not n_nonzeros:
        raise ValueError('_smooth_distribution: the distribution is malformed, all entries '
                         'are 0')
    eps1 = eps * float(n_zeros) / float(n_nonzeros)
    if eps1 >= 1.0:
        raise ValueError('_smooth_distribution: eps=%g is too large for %d zeros and %d '
                         'non-zeros (eps1=%f)' % (eps, n_zeros, n_nonzeros, eps1))
    hist = p.astype(np.float32)
    hist += eps * zeros + (-eps1) * nonzeros
    if (hist <= 0).any():
        raise ValueError('_smooth_distribution: a non-zero entry is smaller than eps1=%f'
                         % eps1)
    return hist


def _get_optimal_threshold(hist_data, quantized_dtype, num_quantized_bins=255):
    """(min, max, threshold (1,), divergence (1,)) of one layer's histogram data. A layer
    that never goes negative, quantized to uint8 ('uint8', or 'auto' which then picks uint8),
    gets twice the quantized bins, as all 256 levels then cover [0, th]."""
    hist, edges, min_val, max_val, _ = hist_data
    if len(hist) % 2 != 1:
        raise ValueError('_get_optimal_threshold: the histogram needs an odd number of bins '
                         '(symmetric around a zero bin), got %d' % len(hist))
    if min_val >= 0 and quantized_dtype in ('auto', 'uint8'):
        num_quantized_bins = num_quantized_bins * 2 + 1
    hist = ndarray.array(np.asarray(hist, dtype=np.float32), ctx=cpu())
    edges = ndarray.array(np.asarray(edges, dtype=np.float32), ctx=cpu())
    threshold, divergence = ndarray.contrib.calibrate_entropy(
        hist=hist, hist_edges=edges, num_quantized_bins=num_quantized_bins)
    return min_val, max_val, threshold.asnumpy(), divergence.asnumpy()


def _get_optimal_thresholds(hist_dict, quantized_dtype, num_quantized_bins=255, logger=None):
    """{layer: (-th, th)} (or (0, th) for non-negative layers quantized to uint8) from
    {layer: histogram data}; entries of `hist_dict` are released as they are consumed.
    Unlike MXNet 1.9.1 this does not ask for scipy, which it never used."""
    if not isinstance(hist_dict, dict):
        raise TypeError('_get_optimal_thresholds: hist_dict must be a dict, got %s'
                        % type(hist_dict).__name__)
    if logger is not None:
        logger.info('Calculating optimal thresholds for quantization using KL divergence'
                    ' with num_quantized_bins=%d' % num_quantized_bins)
    th_dict = {}
    for name in list(hist_dict):
        min_val, max_val, th, divergence = _get_optimal_threshold(
            hist_dict[name], quantized_dtype, num_quantized_bins=num_quantized_bins)
        if min_val >= 0 and quantized_dtype in ('auto', 'uint8'):
            th_dict[name] = (0, th)
        else:
            th_dict[name] = (-th, th)
        del hist_dict[name]
        if logger:
            # th and divergence are (1,) arrays, which numpy 2 no longer formats as %f.
            logger.debug('layer=%s, min_val=%f, max_val=%f, th=%f, divergence=%f'
                         % (name, min_val, max_val, th.item(), divergence.item()))
    return th_dict
