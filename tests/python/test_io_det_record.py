"""mx.io.ImageDetRecordIter against MXNet 1.9.1 (io_det_record_mxnet_ref.py) and, for the random
augmenters whose draws cannot match MXNet's, against the geometry they must keep."""
import colorsys
import os
import struct
import zlib

import numpy as np
import pytest

import oxnet as mx
from oxnet.base import MXNetError
from oxnet.io.image_det_record_iter import _hls_to_rgb, _rgb_to_hls

from io_det_record_mxnet_ref import REF, REF_EXTRA, REF_RGBA

SIZES = [(10, 14), (12, 8), (9, 9), (16, 12), (7, 11)]
LABELS = [
    [2, 5, 0, 0.1, 0.2, 0.5, 0.6],
    [2, 5, 1, 0.0, 0.0, 0.5, 0.5, 3, 0.4, 0.3, 0.9, 1.0],
    [2, 5, 2, 0.2, 0.1, 0.8, 0.9, 1, 0.3, 0.6, 0.7, 0.95, 4, 0.6, 0.5, 0.3, 0.9],  # last box invalid
    [2, 5, 4, 0.05, 0.05, 0.95, 0.95],
    [2, 5, 1, 0.25, 0.25, 0.75, 0.75, 2, 0.6, 0.1, 0.9, 0.4, 0, 0.1, 0.6, 0.3, 0.9],
]
IMGLIST = ("0\t2\t5\t7\t0.1\t0.1\t0.9\t0.9\ta.png\n"
           "1\t2\t5\t8\t0.2\t0.2\t0.4\t0.6\t9\t0.5\t0.5\t0.6\t0.7\tb.png\n"
           "2\t2\t5\t1\t0\t0\t1\t1\tc.png\n3\t2\t5\t2\t0.3\t0.3\t0.4\t0.4\td.png\n"
           "4\t2\t5\t3\t0.1\t0.2\t0.3\t0.4\te.png\n")


