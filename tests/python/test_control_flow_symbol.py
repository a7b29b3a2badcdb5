"""Symbolic control flow: `mx.sym.contrib.foreach` builds one `_foreach` node carrying its loop
body as a subgraph. Forward outputs and input gradients are checked against the same loop
unrolled in numpy (with hand-written derivatives) and against `mx.nd.contrib.foreach`; the JSON
layout against a file MXNet 1.9.1 wrote.

Interoperability checked by hand with MXNet 1.9.1 (/work/mxref): the JSON oxnet writes for
`_build_rnn()` is byte-identical to data/foreach_rnn-symbol.json, and MXNet's
`mx.sym.load_json` of oxnet's file binds and gives the outputs embedded below.
"""
import json
import os

import numpy as np
import pytest

import oxnet as mx
from oxnet.base import MXNetError

DATA = os.path.join(os.path.dirname(__file__), "data", "foreach_rnn-symbol.json")

X = np.arange(24, dtype=np.float32).reshape(3, 2, 4) / 10 - 1
W = np.arange(12, dtype=np.float32).reshape(4, 3) / 20 - 0.3
H0 = np.full((2, 3), 0.1, np.float32)
U = np.full((2, 3), 0.5, np.float32)

# MXNet 1.9.1's output for data/foreach_rnn-symbol.json bound to X, H0, W, U (forward with
# is_train=True, then backward with head gradients of ones).
MX_OUT0 = [[[0.09991675615310669] * 3, [0.09991675615310669] * 3],
           [[0.07991579920053482, 0.0898977667093277, 0.09987524151802063],
            [-0.010041584260761738, 0.129775732755661, 0.26833072304725647]],
           [[-0.2585866451263428, 0.044941212981939316, 0.34640976786613464],
            [-0.531918466091156, -0.01511197816580534, 0.5031296014785767]]]
MX_OUT1 = [[-0.1292933225631714, 0.022470606490969658, 0.17320488393306732],
           [-0.265959233045578, -0.00755598908290267, 0.25156480073928833]]
MX_GRAD = {
    "data": [[[0, 0, 0, 0], [0, 0, 0, 0]],
             [[0, 0, 0, 2.080436944961548],
              [-2.558194398880005, -1.0247788429260254, 0.5086368322372437, 2.0420522689819336]],
             [[-2.216576337814331, -0.8878260850906372, 0.4409242272377014, 1.76967453956604],
              [-2.1483254432678223, -0.8586597442626953, 0.43100592494010925, 1.720671534538269]]],
    "h0": [[1.8626835346221924, 1.8683685064315796, 1.8569499254226685],
           [1.8438398838043213, 1.866624116897583, 1.8313628435134888]],
    "w": [[5.236469745635986, 5.495955944061279, 5.2249016761779785],
          [6.1496148109436035, 6.444304466247559, 6.131293773651123],
          [7.062761306762695, 7.392653942108154, 7.037686824798584],
          [8.322844505310059, 8.69021987915039, 8.288717269897461]],
    "u": [[0.6637309193611145, 0.6829155683517456, 0.6888842582702637],
          [0.5243204236030579, 0.742091178894043, 0.9103465676307678]],
}


def _rnn_step(x, states):
    h = states[0]
    w = mx.sym.var("w")
    nh = mx.sym.tanh(mx.sym.dot(x, w) + h * mx.sym.var("u"))
    return [nh * 2], [nh]


def _build_rnn(name):
    data = mx.sym.var("data")
    h0 = mx.sym.var("h0")
    outs, states = mx.sym.contrib.foreach(_rnn_step, mx.sym.relu(data), [h0], name=name)
    return mx.sym.Group([outs[0], states[0]])


