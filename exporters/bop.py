# SPDX-License-Identifier: GPL-3.0-or-later
"""The BOP layout (docs/contract.md, Objects; the BOP toolkit's conventions): millimetres,
R row-major, boxes [x, y, w, h], masks 0/255, 16-bit depth.

A view's folder holds one BOP dataset under ``bop/``: ``models/`` (each model once) and one
scene, ``train_pbr/000000/``, whose image ids are frame numbers. Each frame writes its
pictures and a record of its rows (``.bop/<frame>.json``, written last, which marks it
complete); the run's end gathers the records of the complete frames into the scene's
three JSON files, so farm chunks and resumed runs end with one consistent set.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from ..core.encoders import depth_png16
from ..core.png import DATA, write_png
from .atomic import atomic_path
from .layout import frame_stem, rgb_path

BOP_FOLDER = "bop"
SCENE = "train_pbr/000000"
DEPTH_SCALE = 1.0  # millimetres per unit of the depth PNGs: 16 bits reach 65.5 m
MM = 1000.0


def record_path(root: Path, frame: int) -> Path:
    """The frame's rows of the scene's JSON files (hidden: the JSON files are what users read)."""
    return root / ".bop" / f"{frame_stem(frame)}.json"


def scene_folder(root: Path) -> Path:
    return root / BOP_FOLDER / SCENE


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as stream:
        stream.write(data)


def _png(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as stream:
        write_png(stream, image, level=DATA)


def _box(box) -> list[int]:
    """[x_min, y_min, x_max, y_max] (inclusive) as BOP's [x, y, w, h]."""
    x0, y0, x1, y1 = (int(v) for v in box)
    return [x0, y0, x1 - x0 + 1, y1 - y0 + 1]


def write_frame(root: Path, frame: int, arrays: dict[str, np.ndarray]) -> None:
    """The frame's BOP files: its RGB (a link to ``rgb/``), depth in mm, each model
    instance's mask (whole silhouette) and visible mask, and its record, last."""
    scene = scene_folder(root)
    stem = frame_stem(frame)
    picture = scene / "rgb" / f"{stem}.png"
    picture.parent.mkdir(parents=True, exist_ok=True)
    picture.unlink(missing_ok=True)
    try:
        os.link(rgb_path(root, frame), picture)
    except OSError:  # another file system, or no links: a copy
        shutil.copyfile(rgb_path(root, frame), picture)
    depth = arrays["depth"]
    encoded = depth_png16(depth, MM / DEPTH_SCALE)
    _png(scene / "depth" / f"{stem}.png", encoded)
    width = depth.shape[1]
    whole = np.unpackbits(arrays["instance_amodal_masks"], axis=-1, count=width).astype(bool)
    gt, info = [], []
    for n in np.flatnonzero(arrays["instance_model"] > 0):
        pose = arrays["instance_pose"][n]
        seen = arrays["instance_id"] == arrays["instance_ids"][n]
        index = f"{stem}_{len(gt):06d}.png"
        _png(scene / "mask" / index, whole[n].astype(np.uint8) * 255)
        _png(scene / "mask_visib" / index, seen.astype(np.uint8) * 255)
        ys, xs = np.nonzero(seen)
        every, visible = int(arrays["instance_amodal_pixels"][n]), len(ys)
        gt.append(
            {
                "cam_R_m2c": pose[:3, :3].ravel().tolist(),
                "cam_t_m2c": (pose[:3, 3] * MM).tolist(),
                "obj_id": int(arrays["instance_model"][n]),
            }
        )
        info.append(
            {
                "bbox_obj": _box(arrays["instance_amodal_boxes"][n]),
                "bbox_visib": _box([xs.min(), ys.min(), xs.max(), ys.max()]) if visible else [-1, -1, -1, -1],
                "px_count_all": every,
                "px_count_valid": int(np.count_nonzero(whole[n] & (encoded > 0))),
                "px_count_visib": visible,
                "visib_fract": visible / every if every else 0.0,
            }
        )
    w2c = np.asarray(arrays["world_to_camera"], np.float64)
    camera = {
        "cam_K": np.asarray(arrays["K"], np.float64).ravel().tolist(),
        "cam_R_w2c": w2c[:3, :3].ravel().tolist(),
        "cam_t_w2c": (w2c[:3, 3] * MM).tolist(),
        "depth_scale": DEPTH_SCALE,
    }
    record = {"camera": camera, "gt": gt, "gt_info": info}
    _write(record_path(root, frame), json.dumps(record).encode())


