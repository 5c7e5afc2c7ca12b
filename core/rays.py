# SPDX-License-Identifier: GPL-3.0-or-later
"""The ray engine: first hits of many rays against one frame's triangles, in world space.

Two routes give the same answers (the triangle hit and the distance travelled):

- **Embree** (the ``embreex`` binding, bundled in the extension for Linux x86-64 and
  Windows on Python 3.11 and 3.13) casts a whole block of rays in one call, without
  holding Python's GIL;
- **Blender's BVH** (``mathutils.bvhtree``), one Python call per ray: where no Embree
  wheel exists (macOS, Linux on ARM, the legacy add-on on Blender 3.4–4.1), or when the
  environment variable ``GROUND_TRUTH_RAYS`` is ``bvh``.

Both work in single precision, so where a ray grazes the edge between two triangles they
may name different ones (the tests hold them to the same triangle at ≥ 99.99 % of pixel
centres). No Blender data is touched here: the writer's thread casts the rays.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from pathlib import Path

import numpy as np

ENVIRONMENT = "GROUND_TRUTH_RAYS"
EMBREE, BVH = "embree", "bvh"

try:
    from embreex import mesh_construction, rtcore, rtcore_scene
except ImportError:  # no wheel for this platform: Blender's BVH
    rtcore_scene = mesh_construction = rtcore = None


class _EmbreeBuffers:
    """Fills a new embreex scene's triangle buffers with two copies, through Embree's
    own C functions (ctypes): embreex's ``TriangleMesh`` copies them one number at a
    time through Python, 8.5 ms for the benchmark scene's 16,202 triangles, as long as
    the rest of a 640×480 frame's picture. It reaches the scene's Embree handle in the
    ``EmbreeScene`` object's C fields (embreex 4.4's ``rtcore_scene.pxd``: the handle,
    ``is_committed``, the device), so it is used only where that layout checks out;
    elsewhere ``TriangleMesh`` does the same."""

    # Embree 4's rtcore_common.h / rtcore_buffer.h / rtcore_geometry.h
    TRIANGLE, INDEX, VERTEX, UINT3, FLOAT3 = 0, 0, 1, 0x5003, 0x9003
    HEAD = object.__basicsize__  # CPython's object header, where a Cython class's fields begin

    def __init__(self):
        import embreex

        libs = Path(embreex.__file__).parent.parent / "embreex.libs"
        found = sorted(libs.glob("embree4*.dll" if sys.platform == "win32" else "libembree4*.so*"))
        self.lib = lib = ctypes.CDLL(str(found[0]))  # the library embreex loaded already
        pointer, size, unsigned = ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint
        for name, result, arguments in (
            ("rtcGetSceneDevice", pointer, [pointer]),
            ("rtcReleaseDevice", None, [pointer]),
            ("rtcNewGeometry", pointer, [pointer, ctypes.c_int]),
            ("rtcSetNewGeometryBuffer", pointer, [pointer, ctypes.c_int, unsigned, ctypes.c_int, size, size]),
            ("rtcCommitGeometry", None, [pointer]),
            ("rtcAttachGeometry", unsigned, [pointer, pointer]),
            ("rtcReleaseGeometry", None, [pointer]),
        ):
            function = getattr(lib, name)
            function.restype, function.argtypes = result, arguments

    def handle(self, scene) -> int | None:
        """The Embree scene of a new, empty embreex ``EmbreeScene`` made on this module's
        device (None where its C fields are not where embreex 4.4 has them)."""
        fields = ctypes.c_void_p.from_address(id(scene) + self.HEAD)
        committed = ctypes.c_int.from_address(id(scene) + self.HEAD + 8)
        device = ctypes.c_void_p.from_address(id(scene) + self.HEAD + 16)
        if type(scene).__basicsize__ != self.HEAD + 24 or device.value != id(_DEVICE) or not fields.value:
            return None
        scene.is_committed = 12345  # a public int field: it must show up where we look
        seen, scene.is_committed = committed.value, 0
        return fields.value if seen == 12345 and committed.value == 0 else None

    def attach(self, handle: int, vertices: np.ndarray, triangles: np.ndarray) -> None:
        """Add the triangles (float32 (V, 3) vertices, int32 (T, 3) rows) to the scene."""
        lib = self.lib
        device = lib.rtcGetSceneDevice(handle)
        geometry = lib.rtcNewGeometry(device, self.TRIANGLE)
        lib.rtcReleaseDevice(device)  # rtcGetSceneDevice counted a reference
        if not geometry:
            raise MemoryError("Embree could not make a geometry")
        try:
            for kind, form, array in ((self.VERTEX, self.FLOAT3, vertices), (self.INDEX, self.UINT3, triangles)):
                buffer = lib.rtcSetNewGeometryBuffer(geometry, kind, 0, form, 12, len(array))
                if not buffer:
                    raise MemoryError("Embree could not make a geometry buffer")
                ctypes.memmove(buffer, array.ctypes.data, array.nbytes)
            lib.rtcCommitGeometry(geometry)
            lib.rtcAttachGeometry(handle, geometry)
        finally:
            lib.rtcReleaseGeometry(geometry)  # the scene holds it


_DEVICE = None  # one Embree device for every scene (embreex makes one per scene by default)
_BUFFERS: _EmbreeBuffers | None = None
_SETUP = threading.Lock()


def _embree_scene(vertices: np.ndarray, triangles: np.ndarray):
    """An embreex scene of the triangles (float32 (V, 3) vertices, int32 (T, 3) rows)."""
    global _DEVICE, _BUFFERS
    with _SETUP:
        if _DEVICE is None:
            _DEVICE = rtcore.EmbreeDevice()
            try:
                _BUFFERS = _EmbreeBuffers()
            except (OSError, IndexError, AttributeError):  # no library file where embreex keeps it
                _BUFFERS = None
    scene = rtcore_scene.EmbreeScene(_DEVICE)
    handle = _BUFFERS.handle(scene) if _BUFFERS is not None and len(triangles) else None
    if handle is None:
        mesh_construction.TriangleMesh(scene, vertices, triangles)
    else:
        _BUFFERS.attach(handle, vertices, triangles)
    return scene


def route() -> str:
    """``embree``, or ``bvh`` where Embree is missing or ``GROUND_TRUTH_RAYS=bvh``."""
    if os.environ.get(ENVIRONMENT, "").strip().lower() == BVH or rtcore_scene is None:
        return BVH
    return EMBREE


def describe() -> str:
    """The route, as ``meta.json`` names it."""
    if route() == EMBREE:
        from embreex import __version__

        return f"embree (embreex {__version__})"
    return "bvh (Blender's mathutils.bvhtree)"


class Triangles:
    """One frame's triangles, ready for rays: ``vertices`` (V, 3) and ``triangles``
    (T, 3) vertex indices; a ray's answer names a triangle by its row."""

    def __init__(self, vertices: np.ndarray, triangles: np.ndarray):
        self.route = route()
        if self.route == EMBREE:
            self._scene = _embree_scene(
                np.ascontiguousarray(vertices, np.float32), np.ascontiguousarray(triangles, np.int32)
            )
        else:
            from mathutils.bvhtree import BVHTree

            self._bvh = BVHTree.FromPolygons(vertices.tolist(), triangles.tolist(), all_triangles=True)

    def hits(self, origins: np.ndarray, directions: np.ndarray, reach: np.ndarray) -> np.ndarray:
        """The triangle index (int32, -1: none) of :meth:`cast`, without the distances
        (which Embree then need not hand over)."""
        if self.route == EMBREE and len(origins):
            return self._scene.run(
                np.ascontiguousarray(origins, np.float32),
                np.ascontiguousarray(directions, np.float32),
                dists=np.ascontiguousarray(reach, np.float32),
            )
        return self.cast(origins, directions, reach)[0].astype(np.int32)

    def _found(self, origins: np.ndarray, directions: np.ndarray, reach: np.ndarray) -> dict[str, np.ndarray]:
        """Embree's whole answer (embreex's ``output=1``: ``primID``, -1 where nothing is
        hit, ``tfar``, ``u``, ``v``, ...) for rays no farther than ``reach``."""
        found = self._scene.run(
            np.ascontiguousarray(origins, np.float32),
            np.ascontiguousarray(directions, np.float32),
            dists=np.array(reach, np.float32),  # a copy: embreex writes each ray's distance into it
            output=1,
        )
        found["primID"][found["geomID"] < 0] = -1
        return found

    def surface_hits(
        self, origins: np.ndarray, directions: np.ndarray, reach: np.ndarray
    ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
        """The triangle index of :meth:`hits` and, on Embree's route, what Embree found
        with it at no extra cost (float32, meaningful where a triangle is hit): the
        barycentric ``u`` and ``v`` of the hit point ``(1 - u - v) a + u b + v c`` on the
        triangle's corners ``a, b, c``, and the distance travelled. None on the BVH's
        route, which gives only the triangle here."""
        if self.route == EMBREE and len(origins):
            found = self._found(origins, directions, reach)
            return found["primID"], (found["u"], found["v"], found["tfar"])
        return self.hits(origins, directions, reach), None

    def cast(self, origins: np.ndarray, directions: np.ndarray, reach: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First hits of rays (unit ``directions``) no farther than ``reach``: triangle
        index (int64, -1: none) and distance (inf where none)."""
        count = len(origins)
        if not count:
            return np.full(0, -1, np.int64), np.full(0, np.inf)
        if self.route == EMBREE:
            found = self._found(origins, directions, reach)
            index = found["primID"].astype(np.int64)
            return index, np.where(index >= 0, found["tfar"].astype(np.float64), np.inf)
        index = np.full(count, -1, np.int64)
        distance = np.full(count, np.inf)
        # map() calls into the BVH without a Python frame per ray; zip(*) splits the results.
        hits = map(self._bvh.ray_cast, origins.tolist(), directions.tolist(), reach.tolist())
        _, _, hit, travelled = zip(*hits, strict=True)  # every result is a 4-tuple
        hit = np.array(hit, dtype=np.float64)  # None (no hit) becomes NaN
        travelled = np.array(travelled, dtype=np.float64)
        ok = ~np.isnan(hit)
        index[ok], distance[ok] = hit[ok].astype(np.int64), travelled[ok]
        return index, distance


class WhenAsked:
    """A frame's triangles made ready for rays (:class:`Triangles`: Embree's scene
    or Blender's BVH) when first asked for, by the thread that casts: the writer's, not
    Blender's, whose time adds to every frame (9.7 ms for the benchmark scene's 16,202
    triangles)."""

    def __init__(self, vertices: np.ndarray, corners: np.ndarray):
        self._vertices, self._corners = vertices, corners
        self._lock = threading.Lock()
        self._built: Triangles | None = None

    def get(self) -> Triangles | None:
        with self._lock:
            if self._built is None and len(self._corners):
                self._built = Triangles(self._vertices, self._corners)
            return self._built
