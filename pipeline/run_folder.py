# SPDX-License-Identifier: GPL-3.0-or-later
"""A run's output folder, as the scene and the options make it: checked, its views'
folders with their ``meta.json`` keepers, and the files that cover the whole folder
(``meta.json``'s lists, ``coco.json``, the contact sheet, ``tracks.npz``,
``transforms.json`` and COLMAP's model). It renders nothing: ``merge`` uses it alone,
and :class:`~.export.Exporter` around its frames."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Set
from dataclasses import dataclass, replace
from pathlib import Path

import bpy

from .. import compat
from ..core import rays
from ..core.camera import intrinsics, output_size
from ..core.motion import offsets_from_text
from ..core.plan import Plan, plan
from ..core.previews import preview_keys
from ..core.stereo import LEFT, RIGHT
from ..core.support import addon_version
from ..core.tracks import strip_frames
from ..exporters import bop, chunks
from ..exporters.atomic import remove_stale_temporaries
from ..exporters.coco_file import write_coco
from ..exporters.errors import ExportError, ExportRefusedError
from ..exporters.formats import damaged_files, is_complete, output_folders
from ..exporters.frame_io import FrameFileError
from ..exporters.layout import inside, preview_path, rgb_path, view_folder
from ..exporters.meta import MetaKeeper, MetaMismatchError, check_same_export, check_same_rig, write_rig_meta
from . import motion, reconstruction, scene_info, views
from .checks import blocking_problems, output_root
from .classes import ClassError, Classes
from .contact import RunEndPictures, sheet_frames, write_contact_sheet
from .models import Models
from .options import ExportOptions
from .tracks import write_tracks
from .views import COLLECTION

log = logging.getLogger(__name__)
CLASSED = {"semantic", "object_labels"}  # the modalities that read objects' classes
BOP_MODALITIES = ("depth", "object_labels", "amodal_masks")  # what the BOP files are made of


def export_plan(scene: bpy.types.Scene, options: ExportOptions, geometry: bool = True, stereo=None) -> Plan:
    """What a run with ``options`` renders and writes on the scene's engine. ``geometry``
    is whether the run may visit other frames (not from inside a render job: F12);
    ``stereo`` the views' Stereo 3D pair, if they form one."""
    try:
        offsets = offsets_from_text(options.flow_offsets)
    except ValueError as error:
        raise ExportRefusedError(f"Flow Offsets: {error}") from None
    pair = None if stereo is None else stereo.rectified
    wanted = (*options.modalities, *(BOP_MODALITIES if options.files.bop else ()))
    return plan(compat.render_engine(scene), wanted, offsets, geometry, pair)


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


def _bop_problem(scene, rig: views.Rig, options: ExportOptions) -> str | None:
    if options.files.bop:
        for view in rig.views:
            camera = views.camera_object(scene, view)
            if camera.data.type != "PERSP":
                return f"BOP describes pinhole cameras: camera '{camera.name}' is orthographic"
    return None


@dataclass
class ViewOutput:
    """One view's share of a run: its folder and its ``meta.json``."""

    view: views.View
    root: Path
    keeper: MetaKeeper


