"""mx.init: distributions checked by their statistics (scales computed here from the fan
definitions), MXNet's name-pattern dispatch, Mixed/Load, serialization and the registry."""
import json
import logging
import math
import os
import warnings

import numpy as np
import pytest

import oxnet as mx

Desc = mx.init.InitDesc


def _fill(init, name, shape, dtype="float32"):
    arr = mx.nd.zeros(shape, dtype=dtype)
    init(Desc(name), arr)
    return arr.asnumpy()


def _legacy(init, name, arr):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        init(name, arr)
    return arr.asnumpy()


# ---- distributions -----------------------------------------------------------------------

def test_uniform_statistics():
    x = _fill(mx.init.Uniform(0.2), "fc_weight", (300, 400))
    assert x.min() >= -0.2 and x.max() <= 0.2
    assert x.min() < -0.199 and x.max() > 0.199
    assert abs(x.mean()) < 0.002
    assert x.std() == pytest.approx(0.2 / math.sqrt(3), rel=0.01)


def test_uniform_default_scale():
    x = _fill(mx.init.Uniform(), "w_weight", (200, 200))
    assert np.abs(x).max() <= 0.07 and np.abs(x).max() > 0.0699


def test_normal_statistics():
    x = _fill(mx.init.Normal(0.5), "fc_weight", (300, 400))
    assert abs(x.mean()) < 0.005
    assert x.std() == pytest.approx(0.5, rel=0.01)
    # about 4.55% of a normal sample lies beyond two sigma
    assert np.mean(np.abs(x) > 1.0) == pytest.approx(0.0455, abs=0.003)


@pytest.mark.parametrize("rnd_type", ["uniform", "gaussian"])
@pytest.mark.parametrize("factor_type", ["avg", "in", "out"])
@pytest.mark.parametrize("magnitude", [3, 2.34])
def test_xavier_scale(rnd_type, factor_type, magnitude):
    shape = (96, 48, 3, 3)
    fan_in, fan_out = 48 * 9, 96 * 9
    factor = {"avg": (fan_in + fan_out) / 2.0, "in": fan_in, "out": fan_out}[factor_type]
    scale = math.sqrt(magnitude / factor)
    x = _fill(mx.init.Xavier(rnd_type, factor_type, magnitude), "conv_weight", shape)
    assert abs(x.mean()) < 0.02 * scale
    if rnd_type == "uniform":
        assert np.abs(x).max() <= scale * (1 + 1e-6)
        assert np.abs(x).max() > 0.99 * scale
        assert x.std() == pytest.approx(scale / math.sqrt(3), rel=0.02)
    else:
        assert x.std() == pytest.approx(scale, rel=0.02)
        assert np.abs(x).max() > 2.5 * scale


def test_xavier_2d_fans():
    # (out, in) weight of FullyConnected: no spatial factor.
    x = _fill(mx.init.Xavier(factor_type="in", magnitude=3), "fc_weight", (500, 200))
    assert np.abs(x).max() == pytest.approx(math.sqrt(3 / 200.0), rel=0.01)


def test_msra_prelu_scale():
    slope = 0.1
    x = _fill(mx.init.MSRAPrelu("in", slope), "conv_weight", (128, 64, 3, 3))
    assert x.std() == pytest.approx(math.sqrt(2.0 / (1 + slope ** 2) / (64 * 9)), rel=0.02)


def test_xavier_rejects_vectors_and_bad_options():
    with pytest.raises(ValueError, match="fc_weight.*at least 2D"):
        _fill(mx.init.Xavier(), "fc_weight", (10,))
    with pytest.raises(ValueError, match="factor_type"):
        mx.init.Xavier(factor_type="sum")
    with pytest.raises(ValueError, match="rnd_type"):
        mx.init.Xavier(rnd_type="cauchy")
    with pytest.raises(ValueError, match="rand_type"):
        mx.init.Orthogonal(rand_type="cauchy")


def test_seed_makes_random_initializers_reproducible():
    for init in (mx.init.Uniform(1.0), mx.init.Normal(1.0), mx.init.Xavier(),
                 mx.init.Orthogonal()):
        mx.random.seed(42)
        a = _fill(init, "fc_weight", (8, 6))
        mx.random.seed(42)
        b = _fill(init, "fc_weight", (8, 6))
        mx.random.seed(43)
        c = _fill(init, "fc_weight", (8, 6))
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)


