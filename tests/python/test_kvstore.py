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
    # MXNet 1.9.1 asserts these three: AssertionErrors here too (and TypeError/ValueError)
    with pytest.raises(TypeError, match="must be NDArrays"):
        kv.push(3, np.ones(SHAPE))
    with pytest.raises(AssertionError, match="must be NDArrays"):
        kv.push(3, np.ones(SHAPE))
    with pytest.raises(ValueError, match="out is required"):
        kv.pull(3)
    with pytest.raises(AssertionError, match="out is required"):
        kv.pull(3)
    with pytest.raises(AssertionError, match="unexpected type for keys"):
        kv.init(1.5, mx.nd.ones(SHAPE))
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


# ---------------------------------------------------------------------- the Rust store
BIG = 300_000  # 1.2 MB of float32: the streaming-store path


def test_multi_device_sum_big_and_views():
    rng = np.random.RandomState(0)
    xs = [rng.rand(BIG).astype(np.float32) for _ in CTXS]
    kv = mx.kv.create("local")
    kv.init("g", mx.nd.zeros((BIG,)))
    kv.push("g", [mx.nd.array(x, ctx=c) for x, c in zip(xs, CTXS)])
    outs = [mx.nd.zeros((BIG,), ctx=c) for c in CTXS]
    kv.pull("g", out=outs)
    want = ((xs[0] + xs[1]) + xs[2]) + xs[3]
    for o in outs:
        np.testing.assert_array_equal(o.asnumpy(), want)
    # values and outputs that are views at an unaligned offset of a bigger array
    base = mx.nd.array(np.arange(BIG + 1, dtype=np.float32).reshape(BIG + 1, 1))
    kv.init("v", mx.nd.zeros((BIG, 1)))
    kv.push("v", [base[1:], base[1:]])
    out_base = mx.nd.zeros((BIG + 1, 1))
    kv.pull("v", out=out_base[1:])
    got = out_base.asnumpy().ravel()
    assert got[0] == 0
    np.testing.assert_array_equal(got[1:], 2 * np.arange(1, BIG + 1, dtype=np.float32))


def test_push_is_ordered_with_writes_before_and_after():
    kv = mx.kv.create("local")
    kv.init(0, mx.nd.zeros((BIG,)))
    v = mx.nd.zeros((BIG,), ctx=mx.cpu(1))
    v += 3  # pending (or done) before the push reads v
    kv.push(0, [v, mx.nd.ones((BIG,), ctx=mx.cpu(2))])
    v += 100  # after the push: must not change what was pushed
    out = mx.nd.zeros((BIG,))
    kv.pull(0, out=out)
    _all(out, 4)
    _all(v, 103)


def test_dtypes_and_casting_pull():
    kv = mx.kv.create("local")
    for k, dt in enumerate(["float64", "float16", "int32", "int64", "uint8"]):
        kv.init(k, mx.nd.zeros(SHAPE, dtype=dt))
        kv.push(k, [mx.nd.ones(SHAPE, ctx=c, dtype=dt) * 2 for c in CTXS])
        out = mx.nd.zeros(SHAPE, dtype=dt)
        out64 = mx.nd.zeros(SHAPE, dtype="float64")
        kv.pull(k, out=[out, out64])
        assert out.dtype == np.dtype(dt)
        np.testing.assert_array_equal(out.asnumpy(), np.full(SHAPE, 8, dtype=dt))
        np.testing.assert_array_equal(out64.asnumpy(), np.full(SHAPE, 8.0))
    # a float64 push into a float32 key is accepted and cast (as MXNet)
    kv.init(10, mx.nd.zeros(SHAPE))
    kv.push(10, mx.nd.ones(SHAPE, dtype="float64") * 1.5)
    out = mx.nd.zeros(SHAPE)
    kv.pull(10, out=out)
    _all(out, 1.5)


def test_rejected_calls_leave_store_unchanged():
    kv = mx.kv.create("local")
    kv.init([0, 1], [mx.nd.ones(SHAPE), mx.nd.ones(SHAPE) * 2])
    with pytest.raises(mx.MXNetError, match=r"\(3, 3\)"):
        kv.push(0, [mx.nd.ones(SHAPE), mx.nd.ones((3, 3))])
    with pytest.raises(mx.MXNetError, match="key 5 doesn't exist"):
        kv.push([0, 5], [mx.nd.ones(SHAPE) * 7, mx.nd.ones(SHAPE)])
    with pytest.raises(mx.MXNetError, match="duplicate init of key 1"):
        kv.init([3, 1], [mx.nd.ones(SHAPE), mx.nd.ones(SHAPE)])
    a, b = mx.nd.zeros(SHAPE), mx.nd.zeros(SHAPE)
    with pytest.raises(mx.MXNetError, match="shape mismatch"):
        kv.pull([0, 1], out=[a, mx.nd.zeros((3, 2))])
    _all([a, b], 0)
    kv.pull([0, 1], out=[a, b])
    _all(a, 1)
    _all(b, 2)
    assert 3 not in kv._native


