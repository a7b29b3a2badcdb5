"""`mx.init` / `mx.initializer`: parameter initializers (MXNet 1.9.1 `python/mxnet/initializer.py`).

An initializer is called as ``init(desc, arr)`` and fills ``arr`` in place. ``desc`` is either an
`InitDesc` (what Module passes: the name plus the variable's symbol attributes) or a plain
string (the legacy FeedForward path, which has a longer list of name suffix rules). Random
initializers draw from oxnet's generators, so ``mx.random.seed`` makes them reproducible.
"""
import json
import logging
import re
import warnings

import numpy as np

from .base import string_types
from .registry import ClassRegistry, get_create_func
from .ndarray import NDArray
from . import ndarray as _nd

__all__ = ["InitDesc", "Initializer", "register", "alias", "create", "Load", "Mixed", "Zero",
           "One", "Constant", "Uniform", "Normal", "Orthogonal", "Xavier", "MSRAPrelu",
           "Bilinear", "LSTMBias", "FusedRNN"]


class InitDesc(str):
    """Name of a parameter plus its symbol attributes (``attrs``) and the initializer that
    Module was given (``global_init``); a `str` so that name-based code keeps working."""

    def __new__(cls, name, attrs=None, global_init=None):
        desc = super(InitDesc, cls).__new__(cls, name)
        desc.attrs = attrs or {}
        desc.global_init = global_init
        return desc


# ---- registry: lower-cased class names and aliases -> classes ------------------------------

def register(klass):
    """Registers an `Initializer` subclass under its lower-cased class name (a decorator)."""
    return _REGISTRY.register(klass)


def alias(*aliases):
    """Decorator registering an `Initializer` subclass under extra names."""
    return _REGISTRY.alias(*aliases)


def create(*args, **kwargs):
    """Builds an initializer from an instance (returned as is), a registered name plus
    constructor arguments, a ``dumps()`` JSON string ``'["name", {kwargs}]'``, or a dict /
    JSON object with an ``initializer`` key."""
    return _create(*args, **kwargs)


# ---- random fills through oxnet's generators -----------------------------------------------

def _is_float(arr):
    return np.issubdtype(np.dtype(arr.dtype), np.floating)


def _fill_uniform(arr, low, high):
    if _is_float(arr):
        _nd.random.uniform(low, high, arr.shape, dtype=np.dtype(arr.dtype).name, out=arr)
    else:
        arr[:] = _nd.random.uniform(low, high, arr.shape, ctx=arr.context)


def _fill_normal(arr, loc, scale):
    if _is_float(arr):
        _nd.random.normal(loc, scale, arr.shape, dtype=np.dtype(arr.dtype).name, out=arr)
    else:
        arr[:] = _nd.random.normal(loc, scale, arr.shape, ctx=arr.context)


def _bilinear_kernel(shape):
    """Upsampling weights for a (..., kh, kw) kernel: a separable tent centred on the kernel,
    identical for every leading index (MXNet derives both axes' factor from the width)."""
    if len(shape) != 4:
        raise ValueError("Bilinear initialization needs a 4-D weight (out, in, kh, kw), "
                         "got shape %s" % (tuple(shape),))
    f = np.ceil(shape[3] / 2.0)
    c = (2 * f - 1 - f % 2) / (2.0 * f)
    x = np.arange(shape[3])
    y = np.arange(shape[2])
    tent = np.outer(1 - np.abs(y / f - c), 1 - np.abs(x / f - c)).astype(np.float32)
    return np.broadcast_to(tent, tuple(shape)).copy()


