# SPDX-License-Identifier: GPL-3.0-or-later
"""COCO instance annotations from an object-index mask (compressed RLE, as pycocotools
writes it)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .boxes import boxes_from_mask


def rle_counts(mask: np.ndarray) -> list[int]:
    """Run lengths of a boolean (H, W) mask in COCO order: column by column, starting
    with a run of zeros (possibly empty)."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.r_[0, changes, flat.size]
    counts = np.diff(bounds).tolist()
    return [0, *counts] if flat.size and flat[0] else counts


def compress_counts(counts: list[int]) -> str:
    """COCO's compressed RLE string (pycocotools ``rleToString``): each count, after the
    second minus the count two before, in 5-bit groups with a continuation bit, + 48."""
    out = []
    for i, count in enumerate(counts):
        x = count - counts[i - 2] if i > 2 else count
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)


def frame_annotations(object_index: np.ndarray) -> list[dict[str, Any]]:
    """One COCO annotation (without ids) per visible pass index of the frame.

    ``bbox`` is ``[x, y, width, height]`` in pixels covering whole pixels (COCO's
    convention: x, y the top-left corner of the top-left pixel), ``area`` the pixel count.
    """
    height, width = object_index.shape
    boxes = boxes_from_mask(object_index)
    annotations = []
    for index, box, pixels in zip(boxes["box_index"], boxes["boxes"], boxes["box_pixels"], strict=True):
        x0, y0, x1, y1 = (int(v) for v in box)
        annotations.append(
            {
                "category_id": int(index),
                "segmentation": {"size": [height, width], "counts": compress_counts(rle_counts(object_index == index))},
                "area": int(pixels),
                "bbox": [x0, y0, x1 - x0 + 1, y1 - y0 + 1],
                "iscrowd": 0,
            }
        )
    return annotations


def merge(frames: list[dict[str, Any]], categories: dict[int, str]) -> dict[str, Any]:
    """The ``coco.json`` document from per-frame records ``{"image": …, "annotations": […]}``.

    Image ids are frame numbers; annotation ids run from 1 in frame order; categories
    are the pass indices that occur, with ``categories`` naming them.
    """
    images, annotations = [], []
    for record in sorted(frames, key=lambda r: r["image"]["id"]):
        images.append(record["image"])
        for annotation in record["annotations"]:
            annotations.append({"id": len(annotations) + 1, "image_id": record["image"]["id"], **annotation})
    used = sorted({a["category_id"] for a in annotations} | set(categories))
    return {
        "info": {"description": "Ground Truth export", "version": "1.0"},
        "images": images,
        "annotations": annotations,
        "categories": [
            {"id": i, "name": categories.get(i, f"pass_index_{i}"), "supercategory": "object"} for i in used
        ],
    }
