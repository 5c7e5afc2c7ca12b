# SPDX-License-Identifier: GPL-3.0-or-later
"""The arrays a frame's rays make (no ``bpy``): what :class:`FrameMotion` holds, captured
on Blender's thread, cast on the writer's. ``surfaces.py`` finds and follows the points;
``objects.py`` labels the instances."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import instances, motion, objects, poses
from .surfaces import FrameGeometry, Surfaces, locate, observe
from .transform import transform

# Where the rendered depth and the ray's differ by more than this fraction, the pixel
# shows something the geometry does not hold (a render-only effect such as displacement):
# its answers are left undefined rather than guessed.
RENDER_MISMATCH = 0.05


# Pixels are followed this many at a time, so that an 8K frame's rays take little memory,
# and so that numpy's temporaries stay small (a 640×480 frame's rays took 0.41–0.52 s in
# blocks of 65,536 pixels and 0.29 s in blocks of 16,384, measured side by side here).
BLOCK_PIXELS = 1 << 14


def _key(kind: str, direction: str, k: int) -> str:
    """``occlusion_forward`` for k = 1, ``flow_backward_k4`` beyond."""
    return f"{kind}_{direction}" + ("" if k == 1 else f"_k{k}")


def _meets_render(depth: np.ndarray, render_depth: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Whether the rays' planar depths at pixels (``rows``, ``cols``) meet the rendered
    surface: within ``RENDER_MISMATCH`` of the render's depth at the pixel or at one of
    its eight neighbours (an edge pixel's depth may come from a sample across the edge,
    as EEVEE's does)."""
    height, width = render_depth.shape
    rendered = render_depth[rows, cols]
    agree = np.abs(depth - rendered) <= RENDER_MISMATCH * rendered
    left = np.flatnonzero(~agree)  # almost every pixel agrees at its own centre: only the rest look around
    for dy in (0, -1, 1):
        for dx in (0, -1, 1):
            if (dy or dx) and len(left):
                y, x = np.clip(rows[left] + dy, 0, height - 1), np.clip(cols[left] + dx, 0, width - 1)
                met = np.abs(depth[left] - render_depth[y, x]) <= RENDER_MISMATCH * render_depth[y, x]
                agree[left[met]] = True
                left = left[~met]
    return agree


