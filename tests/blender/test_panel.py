# SPDX-License-Identifier: GPL-3.0-or-later
"""The sidebar only lays out: its draw() reads what pipeline/panel_state.py worked out
when something changed, touches no disk and looks at no object. Blender draws panels
only in a window (tests/gui presses their buttons there); here each panel's draw() is
called with a layout that records what it was asked to show and, as Blender's does,
asks each button's operator whether it can run (its poll, in the sidebar's region)."""

import importlib
import os
import types

import bpy
import devenv
import pytest
import scenes


class Layout:
    """Blender's UILayout, as far as our panels use it: it records labels and operators."""

    def __init__(self, shown, context):
        self.shown, self.context = shown, context
        self.active = True
        self.scale_y = 1.0
        self.use_property_split = self.use_property_decorate = False

    def label(self, text="", icon="NONE"):
        self.shown.append(("label", text))

    def operator(self, idname, **_):
        category, name = idname.split(".")
        operator = getattr(bpy.types, f"{category.upper()}_OT_{name}")
        enabled = operator.poll(self.context) if hasattr(operator, "poll") else True
        self.shown.append(("operator", idname, enabled))
        return types.SimpleNamespace()

    def prop(self, data, name, **_):
        getattr(data, name)  # a wrong name fails as it would in Blender

    def progress(self, **_):
        pass

    def column(self, **_):
        return Layout(self.shown, self.context)

    row = box = column


def draw_every_panel(scene):
    sidebar = importlib.import_module(f"{devenv.ADDON_MODULE}.panels.sidebar")
    shown = []
    region = types.SimpleNamespace(type="UI", width=300)
    context = types.SimpleNamespace(
        scene=scene, region=region, preferences=bpy.context.preferences, view_layer=bpy.context.view_layer
    )
    for panel in sidebar.classes:
        if panel.poll(context):
            panel.draw(types.SimpleNamespace(layout=Layout(shown, context)), context)
    return shown


def add_objects(scene, count):
    mesh = bpy.data.meshes.new("shared")
    mesh.from_pydata([(0, 0, 0), (1, 0, 0), (0, 1, 0)], [], [(0, 1, 2)])
    for i in range(count):
        scene.collection.objects.link(bpy.data.objects.new(f"piece{i}", mesh))


def test_draw_lays_out_what_was_worked_out_and_touches_no_disk(scene, tmp_path, monkeypatch):
    state = importlib.import_module(f"{devenv.ADDON_MODULE}.pipeline.panel_state")
    scenes.add_camera(scene, (0, -5, 0), (90, 0, 0))
    scene.render.engine = "CYCLES"
    (tmp_path / "taken").write_text("x")
    scene.ground_truth.output_dir = str(tmp_path / "taken")
    add_objects(scene, 10)
    state.refresh(scene, bpy.context.view_layer, full=True)

    def refuse(*args, **kwargs):
        raise AssertionError(f"the panel touched the disk: {args[:1]}")

    with monkeypatch.context() as patch:
        for name in ("stat", "lstat", "scandir", "listdir", "access"):
            patch.setattr(os, name, refuse)
        patch.setattr("builtins.open", refuse)
        shown = draw_every_panel(scene)
        add_objects(scene, 3000)  # not worked out yet: the panel still shows 10
        again = draw_every_panel(scene)
    labels = [item[1] for item in shown if item[0] == "label"]
    assert any("is a file, not a folder" in text for text in labels)
    assert any(text.startswith("10 objects have pass index 0") for text in labels)
    assert ("operator", "object.gt_assign_pass_indices", True) in shown
    assert ("operator", "render.gt_render_frame", False) in shown  # greyed out: the folder is a file
    assert again == shown

    state.refresh(scene, bpy.context.view_layer, full=True)
    labels = [item[1] for item in draw_every_panel(scene) if item[0] == "label"]
    assert any(text.startswith("3010 objects have pass index 0") for text in labels)
    (tmp_path / "taken").unlink()  # the disk is looked at each tick, the scene only on a change
    assert state.refresh(scene, bpy.context.view_layer)
    labels = [item[1] for item in draw_every_panel(scene) if item[0] == "label"]
    assert not any("is a file" in text for text in labels)


def test_before_the_first_tick_the_panel_says_it_is_checking(scene):
    state = importlib.import_module(f"{devenv.ADDON_MODULE}.pipeline.panel_state")
    state._on_load()
    assert ("label", "Checking the scene…") in draw_every_panel(scene)


def test_a_script_s_operator_is_checked_afresh_not_from_the_panel_s_state(scene, tmp_path):
    state = importlib.import_module(f"{devenv.ADDON_MODULE}.pipeline.panel_state")
    scenes.add_camera(scene, (0, -5, 0), (90, 0, 0))
    state.refresh(scene, bpy.context.view_layer, full=True)
    assert not state.current(scene).problems
    (tmp_path / "taken").write_text("x")
    scene.ground_truth.output_dir = str(tmp_path / "taken")  # no tick since
    with pytest.raises(RuntimeError, match="is a file, not a folder"):
        bpy.ops.render.gt_render_frame()
