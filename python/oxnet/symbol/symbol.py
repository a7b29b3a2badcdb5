"""``mx.sym.Symbol``: symbolic graphs. The graph, names, JSON and inference live in Rust
(``_native.Symbol``, held as ``Symbol.handle``); this module adds MXNet's Python API."""
import logging
import os
import warnings

import numpy as _np

from .. import _native
from ..attribute import AttrScope
from ..base import MXNetError, NotImplementedForSymbol, numeric_types, string_types, _Null
from ..base import _np_dtype_name
from ..name import NameManager

__all__ = ["Symbol", "var", "Variable", "Group", "load", "load_json", "zeros", "ones", "full",
           "arange", "linspace", "pow", "power", "maximum", "minimum", "hypot"]

_log = logging.getLogger("oxnet.symbol")

# MXNet's type flags (mshadow TypeFlag), as stored in `__dtype__`.
_DTYPE_FLAGS = {"float32": 0, "float64": 1, "float16": 2, "uint8": 3, "int32": 4, "int8": 5,
                "int64": 6, "bool": 7, "bfloat16": 12}

_HIDDEN_KEYS = ("ctx_group", "lr_mult", "wd_mult", "force_mirroring", "mirror_stage")


def _hidden(key):
    return "__%s__" % key if key in _HIDDEN_KEYS else key


def _create(op, name, attrs, args=(), kwargs=None):
    """Creates registry op ``op`` named ``name`` with inputs; returns a Symbol."""
    return Symbol(_native.Symbol._create(op, name, attrs, [a.handle for a in args],
                                         [(k, v.handle) for k, v in (kwargs or {}).items()]))


def _op_sym(op, hint, args=(), attrs=None, name=None, attr=None):
    """An op symbol named by the current NameManager with ``hint`` (arithmetic dunders)."""
    kw = AttrScope.current.get(attr)
    if attrs:
        kw.update(attrs)
    name = NameManager.current.get(name, hint)
    return _create(op, name, kw, args)


# The `_internal` functions MXNet's Symbol operators call, by the op oxnet builds. `amp.init()`
# wraps those functions in MXNet; here it fills AMP_WIDEST with the names whose two Symbol
# inputs get an `amp_multicast` first.
_OPERATOR_FUNCTIONS = {"elemwise_add": "_Plus", "elemwise_sub": "_Minus", "elemwise_mul": "_Mul",
                       "elemwise_div": "_Div", "_mod": "_Mod", "_power": "_Power"}
AMP_WIDEST = set()


def _binary_sym(op, hint, lhs, rhs):
    if _OPERATOR_FUNCTIONS.get(op, op) in AMP_WIDEST:
        cast = _op_sym("amp_multicast", "amp_multicast", (lhs, rhs), {"num_outputs": 2})
        lhs, rhs = cast[0], cast[1]
    return _op_sym(op, hint, (lhs, rhs))


def _ndarray_only(name):
    """A Symbol method that MXNet defines only to say it is NDArray's."""
    def method(self, *_args, **_kwargs):
        raise NotImplementedForSymbol(method)
    method.__name__ = name
    return method


