# SPDX-License-Identifier: GPL-3.0-or-later
"""The one place where Blender versions differ (4.2 LTS … 5.x).

Compositor trees, the File Output node's API, Render Layers socket names and image
format settings changed in Blender 5.0. Everything else in the add-on calls these
helpers and never looks at ``bpy.app.version`` itself.
"""

from __future__ import annotations

import bpy

from .core.registry import PASSES

BLENDER_5 = bpy.app.version >= (5, 0, 0)

# 4.2's File Output node writes the Vector pass with X, Y, Z only; forward flow needs W.
# There the Vector pass is read from the Render Result saved as multilayer EXR instead.
FILE_OUTPUT_KEEPS_VECTOR_W = bpy.app.version >= (4, 5, 0)


def render_engine(scene: bpy.types.Scene) -> str:
    """``scene.render.engine``, but ``BLENDER_EEVEE_LEGACY`` for EEVEE before 4.2, whose
    render result holds no Vector pass (measured on 3.4: ``use_pass_vector`` on, no layer)."""
    engine = scene.render.engine
    return "BLENDER_EEVEE_LEGACY" if engine == "BLENDER_EEVEE" and bpy.app.version < (4, 2, 0) else engine


def render_layer_socket(name: str) -> str:
    """The Render Layers output of pass ``name`` (the registry declares both spellings)."""
    render_pass = PASSES[name]
    return render_pass.socket if BLENDER_5 else render_pass.legacy_socket


# Newer Blenders warn about '//' in a path property unless it declares support for it.
PATH_OPTIONS = (
    {"PATH_SUPPORTS_BLEND_RELATIVE"}
    if "is_path_supports_blend_relative" in bpy.types.Property.bl_rna.properties
    else set()
)


def compositor_tree(scene: bpy.types.Scene) -> bpy.types.NodeTree | None:
    """The scene's compositor node tree, or ``None`` when compositing is off/absent."""
    if BLENDER_5:
        return scene.compositing_node_group
    return scene.node_tree if scene.use_nodes else None


def create_compositor_tree(scene: bpy.types.Scene) -> bpy.types.NodeTree:
    """Give the scene an (empty) compositor tree and return it."""
    if BLENDER_5:
        tree = bpy.data.node_groups.new(f"{scene.name} Compositing", "CompositorNodeTree")
        scene.compositing_node_group = tree
        return tree
    scene.use_nodes = True
    return scene.node_tree


def remove_compositor_tree(scene: bpy.types.Scene, tree: bpy.types.NodeTree) -> None:
    """Undo :func:`create_compositor_tree` (4.x keeps its tree and turns compositing off)."""
    if BLENDER_5:
        scene.compositing_node_group = None
        bpy.data.node_groups.remove(tree)
    else:
        scene.use_nodes = False


def configure_file_output(node: bpy.types.Node) -> None:
    """Make a File Output node write one float32 multilayer EXR per frame."""
    fmt = node.format
    if BLENDER_5:
        fmt.media_type = "MULTI_LAYER_IMAGE"
    fmt.file_format = "OPEN_EXR_MULTILAYER"
    fmt.color_depth = "32"
    fmt.exr_codec = "NONE"  # a scratch file, read once: compressing it only costs time
    if BLENDER_5:
        fmt.use_exr_interleave = True  # one part, not one part per layer
        node.file_name = "raw_"


# The File Output node's path property, and the value that makes it write
# ``raw_<frame>.exr`` files into a folder.
FILE_OUTPUT_PATH = "directory" if BLENDER_5 else "base_path"


def file_output_path(directory: str) -> str:
    return directory if BLENDER_5 else directory.rstrip("/\\") + "/raw_"


def file_output_items(node: bpy.types.Node) -> list[str]:
    """Names of a File Output node's inputs (layers), in order."""
    slots = node.file_output_items if BLENDER_5 else node.layer_slots
    return [item.name for item in slots]


def add_file_output_item(node: bpy.types.Node, name: str) -> bpy.types.NodeSocket:
    """Add the input for pass ``name`` and return its socket."""
    if BLENDER_5:
        item = node.file_output_items.new(PASSES[name].socket_type, name)
        if name == "vector":
            item.vector_socket_dimensions = 4  # keep W: forward flow lives in Z and W
    else:
        node.layer_slots.new(name)
    return node.inputs[name]


def remove_file_output_item(node: bpy.types.Node, name: str) -> None:
    if BLENDER_5:
        node.file_output_items.remove(node.file_output_items[name])
    else:
        node.layer_slots.remove(node.inputs[name])


def use_cpu_compositor(changes, render: bpy.types.RenderSettings) -> None:
    """Through ``changes`` (undoable), composite on the CPU: our nodes only pass data
    through, and Blender 5's default GPU compositor starts an OpenGL context headless
    (three EGL_BAD_MATCH lines per run here) for nothing."""
    if hasattr(render, "compositor_device"):
        changes.set(render, "compositor_device", "CPU")


def set_multilayer_exr(changes, image_settings: bpy.types.ImageFormatSettings) -> None:
    """Through ``changes`` (undoable), make the scene's image settings float32 multilayer EXR."""
    if BLENDER_5:
        changes.set(image_settings, "media_type", "MULTI_LAYER_IMAGE")
    changes.set(image_settings, "file_format", "OPEN_EXR_MULTILAYER")
    changes.set(image_settings, "color_depth", "32")
    changes.set(image_settings, "exr_codec", "NONE")


def set_still_png(changes, image_settings: bpy.types.ImageFormatSettings, alpha: bool) -> None:
    """Through ``changes`` (undoable), make the scene's image settings 8-bit PNG."""
    if BLENDER_5:
        changes.set(image_settings, "media_type", "IMAGE")
    changes.set(image_settings, "file_format", "PNG")
    changes.set(image_settings, "color_mode", "RGBA" if alpha else "RGB")
    changes.set(image_settings, "color_depth", "8")
