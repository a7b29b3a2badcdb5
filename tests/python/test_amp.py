"""mx.contrib.amp against MXNet 1.9.1 (amp_mxnet_ref.py): the converted graphs node for node,
their argument lists and dtypes, convert_model's parameters, the casts amp.init puts in graphs
built after it; and against float32 runs: a converted graph computes the float32 graph's
outputs to float16 accuracy. amp.init changes mx.sym/mx.nd for the whole process, so its
test runs in a subprocess."""
import gzip
import hashlib
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import oxnet as mx
from oxnet import _native
from oxnet.contrib import amp
import amp_bf16_mxnet_ref as ref_bf16
import amp_mxnet_ref as ref

HERE = os.path.dirname(os.path.abspath(__file__))
ZOO_DIR = os.path.join(HERE, "data", "model_zoo")


# the dtype a converted graph's parameter is stored in, by its __dtype__ flag
STORED = {"2": "float16", "12": "bfloat16"}


def record(sym):
    """The fields amp_mxnet_ref recorded, computed by oxnet."""
    args = sym.list_arguments()
    attrs = sym.attr_dict()
    given = {a: STORED.get(attrs.get(a, {}).get("__dtype__"), "float32") for a in args}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, o, x = sym.infer_type(**given)
    names = lambda ts: [str(np.dtype(t)) for t in ts]  # noqa: E731
    return {"json": json.loads(sym.tojson(remove_amp_cast=False)), "arguments": args,
            "aux": sym.list_auxiliary_states(), "outputs": sym.list_outputs(),
            "arg_types": names(a), "out_types": names(o), "aux_types": names(x)}


# ------------------------------------------------------------------------------ op lists
def test_lists_are_mxnets_restricted_to_registered_ops():
    known = {n for n, *_ in _native.list_ops()} | {a for a, _ in _native.list_aliases()}
    for fn, want in ref.MXNET_LISTS.items():
        got = getattr(amp, fn)("float16")
        if fn == "list_conditional_fp32_ops":
            assert [list(c) for c in got] == [c for c in want if c[0] in known]
        else:
            assert got == [n for n in want if n in known], fn
            assert got, fn
    assert amp.list_lp16_ops("float16") == ["Convolution", "Deconvolution", "FullyConnected", "RNN"]
    assert amp.list_lp16_use_fp32_params(np.float16) is None
    assert mx.contrib.amp is amp


# ------------------------------------------------------------------------------ convert_symbol
@pytest.mark.parametrize("case", sorted(ref.CONVERT))
def test_convert_symbol_matches_mxnet(case):
    sym, kwargs = ref.build_cases(mx)[case]
    got = record(amp.convert_symbol(sym, **kwargs))
    want = dict(ref.CONVERT[case])
    want["json"] = json.loads(want["json"])
    assert got["json"]["nodes"] == want["json"]["nodes"]
    assert got == want


def test_converted_graph_has_casts_and_saves_without_them():
    sym, _ = ref.build_cases(mx)["mlp"]
    conv = amp.convert_symbol(sym)
    ops = [n["op"] for n in json.loads(conv.tojson(remove_amp_cast=False))["nodes"]]
    assert ops.count("amp_cast") == 6
    assert json.loads(conv.tojson()) == json.loads(sym.tojson())


@pytest.mark.parametrize("name", ref.ZOO)
def test_convert_model_zoo_network_matches_mxnet(name):
    with gzip.open(os.path.join(ZOO_DIR, name + "-symbol.json.gz"), "rt") as f:
        sym = mx.sym.load_json(f.read())
    conv = amp.convert_symbol(sym)
    text = conv.tojson(remove_amp_cast=False)
    graph = json.loads(text)
    casts = [[n["op"], n["name"], [graph["nodes"][e[0]]["name"] for e in n["inputs"]]]
             for n in graph["nodes"] if n["op"] in ("amp_cast", "amp_multicast")]
    want = ref.ZOO[name]
    assert casts == want["casts"]
    assert len(graph["nodes"]) == want["num_nodes"]
    assert hashlib.sha256(text.encode()).hexdigest() == want["sha256"]
    assert record(conv)["out_types"] == want["out_types"]


