# SPDX-License-Identifier: GPL-3.0-or-later
"""Files that 3D reconstruction tools read, from the exported K and poses (numpy only).

Each follows its tool's own conventions, not ours:

* nerfstudio's ``transforms.json``: camera-to-world matrices in OpenGL camera axes
  (x right, y up, z back, which are Blender's own camera axes), ``fl_x``, ``fl_y``,
  ``cx``, ``cy``, ``w``, ``h``, and per frame ``file_path`` and ``depth_file_path``.
* COLMAP's text model: ``cameras.txt`` (PINHOLE: fx fy cx cy), ``images.txt``
  (world→camera as a unit quaternion qw qx qy qz and a translation, OpenCV axes),
  ``points3D.txt``.

Both put the top-left pixel's centre at (0.5, 0.5), where our K puts it at (0, 0): their
``cx``, ``cy`` are K's plus 0.5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# OpenCV camera axes (x right, y down, z forward) → OpenGL's (x right, y up, z back).
OPENCV_TO_OPENGL = np.diag([1.0, -1.0, -1.0])
PIXEL_CENTRE = 0.5  # their coordinate of the top-left pixel's centre, minus ours


@dataclass(frozen=True)
class Image:
    """One exported picture: a view's frame, its files (relative to the output folder,
    POSIX paths) and its camera."""

    view: str
    frame: int
    file_path: str
    depth_file_path: str | None
    K: np.ndarray
    world_to_camera: np.ndarray
    size: tuple[int, int]  # (W, H)


def camera_to_world_opengl(world_to_camera: np.ndarray) -> np.ndarray:
    """nerfstudio's ``transform_matrix``: camera → world with OpenGL camera axes."""
    rotation, translation = world_to_camera[:3, :3], world_to_camera[:3, 3]
    out = np.eye(4)
    out[:3, :3] = rotation.T @ OPENCV_TO_OPENGL
    out[:3, 3] = -rotation.T @ translation
    return out


def _intrinsics(K: np.ndarray, size: tuple[int, int]) -> dict[str, float]:
    return {
        "fl_x": float(K[0, 0]),
        "fl_y": float(K[1, 1]),
        "cx": float(K[0, 2]) + PIXEL_CENTRE,
        "cy": float(K[1, 2]) + PIXEL_CENTRE,
        "w": int(size[0]),
        "h": int(size[1]),
    }


def transforms(images: list[Image], depth_scale_per_metre: float | None) -> dict:
    """``transforms.json``: intrinsics at the top when every image shares them, else per
    frame; ``depth_unit_scale_factor`` (metres per depth PNG unit) with depth files."""
    shared = {_intrinsics_key(_intrinsics(i.K, i.size)) for i in images}
    out: dict = {"camera_model": "OPENCV", "k1": 0.0, "k2": 0.0, "p1": 0.0, "p2": 0.0}
    if len(shared) == 1:
        out.update(_intrinsics(images[0].K, images[0].size))
    if depth_scale_per_metre is not None:
        out["depth_unit_scale_factor"] = 1.0 / depth_scale_per_metre
    frames = []
    for image in images:
        entry = {
            "file_path": image.file_path,
            "transform_matrix": camera_to_world_opengl(image.world_to_camera).tolist(),
        }
        if len(shared) > 1:
            entry.update(_intrinsics(image.K, image.size))
        if image.depth_file_path is not None and depth_scale_per_metre is not None:
            entry["depth_file_path"] = image.depth_file_path
        entry["view"], entry["frame"] = image.view, image.frame
        frames.append(entry)
    out["frames"] = frames
    return out


def _intrinsics_key(values: dict) -> tuple:
    return tuple(sorted(values.items()))


