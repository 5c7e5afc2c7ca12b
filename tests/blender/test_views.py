# SPDX-License-Identifier: GPL-3.0-or-later
"""Many views: Stereo 3D pairs rendered in one pass, a rig of cameras from a collection,
and the reconstruction files, against truth the tests compute themselves.

Each Stereo 3D eye is rebuilt here as a camera of its own from the geometry of Blender's
Stereoscopy settings (manual: the eyes sit the interocular distance apart; off-axis
eyes shift their lenses so that the views meet at the convergence distance; toe-in eyes
turn to look at that point). Rays through that camera's pixel centres are the truth;
the rendered depth of Blender's own stereo render agreeing with them shows the rebuilt
eye is the one Blender rendered.
"""

from __future__ import annotations

import json
import math

import bpy
import numpy as np
import pytest
import scenes

IOD, CONVERGENCE = 0.3, 6.0


def _eye(scene, cam, name, offset, shift_x, turn):
    """A camera at ``offset`` metres along ``cam``'s x axis, turned by ``turn`` radians
    about its y axis (positive: its view towards -x), with lens shift ``shift_x``."""
    eye = bpy.data.objects.new(name, cam.data.copy())
    scene.collection.objects.link(eye)
    eye.parent = cam
    eye.location = (offset, 0.0, 0.0)
    eye.rotation_euler = (0.0, turn, 0.0)
    eye.data.shift_x = cam.data.shift_x + shift_x
    return eye


def _stereo_scene(scene, mode, pivot):
    scenes.build_moving_scene(scene)
    cam = scene.camera
    scene.render.use_multiview = True
    scene.render.views_format = "STEREO_3D"
    stereo = cam.data.stereo
    stereo.convergence_mode, stereo.pivot = mode, pivot
    stereo.interocular_distance, stereo.convergence_distance = IOD, CONVERGENCE
    moves = {"CENTER": (-IOD / 2, IOD / 2), "LEFT": (0.0, IOD), "RIGHT": (-IOD, 0.0)}[pivot]
    eyes = {}
    for name, offset in zip(("left", "right"), moves, strict=True):
        shift = turn = 0.0
        if mode == "OFFAXIS":  # a point on the axis at the convergence distance in the picture's centre
            shift = -cam.data.lens * offset / (CONVERGENCE * cam.data.sensor_width)
        if mode == "TOE":  # look at that point
            turn = math.atan2(offset, CONVERGENCE)
        eyes[name] = _eye(scene, cam, f"Eye_{name}", offset, shift, turn)
    scene.ground_truth.views = "MULTIVIEW"
    scene.frame_set(2)
    return cam, eyes


def _truth(scene, camera):
    """Ray casts through ``camera``'s pixel centres at the current frame."""
    before = scene.camera
    scene.camera = camera
    try:
        return scenes.cast_pixels(scene)
    finally:
        scene.camera = before


def _project(scene, camera, points):
    before = scene.camera
    scene.camera = camera
    try:
        return scenes.project(scene, points)
    finally:
        scene.camera = before


def _opencv_project(K, pose, points):
    camera = points @ pose[:3, :3].T + pose[:3, 3]
    uv = camera @ K.T
    return uv[:, :2] / uv[:, 2:]


@pytest.fixture(scope="module", params=[("PARALLEL", "CENTER"), ("OFFAXIS", "LEFT"), ("TOE", "CENTER")])
def stereo(request, addon, tmp_path_factory):
    mode, pivot = request.param
    out = tmp_path_factory.mktemp(f"stereo_{mode}") / "out"
    scene = scenes.new_scene(out)
    cam, eyes = _stereo_scene(scene, mode, pivot)
    assert bpy.ops.render.gt_render_frame() == {"FINISHED"}
    arrays = {name: dict(np.load(out / "views" / name / "npz" / "000002.npz")) for name in eyes}
    truth = {name: _truth(scene, eye) for name, eye in eyes.items()}
    return mode, scene, cam, eyes, arrays, truth, out


def test_each_eye_is_the_camera_blender_renders(stereo):
    _mode, scene, cam, eyes, arrays, truth, _out = stereo
    assert scene.render.use_multiview and scene.camera == cam  # the scene as found
    for name, eye in eyes.items():
        hits, got = truth[name], arrays[name]
        inside = hits["interior"]
        assert inside.sum() > 3000
        error = np.abs(got["depth"][inside] - hits["depth"][inside]) / hits["depth"][inside]
        assert np.median(error) < 1e-5 and error.max() < 1e-4, (name, error.max())
        assert np.all(np.isinf(got["depth"][hits["empty"]]))
        points = hits["location"][inside][::37]
        where = _opencv_project(got["K"], got["world_to_camera"], points)
        assert np.abs(where - _project(scene, eye, points)).max() < 1e-3
        normals = (got["normal_world"][inside] * hits["normal"][inside]).sum(-1)
        assert np.median(normals) > math.cos(math.radians(0.5))


