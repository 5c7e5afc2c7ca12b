# SPDX-License-Identifier: GPL-3.0-or-later
"""Render frames and export their ground truth: the one code path behind the panel's
button, the animation export, export on F12 and the command line.

An :class:`Exporter` is one run with its :class:`~.options.ExportOptions`: the scene and
options are checked once, the scene state the passes need is set for the run (and
undone after it), and then each frame is ``before_render()`` → a render →
``after_render()``. Who renders differs (a blocking
``render.render()``, Blender's own render job, or an F12 render seen through handlers);
the export does not.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import bpy
import numpy as np

from .. import compat
from ..core.camera import intrinsics, output_size, world_to_camera
from ..core.convert import mark_background
from ..core.modalities import Plan, frame_arrays, plan, scratch_bytes
from ..core.motion import offsets_from_text
from ..core.previews import preview_keys
from ..core.support import addon_version
from ..exporters.atomic import atomic_path, remove_stale_temporaries
from ..exporters.background import BackgroundWriter
from ..exporters.coco_file import write_coco
from ..exporters.formats import expected_files, is_complete, write_frame
from ..exporters.layout import rgb_path
from ..exporters.meta import MetaKeeper, MetaMismatchError, check_same_export
from . import motion, scene_info, scratch
from .checks import blocking_problems, output_root
from .contact import write_contact_sheet
from .options import ExportOptions
from .quiet import hide_lines
from .session import ExportSession
from .tracks import write_tracks

log = logging.getLogger(__name__)
_own_renders = 0


class ExportError(Exception):
    """An export that cannot run or did not finish; the message is for the user."""


class ExportRefusedError(ExportError):
    """An export refused before any frame rendered (running it again will not help)."""


@dataclass
class FrameResult:
    """One exported frame: where it went and what the engine could not give."""

    frame: int
    root: Path
    files: list[Path] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


@contextmanager
def own_render() -> Iterator[None]:
    """Mark renders started by the export itself, so that the F12 handlers stay out."""
    global _own_renders
    _own_renders += 1
    try:
        yield
    finally:
        _own_renders -= 1


def rendering_for_export() -> bool:
    return _own_renders > 0


def _scene_meta(scene, view_layer, size: tuple[int, int], modalities, missing, arrays):
    objects = scene_info.objects_table(scene)
    materials = scene_info.materials_table(scene)
    return {
        "addon": {"id": "ground_truth", "version": addon_version()},
        "blender_version": bpy.app.version_string,
        "engine": scene.render.engine,
        "view_layer": view_layer.name,
        "resolution": list(size),
        "fps": scene.render.fps / scene.render.fps_base,
        "scene_frame_range": [scene.frame_start, scene.frame_end],
        "camera": scene.camera.name,
        "projection": {"PERSP": "perspective", "ORTHO": "orthographic"}[scene.camera.data.type],
        "modalities": list(modalities),
        "missing_modalities": list(missing),
        "arrays": sorted(arrays),
        "objects": objects,
        "materials": materials,
        "object_index_names": scene_info.index_names(objects),
        "material_index_names": scene_info.index_names(materials),
    }


def export_plan(scene: bpy.types.Scene, options: ExportOptions, geometry: bool = True) -> Plan:
    """What a run with ``options`` renders and writes on the scene's engine. ``geometry``
    is whether the run may visit other frames (not from inside a render job: F12)."""
    try:
        offsets = offsets_from_text(options.flow_offsets)
    except ValueError as error:
        raise ExportRefusedError(f"Flow Offsets: {error}") from None
    return plan(scene.render.engine, options.modalities, offsets, geometry)


class Exporter:
    """One export run over any number of frames (see the module's docstring)."""

    def __init__(
        self,
        scene: bpy.types.Scene,
        view_layer: bpy.types.ViewLayer,
        options: ExportOptions,
        run_files: bool = True,
        geometry: bool = True,
    ):
        """``run_files=False`` (a farm's chunk): no ``meta.json``, ``coco.json``,
        contact sheet or tracks, and no scan of the folder; the farm's merge writes them
        once. ``geometry=False`` (renders started by Blender, F12): nothing computed
        from rays into the scene (occlusion, flow offsets, tracks, instance ids, and
        EEVEE's masks)."""
        problems = blocking_problems(scene, options.output_dir)
        if problems:
            raise ExportRefusedError(problems[0])
        self.scene, self.view_layer = scene, view_layer
        self.root = output_root(options.output_dir)
        self.plan = export_plan(scene, options, geometry)
        self.tracks = options.tracks if geometry else None
        self.missing = list(self.plan.missing)
        self.modalities = list(self.plan.modalities)
        self.options = options.files
        self.array_keys = self.plan.arrays
        self.size = output_size(scene_info.camera_params(scene))
        self.meta = _scene_meta(scene, view_layer, self.size, self.modalities, self.missing, self.array_keys)
        if self.options.depth_png16:
            self.meta["depth_png16_scale_per_metre"] = self.options.depth_png16_scale
        self.meta["flow_offsets"] = list(self.plan.offsets)
        if self.plan.offsets or "occlusion" in self.modalities or self.tracks:
            self.meta["surface_motion"] = motion.motion_routes(scene)
        self.categories = {**scene_info.names_by_index(self.meta["objects"]), **options.categories}
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            check_same_export(self.root, self.meta)
            needed = scratch_bytes(self.plan.passes, *self.size, with_combined=not compat.FILE_OUTPUT_KEEPS_VECTOR_W)
            parent = scratch.choose(needed, self.root, scratch_override())
        except scratch.ScratchError as error:
            raise ExportRefusedError(str(error)) from error
        except OSError as error:
            raise ExportRefusedError(f"Cannot create the Output Folder '{self.root}': {error.strerror}") from error
        except MetaMismatchError as error:
            raise ExportRefusedError(f"Output Folder '{self.root}': {error}; choose another folder") from error
        self.session = ExportSession(scene, view_layer, self.plan.passes, self.plan.flow, parent, self.plan.geometric)
        self.motion = motion.GeometryCache(scene, view_layer) if self.plan.geometric else None
        self.run_files = run_files
        self.meta_keeper = MetaKeeper(self.root, self.meta, self.array_keys, self.options)
        self._pending: tuple[int, np.ndarray, np.ndarray, float] | None = None
        # Per frame: (frame, seconds on the main thread after the render, seconds the
        # writer spent converting and writing). Read by bench/.
        self.timings: list[tuple[int, float, float]] = []

    def __enter__(self) -> Exporter:
        self.session.__enter__()
        if self.run_files:  # a farm's chunk leaves both scans of the folder to the merge
            remove_stale_temporaries(self.root)
            self.meta_keeper.start()
        self._writer = BackgroundWriter(depth=1)
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        try:
            try:
                self._writer.close()  # every frame handed over is written before anything else
            except ExportError:
                if exc_type is None:
                    raise
                log.exception("writing failed while the run was ending on another error")
            finally:
                self.session.__exit__(exc_type, exc, traceback)
        finally:
            if self.run_files:
                self.finish_run(raise_errors=exc_type is None)

    def finish_run(self, raise_errors: bool = True) -> list[int]:
        """Write what covers the whole folder: meta.json, coco.json and the contact sheet
        (also after an error or an interruption, for the frames that are complete); return
        the complete frames. meta.json is rewritten even when this run wrote nothing: a
        killed run may have left it behind the files on disk."""
        frames: list[int] = []
        try:
            frames = self.meta_keeper.finish()
            if self.options.coco and self.array_keys & {"instance_id", "object_index"}:
                write_coco(self.root, frames, self.categories)
            if self.options.previews:
                write_contact_sheet(self.root, frames, preview_keys(self.array_keys))
            if self.tracks is not None and frames:
                previews = self.options.previews
                write_tracks(self.scene, self.view_layer, self.root, frames, self.tracks, self.size, previews)
        except (OSError, RuntimeError, ValueError) as error:
            if raise_errors:
                raise ExportError(f"Finishing {self.root} failed: {error}") from error
            log.error("could not finish %s: %s", self.root, error)  # the run's own error comes first
        return frames

    def is_complete(self, frame: int) -> bool:
        """Whether every file of ``frame`` is already in the output folder."""
        return is_complete(self.root, frame, self.array_keys, self.options)

    def before_render(self) -> None:
        """Note the frame and its camera (K, pose) before the render moves anything."""
        scene = self.scene
        params = scene_info.camera_params(scene)
        pose = world_to_camera(scene_info.camera_matrix_world(scene))
        self._pending = (scene.frame_current, intrinsics(params), pose, scene.camera.data.clip_end)

    def render(self) -> None:
        """Render the current frame, blocking."""
        # Off the console: Blender's "Saved: …" for our scratch file, and the "Fra:1 Mem:…"
        # status lines Blender 4.x prints while rendering (the caller shows progress).
        with own_render(), hide_lines(str(self.session.raw_dir), "Fra:"):
            try:
                bpy.ops.render.render()
            except RuntimeError as error:  # Blender's own refusal, e.g. a build without the denoiser
                message = str(error).removeprefix("Error: ").strip()
                raise ExportError(f"Blender could not render frame {self.scene.frame_current}: {message}") from None

    def after_render(self) -> FrameResult:
        """Take what the render left (passes, RGB) and hand the frame to the background
        writer, which converts and writes it while the next frame renders. A writing
        error of an earlier frame is raised here (or when the run ends)."""
        if self._pending is None:
            raise ExportError("after_render() without before_render()")
        frame, K, pose, clip_end = self._pending
        self._pending = None
        root = self.root
        started = time.perf_counter()
        try:
            raw = self.session.take_passes()
            with atomic_path(rgb_path(root, frame)) as tmp:
                self.session.save_rgb(tmp)
        except OSError as error:
            self._writer.close()  # an earlier frame's write error is the first cause: raise it
            raise ExportError(f"Writing frame {frame} failed: {error}") from error
        except RuntimeError as error:
            raise ExportError(f"Frame {frame}: {str(error).removeprefix('Error: ').strip()}") from error
        height, width = raw["depth"].shape
        if (width, height) != self.size:
            expected = "×".join(map(str, self.size))
            raise ExportError(f"Frame {frame}: rendered {width}×{height} pixels, expected {expected}")
        captured = self._motion(frame)
        handover = time.perf_counter() - started
        self._writer.submit(lambda: self._write(frame, raw, (K, pose, clip_end), handover, captured))
        return FrameResult(frame, root, expected_files(root, frame, self.array_keys, self.options), self.missing)

    def _motion(self, frame: int) -> motion.FrameMotion | None:
        """Capture the geometry the frame's rays need (Blender's thread; the scene returns
        to ``frame`` afterwards). The rays are cast by the writer."""
        if self.motion is None:
            return None
        try:
            occlusion = "occlusion" in self.modalities
            return motion.frame_motion(self.motion, frame, occlusion, self.plan.offsets, self.plan.labels)
        finally:
            if self.scene.frame_current != frame:  # every frame it needed was captured already
                self.scene.frame_set(frame)

    def _write(
        self,
        frame: int,
        raw: dict[str, np.ndarray],
        camera: tuple[np.ndarray, np.ndarray, float],
        handover: float,
        captured: motion.FrameMotion | None,
    ) -> None:
        """On the writer thread (no bpy here): cast the rays, convert, write the frame,
        update meta.json. ``camera`` is the frame's K, pose and far clipping distance."""
        root = self.root
        started = time.perf_counter()
        K, pose, clip_end = camera
        mark_background(raw["depth"], clip_end)
        try:
            geometry = captured.arrays(raw["depth"]) if captured is not None else {}
            arrays = frame_arrays(raw, self.modalities, K, pose, frame, geometry)
            instances = captured.instance_table(arrays["instance_box_id"]) if "instance_id" in arrays else None
            write_frame(root, frame, arrays, self.options, instances)
            if self.run_files:
                self.meta_keeper.frame_done(frame, instances)
        except OSError as error:  # TimeoutError (a held meta lock) included
            raise ExportError(f"Writing frame {frame} failed: {error}") from error
        self.timings.append((frame, handover, time.perf_counter() - started))
        log.info("exported frame %d to %s", frame, root)


def scratch_override() -> str | None:
    """The user's scratch folder: ``GROUND_TRUTH_SCRATCH``, else the add-on's preferences."""
    from ..preferences import preferences

    prefs = preferences()
    return os.environ.get(scratch.ENVIRONMENT) or (prefs.scratch_dir if prefs is not None else None) or None


def export_frame(scene: bpy.types.Scene, view_layer: bpy.types.ViewLayer, options: ExportOptions) -> FrameResult:
    """Render ``scene.frame_current`` and write its ground truth (overwriting it)."""
    with Exporter(scene, view_layer, options) as exporter:
        exporter.before_render()
        exporter.render()
        return exporter.after_render()


def animation_frames(scene: bpy.types.Scene, settings) -> list[int]:
    """The frames of the animation export: the settings' range, else the scene's."""
    start = settings.frame_start or scene.frame_start
    end = settings.frame_end or scene.frame_end
    return list(range(start, end + 1, max(1, scene.frame_step)))


@dataclass
class Progress:
    """Where a run is: shown by the panel, the status bar and the command line."""

    total: int
    done: int = 0
    skipped: int = 0
    frame: int | None = None
    started: float = field(default_factory=time.perf_counter)
    seconds_per_frame: float | None = None

    def step(self, frame: int, seconds: float | None) -> None:
        """Count ``frame`` as finished; ``seconds`` is its time, ``None`` if skipped."""
        self.frame = frame
        if seconds is None:
            self.skipped += 1
        else:
            self.done += 1
            rendered = self.done
            previous = self.seconds_per_frame or seconds
            self.seconds_per_frame = previous + (seconds - previous) / min(rendered, 10)

    @property
    def finished(self) -> int:
        return self.done + self.skipped

    @property
    def seconds_left(self) -> float | None:
        if self.seconds_per_frame is None:
            return None
        return (self.total - self.finished) * self.seconds_per_frame

    def describe(self) -> str:
        """``Frame 12 · 5 of 40 · 2.1 s/frame · 1:13 left`` (what is known so far)."""
        parts = [f"{self.finished} of {self.total}"]
        if self.frame is not None:
            parts.insert(0, f"Frame {self.frame}")
        if self.seconds_per_frame is not None:
            left = int(self.seconds_left)
            parts += [f"{self.seconds_per_frame:.1f} s/frame", f"{left // 60}:{left % 60:02d} left"]
        if self.skipped:
            parts.append(f"{self.skipped} already done")
        return " · ".join(parts)


def export_frames(
    scene: bpy.types.Scene,
    view_layer: bpy.types.ViewLayer,
    options: ExportOptions,
    frames: list[int],
    overwrite: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    run_files: bool = True,
) -> Progress:
    """Render and export ``frames`` one after the other, blocking; the scene's current
    frame is restored afterwards. Frames that are complete on disk are skipped unless
    ``overwrite``. Raises :class:`ExportError`; frames finished before stay complete.
    ``run_files`` as for :class:`Exporter`."""
    progress = Progress(total=len(frames))
    current = scene.frame_current
    try:
        with Exporter(scene, view_layer, options, run_files) as exporter:
            for frame in frames:
                if not overwrite and exporter.is_complete(frame):
                    progress.step(frame, None)
                else:
                    started = time.perf_counter()
                    scene.frame_set(frame)
                    exporter.before_render()
                    exporter.render()
                    exporter.after_render()
                    progress.step(frame, time.perf_counter() - started)
                if on_progress:
                    on_progress(progress)
    finally:
        scene.frame_set(current)
    return progress
