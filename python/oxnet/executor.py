"""Symbol executors (``Symbol.bind`` / ``Symbol.simple_bind``), MXNet's ``mx.executor``.

The plan (forward and backward steps, memory reuse) is built in Rust; this module only
checks and arranges the arrays, as MXNet's Python wrapper does.
"""
import json
import warnings

import numpy as np

from . import _native
from .base import MXNetError
from .context import Context
from .ndarray.ndarray import NDArray
from .ndarray import sparse, storage_rules
from . import ndarray as nd

__all__ = ["Executor", "bind", "simple_bind"]

_GRAD_REQS = ("null", "write", "add", "inplace")


def _native_symbol(sym):
    return sym.handle


# Creation ops whose ``shape`` may hold 0s (unknown dimensions), which MXNet completes from the
# rest of the graph (e.g. mx.rnn's begin states, ``zeros(shape=(0, num_hidden))``).
_PARTIAL_CREATORS = ("_zeros", "_ones", "_full", "_random_uniform", "_random_normal",
                     "_random_gamma", "_random_exponential", "_random_poisson",
                     "_random_negative_binomial", "_random_generalized_negative_binomial",
                     "_random_randint")


def _partial_creator(node):
    """Whether a creation node's output shape waits for whole-graph inference: a shape with
    0s or none at all (MXNet's unknown ``()``), or an ``arange(infer_range=True)`` without a
    stop (its length comes as ``__length__``)."""
    attrs = node.get("attrs", {})
    if node["op"] in _PARTIAL_CREATORS:
        dims = _shape_attr(attrs.get("shape", "None").replace("None", ""))
        return dims is not None and (not dims or 0 in dims)
    return (node["op"] == "_arange" and attrs.get("infer_range") in ("True", "true", "1")
            and attrs.get("stop", "None") == "None" and "__length__" not in attrs)


def _shape_attr(text):
    try:
        return tuple(int(d) for d in text.strip("()[] ").split(",") if d.strip())
    except (AttributeError, ValueError):
        return None


def _complete_creator_shapes(sym, args, aux):
    """``sym`` with every partial creator shape (and inferred arange length) filled in from
    whole-graph shape inference.

    The native bind infers shapes forward from the bound arrays only, so a ``_zeros`` of shape
    (0, n) would stay empty there; completing the attribute first gives it MXNet's shape.
    Returns ``sym`` itself when there is nothing to complete (or it cannot be completed, in
    which case the native bind reports the error)."""
    graph = json.loads(sym.tojson())
    partial = [n for n in graph["nodes"] if _partial_creator(n)]
    if not partial:
        return sym
    known = dict(zip(sym.list_arguments(), (a.shape for a in args)))
    known.update(zip(sym.list_auxiliary_states(), (a.shape for a in aux)))
    internals = sym.get_internals()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            _, out_shapes, _ = internals.infer_shape_partial(**known)
        except MXNetError:
            return sym
    by_name = {}
    for name, shape in zip(internals.list_outputs(), out_shapes):
        # A name used twice is ambiguous: leave that node to the native bind.
        by_name[name] = shape if name not in by_name else None
    changed = False
    for node in partial:
        shape = by_name.get(node["name"] + "_output")
        if shape and all(d > 0 for d in shape):
            if node["op"] == "_arange":
                node["attrs"]["__length__"] = str(shape[0])
            else:
                node["attrs"]["shape"] = str(tuple(shape))
            changed = True
    if not changed:
        return sym
    from .symbol import load_json
    return load_json(json.dumps(graph))


def _array_list(values, names, what, allow_missing=False):
    """Arrays in ``names`` order from a list or dict (None where a dict omits a name)."""
    if isinstance(values, dict):
        out = []
        for n in names:
            if n in values:
                v = values[n]
            elif allow_missing:
                v = None
            else:
                raise ValueError("key `%s` is missing in `%s`" % (n, what))
            if v is not None and not isinstance(v, NDArray):
                raise TypeError("Only accept list of NDArrays or dict of str to NDArray")
            out.append(v)
        return out
    if isinstance(values, (list, tuple)):
        if len(values) != len(names):
            raise ValueError("Length of %s does not match the number of arguments" % what)
        for v in values:
            if v is not None and not isinstance(v, NDArray):
                raise TypeError("Only accept list of NDArrays or dict of str to NDArray")
        return list(values)
    raise TypeError("Only accept list of NDArrays or dict of str to NDArray")


