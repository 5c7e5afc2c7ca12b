# SPDX-License-Identifier: GPL-3.0-or-later
"""The bundled demo scene, built from code: a dolly-and-pan camera over a ground plane,
several objects with object and material pass indices (two of them moving), an
emissive lamp, and a sun. Frames 1-12."""

from __future__ import annotations

import math

import bpy

FRAMES = (1, 12)
# name: (pass index, base colour, material pass index)
OBJECTS = {
    "Ground": (1, (0.55, 0.55, 0.5), 1),
    "Crate": (2, (0.8, 0.35, 0.1), 2),
    "Suzanne": (3, (0.2, 0.45, 0.8), 3),
    "Pillar": (4, (0.6, 0.6, 0.65), 2),
    "Lamp": (5, (1.0, 0.7, 0.3), 4),
}


def _material(name: str, colour, pass_index: int, emission: float = 0.0) -> bpy.types.Material:
    mat = bpy.data.materials.new(name)
    mat.pass_index = pass_index
    if not mat.node_tree:  # Blender < 5 creates the node tree on request only
        mat.use_nodes = True
    bsdf = mat.node_tree.nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = (*colour, 1.0)
    if emission:
        bsdf.inputs["Emission Color"].default_value = (*colour, 1.0)
        bsdf.inputs["Emission Strength"].default_value = emission
    return mat


def _key(obj, frame: int, location=None, rotation_deg=None) -> None:
    if location is not None:
        obj.location = location
        obj.keyframe_insert("location", frame=frame)
    if rotation_deg is not None:
        obj.rotation_euler = [math.radians(a) for a in rotation_deg]
        obj.keyframe_insert("rotation_euler", frame=frame)


def build_demo_scene(resolution=(320, 240), samples: int = 16) -> bpy.types.Scene:
    """Replace the open file with the demo scene and return it (Cycles, CPU)."""
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.render.resolution_x, scene.render.resolution_y = resolution
    scene.frame_start, scene.frame_end = FRAMES
    world = bpy.data.worlds.new("Sky")
    world.color = (0.05, 0.07, 0.1)
    scene.world = world

    bpy.ops.mesh.primitive_plane_add(size=30, location=(0, 0, 0))
    bpy.ops.mesh.primitive_cube_add(size=1.4, location=(-1.6, 0.6, 0.7))
    bpy.ops.mesh.primitive_monkey_add(size=1.5, location=(0.6, 0.2, 1.0), rotation=(0, 0, math.radians(-20)))
    bpy.ops.mesh.primitive_cylinder_add(radius=0.35, depth=3.0, location=(2.4, 2.2, 1.5))
    bpy.ops.mesh.primitive_ico_sphere_add(subdivisions=3, radius=0.45, location=(-0.2, 2.6, 0.45))
    for obj, name in zip(bpy.context.scene.objects, OBJECTS, strict=True):
        obj.name = name
        pass_index, colour, material_index = OBJECTS[name]
        obj.pass_index = pass_index
        obj.data.materials.append(
            _material(f"{name}Material", colour, material_index, emission=6.0 if name == "Lamp" else 0.0)
        )
    bpy.data.objects["Suzanne"].modifiers.new("Smooth", "SUBSURF").levels = 1
    bpy.data.objects["Suzanne"].data.shade_smooth()

    crate, suzanne = bpy.data.objects["Crate"], bpy.data.objects["Suzanne"]
    _key(crate, 1, location=(-2.2, 0.6, 0.7), rotation_deg=(0, 0, 0))
    _key(crate, 12, location=(-0.9, 0.1, 0.7), rotation_deg=(0, 0, 50))
    _key(suzanne, 1, rotation_deg=(0, 0, -35))
    _key(suzanne, 12, rotation_deg=(0, 0, 25))

    camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    scene.collection.objects.link(camera)
    camera.data.lens = 32
    scene.camera = camera
    _key(camera, 1, location=(-2.5, -8.5, 3.2), rotation_deg=(75, 0, -12))
    _key(camera, 12, location=(2.0, -8.0, 3.0), rotation_deg=(76, 0, 10))

    sun = bpy.data.objects.new("Sun", bpy.data.lights.new("Sun", "SUN"))
    sun.data.energy = 3.0
    sun.rotation_euler = (math.radians(40), math.radians(15), math.radians(30))
    scene.collection.objects.link(sun)
    return scene
