# SPDX-License-Identifier: GPL-3.0-or-later
"""Whether a file at its final name is whole: cheap checks of each format's own end
record, reading a few bytes at its ends, never the whole file.

Every file is flushed to disk before it is renamed into place (``atomic.py``), so a
file cut short or left empty comes from something else: a disk that lied, a copy that
stopped, a hand. A frame whose files are not all whole is not complete: it is not listed,
and the next run exports it again.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

from .exr_scanline import TruncatedExrError, UnsupportedExrError, read_header

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_EXR_MAGIC = 20000630
# Scanlines per block of each EXR compression (OpenEXR's file format).
_EXR_LINES = {0: 1, 1: 1, 2: 1, 3: 16, 4: 32, 5: 16, 6: 32, 7: 32, 8: 32, 9: 256}
_EXR_SINGLE_PART_SCANLINE = 0x200 | 0x800 | 0x1000  # tiled, deep, multi-part bits: none set


def problem(path: Path) -> str | None:
    """Why the file at ``path`` is not whole ("missing", "empty", "cut short", ...), or
    None when it is."""
    try:
        size = os.path.getsize(path)
        if size == 0:
            return "empty"
        with open(path, "rb") as stream:
            return _CHECKS.get(path.suffix, lambda _s, _n: None)(stream, size)
    except FileNotFoundError:
        return "missing"
    except (OSError, ValueError, struct.error) as error:
        return f"unreadable ({error})"


def is_whole(path: Path) -> bool:
    return problem(path) is None


def _tail(stream, size: int, count: int) -> bytes:
    stream.seek(max(0, size - count))
    return stream.read(count)


def _png(stream, size: int) -> str | None:
    if stream.read(8) != _PNG_SIGNATURE:
        return "not a PNG"
    return None if _tail(stream, size, 12) == _PNG_END else "cut short (no IEND)"


def _zip(stream, size: int) -> str | None:
    """The end-of-central-directory record, and a central directory that ends where it starts."""
    if stream.read(4) != b"PK\x03\x04":
        return "not a ZIP"
    tail = _tail(stream, size, 22 + 0xFFFF)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return "cut short (no end of central directory)"
    end = size - len(tail) + at  # where the record starts in the file
    cd_size, cd_offset = struct.unpack_from("<II", tail, at + 12)
    if 0xFFFFFFFF in (cd_size, cd_offset):  # ZIP64: the locator sits just before
        locator = tail[at - 20 : at] if at >= 20 else b""
        if locator[:4] != b"PK\x06\x07":
            return "cut short (no ZIP64 locator)"
        (end,) = struct.unpack_from("<Q", locator, 8)
        stream.seek(end)
        record = stream.read(56)
        if record[:4] != b"PK\x06\x06":
            return "cut short (no ZIP64 end record)"
        cd_size, cd_offset = struct.unpack_from("<QQ", record, 40)
    return None if cd_offset + cd_size == end else "cut short (the central directory does not add up)"


def _exr(stream, size: int) -> str | None:
    """A single-part scanline EXR: its last block ends at the file's end."""
    head = stream.read(8)
    if len(head) < 8 or struct.unpack("<i", head[:4])[0] != _EXR_MAGIC:
        return "not an EXR"
    if struct.unpack("<i", head[4:])[0] & _EXR_SINGLE_PART_SCANLINE:
        return None  # tiled, deep or multi-part: no cheap check (we write none)
    stream.seek(0)
    try:
        attributes, at = read_header(stream)
    except (TruncatedExrError, UnsupportedExrError) as error:
        return f"cut short ({error})"
    _, y_min, _, y_max = struct.unpack("<iiii", attributes["dataWindow"][1])
    lines = _EXR_LINES.get(attributes.get("compression", ("", b"\x00"))[1][0], 1)
    blocks = -(-(y_max - y_min + 1) // lines)
    stream.seek(at)
    table = stream.read(8 * blocks)
    if len(table) < 8 * blocks:
        return "cut short (in its offset table)"
    last = max(struct.unpack(f"<{blocks}Q", table))
    stream.seek(last)
    block = stream.read(8)
    if len(block) < 8:
        return "cut short (before its last block)"
    return None if last + 8 + struct.unpack("<ii", block)[1] == size else "cut short (in its last block)"


def _flo(stream, size: int) -> str | None:
    head = stream.read(12)
    if len(head) < 12 or head[:4] != b"PIEH":
        return "not a .flo file"
    width, height = struct.unpack("<ii", head[4:])
    return None if size == 12 + 8 * width * height else "cut short"


def _json(stream, _size: int) -> str | None:
    try:
        json.loads(stream.read())
    except ValueError:
        return "cut short (not JSON)"
    return None


_CHECKS = {".png": _png, ".npz": _zip, ".exr": _exr, ".flo": _flo, ".json": _json}
