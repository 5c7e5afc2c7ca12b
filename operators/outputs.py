# SPDX-License-Identifier: GPL-3.0-or-later
"""Operators around the outputs: the contact sheet, the 3D view and the COCO category names."""

from __future__ import annotations

import sys

import bpy

from .. import viewer
from ..exporters.layout import META_NAME
from ..pipeline import panel_state, scene_info
from ..pipeline.checks import output_root, unindexed_objects
from ..pipeline.contact import CONTACT_SHEET_NAME


class IMAGE_OT_gt_open_contact_sheet(bpy.types.Operator):
    """Open the output folder's contact sheet (frames × RGB and previews) in an Image Editor"""

    bl_idname = "image.gt_open_contact_sheet"
    bl_label = "Open Contact Sheet"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context):
        state = panel_state.sidebar_state(context)
        root = output_root(context.scene.ground_truth.output_dir)
        if not (state.contact_sheet if state else (root / CONTACT_SHEET_NAME).is_file()):
            cls.poll_message_set("No contact sheet yet: export with Previews on")
            return False
        return True

    def execute(self, context):
        path = output_root(context.scene.ground_truth.output_dir) / CONTACT_SHEET_NAME
        image = bpy.data.images.load(str(path), check_existing=True)
        image.reload()  # the sheet is rewritten after every run
        editors = [a for a in context.screen.areas if a.type == "IMAGE_EDITOR"] if context.screen else []
        if not editors and context.window is not None and not bpy.app.background:
            bpy.ops.wm.window_new()
            area = bpy.context.window.screen.areas[0]
            area.type = "IMAGE_EDITOR"
            editors = [area]
        for area in editors[:1]:
            area.spaces.active.image = image
        self.report({"INFO"}, f"Contact sheet: {path}")
        return {"FINISHED"}


def install_hint() -> str:
    """How to give Blender's Python Rerun, naming that Python."""
    return f"Rerun is not installed in Blender's Python: {sys.executable} -m {viewer.INSTALL}"


class WM_OT_gt_open_3d_view(bpy.types.Operator):
    """Write the output folder's Rerun recording (run.rrd: cameras, RGB, depth points, masks, flow, tracks), open it"""

    bl_idname = "wm.gt_open_3d_view"
    bl_label = "Open 3D View"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context):
        state = panel_state.sidebar_state(context)
        if not (state.rerun if state else viewer.rerun_installed()):
            cls.poll_message_set(install_hint())
            return False
        if not (
            state.exported if state else (output_root(context.scene.ground_truth.output_dir) / META_NAME).is_file()
        ):
            cls.poll_message_set("Nothing exported into the output folder yet")
            return False
        return True

    def execute(self, context):
        root = output_root(context.scene.ground_truth.output_dir)
        try:
            path = viewer.write_recording(root)
        except (viewer.ViewerError, OSError, ValueError) as error:
            self.report({"ERROR"}, f"No 3D view: {error}")
            return {"CANCELLED"}
        if bpy.app.background or not viewer.can_open_viewer():
            self.report({"INFO"}, f"Recording saved: {path} (no display here: open it with rerun {path})")
        else:
            viewer.open_viewer(path)
            self.report({"INFO"}, f"3D view: {path}")
        return {"FINISHED"}


class SCENE_OT_gt_fill_categories(bpy.types.Operator):
    """Add a COCO category row for every object pass index in the scene that has none, named after its objects"""

    bl_idname = "scene.gt_fill_categories"
    bl_label = "Fill From Objects"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        settings = context.scene.ground_truth
        named = {c.pass_index for c in settings.categories}
        names = scene_info.names_by_index(scene_info.objects_table(context.scene))
        added = [index for index in sorted(names) if index not in named]
        for index in added:
            row = settings.categories.add()
            row.pass_index, row.name = index, names[index]
        self.report({"INFO"}, f"Added {len(added)} categories")
        return {"FINISHED"}


class SCENE_OT_gt_remove_category(bpy.types.Operator):
    """Remove this COCO category row"""

    bl_idname = "scene.gt_remove_category"
    bl_label = "Remove Category"
    bl_options = {"REGISTER", "UNDO", "INTERNAL"}

    index: bpy.props.IntProperty()

    def execute(self, context):
        context.scene.ground_truth.categories.remove(self.index)
        return {"FINISHED"}


class OBJECT_OT_gt_assign_pass_indices(bpy.types.Operator):
    """Give every renderable object at pass index 0 its own unused pass index (indices you set stay)"""

    bl_idname = "object.gt_assign_pass_indices"
    bl_label = "Assign Pass Indices"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        state = panel_state.sidebar_state(context)
        if not (state.unindexed if state else unindexed_objects(context.scene)):
            cls.poll_message_set("Every object already has a pass index")
            return False
        return True

    def execute(self, context):
        used = {o.pass_index for o in bpy.data.objects}
        candidates = (i for i in range(1, 2**31) if i not in used)
        objects = sorted(unindexed_objects(context.scene), key=lambda o: o.name)
        for obj, index in zip(objects, candidates, strict=False):
            obj.pass_index = index
        self.report({"INFO"}, f"Gave {len(objects)} objects their own pass index")
        return {"FINISHED"}


class OBJECT_OT_gt_set_class(bpy.types.Operator):
    """Set the semantic class of the selected objects: the text of their class property (Class Property)"""

    bl_idname = "object.gt_set_class"
    bl_label = "Set Class of Selected"
    bl_options = {"REGISTER", "UNDO"}

    name: bpy.props.StringProperty(name="Class", description="The class name, e.g. car")

    @classmethod
    def poll(cls, context):
        if not getattr(context, "selected_objects", None):  # absent where no objects can be selected
            cls.poll_message_set("Select the objects to give a class")
            return False
        if not context.scene.ground_truth.class_property.strip():
            cls.poll_message_set("Class Property is empty: name the custom property that holds the class")
            return False
        return True

    def invoke(self, context, event):
        return context.window_manager.invoke_props_dialog(self)

    def execute(self, context):
        name = self.name.strip()
        if not name:
            self.report({"ERROR"}, "Give the class a name")
            return {"CANCELLED"}
        prop = context.scene.ground_truth.class_property.strip()
        for obj in context.selected_objects:
            obj[prop] = name
        self.report({"INFO"}, f"Set class '{name}' on {len(context.selected_objects)} objects")
        return {"FINISHED"}


classes = (
    IMAGE_OT_gt_open_contact_sheet,
    WM_OT_gt_open_3d_view,
    SCENE_OT_gt_fill_categories,
    SCENE_OT_gt_remove_category,
    OBJECT_OT_gt_assign_pass_indices,
    OBJECT_OT_gt_set_class,
)
register, unregister = bpy.utils.register_classes_factory(classes)