def test_float64_and_float16_weights():
    x = _fill(mx.init.Uniform(0.5), "fc_weight", (100, 100), dtype="float64")
    assert x.dtype == np.float64 and np.abs(x).max() <= 0.5 and x.std() > 0.25
    y = _fill(mx.init.Normal(1.0), "fc_weight", (100, 100), dtype="float16")
    assert y.dtype == np.float16 and y.std() == pytest.approx(1.0, rel=0.05)


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 2, 3, 3)])
@pytest.mark.parametrize("rand_type", ["uniform", "normal"])
def test_orthogonal(shape, rand_type):
    x = _fill(mx.init.Orthogonal(scale=1.5, rand_type=rand_type), "fc_weight", shape)
    m = x.reshape(shape[0], -1) / 1.5
    if m.shape[0] <= m.shape[1]:
        np.testing.assert_allclose(m @ m.T, np.eye(m.shape[0]), atol=1e-5)
    else:
        np.testing.assert_allclose(m.T @ m, np.eye(m.shape[1]), atol=1e-5)


def test_constant_zero_one():
    assert (_fill(mx.init.Constant(2.5), "a_weight", (2, 3)) == 2.5).all()
    assert (_fill(mx.init.Zero(), "a_weight", (2, 3)) == 0).all()
    assert (_fill(mx.init.One(), "a_weight", (2, 3)) == 1).all()
    value = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(_fill(mx.init.Constant(value), "a_weight", (2, 3)), value)
    np.testing.assert_array_equal(
        _fill(mx.init.Constant(mx.nd.array(value)), "a_weight", (2, 3)), value)


