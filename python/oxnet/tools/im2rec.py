"""Make image lists and RecordIO files, like MXNet's tools/im2rec.py (Pillow instead of OpenCV).

    python -m oxnet.tools.im2rec PREFIX ROOT --list [--recursive]   # ROOT's images -> PREFIX.lst
    python -m oxnet.tools.im2rec PREFIX ROOT [--resize N] ...        # PREFIX*.lst -> .rec + .idx

Resizing follows OpenCV's INTER_LINEAR (as MXNet's cv2.resize does), not Pillow's filters.
A .lst line is `index\\tlabel(s)\\tpath` with labels printed as %f and paths relative to ROOT.
With --recursive every folder holding images gets its own label, in sorted walk order.
"""
import argparse
import os
import random
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import recordio
from ..io._imgops import resize_linear


def list_image(root, recursive, exts):
    """(index, relative path, label) for the images under root."""
    i = 0
    if recursive:
        cat = {}
        for path, dirs, files in os.walk(root, followlinks=True):
            dirs.sort()
            for fname in sorted(files):
                fpath = os.path.join(path, fname)
                if os.path.isfile(fpath) and os.path.splitext(fname)[1].lower() in exts:
                    if path not in cat:
                        cat[path] = len(cat)
                    yield i, os.path.relpath(fpath, root), cat[path]
                    i += 1
        for k, v in sorted(cat.items(), key=lambda kv: kv[1]):
            print(os.path.relpath(k, root), v)
    else:
        for fname in sorted(os.listdir(root)):
            fpath = os.path.join(root, fname)
            if os.path.isfile(fpath) and os.path.splitext(fname)[1].lower() in exts:
                yield i, os.path.relpath(fpath, root), 0
                i += 1


def write_list(path_out, image_list):
    with open(path_out, "w") as fout:
        for item in image_list:
            labels = "".join("%f\t" % j for j in item[2:])
            fout.write("%d\t%s%s\n" % (item[0], labels, item[1]))


def make_list(args):
    image_list = list(list_image(args.root, args.recursive, args.exts))
    if args.shuffle:
        random.seed(100)  # MXNet's fixed seed: the same folder always gives the same list
        random.shuffle(image_list)
    n = len(image_list)
    chunk_size = (n + args.chunks - 1) // args.chunks if n else 0
    for i in range(args.chunks):
        chunk = image_list[i * chunk_size:(i + 1) * chunk_size]
        suffix = "_%d" % i if args.chunks > 1 else ""
        sep = int(chunk_size * args.train_ratio)
        sep_test = int(chunk_size * args.test_ratio)
        if args.train_ratio == 1.0:
            write_list(args.prefix + suffix + ".lst", chunk)
        else:
            if args.test_ratio:
                write_list(args.prefix + suffix + "_test.lst", chunk[:sep_test])
            if args.train_ratio + args.test_ratio < 1.0:
                write_list(args.prefix + suffix + "_val.lst", chunk[sep_test + sep:])
            write_list(args.prefix + suffix + "_train.lst", chunk[sep_test:sep_test + sep])


def read_list(path_in):
    """[index, path, label, ...] per valid line of a .lst file."""
    with open(path_in) as fin:
        for lineno, line in enumerate(fin, 1):
            fields = [x.strip() for x in line.strip().split("\t")]
            if len(fields) < 3:
                print("lst should have at least three parts (index, label(s), path), line %d of %s: %r"
                      % (lineno, path_in, line), file=sys.stderr)
                continue
            try:
                yield [int(fields[0]), fields[-1]] + [float(x) for x in fields[1:-1]]
            except ValueError:
                print("Parsing lst met error for %s, detail: line %d" % (path_in, lineno), file=sys.stderr)


def _load_image(path, color):
    """The image as cv2.imread(path, color) gives it: BGR(A) or 2-D gray, EXIF orientation
    applied for color 1 and 0, 16-bit images scaled to 8 bits there and kept with -1."""
    with open(path, "rb") as f:
        return recordio._decode(f.read(), color, exif=True)


