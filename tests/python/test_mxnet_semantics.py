"""Corners where MXNet 1.9.1 answers differently from numpy, and oxnet follows MXNet: the
expected values are what MXNet 1.9.1 printed for the same calls (checked against a real
install), or numpy where the two agree."""
import numpy as np
import pytest

import oxnet as mx


def _a(shape):
    return np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)


# ----------------------------------------------------------------------------- fluent methods

def test_fluent_methods_take_positional_arguments_in_the_ops_order():
    x = (_a((2, 3, 4)) * 7) % 11
    a = mx.nd.array(x)
    np.testing.assert_array_equal(a.sort(1).asnumpy(), np.sort(x, axis=1))
    # argsort(axis, is_ascend): descending along axis 1 (stable order for the distinct values).
    np.testing.assert_array_equal(a.argsort(1, False).asnumpy(), np.argsort(-x, axis=1, kind="stable"))
    # topk(axis, k): the two largest along axis 1.
    assert a.topk(1, 2).shape == (2, 2, 4)
    # mean(axis, keepdims, exclude): every axis but 1.
    np.testing.assert_allclose(a.mean(1, False, True).asnumpy(), x.mean(axis=(0, 2)), rtol=1e-6)
    z = x - x.max(axis=0, keepdims=True)
    want = z - np.log(np.exp(z).sum(axis=0, keepdims=True))
    np.testing.assert_allclose(a.log_softmax(0).asnumpy(), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(a.take(mx.nd.array([1, 0])).asnumpy(), x[[1, 0]])
    np.testing.assert_array_equal(a.reshape((6, 4)).pick(mx.nd.array([0, 1, 2, 3, 0, 1]), 1).asnumpy(),
                                  x.reshape(6, 4)[np.arange(6), [0, 1, 2, 3, 0, 1]])
    np.testing.assert_array_equal(mx.nd.ones((1, 4)).broadcast_like(mx.nd.zeros((3, 4))).asnumpy(),
                                  np.ones((3, 4)))


def test_topk_positional_order_is_axis_k_ret_typ_is_ascend():
    x = np.array([[3, 1, 2, 5], [4, 9, 0, 1]], np.float32)
    got = mx.nd.topk(mx.nd.array(x), 1, 2, "value", True).asnumpy()
    np.testing.assert_array_equal(got, np.sort(x, axis=1)[:, :2])


def test_transpose_property():
    a = mx.nd.array(_a((2, 3, 4)))
    np.testing.assert_array_equal(a.T.asnumpy(), _a((2, 3, 4)).T)
    v = mx.nd.array([1, 2, 3])
    assert v.T is v  # MXNet returns the array itself below two dimensions


# ----------------------------------------------------------------------------- elementwise

def test_rint_ties_go_to_the_floor():
    x = mx.nd.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.4, -2.6])
    np.testing.assert_array_equal(mx.nd.rint(x).asnumpy(), [-3, -2, -1, 0, 1, 2, 2, -3])
    np.testing.assert_array_equal(mx.nd.rint(x.astype("float64")).asnumpy(), [-3, -2, -1, 0, 1, 2, 2, -3])


def test_float_mod_by_zero_is_zero():
    a = mx.nd.array([1.0, -2.0, 2.5])
    np.testing.assert_array_equal((a % mx.nd.array([0.0, 0.0, 2.0])).asnumpy(), [0, 0, 0.5])
    np.testing.assert_array_equal((a % 0).asnumpy(), [0, 0, 0])
    np.testing.assert_array_equal((3 % mx.nd.array([0.0, 2.0])).asnumpy(), [0, 1])
    # The sign still follows the divisor, as in Python.
    np.testing.assert_array_equal((mx.nd.array([-5.0, 5.0]) % mx.nd.array([3.0, -3.0])).asnumpy(), [1, -1])


def test_sign_of_nan_and_negative_zero_is_positive_zero():
    got = mx.nd.sign(mx.nd.array([np.nan, -0.0, 0.0, -np.inf, 3.0])).asnumpy()
    np.testing.assert_array_equal(got, [0, 0, 0, -1, 1])
    assert not np.signbit(got[1])


def test_relu_keeps_nan_but_activation_relu_does_not():
    x = mx.nd.array([np.nan, -1.0, 2.0])
    np.testing.assert_array_equal(mx.nd.relu(x).asnumpy(), [np.nan, 0, 2])
    np.testing.assert_array_equal(mx.nd.Activation(x, act_type="relu").asnumpy(), [0, 0, 2])


def test_clip_tests_the_upper_bound_first():
    x = mx.nd.array([-1.0, 0.0, 1.0, np.nan])
    np.testing.assert_array_equal(mx.nd.clip(x, 0.5, -0.5).asnumpy(), [0.5, -0.5, -0.5, np.nan])
    np.testing.assert_array_equal(mx.nd.clip(x, -0.5, 0.5).asnumpy(), [-0.5, 0, 0.5, np.nan])


def test_clip_gradient_stops_only_below_a_min_or_above_a_max():
    # MXNet 1.9.1's gradients: NaN elements and NaN bounds stop nothing.
    for lo, hi, want in [(-0.5, 0.5, [0, 1, 0, 1]), (np.nan, 0.5, [1, 1, 0, 1]),
                         (0.5, -0.5, [0, 0, 0, 1]), (-0.5, np.nan, [0, 1, 1, 1])]:
        x = mx.nd.array([-1.0, 0.0, 1.0, np.nan])
        x.attach_grad()
        with mx.autograd.record():
            y = mx.nd.clip(x, lo, hi)
        y.backward()
        np.testing.assert_array_equal(x.grad.asnumpy(), want)


# ----------------------------------------------------------------------------- indexing

def test_slice_step_none_means_no_step():
    x = _a((3, 4))
    got = mx.nd.slice(mx.nd.array(x), begin=(0, 1), end=(2, 3), step=None).asnumpy()
    np.testing.assert_array_equal(got, x[0:2, 1:3])


def test_float_arrays_index_like_integer_ones():
    x = _a((4, 3))
    a = mx.nd.array(x)
    np.testing.assert_array_equal(a[mx.nd.array([1, 3]), :].asnumpy(), x[[1, 3], :])
    a[mx.nd.array([0, 2])] = 7
    x[[0, 2]] = 7
    np.testing.assert_array_equal(a.asnumpy(), x)


