"""ONNX converters for MXNet's tensor operators: shape, arithmetic, reductions, indexing."""
import numpy as np

from .export import register

_INT64_MAX = 2 ** 63 - 1


def _register_simple(table, fn_factory):
    for mx_ops, onnx_op in table:
        register(*mx_ops)(fn_factory(onnx_op))


# ------------------------------------------------------------------------------ elementwise
_UNARY = [
    (("Dropout", "_copy", "identity", "BlockGrad", "stop_gradient", "make_loss", "MakeLoss",
      "_contrib_identity"), "Identity"),
    (("exp",), "Exp"), (("log",), "Log"), (("sqrt",), "Sqrt"), (("abs",), "Abs"),
    (("negative",), "Neg"), (("reciprocal",), "Reciprocal"), (("floor",), "Floor"),
    (("ceil",), "Ceil"), (("sin",), "Sin"), (("cos",), "Cos"), (("tan",), "Tan"),
    (("relu",), "Relu"), (("sigmoid",), "Sigmoid"), (("tanh",), "Tanh"), (("erf",), "Erf"),
    (("sign",), "Sign"), (("softsign",), "Softsign"), (("arcsin",), "Asin"),
    (("arccos",), "Acos"), (("arctan",), "Atan"),
]


def _unary(onnx_op):
    def convert(g, n):
        g.add(onnx_op, [n.inputs[0]], n.outputs)
    return convert


_register_simple(_UNARY, _unary)


@register("square")
def square(g, n):
    g.add("Mul", [n.inputs[0], n.inputs[0]], n.outputs)


@register("log2")
def log2(g, n):
    # Opset 13 has no Log2: ln(x) / ln(2).
    y = g.add("Log", [n.inputs[0]], hint=n.name + "_ln")
    g.add("Div", [y, g.const(np.log(2.0), n.in_dtypes[0], hint="ln2")], n.outputs)


@register("hard_sigmoid")
def hard_sigmoid(g, n):
    g.add("HardSigmoid", [n.inputs[0]], n.outputs, alpha=n.float("alpha", 0.2),
          beta=n.float("beta", 0.5))


@register("rsqrt")
def rsqrt(g, n):
    g.add("Reciprocal", [g.add("Sqrt", [n.inputs[0]], hint=n.name + "_sqrt")], n.outputs)


_BINARY = [
    (("elemwise_add", "_plus", "_add", "broadcast_add", "broadcast_plus", "_Plus"), "Add"),
    (("elemwise_sub", "_minus", "_sub", "broadcast_sub", "broadcast_minus", "_Minus"), "Sub"),
    (("elemwise_mul", "_mul", "broadcast_mul", "_Mul"), "Mul"),
    (("elemwise_div", "_div", "broadcast_div", "_Div"), "Div"),
    (("_maximum", "broadcast_maximum", "_Maximum"), "Max"),
    (("_minimum", "broadcast_minimum", "_Minimum"), "Min"),
    (("_power", "broadcast_power", "_Power"), "Pow"),
]


def _binary(onnx_op):
    def convert(g, n):
        g.add(onnx_op, n.inputs[:2], n.outputs)
    return convert


_register_simple(_BINARY, _binary)


@register("add_n", "ElementWiseSum")
def add_n(g, n):
    g.add("Sum", n.inputs, n.outputs)


# op -> (ONNX op, scalar on the left)
_SCALAR = {
    "_plus_scalar": ("Add", False), "_minus_scalar": ("Sub", False),
    "_rminus_scalar": ("Sub", True), "_mul_scalar": ("Mul", False),
    "_div_scalar": ("Div", False), "_rdiv_scalar": ("Div", True),
    "_power_scalar": ("Pow", False), "_rpower_scalar": ("Pow", True),
    "_maximum_scalar": ("Max", False), "_minimum_scalar": ("Min", False),
}


@register(*_SCALAR)
def scalar_op(g, n):
    onnx_op, left = _SCALAR[n.op]
    c = g.const(n.float("scalar"), n.in_dtypes[0], hint=n.name + "_scalar")
    ins = [c, n.inputs[0]] if left else [n.inputs[0], c]
    g.add(onnx_op, ins, n.outputs)


