"""MXNet 1.9.1's oneDNN subgraph backends over symbol JSON: ``get_backend_symbol('MKLDNN')`` and
``('MKLDNN_QUANTIZE')``.

MXNet runs each backend as a list of subgraph properties (src/operator/subgraph/mkldnn/), each
applied by the generic partitioner (src/operator/subgraph/build_subgraph.cc): seed nodes are
tried in topological order, a stateful selector grows a subgraph from the seed along consumer
edges, subgraphs that would close a cycle through outside nodes are shrunk, and each surviving
subgraph is replaced by one node (or, for the post-quantize properties, folded into the node it
starts from). This module reproduces that machinery and the properties of the 1.9.1 CPU build
that CNNs, MLPs and transformer encoders meet:

- Convolution (+BatchNorm)(+elemwise_add)(+Activation/LeakyReLU/clip) -> ``_sg_mkldnn_conv``;
- FullyConnected (+one eltwise op) -> ``_sg_mkldnn_fully_connected``;
- each ``_contrib_interleaved_matmul_selfatt_qk`` / ``..._valatt`` alone (whatever feeds or
  reads it) -> ``_sg_mkldnn_selfatt_qk`` / ``_sg_mkldnn_selfatt_valatt``, numbered in one
  sequence over both, after the conv and FC passes;
- (MKLDNN_QUANTIZE only) a quantized ``_sg_mkldnn_conv`` / ``_contrib_quantized_elemwise_add``
  followed by a calibrated requantize: the range moves into the node and the requantize goes;
  a quantized ``_sg_mkldnn_fully_connected`` / ``_contrib_quantized_elemwise_mul`` /
  ``_sg_mkldnn_selfatt_qk`` / ``_sg_mkldnn_selfatt_valatt`` likewise, and a dequantize after it
  becomes ``enable_float_output``; calibrated layers feeding one quantized concat share the
  widest range (before the selfatt folding, which then carries the shared range over).

The pattern-matching transformer passes of later MXNet (split/reshape/batch_dot chains, the
MKLDNN_BERT backends) are not part of 1.9.1's MKLDNN backends and are not reproduced.

One thing cannot be reproduced exactly: MXNet keeps each node's consumers in an
``std::unordered_map`` keyed by node address, so which consumer a selector sees first depends on
the heap. libstdc++ iterates a small map in reverse insertion order when the addresses fall in
distinct buckets, which is what ``_consumers`` returns; it only matters for an op read by two
fusable consumers (e.g. a FullyConnected read by a relu and by a sqrt).
"""
import os
from collections import deque

import numpy as np

from ...base import MXNetError
from .graph import parse, dfs, dump, _node, output_name

BACKENDS = ('MKLDNN', 'MKLDNN_QUANTIZE')


def _env(name):
    return os.environ.get(name, '0').strip().lower() not in ('', '0', 'false')


def _ndim(text):
    return len([t for t in text.strip('()[] ').split(',') if t.strip()])


# ---- selectors (each mirrors one SubgraphSelector of MXNet 1.9.1) ----

# Activation types oneDNN fuses into a float conv/FC (SupportMKLDNNAct); INT8 only fuses relu
_FLOAT_ACTS = ('relu', 'sigmoid', 'tanh', 'softrelu')


def _act_ok(node, quantize):
    return node['attrs'].get('act_type') in (('relu',) if quantize else _FLOAT_ACTS)


def _clip_from_zero(node):
    return float(node['attrs'].get('a_min', 'nan')) == 0.0


class _ChainSelector:
    """The selectors that grow one chain from a seed node: what they matched survives unless
    the chain failed, and a reset starts again from the seed."""

    def filter(self, candidates):
        if self.status == 'fail':
            return []
        ids = {id(c) for c in candidates}
        return [m for m in self.matched if id(m) in ids]

    def reset(self):
        first = self.matched[0]
        self.__init__(self.quantize)
        self.select(first)