class Initializer(object):
    """Base class: dispatches on the parameter name's suffix to ``_init_weight``,
    ``_init_bias``, ``_init_gamma``... which subclasses override (at least ``_init_weight``)."""

    def __init__(self, **kwargs):
        self._kwargs = kwargs
        self._verbose = False
        self._print_func = None

    def set_verbosity(self, verbose=False, print_func=None):
        """Logs a statistic of every initialized array (default: ``norm(x) / sqrt(size)``)."""
        self._verbose = verbose
        if print_func is None:
            def print_func(x):
                return str(float(_nd.norm(x).asnumpy().ravel()[0]) / np.sqrt(x.size))
        self._print_func = print_func
        return self

    def _verbose_print(self, desc, init, arr):
        if self._verbose and self._print_func:
            logging.info("Initialized %s as %s: %s", desc, init, self._print_func(arr))

    def dumps(self):
        """JSON ``'["classname", {constructor kwargs}]'`` that `create` turns back into
        this initializer (stored as a variable's ``__init__`` attribute)."""
        return json.dumps([self.__class__.__name__.lower(), self._kwargs])

    def __eq__(self, other):
        if not isinstance(other, Initializer):
            return NotImplemented
        return type(self) is type(other) and self._kwargs == other._kwargs

    __hash__ = object.__hash__

    def __repr__(self):
        return "%s(%s)" % (self.__class__.__name__,
                           ", ".join("%s=%r" % kv for kv in self._kwargs.items()))

    def __call__(self, desc, arr):
        """Fills ``arr`` for the parameter described by ``desc`` (InitDesc or str)."""
        if not isinstance(desc, InitDesc):
            self._legacy_init(desc, arr)
            return
        if desc.global_init is None:
            desc.global_init = self
        # A per-variable initializer (Variable(init=...), BatchNorm's aux states) wins.
        init = desc.attrs.get("__init__", "")
        if init:
            create(init)._init_weight(desc, arr)
            self._verbose_print(desc, init, arr)
            return
        # Order matters: 'weight_quantize' ends differently from 'weight', 'min'/'max' are
        # checked after the common suffixes, exactly as MXNet does.
        for suffix, method in (("weight", self._init_weight), ("bias", self._init_bias),
                               ("gamma", self._init_gamma), ("beta", self._init_beta),
                               ("min", self._init_zero), ("max", self._init_one),
                               ("weight_quantize", self._init_quantized_weight),
                               ("bias_quantize", self._init_quantized_bias)):
            if desc.endswith(suffix):
                method(desc, arr)
                self._verbose_print(desc, suffix, arr)
                return
        self._init_default(desc, arr)

    def _legacy_init(self, name, arr):
        """Name-only dispatch of MXNet's old ``init(str, NDArray)`` calls (FeedForward)."""
        warnings.warn("\033[91mCalling initializer with init(str, NDArray) has been deprecated."
                      "please use init(mx.init.InitDesc(...), NDArray) instead.\033[0m",
                      DeprecationWarning, stacklevel=3)
        if not isinstance(name, string_types):
            raise TypeError("name must be a string, got %r" % (name,))
        if not isinstance(arr, NDArray):
            raise TypeError("arr must be an NDArray, got %s" % type(arr).__name__)
        if name.startswith("upsampling"):
            self._init_bilinear(name, arr)
        elif name.startswith("stn_loc") and name.endswith("weight"):
            self._init_zero(name, arr)
        elif name.startswith("stn_loc") and name.endswith("bias"):
            self._init_loc_bias(name, arr)
        else:
            for suffix, method in (("bias", self._init_bias), ("gamma", self._init_gamma),
                                   ("beta", self._init_beta), ("weight", self._init_weight),
                                   ("moving_mean", self._init_zero),
                                   ("moving_var", self._init_one),
                                   ("moving_inv_var", self._init_zero),
                                   ("moving_avg", self._init_zero),
                                   ("min", self._init_zero), ("max", self._init_one)):
                if name.endswith(suffix):
                    method(name, arr)
                    return
            self._init_default(name, arr)

    def _init_bilinear(self, _, arr):
        arr[:] = _bilinear_kernel(arr.shape)

    def _init_loc_bias(self, name, arr):
        # The identity affine transform of a spatial transformer's localisation net.
        if arr.shape[0] != 6:
            raise ValueError("stn_loc bias %s must have 6 elements, got shape %s"
                             % (name, arr.shape))
        arr[:] = np.array([1.0, 0, 0, 0, 1.0, 0])

    def _init_zero(self, _, arr):
        arr[:] = 0.0

    def _init_one(self, _, arr):
        arr[:] = 1.0

    def _init_bias(self, _, arr):
        arr[:] = 0.0

    def _init_gamma(self, _, arr):
        arr[:] = 1.0

    def _init_beta(self, _, arr):
        arr[:] = 0.0

    def _init_quantized_bias(self, _, arr):
        arr[:] = 0

    def _init_quantized_weight(self, _, arr):
        arr[:] = _nd.random.randint(-127, 127, arr.shape, dtype="int32").asnumpy().astype(np.int8)

    def _init_weight(self, name, arr):
        raise NotImplementedError("%s does not implement _init_weight (needed for %s)"
                                  % (self.__class__.__name__, name))

    def _init_default(self, name, _):
        raise ValueError(
            "Unknown initialization pattern for %s. Default initialization is now limited to "
            '"weight", "bias", "gamma" (1.0), and "beta" (0.0). Please use '
            "mx.sym.Variable(init=mx.init.*) to set initialization pattern" % name)


