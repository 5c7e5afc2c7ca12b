# SPDX-License-Identifier: GPL-3.0-or-later
"""The smallest whole file of each format at a path (whole by ``exporters/whole.py``'s
checks), for tests about which frames are complete, not what they hold."""

import io
from pathlib import Path

import numpy as np
from ground_truth.core.encoders import write_flo
from ground_truth.core.png import write_png
from ground_truth.exporters.frame_io import write_exr
from ground_truth.exporters.npz import write_npz


def _png() -> bytes:
    stream = io.BytesIO()
    write_png(stream, np.zeros((1, 1, 3), np.uint8))
    return stream.getvalue()


_PNG = _png()


def write_stub(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".png":
        path.write_bytes(_PNG)
    elif path.suffix == ".npz":
        write_npz(path, {"depth": np.zeros((1, 1), np.float32)})
    elif path.suffix == ".exr":
        write_exr(path, {"depth": np.zeros((1, 1), np.float32)})
    elif path.suffix == ".flo":
        with open(path, "wb") as stream:
            write_flo(stream, np.zeros((1, 1, 2), np.float32))
    else:
        path.write_text("{}")
