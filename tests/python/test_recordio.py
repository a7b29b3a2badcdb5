"""mx.recordio against golden files written by MXNet 1.9.1 (tests/data/make_golden_recordio.py)."""
import io
import json
import os
import pickle
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import oxnet as mx
from oxnet import recordio

GOLDEN = os.path.join(os.path.dirname(__file__), "..", "data", "golden", "recordio")
MAGIC = struct.pack("<I", 0xCED7230A)


@pytest.fixture(scope="module")
def expected():
    with open(os.path.join(GOLDEN, "expected.json")) as f:
        return json.load(f)


def _read_all(path):
    r = recordio.MXRecordIO(path, "r")
    out = []
    while True:
        s = r.read()
        if s is None:
            break
        out.append(s)
    r.close()
    return out


def _file_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def test_golden_plain_read(expected):
    got = _read_all(os.path.join(GOLDEN, "plain.rec"))
    assert [g.hex() for g in got] == expected["plain"]


def test_golden_plain_write_byte_identical(expected, tmp_path):
    path = str(tmp_path / "plain.rec")
    w = recordio.MXRecordIO(path, "w")
    for p in expected["plain"]:
        w.write(bytes.fromhex(p))
    w.close()
    assert _file_bytes(path) == _file_bytes(os.path.join(GOLDEN, "plain.rec"))


def test_observed_split_layout(tmp_path):
    # reference §9.5: payload magic+'zz' -> (cflag 1, len 0), (cflag 3, len 2, 'zz', pad)
    path = str(tmp_path / "m.rec")
    w = recordio.MXRecordIO(path, "w")
    w.write(MAGIC + b"zz")
    w.close()
    assert _file_bytes(path) == MAGIC + struct.pack("<I", 1 << 29) + MAGIC + \
        struct.pack("<I", (3 << 29) | 2) + b"zz\0\0"


def test_golden_packed_indexed_read(expected):
    r = recordio.MXIndexedRecordIO(os.path.join(GOLDEN, "packed.idx"),
                                   os.path.join(GOLDEN, "packed.rec"), "r")
    assert [[k, r.idx[k]] for k in r.keys] == expected["packed_idx"]
    # random access in reverse order
    for rec in reversed(expected["packed"]):
        s = r.read_idx(rec["key"])
        assert s.hex() == rec["record"]
        h, payload = recordio.unpack(s)
        flag, label, id_, id2 = rec["header"]
        assert (h.flag, h.id, h.id2) == (flag, id_, id2)
        if flag:
            assert isinstance(h.label, np.ndarray) and h.label.dtype == np.float32
            np.testing.assert_array_equal(h.label, label)
        else:
            assert h.label == label
        assert payload.hex() == rec["payload"]
    r.close()


def test_golden_packed_write_byte_identical(expected, tmp_path):
    idx, rec = str(tmp_path / "p.idx"), str(tmp_path / "p.rec")
    w = recordio.MXIndexedRecordIO(idx, rec, "w")
    for r in expected["packed"]:
        flag, label, id_, id2 = r["input_header"]
        s = recordio.pack(recordio.IRHeader(flag, label, id_, id2), bytes.fromhex(r["payload"]))
        assert s.hex() == r["record"]
        w.write_idx(r["key"], s)
    w.close()
    assert _file_bytes(rec) == _file_bytes(os.path.join(GOLDEN, "packed.rec"))
    assert _file_bytes(idx) == _file_bytes(os.path.join(GOLDEN, "packed.idx"))


def test_observed_irheader_record():
    # reference §9.5: IRHeader(0, 3.0, 7, 0) + b'abcde'
    s = recordio.pack(recordio.IRHeader(0, 3.0, 7, 0), b"abcde")
    assert s.hex() == "00000000" "00004040" "0700000000000000" "0000000000000000" "6162636465"


def test_sequential_api_tell_reset(tmp_path):
    path = str(tmp_path / "s.rec")
    w = recordio.MXRecordIO(path, "w")
    offsets = []
    for i in range(5):
        offsets.append(w.tell())
        w.write(b"x" * i)
    w.close()
    assert offsets == [0, 8, 20, 32, 44]
    r = recordio.MXRecordIO(path, "r")
    assert r.read() == b""
    assert r.read() == b"x"
    r.reset()
    assert [r.read() for _ in range(6)] == [b"x" * i for i in range(5)] + [None]
    # MXNet asserts; oxnet's error is both an AssertionError and an MXNetError.
    with pytest.raises(AssertionError, match="flag 'r': it cannot be written"):
        r.write(b"nope")
    with pytest.raises(mx.base.MXNetError):
        recordio.MXRecordIO(str(tmp_path / "o.rec"), "w").read()
    r.close()
    r.close()  # idempotent
    with pytest.raises(ValueError, match="Invalid flag"):
        recordio.MXRecordIO(path, "a")
    with pytest.raises(mx.base.MXNetError, match="missing.rec"):
        recordio.MXRecordIO(str(tmp_path / "missing.rec"), "r")


