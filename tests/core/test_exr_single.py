# SPDX-License-Identifier: GPL-3.0-or-later
"""One EXR per array (``exr_single``), read by readers that are not ours: OpenCV,
OpenImageIO and OpenEXR, bit for bit against the frame's NPZ."""

import os

os.environ["OPENCV_IO_ENABLE_OPENEXR"] = "1"  # OpenCV reads EXR only when told to, before it loads

import numpy as np
import pytest
from ground_truth.core.boxes import boxes_from_mask
from ground_truth.exporters.formats import expected_files, write_frame
from ground_truth.exporters.layout import OutputOptions, exr_single_path, npz_path

cv2 = pytest.importorskip("cv2")
oiio = pytest.importorskip("OpenImageIO")
OpenEXR = pytest.importorskip("OpenEXR")

H, W = 37, 53  # more than one 16-row ZIP block, odd sizes


@pytest.fixture
def frame(tmp_path):
    rng = np.random.default_rng(7)
    depth = rng.uniform(0.1, 80, (H, W)).astype(np.float32)
    depth[:4, :5] = np.inf
    flow = rng.normal(0, 30, (H, W, 2)).astype(np.float32)
    flow[:4, :5] = np.nan
    instance = rng.integers(-(2**31), 2**31, (H, W), dtype=np.int64).astype(np.int32)
    instance[0, 0], instance[0, 1], instance[0, 2] = 0, -1, 2**31 - 1
    object_index = rng.integers(0, 32768, (H, W)).astype(np.int32)
    arrays = {
        "depth": depth,
        "normal": rng.normal(size=(H, W, 3)).astype(np.float32),
        "normal_world": rng.normal(size=(H, W, 3)).astype(np.float32),
        "flow_forward": flow,
        "flow_backward": -flow,
        "flow_forward_k3": 3 * flow,
        "occlusion_forward": rng.choice(np.array([0, 1, 2, 255], np.uint8), (H, W)),
        "object_index": object_index,
        "instance_id": instance,
        "emission": rng.uniform(0, 5, (H, W, 3)).astype(np.float32),
        "K": np.array([[60.0, 0, 26.0], [0, 60.0, 18.0], [0, 0, 1]]),
        "world_to_camera": np.eye(4),
        "frame": np.int64(12),
        **boxes_from_mask(object_index),
    }
    options = OutputOptions(exr_single=True, previews=False)
    write_frame(tmp_path, 12, arrays, options, instances={})
    with np.load(npz_path(tmp_path, 12)) as npz:
        stored = {key: npz[key] for key in npz.files}
    return tmp_path, stored, options


IMAGES = [
    "depth",
    "normal",
    "normal_world",
    "flow_forward",
    "flow_backward",
    "flow_forward_k3",
    "occlusion_forward",
    "object_index",
    "emission",
]


def bits(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, np.float32).view(np.uint32)


def as_stored(array: np.ndarray, key: str, stored: dict) -> np.ndarray:
    """Channels in the order the NPZ keeps them: flow is R, G; vectors R, G, B."""
    components = stored[key].shape[2] if stored[key].ndim == 3 else 0
    return array[..., :components] if components else array


def test_every_image_array_gets_its_own_file_and_nothing_else(frame):
    root, stored, options = frame
    files = {p.relative_to(root).as_posix() for p in (root / "exr_single").rglob("*") if p.is_file()}
    assert files == {f"exr_single/{key}/000012.exr" for key in [*IMAGES, "instance_id"]}
    assert {exr_single_path(root, k, 12) for k in [*IMAGES, "instance_id"]} <= set(
        expected_files(root, 12, stored, options)
    )


@pytest.mark.parametrize("key", IMAGES)
def test_opencv_reads_each_array_bit_for_bit(frame, key):
    root, stored, _ = frame
    image = cv2.imread(str(exr_single_path(root, key, 12)), cv2.IMREAD_UNCHANGED)
    assert image is not None and image.dtype == np.float32
    want = stored[key]
    if want.ndim == 2:
        assert image.shape == (H, W)
        np.testing.assert_array_equal(bits(image), bits(want.astype(np.float32)))
        np.testing.assert_array_equal(image.astype(want.dtype), want)  # small integers come back exact
    else:
        assert image.shape == (H, W, 3)
        rgb = image[..., ::-1]  # OpenCV orders colour channels B, G, R
        np.testing.assert_array_equal(bits(as_stored(rgb, key, stored)), bits(want))
        if want.shape[2] == 2:
            assert not rgb[..., 2].any()  # the zero B of two-component flow


@pytest.mark.parametrize("key", [*IMAGES, "instance_id"])
def test_openimageio_reads_each_array_bit_for_bit(frame, key):
    root, stored, _ = frame
    reader = oiio.ImageInput.open(str(exr_single_path(root, key, 12)))
    try:
        spec = reader.spec()
        pixels = reader.read_image(0, 0, 0, spec.nchannels, oiio.UNKNOWN)  # as stored: no conversion
        names = tuple(spec.channelnames)
    finally:
        reader.close()
    want = stored[key]
    if want.ndim == 2:
        assert names == ("Y",) and pixels.shape == (H, W, 1)
        if key == "instance_id":  # UINT: the int32's bits
            assert pixels.dtype == np.uint32
            np.testing.assert_array_equal(pixels[..., 0].view(np.int32), want)
        else:
            np.testing.assert_array_equal(bits(pixels[..., 0]), bits(want.astype(np.float32)))
    else:
        assert names == ("R", "G", "B") and pixels.dtype == np.float32
        np.testing.assert_array_equal(bits(as_stored(pixels, key, stored)), bits(want))


def test_openexr_sees_the_camera_and_the_key_in_the_header(frame):
    root, stored, _ = frame
    exr = OpenEXR.File(str(exr_single_path(root, "flow_forward", 12)), separate_channels=True)
    header = exr.header()
    np.testing.assert_array_equal(np.asarray(header["K"]), stored["K"])
    np.testing.assert_array_equal(np.asarray(header["world_to_camera"]), stored["world_to_camera"])
    assert header["frame"] == 12 and header["ground_truth_array"] == "flow_forward"
    assert header["compression"] == OpenEXR.ZIP_COMPRESSION
    assert sorted(exr.channels()) == ["B", "G", "R"]
