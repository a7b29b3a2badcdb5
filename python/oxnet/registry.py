"""Name → class tables behind ``mx.init.register``/``mx.metric.register`` and their aliases
(MXNet keeps one such helper, ``mxnet.registry``, for the same purpose)."""
import warnings


class ClassRegistry(dict):
    """Classes derived from ``base`` under lower-cased names; ``kind`` names them in messages
    (``"initializer"``, ``"metric"``)."""

    def __init__(self, base, kind, where):
        super().__init__()
        self.base, self.kind, self.where = base, kind, where

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
