"""Automatic naming of symbols (MXNet's ``mx.name``): ``NameManager`` and ``Prefix``.

The current manager is per thread. Creators ask it for a name with a hint (the Python function
name lowercased); an explicit name wins and uses no counter.
"""
import threading


class _CurrentMeta(type):
    """Makes ``NameManager.current`` the calling thread's active manager."""

    @property
    def current(cls):
        if not hasattr(NameManager._current, "value"):
            NameManager._current.value = NameManager()
        return NameManager._current.value

    @current.setter
    def current(cls, value):
        # MXNet 1.x code swaps the thread's active one by assignment, too.
        NameManager._current.value = value


class NameManager(metaclass=_CurrentMeta):
    """Gives unique names: ``hint`` plus a per-hint counter starting at 0.

    ``with mx.name.NameManager():`` starts fresh counters inside the block.
    """

    _current = threading.local()

    def __init__(self):
        self._counter = {}
        self._old_manager = None

    def get(self, name, hint):
        """``name`` if given, else ``hint`` + the next count for that hint."""
        if name:
            return name
        if hint not in self._counter:
            self._counter[hint] = 0
        name = "%s%d" % (hint, self._counter[hint])
        self._counter[hint] += 1
        return name

    def __enter__(self):
        cur = NameManager.current
        self._old_manager = cur
        NameManager._current.value = self
        return self

    def __exit__(self, ptype, value, trace):
        assert self._old_manager is not None
        NameManager._current.value = self._old_manager


class Prefix(NameManager):
    """Prepends ``prefix`` to every name, explicit or generated.

    Example::

        with mx.name.Prefix('mynet_'):
            net = mx.sym.FullyConnected(data, num_hidden=10, name='fc1')
        # net.name == 'mynet_fc1'
    """

    def __init__(self, prefix):
        super().__init__()
        self._prefix = prefix

    def get(self, name, hint):
        return self._prefix + super().get(name, hint)


def current():
    """The calling thread's NameManager."""
    return NameManager.current
