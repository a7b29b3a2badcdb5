"""ONNX graph -> MXNet symbol and parameters (``mx.contrib.onnx.import_model``).

Initializers and ``Constant`` outputs become parameters; an input that an MXNet operator takes as
an attribute (a Reshape's shape, a Clip's bounds...) is read from them instead. Each ONNX op has
one converter in ``IMPORTERS`` (``import_ops``) returning the symbol(s) for the node's outputs.
"""
import numpy as np

from ...base import MXNetError
from ...onnx.export import require_onnx

#: ONNX op type -> converter ``fn(importer, node) -> Symbol or list of Symbols``.
IMPORTERS = {}

# Samplers are never folded into constants, even where their inputs are constants.
_SAMPLERS = ("RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli")


def register(*op_types):
    """Decorator: registers a converter for the ONNX operators ``op_types``."""
    def deco(fn):
        for op in op_types:
            IMPORTERS[op] = fn
        return fn
    return deco


class ImportNode:
    """One ONNX node as its converter sees it: op type, name, inputs, outputs, attributes."""

    def __init__(self, onnx, proto):
        self.op = proto.op_type
        self.inputs = list(proto.input)
        self.outputs = list(proto.output)
        self.name = proto.name.strip() or self.outputs[0]
        self.attrs = {a.name: onnx.helper.get_attribute_value(a) for a in proto.attribute}

    def attr(self, key, default=None):
        v = self.attrs.get(key, default)
        return v.decode() if isinstance(v, bytes) else v

    def input(self, i):
        """The i-th input's name, or None where it is absent or empty (optional inputs)."""
        return self.inputs[i] if i < len(self.inputs) and self.inputs[i] else None

    def fail(self, why):
        return MXNetError("ONNX import: %s node '%s': %s" % (self.op, self.name, why))


