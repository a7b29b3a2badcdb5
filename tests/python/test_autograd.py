"""mx.autograd: recording scopes, attach_grad/backward/grad, against hand-derived gradients
and finite differences (numpy)."""
import json
import re

import numpy as np
import pytest

import oxnet as mx
from oxnet import autograd, nd


def test_flags_and_scopes():
    assert not autograd.is_recording() and not autograd.is_training()
    with autograd.record():
        assert autograd.is_recording() and autograd.is_training()
        with autograd.pause():
            assert not autograd.is_recording() and not autograd.is_training()
        with autograd.predict_mode():
            assert not autograd.is_training()
    with autograd.record(train_mode=False):
        assert autograd.is_recording() and not autograd.is_training()
    with autograd.train_mode():
        assert autograd.is_training() and not autograd.is_recording()
    assert not autograd.is_recording() and not autograd.is_training()
    assert autograd.set_recording(True) is False
    assert autograd.set_recording(False) is True


def test_elementwise_chain():
    xv = np.array([[1.0, -2.0], [0.5, 3.0]], dtype=np.float32)
    x = nd.array(xv)
    x.attach_grad()
    with autograd.record():
        y = x * x * 2 + x / 4 - 1
    y.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), 4 * xv + 0.25, rtol=1e-6)


def test_head_gradient_and_grad_req_add():
    xv = np.arange(6, dtype=np.float32).reshape(2, 3)
    x = nd.array(xv)
    x.attach_grad(grad_req="add")
    head = np.full((2, 3), 0.5, dtype=np.float32)
    for _ in range(2):
        with autograd.record():
            y = x * x
        y.backward(nd.array(head))
    np.testing.assert_allclose(x.grad.asnumpy(), 2 * (2 * xv * head), rtol=1e-6)


def test_gradients_land_in_their_buffers_whatever_else_reads_them():
    # Gradients are computed straight into the grad buffers where nothing else needs those
    # buffers; here the forward reads x.grad, two variables share one gradient, and a
    # float64 buffer takes a float32 variable's gradient.
    rs = np.random.RandomState(0)
    xv, gv, av, bv = (rs.uniform(-1, 1, (3, 4)).astype(np.float32) for _ in range(4))
    x, a, b = nd.array(xv), nd.array(av), nd.array(bv)
    x.attach_grad()
    x.grad[:] = gv
    a.attach_grad()
    b64 = nd.zeros((3, 4), dtype="float64")
    autograd.mark_variables([b], [b64])
    with autograd.record():
        y = nd.dot(x, x.grad, transpose_b=True) + nd.relu(a + b).sum()
    head = rs.uniform(-1, 1, (3, 3)).astype(np.float32)
    y.backward(nd.array(head))
    np.testing.assert_allclose(x.grad.asnumpy(), head @ gv, rtol=1e-5, atol=1e-6)
    want = head.sum() * ((av + bv) > 0)
    np.testing.assert_allclose(a.grad.asnumpy(), want, rtol=1e-5)
    assert b64.dtype == np.float64
    np.testing.assert_allclose(b64.asnumpy(), want, rtol=1e-5)


def test_reshape_and_slice_views_are_recorded():
    xv = np.arange(12, dtype=np.float32)
    x = nd.array(xv)
    x.attach_grad()
    with autograd.record():
        y = x.reshape((3, 4))[1:3] * 3
    y.backward()
    want = np.zeros(12, dtype=np.float32)
    want[4:] = 3
    np.testing.assert_allclose(x.grad.asnumpy(), want)


def test_registry_ops_are_recorded():
    rng = np.random.RandomState(0)
    xv = rng.uniform(0.5, 1.5, size=(3, 4))
    x = nd.array(xv, dtype="float64")
    x.attach_grad()
    with autograd.record():
        y = nd.sum(nd.exp(x) * nd.log(x), axis=1)
    y.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), np.exp(xv) * np.log(xv) + np.exp(xv) / xv,
                               rtol=1e-10)


