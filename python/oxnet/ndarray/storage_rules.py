"""MXNet's output storage types of operators on sparse inputs (its FInferStorageType).

The values are computed densely (sparse arrays are dense underneath, see `sparse`); a rule
says which storage type MXNet gives the result, and, where MXNet computes on the stored
entries alone (`x * inf`, `x / 0`, the scatter ops), which input's stored entries bound it.
A rule takes the op's input arrays and parameters and returns None (a dense result) or
(stype, that input or None). `register` calls `apply` from the generated op functions
whenever an input is sparse; executors call `graph_outputs` for their outputs.
"""
import ast
import json


def stype_of(x):
    return getattr(x, "stype", "default")


def keep_on_stored(ins, params):
    return stype_of(ins[0]), ins[0]


def dense(ins, params):
    return None


def _keep(ins, params):
    return stype_of(ins[0]), None


def _keep_if_zero_scalar(ins, params):
    return (stype_of(ins[0]), None) if float(params.get("scalar", 0)) == 0 else None


def _compare(fn):
    # A comparison keeps the storage type when it maps 0 to false.
    def rule(ins, params):
        return None if fn(0.0, float(params.get("scalar", 0))) else (stype_of(ins[0]), ins[0])
    return rule


def _same_sparse(ins, params):
    s = stype_of(ins[0])
    return (s, None) if len(ins) == 2 and s == stype_of(ins[1]) else None


def _mul(ins, params):
    if len(ins) != 2:
        return None
    a, b = stype_of(ins[0]), stype_of(ins[1])
    if a == b:
        return a, None
    if b == "default":
        return a, ins[0]
    return (b, ins[1]) if a == "default" else None


def _csr_by_dense(ins, params):
    ok = len(ins) == 2 and stype_of(ins[0]) == "csr" and stype_of(ins[1]) == "default"
    return ("csr", ins[0]) if ok else None


def _all_rsp(ins, params):
    return ("row_sparse", None) if all(stype_of(x) == "row_sparse" for x in ins) else None


def _concat_rows(ins, params):
    ok = int(params.get("dim", 1)) == 0 and all(stype_of(x) == "csr" for x in ins)
    return ("csr", None) if ok else None


def _csr_slice(ins, params):
    # MXNet's csr slice has no step: a step other than 1 falls back to a dense result.
    step = params.get("step") or ()
    step = step if isinstance(step, (tuple, list)) else (step,)
    plain = all(v in (None, 1, "None") for v in step)
    return ("csr", None) if stype_of(ins[0]) == "csr" and plain else None


def _csr_rows_taken(ins, params):
    ok = (stype_of(ins[0]) == "csr" and int(params.get("axis", 0)) == 0
          and params.get("mode", "clip") in ("clip", "wrap"))
    return ("csr", None) if ok else None


def _csr_if_no_constant(ins, params):
    ok = stype_of(ins[0]) == "csr" and float(params.get("c", 0)) == 0
    return ("csr", None) if ok else None


def _rows_of_rsp_lhs(ins, params):
    # Computed on the rows the lhs stores: 0 / 0 stays 0 elsewhere.
    ok = stype_of(ins[0]) == "row_sparse" and stype_of(ins[1]) in ("row_sparse", "csr", "default")
    return ("row_sparse", ins[0]) if ok else None


def _flag(v):
    return str(v).lower() in ("true", "1")


def _dot(ins, params):
    # MXNet's: the requested forward_stype, else csr.T . (dense or row_sparse) is row_sparse
    # and dense . csr is csr.
    want = params.get("forward_stype")
    if want not in (None, "None"):
        return want, None
    a, b = stype_of(ins[0]), stype_of(ins[1])
    ta, tb = _flag(params.get("transpose_a")), _flag(params.get("transpose_b"))
    if a == "csr" and ta and not tb and b in ("default", "row_sparse"):
        return "row_sparse", None
    if a == "default" and not ta and b == "csr" and getattr(ins[0], "ndim", 2) == 2:
        return "csr", None
    return None


def _row_sums(ins, params):
    axis = params.get("axis")
    ok = stype_of(ins[0]) == "row_sparse" and axis in (1, (1,)) and params.get("keepdims")
    return ("row_sparse", None) if ok else None