def _numpy_rnn(x, w, h0, u):
    """Unrolled forward and gradients (head gradients of ones on both outputs)."""
    r = np.maximum(x, 0)
    hs, outs = [h0], []
    for t in range(x.shape[0]):
        hs.append(np.tanh(r[t] @ w + hs[-1] * u))
        outs.append(2 * hs[-1])
    dh = np.ones_like(h0)  # gradient of the final-state output
    dr, dw, du = np.zeros_like(r), np.zeros_like(w), np.zeros_like(u)
    for t in reversed(range(x.shape[0])):
        dh = dh + 2.0  # from out[t] = 2 h_{t+1}
        dz = dh * (1 - hs[t + 1] ** 2)
        dr[t] = dz @ w.T
        dw += r[t].T @ dz
        du += dz * hs[t]
        dh = dz * u
    grads = {"data": dr * (x > 0), "w": dw, "h0": dh, "u": du}
    return np.stack(outs), hs[-1], grads


def _run(sym, arrays, head_grads=None):
    args = {k: mx.nd.array(v) for k, v in arrays.items()}
    grads = {k: mx.nd.zeros(v.shape) for k, v in arrays.items()}
    ex = sym.bind(mx.cpu(), args, args_grad=grads)
    outs = ex.forward(is_train=True)
    if head_grads is None:
        head_grads = [mx.nd.ones(o.shape) for o in outs]
    ex.backward(head_grads)
    return [o.asnumpy() for o in outs], {k: g.asnumpy() for k, g in grads.items()}


RNN_ARGS = {"data": X, "h0": H0, "w": W, "u": U}


def test_foreach_rnn_matches_numpy_unrolled():
    sym = _build_rnn("rnn")
    assert sym.list_arguments() == ["data", "h0", "w", "u"]
    assert sym.list_outputs() == [sym.list_outputs()[0], sym.list_outputs()[1]]
    outs, grads = _run(sym, RNN_ARGS)
    out, h, g = _numpy_rnn(X, W, H0, U)
    np.testing.assert_allclose(outs[0], out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outs[1], h, rtol=1e-5, atol=1e-6)
    for k in RNN_ARGS:
        np.testing.assert_allclose(grads[k], g[k], rtol=1e-4, atol=1e-5, err_msg=k)


def test_foreach_json_is_mxnets_layout():
    with mx.name.NameManager():
        sym = _build_rnn("rnnjson")
    expect = open(DATA).read().replace("rnn0", "rnnjson0")
    assert sym.tojson() == expect


def test_load_mxnet_written_json_matches_mxnet_values():
    sym = mx.sym.load(DATA)
    assert sym.list_arguments() == ["data", "h0", "w", "u"]
    assert sym.list_outputs() == ["_foreach0_output0", "_foreach0_output1"]
    outs, grads = _run(sym, RNN_ARGS)
    np.testing.assert_allclose(outs[0], MX_OUT0, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outs[1], MX_OUT1, rtol=1e-5, atol=1e-6)
    for k, v in MX_GRAD.items():
        np.testing.assert_allclose(grads[k], v, rtol=1e-4, atol=1e-5, err_msg=k)


def test_json_round_trip():
    sym = mx.sym.load(DATA)
    text = sym.tojson()
    assert text == open(DATA).read()
    back = mx.sym.load_json(text)
    assert back.tojson() == text
    a, ga = _run(sym, RNN_ARGS)
    b, gb = _run(back, RNN_ARGS)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    for k in ga:
        np.testing.assert_array_equal(ga[k], gb[k])


