# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``render`` and ``merge`` commands inside Blender (see :mod:`..cli`, :mod:`..commands`)."""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from pathlib import Path

import bpy

from ..core.frames import format_frames
from ..core.progress import Progress
from ..exporters.atomic import atomic_path
from ..exporters.errors import ExportError, ExportRefusedError
from ..exporters.formats import read_instances
from ..exporters.layout import names_instances
from ..flags import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_REFUSED,
    EXIT_USAGE,
    FRAME_LINE,
    PROG,
    UsageError,
    bar,
    formats_on,
)
from .export import animation_frames, export_frames
from .options import ExportOptions, export_options, options_from_settings
from .quiet import hide_lines
from .run_folder import RunFolder


def options_from_args(args: argparse.Namespace, settings) -> ExportOptions:
    """The run's options from the flags; of the .blend's settings only the COCO category
    names are kept (they name the scene's pass indices), the flags' names winning."""
    return export_options(
        os.path.abspath(args.out),
        args.modalities,
        formats_on(args),
        lambda name: getattr(args, name),
        categories={**options_from_settings(settings).categories, **dict(args.coco_category)},
        camera_collection=args.camera_collection,
        track_queries=args.track_queries,
    )


def use_device(scene: bpy.types.Scene, device: str) -> None:
    """Render with Cycles on ``device``: every device of that type this process sees (a
    farm gives each task its own through ``CUDA_VISIBLE_DEVICES`` and the like).
    Raises :class:`ExportRefusedError` when there is none."""
    if scene.render.engine != "CYCLES":
        if device != "CPU":
            print(f"{PROG}: note: --device is Cycles' setting; {scene.render.engine} ignores it", file=sys.stderr)
        return
    if device == "CPU":
        scene.cycles.device = "CPU"
        return
    host = socket.gethostname()
    preferences = bpy.context.preferences.addons["cycles"].preferences
    try:
        preferences.compute_device_type = device
    except TypeError:
        raise ExportRefusedError(f"This Blender's Cycles has no {device} support (on {host})") from None
    preferences.get_devices()
    found = [d for d in preferences.devices if d.type == device]
    if not found:
        seen = sorted({d.type for d in preferences.devices})
        raise ExportRefusedError(f"No {device} device on {host} (Cycles sees: {', '.join(seen) or 'none'})")
    for candidate in preferences.devices:
        candidate.use = candidate.type == device
    scene.cycles.device = "GPU"


class _ProgressLine:
    """``[#####-----]  Frame 57 · 12 of 40 · 2.1 s/frame · 0:58 left`` on stderr, one line a
    frame; in a farm's chunk also ``ground_truth: frame 57 exported`` (or ``skipped``) on
    stdout, which the farm counts."""

    def __init__(self, chunk: bool):
        self.chunk, self.skipped, self.redone = chunk, 0, 0

    def __call__(self, progress: Progress) -> None:
        for line in progress.redone[self.redone :]:
            print(f"{PROG}: {line}", file=sys.stderr, flush=True)
        self.redone = len(progress.redone)
        print(f"{bar(progress.finished, progress.total)} {progress.describe()}", file=sys.stderr, flush=True)
        if self.chunk:
            what = "skipped" if progress.skipped > self.skipped else "exported"
            self.skipped = progress.skipped
            print(f"{FRAME_LINE}{progress.frame} {what}", flush=True)


def _open(args: argparse.Namespace) -> None:
    if args.blend:
        if not os.path.isfile(args.blend):
            raise UsageError(f"no such .blend file: {args.blend}")
        try:
            with hide_lines("Read blend:"):
                bpy.ops.wm.open_mainfile(filepath=os.path.abspath(args.blend))
        except RuntimeError as error:  # not a .blend, or one Blender cannot read
            reason = str(error).removeprefix("Error: ").strip().splitlines()[0]
            raise UsageError(f"cannot open {args.blend}: {reason}") from None
    elif args.command == "merge" and not bpy.data.filepath:
        raise UsageError("merge needs --blend FILE: the .blend the folder was exported from")


def _host() -> str:
    """This machine's name, with the SLURM node's when there is one (nodes can share a host)."""
    node = os.environ.get("SLURMD_NODENAME")
    return f"{socket.gethostname()} ({node})" if node else socket.gethostname()


def _write_manifest(path: str, out: str, progress: Progress, frames: list[int]) -> None:
    """A chunk's report (``exporters/chunks.py``): which of its frames are complete, what
    a complete frame holds (its arrays, in each view's folder) and their rows of each
    view's instance table."""
    root = Path(os.path.abspath(out))
    manifest = {
        "frames": format_frames(frames),
        "complete": format_frames(progress.complete),
        "exported": progress.done,
        "skipped": progress.skipped,
        "arrays": progress.arrays,
        "folders": progress.folders,
        "instances": {f: read_instances(root / f, progress.complete) for f in progress.folders}
        if names_instances(progress.arrays)
        else None,
        "host": _host(),
        "blender_version": bpy.app.version_string,
    }
    _write_json(path, manifest)


def _write_json(path: str, data: dict) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as stream:
        json.dump(data, stream, indent=1)


def _render(args: argparse.Namespace) -> int:
    scene = bpy.context.scene
    options = options_from_args(args, scene.ground_truth)
    frames = args.frames or animation_frames(scene, scene.ground_truth)
    if args.device:
        use_device(scene, args.device)
    if args.threads:
        scene.render.threads_mode, scene.render.threads = "FIXED", args.threads
    chunk = args.chunk_manifest is not None
    progress = export_frames(
        scene, bpy.context.view_layer, options, frames, args.overwrite, _ProgressLine(chunk), run_files=not chunk
    )
    if chunk:
        _write_manifest(args.chunk_manifest, args.out, progress, frames)
    print(f"{PROG}: {progress.done} frames exported, {progress.skipped} complete already, in {args.out}")
    return 0


def _merge(args: argparse.Namespace) -> int:
    scene = bpy.context.scene
    folder = RunFolder(scene, bpy.context.view_layer, options_from_args(args, scene.ground_truth))
    folder.remove_stale_temporaries()
    complete = folder.finish(rebuild=True)
    print(f"{PROG}: {len(complete)} complete frames listed in {folder.root / 'meta.json'}")
    listed = set(complete)
    missing = [f for f in args.frames or () if f not in listed]
    if args.report:
        report = {"meta_json": str(folder.root / "meta.json"), "complete": format_frames(complete)}
        _write_json(args.report, {**report, "missing": format_frames(missing), "host": _host()})
    if missing:
        print(f"{PROG}: error: frames {format_frames(missing)} are not complete", file=sys.stderr)
        return EXIT_FAILED
    return 0


def run(args: argparse.Namespace) -> int:
    """``render`` or ``merge``, with the exit statuses of :mod:`..flags`."""
    try:
        _open(args)
        return _render(args) if args.command == "render" else _merge(args)
    except UsageError as error:
        print(f"{PROG}: error: {error} (see {PROG} {args.command} --help)", file=sys.stderr)
        return EXIT_USAGE
    except ExportRefusedError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_REFUSED
    except ExportError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; complete frames are kept, run again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