def test_pickle_reader_and_indexed(tmp_path):
    idx, rec = str(tmp_path / "p.idx"), str(tmp_path / "p.rec")
    w = recordio.MXIndexedRecordIO(idx, rec, "w")
    for i in range(4):
        w.write_idx(i, b"rec%d" % i)
    w.close()
    r = recordio.MXIndexedRecordIO(idx, rec, "r")
    r2 = pickle.loads(pickle.dumps(r))
    assert r2.keys == [0, 1, 2, 3]
    assert r2.read_idx(2) == b"rec2"
    assert r.read_idx(3) == b"rec3"  # the original still works after pickling
    s = recordio.MXRecordIO(rec, "r")
    assert s.read() == b"rec0"
    s2 = pickle.loads(pickle.dumps(s))
    assert s2.read() == b"rec0" and s.read() == b"rec1"  # a copy reopens at the start


def test_indexed_str_keys(tmp_path):
    idx, rec = str(tmp_path / "k.idx"), str(tmp_path / "k.rec")
    w = recordio.MXIndexedRecordIO(idx, rec, "w", key_type=str)
    w.write_idx("b", b"B")
    w.write_idx("a", b"AA")
    w.close()
    assert open(idx).read() == "b\t0\na\t12\n"
    r = recordio.MXIndexedRecordIO(idx, rec, "r", key_type=str)
    assert r.keys == ["b", "a"] and r.read_idx("a") == b"AA" and r.read_idx("b") == b"B"


def test_pack_unpack_labels():
    s = recordio.pack(recordio.IRHeader(0, np.array([1, 2.5]), 3, 4), b"zz")
    h, rest = recordio.unpack(s)
    assert h.flag == 2 and h.id == 3 and h.id2 == 4 and rest == b"zz"
    np.testing.assert_array_equal(h.label, [1, 2.5])
    h, rest = recordio.unpack(recordio.pack(recordio.IRHeader(5, 1.0, 0, 0), b"q"))
    assert h.flag == 0 and h.label == 1.0 and rest == b"q"  # scalar label forces flag 0
    with pytest.raises(mx.base.MXNetError):
        recordio.unpack(b"short")


def _bgr_image(h, w, seed):
    return np.random.RandomState(seed).randint(0, 256, (h, w, 3)).astype(np.uint8)


def test_pack_img_png_is_lossless_bgr():
    from PIL import Image

    img = _bgr_image(5, 7, 0)
    s = recordio.pack_img(recordio.IRHeader(0, 1.0, 2, 0), img, img_fmt=".png")
    h, dec = recordio.unpack_img(s)
    assert h.label == 1.0 and h.id == 2
    np.testing.assert_array_equal(dec, img)
    # The stored file is a normal RGB PNG: Pillow sees the channels reversed (cv2's BGR convention).
    _, payload = recordio.unpack(s)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(payload))), img[:, :, ::-1])
    gray = recordio.unpack_img(s, iscolor=0)[1]
    assert gray.shape == (5, 7)
    g = img[:, :, 0]
    s = recordio.pack_img(recordio.IRHeader(0, 0.0, 0, 0), g, img_fmt=".png")
    assert recordio.unpack_img(s)[1].shape == (5, 7)
    assert recordio.unpack_img(s, iscolor=1)[1].shape == (5, 7, 3)


def test_pack_img_jpg_close():
    img = np.full((16, 16, 3), (10, 120, 240), np.uint8)  # flat BGR colour survives JPEG well
    s = recordio.pack_img(recordio.IRHeader(0, 0.0, 0, 0), img, quality=95)
    dec = recordio.unpack_img(s)[1]
    assert dec.shape == img.shape
    assert np.abs(dec.astype(int) - img).max() <= 4
    with pytest.raises(ValueError, match="img_fmt"):
        recordio.pack_img(recordio.IRHeader(0, 0.0, 0, 0), img, img_fmt=".bmp")


