# SPDX-License-Identifier: GPL-3.0-or-later
"""Read exported ground truth back, without Blender (numpy and OpenEXR only).

    from ground_truth.loader import load_frame, iter_frames

    frame = load_frame("run/npz/000001.npz")        # or .exr: the same dict of arrays
    for arrays in iter_frames("run"):               # every complete frame of a folder
        ...
    tracks = load_tracks("run")                     # tracks.npz, TAP-Vid's layout
    instances = load_instances("run")               # instance id → object, pass index, instancer

Errors on truncated, empty or foreign files raise :class:`FrameFileError` naming the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .core.tracks import TRACKS_NAME
from .exporters.frame_io import FrameFileError, load_frame
from .exporters.layout import exr_path, npz_path
from .exporters.meta import read_meta

__all__ = ["FrameFileError", "iter_frames", "load_frame", "load_instances", "load_tracks", "read_meta"]


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
        path = npz_path(root, frame)
        yield load_frame(path if path.exists() else exr_path(root, frame))
