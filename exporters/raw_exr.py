# SPDX-License-Identifier: GPL-3.0-or-later
"""Read the compositor's multilayer EXR (our File Output node's) into pass images."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .exr_scanline import UnsupportedExrError, read_uncompressed

# Component order of Blender's channel suffixes.
_ORDER = {"V": 0, "X": 0, "Y": 1, "Z": 2, "W": 3, "R": 0, "G": 1, "B": 2, "A": 3}


def read_raw_passes(path: str | Path) -> dict[str, np.ndarray]:
    """Every layer of a Blender multilayer EXR, as ``{layer: float32 array}``.

    Channels named ``<layer>.<component>`` are gathered per layer: one component gives
    an (H, W) image, several give (H, W, C) in X/Y/Z/W or R/G/B/A order. Single- and
    multi-part files (Blender 5 writes one part per layer) read alike. Rows come top row
    first, as the EXR stores them.
    """
    layers: dict[str, np.ndarray] = {}

    def into(channels: list[tuple[str, np.dtype]], height: int, width: int) -> dict[str, np.ndarray]:
        """Each layer's channels straight into its image, a component each."""
        destinations = {}
        for layer, components in _layers(name for name, _ in channels).items():
            image = layers[layer] = np.empty((height, width, len(components)), np.float32)
            for c, name in enumerate(components):
                destinations[name] = image[..., c]
        return destinations

    try:
        read_uncompressed(path, into=into)  # the scratch file: uncompressed, no OpenEXR needed
    except UnsupportedExrError:
        import OpenEXR

        exr = OpenEXR.File(str(path), separate_channels=True)
        channels = {name: channel.pixels for part in exr.parts for name, channel in part.channels.items()}
        for name, image in into([(name, None) for name in channels], *next(iter(channels.values())).shape).items():
            image[...] = channels.pop(name)  # each channel freed once copied: one layer extra at most
    return {layer: image[..., 0] if image.shape[2] == 1 else image for layer, image in layers.items()}


def _layers(names) -> dict[str, list[str]]:
    """The channels ``<layer>.<component>`` by layer, in X/Y/Z/W or R/G/B/A order."""
    layers: dict[str, list[tuple[int, str]]] = {}
    for name in names:
        layer, _, component = name.rpartition(".")
        if layer and component in _ORDER:
            layers.setdefault(layer, []).append((_ORDER[component], name))
    return {layer: [name for _, name in sorted(components)] for layer, components in layers.items()}
