"""MXNet's first learning-rate schedulers (``mxnet.misc``), kept for old scripts.

They differ from ``oxnet.lr_scheduler`` on purpose: the rate is a pure function of the
iteration (``base_lr * factor ** int(iteration / step)``, no ``stop_factor_lr``, no warmup) and
the log line is MXNet's, so ``lr_scheduler.FactorScheduler`` cannot stand in for them.
Like MXNet, ``import oxnet`` does not import this module; use ``import oxnet.misc``.
"""
import logging
import math

__all__ = ["LearningRateScheduler", "FactorScheduler"]


class LearningRateScheduler(object):
    """Base class: ``__call__(iteration)`` returns the rate; optimizers set ``base_lr``."""

    def __init__(self):
        self.base_lr = 0.01

    def __call__(self, iteration):
        raise NotImplementedError("must override this")


class FactorScheduler(LearningRateScheduler):
    """Multiplies the rate by ``factor`` (< 1) every ``step`` iterations."""

    def __init__(self, step, factor=0.1):
        super(FactorScheduler, self).__init__()
        if step < 1:
            raise ValueError("Schedule step must be greater or equal than 1 round")
        if factor >= 1.0:
            raise ValueError("Factor must be less than 1 to make lr reduce")
        self.step = step
        self.factor = factor
        self.old_lr = self.base_lr
        self.init = False

    def __call__(self, iteration):
        # base_lr may be reassigned after construction (optimizers do), so the rate last
        # logged starts from its value at the first call.
        if not self.init:
            self.init = True
            self.old_lr = self.base_lr
        lr = self.base_lr * math.pow(self.factor, int(iteration / self.step))
        if lr != self.old_lr:
            self.old_lr = lr
            # "Swith" is MXNet's spelling; log filters written for MXNet match it.
            logging.info("At Iteration [%d]: Swith to new learning rate %.5f", iteration, lr)
        return lr
