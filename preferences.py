# SPDX-License-Identifier: GPL-3.0-or-later
"""The add-on's preferences: settings of this machine, not of the scene (a .blend
travels to a farm; this machine's folders do not)."""

from __future__ import annotations

import bpy
from bpy.props import StringProperty

from .compat import PATH_OPTIONS


class GroundTruthPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    scratch_dir: StringProperty(
        name="Scratch Folder",
        description=(
            "Where the compositor's passes wait between the render and the export (a frame's worth, "
            "deleted right after). Empty: /dev/shm when it has room, else the Output Folder's disk. "
            "The GROUND_TRUTH_SCRATCH environment variable takes precedence"
        ),
        default="",
        subtype="DIR_PATH",
        options=PATH_OPTIONS,
    )

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.prop(self, "scratch_dir")


def preferences() -> GroundTruthPreferences | None:
    """The preferences when the add-on is enabled as one (not when a script registered it)."""
    addon = bpy.context.preferences.addons.get(__package__)
    return addon.preferences if addon is not None else None


classes = (GroundTruthPreferences,)
register, unregister = bpy.utils.register_classes_factory(classes)
