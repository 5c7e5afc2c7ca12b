# SPDX-License-Identifier: GPL-3.0-or-later
"""Where a surface point goes, and whether the camera sees it there: the numbers behind
occlusion, flow over k frames and point tracks, from plain arrays.

A surface point is a triangle of an object instance's evaluated mesh and barycentric
weights on it. At another frame the same weights on the same triangle (the instance's
vertices and world matrix there) give where the point went, so rigid motion, parents,
constraints, instances and deforming meshes (armatures, shape keys) are all one case.
``pipeline/motion.py`` captures the scene's geometry and ``surfaces.py`` casts
the rays; this module holds the camera geometry and the classification, tested without
Blender.

Pixel coordinates are OpenCV's with pixel centres at integers, as everywhere in the
contract; cameras are a ``K`` and a ``world_to_camera`` (``core/camera.py``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from .transform import transform

VISIBLE, HIDDEN, OUTSIDE, NO_SURFACE = 0, 1, 2, 255

# A surface closer to the camera than the point by less than this fraction of the
# point's distance does not hide it (float32 geometry, rays at grazing angles).
HIDE_TOLERANCE = 1e-4


@dataclass(frozen=True)
class View:
    """A camera at one frame: what projecting and casting rays need."""

    K: np.ndarray  # (3, 3)
    world_to_camera: np.ndarray  # (4, 4), OpenCV axes
    size: tuple[int, int]  # (W, H)
    orthographic: bool
    clip: tuple[float, float]  # clip_start, clip_end along the optical axis

    @property
    def rotation(self) -> np.ndarray:
        return np.asarray(self.world_to_camera, np.float64)[:3, :3]

    @property
    def centre(self) -> np.ndarray:
        """The camera's position in world coordinates."""
        m = np.asarray(self.world_to_camera, np.float64)
        return -m[:3, :3].T @ m[:3, 3]

    @property
    def forward(self) -> np.ndarray:
        """The optical axis (camera +z) in world coordinates."""
        return self.rotation[2]


