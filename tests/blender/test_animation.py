# SPDX-License-Identifier: GPL-3.0-or-later
"""Animation export through the operator, resume, and export on F12 / Ctrl+F12."""

import json
from pathlib import Path

import bpy
import numpy as np
import pytest
import scenes

FRAMES = 3


@pytest.fixture
def moving(scene):
    scenes.build_moving_scene(scene, FRAMES)
    return scene


def out_dir(scene):
    return bpy.path.abspath(scene.ground_truth.output_dir)


def load(scene, frame):
    return dict(np.load(f"{out_dir(scene)}/npz/{frame:06d}.npz"))


def test_every_frame_is_exported_and_right(moving):
    layer = bpy.context.view_layer
    moving.frame_set(2)
    assert bpy.ops.render.gt_render_animation() == {"FINISHED"}
    assert moving.frame_current == 2  # the scene is left where it was
    assert not layer.use_pass_vector and not layer.use_pass_object_index
    for frame in range(1, FRAMES + 1):
        arrays = load(moving, frame)
        assert arrays["frame"] == frame
        moving.frame_set(frame)
        truth = scenes.cast_pixels(moving)
        inside = truth["interior"]
        relative = np.abs(arrays["depth"][inside] - truth["depth"][inside]) / truth["depth"][inside]
        assert relative.max() < 1e-4, frame
        index = {o.name: o.pass_index for o in moving.objects}
        np.testing.assert_array_equal(arrays["object_index"][inside], [index[name] for name in truth["object"][inside]])
        if frame == 2:
            for key, target in (("flow_forward", 3), ("flow_backward", 1)):
                error = np.linalg.norm(
                    arrays[key][inside] - scenes.flow_truth(moving, 2, target, truth)[inside], axis=-1
                )
                assert np.median(error) < 0.02, key
    meta = json.load(open(f"{out_dir(moving)}/meta.json"))
    assert meta["frames_written"] == [1, 2, 3]
    assert meta["flow_reaches_outside_export"] == {"forward": [3], "backward": [1]}


def test_a_second_run_renders_only_incomplete_frames(moving):
    moving.ground_truth.frame_end = 2  # the settings' range wins over the scene's
    assert bpy.ops.render.gt_render_animation() == {"FINISHED"}
    out = out_dir(moving)
    assert sorted(p.name for p in (Path(out) / "npz").iterdir()) == ["000001.npz", "000002.npz"]
    (Path(out) / "preview" / "depth" / "000002.png").unlink()  # frame 2 is now incomplete
    before = (Path(out) / "npz" / "000001.npz").stat().st_mtime_ns
    assert bpy.ops.render.gt_render_animation() == {"FINISHED"}
    assert (Path(out) / "preview" / "depth" / "000002.png").exists()
    assert (Path(out) / "npz" / "000001.npz").stat().st_mtime_ns == before  # not rendered again
    assert bpy.ops.render.gt_render_animation(overwrite=True) == {"FINISHED"}
    assert (Path(out) / "npz" / "000001.npz").stat().st_mtime_ns > before


@pytest.mark.parametrize("auto_export", [True, False])
def test_f12_still_exports_only_when_asked(moving, tmp_path, auto_export):
    moving.ground_truth.auto_export = auto_export
    moving.render.image_settings.file_format = "JPEG"
    moving.render.filepath = str(tmp_path / "user_render.jpg")
    moving.frame_set(2)
    bpy.ops.render.render(write_still=True)
    assert (tmp_path / "user_render.jpg").exists()  # the user's own output, in the user's format
    assert moving.render.image_settings.file_format == "JPEG"
    npz = tmp_path / "out" / "npz" / "000002.npz"
    assert npz.exists() is auto_export
    if auto_export:
        assert np.load(npz)["object_index"].max() == 3
        assert not bpy.context.view_layer.use_pass_vector  # passes restored after the render


@pytest.mark.parametrize("auto_export", [True, False])
def test_ctrl_f12_animation_exports_every_frame_only_when_asked(moving, tmp_path, auto_export):
    moving.ground_truth.auto_export = auto_export
    moving.render.filepath = str(tmp_path / "anim" / "f_")
    bpy.ops.render.render(animation=True)
    assert len(list((tmp_path / "anim").iterdir())) == FRAMES
    npz = sorted(p.name for p in (tmp_path / "out" / "npz").glob("*.npz")) if auto_export else []
    assert npz == (["000001.npz", "000002.npz", "000003.npz"] if auto_export else [])
    assert not (tmp_path / "out").exists() or auto_export
    if auto_export:
        for frame in (1, 3):
            assert load(moving, frame)["frame"] == frame


def test_handlers_are_added_once(addon):
    import addon_utils

    module = "bl_ext.user_default.ground_truth"
    for _ in range(2):
        addon_utils.disable(module)
        addon_utils.enable(module)
    for name in ("render_init", "render_pre", "render_post", "render_complete", "render_cancel", "load_pre"):
        ours = [f for f in getattr(bpy.app.handlers, name) if f.__module__.startswith(module)]
        assert len(ours) == 1, name
    addon_utils.disable(module)
    assert not [f for f in bpy.app.handlers.render_post if f.__module__.startswith(module)]
    assert not hasattr(bpy.types.Scene, "ground_truth")
    addon_utils.enable(module)
    assert hasattr(bpy.types.Scene, "ground_truth")
