"""Symbol checks of ``mx.test_utils`` (MXNet 1.9.1): forward and backward results against
expected values, gradients against finite differences, and agreement across contexts."""
import traceback

import numpy as np

from .. import ndarray as nd
from ..symbol import Symbol
from .compare import (_np, assert_almost_equal, default_dtype, default_numeric_eps,
                      get_tolerance, get_tols)
from .generate import default_context


def _as_context(ctx):
    return default_context() if ctx is None else ctx


def _bind_dtype(dtype, allow_asnumpy=True):
    """The dtype numpy inputs are bound with; None (each input's own) for "asnumpy"."""
    if allow_asnumpy and isinstance(dtype, str) and dtype == "asnumpy":
        return None
    try:
        d = np.dtype(dtype)
    except TypeError:
        d = None
    if d not in (np.float16, np.float32, np.float64):
        raise AssertionError("dtype must be %snp.float16, np.float32 or np.float64, got %r"
                             % ("'asnumpy', " if allow_asnumpy else "", dtype))
    return d


def _as_array(v, ctx, dtype):
    """A given NDArray is bound as it is (dtype and storage kept), anything else as an
    array of ``dtype`` (None: its own)."""
    if isinstance(v, nd.NDArray):
        return v.as_in_context(ctx)
    v = np.asarray(v)
    return nd.array(v, ctx=ctx, dtype=v.dtype if dtype is None else dtype)


def _named_arrays(names, given, ctx, dtype, what):
    """{name: NDArray} from a dict with exactly ``names`` or a list in ``names`` order
    (entries past the last name are ignored, as MXNet's zip does)."""
    if isinstance(given, dict):
        if set(given) != set(names):
            raise ValueError("Symbol %s and keys of the given %s do not match. symbol: %s, "
                             "given: %s" % (what, what, sorted(names), sorted(given)))
        items = given.items()
    else:
        given = list(given)
        if len(given) < len(names):
            raise ValueError("the given %s has %d arrays but the symbol has %d: %s"
                             % (what, len(given), len(names), names))
        items = zip(names, given)
    return {k: _as_array(v, ctx, dtype) for k, v in items}


def _location_arrays(sym, location, ctx, dtype):
    return _named_arrays(sym.list_arguments(), location, ctx, dtype, "arguments")


def _aux_arrays(sym, aux_states, ctx, dtype):
    if aux_states is None:
        return None
    return _named_arrays(sym.list_auxiliary_states(), aux_states, ctx, dtype, "aux_states")


def _reqs(names, grad_req):
    if isinstance(grad_req, str):
        return {k: grad_req for k in names}
    if isinstance(grad_req, (list, tuple)):
        return dict(zip(names, grad_req))
    return dict(grad_req)


def _head_grads(out_grads, ctx, dtype):
    def conv(g):
        if isinstance(g, nd.NDArray):
            return g
        g = np.asarray(g)
        return nd.array(g, ctx=ctx, dtype=g.dtype if dtype is None else dtype)
    if out_grads is None:
        return None
    if isinstance(out_grads, dict):
        return {k: conv(v) for k, v in out_grads.items()}
    return [conv(g) for g in out_grads]


def simple_forward(sym, ctx=None, is_train=False, **inputs):
    """Runs ``sym`` on numpy ``inputs`` (bound as float32 NDArrays, as ``mx.nd.array`` makes
    them) and returns numpy outputs (one array when single)."""
    ctx = _as_context(ctx)
    exe = sym.bind(ctx, args={k: nd.array(v, ctx=ctx) for k, v in inputs.items()})
    outputs = [o.asnumpy() for o in exe.forward(is_train=is_train)]
    return outputs[0] if len(outputs) == 1 else outputs


