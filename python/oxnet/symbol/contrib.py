"""`mx.sym.contrib`: the registry's `_contrib_<name>` ops as `<name>` (added by the package
``__init__``), and MXNet's Python-level `rand_zipfian`, AdamW updates and `foreach`."""
import math
import re

from . import _internal
from .random import uniform
from .symbol import Group, Symbol, full, var
from .. import _native, _nesting
from ..attribute import AttrScope
from ..base import MXNetError
from ..name import NameManager

__all__ = ["rand_zipfian", "adamw_update", "mp_adamw_update", "foreach", "cond", "while_loop"]


def rand_zipfian(true_classes, num_sampled, range_max):
    """Symbolic form of `mx.nd.contrib.rand_zipfian`: (sampled int64 classes, expected count of
    each true class, expected count of each sampled class)."""
    log_range = math.log(range_max + 1)
    rand = uniform(0, log_range, shape=(num_sampled,), dtype="float64")
    sampled = _internal.Cast(_internal.exp(rand) - 1, dtype="int64") % range_max
    true_cls = _internal.Cast(true_classes, dtype="float64")
    count_true = _internal.log((true_cls + 2.0) / (true_cls + 1.0)) / log_range * num_sampled
    sampled_f = _internal.Cast(sampled, dtype="float64")
    count_sampled = _internal.log((sampled_f + 2.0) / (sampled_f + 1.0)) / log_range * num_sampled
    return sampled, count_true, count_sampled


def _rescale_symbol(rescale_grad):
    return rescale_grad if isinstance(rescale_grad, Symbol) else full((1,), rescale_grad)


def adamw_update(weight, grad, mean, var, rescale_grad, lr, eta, beta1=0.9, beta2=0.999,
                 epsilon=1e-8, wd=0, clip_gradient=-1, name=None, **kwargs):
    """Symbolic `mx.nd.contrib.adamw_update`: `rescale_grad` a number or a symbol."""
    return _internal._adamw_update(weight, grad, mean, var, _rescale_symbol(rescale_grad),
                                   lr=lr, eta=eta, beta1=beta1, beta2=beta2, epsilon=epsilon,
                                   wd=wd, clip_gradient=clip_gradient, name=name, **kwargs)


def mp_adamw_update(weight, grad, mean, var, weight32, rescale_grad, lr, eta, beta1=0.9,
                    beta2=0.999, epsilon=1e-8, wd=0, clip_gradient=-1, name=None, **kwargs):
    """Symbolic `mx.nd.contrib.mp_adamw_update`: `rescale_grad` a number or a symbol."""
    return _internal._mp_adamw_update(weight, grad, mean, var, weight32,
                                      _rescale_symbol(rescale_grad), lr=lr, eta=eta, beta1=beta1,
                                      beta2=beta2, epsilon=epsilon, wd=wd,
                                      clip_gradient=clip_gradient, name=name, **kwargs)


def _unique_subgraph_name(name):
    """`foreach` -> foreach0, foreach1... (counters on AttrScope, where MXNet keeps them)."""
    outer = AttrScope.current.get(None).get("__subgraph_name__", "")
    if outer:
        name = outer + "$" + name
    AttrScope._subgraph_names[name] += 1
    return name + str(AttrScope._subgraph_names[name] - 1)


class _UnusedLoopInput(MXNetError, AssertionError):
    """A loop input the body never reads (MXNet 1.9.1 checks this with assert)."""


def _uniq_name(sym):
    """The loop-body variable standing for `sym`: `<node name>-<output index>` as in MXNet."""
    out = sym.list_outputs()[0]
    m = re.search(r"_output(\d+)$", out)
    return "%s-%s" % (sym.name, m.group(1) if m else 0)


def _body_outputs(outs, states, name):
    """Group the body's outputs, wrapping in `identity` any that is a body input, repeated, or
    computed outside the loop (MXNet's rule, so every head is a node of the subgraph)."""
    g = Group(outs + states)
    inputs = set(g.list_inputs())
    out_names = {o.name for o in outs}
    flat = []
    for i, o in enumerate(outs + states):
        outside = o.list_attr().get("__subgraph_name__", "") != name
        repeated = i >= len(outs) and o.name in out_names
        flat.append(_internal.identity(o) if outside or o.name in inputs or repeated else o)
    return Group(flat)


