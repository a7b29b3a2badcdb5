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
    sym = mx.sym.load_json(text)
    label = [a for a in sym.list_arguments() if a.endswith("_label")]
    in_shapes = {"data": shape}
    in_shapes.update({a: (shape[0],) for a in label})
    arg_shapes, out_shapes, aux_shapes = sym.infer_shape(**in_shapes)
    shapes = dict(zip(sym.list_arguments(), arg_shapes))
    aux = dict(zip(sym.list_auxiliary_states(), aux_shapes))
    weights = zoo_cases.params({k: v for k, v in shapes.items() if k not in in_shapes})
    weights.update(zoo_cases.params(aux))
    args = {"data": mx.nd.array(zoo_cases.data(shape), dtype=dtype)}
    for a in label:
        args[a] = mx.nd.array(zoo_cases.labels(shape[0], out_shapes[0][1]), dtype=dtype)
    args.update({k: mx.nd.array(weights[k], dtype=dtype) for k in shapes if k not in in_shapes})
    grads = {k: mx.nd.zeros(s, dtype=dtype) for k, s in shapes.items() if k not in label}
    aux_nd = {k: mx.nd.array(weights[k], dtype=dtype) for k in aux}
    ex = sym.bind(mx.cpu(), args, args_grad=grads, aux_states=aux_nd)
    res[name + "/infer"] = ex.forward(is_train=False)[0].asnumpy()
    res[name + "/train"] = ex.forward(is_train=True)[0].asnumpy()
    ex.backward()
    res[name + "/grad"] = zoo_cases.summaries({k: g.asnumpy() for k, g in grads.items()})
    res[name + "/aux"] = zoo_cases.summaries({k: v.asnumpy() for k, v in aux_nd.items()})
    return {"arg_shapes": {k: list(v) for k, v in shapes.items()},
            "aux_shapes": {k: list(v) for k, v in aux.items()},
            "out_shapes": [list(s) for s in out_shapes]}


def main():
    symbols_dir = os.path.abspath(sys.argv[1])
    os.makedirs(OUT, exist_ok=True)
    res, meta = {}, {"mxnet": mx.__version__}
    for name, (module, kwargs, shape) in zoo_cases.CASES.items():
        text = get_symbol(symbols_dir, module, kwargs)
        with gzip.open(os.path.join(OUT, name + "-symbol.json.gz"), "wt") as f:
            f.write(text)
        meta[name] = run(name, text, shape, res)
        print(name, "done", flush=True)
    np.savez_compressed(os.path.join(OUT, "expected.npz"), **res)
    with gzip.open(os.path.join(OUT, "shapes.json.gz"), "wt") as f:
        json.dump(meta, f)


if __name__ == "__main__":
    main()
