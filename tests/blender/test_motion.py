# SPDX-License-Identifier: GPL-3.0-or-later
"""Occlusion, flow over k frames and point tracks against Blender's own geometry
(``motion_truth``): a box passing in front of an icosphere, an object leaving the
picture, a parented object, an armature-bent flag, under a moving camera."""

import json
import os
import subprocess
import sys
from pathlib import Path

import bpy
import motion_truth
import numpy as np
import pytest
import scenes

FRAME, FRAMES = 6, [4, 5, 6, 7, 8]
STEPS = [(k, direction) for k in (1, 2, 5) for direction in ("forward", "backward")]


@pytest.fixture(scope="module")
def passing(addon, tmp_path_factory):
    scene = scenes.new_scene(tmp_path_factory.mktemp("motion") / "out")
    scene.cycles.samples = 1
    motion_truth.build_passing_scene(scene)
    settings = scene.ground_truth
    settings.flow_offsets = "5, 2"
    settings.use_tracks, settings.tracks_per_object, settings.tracks_seed = True, 30, 7
    settings.use_exr = True
    settings.use_scene_flow = settings.use_object_coords = True
    settings.frame_start, settings.frame_end = FRAMES[0], FRAMES[-1]
    assert bpy.ops.render.gt_render_animation() == {"FINISHED"}
    out = bpy.path.abspath(settings.output_dir)
    arrays = dict(np.load(f"{out}/npz/{FRAME:06d}.npz"))
    hits, away, truth = motion_truth.truth_around(scene, FRAME, STEPS)
    return scene, out, arrays, hits, away, truth


@pytest.mark.parametrize(("k", "direction"), STEPS)
def test_occlusion_agrees_with_ray_casts(passing, k, direction):
    _, _, arrays, _hits, away, truth = passing
    codes = arrays[motion_truth.array_key("occlusion", direction, k)][away]
    _, _, expected = truth[k, direction]
    assert away.sum() > 8000
    agreement = np.mean(codes == expected)
    assert agreement >= 0.995, (agreement, np.unique(expected, return_counts=True))


def test_every_class_is_present(passing):
    _, _, arrays, hits, _away, truth = passing
    for code in (0, 1, 2):  # the test would pass vacuously without each
        assert sum((t[2] == code).sum() for t in truth.values()) > 100, code
    assert (truth[5, "forward"][2] == 2).sum() > 100 and (truth[2, "backward"][2] == 1).sum() > 100
    for k, direction in STEPS:
        codes = arrays[motion_truth.array_key("occlusion", direction, k)]
        assert codes.dtype == np.uint8 and codes.shape == (120, 160)
        np.testing.assert_array_equal(codes[~hits["hit"] & ~np.any(list(hits["touching"].values()), axis=0)], 255)


@pytest.mark.parametrize(("k", "direction"), [s for s in STEPS if s[0] > 1])
def test_flow_over_k_frames_matches_projected_geometry(passing, k, direction):
    _scene, _, arrays, hits, away, truth = passing
    flow = arrays[motion_truth.array_key("flow", direction, k)]
    assert flow.dtype == np.float32 and flow.shape == (120, 160, 2)
    pixels, _, codes = truth[k, direction]
    rows, cols = np.nonzero(away)
    expected = pixels - np.stack([cols, rows], axis=1)
    seen = codes == 0
    error = np.linalg.norm(flow[rows, cols] - expected, axis=-1)
    assert np.linalg.norm(expected[seen], axis=-1).mean() > 2.0  # the motion is real
    assert np.median(error[seen]) <= 0.01
    names = hits["object"][rows, cols]
    for name in ("Flag", "Moon", "Runner", "Post", "Ground"):  # deformed, parented, moving, still
        on = seen & (names == name)
        if on.sum() > 20:
            assert np.median(error[on]) <= 0.01, name
    assert (seen & (names == "Flag")).sum() > 200 and (seen & (names == "Moon")).sum() > 50
    # Flow is where the point goes, seen or not: hidden points have it too.
    assert np.isfinite(flow[rows, cols][codes == 1]).all()
    assert np.median(error[codes == 1]) <= 0.01


def test_flow_k1_from_geometry_agrees_with_the_vector_pass(passing):
    """The two routes to t+1 (Blender's Vector pass, our geometry) meet."""
    _, _, arrays, hits, away, truth = passing
    rows, cols = np.nonzero(away)
    pixels, _, codes = truth[1, "forward"]
    expected = pixels - np.stack([cols, rows], axis=1)
    on = (codes == 0) & (hits["object"][rows, cols] != "Flag")  # the Vector pass averages over the pixel
    error = np.linalg.norm(arrays["flow_forward"][rows, cols][on] - expected[on], axis=-1)
    assert np.median(error) < 0.02


