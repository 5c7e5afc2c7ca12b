# SPDX-License-Identifier: GPL-3.0-or-later
"""Community formats read back by independent readers: pycocotools for COCO, pypng for
16-bit PNGs, and the Middlebury definition for .flo."""

import io
import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import png
import pytest
from ground_truth.core.coco import frame_annotations, merge
from ground_truth.core.encoders import depth_png16, kitti_flow, write_flo
from ground_truth.core.png import DATA, read_png, write_png
from pycocotools import mask as mask_api
from pycocotools.coco import COCO


def read_png16(data: bytes) -> np.ndarray:
    width, height, rows, info = png.Reader(bytes=data).read()
    assert info["bitdepth"] == 16
    return np.array([np.asarray(row) for row in rows], np.uint16).reshape(height, width, -1)


def random_flow(rng, h=7, w=9):
    flow = rng.normal(scale=40, size=(h, w, 2)).astype(np.float32)
    flow[0, 0] = np.nan
    return flow


def test_flo_follows_the_middlebury_definition():
    flow = random_flow(np.random.default_rng(1))
    stream = io.BytesIO()
    write_flo(stream, flow)
    data = stream.getvalue()
    # The published layout: float32 202021.25, int32 width, int32 height, then u v u v ...
    tag = np.frombuffer(data[:4], "<f4")[0]
    width, height = np.frombuffer(data[4:12], "<i4")
    assert tag == 202021.25 and (width, height) == (9, 7)
    uv = np.frombuffer(data[12:], "<f4").reshape(height, width, 2)
    assert len(data) == 12 + 7 * 9 * 2 * 4
    unknown = np.abs(uv) > 1e9  # Middlebury's UNKNOWN_FLOW_THRESH
    np.testing.assert_array_equal(unknown.any(-1), np.isnan(flow).any(-1))
    np.testing.assert_array_equal(uv[~unknown], flow[~np.isnan(flow)])


def test_kitti_flow_png_round_trip_within_1_64_px():
    flow = random_flow(np.random.default_rng(2))
    flow[1, 1] = (700.0, 0.0)  # beyond what 16 bits hold: invalid, not clipped
    stream = io.BytesIO()
    write_png(stream, kitti_flow(flow))
    rgb = read_png16(stream.getvalue()).astype(np.float64)
    valid = rgb[..., 2] == 1
    decoded = (rgb[..., :2] - 2**15) / 64.0
    assert not valid[0, 0] and not valid[1, 1]
    expected = np.isfinite(flow).all(-1)
    expected[1, 1] = False
    np.testing.assert_array_equal(valid, expected)
    assert np.abs(decoded[valid] - flow[valid]).max() <= 1 / 128 + 1e-6


def test_depth_png16_scale_and_invalid():
    depth = np.array([[0.5, 1.2344, np.inf], [70.0, 3.0, 0.0]], np.float32)
    stream = io.BytesIO()
    write_png(stream, depth_png16(depth, 1000.0))
    values = read_png16(stream.getvalue())[..., 0]
    np.testing.assert_array_equal(values, [[500, 1234, 0], [0, 3000, 0]])  # 70 m > 65.535 m: unknown


def masks(rng, h=31, w=23):
    mask = np.zeros((h, w), np.int32)
    mask[3:17, 2:9] = 4
    mask[10:30, 7:20] = 9  # overlaps 4
    mask[0, :] = 2  # touches the edges
    mask[:, -1] = 2
    mask[rng.random((h, w)) < 0.05] = 7  # scattered pixels
    return mask


def test_coco_rle_decodes_to_exactly_the_masks_with_pycocotools(tmp_path):
    rng = np.random.default_rng(3)
    frames = {1: masks(rng), 2: masks(rng), 3: np.zeros((31, 23), np.int32)}
    records = [
        {
            "image": {"id": f, "file_name": f"rgb/{f:06d}.png", "width": 23, "height": 31},
            "annotations": frame_annotations(m),
        }
        for f, m in frames.items()
    ]
    document = merge(records, {4: "crate", 9: "monkey"})
    (tmp_path / "coco.json").write_text(json.dumps(document))
    coco = COCO(str(tmp_path / "coco.json"))
    assert {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())} == {
        2: "pass_index_2",
        4: "crate",
        7: "pass_index_7",
        9: "monkey",
    }
    for frame, mask in frames.items():
        annotations = coco.loadAnns(coco.getAnnIds(imgIds=[frame]))
        assert sorted(a["category_id"] for a in annotations) == sorted(set(np.unique(mask)) - {0})
        for annotation in annotations:
            expected = mask == annotation["category_id"]
            np.testing.assert_array_equal(coco.annToMask(annotation).astype(bool), expected)
            rle = coco.annToRLE(annotation)
            assert mask_api.area(rle) == annotation["area"] == expected.sum()
            np.testing.assert_allclose(mask_api.toBbox(rle), annotation["bbox"])
            assert annotation["iscrowd"] == 0


