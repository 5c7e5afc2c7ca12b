# SPDX-License-Identifier: GPL-3.0-or-later
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
    """Every file at a final name is complete: NPZs load, PNGs end with IEND, meta parses.
    Hidden folders are not entered: a writer makes and removes its ``.partial/`` while this
    walks (``rglob`` raised on one that vanished between its listing and its scan)."""
    for parent, folders, names in os.walk(folder):
        folders[:] = [name for name in folders if not name.startswith(".")]
        for path in (Path(parent) / name for name in names if not name.startswith(".")):
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
    # Our progress and summary, nothing else: no "Read blend", no "Saved: …/raw_.exr" per
    # frame, no "Fra:" render status (4.x), no EGL_BAD_MATCH from a GPU compositor. Blender
    # 4.2 and 4.5 report a leaked block at exit (also before these lines were silenced):
    # that one line is theirs, after our summary.
    lines = out.splitlines()
    if bpy.app.version < (5, 0, 0) and lines[-1].startswith("Error: Not freed memory blocks: 1,"):
        lines.pop()
    assert lines == [f"ground_truth: 3 frames exported, 0 complete already, in {tmp_path / 'a'}"]
    lines = err.splitlines()
    assert len(lines) == 3 and all(line.startswith("[") for line in lines), err
    assert "3 of 3" in lines[-1] and "s/frame" in lines[-1]
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
    assert code == 3 and err.strip().count("\n") == 0  # refused before rendering: trying again will not help
    assert err.startswith("ground_truth: error: Output Folder") and "is a file" in err


def one_line(code, err, status):
    return code == status and err.strip().count("\n") == 0 and "Traceback" not in err


def test_frames_outside_blenders_range_are_refused_before_anything_is_made(farm, tmp_path):
    blend, _, run = farm
    out = tmp_path / "out"
    for frames in ("1-1000000000", "3000000", "1048574-1048576", "2147483648", "-1048575"):
        code, _, err = run("render", "--blend", str(blend), "--out", str(out), "--frames", frames)
        assert one_line(code, err, 2) and "outside Blender's frames (-1048574 to 1048574)" in err, (frames, err)
        assert not out.exists()


def test_bad_input_files_and_flags_get_one_line(farm, tmp_path):
    blend, _, run = farm
    (tmp_path / "noise.blend").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, np.uint8).tobytes())
    code, _, err = run("render", "--blend", str(tmp_path / "noise.blend"), "--out", str(tmp_path / "a"))
    assert one_line(code, err, 2) and "cannot open" in err and "noise.blend" in err, err
    code, _, err = run("render", "--blend", str(blend), "--out", str(tmp_path / "a"), "--formats", "")
    assert one_line(code, err, 2) and "name at least one format" in err, err
    code, _, err = run("merge", "--out", str(tmp_path / "a"))
    assert one_line(code, err, 2) and "merge needs --blend" in err, err
    assert not (tmp_path / "a").exists()


