"""ONNX -> MXNet converters for tensor operators: arithmetic, shape, slicing, reductions."""
import numpy as np

from ... import symbol as S
from ...symbol import _internal
from .import_model import register
from .import_ops import _axes, _ints, _sym

# Slice ends at or beyond this (INT32/INT64_MAX by convention) mean "to the end".
_BIG_END = 2 ** 31 - 1

# ONNX binary op -> (broadcast op, scalar op, reversed scalar op)
_BINARY = {
    "Add": ("broadcast_add", "_plus_scalar", "_plus_scalar"),
    "Sub": ("broadcast_sub", "_minus_scalar", "_rminus_scalar"),
    "Mul": ("broadcast_mul", "_mul_scalar", "_mul_scalar"),
    "Div": ("broadcast_div", "_div_scalar", "_rdiv_scalar"),
    "Pow": ("broadcast_power", "_power_scalar", "_rpower_scalar"),
    "Max": ("broadcast_maximum", "_maximum_scalar", "_maximum_scalar"),
    "Min": ("broadcast_minimum", "_minimum_scalar", "_minimum_scalar"),
    "Mod": ("broadcast_mod", "_mod_scalar", "_rmod_scalar"),
}


def _scalar(im, name, kinds="f"):
    """The float value of a one-element constant of a dtype kind in ``kinds``, else None."""
    if im.is_const(name):
        v = im.params[name]
        if v.size == 1 and v.dtype.kind in kinds:
            return float(v.reshape(-1)[0])
    return None


@register(*_BINARY)
def binary(im, node):
    if node.op in ("Max", "Min") and len(node.inputs) != 2:  # variadic before opset 8 too
        return _chain(im, node, _BINARY[node.op][0])
    if node.op == "Mod" and node.attr("fmod", 0):
        raise node.fail("fmod=1 (C's remainder) is not imported")
    a, b = node.inputs[:2]
    full, scalar, rscalar = _BINARY[node.op]
    # Pow alone may raise to an exponent of another type (MXNet's exporter writes `square`
    # as Pow(x, int64 2)); MXNet's power takes one dtype, so a constant exponent is cast.
    exponent_kinds = "fiub" if node.op == "Pow" else "f"
    sb, sa = _scalar(im, b, exponent_kinds), _scalar(im, a)
    if node.op == "Pow" and sb is None and im.is_const(b) and not im.is_const(a) \
            and im.params[b].dtype.kind != "f":
        im.set_param(b, im.params[b].astype(np.float32))
    if sb is not None and not im.is_const(a):
        return getattr(_internal, scalar)(im.sym(a), scalar=sb, name=node.name)
    if sa is not None and not im.is_const(b):
        return getattr(_internal, rscalar)(im.sym(b), scalar=sa, name=node.name)
    return getattr(S, full)(im.sym(a), im.sym(b), name=node.name)


def _same_shapes(im, names):
    shapes = [im.shape(n) for n in names]
    return all(s is not None and None not in s for s in shapes) and len(set(shapes)) == 1


def _chain(im, node, op, name=None):
    """A variadic op (Sum, Max, Min, Mean) as a chain of a broadcasting binary ``op``: ONNX
    broadcasts all inputs together, MXNet's variadic add_n wants one shape."""
    name = name or node.name
    ins = node.inputs
    if len(ins) == 1:
        return S.identity(im.sym(ins[0]), name=name)
    y = im.sym(ins[0])
    for i, x in enumerate(ins[1:], 1):
        y = getattr(S, op)(y, im.sym(x), name=name if i == len(ins) - 1 else
                           "%s_%d" % (name, i))
    return y


@register("Sum")
def sum_(im, node):
    if len(node.inputs) > 1 and _same_shapes(im, node.inputs):
        return S.add_n(*[im.sym(i) for i in node.inputs], name=node.name)
    return _chain(im, node, "broadcast_add")


