# SPDX-License-Identifier: GPL-3.0-or-later
"""The command line: the same export as the panel, for render farms and scripts.

Inside Blender (registered with ``bpy.utils.register_cli_command``)::

    blender -b scene.blend -c ground_truth render --out DIR [--frames 1-240] [...]

With the ``bpy`` module (``pip install bpy OpenEXR``), from the folder that holds this
package::

    python -m ground_truth.cli render --blend scene.blend --out DIR [--frames 1-240] [...]

``render`` exports frames; ``merge`` only writes the files that cover the whole folder
(``meta.json``, ``coco.json``, the contact sheet, ``tracks.npz``); ``farm`` splits frames into chunks
and runs each as a ``render`` of a worker Blender on a Ray cluster or SLURM (see
:mod:`.farm`); ``view`` writes a Rerun recording of a folder (:mod:`.viewer`). ``farm``
and ``view`` need no Blender: this module imports ``bpy`` only for ``render`` and ``merge``.

Every setting of the panel has a flag (``render --help``); the flags make an
:class:`~.pipeline.options.ExportOptions`, and the .blend's ``scene.ground_truth`` is
read only for the COCO category names and the Animation Range, never written. Exit
status 0 when every frame is complete, 1 with one line ``ground_truth: error: ...`` when
the export fails, 2 for bad arguments, 3 when the export is refused before any frame
renders (no camera, no such device, ...: running it again will not help), 130 when
interrupted (complete frames stay; run again to resume).
"""

from __future__ import annotations

import argparse
import os
import sys

from .core.frames import parse_frames
from .core.modalities import MODALITIES
from .core.motion import offsets_from_text
from .exporters.formats import FORMATS as FILE_FORMATS
from .exporters.layout import OutputOptions

PROG = "ground_truth"
FORMATS = tuple(f.key for f in FILE_FORMATS if f.flag is None)  # --formats; previews have --no-previews
DEVICES = ("CPU", "CUDA", "OPTIX", "HIP", "METAL", "ONEAPI")
EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED, EXIT_INTERRUPTED = 1, 2, 3, 130
_handle = None


