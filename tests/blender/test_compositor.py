# SPDX-License-Identifier: GPL-3.0-or-later
"""Wiring is idempotent, the user's nodes survive everything, and exports leave the
scene as they found it."""

import bpy
import numpy as np
import pytest
import scenes

BLENDER_5 = bpy.app.version >= (5, 0, 0)
PASS_FLAGS = (
    "use_pass_z",
    "use_pass_normal",
    "use_pass_vector",
    "use_pass_object_index",
    "use_pass_material_index",
    "use_pass_emit",
)


def compositor(scene):
    return scene.compositing_node_group if BLENDER_5 else (scene.node_tree if scene.use_nodes else None)


def user_compositor(scene):
    """The user's own tree: Render Layers → Invert → output, plus an unconnected RGB node."""
    if BLENDER_5:
        tree = bpy.data.node_groups.new("User Compositing", "CompositorNodeTree")
        scene.compositing_node_group = tree
        tree.interface.new_socket("Image", in_out="OUTPUT", socket_type="NodeSocketColor")
        out = tree.nodes.new("NodeGroupOutput")
    else:
        scene.use_nodes = True
        tree = scene.node_tree
        tree.nodes.clear()
        out = tree.nodes.new("CompositorNodeComposite")
    out.name = "User Output"
    rl = tree.nodes.new("CompositorNodeRLayers")
    rl.name = "User Render Layers"
    invert = tree.nodes.new("CompositorNodeInvert")
    invert.name = "User Invert"
    invert.location = (200, 0)
    tree.nodes.new("CompositorNodeRGB").name = "User RGB"
    tree.links.new(rl.outputs["Image"], invert.inputs["Color"])
    tree.links.new(invert.outputs[0], out.inputs[0])
    return tree


def tree_state(tree):
    """Everything about a tree that wiring could change, comparable with ==."""
    nodes = {}
    for node in tree.nodes:
        nodes[node.name] = (
            node.bl_idname,
            tuple(round(v, 3) for v in node.location),
            node.label,
            node.mute,
            node.parent.name if node.parent else None,
            [s.name for s in node.inputs],
            getattr(node, "directory", getattr(node, "base_path", None)),
        )
    links = sorted(
        (link.from_node.name, link.from_socket.identifier, link.to_node.name, link.to_socket.identifier)
        for link in tree.links
    )
    return nodes, links


def user_part(state):
    nodes, links = state
    return (
        {k: v for k, v in nodes.items() if k.startswith("User")},
        [link for link in links if link[0].startswith("User") and link[2].startswith("User")],
    )


@pytest.fixture
def simple(scene):
    scenes.add_camera(scene, (0, -6, 2), (72, 0, 0))
    scenes.add_mesh(scene, "Box", "cube", (0, 0, 0), pass_index=1)
    scenes.add_sun(scene)
    return scene


def test_wiring_twice_changes_nothing_and_user_nodes_survive_wire_render_remove(simple):
    tree = user_compositor(simple)
    user_before = tree_state(tree)
    assert bpy.ops.render.gt_setup_passes() == {"FINISHED"}
    assert bpy.ops.node.gt_wire_compositor() == {"FINISHED"}
    wired = tree_state(tree)
    assert bpy.ops.node.gt_wire_compositor() == {"FINISHED"}
    assert tree_state(tree) == wired
    assert user_part(wired) == user_part(user_before)
    ours = {name for name in wired[0] if not name.startswith("User")}
    assert ours == {"Ground Truth", "GT Render Layers", "GT Depth Preview", "GT Viewer", "GT Data (EXR)"}

    assert bpy.ops.render.gt_render_frame() == {"FINISHED"}
    assert tree_state(tree) == wired  # our File Output is muted and pointed back after the export

    assert bpy.ops.node.gt_remove_compositor() == {"FINISHED"}
    assert tree_state(tree) == user_before
    assert not bpy.ops.node.gt_remove_compositor.poll()


def test_rgb_is_the_composited_render(simple):
    user_compositor(simple)
    simple.view_settings.view_transform = "Standard"
    assert bpy.ops.render.gt_render_frame() == {"FINISHED"}
    out = bpy.path.abspath(simple.ground_truth.output_dir)
    image = bpy.data.images.load(f"{out}/rgb/000001.png")
    pixels = np.empty(len(image.pixels), np.float32)
    image.pixels.foreach_get(pixels)
    corner = pixels.reshape(image.size[1], image.size[0], -1)[-1, 0, :3]  # top-left: empty sky
    np.testing.assert_allclose(corner, [1.0, 1.0, 1.0], atol=0.01)  # black sky, inverted by the user's tree


def test_export_without_wiring_leaves_the_scene_as_found(simple):
    simple.render.image_settings.file_format = "JPEG"
    simple.render.use_motion_blur = True
    layer = bpy.context.view_layer
    flags = {flag: getattr(layer, flag) for flag in PASS_FLAGS}
    groups = set(bpy.data.node_groups.keys())
    assert compositor(simple) is None
    assert bpy.ops.render.gt_render_frame() == {"FINISHED"}
    assert compositor(simple) is None
    assert set(bpy.data.node_groups.keys()) == groups
    assert {flag: getattr(layer, flag) for flag in PASS_FLAGS} == flags
    assert simple.render.image_settings.file_format == "JPEG"
    assert simple.render.use_motion_blur is True
    out = bpy.path.abspath(simple.ground_truth.output_dir)
    assert np.load(f"{out}/npz/000001.npz")["object_index"].max() == 1


def test_setup_passes_enables_what_the_modalities_need(simple):
    simple.ground_truth.use_flow = False
    simple.ground_truth.use_emission = False
    assert bpy.ops.render.gt_setup_passes() == {"FINISHED"}
    layer = bpy.context.view_layer
    assert layer.use_pass_z and layer.use_pass_normal and layer.use_pass_object_index
    assert not layer.use_pass_vector and not layer.use_pass_emit


def test_extension_carries_its_openexr_wheel(addon):
    import os
    from pathlib import Path

    user = Path(os.environ["BLENDER_USER_RESOURCES"])
    assert list(user.glob("extensions/.local/lib/python3.*/site-packages/OpenEXR*"))


def test_setup_passes_on_eevee_enables_no_index_pass(simple, capfd):
    engines = bpy.types.RenderSettings.bl_rna.properties["engine"].enum_items.keys()
    simple.render.engine = "BLENDER_EEVEE_NEXT" if "BLENDER_EEVEE_NEXT" in engines else "BLENDER_EEVEE"
    assert bpy.ops.render.gt_setup_passes() == {"FINISHED"}
    assert "cannot give" not in capfd.readouterr().out  # its masks come from rays
    layer = bpy.context.view_layer
    assert layer.use_pass_z and layer.use_pass_normal and layer.use_pass_vector and layer.use_pass_emit
    assert not layer.use_pass_object_index and not layer.use_pass_material_index
