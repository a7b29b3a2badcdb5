"""``mx.contrib.amp``: automatic mixed precision for symbolic graphs and Module users, as in
MXNet 1.9.1. ``convert_symbol``/``convert_model`` rewrite an FP32 graph for float16 or bfloat16
inference; ``init`` makes ``mx.sym``/``mx.nd`` insert the casts as graphs are built. Each target
has MXNet's own op lists. oxnet has no Gluon, so Gluon Trainers are refused by name."""
import json
import logging

import numpy as np

from ... import optimizer as opt
from ...base import TypeAssertionError as _BadType, ValueAssertionError as _BadValue
from ...base import bfloat16, _as_np_dtype, _np_dtype_name
from ...symbol import Symbol, load_json
from ...symbol.symbol import _DTYPE_FLAGS
from . import lists
from . import _graph
from . import _wrap
from .loss_scaler import LossScaler

__all__ = ["init", "init_trainer", "scale_loss", "unscale", "convert_model", "convert_symbol",
           "list_lp16_ops", "list_fp32_ops", "list_lp16_fp32_ops", "list_conditional_fp32_ops",
           "list_widest_type_cast", "list_loss_output_functions", "list_lp16_use_fp32_params",
           "LossScaler"]

_FLAG_DTYPE = {v: k for k, v in _DTYPE_FLAGS.items()}


def _target(func, target_dtype):
    """'float16' or 'bfloat16' for the spellings MXNet accepts; a clear error for anything else."""
    try:
        d = _as_np_dtype(target_dtype)
    except TypeError:
        d = None
    if d == np.float16 or d == bfloat16:
        return _np_dtype_name(d)
    raise _BadValue("amp.%s: target_dtype must be 'float16' or 'bfloat16' (got %r)"
                    % (func, target_dtype))


def _lister(name, attr, doc):
    """A public `list_*` function: the list `attr` of `lists` for a valid target dtype."""
    def listed(target_dtype):
        return getattr(lists.of(_target(name, target_dtype)), attr)
    listed.__name__ = listed.__qualname__ = name
    listed.__doc__ = doc
    return listed


list_lp16_ops = _lister("list_lp16_ops", "LP16_FUNCS", "Ops that AMP runs in the target dtype.")
list_fp32_ops = _lister("list_fp32_ops", "FP32_FUNCS", "Ops that AMP keeps in float32.")
list_lp16_fp32_ops = _lister("list_lp16_fp32_ops", "LP16_FP32_FUNCS",
                             "Ops that run in the precision of their inputs.")
list_conditional_fp32_ops = _lister(
    "list_conditional_fp32_ops", "CONDITIONAL_FP32_FUNCS",
    "(op, parameter, values) triples: the op stays float32 for those parameter values.")
list_widest_type_cast = _lister("list_widest_type_cast", "WIDEST_TYPE_CASTS",
                                "Ops whose inputs are all cast to the widest dtype among them.")
list_loss_output_functions = _lister(
    "list_loss_output_functions", "LOSS_OUTPUT_FUNCTIONS",
    "Loss heads whose ``grad_scale`` follows the loss scale (mx.nd after ``init``).")
list_lp16_use_fp32_params = _lister(
    "list_lp16_use_fp32_params", "LP16_USE_FP32_PARAMS",
    "Per-op inputs kept in float32 (by position, '' = cast): None for float16, as in MXNet.")


# ------------------------------------------------------------------------------ conversion
def _op_list(func, argname, value, default):
    if value is None:
        return list(default)
    if not isinstance(value, list):
        raise _BadType("amp.%s: %s must be a list of op names, got %s"
                       % (func, argname, type(value).__name__))
    return value


