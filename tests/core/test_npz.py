# SPDX-License-Identifier: GPL-3.0-or-later
"""The NPZ writer (members compressed on worker threads) against numpy's and zipfile's
own: with zlib, the same bytes as np.savez's way of writing; with ISA-L at level 1, the
same members (names, CRCs, sizes, contents) in other deflate bytes; read back by
np.load, zipfile and Debian's unzip."""

import shutil
import subprocess
import zipfile

import numpy as np
import pytest
from ground_truth.core import deflate
from ground_truth.exporters.npz import write_npz


def reference(path, arrays, level):
    """What our NPZ was before: zipfile with ZIP64 members, each written by numpy."""
    method = zipfile.ZIP_DEFLATED if level else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", method, compresslevel=level or None) as archive:
        for key, value in arrays.items():
            with archive.open(f"{key}.npy", "w", force_zip64=True) as stream:
                np.lib.format.write_array(stream, np.asanyarray(value), allow_pickle=False)


@pytest.fixture
def arrays():
    rng = np.random.default_rng(4)
    depth = rng.uniform(1, 30, (96, 128)).astype(np.float32)
    depth[:10] = np.inf
    flow = rng.normal(size=(96, 128, 2)).astype(np.float32)
    flow[5:9] = np.nan
    return {
        "depth": depth,
        "flow_forward": flow,
        "instance_id": rng.integers(0, 2**31 - 1, (96, 128)).astype(np.int32),
        "occlusion_forward": rng.integers(0, 3, (96, 128)).astype(np.uint8),
        "strided": np.arange(600.0).reshape(20, 30)[::2, ::3],  # not contiguous
        "fortran": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
        "empty": np.zeros((0, 4), np.int32),
        "flags": np.array([True, False, True]),
        "K": np.array([[100.5, 0, 63.5], [0, 100.5, 47.5], [0, 0, 1]]),
        "frame": np.int64(-7),
        "unicode_key_é": np.float32(2.5),
    }


def assert_loads_back(ours, arrays):
    with np.load(ours) as loaded:
        assert loaded.files == [f"{key}" for key in arrays]
        for key, value in arrays.items():
            assert loaded[key].dtype == np.asarray(value).dtype and loaded[key].shape == np.shape(value), key
            np.testing.assert_array_equal(loaded[key], value, err_msg=key)
    assert zipfile.ZipFile(ours).testzip() is None
    assert not [p for p in ours.parent.iterdir() if p.name.startswith(".")]  # no temporary left


@pytest.mark.parametrize("level", [0, 1, 6, 9])
def test_with_zlib_the_file_is_the_one_zipfile_writes(tmp_path, arrays, level, monkeypatch):
    monkeypatch.setattr(deflate, "isal_zlib", None)  # the route without ISA-L's wheel
    ours, theirs = tmp_path / "ours.npz", tmp_path / "theirs.npz"
    write_npz(ours, arrays, level)
    reference(theirs, arrays, level)
    assert ours.read_bytes() == theirs.read_bytes()
    assert_loads_back(ours, arrays)


@pytest.mark.skipif(deflate.isal_zlib is None, reason="ISA-L (isal) is not installed in this Python")
def test_with_isal_level_1_holds_zipfiles_members_in_other_deflate_bytes(tmp_path, arrays):
    ours, theirs = tmp_path / "ours.npz", tmp_path / "theirs.npz"
    write_npz(ours, arrays, 1)
    reference(theirs, arrays, 1)
    assert ours.read_bytes() != theirs.read_bytes()  # ISA-L made these streams, not zlib
    with zipfile.ZipFile(ours) as a, zipfile.ZipFile(theirs) as b:
        fields = ("filename", "compress_type", "CRC", "file_size", "date_time", "external_attr", "flag_bits")
        assert [[getattr(i, f) for f in fields] for i in a.infolist()] == [
            [getattr(i, f) for f in fields] for i in b.infolist()
        ]
        for name in b.namelist():
            assert a.read(name) == b.read(name), name
    assert_loads_back(ours, arrays)


@pytest.mark.skipif(shutil.which("unzip") is None, reason="Debian's unzip is not installed")
def test_a_foreign_reader_checks_every_member(tmp_path, arrays):
    path = tmp_path / "f.npz"
    write_npz(path, arrays, 1)
    done = subprocess.run(["unzip", "-t", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout
    assert "No errors detected" in done.stdout and done.stdout.count("OK") == len(arrays)


def test_object_arrays_are_refused_and_nothing_is_left(tmp_path):
    with pytest.raises(ValueError, match="pickle"):
        write_npz(tmp_path / "o.npz", {"depth": np.zeros(3), "o": np.array([{}], dtype=object)}, 1)
    assert list(tmp_path.iterdir()) == []


def test_a_failing_write_leaves_the_old_file(tmp_path, arrays):
    path = tmp_path / "f.npz"
    write_npz(path, {"depth": arrays["depth"]}, 1)
    before = path.read_bytes()
    with pytest.raises(ValueError):
        write_npz(path, {"depth": arrays["depth"], "o": np.array([None], dtype=object)}, 1)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["f.npz"]


def test_a_frame_whose_preview_cannot_be_written_gets_no_npz(tmp_path):
    """Files are encoded side by side; the NPZ, which marks a frame complete, comes only
    after every other file is written."""
    from ground_truth.exporters.formats import write_frame
    from ground_truth.exporters.layout import OutputOptions, npz_path

    rng = np.random.default_rng(5)
    arrays = {
        "depth": rng.uniform(1, 9, (12, 16)).astype(np.float32),
        "normal": rng.normal(size=(12, 16, 3)).astype(np.float32),
        "K": np.eye(3),
        "world_to_camera": np.eye(4),
        "frame": np.int64(3),
    }
    (tmp_path / "preview").mkdir()
    (tmp_path / "preview" / "normal").write_text("a file where a folder goes")
    with pytest.raises(OSError):
        write_frame(tmp_path, 3, arrays, OutputOptions())
    assert not npz_path(tmp_path, 3).exists()
    assert (tmp_path / "preview" / "depth" / "000003.png").is_file()  # the other job finished
    (tmp_path / "preview" / "normal").unlink()
    write_frame(tmp_path, 3, arrays, OutputOptions())
    with np.load(npz_path(tmp_path, 3)) as loaded:
        np.testing.assert_array_equal(loaded["normal"], arrays["normal"])
