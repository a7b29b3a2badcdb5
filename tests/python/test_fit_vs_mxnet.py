"""Training as MXNet 1.9.1 trains: each fit_cases run (Module, BucketingModule,
SequentialModule and FeedForward training; every placement of the updates; schedulers, loss
heads, checkpoints, logs) ends with the parameters, metrics, scores and predictions that real
MXNet reached from the same start (data/fit/expected.npz, written by fit_mxnet_ref.py)."""
import os

import numpy as np
import pytest

import fit_cases
import oxnet as mx

# The cases use deprecated and lenient APIs on purpose; MXNet warns for them the same way.
pytestmark = [pytest.mark.filterwarnings("ignore:.*FeedForward has been deprecated"),
              pytest.mark.filterwarnings("ignore:learning rate from ``lr_scheduler``"),
              pytest.mark.filterwarnings("ignore:Optimizer created manually"),
              pytest.mark.filterwarnings("ignore:Parameters already initialized")]

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "fit", "expected.npz")


@pytest.fixture(scope="module")
def expected():
    with np.load(DATA) as f:
        return {k: f[k] for k in f.files}


@pytest.mark.parametrize("name", sorted(fit_cases.CASES))
def test_fit_matches_mxnet(name, expected):
    got = fit_cases.run(mx, name)
    want = {k.split("/", 1)[1]: v for k, v in expected.items() if k.startswith(name + "/")}
    assert sorted(got) == sorted(want)
    for key, value in want.items():
        if value.dtype.kind == "U":
            assert str(got[key]) == str(value), key
        else:
            # float32 training: a few epochs of rounding differences, nothing more.
            np.testing.assert_allclose(got[key], value, rtol=1e-4, atol=1e-5, err_msg=key)
