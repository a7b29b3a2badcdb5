"""mx.recordio: MXNet's RecordIO container (dmlc-core format) and the image record header.

File layout (byte-compatible with MXNet 1.9.1 / dmlc-core on little-endian machines): each
record is a little-endian u32 magic 0xCED7230A, a u32 `lrec = cflag << 29 | length`, the payload
and zero padding to 4 bytes. A payload that contains the magic word at a 4-byte-aligned offset is
split there into parts flagged 1 (first), 2 (middle), 3 (last); the magic itself is dropped and
re-inserted by the reader, so a scan for the magic word always finds a record start.

Image helpers use Pillow instead of OpenCV but keep OpenCV's convention that numpy images are
in **BGR** channel order (`pack_img` takes BGR, `unpack_img` returns BGR), as MXNet's do.
"""
import io as _io
import numbers
import os
import struct
from collections import namedtuple

import numpy as np

from .base import MXNetError

__all__ = ["MXRecordIO", "MXIndexedRecordIO", "IRHeader", "pack", "unpack", "pack_img",
           "unpack_img", "RecordIOError"]

_MAGIC = 0xCED7230A
_MAGIC_BYTES = struct.pack("<I", _MAGIC)
_LEN_MASK = (1 << 29) - 1


class _WrongMode(MXNetError, AssertionError):
    """A read of a writer or a write to a reader: MXNet asserts, so code catching
    AssertionError or MXNetError both see it."""


class RecordIOError(MXNetError):
    """A malformed or truncated RecordIO file (subclass of MXNetError)."""


def _encode_part(cflag, payload):
    return _MAGIC_BYTES + struct.pack("<I", (cflag << 29) | len(payload)) + payload


def _encode_record(buf):
    """Container bytes for one record, split at aligned magic words exactly as dmlc-core does."""
    n = len(buf)
    if n >= (1 << 29):
        raise ValueError("RecordIO only accepts records smaller than 2^29 bytes, got %d" % n)
    parts = []
    start = 0
    pos = buf.find(_MAGIC_BYTES)
    while pos != -1 and pos + 4 <= (n & ~3):
        if pos % 4 == 0:
            parts.append(_encode_part(1 if start == 0 else 2, buf[start:pos]))
            start = pos + 4
            pos = buf.find(_MAGIC_BYTES, start)
        else:
            pos = buf.find(_MAGIC_BYTES, pos + 1)
    parts.append(_encode_part(3 if start else 0, buf[start:]))
    parts.append(b"\0" * (-n % 4))
    return b"".join(parts)


def _open_file(uri, mode):
    if "://" in uri and not uri.startswith("file://"):
        import fsspec  # optional: remote URLs only

        return fsspec.open(uri, mode).open()
    if uri.startswith("file://"):
        uri = uri[len("file://"):]
    try:
        return open(uri, mode)
    except OSError as e:
        raise MXNetError('Check failed: allow_null: :Open "%s": %s' % (uri, e.strerror)) from e


class MXRecordIO:
    """Sequential RecordIO reader/writer (`mxnet.recordio.MXRecordIO`).

    flag: 'r' to read, 'w' to write. Instances pickle by path and reopen on unpickling (a
    reader restarts at the beginning), so they can be handed to worker processes.
    """

    def __init__(self, uri, flag):
        self.uri = str(uri)
        self.flag = flag
        self.handle = None
        self.pid = None
        self.is_open = False
        self.writable = None
        self.open()

    def open(self):
        if self.flag == "w":
            self.writable = True
        elif self.flag == "r":
            self.writable = False
        else:
            raise ValueError("Invalid flag %s" % self.flag)
        self.handle = _open_file(self.uri, "wb" if self.writable else "rb")
        self.pid = os.getpid()
        self.is_open = True

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: nothing left to flush into
            pass

    def __getstate__(self):
        is_open = self.is_open
        pos = self.handle.tell() if is_open and not self.writable else None
        self.close()
        state = dict(self.__dict__)
        state["is_open"] = is_open
        state["handle"] = None
        # MXNet closes the pickled object; a reader is reopened at its position here instead
        # (a writer stays closed: reopening it would truncate what was written).
        if pos is not None:
            self.open()
            self.handle.seek(pos)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        is_open = state["is_open"]
        self.is_open = False
        self.handle = None
        if is_open:
            self.open()

    def _check_pid(self, allow_reset=False):
        # A file offset shared with a forked parent would interleave reads; MXNet forbids it.
        if self.pid != os.getpid():
            if allow_reset:
                self.reset()
            else:
                raise RuntimeError("Forbidden operation in multiple processes")

    def close(self):
        if not self.is_open:
            return
        self.handle.close()
        self.handle = None
        self.is_open = False
        self.pid = None

    def reset(self):
        """Reopen: a reader goes back to the start, a writer truncates the file."""
        self.close()
        self.open()

    def _require(self, writable):
        """Refuses a closed file, or a read of a writer / a write to a reader."""
        if not self.is_open:
            raise MXNetError("RecordIO file %s is closed" % self.uri)
        if self.writable != writable:
            raise _WrongMode("RecordIO file %s was opened with flag '%s': it cannot be %s"
                             % (self.uri, self.flag, "written" if writable else "read"))

    def write(self, buf):
        """Append one record (bytes)."""
        self._require(True)
        self._check_pid(allow_reset=False)
        self.handle.write(_encode_record(bytes(buf)))

    def read(self):
        """Next record as bytes, or None at the end of the file."""
        self._require(False)
        self._check_pid(allow_reset=True)
        return _read_record(self.handle, self.uri)

    def tell(self):
        """Byte offset of the next record."""
        if not self.is_open:
            raise MXNetError("RecordIO file %s is closed" % self.uri)
        return self.handle.tell()