class _ConvSelector(_ChainSelector):
    """SgMKLDNNConvSelector: conv -> [BatchNorm] -> [elemwise_add] -> [act], one chain."""

    def __init__(self, quantize):
        self.quantize = quantize
        self.disable_bn = _env('MXNET_DISABLE_MKLDNN_FUSE_CONV_BN')
        self.disable_act = _env('MXNET_DISABLE_MKLDNN_FUSE_CONV_RELU')
        self.disable_sum = _env('MXNET_DISABLE_MKLDNN_FUSE_CONV_SUM')
        self.status, self.matched = None, []

    def select(self, node):
        if node['op'] == 'Convolution' and _ndim(node['attrs'].get('kernel', '()')) in (2, 3):
            all_off = self.disable_bn and self.disable_act and self.disable_sum
            self.status = 'success' if all_off else 'start'
            self.matched = [node]
            return True
        return False

    def select_input(self, cur, new):
        return False

    def select_output(self, cur, new):
        # a second consumer of a matched node: the chain ends at that node
        if self.matched[-1] is not cur:
            if any(m is cur for m in self.matched):
                while self.matched[-1] is not cur:
                    self.matched.pop()
            self.status = 'success'
            return False
        if self.status in ('fail', 'success') or new['op'] == 'null':
            return False
        op = new['op']
        # MXNet's switch falls through: start -> bn -> sum -> act
        if self.status == 'start' and not self.disable_bn and op == 'BatchNorm':
            return self._take(new, 'bn')
        if self.status in ('start', 'bn') and not self.disable_sum and op in ('elemwise_add',
                                                                              '_npi_add'):
            return self._take(new, 'sum')
        if not self.disable_act:
            if op == 'Activation' and _act_ok(new, self.quantize):
                return self._take(new, 'success')
            if op == 'LeakyReLU' and new['attrs'].get('act_type', 'leaky') in ('leaky', 'gelu'):
                return self._take(new, 'success')
            # INT8 conv+sum+relu6 is not supported in 1.9.1
            if op == 'clip' and not (self.quantize and self.status == 'sum') \
                    and _clip_from_zero(new):
                return self._take(new, 'success')
        self.status = 'success'
        return False

    def _take(self, node, status):
        self.matched.append(node)
        self.status = status
        return True


# ops SupportMKLDNNFCEltwiseFusion names: the fused FC is then called `..._eltwise_<id>`
_FC_ELTWISE = ('Activation', 'LeakyReLU', 'square', '_npi_square', 'sqrt', '_npi_sqrt', 'exp',
               '_npi_exp', 'abs', '_npi_absolute', 'clip')


class _FCSelector(_ChainSelector):
    """SgMKLDNNFCSelector: FullyConnected -> [one eltwise op]."""

    def __init__(self, quantize):
        self.quantize = quantize
        self.disable_eltwise = _env('MXNET_DISABLE_MKLDNN_FUSE_FC_ELTWISE')
        self.status, self.matched = None, []

    def select(self, node):
        if node['op'] == 'FullyConnected':
            self.status = 'success' if self.disable_eltwise else 'start'
            self.matched = [node]
            return True
        return False

    def select_input(self, cur, new):
        return False

    def select_output(self, cur, new):
        # unlike the conv selector, a finished match is never popped back: a second consumer
        # of the FC then reads the fused (FC + eltwise) output, as in MXNet
        if self.status in ('fail', 'success') or new['op'] == 'null':
            return False
        if self.matched[-1] is not cur:
            if any(m is cur for m in self.matched):
                while self.matched[-1] is not cur:
                    self.matched.pop()
            self.status = 'success'
            return False
        op = new['op']
        take = False
        if op == 'Activation':
            take = _act_ok(new, self.quantize)
        elif op == 'LeakyReLU':
            take = new['attrs'].get('act_type', 'leaky') in ('leaky', 'elu', 'gelu')
        elif op in ('square', '_npi_square', 'sqrt', '_npi_sqrt', 'exp', '_npi_exp'):
            take = not self.quantize
        elif op in ('abs', '_npi_absolute'):
            take = True
        elif op == 'clip':
            take = _clip_from_zero(new)
        self.status = 'success'
        if take:
            self.matched.append(new)
        return take


