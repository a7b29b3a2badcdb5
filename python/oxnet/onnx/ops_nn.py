"""ONNX converters for MXNet's neural-network layers (opset 13), one function per op family."""
import math

import numpy as np

from .export import register

_LAYOUTS = (None, "NCW", "NCHW", "NCDHW")


def _spatial(n, kernel):
    """kernel_shape/strides/dilations/pads of a Convolution/Pooling/Deconvolution node."""
    k = len(kernel)
    if n.str("layout") not in _LAYOUTS:
        raise n.fail("layout %s is not exported (channels-first layouts only)" % n.str("layout"))
    stride = n.tuple("stride") or (1,) * k
    dilate = n.tuple("dilate") or (1,) * k
    pad = n.tuple("pad") or (0,) * k
    return list(kernel), list(stride), list(dilate), list(pad) + list(pad)


@register("FullyConnected")
def fully_connected(g, n):
    x, w = n.inputs[0], n.inputs[1]
    bias = n.inputs[2] if len(n.inputs) > 2 else None
    if n.bool("flatten", True):
        if len(n.in_shapes[0]) != 2:
            x = g.add("Flatten", [x], hint=n.name + "_flatten", axis=1)
        g.add("Gemm", [x, w] + ([bias] if bias else []), n.outputs, transB=1)
        return
    wt = g.add("Transpose", [w], hint=n.name + "_wT", perm=[1, 0])
    if bias is None:
        g.add("MatMul", [x, wt], n.outputs)
    else:
        y = g.add("MatMul", [x, wt], hint=n.name + "_matmul")
        g.add("Add", [y, bias], n.outputs)


@register("Convolution")
def convolution(g, n):
    kernel, stride, dilate, pads = _spatial(n, n.tuple("kernel"))
    g.add("Conv", n.inputs, n.outputs, kernel_shape=kernel, strides=stride, dilations=dilate,
          pads=pads, group=n.int("num_group", 1))


@register("Deconvolution")
def deconvolution(g, n):
    kernel, stride, dilate, pads = _spatial(n, n.tuple("kernel"))
    adj = n.tuple("adj") or (0,) * len(kernel)
    if n.has("target_shape") and any(n.tuple("target_shape")):
        # MXNet derives pad and adj from the target: the overshoot split, odd one at the end.
        total = [st * (i - 1) + d * (kk - 1) + 1 - o for st, i, d, kk, o in
                 zip(stride, n.in_shapes[0][2:], dilate, kernel, n.out_shapes[0][2:])]
        if any(t < 0 for t in total):
            raise n.fail("target_shape beyond the full output is not exported")
        pad = [(t + 1) // 2 for t in total]
        pads, adj = pad + pad, [t % 2 for t in total]
    g.add("ConvTranspose", n.inputs, n.outputs, kernel_shape=kernel, strides=stride,
          dilations=dilate, pads=pads, output_padding=list(adj),
          group=n.int("num_group", 1))


@register("BatchNorm")
def batch_norm(g, n):
    ndim = len(n.in_shapes[0])
    if n.int("axis", 1) % ndim != 1:
        raise n.fail("axis=%s is not exported (channel axis 1 only)" % n.str("axis"))
    if len(n.outputs) > 1:
        raise n.fail("output_mean_var=True is not exported")
    x, gamma, beta, mean, var = n.inputs
    if n.bool("fix_gamma", True):
        c = n.in_shapes[1][0]
        gamma = g.const(np.ones(c), n.in_dtypes[1], hint=n.name + "_fixed_gamma")
    g.add("BatchNormalization", [x, gamma, beta, mean, var], n.outputs,
          epsilon=n.float("eps", 1e-3))


_ACTIVATIONS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softrelu": "Softplus",
                "softsign": "Softsign"}


@register("Activation")
def activation(g, n):
    act = n.str("act_type")
    if act not in _ACTIVATIONS:
        raise n.fail("act_type=%s is not exported" % act)
    g.add(_ACTIVATIONS[act], n.inputs, n.outputs)