class Symbol:
    """Symbolic graph: one or more outputs of a DAG of operators and variables."""

    __slots__ = ["handle", "__weakref__"]
    # numpy should defer to Symbol in mixed arithmetic.
    __array_priority__ = 1000.0

    def __init__(self, handle):
        self.handle = handle

    # ------------------------------------------------------------------ arithmetic
    def _binary(self, other, op, hint, scalar_op, scalar_hint):
        if isinstance(other, Symbol):
            return _binary_sym(op, hint, self, other)
        if isinstance(other, numeric_types):
            return _op_sym(scalar_op, scalar_hint, (self,), {"scalar": other})
        raise TypeError("type %s not supported" % str(type(other)))

    def _rscalar(self, other, scalar_op, scalar_hint):
        if isinstance(other, numeric_types):
            return _op_sym(scalar_op, scalar_hint, (self,), {"scalar": other})
        raise TypeError("type %s not supported" % str(type(other)))

    def __add__(self, other):
        return self._binary(other, "elemwise_add", "_plus", "_plus_scalar", "_plusscalar")

    def __radd__(self, other):
        return self._rscalar(other, "_plus_scalar", "_plusscalar")

    def __iadd__(self, other):  # a graph node has no value to change in place
        raise NotImplementedForSymbol(self.__iadd__, "+=", other)

    def __sub__(self, other):
        return self._binary(other, "elemwise_sub", "_minus", "_minus_scalar", "_minusscalar")

    def __rsub__(self, other):
        return self._rscalar(other, "_rminus_scalar", "_rminusscalar")

    def __isub__(self, other):  # a graph node has no value to change in place
        raise NotImplementedForSymbol(self.__isub__, "-=", other)

    def __mul__(self, other):
        return self._binary(other, "elemwise_mul", "_mul", "_mul_scalar", "_mulscalar")

    def __rmul__(self, other):
        return self._rscalar(other, "_mul_scalar", "_mulscalar")

    def __imul__(self, other):  # a graph node has no value to change in place
        raise NotImplementedForSymbol(self.__imul__, "*=", other)

    def __truediv__(self, other):
        return self._binary(other, "elemwise_div", "_div", "_div_scalar", "_divscalar")

    def __rtruediv__(self, other):
        return self._rscalar(other, "_rdiv_scalar", "_rdivscalar")

    def __itruediv__(self, other):  # a graph node has no value to change in place
        raise NotImplementedForSymbol(self.__itruediv__, "/=", other)

    __div__ = __truediv__
    __rdiv__ = __rtruediv__
    __idiv__ = __itruediv__

    def __mod__(self, other):
        return self._binary(other, "_mod", "_mod", "_mod_scalar", "_modscalar")

    def __rmod__(self, other):
        return self._rscalar(other, "_rmod_scalar", "_rmodscalar")

    def __pow__(self, other):
        return self._binary(other, "_power", "_power", "_power_scalar", "_powerscalar")

    def __rpow__(self, other):
        return self._rscalar(other, "_rpower_scalar", "_rpower_scalar")

    def __neg__(self):
        return self.__mul__(-1.0)

    def __abs__(self):
        return _op_sym("abs", "abs", (self,))

    def _compare(self, other, op):
        if isinstance(other, Symbol):
            return _binary_sym(op, op, self, other)
        if isinstance(other, numeric_types):
            return _op_sym(op + "_scalar", op + "_scalar", (self,), {"scalar": other})
        raise TypeError("type %s not supported" % str(type(other)))

    def __eq__(self, other):
        return self._compare(other, "_equal")

    def __ne__(self, other):
        return self._compare(other, "_not_equal")

    def __gt__(self, other):
        return self._compare(other, "_greater")

    def __ge__(self, other):
        return self._compare(other, "_greater_equal")

    def __lt__(self, other):
        return self._compare(other, "_lesser")

    def __le__(self, other):
        return self._compare(other, "_lesser_equal")

    # Symbols stay usable as dict keys and in sets (identity), although == builds a graph.
    __hash__ = object.__hash__

    def __bool__(self):
        raise NotImplementedForSymbol("bool()")

    __nonzero__ = __bool__

    asnumpy, asscalar, wait_to_read, copy, as_in_context, detach, backward = map(
        _ndarray_only,
        ("asnumpy", "asscalar", "wait_to_read", "copy", "as_in_context", "detach", "backward"))

    # ------------------------------------------------------------------ copy / pickle
    def __copy__(self):
        return Symbol(self.handle._copy())

    def __deepcopy__(self, _memo):
        return Symbol(self.handle._copy())

    def __getstate__(self):
        return {"handle": self.tojson() if self.handle is not None else None}

    def __setstate__(self, state):
        h = state["handle"]
        self.handle = None if h is None else load_json(h).handle

    def __reduce__(self):
        return (_from_json, (self.tojson(),))

    # ------------------------------------------------------------------ composition
    def __call__(self, *args, **kwargs):
        """A copy with variables replaced by keyword (``net(data=other, name='x')``)."""
        s = self.__copy__()
        s._compose(*args, **kwargs)
        return s

    def _compose(self, *args, **kwargs):
        """Composes in place: each keyword names a variable of this graph to replace."""
        name = kwargs.pop("name", None)
        if name is not None and not isinstance(name, string_types):
            raise TypeError("name must be a string")
        if args and kwargs:
            raise TypeError("compose only accept input Symbols either as positional or keyword "
                            "arguments, not both")
        for v in args:
            if not isinstance(v, Symbol):
                raise TypeError("Compose expect `Symbol` as arguments, got %s" % type(v))
        if args:
            raise MXNetError("Check failed: args.size() == 0U (%d vs. 0) : General composition "
                             "only support kwargs for now" % len(args))
        for k, v in kwargs.items():
            if not isinstance(v, Symbol):
                raise TypeError("Compose expect `Symbol` as arguments, got %s for %s" % (type(v), k))
        new = self.handle._compose_copy([(k, v.handle) for k, v in kwargs.items()], name)
        self.handle._assign(new)

    # ------------------------------------------------------------------ outputs
    def __len__(self):
        return len(self.handle)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __getitem__(self, index):
        if isinstance(index, string_types):
            idx = None
            for i, name in enumerate(self.list_outputs()):
                if name == index:
                    if idx is not None:
                        raise ValueError('There are multiple outputs with name "%s"' % index)
                    idx = i
            if idx is None:
                raise ValueError('Cannot find output that matches name "%s"' % index)
            index = idx
        if isinstance(index, slice):
            return Group([self[i] for i in range(len(self))[index]])
        if not isinstance(index, (int, _np.integer)):
            raise TypeError("Symbol only support integer index to fetch i-th output")
        n = len(self)
        if index < 0:
            index += n
        if index < 0 or index >= n:
            raise IndexError("Symbol index %d is out of range for %d outputs" % (index, n))
        return Symbol(self.handle._output(int(index)))

    def __repr__(self):
        name = self.name
        if name is None:
            name = ", ".join([i.name for i in self])
            return "<%s group [%s]>" % (self.__class__.__name__, name)
        return "<%s %s>" % (self.__class__.__name__, name)

    @property
    def name(self):
        """The head node's name; None for a group of several nodes."""
        return self.handle.name

    # ------------------------------------------------------------------ attributes
    def attr(self, key):
        """The attribute ``key`` of this symbol's node (``lr_mult`` reads ``__lr_mult__``)."""
        return self.handle._attr(key)

    def list_attr(self, recursive=False):
        """The attributes of this symbol's node as a dict."""
        if recursive:
            raise DeprecationWarning("Symbol.list_attr with recursive=True has been deprecated. "
                                     "Please use attr_dict instead.")
        return dict(self.handle._list_attr())

    def attr_dict(self):
        """``{node name: {key: value}}`` for every node of the graph that has attributes."""
        return {name: dict(kv) for name, kv in self.handle._attr_dict()}

    def _set_attr(self, **kwargs):
        """Sets attributes of this symbol's node (string values only)."""
        for value in kwargs.values():
            if not isinstance(value, string_types):
                raise ValueError("Set Attr only accepts string values")
        self.handle._set_attrs(list(kwargs.items()))

    # ------------------------------------------------------------------ structure
    def get_internals(self):
        """A group of every variable and every op output of the graph."""
        return Symbol(self.handle.get_internals())

    def get_children(self):
        """The inputs of this symbol's node(s) as a group; None for a variable."""
        h = self.handle.get_children()
        return None if h is None else Symbol(h)

    def list_arguments(self):
        return self.handle.list_arguments()

    def list_outputs(self):
        return self.handle.list_outputs()

    def list_auxiliary_states(self):
        return self.handle.list_auxiliary_states()

    def list_inputs(self):
        return self.handle.list_inputs()

    # ------------------------------------------------------------------ inference
    def _shape_args(self, args, kwargs):
        if args and kwargs:
            raise ValueError("Can only specify known argument shapes either by positional or kwargs way.")
        given = []
        if args:
            names = self.list_arguments()
            if len(args) > len(names):
                raise ValueError("infer_shape: %d positional shapes given, the symbol has %d "
                                 "arguments %s" % (len(args), len(names), names))
            items = [(n, s) for n, s in zip(names, args) if s is not None]
        else:
            items = [(k, v) for k, v in kwargs.items() if v is not None]
        for k, s in items:
            if not isinstance(s, tuple):
                raise TypeError("Arguments need to be shapes (tuple), but '%s' is %s." % (k, type(s)))
            dims = []
            for d in s:
                if not isinstance(d, (int, _np.integer)) or d < 0:
                    raise TypeError("Arguments need to be shapes (tuples of non-negative ints), "
                                    "but '%s' is %s." % (k, str(s)))
                dims.append(int(d))
            given.append((k, dims))
        return given

    def _infer_shape_impl(self, partial, *args, **kwargs):
        given = self._shape_args(args, kwargs)
        if partial:
            arg, out, aux = self.handle._infer_shape_partial(given)
        else:
            # every shape known; an op's empty (0-sized) output counts as known, as in MXNet
            res = self.handle._infer_shape(given)
            if res is None:
                return (None, None, None)
            arg, out, aux = res
        conv = lambda v: [() if s is None else s for s in v]  # noqa: E731
        return (conv(arg), conv(out), conv(aux))

    def infer_shape(self, *args, **kwargs):
        """Infers argument, output and aux shapes from the given argument shapes.

        Returns ``(arg_shapes, out_shapes, aux_shapes)``, or ``(None, None, None)`` with a
        warning listing the undecided arguments when the given shapes are not enough.
        """
        try:
            res = self._infer_shape_impl(False, *args, **kwargs)
            if res[1] is None:
                arg_shapes, _, _ = self._infer_shape_impl(True, *args, **kwargs)
                unknowns = []
                for name, shape in zip(self.list_arguments(), arg_shapes):
                    if not shape or 0 in shape:
                        if len(unknowns) >= 10:
                            unknowns.append("...")
                            break
                        unknowns.append("%s: %s" % (name, str(shape)))
                warnings.warn(
                    "Cannot decide shape for the following arguments "
                    "(0s in shape means unknown dimensions). "
                    "Consider providing them as input:\n\t" + "\n\t".join(unknowns), stacklevel=2)
            return res
        except MXNetError:
            print("infer_shape error. Arguments:")
            for i, arg in enumerate(args):
                print("  #%d: %s" % (i, arg))
            for k, v in kwargs.items():
                print("  %s: %s" % (k, v))
            raise

    def infer_shape_partial(self, *args, **kwargs):
        """Like ``infer_shape`` but returns what is known: ``()`` for unknown shapes and 0
        for unknown dimensions."""
        return self._infer_shape_impl(True, *args, **kwargs)

    def _type_args(self, args, kwargs):
        if args and kwargs:
            raise ValueError("Can only specify known argument types either by positional or kwargs way.")
        if args:
            names = self.list_arguments()
            if len(args) > len(names):
                raise ValueError("infer_type: %d positional types given, the symbol has %d "
                                 "arguments %s" % (len(args), len(names), names))
            return [(n, t) for n, t in zip(names, args) if t is not None]
        return [(k, v) for k, v in kwargs.items() if v is not None]

    def _infer_type_impl(self, partial, *args, **kwargs):
        given = self._type_args(args, kwargs)
        arg, out, aux = self.handle._infer_type_partial(given)
        if not partial and not all(t is not None for t in arg + out + aux):
            return (None, None, None)
        return (arg, out, aux)

    def infer_type(self, *args, **kwargs):
        """Infers argument, output and aux dtypes (numpy type classes) from given ones."""
        try:
            res = self._infer_type_impl(False, *args, **kwargs)
            if res[1] is None:
                arg_types, _, _ = self._infer_type_impl(True, *args, **kwargs)
                unknowns = []
                for name, dtype in zip(self.list_arguments(), arg_types):
                    if not dtype:
                        if len(unknowns) >= 10:
                            unknowns.append("...")
                            break
                        unknowns.append("%s: %s" % (name, str(dtype)))
                warnings.warn(
                    "Cannot decide type for the following arguments. "
                    "Consider providing them as input:\n\t" + "\n\t".join(unknowns), stacklevel=2)
            return res
        except MXNetError:
            print("infer_type error. Arguments:")
            for i, arg in enumerate(args):
                print("  #%d: %s" % (i, arg))
            for k, v in kwargs.items():
                print("  %s: %s" % (k, v))
            raise

    def infer_type_partial(self, *args, **kwargs):
        """Like ``infer_type`` but returns None for undecided types."""
        return self._infer_type_impl(True, *args, **kwargs)

    # ------------------------------------------------------------------ serialization
    def as_nd_ndarray(self):
        """This symbol (it is already a classic one; MXNet converts NumPy-mode symbols)."""
        return self

    def as_np_ndarray(self):
        raise NotImplementedError("as_np_ndarray: oxnet has no mx.np (MXNet's NumPy-compatible "
                                  "interface)")

    def tojson(self, remove_amp_cast=True):
        """The graph as MXNet 1.9.1 JSON text (byte-identical to MXNet's). As MXNet's, it
        leaves out the ``amp_cast``/``amp_multicast`` nodes that feed other nodes unless
        ``remove_amp_cast`` is False (casts that are outputs stay)."""
        text = self.handle.tojson()
        if remove_amp_cast and ('"amp_cast"' in text or '"amp_multicast"' in text):
            text = _without_amp_casts(text)
        return text

    def save(self, fname, remove_amp_cast=True):
        """Writes ``tojson(remove_amp_cast)`` to ``fname`` (atomically: a crash leaves the old
        file whole)."""
        if not isinstance(fname, string_types):
            raise TypeError("fname need to be string")
        from ..ndarray.utils import write_bytes
        write_bytes(fname, self.tojson(remove_amp_cast).encode("utf-8"))

    def get_backend_symbol(self, backend):
        """The graph after the subgraph passes of MXNet 1.9.1's CPU backend ``backend``:
        'MKLDNN' fuses Convolution(+BatchNorm)(+sum)(+activation) into ``_sg_mkldnn_conv``
        and FullyConnected(+eltwise) into ``_sg_mkldnn_fully_connected``; 'MKLDNN_QUANTIZE'
        does the same for INT8 and folds calibrated requantize/dequantize nodes into the
        quantized fused ops before them."""
        from ..contrib.quantization.mkldnn import backend_graph_json
        import json
        return load_json(json.dumps(backend_graph_json(self.tojson(), backend)))

    def optimize_for(self, backend, args=None, aux=None, ctx=None, shape_dict=None,
                     type_dict=None, stype_dict=None, skip_infer=False, **kwargs):
        """The graph partitioned for `backend`: for MXNet 1.9.1's oneDNN backends ('MKLDNN',
        'MKLDNN_QUANTIZE') the same graph as ``get_backend_symbol`` (MXNet's is identical,
        with or without `args`/`aux`, which these backends leave unchanged). Another backend
        (TensorRT, a library's) leaves the graph as it is, with a warning, as MXNet does for a
        backend it does not have."""
        from ..contrib.quantization.mkldnn import BACKENDS
        if backend not in BACKENDS:
            import warnings
            warnings.warn("optimize_for: subgraph backend %r cannot be found (oxnet implements "
                          "%s); the graph is left unpartitioned" % (backend, ", ".join(BACKENDS)),
                          stacklevel=2)
            return load_json(self.tojson())
        return self.get_backend_symbol(backend)

    def gradient(self, wrt):
        """Not implemented in MXNet 1.9.1 either (its MXSymbolGrad fails): gradients come
        from ``bind``/``simple_bind`` and ``Executor.backward``, or from ``mx.autograd``."""
        raise NotImplementedError("Symbol.gradient(%r) is not implemented (as in MXNet 1.x); "
                                  "bind the symbol and call Executor.backward, or use "
                                  "mx.autograd" % (list(wrt),))

    def debug_str(self):
        """The graph's nodes as MXNet's ``Symbol::Print`` lists them (depth-first order; a
        variable input shows its version: how many ops up to that one mutate it, e.g. the
        auxiliary states a BatchNorm updates)."""
        import json
        g = json.loads(self.tojson(remove_amp_cast=False))  # the graph as it is, casts too
        nodes = g["nodes"]
        heads = g["heads"]
        if len(heads) == 1 and not nodes[heads[0][0]]["inputs"]:
            n = nodes[heads[0][0]]
            if n["op"] == "null":
                return "Variable:%s\n" % n["name"]
            return "AtomicFunctor  Op:%s\n" % n["op"]
        aux = set(self.list_auxiliary_states())
        versions = {}
        lines = ["Symbol Outputs:"]
        lines += ["\toutput[%d]=%s(%d)" % (i, nodes[h[0]]["name"], h[1])
                  for i, h in enumerate(heads)]
        for n in nodes:
            if n["op"] == "null":
                lines.append("Variable:%s" % n["name"])
                continue
            lines += ["-" * 20, "Op:%s, Name=%s" % (n["op"], n["name"]), "Inputs:"]
            for i, e in enumerate(n["inputs"]):
                src = nodes[e[0]]
                line = "\targ[%d]=%s(%d)" % (i, src["name"], e[1])
                if src["op"] == "null":
                    if src["name"] in aux:
                        versions[src["name"]] = versions.get(src["name"], 0) + 1
                    line += " version=%d" % versions.get(src["name"], 0)
                lines.append(line)
            if n.get("attrs"):
                lines.append("Attrs:")
                lines += ["\t%s=%s" % kv for kv in sorted(n["attrs"].items())]
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------------ execution
    def bind(self, ctx, args, args_grad=None, grad_req="write", aux_states=None,
             group2ctx=None, shared_exec=None):
        """Binds arrays to the graph; returns an Executor (see ``mx.executor``)."""
        from .. import executor
        return executor.bind(self, ctx, args, args_grad=args_grad, grad_req=grad_req,
                             aux_states=aux_states, group2ctx=group2ctx, shared_exec=shared_exec)

    def simple_bind(self, ctx, grad_req="write", type_dict=None, stype_dict=None,
                    group2ctx=None, shared_arg_names=None, shared_exec=None,
                    shared_buffer=None, **kwargs):
        """Infers shapes from ``kwargs``, allocates arrays and binds; returns an Executor."""
        from .. import executor
        return executor.simple_bind(self, ctx, grad_req=grad_req, type_dict=type_dict,
                                    stype_dict=stype_dict, group2ctx=group2ctx,
                                    shared_arg_names=shared_arg_names, shared_exec=shared_exec,
                                    shared_buffer=shared_buffer, **kwargs)

    def eval(self, ctx=None, **kwargs):
        """Binds ``kwargs`` (name -> NDArray), runs forward, returns the outputs."""
        from .. import executor
        from ..context import current_context
        if ctx is None:
            ctx = current_context()
        exe = executor.bind(self, ctx, kwargs)
        exe.forward()
        return exe.outputs