# the interleaved self-attention products and the fused op each one becomes
_SELFATT = {'_contrib_interleaved_matmul_selfatt_qk': '_sg_mkldnn_selfatt_qk',
            '_contrib_interleaved_matmul_selfatt_valatt': '_sg_mkldnn_selfatt_valatt'}


class _SelfAttSelector:
    """SgMKLDNNTransformerSelector: each self-attention product alone, whatever feeds it or
    reads it (the softmax between qk and valatt stays a separate node)."""

    def select(self, node):
        return node['op'] in _SELFATT

    def select_input(self, cur, new):
        return False

    def select_output(self, cur, new):
        return False

    def filter(self, candidates):
        return candidates

    def reset(self):
        pass


def _calibrated(node):
    return 'min_calib_range' in node['attrs'] and 'max_calib_range' in node['attrs']


class _RequantizeSelector:
    """SgMKLDNNPostQuantizeSelector (`chain` False: conv, quantized add) and
    SgMKLDNNFCPostQuantizeSelector / its elemwise_mul twin (`chain` True): node -> calibrated
    requantize [-> dequantize, when `float_output`]."""

    def __init__(self, accept, chain, float_output):
        self.accept, self.chain, self.float_output = accept, chain, float_output
        self.status, self.matched = None, []

    def select(self, node):
        if self.accept(node):
            self.status, self.matched = 'start', [node]
            return True
        return False

    def select_input(self, cur, new):
        return False

    def select_output(self, cur, new):
        if self.status in ('fail', 'success') or new['op'] == 'null':
            return False
        if self.matched[-1] is not cur:
            if not self.chain:
                self.status = 'fail'
                return False
            while any(m is cur for m in self.matched) and self.matched[-1] is not cur:
                self.matched.pop()
            self.status = 'success'
            return False
        if not self.chain:
            if new['op'] == '_contrib_requantize':
                if _calibrated(new):
                    self.matched.append(new)
                    self.status = 'success'
                    return True
                self.status = 'fail'
            return False
        # MXNet's switch falls through: start -> requantize -> default
        if self.status == 'start' and new['op'] == '_contrib_requantize' and _calibrated(new):
            self.matched.append(new)
            self.status = 'requantize'
            return True
        if self.float_output and new['op'] == '_contrib_dequantize':
            self.matched.append(new)
            self.status = 'success'
            return True
        self.status = 'success'
        return False

    def filter(self, candidates):
        if self.status != 'success':
            return []
        if not self.chain:
            return candidates
        if len(self.matched) <= 1:
            return []
        ids = {id(c) for c in candidates}
        return [m for m in self.matched if id(m) in ids]

    def reset(self):
        first = self.matched[0]
        self.__init__(self.accept, self.chain, self.float_output)
        self.select(first)


class _ConcatScaleSelector:
    """SgMKLDNNConcatPostQuantizeSelector: from a quantized concat, up through quantized
    concats/poolings, the calibrated nodes whose only consumers are on that path."""

    def __init__(self, consumers):
        self.consumers = consumers
        self.matched, self.visit, self.select_out = [], set(), True

    def select(self, node):
        if node['op'] == '_contrib_quantized_concat':
            self.head = node
            self.matched, self.visit = [], {id(node)}
            self.select_out = len(self.consumers(node)) <= 1
            return True
        return False

    def select_input(self, cur, new):
        if new['op'] == 'null' or id(cur) not in self.visit:
            return False
        if any(id(c) not in self.visit for c in self.consumers(new)):
            return False
        if _calibrated(new):
            self.matched.append(new)
            return True
        if new['op'] in ('_contrib_quantized_concat', '_contrib_quantized_pooling'):
            self.visit.add(id(new))
            return True
        return False

    def select_output(self, cur, new):
        if not self.select_out or new['op'] == 'null' or id(cur) not in self.visit:
            return False
        if new['op'] in ('_contrib_quantized_concat', '_contrib_quantized_pooling'):
            self.visit.add(id(new))
            return True
        return False

    def filter(self, candidates):
        return list(self.matched) if len(self.matched) >= 2 else []

    def reset(self):
        self.__init__(self.consumers)
        self.select(self.head)


