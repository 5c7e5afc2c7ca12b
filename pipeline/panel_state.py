# SPDX-License-Identifier: GPL-3.0-or-later
"""What the sidebar shows besides the settings, worked out when something changes and
never while it draws.

The sidebar redraws on every mouse move over it. Its answers that need the disk (is the
output folder a file? is there a contact sheet?) or every object (how many are at pass
index 0?) are worked out here instead, by a timer: those that need the disk each tick,
and the rest when the scene changed (a depsgraph update) or the settings did (their
values are compared each tick). ``draw()`` and the polls of the buttons it draws read
:func:`current`; a change shows within a tick. An operator run from a script, or a
render, checks afresh (``checks.py``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import bpy
from bpy.app.handlers import persistent

from .. import compat, viewer
from ..compositor import wiring
from ..exporters.layout import META_NAME
from .checks import RENDERABLE, blocking_problems, notices, output_root, settings_problem, unindexed_objects
from .classes import ClassError, Classes, layer_objects
from .contact import CONTACT_SHEET_NAME
from .options import options_from_settings
from .views import ViewsError, camera_object, rig

log = logging.getLogger(__name__)
TICK = 0.5  # seconds


@dataclass(frozen=True)
class PanelState:
    """One scene's answers, as of the last tick."""

    problems: tuple[str, ...]  # what stops an export, most basic first
    notices: tuple[str, ...]  # what changes what it writes
    unindexed: int  # renderable objects at pass index 0
    views: str  # "2 views: Left, Right", or "" when the views cannot be made
    stereo: str  # "Stereo pair, parallel (rectified: disparity)", or ""
    wired: bool  # our compositor nodes are in the scene
    contact_sheet: bool  # the output folder has one
    exported: bool  # the output folder has a meta.json
    rerun: bool  # Rerun is installed in Blender's Python
    classes: str = ""  # "3 classes: car, rock, tree", or why they cannot be read
    unclassed: int = 0  # renderable objects of the view layer without a class


_states: dict[int, PanelState] = {}
_fingerprints: dict[int, tuple] = {}
_scene_changed = True


def current(scene) -> PanelState | None:
    """The scene's answers as of the last tick (None before the first)."""
    return _states.get(scene.as_pointer())


def sidebar_state(context) -> PanelState | None:
    """The scene's answers when a poll runs for a button the sidebar draws; None when it
    runs elsewhere (a script): then the poll checks afresh."""
    in_sidebar = context.region is not None and context.region.type == "UI"
    return current(context.scene) if in_sidebar else None


def _problems(scene) -> tuple[str, ...]:
    """What stops an export, most basic first (the settings' own problem last)."""
    settings = scene.ground_truth
    problems = blocking_problems(scene, settings.output_dir, settings.views, settings.camera_collection)
    return tuple(p for p in [*problems, settings_problem(settings)] if p)


def poll_export(operator_class, context) -> bool:
    """``poll()`` of the export operators: greyed out with the first blocking problem
    (the last tick's, for the sidebar's buttons; else checked now)."""
    state = sidebar_state(context)
    problems = state.problems if state is not None else _problems(context.scene)
    if problems:
        operator_class.poll_message_set(problems[0])
        return False
    return True


def _fingerprint(scene) -> tuple:
    """What the answers depend on besides the objects and the disk: every setting, the
    engine, the camera, the stereo set-up and where the .blend is saved."""
    settings = scene.ground_truth
    names = [name for name in settings.bl_rna.properties.keys() if name not in {"rna_type", "categories"}]
    values = tuple(getattr(settings, name) for name in names if name != "camera_collection")
    collection = settings.camera_collection.name if settings.camera_collection else ""
    categories = tuple((c.pass_index, c.name) for c in settings.categories)
    render = scene.render
    camera = scene.camera.name if scene.camera else ""
    return (
        values,
        collection,
        categories,
        render.engine,
        camera,
        render.use_multiview,
        render.views_format,
        bpy.data.filepath,
    )