def _without_amp_casts(text):
    """MXNet's RemoveAmpCast: every input read from an amp cast reads the cast's own input
    instead (the graph's outputs are left as they are); unreachable casts drop out."""
    import json
    graph = json.loads(text)
    nodes = graph["nodes"]
    for node in nodes:  # topological order: a cast's own inputs are already rewired
        rewired = []
        for entry in node["inputs"]:
            src = nodes[entry[0]]
            if src["op"] == "amp_cast":
                entry = src["inputs"][0]
            elif src["op"] == "amp_multicast":
                entry = src["inputs"][entry[1]]
            rewired.append(list(entry))
        node["inputs"] = rewired
    return load_json(json.dumps(graph)).handle.tojson()


def _from_json(text):
    return load_json(text)


# ---------------------------------------------------------------------------- creators
def _attr_str(value):
    """``str(value)`` as MXNet writes it, numpy scalars in a tuple or list written as plain
    numbers (numpy 2 writes ``np.int64(6)``, which no shape parser reads)."""
    if isinstance(value, (tuple, list)):
        value = type(value)(v.item() if isinstance(v, _np.generic) else v for v in value)
    return str(value)


def var(name, attr=None, shape=None, lr_mult=None, wd_mult=None, dtype=None, init=None,
        stype=None, profiler_scope=None, **kwargs):
    """Creates a symbolic variable (an input or parameter of a graph).

    ``shape``/``dtype``/``init``/``lr_mult``/``wd_mult``/``stype`` are stored as hidden
    attributes (``__shape__`` ...) that inference and initializers read.
    """
    if not isinstance(name, string_types):
        raise TypeError("Expect a string for variable `name`")
    attr = AttrScope.current.get(attr)
    attr = {} if attr is None else dict(attr)
    if shape is not None:
        attr["__shape__"] = _attr_str(shape)
    if lr_mult is not None:
        attr["__lr_mult__"] = str(lr_mult)
    if wd_mult is not None:
        attr["__wd_mult__"] = str(wd_mult)
    if dtype is not None:
        dtype_name = _np_dtype_name(dtype)
        if dtype_name not in _DTYPE_FLAGS:
            raise TypeError("dtype %s is not supported by oxnet" % dtype_name)
        attr["__dtype__"] = str(_DTYPE_FLAGS[dtype_name])
    if init is not None:
        if not isinstance(init, string_types):
            init = init.dumps()
        attr["__init__"] = init
    if stype is not None:
        attr["__storage_type__"] = str({"default": 0, "row_sparse": 1, "csr": 2}[stype])
    if profiler_scope is not None:
        attr["__profiler_scope__"] = profiler_scope
    for k, v in kwargs.items():
        if k.startswith("__") and k.endswith("__"):
            attr[k] = _attr_str(v)
        else:
            raise ValueError("Attribute name=%s is not supported. Additional attributes must start "
                             "and end with double underscores, e.g, __yourattr__" % k)
    for v in attr.values():
        if not isinstance(v, string_types):
            raise ValueError("Set Attr only accepts string values")
    pairs = []
    for k, v in attr.items():
        k = _hidden(k)
        pairs = [p for p in pairs if p[0] != k] + [(k, v)]
    return Symbol(_native.Symbol._variable(name, pairs))


