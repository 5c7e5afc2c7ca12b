"""Modalities, the render passes they need, and what each render engine can give."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Modality:
    """One switchable output: its setting, the passes it needs, its NPZ keys."""

    key: str
    label: str
    passes: tuple[str, ...]
    arrays: tuple[str, ...]
    description: str


MODALITIES = (
    Modality(
        "depth", "Depth", ("depth",), ("depth",), "float32 metres, planar depth along the optical axis; background inf"
    ),
    Modality(
        "normal",
        "Normals",
        ("normal",),
        ("normal", "normal_world"),
        "float32 unit normals, camera axes (x right, y down, z forward) and world axes",
    ),
    Modality(
        "flow",
        "Optical Flow",
        ("vector",),
        ("flow_forward", "flow_backward"),
        "float32 (dx, dy) pixels to frames t+1 and t-1, x right, y down; NaN on background",
    ),
    Modality(
        "object_index",
        "Object Index",
        ("object_index",),
        ("object_index",),
        "int32 object pass index per pixel; 0 = background",
    ),
    Modality(
        "material_index",
        "Material Index",
        ("material_index",),
        ("material_index",),
        "int32 material pass index per pixel",
    ),
    Modality("emission", "Emission", ("emission",), ("emission",), "float32 linear RGB of the Emit pass"),
    Modality(
        "boxes",
        "Boxes",
        ("object_index",),
        ("box_index", "boxes", "box_pixels"),
        "tight 2D boxes [x_min, y_min, x_max, y_max] and pixel counts per object pass index",
    ),
)
MODALITY_BY_KEY = {m.key: m for m in MODALITIES}

# What each engine family can render, by pass.
ENGINE_PASSES = {
    "CYCLES": frozenset({"depth", "normal", "vector", "object_index", "material_index", "emission"}),
    "EEVEE": frozenset({"depth", "normal", "vector", "emission"}),
    "WORKBENCH": frozenset({"depth"}),
}
_ENGINE_FAMILIES = {
    "CYCLES": "CYCLES",
    "BLENDER_EEVEE": "EEVEE",
    "BLENDER_EEVEE_NEXT": "EEVEE",
    "BLENDER_WORKBENCH": "WORKBENCH",
}
SUPPORTED_FAMILIES = ("CYCLES", "EEVEE")


def engine_family(engine: str) -> str | None:
    """``CYCLES``, ``EEVEE`` or ``WORKBENCH`` for a ``scene.render.engine`` id, else None."""
    return _ENGINE_FAMILIES.get(engine)


def unsupported_modalities(engine: str, wanted: list[str]) -> list[str]:
    """The wanted modality keys that ``engine`` cannot give."""
    passes = ENGINE_PASSES.get(engine_family(engine) or "", frozenset())
    return [key for key in wanted if not set(MODALITY_BY_KEY[key].passes) <= passes]


def passes_for(modalities: list[str]) -> list[str]:
    """The passes to render for ``modalities``. Depth is always among them: it tells
    surface from background, which normals and flow need."""
    passes = {"depth"}
    for key in modalities:
        passes.update(MODALITY_BY_KEY[key].passes)
    return sorted(passes)
