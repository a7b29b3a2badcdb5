"""``FusedRNNCell``: a whole multi-layer (bidirectional) RNN, LSTM or GRU as one ``RNN``
operator over one flat parameter vector, with MXNet 1.9.1's parameter names, so its
checkpoints move between the fused cell and the stacked cells `unfuse` builds."""
from .. import initializer as init
from .. import ndarray
from .. import symbol
from ..initializer import _RNN_GATES, _fused_rnn_layout
from .rnn_cell import (BaseRNNCell, BidirectionalCell, DropoutCell, GRUCell, LSTMCell, RNNCell,
                       SequentialRNNCell, _check_hidden, _normalize_sequence, _pop_param)

__all__ = ["FusedRNNCell"]


class FusedRNNCell(BaseRNNCell):
    """``num_layers`` layers of ``mode`` ('rnn_relu', 'rnn_tanh', 'lstm', 'gru') with
    ``num_hidden`` units, run by the fused ``RNN`` operator. Its one weight is
    ``<prefix>parameters``; `unpack_weights` splits it into MXNet's per-gate arrays
    (``lstm_l0_i2h_i_weight``...) and `pack_weights` joins them. ``get_next_state`` makes
    `unroll` also return the final states. Can only be unrolled."""

    def __init__(self, num_hidden, num_layers=1, mode="lstm", bidirectional=False,
                 dropout=0., get_next_state=False, forget_bias=1.0, prefix=None, params=None):
        if mode not in _RNN_GATES:
            raise ValueError("FusedRNNCell: mode must be one of %s, got %r"
                             % (", ".join(sorted(_RNN_GATES)), mode))
        if int(num_layers) != num_layers or num_layers < 1:
            raise ValueError("FusedRNNCell: num_layers must be a positive integer, got %r"
                             % (num_layers,))
        if not 0 <= dropout < 1:
            raise ValueError("FusedRNNCell: dropout must be in [0, 1), got %r" % (dropout,))
        if prefix is None:
            prefix = "%s_" % mode
        super(FusedRNNCell, self).__init__(prefix=prefix, params=params)
        self._num_hidden = _check_hidden(num_hidden)
        self._num_layers = int(num_layers)
        self._mode = mode
        self._bidirectional = bool(bidirectional)
        self._dropout = float(dropout)
        self._get_next_state = bool(get_next_state)
        self._forget_bias = forget_bias
        self._directions = ["l", "r"] if self._bidirectional else ["l"]
        initializer = init.FusedRNN(None, self._num_hidden, self._num_layers, mode,
                                    self._bidirectional, forget_bias)
        self._parameter = self.params.get("parameters", init=initializer)

    @property
    def state_info(self):
        shape = (len(self._directions) * self._num_layers, 0, self._num_hidden)
        n = 2 if self._mode == "lstm" else 1
        return [{"shape": shape, "__layout__": "LNC"} for _ in range(n)]

    @property
    def _gate_names(self):
        return _RNN_GATES[self._mode]

    def _pieces(self, size):
        return [(self._prefix + name, offset, shape) for name, offset, shape in
                _fused_rnn_layout(self._mode, self._num_layers, self._bidirectional,
                                  self._num_hidden, size)]

    def _flat_size(self, num_input):
        h, m, b = self._num_hidden, len(self._gate_names), len(self._directions)
        first = (num_input + h + 2) * h * m * b
        return first + (self._num_layers - 1) * m * h * (h + b * h + 2) * b

    def unpack_weights(self, args):
        """Returns a copy of ``args`` with ``<prefix>parameters`` split into one array per
        layer, direction, i2h/h2h and gate."""
        args = dict(args)
        flat = _pop_param(args, self._parameter.name)
        for name, offset, shape in self._pieces(flat.size):
            size = shape[0] * (shape[1] if len(shape) > 1 else 1)
            args[name] = flat[offset:offset + size].reshape(shape).copy()
        return args

    def pack_weights(self, args):
        """Returns a copy of ``args`` with the per-gate arrays joined into
        ``<prefix>parameters``. Reverse of `unpack_weights`."""
        args = dict(args)
        first = "%sl0_i2h%s_weight" % (self._prefix, self._gate_names[0])
        if first not in args:
            _pop_param(args, first)  # raises, naming what is there
        w0 = args[first]
        flat = ndarray.zeros((self._flat_size(w0.shape[1]),), ctx=w0.context, dtype=w0.dtype)
        for name, offset, shape in self._pieces(flat.size):
            piece = _pop_param(args, name)
            if tuple(piece.shape) != tuple(shape):
                raise ValueError("FusedRNNCell.pack_weights: %s has shape %s, expected %s"
                                 % (name, tuple(piece.shape), tuple(shape)))
            flat[offset:offset + piece.size] = piece.reshape((-1,))
        args[self._parameter.name] = flat
        return args

    def __call__(self, inputs, states):
        raise NotImplementedError("FusedRNNCell cannot be stepped. Please use unroll")

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None):
        """One ``RNN`` node over the whole sequence (laid out as 'TNC' inside; an 'NTC' input
        is swapped there and back). Returns ``(outputs, states)``; ``states`` is empty unless
        ``get_next_state``."""
        self.reset()
        inputs, axis = _normalize_sequence(length, inputs, layout, True)
        if axis == 1:
            inputs = symbol.swapaxes(inputs, dim1=0, dim2=1)
        elif axis != 0:
            raise ValueError("FusedRNNCell.unroll: layout must be 'NTC' or 'TNC', got %r"
                             % (layout,))
        if begin_state is None:
            begin_state = self.begin_state()
        self._check_states(begin_state)
        states = {"state": begin_state[0]}
        if self._mode == "lstm":
            states["state_cell"] = begin_state[1]
        rnn = symbol.RNN(data=inputs, parameters=self._parameter, state_size=self._num_hidden,
                         num_layers=self._num_layers, bidirectional=self._bidirectional,
                         p=self._dropout, state_outputs=self._get_next_state, mode=self._mode,
                         name=self._prefix + "rnn", **states)
        if not self._get_next_state:
            outputs, next_states = rnn, []
        else:
            n = 2 if self._mode == "lstm" else 1
            outputs, next_states = rnn[0], [rnn[i + 1] for i in range(n)]
            for s in next_states:
                s._set_attr(__layout__="LNC")
        if axis == 1:
            outputs = symbol.swapaxes(outputs, dim1=0, dim2=1)
        outputs, _ = _normalize_sequence(length, outputs, layout, merge_outputs)
        return outputs, next_states

    def unfuse(self):
        """The same network as a `SequentialRNNCell` of unfused cells (named so that
        `unpack_weights`' arrays fit them), with `DropoutCell` between layers."""
        def make(prefix):
            if self._mode == "lstm":
                # MXNet 1.9.1 leaves the cells at the default forget_bias: their bias
                # initializer (`LSTMBias(1.0)`) is the one its unfused checkpoints were made with.
                return LSTMCell(self._num_hidden, prefix=prefix)
            if self._mode == "gru":
                return GRUCell(self._num_hidden, prefix=prefix)
            return RNNCell(self._num_hidden, activation=self._mode[4:], prefix=prefix)

        stack = SequentialRNNCell()
        for i in range(self._num_layers):
            if self._bidirectional:
                stack.add(BidirectionalCell(make("%sl%d_" % (self._prefix, i)),
                                            make("%sr%d_" % (self._prefix, i)),
                                            output_prefix="%sbi_l%d_" % (self._prefix, i)))
            else:
                stack.add(make("%sl%d_" % (self._prefix, i)))
            if self._dropout > 0 and i != self._num_layers - 1:
                stack.add(DropoutCell(self._dropout, prefix="%s_dropout%d_" % (self._prefix, i)))
        return stack