def test_foreach_multiple_data_and_states_and_nd_version():
    rng = np.random.RandomState(0)
    a = rng.uniform(-1, 1, (4, 3)).astype(np.float32)
    b = rng.uniform(-1, 1, (4, 3)).astype(np.float32)
    s1 = rng.uniform(-1, 1, (3,)).astype(np.float32)
    s2 = rng.uniform(-1, 1, (3,)).astype(np.float32)

    def step(xs, states):
        x, y = xs
        p, q = states
        np_ = p * x + q
        nq = q * y - p
        return [np_ + nq, np_ * y], [np_, nq]

    outs, states = mx.sym.contrib.foreach(
        step, [mx.sym.var("a"), mx.sym.var("b")], [mx.sym.var("s1"), mx.sym.var("s2")])
    sym = mx.sym.Group(outs + states)
    arrays = {"a": a, "b": b, "s1": s1, "s2": s2}
    rng_hg = [rng.uniform(-1, 1, s).astype(np.float32) for s in [(4, 3), (4, 3), (3,), (3,)]]
    got, grads = _run(sym, arrays, [mx.nd.array(h) for h in rng_hg])

    # numpy: forward, then reverse-mode by hand.
    p, q = [s1], [s2]
    o1, o2 = [], []
    for t in range(4):
        p.append(p[-1] * a[t] + q[-1])
        q.append(q[-1] * b[t] - p[-2])
        o1.append(p[-1] + q[-1])
        o2.append(p[-1] * b[t])
    np.testing.assert_allclose(got[0], np.stack(o1), rtol=1e-5)
    np.testing.assert_allclose(got[1], np.stack(o2), rtol=1e-5)
    np.testing.assert_allclose(got[2], p[-1], rtol=1e-5)
    np.testing.assert_allclose(got[3], q[-1], rtol=1e-5)
    g1, g2, dp, dq = rng_hg
    da, db = np.zeros_like(a), np.zeros_like(b)
    for t in reversed(range(4)):
        dpn = dp + g1[t] + g2[t] * b[t]  # gradient of p_{t+1}
        dqn = dq + g1[t]                 # gradient of q_{t+1}
        db[t] = g2[t] * p[t + 1] + dqn * q[t]
        da[t] = dpn * p[t]
        dp = dpn * a[t] - dqn
        dq = dpn + dqn * b[t]
    for k, v in (("a", da), ("b", db), ("s1", dp), ("s2", dq)):
        np.testing.assert_allclose(grads[k], v, rtol=1e-4, atol=1e-6, err_msg=k)

    # the imperative version agrees
    nd_outs, nd_states = mx.nd.contrib.foreach(
        lambda xs, st: step(xs, st), [mx.nd.array(a), mx.nd.array(b)],
        [mx.nd.array(s1), mx.nd.array(s2)])
    for x, y in zip(got, list(nd_outs) + list(nd_states)):
        np.testing.assert_allclose(x, y.asnumpy(), rtol=1e-6)


def test_foreach_captures_outer_computation_as_input():
    # The body reads `fc` (computed outside the loop) and a free variable `bias`: both become
    # inputs of the node, the outer op through a cut variable named after its output.
    x = mx.sym.var("x")
    outer = mx.sym.exp(mx.sym.var("z"), name="outer")
    outs, _ = mx.sym.contrib.foreach(
        lambda d, s: ([d * outer + mx.sym.var("bias")], [s[0] + d]), x, [mx.sym.var("s")])
    sym = outs[0]
    assert sym.list_arguments() == ["x", "s", "z", "bias"]
    body = json.loads(sym.tojson())["nodes"][-1]["subgraphs"][0]
    names = [n["name"] for n in body["nodes"] if n["op"] == "null"]
    assert "outer_output" in names
    xv = np.arange(6, dtype=np.float32).reshape(3, 2)
    zv = np.array([0.5, -1.0], np.float32)
    bv = np.array([0.25, 2.0], np.float32)
    sv = np.zeros(2, np.float32)
    (o,), g = _run(sym, {"x": xv, "s": sv, "z": zv, "bias": bv})
    np.testing.assert_allclose(o, xv * np.exp(zv) + bv, rtol=1e-6)
    np.testing.assert_allclose(g["z"], xv.sum(0) * np.exp(zv), rtol=1e-5)
    np.testing.assert_allclose(g["bias"], np.full(2, 3.0), rtol=1e-6)
    np.testing.assert_allclose(g["x"], np.tile(np.exp(zv), (3, 1)), rtol=1e-6)