@pytest.mark.parametrize("target", ["float16", "bfloat16"])
@pytest.mark.parametrize("cast_optional", [False, True])
def test_convert_model_matches_mxnet(target, cast_optional):
    sym, _ = ref.build_cases(mx)["convnet"]
    ex = sym.simple_bind(mx.cpu(), data=(2, 3, 8, 8))
    mx.random.seed(0)
    args = {k: mx.nd.random.uniform(-1, 1, v.shape) for k, v in ex.arg_dict.items()
            if k not in ("data", "softmax_label")}
    auxs = {k: mx.nd.random.uniform(0.5, 1, v.shape) for k, v in ex.aux_dict.items()}
    conv, new_args, new_aux = amp.convert_model(sym, dict(args), dict(auxs), target_dtype=target,
                                                cast_optional_params=cast_optional)
    want = (ref if target == "float16" else ref_bf16).MODEL[str(cast_optional)]
    # the float16 fixture names dtypes as str(type), the bfloat16 one as str(np.dtype)
    name = str if target == "float16" else (lambda d: str(np.dtype(d)))
    assert json.loads(conv.tojson(remove_amp_cast=False)) == json.loads(want["json"])
    assert {k: name(v.dtype) for k, v in new_args.items()} == want["arg_dtypes"]
    assert {k: name(v.dtype) for k, v in new_aux.items()} == want["aux_dtypes"]
    for k, v in new_args.items():  # each parameter is its float32 value rounded
        rtol = 0 if v.dtype == np.float32 else 2 ** -11 if target == "float16" else 2 ** -8
        np.testing.assert_allclose(v.astype(np.float32).asnumpy(), args[k].asnumpy(), rtol=rtol)


def test_cast_optional_params_decides_inputs_read_by_casts():
    """The cases of MXNet 1.9.1's tests/python/gpu/test_contrib_amp.py::test_fp16_casting:
    an input no inference decides takes the dtype of the casts reading it (an amp_multicast
    of inputs only: float16), and the inputs' own __dtype__ attributes do not count. The
    dtypes are those MXNet 1.9.1 bound."""
    def bound(sym, **shapes):
        return [np.dtype(a.dtype).name for a in sym.simple_bind(mx.cpu(), **shapes).arg_arrays]

    def conv(sym, **kw):
        return amp.convert_symbol(sym, cast_optional_params=True, **kw)

    data = mx.sym.var("data")
    f16, f32 = mx.sym.amp_cast(data, dtype="float16"), mx.sym.amp_cast(data, dtype="float32")
    assert bound(conv(mx.sym.Group([f16, f32]), data_names=[]), data=(1, 2)) == ["float32"]
    f16b = mx.sym.amp_cast(data, dtype="float16")
    assert bound(conv(mx.sym.Group([f16, f16b]), data_names=[]), data=(1, 2)) == ["float16"]
    d, d2 = mx.sym.var("data", dtype=np.float32), mx.sym.var("data2", dtype=np.float16)
    assert bound(conv(mx.sym.amp_multicast(d, d2, num_outputs=2)),
                 data=(1, 2), data2=(1, 2)) == ["float16", "float16"]
    d3 = mx.sym.var("data3", dtype=np.float16)
    added = mx.sym.amp_multicast(d, mx.sym.elemwise_add(d2, d3), num_outputs=2)
    assert bound(conv(added, target_dtype_ops=[], fp32_ops=[]), data=(1, 2), data2=(1, 2),
                 data3=(1, 2)) == ["float32", "float16", "float16"]
    d16, d32, free = (mx.sym.var("data", dtype=np.float16), mx.sym.var("data2", dtype=np.float32),
                      mx.sym.var("data3"))
    assert bound(conv(mx.sym.amp_multicast(d16, d32, free, num_outputs=3), target_dtype_ops=[],
                      fp32_ops=[]), data=(1, 2), data2=(1, 2), data3=(1, 2)) ==         ["float16", "float16", "float32"]
    for first, second in ((d16, d32), (d, d2)):
        group = mx.sym.Group([mx.sym.amp_multicast(first, second, num_outputs=2),
                              mx.sym.amp_cast(first, dtype="float16")])
        assert bound(conv(group, target_dtype_ops=[], fp32_ops=[]), data=(1, 2),
                     data2=(1, 2)) == ["float16", "float16"]
    # without cast_optional_params the attributes do not count either: MXNet stores both float32
    plain = amp.convert_symbol(mx.sym.amp_multicast(d, d2, num_outputs=2))
    assert [plain.attr_dict()[n]["__dtype__"] for n in ("data", "data2")] == ["0", "0"]


