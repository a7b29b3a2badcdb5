"""Writes RecordIO golden files with real MXNet 1.9.1 (run with /work/mxref/bin/python).

    /work/mxref/bin/python tests/data/make_golden_recordio.py

Outputs under tests/data/golden/recordio/: plain.rec (raw payloads, including the magic word at
aligned and unaligned offsets), packed.rec + packed.idx (IRHeader records with a scalar and with
multi-float labels, written through MXIndexedRecordIO), and expected.json describing every record
(hex payloads, headers, index offsets). tests/python/test_recordio.py reads these with oxnet and
checks that oxnet writes byte-identical files from the same inputs.

image.rec holds PNG images (encoded here with zlib, mxref has no image library) and
imagerecord.npz the batches MXNet's ImageRecordIter made from it for the configurations in
expected.json["imagerecord"] (center crops, shorter-edge resizes up and down, mean/std/scale).

It also records NDArrayIter batches over a grid of sizes, batch sizes, last_batch_handle modes and
seeded shuffles (ndarrayiter.json, from `ndarray_iter_runs`, which tests/python/test_io_iter.py
runs again with oxnet): MXNet's behaviour, including where it fails, is the oracle.
"""
import json
import os
import struct
import zlib

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "recordio")
MAGIC = struct.pack("<I", 0xCED7230A)


def plain_payloads():
    rng = np.random.RandomState(42)
    return [
        b"",
        b"a",
        b"abcd",
        b"abcde",
        MAGIC + b"zz",  # observed split: empty first part, then 'zz'
        b"ab" + MAGIC + b"cd",  # unaligned magic: stays in one part
        b"abcd" + MAGIC + MAGIC + b"xy",  # first, empty middle, last part
        MAGIC,
        b"abcd" + MAGIC,  # magic at the end: empty last part
        b"0123" + MAGIC + b"4567" + MAGIC + b"89abcdefg",
        rng.randint(0, 256, 1000).astype(np.uint8).tobytes(),
    ]


def packed_records():
    rng = np.random.RandomState(7)
    return [
        ((0, 3.0, 7, 0), b"abcde"),
        ((0, -1.5, 2**40 + 3, 11), b""),
        ((0, [1.0, 2.0, 3.0], 5, 9), b"xyz"),
        ((0, np.array([0.25, -4.0], dtype=np.float32), 1, 2), MAGIC + b"img"),
        ((0, 2.0, 8, 0), rng.randint(0, 256, 77).astype(np.uint8).tobytes()),
    ]


def png_bytes(rgb):
    """A minimal 8-bit RGB PNG (filter 0 on every row)."""
    h, w, _ = rgb.shape

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\0" + rgb[y].tobytes() for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


IMAGE_SIZES = [(20, 25), (17, 31), (32, 16), (12, 12), (9, 14)]
IMAGE_CASES = [
    {"data_shape": [3, 9, 12], "batch_size": 5},
    {"data_shape": [3, 8, 8], "batch_size": 3, "mean_r": 123, "mean_g": 117, "mean_b": 104,
     "std_r": 58, "std_g": 57, "std_b": 57, "scale": 0.5},
    {"data_shape": [3, 6, 6], "batch_size": 5, "resize": 7},
    {"data_shape": [3, 10, 10], "batch_size": 5, "resize": 11},
    {"data_shape": [3, 12, 13], "batch_size": 5, "resize": 24},
    {"data_shape": [3, 5, 7], "batch_size": 5, "resize": 9},
]