@register("LeakyReLU")
def leaky_relu(g, n):
    act = n.str("act_type", "leaky")
    slope = n.float("slope", 0.25)
    x = n.inputs[0]
    if act == "leaky":
        g.add("LeakyRelu", [x], n.outputs, alpha=slope)
    elif act == "rrelu":  # inference: the mean of the random slope's range
        lo, hi = n.float("lower_bound", 0.125), n.float("upper_bound", 0.334)
        g.add("LeakyRelu", [x], n.outputs[:1], alpha=(lo + hi) / 2)
        if len(n.outputs) > 1:  # the mask output: that slope everywhere, as the executor's
            like = g.add("Shape", [x], hint=n.name + "_like")
            slope = g.const((lo + hi) / 2, n.out_dtypes[1], hint=n.name + "_slope")
            g.add("Expand", [slope, like], n.outputs[1:])
    elif act == "elu":
        g.add("Elu", [x], n.outputs, alpha=slope)
    elif act == "selu":
        g.add("Selu", [x], n.outputs)
    elif act == "prelu":
        gamma = n.inputs[1]
        ndim = len(n.in_shapes[0])
        if ndim > 2 and len(n.in_shapes[1]) == 1:
            shape = g.int64s([-1] + [1] * (ndim - 2), hint=n.name + "_gamma_shape")
            gamma = g.add("Reshape", [gamma, shape], hint=n.name + "_gamma")
        g.add("PRelu", [x, gamma], n.outputs)
    elif act == "gelu":  # x * (1 + erf(x / sqrt 2)) / 2
        dt = n.in_dtypes[0]
        t = g.add("Div", [x, g.const(math.sqrt(2.0), dt, hint="sqrt2")], hint=n.name + "_s")
        t = g.add("Erf", [t], hint=n.name + "_erf")
        t = g.add("Add", [t, g.const(1.0, dt, hint="one")], hint=n.name + "_1p")
        t = g.add("Mul", [x, t], hint=n.name + "_mul")
        g.add("Mul", [t, g.const(0.5, dt, hint="half")], n.outputs)
    else:
        raise n.fail("act_type=%s is not exported" % act)


@register("Pooling")
def pooling(g, n):
    pool = n.str("pool_type", "max")
    x = n.inputs[0]
    if n.bool("global_pool"):
        ops = {"max": "GlobalMaxPool", "avg": "GlobalAveragePool", "lp": "GlobalLpPool"}
        if pool not in ops:
            raise n.fail("global pool_type=%s is not exported" % pool)
        extra = {"p": n.int("p_value", 2)} if pool == "lp" else {}
        g.add(ops[pool], [x], n.outputs, **extra)
        return
    kernel, stride, _, pads = _spatial(n, n.tuple("kernel"))
    k = len(kernel)
    begin, end = pads[:k], pads[k:]
    convention = n.str("pooling_convention", "valid")
    if convention not in ("valid", "full"):
        raise n.fail("pooling_convention=%s is not exported" % convention)
    if convention == "full":
        # MXNet keeps a last window that ONNX's ceil_mode drops (one starting in the padding):
        # pad the end explicitly so that floor mode gives MXNet's output size.
        sizes, outs = n.in_shapes[0][2:], n.out_shapes[0][2:]
        end = [p + max(0, (o - 1) * st + kk - (i + 2 * p))
               for p, o, st, kk, i in zip(begin, outs, stride, kernel, sizes)]
    overhang = [e - b for b, e in zip(begin, end)]
    common = dict(kernel_shape=kernel, strides=stride)
    if pool == "max":
        if any(e >= kk for e, kk in zip(end, kernel)):  # ONNX wants pads < kernel
            x = _zero_pad(g, n, x, begin, end, np.finfo(n.in_dtypes[0]).min)
            begin = end = [0] * k
        g.add("MaxPool", [x], n.outputs, pads=begin + end, **common)
    elif pool == "avg":
        include = n.bool("count_include_pad", True)
        past = overhang if include and any(overhang) else end
        if not include and not g.dynamic and any(e >= kk for e, kk in zip(end, kernel)):
            # Some window holds no input (MXNet gives 0 there, ONNX 0/0): average the
            # zero-padded input over whole windows, then rescale each output by its window's
            # count of input elements, known from the shapes.
            y = g.add("AveragePool", [_zero_pad(g, n, x, begin, end)], hint=n.name + "_avg",
                      count_include_pad=1, **common)
            counts = [np.array([max(0, min(o * st - b + kk, size) - max(o * st - b, 0))
                                for o in range(out)])
                      for b, st, kk, size, out in zip(begin, stride, kernel,
                                                      n.in_shapes[0][2:], n.out_shapes[0][2:])]
            count = counts[0]
            for c in counts[1:]:
                count = np.multiply.outer(count, c)
            scale = np.where(count > 0, np.prod(kernel) / np.maximum(count, 1), 0)
            g.add("Mul", [y, g.const(scale[None, None], n.in_dtypes[0], hint=n.name + "_scale")],
                  n.outputs)
            return
        if any(e >= kk for e, kk in zip(past, kernel)):
            raise n.fail("a window lies wholly outside the input, which ONNX cannot express")
        if include and any(overhang):
            # MXNet divides by the window clipped to the padded input: pad with zeros, then
            # count only those (not the overhang) in the divisor.
            x = _zero_pad(g, n, x, begin, begin)
            g.add("AveragePool", [x], n.outputs, pads=[0] * k + overhang, count_include_pad=0,
                  **common)
        else:
            g.add("AveragePool", [x], n.outputs, pads=begin + end,
                  count_include_pad=1 if include else 0, **common)
    elif pool == "sum":
        y = g.add("AveragePool", [_zero_pad(g, n, x, begin, end)], hint=n.name + "_avg",
                  count_include_pad=1, **common)
        g.add("Mul", [y, g.const(float(np.prod(kernel)), n.in_dtypes[0])], n.outputs)
    elif pool == "lp" and not any(overhang):
        g.add("LpPool", [x], n.outputs, p=n.int("p_value", 2), pads=begin + end, **common)
    else:
        raise n.fail("pool_type=%s is not exported%s"
                     % (pool, " with pooling_convention=full" if pool == "lp" else ""))