def test_reshape_like_with_dim_ranges():
    lhs, rhs = mx.nd.array(_a((2, 12))), mx.nd.zeros((3, 4, 5))
    got = mx.nd.reshape_like(lhs, rhs, lhs_begin=1, lhs_end=2, rhs_begin=0, rhs_end=2)
    assert got.shape == (2, 3, 4)
    np.testing.assert_array_equal(got.asnumpy().ravel(), _a((2, 12)).ravel())
    assert mx.nd.reshape_like(lhs, rhs, lhs_begin=-1, rhs_begin=0, rhs_end=-1).shape == (2, 3, 4)
    assert lhs.reshape_like(mx.nd.zeros((4, 6))).shape == (4, 6)
    s = mx.sym.reshape_like(mx.sym.var("a"), mx.sym.var("b"), lhs_begin=1, rhs_begin=0, rhs_end=2)
    assert s.infer_shape(a=(2, 12), b=(3, 4, 5))[1] == [(2, 3, 4)]
    with pytest.raises(mx.base.MXNetError, match="reshape_like"):
        mx.nd.reshape_like(lhs, rhs, lhs_begin=1, rhs_begin=1)


# ----------------------------------------------------------------------------- random

def test_legacy_random_functions():
    mx.random.seed(3)
    for f, kw in ((mx.nd.uniform, dict(low=0, high=1)), (mx.nd.random_uniform, dict(low=0, high=1)),
                  (mx.nd.normal, dict(loc=0, scale=1)), (mx.nd.random_normal, dict(loc=0, scale=1))):
        r = f(shape=(2, 3), **kw)
        assert r.shape == (2, 3) and r.dtype == np.float32
    r = mx.nd.random_randint(low=0, high=3, shape=(50,))
    assert r.dtype == np.int32 and set(r.asnumpy().tolist()) <= {0, 1, 2}


def test_random_with_array_parameters_draws_per_element():
    mx.random.seed(5)
    u = mx.nd.random.uniform(mx.nd.array([0.0, 10.0]), mx.nd.array([1.0, 11.0]), shape=(500,)).asnumpy()
    assert u.shape == (2, 500)
    assert (u[0] >= 0).all() and (u[0] < 1).all() and (u[1] >= 10).all() and (u[1] < 11).all()
    n = mx.nd.random.normal(mx.nd.array([0.0, 100.0]), 2.0, shape=(4000,)).asnumpy()
    np.testing.assert_allclose(n.mean(axis=1), [0, 100], atol=0.2)
    np.testing.assert_allclose(n.std(axis=1), [2, 2], rtol=0.1)
    assert mx.nd.random.uniform(mx.nd.array([0.0, 1.0]), mx.nd.array([1.0, 2.0])).shape == (2,)


# ----------------------------------------------------------------------------- integer types

def test_conversions_into_integers_wrap_like_mxnets_casts():
    # MXNet's static_cast on x86: truncate to a 32-bit integer (64-bit for int64), whose NaN and
    # out-of-range result is the lowest one, then keep the low bytes.
    c = mx.nd.Cast(mx.nd.array([259, -200], dtype="int32"), dtype="uint8")
    np.testing.assert_array_equal(c.asnumpy(), [3, 56])
    np.testing.assert_array_equal(mx.nd.array([250.9, -3.7]).astype("int8").asnumpy(), [-6, -3])
    np.testing.assert_array_equal(mx.nd.array([-3.7, 300, -300, 1e10]).astype("uint8").asnumpy(),
                                  [253, 44, 212, 0])
    lo32, lo64 = np.iinfo(np.int32).min, np.iinfo(np.int64).min
    np.testing.assert_array_equal(mx.nd.array([np.nan, np.inf, -1e10, 3e9]).astype("int32").asnumpy(),
                                  [lo32] * 4)
    np.testing.assert_array_equal(mx.nd.array([np.nan, 1e19]).astype("int64").asnumpy(), [lo64] * 2)
    big = mx.nd.array(np.array([2 ** 40, -5], np.int64), dtype="int64")
    np.testing.assert_array_equal(big.astype("int32").asnumpy(), [0, -5])
    np.testing.assert_array_equal(mx.nd.array([3.9, -3.9], dtype="float16").astype("int8").asnumpy(), [3, -3])


def test_out_of_range_numbers_in_lists_wrap_into_integer_arrays():
    # MXNet 1.9.1 (numpy 1) casts them as C does; numpy 2 alone raises OverflowError.
    np.testing.assert_array_equal(mx.nd.array([300., -1], dtype="uint8").asnumpy(), [44, 255])
    np.testing.assert_array_equal(mx.nd.array([300, -1, 2 ** 31 + 5], dtype="int32").asnumpy(),
                                  [300, -1, -2 ** 31 + 5])
    x = mx.nd.array([5, 5, 5], dtype="uint8")
    x[1] = [300]
    x[2] = [1000.7]
    np.testing.assert_array_equal(x.asnumpy(), [5, 44, 232])


def test_integer_results_wrap():
    np.testing.assert_array_equal((-mx.nd.array([1, 2], dtype="uint8")).asnumpy(), [255, 254])
    np.testing.assert_array_equal(mx.nd.abs(mx.nd.array([-128], dtype="int8")).asnumpy(), [-128])
    p = mx.nd.array([200, 3], dtype="uint8") ** mx.nd.array([3, 4], dtype="uint8")
    np.testing.assert_array_equal(p.asnumpy(), [0, 81])  # 8,000,000 keeps its low byte
    np.testing.assert_array_equal(mx.nd.full((2,), -1, dtype="uint8").asnumpy(), [255, 255])
    np.testing.assert_array_equal(mx.nd.full((2,), 300, dtype="int8").asnumpy(), [44, 44])
    np.testing.assert_array_equal(mx.nd.full((2,), 2.7, dtype="int32").asnumpy(), [2, 2])
    np.testing.assert_array_equal(mx.nd.full((2,), 5, dtype="bool").asnumpy(), [True, True])


def test_creation_takes_the_default_storage_type():
    assert mx.nd.zeros((2, 3), mx.cpu(), "float32", "default").shape == (2, 3)
    assert mx.nd.empty((2, 3), stype="default").shape == (2, 3)
    assert mx.nd.ones((2, 3), stype="default").asnumpy().sum() == 6
    assert mx.nd.zeros((2, 3), stype="row_sparse").stype == "row_sparse"
    with pytest.raises(ValueError, match="unknown storage type"):
        mx.nd.zeros((2, 3), stype="dense")


def test_infer_shape_takes_auxiliary_states_by_name():
    # MXNet 1.9.1 matches keywords against every input, auxiliary states included.
    bn = mx.sym.BatchNorm(mx.sym.var("data"), name="bn")
    assert bn.infer_shape_partial(bn_moving_var=(5,)) == ([(), (), ()], [()], [(), (5,)])
    with pytest.warns(UserWarning):
        assert bn.infer_shape(bn_moving_mean=(3,)) == (None, None, None)
    with pytest.raises(mx.MXNetError, match=r"(?s)argument name foo not found.*\[3\]bn_moving_mean"):
        bn.infer_shape(foo=(3,))


