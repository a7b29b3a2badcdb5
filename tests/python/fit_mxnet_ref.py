"""Writes tests/python/data/fit/expected.npz with Apache MXNet 1.9.1 (mxref) for
test_fit_vs_mxnet.py: every case of fit_cases run by real MXNet, its arrays stored as
"case/key". Run from tests/python as
    /work/mxref/bin/python fit_mxnet_ref.py
Never imported by the tests.

REFERENCE_KERNELS cases run in a child process with MXNET_MKLDNN_ENABLED=0: MXNet's oneDNN
FullyConnected gives a zero bias gradient when the weight is fixed (its reference kernels and
oxnet give the true one).
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

import fit_cases

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "fit", "expected.npz")
REFERENCE_KERNELS = {"fixed_weight"}


def record(names, path):
    import mxnet as mx
    arrays = {}
    for name in names:
        for key, value in fit_cases.run(mx, name).items():
            arrays[name + "/" + key] = np.asarray(value)
    np.savez(path, **arrays)


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--only":
        record(sys.argv[3:], sys.argv[2])
        return
    arrays = {}
    with tempfile.TemporaryDirectory() as tmp:
        for names, env in [(sorted(set(fit_cases.CASES) - REFERENCE_KERNELS), {}),
                           (sorted(REFERENCE_KERNELS), {"MXNET_MKLDNN_ENABLED": "0",
                                                        "MXNET_STORAGE_FALLBACK_LOG_VERBOSE": "0"})]:
            path = os.path.join(tmp, "part.npz")
            subprocess.run([sys.executable, os.path.abspath(__file__), "--only", path] + names,
                           check=True, env=dict(os.environ, **env))
            with np.load(path) as part:
                arrays.update({k: part[k] for k in part.files})
    np.savez_compressed(OUT, **arrays)
    print("wrote %d arrays of %d cases to %s" % (len(arrays), len(fit_cases.CASES), OUT))


if __name__ == "__main__":
    main()