# ------------------------------------------------------------------------------ numerics
def _forward(sym, arrays, aux):
    ex = sym.bind(mx.cpu(), dict(arrays), aux_states=dict(aux), grad_req="null")
    return [o.asnumpy() for o in ex.forward(is_train=False)]


def _check_outputs(case, sym, kwargs, seed, out_types, tol):
    """Runs the float32 graph and its conversion on the same random inputs, each parameter
    stored in its converted ``__dtype__``: the outputs have ``out_types`` and agree to ``tol``,
    and the low-precision ops really ran there (the result is not the float32 one bit for bit)."""
    rng = np.random.RandomState(seed)
    shapes = {"data": (4, 3, 8, 8) if "conv" in case else (4, 6), "data2": (4, 6),
              "scale": (1, 6), "softmax_label": (4,)}
    arg_shapes, _, aux_shapes = sym.infer_shape(**{k: v for k, v in shapes.items()
                                                  if k in sym.list_arguments()})
    args = {n: rng.uniform(-1, 1, s).astype(np.float32)
            for n, s in zip(sym.list_arguments(), arg_shapes)}
    aux = {n: rng.uniform(0.5, 1, s).astype(np.float32)
           for n, s in zip(sym.list_auxiliary_states(), aux_shapes)}
    want = _forward(sym, {k: mx.nd.array(v) for k, v in args.items()},
                    {k: mx.nd.array(v) for k, v in aux.items()})
    conv = amp.convert_symbol(sym, **kwargs)
    attrs = conv.attr_dict()
    dtype = lambda n: STORED.get(attrs.get(n, {}).get("__dtype__"), np.float32)  # noqa: E731
    got = _forward(conv, {k: mx.nd.array(v, dtype=dtype(k)) for k, v in args.items()},
                   {k: mx.nd.array(v, dtype=dtype(k)) for k, v in aux.items()})
    assert len(got) == len(want)
    assert [str(g.dtype) for g in got] == out_types
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol * max(1.0, np.abs(w).max()))
    assert any(not np.array_equal(g, w) for g, w in zip(got, want))


@pytest.mark.parametrize("case", ["mlp", "convnet", "convnet_cast_optional", "widest", "split",
                                  "mlp_softrelu", "shared_cast_optional"])
def test_converted_graph_computes_float32_outputs(case):
    sym, kwargs = ref.build_cases(mx)[case]
    # outputs come back in float32, except where MXNet's pass leaves one in float16 (a float32
    # op reading a parameter stored in float16 is assumed to read float32: shared_cast_optional)
    _check_outputs(case, sym, kwargs, 3, ref.CONVERT[case]["out_types"], 2e-2)


# ------------------------------------------------------------------------------ amp.init
def _run_json(code):
    """(the JSON ``code`` prints last, its stderr), run in a fresh interpreter: amp.init
    rewrites mx.sym and mx.nd for the whole process."""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1]), res.stderr