Variable = var


def Group(symbols, create_fn=None):
    """A symbol whose outputs are the outputs of ``symbols`` in order (made by ``create_fn``
    from the native handle, ``Symbol`` by default)."""
    if not symbols or any(not isinstance(sym, Symbol) for sym in symbols):
        raise TypeError("Expected a list of symbols as input")
    return (create_fn or Symbol)(_native.Symbol._group([s.handle for s in symbols]))


def load_json(json_str):
    """A symbol from MXNet JSON text (any MXNet 1.x version; legacy graphs are upgraded)."""
    if not isinstance(json_str, string_types):
        raise TypeError("fname required to be string")
    h, info, warns = _native.Symbol._load_json(json_str)
    for m in info:
        _log.info(m)
    for m in warns:
        _log.warning(m)
    return Symbol(h)


def load(fname):
    """A symbol from a JSON file written by ``Symbol.save`` (or MXNet)."""
    if not isinstance(fname, string_types):
        raise TypeError("fname need to be string")
    if not os.path.exists(fname):
        raise MXNetError('LocalFileSystem: Check failed: allow_null: :Open "%s": '
                         'No such file or directory' % fname)
    with open(fname, "rb") as f:
        head = f.read(4096)
        # A stream that is not JSON (/dev/zero) is refused before it is read to the end.
        if head.strip() and not head.lstrip().startswith(b"{"):
            raise MXNetError("load: %s is not a symbol JSON file (it does not begin with '{': "
                             "%r)" % (fname, head.lstrip()[:16]))
        text = (head + f.read()).decode("utf-8")
    try:
        return load_json(text)
    except MXNetError as e:
        raise MXNetError("%s (in file %s)" % (e, fname)) from None