def test_bilinear_upsampling_matches_mxnet():
    # Values printed by MXNet 1.9.1 for the same inputs (a grouped Deconvolution, weight
    # learned: inputs data and weight).
    d = mx.sym.var("data")
    s = mx.sym.UpSampling(d, scale=2, sample_type="bilinear", num_filter=2, name="up")
    assert s.list_arguments() == ["data", "up_weight"]
    assert s.infer_shape(data=(1, 2, 3, 3)) == ([(1, 2, 3, 3), (2, 1, 4, 4)], [(1, 2, 6, 6)], [])
    s3 = mx.sym.UpSampling(d, scale=3, sample_type="bilinear", num_filter=1, name="up")
    assert s3.infer_shape(data=(2, 1, 4, 5)) == ([(2, 1, 4, 5), (1, 1, 5, 5)], [(2, 1, 12, 15)],
                                                 [])
    assert mx.sym.load_json(s.tojson()).tojson() == s.tojson()
    x = np.arange(18, dtype=np.float32).reshape(1, 2, 3, 3)
    w = np.linspace(-1, 1, 32).astype(np.float32).reshape(2, 1, 4, 4)
    ex = s.bind(mx.cpu(), {"data": mx.nd.array(x), "up_weight": mx.nd.array(w)},
                args_grad={"data": mx.nd.zeros(x.shape), "up_weight": mx.nd.zeros(w.shape)})
    ex.forward(is_train=True)
    y = ex.outputs[0].asnumpy()
    np.testing.assert_allclose(y[0, 1, 2], [12.09677, 25.29032, 28.12904, 27.74194, 30.83871,
                                            16.16129], rtol=1e-5)
    np.testing.assert_allclose(y.sum(), 414.1935, rtol=1e-5)
    ex.backward(mx.nd.array(np.linspace(0, 1, 72).reshape(1, 2, 6, 6)))
    np.testing.assert_allclose(ex.grad_dict["data"].asnumpy().ravel()[:6],
                               [-0.17856, -0.36801, -0.39527, -0.9741, -1.5811, -1.42662],
                               rtol=1e-4)
    np.testing.assert_allclose(ex.grad_dict["up_weight"].asnumpy().ravel()[:6],
                               [5.26761, 7.38028, 7.84507, 4.76056, 7.39437, 10.30986], rtol=1e-5)
    nd = mx.nd.UpSampling(mx.nd.array(x), mx.nd.array(w), scale=2, sample_type="bilinear",
                          num_filter=2)
    np.testing.assert_allclose(nd.asnumpy()[0, 0, 1], [-2.80645, -7.09677, -6.58065, -9.80645,
                                                       -9.03226, -5.06452], rtol=1e-5)
    with pytest.raises(mx.MXNetError, match="num_filter"):
        mx.nd.UpSampling(mx.nd.array(x), mx.nd.array(w), scale=2, sample_type="bilinear")


def test_scalar_ops_with_is_int_false_promote_integers_to_float64():
    # MXNet 1.9.1: every `_*_scalar` op takes `is_int`; False computes an integer or bool array
    # with the scalar as given and returns float64; float arrays keep their dtype.
    x = np.array([[1, 2], [3, 0]])
    for dt in ("int8", "uint8", "int32", "int64", "bool"):
        a = mx.nd.array(x, dtype=dt)
        xf = x.astype(dt).astype(np.float64)
        for op, ref in (("_plus_scalar", xf + 1.5), ("_rminus_scalar", 1.5 - xf),
                        ("_div_scalar", xf / 1.5), ("_power_scalar", xf ** 1.5),
                        ("_rmod_scalar", np.mod(1.5, np.where(xf == 0, 1, xf)) * (xf != 0)),
                        ("_greater_equal_scalar", (xf >= 1.5).astype(np.float64)),
                        ("_scatter_minus_scalar", xf - 1.5)):
            r = getattr(mx.nd._internal, op)(a, scalar=1.5, is_int=False)
            assert r.dtype == np.float64, (op, dt)
            np.testing.assert_allclose(r.asnumpy(), ref, err_msg="%s %s" % (op, dt))
        # is_int=True (the default): the scalar is cast to the array's type first (a bool
        # array's is int64).
        r = mx.nd._internal._plus_scalar(a, scalar=1.5, is_int=True)
        assert r.dtype == np.dtype("int64" if dt == "bool" else dt)
    f = mx.nd.array(x, dtype="float16")
    r = mx.nd._internal._mul_scalar(f, scalar=1.5, is_int=False)
    assert r.dtype == np.float16
    np.testing.assert_array_equal(r.asnumpy(), x * 1.5)


def test_ftrl_keeps_a_nan_state_visible_in_the_weight():
    # MXNet multiplies by (|z| > lamda1) rather than branching: a NaN z gives a NaN weight.
    w, g = mx.nd.array([0.5, 0.5]), mx.nd.array([0.1, 0.1])
    z, n = mx.nd.array([0.0, 0.0]), mx.nd.array([-1.0, 1.0])  # sqrt(-1) poisons z[0]
    out = mx.nd.ftrl_update(w, g, z, n, lr=0.1, lamda1=0.01)
    assert np.isnan(out.asnumpy()[0]) and np.isfinite(out.asnumpy()[1])


def test_absurd_input_counts_are_refused_before_anything_is_sized():
    # MXNet aborts or swallows all memory on these; each is one clear error naming the count.
    a = mx.nd.ones((2, 3))
    for call in (lambda: mx.nd.add_n(a, a, num_args=2 ** 31),
                 lambda: mx.nd.reset_arrays(a, num_arrays=2 ** 40),
                 lambda: mx.nd.preloaded_multi_sgd_update(a, a, a, a, num_weights=2 ** 31),
                 lambda: mx.nd.contrib.quantized_concat(a, a, a, num_args=2 ** 31),
                 lambda: mx.sym.Concat(num_args=2 ** 31)):
        with pytest.raises(mx.MXNetError, match=r"(num_args|num_arrays|num_weights)=\d+ exceeds"):
            call()


def test_context_parameters_that_are_not_contexts_name_the_parameter():
    with pytest.raises(mx.MXNetError, match=r"_ones.*ctx.*\(1, 2\)"):
        mx.nd._internal._ones(shape=(2,), ctx="(1, 2)")


