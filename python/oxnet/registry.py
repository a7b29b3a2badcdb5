"""Name → class tables behind ``mx.init.register``/``mx.metric.register`` and their aliases,
one per base class, and MXNet's ``mx.registry`` functions that make and use such tables."""
import json
import warnings

from .base import ValueAssertionError, string_types

_BY_BASE = {}


class ClassRegistry(dict):
    """Classes derived from ``base`` under lower-cased names; ``kind`` names them in messages
    (``"initializer"``, ``"metric"``)."""

    def __init__(self, base, kind, where):
        super().__init__()
        self.base, self.kind, self.where = base, kind, where
        _BY_BASE[base] = self

    def add(self, klass, name):
        if not (isinstance(klass, type) and issubclass(klass, self.base)):
            raise TypeError("register expects a subclass of %s, got %r" % (self.where, klass))
        key = name.lower()
        old = self.get(key)
        if old is not None and old is not klass:
            warnings.warn("New %s %s.%s registered with name %s is overriding existing %s %s.%s"
                          % (self.kind, klass.__module__, klass.__name__, key, self.kind,
                             old.__module__, old.__name__), UserWarning, stacklevel=4)
        self[key] = klass
        return klass

    def register(self, klass):
        """Registers ``klass`` under its lower-cased class name (a decorator)."""
        return self.add(klass, klass.__name__)

    def alias(self, *aliases):
        """A decorator registering a class under extra names."""
        def reg(klass):
            for name in aliases:
                self.add(klass, name)
            return klass
        return reg


def _table(base_class, nickname):
    table = _BY_BASE.get(base_class)
    if table is None:
        table = ClassRegistry(base_class, nickname, base_class.__name__)
    return table


def get_registry(base_class):
    """A copy of the name → class table of ``base_class``'s subclasses."""
    return dict(_BY_BASE.get(base_class, {}))


def get_register_func(base_class, nickname):
    """``register(klass, name=None)``: files a subclass of ``base_class`` under ``name`` (its
    class name by default), lower-cased; ``nickname`` names the kind in messages."""
    table = _table(base_class, nickname)

    def register(klass, name=None):
        return table.add(klass, name or klass.__name__)
    register.__doc__ = "Registers a %s class (a decorator)." % nickname
    return register


def get_alias_func(base_class, nickname):
    """``alias(*names)``: a decorator filing a class under extra names."""
    return _table(base_class, nickname).alias


def get_create_func(base_class, nickname):
    """``create(spec, *args, **kwargs)``: an instance of a registered class. ``spec`` is an
    instance (returned as is), a name, a dict of keyword arguments holding ``nickname``, or
    their JSON text (``'["name", {...}]'`` or ``'{"nickname": ...}'``)."""
    table = _table(base_class, nickname)

    def create(*args, **kwargs):
        if args:
            spec, args = args[0], args[1:]
        elif nickname in kwargs:
            spec = kwargs.pop(nickname)
        else:
            raise TypeError("create: give the %s to create, positionally or as %s=..."
                            % (nickname, nickname))
        if isinstance(spec, base_class):
            if args or kwargs:
                raise ValueError("create: %s is already an instance; extra arguments %r %r "
                                 "cannot apply" % (nickname, args, kwargs))
            return spec
        if isinstance(spec, dict):
            return create(**spec)
        if not isinstance(spec, string_types):
            raise TypeError("create: %s must be a name, a dict or an instance of %s, got %r"
                            % (nickname, base_class.__name__, spec))
        if spec.startswith("[") or spec.startswith("{"):
            if args or kwargs:
                raise ValueError("create: a JSON %s spec takes no extra arguments" % nickname)
            loaded = json.loads(spec)
            if isinstance(loaded, dict):
                return create(**loaded)
            name, params = loaded
            return create(name, **params)
        klass = table.get(spec.lower())
        if klass is None:
            # MXNet asserts here: also an AssertionError.
            raise ValueAssertionError("create: %s %r is not registered (known: %s); register "
                                      "it with %s.register first"
                                      % (nickname, spec, ", ".join(sorted(table)), nickname))
        return klass(*args, **kwargs)
    create.__doc__ = "Creates a %s from its name or spec." % nickname
    return create
