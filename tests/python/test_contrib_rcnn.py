"""Faster R-CNN / R-FCN contrib operators (Proposal, MultiProposal) against values MXNet 1.9.1
printed for the same seeded inputs (probe script: inputs() below, run under
MXNET_ENGINE_TYPE=NaiveEngine). Scores are a permutation of distinct values, so sorting has no
ties among the rows that reach the output."""
import numpy as np
import pytest

import oxnet as mx


def inputs(seed, n, a, h, w, im_info, dscale=0.3):
    rs = np.random.RandomState(seed)
    size = n * 2 * a * h * w
    cls = rs.permutation(size).reshape(n, 2 * a, h, w).astype(np.float32) / size
    bbox = (rs.randn(n, 4 * a, h, w) * dscale).astype(np.float32)
    return cls, bbox, np.array(im_info, np.float32)


def run(op, ins, **kw):
    return getattr(mx.nd.contrib, op)(*[mx.nd.array(x) for x in inputs(**ins)], **kw)


CASES = {
    'basic': (dict(seed=1, n=1, a=3, h=4, w=5, im_info=[[60, 75, 1.0]]),
              dict(scales=(8,), ratios=(0.5, 1, 2), feature_stride=16, rpn_pre_nms_top_n=20,
                   rpn_post_nms_top_n=8, threshold=0.5, rpn_min_size=4, output_score=True)),
    # NMS over 5 boxes keeps 2; the 9 output rows repeat them
    'pad': (dict(seed=2, n=1, a=3, h=4, w=5, im_info=[[64, 80, 1.0]]),
            dict(scales=(8,), ratios=(0.5, 1, 2), feature_stride=16, rpn_pre_nms_top_n=5,
                 rpn_post_nms_top_n=9, threshold=0.1, rpn_min_size=4, output_score=True)),
    'iou': (dict(seed=3, n=1, a=2, h=3, w=4, im_info=[[48, 64, 1.0]], dscale=5.0),
            dict(scales=(4, 8), ratios=(1,), feature_stride=16, rpn_pre_nms_top_n=10,
                 rpn_post_nms_top_n=5, threshold=0.6, rpn_min_size=2, iou_loss=True,
                 output_score=True)),
    # zero deltas and no suppression: the output lists every anchor (MXNet's size rounding of
    # non-integer ratios and scales) by score
    'anchors': (dict(seed=4, n=1, a=6, h=2, w=2, im_info=[[200, 200, 1.0]], dscale=0.0),
                dict(scales=(0.35, 0.12), ratios=(0.7, 1.3, 2.6), feature_stride=100,
                     rpn_pre_nms_top_n=0, rpn_post_nms_top_n=24, threshold=1.0, rpn_min_size=0,
                     output_score=True)),
}

# MXNet 1.9.1 printed (.tolist() of its outputs)
PROPOSAL_BASIC_ROIS = [
    [0.0, 0.0, 0.0, 74.0, 59.0],
    [0.0, 0.0, 0.0, 30.36362075805664, 59.0],
    [0.0, 0.0, 32.7350959777832, 74.0, 59.0],
    [0.0, 1.0771026611328125, 0.0, 61.453765869140625, 35.56372833251953],
    [0.0, 0.0, 0.0, 5.4742279052734375, 59.0],
    [0.0, 0.0, 0.0, 74.0, 59.0],
    [0.0, 0.0, 0.0, 30.36362075805664, 59.0],
    [0.0, 0.0, 32.7350959777832, 74.0, 59.0],
]

PROPOSAL_BASIC_SCORES = [0.9166666865348816, 0.8416666388511658, 0.7250000238418579, 0.6333333253860474, 0.5, 0.9166666865348816, 0.8416666388511658, 0.7250000238418579]

PROPOSAL_PAD_ROIS = [
    [0.0, 0.0, 0.0, 79.0, 7.955835342407227],
    [0.0, 3.1074295043945312, 24.53829574584961, 79.0, 63.0],
    [0.0, 0.0, 0.0, 79.0, 7.955835342407227],
    [0.0, 3.1074295043945312, 24.53829574584961, 79.0, 63.0],
    [0.0, 0.0, 0.0, 79.0, 7.955835342407227],
    [0.0, 3.1074295043945312, 24.53829574584961, 79.0, 63.0],
    [0.0, 0.0, 0.0, 79.0, 7.955835342407227],
    [0.0, 3.1074295043945312, 24.53829574584961, 79.0, 63.0],
    [0.0, 0.0, 0.0, 79.0, 7.955835342407227],
]

PROPOSAL_PAD_SCORES = [0.9666666388511658, 0.9583333134651184, 0.9666666388511658, 0.9583333134651184, 0.9666666388511658, 0.9583333134651184, 0.9666666388511658, 0.9583333134651184, 0.9666666388511658]

PROPOSAL_IOU_ROIS = [
    [0.0, 0.0, 0.0, 63.0, 47.0],
    [0.0, 0.0, 0.0, 39.43098449707031, 44.358211517333984],
    [0.0, 11.132617950439453, 0.0, 63.0, 32.8150520324707],
    [0.0, 29.850940704345703, 3.931901454925537, 63.0, 47.0],
    [0.0, 0.0, 0.0, 63.0, 47.0],
]

