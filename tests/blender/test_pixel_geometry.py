# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-pixel geometry on Cycles and EEVEE. Albedo: Blender's Diffuse Color pass, linear.
Under a Principled BSDF whose specular layer, coat and sheen are off (and metallic and
transmission 0), that pass is the base colour (BLENDER_FACTS); the truth is the colours
set here. Ray distance, point maps and object coordinates: Blender's ray casts through
the pixel centres. Both at the pixels whose every sample lands on one object
(``scenes.cast_pixels``)."""

import bpy
import instance_truth
import motion_truth
import numpy as np
import pytest
import scenes

# Linear base colours; the last is above sRGB's linear toe (an sRGB-encoded pass would
# differ from it by 0.2 and more).
COLOURS = {"Ground": (0.8, 0.8, 0.8), "Red": (0.7, 0.05, 0.1), "Teal": (0.02, 0.4, 0.35), "Pale": (0.2, 0.6, 0.9)}


def _principled(obj, colour):
    material = obj.data.materials[0]
    if not material.node_tree:  # Blender < 5 creates the tree on request only
        material.use_nodes = True
    bsdf = next(n for n in material.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    bsdf.inputs["Base Color"].default_value = (*colour, 1.0)
    for name in ("Specular IOR Level", "Coat Weight", "Sheen Weight", "Metallic", "Transmission Weight"):
        bsdf.inputs[name].default_value = 0.0


@pytest.fixture(scope="module", params=["CYCLES", "EEVEE"])
def rendered(addon, tmp_path_factory, request):
    scene = scenes.new_scene(tmp_path_factory.mktemp(f"albedo_{request.param}") / "out")
    if request.param == "EEVEE":
        instance_truth.eevee(scene)
    scenes.add_camera(scene, (0.0, -8.0, 3.0), (72, 0, 0), lens=35.0)
    objects = {
        "Ground": scenes.add_mesh(scene, "Ground", "plane", (0, 0, -1), scale=10, pass_index=1),
        "Red": scenes.add_mesh(scene, "Red", "cube", (-1.6, 0.5, 0.0), (0, 0, 30), scale=0.8, pass_index=2),
        "Teal": scenes.add_mesh(scene, "Teal", "ico", (0.4, 0.0, 0.0), scale=0.9, pass_index=3),
        "Pale": scenes.add_mesh(scene, "Pale", "cube", (2.0, 1.0, 0.2), (0, 0, -20), scale=0.7, pass_index=4),
    }
    for name, obj in objects.items():
        _principled(obj, COLOURS[name])
    scenes.add_sun(scene)
    settings = scene.ground_truth
    settings.use_albedo = settings.use_points = settings.use_object_coords = True  # off by default
    assert bpy.ops.render.gt_render_frame() == {"FINISHED"}
    out = bpy.path.abspath(scene.ground_truth.output_dir)
    with np.load(f"{out}/npz/000001.npz") as npz:
        arrays = dict(npz)
    return scene, arrays, scenes.cast_pixels(scene)


def test_albedo_is_each_material_s_base_colour_linear(rendered):
    _, arrays, truth = rendered
    albedo = arrays["albedo"]
    assert albedo.dtype == np.float32 and albedo.shape == (120, 160, 3)
    for name, colour in COLOURS.items():
        on = truth["interior"] & (truth["object"] == name)
        assert on.sum() > 150, name
        error = np.abs(albedo[on] - colour).max()
        assert error <= 1e-3, (name, error)


def test_albedo_is_zero_where_no_surface_is(rendered):
    _, arrays, truth = rendered
    assert truth["empty"].sum() > 200
    assert (arrays["albedo"][truth["empty"]] == 0).all()


def test_ray_distance_points_and_object_coordinates_meet_the_ray_casts(rendered):
    """Depth too: EEVEE's Depth pass is up to 1 % off (0.35 % at 5 m, 0.7 % at 12 m on
    5.2), so where the export casts rays (instance ids and EEVEE's masks, on by default)
    its depth is the rays', at the pixel centres."""
    scene, arrays, truth = rendered
    inside = truth["interior"]
    relative = np.abs(arrays["depth"][inside] - truth["depth"][inside]) / truth["depth"][inside]
    assert np.median(relative) <= 1e-5 and relative.max() < 1e-4, (np.median(relative), relative.max())
    rows, cols = np.nonzero(inside)
    origin = np.array(motion_truth.camera_ray(scene, 0, 0)[0])
    location = truth["location"][inside]
    distance = np.linalg.norm(location - origin, axis=1)
    relative = np.abs(arrays["depth_ray"][rows, cols] - distance) / distance
    assert np.median(relative) <= 1e-5 and relative.max() < 1e-4, (np.median(relative), relative.max())
    miss = np.linalg.norm(arrays["points_world"][rows, cols] - location, axis=1) / distance
    assert np.median(miss) <= 1e-5 and miss.max() < 1e-4, (np.median(miss), miss.max())
    for name in COLOURS:
        obj = bpy.data.objects[name]
        on = truth["object"][rows, cols] == name
        to_local = np.array(obj.matrix_world.inverted())
        model = (location[on] @ to_local[:3, :3].T + to_local[:3, 3]) * np.array(obj.matrix_world.to_scale())
        miss = np.linalg.norm(arrays["object_coords"][rows, cols][on] - model, axis=1)
        assert np.median(miss) <= 1e-5 and miss.max() <= 1e-4, (name, np.median(miss), miss.max())
