# SPDX-License-Identifier: GPL-3.0-or-later
"""One frame through ``render.gt_render_frame``, checked against ray-cast geometry."""

import json

import bpy
import motion_truth
import numpy as np
import pytest
import scenes

CAMERAS = {
    # name: (resolution, percentage, camera data)
    "auto_fit": ((160, 120), 100, {"lens": 35.0}),
    "half_res_shift_vertical_fit": (
        (320, 240),
        50,
        {"lens": 40.0, "sensor_fit": "VERTICAL", "sensor_height": 20.0, "shift_x": 0.08, "shift_y": -0.06},
    ),
    "portrait_auto_fit_shift": ((120, 160), 100, {"lens": 30.0, "shift_y": 0.1}),
    "orthographic_shift": ((160, 120), 100, {"type": "ORTHO", "ortho_scale": 9.0, "shift_x": 0.05}),
}


def build_static_scene(scene, camera):
    (rx, ry), percentage, data = CAMERAS[camera]
    scene.render.resolution_x, scene.render.resolution_y = rx, ry
    scene.render.resolution_percentage = percentage
    scenes.add_camera(scene, (0.7, -9.0, 3.2), (74, 0, 6), **data)
    scenes.add_mesh(scene, "Ground", "plane", (0, 0, -1), (4, -7, 0), scale=12, pass_index=1, material_index=10)
    box = scenes.add_mesh(scene, "Box", "cube", (-1.2, 0.5, 0.2), (10, 20, 35), pass_index=2, material_index=20)
    box.scale = (1.1, 0.6, 0.8)  # not uniform: the model frame takes it
    scenes.add_mesh(
        scene, "Lamp", "ico", (1.9, -0.8, 0.6), scale=0.8, pass_index=7, material_index=30, emission=(0.9, 0.5, 0.2)
    )
    scenes.add_sun(scene)


@pytest.fixture(scope="module", params=list(CAMERAS))
def exported(addon, tmp_path_factory, request):
    scene = scenes.new_scene(tmp_path_factory.mktemp(request.param) / "out")
    build_static_scene(scene, request.param)
    settings = scene.ground_truth
    settings.use_points = settings.use_object_coords = settings.use_nocs = True  # off by default
    assert bpy.ops.render.gt_render_frame() == {"FINISHED"}
    out = bpy.path.abspath(scene.ground_truth.output_dir)
    arrays = dict(np.load(f"{out}/npz/000001.npz"))
    return scene, arrays, scenes.cast_pixels(scene), out


def test_shapes_dtypes_and_keys(exported):
    _, arrays, truth, _ = exported
    h, w = truth["hit"].shape
    expected = {
        "depth": (np.float32, (h, w)),
        "depth_ray": (np.float32, (h, w)),
        "points": (np.float32, (h, w, 3)),
        "points_world": (np.float32, (h, w, 3)),
        "object_coords": (np.float32, (h, w, 3)),
        "nocs": (np.float32, (h, w, 3)),
        "normal": (np.float32, (h, w, 3)),
        "normal_world": (np.float32, (h, w, 3)),
        "flow_forward": (np.float32, (h, w, 2)),
        "flow_backward": (np.float32, (h, w, 2)),
        "occlusion_forward": (np.uint8, (h, w)),
        "occlusion_backward": (np.uint8, (h, w)),
        "object_index": (np.int32, (h, w)),
        "material_index": (np.int32, (h, w)),
        "emission": (np.float32, (h, w, 3)),
        "K": (np.float64, (3, 3)),
        "world_to_camera": (np.float64, (4, 4)),
        "frame": (np.int64, ()),
        "box_index": (np.int32, (3,)),
        "boxes": (np.int32, (3, 4)),
        "box_pixels": (np.int64, (3,)),
        "instance_id": (np.int32, (h, w)),
        "instance_box_id": (np.int32, (3,)),
        "instance_boxes": (np.int32, (3, 4)),
        "instance_box_pixels": (np.int64, (3,)),
        "instance_box_class": (np.int32, (3,)),
        "semantic": (np.int32, (h, w)),
        "instance_ids": (np.int32, (3,)),
        "instance_class": (np.int32, (3,)),
        "instance_model": (np.int32, (3,)),
        "instance_pose": (np.float64, (3, 4, 4)),
        "instance_box3d": (np.float64, (3, 8, 3)),
        "instance_visible_pixels": (np.int64, (3,)),
        "instance_amodal_pixels": (np.int64, (3,)),
        "instance_visibility": (np.float32, (3,)),
        "instance_amodal_boxes": (np.int32, (3, 4)),
        "instance_in_frame": (np.float32, (3,)),
    }
    assert {k: (v.dtype, v.shape) for k, v in arrays.items()} == {k: (np.dtype(t), s) for k, (t, s) in expected.items()}
    assert arrays["frame"] == 1


