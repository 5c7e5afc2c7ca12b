# SPDX-License-Identifier: GPL-3.0-or-later
"""The command line's shared pieces: the program's name, its exit statuses, the flags
of what a run writes and how it renders, and the progress bar. A leaf: it imports
neither Blender nor the modules that run the commands (:mod:`.commands`, the farm, the
pipeline), which all import it."""

from __future__ import annotations

import argparse
import os

from .core.frames import parse_frames
from .core.modalities import MODALITIES
from .core.motion import offsets_from_text
from .exporters.formats import FORMATS as FILE_FORMATS
from .exporters.layout import OutputOptions

PROG = "ground_truth"
FORMATS = tuple(f.key for f in FILE_FORMATS if f.flag is None)  # --formats; previews have --no-previews
DEVICES = ("CPU", "CUDA", "OPTIX", "HIP", "METAL", "ONEAPI")
EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED, EXIT_INTERRUPTED = 1, 2, 3, 130
FRAME_LINE = f"{PROG}: frame "  # a farm worker's "ground_truth: frame 12 exported|skipped"


class UsageError(Exception):
    """Bad arguments: one line, exit status 2."""


class Parser(argparse.ArgumentParser):
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
    flags = Parser(add_help=False)
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
    flags = Parser(add_help=False)
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
