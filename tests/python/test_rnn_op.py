"""The fused ``RNN`` operator (mx.nd.RNN / mx.sym.RNN): forward values and every gradient
against a numpy implementation written here (gradients by central finite differences of it),
values printed from MXNet 1.9.1, symbol names, shapes and JSON, and a small trained model."""
import numpy as np
import pytest

import oxnet as mx

GATES = {"rnn_relu": 1, "rnn_tanh": 1, "lstm": 4, "gru": 3}


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def param_len(mode, layers, bidir, h, c):
    g, d = GATES[mode], 2 if bidir else 1
    return sum(d * (g * h * ((c if l == 0 else d * h) + h) + 2 * g * h) for l in range(layers))


def _split(w, mode, layers, bidir, h, c):
    """(W_i2h, W_h2h, b_i2h, b_h2h) per layer and direction, walking the flat vector in
    MXNet's order: every weight, then every bias."""
    g, d = GATES[mode], 2 if bidir else 1
    pos, mats = 0, []
    for l in range(layers):
        inl = c if l == 0 else d * h
        for _ in range(d):
            wx = w[pos:pos + g * h * inl].reshape(g * h, inl)
            pos += g * h * inl
            wh = w[pos:pos + g * h * h].reshape(g * h, h)
            pos += g * h * h
            mats.append([wx, wh])
    for k in range(layers * d):
        mats[k].append(w[pos:pos + g * h])
        pos += g * h
        mats[k].append(w[pos:pos + g * h])
        pos += g * h
    assert pos == w.size
    return mats


def np_rnn(x, w, hx, cx, mode, layers, bidir, h):
    """(out, hy, cy) of the fused RNN, step by step in numpy."""
    t, n, c = x.shape
    d = 2 if bidir else 1
    mats = _split(w, mode, layers, bidir, h, c)
    hy, cy = np.zeros_like(hx), np.zeros_like(hx)
    inp = x
    for l in range(layers):
        y = np.zeros((t, n, d * h))
        for dr in range(d):
            k = l * d + dr
            wx, wh, bx, bh = mats[k]
            hs = hx[k]
            cs = cx[k] if cx is not None else None
            for tt in (range(t) if dr == 0 else range(t - 1, -1, -1)):
                ax = inp[tt] @ wx.T + bx
                ah = hs @ wh.T + bh
                if mode == "rnn_tanh":
                    hs = np.tanh(ax + ah)
                elif mode == "rnn_relu":
                    hs = np.maximum(ax + ah, 0)
                elif mode == "lstm":
                    a = ax + ah
                    i, f = _sigmoid(a[:, :h]), _sigmoid(a[:, h:2 * h])
                    gg, o = np.tanh(a[:, 2 * h:3 * h]), _sigmoid(a[:, 3 * h:])
                    cs = f * cs + i * gg
                    hs = o * np.tanh(cs)
                else:
                    r = _sigmoid(ax[:, :h] + ah[:, :h])
                    z = _sigmoid(ax[:, h:2 * h] + ah[:, h:2 * h])
                    nn = np.tanh(ax[:, 2 * h:] + r * ah[:, 2 * h:])
                    hs = (1 - z) * nn + z * hs
                y[tt, :, dr * h:(dr + 1) * h] = hs
            hy[k] = hs
            if cs is not None:
                cy[k] = cs
        inp = y
    return inp, hy, cy


def _inputs(mode, layers, bidir, t, n, c, h, seed):
    rs = np.random.RandomState(seed)
    d = 2 if bidir else 1
    x = rs.uniform(-1, 1, (t, n, c))
    w = rs.uniform(-0.6, 0.6, param_len(mode, layers, bidir, h, c))
    hx = rs.uniform(-1, 1, (layers * d, n, h))
    cx = rs.uniform(-1, 1, (layers * d, n, h)) if mode == "lstm" else None
    return [a for a in (x, w, hx, cx) if a is not None]


def _np_loss(arrs, heads, mode, layers, bidir, h):
    cx = arrs[3] if mode == "lstm" else None
    outs = np_rnn(arrs[0], arrs[1], arrs[2], cx, mode, layers, bidir, h)
    return sum(float((o * hd).sum()) for o, hd in zip(outs, heads))