def _zero_pad(g, n, x, begin, end, value=0.0):
    """``x`` padded on its spatial axes with ``value``."""
    if not any(begin) and not any(end):
        return x
    pads = g.int64s([0, 0] + list(begin) + [0, 0] + list(end), hint=n.name + "_pads")
    return g.add("Pad", [x, pads, g.const(value, n.in_dtypes[0], hint=n.name + "_pad_value")],
                 hint=n.name + "_padded", mode="constant")


def _softmax(g, n, x, axis, op="Softmax"):
    t = n.float("temperature")
    if t is not None and t != 1.0:
        x = g.add("Div", [x, g.const(t, n.in_dtypes[0], hint="temperature")],
                  hint=n.name + "_t")
    g.add(op, [x], n.outputs, axis=axis)


def _softmax_instance(g, n):
    """Softmax over all but the first axis (SoftmaxOutput / SoftmaxActivation 'instance')."""
    x = n.inputs[0]
    if len(n.in_shapes[0]) <= 2:
        g.add("Softmax", [x], n.outputs, axis=-1)
        return
    flat = g.add("Flatten", [x], hint=n.name + "_flat", axis=1)
    y = g.add("Softmax", [flat], hint=n.name + "_softmax", axis=1)
    g.add("Reshape", [y, g.add("Shape", [x], hint=n.name + "_shape")], n.outputs)


@register("softmax")
def softmax(g, n):
    if n.bool("use_length"):
        _softmax_length(g, n)
        return
    _softmax(g, n, n.inputs[0], n.int("axis", -1))


def _softmax_length(g, n):
    """softmax(use_length=True): the first ``length`` entries along the axis normalized, the
    rest 0 (a row of length 0 is all 0): the tail masked to the lowest value before Softmax,
    and to 0 after it."""
    shape = n.in_shapes[0]
    axis = n.int("axis", -1) % len(shape)
    dt = n.in_dtypes[0]
    steps = [1] * len(shape)
    steps[axis] = shape[axis]
    t = g.const(np.arange(shape[axis]).reshape(steps), np.int64, hint=n.name + "_steps")
    lens = g.add("Cast", [n.inputs[1]], hint=n.name + "_lens", to=7)  # INT64
    lens = g.add("Unsqueeze", [lens, g.int64s([axis], hint=n.name + "_axes")],
                 hint=n.name + "_lens_b")
    keep = g.add("Less", [t, lens], hint=n.name + "_keep")
    x = g.add("Where", [keep, n.inputs[0], g.const(np.finfo(dt).min, dt, hint=n.name + "_low")],
              hint=n.name + "_masked")
    t = n.float("temperature")
    if t is not None and t != 1.0:
        x = g.add("Div", [x, g.const(t, dt, hint="temperature")], hint=n.name + "_t")
    y = g.add("Softmax", [x], hint=n.name + "_softmax", axis=axis)
    g.add("Where", [keep, y, g.const(0, dt, hint=n.name + "_zero")], n.outputs)


@register("log_softmax")
def log_softmax(g, n):
    _softmax(g, n, n.inputs[0], n.int("axis", -1), "LogSoftmax")


