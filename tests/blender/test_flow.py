"""Forward/backward flow of a moving camera and moving objects against projected geometry."""

import math

import bpy
import numpy as np
import pytest
import scenes


def keyframe(obj, frame, location, rotation_deg):
    obj.location = location
    obj.rotation_euler = [math.radians(a) for a in rotation_deg]
    obj.keyframe_insert("location", frame=frame)
    obj.keyframe_insert("rotation_euler", frame=frame)


@pytest.fixture(scope="module")
def moving(addon, tmp_path_factory):
    scene = scenes.new_scene(tmp_path_factory.mktemp("flow") / "out")
    scene.frame_start, scene.frame_end = 1, 3
    cam = scenes.add_camera(scene, (0, -9, 3), (74, 0, 0), lens=35.0)
    scenes.add_mesh(scene, "Ground", "plane", (0, 0, -1), scale=12, pass_index=1)
    box = scenes.add_mesh(scene, "Box", "cube", (0, 0, 0), pass_index=2)
    ico = scenes.add_mesh(scene, "Ico", "ico", (2, 1, 0.5), scale=1.3, pass_index=3)
    # Camera: dollies right and pans; box: slides and spins; ico: rises towards the camera.
    for frame, (cx, yaw), (bx, spin), (iy, iz) in zip(
        (1, 2, 3),
        ((-0.3, -2.0), (0.0, 0.0), (0.35, 2.5)),
        ((-0.4, 0), (0, 12), (0.5, 20)),
        ((0.4, 0.3), (0.0, 0.5), (-0.5, 0.8)),
        strict=True,
    ):
        keyframe(cam, frame, (cx, -9, 3), (74, 0, yaw))
        keyframe(box, frame, (bx, 0, 0), (0, 0, spin))
        keyframe(ico, frame, (2, iy, iz), (0, 0, 0))
    scene.render.use_motion_blur = True  # the export must turn it off, then restore it
    scene.frame_set(2)
    assert bpy.ops.render.gt_render_frame() == {"FINISHED"}
    out = bpy.path.abspath(scene.ground_truth.output_dir)
    arrays = dict(np.load(f"{out}/npz/000002.npz"))
    hits = scenes.cast_pixels(scene)
    return scene, arrays, hits


def end_point_error(flow, truth, mask):
    return np.linalg.norm(flow[mask] - truth[mask], axis=-1)


@pytest.mark.parametrize(("key", "target"), [("flow_forward", 3), ("flow_backward", 1)])
def test_flow_matches_projected_motion(moving, key, target):
    scene, arrays, hits = moving
    truth = scenes.flow_truth(scene, 2, target, hits)
    inside = hits["interior"]
    assert np.linalg.norm(truth[inside], axis=-1).mean() > 2.0  # the motion is real
    for name in ("Ground", "Box", "Ico"):
        on = inside & (hits["object"] == name)
        assert on.sum() > 30, name
        assert np.median(end_point_error(arrays[key], truth, on)) < 0.02, name


def test_flow_is_nan_on_background(moving):
    _, arrays, hits = moving
    assert hits["empty"].sum() > 200
    for key in ("flow_forward", "flow_backward"):
        assert np.isnan(arrays[key][hits["empty"]]).all()
        assert np.isfinite(arrays[key][hits["hit"] & hits["interior"]]).all()


def test_motion_blur_is_restored_and_frame_kept(moving):
    scene, arrays, _ = moving
    assert scene.render.use_motion_blur is True
    assert scene.frame_current == 2 and arrays["frame"] == 2
