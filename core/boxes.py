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

    One pass over the mask (a sort of the labelled pixels), however many indices.
    """
    mask = np.asarray(mask)
    width = mask.shape[1]
    flat = mask.ravel()
    labelled = np.flatnonzero(flat > 0)
    if labelled.size == 0:
        return {
            "box_index": np.zeros(0, np.int32),
            "boxes": np.zeros((0, 4), np.int32),
            "box_pixels": np.zeros(0, np.int64),
        }
    labels = flat[labelled]
    order = np.argsort(labels, kind="stable")  # within an index, pixels stay in row order
    labels, labelled = labels[order], labelled[order]
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    ends = np.r_[starts[1:], labels.size] - 1
    xs = labelled % width
    boxes = np.stack(
        [
            np.minimum.reduceat(xs, starts),
            labelled[starts] // width,  # an index's first pixel is on its top row
            np.maximum.reduceat(xs, starts),
            labelled[ends] // width,  # and its last on its bottom row
        ],
        axis=1,
    )
    counts = ends - starts + 1
    return {
        "box_index": labels[starts].astype(np.int32),
        "boxes": boxes.astype(np.int32),
        "box_pixels": counts.astype(np.int64),
    }
