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
