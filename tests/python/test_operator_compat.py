"""Legacy (`*_v1`) and internal graph operators, against values MXNet 1.9.1 printed for the
same inputs (compat_mxnet_ref.py), numpy, and symbol JSON files MXNet 1.9.1 wrote, loaded
and run here."""
import json

import numpy as np
import pytest

import oxnet as mx
from oxnet import autograd as ag
from compat_mxnet_ref import REF

I = mx.nd._internal


def _arr(v):
    return mx.nd.array(np.array(v, dtype=np.float32))


def _close(got, want, rtol=1e-5, atol=1e-5):
    np.testing.assert_allclose(np.asarray(got, np.float64), np.array(want, np.float64),
                               rtol=rtol, atol=atol)


def _attrs(a):
    return {k: (eval(v) if v[:1] in "(0123456789" or v in ("True", "False") else v)
            for k, v in a.items()}


@pytest.mark.parametrize("case", range(len(REF["pool"])))
def test_pooling_v1_forward_and_gradient_match_mxnet(case):
    c = REF["pool"][case]
    x = _arr(REF["pool_x"])
    x.attach_grad()
    with ag.record():
        y = mx.nd.Pooling_v1(x, **_attrs(c["attrs"]))
    y.backward(_arr(c["head"]))
    _close(y.asnumpy(), c["out"])
    _close(x.grad.asnumpy(), c["grad"])


def test_pooling_v1_pads_with_zeros_unlike_pooling():
    # All-negative input: v1's max over a padded border sees the zero padding.
    x = mx.nd.array(-np.arange(1, 17, dtype=np.float32).reshape(1, 1, 4, 4))
    v1 = mx.nd.Pooling_v1(x, kernel=(2, 2), stride=(2, 2), pad=(1, 1)).asnumpy()
    new = mx.nd.Pooling(x, kernel=(2, 2), stride=(2, 2), pad=(1, 1)).asnumpy()
    assert v1[0, 0, 0, 0] == 0.0 and new[0, 0, 0, 0] == -1.0
    s = mx.sym.Pooling_v1(mx.sym.var("data"), kernel=(2, 2), name="p")
    assert s.list_outputs() == ["p_output"]
    assert s.infer_shape(data=(1, 1, 4, 4))[1] == [(1, 1, 3, 3)]


def test_v1_ops_reject_bad_input_clearly():
    x = mx.nd.ones((1, 1, 4, 4))
    with pytest.raises(NotImplementedError, match="Pooling_v1.*3D kernel"):
        mx.nd.Pooling_v1(mx.nd.ones((1, 1, 3, 3, 3)), kernel=(2, 2, 2)).wait_to_read()
    with pytest.raises(mx.base.MXNetError, match="Pooling_v1.*4D"):
        mx.nd.Pooling_v1(mx.nd.ones((1, 1, 5)), kernel=(2, 2)).wait_to_read()
    with pytest.raises(mx.base.MXNetError, match="Pooling_v1.*kernel size"):
        mx.nd.Pooling_v1(x, kernel=(7, 2)).wait_to_read()
    with pytest.raises(mx.base.MXNetError, match="1D convolution.*Convolution_v1"):
        mx.nd.Convolution_v1(mx.nd.ones((1, 1, 5)), mx.nd.ones((1, 1, 2)), mx.nd.ones((1,)),
                             kernel=(2,), num_filter=1).wait_to_read()
    with pytest.raises(mx.base.MXNetError, match="Convolution_v1"):
        mx.nd.Convolution_v1(x, mx.nd.ones((2, 3, 2, 2)), mx.nd.ones((2,)), kernel=(2, 2),
                             num_filter=2).wait_to_read()
    with pytest.raises(mx.base.MXNetError, match="BatchNorm_v1"):
        mx.nd.BatchNorm_v1(x, mx.nd.ones((2,)), mx.nd.ones((2,)), mx.nd.zeros((1,)),
                           mx.nd.ones((1,))).wait_to_read()