def pixel_rays(view: View, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rays through pixel positions (N, 2) ``(x, y)``: world ``origins`` (N, 3) on the
    near clipping plane, unit ``directions`` (N, 3), and ``per_depth`` (N,), the distance
    along the ray per metre of planar depth (depth = clip_start + distance / per_depth)."""
    pixels = np.asarray(pixels, np.float64).reshape(-1, 2)
    K = np.asarray(view.K, np.float64)
    x = (pixels[:, 0] - K[0, 2]) / K[0, 0]
    y = (pixels[:, 1] - K[1, 2]) / K[1, 1]
    rotation = view.rotation  # rows: the camera's axes in world coordinates
    near = view.clip[0]
    if view.orthographic:  # parallel rays; K maps metres on the image plane to pixels
        offsets = transform(np.stack([x, y, np.full_like(x, near)], axis=1), rotation.T)
        origins = view.centre + offsets
        directions = np.broadcast_to(view.forward, origins.shape).copy()
        per_depth = np.ones(len(pixels))
    else:  # (x, y, 1) / its length, into world axes a coordinate at a time (flat arrays)
        per_depth = np.sqrt(x * x + y * y + 1.0)
        inverse = 1.0 / per_depth
        directions = np.empty((len(x), 3))
        for i, column in enumerate(directions.T):
            np.multiply(x, rotation[0, i], out=column)
            column += y * rotation[1, i]
            column += rotation[2, i]
            column *= inverse
        origins = directions * (near * per_depth)[:, None]
        origins += view.centre
    return origins, directions, per_depth


def grid_rays(view: View, rows: range, cols: range | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rays of :func:`pixel_rays` through every pixel centre of ``rows`` (and of
    ``cols``: every column by default), row by row, in single precision (the ray
    engine's): origins and unit directions (N, 3), and the reach of the clipping range
    along each (N,). A perspective camera's rays in its own axes are the same at every
    frame while its K and clipping range are: kept (up to ``KEPT_RAYS`` of them), and
    only turned and moved."""
    K = np.asarray(view.K, np.float64)
    cols = range(view.size[0]) if cols is None else cols
    near, far = view.clip
    if view.orthographic:
        x = ((np.arange(cols.start, cols.stop) - K[0, 2]) / K[0, 0]).astype(np.float32)[None, :, None]
        y = ((np.arange(rows.start, rows.stop) - K[1, 2]) / K[1, 1]).astype(np.float32)[:, None, None]
        right, down, forward = view.rotation.astype(np.float32)  # the camera's axes in world coordinates
        origins = view.centre.astype(np.float32) + x * right + y * down + np.float32(near) * forward
        reach = np.full(origins.shape[:2], far - near, np.float32)
        return origins.reshape(-1, 3), np.broadcast_to(forward, (reach.size, 3)), reach.reshape(-1)
    key = (K.tobytes(), near, far, rows, cols)
    with _GRID_LOCK:
        kept = _GRID.get(key)
    if kept is None:
        x = ((np.arange(cols.start, cols.stop) - K[0, 2]) / K[0, 0]).astype(np.float32)[None, :]
        y = ((np.arange(rows.start, rows.stop) - K[1, 2]) / K[1, 1]).astype(np.float32)[:, None]
        length = np.sqrt(x * x + y * y + 1.0)  # metres along the ray per metre of planar depth
        own = np.stack(np.broadcast_arrays(x / length, y / length, 1 / length), axis=-1).reshape(-1, 3)
        kept = (own, own * (length * np.float32(near)).reshape(-1, 1), (length * np.float32(far - near)).reshape(-1))
        with _GRID_LOCK:
            if sum(len(rays[0]) for rays in _GRID.values()) + len(own) > KEPT_RAYS:
                _GRID.clear()  # another camera's
            if view.size[0] * view.size[1] <= KEPT_RAYS:  # a larger picture's bands would push each other out
                _GRID[key] = kept
    own, to_near, reach = kept
    to_world = view.rotation.T  # the rotation's rows are the camera's axes in world coordinates
    return transform(to_near, to_world, view.centre), transform(own, to_world), reach


# Pixel centres' rays kept in a camera's own axes (28 bytes each): a 1920×1080 picture's.
KEPT_RAYS = 1 << 21
_GRID: dict[tuple, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
_GRID_LOCK = threading.Lock()


def project(view: View, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel positions (N, 2) and planar depths (N,) of world points (N, 3). Points at or
    behind a perspective camera's centre get NaN positions."""
    points = np.asarray(points, np.float64).reshape(-1, 3)
    m = np.asarray(view.world_to_camera, np.float64)
    x, y, z = (points[:, 0] * m[i, 0] + points[:, 1] * m[i, 1] + points[:, 2] * m[i, 2] + m[i, 3] for i in range(3))
    K = np.asarray(view.K, np.float64)
    if not view.orthographic:
        with np.errstate(divide="ignore", invalid="ignore"):
            behind = z <= 0
            x /= z
            y /= z
            x[behind] = np.nan
            y[behind] = np.nan
    pixels = np.empty((len(points), 2))
    np.multiply(x, K[0, 0], out=pixels[:, 0])
    pixels[:, 0] += K[0, 2]
    np.multiply(y, K[1, 1], out=pixels[:, 1])
    pixels[:, 1] += K[1, 2]
    return pixels, z


def in_picture(view: View, pixels: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Whether projected points land inside the picture and the clipping range: pixel
    (x, y) with -0.5 <= x < W - 0.5 and -0.5 <= y < H - 0.5 (the area of the picture's
    pixels), clip_start <= depth <= clip_end."""
    width, height = view.size
    x, y = pixels[:, 0], pixels[:, 1]
    with np.errstate(invalid="ignore"):
        return (
            (x >= -0.5) & (x < width - 0.5) & (y >= -0.5) & (y < height - 0.5)
            & (depth >= view.clip[0]) & (depth <= view.clip[1])
        )  # fmt: skip


def classify(inside: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """uint8 codes: ``OUTSIDE`` where not ``inside``, else ``HIDDEN`` or ``VISIBLE``."""
    return np.where(inside, np.where(hidden, HIDDEN, VISIBLE), OUTSIDE).astype(np.uint8)


def flow_to(pixels_from: np.ndarray, pixels_to: np.ndarray) -> np.ndarray:
    """Flow (N, 2) float32 from positions at t to positions at t±k (NaN where either is)."""
    return (np.asarray(pixels_to, np.float64) - np.asarray(pixels_from, np.float64)).astype(np.float32)


def offsets_from_text(text: str) -> tuple[int, ...]:
    """``"2,4,8"`` → ``(2, 4, 8)``: the extra flow offsets k >= 2, sorted, no repeats.
    Raises ``ValueError`` with a message for the user."""
    values = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        if not part.isdigit() or int(part) < 2:
            raise ValueError(f"flow offsets are whole numbers of frames, 2 or more (k = 1 is flow itself): {part!r}")
        values.add(int(part))
    return tuple(sorted(values))