def test_coco_rle_string_matches_pycocotools_encoding():
    rng = np.random.default_rng(5)
    mask = masks(rng)
    for annotation in frame_annotations(mask):
        theirs = mask_api.encode(np.asfortranarray(mask == annotation["category_id"]).astype(np.uint8))
        assert annotation["segmentation"]["counts"] == theirs["counts"].decode()


def test_coco_rle_of_uniform_masks():
    whole = np.full((4, 5), 3, np.int32)
    theirs = mask_api.encode(np.asfortranarray(np.ones((4, 5), np.uint8)))["counts"].decode()
    (annotation,) = frame_annotations(whole)
    assert annotation["segmentation"]["counts"] == theirs and annotation["bbox"] == [0, 0, 5, 4]
    assert frame_annotations(np.zeros((4, 5), np.int32)) == []


@pytest.mark.parametrize("threads", [0, 2])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_png_larger_than_one_compression_step_reads_back_exactly(dtype, threads):
    """Several bands of rows, deflated one after the other or side by side, joined into
    one zlib stream whose checksum pypng's zlib and OpenCV's libpng check."""
    rng = np.random.default_rng(5)
    image = rng.integers(0, np.iinfo(dtype).max, (2401, 997, 3), dtype=dtype)  # 7 or 14 MB: 2 or 4 bands
    image[300:1900] = image[299]  # long runs of equal rows too (Up-filtered to zeros)
    stream = io.BytesIO()
    with ThreadPoolExecutor(max(threads, 1)) as pool:
        write_png(stream, image, {"k": "v"}, run=pool.map if threads else map)
    width, height, rows, info = png.Reader(bytes=stream.getvalue()).read()
    assert (width, height, info["bitdepth"]) == (997, 2401, 8 * image.itemsize)
    np.testing.assert_array_equal(np.vstack(list(rows)).reshape(image.shape), image)
    cv2 = pytest.importorskip("cv2")
    theirs = cv2.imdecode(np.frombuffer(stream.getvalue(), np.uint8), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(theirs[..., ::-1], image)  # OpenCV's channels are BGR


def test_smooth_16_bit_depth_png_is_filtered_small():
    """A 640×480 depth picture of a sphere above a floor, ray cast here: smooth surfaces,
    whose rows PNG's filters turn into small differences. Unfiltered it takes 52 KB."""
    rows, cols = np.mgrid[0:480, 0:640].astype(np.float64)
    x, y = (cols - 319.5) / 500, (rows - 239.5) / 500
    rays = np.stack([x, y, np.ones_like(x)], -1)
    rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
    centre, radius = np.array([0.3, 0.1, 3.0]), 1.2
    b = rays @ centre
    disc = b * b - (centre @ centre - radius**2)
    sphere = np.where(disc > 0, (b - np.sqrt(np.maximum(disc, 0))) * rays[..., 2], np.inf)
    floor = np.where(0.6 - 0.8 * y > 0.05, 1.5 / (0.6 - 0.8 * y), np.inf)
    depth = np.minimum(sphere, floor).astype(np.float32)
    stream = io.BytesIO()
    write_png(stream, depth_png16(depth, 1000.0), level=DATA)
    assert len(stream.getvalue()) < 40_000
    expected = np.where(np.isfinite(depth), np.rint(depth.astype(np.float64) * 1000), 0)
    np.testing.assert_array_equal(read_png16(stream.getvalue())[..., 0], expected)


@pytest.mark.parametrize(("dtype", "channels"), [(np.uint8, 3), (np.uint8, 4), (np.uint16, 1), (np.uint8, 1)])
def test_read_png_reads_unfiltered_and_up_filtered_rows_and_declines_the_rest(dtype, channels):
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(9)
    image = rng.integers(0, np.iinfo(dtype).max, (1201, 97, channels), dtype=dtype)
    ours = io.BytesIO()
    write_png(ours, image, {"k": "v"})  # every row Up, in several IDAT chunks
    np.testing.assert_array_equal(read_png(ours.getvalue()), image)
    theirs = io.BytesIO()  # pypng's writer: every row unfiltered
    png.Writer(97, 1201, greyscale=channels == 1, alpha=channels == 4, bitdepth=8 * image.itemsize).write(
        theirs, image.reshape(1201, -1)
    )
    np.testing.assert_array_equal(read_png(theirs.getvalue()), image)
    # libpng's (OpenCV's) rows of a smooth picture use the Sub, Average and Paeth filters
    ramp = (np.add.outer(np.arange(120), np.arange(160)) % 256).astype(np.uint8)
    ok, encoded = cv2.imencode(".png", np.dstack([ramp, ramp.T[:120, :120].repeat(2, 1)[:, :160], ramp]))
    assert ok and read_png(encoded.tobytes()) is None
