# SPDX-License-Identifier: GPL-3.0-or-later
"""``transforms.json`` (nerfstudio) and ``colmap/`` (COLMAP's text model) for a run's
complete frames, from what the frames' files hold (``core/reconstruction.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..core.reconstruction import Image, colmap_text, sample_points, transforms
from ..exporters.atomic import atomic_path
from ..exporters.frame_io import load_frame
from ..exporters.layout import depth_png16_path, exr_path, npz_path, rgb_path
from .contact import load_png

TRANSFORMS_NAME = "transforms.json"
COLMAP_FOLDER = "colmap"


def _arrays(folder: Path, frame: int, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    path = npz_path(folder, frame)
    if path.exists():
        with np.load(path) as stored:
            return {key: stored[key] for key in keys if key in stored}
    arrays = load_frame(exr_path(folder, frame))
    return {key: arrays[key] for key in keys if key in arrays}


def images(root: Path, views: list[tuple[str, Path]], frames: list[int], size: tuple[int, int]) -> list[Image]:
    """Every view's picture of every frame (frame by frame), with its K and pose as the
    frame's NPZ (or EXR) holds them."""
    out = []
    for frame in frames:
        for name, folder in views:
            arrays = _arrays(folder, frame, ("K", "world_to_camera"))
            depth = depth_png16_path(folder, frame)
            out.append(
                Image(
                    view=name,
                    frame=frame,
                    file_path=rgb_path(folder, frame).relative_to(root).as_posix(),
                    depth_file_path=depth.relative_to(root).as_posix() if depth.exists() else None,
                    K=arrays["K"],
                    world_to_camera=arrays["world_to_camera"],
                    size=size,
                )
            )
    return out


def write_transforms(root: Path, pictures: list[Image], depth_scale_per_metre: float | None) -> Path:
    path = root / TRANSFORMS_NAME
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as stream:
        json.dump(transforms(pictures, depth_scale_per_metre), stream, indent=2)
        stream.write("\n")
    return path


def write_colmap(root: Path, pictures: list[Image], views: dict[str, Path], points_per_image: int) -> Path:
    """``colmap/cameras.txt``, ``images.txt`` and ``points3D.txt``; the points (up to
    ``points_per_image`` per picture, none for 0) lifted from each picture's depth and
    coloured by its RGB."""
    points = None
    if points_per_image > 0:
        points = []
        for picture in pictures:
            depth = _arrays(views[picture.view], picture.frame, ("depth",))["depth"]
            points.append(sample_points(picture, depth, load_png(root / picture.file_path), points_per_image))
    folder = root / COLMAP_FOLDER
    folder.mkdir(exist_ok=True)
    for name, text in colmap_text(pictures, points).items():
        with atomic_path(folder / name) as tmp, open(tmp, "w", encoding="utf-8") as stream:
            stream.write(text)
    return folder
