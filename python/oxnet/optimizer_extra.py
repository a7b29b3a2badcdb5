"""MXNet 1.9.1's large-batch optimizers (``LARS``, ``LBSGD``), ``GroupAdaGrad`` (its
``mx.optimizer.contrib``), and the ``ccSGD`` / ``Test`` names old scripts and tests use.
Imported by ``optimizer``; registered under the same names as in MXNet."""
import math
import sys
import types

from . import ndarray as nd
from .base import ValueAssertionError
from .optimizer import Optimizer, SGD, _all_dense, _sgd_step, register

_NO_LARS = ('gamma', 'beta', 'bias')


def _l2norm(v):
    return float(nd.norm(v.astype('float32')).asscalar())


@register
class LARS(SGD):
    """Layer-wise adaptive rate scaling (You et al. 2017) over SGD with momentum: each weight's
    learning rate is scaled by ``eta * |w| / (rescale_grad * |g| + wd * |w| + eps)`` (1 when a
    norm is 0); BatchNorm gamma/beta and biases keep the plain rate. With
    ``momentum_correction`` the momentum is scaled by ``lr / previous lr`` when the schedule
    changes the rate. Only ``_weight`` parameters get weight decay."""

    def __init__(self, momentum=0.0, lazy_update=True, eta=0.001, eps=0,
                 momentum_correction=True, **kwargs):
        super(LARS, self).__init__(momentum=momentum, lazy_update=lazy_update, **kwargs)
        self.momentum_correction = momentum_correction
        self.eta = eta
        self.eps = eps
        self.last_lr = None
        self.cur_lr = None

    def _get_lrs(self, indices):
        lr = self.lr_scheduler(self.num_update) if self.lr_scheduler is not None else self.lr
        self.last_lr = lr if self.cur_lr is None else self.cur_lr
        self.cur_lr = lr
        return [lr * self._mult(i, self.lr_mult, 'lr_mult') for i in indices]

    def set_wd_mult(self, args_wd_mult):
        self.wd_mult = {n: 0.0 for n in self.idx2name.values() if not n.endswith('_weight')}
        if self.sym_info:
            attr, arg_names = self.sym_info
            for name in arg_names:
                if name in attr and '__wd_mult__' in attr[name]:
                    self.wd_mult[name] = float(attr[name]['__wd_mult__'])
        self.wd_mult.update(args_wd_mult)

    def _lars_lr(self, index, weight, grad, lr, wd):
        if str(self.idx2name.get(index, index)).endswith(_NO_LARS):
            return lr
        w_norm, g_norm = _l2norm(weight), _l2norm(grad) * self.rescale_grad
        if w_norm > 0.0 and g_norm > 0.0:
            return lr * self.eta * w_norm / (g_norm + wd * w_norm + self.eps)
        return lr

    def _update_impl(self, index, weight, grad, state, multi_precision=False):
        many = isinstance(index, (list, tuple))
        indices, weights, grads, states = (index, weight, grad, state) if many else \
            ([index], [weight], [grad], [state])
        self._update_count(indices)
        lrs, wds = self._get_lrs(indices), self._get_wds(indices)
        kwargs = self._common_kwargs()
        if self.momentum > 0:
            correct = self.momentum_correction and self.last_lr != 0
            kwargs['momentum'] = self.momentum * (self.cur_lr / self.last_lr) if correct \
                else self.momentum
        if not _all_dense(weights, grads):
            for i, w, g, s, lr, wd in zip(indices, weights, grads, states, lrs, wds):
                _sgd_step(w, g, s, self._lars_lr(i, w, g, lr, wd), wd, kwargs, multi_precision,
                          self.lazy_update)
            return
        self._aggregate_step(indices, weights, grads, states, lrs, wds, kwargs, multi_precision)

    def _aggregate_step(self, indices, weights, grads, states, lrs, wds, kwargs,
                        multi_precision):
        """MXNet's dense path: the LARS rates of all layers in one ``multi_lars`` over
        ``multi_sum_sq`` norms, then ``preloaded_multi_*sgd*`` reading those rates as arrays
        (the layers that skip LARS go last, with their plain rate)."""
        names = [str(self.idx2name.get(i, i)) for i in indices]
        lars = [k for k, n in enumerate(names) if not n.endswith(_NO_LARS)]
        order = lars + [k for k, n in enumerate(names) if n.endswith(_NO_LARS)]
        ctx = weights[0].context
        new_lrs = nd.array([lrs[k] for k in order], ctx=ctx, dtype='float32')
        new_wds = nd.array([wds[k] for k in order], ctx=ctx, dtype='float32')
        ws, gs, ss = ([seq[k] for k in order] for seq in (weights, grads, states))
        nl = len(lars)
        if nl > 0:
            w_sq = nd.multi_sum_sq(*ws[:nl], num_arrays=nl)
            g_sq = nd.multi_sum_sq(*gs[:nl], num_arrays=nl)
            nd.multi_lars(new_lrs[:nl], w_sq, g_sq, new_wds[:nl], eta=self.eta, eps=self.eps,
                          rescale_grad=self.rescale_grad, out=new_lrs[:nl])
        step = max(1, self.aggregate_num)
        for a in range(0, len(ws), step):
            b = min(a + step, len(ws))
            w, g, s = ws[a:b], gs[a:b], ss[a:b]
            if not multi_precision:
                groups = zip(w, g, s) if self.momentum > 0 else zip(w, g)
                op = nd.preloaded_multi_sgd_mom_update if self.momentum > 0 \
                    else nd.preloaded_multi_sgd_update
            elif self.momentum > 0:
                groups = ((wi, gi, si[0], si[1]) for wi, gi, si in zip(w, g, s))
                op = nd.preloaded_multi_mp_sgd_mom_update
            else:
                groups = ((wi, gi, si[1]) for wi, gi, si in zip(w, g, s))
                op = nd.preloaded_multi_mp_sgd_update
            flat = [x for grp in groups for x in grp]
            op(*(flat + [new_lrs[a:b], new_wds[a:b]]), out=w, num_weights=b - a, **kwargs)