def test_grad_and_second_order():
    xv = np.array([1.0, 2.0, -1.5])
    x = nd.array(xv, dtype="float64")
    x.attach_grad()
    with autograd.record():
        y = x * x * x
        (dx,) = autograd.grad(y, [x], create_graph=True)
    np.testing.assert_allclose(dx.asnumpy(), 3 * xv ** 2)
    dx.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), 6 * xv)


def test_backward_through_a_constant_recorded_gradient_gives_zeros():
    """d(radians)/dx = pi/180 and the third derivative of square do not depend on x: backward
    from them writes zeros into x.grad (MXNet 1.9.1 printed [0. 0.] for both), where it used
    to raise."""
    for f, order in ((nd.radians, 2), (nd.square, 3), (lambda x: x * 3, 2)):
        x = nd.array([0.3, 0.7])
        x.attach_grad()
        x.grad[:] = 5
        with autograd.record():
            g = f(x)
            for _ in range(order - 1):
                g = autograd.grad(g, x, head_grads=nd.ones((2,)), create_graph=True,
                                  retain_graph=True)[0]
        g.backward()
        np.testing.assert_array_equal(x.grad.asnumpy(), [0.0, 0.0])
    # the tie adds no term where the gradient does depend on x: d/dx (x^2)' = 2
    x = nd.array([0.3, 0.7])
    x.attach_grad()
    with autograd.record():
        g = autograd.grad(x * x, x, create_graph=True)[0]
    g.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), [2.0, 2.0])


def _first(out):
    return out[0] if isinstance(out, list) else out  # rrelu also returns its mask


def _penalty_and_its_gradient(f, arrays, wrt):
    """S = Σ (dL/dwrt)², L = Σ f(arrays)·c, and dS/d(each array) by second-order autograd."""
    xs = [nd.array(a, dtype="float64") for a in arrays]
    for x in xs:
        x.attach_grad()
    mx.random.seed(7)  # rrelu draws the same slopes at every point
    with autograd.record():
        y = f(*xs)
        c = nd.array(np.linspace(0.5, 1.5, y.size).reshape(y.shape), dtype="float64")
        gs = autograd.grad(y, [xs[i] for i in wrt], head_grads=c, create_graph=True)
        s = sum((g * g).sum() for g in gs)
    s.backward()
    return s.asscalar(), [x.grad.asnumpy() for x in xs]


def _fc(x, w, b=None, **kw):
    return nd.FullyConnected(x, w, b, num_hidden=w.shape[0], no_bias=b is None, **kw)


def _conv(x, w, b=None, **kw):
    return nd.Convolution(x, w, b, num_filter=w.shape[0], kernel=w.shape[2:], no_bias=b is None,
                          **kw)


def _mlp(x, w1, w2):
    return _fc(nd.Activation(_fc(x, w1), act_type="tanh"), w2)


def _convnet(x, w1, w2):
    return _fc(nd.Activation(_conv(x, w1), act_type="softrelu"), w2)