@pytest.mark.parametrize(("k", "direction"), STEPS)
def test_scene_flow_and_depth_change_follow_the_evaluated_meshes(passing, k, direction):
    """Each surface point carried on Blender's evaluated meshes (the rigid ones by their
    matrix, the armature-bent flag by its triangle's vertices), as a displacement in frame
    6's camera axes, and its planar depth change; projected through the target frame's K
    and pose (where that frame was exported) it lands where the flow says."""
    scene, out, arrays, hits, away, truth = passing
    rows, cols = np.nonzero(away)
    points = motion_truth.surfaces(scene, hits, away)
    target = FRAME + k if direction == "forward" else FRAME - k
    moved = motion_truth.carried_to(scene, points, target)
    scene.frame_set(FRAME)
    camera = np.array(scene.camera.matrix_world.normalized())
    to_opencv = np.diag([1.0, -1.0, -1.0]) @ camera[:3, :3].T  # world → OpenCV camera axes at frame 6
    expected = (moved - hits["location"][rows, cols]) @ to_opencv.T
    scene_flow = arrays[motion_truth.array_key("scene_flow", direction, k)][rows, cols]
    error = np.linalg.norm(scene_flow - expected, axis=1)
    assert (np.linalg.norm(expected, axis=1) > 0.05).sum() > 500  # the motion is real (the ground is still)
    assert np.median(error) <= 1e-4 and np.percentile(error, 99) <= 1e-3, (np.median(error), error.max())
    names = hits["object"][rows, cols]
    for name in ("Flag", "Moon", "Runner", "Ground"):  # deformed, parented, moving, still
        assert (names == name).sum() > 50 and np.median(error[names == name]) <= 1e-4, name
    _, depth_there, _ = truth[k, direction]
    change = arrays[motion_truth.array_key("depth_change", direction, k)][rows, cols]
    assert np.median(np.abs(change - (depth_there - hits["depth"][rows, cols]))) <= 1e-4
    assert np.isnan(arrays[motion_truth.array_key("scene_flow", direction, k)][~hits["hit"]]).all()
    if target in FRAMES:  # its K and pose are in its NPZ
        with np.load(f"{out}/npz/{target:06d}.npz") as there:
            K, pose = there["K"], there["world_to_camera"]
        world = hits["location"][rows, cols] + scene_flow @ to_opencv  # back to world axes
        camera_there = world @ pose[:3, :3].T + pose[:3, 3]
        landed = (camera_there @ K.T)[:, :2] / camera_there[:, 2:]
        pixels, _, _ = truth[k, direction]
        assert np.median(np.linalg.norm(landed - pixels, axis=1)) <= 0.01
        if k > 1:  # the flow the same rays give (k = 1's is the Vector pass, averaged over each pixel)
            flow = arrays[motion_truth.array_key("flow", direction, k)][rows, cols]
            np.testing.assert_allclose(landed, np.stack([cols, rows], axis=1) + flow, atol=0.01)


def test_meta_names_the_offsets_and_how_each_object_is_followed(passing):
    _, out, *_ = passing
    meta = json.loads(open(f"{out}/meta.json").read())
    assert meta["flow_offsets"] == [2, 5]
    assert meta["surface_motion"]["Flag"].startswith("deforming")
    assert meta["surface_motion"]["Runner"] == "rigid" and meta["surface_motion"]["Moon"] == "rigid"
    for name in ("occlusion", "occlusion_rule", "flow_forward_k<k>", "occlusion_backward_k<k>"):
        assert name in meta["conventions"]
    assert {"flow_forward_k2", "flow_backward_k5", "occlusion_forward_k5", "occlusion_backward"} <= set(meta["arrays"])


def test_exr_and_loader_give_the_same_arrays(passing):
    from ground_truth.loader import load_frame

    _, out, arrays, *_ = passing
    from_exr = load_frame(f"{out}/exr/{FRAME:06d}.exr")
    names = ("occlusion_forward", "occlusion_backward_k5", "flow_forward_k2", "flow_backward_k5", "depth_ray")
    names += ("scene_flow_forward", "depth_change_backward_k2", "scene_flow_backward_k5", "object_coords")
    for name in names:
        assert from_exr[name].dtype == arrays[name].dtype, name
        np.testing.assert_array_equal(from_exr[name], arrays[name])


def test_occlusion_previews_and_contact_sheet(passing):
    _, out, _arrays, *_ = passing
    for name in ("occlusion_forward", "occlusion_backward"):
        assert os.path.isfile(f"{out}/preview/{name}/{FRAME:06d}.png")
    sheet = bpy.data.images.load(f"{out}/contact_sheet.png")
    columns = 1 + sum(1 for name in os.listdir(f"{out}/preview"))
    assert sheet.size[0] >= columns * 160  # one column per preview folder, occlusion's included
    assert os.path.isfile(f"{out}/tracks_preview.png")


