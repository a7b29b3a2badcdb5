"""Offline quantization of the weights and biases a quantized graph reads as
``<param>_quantize`` / ``<param>_quantize_min`` / ``<param>_quantize_max`` variables."""
import numpy as np

from ... import ndarray


def _quantize_int8(x):
    """MXNet 1.9.1's `_contrib_quantize(out_type='int8')` over the tensor's own min/max, as
    its CPU (oneDNN) build computes it: symmetric, scale 127/max|x|, rounded to nearest even
    and saturated to [-127, 127]. Returns (int8 values, -r, r)."""
    x = np.asarray(x, dtype=np.float32)
    real_range = np.float32(np.abs(x).max()) if x.size else np.float32(0)
    if real_range == 0:  # an all-zero tensor quantizes to zeros over an empty range
        return np.zeros(x.shape, np.int8), -real_range, real_range
    scale = np.float32(127) / real_range
    q = np.clip(np.rint(x * scale), -127, 127).astype(np.int8)
    return q, -real_range, real_range


def _arg_names(qsym):
    if hasattr(qsym, 'list_arguments'):
        return qsym.list_arguments()
    # a quantized graph as JSON (dict or text): its variables in node order minus aux states
    from .graph import parse, dfs
    nodes, heads, _ = parse(qsym)
    aux = set()
    for n in dfs(heads):
        # BatchNorm's moving statistics are auxiliary states, not arguments
        if n['op'] in ('BatchNorm', '_contrib_quantized_batch_norm'):
            aux.update(id(e[0]) for e in n['inputs'][3:5])
    return [n['name'] for n in dfs(heads) if n['op'] == 'null' and id(n) not in aux]


def _quantize_params(qsym, params, th_dict):
    """Params for the quantized graph `qsym` (a Symbol, or its JSON): `<p>_quantize` (int8) and
    its `_min`/`_max` for every weight/bias the graph quantized offline, every other argument
    copied from `params`, and `<layer>_min`/`_max` arguments filled from `th_dict`."""
    if not isinstance(params, dict):
        raise TypeError('_quantize_params: params must be a dict of name to NDArray, got %s'
                        % type(params).__name__)
    th_dict = th_dict or {}
    out = {}
    for name in _arg_names(qsym):
        if name.endswith(('weight_quantize', 'bias_quantize')):
            original = name[:-len('_quantize')]
            if original not in params:
                raise KeyError('_quantize_params: the quantized graph reads %s but params has '
                               'no %s' % (name, original))
            val = params[original]
            val = val.asnumpy() if hasattr(val, 'asnumpy') else np.asarray(val)
            q, lo, hi = _quantize_int8(val)
            out[name] = ndarray.array(q, dtype=np.int8)
            out[name + '_min'] = ndarray.array([lo], dtype=np.float32)
            out[name + '_max'] = ndarray.array([hi], dtype=np.float32)
        elif name in params:
            out[name] = params[name]
        elif name.endswith('_min') and name[:-4] in th_dict:
            out[name] = ndarray.array([float(np.ravel(th_dict[name[:-4]][0])[0])])
        elif name.endswith('_max') and name[:-4] in th_dict:
            out[name] = ndarray.array([float(np.ravel(th_dict[name[:-4]][1])[0])])
    return out