@register("clip")
def clip(g, n):
    dt = n.in_dtypes[0]
    lo = g.const(n.float("a_min"), dt, hint=n.name + "_min")
    hi = g.const(n.float("a_max"), dt, hint=n.name + "_max")
    g.add("Clip", [n.inputs[0], lo, hi], n.outputs)


@register("Cast", "cast", "amp_cast")
def cast(g, n):
    g.add("Cast", [n.inputs[0]], n.outputs,
          to=g.helper.np_dtype_to_tensor_dtype(np.dtype(n.out_dtypes[0])))


# ------------------------------------------------------------------------------ shape
@register("Flatten", "flatten")
def flatten(g, n):
    g.add("Flatten", [n.inputs[0]], n.outputs, axis=1)


@register("Reshape", "reshape")
def reshape(g, n):
    # 0 (copy) and -1 (infer) mean the same in ONNX and stay, so a batch may vary at run
    # time; MXNet's other codes (-2, -3, -4, reverse) are resolved by shape inference, or in
    # a dynamic export computed from the input's shape in the graph.
    target = list(n.out_shapes[0])
    codes = n.tuple("shape")
    if codes and not n.bool("reverse") and all(c is not None and c >= -1 for c in codes) \
            and codes.count(-1) <= 1 and len(codes) == len(target):
        shape = g.int64s(codes, hint=n.name + "_shape")
    elif codes and g.dynamic:
        shape = _reshape_target(g, n, codes)
    else:
        if codes and codes[0] == 0 and not n.bool("reverse") and target:
            target[0] = 0
        shape = g.int64s(target, hint=n.name + "_shape")
    g.add("Reshape", [n.inputs[0], shape], n.outputs)


def _reshape_target(g, n, codes):
    """MXNet's reshape codes as ONNX ops on the input's run-time shape. ``reverse`` matches
    the codes from the last dimension: the pieces are built walking both backwards."""
    rank = len(n.in_shapes[0])
    rev = n.bool("reverse")
    shape = g.add("Shape", [n.inputs[0]], hint=n.name + "_inshape")

    def dims(b, e):  # input dimensions [b, e) of the original order
        if rev:
            b, e = rank - e, rank - b
        return g.add("Slice", [shape, g.int64s([b]), g.int64s([e])], hint=n.name + "_dims")

    codes = [None if c is None else int(c) for c in codes]
    if rev:
        codes = codes[::-1]
    pieces, i, k = [], 0, 0
    while k < len(codes):
        c = codes[k]
        if c == 0:
            pieces.append(dims(i, i + 1))
            i += 1
        elif c == -2:
            pieces.append(dims(i, rank))
            i = rank
        elif c == -3:
            pieces.append(g.add("Mul", [dims(i, i + 1), dims(i + 1, i + 2)],
                                hint=n.name + "_merge"))
            i += 2
        elif c == -4:
            a, b = codes[k + 1], codes[k + 2]
            d = dims(i, i + 1)
            if a == -1:
                a = g.add("Div", [d, g.int64s([b])], hint=n.name + "_split")
                b = g.int64s([b])
            elif b == -1:
                b = g.add("Div", [d, g.int64s([a])], hint=n.name + "_split")
                a = g.int64s([a])
            else:
                a, b = g.int64s([a]), g.int64s([b])
            pieces += [a, b]
            i += 1
            k += 2
        else:  # a size, or -1 (ONNX infers it as MXNet does)
            pieces.append(g.int64s([c]))
            i += 1
        k += 1
    if rev:
        pieces = pieces[::-1]
    return g.add("Concat", pieces, hint=n.name + "_shape", axis=0)


@register("Concat", "concat", "_rnn_param_concat")
def concat(g, n):
    g.add("Concat", n.inputs, n.outputs, axis=n.int("dim", 1))


@register("SliceChannel", "split")
def split(g, n):
    num = n.int("num_outputs")
    axis = n.int("axis", 1)
    squeeze = n.bool("squeeze_axis")
    size = n.in_shapes[0][axis] // num
    outs = [o + "_split" for o in n.outputs] if squeeze else n.outputs
    if squeeze:
        for o in outs:
            g.reserve(o)
    if num == 1:
        g.add("Identity", [n.inputs[0]], outs)
    else:
        g.add("Split", [n.inputs[0], g.int64s([size] * num, hint=n.name + "_sizes")], outs,
              axis=axis)
    if squeeze:
        axes = g.int64s([axis], hint=n.name + "_axes")
        for src, dst in zip(outs, n.outputs):
            g.add("Squeeze", [src, axes], dst)


