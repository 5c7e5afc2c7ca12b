# SPDX-License-Identifier: GPL-3.0-or-later
"""A 3D view of a run: every view and frame of an output folder as one Rerun recording,
``run.rrd`` in the folder, opened in Rerun's viewer where one can run.

    python -m ground_truth.cli view DIR [--no-viewer] [--max-points N]

Needs ``rerun-sdk`` (not Blender). What the recording holds, entity by entity, and its
conventions are in ``docs/contract.md`` (3D view).
"""

from __future__ import annotations

import io
import math
import os
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from .core.png import write_png
from .core.previews import mask_colours, preview, preview_keys
from .core.tracks import TRACKS_NAME, track_colours
from .exporters.atomic import atomic_path
from .exporters.frame_io import FrameFileError, load_frame
from .exporters.layout import frame_file, inside, preview_path, rgb_path
from .exporters.meta import read_meta
from .loader import read_rgb

RECORDING_NAME = "run.rrd"
INSTALL = "pip install rerun-sdk"
# A frame's depth points: at most this many, on a regular pixel grid (--max-points).
MAX_POINTS = 100_000
# Rerun's image coordinates put the top-left pixel's centre at (0.5, 0.5); ours at (0, 0).
RERUN_PIXEL = 0.5
# Rerun's class ids are 16-bit: the last is the unknown surface, and instances past the
# 65 533rd share the one before it.
MAX_CLASSES = 65535
UNKNOWN_SURFACE = -1  # instance_id of a surface the scene's meshes do not hold
# Logged as segmentation, not as pictures (semantic after the others: its classes are meta.json's).
MASKS = ("instance_id", "object_index", "material_index", "semantic")
# A 3D box's edges, as pairs of its corners (corner i: max x if i & 1, y if i & 2, z if i & 4).
BOX_EDGES = ((0, 1), (2, 3), (4, 5), (6, 7), (0, 2), (1, 3), (4, 6), (5, 7), (0, 4), (1, 5), (2, 6), (3, 7))


class ViewerError(Exception):
    """The folder cannot be shown (the message says why, in one line)."""


def rerun_installed() -> bool:
    return find_spec("rerun") is not None


