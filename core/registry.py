# SPDX-License-Identifier: GPL-3.0-or-later
"""The registry's records: the render passes the export can ask for and the engines
that render them, and what an array and a modality are (``modalities.py`` declares
the modalities)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .convert import FrameData

CYCLES, EEVEE, WORKBENCH = "CYCLES", "EEVEE", "WORKBENCH"
SUPPORTED_FAMILIES = (CYCLES, EEVEE)
# EEVEE before Blender 4.2 (compat.render_engine names it so) renders no Vector pass.
EEVEE_LEGACY = "BLENDER_EEVEE_LEGACY"
_ENGINE_FAMILIES = {
    "CYCLES": CYCLES,
    "BLENDER_EEVEE": EEVEE,
    EEVEE_LEGACY: EEVEE,
    "BLENDER_EEVEE_NEXT": EEVEE,
    "BLENDER_WORKBENCH": WORKBENCH,
}


@dataclass(frozen=True)
class RenderPass:
    """A view-layer pass that the compositor writes into the scratch EXR."""

    key: str  # our name, also the File Output input's name
    view_layer_flag: str  # the ViewLayer switch
    socket: str  # the Render Layers output on Blender 5.x
    legacy_socket: str  # ... and on Blender 4.x (compat.py picks)
    socket_type: str  # the 5.x File Output item's type
    channels: int  # components in the scratch EXR
    engines: frozenset[str]  # engine families that render it


PASSES = {
    p.key: p
    for p in (
        RenderPass("depth", "use_pass_z", "Depth", "Depth", "FLOAT", 1, frozenset({CYCLES, EEVEE, WORKBENCH})),
        RenderPass("normal", "use_pass_normal", "Normal", "Normal", "VECTOR", 3, frozenset({CYCLES, EEVEE})),
        RenderPass("vector", "use_pass_vector", "Vector", "Vector", "VECTOR", 4, frozenset({CYCLES, EEVEE})),
        RenderPass("object_index", "use_pass_object_index", "Object Index", "IndexOB", "FLOAT", 1, frozenset({CYCLES})),
        RenderPass(
            "material_index", "use_pass_material_index", "Material Index", "IndexMA", "FLOAT", 1, frozenset({CYCLES})
        ),
        RenderPass("emission", "use_pass_emit", "Emission", "Emit", "RGBA", 4, frozenset({CYCLES, EEVEE})),
        RenderPass(
            "albedo", "use_pass_diffuse_color", "Diffuse Color", "DiffCol", "RGBA", 4, frozenset({CYCLES, EEVEE})
        ),
    )
}
# Always rendered: it tells surface from background, which normals and flow need.
BACKGROUND_PASS = "depth"


def engine_family(engine: str) -> str | None:
    """``CYCLES``, ``EEVEE`` or ``WORKBENCH`` for a ``scene.render.engine`` id, else None."""
    return _ENGINE_FAMILIES.get(engine)


@dataclass(frozen=True)
class Array:
    """One key of a frame's NPZ (and EXR, and loader dict)."""

    key: str
    dtype: str  # numpy dtype name
    shape: str  # as documented: "(H, W)", "(H, W, 3)", "(N, 4)", "(3, 3)", "()"
    meaning: str  # units and convention, one line
    exr: str  # EXR channel suffixes ("V", "XYZ", "XY", "RGB"), or "header" / "boxes" / "packed" for attributes
    preview: str | None = None  # the kind of picture in preview/<key>/ (see core/previews.py)


@dataclass(frozen=True)
class Modality:
    """One switchable output (``scene.ground_truth.use_<key>``)."""

    key: str
    label: str
    description: str  # the switch's tooltip and meta.json's convention line
    passes: tuple[str, ...]
    arrays: tuple[Array, ...]
    convert: Callable[[FrameData], dict[str, np.ndarray]]
    requires: str | None = None  # another modality it goes with (exported only when that one is)
    geometric: bool = False  # computed from the scene's geometry (rays through pixel centres), not a pass
    geometric_on: frozenset[str] = frozenset()  # ... only on these engine families (from passes elsewhere)
    ray_label: str | None = None  # from the rays: the label of the surface it reads (instance_id, object_index, …)
    stereo: bool = False  # only for the views of a rectified stereo pair
    default: bool = True  # its switch's default

    def from_geometry(self, family: str | None) -> bool:
        return self.geometric or family in self.geometric_on