# (name, function, input shapes, inputs whose gradient is penalised)
SECOND_ORDER = [
    ("fc", _fc, [(4, 2, 3), (3, 6), (3,)], [0, 1, 2]),
    ("fc weights only", _fc, [(4, 6), (3, 6), (3,)], [1]),
    ("fc last axis", lambda x, w: _fc(x, w, flatten=False), [(2, 4, 5), (3, 5)], [0, 1]),
    ("mlp", _mlp, [(3, 5), (4, 5), (2, 4)], [0]),
    ("conv", lambda x, w, b: _conv(x, w, b, pad=(1, 1), stride=(2, 1)),
     [(2, 3, 5, 4), (2, 3, 3, 3), (2,)], [0, 1, 2]),
    ("conv grouped dilated 1-D", lambda x, w: _conv(x, w, num_group=2, dilate=(2,)),
     [(2, 4, 6), (4, 2, 2)], [0, 1]),
    ("conv weights only", _conv, [(1, 2, 4, 4), (3, 2, 2, 2), (3,)], [1, 2]),
    ("deconv", lambda x, w, b: nd.Deconvolution(x, w, b, kernel=(3, 3), num_filter=2,
                                              stride=(2, 2), pad=(1, 1), adj=(1, 0),
                                              no_bias=False),
     [(2, 3, 3, 3), (3, 2, 3, 3), (2,)], [0, 1, 2]),
    ("convnet", _convnet, [(2, 1, 5, 5), (2, 1, 3, 3), (1, 18)], [0]),
    ("avg pool", lambda x: nd.Pooling(nd.tanh(x), kernel=(3, 2), stride=(2, 1), pad=(1, 1),
                                      pool_type="avg", count_include_pad=False),
     [(2, 2, 5, 4)], [0]),
    ("sum pool 1-D", lambda x: nd.Pooling(nd.sigmoid(x), kernel=(2,), pool_type="sum"),
     [(2, 3, 5)], [0]),
    ("global avg pool", lambda x: nd.Pooling(nd.tanh(x), global_pool=True, kernel=(1, 1),
                                             pool_type="avg"), [(2, 3, 3, 3)], [0]),
    ("max pool 2x2", lambda x: nd.Pooling(x ** 3, kernel=(2, 2), stride=(2, 2)), [(2, 2, 4, 4)],
     [0]),
    ("max pool overlapping padded", lambda x: nd.Pooling(nd.tanh(x), kernel=(3, 3), pad=(1, 1),
                                                         stride=(1, 2)), [(1, 2, 5, 5)], [0]),
    ("max pool 1-D", lambda x: nd.Pooling(x ** 3, kernel=(3,), stride=(2,)), [(2, 2, 7)], [0]),
    ("global max pool", lambda x: nd.Pooling(nd.sin(x), global_pool=True, kernel=(1, 1)),
     [(2, 3, 3, 3)], [0]),
] + [("act " + a, lambda x, a=a: nd.Activation(x, act_type=a), [(2, 5)], [0])
     for a in ("relu", "sigmoid", "tanh", "softrelu", "softsign")] + [
    ("leaky " + k, lambda x, kw=kw: _first(nd.LeakyReLU(x, **kw)), [(2, 5)], [0])
    for k, kw in [("leaky", {"slope": 0.2}), ("elu", {"act_type": "elu", "slope": 0.7}),
                  ("selu", {"act_type": "selu"}), ("gelu", {"act_type": "gelu"}),
                  ("rrelu", {"act_type": "rrelu"})]]


@pytest.mark.parametrize("name,f,shapes,wrt", SECOND_ORDER, ids=[c[0] for c in SECOND_ORDER])
def test_second_order_through_layers_matches_finite_differences(name, f, shapes, wrt):
    # MXNet 1.9.1 refuses these ("_backward_FullyConnected is non-differentiable"...): a
    # gradient penalty over an MLP or a convnet needs them.
    rs = np.random.RandomState(3)
    arrays = [rs.uniform(-1.5, 1.5, s) for s in shapes]
    _, got = _penalty_and_its_gradient(f, arrays, wrt)
    h = 1e-6
    for i, a in enumerate(arrays):
        num = np.zeros_like(a)
        for j in range(a.size):
            for sign in (1, -1):
                moved = [b.copy() for b in arrays]
                moved[i].flat[j] += sign * h
                num.flat[j] += sign * _penalty_and_its_gradient(f, moved, wrt)[0] / (2 * h)
        np.testing.assert_allclose(got[i], num, rtol=1e-4, atol=1e-6,
                                   err_msg="%s input %d" % (name, i))


def test_backward_without_record_is_an_error():
    x = nd.array([1.0, 2.0])
    x.attach_grad()
    y = x * 2
    with pytest.raises(mx.MXNetError, match="computational graph"):
        y.backward()


