"""The GPU backend on any machine: every CUDA kernel module compiles with NVRTC (installed
from PyPI by the test extra), and without a CUDA driver GPU work fails with one clear line
while everything else keeps working."""
import ctypes.util
import re
import subprocess
import sys

import pytest

import oxnet as mx
from oxnet import cuda


def _have_nvrtc():
    return any("libnvrtc.so" in p for p in cuda.preload_libraries())


needs_nvrtc = pytest.mark.skipif(
    not _have_nvrtc(), reason="NVRTC is not installed (pip install nvidia-cuda-nvrtc)")

# Kernels the op files promise, one per family and kind (all three float types each).
EXPECTED = {
    "elemwise_unary": ["unary_exp", "unary_relu", "unary_sigmoid", "unary_tanh", "unary_sqrt",
                       "unary_abs", "unary_logical_not", "unary__copy"],
    "elemwise_binary": ["binary_add", "binary_mod", "bcast_maximum", "bcast_div",
                        "scalar_power", "rscalar_sub", "scalar_greater", "rscalar_div",
                        "add_n2", "add_n8"],
    "fully_connected": ["fc_bias_rows", "fc_bias_grad"],
    "optimizer": ["sgd", "sgd_mom", "adam"],
    "activation": ["act_relu", "act_bwd_relu", "act_tanh", "act_bwd_softsign"],
    "loss": ["softmax_fwd", "softmax_output_bwd"],
    "reduce": ["reduce_rows", "reduce_blocks", "unreduce"],
    "pooling": ["pool_fwd", "pool_bwd"],
    "batch_norm": ["bn_stats", "bn_apply", "bn_grad_sums", "bn_grad_dx"],
    "convolution": ["im2col", "col2im", "conv_bias", "conv_bias_grad", "conv_sum_rows"],
    "strided": ["strided_copy"],
    "softmax": ["softmax_axis", "softmax_axis_bwd"],
}


@needs_nvrtc
@pytest.mark.parametrize("arch", ["compute_75", "compute_80", "compute_90"])
def test_every_kernel_module_compiles(arch):
    results = {m: (ptx, log) for m, ptx, log in cuda.compile_all(arch)}
    assert set(EXPECTED) <= set(results)
    for module, (ptx, log) in results.items():
        assert log is None, "%s failed for %s:\n%s" % (module, arch, log)
        assert ".target sm_%s" % arch[len("compute_"):] in ptx, module
        entries = set(re.findall(r"\.entry (\w+)\(", ptx))
        for dt in ("float32", "float16", "float64"):
            assert any(e.endswith("_" + dt) for e in entries), (module, dt)
        for base in EXPECTED.get(module, []):
            for dt in ("float32", "float16", "float64"):
                assert "%s_%s" % (base, dt) in entries, (module, base, dt)


@needs_nvrtc
def test_compile_error_names_module_and_arch():
    results = cuda.compile_all("compute_10")
    assert results
    for module, ptx, log in results:
        assert ptx is None
        assert module in log and "compute_10" in log


def test_pip_library_dirs_are_searched():
    dirs = cuda.library_dirs()
    for d in dirs:
        assert d.endswith("lib") and "nvidia" in d
    if _have_nvrtc():
        assert any("nvidia" in p for p in cuda.preload_libraries())


NO_DRIVER = ctypes.util.find_library("cuda") is None

SCRIPT = r"""
import numpy as np
import oxnet as mx
print(mx.context.num_gpus())
for make in (lambda: mx.nd.zeros((2,), ctx=mx.gpu(0)),
             lambda: mx.nd.array(np.ones(3), ctx=mx.gpu(0)),
             lambda: mx.nd.ones((2, 2)).copyto(mx.gpu(0)),
             lambda: mx.nd.ones((2, 2)).as_in_context(mx.gpu(1))):
    try:
        make()
        print("NO ERROR")
    except mx.MXNetError as e:
        print("ERR", str(e).replace("\n", "|"))
print((mx.nd.ones((2,)) * 3).asnumpy().tolist())
"""


@pytest.mark.skipif(not NO_DRIVER, reason="a CUDA driver is installed on this machine")
def test_gpu_without_driver_is_one_clear_line():
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", "no loader noise expected, got:\n" + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "0"
    errs = lines[1:5]
    for line in errs:
        assert line.startswith("ERR "), lines
        assert "no CUDA device found (driver not loaded)" in line, line
        assert "|" not in line, "one line expected: " + line
    assert "gpu(0)" in errs[0] and "gpu(1)" in errs[3]
    assert lines[5] == "[3.0, 3.0]"


def test_host_arrays_have_no_cuda_array_interface():
    a = mx.nd.ones((2, 3))
    assert not hasattr(a, "__cuda_array_interface__")
    with pytest.raises(AttributeError, match="only for GPU arrays"):
        a.__cuda_array_interface__


@pytest.mark.skipif(not NO_DRIVER, reason="a CUDA driver is installed on this machine")
def test_gpu_memory_info_without_driver_raises():
    with pytest.raises(mx.MXNetError, match="no CUDA device found"):
        mx.context.gpu_memory_info(0)
    mx.cpu().empty_cache()
