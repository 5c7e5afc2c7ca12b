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
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import bpy
import numpy as np

from .. import compat
from ..core.camera import intrinsics, output_size, world_to_camera
from ..core.convert import mark_background
from ..core.modalities import Plan, frame_arrays, plan, scratch_bytes
from ..core.motion import offsets_from_text
from ..core.previews import preview_keys
from ..core.stereo import LEFT, RIGHT
from ..core.support import addon_version
from ..exporters import chunks
from ..exporters.atomic import atomic_path, remove_stale_temporaries
from ..exporters.background import BackgroundWriter
from ..exporters.coco_file import write_coco
from ..exporters.formats import damaged_files, expected_files, is_complete, output_folders, write_frame
from ..exporters.frame_io import FrameFileError
from ..exporters.layout import inside, rgb_path, view_folder
from ..exporters.meta import MetaKeeper, MetaMismatchError, check_same_export, check_same_rig, write_rig_meta
from ..exporters.stages import Stages
from . import motion, rays, reconstruction, scene_info, scratch, views
from .checks import blocking_problems, output_root
from .contact import write_contact_sheet
from .options import ExportOptions
from .quiet import hide_lines
from .session import ExportSession, ScratchPasses
from .tracks import write_tracks
from .views import COLLECTION

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
        "modalities": list(modalities),
        "missing_modalities": list(missing),
        "arrays": sorted(arrays),
        "objects": objects,
        "materials": materials,
        "object_index_names": scene_info.index_names(objects),
        "material_index_names": scene_info.index_names(materials),
    }


def _camera_meta(camera) -> dict:
    return {
        "camera": camera.name,
        "projection": {"PERSP": "perspective", "ORTHO": "orthographic"}[camera.data.type],
    }


def export_plan(scene: bpy.types.Scene, options: ExportOptions, geometry: bool = True, stereo=None) -> Plan:
    """What a run with ``options`` renders and writes on the scene's engine. ``geometry``
    is whether the run may visit other frames (not from inside a render job: F12);
    ``stereo`` the views' Stereo 3D pair, if they form one."""
    try:
        offsets = offsets_from_text(options.flow_offsets)
    except ValueError as error:
        raise ExportRefusedError(f"Flow Offsets: {error}") from None
    pair = None if stereo is None else stereo.rectified
    return plan(compat.render_engine(scene), options.modalities, offsets, geometry, pair)


def _reconstruction_problem(scene, rig: views.Rig, options: ExportOptions) -> str | None:
    """Why transforms.json or the COLMAP model cannot be written for this run, if asked for."""
    if not (options.transforms_json or options.colmap):
        return None
    if not (options.files.npz or options.files.exr):
        return "transforms.json and COLMAP read each frame's K and pose from its NPZ or EXR: turn one of them on"
    for view in rig.views:
        camera = views.camera_object(scene, view)
        if camera.data.type != "PERSP":
            return f"transforms.json and COLMAP describe pinhole cameras: camera '{camera.name}' is orthographic"
    if options.colmap and options.colmap_points > 0 and "depth" not in options.modalities:
        return "COLMAP's points3D.txt is made from depth: turn Depth on, or set COLMAP Points to 0"
    return None


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


@dataclass
class ViewOutput:
    """One view's share of a run: its folder, its ``meta.json`` and its frame in flight
    (frame, K, world→camera, far clip), noted before the render."""

    view: views.View
    root: Path
    keeper: MetaKeeper
    pending: tuple[int, np.ndarray, np.ndarray, float] | None = None


@dataclass
class TakenRender:
    """One render's views, taken from the render (:meth:`Exporter.take_render`) and
    waiting to be handed to the writer: their passes in the scratch folder, each view's
    K, world→camera and far clip, the stereo pair's numbers and the seconds spent."""

    frame: int
    outputs: list[ViewOutput]
    passes: list[ScratchPasses]
    cameras: list[tuple[np.ndarray, np.ndarray, float]]
    stereo: tuple[float, float] | None
    stages: Stages

    def discard(self) -> None:
        """Delete the passes (a frame that will not be written)."""
        for passes in self.passes:
            passes.path.unlink(missing_ok=True)