@register("transpose")
def transpose(g, n):
    axes = n.tuple("axes")
    perm = list(axes) if axes else list(range(len(n.in_shapes[0])))[::-1]
    g.add("Transpose", [n.inputs[0]], n.outputs, perm=perm)


@register("SwapAxis", "swapaxes")
def swap_axis(g, n):
    perm = list(range(len(n.in_shapes[0])))
    a, b = n.int("dim1", 0) % len(perm), n.int("dim2", 0) % len(perm)
    perm[a], perm[b] = perm[b], perm[a]
    g.add("Transpose", [n.inputs[0]], n.outputs, perm=perm)


@register("expand_dims")
def expand_dims(g, n):
    g.add("Unsqueeze", [n.inputs[0], g.int64s([n.int("axis")], hint=n.name + "_axes")],
          n.outputs)


@register("squeeze")
def squeeze(g, n):
    axes = n.tuple("axis", None)
    ins = [n.inputs[0]]
    if axes:
        ins.append(g.int64s(axes, hint=n.name + "_axes"))
    shape = n.in_shapes[0]
    rank = len(shape) - (len(axes) if axes else sum(1 for d in shape if d == 1))
    if rank == len(n.out_shapes[0]):
        g.add("Squeeze", ins, n.outputs)
    else:  # every axis squeezed: MXNet keeps shape (1,)
        y = g.add("Squeeze", ins, hint=n.name + "_all")
        g.add("Reshape", [y, g.int64s([1], hint=n.name + "_shape")], n.outputs)


@register("broadcast_to", "broadcast_axis", "broadcast_axes", "broadcast_like")
def broadcast_to(g, n):
    if n.op == "broadcast_like" and not n.has("lhs_axes") and not n.has("rhs_axes"):
        # The target is the other input's shape at run time: it stays a graph input, as in
        # MXNet's export, and a dynamic export follows its batch.
        target = g.add("Shape", [n.inputs[1]], hint=n.name + "_like")
    else:
        target = g.int64s(n.out_shapes[0], hint=n.name + "_shape")
    g.add("Expand", [n.inputs[0], target], n.outputs)


@register("Pad", "pad")
def pad(g, n):
    mode = n.str("mode", "constant")
    if mode not in ("constant", "edge", "reflect"):
        raise n.fail("mode=%s is not exported" % mode)
    width = n.tuple("pad_width")
    pads = g.int64s(list(width[0::2]) + list(width[1::2]), hint=n.name + "_pads")
    ins = [n.inputs[0], pads]
    if mode == "constant":
        ins.append(g.const(n.float("constant_value", 0.0), n.in_dtypes[0], hint=n.name + "_value"))
    g.add("Pad", ins, n.outputs, mode=mode)


# ------------------------------------------------------------------------------ slicing
@register("slice_axis")
def slice_axis(g, n):
    end = n.int("end")
    g.add("Slice", [n.inputs[0], g.int64s([n.int("begin")], hint=n.name + "_starts"),
                    g.int64s([_INT64_MAX if end is None else end], hint=n.name + "_ends"),
                    g.int64s([n.int("axis")], hint=n.name + "_axes")], n.outputs)


@register("slice", "crop")
def slice_(g, n):
    begin, end = n.tuple("begin"), n.tuple("end")
    step = n.tuple("step") or (1,) * len(begin)
    step = [1 if s is None else s for s in step] + [1] * (len(begin) - len(step))
    starts = [(0 if s > 0 else -1) if b is None else b for b, s in zip(begin, step)]
    ends = [(_INT64_MAX if s > 0 else -_INT64_MAX) if e is None else e for e, s in zip(end, step)]
    axes = list(range(len(begin)))
    g.add("Slice", [n.inputs[0], g.int64s(starts, hint=n.name + "_starts"),
                    g.int64s(ends, hint=n.name + "_ends"), g.int64s(axes, hint=n.name + "_axes"),
                    g.int64s(step, hint=n.name + "_steps")], n.outputs)


