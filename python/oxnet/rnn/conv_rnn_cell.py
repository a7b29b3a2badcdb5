"""Convolutional recurrent cells of ``mx.rnn`` (``ConvRNNCell``, ``ConvLSTMCell``,
``ConvGRUCell``; MXNet 1.9.1 ``python/mxnet/rnn/rnn_cell.py``).

They are the cells of `rnn_cell` with each ``FullyConnected`` replaced by a ``Convolution``:
the input-to-state convolution may stride, pad and dilate; the state-to-state one keeps the
state's spatial size (odd kernel, "same" padding). States are feature maps whose shape is the
input-to-state convolution's output for ``input_shape`` (batch left as 0), so ``begin_state``
and ``unroll`` work as for the dense cells. Weight, bias and node names are MXNet's, so
checkpoints move between the two unchanged.
"""
from .. import symbol
from .rnn_cell import BaseRNNCell, _check_hidden

__all__ = ["BaseConvRNNCell", "ConvRNNCell", "ConvLSTMCell", "ConvGRUCell"]


def _pair(value, what):
    try:
        pair = tuple(int(v) for v in value)
    except TypeError:
        pair = ()
    if len(pair) != 2:
        raise ValueError("%s must be a pair of ints (height, width), got %r" % (what, value))
    return pair


def _leaky(inputs, **kwargs):
    return symbol.LeakyReLU(inputs, act_type="leaky", slope=0.2, **kwargs)


class BaseConvRNNCell(BaseRNNCell):
    """Shared parts of the convolutional cells: the two convolutions and the state shape."""

    def __init__(self, input_shape, num_hidden, h2h_kernel, h2h_dilate, i2h_kernel, i2h_stride,
                 i2h_pad, i2h_dilate, i2h_weight_initializer, h2h_weight_initializer,
                 i2h_bias_initializer, h2h_bias_initializer, activation, prefix="", params=None,
                 conv_layout="NCHW"):
        super(BaseConvRNNCell, self).__init__(prefix=prefix, params=params)
        self._num_hidden = _check_hidden(num_hidden)
        self._h2h_kernel = _pair(h2h_kernel, "h2h_kernel")
        self._h2h_dilate = _pair(h2h_dilate, "h2h_dilate")
        if self._h2h_kernel[0] % 2 != 1 or self._h2h_kernel[1] % 2 != 1:
            raise ValueError("h2h_kernel must be odd in both dimensions (the state keeps its "
                             "size), got %s" % (self._h2h_kernel,))
        # "Same" padding: the state-to-state convolution maps a state onto its own shape.
        self._h2h_pad = tuple(d * (k - 1) // 2 for k, d in zip(self._h2h_kernel,
                                                                self._h2h_dilate))
        self._i2h_kernel = _pair(i2h_kernel, "i2h_kernel")
        self._i2h_stride = _pair(i2h_stride, "i2h_stride")
        self._i2h_pad = _pair(i2h_pad, "i2h_pad")
        self._i2h_dilate = _pair(i2h_dilate, "i2h_dilate")
        self._input_shape = tuple(input_shape)
        self._conv_layout = conv_layout
        self._activation = activation
        probe = symbol.Convolution(data=symbol.Variable("data"), num_filter=self._num_hidden,
                                   kernel=self._i2h_kernel, stride=self._i2h_stride,
                                   pad=self._i2h_pad, dilate=self._i2h_dilate,
                                   layout=conv_layout)
        _, out_shapes, _ = probe.infer_shape(data=self._input_shape)
        self._state_shape = (0,) + tuple(out_shapes[0][1:])
        self._iW = self.params.get("i2h_weight", init=i2h_weight_initializer)
        self._hW = self.params.get("h2h_weight", init=h2h_weight_initializer)
        self._iB = self.params.get("i2h_bias", init=i2h_bias_initializer)
        self._hB = self.params.get("h2h_bias", init=h2h_bias_initializer)

    @property
    def _num_gates(self):
        return len(self._gate_names)

    _num_states = 1

    @property
    def state_info(self):
        info = {"shape": self._state_shape, "__layout__": self._conv_layout}
        return [dict(info) for _ in range(self._num_states)]

    def _conv_forward(self, inputs, states, step):
        """The input-to-state and state-to-state convolutions of one step, all gates stacked."""
        filters = self._num_hidden * self._num_gates
        i2h = symbol.Convolution(data=inputs, weight=self._iW, bias=self._iB,
                                 num_filter=filters, kernel=self._i2h_kernel,
                                 stride=self._i2h_stride, pad=self._i2h_pad,
                                 dilate=self._i2h_dilate, layout=self._conv_layout,
                                 name=step + "i2h")
        h2h = symbol.Convolution(data=states[0], weight=self._hW, bias=self._hB,
                                 num_filter=filters, kernel=self._h2h_kernel, stride=(1, 1),
                                 pad=self._h2h_pad, dilate=self._h2h_dilate,
                                 layout=self._conv_layout, name=step + "h2h")
        return i2h, h2h

    def _begin_step(self, states):
        self._check_states(states)
        self._counter += 1
        return "%st%d_" % (self._prefix, self._counter)

    def __call__(self, inputs, states):
        raise NotImplementedError("BaseConvRNNCell is abstract: use ConvRNNCell, ConvLSTMCell "
                                  "or ConvGRUCell")


