"""Optimizers (``mx.optimizer`` / ``mx.opt``), with MXNet 1.9.1's API and update rules.

Where MXNet has a fused update op (``sgd_mom_update``, ``adam_update``, ...) the optimizer calls
the registry op of the same name, which updates the weight and its states in place on the engine.
The others (AdaGrad, AdaDelta, AdamW, LAMB, Adamax, Nadam, SGLD, DCASGD, FTML) are written with
NDArray arithmetic.
"""
import math
import os
import pickle
import warnings

import numpy

from . import ndarray as nd
from . import states_pickle
from .ndarray import NDArray

__all__ = ["Optimizer", "SGD", "NAG", "Adam", "AdamW", "AdaGrad", "RMSProp", "AdaDelta",
           "Signum", "Ftrl", "FTRL", "LAMB", "Adamax", "Nadam", "SGLD", "DCASGD", "FTML",
           "LARS", "LBSGD", "GroupAdaGrad", "ccSGD", "Test", "Updater", "create", "register",
           "get_updater"]


def _zeros_like(weight, dtype=None):
    return nd.zeros(weight.shape, weight.context, dtype=dtype or weight.dtype)


def _state_like(weight, sparse=True):
    """A zero state shaped as ``weight``, of its storage type where ``sparse``: MXNet keeps
    the states of a row_sparse weight row_sparse (for the optimizers updating it lazily)."""
    z = _zeros_like(weight)
    if sparse and weight.stype != "default":
        from .ndarray.sparse import _wrap  # noqa: PLC0415 - sparse builds on mx.nd
        return _wrap(z, weight.stype)
    return z


