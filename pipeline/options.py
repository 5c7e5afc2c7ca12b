# SPDX-License-Identifier: GPL-3.0-or-later
"""What one export run is asked to do, as a plain object: the panel's settings, the
command line's flags and a script's arguments all become an :class:`ExportOptions`, and
the export reads nothing else (it never writes into ``scene.ground_truth``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.modalities import MODALITIES
from ..exporters.formats import FORMATS
from ..exporters.layout import OutputOptions
from .views import ACTIVE


@dataclass(frozen=True)
class TrackOptions:
    """Point tracks over the run's frames (``tracks.npz``)."""

    per_object: int = 256
    seed: int = 0
    queries: str | np.ndarray | None = None  # (N, 3) (frame index, y, x), or a .npy of them; None: sampled


@dataclass(frozen=True)
class ExportOptions:
    """One run's options (the names follow ``scene.ground_truth``; see docs/contract.md)."""

    output_dir: str  # as given: '//' is relative to the saved .blend
    modalities: tuple[str, ...] = tuple(m.key for m in MODALITIES)  # wanted; the engine may give fewer
    files: OutputOptions = field(default_factory=OutputOptions)
    categories: dict[int, str] = field(default_factory=dict)  # COCO names by pass index; others get object names
    flow_offsets: str = ""  # extra flow offsets k >= 2, "2,4,8" (checked when the run starts)
    tracks: TrackOptions | None = None  # tracks.npz at the end of the run, when set
    views: str = ACTIVE  # ACTIVE, MULTIVIEW or COLLECTION (pipeline/views.py)
    camera_collection: str = ""  # the collection's name, for COLLECTION
    transforms_json: bool = False  # nerfstudio's transforms.json at the end of the run
    colmap: bool = False  # COLMAP's text model in colmap/ at the end of the run
    colmap_points: int = 1000  # points3D.txt: up to this many points per image from its depth (0: none)


def wanted_modalities(settings) -> tuple[str, ...]:
    """The keys of the modalities switched on in ``scene.ground_truth``, in registry order."""
    return tuple(m.key for m in MODALITIES if getattr(settings, f"use_{m.key}"))


def options_from_settings(settings) -> ExportOptions:
    """The options the panel's settings (``scene.ground_truth``) describe."""
    return ExportOptions(
        output_dir=settings.output_dir,
        modalities=wanted_modalities(settings),
        files=OutputOptions(
            **{f.key: getattr(settings, f"use_{f.key}") for f in FORMATS},
            npz_level=settings.npz_compression,
            depth_png16_scale=settings.depth_png16_scale,
        ),
        categories={c.pass_index: c.name for c in settings.categories if c.name.strip()},
        flow_offsets=settings.flow_offsets,
        tracks=TrackOptions(settings.tracks_per_object, settings.tracks_seed) if settings.use_tracks else None,
        views=settings.views,
        camera_collection=settings.camera_collection.name if settings.camera_collection else "",
        transforms_json=settings.use_transforms_json,
        colmap=settings.use_colmap,
        colmap_points=settings.colmap_points,
    )
