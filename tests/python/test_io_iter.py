"""mx.io iterators. Expected batches were observed with MXNet 1.9.1 (reference §9.4 and runs of
the same scripts under /work/mxref); image values are checked against numpy on the source
pixels."""
import contextlib
import gzip
import io
import os
import struct

import numpy as np
import pytest

import oxnet as mx
from oxnet import recordio


def epoch(it):
    """[(data, label or None, pad)] of one pass, flattened to lists."""
    out = []
    for b in it:
        lab = b.label[0].asnumpy().ravel().tolist() if b.label else None
        out.append((b.data[0].asnumpy().ravel().tolist(), lab, b.pad))
    return out


def data_of(batches):
    return [(d, p) for d, _, p in batches]


D10 = np.arange(10).reshape(10, 1)
B0, B1 = [0, 1, 2, 3], [4, 5, 6, 7]


# ---------------------------------------------------------------- NDArrayIter last batch rules
def test_pad_wraps_from_start_every_epoch():
    it = mx.io.NDArrayIter(D10, np.arange(10) * 10, batch_size=4, last_batch_handle="pad")
    for _ in range(3):
        got = epoch(it)
        assert data_of(got) == [(B0, 0), (B1, 0), ([8, 9, 0, 1], 2)]
        assert got[2][1] == [80, 90, 0, 10]
        it.reset()
    assert it.cursor == -4


def test_discard_drops_incomplete_batch():
    it = mx.io.NDArrayIter(D10, np.arange(10) * 10, batch_size=4, last_batch_handle="discard")
    for _ in range(2):
        assert data_of(epoch(it)) == [(B0, 0), (B1, 0)]
        it.reset()


def test_roll_over_prepends_leftover_to_next_epoch():
    it = mx.io.NDArrayIter(D10, np.arange(10) * 10, batch_size=4, last_batch_handle="roll_over")
    assert data_of(epoch(it)) == [(B0, 0), (B1, 0)]
    it.reset()
    got = epoch(it)
    assert data_of(got) == [([8, 9, 0, 1], 2), ([2, 3, 4, 5], 0), ([6, 7, 8, 9], 0)]
    assert got[0][1] == [80, 90, 0, 10]
    it.reset()
    assert data_of(epoch(it)) == [(B0, 0), (B1, 0)]
    assert it.cursor == 8
    it.reset()
    assert it.cursor == -6  # observed in MXNet: leftover of 2 starts the epoch 2 samples early
    nolabel = mx.io.NDArrayIter(D10, batch_size=4, last_batch_handle="roll_over")
    epoch(nolabel)
    nolabel.reset()
    assert data_of(epoch(nolabel))[0] == ([8, 9, 0, 1], 2)


def test_roll_over_leftover_survives_reads_before_reset():
    # MXNet 1.9.1: reading the leftover batch again (getdata/getlabel) does not use it up;
    # the next epoch still starts [6, 0, 1] with pad 1.
    it = mx.io.NDArrayIter(np.arange(7.0), np.arange(7.0) * 10, batch_size=3,
                           last_batch_handle="roll_over")
    assert len(list(it)) == 2
    assert it.getdata()[0].asnumpy().tolist() == [6] and it.getlabel()[0].asnumpy().tolist() == [60]
    it.reset()
    b = it.next()
    assert b.data[0].asnumpy().tolist() == [6, 0, 1] and b.label[0].asnumpy().tolist() == [60, 0, 10]
    assert b.pad == 1


def test_pad_tiles_when_batch_larger_than_data():
    (d, lab, pad), = epoch(mx.io.NDArrayIter(D10, batch_size=20))
    assert d == list(range(10)) * 2 and pad == 10 and lab is None
    (d, _, pad), = epoch(mx.io.NDArrayIter(np.arange(3), batch_size=8))
    assert d == [0, 1, 2, 0, 1, 2, 0, 1] and pad == 5


def test_shuffle_matches_mxnet_under_np_random_seed():
    np.random.seed(3)
    it = mx.io.NDArrayIter(D10, np.arange(10) * 10, batch_size=3, shuffle=True)
    got = epoch(it)
    # observed with MXNet 1.9.1 under np.random.seed(3)
    assert data_of(got) == [([5, 4, 1], 0), ([2, 9, 6], 0), ([7, 0, 3], 0), ([8, 5, 4], 2)]
    assert [lab for _, lab, _ in got] == [[10 * x for x in d] for d, _, _ in got]
    it.reset()
    assert data_of(epoch(it)) == [([1, 2, 4], 0), ([9, 3, 8], 0), ([6, 0, 5], 0), ([7, 1, 2], 2)]


def test_ndarray_iter_grid_matches_mxnet():
    """120 configurations x 4 epochs, recorded from MXNet 1.9.1 by make_golden_recordio.py."""
    import importlib.util
    import json

    data_dir = os.path.join(os.path.dirname(__file__), "..", "data")
    spec = importlib.util.spec_from_file_location("make_golden_recordio",
                                                  os.path.join(data_dir, "make_golden_recordio.py"))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    with open(os.path.join(data_dir, "golden", "recordio", "ndarrayiter.json")) as f:
        expected = json.load(f)
    got = gen.ndarray_iter_runs(mx)
    assert len(got) == len(expected) == 120
    for g, e in zip(got, expected):
        assert g == e, "n=%d batch_size=%d %s shuffle=%s" % tuple(e[:4])


def test_cursor_and_attributes():
    it = mx.io.NDArrayIter(D10, batch_size=4)
    assert (it.cursor, it.num_data, it.batch_size) == (-4, 10, 4)
    b = it.next()
    assert it.cursor == 0 and b.index is None and b.bucket_key is None and b.provide_data is None
    assert b.label == [] and it.provide_label == []
    assert str(b) == "DataBatch: data shapes: [(4, 1)] label shapes: None"
    it.reset()
    assert it.iter_next() and it.getpad() == 0 and it.getdata()[0].shape == (4, 1)


# ------------------------------------------------------------------------ sources and descs
def test_sources_sorted_by_name_and_converted_to_float32():
    it = mx.io.NDArrayIter({"zeta": np.zeros((6, 2)), "alpha": np.ones((6, 3), dtype=np.int64)},
                           [np.zeros(6), np.ones(6)], batch_size=2)
    assert repr(it.provide_data) == ("[DataDesc[alpha,(2, 3),<class 'numpy.float32'>,NCHW], "
                                     "DataDesc[zeta,(2, 2),<class 'numpy.float32'>,NCHW]]")
    assert repr(it.provide_label) == ("[DataDesc[_0_softmax_label,(2,),<class 'numpy.float32'>,NCHW], "
                                      "DataDesc[_1_softmax_label,(2,),<class 'numpy.float32'>,NCHW]]")
    b = it.next()
    assert b.data[0].dtype == np.float32
    np.testing.assert_array_equal(b.data[0].asnumpy(), np.ones((2, 3)))
    twelve = mx.io.NDArrayIter([np.zeros((4, 1))] * 12, batch_size=2)
    assert [x.name for x in twelve.provide_data] == [
        "_0_data", "_10_data", "_11_data", "_1_data", "_2_data", "_3_data", "_4_data",
        "_5_data", "_6_data", "_7_data", "_8_data", "_9_data"]
    one = mx.io.NDArrayIter([np.zeros((4, 1))], [np.zeros(4)], batch_size=2, data_name="x", label_name="y")
    assert [d.name for d in one.provide_data + one.provide_label] == ["x", "y"]


def test_io_utils_helpers_as_mxnet_exports_them():
    # MXNet's svm_mnist example calls mx.io._init_data directly.
    (name, arr), = mx.io._init_data(np.arange(3.0), allow_empty=True, default_name="svm_label")
    assert name == "svm_label" and arr.dtype == np.float32
    np.testing.assert_array_equal(arr.asnumpy(), [0, 1, 2])
    assert mx.io._init_data(None, allow_empty=True, default_name="x") == []
    data = mx.io.utils._init_data({"b": np.arange(4.0), "a": mx.nd.ones((4, 2)).tostype("csr")},
                                  False, "data")
    assert [k for k, _ in data] == ["a", "b"]
    assert mx.io._has_instance(data, mx.nd.sparse.CSRNDArray)
    assert not mx.io._has_instance(data[1:], mx.nd.sparse.CSRNDArray)
    rows = mx.io._getdata_by_idx(data, np.array([3, 1, 0, 2]))
    assert rows[0][1].stype == "csr"
    np.testing.assert_array_equal(rows[1][1].asnumpy(), [3, 1, 0, 2])


