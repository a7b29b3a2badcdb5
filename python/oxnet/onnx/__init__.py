"""``mx.onnx``: exports symbols and parameters to ONNX (MXNet 1.9.1's ``mxnet.onnx``).

Graphs are written at ONNX opset 13; the ``onnx`` package is needed only when a function runs
(``pip install onnx``). Importing ONNX files is ``mx.contrib.onnx.import_model``.
"""
from .export import export_model, get_operator_support, OPSET
from . import ops_index, ops_nn, ops_tensor  # noqa: F401  (register the converters)

__all__ = ["export_model", "get_operator_support", "OPSET"]
