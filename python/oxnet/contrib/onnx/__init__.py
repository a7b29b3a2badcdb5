"""``mx.contrib.onnx``: MXNet 1.9.1's ONNX functions. ``import_model`` and
``get_model_metadata`` read ONNX files into symbols; ``export_model`` is ``mx.onnx.export_model``
under its older name and argument order."""
from .import_model import import_model, get_model_metadata
# MXNet 1.9.1's contrib name is mx.onnx.export_model itself (positional order and the old
# input_shape/input_type keywords included).
from ...onnx import export_model

__all__ = ["export_model", "import_model", "get_model_metadata", "import_to_gluon"]


def import_to_gluon(model_file, ctx):
    """Not available: oxnet has no Gluon. ``import_model`` gives the symbol and parameters
    for ``mx.mod.Module``."""
    raise NotImplementedError("mx.contrib.onnx.import_to_gluon: oxnet has no Gluon; use "
                              "mx.contrib.onnx.import_model and mx.mod.Module")