def _np_grads(arrs, heads, mode, layers, bidir, h, eps=1e-6):
    grads = []
    for k, a in enumerate(arrs):
        g = np.zeros_like(a)
        for i in range(a.size):
            plus = [b.copy() for b in arrs]
            minus = [b.copy() for b in arrs]
            plus[k].flat[i] += eps
            minus[k].flat[i] -= eps
            g.flat[i] = (_np_loss(plus, heads, mode, layers, bidir, h)
                         - _np_loss(minus, heads, mode, layers, bidir, h)) / (2 * eps)
        grads.append(g)
    return grads


CONFIGS = [(m, l, b) for m in ("rnn_relu", "rnn_tanh", "lstm", "gru")
           for l, b in ((1, False), (2, False), (1, True), (2, True))]


@pytest.mark.parametrize("mode,layers,bidir", CONFIGS)
@pytest.mark.parametrize("state_outputs", [False, True])
def test_forward_and_gradients_match_numpy(mode, layers, bidir, state_outputs):
    t, n, c, h = 3, 2, 3, 2
    arrs = _inputs(mode, layers, bidir, t, n, c, h, seed=layers * 7 + bidir)
    if mode == "rnn_relu":
        arrs[1] = np.abs(arrs[1]) * 0.5 + 0.02  # keep most units active, away from the kink
        arrs[0] = np.abs(arrs[0])
    nds = [mx.nd.array(a, dtype="float64") for a in arrs]
    for a in nds:
        a.attach_grad()
    with mx.autograd.record():
        outs = mx.nd.RNN(*nds, mode=mode, state_size=h, num_layers=layers,
                         bidirectional=bidir, state_outputs=state_outputs)
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    want = np_rnn(arrs[0], arrs[1], arrs[2], arrs[3] if mode == "lstm" else None,
                  mode, layers, bidir, h)
    n_vis = 1 + (1 + (mode == "lstm")) * state_outputs
    assert len(outs) == n_vis
    for o, w in zip(outs, want):
        np.testing.assert_allclose(o.asnumpy(), w, rtol=1e-12, atol=1e-12)
    rs = np.random.RandomState(5)
    heads = [rs.uniform(-1, 1, o.shape) for o in outs]
    mx.autograd.backward(outs, [mx.nd.array(hd, dtype="float64") for hd in heads])
    # Outputs not made visible receive no gradient: zero heads for the oracle.
    np_heads = heads + [np.zeros_like(w) for w in want[len(heads):]]
    num = _np_grads(arrs, np_heads, mode, layers, bidir, h)
    for a, g in zip(nds, num):
        np.testing.assert_allclose(a.grad.asnumpy(), g, rtol=1e-5, atol=1e-7)