@register("take")
def take(g, n):
    axis = n.int("axis", 0)
    mode = n.str("mode", "clip")
    dim = n.in_shapes[0][axis]
    idx = g.add("Cast", [n.inputs[1]], hint=n.name + "_idx", to=7)  # INT64
    if mode == "clip":
        idx = g.add("Clip", [idx, g.const(0, hint="zero"), g.const(dim - 1, hint=n.name + "_hi")],
                    hint=n.name + "_clip")
    elif mode == "wrap":
        idx = g.add("Mod", [idx, g.const(dim, hint=n.name + "_dim")], hint=n.name + "_wrap")
    g.add("Gather", [n.inputs[0], idx], n.outputs, axis=axis)


# ------------------------------------------------------------------------------ reductions
_REDUCE = {"sum": "ReduceSum", "sum_axis": "ReduceSum", "mean": "ReduceMean",
           "max": "ReduceMax", "max_axis": "ReduceMax", "min": "ReduceMin",
           "min_axis": "ReduceMin", "prod": "ReduceProd"}


def _reduce_axes(n):
    ndim = len(n.in_shapes[0])
    axes = n.tuple("axis", None)
    if axes is not None:
        axes = [a % ndim for a in axes]
    if n.bool("exclude"):
        axes = [a for a in range(ndim) if a not in (axes or [])]
    return axes or None


def _emit_reduce(g, n, op, axes):
    keep = 1 if n.bool("keepdims") else 0
    outs = n.outputs
    if not keep and len(n.out_shapes[0]) == 1 and (axes is None or len(axes) == len(
            n.in_shapes[0])):
        # MXNet 1.x has no 0-d arrays: a full reduction gives shape (1,), ONNX's gives ().
        keep, outs = 1, None
    if op == "ReduceSum":  # opset 13: axes is an input
        ins = [n.inputs[0]] + ([g.int64s(axes, hint=n.name + "_axes")] if axes else [])
        y = g.add("ReduceSum", ins, outs, hint=n.name + "_all", keepdims=keep)
    else:
        y = g.add(op, [n.inputs[0]], outs, hint=n.name + "_all", axes=axes, keepdims=keep)
    if outs is None:
        g.add("Reshape", [y, g.int64s([1], hint=n.name + "_shape")], n.outputs)


@register(*_REDUCE)
def reduce(g, n):
    _emit_reduce(g, n, _REDUCE[n.op], _reduce_axes(n))


@register("norm")
def norm(g, n):
    ops = {1: "ReduceL1", 2: "ReduceL2"}
    order = n.int("ord", 2)
    if order not in ops:
        raise n.fail("ord=%d is not exported" % order)
    _emit_reduce(g, n, ops[order], _reduce_axes(n))


# ------------------------------------------------------------------------------ products
@register("dot")
def dot(g, n):
    a, b = n.inputs[:2]
    sa, sb = n.in_shapes[0], n.in_shapes[1]
    ta, tb = n.bool("transpose_a"), n.bool("transpose_b")
    if len(sa) <= 2 and len(sb) <= 2:
        if ta:
            a = g.add("Transpose", [a], hint=n.name + "_aT", perm=[1, 0])
        if tb:
            b = g.add("Transpose", [b], hint=n.name + "_bT", perm=[1, 0])
        g.add("MatMul", [a, b], n.outputs)
        return
    if ta or tb:
        raise n.fail("transpose_a/transpose_b on inputs of more than 2 dimensions")
    # MXNet's dot contracts a's last axis with b's first: (..., K) x (K, ...).
    k = sa[-1]
    a2 = g.add("Reshape", [a, g.int64s([-1, k], hint=n.name + "_ashape")], hint=n.name + "_a2")
    b2 = g.add("Reshape", [b, g.int64s([k, -1], hint=n.name + "_bshape")], hint=n.name + "_b2")
    y = g.add("MatMul", [a2, b2], hint=n.name + "_matmul")
    g.add("Reshape", [y, g.int64s(n.out_shapes[0], hint=n.name + "_shape")], n.outputs)


@register("batch_dot")
def batch_dot(g, n):
    a, b = n.inputs[:2]
    # transposes swap the last two axes, whatever the number of batch axes
    if n.bool("transpose_a"):
        rank = len(n.in_shapes[0])
        a = g.add("Transpose", [a], hint=n.name + "_aT",
                  perm=list(range(rank - 2)) + [rank - 1, rank - 2])
    if n.bool("transpose_b"):
        rank = len(n.in_shapes[1])
        b = g.add("Transpose", [b], hint=n.name + "_bT",
                  perm=list(range(rank - 2)) + [rank - 1, rank - 2])
    g.add("MatMul", [a, b], n.outputs)


