"""Symbolic recurrent cells of ``mx.rnn`` (MXNet 1.9.1 ``python/mxnet/rnn/rnn_cell.py``).

A cell builds, per time step, the graph of one recurrence: ``output, states = cell(x, states)``.
``unroll`` repeats that ``length`` times over a sequence. All steps share one set of weight
variables (held by an `RNNParams`), so the unrolled symbol has exactly MXNet's argument names
(``lstm_i2h_weight``, ``lstm_begin_state_0`` ...) and node names (``lstm_t0_out`` ...), and a
checkpoint written by MXNet binds to it unchanged.

Invariants kept by every cell:
- ``_counter`` is the index of the last step built (``-1`` before the first); it names the step's
  nodes (``<prefix>t<counter>_``). ``reset()`` (called by ``unroll``) sets it back.
- ``_init_counter`` numbers the begin-state symbols (``<prefix>begin_state_<n>``).
- A cell wrapped by a `ModifierCell` is marked ``_modified`` and refuses to be used directly.

The fused (single-op) cell lives in its own module, next to this one.
"""
from .. import symbol
from .. import ndarray
from .. import initializer as init
from ..base import string_types, numeric_types

__all__ = ["RNNParams", "BaseRNNCell", "RNNCell", "LSTMCell", "GRUCell", "SequentialRNNCell",
           "DropoutCell", "ModifierCell", "ZoneoutCell", "ResidualCell", "BidirectionalCell"]


def _time_axis(layout):
    if not isinstance(layout, string_types) or layout.find("T") < 0:
        raise ValueError("layout must be a string with a time axis 'T', such as 'NTC' or 'TNC'; "
                         "got %r" % (layout,))
    return layout.find("T")


def _normalize_sequence(length, inputs, layout, merge, in_layout=None):
    """Returns ``(inputs, time_axis)`` with ``inputs`` as a list of per-step symbols
    (``merge`` False), one symbol with a time axis (``merge`` True), or as given (None)."""
    if inputs is None:
        raise ValueError("unroll needs inputs: a symbol with a time axis or a list of one "
                         "symbol per step (unroll(inputs=None) was removed in MXNet too)")
    axis = _time_axis(layout)
    in_axis = _time_axis(in_layout) if in_layout is not None else axis
    if isinstance(inputs, symbol.Symbol):
        if merge is False:
            if len(inputs.list_outputs()) != 1:
                raise ValueError("unroll takes a symbol with one output, got %d outputs; pass "
                                 "list(inputs) for one symbol per step"
                                 % len(inputs.list_outputs()))
            if length is None:
                raise ValueError("unroll needs length to split a sequence symbol into steps")
            inputs = list(symbol.split(inputs, axis=in_axis, num_outputs=length,
                                       squeeze_axis=1))
    else:
        if not isinstance(inputs, (list, tuple)) or \
                not all(isinstance(i, symbol.Symbol) for i in inputs):
            raise TypeError("unroll inputs must be a Symbol or a list of Symbols, got %r"
                            % (type(inputs).__name__,))
        if length is not None and len(inputs) != length:
            raise ValueError("unroll(length=%d) was given %d input symbols; give one per step"
                             % (length, len(inputs)))
        inputs = list(inputs)
        if merge is True:
            steps = [symbol.expand_dims(i, axis=axis) for i in inputs]
            inputs = symbol.Concat(*steps, dim=axis)
            in_axis = axis
    if isinstance(inputs, symbol.Symbol) and axis != in_axis:
        inputs = symbol.swapaxes(inputs, dim1=axis, dim2=in_axis)
    return inputs, axis


class RNNParams(object):
    """The weight variables of one or more cells, created on first ``get`` and shared after.

    Every name is prefixed with ``prefix``; passing the same container to several cells makes
    them share weights.
    """

    def __init__(self, prefix=""):
        self._prefix = prefix
        self._params = {}

    def get(self, name, **kwargs):
        """The variable ``prefix + name``; created with ``symbol.Variable(**kwargs)`` if new."""
        full = self._prefix + name
        if full not in self._params:
            self._params[full] = symbol.Variable(full, **kwargs)
        return self._params[full]


