"""KVStore.row_sparse_pull on a dist store: each rank pulls rows {2, rank} of a row_sparse value;
lazy optimizer updates of row_sparse pushes.

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
# Row_sparse pushes are updated lazily: rows 0, 2, 3 keep their values (no weight decay or
# momentum). dist_sync sums the two workers' pushes of row 1 (MXNet 1.9.1's numbers for two
# rounds); dist_async applies each push as it arrives.
kv.set_optimizer(mx.optimizer.SGD(learning_rate=0.1, momentum=0.9, wd=0.1))
kv.init("lazy", mx.nd.array(w).tostype("row_sparse"))
g = mx.nd.array([[0, 0, 0], [1, 1, 1], [0, 0, 0], [0, 0, 0]]).tostype("row_sparse")
for _ in range(2):
    kv.push("lazy", g)
got = mx.nd.zeros((4, 3))
kv.pull("lazy", out=got)
got = got.asnumpy()
np.testing.assert_array_equal(got[[0, 2, 3]], w[[0, 2, 3]])
if sys.argv[1] == "dist_sync":
    np.testing.assert_allclose(got[1], [2.3353, 3.3064, 4.2775], rtol=1e-4)
else:
    assert (got[1] < w[1]).all(), got[1]
print("OK rank %d" % r, flush=True)
