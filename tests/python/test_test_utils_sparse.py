"""mx.test_utils' sparse generators and check_speed. Powerlaw row patterns and the row_sparse
results are MXNet 1.9.1's printed output for the same calls (they do not depend on the seed)."""
import numpy as np
import pytest

import oxnet as mx
from oxnet import test_utils as tu


@pytest.mark.parametrize("shape,density,row_nnz", [
    # MXNet 1.9.1's nonzeros per row:
    ((5, 16), 0.5, [2, 4, 8, 16, 10]),
    ((4, 4), 0.9, [2, 4, 4, 4]),
    ((10, 3), 0.8, [2, 3, 3, 3, 3, 3, 3, 2, 1, 1]),
    ((6, 40), 0.3, [2, 4, 8, 16, 32, 10]),
])
def test_powerlaw_csr_rows(shape, density, row_nnz):
    arr, (indptr, indices, data) = tu.rand_sparse_ndarray(shape, 'csr', density=density,
                                                          distribution='powerlaw')
    assert arr.stype == 'csr' and arr.shape == shape and arr.dtype == np.float32
    dense = arr.asnumpy()
    assert (dense != 0).sum(axis=1).tolist() == row_nnz
    # Each row's nonzeros are its leading columns, values in [1.001, 3).
    for r, n in enumerate(row_nnz):
        assert np.nonzero(dense[r])[0].tolist() == list(range(n))
    nz = dense[dense != 0]
    assert nz.min() >= 1.001 and nz.max() < 3
    np.testing.assert_array_equal(indptr.asnumpy(), np.concatenate([[0], np.cumsum(row_nnz)]))
    np.testing.assert_allclose(data.asnumpy(), nz)
    assert indices.asnumpy().tolist() == [c for n in row_nnz for c in range(n)]


def test_uniform_csr_density_and_dtype():
    np.random.seed(3)
    arr, (indptr, indices, data) = tu.rand_sparse_ndarray((20, 30), 'csr', density=0.2,
                                                          dtype=np.float64)
    dense = arr.asnumpy()
    assert arr.stype == 'csr' and arr.dtype == np.float64
    # scipy.sparse.rand's count: round(rows * cols * density) distinct places, values in [0, 1).
    assert np.count_nonzero(dense) == 120 and data.shape == (120,)
    assert dense.min() >= 0 and dense.max() < 1
    assert indptr.asnumpy()[-1] == 120
    full = tu.rand_sparse_ndarray((3, 4), 'csr', density=1.0, data_init=7)[0]
    np.testing.assert_array_equal(full.asnumpy(), np.full((3, 4), 7))
    empty = tu.rand_sparse_ndarray((3, 4), 'csr', density=0.0)[0]
    assert empty.stype == 'csr' and not empty.asnumpy().any()
    # Uniform placement: each column gets about its share over many draws.
    counts = np.zeros(10)
    for _ in range(200):
        counts += (tu.rand_sparse_ndarray((1, 10), 'csr', density=0.3)[0].asnumpy() != 0)[0]
    assert counts.sum() == 600 and counts.min() > 30 and counts.max() < 90


def test_row_sparse_generation():
    # MXNet 1.9.1: rows 1 and 4 filled with 2.0, parts ([[2, 2, 2], [2, 2, 2]], [1, 4]).
    arr, (val, idx) = tu.rand_sparse_ndarray((6, 3), 'row_sparse', density=0.5,
                                             rsp_indices=np.array([1, 4]), data_init=2.0)
    expect = np.zeros((6, 3))
    expect[[1, 4]] = 2
    assert arr.stype == 'row_sparse' and arr.dtype == np.float32
    np.testing.assert_array_equal(arr.asnumpy(), expect)
    assert val.tolist() == [[2.0] * 3] * 2 and idx.tolist() == [1, 4]
    # MXNet 1.9.1: an empty row_sparse array and parts [] (float32) and [] (float64).
    arr, (val, idx) = tu.rand_sparse_ndarray((6, 3), 'row_sparse', density=0.0)
    assert arr.stype == 'row_sparse' and not arr.asnumpy().any()
    assert val.size == 0 and val.dtype == np.float32 and idx.size == 0
    np.random.seed(0)
    kept = sum(tu.rand_sparse_ndarray((100, 2), 'row_sparse', density=0.25)[1][1].size
               for _ in range(20))
    assert 400 < kept < 600  # binomial(2000, 0.25): mean 500, sd ~19
    arr, (val, idx) = tu.rand_sparse_ndarray((4, 2), 'row_sparse', density=1.0,
                                             modifier_func=lambda x: x + 10)
    assert idx.tolist() == [0, 1, 2, 3] and (val >= 10).all() and (val < 11).all()
    np.testing.assert_allclose(arr.asnumpy(), val)


