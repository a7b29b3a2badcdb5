"""Symbol graphs built the same way by real MXNet 1.9.1 (tests/data/make_golden_symbol.py,
which writes the golden files) and by oxnet (test_symbol.py, which compares against them).

Each builder takes the ``mx`` module and returns ``(symbol, shapes, types)``: the keyword
arguments for ``infer_shape`` and ``infer_type`` (None = not checked). Builders run inside a
fresh ``mx.name.NameManager()`` so automatic names do not depend on earlier cases.
"""


def mlp(mx):
    data = mx.sym.Variable("data")
    fc1 = mx.sym.FullyConnected(data, name="fc1", num_hidden=128)
    act1 = mx.sym.Activation(fc1, name="relu1", act_type="relu")
    fc2 = mx.sym.FullyConnected(act1, name="fc2", num_hidden=10)
    net = mx.sym.SoftmaxOutput(fc2, name="softmax")
    return net, {"data": (100, 784)}, {"data": "float32"}


def lenet(mx):
    data = mx.sym.Variable("data")
    c1 = mx.sym.Convolution(data, kernel=(5, 5), num_filter=20)
    a1 = mx.sym.Activation(c1, act_type="tanh")
    p1 = mx.sym.Pooling(a1, pool_type="max", kernel=(2, 2), stride=(2, 2))
    c2 = mx.sym.Convolution(p1, kernel=(5, 5), num_filter=50)
    a2 = mx.sym.Activation(c2, act_type="tanh")
    p2 = mx.sym.Pooling(a2, pool_type="max", kernel=(2, 2), stride=(2, 2))
    f = mx.sym.Flatten(p2)
    fc1 = mx.sym.FullyConnected(f, num_hidden=500)
    a3 = mx.sym.Activation(fc1, act_type="tanh")
    fc2 = mx.sym.FullyConnected(a3, num_hidden=10)
    net = mx.sym.SoftmaxOutput(fc2, name="softmax")
    return net, {"data": (64, 1, 28, 28)}, {"data": "float32"}


def resblock(mx):
    data = mx.sym.Variable("data")
    c1 = mx.sym.Convolution(data, kernel=(3, 3), pad=(1, 1), num_filter=8, no_bias=True,
                            name="conv1", attr={"lr_mult": "0.1"})
    b1 = mx.sym.BatchNorm(c1, fix_gamma=False, eps=2e-5, name="bn1")
    r1 = mx.sym.Activation(b1, act_type="relu", name="relu1")
    c2 = mx.sym.Convolution(r1, kernel=(3, 3), pad=(1, 1), num_filter=8, no_bias=True,
                            name="conv2")
    b2 = mx.sym.BatchNorm(c2, name="bn2")
    s = b2 + data
    out = mx.sym.Activation(s, act_type="relu", name="relu2")
    return out, {"data": (2, 8, 8, 8)}, {"data": "float32"}


def group_scalar(mx):
    a = mx.sym.Variable("a")
    b = mx.sym.Variable("b")
    parts = [a * 2, a + b, 1 - a, a / 2, 2 / a, a ** 2, -b, (a + 1) * b, a - b, b / a]
    sp = mx.sym.split(a, num_outputs=2, axis=1)
    g = mx.sym.Group(parts + [sp[1], b])
    return g, {"a": (2, 4), "b": (2, 4)}, {"a": "float16"}


def variables(mx):
    with mx.AttrScope(ctx_group="dev1", __note__="a \"quoted\"\tvalue\\"):
        x = mx.sym.Variable("x", shape=(3, 4), dtype="float16", init="zeros", lr_mult=2.0,
                            wd_mult=0.5)
    ys = [mx.sym.Variable("y%d" % i) for i in range(11)]
    c = mx.sym.Concat(x, *ys, dim=0, name="cat")
    with mx.name.Prefix("p_"):
        m = mx.sym.make_loss(mx.sym.sum(c))
    return m, None, None


def compose(mx):
    data = mx.sym.Variable("data")
    h1 = mx.sym.FullyConnected(data, num_hidden=16, name="h1")
    sm = mx.sym.SoftmaxOutput(h1, name="sm")
    inner = mx.sym.Activation(mx.sym.Variable("x"), act_type="sigmoid", name="sig")
    c = sm(data=inner, name="compose")
    return c, {"x": (4, 5)}, None


def amp_casts(mx):
    # MXNet's tojson leaves out casts that feed other nodes (a chain of two, a multicast read
    # in swapped order) and keeps a cast that is an output.
    x, y = mx.sym.Variable("x"), mx.sym.Variable("y")
    m = mx.sym.amp_multicast(x, y, num_outputs=2)
    chain = mx.sym.amp_cast(mx.sym.amp_cast(x, dtype="float16"), dtype="float32") * y
    out = mx.sym.Group([m[1] * m[0], mx.sym.amp_cast(m[1], dtype="float32", name="c2"), chain])
    return out, {"x": (2, 3), "y": (2, 3)}, None


CASES = {
    "amp_casts": amp_casts,
    "mlp": mlp,
    "lenet": lenet,
    "resblock": resblock,
    "group_scalar": group_scalar,
    "variables": variables,
    "compose": compose,
}

# A 0.8-style file: `param`/`attr` maps, 2-element entries, `backward_source_id`, and a
# BatchNorm without its auxiliary inputs (MXNet adds them when upgrading).
LEGACY_V08 = """{
  "nodes": [
    {"op": "null", "param": {}, "name": "data", "inputs": [], "backward_source_id": -1},
    {"op": "null", "param": {}, "name": "fc1_weight", "inputs": [], "backward_source_id": -1,
     "attr": {"lr_mult": "0.5"}},
    {"op": "null", "param": {}, "name": "fc1_bias", "inputs": [], "backward_source_id": -1},
    {"op": "FullyConnected", "param": {"no_bias": "False", "num_hidden": "8"}, "name": "fc1",
     "inputs": [[0, 0], [1, 0], [2, 0]], "backward_source_id": -1, "attr": {"wd_mult": "0"}},
    {"op": "null", "param": {}, "name": "bn_gamma", "inputs": [], "backward_source_id": -1},
    {"op": "null", "param": {}, "name": "bn_beta", "inputs": [], "backward_source_id": -1},
    {"op": "BatchNorm", "param": {"eps": "0.001", "fix_gamma": "True", "momentum": "0.9",
     "use_global_stats": "False"}, "name": "bn", "inputs": [[3, 0], [4, 0], [5, 0]],
     "backward_source_id": -1},
    {"op": "Activation", "param": {"act_type": "relu"}, "name": "relu", "inputs": [[6, 0]],
     "backward_source_id": -1}
  ],
  "arg_nodes": [0, 1, 2, 4, 5],
  "heads": [[7, 0]]
}"""
