"""mx.contrib.onnx.import_model of single ONNX operators: each graph runs in onnxruntime and in
oxnet's executor on seeded random inputs; outputs agree in shape, dtype and value (rtol 1e-4,
integers and bools exactly). Samplers are compared by shape, dtype and statistics."""
import numpy as np
import pytest

import oxnet as mx

onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install onnx)")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install onnxruntime)")
from onnx import helper, TensorProto  # noqa: E402

from test_onnx import (RTOL, ATOL, _forward, _import_outputs, _onnx_model,  # noqa: E402
                       _run_onnx)

N = helper.make_node
F32 = TensorProto.FLOAT


def _model(nodes, inputs, outputs, inits=None, opset=13, dims=None):
    """A graph over ``inputs`` (name -> array; ``dims`` may give symbolic shapes) and
    ``outputs`` (names; their types are ONNX's inferred ones)."""
    dims = dims or {}
    ins = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype),
                                         dims.get(k, v.shape)) for k, v in inputs.items()]
    inits = inits or {}
    graph = helper.make_graph(nodes, "g", ins, [helper.make_empty_tensor_value_info(o)
                                                for o in outputs],
                              initializer=[onnx.numpy_helper.from_array(v, k)
                                           for k, v in inits.items()])
    typed = onnx.shape_inference.infer_shapes(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])).graph.output
    return _onnx_model(nodes, ins, list(typed), inits, opset)


def _compare(model, inputs, tmp_path):
    expected, got = _import_outputs(model, inputs, tmp_path)
    for e, g in zip(expected, got):
        assert g.shape == e.shape and g.dtype == e.dtype, (g.shape, g.dtype, e.shape, e.dtype)
        if e.dtype.kind in "biu":
            np.testing.assert_array_equal(g, e)
        else:
            np.testing.assert_allclose(g, e, rtol=RTOL, atol=ATOL)


def _rand(*shape, seed=0, low=None, high=None):
    rng = np.random.RandomState(seed)
    if low is not None:
        return rng.uniform(low, high, shape).astype(np.float32)
    return rng.randn(*shape).astype(np.float32)


def _ties(*shape, seed=0):
    """Small integers as floats: ties everywhere, for first/last index selection."""
    return np.random.RandomState(seed).randint(0, 3, shape).astype(np.float32)


def _bools(*shape, seed=0):
    return np.random.RandomState(seed).rand(*shape) > 0.5


def _i64(v):
    return np.array(v, np.int64)


X = {"x": _rand(2, 3, 4)}
X3 = {"a": _rand(2, 3, 4, seed=1), "b": _rand(3, 1, seed=2), "c": _rand(4, seed=3)}
UNIT = {"x": _rand(3, 5, low=-0.95, high=0.95)}