class Optimizer(object):
    """Base class of all optimizers.

    Parameters
    ----------
    rescale_grad : float
        Multiplies every gradient before the update (often ``1 / batch_size``).
    param_idx2name : dict of int to str
        Parameter names by index; names not ending in ``_weight`` or ``_gamma`` get no weight
        decay (``wd_mult`` 0).
    wd : float
        L2 weight decay.
    clip_gradient : float, optional
        Clips the rescaled gradient to ``[-clip_gradient, clip_gradient]``.
    learning_rate : float, optional
        The learning rate (0.01 when neither it nor ``lr_scheduler`` is given).
    lr_scheduler : LRScheduler, optional
        Gives the learning rate from ``num_update``.
    sym : Symbol, optional
        Its ``__lr_mult__`` / ``__wd_mult__`` attributes set per-parameter multipliers.
    begin_num_update : int
        The update count to start from.
    multi_precision : bool
        Keep a float32 master copy of float16 weights and update that.
    param_dict : dict of int to Parameter, optional
        Gluon parameters whose ``lr_mult`` / ``wd_mult`` take precedence.
    """

    opt_registry = {}

    def __init__(self, rescale_grad=1., param_idx2name=None, wd=0., clip_gradient=None,
                 learning_rate=None, lr_scheduler=None, sym=None, begin_num_update=0,
                 multi_precision=False, param_dict=None):
        self.rescale_grad = rescale_grad
        self.lr_scheduler = lr_scheduler
        if lr_scheduler is None and learning_rate is None:
            learning_rate = 0.01
        self.lr = learning_rate
        if lr_scheduler is not None and learning_rate is not None \
                and lr_scheduler.base_lr != learning_rate:
            # MXNet's rule: an explicit learning_rate overrides the scheduler's base_lr.
            warnings.warn("learning rate from ``lr_scheduler`` has been overwritten by "
                          "``learning_rate`` in optimizer.")
            lr_scheduler.base_lr = learning_rate
        self.wd = wd
        self.lr_mult = {}
        self.wd_mult = {}
        self.begin_num_update = begin_num_update
        self.num_update = begin_num_update
        # Update counts per device (the Updater switches with _set_current_context).
        self._all_index_update_counts = {0: {}}
        self._index_update_count = self._all_index_update_counts[0]
        self.clip_gradient = clip_gradient
        self.multi_precision = multi_precision
        self.aggregate_num = 0
        if param_idx2name is None:
            param_idx2name = {}
        if not isinstance(param_idx2name, dict):
            raise TypeError("param_idx2name should be a dict of param indexes to names, got %s"
                            % type(param_idx2name).__name__)
        self.idx2name = param_idx2name.copy()
        self.sym_info = (sym.attr_dict(), sym.list_arguments()) if sym is not None else ()
        self.param_dict = param_dict if param_dict else {}
        self.allow_np_array = False
        self.set_lr_mult({})
        self.set_wd_mult({})

    @staticmethod
    def register(klass):
        """Registers an Optimizer subclass under its lower-cased class name."""
        if not isinstance(klass, type):
            raise TypeError("register expects a class, got %r" % (klass,))
        name = klass.__name__.lower()
        if name in Optimizer.opt_registry:
            old = Optimizer.opt_registry[name]
            warnings.warn("WARNING: New optimizer %s.%s is overriding existing optimizer %s.%s"
                          % (klass.__module__, klass.__name__, old.__module__, old.__name__))
        Optimizer.opt_registry[name] = klass
        return klass

    @staticmethod
    def create_optimizer(name, **kwargs):
        """Instantiates the optimizer registered as ``name`` (case-insensitive)."""
        key = name.lower()
        if key not in Optimizer.opt_registry:
            raise ValueError("Cannot find optimizer %s (registered: %s)"
                             % (name, ", ".join(sorted(Optimizer.opt_registry))))
        return Optimizer.opt_registry[key](**kwargs)

    @property
    def learning_rate(self):
        if self.lr_scheduler is not None:
            return self.lr_scheduler(self.num_update)
        return self.lr

    def create_state(self, index, weight):
        """The state (None, an NDArray or a tuple) kept for one weight."""
        return None

    def create_state_multi_precision(self, index, weight):
        """``(weight32, state)`` for float16 weights under multi_precision, else the state."""
        if self.multi_precision and weight.dtype == numpy.float16:
            master = weight.astype(numpy.float32)
            return (master,) + (self.create_state(index, master),)
        if weight.dtype == numpy.float16 and not self.multi_precision:
            warnings.warn("Accumulating with float16 in optimizer can lead to poor accuracy or "
                          "slow convergence. Consider using multi_precision=True option of the "
                          "optimizer")
        return self.create_state(index, weight)

    def update(self, index, weight, grad, state):
        """Updates ``weight`` (and ``state``) in place from ``grad``."""
        raise NotImplementedError("%s does not implement update" % type(self).__name__)

    def update_multi_precision(self, index, weight, grad, state):
        """``update`` on the float32 master copy, cast back into the float16 weight."""
        if self.multi_precision and weight.dtype == numpy.float16:
            master, inner = state[0], state[1]
            self.update(index, master, grad.astype(numpy.float32), inner)
            nd.cast(master, dtype=weight.dtype, out=weight)
        else:
            self.update(index, weight, grad, state)

    def set_learning_rate(self, lr):
        """Sets the learning rate (not allowed with an lr_scheduler)."""
        if self.lr_scheduler is not None:
            raise UserWarning("LRScheduler of the optimizer has already been defined. Note that "
                              "set_learning_rate can mutate the value of the learning rate of the "
                              "optimizer only when the LRScheduler of the optimizer is undefined.")
        self.lr = lr

    def set_lr_scale(self, args_lrscale):
        raise DeprecationWarning("set_lr_scale is deprecated, use set_lr_mult")

    def set_lr_mult(self, args_lr_mult):
        """Per-parameter learning-rate multipliers, by name or index; names from ``sym``'s
        ``__lr_mult__`` attributes come first, ``args_lr_mult`` overrides them."""
        self.lr_mult = {}
        if self.sym_info:
            attr, arg_names = self.sym_info
            for name in arg_names:
                if name in attr and '__lr_mult__' in attr[name]:
                    self.lr_mult[name] = float(attr[name]['__lr_mult__'])
        self.lr_mult.update(args_lr_mult)

    def set_wd_mult(self, args_wd_mult):
        """Per-parameter weight-decay multipliers. Parameters named in ``param_idx2name`` that do
        not end in ``_weight`` or ``_gamma`` (biases, BatchNorm beta) default to 0."""
        self.wd_mult = {}
        for n in self.idx2name.values():
            if not (n.endswith('_weight') or n.endswith('_gamma')):
                self.wd_mult[n] = 0.0
        if self.sym_info:
            attr, arg_names = self.sym_info
            for name in arg_names:
                if name in attr and '__wd_mult__' in attr[name]:
                    self.wd_mult[name] = float(attr[name]['__wd_mult__'])
        self.wd_mult.update(args_wd_mult)

    def _set_current_context(self, device_id):
        if device_id not in self._all_index_update_counts:
            self._all_index_update_counts[device_id] = {}
        self._index_update_count = self._all_index_update_counts[device_id]

    def _update_count(self, index):
        indices = index if isinstance(index, (list, tuple)) else [index]
        for idx in indices:
            if idx not in self._index_update_count:
                self._index_update_count[idx] = self.begin_num_update
            self._index_update_count[idx] += 1
            self.num_update = max(self._index_update_count[idx], self.num_update)

    def _mult(self, index, table, attr):
        if index in self.param_dict:
            return getattr(self.param_dict[index], attr)
        if index in table:
            return table[index]
        if index in self.idx2name:
            return table.get(self.idx2name[index], 1.0)
        return 1.0

    def _get_lrs(self, indices):
        lr = self.lr_scheduler(self.num_update) if self.lr_scheduler is not None else self.lr
        return [lr * self._mult(i, self.lr_mult, 'lr_mult') for i in indices]

    def _get_lr(self, index):
        return self._get_lrs([index])[0]

    def _get_wds(self, indices):
        return [self.wd * self._mult(i, self.wd_mult, 'wd_mult') for i in indices]

    def _get_wd(self, index):
        return self._get_wds([index])[0]

    def _common_kwargs(self):
        """rescale_grad, plus clip_gradient when set (MXNet passes it only when truthy)."""
        kwargs = {'rescale_grad': self.rescale_grad}
        if self.clip_gradient:
            kwargs['clip_gradient'] = self.clip_gradient
        return kwargs

    def _prep_grad(self, grad, decay=None):
        """``clip(rescale_grad * grad [+ decay])`` as a new array, for the optimizers written in
        Python (some of MXNet's add the weight decay before clipping)."""
        grad = grad * self.rescale_grad
        if decay is not None:
            grad = grad + decay
        if self.clip_gradient is not None:
            grad = nd.clip(grad, -self.clip_gradient, self.clip_gradient)
        return grad

    def __getstate__(self):
        ret = self.__dict__.copy()
        # Gluon Parameters are not pickled with the optimizer (as in MXNet).
        ret.pop('param_dict', None)
        return ret

    def __setstate__(self, state):
        self.__dict__ = state
        self.param_dict = {}


