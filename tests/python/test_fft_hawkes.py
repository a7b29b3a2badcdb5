"""`_contrib_fft` / `_contrib_ifft` (GPU-only in MXNet: checked against numpy.fft with MXNet's
interleaved layout and normalisation), `_contrib_hawkesll` (against MXNet 1.9.1's printed
values and a numpy re-implementation) and the legacy in-place fill `_set_value`."""
import numpy as np
import pytest

import oxnet as mx
from oxnet.base import MXNetError

_ERR = (MXNetError, ValueError, TypeError)


def _interleave(c):
    out = np.empty(c.shape[:-1] + (2 * c.shape[-1],))
    out[..., 0::2] = c.real
    out[..., 1::2] = c.imag
    return out


def _complex(a):
    return a[..., 0::2] + 1j * a[..., 1::2]


def _np_fft(x):
    return _interleave(np.fft.fft(x, axis=-1))


def _np_ifft(a):
    # MXNet does not divide by d: the real part of the unnormalised inverse transform.
    d = a.shape[-1] // 2
    return np.fft.ifft(_complex(a), axis=-1).real * d


@pytest.mark.parametrize('d', [1, 2, 3, 7, 8, 64, 100, 1024])
def test_fft_matches_numpy(d):
    rs = np.random.RandomState(d)
    x = rs.uniform(-1, 1, (3, d))
    for dt, tol in [(np.float64, 1e-10), (np.float32, 2e-5)]:
        y = mx.nd.contrib.fft(mx.nd.array(x, dtype=dt))
        assert y.shape == (3, 2 * d) and y.dtype == dt
        np.testing.assert_allclose(y.asnumpy(), _np_fft(x.astype(dt)), rtol=tol,
                                   atol=tol * max(d, 1))


@pytest.mark.parametrize('d', [1, 2, 3, 7, 8, 64, 100, 1024])
def test_ifft_matches_numpy_unnormalised(d):
    rs = np.random.RandomState(100 + d)
    a = rs.uniform(-1, 1, (4, 2 * d))
    for dt, tol in [(np.float64, 1e-10), (np.float32, 2e-5)]:
        y = mx.nd.contrib.ifft(mx.nd.array(a, dtype=dt))
        assert y.shape == (4, d) and y.dtype == dt
        np.testing.assert_allclose(y.asnumpy(), _np_ifft(a.astype(dt)), rtol=tol,
                                   atol=tol * max(d, 1))


def test_ifft_of_fft_is_d_times_the_signal():
    x = np.random.RandomState(1).uniform(-1, 1, (5, 12))
    back = mx.nd.contrib.ifft(mx.nd.contrib.fft(mx.nd.array(x, dtype='float64')))
    np.testing.assert_allclose(back.asnumpy(), 12 * x, rtol=1e-12, atol=1e-12)


def test_batched_higher_dims_and_large_batches():
    rs = np.random.RandomState(2)
    x = rs.uniform(-1, 1, (2, 3, 4, 10))
    y = mx.nd.contrib.fft(mx.nd.array(x, dtype='float64'), compute_size=2)
    assert y.shape == (2, 3, 4, 20)
    np.testing.assert_allclose(y.asnumpy(), _np_fft(x), atol=1e-12)
    # Enough rows that the kernel splits them between threads.
    big = rs.uniform(-1, 1, (3000, 48))
    y = mx.nd.contrib.fft(mx.nd.array(big, dtype='float64'))
    np.testing.assert_allclose(y.asnumpy(), _np_fft(big), atol=1e-11)
    z = mx.nd.contrib.ifft(y)
    np.testing.assert_allclose(z.asnumpy(), 48 * big, atol=1e-10)