def check_symbolic_forward(sym, location, expected, rtol=None, atol=None, aux_states=None,
                           ctx=None, equal_nan=False, dtype=default_dtype()):
    """Asserts that ``sym``'s inference outputs at ``location`` equal ``expected`` (a list in
    output order or a dict by output name); returns the executor's outputs. Tolerances not
    given are the defaults of the dtypes compared."""
    ctx, dtype = _as_context(ctx), _bind_dtype(dtype)
    args = _location_arrays(sym, location, ctx, dtype)
    aux = _aux_arrays(sym, aux_states, ctx, dtype)
    if isinstance(expected, dict):
        expected = [expected[k] for k in sym.list_outputs()]
    exe = sym.bind(ctx, args=args, grad_req="null", aux_states=aux)
    outputs = exe.forward(is_train=False)
    for name, exp, out in zip(sym.list_outputs(), expected, outputs):
        assert_almost_equal(exp, out, rtol, atol, ("EXPECTED_%s" % name, "FORWARD_%s" % name),
                            equal_nan=equal_nan)
    return exe.outputs


def check_symbolic_backward(sym, location, out_grads, expected, rtol=None, atol=None,
                            aux_states=None, grad_req="write", ctx=None, grad_stypes=None,
                            equal_nan=False, dtype=default_dtype()):
    """Asserts that the gradients of the arguments named in ``expected`` (a list in argument
    order or a dict) equal it after a training forward and a backward with ``out_grads``.
    Every such gradient array starts out random, so one the op never writes fails the check,
    an 'add' gradient is checked on top of its start and a 'null' one must keep it. Returns
    those gradient arrays by name."""
    ctx, dtype = _as_context(ctx), _bind_dtype(dtype)
    args = _location_arrays(sym, location, ctx, dtype)
    aux = _aux_arrays(sym, aux_states, ctx, dtype)
    names = sym.list_arguments()
    if isinstance(expected, (list, tuple)):
        expected = dict(zip(names, expected))
    grad_stypes = grad_stypes or {}
    if isinstance(grad_stypes, (list, tuple)):  # MXNet's unit tests give them in argument order
        grad_stypes = dict(zip(names, grad_stypes))
    grads = {}
    for k in sorted(expected):
        # In the argument's dtype, which binding needs (MXNet takes `expected`'s for
        # "asnumpy", and fails on an integer one).
        shape, gdt = _np(expected[k]).shape, args[k].dtype
        stype = grad_stypes.get(k)
        if stype in (None, "default"):
            grads[k] = nd.array(np.random.normal(size=shape), ctx=ctx, dtype=gdt)
        else:
            grads[k] = nd.zeros(shape, ctx=ctx, dtype=gdt, stype=stype)
    start = {k: g.asnumpy() for k, g in grads.items()}
    reqs = _reqs(names, grad_req)
    exe = sym.bind(ctx, args=args, args_grad=grads, aux_states=aux, grad_req=reqs)
    exe.forward(is_train=True)
    exe.backward(_head_grads(out_grads, ctx, dtype))
    for name, exp in expected.items():
        req, got = reqs.get(name, "null"), grads[name]
        labels = ("EXPECTED_%s" % name, "BACKWARD_%s" % name)
        if req == "write":
            assert_almost_equal(exp, got, rtol, atol, labels, equal_nan=equal_nan)
        elif req == "add":
            assert_almost_equal(exp, got.asnumpy() - start[name], rtol, atol, labels,
                                equal_nan=equal_nan)
        elif req == "null":
            assert_almost_equal(start[name], got, rtol, atol, labels, equal_nan=equal_nan)
        else:
            raise ValueError("Invalid grad_req %s for argument %s" % (req, name))
    return grads