def _grad_reqs(grad_req, names):
    if isinstance(grad_req, str):
        if grad_req not in _GRAD_REQS:
            raise ValueError("grad_req must be in %s" % str(_GRAD_REQS))
        return [grad_req] * len(names)
    if isinstance(grad_req, (list, tuple)):
        if len(grad_req) != len(names):
            raise ValueError("Length of grad_req does not match the number of arguments")
        reqs = list(grad_req)
    elif isinstance(grad_req, dict):
        reqs = [grad_req.get(n, "null") for n in names]
    else:
        raise TypeError("grad_req must be a str, list or dict")
    for r in reqs:
        if r not in _GRAD_REQS:
            raise ValueError("grad_req must be in %s" % str(_GRAD_REQS))
    return reqs


def bind(sym, ctx, args, args_grad=None, grad_req="write", aux_states=None, group2ctx=None,
         shared_exec=None):
    """Binds ``sym`` to arrays; the arrays are used directly, not copied."""
    if not isinstance(ctx, Context):
        raise TypeError("Context type error")
    arg_names = sym.list_arguments()
    aux_names = sym.list_auxiliary_states()
    args = _array_list(args, arg_names, "args")
    if any(a is None for a in args):
        raise ValueError("args must not contain None")
    grads = None
    if args_grad is not None:
        grads = _array_list(args_grad, arg_names, "args_grad", allow_missing=True)
    reqs = _grad_reqs(grad_req, arg_names)
    if grads is None:
        reqs = ["null"] * len(arg_names)
    else:
        reqs = [r if g is not None else "null" for r, g in zip(reqs, grads)]
    if aux_states is None:
        aux_states = []
    if isinstance(aux_states, dict):
        aux = _array_list(aux_states, aux_names, "aux_states")
    else:
        aux = list(aux_states)
        if len(aux) != len(aux_names):
            raise ValueError("Length of aux_states does not match the number of arguments")
    if not group2ctx:
        for what, names, arrays in (("input", arg_names, args), ("gradient", arg_names, grads),
                                    ("auxiliary", aux_names, aux)):
            for name, a in zip(names, arrays or ()):
                if a is not None and a.context != ctx:
                    raise MXNetError(
                        "bind: %s array %s is in %s while binding with ctx=%s. All arrays must "
                        "be in the global context (%s) unless group2ctx is specified"
                        % (what, name, a.context, ctx, ctx))
    return Executor(sym, ctx, args, grads, reqs, aux, group2ctx)


def group_contexts(sym, names, ctx, group2ctx):
    """The context of each variable in ``names``: the one ``group2ctx`` gives its
    ``ctx_group`` attribute, else ``ctx`` (MXNet's model-parallel ``simple_bind``)."""
    if not group2ctx:
        return [ctx] * len(names)
    attrs = sym.attr_dict()
    return [group2ctx.get(attrs.get(n, {}).get("__ctx_group__"), ctx) for n in names]


_STYPE_CODES = {"0": "default", "1": "row_sparse", "2": "csr"}


def _is_true(v):
    return str(v).lower() in ("true", "1")


def _storage_types(sym, arg_names, stype_dict):
    """MXNet's storage types of the argument arrays (a variable's ``stype``, or
    ``stype_dict``) and of their gradients: row_sparse for the right operand of ``dot`` with
    a csr left one, for the weight of ``Embedding(sparse_grad=True)`` / ``SparseEmbedding``
    and for a row_sparse operand of ``_square_sum``, when every use of the argument gives one;
    dense otherwise."""
    nodes = json.loads(sym.tojson())["nodes"]
    stypes = {}
    for node in nodes:
        if node["op"] == "null":
            code = node.get("attrs", {}).get("__storage_type__", "0")
            stypes[node["name"]] = _STYPE_CODES.get(code, code)
    stypes.update(stype_dict or {})
    uses = {}
    for node in nodes:
        attrs, ins = node.get("attrs", {}), node["inputs"]
        sparse_in = None
        if node["op"] == "dot" and len(ins) == 2 and not _is_true(attrs.get("transpose_a")):
            lhs = nodes[ins[0][0]]
            if lhs["op"] == "null" and stypes.get(lhs["name"]) == "csr":
                sparse_in = 1
        elif (node["op"] == "_contrib_SparseEmbedding" or node["op"] == "Embedding"
              and _is_true(attrs.get("sparse_grad"))):
            sparse_in = 1
        elif node["op"] == "_square_sum" and ins:
            src = nodes[ins[0][0]]
            if src["op"] == "null" and stypes.get(src["name"]) == "row_sparse":
                sparse_in = 0
        for i, (src, _, _) in enumerate(ins):
            if nodes[src]["op"] == "null":
                uses.setdefault(nodes[src]["name"], []).append(i == sparse_in)
    arg_stypes = [stypes.get(n, "default") for n in arg_names]
    grad_stypes = ["row_sparse" if uses.get(n) and all(uses[n]) else "default"
                   for n in arg_names]
    return arg_stypes, grad_stypes