def test_symbol_fft_infers_and_runs():
    data = mx.sym.Variable('data')
    s = mx.sym.contrib.ifft(mx.sym.contrib.fft(data))
    _, out_shapes, _ = s.infer_shape(data=(3, 6))
    assert out_shapes == [(3, 6)]
    x = np.random.RandomState(3).uniform(-1, 1, (3, 6)).astype(np.float32)
    ex = s.bind(mx.cpu(), {'data': mx.nd.array(x)})
    np.testing.assert_allclose(ex.forward()[0].asnumpy(), 6 * x, rtol=1e-5, atol=1e-5)


def test_fft_gradient_against_numpy():
    rs = np.random.RandomState(4)
    x = mx.nd.array(rs.uniform(-1, 1, (3, 7)), dtype='float64')
    head = rs.uniform(-1, 1, (3, 14))
    x.attach_grad()
    with mx.autograd.record():
        y = mx.nd.contrib.fft(x)
    y.backward(mx.nd.array(head, dtype='float64'))
    # d/dx_j sum_k <h_k, X_k> = Re(sum_k conj-free h_k e^{+2 pi i jk/d}) = d * Re(ifft(h)).
    np.testing.assert_allclose(x.grad.asnumpy(), np.fft.ifft(_complex(head)).real * 7,
                               atol=1e-12)


def test_ifft_gradient_against_numpy():
    rs = np.random.RandomState(5)
    a = mx.nd.array(rs.uniform(-1, 1, (2, 16)), dtype='float64')
    head = rs.uniform(-1, 1, (2, 8))
    a.attach_grad()
    with mx.autograd.record():
        y = mx.nd.contrib.ifft(a)
    y.backward(mx.nd.array(head, dtype='float64'))
    np.testing.assert_allclose(a.grad.asnumpy(), _np_fft(head), atol=1e-12)


def test_fft_errors():
    with pytest.raises(_ERR, match=r'_contrib_ifft.*even'):
        mx.nd.contrib.ifft(mx.nd.ones((2, 5)))
    with pytest.raises(_ERR, match=r'_contrib_fft.*int32'):
        mx.nd.contrib.fft(mx.nd.ones((2, 4), dtype='int32'))
    with pytest.raises(_ERR, match=r'_contrib_ifft.*uint8'):
        mx.nd.contrib.ifft(mx.nd.ones((2, 4), dtype='uint8'))
    with pytest.raises(_ERR, match=r'compute_size.*_contrib_fft'):
        mx.nd.contrib.fft(mx.nd.ones((2, 4)), compute_size=0)


# ---------------------------------------------------------------- hawkesll

# Seeded inputs (np.random.RandomState(7)) and MXNet 1.9.1's outputs for them.
_LDA = [[0.6144624340609357, 1.6698781883601719], [1.1576138471613402, 1.5851977667464119],
        [1.9669842679949041, 1.3077438056156505]]
_ALPHA = [0.350560231829969, 0.13602556667988078]
_BETA = [0.9026584701528068, 1.2498237512383399]
_STATE = [[0.6792299961209405, 0.8037390361043755], [0.3809411331485384, 0.06593634690590511],
          [0.28814559930799355, 0.9095935277196137]]
_LAGS = [[0.29204681822192397, 0.5069115656359148, 0.9380854177201196, 0.12240930479531321,
          0.6404940257177103],
         [0.955116550372281, 0.30727259111886834, 0.5936409273124273, 0.9182155373980582,
          0.21985250118332517],
         [0.5710713226063893, 0.7753688731918313, 0.7021119167955224, 0.5209775737704827,
          0.28436418126801555]]
_MARKS = [[1, 0, 0, 0, 1], [1, 0, 1, 1, 0], [1, 1, 1, 0, 1]]
_VL = [5., 3., 0.]
_MT = [2.9999471320909814, 3.4940981073849597, 3.353893867632242]
_MX_LL = [-7.553748329144996, -9.135386565068561, -11.201066992048325]
_MX_STATE = [[0.8594515012630886, 0.588120016840303], [0.14965029037701694, 0.1717861954959968],
             [0.01395789252967296, 0.01375251250529573]]
