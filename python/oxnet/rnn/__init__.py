"""``mx.rnn``: MXNet 1.x's symbolic recurrent cells, sentence bucketing iterator and RNN
checkpoint helpers (MXNet 1.9.1 ``python/mxnet/rnn``).

The fused cell, ``FusedRNNCell`` over the ``RNN`` operator, is in ``fused_rnn_cell.py``; the
convolutional cells (``ConvLSTMCell``...) are in ``conv_rnn_cell.py``.
"""
from . import rnn_cell
from .rnn_cell import *  # noqa: F401,F403
from . import conv_rnn_cell
from .conv_rnn_cell import *  # noqa: F401,F403
from . import fused_rnn_cell
from .fused_rnn_cell import *  # noqa: F401,F403
from . import rnn
from .rnn import *  # noqa: F401,F403
from . import io
from .io import *  # noqa: F401,F403

# MXNet defines the fused and convolutional cells in rnn_cell.py, where user code imports them.
for _m in (conv_rnn_cell, fused_rnn_cell):
    for _n in _m.__all__:
        setattr(rnn_cell, _n, getattr(_m, _n))

__all__ = rnn_cell.__all__ + conv_rnn_cell.__all__ + fused_rnn_cell.__all__ + rnn.__all__ + io.__all__
