# SPDX-License-Identifier: GPL-3.0-or-later
"""``Scene.ground_truth``: the add-on's settings (names fixed by docs/contract.md).

The scalar settings come from the settings table (``core/settings.py``), the switches
``use_<key>`` from the registries of modalities (``core/modalities.py``) and file
formats (``exporters/formats.py``).
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
from .core.settings import SETTINGS, Setting
from .exporters.formats import FORMATS


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
    categories: CollectionProperty(type=GroundTruthCategory, name="COCO Categories")
    camera_collection: PointerProperty(
        type=bpy.types.Collection,
        name="Camera Collection",
        description="Every camera in this collection (and its children) is a view",
    )


def _property(setting: Setting):
    """The Blender property of a row of the settings table."""
    about = {"name": setting.label, "description": setting.description, "default": setting.default}
    if setting.choices:
        return EnumProperty(items=setting.choices, **about)
    if isinstance(setting.default, bool):
        return BoolProperty(**about)
    if isinstance(setting.default, str):
        return StringProperty(subtype=setting.subtype or "NONE", **about)
    low, high = setting.bounds
    if isinstance(setting.default, int):
        return IntProperty(min=int(low), max=int(high), **about)
    return FloatProperty(min=low, max=high, **about)


# The settings table's rows, and one switch per registered modality and file format,
# before the class registers.
for _setting in SETTINGS:
    GroundTruthSettings.__annotations__[_setting.name] = _property(_setting)
for _modality in MODALITIES:
    GroundTruthSettings.__annotations__[f"use_{_modality.key}"] = BoolProperty(
        name=_modality.label, description=_modality.description, default=_modality.default
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