def test_create_sparse_array_variants():
    # MXNet 1.9.1: indices [0, 3] (sorted) with values >= 10; zd with [3, 1] -> [1, 3]; zd
    # without indices -> no rows.
    a = tu.create_sparse_array((5, 2), 'row_sparse', rsp_indices=[3, 0],
                               modifier_func=lambda x: x + 10)
    assert a.indices.asnumpy().tolist() == [0, 3] and (a.data.asnumpy() >= 10).all()
    assert tu.create_sparse_array_zd((5, 2), 'row_sparse', 0.9,
                                     rsp_indices=[3, 1]).indices.asnumpy().tolist() == [1, 3]
    assert tu.create_sparse_array_zd((5, 2), 'row_sparse', 0.9).indices.asnumpy().size == 0
    c = tu.create_sparse_array((4, 5), 'csr', density=0.5, dtype=np.float64)
    assert c.stype == 'csr' and c.dtype == np.float64 and np.count_nonzero(c.asnumpy()) == 10
    with pytest.raises(AssertionError, match="unknown storage type 'coo'"):
        tu.create_sparse_array((2, 2), 'coo')


def test_rand_ndarray_sparse_uses_generator():
    c = tu.rand_ndarray((4, 5), 'csr', density=0.5, distribution='powerlaw')
    assert (c.asnumpy() != 0).sum(axis=1).tolist() == [2, 4, 3, 1]  # MXNet 1.9.1's rows


def test_bad_arguments():
    # MXNet 1.9.1 refuses this powerlaw density: 10 * 10 * 0.1 < 2 * 10.
    with pytest.raises(ValueError, match="powerlaw needs"):
        tu.rand_sparse_ndarray((10, 10), 'csr', density=0.1, distribution='powerlaw')
    with pytest.raises(ValueError, match="density must be in"):
        tu.rand_sparse_ndarray((3, 3), 'csr', density=1.5)
    with pytest.raises(ValueError, match="unknown distribution 'zipf'"):
        tu.rand_sparse_ndarray((3, 3), 'csr', density=0.5, distribution='zipf')
    with pytest.raises(ValueError, match="only 'uniform'"):
        tu.rand_sparse_ndarray((3, 3), 'row_sparse', distribution='powerlaw')
    with pytest.raises(ValueError, match="must be 2-D"):
        tu.rand_sparse_ndarray((3, 3, 3), 'csr')
    with pytest.raises(ValueError, match="unknown stype 'coo'"):
        tu.rand_sparse_ndarray((3, 3), 'coo')
    with pytest.raises(TypeError, match="sorted"):
        tu.shuffle_csr_column_indices(tu.rand_ndarray((3, 3), 'csr', density=0.5))


def test_shuffle_csr_column_indices_on_scipy_like():
    class Csr:  # the two fields the function reads, as scipy.sparse.csr_matrix has them
        indptr = np.array([0, 3, 3, 7])
        indices = np.array([0, 1, 2, 0, 1, 2, 3])
    np.random.seed(1)
    csr = Csr()
    seen = set()
    for _ in range(30):
        tu.shuffle_csr_column_indices(csr)
        assert sorted(csr.indices[:3]) == [0, 1, 2] and sorted(csr.indices[3:]) == [0, 1, 2, 3]
        seen.add(tuple(csr.indices))
    assert len(seen) > 5


def test_check_speed():
    x = mx.sym.Variable('x')
    w = mx.sym.Variable('w')
    y = mx.sym.FullyConnected(x, w, num_hidden=4, no_bias=True)
    t = tu.check_speed(y, ctx=mx.cpu(), N=3, x=(2, 3))
    assert isinstance(t, float) and t > 0
    loc = {'x': np.ones((2, 3)), 'w': np.ones((4, 3))}
    assert tu.check_speed(y, location=loc, N=2, typ='forward') > 0
    with pytest.raises(ValueError, match="typ must be"):
        tu.check_speed(y, location=loc, typ='backward')
    with pytest.raises(TypeError, match="location must be a dict"):
        tu.check_speed(y, location=[np.ones((2, 3))])