def test_zero_size_inputs_give_empty_outputs():
    # MXNet 1.x rejects zero-size shapes; numpy returns empty results, and so does oxnet.
    x = mx.nd.zeros((5, 0))
    assert mx.nd.SoftmaxActivation(x).shape == (5, 0)
    assert mx.nd.softmax(x).shape == (5, 0)
    d, lab = mx.nd.zeros((5, 0, 4, 2)), mx.nd.zeros((5, 0, 4, 2))
    assert mx.nd.SoftmaxOutput(d, lab, multi_output=True).shape == (5, 0, 4, 2)
    mean, var = mx.nd.moments(mx.nd.zeros((2, 0)), axes=(1,))
    ref = np.full(2, np.nan, np.float32)  # numpy's mean of nothing (with a warning)
    np.testing.assert_array_equal(mean.asnumpy(), ref)
    np.testing.assert_array_equal(var.asnumpy(), ref)


def test_an_output_too_large_to_allocate_names_the_op_and_shape():
    with pytest.raises(mx.MXNetError, match=r"operator repeat: output of shape \[3,1099511627776\].*memory"):
        mx.nd.repeat(mx.nd.ones((3, 1)), repeats=2 ** 40, axis=1)


# (op, parameters, input dtypes, output dtypes) as MXNet 1.9.1's Symbol.infer_type gives them
# from the input dtypes alone: outputs typed by a parameter, or by the data input only.
INFERRED_TYPES = [
    ("argsort", {}, ["int32"], ["float32"]),
    ("topk", {"ret_typ": "both"}, ["float16"], ["float16", "float32"]),
    ("one_hot", {"depth": 3}, ["int8"], ["float32"]),
    ("norm", {"out_dtype": "float16"}, ["float64"], ["float16"]),
    ("softmin", {"dtype": "float32"}, ["float64"], ["float32"]),
    ("_plus_scalar", {"scalar": 1, "is_int": False}, ["uint8"], ["float64"]),
    ("_contrib_getnnz", {}, ["uint8"], ["int64"]),
    ("_contrib_allclose", {}, ["float64", "float32"], ["uint8"]),
    ("take", {}, ["int64", "int32"], ["int64"]),
    ("pick", {}, ["uint8", "float16"], ["uint8"]),
    ("where", {}, ["float32", "int64", "int64"], ["int64"]),
    ("slice_like", {}, ["float64", "int64"], ["float64"]),
    ("broadcast_like", {}, ["int64", "uint8"], ["int64"]),
    ("_sample_exponential", {}, ["float16"], ["float32"]),
    ("_sample_poisson", {"dtype": "float16"}, ["int64"], ["float16"]),
    ("_sample_multinomial", {"get_prob": True}, ["float16"], ["int32", "float16"]),
]


@pytest.mark.parametrize("name,kw,ins,outs", INFERRED_TYPES, ids=[c[0] for c in INFERRED_TYPES])
def test_infer_type_from_input_dtypes_alone(name, kw, ins, outs):
    make = getattr(mx.sym, name, None) or getattr(mx.sym._internal, name)
    sym = make(*[mx.sym.var("in%d" % k) for k in range(len(ins))], **kw)
    _, got, _ = sym.infer_type(**{"in%d" % k: d for k, d in enumerate(ins)})
    assert [np.dtype(t).name for t in got] == outs


def test_mixed_precision_updates_infer_float32_states():
    w, g, m, w32 = (mx.sym.var(n) for n in ("w", "g", "m", "w32"))
    s = mx.sym.mp_sgd_mom_update(w, g, m, w32, lr=0.1)
    args, outs, aux = s.infer_type(w="float16")  # the states are auxiliary: the op writes them
    assert [np.dtype(t).name for t in args + outs + aux] == ["float16"] * 3 + ["float32"] * 2
    with pytest.raises(mx.MXNetError, match="mp_sgd_mom_update.*mom must be float32, got float16"):
        s.infer_type(w="float16", m="float16")


def _grad(f, x, head=None):
    x = mx.nd.array(x, dtype="float64")
    x.attach_grad()
    with mx.autograd.record():
        y = f(x)
    y.backward(head)
    return y.asnumpy(), x.grad.asnumpy()


def test_edge_gradients_match_mxnet():
    # Values printed by MXNet 1.9.1.
    x = [-2.0, 0.0, 0.5, np.nan]
    for sigma, out, grad in [(np.nan, [np.nan] * 4, [np.nan] * 4),
                             (np.inf, [2.0, np.nan, 0.5, np.nan], [-1.0, np.nan, 1.0, np.nan]),
                             (1.0, [1.5, 0.0, 0.125, np.nan], [-1.0, 0.0, 0.5, np.nan])]:
        y, g = _grad(lambda v: mx.nd.smooth_l1(v, scalar=sigma), x)
        np.testing.assert_array_equal(y, out)
        np.testing.assert_array_equal(g, grad)
    y, g = _grad(lambda v: mx.nd.hard_sigmoid(v, alpha=np.inf, beta=1.0), [-2.0, 0.5])
    np.testing.assert_array_equal(g, [0.0, 0.0])
    # A 0-d head (Reshape's default shape=()) takes the (1,) gradient nd.array makes.
    y, g = _grad(lambda v: mx.nd.Reshape(v * 2), [3.0], mx.nd.array([5.0]))
    assert y.shape == ()
    np.testing.assert_array_equal(g, [10.0])
    # gamma and gammaln at their poles (float32: MXNet's digamma there is infinite).
    x = mx.nd.array([0.0, -0.0, -1.0, -2.0, 1.0, 2.0])
    head = mx.nd.array([0.5, 0.5, 0.25, -0.1, 1.0, 1.0])
    for f, out, grad in [(mx.nd.gammaln, [np.inf] * 4 + [0, 0], [np.inf, np.inf, np.inf, -np.inf]),
                         (mx.nd.gamma, [np.inf, -np.inf, np.nan, np.nan, 1, 1],
                          [np.inf, -np.inf, np.nan, np.nan])]:
        x.attach_grad()
        with mx.autograd.record():
            y = f(x)
        y.backward(head)
        np.testing.assert_array_equal(y.asnumpy(), out)
        np.testing.assert_array_equal(x.grad.asnumpy()[:4], grad)
        np.testing.assert_allclose(x.grad.asnumpy()[4:], [-0.5772157, 0.4227843], rtol=1e-6)


def test_make_loss_batch_normalization_divides_by_the_rows_of_the_2d_flattening():
    # MXNet 1.9.1 flattens the loss to (prod(shape[:-1]), shape[-1]) and divides by the rows.
    for shape, want in [((4,), 1.0), ((4, 1), 0.25), ((4, 3), 0.25), ((4, 2, 3), 0.125),
                        ((2, 3, 1), 1 / 6)]:
        _, g = _grad(lambda v: mx.nd.MakeLoss(v, normalization="batch"), np.ones(shape))
        np.testing.assert_allclose(g, np.full(shape, want))