def _custom(ins, params):
    # The prop's infer_storage_type, when it gives every output one storage type; the
    # prop takes the node's own attributes, not the hidden ones (`__ctx_group__`).
    from ..operator import _output_stype  # noqa: PLC0415 - operator builds on mx.nd
    attrs = {k: str(v) for k, v in params.items() if not k.startswith("__")}
    stype = _output_stype(attrs, [stype_of(x) for x in ins])
    return None if stype == "default" else (stype, None)


_ZERO_PRESERVING = ("abs", "sign", "round", "rint", "ceil", "floor", "trunc", "fix", "square",
                    "sqrt", "sin", "tan", "arcsin", "arctan", "sinh", "tanh", "arcsinh", "arctanh",
                    "expm1", "log1p", "degrees", "radians", "relu", "cbrt", "zeros_like",
                    "stop_gradient", "BlockGrad", "clip", "_copy", "identity", "make_loss")
RULES = dict.fromkeys(_ZERO_PRESERVING, _keep)
RULES.update({
    "negative": keep_on_stored,  # -0 stays 0 where nothing is stored
    "_mul_scalar": keep_on_stored, "_div_scalar": keep_on_stored,
    "_scatter_plus_scalar": keep_on_stored, "_scatter_minus_scalar": keep_on_stored,
    "_plus_scalar": _keep_if_zero_scalar, "_minus_scalar": _keep_if_zero_scalar,
    "_equal_scalar": _compare(lambda a, b: a == b),
    "_not_equal_scalar": _compare(lambda a, b: a != b),
    "_greater_scalar": _compare(lambda a, b: a > b),
    "_greater_equal_scalar": _compare(lambda a, b: a >= b),
    "_lesser_scalar": _compare(lambda a, b: a < b),
    "_lesser_equal_scalar": _compare(lambda a, b: a <= b),
    "elemwise_add": _same_sparse, "elemwise_sub": _same_sparse, "elemwise_mul": _mul,
    "_grad_add": _same_sparse,
    "_maximum": _same_sparse, "_minimum": _same_sparse, "_hypot": _same_sparse,
    "_scatter_elemwise_div": _rows_of_rsp_lhs, "_sparse_retain": _keep,
    "take": _csr_rows_taken, "dot": _dot, "_contrib_quadratic": _csr_if_no_constant,
    "broadcast_mul": _csr_by_dense, "broadcast_div": _csr_by_dense,
    "add_n": _all_rsp, "ElementWiseSum": _all_rsp, "concat": _concat_rows, "Concat": _concat_rows,
    "slice": _csr_slice, "_square_sum": _row_sums, "Custom": _custom,
})


def apply(rule, ins, params, res):
    """`res` (the dense result of an op on `ins`) with the storage type `rule` gives it."""
    from . import sparse
    found = rule(ins, params)
    if not found or found[0] == "default" or not hasattr(res, "stype"):
        return res
    stype, on = found
    if on is not None:
        return sparse._on_stored(on, res, sparse._CLASSES[stype])
    return sparse._wrap(res, stype)


class _Slot:
    """A graph entry as the rules see it: its storage type and, for a bound argument, its
    array."""
    __slots__ = ("stype", "arg")

    def __init__(self, stype, arg=None):
        self.stype, self.arg = stype, arg


def _param(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def graph_outputs(sym, args):
    """MXNet's storage type of each output of `sym` bound to `args` ({name: NDArray}), as
    [(stype, the argument array whose stored entries alone the output is computed on, or
    None)], or None when every output is dense. An output computed on the stored entries
    of an intermediate entry keeps only its storage type."""
    text = sym.tojson()
    if all(stype_of(a) == "default" for a in args.values()) and "forward_stype" not in text:
        return None
    graph = json.loads(text)
    slots, on_arg = [], []
    for node in graph["nodes"]:
        if node["op"] == "null":
            arr = args.get(node["name"])
            slots.append(_Slot(stype_of(arr), arr) if arr is not None else _Slot("default"))
            on_arg.append(None)
            continue
        rule = RULES.get(node["op"])
        ins = [slots[src] for src, _, _ in node["inputs"]]
        params = {k: _param(v) for k, v in node.get("attrs", {}).items()}
        found = rule(ins, params) if rule is not None else None
        slots.append(_Slot(found[0] if found else "default"))
        on_arg.append(found[1].arg if found and found[1] is not None else None)
    heads = [(slots[i].stype, on_arg[i]) for i, _, _ in graph["heads"]]
    return None if all(st == "default" for st, _ in heads) else heads