def foreach(body, data, init_states, name="foreach"):
    """Symbolic for loop over axis 0: ``out, states = body(data[i], states)`` for each i; returns
    (step outputs stacked along axis 0, final states), as one `_foreach` node carrying the body
    as its subgraph. `data` and `init_states` are Symbols or (nested) lists of them."""
    flat_data, data_fmt = _nesting.flatten(data, "foreach input", Symbol, "a Symbol")
    flat_states, state_fmt = _nesting.flatten(init_states, "foreach states", Symbol,
                                              "a Symbol")
    name = _unique_subgraph_name(name)
    with AttrScope(__subgraph_name__=name):
        in_vars, _ = _nesting.regroup([var(_uniq_name(s)) for s in flat_data], data_fmt)
        st_vars, _ = _nesting.regroup([var(_uniq_name(s)) for s in flat_states], state_fmt)
        sym_out, sym_states = body(in_vars, st_vars)
        sym_out, out_fmt = _nesting.flatten(sym_out, "foreach output", Symbol, "a Symbol")
        sym_states, body_state_fmt = _nesting.flatten(sym_states, "foreach loop_vars", Symbol,
                                                      "a Symbol")
        if body_state_fmt != state_fmt:
            raise ValueError("foreach: the body returned states nested as %s, the initial "
                             "states are nested as %s" % (body_state_fmt, state_fmt))
        g = _body_outputs(sym_out, sym_states, name)
    g, cuts = _cut(g, name)
    cut = dict(cuts)
    sub_inputs = g.list_inputs()
    if len(set(sub_inputs)) != len(sub_inputs):
        raise MXNetError("foreach: the inputs of the loop body do not have unique names: %s"
                         % sub_inputs)
    data_names = [_uniq_name(s) for s in flat_data]
    state_names = [_uniq_name(s) for s in flat_states]
    for what, names in (("data", data_names), ("state", state_names)):
        for n in names:
            if n not in sub_inputs:
                raise _UnusedLoopInput("foreach: the %s arrays have to be used in the loop "
                                       "body (%s is not)" % (what, n))
    internals = {s.name: s for s in _body_variables(g)}
    ordered = list(flat_data) + list(flat_states)
    remain = []
    for i, n in enumerate(sub_inputs):
        if n in cut:
            ordered.append(cut[n])
            remain.append(i)
        elif n not in data_names and n not in state_names:
            ordered.append(internals[n])
            remain.append(i)
    attrs = {
        "num_args": str(len(ordered) + 1),
        "num_outputs": str(len(sym_out) + len(sym_states)),
        "num_out_data": str(len(sym_out)),
        "in_data_locs": _tuple([sub_inputs.index(n) for n in data_names]),
        "in_state_locs": _tuple([sub_inputs.index(n) for n in state_names]),
        "remain_locs": _tuple(remain),
    }
    node = _control_flow_node("_foreach", NameManager.current.get(None, "_foreach"),
                                       attrs, ordered, [g])
    nout = len(sym_out)
    outs, _ = _nesting.regroup([node[i] for i in range(nout)], out_fmt)
    states, _ = _nesting.regroup([node[nout + i] for i in range(len(sym_states))], state_fmt)
    return outs, states


def _cut(graph, name):
    """(graph with inputs from outside subgraph `name` cut into variables, {variable name:
    outer Symbol})."""
    g, cuts = graph.handle._cut_subgraph(name)
    return Symbol(g), [(n, Symbol(h)) for n, h in cuts]


def _control_flow_node(op, name, attrs, inputs, subgraphs):
    node = Symbol(_native.Symbol._create_control_flow(
        op, name, attrs, [s.handle for s in inputs], [g.handle for g in subgraphs]))
    scope = AttrScope.current.get(None)
    if scope:
        # The scope's attributes, as on every op node: `__subgraph_name__` marks a loop
        # built inside another loop's body as part of it; `ctx_group` places it.
        node._set_attr(**scope)
    return node


def _tuple(v):
    return "[" + ", ".join(str(x) for x in v) + "]"


def _body_variables(g):
    """The variable symbols of graph `g` (its inputs), each as a one-output Symbol."""
    internals = g.get_internals()
    return [internals[i] for i, n in enumerate(internals.list_outputs())
            if n in set(g.list_inputs())]


def _branch_graph(func, name):
    """Calls `func()` in a fresh subgraph scope; returns (grouped outputs, count, nesting)."""
    name = _unique_subgraph_name(name)
    with AttrScope(__subgraph_name__=name):
        outputs, fmt = _nesting.flatten(func(), "cond outputs", Symbol, "a Symbol")
        inputs = set(Group(outputs).list_inputs())
        graph = Group([_internal.identity(o)
                       if o.name in inputs
                       or o.list_attr().get("__subgraph_name__", "") != name else o
                       for o in outputs])
    graph, cuts = _cut(graph, name)
    return graph, len(outputs), fmt, dict(cuts)


def cond(pred, then_func, else_func, name="cond"):
    """Symbolic if: ``then_func()`` when the one-element `pred` is nonzero, else
    ``else_func()``; only the taken branch runs (and receives gradients). One `_cond` node
    carries the predicate and both branches as subgraphs."""
    graphs = []
    for func, suffix in ((lambda: pred, "_pred"), (then_func, "_then"), (else_func, "_else")):
        graphs.append(_branch_graph(func, name + suffix))
    if graphs[0][1] != 1:
        raise ValueError("pred should always be a single output")
    if graphs[1][1] != graphs[2][1]:
        raise ValueError("Number of outputs differs between then-branch and else-branch")
    # One node input per distinct name across the three subgraphs, in first-seen order.
    inputs, by_name, all_locs = [], {}, []
    for graph, _, _, cuts in graphs:
        internals = {s.name: s for s in _body_variables(graph)}
        locs = []
        for n in graph.list_inputs():
            if n not in by_name:
                by_name[n] = len(inputs)
                inputs.append(cuts[n] if n in cuts else internals[n])
            locs.append(by_name[n])
        all_locs.append(locs)
    attrs = {
        "num_args": str(len(inputs) + 3),
        "num_outputs": str(graphs[1][1]),
        "cond_input_locs": _tuple(all_locs[0]),
        "then_input_locs": _tuple(all_locs[1]),
        "else_input_locs": _tuple(all_locs[2]),
    }
    node = _control_flow_node("_cond", NameManager.current.get(None, "_cond"), attrs,
                                       inputs, [g[0] for g in graphs])
    outs, _ = _nesting.regroup([node[i] for i in range(graphs[1][1])], graphs[1][2])
    return outs


