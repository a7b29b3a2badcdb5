"""`mx.kv`: the in-process key-value store (`local`, `device`) of MXNet 1.x.

The store lives in Rust (`oxnet._native.KVStore`): a push is one engine op per key that sums
the pushed values straight from their buffers into the stored array (or, with an updater, into
the key's merge buffer when several are pushed, then the Python updater runs), a pull is one
op per key that writes every output. `push` returns at once and a `pull` is waited on only
where its output is read."""
import pickle
import warnings

from . import _native
from .base import MXNetError, TypeAssertionError, ValueAssertionError, string_types, integer_types
from .kvstore_base import KVStoreBase  # importing it also registers TestStore
from .ndarray import NDArray, zeros
from .ndarray.sparse import RowSparseNDArray
from .ndarray.utils import write_bytes

__all__ = ["KVStore", "KVStoreBase", "create"]

_LOCAL_TYPES = ("local", "device", "local_allreduce_cpu", "local_allreduce_device", "local_update_cpu",
                "local_update_device")


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _outputs_feed_other_keys(vals, outs):
    """Whether an output array of one key is a value array of another ({key: [arrays]})."""
    if len(vals) < 2:
        return False
    owners = {}
    for k, arrs in vals.items():
        for a in arrs:
            owners.setdefault(id(a), set()).add(k)
    return any(owners.get(id(o), {k}) - {k} for k, arrs in outs.items() for o in arrs)


class _TwoBitCompression:
    """MXNet's 2-bit gradient compression: each pushed gradient is added to a residual kept
    per key and source; what is sent is +threshold where the residual reaches threshold,
    -threshold where it reaches -threshold and 0 elsewhere, and that much leaves the residual
    (`compute_expected_2bit_quantization` of MXNet's tests). Init values are not compressed."""

    def __init__(self, params):
        params = dict(params or {})
        kind = str(params.pop("type", "none"))
        threshold = float(params.pop("threshold", 0.5))
        if params:
            raise MXNetError("set_gradient_compression: unknown parameter(s) %s (it takes type "
                             "and threshold)" % sorted(params))
        if kind != "2bit":
            raise MXNetError("Unknown type for gradient compression %s (MXNet 1.9.1 has '2bit')"
                             % kind)
        if not threshold > 0:
            raise MXNetError("set_gradient_compression: threshold must be greater than 0, got %r"
                             % threshold)
        self.threshold = threshold
        self._residual = {}

    def __call__(self, key, source, grad):
        """The compressed value of `grad` pushed for `key` from `source` (a device index)."""
        if grad.stype != "default":
            raise MXNetError("2bit gradient compression takes dense gradients; key %r was pushed "
                             "as %s" % (key, grad.stype))
        r = self._residual.get((key, source))
        if r is None or r.shape != grad.shape or r.dtype != grad.dtype \
                or r.context != grad.context:
            r = self._residual[(key, source)] = zeros(grad.shape, grad.context, grad.dtype)
        r += grad
        t = self.threshold
        sent = (r >= t) * t - (r <= -t) * t
        r -= sent
        return sent