register = Optimizer.register  # pylint: disable=invalid-name
create = Optimizer.create_optimizer  # pylint: disable=invalid-name


def _all_dense(*groups):
    return all(getattr(a, 'stype', 'default') == 'default' for g in groups for a in g)


def _sgd_step(weight, grad, state, lr, wd, kwargs, multi_precision, lazy_update=True):
    """One fused SGD(-momentum) update of ``weight``; ``state`` as SGD creates it (momentum
    or None, or ``(momentum or None, weight32)`` for multi-precision)."""
    if not multi_precision:
        if state is not None:
            nd.sgd_mom_update(weight, grad, state, out=weight, lazy_update=lazy_update, lr=lr,
                              wd=wd, **kwargs)
        else:
            nd.sgd_update(weight, grad, out=weight, lazy_update=lazy_update, lr=lr, wd=wd,
                          **kwargs)
    elif state[0] is not None:
        nd.mp_sgd_mom_update(weight, grad, state[0], state[1], out=weight, lr=lr, wd=wd,
                             **kwargs)
    else:
        nd.mp_sgd_update(weight, grad, state[1], out=weight, lr=lr, wd=wd, **kwargs)


class _MasterCopyMixin(object):
    """SGD and NAG keep multi-precision state as ``(momentum or None, weight32)`` and use the
    fused ``mp_*`` ops instead of the generic cast-back path."""

    def create_state_multi_precision(self, index, weight):
        if self.multi_precision and weight.dtype == numpy.float16:
            master = weight.astype(numpy.float32)
            return (self.create_state(index, master), master)
        if weight.dtype == numpy.float16 and not self.multi_precision:
            warnings.warn("Accumulating with float16 in optimizer can lead to poor accuracy or "
                          "slow convergence. Consider using multi_precision=True option of the "
                          "%s optimizer" % type(self).__name__)
        return self.create_state(index, weight)

    def create_state(self, index, weight):
        if self.momentum != 0.0:
            # SGD's momentum follows a row_sparse weight when updated lazily; NAG's is dense.
            return _state_like(weight, getattr(self, "lazy_update", False))
        return None

    def update(self, index, weight, grad, state):
        self._update_impl(index, weight, grad, state, multi_precision=False)

    def update_multi_precision(self, index, weight, grad, state):
        if isinstance(index, (list, tuple)):
            for i, w, g, s in zip(index, weight, grad, state):
                self.update_multi_precision(i, w, g, s)
            return
        use_mp = (self.multi_precision and weight.dtype == numpy.float16
                  and isinstance(state, (tuple, list)))
        self._update_impl(index, weight, grad, state, multi_precision=use_mp)


@register
class SGD(_MasterCopyMixin, Optimizer):
    """Stochastic gradient descent, with momentum when ``momentum > 0``::

        rescaled_grad = lr * (rescale_grad * clip(grad, clip_gradient) + wd * weight)
        state = momentum * state + rescaled_grad
        weight = weight - state

    Uses ``sgd_update`` / ``sgd_mom_update`` and, for float16 weights with
    ``multi_precision=True``, ``mp_sgd_update`` / ``mp_sgd_mom_update``.
    """

    def __init__(self, momentum=0.0, lazy_update=True, **kwargs):
        super(SGD, self).__init__(**kwargs)
        self.momentum = momentum
        self.lazy_update = lazy_update
        # The Updater hands over up to this many same-dtype weights per call, updated by one
        # multi_*sgd* op (MXNet's variable and default); 0 updates one weight per call.
        self.aggregate_num = int(os.getenv('MXNET_OPTIMIZER_AGGREGATION_SIZE', "4"))

    def update_multi_precision(self, index, weight, grad, state):
        first = weight[0] if isinstance(index, (list, tuple)) else weight
        self._update_impl(index, weight, grad, state,
                          multi_precision=self.multi_precision and first.dtype == numpy.float16)

    def _update_impl(self, index, weight, grad, state, multi_precision=False):
        if isinstance(index, (list, tuple)):
            self._update_many(index, weight, grad, state, multi_precision)
            return
        self._update_count(index)
        kwargs = self._common_kwargs()
        if self.momentum > 0:
            kwargs['momentum'] = self.momentum
        _sgd_step(weight, grad, state, self._get_lr(index), self._get_wd(index), kwargs,
                  multi_precision, self.lazy_update)

    def _update_many(self, indices, weights, grads, states, multi_precision):
        """One multi_*sgd* op for all the weights (as MXNet, the counts advance before the
        learning rates are read)."""
        weights = list(weights)
        self._update_count(indices)
        kwargs = self._common_kwargs()
        momentum = self.momentum > 0
        if momentum:
            kwargs['momentum'] = self.momentum
        lrs, wds = self._get_lrs(indices), self._get_wds(indices)
        if not _all_dense(weights, grads):
            # As MXNet: a sparse array takes the one-weight ops (lazy row_sparse updates).
            for w, g, s, lr, wd in zip(weights, grads, states, lrs, wds):
                _sgd_step(w, g, s, lr, wd, kwargs, multi_precision, self.lazy_update)
            return
        kwargs.update(lrs=lrs, wds=wds, num_weights=len(weights))
        if multi_precision:
            groups = zip(weights, grads, *zip(*states)) if momentum else \
                zip(weights, grads, [s[1] for s in states])
            op = nd.multi_mp_sgd_mom_update if momentum else nd.multi_mp_sgd_update
        else:
            groups = zip(weights, grads, states) if momentum else zip(weights, grads)
            op = nd.multi_sgd_mom_update if momentum else nd.multi_sgd_update
        op(*[a for group in groups for a in group], out=weights, **kwargs)


