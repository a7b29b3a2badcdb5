"""First look at a GPU machine: what oxnet finds (driver, libraries, devices) and whether one
copy, one native kernel, one cuBLAS product and one host-path op give numpy's answer. Each step
prints its own line, so a failure shows exactly where the backend stops."""
import os
import sys
import time
import traceback

import numpy as np


def step(name, fn):
    t = time.perf_counter()
    try:
        res = fn()
        print("ok   %-34s %7.1f ms  %s" % (name, (time.perf_counter() - t) * 1e3,
                                          "" if res is None else res), flush=True)
        return True
    except Exception:  # noqa: BLE001 - the point is to print every failure and go on
        print("FAIL %-34s\n%s" % (name, traceback.format_exc()), flush=True)
        return False


def main():
    import oxnet as mx
    import oxnet.cuda
    print("python", sys.version.split()[0], "numpy", np.__version__, "oxnet", mx.__file__)
    print("LD_LIBRARY_PATH", os.environ.get("LD_LIBRARY_PATH"))
    print("pip CUDA folders", oxnet.cuda.library_dirs())
    print("preloaded", oxnet.cuda.preload_libraries())
    if not step("num_gpus", lambda: mx.context.num_gpus()):
        return 1
    if mx.context.num_gpus() == 0:
        print("no GPU found")
        return 1
    g = mx.gpu(0)
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    step("memory info", lambda: mx.context.gpu_memory_info(0))
    step("copy round trip", lambda: np.testing.assert_array_equal(
        mx.nd.array(x, ctx=g).asnumpy(), x))
    step("native add (first NVRTC compile)", lambda: np.testing.assert_allclose(
        (mx.nd.array(x, ctx=g) + mx.nd.array(x, ctx=g)).asnumpy(), 2 * x))
    step("native add (compiled)", lambda: np.testing.assert_allclose(
        (mx.nd.array(x, ctx=g) * 3).asnumpy(), 3 * x))
    step("cuBLAS dot", lambda: np.testing.assert_allclose(
        mx.nd.dot(mx.nd.array(x, ctx=g), mx.nd.array(x.T, ctx=g)).asnumpy(), x @ x.T,
        rtol=1e-6))
    step("host-path transpose", lambda: np.testing.assert_array_equal(
        mx.nd.transpose(mx.nd.array(x, ctx=g)).asnumpy(), x.T))
    step("reduction", lambda: np.testing.assert_allclose(
        mx.nd.array(x, ctx=g).sum(axis=1).asnumpy(), x.sum(axis=1)))
    step("gpu -> cpu copyto", lambda: np.testing.assert_array_equal(
        mx.nd.array(x, ctx=g).copyto(mx.cpu()).asnumpy(), x))

    def bad_shapes():
        try:
            (mx.nd.ones((2, 3), ctx=g) + mx.nd.ones((4, 5), ctx=g)).asnumpy()
        except mx.MXNetError as e:
            return str(e).splitlines()[0][:120]
        raise AssertionError("no error for mismatched shapes")
    step("error surfaces at the wait", bad_shapes)
    step("waitall", mx.nd.waitall)
    return 0


if __name__ == "__main__":
    sys.exit(main())