@register("SoftmaxOutput", "Softmax")
def softmax_output(g, n):
    # The label input (if any) is a training input; inference computes the softmax only.
    if n.bool("multi_output"):
        g.add("Softmax", [n.inputs[0]], n.outputs, axis=1)
    elif n.bool("preserve_shape"):
        g.add("Softmax", [n.inputs[0]], n.outputs, axis=-1)
    else:
        _softmax_instance(g, n)


@register("SoftmaxActivation")
def softmax_activation(g, n):
    # 'instance' normalizes the last axis (MXNet flattens the leading axes, not the trailing).
    axis = 1 if n.str("mode", "instance") == "channel" else -1
    g.add("Softmax", [n.inputs[0]], n.outputs, axis=axis)


@register("LinearRegressionOutput", "MAERegressionOutput", "SVMOutput")
def regression_output(g, n):
    g.add("Identity", [n.inputs[0]], n.outputs)


@register("LogisticRegressionOutput")
def logistic_output(g, n):
    g.add("Sigmoid", [n.inputs[0]], n.outputs)


@register("LRN")
def lrn(g, n):
    g.add("LRN", [n.inputs[0]], n.outputs, alpha=n.float("alpha", 1e-4),
          beta=n.float("beta", 0.75), bias=n.float("knorm", 2.0), size=n.int("nsize"))


@register("Embedding")
def embedding(g, n):
    data, weight = n.inputs
    idx = g.add("Cast", [data], hint=n.name + "_idx", to=7)  # INT64
    hi = n.in_shapes[1][0] - 1
    idx = g.add("Clip", [idx, g.const(0, hint="zero"), g.const(hi, hint="max_index")],
                hint=n.name + "_clip")
    g.add("Gather", [weight, idx], n.outputs, axis=0)


@register("UpSampling")
def upsampling(g, n):
    if n.str("sample_type") != "nearest":
        raise n.fail("sample_type=%s is not exported (nearest only)" % n.str("sample_type"))
    if len(n.inputs) != 1:
        raise n.fail("several inputs (num_args > 1) are not exported")
    s = n.int("scale")
    ndim = len(n.in_shapes[0])
    scales = g.const([1.0, 1.0] + [float(s)] * (ndim - 2), np.float32, hint=n.name + "_scales")
    g.add("Resize", [n.inputs[0], "", scales], n.outputs, mode="nearest",
          coordinate_transformation_mode="asymmetric", nearest_mode="floor")


