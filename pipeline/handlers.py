# SPDX-License-Identifier: GPL-3.0-or-later
"""Export on F12 / Ctrl+F12: render handlers that wrap an ordinary render in an export
run when ``scene.ground_truth.auto_export`` is on.

render_init opens an :class:`Exporter` (passes, our File Output), render_pre notes the
frame's camera, render_post (the compositor's files exist by then) exports the frame,
and render_complete / render_cancel restore the scene. Renders started by the export
itself are left alone. The handlers are added on register and removed on unregister,
never twice.

Where Blender renders on Python's main thread (``blender -b scene.blend -f N`` or ``-a``,
a render manager's way, and ``bpy.ops.render.render()`` from a script), render_post
visits the frames around the one rendered, as Export Frame does, so F12 and Ctrl+F12
give everything the panel's export gives: occlusion, flow over k frames, tracks,
instance ids and EEVEE's masks.

In Blender's window the handlers run in the render job's thread, where visiting other
frames or evaluating the scene would race the window's own drawing. There render_post
only takes the frame's passes and RGB (:meth:`Exporter.take_render`) and holds them;
once the job has ended, a timer on the main thread captures each held frame's geometry
and hands it to the writer (:meth:`Exporter.hand_over`), a frame per tick so that the
window stays live, and then ends the run: the same files as the panel's export. A
Ctrl+F12 range holds one set of scratch files per frame until its end; frames beyond
half of what the scratch folder had room for are not exported, and the console names
them (Render Animation in the panel exports them).
"""

from __future__ import annotations

import logging
import threading

import bpy
from bpy.app.handlers import persistent

from ..core.frames import format_frames
from ..exporters.errors import ExportError
from . import scratch
from .export import Exporter, TakenRender, rendering_for_export
from .options import options_from_settings
from .views import COLLECTION

log = logging.getLogger(__name__)
_run: Exporter | None = None  # a run whose handlers are on Python's main thread
last_render_cancelled = False  # read by the animation export between its frames


def _say(message: str) -> None:
    """Render handlers cannot report to the UI: print (the console) and log."""
    print(f"Ground Truth: {message}")
    log.warning(message)


