#!/usr/bin/env python3
"""Generate golden reference files with REAL Apache MXNet 1.9.1.

Provenance script: it is committed for reference but never run by CI.
It needs mxnet==1.9.1 and numpy<1.24, e.g. in a separate venv:

    python3 -m venv /work/mxref
    /work/mxref/bin/pip install mxnet==1.9.1 'numpy<1.24'
    cd tests/data && /work/mxref/bin/python make_golden.py

Output goes to ./golden/:
  * <name>.params  -- written by mx.nd.save (or hand-crafted legacy records)
  * <name>.npz     -- the arrays MXNet loads back from <name>.params (dense);
                      dict keys for dicts, arr_0, arr_1, ... for lists
  * manifest.json  -- per file: kind (list/dict), keys in order, dtypes,
                      shapes, stypes, byte size, resave_identical
  * observed.json  -- printed/observed behaviours of MXNet 1.9.1 (flat dict)
"""
import json
import os
import struct
import sys

import numpy as np
import mxnet as mx

assert mx.__version__ == "1.9.1", mx.__version__

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")
os.makedirs(OUT, exist_ok=True)

MANIFEST = {}

# ---------------------------------------------------------------------------
# NDArray file container constants (src/ndarray/ndarray.cc)
# ---------------------------------------------------------------------------
LIST_MAGIC = 0x112          # kMXAPINDArrayListMagic
V1_MAGIC = 0xF993FAC8       # NDARRAY_V1_MAGIC
V2_MAGIC = 0xF993FAC9       # NDARRAY_V2_MAGIC

STYPE_NAME = {"default": "default", "row_sparse": "row_sparse", "csr": "csr"}


def _dense(a):
    return a.asnumpy()


def _npz_dict(loaded):
    if isinstance(loaded, dict):
        return {k: _dense(v) for k, v in loaded.items()}
    return {"arr_%d" % i: _dense(v) for i, v in enumerate(loaded)}


def _write_npz(name, arrays):
    path = os.path.join(OUT, name + ".npz")
    # np.savez with keyword names; keep insertion order.
    np.savez(path, **arrays)


def record(name, legacy=False, resave_check=True, note=None, saved_kind=None,
           expected=None):
    """Load <name>.params with MXNet, write the npz, check it and fill manifest."""
    path = os.path.join(OUT, name + ".params")
    loaded = mx.nd.load(path)
    arrays = _npz_dict(loaded)
    _write_npz(name, arrays)

    kind = "dict" if isinstance(loaded, dict) else "list"
    vals = list(loaded.values()) if kind == "dict" else list(loaded)
    entry = {
        "file": name + ".params",
        "npz": name + ".npz",
        "kind": kind,
        "saved_kind": saved_kind or kind,
        "keys": list(loaded.keys()) if kind == "dict" else [],
        "npz_keys": list(arrays.keys()),
        "dtypes": [np.dtype(v.dtype).name for v in vals],
        "shapes": [list(v.shape) for v in vals],
        "stypes": [v.stype for v in vals],
        "loaded_contexts": [str(v.context) for v in vals],
        "size_bytes": os.path.getsize(path),
        "legacy": legacy,
    }

    # Sanity: reload npz and compare to a fresh mx.nd.load.
    again = mx.nd.load(path)
    again = _npz_dict(again)
    with np.load(os.path.join(OUT, name + ".npz")) as z:
        assert list(z.keys()) == list(again.keys()), (name, list(z.keys()))
        for k in z.keys():
            assert z[k].dtype == again[k].dtype, (name, k)
            assert np.array_equal(z[k], again[k]), (name, k)

    # Sanity: what was loaded equals what was meant to be stored.
    if expected is not None:
        exp = _npz_dict(expected) if not isinstance(expected, dict) or any(
            isinstance(v, mx.nd.NDArray) for v in expected.values()) else expected
        assert list(exp.keys()) == list(arrays.keys()) or (not exp and not arrays), name
        for k in exp:
            assert exp[k].dtype == arrays[k].dtype, (name, k, exp[k].dtype)
            assert np.array_equal(exp[k], arrays[k]), (name, k)

    # Re-save what was loaded and compare bytes.
    if resave_check:
        tmp = path + ".resave.tmp"
        mx.nd.save(tmp, loaded)
        with open(tmp, "rb") as f1, open(path, "rb") as f2:
            entry["resave_identical"] = f1.read() == f2.read()
        os.remove(tmp)
    else:
        entry["resave_identical"] = None
    if note:
        entry["note"] = note
    MANIFEST[name] = entry
    return loaded


def save(name, data, **kw):
    mx.nd.save(os.path.join(OUT, name + ".params"), data)
    kw.setdefault("saved_kind", "dict" if isinstance(data, dict) else "list")
    return record(name, expected=data, **kw)


