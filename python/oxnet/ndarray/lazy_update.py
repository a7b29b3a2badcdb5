"""MXNet's lazy updates: `sgd_update`, `sgd_mom_update` and `adam_update` given a row_sparse
gradient with `lazy_update=True` (the default) change only the rows the gradient stores, in the
weight and in every state; the other rows get no weight decay and no momentum step.

oxnet stores sparse arrays densely (see `sparse`), so the registry ops always update every row;
these wrappers run them on the stored rows alone and write those rows back. A dense gradient, or
`lazy_update=False`, is the plain op, as in MXNet.
"""
import functools
import inspect


# Op name -> its state inputs, which the update changes in place.
LAZY_OPS = {"sgd_update": (), "sgd_mom_update": ("mom",), "adam_update": ("mean", "var"),
            "ftrl_update": ("z", "n")}
# Lazy only on a row_sparse weight: with a dense one MXNet falls back to the dense update.
SPARSE_WEIGHT_ONLY = {"ftrl_update"}


def _lazy_storage(weight, states, sparse_weight_only):
    """MXNet dispatches the lazy kernel only for a dense or row_sparse weight whose states
    have its storage type (a row_sparse weight with a hand-made dense momentum takes the
    standard update, every row)."""
    stype = getattr(weight, "stype", "default")
    if stype not in ("default", "row_sparse") or (sparse_weight_only and stype != "row_sparse"):
        return False
    return all(getattr(s, "stype", "default") == stype for s in states)


def _is_lazy(flag):
    if isinstance(flag, str):
        return flag.strip().lower() in ("true", "1")
    return bool(flag)


def lazy_rows(fn, states, sparse_weight_only=False):
    """`fn` (a generated op function) with MXNet's row_sparse lazy update."""
    sig = inspect.signature(fn)
    grad_at = list(sig.parameters).index("grad")

    @functools.wraps(fn)
    def update(*args, **kwargs):
        # A dense gradient, nearly every call, skips binding (a third of a small training
        # step's Python time went there).
        grad = args[grad_at] if len(args) > grad_at else kwargs.get("grad")
        if getattr(grad, "stype", None) != "row_sparse":
            return fn(*args, **kwargs)
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError:
            return fn(*args, **kwargs)  # the op names what is wrong
        a = bound.arguments
        grad, weight = a.get("grad"), a.get("weight")
        if (getattr(grad, "stype", None) != "row_sparse" or weight is None
                or any(a.get(name) is None for name in states)
                or not _is_lazy(a.get("lazy_update", True)) or grad.shape != weight.shape
                or not _lazy_storage(weight, [a[n] for n in states], sparse_weight_only)):
            return fn(*args, **kwargs)
        rows = grad.indices
        if rows.shape[0] == grad.shape[0]:
            return fn(*args, **kwargs)  # every row stored: the plain update is the same
        out = a.get("out")
        target = weight if out is None or out is weight else out
        if target is not weight:
            weight.copyto(target)
        elif out is None:
            target = weight.copy()
        if rows.shape[0] == 0:
            return target
        part = dict(a)
        part.update(part.pop("kwargs", {}))
        for name in ("weight", "grad") + states:
            part[name] = a[name].take(rows)
        part["out"] = None
        new = fn(**part)
        # The rows written back in place (a sparse array's own [] takes only [:]).
        from . import _internal  # this module is loaded while `_internal` is being built
        _internal._set_rows(target, rows, new)
        for name in states:
            _internal._set_rows(a[name], rows, part[name])
        return target

    return update