def np_rnn_lengths(x, w, hx, cx, lens, mode, layers, bidir, h):
    """The documented use_sequence_length semantics: each sequence runs alone over its first
    len steps (the reverse direction starts at its last valid step); outputs past it are 0."""
    t, n, _ = x.shape
    d = 2 if bidir else 1
    out = np.zeros((t, n, d * h))
    hy, cy = np.zeros_like(hx), np.zeros_like(hx)
    for b, ln in enumerate(lens):
        o, hb, cb = np_rnn(x[:ln, b:b + 1], w, hx[:, b:b + 1],
                           None if cx is None else cx[:, b:b + 1], mode, layers, bidir, h)
        out[:ln, b:b + 1] = o
        hy[:, b:b + 1] = hb
        cy[:, b:b + 1] = cb
    return out, hy, cy


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_tanh"])
def test_sequence_length_forward_and_gradients(mode):
    # MXNet 1.9.1's CPU kernel ignores sequence_length (only its cuDNN path honours it);
    # this checks the documented semantics against the numpy oracle above.
    t, n, c, h, layers, bidir = 4, 3, 2, 2, 2, True
    arrs = _inputs(mode, layers, bidir, t, n, c, h, seed=9)
    lens = [3, 1, 4]
    nds = [mx.nd.array(a, dtype="float64") for a in arrs]
    for a in nds:
        a.attach_grad()
    seq = mx.nd.array(lens, dtype="int32")
    with mx.autograd.record():
        outs = mx.nd.RNN(*nds, seq, mode=mode, state_size=h, num_layers=layers,
                         bidirectional=bidir, state_outputs=True, use_sequence_length=True)
    cx = arrs[3] if mode == "lstm" else None
    want = np_rnn_lengths(arrs[0], arrs[1], arrs[2], cx, lens, mode, layers, bidir, h)
    for o, w in zip(outs, want):
        np.testing.assert_allclose(o.asnumpy(), w, rtol=1e-12, atol=1e-12)
    rs = np.random.RandomState(4)
    heads = [rs.uniform(-1, 1, o.shape) for o in outs]
    mx.autograd.backward(list(outs), [mx.nd.array(hd, dtype="float64") for hd in heads])

    def loss(a):
        got = np_rnn_lengths(a[0], a[1], a[2], a[3] if mode == "lstm" else None, lens, mode,
                             layers, bidir, h)
        return sum(float((o * hd).sum()) for o, hd in zip(got, heads))

    eps = 1e-6
    for k, a in enumerate(nds):
        num = np.zeros_like(arrs[k])
        for i in range(num.size):
            plus = [b.copy() for b in arrs]
            minus = [b.copy() for b in arrs]
            plus[k].flat[i] += eps
            minus[k].flat[i] -= eps
            num.flat[i] = (loss(plus) - loss(minus)) / (2 * eps)
        np.testing.assert_allclose(a.grad.asnumpy(), num, rtol=1e-5, atol=1e-7)
    with pytest.raises(mx.MXNetError, match="sequence_length"):
        mx.nd.RNN(*nds, mx.nd.array([0, 1, 5]), mode=mode, state_size=h, num_layers=layers,
                  bidirectional=bidir, use_sequence_length=True).asnumpy()


def test_float32_matches_float64():
    arrs = _inputs("gru", 2, True, 5, 3, 4, 3, seed=1)
    kw = dict(mode="gru", state_size=3, num_layers=2, bidirectional=True)
    o32 = mx.nd.RNN(*[mx.nd.array(a, dtype="float32") for a in arrs], **kw)
    o64 = mx.nd.RNN(*[mx.nd.array(a, dtype="float64") for a in arrs], **kw)
    assert o32.dtype == np.float32 and o64.dtype == np.float64
    np.testing.assert_allclose(o32.asnumpy(), o64.asnumpy(), rtol=1e-5, atol=1e-6)