def check_numeric_gradient(sym, location, aux_states=None, numeric_eps=None, rtol=None,
                           atol=None, grad_nodes=None, use_forward_train=True, ctx=None,
                           grad_stype_dict=None, dtype=default_dtype()):
    """Compares ``sym``'s gradients with central finite differences of
    ``sum(output * projection)`` (the projection random in [0.1, 1.1); the sum taken in
    float64). ``numeric_eps``, ``rtol`` and ``atol`` default to the values for ``dtype``.
    ``grad_nodes``: argument names, or MXNet's {name: grad_req}: an 'add' gradient is
    checked on top of its start, a 'null' one must keep it."""
    ctx, dtype = _as_context(ctx), _bind_dtype(dtype, allow_asnumpy=False)
    args = _location_arrays(sym, location, ctx, dtype)
    aux = _aux_arrays(sym, aux_states, ctx, dtype)
    names = sym.list_arguments()
    if grad_nodes is None:
        node_req = {k: "write" for k in names}
    elif isinstance(grad_nodes, (list, tuple)):
        node_req = {k: "write" for k in grad_nodes}
    elif isinstance(grad_nodes, dict):
        node_req = dict(grad_nodes)
    else:
        raise ValueError("grad_nodes must be None, a list of argument names or a dict "
                         "name -> grad_req, got %s" % type(grad_nodes).__name__)
    grads = {k: nd.array(np.random.normal(0, 0.01, size=args[k].shape), ctx=ctx, dtype=dtype)
             for k in node_req}
    for k, stype in (grad_stype_dict or {}).items():
        if k in grads and stype != "default":
            grads[k] = nd.zeros(grads[k].shape, ctx=ctx, dtype=dtype, stype=stype)
    start = {k: g.asnumpy() for k, g in grads.items()}
    exe = sym.bind(ctx, args=args, args_grad=grads, aux_states=aux,
                   grad_req={k: node_req.get(k, "null") for k in names})
    aux_start = {k: v.asnumpy() for k, v in exe.aux_dict.items()}
    outs = exe.forward(is_train=True)
    eps = get_tolerance(outs[0], numeric_eps, default_numeric_eps())
    if dtype in (np.float16, np.float32) and eps < 1e-5:
        raise AssertionError("numeric_eps %g is too small for %s (at least 1e-5)"
                             % (eps, dtype.name))
    projs = [(np.random.rand(*o.shape) + 0.1).astype(dtype) for o in outs]
    exe.backward([nd.array(p, ctx=ctx, dtype=dtype) for p in projs])
    analytic = {k: g.asnumpy() for k, g in grads.items()}

    def objective():
        for k, v in aux_start.items():
            exe.aux_dict[k][:] = v
        # Summed in float64: a float32 sum would round away the differences being measured.
        vals = [o.asnumpy().astype(np.float64) for o in exe.forward(is_train=use_forward_train)]
        return sum(float((v * p).sum()) for v, p in zip(vals, projs))

    for name, req in node_req.items():
        labels = ("NUMERICAL_%s" % name, "BACKWARD_%s" % name)
        if req == "null":
            assert_almost_equal(start[name], analytic[name], rtol, atol, labels)
            continue
        if req not in ("write", "add"):
            raise ValueError("Invalid grad_req %s for argument %s" % (req, name))
        base = exe.arg_dict[name].asnumpy()
        flat = base.reshape(-1)
        numeric = np.zeros(flat.size)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps / 2
            exe.arg_dict[name][:] = base
            fp = objective()
            flat[i] = old - eps / 2
            exe.arg_dict[name][:] = base
            fm = objective()
            flat[i] = old
            numeric[i] = (fp - fm) / eps
        exe.arg_dict[name][:] = base
        got = analytic[name] - start[name] if req == "add" else analytic[name]
        rt, at = get_tols(np.zeros((), dtype), got, rtol, atol)
        assert_almost_equal(numeric.reshape(base.shape), got, rt, at, labels)


def _smaller_dtype(a, b):
    return a if b is None or np.dtype(a).itemsize < np.dtype(b).itemsize else b


def _report(what, exc, raise_on_err):
    print(what)
    traceback.print_exc()
    if raise_on_err:
        raise exc
    print(str(exc))


