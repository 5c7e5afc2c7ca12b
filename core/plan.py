# SPDX-License-Identifier: GPL-3.0-or-later
"""What an export renders and writes, from the registry (``modalities.py``): the one
wanted → given → passes → arrays chain (:func:`plan`), the conversion of a frame's
passes into its arrays (:func:`frame_arrays`), and the scratch EXR's size."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .camera import FrameCamera
from .convert import FrameData
from .modalities import CAMERA_ARRAYS, MODALITIES, MODALITY_BY_KEY, engine_gives, offset_keys
from .registry import BACKGROUND_PASS, PASSES, engine_family


@dataclass(frozen=True)
class Plan:
    """What an export with some modalities switched on renders and writes on one engine."""

    modalities: tuple[str, ...]  # the wanted ones the engine gives, in registry order
    missing: tuple[str, ...]  # the wanted ones it cannot give
    passes: tuple[str, ...]  # the passes to render (the background pass always among them)
    arrays: frozenset[str]  # every array key of a frame
    offsets: tuple[int, ...] = ()  # the flow offsets k >= 2 given
    from_geometry: tuple[str, ...] = ()  # the given ones computed from the scene's geometry

    @property
    def flow(self) -> bool:
        return "vector" in self.passes

    @property
    def geometric(self) -> bool:
        """Whether frames need rays cast into the scene's geometry."""
        return bool(self.offsets or self.from_geometry)

    @property
    def labels(self) -> tuple[str, ...]:
        """What the rays must tell of each pixel: of ``instance_id``, ``semantic``,
        ``object_index``, ``material_index``."""
        wanted = {MODALITY_BY_KEY[m].ray_label for m in self.from_geometry} - {None}
        return tuple(sorted(wanted))


def plan(
    engine: str,
    wanted: Iterable[str],
    offsets: Iterable[int] = (),
    geometry: bool = True,
    stereo: bool | None = None,
) -> Plan:
    """The one wanted → given → passes → arrays chain (operators, wiring and export use it).

    A modality that goes with another (occlusion with flow) comes only with it; offsets
    only with flow. ``geometry=False`` (a render that cannot cast rays into the scene's
    frames: F12) leaves out what is computed from the geometry, as missing. ``stereo``:
    whether the views form a rectified stereo pair (None: they form no pair, and what
    only a pair gives is not asked for; False: a pair that is not rectified, where it is
    missing)."""
    wanted = {key for key in wanted if stereo is not None or not MODALITY_BY_KEY[key].stereo}
    family = engine_family(engine)
    chosen = [m for m in MODALITIES if m.key in wanted and (m.requires is None or m.requires in wanted)]
    can = {
        m.key
        for m in chosen
        if engine_gives(engine, m.key) and (geometry or not m.from_geometry(family)) and (stereo or not m.stereo)
    }
    given = [m for m in chosen if m.key in can and (m.requires is None or m.requires in can)]
    keys = [m.key for m in given]
    offsets = tuple(offsets) if geometry and "flow" in keys else ()
    missing = [m.key for m in chosen if m not in given]
    passes = {BACKGROUND_PASS} | {p for m in given if not m.from_geometry(family) for p in m.passes}
    return Plan(
        modalities=tuple(keys),
        missing=tuple(missing),
        passes=tuple(p for p in PASSES if p in passes),
        arrays=frozenset(a.key for m in given for a in m.arrays)
        | {a.key for a in CAMERA_ARRAYS}
        | set(offset_keys(keys, offsets)),
        offsets=offsets,
        from_geometry=tuple(m.key for m in given if m.from_geometry(family)),
    )


def frame_arrays(
    passes: dict[str, np.ndarray],
    modalities: Iterable[str],
    camera: FrameCamera,
    frame: int,
    geometry: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Every array of ``modalities`` (and the camera's) from one frame's raw passes.

    ``passes`` maps pass keys to float32 images with row 0 at the top (as the scratch
    EXR holds them) and is consumed: a pass is dropped as soon as no later modality
    needs it, so that a large frame holds its passes and arrays together one pass at a
    time. ``camera`` is the view's at this frame; ``geometry`` holds the arrays computed
    from rays cast into the scene.
    """
    order = [MODALITY_BY_KEY[key] for key in modalities]
    data = FrameData(passes, camera, geometry or {})
    for name in set(passes) - {p for m in order for p in m.passes}:
        del passes[name]  # rendered for the background only
    for i, modality in enumerate(order):
        data.arrays.update(modality.convert(data))
        later = {p for m in order[i + 1 :] for p in m.passes}
        for name in modality.passes:
            if name not in later:
                passes.pop(name, None)
    data.arrays["K"] = np.asarray(camera.K, dtype=np.float64)
    data.arrays["world_to_camera"] = np.asarray(camera.world_to_camera, dtype=np.float64)
    data.arrays["frame"] = np.int64(frame)
    return data.arrays


def scratch_bytes(passes: Iterable[str], width: int, height: int, with_combined: bool = False) -> int:
    """An upper bound of the compositor's scratch EXR for these passes (float32 channels,
    a scanline table, a header); ``with_combined`` adds the Render Result's four colour
    channels, for a Blender that saves the whole Render Result there (4.2)."""
    channels = sum(PASSES[p].channels for p in passes) + (4 if with_combined else 0)
    return width * height * 4 * channels + (height + 1) * 8 + (1 << 20)