def test_heads_that_reach_no_variable_are_skipped():
    # MXNet 1.9.1 differentiates the recorded heads and leaves out a head no variable
    # reaches (b.grad = a = [1, 2, 3] here); only when no head was recorded it raises
    a, b = nd.array([1.0, 2.0, 3.0]), nd.array([4.0, 5.0, 6.0])
    b.attach_grad()
    with autograd.record():
        y1, y2 = a * b, nd.exp(a)
    autograd.backward([y2, y1], head_grads=[nd.ones(3), nd.array([1.0, 1.0, 2.0])])
    np.testing.assert_array_equal(b.grad.asnumpy(), [1, 2, 6])
    with autograd.record():
        y1, y2 = a * b, nd.exp(a)
    (g,) = autograd.grad([y1, y2], [b])
    np.testing.assert_array_equal(g.asnumpy(), [1, 2, 3])
    with pytest.raises(mx.MXNetError, match="computational graph"):
        autograd.backward([y2, nd.exp(a)])


def test_scope_restores_only_the_flags_it_changed():
    # MXNet 1.9.1: record(train_mode=False) entered with training off leaves a training mode
    # set inside the block as it is
    assert not autograd.is_training()
    with autograd.record(train_mode=False):
        autograd.set_training(True)
    assert autograd.is_training() and not autograd.is_recording()
    autograd.set_training(False)
    with autograd.train_mode():
        pass
    assert not autograd.is_training()


def test_slice_assigning_a_recorded_array_is_refused_with_mxnets_words():
    # MXNet 1.9.1's test_ndarray_indexing matches this sentence
    x, y = nd.zeros((3, 4)), nd.ones((4,))
    y.attach_grad()
    with pytest.raises(mx.MXNetError, match=re.escape(
            "Inplace operations (+=, -=, x[:]=, etc) are not supported when recording with")):
        with autograd.record():
            x[0] = y


def test_unused_variable_gets_zero_gradient():
    x, z = nd.array([1.0, 2.0]), nd.array([3.0, 4.0])
    x.attach_grad()
    z.attach_grad()
    z.grad[:] = 7
    with autograd.record():
        y = x * 2 + nd.BlockGrad(z)
    y.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), [2, 2])
    np.testing.assert_allclose(z.grad.asnumpy(), [0, 0])


def test_detach_stops_gradient():
    x = nd.array([1.0, 2.0])
    x.attach_grad()
    with autograd.record():
        y = x * x.detach()
    y.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), [1, 2])


def test_non_differentiable_op_names_itself():
    x = nd.array([[1.0, 2.0]])
    x.attach_grad()
    with autograd.record():
        y = nd.argmax_channel(x)
    with pytest.raises(NotImplementedError, match="argmax_channel is non-differentiable") as err:
        y.backward()
    assert isinstance(err.value, mx.MXNetError)  # MXNet's type for it


def test_argmax_has_zero_gradient_as_mxnet():
    x = nd.array([1.0, 2.0])
    x.attach_grad()
    with autograd.record():
        y = nd.argmax(x, axis=0) + x
    y.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), [1, 1])


class _Sigmoid(mx.autograd.Function):
    def forward(self, x):
        y = 1 / (1 + mx.nd.exp(-x))
        self.save_for_backward(y)
        return y

    def backward(self, dy):
        y, = self.saved_tensors
        return dy * y * (1 - y)


