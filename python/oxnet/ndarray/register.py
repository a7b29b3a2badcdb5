"""Generates `mx.nd.<op>` functions from the Rust operator registry (one definition per op)."""
import keyword

from .. import _native
from ..base import _Null
from . import storage_rules

_invoke = _native.invoke

# Legacy ops whose auxiliary states MXNet's generated functions leave out (they list arguments
# only): they come after the parameters here, so positional parameters land where MXNet's do.
_TRAILING_AUX = {"BatchNorm_v1": ("moving_mean", "moving_var"),
                 "IdentityAttachKLSparseReg": ("moving_avg",)}


def _signature_inputs(name, inputs):
    """(inputs before the parameters, inputs after them)."""
    aux = _TRAILING_AUX.get(name, ())
    return [i for i in inputs if i not in aux], [i for i in inputs if i in aux]


def _doc(name, doc, params, inputs, variadic, group=1):
    lines = [doc, "", "Parameters", "----------"]
    if variadic and group > 1:
        lines += ["*%s : NDArray" % inputs[0],
                  "    Input arrays, %d per group; %s is their number of groups." % (group, variadic)]
    elif variadic:
        lines += ["*%s : NDArray" % inputs[0], "    Input arrays (any number)."]
    else:
        lines += ["%s : NDArray" % i + "\n    Input array." for i in inputs]
    for pname, ty, default, pdoc in params:
        if variadic and pname == variadic and group == 1:
            continue
        opt = ", required" if default is None else ", optional, default=%s" % default
        lines.append("%s : %s%s" % (pname, ty, opt))
        if pdoc:
            lines.append("    " + pdoc)
    lines += ["out : NDArray, optional", "    The output array.", "", "Returns", "-------",
              "out : NDArray or list of NDArrays", "    The output of this function."]
    return "\n".join(lines)


def _call(rule, forward_stype=False):
    """The generated function's last lines: the op, then MXNet's output storage type when the
    op has a storage rule and an input is sparse (a dense input costs one class test), or,
    for an op with `forward_stype`, when that is given."""
    if rule is None:
        return "    return _invoke(_op, _in, kwargs, out)\n"
    asked = ("        if kwargs.get('forward_stype') not in (None, 'None'):\n"
             "            return _apply(_rule, _in, kwargs, res)\n") if forward_stype else ""
    return ("    res = _invoke(_op, _in, kwargs, out)\n"
            "    if out is None:\n" + asked +
            "        for _x in _in:\n"
            "            if _x.__class__ is not _NDArray:\n"
            "                return _apply(_rule, _in, kwargs, res)\n"
            "    return res\n")


def _sparse_custom(*args):
    from ..operator import _sparse_call  # noqa: PLC0415 - operator builds on mx.nd
    return _sparse_call(*args)


def _make(fname, name, doc, params, inputs, variadic, group):
    op = _native.get_op(name)
    pnames = [p[0] for p in params if not (variadic and p[0] == variadic)]
    pnames = [p for p in pnames if p.isidentifier() and not keyword.iskeyword(p) and p not in inputs]
    rule = storage_rules.RULES.get(fname) or storage_rules.RULES.get(name)
    g = {"_invoke": _invoke, "_op": op, "_Null": _Null, "_rule": rule,
         "_apply": storage_rules.apply, "_NDArray": _native.NDArray}
    if group < 0:
        # Inputs named by the configured op (Custom): positional arrays only; sparse ones
        # take the prop's storage types.
        g["_sparse_custom"] = _sparse_custom
        src = (
            "def {f}(*{a}, out=None, name=None, **kwargs):\n"
            "    if len({a}) == 1 and isinstance({a}[0], (list, tuple)):\n"
            "        {a} = {a}[0]\n"
            "    for _x in {a}:\n"
            "        if _x.__class__ is not _NDArray:\n"
            "            return _sparse_custom(_invoke, _op, {a}, kwargs, out)\n"
            "    return _invoke(_op, {a}, kwargs, out)\n"
        ).format(f=fname, a=inputs[0])
    elif variadic:
        arg = inputs[0]
        src = (
            "def {f}(*{a}, out=None, name=None, **kwargs):\n"
            "    if len({a}) == 1 and isinstance({a}[0], (list, tuple)):\n"
            "        {a} = {a}[0]\n"
            "    kwargs.setdefault('{c}', len({a}) // {g})\n"
            "    _in = {a}\n"
        ).format(f=fname, a=arg, c=variadic, g=group) + _call(rule)
    else:
        lead, trail = _signature_inputs(name, inputs)
        sig = ", ".join(["%s=None" % i for i in lead] + ["%s=_Null" % p for p in pnames]
                        + ["%s=None" % i for i in trail] + ["out=None", "name=None", "**kwargs"])
        body = ["def %s(%s):" % (fname, sig)]
        # A tuple, not a comprehension: the comprehension's frame was a sixth of a tiny op's
        # dispatch time.
        body.append("    _in = (%s)" % "".join(i + ", " for i in inputs))
        if inputs:
            body.append("    if %s:" % " or ".join("%s is None" % i for i in inputs))
            body.append("        _in = tuple(x for x in _in if x is not None)")
        for p in pnames:
            body.append("    if %s is not _Null: kwargs['%s'] = %s" % (p, p, p))
        src = "\n".join(body) + "\n" + _call(rule, "forward_stype" in pnames)
    exec(compile(src, "<oxnet op %s>" % name, "exec"), g)  # noqa: S102 - generated from the registry
    f = g[fname]
    f.__doc__ = _doc(name, doc, params, inputs, variadic, group)
    f.__module__ = "oxnet.ndarray"
    return f


def make_op_functions():
    """{python name: function} for every registry op and alias."""
    funcs = {}
    by_name = {}
    for name, *spec in _native.list_ops():
        by_name[name] = spec
        funcs[name] = _make(name, name, *spec)
    for alias, target in _native.list_aliases():
        funcs[alias] = _make(alias, target, *by_name[target])
    return funcs