def test_instance_ids_name_the_objects_one_to_one(exported):
    """Through every camera: one id per object at pixel interiors, background 0, and
    meta.json's instances naming each with its pass index."""
    scene, arrays, truth, out = exported
    table = json.loads(open(f"{out}/meta.json", encoding="utf-8").read())["instances"]
    ids = arrays["instance_id"]
    inside = truth["interior"]
    names = {}
    for name in ("Ground", "Box", "Lamp"):
        found = set(ids[inside & (truth["object"] == name)].tolist())
        assert len(found) == 1, (name, found)
        (names[name],) = found
        assert table[str(names[name])] == {
            "object": name,
            "pass_index": scene.objects[name].pass_index,
            "instancer": None,
            "persistent_id": None,
        }
    assert len(set(names.values())) == 3 and sorted(arrays["instance_box_id"]) == sorted(names.values())
    assert (ids[truth["empty"]] == 0).all()
    # Cycles: the rays' object agrees with its IndexOB pass at every pixel both call an object.
    by_id = {value: scene.objects[name].pass_index for name, value in names.items()}
    labelled = ids > 0
    np.testing.assert_array_equal(np.vectorize(by_id.get)(ids[labelled]), arrays["object_index"][labelled])


def test_a_still_scene_is_visible_in_both_neighbours(exported):
    """Nothing moves: every surface point stays where it is, seen, whatever the camera's
    projection, shift or crop (the rays through pixel centres meet the render's surfaces)."""
    _, arrays, truth, _ = exported
    for key in ("occlusion_forward", "occlusion_backward"):
        assert (arrays[key][truth["interior"]] == 0).all()
        assert (arrays[key][truth["empty"]] == 255).all()
        assert truth["interior"].sum() > 5000 and truth["empty"].sum() > 100


def test_depth_matches_ray_casts_to_1e4_relative(exported):
    _, arrays, truth, _ = exported
    inside = truth["interior"]
    assert inside.sum() > 0.3 * inside.size
    relative = np.abs(arrays["depth"][inside] - truth["depth"][inside]) / truth["depth"][inside]
    assert relative.max() < 1e-4
    assert truth["empty"].sum() > 200  # sky above the horizon: the background is tested too
    assert np.isinf(arrays["depth"][truth["empty"]]).all()
    assert np.isfinite(arrays["depth"][truth["hit"]]).all()


