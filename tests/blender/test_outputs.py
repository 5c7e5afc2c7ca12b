# SPDX-License-Identifier: GPL-3.0-or-later
"""Every output format of a real export, read back by independent readers."""

import json
import sys
from pathlib import Path

import bpy
import numpy as np
import png
import pytest
import scenes
from pycocotools.coco import COCO

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import conftest  # noqa: F401  (the add-on's source as ground_truth, for its bpy-free loader)
from ground_truth.loader import GroundTruthDataset, iter_frames, load_frame

FRAMES = (1, 2, 3)


@pytest.fixture(scope="module")
def run(addon, tmp_path_factory):
    root = tmp_path_factory.mktemp("outputs") / "out"
    scene = scenes.new_scene(root)
    scenes.build_moving_scene(scene, len(FRAMES))
    settings = scene.ground_truth
    settings.use_exr = settings.use_flo = settings.use_kitti_flow = settings.use_depth_png16 = True
    settings.use_coco = settings.use_exr_single = True
    settings.depth_png16_scale = 1000.0
    category = settings.categories.add()
    category.pass_index, category.name = 2, "box"
    assert bpy.ops.render.gt_render_animation() == {"FINISHED"}
    return scene, root, {f: dict(np.load(root / "npz" / f"{f:06d}.npz")) for f in FRAMES}


def read_png(path):
    width, height, rows, info = png.Reader(filename=str(path)).read()
    return np.array([np.asarray(row) for row in rows]).reshape(height, width, -1), info


def test_exr_and_loader_give_the_npz_arrays_bit_for_bit(run):
    _, root, arrays = run
    for frame in FRAMES:
        exr = load_frame(root / "exr" / f"{frame:06d}.exr")
        assert sorted(exr) == sorted(arrays[frame])
        for key, value in arrays[frame].items():
            np.testing.assert_array_equal(exr[key], value, err_msg=key)
    loaded = list(iter_frames(root))
    assert [int(a["frame"]) for a in loaded] == list(FRAMES)


def test_coco_masks_are_the_exported_masks(run):
    _, root, arrays = run
    coco = COCO(str(root / "coco.json"))
    names = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
    assert names == {1: "Ground", 2: "box", 3: "Ico"}
    assert sorted(coco.getImgIds()) == list(FRAMES)
    for frame in FRAMES:
        image = coco.loadImgs([frame])[0]
        assert (root / image["file_name"]).is_file()
        mask = arrays[frame]["object_index"]
        assert (image["height"], image["width"]) == mask.shape
        annotations = coco.loadAnns(coco.getAnnIds(imgIds=[frame]))
        assert sorted(a["category_id"] for a in annotations) == sorted(set(np.unique(mask)) - {0})
        for annotation in annotations:
            expected = mask == annotation["category_id"]
            np.testing.assert_array_equal(coco.annToMask(annotation).astype(bool), expected)
            assert annotation["area"] == expected.sum()


def test_flo_files_hold_the_flow(run):
    _, root, arrays = run
    for direction in ("forward", "backward"):
        data = (root / "flo" / direction / "000002.flo").read_bytes()
        assert np.frombuffer(data[:4], "<f4")[0] == 202021.25
        width, height = np.frombuffer(data[4:12], "<i4")
        uv = np.frombuffer(data[12:], "<f4").reshape(height, width, 2)
        flow = arrays[2][f"flow_{direction}"]
        defined = np.isfinite(flow)
        np.testing.assert_array_equal(uv[defined], flow[defined])
        assert (np.abs(uv[~defined]) > 1e9).all()


def test_kitti_flow_and_depth_png16_within_their_precision(run):
    _, root, arrays = run
    for direction in ("forward", "backward"):
        rgb, info = read_png(root / "kitti_flow" / direction / "000002.png")
        assert info["bitdepth"] == 16
        flow = arrays[2][f"flow_{direction}"]
        valid = rgb[..., 2] == 1
        np.testing.assert_array_equal(valid, np.isfinite(flow).all(-1))
        decoded = (rgb[..., :2].astype(np.float64) - 2**15) / 64
        assert np.abs(decoded[valid] - flow[valid]).max() <= 1 / 128 + 1e-6
    grey, info = read_png(root / "depth_png16" / "000002.png")
    depth = arrays[2]["depth"]
    finite = np.isfinite(depth)
    assert info["bitdepth"] == 16 and (grey[..., 0][~finite] == 0).all()
    assert np.abs(grey[..., 0][finite] / 1000.0 - depth[finite]).max() <= 0.0005 + 1e-6
    assert json.loads((root / "meta.json").read_text())["depth_png16_scale_per_metre"] == 1000.0


def test_contact_sheet_tiles_are_the_rgb_and_the_previews(run):
    _, root, _ = run
    sheet, _ = read_png(root / "contact_sheet.png")
    keys = ["depth", "normal", "flow_forward", "flow_backward", "occlusion_forward", "occlusion_backward"]
    keys += ["object_index", "material_index", "instance_id", "semantic", "emission"]
    assert sheet.shape == (4 + 3 * (120 + 4), 4 + (1 + len(keys)) * (160 + 4), 3)
    for row, frame in enumerate(FRAMES):
        rgb, _ = read_png(root / "rgb" / f"{frame:06d}.png")  # read ahead while the last frame was written
        np.testing.assert_array_equal(sheet[4 + row * 124 : 124 + row * 124, 4:164], rgb[..., :3], err_msg=str(frame))
        for column, key in enumerate(keys, start=1):
            preview, _ = read_png(root / "preview" / key / f"{frame:06d}.png")
            y, x = 4 + row * 124, 4 + column * 164
            np.testing.assert_array_equal(sheet[y : y + 120, x : x + 160], preview, err_msg=f"{frame} {key}")


