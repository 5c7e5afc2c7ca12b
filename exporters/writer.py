"""Write one frame's outputs (NPZ, EXR, previews) into the output folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.png import write_png
from ..core.previews import previews
from .atomic import atomic_path
from .frame_io import write_exr, write_npz
from .layout import OutputOptions, exr_path, npz_path, preview_path


def write_frame(root: Path, frame: int, arrays: dict[str, np.ndarray], options: OutputOptions) -> list[Path]:
    """Write the frame's files, each atomically; the NPZ (the frame's record) comes last.

    Returns the paths written.
    """
    written: list[Path] = []
    if options.previews:
        for key, (image, text) in previews(arrays).items():
            path = preview_path(root, key, frame)
            with atomic_path(path) as tmp, open(tmp, "wb") as stream:
                write_png(stream, image, text)
            written.append(path)
    if options.exr:
        write_exr(exr_path(root, frame), arrays)
        written.append(exr_path(root, frame))
    if options.npz:
        write_npz(npz_path(root, frame), arrays)
        written.append(npz_path(root, frame))
    return written
