# SPDX-License-Identifier: GPL-3.0-or-later
"""Truth for occlusion, flow over k frames and tracks, from Blender's own geometry: a
scene ray cast finds the surface a pixel shows; a rigid object's point moves with its
``matrix_world``; a deformed mesh's point keeps its place among the three vertices of the
part of its face that holds it (a quad or n-gon is split into triangles here, by a fan,
the way it is at the frame of the hit), carried by
``mathutils.geometry.barycentric_transform``; Blender's ``world_to_camera_view``
projects it; a scene ray cast from the camera tells whether anything but the point's own
face is in front."""

from __future__ import annotations

import math

import bmesh
import bpy
import numpy as np
import scenes
from bpy_extras.object_utils import world_to_camera_view
from mathutils import Vector
from mathutils.geometry import barycentric_transform

# A surface nearer to the camera than the point by more than this hides it (metres).
HIDE_MARGIN = 1e-3


def build_passing_scene(scene):
    """Frames 1-11 around frame 6: a panning, dollying camera; a spinning box that passes
    in front of a static icosphere; an icosphere that leaves the picture; a moon whose
    parent empty turns; a flag bent by a two-bone armature; a ground plane."""
    scene.frame_start, scene.frame_end = 1, 11
    cam = scenes.add_camera(scene, (0, -10, 2.5), (78, 0, 0), lens=40.0)
    scenes.add_mesh(scene, "Ground", "plane", (0, 0, -1), scale=14, pass_index=1)
    scenes.add_mesh(scene, "Post", "ico", (0, 2, 0.3), scale=1.1, pass_index=2)
    runner = scenes.add_mesh(scene, "Runner", "cube", (0, -1, 0.3), scale=0.6, pass_index=3)
    leaver = scenes.add_mesh(scene, "Leaver", "ico", (2.6, 0, 0.8), scale=0.6, pass_index=4)
    arm = bpy.data.objects.new("Arm", None)
    scene.collection.objects.link(arm)
    arm.location = (-2.2, 1.0, 0.8)
    moon = scenes.add_mesh(scene, "Moon", "ico", (0, 0, 0), scale=0.6, pass_index=5)
    moon.parent = arm
    moon.location = (1.1, 0, 0.2)
    flag = _flag(scene, pass_index=6)
    scenes.add_sun(scene)
    for frame in range(1, 12):
        t = frame - 6
        cam.location = (0.12 * t, -10 + 0.05 * t, 2.5)
        cam.rotation_euler = (math.radians(78), 0, math.radians(0.8 * t))
        cam.keyframe_insert("location", frame=frame)
        cam.keyframe_insert("rotation_euler", frame=frame)
        runner.location = (0.55 * t, -1, 0.3)
        runner.rotation_euler = (0, 0, math.radians(25 + 11 * t))
        runner.keyframe_insert("location", frame=frame)
        runner.keyframe_insert("rotation_euler", frame=frame)
        leaver.location = (2.6 + 0.75 * t, 0, 0.8)
        leaver.keyframe_insert("location", frame=frame)
        arm.rotation_euler = (0, 0, math.radians(14 * t))
        arm.keyframe_insert("rotation_euler", frame=frame)
        bone = flag["Top"]
        bone.rotation_mode = "XYZ"
        bone.rotation_euler = (math.radians(7 * t), 0, math.radians(4 * t))
        bone.keyframe_insert("rotation_euler", frame=frame)
    scene.frame_set(6)


