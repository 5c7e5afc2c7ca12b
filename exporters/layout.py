# SPDX-License-Identifier: GPL-3.0-or-later
"""Where each output of a frame goes inside the output folder (see docs/contract.md), and
which frames have files there (``formats.py`` says which files make a frame complete)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

META_NAME = "meta.json"
_FRAME_FILE = re.compile(r"^(-?\d+)\.(png|npz|exr)$")


@dataclass(frozen=True)
class OutputOptions:
    """Which files a frame gets besides ``rgb/`` (one switch per format of ``formats.py``)."""

    npz: bool = True
    npz_level: int = 1  # zlib level of the NPZ, 0 = uncompressed
    exr: bool = False
    exr_single: bool = False  # one EXR per image array, channels named as image readers expect
    previews: bool = True
    flo: bool = False  # Middlebury .flo, forward and backward
    kitti_flow: bool = False  # KITTI 16-bit flow PNG, forward and backward
    depth_png16: bool = False  # 16-bit depth PNG, depth_png16_scale values per metre
    depth_png16_scale: float = 1000.0
    coco: bool = False  # the frame's COCO record, merged into coco.json after a run


def frame_stem(frame: int) -> str:
    """``000042`` for frame 42; negative frames keep their sign (``-00003``)."""
    return f"{frame:06d}"


def rgb_path(root: Path, frame: int) -> Path:
    return root / "rgb" / f"{frame_stem(frame)}.png"


def npz_path(root: Path, frame: int) -> Path:
    return root / "npz" / f"{frame_stem(frame)}.npz"


def exr_path(root: Path, frame: int) -> Path:
    return root / "exr" / f"{frame_stem(frame)}.exr"


def frame_file(root: Path, frame: int) -> Path:
    """The frame's record to read back: its NPZ, or its EXR where it has no NPZ."""
    path = npz_path(root, frame)
    return path if path.exists() else exr_path(root, frame)


def exr_single_path(root: Path, key: str, frame: int) -> Path:
    return root / "exr_single" / key / f"{frame_stem(frame)}.exr"


def preview_path(root: Path, key: str, frame: int) -> Path:
    return root / "preview" / key / f"{frame_stem(frame)}.png"


def flo_path(root: Path, direction: str, frame: int) -> Path:
    return root / "flo" / direction / f"{frame_stem(frame)}.flo"


def kitti_flow_path(root: Path, direction: str, frame: int) -> Path:
    return root / "kitti_flow" / direction / f"{frame_stem(frame)}.png"


def depth_png16_path(root: Path, frame: int) -> Path:
    return root / "depth_png16" / f"{frame_stem(frame)}.png"


def coco_record_path(root: Path, frame: int) -> Path:
    """The frame's part of ``coco.json`` (hidden: coco.json is what users read)."""
    return root / ".coco" / f"{frame_stem(frame)}.json"


def instances_path(root: Path, frame: int) -> Path:
    """The instances the frame shows: its rows of ``meta.json``'s ``instances``."""
    return root / "instances" / f"{frame_stem(frame)}.json"


def frames_on_disk(root: Path) -> set[int]:
    """Frame numbers that have at least one file in the folder's ``rgb/``, ``npz/`` or ``exr/``."""
    frames = set()
    for folder in ("rgb", "npz", "exr"):
        if (root / folder).is_dir():
            for path in (root / folder).iterdir():
                match = _FRAME_FILE.match(path.name)
                if match:
                    frames.add(int(match.group(1)))
    return frames
