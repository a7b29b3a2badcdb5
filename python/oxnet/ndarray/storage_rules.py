"""MXNet's output storage types of operators on sparse inputs (its FInferStorageType).

The values are computed densely (sparse arrays are dense underneath, see `sparse`); a rule
says which storage type MXNet gives the result, and, where MXNet computes on the stored
entries alone (`x * inf`, `x / 0`, the scatter ops), which input's stored entries bound it.
A rule takes the op's input arrays and parameters and returns None (a dense result) or
(stype, that input or None). `register` calls `apply` from the generated op functions
whenever an input is sparse.
"""


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


def _csr_only(ins, params):
    return ("csr", None) if stype_of(ins[0]) == "csr" else None


def _row_sums(ins, params):
    axis = params.get("axis")
    ok = stype_of(ins[0]) == "row_sparse" and axis in (1, (1,)) and params.get("keepdims")
    return ("row_sparse", None) if ok else None


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
    "broadcast_mul": _csr_by_dense, "broadcast_div": _csr_by_dense,
    "add_n": _all_rsp, "ElementWiseSum": _all_rsp, "concat": _concat_rows, "Concat": _concat_rows,
    "slice": _csr_only, "_square_sum": _row_sums,
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
