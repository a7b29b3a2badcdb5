"""MXNet 1.9.1's ``ReducePrecision`` graph pass (src/nnvm/low_precision_pass.cc), over the JSON
form of a symbol: inserts ``amp_cast``/``amp_multicast`` nodes named as MXNet names them.

Invariants the rewrite keeps, as MXNet's does:
- every old node gets exactly one copy (``mirror``), with its name and attributes;
- an old output entry has at most one float16 view (``lp``) and one float32 view (``fp32``),
  shared by every consumer, so a tensor is cast at most once per dtype;
- graph outputs come back in float32 (a float16 head gets a final cast).
Per-op type rules come from oxnet's own inference on a one-node graph (MXNet calls the op's
FInferType), cached by op, attributes and known input types."""
import json

from ...base import MXNetError, _np_dtype_name
from ...symbol import load_json

_NULL = "null"

# Ops whose MXNet registration names its outputs (FListOutputNames): their cast nodes are
# suffixed with the output's name (``fc1_output_amp_cast_float32``), every other op's with the
# output index (``exp0_0_amp_cast_float32``). Found by converting one node of each op with
# MXNet 1.9.1; the legacy-operator ones MXNet could not build alone are added by kind.
_NAMED_OUTPUTS = frozenset([
    "Activation", "BatchNorm", "BatchNorm_v1", "BilinearSampler", "Concat", "Convolution",
    "Convolution_v1", "Correlation", "Deconvolution", "Dropout", "FullyConnected", "GridGenerator",
    "GroupNorm", "L2Normalization", "LRN", "LayerNorm", "LeakyReLU", "MakeLoss", "Pad", "Pooling",
    "Pooling_v1", "RNN", "ROIPooling", "SVMOutput", "SequenceLast", "SequenceMask",
    "SequenceReverse", "SliceChannel", "SoftmaxActivation", "SoftmaxOutput", "SpatialTransformer",
    "SwapAxis", "UpSampling", "_contrib_BatchNormWithReLU", "_contrib_DeformableConvolution",
    "_contrib_ModulatedDeformableConvolution", "_contrib_PSROIPooling", "_contrib_ROIAlign",
    "_contrib_count_sketch", "_contrib_fft", "_contrib_hawkesll", "_contrib_ifft",
    "_contrib_index_array", "_contrib_interleaved_matmul_encdec_qk",
    "_contrib_interleaved_matmul_encdec_valatt", "_contrib_interleaved_matmul_selfatt_qk",
    "_contrib_interleaved_matmul_selfatt_valatt", "_contrib_quantized_elemwise_mul",
    "_contrib_quantized_flatten", "_rnn_param_concat", "col2im", "elemwise_add", "im2col",
    "make_loss", "softmax", "softmin",
    # legacy OperatorProperty ops: named outputs by construction
    "Crop", "InstanceNorm", "IdentityAttachKLSparseReg", "LinearRegressionOutput",
    "LogisticRegressionOutput", "MAERegressionOutput", "_contrib_SyncBatchNorm",
    "_contrib_MultiBoxPrior", "_contrib_MultiBoxTarget", "_contrib_MultiBoxDetection",
    "_contrib_Proposal", "_contrib_MultiProposal", "_contrib_DeformablePSROIPooling", "Custom",
])
# Hidden outputs that list_outputs() does not show but MXNet's names cover.
_BN_OUTPUTS = ("output", "mean", "var")
_HIDDEN_OUTPUTS = {"BatchNorm": _BN_OUTPUTS, "BatchNorm_v1": _BN_OUTPUTS,
                   "_contrib_SyncBatchNorm": _BN_OUTPUTS}


class _Node:
    __slots__ = ("op", "name", "attrs", "inputs")

    def __init__(self, op, name, attrs, inputs):
        self.op, self.name, self.attrs, self.inputs = op, name, attrs, inputs


