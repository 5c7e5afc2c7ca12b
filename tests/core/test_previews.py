"""Preview pictures: colour coding that a reader can trust."""

import numpy as np
from ground_truth.core.previews import contact_sheet, depth_preview, flow_preview, mask_preview, viridis


def test_viridis_ends_are_dark_purple_and_yellow():
    dark, bright = viridis(np.array([0.0, 1.0]))
    assert dark[2] > dark[0] and dark[2] > dark[1] and dark.sum() < 0.7  # dark purple-blue
    assert bright[0] > 0.9 and bright[1] > 0.85 and bright[2] < 0.2  # yellow


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


def test_contact_sheet_places_tiles_in_a_grid():
    a, b = np.full((2, 3, 3), 10, np.uint8), np.full((2, 3, 3), 200, np.uint8)
    sheet = contact_sheet([[a, b], [b, a]], pad=1)
    assert sheet.shape == (1 + 2 * 3, 1 + 2 * 4, 3)
    assert (sheet[1:3, 1:4] == 10).all() and (sheet[1:3, 5:8] == 200).all()
    assert (sheet[4:6, 1:4] == 200).all()
