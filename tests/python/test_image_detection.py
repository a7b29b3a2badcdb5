"""mx.image.detection: detection augmenters, CreateDetAugmenter and ImageDetIter.

Oracles: numpy computations of the box transforms (flip, crop, pad) from the window each
augmenter reports, and values printed by MXNet 1.9.1 (image_det_mxnet_ref.py) for the same
inputs and Python `random` seeds: the augmenters draw from `random` in MXNet's order, so crops,
pads, flips and selections must equal MXNet's.
"""
import json
import random
import warnings

import numpy as np
import pytest
from PIL import Image

import oxnet as mx
from oxnet import recordio
from oxnet.base import MXNetError

from image_det_mxnet_ref import REF


def pat(h, w, c, k=0):
    y, x, ch = np.meshgrid(np.arange(h), np.arange(w), np.arange(c), indexing="ij")
    return ((x * x * 3 + y * 11 + ch * 77 + x * y * 5 + k * 13) % 256).astype(np.uint8)


# packed raw labels [header_width, object_width, header extras..., objects...]; sample 2 has a
# 4-wide header and an inverted box that parsing drops, sample 5 three boxes
DET_LABELS = [
    [2, 5, 0, .1, .2, .6, .7],
    [2, 5, 1, .0, .0, .5, .5, 3, .4, .3, .9, 1.0],
    [4, 5, 16, 16, 2, .2, .1, .8, .9, 0, .5, .5, .4, .6, 1, .3, .6, .7, .95],
    [2, 5, 4, .05, .05, .95, .95],
    [2, 5, 0, .1, .1, .3, .3, 1, .5, .5, .9, .9, 2, .2, .6, .4, .9],
    [2, 5, 3, .6, .1, .9, .4],
    [2, 5, 6, .3, .3, .6, .8],
]


def det_image(i):
    return pat(20 + 4 * i, 36 - 2 * i, 3, i)


def write_det_data(d):
    """PNGs i.png, det.lst (index, raw label, file), and det.rec/det.idx with the label in the
    record header (flag = label count), as im2rec writes detection data."""
    d.mkdir(parents=True, exist_ok=True)
    rec = recordio.MXIndexedRecordIO(str(d / "det.idx"), str(d / "det.rec"), "w")
    with open(d / "det.lst", "w") as f:
        for i, lab in enumerate(DET_LABELS):
            Image.fromarray(det_image(i)).save(d / ("%d.png" % i))
            f.write("\t".join([str(i)] + [repr(float(v)) for v in lab] + ["%d.png" % i]) + "\n")
            header = recordio.IRHeader(len(lab), np.array(lab, np.float32), i, 0)
            rec.write_idx(i, recordio.pack_img(header, det_image(i)[:, :, ::-1], img_fmt=".png"))
    rec.close()
    return d


LABEL = np.array([[0, .1, .2, .5, .6], [1, .4, .3, .9, .8], [2, .05, .7, .3, .95]], np.float32)


def src40x60():
    return mx.nd.array(pat(40, 60, 3), dtype=np.uint8)


def close(a, b):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=0, atol=2e-6)


def check_result(ref, out, lab):
    shape, ref_lab, ref_sum = ref
    assert tuple(out.shape) == tuple(shape)
    close(lab, ref_lab)
    assert float(out.asnumpy().astype(np.float64).sum()) == pytest.approx(ref_sum, abs=1e-3)


# ---- names and dumps -------------------------------------------------------------------------
def test_exports_match_mxnet():
    assert mx.image.det is mx.image.detection
    for name in ("DetAugmenter", "DetBorrowAug", "DetRandomSelectAug", "DetHorizontalFlipAug",
                 "DetRandomCropAug", "DetRandomPadAug", "CreateMultiRandCropAugmenter", "CreateDetAugmenter",
                 "ImageDetIter"):
        assert getattr(mx.image, name) is getattr(mx.image.detection, name)
        assert getattr(mx.img, name) is getattr(mx.image.det, name)
    assert issubclass(mx.image.ImageDetIter, mx.image.ImageIter)
    assert not issubclass(mx.image.DetAugmenter, mx.image.Augmenter)


