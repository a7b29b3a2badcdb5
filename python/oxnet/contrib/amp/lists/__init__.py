"""AMP op lists, restricted to the ops oxnet registers (names or aliases).

MXNet's lists also name ops oxnet lacks (sparse and MKL-DNN kernels, ``_CachedOp`` ...). Kept,
they would make ``amp.init`` fail on the first missing function (MXNet raises on one); dropped
here once at import, every list is safe to wrap and to pass to ``convert_symbol``."""
from .... import _native
from . import symbol_fp16 as _fp16

_KNOWN = {name for name, *_ in _native.list_ops()} | {alias for alias, _ in _native.list_aliases()}


def _known(names):
    return [n for n in names if n in _KNOWN]


FP16_FUNCS = _known(_fp16.FP16_FUNCS)
FP16_FP32_FUNCS = _known(_fp16.FP16_FP32_FUNCS)
FP32_FUNCS = _known(_fp16.FP32_FUNCS)
CONDITIONAL_FP32_FUNCS = [c for c in _fp16.CONDITIONAL_FP32_FUNCS if c[0] in _KNOWN]
WIDEST_TYPE_CASTS = _known(_fp16.WIDEST_TYPE_CASTS)
LOSS_OUTPUT_FUNCTIONS = _known(_fp16.LOSS_OUTPUT_FUNCTIONS)
# MXNet has per-op float32 parameters only for bfloat16, which oxnet lacks.
FP16_USE_FP32_PARAMS = None