PROPOSAL_IOU_SCORES = [0.9791666865348816, 0.9166666865348816, 0.8541666865348816, 0.6041666865348816, 0.9791666865348816]

PROPOSAL_ANCHORS_ROIS = [
    [0.0, 146.27999877929688, 140.33999633789062, 152.72000122070312, 158.66000366210938],
    [0.0, 129.0, 35.29999923706055, 170.0, 63.70000076293945],
    [0.0, 142.8000030517578, 44.959999084472656, 156.1999969482422, 54.040000915527344],
    [0.0, 134.60000610351562, 30.050003051757812, 164.39999389648438, 68.94999694824219],
    [0.0, 46.279998779296875, 40.34000015258789, 52.720001220703125, 58.65999984741211],
    [0.0, 39.150001525878906, 21.82499885559082, 59.849998474121094, 77.17500305175781],
    [0.0, 29.0, 35.29999923706055, 70.0, 63.70000076293945],
    [0.0, 44.720001220703125, 143.16000366210938, 54.279998779296875, 155.83999633789062],
    [0.0, 34.599998474121094, 130.0500030517578, 64.4000015258789, 168.9499969482422],
    [0.0, 42.79999923706055, 144.95999145507812, 56.20000076293945, 154.04000854492188],
    [0.0, 129.0, 135.3000030517578, 170.0, 163.6999969482422],
    [0.0, 144.72000122070312, 143.16000366210938, 154.27999877929688, 155.83999633789062],
    [0.0, 29.0, 135.3000030517578, 70.0, 163.6999969482422],
    [0.0, 139.14999389648438, 121.82499694824219, 159.85000610351562, 177.1750030517578],
    [0.0, 134.60000610351562, 130.0500030517578, 164.39999389648438, 168.9499969482422],
    [0.0, 42.79999923706055, 44.959999084472656, 56.20000076293945, 54.040000915527344],
    [0.0, 142.8000030517578, 144.95999145507812, 156.1999969482422, 154.04000854492188],
    [0.0, 139.14999389648438, 21.82499885559082, 159.85000610351562, 77.17500305175781],
    [0.0, 39.150001525878906, 121.82499694824219, 59.849998474121094, 177.1750030517578],
    [0.0, 46.279998779296875, 140.33999633789062, 52.720001220703125, 158.66000366210938],
    [0.0, 144.72000122070312, 43.15999984741211, 154.27999877929688, 55.84000015258789],
    [0.0, 34.599998474121094, 30.050003051757812, 64.4000015258789, 68.94999694824219],
    [0.0, 146.27999877929688, 40.34000015258789, 152.72000122070312, 58.65999984741211],
    [0.0, 44.720001220703125, 43.15999984741211, 54.279998779296875, 55.84000015258789],
]

PROPOSAL_ANCHORS_SCORES = [0.9583333134651184, 0.8958333134651184, 0.875, 0.8541666865348816, 0.8333333134651184, 0.8125, 0.7916666865348816, 0.75, 0.7291666865348816, 0.7083333134651184, 0.6666666865348816, 0.625, 0.5416666865348816, 0.4791666567325592, 0.4375, 0.3541666567325592, 0.2916666567325592, 0.1875, 0.1666666716337204, 0.1041666641831398, 0.0625, 0.0416666679084301, 0.02083333395421505, 0.0]

MULTIPROPOSAL_ROIS = [
    [0.0, 0.0, 0.0, 74.0, 59.0],
    [0.0, 0.0, 0.0, 74.0, 25.63263702392578],
    [0.0, 9.034915924072266, 39.66299819946289, 74.0, 59.0],
    [0.0, 61.72917175292969, 0.0, 74.0, 59.0],
    [0.0, 0.0, 0.0, 35.815914154052734, 49.15685272216797],
    [0.0, 38.916255950927734, 0.0, 74.0, 59.0],
    [1.0, 0.0, 0.0, 47.0, 63.0],
    [1.0, 0.9568710327148438, 55.49181365966797, 47.0, 63.0],
    [1.0, 0.0, 33.01528549194336, 47.0, 63.0],
    [1.0, 22.827667236328125, 46.825801849365234, 47.0, 63.0],
    [1.0, 0.0, 18.330326080322266, 17.360458374023438, 63.0],
    [1.0, 0.0, 0.0, 27.795141220092773, 27.091583251953125],
]

MULTIPROPOSAL_SCORES = [0.9333333373069763, 0.887499988079071, 0.8166666626930237, 0.7749999761581421, 0.25833332538604736, 0.0416666679084301, 0.9750000238418579, 0.949999988079071, 0.9125000238418579, 0.8083333373069763, 0.5208333134651184, 0.49166667461395264]


@pytest.mark.parametrize('case', sorted(CASES))
def test_proposal_matches_mxnet(case):
    ins, kw = CASES[case]
    rois, scores = run('Proposal', ins, **kw)
    want = globals()['PROPOSAL_%s_ROIS' % case.upper()]
    assert rois.shape == (kw['rpn_post_nms_top_n'], 5) and rois.dtype == np.float32
    assert scores.shape == (kw['rpn_post_nms_top_n'], 1)
    np.testing.assert_allclose(rois.asnumpy(), want, rtol=1e-5, atol=2e-4)
    np.testing.assert_allclose(scores.asnumpy()[:, 0], globals()['PROPOSAL_%s_SCORES' % case.upper()],
                               rtol=1e-6)


