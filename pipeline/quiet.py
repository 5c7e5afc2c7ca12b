# SPDX-License-Identifier: GPL-3.0-or-later
"""Keep Blender's log lines about our own work off the user's console.

Blender logs every file the compositor writes (``Saved: '/dev/shm/…/raw_.exr'``) and,
in 4.x, a status line per render step (``Fra:1 Mem:…``) on standard output, from C,
where no Python setting reaches. During a blocking render the output is caught at the
file-descriptor level and passed on afterwards, less those lines. Only on POSIX;
elsewhere nothing is caught.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def hide_lines(*fragments: str) -> Iterator[None]:
    """Within the block, drop the lines of standard output that contain one of ``fragments``."""
    if os.name != "posix":
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
            caught.seek(0)
            kept = [line for line in caught.read().splitlines(keepends=True) if not _names(line, fragments)]
            data = b"".join(kept)
            while data:
                data = data[os.write(1, data) :]


def _names(line: bytes, fragments: tuple[str, ...]) -> bool:
    text = line.decode("utf-8", "replace")
    return any(fragment in text for fragment in fragments)