class _MulAdd(mx.autograd.Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a * b, a + b

    def backward(self, g_prod, g_sum):
        a, b = self.saved_tensors
        return g_prod * b + g_sum, g_prod * a + g_sum


def test_function_custom_gradient_against_numpy():
    xs = np.array([[-1., 0.5], [2., 3.]], dtype=np.float32)
    x = mx.nd.array(xs)
    x.attach_grad()
    with mx.autograd.record():
        y = _Sigmoid()(x)
        z = (y * y).sum()
    z.backward()
    s = 1 / (1 + np.exp(-xs))
    np.testing.assert_allclose(y.asnumpy(), s, rtol=1e-6)
    np.testing.assert_allclose(x.grad.asnumpy(), 2 * s * s * (1 - s), rtol=1e-5)


def test_function_two_inputs_two_outputs():
    a, b = mx.nd.array([1., 2., 3.]), mx.nd.array([4., 5., 6.])
    a.attach_grad()
    b.attach_grad()
    with mx.autograd.record():
        prod, total = _MulAdd()(a, b)
        loss = (prod * 2 + total * total).sum()
    loss.backward()
    an, bn = a.asnumpy(), b.asnumpy()
    # Values MXNet 1.9.1 printed: [18, 24, 30] and [12, 18, 24].
    np.testing.assert_array_equal(a.grad.asnumpy(), 2 * bn + 2 * (an + bn))
    np.testing.assert_array_equal(b.grad.asnumpy(), 2 * an + 2 * (an + bn))


def test_function_outside_record_and_misuse():
    x = mx.nd.array([0.])
    f = _Sigmoid()
    assert f(x).asscalar() == 0.5
    with pytest.raises(RuntimeError, match="only be called once"):
        f(x)

    class WrongCount(_MulAdd):
        def backward(self, g_prod, g_sum):
            return g_prod

    a = mx.nd.ones(2)
    a.attach_grad()
    with mx.autograd.record():
        p, _ = WrongCount()(a, mx.nd.ones(2))
    with pytest.raises(mx.MXNetError, match="WrongCount.backward must return as many") as err:
        p.backward()
        a.grad.asnumpy()
    assert isinstance(err.value.__cause__, ValueError)


@pytest.mark.parametrize("stype", ["row_sparse", "csr"])
def test_sparse_ops_on_stored_values_still_pass_every_gradient(stype):
    # MXNet 1.9.1: x * 2 on a sparse x computes the stored rows only, but its gradient is
    # the dense op's: 2 everywhere, unstored rows included.
    x = mx.nd.array([[1, 1], [0, 0], [0, 0]]).tostype(stype)
    x.attach_grad()
    with autograd.record():
        y = x * 2
        z = x / 4
    assert y.stype == stype and y.asnumpy().tolist() == [[2, 2], [0, 0], [0, 0]]
    autograd.backward([y, z], [mx.nd.ones((3, 2)), mx.nd.ones((3, 2))])
    np.testing.assert_allclose(x.grad.asnumpy(), np.full((3, 2), 2.25))
    d = x.detach()
    assert d.stype == stype and type(d) is type(x)


def test_star_import_gives_ndarray_as_mxnet_does():
    ns = {}
    exec("from oxnet.autograd import *", ns)
    assert ns["NDArray"] is mx.nd.NDArray and ns["record"] is autograd.record


def test_ops_into_out_are_recorded_and_inplace_writes_are_refused():
    # MXNet 1.9.1: an op writing into a fresh `out` is recorded; writing into an array already
    # in the graph (or into an input) raises instead of giving wrong gradients later.
    w = mx.nd.array([1.0, 2.0, 3.0])
    w.attach_grad()
    x = mx.nd.zeros((3,))
    with autograd.record():
        mx.nd.elemwise_mul(w, w, out=x)
        y = x * 3
    y.backward()
    np.testing.assert_allclose(w.grad.asnumpy(), 6 * w.asnumpy())
    with autograd.record():
        z = w * 2
        with pytest.raises(mx.MXNetError, match="Inplace operations"):
            mx.nd.elemwise_add(w, w, out=z)
        with pytest.raises(mx.MXNetError, match="Inplace operations"):
            mx.nd.elemwise_add(z, w, out=w)
    # Outside record(), and for values that need no gradient, out= works as before.
    mx.nd.elemwise_add(w, w, out=z)
    np.testing.assert_allclose(z.asnumpy(), 2 * w.asnumpy())


def test_cached_op_runs_a_symbol_and_is_differentiated_as_one_step():
    data, w = mx.sym.Variable("data"), mx.sym.Variable("w")
    sym = mx.sym.tanh(mx.sym.FullyConnected(data, w, num_hidden=3, no_bias=True)) * 2
    op = mx.nd.CachedOp(sym)
    rng = np.random.RandomState(0)
    x, wv = rng.rand(4, 5).astype(np.float32), rng.rand(3, 5).astype(np.float32)
    xa, wa = mx.nd.array(x), mx.nd.array(wv)
    xa.attach_grad()
    wa.attach_grad()
    with autograd.record():
        y = op(xa, wa)
        loss = (y * y).sum()
    loss.backward()
    t = np.tanh(x @ wv.T)
    np.testing.assert_allclose(y.asnumpy(), 2 * t, rtol=1e-5)
    dy = 2 * (2 * t) * 2 * (1 - t * t)  # d(y^2)/dy * dy/dfc
    np.testing.assert_allclose(wa.grad.asnumpy(), dy.T @ x, rtol=1e-4)
    np.testing.assert_allclose(xa.grad.asnumpy(), dy @ wv, rtol=1e-4)
    out = mx.nd.zeros((4, 3))
    assert op(xa, wa, out=out) is out
    np.testing.assert_allclose(out.asnumpy(), 2 * t, rtol=1e-5)
    with pytest.raises(ValueError, match="takes 2 inputs"):
        op(xa)


def test_advanced_indexing_is_recorded():
    # MXNet 1.9.1 records x[[1, 0], [0, 2]] (gather_nd): the gradient reaches the picked
    # entries, repeated ones summed. Values and gradients against numpy.
    n = np.arange(24.0).reshape(2, 3, 4)
    a = mx.nd.array(n)
    a.attach_grad()
    for k in [([1, 0], [0, 2]), ([1, 0], slice(None), [0, 2]), (slice(0, 2), [2, 1, 2]),
              (np.array([[0, 1], [1, 0]]), 1), (Ellipsis, [1, 3]), (n[..., 0] > 5,)]:
        with autograd.record():
            y = a[k]
            s = (y * 2).sum()
        s.backward()
        np.testing.assert_array_equal(y.asnumpy(), n[k])
        want = np.zeros_like(n)
        np.add.at(want, k, 2)
        np.testing.assert_array_equal(a.grad.asnumpy(), want)


def test_get_symbol_turns_the_recording_into_a_symbol():
    # MXNet 1.9.1: leaves become var0, var1, ...; the symbol computes what was recorded.
    x, z = mx.nd.array([3.0]), mx.nd.array([5.0])
    x.attach_grad()
    z.attach_grad()
    with autograd.record():
        y1 = x * x + 2 * x - 1
        y2 = x * x + 2 * z - 1
    s1, s2 = autograd.get_symbol(y1), autograd.get_symbol(y2)
    assert s1.list_arguments() == ["var0"] and len(s2.list_arguments()) == 2
    out = s2.eval(**{n: mx.nd.array([v]) for n, v in zip(s2.list_arguments(), [3.0, 5.0])})
    assert out[0].asscalar() == 18.0
    assert s1.eval(var0=mx.nd.array([4.0]))[0].asscalar() == 23.0
    with pytest.raises(mx.MXNetError, match="not in a computational graph"):
        autograd.get_symbol(mx.nd.ones((1,)))


def test_backward_frees_the_history_unless_retain_graph():
    # MXNet 1.9.1: backward frees the recorded graph (a loop holding last step's loss does not
    # hold its activations); a second backward through it raises unless the first retained it.
    x = mx.nd.array([1.0, 2.0])
    x.attach_grad()
    with autograd.record():
        y = x * x
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), [2.0, 4.0])
    with pytest.raises(mx.MXNetError, match="not in a computational graph"):
        y.backward()
    with autograd.record():
        h = x * 3
        a = (h * 2).sum()
        b = (h * h).sum()
    a.backward()
    with pytest.raises(mx.MXNetError, match="retain_graph=True"):
        b.backward()  # its trunk h went with a's history
    # A freed result is a constant in later recordings, as in MXNet.
    with autograd.record():
        c = (h * x).sum()
    c.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), 3 * x.asnumpy())
    # autograd.grad retains the graph when it records the gradient (create_graph).
    with autograd.record():
        z = (x * x).sum()
    autograd.grad(z, [x], create_graph=True)
    np.testing.assert_allclose(autograd.grad(z, [x])[0].asnumpy(), 2 * x.asnumpy())
    with pytest.raises(mx.MXNetError, match="not in a computational graph"):
        autograd.grad(z, [x])