_REGISTRY = ClassRegistry(Initializer, "initializer", "mx.init.Initializer")
_create = get_create_func(Initializer, "initializer")


class Load(object):
    """Copies parameters from a dict or a ``.params`` file (``arg:``/``aux:`` prefixes are
    dropped); names not found go to ``default_init``."""

    def __init__(self, param, default_init=None, verbose=False):
        if isinstance(param, string_types):
            param = _nd.load(param)
        if not isinstance(param, dict):
            raise TypeError("Load needs a dict of name -> NDArray or a file of one, got %s"
                            % type(param).__name__)
        self.param = {}
        for name, arr in param.items():
            if name.startswith("arg:") or name.startswith("aux:"):
                name = name[4:]
            self.param[name] = arr
        self.default_init = default_init
        self.verbose = verbose

    def __call__(self, name, arr):
        if name in self.param:
            src = self.param[name]
            if tuple(arr.shape) != tuple(src.shape):
                raise ValueError("Parameter %s cannot be initialized from loading. Shape "
                                 "mismatch, target %s vs loaded %s"
                                 % (name, tuple(arr.shape), tuple(src.shape)))
            arr[:] = src
            if self.verbose:
                logging.info("Initialized %s by loading", name)
            return
        if self.default_init is None:
            raise ValueError("Cannot initialize %s: not found in loaded params and no default "
                             "initializer is provided" % name)
        self.default_init(name, arr)
        if self.verbose:
            logging.info("Initialized %s by default", name)


class Mixed(object):
    """Routes each parameter to the initializer of the first regex (``re.match``) that fits."""

    def __init__(self, patterns, initializers):
        if len(patterns) != len(initializers):
            raise ValueError("Mixed needs one initializer per pattern, got %d patterns and %d "
                             "initializers" % (len(patterns), len(initializers)))
        self.map = [(re.compile(p), init) for p, init in zip(patterns, initializers)]

    def __call__(self, name, arr):
        for prog, init in self.map:
            if prog.match(name):
                init(name, arr)
                return
        raise ValueError('Parameter name %s did not match any pattern (%s). Consider adding a '
                         '".*" pattern at the end with a default initializer.'
                         % (name, ", ".join(p.pattern for p, _ in self.map)))


@register
@alias("zeros")
class Zero(Initializer):
    """Weights = 0."""

    def __init__(self):
        super(Zero, self).__init__()

    def _init_weight(self, _, arr):
        arr[:] = 0


@register
@alias("ones")
class One(Initializer):
    """Weights = 1."""

    def __init__(self):
        super(One, self).__init__()

    def _init_weight(self, _, arr):
        arr[:] = 1


@register
class Constant(Initializer):
    """Weights = ``value`` (a scalar, or an array broadcastable to the weight)."""

    def __init__(self, value):
        super(Constant, self).__init__(value=value)
        self.value = value

    def _init_weight(self, _, arr):
        arr[:] = self.value

    def dumps(self):
        value = self._kwargs["value"]
        if not np.isscalar(value):
            # JSON cannot hold arrays; the list form round-trips through create().
            value = value.tolist() if isinstance(value, np.ndarray) else value.asnumpy().tolist()
        return json.dumps([self.__class__.__name__.lower(), {"value": value}])


@register
class Uniform(Initializer):
    """Weights ~ U[-scale, scale]."""

    def __init__(self, scale=0.07):
        super(Uniform, self).__init__(scale=scale)
        self.scale = scale

    def _init_weight(self, _, arr):
        _fill_uniform(arr, -self.scale, self.scale)


