# SPDX-License-Identifier: GPL-3.0-or-later
"""Scanline EXR files with numpy and zlib alone: read uncompressed ones, write ZIP ones.

The compositor's scratch file is written uncompressed, so reading it needs no OpenEXR
library: that is faster, and it keeps OpenEXR out of Blender builds that link a system
OpenEXR of their own (Debian's), where a second copy in the process crashes Blender.
The exported EXR is written here too, for the same reason and to write it 16 rows at a
time (OpenEXR's Python API wants every channel whole, as a separate array).
Layout (OpenEXR's file format): magic, version, attributes ``name\\0type\\0size value``
ending with a null byte, one uint64 offset per scanline block, then per block its first
y, its byte count, and per scanline each channel's row in the order of the channel list.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

_MAGIC = 20000630
_PIXEL_TYPES = {0: np.dtype("<u4"), 1: np.dtype("<f2"), 2: np.dtype("<f4")}
_TILED, _LONG_NAMES, _DEEP, _MULTIPART = 0x200, 0x400, 0x800, 0x1000


class UnsupportedExrError(ValueError):
    """Not an uncompressed single-part scanline EXR (read it with OpenEXR instead)."""


class TruncatedExrError(ValueError):
    """The file ends before its header says it does (a write that ran out of room)."""


def _cstring(data: bytes, at: int) -> tuple[str, int]:
    end = data.index(b"\0", at)
    return data[at:end].decode("latin-1"), end + 1


def _channels(value: bytes) -> list[tuple[str, np.dtype]]:
    channels, at = [], 0
    while value[at] != 0:
        name, at = _cstring(value, at)
        pixel_type, _linear, x_sampling, y_sampling = struct.unpack_from("<iB3xii", value, at)
        at += 16
        if (x_sampling, y_sampling) != (1, 1) or pixel_type not in _PIXEL_TYPES:
            raise UnsupportedExrError(f"channel {name!r} is subsampled or of unknown type")
        channels.append((name, _PIXEL_TYPES[pixel_type]))
    return channels


def read_header(stream: BinaryIO) -> tuple[dict[str, tuple[str, bytes]], int]:
    """The attributes and the offset just past them, reading as much as they need."""
    data = stream.read(1 << 16)
    if len(data) < 8:
        raise TruncatedExrError(f"{len(data)} bytes, too short for an EXR")
    magic, version = struct.unpack_from("<ii", data, 0)
    if magic != _MAGIC:
        raise UnsupportedExrError("not an EXR file")
    if version & (_TILED | _DEEP | _MULTIPART):
        raise UnsupportedExrError("tiled, deep or multi-part")
    while True:
        try:
            attributes, at = {}, 8
            while data[at] != 0:
                name, at = _cstring(data, at)
                kind, at = _cstring(data, at)
                (size,) = struct.unpack_from("<i", data, at)
                if at + 4 + size > len(data):
                    raise IndexError(at + 4 + size)
                attributes[name] = (kind, data[at + 4 : at + 4 + size])
                at += 4 + size
            return attributes, at + 1
        except (IndexError, ValueError, struct.error):  # the header goes on past what was read
            more = stream.read(len(data))
            if not more:
                raise TruncatedExrError("the header is cut short") from None
            data += more


def read_uncompressed(
    path: str | Path,
    band_bytes: int = 4 << 20,
    into: Callable[[list[tuple[str, np.dtype]], int, int], dict[str, np.ndarray]] | None = None,
) -> dict[str, np.ndarray]:
    """Every channel as a native-endian (H, W) array (float32, float16 or uint32), row 0
    at the top. Raises :class:`UnsupportedExrError` for other kinds of EXR and
    :class:`TruncatedExrError` for a file cut short.

    Scanlines are read ``band_bytes`` at a time and their rows put straight into the
    channels' arrays, so the peak memory is the image plus one band (an 8K frame's
    passes are gigabytes). ``into(channels, height, width)``, given the file's channels
    (name, pixel type), may say where each one goes: an (H, W) array to fill, which may
    be a view into a larger one (a layer's component) and of another float type; a
    channel it leaves out is not read.
    """
    with open(path, "rb") as stream:
        attributes, at = read_header(stream)
        if attributes.get("compression", ("", b"\x01"))[1][0] != 0:
            raise UnsupportedExrError("compressed")
        channels = _channels(attributes["channels"][1])
        x_min, y_min, x_max, y_max = struct.unpack("<iiii", attributes["dataWindow"][1])
        width, height = x_max - x_min + 1, y_max - y_min + 1
        stream.seek(at)
        offsets = np.frombuffer(_read_exactly(stream, 8 * height), "<u8").astype(np.int64)
        chunk = 8 + sum(width * dtype.itemsize for _, dtype in channels)
        if into is None:
            out = {name: np.empty((height, width), dtype.newbyteorder("=")) for name, dtype in channels}
        else:
            out = into(channels, height, width)
        contiguous = np.all(np.diff(offsets) == chunk)  # the usual layout: one block after the other
        rows_per_band = max(1, band_bytes // chunk) if contiguous else 1
        band = np.empty((min(rows_per_band, height), chunk), np.uint8)
        for first in range(0, height, rows_per_band):
            count = min(rows_per_band, height - first)
            blocks = band[:count]
            if contiguous:
                stream.seek(offsets[0] + first * chunk)
                if stream.readinto(memoryview(blocks).cast("B")) != blocks.nbytes:
                    raise TruncatedExrError(_short(stream, offsets[0] + height * chunk))
            else:
                stream.seek(offsets[first])
                blocks[0] = np.frombuffer(_read_exactly(stream, chunk), np.uint8)
            rows = np.ascontiguousarray(blocks[:, :4]).view("<i4")[:, 0] - y_min
            if rows.min() < 0 or rows.max() >= height:
                raise UnsupportedExrError("a scanline outside the data window")
            if (np.diff(rows) == 1).all():  # in order, as Blender writes them: a slice
                rows = slice(int(rows[0]), int(rows[0]) + count)
            start = 8
            for name, dtype in channels:
                span = width * dtype.itemsize
                if name in out:
                    out[name][rows] = blocks[:, start : start + span].view(dtype)
                start += span
    return out


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    at = stream.tell()
    data = stream.read(size)
    if len(data) != size:
        raise TruncatedExrError(_short(stream, at + size))
    return data


def _short(stream: BinaryIO, wanted: int) -> str:
    return f"{stream.seek(0, 2)} of at least {wanted} bytes"


# --- writing: ZIP-compressed scanline files -------------------------------------------

_ZIP, _ZIP_LINES = 3, 16  # OpenEXR's ZIP_COMPRESSION packs 16 scanlines per block
_TYPE_CODES = {np.dtype("<u4"): 0, np.dtype("<f2"): 1, np.dtype("<f4"): 2}


def _attribute(name: str, kind: str, value: bytes) -> bytes:
    return name.encode() + b"\0" + kind.encode() + b"\0" + struct.pack("<i", len(value)) + value


def _header_value(value) -> tuple[str, bytes]:
    """An extra header attribute's EXR type and bytes: ``int``, ``string``, or a float64
    3×3 / 4×4 matrix (``m33d`` / ``m44d``)."""
    if isinstance(value, str):
        return "string", value.encode()
    if isinstance(value, (int, np.integer)):
        return "int", struct.pack("<i", int(value))
    matrix = np.asarray(value, dtype="<f8")
    if matrix.shape in ((3, 3), (4, 4)):
        return f"m{matrix.shape[0]}{matrix.shape[0]}d", matrix.tobytes()
    raise TypeError(f"no EXR attribute type for {value!r}")


def _zip_block(raw: np.ndarray, level: int) -> bytes:
    """OpenEXR's ZIP coding of one block: bytes split into even and odd halves, each
    byte replaced by its difference to the previous one (+128), then zlib. A block that
    would not shrink is stored as it is, which readers tell by its size."""
    split = np.concatenate([raw[0::2], raw[1::2]])
    split[1:] = np.diff(split) + np.uint8(128)  # uint8 arithmetic wraps, as the format wants
    packed = zlib.compress(split, level)
    return packed if len(packed) < raw.size else raw.tobytes()


def write_zip(stream: BinaryIO, channels: dict[str, np.ndarray], extra: dict[str, object], level: int = 4) -> None:
    """Write (H, W) channel images (float32, float16 or uint32; views are fine) as one
    ZIP-compressed scanline EXR, row 0 at the top, with ``extra`` header attributes.
    Works 16 rows at a time, so memory stays small whatever the image's size. ``stream``
    must be seekable (the block offsets are written last)."""
    names = sorted(channels)  # the file stores channels in name order
    height, width = channels[names[0]].shape
    dtypes = [np.dtype(channels[name].dtype).newbyteorder("<") for name in names]
    if any(dtype not in _TYPE_CODES for dtype in dtypes) or any(channels[n].shape != (height, width) for n in names):
        raise TypeError("EXR channels must be (H, W) float32, float16 or uint32 images of one size")
    chlist = b"".join(
        n.encode() + b"\0" + struct.pack("<iB3xii", _TYPE_CODES[d], 0, 1, 1) for n, d in zip(names, dtypes, strict=True)
    )
    window = struct.pack("<iiii", 0, 0, width - 1, height - 1)
    attributes = [
        _attribute("channels", "chlist", chlist + b"\0"),
        _attribute("compression", "compression", bytes([_ZIP])),
        _attribute("dataWindow", "box2i", window),
        _attribute("displayWindow", "box2i", window),
        _attribute("lineOrder", "lineOrder", b"\0"),
        _attribute("pixelAspectRatio", "float", struct.pack("<f", 1.0)),
        _attribute("screenWindowCenter", "v2f", struct.pack("<ff", 0.0, 0.0)),
        _attribute("screenWindowWidth", "float", struct.pack("<f", 1.0)),
        *(_attribute(name, *_header_value(value)) for name, value in extra.items()),
    ]
    long_names = any(len(name) > 31 for name in [*names, *extra])
    stream.write(struct.pack("<ii", _MAGIC, 2 | (_LONG_NAMES if long_names else 0)) + b"".join(attributes) + b"\0")
    blocks = -(-height // _ZIP_LINES)
    table = stream.tell()
    stream.write(bytes(8 * blocks))
    offsets = []
    row_bytes = [width * dtype.itemsize for dtype in dtypes]
    for first in range(0, height, _ZIP_LINES):
        rows = min(_ZIP_LINES, height - first)
        raw = np.empty((rows, sum(row_bytes)), np.uint8)
        start = 0
        for name, dtype, size in zip(names, dtypes, row_bytes, strict=True):
            raw[:, start : start + size] = np.ascontiguousarray(channels[name][first : first + rows], dtype).view(
                np.uint8
            )
            start += size
        data = _zip_block(raw.reshape(-1), level)
        offsets.append(stream.tell())
        stream.write(struct.pack("<ii", first, len(data)) + data)
    end = stream.tell()
    stream.seek(table)
    stream.write(np.asarray(offsets, "<u8").tobytes())
    stream.seek(end)
