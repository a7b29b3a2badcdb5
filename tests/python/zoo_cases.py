"""The image-classification networks of MXNet 1.9.1's example/image-classification/symbols, as
zoo_mxnet_ref.py records them with real MXNet (their -symbol.json and outputs) and
test_model_zoo.py runs them in oxnet; ``params`` gives both the same weights."""
import zlib

import numpy as np

# name: (symbols module, get_symbol kwargs, data shape); batch 2 so that BatchNorm's
# batch statistics are not degenerate, and the smallest image each network's fixed pooling
# windows allow.
CASES = {
    "mlp": ("mlp", {"num_classes": 10}, (2, 1, 28, 28)),
    "lenet": ("lenet", {"num_classes": 10}, (2, 1, 28, 28)),
    "alexnet": ("alexnet", {"num_classes": 10}, (2, 3, 224, 224)),
    "googlenet": ("googlenet", {"num_classes": 10}, (2, 3, 256, 256)),
    "inception-bn": ("inception-bn", {"num_classes": 10, "image_shape": "3,224,224"},
                     (2, 3, 224, 224)),
    "inception-v3": ("inception-v3", {"num_classes": 10}, (2, 3, 299, 299)),
    "inception-v4": ("inception-v4", {"num_classes": 10}, (2, 3, 299, 299)),
    "inception-resnet-v2": ("inception-resnet-v2", {"num_classes": 10}, (2, 3, 299, 299)),
    "resnet-20-cifar": ("resnet", {"num_classes": 10, "num_layers": 20,
                                   "image_shape": "3,28,28"}, (2, 3, 28, 28)),
    "resnet-50": ("resnet", {"num_classes": 10, "num_layers": 50, "image_shape": "3,64,64"},
                  (2, 3, 64, 64)),
    "resnet-v1-18": ("resnet-v1", {"num_classes": 10, "num_layers": 18,
                                   "image_shape": "3,64,64"}, (2, 3, 64, 64)),
    "resnext-50": ("resnext", {"num_classes": 10, "num_layers": 50, "num_group": 32,
                               "image_shape": "3,64,64"}, (2, 3, 64, 64)),
    "mobilenet": ("mobilenet", {"num_classes": 10}, (2, 3, 224, 224)),
    "mobilenetv2": ("mobilenetv2", {"num_classes": 10}, (2, 3, 224, 224)),
    "densenet-121": ("densenet", {"num_classes": 10, "num_layers": 121}, (2, 3, 224, 224)),
    "vgg-11-bn": ("vgg", {"num_classes": 10, "num_layers": 11, "batch_norm": True},
                  (2, 3, 224, 224)),
}

# MXNet computes the golden in float64 (free of float32's rounding, which BatchNorm's
# backward pass in deep networks amplifies to percents), except where an op of the network
# has float32 kernels only
FLOAT32_ONLY = {"alexnet": "LRN"}

# entries of each gradient the golden keeps besides its norm and sum
SAMPLES = 16


def params(shapes):
    """Weights for the arguments and auxiliary states ``shapes`` ({name: shape}): each drawn
    from its own name's seed (so the same on both sides in any order), He-scaled for weights,
    near 1 for scales and variances, small elsewhere."""
    out = {}
    for name, shape in shapes.items():
        rng = np.random.RandomState(zlib.crc32(name.encode()))
        if len(shape) >= 2:
            fan_in = int(np.prod(shape[1:]))
            v = rng.normal(0, np.sqrt(2.0 / fan_in), shape)
        elif name.endswith(("gamma", "moving_var")):
            v = 1.0 + rng.uniform(-0.2, 0.2, shape)
        else:
            v = rng.uniform(-0.1, 0.1, shape)
        out[name] = v.astype(np.float32)
    return out


def run(mx, sym, shape, dtype):
    """Binds network ``sym`` with these weights and data in ``dtype`` (with ``mx``, MXNet or
    oxnet) and runs inference, a training pass and backward. Returns the shapes inferred
    ({'arg_shapes', 'aux_shapes', 'out_shapes'}), the two outputs, and the summaries of the
    gradients and of the auxiliary states after training ({name: row})."""
    label = [a for a in sym.list_arguments() if a.endswith("_label")]
    in_shapes = {"data": shape}
    in_shapes.update({a: (shape[0],) for a in label})
    arg_shapes, out_shapes, aux_shapes = sym.infer_shape(**in_shapes)
    shapes = dict(zip(sym.list_arguments(), arg_shapes))
    aux = dict(zip(sym.list_auxiliary_states(), aux_shapes))
    weights = params({k: v for k, v in shapes.items() if k not in in_shapes})
    weights.update(params(aux))
    args = {"data": mx.nd.array(data(shape), dtype=dtype)}
    for a in label:
        args[a] = mx.nd.array(labels(shape[0], out_shapes[0][1]), dtype=dtype)
    args.update({k: mx.nd.array(weights[k], dtype=dtype) for k in shapes if k not in in_shapes})
    grads = {k: mx.nd.zeros(s, dtype=dtype) for k, s in shapes.items() if k not in label}
    aux_nd = {k: mx.nd.array(weights[k], dtype=dtype) for k in aux}
    ex = sym.bind(mx.cpu(), args, args_grad=grads, aux_states=aux_nd)
    infer = ex.forward(is_train=False)[0].asnumpy()
    train = ex.forward(is_train=True)[0].asnumpy()
    ex.backward()
    meta = {"arg_shapes": {k: list(v) for k, v in shapes.items()},
            "aux_shapes": {k: list(v) for k, v in aux.items()},
            "out_shapes": [list(s) for s in out_shapes]}
    return (meta, infer, train, {k: v.asnumpy() for k, v in grads.items()},
            {k: v.asnumpy() for k, v in aux_nd.items()})


def data(shape):
    rng = np.random.RandomState(7)
    return rng.uniform(-1, 1, shape).astype(np.float32)


def labels(batch, num_classes):
    return (np.arange(batch) * 3 % num_classes).astype(np.float32)


def sample_index(name, size):
    rng = np.random.RandomState(zlib.crc32(name.encode()) ^ 0x5A5A)
    return rng.randint(0, size, SAMPLES)


def summary(name, grad):
    """[norm, sum, SAMPLES entries (repeated to fill when fewer)] of a tensor (flattened)."""
    g = np.asarray(grad, dtype=np.float64).ravel()
    picks = g[sample_index(name, g.size)]
    picks = np.resize(picks, SAMPLES)
    return np.concatenate([[np.linalg.norm(g), g.sum()], picks])


def summaries(tensors):
    """The summaries of {name: tensor}, one row each, in its order."""
    rows = [summary(k, v) for k, v in tensors.items()]
    return np.array(rows, dtype=np.float64).reshape(len(rows), SAMPLES + 2)
