"""Test data, contexts and environment helpers of ``mx.test_utils`` (MXNet 1.9.1): random
shapes and arrays (from numpy's global generator, as MXNet draws them), large-tensor
builders, ``DummyIter``, ``environment``, ``discard_stderr`` and ``compare_optimizer``."""
import os
import platform
import sys
from contextlib import contextmanager

import numpy as np

from .. import ndarray as nd
from .. import random as _random
from ..context import Context, current_context
from ..io import DataIter
from ..util import get_gpu_count
from .compare import assert_almost_equal, compare_ndarray_tuple, default_dtype

def default_context():
    """The context test helpers run on: the calling thread's current context."""
    return current_context()


def set_default_context(ctx):
    """Makes `ctx` the calling thread's current context (MXNet's test helper does the same)."""
    Context._default.value = Context(ctx)


def rand_shape_2d(dim0=10, dim1=10, allow_zero_size=False):
    """A random (d0, d1) with 1 <= d_i <= dim_i (0 allowed with ``allow_zero_size``)."""
    low = 0 if allow_zero_size else 1
    return np.random.randint(low, dim0 + 1), np.random.randint(low, dim1 + 1)


def rand_shape_3d(dim0=10, dim1=10, dim2=10, allow_zero_size=False):
    low = 0 if allow_zero_size else 1
    return (np.random.randint(low, dim0 + 1), np.random.randint(low, dim1 + 1),
            np.random.randint(low, dim2 + 1))


def rand_shape_nd(num_dim, dim=10, allow_zero_size=False):
    low = 0 if allow_zero_size else 1
    return tuple(np.random.randint(low, dim + 1, size=num_dim))


def rand_coord_2d(x_low, x_high, y_low, y_high):
    x = np.random.randint(x_low, x_high, dtype=np.int64)
    y = np.random.randint(y_low, y_high, dtype=np.int64)
    return x, y


def random_arrays(*shapes):
    """Standard-normal float32 numpy arrays of the given shapes (one array for one shape;
    ``()`` gives a 0-d array)."""
    arrays = [np.array(np.random.randn(), dtype=default_dtype()) if len(s) == 0
              else np.random.randn(*s).astype(default_dtype()) for s in shapes]
    if len(arrays) == 1:
        return arrays[0]
    return arrays


def random_uniform_arrays(*shapes, **kwargs):
    """A list of uniform [low, high) arrays (keywords ``low``=0, ``high``=1, ``dtype``)."""
    low = kwargs.pop("low", 0.0)
    high = kwargs.pop("high", 1.0)
    dtype = kwargs.pop("dtype", default_dtype())
    if kwargs:
        raise TypeError("Got unexpected argument/s : " + str(kwargs.keys()))
    return [np.random.uniform(low, high, size=s).astype(dtype) for s in shapes]


def random_sample(population, k):
    """``k`` elements of the list ``population`` in random order (numpy's generator)."""
    assert 0 <= k <= len(population)
    population_copy = population[:]
    np.random.shuffle(population_copy)
    return population_copy[0:k]


def rand_ndarray(shape, stype="default", density=None, dtype=None, modifier_func=None,
                 shuffle_csr_indices=False, distribution=None, ctx=None):
    """A standard-normal NDArray (float32 unless ``dtype``), or for a sparse ``stype`` the
    array of ``rand_sparse_ndarray`` (values uniform in [0, 1))."""
    if stype == "default":
        return nd.array(random_arrays(shape), ctx=ctx or default_context(), dtype=dtype)
    from .sparse import rand_sparse_ndarray
    arr, _ = rand_sparse_ndarray(shape, stype, density=density, dtype=dtype,
                                 modifier_func=modifier_func,
                                 shuffle_csr_indices=shuffle_csr_indices,
                                 distribution=distribution, ctx=ctx)
    return arr


def create_vector(size, dtype=np.int64):
    """``arange(size)`` as an NDArray (MXNet's large-vector tests)."""
    return nd.arange(0, size, dtype=dtype)


