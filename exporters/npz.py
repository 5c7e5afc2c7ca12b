# SPDX-License-Identifier: GPL-3.0-or-later
"""NPZ files written with the arrays' deflate streams made in parallel threads.

An NPZ is a ZIP archive of ``.npy`` members. ``np.savez`` compresses them one after the
other on the calling thread; here each member's ``.npy`` bytes (numpy's own header, then
the array's bytes) go through zlib on a worker thread (zlib lets go of Python's lock
while it works), a few members ahead of the one being written (``AHEAD_BYTES``), so
memory holds only those few. Each member is raw deflate as ``zipfile`` makes it, and the
file is laid out as ``np.savez`` writes it: at levels 2 to 9 byte for byte; at level 1,
where ISA-L makes the streams (``core/deflate.py``), with other deflate bytes of the same
data. Stored members (level 0) are written from the array's own memory, without a copy.
"""

from __future__ import annotations

import os
import struct
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..core import deflate
from .atomic import atomic_path
from .background import encoding_pool

_LIMIT = 0xFFFFFFFF  # where a 32-bit ZIP field gives way to its ZIP64 extra field
_VERSION = 45  # ZIP64
_STORED, _DEFLATED = 0, 8
# What zipfile writes for a member it opens by name, as np.savez does: 1980-01-01 00:00
# (so a frame's NPZ does not change with the time it was written), made on this system,
# mode 0600.
_WHEN = (0, (1 << 5) | 1)
_MADE_BY = _VERSION | ((0 if os.name == "nt" else 3) << 8)
_ATTRIBUTES = 0o600 << 16


@dataclass
class _Member:
    name: bytes
    method: int
    crc: int
    size: int  # bytes before compression
    data: list  # buffers to write, in order (dropped once written)
    offset: int = 0  # of its local header, once written

    def __post_init__(self) -> None:
        self.compressed = sum(memoryview(part).nbytes for part in self.data)
        self.flags = 0 if self.name.isascii() else 0x800  # UTF-8 names are flagged, as zipfile does


def _npy_parts(value) -> tuple[bytes, np.ndarray]:
    """A ``.npy`` file as (numpy's header, the array's bytes as a flat uint8 view)."""
    array = np.asanyarray(value)
    if array.dtype.hasobject:
        raise ValueError("object arrays cannot be saved without pickle")
    info = np.lib.format.header_data_from_array_1_0(array)
    if info["fortran_order"]:  # stored column by column, as np.save does
        array = array.T
    elif not array.flags.c_contiguous:
        array = array.copy(order="C")
    header = BytesIO()
    try:
        np.lib.format.write_array_header_1_0(header, info)
    except ValueError:  # a header too long for format 1.0, as np.save decides
        header = BytesIO()
        np.lib.format.write_array_header_2_0(header, info)
    return header.getvalue(), array.reshape(-1).view(np.uint8)


def _member(key: str, value, level: int) -> _Member:
    header, body = _npy_parts(value)
    crc = deflate.crc32(body, deflate.crc32(header))
    size = len(header) + body.nbytes
    name = f"{key}.npy".encode()
    if not level:
        return _Member(name, _STORED, crc, size, [header, body])
    compressor = deflate.compressor(level, -15)  # raw deflate, as zipfile's members
    packed = compressor.compress(header) + compressor.compress(body) + compressor.flush()
    return _Member(name, _DEFLATED, crc, size, [packed])


def _write_member(stream: BinaryIO, member: _Member) -> None:
    member.offset = stream.tell()
    extra = struct.pack("<HHQQ", 1, 16, member.size, member.compressed)  # ZIP64 sizes, as np.savez has them
    fields = (_VERSION, member.flags, member.method, *_WHEN, member.crc, _LIMIT, _LIMIT, len(member.name), len(extra))
    stream.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields) + member.name + extra)
    for part in member.data:
        stream.write(part)


def _write_directory(stream: BinaryIO, members: list[_Member]) -> None:
    """The central directory, as ``zipfile`` writes it: ZIP64 fields only where needed."""
    start = stream.tell()
    for m in members:
        big = m.size > _LIMIT or m.compressed > _LIMIT
        far = m.offset > _LIMIT
        values = ([m.size, m.compressed] if big else []) + ([m.offset] if far else [])
        extra = struct.pack(f"<HH{len(values)}Q", 1, 8 * len(values), *values) if values else b""
        sizes = (_LIMIT, _LIMIT) if big else (m.compressed, m.size)
        names = (len(m.name), len(extra), 0, 0, 0, _ATTRIBUTES, _LIMIT if far else m.offset)
        fields = (_MADE_BY, _VERSION, m.flags, m.method, *_WHEN, m.crc, *sizes, *names)
        stream.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, *fields) + m.name + extra)
    end = stream.tell()
    count, size = len(members), end - start
    if count >= 0xFFFF or start >= _LIMIT or size >= _LIMIT:
        stream.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, _VERSION, _VERSION, 0, 0, count, count, size, start))
        stream.write(struct.pack("<IIQI", 0x07064B50, 0, end, 1))
        count, size, start = min(count, 0xFFFF), min(size, _LIMIT), min(start, _LIMIT)
    stream.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, size, start, 0))


# Members are compressed ahead of the one being written while their arrays take at most
# this many bytes (at least one member ahead), so that an 8K frame's compressed members
# do not pile up in memory.
AHEAD_BYTES = 64 << 20


def _members(arrays: dict[str, np.ndarray], level: int) -> Iterator[_Member]:
    """The members in order, compressed (or only summed, stored) on the pool's threads,
    a few ahead (``AHEAD_BYTES``)."""
    waiting: deque[tuple[Future, int]] = deque()
    for key, value in arrays.items():
        size = np.asanyarray(value).nbytes
        while waiting and sum(n for _, n in waiting) + size > AHEAD_BYTES:
            yield waiting.popleft()[0].result()
        waiting.append((encoding_pool().submit(_member, key, value, level), size))
    while waiting:
        yield waiting.popleft()[0].result()


def write_npz(path: Path, arrays: dict[str, np.ndarray], level: int = 1) -> None:
    """Write ``arrays`` as one NPZ, atomically, at deflate ``level`` (0 = stored, 1 =
    fast, 9 = smallest); ``np.load`` reads every level. Level 1 (ISA-L's where bundled)
    took an eighth of zlib's level 1 CPU time on a 640×480 frame, for 4 % more bytes."""
    written: list[_Member] = []
    with atomic_path(path) as tmp, open(tmp, "wb") as stream:
        for member in _members(arrays, level):
            _write_member(stream, member)
            member.data = []
            written.append(member)
        _write_directory(stream, written)