def _read_record(f, uri):
    """One logical record from file object f at its position; None at a clean end of file."""
    chunks = []
    first = True
    while True:
        offset = f.tell()
        head = f.read(8)
        if not head and first:
            return None
        if len(head) < 8:
            raise RecordIOError("Invalid RecordIO file %s: truncated record header at byte offset %d"
                                % (uri, offset))
        magic, lrec = struct.unpack("<II", head)
        if magic != _MAGIC:
            raise RecordIOError("Invalid RecordIO file %s: bad magic 0x%08X at byte offset %d"
                                % (uri, magic, offset))
        cflag, length = lrec >> 29, lrec & _LEN_MASK
        # Parts must run 0 alone, or 1, 2..., 3: anything else means a damaged or misaligned file.
        if (first and cflag not in (0, 1)) or (not first and cflag not in (2, 3)):
            raise RecordIOError("Invalid RecordIO file %s: unexpected continuation flag %d at byte "
                                "offset %d" % (uri, cflag, offset))
        padded = (length + 3) & ~3
        body = f.read(padded)
        if len(body) < padded:
            raise RecordIOError("Invalid RecordIO file %s: record of %d bytes at byte offset %d runs "
                                "past the end of the file" % (uri, length, offset))
        chunks.append(body[:length])
        if cflag in (0, 3):
            return _MAGIC_BYTES.join(chunks)
        first = False


def _scan_offsets(f, uri):
    """Byte offsets of every record in file object f, checking the framing without reading
    payloads (seeks past them), so large files are indexed quickly."""
    size = f.seek(0, os.SEEK_END)
    f.seek(0)
    offsets = []
    pos = 0
    first = True
    while pos < size or not first:
        if pos + 8 > size:
            raise RecordIOError("Invalid RecordIO file %s: truncated record header at byte offset %d"
                                % (uri, pos))
        f.seek(pos)
        magic, lrec = struct.unpack("<II", f.read(8))
        if magic != _MAGIC:
            raise RecordIOError("Invalid RecordIO file %s: bad magic 0x%08X at byte offset %d"
                                % (uri, magic, pos))
        cflag, length = lrec >> 29, lrec & _LEN_MASK
        if (first and cflag not in (0, 1)) or (not first and cflag not in (2, 3)):
            raise RecordIOError("Invalid RecordIO file %s: unexpected continuation flag %d at byte "
                                "offset %d" % (uri, cflag, pos))
        if first:
            offsets.append(pos)
        end = pos + 8 + ((length + 3) & ~3)
        if end > size:
            raise RecordIOError("Invalid RecordIO file %s: record of %d bytes at byte offset %d runs "
                                "past the end of the file" % (uri, length, pos))
        pos = end
        first = cflag in (0, 3)
    return offsets


