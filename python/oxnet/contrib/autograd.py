"""The pre-1.0 ``mx.contrib.autograd`` API, on top of ``mx.autograd``: ``train_section`` turns
recording and training mode on together, ``grad``/``grad_and_loss`` differentiate a function
of NDArrays."""
import functools

from .. import autograd as _ag
from ..ndarray import NDArray, zeros_like

__all__ = ["set_is_training", "TrainingStateScope", "train_section", "test_section",
           "mark_variables", "backward", "compute_gradient", "grad_and_loss", "grad"]


def set_is_training(is_train):
    """Turns recording and training mode on or off together; returns the previous recording
    state (MXNet 1.9.1's: the second of its two calls overwrites the first's result, so the
    scopes below restore both modes from it)."""
    _ag.set_training(is_train)
    return _ag.set_recording(is_train)


class TrainingStateScope(object):
    """Scope with recording and training set to ``enter_state``."""

    def __init__(self, enter_state):
        self._enter_state = enter_state
        self._prev = None

    def __enter__(self):
        self._prev = set_is_training(self._enter_state)

    def __exit__(self, *exc):
        if self._prev != self._enter_state:
            set_is_training(self._prev)


def train_section():
    """Records the code inside for ``compute_gradient``, in training mode."""
    return TrainingStateScope(True)


def test_section():
    """Stops recording and training mode inside a ``train_section``."""
    return TrainingStateScope(False)


mark_variables = _ag.mark_variables


def backward(outputs, out_grads=None, retain_graph=False):
    """Gradients of ``outputs`` (a list or tuple) into the marked variables' buffers."""
    if not isinstance(outputs, (list, tuple)):
        raise TypeError("backward: outputs must be a list or tuple of NDArrays, got %s"
                        % type(outputs).__name__)
    _ag.backward(list(outputs), out_grads, retain_graph)


def compute_gradient(outputs):
    """``backward(outputs)``."""
    backward(outputs)


def grad_and_loss(func, argnum=None):
    """Wraps ``func`` so that calling it returns (gradients of its output with respect to the
    arguments numbered ``argnum`` (default: all), its output)."""
    @functools.wraps(func)
    def wrapped(*args):
        variables = args
        if argnum is not None:
            variables = [args[i] for i in (argnum if isinstance(argnum, list) else [argnum])]
        for x in variables:
            if not isinstance(x, NDArray):
                raise TypeError("grad_and_loss: the differentiated arguments must be NDArrays, "
                                "got %s" % type(x).__name__)
        grads = [zeros_like(x) for x in variables]
        mark_variables(list(variables), grads)
        with train_section():
            outputs = func(*args)
        compute_gradient([outputs] if isinstance(outputs, NDArray) else outputs)
        return grads, outputs
    return wrapped


def grad(func, argnum=None):
    """Like ``grad_and_loss`` without the output."""
    with_loss = grad_and_loss(func, argnum)

    @functools.wraps(with_loss)
    def wrapped(*args):
        return with_loss(*args)[0]
    return wrapped
