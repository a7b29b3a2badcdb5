"""`mx.nd.sparse` (CSRNDArray, RowSparseNDArray on dense memory), sparse records in `.params`
files, and KVStore.row_sparse_pull, against numpy references and values MXNet 1.9.1 printed."""
import os
import pickle

import numpy as np
import pytest

import oxnet as mx
from oxnet.ndarray.sparse import CSRNDArray, RowSparseNDArray, SparseFormatError
from conftest import DATA

GOLD = os.path.join(DATA, "golden")


def _csr_ref(d):
    """(data, indices, indptr) of a dense 2-D numpy array, by plain loops."""
    data, indices, indptr = [], [], [0]
    for row in d:
        for j, v in enumerate(row):
            if v != 0:
                data.append(v)
                indices.append(j)
        indptr.append(len(indices))
    return data, indices, indptr


# ----------------------------------------------------------------------------- construction

def test_csr_from_components_matches_mxnet():
    a = mx.nd.sparse.csr_matrix(([1, 2, 3], [2, 0, 1], [0, 1, 1, 3]), shape=(3, 3))
    assert isinstance(a, CSRNDArray) and isinstance(a, mx.nd.NDArray)
    assert a.stype == "csr" and a.dtype == np.float32 and a.shape == (3, 3)
    # MXNet 1.9.1: asnumpy() -> [[0,0,1],[0,0,0],[2,3,0]]
    np.testing.assert_array_equal(a.asnumpy(), [[0, 0, 1], [0, 0, 0], [2, 3, 0]])
    assert a.indptr.dtype == np.int64 and a.indices.dtype == np.int64
    assert a.indptr.asnumpy().tolist() == [0, 1, 1, 3]
    assert a.indices.asnumpy().tolist() == [2, 0, 1]
    assert a.data.asnumpy().tolist() == [1, 2, 3]
    assert type(a.data) is mx.nd.NDArray
    assert repr(a) == "\n<CSRNDArray 3x3 @cpu(0)>" == str(a)
    # Shape inferred as (len(indptr) - 1, max(indices) + 1); numpy data keeps its dtype.
    b = mx.nd.sparse.csr_matrix((np.array([1., 2.]), [0, 2], [0, 1, 1, 2]))
    assert b.shape == (3, 3) and b.dtype == np.float64
    c = mx.nd.sparse.csr_matrix(([1, 2], [0, 2], [0, 1, 1, 2]), dtype="float64")
    assert c.data.dtype == np.float64


def test_csr_from_dense_and_coo():
    d = np.array([[0, 1.5, 0, 0], [0, 0, 0, 0], [-2, 0, 0, 3]], dtype=np.float32)
    for src in (d, mx.nd.array(d), d.tolist()):
        a = mx.nd.sparse.csr_matrix(src)
        data, indices, indptr = _csr_ref(d)
        assert a.data.asnumpy().tolist() == data
        assert a.indices.asnumpy().tolist() == indices
        assert a.indptr.asnumpy().tolist() == indptr
    # MXNet: a dense int64 numpy array keeps its dtype.
    assert mx.nd.sparse.csr_matrix(np.array([[0, 1], [0, 0]])).dtype == np.int64
    # (data, (row, col)): duplicates summed, as scipy's coo -> csr (MXNet goes through scipy).
    a = mx.nd.sparse.csr_matrix(([1., 2., 4.], ([0, 2, 0], [1, 0, 1])), shape=(3, 3))
    np.testing.assert_array_equal(a.asnumpy(), [[0, 5, 0], [0, 0, 0], [2, 0, 0]])
    z = mx.nd.sparse.csr_matrix((2, 3))
    assert z.stype == "csr" and z.asnumpy().sum() == 0 and z.indptr.asnumpy().tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="Shape mismatch"):
        mx.nd.sparse.csr_matrix(d, shape=(4, 4))
    with pytest.raises(ValueError, match="RowSparseNDArray"):
        mx.nd.sparse.csr_matrix(mx.nd.sparse.zeros("row_sparse", (2, 2)))


def test_row_sparse_from_components_matches_mxnet():
    a = mx.nd.sparse.row_sparse_array(([[1, 2], [3, 4]], [1, 3]))
    # MXNet 1.9.1: shape inferred (4, 2) from the last index.
    assert a.shape == (4, 2) and isinstance(a, RowSparseNDArray) and a.stype == "row_sparse"
    np.testing.assert_array_equal(a.asnumpy(), [[0, 0], [1, 2], [0, 0], [3, 4]])
    b = mx.nd.sparse.row_sparse_array((np.array([[1, 2], [3, 4]]), [1, 3]), shape=(5, 2))
    assert b.dtype == np.int64 and b.indices.asnumpy().tolist() == [1, 3]
    assert b.data.asnumpy().tolist() == [[1, 2], [3, 4]]
    assert repr(b) == "\n<RowSparseNDArray 5x2 @cpu(0)>"
    z = mx.nd.sparse.row_sparse_array((2, 3))
    assert z.shape == (2, 3) and z.indices.shape == (0,) and z.data.shape == (0, 3)
    d = np.zeros((4, 2, 3), np.float32)
    d[2, 1, 0] = 7
    r = mx.nd.sparse.row_sparse_array(d)
    assert r.indices.asnumpy().tolist() == [2] and r.data.asnumpy().tolist() == [d[2].tolist()]
    assert mx.nd.sparse.row_sparse_array(np.array([[0, 1], [0, 0]])).indices.asnumpy().tolist() == [0]


@pytest.mark.parametrize("args, match", [
    (([1, 2, 3], [2, 1, 0], [0, 1, 1, 3]), "ascending"),         # unsorted within row 2
    (([1, 2, 3], [2, 1, 1], [0, 1, 1, 3]), "ascending"),         # duplicate column in row 2
    (([1, 2, 3], [2, 0, 5], [0, 1, 1, 3]), "column index 5"),
    (([1, 2, 3], [2, 0, 1], [0, 2, 1, 3]), "indptr"),
    (([1, 2, 3], [2, 0, 1], [1, 1, 1, 3]), "indptr"),
    (([1, 2], [0, 2], [0, 1, 2]), "indptr has 3 entries"),
    (([1, 2], [0, 1, 2], [0, 1, 1, 3]), "data has 2 values"),
])
def test_csr_components_are_validated(args, match):
    # MXNet 1.9.1 check_format: "Indices of csr NDArray should be non-negative, in ascending
    # order per row and less than the number of columns" / "IndPtr of csr NDArray should be ...".
    with pytest.raises(SparseFormatError, match=match) as e:
        mx.nd.sparse.csr_matrix(args, shape=(3, 3))
    assert isinstance(e.value, mx.MXNetError) and isinstance(e.value, ValueError)
    assert "csr_matrix" in str(e.value)


@pytest.mark.parametrize("indices, match", [([3, 1], "ascending"), ([1, 1], "ascending"),
                                            ([1, 7], "row index 7")])
def test_row_sparse_components_are_validated(indices, match):
    with pytest.raises(SparseFormatError, match=match):
        mx.nd.sparse.row_sparse_array(([[1, 2], [3, 4]], indices), shape=(5, 2))
    with pytest.raises(SparseFormatError, match="does not hold"):
        mx.nd.sparse.row_sparse_array(([[1, 2], [3, 4]], [1]), shape=(5, 2))
    with pytest.raises(ValueError, match="invalid shape"):
        mx.nd.sparse.csr_matrix(([1, 2], [0, 2], [0, 1, 1, 2]), shape=(3,))