def test_simple_bind_infers_shapes_through_body():
    sym = _build_rnn("rnnshape")
    ex = sym.simple_bind(mx.cpu(), data=(3, 2, 4), h0=(2, 3), w=(4, 3), u=(2, 3))
    assert [o.shape for o in ex.outputs] == [(3, 2, 3), (2, 3)]
    _, out_shapes, _ = sym.infer_shape(data=(5, 2, 4), h0=(2, 3), w=(4, 3), u=(2, 3))
    assert out_shapes == [(5, 2, 3), (2, 3)]


def _mxnet_graph():
    return json.loads(open(DATA).read())


def _load_err(graph):
    with pytest.raises(MXNetError) as e:
        mx.sym.load_json(json.dumps(graph))
    return str(e.value)


def test_malformed_subgraph_json_errors():
    g = _mxnet_graph()
    g["nodes"][5]["subgraphs"] = {"nodes": []}
    assert "subgraphs" in _load_err(g)

    g = _mxnet_graph()
    del g["nodes"][5]["subgraphs"][0]["heads"]
    assert "subgraph 0" in _load_err(g)

    g = _mxnet_graph()
    del g["nodes"][5]["subgraphs"]
    assert "subgraph" in _load_err(g)

    g = _mxnet_graph()
    g["nodes"][5]["attrs"]["remain_locs"] = "[1, 1]"
    msg = _load_err(g)
    assert "remain_locs" in msg and "_foreach" in msg

    g = _mxnet_graph()
    g["nodes"][5]["attrs"]["num_outputs"] = "3"
    assert "num_outputs" in _load_err(g)

    g = _mxnet_graph()
    g["nodes"][5]["inputs"] = g["nodes"][5]["inputs"][:3]
    assert "input" in _load_err(g)


def test_foreach_shape_errors_name_the_op():
    sym = _build_rnn("rnnbad")
    with pytest.raises(MXNetError) as e:
        sym.infer_shape(data=(3, 2, 4), h0=(2, 3), w=(5, 3), u=(2, 3))
    assert "_foreach" in str(e.value) and "dot" in str(e.value)


# ---------------------------------------------------------------------------------------------
# cond

COND_DATA = os.path.join(os.path.dirname(__file__), "data", "cond_branches-symbol.json")
B = np.array([0.3, -0.7, 1.1], np.float32)
COND_HG = [np.array([1.0, 2.0, 3.0], np.float32), np.array([0.5, 0.25, -1.0], np.float32)]
# MXNet 1.9.1 on data/cond_branches-symbol.json with b=B, head gradients COND_HG:
# (a, outputs, gradients of a and b) for a taking each branch.
MX_COND = [
    ([1.0, 2.0, -0.5],
     [[0.30000001192092896, -1.399999976158142, -0.550000011920929],
      [1.2999999523162842, 0.30000001192092896, 2.0999999046325684]],
     {"a": [0.30000001192092896, -1.399999976158142, 3.3000001907348633],
      "b": [1.5, 4.25, -2.5]}),
    ([-1.0, 0.5, -2.0],
     [[-1.2999999523162842, 1.2000000476837158, -3.0999999046325684],
      [1.3498588800430298, 0.49658530950546265, 3.0041661262512207]],
     {"a": [1.0, 2.0, 3.0],
      "b": [-0.3250705599784851, -1.8758536577224731, -6.004166126251221]}),
]


def _build_cond(name="br"):
    a, b = mx.sym.var("a"), mx.sym.var("b")
    out = mx.sym.contrib.cond(mx.sym.sum(a) > 0, lambda: [a * b, b + 1],
                              lambda: [a - b, mx.sym.exp(b)], name=name)
    return mx.sym.Group(out)


@pytest.mark.parametrize("which", [0, 1])
def test_cond_both_branches_match_numpy(which):
    av = np.array(MX_COND[which][0], np.float32)
    outs, grads = _run(_build_cond(), {"a": av, "b": B}, [mx.nd.array(h) for h in COND_HG])
    if av.sum() > 0:
        exp_out = [av * B, B + 1]
        exp_g = {"a": COND_HG[0] * B, "b": COND_HG[0] * av + COND_HG[1]}
    else:
        exp_out = [av - B, np.exp(B)]
        exp_g = {"a": COND_HG[0], "b": -COND_HG[0] + COND_HG[1] * np.exp(B)}
    for o, e in zip(outs, exp_out):
        np.testing.assert_allclose(o, e, rtol=1e-5)
    for k in exp_g:
        np.testing.assert_allclose(grads[k], exp_g[k], rtol=1e-5, err_msg=k)


