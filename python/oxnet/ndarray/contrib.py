"""`mx.nd.contrib`: the registry's `_contrib_<name>` ops as `<name>` (added by the package
``__init__``), and MXNet's Python-level contrib functions: imperative control flow
(`foreach`, `while_loop`, `cond`), `rand_zipfian`, `isinf`/`isfinite`/`isnan`, and the AdamW
updates taking a number or an array as `rescale_grad`."""
import math

import numpy as _np

from .ndarray import NDArray, full, zeros
from .random import uniform
from .. import _nesting
from ..context import current_context

__all__ = ["rand_zipfian", "foreach", "while_loop", "cond", "isinf", "isfinite", "isnan",
           "adamw_update", "mp_adamw_update", "multi_adamw_update", "multi_mp_adamw_update",
           "multi_lamb_update", "multi_mp_lamb_update"]


def rand_zipfian(true_classes, num_sampled, range_max, ctx=None):
    """Draw `num_sampled` classes from the log-uniform (Zipfian) distribution over
    [0, range_max); returns (sampled int64 classes, expected count of each true class, expected
    count of each sampled class), as candidate sampling for sampled softmax needs."""
    ctx = current_context() if ctx is None else ctx
    log_range = math.log(range_max + 1)
    rand = uniform(0, log_range, shape=(num_sampled,), dtype="float64", ctx=ctx)
    sampled = (rand.exp() - 1).astype("int64") % range_max
    true_cls = true_classes.as_in_context(ctx).astype("float64")
    count_true = ((true_cls + 2.0) / (true_cls + 1.0)).log() / log_range * num_sampled
    sampled_f = sampled.astype("float64")
    count_sampled = ((sampled_f + 2.0) / (sampled_f + 1.0)).log() / log_range * num_sampled
    return sampled, count_true, count_sampled


def _stack(items):
    from . import op
    return op.stack(*items, axis=0)


def foreach(body, data, init_states):
    """Run ``outs, states = body(data[i], states)`` for each slice i along axis 0 of `data` (an
    NDArray or a list of them), and return (the step outputs stacked along a new axis 0, the
    final states). Recorded by autograd like the ops the body calls."""
    _nesting.flatten(data, "foreach data", NDArray, "an NDArray")
    _nesting.flatten(init_states, "foreach init_states", NDArray, "an NDArray")
    single = isinstance(data, NDArray)
    steps = data.shape[0] if single else data[0].shape[0]
    if not single:
        lengths = [d.shape[0] for d in data]
        if any(n != steps for n in lengths):
            raise ValueError("foreach: every data array needs the same length along axis 0, "
                             "got %s" % lengths)
    states, per_step, fmt = init_states, [], None
    for i in range(steps):
        outs, states = body(data[i] if single else [d[i] for d in data], states)
        flat, fmt = _nesting.flatten(outs, "foreach output", NDArray, "an NDArray")
        per_step.append(flat)
    if fmt is None:
        return [], states
    stacked = [_stack(items) for items in zip(*per_step)]
    return _nesting.regroup(stacked, fmt)[0], states


def _scalar(value, kind, what):
    if hasattr(value, "asscalar"):
        value = value.asscalar()
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ValueError("Cannot convert %s to python %s" % (what, kind.__name__)) from None


def while_loop(cond, func, loop_vars, max_iterations=None):
    """``while cond(*vars) and steps < max_iterations: outs, vars = func(*vars)``; returns
    (each output stacked along axis 0 and padded with zeros to `max_iterations` rows, the final
    loop variables)."""
    if max_iterations is None:
        raise ValueError("while_loop: max_iterations should be specified")
    max_iterations = _scalar(max_iterations, int, "max_iterations")
    single = isinstance(loop_vars, NDArray)
    loop_vars = [loop_vars] if single else list(loop_vars)
    if not loop_vars:
        raise ValueError("while_loop: loop_vars should contain at least one element")
    per_step, fmt = [], None
    while len(per_step) < max_iterations and _scalar(cond(*loop_vars), bool,
                                                     "the return value of cond"):
        outs, new_vars = func(*loop_vars)
        new_vars = [] if new_vars is None else new_vars
        new_vars = [new_vars] if isinstance(new_vars, NDArray) else list(new_vars)
        if len(new_vars) != len(loop_vars):
            raise ValueError("while_loop: func returned %d loop variables, loop_vars has %d"
                             % (len(new_vars), len(loop_vars)))
        loop_vars = new_vars
        flat, fmt = _nesting.flatten([] if outs is None else outs, "while_loop output", NDArray,
                                     "an NDArray")
        if per_step and len(flat) != len(per_step[0]):
            raise ValueError("while_loop: step %d returned %d outputs, step 0 returned %d"
                             % (len(per_step), len(flat), len(per_step[0])))
        per_step.append(flat)
    stacked = []
    for k, items in enumerate(zip(*per_step)):
        shapes = {x.shape for x in items}
        if len(shapes) > 1:
            raise ValueError("while_loop: output %d changes shape across steps: %s"
                             % (k, [x.shape for x in items]))
        items = list(items)
        if len(items) < max_iterations:
            items.append(zeros((max_iterations - len(items),) + items[0].shape,
                               ctx=items[0].context, dtype=items[0].dtype))
            stacked.append(_concat_rows(items))
        else:
            stacked.append(_stack(items))
    if fmt is not None:
        stacked = _nesting.regroup(stacked, fmt)[0]
    return stacked, (loop_vars[0] if single else loop_vars)