def quaternion(rotation: np.ndarray) -> np.ndarray:
    """The unit quaternion (w, x, y, z), w ≥ 0, of a 3×3 rotation matrix."""
    r = np.asarray(rotation, dtype=np.float64)
    trace = np.trace(r)
    if trace > 0:
        s = 2.0 * math.sqrt(1.0 + trace)
        q = [0.25 * s, (r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s]
    else:
        i = int(np.argmax(np.diag(r)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * math.sqrt(1.0 + r[i, i] - r[j, j] - r[k, k])
        q = [0.0] * 4
        q[0] = (r[k, j] - r[j, k]) / s
        q[1 + i] = 0.25 * s
        q[1 + j] = (r[j, i] + r[i, j]) / s
        q[1 + k] = (r[k, i] + r[i, k]) / s
    q = np.array(q)
    q /= np.linalg.norm(q)
    return -q if q[0] < 0 else q


@dataclass(frozen=True)
class Points:
    """3D points seen in one image: world positions (N, 3), colours (N, 3) uint8, and
    where the image sees them: COLMAP pixel coordinates (N, 2)."""

    xyz: np.ndarray
    rgb: np.ndarray
    pixels: np.ndarray


def sample_points(image: Image, depth: np.ndarray, rgb: np.ndarray, count: int) -> Points:
    """Up to ``count`` surface points of ``image`` on a regular pixel grid, lifted from
    its planar ``depth`` (inf: no surface) through K and the pose."""
    height, width = depth.shape
    step = max(1, math.ceil(math.sqrt(height * width / max(count, 1))))
    ys, xs = np.mgrid[step // 2 : height : step, step // 2 : width : step]
    ys, xs = ys.ravel(), xs.ravel()
    z = depth[ys, xs].astype(np.float64)
    seen = np.isfinite(z) & (z > 0)
    ys, xs, z = ys[seen][:count], xs[seen][:count], z[seen][:count]
    rays = np.linalg.inv(image.K) @ np.stack([xs, ys, np.ones_like(xs)]).astype(np.float64)
    camera = rays * z
    rotation, translation = image.world_to_camera[:3, :3], image.world_to_camera[:3, 3]
    world = (rotation.T @ (camera - translation[:, None])).T
    pixels = np.stack([xs, ys], 1).astype(np.float64) + PIXEL_CENTRE
    return Points(world, rgb[ys, xs], pixels)


def colmap_text(images: list[Image], points: list[Points] | None) -> dict[str, str]:
    """The three files of COLMAP's text model, by name. Cameras are shared by images
    with the same intrinsics; ``points`` (one per image, or None: no points) each
    become a 3D point observed by its image alone."""
    cameras: dict[tuple, int] = {}
    camera_lines, image_lines, point_lines = [], [], []
    next_point = 1
    for index, image in enumerate(images):
        intrinsics = _intrinsics(image.K, image.size)
        key = _intrinsics_key(intrinsics)
        if key not in cameras:
            cameras[key] = len(cameras) + 1
            i = intrinsics
            camera_lines.append(
                f"{cameras[key]} PINHOLE {i['w']} {i['h']} {_f(i['fl_x'])} {_f(i['fl_y'])} {_f(i['cx'])} {_f(i['cy'])}"
            )
        q = quaternion(image.world_to_camera[:3, :3])
        t = image.world_to_camera[:3, 3]
        image_id = index + 1
        image_lines.append(" ".join([str(image_id), *map(_f, q), *map(_f, t), str(cameras[key]), image.file_path]))
        observed = []
        if points is not None:
            seen = points[index]
            for j, (xyz, rgb, pixel) in enumerate(zip(seen.xyz, seen.rgb, seen.pixels, strict=True)):
                observed.append(f"{_f(pixel[0])} {_f(pixel[1])} {next_point}")
                point_lines.append(
                    f"{next_point} {_f(xyz[0])} {_f(xyz[1])} {_f(xyz[2])} {int(rgb[0])} {int(rgb[1])} {int(rgb[2])} "
                    f"0 {image_id} {j}"
                )
                next_point += 1
        image_lines.append(" ".join(observed))
    header = "# Written by Ground Truth (Blender): exact cameras of a synthetic render\n"
    return {
        "cameras.txt": header + "# CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]\n" + _lines(camera_lines),
        "images.txt": header
        + "# IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME\n# POINTS2D[] as (X, Y, POINT3D_ID)\n"
        + _lines(image_lines),
        "points3D.txt": header
        + "# POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)\n"
        + _lines(point_lines),
    }


def _f(value: float) -> str:
    return repr(float(value))


def _lines(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)
