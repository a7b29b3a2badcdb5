"""Object-detection contrib operators (box_iou, box_nms, bipartite_matching, box_encode/decode,
MultiBoxPrior/Target/Detection, ROIAlign) against numpy references and values MXNet 1.9.1
printed (its docstring examples and probe runs)."""
import numpy as np
import pytest

import oxnet as mx


def _boxes(rng, n):
    xy = rng.uniform(0, 0.6, (n, 2))
    wh = rng.uniform(0.05, 0.45, (n, 2))
    return np.concatenate([xy, xy + wh], 1).astype(np.float32)


def _iou(a, b):
    w = np.maximum(0, np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]))
    h = np.maximum(0, np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]))
    area = lambda q: (q[:, 2] - q[:, 0]) * (q[:, 3] - q[:, 1])
    i = w * h
    return i / (area(a)[:, None] + area(b)[None, :] - i)


def test_box_iou_numpy_and_mxnet_doc():
    rng = np.random.RandomState(0)
    a, b = _boxes(rng, 6), _boxes(rng, 5)
    out = mx.nd.contrib.box_iou(mx.nd.array(a.reshape(2, 3, 4)), mx.nd.array(b))
    assert out.shape == (2, 3, 5)
    np.testing.assert_allclose(out.asnumpy().reshape(6, 5), _iou(a, b), rtol=1e-5, atol=1e-7)
    x = mx.nd.array([[0.5, 0.5, 1.0, 1.0], [0.0, 0.0, 0.5, 0.5]])
    y = mx.nd.array([[0.25, 0.25, 0.75, 0.75]])
    np.testing.assert_allclose(mx.nd.contrib.box_iou(x, y, format='corner').asnumpy(),
                               [[0.14285715], [0.14285715]], rtol=1e-6)
    # center format = corner format of the converted boxes
    c = np.concatenate([(a[:, :2] + a[:, 2:]) / 2, a[:, 2:] - a[:, :2]], 1)
    d = np.concatenate([(b[:, :2] + b[:, 2:]) / 2, b[:, 2:] - b[:, :2]], 1)
    np.testing.assert_allclose(mx.nd.contrib.box_iou(mx.nd.array(c), mx.nd.array(d), format='center').asnumpy(),
                               _iou(a, b), rtol=1e-4, atol=1e-6)
    with pytest.raises(mx.MXNetError, match="lhs"):
        mx.nd.contrib.box_iou(mx.nd.zeros((3, 5)), mx.nd.zeros((2, 4)))
    with pytest.raises(mx.MXNetError, match="format"):
        mx.nd.contrib.box_iou(x, y, format='xyz')
    # zero gradients, as MXNet
    x.attach_grad()
    with mx.autograd.record():
        z = mx.nd.contrib.box_iou(x, y)
    z.backward()
    assert (x.grad.asnumpy() == 0).all()


def test_box_nms_mxnet_doc_example_and_gradient():
    x = mx.nd.array([[0, 0.5, 0.1, 0.1, 0.2, 0.2], [1, 0.4, 0.1, 0.1, 0.2, 0.2],
                     [0, 0.3, 0.1, 0.1, 0.14, 0.14], [2, 0.6, 0.5, 0.5, 0.7, 0.8]])
    x.attach_grad()
    with mx.autograd.record():
        y = mx.nd.contrib.box_nms(x, overlap_thresh=0.1, coord_start=2, score_index=1, id_index=0,
                                  force_suppress=True, in_format='corner', out_format='corner')
    np.testing.assert_allclose(y.asnumpy(), [[2, 0.6, 0.5, 0.5, 0.7, 0.8], [0, 0.5, 0.1, 0.1, 0.2, 0.2],
                                             [-1] * 6, [-1] * 6], rtol=1e-6)
    y.backward(mx.nd.array([[0.1] * 6, [0.2] * 6, [0.3] * 6, [0.4] * 6]))
    np.testing.assert_allclose(x.grad.asnumpy(), [[0.2] * 6, [0] * 6, [0] * 6, [0.1] * 6], rtol=1e-6)
    # the alias
    z = mx.nd.contrib.box_non_maximum_suppression(x, overlap_thresh=0.1, id_index=0, force_suppress=True)
    np.testing.assert_array_equal(z.asnumpy(), y.asnumpy())


def _greedy_nms(rows, thresh):
    order = sorted(range(len(rows)), key=lambda i: -rows[i][1])
    kept = []
    for i in order:
        if all(_iou(rows[k:k + 1, 2:], rows[i:i + 1, 2:])[0, 0] <= thresh for k in kept):
            kept.append(i)
    out = -np.ones_like(rows)
    out[:len(kept)] = rows[kept]
    return out


