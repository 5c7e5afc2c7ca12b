# SPDX-License-Identifier: GPL-3.0-or-later
"""The numpy EXR reader against files written by OpenEXR itself."""

import numpy as np
import OpenEXR
import pytest
from ground_truth.exporters.exr_scanline import TruncatedExrError, UnsupportedExrError, read_uncompressed
from ground_truth.exporters.raw_exr import read_raw_passes


def write(path, channels, compression=OpenEXR.NO_COMPRESSION):
    header = {"compression": compression, "type": OpenEXR.scanlineimage}
    OpenEXR.File(header, dict(channels)).write(str(path))  # it replaces the arrays it is given


def test_channels_and_rows_match_openexr(tmp_path):
    rng = np.random.default_rng(0)
    channels = {
        "ViewLayer.Depth.Z": rng.uniform(0, 1e10, (37, 53)).astype(np.float32),
        "normal.X": rng.normal(size=(37, 53)).astype(np.float32),
        "half.R": rng.normal(size=(37, 53)).astype(np.float16),
        "Object Index.V": rng.integers(0, 2**32 - 1, (37, 53), dtype=np.uint32),
    }
    write(tmp_path / "a.exr", channels)
    ours = read_uncompressed(tmp_path / "a.exr")
    theirs = {
        name: c.pixels for name, c in OpenEXR.File(str(tmp_path / "a.exr"), separate_channels=True).channels().items()
    }
    assert sorted(ours) == sorted(theirs) == sorted(channels)
    for name, value in channels.items():
        assert ours[name].dtype == value.dtype
        np.testing.assert_array_equal(ours[name], value)
        np.testing.assert_array_equal(ours[name], theirs[name])


@pytest.mark.parametrize("compression", [OpenEXR.ZIP_COMPRESSION, OpenEXR.PIZ_COMPRESSION])
def test_compressed_files_are_left_to_openexr(tmp_path, compression):
    write(tmp_path / "z.exr", {"R": np.zeros((4, 4), np.float32)}, compression)
    with pytest.raises(UnsupportedExrError, match="compressed"):
        read_uncompressed(tmp_path / "z.exr")


def test_foreign_and_short_files(tmp_path):
    (tmp_path / "x.exr").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(20))
    with pytest.raises(UnsupportedExrError, match="not an EXR"):
        read_uncompressed(tmp_path / "x.exr")
    (tmp_path / "y.exr").write_bytes(b"v/1")
    with pytest.raises(TruncatedExrError, match="too short"):
        read_uncompressed(tmp_path / "y.exr")


@pytest.mark.parametrize("line_order", ["INCREASING_Y", "DECREASING_Y"])
def test_read_in_bands_of_any_size(tmp_path, line_order):
    rng = np.random.default_rng(1)
    channels = {
        "a.X": rng.normal(size=(29, 11)).astype(np.float32),
        "a.Y": rng.normal(size=(29, 11)).astype(np.float32),
    }
    header = {
        "compression": OpenEXR.NO_COMPRESSION,
        "type": OpenEXR.scanlineimage,
        "lineOrder": getattr(OpenEXR, line_order),
    }
    OpenEXR.File(header, {k: v.copy() for k, v in channels.items()}).write(str(tmp_path / "b.exr"))
    for band_bytes in (1, 3 * (8 + 2 * 11 * 4), 1 << 20):  # one row, three rows (29 is no multiple), all
        ours = read_uncompressed(tmp_path / "b.exr", band_bytes=band_bytes)
        for name, value in channels.items():
            np.testing.assert_array_equal(ours[name], value)


def test_truncated_file(tmp_path):
    write(tmp_path / "t.exr", {"R": np.ones((40, 30), np.float32)})
    data = (tmp_path / "t.exr").read_bytes()
    (tmp_path / "t.exr").write_bytes(data[: len(data) - 100])
    with pytest.raises(TruncatedExrError, match=f"{len(data) - 100} of at least {len(data)} bytes"):
        read_uncompressed(tmp_path / "t.exr")
    (tmp_path / "t.exr").write_bytes(data[:40])
    with pytest.raises(TruncatedExrError, match="header is cut short"):
        read_uncompressed(tmp_path / "t.exr")
    (tmp_path / "t.exr").write_bytes(b"")
    with pytest.raises(TruncatedExrError, match="0 bytes"):
        read_uncompressed(tmp_path / "t.exr")