class Importer:
    """Converts one ONNX graph; converters call ``sym``/``const``/``shape`` on it."""

    def __init__(self, onnx, model):
        from ... import symbol
        self.onnx = onnx
        self.symbol = symbol
        self.opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                         default=13)
        self.params = {}
        self.syms = {}
        self.shapes = {}
        self.shape_of = {}  # output of a Shape node -> the tensor whose shape it is
        graph = model.graph
        for t in graph.initializer:
            if not t.name.strip():
                raise ValueError("ONNX import: an initializer has no name")
            self.params[t.name] = onnx.numpy_helper.to_array(t)
        try:
            inferred = onnx.shape_inference.infer_shapes(model, data_prop=True).graph
        except Exception:  # noqa: BLE001  (ranks are then known for inputs and params only)
            inferred = graph
        for v in list(inferred.value_info) + list(inferred.input) + list(inferred.output):
            tt = v.type.tensor_type
            if tt.HasField("shape"):
                self.shapes[v.name] = tuple(d.dim_value if d.HasField("dim_value") else None
                                            for d in tt.shape.dim)
        for name, arr in self.params.items():
            self.shapes[name] = arr.shape
        for i in graph.input:
            if i.name not in self.params:
                self.syms[i.name] = symbol.var(i.name)

    # ----------------------------------------------------------------- converter helpers
    def sym(self, name):
        """The symbol of tensor ``name``; a parameter becomes a variable on first use."""
        if name not in self.syms:
            if name in self.shape_of:  # computed at run time (int64, as ONNX's Shape)
                self.syms[name] = self.symbol.shape_array(self.sym(self.shape_of[name]),
                                                          name=name)
                return self.syms[name]
            if name not in self.params:
                raise MXNetError("ONNX import: tensor '%s' is used before it is produced" % name)
            arr = self.params[name]
            dtype = None if arr.dtype == np.float32 else arr.dtype
            self.syms[name] = self.symbol.var(name, shape=arr.shape, dtype=dtype)
        return self.syms[name]

    def is_const(self, name):
        return name in self.params

    def const(self, node, i, default=None):
        """The value of a constant input (an initializer or a Constant's output) as numpy."""
        name = node.input(i)
        if name is None:
            return default
        if name not in self.params:
            raise node.fail("input %d ('%s') must be a constant" % (i, name))
        return self.params[name]

    def shape(self, name):
        """The inferred shape of a tensor (entries None where unknown), or None. Where ONNX
        shape inference could not tell (it gives up on a whole graph for one op it cannot
        type), the symbol built so far is asked."""
        s = self.shapes.get(name)
        if (s is None or None in s) and name in self.syms:
            sym = self.syms[name]
            known = {n: self.shapes[n] for n in sym.list_arguments()
                     if self.shapes.get(n) is not None and None not in self.shapes[n]}
            try:
                _, out, _ = sym.infer_shape_partial(**known)
            except MXNetError:
                out = None
            if out and out[0] and 0 not in out[0]:
                s = self.shapes[name] = tuple(out[0])
        return s

    def rank(self, node, name):
        s = self.shape(name)
        if s is None:
            raise node.fail("the rank of '%s' is unknown (ONNX shape inference failed)" % name)
        return len(s)

    def set_param(self, name, array):
        self.params[name] = array
        self.shapes[name] = array.shape

    # ----------------------------------------------------------------- driver
    def _fold(self, proto, node):
        """Evaluates a node whose inputs are all constants (the shape arithmetic of exporters
        that compute a Reshape's target from Shape); True when its outputs became constants."""
        ins = [i for i in node.inputs if i]
        if node.op in ("Constant", "Shape") + _SAMPLERS or not ins or \
                not all(i in self.params for i in ins) or node.outputs[0] in self.syms:
            return False
        if not all(self.params[i].size <= 64 for i in ins):  # weights stay parameters
            return False
        from onnx.reference import ReferenceEvaluator
        h = self.onnx.helper
        feeds = {i: self.params[i] for i in dict.fromkeys(ins)}
        graph = h.make_graph(
            [proto], "fold",
            [h.make_tensor_value_info(i, h.np_dtype_to_tensor_dtype(v.dtype), v.shape)
             for i, v in feeds.items()],
            [h.make_empty_tensor_value_info(o) for o in node.outputs if o])
        model = h.make_model(graph, opset_imports=[h.make_opsetid("", self.opset)])
        try:
            outs = ReferenceEvaluator(model).run(None, feeds)
        except Exception:  # noqa: BLE001  (left to the converter)
            return False
        for name, value in zip(node.outputs, outs):
            if name:
                self.set_param(name, np.asarray(value))
        return True

    def convert(self, graph):
        # ONNX node names need not be unique nor differ from tensor names; MXNet's must.
        taken = set(self.params) | {i.name for i in graph.input}
        for proto in graph.node:
            node = ImportNode(self.onnx, proto)
            base, k = node.name, 0
            while node.name in taken:
                k += 1
                node.name = "%s_%d" % (base, k)
            taken.add(node.name)
            if self._fold(proto, node):
                continue
            fn = IMPORTERS.get(node.op)
            if fn is None or proto.domain not in ("", "ai.onnx"):
                raise MXNetError("ONNX import: no converter for operator '%s' (node '%s')"
                                 % (node.op, node.name))
            out = fn(self, node)
            if out is None:  # constants and shapes, held for the consumers
                continue
            if isinstance(out, (list, tuple)):
                outs = list(out)
            elif len(node.outputs) > 1:
                outs = [out[i] for i in range(len(out))]
            else:
                outs = [out]
            for name, s in zip(node.outputs, outs):
                if name:
                    self.syms[name] = s
        heads = []
        for o in graph.output:
            if o.name not in self.syms and o.name not in self.params:
                raise MXNetError("ONNX import: graph output '%s' is not produced" % o.name)
            heads.append(self.sym(o.name))
        sym = heads[0] if len(heads) == 1 else self.symbol.Group(heads)
        from ... import ndarray as nd
        arg = {n: nd.array(self.params[n], dtype=self.params[n].dtype)
               for n in sym.list_arguments() if n in self.params}
        aux = {n: nd.array(self.params[n], dtype=self.params[n].dtype)
               for n in sym.list_auxiliary_states() if n in self.params}
        return sym, arg, aux


def _load(model_file):
    onnx = require_onnx()
    # The converter modules fill IMPORTERS.
    from . import import_ops, import_tensor, import_math, import_generate  # noqa: F401
    return onnx, onnx.load_model(model_file)


def import_model(model_file):
    """(sym, arg_params, aux_params) of an ONNX model file, as MXNet 1.9.1's
    ``mx.contrib.onnx.import_model``."""
    onnx, model = _load(model_file)
    return Importer(onnx, model).convert(model.graph)


def get_model_metadata(model_file):
    """``{'input_tensor_data': [(name, shape, elem_type)...], 'output_tensor_data':
    [(name, shape)...]}`` of an ONNX model's data inputs (initializers excluded) and outputs."""
    _, model = _load(model_file)
    graph = model.graph
    params = {t.name for t in graph.initializer}

    def dims(v):
        return tuple(d.dim_value for d in v.type.tensor_type.shape.dim)
    inputs = [(i.name, dims(i), i.type.tensor_type.elem_type) for i in graph.input
              if i.name not in params]
    outputs = [(o.name, dims(o)) for o in graph.output]
    return {"input_tensor_data": inputs, "output_tensor_data": outputs}
