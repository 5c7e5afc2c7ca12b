# SPDX-License-Identifier: GPL-3.0-or-later
"""Write-then-rename, so that a reader never sees a half-written file."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_HOST = socket.gethostname().replace(".", "_") or "host"
_STALE_AFTER_S = 3600.0


def temporary_name(path: Path) -> Path:
    """A hidden sibling of ``path`` naming this host and process: ``.<name>.<host>.<pid>.part``."""
    return path.with_name(f".{path.name}.{owner()}.part")


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` in one step.

    On any error the temporary file is removed (or, where that fails too, left for the
    next run's clean-up) and ``path`` is left as it was. An ``OSError`` about the
    temporary file names ``path`` instead: that is the file the user knows.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as error:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # the folder went read-only, say
            pass
        if isinstance(error, OSError) and error.filename == str(tmp):
            error.filename = str(path)
        raise


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner() -> str:
    """This process, as temporary names and lock files record it: ``<host>.<pid>``."""
    return f"{_HOST}.{os.getpid()}"


def owner_gone(tag: str, age_s: float) -> bool:
    """Whether the process an :func:`owner` tag names has gone.

    From this host: when it no longer runs (checked on POSIX only). From another host
    sharing the folder, on Windows, or unknown: when ``age_s`` exceeds an hour.
    """
    host, _, pid = tag.rpartition(".")
    if host == _HOST and pid.isdigit() and sys.platform != "win32":
        return not _process_alive(int(pid))
    return age_s > _STALE_AFTER_S


def is_stale(tmp: Path) -> bool:
    """Whether a temporary file was left by a process that is gone (see :func:`owner_gone`)."""
    tag = ".".join(tmp.name.removesuffix(".part").rsplit(".", 2)[-2:])  # .<name>.<host>.<pid>.part
    return owner_gone(tag, time.time() - tmp.stat().st_mtime)


def remove_stale_temporaries(root: Path, pattern: str = "**/.*.part") -> int:
    """Delete the temporary files (and scratch folders) that killed runs left under
    ``root``; return how many."""
    removed = 0
    if root.is_dir():
        for tmp in list(root.glob(pattern)):
            if is_stale(tmp):
                if tmp.is_dir():
                    shutil.rmtree(tmp, ignore_errors=True)
                else:
                    tmp.unlink(missing_ok=True)
                removed += 1
    return removed
