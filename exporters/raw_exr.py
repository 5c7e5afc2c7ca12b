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
    try:
        channels = read_uncompressed(path)  # the scratch file: uncompressed, no OpenEXR needed
    except UnsupportedExrError:
        import OpenEXR

        exr = OpenEXR.File(str(path), separate_channels=True)
        channels = {name: channel.pixels for part in exr.parts for name, channel in part.channels.items()}
    layers: dict[str, list[tuple[int, str]]] = {}
    for name in channels:
        layer, _, component = name.rpartition(".")
        if layer and component in _ORDER:
            layers.setdefault(layer, []).append((_ORDER[component], name))
    out = {}
    for layer, components in layers.items():
        components.sort()
        if len(components) == 1:
            out[layer] = np.asarray(channels.pop(components[0][1]), dtype=np.float32)
            continue
        first = channels[components[0][1]]
        image = np.empty((*first.shape, len(components)), np.float32)
        for c, (_, name) in enumerate(components):
            image[..., c] = channels.pop(name)  # each channel freed once copied: one layer extra at most
        out[layer] = image
    return out
