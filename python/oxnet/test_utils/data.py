"""Data-set helpers of ``mx.test_utils`` (MXNet 1.9.1): ``download`` and the MNIST / CIFAR-10
getters built on it.

They keep MXNet's files and places (``get_mnist`` reads ``*-ubyte.gz`` in the working
directory, ``get_mnist_ubyte`` and ``get_cifar10`` use ``data/``), so they work offline
whenever those files are already there: ``download`` skips a file that exists. Fetching
needs network access (``urllib``, so ``requests`` is not required); where there is none,
``download`` raises an ``OSError`` that says which file to put where. No data is ever made
up in place of a download.
"""
import bz2
import gzip
import logging
import os
import shutil
import struct
import urllib.request
import zipfile

import numpy as np

from .. import io as _io

_MNIST_URL = "http://data.mxnet.io/data/mnist/"


def download(url, fname=None, dirname=None, overwrite=False, retries=5):
    """Downloads ``url`` to ``fname`` (default: the URL's last part, under ``dirname`` if
    given) and returns the file name. An existing file is kept unless ``overwrite``.
    ``file://`` URLs are copied, so local mirrors work offline."""
    assert retries >= 0, "Number of retries should be at least 0"
    if fname is None:
        fname = url.split("/")[-1]
    if dirname is None:
        dirname = os.path.dirname(fname)
    else:
        fname = os.path.join(dirname, fname)
    if dirname:
        os.makedirs(dirname, exist_ok=True)
    if not overwrite and os.path.exists(fname):
        logging.info("%s exists, skipping download", fname)
        return fname
    attempts = retries + 1
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                status = getattr(response, "status", None)
                if status not in (None, 200):
                    raise OSError("HTTP status %s" % status)
                tmp = fname + ".part"
                with open(tmp, "wb") as out:
                    shutil.copyfileobj(response, out, 1 << 20)
            os.replace(tmp, fname)
            break
        except (OSError, ValueError) as err:
            if attempt + 1 < attempts:
                print("download failed, retrying, {} attempt{} left"
                      .format(attempts - attempt - 1, "s" if attempts - attempt - 1 > 1 else ""))
                continue
            raise OSError(
                "download: cannot fetch %s to %s (%s: %s). Fetching needs network access; "
                "without it, place the file at %s yourself (download keeps existing files)."
                % (url, fname, type(err).__name__, err, os.path.abspath(fname))) from err
    logging.info("downloaded %s into %s successfully", url, fname)
    return fname


def _read_idx_gz(label_path, image_path):
    with gzip.open(label_path) as flbl:
        struct.unpack(">II", flbl.read(8))
        label = np.frombuffer(flbl.read(), dtype=np.int8)
    with gzip.open(image_path, "rb") as fimg:
        _, _, rows, cols = struct.unpack(">IIII", fimg.read(16))
        image = np.frombuffer(fimg.read(), dtype=np.uint8).reshape(len(label), rows, cols)
    return label, image.reshape(image.shape[0], 1, rows, cols).astype(np.float32) / 255


def get_mnist():
    """MNIST as ``{'train_data', 'train_label', 'test_data', 'test_label'}``: images
    (N, 1, 28, 28) float32 in [0, 1], labels int8; from the four ``*-ubyte.gz`` files in the
    working directory, downloaded first when missing."""
    train_lbl, train_img = _read_idx_gz(download(_MNIST_URL + "train-labels-idx1-ubyte.gz"),
                                        download(_MNIST_URL + "train-images-idx3-ubyte.gz"))
    test_lbl, test_img = _read_idx_gz(download(_MNIST_URL + "t10k-labels-idx1-ubyte.gz"),
                                      download(_MNIST_URL + "t10k-images-idx3-ubyte.gz"))
    return {"train_data": train_img, "train_label": train_lbl,
            "test_data": test_img, "test_label": test_lbl}


def get_mnist_pkl():
    """Ensures ``data/mnist.pkl.gz`` exists, downloading it when missing."""
    os.makedirs("data", exist_ok=True)
    if not os.path.exists("data/mnist.pkl.gz"):
        download("http://deeplearning.net/data/mnist/mnist.pkl.gz", dirname="data")


_MNIST_UBYTE = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def get_mnist_ubyte():
    """Ensures the four MNIST ``*-ubyte`` files are in ``data/``, extracting
    ``data/mnist.zip`` (downloaded when missing) otherwise."""
    os.makedirs("data", exist_ok=True)
    if not all(os.path.exists(os.path.join("data", f)) for f in _MNIST_UBYTE):
        zip_file_path = download("http://data.mxnet.io/mxnet/data/mnist.zip", dirname="data")
        with zipfile.ZipFile(zip_file_path) as zf:
            zf.extractall("data")


def get_cifar10():
    """Ensures ``data/cifar/{train,test}.{rec,lst}`` exist, extracting ``data/cifar10.zip``
    (downloaded when missing) otherwise."""
    os.makedirs("data", exist_ok=True)
    wanted = ("train.rec", "test.rec", "train.lst", "test.lst")
    if not all(os.path.exists(os.path.join("data", "cifar", f)) for f in wanted):
        zip_file_path = download("http://data.mxnet.io/mxnet/data/cifar10.zip", dirname="data")
        with zipfile.ZipFile(zip_file_path) as zf:
            zf.extractall("data")


