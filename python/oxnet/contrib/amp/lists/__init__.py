"""AMP op lists per target dtype, restricted to the ops oxnet registers (names or aliases).

MXNet's lists also name ops oxnet lacks (sparse and MKL-DNN kernels, ``_CachedOp`` ...). Kept,
they would make ``amp.init`` fail on the first missing function (MXNet raises on one); dropped
here once at import, every list is safe to wrap and to pass to ``convert_symbol``."""
from types import SimpleNamespace

from .... import _native
from . import symbol_bf16 as _bf16
from . import symbol_fp16 as _fp16

_KNOWN = {name for name, *_ in _native.list_ops()} | {alias for alias, _ in _native.list_aliases()}


def _known(names):
    return [n for n in names if n in _KNOWN]


def _lists(lp16, lp16_fp32, source, use_fp32_params):
    return SimpleNamespace(
        LP16_FUNCS=_known(lp16), LP16_FP32_FUNCS=_known(lp16_fp32),
        FP32_FUNCS=_known(source.FP32_FUNCS),
        CONDITIONAL_FP32_FUNCS=[c for c in source.CONDITIONAL_FP32_FUNCS if c[0] in _KNOWN],
        WIDEST_TYPE_CASTS=_known(source.WIDEST_TYPE_CASTS),
        LOSS_OUTPUT_FUNCTIONS=_known(source.LOSS_OUTPUT_FUNCTIONS),
        LP16_USE_FP32_PARAMS=use_fp32_params)


# MXNet has per-op float32 parameters only for bfloat16.
_BY_TARGET = {
    "float16": _lists(_fp16.FP16_FUNCS, _fp16.FP16_FP32_FUNCS, _fp16, None),
    "bfloat16": _lists(_bf16.BF16_FUNCS, _bf16.BF16_FP32_FUNCS, _bf16,
                       {k: v for k, v in _bf16.BF16_USE_FP32_PARAMS.items() if k in _KNOWN}),
}


def of(target):
    """The lists for target dtype name ``'float16'`` or ``'bfloat16'``."""
    return _BY_TARGET[target]
