"""``mx.kv.KVStoreBase``: the interface every key-value store implements, and the registry of
custom stores that ``mx.kv.create(name)`` consults before its built-in types (MXNet 1.9.1's
``kvstore/base.py``). ``TestStore`` is MXNet's registered example store ('teststore')."""
import warnings

from .ndarray import NDArray

__all__ = ["KVStoreBase", "TestStore"]


class KVStoreBase:
    """The store interface: subclasses implement ``broadcast``, ``pushpull``, the optimizer
    methods and the ``type``/``rank``/``num_workers`` properties; ``is_capable`` says which
    optional features (``KVStoreBase.OPTIMIZER``) a store has."""

    OPTIMIZER = "optimizer"

    # Lower-cased class name -> class, filled by ``KVStoreBase.register``.
    kv_registry = {}

    def broadcast(self, key, value, out, priority=0):
        raise NotImplementedError()

    def pushpull(self, key, value, out=None, priority=0):
        raise NotImplementedError()

    def set_optimizer(self, optimizer):
        raise NotImplementedError()

    def is_capable(self, capability):
        raise NotImplementedError()

    def save_optimizer_states(self, fname, dump_optimizer=False):
        raise NotImplementedError()

    def load_optimizer_states(self, fname):
        raise NotImplementedError()

    @property
    def type(self):
        raise NotImplementedError()

    @property
    def rank(self):
        raise NotImplementedError()

    @property
    def num_workers(self):
        raise NotImplementedError()

    @staticmethod
    def register(klass):
        """Registers a store class under its lower-cased name for ``mx.kv.create`` (usable as
        a decorator); a later class of the same name replaces the earlier one, with a warning."""
        if not isinstance(klass, type):
            raise TypeError("KVStoreBase.register: expected a class, got %r" % (klass,))
        name = klass.__name__.lower()
        old = KVStoreBase.kv_registry.get(name)
        if old is not None and old is not klass:
            warnings.warn("New kvstore %s.%s is overriding existing kvstore %s.%s"
                          % (klass.__module__, klass.__name__, old.__module__, old.__name__))
        KVStoreBase.kv_registry[name] = klass
        return klass


def _as_list(x):
    return x if isinstance(x, list) else [x]


@KVStoreBase.register
class TestStore(KVStoreBase):
    """A one-process store without optimizer support: ``pushpull`` sums the values (on the
    first value's context) and writes the sum to ``out``, or back into the values."""

    def broadcast(self, key, value, out, priority=0):
        for o in _as_list(out):
            o[:] = value

    def pushpull(self, key, value, out=None, priority=0):
        if isinstance(value, NDArray):
            total, value = value, [value]
        else:
            ctx = value[0].context
            total = value[0].as_in_context(ctx).copy()
            for v in value[1:]:
                total += v.as_in_context(ctx)
        for o in _as_list(value if out is None else out):
            o[:] = total

    @staticmethod
    def is_capable(capability):
        if capability.lower() == KVStoreBase.OPTIMIZER:
            return False
        raise ValueError("TestStore.is_capable: unknown capability %r" % (capability,))

    @property
    def type(self):
        return "teststore"

    @property
    def rank(self):
        return 0

    @property
    def num_workers(self):
        return 1

    def set_optimizer(self, optimizer):
        raise NotImplementedError("TestStore has no optimizer support")

    def save_optimizer_states(self, fname, dump_optimizer=False):
        raise NotImplementedError("TestStore has no optimizer support")

    def load_optimizer_states(self, fname):
        raise NotImplementedError("TestStore has no optimizer support")
