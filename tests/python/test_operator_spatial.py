"""GridGenerator, BilinearSampler, SpatialTransformer, ROIPooling and CTCLoss: numpy oracles
written here for the forward, finite differences for the gradients, a brute-force sum over
alignments for CTC, MXNet 1.9.1's printed numbers for fixed inputs, symbol signatures as MXNet
lists them, and the bad-input errors."""
import itertools

import numpy as np
import pytest

import oxnet as mx
from tight import assert_almost_equal
from test_operator_extra import _check_grad  # the shared finite-difference check

ERRORS = (mx.MXNetError, IndexError, ValueError)


# ----------------------------------------------------------------------------- numpy oracles


def np_affine_grid(loc, h, w):
    xs = np.tile(np.linspace(-1, 1, w), h)
    ys = np.repeat(np.linspace(-1, 1, h), w)
    dst = np.stack([xs, ys, np.ones(h * w)])  # (3, h*w)
    return (loc.reshape(-1, 2, 3) @ dst).reshape(-1, 2, h, w)


def np_warp_grid(flow):
    _, _, h, w = flow.shape
    gx = (flow[:, 0] + np.arange(w)[None, None, :]) / ((w - 1) / 2) - 1
    gy = (flow[:, 1] + np.arange(h)[None, :, None]) / ((h - 1) / 2) - 1
    return np.stack([gx, gy], axis=1)


def np_bilinear(data, grid):
    n, c, ih, iw = data.shape
    oh, ow = grid.shape[2:]
    out = np.zeros((n, c, oh, ow))
    for b, i, j in itertools.product(range(n), range(oh), range(ow)):
        x = (grid[b, 0, i, j] + 1) * (iw - 1) / 2
        y = (grid[b, 1, i, j] + 1) * (ih - 1) / 2
        x0, y0 = int(np.floor(x)), int(np.floor(y))
        for yy, xx in ((y0, x0), (y0, x0 + 1), (y0 + 1, x0), (y0 + 1, x0 + 1)):
            if 0 <= yy < ih and 0 <= xx < iw:
                out[b, :, i, j] += data[b, :, yy, xx] * (1 - abs(y - yy)) * (1 - abs(x - xx))
    return out


def np_roi_pool(data, rois, ph, pw, scale):
    _, c, h, w = data.shape
    out = np.zeros((len(rois), c, ph, pw))
    rnd = lambda v: int(np.floor(abs(v) + 0.5) * np.sign(v))  # C round: half away from zero
    for r, roi in enumerate(rois):
        b = int(roi[0])
        x1, y1, x2, y2 = (rnd(v * np.float32(scale)) for v in roi[1:])
        rh, rw = max(y2 - y1 + 1, 1), max(x2 - x1 + 1, 1)
        for p, q in itertools.product(range(ph), range(pw)):
            hs = min(max(int(np.floor(p * rh / ph)) + y1, 0), h)
            he = min(max(int(np.ceil((p + 1) * rh / ph)) + y1, 0), h)
            ws = min(max(int(np.floor(q * rw / pw)) + x1, 0), w)
            we = min(max(int(np.ceil((q + 1) * rw / pw)) + x1, 0), w)
            if he > hs and we > ws:
                out[r, :, p, q] = data[b, :, hs:he, ws:we].max(axis=(1, 2))
    return out


def brute_ctc(x, label, blank):
    """-log sum over every path of the alphabet whose collapse is `label` (x: (T, C))."""
    t, c = x.shape
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    total = 0.0
    for path in itertools.product(range(c), repeat=t):
        out = [k for i, k in enumerate(path) if k != blank and (i == 0 or k != path[i - 1])]
        if out == list(label):
            total += np.prod(p[np.arange(t), path])
    return -np.log(total)


# ----------------------------------------------------------------------------- grid + sampler