def check_consistency(sym, ctx_list, scale=1.0, grad_req="write", arg_params=None,
                      aux_params=None, rtol=None, atol=None, raise_on_err=True,
                      ground_truth=None, equal_nan=False, use_uniform=False,
                      rand_type=np.float64, tol=None):
    """Binds ``sym`` (or one symbol per entry) with each ``ctx_list`` entry (``simple_bind``
    keyword arguments: ``ctx``, shapes, ``type_dict``), runs inference and, unless
    ``grad_req`` is 'null', training forward and backward (the first executor's outputs as
    head gradients), and checks every executor against the one with the widest output dtype
    or against ``ground_truth``. Returns the ground truth: {output name: output, argument
    name: gradient}, which a later call takes as ``ground_truth``. ``tol`` is MXNet 1.x's
    older single tolerance for both ``rtol`` and ``atol``."""
    assert len(ctx_list) > 1, "check_consistency needs at least two entries in ctx_list"
    if tol is not None:
        rtol = tol if rtol is None else rtol
        atol = tol if atol is None else atol
    syms = [sym] * len(ctx_list) if isinstance(sym, Symbol) else list(sym)
    assert len(syms) == len(ctx_list), "one symbol per ctx_list entry"
    output_names, arg_names = syms[0].list_outputs(), syms[0].list_arguments()
    exes = []
    for s, spec in zip(syms, ctx_list):
        assert s.list_arguments() == arg_names and s.list_outputs() == output_names, \
            "the symbols must have the same arguments and outputs"
        exes.append(s.simple_bind(grad_req=grad_req, **spec))
    arg_params = {} if arg_params is None else arg_params
    aux_params = {} if aux_params is None else aux_params
    for n, arr in sorted(exes[0].arg_dict.items()):
        if n not in arg_params:
            arg_params[n] = (np.random.uniform(-0.92 * scale, 0.92 * scale, size=arr.shape)
                             if use_uniform else
                             np.random.normal(size=arr.shape, scale=scale)).astype(rand_type)
    for n in exes[0].aux_dict:
        aux_params.setdefault(n, 0)
    for exe in exes:
        for n, arr in exe.arg_dict.items():
            arr[:] = arg_params[n]
        for n, arr in exe.aux_dict.items():
            arr[:] = aux_params[n]
        if grad_req == "add":
            for arr in exe.grad_arrays:
                if arr is not None:
                    arr[:] = 0
    dtypes = [np.dtype(exe.outputs[0].dtype) for exe in exes]
    gt_idx = int(np.argmax([d.itemsize for d in dtypes]))
    gt = ground_truth
    if gt is None:
        # The reference executor's own arrays: they hold each phase's results as it runs.
        gt = dict(exes[gt_idx].output_dict)
        if grad_req != "null":
            gt.update(exes[gt_idx].grad_dict)
    for exe in exes:
        exe.forward(is_train=False)
    for i, exe in enumerate(exes):
        if i == gt_idx:
            continue
        for name, arr in zip(output_names, exe.outputs):
            try:
                assert_almost_equal(arr, gt[name], rtol=rtol, atol=atol, equal_nan=equal_nan)
            except AssertionError as e:
                _report("Predict Err: ctx %d vs ctx %d at %s" % (i, gt_idx, name), e,
                        raise_on_err)
    if grad_req == "null":
        return gt
    for exe in exes:
        exe.forward(is_train=True)
    least = [o.dtype for o in exes[0].outputs]
    for exe in exes:
        least = [_smaller_dtype(o.dtype, d) for o, d in zip(exe.outputs, least)]
    golden = [o.astype(d).asnumpy() for o, d in zip(exes[0].outputs, least)]
    for exe in exes:
        exe.backward([nd.array(g, ctx=o.context, dtype=o.dtype)
                      for g, o in zip(golden, exe.outputs)])
    for i, exe in enumerate(exes):
        if i == gt_idx:
            continue
        for name, arr in zip(output_names + arg_names, exe.outputs + exe.grad_arrays):
            ref = gt[name]
            if ref is None:
                assert arr is None, "%s has a gradient where the ground truth has none" % name
                continue
            try:
                rt, at = rtol, atol
                # Arrays wider than their executor's outputs are held to the narrower
                # dtype's tolerance.
                small_arr = _smaller_dtype(arr.dtype, dtypes[i])
                small_ref = _smaller_dtype(ref.dtype, dtypes[gt_idx])
                if small_arr != arr.dtype or small_ref != ref.dtype:
                    rt, at = get_tols(np.zeros((), small_arr), np.zeros((), small_ref),
                                      rtol, atol)
                assert_almost_equal(arr, ref, rtol=rt, atol=at, equal_nan=equal_nan)
            except AssertionError as e:
                _report("Train Err: %s %s ctx %d vs %s %s ctx %d at %s"
                        % (np.dtype(arr.dtype).name, arr.context, i, np.dtype(ref.dtype).name,
                           getattr(ref, "context", "numpy"), gt_idx, name), e, raise_on_err)
    return gt


