"""Writes tests/python/data/model_zoo/ with Apache MXNet 1.9.1 (mxref) for test_model_zoo.py.
Run from tests/python, with the `symbols` folder of MXNet 1.9.1's
example/image-classification (from the apache/mxnet source at tag 1.9.1), as
    MXNET_ENGINE_TYPE=NaiveEngine /work/mxref/bin/python zoo_mxnet_ref.py PATH/TO/symbols
Never imported by the tests.

For each network of zoo_cases.CASES: the -symbol.json MXNet writes for it (gzipped; Dropout's
`p` set to 0 so that a training pass is deterministic), and from one bind in float64 (float32
for zoo_cases.FLOAT32_ONLY) with zoo_cases' weights and data: the inference output, the training output, every argument's gradient after
`backward()` and the auxiliary states after the training pass (zoo_cases.summary of each, stacked
in argument order).
"""
import gzip
import importlib.util
import json
import os
import sys

import mxnet as mx
import numpy as np

import zoo_cases

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "model_zoo")


def get_symbol(symbols_dir, module, kwargs):
    sys.path.insert(0, symbols_dir)
    spec = importlib.util.spec_from_file_location(module, os.path.join(symbols_dir, module + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    sym = mod.get_symbol(**kwargs)
    graph = json.loads(sym.tojson())
    for node in graph["nodes"]:
        if node["op"] == "Dropout":
            node.setdefault("attrs", {})["p"] = "0"
    return json.dumps(graph)


def run(name, text, shape, res):
    dtype = np.float32 if name in zoo_cases.FLOAT32_ONLY else np.float64
    meta, infer, train, grads, aux = zoo_cases.run(mx, mx.sym.load_json(text), shape, dtype)
    res[name + "/infer"], res[name + "/train"] = infer, train
    res[name + "/grad"] = zoo_cases.summaries(grads)
    res[name + "/aux"] = zoo_cases.summaries(aux)
    return meta


def write_gz(path, text):
    # no timestamp in the header, so that a rerun rewrites the same bytes
    with open(path, "wb") as f:
        f.write(gzip.compress(text.encode(), mtime=0))


def main():
    symbols_dir = os.path.abspath(sys.argv[1])
    os.makedirs(OUT, exist_ok=True)
    res, meta = {}, {"mxnet": mx.__version__}
    for name, (module, kwargs, shape) in zoo_cases.CASES.items():
        text = get_symbol(symbols_dir, module, kwargs)
        write_gz(os.path.join(OUT, name + "-symbol.json.gz"), text)
        meta[name] = run(name, text, shape, res)
        print(name, "done", flush=True)
    np.savez_compressed(os.path.join(OUT, "expected.npz"), **res)
    write_gz(os.path.join(OUT, "shapes.json.gz"), json.dumps(meta))


if __name__ == "__main__":
    main()
