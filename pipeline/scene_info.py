# SPDX-License-Identifier: GPL-3.0-or-later
"""Numbers from the live scene: the objects and materials tables (each view's camera:
``views.py``)."""

from __future__ import annotations

from typing import Any

import bpy


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


def deforms(obj) -> bool:
    """Whether an object's evaluated mesh may change shape: shape keys, or a modifier on
    in renders (an armature, a simulation, geometry nodes)."""
    shape_keys = obj.type == "MESH" and obj.data.shape_keys is not None
    return shape_keys or any(m.show_render for m in getattr(obj, "modifiers", ()))
