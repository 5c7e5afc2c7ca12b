"""Ground Truth: computer-vision ground truth (depth, normals, flow, masks, boxes,
camera) from any Blender scene.

The sub-packages are imported inside ``register()`` so that the bpy-free parts
(``core``, ``exporters``) stay importable without Blender, e.g. from a training script.
"""


def register() -> None:
    import bpy

    from .core.support import support_message
    from .pipeline.export import addon_version

    usable, message = support_message(bpy.app.version, addon_version())
    if not usable:
        raise RuntimeError(message)  # Blender shows it where enabling failed
    if message:
        print(f"Warning: {message}")

    from . import cli, operators, panels, properties
    from .pipeline import handlers

    properties.register()
    operators.register()
    panels.register()
    handlers.register()
    cli.register()


def unregister() -> None:
    from . import cli, operators, panels, properties
    from .pipeline import handlers

    cli.unregister()
    handlers.unregister()
    panels.unregister()
    operators.unregister()
    properties.unregister()