class UsageError(Exception):
    """Bad arguments: one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, no traceback, exit status 2
        raise UsageError(message)


def frame_list(text: str) -> list[int]:
    try:
        return parse_frames(text)
    except ValueError as error:  # argparse shows ArgumentTypeError's own words
        raise argparse.ArgumentTypeError(str(error)) from None


def _names(known: tuple[str, ...], what: str):
    """An argparse type: a comma-separated list of ``known`` names."""

    def parse(text: str) -> tuple[str, ...]:
        names = tuple(name.strip() for name in text.split(",") if name.strip())
        if not names:
            raise argparse.ArgumentTypeError(f"name at least one {what} (choose from {', '.join(known)})")
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


def _offsets(text: str) -> str:
    try:
        offsets_from_text(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _npy(text: str) -> str:
    if not text.endswith(".npy") or not os.path.isfile(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a .npy file")
    return os.path.abspath(text)


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 1.0 <= value <= 100000.0:
        raise argparse.ArgumentTypeError(f"bad depth scale {text!r} (want values per metre, 1 to 100000)")
    return value


def positive(text: str) -> int:
    if not (text.isdigit() and int(text) > 0):
        raise argparse.ArgumentTypeError(f"bad count {text!r} (want a whole number above 0)")
    return int(text)


def _whole(what: str):
    def parse(text: str) -> int:
        if not text.isdigit():
            raise argparse.ArgumentTypeError(f"bad {what} {text!r} (want a whole number, 0 or more)")
        return int(text)

    return parse


_seed, _count = _whole("seed"), _whole("count")
VIEWS = ("ACTIVE", "MULTIVIEW", "COLLECTION")


def _views(text: str) -> str:
    if text.upper() not in VIEWS:
        raise argparse.ArgumentTypeError(f"unknown views {text!r} (choose from {', '.join(VIEWS)})")
    return text.upper()


def _device(text: str) -> str:
    if text.upper() not in DEVICES:
        raise argparse.ArgumentTypeError(f"unknown device {text!r} (choose from {', '.join(DEVICES)})")
    return text.upper()


def export_flags() -> argparse.ArgumentParser:
    """The flags that say what a run writes: shared by ``render``, ``merge`` and ``farm``."""
    flags = _Parser(add_help=False)
    keys = tuple(m.key for m in MODALITIES)
    flags.add_argument(
        "--modalities",
        type=_names(keys, "modality"),
        default=keys,
        help=f"comma-separated, of: {','.join(keys)} (default: all the engine can give)",
    )
    flags.add_argument(
        "--formats",
        type=_names(FORMATS, "format"),
        default=("npz",),
        help=f"comma-separated, of: {','.join(FORMATS)} (default: npz)",
    )
    flags.add_argument("--no-previews", action="store_true", help="do not write preview/ pictures")
    flags.add_argument("--npz-compression", type=_level, default=1, help="zlib level of the NPZ, 0-9 (default 1)")
    flags.add_argument(
        "--depth-png16-scale",
        type=_scale,
        default=1000.0,
        help="values per metre in depth_png16/ (default 1000: millimetres; 256: KITTI)",
    )
    flags.add_argument(
        "--coco-category",
        type=_category,
        action="append",
        default=[],
        metavar="INDEX=NAME",
        help="name the COCO category of an object pass index (repeatable; default: the .blend's "
        "COCO Categories table, else the objects' names)",
    )
    flags.add_argument(
        "--flow-offsets",
        type=_offsets,
        default="",
        metavar="K,K",
        help="also flow and occlusion to frames t+k and t-k for these k >= 2 (e.g. 2,4,8)",
    )
    flags.add_argument("--tracks", action="store_true", help="write tracks.npz: point tracks over the frames")
    flags.add_argument(
        "--tracks-per-object", type=positive, default=256, help="query points per indexed object (default 256)"
    )
    flags.add_argument("--tracks-seed", type=_seed, default=0, help="seed of the sampled query points (default 0)")
    flags.add_argument(
        "--track-queries",
        type=_npy,
        metavar="FILE.npy",
        help="(N, 3) float array of (frame index, y, x) queries instead of sampled ones; implies --tracks",
    )
    flags.add_argument(
        "--views",
        type=_views,
        default="ACTIVE",
        help="ACTIVE (the scene camera, default), MULTIVIEW (the .blend's Stereoscopy views, one render) or "
        "COLLECTION (every camera of --camera-collection); several views write views/<name>/",
    )
    flags.add_argument("--camera-collection", default="", metavar="NAME", help="the cameras of --views COLLECTION")
    flags.add_argument("--transforms-json", action="store_true", help="write nerfstudio's transforms.json")
    flags.add_argument("--colmap", action="store_true", help="write COLMAP's text model in colmap/")
    flags.add_argument(
        "--colmap-points",
        type=_count,
        default=1000,
        help="points per image in colmap/points3D.txt, from its depth (default 1000; 0: none)",
    )
    return flags


def render_flags() -> argparse.ArgumentParser:
    """The flags of how frames render: ``render`` and ``farm``."""
    flags = _Parser(add_help=False)
    flags.add_argument(
        "--device",
        type=_device,
        help=f"Cycles' device, one of {', '.join(DEVICES)} (default: the .blend's); a GPU "
        "type uses every device of that type the process sees",
    )
    flags.add_argument("--threads", type=positive, help="CPU threads Blender renders with (default: all cores)")
    flags.add_argument("--overwrite", action="store_true", help="render frames that are complete already")
    return flags


def bar(done: int, total: int) -> str:
    """``[#####---------------]``: the start of every progress line."""
    filled = round(20 * done / max(total, 1))
    return f"[{'#' * filled}{'-' * (20 - filled)}]"


def output_options(args: argparse.Namespace) -> OutputOptions:
    """The files a frame gets, from :func:`export_flags`' flags."""
    formats = set(args.formats)
    return OutputOptions(
        **{key: key in formats for key in FORMATS},
        previews=not args.no_previews,
        npz_level=args.npz_compression,
        depth_png16_scale=args.depth_png16_scale,
    )


def _parser() -> argparse.ArgumentParser:
    from .farm.driver import add_farm_parser

    parser = _Parser(prog=PROG, description="Export computer-vision ground truth from a Blender scene.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
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
        args = _parser().parse_args(argv)
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


def main() -> None:
    """``python -m ground_truth.cli``: ``farm`` as it is; ``render`` and ``merge`` with the
    add-on registered into the bpy module (and unregistered before exiting: bpy 4.2
    crashes at exit otherwise)."""
    if len(sys.argv) < 2 or sys.argv[1] not in ("render", "merge"):
        sys.exit(run(sys.argv[1:]))
    import bpy

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