# printed by MXNet 1.9.1 for the CreateDetAugmenter call below
CREATE_DET_DUMPS = [
    ['detborrowaug', '["resizeaug", {"size": 10, "interp": 10}]'],
    ['detrandomselectaug', [
        '["detrandomcropaug", {"min_object_covered": 0.3, "aspect_ratio_range": [0.75, 1.33], '
        '"area_range": [0.3, 3.0], "min_eject_coverage": 0.3, "max_attempts": 50}]',
        '["detrandomcropaug", {"min_object_covered": 0.5, "aspect_ratio_range": [0.75, 1.33], '
        '"area_range": [0.3, 3.0], "min_eject_coverage": 0.3, "max_attempts": 50}]']],
    '["dethorizontalflipaug", {"p": 0.5}]',
    ['detrandomselectaug', ['["detrandompadaug", {"aspect_ratio_range": [0.75, 1.33], "area_range": [1.0, 3.0], '
                            '"max_attempts": 50, "pad_val": [127, 127, 127]}]']],
    ['detborrowaug', '["forceresizeaug", {"size": [300, 300], "interp": 10}]'],
    ['detborrowaug', '["castaug", {"type": "float32"}]'],
    ['detborrowaug', ['colorjitteraug', ['["brightnessjitteraug", {"brightness": 0.1}]',
                                         '["contrastjitteraug", {"contrast": 0.1}]',
                                         '["saturationjitteraug", {"saturation": 0.1}]']]],
    ['detborrowaug', '["huejitteraug", {"hue": 0.1}]'],
    ['detborrowaug', '["lightingaug", {"alphastd": 0.05, "eigval": [55.46, 4.794, 1.148], "eigvec": '
                     '[[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.814], [-0.5836, -0.6948, 0.4203]]}]'],
    ['detborrowaug', '["randomgrayaug", {"p": 0.2}]'],
    ['detborrowaug', '["colornormalizeaug", {"mean": [123.68, 116.28, 103.53], "std": [58.395, 57.12, 57.375]}]'],
]


def test_create_det_augmenter_dumps_match_mxnet():
    augs = mx.image.CreateDetAugmenter((3, 300, 300), resize=10, rand_crop=0.5, rand_pad=0.5, rand_mirror=True,
                                       mean=True, std=True, brightness=0.1, contrast=0.1, saturation=0.1,
                                       pca_noise=0.05, hue=0.1, rand_gray=0.2, inter_method=10,
                                       min_object_covered=[0.3, 0.5], area_range=(0.3, 3.0))
    assert [a.dumps() for a in augs] == CREATE_DET_DUMPS
    # the defaults: only the forced resize and the cast
    assert [a.dumps() for a in mx.image.CreateDetAugmenter((3, 8, 6))] == [
        ['detborrowaug', '["forceresizeaug", {"size": [6, 8], "interp": 2}]'],
        ['detborrowaug', '["castaug", {"type": "float32"}]']]
    # a scalar pad_val is kept as given (MXNet's dumps shows it so too)
    assert json.loads(mx.image.DetRandomPadAug(pad_val=5).dumps())[1]["pad_val"] == 5
    assert json.loads(mx.image.DetHorizontalFlipAug(0.25).dumps()) == ["dethorizontalflipaug", {"p": 0.25}]


