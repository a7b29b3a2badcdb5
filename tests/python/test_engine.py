"""The dependency engine seen from Python: async errors, threads, fork, NaiveEngine."""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import oxnet as mx


def test_async_error_surfaces_at_wait_once():
    # A kernel failure is deferred: this op fails inside the engine (integer index out of
    # range with mode='raise'), and the error names the op and this file.
    a = mx.nd.arange(5)
    idx = mx.nd.array([1, 7], dtype="int64")
    b = mx.nd.take(a, idx, mode="raise")
    c = b + 1
    with pytest.raises(mx.MXNetError) as ei:
        c.wait_to_read()
    msg = str(ei.value)
    assert "take" in msg and "test_engine.py" in msg
    c.wait_to_read()  # raised once
    b.asnumpy()       # the shared error was consumed
    d = mx.nd.take(a, idx, mode="raise")
    with pytest.raises(mx.MXNetError):
        mx.nd.waitall()
    mx.nd.waitall()
    del d


def test_param_errors_are_synchronous():
    with pytest.raises(mx.MXNetError, match="scale parameter in gaussian has to be positive"):
        mx.nd.random.normal(0, -1, shape=(2, 2))
    with pytest.raises(mx.MXNetError, match="Cannot find argument 'foo'"):
        mx.nd.sum(mx.nd.ones((2,)), foo=1)


def test_many_python_threads_issue_ops():
    results = [None] * 8
    errors = []

    def work(i):
        try:
            x = mx.nd.ones((64, 64)) * i
            for _ in range(50):
                x = x + 1
                x = mx.nd.dot(x, mx.nd.eye(64))
            results[i] = x.asnumpy()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    assert not errors
    for i, r in enumerate(results):
        np.testing.assert_allclose(r, np.full((64, 64), i + 50.0))


def test_long_dependency_chain_and_write_after_read():
    a = mx.nd.zeros((1000,))
    reads = []
    for i in range(200):
        reads.append(a * 1)  # read a
        a += 1              # then write it: must wait for the read above
    assert [int(r.asnumpy()[0]) for r in reads] == list(range(200))
    assert a.asnumpy()[0] == 200


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_child_can_use_oxnet():
    a = mx.nd.ones((100, 100)) * 3
    a.wait_to_read()
    pid = os.fork()
    if pid == 0:
        try:
            b = mx.nd.dot(a, mx.nd.ones((100, 100)))
            ok = float(b.asnumpy()[0, 0]) == 300.0
            os._exit(0 if ok else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert a.asnumpy()[0, 0] == 3


def _run(code, **env):
    e = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=e, timeout=120)


def test_naive_engine_raises_at_the_call():
    code = (
        "import oxnet as mx\n"
        "a = mx.nd.arange(5)\n"
        "try:\n"
        "    b = mx.nd.take(a, mx.nd.array([9], dtype='int64'), mode='raise')\n"
        "    b.wait_to_read()\n"
        "    print('late')\n"
        "except mx.MXNetError as e:\n"
        "    print('raised')\n"
        "print((mx.nd.ones((3,)) * 2).asnumpy().tolist())\n"
    )
    r = _run(code, MXNET_ENGINE_TYPE="NaiveEngine")
    assert r.returncode == 0, r.stderr
    assert "raised" in r.stdout and "[2.0, 2.0, 2.0]" in r.stdout


def test_unknown_engine_type_is_a_clear_error():
    r = _run("import oxnet", MXNET_ENGINE_TYPE="Foo")
    assert r.returncode != 0 and "Cannot find Engine Foo" in r.stderr


def test_worker_threads_setting():
    r = _run("import oxnet as mx; print((mx.nd.ones((3,))+1).asnumpy().sum())", MXNET_CPU_WORKER_NTHREADS="1")
    assert r.returncode == 0 and r.stdout.strip() == "6.0", r.stderr


def test_small_ops_wait_for_large_ones_on_the_same_array():
    # Small ops run at once on the calling thread only when nothing is pending on their
    # arrays; here each one reads or writes an array a large op (on a worker) still uses.
    a = mx.nd.ones((768, 768))
    big = mx.nd.dot(a, a)           # writes big
    first = big[0:1, 0:2] * 1       # small reads of big: after that write
    reader = mx.nd.dot(big, a)      # a large reader of big
    big[0, 0] = -1.0                # a small write to big: after that reader
    tail = big[0:1, 0:2] + 0        # and a small read after the small write
    np.testing.assert_array_equal(first.asnumpy(), [[768, 768]])
    np.testing.assert_array_equal(reader.asnumpy()[0, :2], [768 * 768] * 2)
    np.testing.assert_array_equal(tail.asnumpy(), [[-1, 768]])