def _flag(scene, pass_index):
    """A triangulated 10×10 grid standing up, skinned to a two-bone armature (weights
    blend over the middle); returns the armature's pose bones."""
    mesh = bpy.data.meshes.new("Flag")
    bm = bmesh.new()
    bmesh.ops.create_grid(bm, x_segments=10, y_segments=10, size=0.7)
    bmesh.ops.triangulate(bm, faces=bm.faces[:])
    bm.to_mesh(mesh)
    bm.free()
    flag = bpy.data.objects.new("Flag", mesh)
    scene.collection.objects.link(flag)
    flag.location = (-1.6, -2.5, 0.2)
    flag.rotation_euler = (math.radians(90), 0, math.radians(10))
    flag.pass_index = pass_index
    mesh.materials.append(bpy.data.materials.new("FlagMaterial"))
    bones = [("Bottom", (0, -0.7, 0), (0, 0, 0)), ("Top", (0, 0, 0), (0, 0.7, 0))]
    return skin(scene, flag, "Rig", bones, lambda co: _blend(co.y, [0.0], 0.2))


def _blend(position, joints, reach):
    """Bone weights along one axis: bone i holds the stretch between joints i-1 and i,
    and neighbours blend linearly within ``reach`` of each joint."""
    weights = [1.0] + [min(1.0, max(0.0, (position - joint + reach) / (2 * reach))) for joint in joints]
    return [weights[i] - (weights[i + 1] if i + 1 < len(weights) else 0.0) for i in range(len(weights))]


def skin(scene, obj, name, bones, weights):
    """Deform ``obj`` by a new armature object ``name`` at its place: ``bones`` are
    (name, head, tail) in ``obj``'s space, each the child of the one before;
    ``weights(co)`` gives a vertex's weight for each bone. Returns the pose bones."""
    armature = bpy.data.armatures.new(name)
    rig = bpy.data.objects.new(name, armature)
    scene.collection.objects.link(rig)
    rig.location, rig.rotation_euler = obj.location, obj.rotation_euler
    bpy.context.view_layer.objects.active = rig
    bpy.ops.object.mode_set(mode="EDIT")
    parent = None
    for bone_name, head, tail in bones:
        bone = armature.edit_bones.new(bone_name)
        bone.head, bone.tail, bone.parent = head, tail, parent
        parent = bone
    bpy.ops.object.mode_set(mode="OBJECT")
    groups = [obj.vertex_groups.new(name=bone_name) for bone_name, _, _ in bones]
    for vertex in obj.data.vertices:
        for group, weight in zip(groups, weights(vertex.co), strict=True):
            group.add([vertex.index], weight, "REPLACE")
    obj.modifiers.new("Armature", "ARMATURE").object = rig
    for bone in rig.pose.bones:
        bone.rotation_mode = "XYZ"
    return rig.pose.bones


def _quad_mesh(scene, name, build, pass_index):
    """An object of quads (and n-gons) made by ``build(bm)``, with a material."""
    mesh = bpy.data.meshes.new(name)
    bm = bmesh.new()
    build(bm)
    bm.to_mesh(mesh)
    bm.free()
    obj = bpy.data.objects.new(name, mesh)
    scene.collection.objects.link(obj)
    obj.pass_index = pass_index
    mesh.materials.append(bpy.data.materials.new(f"{name}Material"))
    return obj


def _stretched(bm, axis, length, cuts):
    """Move ``bm`` to start at 0 along ``axis`` (0 x, 2 z) and cut its edges along that
    axis ``cuts`` times: rows of quads."""
    for vertex in bm.verts:
        vertex.co[axis] += length / 2
    along = [e for e in bm.edges if abs((e.verts[0].co - e.verts[1].co)[axis]) > length / 2]
    bmesh.ops.subdivide_edges(bm, edges=along, cuts=cuts, use_grid_fill=True)


