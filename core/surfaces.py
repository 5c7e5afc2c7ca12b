# SPDX-License-Identifier: GPL-3.0-or-later
"""The surfaces the rays find, and where they are at other frames (no ``bpy``).

A frame's geometry (:class:`FrameGeometry`, captured by ``pipeline/motion.py``) holds every
camera-visible instance's evaluated mesh and its triangles in world space. The rays
through a frame's pixel centres are cast once, into its picture (the triangle each
meets first); the point where a pixel's ray meets its triangle is a :class:`Surfaces`
point (instance, the triangle's vertices, barycentric weights). :func:`locate` carries
it to another frame by its three vertices, and :func:`observe` says where that frame's
camera sees it, and whether anything hides it: where the four pixel centres around it
show its own face in that frame's picture nothing does, elsewhere a ray from the camera
decides. The reasoning is ``pipeline/motion.py``'s docstring; the rays are ``rays.py``'s.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field

import numpy as np

from . import instances, motion, poses, rays


@dataclass
class Instance:
    """One object instance at one frame: its evaluated mesh in local coordinates (its
    world positions are rows of the frame's ``FrameGeometry.vertices``)."""

    key: instances.Key  # stable over frames: (object name, instancer name, persistent id)
    pass_index: int
    matrix: np.ndarray  # (4, 4) world matrix
    local: np.ndarray  # (V, 3) vertex positions
    triangles: np.ndarray  # (T, 3) vertex indices
    polygons: np.ndarray  # (T,) the mesh face each triangle is part of
    materials: np.ndarray  # (T,) the pass index of each triangle's material (0: none)
    id: int = 0  # its instance id (core/instances.py), set once the frame's keys are known
    class_id: int = 0  # its semantic class (core/classes.py; 0: none)
    model: int = 0  # its object model (pipeline/models.py; 0: none)


@dataclass
class FrameGeometry:
    """One frame's geometry as one camera's rays meet it: its instances, and all their
    triangles in world space as one mesh (``vertices``, ``corners``), each instance's
    rows in ``first_vertex`` / ``first_triangle`` order."""

    view: motion.View
    instances: list[Instance]
    first_triangle: np.ndarray  # (I + 1,): instance i owns triangles [first[i], first[i + 1])
    vertices: np.ndarray  # (V, 3) world positions, every instance's in turn
    corners: np.ndarray  # (T, 3) rows of ``vertices``: each triangle's three
    first_vertex: np.ndarray  # (I + 1,): instance i owns vertices [first[i], first[i + 1])
    _picture: np.ndarray | None = field(default=None, init=False, repr=False)
    # Embree's barycentric u, v and planar depth at the picture's pixel centres (flat)
    _picture_found: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, init=False, repr=False)
    _face_picture: np.ndarray | None = field(default=None, init=False, repr=False)
    _frames: poses.ModelFrames | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.by_key = {inst.key: i for i, inst in enumerate(self.instances)}
        ids = instances.instance_ids(self.by_key)
        for inst in self.instances:
            inst.id = ids[inst.key]
        # The frame's faces numbered in turn, instance by instance (instance i's polygon p is
        # face first_face[i] + p), and per triangle its polygon and its face; ``_faces`` has
        # a last entry -1, which a picture's -1 (no triangle) picks.
        counts = [int(inst.polygons.max()) + 1 if len(inst.polygons) else 0 for inst in self.instances]
        self.first_face = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])
        self.polygon = np.concatenate(
            [inst.polygons.astype(np.int64) for inst in self.instances] or [np.zeros(0, np.int64)]
        )
        self.face = np.repeat(self.first_face[:-1], np.diff(self.first_triangle)) + self.polygon
        self._faces = np.append(self.face, -1)
        self.materials = np.concatenate([inst.materials for inst in self.instances] or [np.zeros(0, np.int32)])
        self.columns = np.ascontiguousarray(self.vertices.T)  # (3, V): one coordinate at a time
        self._lock = threading.Lock()
        self._engine = rays.WhenAsked(self.vertices, self.corners)  # shared by the frame's views

    @property
    def triangles(self) -> rays.Triangles | None:
        """The triangles made ready for rays (None where there are none)."""
        return self._engine.get()

    def model_frames(self) -> poses.ModelFrames:
        """Each instance's model frame and box (``poses.py``), made when first asked for."""
        if self._frames is None:
            matrices = [inst.matrix for inst in self.instances]
            self._frames = poses.model_frames(matrices, self.vertices, self.first_vertex)
        return self._frames

    def seen_from(self, view: motion.View) -> FrameGeometry:
        """The same geometry, its rays cast from another camera (shares everything else)."""
        other = copy.copy(self)
        other.view, other._picture, other._face_picture, other._lock = view, None, None, threading.Lock()
        other._picture_found = None
        return other

    def picture(self) -> np.ndarray:
        """(H, W) int32: the triangle (a row of ``corners``; -1 for none) that the ray
        through each pixel centre meets first within the clipping range. Cast once, when
        first asked for: by this frame's own arrays and by its neighbours' (occlusion and
        flow offsets look up the faces their points land among)."""
        with self._lock:
            if self._picture is None:
                width, height = self.view.size
                hit = np.full(width * height, -1, np.int32)
                engine, band = self.triangles, max(1, PICTURE_BLOCK // width)
                keep = engine is not None and engine.route == rays.EMBREE and width * height <= KEPT_FOUND
                found = tuple(np.empty(width * height, np.float32) for _ in range(3)) if keep else None
                near, far = self.view.clip
                for y in range(0, height, band) if engine is not None else ():  # no triangles: no hits
                    rows = range(y, min(y + band, height))
                    at = slice(y * width, rows.stop * width)
                    origins, directions, reach = motion.grid_rays(self.view, rows)
                    if found is None:
                        hit[at] = engine.hits(origins, directions, reach)
                        continue
                    hit[at], (found[0][at], found[1][at], travelled) = engine.surface_hits(origins, directions, reach)
                    # planar depth: the reach spans the clipping range, near to far
                    found[2][at] = near + travelled * ((far - near) / reach.astype(np.float64))
                self._picture, self._picture_found = hit.reshape(height, width), found
            return self._picture

    def picture_surfaces(self, rows: np.ndarray, cols: np.ndarray) -> Surfaces:
        """The :func:`surfaces_at` of the pixel centres (``rows``, ``cols``) on the
        :meth:`picture`'s triangles: on Embree's route from what its cast found there (its
        weights and distances, single precision), elsewhere intersected anew."""
        hit = self.picture()[rows, cols]
        if self._picture_found is None:
            return surfaces_at(self, np.stack([cols, rows], axis=1), hit)
        at = rows * self.view.size[0] + cols
        u, v, depth = (np.take(values, at).astype(np.float64) for values in self._picture_found)
        return _surfaces(self, hit, lambda corners: (np.stack([1.0 - u - v, u, v], axis=1), depth))

    def face_picture(self) -> np.ndarray:
        """(H, W) int32: the face (as ``face``; -1 for none) each pixel centre's ray meets
        first: the :meth:`picture`'s triangles' faces, made once."""
        picture = self.picture()
        with self._lock:
            if self._face_picture is None:
                self._face_picture = np.take(self._faces.astype(np.int32), picture)
            return self._face_picture


# The picture's rays are cast about this many at a time, in bands of whole rows (their
# origins and directions in memory at once: 24 MB at 2^20).
PICTURE_BLOCK = 1 << 20
# Embree's weights and depths at a picture's pixel centres are kept (12 bytes a pixel) for
# pictures up to this many pixels (1920×1080's); a larger one's are intersected anew.
KEPT_FOUND = 1 << 21


@dataclass
class Surfaces:
    """Surface points seen at some frame: per point the instance (an index into
    ``instances``; -1 where none), the instance's own vertices of its triangle (rows of
    its ``local``), barycentric weights on them, the mesh face (polygon) and material
    pass index there, and the point's planar depth. Another frame's mesh carries the
    point when it has as many vertices."""

    instances: list[Instance]
    instance: np.ndarray  # (N,) int
    corners: np.ndarray  # (N, 3) int
    weights: np.ndarray  # (N, 3)
    polygon: np.ndarray  # (N,) int
    material: np.ndarray  # (N,) int32
    depth: np.ndarray  # (N,)

    def take(self, chosen: np.ndarray) -> Surfaces:
        """The points ``chosen`` (an index array), in that order."""
        return Surfaces(self.instances, self.instance[chosen], *(getattr(self, name)[chosen] for name in _FIELDS))

    def _per_instance(self, values: list[int], none: int) -> np.ndarray:
        return np.array([*values, none], np.int64)[self.instance]

    @property
    def pass_index(self) -> np.ndarray:
        """(N,) the pass index of each point's object (0 where none)."""
        return self._per_instance([inst.pass_index for inst in self.instances], 0)

    def label(self, name: str) -> np.ndarray:
        """Per point (int32) the surface's ``instance_id``, ``semantic`` class,
        ``object_index`` or ``material_index``; 0 where there is none."""
        if name == "instance_id":
            return self._per_instance([inst.id for inst in self.instances], 0).astype(np.int32)
        if name == "semantic":
            return self._per_instance([inst.class_id for inst in self.instances], 0).astype(np.int32)
        if name == "object_index":
            return self.pass_index.astype(np.int32)
        return self.material  # 0 where there is no surface


_FIELDS = ("corners", "weights", "polygon", "material", "depth")


def concat(parts: list[Surfaces]) -> Surfaces:
    if not parts:
        return Surfaces([], np.zeros(0, np.int64), *_no_points(0))
    chosen, instance = [], []
    for part in parts:
        instance.append(np.where(part.instance >= 0, part.instance + len(chosen), -1))
        chosen += part.instances
    fields = (np.concatenate([getattr(p, name) for p in parts]) for name in _FIELDS)
    return Surfaces(chosen, np.concatenate(instance), *fields)


def _no_points(count: int) -> tuple[np.ndarray, ...]:
    """Surfaces' fields after ``instance`` for ``count`` points that show nothing."""
    return (
        np.zeros((count, 3), np.int64),
        np.full((count, 3), np.nan),
        np.full(count, -1, np.int64),
        np.zeros(count, np.int32),
        np.full(count, np.inf),
    )


def cast(geometry: FrameGeometry, origins, directions, distances) -> tuple[np.ndarray, np.ndarray]:
    """First hits of rays: triangle index (-1: none) and distance."""
    if geometry.triangles is None:
        return np.full(len(origins), -1, np.int64), np.full(len(origins), np.inf)
    return geometry.triangles.cast(origins, directions, distances)


def surfaces_at(geometry: FrameGeometry, pixels: np.ndarray, hit: np.ndarray | None = None) -> Surfaces:
    """The surface points the camera sees through pixel positions (N, 2): where the
    ray through each meets the triangle ``hit`` names (cast here unless given, as a
    picture's entries at pixel centres), in double precision."""
    view = geometry.view
    origins, directions, per_depth = motion.pixel_rays(view, pixels)
    if hit is None:
        hit = cast(geometry, origins, directions, (view.clip[1] - view.clip[0]) * per_depth)[0]

    def measure(corners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        weights, travelled = _intersect(origins, directions, geometry.columns, corners)
        return weights, view.clip[0] + travelled / per_depth

    return _surfaces(geometry, hit, measure)


def _surfaces(geometry: FrameGeometry, hit: np.ndarray, measure) -> Surfaces:
    """The :class:`Surfaces` on the triangles ``hit`` names (-1: none), whose weights
    (N, 3) and planar depths (N,) ``measure(corners)`` gives (``corners``: the rows of
    ``geometry.vertices`` of each point's triangle; any numbers where nothing is hit)."""
    count = len(hit)
    found = hit >= 0
    if not found.any():
        return Surfaces([], np.full(count, -1, np.int64), *_no_points(count))
    triangle = np.where(found, hit, 0).astype(np.int64)  # every point on a triangle, then masked
    instance = np.searchsorted(geometry.first_triangle, triangle, side="right") - 1
    corners = geometry.corners[triangle]
    weights, depth = measure(corners)
    used = np.flatnonzero(np.bincount(instance[found], minlength=len(geometry.instances)))
    local = np.zeros(len(geometry.instances), np.int64)
    local[used] = np.arange(len(used))
    corners -= geometry.first_vertex[instance][:, None]
    corners[~found] = 0
    weights[~found] = np.nan
    return Surfaces(
        [geometry.instances[i] for i in used],
        np.where(found, local[instance], -1),
        corners,
        weights,
        np.where(found, geometry.polygon[triangle], -1),
        np.where(found, geometry.materials[triangle], 0).astype(np.int32),
        np.where(found, depth, np.inf),
    )


def _intersect(
    origins: np.ndarray, directions: np.ndarray, columns: np.ndarray, corners: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Where rays (N, 3) meet the planes of their triangles (``corners`` (N, 3), rows
    of the vertices whose coordinates are ``columns`` (3, V)): barycentric weights
    (N, 3) and the distance along each (unit) direction. Möller and Trumbore's, one
    coordinate at a time on flat arrays."""
    a = [columns[i][corners[:, 0]] for i in range(3)]
    ab = [columns[i][corners[:, 1]] - a[i] for i in range(3)]
    ac = [columns[i][corners[:, 2]] - a[i] for i in range(3)]
    ao = [origins[:, i] - a[i] for i in range(3)]
    d = [directions[:, i] for i in range(3)]
    p = _cross(d, ac)
    q = _cross(ao, ab)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = 1.0 / _dot(ab, p)
        u = _dot(ao, p) * scale
        v = _dot(d, q) * scale
        distance = _dot(ac, q) * scale
    return np.stack([1.0 - u - v, u, v], axis=1), distance


def _cross(a: list[np.ndarray], b: list[np.ndarray]) -> list[np.ndarray]:
    return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]


def _dot(a: list[np.ndarray], b: list[np.ndarray]) -> np.ndarray:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def locate(surfaces: Surfaces, target: FrameGeometry) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """World positions (N, 3) of the surface points at ``target``'s frame (their three
    vertices there, with their weights), whether each could be followed there (its
    instance is there with as many vertices), and each one's face there (as
    ``FrameGeometry.face``)."""
    count = len(surfaces.instance)
    # Per instance of the surfaces (and a last entry for none): its first vertex at the
    # target (-1 where it cannot be followed there), and its first face and face count.
    first = np.full(len(surfaces.instances) + 1, -1, np.int64)
    first_face, faces = np.zeros_like(first), np.zeros_like(first)
    for i, source in enumerate(surfaces.instances):
        j = target.by_key.get(source.key)
        if j is not None and len(target.instances[j].local) == len(source.local):  # else another mesh
            first[i], first_face[i] = target.first_vertex[j], target.first_face[j]
            faces[i] = target.first_face[j + 1] - first_face[i]
    start = first[surfaces.instance]
    followed = start >= 0
    if not followed.any():
        return np.full((count, 3), np.nan), followed, np.full(count, -1, np.int64)
    rows = (surfaces.corners + np.where(followed, start, 0)[:, None]).T  # (3, N) rows of target.vertices
    weights = surfaces.weights.T
    coordinates = np.empty((3, count))  # one coordinate at a time, on flat arrays
    for column, out in zip(target.columns, coordinates, strict=True):
        np.multiply(np.take(column, rows[0]), weights[0], out=out)
        out += np.take(column, rows[1]) * weights[1]
        out += np.take(column, rows[2]) * weights[2]
    points = coordinates.T
    points[~followed] = np.nan
    own_face = np.take(first_face, surfaces.instance) + surfaces.polygon
    own_face[~followed | (surfaces.polygon >= np.take(faces, surfaces.instance))] = -1
    return points, followed, own_face


def observe(target: FrameGeometry, points: np.ndarray, followed: np.ndarray, own: np.ndarray, picture: bool = False):
    """Where the camera of ``target``'s frame sees world points: pixel positions (N, 2),
    planar depths (N,) and codes (N,) uint8 (``core.motion``'s VISIBLE, HIDDEN, OUTSIDE;
    NO_SURFACE where not ``followed``). ``own`` is each point's face there, which does not
    hide it, however it is triangulated. With ``picture``, a point whose four surrounding
    pixel centres show its own face in the target's :meth:`~FrameGeometry.picture` is
    visible without a ray of its own."""
    view = target.view
    pixels, depth = motion.project(view, points)
    inside = followed & motion.in_picture(view, pixels, depth)
    hidden = np.zeros(len(points), bool)
    asked = np.flatnonzero(inside & ~_among_own_face(target, pixels, own) if picture else inside)
    if len(asked):
        p = points[asked]
        if view.orthographic:
            directions = np.broadcast_to(view.forward, p.shape)
            span = depth[asked] - view.clip[0]
            origins = p - directions * span[:, None]
            reach = span - motion.HIDE_TOLERANCE * depth[asked]
        else:
            offset = p - view.centre
            distance = np.linalg.norm(offset, axis=1)
            directions = offset / distance[:, None]
            start = view.clip[0] * distance / depth[asked]
            origins = view.centre + directions * start[:, None]
            reach = distance * (1.0 - motion.HIDE_TOLERANCE) - start
        hit, _ = cast(target, origins, np.ascontiguousarray(directions), np.maximum(reach, 0.0))
        hidden[asked] = (hit >= 0) & (np.take(target._faces, hit) != own[asked])
    codes = motion.classify(inside, hidden)
    codes[~followed] = motion.NO_SURFACE
    return pixels, depth, codes


def _among_own_face(target: FrameGeometry, pixels: np.ndarray, own: np.ndarray) -> np.ndarray:
    """Whether the four pixel centres around each pixel position (N, 2) all show the
    face ``own`` in the target's picture: then nothing wider than the space between
    pixel centres stands in front of the point (no ray is cast for it)."""
    faces = target.face_picture().reshape(-1)
    height, width = target.view.size[1], target.view.size[0]
    with np.errstate(invalid="ignore"):  # NaN positions (not followed) are not among
        x, y = np.floor(pixels[:, 0]), np.floor(pixels[:, 1])
        ok = (x >= 0) & (y >= 0) & (x < width - 1) & (y < height - 1)
    start = np.where(ok, y * width + x, 0).astype(np.intp)
    ok &= own >= 0
    for step in (0, 1, width, width + 1):
        ok &= np.take(faces, start + step) == own
    return ok