def test_cond_gradient_only_through_taken_branch():
    # `c` is read only by the else branch: taking the then branch gives it a zero gradient.
    a, c = mx.sym.var("a"), mx.sym.var("c")
    out = mx.sym.contrib.cond(mx.sym.sum(a) > 0, lambda: a * 3, lambda: a * c)
    av, cv = np.array([1.0, 2.0], np.float32), np.array([5.0, 7.0], np.float32)
    (o,), g = _run(out, {"a": av, "c": cv})
    np.testing.assert_allclose(o, av * 3)
    np.testing.assert_allclose(g["a"], [3, 3])
    np.testing.assert_allclose(g["c"], [0, 0])
    (o,), g = _run(out, {"a": -av, "c": cv})
    np.testing.assert_allclose(o, -av * cv)
    np.testing.assert_allclose(g["a"], cv)
    np.testing.assert_allclose(g["c"], -av)


def test_cond_json_layout_and_mxnet_values():
    with mx.name.NameManager():
        sym = _build_cond("brjson")
    assert sym.tojson() == open(COND_DATA).read().replace('"br_', '"brjson_')
    loaded = mx.sym.load(COND_DATA)
    assert mx.sym.load_json(loaded.tojson()).tojson() == open(COND_DATA).read()
    for av, mx_out, mx_grad in MX_COND:
        outs, grads = _run(loaded, {"a": np.array(av, np.float32), "b": B},
                           [mx.nd.array(h) for h in COND_HG])
        for o, e in zip(outs, mx_out):
            np.testing.assert_allclose(o, e, rtol=1e-5)
        for k, v in mx_grad.items():
            np.testing.assert_allclose(grads[k], v, rtol=1e-5, err_msg=k)


def test_cond_branch_shape_mismatch_is_an_error():
    a = mx.sym.var("a")
    out = mx.sym.contrib.cond(mx.sym.sum(a) > 0, lambda: a, lambda: mx.sym.sum(a))
    with pytest.raises(MXNetError) as e:
        out.infer_shape(a=(3,))
    assert "_cond" in str(e.value) and "else branch" in str(e.value)


# ---------------------------------------------------------------------------------------------
# while_loop

WHILE_DATA = os.path.join(os.path.dirname(__file__), "data", "while_loop-symbol.json")
WHILE_ARGS = {"i": np.array([1.0], np.float32), "s": np.array([0.5, 1.0], np.float32),
              "w": np.array([1.5, 2.0], np.float32)}
# MXNet 1.9.1 on data/while_loop-symbol.json (2 of 6 steps run): the rows written by the steps
# (MXNet leaves the 4 padding rows uninitialized), the final loop variables, and the input
# gradients for head gradients arange(size) * 0.1 + 0.5 on every output.
MX_WHILE_ROWS = [[[0.75, 2.0], [2.625, 6.0]], [[2.0], [3.0]]]
MX_WHILE_FINAL = [[3.0], [4.625, 8.0]]
MX_WHILE_GRAD = {"i": [7.300000190734863], "s": [3.450000286102295, 6.800000190734863],
                 "w": [3.250000238418579, 7.600000381469727]}


def _build_while(name="wl"):
    i, s, w = mx.sym.var("i"), mx.sym.var("s"), mx.sym.var("w")
    outs, fin = mx.sym.contrib.while_loop(
        lambda i, s: mx.sym.sum(s) < 10,
        lambda i, s: ([s * w, i + 1], [i + 1, mx.sym.broadcast_add(s * w, i)]),
        [i, s], max_iterations=6, name=name)
    return mx.sym.Group(outs + fin)