class RunFolder:
    """The folder of a run with ``options`` on ``scene`` (see the module's docstring).
    Raises :class:`ExportRefusedError` with the first reason it cannot be written."""

    def __init__(
        self,
        scene: bpy.types.Scene,
        view_layer: bpy.types.ViewLayer,
        options: ExportOptions,
        geometry: bool = True,
    ):
        try:
            collection = views.collection_named(options.camera_collection) if options.views == COLLECTION else None
        except views.ViewsError as error:
            raise ExportRefusedError(str(error)) from None
        problems = blocking_problems(scene, options.output_dir, options.views, collection)
        if problems:
            raise ExportRefusedError(problems[0])
        self.scene, self.view_layer, self.options = scene, view_layer, options
        self.rig = views.rig(scene, options.views, collection)
        problem = _reconstruction_problem(scene, self.rig, options) or _bop_problem(scene, self.rig, options)
        if problem:
            raise ExportRefusedError(problem)
        self.root = output_root(options.output_dir)
        self.plan = export_plan(scene, options, geometry, self.rig.stereo)
        self.tracks = options.tracks if geometry else None
        self.missing, self.modalities = list(self.plan.missing), list(self.plan.modalities)
        self.array_keys = self.plan.arrays
        self.files = options.files  # what each frame gets
        if options.transforms_json and "depth" in self.array_keys:
            self.files = replace(self.files, depth_png16=True)  # transforms.json points at them
        self.size = output_size(views.camera_params(scene, self.rig.views[0]))
        self.classes = None
        if CLASSED & set(self.modalities):
            try:
                table = bpy.path.abspath(options.class_table) if options.class_table else ""
                self.classes = Classes(scene, view_layer, options.class_property, table)
            except ClassError as error:
                raise ExportRefusedError(str(error)) from None
        self.models = Models(view_layer) if "object_labels" in self.modalities else None
        self._bop_models_written = False
        shared = self._shared_meta()
        self.categories = {**scene_info.names_by_index(shared["objects"]), **options.categories}
        if "semantic" in self.modalities and self.classes.table:  # COCO's categories are the classes
            self.categories = {i: name for name, i in self.classes.table.items()}
            self.files = replace(self.files, coco_by_class=True)
        self.outputs = [self._output(view, shared) for view in self.rig.views]
        self.rig_meta = self._rig_meta() if self.rig.folders else None
        self.pictures = RunEndPictures()  # read by read_ahead(), shown by finish()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            if self.rig_meta is not None:
                check_same_rig(self.root, self.rig_meta)
            for output in self.outputs:
                check_same_export(output.root, output.keeper.scene)
        except OSError as error:
            raise ExportRefusedError(f"Cannot create the Output Folder '{self.root}': {error.strerror}") from error
        except MetaMismatchError as error:
            raise ExportRefusedError(f"Output Folder '{self.root}': {error}; choose another folder") from error
        except FrameFileError as error:
            raise ExportRefusedError(f"{error}: delete it and run again (it is made anew from the frames)") from None

    def _shared_meta(self) -> dict:
        """What every view's ``meta.json`` holds alike (the camera is each view's own)."""
        scene = self.scene
        objects, materials = scene_info.objects_table(scene), scene_info.materials_table(scene)
        meta = {
            "addon": {"id": "ground_truth", "version": addon_version()},
            "blender_version": bpy.app.version_string,
            "engine": scene.render.engine,
            "view_layer": self.view_layer.name,
            "resolution": list(self.size),
            "fps": scene.render.fps / scene.render.fps_base,
            "scene_frame_range": [scene.frame_start, scene.frame_end],
            "modalities": list(self.modalities),
            "missing_modalities": list(self.missing),
            "arrays": sorted(self.array_keys),
            "objects": objects,
            "materials": materials,
            "object_index_names": scene_info.index_names(objects),
            "material_index_names": scene_info.index_names(materials),
        }
        if self.files.depth_png16:
            meta["depth_png16_scale_per_metre"] = self.files.depth_png16_scale
        meta["flow_offsets"] = list(self.plan.offsets)
        if self.plan.offsets or "occlusion" in self.modalities or self.tracks:
            meta["surface_motion"] = motion.motion_routes(scene)
        if self.plan.geometric:
            meta["rays"] = rays.describe()
        if self.classes is not None:
            meta["class_property"] = self.options.class_property
            meta["classes"] = dict(sorted(self.classes.table.items(), key=lambda item: item[1]))
        if self.models is not None:
            meta["models"] = self.models.table()
            meta["not_models"] = self.models.not_models
        return meta

    def _output(self, view: views.View, shared: dict) -> ViewOutput:
        camera = views.camera_object(self.scene, view)
        root = inside(self.root, f"views/{view_folder(view.name)}") if self.rig.folders else self.root
        projection = {"PERSP": "perspective", "ORTHO": "orthographic"}[camera.data.type]
        meta = {**shared, "camera": camera.name, "projection": projection}
        if self.rig.folders:
            meta["view"] = view.name
        return ViewOutput(view, root, MetaKeeper(root, meta, self.array_keys, self.files))

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

    def by_name(self, name: str) -> ViewOutput:
        return next(o for o in self.outputs if o.view.name == name)

    def remove_stale_temporaries(self) -> int:
        """Delete what killed runs left being written in the run's folders (and nothing
        else); return how many files."""
        folders = {self.root, self.root / reconstruction.COLMAP_FOLDER}
        for output in self.outputs:
            folders.update(output_folders(output.root, self.array_keys, self.files))
        return remove_stale_temporaries(sorted(folders))

    def is_complete(self, frame: int) -> bool:
        """Whether every file of ``frame`` is already in the output folder, whole, in every view."""
        return all(is_complete(o.root, frame, self.array_keys, self.files) for o in self.outputs)

    def damaged(self, frame: int) -> list[str]:
        """``npz/000003.npz (cut short …)`` for each file of ``frame`` that is there but
        not whole, in every view."""
        return [
            f"{path.relative_to(self.root).as_posix()} ({why})"
            for output in self.outputs
            for path, why in damaged_files(output.root, frame, self.array_keys, self.files)
        ]

    def read_ahead(self, in_flight: Iterable[int]) -> None:
        """Read the RGB pictures that :meth:`finish` will likely show (contact sheet,
        tracks' strip) through Blender's loader, on Blender's thread, which meanwhile
        only waits for the writer to write ``in_flight`` (frames handed over, perhaps not
        yet listed). A guess: a picture it missed is read when shown."""
        if not self.files.previews:
            return
        try:
            for output in self.outputs:
                if not output.keeper.folder_files_due():
                    continue
                done, writing = set(output.keeper.complete_frames()), set(in_flight)
                frames = sorted(done | writing)
                sheet = sheet_frames(frames)
                strip = [frames[i] for i in strip_frames(len(frames))] if self.tracks is not None else []
                final = done - writing  # the previews of frames still being written are not read yet
                keys = preview_keys(self.array_keys)
                previews = [preview_path(output.root, k, f) for f in sheet if f in final for k in keys]
                self.pictures.read_ahead([rgb_path(output.root, f) for f in sheet + strip], previews, self.size)
        except (OSError, RuntimeError, FrameFileError) as error:  # finish() meets it again, or not
            log.debug("reading ahead in %s: %s", self.root, error)

    def finish(
        self, found_complete: Set[int] = frozenset(), raise_errors: bool = True, rebuild: bool = False
    ) -> list[int]:
        """List the frames the run found complete on disk (``found_complete``), and make
        what covers the whole folder: the root meta.json of several views, and when the
        folder has grown enough since they were last made (``MetaKeeper.folder_files_due``)
        each view's coco.json, contact sheet and tracks, and the reconstruction files;
        also after an error or an interruption, for the frames that are complete. No scan
        of the folder, but with ``rebuild`` (``merge``): then every list is made anew from
        the files, and so is everything else. Returns the frames complete in every view
        when the folder-wide files were made (else an empty list)."""
        frames: list[int] = []
        try:
            folders = [o.root.relative_to(self.root).as_posix() for o in self.outputs]
            reported, rows = chunks.reported(self.root, self.array_keys, folders) if rebuild else ((), {})
            for output, folder in zip(self.outputs, folders, strict=True):
                if rebuild:
                    output.keeper.rebuild(reported, rows[folder])
                else:
                    output.keeper.finish(found_complete)
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
            if due and frames and (self.options.transforms_json or self.options.colmap):
                self._write_reconstruction(frames)
        except (OSError, RuntimeError, ValueError) as error:
            if raise_errors:
                raise ExportError(f"Finishing {self.root} failed: {error}") from error
            log.error("could not finish %s: %s", self.root, error)  # the run's own error comes first
        finally:
            self.pictures = RunEndPictures()
        return frames

    def _finish_view(self, output: ViewOutput, frames: list[int]) -> None:
        if self.files.coco and self.array_keys & {"instance_id", "object_index"}:
            write_coco(output.root, frames, self.categories)
        if self.files.previews:
            write_contact_sheet(output.root, frames, preview_keys(self.array_keys), self.pictures)
        if self.files.bop and frames and "instance_ids" in self.array_keys:
            models = [(m.vertices, m.triangles) for m in self.models.models]
            bop.write_scene(output.root, frames, models, again=self._bop_models_written)
            self._bop_models_written = True
        if self.tracks is not None and frames:
            strip = self.pictures if self.files.previews else None
            write_tracks(self.scene, self.view_layer, output.view, output.root, frames, self.tracks, self.size, strip)

    def _write_reconstruction(self, frames: list[int]) -> None:
        folders = {o.view.name: o.root for o in self.outputs}
        pictures = reconstruction.images(self.root, list(folders.items()), frames, self.size)
        if self.options.transforms_json:
            scale = self.files.depth_png16_scale if "depth" in self.array_keys else None
            reconstruction.write_transforms(self.root, pictures, scale)
        if self.options.colmap:
            reconstruction.write_colmap(self.root, pictures, folders, self.options.colmap_points)
