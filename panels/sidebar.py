# SPDX-License-Identifier: GPL-3.0-or-later
"""Sidebar panels: output, modalities, views, formats, and the compositor set-up.

They only lay out: what they show besides the settings (problems, notices, counts, what
is on disk) is worked out by ``pipeline/panel_state.py`` when something changes, and
read here."""

from __future__ import annotations

import textwrap

import bpy

from .. import compat
from ..core.modalities import MODALITIES, engine_gives
from ..exporters.formats import FORMATS
from ..operators import animation
from ..operators.outputs import install_hint
from ..pipeline import handlers, panel_state
from ..pipeline.views import COLLECTION, MULTIVIEW


class GroundTruthPanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Ground Truth"

    @classmethod
    def poll(cls, context):
        return context.scene is not None


def wrapped_label(layout, context, text: str, icon: str = "NONE") -> None:
    """A message as several lines that fit the sidebar's width (labels do not wrap)."""
    characters = max(20, int(context.region.width / (7 * context.preferences.view.ui_scale))) if context.region else 40
    column = layout.column(align=True)
    for i, line in enumerate(textwrap.wrap(text, characters)):
        column.label(text=line, icon=icon if i == 0 else "BLANK1")


class VIEW3D_PT_gt_main(GroundTruthPanel, bpy.types.Panel):
    bl_label = "Ground Truth"

    def draw(self, context):
        layout = self.layout
        settings, state = context.scene.ground_truth, panel_state.current(context.scene)
        layout.label(text="Output Folder")
        layout.prop(settings, "output_dir", text="")
        if state is None:
            layout.label(text="Checking the scene…", icon="TIME")
            return
        for problem in state.problems:
            wrapped_label(layout, context, problem, icon="ERROR")
        for notice in state.notices:
            wrapped_label(layout, context, notice, icon="INFO")
        if state.unindexed:
            layout.operator("object.gt_assign_pass_indices", icon="LINENUMBERS_ON")
        column = layout.column()
        column.scale_y = 1.5
        column.operator("render.gt_render_frame", icon="RENDER_STILL")
        column.operator("render.gt_render_animation", text="Render Animation", icon="RENDER_ANIMATION")
        if animation.running is not None:
            progress = animation.running
            if hasattr(layout, "progress"):  # Blender 4.0+
                layout.progress(factor=progress.finished / max(progress.total, 1), text=progress.describe())
            else:
                wrapped_label(layout, context, progress.describe(), icon="RENDER_ANIMATION")
            layout.label(text="Esc stops after this frame", icon="INFO")
        layout.prop(settings, "auto_export", text="Export on F12 Render")
        writing = handlers.finishing()
        if writing:
            wrapped_label(layout, context, writing[0].upper() + writing[1:], icon="RENDER_STILL")


class VIEW3D_PT_gt_range(GroundTruthPanel, bpy.types.Panel):
    bl_label = "Animation Range"
    bl_parent_id = "VIEW3D_PT_gt_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        settings = context.scene.ground_truth
        column = layout.column(align=True)
        column.prop(settings, "frame_start")
        column.prop(settings, "frame_end")
        start = settings.frame_start or context.scene.frame_start
        end = settings.frame_end or context.scene.frame_end
        layout.label(text=f"Frames {start}–{end}; 0 uses the scene's range. Complete frames are skipped.")


class VIEW3D_PT_gt_modalities(GroundTruthPanel, bpy.types.Panel):
    bl_label = "Modalities"
    bl_parent_id = "VIEW3D_PT_gt_main"

    def draw(self, context):
        settings = context.scene.ground_truth
        engine = compat.render_engine(context.scene)
        column = self.layout.column(heading="Export")
        for modality in MODALITIES:
            row = column.row()
            goes_with = modality.requires is None or getattr(settings, f"use_{modality.requires}")
            row.active = engine_gives(engine, modality.key) and goes_with
            if modality.stereo:
                row.active &= settings.views == MULTIVIEW
            row.prop(settings, f"use_{modality.key}")
            if modality.key == "semantic":
                _draw_classes(context, column, settings)
            if modality.key == "flow":
                row = column.row()
                row.active = settings.use_flow and engine_gives(engine, "flow")
                row.prop(settings, "flow_offsets")
        column.prop(settings, "use_tracks")
        if settings.use_tracks:
            column.prop(settings, "tracks_per_object")
            column.prop(settings, "tracks_seed")


