# SPDX-License-Identifier: GPL-3.0-or-later
"""``meta.json``: what a whole output folder holds.

Its ``frames_written`` lists the frames that are complete on disk. Each frame a run
completes is added to the list at once, under the folder's lock, merging what other
runs sharing the folder (resumed, split across machines, running at once) have listed;
a frame is never listed before its files are whole. No run scans the folder: a run's
upkeep costs the same whatever the folder holds. That is the render manager's case
(Flamenco, Deadline, a shell loop of ``blender -b scene.blend -f N``: one process a
frame into a folder of 100 000).

The list is kept at the end of the file, on one line, after everything else
(``flow_reaches_outside_export`` just before it): adding frames after the last one
listed rewrites the small part before it and copies the list's bytes, without reading
it as numbers. A frame that sorts before the last one listed (another run's range)
reads the list whole. ``merge`` rebuilds the list from a scan of the folder: frames a
killed run completed but had not listed yet, and frames damaged since, are set right
there, or by the next run asked for them.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Container, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..core.modalities import CAMERA_ARRAYS, MODALITIES, OFFSET_ARRAYS
from .atomic import atomic_path, owner
from .formats import complete_frames, read_instances
from .frame_io import FrameFileError
from .layout import META_NAME, OutputOptions, names_instances

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
    """The folder's ``meta.json``, or ``None`` where there is none yet; a file that is not
    a JSON object raises :class:`FrameFileError` naming it."""
    path = root / META_NAME
    try:
        with open(path, encoding="utf-8") as stream:
            meta = json.load(stream)
    except FileNotFoundError:
        return None
    except (UnicodeDecodeError, ValueError) as error:
        raise FrameFileError(f"{path} is damaged ({error})") from None
    if not isinstance(meta, dict):
        raise FrameFileError(f"{path} is damaged (not a JSON object)")
    return meta


def read_meta_header(root: Path) -> dict[str, Any] | None:
    """The folder's ``meta.json`` but its frame list (not read: its cost would grow with
    the folder), or ``None`` where there is none; :class:`FrameFileError` for one that
    is damaged."""
    found = _read_listing(root / META_NAME)
    return None if found is None else found[0]


def check_same_export(root: Path, scene: dict[str, Any]) -> None:
    """Raise :class:`MetaMismatchError` when ``root`` already holds an export whose scene-wide
    facts (resolution, modalities, camera) differ from ``scene``."""
    previous = read_meta_header(root)
    if previous is None:
        return
    if "views" in previous:
        raise MetaMismatchError("the folder holds an export of several views")
    for key in _MUST_MATCH:
        if key in previous and previous[key] != scene[key]:
            raise MetaMismatchError(f"the folder holds another export ({key} {previous[key]} there, {scene[key]} here)")


# meta.json's last two keys: the list's line, and the small line before it.
_OUTSIDE = b',\n  "flow_reaches_outside_export": '
_LISTED = b',\n  "frames_written": ['
_END = b"]\n}\n"


def _listing_text(header: dict[str, Any], frames: bytes, outside: dict | None) -> bytes:
    """``header`` (indented), then ``flow_reaches_outside_export`` (when given) and the
    frames (``frames``: their numbers joined by ", ") as the last lines."""
    head = json.dumps(header, indent=2).encode()[:-2]  # without its closing "\n}"
    middle = _OUTSIDE + json.dumps(outside).encode() if outside is not None else b""
    return head + middle + _LISTED + frames + _END


def _frames_text(frames: Iterable[int]) -> bytes:
    return ", ".join(map(str, frames)).encode()


def _split(text: bytes) -> tuple[dict[str, Any], dict | None, bytes] | None:
    """(header, flow_reaches_outside_export or None, the list's text) of a meta.json in
    our layout; None for another layout (an older version's, or edited by hand)."""
    listed = text.rfind(_LISTED)
    if listed < 0 or not text.endswith(_END):
        return None
    frames = text[listed + len(_LISTED) : -len(_END)]
    head, outside = text[:listed], None
    at = head.rfind(_OUTSIDE)
    if at >= 0 and head.endswith(b"}"):
        try:
            outside = json.loads(head[at + len(_OUTSIDE) :])
            head = head[:at]
        except ValueError:
            outside = None
    try:
        return json.loads(head + b"\n}"), outside, frames
    except ValueError:
        return None


def _last(frames: bytes) -> int | None:
    """The last number of a list's text ("1, 2, 7" → 7)."""
    return int(frames[frames.rfind(b" ") + 1 :]) if frames.strip() else None


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


def _header(scene: dict[str, Any]) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, **scene, "conventions": CONVENTIONS}


def _write(path: Path, text: bytes) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as stream:
        stream.write(text)


def write_meta(root: Path, scene: dict[str, Any], frames_written: Iterable[int]) -> None:
    """Write ``meta.json`` for ``scene`` with the complete frames ``frames_written``."""
    frames = sorted(set(frames_written))
    _write(root / META_NAME, _listing_text(_header(scene), _frames_text(frames), flow_reaching_outside(frames)))


def add_frames(path: Path, header, frames: Iterable[int], outside: bool, same=None) -> int:
    """Add ``frames`` (complete) to the list of the meta.json at ``path`` and write it with
    ``header()``'s header (asked for once ``same`` has seen the listed one), keeping the
    frames listed there when ``same(listed header)`` says it is this export's (default:
    always); ``outside``: whether the file keeps
    ``flow_reaches_outside_export``. The caller holds the folder's lock. Returns how many
    frames are listed. Frames after the last one listed cost no reading of the list."""
    new = sorted(set(frames))
    found = _read_listing(path)
    if found is not None and same is not None and not same(found[0]):
        found = None
    listed = found[2] if found is not None else b""
    last = _last(listed)
    flows = found[1] if found is not None else None
    if last is not None and (not new or new[0] > last) and (not outside or flows is not None):
        for frame in new:  # only the list's end moves
            if frame - 1 == last:
                flows["forward"].pop()
            else:
                flows["backward"].append(frame)
            flows["forward"].append(frame)
            last = frame
        text = listed + b", " + _frames_text(new) if new else listed
        count = listed.count(b",") + 1 + len(new)
    else:
        every = sorted(set(json.loads(b"[" + listed + b"]")) | set(new))
        flows, text, count = flow_reaching_outside(every), _frames_text(every), len(every)
    _write(path, _listing_text(header(), text, flows if outside else None))
    return count


def _read_listing(path: Path) -> tuple[dict[str, Any], dict | None, bytes] | None:
    """:func:`_split` of the file, or of one in another layout read whole; None where
    there is none. Raises :class:`FrameFileError` for one that is not JSON."""
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return None
    found = _split(text)
    if found is None:
        try:
            meta = json.loads(text)
            frames = _frames_text(sorted(meta.pop("frames_written", [])))
            return meta, meta.pop("flow_reaches_outside_export", None), frames
        except (ValueError, TypeError, AttributeError) as error:
            raise FrameFileError(f"{path} is damaged ({error})") from None
    return found


def listed_frames(path: Path) -> list[int]:
    """The frames a meta.json lists (reading the list whole)."""
    meta = read_meta(path.parent)
    return [] if meta is None else list(meta.get("frames_written", ()))


def _rig_identity(meta: dict[str, Any]) -> list[tuple[str, str]]:
    return [(view["name"], view["camera"]) for view in meta.get("views", ())]


def check_same_rig(root: Path, rig: dict[str, Any]) -> None:
    """Raise :class:`MetaMismatchError` when ``root`` holds an export of other views (or
    of a single view) than the root ``meta.json`` ``rig`` describes."""
    previous = read_meta_header(root)
    if previous is None:
        return
    if "views" not in previous:
        raise MetaMismatchError("the folder holds a single-view export")
    if _rig_identity(previous) != _rig_identity(rig):
        there = ", ".join(name for name, _ in _rig_identity(previous))
        here = ", ".join(name for name, _ in _rig_identity(rig))
        raise MetaMismatchError(f"the folder holds another export (views {there} there, {here} here)")


def write_rig_meta(root: Path, rig: dict[str, Any], frames_complete: Iterable[int], rebuild: bool = False) -> None:
    """The root ``meta.json`` of an export with several views: the views (each with its
    own folder and ``meta.json``), the stereo pair, and the frames complete in every
    view: ``frames_complete`` added to those listed (the list made anew with
    ``rebuild``). Takes the folder's lock."""
    header = {"schema_version": SCHEMA_VERSION, **rig}
    with meta_lock(root):
        if rebuild:
            _write(root / META_NAME, _listing_text(header, _frames_text(sorted(set(frames_complete))), None))
        else:
            add_frames(root / META_NAME, lambda: header, frames_complete, outside=False)


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
    """``meta.json``'s upkeep during one run (see the module's docstring): each frame is
    listed as it completes (:meth:`frame_done`), frames found complete are listed when
    the run ends (:meth:`finish`), and :meth:`rebuild` makes the list anew from a scan
    (``merge``). ``folder_files_frames`` in the file counts the frames that the
    folder-wide files (coco.json, contact sheet, tracks, transforms.json, COLMAP) were
    last made from, so that runs remake them only when the folder has grown enough
    (:meth:`folder_files_due`)."""

    def __init__(self, root: Path, scene: dict[str, Any], array_keys: Iterable[str], options: OutputOptions):
        self.root, self.scene, self.options = root, scene, options
        self.array_keys = frozenset(array_keys)
        self.frames: set[int] = set()  # this run's complete frames
        self.instances: dict[str, dict] | None = {} if names_instances(self.array_keys) else None
        self.listed: int | None = None  # frames the file lists, as of this run's last write
        self.covered = 0  # frames the folder-wide files were last made from

    def _header(self) -> dict[str, Any]:
        scene = {**self.scene, "folder_files_frames": self.covered}
        if self.instances is not None:
            scene["instances"] = {key: self.instances[key] for key in sorted(self.instances, key=int)}
        return _header(scene)

    def _same_export(self, listed: dict[str, Any]) -> bool:
        """Whether a listed header is this export's; if so, take its instances and count."""
        if any(listed.get(k) != self.scene.get(k) for k in _MUST_MATCH):
            return False
        if self.instances is not None:
            self.instances = {**listed.get("instances", {}), **self.instances}
        self.covered = max(self.covered, int(listed.get("folder_files_frames", 0)))
        return True

    def _add(self, frames: Iterable[int]) -> None:
        path = self.root / META_NAME
        with meta_lock(self.root):
            try:
                self.listed = add_frames(path, self._header, frames, outside=True, same=self._same_export)
            except (FrameFileError, ValueError):  # damaged since the run began: listed anew
                self.listed = add_frames(path, self._header, self.frames, outside=True, same=lambda _: False)

    def frame_done(self, frame: int, instances: dict[str, dict] | None = None) -> None:
        """List ``frame`` (complete); ``instances`` are its rows of the instance table."""
        self.frames.add(frame)
        if self.instances is not None:
            self.instances.update(instances or {})
        self._add([frame])

    def finish(self, found_complete: Iterable[int] = ()) -> None:
        """List the frames the run found complete on disk (a killed run may have left them
        unlisted); writes the file only if there are some, or it has none yet."""
        found = set(found_complete)
        if found or (not (self.root / META_NAME).exists() and self.frames):
            self.frames |= found
            self._add(found)

    def folder_files_due(self) -> bool:
        """Whether the folder-wide files should be made again now, after this run listed
        frames: in a small folder always, else once the folder has grown by a twentieth
        since they were made (so their cost, which grows with the folder, is spread over
        the frames)."""
        if self.listed is None:  # this run listed nothing: nothing new to cover
            return False
        return self.listed <= SMALL_FOLDER or self.listed - self.covered >= self.listed / 20

    def complete_frames(self) -> list[int]:
        """The frames listed (reading the list whole: for the folder-wide files)."""
        return listed_frames(self.root / META_NAME)

    def covered_now(self, frames: int) -> None:
        """Note that the folder-wide files were made from ``frames`` frames."""
        self.covered = frames
        with meta_lock(self.root):
            self.listed = add_frames(self.root / META_NAME, self._header, (), outside=True, same=self._same_export)

    def rebuild(self, reported: Container[int] = (), rows: dict[str, dict] | None = None) -> list[int]:
        """Scan the folder and write ``meta.json`` with every complete frame (also when
        this run wrote none: a killed run may have left it behind the files) and the
        instance table of those frames. ``reported``: frames a farm's chunk reports found
        complete, whose files are only looked for by name; ``rows``: those frames' rows of
        the instance table, from the same reports (``chunks.py``)."""
        with meta_lock(self.root):
            frames = complete_frames(self.root, self.array_keys, self.options, reported)
            if self.instances is not None:
                unreported = [f for f in frames if f not in reported]
                self.instances = read_instances(self.root, unreported, rows or {})
            if frames or (self.root / META_NAME).exists():
                try:
                    self.covered = int((read_meta(self.root) or {}).get("folder_files_frames", 0))
                except FrameFileError:
                    self.covered = 0
                write_meta(self.root, {k: v for k, v in self._header().items() if k not in _OWN}, frames)
        self.frames, self.listed = set(frames), len(frames)
        return frames


# The folder-wide files are made by every run up to this many frames in the folder.
SMALL_FOLDER = 200
_OWN = ("schema_version", "conventions")  # write_meta adds them
