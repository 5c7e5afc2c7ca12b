# SPDX-License-Identifier: GPL-3.0-or-later
"""Write-then-rename, so that a reader never sees a half-written file.

A file is written as a temporary in its folder's ``.partial/`` (a folder that holds
nothing else), flushed to disk, then renamed over its real name; so a power loss leaves
the old file or the whole new one, and a killed run leaves its temporaries where a
later run finds them without listing the folder's frames. The ``.partial/`` folder is
removed once empty: after each file, or, within :func:`partial_folders_kept` (an export
run), once at its end."""

from __future__ import annotations

import os
import random
import re
import shutil
import socket
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

_HOST = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname()) or "host"
_STALE_AFTER_S = 3600.0
PARTIAL = ".partial"
# What temporary_name makes, and the only names the sweep deletes: <name>.<host>.<pid>.part
_TEMPORARY = re.compile(r"^.+\.(?P<owner>[A-Za-z0-9_-]+\.\d+)\.part$")


def temporary_name(path: Path) -> Path:
    """Where ``path`` is written before it is renamed into place: ``.partial/<name>.<host>.<pid>.part``
    beside it."""
    return path.parent / PARTIAL / f"{path.name}.{owner()}.part"


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``path`` in one step.

    On any error the temporary file is removed (or, where that fails too, left for the
    next run's clean-up) and ``path`` is left as it was. An ``OSError`` about the
    temporary file names ``path`` instead: that is the file the user knows.
    """
    path = Path(path)
    tmp = temporary_name(path)
    try:
        _create(tmp)
        yield tmp
        _flush(tmp)
        os.replace(tmp, path)
    except BaseException as error:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # the folder went read-only, say
            pass
        if isinstance(error, OSError) and error.filename in (str(tmp), str(tmp.parent)):
            error.filename = str(path)
        raise
    finally:
        if not _KEPT.keeps(tmp.parent):
            _remove_if_empty(tmp.parent)


class _KeptFolders:
    """The ``.partial/`` folders kept between files while :func:`partial_folders_kept`
    is entered (``depth`` times): making and removing one for each file cost 0.5 ms of
    CPU a file here, 13 files a frame."""

    def __init__(self):
        self.depth, self.folders, self.lock = 0, set(), threading.Lock()

    def keeps(self, folder: Path) -> bool:
        with self.lock:
            if self.depth:
                self.folders.add(folder)
            return self.depth > 0


_KEPT = _KeptFolders()


@contextmanager
def partial_folders_kept() -> Iterator[None]:
    """Keep the ``.partial/`` folders that files are written through until the end of
    this (a run's many files), then remove those that are empty; nested or side by
    side, until the end of the last."""
    with _KEPT.lock:
        _KEPT.depth += 1
    try:
        yield
    finally:
        with _KEPT.lock:
            _KEPT.depth -= 1
            folders = [] if _KEPT.depth else sorted(_KEPT.folders)
            if not _KEPT.depth:
                _KEPT.folders.clear()
        for folder in folders:
            _remove_if_empty(folder)


def _create(tmp: Path, tries: int = 1000) -> None:
    """Make the empty temporary file, and its ``.partial/`` folder where needed. Another
    writer (a thread, or a process on another machine) may remove that folder once it is
    empty, between our making it and our file: then make it again. (``mkdir`` with
    ``exist_ok`` raises ``FileExistsError`` too when the folder vanishes between its
    ``mkdir`` and its check.) After a miss it waits a moment, longer each time and never
    in step with the others: twelve writers on two busy cores once missed 1000 times
    in a row without waiting."""
    try:  # where the folder is there (kept between files), without asking for it
        os.close(os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o666))
        return
    except FileNotFoundError:
        pass
    for attempt in range(tries):
        try:
            tmp.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o666))
            return
        except (FileNotFoundError, FileExistsError):
            if attempt == tries - 1 or (tmp.parent.exists() and not tmp.parent.is_dir()):
                raise
            time.sleep(random.uniform(0, min(attempt, 20) * 1e-4))


def _remove_if_empty(folder: Path) -> None:
    """Remove a ``.partial/`` folder that holds nothing (what another writer is writing
    keeps it there), so that a finished folder has none."""
    try:
        folder.rmdir()
    except OSError:
        pass


def _flush(path: Path) -> None:
    """Put the file's bytes on the disk before it gets its real name."""
    descriptor = os.open(path, os.O_RDWR)  # Windows flushes only what it may write
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


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


def _stale_entries(folder: Path, pattern: re.Pattern, directories: bool) -> Iterator[os.DirEntry]:
    """The entries of ``folder`` (not below it) named by ``pattern``, files or (with
    ``directories``) folders, never links, whose owner has gone."""
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        match = pattern.match(entry.name)
        if match is None or entry.is_symlink() or entry.is_dir() != directories:
            continue
        if owner_gone(match["owner"], time.time() - entry.stat(follow_symlinks=False).st_mtime):
            yield entry


def remove_stale_temporaries(folders: Iterable[Path]) -> int:
    """Delete the temporary files that killed runs left in the ``.partial/`` folders of
    ``folders``: only files named as :func:`temporary_name` names them, never anything
    else; return how many; and those folders where then empty. Costs the same whatever
    else the folders hold."""
    removed = 0
    for folder in folders:
        partial = folder / PARTIAL
        if partial.is_symlink():
            continue
        for entry in _stale_entries(partial, _TEMPORARY, directories=False):
            Path(entry.path).unlink(missing_ok=True)
            removed += 1
        _remove_if_empty(partial)
    return removed


def remove_stale_folders(parent: Path, prefix: str) -> int:
    """Delete the folders ``<prefix>.<host>.<pid>.part`` in ``parent`` (not below it) that
    killed runs left; return how many."""
    pattern = re.compile(rf"^{re.escape(prefix)}\.(?P<owner>[A-Za-z0-9_-]+\.\d+)\.part$")
    removed = 0
    for entry in _stale_entries(parent, pattern, directories=True):
        shutil.rmtree(entry.path, ignore_errors=True)
        removed += 1
    return removed
