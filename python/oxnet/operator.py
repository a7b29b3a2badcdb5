"""Operators written in Python (MXNet's ``mx.operator``): subclass ``CustomOpProp`` and
``CustomOp``, register the prop with ``@mx.operator.register("name")``, and use it as
``mx.sym.Custom(..., op_type="name")`` or ``mx.nd.Custom(..., op_type="name")``.

The core calls back into ``_Bridge`` for names, shape and type inference, forward and
backward. Forward and backward run on the thread that pushes the op, in order; the arrays
they get may still be computing, and whatever they do through ``mx.nd`` is ordered after it.
"""
import collections
import threading

import numpy as np

from . import _native, autograd
from .base import MXNetError
from .context import current_context
from .symbol.symbol import _DTYPE_FLAGS

__all__ = ["CustomOp", "CustomOpProp", "register", "get_all_registered_operators",
           "get_operator_arguments", "OperatorArguments"]

_REGISTRY = {}


class CustomOp(object):
    """Base class of a custom operator's computation."""

    def __init__(self):
        pass

    def forward(self, is_train, req, in_data, out_data, aux):
        """Computes ``out_data`` from ``in_data``; write each output with ``self.assign``."""
        raise NotImplementedError("%s does not implement forward" % type(self).__name__)

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        """Computes ``in_grad`` from ``out_grad``; write each with ``self.assign``."""
        raise NotImplementedError("%s does not implement backward" % type(self).__name__)

    def assign(self, dst, req, src):
        """Writes ``src`` into ``dst`` as ``req`` says: 'null' skips, 'write'/'inplace'
        overwrite, 'add' accumulates."""
        if req == "null":
            return
        if req in ("write", "inplace"):
            dst[:] = src
        elif req == "add":
            dst[:] = dst + src
        else:
            raise ValueError("CustomOp.assign: req must be 'null', 'write', 'inplace' or 'add', "
                             "got %r" % (req,))


class CustomOpProp(object):
    """Base class of a custom operator's description: its inputs, outputs, shapes and types,
    and the ``CustomOp`` it creates. ``need_top_grad=False`` makes it a loss head (backward
    gets no gradient from above)."""

    def __init__(self, need_top_grad=True):
        self.need_top_grad_ = need_top_grad

    def infer_shape(self, in_shape):
        """(input shapes, output shapes, aux shapes); by default every output has the first
        input's shape."""
        return in_shape, (in_shape[0],) * len(self.list_outputs()), ()

    def infer_type(self, in_type):
        """(input types, output types, aux types); by default the inputs as given (None
        where unknown) and every output and aux state of the first input's type."""
        t = in_type[0]
        return (list(in_type), [t] * len(self.list_outputs()),
                [t] * len(self.list_auxiliary_states()))

    def infer_storage_type(self, in_stype):
        return (["default"] * len(in_stype), ["default"] * len(self.list_outputs()),
                ["default"] * len(self.list_auxiliary_states()))

    def infer_storage_type_backward(self, ograd_stype, in_stype, out_stype, igrad_stype,
                                    aux_stype):
        """Storage types of the backward's arrays, all dense by default; lists of the same
        lengths as the arguments, in their order."""
        return tuple(["default"] * len(s) for s in (ograd_stype, in_stype, out_stype,
                                                    igrad_stype, aux_stype))

    def list_outputs(self):
        return ["output"]

    def list_arguments(self):
        return ["data"]

    def list_auxiliary_states(self):
        return []

    def declare_backward_dependency(self, out_grad, in_data, out_data):
        """The arrays backward reads (oxnet hands backward all of them)."""
        deps = list(out_grad) if self.need_top_grad_ else []
        return deps + list(in_data) + list(out_data)

    def create_operator(self, ctx, in_shapes, in_dtypes):
        """A ``CustomOp`` for this context and these input shapes/dtypes."""
        raise NotImplementedError("%s does not implement create_operator"
                                  % type(self).__name__)