def test_ndarray_dtype_kept_and_layout():
    nd_int = mx.nd.array(np.arange(8).reshape(4, 2), dtype="int32")
    it = mx.io.NDArrayIter(nd_int, batch_size=2, layout="NC")
    assert repr(it.provide_data) == "[DataDesc[data,(2, 2),<class 'numpy.int32'>,NC]]"
    assert it.next().data[0].dtype == np.int32


def test_datadesc():
    dd = mx.io.DataDesc("data", (4, 1))
    assert repr(dd) == "DataDesc[data,(4, 1),<class 'numpy.float32'>,NCHW]"
    assert dd == ("data", (4, 1)) and dd.name == "data" and dd.shape == (4, 1)
    assert mx.io.DataDesc.get_batch_axis("TNC") == 1
    assert mx.io.DataDesc.get_batch_axis("NCHW") == 0
    assert mx.io.DataDesc.get_batch_axis(None) == 0
    lst = mx.io.DataDesc.get_list([("a", (1, 2)), ("b", (3,))], [("a", np.int32), ("b", np.float16)])
    assert repr(lst) == ("[DataDesc[a,(1, 2),<class 'numpy.int32'>,NCHW], "
                         "DataDesc[b,(3,),<class 'numpy.float16'>,NCHW]]")
    assert [d.dtype for d in mx.io.DataDesc.get_list([("a", (1,))], None)] == [np.float32]
    assert repr(mx.io.DataDesc("x", (2,), "float16", "NC")) == "DataDesc[x,(2,),float16,NC]"


def test_databatch():
    b = mx.io.DataBatch([mx.nd.ones((4, 1))], [mx.nd.ones((4,))], pad=1, index=np.arange(4))
    assert str(b) == "DataBatch: data shapes: [(4, 1)] label shapes: [(4,)]"
    with pytest.raises(TypeError, match="data"):
        mx.io.DataBatch(mx.nd.ones((4, 1)))
    with pytest.raises(AssertionError):  # MXNet asserts
        mx.io.DataBatch(mx.nd.ones((4, 1)))
    with pytest.raises(TypeError, match="label"):
        mx.io.DataBatch([mx.nd.ones((4, 1))], mx.nd.ones((4,)))


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="label 'softmax_label' has 9 samples"):
        mx.io.NDArrayIter(D10, np.arange(9), batch_size=2)
    with pytest.raises(ValueError, match="data '_1_data' has 3 samples"):
        mx.io.NDArrayIter([np.zeros(4), np.zeros(3)], batch_size=2)
    with pytest.raises(ValueError, match="last_batch_handle"):
        mx.io.NDArrayIter(D10, last_batch_handle="wrap")
    with pytest.raises(TypeError, match="data"):
        mx.io.NDArrayIter("not an array")
    with pytest.raises(ValueError, match="data"):
        mx.io.NDArrayIter(None)
    with pytest.raises(ValueError, match="batch_size"):
        mx.io.NDArrayIter(D10, batch_size=0)


# -------------------------------------------------------------------------- wrapper iterators
def test_resize_iter_restarts_inner_iterator():
    r = mx.io.ResizeIter(mx.io.NDArrayIter(D10, np.arange(10), batch_size=4), 5)
    expect = [(B0, 0), (B1, 0), ([8, 9, 0, 1], 2), (B0, 0), (B1, 0)]
    assert data_of(epoch(r)) == expect
    r.reset()
    assert data_of(epoch(r)) == expect
    assert r.provide_data == [("data", (4, 1))] and r.batch_size == 4


def test_prefetching_iter_zips_and_renames():
    a = mx.io.NDArrayIter(D10, np.arange(10), batch_size=4)
    b = mx.io.NDArrayIter(D10 * 2, np.arange(10) * 2, batch_size=4)
    p = mx.io.PrefetchingIter([a, b], rename_data=[{"data": "x"}, {"data": "y"}],
                              rename_label=[{"softmax_label": "lx"}, {"softmax_label": "ly"}])
    assert repr(p.provide_data) == ("[DataDesc[x,(4, 1),<class 'numpy.float32'>,NCHW], "
                                    "DataDesc[y,(4, 1),<class 'numpy.float32'>,NCHW]]")
    assert [d.name for d in p.provide_label] == ["lx", "ly"]
    for _ in range(2):
        batches = list(p)
        assert [bb.pad for bb in batches] == [0, 0, 2]
        got = [[x.asnumpy().ravel().tolist() for x in bb.data + bb.label] for bb in batches]
        assert got[2] == [[8, 9, 0, 1], [16, 18, 0, 2], [8, 9, 0, 1], [16, 18, 0, 2]]
        assert batches[0].provide_data == p.provide_data
        p.reset()
    with pytest.raises(KeyError, match="no entry for 'data'"):  # MXNet's KeyError
        mx.io.PrefetchingIter(mx.io.NDArrayIter(D10, batch_size=5), rename_data=[{"d": "x"}])
    single = mx.io.PrefetchingIter(mx.io.NDArrayIter(D10, batch_size=5))
    assert len(list(single)) == 2 and single.batch_size == 5


def test_prefetching_iter_reports_errors_and_mismatch():
    class Boom(mx.io.DataIter):
        provide_data = [mx.io.DataDesc("data", (2, 1))]
        provide_label = []

        def next(self):
            raise KeyError("broken source")

    p = mx.io.PrefetchingIter(Boom(2))
    with pytest.raises(KeyError, match="broken source"):
        p.next()
    p = mx.io.PrefetchingIter([mx.io.NDArrayIter(D10, batch_size=5), mx.io.NDArrayIter(D10, batch_size=2)])
    with pytest.raises(ValueError, match="different numbers"):
        list(p)


# ------------------------------------------------------------------------------------ CSVIter
@pytest.fixture
def csv_files(tmp_path):
    d, lab = str(tmp_path / "d.csv"), str(tmp_path / "l.csv")
    np.savetxt(d, np.arange(30).reshape(10, 3), delimiter=",")
    np.savetxt(lab, np.arange(10), delimiter=",")
    return d, lab


def test_csv_round_batch(csv_files):
    d, lab = csv_files
    it = mx.io.CSVIter(data_csv=d, data_shape=(3,), label_csv=lab, batch_size=4)
    assert isinstance(it, mx.io.MXDataIter) and isinstance(it, mx.io.DataIter)  # as MXNet's
    assert not isinstance(mx.io.NDArrayIter(np.zeros((4, 1))), mx.io.MXDataIter)
    assert it.provide_data == [("data", (4, 3))] and it.provide_label == [("softmax_label", (4,))]
    got = epoch(it)
    assert [g[1] for g in got] == [B0, B1, [8, 9, 0, 1]] and [g[2] for g in got] == [0, 0, 2]
    assert got[0][0] == list(range(12))
    it.reset()
    got = epoch(it)  # observed in MXNet: the next epoch starts after the wrapped samples
    assert [g[1] for g in got] == [[2, 3, 4, 5], [6, 7, 8, 9]] and [g[2] for g in got] == [0, 0]
    it.reset()
    assert [g[1] for g in epoch(it)] == [B0, B1, [8, 9, 0, 1]]


def test_native_iterators_hand_out_single_arrays(csv_files, tmp_path):
    # MXNet's C++ iterators (MXDataIter): getdata/getlabel give one array each, not lists.
    d, lab = csv_files
    it = mx.io.CSVIter(data_csv=d, data_shape=(3,), label_csv=lab, batch_size=4)
    it.next()
    assert isinstance(it.getdata(), mx.nd.NDArray) and isinstance(it.getlabel(), mx.nd.NDArray)
    np.testing.assert_array_equal(it.getdata().asnumpy(), np.arange(12).reshape(4, 3))
    np.testing.assert_array_equal(it.getlabel().asnumpy(), np.arange(4))
    svm = tmp_path / "d.svm"
    svm.write_text("1 0:1.5\n0 1:2\n")
    it = mx.io.LibSVMIter(data_libsvm=str(svm), data_shape=(2,), batch_size=2)
    it.next()
    assert it.getdata().stype == "csr" and isinstance(it.getlabel(), mx.nd.NDArray)
    np.testing.assert_array_equal(it.getdata().asnumpy(), [[1.5, 0], [0, 2]])
    np.testing.assert_array_equal(it.getlabel().asnumpy(), [1, 0])


