"""mx.nd.linalg / mx.sym.linalg: forward against numpy, gradients against finite differences
and MXNet 1.9.1's printed values, symbol shapes, names and JSON."""
import json

import numpy as np
import pytest

import oxnet as mx

L = mx.nd.linalg
RNG = np.random.RandomState(7)
A3 = np.array([[4., 1, 0.5], [1, 3, 0.2], [0.5, 0.2, 2]])


def spd(*lead, n=3):
    b = RNG.uniform(-1, 1, lead + (n, n))
    return b @ np.swapaxes(b, -1, -2) + n * np.eye(n)


def nd(x, dtype="float64"):
    return mx.nd.array(x, dtype=dtype)


def grad_of(f, *xs, heads=None):
    """Input gradients of sum_k <f(xs)_k, heads_k> through mx.autograd."""
    arrs = [nd(x) for x in xs]
    for a in arrs:
        a.attach_grad()
    with mx.autograd.record():
        y = f(*arrs)
        ys = list(y) if isinstance(y, (list, tuple)) else [y]
        hs = heads or [np.arange(1, o.size + 1).reshape(o.shape) * (k + 1) for k, o in enumerate(ys)]
        loss = sum((o * nd(h)).sum() for o, h in zip(ys, hs))
    loss.backward()
    return [a.grad.asnumpy() for a in arrs], hs


def numeric(f, xs, hs, i, sym=False, eps=1e-6):
    """Central differences of sum_k <f(xs)_k, heads_k> in input i; with `sym`, (r, c) and
    (c, r) move together (ops reading one triangle of a symmetric matrix)."""
    x = np.array(xs[i], dtype=np.float64)
    g = np.zeros_like(x)

    def obj(v):
        args = [nd(a) for a in xs]
        args[i] = nd(v)
        y = f(*args)
        ys = list(y) if isinstance(y, (list, tuple)) else [y]
        return sum(float((o.asnumpy() * h).sum()) for o, h in zip(ys, hs))

    for idx in np.ndindex(x.shape):
        if sym and idx[-1] > idx[-2]:
            continue
        d = np.zeros_like(x)
        d[idx] = eps
        if sym:
            m = idx[:-2] + (idx[-1], idx[-2])
            d[m] = eps
        g[idx] = (obj(x + d) - obj(x - d)) / (2 * eps)
    return g


