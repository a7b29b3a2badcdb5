"""``mx.contrib``: MXNet 1.x's experimental namespace. ``mx.contrib.nd``/``ndarray`` and
``mx.contrib.sym``/``symbol`` are ``mx.nd.contrib`` and ``mx.sym.contrib``; ``autograd`` is the
pre-1.0 autograd API that older scripts still import; ``text`` indexes and embeds tokens;
``tensorboard`` logs metrics; ``quantization`` turns FP32 symbolic models into INT8 ones;
``svrg_optimization`` (imported on demand, as in MXNet) trains a
Module with SVRG."""
from ..ndarray import contrib as ndarray
from ..symbol import contrib as symbol
from . import amp
from . import autograd
from . import onnx
from . import quantization
from . import tensorboard
from . import text

nd = ndarray
sym = symbol
quant = quantization