def build_rigged_scene(scene):
    """Frames 1-11 around frame 6, the way artists rig: a column of quads with 16-gon caps
    bent up to 50° by two bones, a quad sheet twisted by a shape key, and a limb of quads
    on a chain of three bones that swings down in front of the sheet; a ground plane and
    a slowly moving camera. Their quads are triangulated along other diagonals as they
    bend."""
    scene.frame_start, scene.frame_end = 1, 11
    cam = scenes.add_camera(scene, (0, -11, 1.6), (84, 0, 0), lens=35.0)
    scenes.add_mesh(scene, "Ground", "plane", (0, 0, -1), scale=14, pass_index=1)

    def column(bm):
        bmesh.ops.create_cone(bm, cap_ends=True, cap_tris=False, segments=16, radius1=0.5, radius2=0.5, depth=3.0)
        _stretched(bm, 2, 3.0, 23)

    post = _quad_mesh(scene, "Column", column, pass_index=2)
    post.location = (-2.8, 0, -1)
    spine = skin(
        scene,
        post,
        "ColumnRig",
        [("Lower", (0, 0, 0), (0, 0, 1.5)), ("Upper", (0, 0, 1.5), (0, 0, 3))],
        lambda co: _blend(co.z, [1.5], 0.05),
    )

    def sheet(bm):
        bmesh.ops.create_grid(bm, x_segments=9, y_segments=9, size=1.2)

    cloth = _quad_mesh(scene, "Sheet", sheet, pass_index=3)
    cloth.location, cloth.rotation_euler = (0.2, 0.8, 0.9), (math.radians(90), 0, 0)
    cloth.shape_key_add(name="Basis")
    twist = cloth.shape_key_add(name="Twist")
    cell = 2.4 / 9
    for point in twist.data:  # a saddle, every other vertex pushed up and left: quads that fold
        x, y = point.co.x, point.co.y
        checker = (round((x + 1.2) / cell) + round((y + 1.2) / cell)) % 2
        point.co.x -= 0.75 * cell * checker
        point.co.y += 0.75 * cell * checker
        point.co.z = 0.45 * x * y

    def limb(bm):
        bmesh.ops.create_cube(bm, size=1.0)
        bmesh.ops.scale(bm, vec=(3.0, 0.35, 0.35), verts=bm.verts)
        _stretched(bm, 0, 3.0, 23)

    arm = _quad_mesh(scene, "Limb", limb, pass_index=4)
    arm.location = (0.4, -1.2, 2.5)
    chain = [("Shoulder", (0, 0, 0), (1, 0, 0)), ("Elbow", (1, 0, 0), (2, 0, 0)), ("Wrist", (2, 0, 0), (3, 0, 0))]
    pose = skin(scene, arm, "LimbRig", chain, lambda co: _blend(co.x, [1.0, 2.0], 0.05))
    scenes.add_sun(scene)
    for frame in range(1, 12):
        t = frame - 6
        cam.location = (0.08 * t, -11 + 0.04 * t, 1.6)
        cam.keyframe_insert("location", frame=frame)
        spine["Upper"].rotation_euler = (math.radians(2 * t), 0, math.radians(5 * (frame - 1)))
        spine["Upper"].keyframe_insert("rotation_euler", frame=frame)
        twist.value = (frame - 1) / 10
        twist.keyframe_insert("value", frame=frame)
        bend = (("Shoulder", (4 * t + 10, 0, 0)), ("Elbow", (6 * t + 25, 0, 3 * t)), ("Wrist", (5 * t, 8 * t, 0)))
        for name, degrees in bend:
            pose[name].rotation_euler = [math.radians(d) for d in degrees]
            pose[name].keyframe_insert("rotation_euler", frame=frame)
    scene.frame_set(6)


def _evaluated(obj, depsgraph):
    return obj.evaluated_get(depsgraph)


def _corners(obj, vertices, depsgraph):
    """World positions of vertices of an evaluated mesh."""
    evaluated = _evaluated(obj, depsgraph)
    return [evaluated.matrix_world @ evaluated.data.vertices[i].co for i in vertices]