def test_fresh_grad_flags_what_backward_wrote():
    x = mx.nd.ones((2,))
    x.attach_grad()
    unused = mx.nd.ones((2,))
    unused.attach_grad()
    assert not x._fresh_grad
    with autograd.record():
        y = x * 2
    y.backward()
    assert x._fresh_grad and not unused._fresh_grad
    x._fresh_grad = False
    assert not x._fresh_grad
    x.attach_grad()
    assert not x._fresh_grad


def test_astype_and_copyto_are_recorded():
    x = mx.nd.array([1.0, -2.0])
    x.attach_grad()
    with autograd.record():
        y = (x.astype("float64") * x.astype("float64")).sum()
    y.backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.asnumpy(), 2 * x.asnumpy())
    with autograd.record():
        o = mx.nd.zeros((2,))
        x.copyto(o)
        c = x.copyto(mx.cpu(0))
        y = (o * 3 + c * 4).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), [7.0, 7.0])


def test_copies_between_contexts_carry_the_gradient_back():
    # As MXNet 1.9.1 (values checked there): the gradient of a copy to another context is
    # the copy back; it used to be a constant, leaving x.grad silently zero.
    c0, c1 = mx.cpu(0), mx.cpu(1)
    xv, wv = np.array([1.0, 2.0, 3.0], np.float32), np.array([2.0, 3.0, 4.0], np.float32)
    x, w = mx.nd.array(xv, ctx=c0), mx.nd.array(wv, ctx=c1)
    x.attach_grad()
    w.attach_grad()
    with autograd.record():
        a = (x * x).sum()
        b = (x.as_in_context(c1) * w).sum()
    autograd.backward([a, b])
    assert x.grad.context == c0 and w.grad.context == c1
    np.testing.assert_allclose(x.grad.asnumpy(), 2 * xv + wv)
    np.testing.assert_allclose(w.grad.asnumpy(), xv)
    # Into an array of another dtype there, and a round trip back to cpu(0).
    with autograd.record():
        y = mx.nd.zeros((3,), ctx=c1, dtype="float64")
        x.copyto(y)
        back = (y * 3).as_in_context(c0).astype("float32")
        z = (y * y).sum().as_in_context(c0).astype("float32") + (back * x).sum()
    z.backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.asnumpy(), 2 * xv + 6 * xv)
    # Second order through the copy: d/dx sum(3 x^2) = 6 x.
    with autograd.record():
        y = x.as_in_context(c1)
        g = autograd.grad((y * y * y).sum(), [x], create_graph=True)[0]
        s = g.sum()
    s.backward()
    assert g.context == c0
    np.testing.assert_allclose(g.asnumpy(), 3 * xv**2)
    np.testing.assert_allclose(x.grad.asnumpy(), 6 * xv)
    # grad_req='add' accumulates (MXNet 1.9.1 overwrites here: [2, 2, 2] after three steps).
    x.attach_grad(grad_req="add")
    for _ in range(3):
        with autograd.record():
            z = (x.as_in_context(c1) * 2).sum()
        z.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), [6.0, 6.0, 6.0])
    with autograd.record():
        z = x.as_in_context(c1) * 2
    assert [n["op"] for n in json.loads(autograd.get_symbol(z).tojson())["nodes"]] == [
        "null", "_copyto", "_mul_scalar"]