# Gradients of sum(ll * [1, -2, 0.5]) (mx.autograd in MXNet 1.9.1, float64).
_MX_GLDA = [[0.5928077616415315, -1.8403984277382448], [5.316214050698597, 4.51077923605964],
            [-1.676946933816121, -1.676946933816121]]
_MX_GALPHA = [1.5820908610895748, 1.0577937490058384]
_MX_GBETA = [0.09137834592351055, 0.04861168639964025]
_W = [1.0, -2.0, 0.5]


def _np_hawkesll(lda, alpha, beta, state, lags, marks, vl, mt):
    n, k = lda.shape
    ll = np.zeros(n)
    st = np.array(state, dtype=np.float64)
    for i in range(n):
        last = np.zeros(k)
        t = 0.0
        for j in range(int(np.ceil(vl[i]))):
            c = marks[i, j]
            t += lags[i, j]
            d = t - last[c]
            ed = np.exp(-beta[c] * d)
            intensity = lda[i, c] + alpha[c] * beta[c] * st[i, c] * ed
            ll[i] += np.log(intensity) - lda[i, c] * d - alpha[c] * st[i, c] * (1 - ed)
            st[i, c] = 1 + st[i, c] * ed
            last[c] = t
        d = mt[i] - last
        ed = np.exp(-beta * d)
        ll[i] -= np.sum(lda[i] * d + alpha * st[i] * (1 - ed))
        st[i] *= ed
    return ll, st


def _hawkes_inputs(dtype):
    arrs = [mx.nd.array(np.array(v), dtype=dtype)
            for v in (_LDA, _ALPHA, _BETA, _STATE, _LAGS)]
    return arrs + [mx.nd.array(np.array(_MARKS), dtype='int32'),
                   mx.nd.array(np.array(_VL), dtype=dtype), mx.nd.array(np.array(_MT), dtype=dtype)]


@pytest.mark.parametrize('dtype,tol', [('float64', 1e-6), ('float32', 2e-5)])
def test_hawkesll_matches_mxnet(dtype, tol):
    ins = _hawkes_inputs(dtype)
    for a in ins[:4]:
        a.attach_grad()
    with mx.autograd.record():
        ll, st = mx.nd.contrib.hawkesll(*ins)
        loss = (ll * mx.nd.array(_W, dtype=dtype)).sum()
    loss.backward()
    assert ll.dtype == np.dtype(dtype) and ll.shape == (3,) and st.shape == (3, 2)
    np.testing.assert_allclose(ll.asnumpy(), _MX_LL, rtol=tol)
    np.testing.assert_allclose(st.asnumpy(), _MX_STATE, rtol=tol)
    np.testing.assert_allclose(ins[0].grad.asnumpy(), _MX_GLDA, rtol=tol, atol=tol)
    np.testing.assert_allclose(ins[1].grad.asnumpy(), _MX_GALPHA, rtol=tol)
    np.testing.assert_allclose(ins[2].grad.asnumpy(), _MX_GBETA, rtol=10 * tol)
    # MXNet's backward leaves the state gradient at zero.
    np.testing.assert_array_equal(ins[3].grad.asnumpy(), np.zeros((3, 2)))


def test_hawkesll_matches_numpy_reimplementation():
    rs = np.random.RandomState(11)
    n, t, k = 5, 9, 3
    lda = rs.uniform(0.2, 2, (n, k))
    alpha = rs.uniform(0.1, 0.8, k)
    beta = rs.uniform(0.3, 3, k)
    state = rs.uniform(0, 2, (n, k))
    lags = rs.uniform(0.01, 1, (n, t))
    marks = rs.randint(0, k, (n, t))
    vl = np.array([9, 0, 4, 7, 1], dtype=np.float64)
    mt = lags.sum(1) + 1.0
    want_ll, want_st = _np_hawkesll(lda, alpha, beta, state, lags, marks, vl, mt)
    ll, st = mx.nd.contrib.hawkesll(
        *[mx.nd.array(a, dtype='float64') for a in (lda, alpha, beta, state, lags)],
        mx.nd.array(marks, dtype='int32'), mx.nd.array(vl, dtype='float64'),
        mx.nd.array(mt, dtype='float64'))
    np.testing.assert_allclose(ll.asnumpy(), want_ll, rtol=1e-12)
    np.testing.assert_allclose(st.asnumpy(), want_st, rtol=1e-12)