def test_zeros_empty_array_and_storage_casts():
    for f in (lambda: mx.nd.sparse.zeros("csr", (2, 3)), lambda: mx.nd.zeros((2, 3), stype="csr"),
              lambda: mx.nd.sparse.empty("csr", (2, 3)), lambda: mx.nd.empty((2, 3), stype="csr")):
        z = f()
        assert type(z) is CSRNDArray and z.asnumpy().tolist() == [[0] * 3] * 2
    z = mx.nd.sparse.zeros("row_sparse", (1, 2), ctx=mx.cpu(), dtype="float16")
    assert type(z) is RowSparseNDArray and z.dtype == np.float16
    assert mx.nd.sparse.zeros("default", (2,)).stype == "default"
    with pytest.raises(mx.MXNetError, match="2-D"):
        mx.nd.sparse.zeros("csr", (2, 3, 4))
    with pytest.raises(ValueError, match="unknown storage type"):
        mx.nd.sparse.zeros("foo", (2, 2))
    with pytest.raises(ValueError, match="unknown stype"):
        mx.nd.sparse.empty("default", (2, 2))
    ones = mx.nd.ones((2, 3), stype="row_sparse")
    assert ones.stype == "row_sparse" and ones.asnumpy().sum() == 6
    d = mx.nd.array([[0, 1], [2, 0]])
    c = d.tostype("csr")
    assert type(c) is CSRNDArray and not c._same_memory(d)   # a copy, as MXNet's cast_storage
    dd = d.tostype("default")  # a copy too (MXNet 1.9.1)
    assert dd is not d and not dd._same_memory(d)
    assert type(c.tostype("default")) is mx.nd.NDArray
    assert type(mx.nd.cast_storage(d, stype="row_sparse")) is RowSparseNDArray
    assert type(mx.nd.sparse.cast_storage(c, stype="default")) is mx.nd.NDArray
    # MXNet 1.9.1 messages:
    with pytest.raises(ValueError, match="cast_storage from csr to row_sparse is not supported"):
        c.tostype("row_sparse")
    with pytest.raises(ValueError, match="cast_storage from row_sparse to csr is not supported"):
        ones.tostype("csr")
    with pytest.raises(ValueError, match="should be 2 Dimensional"):
        mx.nd.ones((2, 3, 4)).tostype("csr")
    assert mx.nd.ones((2, 3, 4)).tostype("row_sparse").indices.asnumpy().tolist() == [0, 1]
    # sparse.array / nd.array of a sparse source keep the storage type.
    s = mx.nd.sparse.array(c, dtype="float64")
    assert type(s) is CSRNDArray and s.dtype == np.float64
    assert type(mx.nd.array(ones)) is RowSparseNDArray
    with pytest.raises(AssertionError, match="tostype"):
        mx.nd.sparse.array(d)
    with pytest.raises(ValueError, match="mx.nd.array"):
        mx.nd.sparse.array(np.ones((2, 2)))


def test_copies_contexts_and_dtypes():
    a = mx.nd.sparse.csr_matrix(([1, 2, 3], [2, 0, 1], [0, 1, 1, 3]), shape=(3, 3))
    for b in (a.copy(), a.copyto(mx.cpu(0)), a.as_in_context(mx.cpu(1)), a.astype("int32")):
        assert type(b) is CSRNDArray and not b._same_memory(a)
        np.testing.assert_array_equal(b.asnumpy(), a.asnumpy())
    assert a.as_in_context(mx.cpu(1)).context == mx.cpu(1)
    assert a.astype("int32").dtype == np.int32 and a.astype("float32", copy=False) is a
    dense = mx.nd.zeros((3, 3))
    assert a.copyto(dense) is dense and dense.asnumpy().sum() == 6
    r = mx.nd.sparse.zeros("row_sparse", (3, 3))
    with pytest.raises(TypeError, match="destination NDArray stype row_sparse"):
        a.copyto(r)
    for x in (a, mx.nd.sparse.row_sparse_array(([[1, 2]], [1]), shape=(3, 2))):
        y = pickle.loads(pickle.dumps(x))
        assert type(y) is type(x)
        np.testing.assert_array_equal(y.asnumpy(), x.asnumpy())


def test_new_shares_memory_and_subclasses_run_every_op():
    d = mx.nd.array([[0, 1], [2, 0]])
    c = CSRNDArray(d)
    assert c._same_memory(d)
    d[0, 0] = 5
    assert c.asnumpy()[0, 0] == 5 and c.indices.asnumpy().tolist() == [0, 1, 0]
    with pytest.raises(TypeError, match="must be an NDArray"):
        mx.nd.NDArray(np.ones(2))
    # Storage fallback: generic ops see the dense values and return dense arrays.
    out = mx.nd.dot(c, mx.nd.ones((2, 3)))
    assert type(out) is mx.nd.NDArray
    np.testing.assert_array_equal(out.asnumpy(), [[6] * 3, [2] * 3])
    np.testing.assert_array_equal((c + 1).asnumpy(), [[6, 2], [3, 1]])
    assert type(c + 1) is mx.nd.NDArray
    # MXNet keeps csr for csr + csr, csr * scalar, -csr (observed).
    assert type(c + c) is CSRNDArray and type(c * 2) is CSRNDArray and type(2 * c) is CSRNDArray
    assert type(c / 2) is CSRNDArray and type(-c) is CSRNDArray
    assert type(c + mx.nd.ones((2, 2))) is mx.nd.NDArray
    with mx.autograd.record():
        pass
    x = mx.nd.sparse.csr_matrix(d.asnumpy())
    x.attach_grad()
    with mx.autograd.record():
        y = (x * x).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad.asnumpy(), 2 * d.asnumpy())


def test_csr_row_slicing_matches_mxnet():
    a = mx.nd.sparse.csr_matrix(([1, 2, 3], [2, 0, 1], [0, 1, 1, 3]), shape=(3, 3))
    # MXNet 1.9.1: a[1] -> [[0,0,0]], a[-1] -> [[2,3,0]], a[1:] -> [[0,0,0],[2,3,0]],
    # a[1:3].indptr -> [0,0,2]
    assert a[1].asnumpy().tolist() == [[0, 0, 0]] and type(a[1]) is CSRNDArray
    assert a[-1].asnumpy().tolist() == [[2, 3, 0]]
    assert a[1:].asnumpy().tolist() == [[0, 0, 0], [2, 3, 0]]
    assert a[1:3].indptr.asnumpy().tolist() == [0, 0, 2]
    assert a[:] is a
    assert type(mx.nd.sparse.slice(a, begin=(1,), end=(3,))) is CSRNDArray
    with pytest.raises(ValueError, match="continuous slicing"):
        a[::2]
    with pytest.raises(ValueError, match="Multi-dimension"):
        a[1, 2]
    with pytest.raises(IndexError):
        a[3]
    r = mx.nd.sparse.zeros("row_sparse", (2, 3))
    assert r[:] is r
    with pytest.raises(Exception, match="int key"):
        r[1]
    a[:] = mx.nd.ones((3, 3)) * 2
    assert a.asnumpy().sum() == 18
    with pytest.raises(ValueError, match="numeric"):
        a[:] = 1
    r[:] = 3
    assert r.asnumpy().sum() == 18
    with pytest.raises(Exception, match=r"only supports \[:\]"):
        a[1] = mx.nd.ones((1, 3))


def test_sparse_functions_match_mxnet():
    a = mx.nd.sparse.csr_matrix(([1, 2, 3], [2, 0, 1], [0, 1, 1, 3]), shape=(3, 3))
    r = mx.nd.sparse.row_sparse_array(([[1, 2], [3, 4]], [1, 3]), shape=(5, 2))
    # Values MXNet 1.9.1 printed:
    d = mx.nd.sparse.dot(a, mx.nd.ones((3, 2)))
    assert type(d) is mx.nd.NDArray and d.asnumpy().tolist() == [[1, 1], [0, 0], [5, 5]]
    dt = mx.nd.sparse.dot(a, mx.nd.ones((3, 2)), transpose_a=True)
    assert type(dt) is RowSparseNDArray and dt.asnumpy().tolist() == [[2, 2], [3, 3], [1, 1]]
    s = mx.nd.sparse.add(a, a)
    assert type(s) is CSRNDArray and s.asnumpy().tolist() == [[0, 0, 2], [0, 0, 0], [4, 6, 0]]
    m = mx.nd.sparse.multiply(a, a)
    assert type(m) is CSRNDArray and m.asnumpy().tolist() == [[0, 0, 1], [0, 0, 0], [4, 9, 0]]
    assert type(mx.nd.sparse.subtract(r, r)) is RowSparseNDArray
    assert type(mx.nd.sparse.divide(r, 2)) is RowSparseNDArray
    kept = mx.nd.sparse.retain(r, mx.nd.array([0, 3], dtype="int64"))
    # MXNet: only row 3 survives (row 0 is not stored).
    assert type(kept) is RowSparseNDArray and kept.indices.asnumpy().tolist() == [3]
    assert kept.asnumpy().tolist() == [[0, 0], [0, 0], [0, 0], [3, 4], [0, 0]]
    assert r.retain(mx.nd.array([1])).indices.asnumpy().tolist() == [1]
    with pytest.raises(mx.MXNetError, match="RowSparseNDArray"):
        mx.nd.sparse.retain(mx.nd.ones((2, 2)), mx.nd.array([0]))
    # MXNet's _square_sum(r, axis=1) -> [0, 5, 0, 25, 0]
    assert mx.nd.sparse.square_sum(r, axis=1).asnumpy().tolist() == [0, 5, 0, 25, 0]
    sq = mx.nd.sparse.sqrt(r)
    assert type(sq) is RowSparseNDArray
    np.testing.assert_allclose(sq.asnumpy(), np.sqrt(r.asnumpy()))
    assert type(mx.nd.sparse.exp(r)) is mx.nd.NDArray
    # MXNet 1.9.1 output storage types: clip and zeros_like keep csr; dense . csr is csr.
    assert type(mx.nd.sparse.clip(a, 0, 1)) is CSRNDArray
    assert type(mx.nd.sparse.zeros_like(r)) is RowSparseNDArray
    assert type(mx.nd.sparse.dot(mx.nd.ones((2, 3)), a)) is CSRNDArray
    assert type(mx.nd.sparse.elemwise_mul(a, mx.nd.ones((3, 3)))) is CSRNDArray
    assert type(mx.nd.sparse.add(a, mx.nd.ones((3, 3)))) is mx.nd.NDArray