class BaseRNNCell(object):
    """Base of all cells. ``prefix`` names the cell's nodes and, when ``params`` is None, its
    weights; ``params`` (an `RNNParams`) shares weights with other cells."""

    def __init__(self, prefix="", params=None):
        if params is None:
            params = RNNParams(prefix)
            self._own_params = True
        else:
            if not isinstance(params, RNNParams):
                raise TypeError("params must be an mx.rnn.RNNParams, got %r"
                                % type(params).__name__)
            self._own_params = False
        self._prefix = prefix
        self._params = params
        self._modified = False
        self.reset()

    def reset(self):
        """Restarts step and begin-state numbering before building another graph."""
        self._init_counter = -1
        self._counter = -1
        for cell in getattr(self, "_cells", ()):
            cell.reset()

    def __call__(self, inputs, states):
        """Builds one step: returns ``(output, new_states)``."""
        raise NotImplementedError("%s does not implement a single step" % type(self).__name__)

    @property
    def params(self):
        """The cell's `RNNParams` (once handed out, the cell no longer counts as owning it)."""
        self._own_params = False
        return self._params

    @property
    def state_info(self):
        """One dict per state: ``shape`` (0 = batch, inferred) and ``__layout__``."""
        raise NotImplementedError()

    @property
    def state_shape(self):
        """The shapes from `state_info`."""
        return [info["shape"] for info in self.state_info]

    @property
    def _gate_names(self):
        return ()

    def _check_unmodified(self):
        if self._modified:
            raise RuntimeError("this cell is wrapped by a modifier cell (DropoutCell, "
                               "ZoneoutCell, ResidualCell...); use the modifier cell instead")

    def _check_states(self, states):
        if not isinstance(states, (list, tuple)):
            raise TypeError("%s step: states must be a list of symbols, got %r"
                            % (type(self).__name__, type(states).__name__))
        if len(states) != len(self.state_info):
            raise ValueError("%s step expects %d state(s), got %d"
                             % (type(self).__name__, len(self.state_info), len(states)))

    def begin_state(self, func=symbol.zeros, **kwargs):
        """The initial states, each ``func(name='<prefix>begin_state_<n>', shape=..., **kwargs)``;
        ``func`` is ``symbol.zeros`` by default, ``symbol.Variable`` to feed states as inputs."""
        self._check_unmodified()
        states = []
        for info in self.state_info:
            self._init_counter += 1
            args = dict(kwargs)
            if info is not None:
                args.update(info)
            states.append(func(name="%sbegin_state_%d" % (self._prefix, self._init_counter),
                               **args))
        return states

    def _stacked_params(self, num_hidden, i2h_bias_init=None):
        """The i2h/h2h weights and biases of a single-layer cell, its gates stacked."""
        self._num_hidden = _check_hidden(num_hidden)
        self._iW = self.params.get("i2h_weight")
        self._hW = self.params.get("h2h_weight")
        bias_kwargs = {} if i2h_bias_init is None else {"init": i2h_bias_init}
        self._iB = self.params.get("i2h_bias", **bias_kwargs)
        self._hB = self.params.get("h2h_bias")

    def _gate_weight_names(self, group, gate):
        return ("%s%s%s_weight" % (self._prefix, group, gate),
                "%s%s%s_bias" % (self._prefix, group, gate))

    def unpack_weights(self, args):
        """Returns a copy of ``args`` where each stacked ``i2h``/``h2h`` weight and bias is split
        into one array per gate (``lstm_i2h_i_weight`` ...). Reverse of `pack_weights`."""
        args = dict(args)
        if not self._gate_names:
            return args
        hidden = self._num_hidden
        for group in ("i2h", "h2h"):
            weight = _pop_param(args, "%s%s_weight" % (self._prefix, group))
            bias = _pop_param(args, "%s%s_bias" % (self._prefix, group))
            for j, gate in enumerate(self._gate_names):
                wname, bname = self._gate_weight_names(group, gate)
                args[wname] = weight[j * hidden:(j + 1) * hidden].copy()
                args[bname] = bias[j * hidden:(j + 1) * hidden].copy()
        return args

    def pack_weights(self, args):
        """Returns a copy of ``args`` with the per-gate arrays stacked back into ``i2h``/``h2h``
        weights and biases. Reverse of `unpack_weights`."""
        args = dict(args)
        if not self._gate_names:
            return args
        for group in ("i2h", "h2h"):
            weights, biases = [], []
            for gate in self._gate_names:
                wname, bname = self._gate_weight_names(group, gate)
                weights.append(_pop_param(args, wname))
                biases.append(_pop_param(args, bname))
            args["%s%s_weight" % (self._prefix, group)] = ndarray.concatenate(weights)
            args["%s%s_bias" % (self._prefix, group)] = ndarray.concatenate(biases)
        return args

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None):
        """Builds ``length`` steps over ``inputs``.

        ``inputs`` is one symbol laid out as ``layout`` ('NTC' or 'TNC') or a list of ``length``
        symbols of shape (batch, ...). ``begin_state`` defaults to `begin_state()`. Outputs come
        back as a list (``merge_outputs`` False), one symbol laid out as ``layout`` (True), or
        whichever is cheaper (None). Returns ``(outputs, states)``.
        """
        self.reset()
        inputs, _ = _normalize_sequence(length, inputs, layout, False)
        if begin_state is None:
            begin_state = self.begin_state()
        self._check_states(begin_state)
        states = begin_state
        outputs = []
        for step in range(length):
            output, states = self(inputs[step], states)
            outputs.append(output)
        outputs, _ = _normalize_sequence(length, outputs, layout, merge_outputs)
        return outputs, states

    def _get_activation(self, inputs, activation, **kwargs):
        """``Activation(act_type=activation)`` for a string, else ``activation(inputs)``."""
        if isinstance(activation, string_types):
            return symbol.Activation(inputs, act_type=activation, **kwargs)
        return activation(inputs, **kwargs)


