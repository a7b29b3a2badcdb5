"""The INT8 graph passes of ``mx.contrib.quantization`` over MXNet 1.9.1 symbol JSON.

MXNet runs these passes in C++ (``MXQuantizeSymbol`` / ``MXSetCalibTableToQuantizedSymbol``,
driven by each op's FQuantizable / FQuantizedOp / FNeedRequantize / FAvoidQuantizeInput /
FNeedCalibrateInput / FNeedCalibrateOutput attributes). Here they work on the parsed JSON so
that a quantized graph can be built, compared and saved before any quantized operator is bound:
the op knowledge lives in one table (``_QUANTIZABLE``) instead of per-op attributes.

Graph model: a node is a dict ``{'op', 'name', 'attrs', 'inputs', 'num_outputs'}`` whose inputs
are ``(node, index, version)`` tuples pointing at other node dicts; nodes are serialized in
nnvm's DFS post-order, which is how MXNet numbers them in its JSON.
"""
import json

import numpy as np

# Ops whose quantized counterpart is registered for CPU in MXNet 1.9.1 (oneDNN build):
# fp32 op -> (quantized op, must-quantize?, needs requantize?, fp32 input indices kept FP32).
# 'must' ops (FQuantizable kMust) are always quantized; the others (kSupport) are quantized in
# 'smart' mode only when they sit between must-quantize ops, so no extra quantize/dequantize
# pair is paid for at the graph's edges.
_QUANTIZABLE = {
    'Convolution': ('_contrib_quantized_conv', True, True, ()),
    'FullyConnected': ('_contrib_quantized_fully_connected', True, True, ()),
    'BatchNorm': ('_contrib_quantized_batch_norm', False, False, (1, 2, 3, 4)),
    'Activation': ('_contrib_quantized_act', False, False, ()),
    'Pooling': ('_contrib_quantized_pooling', False, False, ()),
    'Flatten': ('_contrib_quantized_flatten', False, False, ()),
    'Concat': ('_contrib_quantized_concat', False, False, ()),
    'elemwise_add': ('_contrib_quantized_elemwise_add', False, True, ()),
    'elemwise_mul': ('_contrib_quantized_elemwise_mul', False, True, ()),
    # the indices stay FP32; only the table is quantized
    'Embedding': ('_contrib_quantized_embedding', False, False, (0,)),
    # the oneDNN fused ops (module mkldnn) stay themselves with `quantized` set; see
    # _sg_fp32_inputs for the inputs they keep FP32
    '_sg_mkldnn_conv': ('_sg_mkldnn_conv', True, True, None),
    '_sg_mkldnn_fully_connected': ('_sg_mkldnn_fully_connected', True, True, None),
    # the fused self-attention products quantize every input (qkv; valatt's attention too)
    '_sg_mkldnn_selfatt_qk': ('_sg_mkldnn_selfatt_qk', True, True, ()),
    '_sg_mkldnn_selfatt_valatt': ('_sg_mkldnn_selfatt_valatt', True, True, ()),
    # an LSTM quantizes its data asymmetrically (quantize_asym), takes its FP32 parameters and
    # states as they are and gives FP32 outputs (see _ASYM_DATA_FP32_OUT)
    'RNN': ('_contrib_quantized_rnn', True, False, (1, 2, 3)),
}
# quantized ops whose data input comes from _contrib_quantize_asym (uint8 with scale and
# shift) and whose outputs are FP32: their consumers read them as an FP32 op's
_ASYM_DATA_FP32_OUT = {'_contrib_quantized_rnn'}
_QUANTIZED_OPS = {v[0] for v in _QUANTIZABLE.values()} - _ASYM_DATA_FP32_OUT
# quantized ops that take their output range from calibration themselves (no requantize after)
_CALIBRATE_OUTPUT = {'_contrib_quantized_batch_norm'}

