"""Imperative automatic differentiation (MXNet's ``mx.autograd``).

Operations on arrays marked with ``attach_grad`` are recorded inside ``record()``; ``backward``
then runs each op's gradient rule (the same rules as ``Executor.backward``).
"""
import weakref

from . import _native
from .ndarray.ndarray import NDArray

__all__ = ["record", "pause", "train_mode", "predict_mode", "is_recording", "is_training",
           "set_recording", "set_training", "mark_variables", "backward", "grad", "Function",
           "get_symbol",
           # MXNet's module has no __all__: MXNet 1.x test files use NDArray after `import *`.
           "NDArray"]


def set_recording(is_recording):
    """Sets recording on or off; returns the previous state."""
    return _native.set_recording(bool(is_recording))


def set_training(train_mode):
    """Sets training mode on or off; returns the previous state."""
    return _native.set_training(bool(train_mode))


def is_recording():
    return _native.is_recording()


def is_training():
    return _native.is_training()


class _RecordingStateScope:
    """Scope that sets recording and/or training flags and restores them on exit."""

    def __init__(self, is_record, train_mode):
        self._enter_is_record = is_record
        self._enter_train_mode = train_mode
        self._prev_is_record = None
        self._prev_train_mode = None

    def __enter__(self):
        if self._enter_is_record is not None:
            self._prev_is_record = set_recording(self._enter_is_record)
        if self._enter_train_mode is not None:
            self._prev_train_mode = set_training(self._enter_train_mode)
        return self

    def __exit__(self, *exc):
        # As MXNet: a flag the scope did not change is left as the block left it
        if self._enter_is_record is not None and self._prev_is_record != self._enter_is_record:
            set_recording(self._prev_is_record)
        if self._enter_train_mode is not None and \
                self._prev_train_mode != self._enter_train_mode:
            set_training(self._prev_train_mode)
        return False


def record(train_mode=True):
    """Records operations for ``backward`` (in training mode unless ``train_mode=False``)."""
    return _RecordingStateScope(True, train_mode)


def pause(train_mode=False):
    """Stops recording inside a ``record()`` block."""
    return _RecordingStateScope(False, train_mode)


def train_mode():
    """Runs ops in training mode (Dropout drops, BatchNorm uses batch statistics)."""
    return _RecordingStateScope(None, True)


def predict_mode():
    """Runs ops in inference mode."""
    return _RecordingStateScope(None, False)


def _as_list(x):
    if x is None:
        return None
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _check_arrays(xs, what):
    for x in xs:
        if x is not None and not isinstance(x, NDArray):
            raise TypeError("%s must be NDArray or a list of NDArrays, got %s" % (what, type(x).__name__))


def mark_variables(variables, gradients, grad_reqs="write"):
    """Marks arrays as variables whose gradients are written into ``gradients``."""
    variables, gradients = _as_list(variables), _as_list(gradients)
    if isinstance(grad_reqs, str):
        grad_reqs = [grad_reqs] * len(variables)
    if len(variables) != len(gradients) or len(variables) != len(grad_reqs):
        raise ValueError("mark_variables: variables, gradients and grad_reqs must have the same length")
    _check_arrays(variables, "variables")
    _check_arrays(gradients, "gradients")
    _native.mark_variables(variables, gradients, list(grad_reqs))
    for v, g in zip(variables, gradients):
        _remember_grad_class(v, g)


# The class of each variable's gradient buffer (by the variable's id, dropped with the
# variable): `x.grad` of a variable marked with a sparse gradient is a sparse array again.
_GRAD_CLASS = {}


def _remember_grad_class(var, grad):
    key = id(var)
    if type(grad) is NDArray:
        _GRAD_CLASS.pop(key, None)
        return
    if key not in _GRAD_CLASS:
        weakref.finalize(var, _GRAD_CLASS.pop, key, None)
    _GRAD_CLASS[key] = type(grad)


def _head_grads(heads, head_grads):
    if head_grads is None:
        return [None] * len(heads)
    head_grads = _as_list(head_grads)
    if len(head_grads) != len(heads):
        raise ValueError("heads and head_grads must have the same length (%d vs %d)"
                         % (len(heads), len(head_grads)))
    _check_arrays(head_grads, "head_grads")
    return head_grads


