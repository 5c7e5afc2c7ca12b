# SPDX-License-Identifier: GPL-3.0-or-later
"""Where each output of a frame goes inside the output folder (see docs/contract.md), and which
frames there are complete."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..core.previews import preview_keys

META_NAME = "meta.json"
_FRAME_FILE = re.compile(r"^(-?\d+)\.(png|npz|exr)$")


@dataclass(frozen=True)
class OutputOptions:
    """Which files a frame gets besides ``rgb/``."""

    npz: bool = True
    npz_level: int = 1  # zlib level of the NPZ, 0 = uncompressed
    exr: bool = False
    previews: bool = True
    flo: bool = False  # Middlebury .flo, forward and backward
    kitti_flow: bool = False  # KITTI 16-bit flow PNG, forward and backward
    depth_png16: bool = False  # 16-bit depth PNG, depth_png16_scale values per metre
    depth_png16_scale: float = 1000.0
    coco: bool = False  # the frame's COCO record, merged into coco.json after a run


FLOW_DIRECTIONS = {"forward": "flow_forward", "backward": "flow_backward"}


def frame_stem(frame: int) -> str:
    """``000042`` for frame 42; negative frames keep their sign (``-00003``)."""
    return f"{frame:06d}"


def rgb_path(root: Path, frame: int) -> Path:
    return root / "rgb" / f"{frame_stem(frame)}.png"


def npz_path(root: Path, frame: int) -> Path:
    return root / "npz" / f"{frame_stem(frame)}.npz"


def exr_path(root: Path, frame: int) -> Path:
    return root / "exr" / f"{frame_stem(frame)}.exr"


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


def expected_files(root: Path, frame: int, array_keys: Iterable[str], options: OutputOptions) -> list[Path]:
    """Every file a complete frame has, for a frame with these arrays and options, in
    the order the writer writes them (the NPZ, the frame's record, last)."""
    keys = set(array_keys)
    files = [rgb_path(root, frame)]
    if options.previews:
        files += [preview_path(root, key, frame) for key in preview_keys(keys)]
    for direction, key in FLOW_DIRECTIONS.items():
        if key in keys and options.flo:
            files.append(flo_path(root, direction, frame))
        if key in keys and options.kitti_flow:
            files.append(kitti_flow_path(root, direction, frame))
    if "depth" in keys and options.depth_png16:
        files.append(depth_png16_path(root, frame))
    if "object_index" in keys and options.coco:
        files.append(coco_record_path(root, frame))
    if options.exr:
        files.append(exr_path(root, frame))
    if options.npz:
        files.append(npz_path(root, frame))
    return files


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


def complete_frames(root: Path, array_keys: Iterable[str], options: OutputOptions) -> list[int]:
    """The frames in the folder that have every file ``expected_files`` lists, sorted."""
    keys = set(array_keys)
    return sorted(f for f in frames_on_disk(root) if all(p.exists() for p in expected_files(root, f, keys, options)))
