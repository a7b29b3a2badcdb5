"""oxnet: the Apache MXNet 1.x Python API on a Rust core.

    import oxnet as mx
"""
from . import base
from .base import MXNetError
from . import error
from . import blas as _blas
from . import context
from .context import Context, cpu, gpu, cpu_pinned, current_context, num_gpus
from . import ndarray
from . import ndarray as nd
from . import random
from . import random as rnd
from . import name
from . import attribute
from .attribute import AttrScope
from . import symbol
from . import symbol as sym
from . import visualization
from . import visualization as viz
from . import autograd
from . import operator
from . import lr_scheduler
from . import optimizer
from . import optimizer as opt
from . import test_utils
from . import kvstore
from . import kvstore as kv
from . import io
from . import recordio
from . import image
from . import image as img
from . import initializer
from . import initializer as init
from . import metric
from . import callback
from . import model
from . import executor_manager
from . import module
from . import module as mod
from . import monitor
from . import monitor as mon
from . import profiler
from . import rnn
from . import engine
from . import libinfo
from . import log
from . import runtime
from . import util
# MXNet 1.x exports its (here always-off) NumPy-mode switches at the top level too.
from .util import (is_np_array, is_np_shape, np_array, np_shape, set_np_shape,  # noqa: F401
                   use_np, use_np_array, use_np_shape)
from . import contrib
from . import onnx
# As in MXNet: notebook.callback and misc are imported only on request (``import
# oxnet.misc``); rtc and library have no import-time dependencies.
from . import notebook
from . import rtc
from . import library

_blas.load()

__version__ = "0.1.0"