def _draw_classes(context, column, settings) -> None:
    """The class settings under Semantic Classes, and what the last tick found."""
    if not (settings.use_semantic or settings.use_object_labels):
        return
    box = column.box()
    box.prop(settings, "class_property")
    box.prop(settings, "class_table")
    state = panel_state.current(context.scene)
    if state is not None and state.classes:
        wrapped_label(box, context, state.classes, icon="GROUP")
        if state.unclassed:
            box.label(text=f"{state.unclassed} objects have no class (0)", icon="INFO")
    box.operator("object.gt_set_class", icon="TAG")


class VIEW3D_PT_gt_views(GroundTruthPanel, bpy.types.Panel):
    bl_label = "Views"
    bl_parent_id = "VIEW3D_PT_gt_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        settings, state = context.scene.ground_truth, panel_state.current(context.scene)
        layout.prop(settings, "views", text="")
        if settings.views == COLLECTION:
            layout.prop(settings, "camera_collection", text="")
        if state is not None and state.views:  # else the main panel says why
            wrapped_label(layout, context, state.views)
            if state.stereo:
                layout.label(text=state.stereo)
        column = layout.column(heading="Reconstruction")
        column.prop(settings, "use_transforms_json")
        column.prop(settings, "use_colmap")
        row = column.row()
        row.active = settings.use_colmap
        row.prop(settings, "colmap_points")


class VIEW3D_PT_gt_formats(GroundTruthPanel, bpy.types.Panel):
    bl_label = "Formats"
    bl_parent_id = "VIEW3D_PT_gt_main"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.ground_truth
        for heading, primary in (("Write", True), ("Also", False)):
            column = layout.column(heading=heading)
            for file_format in FORMATS:
                if file_format.primary != primary:
                    continue
                column.prop(settings, f"use_{file_format.key}")
                if file_format.extra:
                    row = column.row()
                    row.active = getattr(settings, f"use_{file_format.key}")
                    row.prop(settings, file_format.extra)
        row = layout.row(align=True)
        row.operator("image.gt_open_contact_sheet", icon="IMAGE_DATA")
        row.operator("wm.gt_open_3d_view", icon="VIEW3D")
        state = panel_state.current(context.scene)
        if state is not None and not state.rerun:
            wrapped_label(layout, context, install_hint(), icon="INFO")


class VIEW3D_PT_gt_coco(GroundTruthPanel, bpy.types.Panel):
    bl_label = "COCO Categories"
    bl_parent_id = "VIEW3D_PT_gt_formats"
    bl_options = {"DEFAULT_CLOSED"}

    @classmethod
    def poll(cls, context):
        return context.scene is not None and context.scene.ground_truth.use_coco

    def draw(self, context):
        layout = self.layout
        settings = context.scene.ground_truth
        for i, category in enumerate(settings.categories):
            row = layout.row(align=True)
            row.prop(category, "pass_index", text="")
            row.prop(category, "name", text="")
            row.operator("scene.gt_remove_category", text="", icon="X").index = i
        layout.operator("scene.gt_fill_categories", icon="ADD")
        layout.label(text="Unnamed pass indices take their objects' names")
        per = "instance" if settings.use_instance_id else "pass index (Instance IDs off)"
        layout.label(text=f"One annotation per visible {per}")
        state = panel_state.current(context.scene)
        if state is not None and state.unindexed:
            layout.label(text=f"{state.unindexed} objects with pass index 0 are not annotated", icon="INFO")


class VIEW3D_PT_gt_setup(GroundTruthPanel, bpy.types.Panel):
    bl_label = "Passes & Compositor"
    bl_parent_id = "VIEW3D_PT_gt_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        layout.operator("render.gt_setup_passes", icon="RENDERLAYERS")
        row = layout.row(align=True)
        row.operator("node.gt_wire_compositor", icon="NODETREE")
        row.operator("node.gt_remove_compositor", text="", icon="X")
        state = panel_state.current(context.scene)
        if state is not None:
            layout.label(text="Nodes wired" if state.wired else "Nodes not wired (export wires them while it runs)")


classes = (
    VIEW3D_PT_gt_main,
    VIEW3D_PT_gt_modalities,
    VIEW3D_PT_gt_views,
    VIEW3D_PT_gt_formats,
    VIEW3D_PT_gt_coco,
    VIEW3D_PT_gt_range,
    VIEW3D_PT_gt_setup,
)
_register_classes, _unregister_classes = bpy.utils.register_classes_factory(classes)


def register() -> None:
    _register_classes()
    panel_state.register()


def unregister() -> None:
    panel_state.unregister()
    _unregister_classes()
