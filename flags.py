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
from .core.settings import SETTINGS, Setting
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


def _npy(text: str) -> str:
    if not text.endswith(".npy") or not os.path.isfile(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a .npy file")
    return os.path.abspath(text)


def positive(text: str) -> int:
    if not (text.isdigit() and int(text) > 0):
        raise argparse.ArgumentTypeError(f"bad count {text!r} (want a whole number above 0)")
    return int(text)


def _device(text: str) -> str:
    if text.upper() not in DEVICES:
        raise argparse.ArgumentTypeError(f"unknown device {text!r} (choose from {', '.join(DEVICES)})")
    return text.upper()


def _setting(setting: Setting):
    """An argparse type: the setting's value from its flag's text (its bounds, its check)."""

    def parse(text: str):
        try:
            return setting.parse(text)
        except ValueError as error:  # argparse shows ArgumentTypeError's own words
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def export_flags() -> argparse.ArgumentParser:
    """The flags that say what a run writes: shared by ``render``, ``merge`` and ``farm``.
    Those of the settings table (``core/settings.py``) have its names (``args.use_tracks``
    is ``--tracks``) and its bounds; a bool's flag turns it on."""
    flags = Parser(add_help=False)
    keys = tuple(m.key for m in MODALITIES)
    off = [m.key for m in MODALITIES if not m.default]
    flags.add_argument(
        "--modalities",
        type=_names(keys, "modality"),
        default=tuple(m.key for m in MODALITIES if m.default),
        help=f"comma-separated, of: {','.join(keys)} (default: all the engine can give but {', '.join(off)})",
    )
    flags.add_argument(
        "--formats",
        type=_names(FORMATS, "format"),
        default=("npz",),
        help=f"comma-separated, of: {','.join(FORMATS)} (default: npz)",
    )
    flags.add_argument("--no-previews", action="store_true", help="do not write preview/ pictures")
    for setting in SETTINGS:
        if setting.flag is None:
            continue
        about = setting.description[0].lower() + setting.description[1:]
        if isinstance(setting.default, bool):
            flags.add_argument(setting.flag, dest=setting.name, action="store_true", help=about)
        else:
            default = f" (default {setting.default})" if setting.default != "" else ""
            flags.add_argument(
                setting.flag, dest=setting.name, type=_setting(setting), default=setting.default, help=about + default
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
        "--track-queries",
        type=_npy,
        metavar="FILE.npy",
        help="(N, 3) float array of (frame index, y, x) queries instead of sampled ones; implies --tracks",
    )
    flags.add_argument("--camera-collection", default="", metavar="NAME", help="the cameras of --views COLLECTION")
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


def formats_on(args: argparse.Namespace) -> dict[str, bool]:
    """Each file format's switch, by key, from :func:`export_flags`' flags."""
    formats = set(args.formats)
    return {**{key: key in formats for key in FORMATS}, "previews": not args.no_previews}


def output_options(args: argparse.Namespace) -> OutputOptions:
    """The files a frame gets, from :func:`export_flags`' flags."""
    return OutputOptions(
        **formats_on(args),
        npz_level=args.npz_compression,
        preview_width=args.preview_width,
        depth_png16_scale=args.depth_png16_scale,
    )