@register("tile")
def tile(g, n):
    reps = list(n.tuple("reps"))
    shape = list(n.in_shapes[0])
    x = n.inputs[0]
    if len(reps) > len(shape):  # MXNet prepends ones to the shorter of the two
        shape = [1] * (len(reps) - len(shape)) + shape
        x = g.add("Reshape", [x, g.int64s(shape, hint=n.name + "_rank")], hint=n.name + "_r")
    reps = [1] * (len(shape) - len(reps)) + reps
    g.add("Tile", [x, g.int64s(reps, hint=n.name + "_reps")], n.outputs)


@register("zeros_like", "ones_like")
def fill_like(g, n):
    value = np.array([0 if n.op == "zeros_like" else 1], dtype=n.out_dtypes[0])
    shape = g.add("Shape", [n.inputs[0]], hint=n.name + "_shape")
    g.add("ConstantOfShape", [shape], n.outputs,
          value=g.onnx.numpy_helper.from_array(value, n.name + "_value"))


_COMPARE = {"broadcast_equal": "Equal", "_equal": "Equal", "broadcast_greater": "Greater",
            "_greater": "Greater", "broadcast_lesser": "Less", "_lesser": "Less",
            "broadcast_greater_equal": "GreaterOrEqual", "_greater_equal": "GreaterOrEqual",
            "broadcast_lesser_equal": "LessOrEqual", "_lesser_equal": "LessOrEqual"}


@register(*_COMPARE)
def compare(g, n):
    # MXNet's comparisons give 0/1 in the input's dtype, ONNX's give bool.
    b = g.add(_COMPARE[n.op], n.inputs[:2], hint=n.name + "_bool")
    g.add("Cast", [b], n.outputs, to=g.helper.np_dtype_to_tensor_dtype(n.out_dtypes[0]))


@register("where")
def where(g, n):
    cond = g.add("Cast", [n.inputs[0]], hint=n.name + "_cond", to=9)  # BOOL
    ndim = len(n.in_shapes[1])
    if len(n.in_shapes[0]) == 1 and ndim > 1:  # MXNet: a 1-D condition picks whole rows
        shape = g.int64s([-1] + [1] * (ndim - 1), hint=n.name + "_cshape")
        cond = g.add("Reshape", [cond, shape], hint=n.name + "_rows")
    g.add("Where", [cond, n.inputs[1], n.inputs[2]], n.outputs)


@register("_equal_scalar", "_greater_scalar", "_lesser_scalar", "_greater_equal_scalar",
          "_lesser_equal_scalar")
def compare_scalar(g, n):
    onnx_op = _COMPARE["broadcast_" + n.op[1:-len("_scalar")]]
    c = g.const(n.float("scalar"), n.in_dtypes[0], hint=n.name + "_scalar")
    b = g.add(onnx_op, [n.inputs[0], c], hint=n.name + "_bool")
    g.add("Cast", [b], n.outputs, to=g.helper.np_dtype_to_tensor_dtype(n.out_dtypes[0]))


def _cast_out(g, n, x, k=0, outputs=None):
    """``x`` cast to the dtype of the node's output ``k`` (MXNet's 0/1 results keep the
    operands' dtype where ONNX gives bool; its indices are float32 unless ``dtype`` says)."""
    to = g.helper.np_dtype_to_tensor_dtype(np.dtype(n.out_dtypes[k]))
    return g.add("Cast", [x], n.outputs[k] if outputs is None else outputs, to=to)


def _operands(g, n):
    """The two operands of a binary node, or its input and its ``scalar`` (``_r*`` swapped)."""
    if len(n.inputs) >= 2:
        return n.inputs[0], n.inputs[1]
    c = g.const(n.float("scalar"), n.in_dtypes[0], hint=n.name + "_scalar")
    return (c, n.inputs[0]) if n.op.startswith("_r") else (n.inputs[0], c)


@register("broadcast_not_equal", "_not_equal", "_not_equal_scalar")
def not_equal(g, n):
    a, b = _operands(g, n)
    eq = g.add("Equal", [a, b], hint=n.name + "_eq")
    _cast_out(g, n, g.add("Not", [eq], hint=n.name + "_bool"))


