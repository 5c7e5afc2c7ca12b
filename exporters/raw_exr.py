# SPDX-License-Identifier: GPL-3.0-or-later
"""Read the compositor's multilayer EXR (our File Output node's) into pass images."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path

import numpy as np

from .exr_scanline import UnsupportedExrError, map_uncompressed, read_uncompressed

# Component order of Blender's channel suffixes.
_ORDER = {"V": 0, "X": 0, "Y": 1, "Z": 2, "W": 3, "R": 0, "G": 1, "B": 2, "A": 3}


class Passes(MutableMapping):
    """``{layer: float32 image}``, each image made when it is first looked up (then
    kept): the caller decides on which thread the copying happens."""

    def __init__(self, makers: dict[str, Callable[[], np.ndarray]]):
        self._makers, self._made = makers, {}

    def __getitem__(self, layer: str) -> np.ndarray:
        if layer not in self._made:
            self._made[layer] = self._makers[layer]()
        return self._made[layer]

    def __setitem__(self, layer: str, image: np.ndarray) -> None:
        self._makers[layer] = lambda: image
        self._made[layer] = image

    def __delitem__(self, layer: str) -> None:
        del self._makers[layer]
        self._made.pop(layer, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._makers)

    def __len__(self) -> int:
        return len(self._makers)


def _stack(channels: list[np.ndarray]) -> np.ndarray:
    image = np.empty((*channels[0].shape, len(channels)), np.float32)
    for c, channel in enumerate(channels):
        image[..., c] = channel
    return image


def _channels(path: str | Path) -> dict[str, np.ndarray]:
    """The file's channels: mapped, not read, where the system allows deleting a mapped
    file; read where the file is not an uncompressed single-part scanline EXR."""
    try:
        if os.name == "nt":
            return read_uncompressed(path)
        return map_uncompressed(path)  # the scratch file: uncompressed, no OpenEXR needed
    except UnsupportedExrError:
        import OpenEXR

        exr = OpenEXR.File(str(path), separate_channels=True)
        return {name: channel.pixels for part in exr.parts for name, channel in part.channels.items()}


def read_raw_passes(path: str | Path) -> Passes:
    """Every layer of a Blender multilayer EXR, as ``{layer: float32 array}``.

    Channels named ``<layer>.<component>`` are gathered per layer: one component gives
    an (H, W) image, several give (H, W, C) in X/Y/Z/W or R/G/B/A order. Single- and
    multi-part files (Blender 5 writes one part per layer) read alike. Rows come top row
    first, as the EXR stores them. The uncompressed scratch file is mapped into memory,
    not read: a one-component layer is a view of it, a layer of several is put together
    when first looked up, and the file may be deleted at once.
    """
    channels = _channels(path)
    layers: dict[str, list[tuple[int, str]]] = {}
    for name in channels:
        layer, _, component = name.rpartition(".")
        if layer and component in _ORDER:
            layers.setdefault(layer, []).append((_ORDER[component], name))
    makers = {}
    for layer, components in layers.items():
        parts = [channels[name] for _, name in sorted(components)]
        if len(parts) == 1:
            makers[layer] = lambda p=parts[0]: np.asarray(p, dtype=np.float32)
        else:
            makers[layer] = lambda p=parts: _stack(p)
    return Passes(makers)