def test_open_contact_sheet_loads_it(run):
    _, root, _ = run
    assert bpy.ops.image.gt_open_contact_sheet() == {"FINISHED"}
    assert any(Path(bpy.path.abspath(i.filepath)) == root / "contact_sheet.png" for i in bpy.data.images)


def bits(array) -> np.ndarray:
    return np.ascontiguousarray(array, np.float32).view(np.uint32)


def blender_pixels(path: Path) -> np.ndarray:
    """An image as Blender's own loader reads it: (H, W, channels) float32, row 0 on top."""
    image = bpy.data.images.load(str(path), check_existing=False)
    try:
        width, height = image.size
        pixels = np.empty(width * height * image.channels, np.float32)
        image.pixels.foreach_get(pixels)
        return pixels.reshape(height, width, image.channels)[::-1]
    finally:
        bpy.data.images.remove(image)


def test_single_array_exrs_read_by_blender_are_the_npz_arrays(run):
    _, root, arrays = run
    for key, components in (("depth", 1), ("normal", 3), ("flow_forward", 2), ("emission", 3), ("object_index", 1)):
        for frame in FRAMES:
            pixels = blender_pixels(root / "exr_single" / key / f"{frame:06d}.exr")
            want = arrays[frame][key].astype(np.float32)
            got = pixels[..., 0] if components == 1 else pixels[..., :components]
            np.testing.assert_array_equal(bits(got), bits(want), err_msg=f"{key} {frame}")
            if components == 1:  # a Y channel reads as grey: every colour channel holds it
                np.testing.assert_array_equal(bits(pixels[..., 1]), bits(want))


def test_single_array_exrs_read_by_opencv_and_openimageio_are_the_npz_arrays(run, monkeypatch):
    monkeypatch.setenv("OPENCV_IO_ENABLE_OPENEXR", "1")
    cv2 = pytest.importorskip("cv2")
    oiio = pytest.importorskip("OpenImageIO")
    _, root, arrays = run
    keys = sorted(p.name for p in (root / "exr_single").iterdir())
    assert {"depth", "normal", "flow_forward", "flow_backward", "occlusion_forward", "instance_id"} <= set(keys)
    for frame in FRAMES:
        for key in keys:
            path = str(root / "exr_single" / key / f"{frame:06d}.exr")
            want = arrays[frame][key]
            reader = oiio.ImageInput.open(path)
            stored = reader.read_image(0, 0, 0, reader.spec().nchannels, oiio.UNKNOWN)
            reader.close()
            if key == "instance_id":  # UINT bits: int32 hashes do not fit float32
                np.testing.assert_array_equal(stored[..., 0].view(np.int32), want)
                continue
            image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
            if want.ndim == 3:
                image, stored = image[..., ::-1][..., : want.shape[2]], stored[..., : want.shape[2]]
            else:
                stored = stored[..., 0]
            np.testing.assert_array_equal(bits(image), bits(want.astype(np.float32)), err_msg=f"{key} {frame}")
            np.testing.assert_array_equal(bits(stored), bits(want.astype(np.float32)), err_msg=f"{key} {frame}")


def test_the_dataset_gives_the_npz_arrays_and_the_rendered_rgb(run):
    _, root, arrays = run
    data = GroundTruthDataset(root)
    assert len(data) == len(FRAMES)
    for item, frame in zip(data, FRAMES, strict=True):
        assert sorted(item) == sorted([*arrays[frame], "rgb"])
        for key, value in arrays[frame].items():
            np.testing.assert_array_equal(item[key], value, strict=True, err_msg=key)
        rendered = np.rint(blender_pixels(root / "rgb" / f"{frame:06d}.png") * 255).astype(np.uint8)
        np.testing.assert_array_equal(item["rgb"], rendered[..., : item["rgb"].shape[2]])
    pairs = GroundTruthDataset(root, keys=["flow_forward", "frame"], clip_length=2)
    assert [[int(f["frame"]) for f in clip] for clip in pairs] == [[1, 2], [2, 3]]


def test_previews_of_a_frame_wider_than_preview_width_show_every_nth_pixel(addon, tmp_path):
    """Last in this module: it builds a scene of its own. 160 px over a width of 64: every
    3rd pixel and row, a 54×40 picture; the contact sheet shows it at the RGB's size."""
    matplotlib = pytest.importorskip("matplotlib")
    root = tmp_path / "out"
    scene = scenes.new_scene(root)
    scenes.build_moving_scene(scene, 1)
    scene.ground_truth.preview_width = 64
    assert bpy.ops.render.gt_render_animation() == {"FINISHED"}
    depth = np.load(root / "npz" / "000001.npz")["depth"]
    picture, _ = read_png(root / "preview" / "depth" / "000001.png")
    assert picture.shape == (40, 54, 3)
    chunks = png.Reader(filename=str(root / "preview" / "depth" / "000001.png")).chunks()
    assert b"preview_step_px\x003" in [data for kind, data in chunks if kind == b"tEXt"]
    sampled = depth[::3, ::3]
    seen = np.isfinite(sampled)
    near, far = sampled[seen].min(), sampled[seen].max()
    expected = matplotlib.colormaps["viridis"]((far - sampled[seen]) / (far - near), bytes=True)[:, :3]
    np.testing.assert_array_equal(picture[seen], expected)
    assert not picture[~seen].any()
    sheet, _ = read_png(root / "contact_sheet.png")
    assert sheet.shape == (4 + 120 + 4, 4 + 12 * (160 + 4), 3)  # RGB and eleven previews, each 160×120
    tile = sheet[4 : 4 + 120, 4 + 164 : 4 + 164 + 160]
    assert set(map(tuple, tile.reshape(-1, 3))) <= set(map(tuple, picture.reshape(-1, 3)))
