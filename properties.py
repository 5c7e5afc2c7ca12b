# SPDX-License-Identifier: GPL-3.0-or-later
"""``Scene.ground_truth``: the add-on's settings (names fixed by docs/contract.md).

The switches ``use_<key>`` come from the registries of modalities
(``core/modalities.py``) and file formats (``exporters/formats.py``).
"""

from __future__ import annotations

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from .compat import PATH_OPTIONS
from .core.modalities import MODALITIES
from .exporters.formats import FORMATS
from .pipeline.views import ACTIVE, VIEWS_ITEMS


class GroundTruthCategory(bpy.types.PropertyGroup):
    """A COCO category name for an object pass index."""

    pass_index: IntProperty(name="Pass Index", min=1, description="Object pass index this category names")
    name: StringProperty(name="Name", description="Category name in coco.json")


class GroundTruthSettings(bpy.types.PropertyGroup):
    """What to export and where."""

    output_dir: StringProperty(
        name="Output Folder",
        description="Folder for the ground truth; // is relative to the .blend file",
        default="//ground_truth/",
        subtype="DIR_PATH",
        options=PATH_OPTIONS,
    )
    npz_compression: IntProperty(
        name="NPZ Compression",
        description="zlib level of the NPZ: 0 = uncompressed (fastest, ~6× larger), 1 = fast, 9 = smallest",
        default=1,
        min=0,
        max=9,
    )
    categories: CollectionProperty(type=GroundTruthCategory, name="COCO Categories")
    depth_png16_scale: FloatProperty(
        name="Depth Scale",
        description="Values per metre in the 16-bit depth PNG (1000: millimetres, up to 65.5 m; 256: KITTI)",
        default=1000.0,
        min=1.0,
        max=100000.0,
    )
    auto_export: BoolProperty(
        name="Export on Render",
        description="Also export ground truth when rendering with F12 / Ctrl+F12",
        default=False,
    )
    frame_start: IntProperty(
        name="Start", description="First frame of the animation export (0: the scene's)", default=0, min=0
    )
    frame_end: IntProperty(
        name="End", description="Last frame of the animation export (0: the scene's)", default=0, min=0
    )
    flow_offsets: StringProperty(
        name="Flow Offsets",
        description="Also flow (and occlusion) to frames t+k and t-k for these k, comma-separated, e.g. 2,4,8",
        default="",
    )
    use_tracks: BoolProperty(
        name="Point Tracks",
        description="tracks.npz: points on each indexed object followed over the exported frames (TAP-Vid layout)",
        default=False,
    )
    tracks_per_object: IntProperty(
        name="Tracks per Object",
        description="Query points sampled on each object with a pass index above 0",
        default=256,
        min=1,
        max=100000,
    )
    tracks_seed: IntProperty(name="Tracks Seed", description="Seed of the query points' sampling", default=0, min=0)
    views: EnumProperty(
        name="Views",
        description="Which cameras render: with several, each view's files go to views/<view name>/",
        items=VIEWS_ITEMS,
        default=ACTIVE,
    )
    camera_collection: PointerProperty(
        type=bpy.types.Collection,
        name="Camera Collection",
        description="Every camera in this collection (and its children) is a view",
    )
    use_transforms_json: BoolProperty(
        name="transforms.json",
        description="nerfstudio's transforms.json for every view and frame (with 16-bit depth PNGs)",
        default=False,
    )
    use_colmap: BoolProperty(
        name="COLMAP Model",
        description="colmap/: COLMAP's text model (cameras.txt, images.txt, points3D.txt) of every view and frame",
        default=False,
    )
    colmap_points: IntProperty(
        name="COLMAP Points",
        description="Points per image in points3D.txt, lifted from its depth (0: an empty points3D.txt)",
        default=1000,
        min=0,
        max=1000000,
    )


# One switch per registered modality and file format, before the class registers.
for _modality in MODALITIES:
    GroundTruthSettings.__annotations__[f"use_{_modality.key}"] = BoolProperty(
        name=_modality.label, description=_modality.description, default=True
    )
for _format in FORMATS:
    GroundTruthSettings.__annotations__[f"use_{_format.key}"] = BoolProperty(
        name=_format.label, description=_format.description, default=_format.default
    )


classes = (GroundTruthCategory, GroundTruthSettings)
_register_classes, _unregister_classes = bpy.utils.register_classes_factory(classes)


def register() -> None:
    _register_classes()
    bpy.types.Scene.ground_truth = PointerProperty(type=GroundTruthSettings)


def unregister() -> None:
    del bpy.types.Scene.ground_truth
    _unregister_classes()
