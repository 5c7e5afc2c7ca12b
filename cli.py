"""The command line: the same export as the panel, for render farms and scripts.

Inside Blender (registered with ``bpy.utils.register_cli_command``)::

    blender -b scene.blend -c ground_truth render --out DIR [--frames 1-240] [...]

With the ``bpy`` module (``pip install bpy OpenEXR``), from the folder that holds this
package::

    python -m ground_truth.cli render --blend scene.blend --out DIR [--frames 1-240] [...]

Both run :func:`run`. Exit status 0 when every frame is complete, 1 with one line
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
from .pipeline.export import ExportError, Progress, animation_frames, export_frames

PROG = "ground_truth"
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


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Export computer-vision ground truth from a Blender scene.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    render = commands.add_parser("render", help="render frames and export their ground truth")
    render.add_argument("--blend", help="open this .blend first (with the bpy module; blender -b FILE opens it)")
    render.add_argument("--out", required=True, help="output folder")
    render.add_argument(
        "--frames", type=_frames, help="e.g. 1-240, 1-240:4 (every 4th), 1,5,9 (default: the scene's range)"
    )
    render.add_argument(
        "--modalities",
        type=lambda text: text.split(","),
        help=f"comma-separated, of: {','.join(m.key for m in MODALITIES)} (default: all the engine can give)",
    )
    render.add_argument("--formats", type=lambda text: text.split(","), default=["npz"], help="npz, exr or npz,exr")
    render.add_argument("--no-previews", action="store_true", help="do not write preview/ pictures")
    render.add_argument("--overwrite", action="store_true", help="render frames that are complete already")
    return parser


def _configure(args: argparse.Namespace) -> None:
    settings = bpy.context.scene.ground_truth
    settings.output_dir = os.path.abspath(args.out)
    known = [m.key for m in MODALITIES]
    if args.modalities:
        unknown = sorted(set(args.modalities) - set(known))
        if unknown:
            raise _UsageError(f"unknown modality {', '.join(unknown)} (choose from {', '.join(known)})")
    for key in known:
        setattr(settings, f"use_{key}", args.modalities is None or key in args.modalities)
    if set(args.formats) - {"npz", "exr"}:
        raise _UsageError(f"unknown format in {','.join(args.formats)} (choose from npz, exr)")
    settings.use_npz, settings.use_exr = "npz" in args.formats, "exr" in args.formats
    settings.use_previews = not args.no_previews


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
            bpy.ops.wm.open_mainfile(filepath=os.path.abspath(args.blend))
        _configure(args)
    except _UsageError as error:
        print(f"{PROG}: error: {error} (see {PROG} render --help)", file=sys.stderr)
        return 2
    scene = bpy.context.scene
    frames = args.frames or animation_frames(scene, scene.ground_truth)
    progress_line = _ProgressLine()
    try:
        progress = export_frames(
            scene, bpy.context.view_layer, scene.ground_truth, frames, args.overwrite, progress_line
        )
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
