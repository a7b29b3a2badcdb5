"""mx.test_utils helpers against numpy, closed forms and values MXNet 1.9.1 printed (the
tolerance tuples, rand_shape_* draws and reductions below were printed by MXNet 1.9.1)."""
import gzip
import math
import os
import struct
import sys

import numpy as np
import pytest

import oxnet as mx
from oxnet import test_utils as tu
from oxnet.test_utils.stats import _chi2_sf


# -- tolerances ----------------------------------------------------------------------------
def test_default_tolerances_and_getters():
    f32, f64, f16 = np.zeros(2, np.float32), np.zeros(2), np.zeros(2, np.float16)
    i32 = np.zeros(2, np.int32)
    assert tu.get_tols(f32, f64, None, None) == (1e-4, 1e-3)
    assert tu.get_tols(f16, f32, None, None) == (1e-2, 1e-1)
    assert tu.get_tols(i32, i32, None, None) == (0, 0)
    assert tu.get_tols(1.0, 2, None, None) == (1e-5, 1e-20)
    assert tu.get_tols(f32, f32, {np.dtype(np.float32): 0.5}, 0.25) == (0.5, 0.25)
    assert tu.get_tols(mx.nd.zeros(2), f64, None, None) == (1e-4, 1e-3)
    assert tu.get_tolerance(f32, 0.3, tu.default_rtols()) == 0.3
    assert tu.get_tolerance(np.zeros(1, np.int16), None, tu.default_rtols()) == 0
    assert (tu.get_atol(), tu.get_rtol(), tu.get_etol()) == (1e-20, 1e-5, 0)
    assert tu.get_atol(dtype=np.dtype(np.float16)) == 0.1
    assert tu.get_rtol(0.5) == 0.5 and tu.get_etol(0.2) == 0.2
    assert tu.default_numeric_eps() == {np.dtype(np.float16): 0.015625,
                                        np.dtype(np.float32): 0.001953125,
                                        np.dtype(np.float64): 6.103515625e-05}
    assert tu.default_dtype() is np.float32
    assert tu.effective_dtype(mx.nd.zeros(2, dtype="float16")) == np.dtype(np.float16)
    assert tu.effective_dtype(f64) == np.dtype(np.float64)


# -- assertions ----------------------------------------------------------------------------
def test_assert_almost_equal_uses_dtype_tolerances():
    tu.assert_almost_equal(np.float32(1.0), np.float32(1.0009))
    with pytest.raises(AssertionError, match="exceeds tolerance"):
        tu.assert_almost_equal(np.float32(1.0), np.float32(1.0012))
    tu.assert_almost_equal(np.array([1.0]), np.array([1.00001]))
    with pytest.raises(AssertionError):
        tu.assert_almost_equal(np.array([1.0]), np.array([1.0001]))
    tu.assert_almost_equal(mx.nd.array([1, 2]), np.array([1.0005, 2.0], np.float32))
    tu.assert_almost_equal(np.ones((2, 3)), np.ones(3))
    with pytest.raises(AssertionError, match="shape"):
        tu.assert_almost_equal(np.ones((2, 3)), np.ones(3), use_broadcast=False)
    tu.assert_almost_equal(np.array([True, False]), np.array([True, False]))
    with pytest.raises(AssertionError):
        tu.assert_almost_equal(np.array([True, False]), np.array([True, True]))


def test_assert_almost_equal_message_names_worst_element():
    got = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    want = np.array([[1.0, 2.1], [3.0, 9.0]], np.float32)
    with pytest.raises(AssertionError) as err:
        tu.assert_almost_equal(got, want, names=("got", "want"))
    msg = str(err.value)
    assert "mismatch 50.000000%" in msg
    assert "Location of maximum error: (1, 1), got=4.00000000, want=9.00000000" in msg
    with pytest.raises(AssertionError, match="mismatch 25.0"):
        tu.assert_almost_equal(got, got + [[0, 0], [0, 1]])


def test_assert_almost_equal_nan_handling():
    a = np.array([1.0, np.nan])
    with pytest.raises(AssertionError):
        tu.assert_almost_equal(a, a)
    tu.assert_almost_equal(a, a, equal_nan=True)
    tu.assert_allclose(a, a)  # numpy's defaults: equal_nan=True
    tu.assert_allclose(np.array([1.0]), np.array([1.0 + 1e-8]))
    with pytest.raises(AssertionError):
        tu.assert_allclose(np.array([1.0]), np.array([1.0 + 1e-6]))