def _pop_param(args, name):
    try:
        return args.pop(name)
    except KeyError:
        raise KeyError("parameter %r is missing (have: %s)"
                       % (name, ", ".join(sorted(args)) or "nothing")) from None


def _check_hidden(num_hidden):
    if isinstance(num_hidden, bool) or not isinstance(num_hidden, numeric_types) or \
            int(num_hidden) != num_hidden or num_hidden <= 0:
        raise ValueError("num_hidden must be a positive integer, got %r" % (num_hidden,))
    return int(num_hidden)


class RNNCell(BaseRNNCell):
    """Elman cell: ``h' = activation(W_i x + b_i + W_h h + b_h)``; ``activation`` is an
    Activation act_type ('tanh', 'relu') or a callable on a symbol."""

    def __init__(self, num_hidden, activation="tanh", prefix="rnn_", params=None):
        super(RNNCell, self).__init__(prefix=prefix, params=params)
        self._activation = activation
        self._stacked_params(num_hidden)

    @property
    def state_info(self):
        return [{"shape": (0, self._num_hidden), "__layout__": "NC"}]

    @property
    def _gate_names(self):
        return ("",)

    def __call__(self, inputs, states):
        self._check_states(states)
        self._counter += 1
        step = "%st%d_" % (self._prefix, self._counter)
        i2h = symbol.FullyConnected(data=inputs, weight=self._iW, bias=self._iB,
                                    num_hidden=self._num_hidden, name=step + "i2h")
        h2h = symbol.FullyConnected(data=states[0], weight=self._hW, bias=self._hB,
                                    num_hidden=self._num_hidden, name=step + "h2h")
        out = self._get_activation(i2h + h2h, self._activation, name=step + "out")
        return out, [out]


