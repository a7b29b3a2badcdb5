"""mx.kv.KVStoreBase: the registry mx.kv.create consults, capability constants, MXNet 1.9.1's
registered 'teststore', and a custom store driving Module training."""
import warnings

import numpy as np
import pytest

import oxnet as mx


def test_base_interface_and_constants():
    assert mx.kv.KVStoreBase.OPTIMIZER == 'optimizer'
    assert issubclass(mx.kv.KVStore, mx.kv.KVStoreBase)
    kv = mx.kv.create('local')
    assert isinstance(kv, mx.kv.KVStoreBase) and kv.is_capable('OPTIMIZER')
    with pytest.raises(ValueError, match="unknown capability 'gpu_direct'"):
        kv.is_capable('gpu_direct')
    base = mx.kv.KVStoreBase()
    for call in (lambda: base.pushpull(0, mx.nd.ones(1)), lambda: base.type,
                 lambda: base.is_capable('optimizer')):
        with pytest.raises(NotImplementedError):
            call()


def test_teststore_is_registered_and_sums():
    kv = mx.kv.create('TestStore')
    assert kv.type == 'teststore' and kv.rank == 0 and kv.num_workers == 1
    assert kv.is_capable('optimizer') is False
    with pytest.raises(ValueError, match="unknown capability"):
        kv.is_capable('x')
    vals = [mx.nd.array([1, 2]), mx.nd.array([10, 20]), mx.nd.array([100, 200])]
    out = mx.nd.zeros(2)
    kv.pushpull('w', vals, out=out)
    np.testing.assert_array_equal(out.asnumpy(), [111, 222])
    kv.pushpull('w', vals)  # no out: the sum goes back into every value
    for v in vals:
        np.testing.assert_array_equal(v.asnumpy(), [111, 222])
    outs = [mx.nd.zeros(2), mx.nd.zeros(2)]
    kv.broadcast('w', mx.nd.array([5, 6]), outs)
    for o in outs:
        np.testing.assert_array_equal(o.asnumpy(), [5, 6])


def test_register_custom_store_and_override_warning():
    calls = []

    class TinyStore(mx.kv.KVStoreBase):
        def pushpull(self, key, value, out=None, priority=0):
            calls.append(key)
            (out if out is not None else value)[:] = value * 2

        def is_capable(self, capability):
            return False

        @property
        def type(self):
            return 'tiny'

    try:
        assert mx.kv.KVStoreBase.register(TinyStore) is TinyStore
        kv = mx.kv.create('tinystore')
        assert isinstance(kv, TinyStore) and kv.type == 'tiny'
        a = mx.nd.array([1.5, -2])
        kv.pushpull(3, a)
        np.testing.assert_array_equal(a.asnumpy(), [3, -4])
        assert calls == [3]

        class Other(mx.kv.KVStoreBase):
            pass
        Other.__name__ = 'TinyStore'
        with pytest.warns(UserWarning, match="overriding existing kvstore"):
            mx.kv.KVStoreBase.register(Other)
        assert isinstance(mx.kv.create('TINYSTORE'), Other)
    finally:
        mx.kv.KVStoreBase.kv_registry.pop('tinystore', None)
    with pytest.raises(ValueError, match="unknown kvstore type 'tinystore'"):
        mx.kv.create('tinystore')
    with pytest.raises(TypeError, match="expected a class"):
        mx.kv.KVStoreBase.register(3)


def test_model_create_kvstore_accepts_custom_store():
    from oxnet.model import _create_kvstore
    ts = mx.kv.create('teststore')
    kv, update_on_kv = _create_kvstore(ts, 2, {'w': mx.nd.ones((2, 2))})
    # A store without the optimizer capability never updates on the store (MXNet's rule).
    assert kv is ts and update_on_kv is False
    local = mx.kv.create('local')
    kv, update_on_kv = _create_kvstore(local, 2, {'w': mx.nd.ones((2, 2))})
    assert kv is local and update_on_kv is True