def _check_lists(func, target, target_ops, fp32_ops, conditional):
    for entry in conditional:
        if not (isinstance(entry, (tuple, list)) and len(entry) == 3 and isinstance(entry[0], str)
                and isinstance(entry[1], str) and isinstance(entry[2], list)):
            raise _BadType("amp.%s: conditional_fp32_ops must be a list of (op name, parameter "
                           "name, list of values), got entry %r" % (func, entry))
    cond_names = [c[0] for c in conditional]
    for (a, na), (b, nb) in (((target_ops, "target_dtype_ops"), (fp32_ops, "fp32_ops")),
                             ((target_ops, "target_dtype_ops"), (cond_names, "conditional_fp32_ops")),
                             ((fp32_ops, "fp32_ops"), (cond_names, "conditional_fp32_ops"))):
        common = sorted(set(a) & set(b))
        if common:
            raise _BadValue("amp.%s: an op can be in one list only; %s and %s share %s"
                            % (func, na, nb, common))
    ls = lists.of(target)
    known = set(ls.LP16_FUNCS + ls.FP32_FUNCS + ls.LP16_FP32_FUNCS
                + [c[0] for c in ls.CONDITIONAL_FP32_FUNCS])
    unknown = sorted(set(target_ops + fp32_ops + cond_names) - known)
    if unknown:
        raise _BadValue("amp.%s: ops %s are in none of amp.list_lp16_ops, list_fp32_ops, "
                        "list_lp16_fp32_ops or list_conditional_fp32_ops" % (func, unknown))


def convert_symbol(sym, target_dtype="float16", target_dtype_ops=None, fp32_ops=None,
                   conditional_fp32_ops=None, excluded_sym_names=None, data_names=None,
                   cast_optional_params=False):
    """Returns ``sym`` (an FP32 graph) with ``amp_cast``/``amp_multicast`` nodes so that the
    ops of ``target_dtype_ops`` run in ``target_dtype`` (float16 or bfloat16), those of ``fp32_ops`` (and of
    ``conditional_fp32_ops`` for the listed parameter values) in float32, and the
    widest-type ops in their inputs' widest dtype. ``excluded_sym_names`` stay float32.
    ``data_names`` are the graph's data inputs (default: every input without ``__dtype__``);
    the other inputs are parameters, which get a ``__dtype__`` attribute. With
    ``cast_optional_params`` a parameter read only through its cast is stored in the target
    dtype (``__dtype__`` 2 or 12) and the cast goes."""
    if not isinstance(sym, Symbol):
        raise _BadType("amp.convert_symbol: sym must be a Symbol, got %s" % type(sym).__name__)
    target = _target("convert_symbol", target_dtype)
    ls = lists.of(target)
    target_ops = _op_list("convert_symbol", "target_dtype_ops", target_dtype_ops, ls.LP16_FUNCS)
    fp32 = _op_list("convert_symbol", "fp32_ops", fp32_ops, ls.FP32_FUNCS)
    conditional = _op_list("convert_symbol", "conditional_fp32_ops", conditional_fp32_ops,
                           ls.CONDITIONAL_FP32_FUNCS)
    excluded = _op_list("convert_symbol", "excluded_sym_names", excluded_sym_names, [])
    _check_lists("convert_symbol", target, target_ops, fp32, conditional)

    inputs = sym.list_inputs()
    attrs = sym.attr_dict()
    if data_names is None:
        data_names = [n for n in inputs if "__dtype__" not in attrs.get(n, {})]
    elif not isinstance(data_names, (list, tuple)):
        raise _BadType("amp.convert_symbol: data_names must be a list of input names, got %s"
                       % type(data_names).__name__)
    params = set(inputs) - set(data_names)

    rewrite = _graph.ReducePrecision(target, target_ops, fp32, ls.WIDEST_TYPE_CASTS,
                                     conditional, excluded, data_names, cast_optional_params)
    graph = rewrite.run(json.loads(sym.tojson(remove_amp_cast=False)))
    return _set_input_dtypes(graph, data_names, params,
                             _np_dtype_name(target) if cast_optional_params else None)