def zeros(shape, dtype=None, **kwargs):
    """A symbol of zeros with ``shape``."""
    if dtype is None:
        dtype = _np.float32
    from . import _internal
    return _internal._zeros(shape=shape, dtype=dtype, **kwargs)


def ones(shape, dtype=None, **kwargs):
    """A symbol of ones with ``shape``."""
    if dtype is None:
        dtype = _np.float32
    from . import _internal
    return _internal._ones(shape=shape, dtype=dtype, **kwargs)


def eye(N, M=0, k=0, dtype=None, **kwargs):
    """A 2-D symbol with ones on the k-th diagonal (``M`` columns; 0 means ``N``)."""
    from . import _internal
    return _internal._eye(N=N, M=M, k=k, dtype=_np.float32 if dtype is None else dtype, **kwargs)


def full(shape, val, dtype=None, **kwargs):
    """A symbol filled with ``val``."""
    if dtype is None:
        dtype = _np.float32
    from . import _internal
    return _internal._full(shape=shape, dtype=dtype, value=float(val), **kwargs)


def arange(start, stop=None, step=1.0, repeat=1, infer_range=False, name=None, dtype=None):
    """Evenly spaced values in ``[start, stop)``."""
    if dtype is None:
        dtype = _np.float32
    from . import _internal
    return _internal._arange(start=start, stop=stop, step=step, repeat=repeat,
                             infer_range=infer_range, name=name, dtype=dtype)