# Ops that register FListOutputNames in MXNet 1.9.1: their outputs are named
# `<node>_<names[i]>`, the others `<node>_output` (one output) or `<node>_output<i>`. The same
# names pick the suffix of a quantize node inserted after an FP32 op (`pool0_output_quantize`
# but `flatten0_0_quantize`).
_OUTPUT_NAMES = {
    'Convolution': ['output'], 'Deconvolution': ['output'], 'FullyConnected': ['output'],
    'Activation': ['output'], 'BatchNorm': ['output', 'mean', 'var'], 'Pooling': ['output'],
    'Dropout': ['output', 'mask'], 'LRN': ['output', 'tmp_norm'], 'SoftmaxOutput': ['output'],
    'Softmax': ['output'], 'softmax': ['output'], 'softmin': ['output'],
    'SoftmaxActivation': ['output'], 'LeakyReLU': ['output', 'mask'],
    'LayerNorm': ['output', 'mean', 'std'], 'GroupNorm': ['output', 'mean', 'std'],
    'InstanceNorm': ['output', 'mean', 'var'], 'L2Normalization': ['output', 'norm'],
    'UpSampling': ['output'], 'ROIPooling': ['output', 'maxidx'], 'Crop': ['output'],
    'Concat': ['output'], 'elemwise_add': ['output'], 'Pad': ['output'], 'SwapAxis': ['output'],
    'LinearRegressionOutput': ['output'], 'LogisticRegressionOutput': ['output'],
    'MAERegressionOutput': ['output'], 'SVMOutput': ['output'], 'MakeLoss': ['output'],
    'BilinearSampler': ['output', 'tmp'], 'GridGenerator': ['output', 'grid_dst'],
    'SpatialTransformer': ['output', 'tmp'], 'Correlation': ['output', 'tmp1', 'tmp2'],
    '_contrib_interleaved_matmul_selfatt_qk': ['output'],
    '_contrib_interleaved_matmul_selfatt_valatt': ['output'],
    '_contrib_interleaved_matmul_encdec_qk': ['output'],
    '_contrib_interleaved_matmul_encdec_valatt': ['output'],
    '_contrib_quantize_v2': ['output', 'min_output', 'max_output'],
    '_contrib_requantize': ['output', 'min_output', 'max_output'],
    '_contrib_quantize_asym': ['output', 'scale', 'shift'],
    'RNN': ['output', 'state_output', 'statecell_output'],
    '_contrib_quantized_rnn': ['output', 'state_output', 'statecell_ouput'],  # sic, MXNet's
}
for _op in _QUANTIZED_OPS:
    _OUTPUT_NAMES[_op] = ['output', 'min_output', 'max_output']


_NODE_KEYS = ('op', 'name', 'attrs', 'param', 'attr', 'inputs', 'control_deps')


def _node(op, name, attrs=None, inputs=None, num_outputs=1):
    return {'op': op, 'name': name, 'attrs': dict(attrs or {}), 'inputs': list(inputs or []),
            'num_outputs': num_outputs}


def _listed_output_name(node, index):
    """The name MXNet's FListOutputNames gives output `index` of an op node (SliceChannel's
    are output0, output1...), else the index itself, as the quantize pass names its nodes."""
    names = _OUTPUT_NAMES.get(node['op'])
    if names is not None:
        return names[index]
    return 'output%d' % index if node['op'] == 'SliceChannel' else str(index)


def output_name(node, index):
    """MXNet's name for output `index` of `node` (common::GetOutputName)."""
    if node['op'] == 'null':
        return node['name']
    names = _OUTPUT_NAMES.get(node['op'])
    if names is not None:
        return '%s_%s' % (node['name'], names[index])
    if node['num_outputs'] > 1:
        return '%s_output%d' % (node['name'], index)
    return node['name'] + '_output'


def parse(graph):
    """Node dicts and heads from MXNet JSON text or an already parsed dict."""
    if isinstance(graph, str):
        graph = json.loads(graph)
    raw = graph['nodes']
    row = graph.get('node_row_ptr')
    nodes = []
    for i, n in enumerate(raw):
        nout = (row[i + 1] - row[i]) if row else 1
        nodes.append(_node(n['op'], n['name'], n.get('attrs', n.get('param', {})),
                           num_outputs=nout))
        # e.g. control-flow subgraphs: carried through untouched
        extra = {k: v for k, v in n.items() if k not in _NODE_KEYS}
        if extra:
            nodes[-1]['extra'] = extra
        if n.get('control_deps'):
            nodes[-1]['control_deps'] = list(n['control_deps'])
    for n, r in zip(nodes, raw):
        n['inputs'] = [(nodes[e[0]], e[1], e[2] if len(e) > 2 else 0) for e in r['inputs']]
        if 'control_deps' in n:
            n['control_deps'] = [nodes[i] for i in n['control_deps']]
    heads = [(nodes[h[0]], h[1], h[2] if len(h) > 2 else 0) for h in graph['heads']]
    return nodes, heads, graph.get('attrs', {'mxnet_version': ['int', 10901]})