# ---------------------------------------------------------------------------
# a. files written by mx.nd.save
# ---------------------------------------------------------------------------
m23 = mx.nd.array([[1, 2, 3], [4, 5, 6]], dtype="float32")

save("list1", [m23])
save("dict2", {"arg:w": m23, "b": mx.nd.array([7], dtype="int32")})

dt_list = []
for i, dt in enumerate(["float32", "float64", "float16", "uint8", "int32",
                        "int8", "int64"]):
    base = np.arange(6).reshape(2, 3)
    if dt in ("float32", "float64", "float16"):
        vals = (base - 2.5) * 0.5 + i          # fractional, negative values
    elif dt == "uint8":
        vals = base * 50 + 3                    # up to 253
    elif dt == "int8":
        vals = base * 40 - 100                  # -100 .. 100
    elif dt == "int64":
        vals = base - 3 + (1 << 40)             # needs > 32 bits
    else:
        vals = base * -7 + 11
    dt_list.append(mx.nd.array(np.asarray(vals).astype(dt), dtype=dt))
dt_list.append(mx.nd.array(np.array([True, False, True, True, False]), dtype="bool"))
save("dtypes", dt_list)

save("empty_list", [])
save("empty_dict", {}, note="byte-identical to empty_list; mx.nd.load returns [] (a list)")

save("shapes", [
    mx.nd.array(np.arange(5, dtype="float32")),
    mx.nd.array(np.arange(24, dtype="float32").reshape(2, 3, 4)),
    mx.nd.array(np.arange(12, dtype="float32").reshape(2, 1, 3, 2) * -1.5),
    mx.nd.array(np.array([42.0], dtype="float32")),
    mx.nd.array(np.array([[-3.25]], dtype="float32")),
])

rng = np.random.RandomState(20240101)
save("random", [mx.nd.array(rng.standard_normal((64, 33)).astype("float32"))])

save("ckpt", {
    "arg:fc1_weight": mx.nd.array(rng.standard_normal((4, 3)).astype("float32")),
    "arg:fc1_bias": mx.nd.array(np.array([0.1, -0.2, 0.3, 0.0], dtype="float32")),
    "aux:bn_moving_mean": mx.nd.array(np.array([0.5, 1.5, -2.0, 0.0], dtype="float32")),
    "aux:bn_moving_var": mx.nd.array(np.array([1.0, 2.0, 0.25, 4.0], dtype="float32")),
})

save("ctx", [
    mx.nd.array([[1, 2, 3], [4, 5, 6]], ctx=mx.cpu(3)),
    mx.nd.array([9, 8], ctx=mx.cpu_pinned(0)),
], note="first record stores dev_type=1 dev_id=3, second dev_type=3 (cpu_pinned) "
        "dev_id=0; see loaded_contexts for where mx.nd.load puts them")

save("unicode", {"wéight": mx.nd.array([1.0, -2.0, 3.5])})

# ---------------------------------------------------------------------------
# b. legacy / sparse
# ---------------------------------------------------------------------------


def container(records, names=()):
    out = struct.pack("<QQ", LIST_MAGIC, 0)
    out += struct.pack("<Q", len(records))
    for r in records:
        out += r
    out += struct.pack("<Q", len(names))
    for n in names:
        b = n.encode("utf-8")
        out += struct.pack("<Q", len(b)) + b
    return out


def v1_record(arr, dev_type=1, dev_id=0, type_flag=0):
    arr = np.ascontiguousarray(arr)
    r = struct.pack("<I", V1_MAGIC)
    r += struct.pack("<i", arr.ndim) + struct.pack("<%dq" % arr.ndim, *arr.shape)
    r += struct.pack("<ii", dev_type, dev_id)
    r += struct.pack("<i", type_flag)
    r += arr.tobytes()
    return r


def prev1_record(arr, dev_type=1, dev_id=0, type_flag=0):
    arr = np.ascontiguousarray(arr)
    r = struct.pack("<I", arr.ndim) + struct.pack("<%dI" % arr.ndim, *arr.shape)
    r += struct.pack("<ii", dev_type, dev_id)
    r += struct.pack("<i", type_flag)
    r += arr.tobytes()
    return r


def write_raw(name, blob):
    with open(os.path.join(OUT, name + ".params"), "wb") as f:
        f.write(blob)


v1_arr = np.array([[1.5, -2.0, 3.25], [0.0, 100.0, -0.125]], dtype="<f4")
write_raw("legacy_v1", container([v1_record(v1_arr)]))
ld = record("legacy_v1", legacy=True, expected={"arr_0": v1_arr})
assert np.array_equal(ld[0].asnumpy(), v1_arr)

p_arr = np.array([[1, 2], [3, 4], [5, 6]], dtype="<f4") * 0.5
write_raw("legacy_prev1", container([prev1_record(p_arr)]))
ld = record("legacy_prev1", legacy=True, expected={"arr_0": p_arr})
assert np.array_equal(ld[0].asnumpy(), p_arr)