@register
class Normal(Initializer):
    """Weights ~ N(0, sigma^2)."""

    def __init__(self, sigma=0.01):
        super(Normal, self).__init__(sigma=sigma)
        self.sigma = sigma

    def _init_weight(self, _, arr):
        _fill_normal(arr, 0, self.sigma)


@register
class Orthogonal(Initializer):
    """``scale`` times the orthonormal factor of the SVD of a random (out, prod(in)) matrix
    (Saxe et al. 2013): orthonormal rows when out <= in, orthonormal columns otherwise."""

    def __init__(self, scale=1.414, rand_type="uniform"):
        if rand_type not in ("uniform", "normal"):
            raise ValueError("Orthogonal rand_type must be 'uniform' or 'normal', got %r"
                             % (rand_type,))
        super(Orthogonal, self).__init__(scale=scale, rand_type=rand_type)
        self.scale = scale
        self.rand_type = rand_type

    def _init_weight(self, _, arr):
        nout = arr.shape[0]
        nin = int(np.prod(arr.shape[1:]))
        if self.rand_type == "uniform":
            tmp = _nd.random.uniform(-1.0, 1.0, shape=(nout, nin)).asnumpy()
        else:
            tmp = _nd.random.normal(0.0, 1.0, shape=(nout, nin)).asnumpy()
        u, _, v = np.linalg.svd(tmp, full_matrices=False)
        res = u if u.shape == tmp.shape else v
        arr[:] = self.scale * res.reshape(arr.shape)


_XAVIER_RND = ("uniform", "gaussian")
_XAVIER_FACTOR = ("avg", "in", "out")


@register
class Xavier(Initializer):
    """Weights with scale ``sqrt(magnitude / factor)``, the factor being fan-in, fan-out or
    their mean (fans include the kernel's spatial size): U[-scale, scale] for
    ``rnd_type='uniform'``, N(0, scale^2) for ``'gaussian'``."""

    def __init__(self, rnd_type="uniform", factor_type="avg", magnitude=3):
        if rnd_type not in _XAVIER_RND:
            raise ValueError("Xavier rnd_type must be one of %s, got %r" % (_XAVIER_RND, rnd_type))
        if factor_type not in _XAVIER_FACTOR:
            raise ValueError("Xavier factor_type must be one of %s, got %r"
                             % (_XAVIER_FACTOR, factor_type))
        super(Xavier, self).__init__(rnd_type=rnd_type, factor_type=factor_type,
                                     magnitude=magnitude)
        self.rnd_type = rnd_type
        self.factor_type = factor_type
        self.magnitude = float(magnitude)

    def _init_weight(self, name, arr):
        shape = arr.shape
        if len(shape) < 2:
            raise ValueError("Xavier initializer cannot be applied to vector %s of shape %s. "
                             "It requires at least 2D." % (name, tuple(shape)))
        hw_scale = float(np.prod(shape[2:])) if len(shape) > 2 else 1.0
        fan_in, fan_out = shape[1] * hw_scale, shape[0] * hw_scale
        factor = {"avg": (fan_in + fan_out) / 2.0, "in": fan_in, "out": fan_out}[self.factor_type]
        scale = float(np.sqrt(self.magnitude / factor))
        if self.rnd_type == "uniform":
            _fill_uniform(arr, -scale, scale)
        else:
            _fill_normal(arr, 0, scale)


@register
class MSRAPrelu(Xavier):
    """He et al. 2015: Gaussian Xavier with magnitude ``2 / (1 + slope^2)``."""

    def __init__(self, factor_type="avg", slope=0.25):
        magnitude = 2.0 / (1 + slope ** 2)
        super(MSRAPrelu, self).__init__("gaussian", factor_type, magnitude)
        # dumps() must recreate MSRAPrelu, whose constructor takes these two.
        self._kwargs = {"factor_type": factor_type, "slope": slope}


@register
class Bilinear(Initializer):
    """Bilinear-interpolation kernels for Deconvolution-based upsampling."""

    def __init__(self):
        super(Bilinear, self).__init__()

    def _init_weight(self, _, arr):
        arr[:] = _bilinear_kernel(arr.shape)