class KVStore(KVStoreBase):
    """A store of arrays by key; values pushed from several devices are summed before update."""

    def __init__(self, kv_type="local"):
        self._type = kv_type
        self._key_type = None
        self._updater = None
        self._compression = None
        # Storage type of each key's value ('row_sparse' values serve row_sparse_pull).
        self._stypes = {}
        # The store itself (key -> stored array, merge buffers, reduce/broadcast ops) is Rust.
        self._native = _native.KVStore("device" in kv_type)

    # ------------------------------------------------------------------ properties
    @property
    def type(self):
        return self._type

    @property
    def rank(self):
        return 0

    @property
    def num_workers(self):
        return 1

    # ------------------------------------------------------------------ keys
    def _check_key(self, key):
        if isinstance(key, string_types):
            kt = str
        elif isinstance(key, integer_types) and not isinstance(key, bool):
            kt = int
            if not -(1 << 31) <= int(key) < (1 << 31):
                raise OverflowError("key %d does not fit a C int" % key)
            key = int(key)
        else:
            raise TypeAssertionError("unexpected type for keys: %s" % type(key))
        if self._key_type is None:
            self._key_type = kt
        elif self._key_type is not kt:
            raise MXNetError("Mixed key types are not allowed: this store uses %s keys, got %r"
                             % (self._key_type.__name__, key))
        return key

    def _pairs(self, key, value, what):
        """[(key, [arrays])] for a key or a key list and matching values."""
        if isinstance(key, (list, tuple)):
            keys = list(key)
            vals = _as_list(value)
            if len(keys) != len(vals):
                raise ValueError("%s: %d keys but %d values" % (what, len(keys), len(vals)))
            if len({type(k) for k in keys}) > 1:
                raise TypeAssertionError("inconsistent types of keys detected.")
        else:
            keys, vals = [key], [value]
        out = []
        for k, v in zip(keys, vals):
            arrs = _as_list(v)
            for a in arrs:
                if not isinstance(a, NDArray):
                    raise TypeAssertionError("%s: values for key %r must be NDArrays, got %s"
                                         % (what, k, type(a).__name__))
            if not arrs:
                raise ValueError("%s: no value given for key %r" % (what, k))
            out.append((self._check_key(k), arrs))
        return out

    # ------------------------------------------------------------------ API
    def init(self, key, value):
        """Stores a copy of `value` under `key` (one array per key)."""
        pairs = self._pairs(key, value, "init")
        for k, arrs in pairs:
            if len(arrs) > 1:
                # MXNet expands the list to the key repeated: "duplicate init of key".
                raise MXNetError("init: duplicate init of key %r (%d values given; init takes "
                                 "one value per key)" % (k, len(arrs)))
        self._native.init([k for k, _ in pairs], [arrs[0] for _, arrs in pairs])
        for k, arrs in pairs:
            self._stypes[k] = arrs[0].stype

    def _pushed(self, key, value, what):
        """(key, arrays) pairs of a push, each array compressed when compression is set (one
        residual per key and position, i.e. per device)."""
        pairs = [(k, self._one_dtype(k, arrs)) for k, arrs in self._pairs(key, value, what)]
        if self._compression is None:
            return pairs
        return [(k, [self._compression(k, i, a) for i, a in enumerate(arrs)]) for k, arrs in pairs]

    def _one_dtype(self, key, arrs):
        """Values of several dtypes pushed to one key are summed in the key's dtype, as MXNet's
        merge buffer sums them."""
        if len({a.dtype for a in arrs}) < 2 or key not in self._native:
            return arrs
        dtype = self._native.stored(key).dtype
        return [a if a.dtype == dtype else a.astype(dtype) for a in arrs]

    def push(self, key, value, priority=0):
        """Sums the values pushed for each key, then updates (or, with no updater, assigns)."""
        grouped = {}
        for k, arrs in self._pushed(key, value, "push"):
            grouped.setdefault(k, []).extend(arrs)
        if self._updater is None:
            self._native.push(list(grouped), list(grouped.values()), priority)
            # Without an updater the stored value becomes the pushed sum, of the pushed stype.
            for k, arrs in grouped.items():
                self._stypes[k] = arrs[0].stype
            return
        self._native.check_push(list(grouped), list(grouped.values()))
        for k, arrs in grouped.items():
            if len(arrs) == 1 and arrs[0].stype == "default" and self._compression is None:
                # One dense value is handed to the updater itself, not a merge buffer the next
                # push overwrites, as MXNet's: an optimizer may keep it (LBSGD's first gradient).
                merged, stored = arrs[0], self._native.stored(k)
            else:
                merged, stored = self._native.reduce(k, arrs, priority)
            merged = merged.as_in_context(stored.context)
            if all(a.stype == "row_sparse" for a in arrs):
                # The sum of row_sparse pushes is row_sparse: the optimizer updates its rows
                # alone (MXNet's lazy update).
                merged = RowSparseNDArray(merged)
            if self._stypes.get(k) == "row_sparse":
                # A row_sparse weight too: optimizers whose dense update moves untouched rows
                # (FTRL zeroes them) take their sparse path, as on MXNet's row_sparse store.
                stored = RowSparseNDArray(stored)
            ukey = k.encode() if isinstance(k, str) else k
            try:
                self._updater(ukey, merged, stored)
            except Exception as e:
                raise MXNetError("push: the updater failed for key %s: %s: %s"
                                 % (k, type(e).__name__, e)) from e

    def pull(self, key, out=None, priority=0, ignore_sparse=True):
        """Copies the stored value of each key into every array of `out`."""
        if out is None:
            raise ValueAssertionError("pull: out is required (the arrays to copy the values into)")
        pairs = self._pull_pairs(key, out, ignore_sparse)
        self._native.pull([k for k, _ in pairs], [outs for _, outs in pairs], priority)

    def _pull_pairs(self, key, out, ignore_sparse):
        """(key, outputs) pairs of a pull. As in MXNet, sparse outputs are skipped unless
        `ignore_sparse` is False: their rows come from row_sparse_pull."""
        pairs = self._pairs(key, out, "pull")
        if not ignore_sparse:
            return pairs
        kept = [(k, [o for o in outs if o.stype == "default"]) for k, outs in pairs]
        if any(len(o) != len(outs) for (_, o), (_, outs) in zip(kept, pairs)):
            warnings.warn("pull: outputs that are not dense were left unchanged; use "
                          "row_sparse_pull with row_ids for them (or ignore_sparse=False)")
        return [(k, outs) for k, outs in kept if outs]

    def pushpull(self, key, value, out=None, priority=0):
        """push then pull; without `out` the result is written back into `value`."""
        out = value if out is None else out
        if self._updater is not None:
            self.push(key, value, priority)
            self.pull(key, out, priority, ignore_sparse=False)
            return
        vals, outs = {}, {}
        pushed = self._pushed(key, value, "push")
        pulled = self._pairs(key, out, "pull")
        for k, arrs in pushed:
            vals.setdefault(k, []).extend(arrs)
        for k, arrs in pulled:
            outs.setdefault(k, []).extend(arrs)
        if _outputs_feed_other_keys(vals, outs):
            # MXNet pushes every key before it pulls any: a key's output that another key
            # reads as a value must not be written before that key's sum.
            self.push(key, value, priority)
            self.pull(key, out, priority, ignore_sparse=False)
            return
        # One op per key sums the values and writes the store and the outputs in one pass.
        self._native.pushpull(list(vals), list(vals.values()), [outs[k] for k in vals], priority)
        for k, arrs in vals.items():  # the stored value has the pushed stype, as after push
            self._stypes[k] = arrs[0].stype

    def broadcast(self, key, value, out, priority=0):
        """init then pull."""
        self.init(key, value)
        self.pull(key, out, priority, ignore_sparse=False)

    def row_sparse_pull(self, key, out=None, priority=0, row_ids=None):
        """Copies only the rows `row_ids` of each row_sparse value into `out` (RowSparseNDArrays;
        the other rows become zero). `row_ids` is one NDArray (used for every out) or a list with
        one per out. Ids may repeat or be unsorted; ids past the last row select nothing."""
        if out is None:
            raise AssertionError("row_sparse_pull: out is required")
        if row_ids is None:
            raise AssertionError("row_sparse_pull: row_ids is required")
        if isinstance(row_ids, NDArray):
            row_ids = [row_ids]
        if not isinstance(row_ids, list):
            raise AssertionError("row_ids should be NDArray or list of NDArray")
        if isinstance(key, (list, tuple)) and any(isinstance(r, (list, tuple)) for r in row_ids):
            # One list of row_ids per key, like `out`: flattened as `out` is.
            row_ids = [r for rs in row_ids for r in (rs if isinstance(rs, (list, tuple)) else [rs])]
        first_out = out
        single_rowid = len(row_ids) == 1 and isinstance(out, list)
        if single_rowid:
            first_out = [out[0]]
        pairs = self._pairs(key, first_out, "row_sparse_pull")
        flat = [(k, o) for k, outs in pairs for o in outs]
        if len(flat) != len(row_ids):
            raise AssertionError("the number of row_ids doesn't match the number of values")
        from .ndarray import sparse
        for (k, o), rid in zip(flat, row_ids):
            tmp = NDArray(o).copy()
            self._pull_into(k, tmp, priority)
            if o.stype != "row_sparse":
                raise MXNetError("Check failed: val_stype == kRowSparseStorage: Expected row_sparse "
                                 "storage type for row_sparse_pull values, but detected storage "
                                 "type %s (key %s)" % (o.stype, k))
            if self._stored_stype(k) != "row_sparse":
                raise MXNetError("Check failed: local.storage_type() == kRowSparseStorage: "
                                 "PullRowSparse expects row_sparse src NDArray (key %s holds %s)"
                                 % (k, self._stored_stype(k)))
            sparse._keep_rows(tmp, rid, strict=False)._copyto(o)
        if single_rowid:
            for o in out[1:]:
                out[0].copyto(o)

    def _pull_into(self, k, out, priority):
        """The whole value of key `k` into the dense array `out` (raises for unknown keys)."""
        self._native.pull([k], [[out]], priority)

    def _stored_stype(self, k):
        return self._stypes.get(k)

    def _set_updater(self, updater):
        """Registers `updater(key, merged_value, stored_value)`; string keys arrive as bytes."""
        self._updater = updater

    set_updater = _set_updater

    def set_optimizer(self, optimizer):
        """Runs `optimizer` on every push (as MXNet's local store does)."""
        from . import optimizer as opt
        self._set_updater(opt.get_updater(optimizer))

    def is_capable(self, capability):
        if capability.lower() == KVStoreBase.OPTIMIZER:
            return True
        raise ValueError("is_capable: unknown capability %r (known: %r)"
                         % (capability, KVStoreBase.OPTIMIZER))

    def set_gradient_compression(self, compression_params):
        """MXNet's 2-bit compression of pushed gradients ({'type': '2bit', 'threshold': t});
        for the 'device' and dist stores, as in MXNet."""
        if "device" not in self._type and "dist" not in self._type:
            raise MXNetError("Gradient compression is not supported for this type of kvstore (%s)"
                             % self._type)
        self._compression = _TwoBitCompression(compression_params)

    def save_optimizer_states(self, fname, dump_optimizer=False):
        if self._updater is None or not hasattr(self._updater, "get_states"):
            raise ValueError("save_optimizer_states: no optimizer is set on this store")
        states = getattr(self._updater, "_states_file_bytes", self._updater.get_states)
        write_bytes(fname, states(dump_optimizer))

    def load_optimizer_states(self, fname):
        if self._updater is None or not hasattr(self._updater, "set_states"):
            raise ValueError("load_optimizer_states: no optimizer is set on this store")
        with open(fname, "rb") as f:
            self._updater.set_states(f.read())

    def barrier(self):
        """A no-op in one process."""

    _barrier = barrier

    def __getstate__(self):
        raise pickle.PicklingError("a KVStore cannot be pickled")


def create(name="local"):
    """Creates a store: a class registered with `KVStoreBase.register` (by lower-cased class
    name, built without arguments), `local` or `device` (and MXNet's local variants), or a
    distributed one (any name containing `dist`, see `kvstore_dist`)."""
    if not isinstance(name, string_types):
        raise TypeError("name must be a string")
    name = name.lower()
    if name in KVStoreBase.kv_registry:
        return KVStoreBase.kv_registry[name]()
    if name in _LOCAL_TYPES:
        return KVStore(name)
    if "dist" in name:
        from . import kvstore_dist
        return kvstore_dist.create_dist(name)
    raise ValueError("unknown kvstore type %r; oxnet supports %s, dist_* and the registered %s"
                     % (name, ", ".join(_LOCAL_TYPES), ", ".join(sorted(KVStoreBase.kv_registry))))