def test_sparse_arithmetic_computes_only_the_stored_entries():
    # Values MXNet 1.9.1 printed: unstored entries stay 0 under / 0, * inf and * dense.
    a = np.array([[0., 0], [1, 0], [0, 2]])
    dense = mx.nd.array([[np.inf, np.nan], [2, 3], [4, np.inf]])
    nan, inf = np.nan, np.inf
    want = {
        "row_sparse": {"div0": [0, 0, inf, nan, nan, inf], "nan": [0, 0, nan, nan, nan, nan],
                       "dense": [0, 0, 2, 0, 0, inf]},
        "csr": {"div0": [0, 0, inf, 0, 0, inf], "nan": [0, 0, nan, 0, 0, nan],
                "dense": [0, 0, 2, 0, 0, inf]},
    }
    for stype, w in want.items():
        x = mx.nd.array(a).tostype(stype)
        cls = type(x)
        for got in (x / 0, mx.nd.sparse.divide(x, 0), x * inf):
            assert type(got) is cls
            np.testing.assert_array_equal(got.asnumpy().ravel(), w["div0"])
        np.testing.assert_array_equal((x * nan).asnumpy().ravel(), w["nan"])
        np.testing.assert_array_equal((nan * x).asnumpy().ravel(), w["nan"])
        for got in (x * dense, mx.nd.sparse.multiply(x, dense), mx.nd.sparse.multiply(dense, x)):
            assert type(got) is cls
            np.testing.assert_array_equal(got.asnumpy().ravel(), w["dense"])
        # Adding or subtracting 0 keeps the storage type; any other scalar gives a dense array.
        for got in (x + 0, 0 + x, x - 0.0):
            assert type(got) is cls and got.asnumpy().tolist() == a.tolist()
        assert type(x + 1) is mx.nd.NDArray and type(1 - x) is mx.nd.NDArray


def test_generic_operators_give_mxnet_output_storage_types():
    # mx.nd.X, NDArray methods and operators on sparse inputs: storage type and values as
    # MXNet 1.9.1 printed them (its FInferStorageType), not only the mx.nd.sparse functions.
    c = mx.nd.array([[0, 2, 0], [1, 0, 3]]).tostype("csr")
    r = mx.nd.array([[0, 2, 0], [0, 0, 0]]).tostype("row_sparse")
    v, d = mx.nd.array([[2, 0, 4]]), mx.nd.array([[1, 0, 2], [0, 1, 1]])
    col = mx.nd.array([[2], [0]])
    inf, nan = np.inf, np.nan
    nd, internal = mx.nd, mx.nd._internal
    cases = [
        (lambda: nd.abs(c), "csr", [[0, 2, 0], [1, 0, 3]]),
        (lambda: c.abs(), "csr", [[0, 2, 0], [1, 0, 3]]),
        (lambda: nd.op.sqrt(r), "row_sparse", [[0, 2 ** 0.5, 0], [0, 0, 0]]),
        (lambda: r.square(), "row_sparse", [[0, 4, 0], [0, 0, 0]]),
        (lambda: c.clip(-1, 1), "csr", [[0, 1, 0], [1, 0, 1]]),
        (lambda: nd.zeros_like(r), "row_sparse", [[0, 0, 0], [0, 0, 0]]),
        (lambda: nd.BlockGrad(r), "row_sparse", [[0, 2, 0], [0, 0, 0]]),
        (lambda: nd.exp(c), "default", np.exp([[0, 2, 0], [1, 0, 3]])),
        (lambda: nd.ones_like(r), "default", [[1, 1, 1], [1, 1, 1]]),
        (lambda: nd.elemwise_add(c, c), "csr", [[0, 4, 0], [2, 0, 6]]),
        (lambda: nd.elemwise_sub(r, r), "row_sparse", [[0, 0, 0], [0, 0, 0]]),
        (lambda: nd.elemwise_add(c, d), "default", [[1, 2, 2], [1, 1, 4]]),
        (lambda: nd.elemwise_mul(d, c), "csr", [[0, 0, 0], [0, 0, 3]]),
        (lambda: nd.elemwise_mul(r, d), "row_sparse", [[0, 0, 0], [0, 0, 0]]),
        (lambda: nd.elemwise_mul(c, r), "default", [[0, 4, 0], [0, 0, 0]]),
        (lambda: nd.elemwise_div(c, c), "default", [[nan, 1, nan], [1, nan, 1]]),
        (lambda: nd.broadcast_div(c, v), "csr", [[0, inf, 0], [0.5, 0, 0.75]]),
        (lambda: c / col, "csr", [[0, 1, 0], [inf, 0, inf]]),
        (lambda: c * v, "csr", [[0, 0, 0], [2, 0, 12]]),
        (lambda: nd.broadcast_mul(v, c), "default", [[0, 0, 0], [2, 0, 12]]),
        (lambda: d * r, "default", [[0, 0, 0], [0, 0, 0]]),
        (lambda: r / v, "default", [[0, inf, 0], [0, nan, 0]]),
        (lambda: nd.add_n(r, r, r), "row_sparse", [[0, 6, 0], [0, 0, 0]]),
        (lambda: nd.add_n(c, c), "default", [[0, 4, 0], [2, 0, 6]]),
        (lambda: nd.concat(c, c, dim=0), "csr", [[0, 2, 0], [1, 0, 3]] * 2),
        (lambda: nd.concat(c, c, dim=1), "default", [[0, 2, 0, 0, 2, 0], [1, 0, 3, 1, 0, 3]]),
        (lambda: nd.slice(c, begin=(0, 1), end=(2, 3)), "csr", [[2, 0], [0, 3]]),
        (lambda: c.slice(begin=(1,), end=(2,)), "csr", [[1, 0, 3]]),
        (lambda: nd.dot(c, d, transpose_a=True), "row_sparse", [[0, 1, 1], [2, 0, 4], [0, 3, 3]]),
        (lambda: nd.dot(d, c, transpose_b=True), "csr", [[0, 7], [2, 3]]),
        (lambda: nd.dot(c, d.T, forward_stype="row_sparse"), "row_sparse", [[0, 2], [7, 3]]),
        (lambda: internal._square_sum(r, axis=1, keepdims=True), "row_sparse", [[4], [0]]),
        (lambda: internal._scatter_plus_scalar(c, scalar=1.0), "csr", [[0, 3, 0], [2, 0, 4]]),
        (lambda: internal._scatter_minus_scalar(c, scalar=1.0), "csr", [[0, 1, 0], [0, 0, 2]]),
        (lambda: internal._div_scalar(r, scalar=0.0), "row_sparse", [[nan, inf, nan], [0, 0, 0]]),
        (lambda: r - 0, "row_sparse", [[0, 2, 0], [0, 0, 0]]),
        (lambda: 0 - c, "default", [[0, -2, 0], [-1, 0, -3]]),
        (lambda: c > 1, "csr", [[0, 1, 0], [0, 0, 1]]),
        (lambda: c == 0, "default", [[1, 0, 1], [0, 1, 0]]),
        (lambda: c ** 2, "default", [[0, 4, 0], [1, 0, 9]]),
        (lambda: -r, "row_sparse", [[0, -2, 0], [0, 0, 0]]),
    ]
    for i, (f, stype, want) in enumerate(cases):
        got = f()
        assert got.stype == stype, (i, got.stype, stype)
        np.testing.assert_array_equal(got.asnumpy(), np.array(want, dtype=np.float32), str(i))
    # Dense inputs are untouched by the storage rules, and `out=` is written as given.
    assert type(nd.abs(d)) is mx.nd.NDArray
    out = mx.nd.zeros((2, 3))
    assert nd.abs(c, out=out) is out and out.stype == "default"
    # A sign-less zero where nothing is stored, as MXNet prints it.
    assert not np.signbit((-r).asnumpy()[1]).any()