def simple_bind(sym, ctx, grad_req="write", type_dict=None, stype_dict=None, group2ctx=None,
                shared_arg_names=None, shared_exec=None, shared_buffer=None, **kwargs):
    """Infers every shape and dtype from ``kwargs`` and binds zero-filled arrays."""
    if not isinstance(ctx, Context):
        raise TypeError("Context type error")
    arg_names = sym.list_arguments()
    # MXNet reads only the shapes among the keywords: code passes op parameters along too.
    kwargs = {k: v for k, v in kwargs.items() if isinstance(v, (tuple, list))}

    def fail(msg):
        lines = "".join("%s: %s\n" % (k, v) for k, v in kwargs.items())
        raise RuntimeError("simple_bind error. Arguments:\n%s%s" % (lines, msg))

    if isinstance(grad_req, str) and grad_req not in _GRAD_REQS:
        fail("grad_req=%s is not a valid input in simple_bind; only 'null', 'write', and 'add' "
             "are supported" % grad_req)
    if isinstance(grad_req, dict) and not grad_req:
        raise RuntimeError("grad_req in simple_bind cannot be an empty dict")  # MXNet's words
    try:
        arg_shapes, _, aux_shapes = sym.infer_shape_partial(**kwargs)
    except MXNetError as e:
        fail(str(e))
    missing = [n for n, s in zip(arg_names, arg_shapes) if not s or 0 in s]
    if missing:
        fail("InferShape pass cannot decide shapes for the following arguments (-1 means unknown "
             "dimensions). Please consider providing them as inputs:\n"
             + ", ".join("%s: %s" % (n, s if s else None) for n, s in zip(arg_names, arg_shapes)
                         if n in missing))
    # As MXNet, type_dict entries naming no input of the symbol are ignored.
    inputs = set(arg_names) | set(sym.list_auxiliary_states())
    types = {k: v for k, v in (type_dict or {}).items() if k in inputs}
    if not types:
        # float32 seeds the inference at the first argument without its own `__dtype__`;
        # the others follow from it, from their `__dtype__` and from the ops' type rules (an
        # int8 weight of a quantized layer, an integer `length`).
        attrs = sym.attr_dict()
        seed = next((n for n in arg_names if "__dtype__" not in attrs.get(n, {})), None)
        types = {} if seed is None else {seed: np.float32}
    try:
        arg_types, _, aux_types = sym.infer_type_partial(**types)
    except MXNetError as e:
        fail(str(e))
    arg_types = [t if t is not None else np.float32 for t in arg_types]
    aux_types = [t if t is not None else np.float32 for t in aux_types]
    arg_stypes, grad_stypes = _storage_types(sym, arg_names, stype_dict)
    arg_ctxs = group_contexts(sym, arg_names, ctx, group2ctx)
    aux_ctxs = group_contexts(sym, sym.list_auxiliary_states(), ctx, group2ctx)
    args = [nd.zeros(s, ctx=c, dtype=t, stype=st)
            for s, t, st, c in zip(arg_shapes, arg_types, arg_stypes, arg_ctxs)]
    reqs = _grad_reqs(grad_req, arg_names)
    grads = [nd.zeros(s, ctx=c, dtype=t, stype=st) if r != "null" else None
             for s, t, r, st, c in zip(arg_shapes, arg_types, reqs, grad_stypes, arg_ctxs)]
    aux = [nd.zeros(s, ctx=c, dtype=t) for s, t, c in zip(aux_shapes, aux_types, aux_ctxs)]
    return Executor(sym, ctx, args, grads, reqs, aux, group2ctx)


def _ctx_code(ctx):
    return ctx.device_typeid, ctx.device_id


