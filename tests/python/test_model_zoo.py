"""MXNet 1.9.1's image-classification networks (example/image-classification/symbols) from the
-symbol.json files MXNet wrote for them: oxnet infers MXNet's shapes and, with the same
weights, gives MXNet's outputs, gradients and updated BatchNorm statistics
(data/model_zoo, written by zoo_mxnet_ref.py in float64)."""
import gzip
import json
import os

import numpy as np
import pytest

import oxnet as mx
import zoo_cases

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "model_zoo")
FLOAT64 = [n for n in zoo_cases.CASES if n not in zoo_cases.FLOAT32_ONLY]


@pytest.fixture(scope="module")
def golden():
    with gzip.open(os.path.join(DATA, "shapes.json.gz"), "rt") as f:
        meta = json.load(f)
    return meta, np.load(os.path.join(DATA, "expected.npz"))


def run(name, dtype, meta):
    """The network MXNet wrote, run as zoo_cases.run; its inferred shapes are MXNet's. Returns
    the outputs and the names and summaries of gradients and auxiliary states."""
    with gzip.open(os.path.join(DATA, name + "-symbol.json.gz"), "rt") as f:
        sym = mx.sym.load_json(f.read())
    shapes, infer, train, grads, aux = zoo_cases.run(mx, sym, zoo_cases.CASES[name][2], dtype)
    assert shapes == {k: meta[k] for k in shapes}
    return (infer, train, list(grads), zoo_cases.summaries(grads), list(aux),
            zoo_cases.summaries(aux))


def close_summaries(names, got, want, what, rtol, floor):
    """Each row [norm, sum, samples] against MXNet's, errors relative to the tensor's own scale
    (its rms for entries, its norm and the sum itself for the sum), never below ``floor`` times the largest norm:
    gradients that are zero in exact arithmetic (a bias before a BatchNorm in training) hold
    only rounding."""
    atol = floor * want[:, 0].max(initial=0.0)
    for k, g, e in zip(names, got, want):
        rms = e[0] / np.sqrt(zoo_cases.SAMPLES)
        assert abs(g[0] - e[0]) <= rtol * e[0] + atol, (what, k, "norm", g[0], e[0])
        assert abs(g[1] - e[1]) <= rtol * (e[0] + abs(e[1])) + atol, (what, k, "sum", g[1], e[1])
        np.testing.assert_allclose(g[2:], e[2:], rtol=rtol, atol=rtol * rms + atol,
                                   err_msg=f"{what} {k} entries")


@pytest.mark.parametrize("name", FLOAT64)
def test_zoo_network_matches_mxnet_float64(name, golden):
    meta, expected = golden
    infer, train, gnames, grads, anames, aux = run(name, np.float64, meta[name])
    np.testing.assert_allclose(infer, expected[name + "/infer"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(train, expected[name + "/train"], rtol=1e-9, atol=1e-12)
    close_summaries(gnames, grads, expected[name + "/grad"], name + " gradient", 1e-6, 1e-9)
    close_summaries(anames, aux, expected[name + "/aux"], name + " auxiliary state", 1e-9, 0)


@pytest.mark.parametrize("name", list(zoo_cases.CASES))
def test_zoo_network_float32(name, golden):
    meta, expected = golden
    infer, train, gnames, grads, anames, aux = run(name, np.float32, meta[name])
    np.testing.assert_allclose(infer, expected[name + "/infer"], rtol=2e-3, atol=1e-5)
    np.testing.assert_allclose(train, expected[name + "/train"], rtol=2e-3, atol=1e-5)
    close_summaries(anames, aux, expected[name + "/aux"], name + " auxiliary state", 2e-3, 0)
    want = expected[name + "/grad"]
    if name in zoo_cases.FLOAT32_ONLY:
        # MXNet's float32 golden: both sides round alike but for max pooling's near-ties
        close_summaries(gnames, grads, want, name + " gradient", 5e-3, 1e-6)
        return
    # float32 against float64: BatchNorm's backward pass in these deep random networks turns
    # rounding into percents of single entries (MXNet's own float32 run: up to 6% of a norm
    # in inception-v4, a median of 0.25%), so the norms are compared, most of them tightly
    big = want[:, 0].max(initial=0.0)
    errs = [abs(g[0] - e[0]) / e[0] for g, e in zip(grads, want) if e[0] > 1e-6 * big]
    assert np.median(errs) < 5e-3 and max(errs) < 0.1, (name, np.median(errs), max(errs))
