"""The command line, as a farm runs it: a separate process on a saved .blend, killed for
real in the middle, resumed, split across processes sharing one folder."""

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import bpy
import numpy as np
import pytest
import scenes

FRAMES = 8


@pytest.fixture(scope="module")
def farm(addon, tmp_path_factory):
    """The shipped zip unpacked as a package, a saved moving scene, and a runner."""
    root = tmp_path_factory.mktemp("farm")
    with zipfile.ZipFile(addon) as archive:
        archive.extractall(root / "packages" / "ground_truth")
    scene = scenes.new_scene(root / "unused")
    scenes.build_moving_scene(scene, FRAMES)
    blend = root / "moving.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    env = {**os.environ, "PYTHONPATH": str(root / "packages")}

    def start(*args):
        return subprocess.Popen(
            [sys.executable, "-m", "ground_truth.cli", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(*args):
        process = start(*args)
        out, err = process.communicate(timeout=600)
        return process.returncode, out, err

    return blend, start, run


def visible_files(folder: Path):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def frame_files(folder: Path, frame: int):
    return [name for name in visible_files(folder) if f"{frame:06d}" in name]


def assert_every_file_whole(folder: Path):
    """Every file at a final name is complete: NPZs load, PNGs end with IEND, meta parses."""
    for path in folder.rglob("*"):
        if path.name.startswith(".") or not path.is_file():
            continue
        if path.suffix == ".npz":
            with np.load(path) as data:
                data["depth"]
        elif path.suffix == ".png":
            assert path.read_bytes()[-8:-4] == b"IEND", path
        elif path.suffix == ".json":
            json.loads(path.read_text())


def test_uninterrupted_run_and_its_progress(farm, tmp_path):
    blend, _, run = farm
    code, out, err = run("render", "--blend", str(blend), "--out", str(tmp_path / "a"), "--frames", "1-3")
    assert code == 0, err
    assert "3 frames exported, 0 complete already" in out
    lines = [line for line in err.splitlines() if line.startswith("[")]
    assert len(lines) == 3 and "3 of 3" in lines[-1] and "s/frame" in lines[-1]
    meta = json.loads((tmp_path / "a" / "meta.json").read_text())
    assert meta["frames_written"] == [1, 2, 3]


def test_killed_run_resumes_to_the_same_files(farm, tmp_path):
    blend, start, run = farm
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    code, _, err = run("render", "--blend", str(blend), "--out", str(whole))
    assert code == 0, err

    process = start("render", "--blend", str(blend), "--out", str(killed))
    deadline = time.monotonic() + 300
    while not (killed / "meta.json").exists():  # written once the first frame is complete: kill now
        assert process.poll() is None and time.monotonic() < deadline
        assert_every_file_whole(killed) if killed.exists() else None
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert_every_file_whole(killed)
    on_disk = set(visible_files(killed))
    done_before = [f for f in range(1, FRAMES + 1) if set(frame_files(whole, f)) <= on_disk]
    assert 1 <= len(done_before) < FRAMES
    recorded = json.loads((killed / "meta.json").read_text())["frames_written"]
    assert recorded and set(recorded) <= set(done_before)  # meta.json never lists an incomplete frame

    code, out, err = run("render", "--blend", str(blend), "--out", str(killed))
    assert code == 0, err
    assert f"{FRAMES - len(done_before)} frames exported, {len(done_before)} complete already" in out
    assert visible_files(killed) == visible_files(whole)
    assert not [p for p in killed.rglob(".*") if p.is_file()]  # no temporaries, no lock
    for name in visible_files(whole):
        if name.endswith(".npz"):
            a, b = np.load(whole / name), np.load(killed / name)
            for key in a.files:
                np.testing.assert_allclose(a[key], b[key], rtol=1e-6, atol=1e-6, err_msg=f"{name} {key}")
    assert json.loads((killed / "meta.json").read_text()) == json.loads((whole / "meta.json").read_text())


def test_a_run_killed_while_updating_meta_is_caught_up_by_the_next_one(farm, tmp_path):
    """A kill between a frame's last file and its meta.json update, with the lock held, as
    CI once caught at random: the next run breaks the dead run's lock at once and leaves
    meta.json true to the files, even though it has no frame left to render."""
    import socket

    blend, _, run = farm
    folder = tmp_path / "caught_up"
    assert run("render", "--blend", str(blend), "--out", str(folder))[0] == 0
    whole_meta = json.loads((folder / "meta.json").read_text())
    behind = {**whole_meta, "frames_written": [1, 2, 3]}
    (folder / "meta.json").write_text(json.dumps(behind))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (folder / ".meta.lock").write_text(f"{socket.gethostname().replace('.', '_')}.{int(dead.stdout)}")
    started = time.monotonic()
    code, out, err = run("render", "--blend", str(blend), "--out", str(folder))
    assert code == 0, err
    assert time.monotonic() - started < 50  # not the minute a lock of unknown origin waits
    assert f"0 frames exported, {FRAMES} complete already" in out
    assert json.loads((folder / "meta.json").read_text()) == whole_meta
    assert not [p for p in folder.rglob(".*") if p.is_file()]


def test_split_runs_in_parallel_merge_into_one_folder(farm, tmp_path):
    blend, start, _ = farm
    shared = tmp_path / "shared"
    runs = [start("render", "--blend", str(blend), "--out", str(shared), "--frames", f"{k}-{FRAMES}:2") for k in (1, 2)]
    for process in runs:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
    meta = json.loads((shared / "meta.json").read_text())
    assert meta["frames_written"] == list(range(1, FRAMES + 1))
    assert meta["flow_reaches_outside_export"] == {"forward": [FRAMES], "backward": [1]}


def test_failures_are_one_line_with_a_status(farm, tmp_path):
    blend, _, run = farm
    code, _, err = run("render", "--blend", str(blend), "--out", str(tmp_path), "--frames", "9-2")
    assert code == 2 and err.strip().count("\n") == 0 and "bad frame range '9-2'" in err
    code, _, err = run("render", "--blend", str(blend), "--out", str(tmp_path), "--modalities", "depth,sparkle")
    assert code == 2 and "unknown modality sparkle" in err
    (tmp_path / "file").write_text("x")
    code, _, err = run("render", "--blend", str(blend), "--out", str(tmp_path / "file"))
    assert code == 1 and err.strip().count("\n") == 0
    assert err.startswith("ground_truth: error: Output Folder") and "is a file" in err


def test_killed_at_random_moments_every_frame_ends_valid(farm, tmp_path):
    import random

    blend, start, run = farm
    folder = tmp_path / "random"
    rng = random.Random(7)
    for _ in range(3):
        process = start("render", "--blend", str(blend), "--out", str(folder))
        time.sleep(rng.uniform(1.0, 4.0))  # bpy start-up takes about a second; frames a fraction
        process.send_signal(signal.SIGKILL)
        process.wait()
        if folder.exists():
            assert_every_file_whole(folder)
    code, _, err = run("render", "--blend", str(blend), "--out", str(folder))
    assert code == 0, err
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["frames_written"] == list(range(1, FRAMES + 1))
    for frame in meta["frames_written"]:
        with np.load(folder / "npz" / f"{frame:06d}.npz") as arrays:
            assert arrays["frame"] == frame and np.isfinite(arrays["depth"]).any()
    assert not [p for p in folder.rglob(".*") if p.is_file()]


@pytest.fixture
def losable_folder(tmp_path):
    """A folder bind-mounted on itself, so that its write permission can be taken away
    mid-run for real (as a disk remounted read-only on errors does); needs root."""
    folder = tmp_path / "losable"
    folder.mkdir()
    if subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True).returncode:
        pytest.skip("bind mounts need root")

    def make_read_only():
        deadline = time.monotonic() + 30
        # Refused (EBUSY) while a file there is open for writing: retry between two writes.
        while subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], capture_output=True).returncode:
            assert time.monotonic() < deadline, "could not remount read-only"
            time.sleep(0.005)

    yield folder, make_read_only
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_write_permission_lost_mid_run_stops_with_the_reason_and_resume_finishes(farm, losable_folder, tmp_path):
    blend, start, run = farm
    folder, make_read_only = losable_folder
    whole = tmp_path / "whole"
    assert run("render", "--blend", str(blend), "--out", str(whole))[0] == 0
    process = start("render", "--blend", str(blend), "--out", str(folder))
    deadline = time.monotonic() + 300
    while not (folder / "meta.json").exists():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    make_read_only()
    _, err = process.communicate(timeout=600)
    assert process.returncode == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith("ground_truth: error: Writing frame ") and "Read-only file system" in last
    assert str(folder) in last and ".part" not in last  # the file the user knows, not our temporary
    assert_every_file_whole(folder)
    recorded = json.loads((folder / "meta.json").read_text())["frames_written"]
    on_disk = set(visible_files(folder))
    done = [f for f in range(1, FRAMES + 1) if set(frame_files(whole, f)) <= on_disk]
    assert 1 <= len(done) < FRAMES and set(recorded) <= set(done)

    subprocess.run(["mount", "-o", "remount,bind,rw", str(folder)], check=True)  # permission back
    code, out, err = run("render", "--blend", str(blend), "--out", str(folder))
    assert code == 0, err
    assert f"{FRAMES - len(done)} frames exported, {len(done)} complete already" in out
    assert visible_files(folder) == visible_files(whole)
    assert json.loads((folder / "meta.json").read_text()) == json.loads((whole / "meta.json").read_text())
    assert not [p for p in folder.rglob(".*") if p.is_file()]  # no temporaries, no lock
