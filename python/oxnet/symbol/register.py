"""Generates ``mx.sym.<op>`` functions from the Rust operator registry, with the signatures of
``mx.nd.<op>`` (same parameter lists and docs). Each function names its symbol through the
current NameManager with the Python function name lowercased as hint (MXNet's rule), and
passes the current AttrScope's attributes to the op."""
import keyword

from .. import _native
from ..attribute import AttrScope
from ..base import _Null
from ..name import NameManager
from ..ndarray.register import _doc, _signature_inputs
from .symbol import Symbol, _create


def _scope_attrs(attr):
    return AttrScope.current.get(attr)


def _name(name, hint):
    return NameManager.current.get(name, hint)


def _check_sym(argname, v):
    if not isinstance(v, Symbol):
        raise TypeError("Argument %s must be Symbol instances, but got %s" % (argname, str(v)))
    return v


def _make(fname, name, doc, params, inputs, variadic, group):
    pnames = [p[0] for p in params if not (variadic and p[0] == variadic)]
    pnames = [p for p in pnames if p.isidentifier() and not keyword.iskeyword(p)
              and p not in inputs and p not in ("name", "attr", "out")]
    g = {"_create": _create, "_Null": _Null, "_Symbol": Symbol, "_scope_attrs": _scope_attrs,
         "_name": _name, "_check_sym": _check_sym, "_op": name}
    hint = fname.lower()
    if variadic or group < 0:
        arg = inputs[0]
        head = (
            "def {f}(*{a}, **kwargs):\n"
            "    if len({a}) == 1 and isinstance({a}[0], (list, tuple)):\n"
            "        {a} = tuple({a}[0])\n"
            "    for _i, _s in enumerate({a}):\n"
            "        _check_sym('{a}[%d]' % _i, _s)\n"
            "    _attr = kwargs.pop('attr', None)\n"
            "    kwargs.update(_scope_attrs(_attr))\n"
            "    _nm = _name(kwargs.pop('name', None), '{h}')\n"
            "    kwargs.pop('out', None)\n"
            "    _skw = {{_k: kwargs.pop(_k) for _k in list(kwargs) if isinstance(kwargs[_k], _Symbol)}}\n"
        )
        if group == 1:
            tail = (
                "    if {a} and _skw:\n"
                "        raise TypeError('Operators with variable length input can only accept input '\n"
                "                        'Symbols either as positional or keyword arguments, not both')\n"
                "    if '{c}' not in kwargs:\n"
                "        kwargs['{c}'] = len({a}) if {a} else len(_skw)\n"
                "    return _create(_op, _nm, kwargs, {a} or tuple(_skw.values()))\n"
            )
        else:
            # Groups of named inputs (weight_0, grad_0, ...), or inputs named by the configured
            # op (Custom): positional or by name.
            tail = ("    kwargs.setdefault('{c}', (len({a}) + len(_skw)) // {g})\n" if variadic else "") \
                + "    return _create(_op, _nm, kwargs, {a}, _skw)\n"
        src = (head + tail).format(f=fname, a=arg, c=variadic, h=hint, g=group)
    else:
        lead, trail = _signature_inputs(name, inputs)
        sig = ", ".join(["%s=None" % i for i in lead] + ["%s=_Null" % p for p in pnames]
                        + ["%s=None" % i for i in trail] + ["name=None", "attr=None", "out=None", "**kwargs"])
        body = ["def %s(%s):" % (fname, sig)]
        body.append("    kwargs.update(_scope_attrs(attr))")
        body.append("    _skw = {_k: kwargs.pop(_k) for _k in list(kwargs) if isinstance(kwargs[_k], _Symbol)}")
        for i in inputs:
            body.append("    if %s is not None: _skw['%s'] = _check_sym('%s', %s)" % (i, i, i, i))
        for p in pnames:
            body.append("    if %s is not _Null: kwargs['%s'] = %s" % (p, p, p))
        body.append("    return _create(_op, _name(name, '%s'), kwargs, (), _skw)" % hint)
        src = "\n".join(body) + "\n"
    exec(compile(src, "<oxnet symbol op %s>" % name, "exec"), g)  # noqa: S102 - generated from the registry
    f = g[fname]
    f.__doc__ = _doc(name, doc, params, inputs, variadic, group).replace("NDArray", "Symbol")
    f.__module__ = "oxnet.symbol"
    return f


def make_op_functions():
    """{python name: function} for every registry op and alias."""
    funcs = {}
    by_name = {}
    for name, *spec in _native.list_ops():
        by_name[name] = spec
        funcs[name] = _make(name, name, *spec)
    for alias, target in _native.list_aliases():
        if target in by_name:
            funcs[alias] = _make(alias, target, *by_name[target])
    return funcs


def make_namespace_functions(prefix):
    """{short name: function} for the registry ops named ``<prefix><short>``, as MXNet
    generates them into ``mx.sym.contrib``/``linalg``/``random``: the short name is also the
    hint of the automatic node names (``mx.sym.contrib.box_iou`` makes ``box_iou0``)."""
    specs = {name: spec for name, *spec in _native.list_ops()}
    named = [(name, name) for name in specs]
    named += [(alias, target) for alias, target in _native.list_aliases() if target in specs]
    return {name[len(prefix):]: _make(name[len(prefix):], target, *specs[target])
            for name, target in named if name.startswith(prefix)}
