"""ONNX -> MXNet converters, one function per ONNX op family (opsets 7 to 13 attributes)."""
import numpy as np

from ... import symbol as S
from ...symbol import _internal
from .import_model import register


def _sym(im, node, i):
    return im.sym(node.inputs[i])


def _ints(v):
    return tuple(int(x) for x in v)


def _axes(im, node, attr_name="axes", input_index=1):
    """``axes`` given as an attribute (before opset 13) or as a constant input (13+)."""
    if attr_name in node.attrs:
        return _ints(node.attr(attr_name))
    v = im.const(node, input_index)
    return None if v is None else _ints(v.reshape(-1))


# ------------------------------------------------------------------------------ constants
@register("Constant")
def constant(im, node):
    onnx = im.onnx
    if "value" in node.attrs:
        value = onnx.numpy_helper.to_array(node.attrs["value"])
    elif "value_float" in node.attrs:
        value = np.array(node.attrs["value_float"], np.float32)
    elif "value_floats" in node.attrs:
        value = np.array(node.attrs["value_floats"], np.float32)
    elif "value_int" in node.attrs:
        value = np.array(node.attrs["value_int"], np.int64)
    elif "value_ints" in node.attrs:
        value = np.array(node.attrs["value_ints"], np.int64)
    else:
        raise node.fail("only dense value/value_float(s)/value_int(s) constants are imported")
    im.set_param(node.outputs[0], value)


@register("Shape")
def shape(im, node):
    # A Reshape to it becomes reshape_like (the batch stays free); other consumers see the
    # static shape as a constant where ONNX shape inference knows it.
    start, end = node.attr("start", 0), node.attr("end")  # a part of the shape (opset 15)
    whole = start == 0 and end is None
    if whole:
        im.shape_of[node.outputs[0]] = node.inputs[0]
    s = im.shape(node.inputs[0])
    if s is not None and None not in s and 0 not in s:
        im.set_param(node.outputs[0], np.array(s[start:end], np.int64))
    elif not whole:  # a part of a dynamic shape, computed at run time
        full = S.shape_array(_sym(im, node, 0), name=node.name + "_full")
        return S.slice_axis(full, axis=0, begin=start, end=end, name=node.name)


@register("Identity", "Dropout")
def identity(im, node):
    return S.identity(_sym(im, node, 0), name=node.name)


# ------------------------------------------------------------------------------ activations
_ACT = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Softplus": "softrelu",
        "Softsign": "softsign"}


@register(*_ACT)
def activation(im, node):
    return S.Activation(_sym(im, node, 0), act_type=_ACT[node.op], name=node.name)


@register("LeakyRelu")
def leaky_relu(im, node):
    return S.LeakyReLU(_sym(im, node, 0), act_type="leaky", slope=node.attr("alpha", 0.01),
                       name=node.name)


@register("Elu")
def elu(im, node):
    return S.LeakyReLU(_sym(im, node, 0), act_type="elu", slope=node.attr("alpha", 1.0),
                       name=node.name)


@register("Selu")
def selu(im, node):
    if abs(node.attr("alpha", 1.67326319217681884765625) - 1.6732632) > 1e-6 or \
            abs(node.attr("gamma", 1.05070102214813232421875) - 1.0507010) > 1e-6:
        raise node.fail("only the standard alpha and gamma are imported")
    return S.LeakyReLU(_sym(im, node, 0), act_type="selu", name=node.name)


@register("PRelu")
def prelu(im, node):
    slope = node.inputs[1]
    if im.is_const(slope):  # MXNet's gamma is 1-D along the channel axis
        im.set_param(slope, im.params[slope].reshape(-1))
        gamma = im.sym(slope)
    else:
        gamma = S.reshape(im.sym(slope), shape=(-1,), name=node.name + "_gamma")
    return S.LeakyReLU(_sym(im, node, 0), gamma=gamma, act_type="prelu", name=node.name)


# ONNX unary op -> MXNet op where the names differ (the rest are the lower-cased ONNX name).
_UNARY = {"Neg": "negative", "Asin": "arcsin", "Acos": "arccos", "Atan": "arctan",
          "Asinh": "arcsinh", "Acosh": "arccosh", "Atanh": "arctanh"}