def test_tracks_follow_the_geometry(passing):
    from ground_truth.loader import load_tracks

    scene, out, *_ = passing
    tracks = load_tracks(out)
    np.testing.assert_array_equal(tracks["frames"], FRAMES)
    count = len(tracks["query_points"])
    assert tracks["target_points"].shape == (count, 5, 2) and tracks["occluded"].shape == (count, 5)
    assert tracks["query_points"].dtype == np.float32 and tracks["occluded"].dtype == bool
    objects, per_object = np.unique(tracks["track_object_index"], return_counts=True)
    assert set(objects) == {1, 2, 3, 4, 5, 6} and per_object.max() == 30  # every indexed object, 30 each
    assert len(set(tracks["query_points"][:, 0].tolist())) == 5  # queries spread over the frames
    pixels, codes, depth = motion_truth.track_truth(scene, tracks, FRAME)
    seen = codes == 0
    error = np.linalg.norm(tracks["target_points"] - pixels, axis=-1)
    assert seen.sum() > 500 and (codes == 1).sum() > 10 and (codes == 2).sum() > 5
    assert np.median(error[seen]) <= 0.01
    assert np.mean(tracks["occluded"] == (codes != 0)) >= 0.99
    relative = np.abs(tracks["track_depth"] - depth) / depth
    assert np.median(relative[codes != 2]) < 1e-5


@pytest.fixture(scope="module")
def cli(addon, passing, tmp_path_factory):
    """The shipped package and the passing scene saved as a .blend, for the command line."""
    root = tmp_path_factory.mktemp("motion_cli")
    blend = root / "passing.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend), copy=True)
    return root, blend, scenes.cli_runner(addon, root)


def test_object_coordinates_of_parented_moving_and_deforming_objects(passing):
    """Blender's hit at frame 6 in each object's local frame (its world matrix, parents
    included) times its world scale: the flag's is its armature-bent shape there."""
    scene, _, arrays, hits, away, _ = passing
    scene.frame_set(FRAME)
    for name in ("Flag", "Moon", "Runner", "Post"):
        obj = bpy.data.objects[name]
        on = away & (hits["object"] == name)
        assert on.sum() > 50, name
        to_local = np.array(obj.matrix_world.inverted())
        model = (hits["location"][on] @ to_local[:3, :3].T + to_local[:3, 3]) * np.array(obj.matrix_world.to_scale())
        miss = np.linalg.norm(arrays["object_coords"][on] - model, axis=1)
        assert np.median(miss) <= 1e-5 and miss.max() <= 1e-4, (name, np.median(miss), miss.max())


def same_modalities(out) -> list[str]:
    """The flag that asks for the folder's modalities (scene flow among them, off by default)."""
    return ["--modalities", ",".join(json.loads((Path(out) / "meta.json").read_text())["modalities"])]


def test_merge_writes_tracks_for_given_queries(passing, cli):
    from ground_truth.loader import load_tracks

    scene, out, *_ = passing
    root, blend, run = cli
    queries = np.array([[0, 60, 80], [1, 5, 5], [2, 70.25, 40.5], [4, 50, 120], [3, 90, 100]], np.float32)
    np.save(root / "queries.npy", queries)
    flags = ["--formats", "npz,exr", "--flow-offsets", "2,5", "--track-queries", str(root / "queries.npy")]
    status, _, err = run("merge", "--blend", str(blend), "--out", out, *flags, *same_modalities(out))
    assert status == 0, err
    tracks = load_tracks(out)
    np.testing.assert_array_equal(tracks["query_points"], queries)
    pixels, codes, _ = motion_truth.track_truth(scene, tracks, FRAME)
    seen = codes == 0
    assert seen.sum() >= 15
    np.testing.assert_allclose(tracks["target_points"][seen], pixels[seen], atol=0.01)
    np.testing.assert_array_equal(tracks["occluded"], codes != 0)
    # The query in the sky's corner lies on no surface: never seen, nowhere, no object.
    assert (codes[1] == -1).all() and np.isnan(tracks["target_points"][1]).all()
    assert tracks["track_object_index"][1] == 0 and tracks["track_object_index"][0] > 0
    for row, (t, y, x) in enumerate(queries):  # at its own frame a query is where it was asked for
        if row != 1:
            assert tuple(tracks["target_points"][row, int(t)]) == (x, y)


