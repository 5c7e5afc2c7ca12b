# SPDX-License-Identifier: GPL-3.0-or-later
"""The run's contact sheet: a few frames × (RGB and every preview), one PNG."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import Future
from pathlib import Path

import bpy
import numpy as np

from ..core.png import read_png, write_png
from ..core.previews import THUMBNAIL_SIDE, ContactSheet, fit, thumbnail
from ..exporters.atomic import atomic_path
from ..exporters.background import encoding_pool
from ..exporters.layout import preview_path, rgb_path

CONTACT_SHEET_NAME = "contact_sheet.png"


def _ours(path: Path) -> np.ndarray | None:
    """An 8-bit RGB(A) PNG that :func:`read_png` decodes (ours), as (H, W, 3); else None."""
    ours = read_png(path.read_bytes())
    return ours[..., :3] if ours is not None and ours.dtype == np.uint8 and ours.shape[2] >= 3 else None


def load_png(path: Path) -> np.ndarray:
    """An 8-bit PNG through Blender's image loader (Blender's own RGB pictures, whose
    rows :func:`read_png` does not undo): (H, W, 3) uint8, row 0 on top."""
    image = bpy.data.images.load(str(path), check_existing=False)
    try:
        width, height = image.size
        pixels = np.empty(width * height * image.channels, np.float32)
        image.pixels.foreach_get(pixels)
    finally:
        bpy.data.images.remove(image)
    rgb = pixels.reshape(height, width, -1)[::-1, :, :3]  # Blender's buffers start at the bottom
    return np.rint(np.clip(rgb, 0, 1) * 255).astype(np.uint8)


class RunEndPictures:
    """The pictures the end of a run shows (the contact sheet, the tracks' strip), read
    once: :meth:`read_ahead` starts on them while the writer still writes the last
    frames, RGB through Blender's loader on Blender's thread (which only waits then)
    and the previews' thumbnails on the encoding threads; the writer hands over those
    of the previews it has in hand (:meth:`keep`). At most ``budget`` bytes are kept;
    a picture not kept is read when it is asked for."""

    def __init__(self, budget: int = 64 << 20):
        self._rgb: dict[Path, np.ndarray] = {}
        self._tiles: dict[Path, Future] = {}
        self._left = budget
        self._lock = threading.Lock()  # the writer's thread keeps pictures too

    def keep(self, pictures: dict[Path, np.ndarray]) -> None:
        """Keep the thumbnails of previews just written (``pictures``, by path), which
        then need not be read back; within the budget."""
        for path, picture in pictures.items():
            tile = thumbnail(picture)
            with self._lock:
                if tile.nbytes > self._left:
                    return
                self._left -= tile.nbytes
                self._tiles[path] = done = Future()
            done.set_result(tile)

    def read_ahead(self, rgb: Iterable[Path], previews: Iterable[Path], size: tuple[int, int]) -> None:
        """Start on the previews' thumbnails, then read the RGB pictures, of those that
        exist (``size``: (W, H), each one's)."""
        shrink = -(-max(size) // THUMBNAIL_SIDE)
        tile_bytes = (size[0] // shrink) * (size[1] // shrink) * 3
        for path in dict.fromkeys(previews):
            if path in self._tiles or not path.is_file():
                continue
            with self._lock:
                if tile_bytes > self._left:
                    break
                self._left -= tile_bytes
                self._tiles[path] = encoding_pool().submit(_preview_tile, path)
        for path in dict.fromkeys(rgb):
            if path in self._rgb or not path.is_file():
                continue
            with self._lock:
                if size[0] * size[1] * 3 > self._left:
                    return
                self._left -= size[0] * size[1] * 3
            self._rgb[path] = load_png(path)

    def rgb(self, path: Path) -> np.ndarray:
        """The RGB picture at ``path``: kept, or read now."""
        kept = self._rgb.get(path)
        return load_png(path) if kept is None else kept

    def tile(self, path: Path) -> Future:
        """The thumbnail of the preview at ``path``, to come (None: not ours, for Blender's loader)."""
        return self._tiles.get(path) or encoding_pool().submit(_preview_tile, path)


def sheet_frames(frames: list[int], rows: int = 4) -> list[int]:
    """The contact sheet's frames: up to ``rows`` spread over ``frames``, first and last included."""
    count = min(rows, len(frames))
    return [frames[round(i * (len(frames) - 1) / max(count - 1, 1))] for i in range(count)]


def _preview_tile(path: Path) -> np.ndarray | None:
    """A preview's thumbnail, made off Blender's thread (None: not ours, for Blender's loader)."""
    ours = _ours(path)
    return thumbnail(ours) if ours is not None else None


def write_contact_sheet(
    root: Path, frames: list[int], preview_keys: list[str], pictures: RunEndPictures | None = None
) -> Path | None:
    """The frames of :func:`sheet_frames`, each a row of RGB then the previews (from
    ``pictures`` where given).

    Returns the sheet's path, or None when there is nothing to show.
    """
    if not frames:
        return None
    picks = sheet_frames(frames)
    pictures = pictures or RunEndPictures(0)
    paths = [[rgb_path(root, f), *(preview_path(root, key, f) for key in preview_keys)] for f in picks]
    # The previews (ours) are decoded on the encoding threads while Blender's loader reads
    # the RGB pictures here (a Blender call, on Blender's thread).
    previews = [[pictures.tile(p) for p in files] for _, *files in paths]
    grid = []
    for (rgb_file, *files), tiles in zip(paths, previews, strict=True):
        first = thumbnail(pictures.rgb(rgb_file))  # at most 640 px a side
        shown = [tile.result() for tile in tiles]
        shown = [thumbnail(load_png(p)) if t is None else t for p, t in zip(files, shown, strict=True)]
        # Previews may be smaller than the frame (``preview_width``): shown at the RGB's size.
        grid.append([first, *(fit(picture, *first.shape[:2]) for picture in shown)])
    path = root / CONTACT_SHEET_NAME
    with atomic_path(path) as tmp, open(tmp, "wb") as stream:
        text = {"frames": " ".join(map(str, picks)), "columns": "rgb " + " ".join(preview_keys)}
        write_png(stream, ContactSheet(grid), text, run=encoding_pool().map)  # deflated on two threads or more
    return path