def test_each_eye_has_its_own_flow(stereo):
    _mode, scene, _cam, eyes, arrays, truth, _out = stereo
    for name, eye in eyes.items():
        before = scene.camera
        scene.camera = eye
        try:
            expected = scenes.flow_truth(scene, 2, 3, truth[name])
        finally:
            scene.camera = before
        valid = np.isfinite(expected[..., 0])
        error = np.linalg.norm(arrays[name]["flow_forward"][valid] - expected[valid], axis=-1)
        assert valid.sum() > 3000 and np.median(error) < 0.01, (name, np.median(error))


def test_disparity_moves_a_point_along_its_row_to_the_other_eye(stereo):
    mode, scene, _cam, eyes, arrays, truth, out = stereo
    meta = json.loads((out / "meta.json").read_text())
    pair = meta["stereo"]
    assert (pair["convergence_mode"], pair["baseline_m"]) == (mode, pytest.approx(IOD))
    if mode == "TOE":
        assert pair["rectified"] is False
        for name in eyes:
            assert "disparity" not in arrays[name]
            view_meta = json.loads((out / "views" / name / "meta.json").read_text())
            assert "disparity" in view_meta["missing_modalities"]
        return
    assert pair["rectified"] is True
    for name, other, sign in (("left", "right", -1), ("right", "left", 1)):
        hits = truth[name]
        inside = hits["interior"]
        rows, cols = np.nonzero(inside)
        there = _project(scene, eyes[other], hits["location"][inside])
        assert np.abs(there[:, 1] - rows).max() < 1e-3  # the same row: rectified
        d = arrays[name]["disparity"][inside]
        expected = sign * (there[:, 0] - cols)  # left: x - d is the right view's x
        relative = np.abs(d - expected) / np.maximum(np.abs(expected), 1.0)
        assert np.median(relative) <= 1e-4 and relative.max() < 1e-3, (name, np.median(relative))
        fx = arrays[name]["K"][0, 0]
        z = arrays[name]["depth"][inside]
        at_infinity = 0.0 if mode == "PARALLEL" else -fx * IOD / CONVERGENCE  # SPEC's formula
        assert np.median(np.abs(d - (fx * IOD / z + at_infinity))) < 1e-4
        empty = hits["empty"]
        assert np.allclose(arrays[name]["disparity"][empty], at_infinity, atol=1e-4)


def _rig_scene(scene):
    scenes.build_moving_scene(scene)
    rig = bpy.data.collections.new("Rig")
    scene.collection.children.link(rig)
    placed = {"CamA": ((-4, -8, 3), (74, 0, -20)), "CamB": ((0, -9, 4), (68, 0, 0)), "CamC": ((5, -7, 2), (80, 0, 30))}
    cameras = {}
    for name, (location, rotation) in placed.items():
        camera = bpy.data.objects.new(name, bpy.data.cameras.new(name))
        rig.objects.link(camera)
        camera.location = location
        camera.rotation_euler = [math.radians(a) for a in rotation]
        camera.data.lens = 30.0
        cameras[name] = camera
    cameras["CamC"].data.shift_x = 0.1
    settings = scene.ground_truth
    settings.views, settings.camera_collection = "COLLECTION", rig
    settings.use_transforms_json = settings.use_colmap = True
    settings.colmap_points = 200
    scene.frame_set(2)
    return cameras


@pytest.fixture(scope="module")
def rig(addon, tmp_path_factory):
    out = tmp_path_factory.mktemp("rig") / "out"
    scene = scenes.new_scene(out)
    cameras = _rig_scene(scene)
    scene_camera = scene.camera
    assert bpy.ops.render.gt_render_frame() == {"FINISHED"}
    assert scene.camera == scene_camera  # put back
    arrays = {name: dict(np.load(out / "views" / name / "npz" / "000002.npz")) for name in cameras}
    truth = {name: _truth(scene, camera) for name, camera in cameras.items()}
    return scene, cameras, arrays, truth, out


def test_a_rig_writes_a_folder_per_camera_and_one_meta(rig):
    scene, cameras, arrays, truth, out = rig
    meta = json.loads((out / "meta.json").read_text())
    assert [v["name"] for v in meta["views"]] == ["CamA", "CamB", "CamC"]
    assert meta["frames_written"] == [2] and "stereo" not in meta
    for name in cameras:
        view_meta = json.loads((out / "views" / name / "meta.json").read_text())
        assert view_meta["camera"] == name and view_meta["frames_written"] == [2]
        hits, got = truth[name], arrays[name]
        inside = hits["interior"]
        error = np.abs(got["depth"][inside] - hits["depth"][inside]) / hits["depth"][inside]
        assert inside.sum() > 2000 and np.median(error) < 1e-5, name
        labelled = inside & (got["object_index"] > 0)
        names = {o.pass_index: o.name for o in scene.objects if o.pass_index}
        assert all(
            names[i] == hits["object"][r, c]
            for (r, c), i in zip(np.argwhere(labelled), got["object_index"][labelled], strict=True)
        )


