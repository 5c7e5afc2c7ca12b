# SPDX-License-Identifier: GPL-3.0-or-later
"""NPZ/EXR round trips, atomic writes and the loader's errors."""

import os
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from ground_truth.core.boxes import boxes_from_mask
from ground_truth.core.png import write_png
from ground_truth.exporters.atomic import (
    atomic_path,
    partial_folders_kept,
    remove_stale_folders,
    remove_stale_temporaries,
    temporary_name,
)
from ground_truth.exporters.frame_io import FrameFileError, load_frame, write_exr
from ground_truth.exporters.meta import MetaMismatchError, check_same_export, read_meta, write_meta
from ground_truth.exporters.npz import write_npz


@pytest.fixture
def arrays():
    rng = np.random.default_rng(0)
    h, w = 6, 9
    depth = rng.uniform(1, 20, (h, w)).astype(np.float32)
    depth[0, :3] = np.inf
    flow = rng.normal(size=(h, w, 2)).astype(np.float32)
    flow[0, :3] = np.nan
    mask = rng.integers(0, 2**31 - 1, (h, w)).astype(np.int32)
    out = {
        "depth": depth,
        "normal": rng.normal(size=(h, w, 3)).astype(np.float32),
        "flow_forward": flow,
        "object_index": mask,
        "emission": rng.uniform(0, 5, (h, w, 3)).astype(np.float32),
        "K": np.array([[100.5, 0, 4.0], [0, 100.5, 2.5], [0, 0, 1]]),
        "world_to_camera": rng.normal(size=(4, 4)),
        "frame": np.int64(-3),
    }
    out.update(boxes_from_mask(mask))
    return out


@pytest.mark.parametrize("suffix", ["npz", "exr"])
def test_round_trip_is_bit_identical(tmp_path, arrays, suffix):
    path = tmp_path / f"000001.{suffix}"
    (write_npz if suffix == "npz" else write_exr)(path, arrays)
    loaded = load_frame(path)
    assert sorted(loaded) == sorted(arrays)
    for key, value in arrays.items():
        assert loaded[key].dtype == value.dtype, key
        assert loaded[key].shape == np.shape(value), key
        np.testing.assert_array_equal(loaded[key], value, err_msg=key)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_exr_channels_are_named_like_blender_and_masks_are_uint(tmp_path, arrays):
    import OpenEXR

    write_exr(tmp_path / "f.exr", arrays)
    exr = OpenEXR.File(str(tmp_path / "f.exr"), separate_channels=True)
    channels = exr.channels()
    assert {
        "depth.V",
        "normal.X",
        "normal.Y",
        "normal.Z",
        "flow_forward.X",
        "flow_forward.Y",
        "object_index.V",
        "emission.R",
        "emission.G",
        "emission.B",
    } == set(channels)
    assert channels["object_index.V"].pixels.dtype == np.uint32
    assert channels["depth.V"].pixels.dtype == np.float32
    np.testing.assert_array_equal(exr.header()["K"], arrays["K"])


@pytest.mark.parametrize("suffix", ["npz", "exr"])
def test_object_labels_travel_and_the_loader_unpacks_the_whole_silhouettes(tmp_path, arrays, suffix):
    """W = 9: the packed rows carry 7 bits of padding, which the loader drops."""
    rng = np.random.default_rng(1)
    masks = rng.integers(0, 2, (3, 6, 9)).astype(bool)
    rows = {
        "instance_ids": np.array([5, 9, 70], np.int32),
        "instance_pose": rng.normal(size=(3, 4, 4)),
        "instance_box3d": rng.normal(size=(3, 8, 3)),
        "instance_visibility": np.array([0.0, 0.5, 1.0], np.float32),
        "instance_amodal_boxes": np.array([[-4, 0, 3, 5], [0, 1, 8, 2], [2, 2, 2, 2]], np.int32),
        "instance_amodal_masks": np.packbits(masks, axis=-1),
    }
    assert rows["instance_amodal_masks"].shape == (3, 6, 2)
    path = tmp_path / "npz" / f"000001.{suffix}"
    path.parent.mkdir()
    (write_npz if suffix == "npz" else write_exr)(path, {**arrays, **rows})
    loaded = load_frame(path)
    assert loaded["instance_amodal_masks"].dtype == bool
    np.testing.assert_array_equal(loaded["instance_amodal_masks"], masks)
    for key in rows.keys() - {"instance_amodal_masks"}:
        assert loaded[key].dtype == rows[key].dtype
        np.testing.assert_array_equal(loaded[key], rows[key])
    if suffix == "exr":
        return  # an EXR holds one image array at least
    # an NPZ without image arrays takes the width from its folder's meta.json
    frame = {k: arrays[k] for k in ("K", "world_to_camera", "frame")}
    write_npz(path, {**frame, "instance_amodal_masks": rows["instance_amodal_masks"]})
    write_meta(tmp_path, {"resolution": [9, 6]}, [1])
    np.testing.assert_array_equal(load_frame(path, ["instance_amodal_masks"])["instance_amodal_masks"], masks)