@register("Erf", "Exp", "Log", "Sqrt", "Abs", "Neg", "Reciprocal", "Floor", "Ceil", "Sin",
          "Cos", "Tan", "Sign", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh")
def unary(im, node):
    op = _UNARY.get(node.op, node.op.lower())
    return getattr(S, op)(_sym(im, node, 0), name=node.name)


@register("Softmax", "LogSoftmax")
def softmax(im, node):
    x = _sym(im, node, 0)
    fn = S.softmax if node.op == "Softmax" else S.log_softmax
    if im.opset >= 13:
        return fn(x, axis=node.attr("axis", -1), name=node.name)
    # Before opset 13 the input is coerced to 2-D at `axis` and normalized over the rest.
    axis = node.attr("axis", 1)
    rank = im.rank(node, node.inputs[0])
    axis = axis % rank
    if axis == rank - 1:
        return fn(x, axis=-1, name=node.name)
    flat = S.reshape(x, shape=(-1,) if axis == 0 else tuple([0] * axis) + (-1,),
                     name=node.name + "_flat")
    if axis == 0:
        flat = S.reshape(flat, shape=(1, -1), name=node.name + "_flat2")
    y = fn(flat, axis=-1, name=node.name + "_2d")
    return S.reshape_like(y, x, name=node.name)


# ------------------------------------------------------------------------------ layers
def _spatial(im, node, kernel):
    k = len(kernel)
    if node.attr("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise node.fail("auto_pad=%s is not imported; give explicit pads" % node.attr("auto_pad"))
    pads = _ints(node.attr("pads", [0] * 2 * k))
    if pads[:k] != pads[k:]:
        raise node.fail("asymmetric pads %s are not imported" % (pads,))
    return dict(kernel=tuple(kernel), stride=_ints(node.attr("strides", [1] * k)),
                pad=pads[:k])


def _weight_shape(im, node, i):
    s = im.shape(node.inputs[i])
    if s is None or None in s:
        raise node.fail("the weight's shape must be known")
    return s


@register("Gemm")
def gemm(im, node):
    a, b = node.inputs[0], node.inputs[1]
    c = node.input(2)
    alpha, beta = node.attr("alpha", 1.0), node.attr("beta", 1.0)
    ta, tb = node.attr("transA", 0), node.attr("transB", 0)
    c_shape = im.shape(c) if c else None
    if alpha == 1.0 and (c is None or beta == 1.0) and not ta and tb and \
            (c is None or (c_shape is not None and len(c_shape) == 1)):
        n = _weight_shape(im, node, 1)[0]
        kw = dict(bias=im.sym(c)) if c else dict(no_bias=True)
        return S.FullyConnected(im.sym(a), weight=im.sym(b), num_hidden=n, flatten=True,
                                name=node.name, **kw)
    y = S.dot(im.sym(a), im.sym(b), transpose_a=bool(ta), transpose_b=bool(tb),
              name=node.name + ("_dot" if alpha != 1.0 or c else ""))
    if alpha != 1.0:
        y = _internal._mul_scalar(y, scalar=alpha, name=node.name + ("_alpha" if c else ""))
    if c:
        cs = im.sym(c)
        if beta != 1.0:
            cs = _internal._mul_scalar(cs, scalar=beta, name=node.name + "_beta")
        y = S.broadcast_add(y, cs, name=node.name)
    return y


@register("MatMul")
def matmul(im, node):
    a, b = im.sym(node.inputs[0]), im.sym(node.inputs[1])
    ra, rb = im.rank(node, node.inputs[0]), im.rank(node, node.inputs[1])
    if rb == 2 or (ra == 1 and rb == 1):
        return S.dot(a, b, name=node.name)  # contracts a's last axis with b's first
    if ra == rb == 3:
        return S.batch_dot(a, b, name=node.name)
    if ra == rb:
        return S.linalg.gemm2(a, b, name=node.name)
    raise node.fail("inputs of ranks %d and %d are not imported" % (ra, rb))


@register("Conv")
def conv(im, node):
    w = _weight_shape(im, node, 1)
    kernel = node.attr("kernel_shape", w[2:])
    kw = _spatial(im, node, kernel)
    kw["dilate"] = _ints(node.attr("dilations", [1] * len(kernel)))
    bias = node.input(2)
    extra = dict(bias=im.sym(bias)) if bias else dict(no_bias=True)
    return S.Convolution(_sym(im, node, 0), weight=_sym(im, node, 1), num_filter=w[0],
                         num_group=node.attr("group", 1), name=node.name, **kw, **extra)


@register("ConvTranspose")
def conv_transpose(im, node):
    if "output_shape" in node.attrs:
        raise node.fail("output_shape is not imported; give pads and output_padding")
    w = _weight_shape(im, node, 1)
    group = node.attr("group", 1)
    kernel = node.attr("kernel_shape", w[2:])
    kw = _spatial(im, node, kernel)
    kw["dilate"] = _ints(node.attr("dilations", [1] * len(kernel)))
    kw["adj"] = _ints(node.attr("output_padding", [0] * len(kernel)))
    bias = node.input(2)
    extra = dict(bias=im.sym(bias), no_bias=False) if bias else dict(no_bias=True)
    return S.Deconvolution(_sym(im, node, 0), weight=_sym(im, node, 1), num_filter=w[1] * group,
                           num_group=group, name=node.name, **kw, **extra)


@register("BatchNormalization")
def batch_norm(im, node):
    if len([o for o in node.outputs if o]) > 1:
        raise node.fail("training-mode outputs (running mean/var) are not imported")
    x, gamma, beta, mean, var = (im.sym(i) for i in node.inputs[:5])
    return S.BatchNorm(x, gamma=gamma, beta=beta, moving_mean=mean, moving_var=var,
                       eps=node.attr("epsilon", 1e-5), momentum=node.attr("momentum", 0.9),
                       fix_gamma=False, name=node.name)


def _pool_size(i, k, s, b, e, ceil):
    span = i + b + e - k
    return (-(-span // s) if ceil else span // s) + 1


@register("MaxPool", "AveragePool", "LpPool")
def pool(im, node):
    kernel = _ints(node.attr("kernel_shape"))
    k = len(kernel)
    if any(d != 1 for d in node.attr("dilations", [])):
        raise node.fail("dilated pooling is not imported")
    if node.attr("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise node.fail("auto_pad=%s is not imported; give explicit pads" % node.attr("auto_pad"))
    if len([o for o in node.outputs if o]) > 1:
        raise node.fail("the Indices output is not imported")
    stride = _ints(node.attr("strides", [1] * k))
    pads = _ints(node.attr("pads", [0] * 2 * k))
    begin, end = pads[:k], pads[k:]
    ceil = bool(node.attr("ceil_mode", 0))
    include = bool(node.attr("count_include_pad", 0))
    kw = dict(kernel=kernel, stride=stride, pad=begin)
    if node.op == "MaxPool":
        kw["pool_type"] = "max"
    elif node.op == "AveragePool":
        kw.update(pool_type="avg", count_include_pad=include)
    else:
        kw.update(pool_type="lp", p_value=node.attr("p", 2))
    x = _sym(im, node, 0)
    if begin == end:
        kw["pooling_convention"] = "full" if ceil else "valid"
        return S.Pooling(x, name=node.name, **kw)
    # Asymmetric pads: MXNet's 'full' convention pads the end just enough for a last window.
    src = im.shape(node.inputs[0])
    if src is None or None in src[2:]:
        raise node.fail("asymmetric pads need the input's spatial shape")
    sizes = src[2:]
    want = [_pool_size(i, kk, st, b, e, ceil) for i, kk, st, b, e in
            zip(sizes, kernel, stride, begin, end)]
    for conv, up in (("valid", False), ("full", True)):
        got = [_pool_size(i, kk, st, b, b, up) for i, kk, st, b in
               zip(sizes, kernel, stride, begin)]
        # The end padding only counts in an average's divisor with count_include_pad.
        if got == want and (node.op == "MaxPool" or not include or conv == "valid"):
            return S.Pooling(x, name=node.name, pooling_convention=conv, **kw)
    if node.op == "LpPool" or (node.op == "AveragePool" and not include) or k < 2:
        raise node.fail("asymmetric pads %s are not imported" % (pads,))
    fill = -3.4e38 if node.op == "MaxPool" else 0.0
    width = (0, 0, 0, 0) + tuple(p for pair in zip(begin, end) for p in pair)
    x = S.Pad(x, mode="constant", pad_width=width, constant_value=fill, name=node.name + "_pad")
    kw["pad"] = (0,) * k
    return S.Pooling(x, name=node.name, pooling_convention="full" if ceil else "valid", **kw)


@register("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool")
def global_pool(im, node):
    kind = {"GlobalAveragePool": "avg", "GlobalMaxPool": "max", "GlobalLpPool": "lp"}[node.op]
    rank = im.rank(node, node.inputs[0])
    extra = dict(p_value=node.attr("p", 2)) if kind == "lp" else {}
    return S.Pooling(_sym(im, node, 0), kernel=(1,) * (rank - 2), global_pool=True,
                     pool_type=kind, name=node.name, **extra)


@register("LRN")
def lrn(im, node):
    return S.LRN(_sym(im, node, 0), alpha=node.attr("alpha", 1e-4),
                 beta=node.attr("beta", 0.75), knorm=node.attr("bias", 1.0),
                 nsize=node.attr("size"), name=node.name)


def _bilinear(im, node):
    """A 2-D linear Resize whose sampling MXNet's BilinearResize2D shares."""
    coords = node.attr("coordinate_transformation_mode", "half_pixel")
    if coords not in ("align_corners", "half_pixel", "pytorch_half_pixel"):
        raise node.fail("mode=linear with coordinate_transformation_mode=%s is not imported"
                        % coords)
    src = im.shape(node.inputs[0])
    sizes = im.const(node, 3)
    if sizes is None or np.size(sizes) == 0:
        scales = im.const(node, 2)
        if scales is None or src is None or None in src:
            raise node.fail("scales or sizes and a known input shape are needed")
        sizes = np.floor(np.asarray(src, np.float64) * np.asarray(scales, np.float64))
    sizes = [int(v) for v in np.asarray(sizes).reshape(-1)]
    if len(sizes) != 4 or (src is not None and list(src[:2]) != sizes[:2]):
        raise node.fail("a linear Resize of other than the two spatial axes of NCHW data is "
                        "not imported (sizes %s)" % sizes)
    return S.contrib.BilinearResize2D(_sym(im, node, 0), height=sizes[2], width=sizes[3],
                                      align_corners=coords == "align_corners", name=node.name)


@register("Resize", "Upsample")
def resize(im, node):
    if node.op == "Resize" and node.attr("mode", "nearest") == "linear":
        return _bilinear(im, node)
    if node.attr("coordinate_transformation_mode", "") == "align_corners":
        raise node.fail("coordinate_transformation_mode=align_corners is not imported")
    if node.attr("mode", "nearest") != "nearest":
        raise node.fail("mode=%s is not imported (nearest only)" % node.attr("mode"))
    if "scales" in node.attrs:
        scales = np.array(node.attr("scales"))
    elif node.op == "Upsample":
        scales = im.const(node, 1)
    else:
        scales = im.const(node, 2)
        if scales is None or scales.size == 0:
            sizes = im.const(node, 3)
            src = im.shape(node.inputs[0])
            if sizes is None or src is None or None in src:
                raise node.fail("scales or sizes and a known input shape are needed")
            scales = np.asarray(sizes, np.float64) / np.asarray(src, np.float64)
    scales = np.asarray(scales, np.float64).reshape(-1)
    s = scales[2:]
    if scales[0] != 1 or scales[1] != 1 or np.any(s != s[0]) or s[0] != int(s[0]):
        raise node.fail("scales %s are not imported (one integer scale for the spatial axes)"
                        % list(scales))
    return S.UpSampling(_sym(im, node, 0), scale=int(s[0]), sample_type="nearest", num_args=1,
                        name=node.name)


@register("InstanceNormalization")
def instance_norm(im, node):
    x, gamma, beta = (im.sym(i) for i in node.inputs[:3])
    return S.InstanceNorm(x, gamma=gamma, beta=beta, eps=node.attr("epsilon", 1e-5),
                          name=node.name)


@register("MaxRoiPool")
def max_roi_pool(im, node):
    # Both take rois as (batch index, x1, y1, x2, y2) in input-image coordinates.
    return S.ROIPooling(_sym(im, node, 0), _sym(im, node, 1),
                        pooled_size=_ints(node.attr("pooled_shape")),
                        spatial_scale=node.attr("spatial_scale", 1.0), name=node.name)