def test_attach_grad_keeps_the_gradient_storage_type():
    w = mx.nd.ones((4, 2))
    w.attach_grad(stype="row_sparse")
    with mx.autograd.record():
        y = mx.nd.Embedding(mx.nd.array([1, 3]), w, input_dim=4, output_dim=2, sparse_grad=True)
    y.backward()
    assert type(w.grad) is RowSparseNDArray
    assert w.grad.indices.asnumpy().tolist() == [1, 3]
    np.testing.assert_array_equal(w.grad.asnumpy(), [[0, 0], [1, 1], [0, 0], [1, 1]])
    c = mx.nd.array([[0, 1], [2, 0]]).tostype("csr")
    c.attach_grad()  # MXNet: zeros_like keeps csr
    assert type(c.grad) is CSRNDArray
    x = mx.nd.ones((2,))
    x.attach_grad()
    assert type(x.grad) is mx.nd.NDArray
    g = mx.nd.sparse.zeros("row_sparse", (2,))
    mx.autograd.mark_variables([x], [g])
    assert type(x.grad) is RowSparseNDArray


def test_lazy_updates_change_only_the_rows_a_row_sparse_gradient_stores():
    # MXNet 1.9.1: rows 0 and 2 (no gradient) keep their weight and state, with wd and momentum.
    g = mx.nd.array([[0., 0], [1, -2], [0, 0]]).tostype("row_sparse")
    w0 = np.array([[1., 2], [3, 4], [5, 6]])
    w, mom = mx.nd.array(w0), mx.nd.ones((3, 2))
    mx.nd.sgd_mom_update(w, g, mom, out=w, lr=0.1, wd=0.5, momentum=0.9)
    np.testing.assert_allclose(w.asnumpy(), [[1, 2], [3.65, 4.9], [5, 6]], rtol=1e-6)
    np.testing.assert_allclose(mom.asnumpy(), [[1, 1], [0.65, 0.9], [1, 1]], rtol=1e-6)
    w, mean, var = mx.nd.array(w0), mx.nd.zeros((3, 2)), mx.nd.zeros((3, 2))
    mx.nd.adam_update(w, g, mean, var, out=w, lr=0.1, wd=0.5)
    np.testing.assert_allclose(w.asnumpy(), [[1, 2], [2.68377018, 4], [5, 6]], rtol=1e-6)
    np.testing.assert_allclose(mean.asnumpy(), [[0, 0], [0.25, 0], [0, 0]], rtol=1e-6)
    # lazy_update=False, or a dense gradient, updates every row.
    w = mx.nd.array(w0)
    mx.nd.sgd_update(w, g, out=w, lr=0.1, wd=0.5, lazy_update=False)
    np.testing.assert_allclose(w.asnumpy(), w0 * 0.95 - 0.1 * g.asnumpy(), rtol=1e-6)
    w = mx.nd.array(w0)
    mx.nd.sgd_update(w, g.tostype("default"), out=w, lr=0.1, wd=0.5)
    np.testing.assert_allclose(w.asnumpy(), w0 * 0.95 - 0.1 * g.asnumpy(), rtol=1e-6)
    # The optimizers take the same path, also when the updater hands them lists of weights.
    for name, kw in (("sgd", {"momentum": 0.9}), ("sgd", {}), ("adam", {}), ("nag", {})):
        ws = [mx.nd.array(w0), mx.nd.array(w0)]
        up = mx.optimizer.get_updater(mx.optimizer.create(name, learning_rate=0.1, wd=0.5, **kw))
        up([0, 1], [g, g], ws)
        for x in ws:
            assert x.asnumpy()[[0, 2]].tolist() == w0[[0, 2]].tolist(), name
            assert (x.asnumpy()[1] != w0[1]).any(), name


def test_lazy_update_only_where_weight_and_states_share_a_storage_type():
    # MXNet 1.9.1 runs the lazy kernel only for a weight and states of one storage type; a
    # row_sparse weight with a dense momentum (or the reverse) takes the standard update.
    g = mx.nd.array([[1., 1], [0, 0]]).tostype("row_sparse")
    for wst, mst, lazy in (("row_sparse", "default", False), ("default", "row_sparse", False),
                           ("row_sparse", "row_sparse", True), ("default", "default", True)):
        w = mx.nd.array([[1., 1], [2, 2]]).tostype(wst)
        mom = mx.nd.ones((2, 2)).tostype(mst)
        w = mx.nd.sgd_mom_update(w, g, mom, lr=0.1, momentum=0.9)
        # MXNet's row 1: untouched when lazy, else momentum 1 -> 0.9 and weight 2 -> 2.9.
        want_w, want_m = ([2, 2], [1, 1]) if lazy else ([2.9, 2.9], [0.9, 0.9])
        np.testing.assert_allclose(w.asnumpy()[1], want_w, rtol=1e-6, err_msg=(wst, mst))
        np.testing.assert_allclose(mom.asnumpy()[1], want_m, rtol=1e-6, err_msg=(wst, mst))
        np.testing.assert_allclose(w.asnumpy()[0], [1.8, 1.8], rtol=1e-6)
    # ftrl is lazy only when weight, z and n are all row_sparse.
    w = mx.nd.array([[1., 1], [2, 2]]).tostype("row_sparse")
    out = mx.nd.ftrl_update(w, g, mx.nd.zeros((2, 2)), mx.nd.zeros((2, 2)), lr=0.1, lamda1=0.01)
    # Dense FTRL: a row without gradient and |z| <= lamda1 becomes 0 (lazily it would stay 2).
    np.testing.assert_array_equal(out.asnumpy()[1], [0, 0])


def test_grad_add_and_forced_dot_storage_as_mxnet():
    a = mx.nd.array([[1., 0], [0, 0]]).tostype("row_sparse")
    b = mx.nd.array([[0., 0], [0, 2]]).tostype("row_sparse")
    r = mx.nd._internal._grad_add(a, b)
    assert r.stype == "row_sparse" and r.asnumpy().tolist() == [[1, 0], [0, 2]]
    assert mx.nd._internal._grad_add(a, mx.nd.ones((2, 2))).stype == "default"
    x, y = mx.nd.array([[1., 0], [0, 2]]), mx.nd.array([[0., 3], [0, 0]])
    for want in ("csr", "row_sparse", "default"):
        r = mx.nd.dot(x, y, forward_stype=want)
        assert r.stype == want and r.asnumpy().tolist() == [[0, 3], [0, 0]]


# ----------------------------------------------------------------------------- files

# `mx.nd.save` of the two arrays above in MXNet 1.9.1 (also tests/data/golden/*.params).
MX_RSP_BYTES = bytes.fromhex(
    "120100000000000000000000000000000100000000000000c9fa93f9010000000200000002000000000000000200"
    "00000000000002000000050000000000000002000000000000000100000000000000000000000600000001000000"
    "02000000000000000000803f00000040000040400000804001000000000000000300000000000000000000000000"
    "0000")
MX_CSR_BYTES = bytes.fromhex(
    "120100000000000000000000000000000100000000000000c9fa93f9020000000100000002000000000000000200"
    "00000300000000000000030000000000000001000000000000000000000006000000010000000400000000000000"
    "060000000100000002000000000000000000803f0000004000000000000000000100000000000000010000000000"
    "00000200000000000000000000000000000002000000000000000000000000000000")
