# SPDX-License-Identifier: GPL-3.0-or-later
"""Bad scenes, settings and faults, each set up for real, with the exact outcome."""

import json
import subprocess
from pathlib import Path

import bpy
import motion_truth
import numpy as np
import pytest
import scenes


def out(scene):
    return Path(bpy.path.abspath(scene.ground_truth.output_dir))


def visible(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


# --- scenes -------------------------------------------------------------------------


def test_scene_without_objects_exports_background_only(scene):
    scenes.add_camera(scene, (0, -5, 1), (85, 0, 0))
    scene.ground_truth.use_coco = True
    assert bpy.ops.render.gt_render_frame() == {"FINISHED"}
    arrays = np.load(out(scene) / "npz" / "000001.npz")
    assert np.isinf(arrays["depth"]).all() and not arrays["object_index"].any()
    assert arrays["boxes"].shape == (0, 4) and np.isnan(arrays["flow_forward"]).all()
    coco = json.loads((out(scene) / "coco.json").read_text())
    assert len(coco["images"]) == 1 and coco["annotations"] == []


def test_objects_at_pass_index_zero_are_warned_and_given_unique_indices(scene, capfd):
    scenes.add_camera(scene, (0, -6, 2), (72, 0, 0))
    mine = scenes.add_mesh(scene, "Mine", "cube", (-1.5, 0, 0), pass_index=2)
    zero_a = scenes.add_mesh(scene, "ZeroA", "cube", (0.5, 0, 0))
    zero_b = scenes.add_mesh(scene, "ZeroB", "ico", (2, 1, 0), scale=0.6)
    assert bpy.ops.render.gt_render_frame() == {"FINISHED"}
    assert "2 objects have pass index 0 and count as background in masks" in capfd.readouterr().out
    assert bpy.ops.object.gt_assign_pass_indices() == {"FINISHED"}
    assert mine.pass_index == 2  # the user's index stays
    assert {zero_a.pass_index, zero_b.pass_index} == {1, 3}
    assert not bpy.ops.object.gt_assign_pass_indices.poll()
    assert bpy.ops.render.gt_render_frame() == {"FINISHED"}
    assert set(np.unique(np.load(out(scene) / "npz" / "000001.npz")["object_index"])) == {0, 1, 2, 3}


def test_several_view_layers_export_the_active_one_and_say_so(scene, capfd):
    scenes.add_camera(scene, (0, -6, 2), (72, 0, 0))
    scenes.add_mesh(scene, "Shared", "cube", (-1, 0, 0), pass_index=1)
    extra = bpy.data.collections.new("Extra")
    scene.collection.children.link(extra)
    box = scenes.add_mesh(scene, "OnlyInB", "cube", (1.5, 0, 0), pass_index=2)
    scene.collection.objects.unlink(box)
    extra.objects.link(box)
    layer_a = scene.view_layers[0]
    layer_a.layer_collection.children["Extra"].exclude = True
    layer_b = scene.view_layers.new("B")
    for layer, expected in ((layer_a, {0, 1}), (layer_b, {0, 1, 2})):
        with bpy.context.temp_override(view_layer=layer):
            assert bpy.ops.render.gt_render_frame() == {"FINISHED"}
        assert f"masks and passes come from '{layer.name}'" in capfd.readouterr().out
        assert set(np.unique(np.load(out(scene) / "npz" / "000001.npz")["object_index"])) == expected
        assert json.loads((out(scene) / "meta.json").read_text())["view_layer"] == layer.name


def test_ten_thousand_objects(scene):
    scenes.add_camera(scene, (0, -6, 2), (72, 0, 0))
    scenes.add_mesh(scene, "Box", "cube", (0, 0, 0), pass_index=1)
    for i in range(10_000):
        empty = bpy.data.objects.new(f"Empty{i:05d}", None)
        empty.pass_index = 2 + i
        scene.collection.objects.link(empty)
    assert bpy.ops.render.gt_render_frame() == {"FINISHED"}
    meta = json.loads((out(scene) / "meta.json").read_text())
    assert len(meta["objects"]) == 10_002  # camera included
    assert len(meta["object_index_names"]) == 10_001
    assert np.load(out(scene) / "npz" / "000001.npz")["box_index"].tolist() == [1]


# --- render settings ------------------------------------------------------------------

SETTINGS = {
    "denoising": lambda s: setattr(s.cycles, "use_denoising", True),
    "film_transparent": lambda s: setattr(s.render, "film_transparent", True),
    "wide_pixel_filter": lambda s: setattr(s.cycles, "filter_width", 3.0),
    "one_sample": lambda s: setattr(s.cycles, "samples", 1),
}


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_render_settings_do_not_corrupt_depth_masks_or_flow(scene, setting):
    scenes.build_moving_scene(scene)
    SETTINGS[setting](scene)
    scene.frame_set(2)
    assert bpy.ops.render.gt_render_frame() == {"FINISHED"}
    arrays = np.load(out(scene) / "npz" / "000002.npz")
    hits = scenes.cast_pixels(scene, reach_px=max(1.5, scene.cycles.filter_width))
    inside = hits["interior"]
    assert inside.sum() > 3000
    relative = np.abs(arrays["depth"][inside] - hits["depth"][inside]) / hits["depth"][inside]
    assert relative.max() < 1e-4
    index = {o.name: o.pass_index for o in scene.objects}
    np.testing.assert_array_equal(arrays["object_index"][inside], [index[n] for n in hits["object"][inside]])
    error = np.linalg.norm(arrays["flow_forward"][inside] - scenes.flow_truth(scene, 2, 3, hits)[inside], axis=-1)
    assert np.median(error) < 0.02


# --- engines ----------------------------------------------------------------------------


def test_eevee_exports_every_modality_with_masks_from_rays(scene, capfd):
    scenes.build_moving_scene(scene)
    engines = bpy.types.RenderSettings.bl_rna.properties["engine"].enum_items.keys()
    scene.render.engine = "BLENDER_EEVEE_NEXT" if "BLENDER_EEVEE_NEXT" in engines else "BLENDER_EEVEE"
    scene.ground_truth.use_coco = True
    scene.frame_set(2)
    assert bpy.ops.render.gt_render_frame() == {"FINISHED"}
    assert "cannot give" not in capfd.readouterr().out
    meta = json.loads((out(scene) / "meta.json").read_text())
    assert meta["missing_modalities"] == []
    arrays = np.load(out(scene) / "npz" / "000002.npz")
    coco = json.loads((out(scene) / "coco.json").read_text())
    assert sorted(a["category_id"] for a in coco["annotations"]) == [1, 2, 3]
    hits = scenes.cast_pixels(scene)
    inside = hits["interior"]
    # EEVEE's depth comes from its depth buffer, as the README says: median relative error
    # 5e-4 (5.x) to 5e-3 (4.2's EEVEE Next), at most a few percent; Cycles' is ~1e-6.
    relative = np.abs(arrays["depth"][inside] - hits["depth"][inside]) / hits["depth"][inside]
    assert np.median(relative) < 1e-2 and relative.max() < 5e-2
    # EEVEE's motion vectors: median end-point error ~0.004 px on 5.x, ~0.04 px on 4.2 (README).
    for key, target in (("flow_forward", 3), ("flow_backward", 1)):
        error = np.linalg.norm(arrays[key][inside] - scenes.flow_truth(scene, 2, target, hits)[inside], axis=-1)
        assert np.median(error) < 0.05, key
    cosine = np.sum(arrays["normal_world"][inside] * hits["normal"][inside], axis=-1)
    assert np.degrees(np.arccos(np.clip(cosine, -1, 1))).max() < 0.5
    # EEVEE has no index passes: the masks come from rays through the pixel centres.
    by_name = {o.name: o for o in scene.objects}
    expected = {"object_index": lambda o: o.pass_index, "material_index": lambda o: o.active_material.pass_index}
    for key, value in expected.items():
        np.testing.assert_array_equal(arrays[key][inside], [value(by_name[n]) for n in hits["object"][inside]])
    # EEVEE on 4.2–5.1 writes the far clip distance where no surface is: background.
    assert (arrays["object_index"][hits["empty"]] == 0).all() and np.isinf(arrays["depth"][hits["empty"]]).all()
    # Occlusion comes from the scene's geometry, not from EEVEE's buffers: exact here too.
    away = hits["hit"] & ~hits["near_background"] & (np.sum(list(hits["touching"].values()), axis=0) == 1)
    _, _, expected = motion_truth.follow(scene, motion_truth.surfaces(scene, hits, away), 3)
    scene.frame_set(2)
    assert (expected == 1).sum() > 50 and (expected == 2).sum() > 50
    assert np.mean(arrays["occlusion_forward"][away] == expected) >= 0.995


# --- paths --------------------------------------------------------------------------------


def test_folder_with_spaces_and_non_ascii_letters(scene, tmp_path):
    scenes.add_camera(scene, (0, -6, 2), (72, 0, 0))
    scenes.add_mesh(scene, "Box", "cube", (0, 0, 0), pass_index=1)
    scene.ground_truth.output_dir = str(tmp_path / "my data" / "Grundwahrheit ü ñ 深度")
    assert bpy.ops.render.gt_render_frame() == {"FINISHED"}
    assert (tmp_path / "my data" / "Grundwahrheit ü ñ 深度" / "npz" / "000001.npz").is_file()


def test_folder_that_cannot_be_created(scene):
    scenes.add_camera(scene, (0, -6, 2), (72, 0, 0))
    scene.ground_truth.output_dir = "/proc/ground_truth_here"
    with pytest.raises(RuntimeError, match="Cannot create the Output Folder '/proc/ground_truth_here'"):
        bpy.ops.render.gt_render_frame()


# --- faults -------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A real, small file system (tmpfs); needs root, as the machines here have."""
    mount = tmp_path / "small_disk"
    mount.mkdir()

    def make(size_bytes):
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(mount)])
        if done.returncode:
            pytest.skip("mounting a tmpfs needs root")
        return mount

    yield make
    # Lazy: detached now, freed when Blender lets go of its last file there.
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_disk_full_in_the_middle_stops_with_the_reason_and_keeps_earlier_frames(scene, small_disk, tmp_path):
    scenes.build_moving_scene(scene, frames=6)
    scene.frame_set(1)
    assert bpy.ops.render.gt_render_frame() == {"FINISHED"}  # how much one frame takes
    frame_bytes = sum(p.stat().st_size for p in out(scene).rglob("*") if p.is_file())
    disk = small_disk(int(2.5 * frame_bytes) // 4096 * 4096)
    scene.ground_truth.output_dir = str(disk / "run")
    with pytest.raises(RuntimeError, match="No space left on device"):
        bpy.ops.render.gt_render_animation()
    meta = json.loads((disk / "run" / "meta.json").read_text())
    assert 1 <= len(meta["frames_written"]) < 6
    for frame in meta["frames_written"]:
        arrays = np.load(disk / "run" / "npz" / f"{frame:06d}.npz")
        assert arrays["frame"] == frame and np.isfinite(arrays["depth"]).any()
    assert not [p for p in (disk / "run").rglob(".*.part")]  # no temporary left behind
    for path in (disk / "run").rglob("*.png"):
        assert path.read_bytes()[-8:-4] == b"IEND", path
    # meta.json may trail the files (it is rewritten every few seconds, and the disk was
    # full at the end), but every frame with an NPZ, written last, has all its files.
    npz = sorted(int(p.stem) for p in (disk / "run" / "npz").iterdir())
    assert set(meta["frames_written"]) <= set(npz) and len(npz) < 6
    for frame in npz:
        assert len([p for p in (disk / "run").rglob(f"{frame:06d}.*")]) == len(list(out(scene).rglob("000001.*")))

    # With room again, the same export finishes: nothing was lost, every frame is listed.
    subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
    assert bpy.ops.render.gt_render_animation() == {"FINISHED"}
    assert json.loads((disk / "run" / "meta.json").read_text())["frames_written"] == [1, 2, 3, 4, 5, 6]


def test_the_scratch_folder_preference_is_used_and_a_small_one_refused(scene, small_disk):
    import devenv

    scenes.add_camera(scene, (0, -6, 2), (72, 0, 0))
    scenes.add_mesh(scene, "Box", "cube", (0, 0, 0), pass_index=1)
    prefs = bpy.context.preferences.addons[devenv.ADDON_MODULE].preferences
    disk = small_disk(1 << 20)  # 1 MB: less than one 160×120 frame's passes and the margin
    prefs.scratch_dir = str(disk)
    try:
        with pytest.raises(RuntimeError, match=rf"The scratch folder '{disk}' has 1 MB free; a frame needs 2 MB"):
            bpy.ops.render.gt_render_frame()
        assert not out(scene).exists() or not list((out(scene)).rglob("*.npz"))
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        assert bpy.ops.render.gt_render_frame() == {"FINISHED"}  # with room the export runs
        assert (out(scene) / "npz" / "000001.npz").is_file() and not list(disk.iterdir())  # leaving it empty
    finally:
        prefs.scratch_dir = ""
