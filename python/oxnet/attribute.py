"""``mx.AttrScope``: attributes given to every symbol created inside a ``with`` block."""
import collections
import threading

from .base import string_types


class _CurrentMeta(type):
    @property
    def current(cls):
        if not hasattr(AttrScope._current, "value"):
            AttrScope._current.value = AttrScope()
        return AttrScope._current.value

    @current.setter
    def current(cls, value):
        # MXNet 1.x code swaps the thread's active one by assignment, too.
        AttrScope._current.value = value


class AttrScope(metaclass=_CurrentMeta):
    """Attribute manager for scoping (``with mx.AttrScope(ctx_group='dev1'):``).

    Nested scopes merge; an attribute passed to a creator overrides the scope's.
    """

    _current = threading.local()
    # Counters of control-flow subgraph names (`foreach0`, `foreach1`...), as MXNet keeps them.
    _subgraph_names = collections.defaultdict(int)

    def __init__(self, **kwargs):
        self._old_scope = None
        for value in kwargs.values():
            if not isinstance(value, string_types):
                raise ValueError("Attributes need to be string")
        self._attr = kwargs

    def get(self, attr):
        """The scope's attributes updated with ``attr`` (a dict or None)."""
        if self._attr:
            ret = self._attr.copy()
            if attr:
                ret.update(attr)
            return ret
        return dict(attr) if attr else {}

    def __enter__(self):
        cur = AttrScope.current
        self._old_scope = cur
        attr = cur._attr.copy()
        attr.update(self._attr)
        self._attr = attr
        AttrScope._current.value = self
        return self

    def __exit__(self, ptype, value, trace):
        assert self._old_scope is not None
        AttrScope._current.value = self._old_scope