def _holding_triangle(obj, face, location, depsgraph):
    """The three vertices of ``face`` whose triangle holds ``location``: of the fan of
    triangles (v0, vi, vi+1) over the face's vertices, and over the other diagonal for a
    quad, one that holds the point inside it, nearest to its plane."""
    ring = list(_evaluated(obj, depsgraph).data.polygons[face].vertices)
    fans = [[ring[0], ring[i], ring[i + 1]] for i in range(1, len(ring) - 1)]
    if len(ring) == 4:
        fans += [[ring[1], ring[2], ring[3]], [ring[1], ring[3], ring[0]]]
    point = np.array(location)

    def miss(vertices):  # (outside by, off the plane by)
        a, b, c = (np.array(p) for p in _corners(obj, vertices, depsgraph))
        v0, v1, v2 = b - a, c - a, point - a
        d00, d01, d11, d20, d21 = v0 @ v0, v0 @ v1, v1 @ v1, v2 @ v0, v2 @ v1
        v = (d11 * d20 - d01 * d21) / (d00 * d11 - d01 * d01)
        w = (d00 * d21 - d01 * d20) / (d00 * d11 - d01 * d01)
        normal = np.cross(v0, v1)
        return max(0.0, -min(1 - v - w, v, w)) > 1e-4, abs(v2 @ normal) / np.linalg.norm(normal)

    return min(fans, key=miss)


def surfaces(scene, hits, mask):
    """The surface points of the pixels in ``mask`` (``hits`` from ``scenes.cast_pixels`` at
    the scene's current frame): what carries each to another frame."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    out = []
    for row, col in zip(*np.nonzero(mask), strict=True):
        name, face, location = hits["object"][row, col], hits["face"][row, col], hits["location"][row, col]
        out.append(_surface(scene, name, face, location, depsgraph))
    return out


def _deforms(obj) -> bool:
    shape_keys = obj.data.shape_keys is not None
    return shape_keys or any(m.type == "ARMATURE" for m in obj.modifiers)


def _surface(scene, name, face, location, depsgraph, matrix=None):
    """What carries a hit to another frame: the vertices of the triangle that holds it and
    their corners now (deformed meshes), the instancer and the point in its space
    (instances), or the point in the object's space."""
    obj = bpy.data.objects[name]
    location = Vector(location)
    if _deforms(obj):
        vertices = _holding_triangle(obj, face, location, depsgraph)
        return name, face, location, (vertices, _corners(obj, vertices, depsgraph))
    instancer = _instancer(scene, obj, matrix)
    if instancer is not None:
        return instancer.name, None, instancer.matrix_world.inverted() @ location, None
    return name, face, obj.matrix_world.inverted() @ location, None


def _instancer(scene, obj, matrix):
    """The empty whose collection instance made a hit on ``obj`` with instance ``matrix``."""
    if matrix is None or obj.name in scene.objects:
        return None
    empties = [e for e in scene.objects if e.instance_type == "COLLECTION"]
    empties = [e for e in empties if obj.name in e.instance_collection.objects]
    offsets = [(e.matrix_world @ obj.matrix_world - matrix).to_translation().length for e in empties]
    return empties[int(np.argmin(offsets))]


def surface_through(scene, x, y):
    """The surface point a ray through pixel position (x, y) meets, or None."""
    start, direction = camera_ray(scene, x, y)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    hit, location, _, face, obj, matrix = scene.ray_cast(depsgraph, start, direction)
    return _surface(scene, obj.name, face, location, depsgraph, matrix) if hit else None


def surfaces_through(scene, mask):
    """``surface_through`` each pixel centre of ``mask``."""
    return [surface_through(scene, col, row) for row, col in zip(*np.nonzero(mask), strict=True)]


def camera_ray(scene, x, y):
    """Start and direction of the camera's ray through pixel position (x, y), from its
    ``view_frame`` (as ``scenes.cast_pixels``); orthographic rays start on the view plane."""
    cam = scene.camera
    width, height = scenes.effective_size(scene)
    corners = [Vector(c) for c in cam.data.view_frame(scene=scene)]
    left, right = min(c.x for c in corners), max(c.x for c in corners)
    bottom, top = min(c.y for c in corners), max(c.y for c in corners)
    u = left + (x + 0.5) / width * (right - left)
    v = top - (y + 0.5) / height * (top - bottom)
    rotation = cam.matrix_world.to_3x3().normalized()
    origin = cam.matrix_world.translation.copy()
    if cam.data.type == "ORTHO":
        return origin + rotation @ Vector((u, v, 0.0)), rotation @ Vector((0, 0, -1))
    return origin, (rotation @ Vector((u, v, corners[0].z))).normalized()


