# SPDX-License-Identifier: GPL-3.0-or-later
"""``node.gt_wire_compositor`` and ``node.gt_remove_compositor``."""

from __future__ import annotations

import bpy

from .. import compat
from ..compositor import wiring
from ..core.plan import plan
from ..pipeline.checks import engine_problem
from ..pipeline.options import wanted_modalities


class NODE_OT_gt_wire_compositor(bpy.types.Operator):
    """Add our compositor nodes (a depth preview and the data File Output), switching on the passes they link"""

    bl_idname = "node.gt_wire_compositor"
    bl_label = "Wire Compositor"
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
        scene = context.scene
        chosen = plan(compat.render_engine(scene), wanted_modalities(scene.ground_truth))
        result = wiring.wire(scene, context.view_layer, chosen.passes)
        if result.missing_sockets:  # not expected: the passes were switched on just before
            self.report({"WARNING"}, f"Render Layers has no output for: {', '.join(result.missing_sockets)}")
        else:
            self.report({"INFO"}, f"Ground Truth nodes are wired for: {', '.join(chosen.passes)}")
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