def png_bytes(pixels):
    """Minimal PNG encoder (RGB or RGBA, filter 0), the same bytes in oxnet and in the MXNet run
    (no cv2 there), so the .rec files, and hence the byte-split parts, are identical."""
    h, w, c = pixels.shape
    raw = b"".join(b"\x00" + pixels[y].astype(np.uint8).tobytes() for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    color_type = {3: 2, 4: 6}[c]
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def image(i):
    h, w = SIZES[i]
    y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    return ((i * 37 + y * 23 + x * 11 + c * 70) % 256).astype(np.uint8)


def write_rec(path):
    rec = mx.recordio.MXIndexedRecordIO(path + ".idx", path, "w")
    for i in range(len(SIZES)):
        header = mx.recordio.IRHeader(0, np.array(LABELS[i], np.float32), i, 0)
        rec.write_idx(i, mx.recordio.pack(header, png_bytes(image(i))))
    rec.close()


@pytest.fixture(scope="module")
def rec(tmp_path_factory):
    d = tmp_path_factory.mktemp("detrec")
    path = str(d / "d.rec")
    write_rec(path)
    with open(str(d / "d.lst"), "w") as f:
        f.write(IMGLIST)
    return path


def case_args(rec, name):
    d = os.path.dirname(rec)
    cases = {
        "force": dict(epochs=2),
        "norm": dict(mean_r=100, mean_g=110, mean_b=120, std_r=50, std_g=60, std_b=70, scale=0.5),
        "negmean": dict(mean_r=-10, mean_g=0, mean_b=20, std_g=-3),
        "fit": dict(resize_mode="fit"),
        "shrink": dict(resize_mode="shrink", data_shape=(3, 20, 20)),
        "resize": dict(resize=10, resize_mode="shrink", data_shape=(3, 16, 16)),
        "noround": dict(round_batch=False),
        "part0": dict(num_parts=2, part_index=0),
        "part1": dict(num_parts=2, part_index=1),
        "auto": dict(label_pad_width=0),
        "padval": dict(label_pad_value=-2.5, label_pad_width=18, label_width=-1),
        "gray": dict(data_shape=(1, 8, 8)),
        "cubic": dict(inter_method=2, data_shape=(3, 6, 9)),
        "area": dict(inter_method=9, data_shape=(3, 5, 5)),
        "bs3": dict(batch_size=3, epochs=2),
        "imglist": dict(path_imglist=os.path.join(d, "d.lst"), label_pad_width=0),
        "mean_img": dict(mean_img=os.path.join(d, "mean.nd"), scale=2.0, std_r=4),
        "mirror": dict(rand_mirror_prob=1.0, resize_mode="fit", data_shape=(3, 8, 10)),
    }
    kw = dict(cases[name])
    epochs = kw.pop("epochs", 1)
    args = dict(path_imgrec=rec, data_shape=(3, 8, 8), batch_size=2, label_pad_width=20, verbose=False)
    args.update(kw)
    return args, epochs


def wsum(d):
    w = (np.arange(d[0].size) % 7 + 1).reshape(d[0].shape)
    return [float((d[k].astype(np.float64) * w).sum()) for k in range(d.shape[0])]


@pytest.mark.parametrize("name", sorted(REF))
def test_matches_mxnet(rec, name):
    args, epochs = case_args(rec, name)
    it = mx.io.ImageDetRecordIter(**args)
    ref = REF[name]
    assert it.provide_label[0].shape == ref["label_shape"]
    assert it.provide_data[0].shape == (args["batch_size"],) + tuple(args["data_shape"])
    got = []
    for _ in range(epochs):
        got.extend(it)
        it.reset()
    assert len(got) == len(ref["batches"])
    # 'area' shrinks with INTER_AREA, which _imgops matches to within one gray level
    tol = 1.0 if name == "area" else 1e-5
    for b, (pad, index, label, sums, wsums, px) in zip(got, ref["batches"]):
        d, lab = b.data[0].asnumpy(), b.label[0].asnumpy()
        # round_batch=False: MXNet leaves stale samples in the missing slots; oxnet zero-fills them
        n = d.shape[0] - pad if name == "noround" else d.shape[0]
        assert b.pad == pad
        assert list(b.index[:n]) == index[:n]
        np.testing.assert_allclose(lab[:n], np.asarray(label)[:n], atol=1e-6)
        np.testing.assert_allclose([d[k].astype(np.float64).sum() for k in range(n)], sums[:n],
                                   rtol=1e-6, atol=tol * 8)
        np.testing.assert_allclose(wsum(d)[:n], wsums[:n], rtol=1e-6, atol=tol * 56)
        np.testing.assert_allclose(d[:n, :, [0, 2, -1], [0, 4, -1]],
                                   np.asarray(px)[:n], rtol=1e-5, atol=tol)
    if name == "noround":
        last = got[-1]
        assert not last.data[0].asnumpy()[-last.pad:].any()
        assert (last.label[0].asnumpy()[-last.pad:] == -1).all()
    if name == "mean_img":
        saved = mx.nd.load(args["mean_img"])
        assert list(saved.keys()) == ref["mean_keys"]
        assert saved["mean_img"].asnumpy().astype(np.float64).sum() == pytest.approx(ref["mean_sum"], abs=1e-3)
        # a second iterator loads the saved mean image and gives the same batches
        again = list(mx.io.ImageDetRecordIter(**args))
        np.testing.assert_array_equal(again[0].data[0].asnumpy(), got[0].data[0].asnumpy())



# header_width 4, object_width 6; record 1's longest raw label holds an invalid box
LABELS_EXTRA = [
    [4, 6, 7, 8, 0, 0.1, 0.2, 0.5, 0.6, 0.25],
    [4, 6, 7, 8, 1, 0.0, 0.0, 0.5, 0.5, 0.5, 3, 0.9, 0.3, 0.4, 1.0, 0.75, 2, 0.3, 0.3, 0.6, 0.6, 1.0],
    [4, 6, 7, 8, 2, 0.2, 0.1, 0.8, 0.9, 0.125],
]


@pytest.mark.parametrize("name", sorted(REF_EXTRA))
def test_extra_header_and_object_fields(tmp_path, name):
    """Extra header values and per-object values ride along; MXNet's automatic label_pad_width
    is the longest raw label (invalid boxes included), not the longest kept one."""
    path = str(tmp_path / "e.rec")
    rec = mx.recordio.MXIndexedRecordIO(path + ".idx", path, "w")
    for i, lab in enumerate(LABELS_EXTRA):
        header = mx.recordio.IRHeader(0, np.array(lab, np.float32), 10 + i, 0)
        rec.write_idx(i, mx.recordio.pack(header, png_bytes(image(i))))
    rec.close()
    kw = dict(label_pad_width=22, batch_size=3) if name == "fixed" else {}
    args = dict(path_imgrec=path, data_shape=(3, 4, 4), batch_size=2, verbose=False)
    args.update(kw)
    it = mx.io.ImageDetRecordIter(**args)
    shape, batches = REF_EXTRA[name]
    assert it.provide_label[0].shape == shape
    got = list(it)
    assert len(got) == len(batches)
    for b, (pad, index, label, sums) in zip(got, batches):
        assert b.pad == pad and list(b.index) == index
        np.testing.assert_allclose(b.label[0].asnumpy(), label, atol=1e-6)
        np.testing.assert_allclose(b.data[0].asnumpy().sum(axis=(1, 2, 3)), sums, rtol=1e-6)


@pytest.mark.parametrize("name", ["rgba", "rgba_norm"])
def test_rgba(tmp_path, name):
    path = str(tmp_path / "a.rec")
    rec = mx.recordio.MXIndexedRecordIO(path + ".idx", path, "w")
    for i in range(3):
        rgb = image(i)
        a = ((np.arange(rgb.shape[0])[:, None] * 19 + np.arange(rgb.shape[1])[None] * 3 + 40 * i) % 256)
        header = mx.recordio.IRHeader(0, np.array([2, 5, i, 0.1, 0.2, 0.6, 0.7], np.float32), i, 0)
        rec.write_idx(i, mx.recordio.pack(header, png_bytes(np.dstack([rgb, a.astype(np.uint8)]))))
    rec.close()
    kw = dict(mean_r=10, mean_a=20, std_a=4, std_g=2) if name == "rgba_norm" else {}
    it = mx.io.ImageDetRecordIter(path_imgrec=path, data_shape=(4, 6, 6), batch_size=3, **kw)
    shape, label, sums, px = REF_RGBA[name]
    assert it.provide_data[0].shape == shape
    b = it.next()
    d = b.data[0].asnumpy()
    np.testing.assert_allclose(b.label[0].asnumpy()[:, :4], label)
    np.testing.assert_allclose(d.astype(np.float64).sum(axis=(2, 3)), sums, rtol=1e-6)
    np.testing.assert_allclose(d[:, :, 2, 3], px, rtol=1e-6)


def test_rgb_image_read_as_rgba_fails(rec):
    assert REF_RGBA["rgb_as_rgba"] == "error"
    it = mx.io.ImageDetRecordIter(path_imgrec=rec, data_shape=(4, 6, 6), batch_size=1)
    with pytest.raises(MXNetError, match="4 channels"):
        it.next()


# ---- random augmentation: geometry kept, determinism under seed -------------------------------
MARKER_BOXES = [[0, 0.1, 0.2, 0.45, 0.6], [1, 0.55, 0.5, 0.9, 0.9]]


@pytest.fixture(scope="module")
def marker_rec(tmp_path_factory):
    """40x40 images, black, each box painted in its own channel (class k in channel k)."""
    path = str(tmp_path_factory.mktemp("detmark") / "m.rec")
    rec = mx.recordio.MXIndexedRecordIO(path + ".idx", path, "w")
    for i in range(6):
        img = np.zeros((40, 40, 3), np.uint8)  # RGB here, BGR for pack_img
        boxes = [[k, x0 + 0.02 * i, y0, x1 + 0.02 * i, y1] for k, x0, y0, x1, y1 in MARKER_BOXES]
        for k, x0, y0, x1, y1 in boxes:
            img[int(round(y0 * 40)):int(round(y1 * 40)), int(round(x0 * 40)):int(round(x1 * 40)), k] = 255
        label = np.array([2, 5] + sum(boxes, []), np.float32)
        rec.write_idx(i, mx.recordio.pack_img(mx.recordio.IRHeader(0, label, i, 0), img[:, :, ::-1],
                                              img_fmt=".png"))
    rec.close()
    return path


def marker_iter(path, **kw):
    args = dict(path_imgrec=path, data_shape=(3, 120, 120), batch_size=3, label_pad_width=12,
                resize_mode="shrink", verbose=False)
    args.update(kw)
    return mx.io.ImageDetRecordIter(**args)


def check_markers(batch, tol):
    d, lab = batch.data[0].asnumpy(), batch.label[0].asnumpy()
    for k in range(d.shape[0]):
        rows, cols, n = int(lab[k, 1]), int(lab[k, 2]), int(lab[k, 3])
        assert lab[k, 0] == 3 and 0 < rows <= 120 and 0 < cols <= 120
        assert not d[k, :, rows:, :].any() and not d[k, :, :, cols:].any()  # top-left placement
        objs = lab[k, 4 + 2:4 + n].reshape(-1, 5)
        assert (lab[k, 4 + n:] == -1).all()
        assert objs.shape[0] >= 1
        assert (objs[:, 1:] >= 0).all() and (objs[:, 1:] <= 1).all()
        assert (objs[:, 3] > objs[:, 1]).all() and (objs[:, 4] > objs[:, 2]).all()
        for cls, x0, y0, x1, y1 in objs:
            ys, xs = np.nonzero(d[k, int(cls), :rows, :cols] > 200)
            assert xs.size, "marker of class %d vanished" % cls
            assert abs(xs.min() - x0 * cols) <= tol and abs(xs.max() + 1 - x1 * cols) <= tol
            assert abs(ys.min() - y0 * rows) <= tol and abs(ys.max() + 1 - y1 * rows) <= tol


def test_mirror_moves_boxes_with_pixels(marker_rec):
    plain = list(marker_iter(marker_rec))
    flipped = list(marker_iter(marker_rec, rand_mirror_prob=1.0))
    for a, b in zip(plain, flipped):
        # the 40x40 image sits top-left in the 120x120 slot
        np.testing.assert_array_equal(b.data[0].asnumpy()[:, :, :40, :40], a.data[0].asnumpy()[:, :, :40, 39::-1])
        la, lb = a.label[0].asnumpy(), b.label[0].asnumpy()
        oa, ob = la[:, 6:16].reshape(-1, 2, 5), lb[:, 6:16].reshape(-1, 2, 5)
        np.testing.assert_allclose(ob[..., 1], 1 - oa[..., 3], atol=1e-6)
        np.testing.assert_allclose(ob[..., 3], 1 - oa[..., 1], atol=1e-6)
        np.testing.assert_array_equal(ob[..., [0, 2, 4]], oa[..., [0, 2, 4]])
        check_markers(b, 1.01)


@pytest.mark.parametrize("kw, tol", [
    # MXNet truncates the pad and crop rectangles to whole pixels but maps the boxes exactly:
    # up to ~1 px per truncated edge, plus the marker's own rounding
    (dict(rand_pad_prob=1.0, max_pad_scale=2.5), 3.0),
    (dict(rand_crop_prob=1.0, min_crop_scales=0.4), 2.5),
    (dict(rand_crop_prob=1.0, min_crop_scales=0.4, crop_emit_mode="overlap", emit_overlap_thresh=0.5), 2.5),
    (dict(rand_crop_prob=0.7, min_crop_scales=(0.3, 0.6), max_crop_scales=(0.8, 1.0), num_crop_sampler=2,
          rand_pad_prob=0.5, max_pad_scale=2.0, rand_mirror_prob=0.5), 4.0),
])
def test_random_geometry_keeps_boxes_on_markers(marker_rec, kw, tol):
    sizes = set()
    for seed in range(4):
        it = marker_iter(marker_rec, seed=seed, **kw)
        for _ in range(2):
            for b in it:
                check_markers(b, tol)
                sizes.update(map(tuple, b.label[0].asnumpy()[:, 1:3].astype(int).tolist()))
            it.reset()
    assert len(sizes) > 3  # the augmenter did change the geometry
    if "rand_pad_prob" in kw and "rand_crop_prob" not in kw:
        assert all(40 <= r <= 100 and 40 <= c <= 100 for r, c in sizes)
        assert any(r > 45 for r, _ in sizes)
    if "rand_crop_prob" in kw and "rand_pad_prob" not in kw:
        assert all(r <= 40 and c <= 40 for r, c in sizes)


def test_pad_fills_with_fill_value(marker_rec):
    b = marker_iter(marker_rec, rand_pad_prob=1.0, max_pad_scale=3.0, fill_value=77, seed=3).next()
    d, lab = b.data[0].asnumpy(), b.label[0].asnumpy()
    for k in range(d.shape[0]):
        rows, cols = int(lab[k, 1]), int(lab[k, 2])
        if rows > 40 or cols > 40:
            assert (d[k, :, :rows, :cols] == 77).any()


def test_random_augmentation_is_deterministic_under_seed(marker_rec):
    kw = dict(rand_crop_prob=0.8, min_crop_scales=0.3, rand_pad_prob=0.5, max_pad_scale=2.0,
              rand_mirror_prob=0.5, random_illumination_prob=0.5, max_random_illumination=40,
              random_contrast_prob=0.5, max_random_contrast=0.3, resize_mode="force",
              data_shape=(3, 32, 32), shuffle=True)

    def run(seed):
        it = marker_iter(marker_rec, seed=seed, **kw)
        out = []
        for _ in range(2):
            out += [(b.data[0].asnumpy(), b.label[0].asnumpy(), list(b.index)) for b in it]
            it.reset()
        return out

    a, b, c = run(5), run(5), run(6)
    for (da, la, ia), (db, lb, ib) in zip(a, b):
        np.testing.assert_array_equal(da, db)
        np.testing.assert_array_equal(la, lb)
        assert ia == ib
    assert any(not np.array_equal(x[0], y[0]) for x, y in zip(a, c))
    assert not all(np.array_equal(x[0], y[0]) for x, y in zip(a[:2], a[2:4]))  # epochs differ
    for _, lab, _ in a:
        for row in lab:
            objs = row[6:4 + int(row[3])].reshape(-1, 5)
            assert ((objs[:, 1:] >= 0) & (objs[:, 1:] <= 1)).all()


def test_color_jitter_changes_pixels_not_boxes(marker_rec):
    plain = marker_iter(marker_rec).next()
    jit = marker_iter(marker_rec, random_hue_prob=1.0, max_random_hue=30, random_saturation_prob=1.0,
                      max_random_saturation=50, random_illumination_prob=1.0, max_random_illumination=50,
                      seed=1).next()
    np.testing.assert_array_equal(jit.label[0].asnumpy(), plain.label[0].asnumpy())
    assert not np.array_equal(jit.data[0].asnumpy(), plain.data[0].asnumpy())


def test_hls_round_trip():
    rgb = np.random.RandomState(0).randint(0, 256, (50, 50, 3)).astype(np.uint8)
    hls = _rgb_to_hls(rgb)
    # OpenCV's 8-bit HLS: H in degrees / 2, L and S scaled to 255 (colorsys as the oracle)
    ref = np.array([colorsys.rgb_to_hls(*(p / 255.0)) for p in rgb.reshape(-1, 3)]).reshape(rgb.shape)
    ref = ref[..., [0, 1, 2]] * [180, 255, 255]
    diff = np.abs(hls - ref)
    diff[..., 0] = np.minimum(diff[..., 0], 180 - diff[..., 0])
    assert diff.max() <= 0.51
    back = _hls_to_rgb(hls)
    assert np.abs(back.astype(int) - rgb).max() <= 6  # H keeps 180 levels only
    assert np.abs(back.astype(int) - rgb).mean() < 1
    hls = _rgb_to_hls(np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [128, 128, 128]]], np.uint8))
    np.testing.assert_array_equal(hls[0], [[0, 128, 255], [60, 128, 255], [120, 128, 255], [0, 128, 0]])


