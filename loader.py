# SPDX-License-Identifier: GPL-3.0-or-later
"""Read exported ground truth back, without Blender (numpy; OpenEXR for EXR frames,
Pillow for ``rgb``).

    from ground_truth.loader import GroundTruthDataset, load_frame, iter_frames

    frame = load_frame("run/npz/000001.npz")        # or .exr: the same dict of arrays
    for arrays in iter_frames("run"):               # every complete frame of a folder
        ...
    data = GroundTruthDataset("run", keys=["rgb", "depth"])   # for training loops
    tracks = load_tracks("run")                     # tracks.npz, TAP-Vid's layout
    instances = load_instances("run")               # instance id → object, pass index, instancer

Errors on truncated, empty or foreign files raise :class:`FrameFileError` naming the file.
The dataset's conventions are in ``docs/contract.md`` (Loader).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .core.tracks import TRACKS_NAME
from .exporters.frame_io import FrameFileError, load_frame
from .exporters.layout import META_NAME, frame_file, inside, rgb_path
from .exporters.meta import read_meta
from .exporters.whole import is_whole

__all__ = [
    "FrameFileError",
    "GroundTruthDataset",
    "iter_frames",
    "load_frame",
    "load_instances",
    "load_tracks",
    "read_meta",
    "read_rgb",
]


def load_instances(root: str | Path) -> dict[int, dict]:
    """The folder's instance table: for each id that ``instance_id`` holds in some frame,
    ``{"object", "pass_index", "instancer", "persistent_id"}`` (the last two None for an
    object that is not an instance)."""
    root = Path(root)
    meta = read_meta(root)
    if meta is None:
        raise FrameFileError(f"{root}: no meta.json (not a Ground Truth output folder)")
    if "instances" not in meta:
        raise FrameFileError(f"{root}: no instance ids here (export with Instance IDs on)")
    return {int(key): row for key, row in meta["instances"].items()}


def load_tracks(root: str | Path) -> dict[str, np.ndarray]:
    """The folder's point tracks (``tracks.npz``: ``frames``, ``query_points``,
    ``target_points``, ``occluded``, ``track_depth``, ``track_object_index``)."""
    path = Path(root) / TRACKS_NAME
    if not path.exists():
        raise FrameFileError(f"{path}: no tracks here (export with Point Tracks on, or --tracks)")
    return load_frame(path)


def iter_frames(root: str | Path) -> Iterator[dict[str, np.ndarray]]:
    """The frames ``meta.json`` lists as written, in order, each from its NPZ (or its EXR
    where the folder has no NPZ)."""
    root = Path(root)
    meta = read_meta(root)
    if meta is None:
        raise FrameFileError(f"{root}: no meta.json (not a Ground Truth output folder)")
    for frame in meta["frames_written"]:
        yield load_frame(frame_file(root, frame))


RGB = "rgb"  # the dataset's key for rgb/<frame>.png, beside the NPZ's arrays


def read_rgb(path: str | Path) -> np.ndarray:
    """A frame's ``rgb/`` picture as uint8 (H, W, 3), or (H, W, 4) with alpha, row 0 on
    top (read with Pillow)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return np.array(image)
    except (OSError, ValueError) as error:
        raise FrameFileError(f"{path}: cannot be read as a picture ({error})") from error


