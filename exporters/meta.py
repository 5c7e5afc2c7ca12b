# SPDX-License-Identifier: GPL-3.0-or-later
"""``meta.json``: what a whole output folder holds.

Its ``frames_written`` lists the frames that are complete on disk. A run scans the
folder once when it starts, adds the frames it completes as it goes (rewriting the file
now and then, never listing an incomplete frame), and scans the folder again when it
ends, so runs that share a folder (split across machines, or resumed) all leave the
same, true list, and the cost of a frame does not grow with the frames already there.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..core.modalities import CAMERA_ARRAYS, MODALITIES, OFFSET_ARRAYS
from .atomic import atomic_path, owner
from .formats import complete_frames, read_instances
from .layout import META_NAME, OutputOptions

SCHEMA_VERSION = 1

CONVENTIONS = {
    "image_rows": "row 0 is the top row of the picture",
    "pixel_centres": "integer coordinates; the top-left pixel's centre is (0, 0)",
    "camera_axes": "OpenCV: x right, y down, z forward",
    **{m.key: m.description for m in MODALITIES},
    **{a.key: a.meaning for a in CAMERA_ARRAYS},
    **{a.key: a.meaning for _, a in OFFSET_ARRAYS},
    "occlusion_rule": "a surface in front of the point by more than 1e-4 of its distance hides it; "
    "its own face does not; points are followed by the vertices of their object's evaluated mesh",
}

_LOCK_NAME = ".meta.lock"

# Scene-wide facts that every run writing into one folder must share.
_MUST_MATCH = ("resolution", "modalities", "camera", "projection", "flow_offsets")


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
    if "views" in previous:
        raise MetaMismatchError("the folder holds an export of several views")
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


def _rig_identity(meta: dict[str, Any]) -> list[tuple[str, str]]:
    return [(view["name"], view["camera"]) for view in meta.get("views", ())]


def check_same_rig(root: Path, rig: dict[str, Any]) -> None:
    """Raise :class:`MetaMismatchError` when ``root`` holds an export of other views (or
    of a single view) than the root ``meta.json`` ``rig`` describes."""
    previous = read_meta(root)
    if previous is None:
        return
    if "views" not in previous:
        raise MetaMismatchError("the folder holds a single-view export")
    if _rig_identity(previous) != _rig_identity(rig):
        there = ", ".join(name for name, _ in _rig_identity(previous))
        here = ", ".join(name for name, _ in _rig_identity(rig))
        raise MetaMismatchError(f"the folder holds another export (views {there} there, {here} here)")


def write_rig_meta(root: Path, rig: dict[str, Any], frames_complete: list[int]) -> None:
    """Write the root ``meta.json`` of an export with several views: the views (each
    with its own folder and ``meta.json``), the stereo pair, and the frames that are
    complete in every view."""
    meta = {"schema_version": SCHEMA_VERSION, **rig, "frames_written": sorted(frames_complete)}
    with atomic_path(root / META_NAME) as tmp, open(tmp, "w", encoding="utf-8") as stream:
        json.dump(meta, stream, indent=2)
        stream.write("\n")


try:
    import fcntl

    def _try_lock(descriptor: int) -> bool:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

except ImportError:  # Windows
    import msvcrt

    def _try_lock(descriptor: int) -> bool:
        try:
            msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True


@contextmanager
def meta_lock(root: Path, timeout: float = 120.0) -> Iterator[None]:
    """Hold the folder's lock while reading the frames on disk and writing ``meta.json``,
    so that runs sharing the folder update it one at a time and the last one lists every
    frame.

    The lock is the operating system's (``flock``; byte-range locking on Windows) on the
    file ``.meta.lock``: it goes with its process, so a killed run leaves no lock to
    break and there is no break to race. The file names its holder (``host.pid``) for
    the message of a run that waits longer than ``timeout``. The holder removes the file
    before it lets go; a waiter that locked a file removed meanwhile tries again.
    """
    path = root / _LOCK_NAME
    deadline = time.monotonic() + timeout
    while True:
        descriptor = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
        if _try_lock(descriptor):
            held, current = os.fstat(descriptor), _identity(path)
            if current == (held.st_dev, held.st_ino):
                break
        else:
            if time.monotonic() > deadline:
                holder = os.read(descriptor, 256).decode("utf-8", "replace").strip()
                os.close(descriptor)
                raise TimeoutError(f"{path} is held by another run ({holder or 'unknown'})")
            time.sleep(0.02)
        os.close(descriptor)
    try:
        os.ftruncate(descriptor, 0)
        os.write(descriptor, owner().encode())
        yield
    finally:
        if os.name == "posix":  # Windows cannot remove an open file; there it stays, unlocked
            path.unlink(missing_ok=True)
        os.close(descriptor)


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return status.st_dev, status.st_ino


class MetaKeeper:
    """``meta.json``'s upkeep during one run (see the module's docstring).

    :meth:`frame_done` costs the same whatever the folder holds: it adds the frame to
    what the run knows and rewrites ``meta.json`` at most every ``interval`` seconds
    (and for the run's first frame), merging what other runs have listed meanwhile.
    :meth:`finish` scans the folder and writes the true list.
    """

    def __init__(
        self,
        root: Path,
        scene: dict[str, Any],
        array_keys: Iterable[str],
        options: OutputOptions,
        interval: float = 2.0,
    ):
        self.root, self.scene, self.options, self.interval = root, scene, options, interval
        self.array_keys = frozenset(array_keys)
        self.frames: set[int] = set()
        self.instances: dict[str, dict] | None = {} if "instance_id" in self.array_keys else None
        self._written_at: float | None = None

    def _scene(self) -> dict[str, Any]:
        if self.instances is None:
            return self.scene
        return {**self.scene, "instances": {key: self.instances[key] for key in sorted(self.instances, key=int)}}

    def start(self) -> None:
        """Note the frames that are complete before the run (one scan of the folder)."""
        self.frames = set(complete_frames(self.root, self.array_keys, self.options))

    def frame_done(self, frame: int, instances: dict[str, dict] | None = None) -> None:
        """Count ``frame`` complete; ``instances`` are its rows of the instance table."""
        self.frames.add(frame)
        if self.instances is not None:
            self.instances.update(instances or {})
        now = time.monotonic()
        if self._written_at is not None and now - self._written_at < self.interval:
            return
        with meta_lock(self.root):
            listed = read_meta(self.root)
            if listed is not None and all(listed.get(k) == self.scene.get(k) for k in _MUST_MATCH):
                self.frames.update(listed.get("frames_written", ()))
                if self.instances is not None:
                    self.instances = {**listed.get("instances", {}), **self.instances}
            write_meta(self.root, self._scene(), self.frames)
        self._written_at = now

    def finish(self) -> list[int]:
        """Scan the folder and write ``meta.json`` with every complete frame (also when
        this run wrote none: a killed run may have left it behind the files)."""
        with meta_lock(self.root):
            frames = complete_frames(self.root, self.array_keys, self.options)
            if self.instances is not None:
                self.instances = read_instances(self.root, frames)
            if frames or (self.root / META_NAME).exists():
                write_meta(self.root, self._scene(), frames)
        self.frames = set(frames)
        return frames