def test_hawkesll_symbol_outputs():
    names = ['lda', 'alpha', 'beta', 'state', 'lags', 'marks', 'valid_length', 'max_time']
    s = mx.sym.contrib.hawkesll(*[mx.sym.Variable(x) for x in names])
    assert s.list_arguments() == names
    assert len(s.list_outputs()) == 2
    _, shapes, _ = s.infer_shape(lda=(4, 3), alpha=(3,), beta=(3,), state=(4, 3), lags=(4, 6),
                                 marks=(4, 6), valid_length=(4,), max_time=(4,))
    assert shapes == [(4,), (4, 3)]


def test_hawkesll_errors():
    good = _hawkes_inputs('float64')
    bad = list(good)
    bad[1] = mx.nd.ones((3,), dtype='float64')
    with pytest.raises(_ERR, match=r'_contrib_hawkesll.*alpha must have shape \[2\]'):
        mx.nd.contrib.hawkesll(*bad)
    bad = list(good)
    bad[7] = mx.nd.ones((3,), dtype='float32')
    with pytest.raises(_ERR, match=r'_contrib_hawkesll.*max_time has dtype float32'):
        mx.nd.contrib.hawkesll(*bad)
    bad = list(good)
    bad[5] = mx.nd.array(np.full((3, 5), 2), dtype='int32')
    with pytest.raises(_ERR, match=r'_contrib_hawkesll.*marks holds 2'):
        mx.nd.contrib.hawkesll(*bad)[0].asnumpy()
    bad = list(good)
    bad[6] = mx.nd.array([6., 1., 1.], dtype='float64')
    with pytest.raises(_ERR, match=r'_contrib_hawkesll.*valid_length holds 6'):
        mx.nd.contrib.hawkesll(*bad)[0].asnumpy()
    with pytest.raises(_ERR, match=r'_contrib_hawkesll.*8 input'):
        mx.nd.contrib.hawkesll(*good[:7])


# ---------------------------------------------------------------- _set_value

@pytest.mark.parametrize('dtype,want', [('float32', 2.5), ('float64', 2.5), ('float16', 2.5),
                                        ('int32', 2), ('int64', 2), ('uint8', 2), ('bool', True)])
def test_set_value_fills_out_in_place(dtype, want):
    a = mx.nd.zeros((2, 3), dtype=dtype)
    r = mx.nd._internal._set_value(src=2.5, out=a)
    assert r is a
    assert a.dtype == np.dtype(dtype) and a.shape == (2, 3)
    np.testing.assert_array_equal(a.asnumpy(), np.full((2, 3), want, dtype=dtype))


def test_set_value_on_a_view_and_any_shape():
    a = mx.nd.zeros((4, 3))
    mx.nd._internal._set_value(src=-1.0, out=a[1:3])
    np.testing.assert_array_equal(a.asnumpy(), [[0] * 3, [-1] * 3, [-1] * 3, [0] * 3])
    b = mx.nd.ones((2, 1, 3, 2), dtype='float64')
    mx.nd._internal._set_value(src=7, out=b)
    np.testing.assert_array_equal(b.asnumpy(), np.full((2, 1, 3, 2), 7.0))


def test_set_value_needs_out():
    with pytest.raises(_ERR, match=r'_set_value.*out='):
        mx.nd._internal._set_value(src=1.0)