@register("Mean")
def mean(im, node):
    n = len(node.inputs)
    if n == 1:
        return S.identity(_sym(im, node, 0), name=node.name)
    if _same_shapes(im, node.inputs):
        total = S.add_n(*[im.sym(i) for i in node.inputs], name=node.name + "_sum")
    else:
        total = _chain(im, node, "broadcast_add", name=node.name + "_sum")
    return _internal._div_scalar(total, scalar=float(n), name=node.name)


@register("Clip")
def clip(im, node):
    if "min" in node.attrs or "max" in node.attrs:
        lo, hi = node.attr("min", -3.4e38), node.attr("max", 3.4e38)
    else:
        lo = im.const(node, 1, np.array(-3.4e38))
        hi = im.const(node, 2, np.array(3.4e38))
        lo, hi = float(np.asarray(lo).reshape(-1)[0]), float(np.asarray(hi).reshape(-1)[0])
    return S.clip(_sym(im, node, 0), a_min=lo, a_max=hi, name=node.name)


@register("Cast")
def cast(im, node):
    dtype = np.dtype(im.onnx.helper.tensor_dtype_to_np_dtype(node.attr("to")))
    return S.Cast(_sym(im, node, 0), dtype=dtype.name, name=node.name)


# ------------------------------------------------------------------------------ shape
@register("Flatten")
def flatten(im, node):
    axis = node.attr("axis", 1)
    x = _sym(im, node, 0)
    if axis == 1:
        return S.Flatten(x, name=node.name)
    rank = im.rank(node, node.inputs[0])
    if axis < 0:
        axis += rank
    if axis == 0:
        return S.reshape(x, shape=(1, -1), name=node.name)
    if axis == rank:
        return S.reshape(x, shape=(-1, 1), name=node.name)
    # Merge the leading axes a pair at a time (-3, the rest copied by -2), then the trailing
    # ones into -1; the dimensions stay free, so another batch size runs too.
    for i in range(axis - 1):
        x = S.reshape(x, shape=(-3, -2), name="%s_lead%d" % (node.name, i))
    return S.reshape(x, shape=(0, -1), name=node.name)


@register("Reshape")
def reshape(im, node):
    x = _sym(im, node, 0)
    src = im.shape_of.get(node.inputs[1])
    if src is not None:
        return S.reshape_like(x, im.sym(src), name=node.name)
    shape = _ints(im.const(node, 1).reshape(-1))
    if node.attr("allowzero", 0) and 0 in shape:
        raise node.fail("allowzero=1 with a zero dimension is not imported")
    return S.reshape(x, shape=shape, name=node.name)  # 0 and -1 mean the same in MXNet


@register("Expand")
def expand(im, node):
    shape = _ints(im.const(node, 1).reshape(-1))
    src = im.shape(node.inputs[0])
    if src is None or None in src:
        raise node.fail("the input's shape must be known")
    src = (1,) * (len(shape) - len(src)) + tuple(src)
    out = tuple(max(a, b) for a, b in zip(src, (1,) * (len(src) - len(shape)) + shape))
    x = S.reshape(_sym(im, node, 0), shape=src, name=node.name + "_rank")
    return S.broadcast_to(x, shape=out, name=node.name)


@register("Concat")
def concat(im, node):
    ins = [im.sym(i) for i in node.inputs]
    return S.Concat(*ins, dim=node.attr("axis"), num_args=len(ins), name=node.name)


@register("Split")
def split(im, node):
    axis = node.attr("axis", 0)
    x = _sym(im, node, 0)
    n = len(node.outputs)
    sizes = node.attr("split") if "split" in node.attrs else im.const(node, 1)
    if sizes is not None:
        sizes = _ints(np.asarray(sizes).reshape(-1))
    if sizes is None or len(set(sizes)) == 1:
        s = S.SliceChannel(x, num_outputs=n, axis=axis, name=node.name)
        return [s[i] for i in range(n)] if n > 1 else [s]
    outs, begin = [], 0
    for i, size in enumerate(sizes):
        outs.append(S.slice_axis(x, axis=axis, begin=begin, end=begin + size,
                                 name="%s_%d" % (node.name, i)))
        begin += size
    return outs


