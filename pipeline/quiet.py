# SPDX-License-Identifier: GPL-3.0-or-later
"""Keep Blender's log lines about our own work off the user's console.

Blender logs every file the compositor writes (``Saved: '/dev/shm/…/raw_.exr'``) and,
in 4.x, a status line per render step (``Fra:1 Mem:…``) on standard output, from C,
where no Python setting reaches. During a blocking render the output is caught at the
file-descriptor level and passed on afterwards, less those lines. Only on POSIX and
where there is a standard output; elsewhere nothing is caught.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO


@contextmanager
def hide_lines(*fragments: str) -> Iterator[None]:
    """Within the block, drop the lines of standard output that contain one of ``fragments``."""
    caught = _catch()
    if caught is None:
        yield
        return
    saved, stream = caught
    try:
        yield
    finally:
        if sys.stdout is not None:
            sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        stream.seek(0)
        data = b"".join(line for line in stream.read().splitlines(keepends=True) if not _names(line, fragments))
        stream.close()
        while data:
            data = data[os.write(1, data) :]


def _catch() -> tuple[int, BinaryIO] | None:
    """Point file descriptor 1 at a temporary file; return the saved descriptor and the
    file, or None where that cannot be done (not POSIX, no standard output, no room)."""
    if os.name != "posix":
        return None
    try:
        saved = os.dup(1)  # first: with descriptor 1 closed, the temporary file would take its number
    except OSError:
        return None
    try:
        stream = tempfile.TemporaryFile()
    except OSError:
        os.close(saved)
        return None
    if sys.stdout is not None:
        sys.stdout.flush()
    os.dup2(stream.fileno(), 1)
    return saved, stream


def _names(line: bytes, fragments: tuple[str, ...]) -> bool:
    text = line.decode("utf-8", "replace")
    return any(fragment in text for fragment in fragments)
