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
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import bpy
import numpy as np

from .. import compat
from ..core.camera import FrameCamera, intrinsics, world_to_camera
from ..core.plan import scratch_bytes
from ..core.progress import Progress
from ..core.registry import EEVEE, engine_family
from ..core.stereo import LEFT, RIGHT
from ..exporters.atomic import atomic_path, partial_folders_kept
from ..exporters.background import BackgroundWriter, encoding_pool
from ..exporters.errors import ExportError, ExportRefusedError
from ..exporters.formats import expected_files
from ..exporters.frame_writer import FrameTiming, FrameWriter, ViewFrame
from ..exporters.layout import rgb_path
from ..exporters.stages import Stages
from . import motion, scratch, views
from .classes import ClassError
from .contact import sheet_frames
from .options import ExportOptions
from .quiet import hide_lines
from .run_folder import RunFolder, ViewOutput
from .session import ExportSession, ScratchPasses

log = logging.getLogger(__name__)
_own_renders = 0


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


@dataclass
class TakenRender:
    """One render's views, taken from the render (:meth:`Exporter.take_render`) and
    waiting to be handed to the writer: their passes in the scratch folder, each view's
    camera and the seconds spent."""

    frame: int
    outputs: list[ViewOutput]
    passes: list[ScratchPasses]
    cameras: list[FrameCamera]
    stages: Stages

    def discard(self) -> None:
        """Delete the passes (a frame that will not be written)."""
        for passes in self.passes:
            passes.path.unlink(missing_ok=True)