def _while_head_grads(shapes):
    return [mx.nd.array(np.arange(int(np.prod(s)), dtype=np.float32).reshape(s) * 0.1 + 0.5)
            for s in shapes]


def _numpy_while(i, s, w, hg, max_it=6):
    """Unrolled loop and its reverse pass (hand derivatives)."""
    ins = []
    while len(ins) < max_it and s.sum() < 10:
        ins.append((i, s))
        i, s = i + 1, s * w + i
    n = len(ins)
    out0 = np.zeros((max_it, 2), np.float32)
    out1 = np.zeros((max_it, 1), np.float32)
    for t, (it, st) in enumerate(ins):
        out0[t], out1[t] = st * w, it + 1
    di, ds, dw = hg[2].copy(), hg[3].copy(), np.zeros_like(w)
    for t in reversed(range(n)):
        it, st = ins[t]
        g0, g1 = hg[0][t], hg[1][t]
        # outputs of step t: y0 = s*w, y1 = i+1, i' = i+1, s' = s*w + i
        dw += (g0 + ds) * st
        ds_new = (g0 + ds) * w
        di = g1 + di + ds.sum()
        ds = ds_new
    return [out0, out1, i, s], {"i": di, "s": ds, "w": dw}, n


def test_while_loop_matches_numpy_and_pads_with_zeros():
    sym = _build_while()
    assert sym.list_arguments() == ["s", "w", "i"]
    shapes = [(6, 2), (6, 1), (1,), (2,)]
    hg = _while_head_grads(shapes)
    outs, grads = _run(sym, WHILE_ARGS, hg)
    exp, exp_g, n = _numpy_while(WHILE_ARGS["i"], WHILE_ARGS["s"], WHILE_ARGS["w"],
                                 [h.asnumpy() for h in hg])
    assert n == 2
    for o, e in zip(outs, exp):
        np.testing.assert_allclose(o, e, rtol=1e-5)
    assert not outs[0][n:].any() and not outs[1][n:].any()
    for k in exp_g:
        np.testing.assert_allclose(grads[k], exp_g[k], rtol=1e-5, err_msg=k)


def test_while_loop_stops_at_max_iterations():
    i = mx.sym.var("i")
    outs, fin = mx.sym.contrib.while_loop(lambda i: i < 100, lambda i: (i * 2, i + 1), [i],
                                          max_iterations=3)
    (o, f), g = _run(mx.sym.Group([outs, fin[0]] if isinstance(outs, mx.sym.Symbol)
                                  else outs + fin), {"i": np.array([5.0], np.float32)})
    np.testing.assert_allclose(o, [[10.0], [12.0], [14.0]])
    np.testing.assert_allclose(f, [8.0])
    # out[t] = 2 (i + t) for 3 steps, final = i + 3 (head gradients of ones)
    np.testing.assert_allclose(g["i"], [3 * 2 + 1.0])
    # MXNet 1.9.1 refuses max_iterations=0 (its parameter's lower bound is 1).
    with pytest.raises(mx.base.MXNetError, match="max_iterations should be greater equal to 1"):
        mx.sym.contrib.while_loop(lambda i: i < 100, lambda i: (i * 2, i + 1), [i],
                                  max_iterations=0)


def test_while_loop_json_and_mxnet_values():
    with mx.name.NameManager():
        sym = _build_while("wljson")
    assert sym.tojson() == open(WHILE_DATA).read().replace('"wl_', '"wljson_')
    loaded = mx.sym.load(WHILE_DATA)
    assert mx.sym.load_json(loaded.tojson()).tojson() == open(WHILE_DATA).read()
    hg = _while_head_grads([(6, 2), (6, 1), (1,), (2,)])
    outs, grads = _run(loaded, WHILE_ARGS, hg)
    np.testing.assert_allclose(outs[0][:2], MX_WHILE_ROWS[0], rtol=1e-6)
    np.testing.assert_allclose(outs[1][:2], MX_WHILE_ROWS[1], rtol=1e-6)
    np.testing.assert_allclose(outs[2], MX_WHILE_FINAL[0], rtol=1e-6)
    np.testing.assert_allclose(outs[3], MX_WHILE_FINAL[1], rtol=1e-6)
    for k, v in MX_WHILE_GRAD.items():
        np.testing.assert_allclose(grads[k], v, rtol=1e-5, err_msg=k)


