"""``mx.nd.CachedOp``: a Symbol called like an operator on NDArrays, under autograd too."""
from ..autograd import Function, is_recording, is_training
from ..context import current_context
from .ndarray import NDArray, zeros, zeros_like


class CachedOp:
    """Runs ``sym`` on NDArrays given in ``sym.list_inputs()`` order (arguments and auxiliary
    states, as MXNet's CachedOp takes them). Inside ``autograd.record()`` the call is one
    recorded step whose gradient is the graph's backward pass. ``flags`` are accepted for
    compatibility: oxnet plans every bound graph the same way."""

    def __init__(self, sym, flags=(), thread_safe=False):
        self._sym = sym
        self._inputs = sym.list_inputs()
        self._args = sym.list_arguments()
        self._aux = sym.list_auxiliary_states()
        self._single = len(sym.list_outputs()) == 1

    def __call__(self, *args, out=None, default_ctx=None):
        if len(args) != len(self._inputs):
            raise ValueError("CachedOp: the symbol takes %d inputs (%s), got %d"
                             % (len(self._inputs), ", ".join(self._inputs), len(args)))
        for name, a in zip(self._inputs, args):
            if not isinstance(a, NDArray):
                raise TypeError("CachedOp: input %s must be an NDArray, got %s"
                                % (name, type(a).__name__))
        ctx = args[0].context if args else (default_ctx or current_context())
        outs = _Run(self, ctx, is_recording())(*args)
        outs = [outs] if isinstance(outs, NDArray) else list(outs)
        if out is not None:
            targets = [out] if isinstance(out, NDArray) else list(out)
            for o, t in zip(outs, targets):
                o.copyto(t)
            return out
        return outs[0] if self._single else outs


class _Run(Function):
    """One call: a bound executor's forward, and its backward as the recorded gradient."""

    def __init__(self, op, ctx, with_grad):
        super().__init__()
        self._op, self._ctx, self._with_grad = op, ctx, with_grad

    def forward(self, *inputs):
        op = self._op
        by_name = dict(zip(op._inputs, inputs))
        args = [by_name[n] for n in op._args]
        self._grads = [zeros(a.shape, ctx=a.context, dtype=a.dtype) for a in args] \
            if self._with_grad else None
        self._exe = op._sym.bind(self._ctx, args, args_grad=self._grads,
                                 aux_states=[by_name[n] for n in op._aux])
        outs = [o.copy() for o in self._exe.forward(is_train=is_training())]
        return outs[0] if len(outs) == 1 else tuple(outs)

    def backward(self, *out_grads):
        self._exe.backward(list(out_grads))
        op = self._op
        grads = dict(zip(op._args, self._grads))
        return tuple(grads[n] if n in grads else zeros_like(self._exe.aux_dict[n])
                     for n in op._inputs)