def _bilinear_reference(shape):
    # MXNet's definition element by element.
    f = math.ceil(shape[3] / 2.0)
    c = (2 * f - 1 - f % 2) / (2.0 * f)
    out = np.zeros(int(np.prod(shape)), dtype=np.float32)
    for i in range(out.size):
        x = i % shape[3]
        y = (i // shape[3]) % shape[2]
        out[i] = (1 - abs(x / f - c)) * (1 - abs(y / f - c))
    return out.reshape(shape)


@pytest.mark.parametrize("shape", [(1, 1, 4, 4), (2, 3, 3, 3), (2, 1, 5, 6)])
def test_bilinear(shape):
    got = _fill(mx.init.Bilinear(), "up_weight", shape)
    np.testing.assert_allclose(got, _bilinear_reference(shape), rtol=1e-6)
    # the legacy path picks it by the 'upsampling' prefix, whatever the initializer
    legacy = _legacy(mx.init.Uniform(), "upsampling0_weight", mx.nd.zeros(shape))
    np.testing.assert_allclose(legacy, _bilinear_reference(shape), rtol=1e-6)


def test_lstm_bias():
    x = _fill(mx.init.LSTMBias(forget_bias=2.0), "lstm_i2h_weight", (12,))
    np.testing.assert_array_equal(x, [0] * 3 + [2] * 3 + [0] * 6)


def test_quantized_weight():
    arr = mx.nd.zeros((40, 40), dtype="int8")
    mx.init.Uniform()(Desc("fc_weight_quantize"), arr)
    x = arr.asnumpy()
    assert x.min() >= -127 and x.max() < 127 and len(np.unique(x)) > 100


# ---- name-pattern dispatch ---------------------------------------------------------------

class _Marker(mx.init.Initializer):
    """Fills weights with 7 so that dispatch is visible."""

    def _init_weight(self, _, arr):
        arr[:] = 7


@pytest.mark.parametrize("name,value", [
    ("fc1_weight", 7), ("fc1_bias", 0), ("bn_gamma", 1), ("bn_beta", 0),
    ("q_min", 0), ("q_max", 1)])
def test_initdesc_patterns(name, value):
    arr = mx.nd.full((3,), 5.0)
    _Marker()(Desc(name), arr)
    assert (arr.asnumpy() == value).all()


@pytest.mark.parametrize("name,value", [
    ("fc1_weight", 7), ("fc1_bias", 0), ("bn_gamma", 1), ("bn_beta", 0),
    ("bn_moving_mean", 0), ("bn_moving_var", 1), ("bn_moving_inv_var", 0),
    ("bn_moving_avg", 0), ("q_min", 0), ("q_max", 1), ("stn_loc_weight", 0)])
def test_legacy_string_patterns(name, value):
    arr = mx.nd.full((6,), 5.0)
    with pytest.warns(DeprecationWarning, match="InitDesc"):
        _Marker()(name, arr)
    assert (arr.asnumpy() == value).all()


def test_legacy_stn_loc_bias_is_identity_transform():
    np.testing.assert_array_equal(_legacy(_Marker(), "stn_loc_bias", mx.nd.zeros((6,))),
                                  [1, 0, 0, 0, 1, 0])


def test_unknown_pattern_raises_naming_it():
    with pytest.raises(ValueError, match="Unknown initialization pattern for foo_state"):
        mx.init.Uniform()(Desc("foo_state"), mx.nd.zeros((2,)))
    # moving statistics are named by attributes on the InitDesc path, not by suffix
    with pytest.raises(ValueError, match="bn_moving_var"):
        mx.init.Uniform()(Desc("bn_moving_var"), mx.nd.zeros((2,)))
    with pytest.raises(ValueError, match="junk"):
        _legacy(mx.init.Uniform(), "junk", mx.nd.zeros((2,)))


def test_legacy_type_errors():
    with pytest.raises(TypeError, match="name"):
        _legacy(mx.init.Uniform(), 3, mx.nd.zeros((2,)))
    with pytest.raises(TypeError, match="NDArray"):
        _legacy(mx.init.Uniform(), "w_weight", np.zeros(2))


def test_base_initializer_needs_init_weight():
    with pytest.raises(NotImplementedError):
        mx.init.Initializer()(Desc("x_weight"), mx.nd.zeros((2,)))


def test_init_attribute_overrides_pattern():
    arr = mx.nd.full((2, 2), 5.0)
    desc = Desc("fc_weight", attrs={"__init__": "zeros"})
    g = mx.init.Uniform()
    g(desc, arr)
    assert (arr.asnumpy() == 0).all()
    assert desc.global_init is g
    # an Initializer's dumps() works as the attribute too, even on a 'bias' name
    arr2 = mx.nd.zeros((3,))
    g(Desc("fc_bias", attrs={"__init__": mx.init.Constant(4.0).dumps()}), arr2)
    assert (arr2.asnumpy() == 4).all()


def test_symbol_attributes_drive_aux_states():
    # BatchNorm's aux variables carry __init__ attributes; Module passes them via InitDesc.
    data = mx.sym.Variable("data")
    w = mx.sym.Variable("w", init=mx.init.Constant(3.0))
    net = mx.sym.BatchNorm(mx.sym.FullyConnected(data, weight=w, num_hidden=4, name="fc"),
                           name="bn")
    attrs = net.attr_dict()
    init = _Marker()
    values = {}
    for name in ["w", "fc_bias", "bn_gamma", "bn_beta", "bn_moving_mean", "bn_moving_var"]:
        arr = mx.nd.full((4,), 9.0)
        init(Desc(name, attrs.get(name, None)), arr)
        values[name] = arr.asnumpy()[0]
    assert values == {"w": 3, "fc_bias": 0, "bn_gamma": 1, "bn_beta": 0,
                      "bn_moving_mean": 0, "bn_moving_var": 1}


def test_variable_stores_dumps():
    v = mx.sym.Variable("w", init=mx.init.Xavier())
    assert v.attr_dict()["w"]["__init__"] == (
        '["xavier", {"rnd_type": "uniform", "factor_type": "avg", "magnitude": 3}]')


def test_initdesc_is_a_str():
    d = Desc("fc_weight", {"__lr_mult__": "2"})
    assert d == "fc_weight" and isinstance(d, str) and d.endswith("weight")
    assert d.attrs == {"__lr_mult__": "2"} and d.global_init is None
    assert Desc("x").attrs == {}


def test_verbose_logging(caplog):
    caplog.set_level(logging.INFO)
    init = mx.init.One().set_verbosity(True)
    init(Desc("fc_weight"), mx.nd.zeros((2, 2)))
    assert caplog.records[-1].getMessage() == "Initialized fc_weight as weight: 1.0"


# ---- Mixed and Load ----------------------------------------------------------------------

def test_mixed_first_match_wins():
    init = mx.init.Mixed(["bias", "fc2.*", ".*"],
                         [mx.init.Constant(-1.0), mx.init.Zero(), mx.init.One()])
    got = {}
    for name in ["bias_x_weight", "fc2_weight", "fc2_bias", "fc1_weight", "fc1_bias"]:
        arr = mx.nd.full((2,), 5.0)
        init(Desc(name), arr)
        got[name] = arr.asnumpy()[0]
    # re.match anchors at the start: "fc1_bias" is not matched by "bias" (One zeroes biases).
    assert got == {"bias_x_weight": -1, "fc2_weight": 0, "fc2_bias": 0, "fc1_weight": 1,
                   "fc1_bias": 0}


def test_mixed_errors():
    with pytest.raises(ValueError, match="one initializer per pattern"):
        mx.init.Mixed(["a", "b"], [mx.init.Zero()])
    init = mx.init.Mixed(["conv"], [mx.init.Zero()])
    with pytest.raises(ValueError, match="fc_weight did not match"):
        init(Desc("fc_weight"), mx.nd.zeros((1,)))


def test_load_from_dict_with_default():
    src = {"arg:fc_weight": mx.nd.array([[1, 2], [3, 4]]), "aux:bn_moving_var": mx.nd.array([5, 6]),
           "plain_bias": mx.nd.array([7])}
    init = mx.init.Load(src, default_init=mx.init.One())
    w = mx.nd.zeros((2, 2))
    init(Desc("fc_weight"), w)
    np.testing.assert_array_equal(w.asnumpy(), [[1, 2], [3, 4]])
    mv = mx.nd.zeros((2,))
    init("bn_moving_var", mv)
    np.testing.assert_array_equal(mv.asnumpy(), [5, 6])
    b = mx.nd.zeros((1,))
    init("plain_bias", b)
    assert b.asnumpy()[0] == 7
    other = mx.nd.zeros((3,))
    init(Desc("fc2_weight"), other)
    assert (other.asnumpy() == 1).all()


def test_load_from_params_file(tmp_path):
    fname = os.path.join(str(tmp_path), "ck-0001.params")
    mx.nd.save(fname, {"arg:conv_weight": mx.nd.ones((2, 1, 3, 3)) * 0.5,
                       "aux:bn_moving_mean": mx.nd.array([1, 2, 3])})
    init = mx.init.Load(fname, verbose=True)
    assert sorted(init.param) == ["bn_moving_mean", "conv_weight"]
    arr = mx.nd.zeros((2, 1, 3, 3))
    init(Desc("conv_weight"), arr)
    assert (arr.asnumpy() == 0.5).all()
    mean = mx.nd.zeros((3,))
    init(Desc("bn_moving_mean"), mean)
    np.testing.assert_array_equal(mean.asnumpy(), [1, 2, 3])


def test_load_errors():
    init = mx.init.Load({"arg:w": mx.nd.zeros((2, 3))})
    with pytest.raises(ValueError, match=r"w.*\(3, 2\).*\(2, 3\)"):
        init("w", mx.nd.zeros((3, 2)))
    with pytest.raises(ValueError, match="Cannot initialize missing_weight"):
        init("missing_weight", mx.nd.zeros((1,)))
    with pytest.raises(TypeError, match="dict"):
        mx.init.Load([mx.nd.zeros((1,))])


# ---- serialization and registry ----------------------------------------------------------

@pytest.mark.parametrize("init", [
    mx.init.Uniform(0.3), mx.init.Normal(0.2), mx.init.Xavier("gaussian", "in", 2),
    mx.init.MSRAPrelu("out", 0.5), mx.init.Orthogonal(2.0, "normal"), mx.init.Constant(1.5),
    mx.init.Zero(), mx.init.One(), mx.init.Bilinear(), mx.init.LSTMBias(0.5)])
def test_dumps_round_trip(init):
    again = mx.init.create(init.dumps())
    assert type(again) is type(init) and again == init
    name, kwargs = json.loads(init.dumps())
    assert name == type(init).__name__.lower()


def test_dumps_exact_strings():
    assert mx.init.Normal(0.5).dumps() == '["normal", {"sigma": 0.5}]'
    assert mx.init.MSRAPrelu().dumps() == '["msraprelu", {"factor_type": "avg", "slope": 0.25}]'
    assert mx.init.Zero().dumps() == '["zero", {}]'
    assert mx.init.Constant(np.array([1.0, 2.0])).dumps() == '["constant", {"value": [1.0, 2.0]}]'


def test_create_forms():
    assert isinstance(mx.init.create("zeros"), mx.init.Zero)
    assert isinstance(mx.init.create("ONES"), mx.init.One)
    x = mx.init.create("xavier", magnitude=2)
    assert x.magnitude == 2.0 and x.rnd_type == "uniform"
    inst = mx.init.Normal()
    assert mx.init.create(inst) is inst
    assert mx.init.create({"initializer": "uniform", "scale": 0.5}).scale == 0.5
    assert mx.init.create('{"initializer": "normal", "sigma": 0.3}').sigma == 0.3
    with pytest.raises(ValueError, match="not registered"):
        mx.init.create("glorot_magic")
    with pytest.raises(AssertionError):  # what MXNet 1.9.1 raises
        mx.init.create('["glorot_magic", {}]')
    with pytest.raises(ValueError, match="already an instance"):
        mx.init.create(inst, 0.1)


def test_register_alias_and_override_warning():
    @mx.init.register
    @mx.init.alias("sevens")
    class Sevens(mx.init.Initializer):
        def _init_weight(self, _, arr):
            arr[:] = 7

    assert isinstance(mx.init.create("sevens"), Sevens)
    assert isinstance(mx.init.create("Sevens"), Sevens)
    arr = mx.nd.zeros((2,))
    mx.init.create("sevens")(Desc("x_weight"), arr)
    assert (arr.asnumpy() == 7).all()

    class Other(mx.init.Initializer):
        pass

    with pytest.warns(UserWarning, match="overriding"):
        mx.init.alias("sevens")(Other)
    with pytest.raises(TypeError, match="subclass"):
        mx.init.register(int)


def test_equality():
    assert mx.init.Uniform(0.1) == mx.init.Uniform(0.1)
    assert mx.init.Uniform(0.1) != mx.init.Uniform(0.2)
    assert mx.init.Uniform(0.1) != mx.init.Normal(0.1)


# ---- values observed with MXNet 1.9.1 (tests/data/make_golden_metric.py) ----------------

with open(os.path.join(os.path.dirname(__file__), "..", "data", "golden", "metric",
                       "init_expected.json")) as _f:
    _GOLDEN = json.load(_f)


class NameRamp(mx.init.Initializer):
    """The generator's deterministic initializer: sum(ord(name)) + i / 1000."""

    def __init__(self):
        super(NameRamp, self).__init__()

    def _init_weight(self, name, arr):
        base = float(sum(ord(c) for c in name))
        arr[:] = (base + np.arange(arr.size) / 1000.0).reshape(arr.shape)


@pytest.mark.parametrize("case", _GOLDEN["fused_rnn"],
                         ids=lambda c: "%s-%dl-%s-%s" % (c["mode"], c["num_layers"],
                                                         c["bidirectional"], c["inner"]))
def test_fused_rnn_matches_mxnet(case):
    want = np.array(case["values"], dtype=np.float32)
    arr = mx.nd.zeros(want.shape)
    args = (case["num_hidden"], case["num_layers"], case["mode"], case["bidirectional"],
            case["forget_bias"])
    if case["inner"] == "ramp":
        init = mx.init.FusedRNN(NameRamp(), *args)
        init._init_weight(Desc("rnn_parameters"), arr)
    else:
        init = mx.init.FusedRNN(None, *args)
        NameRamp()(Desc("rnn_parameters", {"__init__": init.dumps()}), arr)
    assert init.dumps() == case["dumps"]
    np.testing.assert_allclose(arr.asnumpy(), want, rtol=1e-6)


def test_fused_rnn_errors():
    with pytest.raises(ValueError, match="mode"):
        mx.init.FusedRNN(None, 2, 1, "transformer")
    with pytest.raises(ValueError, match="17 elements"):
        mx.init.FusedRNN(mx.init.One(), 2, 1, "lstm")._init_weight(Desc("p"), mx.nd.zeros((17,)))
    with pytest.raises(ValueError, match="no init and no global"):
        mx.init.FusedRNN(None, 2, 1, "lstm")._init_weight(Desc("p"), mx.nd.zeros((48,)))
    # a JSON inner initializer is accepted, as in dumps() round trips
    again = mx.init.create(mx.init.FusedRNN(mx.init.Xavier(), 4, 1, "gru").dumps())
    assert again._init == mx.init.Xavier()


@pytest.mark.parametrize("shape", list(_GOLDEN["bilinear"]))
def test_bilinear_matches_mxnet(shape):
    want = np.array(_GOLDEN["bilinear"][shape], dtype=np.float32)
    np.testing.assert_allclose(_fill(mx.init.Bilinear(), "up_weight", want.shape), want,
                               rtol=1e-6)


def test_dumps_match_mxnet():
    made = {"xavier": mx.init.Xavier(), "xavier_in": mx.init.Xavier(factor_type="in",
                                                                   magnitude=2.34),
            "msraprelu": mx.init.MSRAPrelu(), "normal": mx.init.Normal(0.5),
            "uniform": mx.init.Uniform(), "orthogonal": mx.init.Orthogonal(),
            "constant": mx.init.Constant(2.0), "lstmbias": mx.init.LSTMBias(),
            "zero": mx.init.Zero(), "one": mx.init.One(), "bilinear": mx.init.Bilinear()}
    assert {k: v.dumps() for k, v in made.items()} == _GOLDEN["dumps"]