# ---- augmenters against numpy ------------------------------------------------------------------
def crop_oracle(label, x, y, w, h, width, height, min_eject):
    """Boxes moved into the crop window, clipped, and dropped when too little remains (float64)."""
    lab = label.astype(np.float64)
    win = np.array([x / width, y / height, w / width, h / height])
    out = lab.copy()
    out[:, [1, 3]] = np.clip((lab[:, [1, 3]] - win[0]) / win[2], 0, 1)
    out[:, [2, 4]] = np.clip((lab[:, [2, 4]] - win[1]) / win[3], 0, 1)
    area = lambda b: np.maximum(0, b[:, 3] - b[:, 1]) * np.maximum(0, b[:, 4] - b[:, 2])  # noqa: E731
    kept = (out[:, 3] > out[:, 1]) & (out[:, 4] > out[:, 2]) & (area(out) * win[2] * win[3] / area(lab) > min_eject)
    return out[kept]


def test_random_crop_matches_mxnet_and_numpy():
    src = src40x60()
    aug = mx.image.DetRandomCropAug(min_object_covered=0.3, area_range=(0.2, 1.0))
    for seed, ref in enumerate(REF["crop"]):
        random.seed(seed)
        prop = aug._random_crop_proposal(LABEL, 40, 60)
        assert tuple(prop[:4]) == tuple(ref[0])
        random.seed(seed)
        out, lab = aug(src, LABEL.copy())
        check_result(ref[1:], out, lab)
        x, y, w, h = ref[0]
        np.testing.assert_array_equal(out.asnumpy(), pat(40, 60, 3)[y:y + h, x:x + w])
        np.testing.assert_allclose(lab, crop_oracle(LABEL, x, y, w, h, 60, 40, 0.3), atol=1e-6)
        assert 0.2 * 2400 <= w * h <= 2400 and 0.75 <= w / h <= 1.34
    # every kept box keeps more than min_object_covered of itself inside the window
    random.seed(0)
    for _ in range(30):
        prop = aug._random_crop_proposal(LABEL, 40, 60)
        if prop:
            x, y, w, h, _ = prop
            inter = crop_oracle(LABEL, x, y, w, h, 60, 40, 0.0)
            assert len(inter) and (inter[:, 3] > inter[:, 1]).all()


def test_random_crop_without_a_valid_window_returns_the_input():
    src = src40x60()
    # no window with at most 10% of the image covers 90% of a 25%-of-the-image box
    aug = mx.image.DetRandomCropAug(min_object_covered=0.9, area_range=(0.05, 0.1), max_attempts=20)
    lab = np.array([[0, .25, .25, .75, .75]], np.float32)
    random.seed(1)
    out, got = aug(src, lab)
    assert out is src and got is lab


def test_random_pad_matches_mxnet_and_numpy():
    src = src40x60()
    aug = mx.image.DetRandomPadAug(area_range=(1.0, 2.5), pad_val=(1, 2, 3))
    for seed, ref in enumerate(REF["pad"]):
        random.seed(seed)
        prop = aug._random_pad_proposal(LABEL, 40, 60)
        assert tuple(prop[:4]) == tuple(ref[0])
        random.seed(seed)
        out, lab = aug(src, LABEL.copy())
        check_result(ref[1:], out, lab)
        x, y, w, h = ref[0]
        canvas = np.empty((h, w, 3), np.uint8)
        canvas[:] = [1, 2, 3]
        canvas[y:y + 40, x:x + 60] = pat(40, 60, 3)
        np.testing.assert_array_equal(out.asnumpy(), canvas)
        expect = LABEL.astype(np.float64).copy()
        expect[:, [1, 3]] = (expect[:, [1, 3]] * 60 + x) / w
        expect[:, [2, 4]] = (expect[:, [2, 4]] * 40 + y) / h
        np.testing.assert_allclose(lab, expect, atol=1e-6)
        assert h * w <= 2.5 * 2400 and h >= 42 and w >= 62
    # one number pads every channel with it
    random.seed(0)
    out, _ = mx.image.DetRandomPadAug(area_range=(1.0, 2.5), pad_val=9)(src, LABEL.copy())
    assert (out.asnumpy()[0, 0] == 9).all()