# ---- arguments and bad input --------------------------------------------------------------------
def test_signature_and_defaults(rec):
    it = mx.io.ImageDetRecordIter(path_imgrec=rec, data_shape=(3, 8, 8), batch_size=2,
                                  # every MXNet argument, at MXNet's default
                                  path_imglist="", aug_seq="det_aug_default", label_width=-1, preprocess_threads=4,
                                  verbose=True, num_parts=1, part_index=0, shuffle_chunk_size=0,
                                  shuffle_chunk_seed=0, label_pad_width=0, label_pad_value=-1.0, shuffle=False,
                                  seed=0, round_batch=True, prefetch_buffer=4, ctx="gpu", dtype=None, resize=-1,
                                  rand_crop_prob=0.0, min_crop_scales=(0.0,), max_crop_scales=(1.0,),
                                  min_crop_aspect_ratios=(1.0,), max_crop_aspect_ratios=(1.0,),
                                  min_crop_overlaps=(0.0,), max_crop_overlaps=(1.0,),
                                  min_crop_sample_coverages=(0.0,), max_crop_sample_coverages=(1.0,),
                                  min_crop_object_coverages=(0.0,), max_crop_object_coverages=(1.0,),
                                  num_crop_sampler=1, crop_emit_mode="center", emit_overlap_thresh=0.3,
                                  max_crop_trials=(25,), rand_pad_prob=0.0, max_pad_scale=1.0, max_random_hue=0,
                                  random_hue_prob=0.0, max_random_saturation=0, random_saturation_prob=0.0,
                                  max_random_illumination=0, random_illumination_prob=0.0,
                                  max_random_contrast=0.0, random_contrast_prob=0.0, rand_mirror_prob=0.0,
                                  fill_value=127, inter_method=1, resize_mode="force", mean_img="", mean_r=0.0,
                                  mean_g=0.0, mean_b=0.0, mean_a=0.0, std_r=0.0, std_g=0.0, std_b=0.0, std_a=0.0,
                                  scale=1.0)
    assert it.provide_label[0].shape == (2, 21)
    np.testing.assert_array_equal(it.next().label[0].asnumpy()[:, :21 - 4 + 4][:, :4], [[3, 8, 8, 7], [3, 8, 8, 12]])


