# SPDX-License-Identifier: GPL-3.0-or-later
"""The two routes of the add-on's rays (``core/rays.py``): Embree, from the wheel the
extension bundles, and Blender's BVH, the fallback (``GROUND_TRUTH_RAYS=bvh``). Both
cast through pixel centres into a scene of passing, deforming and dense meshes, against
Blender's own ``Scene.ray_cast`` through the same centres, and against each other."""

import importlib
import json

import bmesh
import bpy
import devenv
import motion_truth
import numpy as np
import pytest
import scenes


def _addon(name):
    return importlib.import_module(f"{devenv.ADDON_MODULE}.{name}")


def _dense_scene(scene):
    """The passing scene and a subdivided monkey (about 8,000 triangles) over the ground."""
    motion_truth.build_passing_scene(scene)
    mesh = bpy.data.meshes.new("Suzanne")
    bm = bmesh.new()
    bmesh.ops.create_monkey(bm)
    bm.to_mesh(mesh)
    bm.free()
    monkey = bpy.data.objects.new("Suzanne", mesh)
    scene.collection.objects.link(monkey)
    monkey.location, monkey.scale = (-0.8, 0.5, 0.4), (0.9, 0.9, 0.9)
    subdivision = monkey.modifiers.new("Subdivision", "SUBSURF")
    subdivision.levels = subdivision.render_levels = 2
    scene.frame_set(6)


def _cast(scene, route, monkeypatch, size):
    """The add-on's geometry of the frame and its first hits through every pixel centre
    of a ``size`` picture: (geometry, triangle index, distance, hit points)."""
    if route == "bvh":
        monkeypatch.setenv("GROUND_TRUTH_RAYS", "bvh")
    else:
        monkeypatch.delenv("GROUND_TRUTH_RAYS", raising=False)
    scene.render.resolution_x, scene.render.resolution_y = size
    motion, views, core_motion = _addon("pipeline.motion"), _addon("pipeline.views"), _addon("core.motion")
    geometry = motion.capture(scene, bpy.context.view_layer, views.View(""))
    assert geometry.triangles.route == route
    rows, cols = np.mgrid[0 : size[1], 0 : size[0]]
    pixels = np.stack([cols.ravel(), rows.ravel()], axis=1)
    origins, directions, per_depth = core_motion.pixel_rays(geometry.view, pixels)
    reach = (geometry.view.clip[1] - geometry.view.clip[0]) * per_depth
    index, distance = geometry.triangles.cast(origins, directions, reach)
    return geometry, index, distance, origins + directions * np.where(index >= 0, distance, 0.0)[:, None]


@pytest.mark.parametrize("route", ["embree", "bvh"])
def test_each_route_finds_the_face_blender_finds_at_every_pixel_centre(scene, route, monkeypatch):
    _dense_scene(scene)
    geometry, index, _, points = _cast(scene, route, monkeypatch, (160, 120))
    assert len(geometry.face) > 8000
    depsgraph = bpy.context.evaluated_depsgraph_get()
    same = total = 0
    miss = []  # how far our hit point is from Blender's, per metre travelled
    for i, (row, col) in enumerate(np.ndindex(120, 160)):
        start, direction = motion_truth.camera_ray(scene, col, row)
        hit, location, _, face, obj, _ = scene.ray_cast(depsgraph, start, direction)
        if not hit:
            assert index[i] == -1, (row, col)
            continue
        total += 1
        assert index[i] >= 0, (row, col, obj.name)
        ours = geometry.face[index[i]]  # faces numbered instance by instance
        instance = int(np.searchsorted(geometry.first_face, ours, side="right")) - 1
        polygon = int(ours - geometry.first_face[instance])
        same += geometry.instances[instance].key[0] == obj.name and polygon == face
        miss.append(np.linalg.norm(points[i] - np.array(location)) / (location - start).length)
    assert total > 10000 and same / total >= 0.9995, (same, total)
    assert np.median(miss) < 1e-6 and np.max(miss) < 1e-4, (np.median(miss), np.max(miss))


@pytest.mark.parametrize("route", ["embree", "bvh"])
def test_a_pictures_surface_points_are_where_blender_hits(scene, route, monkeypatch):
    """The surface points of a picture's pixel centres (on Embree's route its cast's own
    weights and distances, on the BVH's intersected anew in double precision) against
    ``Scene.ray_cast`` through the same centres: the point its weights give on its
    triangle's vertices, and its planar depth along the camera's axis."""
    _dense_scene(scene)
    geometry, *_ = _cast(scene, route, monkeypatch, (160, 120))
    rows, cols = np.mgrid[0:120, 0:160]
    seen = geometry.picture_surfaces(rows.ravel(), cols.ravel())
    first = np.array([geometry.first_vertex[geometry.by_key[inst.key]] for inst in seen.instances] + [0])
    rows_of_vertices = first[seen.instance][:, None] + seen.corners
    points = np.einsum("nk,nkc->nc", seen.weights, geometry.vertices[rows_of_vertices])
    camera = scene.camera.matrix_world
    centre, forward = np.array(camera.translation), -np.array(camera.col[2][:3])
    depsgraph = bpy.context.evaluated_depsgraph_get()
    miss, depth_error = [], []
    for i, (row, col) in enumerate(np.ndindex(120, 160)):
        start, direction = motion_truth.camera_ray(scene, col, row)
        hit, location, *_ = scene.ray_cast(depsgraph, start, direction)
        if not hit:
            assert seen.instance[i] == -1 and seen.depth[i] == np.inf, (row, col)
            continue
        location = np.array(location)
        miss.append(np.linalg.norm(points[i] - location) / np.linalg.norm(location - np.array(start)))
        planar = (location - centre) @ forward
        depth_error.append(abs(seen.depth[i] - planar) / planar)
    assert len(miss) > 10000
    assert np.median(miss) < 5e-7 and np.max(miss) < 1e-5, (np.median(miss), np.max(miss))
    assert np.median(depth_error) < 5e-7 and np.max(depth_error) < 1e-5, (np.median(depth_error), np.max(depth_error))


