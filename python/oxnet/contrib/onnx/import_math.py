"""ONNX -> MXNet converters: index search (ArgMax, TopK, Hardmax), boolean logic, composite
activations, block rearrangement (DepthToSpace) and normalization by a norm."""
import numpy as np

from ... import symbol as S
from ...symbol import _internal
from .import_model import register
from .import_ops import _sym


# ------------------------------------------------------------------------------ index search
@register("ArgMax", "ArgMin")
def arg_extreme(im, node):
    axis, keep = node.attr("axis", 0), bool(node.attr("keepdims", 1))
    fn = S.argmax if node.op == "ArgMax" else S.argmin
    x = _sym(im, node, 0)
    if node.attr("select_last_index", 0):
        # MXNet picks the first of equal values: search the reversed axis, then count back.
        src = im.shape(node.inputs[0])
        if src is None or src[axis] is None:
            raise node.fail("select_last_index=1 needs the length of axis %d" % axis)
        axis %= len(src)
        x = S.reverse(x, axis=axis, name=node.name + "_rev")
        i = fn(x, axis=axis, keepdims=keep, name=node.name + "_arg")
        i = _internal._rminus_scalar(i, scalar=float(src[axis] - 1), name=node.name + "_last")
    else:
        i = fn(x, axis=axis, keepdims=keep, name=node.name + "_arg")
    # MXNet's index is a float of the input's type; ONNX's is int64.
    return S.Cast(i, dtype="int64", name=node.name)


@register("TopK")
def topk(im, node):
    if "k" in node.attrs:  # before opset 10
        k = node.attr("k")
    else:
        k = int(np.asarray(im.const(node, 1)).reshape(-1)[0])
    # sorted=0 leaves the order unspecified; MXNet's sorted order is one of the allowed ones.
    out = S.topk(_sym(im, node, 0), k=k, axis=node.attr("axis", -1), ret_typ="both",
                 is_ascend=not node.attr("largest", 1), dtype="int64", name=node.name)
    return [out[0], out[1]]


@register("Hardmax")
def hardmax(im, node):
    # 1 at the first maximum along the axis, 0 elsewhere (in the input's dtype): the maxima,
    # kept where their running count along the axis is 1. Before opset 13 the axis is that
    # of the input flattened to 2-D from ``axis`` on.
    x = src = _sym(im, node, 0)
    n = node.name
    if im.opset < 13:
        rank = im.rank(node, node.inputs[0])
        axis = node.attr("axis", 1) % rank
        if axis < rank - 1:
            x = S.reshape(x, shape=(0,) * axis + (-1,), name=n + "_2d")
        axis = -1
    else:
        axis = node.attr("axis", -1)
    top = S.max(x, axis=axis, keepdims=True, name=n + "_max")
    hit = S.broadcast_equal(x, top, name=n + "_hit")
    first = _internal._equal_scalar(S.cumsum(hit, axis=axis, name=n + "_count"), scalar=1.0,
                                    name=n + "_first")
    if x is src:
        return S.elemwise_mul(hit, first, name=n)
    y = S.elemwise_mul(hit, first, name=n + "_flat")
    return S.reshape_like(y, src, name=n)


# ------------------------------------------------------------------------------ logic
_LOGIC = {"And": "broadcast_logical_and", "Or": "broadcast_logical_or",
          "Xor": "broadcast_logical_xor"}


def _bool(im, node, i):
    # ONNX's operands are bool, but an imported comparison gives MXNet's 0/1 floats: cast so
    # that the result (and a graph output) is bool as in ONNX.
    return S.Cast(_sym(im, node, i), dtype="bool", name="%s_bool%d" % (node.name, i))


@register("Not", *_LOGIC)
def logic(im, node):
    if node.op == "Not":
        return S.logical_not(_bool(im, node, 0), name=node.name)
    return getattr(S, _LOGIC[node.op])(_bool(im, node, 0), _bool(im, node, 1), name=node.name)


# ------------------------------------------------------------------------------ activations
@register("HardSigmoid")
def hard_sigmoid(im, node):
    return S.hard_sigmoid(_sym(im, node, 0), alpha=node.attr("alpha", 0.2),
                          beta=node.attr("beta", 0.5), name=node.name)


@register("HardSwish")
def hard_swish(im, node):
    x = _sym(im, node, 0)
    gate = S.hard_sigmoid(x, alpha=1.0 / 6, beta=0.5, name=node.name + "_gate")
    return S.elemwise_mul(x, gate, name=node.name)