def register(reg_name):
    """Class decorator: registers a ``CustomOpProp`` subclass as op_type ``reg_name``."""
    def do_register(prop_cls):
        if not (isinstance(prop_cls, type) and issubclass(prop_cls, CustomOpProp)):
            raise TypeError("mx.operator.register(%r) expects a CustomOpProp subclass, got %r"
                            % (reg_name, prop_cls))
        _REGISTRY[reg_name] = prop_cls
        return prop_cls
    return do_register


def get_all_registered_operators():
    """Names of every registered operator and alias, as MXNet lists its backend ops (the
    types of `register` run through the `Custom` operator)."""
    return sorted([op[0] for op in _native.list_ops()] + [a for a, _ in _native.list_aliases()])


OperatorArguments = collections.namedtuple("OperatorArguments", ["narg", "names", "types"])


def get_operator_arguments(op_name):
    """The input and parameter names of operator `op_name` with MXNet's type strings."""
    target = dict(_native.list_aliases()).get(op_name, op_name)
    spec = next((op for op in _native.list_ops() if op[0] == target), None)
    if spec is None:
        raise MXNetError("get_operator_arguments: no operator named %r" % (op_name,))
    _, _, params, inputs, variadic, group = spec
    many = variadic or group < 0
    names = list(inputs)
    types = ["NDArray-or-Symbol[]" if many else "NDArray-or-Symbol"] * len(inputs)
    for name, typ, default, _ in params:
        if name == variadic and inputs == ["args"]:
            continue  # add_n's family counts its inputs without declaring a parameter
        if default is None:
            typ += ", required"
        else:  # MXNet writes "{'a', 'b'},optional": no space after an optional enumeration
            typ += ("," if typ.startswith("{") else ", ") + "optional, default=%s" % default
        names.append(name)
        types.append(typ)
    return OperatorArguments(len(names), names, types)


def _dtype_name(t):
    return np.dtype(t).name