def test_embree_and_blenders_bvh_hit_the_same_triangle(scene, monkeypatch):
    _dense_scene(scene)
    _, embree, embree_distance, _ = _cast(scene, "embree", monkeypatch, (640, 480))
    _, bvh, bvh_distance, _ = _cast(scene, "bvh", monkeypatch, (640, 480))
    assert (bvh >= 0).sum() > 150_000
    agree = np.mean(embree == bvh)
    assert agree >= 0.9999, agree
    both = (embree == bvh) & (bvh >= 0)
    np.testing.assert_allclose(embree_distance[both], bvh_distance[both], rtol=1e-5)


def test_embree_scenes_filled_through_embrees_own_functions_answer_as_embreex_fills_them(scene, monkeypatch):
    """``core/rays.py`` copies a scene's triangles into Embree with its C functions where
    embreex's scene object is laid out as expected (here it must be); the answers are
    those of the scene embreex's ``TriangleMesh`` fills, ray for ray."""
    from embreex import mesh_construction, rtcore_scene

    _dense_scene(scene)
    geometry, index, distance, _ = _cast(scene, "embree", monkeypatch, (320, 240))
    rays = _addon("core.rays")
    assert rays._BUFFERS is not None and rays._BUFFERS.handle(rtcore_scene.EmbreeScene(rays._DEVICE))
    reference = rtcore_scene.EmbreeScene()
    vertices = np.ascontiguousarray(geometry.vertices, np.float32)
    mesh_construction.TriangleMesh(reference, vertices, np.ascontiguousarray(geometry.corners, np.int32))
    rows, cols = np.mgrid[0:240, 0:320]
    pixels = np.stack([cols.ravel(), rows.ravel()], axis=1)
    origins, directions, per_depth = _addon("core.motion").pixel_rays(geometry.view, pixels)
    reach = (geometry.view.clip[1] - geometry.view.clip[0]) * per_depth
    found = reference.run(
        origins.astype(np.float32), directions.astype(np.float32), dists=reach.astype(np.float32), output=1
    )
    assert (index >= 0).sum() > 40_000
    np.testing.assert_array_equal(np.where(found["geomID"] < 0, -1, found["primID"]), index)
    np.testing.assert_array_equal(found["tfar"][index >= 0], distance[index >= 0].astype(np.float32))


@pytest.mark.parametrize("route", ["embree", "bvh"])
def test_a_cast_leaves_the_reach_it_was_given_as_it_was(addon, route, monkeypatch):
    """embreex writes each ray's distance into the distances it is given: the caller's
    array (a picture's kept reach, say) must not change."""
    if route == "bvh":
        monkeypatch.setenv("GROUND_TRUTH_RAYS", "bvh")
    else:
        monkeypatch.delenv("GROUND_TRUTH_RAYS", raising=False)
    corners = np.array([[0.0, 0.0, 5.0], [1.0, 0.0, 5.0], [0.0, 1.0, 5.0]])
    triangles = _addon("core.rays").Triangles(corners, np.array([[0, 1, 2]]))
    directions = np.array([[0.1, 0.1, 1.0], [0.0, 0.0, -1.0]])
    directions /= np.linalg.norm(directions, axis=1)[:, None]
    reach = np.full(2, 100.0, np.float32)
    index, distance = triangles.cast(np.zeros((2, 3)), directions, reach)
    np.testing.assert_array_equal(index, [0, -1])
    np.testing.assert_allclose(distance[0], 5 * np.sqrt(1.02), rtol=1e-6)  # to z = 5 along (0.1, 0.1, 1)
    np.testing.assert_array_equal(reach, [100.0, 100.0])


def test_meta_json_names_the_route(scene, monkeypatch, tmp_path):
    _dense_scene(scene)
    for route, named in (("bvh", "bvh (Blender's mathutils.bvhtree)"), ("embree", "embree (embreex 4.4.0.post1)")):
        if route == "bvh":
            monkeypatch.setenv("GROUND_TRUTH_RAYS", "bvh")
        else:
            monkeypatch.delenv("GROUND_TRUTH_RAYS")
        scene.ground_truth.output_dir = str(tmp_path / route)
        assert bpy.ops.render.gt_render_frame() == {"FINISHED"}
        assert json.loads((tmp_path / route / "meta.json").read_text())["rays"] == named
    assert scenes.effective_size(scene) == (160, 120)
