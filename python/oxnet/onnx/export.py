"""MXNet symbol -> ONNX graph (``mx.onnx.export_model``, MXNet 1.9.1's signature).

The exporter walks the symbol's JSON nodes in order; each operator has one converter in
``CONVERTERS`` (filled by ``ops_nn`` and ``ops_tensor``) that receives the graph being built and
an ``ExportNode`` carrying the node's attributes and the inferred shapes and dtypes of its inputs
and outputs. Tensor names follow MXNet's exporter: a variable keeps its name, an op output is the
node name (``name0``, ``name1``... for several outputs), so code that feeds or reads an
onnxruntime session by name works for both.
"""
import ast
import json
import logging
import os

import numpy as np

from ..base import MXNetError, string_types

_log = logging.getLogger("oxnet.onnx")

#: The ONNX opset every exported graph declares (operator semantics as of ONNX 1.8).
OPSET = 13
#: IR version matching ``OPSET`` (ONNX 1.8), so older runtimes load the files too.
IR_VERSION = 7

#: MXNet op name -> converter ``fn(graph, node)``.
CONVERTERS = {}

# Loss heads whose second input is a training label, dropped at inference.
LOSS_OPS = ("SoftmaxOutput", "LinearRegressionOutput", "LogisticRegressionOutput",
            "MAERegressionOutput", "SVMOutput")


def require_onnx():
    """Imports and returns the ``onnx`` package, or says how to install it."""
    try:
        import onnx
    except ImportError as e:
        raise ImportError("ONNX export/import needs the onnx package: pip install onnx "
                          "(and pip install onnxruntime to run the exported models)") from e
    return onnx


def register(*op_names):
    """Decorator: registers a converter for the MXNet operators ``op_names``."""
    def deco(fn):
        for op in op_names:
            CONVERTERS[op] = fn
        return fn
    return deco


# ------------------------------------------------------------------------------ attributes
def _literal(text):
    text = text.strip()
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none" or text == "":
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


class ExportNode:
    """One MXNet op node as its converter sees it: attributes (MXNet strings, parsed on
    request), ONNX input/output tensor names, and inferred shapes and numpy dtypes."""

    def __init__(self, op, name, attrs, inputs, in_shapes, in_dtypes, outputs, out_shapes,
                 out_dtypes):
        self.op, self.name, self.attrs = op, name, attrs
        self.inputs, self.in_shapes, self.in_dtypes = inputs, in_shapes, in_dtypes
        self.outputs, self.out_shapes, self.out_dtypes = outputs, out_shapes, out_dtypes

    def has(self, key):
        return self.attrs.get(key) not in (None, "None", "")

    def str(self, key, default=None):
        return self.attrs.get(key, default)

    def bool(self, key, default=False):
        v = self.attrs.get(key)
        return default if v is None else _literal(v) in (True, 1)

    def int(self, key, default=None):
        v = _literal(self.attrs[key]) if key in self.attrs else None
        return default if v is None else int(v)

    def float(self, key, default=None):
        v = _literal(self.attrs[key]) if key in self.attrs else None
        return default if v is None else float(v)

    def tuple(self, key, default=()):
        """A shape-like attribute as a tuple (``None`` entries kept); ``default`` if unset."""
        v = _literal(self.attrs[key]) if key in self.attrs else None
        if v is None:
            return default
        if isinstance(v, (int, float)):
            return (int(v),)
        return tuple(None if x is None else int(x) for x in v)

    def fail(self, why):
        """An error naming this node, for attribute values a converter cannot express."""
        return MXNetError("ONNX export: %s node '%s': %s" % (self.op, self.name, why))


# ------------------------------------------------------------------------------ graph builder
class ExportGraph:
    """The ONNX graph under construction: nodes, initializers and unique tensor names."""

    def __init__(self, onnx):
        self.onnx = onnx
        self.helper = onnx.helper
        self.nodes = []
        self.initializers = []
        self._names = set()
        self._node_names = set()
        self._count = 0
        #: Whether shapes may change at run time (``export_model(dynamic=True)``).
        self.dynamic = False

    def unique(self, hint, taken=None):
        taken = self._names if taken is None else taken
        name = hint
        while name in taken:
            self._count += 1
            name = "%s__%d" % (hint, self._count)
        taken.add(name)
        return name

    def reserve(self, name):
        self._names.add(name)

    def add(self, op_type, inputs, outputs=None, hint=None, **attrs):
        """Appends an ONNX node; returns its output name (or the list when several)."""
        if outputs is None:
            outputs = [self.unique(hint or op_type.lower())]
        elif isinstance(outputs, string_types):
            outputs = [outputs]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        # Nodes are named after their first output, so an import gives back MXNet's node names.
        node = self.helper.make_node(op_type, list(inputs), list(outputs),
                                     name=self.unique(outputs[0], self._node_names), **attrs)
        self.nodes.append(node)
        return outputs[0] if len(outputs) == 1 else list(outputs)

    def initializer(self, name, array):
        array = np.asarray(array, order="C")  # a 0-d constant stays 0-d
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def const(self, value, dtype=np.int64, hint="const"):
        """A new initializer holding ``value``; returns its name."""
        return self.initializer(self.unique(hint), np.asarray(value, dtype=dtype))

    def int64s(self, values, hint="const"):
        return self.const(list(values), np.int64, hint)