class _Bridge(object):
    """One configured ``Custom`` node (or imperative call): the prop made from the node's
    attributes, and the CustomOps it created, one per (context, shapes, dtypes) so that
    forward and backward of one executor share their instance's state."""

    def __init__(self, attrs):
        attrs = dict(attrs)
        self.op_type = attrs.pop("op_type")
        if self.op_type not in _REGISTRY:
            raise MXNetError("Custom: op_type %r is not registered (mx.operator.register); "
                             "registered: %s" % (self.op_type, sorted(_REGISTRY) or "none"))
        # MXNet hands the prop its keyword arguments as strings.
        self.prop = _REGISTRY[self.op_type](**attrs)
        self.arguments = [str(a) for a in self.prop.list_arguments()]
        self.outputs = [str(o) for o in self.prop.list_outputs()]
        self.aux = [str(a) for a in self.prop.list_auxiliary_states()]
        self.need_top_grad = bool(self.prop.need_top_grad_)
        self._ops = {}

    def _split(self, shapes_or_types):
        n = len(self.arguments)
        return list(shapes_or_types[:n]), list(shapes_or_types[n:])

    def _ask(self, what, args, aux, partial):
        """The prop's ``what`` (infer_shape/infer_type) as (inputs + aux, outputs); None when
        ``partial`` and it raised (it could not tell from the inputs known so far)."""
        try:
            res = getattr(self.prop, what)(args)
        except Exception:  # pylint: disable=broad-except
            if partial:
                return None
            raise
        ins, outs = list(res[0]), list(res[1])
        auxs = list(res[2]) if len(res) > 2 else aux
        self._check_counts(what, ins, outs, auxs)
        return ins + auxs, outs

    def infer_shape(self, shapes, partial):
        """Input+aux and output shapes from the prop (None: see ``_ask``)."""
        args, aux = self._split([() if s is None else tuple(s) for s in shapes])
        res = self._ask("infer_shape", args, aux, partial)
        as_tuple = lambda v: tuple(int(d) for d in v)  # noqa: E731
        return res and ([as_tuple(s) for s in res[0]], [as_tuple(s) for s in res[1]])

    def infer_type(self, dtypes, partial):
        """Input+aux and output dtype names from the prop, None for one it leaves unknown
        (None: see ``_ask``). The prop sees None for an unknown input, as in MXNet."""
        if dtypes and all(t is None for t in dtypes):
            return None
        args, aux = self._split([None if t is None else np.dtype(t).type for t in dtypes])
        res = self._ask("infer_type", args, aux, partial)
        name = lambda t: None if t is None else _dtype_name(t)  # noqa: E731
        return res and ([name(t) for t in res[0]], [name(t) for t in res[1]])

    def _check_counts(self, what, ins, outs, auxs):
        want = (len(self.arguments), len(self.outputs), len(self.aux))
        got = (len(ins), len(outs), len(auxs))
        if got != want:
            raise ValueError("Custom op %r: %s returned %d input, %d output and %d aux entries; "
                             "list_arguments/list_outputs/list_auxiliary_states declare %d, %d "
                             "and %d" % ((self.op_type, what) + got + want))

    def _op(self, in_data, aux, create):
        arrays = list(in_data) + list(aux)
        key = (arrays[0].context if arrays else current_context(),
               tuple(a.shape for a in arrays), tuple(_dtype_name(a.dtype) for a in arrays))
        op = self._ops.get(key)
        if op is None:
            if not create:
                raise RuntimeError("Custom op %r: backward before forward for inputs %s"
                                   % (self.op_type, key[1]))
            # MXNet hands create_operator its type flags (0 = float32), infer_type numpy types.
            op = self.prop.create_operator(key[0], [list(s) for s in key[1]],
                                           [_DTYPE_FLAGS[t] for t in key[2]])
            self._ops[key] = op
        return op

    def forward(self, is_train, in_data, out_data, aux):
        op = self._op(in_data, aux, True)
        stypes, _PUSHING.stypes = _PUSHING.stypes, None
        if stypes is not None:
            from .ndarray.sparse import _wrap  # noqa: PLC0415 - sparse builds on this module
            ins, outs = stypes
            n = len(in_data)
            in_data = [_wrap(a, s) for a, s in zip(in_data, ins[:n])]
            aux = [_wrap(a, s) for a, s in zip(aux, ins[n:])]
            out_data = [_wrap(a, s) for a, s in zip(out_data, outs)]
        with autograd.pause(train_mode=is_train):
            op.forward(is_train=is_train, req=["write"] * len(out_data), in_data=in_data,
                       out_data=out_data, aux=aux)

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        op = self._op(in_data, aux, False)
        with autograd.pause(train_mode=True):
            op.backward(req=req, out_grad=out_grad, in_data=in_data, out_data=out_data,
                        in_grad=in_grad, aux=aux)



# The storage types (inputs + aux, outputs) of the `mx.nd.Custom` call being pushed, which
# its forward (run at push) takes and clears, so that nested calls do not see them.
class _Pushing(threading.local):
    stypes = None


_PUSHING = _Pushing()


def _storage_types(attrs, in_stypes):
    """(inputs + aux, outputs) storage types from the prop of a Custom node's ``attrs``."""
    prop = _Bridge(attrs).prop
    n = len(prop.list_arguments())
    res = prop.infer_storage_type(list(in_stypes[:n]))
    auxs = list(res[2]) if len(res) > 2 else list(in_stypes[n:])
    return list(res[0]) + auxs, list(res[1])


def _output_stype(attrs, in_stypes):
    """The storage type a bound Custom node's outputs get: the prop's, where it gives all of
    them one (an executor output has one storage type per node)."""
    if attrs.get("op_type") == _FUNCTION_OP:
        return "default"  # a recorded mx.autograd.Function: its prop lives during the call
    outs = set(_storage_types(attrs, in_stypes)[1])
    return outs.pop() if len(outs) == 1 else "default"


