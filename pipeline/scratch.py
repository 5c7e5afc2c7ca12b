# SPDX-License-Identifier: GPL-3.0-or-later
"""Where the compositor's scratch EXR goes: a RAM folder when it has room, else the
output folder's own disk, or the folder the user names (``GROUND_TRUTH_SCRATCH``, or
the add-on's preferences). bpy-free."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..exporters.atomic import owner, remove_stale_folders

ENVIRONMENT = "GROUND_TRUTH_SCRATCH"
_RAM = Path("/dev/shm")
_PREFIX = ".ground_truth_scratch"


class ScratchError(OSError):
    """No folder can take the scratch file; the message says which and what to do."""


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.0f} MB"


def free_bytes(folder: Path) -> int:
    """Free bytes on the disk of ``folder`` (or of its nearest existing parent)."""
    while not folder.exists():
        folder = folder.parent
    return shutil.disk_usage(folder).free


def choose(per_frame: int, frames: int, output_root: Path, override: str | None) -> Path:
    """The folder to make the scratch folder in, for scratch files of at most
    ``per_frame`` bytes of which ``frames`` are there at once (the one rendering and
    those waiting for the writer). Raises :class:`ScratchError` when none has room."""
    needed = per_frame * frames
    if override:
        folder = Path(override).expanduser()
        free = free_bytes(folder)
        if free < needed:
            raise ScratchError(
                f"The scratch folder '{folder}' has {_megabytes(free)} free; a frame needs "
                f"{_megabytes(per_frame)} and {frames} wait there at most ({_megabytes(needed)}): free space there "
                f"or choose another ({ENVIRONMENT}, or Preferences > Add-ons > Ground Truth > Scratch Folder)"
            )
        return folder
    candidates = [_RAM] if _RAM.is_dir() and os.access(_RAM, os.W_OK) else []
    candidates.append(output_root)
    for folder in candidates:
        if free_bytes(folder) >= needed:
            return folder
    room = ", ".join(f"'{f}' has {_megabytes(free_bytes(f))}" for f in candidates)
    raise ScratchError(
        f"No room for the compositor's scratch files ({_megabytes(per_frame)} a frame, {frames} at most: "
        f"{_megabytes(needed)}): {room} free; "
        f"free space or set {ENVIRONMENT} to a folder with room"
    )


def make(parent: Path) -> Path:
    """A new scratch folder in ``parent`` named after this process (``.ground_truth_scratch.
    <host>.<pid>.part``), after removing those that killed runs left there."""
    parent.mkdir(parents=True, exist_ok=True)
    remove_stale_folders(parent, _PREFIX)
    folder = parent / f"{_PREFIX}.{owner()}.part"
    folder.mkdir(exist_ok=True)
    return folder