# ------------------------------------------------------------------------------ driver
def _load_params(params):
    from .. import ndarray as nd
    if isinstance(params, string_types):
        if not os.path.isfile(params):
            raise ValueError("params file %r does not exist" % params)
        params = nd.load(params)
        if isinstance(params, list) and not params:
            params = {}  # a file of no parameters (what Gluon saves for a parameter-free block)
    elif isinstance(params, (list, tuple)) and len(params) == 2:
        merged = {}
        merged.update(params[0] or {})
        merged.update(params[1] or {})
        params = merged
    if not isinstance(params, dict):
        raise ValueError("params must be a .params file path, a dict, or [arg_params, aux_params]")
    out = {}
    for k, v in params.items():
        if k.startswith("arg:") or k.startswith("aux:"):
            k = k[4:]
        out[k] = v.asnumpy() if hasattr(v, "asnumpy") else np.asarray(v)
    return out


def _load_symbol(sym):
    from .. import symbol
    if isinstance(sym, string_types):
        if not os.path.isfile(sym):
            raise ValueError("symbol file %r does not exist" % sym)
        return symbol.load(sym)
    if not isinstance(sym, symbol.Symbol):
        raise ValueError("sym must be a -symbol.json file path or a Symbol")
    return sym


def _visible_outputs(node, cache):
    """How many visible outputs an op node has (its entries in ``get_internals()``)."""
    from .. import symbol
    key = (node["op"], json.dumps(node.get("attrs", {}), sort_keys=True), len(node["inputs"]))
    if key not in cache:
        k = len(node["inputs"])
        nodes = [{"op": "null", "name": "in%d" % i, "inputs": []} for i in range(k)]
        nodes.append({"op": node["op"], "name": "n", "attrs": node.get("attrs", {}),
                      "inputs": [[i, 0, 0] for i in range(k)]})
        g = {"nodes": nodes, "arg_nodes": list(range(k)), "heads": [[k, 0, 0]],
             "attrs": {"mxnet_version": ["int", 10901]}}
        cache[key] = len(symbol.load_json(json.dumps(g)).get_internals().list_outputs()) - k
    return cache[key]


def _label_nodes(nodes, params):
    """Null nodes that only feed the label slot of a loss head (dropped, as MXNet does)."""
    uses = {}
    for n in nodes:
        for slot, (src, _, _) in enumerate(n["inputs"]):
            uses.setdefault(src, []).append((n["op"], slot))
    labels = set()
    for i, n in enumerate(nodes):
        if n["op"] != "null" or n["name"] in params:
            continue
        u = uses.get(i, [])
        if u and all(op in LOSS_OPS and slot >= 1 for op, slot in u):
            labels.add(i)
    return labels


def _shape_of(sym, name):
    """A variable's declared ``__shape__``, or None."""
    s = sym.attr_dict().get(name, {}).get("__shape__")
    v = _literal(s) if s else None
    return tuple(v) if isinstance(v, (tuple, list)) and v and 0 not in v else None


