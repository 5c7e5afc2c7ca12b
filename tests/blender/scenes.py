# SPDX-License-Identifier: GPL-3.0-or-later
"""Small test scenes built with the data API, and ground truth computed from geometry:
Blender's ray casts through pixel centres and its own ``world_to_camera_view``, never
from the render passes or the add-on's code."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import zipfile

import bmesh
import bpy
import numpy as np
from bpy_extras.object_utils import world_to_camera_view
from mathutils import Vector


def cli_runner(addon, root):
    """The shipped zip unpacked under ``root/packages`` as a user's Python finds it, and
    ``run(*args)``: ``python -m ground_truth.cli ARGS`` there → (status, stdout, stderr)."""
    with zipfile.ZipFile(addon) as archive:
        archive.extractall(root / "packages" / "ground_truth")
    env = {**os.environ, "PYTHONPATH": str(root / "packages")}

    def run(*args):
        done = subprocess.run(
            [sys.executable, "-m", "ground_truth.cli", *args], env=env, capture_output=True, text=True, timeout=600
        )
        return done.returncode, done.stdout, done.stderr

    return run


def new_scene(output_dir):
    """An empty Cycles scene at 160×120, 4 samples, no denoising, exporting to ``output_dir``."""
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 4
    scene.cycles.use_denoising = False
    scene.render.resolution_x, scene.render.resolution_y = 160, 120
    scene.render.resolution_percentage = 100
    scene.ground_truth.output_dir = str(output_dir)
    return scene


def add_camera(scene, location, rotation_deg, **data):
    cam = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    scene.collection.objects.link(cam)
    cam.location = location
    cam.rotation_euler = [math.radians(a) for a in rotation_deg]
    for key, value in data.items():
        setattr(cam.data, key, value)
    scene.camera = cam
    return cam


def _material(name, pass_index, emission=None):
    mat = bpy.data.materials.new(name)
    mat.pass_index = pass_index
    if emission is not None:
        if not mat.node_tree:  # Blender < 5 creates the tree on request only
            mat.use_nodes = True
        nodes = mat.node_tree.nodes
        nodes.clear()
        emit = nodes.new("ShaderNodeEmission")
        emit.inputs["Color"].default_value = (*emission, 1.0)
        emit.inputs["Strength"].default_value = 1.0
        out = nodes.new("ShaderNodeOutputMaterial")
        mat.node_tree.links.new(emit.outputs[0], out.inputs["Surface"])
    return mat


def add_mesh(
    scene, name, kind, location, rotation_deg=(0, 0, 0), scale=1.0, pass_index=0, material_index=0, emission=None
):
    """A flat-shaded ``cube``, ``plane`` or ``ico`` with an object and a material pass index."""
    mesh = bpy.data.meshes.new(name)
    bm = bmesh.new()
    if kind == "cube":
        bmesh.ops.create_cube(bm, size=2.0)
    elif kind == "plane":
        bmesh.ops.create_grid(bm, x_segments=1, y_segments=1, size=1.0)
    else:
        bmesh.ops.create_icosphere(bm, subdivisions=1, radius=1.0)
    bm.to_mesh(mesh)
    bm.free()
    obj = bpy.data.objects.new(name, mesh)
    scene.collection.objects.link(obj)
    obj.location = location
    obj.rotation_euler = [math.radians(a) for a in rotation_deg]
    obj.scale = (scale, scale, scale)
    obj.pass_index = pass_index
    mesh.materials.append(_material(f"{name}Material", material_index, emission))
    return obj


def collection_of_one(scene, collection_name, name, kind, scale, pass_index):
    """A collection, not linked to the scene, holding one mesh object (``add_mesh``'s
    ``kind``) made ``scale`` times smaller or larger; returns both."""
    collection = bpy.data.collections.new(collection_name)
    template = add_mesh(scene, f"{name}-mesh", kind, (0, 0, 0))
    obj = bpy.data.objects.new(name, template.data)
    bpy.data.objects.remove(template)
    collection.objects.link(obj)
    obj.scale = (scale, scale, scale)
    obj.pass_index = pass_index
    return collection, obj


def instance_collection(scene, name, collection, location):
    """An empty named ``name`` at ``location`` that instances ``collection``."""
    empty = bpy.data.objects.new(name, None)
    empty.instance_type, empty.instance_collection = "COLLECTION", collection
    scene.collection.objects.link(empty)
    empty.location = location
    return empty


def add_sun(scene):
    sun = bpy.data.objects.new("Sun", bpy.data.lights.new("Sun", "SUN"))
    scene.collection.objects.link(sun)
    sun.rotation_euler = (0.6, 0.2, 0.3)


def _keyframe(obj, frame, location, rotation_deg):
    obj.location = location
    obj.rotation_euler = [math.radians(a) for a in rotation_deg]
    obj.keyframe_insert("location", frame=frame)
    obj.keyframe_insert("rotation_euler", frame=frame)


def build_moving_scene(scene, frames=3):
    """Frames 1..``frames``: a camera that dollies right and pans, a box that slides and
    spins, an icosphere that rises towards the camera, over a static ground plane."""
    scene.frame_start, scene.frame_end = 1, frames
    cam = add_camera(scene, (0, -9, 3), (74, 0, 0), lens=35.0)
    add_mesh(scene, "Ground", "plane", (0, 0, -1), scale=12, pass_index=1, material_index=1)
    box = add_mesh(scene, "Box", "cube", (0, 0, 0), pass_index=2, material_index=2)
    ico = add_mesh(scene, "Ico", "ico", (2, 1, 0.5), scale=1.3, pass_index=3, material_index=3)
    add_sun(scene)
    for frame in range(1, frames + 1):
        t = frame - 2  # the motion is centred on frame 2
        _keyframe(cam, frame, (0.3 * t + 0.02 * t * t, -9, 3), (74, 0, 2.2 * t))
        _keyframe(box, frame, (0.45 * t, 0, 0), (0, 0, 12 + 9 * t))
        _keyframe(ico, frame, (2, -0.45 * t, 0.5 + 0.25 * t), (0, 0, 0))
    scene.frame_set(1)


def effective_size(scene):
    pct = scene.render.resolution_percentage / 100
    return int(scene.render.resolution_x * pct), int(scene.render.resolution_y * pct)


# Cycles' default Blackman-Harris pixel filter (width 1.5) spreads samples up to ±1.5 px
# from the pixel centre (its table is built twice the filter width wide).
FILTER_REACH_PX = 1.5


def cast_pixels(scene, reach_px=FILTER_REACH_PX):
    """Ray casts on a half-pixel grid over the picture, summarised per pixel.

    Rays come from the camera's own view frame (``Camera.view_frame``, which holds
    Blender's sensor fit, shift, aspect and orthographic scale); orthographic rays are
    parallel. Returns per pixel (row 0 = top), from the
    ray through the pixel centre: ``hit`` bool, ``object`` name ('' on background),
    ``depth`` (planar, metres), ``normal`` (world face normal), ``location`` (world);
    and over the pixel filter's reach (``reach_px``): ``interior`` (one face of one object everywhere,
    so averaged passes are exact), ``empty`` (no surface anywhere), ``touching``
    (per object name: some of it within reach, so a sample may land on it) and
    ``near_background`` (some background within reach). ``face`` is the hit's face index.
    """
    bpy.context.view_layer.update()  # matrix_world of objects made since the last evaluation
    cam = scene.camera
    width, height = effective_size(scene)
    corners = [Vector(c) for c in cam.data.view_frame(scene=scene)]
    left, right = min(c.x for c in corners), max(c.x for c in corners)
    bottom, top = min(c.y for c in corners), max(c.y for c in corners)
    plane_z = corners[0].z
    rotation = cam.matrix_world.to_3x3().normalized()
    origin = cam.matrix_world.translation.copy()
    forward = rotation @ Vector((0, 0, -1))
    ortho = cam.data.type == "ORTHO"
    depsgraph = bpy.context.evaluated_depsgraph_get()

    # Grid point m sits at 0.5 * m pixels from the picture's left (top) edge.
    reach = round(2 * reach_px)
    us = 0.5 * np.arange(-reach + 1, 2 * width + reach)
    vs = 0.5 * np.arange(-reach + 1, 2 * height + reach)
    face_id = np.full((len(vs), len(us)), -1, np.int64)
    names, surfaces = [""], {}
    for r, v in enumerate(vs):
        for c, u in enumerate(us):
            x = left + u / width * (right - left)
            y = top - v / height * (top - bottom)
            if ortho:  # parallel rays from the view plane through the camera
                start, direction = origin + rotation @ Vector((x, y, 0.0)), forward
            else:
                start, direction = origin, (rotation @ Vector((x, y, plane_z))).normalized()
            hit, location, normal, face, obj, _ = scene.ray_cast(depsgraph, start, direction)
            if not hit:
                continue
            if obj.name not in names:
                names.append(obj.name)
            face_id[r, c] = names.index(obj.name) * 1_000_000 + face
            surfaces[r, c] = (obj.name, (location - origin).dot(forward), normal.normalized(), location, face)

    # The window of pixel (row, col) starts at grid index (2 row, 2 col).
    window = np.lib.stride_tricks.sliding_window_view(face_id, (2 * reach + 1, 2 * reach + 1))[::2, ::2]
    out = {
        "interior": (window.min(axis=(-2, -1)) == window.max(axis=(-2, -1))) & (window.min(axis=(-2, -1)) >= 0),
        "empty": window.max(axis=(-2, -1)) < 0,
        "hit": np.zeros((height, width), bool),
        "object": np.full((height, width), "", object),
        "depth": np.full((height, width), np.inf),
        "normal": np.zeros((height, width, 3)),
        "location": np.zeros((height, width, 3)),
        "face": np.full((height, width), -1),
        "touching": {
            name: np.lib.stride_tricks.sliding_window_view(face_id // 1_000_000 == k, window.shape[-2:])[::2, ::2].any(
                axis=(-2, -1)
            )
            for k, name in enumerate(names)
            if name
        },
        "near_background": np.lib.stride_tricks.sliding_window_view(face_id < 0, window.shape[-2:])[::2, ::2].any(
            axis=(-2, -1)
        ),
    }
    for row in range(height):
        for col in range(width):
            centre = (2 * row + reach, 2 * col + reach)  # grid index of v = row + 0.5, u = col + 0.5
            if centre in surfaces:
                name, depth, normal, location, face = surfaces[centre]
                out["face"][row, col] = face
                out["hit"][row, col] = True
                out["object"][row, col] = name
                out["depth"][row, col] = depth
                out["normal"][row, col] = normal
                out["location"][row, col] = location
    return out


def project(scene, world_points):
    """OpenCV pixel coordinates (x right, y down, centres at integers) of world points,
    through Blender's ``world_to_camera_view`` at the scene's current frame."""
    width, height = effective_size(scene)
    out = []
    for point in world_points:
        ndc = world_to_camera_view(scene, scene.camera, Vector(point))
        out.append((ndc.x * width - 0.5, (1.0 - ndc.y) * height - 0.5))
    return np.array(out)


def flow_truth(scene, frame, target, hits):
    """Where the surface points seen at ``frame`` (``hits`` from :func:`cast_pixels` at
    that frame) are at ``target``, minus where they are now: (H, W, 2) pixels; NaN off
    the interior."""
    height, width = hits["hit"].shape
    rows, cols = np.nonzero(hits["interior"])
    scene.frame_set(frame)
    local = [
        bpy.data.objects[hits["object"][r, c]].matrix_world.inverted() @ Vector(hits["location"][r, c])
        for r, c in zip(rows, cols, strict=True)
    ]
    names = [hits["object"][r, c] for r, c in zip(rows, cols, strict=True)]
    scene.frame_set(target)
    moved = [bpy.data.objects[n].matrix_world @ p for n, p in zip(names, local, strict=True)]
    pixels = project(scene, moved)
    scene.frame_set(frame)
    flow = np.full((height, width, 2), np.nan)
    flow[rows, cols] = pixels - np.stack([cols, rows], axis=1)
    return flow
