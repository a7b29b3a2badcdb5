"""mx.io.LibSVMIter against a plain numpy parse and the batches MXNet 1.9.1 produced."""
import numpy as np
import pytest

import oxnet as mx
from oxnet.ndarray.sparse import CSRNDArray

D_T = "1 0:1.5 3:2\n0 1:-1 2:4.5\n2 4:3\n1 0:1 1:1 2:1\n0 3:0.5\n"
E_T = "1 0:1.5 3:2\n0 1:-1 2:4.5\n2 4:3\n1 0:1 1:1 2:1\n0 3:0.5\n3 2:2\n4\n5 0:7\n"
L_T = "9 0:1 1:2\n8 1:3\n7 0:4\n6 2:1\n5 1:1\n"


def _parse(text, ncols):
    """Dense rows and labels of a libsvm text, the obvious way."""
    labels, rows = [], []
    for line in text.splitlines():
        toks = line.split()
        labels.append(float(toks[0]))
        row = np.zeros(ncols, np.float32)
        for t in toks[1:]:
            k, v = t.split(":")
            row[int(k)] = float(v)
        rows.append(row)
    return np.array(rows), np.array(labels, np.float32)


@pytest.fixture
def files(tmp_path):
    out = {}
    for name, text in (("d.t", D_T), ("e.t", E_T), ("l.t", L_T)):
        p = tmp_path / name
        p.write_text(text)
        out[name] = str(p)
    return out


def test_batches_match_mxnet_and_numpy(files):
    it = mx.io.LibSVMIter(data_libsvm=files["d.t"], data_shape=(5,), batch_size=2)
    # MXNet 1.9.1: [DataDesc[data,(2, 5),float32,NCHW]] [DataDesc[softmax_label,(2,),...]]
    assert it.provide_data == [("data", (2, 5))] and it.provide_label == [("softmax_label", (2,))]
    rows, labels = _parse(D_T, 5)
    got = [(b.data[0], b.label[0], b.pad, list(b.index)) for b in it]
    # MXNet: pads 0, 0, 1; indices [0 1] [2 3] [4 0]; data CSRNDArray, label NDArray.
    assert [g[2] for g in got] == [0, 0, 1]
    assert [g[3] for g in got] == [[0, 1], [2, 3], [4, 0]]
    for (data, label, _, idx) in got:
        assert type(data) is CSRNDArray and type(label) is mx.nd.NDArray
        np.testing.assert_array_equal(data.asnumpy(), rows[idx])
        np.testing.assert_array_equal(label.asnumpy(), labels[idx])
    # MXNet: the last batch wrapped row 0, so the next epoch starts at row 1; its first batch
    # has indptr [0, 2, 3], indices [1, 2, 4], data [-1, 4.5, 3].
    it.reset()
    b = it.next()
    assert b.data[0].indptr.asnumpy().tolist() == [0, 2, 3]
    assert b.data[0].indices.asnumpy().tolist() == [1, 2, 4]
    assert b.data[0].data.asnumpy().tolist() == [-1, 4.5, 3]
    assert [x.label[0].asnumpy().tolist() for x in it] == [[1, 0]]


def test_epochs_roll_over_as_mxnet(files):
    it = mx.io.LibSVMIter(data_libsvm=files["e.t"], data_shape=(5,), batch_size=3)
    seen = []
    for _ in range(3):
        seen.append([(b.label[0].asnumpy().tolist(), b.pad) for b in it])
        it.reset()
    # MXNet 1.9.1:
    assert seen == [[([1, 0, 2], 0), ([1, 0, 3], 0), ([4, 5, 1], 1)],
                    [([0, 2, 1], 0), ([0, 3, 4], 0), ([5, 1, 0], 2)],
                    [([2, 1, 0], 0), ([3, 4, 5], 0)]]


def test_csr_labels_from_label_file(files):
    it = mx.io.LibSVMIter(data_libsvm=files["d.t"], data_shape=(5,), label_libsvm=files["l.t"],
                          label_shape=(3,), batch_size=3)
    assert it.provide_label == [("softmax_label", (3, 3))]
    got = [(b.label[0], b.pad) for b in it]
    # MXNet 1.9.1 (the label file's own first column is ignored):
    assert type(got[0][0]) is CSRNDArray
    assert got[0][0].asnumpy().tolist() == [[1, 2, 0], [0, 3, 0], [4, 0, 0]]
    assert got[1][0].asnumpy().tolist() == [[0, 0, 1], [0, 1, 0], [1, 2, 0]] and got[1][1] == 1


@pytest.mark.parametrize("n, expected", [
    (2, [[1, 0, 2, 1], [0, 3, 4, 5]]),
    (3, [[1, 0], [2, 1, 0], [3, 4, 5]]),
    (4, [[1, 0], [2, 1], [0], [3, 4, 5]]),
])
def test_partitions_split_bytes_as_mxnet(files, n, expected):
    got = []
    for p in range(n):
        it = mx.io.LibSVMIter(data_libsvm=files["e.t"], data_shape=(5,), batch_size=1,
                              num_parts=n, part_index=p)
        got.append([b.label[0].asnumpy()[0] for b in it])
    assert got == expected  # labels per part, as MXNet 1.9.1 read them