def test_updater_sees_device_sum_and_merge_buffer():
    kv = mx.kv.create("device")
    kv.init(1, mx.nd.ones(SHAPE))
    seen = []

    def upd(key, inp, stored):
        seen.append(inp.asnumpy().copy())
        stored[:] = stored + inp
    kv._set_updater(upd)
    kv.push(1, [mx.nd.ones(SHAPE, ctx=c) for c in CTXS[:2]])
    kv.push(1, [mx.nd.ones(SHAPE, ctx=c) * 3 for c in CTXS])
    out = mx.nd.zeros(SHAPE)
    kv.pull(1, out=out)
    _all(out, 15)
    np.testing.assert_array_equal(seen[0], np.full(SHAPE, 2))
    np.testing.assert_array_equal(seen[1], np.full(SHAPE, 12))


def test_updater_keeps_one_pushed_value_as_mxnet():
    # MXNet 1.9.1 hands the updater a single pushed (dense) value itself, a sum of several
    # in its merge buffer: an updater that keeps what it was given (LBSGD's first gradient)
    # sees [[1, 2], [10, 20]] and [[20, 40], [20, 40]].
    for n, want in ((1, [[1, 2], [10, 20]]), (2, [[20, 40], [20, 40]])):
        kept = []
        kv = mx.kv.create("local")
        kv._set_updater(lambda k, g, w: (kept.append(g), w.__setitem__(slice(None), g)))
        w = mx.nd.zeros((2,))
        kv.init(0, w)
        for g in ([1., 2.], [10., 20.]):
            kv.push(0, [mx.nd.array(g)] * n)
            kv.pull(0, out=w)
        assert [k.asnumpy().tolist() for k in kept] == want
    # LBSGD through the store accumulates as through get_updater (MXNet: -11, -22)
    for via_store in (True, False):
        opt = mx.optimizer.LBSGD(learning_rate=1.0, batch_scale=2, warmup_epochs=0)
        w = mx.nd.zeros((2,))
        kv = mx.kv.create("local")
        kv.set_optimizer(opt) if via_store else None
        up = None if via_store else mx.optimizer.get_updater(opt)
        kv.init(0, w)
        for g in ([1., 2.], [10., 20.]):
            if via_store:
                kv.push(0, mx.nd.array(g))
                kv.pull(0, out=w)
            else:
                up(0, mx.nd.array(g), w)
        assert w.asnumpy().tolist() == [-11, -22]


def test_init_of_one_key_with_several_values_is_a_duplicate_init():
    # MXNet 1.9.1 repeats the key per value: "duplicate init of key 3"; nothing is stored.
    kv = mx.kv.create("local")
    with pytest.raises(mx.MXNetError, match="duplicate init of key 3"):
        kv.init(3, [mx.nd.ones(SHAPE), mx.nd.zeros(SHAPE)])
    assert 3 not in kv._native
    kv.init(3, [mx.nd.ones(SHAPE)])


def test_values_of_several_dtypes_sum_in_the_keys_dtype():
    # MXNet 1.9.1 sums a float32 and a float16 value for a float32 key: [2. 2.], and [-2. -2.]
    # through SGD(lr=1).
    for opt in (None, mx.optimizer.SGD(learning_rate=1.0)):
        kv = mx.kv.create("local")
        kv.init(0, mx.nd.zeros((2,)))
        if opt is not None:
            kv.set_optimizer(opt)
        out = mx.nd.zeros((2,))
        kv.push(0, [mx.nd.ones((2,)), mx.nd.ones((2,), dtype="float16")])
        kv.pull(0, out=out)
        assert out.asnumpy().tolist() == ([2, 2] if opt is None else [-2, -2])


def test_pushpull_lists_and_priority():
    kv = mx.kv.create("local")
    kv.init([0, 1], [mx.nd.zeros(SHAPE)] * 2)
    vals = [[mx.nd.ones(SHAPE, ctx=c) * (i + 1) for c in CTXS] for i in range(2)]
    kv.pushpull([0, 1], vals, priority=-1)
    for i, vs in enumerate(vals):
        _all(vs, 4 * (i + 1))
        assert [v.context for v in vs] == CTXS
    outs = [mx.nd.zeros(SHAPE)] * 2  # the same array twice
    kv.pull(1, out=outs, priority=-2)
    _all(outs, 8)