def test_a_damaged_meta_json_is_named_in_one_line(farm, tmp_path):
    from ground_truth.loader import FrameFileError, GroundTruthDataset, iter_frames

    blend, _, run = farm
    out = tmp_path / "out"
    assert run("render", "--blend", str(blend), "--out", str(out), "--frames", "1-2")[0] == 0
    meta = (out / "meta.json").read_bytes()
    (out / "meta.json").write_bytes(meta[: len(meta) // 2])
    for command in ("render", "merge"):
        code, _, err = run(command, "--blend", str(blend), "--out", str(out), "--frames", "1-2")
        assert one_line(code, err, 3) and f"{out / 'meta.json'} is damaged" in err and "delete it" in err, err
    for reader in (GroundTruthDataset, lambda folder: list(iter_frames(folder))):
        with pytest.raises(FrameFileError, match=r"meta\.json is damaged"):
            reader(out)
    (out / "meta.json").unlink()  # as the message says: the next run makes it anew
    code, out_text, err = run("render", "--blend", str(blend), "--out", str(out), "--frames", "1-2")
    assert code == 0 and "0 frames exported, 2 complete already" in out_text, err
    assert json.loads((out / "meta.json").read_text())["frames_written"] == [1, 2]


def test_damaged_frames_are_exported_again_each_with_one_line(farm, tmp_path):
    """Half an NPZ, random bytes, an empty NPZ (what a power loss leaves without an fsync)
    and a cut PNG: the rerun names each and exports those frames again."""
    from ground_truth.loader import FrameFileError, GroundTruthDataset, load_frame

    blend, _, run = farm
    out = tmp_path / "out"
    assert run("render", "--blend", str(blend), "--out", str(out), "--frames", "1-5")[0] == 0
    npz = {f: out / "npz" / f"{f:06d}.npz" for f in range(1, 6)}
    whole = npz[1].read_bytes()
    npz[1].write_bytes(whole[: len(whole) // 2])
    npz[2].write_bytes(np.random.default_rng(1).integers(0, 256, len(whole), np.uint8).tobytes())
    npz[3].write_bytes(b"")
    picture = out / "rgb" / "000004.png"
    picture.write_bytes(picture.read_bytes()[:-100])
    assert len(GroundTruthDataset(out)) == 1  # the dataset keeps to the whole frame (5)
    with pytest.raises(FrameFileError, match=r"000003\.npz"):
        load_frame(npz[3])
    code, text, err = run("render", "--blend", str(blend), "--out", str(out), "--frames", "1-5")
    assert code == 0, err
    damaged = [line for line in err.splitlines() if "was damaged, exporting it again" in line]
    assert [line.split(":")[1].split()[1] for line in damaged] == ["1", "2", "3", "4"], err
    assert "npz/000001.npz (cut short" in damaged[0] and "npz/000003.npz (empty)" in damaged[2]
    assert "rgb/000004.png (cut short (no IEND))" in damaged[3]
    assert "4 frames exported, 1 complete already" in text
    assert_every_file_whole(out)
    assert json.loads((out / "meta.json").read_text())["frames_written"] == [1, 2, 3, 4, 5]
    assert len(GroundTruthDataset(out)) == 5


def test_a_listed_frame_whose_npz_is_gone_is_named_as_missing(farm, tmp_path):
    from ground_truth.loader import FrameFileError, iter_frames

    blend, _, run = farm
    out = tmp_path / "out"
    assert run("render", "--blend", str(blend), "--out", str(out), "--frames", "1-3")[0] == 0
    (out / "npz" / "000002.npz").unlink()
    with pytest.raises(FrameFileError, match=r"npz/000002\.npz: missing"):
        list(iter_frames(out))


def test_the_3d_view_skips_a_frame_whose_npz_is_gone(farm, tmp_path):
    pytest.importorskip("rerun")
    blend, _, run = farm
    out = tmp_path / "out"
    assert run("render", "--blend", str(blend), "--out", str(out), "--frames", "1-3")[0] == 0
    (out / "npz" / "000002.npz").unlink()
    code, _, err = run("view", str(out), "--no-viewer")
    assert code == 0 and (out / "run.rrd").stat().st_size > 0, err
    assert "skipping frame 2: " in err and "npz/000002.npz: missing" in err


def npz_count(folder: Path) -> int:
    return len(list((folder / "npz").glob("*.npz"))) if (folder / "npz").is_dir() else 0


def test_killed_at_random_moments_every_frame_ends_valid(farm, tmp_path):
    import random

    blend, start, run = farm
    folder = tmp_path / "random"
    rng = random.Random(7)
    for target in (1, 3, 5):  # kill during the frame after the target-th, at a random moment of it
        process = start("render", "--blend", str(blend), "--out", str(folder))
        deadline = time.monotonic() + 300
        while npz_count(folder) < target:
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.05))  # a frame takes about a tenth of a second here
        assert process.poll() is None  # the kill lands on a live run
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert_every_file_whole(folder)
    code, _, err = run("render", "--blend", str(blend), "--out", str(folder))
    assert code == 0, err
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["frames_written"] == list(range(1, FRAMES + 1))
    for frame in meta["frames_written"]:
        with np.load(folder / "npz" / f"{frame:06d}.npz") as arrays:
            assert arrays["frame"] == frame and np.isfinite(arrays["depth"]).any()
    assert not list(folder.rglob(".*"))  # no temporaries, no lock, no scratch folder


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


def test_every_setting_has_a_flag_and_the_blend_settings_are_not_used(farm, tmp_path):
    import png

    blend, _, run = farm
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    settings = bpy.context.scene.ground_truth
    settings.use_flo = settings.use_coco = settings.use_exr = True
    settings.use_previews = False
    settings.npz_compression = 0
    settings.categories.add().pass_index = 3
    settings.categories[0].name = "sphere"
    other = tmp_path / "with_settings.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(other))

    code, _, err = run("render", "--blend", str(other), "--out", str(tmp_path / "plain"), "--frames", "2")
    assert code == 0, err
    plain = tmp_path / "plain"
    expected = {"meta.json", "rgb", "npz", "preview", "contact_sheet.png", "instances"}
    assert {p.name for p in plain.iterdir()} == expected
    with zipfile.ZipFile(plain / "npz" / "000002.npz") as archive:
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_DEFLATED}

    code, _, err = run(
        "render", "--blend", str(other), "--out", str(tmp_path / "all"), "--frames", "2",
        "--formats", "npz,flo,kitti_flow,depth_png16,coco", "--no-previews", "--npz-compression", "0",
        "--depth-png16-scale", "256", "--coco-category", "2=crate",
    )  # fmt: skip
    assert code == 0, err
    folder = tmp_path / "all"
    assert not (folder / "preview").exists() and not (folder / "exr").exists()
    arrays = np.load(folder / "npz" / "000002.npz")
    with zipfile.ZipFile(folder / "npz" / "000002.npz") as archive:
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_STORED}
    for direction in ("forward", "backward"):
        data = (folder / "flo" / direction / "000002.flo").read_bytes()
        tag, (width, height) = np.frombuffer(data[:4], "<f4")[0], np.frombuffer(data[4:12], "<i4")
        flow = np.frombuffer(data[12:], "<f4").reshape(height, width, 2)
        expected = arrays[f"flow_{direction}"]
        assert tag == 202021.25 and (height, width) == expected.shape[:2]
        np.testing.assert_array_equal(flow, np.where(np.isfinite(expected), expected, 1e10))
        _, _, rows, _ = png.Reader(filename=str(folder / "kitti_flow" / direction / "000002.png")).read()
        kitti = np.array([np.array(row, np.float64).reshape(-1, 3) for row in rows])
        valid = kitti[..., 2] == 1
        assert (valid == np.isfinite(expected).all(-1)).all()
        assert np.abs((kitti[valid, :2] - 2**15) / 64 - expected[valid]).max() <= 1 / 128 + 1e-6
    _, _, rows, _ = png.Reader(filename=str(folder / "depth_png16" / "000002.png")).read()
    depth16 = np.array([np.array(row) for row in rows], np.float64)
    finite = np.isfinite(arrays["depth"]) & (arrays["depth"] * 256 < 65535)
    assert finite.sum() > 1000
    assert np.abs(depth16[finite] / 256 - arrays["depth"][finite]).max() <= 0.5 / 256 + 1e-6
    coco = json.loads((folder / "coco.json").read_text())
    names = {c["id"]: c["name"] for c in coco["categories"]}
    assert names == {1: "Ground", 2: "crate", 3: "sphere"}  # an object's name, the flag, the .blend's table

    code, _, err = run("render", "--blend", str(other), "--out", str(tmp_path / "x"), "--formats", "npz,sparkle")
    assert code == 2 and "unknown format sparkle" in err and len(err.strip().splitlines()) == 1