def linspace(start, stop, num, endpoint=True, name=None, dtype=None):
    """`num` evenly spaced values over ``[start, stop]`` (``[start, stop)`` without
    `endpoint`)."""
    if dtype is None:
        dtype = _np.float32
    from . import _internal
    return _internal._linspace(start=start, stop=stop, num=num, endpoint=endpoint, name=name,
                               dtype=dtype)


def _ufunc(base, exp, op, hint, sop, shint, rop, rhint, pyfunc):
    if isinstance(base, Symbol) and isinstance(exp, Symbol):
        return _op_sym(op, hint, (base, exp))
    if isinstance(base, Symbol) and isinstance(exp, numeric_types):
        return _op_sym(sop, shint, (base,), {"scalar": exp})
    if isinstance(base, numeric_types) and isinstance(exp, Symbol):
        return _op_sym(rop, rhint, (exp,), {"scalar": base})
    if isinstance(base, numeric_types) and isinstance(exp, numeric_types):
        return pyfunc(base, exp)
    raise TypeError("types (%s, %s) not supported" % (str(type(base)), str(type(exp))))


def pow(base, exp):  # noqa: A001 - MXNet's name
    """``base ** exp`` for symbols and/or scalars."""
    return _ufunc(base, exp, "_power", "_power", "_power_scalar", "_powerscalar",
                  "_rpower_scalar", "_rpowerscalar", lambda a, b: a ** b)


