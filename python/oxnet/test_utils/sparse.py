"""Random sparse test arrays of ``mx.test_utils`` (MXNet 1.9.1): ``rand_sparse_ndarray``,
``create_sparse_array(_zd)`` and ``shuffle_csr_column_indices``.

Values are drawn from numpy's global generator. A 'uniform' csr array has exactly
``int(round(rows * cols * density))`` nonzeros at distinct random places with values uniform in
[0, 1) (what MXNet gets from ``scipy.sparse.rand``; scipy is not needed here). A 'powerlaw' csr
array fills row i with about 2**i nonzeros (column 0 of every row first), values in
[1.001, 3). A row_sparse array keeps each row with probability ``density``, values uniform in
[0, 1)."""
import numpy as np

from .. import ndarray as nd
from .compare import default_dtype

__all__ = ["rand_sparse_ndarray", "create_sparse_array", "create_sparse_array_zd",
           "shuffle_csr_column_indices"]


def _check_csr_inputs(num_rows, num_cols, density, distribution):
    if not 0 <= density <= 1:
        raise ValueError("rand_sparse_ndarray: density must be in [0, 1], got %r" % (density,))
    if num_rows <= 0 or num_cols <= 0:
        raise ValueError("rand_sparse_ndarray: a csr shape needs rows and columns > 0, got "
                         "(%d, %d)" % (num_rows, num_cols))
    if distribution == "powerlaw" and int(num_rows * num_cols * density) < 2 * num_rows:
        raise ValueError("rand_sparse_ndarray: powerlaw needs rows * cols * density >= 2 * rows; "
                         "density %s is too low for shape (%d, %d)"
                         % (density, num_rows, num_cols))


def shuffle_csr_column_indices(csr):
    """Shuffles, in place, the column indices within each row of a csr matrix whose
    ``indptr``/``indices`` are numpy arrays (a scipy.sparse csr_matrix); a valid CSR need not
    keep them sorted. An oxnet CSRNDArray always lists them sorted, so it is refused."""
    if isinstance(csr, nd.NDArray):
        raise TypeError("shuffle_csr_column_indices: an oxnet CSRNDArray keeps its column "
                        "indices sorted and cannot be reordered; pass a scipy.sparse csr_matrix")
    indptr, indices = np.asarray(csr.indptr), csr.indices
    for start, end in zip(indptr[:-1], indptr[1:]):
        sub = np.array(indices[start:end])
        np.random.shuffle(sub)
        indices[start:end] = sub


def _uniform_csr(num_rows, num_cols, density, dtype, data_init, ctx):
    _check_csr_inputs(num_rows, num_cols, density, "uniform")
    nnz = int(round(num_rows * num_cols * density))
    flat = np.random.choice(num_rows * num_cols, size=nnz, replace=False)
    dense = np.zeros(num_rows * num_cols, dtype=dtype)
    dense[flat] = np.random.uniform(size=nnz) if data_init is None else data_init
    return nd.array(dense.reshape(num_rows, num_cols), ctx=ctx, dtype=dtype).tostype("csr")


def _powerlaw_csr(num_rows, num_cols, density, dtype, ctx):
    _check_csr_inputs(num_rows, num_cols, density, "powerlaw")
    left = int(num_rows * num_cols * density)
    out = np.zeros((num_rows, num_cols), dtype=dtype)

    def done():
        return nd.array(out, ctx=ctx, dtype=dtype).tostype("csr")

    # Column 0 of every row first, so that no row is empty.
    for row in range(num_rows):
        out[row, 0] = 1 + np.random.uniform(0.001, 2)
        left -= 1
        if left <= 0:
            return done()
    # Then row i gets columns 1 .. 2**(i+1)-1; once that reaches the width, whole rows (one
    # value each) until the budget is spent.
    col_max = 2
    for row in range(num_rows):
        limit = min(num_cols, col_max)
        if limit == num_cols and left > limit:
            out[row] = 1 + np.random.uniform(0.001, 2)
            left -= limit - 1
            if left <= 0:
                return done()
            continue
        for col in range(1, limit):
            out[row, col] = 1 + np.random.uniform(0.001, 2)
            left -= 1
            if left <= 0:
                return done()
        col_max *= 2
    if left > 0:
        raise ValueError("rand_sparse_ndarray: powerlaw cannot place density %s in shape (%d, %d)"
                         % (density, num_rows, num_cols))
    return done()


