"""In-process KVStore: MXNet 1.9.1's observed sequences (reference §6) and bad input."""
import numpy as np
import pytest

import oxnet as mx

SHAPE = (2, 3)
CTXS = [mx.cpu(i) for i in range(4)]


def _all(arrs, v):
    for a in arrs if isinstance(arrs, list) else [arrs]:
        np.testing.assert_array_equal(a.asnumpy(), np.full(a.shape, v, dtype=np.float32))


def test_seed_sequence_single_key():
    kv = mx.kv.create("local")
    assert (kv.type, kv.rank, kv.num_workers) == ("local", 0, 1)
    kv.init(3, mx.nd.ones(SHAPE) * 2)
    a = mx.nd.zeros(SHAPE)
    kv.pull(3, out=a)
    _all(a, 2)
    kv.push(3, mx.nd.ones(SHAPE) * 8)
    kv.pull(3, out=a)
    _all(a, 8)
    kv.push(3, [mx.nd.ones(SHAPE, ctx=c) for c in CTXS])
    kv.pull(3, out=a)
    _all(a, 4)  # the four values are summed, then assigned
    seen = []

    def update(key, inp, stored):
        seen.append(key)
        stored += inp * 2
    kv._set_updater(update)
    kv.pull(3, out=a)
    _all(a, 4)
    kv.push(3, mx.nd.ones(SHAPE))
    kv.pull(3, out=a)
    _all(a, 6)
    outs = [mx.nd.zeros(SHAPE, ctx=c) for c in CTXS]
    kv.pull(3, out=outs)
    _all(outs, 6)
    assert [o.context for o in outs] == CTXS and seen == [3]


def test_seed_sequence_key_list():
    kv = mx.kv.create("local")
    kv._set_updater(lambda k, i, s: s.__iadd__(i * 2))
    keys = [5, 7, 9]
    kv.init(keys, [mx.nd.ones(SHAPE)] * 3)
    kv.push(keys, [mx.nd.ones(SHAPE)] * 3)
    b = [mx.nd.zeros(SHAPE) for _ in keys]
    kv.pull(keys, out=b)
    _all(b[1], 3)
    b = [[mx.nd.ones(SHAPE, ctx=c) for c in CTXS] for _ in keys]
    kv.push(keys, b)
    kv.pull(keys, out=b)
    _all(b[1], 11)


def test_str_keys_bytes_to_updater_and_sgd():
    kv = mx.kv.create("local")
    got = []
    kv._set_updater(lambda k, i, s: got.append(k))
    kv.init("a", mx.nd.ones(SHAPE))
    kv.push("a", mx.nd.ones(SHAPE))
    assert got == [b"a"]
    kv2 = mx.kv.create("device")
    kv2.set_optimizer(mx.optimizer.SGD(learning_rate=0.5, momentum=0.9))
    kv2.init("w", mx.nd.ones((2,)))
    out = mx.nd.zeros((2,))
    kv2.push("w", mx.nd.ones((2,)))
    kv2.pull("w", out=out)
    np.testing.assert_allclose(out.asnumpy(), [0.5, 0.5], rtol=1e-6)
    kv2.push("w", mx.nd.ones((2,)))
    kv2.pull("w", out=out)
    np.testing.assert_allclose(out.asnumpy(), [-0.45, -0.45], rtol=1e-5)


def test_sgd_int_key_multi_device():
    kv = mx.kv.create("local")
    kv.set_optimizer(mx.optimizer.SGD(learning_rate=0.1))
    kv.init(0, mx.nd.ones((3,)))
    kv.push(0, mx.nd.ones((3,)))
    out = mx.nd.zeros((3,))
    kv.pull(0, out=out)
    np.testing.assert_allclose(out.asnumpy(), 0.9, rtol=1e-6)
    kv.push(0, [mx.nd.ones((3,), ctx=mx.cpu(0)), mx.nd.ones((3,), ctx=mx.cpu(1))])
    kv.pull(0, out=out)
    np.testing.assert_allclose(out.asnumpy(), 0.7, rtol=1e-6)


def test_pushpull_and_broadcast():
    kv = mx.kv.create("local")
    kv.init(1, mx.nd.zeros(SHAPE))
    v = mx.nd.ones(SHAPE) * 3
    kv.pushpull(1, v)
    _all(v, 3)
    outs = [mx.nd.zeros(SHAPE, ctx=c) for c in CTXS[:2]]
    kv.broadcast(2, mx.nd.ones(SHAPE) * 5, out=outs)
    _all(outs, 5)


def test_bad_input():
    kv = mx.kv.create("local")
    kv.init(3, mx.nd.ones(SHAPE))
    with pytest.raises(mx.MXNetError, match="duplicate init of key 3"):
        kv.init(3, mx.nd.ones(SHAPE))
    with pytest.raises(mx.MXNetError, match="key 4 doesn't exist"):
        kv.pull(4, out=mx.nd.zeros(SHAPE))
    with pytest.raises(mx.MXNetError, match="Mixed key types"):
        kv.init("s", mx.nd.ones(SHAPE))
    with pytest.raises(mx.MXNetError, match=r"\(3, 3\)"):
        kv.push(3, mx.nd.ones((3, 3)))
    with pytest.raises(mx.MXNetError, match="shape mismatch"):
        kv.pull(3, out=mx.nd.zeros((4,)))
    with pytest.raises(TypeError):
        kv.push(3, np.ones(SHAPE))
    with pytest.raises(ValueError):
        kv.pull(3)
    with pytest.raises(ValueError, match="unknown kvstore type"):
        mx.kv.create("foo")
    with pytest.raises(TypeError):
        mx.kv.create(3)

    def bad(k, i, s):
        s += mx.nd.ones((5,))
    kv._set_updater(bad)
    before = mx.nd.zeros(SHAPE)
    kv.pull(3, out=before)
    with pytest.raises(mx.MXNetError, match="key 3"):
        kv.push(3, mx.nd.ones(SHAPE))
    after = mx.nd.zeros(SHAPE)
    kv.pull(3, out=after)
    np.testing.assert_array_equal(before.asnumpy(), after.asnumpy())
