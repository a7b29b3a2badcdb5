"""mx.io.ImageDetRecordIter against MXNet 1.9.1 (io_det_record_mxnet_ref.py) and, for the random
augmenters whose draws cannot match MXNet's, against the geometry they must keep."""
import os
import struct
import zlib

import numpy as np
import pytest

import oxnet as mx
from oxnet.base import MXNetError
from oxnet.io.image_det_record_iter import _hls_to_rgb, _rgb_to_hls

from io_det_record_mxnet_ref import REF

SIZES = [(10, 14), (12, 8), (9, 9), (16, 12), (7, 11)]
LABELS = [
    [2, 5, 0, 0.1, 0.2, 0.5, 0.6],
    [2, 5, 1, 0.0, 0.0, 0.5, 0.5, 3, 0.4, 0.3, 0.9, 1.0],
    [2, 5, 2, 0.2, 0.1, 0.8, 0.9, 1, 0.3, 0.6, 0.7, 0.95, 4, 0.6, 0.5, 0.3, 0.9],  # last box invalid
    [2, 5, 4, 0.05, 0.05, 0.95, 0.95],
    [2, 5, 1, 0.25, 0.25, 0.75, 0.75, 2, 0.6, 0.1, 0.9, 0.4, 0, 0.1, 0.6, 0.3, 0.9],
]
IMGLIST = ("0\t2\t5\t7\t0.1\t0.1\t0.9\t0.9\ta.png\n1\t2\t5\t8\t0.2\t0.2\t0.4\t0.6\t9\t0.5\t0.5\t0.6\t0.7\tb.png\n"
           "2\t2\t5\t1\t0\t0\t1\t1\tc.png\n3\t2\t5\t2\t0.3\t0.3\t0.4\t0.4\td.png\n4\t2\t5\t3\t0.1\t0.2\t0.3\t0.4\te.png\n")


def png_bytes(rgb):
    """Minimal PNG encoder (filter 0), the same bytes in oxnet and in the MXNet run (no cv2 there),
    so the .rec files, and hence the byte-split parts, are identical."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].astype(np.uint8).tobytes() for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
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