# MXNet 1.9.1: mx.nd.save(f, {'c64': csr (3,4) float64 data [1.5,-2,3] indices [1,0,2] indptr
# [0,1,1,3], 'r3': row_sparse (3,2,2) int32 rows {0,2} = arange(8)+1, 'rz': zeros row_sparse (4,2),
# 'cz': zeros csr (2,3) float16, 'dn': [1,2]}).
MX_DICT_BYTES = bytes.fromhex(
    "120100000000000000000000000000000500000000000000c9fa93f9020000000100000003000000000000000200"
    "00000300000000000000040000000000000001000000000000000100000006000000010000000400000000000000"
    "06000000010000000300000000000000000000000000f83f00000000000000c00000000000000840000000000000"
    "00000100000000000000010000000000000003000000000000000100000000000000000000000000000002000000"
    "00000000c9fa93f90100000003000000020000000000000002000000000000000200000000000000030000000300"
    "00000000000002000000000000000200000000000000010000000000000004000000060000000100000002000000"
    "00000000010000000200000003000000040000000500000006000000070000000800000000000000000000000200"
    "000000000000c9fa93f9010000000200000000000000000000000200000000000000020000000400000000000000"
    "020000000000000001000000000000000000000006000000010000000000000000000000c9fa93f9020000000100"
    "00000000000000000000020000000200000000000000030000000000000001000000000000000200000006000000"
    "01000000030000000000000006000000010000000000000000000000000000000000000000000000000000000000"
    "000000000000c9fa93f9000000000100000002000000000000000100000000000000000000000000803f00000040"
    "05000000000000000300000000000000633634020000000000000072330200000000000000727a02000000000000"
    "00637a0200000000000000646e")


def _mx_dict():
    return {
        "c64": mx.nd.sparse.csr_matrix(([1.5, -2, 3], [1, 0, 2], [0, 1, 1, 3]), shape=(3, 4),
                                       dtype="float64"),
        "r3": mx.nd.sparse.row_sparse_array((np.arange(8, dtype="int32").reshape(2, 2, 2) + 1, [0, 2]),
                                            shape=(3, 2, 2)),
        "rz": mx.nd.sparse.zeros("row_sparse", (4, 2)),
        "cz": mx.nd.sparse.zeros("csr", (2, 3), dtype="float16"),
        "dn": mx.nd.array([1, 2]),
    }


def test_save_writes_mxnet_sparse_records_byte_for_byte(tmp_path):
    rsp = mx.nd.sparse.row_sparse_array(([[1, 2], [3, 4]], [1, 3]), shape=(5, 2))
    csr = mx.nd.sparse.csr_matrix(([1, 2], [0, 2], [0, 1, 1, 2]), shape=(3, 3))
    p = str(tmp_path / "x.params")
    mx.nd.save(p, [rsp])
    assert open(p, "rb").read() == MX_RSP_BYTES == open(os.path.join(GOLD, "row_sparse.params"), "rb").read()
    mx.nd.save(p, csr)
    assert open(p, "rb").read() == MX_CSR_BYTES == open(os.path.join(GOLD, "csr.params"), "rb").read()
    mx.nd.save(p, _mx_dict())
    assert open(p, "rb").read() == MX_DICT_BYTES
    assert mx.nd.save("memory://sp.params", _mx_dict()) is None
    assert mx.nd.load("memory://sp.params")["c64"].stype == "csr"


def test_load_returns_sparse_classes_with_mxnet_components():
    back = mx.nd.load_frombuffer(MX_DICT_BYTES)
    assert list(back) == ["c64", "r3", "rz", "cz", "dn"]
    c = back["c64"]
    assert type(c) is CSRNDArray and c.dtype == np.float64 and c.shape == (3, 4)
    assert c.indptr.asnumpy().tolist() == [0, 1, 1, 3] and c.indices.asnumpy().tolist() == [1, 0, 2]
    assert c.data.asnumpy().tolist() == [1.5, -2, 3]
    r = back["r3"]
    assert type(r) is RowSparseNDArray and r.dtype == np.int32 and r.indices.asnumpy().tolist() == [0, 2]
    np.testing.assert_array_equal(r.data.asnumpy(), np.arange(8).reshape(2, 2, 2) + 1)
    assert type(back["rz"]) is RowSparseNDArray and back["rz"].asnumpy().sum() == 0
    assert type(back["cz"]) is CSRNDArray and back["cz"].dtype == np.float16
    assert type(back["dn"]) is mx.nd.NDArray
    [rsp] = mx.nd.load_frombuffer(MX_RSP_BYTES)
    assert type(rsp) is RowSparseNDArray
    np.testing.assert_array_equal(rsp.asnumpy(), [[0, 0], [1, 2], [0, 0], [3, 4], [0, 0]])
    [csr] = mx.nd.load(os.path.join(GOLD, "csr.params"))
    assert type(csr) is CSRNDArray and csr.asnumpy().tolist() == [[1, 0, 0], [0, 0, 0], [0, 0, 2]]


# Checked by hand with MXNet 1.9.1: a file saved here holding csr and row_sparse arrays of
# every dtype (random 6x5 / 3x2x5 values, as below) loads in MXNet with the same stypes, dtypes
# and values, passes MXNet's check_format(), and MXNet re-saves it byte for byte.
def test_sparse_save_round_trip_random(tmp_path):
    rng = np.random.default_rng(0)
    p = str(tmp_path / "r.params")
    for dt in ("float32", "float64", "float16", "int32", "int64", "uint8", "int8"):
        d = (rng.uniform(0, 1, (6, 5)) < 0.3) * rng.integers(1, 9, (6, 5))
        arrays = [mx.nd.array(d, dtype=dt).tostype("csr"), mx.nd.array(d, dtype=dt).tostype("row_sparse")]
        mx.nd.save(p, arrays)
        a, b = mx.nd.load(p)
        assert (type(a), type(b)) == (CSRNDArray, RowSparseNDArray)
        for x in (a, b):
            assert x.dtype == np.dtype(dt)
            np.testing.assert_array_equal(x.asnumpy(), d.astype(dt))
        data, indices, indptr = _csr_ref(d)
        assert a.indptr.asnumpy().tolist() == indptr and a.indices.asnumpy().tolist() == indices


def test_corrupt_sparse_records_still_fail_clearly():
    bad = bytearray(MX_CSR_BYTES)
    bad[0x9C] = 9    # the second column index (at 0x94 + 8) becomes 9 in a 3x3 matrix
    with pytest.raises(mx.MXNetError, match="column index 9 is out of range"):
        mx.nd.load_frombuffer(bytes(bad))
    with pytest.raises(mx.MXNetError, match="sparse indices"):
        mx.nd.load_frombuffer(MX_CSR_BYTES[:-12])


# ----------------------------------------------------------------------------- kvstore

def test_row_sparse_pull_matches_mxnet():
    kv = mx.kv.create("local")
    v = mx.nd.array(np.arange(12).reshape(4, 3)).tostype("row_sparse")
    kv.init("w", v)
    kv.init("d", mx.nd.ones((4, 3)))
    o = mx.nd.sparse.zeros("row_sparse", (4, 3))
    kv.row_sparse_pull("w", out=o, row_ids=mx.nd.array([2, 0, 2], dtype="int64"))
    # MXNet 1.9.1: [[0,1,2],[0,0,0],[6,7,8],[0,0,0]], indices [0, 2]
    assert o.asnumpy().tolist() == [[0, 1, 2], [0, 0, 0], [6, 7, 8], [0, 0, 0]]
    assert o.indices.asnumpy().tolist() == [0, 2]
    o1, o2 = mx.nd.sparse.zeros("row_sparse", (4, 3)), mx.nd.sparse.zeros("row_sparse", (4, 3))
    kv.row_sparse_pull("w", out=[o1, o2], row_ids=[mx.nd.array([1]), mx.nd.array([3])])
    assert o1.asnumpy().tolist() == [[0, 0, 0], [3, 4, 5], [0, 0, 0], [0, 0, 0]]
    assert o2.asnumpy().tolist() == [[0, 0, 0], [0, 0, 0], [0, 0, 0], [9, 10, 11]]
    kv.row_sparse_pull("w", out=[o1, o2], row_ids=mx.nd.array([0]))
    assert o1.asnumpy().tolist() == o2.asnumpy().tolist() == [[0, 1, 2]] + [[0, 0, 0]] * 3
    kv.row_sparse_pull(["w", "w"], out=[o1, o2], row_ids=[mx.nd.array([1]), mx.nd.array([2])])
    assert o2.asnumpy().tolist() == [[0, 0, 0], [0, 0, 0], [6, 7, 8], [0, 0, 0]]
    kv.row_sparse_pull("w", out=o1, row_ids=mx.nd.array([7], dtype="int64"))
    assert o1.asnumpy().sum() == 0  # MXNet: an id past the last row selects nothing
    kv.push("w", mx.nd.ones((4, 3)).tostype("row_sparse"))
    kv.row_sparse_pull("w", out=o1, row_ids=mx.nd.array([1], dtype="int64"))
    assert o1.asnumpy().tolist() == [[0, 0, 0], [1, 1, 1], [0, 0, 0], [0, 0, 0]]
    od = mx.nd.zeros((4, 3))
    kv.pull("w", out=od)
    assert od.asnumpy().sum() == 12
    # MXNet 1.9.1's errors:
    with pytest.raises(mx.MXNetError, match="Expected row_sparse storage type"):
        kv.row_sparse_pull("w", out=mx.nd.zeros((4, 3)), row_ids=mx.nd.array([0]))
    with pytest.raises(mx.MXNetError, match="PullRowSparse expects row_sparse src"):
        kv.row_sparse_pull("d", out=o, row_ids=mx.nd.array([1]))
    with pytest.raises(AssertionError):
        kv.row_sparse_pull("w", out=o1)
    with pytest.raises(AssertionError):
        kv.row_sparse_pull("w", row_ids=mx.nd.array([0]))
    with pytest.raises(AssertionError, match="number of row_ids"):
        kv.row_sparse_pull("w", out=[o1, o2], row_ids=[mx.nd.array([1])] * 3)
    with pytest.raises(mx.MXNetError, match="zz"):
        kv.row_sparse_pull("zz", out=o1, row_ids=mx.nd.array([1]))


