# SPDX-License-Identifier: GPL-3.0-or-later
"""Tight boxes against a brute-force scan per index."""

import numpy as np
from ground_truth.core.boxes import boxes_from_mask


def brute_force(mask):
    out = {}
    for index in np.unique(mask):
        if index == 0:
            continue
        ys, xs = np.nonzero(mask == index)
        out[int(index)] = ([xs.min(), ys.min(), xs.max(), ys.max()], len(xs))
    return out


def test_boxes_match_brute_force_on_random_masks():
    rng = np.random.default_rng(4)
    for _ in range(20):
        mask = np.zeros((37, 53), np.int32)
        for index in rng.choice(np.arange(1, 300), size=rng.integers(1, 8), replace=False):
            y, x = rng.integers(0, 30), rng.integers(0, 45)
            mask[y : y + rng.integers(1, 8), x : x + rng.integers(1, 9)] = index
        got = boxes_from_mask(mask)
        expected = brute_force(mask)
        assert list(got["box_index"]) == sorted(expected)
        for index, box, pixels in zip(got["box_index"], got["boxes"], got["box_pixels"], strict=True):
            assert list(box) == expected[int(index)][0]
            assert pixels == expected[int(index)][1]


def test_boxes_match_brute_force_where_an_index_runs_on_into_the_next_row():
    rng = np.random.default_rng(5)
    wrapping = np.zeros((3, 6), np.int32)
    wrapping.flat[4:9] = 7  # the end of row 0 and the start of row 1: two runs, one box
    masks = [wrapping, np.full((4, 5), 3, np.int32)]
    masks += [rng.integers(-2, 4, (rng.integers(1, 9), rng.integers(1, 9))).astype(np.int32) for _ in range(30)]
    for mask in masks:
        got = boxes_from_mask(mask)
        expected = {k: v for k, v in brute_force(mask).items() if k > 0}  # negative: no object
        assert list(got["box_index"]) == sorted(expected)
        for index, box, pixels in zip(got["box_index"], got["boxes"], got["box_pixels"], strict=True):
            assert list(box) == expected[int(index)][0]
            assert pixels == expected[int(index)][1]
    assert boxes_from_mask(wrapping)["boxes"].tolist() == [[0, 0, 5, 1]]


def test_single_pixel_and_corner_boxes_are_inclusive():
    mask = np.zeros((4, 5), np.int32)
    mask[0, 0] = 2
    mask[3, 4] = 9
    got = boxes_from_mask(mask)
    assert got["boxes"].tolist() == [[0, 0, 0, 0], [4, 3, 4, 3]]
    assert got["box_pixels"].tolist() == [1, 1]


def test_empty_mask_gives_empty_arrays_of_the_right_shape():
    got = boxes_from_mask(np.zeros((3, 3), np.int32))
    assert got["boxes"].shape == (0, 4) and got["box_index"].shape == (0,)
