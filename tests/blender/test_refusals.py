# SPDX-License-Identifier: GPL-3.0-or-later
"""Scenes and settings that cannot export get a clear message and write nothing."""

import bpy
import pytest
import scenes


def refusal(message):
    with pytest.raises(RuntimeError, match=message):
        bpy.ops.render.gt_render_frame()


def test_no_camera(scene):
    refusal("no active camera")


def test_unsaved_blend_with_relative_output(scene):
    scenes.add_camera(scene, (0, -5, 0), (90, 0, 0))
    scene.ground_truth.output_dir = "//ground_truth/"
    refusal("Save the .blend file first")


def test_output_folder_is_a_file(scene, tmp_path):
    scenes.add_camera(scene, (0, -5, 0), (90, 0, 0))
    (tmp_path / "taken").write_text("x")
    scene.ground_truth.output_dir = str(tmp_path / "taken")
    refusal("is a file, not a folder")


def test_workbench(scene):
    scenes.add_camera(scene, (0, -5, 0), (90, 0, 0))
    scene.render.engine = "BLENDER_WORKBENCH"
    refusal("Workbench")


def test_panoramic_camera(scene, tmp_path):
    scenes.add_camera(scene, (0, -5, 0), (90, 0, 0), type="PANO")
    refusal("panoramic: only perspective and orthographic cameras are supported")
    assert not (tmp_path / "out").exists()
