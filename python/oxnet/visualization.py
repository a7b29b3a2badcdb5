"""``mx.viz``: a layer table (``print_summary``) and a graph drawing (``plot_network``).

``plot_network`` returns a ``graphviz.Digraph`` when the ``graphviz`` package is installed;
otherwise a ``DotGraph`` holding the same DOT text (``.source``), which can be saved and
rendered with the ``dot`` program.
"""
import copy
import json
import warnings

from .symbol import Symbol

__all__ = ["print_summary", "plot_network", "DotGraph"]


def _str2tuple(text):
    """``"(3, 3)"`` -> ``['3', '3']``."""
    return [t.strip() for t in text.strip("()[] ").split(",") if t.strip()]


def _shape_dict(symbol, shape):
    internals = symbol.get_internals()
    _, out_shapes, _ = internals.infer_shape(**shape)
    if out_shapes is None:
        raise ValueError("Input shape is incomplete")
    return dict(zip(internals.list_outputs(), out_shapes))


def _type_dict(symbol, dtype):
    internals = symbol.get_internals()
    _, out_types, _ = internals.infer_type(**dtype)
    if out_types is None:
        raise ValueError("Input type is incomplete")
    return dict(zip(internals.list_outputs(), out_types))


def _layer_params(node, in_channels, out_shape):
    """Trainable parameter count of a layer (the layers MXNet counts)."""
    op, attrs = node["op"], node.get("attrs", {})
    no_bias = attrs.get("no_bias", "False") == "True"
    if op == "Convolution":
        groups = int(attrs.get("num_group", "1"))
        filters = int(attrs["num_filter"])
        n = in_channels * filters // groups
        for k in _str2tuple(attrs["kernel"]):
            n *= int(k)
        return n if no_bias else n + filters
    if op == "FullyConnected":
        hidden = int(attrs["num_hidden"])
        return in_channels * hidden if no_bias else (in_channels + 1) * hidden
    if op == "BatchNorm":
        return 2 * int(out_shape[0]) if out_shape else 0
    if op == "Embedding":
        return int(attrs["input_dim"]) * int(attrs["output_dim"])
    return 0


def print_summary(symbol, shape=None, line_length=120, positions=(.44, .64, .74, 1.)):
    """Prints one row per layer: name(op), output shape, parameter count, inputs.

    ``shape`` maps input names to shapes (needed for shapes and most parameter counts).
    """
    if not isinstance(symbol, Symbol):
        raise TypeError("symbol must be Symbol")
    shapes = _shape_dict(symbol, shape) if shape is not None else {}
    conf = json.loads(symbol.tojson())
    nodes = conf["nodes"]
    heads = {h[0] for h in conf["heads"]}
    cols = [int(line_length * p) if p <= 1 else int(p) for p in positions]

    def row(fields):
        line = ""
        for f, end in zip(fields, cols):
            line = (line + str(f))[:end].ljust(end)
        print(line)

    def out_key(n):
        return n["name"] if n["op"] == "null" else n["name"] + "_output"

    print("_" * line_length)
    row(["Layer (type)", "Output Shape", "Param #", "Previous Layer"])
    print("=" * line_length)
    # MXNet's rule, kept so the table reads the same: variables are rows only when they are
    # the first node (the data), and an input counts as a previous layer when it is an op or
    # an id in the first head entry (which holds the data's id 0).
    heads = set(conf["heads"][0])
    total = 0
    for i, node in enumerate(nodes):
        if node["op"] == "null" and i > 0:
            continue
        show = node["op"] != "null" or i in heads
        out_shape = list(shapes.get(out_key(node), ())[1:]) if show else []
        prev, channels = [], 0
        if node["op"] != "null":
            for src_id, _, _ in node["inputs"]:
                src = nodes[src_id]
                if src["op"] == "null" and src_id not in heads:
                    continue
                prev.append(src["name"])
                s = shapes.get(out_key(src))
                if s is not None and len(s) > 1:
                    channels += int(s[1])
        params = _layer_params(node, channels, out_shape)
        total += params
        row(["%s(%s)" % (node["name"], node["op"]), "x".join(str(x) for x in out_shape), params,
             prev[0] if prev else ""])
        for p in prev[1:]:
            row(["", "", "", p])
        print(("=" if i == len(nodes) - 1 else "_") * line_length)
    print("Total params: {params}".format(params=total))
    print("_" * line_length)


_PARAM_SUFFIXES = ("_weight", "_bias", "_beta", "_gamma", "_moving_var", "_moving_mean",
                   "_running_var", "_running_mean")

_PALETTE = ("#8dd3c7", "#fb8072", "#ffffb3", "#bebada", "#80b1d3", "#fdb462", "#b3de69",
            "#fccde5")