@register
class NAG(_MasterCopyMixin, Optimizer):
    """Nesterov accelerated gradient (``nag_mom_update``)::

        grad = rescale_grad * clip(grad) + wd * weight
        weight = weight + momentum * (momentum * state - lr * grad) - lr * grad
        state = momentum * state - lr * grad'   # grad' uses the updated weight, as MXNet
    """

    def __init__(self, momentum=0.0, **kwargs):
        super(NAG, self).__init__(**kwargs)
        self.momentum = momentum

    def _update_impl(self, index, weight, grad, state, multi_precision=False):
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        kwargs = self._common_kwargs()
        if self.momentum > 0:
            kwargs['momentum'] = self.momentum
        if not multi_precision:
            if state is not None:
                nd.nag_mom_update(weight, grad, state, out=weight, lr=lr, wd=wd, **kwargs)
            else:
                nd.sgd_update(weight, grad, out=weight, lr=lr, wd=wd, **kwargs)
        elif state[0] is not None:
            nd.mp_nag_mom_update(weight, grad, state[0], state[1], out=weight, lr=lr, wd=wd,
                                 **kwargs)
        else:
            nd.mp_sgd_update(weight, grad, state[1], out=weight, lr=lr, wd=wd, **kwargs)


@register
class Signum(Optimizer):
    """Sign of the momentum (``signum_update``), or of the gradient when ``momentum`` is 0
    (``signsgd_update``, with ``wd_lh`` added to ``wd``)::

        state = momentum * state - (1 - momentum) * (wd * weight + rescale_grad * clip(grad))
        weight = (1 - lr * wd_lh) * weight + lr * sign(state)
    """

    def __init__(self, learning_rate=0.01, momentum=0.9, wd_lh=0.0, **kwargs):
        super(Signum, self).__init__(learning_rate=learning_rate, **kwargs)
        self.momentum = momentum
        self.wd_lh = wd_lh

    def create_state(self, index, weight):
        return _state_like(weight) if self.momentum != 0.0 else None

    def update(self, index, weight, grad, state):
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        kwargs = self._common_kwargs()
        if state is not None:
            if self.momentum > 0:
                kwargs['momentum'] = self.momentum
            if self.wd_lh:
                kwargs['wd_lh'] = self.wd_lh
            nd.signum_update(weight, grad, state, out=weight, lr=lr, wd=wd, **kwargs)
        else:
            # Without momentum the decoupled decay joins the plain one:
            # weight = (1 - lr * (wd + wd_lh)) * weight - lr * sign(grad).
            nd.signsgd_update(weight, grad, out=weight, lr=lr, wd=wd + self.wd_lh, **kwargs)


@register
class Adam(Optimizer):
    """Adam (``adam_update``) with bias correction folded into the learning rate::

        lr_t = lr * sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
        grad = clip(rescale_grad * grad + wd * weight)
        mean = beta1 * mean + (1 - beta1) * grad
        var = beta2 * var + (1 - beta2) * grad ** 2
        weight = weight - lr_t * mean / (sqrt(var) + epsilon)
    """

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 lazy_update=True, **kwargs):
        super(Adam, self).__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.lazy_update = lazy_update

    def create_state(self, index, weight):
        return (_state_like(weight, self.lazy_update),
                _state_like(weight, self.lazy_update))  # mean, variance

    def update(self, index, weight, grad, state):
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        t = self._index_update_count[index]
        lr *= math.sqrt(1. - self.beta2 ** t) / (1. - self.beta1 ** t)
        kwargs = self._common_kwargs()
        mean, var = state
        nd.adam_update(weight, grad, mean, var, out=weight, lazy_update=self.lazy_update, lr=lr,
                       wd=wd, beta1=self.beta1, beta2=self.beta2, epsilon=self.epsilon, **kwargs)


