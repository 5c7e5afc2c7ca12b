# SPDX-License-Identifier: GPL-3.0-or-later
"""Rigged and shape-keyed meshes of quads and n-gons, whose triangulation changes as
they bend: occlusion, flow over k frames and tracks against Blender's own geometry
(``motion_truth``), and the Vector pass at t+1."""

import bpy
import motion_truth
import numpy as np
import pytest
import scenes

FRAME, FRAMES = 6, list(range(1, 12))
STEPS = [(k, direction) for k in (1, 2, 5) for direction in ("forward", "backward")]
RIGGED = ("Column", "Sheet", "Limb")


def _triangles(name):
    """The loop triangles' vertex triplets of the evaluated mesh at the current frame."""
    evaluated = bpy.data.objects[name].evaluated_get(bpy.context.evaluated_depsgraph_get())
    mesh = evaluated.to_mesh()
    mesh.calc_loop_triangles()
    triplets = np.array([tuple(t.vertices) for t in mesh.loop_triangles])
    evaluated.to_mesh_clear()
    return triplets


@pytest.fixture(scope="module")
def rigged(addon, tmp_path_factory):
    scene = scenes.new_scene(tmp_path_factory.mktemp("rigged") / "out")
    scene.cycles.samples = 1
    motion_truth.build_rigged_scene(scene)
    settings = scene.ground_truth
    settings.flow_offsets = "2, 5"
    settings.use_tracks, settings.tracks_per_object, settings.tracks_seed = True, 40, 3
    settings.frame_start, settings.frame_end = FRAMES[0], FRAMES[-1]
    assert bpy.ops.render.gt_render_animation() == {"FINISHED"}
    out = bpy.path.abspath(settings.output_dir)
    arrays = dict(np.load(f"{out}/npz/{FRAME:06d}.npz"))
    changed = {}
    for frame in (1, 11):
        scene.frame_set(frame)
        for name in RIGGED:
            changed.setdefault(name, []).append(_triangles(name))
    hits, away, truth = motion_truth.truth_around(scene, FRAME, STEPS)
    flipped = {name: int((np.sort(a, 1) != np.sort(b, 1)).any(axis=1).sum()) for name, (a, b) in changed.items()}
    return scene, out, arrays, hits, away, truth, flipped


def test_the_meshes_are_triangulated_otherwise_as_they_bend(rigged):
    """Without this the tests below would not test what they are for."""
    *_, flipped = rigged
    assert flipped["Sheet"] >= 100 and flipped["Column"] >= 2, flipped


@pytest.mark.parametrize(("k", "direction"), STEPS)
def test_occlusion_agrees_with_ray_casts(rigged, k, direction):
    _, _, arrays, hits, away, truth, _ = rigged
    rows, cols = np.nonzero(away)
    codes = arrays[motion_truth.array_key("occlusion", direction, k)][rows, cols]
    _, _, expected = truth[k, direction]
    names = hits["object"][rows, cols]
    assert np.mean(codes == expected) >= 0.995, np.mean(codes == expected)
    for name in RIGGED:
        on = names == name
        assert on.sum() > 150, name
        agreement = np.mean(codes[on] == expected[on])
        assert agreement >= 0.995, (name, agreement, np.unique(codes[on], return_counts=True))
    assert (codes != 255).all()  # every point is followed: the vertices exist at every frame


@pytest.mark.parametrize(("k", "direction"), [s for s in STEPS if s[0] > 1])
def test_flow_over_k_frames_follows_the_evaluated_mesh(rigged, k, direction):
    _, _, arrays, hits, away, truth, _ = rigged
    rows, cols = np.nonzero(away)
    flow = arrays[motion_truth.array_key("flow", direction, k)][rows, cols]
    pixels, _, codes = truth[k, direction]
    expected = pixels - np.stack([cols, rows], axis=1)
    names = hits["object"][rows, cols]
    error = np.linalg.norm(flow - expected, axis=-1)
    for name in RIGGED:
        on = names == name
        assert np.isfinite(flow[on]).all(), name
        seen = on & (codes == 0)
        assert seen.sum() > 100 and np.linalg.norm(expected[seen], axis=-1).mean() > 1.0, name  # it moves
        assert np.median(error[seen]) <= 0.01, (name, np.median(error[seen]))


def test_flow_at_t_plus_1_meets_the_vector_pass(rigged):
    """Blender's Vector pass and the evaluated mesh followed one frame agree on the rigged
    meshes, away from their outlines."""
    _, _, arrays, hits, away, truth, _ = rigged
    rows, cols = np.nonzero(away)
    pixels, _, codes = truth[1, "forward"]
    expected = pixels - np.stack([cols, rows], axis=1)
    names = hits["object"][rows, cols]
    error = np.linalg.norm(arrays["flow_forward"][rows, cols] - expected, axis=-1)
    for name in RIGGED:
        on = (names == name) & (codes == 0)
        assert on.sum() > 50, name
        assert np.median(error[on]) <= 0.01, (name, np.median(error[on]))


def test_no_track_on_them_is_lost(rigged):
    from ground_truth.loader import load_tracks

    scene, out, *_ = rigged
    tracks = load_tracks(out)
    on = np.isin(tracks["track_object_index"], [2, 3, 4])
    assert on.sum() == 3 * 40
    assert np.isfinite(tracks["target_points"][on]).all() and np.isfinite(tracks["track_depth"][on]).all()
    # Against Blender's geometry, a sample of the queries over every frame.
    chosen = np.flatnonzero(on)[::6]
    subset = {name: values[chosen] if name != "frames" else values for name, values in tracks.items()}
    pixels, codes, _ = motion_truth.track_truth(scene, subset, FRAME)
    seen = codes == 0
    error = np.linalg.norm(subset["target_points"] - pixels, axis=-1)
    assert seen.sum() > 100
    assert np.median(error[seen]) <= 0.01
    assert np.mean(subset["occluded"] == (codes != 0)) >= 0.99
