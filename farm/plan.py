# SPDX-License-Identifier: GPL-3.0-or-later
"""What a farm run does, decided without Blender: the chunks, the worker's command for
each, and which frames an earlier run already completed."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

from ..core.frames import format_frames
from ..core.settings import SETTINGS
from ..exporters import chunks
from ..exporters.chunks import FARM_DIR
from ..exporters.formats import frames_named, is_complete
from ..exporters.layout import META_NAME, OutputOptions, inside

PACKAGE_PARENT = str(Path(__file__).absolute().parents[2])  # the folder holding ground_truth/ (links kept)


def farm_dir(out: str) -> Path:
    return Path(out) / FARM_DIR


def split(frames: list[int], size: int) -> list[list[int]]:
    """``frames`` in order, cut into chunks of ``size`` (the last may be shorter)."""
    return [frames[i : i + size] for i in range(0, len(frames), size)]


def _export_argv(args: argparse.Namespace) -> list[str]:
    """The flags that say what is written, for the worker's ``render`` and ``merge``: every
    setting of the table with a flag, by value (a worker's defaults may be another
    version's), but for an empty text and a bool that is off."""
    argv = ["--modalities", ",".join(args.modalities), "--formats", ",".join(args.formats)]
    if args.no_previews:
        argv.append("--no-previews")
    for setting in SETTINGS:
        value = getattr(args, setting.name, None) if setting.flag else None
        if setting.name == "use_tracks":
            value = value or bool(args.track_queries)  # --track-queries implies --tracks
        if isinstance(value, bool):
            argv += [setting.flag] if value else []
        elif value not in (None, ""):
            argv += [setting.flag, setting.text(value)]
    for index, name in args.coco_category:
        argv += ["--coco-category", f"{index}={name}"]
    if args.track_queries:
        argv += ["--track-queries", args.track_queries]
    if args.camera_collection:
        argv += ["--camera-collection", args.camera_collection]
    return argv


@dataclass(frozen=True)
class Worker:
    """How a node starts the worker Blender: ``blender -b FILE -c ground_truth ...`` or
    ``python -m ground_truth.cli ... --blend FILE`` (this package found through
    ``PYTHONPATH``: the farm assumes the same paths on every node)."""

    blend: str
    out: str
    blender: str | None = None
    python: str | None = None

    def command(self, subcommand: str, argv: list[str]) -> list[str]:
        if self.blender:
            return [self.blender, "-b", self.blend, "-c", "ground_truth", subcommand, "--out", self.out, *argv]
        return [self.python, "-m", "ground_truth.cli", subcommand, "--blend", self.blend, "--out", self.out, *argv]

    def env(self) -> dict[str, str]:
        return {} if self.blender else {"PYTHONPATH": PACKAGE_PARENT}


def worker(args: argparse.Namespace) -> Worker:
    return Worker(
        blend=os.path.abspath(args.blend),
        out=os.path.abspath(args.out),
        blender=os.path.abspath(args.blender) if args.blender else None,
        python=os.path.abspath(args.worker_python) if args.worker_python else None,
    )


def render_argv(args: argparse.Namespace) -> list[str]:
    """The worker's ``render`` flags that every chunk shares (``--frames`` and
    ``--chunk-manifest`` follow)."""
    argv = [*_export_argv(args), "--threads", str(args.cpus_per_task)]
    if args.device:
        argv += ["--device", args.device]
    if args.overwrite:
        argv.append("--overwrite")
    return argv


def chunk_argv(args: argparse.Namespace, chunk: list[int]) -> list[str]:
    """The worker's ``render`` flags for ``chunk`` (its manifest named by its first frame)."""
    frames = ["--frames", format_frames(chunk), "--chunk-manifest", str(manifest_path(args.out, chunk))]
    return [*render_argv(args), *frames]


def merge_argv(args: argparse.Namespace, frames: list[int]) -> list[str]:
    """The worker's ``merge`` flags: every frame of the run must end complete, and the
    report says that ``meta.json`` was written."""
    return [*_export_argv(args), "--frames", format_frames(frames), "--report", str(merge_report_path(args.out))]


def manifest_path(out: str, chunk: list[int]) -> Path:
    return Path(os.path.abspath(out)) / chunks.CHUNKS_DIR / f"{chunk[0]:06d}.json"


def merge_report_path(out: str) -> Path:
    """What the merge writes once ``meta.json`` is: its absence means the merge failed."""
    return farm_dir(os.path.abspath(out)) / "merge.json"


def read_merge_report(out: str) -> dict | None:
    """The merge's report (``merge_report_path``), or None where it wrote none."""
    try:
        with open(merge_report_path(out), encoding="utf-8") as stream:
            return json.load(stream)
    except (OSError, ValueError):
        return None


def log_path(out: str, chunk: list[int], attempt: int) -> Path:
    return farm_dir(os.path.abspath(out)) / "logs" / f"{chunk[0]:06d}.{attempt}.log"


def _frame_contents(root: Path) -> tuple[list[str], list[str]] | None:
    """What a complete frame holds, as an earlier run found it: its array keys and the
    views' folders ("." for one view). From meta.json (with several views, the root's
    list of views and the first view's meta.json), or a chunk manifest (a farm killed
    before its merge)."""
    for path in chain([root / META_NAME], (root / chunks.CHUNKS_DIR).glob("*.json")):  # the first that reads
        try:
            with open(path, encoding="utf-8") as stream:
                found = json.load(stream)
            if "views" in found:  # the root meta.json of several views
                folders = [inside(root, view["folder"]).relative_to(root).as_posix() for view in found["views"]]
                with open(root / folders[0] / META_NAME, encoding="utf-8") as stream:
                    return list(json.load(stream)["arrays"]), folders
            return list(found["arrays"]), list(found.get("folders", ["."]))
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            continue
    return None


def complete_already(out: str, frames: list[int], options: OutputOptions) -> list[int]:
    """Those of ``frames`` that are complete in the folder: every file there, by name (one
    listing of each folder), and whole: checked file by file, except for the frames that
    a chunk report of this export found complete (``exporters/chunks.py``). The cost does
    not grow with the files' sizes, and a million frames of a farm open no file."""
    root = Path(os.path.abspath(out))
    found = _frame_contents(root)
    if found is None:
        return []
    keys, folders = found
    vouched, _ = chunks.reported(root, keys, folders)
    named = set.intersection(*(frames_named(root / folder, keys, options) for folder in folders))
    return [
        f
        for f in frames
        if f in named and (f in vouched or all(is_complete(root / folder, f, keys, options) for folder in folders))
    ]
