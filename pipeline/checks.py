"""What stops an export, and what the user should know before it, in Blender's words."""

from __future__ import annotations

from pathlib import Path

import bpy

from ..core.modalities import SUPPORTED_FAMILIES, engine_family, unsupported_modalities
from ..properties import GroundTruthSettings, wanted_modalities


def output_root(settings: GroundTruthSettings) -> Path:
    """The absolute output folder (``//`` resolved against the saved .blend)."""
    return Path(bpy.path.abspath(settings.output_dir))


def blocking_problems(scene: bpy.types.Scene, settings: GroundTruthSettings) -> list[str]:
    """Reasons the export cannot run, most basic first (empty when it can)."""
    problems = []
    if scene.camera is None:
        problems.append("The scene has no active camera: add one or set Scene > Camera")
    elif scene.camera.type != "CAMERA":
        problems.append(f"The scene camera '{scene.camera.name}' is not a camera object")
    elif scene.camera.data.type not in ("PERSP", "ORTHO"):
        problems.append(
            f"Camera '{scene.camera.name}' is panoramic: only perspective and orthographic cameras are supported"
        )
    family = engine_family(scene.render.engine)
    if family == "WORKBENCH":
        problems.append(
            "Workbench renders no ground-truth passes but depth: switch the Render Engine to Cycles or EEVEE"
        )
    elif family not in SUPPORTED_FAMILIES:
        problems.append(f"Render engine '{scene.render.engine}' is not supported: use Cycles or EEVEE")
    if settings.output_dir.startswith("//") and not bpy.data.filepath:
        problems.append(
            "Save the .blend file first, or choose an absolute Output Folder ('//' is relative to the .blend)"
        )
    elif not settings.output_dir.strip():
        problems.append("Choose an Output Folder")
    else:
        root = output_root(settings)
        if root.exists() and not root.is_dir():
            problems.append(f"Output Folder '{root}' is a file, not a folder")
    return problems


# Object types that render surfaces (and so can show up in the object-index mask).
RENDERABLE = {"MESH", "CURVE", "CURVES", "SURFACE", "META", "FONT", "POINTCLOUD", "VOLUME"}


def unindexed_objects(scene: bpy.types.Scene) -> list[bpy.types.Object]:
    """Renderable objects left at pass index 0: they read as background in the masks."""
    return [o for o in scene.objects if o.type in RENDERABLE and o.pass_index == 0]


def notices(scene: bpy.types.Scene, settings: GroundTruthSettings) -> list[str]:
    """Things that do not stop the export but change what it writes."""
    out = []
    if settings.use_object_index or settings.use_boxes or settings.use_coco:
        unindexed = unindexed_objects(scene)
        if unindexed:
            out.append(f"{len(unindexed)} objects have pass index 0 and count as background in masks")
    layers = [layer for layer in scene.view_layers if layer.use]
    if len(layers) > 1:
        active = bpy.context.view_layer.name if bpy.context.view_layer else layers[0].name
        out.append(f"{len(layers)} view layers render; the masks and passes come from '{active}' (the active one)")
    missing = unsupported_modalities(scene.render.engine, wanted_modalities(settings))
    if missing and engine_family(scene.render.engine) in SUPPORTED_FAMILIES:
        out.append(f"{scene.render.engine.replace('BLENDER_', '').title()} cannot give: {', '.join(missing)}")
    if settings.use_flow and scene.render.use_motion_blur:
        out.append("Motion blur is turned off while exporting (flow needs it off)")
    return out


def poll_export(operator_class, context) -> bool:
    """``poll()`` of the export operators: greyed out with the first blocking problem."""
    problems = blocking_problems(context.scene, context.scene.ground_truth)
    if problems:
        operator_class.poll_message_set(problems[0])
        return False
    return True
