# SPDX-License-Identifier: GPL-3.0-or-later
"""Forward/backward flow of a moving camera and moving objects against projected geometry."""

import bpy
import numpy as np
import pytest
import scenes


@pytest.fixture(scope="module")
def moving(addon, tmp_path_factory):
    scene = scenes.new_scene(tmp_path_factory.mktemp("flow") / "out")
    scenes.build_moving_scene(scene)
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
