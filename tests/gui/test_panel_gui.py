# SPDX-License-Identifier: GPL-3.0-or-later
"""The panel in a real Blender window: Debian's Blender 3.4 under Xvfb, with the add-on
installed from its legacy zip, its buttons pressed in a user's order, screenshots at
each step (kept in test_artifacts/gui/).

Needs Debian's ``blender``, ``python3-numpy``, ``xvfb``, ``xdotool`` and ``imagemagick``
packages; installs them when missing (as root, as CI runs). tools/matrix.sh runs this
test (GT_GUI=1); the everyday run skips it.
"""

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test_artifacts" / "gui"
pytestmark = pytest.mark.skipif(not os.environ.get("GT_GUI"), reason="run by tools/matrix.sh (GT_GUI=1)")


def ensure_packages():
    tools = all(shutil.which(tool) for tool in ("blender", "xvfb-run", "xdotool", "import"))
    if tools and Path("/usr/lib/python3/dist-packages/numpy").is_dir():
        return
    if os.geteuid() != 0:
        pytest.fail("Debian's blender and xvfb are missing and this user cannot install them")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        [
            "apt-get",
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            "blender",
            "python3-numpy",
            "xvfb",
            "xauth",
            "xdotool",
            "imagemagick",  # its `import` captures the screen
        ],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def gui_run(tmp_path_factory):
    ensure_packages()
    spec = importlib.util.spec_from_file_location("gt_build", ROOT / "tools" / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    legacy_zip = build.build_legacy(build.build(tmp_path_factory.mktemp("dist")))
    work = tmp_path_factory.mktemp("gui")
    home = work / "blender_home"  # a clean user folder: preferences, installed add-ons
    env = {
        **os.environ,
        "HOME": str(home),
        "BLENDER_USER_CONFIG": str(home / "config"),
        "BLENDER_USER_SCRIPTS": str(home / "scripts"),
    }
    command = [
        "xvfb-run",
        "-a",
        "-s",
        "-screen 0 1280x800x24",
        "blender",
        "--factory-startup",
        "--python",
        str(Path(__file__).with_name("driver.py")),
        "--",
        str(legacy_zip),
        str(work),
    ]
    # Blender 3.4 under Xvfb's software OpenGL now and then crashes in its own drawing
    # (seen in space_statusbar.py): up to three attempts; every assertion below holds
    # for the attempt that finishes, and the attempts are recorded next to the pictures.
    result_file = work / "result.json"
    attempts, output = [], ""
    for _ in range(3):
        for folder in ("out", "screenshots", "blender_home", "f12", "ctrl_f12", "f12_eevee", "anim"):
            shutil.rmtree(work / folder, ignore_errors=True)
        for name in ("result.json", "truth.npz"):
            (work / name).unlink(missing_ok=True)
        # A session of its own: a stuck attempt is ended with Xvfb and Blender both.
        blender = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        try:
            stdout, stderr = blender.communicate(timeout=180)
            attempts.append(blender.returncode)
            output = stdout[-3000:] + stderr[-3000:]
            # What the add-on said in Blender's console, for the assertions' messages
            said = [line for line in stdout.splitlines() if line.startswith("Ground Truth:")]
            (work / "console.txt").write_text("\n".join(said) + "\n")
        except subprocess.TimeoutExpired:
            os.killpg(blender.pid, signal.SIGKILL)
            blender.communicate()
            attempts.append("timeout")
            continue
        if result_file.exists():
            break
    assert result_file.exists(), f"Blender ended without a result in every attempt {attempts}:\n{output}"
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    if (work / "screenshots").is_dir():
        shutil.copytree(work / "screenshots", ARTIFACTS)
        (ARTIFACTS / "attempts.txt").write_text(f"Blender exit statuses of the attempts: {attempts}\n")
    return json.loads(result_file.read_text()), work


def test_no_errors_in_the_window(gui_run):
    result, _ = gui_run
    assert result["errors"] == []


def test_the_tab_is_there_and_draws_the_panel(gui_run):
    result, _ = gui_run
    assert result["tab_selected"] is True  # our panel drew in the sidebar once its tab was chosen


def test_no_button_is_greyed_out_without_a_reason(gui_run):
    result, _ = gui_run
    for states in (result["buttons_before"], result["buttons_after"]):
        for idname, state in states.items():
            assert state == "enabled" or ("poll()" in state and "context is incorrect" not in state), (idname, state)


def test_open_3d_view_says_how_to_install_rerun(gui_run):
    result, _ = gui_run
    for states in (result["buttons_before"], result["buttons_after"]):
        assert "-m pip install rerun-sdk" in states["wm.gt_open_3d_view"]


def test_every_button_works_and_the_files_appear(gui_run):
    result, _ = gui_run
    for key in ("setup_passes", "wire", "render_frame"):
        assert result[key] == ["FINISHED"], key
    assert result["render_animation"] == ["RUNNING_MODAL"]
    assert result["progress_seen"] is True
    files = set(result["files"])
    for frame in (1, 2, 3, 4):
        assert {f"npz/{frame:06d}.npz", f"exr/{frame:06d}.exr", f"rgb/{frame:06d}.png"} <= files
        assert f"preview/depth/{frame:06d}.png" in files
    assert {"meta.json", "contact_sheet.png"} <= files


def test_screenshots_of_every_step(gui_run):
    result, work = gui_run
    assert result["steps"] == ["01_panel", "02_passes", "03_wired", "04_frame", "05_progress", "06_done", "07_f12"]
    for step in result["steps"]:
        data = (work / "screenshots" / f"{step}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, step


def test_the_arrays_are_right(gui_run):
    """The legacy add-on in Blender 3.4 gives the same conventions: a cube in front of
    the default camera, depth finite on it, flow defined there, K a pinhole."""
    sys.path.insert(0, str(ROOT / "tests"))
    import conftest  # noqa: F401  (the add-on's source as ground_truth)
    from ground_truth.loader import load_frame

    _, work = gui_run
    arrays = load_frame(work / "out" / "npz" / "000002.npz")
    on_cube = arrays["object_index"] == 1
    assert on_cube.sum() > 500
    assert np.isfinite(arrays["depth"][on_cube]).all() and np.isinf(arrays["depth"][~on_cube]).all()
    assert np.isfinite(arrays["flow_forward"][on_cube]).all()
    assert arrays["K"][0, 0] > 0 and arrays["K"][2, 2] == 1
    from_exr = load_frame(work / "out" / "exr" / "000002.exr")  # read by OpenEXR, out here
    assert sorted(from_exr) == sorted(arrays)
    for key, value in arrays.items():
        np.testing.assert_array_equal(from_exr[key], value, err_msg=key)


def test_undo_and_redo_after_our_operators_give_each_earlier_scene_back(gui_run):
    result, _ = gui_run
    undo = result["undo"]
    states = undo["states"]  # the user's scene, then after Remove, Set Up Passes, Wire, Assign
    assert undo["operators"][:4] == [["FINISHED"]] * 4
    assert states[0]["passes"]["use_pass_vector"] is False and states[0]["motion_blur"] is True
    assert (
        states[2]["passes"]["use_pass_vector"] is True and states[2]["motion_blur"] is True
    )  # off only while exporting
    assert states[1]["nodes"] != states[3]["nodes"]  # Remove and Wire changed the compositor
    assert states[3]["pass_indices"]["UserCone"] == 0 and states[4]["pass_indices"]["UserCone"] > 0
    assert len({json.dumps(state, sort_keys=True) for state in states}) == 5  # every operator changed something
    assert undo["back"] == states[-2::-1]  # Ctrl+Z, step by step, to the user's own scene
    assert undo["forward"] == states[1:]  # Ctrl+Shift+Z all the way again
    assert undo["operators"][4] == ["FINISHED"] and undo["npz_age_s"] < 30  # still renders after undo
    assert undo["after_render"] == states[-1]  # and leaves the scene as it found it


def _check_window_frame(work, folder, steps, missing=()):
    """Frame 6 of an F12 / Ctrl+F12 export in the window against the driver's truth:
    occlusion, flow over 2 frames, instance ids one to one and the masks."""
    truth = np.load(work / "truth.npz")
    result = json.loads((work / "result.json").read_text())
    out = work / folder
    meta = json.loads((out / "meta.json").read_text())
    assert meta["missing_modalities"] == list(missing), meta["missing_modalities"]
    arrays = dict(np.load(out / "npz" / "000006.npz"))
    rows, cols = np.nonzero(truth["away"])
    for k, direction in steps:
        suffix = "" if k == 1 else f"_k{k}"
        codes = truth[f"codes_{direction}_{k}"]
        occlusion = arrays[f"occlusion_{direction}{suffix}"][rows, cols]
        assert np.mean(occlusion == codes) >= 0.995, (folder, k, direction, np.mean(occlusion == codes))
        if k > 1:
            flow = arrays[f"flow_{direction}{suffix}"][rows, cols]
            seen = codes == 0
            error = np.linalg.norm(flow - (truth[f"pixels_{direction}_{k}"] - np.stack([cols, rows], axis=1)), axis=-1)
            assert seen.sum() > 2000 and np.median(error[seen]) <= 0.01, (folder, k, direction)
    inside = truth["interior"]
    ids = arrays["instance_id"]
    pairs = {(int(truth["key"][r, c]), int(ids[r, c])) for r, c in zip(*np.nonzero(inside), strict=True)}
    assert len(pairs) == len({k for k, _ in pairs}) == len({i for _, i in pairs}) >= 6, pairs
    objects = result["truth_objects"]
    assert all(meta["instances"][str(i)]["object"] == objects[key] for key, i in pairs)
    for name in ("object_index", "material_index"):
        np.testing.assert_array_equal(arrays[name][inside], truth[name][inside], err_msg=f"{folder} {name}")
    return meta


def test_f12_in_the_window_writes_everything_once_the_render_job_has_ended(gui_run):
    """F12 pressed over the viewport: the handlers ran in the render job's thread, the
    frame was held until the job ended (the panel said so), then written whole."""
    result, work = gui_run
    f12 = result["f12"]
    assert f12["main_thread"] == [False]  # Blender's window: a render job's thread
    assert any("frame 1 of 1" in said for said in f12["held_then_written"]), f12["held_then_written"]
    meta = _check_window_frame(work, "f12", [(1, "forward"), (1, "backward"), (2, "forward"), (2, "backward")])
    assert meta["frames_written"] == [6]


def test_ctrl_f12_in_the_window_writes_every_frame_and_the_tracks(gui_run):
    result, work = gui_run
    ctrl_f12 = result["ctrl_f12"]
    said = (work / "console.txt").read_text()  # the add-on's console lines, should this fail
    assert ctrl_f12["main_thread"] == [False, False, False] and ctrl_f12["frame_after"] == 6, (ctrl_f12, said)
    assert len(list((work / "anim").iterdir())) == 3  # the user's own frames
    written = json.loads((work / "ctrl_f12" / "meta.json").read_text())["frames_written"]
    assert written == [5, 6, 7], (written, ctrl_f12["held_then_written"], said)
    _check_window_frame(work, "ctrl_f12", [(1, "forward"), (2, "backward")])
    with np.load(work / "ctrl_f12" / "tracks.npz") as tracks:
        assert list(tracks["frames"]) == [5, 6, 7] and len(tracks["query_points"]) == 6 * 10


def test_f12_in_the_window_on_eevee_before_4_2_gives_ids_and_masks_but_no_flow(gui_run):
    """3.4's EEVEE renders no Vector pass: flow and occlusion are listed missing (the
    panel greys them), and the instance ids and masks from the rays are right."""
    result, work = gui_run
    assert result["f12_eevee"]["main_thread"] == [False]
    meta = _check_window_frame(work, "f12_eevee", [], missing=("flow", "occlusion"))
    assert meta["frames_written"] == [6] and meta["engine"] == "BLENDER_EEVEE"
