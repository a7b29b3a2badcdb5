"""``amp.init``: replaces the generated ``mx.sym``/``mx.nd`` op functions with wrappers that cast
their inputs, as MXNet 1.9.1's ``_wrap_symbol_functions`` does.

A symbol wrapper builds the op as asked, then rebuilds its node over cast inputs (auxiliary
states excluded) under the same name, so that parameters the op created itself (``fc_weight``)
are cast too. An NDArray wrapper casts only float32 arrays (and bfloat16 on CPU, float16 off it),
as MXNet. ``keep`` (bfloat16's ``BF16_USE_FP32_PARAMS``) names, by position, the inputs left as
they are: a true entry keeps input i (and a keyword argument of that name)."""
import json
import logging

import numpy as np

from ... import ndarray
from ... import symbol
from ...base import bfloat16, _np_dtype_name
from ...ndarray import NDArray
from ...symbol import Symbol
from ...symbol.symbol import _create

# MXNet's op-name prefixes and the submodule each one's functions live in.
_PREFIXES = ("_contrib_", "_linalg_", "_sparse_", "_image_", "_random_")


def _places(name, module):
    """(namespace, attribute) pairs holding op ``name``'s function in ``module``."""
    for prefix in _PREFIXES:
        if name.startswith(prefix) and (prefix != "_random_" or name.endswith("_like")):
            return [(getattr(module, prefix[1:-1], None), name[len(prefix):])]
    if name.startswith("_"):
        return [(module._internal, name)]
    return [(module, name), (module.op, name)]


def _same_meta(new, f):
    new.__name__, new.__module__, new.__doc__ = f.__name__, f.__module__, f.__doc__
    return new


def _skip(cond, kwargs):
    return cond is not None and (cond[0] not in kwargs or kwargs[cond[0]] not in cond[1])


def _kept(keep, i):
    return keep is not None and i < len(keep) and bool(keep[i])


def _symbol_wrapper(f, dtype, cond=None, keep=None):
    dtype = _np_dtype_name(dtype)
    def wrapped(*args, **kwargs):
        if _skip(cond, kwargs):
            return f(*args, **kwargs)
        sym = f(*args, **kwargs)
        children = sym.get_children()
        aux = set(sym.list_auxiliary_states())
        inputs = [c if c.name in aux or _kept(keep, i) else symbol.amp_cast(c, dtype=dtype)
                  for i, c in enumerate(children if children is not None else [])]
        graph = json.loads(sym.tojson(remove_amp_cast=False))
        head = graph["nodes"][graph["heads"][0][0]]
        return _create(head["op"], sym.name, head.get("attrs", {}), inputs)
    return _same_meta(wrapped, f)


def _cast_array(x, dtype):
    if not isinstance(x, NDArray) or x.dtype == dtype:
        return x
    on_cpu = x.context.device_type == "cpu"
    # MXNet casts float16 <-> float32 off CPU, bfloat16 <-> float32 on it.
    castable = (np.float32, bfloat16) if on_cpu else (np.float16, np.float32)
    return ndarray.amp_cast(x, dtype=dtype) if x.dtype in castable else x


def _ndarray_wrapper(f, dtype, cond=None, keep=None):
    def wrapped(*args, **kwargs):
        if _skip(cond, kwargs):
            return f(*args, **kwargs)
        args = [a if _kept(keep, i) else _cast_array(a, dtype) for i, a in enumerate(args)]
        kwargs = {k: v if keep and k in keep else _cast_array(v, dtype) for k, v in kwargs.items()}
        return f(*args, **kwargs)
    return _same_meta(wrapped, f)


