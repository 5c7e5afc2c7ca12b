# SPDX-License-Identifier: GPL-3.0-or-later
"""Tight 2D boxes and visible pixel counts from an index mask."""

from __future__ import annotations

import numpy as np


def boxes_from_mask(mask: np.ndarray) -> dict[str, np.ndarray]:
    """Per positive index in an (H, W) int mask: its tight box and visible pixel count
    (0 is the background, and negative values are no object).

    Returns arrays sorted by index:

    * ``box_index`` int32 (N,): the pass index;
    * ``boxes`` int32 (N, 4): ``[x_min, y_min, x_max, y_max]`` in pixels, inclusive,
      x to the right and y down from the top-left pixel;
    * ``box_pixels`` int64 (N,): how many pixels carry that index.

    One pass over the mask, then work on its runs (a row's pixels of one index in a
    row), however many indices.
    """
    mask = np.asarray(mask)
    width = mask.shape[1]
    flat = mask.ravel()
    runs = np.zeros(0, np.intp)
    if flat.size:
        change = np.empty(flat.size, bool)
        np.not_equal(flat[1:], flat[:-1], out=change[1:])
        change[::width] = True  # a run ends with its row
        runs = np.flatnonzero(change)
    last = np.append(runs[1:], flat.size) - 1  # each run's last pixel
    values = flat[runs]
    labelled = values > 0
    if not labelled.any():
        return {
            "box_index": np.zeros(0, np.int32),
            "boxes": np.zeros((0, 4), np.int32),
            "box_pixels": np.zeros(0, np.int64),
        }
    order = np.argsort(values[labelled], kind="stable")  # within an index, runs stay in row order
    first, last, labels = runs[labelled][order], last[labelled][order], values[labelled][order]
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    ends = np.r_[starts[1:], labels.size] - 1
    boxes = np.stack(
        [
            np.minimum.reduceat(first % width, starts),
            first[starts] // width,  # an index's first run is on its top row
            np.maximum.reduceat(last % width, starts),
            last[ends] // width,  # and its last on its bottom row
        ],
        axis=1,
    )
    counts = np.add.reduceat(last - first + 1, starts)
    return {
        "box_index": labels[starts].astype(np.int32),
        "boxes": boxes.astype(np.int32),
        "box_pixels": counts.astype(np.int64),
    }