@register
class AdamW(Optimizer):
    """Adam with decoupled weight decay (Loshchilov & Hutter), in NDArray arithmetic::

        grad = clip(rescale_grad * grad)
        mean = beta1 * mean + (1 - beta1) * grad
        var = beta2 * var + (1 - beta2) * grad ** 2
        weight = weight - lr_t * mean / (sqrt(var) + epsilon) - lr * wd * weight

    with ``lr_t = lr * sqrt(1 - beta2 ** t) / (1 - beta1 ** t)`` (MXNet 1.9.1 has no
    ``mx.optimizer.AdamW``; this follows the paper's algorithm).
    """

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8, **kwargs):
        super(AdamW, self).__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon

    def create_state(self, index, weight):
        return (_zeros_like(weight), _zeros_like(weight))

    def update(self, index, weight, grad, state):
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        t = self._index_update_count[index]
        lr_t = lr * math.sqrt(1. - self.beta2 ** t) / (1. - self.beta1 ** t)
        grad = self._prep_grad(grad)
        mean, var = state
        mean[:] = self.beta1 * mean + (1. - self.beta1) * grad
        var[:] = self.beta2 * var + (1. - self.beta2) * nd.square(grad)
        weight[:] = weight * (1. - lr * wd) - lr_t * mean / (nd.sqrt(var) + self.epsilon)


@register
class AdaGrad(Optimizer):
    """AdaGrad, in NDArray arithmetic::

        grad = clip(rescale_grad * grad)
        history += grad ** 2
        weight -= lr * (grad / sqrt(history + eps) + wd * weight)
    """

    def __init__(self, eps=1e-7, **kwargs):
        super(AdaGrad, self).__init__(**kwargs)
        self.float_stable_eps = eps

    def create_state(self, index, weight):
        return _state_like(weight)  # history

    def update(self, index, weight, grad, state):
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        if getattr(grad, 'stype', 'default') == 'row_sparse':
            # As MXNet: sparse.adagrad_update for row_sparse gradients (no weight decay there).
            nd.sparse.adagrad_update(weight, grad, state, out=weight, lr=lr, wd=wd,
                                     epsilon=self.float_stable_eps, **self._common_kwargs())
            return
        grad = self._prep_grad(grad)
        history = state
        history[:] = history + nd.square(grad)
        div = grad / nd.sqrt(history + self.float_stable_eps)
        weight[:] = weight + (div + weight * wd) * -lr


@register
class RMSProp(Optimizer):
    """RMSProp (``rmsprop_update``), or the centered version of Graves (2013) when
    ``centered=True`` (``rmspropalex_update``). ``clip_weights`` bounds the updated weight."""

    def __init__(self, learning_rate=0.001, gamma1=0.9, gamma2=0.9, epsilon=1e-8,
                 centered=False, clip_weights=None, **kwargs):
        super(RMSProp, self).__init__(learning_rate=learning_rate, **kwargs)
        self.gamma1 = gamma1
        self.gamma2 = gamma2
        self.centered = centered
        self.epsilon = epsilon
        self.clip_weights = clip_weights

    def create_state(self, index, weight):
        if self.centered:
            return (_state_like(weight), _state_like(weight), _state_like(weight))  # n, g, delta
        return (_state_like(weight),)  # n

    def update(self, index, weight, grad, state):
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        kwargs = self._common_kwargs()
        kwargs.update(gamma1=self.gamma1, epsilon=self.epsilon)
        if self.clip_weights:
            kwargs['clip_weights'] = self.clip_weights
        if self.centered:
            n, g, delta = state
            nd.rmspropalex_update(weight, grad, n, g, delta, out=weight, lr=lr, wd=wd,
                                  gamma2=self.gamma2, **kwargs)
        else:
            (n,) = state
            nd.rmsprop_update(weight, grad, n, out=weight, lr=lr, wd=wd, **kwargs)


@register
class AdaDelta(Optimizer):
    """AdaDelta (Zeiler 2012), in NDArray arithmetic (no learning rate)::

        grad = clip(rescale_grad * grad)
        acc_g = rho * acc_g + (1 - rho) * grad ** 2
        delta = sqrt(acc_delta + epsilon) / sqrt(acc_g + epsilon) * grad
        acc_delta = rho * acc_delta + (1 - rho) * delta ** 2
        weight -= delta + wd * weight
    """

    def __init__(self, rho=0.90, epsilon=1e-5, **kwargs):
        super(AdaDelta, self).__init__(**kwargs)
        self.rho = rho
        self.epsilon = epsilon

    def create_state(self, index, weight):
        return (_zeros_like(weight), _zeros_like(weight))  # accumulated g, accumulated delta

    def update(self, index, weight, grad, state):
        wd = self._get_wd(index)
        self._update_count(index)
        # Unlike MXNet, the caller's grad is not scaled in place.
        grad = self._prep_grad(grad)
        acc_g, acc_delta = state
        acc_g[:] = self.rho * acc_g + (1. - self.rho) * grad * grad
        delta = nd.sqrt(acc_delta + self.epsilon) / nd.sqrt(acc_g + self.epsilon) * grad
        acc_delta[:] = self.rho * acc_delta + (1. - self.rho) * delta * delta
        weight[:] = weight - (delta + wd * weight)