@register("_contrib_AdaptiveAvgPooling2D")
def adaptive_avg_pooling(g, n):
    size = n.tuple("output_size", (1,))
    (h, w), (oh, ow) = n.in_shapes[0][2:], n.out_shapes[0][2:]
    if (oh, ow) == (1, 1):
        g.add("GlobalAveragePool", [n.inputs[0]], n.outputs)
    elif h % oh == 0 and w % ow == 0:
        # Equal windows: each output averages one (h/oh, w/ow) tile.
        k = [h // oh, w // ow]
        g.add("AveragePool", [n.inputs[0]], n.outputs, kernel_shape=k, strides=k)
    else:
        raise n.fail("output_size=%s of a %dx%d input is not exported (windows of unequal "
                     "sizes)" % (size, h, w))


@register("_contrib_BilinearResize2D")
def bilinear_resize(g, n):
    # The output size is known at export, whichever mode (size, scale, like, to_even...) set it.
    (h, w), (oh, ow) = n.in_shapes[0][2:], n.out_shapes[0][2:]
    corners = n.bool("align_corners", True)
    if not corners and 1 in (oh, ow) and (oh, ow) != (h, w):
        # MXNet reads the first row/column there; ONNX's half_pixel reads the middle.
        raise n.fail("align_corners=False with an output height or width of 1 is not exported")
    sizes = g.int64s(list(n.out_shapes[0]), hint=n.name + "_sizes")
    g.add("Resize", [n.inputs[0], "", "", sizes], n.outputs, mode="linear",
          coordinate_transformation_mode="align_corners" if corners else "half_pixel")


@register("InstanceNorm")
def instance_norm(g, n):
    g.add("InstanceNormalization", n.inputs, n.outputs, epsilon=n.float("eps", 1e-3))


def _channel_param(g, n, i, axis):
    """Input i (shape (C,)) shaped to broadcast along ``axis`` of the data."""
    ndim = len(n.in_shapes[0])
    if axis % ndim == ndim - 1:
        return n.inputs[i]
    shape = g.int64s([-1] + [1] * (ndim - 1 - axis % ndim), hint=n.name + "_bshape")
    return g.add("Reshape", [n.inputs[i], shape], hint="%s_in%d" % (n.name, i))


@register("LayerNorm")
def layer_norm(g, n):
    # Opset 13 has no LayerNormalization (17): (x - mean) / sqrt(var + eps) * gamma + beta.
    if len(n.outputs) > 1:
        raise n.fail("output_mean_var=True is not exported")
    axis = n.int("axis", -1)
    dt = n.in_dtypes[0]
    x = n.inputs[0]
    mean = g.add("ReduceMean", [x], hint=n.name + "_mean", axes=[axis], keepdims=1)
    d = g.add("Sub", [x, mean], hint=n.name + "_centered")
    var = g.add("ReduceMean", [g.add("Mul", [d, d], hint=n.name + "_sq")], hint=n.name + "_var",
                axes=[axis], keepdims=1)
    std = g.add("Sqrt", [g.add("Add", [var, g.const(n.float("eps", 1e-5), dt, hint="eps")],
                               hint=n.name + "_var_eps")], hint=n.name + "_std")
    y = g.add("Div", [d, std], hint=n.name + "_normed")
    y = g.add("Mul", [y, _channel_param(g, n, 1, axis)], hint=n.name + "_scaled")
    g.add("Add", [y, _channel_param(g, n, 2, axis)], n.outputs)


@register("L2Normalization")
def l2_normalization(g, n):
    ndim = len(n.in_shapes[0])
    mode = n.str("mode", "instance")
    axes = {"instance": list(range(1, ndim)), "channel": [1],
            "spatial": list(range(2, ndim))}.get(mode)
    if axes is None:
        raise n.fail("mode=%s is not exported" % mode)
    x = n.inputs[0]
    ss = g.add("ReduceSum", [g.add("Mul", [x, x], hint=n.name + "_sq"),
                             g.int64s(axes, hint=n.name + "_axes")], hint=n.name + "_ss",
               keepdims=1)
    eps = g.const(n.float("eps", 1e-10), n.in_dtypes[0], hint="eps")
    norm = g.add("Sqrt", [g.add("Add", [ss, eps], hint=n.name + "_ss_eps")],
                 hint=n.name + "_norm")
    g.add("Div", [x, norm], n.outputs)


@register("ROIPooling")
def roi_pooling(g, n):
    # Same rois layout (batch index, x1, y1, x2, y2) and rounding as ONNX's MaxRoiPool.
    g.add("MaxRoiPool", n.inputs[:2], n.outputs, pooled_shape=list(n.tuple("pooled_size")),
          spatial_scale=n.float("spatial_scale", 1.0))


# MXNet mode -> (ONNX op, MXNet's gate blocks in ONNX's order): LSTM i,o,f,c from MXNet's
# i,f,c,o; GRU z,r,n from r,z,n.
_RNN_MODES = {"lstm": ("LSTM", [0, 3, 1, 2]), "gru": ("GRU", [1, 0, 2]),
              "rnn_tanh": ("RNN", [0]), "rnn_relu": ("RNN", [0])}


@register("RNN")
def rnn(g, n):
    # One ONNX LSTM/GRU/RNN node per layer. MXNet's flat parameter vector holds every
    # (layer, direction)'s W (gates*H, in) and R (gates*H, H), then every one's two biases;
    # they are sliced out in the graph, so the vector may be a parameter or a computed
    # _rnn_param_concat. The time-major layout is ONNX's default.
    for key in ("use_sequence_length", "projection_size", "lstm_state_clip_min",
                "lstm_state_clip_max"):
        if n.has(key) and n.str(key) not in ("False", "0"):
            raise n.fail("%s=%s is not exported" % (key, n.str(key)))
    mode = n.str("mode")
    op, order = _RNN_MODES[mode]
    gates, hidden = len(order), n.int("state_size")
    layers, dirs = n.int("num_layers", 1), 2 if n.bool("bidirectional") else 1
    param, states = n.inputs[1], n.inputs[2:]
    perm = g.int64s(order, hint=n.name + "_gate_order")
    rows = gates * hidden

    def block(start, shape, hint):
        """param[start:...] of ``shape`` (rows first) as (1, *shape) in ONNX's gate order."""
        size = int(np.prod(shape))
        flat = g.add("Slice", [param, g.int64s([start]), g.int64s([start + size])],
                     hint=hint + "_flat")
        y = g.add("Reshape", [flat, g.int64s([gates, -1])], hint=hint + "_gates")
        y = g.add("Gather", [y, perm], hint=hint + "_order", axis=0)
        return g.add("Reshape", [y, g.int64s([1] + shape)], hint=hint)

    sizes = [n.in_shapes[0][2]] + [dirs * hidden] * (layers - 1)
    w_at, b_at = 0, sum(dirs * rows * (s + hidden) for s in sizes)
    y, h_outs, c_outs = n.inputs[0], [], []
    for layer, size in enumerate(sizes):
        ws, rs, bs = [], [], []
        for d in range(dirs):
            hint = "%s_l%d_d%d" % (n.name, layer, d)
            ws.append(block(w_at, [rows, size], hint + "_W"))
            rs.append(block(w_at + rows * size, [rows, hidden], hint + "_R"))
            w_at += rows * (size + hidden)
            bs.append(g.add("Concat", [block(b_at, [rows], hint + "_Wb"),
                                       block(b_at + rows, [rows], hint + "_Rb")],
                            hint=hint + "_B", axis=1))
            b_at += 2 * rows
        ins = [y]
        for k, parts in (("W", ws), ("R", rs), ("B", bs)):
            ins.append(parts[0] if dirs == 1 else g.add(
                "Concat", parts, hint="%s_l%d_%s" % (n.name, layer, k), axis=0))
        ins.append("")  # no sequence lengths
        for s in states:  # this layer's initial states
            ins.append(s if layers == 1 else g.add(
                "Slice", [s, g.int64s([layer * dirs]), g.int64s([(layer + 1) * dirs])],
                hint="%s_l%d_init" % (n.name, layer)))
        outs = [g.unique("%s_l%d_%s" % (n.name, layer, k))
                for k in ("y", "h", "c")[:1 + len(states)]]
        extra = {"linear_before_reset": 1} if op == "GRU" else {}
        if op == "RNN":
            extra["activations"] = ["Relu" if mode == "rnn_relu" else "Tanh"] * dirs
        seq, h, *c = g.add(op, ins, outs, hidden_size=hidden,
                           direction="bidirectional" if dirs == 2 else "forward", **extra)
        h_outs.append(h)
        c_outs += c
        # (T, D, N, H) -> MXNet's (T, N, D*H)
        seq = g.add("Transpose", [seq], hint=seq + "_tnd", perm=[0, 2, 1, 3])
        y = g.add("Reshape", [seq, g.int64s([0, 0, -1])],
                  n.outputs[0] if layer == layers - 1 else None, hint=seq + "_seq")
    for out, parts in zip(n.outputs[1:], (h_outs, c_outs)):
        if layers > 1:
            g.add("Concat", parts, out, axis=0)
        else:
            g.add("Identity", parts, out)


@register("_contrib_ROIAlign")
def roi_align(g, n):
    # ONNX's RoiAlign (opset 13) samples as MXNet's aligned=False; its boxes and batch indices
    # are separate inputs where MXNet's rois rows are (batch index, x1, y1, x2, y2).
    if n.bool("position_sensitive") or n.bool("aligned"):
        raise n.fail("position_sensitive=True and aligned=True are not exported")
    rois = n.inputs[1]
    idx = g.add("Slice", [rois, g.int64s([0]), g.int64s([1]), g.int64s([1])],
                hint=n.name + "_batch_col")
    idx = g.add("Reshape", [idx, g.int64s([-1])], hint=n.name + "_batch_f")
    idx = g.add("Cast", [idx], hint=n.name + "_batch", to=7)  # INT64
    boxes = g.add("Slice", [rois, g.int64s([1]), g.int64s([5]), g.int64s([1])],
                  hint=n.name + "_boxes")
    h, w = n.tuple("pooled_size")
    g.add("RoiAlign", [n.inputs[0], boxes, idx], n.outputs, mode="avg", output_height=h,
          output_width=w, sampling_ratio=max(n.int("sample_ratio", -1), 0),
          spatial_scale=n.float("spatial_scale"))


@register("_contrib_box_decode")
def box_decode(g, n):
    # Deltas (B, N, 4) scaled by std, applied to the anchors' centers and sizes; corner boxes
    # out. Each coordinate is sliced with its axis kept, so that they broadcast and concat.
    dt = n.in_dtypes[0]

    def coord(x, k, hint):
        return g.add("Slice", [x, g.int64s([k]), g.int64s([k + 1]), g.int64s([-1])],
                     hint="%s_%s%d" % (n.name, hint, k))

    def op(onnx_op, a, b, hint):
        return g.add(onnx_op, [a, b], hint=n.name + "_" + hint)

    def scalar(v, hint):
        return g.const(v, dt, hint=n.name + "_" + hint)

    a = [coord(n.inputs[1], k, "a") for k in range(4)]
    half = scalar(0.5, "half")
    if n.str("format", "center") == "corner":
        aw, ah = op("Sub", a[2], a[0], "aw"), op("Sub", a[3], a[1], "ah")
        ax = op("Add", a[0], op("Mul", aw, half, "aw2"), "ax")
        ay = op("Add", a[1], op("Mul", ah, half, "ah2"), "ay")
    else:
        ax, ay, aw, ah = a
    d = [op("Mul", coord(n.inputs[0], k, "d"), scalar(n.float("std%d" % k, 1.0), "std%d" % k),
            "ds%d" % k) for k in range(4)]
    ox, oy = op("Add", op("Mul", d[0], aw, "dx"), ax, "ox"), op("Add", op("Mul", d[1], ah, "dy"),
                                                                 ay, "oy")
    clip = n.float("clip", -1.0)
    if clip > 0:
        d[2], d[3] = (op("Min", x, scalar(clip, "clip"), "dclip%d" % k) for k, x in ((2, d[2]),
                                                                                    (3, d[3])))
    ow = op("Mul", op("Mul", g.add("Exp", [d[2]], hint=n.name + "_ew"), aw, "w"), half, "ow")
    oh = op("Mul", op("Mul", g.add("Exp", [d[3]], hint=n.name + "_eh"), ah, "h"), half, "oh")
    g.add("Concat", [op("Sub", ox, ow, "x1"), op("Sub", oy, oh, "y1"), op("Add", ox, ow, "x2"),
                     op("Add", oy, oh, "y2")], n.outputs, axis=-1)


@register("_contrib_box_nms")
def box_nms(g, n):
    # ONNX's NonMaxSuppression picks the boxes; MXNet's layout is rebuilt around it: per batch
    # the kept rows (whole input rows) by descending score, then rows of -1. topk limits the
    # candidates before suppression, as in MXNet, by masking the other scores; per-class
    # suppression (id_index without force_suppress) shifts each class's boxes so far apart
    # that boxes of different classes never overlap.
    if n.int("background_id", -1) != -1:
        raise n.fail("background_id is not exported")
    if n.str("in_format", "corner") != n.str("out_format", "corner"):
        raise n.fail("in_format and out_format must be the same")
    dt, x, end = n.in_dtypes[0], n.inputs[0], np.iinfo(np.int64).max

    def add(op, ins, hint, **kw):
        return g.add(op, ins, hint=n.name + "_" + hint, **kw)

    def add2(op, ins, hint, **kw):  # an op with two outputs
        return g.add(op, ins, [g.unique(n.name + "_" + hint), g.unique(n.name + "_" + hint + "_i")],
                     **kw)

    def part(t, begin, stop, hint, axis=0):
        return add("Slice", [t, g.int64s([begin]), g.int64s([stop]), g.int64s([axis])], hint)

    shape = add("Shape", [x], "shape")
    rows_cols = part(shape, -2, end, "last2")
    data = add("Reshape", [x, add("Concat", [g.int64s([-1]), rows_cols], "shape3", axis=0)],
               "data3")  # (B, N, K)
    n_rows = part(rows_cols, 0, 1, "n")
    center = n.str("in_format", "corner") == "center"
    start = n.int("coord_start", 2)
    boxes = part(data, start, start + 4, "boxes", -1)
    score = n.int("score_index", 1)
    scores = add("Transpose", [part(data, score, score + 1, "score", -1)], "scores",
                 perm=[0, 2, 1])  # (B, 1, N)
    id_index = n.int("id_index", -1)
    if id_index >= 0 and not n.bool("force_suppress"):
        span = add("ReduceMax", [add("Abs", [boxes], "abs")], "span", keepdims=0)
        step = add("Add", [add("Mul", [span, g.const(2.0, dt)], "span2"), g.const(1.0, dt)],
                   "step")
        shift = add("Mul", [part(data, id_index, id_index + 1, "ids", -1), step], "shift")
        which = g.const([1, 1, 0, 0] if center else [1, 1, 1, 1], dt, hint=n.name + "_which")
        boxes = add("Add", [boxes, add("Mul", [shift, which], "shift4")], "class_boxes")
    topk = n.int("topk", -1)
    if topk > 0:
        top, top_i = add2("TopK", [scores, add("Min", [g.int64s([topk]), n_rows], "k")], "top",
                          axis=-1)
        floor = add("Expand", [g.const(-np.inf, dt), add("Shape", [scores], "sshape")], "floor")
        scores = add("ScatterElements", [floor, top_i, top], "topk_scores", axis=-1)
    picked = add("NonMaxSuppression",
                 [boxes, scores, n_rows, g.const([n.float("overlap_thresh", 0.5)], np.float32),
                  g.const([n.float("valid_thresh", 0.0)], np.float32)],
                 "picked", center_point_box=int(center))  # (M, 3): batch, class, box
    where = add("Gather", [picked, g.int64s([0, 2])], "where", axis=1)
    filler = add("Expand", [g.const(-1.0, dt),
                            add("Concat", [g.int64s([1]), part(shape, -1, end, "k_cols")],
                                "fshape", axis=0)], "filler")
    kept = add("Concat", [add("GatherND", [data, where], "kept_rows"), filler], "kept", axis=0)
    count = part(add("Shape", [picked], "pshape"), 0, 1, "count")
    # (B, N) row numbers into `kept`: each picked box's at its place, the filler's elsewhere;
    # sorted, a batch's picks come in NonMaxSuppression's (score) order, then the filler.
    grid = add("Expand", [count, part(add("Shape", [data], "dshape"), 0, 2, "bn")], "grid")
    order = add("Range", [g.const(0, np.int64), add("Squeeze", [count, g.int64s([0])], "m"),
                          g.const(1, np.int64)], "order")
    grid = add("ScatterND", [grid, where, order], "rows")
    rows = add2("TopK", [grid, n_rows], "sorted", axis=-1, largest=0, sorted=1)[0]
    g.add("Reshape", [add("Gather", [kept, rows], "out3", axis=0), shape], n.outputs[:1])


# ------------------------------------------------------------------------------ attention
@register("_contrib_div_sqrt_dim")
def div_sqrt_dim(g, n):
    scale = math.sqrt(n.in_shapes[0][-1])
    g.add("Div", [n.inputs[0], g.const(scale, n.in_dtypes[0], hint=n.name + "_sqrt_dim")],
          n.outputs)


def _interleaved(g, n, x, k):
    """Part k (0 queries, 1 keys, 2 values) of MXNet's interleaved (T, B, heads * 3 * d)
    projections, as (B * heads, T, d)."""
    heads = n.int("heads")
    t = n.in_shapes[0][0]
    y = g.add("Reshape", [x, g.int64s([0, 0, heads, 3, -1], hint=n.name + "_qkv_shape")],
              hint=n.name + "_qkv")
    y = g.add("Slice", [y, g.int64s([k]), g.int64s([k + 1]), g.int64s([3])],
              hint=n.name + "_part")
    y = g.add("Transpose", [y], hint=n.name + "_bhtd", perm=[1, 2, 0, 3, 4])
    return g.add("Reshape", [y, g.int64s([-1, t, n.in_shapes[0][2] // heads // 3])],
                 hint=n.name + "_heads")


@register("_contrib_interleaved_matmul_selfatt_qk")
def selfatt_qk(g, n):
    # (q / sqrt(d)) @ k^T per batch and head: (B * heads, T, T).
    q, k = _interleaved(g, n, n.inputs[0], 0), _interleaved(g, n, n.inputs[0], 1)
    d = n.in_shapes[0][2] // n.int("heads") // 3
    q = g.add("Div", [q, g.const(math.sqrt(d), n.in_dtypes[0], hint=n.name + "_sqrt_d")],
              hint=n.name + "_q")
    g.add("MatMul", [q, g.add("Transpose", [k], hint=n.name + "_kT", perm=[0, 2, 1])],
          n.outputs)


@register("_contrib_interleaved_matmul_selfatt_valatt")
def selfatt_valatt(g, n):
    # attention (B * heads, T, T) @ values, back to MXNet's (T, B, heads * d).
    heads, (t, _, width) = n.int("heads"), n.in_shapes[0]
    y = g.add("MatMul", [n.inputs[1], _interleaved(g, n, n.inputs[0], 2)], hint=n.name + "_av")
    y = g.add("Reshape", [y, g.int64s([-1, heads, t, width // heads // 3])],
              hint=n.name + "_bhtd")
    y = g.add("Transpose", [y], hint=n.name + "_tbhd", perm=[2, 0, 1, 3])
    g.add("Reshape", [y, g.int64s([0, 0, -1], hint=n.name + "_shape")], n.outputs)
