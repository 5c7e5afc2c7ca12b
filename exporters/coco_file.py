# SPDX-License-Identifier: GPL-3.0-or-later
"""``coco.json``: the COCO instances of every complete frame, merged from the frames'
records after each run."""

from __future__ import annotations

import json
from pathlib import Path

from ..core.coco import merge
from .atomic import atomic_path
from .layout import coco_record_path

COCO_NAME = "coco.json"


def write_coco(root: Path, frames: list[int], categories: dict[int, str]) -> Path:
    """Merge the records of ``frames`` into ``root/coco.json`` (atomically) and return it."""
    records = []
    for frame in frames:
        with open(coco_record_path(root, frame), encoding="utf-8") as stream:
            records.append(json.load(stream))
    with atomic_path(root / COCO_NAME) as tmp, open(tmp, "w", encoding="utf-8") as stream:
        json.dump(merge(records, categories), stream)
    return root / COCO_NAME
