# SPDX-License-Identifier: GPL-3.0-or-later
"""Every public operator on a fresh scene with nothing set up, pressed in every order:
each one works, or is greyed out with a reason; never a Python traceback."""

import itertools
from importlib.util import find_spec

import bpy
import numpy as np
import pytest
import scenes

# The buttons of the panel, as a script presses them.
BUTTONS = {
    "setup": lambda: bpy.ops.render.gt_setup_passes,
    "wire": lambda: bpy.ops.node.gt_wire_compositor,
    "remove": lambda: bpy.ops.node.gt_remove_compositor,
    "render": lambda: bpy.ops.render.gt_render_frame,
    "animation": lambda: bpy.ops.render.gt_render_animation,
    "contact_sheet": lambda: bpy.ops.image.gt_open_contact_sheet,
    "categories": lambda: bpy.ops.scene.gt_fill_categories,
    "assign": lambda: bpy.ops.object.gt_assign_pass_indices,
}
if find_spec("rerun") is None:  # greyed out, saying how to install Rerun (with Rerun: test_viewer.py, offline)
    BUTTONS["view_3d"] = lambda: bpy.ops.wm.gt_open_3d_view


def press(name):
    """Press a button: ``None`` when it is greyed out, else what it returned. A Python
    error inside an operator reaches a script as a RuntimeError naming the traceback."""
    operator = BUTTONS[name]()
    if not operator.poll():
        return None
    try:
        return operator()
    except RuntimeError as error:
        assert "Traceback" not in str(error), f"{name}: {error}"
        raise


def fresh(tmp_path, with_camera):
    """A new empty scene: every pass off, no compositor tree, nothing wired."""
    scene = scenes.new_scene(tmp_path / "out")
    scene.frame_start, scene.frame_end = 1, 1
    if with_camera:
        scenes.add_camera(scene, (0, -6, 2), (72, 0, 0))
        scenes.add_mesh(scene, "Box", "cube", (0, 0, 0), pass_index=1)
    layer = bpy.context.view_layer
    assert not (layer.use_pass_z or layer.use_pass_normal or layer.use_pass_vector or layer.use_pass_object_index)
    return scene


def test_without_a_camera_every_button_works_or_says_why(addon, tmp_path):
    for order in itertools.permutations(["setup", "wire", "remove", "render", "animation"]):
        fresh(tmp_path, with_camera=False)
        for name in order:
            result = press(name)
            if name in ("render", "animation"):
                assert result is None  # greyed out: "The scene has no active camera"
            elif result is not None:
                assert result == {"FINISHED"}, (order, name)


@pytest.fixture(scope="module")
def truth(addon, tmp_path_factory):
    """Ray casts through the pixel centres of the scene :func:`fresh` builds."""
    scene = fresh(tmp_path_factory.mktemp("truth"), with_camera=True)
    return scenes.cast_pixels(scene)


@pytest.mark.parametrize("order", list(itertools.permutations(["setup", "wire", "remove", "render"])))
def test_with_a_camera_every_order_exports_right(truth, tmp_path, order):
    scene = fresh(tmp_path, with_camera=True)
    for name in (*order, "animation", "contact_sheet", "categories", "assign", *BUTTONS.keys() & {"view_3d"}):
        result = press(name)
        assert result in (None, {"FINISHED"}), (order, name)
        if name == "wire":  # wiring switched on what it links
            layer = bpy.context.view_layer
            assert layer.use_pass_z and layer.use_pass_normal and layer.use_pass_vector
            assert layer.use_pass_object_index and layer.use_pass_material_index and layer.use_pass_emit
        if name in ("setup", "wire", "render", "animation"):
            assert result == {"FINISHED"}, (order, name)
    arrays = np.load(tmp_path / "out" / "npz" / "000001.npz")
    inside = truth["interior"]
    relative = np.abs(arrays["depth"][inside] - truth["depth"][inside]) / truth["depth"][inside]
    assert inside.sum() > 1000 and relative.max() < 1e-4
    assert (arrays["object_index"][inside] == (truth["object"][inside] == "Box")).all()
    assert [c.pass_index for c in scene.ground_truth.categories] == [1]