def can_open_viewer() -> bool:
    """Whether a viewer window can open here: a desktop (macOS, Windows) or a display."""
    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_viewer(path: Path) -> subprocess.Popen:
    """Start Rerun's viewer on a recording, detached from this process."""
    return subprocess.Popen(
        [sys.executable, "-m", "rerun", str(path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _views(root: Path) -> list[tuple[str, Path]]:
    """(entity name, folder) of every view: ``camera`` for a folder of one view."""
    meta = read_meta(root)
    if meta is None:
        raise ViewerError(f"{root}: no meta.json (not a Ground Truth output folder)")
    if "views" in meta:
        try:
            return [(view["name"], inside(root, view["folder"])) for view in meta["views"]]
        except ValueError as error:
            raise ViewerError(f"{root / 'meta.json'}: {error}") from None
    return [("camera", root)]


def lift(xs, ys, z, K: np.ndarray, world_to_camera: np.ndarray, orthographic: bool) -> np.ndarray:
    """World points (N, 3) seen at pixels (xs, ys) (centres at integer coordinates) at
    planar depth z, through K and the pose."""
    x = (np.asarray(xs, np.float64) - K[0, 2]) / K[0, 0]
    y = (np.asarray(ys, np.float64) - K[1, 2]) / K[1, 1]
    z = np.asarray(z, np.float64)
    camera = np.stack([x, y, np.ones_like(x)]) * (1.0 if orthographic else z)
    camera[2] = z
    rotation, translation = world_to_camera[:3, :3], world_to_camera[:3, 3]
    return (rotation.T @ (camera - translation[:, None])).T


def world_points(arrays: dict[str, np.ndarray], orthographic: bool, step: int):
    """The surface points of every ``step``-th pixel (from ``step // 2``), in world
    axes: the frame's ``points_world`` where it has them, else its depth lifted through
    K and the pose: (points (N, 3), rows (N,), columns (N,))."""
    depth = arrays["depth"]
    height, width = depth.shape
    ys, xs = np.mgrid[step // 2 : height : step, step // 2 : width : step]
    z = depth[ys, xs]
    seen = np.isfinite(z) & (z > 0)
    if "points_world" in arrays:
        return arrays["points_world"][ys[seen], xs[seen]].astype(np.float64), ys[seen], xs[seen]
    lifted = lift(xs[seen], ys[seen], z[seen], arrays["K"], arrays["world_to_camera"], orthographic)
    return lifted, ys[seen], xs[seen]


def grid_step(height: int, width: int, max_points: int) -> int:
    return max(1, math.ceil(math.sqrt(height * width / max(max_points, 1))))


def rerun_intrinsics(K: np.ndarray) -> np.ndarray:
    """K in Rerun's image coordinates (the top-left pixel's centre at (0.5, 0.5))."""
    shifted = np.array(K, dtype=np.float64)
    shifted[:2, 2] += RERUN_PIXEL
    return shifted


def instance_classes(instances: dict[str, dict]) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """The sorted instance ids and, for each, its class id (1, 2, …) and label."""
    ids = np.array(sorted(int(key) for key in instances), dtype=np.int64)
    labels = []
    for rank, key in enumerate(ids[: MAX_CLASSES - 2], 1):
        row = instances[str(key)]
        label = row["object"] if not row.get("instancer") else f"{row['object']} ({row['instancer']})"
        labels.append((rank, label))
    if len(ids) > MAX_CLASSES - 2:  # the rest share the last class but one
        labels.append((MAX_CLASSES - 1, f"{len(ids) - (MAX_CLASSES - 2)} more instances"))
    labels.append((MAX_CLASSES, "a surface the meshes do not hold"))
    return ids, labels


def instance_image(instance_id: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The class image of an instance_id array: 0 background, 1… by ``ids``' order."""
    rank = np.searchsorted(ids, instance_id) + 1
    known = (instance_id != 0) & (rank <= len(ids))
    known[known] = ids[rank[known] - 1] == instance_id[known]
    classes = np.where(known, np.minimum(rank, MAX_CLASSES - 1), 0)
    classes[instance_id == UNKNOWN_SURFACE] = MAX_CLASSES
    return classes.astype(np.uint16)


def _annotations(rr, labels: list[tuple[int, str]]):
    ids = np.array([class_id for class_id, _ in labels])
    colours = mask_colours(ids)
    return rr.AnnotationContext(
        [
            rr.ClassDescription(info=(int(i), label, tuple(int(c) for c in colour)))
            for (i, label), colour in zip(labels, colours, strict=True)
        ]
    )


def write_recording(root: str | Path, max_points: int = MAX_POINTS) -> Path:
    """Write ``root/run.rrd`` (atomically) and return its path."""
    import rerun as rr

    root = Path(root)
    views = _views(root)
    path = root / RECORDING_NAME
    with atomic_path(path) as tmp:
        recording = rr.RecordingStream("ground_truth", recording_id=str(root.resolve()))
        recording.save(tmp)
        try:
            recording.log("world", rr.ViewCoordinates.RIGHT_HAND_Z_UP, static=True)  # Blender's world
            for name, folder in views:
                _log_view(rr, recording, name, folder, max_points)
        finally:
            recording.flush()
            recording.disconnect()
    return path


def _log_view(rr, recording, name: str, folder: Path, max_points: int) -> None:
    meta = read_meta(folder)
    if meta is None:
        raise ViewerError(f"{folder}: no meta.json")
    camera = f"world/{name}"
    orthographic = meta.get("projection") == "orthographic"
    ids, labels = instance_classes(meta.get("instances", {}))
    recording.log(f"{camera}/instance_id", _annotations(rr, labels), static=True)
    for kind in MASKS[1:3]:
        names = {int(k): ", ".join(v) for k, v in meta.get(f"{kind}_names", {}).items()}
        recording.log(f"{camera}/{kind}", _annotations(rr, sorted(names.items())), static=True)
    classes = sorted((int(i), name) for name, i in meta.get("classes", {}).items())
    for entity in (f"{camera}/semantic", f"world/boxes/{name}"):
        recording.log(entity, _annotations(rr, classes), static=True)
    tracks = _tracks(folder)
    centres = []
    for frame in meta["frames_written"]:
        picture = rgb_path(folder, frame)
        try:
            arrays = load_frame(frame_file(folder, frame))
            rgb = read_rgb(picture)[..., :3] if picture.exists() else None
        except FrameFileError as error:  # one damaged frame does not cost the recording
            print(f"ground_truth view: skipping frame {frame}: {error}", file=sys.stderr)
            continue
        recording.set_time("frame", sequence=frame)
        K, world_to_camera = arrays["K"], arrays["world_to_camera"]
        camera_to_world = np.linalg.inv(world_to_camera)
        centres.append(camera_to_world[:3, 3])
        recording.log(camera, rr.Transform3D(translation=camera_to_world[:3, 3], mat3x3=camera_to_world[:3, :3]))
        if not orthographic:  # Rerun's pinhole is a perspective camera only
            size = meta["resolution"]
            recording.log(
                camera,
                rr.Pinhole(image_from_camera=rerun_intrinsics(K), resolution=size, camera_xyz=rr.ViewCoordinates.RDF),
            )
        if rgb is not None:
            recording.log(f"{camera}/rgb", rr.EncodedImage(path=picture))
        if "depth" in arrays:
            step = grid_step(*arrays["depth"].shape, max_points)
            points, ys, xs = world_points(arrays, orthographic, step)
            recording.log(f"world/points/{name}", rr.Points3D(points, colors=None if rgb is None else rgb[ys, xs]))
            # Metres, 0 where no surface is: the viewer colours it and, under the pinhole,
            # lifts it into the 3D view itself.
            depth = np.where(np.isfinite(arrays["depth"]), arrays["depth"], np.float32(0))
            recording.log(f"{camera}/depth", rr.DepthImage(depth, meter=1.0))
        for key in preview_keys(arrays):
            if key not in MASKS and key != "depth":  # depth is the DepthImage above
                recording.log(f"{camera}/{key}", _picture(rr, folder, key, frame, arrays[key]))
        if "instance_id" in arrays:
            recording.log(f"{camera}/instance_id", rr.SegmentationImage(instance_image(arrays["instance_id"], ids)))
            classes = instance_image(arrays["instance_box_id"], ids)
            _log_boxes(rr, recording, f"{camera}/instance_id/boxes", arrays["instance_boxes"], classes)
        for kind in MASKS[1:]:
            if kind in arrays:
                labels = np.maximum(arrays[kind], 0)  # semantic's -1 (an unknown surface): none
                recording.log(f"{camera}/{kind}", rr.SegmentationImage(labels.astype(np.uint16)))
        if "boxes" in arrays:
            _log_boxes(rr, recording, f"{camera}/object_index/boxes", arrays["boxes"], arrays["box_index"])
        if "instance_box3d" in arrays:  # in the world, coloured by class
            corners = arrays["instance_box3d"] @ camera_to_world[:3, :3].T + camera_to_world[:3, 3]
            strips = [corners[:, edge] for edge in BOX_EDGES]
            recording.log(
                f"world/boxes/{name}",
                rr.LineStrips3D(
                    np.stack(strips, axis=1).reshape(-1, 2, 3),
                    class_ids=np.repeat(arrays["instance_class"], len(BOX_EDGES)),
                ),
            )
        if tracks is not None and frame in tracks["index"]:
            _log_tracks(rr, recording, name, tracks, tracks["index"][frame], K, world_to_camera, orthographic)
    if centres:
        recording.log(f"world/paths/{name}", rr.LineStrips3D([np.array(centres)]), static=True)


def _log_boxes(rr, recording, entity: str, boxes: np.ndarray, classes: np.ndarray) -> None:
    corners = boxes.astype(np.float64)
    corners[:, 2:] += 1  # inclusive pixels: x0 … x1 covers [x0, x1 + 1) in Rerun's coordinates
    recording.log(entity, rr.Boxes2D(array=corners, array_format=rr.Box2DFormat.XYXY, class_ids=classes))


def _tracks(folder: Path) -> dict | None:
    path = folder / TRACKS_NAME
    if not path.exists():
        return None
    tracks = load_frame(path)
    tracks["index"] = {int(frame): t for t, frame in enumerate(tracks["frames"])}
    return tracks


def _log_tracks(rr, recording, name: str, tracks: dict, t: int, K, world_to_camera, orthographic) -> None:
    """The points of frame index ``t`` that are not occluded: in the image (Rerun's
    coordinates) and in the world, lifted at their track depth."""
    seen = ~tracks["occluded"][:, t]
    ids = np.flatnonzero(seen)
    colours = track_colours(len(seen))[seen]
    xy = tracks["target_points"][seen, t].astype(np.float64)
    recording.log(f"world/{name}/tracks", rr.Points2D(xy + RERUN_PIXEL, colors=colours, keypoint_ids=ids))
    world = lift(xy[:, 0], xy[:, 1], tracks["track_depth"][seen, t], K, world_to_camera, orthographic)
    recording.log(f"world/tracks/{name}", rr.Points3D(world, colors=colours, keypoint_ids=ids))


def _picture(rr, folder: Path, key: str, frame: int, array: np.ndarray):
    """The array's preview as a PNG: the folder's own file, else made here (raw pictures
    would make the recording tens of MB a frame at 1080p)."""
    path = preview_path(folder, key, frame)
    if path.exists():
        return rr.EncodedImage(path=path)
    stream = io.BytesIO()
    write_png(stream, preview(key, array)[0])
    return rr.EncodedImage(contents=stream.getvalue(), media_type="image/png")
