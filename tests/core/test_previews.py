# SPDX-License-Identifier: GPL-3.0-or-later
"""Preview pictures: colour coding that a reader can trust."""

import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from ground_truth.core.png import write_png
from ground_truth.core.previews import (
    ContactSheet,
    depth_preview,
    emission_preview,
    fit,
    flow_preview,
    magnitude_preview,
    mask_colours,
    mask_preview,
    nocs_preview,
    normal_preview,
    preview,
    viridis,
)


def test_viridis_is_matplotlibs_table_exactly():
    matplotlib = pytest.importorskip("matplotlib")
    t = np.r_[np.linspace(0.0, 1.0, 4097), np.random.default_rng(1).uniform(0, 1, 5000)]
    expected = matplotlib.colormaps["viridis"](t, bytes=True)[:, :3]
    np.testing.assert_array_equal(viridis(t), expected)


def test_depth_preview_is_viridis_with_near_yellow():
    matplotlib = pytest.importorskip("matplotlib")
    depth = np.array([[2.0, 3.0, 4.0, 2.5]], np.float32)
    rgb, _ = depth_preview(depth)
    t = (4.0 - depth[0]) / 2.0  # near (2 m) is the top of the map
    np.testing.assert_array_equal(rgb[0], matplotlib.colormaps["viridis"](t, bytes=True)[:, :3])