def test_gather_nd_float_indices_wrap_before_truncating():
    # MXNet 1.9.1: -0.5 + 5 = 4.5 selects row 4; 4.9 is past the last row.
    x = mx.nd.arange(5)
    for v, want in [(-1.13, 3), (-0.5, 4), (-4.5, 0), (0.7, 0)]:
        assert mx.nd.gather_nd(x, mx.nd.array([[v]])).asnumpy().tolist() == [want]
    for v in (4.9, -5.5, np.nan):
        with pytest.raises(mx.base.MXNetError, match="gather_nd: index .* out of bounds for axis 0 with size 5"):
            mx.nd.gather_nd(x, mx.nd.array([[v]])).asnumpy()


# ----------------------------------------------------------------------------- MXNet's operator tests
# Divergences MXNet 1.9.1's tests/python/unittest/test_operator.py found; expected values are
# what MXNet 1.9.1 printed.

def test_integer_mod_has_a_zero_gradient():
    for dt in ("int32", "int64", "float32"):
        a, b = mx.sym.Variable("a"), mx.sym.Variable("b")
        for f in (lambda a, b: a % b, mx.sym.broadcast_mod, lambda a, b: a % 3 + 0 * b,
                  lambda a, b: 17 % a + 0 * b):
            ga, gb = mx.nd.zeros((2,), dtype=dt), mx.nd.zeros((2,), dtype=dt)
            exe = f(a, b).bind(mx.cpu(), args={"a": mx.nd.array([7, 9], dtype=dt),
                                               "b": mx.nd.array([3, 4], dtype=dt)},
                               args_grad=[ga, gb])
            exe.forward(is_train=True)
            exe.backward([mx.nd.array([1, 1], dtype=dt)])
            if dt != "float32":
                assert not ga.asnumpy().any() and not gb.asnumpy().any()
    # the float gradients are unchanged: d(a % b) = (1, -floor(a / b)), d(17 % a) = -floor(17 / a)
    a, b = mx.nd.array([7, 9]), mx.nd.array([3, 4])
    for x in (a, b):
        x.attach_grad()
    with mx.autograd.record():
        y = a % b + 17 % b
    y.backward()
    np.testing.assert_array_equal(a.grad.asnumpy(), [1, 1])
    np.testing.assert_array_equal(b.grad.asnumpy(), [-2 - 5, -2 - 4])


def test_take_raise_mode_refuses_negative_indices():
    x = mx.nd.array([[1., 2.], [3., 4.], [5., 6.]])
    for i in (-1, -3, 3):
        with pytest.raises(mx.base.MXNetError, match="out of bounds"):
            mx.nd.take(x, mx.nd.array([i]), mode="raise").asnumpy()
    np.testing.assert_array_equal(mx.nd.take(x, mx.nd.array([-1]), mode="wrap").asnumpy(),
                                  [[5, 6]])


# MXNet 1.9.1's output sizes: it multiplies the float32 scale by the size in float32.
@pytest.mark.parametrize("mode, n, sh, sw, want", [
    ("size", 10, 0.3, 0.7, (3, 7)), ("size", 11, 0.3, 0.7, (3, 7)), ("size", 7, 0.3, 0.7, (2, 4)),
    ("odd_scale", 11, 0.3, 0.7, (4, 8)), ("odd_scale", 7, 0.3, 0.7, (2, 5)),
    ("size", 10, 1.3, 1.7, (13, 17)), ("size", 11, 1.3, 1.7, (14, 18)),
    ("odd_scale", 7, 1.3, 1.7, (8, 11)), ("size", 11, 0.1, 2.9, (1, 31)),
    ("odd_scale", 11, 0.1, 2.9, (2, 30)),
])
def test_bilinear_resize_scales_in_float32(mode, n, sh, sw, want):
    out = mx.nd.contrib.BilinearResize2D(mx.nd.ones((1, 1, n, n)), scale_height=sh,
                                         scale_width=sw, mode=mode)
    assert out.shape[2:] == want


def test_bilinear_resize_to_a_computed_size_of_zero():
    # MXNet 1.9.1: a scale that rounds a size down to 0 gives an empty result (and a zero
    # gradient); a given height or width of 0 is refused.
    x = mx.nd.ones((1, 2, 1, 2))
    x.attach_grad()
    with mx.autograd.record():
        y = mx.nd.contrib.BilinearResize2D(x, scale_height=0.5, scale_width=1.0)
    y.backward()
    assert y.shape == (1, 2, 0, 2) and x.grad.asnumpy().tolist() == [[[[0, 0]], [[0, 0]]]]
    z = mx.nd.contrib.BilinearResize2D(x, scale_height=0.4, scale_width=0.4, mode="odd_scale")
    assert z.shape == (1, 2, 1, 0)
    s = mx.sym.contrib.BilinearResize2D(mx.sym.var("x"), scale_height=0.5, scale_width=1.0)
    assert s.infer_shape(x=(1, 2, 1, 2))[1] == [(1, 2, 0, 2)]
    assert s.eval(x=mx.nd.ones((1, 2, 1, 2)))[0].shape == (1, 2, 0, 2)
    with pytest.raises(mx.base.MXNetError, match="height"):
        mx.nd.contrib.BilinearResize2D(x, height=0, width=2)


def test_diag_offset_past_the_edge():
    m = mx.nd.ones((3, 4))
    assert mx.nd.diag(m, k=4).shape == (0,) and mx.nd.diag(m, k=-3).shape == (0,)
    for k in (5, -4):
        with pytest.raises(mx.base.MXNetError, match="Diagonal does not exist"):
            mx.nd.diag(m, k=k)


def test_potrf_gradient_of_one_by_one_matrices():
    x = mx.nd.array([[[4.0]], [[9.0]]], dtype="float64")
    x.attach_grad()
    with mx.autograd.record():
        y = mx.nd.linalg.potrf(x)
    y.backward()
    # d sqrt(a) / da = 1 / (2 sqrt(a))
    np.testing.assert_allclose(x.grad.asnumpy().ravel(), [0.25, 1 / 6])


def test_prelu_gamma_per_sample_and_channel():
    rng = np.random.RandomState(0)
    x = rng.uniform(-1, 1, (3, 4, 2, 2)).astype(np.float32)
    for gshape in ((3, 4), (1, 4), (3, 1)):
        g = rng.uniform(0.1, 0.5, gshape).astype(np.float32)
        out = mx.nd.LeakyReLU(mx.nd.array(x), gamma=mx.nd.array(g), act_type="prelu")
        want = np.where(x > 0, x, g.reshape(gshape + (1, 1)) * x)
        np.testing.assert_allclose(out.asnumpy(), want, rtol=1e-6)
        sym = mx.sym.LeakyReLU(mx.sym.Variable("x"), gamma=mx.sym.Variable("g"), act_type="prelu")
        mx.test_utils.check_numeric_gradient(sym, [x.astype(np.float64), g.astype(np.float64)],
                                             numeric_eps=1e-4, rtol=1e-3, dtype=np.float64)
    with pytest.raises(mx.base.MXNetError, match="gamma"):
        mx.nd.LeakyReLU(mx.nd.array(x), gamma=mx.nd.ones((2, 4)), act_type="prelu")