# Printed from MXNet 1.9.1 (MXNET_ENGINE_TYPE=NaiveEngine, float64 arrays, autograd with
# head gradients cos(0.11 * arange)) for data (3, 2, 3), state_size 2 and the inputs below.
MXNET_VALUES = {
    ("lstm", 2, True): {
        "out": [-0.07525262772796798, 0.06436703679184533, -0.08784918823181755,
                -0.0168741391537305, 0.10134564060901921, -0.010558189643194748,
                0.01577898716157016, 0.00945724339384465],
        "hy": [0.11520308810307806, 0.13634708085182431, -0.0669114680836443,
               -0.09928789412454275],
        "cy": [0.21498273820444402, 0.2942196022750536, -0.1326877188289036,
               -0.18030020124604132],
        "grads": [([0.23614406689638126, 0.12836210782382673, 0.003206939631185707,
                    0.38273815416531765, 0.32278689375170627, 0.21914794153057204],
                   4.316165045598911),
                  ([-0.05325426614788073, 0.04828440290225067, 0.1054306145989854,
                    -0.07545609131999573, 0.10168304843216203, 0.18533526239119347],
                   33.24060921829453),
                  ([0.08321576795989567, 0.09427865762459109, 0.2256096085341061,
                    0.22573640404274808, -0.03950961445484149, -0.08792305507998198],
                   1.0669616791997871),
                  ([0.11587754027915868, 0.20619120630935314, 0.4077967986615503,
                    0.44363971888964543, 0.19602765479144432, 0.259156095020983],
                   3.3198176585113126)],
    },
    ("gru", 1, True): {
        "out": [0.14571038259254165, 0.3706040659366635, -0.46798295940971024,
                -0.18166494308053163, 0.16561187529356128, 0.11039743855699152,
                -0.06467958762928361, -0.26102481779238607],
        "hy": [0.1993969960233383, 0.4120906941550116, 0.0697637470485424, 0.08709982393397983],
        "grads": [([-0.3666279381125489, -0.08279614115858414, 0.21224172508693862,
                    -0.5168390626521862, -0.3102232168939215, -0.06162011405196366],
                   -0.5140274645067304),
                  ([0.0016997255774569328, 0.013306624639074538, 0.012679474374170613,
                    -0.00018176057955882817, 0.006854988735720222, 0.007589293020778347],
                   14.987822902163899),
                  ([0.43344172924607405, 0.5479887300135016, 0.48982238216981144,
                    0.406334384653128, 0.008804783021927016, -0.08955823695519079],
                   1.3702421105667728)],
    },
    ("rnn_tanh", 2, False): {
        "out": [-0.6286309818142846, -0.6068339071165282, -0.5868036780362339,
                -0.6970713418532759, -0.7136406997854837, -0.8246065592113325,
                -0.7322539504440586, -0.8196548128278225],
        "hy": [0.5183712374735907, 0.07214757254147035, 0.30504368498332507,
               0.20476795701033268],
        "grads": [([0.05689572635009942, 0.01772485726781769, -0.023844988094598837,
                    0.06946000328961696, 0.02918354708758456, -0.015042765306544099],
                   0.2697321565180586),
                  ([0.029574028809704098, -0.003588785993648229, -0.03345208750497497,
                    0.015668618283376002, 0.02722363470832941, 0.013749366930668644],
                   13.501121254864014),
                  ([-0.11233722185051916, -0.11427800694470336, -0.1204964105132221,
                    -0.12545469793906985, 0.4461378359841514, 0.5557737714255375],
                   1.3821261675944045)],
    },
    ("rnn_relu", 1, False): {
        "out": [0.6991034746170044, 0.6091360449790955, 0.0, 0.16314521431922913,
                0.5868260860443115, 0.4149971902370453, 0.0, 0.296297550201416],
        "hy": [0.41887593269348145, 0.3423839509487152, 0.0, 0.3875551223754883],
        "grads": [([1.122640152815729, 0.9684923023317358, 0.7599716261915956,
                    0.425562134407315, 0.2994639116010345, 0.16899416639421036],
                   12.749605460495562),
                  ([-0.5587987069916595, 1.0415177482512927, 1.6842675889571919,
                    0.10463251024829114, 0.22716077598914722, 0.14083847189117324],
                   27.83545800952407),
                  ([-0.02644409621139241, -0.12383652218111113, -0.08319774869142167,
                    -0.08275121405015637],
                   -0.3162295811340816)],
    },
}


@pytest.mark.parametrize("key", sorted(MXNET_VALUES))
def test_matches_values_printed_from_mxnet(key):
    mode, layers, bidir = key
    ref = MXNET_VALUES[key]
    t, n, c, h = 3, 2, 3, 2
    d = 2 if bidir else 1
    p = param_len(mode, layers, bidir, h, c)
    x = np.sin(np.arange(t * n * c)).reshape(t, n, c) * 0.5
    w = np.cos(np.arange(p) * 0.37) * 0.4 + (0.3 if mode == "rnn_relu" else 0.0)
    hx = np.sin(np.arange(layers * d * n * h) * 0.7).reshape(layers * d, n, h) * 0.3
    cx = np.cos(np.arange(layers * d * n * h) * 1.3).reshape(layers * d, n, h) * 0.3
    nds = [mx.nd.array(a, dtype="float64") for a in [x, w, hx] + ([cx] if mode == "lstm" else [])]
    for a in nds:
        a.attach_grad()
    with mx.autograd.record():
        o = mx.nd.RNN(*nds, mode=mode, state_size=h, num_layers=layers, bidirectional=bidir,
                      state_outputs=True)
    heads = [mx.nd.array(np.cos(np.arange(a.size) * 0.11).reshape(a.shape), dtype="float64")
             for a in o]
    mx.autograd.backward(list(o), heads)
    tol = dict(rtol=1e-5, atol=1e-7)  # MXNet's relu case printed float32-rounded values
    np.testing.assert_allclose(o[0].asnumpy().ravel()[:8], ref["out"], **tol)
    np.testing.assert_allclose(o[1].asnumpy().ravel()[:4], ref["hy"], **tol)
    if mode == "lstm":
        np.testing.assert_allclose(o[2].asnumpy().ravel()[:4], ref["cy"], **tol)
    for a, (first, total) in zip(nds, ref["grads"]):
        g = a.grad.asnumpy().ravel()
        np.testing.assert_allclose(g[:len(first)], first, **tol)
        np.testing.assert_allclose(g.sum(), total, rtol=1e-5)


