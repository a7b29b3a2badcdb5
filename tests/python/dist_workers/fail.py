"""Failure behaviour. Rank 1 misbehaves after a few rounds, rank 0 keeps pushing; the job must
end (no hang) with an error naming rank 1.

usage: fail.py raise|kill|stop|exit|shape|order|serverleft [dist_sync|dist_async]"""
import os
import signal
import subprocess
import sys
import time

import numpy as np

import oxnet as mx
from oxnet.base import MXNetError
from _common import create

mode = sys.argv[1]
kv = create(sys.argv[2] if len(sys.argv) > 2 else "dist_sync")
n, r = kv.num_workers, kv.rank
kv.init(0, mx.nd.zeros((2, 3)))
kv.init(1, mx.nd.zeros((4,)))
if "async" in kv.type:
    kv.set_optimizer(mx.optimizer.SGD(learning_rate=0.1))
out = mx.nd.zeros((2, 3))

if mode in ("shape", "order"):
    # Disagreeing pushes: every rank gets the same MXNetError and the store stays usable.
    try:
        if mode == "shape":
            kv.push(0, mx.nd.ones((3, 3) if r == 1 else (2, 3)))
        else:
            kv.push(0 if r == 0 else 1, mx.nd.ones((2, 3) if r == 0 else (4,)))
    except MXNetError as e:
        msg = str(e)
        print("rank %d caught: %s" % (r, msg), flush=True)
        assert "rank 1" in msg and "rank 0" in msg, msg
        if mode == "shape":
            assert "(3, 3)" in msg and "(2, 3)" in msg and "key 0" in msg, msg
        else:
            assert "key 0" in msg and "key 1" in msg and "(4,)" in msg, msg
    else:
        raise AssertionError("disagreeing pushes did not raise")
    kv.push(0, mx.nd.ones((2, 3)))
    kv.pull(0, out=out)
    np.testing.assert_array_equal(out.asnumpy(), np.full((2, 3), n))
    print("OK rank %d" % r, flush=True)
    sys.exit(0)

if mode == "serverleft":
    # dist_async: rank 0 leaves its script at once; its server keeps answering pushes and
    # pulls, but a collective that needs rank 0 is an error naming it, not a hang.
    if r == 0:
        sys.exit(0)
    for i in range(5):
        kv.push(0, mx.nd.ones((2, 3)))
        kv.pull(0, out=out)
    np.testing.assert_allclose(out.asnumpy().min() <= -0.5 + 1e-6, True)
    print("rank %d: pushes and pulls served after rank 0 left" % r, flush=True)
    kv.barrier()
    print("rank %d was never stopped" % r, flush=True)
    sys.exit(3)

for i in range(1000):
    if r == 1 and i == 3:
        print("rank 1 misbehaves: %s" % mode, flush=True)
        if mode == "raise":
            raise ValueError("boom from rank 1")
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if mode == "stop":
            # resume after 20 s so the stopped process can be cleaned up by the launcher
            subprocess.Popen(["sh", "-c", "sleep 20; kill -CONT %d" % os.getpid()],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            os.kill(os.getpid(), signal.SIGSTOP)
        if mode == "exit":
            sys.exit(0)          # fewer rounds than rank 0 (uneven batches): must not hang rank 0
    kv.push(0, mx.nd.ones((2, 3)))
    kv.pull(0, out=out)
    out.wait_to_read()
    time.sleep(0.05)
print("rank %d was never stopped" % r, flush=True)
sys.exit(3)