def test_convolution_v1_matches_mxnet():
    c = REF["conv"]
    x, w, b = _arr(c["data"]), _arr(c["weight"]), _arr(c["bias"])
    for a in (x, w, b):
        a.attach_grad()
    with ag.record():
        y = mx.nd.Convolution_v1(x, w, b, kernel=(3, 2), num_filter=2, stride=(2, 1), pad=(1, 0))
    y.backward(_arr(c["head"]))
    _close(y.asnumpy(), c["out"], rtol=1e-4)
    for a, k in ((x, "data"), (w, "c_weight"), (b, "c_bias")):
        _close(a.grad.asnumpy(), c["grad"][k], rtol=1e-4)


def _bind(sym, args, aux, wrt):
    shapes = {k: np.array(v).shape for k, v in args.items()}
    req = {k: ("write" if k in wrt else "null") for k in sym.list_arguments()}
    ex = sym.simple_bind(mx.cpu(), grad_req=req, **shapes)
    for k, v in args.items():
        ex.arg_dict[k][:] = _arr(v)
    for k, v in aux.items():
        ex.aux_dict[k][:] = _arr(v)
    return ex


@pytest.mark.parametrize("case", range(len(REF["bn"])))
def test_batch_norm_variants_match_mxnet(case):
    c, i = REF["bn"][case], REF["bn_in"]
    f = getattr(mx.sym, c["op"], None) or getattr(mx.sym.contrib, c["op"].replace("_contrib_", ""))
    s = f(mx.sym.var("data"), name="bn", output_mean_var=True, **_attrs(c["attrs"]))
    assert s.list_arguments() == ["data", "bn_gamma", "bn_beta"]
    assert s.list_auxiliary_states() == ["bn_moving_mean", "bn_moving_var"]
    assert s.list_outputs() == ["bn_output", "bn_mean", "bn_var"]
    ex = _bind(s, {"data": i["data"], "bn_gamma": i["gamma"], "bn_beta": i["beta"]},
               {"bn_moving_mean": i["moving_mean"], "bn_moving_var": i["moving_var"]},
               ("data", "bn_gamma", "bn_beta"))
    outs = ex.forward(is_train=c["train"])
    for o, want in zip(outs, c["out"]):
        _close(o.asnumpy(), want, rtol=1e-4)
    ex.backward([_arr(i["head"]), mx.nd.zeros((3,)), mx.nd.zeros((3,))])
    for k, want in c["grad"].items():
        _close(ex.grad_dict[k].asnumpy(), want, rtol=1e-4, atol=1e-5)
    for k, want in c["aux_after"].items():
        _close(ex.aux_dict[k].asnumpy(), want, rtol=1e-5)
    _close(ex.arg_dict["bn_gamma"].asnumpy(), c["gamma_after"])


def test_identity_attach_kl_sparse_reg_matches_mxnet():
    k = REF["kl"]
    s = mx.sym.IdentityAttachKLSparseReg(mx.sym.var("data"), name="kl", sparseness_target=0.2,
                                         penalty=0.01, momentum=0.8)
    assert s.list_arguments() == ["data"] and s.list_auxiliary_states() == ["kl_moving_avg"]
    assert s.infer_shape(data=(4, 3))[2] == [(3,)]
    ex = _bind(s, {"data": k["data"]}, {"kl_moving_avg": [0.5] * 3}, ("data",))
    for step in k["steps"]:
        out = ex.forward(is_train=True)[0]
        ex.backward([_arr(k["head"])])
        _close(out.asnumpy(), step["out"])
        _close(ex.grad_dict["data"].asnumpy(), step["grad"], rtol=1e-4)
        _close(ex.aux_dict["kl_moving_avg"].asnumpy(), step["moving_avg"], rtol=1e-5)


@pytest.mark.parametrize("name", sorted(REF["graphs"]))
def test_graphs_written_by_mxnet_load_and_run(name):
    g = REF["graphs"][name]
    sym = mx.sym.load_json(g["json"])
    wrt = g.get("wrt", ())
    ex = _bind(sym, g["args"], g["aux"], wrt)
    if "infer" in g:
        for o, want in zip(ex.forward(is_train=False), g["infer"]):
            _close(o.asnumpy(), want, rtol=1e-4)
    if "train" in g:
        t = g["train"]
        ex = _bind(sym, g["args"], g["aux"], wrt)
        outs = ex.forward(is_train=True)
        for o, want in zip(outs, t["out"]):
            _close(o.asnumpy(), want, rtol=1e-4)
        heads = g.get("heads") or [g["head"]]
        ex.backward([_arr(h) for h in heads])
        for k, want in t["grad"].items():
            _close(ex.grad_dict[k].asnumpy(), want, rtol=1e-4, atol=1e-5)
        for k, want in t["aux_after"].items():
            _close(ex.aux_dict[k].asnumpy(), want, rtol=1e-4, atol=1e-6)
    # Written back, the graph names the same ops.
    def ops(j):
        return sorted(n["op"] for n in json.loads(j)["nodes"])

    assert ops(sym.tojson()) == ops(g["json"])