# list_arguments / list_outputs / infer_shape printed from MXNet 1.9.1 for
# RNN(Variable('data'), state_size=4, num_layers=2, bidirectional=True), data (5, 3, 6).
MXNET_SYMBOLS = [
    ("lstm", False, ["data", "rnn0_parameters", "rnn0_state", "rnn0_state_cell"],
     ["rnn0_output"], [(5, 3, 6), (832,), (4, 3, 4), (4, 3, 4)], [(5, 3, 8)]),
    ("lstm", True, ["data", "rnn0_parameters", "rnn0_state", "rnn0_state_cell"],
     ["rnn0_output", "rnn0_state_output", "rnn0_statecell_output"],
     [(5, 3, 6), (832,), (4, 3, 4), (4, 3, 4)], [(5, 3, 8), (4, 3, 4), (4, 3, 4)]),
    ("gru", False, ["data", "rnn0_parameters", "rnn0_state"], ["rnn0_output"],
     [(5, 3, 6), (624,), (4, 3, 4)], [(5, 3, 8)]),
    ("gru", True, ["data", "rnn0_parameters", "rnn0_state"],
     ["rnn0_output", "rnn0_state_output"], [(5, 3, 6), (624,), (4, 3, 4)],
     [(5, 3, 8), (4, 3, 4)]),
    ("rnn_tanh", True, ["data", "rnn0_parameters", "rnn0_state"],
     ["rnn0_output", "rnn0_state_output"], [(5, 3, 6), (208,), (4, 3, 4)],
     [(5, 3, 8), (4, 3, 4)]),
]


@pytest.mark.parametrize("mode,so,args,outs,arg_shapes,out_shapes", MXNET_SYMBOLS)
def test_symbol_names_and_shapes_match_mxnet(mode, so, args, outs, arg_shapes, out_shapes):
    with mx.name.NameManager():
        s = mx.sym.RNN(mx.sym.Variable("data"), mode=mode, state_size=4, num_layers=2,
                       bidirectional=True, state_outputs=so)
    assert s.list_arguments() == args
    assert s.list_outputs() == outs
    assert s.list_auxiliary_states() == []
    a, o, x = s.infer_shape(data=(5, 3, 6))
    assert a == arg_shapes and o == out_shapes and x == []


def test_sequence_length_names_match_mxnet():
    # MXNet 1.9.1: ['data', 'rnn0_parameters', 'rnn0_state', 'rnn0_sequence_length'].
    with mx.name.NameManager():
        s = mx.sym.RNN(mx.sym.Variable("data"), mode="gru", state_size=4, num_layers=1,
                       use_sequence_length=True)
    assert s.list_arguments() == ["data", "rnn0_parameters", "rnn0_state",
                                  "rnn0_sequence_length"]
    with mx.name.NameManager():
        s = mx.sym.RNN(mx.sym.Variable("data"), mode="lstm", state_size=4, num_layers=1,
                       use_sequence_length=True)
    assert s.list_arguments() == ["data", "rnn0_parameters", "rnn0_state", "rnn0_state_cell",
                                  "rnn0_sequence_length"]


# Printed from MXNet 1.9.1: RNN(Variable('data'), mode='gru', state_size=4, num_layers=2,
# bidirectional=True, p=0.25).tojson(), minified.
MXNET_GRU_JSON = (
    '{"nodes":[{"op":"null","name":"data","inputs":[]},{"op":"null","name":"rnn0_parameters",'
    '"attrs":{"bidirectional":"True","mode":"gru","num_layers":"2","p":"0.25","state_size":"4"},'
    '"inputs":[]},{"op":"null","name":"rnn0_state","attrs":{"bidirectional":"True","mode":"gru",'
    '"num_layers":"2","p":"0.25","state_size":"4"},"inputs":[]},{"op":"RNN","name":"rnn0",'
    '"attrs":{"bidirectional":"True","mode":"gru","num_layers":"2","p":"0.25","state_size":"4"},'
    '"inputs":[[0,0,0],[1,0,0],[2,0,0]]}],"arg_nodes":[0,1,2],"node_row_ptr":[0,1,2,3,4],'
    '"heads":[[3,0,0]],"attrs":{"mxnet_version":["int",10901]}}')