def frame_files(root: Path, frame: int) -> list[Path]:
    """The files of a frame that tell it is there (its masks are named in its record)."""
    stem = frame_stem(frame)
    scene = scene_folder(root)
    return [scene / "rgb" / f"{stem}.png", scene / "depth" / f"{stem}.png", record_path(root, frame)]


def write_scene(
    root: Path, frames: list[int], models: list[tuple[np.ndarray, np.ndarray]], again: bool = False
) -> None:
    """The scene's ``scene_camera.json``, ``scene_gt.json`` and ``scene_gt_info.json`` from
    the records of ``frames``, and ``models/`` (each model's vertices in metres, in its
    model frame, and triangles; model i + 1 is ``models[i]``) with ``models_info.json``,
    unless ``again`` (the run wrote them already)."""
    cameras, gts, infos = {}, {}, {}
    for frame in frames:
        with open(record_path(root, frame), encoding="utf-8") as stream:
            record = json.load(stream)
        cameras[str(frame)], gts[str(frame)], infos[str(frame)] = record["camera"], record["gt"], record["gt_info"]
    scene = scene_folder(root)
    for name, table in (("scene_camera", cameras), ("scene_gt", gts), ("scene_gt_info", infos)):
        _write(scene / f"{name}.json", json.dumps(table, indent=1).encode())
    if again:
        return
    folder = root / BOP_FOLDER / "models"
    info = {}
    for i, (vertices, triangles) in enumerate(models, start=1):
        points = vertices * MM
        _write(folder / f"obj_{i:06d}.ply", _ply(points, triangles))
        low, high = points.min(axis=0), points.max(axis=0)
        info[str(i)] = {
            "diameter": _diameter(points),
            **{f"min_{a}": float(low[k]) for k, a in enumerate("xyz")},
            **{f"size_{a}": float(high[k] - low[k]) for k, a in enumerate("xyz")},
        }
    _write(folder / "models_info.json", json.dumps(info, indent=1).encode())


def _ply(points: np.ndarray, triangles: np.ndarray) -> bytes:
    """A binary little-endian PLY of the vertices (float32 x, y, z) and triangles, as the
    BOP toolkit's ``inout.load_ply`` reads it."""
    header = (
        "ply\nformat binary_little_endian 1.0\ncomment Ground Truth: a BOP model, millimetres\n"
        f"element vertex {len(points)}\nproperty float x\nproperty float y\nproperty float z\n"
        f"element face {len(triangles)}\nproperty list uchar int vertex_indices\nend_header\n"
    ).encode()
    faces = np.zeros(len(triangles), np.dtype([("n", "u1"), ("v", "<i4", 3)]))
    faces["n"], faces["v"] = 3, triangles
    return header + points.astype("<f4").tobytes() + faces.tobytes()


# Above this many vertices the diameter is sought among the extreme vertices along 1,024
# directions (both ends of the diameter are extreme along its own direction; a pair found
# this way is at most 0.2 % shorter).
DIAMETER_ALL_PAIRS = 4096


def _diameter(points: np.ndarray) -> float:
    """The largest distance between two vertices (as the BOP toolkit computes it)."""
    if len(points) > DIAMETER_ALL_PAIRS:
        directions = np.random.default_rng(0).normal(size=(1024, 3)).T
        directions = np.concatenate([directions, -directions], axis=1)
        best_value, best_index = np.full(directions.shape[1], -np.inf), np.zeros(directions.shape[1], np.int64)
        for start in range(0, len(points), 8192):
            along = points[start : start + 8192] @ directions
            top = along.argmax(axis=0)
            better = along[top, np.arange(len(top))] > best_value
            best_value[better], best_index[better] = along[top[better], np.flatnonzero(better)], start + top[better]
        points = points[np.unique(best_index)]
    best = 0.0
    for start in range(0, len(points), 256):
        block = points[start : start + 256]
        best = max(best, float(np.sqrt(((block[:, None, :] - points[None, :, :]) ** 2).sum(axis=-1)).max()))
    return best
