# SPDX-License-Identifier: GPL-3.0-or-later
"""Write one frame's outputs (NPZ, EXR, previews, community formats) into the output folder."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..core.coco import frame_annotations
from ..core.formats import depth_png16, kitti_flow, write_flo
from ..core.png import write_png
from ..core.previews import previews
from .atomic import atomic_path
from .frame_io import write_exr, write_npz
from .layout import (
    FLOW_DIRECTIONS,
    OutputOptions,
    coco_record_path,
    depth_png16_path,
    exr_path,
    flo_path,
    kitti_flow_path,
    npz_path,
    preview_path,
    rgb_path,
)


def _write(path: Path, write: Callable[[BinaryIO], None]) -> Path:
    with atomic_path(path) as tmp, open(tmp, "wb") as stream:
        write(stream)
    return path


def write_frame(root: Path, frame: int, arrays: dict[str, np.ndarray], options: OutputOptions) -> list[Path]:
    """Write the frame's files, each atomically, in the order of ``expected_files``: the
    NPZ (the frame's record) comes last. Returns the paths written."""
    written: list[Path] = []
    if options.previews:
        for key, image, text in previews(arrays):
            written.append(_write(preview_path(root, key, frame), lambda s, i=image, t=text: write_png(s, i, t)))
    for direction, key in FLOW_DIRECTIONS.items():
        if key in arrays and options.flo:
            written.append(_write(flo_path(root, direction, frame), lambda s, f=arrays[key]: write_flo(s, f)))
        if key in arrays and options.kitti_flow:
            encoded = kitti_flow(arrays[key])
            written.append(_write(kitti_flow_path(root, direction, frame), lambda s, e=encoded: write_png(s, e)))
    if "depth" in arrays and options.depth_png16:
        encoded = depth_png16(arrays["depth"], options.depth_png16_scale)
        text = {"depth_scale_per_metre": f"{options.depth_png16_scale:g}", "invalid": "0"}
        written.append(_write(depth_png16_path(root, frame), lambda s: write_png(s, encoded, text)))
    if "object_index" in arrays and options.coco:
        height, width = arrays["object_index"].shape
        record = {
            "image": {
                "id": frame,
                "file_name": rgb_path(root, frame).relative_to(root).as_posix(),
                "width": width,
                "height": height,
                "frame": frame,
            },
            "annotations": frame_annotations(arrays["object_index"]),
        }
        written.append(_write(coco_record_path(root, frame), lambda s: s.write(json.dumps(record).encode())))
    if options.exr:
        write_exr(exr_path(root, frame), arrays)
        written.append(exr_path(root, frame))
    if options.npz:
        write_npz(npz_path(root, frame), arrays, options.npz_level)
        written.append(npz_path(root, frame))
    return written
