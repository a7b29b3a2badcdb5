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
