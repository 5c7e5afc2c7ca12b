# SPDX-License-Identifier: GPL-3.0-or-later
"""Numbers from the live scene: camera parameters, pose, and the objects table."""

from __future__ import annotations

from typing import Any

import bpy
import numpy as np

from ..core.camera import CameraParams


def camera_params(scene: bpy.types.Scene) -> CameraParams:
    """The projection parameters of the scene's camera and render settings."""
    cam = scene.camera.data
    render = scene.render
    border = None
    if render.use_border and render.use_crop_to_border:
        border = (render.border_min_x, render.border_max_x, render.border_min_y, render.border_max_y)
    return CameraParams(
        lens=cam.lens,
        sensor_width=cam.sensor_width,
        sensor_height=cam.sensor_height,
        sensor_fit=cam.sensor_fit,
        shift_x=cam.shift_x,
        shift_y=cam.shift_y,
        resolution_x=render.resolution_x,
        resolution_y=render.resolution_y,
        resolution_percentage=render.resolution_percentage,
        pixel_aspect_x=render.pixel_aspect_x,
        pixel_aspect_y=render.pixel_aspect_y,
        border=border,
        projection=cam.type,
        ortho_scale=cam.ortho_scale,
    )


def camera_matrix_world(scene: bpy.types.Scene) -> np.ndarray:
    """The camera's 4×4 world matrix at the current frame, float64."""
    return np.array(scene.camera.matrix_world, dtype=np.float64)


def objects_table(scene: bpy.types.Scene) -> list[dict[str, Any]]:
    """Every object of the scene with its type and pass index, sorted by name."""
    return [
        {"name": obj.name, "type": obj.type, "pass_index": obj.pass_index}
        for obj in sorted(scene.objects, key=lambda o: o.name)
    ]


def materials_table(scene: bpy.types.Scene) -> list[dict[str, Any]]:
    """Every material used by the scene's objects, with its pass index, sorted by name."""
    materials = {slot.material for obj in scene.objects for slot in getattr(obj, "material_slots", ()) if slot.material}
    return [{"name": m.name, "pass_index": m.pass_index} for m in sorted(materials, key=lambda m: m.name)]


def index_names(rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    """``{"<pass index>": [names…]}`` for the non-zero pass indices of a table."""
    out: dict[str, list[str]] = {}
    for row in rows:
        if row["pass_index"]:
            out.setdefault(str(row["pass_index"]), []).append(row["name"])
    return out


def names_by_index(rows: list[dict[str, Any]]) -> dict[int, str]:
    """``{pass index: "NameA / NameB"}``: what COCO calls a category that the user did not name."""
    return {int(index): " / ".join(names) for index, names in index_names(rows).items()}