def test_symbol_storage_type_attribute():
    x = mx.sym.var("x", stype="csr")
    # MXNet 1.9.1: {'x': {'__storage_type__': '2'}}
    assert x.attr_dict() == {"x": {"__storage_type__": "2"}}
    assert mx.sym.var("w", stype="row_sparse").attr("__storage_type__") == "1"


def test_row_sparse_pull_on_dist_stores():
    from test_kvstore_dist import _MISSING, assert_ok, launch
    if _MISSING:
        pytest.skip(_MISSING)
    for kind in ("dist_sync", "dist_async"):
        rc, out, _ = launch(2, "row_sparse_pull.py", kind)
        assert_ok(2, rc, out)


def test_kvstore_optimizer_updates_row_sparse_pushes_lazily():
    # MXNet 1.9.1, SGD(lr=0.1, momentum=0.9, wd=0.1), two pushes of a gradient storing row 1
    # (on 'device', each push is two such arrays): only row 1 changes.
    w = np.arange(12, dtype=np.float32).reshape(4, 3)
    g = mx.nd.array([[0, 0, 0], [1, 1, 1], [0, 0, 0], [0, 0, 0]]).tostype("row_sparse")
    for kind, row1 in (("local", [2.6243, 3.5954, 4.5665]), ("device", [2.3353, 3.3064, 4.2775])):
        kv = mx.kv.create(kind)
        kv.set_optimizer(mx.optimizer.SGD(learning_rate=0.1, momentum=0.9, wd=0.1))
        kv.init(0, mx.nd.array(w).tostype("row_sparse"))
        for _ in range(2):
            kv.push(0, [g, g] if kind == "device" else g)
        out = mx.nd.sparse.zeros("row_sparse", (4, 3))
        kv.row_sparse_pull(0, out=out, row_ids=mx.nd.arange(4, dtype="int64"))
        want = w.copy()
        want[1] = row1
        np.testing.assert_allclose(out.asnumpy(), want, rtol=1e-4)
        # A dense push of the same values updates every row (weight decay reaches row 0).
        kv.init(1, mx.nd.array(w))
        kv.push(1, g.tostype("default"))
        dense = mx.nd.zeros((4, 3))
        kv.pull(1, out=dense)
        assert dense.asnumpy()[0, 1] < 1.0


def test_simple_bind_gives_mxnet_argument_and_gradient_storage_types():
    # (argument stype, gradient stype) per argument, as MXNet 1.9.1's simple_bind made them.
    csr, w = mx.sym.var("data", stype="csr"), mx.sym.var("w", stype="row_sparse")
    dense = mx.sym.var("data")
    cases = [
        (mx.sym.sparse.dot(csr, w), {}, [("csr", "default"), ("row_sparse", "row_sparse")]),
        (mx.sym.sparse.dot(csr, w) + 1, {}, [("csr", "default"), ("row_sparse", "row_sparse")]),
        (mx.sym.dot(dense, w), {}, [("default", "default"), ("row_sparse", "default")]),
        (mx.sym.FullyConnected(dense, weight=w, num_hidden=2, no_bias=True), {"w": (2, 5)},
         [("default", "default"), ("row_sparse", "default")]),
        (mx.sym.Embedding(dense, input_dim=5, output_dim=3, sparse_grad=True, name="emb"),
         {"data": (4,)}, [("default", "default"), ("default", "row_sparse")]),
        (mx.sym.contrib.SparseEmbedding(dense, input_dim=5, output_dim=3, name="emb"),
         {"data": (4,)}, [("default", "default"), ("default", "row_sparse")]),
        (mx.sym.sparse.dot(dense, w), {"stype_dict": {"data": "csr"}},
         [("csr", "default"), ("row_sparse", "row_sparse")]),
    ]
    for i, (sym, kw, want) in enumerate(cases):
        shapes = {"data": (4, 5), "w": (5, 2)}
        shapes.update(kw)
        shapes = {k: v for k, v in shapes.items() if k in sym.list_arguments() or k == "stype_dict"}
        ex = sym.simple_bind(mx.cpu(), **shapes)
        got = [(a.stype, g.stype) for a, g in zip(ex.arg_arrays, ex.grad_arrays)]
        assert got == want, (i, got)
    # MXNet writes SparseEmbedding under its own op name.
    emb = mx.sym.contrib.SparseEmbedding(dense, input_dim=5, output_dim=3, name="emb")
    assert '"op": "_contrib_SparseEmbedding"' in emb.tojson()


def _sparse_linear_model(num_ctx, kvstore="local"):
    # A linear classifier on csr data with a row_sparse weight (MXNet's sparse tutorial).
    rs = np.random.RandomState(0)
    n, d = 60, 12
    x = rs.rand(n, d)
    x[x < 0.8] = 0
    x[:, :3] = 0  # features 0-2 never occur: their weight rows get no gradient at all
    y = (x.dot(rs.randn(d)) > 0).astype("float32")
    it = mx.io.NDArrayIter(mx.nd.array(x).tostype("csr"), mx.nd.array(y), batch_size=20)
    weight = mx.sym.var("weight", shape=(d, 2), stype="row_sparse")
    out = mx.sym.broadcast_add(mx.sym.sparse.dot(mx.sym.var("data", stype="csr"), weight),
                               mx.sym.var("bias", shape=(2,)))
    mod = mx.mod.Module(mx.sym.SoftmaxOutput(out, name="softmax"),
                        context=[mx.cpu(i) for i in range(num_ctx)])
    mod.bind(it.provide_data, it.provide_label)
    w0 = rs.randn(d, 2).astype("float32")
    mod.init_params(arg_params={"weight": mx.nd.array(w0).tostype("row_sparse"),
                                "bias": mx.nd.zeros(2)})
    mod.init_optimizer(kvstore=kvstore, optimizer="sgd",
                       optimizer_params={"learning_rate": 0.5, "momentum": 0.9, "wd": 0.1})
    for _ in range(2):
        it.reset()
        for batch in it:
            mod.forward_backward(batch)
            mod.update()
    return w0, mod


def test_module_trains_row_sparse_weights_with_lazy_updates():
    w0, mod = _sparse_linear_model(1)
    assert all(g[0].stype == "row_sparse" for g in mod._exec_group.grad_arrays[:1])
    args, _ = mod.get_params()
    w = args["weight"]
    assert type(w) is RowSparseNDArray
    # MXNet's lazy update: rows without gradient get neither weight decay nor momentum.
    np.testing.assert_array_equal(w.asnumpy()[:3], w0[:3])
    assert not np.allclose(w.asnumpy()[3:], w0[3:])
    # Two devices reduce through the store and update each copy lazily: the same weights
    # (MXNet gets them by updating in the store; a dense update there would decay rows 0-2).
    for kvstore in ("local", "device"):
        _, mod2 = _sparse_linear_model(2, kvstore)
        np.testing.assert_allclose(mod2.get_params()[0]["weight"].asnumpy(), w.asnumpy(),
                                   rtol=1e-5, atol=1e-6)


def test_ndarray_iter_gives_csr_batches():
    x = (np.arange(20).reshape(5, 4) % 3).astype(np.float32)
    c = mx.nd.array(x).tostype("csr")
    np.random.seed(3)
    it = mx.io.NDArrayIter(c, mx.nd.arange(5), batch_size=2, shuffle=True)
    np.random.seed(3)
    order = np.arange(5)
    np.random.shuffle(order)
    batches = list(it)
    assert [b.pad for b in batches] == [0, 0, 1]
    for i, b in enumerate(batches):
        assert b.data[0].stype == "csr"
        rows = [order[(2 * i + k) % 5] for k in range(2)]
        np.testing.assert_array_equal(b.data[0].asnumpy(), x[rows])
        np.testing.assert_array_equal(b.label[0].asnumpy(), rows)


