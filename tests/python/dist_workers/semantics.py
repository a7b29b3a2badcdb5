"""MXNet's dist_sync/dist_async seed semantics (reference §7), each rank checks against numpy.

usage: semantics.py dist_sync|dist_device_sync|dist|dist_async"""
import sys
import warnings

import numpy as np

import oxnet as mx
from _common import create

name = sys.argv[1]
kv = create(name)
n, r = kv.num_workers, kv.rank
shape = (2, 3)
assert kv.type == name, kv.type
assert 0 <= r < n


def pulled(key, dtype=np.float32):
    out = mx.nd.zeros(shape, dtype=dtype)
    kv.pull(key, out=out)
    return out.asnumpy()


# init: rank 0's value wins everywhere (the others pass garbage on purpose)
kv.init(3, mx.nd.ones(shape) * (2 if r == 0 else 100 + r))
np.testing.assert_array_equal(pulled(3), np.full(shape, 2.0))

if "async" not in name:
    # every worker pushes ones -> pull gives N; a second round assigns again (no accumulation)
    kv.push(3, mx.nd.ones(shape))
    np.testing.assert_array_equal(pulled(3), np.full(shape, n))
    kv.push(3, mx.nd.ones(shape) * (r + 1))
    np.testing.assert_array_equal(pulled(3), np.full(shape, n * (n + 1) / 2))
    # several local values are summed first (one per "device")
    kv.push(3, [mx.nd.ones(shape, ctx=mx.cpu(i)) for i in range(2)])
    np.testing.assert_array_equal(pulled(3), np.full(shape, 2 * n))
    # string keys and key lists, int32 values
    kv2 = create(name)
    kv2.init(["a", "b"], [mx.nd.zeros(shape), mx.nd.zeros(shape, dtype="int32")])
    kv2.push(["a", "b"], [mx.nd.ones(shape) * r, mx.nd.ones(shape, dtype="int32") * 3])
    outa, outb = mx.nd.zeros(shape), mx.nd.zeros(shape, dtype="int32")
    kv2.pull(["a", "b"], out=[outa, outb])
    np.testing.assert_array_equal(outa.asnumpy(), np.full(shape, n * (n - 1) / 2))
    np.testing.assert_array_equal(outb.asnumpy(), np.full(shape, 3 * n))
    # half-precision values: MPI has no sum for them, so they are summed in float32 copies
    kv3 = create(name)
    kv3.init(["h", "bf"], [mx.nd.zeros(shape, dtype=t) for t in ("float16", "bfloat16")])
    kv3.push(["h", "bf"], [mx.nd.ones(shape, dtype=t) * (r + 1) for t in ("float16", "bfloat16")])
    outs = [mx.nd.zeros(shape, dtype=t) for t in ("float16", "bfloat16")]
    kv3.pull(["h", "bf"], out=outs)
    for o in outs:
        np.testing.assert_array_equal(o.astype("float32").asnumpy(), np.full(shape, n * (n + 1) / 2))
    # pushpull without out writes back into the value
    v = mx.nd.ones(shape) * 2
    kv.pushpull(3, v)
    np.testing.assert_array_equal(v.asnumpy(), np.full(shape, 2 * n))
    np.testing.assert_array_equal(pulled(3), np.full(shape, 2 * n))
    # pushpull into two outputs; the store keeps its own copy of the sum
    o1, o2 = mx.nd.zeros(shape), mx.nd.zeros(shape)
    kv.pushpull(3, mx.nd.ones(shape) * 3, out=[o1, o2])
    o1[:] = -1
    np.testing.assert_array_equal(o2.asnumpy(), np.full(shape, 3 * n))
    np.testing.assert_array_equal(pulled(3), np.full(shape, 3 * n))
    # SGD on the sum: w - lr * sum(grads), identical on every worker: rank 0's optimizer is
    # used everywhere even where a worker made another (replicas must not drift apart).
    kv.set_optimizer(mx.optimizer.SGD(learning_rate=0.1 * (r + 1), rescale_grad=1.0, wd=0.0))
    before = pulled(3)
    kv.push(3, mx.nd.ones(shape))
    np.testing.assert_allclose(pulled(3), before - 0.1 * n, rtol=1e-6)
    # An optimizer rank 0 cannot pickle: each worker keeps its own (rank 0 warns).
    unpicklable = mx.optimizer.SGD(learning_rate=0.1, rescale_grad=1.0, wd=0.0)
    unpicklable.hook = lambda x: x
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kv.set_optimizer(unpicklable)
    assert any("cannot be pickled" in str(w.message) for w in caught) == (r == 0 and n > 1)
    before = pulled(3)
    kv.push(3, mx.nd.ones(shape))
    np.testing.assert_allclose(pulled(3), before - 0.1 * n, rtol=1e-6)
    # a big key goes through the same path (zero-copy buffers)
    big = np.random.RandomState(r).rand(1 << 20).astype(np.float32)
    kv.init(9, mx.nd.zeros((1 << 20,)))
    kv._set_updater(None)
    kv.push(9, mx.nd.array(big))
    want = sum(np.random.RandomState(i).rand(1 << 20).astype(np.float32) for i in range(n))
    out = mx.nd.zeros((1 << 20,))
    kv.pull(9, out=out)
    np.testing.assert_allclose(out.asnumpy(), want, rtol=1e-6)
else:
    # async needs an updater (MXNet: "Updater needs to be set for async mode")
    try:
        kv.push(3, mx.nd.ones(shape))
    except mx.base.MXNetError as e:
        assert "updater" in str(e), e
    else:
        raise AssertionError("dist_async push without an optimizer did not raise")
    kv.set_optimizer(mx.optimizer.SGD(learning_rate=0.1, rescale_grad=1.0, wd=0.0))
    for _ in range(3):
        kv.push(3, mx.nd.ones(shape))
    mine = pulled(3)            # at least this worker's own 3 pushes are applied
    assert (mine <= 2.0 - 0.3 + 1e-6).all(), mine
    kv.barrier()                # after the barrier every worker's pushes are applied
    np.testing.assert_allclose(pulled(3), np.full(shape, 2.0 - 0.1 * 3 * n), rtol=1e-6)
    # several outputs, one of another dtype (received into a scratch buffer, then cast)
    o1, o2 = mx.nd.zeros(shape, dtype="float64"), mx.nd.zeros(shape)
    kv.pull(3, out=[o1, o2])
    np.testing.assert_allclose(o1.asnumpy(), np.full(shape, 2.0 - 0.1 * 3 * n), rtol=1e-6)
    np.testing.assert_array_equal(o2.asnumpy(), o1.asnumpy().astype(np.float32))
    # a pushed shape that differs from the inited one is refused on the pushing rank
    try:
        kv.push(3, mx.nd.ones((3, 3)))
    except mx.base.MXNetError as e:
        assert "(3, 3)" in str(e) and "(2, 3)" in str(e) and "rank %d" % r in str(e), e
    else:
        raise AssertionError("a push of the wrong shape did not raise")
    kv.barrier()
kv.barrier()
print("OK rank %d of %d" % (r, n), flush=True)