def test_flip_matches_mxnet_and_numpy():
    src = src40x60()
    aug = mx.image.DetHorizontalFlipAug(0.5)
    flipped = 0
    for seed, ref in enumerate(REF["flip"]):
        random.seed(seed)
        lab = LABEL.copy()
        out, got = aug(src, lab)
        close(got, ref)
        if not np.array_equal(got, LABEL):
            flipped += 1
            assert got is lab  # in place, as MXNet
            np.testing.assert_array_equal(out.asnumpy(), pat(40, 60, 3)[:, ::-1])
            expect = LABEL.copy()
            expect[:, 1], expect[:, 3] = 1 - LABEL[:, 3], 1 - LABEL[:, 1]
            np.testing.assert_allclose(got, expect, atol=1e-7)
        else:
            assert out is src
    assert 0 < flipped < len(REF["flip"])
    # an NDArray label is flipped in place and returned, as MXNet does
    nd_lab = mx.nd.array(LABEL)
    _, got = mx.image.DetHorizontalFlipAug(1.0)(src, nd_lab)
    assert got is nd_lab
    np.testing.assert_allclose(nd_lab.asnumpy()[:, [1, 3]], 1 - LABEL[:, [3, 1]], atol=1e-7)


def test_pad_fills_four_channel_images_as_opencv():
    # MXNet 1.9.1: pad_val (1, 2, 3) on an HxWx4 uint8 image pads with [1, 2, 3, 0]
    random.seed(1)
    lab = np.array([[0, .1, .1, .5, .5]], dtype=np.float32)
    out, _ = mx.image.DetRandomPadAug(pad_val=(1, 2, 3))(mx.nd.ones((20, 20, 4), dtype="uint8"), lab)
    assert out.shape[2] == 4 and out.shape[:2] != (20, 20)
    assert out.asnumpy()[0, 0].tolist() == [1, 2, 3, 0]


def test_multi_crop_and_pipeline_match_mxnet():
    src = src40x60()
    aug = mx.image.CreateMultiRandCropAugmenter(min_object_covered=[0.1, 0.5, 0.9],
                                                area_range=[(0.1, 1.0), (0.3, 1.0), (0.5, 1.0)], skip_prob=0.3)
    assert [json.loads(d)[1]["min_object_covered"] for d in aug.dumps()[1]] == [0.1, 0.5, 0.9]
    random.seed(7)
    for ref in REF["multi"]:
        check_result(ref, *aug(src, LABEL.copy()))
    augs = mx.image.CreateDetAugmenter((3, 24, 24), rand_crop=0.7, rand_pad=0.5, rand_mirror=True, inter_method=1,
                                       brightness=0.2)
    random.seed(11)
    for ref in REF["pipeline"]:
        d, lab = src, LABEL.copy()
        for a in augs:
            d, lab = a(d, lab)
        assert d.dtype == np.float32
        check_result(ref, d, lab)


def test_select_and_borrow():
    class Tag(mx.image.DetAugmenter):
        def __init__(self, k):
            super().__init__(k=k)
            self.k = k

        def __call__(self, src, label):
            return src, label + self.k

    sel = mx.image.DetRandomSelectAug((Tag(1), Tag(2), Tag(3)), skip_prob=0.25)
    random.seed(0)
    picks = [int(sel(None, np.zeros(1))[1][0]) for _ in range(2000)]
    counts = np.bincount(picks, minlength=4) / 2000.0
    assert abs(counts[0] - 0.25) < 0.04 and all(abs(c - 0.25) < 0.04 for c in counts[1:])
    assert sel.dumps() == ["detrandomselectaug", ['["tag", {"k": %d}]' % k for k in (t.k for t in sel.aug_list)]]
    # an empty list always skips
    empty = mx.image.DetRandomSelectAug([], skip_prob=0)
    lab = np.zeros(1)
    assert empty("img", lab) == ("img", lab)
    borrow = mx.image.DetBorrowAug(mx.image.CastAug("float64"))
    out, got = borrow(src40x60(), LABEL)
    assert out.dtype == np.float64 and got is LABEL
    assert borrow.dumps() == ["detborrowaug", '["castaug", {"type": "float64"}]']


