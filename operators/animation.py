# SPDX-License-Identifier: GPL-3.0-or-later
"""``render.gt_render_animation``: the frame range, rendered and exported, resumable."""

from __future__ import annotations

import time

import bpy
from bpy.props import BoolProperty

from ..core.progress import Progress
from ..exporters.errors import ExportError
from ..pipeline import handlers
from ..pipeline.export import Exporter, animation_frames, export_frames, own_render
from ..pipeline.options import options_from_settings
from ..pipeline.panel_state import poll_export

# The run in progress in this Blender session (the panel shows it), or None.
running: Progress | None = None


def _redraw(context) -> None:
    for area in context.screen.areas if context.screen else ():
        if area.type == "VIEW_3D":
            area.tag_redraw()


class RENDER_OT_gt_render_animation(bpy.types.Operator):
    """Render the frame range and export ground truth for every frame; frames already complete are skipped"""

    bl_idname = "render.gt_render_animation"
    bl_label = "Render Ground Truth Animation"
    bl_options = {"REGISTER"}

    overwrite: BoolProperty(
        name="Overwrite", description="Also render frames whose files are all there already", default=False
    )

    @classmethod
    def poll(cls, context):
        if running is not None:
            cls.poll_message_set("An animation export is running")
            return False
        return poll_export(cls, context)

    def execute(self, context):
        """Blocking: scripts, headless runs, and the command line."""
        scene = context.scene
        frames = animation_frames(scene, scene.ground_truth)
        try:
            options = options_from_settings(scene.ground_truth)
            progress = export_frames(scene, context.view_layer, options, frames, self.overwrite)
        except ExportError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        for line in progress.redone:
            self.report({"WARNING"}, line[0].upper() + line[1:])
        self.report({"INFO"}, f"Exported {progress.done} frames; {progress.skipped} were complete already")
        return {"FINISHED"}

    # In the UI: each frame is Blender's own render job, so the window stays live; a
    # timer moves on when the job ends. Esc stops after the frame being rendered.
    def invoke(self, context, event):
        global running
        scene = context.scene
        if bpy.app.background or context.window is None:
            return self.execute(context)
        try:
            self._exporter = Exporter(scene, context.view_layer, options_from_settings(scene.ground_truth)).start()
        except ExportError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        self._frames = animation_frames(scene, scene.ground_truth)
        self._exporter.planned = self._frames
        self._queue = list(self._frames)
        self._start_frame = scene.frame_current
        self._rendering = False
        self._shot = 0
        self._stop = False
        self._own = own_render()
        self._own.__enter__()
        running = Progress(total=len(self._frames))
        context.window_manager.progress_begin(0, len(self._frames))
        self._timer = context.window_manager.event_timer_add(0.25, window=context.window)
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type == "ESC" and event.value == "PRESS":
            self._stop = True
            self.report({"INFO"}, "Stopping after this frame")
        if event.type != "TIMER" or bpy.app.is_job_running("RENDER"):
            return {"PASS_THROUGH"}
        if self._rendering:
            self._rendering = False
            if handlers.last_render_cancelled:
                return self._finish(context, "Render cancelled")
            try:
                self._exporter.after_render(self._shot)
            except ExportError as error:
                return self._finish(context, str(error), error=True)
            self._shot += 1
            if self._shot < len(self._exporter.rig.shots):  # the frame's next camera
                return self._render_shot()
            running.step(context.scene.frame_current, time.perf_counter() - self._started)
        while self._queue and not self.overwrite and self._exporter.folder.is_complete(self._queue[0]):
            self._exporter.found_complete.add(self._queue[0])
            running.step(self._queue.pop(0), None)
        self._show(context)
        if self._stop or not self._queue:
            return self._finish(context, "Stopped" if self._stop else None)
        frame = self._queue.pop(0)
        damaged = [] if self.overwrite else self._exporter.folder.damaged(frame)
        if damaged:
            self.report({"WARNING"}, f"Frame {frame} was damaged, exporting it again: {', '.join(damaged)}")
        context.scene.frame_set(frame)
        self._started = time.perf_counter()
        self._shot = 0
        return self._render_shot()

    def _render_shot(self):
        """Start Blender's render job for the current frame's ``_shot``-th render (one per
        camera of a Camera Collection, else one)."""
        self._exporter.before_render(self._shot)
        self._rendering = True
        bpy.ops.render.render("INVOKE_DEFAULT")
        return {"PASS_THROUGH"}

    def _show(self, context) -> None:
        text = f"Ground Truth: {running.describe()}"
        context.window_manager.progress_update(running.finished)
        if context.workspace:
            context.workspace.status_text_set(text)
        _redraw(context)

    def _finish(self, context, message: str | None, error: bool = False):
        global running
        done, skipped = running.done, running.skipped
        wm = context.window_manager
        wm.event_timer_remove(self._timer)
        wm.progress_end()
        if context.workspace:
            context.workspace.status_text_set(None)
        self._own.__exit__(None, None, None)
        try:
            self._exporter.close()  # waits for the last frames to be written
        except ExportError as failure:
            message, error = str(failure), True
        context.scene.frame_set(self._start_frame)
        running = None
        _redraw(context)
        summary = f"Exported {done} frames; {skipped} were complete already"
        self.report({"ERROR"} if error else {"INFO"}, f"{message}. {summary}" if message else summary)
        return {"CANCELLED"} if message else {"FINISHED"}


classes = (RENDER_OT_gt_render_animation,)
register, unregister = bpy.utils.register_classes_factory(classes)