# MXNet's constructor arguments after (input_shape, num_hidden), in order, with defaults.
_CONV_ARGS = (("h2h_kernel", (3, 3)), ("h2h_dilate", (1, 1)), ("i2h_kernel", (3, 3)),
              ("i2h_stride", (1, 1)), ("i2h_pad", (1, 1)), ("i2h_dilate", (1, 1)),
              ("i2h_weight_initializer", None), ("h2h_weight_initializer", None),
              ("i2h_bias_initializer", "zeros"), ("h2h_bias_initializer", "zeros"),
              ("activation", _leaky), ("prefix", None), ("params", None),
              ("conv_layout", "NCHW"))


def _conv_cell_init(default_prefix):
    """An ``__init__`` with MXNet's positional order and defaults for one conv cell."""
    def __init__(self, input_shape, num_hidden, *args, **kwargs):
        name = type(self).__name__
        if len(args) > len(_CONV_ARGS):
            raise TypeError("%s takes at most %d arguments, got %d"
                            % (name, len(_CONV_ARGS) + 2, len(args) + 2))
        values = dict(_CONV_ARGS, prefix=default_prefix)
        for (key, _), value in zip(_CONV_ARGS, args):
            values[key] = value
        for key, value in kwargs.items():
            if key not in values:
                raise TypeError("%s got an unexpected argument %r" % (name, key))
            if key in dict(_CONV_ARGS[:len(args)]):
                raise TypeError("%s got multiple values for argument %r" % (name, key))
            values[key] = value
        BaseConvRNNCell.__init__(self, input_shape, num_hidden, **values)
    return __init__


class ConvRNNCell(BaseConvRNNCell):
    """Convolutional Elman cell: ``h' = activation(conv_i(x) + conv_h(h))``; the activation
    defaults to ``LeakyReLU(slope=0.2)``. States: ``[h]``."""

    __init__ = _conv_cell_init("ConvRNN_")

    @property
    def _gate_names(self):
        return ("",)

    def __call__(self, inputs, states):
        step = self._begin_step(states)
        i2h, h2h = self._conv_forward(inputs, states, step)
        out = self._get_activation(i2h + h2h, self._activation, name=step + "out")
        return out, [out]


class ConvLSTMCell(BaseConvRNNCell):
    """Convolutional LSTM (Shi et al., NIPS 2015); gates stacked as input, forget, candidate,
    output on the channel axis; ``activation`` (default ``LeakyReLU(slope=0.2)``) replaces
    tanh on the candidate and the cell state. States: ``[h, c]``."""

    __init__ = _conv_cell_init("ConvLSTM_")
    _num_states = 2

    @property
    def _gate_names(self):
        return ["_i", "_f", "_c", "_o"]

    def __call__(self, inputs, states):
        step = self._begin_step(states)
        i2h, h2h = self._conv_forward(inputs, states, step)
        gates = symbol.SliceChannel(i2h + h2h, num_outputs=4,
                                    axis=self._conv_layout.find("C"), name=step + "slice")
        in_gate = symbol.Activation(gates[0], act_type="sigmoid", name=step + "i")
        forget_gate = symbol.Activation(gates[1], act_type="sigmoid", name=step + "f")
        candidate = self._get_activation(gates[2], self._activation, name=step + "c")
        out_gate = symbol.Activation(gates[3], act_type="sigmoid", name=step + "o")
        next_c = symbol._internal._plus(forget_gate * states[1], in_gate * candidate,
                                        name=step + "state")
        next_h = symbol._internal._mul(out_gate, self._get_activation(next_c, self._activation),
                                       name=step + "out")
        return next_h, [next_h, next_c]


class ConvGRUCell(BaseConvRNNCell):
    """Convolutional GRU; gates stacked as reset, update, candidate; the reset gate scales the
    state-to-state candidate term. ``h' = (1 - z) * n + z * h``. States: ``[h]``."""

    __init__ = _conv_cell_init("ConvGRU_")

    @property
    def _gate_names(self):
        return ["_r", "_z", "_o"]

    def __call__(self, inputs, states):
        step = self._begin_step(states)
        i2h, h2h = self._conv_forward(inputs, states, step)
        # MXNet slices on axis 1 whatever the layout, and names these nodes with a doubled
        # underscore; both kept so graphs and node names match.
        i2h_r, i2h_z, i2h_n = symbol.SliceChannel(i2h, num_outputs=3, name=step + "_i2h_slice")
        h2h_r, h2h_z, h2h_n = symbol.SliceChannel(h2h, num_outputs=3, name=step + "_h2h_slice")
        reset = symbol.Activation(i2h_r + h2h_r, act_type="sigmoid", name=step + "_r_act")
        update = symbol.Activation(i2h_z + h2h_z, act_type="sigmoid", name=step + "_z_act")
        candidate = self._get_activation(i2h_n + reset * h2h_n, self._activation,
                                         name=step + "_h_act")
        next_h = symbol._internal._plus((1. - update) * candidate, update * states[0],
                                        name=step + "out")
        return next_h, [next_h]