@pytest.mark.parametrize("damage, what", [
    (lambda b: b"\x00" + b[1:], "bad magic"),
    (lambda b: b[:-3], "past the end"),
    (lambda b: b[:5], "truncated record header"),
    (lambda b: b[:4] + struct.pack("<I", (2 << 29) | 4) + b[8:], "continuation flag"),
])
def test_corrupt_files_raise_mxneterror(tmp_path, damage, what):
    path = str(tmp_path / "c.rec")
    w = recordio.MXRecordIO(path, "w")
    w.write(b"abcd")
    w.write(b"efgh")
    w.close()
    with open(path, "rb") as f:
        good = f.read()
    # damage the second record so the file name and a nonzero offset appear in the message
    first = good[:12]
    with open(path, "wb") as f:
        f.write(first + damage(good[12:]))
    r = recordio.MXRecordIO(path, "r")
    assert r.read() == b"abcd"
    with pytest.raises(mx.base.MXNetError, match=what) as e:
        r.read()
    assert path in str(e.value) and "offset 12" in str(e.value)


def test_missing_cflag3_at_eof(tmp_path):
    path = str(tmp_path / "c.rec")
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<I", 1 << 29))  # a first part and then nothing
    with pytest.raises(mx.base.MXNetError, match="offset 8"):
        _read_all(path)


_FUZZ_SOURCE = None


def _fuzz_source():
    global _FUZZ_SOURCE
    if _FUZZ_SOURCE is None:
        buf = io.BytesIO()
        payloads = [b"a", MAGIC + b"zz", b"abcd" + MAGIC + MAGIC + b"xy", b"", b"0123456789"]
        for p in payloads:
            buf.write(recordio._encode_record(p))
        _FUZZ_SOURCE = (buf.getvalue(), payloads)
    return _FUZZ_SOURCE


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_fuzz_truncate_and_flip(tmp_path, data):
    raw, payloads = _fuzz_source()
    b = bytearray(raw)
    for _ in range(data.draw(st.integers(0, 3))):
        i = data.draw(st.integers(0, len(b) - 1))
        b[i] ^= data.draw(st.integers(1, 255))
    b = bytes(b[:data.draw(st.integers(0, len(b)))])
    path = str(tmp_path / "fuzz.rec")
    with open(path, "wb") as f:
        f.write(b)
    r = recordio.MXRecordIO(path, "r")
    got = []
    error = None
    try:
        for _ in range(len(payloads) + 5):  # never more records than parts: no hang
            s = r.read()
            if s is None:
                break
            got.append(s)
        else:
            raise AssertionError("reader did not stop")
    except mx.base.MXNetError as e:
        assert path in str(e) and "offset" in str(e)
        error = str(e)
    finally:
        r.close()
    # The header-only scanner (ImageRecordIter's index) agrees with the reader.
    with open(path, "rb") as f:
        try:
            offsets = recordio._scan_offsets(f, path)
            assert error is None and len(offsets) == len(got)
        except mx.base.MXNetError as e:
            assert str(e) == error
    assert all(isinstance(s, bytes) for s in got)
    if b == raw:
        assert got == payloads
    # Every record that lies wholly before the first damaged byte comes back unchanged.
    diff = next((i for i in range(len(b)) if b[i] != raw[i]), len(b))
    end = 0
    for k, p in enumerate(payloads):
        end += len(recordio._encode_record(p))
        if end <= diff:
            assert got[k] == p


_payload = st.lists(st.one_of(st.binary(max_size=9), st.just(MAGIC)), max_size=6).map(b"".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_payload, max_size=6))
def test_roundtrip_payloads_with_magic(tmp_path, payloads):
    idx, path = str(tmp_path / "rt.idx"), str(tmp_path / "rt.rec")
    w = recordio.MXIndexedRecordIO(idx, path, "w")
    for i, p in enumerate(payloads):
        w.write_idx(i, p)
    w.close()
    raw = _file_bytes(path)
    assert len(raw) % 4 == 0
    assert _read_all(path) == payloads
    r = recordio.MXIndexedRecordIO(idx, path, "r")
    assert [r.read_idx(i) for i in reversed(range(len(payloads)))] == payloads[::-1]
    r.close()
    with open(path, "rb") as f:
        assert recordio._scan_offsets(f, path) == sorted(r.idx[k] for k in r.idx)
    # dmlc's invariant: the aligned magic words in the file are exactly the part headers, so a
    # reader can resynchronise by scanning (payload magic is always split out)
    starts, pos = [], 0
    while pos < len(raw):
        starts.append(pos)
        length = struct.unpack("<I", raw[pos + 4:pos + 8])[0] & ((1 << 29) - 1)
        pos += 8 + (length + 3) // 4 * 4
    assert [i for i in range(0, len(raw), 4) if raw[i:i + 4] == MAGIC] == starts