def test_operator_registry_listing():
    ops = mx.operator.get_all_registered_operators()
    assert {"Activation", "Convolution", "Custom", "linalg_gemm"} <= set(ops)
    a = mx.operator.get_operator_arguments("Activation")
    assert isinstance(a, mx.operator.OperatorArguments)
    assert (a.narg, a.names) == (2, ["data", "act_type"])
    assert a.types == ["NDArray-or-Symbol",
                       "{'relu', 'sigmoid', 'softrelu', 'softsign', 'tanh'}, required"]
    # MXNet 1.9.1's strings (no space before an optional enumeration's "optional").
    assert mx.operator.get_operator_arguments("CTCLoss").types[-1] == \
        "{'first', 'last'},optional, default='first'"
    assert mx.operator.get_operator_arguments("Embedding").types[2:4] == ["int, required"] * 2
    with pytest.raises(mx.MXNetError, match=r"Required parameter input_dim of int is not pre"):
        mx.nd.Embedding(mx.nd.ones(2), mx.nd.ones((3, 2)), output_dim=2)
    assert mx.operator.get_operator_arguments("Concat").names == ["data", "num_args", "dim"]
    assert mx.operator.get_operator_arguments("add_n").names == ["args"]
    assert mx.operator.get_operator_arguments("add_n").types == ["NDArray-or-Symbol[]"]
    conv = mx.operator.get_operator_arguments("Convolution")
    assert conv.names[:4] == ["data", "weight", "bias", "kernel"]
    assert conv.types[4] == "Shape(tuple), optional, default=[]"
    from oxnet.base import _as_list
    assert _as_list(3) == [3] and _as_list((1, 2)) == (1, 2)


def test_custom_op_without_inputs():
    class NoInput(mx.operator.CustomOp):
        def forward(self, is_train, req, in_data, out_data, aux):
            self.assign(out_data[0], req[0], mx.nd.ones((2, 3)))

    @mx.operator.register("oxtest_no_input")
    class NoInputProp(mx.operator.CustomOpProp):
        def list_arguments(self):
            return []

        def infer_shape(self, in_shape):
            return [], [(2, 3)], []

        def infer_type(self, in_type):
            return [], [np.float32], []

        def create_operator(self, ctx, shapes, dtypes):
            return NoInput()

    np.testing.assert_array_equal(mx.nd.Custom(op_type="oxtest_no_input").asnumpy(),
                                  np.ones((2, 3)))


def test_monitor_keeps_watching_a_reshaped_module():
    sym = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=2, name="fc")
    mod = mx.mod.Module(sym, label_names=None)
    mod.bind(for_training=False, data_shapes=[("data", (2, 3))])
    mod.init_params()
    mon = mx.monitor.Monitor(1, pattern=".*")
    mod.install_monitor(mon)
    for shape in [(2, 3), (5, 3)]:
        mon.tic()
        mod.forward(mx.io.DataBatch([mx.nd.ones(shape)],
                                    provide_data=[mx.io.DataDesc("data", shape)]), is_train=False)
        assert "fc_output" in [e[1] for e in mon.toc()]


def test_module_input_grads_with_null_grad_req():
    sym = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=2, name="fc")
    mod = mx.mod.Module(sym, label_names=None)
    mod.bind(data_shapes=[("data", (1, 4))], inputs_need_grad=True, grad_req="null")
    mod.init_params()
    mod.forward(mx.io.DataBatch([mx.nd.ones((1, 4))]), is_train=True)
    mod.backward([mx.nd.ones((1, 2))])
    assert mod.get_input_grads()[0] is None


def test_check_numeric_gradient_follows_grad_nodes_requests():
    data = np.random.RandomState(0).uniform(-1, 1, (2, 3))
    sym = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=2, name="fc")
    w, b = np.ones((2, 3)), np.zeros(2)
    for req in ("write", "add"):
        mx.test_utils.check_numeric_gradient(sym, [data, w, b], numeric_eps=None,
                                             grad_nodes={"data": req, "fc_weight": "null"})


def test_multibox_prior_uses_the_first_ratio():
    x = mx.nd.zeros((1, 3, 2, 2))
    boxes = mx.contrib.nd.MultiBoxPrior(x, sizes=[0.5], ratios=[4])
    np.testing.assert_allclose(boxes[0, 0].asnumpy(), [-0.25, 0.125, 0.75, 0.375])
    boxes = mx.contrib.nd.MultiBoxPrior(x, sizes=[0.5, 0.25], ratios=[1, 4])
    assert boxes.shape == (1, 4 * 3, 4)
    np.testing.assert_allclose(boxes[0, :3].asnumpy(), [[0, 0, 0.5, 0.5],
                                                         [0.125, 0.125, 0.375, 0.375],
                                                         [-0.25, 0.125, 0.75, 0.375]])


def test_second_order_gradient_through_dropout_is_zero():
    x = mx.nd.array([0.5, 2.0])
    x.attach_grad()
    with mx.autograd.record():
        y = mx.nd.Dropout(x)
        g = mx.autograd.grad(y, x, head_grads=mx.nd.ones_like(x), create_graph=True,
                             retain_graph=True)[0]
    g.backward()
    np.testing.assert_array_equal(x.grad.asnumpy(), [0, 0])


def test_current_scopes_and_contexts_can_be_assigned():
    from oxnet.attribute import AttrScope
    from oxnet.name import NameManager
    old_attr, old_names = AttrScope.current, NameManager.current
    try:
        AttrScope.current = AttrScope(x="hello")
        assert AttrScope.current._attr == {"x": "hello"}
        NameManager.current = NameManager()
        assert NameManager.current.get(None, "fc") == "fc0"
    finally:
        AttrScope.current, NameManager.current = old_attr, old_names
    old = mx.current_context()
    try:
        mx.test_utils.set_default_context(mx.cpu(3))
        assert mx.current_context() == mx.cpu(3) == mx.test_utils.default_context()
    finally:
        mx.test_utils.set_default_context(old)