@register("Squeeze")
def squeeze(im, node):
    axes = _axes(im, node)
    kw = dict(axis=axes) if axes else {}
    return S.squeeze(_sym(im, node, 0), name=node.name, **kw)


@register("Unsqueeze")
def unsqueeze(im, node):
    axes = _axes(im, node)
    rank = im.rank(node, node.inputs[0]) + len(axes)
    axes = sorted(a % rank for a in axes)
    x = _sym(im, node, 0)
    for i, a in enumerate(axes):
        last = i == len(axes) - 1
        x = S.expand_dims(x, axis=a, name=node.name if last else "%s_%d" % (node.name, i))
    return x


@register("Transpose")
def transpose(im, node):
    perm = node.attr("perm")
    kw = dict(axes=_ints(perm)) if perm else {}
    return S.transpose(_sym(im, node, 0), name=node.name, **kw)


@register("Pad")
def pad(im, node):
    mode = node.attr("mode", "constant")
    if "pads" in node.attrs:
        pads, value = _ints(node.attr("pads")), node.attr("value", 0.0)
    else:
        pads = _ints(im.const(node, 1).reshape(-1))
        v = im.const(node, 2)
        value = 0.0 if v is None else float(np.asarray(v).reshape(-1)[0])
    k = len(pads) // 2
    width = tuple(p for pair in zip(pads[:k], pads[k:]) for p in pair)
    return S.Pad(_sym(im, node, 0), mode=mode, pad_width=width, constant_value=value,
                 name=node.name)


# ------------------------------------------------------------------------------ indexing
@register("Gather")
def gather(im, node):
    # ONNX allows negative indices (from the end): MXNet's wrap mode agrees on valid ones.
    axis = node.attr("axis", 0)
    index = node.inputs[1]
    if im.shape(index) == ():
        # A 0-d index drops the axis; MXNet's shapes have no 0-d arrays, so it is taken as
        # a one-element index and the axis squeezed away.
        if im.is_const(index):
            im.set_param(index, im.params[index].reshape(1))
            idx = im.sym(index)
        else:
            idx = S.reshape(im.sym(index), shape=(1,), name=node.name + "_index")
        y = S.take(_sym(im, node, 0), idx, axis=axis, mode="wrap", name=node.name + "_take")
        return S.squeeze(y, axis=axis, name=node.name)
    return S.take(_sym(im, node, 0), im.sym(index), axis=axis, mode="wrap", name=node.name)


@register("Slice")
def slice_(im, node):
    if "starts" in node.attrs:  # before opset 10
        starts, ends = _ints(node.attr("starts")), _ints(node.attr("ends"))
        axes = node.attr("axes")
        steps = None
    else:
        starts = _ints(im.const(node, 1).reshape(-1))
        ends = _ints(im.const(node, 2).reshape(-1))
        axes = im.const(node, 3)
        steps = im.const(node, 4)
    axes = list(range(len(starts))) if axes is None else [int(a) for a in np.ravel(axes)]
    steps = [1] * len(starts) if steps is None else [int(s) for s in np.ravel(steps)]
    if any(a < 0 for a in axes):
        rank = im.rank(node, node.inputs[0])
        axes = [a % rank for a in axes]
    x = _sym(im, node, 0)

    def end_of(e, step):
        return None if (step > 0 and e >= _BIG_END) or (step < 0 and e <= -_BIG_END) else e
    if len(axes) == 1 and steps[0] == 1:
        return S.slice_axis(x, axis=axes[0], begin=starts[0], end=end_of(ends[0], 1),
                            name=node.name)
    n = max(axes) + 1
    begin, end, step = [None] * n, [None] * n, [None] * n
    for a, b, e, s in zip(axes, starts, ends, steps):
        begin[a], end[a], step[a] = b, end_of(e, s), s
    return S.slice(x, begin=tuple(begin), end=tuple(end), step=tuple(step), name=node.name)


# ------------------------------------------------------------------------------ reductions
_REDUCE = {"ReduceSum": "sum", "ReduceMean": "mean", "ReduceMax": "max", "ReduceMin": "min",
           "ReduceProd": "prod", "ReduceL1": 1, "ReduceL2": 2}