def backward(heads, head_grads=None, retain_graph=False, train_mode=True):
    """Computes the gradients of ``heads`` into the attached gradient buffers. Without
    ``retain_graph`` the recorded history is freed, as in MXNet: a second backward through it
    raises."""
    heads = _as_list(heads)
    _check_arrays(heads, "heads")
    _native.backward(heads, _head_grads(heads, head_grads), bool(train_mode), bool(retain_graph))


def grad(heads, variables, head_grads=None, retain_graph=None, create_graph=False, train_mode=True):
    """Returns the gradients of ``heads`` with respect to ``variables`` (new arrays; with
    ``create_graph=True`` they are recorded, so they can be differentiated again)."""
    heads = _as_list(heads)
    variables = _as_list(variables)
    _check_arrays(heads, "heads")
    _check_arrays(variables, "variables")
    if retain_graph is None:
        retain_graph = create_graph
    return _native.grad(heads, variables, _head_grads(heads, head_grads), bool(create_graph),
                        bool(train_mode), bool(retain_graph))


class Function(object):
    """A differentiable function with a hand-written gradient, as MXNet's: subclass it, define
    ``forward(*inputs)`` and ``backward(*output_grads)`` (returning one gradient per input) on
    NDArrays, and call an instance once. ``save_for_backward`` keeps arrays for backward in
    ``self.saved_tensors``."""

    def __init__(self):
        self._used = False
        self.saved_tensors = ()

    def save_for_backward(self, *args):
        self.saved_tensors = args

    def __call__(self, *inputs):
        if self._used:
            raise RuntimeError("Each Function instance can only be called once. "
                               "Please create another instance.")
        self._used = True
        with _RecordingStateScope(False, None):
            outputs = self.forward(*inputs)
        if not is_recording():
            return outputs
        single = isinstance(outputs, NDArray)
        outs = [outputs] if single else list(outputs)
        _check_arrays(outs, "%s.forward's outputs" % type(self).__name__)
        _check_arrays(inputs, "%s's inputs" % type(self).__name__)
        from .operator import _record_function
        recorded = _record_function(self, inputs, outs)
        return recorded[0] if single else type(outputs)(recorded) if isinstance(
            outputs, (list, tuple)) else recorded

    def forward(self, *inputs):
        """Computes the outputs from the inputs (NDArrays)."""
        raise NotImplementedError

    def backward(self, *output_grads):
        """Gradients of the inputs from the gradients of the outputs."""
        raise NotImplementedError


def get_symbol(x):
    """The computation recorded for `x` as a Symbol: its leaves are variables var0, var1, ..."""
    from .symbol import Symbol
    return Symbol(_native.get_symbol(x))


def _attach_grad(self, grad_req="write", stype=None):
    """Attaches a gradient buffer (zeros, of storage type `stype`, default this array's) to
    this array: ops on it are recorded in ``record()``."""
    from .ndarray import zeros
    g = zeros(self.shape, ctx=self.context, dtype=self.dtype, stype=stype or self.stype)
    mark_variables([self], [g], [grad_req])


def _grad(self):
    g = _native.get_grad(self)
    cls = _GRAD_CLASS.get(id(self))
    return g if g is None or cls is None else cls(g)


def _backward(self, out_grad=None, retain_graph=False, train_mode=True):
    """Computes the gradient of this array with respect to attached variables."""
    backward([self], None if out_grad is None else [out_grad], retain_graph, train_mode)


def _detach(self):
    out = _native.detach(self)
    # A sparse array detaches into its own class, as in MXNet.
    return out if isinstance(out, type(self)) else type(self)(out)


NDArray.attach_grad = _attach_grad
NDArray.grad = property(_grad)
# MXNet's flag (Trainer-style code reads it to find stale gradients): set when a backward
# writes this array's gradient, cleared by whoever consumed it.
NDArray._fresh_grad = property(_native.fresh_grad, _native.set_fresh_grad)
NDArray.backward = _backward
NDArray.detach = _detach
