# SPDX-License-Identifier: GPL-3.0-or-later
"""Export on F12 and Ctrl+F12 where Blender renders on Python's main thread (``blender
-b`` with ``-f`` or ``-a``, a render manager's way; here ``bpy.ops.render.render``):
everything the panel's export gives, against the same truth as the panel's export
(``motion_truth`` for occlusion and flow over k frames, ``instance_truth`` for ids and
masks), on Cycles and EEVEE."""

import importlib
import json
import os
from pathlib import Path

import bpy
import devenv
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


def own_pid(path):
    return path.name.endswith(f".{os.getpid()}.part")


@pytest.fixture
def window(monkeypatch):
    """Handlers that run as in Blender's window (in a render job's thread: here the
    render is the test's own, on the main thread, and the module is told otherwise).
    Gives the module and its main-thread timer, called as Blender's window would (it
    returns how many calls handed a frame over)."""
    handlers = importlib.import_module(f"{devenv.ADDON_MODULE}.pipeline.handlers")  # the add-on's, installed
    monkeypatch.setattr(handlers, "in_render_job", lambda: True)

    def timer():
        calls = 0
        while handlers._tick() == 0.0:
            calls += 1
        return calls

    return handlers, timer


@pytest.mark.parametrize("engine", ["CYCLES", "EEVEE"])
def test_f12_in_the_window_gives_what_the_panel_gives_once_the_job_has_ended(scene, engine, window):
    handlers, timer = window
    settings = _passing(scene, engine)
    scene.frame_set(FRAME)
    modifiers = {m.name: m.show_viewport for m in bpy.data.objects["Flag"].modifiers}
    bpy.ops.render.render()
    out = Path(settings.output_dir)
    assert not (out / "npz").exists() and handlers.finishing().endswith("frame 1 of 1")  # held for the timer
    assert timer() == 1 and handlers.finishing() is None
    assert scene.frame_current == FRAME  # the timer visited frames 4 to 8 and came back
    assert {m.name: m.show_viewport for m in bpy.data.objects["Flag"].modifiers} == modifiers
    meta = json.loads((out / "meta.json").read_text())
    assert meta["missing_modalities"] == [] and meta["frames_written"] == [FRAME]
    arrays = dict(np.load(out / "npz" / f"{FRAME:06d}.npz"))
    _check_motion(scene, arrays, [(1, "forward"), (1, "backward"), (2, "forward"), (2, "backward")])
    _check_labels(scene, arrays, meta)


def test_ctrl_f12_in_the_window_holds_what_the_scratch_folder_has_room_for(scene, window, tmp_path, capsys):
    handlers, timer = window
    settings = _passing(scene, "EEVEE")
    settings.use_tracks, settings.tracks_per_object = True, 10
    scene.frame_start, scene.frame_end = FRAME - 1, FRAME + 2
    scene.render.filepath = str(tmp_path / "anim" / "f_")
    limits = []

    def nearly_full(*_):  # as if the scratch folder had room for two frames' files only
        if not limits:
            limits.append(handlers._window.limit)
            handlers._window.limit = 2

    bpy.app.handlers.render_pre.append(nearly_full)
    try:
        bpy.ops.render.render(animation=True)
    finally:
        bpy.app.handlers.render_pre.remove(nearly_full)
    assert limits[0] > 100  # this machine's scratch folder holds far more than 2 frames' passes
    assert len(list((tmp_path / "anim").iterdir())) == 4  # the user's own frames
    assert timer() == 2
    said = capsys.readouterr().out
    assert f"frames {FRAME + 1}-{FRAME + 2} not exported" in said and "Render Animation" in said
    out = Path(settings.output_dir)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["frames_written"] == [FRAME - 1, FRAME] and meta["missing_modalities"] == []
    arrays = dict(np.load(out / "npz" / f"{FRAME:06d}.npz"))
    _check_motion(scene, arrays, [(1, "forward"), (2, "forward"), (2, "backward")])
    _check_labels(scene, arrays, meta)
    with np.load(out / "tracks.npz") as tracks:
        assert list(tracks["frames"]) == [FRAME - 1, FRAME] and len(tracks["query_points"]) == 6 * 10
    ours = [p for p in Path("/dev/shm").iterdir() if p.name.startswith(".ground_truth_scratch") and own_pid(p)]
    assert not ours  # the held scratch files went with the run (other processes may hold theirs)