class GroundTruthDataset:
    """A map-style dataset of an output folder, as ``torch.utils.data.DataLoader`` wants
    one (``len`` and ``[i]``), with numpy alone: it imports no torch.

    Item ``i`` is one frame's dict of arrays (``np.load`` of its NPZ, its EXR where it
    has no NPZ), with ``rgb`` (uint8, (H, W, 3) or (H, W, 4), row 0 on top) read from
    ``rgb/``. ``keys`` picks the arrays (default: every array of the folder and ``rgb``);
    an unknown key is an error here, not in a worker.

    With ``clip_length`` L > 1, item ``i`` is a list of L frames f, f + 1, …, f + L − 1,
    one per start frame f whose following frames were all written: flow_forward of
    clip[j] leads to clip[j + 1]. A folder exported every k-th frame has no clips.

    In a folder of several views, every view's frames are items, view by view, and each
    dict names its ``view``; ``views`` picks some (a name or a list). The frames are those
    complete in every view, so ``GroundTruthDataset(run, views="left")[i]`` and
    ``GroundTruthDataset(run, views="right")[i]`` are the same frame.

    ``transform`` is called with each item (the dict, or the clip's list) and its result
    returned. The dataset holds paths and numbers only: every file is opened and closed
    within ``[i]``, so forked and spawned workers share no open file (a transform must
    be picklable for spawned workers).
    """

    def __init__(
        self,
        folder: str | Path,
        keys: Iterable[str] | None = None,
        views: str | Iterable[str] | None = None,
        clip_length: int = 1,
        transform: Callable[[Any], Any] | None = None,
    ):
        root = Path(folder)
        meta = read_meta(root)
        if meta is None:
            raise FrameFileError(f"{root}: no {META_NAME} (not a Ground Truth output folder)")
        if int(clip_length) < 1:
            raise ValueError(f"clip_length must be 1 or more, not {clip_length}")
        self.root, self.clip_length, self.transform = root, int(clip_length), transform
        self.views, folders = self._views(root, meta, views)
        arrays = set.intersection(*(set(self._arrays(folder)) for folder in folders))
        available = sorted(arrays | {RGB})
        self.keys = available if keys is None else ([keys] if isinstance(keys, str) else list(keys))
        unknown = [key for key in self.keys if key not in available]
        if unknown:
            raise KeyError(f"{root}: no {', '.join(unknown)} here (there are {', '.join(available)})")

        # Listed, and the files it serves whole in every view, by the rule of a run's resume
        # check (whole.py): a frame damaged since it was written is left out, not failed on
        # in a worker.
        def whole(folder: Path, f: int) -> bool:
            return is_whole(frame_file(folder, f)) and (RGB not in self.keys or is_whole(rgb_path(folder, f)))

        written = {f for f in meta["frames_written"] if all(whole(folder, f) for folder in folders)}
        # Clips start at frames whose next clip_length - 1 frames were all written.
        self.frames = [f for f in sorted(written) if all(f + j in written for j in range(1, self.clip_length))]
        self._folders = folders

    @staticmethod
    def _views(root: Path, meta: dict, views) -> tuple[list[str | None], list[Path]]:
        if "views" not in meta:
            if views is not None:
                raise ValueError(f"{root}: a folder of one view has no views to pick (views={views!r})")
            return [None], [root]
        try:
            named = {view["name"]: inside(root, view["folder"]) for view in meta["views"]}
        except ValueError as error:
            raise FrameFileError(f"{root / META_NAME}: {error}") from None
        chosen = list(named) if views is None else ([views] if isinstance(views, str) else list(views))
        unknown = [name for name in chosen if name not in named]
        if unknown or not chosen:
            raise ValueError(f"{root}: no view {', '.join(map(repr, unknown))} (the views: {', '.join(named)})")
        return chosen, [named[name] for name in chosen]

    @staticmethod
    def _arrays(folder: Path) -> list[str]:
        meta = read_meta(folder)
        if meta is None or "arrays" not in meta:
            raise FrameFileError(f"{folder}: no {META_NAME} listing its arrays")
        return meta["arrays"]

    def __len__(self) -> int:
        return len(self._folders) * len(self.frames)

    def __getitem__(self, index: int):
        count = len(self)
        if not -count <= index < count:
            raise IndexError(f"item {index} of a dataset of {count}")
        view, start = divmod(index % count, len(self.frames))
        frames = [self._frame(view, self.frames[start] + j) for j in range(self.clip_length)]
        item = frames[0] if self.clip_length == 1 else frames
        return item if self.transform is None else self.transform(item)

    def _frame(self, view: int, frame: int) -> dict[str, Any]:
        folder = self._folders[view]
        arrays = [key for key in self.keys if key != RGB]
        out: dict[str, Any] = load_frame(frame_file(folder, frame), arrays) if arrays else {}
        if RGB in self.keys:
            out[RGB] = read_rgb(rgb_path(folder, frame))
        if self.views[view] is not None:
            out["view"] = self.views[view]
        return out

    def __repr__(self) -> str:
        views = "" if self.views == [None] else f", views={self.views}"
        return f"GroundTruthDataset({str(self.root)!r}, {len(self)} items{views}, clip_length={self.clip_length})"