@register
class LBSGD(SGD):
    """Large-batch SGD (Goyal et al. 2017): gradients are accumulated over ``batch_scale``
    updates and applied once, with the learning rate warmed up over ``warmup_epochs`` by
    ``warmup_strategy`` ('linear', 'power2', 'sqrt', or 'lars' for a layer-wise rate)."""

    def __init__(self, momentum=0.0, multi_precision=False, warmup_strategy='linear',
                 warmup_epochs=5, batch_scale=1, updates_per_epoch=32, begin_epoch=0,
                 num_epochs=60, **kwargs):
        super(LBSGD, self).__init__(momentum=momentum, multi_precision=multi_precision, **kwargs)
        self.aggregate_num = 0
        self.warmup_strategy = warmup_strategy
        self.warmup_epochs = warmup_epochs
        self.batch_scale = batch_scale
        self.updates_per_epoch = updates_per_epoch
        self.init_updates = begin_epoch * updates_per_epoch
        self.num_epochs = num_epochs
        self.cumgrads = {}

    # MXNet's LBSGD keeps float16 weights as Optimizer does, not as SGD: the state is
    # (weight32, momentum) and the plain SGD ops update the master copy (lazily for a
    # row_sparse gradient), which is then cast back.
    create_state_multi_precision = Optimizer.create_state_multi_precision
    update_multi_precision = Optimizer.update_multi_precision

    def _get_lbmult(self, nup):
        nwup = self.warmup_epochs * self.updates_per_epoch
        maxmult = float(self.batch_scale)
        if nup >= nwup:
            return maxmult
        if nwup <= 1:
            return 1.0
        ramp = {'linear': nup / nwup, 'power2': (nup * nup) / (nwup * nwup),
                'sqrt': math.sqrt(float(nup) / nwup)}.get(self.warmup_strategy)
        return 1.0 if ramp is None else 1.0 + (maxmult - 1) * ramp

    def _get_lars(self, weight, grad, wd):
        w2 = float((weight * weight).asnumpy().sum())
        g2 = float((grad * grad).asnumpy().sum())
        return min(max(math.sqrt(w2 / (g2 + wd * w2 + 1e-18)), 0.01), 100)

    def _cumulate_gradient(self, grad, index):
        cgrad = self.cumgrads.get(index)
        if cgrad and cgrad['num_cums'] > 0:
            cgrad = {'cum_grad': cgrad['cum_grad'] + grad, 'num_cums': cgrad['num_cums'] + 1}
        else:
            cgrad = {'cum_grad': grad, 'num_cums': self.init_updates + 1}
        self.cumgrads[index] = cgrad
        return cgrad

    def _update_impl(self, index, weight, grad, state, multi_precision=False):
        lr, wd = self._get_lr(index), self._get_wd(index)
        self._update_count(index)
        cgrad = self._cumulate_gradient(grad, index)
        if cgrad['num_cums'] % self.batch_scale != 0:
            # MXNet still runs a zero-rate step here: a non-finite gradient poisons the weight
            # at once, not batch_scale updates later.
            nd.sgd_update(weight, grad, out=weight, lr=0.0, wd=wd)
            return
        grad = cgrad['cum_grad'] / self.batch_scale
        mult = self._get_lars(weight, grad, wd) if self.warmup_strategy == 'lars' \
            else self._get_lbmult(cgrad['num_cums'])
        kwargs = self._common_kwargs()
        if self.momentum > 0:
            kwargs['momentum'] = self.momentum
        _sgd_step(weight, grad, state, lr * mult, wd, kwargs, False)
        self.cumgrads[index]['cum_grad'] = 0


