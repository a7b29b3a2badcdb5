"""Symbol checks of ``mx.test_utils`` (MXNet 1.9.1): forward and backward results against
expected values, gradients against finite differences, and agreement across contexts."""
import numpy as np

from .. import ndarray as nd
from .compare import _np, assert_almost_equal, default_dtype
from .generate import default_context


def _as_context(ctx):
    return default_context() if ctx is None else ctx


def _location_dict(sym, location, what="location"):
    """{argument name: numpy array} from a list in list_arguments order or a dict."""
    names = sym.list_arguments()
    if isinstance(location, dict):
        unknown = set(location) - set(names)
        if unknown:
            raise ValueError("%s has names %s that are not arguments of the symbol %s"
                             % (what, sorted(unknown), names))
        return {k: _np(v) for k, v in location.items()}
    location = list(location)
    if len(location) != len(names):
        raise ValueError("%s has %d arrays but the symbol has %d arguments %s"
                         % (what, len(location), len(names), names))
    return {k: _np(v) for k, v in zip(names, location)}


def _named(sym, location):
    return location if isinstance(location, dict) else dict(zip(sym.list_arguments(), location))


def _aux_dict(sym, aux_states):
    names = sym.list_auxiliary_states()
    if aux_states is None:
        return {}
    if isinstance(aux_states, dict):
        return {k: _np(v) for k, v in aux_states.items()}
    return {k: _np(v) for k, v in zip(names, aux_states)}


def _input_dtype(dtype):
    """The dtype inputs are bound with: None (each input's own) for MXNet's "asnumpy"."""
    return None if isinstance(dtype, str) and dtype == "asnumpy" else dtype


def _given_arrays(location):
    """The NDArrays the caller passed (by argument name): MXNet binds those as they are,
    keeping their dtype and storage type; numpy inputs take the check's dtype."""
    if isinstance(location, dict):
        return {k: v for k, v in location.items() if isinstance(v, nd.NDArray)}
    return {}


def _bind(sym, ctx, location, aux, grad_req="write", dtype=None, given=None, grad_stypes=None):
    given, grad_stypes = given or {}, grad_stypes or {}
    if isinstance(grad_stypes, (list, tuple)):  # MXNet takes them in argument order too
        grad_stypes = dict(zip(location, grad_stypes))
    args = {k: given[k].as_in_context(ctx) if k in given
            else nd.array(v, ctx=ctx, dtype=dtype or v.dtype) for k, v in location.items()}
    grads = {k: nd.zeros(v.shape, ctx=ctx, dtype=args[k].dtype,
                         stype=grad_stypes.get(k, "default")) for k, v in location.items()}
    aux_arrays = {k: nd.array(v, ctx=ctx, dtype=dtype or v.dtype) for k, v in aux.items()}
    return sym.bind(ctx, args=args, args_grad=grads, grad_req=grad_req,
                    aux_states=aux_arrays if sym.list_auxiliary_states() else None)


def simple_forward(sym, ctx=None, is_train=False, **inputs):
    """Runs ``sym`` on numpy ``inputs`` and returns numpy outputs (one array when single)."""
    ctx = _as_context(ctx)
    location = {k: np.asarray(v) for k, v in inputs.items()}
    exe = sym.bind(ctx, args={k: nd.array(v, ctx=ctx, dtype=v.dtype) for k, v in location.items()})
    outputs = [o.asnumpy() for o in exe.forward(is_train=is_train)]
    return outputs[0] if len(outputs) == 1 else outputs


def check_symbolic_forward(sym, location, expected, rtol=1e-4, atol=None, aux_states=None,
                           ctx=None, equal_nan=False, dtype=np.float32):
    """Asserts that ``sym``'s forward outputs at ``location`` equal ``expected``."""
    ctx, dtype = _as_context(ctx), _input_dtype(dtype)
    loc = _location_dict(sym, location)
    exe = _bind(sym, ctx, loc, _aux_dict(sym, aux_states), grad_req="null", dtype=dtype,
                given=_given_arrays(_named(sym, location)))
    outputs = exe.forward(is_train=False)
    if isinstance(expected, dict):
        expected = [expected[k] for k in sym.list_outputs()]
    for name, out, exp in zip(sym.list_outputs(), outputs, expected):
        assert_almost_equal(out.asnumpy(), exp, rtol=rtol, atol=atol,
                            names=("output %s" % name, "expected"), equal_nan=equal_nan)
    # The executor's NDArrays, as MXNet returns them.
    return outputs