def test_csv_no_round_batch_and_no_label(csv_files):
    d, _ = csv_files
    it = mx.io.CSVIter(data_csv=d, data_shape=(3,), batch_size=4, round_batch=False)
    got = epoch(it)
    # observed: the unfilled rows keep the previous batch's contents, pad counts them
    assert got[2][0] == list(range(24, 30)) + list(range(18, 24)) and got[2][2] == 2
    assert all(g[1] == [0, 0, 0, 0] for g in got)
    it.reset()
    assert [g[2] for g in epoch(it)] == [0, 0, 2]


def test_csv_labels_take_the_data_dtype(csv_files):
    # MXNet 1.9.1: CSVIter(dtype=...) reads its labels as that dtype too.
    d, lab = csv_files
    for dt in ("int32", "int64", "float32"):
        for label_csv in (lab, "NULL"):
            it = mx.io.CSVIter(data_csv=d, data_shape=(3,), label_csv=label_csv, batch_size=4, dtype=dt)
            assert it.provide_label[0].dtype == np.dtype(dt).type
            b = it.next()
            assert b.data[0].dtype == np.dtype(dt) and b.label[0].dtype == np.dtype(dt)
            want = B0 if label_csv == lab else [0, 0, 0, 0]
            assert b.label[0].asnumpy().tolist() == want


def test_csv_shapes_and_errors(tmp_path, csv_files):
    d, _ = csv_files
    lab2 = str(tmp_path / "l2.csv")
    np.savetxt(lab2, np.arange(20).reshape(10, 2), delimiter=",")
    it = mx.io.CSVIter(data_csv=d, data_shape=(1, 3), label_csv=lab2, label_shape=(2,), batch_size=5,
                       data_name="x", label_name="y")
    assert it.provide_data == [("x", (5, 1, 3))] and it.provide_label == [("y", (5, 2))]
    b = it.next()
    np.testing.assert_array_equal(b.label[0].asnumpy(), np.arange(10).reshape(5, 2))
    with pytest.raises(mx.base.MXNetError, match="data_shape"):
        mx.io.CSVIter(data_csv=d, data_shape=(4,), batch_size=2)
    # MXNet's loader wraps around once only: a batch larger than the data is an error there too
    with pytest.raises(mx.base.MXNetError, match="bigger than batch size"):
        list(mx.io.CSVIter(data_csv=d, data_shape=(3,), batch_size=21))
    (last,) = list(mx.io.CSVIter(data_csv=d, data_shape=(3,), batch_size=20))  # pad 10 <= 10 rows
    assert last.pad == 10
    with pytest.raises(mx.base.MXNetError, match="nope.csv"):
        mx.io.CSVIter(data_csv=str(tmp_path / "nope.csv"), data_shape=(3,))


# ---------------------------------------------------------------------------------- MNISTIter
@pytest.fixture
def mnist_files(tmp_path):
    rng = np.random.RandomState(0)
    imgs = rng.randint(0, 256, (10, 28, 28)).astype(np.uint8)
    labs = (np.arange(10) % 10).astype(np.uint8)
    ip, lp = str(tmp_path / "img"), str(tmp_path / "lab.gz")
    with open(ip, "wb") as f:
        f.write(struct.pack(">IIII", 2051, 10, 28, 28) + imgs.tobytes())
    with gzip.open(lp, "wb") as f:
        f.write(struct.pack(">II", 2049, 10) + labs.tobytes())
    return ip, lp, imgs, labs


def test_mnist_values_scale_and_full_batches(mnist_files):
    ip, lp, imgs, labs = mnist_files
    it = mx.io.MNISTIter(image=ip, label=lp, batch_size=4, shuffle=False)
    assert it.provide_data == [("data", (4, 1, 28, 28))] and it.provide_label == [("softmax_label", (4,))]
    batches = list(it)
    assert len(batches) == 2  # the 2 leftover samples are dropped, as in MXNet
    np.testing.assert_array_equal(batches[0].data[0].asnumpy()[:, 0], imgs[:4].astype(np.float32) / 256)
    np.testing.assert_array_equal(batches[1].label[0].asnumpy(), [4, 5, 6, 7])
    assert batches[0].pad == 0
    # MXNet's example/module scripts pass data_shape, which MNISTIter ignores (with a warning)
    with pytest.warns(UserWarning, match="ignoring unknown argument.*data_shape"):
        flat = mx.io.MNISTIter(image=ip, label=lp, batch_size=5, shuffle=False, flat=True,
                               data_shape=(784,))
    assert flat.provide_data == [("data", (5, 784))]
    np.testing.assert_array_equal(flat.next().data[0].asnumpy(), imgs[:5].reshape(5, -1) / np.float32(256))


def test_mnist_shuffle_is_seeded_and_fixed_across_resets(mnist_files):
    ip, lp, imgs, _ = mnist_files
    it = mx.io.MNISTIter(image=ip, label=lp, batch_size=5, shuffle=True, seed=1)
    first = [b.label[0].asnumpy().tolist() for b in it]
    assert sorted(sum(first, [])) == list(range(10)) and sum(first, []) != list(range(10))
    it.reset()
    assert [b.label[0].asnumpy().tolist() for b in it] == first
    it.reset()
    b = it.next()
    for row, lab in zip(b.data[0].asnumpy(), b.label[0].asnumpy()):
        np.testing.assert_array_equal(row[0], imgs[int(lab)] / np.float32(256))
    again = mx.io.MNISTIter(image=ip, label=lp, batch_size=5, seed=1)
    assert [b.label[0].asnumpy().tolist() for b in again] == first


def test_mnist_bad_file(tmp_path):
    p = str(tmp_path / "short")
    with open(p, "wb") as f:
        f.write(struct.pack(">IIII", 2051, 10, 28, 28) + b"\0" * 100)
    with pytest.raises(mx.base.MXNetError, match="invalid mnist format"):
        mx.io.MNISTIter(image=p, label=p)


# ---------------------------------------------------------------------------- ImageRecordIter
def _make_rec(tmp_path, n=7, h=10, w=12, labels=None, gray=False, name="im"):
    """A .rec of PNGs; returns the path and the RGB images (pack_img takes BGR)."""
    rng = np.random.RandomState(5)
    path = str(tmp_path / (name + ".rec"))
    wr = recordio.MXRecordIO(path, "w")
    rgbs = []
    for i in range(n):
        rgb = rng.randint(0, 256, (h, w) if gray else (h, w, 3)).astype(np.uint8)
        rgbs.append(rgb)
        label = float(i) if labels is None else labels[i]
        img = rgb if gray else rgb[:, :, ::-1]
        wr.write(recordio.pack_img(recordio.IRHeader(0, label, i, 0), img, img_fmt=".png"))
    wr.close()
    return path, rgbs


def _chw(rgb):
    return rgb.astype(np.float32).transpose(2, 0, 1)


def test_image_record_values_without_augmentation(tmp_path):
    path, rgbs = _make_rec(tmp_path)
    it = mx.io.ImageRecordIter(path_imgrec=path, data_shape=(3, 10, 12), batch_size=3,
                               preprocess_threads=3)
    assert it.provide_data == [("data", (3, 3, 10, 12))] and it.provide_label == [("softmax_label", (3,))]
    batches = list(it)
    assert [b.pad for b in batches] == [0, 0, 2]
    labels = np.concatenate([b.label[0].asnumpy() for b in batches])
    np.testing.assert_array_equal(labels, [0, 1, 2, 3, 4, 5, 6, 0, 1])
    data = np.concatenate([b.data[0].asnumpy() for b in batches])
    assert data.dtype == np.float32
    for k, lab in enumerate(labels):
        np.testing.assert_array_equal(data[k], _chw(rgbs[int(lab)]))
    np.testing.assert_array_equal(batches[0].index, [0, 1, 2])
    it.reset()  # round_batch: samples 0 and 1 were used as padding, this epoch starts at 2
    assert np.concatenate([b.label[0].asnumpy() for b in it]).tolist() == [2, 3, 4, 5, 6, 0]