@pytest.mark.parametrize("suffix", ["npz", "exr"])
def test_truncated_and_foreign_files_name_the_file(tmp_path, arrays, suffix):
    path = tmp_path / f"f.{suffix}"
    (write_npz if suffix == "npz" else write_exr)(path, arrays)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(FrameFileError, match="f." + suffix):
        load_frame(path)
    path.write_bytes(b"")
    with pytest.raises(FrameFileError, match="f." + suffix):
        load_frame(path)


def test_an_exr_that_is_not_ours_is_refused(tmp_path):
    import OpenEXR

    OpenEXR.File({}, {"R": np.zeros((2, 2), np.float32)}).write(str(tmp_path / "plain.exr"))
    with pytest.raises(FrameFileError, match="not a Ground Truth EXR"):
        load_frame(tmp_path / "plain.exr")


@pytest.mark.parametrize("kept", [(), ("kept", "kept")], ids=["removed", "kept"])
def test_writers_sharing_a_folder_never_trip_on_each_others_partial_folder(tmp_path, kept):
    """Three processes of four threads each write 300 files apiece into one folder at
    once: each writer makes ``.partial/`` where it is missing and removes it once empty
    (or, with ``kept``, two of them keep it until they end, as an export run does), so
    another may remove it between one writer's ``mkdir`` and its file, or between two
    of a keeping writer's files (a farm's two nodes writing one frame's previews folder
    once failed so)."""
    workers = [start_worker("write", tmp_path, 300, *kept[n : n + 1]) for n in range(3)]
    (tmp_path / "go").touch()
    for worker in workers:
        out, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0 and out.strip() == "ok", out
    assert len(list((tmp_path / "out").iterdir())) == 3 * 4 * 300  # and no .partial left
    assert not (tmp_path / "out" / ".partial").exists()


def test_failed_write_leaves_neither_file_nor_temporary(tmp_path):
    target = tmp_path / "sub" / "x.bin"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")
    assert list((tmp_path / "sub").iterdir()) == []


def test_an_error_about_the_temporary_names_the_real_file(tmp_path):
    target = tmp_path / "npz" / "000003.npz"
    with pytest.raises(OSError) as caught, atomic_path(target) as tmp:
        open(tmp.parent / "missing" / tmp.name, "wb")  # a write that fails the way open() does
    assert caught.value.filename != str(target)  # not ours: left alone
    with pytest.raises(IsADirectoryError) as caught, atomic_path(target) as tmp:
        tmp.unlink()  # the temporary is made empty for the writer; here something else took its place
        tmp.mkdir()
        open(tmp, "wb")
    assert caught.value.filename == str(target) and str(target) in str(caught.value)
    assert not target.exists()


def test_meta_lists_frames_and_where_flow_leaves_the_export(tmp_path):
    write_meta(tmp_path, {"engine": "CYCLES"}, [5, 1, 2, 3])
    meta = read_meta(tmp_path)
    assert meta["frames_written"] == [1, 2, 3, 5]
    assert meta["schema_version"] == 1
    # 3 → 4 and 5 → 6 are not exported, nor 0 ← 1 and 4 ← 5.
    assert meta["flow_reaches_outside_export"] == {"forward": [3, 5], "backward": [1, 5]}


