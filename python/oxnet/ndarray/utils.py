"""`mx.nd.save` / `mx.nd.load` in MXNet's binary format, on local paths or fsspec URLs."""
import os

from .. import _native
from .ndarray import NDArray

__all__ = ["save", "load", "load_frombuffer"]

_STYPE_CODES = {"default": 0, "row_sparse": 1, "csr": 2}


def _loaded(res):
    """The list, or the dict when names were saved; sparse records as CSRNDArray /
    RowSparseNDArray."""
    arrays, codes, names = res
    if any(codes):
        from .sparse import _load_wrap
        arrays = _load_wrap(arrays, codes)
    return list(arrays) if names is None else dict(zip(names, arrays))


def _is_url(fname):
    return "://" in fname and not fname.startswith("file://")


def _path(fname):
    """`fname` as a str: an fsspec URL as given, a local path without its `file://`."""
    if isinstance(fname, os.PathLike):
        fname = os.fspath(fname)
    if not isinstance(fname, str):
        raise TypeError("fname required to be a string")
    return fname[len("file://"):] if fname.startswith("file://") else fname


def _fsspec():
    try:
        import fsspec
    except ImportError as e:
        raise ImportError("oxnet needs the 'fsspec' package to read or write URLs "
                          "(pip install fsspec, plus the backend of the protocol, "
                          "e.g. s3fs for s3://)") from e
    return fsspec


def _open(fname, mode):
    fs = _fsspec()
    try:
        return fs.open(fname, mode)
    except (ImportError, ValueError) as e:
        proto = fname.split("://", 1)[0]
        raise ImportError("cannot open %s: the fsspec backend for protocol '%s' is not "
                          "installed or failed to load (%s)" % (fname, proto, e)) from e


def _split(data):
    if isinstance(data, NDArray):
        return [data], None
    if isinstance(data, dict):
        names, arrays = [], []
        for k, v in data.items():
            if not isinstance(k, str) or not isinstance(v, NDArray):
                raise TypeError("save only accept dict str->NDArray or list of NDArray")
            names.append(k)
            arrays.append(v)
        return arrays, names
    if isinstance(data, list):
        if any(not isinstance(v, NDArray) for v in data):
            raise TypeError("save only accept dict str->NDArray or list of NDArray")
        return data, None
    raise ValueError("data needs to either be a NDArray, dict of str, NDArray pairs or a list of NDarrays.")


def save(fname, data):
    """Saves a list or str->NDArray dict (or one NDArray) to `fname` in MXNet's format.

    `fname` may be a local path or an fsspec URL (`s3://bucket/key`, `memory://x`...).
    Local files are written to a temporary name and renamed, so a crash never leaves a
    half-written file in place of a good one.
    """
    arrays, names = _split(data)
    fname = _path(fname)
    stypes = [a.stype for a in arrays]
    # Sparse arrays are written as MXNet's sparse records; None keeps the all-dense fast path.
    codes = [_STYPE_CODES[s] for s in stypes] if any(s != "default" for s in stypes) else None
    if _is_url(fname):
        buf = _native.save_bytes(arrays, names, codes)
        with _open(fname, "wb") as f:
            f.write(buf)
        return
    _native.save_file(fname, arrays, names, codes)


def write_bytes(fname, data):
    """Writes `data` to `fname` (a local path, written atomically as `save` writes, or an
    fsspec URL): the symbol and optimizer-states files of a checkpoint."""
    fname = _path(fname)
    if _is_url(fname):
        with _open(fname, "wb") as f:
            f.write(data)
        return
    _native.write_file(fname, bytes(data))


def load(fname):
    """Loads what `save` wrote (or MXNet wrote): a list, or a dict when names were saved."""
    fname = _path(fname)
    if _is_url(fname):
        with _open(fname, "rb") as f:
            return _loaded(_native.load_bytes(f.read()))
    return _loaded(_native.load_file(fname))


def load_frombuffer(buf):
    """Loads arrays from bytes in MXNet's format."""
    if not isinstance(buf, (bytes, bytearray, memoryview)):
        raise TypeError("buf required to be a bytes-like object")
    return _loaded(_native.load_bytes(bytes(buf)))