class MXIndexedRecordIO(MXRecordIO):
    """RecordIO with a text index `key\\toffset` for random access (`MXIndexedRecordIO`)."""

    def __init__(self, idx_path, uri, flag, key_type=int):
        self.idx_path = str(idx_path)
        self.idx = {}
        self.keys = []
        self.key_type = key_type
        self.fidx = None
        super().__init__(uri, flag)

    def open(self):
        super().open()
        self.idx = {}
        self.keys = []
        self.fidx = open(self.idx_path, self.flag)
        if not self.writable:
            for lineno, line in enumerate(self.fidx, 1):
                line = line.strip()
                if not line:
                    continue
                fields = line.split("\t")
                try:
                    key = self.key_type(fields[0])
                    self.idx[key] = int(fields[1])
                except (ValueError, IndexError) as e:
                    raise MXNetError("Invalid index file %s: line %d is %r (want key\\toffset)"
                                     % (self.idx_path, lineno, line)) from e
                self.keys.append(key)

    def close(self):
        if not self.is_open:
            return
        super().close()
        self.fidx.close()
        self.fidx = None

    def __getstate__(self):
        state = super().__getstate__()
        state["fidx"] = None
        return state

    def seek(self, idx):
        """Position the reader at the record with key idx."""
        self._require(False)
        self._check_pid(allow_reset=True)
        self.handle.seek(self.idx[idx])

    def tell(self):
        return super().tell()

    def read_idx(self, idx):
        """The record with key idx."""
        self.seek(idx)
        return self.read()

    def write_idx(self, idx, buf):
        """Append a record under key idx and index it."""
        key = self.key_type(idx)
        pos = self.tell()
        self.write(buf)
        self.fidx.write("%s\t%d\n" % (str(key), pos))
        self.idx[key] = pos
        self.keys.append(key)


IRHeader = namedtuple("HEADER", ["flag", "label", "id", "id2"])
IRHeader.__doc__ = """Image record header: flag (number of extra float labels, 0 for a scalar label),
label (float or array), id, id2 (u64)."""

# '<IfQQ' is MXNet's native 'IfQQ' on the little-endian machines its files come from (24 bytes).
_IR_FORMAT = "<IfQQ"
_IR_SIZE = struct.calcsize(_IR_FORMAT)


def pack(header, s):
    """Header + payload bytes as stored in an image record.

    A non-scalar label is stored as flag = its length, label field 0, and the float32 labels
    between the header and s.
    """
    header = IRHeader(*header)
    if isinstance(header.label, numbers.Number):
        header = header._replace(flag=0)
    else:
        label = np.asarray(header.label, dtype=np.float32).ravel()
        header = header._replace(flag=label.size, label=0)
        s = label.tobytes() + bytes(s)
    return struct.pack(_IR_FORMAT, *header) + bytes(s)


def unpack(s):
    """(IRHeader, payload bytes) of a record made by `pack`."""
    if len(s) < _IR_SIZE:
        raise MXNetError("Invalid image record: %d bytes, shorter than the %d-byte header"
                         % (len(s), _IR_SIZE))
    header = IRHeader(*struct.unpack(_IR_FORMAT, s[:_IR_SIZE]))
    s = s[_IR_SIZE:]
    if header.flag > 0:
        if len(s) < 4 * header.flag:
            raise MXNetError("Invalid image record: header announces %d labels, only %d bytes follow"
                             % (header.flag, len(s)))
        header = header._replace(label=np.frombuffer(s, np.float32, header.flag))
        s = s[header.flag * 4:]
    return header, s


# EXIF Orientation (2-8) -> the numpy steps that show the image upright (as Pillow's
# exif_transpose: mirror, rotate 180, flip, transpose, rotate 90 clockwise, transverse, 90 ccw).
_ORIENT = {
    2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1), 6: lambda a: np.rot90(a, -1),
    7: lambda a: a.swapaxes(0, 1)[::-1, ::-1], 8: lambda a: np.rot90(a, 1),
}


def _jpeg_without_exif(buf):
    """True for JPEG bytes whose header segments (before the scan) hold no EXIF block, so the
    common case needs no second parse of the image."""
    if buf[:2] != b"\xff\xd8":
        return False
    pos = 2
    while pos + 4 <= len(buf) and buf[pos] == 0xFF:
        marker = buf[pos + 1]
        if marker == 0xDA:  # start of scan: no metadata segments follow
            return True
        if marker == 0xE1 and buf[pos + 4:pos + 10] == b"Exif\x00\x00":
            return False
        pos += 2 + int.from_bytes(buf[pos + 2:pos + 4], "big")
    return False  # unusual layout: let Pillow look


