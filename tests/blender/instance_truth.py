# SPDX-License-Identifier: GPL-3.0-or-later
"""Scenes full of instances, and which instance, object and material each pixel shows,
from Blender's own ``Scene.ray_cast`` through the pixel centres (never from the
add-on's rays or passes).

An instance is named as the depsgraph names it: the object, the instancer ("" for an
object that is not an instance) and ``persistent_id``. ``Scene.ray_cast`` gives the hit
object and its world matrix; the instance is the depsgraph's instance of that object
with that matrix.
"""

from __future__ import annotations

import math

import bpy
import motion_truth
import numpy as np
import scenes


def _two_materials(obj, first, second):
    """Slot 0 of ``obj`` has material pass index ``first``; a second slot (``second``)
    goes on every other face."""
    obj.data.materials[0].pass_index = first
    extra = bpy.data.materials.new(f"{obj.name}·oben")
    extra.pass_index = second
    obj.data.materials.append(extra)
    for polygon in obj.data.polygons:
        polygon.material_index = polygon.index % 2


def _scatter_group(source, count, spacing, info="GeometryNodeObjectInfo"):
    """Geometry nodes: ``count`` instances of ``source`` (an object, or a collection with
    ``info`` "GeometryNodeCollectionInfo") along a line, ``spacing`` apart."""
    group = bpy.data.node_groups.new("Streuung", "GeometryNodeTree")
    group.interface.new_socket(name="Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    output = group.nodes.new("NodeGroupOutput")
    line = group.nodes.new("GeometryNodeMeshLine")
    line.inputs["Count"].default_value = count
    line.inputs["Offset"].default_value = (spacing, 0.0, 0.0)
    info = group.nodes.new(info)
    if source.bl_rna.identifier == "Object":
        info.inputs["Object"].default_value = source
        info.inputs["As Instance"].default_value = True
        made = info.outputs["Geometry"]
    else:
        info.inputs["Collection"].default_value = source
        made = info.outputs["Instances"]
    on_points = group.nodes.new("GeometryNodeInstanceOnPoints")
    group.links.new(line.outputs["Mesh"], on_points.inputs["Points"])
    group.links.new(made, on_points.inputs["Instance"])
    group.links.new(on_points.outputs["Instances"], output.inputs["Geometry"])
    return group, on_points


def build_instances_scene(scene):
    """Seen from above: a ground; ten instances of a two-material box through ten empties
    that instance one collection; ten cones made by geometry nodes; two objects sharing
    one mesh with different pass indices. Names carry non-ASCII letters."""
    scenes.add_camera(scene, (0, -0.6, 14), (3, 0, 0), lens=30.0)
    scenes.add_mesh(scene, "Boden-ä", "plane", (0, 0, -1), scale=30, pass_index=1, material_index=1)
    chairs, chair = scenes.collection_of_one(scene, "Stühle", "Stuhl-ü", "cube", 0.35, 2)
    _two_materials(chair, 3, 4)
    for i in range(10):
        empty = scenes.instance_collection(scene, f"Reihe-é.{i:02d}", chairs, (-4.5 + i, 2.2, 0.0))
        empty.rotation_euler = (0, 0, math.radians(9 * i))
    cone = scenes.add_mesh(scene, "Kegel-日本", "ico", (0, 0, -30), scale=0.4, pass_index=5, material_index=6)
    carrier = scenes.add_mesh(scene, "Träger", "plane", (-4.5, -0.6, 0.2), pass_index=9)
    carrier.modifiers.new("Streuung", "NODES").node_group = _scatter_group(cone, 10, 1.0)[0]
    shared = scenes.add_mesh(scene, "Würfel-A", "cube", (-2.0, -3.0, 0.0), scale=0.6, pass_index=7, material_index=8)
    twin = bpy.data.objects.new("Würfel-B", shared.data)
    scene.collection.objects.link(twin)
    twin.location, twin.scale, twin.pass_index = (2.0, -3.0, 0.0), (0.6, 0.6, 0.6), 8
    scenes.add_sun(scene)


def _posts_group(name, material, count=3):
    """Geometry nodes: ``count`` posts along x, instances of a generated cube that Set
    Material gives ``material`` (no object behind them)."""
    group = bpy.data.node_groups.new(name, "GeometryNodeTree")
    group.interface.new_socket(name="Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    output = group.nodes.new("NodeGroupOutput")
    line = group.nodes.new("GeometryNodeMeshLine")
    line.inputs["Count"].default_value = count
    line.inputs["Start Location"].default_value = (0.6, 0.0, 0.0)  # no post at the instancer's own origin
    line.inputs["Offset"].default_value = (1.3, 0.0, 0.0)
    cube = group.nodes.new("GeometryNodeMeshCube")
    cube.inputs["Size"].default_value = (0.5, 0.5, 1.2)
    paint = group.nodes.new("GeometryNodeSetMaterial")
    paint.inputs["Material"].default_value = material
    on_points = group.nodes.new("GeometryNodeInstanceOnPoints")
    group.links.new(cube.outputs["Mesh"], paint.inputs["Geometry"])
    group.links.new(line.outputs["Mesh"], on_points.inputs["Points"])
    group.links.new(paint.outputs["Geometry"], on_points.inputs["Instance"])
    group.links.new(on_points.outputs["Instances"], output.inputs["Geometry"])
    return group, on_points


def _carrier(scene, name, location, group, pass_index):
    """An object whose own mesh is one vertex, with ``group`` as its geometry nodes."""
    mesh = bpy.data.meshes.new(f"{name}-Punkt")
    mesh.from_pydata([(0, 0, 0)], [], [])
    obj = bpy.data.objects.new(name, mesh)
    scene.collection.objects.link(obj)
    obj.location, obj.pass_index = location, pass_index
    obj.modifiers.new("Zaunbau", "NODES").node_group = group
    return obj


def build_generated_instances_scene(scene):
    """Seen from above, every way geometry nodes make instances: a fence of three posts
    of a generated cube (Set Material, no object behind them) and a second fence with
    the same node tree; posts realized into one mesh; instances of an object (Object
    Info) and of a two-object collection (Collection Info)."""
    scenes.add_camera(scene, (0, 0, 14), (0, 0, 0), lens=30.0)
    scenes.add_mesh(scene, "Boden", "plane", (0, 0, -1), scale=30, pass_index=1, material_index=1)
    paint = bpy.data.materials.new("Pfosten-Farbe")
    paint.pass_index = 11
    fence, _ = _posts_group("Zaunbau", paint)
    _carrier(scene, "Zaun", (-3.5, 2.2, 0), fence, 10)
    _carrier(scene, "Zaun-2", (0.5, 2.2, 0), fence, 12)
    solid, on_points = _posts_group("Zaunbau-fest", paint)
    realize = solid.nodes.new("GeometryNodeRealizeInstances")
    output = next(n for n in solid.nodes if n.type == "GROUP_OUTPUT")
    solid.links.new(on_points.outputs["Instances"], realize.inputs["Geometry"])
    solid.links.new(realize.outputs["Geometry"], output.inputs["Geometry"])
    _carrier(scene, "Block", (-3.5, -0.2, 0), solid, 13)
    cone = scenes.add_mesh(scene, "Kegel", "ico", (0, 0, -30), scale=0.4, pass_index=5, material_index=6)
    group, _ = _scatter_group(cone, 3, 1.3)
    _carrier(scene, "Kegelreihe", (0.8, -0.2, 0), group, 9)
    hedge = bpy.data.collections.new("Hecke")
    for name, offset in (("Busch", 0.0), ("Stamm", 0.55)):
        part = scenes.add_mesh(scene, name, "cube", (offset, 0, 0), scale=0.25, pass_index=14, material_index=15)
        scene.collection.objects.unlink(part)
        hedge.objects.link(part)
    group, _ = _scatter_group(hedge, 3, 1.3, "GeometryNodeCollectionInfo")
    _carrier(scene, "Heckenreihe", (-2.6, -2.6, 0), group, 0)
    scenes.add_sun(scene)


def build_crowd_scene(scene, columns=20, rows=15):
    """``columns`` × ``rows`` separate small boxes filling the picture (300 by default),
    each its own object with a non-ASCII name, all of pass index 6."""
    scenes.add_camera(scene, (0, 0, 20), (0, 0, 0), type="ORTHO", ortho_scale=columns + 0.2)
    first = scenes.add_mesh(scene, "Kiste-ß-first", "cube", (0, 0, 0), scale=0.4, pass_index=6)
    for row in range(rows):
        for col in range(columns):
            box = bpy.data.objects.new(f"Kiste-ß-{row:02d}-{col:02d}", first.data.copy())  # one material for all
            scene.collection.objects.link(box)
            box.location = (col - (columns - 1) / 2, (rows - 1) / 2 - row, 0)
            box.scale, box.pass_index = (0.4, 0.4, 0.4), 6
    bpy.data.objects.remove(first)
    scenes.add_sun(scene)


def _instances(depsgraph):
    """Every mesh instance with faces that the depsgraph evaluates: (object name, world
    matrix, key, the material pass index of each face), read while the instance is
    there (a geometry-nodes instance's object and mesh exist only during the loop)."""
    found = []
    for inst in depsgraph.object_instances:
        obj = inst.object
        if obj.type != "MESH" or not len(obj.data.polygons):
            continue
        key = (obj.name, inst.parent.name, tuple(inst.persistent_id)) if inst.is_instance else (obj.name, "", ())
        slots = [slot.material for slot in obj.material_slots]
        faces = [p.material_index for p in obj.data.polygons]
        materials = [slots[i].pass_index if i < len(slots) and slots[i] is not None else 0 for i in faces]
        found.append((obj.name, np.array(inst.matrix_world), key, materials))
    return found


def labels(scene):
    """Per pixel (row 0 = top) from a ray through its centre: ``key`` (an object array of
    instance keys, None on background), ``object_index`` and ``material_index`` (0 on
    background), and ``interior``: the 3 × 3 pixels around show the same instance and
    material."""
    bpy.context.view_layer.update()
    depsgraph = bpy.context.evaluated_depsgraph_get()
    known = _instances(depsgraph)
    width, height = scenes.effective_size(scene)
    keys = np.full((height, width), None, dtype=object)
    object_index = np.zeros((height, width), np.int32)
    material_index = np.zeros((height, width), np.int32)
    for row in range(height):
        for col in range(width):
            start, direction = motion_truth.camera_ray(scene, col, row)
            hit, _, _, face, obj, matrix = scene.ray_cast(depsgraph, start, direction)
            if not hit:
                continue
            matrix = np.array(matrix)
            candidates = [(np.abs(m - matrix).max(), key, faces) for name, m, key, faces in known if name == obj.name]
            distance, key, faces = min(candidates, key=lambda c: c[0])
            assert distance < 1e-5, f"no instance of {obj.name} at that matrix"
            keys[row, col] = key
            object_index[row, col] = obj.pass_index
            material_index[row, col] = faces[face]
    codes = {key: i + 1 for i, key in enumerate(sorted({k for k in keys.ravel() if k is not None}))}
    code = np.vectorize(lambda k: codes.get(k, 0), otypes=[np.int64])(keys) * 1000 + material_index
    padded = np.pad(code, 1, mode="edge")
    same = np.ones_like(code, bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            same &= padded[1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width] == code
    interior = same & (code > 0)
    return {"key": keys, "object_index": object_index, "material_index": material_index, "interior": interior}


def eevee(scene):
    """Switch the scene to EEVEE (EEVEE Next on 4.2–4.4)."""
    engines = bpy.types.RenderSettings.bl_rna.properties["engine"].enum_items.keys()
    scene.render.engine = "BLENDER_EEVEE_NEXT" if "BLENDER_EEVEE_NEXT" in engines else "BLENDER_EEVEE"
    scene.eevee.taa_render_samples = 4