@pytest.mark.parametrize("channels", [3, 1])
def test_image_record_jpegs_decode_as_pillow_does(tmp_path, monkeypatch, channels):
    """JPEG records go through libjpeg-turbo directly (simplejpeg); the batches must equal the
    ones Pillow's path gives (pinned to MXNet's by the golden tests), color and gray, with a
    resize and crop on the way."""
    import io as _io
    from PIL import Image
    from oxnet.io import _imgops
    rng = np.random.RandomState(9)
    path = str(tmp_path / "j.rec")
    wr = recordio.MXRecordIO(path, "w")
    for i in range(6):
        smooth = np.kron(rng.randint(0, 256, (4, 5, 3)), np.ones((6, 7, 1)))
        buf = _io.BytesIO()
        Image.fromarray(smooth.astype(np.uint8)).save(buf, format="JPEG", quality=90)
        wr.write(recordio.pack(recordio.IRHeader(0, float(i), i, 0), buf.getvalue()))
    wr.close()

    def batches():
        it = mx.io.ImageRecordIter(path_imgrec=path, data_shape=(channels, 16, 20), batch_size=3,
                                   resize=22, preprocess_threads=2)
        return np.concatenate([b.data[0].asnumpy() for b in it])
    fast = batches()
    monkeypatch.setattr(_imgops, "_simplejpeg", None)
    np.testing.assert_array_equal(fast, batches())
    assert fast.shape == (6, channels, 16, 20) and fast.std() > 10


def _golden_image_runs(kind):
    """(case, oxnet's batches, MXNet 1.9.1's) for each ImageRecordIter case of the golden
    recordio data set `kind` ("imagerecord", "imageaug")."""
    import json

    golden = os.path.join(os.path.dirname(__file__), "..", "data", "golden", "recordio")
    with open(os.path.join(golden, "expected.json")) as f:
        cases = json.load(f)[kind]
    expected = np.load(os.path.join(golden, kind + ".npz"))
    for k, case in enumerate(cases):
        it = mx.io.ImageRecordIter(path_imgrec=os.path.join(golden, "image.rec"), **case)
        got = np.concatenate([b.data[0].asnumpy() for b in it])
        it.close()
        yield case, got, expected["case%d" % k]


def test_image_record_matches_mxnet_golden():
    """Bit-identical to MXNet 1.9.1's ImageRecordIter on its own .rec (crops, OpenCV-style resizes)."""
    for case, got, want in _golden_image_runs("imagerecord"):
        np.testing.assert_array_equal(got, want, err_msg=str(case))


def test_image_record_enlarges_small_images_in_two_steps_as_mxnet(tmp_path):
    """MXNet 1.9.1 enlarges an image with too few rows to the output height (width truncated),
    then one with too few columns to the output width, before the center crop."""
    def first_batch(img, shape, interp):
        path = str(tmp_path / "s.rec")
        wr = recordio.MXRecordIO(path, "w")
        wr.write(recordio.pack_img(recordio.IRHeader(0, 1.0, 0, 0), img[:, :, ::-1], img_fmt=".png"))
        wr.close()
        it = mx.io.ImageRecordIter(path_imgrec=path, data_shape=shape, batch_size=1,
                                   inter_method=interp)
        return it.next().data[0].asnumpy()[0]

    img = (np.arange(7 * 27 * 3).reshape(7, 27, 3) * 7 % 256).astype(np.uint8)
    # MXNet 1.9.1's first row of channel 0 (a resize to 38x10, then the crop).
    np.testing.assert_array_equal(first_batch(img, (3, 10, 10), 1)[0, 0],
                                  [206, 221, 236, 251, 100, 24, 39, 54, 69, 84])
    rng = np.random.RandomState(0)
    for (h, w), (oh, ow), steps, interp in [((5, 4), (12, 9), [(9, 12)], 2),
                                            ((13, 6), (9, 11), [(11, 23)], 0),
                                            ((4, 5), (9, 12), [(11, 9), (12, 9)], 1)]:
        img = rng.randint(0, 256, (h, w, 3)).astype(np.uint8)
        want = mx.nd.array(img, dtype=np.uint8)
        for sw, sh in steps:
            want = mx.image.imresize(want, sw, sh, interp=interp)
        want = want.asnumpy()
        y, x = (want.shape[0] - oh) // 2, (want.shape[1] - ow) // 2
        np.testing.assert_array_equal(first_batch(img, (3, oh, ow), interp),
                                      _chw(want[y:y + oh, x:x + ow]))


def test_image_record_normalization_and_center_crop(tmp_path):
    path, rgbs = _make_rec(tmp_path)
    it = mx.io.ImageRecordIter(path_imgrec=path, data_shape=(3, 6, 8), batch_size=7, mean_r=10,
                               mean_g=20, mean_b=30, std_r=2, std_g=3, std_b=4, scale=0.5)
    d = it.next().data[0].asnumpy()
    mean = np.array([10, 20, 30], np.float32).reshape(3, 1, 1)
    std = np.array([2, 3, 4], np.float32).reshape(3, 1, 1)
    for k in range(7):
        x = _chw(rgbs[k][2:8, 2:10])  # center crop of 10x12 to 6x8
        np.testing.assert_allclose(d[k], (x - mean) / std * 0.5, rtol=1e-6, atol=1e-5)


def test_image_record_mirror_and_random_crop(tmp_path):
    path, rgbs = _make_rec(tmp_path, n=16, h=8, w=8)
    it = mx.io.ImageRecordIter(path_imgrec=path, data_shape=(3, 8, 8), batch_size=16, rand_mirror=True)
    d = it.next().data[0].asnumpy()
    mirrored = 0
    for k in range(16):
        x = _chw(rgbs[k])
        if np.array_equal(d[k], x[:, :, ::-1]):
            mirrored += 1
        else:
            np.testing.assert_array_equal(d[k], x)
    assert 0 < mirrored < 16
    it = mx.io.ImageRecordIter(path_imgrec=path, data_shape=(3, 5, 5), batch_size=16, rand_crop=True, seed=3)
    d = it.next().data[0].asnumpy()
    positions = set()
    for k in range(16):
        x = _chw(rgbs[k])
        hits = [(y, z) for y in range(4) for z in range(4) if np.array_equal(d[k], x[:, y:y + 5, z:z + 5])]
        assert hits, "sample %d is not a 5x5 window of its image" % k
        positions.add(hits[0])
    assert len(positions) > 1
    again = mx.io.ImageRecordIter(path_imgrec=path, data_shape=(3, 5, 5), batch_size=16, rand_crop=True,
                                  seed=3, preprocess_threads=1)
    np.testing.assert_array_equal(again.next().data[0].asnumpy(), d)  # independent of threads


def test_image_record_shuffle_labels_gray_resize(tmp_path):
    path, _ = _make_rec(tmp_path, n=6)
    it = mx.io.ImageRecordIter(path_imgrec=path, data_shape=(3, 10, 12), batch_size=6, shuffle=True)
    e1 = it.next().label[0].asnumpy().tolist()
    it.reset()
    e2 = it.next().label[0].asnumpy().tolist()
    assert sorted(e1) == sorted(e2) == list(range(6)) and (e1 != list(range(6)) or e2 != list(range(6)))

    multi = [np.array([i, 10 + i, 20 + i], np.float32) for i in range(4)]
    path, _ = _make_rec(tmp_path, n=4, labels=multi, name="multi")
    it = mx.io.ImageRecordIter(path_imgrec=path, data_shape=(3, 10, 12), batch_size=4, label_width=2,
                               data_name="img", label_name="lab")
    assert it.provide_data == [("img", (4, 3, 10, 12))] and it.provide_label == [("lab", (4, 2))]
    np.testing.assert_array_equal(it.next().label[0].asnumpy(), [[i, 10 + i] for i in range(4)])

    path, grays = _make_rec(tmp_path, n=2, gray=True, name="gray")
    it = mx.io.ImageRecordIter(path_imgrec=path, data_shape=(1, 10, 12), batch_size=2)
    np.testing.assert_array_equal(it.next().data[0].asnumpy()[:, 0], np.stack(grays).astype(np.float32))

    path, _ = _make_rec(tmp_path, n=2, h=20, w=40, name="big")
    it = mx.io.ImageRecordIter(path_imgrec=path, data_shape=(3, 10, 16), batch_size=2, resize=10,
                               round_batch=False)
    b = it.next()
    assert b.data[0].shape == (2, 3, 10, 16) and b.pad == 0