def test_multi_proposal_matches_mxnet():
    ins = dict(seed=5, n=2, a=3, h=4, w=5, im_info=[[60, 75, 1.0], [64, 48, 1.5]])
    kw = dict(scales=(8,), ratios=(0.5, 1, 2), feature_stride=16, rpn_pre_nms_top_n=0,
              rpn_post_nms_top_n=6, threshold=0.5, rpn_min_size=4, output_score=True)
    rois, scores = run('MultiProposal', ins, **kw)
    assert rois.shape == (12, 5) and scores.shape == (12, 1)
    np.testing.assert_allclose(rois.asnumpy(), MULTIPROPOSAL_ROIS, rtol=1e-5, atol=2e-4)
    np.testing.assert_allclose(scores.asnumpy()[:, 0], MULTIPROPOSAL_SCORES, rtol=1e-6)
    # each image alone through Proposal gives its block of rows
    cls, bbox, info = inputs(**ins)
    for b in range(2):
        r, s = mx.nd.contrib.Proposal(mx.nd.array(cls[b:b + 1]), mx.nd.array(bbox[b:b + 1]),
                                      mx.nd.array(info[b:b + 1]), **kw)
        np.testing.assert_allclose(r.asnumpy()[:, 1:], rois.asnumpy()[6 * b:6 * b + 6, 1:])
        np.testing.assert_allclose(s.asnumpy(), scores.asnumpy()[6 * b:6 * b + 6])


def test_proposal_defaults_symbol_and_zero_gradient():
    cls, bbox, info = inputs(seed=6, n=1, a=12, h=3, w=3, im_info=[[48, 48, 1.0]])
    out = mx.nd.contrib.Proposal(mx.nd.array(cls), mx.nd.array(bbox), mx.nd.array(info))
    # MXNet 1.9.1: one visible output of shape (300, 5) with the default parameters
    assert isinstance(out, mx.nd.NDArray) and out.shape == (300, 5)
    assert (out.asnumpy()[:, 0] == 0).all()
    s = mx.sym.contrib.Proposal(name='p', output_score=True)
    assert s.list_arguments() == ['p_cls_prob', 'p_bbox_pred', 'p_im_info']
    assert s.list_outputs() == ['p_output', 'p_score']
    # MXNet 1.9.1: bbox_pred and im_info follow from cls_prob
    assert s.infer_shape(p_cls_prob=(1, 24, 3, 3)) == (
        [(1, 24, 3, 3), (1, 48, 3, 3), (1, 3)], [(300, 5), (300, 1)], [])
    assert mx.sym.contrib.MultiProposal(name='m').list_outputs() == ['m_output']
    x = mx.nd.array(cls)
    x.attach_grad()
    with mx.autograd.record():
        y = mx.nd.contrib.Proposal(x, mx.nd.array(bbox), mx.nd.array(info))
    y.backward()
    assert (x.grad.asnumpy() == 0).all()


@pytest.mark.parametrize('op', ['Proposal', 'MultiProposal'])
def test_proposal_bad_input_names_op_and_argument(op):
    cls, bbox, info = inputs(seed=7, n=1, a=3, h=4, w=5, im_info=[[60, 75, 1.0]])
    f = getattr(mx.nd.contrib, op)
    kw = dict(scales=(8,), ratios=(0.5, 1, 2))
    a = [mx.nd.array(x) for x in (cls, bbox, info)]
    with pytest.raises(mx.MXNetError, match=op + '.*im_info'):
        f(a[0], a[1], mx.nd.zeros((2, 3)), **kw)
    with pytest.raises(mx.MXNetError, match=op + '.*bbox_pred'):
        f(a[0], mx.nd.zeros((1, 8, 4, 5)), a[2], **kw)
    with pytest.raises(mx.MXNetError, match=op + '.*scales'):
        f(a[0], a[1], a[2], scales=(8, 16), ratios=(0.5, 1, 2))
    with pytest.raises(mx.MXNetError, match=op + '.*cls_prob'):
        f(mx.nd.zeros((1, 5, 4, 5)), a[1], a[2], **kw)
    # the image needs more score-map cells than there are
    with pytest.raises(mx.MXNetError, match=op + '.*im_info'):
        f(a[0], a[1], mx.nd.array([[160, 75, 1.0]]), **kw).asnumpy()


def test_proposal_takes_one_image():
    cls, bbox, info = inputs(seed=8, n=2, a=3, h=4, w=5, im_info=[[60, 75, 1.0]] * 2)
    with pytest.raises(mx.MXNetError, match='Proposal.*MultiProposal'):
        mx.nd.contrib.Proposal(mx.nd.array(cls), mx.nd.array(bbox), mx.nd.array(info),
                               scales=(8,), ratios=(0.5, 1, 2))


# ---------------------------------------------------------------- PSROIPooling