def _carried(obj, carried, corners, depsgraph):
    """A surface point (of :func:`surfaces`) in world space at the evaluated frame."""
    if corners is None:
        return obj.matrix_world @ carried
    vertices, then = corners
    return barycentric_transform(carried, *then, *_corners(obj, vertices, depsgraph))


def carried_to(scene, points, frame):
    """The surface points (of :func:`surfaces`) in world space at ``frame`` (N, 3)."""
    scene.frame_set(frame)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    return np.array([_carried(bpy.data.objects[p[0]], p[2], p[3], depsgraph) for p in points])


def follow(scene, points, frame):
    """At ``frame``: each surface point's pixel (x, y), planar depth and code (0 seen,
    1 hidden, 2 outside the picture), through Blender's own projection and ray casts."""
    scene.frame_set(frame)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    width, height = scenes.effective_size(scene)
    cam = scene.camera
    origin = cam.matrix_world.translation
    pixels, depth, codes = [], [], []
    forward = cam.matrix_world.to_3x3().normalized() @ Vector((0, 0, -1))
    for name, face, carried, corners in points:
        world = _carried(bpy.data.objects[name], carried, corners, depsgraph)
        ndc = world_to_camera_view(scene, cam, world)
        x, y = ndc.x * width - 0.5, (1.0 - ndc.y) * height - 0.5
        pixels.append((x, y))
        depth.append(ndc.z)
        inside = -0.5 <= x < width - 0.5 and -0.5 <= y < height - 0.5 and cam.data.clip_start <= ndc.z
        if not inside:
            codes.append(2)
            continue
        start = world - forward * (ndc.z - cam.data.clip_start) if cam.data.type == "ORTHO" else origin
        offset = world - start
        hit, location, _, hit_face, hit_obj, _ = scene.ray_cast(
            depsgraph, start, offset.normalized(), distance=offset.length
        )
        own = corners is not None and hit and hit_obj.name == name and hit_face == face
        codes.append(1 if hit and not own and (location - start).length < offset.length - HIDE_MARGIN else 0)
    return np.array(pixels), np.array(depth), np.array(codes)


def truth_around(scene, frame, steps):
    """At ``frame``: ``scenes.cast_pixels``' hits, the pixels away from silhouettes (one
    object and no background within a pixel), and per (k, direction) of ``steps`` where
    their surface points are at frame ± k (``follow``); the scene is left at ``frame``."""
    scene.frame_set(frame)
    hits = scenes.cast_pixels(scene, reach_px=1.0)
    away = hits["hit"] & ~hits["near_background"] & (np.sum(list(hits["touching"].values()), axis=0) == 1)
    points = surfaces(scene, hits, away)
    truth = {}
    for k, direction in steps:
        truth[k, direction] = follow(scene, points, frame + k if direction == "forward" else frame - k)
    scene.frame_set(frame)
    return hits, away, truth


def array_key(kind, direction, k):
    return f"{kind}_{direction}" + ("" if k == 1 else f"_k{k}")