# ---- ImageDetIter ------------------------------------------------------------------------------
@pytest.fixture
def detdir(tmp_path):
    return write_det_data(tmp_path / "det")


def epochs(it, n=2):
    out = []
    for _ in range(n):
        ep = []
        for b in it:
            ep.append((b.label[0].asnumpy().astype(np.float64).round(6).tolist(), b.pad,
                       [round(float(x), 2) for x in b.data[0].asnumpy().astype(np.float64).sum(axis=(1, 2, 3))]))
        out.append(ep)
        it.reset()
    return out


def same_epochs(got, ref):
    assert len(got) == len(ref)
    for ep, ref_ep in zip(got, ref):
        assert len(ep) == len(ref_ep)
        for (lab, pad, sums), (rlab, rpad, rsums) in zip(ep, ref_ep):
            assert pad == rpad
            close(lab, rlab)
            np.testing.assert_allclose(sums, rsums, atol=0.02)


def parsed(i):
    raw = np.array(DET_LABELS[i], np.float32)
    objs = raw[int(raw[0]):].reshape(-1, 5)
    return objs[(objs[:, 3] > objs[:, 1]) & (objs[:, 4] > objs[:, 2])]


@pytest.mark.parametrize("handle", ["pad", "discard", "roll_over"])
def test_detiter_rec_last_batch_handle_matches_mxnet(detdir, handle):
    it = mx.image.ImageDetIter(3, (3, 16, 16), path_imgrec=str(detdir / "det.rec"), last_batch_handle=handle)
    provide_label, provide_data, label_shape, ref = REF["iter"][handle]
    assert it.provide_label == provide_label and it.provide_data == provide_data
    assert it.label_shape == label_shape == (3, 5)
    same_epochs(epochs(it), ref)


def test_detiter_labels_are_parsed_and_padded_with_minus_one(detdir):
    it = mx.image.ImageDetIter(7, (3, 16, 16), path_imgrec=str(detdir / "det.rec"),
                               path_imgidx=str(detdir / "det.idx"))
    b = it.next()
    lab = b.label[0].asnumpy()
    assert lab.shape == (7, 3, 5) and b.data[0].shape == (7, 3, 16, 16)
    for i in range(7):
        objs = parsed(i)
        np.testing.assert_array_equal(lab[i, :len(objs)], objs)
        assert (lab[i, len(objs):] == -1).all()
    # sample 2's inverted box is gone, its 4-wide header skipped
    assert lab[2, :, 0].tolist() == [2, 1, -1]
    # the default augmenters only resize: data is the image resized to 16x16
    expect = mx.image.imresize(mx.nd.array(det_image(3), dtype=np.uint8), 16, 16, interp=2).asnumpy()
    np.testing.assert_array_equal(b.data[0].asnumpy()[3], expect.transpose(2, 0, 1))


def test_detiter_shuffle_and_augment_match_mxnet(detdir):
    random.seed(5)
    it = mx.image.ImageDetIter(3, (3, 16, 16), path_imgrec=str(detdir / "det.rec"),
                               path_imgidx=str(detdir / "det.idx"), shuffle=True, rand_crop=0.5, rand_pad=0.5,
                               rand_mirror=True, inter_method=1)
    same_epochs(epochs(it, 3), REF["iter_shuffle_aug_seed5"])


