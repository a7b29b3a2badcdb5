#!/usr/bin/env python3
"""Condense the golden *.npz files (arrays real MXNet 1.9.1 loaded) into golden/expected.json.

The Rust tests have no npz/zip reader, so each array is reduced to what a test can compare
cheaply and exactly: dtype, shape, an FNV-1a 64 hash of its little-endian C-order bytes (bool
as one byte per element, as in the .params files) and, for small arrays, the values themselves.

Needs only numpy:  cd tests/data && python3 npz_to_json.py
"""
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "golden")
# Arrays up to this many elements also list their values, so a mismatch is readable.
MAX_LISTED = 32


def fnv1a64(data: bytes) -> str:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def describe(key, a):
    a = np.ascontiguousarray(a)
    le = a.astype(a.dtype.newbyteorder("<"), copy=False)
    entry = {
        "key": key,
        "dtype": a.dtype.name,
        "shape": list(a.shape),
        "fnv1a64": fnv1a64(le.tobytes()),
    }
    if a.size <= MAX_LISTED:
        # Every stored dtype (f16/f32/f64, ints below 2**53, bool) is exact as a float64.
        entry["values"] = [float(v) for v in a.astype(np.float64).ravel()]
    return entry


def main():
    with open(os.path.join(GOLDEN, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    out = {}
    for name, info in manifest["files"].items():
        with np.load(os.path.join(GOLDEN, info["npz"])) as z:
            keys = list(z.keys())
            assert keys == info["npz_keys"], (name, keys)
            out[name] = [describe(k, z[k]) for k in keys]
    with open(os.path.join(GOLDEN, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, ensure_ascii=False, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