def _label_and_color(node):
    op, name, attrs = node["op"], node["name"], node.get("attrs", {})
    if op == "null":
        return name, _PALETTE[0]
    if op == "Convolution":
        stride = "x".join(_str2tuple(attrs.get("stride", "(1,)")))
        return ("Convolution\n%s/%s, %s" % ("x".join(_str2tuple(attrs["kernel"])), stride,
                                           attrs["num_filter"]), _PALETTE[1])
    if op == "FullyConnected":
        return "FullyConnected\n%s" % attrs["num_hidden"], _PALETTE[1]
    if op == "BatchNorm":
        return name, _PALETTE[3]
    if op in ("Activation", "LeakyReLU"):
        default = "Leaky" if op == "LeakyReLU" else ""
        return "%s\n%s" % (op, attrs.get("act_type", default)), _PALETTE[2]
    if op == "Pooling":
        stride = "x".join(_str2tuple(attrs.get("stride", "(1,)")))
        return ("Pooling\n%s, %s/%s" % (attrs.get("pool_type", "max"),
                                       "x".join(_str2tuple(attrs["kernel"])) if "kernel" in attrs
                                       else "[]", stride),
                _PALETTE[4])
    if op in ("Concat", "Flatten", "Reshape"):
        return name, _PALETTE[5]
    if op == "Softmax":
        return name, _PALETTE[6]
    return attrs["op_type"] if op == "Custom" else name, _PALETTE[7]


class DotGraph:
    """The DOT text of a network, returned when the ``graphviz`` package is missing."""

    def __init__(self, title, source):
        self.name = title
        self.source = source

    def __str__(self):
        return self.source

    def save(self, filename=None):
        filename = filename or self.name + ".gv"
        with open(filename, "w", encoding="utf-8") as f:
            f.write(self.source)
        return filename

    def render(self, *args, **kwargs):
        raise ImportError("Rendering a network drawing requires the graphviz Python package "
                          "(pip install graphviz) and the Graphviz 'dot' program; the DOT text "
                          "is available as .source and can be written with .save()")

    view = render


def _dot_quote(s):
    return '"%s"' % str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def plot_network(symbol, title="plot", save_format="pdf", shape=None, dtype=None,
                 node_attrs=None, hide_weights=True):
    """Draws the graph: one box per op (and per non-parameter variable), edges labelled with
    shapes when ``shape`` is given. Returns a ``graphviz.Digraph``, or a ``DotGraph`` with
    the DOT text when the ``graphviz`` package is not installed."""
    if not isinstance(symbol, Symbol):
        raise TypeError("symbol must be a Symbol")
    shapes = _shape_dict(symbol, shape) if shape is not None else None
    types = _type_dict(symbol, dtype) if dtype is not None else None
    conf = json.loads(symbol.tojson())
    nodes = conf["nodes"]
    names = [n["name"] for n in nodes]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        warnings.warn("There are multiple variables with the same name in your graph, this may "
                      "result in cyclic graph. Repeated names: " + ",".join(repeated),
                      RuntimeWarning)
    attrs = {"shape": "box", "fixedsize": "true", "width": "1.3", "height": "0.8034",
             "style": "filled"}
    attrs.update(node_attrs or {})

    def hidden(node):
        return hide_weights and node["op"] == "null" and node["name"].endswith(_PARAM_SUFFIXES)

    def output_key(src, idx, table):
        if src["op"] == "null":
            return src["name"]
        key = src["name"] + "_output"
        return key if key in table else "%s%d" % (key, idx)

    drawn, edges = [], []
    for node in nodes:
        if node["op"] == "null" and node["name"].endswith(_PARAM_SUFFIXES):
            continue
        label, color = _label_and_color(node)
        a = copy.deepcopy(attrs)
        a["fillcolor"] = color
        if node["op"] == "null":
            a["shape"] = "oval"
        drawn.append((node["name"], label, a))
    for node in nodes:
        if node["op"] == "null":
            continue
        # BilinearResize2D's second input only gives the output size ('like' mode).
        inputs = node["inputs"][:1] if node["op"] == "_contrib_BilinearResize2D" \
            else node["inputs"]
        for src_id, idx, _ in inputs:
            src = nodes[src_id]
            if hidden(src):
                continue
            ea = {"dir": "back", "arrowtail": "open", "label": ""}
            if shapes is not None:
                ea["label"] = "x".join(str(x) for x in
                                       shapes.get(output_key(src, idx, shapes), ())[1:])
            if types is not None:
                t = types.get(output_key(src, idx, types))
                if t is not None:
                    ea["label"] += "(%s)" % t.__name__
            edges.append((node["name"], src["name"], ea))
    try:
        from graphviz import Digraph
    except ImportError:
        lines = ["digraph %s {" % _dot_quote(title)]
        for name, label, a in drawn:
            extra = "".join(", %s=%s" % (k, _dot_quote(v)) for k, v in sorted(a.items()))
            lines.append("\t%s [label=%s%s]" % (_dot_quote(name), _dot_quote(label), extra))
        for head, tail, a in edges:
            extra = ", ".join("%s=%s" % (k, _dot_quote(v)) for k, v in sorted(a.items()))
            lines.append("\t%s -> %s [%s]" % (_dot_quote(head), _dot_quote(tail), extra))
        lines.append("}")
        return DotGraph(title, "\n".join(lines) + "\n")
    dot = Digraph(name=title, format=save_format)
    for name, label, a in drawn:
        dot.node(name=name, label=label, **a)
    for head, tail, a in edges:
        dot.edge(tail_name=head, head_name=tail, **a)
    return dot