# (id, nodes, inputs, outputs, initializers, opset)
CASES = [
    # ---- ArgMax / ArgMin: int64 indices; first of equal values unless select_last_index
    ("argmax_axis1", [N("ArgMax", ["x"], ["y"], axis=1)], X, ["y"], {}, 13),
    ("argmax_default_axis", [N("ArgMax", ["x"], ["y"])], X, ["y"], {}, 13),
    ("argmin_neg_axis_nokeep", [N("ArgMin", ["x"], ["y"], axis=-1, keepdims=0)], X, ["y"],
     {}, 13),
    ("argmax_ties_first", [N("ArgMax", ["x"], ["y"], axis=2)], {"x": _ties(3, 4, 6)}, ["y"],
     {}, 13),
    ("argmax_ties_last", [N("ArgMax", ["x"], ["y"], axis=2, select_last_index=1)],
     {"x": _ties(3, 4, 6)}, ["y"], {}, 13),
    ("argmin_ties_last_nokeep",
     [N("ArgMin", ["x"], ["y"], axis=-2, keepdims=0, select_last_index=1)],
     {"x": _ties(3, 5, 2, seed=4)}, ["y"], {}, 13),
    ("argmax_opset11", [N("ArgMax", ["x"], ["y"], axis=1, keepdims=0)], X, ["y"], {}, 11),
    # ---- TopK: values and int64 indices
    ("topk_largest", [N("TopK", ["x", "k"], ["v", "i"])], X, ["v", "i"], {"k": _i64([2])}, 13),
    ("topk_smallest_axis1", [N("TopK", ["x", "k"], ["v", "i"], axis=1, largest=0)], X,
     ["v", "i"], {"k": _i64([3])}, 13),
    ("topk_opset9_attr", [N("TopK", ["x"], ["v", "i"], k=2, axis=0)], X, ["v", "i"], {}, 9),
    ("topk_opset10", [N("TopK", ["x", "k"], ["v", "i"], axis=-1)], X, ["v", "i"],
     {"k": _i64([1])}, 10),
    # ---- Hardmax: 1 at the first maximum (ties included) along an axis
    ("hardmax_default_axis", [N("Hardmax", ["x"], ["y"])], {"x": _ties(3, 4, 6)}, ["y"], {}, 13),
    ("hardmax_axis1", [N("Hardmax", ["x"], ["y"], axis=1)], {"x": _ties(3, 4, 6)}, ["y"], {},
     13),
    ("hardmax_neg_axis", [N("Hardmax", ["x"], ["y"], axis=-3)], X, ["y"], {}, 13),
    ("hardmax_opset11_2d", [N("Hardmax", ["x"], ["y"])], {"x": _ties(2, 3, 4, seed=1)}, ["y"],
     {}, 11),
    ("hardmax_opset11_axis0", [N("Hardmax", ["x"], ["y"], axis=0)], {"x": _ties(2, 3, 2)},
     ["y"], {}, 11),
    # ---- logic: bool in and out, also fed by comparisons (MXNet's 0/1 floats)
    ("not", [N("Not", ["p"], ["y"])], {"p": _bools(3, 4)}, ["y"], {}, 13),
    ("and_broadcast", [N("And", ["p", "q"], ["y"])],
     {"p": _bools(3, 4), "q": _bools(4, seed=1)}, ["y"], {}, 13),
    ("or", [N("Or", ["p", "q"], ["y"])], {"p": _bools(3, 4), "q": _bools(3, 4, seed=1)},
     ["y"], {}, 13),
    ("xor", [N("Xor", ["p", "q"], ["y"])], {"p": _bools(2, 5), "q": _bools(2, 5, seed=2)},
     ["y"], {}, 13),
    ("compare_logic_where",
     [N("Greater", ["x", "zero"], ["pos"]), N("Less", ["x", "one"], ["small"]),
      N("And", ["pos", "small"], ["mid"]), N("Not", ["mid"], ["out"]),
      N("Where", ["out", "x", "zero"], ["w"]), N("Cast", ["mid"], ["midf"], to=F32)],
     X, ["out", "w", "midf"], {"zero": np.array(0.0, np.float32),
                              "one": np.array(0.5, np.float32)}, 13),
    # ---- inverse and hyperbolic trigonometry
    ("asin", [N("Asin", ["x"], ["y"])], UNIT, ["y"], {}, 13),
    ("acos", [N("Acos", ["x"], ["y"])], UNIT, ["y"], {}, 13),
    ("atan", [N("Atan", ["x"], ["y"])], X, ["y"], {}, 13),
    ("sinh", [N("Sinh", ["x"], ["y"])], X, ["y"], {}, 13),
    ("cosh", [N("Cosh", ["x"], ["y"])], X, ["y"], {}, 13),
    ("asinh", [N("Asinh", ["x"], ["y"])], X, ["y"], {}, 13),
    ("acosh", [N("Acosh", ["x"], ["y"])], {"x": _rand(3, 5, low=1.0, high=5.0)}, ["y"], {}, 13),
    ("atanh", [N("Atanh", ["x"], ["y"])], UNIT, ["y"], {}, 13),
    # ---- activations
    ("hardsigmoid_default", [N("HardSigmoid", ["x"], ["y"])], {"x": _rand(4, 5) * 4}, ["y"],
     {}, 13),
    ("hardsigmoid_attrs", [N("HardSigmoid", ["x"], ["y"], alpha=0.3, beta=0.4)],
     {"x": _rand(4, 5) * 4}, ["y"], {}, 13),
    ("hardswish", [N("HardSwish", ["x"], ["y"])], {"x": _rand(4, 5) * 4}, ["y"], {}, 14),
    ("gelu", [N("Gelu", ["x"], ["y"])], X, ["y"], {}, 20),
    ("gelu_tanh", [N("Gelu", ["x"], ["y"], approximate="tanh")], X, ["y"], {}, 20),
    ("mish", [N("Mish", ["x"], ["y"])], {"x": _rand(4, 5) * 3}, ["y"], {}, 18),
    # ---- variadic ops with broadcasting
    ("sum_broadcast", [N("Sum", ["a", "b", "c"], ["y"])], X3, ["y"], {}, 13),
    ("sum_same", [N("Sum", ["a", "a2"], ["y"])],
     {"a": _rand(2, 3), "a2": _rand(2, 3, seed=5)}, ["y"], {}, 13),
    ("mean_broadcast", [N("Mean", ["a", "b", "c"], ["y"])], X3, ["y"], {}, 13),
    ("mean_same", [N("Mean", ["a", "a2"], ["y"])],
     {"a": _rand(2, 3), "a2": _rand(2, 3, seed=5)}, ["y"], {}, 13),
    ("mean_one", [N("Mean", ["a"], ["y"])], {"a": _rand(2, 3)}, ["y"], {}, 13),
    ("max_three", [N("Max", ["a", "b", "c"], ["y"])], X3, ["y"], {}, 13),
    ("min_three", [N("Min", ["a", "b", "c"], ["y"])], X3, ["y"], {}, 13),
    ("max_one", [N("Max", ["a"], ["y"])], {"a": _rand(2, 3)}, ["y"], {}, 13),
    # ---- block rearrangement
    ("depth_to_space_dcr", [N("DepthToSpace", ["x"], ["y"], blocksize=2)],
     {"x": _rand(2, 8, 3, 4)}, ["y"], {}, 13),
    ("depth_to_space_crd", [N("DepthToSpace", ["x"], ["y"], blocksize=2, mode="CRD")],
     {"x": _rand(2, 8, 3, 4)}, ["y"], {}, 13),
    ("depth_to_space_opset11", [N("DepthToSpace", ["x"], ["y"], blocksize=3)],
     {"x": _rand(1, 18, 2, 2)}, ["y"], {}, 11),
    ("space_to_depth", [N("SpaceToDepth", ["x"], ["y"], blocksize=2)],
     {"x": _rand(2, 3, 4, 6)}, ["y"], {}, 13),
    # ---- normalization by a norm
    ("lpnorm_l2_last", [N("LpNormalization", ["x"], ["y"])], X, ["y"], {}, 13),
    ("lpnorm_l1_axis1", [N("LpNormalization", ["x"], ["y"], axis=1, p=1)], X, ["y"], {}, 13),
    # ---- reductions: axes an attribute (13) or an input (18)
    ("reduce_log_sum", [N("ReduceLogSum", ["x"], ["y"], axes=[1])], {"x": _rand(2, 3, 4) ** 2},
     ["y"], {}, 13),
    ("reduce_log_sum_all_nokeep", [N("ReduceLogSum", ["x"], ["y"], keepdims=0, axes=[0, 2])],
     {"x": _rand(2, 3, 4) ** 2}, ["y"], {}, 13),
    ("reduce_log_sum_exp", [N("ReduceLogSumExp", ["x"], ["y"], axes=[-1])],
     {"x": _rand(2, 3, 4) * 30}, ["y"], {}, 13),
    ("reduce_log_sum_exp_nokeep", [N("ReduceLogSumExp", ["x"], ["y"], axes=[0, 1], keepdims=0)],
     X, ["y"], {}, 13),
    ("reduce_sum_square", [N("ReduceSumSquare", ["x"], ["y"], axes=[2], keepdims=0)], X, ["y"],
     {}, 13),
    ("reduce_sum_square_all", [N("ReduceSumSquare", ["x"], ["y"])], X, ["y"], {}, 13),
    ("reduce_log_sum_exp_opset18", [N("ReduceLogSumExp", ["x", "ax"], ["y"], keepdims=0)], X,
     ["y"], {"ax": _i64([1])}, 18),
    ("reduce_sum_square_opset18", [N("ReduceSumSquare", ["x", "ax"], ["y"])], X, ["y"],
     {"ax": _i64([0, 2])}, 18),
    ("reduce_log_sum_opset18_noop",
     [N("ReduceLogSum", ["x", "ax"], ["y"], noop_with_empty_axes=1)],
     {"x": _rand(2, 3) ** 2}, ["y"], {"ax": np.zeros(0, np.int64)}, 18),
    ("reduce_l2_opset18_noop", [N("ReduceL2", ["x", "ax"], ["y"], noop_with_empty_axes=1)],
     X, ["y"], {"ax": np.zeros(0, np.int64)}, 18),
    ("reduce_sum_square_opset18_noop",
     [N("ReduceSumSquare", ["x"], ["y"], noop_with_empty_axes=1)], X, ["y"], {}, 18),
    # ---- indexing
    ("onehot", [N("OneHot", ["i", "depth", "vals"], ["y"])],
     {"i": np.array([[0, 3, -1], [2, -4, 1]], np.int64)}, ["y"],
     {"depth": _i64(4), "vals": np.array([-1.0, 2.5], np.float32)}, 11),
    ("onehot_axis0_int", [N("OneHot", ["i", "depth", "vals"], ["y"], axis=0)],
     {"i": np.array([[0, 3, -1], [2, 2, 1]], np.int64)}, ["y"],
     {"depth": _i64([5]), "vals": _i64([0, 7])}, 11),
    ("onehot_axis1_opset9", [N("OneHot", ["i", "depth", "vals"], ["y"], axis=1)],
     {"i": np.array([[0.0, 3.0], [2.0, 1.0]], np.float32)}, ["y"],
     {"depth": np.array([4.0], np.float32), "vals": np.array([0.0, 1.0], np.float32)}, 9),
    ("cumsum", [N("CumSum", ["x", "ax"], ["y"])], X, ["y"], {"ax": _i64(1)}, 13),
    ("cumsum_int_exclusive", [N("CumSum", ["i", "ax"], ["y"], exclusive=1)],
     {"i": np.arange(12, dtype=np.int64).reshape(3, 4)}, ["y"], {"ax": _i64(-1)}, 13),
    ("cumsum_reverse", [N("CumSum", ["x", "ax"], ["y"], reverse=1)], X, ["y"],
     {"ax": np.array([2], np.int32)}, 13),
    ("cumsum_reverse_exclusive", [N("CumSum", ["x", "ax"], ["y"], reverse=1, exclusive=1)], X,
     ["y"], {"ax": _i64(0)}, 13),
    ("max_roi_pool", [N("MaxRoiPool", ["x", "rois"], ["y"], pooled_shape=[2, 3])],
     {"x": _rand(2, 3, 8, 10)}, ["y"],
     {"rois": np.array([[0, 1, 1, 6, 5], [1, 0, 2, 9, 7], [1, 3, 3, 4, 4]], np.float32)}, 13),
    ("max_roi_pool_scaled", [N("MaxRoiPool", ["x", "rois"], ["y"], pooled_shape=[3, 3],
                               spatial_scale=0.5)],
     {"x": _rand(1, 2, 8, 8)}, ["y"],
     {"rois": np.array([[0, 2, 2, 13, 11], [0, 0, 0, 15, 15]], np.float32)}, 13),
    # ---- shapes and generators folded into constants
    ("size_static", [N("Size", ["x"], ["n"]), N("Cast", ["n"], ["nf"], to=F32),
                     N("Div", ["x", "nf"], ["y"])], X, ["y"], {}, 13),
    ("shape_gather_div", [N("Shape", ["x"], ["s"]), N("Gather", ["s", "one"], ["d"], axis=0),
                          N("Cast", ["d"], ["df"], to=F32), N("Mul", ["x", "df"], ["y"])],
     X, ["y"], {"one": _i64(1)}, 13),
    ("shape_start_end", [N("Shape", ["x"], ["s"], start=1, end=-1),
                         N("Cast", ["s"], ["sf"], to=F32), N("Mul", ["x", "sf"], ["y"])],
     {"x": _rand(2, 3, 3)}, ["y"], {}, 15),
    ("range_float", [N("Range", ["s", "l", "d"], ["r"]), N("Add", ["x", "r"], ["y"])],
     {"x": _rand(3, 5)}, ["y"], {"s": np.array(1.5, np.float32), "l": np.array(4.0, np.float32),
                                 "d": np.array(0.5, np.float32)}, 13),
    ("range_int", [N("Range", ["s", "l", "d"], ["r"]), N("Identity", ["x"], ["x2"])],
     {"x": _rand(3)}, ["r", "x2"],
     {"s": _i64(10), "l": _i64(1), "d": _i64(-3)}, 13),
    # ---- a static Shape as a graph output
    ("shape_output", [N("Shape", ["x"], ["s"]), N("Identity", ["x"], ["x2"])], X, ["s", "x2"],
     {}, 13),
    ("constant_of_shape", [N("ConstantOfShape", ["shp"], ["c"], value=onnx.numpy_helper.from_array(
        np.array([7], np.int64))), N("Identity", ["x"], ["x2"])],
     {"x": _rand(3)}, ["c", "x2"], {"shp": _i64([2, 3])}, 13),
    ("constant_of_shape_default", [N("ConstantOfShape", ["shp"], ["c"]),
                                   N("Add", ["x", "c"], ["y"])],
     {"x": _rand(2, 3)}, ["y"], {"shp": _i64([2, 3])}, 13),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_import_operator(case, tmp_path):
    _, nodes, inputs, outputs, inits, opset = case
    _compare(_model(nodes, inputs, outputs, inits, opset), inputs, tmp_path)


@pytest.mark.parametrize("fill", [0.0, 1.0, 2.5])
def test_constant_of_shape_of_a_dynamic_shape(fill, tmp_path):
    """MXNet's export of zeros_like: ConstantOfShape(Shape(x)) with the batch free."""
    value = onnx.numpy_helper.from_array(np.array([fill], np.float32))
    nodes = [N("Shape", ["x"], ["s"]), N("ConstantOfShape", ["s"], ["c"], value=value),
             N("Add", ["x", "c"], ["y"])]
    inputs = {"x": _rand(4, 3)}
    _compare(_model(nodes, inputs, ["y", "c"], dims={"x": ["N", 3]}), inputs, tmp_path)


@pytest.mark.parametrize("start,end", [(1, None), (0, 1), (-2, None)])
def test_part_of_a_dynamic_shape(start, end, tmp_path):
    kw = dict(start=start) if end is None else dict(start=start, end=end)
    nodes = [N("Shape", ["x"], ["s"], **kw)]
    inputs = {"x": _rand(4, 3, 2)}
    _compare(_model(nodes, inputs, ["s"], opset=15, dims={"x": ["N", 3, 2]}), inputs, tmp_path)


def test_size_of_a_dynamic_shape(tmp_path):
    # MXNet has no 0-d arrays: the count is a 1-element vector (ONNX: a scalar).
    nodes = [N("Size", ["x"], ["n"])]
    inputs = {"x": _rand(4, 3)}
    path = str(tmp_path / "size.onnx")
    onnx.save(_model(nodes, inputs, ["n"], dims={"x": ["N", 3]}), path)
    sym, arg, aux = mx.contrib.onnx.import_model(path)
    got = _forward(sym, arg, aux, inputs)[0]
    assert got.dtype == np.int64 and got.tolist() == [12]


# ------------------------------------------------------------------------------ samplers
def _sample(nodes, inputs, outputs, tmp_path, opset=13):
    """oxnet's samples, after checking their shapes and dtypes against onnxruntime's."""
    expected, got = _import_outputs(_model(nodes, inputs, outputs, opset=opset), inputs, tmp_path)
    for e, g in zip(expected, got):
        assert g.shape == e.shape and g.dtype == e.dtype, (g.shape, g.dtype, e.shape, e.dtype)
    return got


def test_random_normal(tmp_path):
    nodes = [N("RandomNormal", [], ["r"], shape=[200, 300], mean=1.0, scale=2.0, seed=3.0),
             N("Identity", ["x"], ["x2"])]
    r, _ = _sample(nodes, {"x": _rand(2)}, ["r", "x2"], tmp_path)
    assert abs(r.mean() - 1.0) < 0.05 and abs(r.std() - 2.0) < 0.05


def test_random_uniform_double(tmp_path):
    nodes = [N("RandomUniform", [], ["r"], shape=[300, 200], low=-1.0, high=3.0,
               dtype=TensorProto.DOUBLE), N("Identity", ["x"], ["x2"])]
    r, _ = _sample(nodes, {"x": _rand(2)}, ["r", "x2"], tmp_path)
    assert r.dtype == np.float64 and r.min() >= -1.0 and r.max() < 3.0
    assert abs(r.mean() - 1.0) < 0.05


def test_random_like(tmp_path):
    nodes = [N("RandomNormalLike", ["x"], ["n"], mean=-2.0, scale=0.5),
             N("RandomUniformLike", ["i"], ["u"], dtype=TensorProto.FLOAT, low=2.0, high=4.0)]
    inputs = {"x": _rand(100, 300), "i": np.zeros((300, 100), np.int64)}
    n, u = _sample(nodes, inputs, ["n", "u"], tmp_path)
    assert abs(n.mean() + 2.0) < 0.02 and abs(n.std() - 0.5) < 0.02
    assert u.min() >= 2.0 and u.max() < 4.0 and abs(u.mean() - 3.0) < 0.02


def test_random_like_is_not_folded(tmp_path):
    # A sampler of a constant's shape stays a sampler: two runs differ.
    nodes = [N("RandomUniformLike", ["c"], ["u"]), N("Add", ["x", "u"], ["y"])]
    inputs = {"x": np.zeros((4, 4), np.float32)}
    path = str(tmp_path / "r.onnx")
    onnx.save(_model(nodes, inputs, ["y"], {"c": np.zeros((4, 4), np.float32)}), path)
    sym, arg, aux = mx.contrib.onnx.import_model(path)
    first, second = (_forward(sym, arg, aux, inputs)[0] for _ in range(2))
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("dtype", [TensorProto.INT32, TensorProto.INT64])
def test_multinomial(dtype, tmp_path):
    logits = np.log(np.array([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]], np.float32))
    nodes = [N("Multinomial", ["x"], ["y"], sample_size=4000, dtype=dtype)]
    (y,) = _sample(nodes, {"x": logits}, ["y"], tmp_path)
    assert y.min() >= 0 and y.max() <= 2
    freq = np.stack([np.bincount(row, minlength=3) / 4000.0 for row in y])
    np.testing.assert_allclose(freq, np.exp(logits), atol=0.04)


