"""``meta.json``: what a whole output folder holds, rewritten atomically after every frame.

Its ``frames_written`` lists the frames that are complete on disk, not what one run
remembers, so runs that share a folder (split across machines, or resumed) all leave
the same, true list.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .atomic import atomic_path, owner, owner_gone
from .layout import META_NAME

SCHEMA_VERSION = 1

CONVENTIONS = {
    "image_rows": "row 0 is the top row of the picture",
    "pixel_centres": "integer coordinates; the top-left pixel's centre is (0, 0)",
    "camera_axes": "OpenCV: x right, y down, z forward",
    "depth": "float32 metres, planar depth along the optical axis (camera z); background inf",
    "normal": "float32 unit normals in camera axes; normal_world in world axes; background 0",
    "flow": "float32 (dx, dy) pixels, x right, y down; forward to frame t+1, backward to t-1; NaN where undefined",
    "index_masks": "int32 pass index of the first surface hit; 0 is the background",
    "emission": "float32 linear RGB of the Emit pass",
    "boxes": "[x_min, y_min, x_max, y_max] inclusive pixels per pass index, with visible pixel counts",
}

_LOCK_NAME = ".meta.lock"
_LOCK_STALE_S = 60.0

# Scene-wide facts that every run writing into one folder must share.
_MUST_MATCH = ("resolution", "modalities", "camera", "projection")


class MetaMismatchError(ValueError):
    """The folder holds an export of something else; the message says what differs."""


def read_meta(root: Path) -> dict[str, Any] | None:
    """The folder's ``meta.json``, or ``None`` where there is none yet."""
    path = root / META_NAME
    if not path.exists():
        return None
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)


def check_same_export(root: Path, scene: dict[str, Any]) -> None:
    """Raise :class:`MetaMismatchError` when ``root`` already holds an export whose scene-wide
    facts (resolution, modalities, camera) differ from ``scene``."""
    previous = read_meta(root)
    if previous is None:
        return
    for key in _MUST_MATCH:
        if key in previous and previous[key] != scene[key]:
            raise MetaMismatchError(f"the folder holds another export ({key} {previous[key]} there, {scene[key]} here)")


def flow_reaching_outside(frames: list[int]) -> dict[str, list[int]]:
    """Frames whose forward (backward) flow points at a frame that is not exported.

    Flow always measures motion to the scene's frame t+1 (t-1); at the ends of an
    exported range, or between every-k-th frames, that frame has no files here.
    """
    written = set(frames)
    return {
        "forward": [f for f in frames if f + 1 not in written],
        "backward": [f for f in frames if f - 1 not in written],
    }


def write_meta(root: Path, scene: dict[str, Any], frames_written: list[int]) -> dict[str, Any]:
    """Write ``meta.json`` for ``scene`` with the complete frames ``frames_written``."""
    frames = sorted(frames_written)
    meta = {
        "schema_version": SCHEMA_VERSION,
        **scene,
        "conventions": CONVENTIONS,
        "frames_written": frames,
        "flow_reaches_outside_export": flow_reaching_outside(frames),
    }
    with atomic_path(root / META_NAME) as tmp, open(tmp, "w", encoding="utf-8") as stream:
        json.dump(meta, stream, indent=2)
        stream.write("\n")
    return meta


@contextmanager
def meta_lock(root: Path, timeout: float = 120.0) -> Iterator[None]:
    """Hold the folder's lock file while reading the frames on disk and writing
    ``meta.json``, so that runs sharing the folder update it one at a time and the last
    one lists every frame. The lock names its holder (host and process): a lock whose
    process is gone from this host is broken at once, one from another host after a minute."""
    lock = root / _LOCK_NAME
    deadline = time.monotonic() + timeout
    while True:
        try:
            descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                holder = lock.read_text(encoding="utf-8").strip()
                age = time.time() - lock.stat().st_mtime
            except FileNotFoundError:
                continue
            if owner_gone(holder, age, _LOCK_STALE_S):  # an empty holder (being written) counts by age
                lock.unlink(missing_ok=True)
                continue
            if time.monotonic() > deadline:
                raise TimeoutError(f"{lock} is held by another run ({holder or 'unknown'})") from None
            time.sleep(0.05)
        else:
            with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
                stream.write(owner())
            break
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)