def test_detiter_lists_match_mxnet(detdir):
    it = mx.image.ImageDetIter(4, (3, 16, 16), path_imglist=str(detdir / "det.lst"), path_root=str(detdir),
                               label_name="lab")
    provide_label, ref = REF["iter_lst"]
    assert it.provide_label == provide_label
    same_epochs(epochs(it, 1), ref)
    imglist = [lab + ["%d.png" % i] for i, lab in enumerate(DET_LABELS)]
    it = mx.image.ImageDetIter(4, (3, 16, 16), imglist=imglist, path_root=str(detdir))
    same_epochs(epochs(it, 1), REF["iter_imglist"])
    # [label list, path] entries, as MXNet's tests write them
    small = mx.image.ImageDetIter(2, (3, 16, 16), imglist=[[DET_LABELS[0], "0.png"]], path_root=str(detdir))
    label_shape, ref = REF["small"]
    assert small.label_shape == label_shape == (1, 5)
    same_epochs(epochs(small, 1), ref)
    assert it.sync_label_shape(small) is small
    _, small_shape, small_provide, it_shape, ref = REF["synced"]
    assert small.label_shape == small_shape and small.provide_label == small_provide and it.label_shape == it_shape
    same_epochs(epochs(small, 1), ref)


def test_detiter_reshape_and_check_label_shape(detdir):
    imglist = [lab + ["%d.png" % i] for i, lab in enumerate(DET_LABELS)]
    it = mx.image.ImageDetIter(4, (3, 16, 16), imglist=imglist, path_root=str(detdir))
    it.reshape(None, (6, 5))
    provide_data, provide_label, label_shape, first = REF["reshaped"]
    assert (it.provide_data, it.provide_label, it.label_shape) == (provide_data, provide_label, label_shape)
    assert len(epochs(it, 1)[0][0][0]) == 4
    close(epochs(it, 1)[0][0][0], first)
    it.reshape((3, 8, 8))
    assert (it.provide_data, it.data_shape) == REF["reshaped_data"]
    with pytest.raises(ValueError, match="label_shape should have length 2"):
        it.reshape(label_shape=(6,))
    with pytest.raises(ValueError, match=r"label_shape \(2, 5\) attempts to reduce label count from 6 to 2"):
        it.reshape(label_shape=(2, 5))
    with pytest.raises(ValueError, match="label_shape object width inconsistent: 5 vs 6"):
        it.check_label_shape((6, 6))
    with pytest.raises(ValueError, match="3 channels"):
        it.reshape(data_shape=(1, 8, 8))
    assert it.label_shape == (6, 5)
    with pytest.raises(TypeError, match="sync_label_shape: it must be an ImageDetIter"):
        it.sync_label_shape(mx.image.ImageIter(1, (3, 8, 8), imglist=[[0, "0.png"]], path_root=str(detdir)))
    wide = mx.image.ImageDetIter(1, (3, 8, 8), imglist=[[2, 6, 0, .1, .1, .5, .5, 9, "0.png"]],
                                 path_root=str(detdir))
    assert wide.label_shape == (1, 6)
    with pytest.raises(ValueError, match="object width mismatch: 5 vs 6"):
        it.sync_label_shape(wide)


def test_detiter_skips_samples_without_a_valid_class(detdir):
    # class id -1 marks padding; a sample with only such boxes is skipped in batches
    imglist = [[2, 5, -1, .1, .1, .5, .5, "0.png"], [2, 5, 3, .2, .2, .6, .6, "1.png"],
               [2, 5, 4, .1, .2, .3, .4, "2.png"]]
    it = mx.image.ImageDetIter(2, (3, 8, 8), imglist=imglist, path_root=str(detdir))
    b = it.next()
    assert b.label[0].asnumpy()[:, 0, 0].tolist() == [3, 4] and b.pad == 0