def get_mnist_iterator(batch_size, input_shape, num_parts=1, part_index=0):
    """``(train, val)`` ``MNISTIter``s over ``data/``; images are flat unless
    ``input_shape`` has three dimensions."""
    get_mnist_ubyte()
    flat = len(input_shape) != 3
    train = _io.MNISTIter(image="data/train-images-idx3-ubyte",
                          label="data/train-labels-idx1-ubyte", batch_size=batch_size,
                          shuffle=True, flat=flat, num_parts=num_parts, part_index=part_index)
    val = _io.MNISTIter(image="data/t10k-images-idx3-ubyte",
                        label="data/t10k-labels-idx1-ubyte", batch_size=batch_size,
                        flat=flat, num_parts=num_parts, part_index=part_index)
    return train, val


def get_zip_data(data_dir, url, data_origin_name):
    """Downloads ``url`` as ``data_dir/data_origin_name`` and extracts it there, unless that
    file already exists."""
    data_origin_name = os.path.join(data_dir, data_origin_name)
    if not os.path.exists(data_origin_name):
        download(url, dirname=data_dir, overwrite=False)
        with zipfile.ZipFile(data_origin_name) as zip_file:
            zip_file.extractall(path=data_dir)


def get_bz2_data(data_dir, data_name, url, data_origin_name):
    """Downloads ``url`` as ``data_dir/data_origin_name``, decompresses it to
    ``data_dir/data_name`` and removes the archive, unless ``data_name`` already exists."""
    data_name = os.path.join(data_dir, data_name)
    data_origin_name = os.path.join(data_dir, data_origin_name)
    if not os.path.exists(data_name):
        download(url, fname=data_origin_name, dirname=data_dir, overwrite=False)
        with bz2.BZ2File(data_origin_name, "rb") as bz_file, open(data_name, "wb") as fout:
            shutil.copyfileobj(bz_file, fout, 1 << 20)
        os.remove(data_origin_name)


_MODEL_URL = "http://data.mxnet.io/models/"
# name -> (directory under _MODEL_URL, file stem, params epoch) of MXNet's model zoo.
_MODELS = {
    "imagenet1k-inception-bn": ("imagenet/inception-bn/", "Inception-BN", 126),
    "imagenet1k-resnet-18": ("imagenet/resnet/18-layers/", "resnet-18", 0),
    "imagenet1k-resnet-34": ("imagenet/resnet/34-layers/", "resnet-34", 0),
    "imagenet1k-resnet-50": ("imagenet/resnet/50-layers/", "resnet-50", 0),
    "imagenet1k-resnet-101": ("imagenet/resnet/101-layers/", "resnet-101", 0),
    "imagenet1k-resnet-152": ("imagenet/resnet/152-layers/", "resnet-152", 0),
    "imagenet1k-resnext-50": ("imagenet/resnext/50-layers/", "resnext-50", 0),
    "imagenet1k-resnext-101": ("imagenet/resnext/101-layers/", "resnext-101", 0),
    "imagenet1k-resnext-101-64x4d": ("imagenet/resnext/101-layers/", "resnext-101-64x4d", 0),
    "imagenet11k-resnet-152": ("imagenet-11k/resnet-152/", "resnet-152", 0),
    "imagenet11k-place365ch-resnet-152": ("imagenet-11k-place365-ch/", "resnet-152", 0),
    "imagenet11k-place365ch-resnet-50": ("imagenet-11k-place365-ch/", "resnet-50", 0),
}


def download_model(model_name, dst_dir="./", meta_info=None):
    """Fetches ``model_name``'s ``-symbol.json`` and ``-0000.params`` into ``dst_dir`` and
    returns ``(dst_dir/model_name, 0)``, or ``(None, 0)`` for an unknown name.
    ``meta_info``: ``{name: {'symbol': url, 'params': url}}`` instead of MXNet's model zoo."""
    if meta_info is None:
        meta_info = {name: {"symbol": "%s%s%s-symbol.json" % (_MODEL_URL, path, stem),
                            "params": "%s%s%s-%04d.params" % (_MODEL_URL, path, stem, epoch)}
                     for name, (path, stem, epoch) in _MODELS.items()}
    meta_info = dict(meta_info)
    if model_name not in meta_info:
        return None, 0
    os.makedirs(dst_dir, exist_ok=True)
    meta = dict(meta_info[model_name])
    assert "symbol" in meta, "missing symbol url"
    assert "params" in meta, "missing parameter file url"
    model_name = os.path.join(dst_dir, model_name)
    download(meta["symbol"], model_name + "-symbol.json")
    download(meta["params"], model_name + "-0000.params")
    return model_name, 0


def get_im2rec_path(home_env="MXNET_HOME"):
    """Path of the im2rec.py tool: under ``$home_env`` (``tools/`` or ``../../tools/``) when
    that variable is set, else the one in this package (``oxnet/tools/im2rec.py``)."""
    if home_env in os.environ:
        root = os.environ[home_env]
    else:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for candidate in (os.path.join(root, "tools", "im2rec.py"),
                      os.path.join(root, "..", "..", "tools", "im2rec.py")):
        if os.path.isfile(candidate):
            return candidate
    raise IOError("Could not find path to tools/im2rec.py under %s" % root)
