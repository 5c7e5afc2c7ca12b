# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-instance labels of a frame (no ``bpy``): each instance's whole (amodal) silhouette,
its visibility, its 6D pose and its 3D box (docs/contract.md, Objects).

The whole silhouette of an instance is the set of pixel centres whose ray meets its
triangles as if nothing else were in the scene. The frame's picture (the triangle each
pixel centre's ray meets first) already answers for most of them: a pixel whose ray meets
one of the instance's triangles first is in, one whose ray meets nothing is out. Only
the rays that meet another instance first, within the extent of the instance's
projected triangles (clipped to the camera's clipping range), are cast again against
its triangles alone. Its box is that set's on the unbounded image
plane: beyond the picture's edge, where rays are not cast, the extent of the projected
triangles at pixel centres. An instance is listed when its whole silhouette covers a pixel
centre of the picture, seen or hidden.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np

from . import motion, rays
from .boxes import boxes_from_mask
from .transform import transform

if TYPE_CHECKING:
    from .surfaces import FrameGeometry, Instance

# The rays of a silhouette are cast about this many at a time.
BLOCK_RAYS = 1 << 18
# Whole boxes reach no farther than this many pixels from the picture (they are int32).
EDGE_LIMIT = 1 << 30
# The instances' own ray engines kept between frames hold at most this many triangles.
KEPT_TRIANGLES = 1 << 20


class _OwnEngines:
    """Each instance's triangles made ready for rays in its own (local) coordinates, kept
    while its evaluated mesh stays the same: a rigid object's engine is built once, not
    once a frame (the frame's world positions change with every move)."""

    def __init__(self) -> None:
        self._kept: dict = {}  # key: (local vertices, triangles, engine), oldest first
        self._triangles = 0  # how many the kept engines hold
        self._lock = threading.Lock()

    def get(self, inst: Instance) -> rays.Triangles:
        with self._lock:
            kept = self._kept.pop(inst.key, None)
            self._triangles -= 0 if kept is None else len(kept[1])
        if kept is None or not (np.array_equal(kept[0], inst.local) and np.array_equal(kept[1], inst.triangles)):
            kept = (inst.local, inst.triangles, rays.Triangles(inst.local, inst.triangles))
        with self._lock:
            self._kept[inst.key] = kept  # now the newest
            self._triangles += len(kept[1])
            while self._triangles > KEPT_TRIANGLES and len(self._kept) > 1:
                self._triangles -= len(self._kept.pop(next(iter(self._kept)))[1])
        return kept[2]


_own_engines = _OwnEngines()


def _extent(view: motion.View, world: np.ndarray, triangles: np.ndarray) -> np.ndarray | None:
    """(x_min, y_min, x_max, y_max) in pixels of the triangles' projection, clipped to the
    clipping range (None where nothing of them is in it): the vertices within the range and
    the points where the triangles' edges cross its planes bound it."""
    m = np.asarray(view.world_to_camera, np.float64)
    camera = transform(world, m[:3, :3], m[:3, 3])
    z = camera[:, 2]
    near, far = view.clip
    within = (z >= near) & (z <= far)
    points = [camera[within]]
    if not within.all():
        edges = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
        a, b = camera[edges[:, 0]], camera[edges[:, 1]]
        for plane in (near, far):
            with np.errstate(divide="ignore", invalid="ignore"):
                s = (plane - a[:, 2]) / (b[:, 2] - a[:, 2])
            crossing = (s > 0) & (s < 1)
            points.append(a[crossing] + s[crossing, None] * (b[crossing] - a[crossing]))
    points = np.concatenate(points)
    if not len(points):
        return None
    x, y = points[:, 0], points[:, 1]
    if not view.orthographic:
        x, y = x / points[:, 2], y / points[:, 2]
    K = np.asarray(view.K, np.float64)
    u, v = K[0, 0] * x + K[0, 1] * y + K[0, 2], K[1, 1] * y + K[1, 2]
    return np.array([u.min(), v.min(), u.max(), v.max()])


def _silhouette(geometry: FrameGeometry, i: int, world: np.ndarray, rows: range, cols: range) -> np.ndarray:
    """(rows, cols) bool: whether the ray through each pixel centre meets instance
    ``i``'s triangles (its vertices ``world``) within the clipping range: where the
    frame's picture shows another instance, a ray cast against its triangles alone
    decides."""
    shown = geometry.picture()[rows.start : rows.stop, cols.start : cols.stop]
    first, last = geometry.first_triangle[i], geometry.first_triangle[i + 1]
    out = (shown >= first) & (shown < last)
    asked = np.flatnonzero((shown >= 0) & ~out)  # in front: another instance's triangle
    if not len(asked):
        return out
    inst, view = geometry.instances[i], geometry.view
    matrix = np.asarray(inst.matrix, np.float64)
    # Cast in the instance's own coordinates (the point at t along a ray is the same point
    # there), against an engine kept while its mesh is unchanged; a matrix that flattens
    # it in some axis has no inverse: then against its world triangles.
    if abs(np.linalg.det(matrix[:3, :3])) > 1e-12:
        engine, to_own = _own_engines.get(inst), np.linalg.inv(matrix)
    else:
        engine, to_own = rays.Triangles(world, inst.triangles), np.eye(4)
    for start in range(0, len(asked), BLOCK_RAYS):
        part = asked[start : start + BLOCK_RAYS]
        ys, xs = np.divmod(part, len(cols))
        origins, directions, per_depth = motion.pixel_rays(view, np.stack([xs + cols.start, ys + rows.start], 1))
        origins = transform(origins, to_own[:3, :3], to_own[:3, 3])
        directions = transform(directions, to_own[:3, :3])
        stretch = np.linalg.norm(directions, axis=1)  # unit directions there (Blender's BVH asks for them),
        directions /= stretch[:, None]  # and the clipping range's reach as long there as it is in the world
        hit = engine.hits(origins, directions, (view.clip[1] - view.clip[0]) * per_depth * stretch)
        out.flat[part[hit >= 0]] = True
    return out


def _box(mask: np.ndarray, rows: range, cols: range) -> np.ndarray:
    """[x_min, y_min, x_max, y_max] of a window's set pixels, in the picture's pixels."""
    ys, xs = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return np.array([cols.start + xs[0], rows.start + ys[0], cols.start + xs[-1], rows.start + ys[-1]])


def _packed_window(mask: np.ndarray, rows: range, cols: range) -> tuple[np.ndarray, int, int]:
    """A window's mask as ``np.packbits`` packs the picture's rows: its bytes, and the row
    and byte where they go (the window widened to whole bytes on the left)."""
    shift = cols.start % 8
    widened = np.pad(mask, ((0, 0), (shift, 0))) if shift else mask
    return np.packbits(widened, axis=-1), rows.start, cols.start // 8


def _area(box: np.ndarray) -> float:
    return float(max(0, box[2] - box[0] + 1) * max(0, box[3] - box[1] + 1))


def object_labels(geometry: FrameGeometry, instance_id: np.ndarray, masks: bool = False) -> dict[str, np.ndarray]:
    """The per-instance rows of docs/contract.md's Objects section for the frame's
    instances whose whole silhouette covers a pixel centre of the picture, by id:
    ``instance_ids``, ``instance_class``, ``instance_model``, ``instance_pose``, ``instance_box3d``,
    ``instance_visible_pixels``, ``instance_amodal_pixels``, ``instance_visibility``,
    ``instance_amodal_boxes``, ``instance_in_frame`` and, with ``masks``,
    ``instance_amodal_masks`` (packed bits). ``instance_id`` is the frame's (H, W) map
    of the instance each pixel shows (visible pixels count towards the silhouette too)."""
    view = geometry.view
    width, height = view.size
    picture = np.array([0, 0, width - 1, height - 1])
    seen_boxes = boxes_from_mask(instance_id)  # each shown instance's pixels: their box and count
    boxes, counts = seen_boxes["boxes"], seen_boxes["box_pixels"].tolist()
    visible = {i: (boxes[n], counts[n]) for n, i in enumerate(seen_boxes["box_index"].tolist())}
    rows_out: list[tuple] = []
    for i, inst in enumerate(geometry.instances):
        world = geometry.vertices[geometry.first_vertex[i] : geometry.first_vertex[i + 1]]
        extent = _extent(view, world, inst.triangles)
        if extent is None:
            continue
        centres = np.array([np.ceil(extent[0]), np.ceil(extent[1]), np.floor(extent[2]), np.floor(extent[3])])
        centres = np.clip(centres, -EDGE_LIMIT, EDGE_LIMIT)  # a mesh that reaches the near plane off-axis
        low, high = np.maximum(centres[:2], 0), np.minimum(centres[2:], picture[2:])
        seen = visible.get(inst.id)
        if seen is not None:  # a visible pixel's ray met the instance: it is in the window
            low = np.minimum(low, seen[0][:2])
            high = np.maximum(high, seen[0][2:])
        if (low > high).any():
            continue
        cols, rows = range(int(low[0]), int(high[0]) + 1), range(int(low[1]), int(high[1]) + 1)
        mask = _silhouette(geometry, i, world, rows, cols)
        amodal = int(np.count_nonzero(mask))
        if not amodal:
            continue
        box = _box(mask, rows, cols)
        if (centres[:2] < 0).any() or (centres[2:] > picture[2:]).any():  # cut by the picture's edge
            box = np.concatenate([np.minimum(box[:2], centres[:2]), np.maximum(box[2:], centres[2:])])
        clipped = np.concatenate([np.maximum(box[:2], 0), np.minimum(box[2:], picture[2:])])
        whole = _packed_window(mask, rows, cols) if masks else None
        shown = 0 if seen is None else seen[1]
        rows_out.append((inst.id, i, shown, amodal, box, _area(clipped) / _area(box), whole))
    rows_out.sort(key=lambda row: row[0])
    return _rows(geometry, rows_out, masks, (height, width))


def _rows(geometry: FrameGeometry, rows: list[tuple], masks: bool, size: tuple[int, int]) -> dict[str, np.ndarray]:
    count = len(rows)
    frames = geometry.model_frames()
    w2c = np.asarray(geometry.view.world_to_camera, np.float64)
    index = np.array([row[1] for row in rows], np.int64)
    pose = np.tile(np.eye(4), (count, 1, 1))
    pose[:, :3, :3] = w2c[:3, :3] @ frames.rotation[index]
    pose[:, :3, 3] = frames.translation[index] @ w2c[:3, :3].T + w2c[:3, 3]
    corner = np.arange(8)
    low, high = frames.low[index], frames.high[index]  # (N, 3)
    model = np.where(((corner[:, None] >> np.arange(3)) & 1).astype(bool)[None], high[:, None], low[:, None])
    visible = np.array([row[2] for row in rows], np.int64)
    amodal = np.array([row[3] for row in rows], np.int64)
    out = {
        "instance_ids": np.array([row[0] for row in rows], np.int32),
        "instance_class": np.array([geometry.instances[i].class_id for i in index], np.int32),
        "instance_model": np.array([geometry.instances[i].model for i in index], np.int32),
        "instance_pose": pose,
        "instance_box3d": np.einsum("nij,nkj->nki", pose[:, :3, :3], model) + pose[:, None, :3, 3],
        "instance_visible_pixels": visible,
        "instance_amodal_pixels": amodal,
        "instance_visibility": (visible / np.maximum(amodal, 1)).astype(np.float32),
        "instance_amodal_boxes": np.array([row[4] for row in rows], np.int32).reshape(count, 4),
        "instance_in_frame": np.array([row[5] for row in rows], np.float32),
    }
    if masks:
        height, width = size
        packed = np.zeros((count, height, (width + 7) // 8), np.uint8)
        for n, (window, at_row, at_byte) in enumerate(row[6] for row in rows):
            packed[n, at_row : at_row + window.shape[0], at_byte : at_byte + window.shape[1]] = window
        out["instance_amodal_masks"] = packed
    return out