def test_detiter_label_errors(detdir):
    root = str(detdir)

    def make(label):
        return mx.image.ImageDetIter(1, (3, 8, 8), imglist=[[label, "0.png"]], path_root=root)

    with pytest.raises(RuntimeError, match="at least 7 values"):
        make([2, 5, 0, .1, .1, .5])
    with pytest.raises(RuntimeError, match=r"inconsistent with annotation width 5"):
        make([2, 5, 0, .1, .1, .5, .5, 1])
    with pytest.raises(RuntimeError, match="object_width >= 5"):
        make([2, 4, 0, .1, .1, .5, .5, 1, .2])
    with pytest.raises(RuntimeError, match="header_width >= 2"):
        make([1, 5, 0, .1, .1, .5, .5])
    with pytest.raises(RuntimeError, match="no valid label"):
        make([2, 5, 0, .5, .1, .2, .5])
    with pytest.raises(RuntimeError, match="object widths 5 and 6"):
        mx.image.ImageDetIter(1, (3, 8, 8), imglist=[[DET_LABELS[0], "0.png"], [[2, 6, 0, .1, .1, .5, .5, 9], "1.png"]],
                              path_root=root)
    with pytest.raises(TypeError, match="ImageDetIter: unexpected keyword argument.*bogus"):
        mx.image.ImageDetIter(1, (3, 8, 8), imglist=[[DET_LABELS[0], "0.png"]], path_root=root, bogus=1)
    with pytest.warns(UserWarning, match="ImageDetIter: keyword argument.*rand_crop.*ignored"):
        it = mx.image.ImageDetIter(1, (3, 8, 8), imglist=[[DET_LABELS[0], "0.png"]], path_root=root,
                                   aug_list=[], rand_crop=0.5)
    assert it.auglist == []

    class Grow(mx.image.DetAugmenter):
        def __call__(self, src, label):
            return src, np.vstack([label, label])

    it = mx.image.ImageDetIter(1, (3, 8, 8), imglist=[[DET_LABELS[0], "0.png"]], path_root=root,
                               aug_list=mx.image.CreateDetAugmenter((3, 8, 8)) + [Grow()])
    with pytest.raises(MXNetError, match=r"label has shape \(2, 5\) after augmentation.*label_shape \(1, 5\)"):
        it.next()
    it.reshape(label_shape=(2, 5))
    it.reset()
    np.testing.assert_allclose(it.next().label[0].asnumpy()[0], np.vstack([parsed(0)] * 2))


def test_augmenter_argument_errors():
    with pytest.raises(TypeError, match="DetBorrowAug: augmenter must be an mx.image.Augmenter"):
        mx.image.DetBorrowAug(mx.image.DetHorizontalFlipAug(0.5))
    with pytest.raises(ValueError, match="DetRandomSelectAug: aug_list may only hold DetAugmenters"):
        mx.image.DetRandomSelectAug([mx.image.CastAug()])
    with pytest.raises(ValueError, match="CreateMultiRandCropAugmenter: area_range has 2 values, other arguments 3"):
        mx.image.CreateMultiRandCropAugmenter(min_object_covered=[0.1, 0.2, 0.3], area_range=[(0.1, 1), (0.2, 1)])
    with pytest.raises(TypeError, match="DetRandomCropAug: aspect_ratio_range"):
        mx.image.DetRandomCropAug(aspect_ratio_range="wide")
    with pytest.raises(ValueError, match="DetRandomPadAug: area_range"):
        mx.image.DetRandomPadAug(area_range=(1, 2, 3))
    with pytest.raises(ValueError, match="CreateDetAugmenter: mean"):
        mx.image.CreateDetAugmenter((3, 8, 8), mean=[1, 2, 3])
    with pytest.raises(ValueError, match="CreateDetAugmenter: data_shape"):
        mx.image.CreateDetAugmenter((8, 8))
    with pytest.raises(ValueError, match=r"DetRandomCropAug: label must be .* shape \(num_objects, 5\+\), got \(5,\)"):
        mx.image.DetRandomCropAug()(src40x60(), LABEL[0])
    # invalid ranges disable the augmenter with a warning (MXNet's own warning call raises TypeError)
    with pytest.warns(UserWarning, match="Skip DetRandomCropAug due to invalid area_range"):
        crop = mx.image.DetRandomCropAug(area_range=(0.5, 0.1))
    with pytest.warns(UserWarning, match="Skip DetRandomPadAug due to invalid aspect_ratio_range"):
        pad = mx.image.DetRandomPadAug(aspect_ratio_range=(0, 1))
    src = src40x60()
    for aug in (crop, pad):
        assert not aug.enabled
        out, lab = aug(src, LABEL)
        assert out is src and lab is LABEL
    # a single number is a fixed range
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mx.image.DetRandomCropAug(aspect_ratio_range=1.0, area_range=0.5).area_range == (0.5, 0.5)