def image_encode(args, item):
    """Packed record bytes for one list item, or None (with a message) when unreadable."""
    fullpath = os.path.join(args.root, item[1])
    if len(item) > 3 and args.pack_label:
        header = recordio.IRHeader(0, item[2:], item[0], 0)
    else:
        header = recordio.IRHeader(0, item[2], item[0], 0)
    try:
        if args.pass_through:
            with open(fullpath, "rb") as f:
                return recordio.pack(header, f.read())
        arr = _load_image(fullpath, args.color)
    except Exception as e:  # MXNet skips unreadable images with a message
        print("imread error trying to load file: %s: %s" % (fullpath, e), file=sys.stderr)
        return None
    if args.center_crop:
        h, w = arr.shape[:2]
        side = min(w, h)
        y, x = (h - side) // 2, (w - side) // 2
        arr = arr[y:y + side, x:x + side]
    if args.resize:
        h, w = arr.shape[:2]
        if h > w:
            arr = resize_linear(arr, args.resize, h * args.resize // w)
        else:
            arr = resize_linear(arr, w * args.resize // h, args.resize)
    try:
        return recordio.pack_img(header, arr, quality=args.quality, img_fmt=args.encoding)
    except Exception as e:  # as MXNet: one item that cannot be packed is skipped, not fatal
        print("pack_img error on file: %s: %s" % (fullpath, e), file=sys.stderr)
        return None


def write_record(args, lst_path):
    base = os.path.splitext(lst_path)[0]
    image_list = list(read_list(lst_path))
    rec = recordio.MXIndexedRecordIO(base + ".idx", base + ".rec", "w")
    try:
        # Pillow releases the GIL while decoding/encoding, so threads run in parallel; map keeps
        # the list order, which the .idx file and MXNet's output follow.
        with ThreadPoolExecutor(max_workers=max(1, args.num_thread)) as pool:
            for count, (item, s) in enumerate(zip(image_list, pool.map(lambda it: image_encode(args, it),
                                                                    image_list))):
                if s is not None:
                    rec.write_idx(item[0], s)
                if count % 1000 == 0 and count:
                    print("time:", count)
    finally:
        rec.close()


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Create an image list and/or a RecordIO (.rec + .idx) database")
    p.add_argument("prefix", help="prefix of input/output lst and rec files")
    p.add_argument("root", help="path to folder containing images")
    g = p.add_argument_group("Options for creating image lists")
    g.add_argument("--list", action="store_true", help="make a .lst file instead of a .rec")
    g.add_argument("--exts", nargs="+", default=[".jpeg", ".jpg", ".png"], help="accepted extensions")
    g.add_argument("--chunks", type=int, default=1, help="number of chunks")
    g.add_argument("--train-ratio", type=float, default=1.0, help="ratio of images for training")
    g.add_argument("--test-ratio", type=float, default=0, help="ratio of images for testing")
    g.add_argument("--recursive", action="store_true", help="one label per subfolder, walked recursively")
    g.add_argument("--no-shuffle", dest="shuffle", action="store_false", help="keep the listing order")
    g = p.add_argument_group("Options for creating database")
    g.add_argument("--pass-through", action="store_true", help="store the image bytes unchanged")
    g.add_argument("--resize", type=int, default=0, help="resize the shorter edge to this size")
    g.add_argument("--center-crop", action="store_true", help="crop the center square first")
    g.add_argument("--quality", type=int, default=95, help="JPEG quality, or PNG compression level 0-9")
    g.add_argument("--num-thread", type=int, default=1, help="number of encoding threads")
    g.add_argument("--color", type=int, default=1, choices=[-1, 0, 1],
                   help="1: color, 0: grayscale, -1: as stored (alpha kept)")
    g.add_argument("--encoding", type=str, default=".jpg", choices=[".jpg", ".png"], help="encoding")
    g.add_argument("--pack-label", action="store_true", help="store every label of multi-label lists")
    args = p.parse_args(argv)
    args.prefix = os.path.abspath(args.prefix)
    args.root = os.path.abspath(args.root)
    args.exts = [e.lower() for e in args.exts]
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.list:
        make_list(args)
        return 0
    working_dir = args.prefix if os.path.isdir(args.prefix) else os.path.dirname(args.prefix)
    found = False
    for fname in sorted(os.listdir(working_dir)):
        path = os.path.join(working_dir, fname)
        if os.path.isfile(path) and path.startswith(args.prefix) and path.endswith(".lst"):
            found = True
            print("Creating .rec file from", path, "in", working_dir)
            write_record(args, path)
    if not found:
        print("Did not find any .lst file with prefix %s" % args.prefix, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
