"""`assert_almost_equal` with this suite's bounds. `mx.test_utils.assert_almost_equal` defaults to
MXNet's per-dtype tolerances (float32: rtol 1e-4, atol 1e-3) for users' tests; oxnet's own tests
keep the tighter rtol 1e-5 / atol 1e-20 unless a test passes its own."""
import functools

from oxnet.test_utils import assert_almost_equal as _assert_almost_equal

assert_almost_equal = functools.partial(_assert_almost_equal, rtol=1e-5, atol=1e-20)