def test_init_wraps_sym_and_nd_as_mxnet():
    code = ("import json, sys; sys.path.insert(0, %r); import oxnet as mx; "
            "from oxnet.contrib import amp; import amp_mxnet_ref as r; "
            "print(json.dumps(r.init_case(mx, amp)))" % HERE)
    got, stderr = _run_json(code)
    want = dict(ref.INIT)
    assert json.loads(got.pop("json")) == json.loads(want.pop("json"))
    assert got == want
    assert "already initialized" in stderr  # the second amp.init() only warns


def test_init_casts_python_operators_to_the_widest_type():
    # MXNet 1.9.1 printed: after amp.init(), `a + b` on Symbols has an amp_multicast before
    # elemwise_add (so float16 + float32 infers float32), `a + 1` none; NDArray `x16 + x32`
    # is float32.
    code = """if True:
        import json, numpy as np, oxnet as mx
        from oxnet.contrib import amp
        amp.init()
        a, b = mx.sym.Variable("a"), mx.sym.Variable("b")
        res = {}
        for name, s in (("add", a + b), ("mul", a * b), ("sub", a - b), ("div", a / b),
                        ("scalar", a + 1)):
            nodes = json.loads(s.tojson(remove_amp_cast=False))["nodes"]
            res[name] = [n["op"] for n in nodes if n["op"] != "null"]
        res["type"] = str(np.dtype((a + b).infer_type(a="float16", b="float32")[1][0]))
        x16, x32 = mx.nd.ones((2,), dtype="float16"), mx.nd.ones((2,), dtype="float32")
        res["nd"] = [str(np.dtype(r.dtype)) for r in (x16 + x32, x32 * x16, x16 - x32)]
        res["nd16"] = str(np.dtype((x16 + x16).dtype))
        print(json.dumps(res))
    """
    got, _ = _run_json(code)
    assert got == {"add": ["amp_multicast", "elemwise_add"],
                   "mul": ["amp_multicast", "elemwise_mul"],
                   "sub": ["amp_multicast", "elemwise_sub"],
                   "div": ["amp_multicast", "elemwise_div"], "scalar": ["_plus_scalar"],
                   "type": "float32", "nd": ["float32"] * 3, "nd16": "float16"}


def test_multicast_casts_only_float16_and_float32():
    # MXNet 1.9.1 (float64 passes through; a float64 first input takes float16 ones up to it
    # when no float32 is there; cast_narrow goes to the narrowest).
    cases = [(("float16", "float64"), False, ["float16", "float64"]),
             (("float64", "float16"), False, ["float64", "float64"]),
             (("float64", "float16", "float32"), False, ["float64", "float32", "float32"]),
             (("float16", "float64", "float32"), False, ["float32", "float64", "float32"]),
             (("float64", "float16", "float32"), True, ["float64", "float16", "float16"]),
             (("float64", "float32"), True, ["float64", "float32"])]
    for dtypes, narrow, want in cases:
        xs = [mx.nd.ones((2,), dtype=d) for d in dtypes]
        out = mx.nd.amp_multicast(*xs, num_outputs=len(xs), cast_narrow=narrow)
        assert [str(np.dtype(o.dtype)) for o in out] == want, (dtypes, narrow)
        s = mx.sym.amp_multicast(*[mx.sym.var("x%d" % i) for i in range(len(xs))],
                                 num_outputs=len(xs), cast_narrow=narrow)
        types = s.infer_type(**{"x%d" % i: d for i, d in enumerate(dtypes)})[1]
        assert [str(np.dtype(t)) for t in types] == want, (dtypes, narrow)


