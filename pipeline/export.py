"""Render the current frame and export its ground truth: the one code path behind the
panel's button, the operators and headless runs."""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bpy
import numpy as np

from ..core.boxes import boxes_from_mask
from ..core.camera import intrinsics, output_size, world_to_camera
from ..core.convert import frame_arrays
from ..core.modalities import MODALITY_BY_KEY, passes_for, unsupported_modalities
from ..exporters.atomic import atomic_path
from ..exporters.layout import rgb_path
from ..exporters.meta import update_meta
from ..exporters.writer import OutputOptions, write_frame
from ..properties import GroundTruthSettings, wanted_modalities
from . import scene_info
from .checks import blocking_problems, output_root
from .session import ExportSession

log = logging.getLogger(__name__)
_MANIFEST = Path(__file__).resolve().parents[1] / "blender_manifest.toml"


class ExportError(Exception):
    """An export that cannot run or did not finish; the message is for the user."""


@dataclass
class FrameResult:
    """One exported frame: where it went and what the engine could not give."""

    frame: int
    root: Path
    files: list[Path] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def addon_version() -> str:
    with open(_MANIFEST, "rb") as stream:
        return tomllib.load(stream)["version"]


def scene_meta(
    scene: bpy.types.Scene, width: int, height: int, modalities: list[str], missing: list[str]
) -> dict[str, Any]:
    """The scene-wide part of ``meta.json``."""
    objects = scene_info.objects_table(scene)
    materials = scene_info.materials_table(scene)
    return {
        "addon": {"id": "ground_truth", "version": addon_version()},
        "blender_version": bpy.app.version_string,
        "engine": scene.render.engine,
        "resolution": [width, height],
        "fps": scene.render.fps / scene.render.fps_base,
        "scene_frame_range": [scene.frame_start, scene.frame_end],
        "camera": scene.camera.name,
        "modalities": modalities,
        "missing_modalities": missing,
        "arrays": sorted(
            {a for m in modalities for a in MODALITY_BY_KEY[m].arrays} | {"K", "world_to_camera", "frame"}
        ),
        "objects": objects,
        "materials": materials,
        "object_index_names": scene_info.index_names(objects),
        "material_index_names": scene_info.index_names(materials),
    }


def _select(arrays: dict[str, np.ndarray], modalities: list[str]) -> dict[str, np.ndarray]:
    keep = {"K", "world_to_camera", "frame"}
    for key in modalities:
        keep.update(MODALITY_BY_KEY[key].arrays)
    if "boxes" in modalities:
        arrays.update(boxes_from_mask(arrays["object_index"]))
    return {key: value for key, value in arrays.items() if key in keep}


def export_frame(scene: bpy.types.Scene, view_layer: bpy.types.ViewLayer, settings: GroundTruthSettings) -> FrameResult:
    """Render ``scene.frame_current`` and write its ground truth into the output folder.

    Raises :class:`ExportError` with a message for the user when the scene or the
    settings do not allow the export, or when writing fails.
    """
    problems = blocking_problems(scene, settings)
    if problems:
        raise ExportError(problems[0])
    root = output_root(settings)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ExportError(f"Cannot create the Output Folder '{root}': {error.strerror}") from error

    wanted = wanted_modalities(settings)
    missing = unsupported_modalities(scene.render.engine, wanted)
    modalities = [key for key in wanted if key not in missing]
    frame = scene.frame_current
    params = scene_info.camera_params(scene)
    K = intrinsics(params)
    pose = world_to_camera(scene_info.camera_matrix_world(scene))
    width, height = output_size(params)

    result = FrameResult(frame, root, missing=missing)
    try:
        with ExportSession(scene, view_layer, passes_for(modalities), flow="flow" in modalities) as session:
            bpy.ops.render.render()
            raw = session.take_passes()
            with atomic_path(rgb_path(root, frame)) as tmp:
                session.save_rgb(tmp)
        if raw["depth"].shape != (height, width):
            raise ExportError(
                f"Rendered {raw['depth'].shape[1]}×{raw['depth'].shape[0]} pixels, expected {width}×{height}"
            )
        arrays = _select(frame_arrays(raw, K, pose, frame), modalities)
        options = OutputOptions(npz=settings.use_npz, exr=settings.use_exr, previews=settings.use_previews)
        result.files = [rgb_path(root, frame), *write_frame(root, frame, arrays, options)]
        update_meta(root, scene_meta(scene, width, height, modalities, missing), [frame])
    except OSError as error:
        raise ExportError(f"Writing frame {frame} failed: {error}") from error
    except RuntimeError as error:
        raise ExportError(f"Frame {frame}: {error}") from error
    log.info("exported frame %d to %s", frame, root)
    return result