@register("Gelu")
def gelu(im, node):
    x = _sym(im, node, 0)
    approx = node.attr("approximate", "none")
    if approx == "none":
        return S.LeakyReLU(x, act_type="gelu", name=node.name)  # MXNet's gelu is the erf form
    if approx != "tanh":
        raise node.fail("approximate=%s is not imported" % approx)
    # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    n = node.name
    cube = _internal._mul_scalar(S.elemwise_mul(S.square(x, name=n + "_sq"), x, name=n + "_cube"),
                                 scalar=0.044715, name=n + "_cube_k")
    inner = _internal._mul_scalar(S.elemwise_add(x, cube, name=n + "_inner"),
                                  scalar=float(np.sqrt(2 / np.pi)), name=n + "_inner_k")
    gate = _internal._mul_scalar(_internal._plus_scalar(S.tanh(inner, name=n + "_tanh"),
                                                        scalar=1.0, name=n + "_1p"),
                                 scalar=0.5, name=n + "_gate")
    return S.elemwise_mul(x, gate, name=n)


@register("Mish")
def mish(im, node):
    x = _sym(im, node, 0)
    soft = S.Activation(x, act_type="softrelu", name=node.name + "_softplus")
    return S.elemwise_mul(x, S.tanh(soft, name=node.name + "_tanh"), name=node.name)


# ------------------------------------------------------------------------------ rearrangement
@register("DepthToSpace")
def depth_to_space(im, node):
    b = node.attr("blocksize")
    x = _sym(im, node, 0)
    if node.attr("mode", "DCR") == "DCR":  # MXNet's depth_to_space is ONNX's DCR
        return S.depth_to_space(x, block_size=b, name=node.name)
    # CRD: the channel splits as (C', b, b), not (b, b, C'). The reshape codes keep N, H, W free.
    n = node.name
    x = S.reshape(x, shape=(0, -4, -1, b * b, -2), name=n + "_split")
    x = S.reshape(x, shape=(0, 0, -4, b, b, -2), name=n + "_split2")
    x = S.transpose(x, axes=(0, 1, 4, 2, 5, 3), name=n + "_t")
    return S.reshape(x, shape=(0, 0, -3, -3), name=n)


@register("SpaceToDepth")
def space_to_depth(im, node):
    return S.space_to_depth(_sym(im, node, 0), block_size=node.attr("blocksize"), name=node.name)


# ------------------------------------------------------------------------------ normalization
@register("LpNormalization")
def lp_normalization(im, node):
    p = node.attr("p", 2)
    if p not in (1, 2):
        raise node.fail("p=%s is not imported (1 or 2)" % p)
    x = _sym(im, node, 0)
    norm = S.norm(x, ord=p, axis=node.attr("axis", -1), keepdims=True, name=node.name + "_norm")
    return S.broadcast_div(x, norm, name=node.name)


# ------------------------------------------------------------------------------ shape
@register("Size")
def size(im, node):
    s = im.shape(node.inputs[0])
    if s is not None and None not in s:  # a constant, for the arithmetic that follows
        im.set_param(node.outputs[0], np.array(int(np.prod(s, dtype=np.int64)), np.int64))
        return None
    # Dynamic: MXNet has no 0-d arrays, so the count is a 1-element vector.
    return S.size_array(_sym(im, node, 0), name=node.name)


# ------------------------------------------------------------------------------ indexing
@register("OneHot")
def one_hot(im, node):
    depth = int(np.asarray(im.const(node, 1)).reshape(-1)[0])
    off, on = np.asarray(im.const(node, 2)).reshape(-1)
    idx = _sym(im, node, 0)
    # ONNX counts a negative index from the end; MXNet's one_hot leaves it all off.
    neg = _internal._lesser_scalar(idx, scalar=0.0, name=node.name + "_neg")
    wrapped = _internal._plus_scalar(idx, scalar=float(depth), name=node.name + "_wrap")
    idx = S.where(neg, wrapped, idx, name=node.name + "_idx")
    rank = im.rank(node, node.inputs[0]) + 1
    axis = node.attr("axis", -1) % rank
    last = axis == rank - 1
    y = S.one_hot(idx, depth=depth, on_value=float(on), off_value=float(off),
                  dtype=np.dtype(off.dtype).name, name=node.name if last else node.name + "_oh")
    if last:
        return y
    # MXNet appends the depth axis: move it to `axis`.
    perm = tuple(range(axis)) + (rank - 1,) + tuple(range(axis, rank - 1))
    return S.transpose(y, axes=perm, name=node.name)


@register("CumSum")
def cumsum(im, node):
    axis = int(np.asarray(im.const(node, 1)).reshape(-1)[0])
    rev, excl = node.attr("reverse", 0), node.attr("exclusive", 0)
    n = node.name
    src = S.reverse(_sym(im, node, 0), axis=axis, name=n + "_rev") if rev else _sym(im, node, 0)
    y = S.cumsum(src, axis=axis, name=n + "_sum" if rev or excl else n)
    if excl:  # each sum without its own element
        y = S.elemwise_sub(y, src, name=n + "_excl" if rev else n)
    if rev:
        y = S.reverse(y, axis=axis, name=n)
    return y