def while_loop(cond, func, loop_vars, max_iterations=None, name="while_loop"):
    """Symbolic while loop: while ``cond(*loop_vars)`` (a one-element Symbol) is nonzero and
    fewer than `max_iterations` steps ran, ``step_out, loop_vars = func(*loop_vars)``. Returns
    (step outputs stacked along axis 0 with `max_iterations` rows, final loop_vars); rows after
    the last step are zeros (MXNet leaves them uninitialized)."""
    if max_iterations is None:
        raise ValueError("max_iterations should be specified")
    if hasattr(max_iterations, "asscalar"):
        max_iterations = max_iterations.asscalar()
    try:
        max_iterations = int(max_iterations)
    except (TypeError, ValueError):
        raise ValueError("Cannot convert max_iteration to python int") from None
    flat_vars, var_fmt = _nesting.flatten(loop_vars, "while loop_vars", Symbol, "a Symbol")
    if not flat_vars:
        raise ValueError("loop_vars should contain at least one element")
    var_names = [_uniq_name(s) for s in flat_vars]

    def subgraph(wrapper, sub_name):
        sub_name = _unique_subgraph_name(sub_name)
        with AttrScope(__subgraph_name__=sub_name):
            new_vars, _ = _nesting.regroup([var(n) for n in var_names], var_fmt)
            outputs, states, out_fmt = wrapper(new_vars)
            inputs = set(Group(outputs + states).list_inputs())
            graph = Group([_internal.identity(o)
                           if o.name in inputs
                           or o.list_attr().get("__subgraph_name__", "") != sub_name else o
                           for o in outputs + states])
        graph, cuts = _cut(graph, sub_name)
        return graph, len(outputs), out_fmt, dict(cuts)

    def cond_wrapper(vs):
        result = cond(*vs)
        if not isinstance(result, Symbol):
            raise ValueError("Return of cond must be a Symbol")
        return [], [result], 0

    def func_wrapper(vs):
        step_output, new_vars = func(*vs)
        step_output = [] if step_output is None else step_output
        new_vars = [] if new_vars is None else new_vars
        if isinstance(step_output, tuple):
            step_output = list(step_output)
        if isinstance(new_vars, tuple):
            new_vars = list(new_vars)
        step_output, out_fmt = _nesting.flatten(step_output, "while output", Symbol, "a Symbol")
        new_vars, _ = _nesting.flatten(new_vars, "while loop_vars", Symbol, "a Symbol")
        if len(new_vars) != len(flat_vars):
            raise ValueError("The number of loop_vars should be consistent during the loop")
        return step_output, new_vars, out_fmt

    cond_g, _, _, cond_cuts = subgraph(cond_wrapper, name + "_cond")
    func_g, num_out_data, out_fmt, func_cuts = subgraph(func_wrapper, name + "_func")
    by_var = dict(zip(var_names, flat_vars))
    inputs, by_name, all_locs, func_var_locs = [], {}, [], [-1] * len(flat_vars)
    for graph, cuts, is_func in ((cond_g, cond_cuts, False), (func_g, func_cuts, True)):
        internals = {s.name: s for s in _body_variables(graph)}
        locs = []
        for j, n in enumerate(graph.list_inputs()):
            if n not in by_name:
                by_name[n] = len(inputs)
                inputs.append(by_var[n] if n in by_var else cuts[n] if n in cuts
                              else internals[n])
            locs.append(by_name[n])
            if is_func and n in var_names:
                func_var_locs[var_names.index(n)] = j
        all_locs.append(locs)
    for i, loc in enumerate(func_var_locs, 1):
        if loc == -1:
            raise ValueError("The %d-th loop_var doesn't involve into the computation" % i)
    num_outputs = num_out_data + len(flat_vars)
    attrs = {
        "num_args": str(len(inputs) + 2),
        "num_outputs": str(num_outputs),
        "num_out_data": str(num_out_data),
        "max_iterations": str(max_iterations),
        "cond_input_locs": _tuple(all_locs[0]),
        "func_input_locs": _tuple(all_locs[1]),
        "func_var_locs": _tuple(func_var_locs),
    }
    node = _control_flow_node("_while_loop",
                                       NameManager.current.get(None, "_while_loop"), attrs,
                                       inputs, [cond_g, func_g])
    outs, _ = _nesting.regroup([node[i] for i in range(num_out_data)], out_fmt)
    final, _ = _nesting.regroup([node[i] for i in range(num_out_data, num_outputs)], var_fmt)
    return outs, final