def create_2d_tensor(rows, columns, dtype=np.int64):
    """A (rows, columns) NDArray whose row i is all i."""
    a = nd.arange(0, rows, dtype=dtype).reshape((rows, 1))
    return nd.broadcast_to(a, shape=(a.shape[0], columns))


def get_identity_mat(size):
    return nd.array(np.eye(size, dtype=np.float32))


def get_identity_mat_batch(size):
    eye = np.eye(size, dtype=np.float32)
    return nd.array(np.stack([eye, eye]))


def assign_each(the_input, function):
    """``function`` applied to each element of a numpy array (float64 result)."""
    if function is None:
        return np.array(the_input)
    return np.vectorize(function, otypes=[np.float64])(the_input)


def assign_each2(input1, input2, function):
    """``function`` applied elementwise to two same-shape numpy arrays (float64 result)."""
    if function is None:
        return np.array(input1)
    assert input1.shape == input2.shape
    return np.vectorize(function, otypes=[np.float64])(input1, input2)


def list_gpus():
    """``range(number of GPUs)``."""
    return range(get_gpu_count())


def is_op_runnable():
    """Whether MXNet's tests may run their operators on the current context: MXNet answered
    False only for its TVM-generated operators on old GPUs, which oxnet does not have."""
    return True


class DummyIter(DataIter):
    """An endless iterator returning ``real_iter``'s first batch every time (for timing)."""

    def __init__(self, real_iter):
        super().__init__()
        self.real_iter = real_iter
        self.provide_data = real_iter.provide_data
        self.provide_label = real_iter.provide_label
        self.batch_size = real_iter.batch_size
        self.the_batch = next(real_iter)

    def __iter__(self):
        return self

    def next(self):
        return self.the_batch


@contextmanager
def discard_stderr():
    """Discards error output inside the block: file descriptor 2 (so native code's output
    too), the descriptor behind ``sys.stderr`` when that is another one (as under pytest's
    capture), and ``sys.stderr`` itself go to /dev/null."""
    fds = {2}
    try:
        fds.add(sys.stderr.fileno())
    except (AttributeError, ValueError, OSError):
        pass
    with open(os.devnull, "w") as bit_bucket:
        saved_stream = sys.stderr
        saved_stream.flush()
        saved_fds = {fd: os.dup(fd) for fd in fds}
        try:
            for fd in fds:
                os.dup2(bit_bucket.fileno(), fd)
            sys.stderr = bit_bucket
            yield
        finally:
            sys.stderr = saved_stream
            for fd, saved in saved_fds.items():
                os.dup2(saved, fd)
                os.close(saved)


@contextmanager
def environment(*args):
    """Sets environment variables inside the block and restores them after, exceptions or not.
    ``environment(name, value)`` or ``environment({name: value, ...})``; a value of None
    unsets. oxnet's core reads the process environment, so no separate backend copy exists."""
    if len(args) == 1 and isinstance(args[0], dict):
        env_vars = args[0]
    else:
        assert len(args) == 2, "Expecting one dict arg or two args: env var name and value"
        env_vars = {args[0]: args[1]}

    def set_environ(values):
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    snapshot = {name: os.environ.get(name) for name in env_vars}
    set_environ(env_vars)
    try:
        yield
    finally:
        # Work already queued may still read the changed values.
        nd.waitall()
        set_environ(snapshot)


def _pair(shape, stype, dtype, ctx, density):
    """A random array of `stype` and its dense copy."""
    if stype == "default":
        a = _random.uniform(shape=shape, ctx=ctx, dtype=dtype)
        return a, a.copyto(ctx)
    if stype not in ("row_sparse", "csr"):
        raise ValueError("compare_optimizer: unknown storage type %r" % (stype,))
    a = rand_ndarray(shape, stype, density=density, dtype=dtype)
    return a, a.copyto(ctx).tostype("default")