def test_namespaces_and_aliases():
    for name in ["gemm", "gemm2", "potrf", "potri", "trmm", "trsm", "syrk", "sumlogdiag", "extractdiag",
                 "makediag", "extracttrian", "maketrian", "inverse", "det", "slogdet", "gelqf", "syevd"]:
        assert getattr(mx.nd.linalg, name) is getattr(mx.nd._internal, "_linalg_" + name)
        assert callable(getattr(mx.sym.linalg, name))
        if name != "syevd":
            assert callable(getattr(mx.nd, "linalg_" + name))
            assert callable(getattr(mx.sym, "linalg_" + name))
    # MXNet registers no linalg_syevd alias.
    assert not hasattr(mx.nd, "linalg_syevd")
    import oxnet.ndarray.linalg  # noqa: F401
    import oxnet.symbol.linalg  # noqa: F401


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_products_against_numpy(dtype):
    tol = 1e-5 if dtype == "float32" else 1e-12
    a, b, c = RNG.randn(2, 3, 4), RNG.randn(2, 5, 4), RNG.randn(2, 3, 5)
    out = L.gemm(nd(a, dtype), nd(b, dtype), nd(c, dtype), transpose_b=True, alpha=0.5, beta=-2.0)
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_allclose(out.asnumpy(), 0.5 * a @ np.swapaxes(b, 1, 2) - 2 * c, rtol=tol, atol=tol)
    out = L.gemm2(nd(a, dtype), nd(a, dtype), transpose_a=True)
    np.testing.assert_allclose(out.asnumpy(), np.swapaxes(a, 1, 2) @ a, rtol=tol, atol=tol)
    # Rows along axis 1: the swapaxes/gemm/swapaxes equivalence of MXNet's docs.
    a4, b4 = RNG.randn(2, 3, 4, 5), RNG.randn(2, 5, 4, 6)
    out = L.gemm2(nd(a4, dtype), nd(b4, dtype), axis=1).asnumpy()
    ref = np.swapaxes(np.swapaxes(a4, 1, 2) @ np.swapaxes(b4, 1, 2), 1, 2)
    np.testing.assert_allclose(out, ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(L.syrk(nd(a, dtype), alpha=2.0).asnumpy(), 2 * a @ np.swapaxes(a, 1, 2),
                               rtol=tol, atol=tol)
    tri = np.tril(RNG.randn(2, 4, 4)) + 3 * np.eye(4)
    junk = tri + np.triu(RNG.randn(2, 4, 4), 1)  # the other triangle is never read
    bb = RNG.randn(2, 4, 3)
    np.testing.assert_allclose(L.trmm(nd(junk, dtype), nd(bb, dtype), alpha=1.5).asnumpy(), 1.5 * tri @ bb,
                               rtol=tol, atol=tol)
    x = L.trsm(nd(junk, dtype), nd(bb, dtype), transpose=True).asnumpy()
    np.testing.assert_allclose(np.swapaxes(tri, 1, 2) @ x, bb, rtol=10 * tol, atol=10 * tol)
    br = RNG.randn(2, 3, 4)
    x = L.trsm(nd(junk, dtype), nd(br, dtype), rightside=True, alpha=2.0).asnumpy()
    np.testing.assert_allclose(x @ tri, 2 * br, rtol=10 * tol, atol=10 * tol)


def test_mxnet_docstring_examples():
    np.testing.assert_allclose(L.potrf(nd([[4.0, 1.0], [1.0, 4.25]])).asnumpy(), [[2.0, 0], [0.5, 2.0]])
    np.testing.assert_allclose(L.inverse(nd([[1., 4.], [2., 3.]])).asnumpy(), [[-0.6, 0.8], [0.4, -0.2]])
    np.testing.assert_allclose(L.det(nd([[[1., 4.], [2., 3.]], [[2., 3.], [1., 4.]]])).asnumpy(), [-5., 5.])
    np.testing.assert_allclose(L.sumlogdiag(nd([[1.0, 1.0], [1.0, 7.0]])).asnumpy(), [1.9459101], rtol=1e-6)
    np.testing.assert_allclose(L.extractdiag(nd([[1.0, 2.0], [3.0, 4.0]]), offset=1).asnumpy(), [2.0])
    np.testing.assert_allclose(L.extracttrian(nd([[1.0, 2.0], [3.0, 4.0]]), lower=False).asnumpy(), [1., 2., 4.])
    np.testing.assert_allclose(L.maketrian(nd([1.0, 2.0, 3.0]), offset=-1).asnumpy(),
                               [[0., 0., 0.], [1., 0., 0.], [2., 3., 0.]])
    sign, logabsdet = L.slogdet(nd([[[2., 3.], [1., 4.]], [[1., 2.], [2., 4.]], [[1., 2.], [4., 3.]]]))
    np.testing.assert_allclose(sign.asnumpy(), [1., 0., -1.])
    np.testing.assert_allclose(logabsdet.asnumpy(), [1.609438, -np.inf, 1.609438], rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_factorizations_against_numpy(dtype):
    tol = 1e-4 if dtype == "float32" else 1e-10
    a = spd(2, 3, n=4)
    lo = L.potrf(nd(a, dtype)).asnumpy()
    np.testing.assert_allclose(lo, np.linalg.cholesky(a), rtol=tol, atol=tol)
    up = L.potrf(nd(a, dtype), lower=False).asnumpy()
    np.testing.assert_allclose(up, np.swapaxes(np.linalg.cholesky(a), -1, -2), rtol=tol, atol=tol)
    np.testing.assert_allclose(L.potri(nd(lo, dtype)).asnumpy(), np.linalg.inv(a), rtol=tol, atol=tol)
    np.testing.assert_allclose(L.potri(nd(up, dtype), lower=False).asnumpy(), np.linalg.inv(a), rtol=tol, atol=tol)
    g = RNG.randn(3, 4, 4) + 4 * np.eye(4)
    np.testing.assert_allclose(L.inverse(nd(g, dtype)).asnumpy(), np.linalg.inv(g), rtol=tol, atol=tol)
    np.testing.assert_allclose(L.det(nd(g, dtype)).asnumpy(), np.linalg.det(g), rtol=tol)
    s, ld = L.slogdet(nd(g, dtype))
    ws, wld = np.linalg.slogdet(g)
    np.testing.assert_allclose(s.asnumpy(), ws)
    np.testing.assert_allclose(ld.asnumpy(), wld, rtol=tol)
    np.testing.assert_allclose(L.sumlogdiag(nd(a, dtype)).asnumpy(),
                               np.log(np.diagonal(a, axis1=-2, axis2=-1)).sum(-1), rtol=tol)
    w = RNG.randn(2, 3, 5)
    q, l_ = (x.asnumpy() for x in L.gelqf(nd(w, dtype)))
    np.testing.assert_allclose(l_ @ q, w, rtol=tol, atol=tol)
    np.testing.assert_allclose(q @ np.swapaxes(q, 1, 2), np.broadcast_to(np.eye(3), (2, 3, 3)), atol=tol)
    assert np.allclose(np.triu(l_, 1), 0)
    u, lam = (x.asnumpy() for x in L.syevd(nd(a, dtype)))
    np.testing.assert_allclose(lam, np.linalg.eigvalsh(a), rtol=tol, atol=tol)
    np.testing.assert_allclose(u @ a, lam[..., None] * u, rtol=10 * tol, atol=10 * tol)
    big = np.abs(u).argmax(-1)
    assert (np.take_along_axis(u, big[..., None], -1) > 0).all()


def test_values_printed_by_mxnet():
    # MXNet 1.9.1, float64.
    q, l_ = L.gelqf(nd([[1., 2, 3], [4, 5, 6]]))
    np.testing.assert_allclose(q.asnumpy().ravel(), [-0.2672612419124243, -0.5345224838248488, -0.8017837257372732,
                                                     0.8728715609439696, 0.21821789023599236, -0.43643578047198456])
    np.testing.assert_allclose(l_.asnumpy().ravel(), [-3.7416573867739413, 0.0, -8.55235974119758, 1.963961012123933])
    u, lam = L.syevd(nd(A3))
    np.testing.assert_allclose(u.asnumpy().ravel(), [
        -0.25304236163525423, 0.05343872082877554, 0.9659781914382112, -0.4819496604261803, 0.8587971746720291,
        -0.17375827344454664, 0.8388647614682253, 0.5095210652088139, 0.1915572918876564], rtol=1e-10)
    np.testing.assert_allclose(L.det(nd(A3)).asnumpy(), [21.290000000000006])
    # Only the lower triangle of potrf/syevd/trsm inputs is read, as MXNet.
    junk = nd([[2., 100], [1, 1]])
    np.testing.assert_allclose(L.trsm(junk, nd([[1., 2], [3, 4]])).asnumpy(), [[0.5, 1.0], [2.5, 3.0]])
    np.testing.assert_allclose(L.syevd(junk)[1].asnumpy(), [0.3819660246372223, 2.6180338859558105])


def test_gradients_match_mxnet():
    (g,), _ = grad_of(L.potrf, A3)
    np.testing.assert_allclose(g.ravel(), [
        0.06729396633575183, 0.34847112893328414, 0.7647060114474172, 0.34847112893328414, 1.4441783328093152,
        2.3238743029150966, 0.7647060114474175, 2.323874302915096, 3.2346033025904686], rtol=1e-10)
    (g,), _ = grad_of(L.gelqf, np.array([[1., 2, 3], [4, 5, 6]]))
    np.testing.assert_allclose(g.ravel(), [-21.239710225771447, -6.245341903136346, 8.74902641949875,
                                           5.37940503607721, -1.4613917810611545, -8.302188598199516], rtol=1e-10)
    (g,), _ = grad_of(L.syevd, A3)
    np.testing.assert_allclose(g.ravel(), [
        6.823330861353654, -0.7310199837470139, -0.03201663643215508, -0.7310199837470144, 3.980395702434769,
        3.874913821124734, -0.03201663643215509, 3.8749138211247334, 1.196273436211575], rtol=1e-9)
    (g,), _ = grad_of(L.det, A3)
    np.testing.assert_allclose(g.ravel(), [5.96, -1.9, -1.3, -1.9, 7.75, -0.3, -1.3, -0.3, 11.0], rtol=1e-12)


@pytest.mark.parametrize("case", [
    ("gemm", lambda a, b, c: L.gemm(a, b, c, transpose_a=True, alpha=0.7, beta=-1.2),
     [(2, 3, 2), (2, 3, 4), (2, 2, 4)], False),
    ("gemm2_axis", lambda a, b: L.gemm2(a, b, axis=0, transpose_b=True), [(3, 2, 4), (5, 2, 4)], False),
    ("syrk", lambda a: L.syrk(a, transpose=True, alpha=0.5), [(2, 3, 2)], False),
    ("trmm", lambda a, b: L.trmm(a, b, rightside=True, lower=False, transpose=True), [(3, 3), (2, 3)], False),
    ("trsm", lambda a, b: L.trsm(a, b, alpha=-2.0), ["tri", (3, 2)], False),
    ("potrf", L.potrf, ["spd"], True),
    ("potri", L.potri, ["tri"], False),
    ("inverse", L.inverse, ["spd"], False),
    ("slogdet", L.slogdet, ["spd"], False),
    ("gelqf", L.gelqf, [(2, 2, 3)], False),
    ("syevd", L.syevd, ["spd"], True),
    ("maketrian", lambda a: L.maketrian(a, offset=1, lower=False), [(2, 3)], False),
], ids=lambda c: c[0])
def test_gradients_match_finite_differences(case):
    _, f, shapes, sym = case
    xs = []
    for s in shapes:
        if s == "spd":
            xs.append(spd(2))
        elif s == "tri":
            xs.append(np.tril(RNG.uniform(-1, 1, (3, 3)), -1) + np.diag(RNG.uniform(1, 2, 3)))
        else:
            xs.append(RNG.uniform(-1, 1, s))
    got, hs = grad_of(f, *xs, heads=None)
    hs = [RNG.uniform(-1, 1, h.shape) for h in hs]
    got, _ = grad_of(f, *xs, heads=hs)
    for i in range(len(xs)):
        want = numeric(f, xs, hs, i, sym=sym)
        if sym:
            g = got[i] + np.swapaxes(got[i], -1, -2) - got[i] * np.eye(got[i].shape[-1])
            g = np.tril(g)
        else:
            g = got[i]
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-6)


def test_symbols_infer_shape_names_and_json():
    a, b, c = mx.sym.var("a"), mx.sym.var("b"), mx.sym.var("c")
    g = mx.sym.linalg.gemm(a, b, c, transpose_b=True, alpha=2.0, name="g")
    assert g.list_arguments() == ["a", "b", "c"]
    assert g.infer_shape(a=(4, 2, 3), b=(4, 5, 3)) == ([(4, 2, 3), (4, 5, 3), (4, 2, 5)], [(4, 2, 5)], [])
    node = json.loads(g.tojson())["nodes"][3]
    assert node["op"] == "_linalg_gemm" and node["attrs"] == {"alpha": "2.0", "transpose_b": "True"}
    s = mx.sym.linalg.gelqf(a, name="lq")
    assert s.list_outputs() == ["lq_output0", "lq_output1"]
    assert s.infer_shape(a=(3, 2, 4)) == ([(3, 2, 4)], [(3, 2, 4), (3, 2, 2)], [])
    s = mx.sym.linalg.syevd(a, name="ev")
    assert s.list_outputs() == ["ev_output0", "ev_output1"]
    assert s.infer_shape(a=(3, 4, 4)) == ([(3, 4, 4)], [(3, 4, 4), (3, 4)], [])
    s = mx.sym.linalg.slogdet(a, name="sd")
    assert s.list_outputs() == ["sd_output0", "sd_output1"]
    assert s.infer_shape(a=(3, 4, 4)) == ([(3, 4, 4)], [(3,), (3,)], [])
    s = mx.sym.linalg.det(a, name="d")
    assert s.list_outputs() == ["d_output0"]
    assert s.infer_shape(a=(4, 4))[1] == [(1,)]
    # MXNet's det node has 3 outputs (two hidden), so its JSON rows count them.
    assert json.loads(s.tojson())["node_row_ptr"] == [0, 1, 4]
    s = mx.sym.linalg.trsm(a, b, rightside=True, name="t")
    assert s.infer_shape(a=(2, 3, 3), b=(2, 5, 3)) == ([(2, 3, 3), (2, 5, 3)], [(2, 5, 3)], [])
    s = mx.sym.linalg.maketrian(a, offset=-1, name="m")
    assert s.infer_shape(a=(2, 6)) == ([(2, 6)], [(2, 4, 4)], [])
    assert json.loads(s.tojson())["nodes"][1]["attrs"] == {"offset": "-1"}
    assert mx.sym.linalg.gemm2(a, b, axis=1).infer_shape(a=(2, 3, 4, 5), b=(2, 5, 4, 6))[1] == [(2, 3, 4, 6)]
    # A graph with a factorization binds, runs and differentiates.
    loss = mx.sym.linalg.sumlogdiag(mx.sym.linalg.potrf(a))
    ex = loss.simple_bind(mx.cpu(), a=(3, 3), grad_req="write")
    x = spd(n=3)
    ex.arg_dict["a"][:] = x
    out = ex.forward(is_train=True)[0].asnumpy()
    np.testing.assert_allclose(out, [0.5 * np.log(np.linalg.det(x))], rtol=1e-5)
    ex.backward(mx.nd.ones((1,)))
    # d/dA of ½·log det A is ½·A⁻¹.
    np.testing.assert_allclose(ex.grad_dict["a"].asnumpy(), 0.5 * np.linalg.inv(x), rtol=1e-4, atol=1e-5)


def test_errors_are_clear():
    with pytest.raises(mx.MXNetError, match=r"_linalg_potrf.*not positive definite"):
        L.potrf(nd([[1., 2], [2, 1]])).asnumpy()
    with pytest.raises(mx.MXNetError, match=r"_linalg_inverse.*singular"):
        L.inverse(nd([[1., 2], [2, 4]])).asnumpy()
    with pytest.raises(mx.MXNetError, match=r"_linalg_trsm.*singular"):
        L.trsm(nd([[0., 0], [1, 1]]), nd([[1., 2], [3, 4]])).asnumpy()
    with pytest.raises(mx.MXNetError, match=r"_linalg_gemm2.*Incompatible matrix dimensions"):
        L.gemm2(nd(np.ones((2, 3))), nd(np.ones((2, 3))))
    with pytest.raises(mx.MXNetError, match=r"_linalg_gelqf.*\[3,2\]"):
        L.gelqf(nd(np.ones((3, 2))))
    with pytest.raises(mx.MXNetError, match="32-bit and 64-bit floating point"):
        L.det(mx.nd.array([[1, 4], [2, 3]], dtype="int32"))
    # syevd has no parameters: like MXNet it ignores any it is given.
    u, lam = L.syevd(nd(A3), bogus=1)
    np.testing.assert_allclose(lam.asnumpy(), np.linalg.eigvalsh(A3), rtol=1e-5)
    # A singular matrix's det is 0 and its gradient zero, as MXNet documents.
    (g,), _ = grad_of(L.det, np.array([[1., 2], [2, 4]]))
    assert (g == 0).all()