def test_ray_distance_and_point_maps_meet_the_ray_casts(exported):
    """Against Blender's ray through each pixel centre (from the camera's view frame):
    the distance to its hit (from the camera centre; orthographic: from the view plane),
    the hit in world axes, and in the camera's axes (Blender's camera matrix, turned to
    OpenCV's x right, y down, z forward)."""
    scene, arrays, truth, _ = exported
    inside = truth["interior"]
    rows, cols = np.nonzero(inside)
    camera = scene.camera
    to_camera = np.array(camera.matrix_world.normalized().inverted())
    distance, in_camera = [], []
    for row, col in zip(rows, cols, strict=True):
        start, _ = motion_truth.camera_ray(scene, col, row)
        location = truth["location"][row, col]
        distance.append(np.linalg.norm(location - np.array(start)))
        in_camera.append(to_camera[:3, :3] @ location + to_camera[:3, 3])
    distance, in_camera = np.array(distance), np.array(in_camera) * [1.0, -1.0, -1.0]
    relative = np.abs(arrays["depth_ray"][inside] - distance) / distance
    assert np.median(relative) <= 1e-5 and relative.max() < 1e-4, (np.median(relative), relative.max())
    for key, truth_points in (("points_world", truth["location"][inside]), ("points", in_camera)):
        miss = np.linalg.norm(arrays[key][inside] - truth_points, axis=1) / distance
        assert np.median(miss) <= 1e-5 and miss.max() < 1e-4, (key, np.median(miss), miss.max())
    if camera.data.type == "ORTHO":
        np.testing.assert_array_equal(arrays["depth_ray"], arrays["depth"])
    else:  # depth·‖K⁻¹(x, y, 1)‖, in double precision from the NPZ's own K and depth
        h, w = arrays["depth"].shape
        grid = np.stack([*np.meshgrid(np.arange(w), np.arange(h)), np.ones((h, w))], axis=-1)
        stretch = np.linalg.norm(grid @ np.linalg.inv(arrays["K"]).T, axis=-1)
        seen = np.isfinite(arrays["depth"])
        np.testing.assert_allclose(arrays["depth_ray"][seen], (arrays["depth"] * stretch)[seen], rtol=1e-6)
    assert np.isinf(arrays["depth_ray"][truth["empty"]]).all()
    assert np.isnan(arrays["points"][truth["empty"]]).all() and np.isnan(arrays["points_world"][truth["empty"]]).all()


def test_object_coordinates_are_the_hits_in_each_object_s_scaled_local_frame(exported):
    """Against Blender's hit at each pixel centre, in the object's local frame
    (``matrix_world.inverted()``) times its world scale; NOCS against the box of the
    evaluated mesh's vertices, scaled the same way."""
    _, arrays, truth, _ = exported
    inside = truth["interior"]
    depsgraph = bpy.context.evaluated_depsgraph_get()
    for name in ("Ground", "Box", "Lamp"):
        obj = bpy.data.objects[name]
        on = inside & (truth["object"] == name)
        assert on.sum() > 50, name
        to_local = np.array(obj.matrix_world.inverted())
        scale = np.array(obj.matrix_world.to_scale())
        model = (truth["location"][on] @ to_local[:3, :3].T + to_local[:3, 3]) * scale
        miss = np.linalg.norm(arrays["object_coords"][on] - model, axis=1)
        assert np.median(miss) <= 1e-5 and miss.max() <= 1e-4, (name, np.median(miss), miss.max())
        vertices = np.array([v.co for v in obj.evaluated_get(depsgraph).data.vertices]) * scale
        low, high = vertices.min(axis=0), vertices.max(axis=0)
        expected = (model - (low + high) / 2) / np.linalg.norm(high - low) + 0.5
        np.testing.assert_allclose(arrays["nocs"][on], expected, atol=1e-4)
    assert np.nanmin(arrays["nocs"]) >= 0 and np.nanmax(arrays["nocs"]) <= 1
    assert np.isnan(arrays["object_coords"][truth["empty"]]).all() and np.isnan(arrays["nocs"][truth["empty"]]).all()


def test_normals_of_flat_faces_within_half_a_degree(exported):
    scene, arrays, truth, _ = exported
    inside = truth["interior"]
    n_true = truth["normal"][inside]
    angle = np.degrees(np.arccos(np.clip(np.sum(arrays["normal_world"][inside] * n_true, -1), -1, 1)))
    assert angle.max() < 0.5
    # Camera axes built from the camera object: x right, y down, z forward.
    m = np.array(scene.camera.matrix_world)[:3, :3]
    m = m / np.linalg.norm(m, axis=0)
    rotation = np.stack([m[:, 0], -m[:, 1], -m[:, 2]])
    angle = np.degrees(np.arccos(np.clip(np.sum(arrays["normal"][inside] * (n_true @ rotation.T), -1), -1, 1)))
    assert angle.max() < 0.5
    assert not arrays["normal"][truth["empty"]].any()


def test_masks_match_the_objects_hit(exported):
    scene, arrays, truth, _ = exported
    inside = truth["interior"]
    by_name = {o.name: o for o in scene.objects}
    object_truth = np.array([by_name[n].pass_index for n in truth["object"][inside]])
    material_truth = np.array([by_name[n].active_material.pass_index for n in truth["object"][inside]])
    np.testing.assert_array_equal(arrays["object_index"][inside], object_truth)
    np.testing.assert_array_equal(arrays["material_index"][inside], material_truth)
    assert (arrays["object_index"][truth["empty"]] == 0).all()