def _each_tick(scene) -> dict:
    """The answers that need the disk (and no look at every object)."""
    root = output_root(scene.ground_truth.output_dir)
    return {
        "problems": _problems(scene),
        "contact_sheet": (root / CONTACT_SHEET_NAME).is_file(),
        "exported": (root / META_NAME).is_file(),
        "rerun": viewer.rerun_installed(),
    }


def work_out(scene, view_layer) -> PanelState:
    """Every answer, afresh."""
    settings = scene.ground_truth
    views_set_up = (settings.views, settings.camera_collection)
    views = stereo = ""
    try:
        found = rig(scene, *views_set_up)
    except ViewsError:
        pass  # a problem already
    else:
        names = ", ".join(v.name or camera_object(scene, v).name for v in found.views)
        views = f"{len(found.views)} view{'s' * (len(found.views) > 1)}: {names}"
        if found.stereo is not None:
            kind = "rectified: disparity" if found.stereo.rectified else "toe-in, not rectified: no disparity"
            stereo = f"Stereo pair, {found.stereo.convergence_mode.lower()} ({kind})"
    classes, unclassed = _classes(scene, view_layer)
    return PanelState(
        classes=classes,
        unclassed=unclassed,
        notices=tuple(notices(scene, options_from_settings(settings), view_layer)),
        unindexed=len(unindexed_objects(scene)),
        views=views,
        stereo=stereo,
        wired=bool(wiring.our_nodes(compat.compositor_tree(scene))),
        **_each_tick(scene),
    )


def _classes(scene, view_layer) -> tuple[str, int]:
    """The classes the run would number (or why it cannot) and how many renderable
    objects have none, where Semantic Classes or Object Labels are on."""
    settings = scene.ground_truth
    if not (settings.use_semantic or settings.use_object_labels):
        return "", 0
    try:
        found = Classes(scene, view_layer, settings.class_property, bpy.path.abspath(settings.class_table))
        objects = [o for o in layer_objects(view_layer) if o.type in RENDERABLE]
        unclassed = sum(found.name_of(o) is None for o in objects)
    except ClassError as error:
        return str(error), 0
    names = sorted(found.table, key=found.table.get)
    shown = ", ".join(names[:8]) + (", …" if len(names) > 8 else "")
    return (f"{len(names)} class{'es' * (len(names) != 1)}: {shown}" if names else "No classes yet"), unclassed


def refresh(scene, view_layer, full: bool = False) -> bool:
    """Work the scene's answers out again: in full with ``full`` or when the settings
    changed, else only the disk's. Whether they changed."""
    key, fingerprint = scene.as_pointer(), _fingerprint(scene)
    old = _states.get(key)
    if full or old is None or _fingerprints.get(key) != fingerprint:
        new = work_out(scene, view_layer)
    else:
        new = replace(old, **_each_tick(scene))
    _fingerprints[key], _states[key] = fingerprint, new
    return new != old


def _tick() -> float:
    global _scene_changed
    full, _scene_changed = _scene_changed, False
    try:
        windows = bpy.context.window_manager.windows
        if any([refresh(window.scene, window.view_layer, full) for window in windows]):
            for window in windows:
                for area in window.screen.areas:
                    if area.type == "VIEW_3D":
                        area.tag_redraw()
    except Exception:  # a bug of ours must not stop the timer: the panel would freeze
        log.exception("the panel's state could not be worked out")
    return TICK


@persistent
def _on_depsgraph_update(*_) -> None:
    global _scene_changed
    _scene_changed = True


@persistent
def _on_load(*_) -> None:
    global _scene_changed
    _states.clear()
    _fingerprints.clear()
    _scene_changed = True


def register() -> None:
    bpy.app.handlers.depsgraph_update_post.append(_on_depsgraph_update)
    bpy.app.handlers.load_post.append(_on_load)
    if not bpy.app.background:
        bpy.app.timers.register(_tick, first_interval=0.0, persistent=True)


def unregister() -> None:
    if bpy.app.timers.is_registered(_tick):
        bpy.app.timers.unregister(_tick)
    for handlers, handler in (
        (bpy.app.handlers.depsgraph_update_post, _on_depsgraph_update),
        (bpy.app.handlers.load_post, _on_load),
    ):
        if handler in handlers:
            handlers.remove(handler)
    _on_load()
