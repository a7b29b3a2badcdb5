"""Automatic mixed precision (``mx.contrib.amp``), MXNet 1.9.1's symbolic API."""
from .amp import *  # noqa: F401,F403
from .amp import __all__  # noqa: F401
from . import lists  # noqa: F401
