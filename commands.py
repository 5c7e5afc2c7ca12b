# SPDX-License-Identifier: GPL-3.0-or-later
"""The commands of the command line (see :mod:`.cli`): the parser and the dispatch.
``farm`` and ``view`` run without Blender (:mod:`.farm.driver`, :mod:`.viewer`);
``render`` and ``merge`` in it (:mod:`.pipeline.command`). Inside Blender the add-on
registers :func:`run` as ``blender -c ground_truth``."""

from __future__ import annotations

import argparse
import sys

from .flags import EXIT_FAILED, EXIT_USAGE, PROG, Parser, UsageError, export_flags, frame_list, render_flags

_handle = None


def parser() -> argparse.ArgumentParser:
    from .farm.driver import add_farm_parser

    parser = Parser(prog=PROG, description="Export computer-vision ground truth from a Blender scene.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    what, how = export_flags(), render_flags()
    frames_help = "e.g. 1-240, 1-240:4 (every 4th), 1,5,9 (default: the panel's Animation Range, else the scene's)"
    render = commands.add_parser("render", parents=[what, how], help="render frames and export their ground truth")
    render.add_argument("--blend", help="open this .blend first (with the bpy module; blender -b FILE opens it)")
    render.add_argument("--out", required=True, help="output folder")
    render.add_argument("--frames", type=frame_list, help=frames_help)
    render.add_argument(
        "--chunk-manifest",
        metavar="PATH",
        help="farm mode: write what this run completed to PATH (JSON) and leave meta.json, "
        "coco.json and the contact sheet to the farm's merge",
    )
    merge = commands.add_parser(
        "merge",
        parents=[what],
        help="write meta.json, coco.json and the contact sheet for the frames complete in a folder",
    )
    merge.add_argument("--blend", help="open this .blend first (with the bpy module; blender -b FILE opens it)")
    merge.add_argument("--out", required=True, help="output folder")
    merge.add_argument("--frames", type=frame_list, help="exit 1 naming those of these frames that are not complete")
    merge.add_argument(
        "--report",
        metavar="PATH",
        help="farm mode: once meta.json is written, write PATH (JSON): the frames complete and those missing",
    )
    add_farm_parser(commands, [what, how])
    view = commands.add_parser(
        "view",
        help="write DIR/run.rrd, a Rerun recording of the folder (cameras, RGB, depth points, masks, flow, "
        "tracks), and open Rerun's viewer when a display is there (needs rerun-sdk, not Blender)",
    )
    view.add_argument("folder", metavar="DIR", help="an output folder")
    view.add_argument("--no-viewer", action="store_true", help="only write the recording")
    view.add_argument(
        "--max-points", type=int, default=100_000, metavar="N", help="depth points per frame and view (a pixel grid)"
    )
    return parser


def view(args: argparse.Namespace) -> int:
    """``view``: write the recording, then open the viewer when one can run."""
    from . import viewer

    if not viewer.rerun_installed():
        print(f"{PROG}: error: the 3D view needs Rerun: {viewer.INSTALL}", file=sys.stderr)
        return EXIT_USAGE
    if args.max_points < 1:
        print(f"{PROG}: error: --max-points must be 1 or more", file=sys.stderr)
        return EXIT_USAGE
    try:
        path = viewer.write_recording(args.folder, args.max_points)
    except (viewer.ViewerError, OSError, ValueError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{PROG}: recording {path}")
    if args.no_viewer or not viewer.can_open_viewer():
        reason = "" if args.no_viewer else " (no display here)"
        print(f"{PROG}: open it with: rerun {path}{reason}")
    else:
        viewer.open_viewer(path)
    return 0


def run(argv: list[str]) -> int:
    """Parse ``argv`` (without the program's name), run the command, return the exit status."""
    try:
        args = parser().parse_args(argv)
    except UsageError as error:
        print(f"{PROG}: error: {error} (see {PROG} --help)", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "farm":
        from .farm.driver import run_farm

        return run_farm(args)
    if args.command == "view":
        return view(args)
    from .pipeline import command

    return command.run(args)


def register() -> None:
    """``blender -c ground_truth …`` (Blender 4.2+)."""
    global _handle
    import bpy

    if hasattr(bpy.utils, "register_cli_command"):  # Blender 4.2+
        _handle = bpy.utils.register_cli_command(PROG, run)


def unregister() -> None:
    global _handle
    if _handle is not None:
        import bpy

        bpy.utils.unregister_cli_command(_handle)
        _handle = None
