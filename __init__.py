# SPDX-License-Identifier: GPL-3.0-or-later
"""Ground Truth: computer-vision ground truth (depth, normals, flow, masks, boxes,
camera) from any Blender scene.

The sub-packages are imported inside ``register()`` so that the bpy-free parts
(``core``, ``exporters``, ``loader``) stay importable without Blender, e.g. from a
training script. Blender 4.2+ reads ``blender_manifest.toml``; ``bl_info`` serves
Blender 3.4–4.1, which install the package as a legacy add-on.
"""

bl_info = {
    "name": "Ground Truth",
    "author": "Ground Truth developers",
    "version": (0, 1, 0),
    "blender": (3, 4, 0),
    "location": "3D Viewport > Sidebar > Ground Truth",
    "description": "Depth, normals, optical flow, masks, boxes and camera ground truth for computer vision",
    "category": "Render",
}


def register() -> None:
    import bpy

    from .core.support import addon_version, support_message

    usable, message = support_message(bpy.app.version, addon_version())
    if not usable:
        raise RuntimeError(message)  # Blender shows it where enabling failed
    if message:
        print(f"Warning: {message}")

    from .vendor import ensure_openexr

    ensure_openexr()

    from . import commands, operators, panels, preferences, properties
    from .pipeline import handlers

    preferences.register()
    properties.register()
    operators.register()
    panels.register()
    handlers.register()
    commands.register()


def unregister() -> None:
    from . import commands, operators, panels, preferences, properties
    from .pipeline import handlers

    commands.unregister()
    handlers.unregister()
    panels.unregister()
    operators.unregister()
    properties.unregister()
    preferences.unregister()