def check_symbolic_backward(sym, location, out_grads, expected, rtol=1e-5, atol=None,
                            aux_states=None, grad_req="write", ctx=None, grad_stypes=None,
                            equal_nan=False, dtype=np.float32):
    """Asserts that ``sym``'s gradients at ``location`` with head gradients ``out_grads``
    equal ``expected`` (a list in argument order or a dict by name)."""
    ctx, dtype = _as_context(ctx), _input_dtype(dtype)
    loc = _location_dict(sym, location)
    names = sym.list_arguments()
    if isinstance(expected, (list, tuple)):
        expected = dict(zip(names, expected))
    if isinstance(grad_req, str):
        grad_req = {k: grad_req for k in names}
    elif isinstance(grad_req, (list, tuple)):
        grad_req = dict(zip(names, grad_req))
    exe = _bind(sym, ctx, loc, _aux_dict(sym, aux_states), grad_req=grad_req, dtype=dtype,
                given=_given_arrays(_named(sym, location)), grad_stypes=grad_stypes)
    # grad_req 'add' accumulates onto a known random start
    start = {k: np.random.normal(size=v.shape).astype(exe.arg_dict[k].dtype)
             for k, v in loc.items()}
    for k, v in start.items():
        if grad_req.get(k) == "add":
            exe.grad_dict[k][:] = v
    exe.forward(is_train=True)
    if out_grads is not None:
        if isinstance(out_grads, dict):
            out_grads = [out_grads[k] for k in sym.list_outputs()]
        out_grads = [nd.array(_np(g), ctx=ctx, dtype=dtype or _np(g).dtype) for g in out_grads]
    exe.backward(out_grads)
    grads = {k: v for k, v in exe.grad_dict.items() if v is not None}
    for name, exp in expected.items():
        req = grad_req.get(name, "null")
        if req == "null":
            continue
        got = grads[name].asnumpy()
        if req == "add":
            got = got - start[name]
        assert_almost_equal(got, exp, rtol=rtol, atol=atol,
                            names=("gradient of %s" % name, "expected"), equal_nan=equal_nan)
    # The gradient NDArrays by argument name (with their `grad_stypes`), as MXNet returns them.
    return grads


def check_numeric_gradient(sym, location, aux_states=None, numeric_eps=1e-3, rtol=1e-2,
                           atol=None, grad_nodes=None, use_forward_train=True, ctx=None,
                           grad_stype_dict=None, dtype=np.float64):
    """Compares ``sym``'s gradients with central finite differences of
    ``sum(output * random projection)`` (in float64 by default). ``grad_nodes`` is a list
    of argument names, or MXNet's {name: grad_req}: an 'add' gradient is checked on top of
    its starting value and a 'null' one must leave its array untouched."""
    ctx = _as_context(ctx)
    if numeric_eps is None:
        numeric_eps = 1e-3
    loc = {k: v.astype(dtype) for k, v in _location_dict(sym, location).items()}
    aux = {k: v.astype(dtype) for k, v in _aux_dict(sym, aux_states).items()}
    names = sym.list_arguments()
    if isinstance(grad_nodes, dict):
        node_req = dict(grad_nodes)
    else:
        node_req = {k: "write" for k in (names if grad_nodes is None else grad_nodes)}
    req = {k: node_req.get(k, "null") for k in names}
    exe = _bind(sym, ctx, loc, aux, grad_req=req, dtype=dtype)
    start = {k: np.random.normal(0, 0.01, size=loc[k].shape).astype(dtype) for k in node_req}
    for k, v in start.items():
        exe.grad_dict[k][:] = v
    outs = exe.forward(is_train=use_forward_train)
    rng = np.random.RandomState(1234)
    projs = [rng.normal(0, 1, size=o.shape).astype(dtype) for o in outs]
    exe.backward([nd.array(p, ctx=ctx, dtype=dtype) for p in projs])
    analytic = {k: exe.grad_dict[k].asnumpy() for k in node_req}
    for k, r in node_req.items():
        if r == "null":
            assert_almost_equal(analytic[k], start[k], rtol=0, atol=0,
                                names=("gradient of %s (grad_req 'null')" % k, "its start"))
        elif r == "add":
            analytic[k] = analytic[k] - start[k]
    grad_nodes = [k for k, r in node_req.items() if r != "null"]

    def objective():
        # Summed in float64: a float32 sum would round away the differences being measured.
        vals = [o.asnumpy().astype(np.float64) for o in exe.forward(is_train=use_forward_train)]
        return sum(float((v * p).sum()) for v, p in zip(vals, projs))

    aux_start = {k: v.asnumpy() for k, v in exe.aux_dict.items()}
    for name in grad_nodes:
        base = loc[name].copy()
        flat = base.reshape(-1)
        numeric = np.zeros_like(flat)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + numeric_eps
            exe.arg_dict[name][:] = base
            fp = objective()
            flat[i] = old - numeric_eps
            exe.arg_dict[name][:] = base
            fm = objective()
            flat[i] = old
            numeric[i] = (fp - fm) / (2 * numeric_eps)
            for k, v in aux_start.items():
                exe.aux_dict[k][:] = v
        exe.arg_dict[name][:] = base
        assert_almost_equal(analytic[name], numeric.reshape(base.shape), rtol=rtol,
                            atol=1e-4 if atol is None else atol,
                            names=("analytic gradient of %s" % name, "numeric"))