# ------------------------------------------------------------------------------ errors
def test_bad_arguments_are_named():
    sym, _ = ref.build_cases(mx)["mlp"]
    with pytest.raises(TypeError, match="convert_symbol: sym must be a Symbol"):
        amp.convert_symbol("mlp")
    with pytest.raises(ValueError, match="convert_symbol: target_dtype must be 'float16' or 'bfloat16'"):
        amp.convert_symbol(sym, target_dtype="float64")
    with pytest.raises(TypeError, match="convert_symbol: target_dtype_ops must be a list"):
        amp.convert_symbol(sym, target_dtype_ops="FullyConnected")
    with pytest.raises(ValueError, match="target_dtype_ops and fp32_ops share \\['exp'\\]"):
        amp.convert_symbol(sym, target_dtype_ops=["exp"], fp32_ops=["exp"])
    with pytest.raises(ValueError, match="ops \\['NoSuchOp'\\] are in none of"):
        amp.convert_symbol(sym, fp32_ops=["NoSuchOp"])
    with pytest.raises(TypeError, match="conditional_fp32_ops must be a list of \\(op name"):
        amp.convert_symbol(sym, conditional_fp32_ops=[("Activation", "act_type", "softrelu")])
    with pytest.raises(TypeError, match="convert_model: arg_params must be a dict"):
        amp.convert_model(sym, [], {})
    with pytest.raises(TypeError, match="convert_model: excluded_sym_names must be a list"):
        amp.convert_model(sym, {}, {}, excluded_sym_names="fc1")
    # MXNet asserts each of these: code catching AssertionError still catches them.
    for bad in (lambda: amp.convert_symbol(sym, target_dtype_ops=["exp"], fp32_ops=["exp"]),
                lambda: amp.convert_symbol(sym, target_dtype_ops=("exp",)),
                lambda: amp.convert_symbol(sym, target_dtype="float32"),
                lambda: amp.convert_model(sym, [], {})):
        with pytest.raises(AssertionError):
            bad()


def test_trainer_functions_refuse_optimizers_and_others():
    with pytest.raises(RuntimeError, match="init_trainer: AMP is not initialized"):
        amp.init_trainer(mx.optimizer.SGD())
    for fn in (amp.unscale, lambda o: amp.scale_loss(mx.nd.ones((1,)), o)):
        with pytest.raises(TypeError, match="is an Optimizer \\(SGD\\).*Gluon Trainer"):
            fn(mx.optimizer.SGD())
        with pytest.raises(TypeError, match="must be a Gluon Trainer or an Optimizer, got dict"):
            fn({})


# ------------------------------------------------------------------------------ LossScaler
def test_loss_scaler_detects_overflow_in_any_chunk():
    grads = [mx.nd.ones((3,)) for _ in range(250)]  # more than one multi_all_finite chunk
    scaler = amp.LossScaler()
    assert scaler.loss_scale == 2.0 ** 16
    assert scaler.has_overflow(grads) is False
    for bad in (np.inf, -np.inf, np.nan):
        g = [mx.nd.ones((3,)) for _ in range(250)]
        g[230][1] = bad
        assert amp.LossScaler().has_overflow(g) is True
    with pytest.raises(ValueError, match="has_overflow: params holds no gradient"):
        scaler.has_overflow([])


def test_loss_scaler_schedule():
    finite, inf = [mx.nd.ones((2,))], [mx.nd.array([1.0, np.inf])]
    scaler = amp.LossScaler()
    assert scaler.has_overflow(inf) is True
    assert scaler.loss_scale == 2.0 ** 16  # the halved scale applies from the next step
    assert scaler.has_overflow(finite) is False
    assert scaler.loss_scale == 2.0 ** 15
    for _ in range(1999):
        scaler.has_overflow(finite)
    assert scaler.loss_scale == 2.0 ** 15
    scaler.has_overflow(finite)  # 2000 clean steps: doubled from the next one
    scaler.has_overflow(finite)
    assert scaler.loss_scale == 2.0 ** 16


# ------------------------------------------------------------------------------ bfloat16
BF16 = np.dtype([("bfloat16", np.uint16)])


def test_bfloat16_lists_are_mxnets_restricted_to_registered_ops():
    known = {n for n, *_ in _native.list_ops()} | {a for a, _ in _native.list_aliases()}
    for fn, want in ref_bf16.MXNET_LISTS.items():
        got = getattr(amp, fn)("bfloat16")
        if fn == "list_conditional_fp32_ops":
            assert [list(c) for c in got] == [c for c in want if c[0] in known]
        elif fn == "list_lp16_use_fp32_params":
            assert got == {k: v for k, v in want.items() if k in known}
        else:
            assert got == [n for n in want if n in known], fn
    assert amp.list_lp16_ops(BF16) == ["Convolution", "FullyConnected"]
    assert amp.list_lp16_ops("bfloat16") != amp.list_lp16_ops("float16")


