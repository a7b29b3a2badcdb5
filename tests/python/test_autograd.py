"""mx.autograd: recording scopes, attach_grad/backward/grad, against hand-derived gradients
and finite differences (numpy)."""
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


def test_backward_without_record_is_an_error():
    x = nd.array([1.0, 2.0])
    x.attach_grad()
    y = x * 2
    with pytest.raises(mx.MXNetError, match="computational graph"):
        y.backward()


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
    with pytest.raises(NotImplementedError, match="argmax_channel is non-differentiable"):
        y.backward()


def test_argmax_has_zero_gradient_as_mxnet():
    x = nd.array([1.0, 2.0])
    x.attach_grad()
    with autograd.record():
        y = nd.argmax(x, axis=0) + x
    y.backward()
    np.testing.assert_allclose(x.grad.asnumpy(), [1, 1])