def test_dtype_casts(rec):
    it = mx.io.ImageDetRecordIter(path_imgrec=rec, data_shape=(3, 8, 8), batch_size=2, dtype="uint8")
    assert it.provide_data[0].dtype == np.uint8
    b = it.next()
    assert b.data[0].dtype == np.uint8
    assert b.data[0].asnumpy().astype(np.float64)[0].sum() == REF["force"]["batches"][0][3][0]
    it = mx.io.ImageDetRecordIter(path_imgrec=rec, data_shape=(3, 8, 8), batch_size=2, dtype=np.float16)
    assert it.next().data[0].dtype == np.float16


@pytest.mark.parametrize("kw, exc, words", [
    (dict(bogus=1, other=2), TypeError, "bogus, other"),
    (dict(data_shape=(3, 8)), ValueError, "data_shape"),
    (dict(data_shape=(2, 8, 8)), ValueError, "data_shape"),
    (dict(data_shape=(3, 0, 8)), ValueError, "data_shape"),
    (dict(path_imgrec="/nonexistent/x.rec"), MXNetError, "path_imgrec"),
    (dict(label_pad_width=10), MXNetError, "label_pad_width"),
    (dict(label_width=7), MXNetError, "label_width"),
    (dict(resize_mode="stretch"), ValueError, "resize_mode"),
    (dict(crop_emit_mode="all"), ValueError, "crop_emit_mode"),
    (dict(inter_method=5), ValueError, "inter_method"),
    (dict(num_parts=2, part_index=2), ValueError, "part_index"),
    (dict(num_crop_sampler=2, min_crop_scales=(0.1, 0.2, 0.3)), ValueError, "min_crop_scales"),
    (dict(min_crop_scales=0.5, max_crop_scales=0.4), ValueError, "min_crop_scales"),
    (dict(dtype="complex64"), ValueError, "dtype"),
    (dict(aug_seq="aug_default"), NotImplementedError, "aug_seq"),
])
def test_bad_arguments(rec, kw, exc, words):
    args = dict(path_imgrec=rec, data_shape=(3, 8, 8), batch_size=2)
    args.update(kw)
    with pytest.raises(exc, match=words):
        mx.io.ImageDetRecordIter(**args)