def _set_input_dtypes(graph, data_names, params, optional_target=None):
    """MXNet records each parameter's dtype after the rewrite, as inference from float32 data
    gives it (float16 for parameters read uncast by a float16 op; float32 when nothing
    decides); the inputs' own ``__dtype__`` attributes take no part in that inference. With
    ``optional_target`` (cast_optional_params) an undecided input read by casts is decided
    as MXNet's AMPInferUnknown pass decides it."""
    var_nodes = {n["name"]: n for n in graph["nodes"] if n["op"] == "null"}
    plain = json.loads(json.dumps(graph))
    for n in plain["nodes"]:
        if n["op"] == "null":
            n.get("attrs", {}).pop("__dtype__", None)
    sym = load_json(json.dumps(plain))
    given = {n: "float32" for n in data_names if n in var_nodes}
    try:
        args, _, auxs = sym.infer_type_partial(**given)
        found = dict(zip(sym.list_arguments(), args))
        found.update(zip(sym.list_auxiliary_states(), auxs))
    except Exception:  # noqa: BLE001 - MXNet falls back to float32 where inference fails
        found = {}
    found = {k: None if t is None else _np_dtype_name(t) for k, t in found.items()}
    if optional_target is not None:
        found = _infer_cast_inputs(graph["nodes"], found, optional_target)
    changed = False
    for name, node in var_nodes.items():
        node_attrs = node.setdefault("attrs", {})
        # without parameters named, MXNet refreshes only the __dtype__ already present
        if name in params or (not params and "__dtype__" in node_attrs):
            t = found.get(name)
            flag = _DTYPE_FLAGS.get(t, 0) if t is not None else 0
            if name in data_names:
                flag = 0
            node_attrs["__dtype__"] = str(flag)
            changed = True
        if not node_attrs:
            del node["attrs"]
    return load_json(json.dumps(graph)) if changed else sym


def _infer_cast_inputs(nodes, found, target):
    """The dtypes of undecided inputs from the casts reading them (MXNet's AMPInferUnknown):
    an amp_cast's dtype, or the target dtype for an amp_multicast of inputs only; an input
    two casts disagree on goes back to undecided. ``found``: {input name: dtype or None}."""
    result, decided = dict(found), {}

    def decide(name, dtype):
        if name not in decided:
            if result.get(name) is None:
                decided[name] = result[name] = dtype
        elif decided[name] != dtype:
            result[name] = found.get(name)

    for node in nodes:  # the graph's order: inputs before their readers, as MXNet visits
        srcs = [nodes[e[0]] for e in node.get("inputs", [])]
        if node["op"] == "amp_cast" and "dtype" in node.get("attrs", {}):
            for src in srcs:
                if src["op"] == "null":
                    decide(src["name"], _np_dtype_name(node["attrs"]["dtype"]))
        elif node["op"] == "amp_multicast" and all(src["op"] == "null" for src in srcs):
            for src in srcs:
                decide(src["name"], target)
    return result


def convert_model(sym, arg_params, aux_params, target_dtype="float16", target_dtype_ops=None,
                  fp32_ops=None, conditional_fp32_ops=None, excluded_sym_names=None,
                  cast_optional_params=False):
    """``convert_symbol`` for a model: the inputs absent from ``arg_params``/``aux_params`` are
    its data; returns (symbol, arg_params, aux_params) with each parameter cast to the
    ``__dtype__`` the conversion gave it (the target dtype only with ``cast_optional_params``)."""
    _target("convert_model", target_dtype)
    if not isinstance(sym, Symbol):
        raise _BadType("amp.convert_model: sym must be a Symbol, got %s" % type(sym).__name__)
    for argname, value in (("arg_params", arg_params), ("aux_params", aux_params)):
        if not isinstance(value, dict):
            raise _BadType("amp.convert_model: %s must be a dict of name to NDArray, got %s"
                           % (argname, type(value).__name__))
    if excluded_sym_names is not None and not isinstance(excluded_sym_names, list):
        raise _BadType("amp.convert_model: excluded_sym_names must be a list of symbol names, "
                       "got %s" % type(excluded_sym_names).__name__)
    param_names = set(arg_params) | set(aux_params)
    data_names = [n for n in sym.list_inputs() if n not in param_names]
    sym = convert_symbol(sym, target_dtype, target_dtype_ops, fp32_ops, conditional_fp32_ops,
                         excluded_sym_names, data_names, cast_optional_params)
    attrs = sym.attr_dict()
    for names, params in ((sym.list_arguments(), arg_params), (sym.list_auxiliary_states(), aux_params)):
        for name in names:
            flag = attrs.get(name, {}).get("__dtype__")
            if name in params and flag not in (None, "-1"):
                dtype = _FLAG_DTYPE[int(flag)]
                if params[name].dtype != _as_np_dtype(dtype):
                    params[name] = params[name].astype(dtype)
    return sym, arg_params, aux_params