def export_model(sym, params, in_shapes=None, in_types=np.float32, onnx_file_path="model.onnx",
                 verbose=False, dynamic=False, dynamic_input_shapes=None,
                 run_shape_inference=False, input_type=None, input_shape=None):
    """Exports a symbol and its parameters to an ONNX file (opset 13); returns the file path.

    ``sym``/``params`` are a ``-symbol.json`` and a ``.params`` path, or a Symbol and a dict
    (keys with or without ``arg:``/``aux:``) or ``[arg_params, aux_params]``. ``in_shapes`` lists
    the data inputs' shapes in the order the symbol lists them (parameters and loss labels
    excluded), or, paired as MXNet pairs them, of every variable but ``<last node>_label`` (a
    label then stays a graph input; shapes beyond them are ignored); ``in_types`` is one dtype
    or one per input. ``dynamic=True`` leaves the inputs'
    and outputs' dimensions symbolic (``dynamic_input_shapes`` may give them, ``None`` for a
    free dimension); the graph itself is still converted with the shapes of ``in_shapes``.
    ``input_type``/``input_shape`` are the old names of ``in_types``/``in_shapes``.
    """
    onnx = require_onnx()
    if input_type is not None:
        in_types = input_type
    if input_shape is not None:
        in_shapes = input_shape
    sym = _load_symbol(sym)
    params = _load_params(params)

    graph_json = json.loads(sym.tojson())
    nodes = graph_json["nodes"]
    labels = _label_nodes(nodes, params)
    input_ids = [i for i, n in enumerate(nodes) if n["op"] == "null" and n["name"] not in params
                 and i not in labels]
    input_names = [nodes[i]["name"] for i in input_ids]

    if in_shapes is None:
        in_shapes = [_shape_of(sym, n) for n in input_names]
        if any(s is None for s in in_shapes):
            raise ValueError("export_model: in_shapes is required for the inputs %s" % input_names)
    if isinstance(in_shapes, tuple) and in_shapes and isinstance(in_shapes[0], int):
        in_shapes = [in_shapes]
    in_shapes = [tuple(int(d) for d in s) for s in in_shapes]
    nulls = [i for i, n in enumerate(nodes) if n["op"] == "null" and n["name"] not in params]
    # MXNet's pairing: every variable but '<last node>_label', in order, extra shapes ignored.
    # A loss label with a shape then stays a (data-free) graph input, as in MXNet's export.
    mx_ids = [i for i in nulls if nodes[i]["name"] != nodes[-1]["name"] + "_label"]
    if len(input_ids) < len(in_shapes) and len(mx_ids) <= len(in_shapes):
        labels -= set(mx_ids)
        input_ids = mx_ids
        input_names = [nodes[i]["name"] for i in input_ids]
        in_shapes = in_shapes[:len(input_ids)]
        if isinstance(in_types, (list, tuple)):
            in_types = in_types[:len(input_ids)]
    if len(in_shapes) != len(input_names):
        raise ValueError("export_model: %d input shapes given for the %d inputs %s (every other "
                         "variable must be in params)" % (len(in_shapes), len(input_names),
                                                          input_names))
    if not isinstance(in_types, (list, tuple)):
        in_types = [in_types] * len(in_shapes)
    in_types = [np.dtype(t) for t in in_types]
    if len(in_types) != len(in_shapes):
        raise ValueError("export_model: the lengths of in_types and in_shapes must be equal")
    if dynamic_input_shapes is not None:
        if not dynamic:
            raise ValueError("export_model: dynamic_input_shapes is given: set dynamic=True")
        if len(dynamic_input_shapes) != len(in_shapes):
            raise ValueError("export_model: %d dynamic_input_shapes for the %d inputs %s"
                             % (len(dynamic_input_shapes), len(in_shapes), input_names))
        for name, d, s in zip(input_names, dynamic_input_shapes, in_shapes):
            if len(d) != len(s):
                raise ValueError("export_model: dynamic_input_shapes %s of input '%s' and its "
                                 "in_shapes %s differ in rank" % (tuple(d), name, s))

    # Shapes and dtypes of every node output, from the symbol's own inference.
    internals = sym.get_internals()
    known = set(internals.list_inputs())
    shapes = {n: s for n, s in zip(input_names, in_shapes)}
    shapes.update({k: v.shape for k, v in params.items() if k in known})
    types = {n: t for n, t in zip(input_names, in_types)}
    types.update({k: v.dtype for k, v in params.items() if k in known})
    for i in labels:  # a label's shape is irrelevant; give inference what it needs
        shapes.pop(nodes[i]["name"], None)
    _, out_shapes, _ = internals.infer_shape_partial(**shapes)
    try:
        _, out_types, _ = internals.infer_type(**types)
    except MXNetError as e:  # an ONNX node binds one type to all its operands
        raise MXNetError("export_model: in_types %s do not fit the parameters' dtypes: %s"
                         % ([t.name for t in in_types], e)) from None
    if out_types is None:
        out_types = [in_types[0] if in_types else np.float32] * len(out_shapes)

    cache = {}
    entry = {}  # (node id, output index) -> (shape, dtype)
    counts = []
    pos = 0
    for i, n in enumerate(nodes):
        count = 1 if n["op"] == "null" else _visible_outputs(n, cache)
        counts.append(count)
        for k in range(count):
            shape = tuple(out_shapes[pos + k])
            if (not shape or 0 in shape) and i not in labels:
                raise ValueError("export_model: the shape of %s (node '%s') does not follow from "
                                 "in_shapes %s and the params" % (
                                     internals.list_outputs()[pos + k], n["name"], in_shapes))
            entry[(i, k)] = (shape, np.dtype(out_types[pos + k]))
        pos += count

    g = ExportGraph(onnx)
    g.dynamic = bool(dynamic)
    tensor = {}  # (node id, output index) -> ONNX tensor name
    seen = set()
    graph_inputs = []
    for i, n in enumerate(nodes):
        name = n["name"]
        if name in seen:
            name = "idx_%d_%s" % (i, name)
        seen.add(name)
        if n["op"] == "null":
            tensor[(i, 0)] = name
            g.reserve(name)
            continue
        count = counts[i]
        outs = [name] if count == 1 else [name + str(k) for k in range(count)]
        for k, o in enumerate(outs):
            g.reserve(o)
            tensor[(i, k)] = o
    for i, n in enumerate(nodes):
        if n["op"] == "null":
            continue
        conv = CONVERTERS.get(n["op"])
        if conv is None:
            raise MXNetError("ONNX export: no converter for operator '%s' (node '%s'); "
                             "mx.onnx.get_operator_support() lists the supported operators"
                             % (n["op"], n["name"]))
        ins = [tensor[(src, k)] for src, k, _ in n["inputs"]]
        count = counts[i]
        node = ExportNode(
            n["op"], n["name"], n.get("attrs", {}), ins,
            [entry[(src, k)][0] for src, k, _ in n["inputs"]],
            [entry[(src, k)][1] for src, k, _ in n["inputs"]],
            [tensor[(i, k)] for k in range(count)],
            [entry[(i, k)][0] for k in range(count)],
            [entry[(i, k)][1] for k in range(count)])
        if verbose:
            _log.info("Converting %s node '%s'", n["op"], n["name"])
        conv(g, node)

    used = {x for nd_ in g.nodes for x in nd_.input}
    heads = [tuple(h[:2]) for h in graph_json["heads"]]
    # Every data input is a graph input, as in MXNet's export, also one whose shape alone the
    # graph uses (slice_like's, arange_like's): callers feed the inputs they exported with.
    for i in input_ids:
        name = tensor[(i, 0)]
        k = input_ids.index(i)
        dims = in_shapes[k]
        if dynamic:
            dims = dynamic_input_shapes[k] if dynamic_input_shapes else [None] * len(dims)
        graph_inputs.append(g.helper.make_tensor_value_info(
            name, g.helper.np_dtype_to_tensor_dtype(in_types[k]), list(dims)))
    param_tensors = {tensor[(i, 0)]: nodes[i]["name"] for i, n in enumerate(nodes)
                     if n["op"] == "null" and n["name"] in params}
    for tname, pname in param_tensors.items():
        if tname in used:
            g.initializer(tname, params[pname])

    graph_outputs = []
    for src, k in heads:
        name = tensor[(src, k)]
        shape, dtype = entry[(src, k)]
        dims = [None] * len(shape) if dynamic else list(shape)
        graph_outputs.append(g.helper.make_tensor_value_info(
            name, g.helper.np_dtype_to_tensor_dtype(dtype), dims))

    graph = g.helper.make_graph(g.nodes, "mxnet_converted_model", graph_inputs, graph_outputs,
                                initializer=g.initializers)
    model = g.helper.make_model(graph, producer_name="oxnet",
                                opset_imports=[g.helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    if run_shape_inference:
        try:
            model = onnx.shape_inference.infer_shapes(model)
        except Exception as e:  # noqa: BLE001  (as MXNet: keep the export without value_info)
            _log.info("ONNX shape inference failed (%s); the export is kept without it", e)
    with open(onnx_file_path, "wb") as f:
        f.write(model.SerializeToString())
    _log.info("Exported ONNX file %s (input shapes %s)", onnx_file_path, in_shapes)
    return onnx_file_path


def get_operator_support(opset_version=None):
    """The sorted MXNet operator names the exporter converts (``opset_version`` is accepted
    for MXNet's signature; every graph is written at opset 13)."""
    return sorted(CONVERTERS)
