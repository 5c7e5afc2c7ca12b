# SPDX-License-Identifier: GPL-3.0-or-later
"""COCO annotations (compressed RLE, as pycocotools writes it): one per visible instance
from an instance-id mask, or one per visible pass index from an object-index mask."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import pairwise
from typing import Any

import numpy as np


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


def _runs(positions: np.ndarray, size: int) -> list[int]:
    """COCO's run lengths of a mask (column by column, starting with a run of zeros,
    possibly empty), from its set pixels' ascending positions in column order, of
    ``size`` pixels in all."""
    if positions.size == 0:
        return [size]
    breaks = np.flatnonzero(np.diff(positions) != 1) + 1
    starts, ends = positions[np.r_[0, breaks]], positions[np.r_[breaks - 1, positions.size - 1]] + 1
    bounds = np.column_stack([starts, ends]).ravel()
    counts = np.diff(np.r_[0, bounds, size]).tolist()
    return counts if counts[-1] else counts[:-1]


def _annotations(mask: np.ndarray, category: Callable[[int], int]) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(value, annotation without ids)`` per positive value of ``mask`` whose
    ``category`` is positive. One sort of the labelled pixels, however many values.
    ``bbox`` is ``[x, y, width, height]`` in pixels covering whole pixels (COCO's
    convention: x, y the top-left corner of the top-left pixel), ``area`` the pixel count."""
    height, width = mask.shape
    flat = np.asarray(mask).ravel(order="F")
    labelled = np.flatnonzero(flat > 0)
    labels = flat[labelled]
    order = np.argsort(labels, kind="stable")
    labels, labelled = labels[order], labelled[order]
    bounds = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1], True]) if labels.size else np.zeros(1, int)
    for begin, end in pairwise(bounds):
        value = int(labels[begin])
        if category(value) <= 0:
            continue
        positions = labelled[begin:end]
        xs, ys = np.divmod(positions, height)
        x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())
        yield (
            value,
            {
                "category_id": int(category(value)),
                "segmentation": {"size": [height, width], "counts": compress_counts(_runs(positions, flat.size))},
                "area": int(end - begin),
                "bbox": [x0, y0, x1 - x0 + 1, y1 - y0 + 1],
                "iscrowd": 0,
            },
        )


def frame_annotations(object_index: np.ndarray) -> list[dict[str, Any]]:
    """One COCO annotation (without ids) per visible pass index of the frame."""
    return [annotation for _, annotation in _annotations(object_index, lambda value: value)]


def instance_annotations(instance_id: np.ndarray, ids: np.ndarray, classes: np.ndarray) -> list[dict[str, Any]]:
    """One COCO annotation (without ids) per visible instance whose object has a pass
    index (its category), naming the ``instance_id`` it covers. ``ids`` and ``classes``
    are the frame's ``instance_box_id`` and ``instance_box_class``."""
    category = dict(zip(ids.tolist(), classes.tolist(), strict=True))
    return [
        {**annotation, "instance_id": value}
        for value, annotation in _annotations(instance_id, lambda value: category.get(value, 0))
    ]


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
