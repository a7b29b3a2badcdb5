"""mx.engine bulking, mx.runtime features, mx.log, mx.util, mx.libinfo, mx.rnd."""
import logging
import os

import numpy as np
import pytest

import oxnet as mx
from oxnet.base import MXNetError


def test_bulk_size_is_returned_and_restored():
    assert mx.engine.set_bulk_size(0) == 0
    assert mx.engine.set_bulk_size(7) == 0
    assert mx.engine.set_bulk_size(0) == 7
    with mx.engine.bulk(5):
        assert mx.engine.set_bulk_size(5) == 5
    assert mx.engine.set_bulk_size(0) == 0
    with pytest.raises(ValueError, match="size"):
        mx.engine.set_bulk_size(-1)


def test_bulked_ops_compute_what_numpy_does():
    x = np.random.rand(50, 40).astype(np.float32)
    a = mx.nd.array(x)
    with mx.engine.bulk(4):
        y = a
        for i in range(11):  # 11 ops: two full segments and a partial one
            y = y * 1.5 + i if i % 2 else mx.nd.relu(y - 0.2)
        got = y.asnumpy()   # a wait inside the bulk sees every op issued before it
        z = mx.nd.dot(a, a.T)
    ref = x
    for i in range(11):
        ref = ref * 1.5 + i if i % 2 else np.maximum(ref - 0.2, 0)
    np.testing.assert_allclose(got, ref, rtol=1e-5)
    np.testing.assert_allclose(z.asnumpy(), x @ x.T, rtol=1e-5)


def test_error_inside_a_bulk_surfaces_at_the_wait():
    a = mx.nd.ones((2, 3))
    b = mx.nd.ones((4, 5))
    with mx.engine.bulk(8):
        c = a + 1
        with pytest.raises(MXNetError, match="dot"):
            mx.nd.dot(c, b).asnumpy()
        d = c * 2
    assert d.asnumpy().tolist() == [[4.0] * 3] * 2


def test_runtime_features():
    f = mx.runtime.Features()
    assert f is mx.runtime.Features()
    names = [x.name for x in mx.runtime.feature_list()]
    assert names[:5] == ["CUDA", "CUDNN", "NCCL", "CUDA_RTC", "TENSORRT"]
    # MXNet 1.9.1's 32 features in its order; what its CPU wheel enables and oxnet implements
    # (linear algebra, the oneDNN backends, image decoding and resizing) reads as enabled.
    assert len(names) == 32 and names[21:24] == ["LAPACK", "MKLDNN", "OPENCV"]
    assert all(f.is_enabled(n) for n in ("LAPACK", "MKLDNN", "OPENCV"))
    assert f.is_enabled("cuda") == (mx.context.num_gpus() > 0)
    assert f.is_enabled("PROFILER")
    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    assert f.is_enabled("CPU_SSE2") == (" sse2" in flags)
    assert repr(f["PROFILER"]) == "✔ PROFILER"
    with pytest.raises(RuntimeError, match="unknown"):
        f.is_enabled("WARP_DRIVE")


def test_log_get_logger_formats_like_mxnet(tmp_path, capfd):
    path = tmp_path / "log.txt"
    lg = mx.log.get_logger("oxnet_test_file", filename=str(path), level=logging.INFO)
    lg.info("hello %d", 3)
    lg.debug("hidden")
    assert mx.log.get_logger("oxnet_test_file") is lg and len(lg.handlers) == 1
    for h in lg.handlers:
        h.flush()
    assert path.read_text() == "hello 3\n"     # MXNet writes bare messages to files
    lg2 = mx.log.get_logger("oxnet_test_stream", level=logging.INFO)
    lg2.warning("careful")
    err = capfd.readouterr().err
    # MXNet 1.9.1: "\x1b[31mW1201 19:49:22 14886 <file>:<func>:<line>]\x1b[0m careful"
    assert err.startswith("\x1b[31mW") and err.rstrip().endswith("]\x1b[0m careful")
    assert "%d " % os.getpid() in err and ":test_log_get_logger_formats_like_mxnet:" in err


def test_util_libinfo_and_aliases():
    assert mx.util.get_gpu_count() == mx.context.num_gpus()
    assert mx.util.is_np_array() is False and mx.util.is_np_shape() is False
    with pytest.raises(NotImplementedError, match="NumPy-compatible"):
        mx.util.set_np()
    # Switching the mode off is what MXNet 1.x code does around legacy-shape code: it works.
    assert mx.set_np_shape(False) is False and mx.is_np_shape() is False
    with mx.np_shape(False), mx.util.np_array(False):
        assert mx.nd.zeros((0, 3)).shape == (0, 3)
    for on in (lambda: mx.set_np_shape(True), lambda: mx.np_shape().__enter__()):
        with pytest.raises(NotImplementedError, match="NumPy-compatible"):
            on()
    # decorating still imports (a module of MXNet 1.x code holds such functions); calling raises

    @mx.use_np_shape
    def needs_np_shape(x):
        return x
    with pytest.raises(NotImplementedError, match="NumPy-compatible"):
        needs_np_shape(1)

    @mx.util.use_np
    class NpBlock:
        pass
    with pytest.raises(NotImplementedError, match="NumPy-compatible"):
        NpBlock()
    mx.util.setenv("OXNET_TEST_ENV", 5)
    assert mx.util.getenv("OXNET_TEST_ENV") == "5"
    mx.util.setenv("OXNET_TEST_ENV", None)
    assert mx.util.getenv("OXNET_TEST_ENV") is None
    (lib,) = mx.libinfo.find_lib_path()
    assert os.path.isfile(lib) and "_native" in os.path.basename(lib)
    assert mx.libinfo.__version__ == "1.9.1"
    assert mx.rnd is mx.random