# ------------------------------------------------------------------------------ init, loss scaling
_state = {"initialized": False, "loss_scaler": None, "scaler_taken": False}


def init(target_dtype="float16", target_precision_ops=None, conditional_fp32_ops=None,
         fp32_ops=None):
    """Makes the ``mx.sym``/``mx.nd`` op functions cast their inputs as AMP's lists say (call
    before building the model). A second call only warns, as MXNet's does nothing then."""
    if _state["initialized"]:
        logging.warning("amp.init: AMP is already initialized; this call changes nothing")
        return
    target = _target("init", target_dtype)
    ls = lists.of(target)
    for argname, value in (("target_precision_ops", target_precision_ops),
                           ("conditional_fp32_ops", conditional_fp32_ops), ("fp32_ops", fp32_ops)):
        if value is not None and not isinstance(value, list):
            raise _BadType("amp.init: %s must be a list, got %s" % (argname, type(value).__name__))
    _state["initialized"] = True
    logging.info("Using AMP")
    scaler = _state["loss_scaler"] = LossScaler()
    _wrap.wrap_all(_as_np_dtype(target),
                   target_precision_ops if target_precision_ops is not None else ls.LP16_FUNCS,
                   conditional_fp32_ops if conditional_fp32_ops is not None
                   else ls.CONDITIONAL_FP32_FUNCS,
                   fp32_ops if fp32_ops is not None else ls.FP32_FUNCS,
                   ls.WIDEST_TYPE_CASTS, ls.LOSS_OUTPUT_FUNCTIONS, scaler,
                   ls.LP16_USE_FP32_PARAMS or {})


def _no_trainer(func, obj):
    if isinstance(obj, opt.Optimizer):
        # MXNet 1.9.1 refuses Optimizers too: neither its Module nor its optimizers read a loss
        # scaler, so accepting one would silently train without loss scaling.
        raise TypeError("amp.%s: optimizer_or_trainer is an Optimizer (%s); AMP loss scaling "
                        "works only with a Gluon Trainer in MXNet 1.9.1, and oxnet has no Gluon. "
                        "For Module training keep the model in float32, or scale the loss "
                        "yourself (grad_scale of the loss op, rescale_grad of the optimizer)"
                        % (func, type(obj).__name__))
    raise TypeError("amp.%s: optimizer_or_trainer must be a Gluon Trainer or an Optimizer, got %s"
                    % (func, type(obj).__name__))


def init_trainer(optimizer_or_trainer):
    """MXNet attaches dynamic loss scaling to a Gluon Trainer; oxnet has no Gluon, so every
    argument is refused with a TypeError that says why."""
    if not _state["initialized"]:
        raise RuntimeError("amp.init_trainer: AMP is not initialized; call amp.init() first")
    _no_trainer("init_trainer", optimizer_or_trainer)


def unscale(optimizer_or_trainer):
    """Gluon-only in MXNet 1.9.1 (gradients of a Trainer); refused here as in ``init_trainer``."""
    _no_trainer("unscale", optimizer_or_trainer)


def scale_loss(loss, optimizer_or_trainer):
    """Gluon-only in MXNet 1.9.1 (it needs ``init_trainer``); refused here as there."""
    _no_trainer("scale_loss", optimizer_or_trainer)
