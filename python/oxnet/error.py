"""Structured error classes (``mx.error``): MXNet's ``InternalError`` and ``register``.

Classes registered here are looked up by name in ``oxnet.base.error_types``.
"""
from .base import MXNetError, register_error

__all__ = ["MXNetError", "register"]

register = register_error

_HINT = ("\nMXNet hint: You hit an internal error. Please open an issue in "
         "https://github.com/apache/incubator-mxnet/issues/new/choose to report it.")


@register_error
class InternalError(MXNetError):
    """A bug in the framework rather than in the caller's code; the message gets MXNet's
    hint asking the user to report it."""

    def __init__(self, msg):
        # A message passed on from another InternalError already carries a hint.
        if "MXNet hint:" not in msg:
            msg += _HINT
        super(InternalError, self).__init__(msg)


# MXNet's table maps these names to Python's own classes (the core raises those directly).
register_error("ValueError", ValueError)
register_error("TypeError", TypeError)
register_error("AttributeError", AttributeError)
register_error("IndexError", IndexError)
register_error("NotImplementedError", NotImplementedError)
