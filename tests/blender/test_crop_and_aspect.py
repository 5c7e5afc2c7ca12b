# SPDX-License-Identifier: GPL-3.0-or-later
"""Border crop and non-square pixels: the arrays and K stay consistent with the picture."""

import bpy
import numpy as np
import scenes


def export(scene):
    assert bpy.ops.render.gt_render_frame() == {"FINISHED"}
    out = bpy.path.abspath(scene.ground_truth.output_dir)
    return dict(np.load(f"{out}/npz/{scene.frame_current:06d}.npz"))


def build(scene):
    scenes.add_camera(scene, (0.5, -8, 2.5), (75, 0, 4), lens=30.0, shift_x=0.05)
    scenes.add_mesh(scene, "Ground", "plane", (0, 0, -1), scale=10, pass_index=1)
    scenes.add_mesh(scene, "Box", "cube", (0, 0, 0), (0, 0, 30), pass_index=2)


def test_border_crop_is_a_window_of_the_full_picture(scene, tmp_path):
    build(scene)
    full = export(scene)
    scene.render.use_border = scene.render.use_crop_to_border = True
    scene.render.border_min_x, scene.render.border_max_x = 0.3, 0.8
    scene.render.border_min_y, scene.render.border_max_y = 0.1, 0.7
    scene.ground_truth.output_dir = str(tmp_path / "cropped")
    crop = export(scene)

    h, w = crop["depth"].shape
    assert (w, h) == (80, 72)  # 0.5 × 160 by 0.6 × 120
    # Find the crop inside the full picture from the data alone, then hold K to it.
    candidates = [
        (x0, y0)
        for y0 in range(0, 120 - h + 1)
        for x0 in range(0, 160 - w + 1)
        if np.array_equal(full["object_index"][y0 : y0 + h, x0 : x0 + w], crop["object_index"])
    ]
    assert len(candidates) == 1
    x0, y0 = candidates[0]
    window = full["depth"][y0 : y0 + h, x0 : x0 + w]
    finite = np.isfinite(window)
    np.testing.assert_allclose(crop["depth"][finite], window[finite], rtol=1e-5)
    expected_K = full["K"].copy()
    expected_K[0, 2] -= x0
    expected_K[1, 2] -= y0
    np.testing.assert_allclose(crop["K"], expected_K, atol=1e-9)


def test_non_square_pixels(scene):
    build(scene)
    scene.render.pixel_aspect_x, scene.render.pixel_aspect_y = 1.0, 1.6
    arrays = export(scene)
    truth = scenes.cast_pixels(scene)
    inside = truth["interior"]
    assert inside.sum() > 2000
    relative = np.abs(arrays["depth"][inside] - truth["depth"][inside]) / truth["depth"][inside]
    assert relative.max() < 1e-4
    points = [o.matrix_world @ v.co for o in scene.objects if o.name == "Box" for v in o.data.vertices]
    expected = scenes.project(scene, points)
    camera = (arrays["world_to_camera"] @ np.c_[np.array(points), np.ones(len(points))].T)[:3]
    np.testing.assert_allclose(((arrays["K"] @ camera)[:2] / camera[2]).T, expected, atol=1e-3)
    assert arrays["K"][1, 1] < arrays["K"][0, 0]  # taller pixels: fewer of them per metre vertically