def test_data_dir_follows_mxnet_home(monkeypatch, tmp_path):
    from oxnet.base import data_dir
    monkeypatch.setenv("MXNET_HOME", str(tmp_path))
    assert data_dir() == str(tmp_path)
    monkeypatch.delenv("MXNET_HOME")
    assert data_dir().endswith(".mxnet")


def test_nearest_resize_steps_as_opencv():
    # MXNet 1.9.1 (OpenCV): the source column of output d is floor(d * (1 / (dst / src))).
    a = mx.nd.array(np.arange(6).reshape(1, 6, 1), dtype="uint8")
    assert mx.image.imresize(a, 34, 1, interp=0).asnumpy().ravel()[17] == 2
    assert mx.image.imresize(a, 94, 1, interp=0).asnumpy().ravel()[47] == 3
    out = mx.nd.image.resize(a, size=(34, 1), interp=0).asnumpy().ravel()
    assert out[15:20].tolist() == [2, 2, 2, 3, 3]


def test_backward_without_forward_computes_the_forward_first():
    # MXNet runs it on its buffers as they are; here the skipped forward runs first.
    x = np.random.RandomState(0).uniform(-1, 1, (3, 4)).astype(np.float32)
    sym = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=2, name="fc")
    exe = sym.simple_bind(mx.cpu(), data=(3, 4))
    exe.arg_dict["data"][:] = x
    exe.arg_dict["fc_weight"][:] = 1
    exe.backward([mx.nd.ones((3, 2))])
    np.testing.assert_allclose(exe.grad_dict["fc_weight"].asnumpy(),
                               np.ones((2, 3)) @ x, rtol=1e-6)
    np.testing.assert_allclose(exe.grad_dict["data"].asnumpy(), np.full((3, 4), 2.0))


def test_list_pushpull_pushes_every_key_before_pulling():
    for kind in ("local", "device"):
        kv = mx.kv.create(kind)
        kv.init(["a", "b"], [mx.nd.zeros((2,))] * 2)
        vals = [mx.nd.ones((2,)), mx.nd.ones((2,))]
        kv.pushpull(["a", "b"], [vals, vals])
        # MXNet 1.9.1: both keys sum the original values
        np.testing.assert_array_equal(vals[0].asnumpy(), [2, 2])
        out = mx.nd.zeros((2,))
        kv.pull("b", out=out)
        np.testing.assert_array_equal(out.asnumpy(), [2, 2])


def test_embedding_output_takes_the_weights_dtype_as_in_mxnet():
    # MXNet 1.9.1's type rule: weight and output share a dtype, and the `dtype` parameter only
    # decides it when neither is known (values printed by MXNet 1.9.1 for the same calls).
    idx = mx.nd.array([[0, 2], [1, 1]])
    w = np.arange(6, dtype=np.float64).reshape(3, 2)
    for dtype in ("float64", "float16"):
        out = mx.nd.Embedding(idx, mx.nd.array(w, dtype=dtype), input_dim=3, output_dim=2)
        assert out.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(out.asnumpy(), w[[[0, 2], [1, 1]]])
    sym = mx.sym.Embedding(mx.sym.var("d"), mx.sym.var("w"), input_dim=3, output_dim=2)
    assert sym.infer_type(d=np.float32, w=np.float16) == ([np.float32, np.float16], [np.float16], [])
    assert sym.infer_type(d=np.float32) == ([np.float32, np.float32], [np.float32], [])
    sym16 = mx.sym.Embedding(mx.sym.var("d"), mx.sym.var("w"), input_dim=3, output_dim=2,
                             dtype="float16")
    assert sym16.infer_type(d=np.float32) == ([np.float32, np.float16], [np.float16], [])
    # a float64 weight trains in float64: the gradient counts each index's rows
    ex = sym.simple_bind(mx.cpu(), d=(2, 2), type_dict={"d": np.float32, "w": np.float64},
                         grad_req={"d": "null", "w": "write"})
    ex.forward(is_train=True, d=idx, w=mx.nd.array(w, dtype="float64"))
    ex.backward(mx.nd.ones((2, 2, 2), dtype="float64"))
    assert ex.grad_dict["w"].dtype == np.float64
    np.testing.assert_array_equal(ex.grad_dict["w"].asnumpy(), [[1, 1], [2, 2], [1, 1]])


def test_one_hot_of_nan_is_an_off_row():
    # MXNet 1.9.1: a NaN index is out of range, like -1 ([[0 0 0] [0 1 0]]), not column 0.
    got = mx.nd.one_hot(mx.nd.array([np.nan, 1]), depth=3).asnumpy()
    assert got.tolist() == [[0, 0, 0], [0, 1, 0]]


def test_convolution_kernel_rank_mismatch_is_a_shape_error():
    # MXNet 1.9.1 raises from infer_shape and simple_bind ("Input data should be 3D");
    # an unknown weight shape would hide the mistake behind "c_weight: None".
    c = mx.sym.Convolution(mx.sym.Variable("data"), kernel=(3,), num_filter=4, name="c")
    with pytest.raises(mx.MXNetError, match=r"c.*data must be 3-D"):
        c.infer_shape(data=(1, 2, 8, 8))
    with pytest.raises(RuntimeError, match=r"simple_bind error(.|\n)*data must be 3-D"):
        c.simple_bind(mx.cpu(), data=(1, 2, 8, 8))


def test_unclosed_tuple_attributes_are_refused():
    # MXNet 1.9.1: "Invalid Parameter format for shape expect Shape(tuple)" for "(6, 4".
    x = mx.nd.ones((6, 4))
    for bad in ("(6, 4", "6, 4)", "[6, 4"):
        with pytest.raises(mx.MXNetError, match="shape"):
            mx.nd.reshape(x, shape=bad)
    assert mx.nd.reshape(x, shape="[4, 6)").shape == (4, 6)  # kinds need not pair
    assert mx.nd.reshape(x, shape="24").shape == (24,)


# ------------------------------------------------- integer outputs, as MXNet's C++ computes them

def test_integer_mean_wraps_its_sum_and_count_in_the_dtype():
    # MXNet sums in the element type and divides by the count cast to it: 300 uint8 values
    # sum to 300 % 256 = 44 and count 300 % 256 = 44 (printed by MXNet 1.9.1)
    for n, dt, want in [(300, "uint8", 1), (200, "uint8", 0), (200, "int8", 1), (257, "uint8", 0)]:
        a = mx.nd.array(np.arange(n) % 3, dtype=dt)
        assert a.mean().asnumpy().tolist() == [want], (n, dt)
    x = mx.nd.array([[100, 100], [100, 50]], dtype="int8")
    assert x.mean(axis=1).asnumpy().tolist() == [-28, -53]  # 200 and 150 wrap to -56, -106
    assert mx.nd.array([2 ** 30] * 4, dtype="int32").mean().asnumpy().tolist() == [0]


