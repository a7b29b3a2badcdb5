"""ONNX -> MXNet converters for generators: Range and ConstantOfShape (folded where their
inputs are constants), the random samplers and Multinomial."""
import numpy as np

from ... import symbol as S
from ...symbol import _internal
from .import_model import register
from .import_ops import _ints, _sym


def _dtype(im, onnx_type):
    return np.dtype(im.onnx.helper.tensor_dtype_to_np_dtype(onnx_type)).name


@register("Range")
def range_(im, node):
    # Reached only where folding did not happen: the bounds must still be constants.
    start, limit, delta = (np.asarray(im.const(node, i)).reshape(()) for i in range(3))
    im.set_param(node.outputs[0], np.arange(start, limit, delta).astype(start.dtype))


@register("ConstantOfShape")
def constant_of_shape(im, node):
    value = node.attrs.get("value")
    value = np.zeros(1, np.float32) if value is None else im.onnx.numpy_helper.to_array(value)
    fill, dtype = value.reshape(-1)[0], value.dtype
    if im.is_const(node.inputs[0]):
        im.set_param(node.outputs[0],
                     np.full(_ints(im.params[node.inputs[0]].reshape(-1)), fill, dtype))
        return None
    src = im.shape_of.get(node.inputs[0])
    if src is None:
        raise node.fail("the shape must be a constant or the Shape of a tensor")
    # The shape of a tensor whose size is only known at run time (MXNet's zeros_like export).
    like = S.ones_like if fill == 1 else S.zeros_like
    y = S.Cast(like(im.sym(src), name=node.name + "_like"), dtype=dtype.name,
               name=node.name + ("_cast" if fill not in (0, 1) else ""))
    if fill not in (0, 1):
        y = _internal._plus_scalar(y, scalar=float(fill), name=node.name)
    return y


# ------------------------------------------------------------------------------ random
# ``seed`` is not imported: MXNet's samplers draw from mx.random.seed's generator.
def _like_input(im, node):
    """The input of a *Like sampler in the dtype to sample: only its shape is used."""
    x = _sym(im, node, 0)
    if "dtype" in node.attrs:
        x = S.Cast(x, dtype=_dtype(im, node.attr("dtype")), name=node.name + "_as")
    return x


@register("RandomNormal", "RandomNormalLike")
def random_normal(im, node):
    kw = dict(loc=node.attr("mean", 0.0), scale=node.attr("scale", 1.0), name=node.name)
    if node.op == "RandomNormalLike":
        return _internal._random_normal_like(_like_input(im, node), **kw)
    return S.random_normal(shape=_ints(node.attr("shape")), dtype=_dtype(im, node.attr("dtype", 1)),
                           **kw)


@register("RandomUniform", "RandomUniformLike")
def random_uniform(im, node):
    kw = dict(low=node.attr("low", 0.0), high=node.attr("high", 1.0), name=node.name)
    if node.op == "RandomUniformLike":
        return _internal._random_uniform_like(_like_input(im, node), **kw)
    return S.random_uniform(shape=_ints(node.attr("shape")),
                            dtype=_dtype(im, node.attr("dtype", 1)), **kw)


@register("Bernoulli")
def bernoulli(im, node):
    p = _sym(im, node, 0)
    u = _internal._random_uniform_like(p, name=node.name + "_u")
    hit = S.broadcast_lesser(u, p, name=node.name + "_hit")  # 1 with probability p
    if "dtype" not in node.attrs:
        return S.identity(hit, name=node.name)
    return S.Cast(hit, dtype=_dtype(im, node.attr("dtype")), name=node.name)


@register("Multinomial")
def multinomial(im, node):
    # ONNX takes unnormalized log-probabilities, MXNet probabilities; MXNet samples no int64.
    probs = S.softmax(_sym(im, node, 0), axis=-1, name=node.name + "_probs")
    dtype = _dtype(im, node.attr("dtype", 6))
    y = S.sample_multinomial(probs, shape=(node.attr("sample_size", 1),), dtype="int32",
                             name=node.name if dtype == "int32" else node.name + "_draw")
    return y if dtype == "int32" else S.Cast(y, dtype=dtype, name=node.name)
