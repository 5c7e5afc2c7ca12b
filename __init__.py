"""Ground Truth: computer-vision ground truth (depth, normals, flow, masks, boxes,
camera) from any Blender scene.

The sub-packages are imported inside ``register()`` so that the bpy-free parts
(``core``, ``exporters``) stay importable without Blender, e.g. from a training script.
"""


def register() -> None:
    from . import operators, panels, properties

    properties.register()
    operators.register()
    panels.register()


def unregister() -> None:
    from . import operators, panels, properties

    panels.unregister()
    operators.unregister()
    properties.unregister()