def dfs(heads):
    """Nodes reachable from `heads` in nnvm's DFS post-order (control deps, then inputs)."""
    order, seen = [], set()
    for head in heads:
        stack = [(head[0], False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            preds = list(node.get('control_deps', [])) + [e[0] for e in node['inputs']]
            for p in reversed(preds):
                if id(p) not in seen:
                    stack.append((p, False))
    return order


def dump(heads, attrs):
    """MXNet JSON dict (nodes, arg_nodes, node_row_ptr, heads, attrs) for the graph."""
    order = dfs(heads)
    index = {id(n): i for i, n in enumerate(order)}
    nodes, row = [], [0]
    for n in order:
        d = {'op': n['op'], 'name': n['name']}
        if n['attrs']:
            d['attrs'] = dict(n['attrs'])
        d['inputs'] = [[index[id(e[0])], e[1], e[2]] for e in n['inputs']]
        if n.get('control_deps'):
            d['control_deps'] = [index[id(c)] for c in n['control_deps']]
        d.update(n.get('extra', {}))
        nodes.append(d)
        row.append(row[-1] + n['num_outputs'])
    return {'nodes': nodes,
            'arg_nodes': [i for i, n in enumerate(order) if n['op'] == 'null'],
            'node_row_ptr': row,
            'heads': [[index[id(e[0])], e[1], e[2]] for e in heads],
            'attrs': attrs}


def _sg_fp32_inputs(node, granularity):
    """Inputs of a fused oneDNN op that are not quantized (SgMKLDNN*AvoidQuantizeInput):
    a conv quantizes only its data and its sum operand (always the last input), taking the
    FP32 weights, bias and BatchNorm parameters itself; a FullyConnected's weight and bias are
    quantized offline, unless channel-wise, where the op quantizes them per output channel."""
    n = len(node['inputs'])
    if node['op'] == '_sg_mkldnn_conv':
        keep = {0, n - 1} if node['attrs'].get('with_sum', '').lower() == 'true' else {0}
    elif granularity == 'channel-wise':
        keep = {0}
    else:
        keep = set(range(n))
    return tuple(i for i in range(n) if i not in keep)


def _quantized_version(node, granularity='tensor-wise'):
    """The quantized replacement of an FP32 node, or None where CPU has none."""
    entry = _QUANTIZABLE.get(node['op'])
    if entry is None:
        return None
    if node['op'] == 'Activation' and node['attrs'].get('act_type') != 'relu':
        return None  # only relu has an INT8 kernel
    if node['op'] == 'Pooling' and node['attrs'].get('pool_type', 'max') not in ('max', 'avg'):
        return None
    if node['op'] == 'RNN':
        return _quantized_rnn(node)
    q = _node(entry[0], 'quantized_' + node['name'], node['attrs'], num_outputs=3)
    if node['op'] == '_sg_mkldnn_conv':
        q['attrs']['quantized'] = 'true'
    elif node['op'] == '_sg_mkldnn_fully_connected':
        q['attrs']['quantized'] = 'True'
        if granularity == 'channel-wise':
            q['attrs']['channel_wise_quantize'] = 'True'
    elif node['op'] in ('_sg_mkldnn_selfatt_qk', '_sg_mkldnn_selfatt_valatt'):
        q['attrs']['quantized'] = 'True'
    if 'extra' in node:  # the fused ops' subgraphs
        q['extra'] = dict(node['extra'])
    return q


def _quantized_rnn(node):
    """The int8 LSTM for an RNN it can stand for. MXNet 1.9.1 replaces every RNN and so
    breaks GRU and vanilla RNN graphs and computes projected or length-masked LSTMs wrongly;
    those stay FP32 here."""
    a = node['attrs']

    def true(key):
        return a.get(key, 'False').strip().lower() in ('true', '1')
    if (a.get('mode') != 'lstm' or a.get('projection_size', 'None') not in ('None', '')
            or true('use_sequence_length')):
        return None
    return _node('_contrib_quantized_rnn', 'quantized_' + node['name'],
                 dict(a, quantized='true'), num_outputs=3 if true('state_outputs') else 1)


def _fp32_inputs(node, granularity):
    avoid = _QUANTIZABLE[node['op']][3]
    return _sg_fp32_inputs(node, granularity) if avoid is None else avoid


def _excluded(node, excluded_names, excluded_ops):
    if node['name'] in excluded_names or node['op'] in excluded_ops:
        return True
    # a fused node (MKLDNN backend) is also excluded by the name of an op inside it, as in
    # MXNet's NeedQuantize: `excluded_sym_names=['fc1']` reaches `sg_mkldnn_fully_connected_1`
    return any(n['op'] != 'null' and n['name'] in excluded_names
               for sg in node.get('extra', {}).get('subgraphs', ()) for n in sg['nodes'])


def _mark_quantized(order, excluded_names, excluded_ops, quantize_mode, granularity):
    """{id(fp32 node): quantized node} for the nodes the pass replaces."""
    qmap, must, support = {}, set(), set()
    consumers = {}
    for node in order:
        for e in node['inputs']:
            consumers.setdefault(id(e[0]), []).append(node)
        if node['op'] == 'null' or _excluded(node, excluded_names, excluded_ops):
            continue
        q = _quantized_version(node, granularity)
        if q is None:
            continue
        qmap[id(node)] = q
        (must if _QUANTIZABLE[node['op']][1] else support).add(id(node))
    if quantize_mode == 'full':
        return qmap
    by_id = {id(n): n for n in order}
    # a supporting op stays quantized only with a must-quantize op both downstream (reached
    # walking inputs) and upstream (reached walking consumers) through supporting ops
    from_input, from_output = set(), set()
    for marks, step in ((from_input, lambda n: [e[0] for e in n['inputs']]),
                        (from_output, lambda n: consumers.get(id(n), []))):
        queue = [by_id[i] for i in must]
        while queue:
            node = queue.pop()
            for nxt in step(node):
                if id(nxt) in support and id(nxt) not in marks:
                    marks.add(id(nxt))
                    queue.append(nxt)
    for i in support:
        if i not in from_input or i not in from_output:
            del qmap[i]
    return qmap


def quantize_graph_json(graph, excluded_sym_names=(), excluded_op_names=(), offline_params=(),
                        quantized_dtype='int8', quantize_mode='smart',
                        quantize_granularity='tensor-wise'):
    """MXQuantizeSymbol on JSON: returns (quantized JSON dict, names of the FP32 layer outputs
    whose ranges calibration should collect)."""
    if quantize_mode not in ('smart', 'full'):
        raise ValueError("quantize_graph: quantize_mode must be 'smart' or 'full', got %r"
                         % (quantize_mode,))
    _, src_heads, attrs = parse(graph)
    order = dfs(src_heads)
    qmap = _mark_quantized(order, set(excluded_sym_names), set(excluded_op_names),
                           quantize_mode, quantize_granularity)
    mirror = {}          # id(fp32 node) -> node standing for it in the new graph
    quantized_entry = {}  # (id(fp32 node), index) -> quantize_v2 node fed by that entry
    calib_of = {}        # id(new node) -> FP32 output name it calibrates
    for node in order:
        if id(node) in qmap and qmap[id(node)]['op'] in _ASYM_DATA_FP32_OUT:
            new = qmap.pop(id(node))  # its outputs are FP32: consumers read them as such
            fp32 = [_fp32_entry(mirror, qmap, *e) for e in node['inputs']]
            src, idx, ver = node['inputs'][0]
            name = src['name'] + ('' if src['op'] == 'null'
                                  else '_' + _listed_output_name(src, idx)) + '_quantize'
            qa = _node('_contrib_quantize_asym', name, {}, [fp32[0]], 3)
            calib_of[id(qa)] = output_name(src, idx)
            new['inputs'] = [(qa, 0, 0)] + fp32[1:] + [(qa, 1, 0), (qa, 2, 0)]
            mirror[id(node)] = new
        elif id(node) in qmap:
            new = qmap[id(node)]
            avoid = _fp32_inputs(node, quantize_granularity)
            data_inputs = []
            for i, e in enumerate(node['inputs']):
                src, idx, ver = e
                m = mirror[id(src)]
                if i in avoid:
                    new['inputs'].append((m, idx, ver))
                elif id(src) not in qmap:
                    key = (id(src), idx)
                    if key not in quantized_entry:
                        suffix = ''
                        if m['op'] != 'null':
                            suffix = '_' + _listed_output_name(src, idx)
                        qn = _node('_contrib_quantize_v2', src['name'] + suffix + '_quantize',
                                   {'out_type': quantized_dtype}, [(m, idx, ver)], 3)
                        calib_of[id(qn)] = output_name(src, idx)
                        quantized_entry[key] = qn
                    entry = (quantized_entry[key], 0, ver)
                    new['inputs'].append(entry)
                    data_inputs.append(entry)
                elif m['op'] == '_contrib_dequantize':
                    # a FP32 consumer already dequantized this output; read past it
                    entry = (m['inputs'][0][0], idx, ver)
                    new['inputs'].append(entry)
                    data_inputs.append(entry)
                else:
                    entry = (m, idx, ver)
                    new['inputs'].append(entry)
                    data_inputs.append(entry)
            # quantized ops take data1, data2, ..., then min1, max1, min2, max2, ...
            for src, idx, _ in data_inputs:
                if src['op'] == '_contrib_quantize_v2':
                    lo = 1
                else:
                    lo = src['num_outputs'] - 2 + 2 * idx
                new['inputs'].append((src, lo, 0))
                new['inputs'].append((src, lo + 1, 0))
            if new['op'] in _CALIBRATE_OUTPUT:
                calib_of[id(new)] = output_name(node, 0)
            if _QUANTIZABLE[node['op']][2]:
                rq = _node('_contrib_requantize', 'requantize_' + node['name'],
                           {'out_type': quantized_dtype}, [(new, i, 0) for i in range(3)], 3)
                calib_of[id(rq)] = output_name(node, 0)
                new = rq
            mirror[id(node)] = new
        else:
            new = dict(node, attrs=dict(node['attrs']), inputs=[])
            if node.get('control_deps'):
                new['control_deps'] = [mirror[id(c)] for c in node['control_deps']]
            for src, idx, ver in node['inputs']:
                new['inputs'].append(_fp32_entry(mirror, qmap, src, idx, ver))
            mirror[id(node)] = new
    heads = [_fp32_entry(mirror, qmap, src, idx, ver) for src, idx, ver in src_heads]
    _offline(heads, set(offline_params))
    calib_layer = [calib_of[id(n)] for n in dfs(heads) if id(n) in calib_of]
    return dump(heads, attrs), calib_layer


def _fp32_entry(mirror, qmap, src, idx, ver):
    """The entry an FP32 consumer (or a graph output) reads for output `idx` of `src`: a
    quantized `src` is dequantized once, as `<src>_dequantize`, and shared."""
    m = mirror[id(src)]
    if id(src) not in qmap:
        return (m, idx, ver)
    if m['op'] != '_contrib_dequantize':
        lo = m['num_outputs'] - 2 + 2 * idx
        m = _node('_contrib_dequantize', src['name'] + '_dequantize', {},
                  [(m, idx, ver), (m, lo, 0), (m, lo + 1, 0)], 1)
        mirror[id(src)] = m
    return (m, 0, 0)


def _offline(heads, offline_params):
    """Replaces quantize nodes of offline params by the variables `<p>_quantize`,
    `<p>_quantize_min`, `<p>_quantize_max` that _quantize_params fills."""
    made = {}
    for node in dfs(heads):
        for i, (src, idx, _) in enumerate(node['inputs']):
            if (src['op'] == '_contrib_quantize_v2' and src['inputs'][0][0]['op'] == 'null'
                    and src['inputs'][0][0]['name'] in offline_params):
                key = (id(src), idx)
                if key not in made:
                    made[key] = _node('null', src['name'] + ('', '_min', '_max')[idx])
                node['inputs'][i] = (made[key], 0, 0)


def _format_range(value):
    # std::to_string(float): printf's %f of the value widened to double
    # thresholds from calibrate_entropy arrive as arrays of shape (1,), as in MXNet
    return '%f' % float(np.asarray(value, dtype=np.float64).reshape(-1)[0])


def calibrate_graph_json(graph, th_dict):
    """MXSetCalibTableToQuantizedSymbol on JSON: writes min/max_calib_range into every
    quantize_v2 (range of its input), requantize (range of the quantized op it follows) and
    quantized_batch_norm (its own output) whose FP32 layer output is in `th_dict`."""
    _, heads, attrs = parse(graph)
    for node in dfs(heads):
        if node['op'] in ('_contrib_quantize_v2', '_contrib_requantize',
                          '_contrib_quantize_asym'):
            src, idx, _ = node['inputs'][0]
        elif node['op'] in _CALIBRATE_OUTPUT:
            src, idx = node, 0
        else:
            continue
        name = output_name(src, idx)
        if name.startswith('quantized_'):
            name = name[len('quantized_'):]
        if name in th_dict:
            lo, hi = th_dict[name]
            node['attrs']['min_calib_range'] = _format_range(lo)
            node['attrs']['max_calib_range'] = _format_range(hi)
    return dump(heads, attrs)