@register
class LSTMBias(Initializer):
    """LSTM bias: 0 except the forget gate (the second of the four gate blocks)."""

    def __init__(self, forget_bias=1.0):
        super(LSTMBias, self).__init__(forget_bias=forget_bias)
        self.forget_bias = forget_bias

    def _init_weight(self, name, arr):
        num_hidden = int(arr.shape[0] / 4)
        bias = np.zeros(arr.shape, dtype=np.float64)
        bias[num_hidden:2 * num_hidden] = self.forget_bias
        arr[:] = bias


_RNN_GATES = {"rnn_relu": [""], "rnn_tanh": [""], "lstm": ["_i", "_f", "_c", "_o"],
              "gru": ["_r", "_z", "_o"]}


def _fused_rnn_layout(mode, num_layers, bidirectional, num_hidden, size):
    """(name, offset, shape) of every piece of the RNN op's flat parameter vector, in its
    order: all weights (per layer, direction: i2h then h2h, gate by gate), then all biases."""
    gates = _RNN_GATES[mode]
    dirs = ["l", "r"] if bidirectional else ["l"]
    b, m, h = len(dirs), len(gates), num_hidden
    num_input = size // b // h // m - (num_layers - 1) * (h + b * h + 2) - h - 2
    pieces, p = [], 0
    for layer in range(num_layers):
        width = num_input if layer == 0 else b * h
        for d in dirs:
            for kind, cols in (("i2h", width), ("h2h", h)):
                for g in gates:
                    pieces.append(("%s%d_%s%s_weight" % (d, layer, kind, g), p, (h, cols)))
                    p += h * cols
    for layer in range(num_layers):
        for d in dirs:
            for kind in ("i2h", "h2h"):
                for g in gates:
                    pieces.append(("%s%d_%s%s_bias" % (d, layer, kind, g), p, (h,)))
                    p += h
    if p != size or num_input <= 0:
        raise ValueError("FusedRNN: a parameter vector of %d elements does not fit mode=%s, "
                         "num_layers=%d, bidirectional=%s, num_hidden=%d"
                         % (size, mode, num_layers, bidirectional, num_hidden))
    return pieces


@register
class FusedRNN(Initializer):
    """Initializes the flat parameter vector of a fused RNN layer piece by piece: each
    weight with ``init`` (or the global initializer), biases with zero, and for LSTM the
    forget-gate biases (of both i2h and h2h, as MXNet does) with ``forget_bias``."""

    def __init__(self, init, num_hidden, num_layers, mode, bidirectional=False,
                 forget_bias=1.0):
        if isinstance(init, string_types):
            init = create(init)
        if mode not in _RNN_GATES:
            raise ValueError("FusedRNN mode must be one of %s, got %r"
                             % (sorted(_RNN_GATES), mode))
        super(FusedRNN, self).__init__(init=init.dumps() if init is not None else None,
                                       num_hidden=num_hidden, num_layers=num_layers, mode=mode,
                                       bidirectional=bidirectional, forget_bias=forget_bias)
        self._init = init
        self._num_hidden = num_hidden
        self._num_layers = num_layers
        self._mode = mode
        self._bidirectional = bidirectional
        self._forget_bias = forget_bias

    def _init_weight(self, desc, arr):
        inner = self._init if self._init is not None else getattr(desc, "global_init", None)
        if inner is None:
            raise ValueError("FusedRNN for %s has no init and no global initializer to fall "
                             "back to" % (desc,))
        flat = np.zeros(arr.size, dtype=np.dtype(arr.dtype))
        for name, offset, shape in _fused_rnn_layout(self._mode, self._num_layers,
                                                     self._bidirectional, self._num_hidden,
                                                     arr.size):
            size = int(np.prod(shape))
            if self._mode == "lstm" and name.endswith("_f_bias"):
                flat[offset:offset + size] = self._forget_bias
                continue
            piece = _nd.zeros(shape, ctx=arr.context, dtype=arr.dtype)
            inner(InitDesc(name, global_init=getattr(desc, "global_init", None)), piece)
            flat[offset:offset + size] = piece.asnumpy().ravel()
        arr[:] = flat.reshape(arr.shape)