# ---- the partitioner (build_subgraph.cc) ----

class _Graph:
    """The graph one property pass works on: heads, the topological node order at the start
    of the pass, consumers, and the topological rank of every input entry."""

    def __init__(self, heads):
        self.heads = list(heads)
        self.order = dfs(self.heads)
        self.nid = {id(n): i for i, n in enumerate(self.order)}
        self.cons = {}
        for n in self.order:
            for i, (src, _, _) in enumerate(n['inputs']):
                self.cons.setdefault(id(src), {}).setdefault(id(n), (n, []))[1].append(i)
        self.rank = self._entry_ranks()

    def consumers(self, node):
        return [c for c, _ in reversed(list(self.cons.get(id(node), {}).values()))]

    def _entry_ranks(self):
        """TopSortEntries: an entry is ranked when its source node is finished (first visit)
        or at once (source already visited), in a DFS from the heads."""
        rank, visited = {}, set()
        for h, head in enumerate(self.heads):
            node = head[0]
            if id(node) in visited:
                rank[('head', h)] = len(rank)
                continue
            visited.add(id(node))
            stack = [(node, 0, ('head', h))]
            while stack:
                cur, i, key = stack[-1]
                if i == len(cur['inputs']):
                    rank[key] = len(rank)
                    stack.pop()
                    continue
                stack[-1] = (cur, i + 1, key)
                src = cur['inputs'][i][0]
                if id(src) in visited:
                    rank[(id(cur), i)] = len(rank)
                else:
                    visited.add(id(src))
                    stack.append((src, 0, (id(cur), i)))
        return rank


def _label(g, sel, seed, label, excluded):
    """LabelSubgraph: BFS from the seed; False (with a node added to `excluded`) when the
    subgraph and the outside nodes would form a cycle."""
    sub, queue = [], deque([seed])
    label[id(seed)] = seed
    outside = {}  # id(outside node) -> ([subgraph nodes reading it], [subgraph nodes it reads])
    while queue:
        cur = queue.popleft()
        sub.append(cur)
        for src, _, _ in cur['inputs']:
            if id(src) not in label and id(src) not in excluded and sel.select_input(cur, src):
                label[id(src)] = seed
                queue.append(src)
            elif id(src) not in label:
                outside.setdefault(id(src), (src, [], []))[1].append(cur)
        for c in g.consumers(cur):
            if id(c) not in label and id(c) not in excluded and sel.select_output(cur, c):
                label[id(c)] = seed
                queue.append(c)
            elif id(c) not in label:
                outside.setdefault(id(c), (c, [], []))[2].append(cur)
    nid = g.nid
    in_sub = {id(n) for n in sub}

    def is_ancestor(anc, desc):
        stack, seen = [desc], set()
        while stack:
            top = stack.pop()
            if top is anc:
                return True
            if id(top) in seen:
                continue
            seen.add(id(top))
            stack.extend(e[0] for e in top['inputs'] if id(e[0]) not in in_sub)
        return False

    outs = sorted(outside.values(), key=lambda t: nid[id(t[0])])
    worst = -1
    for i, (node, readers, read) in enumerate(outs):
        last_reader = max((nid[id(n)] for n in readers), default=-1)
        last_read = max((nid[id(n)] for n in read), default=-1)
        if readers and read:
            worst = max(worst, last_reader, last_read)
        elif read:
            for other, o_readers, _ in outs[i + 1:]:
                if o_readers and is_ancestor(node, other):
                    worst = max(worst, last_read, max(nid[id(n)] for n in o_readers))
    if worst != -1:
        excluded.add(id(g.order[worst]))
        for n in sub:
            del label[id(n)]
        return None
    return sorted(sub, key=lambda n: nid[id(n)])


