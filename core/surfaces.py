# SPDX-License-Identifier: GPL-3.0-or-later
"""The surfaces the rays find, and where they are at other frames (no ``bpy``).

A frame's geometry (:class:`FrameGeometry`, captured by ``pipeline/motion.py``) holds every
camera-visible instance's evaluated mesh and its triangles in world space. A ray through
a pixel centre finds a :class:`Surfaces` point (instance, triangle, barycentric weights);
:func:`locate` carries it to another frame by its three vertices, and :func:`observe`
says where that frame's camera sees it, and whether anything hides it. The reasoning is
``pipeline/motion.py``'s docstring; the rays are ``rays.py``'s.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from . import instances, motion, rays

# Where the rendered depth and the ray's differ by more than this fraction, the pixel
# shows something the geometry does not hold (a render-only effect such as displacement):
# its answers are left undefined rather than guessed.
RENDER_MISMATCH = 0.05


@dataclass
class Instance:
    """One object instance at one frame: its evaluated mesh in local coordinates, and
    (once the frame's triangles are gathered) in world coordinates."""

    key: instances.Key  # stable over frames: (object name, instancer name, persistent id)
    pass_index: int
    matrix: np.ndarray  # (4, 4) world matrix
    local: np.ndarray  # (V, 3) vertex positions
    triangles: np.ndarray  # (T, 3) vertex indices
    polygons: np.ndarray  # (T,) the mesh face each triangle is part of
    materials: np.ndarray  # (T,) the pass index of each triangle's material (0: none)
    id: int = 0  # its instance id (core/instances.py), set once the frame's keys are known
    world: np.ndarray | None = None  # (V, 3) vertex positions in world space, set by capture()


@dataclass
class FrameGeometry:
    view: motion.View
    instances: list[Instance]
    first_triangle: np.ndarray  # (I + 1,): instance i owns triangles [first[i], first[i + 1]) of ``triangles``
    triangles: rays.Triangles | None

    def __post_init__(self) -> None:
        self.by_key = {inst.key: i for i, inst in enumerate(self.instances)}
        ids = instances.instance_ids(self.by_key)
        for inst in self.instances:
            inst.id = ids[inst.key]
        # Per triangle, the face it belongs to: instance index and polygon in one int.
        self.face = np.concatenate(
            [face_id(i, inst.polygons) for i, inst in enumerate(self.instances)] or [np.zeros(0, np.int64)]
        )

    def seen_from(self, view: motion.View) -> FrameGeometry:
        """The same geometry, its rays cast from another camera (shares everything else)."""
        other = copy.copy(self)
        other.view = view
        return other


def face_id(instance: int, polygons: np.ndarray) -> np.ndarray:
    """One int64 per (instance index, mesh face) pair."""
    return (np.int64(instance) << 32) + polygons.astype(np.int64)


@dataclass
class Surfaces:
    """Surface points seen at some frame: per point the instance (an index into
    ``instances``; -1 where none), the instance's own triangle, barycentric weights on
    its three vertices, and the point's planar depth there. Another frame's mesh carries
    the point when it has as many vertices."""

    instances: list[Instance]
    instance: np.ndarray  # (N,) int
    triangle: np.ndarray  # (N,) int
    weights: np.ndarray  # (N, 3)
    depth: np.ndarray  # (N,)

    def corners(self, i: int, on: np.ndarray) -> np.ndarray:
        """(n, 3) vertex indices of the points ``on`` (a mask of points of instance ``i``)."""
        return self.instances[i].triangles[self.triangle[on]]

    def take(self, chosen: np.ndarray) -> Surfaces:
        """The points ``chosen`` (an index array), in that order."""
        return Surfaces(
            self.instances, self.instance[chosen], self.triangle[chosen], self.weights[chosen], self.depth[chosen]
        )

    def _per_instance(self, values: list[int], none: int) -> np.ndarray:
        return np.array([*values, none], np.int64)[self.instance]

    @property
    def pass_index(self) -> np.ndarray:
        """(N,) the pass index of each point's object (0 where none)."""
        return self._per_instance([inst.pass_index for inst in self.instances], 0)

    def label(self, name: str) -> np.ndarray:
        """Per point (int32) the surface's ``instance_id``, ``object_index`` or
        ``material_index``; 0 where there is none."""
        if name == "instance_id":
            return self._per_instance([inst.id for inst in self.instances], 0).astype(np.int32)
        if name == "object_index":
            return self.pass_index.astype(np.int32)
        material = np.zeros(len(self.instance), np.int32)
        for i, inst in enumerate(self.instances):
            on = self.instance == i
            material[on] = inst.materials[self.triangle[on]]
        return material


def concat(parts: list[Surfaces]) -> Surfaces:
    if not parts:
        return Surfaces([], np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 3)), np.zeros(0))
    chosen, instance = [], []
    for part in parts:
        instance.append(np.where(part.instance >= 0, part.instance + len(chosen), -1))
        chosen += part.instances
    return Surfaces(
        chosen,
        np.concatenate(instance),
        np.concatenate([p.triangle for p in parts]),
        np.concatenate([p.weights for p in parts]),
        np.concatenate([p.depth for p in parts]),
    )