class WindowRun:
    """An F12 / Ctrl+F12 run in Blender's window: its frames, taken in the render job's
    thread and held until the job has ended, then handed over on the main thread."""

    def __init__(self, exporter: Exporter):
        self.exporter = exporter
        self.held: list[TakenRender] = []
        self.dropped: list[int] = []  # not held: the scratch folder would have filled
        self.failed: list[int] = []  # held, then not written: an error said above
        self.done = 0
        per_frame = exporter.scratch_file_bytes * len(exporter.rig.shots[0])
        self.limit = max(1, scratch.free_bytes(exporter.session.raw_dir) // (2 * max(per_frame, 1)))

    def take(self) -> None:
        """render_post (the render job's thread): hold the frame, or drop it when the
        scratch folder would fill."""
        taken = self.exporter.take_render()
        if len(self.held) < self.limit:
            self.held.append(taken)
        else:
            taken.discard()
            self.dropped.append(taken.frame)

    def describe(self) -> str:
        total = self.done + len(self.held)
        if not self.held:
            return f"writing the last render's ground truth: finishing {self.exporter.root}"
        return f"writing the last render's ground truth: frame {self.done + 1} of {total}"

    def step(self) -> bool:
        """Hand one held frame to the writer (main thread); False when none is left. The
        scene returns to the frame the window shows."""
        if not self.held:
            return False
        scene = self.exporter.scene
        taken, shown = self.held.pop(0), scene.frame_current
        try:
            self.exporter.hand_over(taken)
            self.done += 1
        except ExportError as error:
            _say(str(error))
            self.give_up([taken])
            return False
        except Exception:
            self.give_up([taken])
            raise
        finally:
            if scene.frame_current != shown:
                scene.frame_set(shown)
        return True

    def give_up(self, taken: list[TakenRender]) -> None:
        """After an error: ``taken`` and every frame still held are not written."""
        for waiting in [*taken, *self.held]:
            self.failed.append(waiting.frame)
            waiting.discard()
        self.held.clear()

    def close(self) -> None:
        """Write what is left and finish the folder, as the panel's export ends."""
        try:
            self.exporter.close()
        except ExportError as error:
            _say(str(error))
        else:
            if self.done:
                _say(f"{self.done} frame{'s' if self.done > 1 else ''} exported to {self.exporter.root}")
        if self.failed:
            _say(f"frames {format_frames(sorted(self.failed))} not exported (the error above)")
        if self.dropped:
            _say(
                f"frames {format_frames(self.dropped)} not exported: holding every frame of the range until its "
                "end would fill the scratch folder; Render Animation in the Ground Truth panel exports them"
            )


_window: WindowRun | None = None  # the run of the render job in the window
_finishing: list[WindowRun] = []  # window runs whose job has ended, handed over by _tick


def finishing() -> str | None:
    """What the timer is doing for an ended render in the window, for the panel."""
    return _finishing[0].describe() if _finishing else None


def in_render_job() -> bool:
    """Whether a handler runs in a render job's thread (Blender's window), not Python's
    main thread."""
    return threading.current_thread() is not threading.main_thread()


def _redraw_panels() -> None:
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                area.tag_redraw()


def _view_layer(scene: bpy.types.Scene) -> bpy.types.ViewLayer:
    layer = bpy.context.view_layer
    return layer if layer is not None and layer.name in scene.view_layers else scene.view_layers[0]


@persistent
def on_render_init(scene, *_):
    global _run, _window, last_render_cancelled
    last_render_cancelled = False
    if _run is not None or _window is not None or rendering_for_export() or not scene.ground_truth.auto_export:
        return
    if scene.ground_truth.views == COLLECTION:
        _say(
            "not exporting this render: F12 renders the scene camera only; Views 'Camera Collection' exports from "
            "Render Ground Truth or Render Animation"
        )
        return
    if _finishing:
        _say(f"not exporting this render: still {_finishing[0].describe()}")
        return
    window = in_render_job()
    try:
        exporter = Exporter(scene, _view_layer(scene), options_from_settings(scene.ground_truth), window=window)
        exporter.start()
    except ExportError as error:
        _say(f"not exporting this render: {error}")
        return
    if window:
        _window = WindowRun(exporter)
    else:
        _run = exporter


@persistent
def on_render_pre(scene, *_):
    run = _run or (_window.exporter if _window is not None else None)
    if run is not None:
        run.before_render()


@persistent
def on_render_post(scene, *_):
    try:
        if _window is not None:
            _window.take()
        elif _run is not None:
            result = _run.after_render()
            _say(f"frame {result.frame} exported to {result.root}")
    except ExportError as error:
        _say(str(error))
    except Exception as error:  # a bug of ours: one line here, the traceback in the log
        log.debug("render_post failed", exc_info=True)
        _say(f"frame {scene.frame_current} not exported: {type(error).__name__}: {error}")


@persistent
def on_render_complete(scene, *_):
    global _run, _window
    if _window is not None:
        _finishing.append(_window)  # the timer hands its frames over once the job has ended
        _window = None
    if _run is not None:
        run, _run = _run, None
        run.close()


@persistent
def on_render_cancel(scene, *_):
    global last_render_cancelled
    last_render_cancelled = True
    on_render_complete(scene)


def _advance(run: WindowRun) -> bool:
    """One frame of ``run`` handed over; False (and the run ended) when none was left."""
    try:
        if run.step():
            return True
    except Exception as error:  # a bug of ours: say it, and still end the run (and keep the timer)
        log.debug("handing over a rendered frame failed", exc_info=True)
        _say(f"writing a rendered frame failed: {type(error).__name__}: {error}")
        run.give_up([])
    _finishing.remove(run)
    run.close()
    return False


def _tick() -> float:
    """The main thread's timer: hands over the frames of a window render that has
    ended, one per call."""
    if not _finishing or bpy.app.is_job_running("RENDER"):
        return 0.5
    more = _advance(_finishing[0])
    _redraw_panels()  # the panel shows the progress, and then no more of it
    return 0.0 if more else 0.5


@persistent
def finish_now(*_) -> None:
    """Hand over and end every window run now (before a file is loaded, or the add-on
    is disabled), so that nothing rendered is lost."""
    while _finishing:
        while _advance(_finishing[0]):
            pass


_HANDLERS = {
    "render_init": on_render_init,
    "render_pre": on_render_pre,
    "render_post": on_render_post,
    "render_complete": on_render_complete,
    "render_cancel": on_render_cancel,
    "load_pre": finish_now,
}


def _remove_ours(handlers: list) -> None:
    # By name and module, so that a reloaded add-on also removes its older functions.
    for function in list(handlers):
        if getattr(function, "__module__", None) == __name__ and function.__name__ in {
            f.__name__ for f in _HANDLERS.values()
        }:
            handlers.remove(function)


def register() -> None:
    for name, function in _HANDLERS.items():
        handlers = getattr(bpy.app.handlers, name)
        _remove_ours(handlers)
        handlers.append(function)
    if not bpy.app.timers.is_registered(_tick):
        bpy.app.timers.register(_tick, first_interval=0.5, persistent=True)


def unregister() -> None:
    finish_now()
    if bpy.app.timers.is_registered(_tick):
        bpy.app.timers.unregister(_tick)
    for name in _HANDLERS:
        _remove_ours(getattr(bpy.app.handlers, name))
