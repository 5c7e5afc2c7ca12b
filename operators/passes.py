"""``render.gt_setup_passes``: switch on the view-layer passes the modalities need."""

from __future__ import annotations

import bpy

from ..core.modalities import engine_family, passes_for, unsupported_modalities
from ..pipeline.session import VIEW_LAYER_PASSES
from ..properties import wanted_modalities


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
        return True

    def execute(self, context):
        scene, settings = context.scene, context.scene.ground_truth
        if engine_family(scene.render.engine) not in ("CYCLES", "EEVEE"):
            self.report({"ERROR"}, f"{scene.render.engine} gives no ground-truth passes: use Cycles or EEVEE")
            return {"CANCELLED"}
        wanted = wanted_modalities(settings)
        missing = unsupported_modalities(scene.render.engine, wanted)
        passes = passes_for([key for key in wanted if key not in missing])
        for name in passes:
            setattr(context.view_layer, VIEW_LAYER_PASSES[name], True)
        message = f"Enabled passes: {', '.join(passes)}"
        if missing:
            message += f"; {scene.render.engine} cannot give: {', '.join(missing)}"
        if settings.use_flow and scene.render.use_motion_blur:
            message += "; motion blur will be off while exporting"
        self.report({"WARNING"} if missing else {"INFO"}, message)
        return {"FINISHED"}


classes = (RENDER_OT_gt_setup_passes,)
register, unregister = bpy.utils.register_classes_factory(classes)