def _find_subgraphs(g, make_selector):
    """FindSubgraphs: [(sorted subgraph nodes, selector)] in seed order."""
    label, found = {}, []
    for node in g.order:
        sel = make_selector()
        if id(node) in label or not sel.select(node):
            continue
        excluded, sub = set(), None
        for _ in range(len(g.order) ** 2):
            sub = _label(g, sel, node, label, excluded)
            if sub is not None:
                break
            sel.reset()
        if sub is None:  # MXNet then keeps the seed alone
            label[id(node)] = node
            sub = [node]
        kept = sel.filter(sub)
        kept_ids = {id(n) for n in kept}
        for n in sub:
            if id(n) not in kept_ids:
                del label[id(n)]
        if kept:
            found.append((sorted(kept, key=lambda n: g.nid[id(n)]), sel))
    return found


def _replace(g, prop, nodes, sel, subgraph_id):
    """CreateSubgraphNode: cut the subgraph's inputs into variables, let the property build
    the node, then reconnect the outside entries to it."""
    in_sub = {id(n) for n in nodes}
    inputs = [(n, i) for n in nodes for i, e in enumerate(n['inputs'])
              if id(e[0]) not in in_sub]
    inputs.sort(key=lambda loc: g.rank[(id(loc[0]), loc[1])])
    orig, counts = [], {}
    for n, i in inputs:
        entry = n['inputs'][i]
        orig.append(entry)
        name = output_name(entry[0], entry[1])
        k = counts.get(name, -1) + 1
        counts[name] = k
        n['inputs'][i] = (_node('null', name + str(k)), 0, 0)
    outputs = []
    for n in nodes:
        for c, idxs in g.cons.get(id(n), {}).values():
            if id(c) not in in_sub:
                outputs.extend((c, i) for i in idxs)
    outputs.extend(('head', h) for h, e in enumerate(g.heads) if id(e[0]) in in_sub)
    outputs.sort(key=lambda loc: g.rank[(id(loc[0]) if loc[0] != 'head' else 'head', loc[1])])

    def entry_at(loc):
        return g.heads[loc[1]] if loc[0] == 'head' else loc[0]['inputs'][loc[1]]

    def set_entry(loc, e):
        if loc[0] == 'head':
            g.heads[loc[1]] = e
        else:
            loc[0]['inputs'][loc[1]] = e

    new = prop.create(nodes, [entry_at(loc) for loc in outputs], sel, subgraph_id)
    for loc in outputs:
        set_entry(loc, (new, prop.output_index(entry_at(loc)), 0))
    new['inputs'] = prop.connect_inputs(new, inputs, orig)
    if hasattr(prop, 'finish'):
        prop.finish(new)
    for i, (src, _, _) in enumerate(new['inputs']):
        g.rank[(id(new), i)] = g.rank[(id(inputs[i][0]), inputs[i][1])]
        cons = g.cons.setdefault(id(src), {})
        for n in nodes:
            cons.pop(id(n), None)
        cons.setdefault(id(new), (new, []))[1].append(i)
    # consumers of the subgraph's outputs now read `new`
    for loc in outputs:
        if loc[0] != 'head':
            g.cons.setdefault(id(new), {}).setdefault(id(loc[0]), (loc[0], []))[1].append(loc[1])


def _subgraph_json(last):
    graph = dump([(last, 0, 0)], None)
    del graph['attrs']
    return graph


# ---- properties ----

