# SPDX-License-Identifier: GPL-3.0-or-later
"""``render.gt_render_frame``: "Render Ground Truth" for the current frame."""

from __future__ import annotations

import bpy

from ..exporters.errors import ExportError
from ..pipeline.checks import notices
from ..pipeline.export import export_frame
from ..pipeline.options import options_from_settings
from ..pipeline.panel_state import poll_export


class RENDER_OT_gt_render_frame(bpy.types.Operator):
    """Render the current frame and export every chosen ground-truth modality"""

    bl_idname = "render.gt_render_frame"
    bl_label = "Render Ground Truth"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context):
        return poll_export(cls, context)

    def execute(self, context):
        options = options_from_settings(context.scene.ground_truth)
        try:
            result = export_frame(context.scene, context.view_layer, options)
        except ExportError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        message = f"Frame {result.frame}: {len(result.files)} files in {result.root}"
        warnings = notices(context.scene, options)  # what the engine cannot give, too
        self.report({"WARNING"} if warnings else {"INFO"}, "; ".join([message, *warnings]))
        return {"FINISHED"}


classes = (RENDER_OT_gt_render_frame,)
register, unregister = bpy.utils.register_classes_factory(classes)