# ----------------------------------------------------------------------------- MXNet's unit tests
# Behaviours MXNet 1.9.1's test_sparse_ndarray / test_sparse_operator rely on; expected values
# are what MXNet 1.9.1 printed for the same calls.

_A = np.array([[2, 0], [0, 0], [0, 4]], dtype=np.float32)
_B = np.array([[1, 0], [5, 0], [0, 2]], dtype=np.float32)


@pytest.mark.parametrize("stype, want", [
    ("csr", [[11, 0], [0, 0], [0, 13]]),
    ("row_sparse", [[11, 9], [0, 0], [9, 13]]),
])
def test_bound_scatter_op_computes_on_stored_entries_only(stype, want):
    s = mx.sym._internal._scatter_plus_scalar(mx.sym.Variable("lhs", stype=stype), scalar=9)
    exe = s.bind(mx.cpu(), args={"lhs": mx.nd.array(_A).tostype(stype)})
    out = exe.forward()[0]
    assert out.stype == stype
    np.testing.assert_array_equal(out.asnumpy(), want)
    # a second pass into the same output array gives the same answer
    np.testing.assert_array_equal(exe.forward()[0].asnumpy(), want)


def test_bound_outputs_take_mxnet_storage_types():
    x = mx.nd.array([[1, 0], [0, 0]]).tostype("row_sparse")
    d = mx.sym.Variable("d", stype="row_sparse")
    exe = mx.sym.sparse.negative(d).bind(mx.cpu(), args=[x])
    out = exe.forward()[0]
    assert isinstance(out, RowSparseNDArray)
    np.testing.assert_array_equal(out.asnumpy(), [[-1, 0], [0, 0]])
    dense = (mx.sym.Variable("a") + 1).bind(mx.cpu(), args=[mx.nd.ones((2, 2))])
    assert dense.forward()[0].stype == "default"


def test_scatter_elemwise_div_leaves_unstored_rows_zero():
    a, b = mx.nd.array(_A).tostype("row_sparse"), mx.nd.array(_B).tostype("row_sparse")
    out = mx.nd._internal._scatter_elemwise_div(a, b)
    assert out.stype == "row_sparse"
    np.testing.assert_array_equal(out.asnumpy(), [[2, np.nan], [0, 0], [np.nan, 2]])
    # csr operands fall back to the dense division, as in MXNet
    dense = mx.nd._internal._scatter_elemwise_div(mx.nd.array(_A).tostype("csr"),
                                                  mx.nd.array(_B).tostype("csr"))
    assert dense.stype == "default"
    np.testing.assert_array_equal(dense.asnumpy(), [[2, np.nan], [0, np.nan], [np.nan, 2]])
    # a row_sparse lhs keeps its rows whatever the rhs (MXNet 1.9.1 with a csr rhs too)
    mixed = mx.nd._internal._scatter_elemwise_div(a, mx.nd.array(_B).tostype("csr"))
    assert mixed.stype == "row_sparse"
    np.testing.assert_array_equal(mixed.asnumpy(), out.asnumpy())


def test_more_ops_keep_mxnet_storage_types():
    a, b = mx.nd.array(_A), mx.nd.array(_B)
    for op in (mx.nd._internal._maximum, mx.nd._internal._minimum, mx.nd._internal._hypot):
        for st in ("row_sparse", "csr"):
            assert op(a.tostype(st), b.tostype(st)).stype == st
        assert op(a.tostype("row_sparse"), b).stype == "default"
    c = a.tostype("csr")
    taken = mx.nd.take(c, mx.nd.array([2, 0]))
    assert isinstance(taken, CSRNDArray)
    np.testing.assert_array_equal(taken.indptr.asnumpy(), [0, 1, 2])
    assert mx.nd.take(c, mx.nd.array([2, 0]), mode="raise").stype == "default"
    assert mx.nd.contrib.quadratic(c, a=1, b=2, c=0.0).stype == "csr"
    assert mx.nd.contrib.quadratic(c, a=1, b=2, c=1.0).stype == "default"
    assert mx.nd.contrib.quadratic(a.tostype("row_sparse"), c=0.0).stype == "default"


def test_broadcast_to_same_shape_is_a_new_dense_array():
    x = mx.nd.ones((2, 3))
    y = x.broadcast_to((2, 3))
    assert y is not x
    y[:] = 7
    np.testing.assert_array_equal(x.asnumpy(), np.ones((2, 3)))
    c = mx.nd.array(_A).tostype("csr").broadcast_to((3, 2))
    assert type(c) is mx.nd.NDArray


def test_symbolic_retain_and_its_gradient():
    data = np.arange(8, dtype=np.float32).reshape(4, 2)
    s = mx.sym.sparse.retain(mx.sym.Variable("data"), mx.sym.Variable("indices"))
    grad = mx.nd.zeros((4, 2))
    exe = s.bind(mx.cpu(), args={"data": mx.nd.array(data), "indices": mx.nd.array([3, 0])},
                 args_grad={"data": grad}, grad_req={"data": "write", "indices": "null"})
    out = exe.forward(is_train=True)[0]
    np.testing.assert_array_equal(out.asnumpy(), [[0, 1], [0, 0], [0, 0], [6, 7]])
    exe.backward(mx.nd.ones((4, 2)))
    np.testing.assert_array_equal(grad.asnumpy(), [[1, 1], [0, 0], [0, 0], [1, 1]])
    bad = s.bind(mx.cpu(), args={"data": mx.nd.array(data), "indices": mx.nd.array([4])})
    with pytest.raises(mx.base.MXNetError, match="row index 4 is out of range"):
        bad.forward()[0].asnumpy()
    with pytest.raises(mx.base.MXNetError):
        mx.nd.sparse.retain(mx.nd.array(data).tostype("row_sparse"), invalid_arg=1)


@pytest.mark.parametrize("lhs, rhs, fs, ta, want", [
    ("default", "csr", "csr", False, "csr"),
    ("csr", "default", "row_sparse", False, "row_sparse"),
    ("csr", "default", None, True, "row_sparse"),
    ("default", "default", "csr", False, "csr"),
])
def test_symbolic_dot_with_forward_stype(lhs, rhs, fs, ta, want):
    rng = np.random.RandomState(0)
    a = rng.uniform(size=(3, 3)).astype(np.float32) * (rng.uniform(size=(3, 3)) > 0.5)
    b = rng.uniform(size=(3, 3)).astype(np.float32) * (rng.uniform(size=(3, 3)) > 0.5)
    kw = {} if fs is None else {"forward_stype": fs}
    s = mx.sym.sparse.dot(mx.sym.Variable("a", stype=lhs), mx.sym.Variable("b", stype=rhs),
                          transpose_a=ta, **kw)
    exe = s.bind(mx.cpu(), args={"a": mx.nd.array(a).tostype(lhs), "b": mx.nd.array(b).tostype(rhs)})
    out = exe.forward()[0]
    assert out.stype == want
    np.testing.assert_allclose(out.asnumpy(), (a.T if ta else a) @ b, rtol=1e-6)
    with pytest.raises(NotImplementedError, match="forward_stype"):
        mx.sym.batch_dot(mx.sym.Variable("x"), mx.sym.Variable("y"), forward_stype="csr") \
            .simple_bind(mx.cpu(), x=(1, 2, 2), y=(1, 2, 2))


def test_sparse_embedding_takes_deterministic():
    w = mx.sym.Variable("w", stype="row_sparse")
    s = mx.sym.contrib.SparseEmbedding(data=mx.sym.Variable("data"), weight=w, input_dim=5,
                                       output_dim=2, deterministic=True)
    exe = s.simple_bind(mx.cpu(), data=(3,))
    assert exe.grad_dict["w"].stype == "row_sparse"
    exe.arg_dict["w"][:] = np.arange(10, dtype=np.float32).reshape(5, 2)
    exe.arg_dict["data"][:] = [4, 0, 4]
    np.testing.assert_array_equal(exe.forward(is_train=True)[0].asnumpy(),
                                  [[8, 9], [0, 1], [8, 9]])
    exe.backward(mx.nd.ones((3, 2)))
    np.testing.assert_array_equal(exe.grad_dict["w"].asnumpy()[:, 0], [1, 0, 0, 0, 2])