# The element-wise part of a reduction over no axes, where it is not the identity.
_NOOP = {"ReduceL1": "abs", "ReduceL2": "abs", "ReduceSumSquare": "square", "ReduceLogSum": "log"}


@register(*_REDUCE, "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp")
def reduce(im, node):
    axes_in = node.input(1) if "axes" not in node.attrs else None
    if axes_in and not im.is_const(axes_in) and im.shape(axes_in) == (0,):
        axes = ()  # a graph input known to be empty: all axes (or none, noop_with_empty_axes)
    else:  # an attribute, or an input (ReduceSum 13+, all of them 18+)
        axes = _axes(im, node)
    keep = bool(node.attr("keepdims", 1))
    x = _sym(im, node, 0)
    if not axes and node.attr("noop_with_empty_axes", 0):
        # Nothing is reduced, but the element-wise part applies: ReduceL2 is then |x|.
        return getattr(S, _NOOP.get(node.op, "identity"))(x, name=node.name)
    kw = dict(axis=axes) if axes else {}
    op = _REDUCE.get(node.op)
    if isinstance(op, int):
        return S.norm(x, ord=op, keepdims=keep, name=node.name, **kw)
    if op is not None:
        return getattr(S, op)(x, keepdims=keep, name=node.name, **kw)
    if node.op == "ReduceSumSquare":
        return S.sum(S.square(x, name=node.name + "_sq"), keepdims=keep, name=node.name, **kw)
    if node.op == "ReduceLogSum":
        return S.log(S.sum(x, keepdims=keep, name=node.name + "_sum", **kw), name=node.name)
    # ReduceLogSumExp: shifted by the maximum so that exp cannot overflow.
    top = S.max(x, keepdims=True, name=node.name + "_max", **kw)
    e = S.exp(S.broadcast_sub(x, top, name=node.name + "_shift"), name=node.name + "_exp")
    lse = S.log(S.sum(e, keepdims=keep, name=node.name + "_sum", **kw), name=node.name + "_log")
    if not keep:
        top = S.max(x, keepdims=False, name=node.name + "_max2", **kw)
    return S.elemwise_add(lse, top, name=node.name)


# ------------------------------------------------------------------------------ more
_COMPARE = {"Equal": "broadcast_equal", "Greater": "broadcast_greater",
            "Less": "broadcast_lesser", "GreaterOrEqual": "broadcast_greater_equal",
            "LessOrEqual": "broadcast_lesser_equal"}


@register(*_COMPARE)
def compare(im, node):
    # MXNet gives 0/1 in the inputs' dtype where ONNX gives bool; a Cast or Where follows.
    return getattr(S, _COMPARE[node.op])(_sym(im, node, 0), _sym(im, node, 1), name=node.name)


@register("Where")
def where(im, node):
    cond, x, y = (im.sym(i) for i in node.inputs)
    shapes = [im.shape(i) for i in node.inputs]
    if any(s is None for s in shapes) or len(set(shapes)) > 1:
        out = im.shape(node.outputs[0])
        if out is None or None in out:
            raise node.fail("broadcasting needs known shapes")
        # MXNet's broadcast_to keeps the rank: a lower-rank operand gets leading 1s first.
        cond, x, y = (_broadcast_rank(v, s, out, "%s_b%d" % (node.name, i))
                      for i, (v, s) in enumerate(zip((cond, x, y), shapes)))
    return S.where(cond, x, y, name=node.name)


def _broadcast_rank(x, shape, out, name):
    if shape == out:
        return x
    if shape is not None and len(shape) < len(out):
        x = S.reshape(x, shape=(1,) * (len(out) - len(shape)) + tuple(shape), name=name + "_rank")
    return S.broadcast_to(x, shape=out, name=name)


@register("Tile")
def tile(im, node):
    return S.tile(_sym(im, node, 0), reps=_ints(im.const(node, 1).reshape(-1)), name=node.name)