def test_assert_almost_equal_ignore_nan():
    a = np.array([1.0, np.nan, 3.0])
    b = np.array([np.nan, 5.0, 3.0])
    tu.assert_almost_equal_ignore_nan(a, b)
    tu.assert_almost_equal_ignore_nan(mx.nd.array(a), b)
    assert np.isnan(a[1])  # the inputs are not modified
    with pytest.raises(AssertionError):
        tu.assert_almost_equal_ignore_nan(a, np.array([np.nan, 5.0, 4.0]))


def test_assert_almost_equal_with_err():
    base = np.arange(10.0)
    tu.assert_almost_equal_with_err(base, base + (np.arange(10) < 2), etol=0.3)
    with pytest.raises(AssertionError, match="error rate 0.400000 exceeds etol=0.300000"):
        tu.assert_almost_equal_with_err(base, base + (np.arange(10) < 4), etol=0.3)
    # etol 0 (the default): plain assert_almost_equal
    with pytest.raises(AssertionError):
        tu.assert_almost_equal_with_err(base, base + (np.arange(10) < 1))
    tu.assert_almost_equal_with_err(mx.nd.array(base), base + 1e-5 * base)


def test_assert_exception():
    tu.assert_exception(int, ValueError, "x")
    tu.assert_exception(lambda a, b=0: a / b, ZeroDivisionError, 1, b=0)
    with pytest.raises(AssertionError, match="did not raise ValueError"):
        tu.assert_exception(int, ValueError, "3")
    with pytest.raises(AssertionError):
        tu.assert_exception(lambda: None, AssertionError)
    with pytest.raises(KeyError):
        tu.assert_exception(lambda: {}["k"], ValueError)


def test_retry():
    calls = []

    @tu.retry(3)
    def flaky():
        calls.append(1)
        assert len(calls) >= 3, "attempt %d" % len(calls)

    flaky()
    assert len(calls) == 3
    calls.clear()

    @tu.retry(2)
    def always_fails():
        calls.append(1)
        assert False, "attempt %d" % len(calls)

    with pytest.raises(AssertionError, match="attempt 2"):
        always_fails()
    assert len(calls) == 2
    with pytest.raises(AssertionError):
        tu.retry(0)


def test_compare_ndarray_tuple():
    t1 = (mx.nd.ones(2), (np.zeros(3), mx.nd.array([1.0, 2.0])))
    tu.compare_ndarray_tuple(t1, (np.ones(2), (np.zeros(3), np.array([1.0, 2.0]))))
    tu.compare_ndarray_tuple(None, t1)
    with pytest.raises(AssertionError):
        tu.compare_ndarray_tuple(t1, (np.ones(2), (np.zeros(3), np.array([1.0, 2.5]))))


# -- numpy reference helpers ---------------------------------------------------------------
def test_np_reduce_and_collapse_sum_like():
    x = np.arange(24.0).reshape(2, 3, 4)
    assert tu.np_reduce(x, (0, 2), True, np.max).tolist() == [[[15.0], [19.0], [23.0]]]
    np.testing.assert_array_equal(tu.np_reduce(x, 1, False, np.sum), x.sum(axis=1))
    np.testing.assert_array_equal(tu.np_reduce(x, None, False, np.sum), x.sum())
    assert tu.collapse_sum_like(x, (3, 1)).tolist() == [[60.0], [92.0], [124.0]]
    np.testing.assert_array_equal(tu.collapse_sum_like(x, (2, 1, 4)),
                                  x.sum(axis=1, keepdims=True))
    assert tu.collapse_sum_like(np.zeros((0, 3)), (3,)).tolist() == [0, 0, 0]
    with pytest.raises(AssertionError):
        tu.collapse_sum_like(x, (2, 4))


def test_same_array_detects_shared_memory():
    a = mx.nd.arange(6).reshape((2, 3))
    # MXNet 1.9.1 answers the same for these four
    assert tu.same_array(a, a[:])
    assert not tu.same_array(a, a.copy())
    assert not tu.same_array(a, a.reshape((3, 2)))
    assert not tu.same_array(a, a[1])
    np.testing.assert_array_equal(a.asnumpy(), np.arange(6).reshape(2, 3))