def test_updater_push_checked_before_any_update():
    kv = mx.kv.create("local")
    kv.init([0, 1], [mx.nd.ones(SHAPE)] * 2)
    calls = []
    kv._set_updater(lambda k, i, s: calls.append(k))
    with pytest.raises(mx.MXNetError, match="key 7 doesn't exist"):
        kv.push([0, 7], [mx.nd.ones(SHAPE)] * 2)
    with pytest.raises(mx.MXNetError, match=r"\(3, 3\)"):
        kv.push([0, 1], [mx.nd.ones(SHAPE), mx.nd.ones((3, 3))])
    assert calls == []
    kv.push([0, 1], [mx.nd.ones(SHAPE)] * 2)
    assert calls == [0, 1]


def test_pushpull_one_pass_and_fallbacks():
    rng = np.random.RandomState(1)
    xs = [rng.rand(BIG).astype(np.float32) for _ in CTXS]
    want = ((xs[0] + xs[1]) + xs[2]) + xs[3]
    kv = mx.kv.create("local")
    kv.init(["a", "b"], [mx.nd.zeros((BIG,)), mx.nd.zeros((BIG,))])
    vals = [mx.nd.array(x, ctx=c) for x, c in zip(xs, CTXS)]
    outs = [mx.nd.zeros((BIG,), ctx=c) for c in CTXS]
    kv.pushpull("a", vals, out=outs)  # one op: sum, store, four outputs
    for o in outs:
        np.testing.assert_array_equal(o.asnumpy(), want)
    kv.pushpull("a", vals)  # in place: every value becomes the sum
    for v in vals:
        np.testing.assert_array_equal(v.asnumpy(), want)
    out = mx.nd.zeros((BIG,))
    kv.pull("a", out=out)
    np.testing.assert_array_equal(out.asnumpy(), want)
    # an output of another dtype goes through push + pull (cast on the way out)
    o64 = mx.nd.zeros((BIG,), dtype="float64")
    kv.pushpull("b", [mx.nd.ones((BIG,)), mx.nd.ones((BIG,))], out=[o64])
    np.testing.assert_array_equal(o64.asnumpy(), np.full(BIG, 2.0))
    # a duplicate key in one call: its values are summed, every output gets the sum
    p, q = mx.nd.ones((BIG,)), mx.nd.ones((BIG,)) * 2
    kv.pushpull(["b", "b"], [p, q])
    _all([p, q], 3)
    with pytest.raises(mx.MXNetError, match="key c doesn't exist"):
        kv.pushpull(["b", "c"], [p, q])
    _all([p, q], 3)


def test_pull_skips_sparse_outputs_unless_told_not_to():
    # MXNet 1.9.1: pull leaves row_sparse outputs alone (with a warning) by default.
    kv = mx.kv.create()
    kv.init(3, mx.nd.ones((2, 2)))
    dense, rsp = mx.nd.zeros((2, 2)), (mx.nd.ones((2, 2)) * 2).tostype("row_sparse")
    with pytest.warns(UserWarning, match="row_sparse_pull"):
        kv.pull(3, out=[dense, rsp])
    assert (dense.asnumpy() == 1).all() and (rsp.asnumpy() == 2).all()
    kv.pull(3, out=rsp, ignore_sparse=False)
    assert (rsp.asnumpy() == 1).all()


def test_row_sparse_pull_takes_row_ids_per_key_and_device():
    kv = mx.kv.create()
    kv.init(["b", "c"], [mx.nd.ones((4, 2)).tostype("row_sparse")] * 2)
    outs = [[mx.nd.zeros((4, 2)).tostype("row_sparse") for _ in range(2)] for _ in range(2)]
    r0, r1 = mx.nd.array([0, 2]), mx.nd.array([3])
    kv.row_sparse_pull(["b", "c"], out=outs, row_ids=[[r0, r1], [r1, r0]])
    assert outs[0][0].asnumpy()[:, 0].tolist() == [1, 0, 1, 0]
    assert outs[0][1].asnumpy()[:, 0].tolist() == [0, 0, 0, 1]
    assert outs[1][0].asnumpy()[:, 0].tolist() == [0, 0, 0, 1]
    assert outs[1][1].asnumpy()[:, 0].tolist() == [1, 0, 1, 0]