class LSTMCell(BaseRNNCell):
    """LSTM cell; gates stacked as input, forget, cell candidate, output (MXNet's and cuDNN's
    order). ``i2h_bias`` is initialized by `mx.init.LSTMBias` with ``forget_bias`` on the forget
    gate. States: ``[h, c]``."""

    def __init__(self, num_hidden, prefix="lstm_", params=None, forget_bias=1.0):
        super(LSTMCell, self).__init__(prefix=prefix, params=params)
        self._stacked_params(num_hidden, init.LSTMBias(forget_bias=forget_bias))

    @property
    def state_info(self):
        return [{"shape": (0, self._num_hidden), "__layout__": "NC"},
                {"shape": (0, self._num_hidden), "__layout__": "NC"}]

    @property
    def _gate_names(self):
        return ["_i", "_f", "_c", "_o"]

    def __call__(self, inputs, states):
        self._check_states(states)
        self._counter += 1
        step = "%st%d_" % (self._prefix, self._counter)
        hidden4 = self._num_hidden * 4
        i2h = symbol.FullyConnected(data=inputs, weight=self._iW, bias=self._iB,
                                    num_hidden=hidden4, name=step + "i2h")
        h2h = symbol.FullyConnected(data=states[0], weight=self._hW, bias=self._hB,
                                    num_hidden=hidden4, name=step + "h2h")
        gates = symbol.SliceChannel(i2h + h2h, num_outputs=4, name=step + "slice")
        in_gate = symbol.Activation(gates[0], act_type="sigmoid", name=step + "i")
        forget_gate = symbol.Activation(gates[1], act_type="sigmoid", name=step + "f")
        candidate = symbol.Activation(gates[2], act_type="tanh", name=step + "c")
        out_gate = symbol.Activation(gates[3], act_type="sigmoid", name=step + "o")
        next_c = symbol._internal._plus(forget_gate * states[1], in_gate * candidate,
                                        name=step + "state")
        next_h = symbol._internal._mul(out_gate, symbol.Activation(next_c, act_type="tanh"),
                                       name=step + "out")
        return next_h, [next_h, next_c]


class GRUCell(BaseRNNCell):
    """GRU cell in cuDNN's form (the reset gate scales ``W_h h + b_h``); gates stacked as
    reset, update, candidate. ``h' = (1 - z) * n + z * h``."""

    def __init__(self, num_hidden, prefix="gru_", params=None):
        super(GRUCell, self).__init__(prefix=prefix, params=params)
        self._stacked_params(num_hidden)

    @property
    def state_info(self):
        return [{"shape": (0, self._num_hidden), "__layout__": "NC"}]

    @property
    def _gate_names(self):
        return ["_r", "_z", "_o"]

    def __call__(self, inputs, states):
        self._check_states(states)
        self._counter += 1
        # MXNet's GRU node names carry a doubled underscore ('gru_t0__i2h'); kept for parity.
        step = "%st%d_" % (self._prefix, self._counter)
        prev_h = states[0]
        hidden3 = self._num_hidden * 3
        i2h = symbol.FullyConnected(data=inputs, weight=self._iW, bias=self._iB,
                                    num_hidden=hidden3, name="%s_i2h" % step)
        h2h = symbol.FullyConnected(data=prev_h, weight=self._hW, bias=self._hB,
                                    num_hidden=hidden3, name="%s_h2h" % step)
        i2h_r, i2h_z, i2h_n = symbol.SliceChannel(i2h, num_outputs=3,
                                                  name="%s_i2h_slice" % step)
        h2h_r, h2h_z, h2h_n = symbol.SliceChannel(h2h, num_outputs=3,
                                                  name="%s_h2h_slice" % step)
        reset = symbol.Activation(i2h_r + h2h_r, act_type="sigmoid", name="%s_r_act" % step)
        update = symbol.Activation(i2h_z + h2h_z, act_type="sigmoid", name="%s_z_act" % step)
        candidate = symbol.Activation(i2h_n + reset * h2h_n, act_type="tanh",
                                      name="%s_h_act" % step)
        next_h = symbol._internal._plus((1. - update) * candidate, update * prev_h,
                                        name="%sout" % step)
        return next_h, [next_h]