power = pow


def maximum(left, right):
    """Element-wise maximum of symbols and/or scalars."""
    return _ufunc(left, right, "_maximum", "_maximum", "_maximum_scalar", "_maximumscalar",
                  "_maximum_scalar", "_maximumscalar", lambda a, b: a if a > b else b)


def minimum(left, right):
    """Element-wise minimum of symbols and/or scalars."""
    return _ufunc(left, right, "_minimum", "_minimum", "_minimum_scalar", "_minimumscalar",
                  "_minimum_scalar", "_minimumscalar", lambda a, b: a if a < b else b)


def hypot(left, right):
    """``sqrt(left**2 + right**2)`` element-wise."""
    return _ufunc(left, right, "_hypot", "_hypot", "_hypot_scalar", "_hypotscalar",
                  "_hypot_scalar", "_hypotscalar", lambda a, b: _np.hypot(a, b))


# Fluent methods (``x.reshape(...)``, ``x.sum()``): each calls the op function of that name.
_FLUENT = {
    "astype": "cast",
}
_FLUENT_NAMES = [
    "abs", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctanh", "argmax",
    "argmax_channel", "argmin", "argsort", "broadcast_axes", "broadcast_like", "broadcast_to",
    "cbrt", "ceil", "clip", "cos", "cosh", "degrees", "depth_to_space", "diag", "exp",
    "expand_dims", "expm1", "fix", "flatten", "flip", "floor", "log", "log10", "log1p", "log2",
    "log_softmax", "max", "mean", "min", "nanprod", "nansum", "norm", "one_hot", "ones_like",
    "pad", "pick", "prod", "radians", "rcbrt", "reciprocal", "relu", "repeat", "reshape",
    "reshape_like", "rint", "round", "rsqrt", "shape_array", "sigmoid", "sign", "sin", "sinh",
    "size_array", "slice", "slice_axis", "slice_like", "softmax", "softmin", "sort",
    "space_to_depth", "split", "sqrt", "square", "squeeze", "sum", "swapaxes",
    "take", "tan", "tanh", "tile", "topk", "transpose", "trunc", "zeros_like",
]