@pytest.mark.parametrize("store", ["local", "device"])
def test_row_sparse_weight_takes_the_optimizers_lazy_update(store):
    # FTRL's dense update zeroes rows with no gradient; on a row_sparse store MXNet updates
    # only the pushed rows (values: MXNet 1.9.1, same script).
    kv = mx.kv.create(store)
    kv.set_optimizer(mx.optimizer.create("ftrl", learning_rate=0.1))
    w0 = np.arange(12, dtype=np.float32).reshape(6, 2) / 10
    kv.init("w", mx.nd.array(w0).tostype("row_sparse"))
    g = mx.nd.sparse.row_sparse_array((np.ones((2, 2), np.float32), [1, 3]), shape=(6, 2))
    kv.push("w", [g, g] if store == "device" else g)
    out = mx.nd.zeros((6, 2), stype="row_sparse")
    kv.row_sparse_pull("w", out=out, row_ids=mx.nd.arange(0, 6, dtype="int64"))
    got = out.asnumpy()
    np.testing.assert_array_equal(got[[0, 2, 4, 5]], w0[[0, 2, 4, 5]])
    pushed = {"local": [[0.0495, 0.0995], [0.2495, 0.2995]],
              "device": [[0.0663333, 0.133], [0.333, 0.3996667]]}[store]
    np.testing.assert_allclose(got[[1, 3]], pushed, rtol=1e-5)


@pytest.mark.parametrize("how", ["push", "pushpull"])
def test_a_dense_push_makes_a_row_sparse_key_dense(how):
    # MXNet 1.9.1: without an updater the pushed dense sum replaces the row_sparse value, so
    # row_sparse_pull refuses the key after push and after pushpull alike.
    kv = mx.kv.create("local")
    kv.init(0, mx.nd.ones((3, 2)).tostype("row_sparse"))
    getattr(kv, how)(0, mx.nd.ones((3, 2)) * 2)
    with pytest.raises(mx.MXNetError, match="PullRowSparse expects row_sparse"):
        kv.row_sparse_pull(0, out=mx.nd.zeros((3, 2)).tostype("row_sparse"),
                           row_ids=mx.nd.array([0, 2]))


def test_two_bit_compression_per_device_as_mxnet():
    # MXNet 1.9.1, 'device' store, two devices pushing the same gradients (threshold 0.5):
    # each device's residual is quantized on its own, the store sums what they sent.
    kv = mx.kv.create("device")
    kv.set_gradient_compression({"type": "2bit", "threshold": 0.5})
    kv.init("k", mx.nd.zeros((6,)))
    out = mx.nd.zeros((6,))
    for g, want in (([0.4, -0.4, 0.6, -0.6, 1.2, 0.0], [0.0, 0.0, 1.0, -1.0, 1.0, 0.0]),
                    ([0.2, -0.2, 0.0, 0.0, 0.0, 0.3], [1.0, -1.0, 0.0, 0.0, 1.0, 0.0])):
        kv.push("k", [mx.nd.array(g, ctx=mx.cpu(0)), mx.nd.array(g, ctx=mx.cpu(1))])
        kv.pull("k", out=out)
        assert out.asnumpy().tolist() == want
    # The default threshold is 0.5; an optimizer receives the compressed gradient.
    kv = mx.kv.create("device")
    kv.set_gradient_compression({"type": "2bit"})
    kv.set_optimizer(mx.optimizer.SGD(learning_rate=1.0, rescale_grad=1.0))
    kv.init("k", mx.nd.zeros((3,)))
    g = mx.nd.array([0.6, 0.4, -0.7])
    kv.push("k", g)
    kv.pull("k", out=out[:3])
    assert out[:3].asnumpy().tolist() == [-0.5, 0.0, 0.5]
    assert g.asnumpy().tolist() == pytest.approx([0.6, 0.4, -0.7])  # the pushed array is kept


@pytest.mark.parametrize("kv_type, params, match", [
    ("local", {"type": "2bit"}, "not supported for this type of kvstore"),
    ("device", {"type": "1bit"}, "Unknown type for gradient compression 1bit"),
    ("device", {"type": "2bit", "threshold": -1}, "threshold must be greater than 0"),
])
def test_gradient_compression_refusals(kv_type, params, match):
    with pytest.raises(mx.base.MXNetError, match=match):
        mx.kv.create(kv_type).set_gradient_compression(params)


def test_module_with_compression_params_trains_on_two_devices():
    rng = np.random.RandomState(0)
    x = rng.uniform(-1, 1, (64, 4)).astype("f")
    y = (x.sum(1) > 0).astype("f")
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=2),
                               name="softmax")
    mod = mx.mod.Module(net, context=[mx.cpu(0), mx.cpu(1)],
                        compression_params={"type": "2bit", "threshold": 0.01})
    mod.fit(mx.io.NDArrayIter(x, y, batch_size=16), num_epoch=15, kvstore="device",
            optimizer_params={"learning_rate": 0.5})
    assert mod._kvstore._compression.threshold == 0.01
    acc = mod.score(mx.io.NDArrayIter(x, y, batch_size=16), "acc")[0][1]
    assert acc > 0.9