_LOGICAL = {"and": "And", "or": "Or", "xor": "Xor"}


@register(*["%s_logical_%s%s" % (p, op, s) for op in _LOGICAL
            for p, s in (("broadcast", ""), ("", ""), ("", "_scalar"))])
def logical(g, n):
    # MXNet reads nonzero as true and answers 0/1 in the operands' dtype.
    onnx_op = _LOGICAL[n.op.split("_logical_")[1].replace("_scalar", "")]
    a, b = (g.add("Cast", [x], hint=n.name + "_bool", to=9) for x in _operands(g, n))
    _cast_out(g, n, g.add(onnx_op, [a, b], hint=n.name + "_" + onnx_op.lower()))


@register("logical_not")
def logical_not(g, n):
    b = g.add("Cast", [n.inputs[0]], hint=n.name + "_bool", to=9)
    _cast_out(g, n, g.add("Not", [b], hint=n.name + "_not"))


@register("broadcast_mod", "_mod", "_mod_scalar", "_rmod_scalar")
def mod(g, n):
    # MXNet's remainder takes the divisor's sign (Python's %) and is 0 for a 0 divisor; ONNX's
    # Mod must be fmod (the dividend's sign) on floats: shift a nonzero remainder whose sign
    # differs from the divisor's by the divisor, and zero the 0-divisor entries (divided by 1
    # first: an integer division by 0 is undefined in the runtime).
    a, b = _operands(g, n)
    dt = n.out_dtypes[0]
    zero = g.const(0, dt, hint=n.name + "_zero")
    b0 = g.add("Equal", [b, zero], hint=n.name + "_b0")
    safe = g.add("Where", [b0, g.const(1, dt, hint=n.name + "_one"), b], hint=n.name + "_b")
    r = g.add("Mod", [a, safe], hint=n.name + "_fmod", fmod=1)
    differ = g.add("Xor", [g.add("Less", [r, zero], hint=n.name + "_rneg"),
                          g.add("Less", [b, zero], hint=n.name + "_bneg")],
                   hint=n.name + "_differ")
    nonzero = g.add("Not", [g.add("Equal", [r, zero], hint=n.name + "_r0")],
                    hint=n.name + "_rnz")
    shift = g.add("And", [differ, nonzero], hint=n.name + "_shift")
    r = g.add("Where", [shift, g.add("Add", [r, b], hint=n.name + "_plus"), r],
              hint=n.name + "_adjusted")
    g.add("Where", [b0, zero, r], n.outputs)


# ------------------------------------------------------------------------------ constructors
@register("_zeros", "_ones", "_full")
def full(g, n):
    # The shape is an attribute, so the tensor is a constant of the export.
    value = {"_zeros": 0.0, "_ones": 1.0}.get(n.op)
    value = n.float("value", 0.0) if value is None else value
    array = np.full(n.out_shapes[0], value, dtype=n.out_dtypes[0])
    g.add("Constant", [], n.outputs, value=g.onnx.numpy_helper.from_array(array, n.name))


