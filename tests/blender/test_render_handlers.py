# SPDX-License-Identifier: GPL-3.0-or-later
"""Export on F12 and Ctrl+F12 where Blender renders on Python's main thread (``blender
-b`` with ``-f`` or ``-a``, a render manager's way; here ``bpy.ops.render.render``):
everything the panel's export gives, against the same truth as the panel's export
(``motion_truth`` for occlusion and flow over k frames, ``instance_truth`` for ids and
masks), on Cycles and EEVEE."""

import json
from pathlib import Path

import bpy
import instance_truth
import motion_truth
import numpy as np
import pytest

FRAME = 6


def _passing(scene, engine):
    motion_truth.build_passing_scene(scene)
    if engine == "EEVEE":
        instance_truth.eevee(scene)
    settings = scene.ground_truth
    settings.auto_export, settings.flow_offsets = True, "2"
    return settings


def _check_motion(scene, arrays, steps):
    """Occlusion and flow over k frames at FRAME against Blender's geometry."""
    _, away, truth = motion_truth.truth_around(scene, FRAME, steps)
    rows, cols = np.nonzero(away)
    for (k, direction), (pixels, _, codes) in truth.items():
        occlusion = arrays[motion_truth.array_key("occlusion", direction, k)][rows, cols]
        assert np.mean(occlusion == codes) >= 0.995, (k, direction, np.mean(occlusion == codes))
        if k > 1:
            flow = arrays[motion_truth.array_key("flow", direction, k)][rows, cols]
            seen = codes == 0
            error = np.linalg.norm(flow - (pixels - np.stack([cols, rows], axis=1)), axis=-1)
            assert seen.sum() > 2000 and np.median(error[seen]) <= 0.01, (k, direction)


def _check_labels(scene, arrays, meta):
    """Instance ids one to one with the true instances, and the masks, at interior pixels."""
    truth = instance_truth.labels(scene)
    inside = truth["interior"]
    pairs = {(truth["key"][r, c], int(arrays["instance_id"][r, c])) for r, c in zip(*np.nonzero(inside), strict=True)}
    keys, ids = {k for k, _ in pairs}, {i for _, i in pairs}
    assert len(pairs) == len(keys) == len(ids) >= 6, pairs
    assert all(meta["instances"][str(i)]["object"] == key[0] for key, i in pairs)
    for name in ("object_index", "material_index"):
        np.testing.assert_array_equal(arrays[name][inside], truth[name][inside], err_msg=name)


@pytest.mark.parametrize("engine", ["CYCLES", "EEVEE"])
def test_f12_gives_what_the_panel_gives(scene, engine, tmp_path):
    _passing(scene, engine)
    scene.render.filepath = str(tmp_path / "still.png")
    scene.frame_set(FRAME)
    bpy.ops.render.render(write_still=True)
    out = Path(scene.ground_truth.output_dir)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["missing_modalities"] == [] and meta["flow_offsets"] == [2]
    arrays = dict(np.load(out / "npz" / f"{FRAME:06d}.npz"))
    assert {"occlusion_forward", "occlusion_backward_k2", "flow_forward_k2", "instance_id"} <= set(arrays)
    _check_motion(scene, arrays, [(1, "forward"), (1, "backward"), (2, "forward"), (2, "backward")])
    _check_labels(scene, arrays, meta)
    assert (tmp_path / "still.png").exists()  # the user's own render still written


def test_ctrl_f12_gives_every_frame_and_the_tracks(scene, tmp_path):
    settings = _passing(scene, "EEVEE")
    settings.use_tracks, settings.tracks_per_object = True, 10
    scene.frame_start, scene.frame_end = FRAME - 1, FRAME + 1
    scene.render.filepath = str(tmp_path / "anim" / "f_")
    bpy.ops.render.render(animation=True)
    assert len(list((tmp_path / "anim").iterdir())) == 3  # the user's own frames
    out = Path(settings.output_dir)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["frames_written"] == [5, 6, 7] and meta["missing_modalities"] == []
    arrays = dict(np.load(out / "npz" / f"{FRAME:06d}.npz"))
    _check_motion(scene, arrays, [(1, "forward"), (2, "backward")])
    _check_labels(scene, arrays, meta)
    with np.load(out / "tracks.npz") as tracks:
        assert list(tracks["frames"]) == [5, 6, 7] and len(tracks["query_points"]) == 6 * 10


def test_the_panel_says_what_f12_in_the_window_leaves_out(scene):
    from ground_truth.pipeline.handlers import f12_leaves_out

    settings = _passing(scene, "CYCLES")
    settings.use_tracks = True
    assert f12_leaves_out(scene) == ["Occlusion", "Instance IDs", "Flow Offsets", "Point Tracks"]
    instance_truth.eevee(scene)
    left_out = f12_leaves_out(scene)
    assert {"Object Index", "Material Index", "Boxes"} <= set(left_out), left_out
    settings.use_tracks, settings.flow_offsets = False, ""
    settings.use_occlusion = settings.use_instance_id = False
    assert "Occlusion" not in f12_leaves_out(scene) and "Flow Offsets" not in f12_leaves_out(scene)
