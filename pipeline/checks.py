# SPDX-License-Identifier: GPL-3.0-or-later
"""What stops an export, and what the user should know before it, in Blender's words."""

from __future__ import annotations

from pathlib import Path

import bpy

from .. import compat
from ..core.motion import offsets_from_text
from ..core.plan import plan
from ..core.registry import SUPPORTED_FAMILIES, engine_family
from .options import ExportOptions
from .views import ACTIVE, ViewsError, rig


def output_root(output_dir: str) -> Path:
    """The absolute output folder (``//`` resolved against the saved .blend)."""
    return Path(bpy.path.abspath(output_dir))


def engine_problem(scene: bpy.types.Scene) -> str | None:
    """Why the render engine gives no ground truth, or None when it does."""
    family = engine_family(scene.render.engine)
    if family == "WORKBENCH":
        return "Workbench renders no ground-truth passes but depth: switch the Render Engine to Cycles or EEVEE"
    if family not in SUPPORTED_FAMILIES:
        return f"Render engine '{scene.render.engine}' is not supported: use Cycles or EEVEE"
    return None


def blocking_problems(scene: bpy.types.Scene, output_dir: str, views_mode: str = ACTIVE, collection=None) -> list[str]:
    """Reasons the export cannot run, most basic first (empty when it can). ``views_mode``
    and ``collection`` are the Views settings (``views.py``)."""
    problems = []
    try:
        rig(scene, views_mode, collection)
    except ViewsError as error:
        problems.append(str(error))
    problem = engine_problem(scene)
    if problem:
        problems.append(problem)
    if output_dir.startswith("//") and not bpy.data.filepath:
        problems.append(
            "Save the .blend file first, or choose an absolute Output Folder ('//' is relative to the .blend)"
        )
    elif not output_dir.strip():
        problems.append("Choose an Output Folder")
    else:
        root = output_root(output_dir)
        if root.exists() and not root.is_dir():
            problems.append(f"Output Folder '{root}' is a file, not a folder")
    return problems


# Object types that render surfaces (and so can show up in the object-index mask).
RENDERABLE = {"MESH", "CURVE", "CURVES", "SURFACE", "META", "FONT", "POINTCLOUD", "VOLUME"}


def unindexed_objects(scene: bpy.types.Scene) -> list[bpy.types.Object]:
    """Renderable objects left at pass index 0: they read as background in the masks."""
    return [o for o in scene.objects if o.type in RENDERABLE and o.pass_index == 0]


def notices(scene: bpy.types.Scene, options: ExportOptions, view_layer=None) -> list[str]:
    """Things that do not stop the export but change what it writes; ``view_layer`` is
    the one the export renders from (default: the context's)."""
    out = []
    if {"object_index", "boxes"} & set(options.modalities) or options.files.coco:
        unindexed = unindexed_objects(scene)
        if unindexed:
            out.append(f"{len(unindexed)} objects have pass index 0 and count as background in masks")
    layers = [layer for layer in scene.view_layers if layer.use]
    if len(layers) > 1:
        view_layer = view_layer or bpy.context.view_layer
        active = view_layer.name if view_layer else layers[0].name
        out.append(f"{len(layers)} view layers render; the masks and passes come from '{active}' (the active one)")
    missing = plan(compat.render_engine(scene), options.modalities).missing
    if missing and engine_family(scene.render.engine) in SUPPORTED_FAMILIES:
        out.append(f"{scene.render.engine.replace('BLENDER_', '').title()} cannot give: {', '.join(missing)}")
    if "flow" in options.modalities and scene.render.use_motion_blur:
        out.append("Motion blur is turned off while exporting (flow needs it off)")
    return out


def settings_problem(settings) -> str | None:
    """What is wrong with the panel's own settings (the command line checks its flags)."""
    try:
        offsets_from_text(settings.flow_offsets)
    except ValueError as error:
        return f"Flow Offsets: {error}"
    return None
