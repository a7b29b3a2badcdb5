"""Dynamic loss scaling, as MXNet 1.9.1's ``amp.LossScaler``: start at 2**16, halve after a
step whose gradients overflow, double after 2000 clean steps (at most 2**24)."""
import logging

from ... import autograd
from ...ndarray import ndarray as nd
from ...ndarray import multi_all_finite

_CHUNK = 200  # arrays per multi_all_finite call, as MXNet


class LossScaler:
    """Dynamic loss scaler. ``loss_scale`` is the current scale."""

    def __init__(self):
        self._loss_scale = 2.0 ** 16
        self._next_loss_scale = self._loss_scale
        self._max_loss_scale = 2.0 ** 24
        self._scale_seq_len = 2000
        self._unskipped = 0

    @property
    def loss_scale(self):
        return self._loss_scale

    def has_overflow(self, params):
        """True if a gradient holds inf or NaN, and updates the scale for the next step.

        ``params``: gradient NDArrays, or objects with a ``_grad`` list (Gluon-style
        parameters; the first array is checked, as MXNet)."""
        grads = [_grad_of(p) for p in params]
        grads = [g for g in grads if g is not None]
        if not grads:
            raise ValueError("LossScaler.has_overflow: params holds no gradient to check")
        with autograd.pause():
            ok = nd.ones((1,), ctx=grads[0].context)
            for i in range(0, len(grads), _CHUNK):
                chunk = grads[i:i + _CHUNK]
                multi_all_finite(*chunk, num_arrays=len(chunk), init_output=False, out=ok)
        overflow = not bool(ok.asnumpy()[0])
        self._loss_scale = self._next_loss_scale
        if overflow:
            self._next_loss_scale = self._loss_scale / 2.0
            self._unskipped = 0
            logging.info("AMP: decreasing loss scale to %f", self._next_loss_scale)
        else:
            self._unskipped += 1
        if self._unskipped == self._scale_seq_len:
            self._unskipped = 0
            self._next_loss_scale = min(self._max_loss_scale, self._loss_scale * 2.0)
            logging.info("AMP: increasing loss scale to %f", self._next_loss_scale)
        return overflow


def _grad_of(p):
    if isinstance(p, nd.NDArray):
        return p
    grad = getattr(p, "_grad", None)
    if grad is None:
        return None
    if isinstance(grad, (list, tuple)):
        return grad[0] if grad else None
    return grad
