"""Where each output of a frame goes inside the output folder (see SPEC.md)."""

from __future__ import annotations

from pathlib import Path

META_NAME = "meta.json"


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