def box_of(mask):
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max(), ys.max()])


def test_boxes_lie_between_the_objects_interior_and_reach(exported):
    """Against the ray casts: a box holds every pixel whose whole filter window sees the
    object, and none that no sample can reach; its count lies between the two."""
    scene, arrays, truth, _ = exported
    by_index = {o.pass_index: o.name for o in scene.objects if o.type == "MESH"}
    assert arrays["box_index"].tolist() == sorted(by_index)
    for index, box, count in zip(arrays["box_index"], arrays["boxes"], arrays["box_pixels"], strict=True):
        name = by_index[int(index)]
        inner = truth["interior"] & (truth["object"] == name)
        outer = truth["touching"][name]
        assert inner.sum() > 20
        low, high = box_of(inner), box_of(outer)
        assert (box[:2] <= low[:2]).all() and (box[2:] >= low[2:]).all(), (name, box, low)
        assert (box[:2] >= high[:2]).all() and (box[2:] <= high[2:]).all(), (name, box, high)
        assert inner.sum() <= count <= outer.sum()


def test_emission_is_the_emitter_colour_and_zero_elsewhere(exported):
    _, arrays, truth, _ = exported
    inside = truth["interior"]
    lamp = inside & (truth["object"] == "Lamp")
    other = inside & (truth["object"] != "Lamp")
    assert lamp.sum() > 20
    np.testing.assert_allclose(arrays["emission"][lamp], np.tile([0.9, 0.5, 0.2], (lamp.sum(), 1)), atol=1e-4)
    assert np.abs(arrays["emission"][other]).max() < 1e-6


def test_intrinsics_and_pose_project_vertices_where_blender_does(exported):
    scene, arrays, _, _ = exported
    points = [obj.matrix_world @ v.co for obj in scene.objects if obj.type == "MESH" for v in obj.data.vertices]
    expected = scenes.project(scene, points)
    h, w = arrays["depth"].shape
    near = (np.abs(expected[:, 0] - w / 2) < w) & (np.abs(expected[:, 1] - h / 2) < h)  # float32 precision
    assert near.sum() >= 20
    points, expected = [p for p, keep in zip(points, near, strict=True) if keep], expected[near]
    homogeneous = np.c_[np.array(points), np.ones(len(points))]
    camera = (arrays["world_to_camera"] @ homogeneous.T)[:3]
    if scene.camera.data.type == "ORTHO":  # affine: K @ [x, y, 1], no division by z
        pixels = (arrays["K"] @ np.vstack([camera[:2], np.ones(len(points))]))[:2]
    else:
        pixels = (arrays["K"] @ camera)[:2] / camera[2]
    np.testing.assert_allclose(pixels.T, expected, atol=1e-3)
    rotation = arrays["world_to_camera"][:3, :3]
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)


def test_files_and_meta(exported):
    scene, _, truth, out = exported
    h, w = truth["hit"].shape
    with open(f"{out}/rgb/000001.png", "rb") as stream:
        header = stream.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert (int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")) == (w, h)
    meta = json.load(open(f"{out}/meta.json"))
    assert meta["frames_written"] == [1]
    assert meta["resolution"] == [w, h]
    assert meta["engine"] == "CYCLES" and meta["missing_modalities"] == []
    assert meta["projection"] == ("orthographic" if scene.camera.data.type == "ORTHO" else "perspective")
    assert meta["object_index_names"] == {"1": ["Ground"], "2": ["Box"], "7": ["Lamp"]}
    assert meta["material_index_names"] == {"10": ["GroundMaterial"], "20": ["BoxMaterial"], "30": ["LampMaterial"]}
    for key in ("depth", "normal", "flow_forward", "flow_backward", "object_index", "material_index", "emission"):
        with open(f"{out}/preview/{key}/000001.png", "rb") as stream:
            assert stream.read(8) == b"\x89PNG\r\n\x1a\n"
