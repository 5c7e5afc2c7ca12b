# SPDX-License-Identifier: GPL-3.0-or-later
"""Deflate streams, as zlib writes them, made fast where a faster encoder is bundled.

The NPZ's members and the PNG pictures are deflate streams; any reader inflates them
alike, whichever encoder made them. At the fast level (:data:`FAST`) they come from
ISA-L (the ``isal`` binding's ``isal_zlib``, bundled in the extension for Linux,
Windows and macOS on Python 3.11 and 3.13), which also lets go of Python's lock while
it works; elsewhere, and at every other level, from Python's ``zlib``. On a 640×480
frame's arrays (``bench/``'s scene) ISA-L's level 1 took 14 ms of CPU where zlib's took
118 ms, for 4 % more bytes (0.151 of the arrays' size against 0.145); on its preview
pictures 2.5 ms where zlib's level 6 took 73 ms, for 1.6× the bytes.
"""

from __future__ import annotations

import zlib

try:
    from isal import isal_zlib
except ImportError:  # no wheel for this platform or Python: zlib's level 1
    isal_zlib = None

FAST = 1  # the level ISA-L makes where it is bundled


def compressor(level: int, wbits: int):
    """A compress object (``compress(data)``, ``flush()``) for ``level`` (1 to 9);
    ``wbits`` as zlib's: 15 for a zlib stream (PNG), -15 for raw deflate (ZIP)."""
    if level == FAST and isal_zlib is not None:
        return isal_zlib.compressobj(1, isal_zlib.DEFLATED, wbits)
    return zlib.compressobj(level, zlib.DEFLATED, wbits)


def crc32(data, value: int = 0) -> int:
    """zlib's ``crc32`` (the ZIP members' and PNG chunks' checksum), from ISA-L where it is
    bundled: the same number, about 7× faster (0.8 against 5.6 ms for 24 MB here)."""
    return (isal_zlib or zlib).crc32(data, value)


def adler32(data, value: int = 1) -> int:
    """zlib's ``adler32`` (a PNG's zlib stream's checksum), from ISA-L where it is bundled."""
    return (isal_zlib or zlib).adler32(data, value)


def inflate(data: bytes) -> bytes:
    """A zlib stream's bytes (``zlib.decompress``), through ISA-L where it is bundled."""
    return (isal_zlib or zlib).decompress(data)
