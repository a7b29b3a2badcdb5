"""Image pipeline benchmark: ImageRecordIter over .rec files of JPEGs made here, at 1 and 2
preprocess threads: photo-sized ones (500x375) with MXNet's ImageNet-style augmentation
(shorter side resized to 256, random 224x224 crop, random mirror, mean subtraction), and
CIFAR-sized ones (32x32) with MXNet's CIFAR recipe (pad 4, random 28x28 crop, mirror). Beside
them: Pillow's decode of the same files (what the iterator paid per image before it decoded
JPEGs through simplejpeg), and the native OpenCV-exact resize against its numpy statement
(tests/python/cv_resize_model.py). Medians of repeated passes.

    python benches/python/bench_io.py [--images N]
"""
import argparse
import io
import os
import statistics
import sys
import tempfile
import time

import numpy as np
from PIL import Image

import oxnet as mx
from oxnet.io import _imgops


def make_rec(path, n, size):
    rng = np.random.default_rng(0)
    w = mx.recordio.MXIndexedRecordIO(path + ".idx", path + ".rec", "w")
    payloads = []
    for i in range(n):
        base = Image.fromarray(rng.integers(0, 255, (24, 32, 3)).astype(np.uint8))
        arr = np.asarray(base.resize(size, Image.BICUBIC)).astype(np.int16)
        arr = np.clip(arr + rng.integers(-20, 20, arr.shape), 0, 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="JPEG", quality=90)
        payloads.append(buf.getvalue())
        w.write_idx(i, mx.recordio.pack(mx.recordio.IRHeader(0, float(i % 10), i, 0), buf.getvalue()))
    w.close()
    return payloads


def median_rate(fn, count, repeat):
    rates = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        rates.append(count / (time.perf_counter() - t))
    return statistics.median(rates)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    cases = [("500x375, 256/224 crop", (500, 375), args.images, 50,
              dict(data_shape=(3, 224, 224), resize=256, mean_r=123.68, mean_g=116.28,
                   mean_b=103.53)),
             ("32x32, pad 4, 28 crop", (32, 32), 50 * args.images, 128,
              dict(data_shape=(3, 28, 28), pad=4))]
    with tempfile.TemporaryDirectory() as d:
        for name, size, n, batch, kwargs in cases:
            path = os.path.join(d, name.split(",")[0])
            payloads = make_rec(path, n, size)

            def decode_all():
                for p in payloads:
                    np.asarray(Image.open(io.BytesIO(p)).convert("RGB"))
            decode = median_rate(decode_all, len(payloads), args.repeat)
            print("%-48s %8.0f img/s" % ("%s: Pillow decode alone" % name, decode))
            for threads in (1, 2):
                it = mx.io.ImageRecordIter(path_imgrec=path + ".rec", batch_size=batch,
                                           rand_crop=True, rand_mirror=True, shuffle=True,
                                           preprocess_threads=threads, **kwargs)

                def epoch():
                    for b in it:
                        b.data[0].wait_to_read()
                    it.reset()
                epoch()
                rate = median_rate(epoch, n - n % batch, args.repeat)
                print("%-48s %8.0f img/s  %.2fx Pillow's decode alone" %
                      ("%s: ImageRecordIter, %d thread(s)" % (name, threads), rate, rate / decode))
                it.close()
            if size == (500, 375):
                photo = payloads[0]

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "python"))
    import cv_resize_model
    img = np.asarray(Image.open(io.BytesIO(photo)).convert("RGB"))
    for interp, name in [(1, "bilinear"), (2, "bicubic"), (3, "area")]:
        native = median_rate(lambda: _imgops.resize(img, 341, 256, interp), 1, 9)
        model = median_rate(lambda: cv_resize_model.resize(img, 341, 256, interp), 1, args.repeat)
        print("%-44s %8.2f ms  numpy %7.2f ms  %5.1fx" % ("resize 500x375 -> 341x256 %s" % name,
                                                          1e3 / native, 1e3 / model, native / model))


if __name__ == "__main__":
    main()