def test_image_record_no_round_batch_and_errors(tmp_path):
    path, _ = _make_rec(tmp_path, n=5)
    it = mx.io.ImageRecordIter(path_imgrec=path, data_shape=(3, 10, 12), batch_size=2, round_batch=False)
    batches = list(it)
    assert [b.pad for b in batches] == [0, 0, 1]
    assert batches[2].label[0].asnumpy()[0] == 4
    with pytest.warns(UserWarning, match="bogus"):
        mx.io.ImageRecordIter(path_imgrec=path, data_shape=(3, 10, 12), batch_size=2, bogus=1)
    with pytest.raises(ValueError, match="data_shape"):
        mx.io.ImageRecordIter(path_imgrec=path, data_shape=(2, 10, 12), batch_size=2)
    with pytest.raises(mx.base.MXNetError, match="label_width"):
        mx.io.ImageRecordIter(path_imgrec=path, data_shape=(3, 10, 12), batch_size=2, label_width=2).next()
    bad = str(tmp_path / "bad.rec")
    w = recordio.MXRecordIO(bad, "w")
    w.write(recordio.pack(recordio.IRHeader(0, 0.0, 0, 0), b"not an image"))
    w.close()
    with pytest.raises(mx.base.MXNetError, match="cannot decode"):
        mx.io.ImageRecordIter(path_imgrec=bad, data_shape=(3, 4, 4), batch_size=1).next()
    with open(path, "r+b") as f:
        f.seek(0)
        f.write(b"\0\0\0\0")
    with pytest.raises(mx.base.MXNetError, match="bad magic"):
        mx.io.ImageRecordIter(path_imgrec=path, data_shape=(3, 10, 12), batch_size=2)


def test_image_record_num_parts_split_as_mxnet(tmp_path):
    # MXNet 1.9.1 on this file: without an index dmlc splits the bytes (a record goes to the
    # part its first byte falls in), with one it gives ceil(n / num_parts) records a part
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), 7, np.uint8)).save(buf, format="PNG")
    png = buf.getvalue()
    assert len(png) <= 120
    base = str(tmp_path / "parts")
    w = recordio.MXIndexedRecordIO(base + ".idx", base + ".rec", "w")
    for i in range(10):  # records of 4 sizes: trailing bytes after IEND, which decoders ignore
        w.write_idx(i, recordio.pack(recordio.IRHeader(0, float(i), i, 0), png.ljust(120 + 40 * (i % 4), b"\0")))
    w.close()
    mxnet = {("", 2): [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9]],
             ("", 3): [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]],
             ("", 4): [[0, 1, 2], [3, 4, 5], [6, 7], [8, 9]],
             ("idx", 2): [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]],
             ("idx", 3): [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]],
             ("idx", 4): [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]}
    for (idx, parts), want in mxnet.items():
        got = []
        for k in range(parts):
            it = mx.io.ImageRecordIter(path_imgrec=base + ".rec", path_imgidx=base + ".idx" if idx else "",
                                       data_shape=(3, 8, 8), batch_size=1, num_parts=parts, part_index=k)
            got.append([int(b.label[0].asnumpy()[0]) for b in it])
            it.close()
        assert got == want, (idx, parts)


def test_image_record_labels_from_path_imglist(tmp_path):
    # MXNet 1.9.1: the list's labels by image index replace the records' ones
    path, _ = _make_rec(tmp_path, n=4)
    lst = tmp_path / "labels.lst"
    lst.write_text("".join("%d\t%d.5\t%d\timg%d.png\n" % (i, 100 + i, -i, i) for i in range(4)))
    it = mx.io.ImageRecordIter(path_imgrec=path, path_imglist=str(lst), data_shape=(3, 10, 12),
                               batch_size=4)
    assert it.next().label[0].asnumpy().tolist() == [100.5, 101.5, 102.5, 103.5]
    it = mx.io.ImageRecordIter(path_imgrec=path, path_imglist=str(lst), data_shape=(3, 10, 12),
                               batch_size=4, label_width=2)
    assert it.next().label[0].asnumpy().tolist() == [[100.5, 0], [101.5, -1], [102.5, -2], [103.5, -3]]
    lst.write_text("0\t5\ta.png\n")
    it = mx.io.ImageRecordIter(path_imgrec=path, path_imglist=str(lst), data_shape=(3, 10, 12),
                               batch_size=4)
    with pytest.raises(mx.base.MXNetError, match="no label for image index 1"):
        it.next()
    with pytest.raises(mx.base.MXNetError, match="fewer than label_width=3"):
        mx.io.ImageRecordIter(path_imgrec=path, path_imglist=str(lst), data_shape=(3, 10, 12),
                              batch_size=4, label_width=3)
    with pytest.raises(mx.base.MXNetError, match="no such file"):
        mx.io.ImageRecordIter(path_imgrec=path, path_imglist=str(tmp_path / "none.lst"),
                              data_shape=(3, 10, 12), batch_size=4)


def test_image_record_rgba(tmp_path):
    # MXNet 1.9.1: four channels in RGBA order, alpha normalized by mean_a / std_a; an image
    # without alpha is an error ("Expected 4 channels, got 3")
    from PIL import Image

    rs = np.random.RandomState(1)
    rgba = rs.randint(0, 256, (4, 5, 4)).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    rgb = io.BytesIO()
    Image.fromarray(rgba[:, :, :3]).save(rgb, format="PNG")
    path = str(tmp_path / "rgba.rec")
    w = recordio.MXRecordIO(path, "w")
    w.write(recordio.pack(recordio.IRHeader(0, 1.0, 0, 0), buf.getvalue()))
    w.write(recordio.pack(recordio.IRHeader(0, 2.0, 1, 0), rgb.getvalue()))
    w.close()
    it = mx.io.ImageRecordIter(path_imgrec=path, data_shape=(4, 4, 5), batch_size=1, mean_r=1,
                               mean_a=10, std_a=2, round_batch=False)
    want = (rgba.transpose(2, 0, 1).astype(np.float32) - np.array([1, 0, 0, 10], np.float32).reshape(4, 1, 1)) \
        / np.array([1, 1, 1, 2], np.float32).reshape(4, 1, 1)
    np.testing.assert_array_equal(it.next().data[0].asnumpy()[0], want)
    with pytest.raises(mx.base.MXNetError, match="expected 4 channels, the image has 3"):
        it.next()


def test_image_record_decodes_on_preprocess_threads(tmp_path):
    import threading
    import time

    path, rgbs = _make_rec(tmp_path, n=6)
    seen, lock = [], threading.Lock()

    class Traced(mx.io.ImageRecordIter):
        def _load_chunk(self, *args):
            with lock:
                seen.append(threading.current_thread().name)
            time.sleep(0.05)  # long enough that one worker cannot take every task
            return super()._load_chunk(*args)

    it = Traced(path_imgrec=path, data_shape=(3, 10, 12), batch_size=6, preprocess_threads=3)
    d = it.next().data[0].asnumpy()
    np.testing.assert_array_equal(d, np.stack([_chw(x) for x in rgbs]))
    # workers are capped at the cores this process may use
    from oxnet.io.image_record_iter import _cores
    assert len(set(seen)) == min(3, _cores()) and threading.current_thread().name not in seen
    it.close()


def test_image_record_uint8_iter(tmp_path):
    path, rgbs = _make_rec(tmp_path, n=3)
    it = mx.io.ImageRecordUInt8Iter(path_imgrec=path, data_shape=(3, 10, 12), batch_size=3)
    assert it.provide_data[0].dtype == np.uint8
    d = it.next().data[0]
    assert d.dtype == np.uint8
    np.testing.assert_array_equal(d.asnumpy(), np.stack(rgbs).transpose(0, 3, 1, 2))
    it.close()
    with pytest.raises(mx.base.MXNetError, match="mean_r"):
        mx.io.ImageRecordUInt8Iter(path_imgrec=path, data_shape=(3, 10, 12), batch_size=3, mean_r=1)