def test_json_matches_mxnet():
    import json
    with mx.name.NameManager():
        s = mx.sym.RNN(mx.sym.Variable("data"), mode="gru", state_size=4, num_layers=2,
                       bidirectional=True, p=0.25)
    assert json.loads(s.tojson()) == json.loads(MXNET_GRU_JSON)
    s2 = mx.sym.load_json(MXNET_GRU_JSON)
    assert s2.list_arguments() == ["data", "rnn0_parameters", "rnn0_state"]
    assert s2.infer_shape(data=(5, 3, 6))[1] == [(5, 3, 8)]


def test_json_round_trip_and_executor():
    data = mx.sym.Variable("data")
    s = mx.sym.RNN(data, mode="lstm", state_size=3, num_layers=2, bidirectional=True,
                   state_outputs=True, p=0.2, name="lstm")
    js = s.tojson()
    s2 = mx.sym.load_json(js)
    assert s2.tojson() == js
    assert s2.list_arguments() == s.list_arguments()
    assert s2.list_outputs() == s.list_outputs()
    shapes = dict(data=(4, 2, 5))
    arg_shapes, _, _ = s2.infer_shape(**shapes)
    rs = np.random.RandomState(3)
    args = {n: mx.nd.array(rs.uniform(-0.5, 0.5, sh), dtype="float64")
            for n, sh in zip(s2.list_arguments(), arg_shapes)}
    exe = s2.bind(mx.cpu(), args)
    outs = exe.forward(is_train=False)
    want = np_rnn(*(args[n].asnumpy() for n in s2.list_arguments()), "lstm", 2, True, 3)
    for o, w in zip(outs, want):
        np.testing.assert_allclose(o.asnumpy(), w, rtol=1e-12, atol=1e-12)
    # The executor's backward graph gives autograd's gradients (no dropout: masks differ).
    s3 = mx.sym.RNN(data, mode="lstm", state_size=3, num_layers=2, bidirectional=True,
                    state_outputs=True, name="lstm")
    grads = {n: mx.nd.zeros(a.shape, dtype="float64") for n, a in args.items()}
    exe = s3.bind(mx.cpu(), args, args_grad=grads)
    outs = exe.forward(is_train=True)
    heads = [mx.nd.array(rs.uniform(-1, 1, o.shape), dtype="float64") for o in outs]
    exe.backward(heads)
    nds = [args[n].copy() for n in s2.list_arguments()]
    for a in nds:
        a.attach_grad()
    with mx.autograd.record():
        ag = mx.nd.RNN(*nds, mode="lstm", state_size=3, num_layers=2, bidirectional=True,
                       state_outputs=True)
    mx.autograd.backward(list(ag), heads)
    for n, a in zip(s2.list_arguments(), nds):
        np.testing.assert_allclose(grads[n].asnumpy(), a.grad.asnumpy(), rtol=1e-12, atol=1e-14)


def test_dropout_between_layers_only_in_training():
    arrs = _inputs("rnn_tanh", 2, False, 6, 4, 3, 5, seed=2)
    nds = [mx.nd.array(a, dtype="float64") for a in arrs]
    kw = dict(mode="rnn_tanh", state_size=5, num_layers=2, p=0.5)
    plain = np_rnn(arrs[0], arrs[1], arrs[2], None, "rnn_tanh", 2, False, 5)[0]
    np.testing.assert_allclose(mx.nd.RNN(*nds, **kw).asnumpy(), plain, rtol=1e-12)
    with mx.autograd.train_mode():
        dropped = mx.nd.RNN(*nds, **kw).asnumpy()
    assert np.abs(dropped - plain).max() > 1e-3
    # With one layer there is nothing to drop between.
    one = _inputs("rnn_tanh", 1, False, 6, 4, 3, 5, seed=2)
    with mx.autograd.train_mode():
        got = mx.nd.RNN(*[mx.nd.array(a, dtype="float64") for a in one], mode="rnn_tanh",
                        state_size=5, num_layers=1, p=0.5).asnumpy()
    np.testing.assert_allclose(got, np_rnn(one[0], one[1], one[2], None, "rnn_tanh", 1, False,
                                           5)[0], rtol=1e-12)