def test_missing_required_arguments(rec):
    with pytest.raises(TypeError, match="data_shape"):
        mx.io.ImageDetRecordIter(path_imgrec=rec, batch_size=2)


def test_corrupt_inputs(tmp_path):
    good = str(tmp_path / "g.rec")
    write_rec(good)
    raw = open(good, "rb").read()
    bad = str(tmp_path / "b.rec")
    with open(bad, "wb") as f:
        f.write(raw[:len(raw) - 9])  # truncated last record
    with pytest.raises(MXNetError, match="b.rec"):
        mx.io.ImageDetRecordIter(path_imgrec=bad, data_shape=(3, 8, 8), batch_size=2)
    # a broken image payload fails at iteration, naming the record
    short = str(tmp_path / "s.rec")
    rec = mx.recordio.MXIndexedRecordIO(short + ".idx", short, "w")
    header = mx.recordio.IRHeader(0, np.array(LABELS[0], np.float32), 0, 0)
    rec.write_idx(0, mx.recordio.pack(header, b"not an image"))
    rec.close()
    it = mx.io.ImageDetRecordIter(path_imgrec=short, data_shape=(3, 8, 8), batch_size=1)
    with pytest.raises(MXNetError, match="decode"):
        it.next()
    # a label that is not a detection label
    lab = str(tmp_path / "l.rec")
    rec = mx.recordio.MXIndexedRecordIO(lab + ".idx", lab, "w")
    rec.write_idx(0, mx.recordio.pack(mx.recordio.IRHeader(0, np.array([1, 2, 3], np.float32), 0, 0),
                                      png_bytes(image(0))))
    rec.close()
    it = mx.io.ImageDetRecordIter(path_imgrec=lab, data_shape=(3, 8, 8), batch_size=1)
    with pytest.raises(MXNetError, match="detection label"):
        it.next()