class _ConvProperty:
    def __init__(self, quantize):
        self.quantize = quantize
        self.disabled = _env('MXNET_DISABLE_MKLDNN_CONV_OPT')

    def selector(self, g):
        return _ConvSelector(self.quantize)

    def create(self, nodes, out_entries, sel, subgraph_id):
        last = out_entries[0][0]
        new = _node('_sg_mkldnn_conv', None)
        parts, with_sum = ['sg_mkldnn_'], False
        for n in dfs([(last, 0, 0)]):
            op = n['op']
            if op == 'Convolution':
                parts.append('conv_')
            elif op == 'BatchNorm':
                parts.append('bn_')
                new['attrs']['with_bn'] = 'true'
            elif op in ('elemwise_add', '_npi_add'):
                parts.append('add_')
                new['attrs']['with_sum'] = 'true'
                with_sum = True
            elif op in ('Activation', 'LeakyReLU', 'clip'):
                parts.append('act_')
                new['attrs']['with_postsum_act' if with_sum else 'with_act'] = 'true'
        new['name'] = ''.join(parts) + str(subgraph_id)
        new['last'] = last
        return new

    @staticmethod
    def output_index(entry):
        return 0  # every outside reader takes the fused node's single output

    def connect_inputs(self, new, inputs, orig):
        sub = dfs([(new['last'], 0, 0)])
        seen = set()
        for n in sub:
            if n['op'] == 'null':
                continue
            seen.add(id(n))
            # the sum's outside operand goes last among the fused node's inputs
            if n['op'] in ('elemwise_add', '_npi_add') and id(n['inputs'][1][0]) in seen:
                n['inputs'] = [n['inputs'][1], n['inputs'][0]] + n['inputs'][2:]
                inputs[:] = inputs[1:] + inputs[:1]
                orig = orig[1:] + orig[:1]
        return list(orig)

    @staticmethod
    def finish(new):
        new['extra'] = {'subgraphs': [_subgraph_json(new.pop('last'))]}


class _FCProperty(_ConvProperty):
    def __init__(self, quantize):
        self.quantize = quantize
        self.disabled = _env('MXNET_DISABLE_MKLDNN_FC_OPT')

    def selector(self, g):
        return _FCSelector(self.quantize)

    def create(self, nodes, out_entries, sel, subgraph_id):
        last = out_entries[0][0]
        new = _node('_sg_mkldnn_fully_connected', None)
        parts = ['sg_mkldnn_']
        for n in dfs([(last, 0, 0)]):
            if n['op'] == 'FullyConnected':
                parts.append('fully_connected_')
            elif n['op'] in _FC_ELTWISE:
                parts.append('eltwise_')
                new['attrs']['with_eltwise'] = 'True'
        new['name'] = ''.join(parts) + str(subgraph_id)
        new['last'] = last
        return new

    @staticmethod
    def output_index(entry):
        return entry[1]

    def connect_inputs(self, new, inputs, orig):
        return list(orig)


class _SelfAttProperty(_FCProperty):
    """The fused node reads the product's own inputs, keeps it as its subgraph and is numbered
    in one sequence for qk and valatt (`sg_mkldnn_selfatt_qk_0`, `..._valatt_1`)."""

    def __init__(self):
        self.disabled = _env('MXNET_DISABLE_MKLDNN_TRANSFORMER_OPT')

    def selector(self, g):
        return _SelfAttSelector()

    def create(self, nodes, out_entries, sel, subgraph_id):
        last = out_entries[0][0]
        op = _SELFATT[last['op']]
        # the attrs MXNet writes are its parsed parameter: heads as an int, both flags off
        new = _node(op, '%s_%d' % (op[1:], subgraph_id),
                    {'enable_float_output': 'False', 'heads': str(int(last['attrs']['heads'])),
                     'quantized': 'False'})
        new['last'] = last
        return new


def _range_attr(text):
    # the requantize's range parsed to float32, then std::to_string
    return '%f' % float(np.float32(float(text)))