def _cells_state_info(cells):
    return [info for cell in cells for info in cell.state_info]


def _cells_begin_state(cells, **kwargs):
    return [state for cell in cells for state in cell.begin_state(**kwargs)]


def _cells_unpack_weights(cells, args):
    for cell in cells:
        args = cell.unpack_weights(args)
    return args


def _cells_pack_weights(cells, args):
    for cell in cells:
        args = cell.pack_weights(args)
    return args


def _adopt_params(parent, children):
    """Shares weights between a container cell and its children: with explicit ``params`` on
    the container, each child (which must own its params) takes the container's variables;
    then the container learns every child's variables."""
    if parent._override_cell_params:
        for child in children:
            if not child._own_params:
                raise ValueError("give params either to the %s or to its child cells, not both"
                                 % type(parent).__name__)
            child.params._params.update(parent.params._params)
    for child in children:
        parent.params._params.update(child.params._params)


class SequentialRNNCell(BaseRNNCell):
    """A stack of cells, each feeding its output to the next; states are concatenated."""

    def __init__(self, params=None):
        self._cells = []
        super(SequentialRNNCell, self).__init__(prefix="", params=params)
        self._override_cell_params = params is not None

    def add(self, cell):
        """Appends ``cell`` to the stack."""
        if not isinstance(cell, BaseRNNCell):
            raise TypeError("SequentialRNNCell.add takes an RNN cell, got %r"
                            % type(cell).__name__)
        _adopt_params(self, [cell])
        self._cells.append(cell)

    @property
    def state_info(self):
        return _cells_state_info(self._cells)

    def begin_state(self, **kwargs):  # pylint: disable=arguments-differ
        self._check_unmodified()
        return _cells_begin_state(self._cells, **kwargs)

    def unpack_weights(self, args):
        return _cells_unpack_weights(self._cells, args)

    def pack_weights(self, args):
        return _cells_pack_weights(self._cells, args)

    def _split_states(self, states):
        self._check_states(states)
        start = 0
        for cell in self._cells:
            n = len(cell.state_info)
            yield cell, list(states[start:start + n])
            start += n

    def __call__(self, inputs, states):
        self._counter += 1
        next_states = []
        for cell, cell_states in self._split_states(states):
            if isinstance(cell, BidirectionalCell):
                raise ValueError("a SequentialRNNCell holding a BidirectionalCell cannot be "
                                 "stepped; use unroll")
            inputs, cell_states = cell(inputs, cell_states)
            next_states.extend(cell_states)
        return inputs, next_states

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None):
        self.reset()
        if begin_state is None:
            begin_state = self.begin_state()
        last = len(self._cells) - 1
        next_states = []
        for i, (cell, cell_states) in enumerate(self._split_states(begin_state)):
            inputs, cell_states = cell.unroll(
                length, inputs=inputs, begin_state=cell_states, layout=layout,
                merge_outputs=merge_outputs if i == last else None)
            next_states.extend(cell_states)
        return inputs, next_states


class DropoutCell(BaseRNNCell):
    """Applies Dropout with probability ``dropout`` to its input; holds no state."""

    def __init__(self, dropout, prefix="dropout_", params=None):
        super(DropoutCell, self).__init__(prefix, params)
        if isinstance(dropout, bool) or not isinstance(dropout, numeric_types):
            raise TypeError("dropout probability must be a number, got %r" % (dropout,))
        if not 0 <= dropout < 1:
            raise ValueError("dropout probability must be in [0, 1), got %r" % (dropout,))
        self.dropout = dropout

    @property
    def state_info(self):
        return []

    def __call__(self, inputs, states):
        if self.dropout > 0:
            inputs = symbol.Dropout(data=inputs, p=self.dropout)
        return inputs, states

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None):
        self.reset()
        inputs, _ = _normalize_sequence(length, inputs, layout, merge_outputs)
        if isinstance(inputs, symbol.Symbol):
            # One Dropout over the whole sequence instead of one per step.
            return self(inputs, [])
        return super(DropoutCell, self).unroll(length, inputs, begin_state=begin_state,
                                               layout=layout, merge_outputs=merge_outputs)