def _widest_wrapper(f, target):
    def wrapped(*args, **kwargs):
        args = list(args)
        found = [(args, i, a) for i, a in enumerate(args) if isinstance(a, (Symbol, NDArray))]
        found += [(kwargs, k, v) for k, v in kwargs.items() if isinstance(v, (Symbol, NDArray))]
        if any(isinstance(a, Symbol) for _, _, a in found):
            casts = symbol.amp_multicast(*[a for _, _, a in found], num_outputs=len(found))
            for (holder, key, _), cast in zip(found, casts):
                holder[key] = cast
        elif any(a.dtype == np.float32 for _, _, a in found):
            for holder, key, a in found:
                if a.dtype == target:
                    holder[key] = ndarray.amp_cast(a, dtype=np.float32)
        return f(*args, **kwargs)
    return _same_meta(wrapped, f)


# The op MXNet's NDArray operators run for two arrays, which its `amp.init()` wraps.
_NDARRAY_OPERATORS = {"__add__": "broadcast_add", "__sub__": "broadcast_sub",
                      "__mul__": "broadcast_mul", "__truediv__": "broadcast_div",
                      "__mod__": "broadcast_mod", "__pow__": "broadcast_power",
                      "__eq__": "broadcast_equal", "__ne__": "broadcast_not_equal",
                      "__gt__": "broadcast_greater", "__ge__": "broadcast_greater_equal",
                      "__lt__": "broadcast_lesser", "__le__": "broadcast_lesser_equal"}


def _wrap_operators(widest_ops, target):
    """The Python operators between Symbols (an ``amp_multicast`` first) and between NDArrays
    (the ``target`` one cast to float32 beside a float32 one), as MXNet's run through the op
    functions ``amp.init`` wraps."""
    symbol.symbol.AMP_WIDEST.update(widest_ops)
    for method, op in _NDARRAY_OPERATORS.items():
        if op not in widest_ops:
            continue
        f = getattr(NDArray, method)

        def wrapped(self, other, _f=f):
            if isinstance(other, NDArray):
                if self.dtype == target and other.dtype == np.float32:
                    self = ndarray.amp_cast(self, dtype=np.float32)
                elif self.dtype == np.float32 and other.dtype == target:
                    other = ndarray.amp_cast(other, dtype=np.float32)
            return _f(self, other)
        setattr(NDArray, method, wrapped)


def _wrap(module, names, make):
    for name in names:
        for space, attr in _places(name, module):
            f = getattr(space, attr, None) if space is not None else None
            if f is None:
                logging.debug("amp.init: %s has no function for op %s", module.__name__, name)
                continue
            setattr(space, attr, make(f))


def _wrap_losses(scaler, names):
    def scaled(f):
        def wrapped(*args, **kwargs):
            kwargs["grad_scale"] = kwargs.get("grad_scale", 1.0) * scaler.loss_scale
            return f(*args, **kwargs)
        return _same_meta(wrapped, f)

    def warned(f):
        def wrapped(*args, **kwargs):
            logging.warning("%s does not support dynamic loss scaling in symbolic and hybridized "
                            "execution.", f.__name__)
            return f(*args, **kwargs)
        return _same_meta(wrapped, f)

    for module, make in ((ndarray, scaled), (symbol, warned)):
        for name in names:
            f = getattr(module, name, None)
            if f is not None:
                setattr(module, name, make(f))


def wrap_all(target, lp_ops, conditional_fp32_ops, fp32_ops, widest_ops, loss_ops, scaler,
             use_fp32_params):
    """Installs every wrapper into ``mx.sym`` and ``mx.nd`` (``target`` a numpy dtype)."""
    for module, wrapper in ((symbol, _symbol_wrapper), (ndarray, _ndarray_wrapper)):
        for name in lp_ops:
            keep = use_fp32_params.get(name)
            _wrap(module, [name], lambda f, w=wrapper, k=keep: w(f, target, keep=k))
        _wrap(module, fp32_ops, lambda f, w=wrapper: w(f, np.float32))
        for name, param, values in conditional_fp32_ops:
            _wrap(module, [name], lambda f, w=wrapper, c=(param, values): w(f, np.float32, c))
        _wrap(module, widest_ops, lambda f: _widest_wrapper(f, target))
    _wrap_operators(widest_ops, target)
    _wrap_losses(scaler, loss_ops)
