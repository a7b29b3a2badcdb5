"""2-bit gradient compression on a dist store (MXNet's dist_sync_kvstore.py compressed_cpu
checks): each worker's pushes leave its residual; the store sums what the workers sent.

usage: compression.py dist_sync|dist_device_sync|dist_async"""
import sys

import numpy as np

import oxnet as mx
from _common import create

name = sys.argv[1]
kv = create(name)
n, r = kv.num_workers, kv.rank
t, rate, shape = 0.5, 2.0, (3, 4)
kv.set_gradient_compression({"type": "2bit", "threshold": t})
kv.set_optimizer(mx.optimizer.create("test", rescale_grad=rate))
kv.init("k", mx.nd.zeros(shape))
kv.init("init_not_compressed", mx.nd.ones(shape))


def pulled(key):
    # dist_async applies pushes on arrival: barriers keep every rank's pull between rounds.
    if "async" in name:
        mx.nd.waitall()
        kv._barrier()
    out = mx.nd.zeros(shape)
    kv.pull(key, out=out)
    out = out.asnumpy()
    if "async" in name:
        kv._barrier()
    return out


np.testing.assert_array_equal(pulled("init_not_compressed"), np.ones(shape))
# The 'test' optimizer adds rescale_grad * grad: below the threshold nothing is sent.
expected = 0.0
for g, sends in ((0.4, False), (0.1, True), (0.2, False), (0.3, True), (-0.6, False)):
    kv.push("k", mx.nd.ones(shape) * g)
    # (0.4) residual 0.4; (0.1) 0.5 -> send t; (0.2) 0.2; (0.3) 0.5 -> send t; (-0.6) -0.6 ->
    # send -t, residual -0.1.
    if g < 0:
        expected -= t * rate * n
    elif sends:
        expected += t * rate * n
    np.testing.assert_allclose(pulled("k"), np.full(shape, expected), rtol=1e-6)
# Random gradients against a numpy simulation of the quantizer (every rank the same data).
rng = np.random.RandomState(123)
residual = np.zeros(shape, np.float32)
kv.init("rnd", mx.nd.zeros(shape))
total = np.zeros(shape, np.float32)
for _ in range(4):
    g = rng.uniform(-1, 1, shape).astype(np.float32)
    kv.push("rnd", mx.nd.array(g))
    residual += g
    sent = np.where(residual >= t, t, np.where(residual <= -t, -t, 0)).astype(np.float32)
    residual -= sent
    total += sent * rate * n
    np.testing.assert_allclose(pulled("rnd"), total, rtol=1e-5, atol=1e-6)
print("OK rank %d" % r)
