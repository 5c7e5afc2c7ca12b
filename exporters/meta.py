"""``meta.json``: what a whole output folder holds, updated atomically frame by frame."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .atomic import atomic_path
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


def read_meta(root: Path) -> dict[str, Any] | None:
    """The folder's ``meta.json``, or ``None`` where there is none yet."""
    path = root / META_NAME
    if not path.exists():
        return None
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)


def update_meta(root: Path, scene: dict[str, Any], frames: list[int]) -> dict[str, Any]:
    """Write ``meta.json`` for ``scene``, adding ``frames`` to the frames already listed.

    ``scene`` holds what describes the run (versions, engine, resolution, objects...);
    it replaces the previous description, while ``frames_written`` accumulates.
    """
    previous = read_meta(root) or {}
    written = sorted(set(previous.get("frames_written", [])) | set(frames))
    meta = {"schema_version": SCHEMA_VERSION, **scene, "conventions": CONVENTIONS, "frames_written": written}
    with atomic_path(root / META_NAME) as tmp, open(tmp, "w", encoding="utf-8") as stream:
        json.dump(meta, stream, indent=2, sort_keys=False)
        stream.write("\n")
    return meta