def test_context_default_ctx_is_mxnets_deprecated_alias():
    with pytest.warns(DeprecationWarning):
        assert mx.Context.default_ctx == mx.cpu(0)
    with mx.cpu(1):
        with pytest.warns(DeprecationWarning):
            assert mx.Context.default_ctx == mx.cpu(1)
            assert mx.cpu(3).default_ctx == mx.cpu(1)


def test_check_symbolic_helpers_bind_given_arrays_and_return_ndarrays():
    from oxnet.test_utils import check_symbolic_backward, check_symbolic_forward
    s = mx.sym.sparse.elemwise_add(mx.sym.Variable("a", stype="row_sparse"),
                                   mx.sym.Variable("b", stype="row_sparse"))
    x = mx.nd.array([[1, 0], [0, 0]]).tostype("row_sparse")
    outs = check_symbolic_forward(s, {"a": x, "b": x}, [x.asnumpy() * 2])
    assert isinstance(outs[0], RowSparseNDArray)
    grads = check_symbolic_backward(s, {"a": x, "b": x}, [np.ones((2, 2))],
                                    [np.ones((2, 2))] * 2,
                                    grad_stypes={"a": "row_sparse", "b": "default"})
    assert isinstance(grads["a"], RowSparseNDArray) and grads["b"].stype == "default"
    np.testing.assert_array_equal(grads["b"].asnumpy(), np.ones((2, 2)))
    # As a list, in argument order (MXNet's unit tests pass them so).
    grads = check_symbolic_backward(s, [x, x], [np.ones((2, 2))], [np.ones((2, 2))] * 2,
                                    grad_stypes=["default", "row_sparse"])
    assert grads["a"].stype == "default" and isinstance(grads["b"], RowSparseNDArray)


def test_lazy_update_writes_back_only_the_stored_rows_in_place():
    # MXNet's lazy SGD with momentum on a row_sparse gradient: rows the gradient does not
    # store keep their weight and momentum; the arrays are updated in place.
    rng = np.random.RandomState(0)
    w0, m0 = rng.uniform(-1, 1, (6, 3)).astype(np.float32), rng.uniform(-1, 1, (6, 3)).astype(np.float32)
    g = np.zeros((6, 3), np.float32)
    g[[1, 4]] = rng.uniform(-1, 1, (2, 3))
    w, m = mx.nd.array(w0), mx.nd.array(m0)
    grad = mx.nd.array(g).tostype("row_sparse")
    np.testing.assert_array_equal(grad.indices.asnumpy(), [1, 4])
    mx.nd.sgd_mom_update(w, grad, m, lr=0.1, momentum=0.9, wd=0.01, out=w)
    want_m = m0.copy()
    want_m[[1, 4]] = 0.9 * m0[[1, 4]] - 0.1 * (g[[1, 4]] + 0.01 * w0[[1, 4]])
    want_w = w0.copy()
    want_w[[1, 4]] = w0[[1, 4]] + want_m[[1, 4]]
    np.testing.assert_allclose(m.asnumpy(), want_m, rtol=1e-6)
    np.testing.assert_allclose(w.asnumpy(), want_w, rtol=1e-6)
    d = mx.nd.zeros((4, 2))
    mx.nd._internal._set_rows(d, mx.nd.array([3, -4]), mx.nd.array([[1, 2], [3, 4]]))
    np.testing.assert_array_equal(d.asnumpy(), [[3, 4], [0, 0], [0, 0], [1, 2]])
    with pytest.raises(mx.base.MXNetError, match="out of bounds"):
        mx.nd._internal._set_rows(d, mx.nd.array([4]), mx.nd.ones((1, 2)))
        d.asnumpy()


def test_square_sum_gradient_of_a_row_sparse_weight_is_row_sparse():
    # MXNet 1.9.1's factorization machine (example/sparse/factorization_machine): the
    # gradient of a row_sparse `v` through `_square_sum` is row_sparse, so a lazy update
    # leaves the rows without gradient alone (MXNet: row 1 stays [0.155 0.378]).
    rs = np.random.RandomState(0)
    F, K, B = 6, 2, 3
    x_np = ((rs.uniform(size=(B, F)) < 0.5) * rs.uniform(size=(B, F))).astype("float32")
    x_np[:, 1] = 0
    v_np = rs.normal(0, 1, (F, K)).astype("float32")
    x = mx.sym.Variable("data", stype="csr")
    v = mx.sym.Variable("v", shape=(F, K), stype="row_sparse")
    v_s = mx.sym._internal._square_sum(data=v, axis=1, keepdims=True)
    net = mx.sym.MakeLoss(mx.sym.sum(mx.sym.dot(mx.sym.square(data=x), v_s)))
    ex = net.simple_bind(mx.cpu(), data=(B, F), v=(F, K),
                         stype_dict={"data": "csr", "v": "row_sparse"},
                         grad_req={"data": "null", "v": "write"})
    ex.arg_dict["data"][:] = mx.nd.array(x_np).tostype("csr")
    ex.arg_dict["v"][:] = mx.nd.array(v_np).tostype("row_sparse")
    ex.forward(is_train=True)
    ex.backward()
    g = ex.grad_dict["v"]
    assert g.stype == "row_sparse"
    want = 2 * v_np * (x_np ** 2).sum(0)[:, None]
    np.testing.assert_allclose(g.asnumpy(), want, rtol=1e-5)
    assert 1 not in g.indices.asnumpy().tolist()
    w = ex.arg_dict["v"].copy()
    mom = mx.nd.zeros(w.shape).tostype("row_sparse")
    mx.nd.sgd_mom_update(w, g, mom, out=w, lr=0.1, momentum=0.9, wd=0.5, lazy_update=True)
    np.testing.assert_array_equal(w.asnumpy()[1], v_np[1])
    assert not np.allclose(w.asnumpy()[0], v_np[0])


def test_whole_assignment_of_a_sparse_array_needs_its_shape():
    # MXNet 1.9.1's sparse x[:] = v is a copy: another shape is an MXNetError, no broadcast.
    for stype in ("csr", "row_sparse"):
        x = mx.nd.zeros((2, 2)).tostype(stype)
        for shape in ((1, 2), (2,), (3, 2)):
            with pytest.raises(mx.base.MXNetError, match="shape"):
                x[:] = mx.nd.ones(shape)
        with pytest.raises(mx.base.MXNetError, match="shape mismatch"):
            x.copyto(mx.nd.zeros((1, 2)))
        x[:] = np.array([[0., 1], [2, 0]])
        assert x.stype == stype and x.asnumpy().tolist() == [[0, 1], [2, 0]]


# MXNet 1.9.1's `a - a` of a csr keeps the stored entries (with stale column indices) and an
# indptr of zeros; its mx.nd.save writes that, and its mx.nd.load gives the zero matrix.
MX_STALE_CSR_BYTES = bytes.fromhex(
    "120100000000000000000000000000000100000000000000c9fa93f902000000010000000300000000000000"
    "0200000002000000000000000200000000000000010000000000000000000000060000000100000003000000"
    "0000000006000000010000000300000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000010000000a000000010000000a00000000000000000000000000000000000000")


def test_load_takes_csr_entries_past_the_end_of_indptr_as_unused(tmp_path):
    path = tmp_path / "stale.params"
    path.write_bytes(MX_STALE_CSR_BYTES)
    (a,) = mx.nd.load(str(path))
    assert a.stype == "csr" and a.asnumpy().tolist() == [[0, 0], [0, 0]]


def test_csr_slice_with_a_step_and_dot_of_3d_data_are_dense():
    # MXNet 1.9.1's csr slice has no step (a dense result), and its dense . csr gives a csr
    # only for a matrix; oxnet computes the 3-D product densely where MXNet refuses it.
    c = mx.nd.array([[1., 0], [0, 2]]).tostype("csr")
    r = mx.nd.slice(c, begin=(0, 0), end=(2, 2), step=(1, 2))
    assert r.stype == "default" and r.asnumpy().tolist() == [[1], [0]]
    assert mx.nd.slice(c, begin=(0, 0), end=(1, 2)).stype == "csr"
    r = mx.nd.dot(mx.nd.ones((2, 2, 2)), c)
    assert r.stype == "default" and r.shape == (2, 2, 2)
    np.testing.assert_array_equal(r.asnumpy(), np.ones((2, 2, 2)).dot(c.asnumpy()))