def test_int8_pixels_saturate_as_mxnet(tmp_path):
    # MXNet 1.9.1: ImageRecordInt8Iter and ImageRecordIter(dtype='int8') give 127 for pixels
    # above 127 (141, 172, 204 -> 127), not the wrapped -115, -84, -52.
    path, rgbs = _make_rec(tmp_path, n=3)
    want = np.minimum(np.stack(rgbs).transpose(0, 3, 1, 2), 127).astype(np.int8)
    assert (np.stack(rgbs) > 127).any()
    for it in (mx.io.ImageRecordInt8Iter(path_imgrec=path, data_shape=(3, 10, 12), batch_size=3),
               mx.io.ImageRecordIter(path_imgrec=path, data_shape=(3, 10, 12), batch_size=3,
                                     dtype="int8")):
        assert it.provide_data[0].dtype == np.int8
        d = it.next().data[0]
        assert d.dtype == np.int8
        np.testing.assert_array_equal(d.asnumpy(), want)
        it.close()


# ------------------------------------------------------------------------- tools/im2rec
LAYOUT = ["cat/a", "cat/b", "cat/c", "dog/d", "dog/e", "zebra/f"]
# MXNet 1.9.1's im2rec.py --list --recursive on this layout (random.seed(100) shuffle)
MX_LST = ["2\t0.000000\tcat/c.png", "5\t2.000000\tzebra/f.png", "0\t0.000000\tcat/a.png",
          "4\t1.000000\tdog/e.png", "3\t1.000000\tdog/d.png", "1\t0.000000\tcat/b.png"]


@pytest.fixture
def image_folder(tmp_path):
    from PIL import Image

    rng = np.random.RandomState(0)
    root = tmp_path / "root"
    images = {}
    for name in LAYOUT:
        os.makedirs(root / os.path.dirname(name), exist_ok=True)
        rgb = rng.randint(0, 256, (6, 9, 3)).astype(np.uint8)
        Image.fromarray(rgb).save(str(root / (name + ".png")))
        images[name + ".png"] = rgb
    (root / "cat" / "notes.txt").write_text("not an image")
    return str(root), images


def test_im2rec_end_to_end(tmp_path, image_folder, capsys):
    import subprocess
    import sys

    from oxnet.tools import im2rec

    root, images = image_folder
    prefix = str(tmp_path / "out" / "data")
    os.makedirs(os.path.dirname(prefix))
    subprocess.run([sys.executable, "-m", "oxnet.tools.im2rec", prefix, root, "--list", "--recursive"],
                   check=True, capture_output=True)
    with open(prefix + ".lst") as f:
        assert f.read().splitlines() == MX_LST
    assert im2rec.main([prefix, root, "--encoding", ".png", "--num-thread", "2"]) == 0
    r = recordio.MXIndexedRecordIO(prefix + ".idx", prefix + ".rec", "r")
    assert r.keys == [2, 5, 0, 4, 3, 1]
    paths = {int(line.split("\t")[0]): line.split("\t")[-1] for line in MX_LST}
    for key in r.keys:
        header, bgr = recordio.unpack_img(r.read_idx(key))
        assert header.id == key and header.label == {"c": 0, "d": 1, "z": 2}[paths[key][0]]
        np.testing.assert_array_equal(bgr[:, :, ::-1], images[paths[key]])
    r.close()
    it = mx.io.ImageRecordIter(path_imgrec=prefix + ".rec", data_shape=(3, 6, 9), batch_size=6)
    b = it.next()
    assert b.label[0].asnumpy().tolist() == [0, 2, 0, 1, 1, 0]
    for k, key in enumerate([2, 5, 0, 4, 3, 1]):
        np.testing.assert_array_equal(b.data[0].asnumpy()[k], _chw(images[paths[key]]))


def test_im2rec_resize_pass_through_and_flat_list(tmp_path, image_folder):
    from oxnet.tools import im2rec

    root, images = image_folder
    flat = str(tmp_path / "flat")
    im2rec.main([flat, os.path.join(root, "cat"), "--list", "--no-shuffle"])
    with open(flat + ".lst") as f:
        assert f.read().splitlines() == ["0\t0.000000\ta.png", "1\t0.000000\tb.png", "2\t0.000000\tc.png"]
    im2rec.main([flat, os.path.join(root, "cat"), "--resize", "3", "--encoding", ".png"])
    r = recordio.MXRecordIO(flat + ".rec", "r")
    from oxnet.io._imgops import resize_linear  # checked against MXNet by the golden test above

    bgr = recordio.unpack_img(r.read())[1]
    assert bgr.shape == (3, 4, 3)  # shorter edge 6 -> 3, 9 -> 4
    np.testing.assert_array_equal(bgr[:, :, ::-1], resize_linear(images["cat/a.png"], 4, 3))
    r.close()
    # --pass-through stores the file bytes untouched (MXNet 1.9.1 wrote the same bytes here)
    im2rec.main([flat, os.path.join(root, "cat"), "--pass-through"])
    r = recordio.MXIndexedRecordIO(flat + ".idx", flat + ".rec", "r")
    for key, name in enumerate("abc"):
        with open(os.path.join(root, "cat", name + ".png"), "rb") as f:
            assert r.read_idx(key) == recordio.pack(recordio.IRHeader(0, 0.0, key, 0), f.read())
    r.close()
    assert im2rec.main([str(tmp_path / "missing"), root]) == 1


def test_im2rec_reads_as_cv2_imread(tmp_path):
    """cv2.imread (MXNet's im2rec) turns JPEGs upright by their EXIF orientation for color and
    gray reads (Pillow's exif_transpose is the oracle), scales 16-bit PNGs to 8 bits (MXNet
    1.9.1 stored value >> 8) and keeps a gray+alpha PNG's alpha with --color -1 (BGRA); an
    item that cannot be packed is skipped, as MXNet's workers skip it."""
    from PIL import Image, ImageOps

    from oxnet.tools import im2rec

    root = tmp_path / "img"
    root.mkdir()
    rng = np.random.RandomState(3)
    rgb = rng.randint(0, 256, (20, 40, 3)).astype(np.uint8)
    upright = {}
    for k in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = k
        Image.fromarray(rgb).save(str(root / ("o%d.jpg" % k)), quality=100, exif=exif)
        with Image.open(str(root / ("o%d.jpg" % k))) as im:
            upright[k] = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    g16 = (rng.randint(0, 65536, (5, 7))).astype(np.uint16)
    Image.fromarray(g16).save(str(root / "g16.png"))
    la = rng.randint(0, 256, (5, 6, 2)).astype(np.uint8)
    Image.fromarray(la, "LA").save(str(root / "la.png"))
    names = ["o%d.jpg" % k for k in range(1, 9)] + ["g16.png", "la.png"]

    def pack(color, lines):
        prefix = str(tmp_path / ("c%d" % color))
        with open(prefix + ".lst", "w") as f:
            f.writelines("%d\t0.000000\t%s\n" % (i, n) for i, n in lines)
        assert im2rec.main([prefix, str(root), "--color", str(color), "--encoding", ".png",
                            "--num-thread", "2"]) == 0
        r = recordio.MXIndexedRecordIO(prefix + ".idx", prefix + ".rec", "r")
        out = {k: recordio.unpack_img(r.read_idx(k))[1] for k in r.keys}
        r.close()
        return out

    color = pack(1, list(enumerate(names)))
    for k in range(1, 9):
        got = color[k - 1][:, :, ::-1]
        assert got.shape == upright[k].shape, k
        assert np.abs(got.astype(int) - upright[k]).max() <= 2, k  # the JPEG decoders
    np.testing.assert_array_equal(color[8][:, :, 0], g16 >> 8)
    gray = pack(0, [(0, "o6.jpg"), (1, "g16.png")])
    assert gray[0].shape == (40, 20)
    np.testing.assert_array_equal(gray[1], g16 >> 8)
    keep = pack(-1, [(0, "la.png"), (1, "g16.png"), (-5, "g16.png"), (2, "la.png")])
    assert sorted(keep) == [0, 1, 2]  # the negative index could not be packed
    assert keep[0].shape == (5, 6, 4)
    np.testing.assert_array_equal(keep[0][:, :, :3], np.repeat(la[:, :, :1], 3, axis=2))
    np.testing.assert_array_equal(keep[0][:, :, 3], la[:, :, 1])
    assert keep[1].dtype == np.uint16
    np.testing.assert_array_equal(keep[1], g16)