def test_model_parallel_training_with_autograd_matches_one_context():
    # Layer 1 on cpu(0), layer 2 on cpu(1): the same losses and weights as on one context
    # (MXNet 1.9.1 gives these losses too: 18.3855, 15.5621, 14.2738).
    rng = np.random.RandomState(0)
    xv, yv = rng.randn(16, 8).astype(np.float32), rng.randint(0, 3, 16).astype(np.float32)
    w1v = (rng.randn(8, 5) * 0.3).astype(np.float32)
    w2v = (rng.randn(5, 3) * 0.3).astype(np.float32)

    def train(c0, c1):
        w1, w2 = mx.nd.array(w1v, ctx=c0), mx.nd.array(w2v, ctx=c1)
        w1.attach_grad()
        w2.attach_grad()
        x, y = mx.nd.array(xv, ctx=c0), mx.nd.array(yv, ctx=c1)
        losses = []
        for _ in range(3):
            with autograd.record():
                h = mx.nd.relu(mx.nd.dot(x, w1))
                loss = mx.nd.softmax_cross_entropy(mx.nd.dot(h.as_in_context(c1), w2), y)
            loss.backward()
            for w in (w1, w2):
                mx.nd.sgd_update(w, w.grad, lr=0.1, out=w)
            losses.append(float(loss.asscalar()))
        return losses, w1.asnumpy(), w2.asnumpy()

    split, one = train(mx.cpu(0), mx.cpu(1)), train(mx.cpu(0), mx.cpu(0))
    np.testing.assert_allclose(split[0], [18.3855, 15.5621, 14.2738], rtol=1e-4)
    for a, b in zip(split, one):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_assignments_autograd_cannot_follow_are_refused_inside_record():
    # MXNet 1.9.1 refuses these too; oxnet used to give a silently wrong gradient for them.
    x = mx.nd.array([1.0, 2.0, 3.0])
    x.attach_grad()
    with autograd.record():
        y = x.copy()
        with pytest.raises(mx.MXNetError, match="part of the graph being recorded"):
            y[1] = 5
        with pytest.raises(mx.MXNetError, match="part of the graph being recorded"):
            x[:] = 0
        out = mx.nd.zeros((2, 3))
        with pytest.raises(mx.MXNetError, match="into part of another"):
            out[0] = x * 2
        with pytest.raises(mx.MXNetError, match="destination .* part of the graph"):
            (x * 2).copyto(y)
        # A whole-array assignment into a fresh array is recorded (broadcast included).
        out[:] = x * 2
        z = (out * 3).sum()
    z.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), [12.0, 12.0, 12.0])
    # Outside record() anything goes.
    y[1] = 5
    assert y.asnumpy().tolist() == [1.0, 5.0, 3.0]


def test_inplace_arithmetic_inside_record():
    # An array in the graph may not change in place (MXNet refuses it; oxnet used to give
    # y *= y a wrong gradient); a fresh array accumulating recorded values is recorded.
    x = mx.nd.array([1.0, 2.0, 3.0])
    x.attach_grad()
    with autograd.record():
        y = x * 2
        for inplace in (lambda: y.__imul__(y), lambda: y.__iadd__(1), lambda: x.__isub__(y)):
            with pytest.raises(mx.MXNetError, match="Inplace operations"):
                inplace()
        total = mx.nd.ones((3,)) * 2
        total *= x * x  # the gradient reads total's old value, 2
        with pytest.raises(mx.MXNetError, match="Inplace operations"):
            total += x  # now it is in the graph (MXNet refuses the same)
        z = total.sum()
    z.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), 4 * x.asnumpy())
    np.testing.assert_allclose(total.asnumpy(), 2 * x.asnumpy() ** 2)