class Exporter:
    """One export run over any number of frames (see the module's docstring)."""

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
        try:
            collection = views.collection_named(options.camera_collection) if options.views == COLLECTION else None
        except views.ViewsError as error:
            raise ExportRefusedError(str(error)) from None
        problems = blocking_problems(scene, options.output_dir, options.views, collection)
        if problems:
            raise ExportRefusedError(problems[0])
        self.scene, self.view_layer = scene, view_layer
        self.rig = views.rig(scene, options.views, collection)
        problem = _reconstruction_problem(scene, self.rig, options)
        if problem:
            raise ExportRefusedError(problem)
        self.root = output_root(options.output_dir)
        self.plan = export_plan(scene, options, geometry, self.rig.stereo)
        self.tracks = options.tracks if geometry else None
        self.requested = options
        self.missing = list(self.plan.missing)
        self.modalities = list(self.plan.modalities)
        self.array_keys = self.plan.arrays
        self.options = options.files
        if options.transforms_json and "depth" in self.array_keys:
            self.options = replace(self.options, depth_png16=True)  # transforms.json points at them
        self.size = output_size(views.camera_params(scene, self.rig.views[0]))
        shared = self._shared_meta()
        self.categories = {**scene_info.names_by_index(shared["objects"]), **options.categories}
        self.outputs = [self._output(view, shared) for view in self.rig.views]
        self.rig_meta = self._rig_meta() if self.rig.folders else None
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            if self.rig_meta is not None:
                check_same_rig(self.root, self.rig_meta)
            for output in self.outputs:
                check_same_export(output.root, output.keeper.scene)
            needed = scratch_bytes(self.plan.passes, *self.size, with_combined=not compat.FILE_OUTPUT_KEEPS_VECTOR_W)
            # The render's files, the one the writer is on and those queued for it: the
            # writer reads them (pipeline/session.py), so they wait there until then.
            held = len(self.rig.shots[0]) + 1 + len(self.outputs)
            parent = scratch.choose(needed, held, self.root, scratch_override())
            self.scratch_file_bytes = needed
        except scratch.ScratchError as error:
            raise ExportRefusedError(str(error)) from error
        except OSError as error:
            raise ExportRefusedError(f"Cannot create the Output Folder '{self.root}': {error.strerror}") from error
        except MetaMismatchError as error:
            raise ExportRefusedError(f"Output Folder '{self.root}': {error}; choose another folder") from error
        except FrameFileError as error:
            raise ExportRefusedError(f"{error}: delete it and run again (it is made anew from the frames)") from None
        suffixes = tuple(v.suffix for v in self.rig.views) if self.rig.one_pass else ("",)
        self.session = ExportSession(
            scene, view_layer, self.plan.passes, self.plan.flow, parent, self.plan.geometric and not window, suffixes
        )
        self.motion = motion.GeometryCache(scene, view_layer, self.rig.views) if self.plan.geometric else None
        self.run_files = run_files
        self._stereo: tuple[float, float] | None = None  # this frame's pair: fx·baseline, disparity at infinity
        self.timings: list[FrameTiming] = []  # per frame and view, in the order written
        self.found_complete: set[int] = set()  # frames the run skipped as complete on disk

    def _shared_meta(self) -> dict:
        """What every view's ``meta.json`` holds alike (the camera is each view's own)."""
        scene = self.scene
        meta = _scene_meta(scene, self.view_layer, self.size, self.modalities, self.missing, self.array_keys)
        if self.options.depth_png16:
            meta["depth_png16_scale_per_metre"] = self.options.depth_png16_scale
        meta["flow_offsets"] = list(self.plan.offsets)
        if self.plan.offsets or "occlusion" in self.modalities or self.tracks:
            meta["surface_motion"] = motion.motion_routes(scene)
        if self.plan.geometric:
            meta["rays"] = rays.describe()
        return meta

    def _output(self, view: views.View, shared: dict) -> ViewOutput:
        camera = views.camera_object(self.scene, view)
        root = inside(self.root, f"views/{view_folder(view.name)}") if self.rig.folders else self.root
        meta = {**shared, **_camera_meta(camera)}
        if self.rig.folders:
            meta["view"] = view.name
        return ViewOutput(view, root, MetaKeeper(root, meta, self.array_keys, self.options))

    def _rig_meta(self) -> dict:
        """The root ``meta.json`` of a run with several views: the views (K at the
        scene's frame when the run starts) and the pair."""
        scene = self.scene
        entries, Ks = [], {}
        for output in self.outputs:
            view = output.view
            Ks[view.name] = intrinsics(views.camera_params(scene, view))
            entries.append(
                {
                    "name": view.name,
                    "folder": output.root.relative_to(self.root).as_posix(),
                    "camera": views.camera_object(scene, view).name,
                    "K": Ks[view.name].tolist(),
                    "resolution": list(self.size),
                }
            )
        meta = {
            "addon": {"id": "ground_truth", "version": addon_version()},
            "blender_version": bpy.app.version_string,
            "views_mode": self.rig.mode,
            "views": entries,
            "K_note": "each view's K when the run started; every frame's NPZ holds its own",
        }
        if self.rig.stereo is not None:
            meta["stereo"] = self.rig.stereo.describe(Ks[LEFT], Ks[RIGHT])
        return meta

    def __enter__(self) -> Exporter:
        self.session.__enter__()
        if self.run_files:  # a farm's chunk leaves both scans of the folder to the merge
            self.remove_stale_temporaries()
        self._writer = BackgroundWriter(depth=len(self.outputs))
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

    def remove_stale_temporaries(self) -> int:
        """Delete what killed runs left being written in the run's folders (and nothing
        else); return how many files."""
        folders = {self.root, self.root / reconstruction.COLMAP_FOLDER}
        for output in self.outputs:
            folders.update(output_folders(output.root, self.array_keys, self.options))
        return remove_stale_temporaries(sorted(folders))

    def finish_run(self, raise_errors: bool = True, rebuild: bool = False) -> list[int]:
        """List the frames the run found complete on disk, and make what covers the whole
        folder: the root meta.json of several views, and when the folder has grown enough
        since they were last made (``MetaKeeper.folder_files_due``) each view's coco.json,
        contact sheet and tracks, and the reconstruction files; also after an error or an
        interruption, for the frames that are complete. No scan of the folder, but with
        ``rebuild`` (``merge``): then every list is made anew from the files, and so is
        everything else. Returns the frames complete in every view when the folder-wide
        files were made (else an empty list)."""
        frames: list[int] = []
        try:
            folders = [o.root.relative_to(self.root).as_posix() for o in self.outputs]
            reported, rows = chunks.reported(self.root, self.array_keys, folders) if rebuild else ((), {})
            for output, folder in zip(self.outputs, folders, strict=True):
                if rebuild:
                    output.keeper.rebuild(reported, rows[folder])
                else:
                    output.keeper.finish(self.found_complete)
            due = rebuild or any(o.keeper.folder_files_due() for o in self.outputs)
            if due:
                listed = [o.keeper.frames if rebuild else set(o.keeper.complete_frames()) for o in self.outputs]
                frames = sorted(set.intersection(*listed))
                for output, view_frames in zip(self.outputs, listed, strict=True):
                    self._finish_view(output, sorted(view_frames))
                    output.keeper.covered_now(len(view_frames))
            if self.rig_meta is not None:
                ours = set.intersection(*(o.keeper.frames for o in self.outputs))
                write_rig_meta(self.root, self.rig_meta, frames if due else ours, rebuild=rebuild)
            if due and frames and (self.requested.transforms_json or self.requested.colmap):
                self._write_reconstruction(frames)
        except (OSError, RuntimeError, ValueError) as error:
            if raise_errors:
                raise ExportError(f"Finishing {self.root} failed: {error}") from error
            log.error("could not finish %s: %s", self.root, error)  # the run's own error comes first
        return frames

    def _finish_view(self, output: ViewOutput, frames: list[int]) -> None:
        if self.options.coco and self.array_keys & {"instance_id", "object_index"}:
            write_coco(output.root, frames, self.categories)
        if self.options.previews:
            write_contact_sheet(output.root, frames, preview_keys(self.array_keys))
        if self.tracks is not None and frames:
            previews = self.options.previews
            write_tracks(
                self.scene, self.view_layer, output.view, output.root, frames, self.tracks, self.size, previews
            )

    def _write_reconstruction(self, frames: list[int]) -> None:
        folders = {o.view.name: o.root for o in self.outputs}
        pictures = reconstruction.images(self.root, list(folders.items()), frames, self.size)
        if self.requested.transforms_json:
            scale = self.options.depth_png16_scale if "depth" in self.array_keys else None
            reconstruction.write_transforms(self.root, pictures, scale)
        if self.requested.colmap:
            reconstruction.write_colmap(self.root, pictures, folders, self.requested.colmap_points)

    def is_complete(self, frame: int) -> bool:
        """Whether every file of ``frame`` is already in the output folder, whole, in every view."""
        return all(is_complete(o.root, frame, self.array_keys, self.options) for o in self.outputs)

    def damaged(self, frame: int) -> list[str]:
        """``npz/000003.npz (cut short …)`` for each file of ``frame`` that is there but
        not whole, in every view."""
        return [
            f"{path.relative_to(self.root).as_posix()} ({why})"
            for output in self.outputs
            for path, why in damaged_files(output.root, frame, self.array_keys, self.options)
        ]

    def before_render(self, shot: int = 0) -> None:
        """Note the frame and its cameras (K, pose) before the render moves anything; a
        run of one render per view makes the ``shot``-th view's camera the scene's."""
        scene = self.scene
        chosen = self._shot(shot)
        if not self.rig.one_pass and chosen[0].view.camera:
            camera = views.camera_object(scene, chosen[0].view)
            if scene.camera != camera:
                self.session.changes.set(scene, "camera", camera)
        for output in chosen:
            view = output.view
            K = intrinsics(views.camera_params(scene, view))
            pose = world_to_camera(views.camera_matrix_world(scene, view))
            output.pending = (scene.frame_current, K, pose, views.clip_end(scene, view))
        if self.rig.stereo is not None and self.rig.stereo.rectified:
            left, right = (self._by_name(name).pending[1] for name in (LEFT, RIGHT))
            self._stereo = (left[0, 0] * self.rig.stereo.interocular_distance, left[0, 2] - right[0, 2])

    def _shot(self, shot: int) -> list[ViewOutput]:
        return [self._by_name(view.name) for view in self.rig.shots[shot]]

    def _by_name(self, name: str) -> ViewOutput:
        return next(o for o in self.outputs if o.view.name == name)

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
        chosen = self._shot(shot)
        if any(output.pending is None for output in chosen):
            raise ExportError("after_render() without before_render()")
        pending = [output.pending for output in chosen]
        for output in chosen:
            output.pending = None
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
        return TakenRender(frame, chosen, taken, [p[1:] for p in pending], self._stereo, stages)

    def hand_over(self, taken: TakenRender) -> FrameResult:
        """The second half of :meth:`after_render`, on Blender's main thread: capture the
        geometry the frame's rays need (which visits the frames around it) and hand each
        view's frame to the writer."""
        frame, stages = taken.frame, taken.stages
        if self.motion is not None:
            self.session.match_geometry()
        with stages.time("capture geometry"):
            captured = [self._motion(frame, output.view) for output in taken.outputs]
        for output, scratch_passes, camera, geometry in zip(
            taken.outputs, taken.passes, taken.cameras, captured, strict=True
        ):
            timing = FrameTiming(frame, output.view.name, stages.seconds)
            started = time.perf_counter()
            self._writer.submit(
                lambda o=output, p=scratch_passes, c=camera, g=geometry, t=timing, s=taken.stereo: self._write(
                    o, frame, p, c, g, s, t
                )
            )
            timing.waited = time.perf_counter() - started
        files = [f for o in taken.outputs for f in expected_files(o.root, frame, self.array_keys, self.options)]
        return FrameResult(frame, self.root, files, self.missing)

    def render_frame(self) -> FrameResult:
        """Render and export the current frame, every view (blocking)."""
        results = []
        for shot in range(len(self.rig.shots)):
            self.before_render(shot)
            self.render()
            results.append(self.after_render(shot))
        return FrameResult(results[0].frame, self.root, [f for r in results for f in r.files], self.missing)

    def _motion(self, frame: int, view: views.View) -> motion.FrameMotion | None:
        """Capture the geometry the frame's rays need (Blender's thread; the scene returns
        to ``frame`` afterwards). The rays are cast by the writer."""
        if self.motion is None:
            return None
        try:
            occlusion = "occlusion" in self.modalities
            return motion.frame_motion(self.motion, frame, view.name, occlusion, self.plan.offsets, self.plan.labels)
        finally:
            if self.scene.frame_current != frame:  # every frame it needed was captured already
                self.scene.frame_set(frame)

    def _write(
        self,
        output: ViewOutput,
        frame: int,
        scratch_passes: ScratchPasses,
        camera: tuple[np.ndarray, np.ndarray, float],
        captured: motion.FrameMotion | None,
        stereo: tuple[float, float] | None,
        timing: FrameTiming,
    ) -> None:
        """On the writer thread (no bpy here): read the view's passes, cast the rays,
        convert, write the view's frame, update its meta.json. ``camera`` is the view's
        K, pose and far clip."""
        root = output.root
        stages, started = Stages(), time.perf_counter()
        K, pose, clip_end = camera
        try:
            with stages.time("read scratch exr"):
                raw = scratch_passes.read()
        except OSError as error:
            raise ExportError(f"Writing frame {frame} failed: {error}") from error
        except RuntimeError as error:
            raise ExportError(f"Frame {frame}: {error}") from error
        height, width = raw["depth"].shape
        if (width, height) != self.size:
            expected = "×".join(map(str, self.size))
            raise ExportError(f"Frame {frame}: rendered {width}×{height} pixels, expected {expected}")
        with stages.time("convert"):
            mark_background(raw["depth"], clip_end)
        try:
            with stages.time("rays"):
                geometry = captured.arrays(raw["depth"]) if captured is not None else {}
            with stages.time("convert"):
                arrays = frame_arrays(raw, self.modalities, K, pose, frame, geometry, stereo)
                instances = captured.instance_table(arrays["instance_box_id"]) if "instance_id" in arrays else None
            write_frame(root, frame, arrays, self.options, instances, stages)
            if self.run_files:
                with stages.time("meta.json"):
                    output.keeper.frame_done(frame, instances)
        except OSError as error:  # TimeoutError (a held meta lock) included
            raise ExportError(f"Writing frame {frame} failed: {error}") from error
        timing.writer, timing.writer_wall = stages.seconds, time.perf_counter() - started
        self.timings.append(timing)
        log.info("exported frame %d to %s", frame, root)


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


@dataclass
class Progress:
    """Where a run is: shown by the panel, the status bar and the command line."""

    total: int
    done: int = 0
    skipped: int = 0
    frame: int | None = None
    started: float = field(default_factory=time.perf_counter)
    seconds_per_frame: float | None = None
    # When the run has ended: its frames complete in every view, the views' folders
    # (relative to the output folder; "." for a single view) and a frame's array keys.
    complete: list[int] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    arrays: list[str] = field(default_factory=list)
    # Frames found with damaged files and exported again: one line each, for the user.
    redone: list[str] = field(default_factory=list)

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
                    exporter.found_complete.add(frame)
                    progress.step(frame, None)
                else:
                    damaged = [] if overwrite else exporter.damaged(frame)
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
        progress.complete = [f for f in frames if exporter.is_complete(f)]
        progress.folders = [o.root.relative_to(exporter.root).as_posix() for o in exporter.outputs]
        progress.arrays = sorted(exporter.array_keys)
    finally:
        scene.frame_set(current)
    return progress
