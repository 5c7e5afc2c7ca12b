# SPDX-License-Identifier: GPL-3.0-or-later
"""The scene state an export needs, set up for the render and undone afterwards."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import bpy
import numpy as np

from .. import compat
from ..compositor import wiring
from ..core.modalities import PASSES
from ..exporters.exr_scanline import TruncatedExrError
from ..exporters.raw_exr import read_raw_passes
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
    ):
        self.scene, self.view_layer, self.passes, self.flow = scene, view_layer, passes, flow
        self.geometry = geometry
        self.scratch_parent = scratch_parent
        self.changes = SceneChanges()
        self.raw_dir: Path | None = None

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
        compat.use_cpu_compositor(changes, scene.render)
        if self.geometry:
            match_render_geometry(scene, self.view_layer, changes)

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

    def _tear_down(self) -> None:
        try:
            self.changes.restore()
        finally:
            if self.raw_dir is not None:
                shutil.rmtree(self.raw_dir, ignore_errors=True)

    def take_passes(self) -> dict[str, np.ndarray]:
        """The passes our File Output wrote for the last render, read and then deleted."""
        files = sorted(self.raw_dir.glob("*.exr"))
        if len(files) != 1:
            raise RuntimeError(
                f"the compositor wrote {len(files)} scratch files for one frame instead of one "
                f"into '{self.raw_dir}' ({self._room()})"
            )
        try:
            passes = read_raw_passes(files[0])
        except TruncatedExrError as error:
            raise RuntimeError(
                f"the compositor's scratch file is incomplete ({error}; {self._room()}): the disk holding "
                f"'{self.scratch_parent}' is full. Free space there or set {scratch.ENVIRONMENT} to a folder with room"
            ) from None
        finally:
            files[0].unlink(missing_ok=True)
        if "vector" in self.passes and not compat.FILE_OUTPUT_KEEPS_VECTOR_W:
            passes["vector"] = self._render_result_layer("Vector")
        return passes

    def _room(self) -> str:
        return f"{scratch.free_bytes(self.raw_dir) / 1e6:.0f} MB free there"

    def _render_result_layer(self, name: str) -> np.ndarray:
        """One pass of the view layer, from the Render Result saved as multilayer EXR."""
        path = self.raw_dir / "render_result.exr"
        changes = SceneChanges()
        try:
            compat.set_multilayer_exr(changes, self.scene.render.image_settings)
            self._render_result().save_render(str(path), scene=self.scene)
        finally:
            changes.restore()
        try:
            return read_raw_passes(path)[f"{self.view_layer.name}.{name}"]
        finally:
            path.unlink()

    @staticmethod
    def _render_result() -> bpy.types.Image:
        result = next((img for img in bpy.data.images if img.type == "RENDER_RESULT"), None)
        if result is None:
            raise RuntimeError("no Render Result to save")
        return result

    def save_rgb(self, path: Path) -> None:
        """Save the last render (after compositing, in the scene's view transform) as PNG.

        The scene's image format is PNG only while saving, so that a user's own render
        output (F12 with export on) keeps its format.
        """
        changes = SceneChanges()
        try:
            compat.set_still_png(changes, self.scene.render.image_settings, alpha=self.scene.render.film_transparent)
            try:
                self._render_result().save_render(str(path), scene=self.scene)
            except RuntimeError:
                with open(path, "wb"):  # Blender does not say why; the system does (read-only, no space, …)
                    pass
                raise
        finally:
            changes.restore()
        _check_png(path)