def track_truth(scene, tracks, back_to):
    """Per query: its pixel, code and depth in every frame, from Blender's geometry (code
    -1 for a query on no surface); the scene is left at frame ``back_to``."""
    frames = [int(f) for f in tracks["frames"]]
    pixels = np.full((len(tracks["query_points"]), len(frames), 2), np.nan)
    codes = np.full((len(tracks["query_points"]), len(frames)), -1)
    depth = np.full(codes.shape, np.nan)
    by_frame = {}
    for n, (t, y, x) in enumerate(tracks["query_points"]):
        by_frame.setdefault(int(t), []).append((n, x, y))
    for t, queries in by_frame.items():
        scene.frame_set(frames[t])
        points = [surface_through(scene, x, y) for _, x, y in queries]
        queries = [q for q, p in zip(queries, points, strict=True) if p is not None]
        points = [p for p in points if p is not None]
        if not points:
            continue
        for index, frame in enumerate(frames):
            moved, z, code = follow(scene, points, frame)
            rows = [n for n, _, _ in queries]
            pixels[rows, index], codes[rows, index], depth[rows, index] = moved, code, z
        scene.frame_set(frames[t])
    scene.frame_set(back_to)
    return pixels, codes, depth


def build_instances_scene(scene):
    """Frames 1-7 around frame 4, seen by an orthographic camera that slides and turns: a
    collection of one box instanced by two empties moving apart, a shape-key blob, a
    subdivided cube (viewport level 0, render level 2) that spins, and a plank in front
    that renders but is hidden in the viewport."""
    scene.frame_start, scene.frame_end = 1, 7
    cam = scenes.add_camera(scene, (0, -10, 3), (75, 0, 0), type="ORTHO", ortho_scale=9.0)
    scenes.add_mesh(scene, "Ground", "plane", (0, 0, -1), scale=14, pass_index=1)
    crate, _ = scenes.collection_of_one(scene, "Crate", "CrateBox", "cube", 0.5, 2)
    sides = (("CrateA", -1.0), ("CrateB", 1.0))
    empties = [scenes.instance_collection(scene, name, crate, (x, 0.5, 0)) for name, x in sides]
    blob = scenes.add_mesh(scene, "Blob", "ico", (2.6, 1.5, 0.4), scale=1.0, pass_index=3)
    blob.shape_key_add(name="Basis")
    squash = blob.shape_key_add(name="Squash")
    for point in squash.data:
        point.co = (point.co.x * (1 + 0.4 * point.co.z), point.co.y * 1.2, point.co.z * 0.6)
    smooth = scenes.add_mesh(scene, "Smooth", "cube", (-2.6, 1.0, 0.3), scale=0.8, pass_index=4)
    subsurf = smooth.modifiers.new("Subdivision", "SUBSURF")
    subsurf.levels, subsurf.render_levels = 0, 2
    plank = scenes.add_mesh(scene, "Plank", "cube", (0.4, -2.5, -0.2), scale=1.0, pass_index=5)
    plank.scale = (2.2, 0.1, 0.25)
    plank.hide_viewport = True
    scenes.add_sun(scene)
    for frame in range(1, 8):
        t = frame - 4
        cam.location = (0.15 * t, -10, 3)
        cam.rotation_euler = (math.radians(75), 0, math.radians(1.5 * t))
        cam.keyframe_insert("location", frame=frame)
        cam.keyframe_insert("rotation_euler", frame=frame)
        for empty, sign in zip(empties, (-1, 1), strict=True):
            empty.location = (sign * (1.0 + 0.3 * t), 0.5, 0.2 * t * sign)
            empty.rotation_euler = (0, 0, math.radians(10 * t * sign))
            empty.keyframe_insert("location", frame=frame)
            empty.keyframe_insert("rotation_euler", frame=frame)
        squash.value = (t + 3) / 6
        squash.keyframe_insert("value", frame=frame)
        smooth.rotation_euler = (0, math.radians(8 * t), math.radians(20 * t))
        smooth.keyframe_insert("rotation_euler", frame=frame)
    scene.frame_set(4)


def as_rendered(scene):
    """The viewport set to what renders (the plank shown, render subdivision levels), so
    that scene ray casts meet the rendered geometry; returns the undo."""
    plank, subsurf = bpy.data.objects["Plank"], bpy.data.objects["Smooth"].modifiers["Subdivision"]
    plank.hide_viewport, subsurf.levels = False, subsurf.render_levels

    def undo():
        plank.hide_viewport, subsurf.levels = True, 0

    return undo
