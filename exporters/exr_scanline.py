"""Read uncompressed, single-part scanline EXR files with numpy alone.

The compositor's scratch file is written uncompressed, so reading it needs no OpenEXR
library: that is faster, and it keeps OpenEXR out of Blender builds that link a system
OpenEXR of their own (Debian's), where a second copy in the process crashes Blender.
Layout (OpenEXR's file format): magic, version, attributes ``name\\0type\\0size value``
ending with a null byte, one uint64 offset per scanline, then per scanline its y, its
byte count, and each channel's row in the order of the channel list.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

_MAGIC = 20000630
_PIXEL_TYPES = {0: np.dtype("<u4"), 1: np.dtype("<f2"), 2: np.dtype("<f4")}
_TILED, _LONG_NAMES, _DEEP, _MULTIPART = 0x200, 0x400, 0x800, 0x1000


class UnsupportedExrError(ValueError):
    """Not an uncompressed single-part scanline EXR (read it with OpenEXR instead)."""


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


def read_uncompressed(path: str | Path) -> dict[str, np.ndarray]:
    """Every channel as a native-endian (H, W) array (float32, float16 or uint32), row 0
    at the top. Raises :class:`UnsupportedExrError` for other kinds of EXR."""
    data = Path(path).read_bytes()
    if len(data) < 8:
        raise UnsupportedExrError("too short for an EXR")
    magic, version = struct.unpack_from("<ii", data, 0)
    if magic != _MAGIC:
        raise UnsupportedExrError("not an EXR file")
    if version & (_TILED | _DEEP | _MULTIPART):
        raise UnsupportedExrError("tiled, deep or multi-part")
    attributes, at = {}, 8
    while data[at] != 0:
        name, at = _cstring(data, at)
        kind, at = _cstring(data, at)
        (size,) = struct.unpack_from("<i", data, at)
        attributes[name] = (kind, data[at + 4 : at + 4 + size])
        at += 4 + size
    at += 1
    if attributes.get("compression", ("", b"\x01"))[1][0] != 0:
        raise UnsupportedExrError("compressed")
    channels = _channels(attributes["channels"][1])
    x_min, y_min, x_max, y_max = struct.unpack("<iiii", attributes["dataWindow"][1])
    width, height = x_max - x_min + 1, y_max - y_min + 1
    offsets = np.frombuffer(data, "<u8", count=height, offset=at).astype(np.int64)
    row_bytes = sum(width * dtype.itemsize for _, dtype in channels)
    buffer = np.frombuffer(data, np.uint8)
    chunk = 8 + row_bytes
    if np.all(np.diff(offsets) == chunk):  # the usual layout: one block after the other
        blocks = buffer[offsets[0] : offsets[0] + height * chunk].reshape(height, chunk)
    else:
        blocks = np.stack([buffer[o : o + chunk] for o in offsets])
    rows = np.ascontiguousarray(blocks[:, :4]).view("<i4")[:, 0] - y_min
    order = np.argsort(rows, kind="stable")
    out, start = {}, 8
    for name, dtype in channels:
        span = width * dtype.itemsize
        plane = np.ascontiguousarray(blocks[order, start : start + span]).view(dtype).reshape(height, width)
        out[name] = plane.astype(dtype.newbyteorder("="), copy=False)
        start += span
    return out