def test_integer_division_by_zero_is_a_cast_infinity():
    # `2 / x` divides in double and casts back: INT_MIN for 32/64-bit, 0 for 8-bit types
    for dt, low in [("int32", -2 ** 31), ("int64", -2 ** 63), ("int8", 0), ("uint8", 0)]:
        x = mx.nd.array([0, 3], dtype=dt)
        assert (7 / x).asnumpy().tolist() == [low, 2], dt


def test_float_parameters_wrap_into_integer_outputs():
    # static_cast of a double into a narrow integer: truncate to int32, keep the low bytes
    oh = mx.nd.one_hot(mx.nd.array([0, 1]), depth=3, on_value=-3.51, off_value=300.6, dtype="uint8")
    assert oh.asnumpy().tolist() == [[253, 44, 44], [44, 253, 44]]
    oh = mx.nd.one_hot(mx.nd.array([1]), depth=2, on_value=130.6, dtype="int8")
    assert oh.asnumpy().tolist() == [[0, -126]]
    m = mx.nd.SequenceMask(mx.nd.ones((2, 1), dtype="uint8"), mx.nd.array([1]),
                           use_sequence_length=True, value=300.6)
    assert m.asnumpy().tolist() == [[1], [44]]
    # arange_like casts start and step first, then steps in the dtype (as arange does)
    r = mx.nd.contrib.arange_like(mx.nd.zeros(4, dtype="int32"), start=-3.1, step=1.7)
    assert r.asnumpy().tolist() == [-3, -2, -1, 0]
    assert r.asnumpy().tolist() == mx.nd.arange(-3.1, 3, 1.7, dtype="int32").asnumpy().tolist()
    r = mx.nd.contrib.arange_like(mx.nd.zeros(3, dtype="uint8"), start=-4)
    assert r.asnumpy().tolist() == [252, 253, 254]
    q = mx.nd.contrib.quadratic(mx.nd.array([20, 3], dtype="uint8"), a=1, c=17)
    assert q.asnumpy().tolist() == [161, 26]
    q = mx.nd.contrib.quadratic(mx.nd.array([70000], dtype="int32"), a=1)
    assert q.asnumpy().tolist() == [-2 ** 31]


def test_integer_special_functions_and_smooth_l1_cast_as_mxnet():
    g = mx.nd.gamma(mx.nd.array([7, 0, -3, 30], dtype="int8"))
    assert g.asnumpy().tolist() == [-48, 0, 0, 0]
    g = mx.nd.gamma(mx.nd.array([7, 0, -3, 30], dtype="int32"))
    assert g.asnumpy().tolist() == [720] + [-2 ** 31] * 3
    # smooth_l1 of integers computes in double and truncates
    x = [-3, -1, 0, 1, 2, 5]
    assert mx.nd.smooth_l1(mx.nd.array(x, dtype="int32"), scalar=1).asnumpy().tolist() == [2, 0, 0, 0, 1, 4]
    assert mx.nd.smooth_l1(mx.nd.array(x, dtype="uint8"), scalar=1).asnumpy().tolist() == [252, 254, 0, 0, 1, 4]
    # its scalar is a double: no float32 rounding on float64 data
    y = mx.nd.smooth_l1(mx.nd.array([-20, 0.3, 20], dtype="float64"), scalar=0.3).asnumpy()
    np.testing.assert_allclose(y, [20 - 0.5 / 0.09, 0.5 * 0.09 * 0.09, 20 - 0.5 / 0.09], rtol=1e-15)


def test_decimal_parameters_read_as_mxnets_parser_reads_them():
    # dmlc adds the integer and fraction digits in the field's type: an ulp from the nearest
    # value for about one decimal in twenty (values printed by MXNet 1.9.1)
    z = mx.nd.zeros(1, dtype="float64")
    assert mx.nd.clip(z, a_min=2.265, a_max=2.265).asnumpy()[0] == 2.2649998664855957  # float
    assert mx.nd.contrib.quadratic(z, c=2.594).asnumpy()[0] == 2.5939998626708984
    assert (z + 1.64).asnumpy()[0] == 1.6400000000000001  # double
    assert (z + 3.5563).asnumpy()[0] == 3.5563000000000002
    assert (z + 1e300).asnumpy()[0] == 9.999999999999998e+299
    assert (z + 0.1).asnumpy()[0] == 0.1


def test_out_may_hold_only_the_visible_outputs():
    # BatchNorm, Dropout and box_nms compute hidden outputs too; MXNet makes those itself
    x = mx.nd.array(np.arange(12, dtype=np.float32).reshape(2, 3, 2))
    g, b, m, v = mx.nd.ones(3), mx.nd.zeros(3), mx.nd.zeros(3), mx.nd.ones(3)
    want = mx.nd.BatchNorm(x, g, b, m, v, fix_gamma=False)
    out = mx.nd.zeros((2, 3, 2))
    mx.nd.BatchNorm(x, g, b, m, v, fix_gamma=False, out=out)
    np.testing.assert_array_equal(out.asnumpy(), want.asnumpy())
    out = mx.nd.zeros((2, 3, 2))
    mx.nd.Dropout(x, out=out)
    np.testing.assert_array_equal(out.asnumpy(), x.asnumpy())
    boxes = mx.nd.array([[0, 0.9, 0, 0, 1, 1], [0, 0.7, 2, 2, 3, 3], [0, 0.5, 0, 0, 1, 1]])
    out = mx.nd.zeros((3, 6))
    mx.nd.contrib.box_nms(boxes, overlap_thresh=0.5, out=out)
    want = np.array([[0, 0.9, 0, 0, 1, 1], [0, 0.7, 2, 2, 3, 3], [-1] * 6], dtype=np.float32)
    np.testing.assert_array_equal(out.asnumpy(), want)
    with pytest.raises(ValueError, match="has 1 outputs, 3 given"):
        mx.nd.Dropout(x, out=[mx.nd.zeros((2, 3, 2))] * 3)


def test_histogram_without_a_range_is_numpys():
    a = mx.nd.array([-0.2, 0.1, 0.5, 0.6, 1.3, 0.0])
    with pytest.warns(UserWarning, match="range is not specified"):
        counts, edges = mx.nd.histogram(a, bins=4)
    want_counts, want_edges = np.histogram(a.asnumpy(), bins=4)
    np.testing.assert_array_equal(counts.asnumpy(), want_counts)
    np.testing.assert_allclose(edges.asnumpy(), want_edges, rtol=1e-6)
    counts, _ = mx.nd.histogram(a, bins=np.int64(4), range=(0, 1))
    assert counts.asnumpy().tolist() == [2, 0, 2, 0]
