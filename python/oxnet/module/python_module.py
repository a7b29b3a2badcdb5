"""``mx.mod.PythonModule`` and ``mx.mod.PythonLossModule``: modules whose computation is
plain Python, for stages of a ``SequentialModule`` that need no symbol (MXNet 1.9.1
``mxnet/module/python_module.py``).

MXNet's ``bind`` and ``init_params`` never set ``binded``/``params_initialized``, so such a
module could only run inside a ``SequentialModule``; here they set those flags, so ``score``
and ``predict`` also work on the module alone. Everything else behaves as in MXNet.
"""
import logging

from .. import ndarray as nd
from ..initializer import Uniform
from .base_module import BaseModule


class PythonModule(BaseModule):
    """A module with no parameters whose module API methods do nothing; subclasses implement
    ``forward``, ``backward``, ``get_outputs``, ``get_input_grads`` and
    ``_compute_output_shapes``."""

    def __init__(self, data_names, label_names, output_names, logger=logging):
        super().__init__(logger=logger)
        # bind compares names with list equality, so tuples are normalised as MXNet does.
        if isinstance(data_names, tuple):
            data_names = list(data_names)
        if isinstance(label_names, tuple):
            label_names = list(label_names)
        self._data_names = data_names
        self._label_names = label_names
        self._output_names = output_names
        self._data_shapes = None
        self._label_shapes = None
        self._output_shapes = None

    @property
    def data_names(self):
        return self._data_names

    @property
    def output_names(self):
        return self._output_names

    @property
    def data_shapes(self):
        return self._data_shapes

    @property
    def label_shapes(self):
        return self._label_shapes

    @property
    def output_shapes(self):
        return self._output_shapes

    def get_params(self):
        """``({}, {})``: a Python module has no parameters unless a subclass adds them."""
        return {}, {}

    def init_params(self, initializer=Uniform(0.01), arg_params=None, aux_params=None,
                    allow_missing=False, force_init=False, allow_extra=False):
        """Nothing to initialise."""
        self.params_initialized = True

    def update(self):
        """Nothing to update."""

    def update_metric(self, eval_metric, labels, pre_sliced=False):
        """Feeds the outputs to ``eval_metric``; ignored when the module was bound without
        labels (it is then no loss or prediction stage)."""
        if self._label_shapes is None:
            return
        if pre_sliced:
            raise RuntimeError("PythonModule does not support presliced labels")
        eval_metric.update(labels, self.get_outputs())

    def bind(self, data_shapes, label_shapes=None, for_training=True, inputs_need_grad=False,
             force_rebind=False, shared_module=None, grad_req="write"):
        """Records the shapes and computes the output shapes; names must match exactly."""
        if self.binded and not force_rebind:
            self.logger.warning("Already bound, ignoring bind()")
            return
        if grad_req != "write":
            raise ValueError("Python module only support write gradient, got grad_req=%r"
                             % (grad_req,))
        self.for_training = for_training
        self.inputs_need_grad = inputs_need_grad
        names = [x[0] for x in data_shapes]
        if names != self._data_names:
            raise ValueError("data_shapes names %s do not match the module's data_names %s"
                             % (names, self._data_names))
        self._data_shapes = data_shapes
        self._label_shapes = label_shapes
        if label_shapes is not None:
            names = [x[0] for x in label_shapes]
            if self._label_names is None or names != self._label_names:
                raise ValueError("label_shapes names %s do not match the module's "
                                 "label_names %s" % (names, self._label_names))
        self._output_shapes = self._compute_output_shapes()
        self.binded = True

    def _compute_output_shapes(self):
        """``[(name, shape)]`` of the outputs, from ``_data_shapes``/``_label_shapes``."""
        raise NotImplementedError()

    def init_optimizer(self, kvstore="local", optimizer="sgd",
                       optimizer_params=(("learning_rate", 0.01),), force_init=False):
        """No parameters, so no optimizer."""
        self.optimizer_initialized = True


class PythonLossModule(PythonModule):
    """A loss stage: its output is its input (the scores) and its backward gives
    ``grad_func(scores, labels)`` (a numpy array or NDArray) as the gradient of the scores.
    The output is named ``name + '_output'``."""

    def __init__(self, name="pyloss", data_names=("data",), label_names=("softmax_label",),
                 logger=logging, grad_func=None):
        super().__init__(data_names, label_names, [name + "_output"], logger=logger)
        self._name = name
        if len(data_names) != 1 or len(label_names) != 1:
            raise ValueError("PythonLossModule takes one data and one label name, got "
                             "data_names=%s, label_names=%s" % (data_names, label_names))
        if grad_func is not None and not callable(grad_func):
            raise TypeError("grad_func must be callable, got %r" % (grad_func,))
        self._grad_func = grad_func
        self._scores = None
        self._labels = None
        self._scores_grad = None

    def _compute_output_shapes(self):
        return [(self._name + "_output", self._data_shapes[0][1])]

    def forward(self, data_batch, is_train=None):
        """Keeps the scores (and, when training, the labels) for ``backward``."""
        self._scores = data_batch.data[0]
        if is_train is None:
            is_train = self.for_training
        if is_train:
            self._labels = data_batch.label[0]

    def get_outputs(self, merge_multi_context=True):
        """``[scores]``: the input of the last forward."""
        assert merge_multi_context is True
        return [self._scores]

    def backward(self, out_grads=None):
        assert out_grads is None, "For a loss module, out_grads should be None"
        assert self.for_training
        self._backward_impl()

    def _backward_impl(self):
        """Sets ``_scores_grad`` from ``_scores`` and ``_labels``; subclasses without a
        ``grad_func`` override this."""
        if self._grad_func is None:
            raise NotImplementedError()
        grad = self._grad_func(self._scores, self._labels)
        if not isinstance(grad, nd.NDArray):
            grad = nd.array(grad)
        self._scores_grad = grad

    def get_input_grads(self, merge_multi_context=True):
        """``[gradient of the scores]`` from the last backward."""
        assert merge_multi_context is True
        return [self._scores_grad]

    def install_monitor(self, mon):
        raise NotImplementedError()