def compare_optimizer(opt1, opt2, shape, dtype, w_stype="default", g_stype="default",
                      rtol=1e-4, atol=1e-5, compare_states=True, ntensors=1):
    """Runs one update of ``opt1`` and ``opt2`` from the same random weight and gradient and
    asserts equal weights (and states). With a list of shapes, ``opt2`` updates all tensors
    in one multi-tensor call and ``opt1`` one by one."""
    ctx = default_context()
    if not isinstance(shape, list):
        assert ntensors == 1
        # As MXNet's: `opt1` (the reference) gets dense copies; a sparse gradient has random
        # density, so rows without gradient (the lazy-update case) occur.
        w2, w1 = _pair(shape, w_stype, dtype, ctx, density=1)
        g2, g1 = _pair(shape, g_stype, dtype, ctx, density=None)
        state1 = opt1.create_state_multi_precision(0, w1)
        state2 = opt2.create_state_multi_precision(0, w2)
        if compare_states:
            compare_ndarray_tuple(state1, state2)
        opt1.update_multi_precision(0, w1, g1, state1)
        opt2.update_multi_precision(0, w2, g2, state2)
        if compare_states:
            compare_ndarray_tuple(state1, state2, rtol=rtol, atol=atol)
        assert_almost_equal(w1, w2, rtol=rtol, atol=atol)
        return
    w1 = tuple(_random.uniform(shape=s, ctx=ctx, dtype=dtype) for s in shape)
    g1 = tuple(_random.uniform(shape=s, ctx=ctx, dtype=dtype) for s in shape)
    w2 = tuple(w.copy() for w in w1)
    g2 = tuple(g.copy() for g in g1)
    state2 = [opt2.create_state_multi_precision(0, w2[i]) for i in range(ntensors)]
    opt2.update_multi_precision(list(range(ntensors)), w2, g2, state2)
    for i in range(ntensors):
        state1 = opt1.create_state_multi_precision(i, w1[i])
        opt1.update_multi_precision(i, w1[i], g1[i], state1)
        if compare_states:
            compare_ndarray_tuple(state1, state2[i], rtol, atol)
        compare_ndarray_tuple(w1[i], w2[i], rtol, atol)


def is_cd_run():
    """True inside MXNet's continuous-delivery jobs (``CD_JOB=1``)."""
    return os.environ.get("CD_JOB", 0) == "1"


def is_aarch64_run():
    return platform.machine() == "aarch64"


def new_matrix_with_real_eigvals_2d(n):
    """A random n x n matrix ``Q^-1 D Q`` with real eigenvalues ``diag(D)`` in (-10, 10) and
    a well-conditioned ``Q`` (a Householder reflection times a diagonal, cond < 3)."""
    while True:
        d = np.diag(np.random.uniform(-1.0, 1.0, n))
        v = np.random.uniform(-1.0, 1.0, n).reshape(n, 1)
        v = v / np.linalg.norm(v, axis=-2, keepdims=True)
        q = np.matmul(np.eye(n) - 2 * np.matmul(v, v.T), d)
        if np.linalg.cond(q, 2) < 3:
            break
    d = np.diag(np.random.uniform(-10.0, 10.0, n))
    return np.matmul(np.matmul(np.linalg.inv(q), d), q)


def new_matrix_with_real_eigvals_nd(shape):
    """A batch of ``new_matrix_with_real_eigvals_2d`` of shape ``(..., n, n)``."""
    count = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return np.array([new_matrix_with_real_eigvals_2d(shape[-1])
                     for _ in range(count)]).reshape(shape)


def new_orthonormal_matrix_2d(n):
    """A random n x n orthonormal matrix (Q of the QR of a random symmetric matrix)."""
    x = np.random.randn(n, n)
    return np.linalg.qr(np.matmul(x.T, x))[0]


def new_sym_matrix_with_real_eigvals_2d(n):
    """A random symmetric ``Q^T D Q`` with eigenvalues ``diag(D)`` in (-10, 10)."""
    q = new_orthonormal_matrix_2d(n)
    d = np.diag(np.random.uniform(-10.0, 10.0, n))
    return np.matmul(np.matmul(q.T, d), q)


def new_sym_matrix_with_real_eigvals_nd(shape):
    """A batch of ``new_sym_matrix_with_real_eigvals_2d`` of shape ``(..., n, n)``."""
    count = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return np.array([new_sym_matrix_with_real_eigvals_2d(shape[-1])
                     for _ in range(count)]).reshape(shape)