class _OpTypes:
    """Type inference and output names of single op nodes, cached."""

    def __init__(self):
        self._syms = {}
        self._types = {}

    def _sym(self, node, n_in):
        key = (node.op, json.dumps(node.attrs, sort_keys=True), n_in)
        sym = self._syms.get(key)
        if sym is None:
            nodes = [{"op": _NULL, "name": "in%d" % i, "inputs": []} for i in range(n_in)]
            nodes.append({"op": node.op, "name": "node", "attrs": node.attrs,
                          "inputs": [[i, 0, 0] for i in range(n_in)]})
            graph = {"nodes": nodes, "arg_nodes": list(range(n_in)), "heads": [[n_in, 0, 0]]}
            # the internals list every output of the node, not only the first
            sym = self._syms[key] = load_json(json.dumps(graph)).get_internals()
        return sym

    def infer(self, node, n_in, in_types):
        """(input dtypes, output dtypes) as names or None, or None where the op rejects them."""
        key = (node.op, json.dumps(node.attrs, sort_keys=True), n_in, tuple(in_types))
        if key not in self._types:
            sym = self._sym(node, n_in)
            given = {"in%d" % i: t for i, t in enumerate(in_types) if t is not None}
            try:
                args, outs, auxs = sym.infer_type_partial(**given)
            except (MXNetError, ValueError, TypeError):
                self._types[key] = None
            else:
                by_name = dict(zip(sym.list_arguments(), args))
                by_name.update(zip(sym.list_auxiliary_states(), auxs))
                ins = [_dtype_name(by_name.get("in%d" % i)) for i in range(n_in)]
                outs = [_dtype_name(t) for o, t in zip(sym.list_outputs(), outs)
                        if o.startswith("node_")]
                self._types[key] = (ins, outs)
        return self._types[key]

    def mutable_inputs(self, node, n_in):
        sym = self._sym(node, n_in)
        aux = set(sym.list_auxiliary_states())
        return {i for i in range(n_in) if "in%d" % i in aux}

    def num_outputs(self, node, n_in):
        hidden = _HIDDEN_OUTPUTS.get(node.op)
        return len(hidden) if hidden else len(self._output_names(node, n_in))

    def _output_names(self, node, n_in):
        return [o[len("node_"):] for o in self._sym(node, n_in).list_outputs()
                if o.startswith("node_")]

    def output_name(self, node, n_in, index):
        names = _HIDDEN_OUTPUTS.get(node.op)
        if names is None:
            names = self._output_names(node, n_in)
        return names[index] if index < len(names) else str(index)


def _dtype_name(t):
    return None if t is None else _np_dtype_name(t)