@register
class Ftrl(Optimizer):
    """FTRL-Proximal (``ftrl_update``)::

        z += grad - (sqrt(n + grad ** 2) - sqrt(n)) * weight / lr
        n += grad ** 2
        weight = (sign(z) * lamda1 - z) / ((beta + sqrt(n)) / lr + wd) * (abs(z) > lamda1)
    """

    def __init__(self, lamda1=0.01, learning_rate=0.1, beta=1, **kwargs):
        super(Ftrl, self).__init__(**kwargs)
        self.lamda1 = lamda1
        self.beta = beta
        self.lr = learning_rate

    def create_state(self, index, weight):
        return (_state_like(weight), _state_like(weight))  # z, n

    def update(self, index, weight, grad, state):
        self._update_count(index)
        wd, lr = self._get_wd(index), self._get_lr(index)
        z, n = state
        nd.ftrl_update(weight, grad, z, n, out=weight, lr=lr, wd=wd, lamda1=self.lamda1,
                       beta=self.beta, **self._common_kwargs())


FTRL = Ftrl


@register
class LAMB(Optimizer):
    """LAMB (You et al. 2019) through MXNet's ``lamb_update_phase1`` / ``lamb_update_phase2``::

        grad = clip(rescale_grad * grad)
        mean = beta1 * mean + (1 - beta1) * grad
        var = beta2 * var + (1 - beta2) * grad ** 2
        g = mean_hat / (sqrt(var_hat) + epsilon) + wd * weight   # hats: bias-corrected
        r1 = clip(norm(weight), lower_bound, upper_bound); r2 = norm(g)
        weight -= lr * (r1 / r2 if r1 > 0 and r2 > 0 else 1) * g

    The norms stay on the device: no step waits for the previous one.
    """

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-6,
                 lower_bound=None, upper_bound=None, bias_correction=True, **kwargs):
        super(LAMB, self).__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.lower_bound = lower_bound
        self.upper_bound = upper_bound
        self.bias_correction = bias_correction
        # As MXNet: the Updater hands over up to 45 weights at once (the multi-tensor op's
        # limit), updated by one _multi_lamb_update.
        self.aggregate_num = max(1, min(45, int(os.getenv('MXNET_OPTIMIZER_AGGREGATION_SIZE',
                                                          "45"))))

    def create_state(self, index, weight):
        return (_state_like(weight), _state_like(weight))

    def _bounds(self):
        bounds = {}
        if self.lower_bound:
            bounds['lower_bound'] = self.lower_bound
        if self.upper_bound:
            bounds['upper_bound'] = self.upper_bound
        return bounds

    def _phase1_kwargs(self):
        kwargs = {'beta1': self.beta1, 'beta2': self.beta2, 'epsilon': self.epsilon,
                  'bias_correction': self.bias_correction}
        kwargs.update(self._common_kwargs())
        return kwargs

    def update(self, index, weight, grad, state):
        self._update_impl(index, weight, grad, state, multi_precision=False)

    def update_multi_precision(self, index, weight, grad, state):
        first = weight[0] if isinstance(index, (list, tuple)) else weight
        self._update_impl(index, weight, grad, state,
                          multi_precision=self.multi_precision and first.dtype == numpy.float16)

    def _update_impl(self, index, weight, grad, state, multi_precision=False):
        if isinstance(index, (list, tuple)):
            if self.aggregate_num > 1:
                self._update_many(index, weight, grad, state, multi_precision)
                return
            index, weight, grad, state = index[0], weight[0], grad[0], state[0]
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        t = self._index_update_count[index]
        if multi_precision:
            # State (weight32, (mean, var)). As MXNet 1.9.1, r1 is the master copy's norm and
            # mp_lamb_update_phase2 leaves weight32 as it is.
            weight32, (mean, var) = state
            g = nd.mp_lamb_update_phase1(weight, grad, mean, var, weight32, t=t, wd=wd,
                                         **self._phase1_kwargs())
            nd.mp_lamb_update_phase2(weight, g, weight32.norm(), g.norm(), weight32, lr=lr,
                                     out=weight, **self._bounds())
            return
        mean, var = state
        g = nd.lamb_update_phase1(weight, grad, mean, var, t=t, wd=wd, **self._phase1_kwargs())
        nd.lamb_update_phase2(weight, g, weight.norm(), g.norm(), lr=lr, out=weight,
                              **self._bounds())

    def _update_many(self, indices, weights, grads, states, multi_precision):
        """MXNet's aggregated path: the counts of all weights advance, then one
        ``_multi_(mp_)lamb_update`` per ``aggregate_num`` tensors."""
        from .ndarray import contrib as ndc
        weights = list(weights)
        steps, lrs, wds = [], [], []
        for i in indices:
            self._update_count(i)
            steps.append(self._index_update_count[i])
            lrs.append(self._get_lr(i))
            wds.append(self._get_wd(i))
        kwargs = self._phase1_kwargs()
        kwargs.update(self._bounds())
        for a in range(0, len(weights), self.aggregate_num):
            b = min(a + self.aggregate_num, len(weights))
            sl = slice(a, b)
            if multi_precision:
                w32 = [s[0] for s in states[sl]]
                mean = [s[1][0] for s in states[sl]]
                var = [s[1][1] for s in states[sl]]
                ndc.multi_mp_lamb_update(weights[sl], grads[sl], mean, var, w32, steps[sl],
                                         lrs[sl], wds[sl], out=weights[sl], **kwargs)
            else:
                mean = [s[0] for s in states[sl]]
                var = [s[1] for s in states[sl]]
                ndc.multi_lamb_update(weights[sl], grads[sl], mean, var, steps[sl], lrs[sl],
                                      wds[sl], out=weights[sl], **kwargs)


