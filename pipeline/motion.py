# SPDX-License-Identifier: GPL-3.0-or-later
"""The scene's geometry at other frames: occlusion, flow over k frames and point tracks.

At frame t a ray through each pixel centre finds the surface point the pixel shows: an
instance of an object, a triangle of its evaluated mesh and barycentric weights
(``core/motion.py``). At frame t±k the same three vertices of the same instance, with
that frame's positions and world matrix, hold the point with the same weights:
projected, it gives the flow; a ray from the camera to it tells whether it is seen
(nothing in between), hidden (a surface in front, another face of its own mesh
included) or outside the picture. Rigid motion, parents, constraints, collection
instances and deforming meshes are one case, and so is a quad that Blender triangulates
along its other diagonal at t±k (it splits a quad along 0–2 unless its two triangles
would face opposite ways, which changes as a mesh bends or folds): the point is followed
by its vertices, not by a triangle index, and its own face, however triangulated there,
does not hide it. A point whose
instance is gone at t±k, or whose mesh has another vertex count there, cannot be
followed: NaN flow and code 255.

This module captures the geometry on Blender's thread: every camera-visible instance's
triangles in world space, gathered once per frame and kept while nearby frames need
them. ``core/surfaces.py`` casts the rays against them (``core/rays.py``: Embree, else Blender's
BVH) on the writer's thread, without Blender.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import bpy
import numpy as np

from ..core import motion
from ..core.camera import intrinsics, output_size, world_to_camera
from ..core.ray_arrays import FrameMotion
from ..core.surfaces import FrameGeometry, Instance
from ..core.transform import transform
from . import scene_info, views
from .changes import SceneChanges
from .classes import Classes

if TYPE_CHECKING:
    from .models import Models

_MESH_LIKE = {"MESH", "CURVE", "SURFACE", "FONT", "META"}


def _material_indices(obj, mesh) -> np.ndarray:
    """The pass index of each of the mesh's material slots, as the render picks its
    material: the object's where the slot links to the object, else the mesh's."""
    slots = obj.material_slots
    table = []
    for i, material in enumerate(mesh.materials):
        if i < len(slots) and slots[i].link == "OBJECT":
            material = slots[i].material
        table.append(material.pass_index if material is not None else 0)
    return np.array([*table, 0], np.int32)  # a slot past the end has no material


MeshArrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # local, triangles, polygons, materials


def _mesh_arrays(obj) -> MeshArrays:
    mesh = obj.to_mesh()
    try:
        local = np.empty(len(mesh.vertices) * 3, np.float32)
        mesh.vertices.foreach_get("co", local)
        mesh.calc_loop_triangles()
        count = len(mesh.loop_triangles)
        triangles = np.empty(count * 3, np.int32)
        mesh.loop_triangles.foreach_get("vertices", triangles)
        polygons = np.empty(count, np.int32)
        mesh.loop_triangles.foreach_get("polygon_index", polygons)
        slot = np.empty(count, np.int32)
        mesh.loop_triangles.foreach_get("material_index", slot)
        table = _material_indices(obj, mesh)
        materials = table[np.clip(slot, 0, len(table) - 1)]
    finally:
        obj.to_mesh_clear()
    return local.reshape(-1, 3).astype(np.float64), triangles.reshape(-1, 3), polygons, materials


def _view(scene, view: views.View) -> motion.View:
    params = views.camera_params(scene, view)
    cam = views.camera_object(scene, view).data
    return motion.View(
        K=intrinsics(params),
        world_to_camera=world_to_camera(views.camera_matrix_world(scene, view)),
        size=output_size(params),
        orthographic=params.projection == "ORTHO",
        clip=(cam.clip_start, cam.clip_end),
    )


def capture(
    scene, view_layer, view: views.View, classes: Classes | None = None, models: Models | None = None
) -> FrameGeometry:
    """The geometry of the scene's current frame, as the rays of ``view``'s camera meet it
    (with each instance's class and model where ``classes`` and ``models`` are given)."""
    depsgraph = view_layer.depsgraph
    depsgraph.update()
    # Instances of one piece of geometry share its arrays. Geometry is told apart by its
    # evaluated data, never by the object's name alone: a geometry-nodes instance of
    # generated geometry is an object named like its instancer, with data of its own.
    meshes: dict[tuple[str, int], MeshArrays] = {}
    found: list[Instance] = []
    for inst in depsgraph.object_instances:
        obj = inst.object
        if obj.type not in _MESH_LIKE or not obj.visible_camera:
            continue
        if inst.is_instance:
            key = (obj.name, inst.parent.name, tuple(inst.persistent_id))
        else:
            key = (obj.name, "", ())
        data = (obj.name, obj.data.as_pointer())
        if not inst.is_instance or data not in meshes:
            meshes[data] = _mesh_arrays(obj)
        local, triangles, polygons, materials = meshes[data]
        if len(triangles):
            matrix = np.array(inst.matrix_world, np.float64)
            found.append(Instance(key, obj.pass_index, matrix, local, triangles, polygons, materials))
            if classes is not None:
                found[-1].class_id = classes.of(obj, inst.parent if inst.is_instance else None)
            if models is not None:
                found[-1].model = models.of(obj, matrix)
    first = np.cumsum([0, *(len(inst.triangles) for inst in found)])
    offsets = np.cumsum([0, *(len(inst.local) for inst in found)])
    world, corners = np.zeros((0, 3)), np.zeros((0, 3), np.int64)
    if found:
        world = np.concatenate([transform(i.local, i.matrix[:3, :3], i.matrix[:3, 3]) for i in found])
        corners = np.concatenate([inst.triangles + start for inst, start in zip(found, offsets[:-1], strict=True)])
    return FrameGeometry(_view(scene, view), found, first, world, corners, offsets)


class GeometryCache:
    """Frames' geometry, captured once and kept while a nearby frame may need it, with
    each of ``views``' cameras at that frame. The caller puts the scene back on its
    frame (:meth:`at` moves it)."""

    def __init__(self, scene, view_layer, rig_views: tuple[views.View, ...], classes=None, models=None):
        self.scene, self.view_layer, self.views = scene, view_layer, rig_views
        self.classes, self.models = classes, models
        self.frames: dict[int, dict[str, FrameGeometry]] = {}

    def at(self, frame: int, view: str) -> FrameGeometry:
        """The geometry at ``frame`` as the camera of the view named ``view`` sees it."""
        if frame not in self.frames:
            if self.scene.frame_current != frame or self.scene.frame_subframe:
                self.scene.frame_set(frame)
            first = capture(self.scene, self.view_layer, self.views[0], self.classes, self.models)
            self.frames[frame] = {self.views[0].name: first}
            for other in self.views[1:]:
                self.frames[frame][other.name] = first.seen_from(_view(self.scene, other))
        return self.frames[frame][view]

    def keep(self, first: int, last: int) -> None:
        for frame in [f for f in self.frames if not first <= f <= last]:
            del self.frames[frame]


def frame_motion(
    cache: GeometryCache,
    frame: int,
    view: str,
    occlusion: bool,
    offsets: tuple[int, ...],
    labels: tuple[str, ...] = (),
    scene_flow: bool = False,
    coordinates: tuple[str, ...] = (),
    depth: bool = False,
    objects: tuple[str, ...] = (),
) -> FrameMotion:
    """Capture what ``frame``'s occlusion and scene flow (k = 1, with ``occlusion`` or
    ``scene_flow``), flow offsets, labels, object coordinates and object labels need, seen
    from the view named ``view``. The
    scene is left on another frame; the caller sets it back."""
    steps = ([1] if occlusion or scene_flow else []) + list(offsets)
    reach = max(steps, default=0)
    cache.keep(frame - reach, frame + reach)
    targets = {
        (k, direction): cache.at(frame + sign * k, view)
        for k in steps
        for direction, sign in (("forward", 1), ("backward", -1))
    }
    return FrameMotion(cache.at(frame, view), targets, occlusion, labels, scene_flow, coordinates, depth, objects)


def match_render_geometry(scene, view_layer, changes: SceneChanges) -> None:
    """Evaluate the scene for the rays as the render sees it: the viewport's switches of
    objects, collections and modifiers (and subdivision levels) set to the render's for
    the run. Geometry nodes that ask "Is Viewport" still get the viewport's answer."""
    layers = [view_layer.layer_collection]
    while layers:
        layer = layers.pop()
        changes.set(layer, "hide_viewport", False)
        layers.extend(layer.children)
    for obj in scene.objects:
        changes.set(obj, "hide_viewport", obj.hide_render)
        if obj.hide_get():
            obj.hide_set(False)
            changes.push(lambda o=obj: o.hide_set(True))
        for modifier in getattr(obj, "modifiers", ()):
            changes.set(modifier, "show_viewport", modifier.show_render)
            if modifier.type in {"SUBSURF", "MULTIRES"}:
                changes.set(modifier, "levels", modifier.render_levels)
    for collection in bpy.data.collections:
        changes.set(collection, "hide_viewport", collection.hide_render)


def motion_routes(scene) -> dict[str, str]:
    """meta.json's ``surface_motion``: per mesh-like object, how its points are followed."""
    routes = {}
    for obj in sorted(scene.objects, key=lambda o: o.name):
        if obj.type in _MESH_LIKE:
            routes[obj.name] = "deforming: triangles of the evaluated mesh" if scene_info.deforms(obj) else "rigid"
    return routes