def test_a_folder_of_another_export_is_refused(tmp_path):
    scene = {"resolution": [160, 120], "modalities": ["depth"], "camera": "Camera"}
    check_same_export(tmp_path, scene)  # empty folder
    write_meta(tmp_path, scene, [1])
    check_same_export(tmp_path, dict(scene))
    with pytest.raises(MetaMismatchError, match=r"resolution \[160, 120\] there, \[320, 240\] here"):
        check_same_export(tmp_path, {**scene, "resolution": [320, 240]})


def read_png(data: bytes):
    """Decode 8-bit PNGs with rows filtered by None (0) or Up (2), following the PNG spec."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        assert struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])[0] == zlib.crc32(kind + body)
        chunks.append((kind, body))
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[0][1][:10])
    channels = {0: 1, 2: 3, 6: 4}[colour]
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    rows = np.frombuffer(raw, np.uint8).reshape(height, 1 + width * channels)
    assert depth == 8 and set(rows[:, 0]) <= {0, 2}
    pixels, above = np.zeros((height, width * channels), np.uint8), np.zeros(width * channels, np.int64)
    for y, row in enumerate(rows):
        pixels[y] = (row[1:] + (above if row[0] == 2 else 0)) % 256
        above = pixels[y].astype(np.int64)
    text = dict(body.decode("latin-1").split("\0") for kind, body in chunks if kind == b"tEXt")
    return pixels.reshape(height, width, channels), text


def test_png_writer_keeps_pixels_and_text(tmp_path):
    import io

    image = np.random.default_rng(1).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    stream = io.BytesIO()
    write_png(stream, image, {"depth_near_m": "1.5"})
    pixels, text = read_png(stream.getvalue())
    np.testing.assert_array_equal(pixels, image)
    assert text == {"depth_near_m": "1.5"}


def test_stale_temporaries_of_dead_processes_go_and_live_ones_stay(tmp_path):
    import os
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    mine = temporary_name(tmp_path / "npz" / "000001.npz")
    assert mine.parent == tmp_path / "npz" / ".partial"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"in flight")
    left = mine.with_name(mine.name.replace(f".{os.getpid()}.", f".{dead_pid}."))
    left.write_bytes(b"half")
    foreign = mine.parent / "000003.npz.otherhost.12.part"
    foreign.write_bytes(b"another machine, still writing")
    # Nothing that our naming did not make goes, wherever it lies.
    theirs = [mine.parent / "notes.txt", tmp_path / "npz" / f".000004.npz.{mine.name.split('.', 2)[2]}"]
    for path in theirs:
        path.write_bytes(b"a user's")
    assert remove_stale_temporaries([tmp_path / "npz", tmp_path]) == 1
    assert mine.exists() and foreign.exists() and not left.exists()
    assert all(path.exists() for path in theirs)
    (tmp_path / "empty" / ".partial").mkdir(parents=True)  # a killed run's, which kept it between files
    assert remove_stale_temporaries([tmp_path / "empty"]) == 0 and not (tmp_path / "empty" / ".partial").exists()


def test_a_run_keeps_its_partial_folders_between_files_and_leaves_none(tmp_path):
    with partial_folders_kept():
        with atomic_path(tmp_path / "a" / "1.bin") as tmp:
            tmp.write_bytes(b"1")
        with partial_folders_kept():  # another run in the process, side by side
            with atomic_path(tmp_path / "b" / "1.bin") as tmp:
                tmp.write_bytes(b"1")
        assert (tmp_path / "a" / ".partial").is_dir() and (tmp_path / "b" / ".partial").is_dir()
        (tmp_path / "a" / ".partial").rmdir()  # another process's sweep, between two files
        with atomic_path(tmp_path / "a" / "2.bin") as tmp:
            tmp.write_bytes(b"2")
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["1.bin", "2.bin"]
    assert not (tmp_path / "a" / ".partial").exists() and not (tmp_path / "b" / ".partial").exists()
    with atomic_path(tmp_path / "a" / "3.bin") as tmp:  # outside a run: removed after the file
        tmp.write_bytes(b"3")
    assert not (tmp_path / "a" / ".partial").exists()


def test_the_sweep_follows_no_link_out_of_the_folder(tmp_path):

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim = elsewhere / "000001.npz.otherhost.12.part"
    victim.write_bytes(b"outside")
    old = time.time() - 7200
    os.utime(victim, (old, old))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / ".partial").symlink_to(elsewhere)
    assert remove_stale_temporaries([tmp_path / "out"]) == 0 and victim.exists()
    (tmp_path / "out" / ".partial").unlink()
    (tmp_path / "out" / ".partial").mkdir()
    (tmp_path / "out" / ".partial" / victim.name).symlink_to(victim)
    assert remove_stale_temporaries([tmp_path / "out"]) == 0 and victim.exists()


def test_stale_scratch_folders_go_and_nothing_else(tmp_path):

    old = time.time() - 7200
    ours = tmp_path / ".ground_truth_scratch.otherhost.7.part"
    lookalikes = [tmp_path / ".cache.part", tmp_path / ".ground_truth_scratch.part", tmp_path / "x.otherhost.7.part"]
    for folder in (ours, *lookalikes):
        folder.mkdir()
        (folder / "data").write_bytes(b"x")
        os.utime(folder, (old, old))
    assert remove_stale_folders(tmp_path, ".ground_truth_scratch") == 1
    assert not ours.exists() and all(f.exists() for f in lookalikes)


LOCK_WORKER = Path(__file__).with_name("lock_worker.py")


def start_worker(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(LOCK_WORKER), *map(str, args)], stdout=subprocess.PIPE, text=True)


def holder(folder: Path) -> subprocess.Popen:
    """A process that holds the folder's lock until killed."""
    process = start_worker("hold", folder)
    assert process.stdout.readline().strip() == "held"
    return process