def test_bernoulli(tmp_path):
    p = np.tile(np.array([[0.1], [0.5], [0.9]], np.float32), (1, 5000))
    nodes = [N("Bernoulli", ["p"], ["y"]), N("Bernoulli", ["p"], ["yi"], dtype=TensorProto.INT32)]
    y, yi = _sample(nodes, {"p": p}, ["y", "yi"], tmp_path, opset=15)
    assert set(np.unique(y)) <= {0.0, 1.0} and set(np.unique(yi)) <= {0, 1}
    np.testing.assert_allclose(y.mean(axis=1), [0.1, 0.5, 0.9], atol=0.03)


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("node,match", [
    (N("LpNormalization", ["x"], ["y"], p=3, name="lpn"), "LpNormalization node 'lpn'.*p=3"),
    (N("Gelu", ["x"], ["y"], approximate="sigmoid", name="g"), "Gelu node 'g'.*approximate"),
])
def test_unsupported_attribute_names_op_and_node(node, match, tmp_path):
    opset = 20 if node.op_type == "Gelu" else 13
    path = str(tmp_path / "bad.onnx")
    onnx.save(_model([node], X, ["y"], opset=opset), path)
    with pytest.raises(mx.MXNetError, match=match):
        mx.contrib.onnx.import_model(path)