def test_line_starting_on_a_boundary_goes_to_the_earlier_part(tmp_path):
    p = tmp_path / "x.t"
    p.write_text("1 0:1.5 3:2\n0 1:-1 2:45\n")   # 24 bytes; line 2 starts at byte 12
    it = mx.io.LibSVMIter(data_libsvm=str(p), data_shape=(5,), batch_size=1, num_parts=2)
    assert [b.label[0].asnumpy()[0] for b in it] == [1, 0]   # MXNet: part 0 holds both
    with pytest.raises(mx.MXNetError, match="bigger than batch size"):
        mx.io.LibSVMIter(data_libsvm=str(p), data_shape=(5,), batch_size=1, num_parts=2, part_index=1)


def test_a_batch_up_to_twice_the_rows_wraps_around_once(tmp_path):
    # MXNet 1.9.1: 2 rows fill a batch of 4 (pad 2); the next epoch starts after the wrapped
    # rows, at the end of the file, so it is empty; the one after starts again at row 0.
    p = tmp_path / "two.t"
    p.write_text("1 0:1\n2 1:2\n")
    it = mx.io.LibSVMIter(data_libsvm=str(p), data_shape=(2,), batch_size=4)
    (b,) = list(it)
    assert b.pad == 2 and b.label[0].asnumpy().tolist() == [1, 2, 1, 2]
    assert b.data[0].asnumpy().tolist() == [[1, 0], [0, 2], [1, 0], [0, 2]]
    it.reset()
    assert list(it) == []
    it.reset()
    assert [b.label[0].asnumpy().tolist() for b in it] == [[1, 2, 1, 2]]
    with pytest.raises(mx.MXNetError, match="bigger than batch size"):
        mx.io.LibSVMIter(data_libsvm=str(p), data_shape=(2,), batch_size=5)


def test_names_and_label_shape(files):
    it = mx.io.LibSVMIter(data_libsvm=files["e.t"], data_shape=(5,), batch_size=3,
                          data_name="x", label_name="y", label_shape=(1,))
    assert it.provide_data == [("x", (3, 5))] and it.provide_label == [("y", (3,))]
    assert it.next().label[0].shape == (3,)


@pytest.mark.parametrize("text, match", [
    ("1 a:1\n", "bad feature 'a:1'"), ("1 0:x\n", "bad feature"), ("x 0:1\n", "bad label"),
    ("1 0:1 0:2\n", "ascending"), ("1 2:1 0:2\n", "ascending"), ("1 0\n", "index:value"),
    ("1 -1:2\n", "out of range"), ("1 0:1\n1 7:1\n", "index 7 is out of range"),
])
def test_bad_lines_name_file_and_line(tmp_path, text, match):
    p = tmp_path / "b.t"
    p.write_text(text)
    with pytest.raises(mx.MXNetError, match=match) as e:
        mx.io.LibSVMIter(data_libsvm=str(p), data_shape=(5,), batch_size=1)
    assert str(p) in str(e.value) and "line %d" % len(text.splitlines()) in str(e.value)


def test_argument_errors(files):
    with pytest.raises(mx.MXNetError, match="round_batch"):
        mx.io.LibSVMIter(data_libsvm=files["d.t"], data_shape=(5,), batch_size=2, round_batch=False)
    with pytest.raises(mx.MXNetError, match="data_shape is expected to be 1"):
        mx.io.LibSVMIter(data_libsvm=files["d.t"], data_shape=(5, 2), batch_size=2)
    with pytest.raises(mx.MXNetError, match="bigger than batch size"):
        mx.io.LibSVMIter(data_libsvm=files["d.t"], data_shape=(5,), batch_size=20)
    with pytest.raises(mx.MXNetError, match="No such file"):
        mx.io.LibSVMIter(data_libsvm=files["d.t"] + "x", data_shape=(5,))
    # MXNet ignores unknown arguments; oxnet too, with a warning naming them
    with pytest.warns(UserWarning, match="ignoring unknown argument.*foo"):
        mx.io.LibSVMIter(data_libsvm=files["d.t"], data_shape=(5,), foo=1)


def test_module_trains_on_csr_batches(files):
    it = mx.io.LibSVMIter(data_libsvm=files["e.t"], data_shape=(5,), batch_size=4)
    data = mx.sym.var("data", stype="csr")
    net = mx.sym.SoftmaxOutput(mx.sym.FullyConnected(data, num_hidden=6), name="softmax")
    mod = mx.mod.Module(net)
    mod.fit(it, num_epoch=2, optimizer_params={"learning_rate": 0.1})
    assert mod.score(it, "acc")[0][0] == "accuracy"