def test_meta_lock_waits_for_a_live_holder_and_not_for_a_killed_one(tmp_path):
    import signal
    import socket
    import time

    from ground_truth.exporters.meta import meta_lock

    lock = tmp_path / ".meta.lock"
    with meta_lock(tmp_path):
        assert lock.read_text() == f"{socket.gethostname().replace('.', '_')}.{os.getpid()}"
    assert not lock.exists()

    process = holder(tmp_path)
    try:
        with pytest.raises(TimeoutError, match=rf"held by another run \(.*\.{process.pid}\)"):
            with meta_lock(tmp_path, timeout=0.3):
                pass
        process.send_signal(signal.SIGKILL)  # killed while holding it: the lock file stays behind
        process.wait(30)
        assert lock.exists()
        started = time.monotonic()
        with meta_lock(tmp_path, timeout=30):
            assert lock.read_text().endswith(f".{os.getpid()}")
        assert time.monotonic() - started < 1  # the system let go with the process: nothing to wait for
    finally:
        process.kill()
        process.wait()
    lock.write_text("otherhost.12")  # a file another machine left, not held by anyone
    with meta_lock(tmp_path, timeout=0.5):
        assert lock.read_text().endswith(f".{os.getpid()}")
    assert not lock.exists()


def test_meta_lock_admits_one_holder_at_a_time_when_holders_die_in_it(tmp_path):
    """Six processes wait for the lock while its holder is killed, thirty times over: the
    lock a killed run leaves must never admit two live runs at once. A lock broken by
    'check the holder, then unlink' lets a second waiter delete the first one's fresh lock."""
    import signal

    intrusions = 0
    for _ in range(30):
        victim = holder(tmp_path)
        contenders = [start_worker("contend", tmp_path, 3) for _ in range(6)]
        for process in contenders:
            assert process.stdout.readline().strip() == "ready"
        victim.send_signal(signal.SIGKILL)  # dies holding the lock
        victim.wait(30)
        (tmp_path / "go").touch()  # and six runs come for it at once
        for process in contenders:
            out, _ = process.communicate(timeout=120)
            assert process.returncode == 0
            intrusions += int(out)
        (tmp_path / "go").unlink()
    assert intrusions == 0