def _concat_rows(items):
    """Step outputs (as new rows) followed by a block of padding rows."""
    from . import op
    rows = [x.expand_dims(0) for x in items[:-1]] + [items[-1]]
    return op.concat(*rows, dim=0)


def cond(pred, then_func, else_func):
    """``then_func()`` if `pred` (a scalar NDArray or Python value) is true, else
    ``else_func()``."""
    return then_func() if _scalar(pred, bool, "pred") else else_func()


def isinf(data):
    """1 where `data` is +-inf, else 0 (same dtype as `data`)."""
    return data.abs() == _np.inf


def isfinite(data):
    """1 where `data` is neither inf nor NaN, else 0."""
    return (data == data) * (data.abs() != _np.inf)


def isnan(data):
    """1 where `data` is NaN, else 0."""
    return data != data


def _rescale_array(rescale_grad, weight):
    if isinstance(rescale_grad, NDArray):
        return rescale_grad
    return full((1,), rescale_grad, ctx=weight.context)


def adamw_update(weight, grad, mean, var, rescale_grad, lr, eta, beta1=0.9, beta2=0.999,
                 epsilon=1e-8, wd=0, clip_gradient=-1, out=None, name=None, **kwargs):
    """`_adamw_update` with `rescale_grad` given as a number or a one-element array (a NaN,
    infinite or zero value skips the step, as loss scaling needs)."""
    from . import _internal
    return _internal._adamw_update(weight, grad, mean, var, _rescale_array(rescale_grad, weight),
                                   lr=lr, eta=eta, beta1=beta1, beta2=beta2, epsilon=epsilon,
                                   wd=wd, clip_gradient=clip_gradient, out=out, name=name,
                                   **kwargs)


def mp_adamw_update(weight, grad, mean, var, weight32, rescale_grad, lr, eta, beta1=0.9,
                    beta2=0.999, epsilon=1e-8, wd=0, clip_gradient=-1, out=None, name=None,
                    **kwargs):
    """`_mp_adamw_update` (float32 master copy `weight32`) with `rescale_grad` given as a
    number or a one-element array."""
    from . import _internal
    return _internal._mp_adamw_update(weight, grad, mean, var, weight32,
                                      _rescale_array(rescale_grad, weight), lr=lr, eta=eta,
                                      beta1=beta1, beta2=beta2, epsilon=epsilon, wd=wd,
                                      clip_gradient=clip_gradient, out=out, name=name, **kwargs)


def _interleave(*lists):
    return [a for group in zip(*lists) for a in group]


def multi_adamw_update(weights, grads, mean, var, rescale_grad, lrs, wds, etas, out=None,
                       name=None, size=0, **kwargs):
    """`_multi_adamw_update` over lists of weights, grads, means and variances (one lr, wd and
    eta per weight); `rescale_grad` is a number or a one-element array."""
    from . import _internal
    size = size or len(weights)
    arrays = _interleave(weights, grads, mean, var) + [_rescale_array(rescale_grad, weights[0])]
    return _internal._multi_adamw_update(*arrays, out=out, num_weights=size, lrs=lrs, wds=wds,
                                         etas=etas, name=name, **kwargs)


def multi_mp_adamw_update(weights, grads, mean, var, weights32, rescale_grad, lrs, wds, etas,
                          out=None, name=None, size=0, **kwargs):
    """`_multi_mp_adamw_update`: as `multi_adamw_update`, with float32 master copies."""
    from . import _internal
    size = size or len(weights)
    arrays = _interleave(weights, grads, mean, var, weights32) + \
        [_rescale_array(rescale_grad, weights[0])]
    return _internal._multi_mp_adamw_update(*arrays, out=out, num_weights=size, lrs=lrs,
                                            wds=wds, etas=etas, name=name, **kwargs)


def multi_lamb_update(weights, grads, mean, var, step_count, lrs, wds, out=None, num_tensors=0,
                      **kwargs):
    """`_multi_lamb_update` over lists of weights, grads, means and variances, with one step
    count, learning rate and weight decay per tensor."""
    from . import _internal
    return _internal._multi_lamb_update(*_interleave(weights, grads, mean, var), out=out,
                                        num_tensors=num_tensors or len(weights),
                                        step_count=step_count, learning_rates=lrs, wds=wds,
                                        **kwargs)


def multi_mp_lamb_update(weights, grads, mean, var, weights32, step_count, lrs, wds, out=None,
                         num_tensors=0, **kwargs):
    """`_multi_mp_lamb_update`: as `multi_lamb_update`, with float32 master copies."""
    from . import _internal
    return _internal._multi_mp_lamb_update(*_interleave(weights, grads, mean, var, weights32),
                                           out=out, num_tensors=num_tensors or len(weights),
                                           step_count=step_count, learning_rates=lrs, wds=wds,
                                           **kwargs)