class ModifierCell(BaseRNNCell):
    """Wraps ``base_cell`` to change its step (dropout on outputs, residual connection...).
    The wrapped cell is marked modified and must be used through the wrapper."""

    def __init__(self, base_cell):
        if not isinstance(base_cell, BaseRNNCell):
            raise TypeError("%s wraps an RNN cell, got %r"
                            % (type(self).__name__, type(base_cell).__name__))
        self.base_cell = base_cell
        super(ModifierCell, self).__init__()
        base_cell._modified = True

    @property
    def params(self):
        self._own_params = False
        return self.base_cell.params

    @property
    def state_info(self):
        return self.base_cell.state_info

    def begin_state(self, init_sym=symbol.zeros, **kwargs):  # pylint: disable=arguments-differ
        # MXNet names the creator `init_sym` here and `func` elsewhere; both are accepted.
        func = kwargs.pop("func", init_sym)
        self._check_unmodified()
        self.base_cell._modified = False
        try:
            return self.base_cell.begin_state(func, **kwargs)
        finally:
            self.base_cell._modified = True

    def unpack_weights(self, args):
        return self.base_cell.unpack_weights(args)

    def pack_weights(self, args):
        return self.base_cell.pack_weights(args)

    def __call__(self, inputs, states):
        raise NotImplementedError("%s does not implement a single step" % type(self).__name__)


class ZoneoutCell(ModifierCell):
    """Zoneout (Krueger et al. 2016): with probability ``zoneout_outputs`` / ``zoneout_states``
    an output / state element keeps its previous value (at training time, via Dropout masks)."""

    def __init__(self, base_cell, zoneout_outputs=0., zoneout_states=0.):
        if isinstance(base_cell, BidirectionalCell) or (
                isinstance(base_cell, SequentialRNNCell)
                and any(isinstance(c, BidirectionalCell) for c in base_cell._cells)):
            raise ValueError("zoneout needs a steppable cell; wrap the cells inside the "
                             "BidirectionalCell with ZoneoutCell instead")
        if type(base_cell).__name__ == "FusedRNNCell":
            raise ValueError("FusedRNNCell does not support zoneout; unfuse() it first")
        super(ZoneoutCell, self).__init__(base_cell)
        self.zoneout_outputs = zoneout_outputs
        self.zoneout_states = zoneout_states
        self.prev_output = None

    def reset(self):
        super(ZoneoutCell, self).reset()
        self.prev_output = None

    def __call__(self, inputs, states):
        next_output, next_states = self.base_cell(inputs, states)

        def keep_mask(p, like):
            return symbol.Dropout(symbol.ones_like(like), p=p)

        if self.zoneout_outputs != 0.:
            # MXNet starts from zeros((0, 0)) and lets shape inference fill it; zeros_like
            # gives the same values without relying on `where` inferring its inputs' shapes.
            prev = self.prev_output if self.prev_output is not None \
                else symbol.zeros_like(next_output)
            output = symbol.where(keep_mask(self.zoneout_outputs, next_output),
                                  next_output, prev)
        else:
            output = next_output
        if self.zoneout_states != 0.:
            states = [symbol.where(keep_mask(self.zoneout_states, new), new, old)
                      for new, old in zip(next_states, states)]
        else:
            states = next_states
        self.prev_output = output
        return output, states


