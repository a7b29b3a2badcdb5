"""MXNet 1.x's deprecated Python operators, ``mx.operator.PythonOp``, ``NumpyOp`` and
``NDArrayOp``: an instance called on symbols gives a graph node whose forward and backward run
its Python methods. Here each instance becomes a ``Custom`` op type of its own; ``NumpyOp``
methods get numpy arrays (float32, as MXNet's) and write their results into them,
``NDArrayOp`` methods get the NDArrays."""
import itertools
import warnings

import numpy as np

from . import operator as _operator

_ids = itertools.count()


class PythonOp(object):
    """Base class of the deprecated Python operators; ``need_top_grad=False`` makes a loss
    head (backward gets no gradient from above)."""

    def __init__(self, need_top_grad=True):
        self.info_ = None
        self.need_top_grad_ = need_top_grad
        warnings.warn("PythonOp has been deprecated. Please use CustomOp")

    def __call__(self, *args, **kwargs):
        return self.get_symbol(*args, **kwargs)

    def get_symbol(self, *args, **kwargs):
        raise NotImplementedError("Must override this")

    def forward(self, in_data, out_data):
        out_data[0][:] = in_data[0]

    def backward(self, out_grad, in_data, out_data, in_grad):
        in_grad[0][:] = 1.0

    def infer_shape(self, in_shape):
        return in_shape, [in_shape[0]]

    def list_outputs(self):
        return ["output"]

    def list_arguments(self):
        return ["data"]

    def need_top_grad(self):
        return self.need_top_grad_

    def _custom_symbol(self, args, kwargs, runner):
        """A ``Custom`` node running this instance's methods through ``runner``."""
        from . import symbol
        op_type = "_%s_%d" % (type(self).__name__, next(_ids))
        pyop = self

        class Prop(_operator.CustomOpProp):
            def __init__(self):
                super(Prop, self).__init__(need_top_grad=pyop.need_top_grad())

            def list_arguments(self):
                return pyop.list_arguments()

            def list_outputs(self):
                return pyop.list_outputs()

            def infer_shape(self, in_shape):
                ins, outs = pyop.infer_shape([list(s) for s in in_shape])
                return ins, outs, []

            def create_operator(self, ctx, in_shapes, in_dtypes):
                return runner(pyop)

        _operator.register(op_type)(Prop)
        return symbol.Custom(*args, op_type=op_type, **kwargs)


class _NumpyRunner(_operator.CustomOp):
    def __init__(self, pyop):
        super(_NumpyRunner, self).__init__()
        self.pyop = pyop

    @staticmethod
    def _np(arrays):
        return [a.asnumpy().astype(np.float32) for a in arrays]

    def forward(self, is_train, req, in_data, out_data, aux):
        outs = [np.zeros(o.shape, dtype=np.float32) for o in out_data]
        self.pyop.forward(in_data=self._np(in_data), out_data=outs)
        for dst, r, v in zip(out_data, req, outs):
            self.assign(dst, r, v)

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        grads = [np.zeros(g.shape, dtype=np.float32) for g in in_grad]
        self.pyop.backward(out_grad=self._np(out_grad), in_data=self._np(in_data),
                           out_data=self._np(out_data), in_grad=grads)
        for dst, r, v in zip(in_grad, req, grads):
            self.assign(dst, r, v)


class _NDArrayRunner(_operator.CustomOp):
    def __init__(self, pyop):
        super(_NDArrayRunner, self).__init__()
        self.pyop = pyop

    def forward(self, is_train, req, in_data, out_data, aux):
        self.pyop.forward(in_data=list(in_data), out_data=list(out_data))

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        self.pyop.backward(out_grad=list(out_grad), in_data=list(in_data),
                           out_data=list(out_data), in_grad=list(in_grad))


class NumpyOp(PythonOp):
    """An operator whose ``forward(in_data, out_data)`` and ``backward(out_grad, in_data,
    out_data, in_grad)`` compute on numpy arrays, writing into the output ones."""

    def __init__(self, need_top_grad=True):
        super(NumpyOp, self).__init__(need_top_grad)
        warnings.warn("NumpyOp has been deprecated. Please use CustomOp")

    def get_symbol(self, *args, **kwargs):
        return self._custom_symbol(args, kwargs, _NumpyRunner)


class NDArrayOp(PythonOp):
    """An operator whose ``forward``/``backward`` compute on the NDArrays themselves."""

    def __init__(self, need_top_grad=True):
        super(NDArrayOp, self).__init__(need_top_grad)
        warnings.warn("NDArrayOp has been deprecated. Please use CustomOp")

    def get_symbol(self, *args, **kwargs):
        return self._custom_symbol(args, kwargs, _NDArrayRunner)

    def declare_backward_dependency(self, out_grad, in_data, out_data):
        deps = list(out_grad) if self.need_top_grad() else []
        return deps + list(in_data) + list(out_data)