@pytest.mark.parametrize("height", [1, 16, 37])
def test_written_zip_files_read_back_exactly_in_openexr(tmp_path, height):
    from ground_truth.exporters.exr_scanline import write_zip

    rng = np.random.default_rng(height)
    flow = rng.normal(size=(height, 23, 2)).astype(np.float32)  # noise: blocks too random to shrink
    channels = {
        "depth.V": np.full((height, 23), 7.25, np.float32),  # flat: blocks that shrink
        "flow.X": flow[..., 0],  # a strided view
        "flow.Y": flow[..., 1],
        "mask.V": rng.integers(0, 2**32 - 1, (height, 23), dtype=np.uint32),
        "half.R": rng.normal(size=(height, 23)).astype(np.float16),
    }
    K = np.array([[500.0, 0, 11.5], [0, 500.0, 8.25], [0, 0, 1]])
    pose = np.arange(16, dtype=np.float64).reshape(4, 4) / 7
    extra = {"K": K, "world_to_camera": pose, "frame": -3, "note": "ünïcode ok"}
    with open(tmp_path / "w.exr", "wb") as stream:
        write_zip(stream, channels, extra)
    exr = OpenEXR.File(str(tmp_path / "w.exr"), separate_channels=True)
    header = exr.header()
    assert header["compression"] == OpenEXR.ZIP_COMPRESSION
    np.testing.assert_array_equal(np.asarray(header["K"]), K)
    np.testing.assert_array_equal(np.asarray(header["world_to_camera"]), pose)
    assert header["frame"] == -3 and header["note"] == "ünïcode ok"
    theirs = {name: c.pixels for name, c in exr.channels().items()}
    assert sorted(theirs) == sorted(channels)
    for name, value in channels.items():
        assert theirs[name].dtype == value.dtype, name
        np.testing.assert_array_equal(theirs[name], value, err_msg=name)


def test_writing_refuses_what_exr_cannot_hold(tmp_path):
    from ground_truth.exporters.exr_scanline import write_zip

    with open(tmp_path / "bad.exr", "wb") as stream, pytest.raises(TypeError, match="float32, float16 or uint32"):
        write_zip(stream, {"a.V": np.zeros((2, 2), np.float64)}, {})


@pytest.mark.parametrize("compression", [OpenEXR.NO_COMPRESSION, OpenEXR.ZIP_COMPRESSION])
def test_the_scratch_files_layers_gather_their_components_in_order(tmp_path, compression):
    """Ours (uncompressed, read here) and any other (OpenEXR reads it) alike: each layer's
    channels in X/Y/Z/W or R/G/B/A order, one channel an (H, W) image, all float32; a
    channel of no layer is left out."""
    rng = np.random.default_rng(6)
    channels = {
        "depth.V": rng.uniform(0, 1e10, (19, 23)).astype(np.float32),
        "vector.W": rng.normal(size=(19, 23)).astype(np.float32),
        "vector.X": rng.normal(size=(19, 23)).astype(np.float32),
        "vector.Y": rng.normal(size=(19, 23)).astype(np.float16),
        "vector.Z": rng.normal(size=(19, 23)).astype(np.float32),
        "emission.B": rng.normal(size=(19, 23)).astype(np.float32),
        "emission.R": rng.normal(size=(19, 23)).astype(np.float32),
        "emission.G": rng.normal(size=(19, 23)).astype(np.float32),
        "stray": rng.normal(size=(19, 23)).astype(np.float32),
    }
    expected = {key: value.copy() for key, value in channels.items()}
    write(tmp_path / "s.exr", channels, compression)
    layers = read_raw_passes(tmp_path / "s.exr")
    assert sorted(layers) == ["depth", "emission", "vector"]
    assert all(image.dtype == np.float32 for image in layers.values())
    np.testing.assert_array_equal(layers["depth"], expected["depth.V"])
    np.testing.assert_array_equal(layers["vector"], np.stack([expected[f"vector.{c}"] for c in "XYZW"], -1))
    np.testing.assert_array_equal(layers["emission"], np.stack([expected[f"emission.{c}"] for c in "RGB"], -1))