class ResidualCell(ModifierCell):
    """Adds the step's input to the base cell's output (input and output sizes must match)."""

    def __call__(self, inputs, states):
        output, states = self.base_cell(inputs, states)
        output = symbol.elemwise_add(output, inputs, name="%s_plus_residual" % output.name)
        return output, states

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None):
        self.reset()
        self.base_cell._modified = False
        try:
            outputs, states = self.base_cell.unroll(length, inputs=inputs,
                                                    begin_state=begin_state, layout=layout,
                                                    merge_outputs=merge_outputs)
        finally:
            self.base_cell._modified = True
        if merge_outputs is None:
            merge_outputs = isinstance(outputs, symbol.Symbol)
        inputs, _ = _normalize_sequence(length, inputs, layout, merge_outputs)
        if merge_outputs:
            outputs = symbol.elemwise_add(outputs, inputs,
                                          name="%s_plus_residual" % outputs.name)
        else:
            outputs = [symbol.elemwise_add(o, i, name="%s_plus_residual" % o.name)
                       for o, i in zip(outputs, inputs)]
        return outputs, states


class BidirectionalCell(BaseRNNCell):
    """Runs ``l_cell`` forward and ``r_cell`` backward in time and concatenates their outputs
    on the feature axis (nodes ``<output_prefix>t<i>`` or ``<output_prefix>out``). Can only be
    unrolled; states come back as ``[l_states, r_states]``."""

    def __init__(self, l_cell, r_cell, params=None, output_prefix="bi_"):
        for cell in (l_cell, r_cell):
            if not isinstance(cell, BaseRNNCell):
                raise TypeError("BidirectionalCell takes two RNN cells, got %r"
                                % type(cell).__name__)
        self._cells = []
        super(BidirectionalCell, self).__init__("", params=params)
        self._output_prefix = output_prefix
        self._override_cell_params = params is not None
        _adopt_params(self, [l_cell, r_cell])
        self._cells = [l_cell, r_cell]

    def unpack_weights(self, args):
        return _cells_unpack_weights(self._cells, args)

    def pack_weights(self, args):
        return _cells_pack_weights(self._cells, args)

    def __call__(self, inputs, states):
        raise NotImplementedError("BidirectionalCell cannot be stepped; use unroll")

    @property
    def state_info(self):
        return _cells_state_info(self._cells)

    def begin_state(self, **kwargs):  # pylint: disable=arguments-differ
        self._check_unmodified()
        return _cells_begin_state(self._cells, **kwargs)

    def unroll(self, length, inputs, begin_state=None, layout="NTC", merge_outputs=None):
        self.reset()
        inputs, axis = _normalize_sequence(length, inputs, layout, False)
        if begin_state is None:
            begin_state = self.begin_state()
        self._check_states(begin_state)
        l_cell, r_cell = self._cells
        n_left = len(l_cell.state_info)
        l_outputs, l_states = l_cell.unroll(length, inputs=inputs,
                                            begin_state=list(begin_state[:n_left]),
                                            layout=layout, merge_outputs=merge_outputs)
        r_outputs, r_states = r_cell.unroll(length, inputs=list(reversed(inputs)),
                                            begin_state=list(begin_state[n_left:]),
                                            layout=layout, merge_outputs=merge_outputs)
        if merge_outputs is None:
            merge_outputs = isinstance(l_outputs, symbol.Symbol) and \
                isinstance(r_outputs, symbol.Symbol)
            if not merge_outputs:
                if isinstance(l_outputs, symbol.Symbol):
                    l_outputs = list(symbol.SliceChannel(l_outputs, axis=axis,
                                                         num_outputs=length, squeeze_axis=1))
                if isinstance(r_outputs, symbol.Symbol):
                    r_outputs = list(symbol.SliceChannel(r_outputs, axis=axis,
                                                         num_outputs=length, squeeze_axis=1))
        if merge_outputs:
            # Features are the last axis in both 'NTC' and 'TNC'.
            outputs = symbol.Concat(l_outputs, symbol.reverse(r_outputs, axis=axis), dim=2,
                                    name="%sout" % self._output_prefix)
        else:
            outputs = [symbol.Concat(l_o, r_o, dim=1, name="%st%d" % (self._output_prefix, i))
                       for i, (l_o, r_o) in enumerate(zip(l_outputs, reversed(r_outputs)))]
        return outputs, [l_states, r_states]