def _install_fluent(ops):
    """Adds ``Symbol.<name>`` for every fluent op the registry provides."""
    def make(fname, func):
        def method(self, *args, **kwargs):
            return func(self, *args, **kwargs)
        method.__name__ = fname
        method.__doc__ = "Convenience fluent method for :py:func:`%s`." % func.__name__
        return method

    for name in _FLUENT_NAMES:
        if name in ops and not hasattr(Symbol, name):
            setattr(Symbol, name, make(name, ops[name]))
    for meth, opname in _FLUENT.items():
        if opname in ops:
            setattr(Symbol, meth, make(meth, ops[opname]))


def split_v2(ary, indices_or_sections, axis=0, squeeze_axis=False):
    """Splits `ary` along `axis` into equal sections (an int) or at the given indices (a tuple),
    as numpy.split; MXNet's `mx.sym.split_v2`."""
    from . import _internal
    if isinstance(indices_or_sections, int):
        return _internal._split_v2(ary, indices=(), sections=indices_or_sections, axis=axis,
                                   squeeze_axis=squeeze_axis)
    if isinstance(indices_or_sections, tuple):
        return _internal._split_v2(ary, indices=(0,) + indices_or_sections, axis=axis,
                                   squeeze_axis=squeeze_axis)
    raise ValueError("indices_or_sections must either int or tuple of ints")


Symbol.split_v2 = split_v2


def histogram(a, bins=10, range=None, **kwargs):  # noqa: A002 - MXNet's argument name
    """`bins` equal bins over `range` (a tuple, required in symbol mode), or the bin edges as
    a Symbol: outputs (counts, bin edges), as MXNet's `mx.sym.histogram`."""
    from . import _internal
    if isinstance(bins, Symbol):
        return _internal._histogram(data=a, bins=bins, **kwargs)
    if isinstance(bins, int):
        if range is None:
            raise ValueError("null range is not supported in symbol mode")
        return _internal._histogram(data=a, bin_cnt=bins, range=range, **kwargs)
    raise ValueError("bins argument should be either an integer or a Symbol")
