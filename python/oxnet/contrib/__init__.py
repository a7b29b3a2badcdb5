"""``mx.contrib``: MXNet 1.x's experimental namespace. ``mx.contrib.nd``/``ndarray`` and
``mx.contrib.sym``/``symbol`` are ``mx.nd.contrib`` and ``mx.sym.contrib``; ``autograd`` is the
pre-1.0 autograd API that older scripts still import."""
from ..ndarray import contrib as ndarray
from ..symbol import contrib as symbol
from . import autograd
from . import onnx

nd = ndarray
sym = symbol