def image_images():
    rng = np.random.RandomState(11)
    out = []
    for h, w in IMAGE_SIZES:
        # smooth gradients plus noise: resizing has something to interpolate
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([yy * 255 // h, xx * 255 // w, (yy + xx) * 127 // (h + w)], axis=2)
        out.append(np.clip(base + rng.randint(-40, 40, (h, w, 3)), 0, 255).astype(np.uint8))
    return out


def ndarray_iter_runs(mx):
    """Four epochs of NDArrayIter per configuration: [n, batch, handle, shuffle, epochs, cursor]."""
    out = []
    for n in (1, 3, 7, 10):
        for bs in (1, 2, 3, 4, 11):
            for handle in ("pad", "discard", "roll_over"):
                for shuffle in (False, True):
                    np.random.seed(n * 100 + bs)
                    it = mx.io.NDArrayIter(np.arange(n * 2).reshape(n, 2), {"l": np.arange(n)},
                                           batch_size=bs, shuffle=shuffle, last_batch_handle=handle)
                    epochs = []
                    try:
                        for _ in range(4):
                            epochs.append([(b.data[0].asnumpy().tolist(), b.label[0].asnumpy().tolist(), b.pad)
                                           for b in it])
                            it.reset()
                        cursor = it.cursor
                    except mx.base.MXNetError:
                        cursor = "ERR"
                    out.append([n, bs, handle, shuffle, epochs, cursor])
    return json.loads(json.dumps(out))


def main():
    import mxnet as mx

    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "ndarrayiter.json"), "w") as f:
        json.dump(ndarray_iter_runs(mx), f)
        f.write("\n")
    expected = {"plain": [], "packed": [], "packed_idx": []}

    w = mx.recordio.MXRecordIO(os.path.join(OUT, "image.rec"), "w")
    for i, rgb in enumerate(image_images()):
        w.write(mx.recordio.pack(mx.recordio.IRHeader(0, float(i), i, 0), png_bytes(rgb)))
    w.close()
    arrays = {}
    for k, case in enumerate(IMAGE_CASES):
        it = mx.io.ImageRecordIter(path_imgrec=os.path.join(OUT, "image.rec"), **case)
        arrays["case%d" % k] = np.concatenate([b.data[0].asnumpy() for b in it])
    np.savez_compressed(os.path.join(OUT, "imagerecord.npz"), **arrays)
    expected["imagerecord"] = IMAGE_CASES

    w = mx.recordio.MXRecordIO(os.path.join(OUT, "plain.rec"), "w")
    for p in plain_payloads():
        w.write(p)
        expected["plain"].append(p.hex())
    w.close()

    w = mx.recordio.MXIndexedRecordIO(os.path.join(OUT, "packed.idx"),
                                      os.path.join(OUT, "packed.rec"), "w")
    for key, (header, payload) in enumerate(packed_records()):
        s = mx.recordio.pack(mx.recordio.IRHeader(*header), payload)
        w.write_idx(key * 10, s)
        h, rest = mx.recordio.unpack(s)
        label = h.label.tolist() if isinstance(h.label, np.ndarray) else float(h.label)
        expected["packed"].append({
            "key": key * 10,
            "input_header": [header[0], np.asarray(header[1]).tolist(), header[2], header[3]],
            "header": [int(h.flag), label, int(h.id), int(h.id2)],
            "payload": rest.hex(),
            "record": s.hex(),
        })
    w.close()
    r = mx.recordio.MXIndexedRecordIO(os.path.join(OUT, "packed.idx"),
                                      os.path.join(OUT, "packed.rec"), "r")
    expected["packed_idx"] = [[k, r.idx[k]] for k in r.keys]
    r.close()

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


# Augmentations without random draws (a fixed angle, padding, fixed crop sizes, mirroring,
# interpolation methods, size bounds), on image.rec: imageaug.npz / expected.json "imageaug".
AUG_CASES = [
    {"data_shape": [3, 8, 8], "batch_size": 5, "rotate": 90},
    {"data_shape": [3, 8, 8], "batch_size": 5, "rotate": 30, "fill_value": 0},
    {"data_shape": [3, 12, 12], "batch_size": 5, "pad": 3, "fill_value": 7},
    {"data_shape": [3, 7, 7], "batch_size": 5, "max_crop_size": 9, "min_crop_size": 9},
    {"data_shape": [3, 8, 9], "batch_size": 5, "mirror": True},
    {"data_shape": [3, 8, 8], "batch_size": 5, "resize": 10, "inter_method": 2},
    {"data_shape": [3, 8, 8], "batch_size": 5, "resize": 9, "inter_method": 3},
    {"data_shape": [3, 8, 8], "batch_size": 5, "max_img_size": 14, "inter_method": 9},
    {"data_shape": [3, 8, 8], "batch_size": 5, "min_img_size": 30},
]


def aug_main():
    import mxnet as mx

    arrays = {}
    for k, case in enumerate(AUG_CASES):
        it = mx.io.ImageRecordIter(path_imgrec=os.path.join(OUT, "image.rec"), **case)
        arrays["case%d" % k] = np.concatenate([b.data[0].asnumpy() for b in it])
    np.savez_compressed(os.path.join(OUT, "imageaug.npz"), **arrays)
    with open(os.path.join(OUT, "expected.json")) as f:
        expected = json.load(f)
    expected["imageaug"] = AUG_CASES
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
    aug_main()