class _PostQuantizeProperty:
    """Folds a calibrated requantize (and, for a `chain` property, a dequantize after it) into
    the quantized node before it; the node keeps its name and inputs."""

    def __init__(self, accept, chain, disable_env=None, float_env=None):
        self.accept = accept
        self.chain = chain
        self.disabled = bool(disable_env) and _env(disable_env)
        self.float_disabled = bool(float_env) and _env(float_env)

    def selector(self, g):
        return _RequantizeSelector(self.accept, self.chain,
                                   self.chain and not self.float_disabled)

    def create(self, nodes, out_entries, sel, subgraph_id):
        fused = next(n for n in nodes if self.accept(n))
        rq = next(n for n in nodes if n['op'] == '_contrib_requantize')
        dq = [n for n in nodes if n['op'] == '_contrib_dequantize']
        if dq:
            fused['attrs']['enable_float_output'] = 'True'
        else:
            for key in ('min_calib_range', 'max_calib_range'):
                fused['attrs'][key] = _range_attr(rq['attrs'][key])
        return fused

    @staticmethod
    def output_index(entry):
        return entry[1]

    @staticmethod
    def connect_inputs(new, inputs, orig):
        return list(orig)


def _quantized_sg(op):
    return lambda n: n['op'] == op and n['attrs'].get('quantized', '').lower() == 'true'


def _is_op(op):
    return lambda n: n['op'] == op


def _adjust_scales(g):
    """SgMKLDNNPostQuantizeAlignScaleProperty: the calibrated nodes feeding one quantized
    concat (through quantized concats/poolings) all take the union of their ranges."""
    for nodes, _ in _find_subgraphs(g, lambda: _ConcatScaleSelector(g.consumers)):
        lo = min([np.float32(0)] + [np.float32(float(n['attrs']['min_calib_range']))
                                    for n in nodes])
        hi = max([np.float32(0)] + [np.float32(float(n['attrs']['max_calib_range']))
                                    for n in nodes])
        for n in nodes:
            n['attrs']['min_calib_range'] = '%f' % float(lo)
            n['attrs']['max_calib_range'] = '%f' % float(hi)


def _properties(backend):
    if backend == 'MKLDNN':
        return [_ConvProperty(False), _FCProperty(False), _SelfAttProperty()]
    qem_float = _PostQuantizeProperty(_is_op('_contrib_quantized_elemwise_mul'), True,
                                      'MXNET_DISABLE_MKLDNN_QEM_FUSE_ALL',
                                      'MXNET_DISABLE_MKLDNN_QEM_FLOAT_OUTPUT')
    return [_ConvProperty(True), _FCProperty(True), _SelfAttProperty(),
            _PostQuantizeProperty(lambda n: _quantized_sg('_sg_mkldnn_conv')(n) or n['op'] in (
                '_contrib_quantized_elemwise_add', '_contrib_quantized_npi_add'), False),
            _PostQuantizeProperty(_quantized_sg('_sg_mkldnn_fully_connected'), True,
                                  'MXNET_DISABLE_MKLDNN_QFC_FUSE_ALL',
                                  'MXNET_DISABLE_MKLDNN_QFC_FLOAT_OUTPUT'),
            qem_float, _adjust_scales,
            # MXNet's selector takes any fused selfatt node: only quantized ones have a
            # requantize after them
            _PostQuantizeProperty(lambda n: n['op'] in _SELFATT.values(), True,
                                  'MXNET_DISABLE_MKLDNN_QTRANSFORMER_FUSE_ALL',
                                  'MXNET_DISABLE_MKLDNN_QTRANSFORMER_FLOAT_OUTPUT')]


def backend_graph_json(graph, backend):
    """Symbol.get_backend_symbol on JSON: MXNet 1.9.1's graph after the backend's passes."""
    if backend not in BACKENDS:
        raise MXNetError('get_backend_symbol: unknown subgraph backend %r; oxnet implements %s'
                         % (backend, ', '.join(BACKENDS)))
    _, heads, attrs = parse(graph)
    for prop in _properties(backend):
        g = _Graph(heads)
        if callable(prop) and not hasattr(prop, 'selector'):
            prop(g)
        elif not prop.disabled:
            for k, (nodes, sel) in enumerate(_find_subgraphs(g, lambda: prop.selector(g))):
                _replace(g, prop, nodes, sel, k)
        heads = g.heads
    return dump(heads, attrs)
