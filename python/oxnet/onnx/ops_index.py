"""ONNX converters for MXNet's index-valued and indexing operators: arg-reductions, sorting,
one-hot, gather_nd and the sequence ops (opset 13)."""
import numpy as np

from .export import register
from .ops_tensor import _cast_out

_INT64 = 7


def _flat(g, n, x):
    """``x`` as one dimension: MXNet's ``axis=None`` works on the flattened input."""
    return g.add("Reshape", [x, g.int64s([-1], hint=n.name + "_flat")], hint=n.name + "_1d")


def _axis(n, default=-1):
    """The ``axis`` attribute: ``default`` when unset, None when given as None (flattened)."""
    return n.int("axis", default) if "axis" not in n.attrs or n.has("axis") else None


@register("argmax", "argmin")
def arg_reduce(g, n):
    # ONNX's indices are int64; MXNet's take the output's dtype (float32 for float inputs).
    op = "ArgMax" if n.op == "argmax" else "ArgMin"
    axis = n.int("axis")
    keep = n.bool("keepdims")
    x, flat = n.inputs[0], axis is None
    if flat:
        x, axis = _flat(g, n, x), 0
    y = g.add(op, [x], hint=n.name + "_idx", axis=axis, keepdims=1 if keep or flat else 0)
    if flat or len(n.out_shapes[0]) != len(n.in_shapes[0]) - (0 if keep else 1):
        # MXNet has no 0-d arrays: a flattened or 1-D reduction has shape (1,) (all ones
        # with keepdims).
        y = g.add("Reshape", [y, g.int64s(n.out_shapes[0], hint=n.name + "_shape")],
                  hint=n.name + "_shaped")
    _cast_out(g, n, y)


def _sort(g, n, x, axis, k, ascending):
    """TopK over ``axis`` (None: flattened): (values, int64 indices, axis used)."""
    if axis is None:
        x, axis = _flat(g, n, x), 0
        dim = int(np.prod(n.in_shapes[0]))
    else:
        axis %= len(n.in_shapes[0])
        dim = n.in_shapes[0][axis]
    k = dim if k is None or k < 1 or k > dim else k  # MXNet: k < 1 sorts the whole axis
    values, idx = g.add("TopK", [x, g.int64s([k], hint=n.name + "_k")],
                        [g.unique(n.name + "_values"), g.unique(n.name + "_indices")],
                        axis=axis, largest=0 if ascending else 1, sorted=1)
    return values, idx, axis


@register("topk")
def topk(g, n):
    ret = n.str("ret_typ", "indices")
    if ret not in ("value", "indices", "both", "mask"):
        raise n.fail("ret_typ=%s is not exported" % ret)
    if ret == "mask" and _axis(n) is None:
        raise n.fail("ret_typ=mask with axis=None is not exported")
    values, idx, axis = _sort(g, n, n.inputs[0], _axis(n), n.int("k", 1), n.bool("is_ascend"))
    if ret == "value":
        g.add("Identity", [values], n.outputs)
    elif ret == "indices":
        _cast_out(g, n, idx)
    elif ret == "both":
        g.add("Identity", [values], n.outputs[:1])
        _cast_out(g, n, idx, 1)
    else:  # 1 at the selected positions of an input-shaped tensor of zeros
        dt = n.out_dtypes[0]
        zero = g.onnx.numpy_helper.from_array(np.zeros(1, dt), n.name + "_zero")
        zeros = g.add("ConstantOfShape", [g.add("Shape", [n.inputs[0]], hint=n.name + "_shape")],
                      hint=n.name + "_zeros", value=zero)
        ones = g.add("Expand", [g.const(1, dt, hint=n.name + "_one"),
                                g.add("Shape", [idx], hint=n.name + "_kshape")],
                     hint=n.name + "_ones")
        g.add("ScatterElements", [zeros, idx, ones], n.outputs, axis=axis)


@register("argsort")
def argsort(g, n):
    _, idx, _ = _sort(g, n, n.inputs[0], _axis(n), None, n.bool("is_ascend", True))
    _cast_out(g, n, idx)


@register("one_hot")
def one_hot(g, n):
    # Compared with 0..depth-1 rather than ONNX's OneHot, which wraps negative indices where
    # MXNet leaves the row off; MXNet truncates float indices toward 0, as Cast does.
    depth = n.int("depth")
    dt = n.out_dtypes[0]
    idx = g.add("Cast", [n.inputs[0]], hint=n.name + "_idx", to=_INT64)
    idx = g.add("Unsqueeze", [idx, g.int64s([-1], hint=n.name + "_axes")], hint=n.name + "_col")
    hot = g.add("Equal", [idx, g.int64s(range(depth), hint=n.name + "_range")],
                hint=n.name + "_hot")
    g.add("Where", [hot, g.const(n.float("on_value", 1.0), dt, hint=n.name + "_on"),
                    g.const(n.float("off_value", 0.0), dt, hint=n.name + "_off")], n.outputs)


@register("gather_nd")
def gather_nd(g, n):
    # MXNet's indices hold the coordinates in their first axis, ONNX's in their last.
    rank = len(n.in_shapes[1])
    idx = g.add("Cast", [n.inputs[1]], hint=n.name + "_idx", to=_INT64)
    if rank > 1:
        idx = g.add("Transpose", [idx], hint=n.name + "_idxT",
                    perm=list(range(1, rank)) + [0])
    g.add("GatherND", [n.inputs[0], idx], n.outputs)


def _lengths(g, n, rank, axis):
    """The sequence_length input (shape (batch,)) as int64 broadcast against a
    (batch, time)-ordered ``rank``-dimensional tensor with time at ``axis`` (0 or 1)."""
    lens = g.add("Cast", [n.inputs[1]], hint=n.name + "_lens", to=_INT64)
    batch_axis = 1 - axis
    shape = [1] * rank
    shape[batch_axis] = -1
    return g.add("Reshape", [lens, g.int64s(shape, hint=n.name + "_lshape")],
                 hint=n.name + "_lens_b")


@register("SequenceMask")
def sequence_mask(g, n):
    if not n.bool("use_sequence_length"):
        g.add("Identity", [n.inputs[0]], n.outputs)
        return
    axis = n.int("axis", 0)
    shape = n.in_shapes[0]
    rank = len(shape)
    if axis not in (0, 1):
        raise n.fail("axis=%d is not exported (0 or 1)" % axis)
    steps = [1] * rank
    steps[axis] = shape[axis]
    t = g.const(np.arange(shape[axis]).reshape(steps), np.int64, hint=n.name + "_steps")
    keep = g.add("Less", [t, _lengths(g, n, rank, axis)], hint=n.name + "_keep")
    value = g.const(n.float("value", 0.0), n.in_dtypes[0], hint=n.name + "_value")
    g.add("Where", [keep, n.inputs[0], value], n.outputs)


@register("SequenceReverse")
def sequence_reverse(g, n):
    if n.int("axis", 0) != 0:
        raise n.fail("axis=%s is not exported (0 only, as in MXNet)" % n.str("axis"))
    if not n.bool("use_sequence_length"):  # the whole time axis
        g.add("Slice", [n.inputs[0], g.int64s([-1], hint=n.name + "_starts"),
                        g.int64s([-2 ** 63 + 1], hint=n.name + "_ends"),
                        g.int64s([0], hint=n.name + "_axes"),
                        g.int64s([-1], hint=n.name + "_steps")], n.outputs)
        return
    lens = g.add("Cast", [n.inputs[1]], hint=n.name + "_lens", to=_INT64)
    g.add("ReverseSequence", [n.inputs[0], lens], n.outputs, batch_axis=1, time_axis=0)