@dataclass
class FrameMotion:
    """What one frame's geometric arrays need, captured on Blender's thread: the frame's
    geometry and that of each frame t ± k. :meth:`arrays` casts the rays, which needs no
    Blender data and runs on the export's writer thread, beside the next render."""

    source: FrameGeometry
    targets: dict[tuple[int, str], FrameGeometry]
    occlusion: bool
    labels: tuple[str, ...] = ()
    scene_flow: bool = False
    coordinates: tuple[str, ...] = ()  # of object_coords, nocs
    depth: bool = False  # the rays' planar depth, where they meet the rendered surface (EEVEE's)
    objects: tuple[str, ...] = ()  # of object_labels, amodal_masks

    def arrays(self, render_depth: np.ndarray, run: Callable = map) -> dict[str, np.ndarray]:
        """``occlusion_forward``/``_backward`` (with ``occlusion``), for each k > 1
        ``flow_forward_k<k>``, ``flow_backward_k<k>`` (and their occlusion), and each of
        ``labels`` (``instance_id``, ``semantic``, ``object_index``, ``material_index``) of the surface
        each pixel shows (-1 where the render shows a surface the rays do not find), with
        the ``instance_classes`` of the frame's instances (a (3, N) table: ids, pass
        indices, semantic classes); with ``scene_flow``, for each
        target ``scene_flow_<direction>`` (the point's displacement in metres, in this
        frame's camera axes) and ``depth_change_<direction>`` (its planar depth there
        minus here), NaN where it is not followed; each of ``coordinates``
        (``object_coords``, ``nocs``: the point in its instance's model frame,
        ``poses.py``), NaN where no known surface is; with ``depth``, ``depth``: the
        rays' planar depth at pixel centres where they meet the rendered surface, NaN
        elsewhere; with ``objects``, the per-instance rows of ``objects.py`` (and their
        whole silhouettes with ``amodal_masks``). The render's depth pass tells which
        pixels show a surface. ``run`` maps the blocks of pixels (and the neighbours'
        pictures) to the work on them: ``map`` here, or an executor's on several threads."""
        height, width = render_depth.shape
        out: dict[str, np.ndarray] = {}
        for k, direction in self.targets:
            if self.occlusion:
                out[_key("occlusion", direction, k)] = np.full((height, width), motion.NO_SURFACE, np.uint8)
            if k > 1:
                out[_key("flow", direction, k)] = np.full((height, width, 2), np.nan, np.float32)
            if self.scene_flow:
                out[_key("scene_flow", direction, k)] = np.full((height, width, 3), np.nan, np.float32)
                out[_key("depth_change", direction, k)] = np.full((height, width), np.nan, np.float32)
        for name in self.labels:
            out[name] = np.zeros((height, width), np.int32)
        for name in self.coordinates:
            out[name] = np.full((height, width, 3), np.nan, np.float32)
        if self.depth:
            out["depth"] = np.full((height, width), np.nan, np.float32)
        picture = self.source.picture()  # the render's size (FrameWriter checked it)
        if run is not map and self.occlusion:  # the neighbours' pictures side by side first
            list(run(FrameGeometry.face_picture, self.targets.values()))
        rows, cols = np.nonzero(render_depth < 1e9)  # Blender's background depth is 1e10
        starts = range(0, len(rows), BLOCK_PIXELS)
        blocks = [(rows[s : s + BLOCK_PIXELS], cols[s : s + BLOCK_PIXELS]) for s in starts]
        list(run(lambda block: self._block(out, render_depth, *block), blocks))
        if self.depth:
            self._edges(out, render_depth, picture)
        if "instance_id" in self.labels:
            rows = sorted((inst.id, inst.pass_index, inst.class_id) for inst in self.source.instances)
            out["instance_classes"] = np.array(rows, np.int64).reshape(-1, 3).T
            if self.objects:
                masks = "amodal_masks" in self.objects
                out.update(objects.object_labels(self.source, out["instance_id"], masks))
        return out

    def _block(self, out: dict[str, np.ndarray], render_depth: np.ndarray, r, c) -> None:
        """Fill ``out`` at the pixels (``r``, ``c``): a block of :meth:`arrays`."""
        seen = self.source.picture_surfaces(r, c)
        agree = _meets_render(seen.depth, render_depth, r, c)
        for name in self.labels:
            out[name][r, c] = np.where(agree, seen.label(name), -1)
        if self.depth:
            out["depth"][r, c] = np.where(agree, seen.depth, np.nan)
        if self.scene_flow or self.coordinates:  # the points here, on this frame's own vertices
            here = locate(seen, self.source)[0]
        if self.coordinates:
            self._coordinates(out, r, c, seen, here, agree)
        for (k, direction), target in self.targets.items():
            points, followed, own = locate(seen, target)
            followed &= agree
            if self.occlusion:
                moved, depth, codes = observe(target, points, followed, own, picture=True)
                out[_key("occlusion", direction, k)][r, c] = codes
            else:  # flow alone: where the points go, seen or not
                moved, depth = motion.project(target.view, points)
            if k > 1:
                flow = motion.flow_to(np.stack([c, r], axis=1), moved)
                flow[~followed] = np.nan
                out[_key("flow", direction, k)][r, c] = flow
            if self.scene_flow:
                displacement = transform(points - here, self.source.view.rotation)  # into this frame's camera axes
                displacement[~followed] = np.nan
                out[_key("scene_flow", direction, k)][r, c] = displacement
                out[_key("depth_change", direction, k)][r, c] = np.where(followed, depth - seen.depth, np.nan)

    def _edges(self, out: dict[str, np.ndarray], render_depth: np.ndarray, picture: np.ndarray) -> None:
        """Where the rays give the depth (EEVEE's): the pixels next to a rendered surface
        whose own rendered depth is the background, as EEVEE's is at some silhouette
        pixels whose centre shows the surface. Where the ray through the centre meets the
        surface a neighbour shows, the depth and labels are the ray's."""
        surface = render_depth < 1e9
        grown = surface.copy()
        grown[1:] |= surface[:-1]
        grown[:-1] |= surface[1:]
        grown[:, 1:] |= grown[:, :-1].copy()
        grown[:, :-1] |= grown[:, 1:].copy()
        rows, cols = np.nonzero(grown & ~surface & (picture >= 0))
        if not len(rows):
            return
        seen = self.source.picture_surfaces(rows, cols)
        agree = _meets_render(seen.depth, render_depth, rows, cols)
        rows, cols, seen = rows[agree], cols[agree], seen.take(np.flatnonzero(agree))
        out["depth"][rows, cols] = seen.depth
        for name in self.labels:
            out[name][rows, cols] = seen.label(name)

    def _coordinates(self, out, rows, cols, seen: Surfaces, here: np.ndarray, agree: np.ndarray) -> None:
        frames = self.source.model_frames()
        index = [self.source.by_key[inst.key] for inst in seen.instances]
        which = np.where(agree, np.array([*index, -1], np.int64)[seen.instance], -1)
        model = poses.to_model(here, which, frames)
        if "object_coords" in self.coordinates:
            out["object_coords"][rows, cols] = model
        if "nocs" in self.coordinates:
            out["nocs"][rows, cols] = poses.nocs(model, which, frames)

    def instance_table(self, ids: np.ndarray) -> dict[str, dict]:
        """``meta.json``'s rows for the instance ids given (those the frame shows)."""
        wanted = {int(i) for i in ids}
        return {
            str(inst.id): instances.table_entry(inst.key, inst.pass_index)
            for inst in self.source.instances
            if inst.id in wanted
        }