def test_dynamic_range_names_op_and_node(tmp_path):
    nodes = [N("ReduceMax", ["x"], ["m"], keepdims=0), N("Range", ["zero", "m", "one"], ["r"],
                                                         name="rng")]
    inputs = {"x": np.array([3.0], np.float32)}
    path = str(tmp_path / "bad.onnx")
    onnx.save(_model(nodes, inputs, ["r"], {"zero": np.array(0.0, np.float32),
                                            "one": np.array(1.0, np.float32)}), path)
    with pytest.raises(mx.MXNetError, match="Range node 'rng'.*constant"):
        mx.contrib.onnx.import_model(path)


@pytest.mark.parametrize("node,match", [
    (N("ArgMax", ["x"], ["y"], axis=0, select_last_index=1, name="am"),
     "ArgMax node 'am'.*select_last_index"),
    (N("TopK", ["x", "k"], ["y", "i"], name="tk"), "TopK node 'tk'.*constant"),
])
def test_dynamic_operand_names_op_and_node(node, match, tmp_path):
    inputs = {"x": _rand(4, 3), "k": _i64([2])}
    if node.op_type == "ArgMax":
        del inputs["k"]
    path = str(tmp_path / "bad.onnx")
    onnx.save(_model([node], inputs, list(node.output), dims={"x": ["N", 3]}), path)
    with pytest.raises(mx.MXNetError, match=match):
        mx.contrib.onnx.import_model(path)