class Exporter:
    """One export run over any number of frames (see the module's docstring): the
    scene's side of it. The folder is its :class:`RunFolder`; each view's frame goes to
    a :class:`FrameWriter` on the background writer's thread. Used as a context manager,
    or between :meth:`start` and :meth:`close` by a caller whose run spans events (the
    modal animation export, the render handlers)."""

    def __init__(
        self,
        scene: bpy.types.Scene,
        view_layer: bpy.types.ViewLayer,
        options: ExportOptions,
        run_files: bool = True,
        geometry: bool = True,
        window: bool = False,
    ):
        """``run_files=False`` (a farm's chunk): no ``meta.json``, ``coco.json``,
        contact sheet, tracks or reconstruction files, and no scan of the folder; the
        farm's merge writes them once. ``geometry=False`` (renders started by Blender,
        F12): nothing computed from rays into the scene (occlusion, flow offsets, tracks,
        instance ids, and EEVEE's masks). ``window``: renders in Blender's window, whose
        handlers run in the render job's thread; the scene is left as the user set it
        until :meth:`hand_over`, on the main thread, captures the geometry."""
        self.folder = folder = RunFolder(scene, view_layer, options, geometry)
        self.scene, self.view_layer, self.rig, self.root = scene, view_layer, folder.rig, folder.root
        plan = folder.plan
        try:
            needed = scratch_bytes(plan.passes, *folder.size, with_combined=not compat.FILE_OUTPUT_KEEPS_VECTOR_W)
            # The render's files, the one the writer is on and those queued for it: the
            # writer reads them (pipeline/session.py), so they wait there until then.
            held = len(self.rig.shots[0]) + 1 + len(folder.outputs)
            parent = scratch.choose(needed, held, self.root, scratch_override())
        except scratch.ScratchError as error:
            raise ExportRefusedError(str(error)) from error
        except OSError as error:
            raise ExportRefusedError(f"Cannot create the Output Folder '{self.root}': {error.strerror}") from error
        self.scratch_file_bytes = needed
        suffixes = tuple(v.suffix for v in self.rig.views) if self.rig.one_pass else ("",)
        self.session = ExportSession(
            scene, view_layer, plan.passes, plan.flow, parent, plan.geometric and not window, suffixes
        )
        self.motion = None
        if plan.geometric:
            self.motion = motion.GeometryCache(scene, view_layer, self.rig.views, folder.classes, folder.models)
        self.run_files = run_files
        self.frame_writer = FrameWriter(folder.size, folder.modalities, folder.files, keep_meta=run_files)
        if run_files and folder.files.previews:  # for the contact sheet: pictures not read back
            self.frame_writer.keep_pictures = self._keep_pictures
        # The frames the run means to export, where its caller knows them: the previews of
        # those its contact sheet will show are kept as they are written.
        self.planned: list[int] = []
        self._first: int | None = None  # the first frame handed over
        self._pending: dict[str, tuple[int, FrameCamera]] = {}  # each view's frame in flight, noted before the render
        # The last frames handed to the writer: those it may not have written yet.
        self._handed: deque[int] = deque(maxlen=len(folder.outputs) + 2)
        self._last_motion: list[motion.FrameMotion | None] = []  # the last frame handed over's
        self.found_complete: set[int] = set()  # frames the run skipped as complete on disk

    @property
    def timings(self) -> list[FrameTiming]:
        """Per frame and view, in the order written (read by bench/)."""
        return self.frame_writer.timings

    def start(self) -> Exporter:
        """Set the scene up for the run's renders and start the writer."""
        self._partial_folders = partial_folders_kept()  # one .partial/ a folder for the run, not one a file
        self._partial_folders.__enter__()
        try:
            self.session.__enter__()
        except BaseException:
            self._partial_folders.__exit__(None, None, None)
            raise
        if self.run_files:  # a farm's chunk leaves both scans of the folder to the merge
            self.folder.remove_stale_temporaries()
        self._writer = BackgroundWriter(depth=len(self.folder.outputs))
        return self

    def close(self, failed: bool = False) -> None:
        """Wait for every frame handed over to be written, undo the scene's changes and
        finish the folder; ``failed``: the run is ending on an error of its own, which a
        writing error does not replace."""
        try:
            try:
                self.frame_writer.alone = True
                for geometry in self._last_motion if not failed else ():
                    if geometry is not None and geometry.occlusion:  # its neighbours' pictures, cast meanwhile
                        for target in geometry.targets.values():
                            encoding_pool().submit(target.face_picture)
                if self.run_files and not failed:  # Blender's thread would only wait for the writer
                    timings = self.frame_writer.timings
                    recent = timings[max(0, len(timings) - len(self._handed) * len(self.folder.outputs)) :]
                    views = Counter(timing.frame for timing in recent)  # written, per frame: in how many views
                    self.folder.read_ahead([f for f in self._handed if views[f] < len(self.folder.outputs)])
                self._writer.close()  # every frame handed over is written before anything else
            except ExportError:
                if not failed:
                    raise
                log.exception("writing failed while the run was ending on another error")
            finally:
                self.session.__exit__(None, None, None)
        finally:
            try:
                if self.run_files:
                    self.folder.finish(self.found_complete, raise_errors=not failed)
            finally:
                self._partial_folders.__exit__(None, None, None)

    def _keep_pictures(self, frame: int, pictures: dict[Path, np.ndarray]) -> None:
        """On the writer's thread: keep a frame's previews, just written, where the contact
        sheet will show them: a frame of the planned run's sheet (``sheet_frames``), its
        first, and those written once the renders are over (its last)."""
        if frame in sheet_frames(self.planned) or frame == self._first or self.frame_writer.alone:
            self.folder.pictures.keep(pictures)

    def __enter__(self) -> Exporter:
        return self.start()

    def __exit__(self, exc_type, exc, traceback) -> None:
        self.close(failed=exc_type is not None)

    def before_render(self, shot: int = 0) -> None:
        """Note the frame and its cameras (K, pose) before the render moves anything; a
        run of one render per view makes the ``shot``-th view's camera the scene's."""
        scene = self.scene
        chosen = self.rig.shots[shot]
        if not self.rig.one_pass and chosen[0].camera:
            camera = views.camera_object(scene, chosen[0])
            if scene.camera != camera:
                self.session.changes.set(scene, "camera", camera)
        for view in chosen:
            K = intrinsics(views.camera_params(scene, view))
            pose = world_to_camera(views.camera_matrix_world(scene, view))
            projection = views.camera_object(scene, view).data.type
            camera = FrameCamera(K, pose, views.clip_end(scene, view), projection)
            self._pending[view.name] = (scene.frame_current, camera)
        stereo = self.rig.stereo
        if stereo is not None and stereo.rectified and {LEFT, RIGHT} <= self._pending.keys():
            left, right = (self._pending[name][1].K for name in (LEFT, RIGHT))
            pair = (left[0, 0] * stereo.interocular_distance, left[0, 2] - right[0, 2])
            for name in (LEFT, RIGHT):
                frame, camera = self._pending[name]
                self._pending[name] = (frame, replace(camera, stereo=pair))

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

    def after_render(self, shot: int = 0) -> FrameResult:
        """Take what the render left (passes, RGB) and hand each view's frame to the
        background writer, which converts and writes it while the next frame renders. A
        writing error of an earlier frame is raised here (or when the run ends)."""
        return self.hand_over(self.take_render(shot))

    def take_render(self, shot: int = 0) -> TakenRender:
        """The first half of :meth:`after_render`, safe on the thread a render job runs
        in: the passes moved aside and the RGB written, waiting for :meth:`hand_over`."""
        chosen = [self.folder.by_name(view.name) for view in self.rig.shots[shot]]
        if any(output.view.name not in self._pending for output in chosen):
            raise ExportError("after_render() without before_render()")
        pending = [self._pending.pop(output.view.name) for output in chosen]
        frame = pending[0][0]
        stages = Stages()
        try:
            taken = self.session.take_passes(stages)
            with ExitStack() as stack, stages.time("rgb png (Blender)"):
                paths = [stack.enter_context(atomic_path(rgb_path(o.root, frame))) for o in chosen]
                self.session.save_rgb(paths)
        except OSError as error:
            self._writer.close()  # an earlier frame's write error is the first cause: raise it
            raise ExportError(f"Writing frame {frame} failed: {error}") from error
        except RuntimeError as error:
            raise ExportError(f"Frame {frame}: {str(error).removeprefix('Error: ').strip()}") from error
        return TakenRender(frame, chosen, taken, [camera for _, camera in pending], stages)

    def hand_over(self, taken: TakenRender) -> FrameResult:
        """The second half of :meth:`after_render`, on Blender's main thread: capture the
        geometry the frame's rays need (which visits the frames around it) and hand each
        view's frame to the writer."""
        frame, stages = taken.frame, taken.stages
        self._handed.append(frame)
        self._first = frame if self._first is None else self._first
        if self.motion is not None:
            self.session.match_geometry()
        with stages.time("capture geometry"):
            captured = [self._motion(frame, output.view) for output in taken.outputs]
        self._last_motion = captured
        for output, passes, camera, geometry in zip(taken.outputs, taken.passes, taken.cameras, captured, strict=True):
            timing = FrameTiming(frame, output.view.name, stages.seconds)
            started = time.perf_counter()
            view_frame = ViewFrame(frame, camera, passes.read, geometry)
            self._writer.submit(
                lambda o=output, v=view_frame, t=timing: self.frame_writer.write(o.root, o.keeper, v, t)
            )
            timing.waited = time.perf_counter() - started
        folder = self.folder
        files = [f for o in taken.outputs for f in expected_files(o.root, frame, folder.array_keys, folder.files)]
        return FrameResult(frame, self.root, files, folder.missing)

    def render_frame(self) -> FrameResult:
        """Render and export the current frame, every view (blocking)."""
        results = []
        for shot in range(len(self.rig.shots)):
            self.before_render(shot)
            self.render()
            results.append(self.after_render(shot))
        return FrameResult(results[0].frame, self.root, [f for r in results for f in r.files], self.folder.missing)

    def _motion(self, frame: int, view: views.View) -> motion.FrameMotion | None:
        """Capture the geometry the frame's rays need (Blender's thread; the scene returns
        to ``frame`` afterwards). The rays are cast by the writer."""
        if self.motion is None:
            return None
        plan = self.folder.plan
        try:
            occlusion = "occlusion" in self.folder.modalities
            scene_flow = "scene_flow" in self.folder.modalities
            coordinates = tuple(k for k in ("object_coords", "nocs") if k in self.folder.modalities)
            # EEVEE's Depth pass is up to 1 % off (docs/contract.md): where the rays are cast, theirs
            depth = engine_family(compat.render_engine(self.scene)) == EEVEE and "depth" in self.folder.modalities
            objects = tuple(k for k in ("object_labels", "amodal_masks") if k in self.folder.modalities)
            return motion.frame_motion(
                self.motion,
                frame,
                view.name,
                occlusion,
                plan.offsets,
                plan.labels,
                scene_flow,
                coordinates,
                depth,
                objects,
            )
        except ClassError as error:
            raise ExportError(f"Frame {frame}: {error}") from None
        finally:
            if self.scene.frame_current != frame:  # every frame it needed was captured already
                self.scene.frame_set(frame)


