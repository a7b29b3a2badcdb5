"""``mx.contrib.onnx``: MXNet 1.9.1's ONNX functions. ``import_model`` and
``get_model_metadata`` read ONNX files into symbols; ``export_model`` is ``mx.onnx.export_model``
under its older name and argument order."""
import numpy as np

from .import_model import import_model, get_model_metadata
from ...onnx import export_model as _export_model

__all__ = ["export_model", "import_model", "get_model_metadata", "import_to_gluon"]


def export_model(sym, params, input_shape=None, input_type=np.float32,
                 onnx_file_path="model.onnx", verbose=False, **kwargs):
    """MXNet 1.x's ``mx.contrib.onnx.export_model``: ``mx.onnx.export_model`` with the input
    shapes and types under their old names (its other keywords, ``in_shapes`` included, pass
    through); returns the ONNX file path."""
    kwargs.setdefault("in_shapes", input_shape)
    kwargs.setdefault("in_types", input_type)
    return _export_model(sym, params, onnx_file_path=onnx_file_path, verbose=verbose, **kwargs)


def import_to_gluon(model_file, ctx):
    """Not available: oxnet has no Gluon. ``import_model`` gives the symbol and parameters
    for ``mx.mod.Module``."""
    raise NotImplementedError("mx.contrib.onnx.import_to_gluon: oxnet has no Gluon; use "
                              "mx.contrib.onnx.import_model and mx.mod.Module")
