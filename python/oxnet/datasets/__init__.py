"""Small real data sets shipped inside the package, so demos and tests need no network."""
import gzip
import os

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))


def load_digits():
    """The UCI handwritten digits (see LICENSE-DATA.md): ``(images, labels)`` with images of
    shape (1797, 8, 8), float32 scaled to [0, 1], and int labels 0..9."""
    with gzip.open(os.path.join(_HERE, "digits.csv.gz"), "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float32)
    images = (table[:, :64] / 16.0).reshape(-1, 8, 8)
    return images, table[:, 64].astype(np.int64)


def train_test_split(n, test_fraction=0.2, seed=0):
    """Index arrays (train, test): a fixed random split, the same on every machine."""
    order = np.random.RandomState(seed).permutation(n)
    n_test = int(round(n * test_fraction))
    return np.sort(order[n_test:]), np.sort(order[:n_test])
