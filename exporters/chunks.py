# SPDX-License-Identifier: GPL-3.0-or-later
"""A farm's chunk reports, ``DIR/_farm/chunks/<first frame>.json``: what each worker
found complete at the end of its chunk (every file checked whole, ``whole.py``), what a
frame holds, and its frames' rows of the instance table.

They let a farm of a million frames resume, follow its progress and merge without
opening a million frames' files: a frame that a report of the same export calls complete
needs only its files' names to be there still (one listing of each folder). The layout
is described in docs/contract.md ("Farms").
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..core.frames import parse_frames

FARM_DIR = "_farm"
CHUNKS_DIR = Path(FARM_DIR) / "chunks"


class ChunkReports:
    """The reports in ``root``'s chunk folder, read as they appear: :meth:`read_new`
    reads only those written (or written again) since its last call."""

    def __init__(self, root: Path):
        self.folder = str(root / CHUNKS_DIR)
        self._seen: dict[str, int] = {}  # path: mtime_ns when read

    def read_new(self) -> list[dict[str, Any]]:
        found = []
        try:
            with os.scandir(self.folder) as entries:
                fresh = [(e.path, e.stat().st_mtime_ns) for e in entries if e.name.endswith(".json")]
        except FileNotFoundError:
            return []
        for path, stamp in sorted(fresh):
            if self._seen.get(path) == stamp:
                continue
            try:
                with open(path, "rb") as stream:
                    report = json.loads(stream.read())
                report["complete"] = parse_frames(report["complete"]) if report.get("complete") else []
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue  # being replaced, or not ours: read again when it changes
            self._seen[path] = stamp
            found.append(report)
        return found


def same_export(report: dict[str, Any], array_keys: Iterable[str], folders: list[str]) -> bool:
    """Whether ``report`` comes from an export with these arrays in these views' folders."""
    return sorted(report.get("arrays", ())) == sorted(array_keys) and report.get("folders", ["."]) == folders


def reported(root: Path, array_keys: Iterable[str], folders: list[str]) -> tuple[set[int], dict[str, dict[str, dict]]]:
    """The frames that ``root``'s chunk reports of this export found complete, and the
    instance rows they give per view's folder (reports of another export are passed over)."""
    keys = sorted(array_keys)
    complete: set[int] = set()
    rows: dict[str, dict[str, dict]] = {folder: {} for folder in folders}
    for report in ChunkReports(root).read_new():
        if same_export(report, keys, folders):
            complete.update(report["complete"])
            for folder, table in (report.get("instances") or {}).items():
                if folder in rows:
                    rows[folder].update(table)
    return complete, rows
