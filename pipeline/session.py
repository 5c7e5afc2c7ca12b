# SPDX-License-Identifier: GPL-3.0-or-later
"""The scene state an export needs, set up for the render and undone afterwards."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import bpy
import numpy as np

from .. import compat
from ..compositor import wiring
from ..core.registry import PASSES
from ..exporters.exr_scanline import TruncatedExrError
from ..exporters.raw_exr import read_raw_passes
from ..exporters.stages import Stages
from . import scratch
from .changes import SceneChanges
from .motion import match_render_geometry

_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def _check_png(path: Path) -> None:
    """Blender's ``save_render`` reports nothing when the disk is full: check the file."""
    try:
        with open(path, "rb") as stream:
            stream.seek(max(path.stat().st_size - len(_PNG_END), 0))
            whole = stream.read() == _PNG_END
    except FileNotFoundError:
        whole = False
    if not whole:
        if shutil.disk_usage(path.parent).free < 1 << 20:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        raise OSError(errno.EIO, "Blender could not write the image", str(path))


class ExportSession:
    """``with ExportSession(...)``: passes on, motion blur off (for flow), the compositor
    on the CPU, our File Output live and writing into a private scratch folder made in
    ``scratch_parent``, and with ``geometry`` the viewport's evaluation matched to the
    render's (``motion.match_render_geometry``); on exit everything as it was.

    ``suffixes`` are the file suffixes of the views one render gives (Blender's
    multi-view, ``views.py``); ``("",)``: one view, and Stereoscopy off for the run.

    The user's own nodes, links and settings are restored even when the render fails.
    """

    def __init__(
        self,
        scene: bpy.types.Scene,
        view_layer: bpy.types.ViewLayer,
        passes: tuple[str, ...],
        flow: bool,
        scratch_parent: Path,
        geometry: bool = False,
        suffixes: tuple[str, ...] = ("",),
    ):
        self.scene, self.view_layer, self.passes, self.flow = scene, view_layer, passes, flow
        self.geometry = geometry
        self.suffixes = suffixes
        self.scratch_parent = scratch_parent
        self.changes = SceneChanges()
        self.raw_dir: Path | None = None
        self._taken = 0  # renders whose passes were taken
        self._matched = False  # the viewport's evaluation matched to the render's

    def __enter__(self) -> ExportSession:
        try:
            self._set_up()
        except BaseException:
            self._tear_down()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._tear_down()

    def _set_up(self) -> None:
        scene, changes = self.scene, self.changes
        self.raw_dir = scratch.make(self.scratch_parent)
        for name in self.passes:
            changes.set(self.view_layer, PASSES[name].view_layer_flag, True)
        if self.flow:
            changes.set(scene.render, "use_motion_blur", False)
        changes.set(scene.render, "use_compositing", True)
        if not self.multiview:
            changes.set(scene.render, "use_multiview", False)
        compat.use_cpu_compositor(changes, scene.render)
        if self.geometry:
            self.match_geometry()

        tree = compat.compositor_tree(scene)
        if tree is None:
            wiring.wire(scene, self.view_layer, self.passes)
            changes.push(lambda: compat.remove_compositor_tree(scene, compat.compositor_tree(scene)))
        elif not wiring.our_nodes(tree):
            wiring.wire(scene, self.view_layer, self.passes)
            changes.push(lambda: wiring.unwire(scene))
        else:
            before = compat.file_output_items(wiring.our_nodes(tree)["file_output"])
            wiring.wire(scene, self.view_layer, self.passes)
            changes.push(lambda: wiring.wire(scene, self.view_layer, before))
        file_output = wiring.our_nodes(compat.compositor_tree(scene))["file_output"]
        changes.set(file_output, "mute", False)
        changes.set(file_output, compat.FILE_OUTPUT_PATH, compat.file_output_path(str(self.raw_dir)))
        if self.multiview:
            changes.set(file_output.format, "views_format", "INDIVIDUAL")

    def match_geometry(self) -> None:
        """Match the viewport's evaluation to the render's for the rest of the session
        (on Blender's main thread; once)."""
        if not self._matched:
            self._matched = True
            match_render_geometry(self.scene, self.view_layer, self.changes)

    @property
    def multiview(self) -> bool:
        return self.suffixes != ("",)

    def _tear_down(self) -> None:
        try:
            self.changes.restore()
        finally:
            if self.raw_dir is not None:
                shutil.rmtree(self.raw_dir, ignore_errors=True)

    def take_passes(self, stages: Stages | None = None) -> list[ScratchPasses]:
        """The passes our File Output wrote for the last render, one per view (in the
        order of ``suffixes``), moved aside so that the next render can write its own;
        :meth:`ScratchPasses.read` reads and deletes them (on the writer's thread).
        ``stages`` gets the seconds spent here."""
        stages = stages or Stages()
        files = sorted(self.raw_dir.glob("*.exr"))
        if len(files) != len(self.suffixes):
            for path in files:
                path.unlink(missing_ok=True)
            raise RuntimeError(
                f"the compositor wrote {len(files)} scratch files for one frame instead of {len(self.suffixes)} "
                f"into '{self.raw_dir}' ({self._room()})"
            )
        self._taken += 1
        waiting = self.raw_dir / "waiting"
        waiting.mkdir(exist_ok=True)
        views = []
        with stages.time("move scratch exr aside"):
            for i, path in enumerate(_by_suffix(files, self.suffixes)):
                views.append(ScratchPasses(path.rename(waiting / f"{self._taken}_{i}.exr"), self._read_scratch))
        if "vector" in self.passes and not compat.FILE_OUTPUT_KEEPS_VECTOR_W:
            with stages.time("vector pass (Blender exr)"):
                vectors = self._render_result_layer("Vector")
            for passes, vector in zip(views, vectors, strict=True):
                passes.extra["vector"] = vector
        return views

    def _read_scratch(self, path: Path) -> dict[str, np.ndarray]:
        try:
            return read_raw_passes(path)
        except TruncatedExrError as error:
            raise RuntimeError(
                f"the compositor's scratch file is incomplete ({error}; {self._room()}): the disk holding "
                f"'{self.scratch_parent}' is full. Free space there or set {scratch.ENVIRONMENT} to a folder with room"
            ) from None

    def _room(self) -> str:
        return f"{scratch.free_bytes(self.raw_dir) / 1e6:.0f} MB free there"

    def _render_result_layer(self, name: str) -> list[np.ndarray]:
        """One pass of the view layer per view, from the Render Result saved as multilayer EXR."""
        changes = SceneChanges()
        try:
            compat.set_multilayer_exr(changes, self.scene.render.image_settings)
            paths = self._save_render(self.raw_dir / "render_result.exr")
        finally:
            changes.restore()
        try:
            return [read_raw_passes(path)[f"{self.view_layer.name}.{name}"] for path in paths]
        finally:
            for path in paths:
                path.unlink(missing_ok=True)

    def _save_render(self, path: Path) -> list[Path]:
        """Save the Render Result as ``path``; a multi-view result as one file per view,
        ``path``'s stem plus the view's suffix. Returns the files, in ``suffixes`` order."""
        result = self._render_result()
        if not self.multiview:
            result.save_render(str(path), scene=self.scene)
            return [path]
        changes = SceneChanges()
        try:
            changes.set(self.scene.render.image_settings, "views_format", "INDIVIDUAL")
            result.save_render(str(path), scene=self.scene)
        except RuntimeError:
            # Blender writes each view's file, then reports that ``path`` itself was not
            # written. Whether the views' files are whole is checked by their readers.
            pass
        finally:
            changes.restore()
        return [path.with_name(f"{path.stem}{suffix}{path.suffix}") for suffix in self.suffixes]

    @staticmethod
    def _render_result() -> bpy.types.Image:
        result = next((img for img in bpy.data.images if img.type == "RENDER_RESULT"), None)
        if result is None:
            raise RuntimeError("no Render Result to save")
        return result

    def save_rgb(self, paths: list[Path]) -> None:
        """Save the last render (after compositing, in the scene's view transform) as PNG,
        one file per view (in ``suffixes`` order).

        The scene's image format is PNG only while saving, so that a user's own render
        output (F12 with export on) keeps its format.
        """
        changes = SceneChanges()
        path = self.raw_dir / "rgb.png" if self.multiview else paths[0]  # views are moved into place
        try:
            compat.set_still_png(changes, self.scene.render.image_settings, alpha=self.scene.render.film_transparent)
            try:
                saved = self._save_render(path)
            except RuntimeError:
                with open(path, "wb"):  # Blender does not say why; the system does (read-only, no space, …)
                    pass
                raise
        finally:
            changes.restore()
        for view_file, target in zip(saved, paths, strict=True):
            _check_png(view_file)
            if view_file != target:
                shutil.move(view_file, target)


@dataclass
class ScratchPasses:
    """One view's passes of one render, waiting in the scratch folder (bpy-free)."""

    path: Path
    reader: Callable[[Path], dict[str, np.ndarray]]
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # passes read already (4.x's Vector)

    def read(self) -> dict[str, np.ndarray]:
        """The passes, as ``{pass key: float32 image}``; the file is deleted. Raises
        ``RuntimeError`` with the reason when the file is cut short (a full disk)."""
        try:
            passes = self.reader(self.path)
        finally:
            self.path.unlink(missing_ok=True)
        passes.update(self.extra)
        return passes


def _by_suffix(files: list[Path], suffixes: tuple[str, ...]) -> list[Path]:
    """``files`` in the order of the views whose ``suffixes`` end their names (the
    longest suffix first, so that ``_L`` and ``L`` are told apart)."""
    if suffixes == ("",):
        return files
    left, found = list(files), {}
    for suffix in sorted(suffixes, key=len, reverse=True):
        match = next((f for f in left if f.stem.endswith(suffix)), None)
        if match is None:
            raise RuntimeError(f"the compositor wrote no scratch file for the view with suffix '{suffix}'")
        left.remove(match)
        found[suffix] = match
    return [found[s] for s in suffixes]