def test_draw_next(detdir):
    imglist = [[DET_LABELS[0], "0.png"], [DET_LABELS[3], "3.png"]]
    it = mx.image.ImageDetIter(1, (3, 20, 30), imglist=imglist, path_root=str(detdir))
    images = list(it.draw_next(color=(255, 0, 0), thickness=1))
    assert len(images) == 2
    for img, i in zip(images, (0, 3)):
        plain = mx.image.imresize(mx.nd.array(det_image(i), dtype=np.uint8), 30, 20, interp=2).asnumpy()
        assert img.dtype == np.uint8 and img.shape == (20, 30, 3)
        box = parsed(i)[0]
        x1, y1, x2, y2 = int(box[1] * 30), int(box[2] * 20), int(box[3] * 30), int(box[4] * 20)
        edge = np.zeros((20, 30), bool)
        edge[[y1, y2], x1:x2 + 1] = True
        edge[y1:y2 + 1, [x1, x2]] = True
        # BGR like MXNet's (cv2) output; the RGB color red is (0, 0, 255) there, on every image
        assert (img[edge] == [0, 0, 255]).all()
        np.testing.assert_array_equal(img[~edge], plain[:, :, ::-1][~edge])
    # mean/std undo a normalization; random colors come from numpy's RNG; names are written
    it = mx.image.ImageDetIter(1, (3, 20, 30), imglist=imglist, path_root=str(detdir), mean=True, std=True)
    np.random.seed(0)
    img = next(it.draw_next(mean=True, std=True, thickness=-1))
    plain = mx.image.imresize(mx.nd.array(det_image(0), dtype=np.uint8), 30, 20, interp=2).asnumpy()
    np.random.seed(0)
    color = np.rint(np.random.rand(3) * 255).astype(np.uint8)
    x1, y1, x2, y2 = 3, 4, 18, 14
    assert (img[y1:y2 + 1, x1:x2 + 1] == color).all()
    outside = np.ones((20, 30), bool)
    outside[y1:y2 + 1, x1:x2 + 1] = False
    assert np.abs(img[outside].astype(int) - plain[:, :, ::-1][outside]).max() <= 1
    it.reset()
    named = next(it.draw_next(color=(0, 255, 0), mean=True, std=True, id2labels={0: "cat"}))
    unnamed = next(mx.image.ImageDetIter(1, (3, 20, 30), imglist=imglist, path_root=str(detdir), mean=True,
                                         std=True).draw_next(color=(0, 255, 0), mean=True, std=True))
    assert (named != unnamed).any()


def test_copy_make_border_rounds_fill_values_as_opencv():
    # MXNet 1.9.1 (OpenCV) printed 128, 128, 4 for these border values on a uint8 image
    src = mx.nd.array(np.arange(18).reshape(2, 3, 3), dtype=np.uint8)
    out = mx.image.copyMakeBorder(src, 1, 0, 1, 0, values=(127.5, 128.4, 3.6)).asnumpy()
    assert out[0].tolist() == [[128, 128, 4]] * 4
    out = mx.image.copyMakeBorder(src.astype("float32"), 1, 0, 1, 0, values=(127.5, 128.4, 3.6)).asnumpy()
    np.testing.assert_allclose(out[0, 0], [127.5, 128.4, 3.6], rtol=1e-6)