def _exif_orientation(buf):
    """The EXIF Orientation tag of encoded image bytes (1, upright, when there is none)."""
    if _jpeg_without_exif(buf):
        return 1
    from PIL import Image
    try:
        return int(Image.open(_io.BytesIO(buf)).getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001  (no readable EXIF: as stored)
        return 1


def _decode(buf, iscolor=-1, exif=False):
    """Decode image bytes like cv2.imdecode: BGR(A) or 2-D gray uint8 numpy array. With
    ``exif`` (OpenCV's imread/imdecode from Python; MXNet's C++ imdecode does not) a color or
    gray read is turned upright by its EXIF orientation, as OpenCV does unless the read is
    IMREAD_UNCHANGED."""
    arr = _decode_stored(buf, iscolor)
    if exif and iscolor >= 0:
        turn = _ORIENT.get(_exif_orientation(buf))
        if turn is not None:
            arr = np.ascontiguousarray(turn(arr))
    return arr


def _decode_stored(buf, iscolor):
    from PIL import Image

    from .io._imgops import decode_gray, decode_jpeg

    arr = decode_jpeg(buf, "GRAY" if iscolor == 0 else "BGR" if iscolor > 0 else "KEEP")
    if arr is not None:
        return arr
    try:
        img = Image.open(_io.BytesIO(buf))
        if iscolor >= 0 and (img.mode.startswith("I;16") or img.mode == "I"):
            # OpenCV scales 16-bit images to 8 bits (>> 8) for color and gray reads;
            # Pillow's convert would clip them to 255.
            img = Image.fromarray(np.clip(np.asarray(img).astype(np.int64) >> 8, 0, 255)
                                  .astype(np.uint8), "L")
        if iscolor == 0:
            return np.ascontiguousarray(decode_gray(img))
        img.load()
    except Exception as e:
        raise MXNetError("Cannot decode image (%d bytes): %s" % (len(buf), e)) from e
    if iscolor < 0 and img.mode == "LA":
        img = img.convert("RGBA")  # OpenCV reads gray with alpha as BGRA
    elif iscolor > 0 or img.mode not in ("L", "RGB", "RGBA", "I;16", "I"):
        img = img.convert("RGB")
    arr = np.asarray(img)
    if arr.ndim == 3:
        arr = arr[:, :, [2, 1, 0, 3][:arr.shape[2]]]  # RGB(A) -> BGR(A)
    return np.ascontiguousarray(arr)


def unpack_img(s, iscolor=-1):
    """(IRHeader, image) with the image decoded to a numpy array in **BGR** order (cv2 style).

    iscolor: -1 keeps the stored channels (gray stays 2-D), 0 forces gray, 1 forces 3-channel BGR
    (these two turned upright by the image's EXIF orientation, as cv2.imdecode does).
    """
    header, s = unpack(s)
    return header, _decode(s, iscolor, exif=True)


def pack_img(header, img, quality=95, img_fmt=".jpg"):
    """Encode a **BGR** (or 2-D gray) uint8 numpy image and `pack` it with header; a 2-D
    uint16 image is stored as a 16-bit PNG (as cv2.imencode stores it).

    quality: JPEG quality (1-100) for '.jpg'; for '.png' the zlib level, clipped to 0-9.
    """
    from PIL import Image

    img = np.asarray(img)
    if img.dtype == np.uint16 and img.ndim == 2 and img_fmt.lower() == ".png":
        img = img.astype("<u2")  # Pillow's I;16 is little-endian
    elif img.dtype != np.uint8:
        raise TypeError("pack_img: img must be uint8 (or 2-D uint16 for '.png'), got %s %s"
                        % (img.dtype, img.shape))
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 3:
        if img.shape[2] not in (3, 4):
            raise ValueError("pack_img: img must have 1, 3 or 4 channels, got shape %s" % (img.shape,))
        img = img[:, :, [2, 1, 0, 3][:img.shape[2]]]  # BGR(A) -> RGB(A) for Pillow
    elif img.ndim != 2:
        raise ValueError("pack_img: img must be 2-D or 3-D, got shape %s" % (img.shape,))
    pil = Image.fromarray(np.ascontiguousarray(img))
    fmt = img_fmt.lower()
    out = _io.BytesIO()
    if fmt in (".jpg", ".jpeg"):
        if pil.mode == "RGBA":
            pil = pil.convert("RGB")
        pil.save(out, format="JPEG", quality=int(quality))
    elif fmt == ".png":
        pil.save(out, format="PNG", compress_level=max(0, min(9, int(quality))))
    else:
        raise ValueError("pack_img: img_fmt must be '.jpg' or '.png', got %r" % img_fmt)
    return pack(header, out.getvalue())