def test_bad_inputs_name_op_argument_and_shapes():
    x = mx.nd.ones((3, 2, 4))
    s = mx.nd.zeros((1, 2, 3))
    with pytest.raises(mx.MXNetError, match=r"RNN.*parameters.*\[7\]"):
        mx.nd.RNN(x, mx.nd.ones((7,)), s, mode="gru", state_size=3, num_layers=1)
    with pytest.raises(mx.MXNetError, match=r"RNN.*3 dimensions"):
        mx.nd.RNN(mx.nd.ones((3, 8)), mx.nd.ones((81,)), s, mode="gru", state_size=3,
                  num_layers=1)
    with pytest.raises(mx.MXNetError, match=r"state"):
        mx.nd.RNN(x, mx.nd.ones((81,)), mx.nd.zeros((2, 2, 3)), mode="gru", state_size=3,
                  num_layers=1)
    with pytest.raises(mx.MXNetError, match=r"mode"):
        mx.nd.RNN(x, mx.nd.ones((81,)), s, mode="bogus", state_size=3, num_layers=1)
    with pytest.raises(mx.MXNetError, match=r"projection_size.*lstm"):
        mx.nd.RNN(x, mx.nd.ones((81,)), s, mode="gru", state_size=3, num_layers=1,
                  projection_size=2)


def np_lstmp(x, w, h0, c0, h, p, layers, dirs):
    """LSTM with projection in MXNet's parameter layout: per layer and direction W_i2h,
    W_h2h (4H, P), W_hr (P, H); then per layer and direction b_i2h, b_h2h."""
    t_len, _, c = x.shape
    off, wts = 0, {}

    def take(n, shape):
        nonlocal off
        off += n
        return w[off - n:off].reshape(shape)
    for l in range(layers):
        in_l = c if l == 0 else dirs * p
        for d in range(dirs):
            wts[l, d] = [take(4 * h * in_l, (4 * h, in_l)), take(4 * h * p, (4 * h, p)),
                         take(p * h, (p, h))]
    for l in range(layers):
        for d in range(dirs):
            wts[l, d] += [take(4 * h, (4 * h,)), take(4 * h, (4 * h,))]
    assert off == w.size
    inp, hy, cy = x, [], []
    for l in range(layers):
        outs = []
        for d in range(dirs):
            wi, wh, wr, bi, bh = wts[l, d]
            hs, cs, ys = h0[l * dirs + d], c0[l * dirs + d], [None] * t_len
            for s in range(t_len):
                t = s if d == 0 else t_len - 1 - s
                a = inp[t] @ wi.T + bi + hs @ wh.T + bh
                i, f, g, o = (_sigmoid(a[:, :h]), _sigmoid(a[:, h:2 * h]), np.tanh(a[:, 2 * h:3 * h]),
                              _sigmoid(a[:, 3 * h:]))
                cs = f * cs + i * g
                hs = ys[t] = (o * np.tanh(cs)) @ wr.T
            outs.append(np.stack(ys))
            hy.append(hs)
            cy.append(cs)
        inp = np.concatenate(outs, axis=2)
    return inp, np.stack(hy), np.stack(cy)


