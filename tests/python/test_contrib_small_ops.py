"""Small MXNet 1.9.1 ops: `_contrib_getnnz` (CSR stored-entry counts), `_sample_unique_zipfian`
(GluonNLP's sampled softmax candidates) and `_contrib_count_sketch` (with its gradient), against
numpy oracles, MXNet 1.9.1's printed values and statistical properties."""
import numpy as np
import pytest

import oxnet as mx
from oxnet.base import MXNetError

# Bad counts and values raise ValueError (as MXNet users expect), the rest MXNetError.
_ERR = (MXNetError, ValueError)


def _csr():
    return mx.nd.sparse.csr_matrix(np.array([[1, 0, 2], [0, 0, 0], [3, 4, 0], [0, 5, 0]],
                                            dtype=np.float32))


def test_getnnz_matches_mxnet():
    # MXNet 1.9.1 printed [5] (axis=None) and [2 0 2 1] (axis=1), both int64.
    total = mx.nd.contrib.getnnz(_csr())
    assert total.dtype == np.int64 and total.shape == (1,)
    np.testing.assert_array_equal(total.asnumpy(), [5])
    rows = mx.nd.contrib.getnnz(_csr(), axis=1)
    assert rows.dtype == np.int64
    np.testing.assert_array_equal(rows.asnumpy(), [2, 0, 2, 1])


def test_getnnz_matches_numpy():
    rs = np.random.RandomState(0)
    a = rs.uniform(0, 1, (7, 5)).astype(np.float32)
    a[a < 0.6] = 0
    c = mx.nd.sparse.csr_matrix(a)
    np.testing.assert_array_equal(mx.nd.contrib.getnnz(c).asnumpy(), [np.count_nonzero(a)])
    np.testing.assert_array_equal(mx.nd.contrib.getnnz(c, axis=0).asnumpy(),
                                  np.count_nonzero(a, axis=0))
    np.testing.assert_array_equal(mx.nd.contrib.getnnz(c, axis=1).asnumpy(),
                                  np.count_nonzero(a, axis=1))
    with pytest.raises(_ERR, match='_contrib_getnnz.*axis'):
        mx.nd.contrib.getnnz(c, axis=2).wait_to_read()
    with pytest.raises(_ERR, match='_contrib_getnnz.*2-D'):
        mx.nd.contrib.getnnz(mx.nd.ones((2, 2, 2))).wait_to_read()


def test_sample_unique_zipfian_properties():
    mx.random.seed(3)
    samples, tries = mx.nd._internal._sample_unique_zipfian(range_max=200, shape=(64, 20))
    s, t = samples.asnumpy(), tries.asnumpy()
    assert samples.dtype == np.int64 and tries.dtype == np.int64
    assert s.shape == (64, 20) and t.shape == (64,)
    assert s.min() >= 0 and s.max() < 200
    for row, n in zip(s, t):
        assert len(set(row.tolist())) == 20
        assert n >= 20
    # Seeded: the same seed gives the same draws, another seed others.
    mx.random.seed(3)
    again, _ = mx.nd._internal._sample_unique_zipfian(range_max=200, shape=(64, 20))
    np.testing.assert_array_equal(again.asnumpy(), s)
    mx.random.seed(4)
    other, _ = mx.nd._internal._sample_unique_zipfian(range_max=200, shape=(64, 20))
    assert (other.asnumpy() != s).any()


def test_sample_unique_zipfian_distribution():
    # With num_sampled=1 each row is one plain draw, so class frequencies follow
    # P(c) = (log(c + 2) - log(c + 1)) / log(range_max + 1) and every row takes one try.
    mx.random.seed(5)
    n, rmax = 20000, 10
    samples, tries = mx.nd._internal._sample_unique_zipfian(range_max=rmax, shape=(n, 1))
    np.testing.assert_array_equal(tries.asnumpy(), np.ones(n))
    freq = np.bincount(samples.asnumpy().ravel(), minlength=rmax) / n
    c = np.arange(rmax)
    p = (np.log(c + 2) - np.log(c + 1)) / np.log(rmax + 1)
    assert np.abs(freq - p).max() < 4 * np.sqrt(p * (1 - p) / n).max()
    # Drawing all classes without replacement returns a permutation of the range.
    samples, tries = mx.nd._internal._sample_unique_zipfian(range_max=rmax, shape=(3, rmax))
    for row in samples.asnumpy():
        np.testing.assert_array_equal(np.sort(row), c)
    assert (tries.asnumpy() >= rmax).all()
    with pytest.raises(_ERR, match='_sample_unique_zipfian.*11.*range_max=10'):
        mx.nd._internal._sample_unique_zipfian(range_max=10, shape=(2, 11))[0].wait_to_read()


def test_count_sketch_matches_mxnet_doc_example():
    x = mx.nd.array([[1.2, 2.5, 3.4], [3.2, 5.7, 6.6]])
    out = mx.nd.contrib.count_sketch(x, mx.nd.array([[0, 3, 4]]), mx.nd.array([[1, -1, 1]]),
                                     out_dim=5)
    # The example of MXNet 1.9.1's documentation (the op runs only on GPUs there).
    np.testing.assert_allclose(out.asnumpy(), [[1.2, 0, 0, -2.5, 3.4], [3.2, 0, 0, -5.7, 6.6]],
                               rtol=1e-6)


def _sketch_np(x, h, s, k):
    out = np.zeros((x.shape[0], k))
    for j in range(x.shape[1]):
        out[:, int(h[j])] += s[j] * x[:, j]
    return out


def test_count_sketch_numpy_and_gradient():
    rs = np.random.RandomState(1)
    x = rs.uniform(-1, 1, (4, 9)).astype(np.float32)
    h = rs.randint(0, 5, (1, 9)).astype(np.float32)
    s = rs.choice([-1.0, 1.0], (1, 9)).astype(np.float32)
    X = mx.nd.array(x)
    X.attach_grad()
    head = rs.uniform(-1, 1, (4, 5)).astype(np.float32)
    with mx.autograd.record():
        out = mx.nd.contrib.count_sketch(X, mx.nd.array(h), mx.nd.array(s), out_dim=5)
    out.backward(mx.nd.array(head))
    np.testing.assert_allclose(out.asnumpy(), _sketch_np(x, h[0], s[0], 5), rtol=1e-5,
                               atol=1e-6)
    # d out[n, h[j]] / d x[n, j] = s[j]: the gradient gathers the head gradient.
    np.testing.assert_allclose(X.grad.asnumpy(), head[:, h[0].astype(int)] * s[0], rtol=1e-6)
    with pytest.raises(_ERR, match='_contrib_count_sketch.*h'):
        mx.nd.contrib.count_sketch(X, mx.nd.array([[0, 1]]), mx.nd.array(s),
                                   out_dim=5).wait_to_read()
    with pytest.raises(_ERR, match='_contrib_count_sketch.*out_dim=5'):
        mx.nd.contrib.count_sketch(X, mx.nd.array(h + 5), mx.nd.array(s),
                                   out_dim=5).wait_to_read()