rsp = mx.nd.sparse.row_sparse_array(
    (np.array([[1, 2], [3, 4]], dtype="float32"), np.array([1, 3], dtype="int64")),
    shape=(5, 2))
save("row_sparse", [rsp], note="npz holds the dense equivalent")
csr = mx.nd.sparse.csr_matrix(
    (np.array([1, 2], dtype="float32"), np.array([0, 2], dtype="int64"),
     np.array([0, 1, 1, 2], dtype="int64")), shape=(3, 3))
save("csr", [csr], note="npz holds the dense equivalent")

# ---------------------------------------------------------------------------
# c. observed behaviours
# ---------------------------------------------------------------------------
OBS = {}


def observe(label, fn):
    try:
        a = fn()
        OBS["repr:" + label] = repr(a)
        OBS["str:" + label] = str(a)
    except Exception as e:  # noqa: BLE001
        msg = str(e).strip().splitlines()
        OBS["error:" + label] = type(e).__name__ + ": " + " | ".join(
            l for l in msg if l.strip())[:600]


observe("mx.nd.ones((2,3))", lambda: mx.nd.ones((2, 3)))
observe("mx.nd.array([1,2,3])", lambda: mx.nd.array([1, 2, 3]))
observe("mx.nd.arange(24).reshape((2,3,4))", lambda: mx.nd.arange(24).reshape((2, 3, 4)))
observe("mx.nd.array([1,2],dtype='int32')", lambda: mx.nd.array([1, 2], dtype="int32"))
observe("mx.nd.array([1.5],dtype='float16')", lambda: mx.nd.array([1.5], dtype="float16"))
observe("mx.nd.arange(2000)", lambda: mx.nd.arange(2000))
observe("mx.nd.array([[0.001, 1000.5]])", lambda: mx.nd.array([[0.001, 1000.5]]))
observe("mx.nd.array([-1.25, 3e-5])", lambda: mx.nd.array([-1.25, 3e-5]))
observe("mx.nd.zeros((2,0))", lambda: mx.nd.zeros((2, 0)))
observe("mx.nd.ones((2,3), ctx=mx.cpu(1))", lambda: mx.nd.ones((2, 3), ctx=mx.cpu(1)))


def dstr(d):
    return str(np.dtype(d).type)


OBS["dtype:mx.nd.array(np.arange(3))"] = dstr(mx.nd.array(np.arange(3)).dtype)
OBS["dtype:mx.nd.array([1,2])"] = dstr(mx.nd.array([1, 2]).dtype)
OBS["dtype:mx.nd.array(np.array([1.,2.]))"] = dstr(mx.nd.array(np.array([1., 2.])).dtype)
OBS["dtype:(mx.nd.array([1,2],dtype='int32') > 1)"] = dstr(
    (mx.nd.array([1, 2], dtype="int32") > 1).dtype)
OBS["value:(mx.nd.array([1,2],dtype='int32') > 1)"] = (
    mx.nd.array([1, 2], dtype="int32") > 1).asnumpy().tolist()
OBS["dtype:mx.nd.argmax(mx.nd.ones((2,3)),axis=1)"] = dstr(
    mx.nd.argmax(mx.nd.ones((2, 3)), axis=1).dtype)
OBS["shape:mx.nd.array([[1,2],[3,4]]).sum()"] = str(mx.nd.array([[1, 2], [3, 4]]).sum().shape)

i32 = mx.nd.array([7, -7], dtype="int32")
for label, fn in [("/ 2", lambda: i32 / 2), ("% 3", lambda: i32 % 3),
                  ("+ 2.5", lambda: i32 + 2.5), ("* 1.5", lambda: i32 * 1.5),
                  # extras: show the float scalar is cast to int32 first
                  ("/ 2.5", lambda: i32 / 2.5), ("- 0.5", lambda: i32 - 0.5),
                  ("% -3", lambda: i32 % -3)]:
    r = fn()
    OBS["value:int32[7,-7] " + label] = r.asnumpy().tolist()
    OBS["dtype:int32[7,-7] " + label] = dstr(r.dtype)

with open(os.path.join(OUT, "observed.json"), "w", encoding="utf-8") as f:
    json.dump(OBS, f, indent=1, ensure_ascii=False, sort_keys=False)
    f.write("\n")

# ---------------------------------------------------------------------------
# d. manifest
# ---------------------------------------------------------------------------
with open(os.path.join(OUT, "manifest.json"), "w", encoding="utf-8") as f:
    json.dump({"mxnet_version": mx.__version__, "numpy_version": np.__version__,
               "files": MANIFEST}, f, indent=1, ensure_ascii=False)
    f.write("\n")

total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
print("wrote %d files, %d bytes total" % (len(os.listdir(OUT)), total), file=sys.stderr)
for n, e in MANIFEST.items():
    print(n, e["size_bytes"], "resave_identical=%s" % e["resave_identical"], file=sys.stderr)