def cast(geometry: FrameGeometry, origins, directions, distances) -> tuple[np.ndarray, np.ndarray]:
    """First hits of rays: triangle index (-1: none) and distance."""
    if geometry.triangles is None:
        return np.full(len(origins), -1, np.int64), np.full(len(origins), np.inf)
    return geometry.triangles.cast(origins, directions, distances)


def _world_triangles(inst: Instance, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    corners = inst.world[inst.triangles[triangles]]
    return corners[:, 0], corners[:, 1], corners[:, 2]


def surfaces_at(geometry: FrameGeometry, pixels: np.ndarray) -> Surfaces:
    """The surface points the camera sees through pixel positions (N, 2)."""
    view = geometry.view
    origins, directions, per_depth = motion.pixel_rays(view, pixels)
    reach = (view.clip[1] - view.clip[0]) * per_depth
    hit, travelled = cast(geometry, origins, directions, reach)
    count = len(hit)
    found = hit >= 0
    instance = np.full(count, -1, np.int64)
    instance[found] = np.searchsorted(geometry.first_triangle, hit[found], side="right") - 1
    triangle = np.where(found, hit - geometry.first_triangle[np.maximum(instance, 0)], -1)
    weights = np.full((count, 3), np.nan)
    points = origins + directions * np.where(found, travelled, 0.0)[:, None]
    used = np.unique(instance[found])
    for i in used:
        on = instance == i
        a, b, c = _world_triangles(geometry.instances[i], triangle[on])
        weights[on] = motion.barycentric(points[on], a, b, c)
    depth = np.where(found, view.clip[0] + travelled / per_depth, np.inf)
    local = np.full(len(geometry.instances) + 1, -1, np.int64)
    local[used] = np.arange(len(used))
    return Surfaces([geometry.instances[i] for i in used], local[instance], triangle, weights, depth)


def locate(surfaces: Surfaces, target: FrameGeometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """World positions (N, 3) of the surface points at ``target``'s frame (their three
    vertices there, with their weights), whether each could be followed there (its
    instance is there with as many vertices), and each one's face there (as
    ``FrameGeometry.face``)."""
    count = len(surfaces.instance)
    points = np.full((count, 3), np.nan)
    followed = np.zeros(count, bool)
    own_face = np.full(count, -1, np.int64)
    for i in np.unique(surfaces.instance[surfaces.instance >= 0]):
        j = target.by_key.get(surfaces.instances[i].key)
        if j is None:
            continue
        source, inst = surfaces.instances[i], target.instances[j]
        if len(inst.local) != len(source.local):
            continue  # another mesh there: its vertices are not these
        on = surfaces.instance == i
        corners = inst.world[surfaces.corners(i, on)]  # (n, 3, 3)
        points[on] = np.einsum("nk,nkd->nd", surfaces.weights[on], corners)
        followed[on] = True
        own_face[on] = face_id(j, source.polygons[surfaces.triangle[on]])
    return points, followed, own_face


def observe(target: FrameGeometry, points: np.ndarray, followed: np.ndarray, own: np.ndarray):
    """Where the camera of ``target``'s frame sees world points: pixel positions (N, 2),
    planar depths (N,) and codes (N,) uint8 (``core.motion``'s VISIBLE, HIDDEN, OUTSIDE;
    NO_SURFACE where not ``followed``). ``own`` is each point's face there, which does not
    hide it, however it is triangulated."""
    view = target.view
    pixels, depth = motion.project(view, points)
    inside = followed & motion.in_picture(view, pixels, depth)
    hidden = np.zeros(len(points), bool)
    if inside.any():
        p = points[inside]
        if view.orthographic:
            directions = np.broadcast_to(view.forward, p.shape)
            span = depth[inside] - view.clip[0]
            origins = p - directions * span[:, None]
            reach = span - motion.HIDE_TOLERANCE * depth[inside]
        else:
            offset = p - view.centre
            distance = np.linalg.norm(offset, axis=1)
            directions = offset / distance[:, None]
            start = view.clip[0] * distance / depth[inside]
            origins = view.centre + directions * start[:, None]
            reach = distance * (1.0 - motion.HIDE_TOLERANCE) - start
        hit, _ = cast(target, origins, np.ascontiguousarray(directions), np.maximum(reach, 0.0))
        hidden[inside] = (hit >= 0) & (target.face[np.maximum(hit, 0)] != own[inside])
    codes = motion.classify(inside, hidden)
    codes[~followed] = motion.NO_SURFACE
    return pixels, depth, codes


# Pixels are followed this many at a time, so that an 8K frame's rays take little memory,
# and so that numpy's temporaries stay small (a 640×480 frame's rays took 0.41–0.52 s in
# blocks of 65,536 pixels and 0.29 s in blocks of 16,384, measured side by side here).
BLOCK_PIXELS = 1 << 14


def _key(kind: str, direction: str, k: int) -> str:
    """``occlusion_forward`` for k = 1, ``flow_backward_k4`` beyond."""
    return f"{kind}_{direction}" + ("" if k == 1 else f"_k{k}")


@dataclass
class FrameMotion:
    """What one frame's geometric arrays need, captured on Blender's thread: the frame's
    geometry and that of each frame t ± k. :meth:`arrays` casts the rays, which needs no
    Blender data and runs on the export's writer thread, beside the next render."""

    source: FrameGeometry
    targets: dict[tuple[int, str], FrameGeometry]
    occlusion: bool
    labels: tuple[str, ...] = ()

    def arrays(self, render_depth: np.ndarray) -> dict[str, np.ndarray]:
        """``occlusion_forward``/``_backward`` (with ``occlusion``), for each k > 1
        ``flow_forward_k<k>``, ``flow_backward_k<k>`` (and their occlusion), and each of
        ``labels`` (``instance_id``, ``object_index``, ``material_index``) of the surface
        each pixel shows (-1 where the render shows a surface the rays do not find), with
        the ``instance_classes`` of the frame's instances. The render's depth pass tells
        which pixels show a surface."""
        height, width = render_depth.shape
        out: dict[str, np.ndarray] = {}
        for k, direction in self.targets:
            if self.occlusion:
                out[_key("occlusion", direction, k)] = np.full((height, width), motion.NO_SURFACE, np.uint8)
            if k > 1:
                out[_key("flow", direction, k)] = np.full((height, width, 2), np.nan, np.float32)
        for name in self.labels:
            out[name] = np.zeros((height, width), np.int32)
        rows, cols = np.nonzero(render_depth < 1e9)  # Blender's background depth is 1e10
        for start in range(0, len(rows), BLOCK_PIXELS):
            r, c = rows[start : start + BLOCK_PIXELS], cols[start : start + BLOCK_PIXELS]
            pixels = np.stack([c, r], axis=1)
            seen = surfaces_at(self.source, pixels)
            rendered = render_depth[r, c]
            agree = np.abs(seen.depth - rendered) <= RENDER_MISMATCH * rendered
            for name in self.labels:
                out[name][r, c] = np.where(agree, seen.label(name), -1)
            for (k, direction), target in self.targets.items():
                points, followed, own = locate(seen, target)
                followed &= agree
                moved, _, codes = observe(target, points, followed, own)
                if self.occlusion:
                    out[_key("occlusion", direction, k)][r, c] = codes
                if k > 1:
                    flow = motion.flow_to(pixels, moved)
                    flow[~followed] = np.nan
                    out[_key("flow", direction, k)][r, c] = flow
        if "instance_id" in self.labels:
            pairs = sorted((inst.id, inst.pass_index) for inst in self.source.instances)
            out["instance_classes"] = np.array(pairs, np.int64).reshape(-1, 2).T
        return out

    def instance_table(self, ids: np.ndarray) -> dict[str, dict]:
        """``meta.json``'s rows for the instance ids given (those the frame shows)."""
        wanted = {int(i) for i in ids}
        return {
            str(inst.id): instances.table_entry(inst.key, inst.pass_index)
            for inst in self.source.instances
            if inst.id in wanted
        }