def _sparse_call(invoke, op, arrays, kwargs, out):
    """``mx.nd.Custom`` with a sparse input: forward sees and the outputs get the storage
    types of the prop's ``infer_storage_type``, as in MXNet (oxnet's sparse arrays are dense
    underneath, so only their type changes)."""
    from .ndarray.sparse import _wrap  # noqa: PLC0415 - sparse builds on this module
    in_st = [getattr(a, "stype", "default") for a in arrays]
    ins, outs = _storage_types({k: str(v) for k, v in kwargs.items()}, in_st)
    _PUSHING.stypes = (ins, outs)
    try:
        res = invoke(op, arrays, kwargs, out)
    finally:
        _PUSHING.stypes = None
    if out is not None:
        return res
    if isinstance(res, (list, tuple)):
        return [_wrap(r, s) for r, s in zip(res, outs)]
    return _wrap(res, outs[0])


# `mx.autograd.Function` records its call on the tape as a Custom op of this type: forward
# hands over the outputs the Function already computed, backward calls Function.backward.
_FUNCTION_OP = "_autograd_function"
_PENDING_FUNCTIONS = {}


class _FunctionCall(CustomOp):
    def __init__(self, function, outputs):
        super().__init__()
        self.function, self.outputs = function, outputs

    def forward(self, is_train, req, in_data, out_data, aux):
        for dst, r, src in zip(out_data, req, self.outputs):
            self.assign(dst, r, src)

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        from .ndarray import NDArray
        name = type(self.function).__name__
        grads = self.function.backward(*out_grad)
        grads = (grads,) if isinstance(grads, NDArray) else tuple(grads)
        if len(grads) != len(in_grad):
            raise ValueError("%s.backward must return as many NDArrays as forward has inputs: "
                             "expected %d, got %d" % (name, len(in_grad), len(grads)))
        for i, (dst, r, g) in enumerate(zip(in_grad, req, grads)):
            if not isinstance(g, NDArray):
                raise TypeError("%s.backward must return NDArrays, got %s for input %d"
                                % (name, type(g).__name__, i))
            if g.shape != dst.shape:
                raise ValueError("%s.backward returned shape %s for input %d of shape %s"
                                 % (name, g.shape, i, dst.shape))
            self.assign(dst, r, g)


class _FunctionProp(CustomOpProp):
    def __init__(self, key):
        super().__init__(need_top_grad=True)
        self.function, self.n_inputs, self.outputs = _PENDING_FUNCTIONS[key]

    def list_arguments(self):
        return ["data%d" % i for i in range(self.n_inputs)]

    def list_outputs(self):
        return ["output%d" % i for i in range(len(self.outputs))]

    def infer_shape(self, in_shape):
        return in_shape, [o.shape for o in self.outputs], []

    def infer_type(self, in_type):
        return in_type, [o.dtype for o in self.outputs], []

    def create_operator(self, ctx, in_shapes, in_dtypes):
        return _FunctionCall(self.function, self.outputs)


_REGISTRY[_FUNCTION_OP] = _FunctionProp


def _record_function(function, inputs, outputs):
    """Records `function` (already run: `outputs`) on the autograd tape; returns the recorded
    outputs, equal to `outputs`."""
    from .ndarray import op as _ndop
    key = str(id(function))
    _PENDING_FUNCTIONS[key] = (function, len(inputs), outputs)
    try:
        res = _ndop.Custom(*inputs, op_type=_FUNCTION_OP, key=key)
    finally:
        del _PENDING_FUNCTIONS[key]
    return res if isinstance(res, (list, tuple)) else [res]


from .python_op import NDArrayOp, NumpyOp, PythonOp  # noqa: E402  (they build on the above)

__all__ += ["PythonOp", "NumpyOp", "NDArrayOp"]