@register("_arange", "_contrib_arange_like")
def arange(g, n):
    # start + (i // repeat) * step: a constant whose shape inference gave (it resolves
    # infer_range, and arange_like's input shape and ``axis``).
    shape = n.out_shapes[0]
    repeat = max(n.int("repeat", 1), 1)
    # arange(n) is written start=n with no stop: it counts from 0.
    start = n.float("start", 0.0) if n.op != "_arange" or n.has("stop") else 0.0
    values = start + (np.arange(int(np.prod(shape))) // repeat) * n.float("step", 1.0)
    array = values.reshape(shape).astype(n.out_dtypes[0])
    g.add("Constant", [], n.outputs, value=g.onnx.numpy_helper.from_array(array, n.name))


# Samplers: the random draws differ from MXNet's, the distributions are the same.
@register("_random_uniform", "_random_normal", "_random_uniform_like", "_random_normal_like")
def random(g, n):
    to = g.helper.np_dtype_to_tensor_dtype(np.dtype(n.out_dtypes[0]))
    if "uniform" in n.op:
        kw = dict(low=n.float("low", 0.0), high=n.float("high", 1.0))
    else:
        kw = dict(mean=n.float("loc", 0.0), scale=n.float("scale", 1.0))
    onnx_op = "RandomUniform" if "uniform" in n.op else "RandomNormal"
    if n.op.endswith("_like"):
        g.add(onnx_op + "Like", [n.inputs[0]], n.outputs, dtype=to, **kw)
    else:
        g.add(onnx_op, [], n.outputs, dtype=to, shape=list(n.out_shapes[0]), **kw)


@register("_sample_multinomial")
def sample_multinomial(g, n):
    # MXNet's rows are probabilities, ONNX's Multinomial reads log-probabilities of a 2-D
    # batch and draws a flat sample_size per row (int32 or int64).
    if n.bool("get_prob"):
        raise n.fail("get_prob=True is not exported")
    x = g.add("Log", [n.inputs[0]], hint=n.name + "_logp")
    if len(n.in_shapes[0]) != 2:
        x = g.add("Reshape", [x, g.int64s([-1, n.in_shapes[0][-1]], hint=n.name + "_2d")],
                  hint=n.name + "_rows")
    dt = np.dtype(n.out_dtypes[0])
    kind = dt if dt in (np.int32, np.int64) else np.dtype(np.int64)
    y = g.add("Multinomial", [x], hint=n.name + "_draws",
              sample_size=int(np.prod(n.tuple("shape") or (1,))),
              dtype=g.helper.np_dtype_to_tensor_dtype(kind))
    shape = g.int64s(n.out_shapes[0], hint=n.name + "_shape")
    if kind == dt:
        g.add("Reshape", [y, shape], n.outputs)
    else:
        _cast_out(g, n, g.add("Reshape", [y, shape], hint=n.name + "_shaped"))


@register("shape_array")
def shape_array(g, n):
    y = g.add("Shape", [n.inputs[0]], hint=n.name + "_shape")
    _cast_out(g, n, y)


@register("size_array")
def size_array(g, n):
    # ONNX's Size is 0-d; MXNet's has shape (1,).
    y = g.add("Size", [n.inputs[0]], hint=n.name + "_size")
    y = g.add("Reshape", [y, g.int64s([1], hint=n.name + "_shape")], hint=n.name + "_1d")
    _cast_out(g, n, y)


# ------------------------------------------------------------------------------ rearranging
@register("stack")
def stack(g, n):
    axis = n.int("axis", 0) % len(n.out_shapes[0])
    axes = g.int64s([axis], hint=n.name + "_axes")
    parts = [g.add("Unsqueeze", [x, axes], hint="%s_in%d" % (n.name, i))
             for i, x in enumerate(n.inputs)]
    g.add("Concat", parts, n.outputs, axis=axis)


@register("repeat")
def repeat(g, n):
    # Each element r times along the axis: a new axis after it, expanded to r, merged back.
    x, shape = n.inputs[0], list(n.in_shapes[0])
    axis = n.int("axis")
    if axis is None:  # MXNet repeats the flattened input
        x = g.add("Reshape", [x, g.int64s([-1], hint=n.name + "_flat")], hint=n.name + "_1d")
        shape, axis = [int(np.prod(shape))], 0
    axis %= len(shape)
    x = g.add("Unsqueeze", [x, g.int64s([axis + 1], hint=n.name + "_axes")],
              hint=n.name + "_unsq")
    # Ones broadcast and 0 copies: the leading dimensions (a batch) may vary at run time.
    reps = [1] * (axis + 1) + [n.int("repeats")] + [1] * (len(shape) - axis - 1)
    x = g.add("Expand", [x, g.int64s(reps, hint=n.name + "_reps")], hint=n.name + "_expand")
    target = [0] * axis + [-1] + shape[axis + 1:]
    g.add("Reshape", [x, g.int64s(target, hint=n.name + "_shape")], n.outputs)


@register("reverse", "flip")
def reverse(g, n):
    rank = len(n.in_shapes[0])
    axes = [a % rank for a in n.tuple("axis")]
    k = len(axes)
    g.add("Slice", [n.inputs[0], g.int64s([-1] * k, hint=n.name + "_starts"),
                    g.int64s([-_INT64_MAX] * k, hint=n.name + "_ends"),
                    g.int64s(axes, hint=n.name + "_axes"),
                    g.int64s([-1] * k, hint=n.name + "_steps")], n.outputs)


@register("depth_to_space")
def depth_to_space(g, n):
    # MXNet reads the channels as (block, block, C'): ONNX's DCR order.
    g.add("DepthToSpace", [n.inputs[0]], n.outputs, blocksize=n.int("block_size"), mode="DCR")


@register("space_to_depth")
def space_to_depth(g, n):
    g.add("SpaceToDepth", [n.inputs[0]], n.outputs, blocksize=n.int("block_size"))


@register("_split_v2")
def split_v2(g, n):
    # ``indices`` are the pieces' starts (MXNet's Python prepends 0); ``sections`` equal pieces.
    axis = n.int("axis", 0) % len(n.in_shapes[0])
    dim = n.in_shapes[0][axis]
    sections = n.int("sections", 0)
    if sections > 0:
        starts = [k * (dim // sections) for k in range(sections)]
    else:
        starts = list(n.tuple("indices"))
    ends = starts[1:] + [dim]
    axes = g.int64s([axis], hint=n.name + "_axes")
    squeeze = n.bool("squeeze_axis")
    for b, e, out in zip(starts, ends, n.outputs):
        y = g.add("Slice", [n.inputs[0], g.int64s([b], hint=n.name + "_starts"),
                            g.int64s([e], hint=n.name + "_ends"), axes],
                  None if squeeze else out, hint=out + "_slice")
        if squeeze:
            g.add("Squeeze", [y, axes], out)


@register("slice_like")
def slice_like(g, n):
    # The output's shape is known: a slice from 0 to it on every axis.
    out = list(n.out_shapes[0])
    g.add("Slice", [n.inputs[0], g.int64s([0] * len(out), hint=n.name + "_starts"),
                    g.int64s(out, hint=n.name + "_ends"),
                    g.int64s(range(len(out)), hint=n.name + "_axes")], n.outputs)


@register("reshape_like")
def reshape_like(g, n):
    if not any(n.has(k) for k in ("lhs_begin", "lhs_end", "rhs_begin", "rhs_end")):
        # The plain form takes the other input's run-time shape, as MXNet's export does.
        g.add("Reshape", [n.inputs[0], g.add("Shape", [n.inputs[1]], hint=n.name + "_like")],
              n.outputs)
    elif g.dynamic:
        raise n.fail("lhs_begin/lhs_end/rhs_begin/rhs_end are not exported with dynamic=True")
    else:
        g.add("Reshape", [n.inputs[0], g.int64s(n.out_shapes[0], hint=n.name + "_shape")],
              n.outputs)


@register("Crop")
def crop(g, n):
    # The output's height and width are known (from h_w or the second input); the offset is
    # the given one, or MXNet's centring (rounded down).
    (h, w), (oh, ow) = n.in_shapes[0][2:], n.out_shapes[0][2:]
    if n.bool("center_crop"):
        top, left = (h - oh) // 2, (w - ow) // 2
    else:
        top, left = (list(n.tuple("offset")) + [0, 0])[:2]
    g.add("Slice", [n.inputs[0], g.int64s([top, left], hint=n.name + "_starts"),
                    g.int64s([top + oh, left + ow], hint=n.name + "_ends"),
                    g.int64s([2, 3], hint=n.name + "_axes")], n.outputs)


@register("_linalg_gemm2")
def linalg_gemm2(g, n):
    # alpha * op(A) @ op(B) over the last two axes, the leading ones batched.
    rank = len(n.in_shapes[0])
    if n.int("axis", -2) % rank != rank - 2:
        raise n.fail("axis=%s is not exported (the matrices' rows must be axis -2)"
                     % n.str("axis"))
    perm = list(range(rank - 2)) + [rank - 1, rank - 2]
    a, b = n.inputs[:2]
    if n.bool("transpose_a"):
        a = g.add("Transpose", [a], hint=n.name + "_aT", perm=perm)
    if n.bool("transpose_b"):
        b = g.add("Transpose", [b], hint=n.name + "_bT", perm=perm)
    alpha = n.float("alpha", 1.0)
    if alpha == 1.0:
        g.add("MatMul", [a, b], n.outputs)
    else:
        y = g.add("MatMul", [a, b], hint=n.name + "_matmul")
        g.add("Mul", [y, g.const(alpha, n.in_dtypes[0], hint=n.name + "_alpha")], n.outputs)