def test_image_record_fixed_augmentations_match_mxnet_golden():
    """MXNet 1.9.1's default augmenter without random draws (fixed rotation, padding, crop
    sizes, mirror, interpolation methods, size bounds): within OpenCV's rounding (one gray
    level; a few border pixels of the 30 degree rotation by up to 3)."""
    for case, got, want in _golden_image_runs("imageaug"):
        assert got.shape == want.shape, case
        diff = np.abs(got - want)
        assert (diff > 1).mean() < 0.01 and diff.max() <= 3, (case, diff.max())


def test_image_record_random_augmentations(tmp_path):
    # The random augmentations of MXNet's default augmenter, checked by what each must keep.
    path, rgbs = _make_rec(tmp_path, n=8, h=16, w=16)

    def batch(**kw):
        it = mx.io.ImageRecordIter(path_imgrec=path, data_shape=(3, 16, 16), batch_size=8, seed=1,
                                   **kw)
        return it.next().data[0].asnumpy()

    plain = np.stack([_chw(x) for x in rgbs])
    np.testing.assert_array_equal(batch(), plain)
    # brightness scales every pixel of an image by one factor (before rounding and clipping)
    b = batch(brightness=0.3)
    for k in range(8):
        keep = (plain[k] > 20) & (b[k] > 0) & (b[k] < 255)
        ratio = b[k][keep] / plain[k][keep]
        assert np.ptp(ratio) < 0.1 and 0.65 < ratio.mean() < 1.35
    assert not np.array_equal(b, plain)
    # saturation blends with the luminance: the luminance stays (up to rounding)
    luma = np.array([0.299, 0.587, 0.114], np.float32).reshape(1, 3, 1, 1)
    s = batch(saturation=0.5)
    unclipped = ((s > 0) & (s < 255)).all(axis=1, keepdims=True)
    got, want = (s * luma).sum(1, keepdims=True), (plain * luma).sum(1, keepdims=True)
    assert np.abs(got - want)[unclipped].max() <= 1.0
    # lightness jitter alone keeps hue order: the brightest channel of a pixel stays brightest
    light = batch(random_l=40)
    assert not np.array_equal(light, plain)
    colorful = (np.ptp(plain, axis=1) > 60) & ((light > 5) & (light < 250)).all(axis=1)
    assert (light.argmax(1) == plain.argmax(1))[colorful].mean() > 0.95
    # a random rotation keeps the image size and fills the corners it uncovers
    r = batch(max_rotate_angle=45, fill_value=0)
    assert r.shape == plain.shape and (r[:, :, 0, 0] == 0).any()
    # random resized crops: each sample is some region of its image resized to 16x16; with
    # the whole area and aspect 1 it is the image itself
    np.testing.assert_array_equal(batch(random_resized_crop=True, min_random_area=1.0), plain)
    rr = batch(random_resized_crop=True, min_random_area=0.2, max_random_area=0.5)
    assert rr.shape == plain.shape and not np.array_equal(rr, plain)
    # PCA noise adds one color vector per image
    pn = batch(pca_noise=0.5)
    shift = (pn - plain).reshape(8, 3, -1)
    inside = ((pn > 0) & (pn < 255)).reshape(8, 3, -1).all(axis=1)
    for k in range(8):
        cols = shift[k][:, inside[k]]
        assert np.ptp(cols, axis=1).max() <= 1.0
    # the same seed gives the same draws, whatever the thread count
    again = mx.io.ImageRecordIter(path_imgrec=path, data_shape=(3, 16, 16), batch_size=8, seed=1,
                                  preprocess_threads=1, brightness=0.3)
    np.testing.assert_array_equal(again.next().data[0].asnumpy(), b)
    with pytest.raises(ValueError, match="inter_method"):
        mx.io.ImageRecordIter(path_imgrec=path, data_shape=(3, 16, 16), batch_size=8,
                              inter_method=7)
    with pytest.warns(UserWarning, match="ignoring unknown argument.*brightnes"):
        mx.io.ImageRecordIter(path_imgrec=path, data_shape=(3, 16, 16), batch_size=8, brightnes=1)


def _windows_of(img, out_h, out_w, pad, fill):
    """Every (top, left, mirrored) window of `img` padded by `pad` pixels of `fill`, as HWC."""
    h, w, c = img.shape
    padded = np.full((h + 2 * pad, w + 2 * pad, c), fill, np.uint8)
    padded[pad:pad + h, pad:pad + w] = img
    for y in range(h + 2 * pad - out_h + 1):
        for x in range(w + 2 * pad - out_w + 1):
            win = padded[y:y + out_h, x:x + out_w]
            yield (y, x, False), win
            yield (y, x, True), win[:, ::-1]


@contextlib.contextmanager
def _sample_by_sample():
    """ImageRecordIter with every sample augmented by __call__, not by chunk-wide windows."""
    from oxnet.io import _augment

    chunked = _augment.DefaultAugmenter.windows

    def none_ok(self, shapes, draws):
        top, left, used, ok = chunked(self, shapes, draws)
        return top, left, used, np.zeros_like(ok)
    _augment.DefaultAugmenter.windows = none_ok
    try:
        yield
    finally:
        _augment.DefaultAugmenter.windows = chunked


def test_image_record_pad_crop_mirror_recipe(tmp_path):
    # CIFAR's recipe: each sample is a window of its image padded with fill_value, mirrored
    # or not, then ((pixel - mean) * scale / std) in float32
    path, rgbs = _make_rec(tmp_path, n=16, h=8, w=8)
    mean = np.array([10, 20, 30], np.float32).reshape(3, 1, 1)
    mult = (np.float32(0.5) / np.array([2, 4, 8], np.float32)).reshape(3, 1, 1)
    it = mx.io.ImageRecordIter(path_imgrec=path, data_shape=(3, 8, 8), batch_size=16, pad=3,
                               fill_value=7, rand_crop=True, rand_mirror=True, mean_r=10, mean_g=20,
                               mean_b=30, std_r=2, std_g=4, std_b=8, scale=0.5, seed=2)
    d = it.next().data[0].asnumpy()
    seen = []
    for k in range(16):
        hits = [where for where, win in _windows_of(rgbs[k], 8, 8, 3, 7)
                if np.array_equal(d[k], (_chw(win) - mean) * mult)]
        assert hits, "sample %d is no window of its padded image" % k
        seen.append(hits[0])
    assert len({s[:2] for s in seen}) > 3 and 0 < sum(s[2] for s in seen) < 16
    again = mx.io.ImageRecordIter(path_imgrec=path, data_shape=(3, 8, 8), batch_size=16, pad=3,
                                  fill_value=7, rand_crop=True, rand_mirror=True, mean_r=10,
                                  mean_g=20, mean_b=30, std_r=2, std_g=4, std_b=8, scale=0.5,
                                  seed=2, preprocess_threads=1)
    np.testing.assert_array_equal(again.next().data[0].asnumpy(), d)
    # seed_aug (MXNet's) keys the augmentation draws; seed alone keys them when it is absent
    def crops(**kw):
        it = mx.io.ImageRecordIter(path_imgrec=path, data_shape=(3, 8, 8), batch_size=16, pad=3,
                                   rand_crop=True, rand_mirror=True, shuffle=True, **kw)
        b = it.next()
        return b.data[0].asnumpy(), b.label[0].asnumpy()
    plain, labels = crops(seed=5)
    same, same_labels = crops(seed=5, seed_aug=5)
    other, other_labels = crops(seed=5, seed_aug=6)
    np.testing.assert_array_equal(same, plain)
    np.testing.assert_array_equal(other_labels, labels)  # the shuffle follows seed
    assert not np.array_equal(other, plain)
    # the chunk-wide draws are the ones augmenting sample by sample would make
    with _sample_by_sample():
        again = mx.io.ImageRecordIter(path_imgrec=path, data_shape=(3, 8, 8), batch_size=16, pad=3,
                                      fill_value=7, rand_crop=True, rand_mirror=True, mean_r=10,
                                      mean_g=20, mean_b=30, std_r=2, std_g=4, std_b=8, scale=0.5,
                                      seed=2)
        np.testing.assert_array_equal(again.next().data[0].asnumpy(), d)


