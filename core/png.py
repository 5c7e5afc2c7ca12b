# SPDX-License-Identifier: GPL-3.0-or-later
"""A small PNG writer (8- or 16-bit grey, RGB or RGBA) on numpy arrays, without Blender, and
the reader of what it writes (the contact sheet reads the previews back)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from typing import BinaryIO

import numpy as np

from . import deflate

_COLOUR_TYPES = {1: 0, 3: 2, 4: 6}  # channels → PNG colour type
_UP = 2  # PNG filter type: each byte minus the byte above it
DATA = 6  # zlib's level for PNGs that hold values (16-bit depth, KITTI flow): smaller, kept


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", deflate.crc32(kind + data))


def write_png(
    stream: BinaryIO,
    image: np.ndarray,
    text: dict[str, str] | None = None,
    level: int = deflate.FAST,
    run: Callable = map,
) -> None:
    """Write a uint8 or uint16 (H, W) or (H, W, 1|3|4) image, row 0 at the top, at
    deflate ``level``: the fast one (``core/deflate.py``) for pictures to look at, made
    beside the render; :data:`DATA` for the images that hold a dataset's values.

    ``text`` becomes PNG ``tEXt`` entries (for example a preview's value range). Every
    row uses PNG's Up filter (the difference from the row above), which makes smooth
    pictures such as depth several times smaller than unfiltered rows at the same speed.
    The rows are deflated in bands of a few MB, each on its own (``run`` maps the bands
    to their work: ``map`` here, or an executor's on several threads) and joined into
    the one zlib stream PNG wants, as pigz joins its blocks. ``image`` may also be a
    picture made a band at a time (its ``shape``, ``dtype`` and rows by slice, as
    :class:`~.previews.ContactSheet`): each band's job then makes its rows.
    """
    if not hasattr(image, "dtype"):
        image = np.asarray(image)
    if image.dtype not in (np.uint8, np.uint16):
        raise TypeError(f"write_png wants uint8 or uint16, got {image.dtype}")
    if len(image.shape) == 2:
        image = image[..., None]
    height, width, channels = image.shape
    depth = 8 * image.dtype.itemsize
    header = struct.pack(">IIBBBBB", width, height, depth, _COLOUR_TYPES[channels], 0, 0, 0)
    row_bytes = width * channels * image.dtype.itemsize
    stream.write(b"\x89PNG\r\n\x1a\n")
    stream.write(_chunk(b"IHDR", header))
    for key, value in (text or {}).items():
        stream.write(_chunk(b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1")))
    band = max(1, (4 << 20) // (1 + row_bytes))  # rows per band: a few MB, whatever the image's size
    starts = range(0, height, band)
    bands = run(lambda y: _deflate_rows(image, y, min(y + band, height), level, y + band >= height), starts)
    checksum = 1  # Adler-32 of nothing
    stream.write(_chunk(b"IDAT", _ZLIB_HEADERS[min(level, 9)]))
    for data, adler, length in bands:
        checksum = _adler32_combine(checksum, adler, length)
        stream.write(_chunk(b"IDAT", data))
    stream.write(_chunk(b"IDAT", struct.pack(">I", checksum)))
    stream.write(_chunk(b"IEND", b""))


def _deflate_rows(image: np.ndarray, start: int, stop: int, level: int, last: bool) -> tuple[bytes, int, int]:
    """Rows ``start``–``stop`` of a PNG's picture, Up-filtered and deflated on their own
    (raw deflate, ending on a byte boundary unless ``last``): the bytes, the Adler-32 of
    the filtered rows and their length."""
    samples = image[max(0, start - 1) : stop].astype(">u2" if image.dtype == np.uint16 else np.uint8)  # big-endian
    raw = samples.view(np.uint8).reshape(len(samples), -1)
    rows = np.empty((stop - start, 1 + raw.shape[1]), dtype=np.uint8)
    rows[:, 0] = _UP
    if start == 0:  # the row above the first is taken as zeros
        rows[0, 1:] = raw[0]
        np.subtract(raw[1:], raw[:-1], out=rows[1:, 1:])  # uint8 arithmetic wraps modulo 256, as PNG wants
    else:
        np.subtract(raw[1:], raw[:-1], out=rows[:, 1:])
    compressor = deflate.compressor(level, -zlib.MAX_WBITS)
    data = compressor.compress(rows) + compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)
    return data, deflate.adler32(rows), rows.size


# A zlib stream's two header bytes per level: deflate with a 32 KB window, the level's
# class (fastest, fast, default, best) and the check bits (RFC 1950).
_ZLIB_HEADERS = [bytes([0x78, flags]) for flags in (0x01, 0x01, 0x5E, 0x5E, 0x5E, 0x5E, 0x9C, 0xDA, 0xDA, 0xDA)]
_ADLER = 65521


def _adler32_combine(first: int, second: int, length: int) -> int:
    """The Adler-32 of two byte strings one after the other, from each one's and the
    second's length (zlib's ``adler32_combine``)."""
    remainder = length % _ADLER
    low = ((first & 0xFFFF) + (second & 0xFFFF) + _ADLER - 1) % _ADLER
    high = (remainder * (first & 0xFFFF) + (first >> 16) + (second >> 16) + _ADLER - remainder) % _ADLER
    return low | high << 16


_CHANNELS = {colour_type: channels for channels, colour_type in _COLOUR_TYPES.items()}


def read_png(data: bytes) -> np.ndarray | None:
    """The picture (H, W, C) of a PNG whose rows are unfiltered or Up-filtered, as
    :func:`write_png` writes them: uint8 or uint16, row 0 at the top. None for any other
    PNG (rows with PNG's other filters, as Blender's writer makes, interlacing, palettes,
    bit depths below 8), which the caller reads otherwise (Blender's image loader)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    at, header, parts = 8, None, []
    while at + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        body = data[at + 8 : at + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            parts.append(body)
        elif kind == b"IEND":
            break
        at += 12 + length
    if header is None:
        return None
    width, height, depth, colour_type, _, _, interlace = header
    if depth not in (8, 16) or colour_type not in _CHANNELS or interlace:
        return None
    channels, itemsize = _CHANNELS[colour_type], depth // 8
    try:
        raw = np.frombuffer(deflate.inflate(b"".join(parts)), np.uint8)
        rows = raw.reshape(height, 1 + width * channels * itemsize)
    except (ValueError, zlib.error):
        return None
    filters = rows[:, 0]
    if not np.isin(filters, (0, _UP)).all():
        return None
    out = rows[:, 1:].copy()
    for y in np.flatnonzero(filters[1:] == _UP) + 1:  # a row at a time: 5× numpy's cumsum down the rows
        np.add(out[y - 1], out[y], out=out[y])  # uint8 arithmetic wraps modulo 256, as PNG's
    image = out.view(">u2").astype(np.uint16) if itemsize == 2 else out
    return image.reshape(height, width, channels)
