# SPDX-License-Identifier: GPL-3.0-or-later
"""Where each output of a frame goes inside the output folder (see docs/contract.md;
``formats.py`` says which files make a frame complete)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

META_NAME = "meta.json"


@dataclass(frozen=True)
class OutputOptions:
    """Which files a frame gets besides ``rgb/`` (one switch per format of ``formats.py``)."""

    npz: bool = True
    npz_level: int = 1  # zlib level of the NPZ, 0 = uncompressed
    exr: bool = False
    exr_single: bool = False  # one EXR per image array, channels named as image readers expect
    previews: bool = True
    preview_width: int = 1280  # widest preview; wider frames are previewed at every n-th pixel (0: full size)
    flo: bool = False  # Middlebury .flo, forward and backward
    kitti_flow: bool = False  # KITTI 16-bit flow PNG, forward and backward
    depth_png16: bool = False  # 16-bit depth PNG, depth_png16_scale values per metre
    depth_png16_scale: float = 1000.0
    coco: bool = False  # the frame's COCO record, merged into coco.json after a run
    coco_by_class: bool = False  # its categories are the semantic classes (else the pass indices)
    bop: bool = False  # the BOP toolkit's layout under bop/ (exporters/bop.py)


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
    """The frame's record to read back: its NPZ, or its EXR where it has no NPZ (the NPZ's
    path where it has neither: that is the file to name as missing)."""
    path = npz_path(root, frame)
    exr = exr_path(root, frame)
    return exr if not path.exists() and exr.exists() else path


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


def names_instances(array_keys) -> bool:
    """Whether a frame with these arrays has instance ids that its table (``instances/``,
    meta.json's ``instances``) names: ``instance_id`` or the object labels' ``instance_ids``."""
    return "instance_id" in array_keys or "instance_ids" in array_keys


def instances_path(root: Path, frame: int) -> Path:
    """The instances the frame shows: its rows of ``meta.json``'s ``instances``."""
    return root / "instances" / f"{frame_stem(frame)}.json"


_KEPT = frozenset("-_+,.=@()[] ")


def view_folder(name: str) -> str:
    """A view's folder name under ``views/``: the view's name with every character other
    than a letter, a digit or one of ``- _ + , . = @ ( ) [ ]`` and space written as
    ``%XX`` (its UTF-8 bytes), and so are a leading or trailing dot or space.
    ``urllib.parse.unquote`` gives the name back. No name reaches outside ``views/``
    (``../x`` is ``%2E.%2Fx``) and two names never share a folder."""
    if not name:
        raise ValueError("a view needs a name")
    last = len(name) - 1
    return "".join(
        c
        if (c.isalnum() or c in _KEPT) and not ((i == 0 or i == last) and c in ". ")
        else "".join(f"%{b:02X}" for b in c.encode("utf-8"))
        for i, c in enumerate(name)
    )


def inside(root: Path, relative: str) -> Path:
    """``root / relative`` for a ``relative`` path (``/``-separated, as ``meta.json``
    records folders) that stays inside ``root``; ``ValueError`` for one that is absolute,
    empty or climbs out with ``..``."""
    path = PurePosixPath(relative)
    if not relative or path.is_absolute() or ".." in path.parts or "\\" in relative or ":" in path.parts[0]:
        raise ValueError(f"'{relative}' is not a folder inside {root}")
    return root.joinpath(*path.parts)