def test_box_nms_is_greedy_nms_on_random_boxes():
    rng = np.random.RandomState(1)
    data = np.concatenate([rng.randint(0, 3, (3, 10, 1)), rng.uniform(0.1, 1, (3, 10, 1)),
                           _boxes(rng, 30).reshape(3, 10, 4)], 2).astype(np.float32)
    out = mx.nd.contrib.box_nms(mx.nd.array(data), overlap_thresh=0.3).asnumpy()
    for b in range(3):
        np.testing.assert_allclose(out[b], _greedy_nms(data[b], 0.3), rtol=1e-6)


def test_box_nms_symbol_outputs_and_json():
    s = mx.sym.contrib.box_nms(mx.sym.var('data'), name='nms')
    assert s.list_outputs() == ['nms_output0']
    assert s.infer_shape(data=(2, 8, 6)) == ([(2, 8, 6)], [(2, 8, 6)], [])
    s2 = mx.sym.load_json(s.tojson())
    assert s2.list_outputs() == ['nms_output0']
    t = mx.sym.contrib.MultiBoxTarget(mx.sym.var('a'), mx.sym.var('l'), mx.sym.var('c'), name='mt')
    assert t.list_outputs() == ['mt_loc_target', 'mt_loc_mask', 'mt_cls_target']
    b = mx.sym.contrib.bipartite_matching(mx.sym.var('data'), threshold=0.1, name='bm')
    assert b.list_outputs() == ['bm_output0', 'bm_output1']


def test_box_nms_bad_layout_names_the_argument():
    with pytest.raises(mx.MXNetError, match="at least 6"):
        mx.nd.contrib.box_nms(mx.nd.zeros((3, 5)), id_index=0)
    with pytest.raises(mx.MXNetError, match="score_index"):
        mx.nd.contrib.box_nms(mx.nd.zeros((3, 6)), score_index=3)


def test_bipartite_matching_mxnet_doc_and_topk():
    s = mx.nd.array([[0.5, 0.6], [0.1, 0.2], [0.3, 0.4]])
    x, y = mx.nd.contrib.bipartite_matching(s, threshold=1e-12, is_ascend=False)
    np.testing.assert_array_equal(x.asnumpy(), [1, -1, 0])
    np.testing.assert_array_equal(y.asnumpy(), [2, 0])
    # MXNet 1.9.1 keeps topk + 1 pairs
    x, y = mx.nd.contrib.bipartite_matching(s, threshold=1e-12, topk=1)
    np.testing.assert_array_equal(x.asnumpy(), [1, -1, 0])
    # No rows (or no columns): every match of the other side is -1, in calls and in graphs
    # (the column matches were left unwritten).
    for shape in ((2, 2, 0, 3), (2, 3, 0)):
        x, y = mx.nd.contrib.bipartite_matching(mx.nd.zeros(shape), threshold=0.5)
        np.testing.assert_array_equal(y.asnumpy(), -np.ones(shape[:-2] + shape[-1:]))
        assert x.shape == shape[:-1]
        g = mx.sym.contrib.bipartite_matching(mx.sym.var("a"), threshold=0.5)
        ex = g.bind(mx.cpu(), args={"a": mx.nd.zeros(shape)})
        ex.forward()
        np.testing.assert_array_equal(ex.outputs[1].asnumpy(), y.asnumpy())


def test_box_encode_decode_round_trip():
    rng = np.random.RandomState(2)
    anchors = _boxes(rng, 5).reshape(1, 5, 4)
    refs = _boxes(rng, 3).reshape(1, 3, 4)
    samples = mx.nd.array([[1, 1, 0, 1, -1]])
    matches = mx.nd.array([[0, 2, 1, 1, 0]])
    means = mx.nd.array([0, 0, 0, 0])
    stds = mx.nd.array([0.1, 0.1, 0.2, 0.2])
    t, m = mx.nd.contrib.box_encode(samples, matches, mx.nd.array(anchors), mx.nd.array(refs), means, stds)
    np.testing.assert_array_equal(m.asnumpy()[0, :, 0], [1, 1, 0, 1, 0])
    dec = mx.nd.contrib.box_decode(t, mx.nd.array(anchors), std0=0.1, std1=0.1, std2=0.2, std3=0.2,
                                   format='corner').asnumpy()
    want = refs[0][[0, 2, 1, 1, 0]]
    for i in (0, 1, 3):
        np.testing.assert_allclose(dec[0, i], want[i], rtol=1e-4, atol=1e-5)


def test_multibox_prior_formula():
    out = mx.nd.contrib.MultiBoxPrior(mx.nd.zeros((1, 3, 2, 4)), sizes=(0.5, 0.25), ratios=(1, 2)).asnumpy()
    assert out.shape == (1, 2 * 4 * 3, 4)
    h, w = 2, 4
    want = []
    for r in range(h):
        for c in range(w):
            cy, cx = (r + 0.5) / h, (c + 0.5) / w
            for s, q in [(0.5, 1), (0.25, 1), (0.5, 2)]:
                bw, bh = s * h / w * np.sqrt(q) / 2, s / np.sqrt(q) / 2
                want.append([cx - bw, cy - bh, cx + bw, cy + bh])
    np.testing.assert_allclose(out[0], want, rtol=1e-5, atol=1e-6)
    clipped = mx.nd.contrib.MultiBoxPrior(mx.nd.zeros((1, 3, 2, 4)), sizes=(0.9,), clip=True).asnumpy()
    assert clipped.min() >= 0 and clipped.max() <= 1
    with pytest.raises(mx.MXNetError, match="offsets"):
        mx.nd.contrib.MultiBoxPrior(mx.nd.zeros((1, 3, 2, 4)), offsets=(1.5, 0.5))


