# SPDX-License-Identifier: GPL-3.0-or-later
"""The command line: the same export as the panel, for render farms and scripts.

Inside Blender (registered with ``bpy.utils.register_cli_command``)::

    blender -b scene.blend -c ground_truth render --out DIR [--frames 1-240] [...]

With the ``bpy`` module (``pip install bpy OpenEXR``), from the folder that holds this
package::

    python -m ground_truth.cli render --blend scene.blend --out DIR [--frames 1-240] [...]

Both run :func:`run`. Every setting of the panel has a flag (``render --help``); the
flags make an :class:`~.pipeline.options.ExportOptions`, and the .blend's
``scene.ground_truth`` is read only for the COCO category names and the Animation Range,
never written. Exit status 0 when every frame is complete, 1 with one line
``ground_truth: error: ...`` when the export fails, 2 for bad arguments, 130 when
interrupted (complete frames stay; run again to resume).
"""

from __future__ import annotations

import argparse
import os
import sys

import bpy

from .core.frames import parse_frames
from .core.modalities import MODALITIES
from .exporters.formats import FORMATS as FILE_FORMATS
from .exporters.layout import OutputOptions
from .pipeline.export import ExportError, Progress, animation_frames, export_frames
from .pipeline.options import ExportOptions, options_from_settings
from .pipeline.quiet import hide_lines

PROG = "ground_truth"
FORMATS = tuple(f.key for f in FILE_FORMATS if f.flag is None)  # --formats; previews have --no-previews
_handle = None


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no traceback, exit status 2
        raise _UsageError(message)


def _frames(text: str) -> list[int]:
    try:
        return parse_frames(text)
    except ValueError as error:  # argparse shows ArgumentTypeError's own words
        raise argparse.ArgumentTypeError(str(error)) from None


def _names(known: tuple[str, ...], what: str):
    """An argparse type: a comma-separated list of ``known`` names."""

    def parse(text: str) -> tuple[str, ...]:
        names = tuple(name.strip() for name in text.split(",") if name.strip())
        unknown = [name for name in names if name not in known]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {what} {', '.join(unknown)} (choose from {', '.join(known)})")
        return names

    return parse


def _category(text: str) -> tuple[int, str]:
    index, equals, name = text.partition("=")
    if not (equals and index.strip().isdigit() and int(index) > 0 and name.strip()):
        raise argparse.ArgumentTypeError(f"bad category {text!r} (want PASS_INDEX=NAME, e.g. 3=chair)")
    return int(index), name.strip()


def _level(text: str) -> int:
    if not (text.isdigit() and 0 <= int(text) <= 9):
        raise argparse.ArgumentTypeError(f"bad compression level {text!r} (want 0 to 9)")
    return int(text)


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 1.0 <= value <= 100000.0:
        raise argparse.ArgumentTypeError(f"bad depth scale {text!r} (want values per metre, 1 to 100000)")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Export computer-vision ground truth from a Blender scene.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    render = commands.add_parser("render", help="render frames and export their ground truth")
    render.add_argument("--blend", help="open this .blend first (with the bpy module; blender -b FILE opens it)")
    render.add_argument("--out", required=True, help="output folder")
    render.add_argument(
        "--frames",
        type=_frames,
        help="e.g. 1-240, 1-240:4 (every 4th), 1,5,9 (default: the panel's Animation Range, else the scene's)",
    )
    keys = tuple(m.key for m in MODALITIES)
    render.add_argument(
        "--modalities",
        type=_names(keys, "modality"),
        default=keys,
        help=f"comma-separated, of: {','.join(keys)} (default: all the engine can give)",
    )
    render.add_argument(
        "--formats",
        type=_names(FORMATS, "format"),
        default=("npz",),
        help=f"comma-separated, of: {','.join(FORMATS)} (default: npz)",
    )
    render.add_argument("--no-previews", action="store_true", help="do not write preview/ pictures")
    render.add_argument("--npz-compression", type=_level, default=1, help="zlib level of the NPZ, 0-9 (default 1)")
    render.add_argument(
        "--depth-png16-scale",
        type=_scale,
        default=1000.0,
        help="values per metre in depth_png16/ (default 1000: millimetres; 256: KITTI)",
    )
    render.add_argument(
        "--coco-category",
        type=_category,
        action="append",
        default=[],
        metavar="INDEX=NAME",
        help="name the COCO category of an object pass index (repeatable; default: the .blend's "
        "COCO Categories table, else the objects' names)",
    )
    render.add_argument("--overwrite", action="store_true", help="render frames that are complete already")
    return parser


def options_from_args(args: argparse.Namespace, settings) -> ExportOptions:
    """The run's options from the flags; of the .blend's settings only the COCO category
    names are kept (they name the scene's pass indices), the flags' names winning."""
    formats = set(args.formats)
    return ExportOptions(
        output_dir=os.path.abspath(args.out),
        modalities=args.modalities,
        files=OutputOptions(
            **{key: key in formats for key in FORMATS},
            previews=not args.no_previews,
            npz_level=args.npz_compression,
            depth_png16_scale=args.depth_png16_scale,
        ),
        categories={**options_from_settings(settings).categories, **dict(args.coco_category)},
    )


class _ProgressLine:
    """``[#####-----]  12/40  Frame 57 · 2.1 s/frame · 0:58 left`` on stderr, one line a frame."""

    def __call__(self, progress: Progress) -> None:
        filled = round(20 * progress.finished / max(progress.total, 1))
        print(f"[{'#' * filled}{'-' * (20 - filled)}] {progress.describe()}", file=sys.stderr, flush=True)


def run(argv: list[str]) -> int:
    """Parse ``argv`` (without the command name), export, and return the exit status."""
    try:
        args = _parser().parse_args(argv)
        if args.blend:
            if not os.path.isfile(args.blend):
                raise _UsageError(f"no such .blend file: {args.blend}")
            with hide_lines("Read blend:"):
                bpy.ops.wm.open_mainfile(filepath=os.path.abspath(args.blend))
    except _UsageError as error:
        print(f"{PROG}: error: {error} (see {PROG} render --help)", file=sys.stderr)
        return 2
    scene = bpy.context.scene
    options = options_from_args(args, scene.ground_truth)
    frames = args.frames or animation_frames(scene, scene.ground_truth)
    try:
        progress = export_frames(scene, bpy.context.view_layer, options, frames, args.overwrite, _ProgressLine())
    except ExportError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; complete frames are kept, run again to resume", file=sys.stderr)
        return 130
    print(f"{PROG}: {progress.done} frames exported, {progress.skipped} complete already, in {args.out}")
    return 0


def register() -> None:
    global _handle
    if hasattr(bpy.utils, "register_cli_command"):  # Blender 4.2+
        _handle = bpy.utils.register_cli_command(PROG, run)


def unregister() -> None:
    global _handle
    if _handle is not None:
        bpy.utils.unregister_cli_command(_handle)
        _handle = None


def main() -> None:
    """``python -m ground_truth.cli``: the add-on registered into the bpy module, then :func:`run`.

    What it registers it unregisters before exiting (bpy 4.2 crashes at exit otherwise).
    """
    from . import register as register_addon
    from . import unregister as unregister_addon

    registered_here = not hasattr(bpy.types.Scene, "ground_truth")
    if registered_here:
        register_addon()
    try:
        status = run(sys.argv[1:])
    finally:
        if registered_here:
            unregister_addon()
    sys.exit(status)


if __name__ == "__main__":
    main()