class ReducePrecision:
    """One conversion: ``run(graph)`` returns the rewritten graph as a JSON dict."""

    def __init__(self, target_dtype, target_ops, fp32_ops, widest_ops, conditional_fp32_ops,
                 excluded, data_names, cast_optional_params):
        self.target = target_dtype
        self.target_ops, self.fp32_ops, self.widest_ops = set(target_ops), set(fp32_ops), set(widest_ops)
        self.conditional = {}
        for op, param, values in conditional_fp32_ops:
            self.conditional.setdefault(op, {}).setdefault(param, []).extend(values)
        self.excluded = set(excluded)
        self.data_names = set(data_names)
        self.cast_optional_params = cast_optional_params
        self.types = _OpTypes()

    # ---------------------------------------------------------------- helpers
    def _suffix(self, entry):
        old = self.old[entry[0]]
        if old.op == _NULL:
            return ""
        if old.op in _NAMED_OUTPUTS:
            return "_" + self.types.output_name(old, len(old.inputs), entry[1])
        return "_%d" % entry[1]

    def _mirror_entry(self, entry):
        return (self.mirror[entry[0]], entry[1], entry[2])

    def _cast(self, entry, dtype, view, consumer):
        """Feeds ``consumer`` the ``dtype`` view of ``entry``, creating its cast node once."""
        if entry in view:
            consumer.inputs.append(view[entry])
            return
        old = self.old[entry[0]]
        cast = _Node("amp_cast", "%s%s_amp_cast_%s" % (old.name, self._suffix(entry), dtype),
                     {"dtype": dtype}, [self._mirror_entry(entry)])
        if consumer is not None:
            consumer.inputs.append((cast, 0, 0))
        view[entry] = (cast, 0, entry[2])

    def _mark_outputs(self, nid, new, dtypes):
        for i, t in enumerate(dtypes):
            if t == self.target:
                self.lp[(nid, i, 0)] = (new, i, 0)
            elif t == "float32":
                self.fp32[(nid, i, 0)] = (new, i, 0)

    def _conditional_fp32(self, old):
        params = self.conditional.get(old.op)
        if old.op == _NULL or old.name in self.excluded or not params:
            return False
        return any(old.attrs.get(p) in values for p, values in params.items() if p in old.attrs)

    def _is_param(self, entry):
        old = self.old[entry[0]]
        return old.op == _NULL and old.name not in self.data_names

    # ---------------------------------------------------------------- one node per op class
    def _fp32_node(self, nid, new, mutable, variables_as_is):
        old = self.old[nid]
        self._mark_outputs(nid, new, ["float32"] * self.types.num_outputs(old, len(old.inputs)))
        for i, entry in enumerate(old.inputs):
            as_is = self.old[entry[0]].op == _NULL if variables_as_is else i in mutable
            if entry not in self.fp32 and as_is:
                new.inputs.append(self._mirror_entry(entry))
            else:
                self._cast(entry, "float32", self.fp32, new)

    def _low_node(self, nid, new, mutable):
        old = self.old[nid]
        n_in = len(old.inputs)
        types = self.types.infer(old, n_in, [self.target] + [None] * (n_in - 1)) if n_in else None
        if types is None:
            raise MXNetError("amp.convert_symbol: node %r: %s cannot run in %s (its type inference "
                             "rejects a %s first input); leave it out of target_dtype_ops or name "
                             "it in excluded_sym_names" % (old.name, old.op, self.target, self.target))
        in_types, out_types = types
        self._mark_outputs(nid, new, out_types)
        for i, entry in enumerate(old.inputs):
            if entry in self.lp:
                new.inputs.append(self.lp[entry])
            elif (self.cast_optional_params and self._is_param(entry)) or i in mutable \
                    or in_types[i] not in (self.target, None):
                # stored in float16 already (cast offline), updated in place, or an input the
                # op wants in float32 (BatchNorm's gamma): fed as it is
                new.inputs.append(self._mirror_entry(entry))
                if self.cast_optional_params and self.old[entry[0]].op == _NULL:
                    self.lp[entry] = self._mirror_entry(entry)
            else:
                self._cast(entry, self.target, self.lp, new)

    def _widest_node(self, nid, new, mutable):
        old = self.old[nid]
        if not old.inputs or mutable:
            raise MXNetError("amp.convert_symbol: node %r: %s is a widest-type op but has %s"
                             % (old.name, old.op, "mutable inputs" if mutable else "no inputs"))
        if any(e not in self.lp and e not in self.fp32 for e in old.inputs):
            # some input dtype is unknown until run time: cast all of them there
            first = old.inputs[0]
            multi = _Node("amp_multicast",
                          "%s%s_amp_multicast" % (self.old[first[0]].name, self._suffix(first)),
                          {"num_outputs": str(len(old.inputs))},
                          [self._mirror_entry(e) for e in old.inputs])
            new.inputs.extend((multi, i, e[2]) for i, e in enumerate(old.inputs))
            return
        dtype = "float32" if any(e in self.fp32 for e in old.inputs) else self.target
        self._mark_outputs(nid, new, [dtype] * self.types.num_outputs(old, len(old.inputs)))
        view = self.lp if dtype == self.target else self.fp32
        for entry in old.inputs:
            self._cast(entry, dtype, view, new)

    def _neutral_node(self, nid, new):
        old = self.old[nid]
        first = old.inputs[0] if old.inputs else None
        if first is not None and (first in self.fp32 or first in self.lp):
            dtype = self.target if first in self.lp else "float32"
            types = self.types.infer(old, len(old.inputs), [dtype] + [None] * (len(old.inputs) - 1))
            if types is not None:
                self._mark_outputs(nid, new, types[1])
        new.inputs.extend(self._mirror_entry(e) for e in old.inputs)

    # ---------------------------------------------------------------- the pass
    def run(self, graph):
        self.old = [_Node(n["op"], n["name"], dict(n.get("attrs", n.get("param", {})) or {}),
                          [tuple(e) if len(e) == 3 else (e[0], e[1], 0) for e in n["inputs"]])
                    for n in graph["nodes"]]
        heads = [tuple(h) if len(h) == 3 else (h[0], h[1], 0) for h in graph["heads"]]
        self.mirror, self.fp32, self.lp = {}, {}, {}
        for nid in _post_order(self.old, [h[0] for h in heads]):
            old = self.old[nid]
            new = _Node(old.op, old.name, old.attrs, [])
            is_op = old.op != _NULL
            mutable = self.types.mutable_inputs(old, len(old.inputs)) if is_op else set()
            if (is_op and old.op in self.fp32_ops) or old.name in self.excluded:
                self._fp32_node(nid, new, mutable, variables_as_is=True)
            elif is_op and old.op in self.target_ops:
                self._low_node(nid, new, mutable)
            elif is_op and old.op in self.widest_ops:
                self._widest_node(nid, new, mutable)
            elif self._conditional_fp32(old):
                self._fp32_node(nid, new, mutable, variables_as_is=False)
            else:
                self._neutral_node(nid, new)
            self.mirror[nid] = new
        outputs = []
        for entry in heads:
            if entry not in self.fp32:
                self._cast(entry, "float32", self.fp32, None)
            outputs.append(self.fp32[entry])
        return _to_json(outputs, graph.get("attrs"))