def test_image_record_random_contrast_and_illumination(tmp_path):
    # MXNet's normalizer jitter: every sample is pixel * gain + shift, with one gain in
    # [1 - contrast, 1 + contrast] and one shift in [-illumination, illumination] per sample
    path, rgbs = _make_rec(tmp_path, n=8, h=6, w=6)
    it = mx.io.ImageRecordIter(path_imgrec=path, data_shape=(3, 6, 6), batch_size=8,
                               max_random_contrast=0.3, max_random_illumination=20, seed=4)
    d = it.next().data[0].asnumpy()
    gains = []
    for k in range(8):
        x = _chw(rgbs[k]).ravel()
        (gain, shift), *_ = np.linalg.lstsq(np.stack([x, np.ones_like(x)], 1), d[k].ravel(), rcond=None)
        np.testing.assert_allclose(d[k].ravel(), x * gain + shift, atol=1e-3)
        assert 0.7 <= gain <= 1.3 and -20 <= shift <= 20
        gains.append(gain)
    assert np.ptp(gains) > 0.01
    with _sample_by_sample():  # the same draws
        it = mx.io.ImageRecordIter(path_imgrec=path, data_shape=(3, 6, 6), batch_size=8,
                                   max_random_contrast=0.3, max_random_illumination=20, seed=4)
        np.testing.assert_array_equal(it.next().data[0].asnumpy(), d)


def test_image_crop_normalize_kernel_matches_numpy():
    from oxnet import _native

    rng = np.random.default_rng(3)
    for c in (1, 3):
        h, w, n = 5, 7, 40
        images = [rng.integers(0, 256, (h, w, c), dtype=np.uint8) for _ in range(n)]
        windows = [(int(rng.integers(-5, 7)), int(rng.integers(-5, 9)), bool(rng.integers(0, 2)))
                   for _ in range(n)]
        jitters = [(float(rng.uniform(0.5, 1.5)), float(rng.uniform(-9, 9))) for _ in range(n)]
        mean = rng.uniform(0, 100, (c, 4, 6)).astype(np.float32)
        mult = rng.uniform(0.1, 2, c).astype(np.float32)
        for jit in (None, jitters):
            out = np.empty((n, c, 4, 6), np.float32)
            _native.image_crop_normalize(images, windows, jit, 200, mean, mult, out)
            for k, (img, (top, left, mirror)) in enumerate(zip(images, windows)):
                canvas = np.full((h + 20, w + 20, c), 200, np.uint8)
                canvas[10:10 + h, 10:10 + w] = img
                win = canvas[10 + top:10 + top + 4, 10 + left:10 + left + 6]
                if mirror:
                    win = win[:, ::-1]
                want = win.transpose(2, 0, 1).astype(np.float32) - mean
                if jit is not None:
                    want = want * np.float32(jit[k][0]) + np.float32(jit[k][1])
                np.testing.assert_array_equal(out[k], want * mult.reshape(c, 1, 1))
    with pytest.raises(ValueError, match="channels"):
        _native.image_crop_normalize([np.zeros((2, 2, 1), np.uint8)], [(0, 0, False)], None, 0,
                                     mean[:, :1, :1], mult, np.empty((1, 3, 1, 1), np.float32))
    with pytest.raises(ValueError, match="1 images, 2 windows"):
        _native.image_crop_normalize([images[0]], [(0, 0, False)] * 2, None, 0, mean, mult,
                                     np.empty((1, 3, 4, 6), np.float32))


def test_sample_rng_serves_the_batch_row_then_its_own_generator():
    from oxnet.io._augment import SampleRng

    row = np.random.default_rng(0).random(4).tolist()
    r = SampleRng(row, [1, 2, 3])
    assert r.random() == row[0]
    assert r.uniform(-2, 2) == -2 + 4 * row[1]
    assert r.integers(3, 7) == 3 + int(row[2] * 4)
    assert r.integers(5) == int(row[3] * 5)
    more = np.random.default_rng([1, 2, 3])
    assert r.random() == more.random()  # past the row: the sample's own Generator
    np.testing.assert_array_equal(r.normal(0, 1, 3), more.normal(0, 1, 3))
    u = np.random.default_rng(1).random(6000)
    counts = np.bincount([SampleRng([x], [0]).integers(0, 6) for x in u], minlength=6)
    assert counts.size == 6 and counts.min() > 850  # 1000 expected each
    assert SampleRng([1.0 - 2.0 ** -53], [0]).integers(0, 3) == 2


def test_image_record_mean_img_is_computed_saved_and_reused(tmp_path):
    path, rgbs = _make_rec(tmp_path, n=5, h=10, w=12)
    mean_file = str(tmp_path / "mean.bin")
    it = mx.io.ImageRecordIter(path_imgrec=path, data_shape=(3, 8, 8), batch_size=5,
                               mean_img=mean_file)
    crops = np.stack([_chw(x[1:9, 2:10]) for x in rgbs])  # center crops of 10x12
    np.testing.assert_allclose(it.next().data[0].asnumpy(), crops - crops.mean(0), atol=1e-4)
    saved = mx.nd.load(mean_file)  # MXNet's layout: {"mean_img": (C, H, W)}
    np.testing.assert_allclose(saved["mean_img"].asnumpy(), crops.mean(0), rtol=1e-6)
    mx.nd.save(mean_file, {"mean_img": mx.nd.ones((3, 8, 8)) * 100})
    again = mx.io.ImageRecordIter(path_imgrec=path, data_shape=(3, 8, 8), batch_size=5,
                                  mean_img=mean_file)
    np.testing.assert_allclose(again.next().data[0].asnumpy(), crops - 100, atol=1e-4)
    with pytest.raises(mx.MXNetError, match="mean_img"):
        mx.io.ImageRecordIter(path_imgrec=path, data_shape=(3, 6, 6), batch_size=5,
                              mean_img=mean_file)


def test_image_record_bad_augmentation_arguments_name_them(tmp_path):
    path, _ = _make_rec(tmp_path, n=2)
    for kw, what in ((dict(max_aspect_ratio=5), "max_aspect_ratio"),
                     (dict(min_random_scale=0), "min_random_scale"),
                     (dict(min_aspect_ratio=2, max_aspect_ratio=1), "min_aspect_ratio"),
                     (dict(min_crop_size=9, max_crop_size=5), "min_crop_size")):
        with pytest.raises(ValueError, match=what):
            mx.io.ImageRecordIter(path_imgrec=path, data_shape=(3, 8, 8), batch_size=2, **kw)
    it = mx.io.ImageRecordIter(path_imgrec=path, data_shape=(3, 8, 8), batch_size=2,
                               max_crop_size=50, min_crop_size=40)
    with pytest.raises(Exception, match="max_crop_size"):
        it.next()


def test_layout_puts_the_batch_on_its_n_axis():
    # MXNet 1.9.1 with layout='TNC' slices, joins and describes batches along axis 1 (and
    # fails on a 1-D label, which oxnet batches along its only axis).
    data = np.arange(32.0).reshape(4, 4, 2)
    it = mx.io.NDArrayIter(data, np.arange(4.0), batch_size=3, layout="TNC")
    assert it.provide_data[0].shape == (4, 3, 2) and it.provide_label[0].shape == (3,)
    b1, b2 = list(it)
    np.testing.assert_array_equal(b1.data[0].asnumpy(), data[:, :3])
    np.testing.assert_array_equal(b2.data[0].asnumpy(), data[:, [3, 0, 1]])
    assert b2.pad == 2 and b2.label[0].asnumpy().tolist() == [3, 0, 1]


def test_csv_zero_labels_are_one_per_row(tmp_path):
    # MXNet 1.9.1 ignores label_shape without label_csv: labels (batch,) of zeros.
    path = str(tmp_path / "d.csv")
    np.savetxt(path, np.arange(12).reshape(4, 3), delimiter=",", fmt="%d")
    it = mx.io.CSVIter(data_csv=path, data_shape=(3,), label_shape=(2,), batch_size=2)
    assert it.provide_label[0].shape == (2,)
    assert it.next().label[0].asnumpy().tolist() == [0, 0]