def test_same_symbol_structure():
    x = mx.sym.var("x")
    s1 = mx.sym.relu(mx.sym.FullyConnected(x, num_hidden=3, name="a"))
    s2 = mx.sym.relu(mx.sym.FullyConnected(x, num_hidden=5, name="b"))
    s3 = mx.sym.sigmoid(mx.sym.FullyConnected(x, num_hidden=3, name="a"))
    assert tu.same_symbol_structure(s1, s2)
    assert not tu.same_symbol_structure(s1, s3)
    # MXNet 1.9.1 answers True for a graph and its prefix (both orders), False otherwise
    fc = mx.sym.FullyConnected(x, num_hidden=3)
    assert tu.same_symbol_structure(s1, fc) and tu.same_symbol_structure(fc, s1)
    assert not tu.same_symbol_structure(s3, mx.sym.relu(x))


# -- random data ---------------------------------------------------------------------------
def test_rand_shapes_draw_from_numpy():
    np.random.seed(5)
    assert tu.rand_shape_2d() == (4, 7)
    assert tu.rand_shape_3d(4, 5, 6, allow_zero_size=True) == (0, 1, 0)
    assert tu.rand_shape_nd(3) == (5, 8, 1)
    np.random.seed(5)
    assert tu.random_sample(list(range(10)), 4) == [9, 5, 2, 4]
    for _ in range(20):
        d0, d1 = tu.rand_shape_2d(2, 3)
        assert 1 <= d0 <= 2 and 1 <= d1 <= 3
    with pytest.raises(AssertionError):
        tu.random_sample([1, 2], 3)


def test_random_arrays():
    np.random.seed(1)
    a, b, c = tu.random_arrays((2, 3), (4,), ())
    np.random.seed(1)
    np.testing.assert_array_equal(a, np.random.randn(2, 3).astype(np.float32))
    np.testing.assert_array_equal(b, np.random.randn(4).astype(np.float32))
    assert c.shape == () and c.dtype == np.float32 and b.dtype == np.float32
    single = tu.random_arrays((5,))
    assert isinstance(single, np.ndarray) and single.shape == (5,)
    (u,) = tu.random_uniform_arrays((1000,), low=2.0, high=3.0, dtype=np.float64)
    assert u.dtype == np.float64 and u.min() >= 2.0 and u.max() < 3.0
    assert len(tu.random_uniform_arrays((2,), (3,))) == 2
    with pytest.raises(TypeError, match="unexpected"):
        tu.random_uniform_arrays((2,), scale=3)
    r = tu.rand_ndarray((3, 4))
    assert isinstance(r, mx.nd.NDArray) and r.shape == (3, 4) and r.dtype == np.float32
    c = tu.rand_ndarray((30, 40), stype="csr", density=0.25)
    assert c.stype == "csr" and c.shape == (30, 40)
    assert 0.1 < np.count_nonzero(c.asnumpy()) / c.size < 0.4
    rs = tu.rand_ndarray((30, 4), stype="row_sparse", density=0.5).asnumpy()
    kept = np.abs(rs).sum(axis=1) > 0
    assert (np.count_nonzero(rs[kept], axis=1) == 4).all() and 5 < kept.sum() < 25
    with pytest.raises(ValueError, match="unknown stype"):
        tu.rand_ndarray((3, 4), stype="coo")


def test_large_tensor_builders():
    v = tu.create_vector(5)
    assert v.dtype == np.int64 and v.asnumpy().tolist() == [0, 1, 2, 3, 4]
    t = tu.create_2d_tensor(3, 2, dtype=np.float32)
    assert t.dtype == np.float32 and t.asnumpy().tolist() == [[0, 0], [1, 1], [2, 2]]
    np.testing.assert_array_equal(tu.get_identity_mat(3).asnumpy(), np.eye(3))
    assert tu.get_identity_mat_batch(2).shape == (2, 2, 2)
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(tu.assign_each(x, lambda v: v * v), x * x)
    np.testing.assert_array_equal(tu.assign_each2(x, x, lambda p, q: p - 2 * q), -x)
    np.testing.assert_array_equal(tu.assign_each(x, None), x)


