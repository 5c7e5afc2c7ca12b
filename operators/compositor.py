"""``node.gt_wire_compositor`` and ``node.gt_remove_compositor``."""

from __future__ import annotations

import bpy

from .. import compat
from ..compositor import wiring
from ..core.modalities import passes_for, unsupported_modalities
from ..properties import wanted_modalities


class NODE_OT_gt_wire_compositor(bpy.types.Operator):
    """Add Render Layers → Normalize → Viewer (preview) and → File Output (data) nodes for the chosen modalities"""

    bl_idname = "node.gt_wire_compositor"
    bl_label = "Wire Compositor"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        if context.view_layer is None:
            cls.poll_message_set("No active view layer")
            return False
        return True

    def execute(self, context):
        scene = context.scene
        wanted = wanted_modalities(scene.ground_truth)
        missing = unsupported_modalities(scene.render.engine, wanted)
        result = wiring.wire(scene, context.view_layer, passes_for([k for k in wanted if k not in missing]))
        if result.missing_sockets:
            self.report(
                {"WARNING"},
                f"Render Layers has no output for: {', '.join(result.missing_sockets)} "
                "(run Set Up Passes first, or the engine cannot give them)",
            )
        else:
            self.report({"INFO"}, "Ground Truth nodes are wired")
        return {"FINISHED"}


class NODE_OT_gt_remove_compositor(bpy.types.Operator):
    """Remove the Ground Truth nodes from the compositor (your own nodes stay)"""

    bl_idname = "node.gt_remove_compositor"
    bl_label = "Remove Ground Truth Nodes"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        if not wiring.our_nodes(compat.compositor_tree(context.scene)):
            cls.poll_message_set("There are no Ground Truth nodes in the compositor")
            return False
        return True

    def execute(self, context):
        removed = wiring.unwire(context.scene)
        self.report({"INFO"}, f"Removed {removed} Ground Truth nodes")
        return {"FINISHED"}


classes = (NODE_OT_gt_wire_compositor, NODE_OT_gt_remove_compositor)
register, unregister = bpy.utils.register_classes_factory(classes)