def test_malformed_while_and_cond_json_errors():
    g = json.loads(open(WHILE_DATA).read())
    node = [n for n in g["nodes"] if n["op"] == "_while_loop"][0]
    node["subgraphs"] = node["subgraphs"][:1]
    assert "2 subgraphs" in _load_err(g)
    g = json.loads(open(COND_DATA).read())
    node = [n for n in g["nodes"] if n["op"] == "_cond"][0]
    node["attrs"]["then_input_locs"] = "[1, 7]"
    assert "then_input_locs" in _load_err(g)


# ---------------------------------------------------------------------------------------------
# training through foreach


def _fc_rnn():
    def step(x, states):
        h = mx.sym.tanh(mx.sym.FullyConnected(x, num_hidden=5, name="i2h")
                        + mx.sym.FullyConnected(states[0], num_hidden=5, name="h2h"))
        return [h], [h]
    data = mx.sym.transpose(mx.sym.var("data"), axes=(1, 0, 2))  # (batch, time, feature) in
    _, st = mx.sym.contrib.foreach(step, data, [mx.sym.var("h0")])
    fc = mx.sym.FullyConnected(st[0], num_hidden=1, name="fc")
    return mx.sym.LinearRegressionOutput(fc, name="lro")


def test_weights_inside_the_body_are_inferred():
    # MXNet 1.9.1 infers the same shapes for this graph (data (7, 4, 3) time-major there).
    out = _fc_rnn()
    assert out.list_arguments() == ["data", "h0", "i2h_weight", "i2h_bias", "h2h_weight",
                                    "h2h_bias", "fc_weight", "fc_bias", "lro_label"]
    args, outs, _ = out.infer_shape(data=(4, 7, 3), h0=(4, 5))
    assert args[2:8] == [(5, 3), (5,), (5, 5), (5,), (1, 5), (1,)]
    assert outs == [(4, 1)]


@pytest.mark.filterwarnings("ignore:Parameters already initialized")
def test_module_fit_trains_an_rnn_written_with_foreach():
    rng = np.random.RandomState(1)
    x = rng.uniform(-1, 1, (64, 6, 3)).astype(np.float32)
    y = (x[:, :, 0].sum(1) * 0.3 + x[:, -1, 1] * 0.5).reshape(64, 1).astype(np.float32)
    it = mx.io.NDArrayIter({"data": x, "h0": np.zeros((64, 5), np.float32)}, {"lro_label": y},
                           batch_size=16)
    mod = mx.mod.Module(_fc_rnn(), data_names=["data", "h0"], label_names=["lro_label"])
    mod.bind(it.provide_data, it.provide_label)
    mx.random.seed(0)
    mod.init_params(mx.init.Xavier())

    def mse():
        it.reset()
        pred = mod.predict(it).asnumpy()
        return float(((pred - y) ** 2).mean())

    before = mse()
    it.reset()
    mod.fit(it, num_epoch=30, optimizer="adam", optimizer_params={"learning_rate": 0.02})
    after = mse()
    assert after < 0.25 * before, (before, after)


def _bind_run(sym, args, grads=True):
    ex = sym.bind(mx.cpu(), args={k: mx.nd.array(v) for k, v in args.items()},
                  args_grad={k: mx.nd.zeros(np.shape(v)) for k, v in args.items()}
                  if grads else None)
    ex.forward(is_train=grads)
    return ex


