"""dist_async: workers never wait for each other. Rank r pushes 5*(r+1) times with its own
pace (rank 0, the server, finishes first and must keep serving until the others leave); the
final value, read after a barrier, counts every push."""
import time

import numpy as np

import oxnet as mx
from _common import create

kv = create("dist_async")
n, r = kv.num_workers, kv.rank
kv.init("w", mx.nd.zeros((1000,)))
kv.set_optimizer(mx.optimizer.SGD(learning_rate=1.0, rescale_grad=1.0))
out = mx.nd.zeros((1000,))
for i in range(5 * (r + 1)):
    kv.push("w", mx.nd.ones((1000,)) * (r + 1))
    kv.pull("w", out=out)
    time.sleep(0.01 * r)
kv.barrier()
kv.pull("w", out=out)
want = -sum(5 * (q + 1) * (q + 1) for q in range(n))
np.testing.assert_allclose(out.asnumpy(), np.full(1000, want))
kv.barrier()  # every rank has read the total before the pushes below change it
if r == 0:
    print("OK rank 0 of %d: %g (rank 0 leaves first, its server keeps serving)" % (n, want), flush=True)
else:
    kv.push("w", mx.nd.ones((1000,)))          # after rank 0 has left its script
    print("OK rank %d of %d" % (r, n), flush=True)
