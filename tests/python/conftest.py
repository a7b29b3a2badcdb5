import os

import numpy as np
import pytest

DATA = os.path.join(os.path.dirname(__file__), "..", "data")


@pytest.fixture(autouse=True)
def _seed():
    np.random.seed(1234)
    yield