def test_nested_foreach_builds_and_matches_numpy():
    # The inner loop is built inside the outer body: its node carries the outer subgraph's
    # name (as every node built in an AttrScope does), so it stays inside the outer body.
    def inner_step(x, states):
        out = x * 2 + states[0]
        return out, [out]

    def outer_step(row, states):
        outs, _ = mx.sym.contrib.foreach(inner_step, row, states)
        total = mx.sym.sum(outs, axis=0)
        return total, [total]

    out, _ = mx.sym.contrib.foreach(outer_step, mx.sym.var("v1"), [mx.sym.var("v2")])
    v1 = np.arange(12, dtype=np.float32).reshape(2, 3, 2) / 4
    v2 = np.array([1.0, -1.0], np.float32)
    want, state = [], v2
    for row in v1:
        acc, outs = state, []
        for x in row:
            acc = x * 2 + acc
            outs.append(acc)
        state = np.sum(outs, axis=0)
        want.append(state)
    ex = _bind_run(out, {"v1": v1, "v2": v2}, grads=False)
    np.testing.assert_allclose(ex.outputs[0].asnumpy(), np.array(want), rtol=1e-6)


def test_control_flow_nodes_carry_the_scope_attributes():
    with mx.AttrScope(ctx_group="dev1", __custom__="x"):
        out, _ = mx.sym.contrib.foreach(lambda d, s: (d + s[0], [s[0]]), mx.sym.var("d"),
                                        [mx.sym.var("s")])
    attrs = out.list_attr()
    assert attrs["__ctx_group__"] == "dev1" and attrs["__custom__"] == "x"


def test_foreach_rows_of_1d_data_have_shape_1_as_mxnet():
    # MXNet 1.9.1: each step of 1-D data sees shape (1,), so the stacked output is (3, 1).
    d = mx.sym.var("d")
    out, st = mx.sym.contrib.foreach(lambda x, s: (x * s[0] + 1, [s[0] + x]), d,
                                     [mx.sym.var("s")])
    ex = _bind_run(mx.sym.Group([out, st[0]]), {"d": np.array([1.0, 2.0, 3.0], np.float32),
                                                 "s": np.array([2.0], np.float32)})
    assert ex.outputs[0].shape == (3, 1)
    # states 2, 3, 5: outputs 1*2+1, 2*3+1, 3*5+1; final state 8.
    np.testing.assert_allclose(ex.outputs[0].asnumpy()[:, 0], [3.0, 7.0, 16.0])
    np.testing.assert_allclose(ex.outputs[1].asnumpy(), [8.0])
    ex.backward([mx.nd.ones((3, 1)), mx.nd.zeros((1,))])
    # d out_t / d d_t = s_t (2, 3, 5), plus through later states: d_t raises s_{t'>t}.
    # dL/dd_0 = 2 + d1 + d2 = 2 + 2 + 3 = 7; dL/dd_1 = 3 + d2 = 6; dL/dd_2 = 5.
    np.testing.assert_allclose(ex.grad_dict["d"].asnumpy(), [7.0, 6.0, 5.0])


def test_unused_loop_input_is_an_assertion_error_as_in_mxnet():
    with pytest.raises(AssertionError, match="have to be used in the loop body"):
        mx.sym.contrib.foreach(lambda d, s: (s[0] + 1, [s[0]]), mx.sym.var("d"),
                               [mx.sym.var("s")])


def test_subgraph_name_counters_live_on_attrscope():
    saved = mx.AttrScope._subgraph_names
    mx.AttrScope._subgraph_names = __import__("collections").defaultdict(int)
    try:
        for want in ("foreach0", "foreach1"):
            out, _ = mx.sym.contrib.foreach(lambda d, s: (d + s[0], [s[0]]), mx.sym.var("d"),
                                            [mx.sym.var("s")])
            body = json.loads(out.tojson())["nodes"][-1]["subgraphs"][0]
            assert all(n.get("attrs", {}).get("__subgraph_name__") == want
                       for n in body["nodes"] if n["op"] != "null")
        assert mx.AttrScope._subgraph_names["foreach"] == 2
    finally:
        mx.AttrScope._subgraph_names = saved