# -- numeric gradients ---------------------------------------------------------------------
def test_numeric_grad_matches_analytic():
    x, y = mx.sym.var("x"), mx.sym.var("y")
    net = mx.sym.sum(mx.sym.square(x) * y)
    rng = np.random.RandomState(0)
    loc = {"x": rng.randn(2, 3), "y": rng.randn(2, 3)}
    exe = net.simple_bind(mx.cpu(), x=(2, 3), y=(2, 3), type_dict={"x": np.float64,
                                                                   "y": np.float64})
    start = {k: v.copy() for k, v in loc.items()}
    grads = tu.numeric_grad(exe, loc, eps=1e-4, dtype=np.float64)
    np.testing.assert_allclose(grads["x"], 2 * start["x"] * start["y"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(grads["y"], start["x"] ** 2, rtol=1e-6, atol=1e-8)
    # the executor's arguments are back at the location
    np.testing.assert_array_equal(exe.arg_dict["x"].asnumpy(), start["x"])
    np.testing.assert_array_equal(loc["y"], start["y"])
    with pytest.raises(ValueError, match="dtype"):
        tu.numeric_grad(exe, loc, dtype=np.int32)


# -- iterators, contexts, environment ------------------------------------------------------
def test_dummy_iter_repeats_first_batch():
    data = np.arange(12, dtype=np.float32).reshape(6, 2)
    real = mx.io.NDArrayIter(data, np.arange(6), batch_size=2)
    it = tu.DummyIter(real)
    assert it.provide_data == real.provide_data and it.batch_size == 2
    batches = [b for _, b in zip(range(5), it)]
    assert all(b is batches[0] for b in batches)
    np.testing.assert_array_equal(batches[0].data[0].asnumpy(), data[:2])
    assert isinstance(it, mx.io.DataIter)


def test_list_gpus():
    assert list(tu.list_gpus()) == list(range(mx.context.num_gpus()))


def test_environment_sets_and_restores(monkeypatch):
    monkeypatch.setenv("OXNET_TU_A", "old")
    monkeypatch.delenv("OXNET_TU_B", raising=False)
    with tu.environment("OXNET_TU_A", "new"):
        assert os.environ["OXNET_TU_A"] == "new"
        assert mx.util.getenv("OXNET_TU_A") == "new"
    assert os.environ["OXNET_TU_A"] == "old"
    with pytest.raises(RuntimeError):
        with tu.environment({"OXNET_TU_A": None, "OXNET_TU_B": "1"}):
            assert "OXNET_TU_A" not in os.environ and os.environ["OXNET_TU_B"] == "1"
            raise RuntimeError("body failed")
    assert os.environ["OXNET_TU_A"] == "old" and "OXNET_TU_B" not in os.environ
    with pytest.raises(AssertionError):
        with tu.environment("a", "b", "c"):
            pass


def test_discard_stderr(capfd):
    os.write(2, b"before\n")
    with tu.discard_stderr():
        os.write(2, b"hidden\n")
        sys.stderr.write("also hidden\n")
    os.write(2, b"after\n")
    err = capfd.readouterr().err
    assert "before" in err and "after" in err and "hidden" not in err


def test_compare_optimizer():
    mx.random.seed(0)
    tu.compare_optimizer(mx.optimizer.SGD(learning_rate=0.1, momentum=0.9),
                         mx.optimizer.SGD(learning_rate=0.1, momentum=0.9), (3, 4), np.float32)
    with pytest.raises(AssertionError):
        tu.compare_optimizer(mx.optimizer.SGD(learning_rate=0.1),
                             mx.optimizer.SGD(learning_rate=0.2), (3, 4), np.float32)
    multi = mx.optimizer.SGD(learning_rate=0.1, momentum=0.9)
    multi.aggregate_num = 4
    tu.compare_optimizer(mx.optimizer.SGD(learning_rate=0.1, momentum=0.9), multi,
                         [(3, 4), (2,)], np.float32, ntensors=2)
    tu.compare_optimizer(mx.optimizer.SGD(learning_rate=0.1), mx.optimizer.SGD(learning_rate=0.1),
                         (4, 2), np.float32, w_stype="row_sparse", g_stype="row_sparse")


# -- statistics ----------------------------------------------------------------------------
def test_chi2_survival_function_closed_forms():
    for x in (0.01, 0.5, 1.0, 3.0, 7.5, 20.0, 60.0):
        assert _chi2_sf(x, 2) == pytest.approx(math.exp(-x / 2), rel=1e-12)
        assert _chi2_sf(x, 1) == pytest.approx(math.erfc(math.sqrt(x / 2)), rel=1e-10)
        assert _chi2_sf(x, 4) == pytest.approx(math.exp(-x / 2) * (1 + x / 2), rel=1e-12)
        # dof 6: e^{-x/2} (1 + x/2 + x^2/8)
        assert _chi2_sf(x, 6) == pytest.approx(math.exp(-x / 2) * (1 + x / 2 + x * x / 8),
                                               rel=1e-11)
    assert _chi2_sf(0.0, 3) == 1.0


def test_chi_square_check_continuous_and_discrete():
    buckets, probs = tu.gen_buckets_probs_with_ppf(lambda p: -math.log1p(-p) if p < 1
                                                   else float("inf"), 5)
    assert probs == [0.2] * 5 and buckets[0] == (0.0, pytest.approx(-math.log(0.8)))
    assert buckets[-1][1] == float("inf")
    rng = np.random.RandomState(0)
    p, obs, exp = tu.chi_square_check(lambda n: rng.exponential(1.0, size=n), buckets, probs,
                                      nsamples=20000)
    assert obs.sum() == 20000 and exp.tolist() == [4000] * 5
    stat = ((obs - 4000.0) ** 2 / 4000.0).sum()
    assert p == pytest.approx(math.exp(-stat / 2) * (1 + stat / 2), rel=1e-9) and p > 1e-3
    p_bad, _, _ = tu.chi_square_check(lambda n: rng.exponential(1.3, size=n), buckets, probs,
                                      nsamples=20000)
    assert p_bad < 1e-6
    p_disc, obs, _ = tu.chi_square_check(lambda n: rng.randint(0, 3, size=n), [0, 1, 2],
                                         [1 / 3.0] * 3, nsamples=30000)
    assert obs.sum() == 30000 and p_disc > 1e-3
    with pytest.raises(AssertionError):
        tu.chi_square_check(lambda n: rng.rand(n), [(0.5, 1.0), (0.0, 0.5)], [0.5, 0.5], 10)


def test_verify_generator_and_moment_checks():
    rng = np.random.RandomState(1)
    buckets, probs = tu.gen_buckets_probs_with_ppf(lambda p: p, 4)
    pvals = tu.verify_generator(lambda n: rng.rand(n), buckets, probs, nsamples=10000,
                                nrepeat=3)
    assert len(pvals) == 3
    with pytest.raises(AssertionError, match="Generator test fails"):
        tu.verify_generator(lambda n: rng.rand(n) ** 2, buckets, probs, nsamples=10000,
                            nrepeat=3)
    normal = lambda n: rng.normal(2.0, 3.0, size=n)  # noqa: E731
    assert tu.mean_check(normal, 2.0, 3.0, nsamples=100000)
    assert not tu.mean_check(normal, 2.2, 3.0, nsamples=100000)
    assert tu.var_check(normal, 3.0, nsamples=100000)
    assert not tu.var_check(normal, 3.3, nsamples=100000)


# -- data sets -----------------------------------------------------------------------------
def _write_idx(path, arr, compress=False):
    header = struct.pack(">HBB", 0, 8, arr.ndim) + b"".join(struct.pack(">I", d)
                                                            for d in arr.shape)
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


def test_download_local_and_offline(tmp_path, monkeypatch):
    src = tmp_path / "src.bin"
    src.write_bytes(b"payload")
    out = tu.download(src.as_uri(), dirname=str(tmp_path / "dl"))
    assert out == str(tmp_path / "dl" / "src.bin") and open(out, "rb").read() == b"payload"
    src.write_bytes(b"changed")
    assert tu.download(src.as_uri(), dirname=str(tmp_path / "dl")) == out
    assert open(out, "rb").read() == b"payload"  # kept: overwrite=False
    tu.download(src.as_uri(), dirname=str(tmp_path / "dl"), overwrite=True)
    assert open(out, "rb").read() == b"changed"
    monkeypatch.chdir(tmp_path)
    # port 1 on the loopback refuses at once: no network is involved
    with pytest.raises(OSError, match="network access") as err:
        tu.download("http://127.0.0.1:1/mnist.zip", dirname="data", retries=1)
    assert os.path.join("data", "mnist.zip") in str(err.value)
    assert not os.path.exists(os.path.join("data", "mnist.zip"))
    with pytest.raises(AssertionError):
        tu.download(src.as_uri(), retries=-1)


def test_mnist_helpers_read_local_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.RandomState(0)
    imgs = rng.randint(0, 256, size=(6, 28, 28))
    labels = rng.randint(0, 10, size=6)
    for prefix in ("train", "t10k"):
        _write_idx("%s-images-idx3-ubyte.gz" % prefix, imgs, compress=True)
        _write_idx("%s-labels-idx1-ubyte.gz" % prefix, labels, compress=True)
    mnist = tu.get_mnist()
    assert mnist["train_data"].shape == (6, 1, 28, 28) and mnist["train_data"].dtype == np.float32
    np.testing.assert_allclose(mnist["test_data"][:, 0], imgs / 255.0, rtol=1e-6)
    assert mnist["train_label"].dtype == np.int8
    np.testing.assert_array_equal(mnist["test_label"], labels)
    os.makedirs("data")
    for prefix in ("train", "t10k"):
        _write_idx("data/%s-images-idx3-ubyte" % prefix, imgs)
        _write_idx("data/%s-labels-idx1-ubyte" % prefix, labels)
    train, val = tu.get_mnist_iterator(3, (784,))
    batch = next(iter(val))
    assert batch.data[0].shape == (3, 784)
    # both iterators shuffle (MNISTIter's default, which MXNet's helper keeps for val too)
    rows = {tuple(r) for r in (imgs.reshape(6, -1) / 256.0).astype(np.float32)}
    assert all(tuple(r) in rows for r in batch.data[0].asnumpy())
    train, val = tu.get_mnist_iterator(2, (1, 28, 28))
    assert next(iter(train)).data[0].shape == (2, 1, 28, 28)


def test_bz2_and_zip_data_and_model_download_from_local_files(tmp_path):
    import bz2
    import zipfile
    src = tmp_path / "kdda.t.bz2"
    src.write_bytes(bz2.compress(b"1 1:0.5\n0 2:1.0\n"))
    out_dir = str(tmp_path / "out")
    tu.get_bz2_data(out_dir, "kdda.t", src.as_uri(), "kdda.t.bz2")
    assert open(os.path.join(out_dir, "kdda.t"), "rb").read() == b"1 1:0.5\n0 2:1.0\n"
    assert not os.path.exists(os.path.join(out_dir, "kdda.t.bz2"))
    zpath = tmp_path / "set.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("inner/a.txt", "hello")
    tu.get_zip_data(out_dir, zpath.as_uri(), "set.zip")
    assert open(os.path.join(out_dir, "inner", "a.txt")).read() == "hello"
    sym, params = tmp_path / "s.json", tmp_path / "p.params"
    sym.write_text("{}")
    params.write_bytes(b"\0")
    meta = {"tiny": {"symbol": sym.as_uri(), "params": params.as_uri()}}
    name, epoch = tu.download_model("tiny", dst_dir=str(tmp_path / "zoo"), meta_info=meta)
    assert (name, epoch) == (os.path.join(str(tmp_path / "zoo"), "tiny"), 0)
    assert open(name + "-symbol.json").read() == "{}"
    assert tu.download_model("unknown", meta_info=meta) == (None, 0)


def test_im2rec_path_and_run_flags(monkeypatch):
    path = tu.get_im2rec_path()
    assert path.endswith(os.path.join("tools", "im2rec.py")) and os.path.isfile(path)
    monkeypatch.setenv("OXNET_TU_HOME", "/nonexistent")
    with pytest.raises(IOError, match="im2rec"):
        tu.get_im2rec_path("OXNET_TU_HOME")
    monkeypatch.setenv("CD_JOB", "1")
    assert tu.is_cd_run()
    monkeypatch.setenv("CD_JOB", "0")
    assert not tu.is_cd_run()
    assert isinstance(tu.is_aarch64_run(), bool)


def test_matrices_with_real_eigenvalues():
    np.random.seed(2)
    m = tu.new_matrix_with_real_eigvals_2d(4)
    eig = np.linalg.eigvals(m)
    assert np.abs(eig.imag).max() < 1e-8 and np.abs(eig.real).max() < 10
    batch = tu.new_matrix_with_real_eigvals_nd((2, 3, 3, 3))
    assert batch.shape == (2, 3, 3, 3)
    q = tu.new_orthonormal_matrix_2d(5)
    np.testing.assert_allclose(q.T @ q, np.eye(5), atol=1e-10)
    s = tu.new_sym_matrix_with_real_eigvals_nd((2, 4, 4))
    np.testing.assert_allclose(s, np.swapaxes(s, -1, -2), atol=1e-10)
    assert np.abs(np.linalg.eigvalsh(s)).max() < 10


def test_star_import_hands_over_the_modules_mxnet_tests_use():
    # MXNet's test files begin with `from mxnet.test_utils import *` and then use np, rnd, sys...
    ns = {}
    exec("from oxnet.test_utils import *", ns)
    assert ns["mx"] is mx and ns["np"] is np and ns["rnd"] is np.random
    assert ns["sys"] is sys and ns["os"] is os and ns["array"] is mx.nd.array
    assert ns["assert_almost_equal"] is mx.test_utils.assert_almost_equal


def test_numeric_gradient_in_float32_is_not_rounded_away():
    # MXNet 1.x's own test: elu's gradient in float32 at eps 1e-4 within rtol 1e-2. Summing
    # output * projection in float32 quantised the differences into ~2e-4 steps.
    x = np.random.RandomState(0).uniform(-1, 1, (3, 7, 3)).astype(np.float32)
    sym = mx.sym.LeakyReLU(mx.sym.Variable("x"), slope=0.25, act_type="elu")
    tu.check_numeric_gradient(sym, [x], numeric_eps=1e-4, rtol=1e-2, atol=1e-3, dtype=np.float32)


def test_asnumpy_dtype_binds_each_input_with_its_own_dtype():
    data = np.arange(6, dtype=np.float64).reshape(3, 2)
    lens = np.array([1, 3], dtype=np.int32)
    sym = mx.sym.SequenceLast(mx.sym.Variable("data"), mx.sym.Variable("len"),
                              use_sequence_length=True)
    out = tu.check_symbolic_forward(sym, [data, lens], [np.array([0.0, 5.0])], dtype="asnumpy")
    assert out[0].dtype == np.float64
    tu.check_symbolic_backward(sym, [data, lens], [np.ones(2)],
                               [np.array([[1, 0], [0, 0], [0, 1]]), np.zeros(2)],
                               grad_req={"data": "write", "len": "null"}, dtype="asnumpy")


def test_gpu_queries_of_mxnet_tests():
    assert tu.is_op_runnable() is True
    with pytest.raises(ValueError, match="gpu context"):
        tu.get_cuda_compute_capability(mx.cpu())
    if mx.context.num_gpus() == 0:
        print("no GPU: get_cuda_compute_capability(gpu(0)) must raise")
        with pytest.raises((mx.MXNetError, RuntimeError)):
            mx.util.get_cuda_compute_capability(mx.gpu(0))
    else:
        assert mx.util.get_cuda_compute_capability(mx.gpu(0)) >= 50


# -- the symbol checkers' defaults and forms (MXNet 1.9.1's printed outcomes) --------------
def test_symbol_checkers_default_to_the_compared_dtypes_tolerances():
    a = mx.sym.Variable("a")
    s = a * 1.0
    x = np.array([[1.0, 2.0]])
    # float64: rtol 1e-5, so 2e-5 off fails.
    with pytest.raises(AssertionError, match=r"EXPECTED__mulscalar\d+_output"):
        tu.check_symbolic_forward(s, [x], [x * (1 + 2e-5)], dtype=np.float64)
    with pytest.raises(AssertionError, match="BACKWARD_a"):
        tu.check_symbolic_backward(s, [x], [x], [x * (1 + 2e-5)], dtype=np.float64)
    # float32 (the default): rtol 1e-4, so large gradients 5e-5 off pass.
    g = np.array([[100.0, 300.0]])
    grads = tu.check_symbolic_backward(s, [x], [g], [g * (1 + 5e-5)])
    assert grads["a"].dtype == np.float32
    # float16: rtol 1e-2 for values of ~1000 rounded to float16.
    y = np.array([[1000.3, 2001.7]])
    out = tu.check_symbolic_forward(s, [y], [y], dtype=np.float16)
    assert out[0].dtype == np.float16


def test_numeric_gradient_steps_and_tolerances_follow_the_dtype():
    a = mx.sym.Variable("a")
    x = np.random.RandomState(0).rand(2, 3) + 0.5
    for dtype in (np.float16, np.float32, np.float64):  # the right gradient passes in each
        tu.check_numeric_gradient(mx.sym.tanh(a), [x], dtype=dtype)
    off = mx.sym.contrib.gradientmultiplier(mx.sym.tanh(a), scalar=1.003)
    with pytest.raises(AssertionError, match="NUMERICAL_a"):  # 0.3% off, float64's rtol 1e-5
        tu.check_numeric_gradient(off, [x], dtype=np.float64)
    with pytest.raises(AssertionError, match="NUMERICAL_a"):  # half the true gradient
        tu.check_numeric_gradient(mx.sym.BlockGrad(a) * a, [x])
    with pytest.raises(AssertionError, match="numeric_eps"):
        tu.check_numeric_gradient(mx.sym.tanh(a), [x], numeric_eps=1e-6)


def test_symbol_checkers_location_forms_and_gradient_starts():
    a, b = mx.sym.Variable("a"), mx.sym.Variable("b")
    x, y = np.array([[1.0, 2.0]]), np.array([[3.0, 4.0]])
    # Entries past the arguments are ignored, as MXNet's zip does.
    tu.check_symbolic_forward(a * b, [x, y, np.zeros(3)], [x * y])
    grads = tu.check_symbolic_backward(a * b, [x, y, np.zeros(3)], [np.ones_like(x)], [y, x])
    assert sorted(grads) == ["a", "b"]
    # Only the gradients of `expected` are made and returned.
    grads = tu.check_symbolic_backward(a * b, [x, y], [np.ones_like(x)], {"b": x})
    assert list(grads) == ["b"]
    # 'add' is checked on top of a random start, 'null' must leave it.
    tu.check_symbolic_backward(a * b, [x, y], [np.ones_like(x)], [y, x], grad_req="add")
    kept = tu.check_symbolic_backward(a * b, [x, y], [np.ones_like(x)], [y * 7, x * 7],
                                      grad_req="null")
    assert np.all(kept["a"].asnumpy() != 0)  # the random start, untouched
    with pytest.raises(AssertionError, match="BACKWARD_a"):
        tu.check_symbolic_backward(a * b, [x, y], [np.ones_like(x)], [y * 2, x],
                                   grad_req="add")
    with pytest.raises(ValueError, match="do not match"):
        tu.check_symbolic_forward(a * b, {"a": x}, [x * y])


def test_simple_forward_binds_float32_like_mx_nd_array():
    x = mx.sym.Variable("x")
    out = tu.simple_forward(x * 2, x=np.ones((2,), dtype=np.float64))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [2, 2])


def test_check_consistency_returns_mxnets_ground_truth_dict():
    sym = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=3, name="fc")
    ctx_list = [{"ctx": mx.cpu(0), "data": (2, 4), "type_dict": {"data": np.float64}},
                {"ctx": mx.cpu(0), "data": (2, 4), "type_dict": {"data": np.float32}}]
    rs = np.random.RandomState(0)
    params = {"data": rs.randn(2, 4), "fc_weight": rs.randn(3, 4), "fc_bias": rs.randn(3)}
    gt = tu.check_consistency(sym, ctx_list, arg_params=dict(params))
    assert sorted(gt) == ["data", "fc_bias", "fc_output", "fc_weight"]
    d, w, b = params["data"], params["fc_weight"], params["fc_bias"]
    out = d @ w.T + b
    assert gt["fc_output"].dtype == np.float64
    np.testing.assert_allclose(gt["fc_output"].asnumpy(), out, rtol=1e-12)
    # Head gradients: the first executor's outputs, rounded to the narrowest output dtype.
    og = out.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(gt["fc_weight"].asnumpy(), og.T @ d, rtol=1e-12)
    np.testing.assert_allclose(gt["data"].asnumpy(), og @ w, rtol=1e-12)
    # A later call checks against it (MXNet's pattern), and a wrong one fails.
    tu.check_consistency(sym, ctx_list, arg_params=dict(params), ground_truth=gt)
    bad = dict(gt, fc_output=gt["fc_output"] * 2)
    with pytest.raises(AssertionError):
        tu.check_consistency(sym, ctx_list, arg_params=dict(params), ground_truth=bad)
    with pytest.raises(AssertionError, match="two"):
        tu.check_consistency(sym, ctx_list[:1])