def psroi_numpy(x, rois, scale, dim, pooled, group):
    """R-FCN's position-sensitive average pooling, written from the paper's definition with
    MXNet's rounding (corners rounded, +1 on the far corner, bins floor/ceil, empty bin 0)."""
    n, c, h, w = x.shape
    out = np.zeros((len(rois), dim, pooled, pooled))
    for r, roi in enumerate(rois):
        b = int(roi[0])
        x1, y1 = np.round(roi[1]) * scale, np.round(roi[2]) * scale
        x2, y2 = (np.round(roi[3]) + 1) * scale, (np.round(roi[4]) + 1) * scale
        bh, bw = max(y2 - y1, 0.1) / pooled, max(x2 - x1, 0.1) / pooled
        for i in range(pooled):
            h0, h1 = [int(np.clip(v, 0, h)) for v in (np.floor(i * bh + y1), np.ceil((i + 1) * bh + y1))]
            gi = min(i * group // pooled, group - 1)
            for j in range(pooled):
                w0, w1 = [int(np.clip(v, 0, w)) for v in (np.floor(j * bw + x1), np.ceil((j + 1) * bw + x1))]
                gj = min(j * group // pooled, group - 1)
                if h1 <= h0 or w1 <= w0:
                    continue
                for k in range(dim):
                    out[r, k, i, j] = x[b, (k * group + gi) * group + gj, h0:h1, w0:w1].mean()
    return out


PSROI_ROIS = np.array([[0, 1.2, 2.7, 20.4, 15.1], [1, 0, 0, 27.9, 23.6], [1, 10.5, 6.2, 11.4, 8.0],
                       [0, -6, -4, 8, 30], [1, 22, 18, 40, 40]], np.float32)

# MXNet 1.9.1 printed (probe: RandomState(11); x = rand(2, 18, 6, 7); the rois above;
# spatial_scale=0.25, output_dim=2, pooled_size=3; head gradient rand(5, 2, 3, 3); then
# x2 = rand(1, 12, 5, 5) with group_size=2)
PSROI_OUT = np.array([
    [0.40723079, 0.30438888, 0.58890957, 0.70146453, 0.42953753, 0.42746428, 0.39161155, 0.66431433, 0.68565863],
    [0.42628852, 0.52615416, 0.69164175, 0.48808438, 0.52923983, 0.60877866, 0.29955059, 0.36713275, 0.56006104],
    [0.53084308, 0.59866959, 0.64239639, 0.43415555, 0.69850165, 0.4231739, 0.49811685, 0.48534358, 0.27268139],
    [0.39761019, 0.59771347, 0.36643505, 0.46195614, 0.56963855, 0.34027752, 0.43348476, 0.56568843, 0.47174618],
    [0.10107682, 0.62758315, 0.31532064, 0.87507874, 0.61893576, 0.48697448, 0.57680821, 0.028027458, 0.051213179],
    [0.19130564, 0.29411188, 0.97560537, 0.17832239, 0.77590233, 0.039633274, 0.67469966, 0.91367024, 0.59531581],
    [0, 0.31592077, 0.48088789, 0, 0.69127095, 0.42600447, 0, 0.43011284, 0.45038497],
    [0, 0.52738106, 0.49125609, 0, 0.54089153, 0.56666321, 0, 0.4214828, 0.51407558],
    [0.58423632, 0, 0, 0, 0, 0, 0, 0, 0],
    [0.55591261, 0, 0, 0, 0, 0, 0, 0, 0],
], np.float32).reshape(5, 2, 3, 3)

PSROI_GROUP_OUT = np.array([
    [0.50784481, 0.6216504, 0.46509638, 0.53143102, 0.38833568, 0.59525585, 0.23189721, 0.40818009, 0.6062752],
    [0.52033329, 0.68843383, 0.58631116, 0.77003682, 0.48360321, 0.61429131, 0.63302732, 0.42905465, 0.25880018],
    [0.70238113, 0.74704188, 0.61518717, 0.27433264, 0.45900866, 0.6503762, 0.81862795, 0.67088747, 0.38505289],
    [0.46575928, 0.5245012, 0.61358434, 0.18020166, 0.32899046, 0.49251139, 0.53381461, 0.6973446, 0.46343249],
    [0.522542, 0.55992764, 0.085986041, 0.83071238, 0.49561977, 0.62703598, 0.46250197, 0.56912524, 0.38519049],
    [0.75785613, 0.76142776, 0.43042988, 0.40751216, 0.42814854, 0.52069002, 0.62170935, 0.66492891, 0.73551255],
], np.float32).reshape(2, 3, 3, 3)
# MXNet 1.9.1 printed: the data gradient's sum and its sum weighted by (flat index % 7)
PSROI_GRAD_SUM, PSROI_GRAD_WSUM = 35.29230911564082, 80.22347271163017


def test_psroi_pooling_matches_mxnet_and_numpy():
    rs = np.random.RandomState(11)
    x = rs.rand(2, 18, 6, 7).astype(np.float32)
    kw = dict(spatial_scale=0.25, output_dim=2, pooled_size=3)
    X = mx.nd.array(x)
    X.attach_grad()
    with mx.autograd.record():
        y = mx.nd.contrib.PSROIPooling(X, mx.nd.array(PSROI_ROIS), **kw)
    hg = rs.rand(*y.shape).astype(np.float32)
    y.backward(mx.nd.array(hg))
    np.testing.assert_allclose(y.asnumpy(), PSROI_OUT, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(y.asnumpy(), psroi_numpy(x, PSROI_ROIS, 0.25, 2, 3, 3), rtol=1e-5)
    g = X.grad.asnumpy().astype(np.float64)
    np.testing.assert_allclose(g.sum(), PSROI_GRAD_SUM, rtol=1e-5)
    np.testing.assert_allclose((g * (np.arange(g.size).reshape(g.shape) % 7)).sum(), PSROI_GRAD_WSUM,
                               rtol=1e-5)
    # the forward is linear in data: <grad, x> = <hg, y>
    np.testing.assert_allclose((g * x).sum(), (hg * y.asnumpy()).sum(), rtol=1e-5)
    x2 = rs.rand(1, 12, 5, 5).astype(np.float32)
    r2 = np.array([[0, 0, 0, 15, 19], [0, 3, 5, 9, 9]], np.float32)
    y2 = mx.nd.contrib.PSROIPooling(mx.nd.array(x2), mx.nd.array(r2), spatial_scale=0.3,
                                    output_dim=3, pooled_size=3, group_size=2)
    np.testing.assert_allclose(y2.asnumpy(), PSROI_GROUP_OUT, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(y2.asnumpy(), psroi_numpy(x2, r2, 0.3, 3, 3, 2), rtol=1e-5)


def test_psroi_pooling_float64_and_errors():
    rs = np.random.RandomState(12)
    x = rs.randn(1, 8, 5, 6)
    rois = np.array([[0, 0.4, 1.6, 17.2, 12.9], [0, 5, 5, 6, 7]])
    y = mx.nd.contrib.PSROIPooling(mx.nd.array(x, dtype='float64'), mx.nd.array(rois, dtype='float64'),
                                   spatial_scale=0.5, output_dim=2, pooled_size=2)
    assert y.dtype == np.float64 and y.shape == (2, 2, 2, 2)
    np.testing.assert_allclose(y.asnumpy(), psroi_numpy(x, rois, 0.5, 2, 2, 2), rtol=1e-12)
    d, r = mx.nd.array(x), mx.nd.array(rois)
    with pytest.raises(mx.MXNetError, match='PSROIPooling.*channels'):
        mx.nd.contrib.PSROIPooling(d, r, spatial_scale=0.5, output_dim=3, pooled_size=2)
    with pytest.raises(mx.MXNetError, match='PSROIPooling.*rois'):
        mx.nd.contrib.PSROIPooling(d, mx.nd.zeros((2, 4)), spatial_scale=0.5, output_dim=2, pooled_size=2)
    with pytest.raises(mx.MXNetError, match='PSROIPooling.*batch index'):
        mx.nd.contrib.PSROIPooling(d, mx.nd.array([[1, 0, 0, 4, 4]]), spatial_scale=0.5, output_dim=2,
                                   pooled_size=2).asnumpy()


# ---------------------------------------------------------------- RROIAlign

def _bilinear(plane, y, x):
    h, w = plane.shape
    if y < -1 or y > h or x < -1 or x > w:
        return 0.0
    y, x = max(y, 0.0), max(x, 0.0)
    y0, x0 = int(y), int(x)
    if y0 >= h - 1:
        y0 = y1 = h - 1
        y = float(y0)
    else:
        y1 = y0 + 1
    if x0 >= w - 1:
        x0 = x1 = w - 1
        x = float(x0)
    else:
        x1 = x0 + 1
    ly, lx = y - y0, x - x0
    return ((1 - ly) * (1 - lx) * plane[y0, x0] + (1 - ly) * lx * plane[y0, x1]
            + ly * (1 - lx) * plane[y1, x0] + ly * lx * plane[y1, x1])


def rroi_numpy(x, rois, pooled, scale, ratio=-1):
    """Rotated ROI align from its definition: the (width x height) grid centered at (x, y),
    rotated by the angle, bins averaged over ratio x ratio bilinear samples."""
    ph, pw = pooled
    out = np.zeros((len(rois), x.shape[1], ph, pw))
    for r, (b, cx, cy, rw, rh, ang) in enumerate(rois):
        cx, cy = cx * scale, cy * scale
        rw, rh = max(rw * scale, 1.0), max(rh * scale, 1.0)
        t = ang * np.pi / 180
        gh = ratio if ratio > 0 else int(np.ceil(rh / ph))
        gw = ratio if ratio > 0 else int(np.ceil(rw / pw))
        for i in range(ph):
            for j in range(pw):
                pts = []
                for iy in range(gh):
                    yy = -rh / 2 + (i + (iy + 0.5) / gh) * rh / ph
                    for ix in range(gw):
                        xx = -rw / 2 + (j + (ix + 0.5) / gw) * rw / pw
                        pts.append((yy * np.cos(t) - xx * np.sin(t) + cy, xx * np.cos(t) + yy * np.sin(t) + cx))
                for k in range(x.shape[1]):
                    out[r, k, i, j] = np.mean([_bilinear(x[int(b), k], py, px) for py, px in pts])
    return out


RROI_ROIS = np.array([[0, 3.5, 3.0, 4.0, 2.5, 30], [1, 10.2, 6.6, 8.4, 5.2, -45],
                      [0, 1.0, 1.0, 0.5, 0.4, 90], [1, 14.0, 12.0, 20, 14, 160]], np.float32)

# MXNet 1.9.1 printed (probe: RandomState(21); x = rand(2, 3, 7, 8); the rois above;
# pooled_size=(2, 3), spatial_scale=0.5; then pooled_size=(3, 2), spatial_scale=0.7,
# sampling_ratio=2)
RROI_OUT = np.array([
    [0.79566133, 0.40837485, 0.24717082, 0.87809736, 0.62741119, 0.50898302],
    [0.41202468, 0.57049406, 0.70178133, 0.35694855, 0.45617679, 0.43488145],
    [0.28798988, 0.31004488, 0.42143679, 0.26437563, 0.31402072, 0.42561588],
    [0.50362337, 0.43790883, 0.23417336, 0.85205483, 0.57108736, 0.41490275],
    [0.54623234, 0.85277343, 0.55065382, 0.47915289, 0.81284344, 0.79347169],
    [0.37865669, 0.44267908, 0.61580348, 0.42524731, 0.52791339, 0.51016164],
    [0.33228984, 0.24290234, 0.15351482, 0.46710396, 0.37186772, 0.27663153],
    [0.66301847, 0.52622062, 0.38942266, 0.54639101, 0.52809316, 0.50979531],
    [0.45403656, 0.52627629, 0.59851599, 0.40460622, 0.45079488, 0.49698356],
    [0, 0.07904356, 0.21286172, 0, 0.29228768, 0.5154314],
    [0, 0.12598486, 0.25562117, 0, 0.40760416, 0.65336221],
    [0, 0.19875064, 0.18119666, 0, 0.36948079, 0.44626132],
], np.float32).reshape(4, 3, 2, 3)

RROI_SAMPLED_OUT = np.array([
    [0.76667774, 0.62119782, 0.67629421, 0.48578539, 0.49938267, 0.34402868],
    [0.40190953, 0.44767153, 0.33255476, 0.28893894, 0.33530176, 0.32610118],
    [0.28496119, 0.57256299, 0.266366, 0.46946603, 0.25100982, 0.51321805],
    [0.47886047, 0, 0.32807609, 0.3000254, 0.51395738, 0.16869909],
    [0.7459197, 0, 0.64024448, 0.41812021, 0.76973486, 0.29719317],
    [0.57374239, 0, 0.51382262, 0.22580072, 0.52190125, 0.4377428],
    [0.40132713, 0.25938144, 0.49133009, 0.3447735, 0.54108828, 0.41558433],
    [0.66104442, 0.51028538, 0.56286722, 0.52338374, 0.49727398, 0.5508076],
    [0.43212414, 0.51858813, 0.39783287, 0.46566212, 0.3680408, 0.43448502],
    [0, 0, 0, 0.071658105, 0, 0.19810644],
    [0, 0, 0, 0.1675726, 0, 0.42813849],
    [0, 0, 0, 0.09823066, 0, 0.29263756],
], np.float32).reshape(4, 3, 3, 2)


def test_rroi_align_matches_mxnet_and_numpy():
    x = np.random.RandomState(21).rand(2, 3, 7, 8).astype(np.float32)
    y = mx.nd.contrib.RROIAlign(mx.nd.array(x), mx.nd.array(RROI_ROIS), pooled_size=(2, 3),
                                spatial_scale=0.5)
    assert y.shape == (4, 3, 2, 3)
    np.testing.assert_allclose(y.asnumpy(), RROI_OUT, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y.asnumpy(), rroi_numpy(x, RROI_ROIS, (2, 3), 0.5), rtol=1e-4, atol=1e-6)
    y = mx.nd.contrib.RROIAlign(mx.nd.array(x), mx.nd.array(RROI_ROIS), pooled_size=(3, 2),
                                spatial_scale=0.7, sampling_ratio=2)
    np.testing.assert_allclose(y.asnumpy(), RROI_SAMPLED_OUT, rtol=1e-5, atol=1e-6)
    x64 = np.random.RandomState(22).randn(1, 2, 6, 5)
    r64 = np.array([[0, 2.2, 3.1, 3.3, 2.1, 17.0], [0, 4.0, 1.0, 6.0, 3.0, -120.0]])
    y = mx.nd.contrib.RROIAlign(mx.nd.array(x64, dtype='float64'), mx.nd.array(r64, dtype='float64'),
                                pooled_size=(2, 2), spatial_scale=1.0)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y.asnumpy(), rroi_numpy(x64, r64, (2, 2), 1.0), rtol=1e-10, atol=1e-12)


def test_rroi_align_errors():
    d = mx.nd.zeros((1, 2, 4, 4))
    with pytest.raises(mx.MXNetError, match='RROIAlign.*rois'):
        mx.nd.contrib.RROIAlign(d, mx.nd.zeros((2, 5)), pooled_size=(2, 2), spatial_scale=1.0)
    with pytest.raises(mx.MXNetError, match='RROIAlign.*data'):
        mx.nd.contrib.RROIAlign(mx.nd.zeros((2, 4, 4)), mx.nd.zeros((2, 6)), pooled_size=(2, 2),
                                spatial_scale=1.0)
    with pytest.raises(mx.MXNetError, match='RROIAlign.*batch index'):
        mx.nd.contrib.RROIAlign(d, mx.nd.array([[1, 2, 2, 2, 2, 0]]), pooled_size=(2, 2),
                                spatial_scale=1.0).asnumpy()
    with pytest.raises(mx.MXNetError, match='pooled_size.*RROIAlign'):
        mx.nd.contrib.RROIAlign(d, mx.nd.zeros((1, 6)), pooled_size=(2,), spatial_scale=1.0)


# ---------------------------------------------------------------- DeformablePSROIPooling

DEFORM_ROIS = np.array([[0, 2.3, 3.1, 14.6, 12.2], [1, 6, 1, 17, 15], [1, -3, -2, 8, 6]], np.float32)

# MXNet 1.9.1 printed (probe: RandomState(31); x = rand(2, 16, 9, 10); the rois above;
# trans = randn(3, 4, 3, 3) * 0.8; spatial_scale=0.5, output_dim=4, group_size=2,
# pooled_size=3, part_size=3, sample_per_part=2, trans_std=0.1; head gradient
# rand(3, 4, 3, 3); then no_trans=True with pooled_size=2, sample_per_part=3)
DEFORM_OUT = np.array([
    [0.55461514, 0.32384631, 0.6597693, 0.59943122, 0.53331482, 0.72003698, 0.57332945, 0.54550511, 0.67285323],
    [0.51155007, 0.39697427, 0.43252441, 0.43528351, 0.40905932, 0.53016007, 0.28464895, 0.49642476, 0.45942456],
    [0.37751365, 0.76020002, 0.53802645, 0.55764234, 0.40808725, 0.35135806, 0.55144048, 0.31075501, 0.32352185],
    [0.67135, 0.44150239, 0.557895, 0.47794548, 0.50278884, 0.33530891, 0.39442894, 0.4414905, 0.33098868],
    [0.60603672, 0.48431155, 0.40094942, 0.72890866, 0.67601442, 0.60274833, 0.41770682, 0.57474101, 0.68023956],
    [0.5462321, 0.37215623, 0.51878852, 0.68911123, 0.46939516, 0.31993622, 0.67832637, 0.50803977, 0.43715432],
    [0.4870002, 0.43700308, 0.65543443, 0.62631851, 0.41967413, 0.72279119, 0.4798255, 0.35153913, 0.54525542],
    [0.4331499, 0.45147884, 0.51781064, 0.59398437, 0.48762774, 0.43212926, 0.57299399, 0.74761134, 0.32875085],
    [0, 0, 0, 0, 0.28850436, 0.48203287, 0, 0.38544917, 0.53991508],
    [0, 0, 0, 0, 0.29291302, 0.33825296, 0, 0.66163707, 0.74079287],
    [0, 0, 0.56403059, 0, 0.71728456, 0.50020778, 0, 0.43452796, 0.62823999],
    [0, 0, 0.4968701, 0, 0.63530338, 0.67968935, 0, 0.40792012, 0.47385097],
], np.float32).reshape(3, 4, 3, 3)

DEFORM_TRANS_GRAD = np.array([
    [-0.023825435, -0.044487033, -0.041157525, 0.0045208754, 0.069770277, -0.12292616, 0.033050634, 0.025177862, 0.09691269],
    [0.01695567, 0.0010170583, 0.102953, 0.031748582, 0.016724961, 0.1114, -0.15091114, 0.010881258, 0.0086692777],
    [0.045821063, 0.012134406, -0.059505165, 0.16417247, 0.12781304, -0.073175266, 0.078757197, -0.14727242, 0.21085444],
    [-0.015936689, 0.0063006962, 0.01393705, -0.01297503, 0.0034645242, -0.021405062, 0.091127135, -0.080537446, 0.024324071],
    [-0.13522851, 0.022333656, -0.013405319, -0.10598053, -0.014257897, -0.027680347, -0.019243009, -0.0032475665, 0.015750404],
    [-0.0080320239, 0.0283638, 0.015154944, 0.076442316, -0.032323938, 0.023961224, 0.098220028, -0.12100605, 0.10163251],
    [-0.03421478, 0.0044555971, 0.081809476, -0.088631198, 0.0042798156, -0.028012395, 0.11119351, 0.073055468, 0.13771634],
    [-0.17291917, -0.043531772, -0.064225964, 0.11951666, 0.0032015252, -0.027110569, -0.037885502, 0.098233946, 0.036622472],
    [0, 0, 0, 0, 0.11780036, 0.073605336, 0, 0.0050163828, 0.01373555],
    [0, 0, 0, 0, 0.020884611, -0.073739395, 0, 0.006454532, 0.048168659],
    [0, 0, -0.057868574, 0, -0.019328929, 0.033084027, 0, -0.00072190235, -0.028459622],
    [0, 0, -0.0052579138, 0, -0.072970375, 0.027397107, 0, -0.01580194, -0.070672795],
], np.float32).reshape(3, 4, 3, 3)

DEFORM_NO_TRANS_OUT = np.array([
    [0.46558607, 0.60570729, 0.46269682, 0.59686166],
    [0.51813221, 0.38625419, 0.45754263, 0.46666276],
    [0.52033663, 0.51198959, 0.4820272, 0.45647281],
    [0.53208327, 0.44832897, 0.45219147, 0.45597097],
    [0.61998647, 0.49631861, 0.44786516, 0.57036513],
    [0.53121597, 0.48881447, 0.57723409, 0.50802743],
    [0.54279912, 0.60511994, 0.40460074, 0.50786096],
    [0.48022482, 0.50243211, 0.60252303, 0.47347558],
    [0.093607612, 0.34633264, 0.49298689, 0.48541027],
    [0.18002023, 0.30337095, 0.68900424, 0.67540836],
    [0.90079486, 0.69849205, 0.56004614, 0.62838322],
    [0.99630851, 0.48046148, 0.48538449, 0.43743032],
], np.float32).reshape(3, 4, 2, 2)

# MXNet 1.9.1 printed: the data gradient's sum and its sum weighted by (flat index % 7)
DEFORM_GRAD_SUM, DEFORM_GRAD_WSUM = 44.52666008601909, 135.2918853941169


def test_deformable_psroi_pooling_matches_mxnet():
    rs = np.random.RandomState(31)
    x = rs.rand(2, 16, 9, 10).astype(np.float32)
    trans = (rs.randn(3, 4, 3, 3) * 0.8).astype(np.float32)
    X, T = mx.nd.array(x), mx.nd.array(trans)
    X.attach_grad()
    T.attach_grad()
    kw = dict(spatial_scale=0.5, output_dim=4, group_size=2, pooled_size=3, part_size=3,
              sample_per_part=2, trans_std=0.1)
    with mx.autograd.record():
        y = mx.nd.contrib.DeformablePSROIPooling(X, mx.nd.array(DEFORM_ROIS), T, **kw)
    hg = rs.rand(*y.shape).astype(np.float32)
    y.backward(mx.nd.array(hg))
    assert y.shape == (3, 4, 3, 3)
    np.testing.assert_allclose(y.asnumpy(), DEFORM_OUT, rtol=1e-5, atol=1e-6)
    g = X.grad.asnumpy().astype(np.float64)
    np.testing.assert_allclose(g.sum(), DEFORM_GRAD_SUM, rtol=1e-5)
    np.testing.assert_allclose((g * (np.arange(g.size).reshape(g.shape) % 7)).sum(), DEFORM_GRAD_WSUM,
                               rtol=1e-5)
    # linear in data: <grad, x> = <hg, y>
    np.testing.assert_allclose((g * x).sum(), (hg * y.asnumpy()).sum(), rtol=1e-5)
    np.testing.assert_allclose(T.grad.asnumpy(), DEFORM_TRANS_GRAD, rtol=1e-4, atol=1e-6)
    y2 = mx.nd.contrib.DeformablePSROIPooling(X, mx.nd.array(DEFORM_ROIS), spatial_scale=0.5, output_dim=4,
                                              group_size=2, pooled_size=2, sample_per_part=3, no_trans=True)
    np.testing.assert_allclose(y2.asnumpy(), DEFORM_NO_TRANS_OUT, rtol=1e-5, atol=1e-6)


def test_deformable_psroi_pooling_symbol_and_errors():
    # MXNet 1.9.1: trans is an argument unless no_trans; top_count is a hidden output
    s = mx.sym.contrib.DeformablePSROIPooling(name='d', spatial_scale=0.5, output_dim=4, group_size=2,
                                              pooled_size=2, no_trans=True)
    assert s.list_arguments() == ['d_data', 'd_rois'] and s.list_outputs() == ['d_output']
    s = mx.sym.contrib.DeformablePSROIPooling(name='d', spatial_scale=0.5, output_dim=4, group_size=2,
                                              pooled_size=2)
    assert s.list_arguments() == ['d_data', 'd_rois', 'd_trans'] and s.list_outputs() == ['d_output']
    d = mx.nd.zeros((1, 16, 6, 6))
    r = mx.nd.array([[0, 0, 0, 4, 4]])
    kw = dict(spatial_scale=0.5, output_dim=4, group_size=2, pooled_size=2, trans_std=0.1)
    with pytest.raises(mx.MXNetError, match='DeformablePSROIPooling.*trans'):
        mx.nd.contrib.DeformablePSROIPooling(d, r, mx.nd.zeros((1, 2, 3, 3)), **kw)
    with pytest.raises(mx.MXNetError, match='DeformablePSROIPooling.*channels'):
        mx.nd.contrib.DeformablePSROIPooling(d, r, mx.nd.zeros((1, 2, 2, 2)), **dict(kw, output_dim=5))
    with pytest.raises(mx.MXNetError, match='DeformablePSROIPooling.*batch index'):
        mx.nd.contrib.DeformablePSROIPooling(d, mx.nd.array([[3, 0, 0, 4, 4]]), mx.nd.zeros((1, 2, 2, 2)),
                                             **kw).asnumpy()
