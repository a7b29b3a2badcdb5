#!/usr/bin/env python3
"""Generate the symbol golden files with REAL Apache MXNet 1.9.1 (provenance; not run by CI).

    cd tests/data && /work/mxref/bin/python make_golden_symbol.py

The graphs come from tests/python/symbol_cases.py, so oxnet's test builds exactly the same
ones. Output in ./golden/symbol/:
  * <case>.json       -- sym.tojson() (byte-exact)
  * <case>.meta.json  -- names, internals, children, attr_dict, infer_shape/infer_type results
  * legacy_v08.input.json -- a hand-written 0.8-style file; legacy_v08.json = MXNet's re-dump
"""
import json
import os
import sys

import numpy as np
import mxnet as mx

assert mx.__version__ == "1.9.1", mx.__version__

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
import symbol_cases  # noqa: E402

OUT = os.path.join(HERE, "golden", "symbol")
os.makedirs(OUT, exist_ok=True)


def meta_of(sym, shapes, types):
    children = sym.get_children()
    m = {
        "name": sym.name,
        "arguments": sym.list_arguments(),
        "outputs": sym.list_outputs(),
        "aux": sym.list_auxiliary_states(),
        "inputs": sym.list_inputs(),
        "internals": sym.get_internals().list_outputs(),
        "children": None if children is None else children.list_outputs(),
        "attr_dict": sym.attr_dict(),
        "list_attr": sym.list_attr(),
        "len": len(sym),
    }
    if shapes is not None:
        arg, out, aux = sym.infer_shape(**shapes)
        m["infer_shape"] = {"given": {k: list(v) for k, v in shapes.items()},
                            "args": [list(s) for s in arg], "outputs": [list(s) for s in out],
                            "aux": [list(s) for s in aux]}
        arg, out, aux = sym.infer_shape_partial()
        m["infer_shape_partial_none"] = {"args": [list(s) for s in arg],
                                         "outputs": [list(s) for s in out],
                                         "aux": [list(s) for s in aux]}
    if types is not None:
        arg, out, aux = sym.infer_type(**types)
        name = lambda t: np.dtype(t).name  # noqa: E731
        m["infer_type"] = {"given": types, "args": [name(t) for t in arg],
                           "outputs": [name(t) for t in out], "aux": [name(t) for t in aux]}
    return m


def write(name, text):
    with open(os.path.join(OUT, name), "w") as f:
        f.write(text)


for case, build in symbol_cases.CASES.items():
    with mx.name.NameManager():
        sym, shapes, types = build(mx)
    write(case + ".json", sym.tojson())
    write(case + ".meta.json", json.dumps(meta_of(sym, shapes, types), indent=1, sort_keys=True))
    print("wrote", case)

write("legacy_v08.input.json", symbol_cases.LEGACY_V08)
legacy = mx.sym.load_json(symbol_cases.LEGACY_V08)
write("legacy_v08.json", legacy.tojson())
write("legacy_v08.meta.json",
      json.dumps(meta_of(legacy, {"data": (4, 3)}, {"data": "float32"}), indent=1,
                 sort_keys=True))
print("wrote legacy_v08")
