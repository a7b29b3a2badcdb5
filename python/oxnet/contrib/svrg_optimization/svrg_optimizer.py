"""The optimizers behind ``SVRGModule``: ``_SVRGOptimizer`` sends the parameters' updates to a
wrapped ordinary optimizer and the full-gradient keys (names containing 'full', which live in
the KVStore) to ``_AssignmentOptimizer``, which just stores the value pushed."""
from ... import optimizer as opt

# The keyword arguments Optimizer.__init__ takes; the rest belong to the wrapped optimizer.
_BASE_PARAMS = ("rescale_grad", "param_idx2name", "wd", "clip_gradient", "learning_rate",
                "lr_scheduler", "sym", "begin_num_update", "multi_precision", "param_dict")


@opt.Optimizer.register
class _AssignmentOptimizer(opt.Optimizer):
    """Sets the weight to the pushed value (how the full gradients are kept in a KVStore)."""

    def update(self, index, weight, grad, state):
        weight[:] = grad


@opt.Optimizer.register
class _SVRGOptimizer(opt.Optimizer):
    """Updates parameters with ``default_optimizer`` (a name, created with the same keyword
    arguments, or an Optimizer) and full-gradient keys with ``_AssignmentOptimizer``."""

    def __init__(self, default_optimizer, **kwargs):
        super().__init__(**{k: v for k, v in kwargs.items() if k in _BASE_PARAMS})
        if isinstance(default_optimizer, str):
            self.default_opt = opt.create(default_optimizer, **kwargs)
        elif isinstance(default_optimizer, opt.Optimizer):
            self.default_opt = default_optimizer
        else:
            raise TypeError("_SVRGOptimizer: default_optimizer must be an optimizer name or an "
                            "Optimizer, got %s" % type(default_optimizer).__name__)
        self.aux_opt = opt.create(_AssignmentOptimizer.__name__)

    def _name(self, index):
        if index in self.idx2name.values():
            return index
        if index not in self.idx2name:
            raise KeyError("_SVRGOptimizer: index %r is neither a parameter name nor an index of "
                           "param_idx2name %s" % (index, sorted(self.idx2name, key=str)))
        return self.idx2name[index]

    def _target(self, index):
        return self.aux_opt if "full" in self._name(index) else self.default_opt

    def create_state(self, index, weight):
        return self._target(index).create_state(index, weight)

    def create_state_multi_precision(self, index, weight):
        return self._target(index).create_state_multi_precision(index, weight)

    def update(self, index, weight, grad, state):
        self._target(index).update(index, weight, grad, state)

    def update_multi_precision(self, index, weight, grad, state):
        self._target(index).update_multi_precision(index, weight, grad, state)

    def _set_current_context(self, device_id):
        # The wrapped optimizers keep their own per-device update counts.
        super()._set_current_context(device_id)
        self.default_opt._set_current_context(device_id)
        self.aux_opt._set_current_context(device_id)
