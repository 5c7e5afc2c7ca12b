# SPDX-License-Identifier: GPL-3.0-or-later
"""Which views an export renders, and each view's camera.

``views`` (a setting) is ``ACTIVE`` (the scene camera), ``MULTIVIEW`` (the views of the
scene's Stereoscopy set-up, rendered together in one pass) or ``COLLECTION`` (every
camera of ``camera_collection``, rendered one after the other). A view's camera is
what Blender renders it with: for Stereo 3D the scene camera moved (and for off-axis
pairs shifted) per eye (``core/stereo.py``); for the Multi-View format the camera whose
name carries the view's suffix, as Blender picks it.
"""

from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from ..core.camera import CameraParams
from ..core.settings import ACTIVE, COLLECTION, MULTIVIEW
from ..core.stereo import LEFT, RIGHT, StereoSettings

SUPPORTED_PROJECTIONS = ("PERSP", "ORTHO")


class ViewsError(ValueError):
    """The views set-up cannot be exported; the message is for the user."""


@dataclass(frozen=True)
class View:
    """One view of an export.

    ``name`` is its folder under ``views/`` ("" for the single view of an ``ACTIVE``
    export); ``camera`` the camera object it renders with, or "" for the scene camera
    of the frame being rendered (timeline markers may switch it); ``camera_suffix`` the
    Multi-View format's camera suffix that picks its camera from the scene camera's
    name; ``eye`` the Stereo 3D eye (or None); ``suffix`` Blender's file suffix of the
    view in a multi-view render ("" when the view renders alone)."""

    name: str
    camera: str = ""
    camera_suffix: str = ""
    eye: str | None = None
    suffix: str = ""


@dataclass(frozen=True)
class Rig:
    """The views of one export and how they render."""

    mode: str
    views: tuple[View, ...]
    stereo: StereoSettings | None = None  # a Stereo 3D pair (left and right both rendered)

    @property
    def one_pass(self) -> bool:
        """Whether one render gives every view (Blender's multi-view); else one render
        per view, each with its camera made the scene's."""
        return self.mode == MULTIVIEW

    @property
    def shots(self) -> tuple[tuple[View, ...], ...]:
        """The renders of one frame and the views each gives."""
        return (self.views,) if self.one_pass else tuple((v,) for v in self.views)

    @property
    def folders(self) -> bool:
        """Whether the views' outputs go under ``views/<name>/`` (more than one view)."""
        return len(self.views) > 1


def _stereo(camera) -> StereoSettings:
    s = camera.data.stereo
    return StereoSettings(s.convergence_mode, s.interocular_distance, s.convergence_distance, s.pivot)


def _suffix_camera(scene, camera, suffix: str, all_suffixes: list[str]):
    """Blender's camera for a Multi-View view: the scene camera's name with its longest
    matching view suffix replaced by ``suffix``, when the scene has such an object."""
    name = camera.name
    matching = [s for s in all_suffixes if s and name.endswith(s)]
    if not matching:
        return camera
    longest = max(matching, key=len)
    other = scene.objects.get(name[: len(name) - len(longest)] + suffix)
    return other if other is not None else camera


def collection_named(name: str) -> bpy.types.Collection | None:
    """The collection a run's ``camera_collection`` names (None for "")."""
    if not name:
        return None
    collection = bpy.data.collections.get(name)
    if collection is None:
        raise ViewsError(f"Views 'Camera Collection': there is no collection named '{name}'")
    return collection