def scratch_override() -> str | None:
    """The user's scratch folder: ``GROUND_TRUTH_SCRATCH``, else the add-on's preferences."""
    from ..preferences import preferences

    prefs = preferences()
    return os.environ.get(scratch.ENVIRONMENT) or (prefs.scratch_dir if prefs is not None else None) or None


def export_frame(scene: bpy.types.Scene, view_layer: bpy.types.ViewLayer, options: ExportOptions) -> FrameResult:
    """Render ``scene.frame_current`` and write its ground truth (overwriting it)."""
    with Exporter(scene, view_layer, options) as exporter:
        return exporter.render_frame()


def animation_frames(scene: bpy.types.Scene, settings) -> list[int]:
    """The frames of the animation export: the settings' range, else the scene's."""
    start = settings.frame_start or scene.frame_start
    end = settings.frame_end or scene.frame_end
    return list(range(start, end + 1, max(1, scene.frame_step)))


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
            exporter.planned = frames
            folder = exporter.folder
            for frame in frames:
                if not overwrite and folder.is_complete(frame):
                    exporter.found_complete.add(frame)
                    progress.step(frame, None)
                else:
                    damaged = [] if overwrite else folder.damaged(frame)
                    if damaged:
                        line = f"frame {frame} was damaged, exporting it again: {', '.join(damaged)}"
                        log.info(line)
                        progress.redone.append(line)
                    started = time.perf_counter()
                    scene.frame_set(frame)
                    exporter.render_frame()
                    progress.step(frame, time.perf_counter() - started)
                if on_progress:
                    on_progress(progress)
        progress.complete = [f for f in frames if folder.is_complete(f)]
        progress.folders = [o.root.relative_to(folder.root).as_posix() for o in folder.outputs]
        progress.arrays = sorted(folder.array_keys)
    finally:
        scene.frame_set(current)
    return progress