def test_string_arguments_as_mxnet_parses_them(rec):
    """MXNet hands every argument to C++ as a string; the same strings work here."""
    a = mx.io.ImageDetRecordIter(path_imgrec=rec, data_shape="(3, 8, 8)", batch_size="2", label_pad_width="20",
                                 mean_r="100", round_batch="False", min_crop_scales="(0.3,)", verbose="0")
    b = mx.io.ImageDetRecordIter(path_imgrec=rec, data_shape=(3, 8, 8), batch_size=2, label_pad_width=20,
                                 mean_r=100, round_batch=False)
    assert a.provide_data[0].shape == (2, 3, 8, 8)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.data[0].asnumpy(), y.data[0].asnumpy())
        np.testing.assert_array_equal(x.label[0].asnumpy(), y.label[0].asnumpy())
    with pytest.raises(ValueError, match="batch_size"):
        mx.io.ImageDetRecordIter(path_imgrec=rec, data_shape=(3, 8, 8), batch_size="two")


def crop_sizes(path, **kw):
    it = marker_iter(path, rand_crop_prob=1.0, min_crop_scales=0.3, batch_size=6, **kw)
    sizes = []
    for _ in range(20):
        sizes += [tuple(r) for r in it.next().label[0].asnumpy()[:, 1:3].astype(int)]
        it.reset()
    return np.array(sizes)