def test_grid_generator_matches_numpy():
    loc = np.random.uniform(-1, 1, (3, 6))
    out = mx.nd.GridGenerator(mx.nd.array(loc, dtype="float64"), transform_type="affine",
                              target_shape=(4, 5)).asnumpy()
    assert_almost_equal(out, np_affine_grid(loc, 4, 5), rtol=1e-12, atol=1e-12)
    flow = np.random.uniform(-2, 2, (2, 2, 3, 4))
    out = mx.nd.GridGenerator(mx.nd.array(flow, dtype="float64"), transform_type="warp").asnumpy()
    assert_almost_equal(out, np_warp_grid(flow), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bilinear_sampler_matches_numpy(dtype):
    data = np.random.uniform(-1, 1, (2, 3, 5, 6))
    grid = np.random.uniform(-1.3, 1.3, (2, 2, 4, 3))  # some samples fall outside
    out = mx.nd.BilinearSampler(mx.nd.array(data, dtype=dtype), mx.nd.array(grid, dtype=dtype),
                                cudnn_off=True)
    assert out.dtype == np.dtype(dtype)
    tol = 1e-5 if dtype == "float32" else 1e-12
    assert_almost_equal(out.asnumpy(), np_bilinear(data, grid), rtol=tol, atol=tol)


def test_spatial_transformer_matches_numpy():
    data = np.random.uniform(-1, 1, (2, 2, 5, 4))
    loc = np.random.uniform(-1.2, 1.2, (2, 6))
    out = mx.nd.SpatialTransformer(mx.nd.array(data, dtype="float64"),
                                   mx.nd.array(loc, dtype="float64"), target_shape=(3, 4),
                                   transform_type="affine", sampler_type="bilinear").asnumpy()
    assert_almost_equal(out, np_bilinear(data, np_affine_grid(loc, 3, 4)), rtol=1e-12, atol=1e-12)


def test_spatial_gradients_match_finite_differences():
    data = np.random.uniform(-1, 1, (2, 2, 4, 5))
    grid = np.random.uniform(-1.2, 1.2, (2, 2, 3, 3))
    loc = np.random.uniform(-1.2, 1.2, (2, 6))
    f64 = lambda a: mx.nd.array(a, dtype="float64")
    _check_grad(lambda g: mx.nd.BilinearSampler(f64(data), g), grid, rtol=1e-4, atol=1e-6)
    _check_grad(lambda d: mx.nd.BilinearSampler(d, f64(grid)), data, rtol=1e-4, atol=1e-6)
    st = dict(target_shape=(3, 3), transform_type="affine", sampler_type="bilinear")
    _check_grad(lambda l: mx.nd.SpatialTransformer(f64(data), l, **st), loc, rtol=1e-4, atol=1e-6)
    _check_grad(lambda d: mx.nd.SpatialTransformer(d, f64(loc), **st), data, rtol=1e-4, atol=1e-6)
    _check_grad(lambda x: mx.nd.GridGenerator(x, transform_type="affine", target_shape=(2, 3)),
                loc)
    _check_grad(lambda x: mx.nd.GridGenerator(x, transform_type="warp"),
                np.random.uniform(-2, 2, (1, 2, 3, 4)))


def _spatial_inputs():
    data = np.sin(np.arange(2 * 2 * 4 * 5)).reshape(2, 2, 4, 5)
    grid = (1.2 * np.cos(np.arange(2 * 2 * 3 * 3) * 0.7)).reshape(2, 2, 3, 3)
    head = np.cos(np.arange(2 * 2 * 3 * 3) * 0.3).reshape(2, 2, 3, 3)
    loc = np.array([[0.9, 0.2, -0.1, -0.15, 1.1, 0.05], [1.3, -0.4, 0.3, 0.5, 0.7, -0.2]])
    return [mx.nd.array(a) for a in (data, grid, head, loc)]


def test_spatial_values_printed_by_mxnet():
    d, g, head, loc = _spatial_inputs()
    d.attach_grad(), g.attach_grad(), loc.attach_grad()
    with mx.autograd.record():
        o = mx.nd.BilinearSampler(d, g)
    o.backward(head)
    # Printed by MXNet 1.9.1 for these inputs (float32).
    assert_almost_equal(o.asnumpy()[1, 0].ravel(), [
        0.268912, 0.518657, 0.519712, 0.502404, 0.412081, 0.494372, 0.606389, 0.598359,
        0.612982], atol=2e-6)
    assert_almost_equal(d.grad.asnumpy()[0, 1].ravel(), [
        -0.826017, -0.36912, 0.0, 0.0, 0.0, -0.131259, -0.511421, -0.124417, -0.084929, 0.0,
        0.0, 0.0, -0.411917, -0.297526, -0.09058, 0.0, 0.0, 0.0, -0.091521, -0.790952], atol=2e-6)
    assert_almost_equal(g.grad.asnumpy()[1].ravel(), [
        -0.719558, 0.093312, -0.282675, 0.55917, 1.567754, 1.540537, 1.125257, 0.808258,
        0.839708, -0.462107, 0.802495, 0.466905, -0.169116, 1.080568, 1.065137, -0.404603,
        -0.156175, -0.334597], atol=1e-5)
    with mx.autograd.record():
        o = mx.nd.SpatialTransformer(d, loc, target_shape=(3, 3), transform_type="affine",
                                     sampler_type="bilinear")
    o.backward(head)
    assert_almost_equal(o.asnumpy()[0, 1].ravel(), [
        0.45369, 0.461069, -0.600664, -0.816896, 0.597177, 0.062713, -0.359492, -0.353056,
        0.963795], atol=2e-6)
    assert_almost_equal(loc.grad.asnumpy().ravel(), [
        2.00257, 0.762395, -2.268342, -1.29771, -2.845393, 1.404744, 0.48985, -0.676163,
        -1.320562, 1.030324, -2.026783, -1.370647], atol=2e-5)
    assert_almost_equal(d.grad.asnumpy()[1, 0].ravel(), [
        0.600698, 0.203102, 0.0, 0.425703, 0.283802, 0.510772, 0.0, 0.304074, 0.531236,
        0.050083, 0.060835, 0.051995, 0.284, 0.114028, 0.0, 0.0, 0.017332, 0.069327, 0.0,
        0.032373], atol=2e-6)
    flow = mx.nd.array((np.sin(np.arange(2 * 2 * 3 * 4) * 1.3) * 2).reshape(2, 2, 3, 4))
    assert_almost_equal(mx.nd.GridGenerator(flow, transform_type="warp").asnumpy()[1].ravel(), [
        -1.28567, 0.84516, 1.249495, 0.31165, -2.284427, -0.332149, 1.618394, 1.68632,
        -1.917881, -1.510718, 0.621316, 2.331455, -0.363487, -2.656649, -2.522816, -0.158054,
        1.973255, 0.213741, -1.858904, -1.208251, 2.212493, 2.856931, 0.780961, -0.974117],
        atol=2e-6)
    aff = mx.nd.GridGenerator(loc, transform_type="affine", target_shape=(2, 3)).asnumpy()[1]
    assert_almost_equal(aff.ravel(), [-0.6, 0.7, 2.0, -1.4, -0.1, 1.2, -1.4, -0.9, -0.4, 0.0,
                                      0.5, 1.0], atol=2e-6)


def test_sampler_at_nan_grid_points_reads_and_scatters_nothing():
    # Printed by MXNet 1.9.1: a NaN coordinate samples nothing (the output is NaN), sends no
    # gradient to the data, and the grid gradient is NaN only along the other coordinate.
    x = mx.nd.arange(8).reshape((1, 2, 2, 2))
    grid = mx.nd.array([[[[np.nan, 0.5]], [[0.2, np.nan]]]])
    x.attach_grad(), grid.attach_grad()
    with mx.autograd.record():
        y = mx.nd.BilinearSampler(x, grid)
    y.backward(mx.nd.ones_like(y))
    assert np.isnan(y.asnumpy()).all()
    assert (x.grad.asnumpy() == 0).all()
    np.testing.assert_array_equal(grid.grad.asnumpy(), [[[[0, np.nan]], [[np.nan, 0]]]])
    # An affine grid for a target of height 1 divides by zero: NaN everywhere, data grad 0.
    d = mx.nd.arange(4).reshape((1, 1, 2, 2)).astype("float64")
    loc = mx.nd.array([[1, 0, 0, 0, 1, 0]], dtype="float64")
    d.attach_grad(), loc.attach_grad()
    with mx.autograd.record():
        o = mx.nd.SpatialTransformer(d, loc, target_shape=(1, 2), transform_type="affine",
                                     sampler_type="bilinear")
    o.backward(mx.nd.ones_like(o))
    assert np.isnan(o.asnumpy()).all() and (d.grad.asnumpy() == 0).all()


def test_spatial_symbols_match_mxnet():
    d = mx.sym.Variable("data")
    s = mx.sym.GridGenerator(d, transform_type="affine", target_shape=(3, 4), name="g")
    assert s.list_arguments() == ["data"] and s.list_outputs() == ["g_output"]
    assert s.infer_shape(data=(2, 6)) == ([(2, 6)], [(2, 2, 3, 4)], [])
    s = mx.sym.GridGenerator(d, transform_type="warp")
    assert s.infer_shape(data=(2, 2, 3, 4))[1] == [(2, 2, 3, 4)]
    s = mx.sym.BilinearSampler(d, mx.sym.Variable("grid"), name="b", cudnn_off=True)
    assert s.list_arguments() == ["data", "grid"] and s.list_outputs() == ["b_output"]
    assert s.infer_shape(data=(2, 3, 5, 6), grid=(2, 2, 4, 7)) == (
        [(2, 3, 5, 6), (2, 2, 4, 7)], [(2, 3, 4, 7)], [])
    assert s.attr_dict() == {"b": {"cudnn_off": "True"}}
    s = mx.sym.SpatialTransformer(d, target_shape=(4, 5), transform_type="affine",
                                  sampler_type="bilinear", name="st")
    assert s.list_arguments() == ["data", "st_loc"]
    assert s.infer_shape(data=(2, 3, 5, 6), st_loc=(2, 6))[1] == [(2, 3, 4, 5)]
    assert s.list_auxiliary_states() == []
    s2 = mx.sym.load_json(s.tojson())
    assert s2.list_arguments() == ["data", "st_loc"]
    assert s2.attr_dict()["st"]["target_shape"] == "(4, 5)"


def test_spatial_bad_inputs():
    d = mx.nd.zeros((1, 1, 4, 4))
    with pytest.raises(ERRORS, match=r"BilinearSampler.*grid"):
        mx.nd.BilinearSampler(d, mx.nd.zeros((1, 3, 2, 2))).wait_to_read()
    with pytest.raises(ERRORS, match=r"BilinearSampler.*\[2,2,2,2\]"):
        mx.nd.BilinearSampler(d, mx.nd.zeros((2, 2, 2, 2))).wait_to_read()
    with pytest.raises(ERRORS, match=r"GridGenerator.*\(batch, 6\)"):
        mx.nd.GridGenerator(mx.nd.zeros((2, 4)), transform_type="affine",
                            target_shape=(2, 2)).wait_to_read()
    with pytest.raises(ERRORS, match=r"target_shape.*GridGenerator"):
        mx.nd.GridGenerator(mx.nd.zeros((2, 6)), transform_type="affine").wait_to_read()
    with pytest.raises(ERRORS, match=r"SpatialTransformer.*loc"):
        mx.nd.SpatialTransformer(d, mx.nd.zeros((1, 4)), target_shape=(2, 2),
                                 transform_type="affine", sampler_type="bilinear").wait_to_read()


# ----------------------------------------------------------------------------- ROIPooling


def test_roi_pooling_matches_numpy_and_mxnet_doc():
    x = np.arange(48, dtype=np.float32).reshape(1, 1, 8, 6)
    rois = mx.nd.array([[0, 0, 0, 4, 4]])
    out = mx.nd.ROIPooling(mx.nd.array(x), rois, pooled_size=(2, 2), spatial_scale=1.0)
    assert out.asnumpy().ravel().tolist() == [14, 16, 26, 28]  # MXNet's docstring example
    out = mx.nd.ROIPooling(mx.nd.array(x), rois, pooled_size=(2, 2), spatial_scale=0.7)
    assert out.asnumpy().ravel().tolist() == [7, 9, 19, 21]
    data = np.random.uniform(-1, 1, (2, 3, 9, 10)).astype(np.float32)
    rois = np.array([[0, 1, 1, 9, 7], [1, 0.7, 3.2, 14, 12.5], [1, 8, 8, 2, 2],
                     [0, -6, -4, 3, 2], [1, 30, 30, 40, 40]], dtype=np.float32)
    out = mx.nd.ROIPooling(mx.nd.array(data), mx.nd.array(rois), pooled_size=(3, 4),
                           spatial_scale=0.5).asnumpy()
    assert_almost_equal(out, np_roi_pool(data, rois, 3, 4, 0.5), rtol=0, atol=0)


def _roi_inputs():
    x = np.sin(np.arange(2 * 2 * 6 * 7) * 0.9).reshape(2, 2, 6, 7).astype(np.float32)
    rois = np.array([[0, 1, 1, 5, 4], [1, 0.5, 2.5, 6.9, 5.2], [1, 4, 4, 2, 2], [0, -3, -2, 1, 1],
                     [1, 10, 10, 20, 20], [0, 2.5, 1.5, 12.6, 9.4]], dtype=np.float32)
    return x, rois


def test_roi_pooling_values_printed_by_mxnet():
    x, rois = _roi_inputs()
    xd, r = mx.nd.array(x), mx.nd.array(rois)
    xd.attach_grad(), r.attach_grad()
    with mx.autograd.record():
        o = mx.nd.ROIPooling(xd, r, pooled_size=(3, 2), spatial_scale=0.6)
    o.backward(mx.nd.array(np.cos(np.arange(o.size) * 0.4).reshape(o.shape)))
    # Printed by MXNet 1.9.1: malformed roi 2 pools one pixel, roi 4 lies outside (zeros).
    assert_almost_equal(o.asnumpy().ravel(), [
        0.96989, 0.96989, 0.96989, 0.96989, 0.965658, 0.965658, 0.940429, 0.940429, 0.940429,
        0.940429, 0.934579, 0.934579, 0.906705, 0.893997, 0.913669, 0.893997, 0.913669,
        0.886336, 0.944574, 0.844322, 0.94996, 0.844322, 0.94996, 0.835193, 0.893997, 0.893997,
        0.893997, 0.893997, 0.893997, 0.893997, 0.844322, 0.844322, 0.844322, 0.844322,
        0.844322, 0.844322, 0.0, 0.0, 0.0, 0.783327, 0.0, 0.793668, 0.0, 0.0, 0.0, 0.841951,
        0.0, 0.850904, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.96989,
        -0.750987, 0.961153, -0.728361, 0.951329, -0.716737, 0.940429, -0.680663, 0.928466,
        -0.655646, 0.915453, -0.642858], atol=2e-6)
    g = xd.grad.asnumpy().ravel()
    nz = [(1, -0.994178), (8, -0.769948), (9, 3.404305), (16, -0.445346), (20, 0.743344),
          (23, 0.94515), (34, 0.997739), (37, 0.892806), (41, 0.646919), (43, 0.660317),
          (50, 0.998772), (51, -3.275771), (58, -0.960976), (62, -0.096313), (65, -0.476318),
          (76, -0.781123), (79, -0.962606), (83, -0.992114), (99, 0.087499), (100, -0.379092),
          (106, 1.768751), (107, 0.869397), (141, 0.608351), (142, 3.989175), (148, -0.956593),
          (149, -0.974844)]
    assert np.flatnonzero(g).tolist() == [i for i, _ in nz]
    assert_almost_equal(g[[i for i, _ in nz]], [v for _, v in nz], atol=1e-5)
    assert np.abs(r.grad.asnumpy()).sum() == 0  # MXNet writes zeros for the rois


def test_roi_pooling_gradient_matches_finite_differences():
    # Distinct values: no ties within the finite-difference step.
    x = np.random.permutation(2 * 2 * 5 * 6).reshape(2, 2, 5, 6) / 10.0
    rois = mx.nd.array([[0, 0, 0, 10, 8], [1, 2, 1.4, 8.6, 7.3], [1, 6, 6, 2, 2]],
                       dtype="float64")
    _check_grad(lambda d: mx.nd.ROIPooling(d, rois, pooled_size=(2, 3), spatial_scale=0.5), x)


def test_roi_pooling_symbol_and_errors():
    s = mx.sym.ROIPooling(mx.sym.Variable("data"), mx.sym.Variable("rois"), pooled_size=(2, 2),
                          spatial_scale=0.5, name="r")
    assert s.list_arguments() == ["data", "rois"] and s.list_outputs() == ["r_output"]
    assert s.infer_shape(data=(2, 3, 5, 6), rois=(4, 5)) == (
        [(2, 3, 5, 6), (4, 5)], [(4, 3, 2, 2)], [])
    d = mx.nd.zeros((2, 1, 4, 4))
    with pytest.raises(ERRORS, match=r"ROIPooling.*batch index 2.*batch size 2"):
        mx.nd.ROIPooling(d, mx.nd.array([[2, 0, 0, 1, 1]]), pooled_size=(2, 2),
                         spatial_scale=1).wait_to_read()
    with pytest.raises(ERRORS, match=r"ROIPooling.*\[3,4\]"):
        mx.nd.ROIPooling(d, mx.nd.zeros((3, 4)), pooled_size=(2, 2), spatial_scale=1)
    with pytest.raises(ERRORS, match=r"spatial_scale"):
        mx.nd.ROIPooling(d, mx.nd.zeros((1, 5)), pooled_size=(2, 2), spatial_scale=2)
    with pytest.raises(ERRORS, match=r"pooled_size"):
        mx.nd.ROIPooling(d, mx.nd.zeros((1, 5)), pooled_size=(2, 0), spatial_scale=1)


# ----------------------------------------------------------------------------- CTCLoss


def test_ctc_matches_brute_force_alignments():
    t, n, c = 4, 4, 3
    x = np.random.uniform(-1, 1, (t, n, c))
    lab = np.array([[1, 2, 0], [2, 2, 0], [0, 0, 0], [1, 0, 2]], dtype=np.float64)
    loss = mx.nd.CTCLoss(mx.nd.array(x, dtype="float64"), mx.nd.array(lab)).asnumpy()
    want = [brute_ctc(x[:, b], l, 0) for b, l in enumerate([[1, 2], [2, 2], [], [1]])]
    assert_almost_equal(loss, want, rtol=1e-10, atol=1e-10)
    # blank 'last' (2): -1 pads, data and label lengths given.
    lab = np.array([[0, 1, -1], [1, 1, 0], [0, -1, -1], [1, 0, 0]], dtype=np.float64)
    dl, ll = [4, 3, 2, 4], [2, 2, 1, 3]
    loss = mx.nd.ctc_loss(mx.nd.array(x, dtype="float64"), mx.nd.array(lab), mx.nd.array(dl),
                          mx.nd.array(ll), use_data_lengths=True, use_label_lengths=True,
                          blank_label="last").asnumpy()
    want = [brute_ctc(x[:dl[b], b], lab[b, :ll[b]].astype(int).tolist(), 2) for b in range(n)]
    assert_almost_equal(loss, want, rtol=1e-10, atol=1e-10)


def test_ctc_gradient_matches_finite_differences():
    x = np.random.uniform(-1, 1, (5, 3, 4))
    lab = mx.nd.array([[1, 2, 2], [3, 0, 0], [1, 3, 0]], dtype="float64")
    _check_grad(lambda a: mx.nd.CTCLoss(a, lab), x, rtol=1e-5, atol=1e-8)
    dl, ll = mx.nd.array([5, 3, 4]), mx.nd.array([3, 1, 2])
    _check_grad(lambda a: mx.nd.contrib.CTCLoss(a, lab, dl, ll, use_data_lengths=True,
                                                use_label_lengths=True), x, rtol=1e-5, atol=1e-8)


def test_ctc_values_printed_by_mxnet():
    t, n, c = 5, 3, 4
    a = mx.nd.array((np.sin(np.arange(t * n * c) * 0.77) * 1.5).reshape(t, n, c))
    lab = mx.nd.array([[1, 2, 2], [3, 0, 0], [1, 3, 0]])
    a.attach_grad()
    with mx.autograd.record():
        o = mx.nd.CTCLoss(a, lab)
    o.backward(mx.nd.array([1.0, 0.5, -2.0]))
    # Printed by MXNet 1.9.1 for these inputs (float32).
    assert_almost_equal(o.asnumpy(), [3.933061, 3.927537, 4.05889], atol=1e-5)
    assert_almost_equal(a.grad.asnumpy()[:, 0].ravel(), [
        0.017522, -0.67908, 0.3946, 0.266958, -0.023233, -0.078289, -0.021845, 0.123367,
        0.038127, 0.172443, -0.599736, 0.389166, -0.358074, 0.210687, 0.080906, 0.066482,
        0.040985, 0.118635, -0.667235, 0.507615], atol=2e-5)
    assert_almost_equal(a.grad.asnumpy()[:, 2].ravel(), [
        0.486961, 0.918553, -0.792904, -0.61261, -0.10009, 0.419157, -0.18785, -0.131218,
        0.35971, 0.614022, -0.736978, -0.236755, 0.014394, -0.189568, -0.161037, 0.336211,
        0.226971, -0.212841, -0.625969, 0.611839], atol=2e-5)
    labl = mx.nd.array([[0, 2, 1], [2, 2, -1], [1, -1, -1]])
    with mx.autograd.record():
        o = mx.nd.CTCLoss(a, labl, mx.nd.array([5, 4, 2]), blank_label="last",
                          use_data_lengths=True)
    o.backward()
    assert_almost_equal(o.asnumpy(), [4.221429, 4.984341, 2.065858], atol=1e-5)
    assert_almost_equal(a.grad.asnumpy()[:, 1].ravel(), [
        0.545927, 0.187582, -0.637881, -0.095628, 0.064272, 0.196171, -0.039042, -0.221401,
        0.628167, 0.203838, -0.320934, -0.511071, 0.044624, 0.133626, -0.414743, 0.236493,
        0.0, 0.0, 0.0, 0.0], atol=2e-5)
    o = mx.nd.contrib.ctc_loss(a, lab, mx.nd.array([2, 1, 2]), use_label_lengths=True)
    assert_almost_equal(o.asnumpy(), [4.225688, 3.927537, 4.05889], atol=1e-5)


def test_ctc_infeasible_label_costs_zero():
    # MXNet 1.9.1 returns 0 when the label cannot fit (its gradient there is uninitialised
    # memory; here it is zero).
    a = mx.nd.array(np.random.uniform(-1, 1, (3, 1, 3)))
    a.attach_grad()
    with mx.autograd.record():
        o = mx.nd.CTCLoss(a, mx.nd.array([[1, 1, 1]]))
    o.backward()
    assert o.asnumpy().tolist() == [0.0]
    assert np.abs(a.grad.asnumpy()).sum() == 0


def test_ctc_symbol_matches_mxnet():
    d, l = mx.sym.Variable("data"), mx.sym.Variable("label")
    s = mx.sym.CTCLoss(d, l, name="c")
    assert s.list_arguments() == ["data", "label"] and s.list_outputs() == ["c_output0"]
    assert s.infer_shape(data=(5, 2, 4), label=(2, 3)) == ([(5, 2, 4), (2, 3)], [(2,)], [])
    s = mx.sym.CTCLoss(d, l, mx.sym.Variable("dl"), mx.sym.Variable("ll"), use_data_lengths=True,
                       use_label_lengths=True, name="c")
    assert s.list_arguments() == ["data", "label", "dl", "ll"]
    assert s.infer_shape(data=(5, 2, 4), label=(2, 3), dl=(2,), ll=(2,))[1] == [(2,)]
    s = mx.sym.CTCLoss(d, l, use_label_lengths=True, name="c")
    assert s.list_arguments() == ["data", "label", "c_label_lengths"]
    s = mx.sym.contrib.ctc_loss(d, l, use_data_lengths=True, name="c")
    assert s.list_arguments() == ["data", "label", "c_data_lengths"]
    s2 = mx.sym.load_json(s.tojson())
    assert s2.list_arguments() == ["data", "label", "c_data_lengths"]


def test_ctc_bad_inputs():
    x = mx.nd.zeros((3, 2, 4))
    with pytest.raises(ERRORS, match=r"CTCLoss.*label.*\[3,2\]"):
        mx.nd.CTCLoss(x, mx.nd.ones((3, 2)))
    with pytest.raises(ERRORS, match=r"CTCLoss.*cannot exceed"):
        mx.nd.CTCLoss(x, mx.nd.ones((2, 4)))
    with pytest.raises(ERRORS, match=r"CTCLoss.*label\[0, 1\] = 4"):
        mx.nd.CTCLoss(x, mx.nd.array([[1, 4], [1, 0]])).wait_to_read()
    with pytest.raises(ERRORS, match=r"CTCLoss.*data_lengths\[1\] = 5"):
        mx.nd.CTCLoss(x, mx.nd.ones((2, 2)), mx.nd.array([3, 5]),
                      use_data_lengths=True).wait_to_read()
    with pytest.raises(ERRORS, match=r"CTCLoss.*takes 3 inputs"):
        mx.nd.CTCLoss(x, mx.nd.ones((2, 2)), use_label_lengths=True)
