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
instance ids and EEVEE's masks. An interactive render in Blender's window runs in a
render job's thread, where visiting other frames or evaluating the scene would race the
window's own drawing: there F12 leaves out what comes from rays into the scene, and the
panel says so beside the checkbox (:func:`f12_leaves_out`).
"""

from __future__ import annotations

import logging
import threading

import bpy
from bpy.app.handlers import persistent

from ..core.modalities import MODALITY_BY_KEY
from .export import Exporter, ExportError, export_plan, rendering_for_export
from .options import options_from_settings
from .views import COLLECTION

log = logging.getLogger(__name__)
_run: Exporter | None = None
last_render_cancelled = False  # read by the animation export between its frames


def _say(message: str) -> None:
    """Render handlers cannot report to the UI: print (the console) and log."""
    print(f"Ground Truth: {message}")
    log.warning(message)


def _view_layer(scene: bpy.types.Scene) -> bpy.types.ViewLayer:
    layer = bpy.context.view_layer
    return layer if layer is not None and layer.name in scene.view_layers else scene.view_layers[0]


@persistent
def on_render_init(scene, *_):
    global _run, last_render_cancelled
    last_render_cancelled = False
    if _run is not None or rendering_for_export() or not scene.ground_truth.auto_export:
        return
    if scene.ground_truth.views == COLLECTION:
        _say(
            "not exporting this render: F12 renders the scene camera only; Views 'Camera Collection' exports from "
            "Render Ground Truth or Render Animation"
        )
        return
    try:
        geometry = threading.current_thread() is threading.main_thread()
        _run = Exporter(scene, _view_layer(scene), options_from_settings(scene.ground_truth), geometry=geometry)
        _run.__enter__()
    except ExportError as error:
        _say(f"not exporting this render: {error}")


@persistent
def on_render_pre(scene, *_):
    if _run is not None:
        _run.before_render()


@persistent
def on_render_post(scene, *_):
    if _run is None:
        return
    try:
        result = _run.after_render()
    except ExportError as error:
        _say(str(error))
    else:
        _say(f"frame {result.frame} exported to {result.root}")


@persistent
def on_render_complete(scene, *_):
    global _run
    if _run is not None:
        run, _run = _run, None
        run.__exit__(None, None, None)


@persistent
def on_render_cancel(scene, *_):
    global last_render_cancelled
    last_render_cancelled = True
    on_render_complete(scene)


def f12_leaves_out(scene) -> list[str]:
    """What an interactive F12 render in Blender's window does not give of what the
    settings ask for (a render job's thread casts no rays: see the module's docstring),
    as the panel names it."""
    options = options_from_settings(scene.ground_truth)
    try:
        full, f12 = (export_plan(scene, options, geometry=g) for g in (True, False))
    except ExportError:
        return []
    out = [MODALITY_BY_KEY[key].label for key in f12.missing if key not in full.missing]
    if full.offsets:
        out.append("Flow Offsets")
    if options.tracks is not None:
        out.append("Point Tracks")
    return out


_HANDLERS = {
    "render_init": on_render_init,
    "render_pre": on_render_pre,
    "render_post": on_render_post,
    "render_complete": on_render_complete,
    "render_cancel": on_render_cancel,
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


def unregister() -> None:
    for name in _HANDLERS:
        _remove_ours(getattr(bpy.app.handlers, name))