@pytest.mark.parametrize("op,noop,keep,out_shape", [
    ("ReduceSumSquare", 0, 1, [1, 1, 1]), ("ReduceMax", 0, 0, []),
    ("ReduceLogSum", 1, 0, [2, 3, 4])])
def test_reduce_with_an_empty_axes_input(op, noop, keep, out_shape, tmp_path):
    # Opset 18: a graph input of static shape [0] means all axes, or none with
    # noop_with_empty_axes (then only the element-wise part applies).
    inputs = {"x": _rand(2, 3, 4, low=0.5, high=2.0), "axes": np.zeros(0, np.int64)}
    model = _onnx_model(
        [N(op, ["x", "axes"], ["y"], keepdims=keep, noop_with_empty_axes=noop)],
        [helper.make_tensor_value_info("x", F32, [2, 3, 4]),
         helper.make_tensor_value_info("axes", TensorProto.INT64, [0])],
        [helper.make_tensor_value_info("y", F32, out_shape)], {}, 18)
    path = str(tmp_path / "r.onnx")
    onnx.save(model, path)
    (expected,) = _run_onnx(path, inputs)
    sym, arg, aux = mx.contrib.onnx.import_model(path)
    (got,) = _forward(sym, arg, aux, {"x": inputs["x"]})
    # MXNet 1.x has no 0-d arrays: a full reduction without keepdims has shape (1,).
    np.testing.assert_allclose(got.reshape(expected.shape), expected, rtol=RTOL, atol=ATOL)
    assert got.shape == (expected.shape or (1,))
