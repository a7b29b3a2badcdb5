"""``mx.test_utils``: the helpers MXNet 1.9.1's and users' test suites call, under the same
names and with the same signatures and semantics (differences are noted where they are).

- ``compare``: dtype-dependent tolerances, ``assert_almost_equal`` and its variants,
  ``np_reduce``, ``collapse_sum_like``, ``same_array``, ``same_symbol_structure``
- ``generate``: random shapes and arrays, ``DummyIter``, ``environment``,
  ``discard_stderr``, ``compare_optimizer``
- ``symbolic``: ``check_symbolic_forward``/``backward``, ``check_numeric_gradient``,
  ``numeric_grad``, ``check_consistency``, ``check_speed``
- ``stats``: ``mean_check``, ``var_check``, ``chi_square_check``, ``verify_generator``
- ``sparse``: ``rand_sparse_ndarray``, ``create_sparse_array(_zd)``,
  ``shuffle_csr_column_indices``
- ``data``: ``download`` and the MNIST / CIFAR-10 getters (offline when the files exist)
"""
# MXNet's test_utils has no __all__, so `from mxnet.test_utils import *`, the first line of
# MXNet's own test files and of many users', also hands over the modules it imports.
import bz2  # noqa: F401
import errno  # noqa: F401
import gzip  # noqa: F401
import json  # noqa: F401
import logging  # noqa: F401
import numbers  # noqa: F401
import os  # noqa: F401
import platform  # noqa: F401
import struct  # noqa: F401
import sys  # noqa: F401
import time  # noqa: F401
import traceback  # noqa: F401
import zipfile  # noqa: F401
from collections import OrderedDict  # noqa: F401
from contextlib import contextmanager  # noqa: F401

import numpy as np  # noqa: F401
import numpy.random as rnd  # noqa: F401
import numpy.testing as npt  # noqa: F401

import oxnet as mx  # noqa: F401
from ..context import Context, current_context  # noqa: F401
from ..ndarray import array  # noqa: F401
from ..symbol import Symbol  # noqa: F401
from ..util import get_cuda_compute_capability, getenv, setenv  # noqa: F401

from .compare import (
    almost_equal, assert_allclose, assert_almost_equal, assert_almost_equal_ignore_nan,
    assert_almost_equal_with_err, assert_exception, checkShapes, collapse_sum_like,
    compare_ndarray_tuple, default_atols, default_dtype, default_numeric_eps, default_rtols,
    effective_dtype, get_atol, get_etol, get_rtol, get_tolerance, get_tols, locationError,
    np_reduce, retry, same, same_array, same_symbol_structure)
from .generate import (
    DummyIter, assign_each, assign_each2, compare_optimizer, create_2d_tensor, create_vector,
    default_context, discard_stderr, environment, get_identity_mat, get_identity_mat_batch,
    is_aarch64_run, is_cd_run, is_op_runnable, list_gpus, new_matrix_with_real_eigvals_2d,
    new_matrix_with_real_eigvals_nd, new_orthonormal_matrix_2d,
    new_sym_matrix_with_real_eigvals_2d, new_sym_matrix_with_real_eigvals_nd, rand_coord_2d, rand_ndarray, rand_shape_2d, rand_shape_3d, rand_shape_nd,
    random_arrays, random_sample, random_uniform_arrays, set_default_context)
from .symbolic import (
    check_consistency, check_numeric_gradient, check_speed, check_symbolic_backward,
    check_symbolic_forward, numeric_grad, simple_forward)
from .sparse import (
    create_sparse_array, create_sparse_array_zd, rand_sparse_ndarray, shuffle_csr_column_indices)
from .stats import (
    chi_square_check, gen_buckets_probs_with_ppf, mean_check, var_check, verify_generator)
from .data import (
    download, download_model, get_bz2_data, get_cifar10, get_im2rec_path, get_mnist,
    get_mnist_iterator, get_mnist_pkl, get_mnist_ubyte, get_zip_data)