def _bf16_case(case):
    sym, kwargs = ref.build_cases(mx)[case]
    if "target_dtype_ops" in kwargs:  # bfloat16's lists lack Activation as a target op
        kwargs = dict(kwargs, target_dtype_ops=["FullyConnected"],
                      fp32_ops=["SoftmaxOutput", "Activation"])
    return sym, dict(kwargs, target_dtype="bfloat16")


@pytest.mark.parametrize("case", sorted(ref_bf16.CONVERT))
def test_convert_symbol_bfloat16_matches_mxnet(case):
    sym, kwargs = _bf16_case(case)
    got = record(amp.convert_symbol(sym, **kwargs))
    want = dict(ref_bf16.CONVERT[case])
    want["json"] = json.loads(want["json"])
    assert got["json"]["nodes"] == want["json"]["nodes"]
    assert got == want


@pytest.mark.parametrize("case", ["mlp", "convnet", "convnet_cast_optional", "widest"])
def test_bfloat16_graph_computes_close_to_float32(case):
    sym, kwargs = _bf16_case(case)
    _check_outputs(case, sym, kwargs, 4, ref_bf16.CONVERT[case]["out_types"], 3e-2)


def test_init_bfloat16_wraps_as_mxnet():
    code = ("import json, sys; sys.path.insert(0, %r); import oxnet as mx, numpy as np; "
            "from oxnet.contrib import amp; import amp_bf16_mxnet_ref as r; "
            "out = r.init_case(mx, amp); "
            "y = mx.nd.FullyConnected(mx.nd.ones((2, 4)), mx.nd.ones((3, 4)), no_bias=True, "
            "num_hidden=3); out['nd_fc'] = str(np.dtype(y.dtype)); "
            "out['nd_fc_values'] = y.astype('float32').asnumpy().tolist(); "
            "print(json.dumps(out))" % HERE)
    got, stderr = _run_json(code)
    want = dict(ref_bf16.INIT)
    assert json.loads(got.pop("json")) == json.loads(want.pop("json"))
    # MXNet 1.9.1 cannot run a bfloat16 FullyConnected on CPUs without AVX-512 (this one);
    # oxnet computes it: the inputs cast to bfloat16, the sums exact here
    assert got.pop("nd_fc") == str(BF16) and got.pop("nd_fc_values") == [[4.0] * 3] * 2
    assert got == want


def test_init_bfloat16_keeps_batchnorm_parameters_float32():
    # MXNet 1.9.1 with these lists (BF16_USE_FP32_PARAMS): only the data is cast
    code = ("import json; import oxnet as mx; from oxnet.contrib import amp; "
            "amp.init(target_dtype='bfloat16', target_precision_ops=['BatchNorm'], fp32_ops=[], "
            "conditional_fp32_ops=[]); y = mx.sym.BatchNorm(mx.sym.var('data'), name='bn'); "
            "x = mx.nd.BatchNorm(mx.nd.ones((2, 3)), mx.nd.ones(3), mx.nd.zeros(3), mx.nd.zeros(3), "
            "mx.nd.ones(3)); "
            "print(json.dumps([[n['op'], n['name'], n.get('attrs', {}).get('dtype')] for n in "
            "json.loads(y.tojson(remove_amp_cast=False))['nodes']] + [str(x.dtype)]))")
    got, stderr = _run_json(code)
    assert got == [["null", "data", None], ["amp_cast", "amp_cast0", "bfloat16"],
                   ["null", "bn_gamma", None], ["null", "bn_beta", None],
                   ["null", "bn_moving_mean", None], ["null", "bn_moving_var", None],
                   ["BatchNorm", "bn", None], str(BF16)]