@pytest.mark.parametrize("layers,bidir", [(1, False), (2, True)])
def test_lstm_projection_forward_matches_numpy(layers, bidir):
    # The numpy oracle reproduces MXNet 1.9.1's mx.nd.RNN(projection_size=2) to 1e-16 in
    # float64 for the two-layer bidirectional case (and its layout is what Gluon exports).
    t, n, c, h, p = 4, 2, 3, 5, 2
    dirs = 2 if bidir else 1
    rs = np.random.RandomState(0)
    nw = sum(dirs * (4 * h * (c if l == 0 else dirs * p) + 4 * h * p + p * h + 8 * h)
             for l in range(layers))
    x, w = rs.uniform(-1, 1, (t, n, c)), rs.uniform(-0.5, 0.5, nw)
    h0, c0 = rs.uniform(-1, 1, (layers * dirs, n, p)), rs.uniform(-1, 1, (layers * dirs, n, h))
    want = np_lstmp(x, w, h0, c0, h, p, layers, dirs)
    for dt, tol in (("float64", 1e-12), ("float32", 1e-5)):
        got = mx.nd.RNN(*[mx.nd.array(a, dtype=dt) for a in (x, w, h0, c0)], mode="lstm",
                        state_size=h, projection_size=p, num_layers=layers, bidirectional=bidir,
                        state_outputs=True)
        assert [o.shape for o in got] == [(t, n, dirs * p), (layers * dirs, n, p),
                                          (layers * dirs, n, h)]
        for o, e in zip(got, want):
            np.testing.assert_allclose(o.asnumpy(), e, rtol=tol, atol=tol)
    # Shapes are inferred from the data alone, parameters included; training is refused as
    # MXNet 1.9.1's CPU refuses it.
    sym = mx.sym.RNN(mx.sym.var("x"), mx.sym.var("w"), mx.sym.var("h0"), mx.sym.var("c0"),
                     mode="lstm", state_size=h, projection_size=p, num_layers=layers,
                     bidirectional=bidir, state_outputs=True)
    args, outs, _ = sym.infer_shape(x=(t, n, c))
    assert args == [(t, n, c), (nw,), (layers * dirs, n, p), (layers * dirs, n, h)]
    xs = mx.nd.array(x)
    xs.attach_grad()
    with mx.autograd.record():
        y = mx.nd.RNN(xs, mx.nd.array(w), mx.nd.array(h0), mx.nd.array(c0), mode="lstm",
                      state_size=h, projection_size=p, num_layers=layers, bidirectional=bidir)
    with pytest.raises(mx.MXNetError, match="_backward_RNN.*projection_size"):
        y.backward()
        xs.grad.asnumpy()


def test_module_training_decreases_loss():
    # Predict the running mean of a random sequence: (N, T, C) batches, swapped to TNC.
    rs = np.random.RandomState(0)
    n, t, c, h = 64, 6, 2, 8
    x = rs.uniform(-1, 1, (n, t, c)).astype(np.float32)
    y = (np.cumsum(x.sum(axis=2), axis=1) / np.arange(1, t + 1)).astype(np.float32)
    data = mx.sym.Variable("data")
    tnc = mx.sym.transpose(data, axes=(1, 0, 2))
    params = mx.sym.Variable("rnn_parameters",
                             init=mx.init.FusedRNN(mx.init.Uniform(0.2), num_hidden=h,
                                                   num_layers=1, mode="lstm"))
    state = mx.sym.Variable("rnn_state", init=mx.init.Zero())
    cell = mx.sym.Variable("rnn_state_cell", init=mx.init.Zero())
    out = mx.sym.RNN(tnc, params, state, cell, mode="lstm", state_size=h, num_layers=1,
                     name="rnn")
    out = mx.sym.transpose(out, axes=(1, 0, 2))
    pred = mx.sym.FullyConnected(mx.sym.reshape(out, shape=(-1, h)), num_hidden=1, name="fc")
    pred = mx.sym.reshape(pred, shape=(-1, t))
    net = mx.sym.LinearRegressionOutput(pred, mx.sym.Variable("label"), name="lro")
    it = mx.io.NDArrayIter(x, y, batch_size=16, label_name="label")
    mod = mx.mod.Module(net, data_names=["data"], label_names=["label"])
    mod.bind(it.provide_data, it.provide_label)
    mod.init_params(mx.init.Xavier())
    mod.init_optimizer(optimizer="adam", optimizer_params={"learning_rate": 0.02})
    metric = mx.metric.MSE()

    def epoch_loss(train):
        it.reset()
        metric.reset()
        for batch in it:
            mod.forward(batch, is_train=train)
            mod.update_metric(metric, batch.label)
            if train:
                mod.backward()
                mod.update()
        return metric.get()[1]

    first = epoch_loss(False)
    for _ in range(15):
        epoch_loss(True)
    last = epoch_loss(False)
    assert last < 0.3 * first, (first, last)