def rig(scene: bpy.types.Scene, mode: str, collection: bpy.types.Collection | None) -> Rig:
    """The views an export with ``views`` = ``mode`` renders; :class:`ViewsError` says
    why it cannot."""
    no_camera = "The scene has no active camera: add one or set Scene > Camera"
    if mode == ACTIVE:
        _checked_camera(scene.camera, no_camera)
        return Rig(ACTIVE, (View(""),))
    if mode == MULTIVIEW:
        render = scene.render
        if not render.use_multiview:
            raise ViewsError("Views 'Stereoscopy': turn on Output Properties › Stereoscopy, or choose another Views")
        camera = _checked_camera(scene.camera, no_camera)
        used = [v for v in render.views if v.use]
        stereo = None
        if render.views_format == "STEREO_3D":
            views = tuple(View(v.name, eye=v.name, suffix=v.file_suffix) for v in used if v.name in (LEFT, RIGHT))
            if len(views) == 2 and camera.data.type == "PERSP":
                stereo = _stereo(camera)
        else:
            views = tuple(View(v.name, camera_suffix=v.camera_suffix, suffix=v.file_suffix) for v in used)
            for view in views:
                _checked_camera(camera_object(scene, view), no_camera)
        if not views:
            raise ViewsError("Views 'Stereoscopy': no view is enabled in Output Properties › Stereoscopy")
        for view in views:  # Blender puts the suffix into the names of the files it writes
            if any(part in view.suffix for part in ("/", "\\", "..", "\0")):
                raise ViewsError(
                    f"Views 'Stereoscopy': view '{view.name}' has the file suffix '{view.suffix}'; "
                    "a file suffix may not hold '/', '\\' or '..'"
                )
        suffixes = [v.suffix for v in views]
        if len(views) > 1 and (len(set(suffixes)) < len(suffixes) or "" in suffixes):
            raise ViewsError("Views 'Stereoscopy': give every enabled view its own, non-empty file suffix")
        return Rig(MULTIVIEW, views, stereo)
    if mode == COLLECTION:
        if collection is None:
            raise ViewsError("Views 'Camera Collection': choose the Camera Collection")
        cameras = sorted((o for o in collection.all_objects if o.type == "CAMERA"), key=lambda o: o.name)
        if not cameras:
            raise ViewsError(f"Views 'Camera Collection': collection '{collection.name}' holds no camera")
        for camera in cameras:
            _checked_camera(camera, no_camera)
            if scene.objects.get(camera.name) is None:
                raise ViewsError(f"Camera '{camera.name}' of collection '{collection.name}' is not in this scene")
        if any(marker.camera for marker in scene.timeline_markers):
            raise ViewsError(
                "Views 'Camera Collection': timeline markers switch the scene camera; unbind them from their cameras"
            )
        return Rig(COLLECTION, tuple(View(c.name, c.name) for c in cameras))
    raise ViewsError(f"unknown Views {mode!r}")


def _checked_camera(camera, missing: str):
    if camera is None:
        raise ViewsError(missing)
    if camera.type != "CAMERA":
        raise ViewsError(f"'{camera.name}' is not a camera object")
    if camera.data.type not in SUPPORTED_PROJECTIONS:
        raise ViewsError(
            f"Camera '{camera.name}' is panoramic: only perspective and orthographic cameras are supported"
        )
    return camera


def camera_object(scene: bpy.types.Scene, view: View):
    """The camera object ``view`` renders with at the current frame."""
    if view.camera:
        return scene.objects[view.camera]
    camera = scene.camera
    if view.camera_suffix:
        camera = _suffix_camera(scene, camera, view.camera_suffix, [v.camera_suffix for v in scene.render.views])
    return camera


def camera_params(scene: bpy.types.Scene, view: View) -> CameraParams:
    """The projection parameters ``view`` renders with (render settings included)."""
    camera = camera_object(scene, view)
    cam = camera.data
    render = scene.render
    border = None
    if render.use_border and render.use_crop_to_border:
        border = (render.border_min_x, render.border_max_x, render.border_min_y, render.border_max_y)
    shift_x = cam.shift_x
    if view.eye is not None:
        shift_x = _stereo(camera).eye_shift_x(shift_x, view.eye, cam.lens, cam.sensor_width)
    return CameraParams(
        lens=cam.lens,
        sensor_width=cam.sensor_width,
        sensor_height=cam.sensor_height,
        sensor_fit=cam.sensor_fit,
        shift_x=shift_x,
        shift_y=cam.shift_y,
        resolution_x=render.resolution_x,
        resolution_y=render.resolution_y,
        resolution_percentage=render.resolution_percentage,
        pixel_aspect_x=render.pixel_aspect_x,
        pixel_aspect_y=render.pixel_aspect_y,
        border=border,
        projection=cam.type,
        ortho_scale=cam.ortho_scale,
    )


def camera_matrix_world(scene: bpy.types.Scene, view: View) -> np.ndarray:
    """The 4×4 world matrix ``view`` renders from at the current frame, float64."""
    camera = camera_object(scene, view)
    matrix = np.array(camera.matrix_world, dtype=np.float64)
    if view.eye is None:
        return matrix
    return _stereo(camera).eye_matrix(matrix, view.eye)


def clip_end(scene: bpy.types.Scene, view: View) -> float:
    return camera_object(scene, view).data.clip_end
