"""Ground Truth: computer-vision ground truth (depth, normals, flow, masks, boxes,
camera) from any Blender scene.

The sub-packages are imported inside ``register()`` so that the bpy-free parts
(``core``, ``exporters``) stay importable without Blender, e.g. from a training script.
"""


def register() -> None:
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