def middlebury_colour(u: float, v: float) -> np.ndarray:
    """Baker et al.'s computeColor (flow-code/colorcode.cpp), written out from its C source:
    the wheel of makecolorwheel (RY 15, YG 6, GC 4, CB 11, BM 13, MR 6) and the blend."""
    wheel = []
    for i in range(15):
        wheel.append((255, 255 * i // 15, 0))
    for i in range(6):
        wheel.append((255 - 255 * i // 6, 255, 0))
    for i in range(4):
        wheel.append((0, 255, 255 * i // 4))
    for i in range(11):
        wheel.append((0, 255 - 255 * i // 11, 255))
    for i in range(13):
        wheel.append((255 * i // 13, 0, 255))
    for i in range(6):
        wheel.append((255, 0, 255 - 255 * i // 6))
    rad = np.hypot(u, v)
    a = np.arctan2(-v, -u) / np.pi
    fk = (a + 1.0) / 2.0 * (len(wheel) - 1)
    k0 = int(fk)
    k1 = (k0 + 1) % len(wheel)
    f = fk - k0
    out = []
    for b in range(3):
        col = (1 - f) * wheel[k0][b] / 255.0 + f * wheel[k1][b] / 255.0
        col = 1 - rad * (1 - col) if rad <= 1 else col * 0.75
        out.append(int(255.0 * col))
    return np.array(out)


def test_flow_colours_are_middleburys_at_every_angle_and_radius():
    rng = np.random.default_rng(5)
    angle = rng.uniform(-np.pi, np.pi, 2000)
    radius = np.r_[rng.uniform(0, 1, 1000), rng.uniform(1, 1.3, 1000)]
    flow = np.stack([radius * np.cos(angle), radius * np.sin(angle)], -1).astype(np.float32)
    flow[0] = (1.0, 0.0)  # the largest radius is 1.3 at most: scale it to exactly 1.3
    flow[-1] = (1.3, 0.0)
    rgb, text = flow_preview(flow[None])
    assert text["flow_scale_px"] == "1.3"
    expected = np.array([middlebury_colour(u / 1.3, v / 1.3) for u, v in flow.astype(np.float64)])
    assert np.abs(rgb[0].astype(int) - expected).max() <= 1  # we round where the C code truncates


def test_emission_preview_is_the_srgb_transfer_function():
    linear = np.linspace(0.0, 1.0, 20001)
    srgb = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)  # IEC 61966-2-1
    rgb = emission_preview(np.repeat(linear[None, :, None], 3, axis=-1).astype(np.float32))
    np.testing.assert_array_equal(rgb[0, :, 0], np.rint(srgb * 255).astype(np.uint8))


def test_normal_preview_colours_unit_normals_and_blacks_out_background():
    normal = np.array([[[0.0, 0.0, -1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]], np.float32)
    rgb = normal_preview(normal)
    np.testing.assert_array_equal(rgb[0], [[128, 128, 0], [255, 128, 128], [0, 0, 0]])


def test_scene_flow_preview_is_its_length_in_viridis_from_zero():
    matplotlib = pytest.importorskip("matplotlib")
    vectors = np.array([[[0.0, 0.0, 0.0], [0.3, 0.0, 0.4], [0.0, -0.2, 0.0], [np.nan] * 3]], np.float32)
    rgb, text = magnitude_preview(vectors)
    assert text == {"magnitude_max": "0.5"}
    lengths = np.array([0.0, 0.5, 0.2]) / 0.5  # 0 is the bottom of the map, the largest the top
    np.testing.assert_array_equal(rgb[0, :3], matplotlib.colormaps["viridis"](lengths, bytes=True)[:, :3])
    assert not rgb[0, 3].any()  # undefined: black
    still = np.zeros((2, 2, 3), np.float32)  # nothing moves: all purple, no division by zero
    assert magnitude_preview(still)[1] == {"magnitude_max": "0"}


def test_nocs_preview_is_the_coordinates_as_colours():
    nocs = np.array([[[0.0, 0.5, 1.0], [0.2, np.nan, 0.3], [1.0, 1.0, 0.0]]], np.float32)
    np.testing.assert_array_equal(nocs_preview(nocs)[0], [[0, 128, 255], [0, 0, 0], [255, 255, 0]])


def test_depth_preview_states_its_range_and_blacks_out_background():
    depth = np.array([[2.0, 4.0, np.inf]], np.float32)
    rgb, text = depth_preview(depth)
    assert text == {"depth_near_m": "2", "depth_far_m": "4"}
    assert not rgb[0, 2].any()
    assert rgb[0, 0].sum() > rgb[0, 1].sum()  # near is the brighter end


def test_flow_wheel_directions_follow_the_middlebury_coding():
    # Middlebury: right = red, left = cyan, down = yellow-green; zero motion = white.
    flow = np.array([[[1, 0], [-1, 0], [0, 1], [0, 0], [np.nan, np.nan]]], np.float32)
    rgb, text = flow_preview(flow)
    right, left, down, still, unknown = rgb[0].astype(int)
    assert right[0] == 255 and right[1] < 40
    assert left[0] < 40 and left[1] > 180 and left[2] == 255
    assert down[1] > 180 and down[2] < 40
    assert (still == 255).all()
    assert not unknown.any()
    assert text == {"flow_max_px": "1", "flow_scale_px": "1"}


def test_sub_pixel_flow_stays_pale_instead_of_amplified():
    rng = np.random.default_rng(0)
    still = rng.normal(scale=1e-4, size=(8, 8, 2)).astype(np.float32)
    rgb, text = flow_preview(still)
    assert rgb.min() >= 254  # white: no motion to speak of
    assert text["flow_scale_px"] == "1"
    moving = still * 1e5  # the same directions, tens of pixels
    assert flow_preview(moving)[0].min() < 100


def test_mask_preview_gives_each_index_its_own_colour():
    mask = np.arange(64, dtype=np.int32).reshape(8, 8)
    rgb = mask_preview(mask)
    assert not rgb[0, 0].any()
    colours = {tuple(c) for c in rgb.reshape(-1, 3)[1:]}
    assert len(colours) == 63


@pytest.mark.parametrize("low, high", [(-1, 30), (0, 70_000), (-(2**31), 2**31 - 1)])
def test_mask_preview_colours_each_pixel_by_its_index_alone(low, high):
    """Pass indices (a small range, with -1 for unknown), a wide range and instance-id
    hashes: every pixel has its index's colour, whatever else the mask holds."""
    mask = np.random.default_rng(1).integers(low, high, (37, 53), endpoint=True).astype(np.int32)
    mask[0, :3] = [0, low, high]
    expected = np.array([mask_colours(np.array([i]))[0] for i in mask.ravel()]).reshape(37, 53, 3)
    np.testing.assert_array_equal(mask_preview(mask), expected)


def test_contact_sheet_places_tiles_in_a_grid():
    a, b = np.full((2, 3, 3), 10, np.uint8), np.full((2, 3, 3), 200, np.uint8)
    sheet = ContactSheet([[a, b], [b]], pad=1)  # the second row one tile short
    assert sheet.shape == (1 + 2 * 3, 1 + 2 * 4, 3)
    expected = np.full(sheet.shape, 32, np.uint8)  # the background, around and between the tiles
    expected[1:3, 1:4], expected[1:3, 5:8], expected[4:6, 1:4] = 10, 200, 200
    np.testing.assert_array_equal(np.asarray(sheet), expected)
    for start in range(sheet.shape[0]):  # made a band of rows at a time, any band
        for stop in range(start, sheet.shape[0] + 1):
            np.testing.assert_array_equal(sheet[start:stop], expected[start:stop])


def test_a_contact_sheet_is_written_a_band_at_a_time():
    """A sheet larger than a PNG band (several MB), its bands made and deflated on two
    threads, reads back tile for tile (pypng checks the zlib stream's checksum)."""
    png = pytest.importorskip("png")
    rng = np.random.default_rng(2)
    tiles = [[rng.integers(0, 256, (700, 900, 3), np.uint8) for _ in range(3 - r % 2)] for r in range(3)]
    expected = np.full((4 + 3 * 704, 4 + 3 * 904, 3), 32, np.uint8)
    for r, row in enumerate(tiles):
        for c, tile in enumerate(row):
            expected[4 + r * 704 : 704 + r * 704, 4 + c * 904 : 904 + c * 904] = tile
    stream = io.BytesIO()
    with ThreadPoolExecutor(2) as pool:
        write_png(stream, ContactSheet(tiles), run=pool.map)
    width, height, rows, _ = png.Reader(bytes=stream.getvalue()).read()
    assert (width, height) == expected.shape[1::-1]
    np.testing.assert_array_equal(np.vstack(list(rows)).reshape(expected.shape), expected)


def test_pictures_made_in_bands_equal_pictures_made_whole(monkeypatch):
    from ground_truth.core import previews as module

    rng = np.random.default_rng(3)
    shape = (61, 17)
    depth = rng.uniform(1, 50, shape).astype(np.float32)
    depth[:20] = np.inf  # background in the first band only; the far end in a later one
    depth[60, 3] = 80.0
    flow = rng.normal(0, 3, (*shape, 2)).astype(np.float32)
    flow[5:9] = np.nan
    flow[55, 1] = (40.0, -30.0)  # the largest motion sits in the last band and scales them all
    arrays = {
        "depth": depth,
        "normal": rng.normal(size=(*shape, 3)).astype(np.float32),
        "flow_forward": flow,
        "object_index": rng.integers(0, 9, shape).astype(np.int32),
        "emission": rng.uniform(0, 2, (*shape, 3)).astype(np.float32),
    }
    whole = {key: (image, text) for key, image, text in module.previews(arrays)}
    monkeypatch.setattr(module, "BAND_PIXELS", 7 * shape[1])  # bands of 7 rows
    banded = {key: (image, text) for key, image, text in module.previews(arrays)}
    assert sorted(whole) == ["depth", "emission", "flow_forward", "normal", "object_index"]
    for key, (image, text) in whole.items():
        np.testing.assert_array_equal(banded[key][0], image, err_msg=key)
        assert banded[key][1] == text
    assert whole["depth"][1] == {"depth_near_m": f"{depth[20:].min():.6g}", "depth_far_m": "80"}
    assert whole["flow_forward"][1]["flow_max_px"] == "50"


def test_thumbnails_average_whole_blocks_and_leave_small_pictures_alone():
    from ground_truth.core.previews import thumbnail

    small = np.zeros((480, 640, 3), np.uint8)
    assert thumbnail(small) is small
    big = np.zeros((1000, 2001, 3), np.uint8)  # 2001 / 640 → factor 4: 250 × 500, the last column dropped
    big[:, ::3] = 255  # every third column: each 4×4 block holds one or two bright columns
    tiny = thumbnail(big)
    assert tiny.shape == (250, 500, 3)
    assert set(np.unique(tiny)) == {64, 128}  # 1/4 and 2/4 of 255, rounded


def test_a_frame_wider_than_the_preview_width_is_previewed_at_every_nth_pixel():
    codes = np.random.default_rng(3).integers(0, 3, (1080, 1920)).astype(np.uint8)
    image, text = preview("occlusion_forward", codes, 1280)  # 1920 / 1280: every 2nd pixel and row
    assert image.shape == (540, 960, 3) and text["preview_step_px"] == "2"
    colours = np.array([(200, 200, 200), (230, 120, 20), (40, 110, 230)], np.uint8)  # the contract's
    np.testing.assert_array_equal(image, colours[codes[::2, ::2]])
    assert preview("occlusion_forward", codes[:, :1280], 1280)[0].shape == (1080, 1280, 3)  # fits: full size
    assert "preview_step_px" not in preview("occlusion_forward", codes, 0)[1]
    assert preview("occlusion_forward", codes[:, :1281], 1280)[0].shape == (540, 641, 3)


def test_fit_takes_the_pixel_each_one_falls_in():
    image = np.arange(6, dtype=np.uint8).reshape(2, 3, 1)
    np.testing.assert_array_equal(fit(image, 4, 6)[..., 0], [[0, 0, 1, 1, 2, 2]] * 2 + [[3, 3, 4, 4, 5, 5]] * 2)
    assert fit(image, 2, 3) is image