def rand_sparse_ndarray(shape, stype, density=None, dtype=None, distribution=None,
                        data_init=None, rsp_indices=None, modifier_func=None,
                        shuffle_csr_indices=False, ctx=None):
    """A random sparse array and its parts: ``(arr, (values, row_indices))`` (numpy) for
    'row_sparse', ``(arr, (indptr, indices, data))`` (NDArrays) for 'csr'. ``density`` is
    random when None; ``data_init`` sets every stored value; ``rsp_indices`` picks the
    stored rows; ``modifier_func`` maps each row_sparse value. ``shuffle_csr_indices`` is
    accepted but changes nothing, as an oxnet CSRNDArray keeps its indices sorted."""
    from .generate import assign_each, default_context
    ctx = ctx if ctx else default_context()
    density = np.random.rand() if density is None else density
    dtype = default_dtype() if dtype is None else dtype
    distribution = "uniform" if distribution is None else distribution
    shape = tuple(shape)
    if stype == "row_sparse":
        if distribution != "uniform":
            raise ValueError("rand_sparse_ndarray: distribution %r is not supported for "
                             "row_sparse (only 'uniform')" % (distribution,))
        if rsp_indices is not None:
            indices = np.asarray(rsp_indices)
            if len(indices) > shape[0]:
                raise ValueError("rand_sparse_ndarray: %d rsp_indices for %d rows"
                                 % (len(indices), shape[0]))
        else:
            indices = np.argwhere(np.random.rand(shape[0]) < density).flatten()
        if indices.shape[0] == 0:
            empty = nd.sparse.zeros("row_sparse", shape, ctx=ctx, dtype=dtype)
            return empty, (np.array([], dtype=dtype), np.array([]))
        val = np.random.rand(indices.shape[0], *shape[1:]).astype(dtype)
        if data_init is not None:
            val.fill(data_init)
        if modifier_func is not None:
            val = assign_each(val, modifier_func)
        arr = nd.sparse.row_sparse_array((val, indices), shape=shape, dtype=dtype, ctx=ctx)
        return arr, (val, indices)
    if stype == "csr":
        if len(shape) != 2:
            raise ValueError("rand_sparse_ndarray: a csr array must be 2-D, got shape %s"
                             % (shape,))
        if distribution == "uniform":
            csr = _uniform_csr(shape[0], shape[1], density, dtype, data_init, ctx)
        elif distribution == "powerlaw":
            csr = _powerlaw_csr(shape[0], shape[1], density, dtype, ctx)
        else:
            raise ValueError("rand_sparse_ndarray: unknown distribution %r (use 'uniform' or "
                             "'powerlaw')" % (distribution,))
        return csr, (csr.indptr, csr.indices, csr.data)
    raise ValueError("rand_sparse_ndarray: unknown stype %r (use 'csr' or 'row_sparse')"
                     % (stype,))


def create_sparse_array(shape, stype, data_init=None, rsp_indices=None, dtype=None,
                        modifier_func=None, density=.5, shuffle_csr_indices=False):
    """A random sparse array (``rand_sparse_ndarray`` without the parts); ``rsp_indices``
    are sorted first."""
    if stype == "row_sparse":
        idx = None if rsp_indices is None else np.sort(np.asarray(rsp_indices))
        arr, _ = rand_sparse_ndarray(shape, stype, density=density, data_init=data_init,
                                     rsp_indices=idx, dtype=dtype, modifier_func=modifier_func)
    elif stype == "csr":
        arr, _ = rand_sparse_ndarray(shape, stype, density=density, data_init=data_init,
                                     dtype=dtype, modifier_func=modifier_func,
                                     shuffle_csr_indices=shuffle_csr_indices)
    else:
        raise AssertionError("create_sparse_array: unknown storage type %r" % (stype,))
    return arr


def create_sparse_array_zd(shape, stype, density, data_init=None, rsp_indices=None, dtype=None,
                           modifier_func=None, shuffle_csr_indices=False):
    """``create_sparse_array`` where a row_sparse array holds exactly ``rsp_indices`` rows
    (density is ignored for it)."""
    if stype == "row_sparse":
        density = 0.0
        if rsp_indices is not None and len(rsp_indices) > shape[0]:
            raise ValueError("create_sparse_array_zd: %d rsp_indices for %d rows"
                             % (len(rsp_indices), shape[0]))
    return create_sparse_array(shape, stype, data_init=data_init, rsp_indices=rsp_indices,
                               dtype=dtype, modifier_func=modifier_func, density=density,
                               shuffle_csr_indices=shuffle_csr_indices)