def _per_dtype(spec, dtype, default):
    if spec is None:
        return default
    if isinstance(spec, dict):
        return spec.get(np.dtype(dtype), default)
    return spec


def check_consistency(sym, ctx_list, scale=1.0, grad_req="write", arg_params=None,
                      aux_params=None, rtol=None, atol=None, raise_on_err=True,
                      ground_truth=None, equal_nan=False, use_uniform=False,
                      rand_type=np.float64, tol=None):
    """Runs ``sym`` forward and backward on each ``{ctx, <arg>: shape, type_dict}`` entry of
    ``ctx_list`` and checks that outputs and gradients agree (with the most precise entry as
    the reference). ``rtol``/``atol`` (a number or {dtype: number}) default to a per-dtype
    tolerance; ``tol`` is the older single setting for both."""
    tol = tol or {np.dtype(np.float16): 1e-1, np.dtype(np.float32): 1e-3,
                  np.dtype(np.float64): 1e-5, np.dtype(np.uint8): 0, np.dtype(np.int32): 0,
                  np.dtype(np.int64): 0}
    if not isinstance(tol, dict):
        tol = {np.dtype(t): tol for t in (np.float16, np.float32, np.float64)}
    syms = sym if isinstance(sym, list) else [sym] * len(ctx_list)
    exes = []
    for s, spec in zip(syms, ctx_list):
        spec = dict(spec)
        ctx = spec.pop("ctx")
        types = spec.pop("type_dict", None)
        exes.append(s.simple_bind(ctx, grad_req=grad_req, type_dict=types, **spec))
    names = syms[0].list_arguments()
    arg_params = dict(arg_params or {})
    aux_params = dict(aux_params or {})
    for n, a in zip(names, exes[0].arg_arrays):
        if n not in arg_params:
            arg_params[n] = (np.random.uniform(-scale, scale, size=a.shape) if use_uniform
                             else np.random.normal(0, scale, size=a.shape)).astype(rand_type)
    for n, a in zip(syms[0].list_auxiliary_states(), exes[0].aux_arrays):
        aux_params.setdefault(n, np.random.uniform(0.5, 1.5, size=a.shape).astype(rand_type))
    precision = [max(np.dtype(a.dtype).itemsize for a in e.arg_arrays) for e in exes]
    ref = int(np.argmax(precision))
    results = []
    for e in exes:
        for n, a in zip(names, e.arg_arrays):
            a[:] = arg_params[n].astype(a.dtype)
        for n, a in e.aux_dict.items():
            a[:] = aux_params[n].astype(a.dtype)
        outs = [o.asnumpy() for o in e.forward(is_train=grad_req != "null")]
        if grad_req != "null":
            e.backward([nd.ones(o.shape, ctx=o.context, dtype=o.dtype) * 0.5 for o in e.outputs])
        grads = [g.asnumpy() if g is not None else None for g in (e.grad_arrays or [])]
        results.append((outs, grads))
    gt = ground_truth or results[ref]
    for i, (outs, grads) in enumerate(results):
        if i == ref:
            continue
        t = max(tol.get(np.dtype(o.dtype), 1e-3) for o in outs) if outs else 1e-3
        dt = outs[0].dtype if outs else np.float32
        rt, at = _per_dtype(rtol, dt, t), _per_dtype(atol, dt, t)
        try:
            for o, r in zip(outs, gt[0]):
                assert_almost_equal(o, r.astype(o.dtype), rtol=rt, atol=at,
                                    names=("output", "reference"), equal_nan=equal_nan)
            for g, r in zip(grads, gt[1]):
                if g is not None and r is not None:
                    assert_almost_equal(g, r.astype(g.dtype), rtol=rt, atol=at,
                                        names=("gradient", "reference"), equal_nan=equal_nan)
        except AssertionError:
            if raise_on_err:
                raise
    return [r[0] for r in results]


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