def test_depth_of_one_view_reprojects_onto_another_through_the_poses(rig):
    scene, cameras, arrays, truth, _out = rig
    for a, b in (("CamA", "CamB"), ("CamB", "CamC"), ("CamC", "CamA")):
        A, B = arrays[a], arrays[b]
        inside = truth[a]["interior"]
        rows, cols = np.nonzero(inside)
        z = A["depth"][inside].astype(np.float64)
        rays = np.linalg.inv(A["K"]) @ np.stack([cols, rows, np.ones_like(cols)]).astype(np.float64)
        world = ((rays * z) - A["world_to_camera"][:3, 3:]).T @ A["world_to_camera"][:3, :3]
        landed = _opencv_project(B["K"], B["world_to_camera"], world)
        expected = _project(scene, cameras[b], truth[a]["location"][inside])
        assert np.median(np.linalg.norm(landed - expected, axis=1)) <= 0.01, (a, b)


def test_transforms_json_holds_each_views_camera_in_nerfstudios_axes(rig):
    _scene, cameras, arrays, _truth, out = rig
    transforms = json.loads((out / "transforms.json").read_text())
    frames = {f["file_path"]: f for f in transforms["frames"]}
    assert sorted(frames) == [f"views/{n}/rgb/000002.png" for n in ("CamA", "CamB", "CamC")]
    for name, camera in cameras.items():
        entry = frames[f"views/{name}/rgb/000002.png"]
        # OpenGL camera axes are Blender's own: the camera's world matrix, scale removed
        blender = np.array(camera.matrix_world.normalized())
        assert np.allclose(entry["transform_matrix"], blender, atol=1e-6)
        K = arrays[name]["K"]
        assert (entry["fl_x"], entry["cx"], entry["cy"]) == pytest.approx((K[0, 0], K[0, 2] + 0.5, K[1, 2] + 0.5))
        assert (out / entry["depth_file_path"]).exists()
    assert transforms["depth_unit_scale_factor"] == pytest.approx(1e-3)


def test_colmap_model_loads_in_pycolmap_with_the_exported_cameras(rig):
    import pycolmap  # COLMAP's own reader (requirements-dev.txt)

    _scene, _cameras, arrays, truth, out = rig
    model = pycolmap.Reconstruction()
    model.read_text(str(out / "colmap"))
    distinct = {tuple(a["K"].ravel()) for a in arrays.values()}  # CamC's lens is shifted
    assert len(model.images) == 3 and len(model.cameras) == len(distinct) == 2 and len(model.points3D) > 300
    for image in model.images.values():
        name = image.name.split("/")[1]
        pose = np.asarray(
            image.cam_from_world().matrix() if callable(image.cam_from_world) else image.cam_from_world.matrix()
        )
        assert np.allclose(pose, arrays[name]["world_to_camera"][:3], atol=1e-9)
        camera = model.cameras[image.camera_id]
        K = arrays[name]["K"]
        assert np.allclose(camera.calibration_matrix(), K + np.array([[0, 0, 0.5], [0, 0, 0.5], [0, 0, 0]]))
        # every 3D point lies on the surface the camera sees at its observation
        hits = truth[name]
        for point2d in image.points2D:
            if not point2d.has_point3D():
                continue
            xyz = model.points3D[point2d.point3D_id].xyz
            assert np.allclose(image.project_point(xyz), point2d.xy, atol=1e-6)
            col, row = (point2d.xy - 0.5).round().astype(int)
            if hits["interior"][row, col]:
                assert np.linalg.norm(xyz - hits["location"][row, col]) < 1e-4 * hits["depth"][row, col]


def refusal(message):
    with pytest.raises(RuntimeError, match=message):
        bpy.ops.render.gt_render_frame()


def test_views_that_cannot_render_say_why_and_write_nothing(scene, tmp_path):
    scenes.build_moving_scene(scene)
    settings = scene.ground_truth
    settings.views = "COLLECTION"
    refusal("choose the Camera Collection")
    empty = bpy.data.collections.new("Empty")
    settings.camera_collection = empty
    refusal("collection 'Empty' holds no camera")
    settings.views = "MULTIVIEW"
    refusal("turn on Output Properties › Stereoscopy")
    scene.render.use_multiview = True
    settings.use_colmap, settings.use_npz = True, False
    refusal("read each frame's K and pose from its NPZ or EXR")
    assert not (tmp_path / "out").exists()


def test_an_active_camera_export_ignores_stereoscopy(scene, tmp_path):
    scenes.build_moving_scene(scene)
    scene.render.use_multiview = True  # before, the compositor's two files broke the export
    assert bpy.ops.render.gt_render_frame() == {"FINISHED"}
    arrays = np.load(tmp_path / "out" / "npz" / "000001.npz")
    hits = scenes.cast_pixels(scene)
    inside = hits["interior"]
    assert np.median(np.abs(arrays["depth"][inside] - hits["depth"][inside]) / hits["depth"][inside]) < 1e-5
    assert scene.render.use_multiview and not (tmp_path / "out" / "views").exists()