@register
class GroupAdaGrad(Optimizer):
    """AdaGrad with one accumulated squared-gradient value per row of a 2-D weight (for
    embeddings)::

        history += mean(square(grad), axis=1, keepdims=True)
        weight -= lr * grad / sqrt(history + eps)

    Weight decay is not supported."""

    def __init__(self, eps=1e-5, **kwargs):
        super(GroupAdaGrad, self).__init__(**kwargs)
        self.float_stable_eps = eps

    def create_state(self, index, weight):
        if weight.ndim != 2:
            raise ValueError("GroupAdaGrad: weight %r must be 2-D, got shape %s"
                             % (index, weight.shape))
        state = nd.zeros((weight.shape[0], 1), weight.context, dtype=weight.dtype)
        # MXNet keeps a row_sparse weight's history row_sparse.
        return state.tostype(weight.stype) if weight.stype != "default" else state

    def update(self, index, weight, grad, state):
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        if wd != 0:
            raise ValueAssertionError("GroupAdaGrad: weight decay is not supported (wd=%g "
                                      "for %r)" % (wd, index))
        if getattr(grad, 'stype', 'default') == 'row_sparse':
            # As MXNet: the fused op for row_sparse gradients (lazy: zero rows stay as they are).
            nd.contrib.group_adagrad_update(weight, grad, state, out=weight, lr=lr,
                                            epsilon=self.float_stable_eps,
                                            **self._common_kwargs())
            return
        grad = self._prep_grad(grad)
        state[:] += nd.mean(nd.square(grad), axis=1, keepdims=True)
        weight[:] -= lr * grad / nd.sqrt(state + self.float_stable_eps)


@register  # pylint: disable=invalid-name
class ccSGD(SGD):
    """Deprecated in MXNet: the same as ``SGD``."""


@register
class Test(Optimizer):
    """MXNet's test optimizer: ``weight += rescale_grad * grad``; the state mirrors the
    weight."""

    def create_state(self, index, weight):
        return nd.zeros(weight.shape, weight.context)

    def update(self, index, weight, grad, state):
        weight[:] += grad * self.rescale_grad
        state[:] = weight


contrib = types.ModuleType("oxnet.optimizer.contrib", "MXNet's mx.optimizer.contrib.")
contrib.GroupAdaGrad = GroupAdaGrad
sys.modules[contrib.__name__] = contrib