def numeric_grad(executor, location, aux_states=None, eps=1e-4, use_forward_train=True,
                 dtype=default_dtype()):
    """Finite-difference gradients of ``sum(executor.outputs[0])`` at ``location`` (a dict
    name -> numpy array, all arguments), ``(f(x + eps/2) - f(x - eps/2)) / eps`` per element;
    arguments of non-float dtype get zeros. The executor's arguments are left at
    ``location``; ``aux_states`` (a dict) are restored before every evaluation."""
    if np.dtype(dtype) not in (np.float16, np.float32, np.float64):
        raise ValueError("numeric_grad: dtype must be float16, float32 or float64, got %s"
                         % np.dtype(dtype))
    approx_grads = {k: np.zeros(v.shape, dtype=dtype) for k, v in location.items()}
    for k, v in location.items():
        executor.arg_dict[k][:] = nd.array(v, dtype=dtype)
    # Perturbed in place below, so each must own C-ordered memory.
    for k in location:
        location[k] = np.asarray(location[k], order="C")

    def evaluate():
        if aux_states is not None:
            for key, val in aux_states.items():
                executor.aux_dict[key][:] = nd.array(val, dtype=executor.aux_dict[key].dtype)
        executor.forward(is_train=use_forward_train)
        return executor.outputs[0].asnumpy()

    for k, v in location.items():
        if v.dtype.kind != "f":
            continue
        old_value = v.copy()
        flat = v.reshape(-1)
        for i in range(v.size):
            flat[i] += eps / 2.0
            executor.arg_dict[k][:] = nd.array(v, dtype=dtype)
            f_peps = evaluate()
            flat[i] -= eps
            executor.arg_dict[k][:] = nd.array(v, dtype=dtype)
            f_neps = evaluate()
            approx_grads[k].ravel()[i] = (f_peps - f_neps).sum() / eps
            flat[i] = old_value.ravel()[i]
        executor.arg_dict[k][:] = nd.array(old_value, dtype=dtype)
    return approx_grads


def check_speed(sym, location=None, ctx=None, N=20, grad_req=None, typ="whole", **kwargs):
    """Mean seconds per run of ``sym`` over ``N`` runs after one warm-up: forward+backward
    (``typ='whole'``, the outputs fed back as head gradients) or forward only
    (``typ='forward'``). Without ``location`` the arguments are shaped by ``kwargs`` (as
    ``simple_bind``) and drawn from a standard normal."""
    import time
    if typ not in ("whole", "forward"):
        raise ValueError("check_speed: typ must be 'whole' or 'forward', got %r" % (typ,))
    if not isinstance(N, int) or N < 1:
        raise ValueError("check_speed: N must be a positive int, got %r" % (N,))
    ctx = _as_context(ctx)
    grad_req = "write" if grad_req is None else grad_req
    if location is None:
        exe = sym.simple_bind(ctx=ctx, grad_req=grad_req, **kwargs)
        location = {k: np.random.normal(size=a.shape, scale=1.0) for k, a in exe.arg_dict.items()}
    else:
        if not isinstance(location, dict):
            raise TypeError("check_speed: location must be a dict of name -> array, got %s"
                            % type(location).__name__)
        exe = sym.simple_bind(ctx=ctx, grad_req=grad_req,
                              **{k: np.shape(v) for k, v in location.items()})
    for name, value in location.items():
        exe.arg_dict[name][:] = np.asarray(value).astype(exe.arg_dict[name].dtype)
    train = typ == "whole"

    def step():
        exe.forward(is_train=train)
        if train:
            exe.backward(out_grads=exe.outputs)

    step()
    nd.waitall()
    tic = time.time()
    for _ in range(N):
        step()
    nd.waitall()
    return (time.time() - tic) / N
