"""KVStore.row_sparse_pull on a dist store: each rank pulls rows {2, rank} of a row_sparse value.

usage: row_sparse_pull.py dist_sync|dist_async"""
import sys

import numpy as np

import oxnet as mx
from _common import create

kv = create(sys.argv[1])
r = kv.rank
w = np.arange(12, dtype=np.float32).reshape(4, 3)
kv.init("w", mx.nd.array(w).tostype("row_sparse"))
out = mx.nd.sparse.zeros("row_sparse", (4, 3))
kv.row_sparse_pull("w", out=out, row_ids=mx.nd.array([2, r], dtype="int64"))
expected = np.zeros_like(w)
expected[[2, r]] = w[[2, r]]
np.testing.assert_array_equal(out.asnumpy(), expected)
assert out.indices.asnumpy().tolist() == sorted({2, r})
kv.init("d", mx.nd.ones((2, 2)))
try:
    kv.row_sparse_pull("d", out=mx.nd.sparse.zeros("row_sparse", (2, 2)), row_ids=mx.nd.array([0]))
    raise AssertionError("row_sparse_pull of a dense value did not raise")
except mx.MXNetError as e:
    assert "PullRowSparse expects row_sparse src" in str(e), e
print("OK rank %d" % r, flush=True)
