# SPDX-License-Identifier: GPL-3.0-or-later
"""One view's frame from its passes to its files, on the background writer's thread:
read the passes, cast the frame's rays, convert, write, update ``meta.json``. No
``bpy``: what came from Blender arrives as plain values (:class:`ViewFrame`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..core.camera import FrameCamera
from ..core.convert import mark_background
from ..core.plan import frame_arrays
from .background import encoding_pool
from .errors import ExportError
from .formats import write_frame
from .layout import OutputOptions, names_instances
from .meta import MetaKeeper
from .stages import Stages

log = logging.getLogger(__name__)


class CapturedGeometry(Protocol):
    """The scene's geometry captured for one view's frame (``pipeline/motion.py``, ``core/surfaces.py``): what
    its rays need, cast here."""

    def arrays(self, depth: np.ndarray, run: Callable = map) -> dict[str, np.ndarray]:
        """The arrays computed from rays (occlusion, flow over k frames, instance ids),
        their work handed out through ``run`` (``map``, or an executor's)."""

    def instance_table(self, ids: np.ndarray) -> dict[str, dict[str, Any]]:
        """The frame's rows of the instance table, for the ids given."""


@dataclass
class ViewFrame:
    """One view's rendered frame, handed to the writer: its camera, a reader of its
    passes (which deletes their scratch file) and its captured geometry, if any."""

    frame: int
    camera: FrameCamera
    read_passes: Callable[[], dict[str, np.ndarray]]
    geometry: CapturedGeometry | None = None


@dataclass
class FrameTiming:
    """Where one view's frame spent its export step (read by bench/): seconds per stage
    on Blender's thread after the render (shared by the views of one render) and in the
    writer's job, whose stages may overlap (files are encoded side by side), so its
    length is ``writer_wall``. ``waited`` is the main thread's wait for the writer."""

    frame: int
    view: str
    main: dict[str, float]
    writer: dict[str, float] = field(default_factory=dict)
    writer_wall: float = 0.0
    waited: float = 0.0

    @property
    def export_step(self) -> float:
        return sum(self.main.values()) + self.writer_wall


class FrameWriter:
    """Writes views' frames of one run: ``size`` (W, H) is what every frame must have,
    ``modalities`` what is converted, ``files`` which files each frame gets;
    ``keep_meta`` updates each view's ``meta.json`` a frame at a time (not in a farm's
    chunk, whose merge lists the frames). ``timings`` grows by one per view's frame."""

    def __init__(self, size: tuple[int, int], modalities: list[str], files: OutputOptions, keep_meta: bool):
        self.size, self.modalities, self.files, self.keep_meta = size, modalities, files, keep_meta
        self.timings: list[FrameTiming] = []
        # Set when no render runs beside the writer any more (the run is ending): the
        # frames left then cast their rays on the encoding threads too.
        self.alone = False
        # Given each frame's pictures (previews) as written, by path, which the run's end
        # may show (its contact sheet) without reading them back; None: not kept.
        self.keep_pictures: Callable[[int, dict[Path, np.ndarray]], None] | None = None

    def write(self, root: Path, keeper: MetaKeeper, view: ViewFrame, timing: FrameTiming) -> None:
        """Write ``view``'s frame into ``root``; raises :class:`ExportError`."""
        frame = view.frame
        stages, started = Stages(), time.perf_counter()
        try:
            with stages.time("read scratch exr"):
                raw = view.read_passes()
        except OSError as error:
            raise ExportError(f"Writing frame {frame} failed: {error}") from error
        except RuntimeError as error:
            raise ExportError(f"Frame {frame}: {error}") from error
        height, width = raw["depth"].shape
        if (width, height) != self.size:
            expected = "×".join(map(str, self.size))
            raise ExportError(f"Frame {frame}: rendered {width}×{height} pixels, expected {expected}")
        with stages.time("convert"):
            mark_background(raw["depth"], view.camera.clip_end)
        try:
            with stages.time("rays"):
                run = encoding_pool().map if self.alone else map
                geometry = view.geometry.arrays(raw["depth"], run) if view.geometry is not None else {}
            with stages.time("convert"):
                arrays = frame_arrays(raw, self.modalities, view.camera, frame, geometry)
                instances = None
                if names_instances(arrays):
                    ids = [arrays[k] for k in ("instance_box_id", "instance_ids") if k in arrays]
                    instances = view.geometry.instance_table(np.concatenate(ids))
            pictures = write_frame(root, frame, arrays, self.files, instances, stages)
            if self.keep_pictures is not None:
                self.keep_pictures(frame, pictures)
            if self.keep_meta:
                with stages.time("meta.json"):
                    keeper.frame_done(frame, instances)
        except OSError as error:  # TimeoutError (a held meta lock) included
            raise ExportError(f"Writing frame {frame} failed: {error}") from error
        timing.writer, timing.writer_wall = stages.seconds, time.perf_counter() - started
        self.timings.append(timing)
        log.info("exported frame %d to %s", frame, root)