def _resized(old, shape):
    """`old` for `shape` in a reshaped executor: a view of its first elements when it is large
    enough and dense, else a new zeroed array on its context."""
    size = int(np.prod(shape))
    if old.stype == "default" and size <= old.size:
        return old.reshape((-1,))[:size].reshape(shape)
    return nd.zeros(shape, ctx=old.context, dtype=old.dtype, stype=old.stype)


class Executor:
    """A symbol bound to arrays: ``forward`` and ``backward`` push the plan to the engine."""

    def __init__(self, sym, ctx, args, grads, reqs, aux, group2ctx=None):
        self._symbol = sym
        self._ctx = ctx
        self._group2ctx = dict(group2ctx) if group2ctx else None
        self.arg_arrays = list(args)
        self.grad_arrays = list(grads) if grads is not None else None
        self.aux_arrays = list(aux)
        self._reqs = list(reqs)
        native_grads = grads if grads is not None else [None] * len(args)
        bound = _complete_creator_shapes(sym, self.arg_arrays, self.aux_arrays)
        placement = None
        if self._group2ctx:
            placement = (_ctx_code(ctx),
                         [(str(g), _ctx_code(c)) for g, c in self._group2ctx.items()])
        self._handle = _native.bind_executor(_native_symbol(bound), self.arg_arrays,
                                             list(native_grads), self._reqs, self.aux_arrays,
                                             placement)
        self._storage = storage_rules.graph_outputs(
            sym, dict(zip(sym.list_arguments(), self.arg_arrays)))
        self.outputs = self._handle.outputs()
        self._dynamic = self._handle.has_dynamic_outputs()
        if self._storage is not None:
            self.outputs = [sparse._wrap(o, st) for o, (st, _) in zip(self.outputs, self._storage)]
        self._arg_dict = self._grad_dict = self._aux_dict = self._output_dict = None
        self._monitor = None
        self._monitor_all = False

    @staticmethod
    def _dict(names, arrays):
        if arrays is None:
            return dict(zip(names, arrays))  # raises TypeError, as MXNet does
        if len(set(names)) != len(names):
            raise ValueError("Duplicate names detected, %s" % str(names))
        return dict(zip(names, arrays))

    @property
    def arg_dict(self):
        if self._arg_dict is None:
            self._arg_dict = self._dict(self._symbol.list_arguments(), self.arg_arrays)
        return self._arg_dict

    @property
    def grad_dict(self):
        if self._grad_dict is None:
            self._grad_dict = self._dict(self._symbol.list_arguments(), self.grad_arrays)
        return self._grad_dict

    @property
    def aux_dict(self):
        if self._aux_dict is None:
            self._aux_dict = self._dict(self._symbol.list_auxiliary_states(), self.aux_arrays)
        return self._aux_dict

    @property
    def output_dict(self):
        if self._output_dict is None:
            self._output_dict = self._dict(self._symbol.list_outputs(), self.outputs)
        return self._output_dict

    def forward(self, is_train=False, **kwargs):
        """Runs the forward pass; keyword arrays are first copied into the arguments."""
        if kwargs:
            arg_dict = self.arg_dict
            for name, array in kwargs.items():
                if not isinstance(array, (NDArray, np.ndarray)):
                    raise ValueError("only accept keyword argument of NDArrays and numpy.ndarray")
                if name not in arg_dict:
                    raise TypeError("Unknown argument %s" % name)
                if arg_dict[name].shape != array.shape:
                    raise ValueError("Shape not match! Argument %s, need: %s, received: %s"
                                     % (name, str(arg_dict[name].shape), str(array.shape)))
                arg_dict[name][:] = array
        if self._monitor is None:
            self._handle.forward(bool(is_train))
        else:
            self._handle.forward_monitored(bool(is_train), self._monitor_all, self._monitor)
        if self._dynamic:
            # outputs whose shapes depend on values (boolean_mask) are new arrays each time
            self.outputs = self._handle.outputs()
            self._output_dict = None
        if self._storage is not None:
            self._keep_stored_entries()
        return self.outputs

    def _keep_stored_entries(self):
        """Zeroes what an output holds outside the stored entries of the argument MXNet
        computes it on (`_scatter_plus_scalar`, `x / 0`...): the plan computed it densely."""
        for out, (_, arg) in zip(self.outputs, self._storage):
            if arg is not None:
                sparse._on_stored(arg, out, type(out)).copyto(out)

    def backward(self, out_grads=None, is_train=True):
        """Runs the backward pass; ``out_grads`` are the head gradients (not needed for loss
        heads)."""
        n = len(self.outputs)
        if out_grads is None:
            og = [None] * n
        elif isinstance(out_grads, NDArray):
            og = [out_grads] + [None] * (n - 1)
        elif isinstance(out_grads, dict):
            names = self._symbol.list_outputs()
            og = [out_grads.get(k) for k in names]
        else:
            og = list(out_grads) + [None] * (n - len(out_grads))
        for g in og:
            if g is not None and not isinstance(g, NDArray):
                raise TypeError("inputs must be NDArray")
        if self._monitor is None:
            self._handle.backward(og, bool(is_train))
        else:
            self._handle.backward_monitored(og, bool(is_train), self._monitor)

    def set_monitor_callback(self, callback, monitor_all=False):
        """Calls ``callback(name, array)`` during forward on every op's outputs
        (``fc1_output``), with ``monitor_all`` also on the arguments (``fc1_weight``) and on
        every op's inputs (``fc1_data``); and during backward on the gradients each op gives
        its inputs, named as MXNet's backward nodes (``fc1_backward_output1``)."""
        self._monitor = callback
        self._monitor_all = bool(monitor_all)

    def copy_params_from(self, arg_params, aux_params=None, allow_extra_params=False):
        """Copies parameter values into this executor's arrays (converting dtypes). An array
        that already is the bound one is left alone, silently, as in MXNet."""
        for params, bound, what in ((arg_params, self.arg_dict, "arguments"),
                                    (aux_params or {}, self.aux_dict, "auxiliary states")):
            for name, array in params.items():
                if name not in bound:
                    if not allow_extra_params:
                        raise ValueError('Find name "%s" that is not in the %s' % (name, what))
                elif not array._same_array(bound[name]):
                    array.copyto(bound[name])

    def reshape(self, partial_shaping=False, allow_up_sizing=False, **kwargs):
        """A new executor for new input shapes. As in MXNet, an array whose shape is unchanged
        is shared and one that shrinks is a view of the start of the old one (what is written
        through either executor shows in the other); only a grown one is new memory."""
        arg_shapes, _, aux_shapes = self._symbol.infer_shape(**kwargs)
        if arg_shapes is None:
            raise MXNetError("Insufficient argument shapes provided.")
        names = self._symbol.list_arguments()
        args, grads = [], []
        for i, (name, shape) in enumerate(zip(names, arg_shapes)):
            old = self.arg_arrays[i]
            oldg = self.grad_arrays[i] if self.grad_arrays is not None else None
            if old.shape == tuple(shape):
                args.append(old)
                grads.append(oldg)
                continue
            if not partial_shaping and name not in kwargs:
                raise MXNetError("Shape of unspecified array arg:%s changed. This can cause the "
                                 "new executor to not share parameters with the old one. Please "
                                 "check for error in network. If this is intended, set "
                                 "partial_shaping=True to suppress this warning." % name)
            if np.prod(shape) > old.size and not allow_up_sizing:
                raise MXNetError("New shape of arg: %s is larger than original.First making a "
                                 "big executor and then down sizing it is more efficient than the "
                                 "reverse.If you really want to up size, set allow_up_sizing=True "
                                 "to enable allocation of new arrays." % name)
            args.append(_resized(old, shape))
            grads.append(None if oldg is None else _resized(oldg, shape))
        aux = [old if old.shape == tuple(shape) else _resized(old, shape)
               for old, shape in zip(self.aux_arrays, aux_shapes)]
        exe = Executor(self._symbol, self._ctx, args,
                       grads if self.grad_arrays is not None else None, self._reqs, aux,
                       self._group2ctx)
        # An installed monitor keeps watching (MXNet's reshaped executor shares the callback).
        exe._monitor, exe._monitor_all = self._monitor, self._monitor_all
        return exe

    def get_optimized_symbol(self):
        """The symbol this executor runs (oxnet binds the graph as given; fusion is the
        explicit ``Symbol.get_backend_symbol`` / ``optimize_for`` step)."""
        return self._symbol

    def debug_str(self):
        """MXNet's listing of the bound graph: the symbol's, then the memory its outputs
        take and MXNet's (constant) count of temporary-space requests."""
        out_bytes = sum(a.size * np.dtype(a.dtype).itemsize for a in self.outputs)
        return (self._symbol.debug_str() + "Total %d MB allocated\n" % (out_bytes >> 20)
                + "Total 11 TempSpace resource requested\n")
