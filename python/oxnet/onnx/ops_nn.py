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
    if n.has("target_shape") and any(n.tuple("target_shape")):
        raise n.fail("target_shape is not exported; give pad and adj instead")
    kernel, stride, dilate, pads = _spatial(n, n.tuple("kernel"))
    adj = n.tuple("adj") or (0,) * len(kernel)
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
        g.add("LeakyRelu", [x], n.outputs, alpha=(lo + hi) / 2)
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
    convention = n.str("pooling_convention", "valid")
    if convention not in ("valid", "full"):
        raise n.fail("pooling_convention=%s is not exported" % convention)
    ceil = 1 if convention == "full" else 0
    common = dict(kernel_shape=kernel, strides=stride, pads=pads, ceil_mode=ceil)
    if pool == "max":
        g.add("MaxPool", [x], n.outputs, **common)
    elif pool == "avg":
        include = 1 if n.bool("count_include_pad", True) else 0
        g.add("AveragePool", [x], n.outputs, count_include_pad=include, **common)
    elif pool == "sum":
        y = g.add("AveragePool", [x], hint=n.name + "_avg", count_include_pad=1, **common)
        g.add("Mul", [y, g.const(float(np.prod(kernel)), n.in_dtypes[0])], n.outputs)
    elif pool == "lp":
        g.add("LpPool", [x], n.outputs, p=n.int("p_value", 2), kernel_shape=kernel,
              strides=stride, pads=pads)
    else:
        raise n.fail("pool_type=%s is not exported" % pool)


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
        raise n.fail("use_length=True is not exported")
    _softmax(g, n, n.inputs[0], n.int("axis", -1))


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
