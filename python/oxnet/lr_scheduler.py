"""Learning-rate schedules (``mx.lr_scheduler``), with MXNet 1.9.1's semantics.

A scheduler is called with ``num_update``, the largest number of updates applied to any weight,
and returns the learning rate to use. Every scheduler supports a warmup phase first.
"""
import logging
import math

from .base import TypeAssertionError, ValueAssertionError

__all__ = ["LRScheduler", "FactorScheduler", "MultiFactorScheduler", "PolyScheduler",
           "CosineScheduler"]


class LRScheduler(object):
    """Base class: holds ``base_lr`` and the warmup settings.

    Parameters
    ----------
    base_lr : float
        The initial learning rate (reached at the end of warmup).
    warmup_steps : int
        Number of warmup updates before the schedule starts.
    warmup_begin_lr : float
        The learning rate warmup starts from.
    warmup_mode : {'linear', 'constant'}
        'linear' increases the rate in equal steps; 'constant' keeps ``warmup_begin_lr``.
    """

    def __init__(self, base_lr=0.01, warmup_steps=0, warmup_begin_lr=0, warmup_mode='linear'):
        if not isinstance(warmup_steps, int):
            raise TypeAssertionError("warmup_steps must be an int, got %r" % (warmup_steps,))
        if warmup_steps < 0:
            raise ValueError("warmup_steps must be >= 0, got %d" % warmup_steps)
        if warmup_begin_lr > base_lr:
            raise ValueError("warmup_begin_lr (%g) must not exceed base_lr (%g)"
                             % (warmup_begin_lr, base_lr))
        if warmup_mode not in ('linear', 'constant'):
            raise ValueError("warmup_mode must be 'linear' or 'constant', got %r" % (warmup_mode,))
        self.base_lr = base_lr
        self.warmup_steps = warmup_steps
        self.warmup_final_lr = base_lr
        self.warmup_begin_lr = warmup_begin_lr
        self.warmup_mode = warmup_mode

    def get_warmup_lr(self, num_update):
        """The rate during warmup (``num_update < warmup_steps``)."""
        if num_update >= self.warmup_steps:
            raise ValueError("update %d is past the %d warmup steps" % (num_update, self.warmup_steps))
        if self.warmup_mode == 'constant':
            return self.warmup_begin_lr
        span = self.warmup_final_lr - self.warmup_begin_lr
        return self.warmup_begin_lr + span * float(num_update) / float(self.warmup_steps)

    def __call__(self, num_update):
        raise NotImplementedError("LRScheduler subclasses implement __call__")


class FactorScheduler(LRScheduler):
    """Multiplies the rate by ``factor`` every ``step`` updates, never below ``stop_factor_lr``:
    ``base_lr * factor ** floor((num_update - 1) / step)``."""

    def __init__(self, step, factor=1, stop_factor_lr=1e-8, base_lr=0.01, warmup_steps=0,
                 warmup_begin_lr=0, warmup_mode='linear'):
        super(FactorScheduler, self).__init__(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        if step < 1:
            raise ValueError("step must be >= 1, got %r" % (step,))
        if factor > 1.0:
            raise ValueError("factor must be <= 1 so that the rate decreases, got %r" % (factor,))
        self.step = step
        self.factor = factor
        self.stop_factor_lr = stop_factor_lr
        self.count = 0

    def __call__(self, num_update):
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        # Stateful like MXNet: the rate decays as num_update passes each multiple of step.
        while num_update > self.count + self.step:
            self.count += self.step
            self.base_lr = max(self.base_lr * self.factor, self.stop_factor_lr)
            logging.info("Update[%d]: Change learning rate to %0.5e", num_update, self.base_lr)
        return self.base_lr


class MultiFactorScheduler(LRScheduler):
    """Multiplies the rate by ``factor`` each time ``num_update`` passes an entry of ``step``
    (an increasing list of ints)."""

    def __init__(self, step, factor=1, base_lr=0.01, warmup_steps=0, warmup_begin_lr=0,
                 warmup_mode='linear'):
        super(MultiFactorScheduler, self).__init__(base_lr, warmup_steps, warmup_begin_lr,
                                                   warmup_mode)
        if not isinstance(step, list) or not step:
            raise ValueAssertionError("step must be a non-empty list of ints, got %r" % (step,))
        for i, s in enumerate(step):
            if s < 1:
                raise ValueError("every step must be >= 1, got %r" % (s,))
            if i > 0 and s <= step[i - 1]:
                raise ValueError("step must be strictly increasing, got %r" % (step,))
        if factor > 1.0:
            raise ValueError("factor must be <= 1 so that the rate decreases, got %r" % (factor,))
        self.step = step
        self.cur_step_ind = 0
        self.factor = factor
        self.count = 0

    def __call__(self, num_update):
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        while self.cur_step_ind < len(self.step) and num_update > self.step[self.cur_step_ind]:
            self.count = self.step[self.cur_step_ind]
            self.cur_step_ind += 1
            self.base_lr *= self.factor
            logging.info("Update[%d]: Change learning rate to %0.5e", num_update, self.base_lr)
        return self.base_lr


def _decay_fraction(num_update, warmup_steps, max_steps):
    # MXNet divides by zero when warmup ends at max_update; the decay is then instant.
    if max_steps <= 0:
        return 1.0
    return float(num_update - warmup_steps) / float(max_steps)


class PolyScheduler(LRScheduler):
    """Polynomial decay after warmup:
    ``final_lr + (base_lr - final_lr) * (1 - nup / max_nup) ** pwr`` where ``nup`` counts from
    the end of warmup and ``max_nup = max_update - warmup_steps``; constant afterwards."""

    def __init__(self, max_update, base_lr=0.01, pwr=2, final_lr=0, warmup_steps=0,
                 warmup_begin_lr=0, warmup_mode='linear'):
        super(PolyScheduler, self).__init__(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        if not isinstance(max_update, int):
            raise TypeAssertionError("max_update must be an int, got %r" % (max_update,))
        if max_update < 1:
            raise ValueError("max_update must be >= 1, got %d" % max_update)
        self.power = pwr
        self.base_lr_orig = self.base_lr
        self.max_update = max_update
        self.final_lr = final_lr
        self.max_steps = self.max_update - self.warmup_steps

    def __call__(self, num_update):
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        if num_update <= self.max_update:
            frac = _decay_fraction(num_update, self.warmup_steps, self.max_steps)
            self.base_lr = self.final_lr + (self.base_lr_orig - self.final_lr) * pow(1 - frac, self.power)
        return self.base_lr


class CosineScheduler(LRScheduler):
    """Cosine decay after warmup:
    ``final_lr + (base_lr - final_lr) * (1 + cos(pi * nup / max_nup)) / 2``; constant afterwards."""

    def __init__(self, max_update, base_lr=0.01, final_lr=0, warmup_steps=0, warmup_begin_lr=0,
                 warmup_mode='linear'):
        super(CosineScheduler, self).__init__(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        if not isinstance(max_update, int):
            raise TypeAssertionError("max_update must be an int, got %r" % (max_update,))
        if max_update < 1:
            raise ValueError("max_update must be >= 1, got %d" % max_update)
        self.base_lr_orig = base_lr
        self.max_update = max_update
        self.final_lr = final_lr
        self.max_steps = self.max_update - self.warmup_steps

    def __call__(self, num_update):
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        if num_update <= self.max_update:
            frac = _decay_fraction(num_update, self.warmup_steps, self.max_steps)
            self.base_lr = self.final_lr + (self.base_lr_orig - self.final_lr) * (1 + math.cos(math.pi * frac)) / 2
        return self.base_lr