def test_rnn_param_concat_infers_unknown_parameter_sizes():
    v = [mx.sym.var(n) for n in "abc"]
    s = mx.sym.elemwise_add(mx.sym._internal._rnn_param_concat(*v, num_args=3, dim=1),
                            mx.sym.var("o"))
    # MXNet 1.9.1 printed these shapes for the same calls.
    args, outs, _ = s.infer_shape_partial(a=(2, 3), b=(2, 0), c=(2, 5), o=(2, 12))
    assert args == [(2, 3), (2, 4), (2, 5), (2, 12)] and outs == [(2, 12)]
    args, _, _ = s.infer_shape_partial(a=(2, 3), b=(2, 0), c=(2, 0), o=(2, 11))
    assert args == [(2, 3), (2, 4), (2, 4), (2, 11)]
    y = I._rnn_param_concat(mx.nd.ones((2, 2)), mx.nd.zeros((2, 1)), num_args=2)
    np.testing.assert_array_equal(y.asnumpy(), [[1, 1, 0], [1, 1, 0]])


def test_square_sum_and_small_internal_ops_against_numpy():
    x = np.random.uniform(-2, 2, (3, 4, 2)).astype(np.float32)
    for kw, axes in [({}, None), (dict(axis=1), 1), (dict(axis=(0, 2), keepdims=True), (0, 2)),
                     (dict(axis=1, exclude=True), (0, 2))]:
        want = (x.astype(np.float64) ** 2).sum(axis=axes, keepdims=kw.get("keepdims", False))
        got = I._square_sum(mx.nd.array(x), **kw).asnumpy()
        _close(got, np.atleast_1d(want), rtol=1e-5)
    a = mx.nd.array(x)
    a.attach_grad()
    with ag.record():
        y = I._square_sum(a, axis=1)
    y.backward(mx.nd.ones_like(y))
    _close(a.grad.asnumpy(), 2 * x)
    z = I._zeros_without_dtype(shape=(2, 3))
    assert z.dtype == np.float32 and not z.asnumpy().any()
    b, c = mx.nd.ones((2,)), mx.nd.ones((3,), dtype="int32")
    mx.nd.reset_arrays(b, c, num_arrays=2)
    assert not b.asnumpy().any() and not c.asnumpy().any()
    _close(I._scatter_elemwise_div(mx.nd.array(x), mx.nd.array(x + 3)).asnumpy(), x / (x + 3))
    w = np.random.uniform(-1, 1, (4, 3)).astype(np.float32)
    e = mx.nd.contrib.SparseEmbedding(mx.nd.array([[0, 3], [2, 2]]), mx.nd.array(w), input_dim=4,
                                      output_dim=3)
    _close(e.asnumpy(), w[[[0, 3], [2, 2]]])


def test_cast_storage_keeps_sparse_python_arrays_and_runs_in_graphs():
    x = np.array([[0, 1, 0], [2, 0, 3], [0, 0, 0]], np.float32)
    csr = mx.nd.cast_storage(mx.nd.array(x), stype="csr")
    assert csr.stype == "csr"
    np.testing.assert_array_equal(csr.indptr.asnumpy(), [0, 1, 3, 3])
    rsp = mx.nd.array(x).tostype("row_sparse")
    assert rsp.stype == "row_sparse"
    np.testing.assert_array_equal(rsp.indices.asnumpy(), [0, 1])
    s = mx.sym.cast_storage(mx.sym.var("d"), stype="row_sparse")
    ex = s.bind(mx.cpu(), {"d": mx.nd.array(x)})
    np.testing.assert_array_equal(ex.forward()[0].asnumpy(), x)
