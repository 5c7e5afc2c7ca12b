# SPDX-License-Identifier: GPL-3.0-or-later
"""``render.gt_setup_passes``: switch on the view-layer passes the modalities need."""

from __future__ import annotations

import bpy

from .. import compat
from ..compositor.wiring import enable_passes
from ..core.plan import plan
from ..pipeline.checks import engine_problem
from ..pipeline.options import wanted_modalities


class RENDER_OT_gt_setup_passes(bpy.types.Operator):
    """Enable the render passes that the chosen ground-truth modalities need"""

    bl_idname = "render.gt_setup_passes"
    bl_label = "Set Up Passes"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        if context.view_layer is None:
            cls.poll_message_set("No active view layer")
            return False
        problem = engine_problem(context.scene)
        if problem:
            cls.poll_message_set(problem)
            return False
        return True

    def execute(self, context):
        scene, settings = context.scene, context.scene.ground_truth
        chosen = plan(compat.render_engine(scene), wanted_modalities(settings))
        enable_passes(context.view_layer, chosen.passes)
        message = f"Enabled passes: {', '.join(chosen.passes)}"
        if chosen.missing:
            message += f"; {scene.render.engine} cannot give: {', '.join(chosen.missing)}"
        if chosen.flow and scene.render.use_motion_blur:
            message += "; motion blur will be off while exporting"
        self.report({"WARNING"} if chosen.missing else {"INFO"}, message)
        return {"FINISHED"}


classes = (RENDER_OT_gt_setup_passes,)
register, unregister = bpy.utils.register_classes_factory(classes)