def test_multibox_target_and_detection_ssd_pipeline():
    anchors = mx.nd.array([[[0.1, 0.1, 0.4, 0.4], [0.5, 0.5, 0.9, 0.9], [0.0, 0.6, 0.3, 0.9]]])
    label = mx.nd.array([[[1, 0.12, 0.1, 0.42, 0.4], [-1, -1, -1, -1, -1]]])
    cls_pred = mx.nd.zeros((1, 3, 3))
    loc_t, loc_m, cls_t = mx.nd.contrib.MultiBoxTarget(anchors, label, cls_pred)
    np.testing.assert_array_equal(cls_t.asnumpy(), [[2, 0, 0]])
    np.testing.assert_array_equal(loc_m.asnumpy(), [[1] * 4 + [0] * 8])
    a, g = np.array([0.1, 0.1, 0.4, 0.4]), np.array([0.12, 0.1, 0.42, 0.4])
    want = [((g[0] + g[2]) / 2 - 0.25) / 0.3 / 0.1, 0, np.log(1.0) / 0.2, 0]
    np.testing.assert_allclose(loc_t.asnumpy()[0, :4], want, atol=1e-5)
    # Detection decodes the targets back to the ground truth.
    prob = mx.nd.array([[[0.1, 0.9, 0.8], [0.1, 0.05, 0.1], [0.8, 0.05, 0.1]]])
    det = mx.nd.contrib.MultiBoxDetection(prob, loc_t, anchors).asnumpy()
    assert det.shape == (1, 3, 6)
    np.testing.assert_allclose(det[0, 0], [1, 0.8, 0.12, 0.1, 0.42, 0.4], rtol=1e-5, atol=1e-6)
    # the other anchors' best class is class 1 (id 0) at 0.1 and 0.05, sorted by score
    np.testing.assert_allclose(det[0, 1:, :2], [[0, 0.1], [0, 0.05]], rtol=1e-6)
    np.testing.assert_allclose(det[0, 1, 2:], [0.0, 0.6, 0.3, 0.9], rtol=1e-6)
    with pytest.raises(mx.MXNetError, match="anchor"):
        mx.nd.contrib.MultiBoxTarget(mx.nd.zeros((2, 3, 4)), label, cls_pred)


def test_roi_align_constant_map_and_gradient():
    data = mx.nd.ones((1, 2, 6, 6)) * 3
    rois = mx.nd.array([[0, 1, 1, 4, 4], [-1, 0, 0, 2, 2]])
    out = mx.nd.contrib.ROIAlign(data, rois, pooled_size=(2, 2), spatial_scale=1.0)
    # A negative batch index gives zeros, as MXNet documents (MXNet 1.9.1 itself writes one 0
    # at flat position roi_index, here into roi 0's output, and leaves roi 1 unset).
    np.testing.assert_allclose(out.asnumpy()[0], 3, rtol=1e-6)
    np.testing.assert_array_equal(out.asnumpy()[1], 0)
    rng = np.random.RandomState(3)
    x = mx.nd.array(rng.uniform(-1, 1, (2, 4, 5, 6)).astype(np.float64), dtype='float64')
    r = mx.nd.array([[0, 0.3, 0.6, 3.2, 2.9], [1, 1.1, 0.2, 4.4, 3.7]], dtype='float64')
    for kw in [dict(), dict(sample_ratio=2, aligned=True), dict(position_sensitive=True)]:
        x.attach_grad()
        with mx.autograd.record():
            y = mx.nd.contrib.ROIAlign(x, r, pooled_size=(2, 2), spatial_scale=1.0, **kw)
        h = mx.nd.array(rng.uniform(-1, 1, y.shape), dtype='float64')
        y.backward(h)
        # ROIAlign is linear in data: the gradient is the adjoint, <grad, v> == <h, f(v)>.
        v = rng.uniform(-1, 1, x.shape)
        fv = mx.nd.contrib.ROIAlign(mx.nd.array(v, dtype='float64'), r, pooled_size=(2, 2), spatial_scale=1.0, **kw)
        np.testing.assert_allclose((x.grad.asnumpy() * v).sum(), (h.asnumpy() * fv.asnumpy()).sum(), rtol=1e-10)
    with pytest.raises(mx.MXNetError, match="batch index 2"):
        mx.nd.contrib.ROIAlign(x, mx.nd.array([[2, 0, 0, 1, 1]], dtype='float64'), pooled_size=(2, 2),
                               spatial_scale=1.0).asnumpy()
