# SPDX-License-Identifier: GPL-3.0-or-later
"""What one export run is asked to do, as a plain object: the panel's settings, the
command line's flags and a script's arguments all become an :class:`ExportOptions`, and
the export reads nothing else (it never writes into ``scene.ground_truth``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.modalities import MODALITIES
from ..core.settings import ACTIVE
from ..exporters.formats import FORMATS
from ..exporters.layout import OutputOptions


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
    modalities: tuple[str, ...] = tuple(m.key for m in MODALITIES if m.default)  # wanted; the engine may give fewer
    files: OutputOptions = field(default_factory=OutputOptions)
    categories: dict[int, str] = field(default_factory=dict)  # COCO names by pass index; others get object names
    flow_offsets: str = ""  # extra flow offsets k >= 2, "2,4,8" (checked when the run starts)
    tracks: TrackOptions | None = None  # tracks.npz at the end of the run, when set
    views: str = ACTIVE  # ACTIVE, MULTIVIEW or COLLECTION (pipeline/views.py)
    camera_collection: str = ""  # the collection's name, for COLLECTION
    transforms_json: bool = False  # nerfstudio's transforms.json at the end of the run
    colmap: bool = False  # COLMAP's text model in colmap/ at the end of the run
    colmap_points: int = 1000  # points3D.txt: up to this many points per image from its depth (0: none)
    class_property: str = "class"  # the custom property that names an object's class
    class_table: str = ""  # a JSON file {"name": id} fixing the class ids ("": sorted names)


def wanted_modalities(settings) -> tuple[str, ...]:
    """The keys of the modalities switched on in ``scene.ground_truth``, in registry order."""
    return tuple(m.key for m in MODALITIES if getattr(settings, f"use_{m.key}"))


def export_options(
    output_dir: str,
    modalities: tuple[str, ...],
    formats: dict[str, bool],
    value: Callable[[str], Any],
    categories: dict[int, str],
    camera_collection: str = "",
    track_queries: str | None = None,
) -> ExportOptions:
    """A run's options: ``value(name)`` is the settings table's setting ``name`` (the
    panel's property or the command line's flag, which share names and bounds);
    ``formats`` the file formats switched on, by key."""
    tracks = None
    if value("use_tracks") or track_queries is not None:
        tracks = TrackOptions(value("tracks_per_object"), value("tracks_seed"), track_queries)
    return ExportOptions(
        output_dir=output_dir,
        modalities=modalities,
        files=OutputOptions(
            **formats,
            npz_level=value("npz_compression"),
            preview_width=value("preview_width"),
            depth_png16_scale=value("depth_png16_scale"),
        ),
        categories=categories,
        flow_offsets=value("flow_offsets"),
        tracks=tracks,
        views=value("views"),
        camera_collection=camera_collection,
        transforms_json=value("use_transforms_json"),
        colmap=value("use_colmap"),
        colmap_points=value("colmap_points"),
        class_property=value("class_property"),
        class_table=value("class_table"),
    )


def options_from_settings(settings) -> ExportOptions:
    """The options the panel's settings (``scene.ground_truth``) describe."""
    return export_options(
        settings.output_dir,
        wanted_modalities(settings),
        {f.key: getattr(settings, f"use_{f.key}") for f in FORMATS},
        lambda name: getattr(settings, name),
        categories={c.pass_index: c.name for c in settings.categories if c.name.strip()},
        camera_collection=settings.camera_collection.name if settings.camera_collection else "",
    )
