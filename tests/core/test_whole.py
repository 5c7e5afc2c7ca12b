# SPDX-License-Identifier: GPL-3.0-or-later
"""A file that exists is not a frame: each format's cheap end check against files cut at
every length, of random bytes and empty, written by our writers and by foreign ones
(numpy, Pillow, OpenEXR); and the one rule of a complete frame, shared by the run's
resume, the farm's and the dataset."""

import io
import json

import numpy as np
import pytest
from ground_truth.core.encoders import write_flo
from ground_truth.core.png import write_png
from ground_truth.exporters.formats import complete_frames, damaged_files, is_complete
from ground_truth.exporters.frame_io import write_exr
from ground_truth.exporters.layout import OutputOptions, npz_path, rgb_path
from ground_truth.exporters.npz import write_npz
from ground_truth.exporters.whole import is_whole, problem
from ground_truth.farm import plan
from ground_truth.loader import GroundTruthDataset
from synthetic_run import FRAMES, write_view

RNG = np.random.default_rng(5)
ARRAYS = {
    "depth": RNG.random((9, 13), np.float32),
    "flow_forward": RNG.random((9, 13, 2), np.float32),
    "K": np.eye(3),
    "world_to_camera": np.eye(4),
    "frame": np.int64(3),
}


def _ours(tmp_path):
    """One file of each format we write, by our own writers."""
    files = {}
    files["npz"] = tmp_path / "a.npz"
    write_npz(files["npz"], ARRAYS)
    files["exr"] = tmp_path / "a.exr"
    write_exr(files["exr"], ARRAYS)
    files["png"] = tmp_path / "a.png"
    with open(files["png"], "wb") as stream:
        write_png(stream, RNG.integers(0, 256, (9, 13, 3), dtype=np.uint8), {"note": "x"})
    files["flo"] = tmp_path / "a.flo"
    with open(files["flo"], "wb") as stream:
        write_flo(stream, ARRAYS["flow_forward"])
    files["json"] = tmp_path / "a.json"
    files["json"].write_text(json.dumps({"1": {"object": "Cube"}}))
    return files


def _foreign(tmp_path):
    """The same formats from other writers: numpy's savez (stored and compressed),
    Pillow's PNG, OpenEXR's scanline EXR (ZIP and uncompressed)."""
    from PIL import Image

    files = {}
    np.savez(tmp_path / "b.npz", **ARRAYS)
    np.savez_compressed(tmp_path / "c.npz", **ARRAYS)
    files["npz"], files["npz_compressed"] = tmp_path / "b.npz", tmp_path / "c.npz"
    Image.fromarray(RNG.integers(0, 256, (9, 13, 3), dtype=np.uint8)).save(tmp_path / "b.png")
    files["png"] = tmp_path / "b.png"
    exr = pytest.importorskip("OpenEXR")
    for name, compression in (("zip", exr.ZIP_COMPRESSION), ("none", exr.NO_COMPRESSION)):
        header = {"compression": compression, "type": exr.scanlineimage}
        path = tmp_path / f"b_{name}.exr"
        exr.File(header, {"Y": ARRAYS["depth"]}).write(str(path))
        files[f"exr_{name}"] = path
    return files


@pytest.mark.parametrize("writer", [_ours, _foreign])
def test_whole_files_pass_and_cut_ones_never_do(tmp_path, writer):
    for kind, path in writer(tmp_path).items():
        data = path.read_bytes()
        assert problem(path) is None, kind
        cut = path.with_name(f"cut{path.suffix}")
        lengths = {0, 1, 8, 30, *range(len(data) // 2, len(data), max(1, len(data) // 40)), len(data) - 1}
        for length in sorted(n for n in lengths if n < len(data)):
            cut.write_bytes(data[:length])
            assert not is_whole(cut), (kind, length, len(data))
        cut.write_bytes(RNG.integers(0, 256, len(data), dtype=np.uint8).tobytes())
        assert not is_whole(cut), kind
    assert problem(tmp_path / "nothing.npz") == "missing"


def test_a_frame_with_a_damaged_file_is_complete_for_no_one(tmp_path):
    """Half an NPZ, random bytes for another, an empty one, a cut PNG: the run's resume
    check, the farm's and the dataset agree that those frames are not there."""
    write_view(tmp_path)
    options = OutputOptions(previews=False)
    keys = list(np.load(npz_path(tmp_path, 1)))
    meta = json.loads((tmp_path / "meta.json").read_text())
    (tmp_path / "meta.json").write_text(json.dumps({**meta, "arrays": keys}))
    assert complete_frames(tmp_path, keys, options) == FRAMES
    first = npz_path(tmp_path, 1).read_bytes()
    npz_path(tmp_path, 1).write_bytes(first[: len(first) // 2])
    npz_path(tmp_path, 2).write_bytes(b"")
    picture = rgb_path(tmp_path, 3).read_bytes()
    rgb_path(tmp_path, 3).write_bytes(picture[:-20])
    assert complete_frames(tmp_path, keys, options) == []
    assert not any(is_complete(tmp_path, f, keys, options) for f in FRAMES)
    assert [why for _, why in damaged_files(tmp_path, 1, keys, options)] == ["cut short (no end of central directory)"]
    assert [why for _, why in damaged_files(tmp_path, 2, keys, options)] == ["empty"]
    assert [p.name for p, _ in damaged_files(tmp_path, 3, keys, options)] == ["000003.png"]
    (tmp_path / "_farm" / "chunks").mkdir(parents=True)
    (tmp_path / "_farm" / "chunks" / "a.json").write_text(json.dumps({"arrays": keys}))
    assert plan.complete_already(str(tmp_path), FRAMES, options) == []
    assert meta["frames_written"] == FRAMES  # listed before the damage: the dataset checks anyway
    with pytest.raises(IndexError):
        GroundTruthDataset(tmp_path)[0]
    npz_path(tmp_path, 2).write_bytes(first)  # frame 1's NPZ in frame 2's place: whole again
    assert len(GroundTruthDataset(tmp_path)) == 1


def test_a_png_with_trailing_bytes_after_iend_is_not_whole(tmp_path):
    stream = io.BytesIO()
    write_png(stream, np.zeros((2, 2, 3), np.uint8))
    (tmp_path / "x.png").write_bytes(stream.getvalue() + b"junk")
    assert not is_whole(tmp_path / "x.png")