@register
class Adamax(Optimizer):
    """AdaMax, Adam's infinity-norm variant (Kingma & Ba, section 7), as MXNet computes it::

        grad = clip(rescale_grad * grad + wd * weight)
        mean = beta1 * mean + (1 - beta1) * grad
        u = max(beta2 * u, |grad|)
        weight -= lr / (1 - beta1 ** t) * mean / u
    """

    def __init__(self, learning_rate=0.002, beta1=0.9, beta2=0.999, **kwargs):
        super(Adamax, self).__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2

    def create_state(self, index, weight):
        return (_zeros_like(weight), _zeros_like(weight))  # mean, infinity norm

    def update(self, index, weight, grad, state):
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        t = self._index_update_count[index]
        grad = self._prep_grad(grad, weight * wd)
        mean, u = state
        mean[:] = self.beta1 * mean + (1. - self.beta1) * grad
        u[:] = nd.maximum(self.beta2 * u, nd.abs(grad))
        weight[:] = weight - (lr / (1. - self.beta1 ** t)) * mean / u


@register
class Nadam(Optimizer):
    """Adam with Nesterov momentum (Dozat 2016), as MXNet computes it: ``grad`` includes
    ``wd * weight`` before clipping, and the momentum schedule's running product is one value
    for the whole optimizer, advanced by every update (MXNet's ``m_schedule``)."""

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 schedule_decay=0.004, **kwargs):
        super(Nadam, self).__init__(learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.schedule_decay = schedule_decay
        self.m_schedule = 1.

    def create_state(self, index, weight):
        return (_zeros_like(weight), _zeros_like(weight))  # mean, variance

    def update(self, index, weight, grad, state):
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        t = self._index_update_count[index]
        grad = self._prep_grad(grad, weight * wd)
        mom_t = self.beta1 * (1. - 0.5 * 0.96 ** (t * self.schedule_decay))
        mom_next = self.beta1 * (1. - 0.5 * 0.96 ** ((t + 1) * self.schedule_decay))
        self.m_schedule *= mom_t
        schedule_next = self.m_schedule * mom_next
        mean, var = state
        mean[:] = self.beta1 * mean + (1. - self.beta1) * grad
        var[:] = self.beta2 * var + (1. - self.beta2) * nd.square(grad)
        m_bar = ((1. - mom_t) / (1. - self.m_schedule)) * grad \
            + (mom_next / (1. - schedule_next)) * mean
        v_hat = var / (1. - self.beta2 ** t)
        weight[:] = weight - lr * m_bar / (nd.sqrt(v_hat) + self.epsilon)


@register
class SGLD(Optimizer):
    """Stochastic gradient Langevin dynamics (Welling & Teh 2011)::

        weight += -lr / 2 * (clip(rescale_grad * grad) + wd * weight) + N(0, sqrt(lr))
    """

    def create_state(self, index, weight):
        return None

    def update(self, index, weight, grad, state):
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        grad = self._prep_grad(grad)
        noise = nd.random.normal(0, math.sqrt(lr), shape=weight.shape, dtype=weight.dtype,
                                 ctx=weight.context)
        weight[:] = weight - (lr / 2) * (grad + wd * weight) + noise


@register
class DCASGD(Optimizer):
    """Delay-compensated asynchronous SGD (Zheng et al. 2016)::

        step = -lr * (grad + wd * weight + lamda * grad ** 2 * (weight - previous_weight))
        mom = momentum * mom + step   (mom = step without momentum)
        previous_weight = weight; weight += mom

    (MXNet's own update raised on arrays of more than one element when momentum was set: it
    tested the momentum array's truth value.)"""

    def __init__(self, momentum=0.0, lamda=0.04, **kwargs):
        super(DCASGD, self).__init__(**kwargs)
        self.momentum = momentum
        self.weight_previous = {}
        self.lamda = lamda

    def create_state(self, index, weight):
        mom = _zeros_like(weight) if self.momentum != 0.0 else None
        return (mom, weight.copy())  # momentum, previous weight

    def update(self, index, weight, grad, state):
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        grad = self._prep_grad(grad)
        mom, previous = state
        step = -lr * (grad + wd * weight + self.lamda * grad * grad * (weight - previous))
        if mom is not None:
            mom[:] = self.momentum * mom + step
            step = mom
        previous[:] = weight
        weight[:] = weight + step


@register
class FTML(Optimizer):
    """Follow the Moving Leader (Zheng & Kwok 2017) through MXNet's ``ftml_update``::

        grad = clip(rescale_grad * grad + wd * weight)
        v = beta2 * v + (1 - beta2) * grad ** 2
        d_t = (1 - beta1 ** t) / lr * (sqrt(v / (1 - beta2 ** t)) + epsilon)
        z = beta1 * z + (1 - beta1) * grad - (d_t - beta1 * d) * weight
        d = d_t; weight = -z / d
    """

    def __init__(self, beta1=0.6, beta2=0.999, epsilon=1e-8, **kwargs):
        super(FTML, self).__init__(**kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon

    def create_state(self, index, weight):
        return (_zeros_like(weight), _zeros_like(weight), _zeros_like(weight))  # d, v, z

    def update(self, index, weight, grad, state):
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        t = self._index_update_count[index]
        kwargs = {'rescale_grad': self.rescale_grad}
        if self.clip_gradient:
            kwargs['clip_grad'] = self.clip_gradient
        d, v, z = state
        nd.ftml_update(weight, grad, d, v, z, out=weight, lr=lr, wd=wd, t=t, beta1=self.beta1,
                       beta2=self.beta2, epsilon=self.epsilon, **kwargs)


class Updater(object):
    """Applies an optimizer to (index, grad, weight) triples, creating states on first use;
    what a KVStore calls on push."""

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.states = {}
        self.states_synced = {}
        self.aggregate_updates = optimizer.aggregate_num > 0

    def __call__(self, index, grad, weight):
        if isinstance(index, (list, tuple)):
            indices, grads, weights = list(index), list(grad), list(weight)
        else:
            indices, grads, weights = [index], [grad], [weight]
        if weights:
            self.optimizer._set_current_context(weights[0].context.device_id)
        for i, idx in enumerate(indices):
            if isinstance(idx, bytes):
                idx = indices[i] = idx.decode()
            if idx not in self.states:
                self.states[idx] = self.optimizer.create_state_multi_precision(idx, weights[i])
                self.states_synced[idx] = True
            elif not self.states_synced[idx]:
                self.states[idx] = self.sync_state_context(self.states[idx], weights[i].context)
                self.states_synced[idx] = True
        if self.aggregate_updates:
            self._update_aggregated(indices, weights, grads)
            return
        for idx, w, g in zip(indices, weights, grads):
            self.optimizer.update_multi_precision(idx, w, g, self.states[idx])

    def _update_aggregated(self, indices, weights, grads):
        """Weights of one dtype and context (a model-parallel executor holds several) in lists
        of up to ``aggregate_num`` per optimizer call."""
        groups = {}
        for triple in zip(indices, weights, grads):
            groups.setdefault((triple[1].dtype, triple[1].context), []).append(triple)
        step = self.optimizer.aggregate_num
        for triples in groups.values():
            for b in range(0, len(triples), step):
                idx, w, g = zip(*triples[b:b + step])
                self.optimizer.update_multi_precision(list(idx), list(w), list(g),
                                                      [self.states[i] for i in idx])

    def sync_state_context(self, state, context):
        """Moves a (possibly nested) state to ``context``."""
        if isinstance(state, NDArray):
            return state.as_in_context(context)
        if isinstance(state, (tuple, list)):
            synced = [self.sync_state_context(s, context) for s in state]
            return tuple(synced) if isinstance(state, tuple) else synced
        return state

    def set_states(self, states):
        """Loads states pickled by ``get_states`` (with or without the optimizer), or by
        MXNet 1.x (its ``.states`` files)."""
        states = states_pickle.loads(states)
        if isinstance(states, tuple) and len(states) == 2:
            self.states, self.optimizer = states
            self.aggregate_updates = getattr(self.optimizer, 'aggregate_num', 0) > 0
        else:
            self.states = states
        # Loaded arrays may sit on another context: move them on next use.
        self.states_synced = dict.fromkeys(self.states.keys(), False)

    def get_states(self, dump_optimizer=False):
        """Pickled states, and the optimizer too when ``dump_optimizer``."""
        return pickle.dumps((self.states, self.optimizer) if dump_optimizer else self.states)

    def _states_file_bytes(self, dump_optimizer=False):
        """What a ``.states`` file holds: ``get_states`` with the arrays pickled as MXNet's,
        so MXNet 1.x loads the files oxnet writes (``set_states`` reads either)."""
        return states_pickle.dumps((self.states, self.optimizer) if dump_optimizer else self.states)


def get_updater(optimizer):
    """An Updater for ``optimizer`` (the callable a KVStore takes)."""
    return Updater(optimizer)


from .optimizer_extra import LARS, LBSGD, GroupAdaGrad, ccSGD, Test, contrib  # noqa: E402
