# SPDX-License-Identifier: GPL-3.0-or-later
"""Wire Render Layers → Normalize → Viewer (preview) and → File Output (data).

Our nodes carry a custom property ``ground_truth`` naming their role and sit in a
frame labelled "Ground Truth". They are found by that property, never by position or
name, and the user's own nodes and links are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass

import bpy

from .. import compat
from ..core.registry import BACKGROUND_PASS, PASSES

ROLE = "ground_truth"
FRAME_LABEL = "Ground Truth"

# role → (node type, label, offset from the frame's anchor)
_NODES = {
    "render_layers": ("CompositorNodeRLayers", "GT Render Layers", (0, 0)),
    "normalize": ("CompositorNodeNormalize", "GT Depth Preview", (300, 120)),
    "viewer": ("CompositorNodeViewer", "GT Viewer", (500, 120)),
    "file_output": ("CompositorNodeOutputFile", "GT Data (EXR)", (300, -120)),
}


@dataclass
class WireResult:
    """What :func:`wire` found: the tree, and the passes it could not connect."""

    tree: bpy.types.NodeTree
    missing_sockets: list[str]


def our_nodes(tree: bpy.types.NodeTree | None) -> dict[str, bpy.types.Node]:
    """Our nodes in ``tree`` by role (empty when there are none)."""
    if tree is None:
        return {}
    return {node[ROLE]: node for node in tree.nodes if ROLE in node}


def _anchor(tree: bpy.types.NodeTree) -> tuple[float, float]:
    """Below everything the user has, so our frame never covers their nodes."""
    others = [n for n in tree.nodes if ROLE not in n]
    if not others:
        return 0.0, 0.0
    return min(n.location.x for n in others), min(n.location.y for n in others) - 400.0


def _ensure_link(tree: bpy.types.NodeTree, out_socket, in_socket) -> None:
    if not any(link.from_socket == out_socket and link.to_socket == in_socket for link in in_socket.links):
        tree.links.new(out_socket, in_socket)


def enable_passes(view_layer: bpy.types.ViewLayer, passes) -> None:
    """Switch on the view-layer passes ``passes`` (and the depth pass, which the preview
    shows and which tells surface from background)."""
    for name in {BACKGROUND_PASS, *passes}:
        setattr(view_layer, PASSES[name].view_layer_flag, True)


def wire(scene: bpy.types.Scene, view_layer: bpy.types.ViewLayer, passes) -> WireResult:
    """Create or complete our nodes so that the File Output has exactly ``passes``.

    The view layer's passes that the nodes link are switched on first (the Render
    Layers node has no output for a pass that is off). Idempotent: with our nodes
    already in place and the same ``passes`` nothing changes. Creates the compositor
    tree when the scene has none.
    """
    enable_passes(view_layer, passes)
    tree = compat.compositor_tree(scene) or compat.create_compositor_tree(scene)
    nodes = our_nodes(tree)
    if "frame" not in nodes:
        frame = tree.nodes.new("NodeFrame")
        frame[ROLE] = "frame"
        frame.name = frame.label = FRAME_LABEL
        frame.location = _anchor(tree)
        nodes["frame"] = frame
    frame = nodes["frame"]
    for role, (node_type, label, (dx, dy)) in _NODES.items():
        if role in nodes:
            continue
        node = tree.nodes.new(node_type)
        node[ROLE] = role
        node.name = node.label = label
        node.parent = frame
        node.location = (frame.location.x + dx, frame.location.y + dy)
        if role == "file_output":
            compat.configure_file_output(node)
            node.mute = True  # writes only while Ground Truth exports
        nodes[role] = node

    render_layers, file_output = nodes["render_layers"], nodes["file_output"]
    if render_layers.scene != scene:
        render_layers.scene = scene
    if render_layers.layer != view_layer.name:
        render_layers.layer = view_layer.name
    _ensure_link(tree, render_layers.outputs[compat.render_layer_socket(BACKGROUND_PASS)], nodes["normalize"].inputs[0])
    _ensure_link(tree, nodes["normalize"].outputs[0], nodes["viewer"].inputs[0])

    for name in compat.file_output_items(file_output):
        if name not in passes:
            compat.remove_file_output_item(file_output, name)
    missing = []
    present = set(compat.file_output_items(file_output))
    for name in passes:
        socket = render_layers.outputs.get(compat.render_layer_socket(name))
        if socket is None:
            missing.append(name)
            continue
        in_socket = file_output.inputs[name] if name in present else compat.add_file_output_item(file_output, name)
        _ensure_link(tree, socket, in_socket)
    return WireResult(tree, missing)


def unwire(scene: bpy.types.Scene) -> int:
    """Remove our nodes (and with them their links); return how many were removed."""
    tree = compat.compositor_tree(scene)
    nodes = our_nodes(tree)
    for node in nodes.values():
        tree.nodes.remove(node)
    return len(nodes)