def test_the_readmes_script_runs_with_the_bpy_module(farm, tmp_path):
    """The README's script snippet, as a user pastes it, with their file and folder."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    snippet = readme.split("From a Python script", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    blend, _, _ = farm
    code = snippet.replace("scene.blend", str(blend)).replace("/data/run01", str(tmp_path / "run01"))
    env = {**os.environ, "PYTHONPATH": str(blend.parent / "packages")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    meta = json.loads((tmp_path / "run01" / "meta.json").read_text())
    assert meta["frames_written"] == list(range(1, FRAMES + 1))


@pytest.fixture(scope="module")
def full_hd_blend(farm, tmp_path_factory):
    """A 1920×1080 frame whose scratch file (every pass, float32) takes 116 MB: a camera
    10 m above a floor looking straight down, a box on the floor, 1 sample."""
    blend, _, _ = farm
    scene = scenes.new_scene(tmp_path_factory.mktemp("unused") / "out")
    scene.render.resolution_x, scene.render.resolution_y = 1920, 1080
    scene.cycles.samples = 1
    scene.frame_start = scene.frame_end = 1
    scenes.add_camera(scene, (0, 0, 10), (0, 0, 0), lens=30.0)
    scenes.add_mesh(scene, "Floor", "plane", (0, 0, 0), scale=40, pass_index=1)
    scenes.add_mesh(scene, "Box", "cube", (1, 0.5, 1), pass_index=2)
    path = blend.parent / "full_hd.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    return path


def in_private_mounts(script: str, *args: str) -> list[str]:
    """A command run in a private mount namespace, after the shell ``script`` (mounts
    made there vanish with it and change nothing outside); needs root."""
    if os.geteuid() != 0:
        pytest.skip("private mount namespaces need root")
    return ["unshare", "-m", "--", "bash", "-c", f'{script} && exec "$@"', "bash", *args]


def test_a_64_mb_dev_shm_falls_back_to_the_output_disk(farm, full_hd_blend, tmp_path):
    """Docker's default /dev/shm (64 MB) cannot hold a 1080p frame's scratch file."""
    blend, _, _ = farm
    out = tmp_path / "out"
    command = in_private_mounts(
        "mount -t tmpfs -o size=64m tmpfs /dev/shm",
        sys.executable, "-m", "ground_truth.cli", "render", "--blend", str(full_hd_blend), "--out", str(out),
    )  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(blend.parent / "packages")}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    arrays = np.load(out / "npz" / "000001.npz")
    floor = arrays["object_index"] == 1
    assert arrays["depth"].shape == (1080, 1920) and floor.sum() > 1_500_000
    # The camera looks straight down at the floor 10 m below: planar depth 10 everywhere on it.
    assert np.abs(arrays["depth"][floor] - 10.0).max() < 1e-4
    assert not list(out.rglob(".*"))  # the scratch folder on the output disk is gone
    assert "No space left" not in done.stdout + done.stderr


def test_a_scratch_folder_without_room_is_refused_before_rendering(farm, full_hd_blend, tmp_path):
    blend, _, _ = farm
    scratch, out = tmp_path / "scratch", tmp_path / "out"
    scratch.mkdir()
    command = in_private_mounts(
        f"mount -t tmpfs -o size=64m tmpfs {scratch}",
        sys.executable, "-m", "ground_truth.cli", "render", "--blend", str(full_hd_blend), "--out", str(out),
    )  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(blend.parent / "packages"), "GROUND_TRUTH_SCRATCH": str(scratch)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 3
    message = done.stderr.strip()
    assert message.startswith(f"ground_truth: error: The scratch folder '{scratch}' has 67 MB free; a frame needs ")
    assert message.endswith(
        "MB): free space there or choose another (GROUND_TRUTH_SCRATCH, or Preferences > Add-ons > Ground Truth > "
        "Scratch Folder)"
    )
    needed = int(message.split("a frame needs ")[1].split(" MB")[0])
    assert 116 <= needed <= 150  # 1920 × 1080 × 4 bytes × 14 channels, plus the Render Result's 4 on 4.2
    # The render's file, the one being written and the one queued for the writer.
    held = message.split(" MB and ")[1]
    assert held.startswith("3 wait there at most (")
    assert abs(int(held.split("(")[1].split(" MB")[0]) - 3 * needed) <= 2
    assert not out.exists() or not [p for p in out.rglob("*") if p.is_file()]  # nothing written