def test_bad_offsets_and_queries_are_refused_in_one_line(passing, cli):
    _, out, *_ = passing
    root, blend, run = cli
    status, _, err = run("render", "--blend", str(blend), "--out", str(root / "x"), "--flow-offsets", "1,3")
    assert status == 2 and err.strip().count("\n") == 0 and "2 or more" in err
    np.save(root / "bad.npy", np.zeros((3, 2)))
    flags = ["--formats", "npz,exr", "--flow-offsets", "2,5", "--track-queries", str(root / "bad.npy")]
    status, _, err = run("merge", "--blend", str(blend), "--out", out, *flags, *same_modalities(out))
    assert status == 1 and "(N, 3)" in err and "Traceback" not in err
    scene = passing[0]
    scene.ground_truth.flow_offsets = "two"
    try:
        with pytest.raises(RuntimeError, match="Flow Offsets"):
            bpy.ops.render.gt_render_frame()
    finally:
        scene.ground_truth.flow_offsets = "5, 2"


@pytest.fixture(scope="module")
def instanced(addon, tmp_path_factory):
    scene = scenes.new_scene(tmp_path_factory.mktemp("instances") / "out")
    scene.cycles.samples = 1
    motion_truth.build_instances_scene(scene)
    scene.ground_truth.flow_offsets = "3"
    assert bpy.ops.render.gt_render_frame() == {"FINISHED"}
    arrays = dict(np.load(bpy.path.abspath(scene.ground_truth.output_dir) + "/npz/000004.npz"))
    restored = (bpy.data.objects["Plank"].hide_viewport, bpy.data.objects["Smooth"].modifiers[0].levels)
    undo = motion_truth.as_rendered(scene)
    try:
        hits = scenes.cast_pixels(scene, reach_px=1.0)
        away = hits["hit"] & ~hits["near_background"] & (np.sum(list(hits["touching"].values()), axis=0) == 1)
        points = motion_truth.surfaces_through(scene, away)
        truth = {(k, sign): motion_truth.follow(scene, points, 4 + sign * k) for k in (1, 3) for sign in (1, -1)}
    finally:
        undo()
        scene.frame_set(4)
    return arrays, hits, away, truth, restored


def test_instances_shape_keys_subdivision_and_hidden_objects_under_an_orthographic_camera(instanced):
    arrays, hits, away, truth, restored = instanced
    assert restored == (True, 0)  # the export gave the viewport its own settings back
    names = set(hits["object"][away])
    assert {"CrateBox", "Blob", "Smooth", "Plank", "Ground"} <= names
    rows, cols = np.nonzero(away)
    for (k, sign), (pixels, _, codes) in truth.items():
        direction = "forward" if sign > 0 else "backward"
        occlusion = arrays[motion_truth.array_key("occlusion", direction, k)][rows, cols]
        assert np.mean(occlusion == codes) >= 0.995, (k, direction, np.mean(occlusion == codes))
        if k > 1:
            flow = arrays[motion_truth.array_key("flow", direction, k)][rows, cols]
            error = np.linalg.norm(flow - (pixels - np.stack([cols, rows], axis=1)), axis=-1)
            seen = codes == 0
            assert np.median(error[seen]) <= 0.01
            for name in ("CrateBox", "Blob", "Smooth"):
                on = seen & (hits["object"][rows, cols] == name)
                assert on.sum() > 30 and np.median(error[on]) <= 0.01, name
    assert sum((t[2] == 1).sum() for t in truth.values()) > 50  # the plank hides things


def test_tracks_cover_every_frame_of_a_folder_filled_by_two_runs(cli):
    from ground_truth.loader import load_tracks

    root, blend, run = cli
    out = root / "split"
    flags = ["--modalities", "depth,flow,occlusion", "--tracks", "--tracks-per-object", "12", "--no-previews"]
    for frames in ("4-5", "6-7"):
        status, _, err = run("render", "--blend", str(blend), "--out", str(out), "--frames", frames, *flags)
        assert status == 0, err
        tracks = load_tracks(out)
    np.testing.assert_array_equal(tracks["frames"], [4, 5, 6, 7])
    assert set(tracks["query_points"][:, 0].tolist()) == {0, 1, 2, 3}
    assert len(tracks["query_points"]) == 6 * 12 and not (out / "tracks_preview.png").exists()


def test_the_readmes_track_queries_script_runs(cli, tmp_path):
    """The README's script for tracks of given queries, as a user pastes it after opening a
    .blend with the extension registered."""
    root, blend, _ = cli
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    snippet = readme.split("Tracks for your own query points", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    snippet = snippet.replace("/data/run01", str(tmp_path / "run01")).replace("range(1, 49)", "range(1, 12)")
    code = f"import bpy, ground_truth\nground_truth.register()\nbpy.ops.wm.open_mainfile(filepath={str(blend)!r})\n"
    code += snippet + "ground_truth.unregister()\n"
    env = {**os.environ, "PYTHONPATH": str(root / "packages")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    with np.load(tmp_path / "run01" / "tracks.npz") as tracks:
        np.testing.assert_array_equal(tracks["query_points"], [[0, 240.0, 320.0], [10, 100.5, 80.25]])
        assert tracks["target_points"].shape == (2, 11, 2)
        assert list(tracks["frames"]) == list(range(1, 12))