def test_crop_sampler_limits_like_mxnet(marker_rec):
    # MXNet 1.9.1 on a square image (min/max_crop_aspect_ratios 0.5/2): 61% of the crops wider
    # than tall, 33% taller; ratio 1 by default (square crops)
    s = crop_sizes(marker_rec, min_crop_aspect_ratios=0.5, max_crop_aspect_ratios=2.0)
    assert 0.4 < (s[:, 1] > s[:, 0]).mean() < 0.8 and 0.15 < (s[:, 1] < s[:, 0]).mean() < 0.5
    assert (crop_sizes(marker_rec)[:, 0] == crop_sizes(marker_rec)[:, 1]).all()
    # one active limit is enough to be checked: IoU >= 0.7 with a small box is rare, so most
    # samples keep the whole image (MXNet 1.9.1: 82%)
    s = crop_sizes(marker_rec, min_crop_overlaps=0.7)
    assert ((s[:, 0] == 40) & (s[:, 1] == 40)).mean() > 0.6
    assert ((s[:, 0] == 40) & (s[:, 1] == 40)).mean() < 0.99
    assert not ((crop_sizes(marker_rec) == 40).all(axis=1)).any()


def test_shuffle_threads_and_random_interpolation(rec):
    def run(**kw):
        it = mx.io.ImageDetRecordIter(path_imgrec=rec, data_shape=(3, 8, 8), batch_size=5, shuffle=True, seed=3,
                                      inter_method=10, **kw)
        out = []
        for _ in range(2):
            b = it.next()
            out.append((list(b.index), b.data[0].asnumpy()))
            it.reset()
        return out

    a, b = run(preprocess_threads=4), run(preprocess_threads=1, prefetch_buffer=1)
    for (ia, da), (ib, db) in zip(a, b):
        assert sorted(ia) == [0, 1, 2, 3, 4] and ia == ib
        np.testing.assert_array_equal(da, db)
    assert a[0][0] != a[1][0]  # a new order each epoch