def _post_order(nodes, roots):
    """Node ids in MXNet's DFSVisit order: depth first, inputs in order, each node after them."""
    seen, order = set(), []
    for root in roots:
        if root in seen:
            continue
        stack = [(root, 0)]
        seen.add(root)
        while stack:
            nid, k = stack.pop()
            ins = nodes[nid].inputs
            if k < len(ins):
                stack.append((nid, k + 1))
                child = ins[k][0]
                if child not in seen:
                    seen.add(child)
                    stack.append((child, 0))
            else:
                order.append(nid)
    return order


def _to_json(outputs, attrs):
    """MXNet JSON of the graph reachable from ``outputs`` (entries of ``_Node``)."""
    index, nodes = {}, []
    seen = set()
    for root in [o[0] for o in outputs]:
        if id(root) in seen:
            continue
        stack = [(root, 0)]
        seen.add(id(root))
        while stack:
            node, k = stack.pop()
            if k < len(node.inputs):
                stack.append((node, k + 1))
                child = node.inputs[k][0]
                if id(child) not in seen:
                    seen.add(id(child))
                    stack.append((child, 0))
            else:
                index[id(node)] = len(nodes)
                nodes.append(node)
    out = {"nodes": [], "arg_nodes": [], "heads": [[index[id(o[0])], o[1], o[2]] for o in outputs]}
    for i, node in enumerate(nodes):
        d = {"op": node.op, "name": node.name,
             "inputs": [[index[id(e[0])], e[1], e[2]] for e in node.inputs]}
        if node.attrs:
            d["attrs"] = node.attrs
        out["nodes"].append(d)
        if node.op == _NULL:
            out["arg_nodes"].append(i)
    if attrs:
        out["attrs"] = attrs
    return out
