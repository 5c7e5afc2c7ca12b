# SPDX-License-Identifier: GPL-3.0-or-later
"""``tracks.npz``: query points followed over every complete frame of the folder.

Written once per folder by whatever ends a run (a ``render``, the animation export, a
farm's ``merge``), so a folder filled by several runs or machines gets one file for all
its frames. Two passes over the frames: the first finds the query points' surfaces
(candidates on a pixel grid, or the given queries), the second follows every point
into every frame (``pipeline/motion.py``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core import motion as core_motion
from ..core.png import write_png
from ..core.previews import ContactSheet, thumbnail
from ..core.surfaces import concat, locate, observe, surfaces_at
from ..core.tracks import (
    TRACKS_NAME,
    candidate_pixels,
    check_queries,
    choose_queries,
    draw_points,
    strip_frames,
    track_colours,
)
from ..exporters.atomic import atomic_path
from ..exporters.background import encoding_pool
from ..exporters.layout import rgb_path
from ..exporters.npz import write_npz
from .changes import SceneChanges
from .contact import RunEndPictures
from .motion import GeometryCache, match_render_geometry
from .options import TrackOptions
from .views import View

TRACKS_PREVIEW_NAME = "tracks_preview.png"
# The first pass keeps each frame's geometry (and its ray engine) for the second while
# the kept frames hold at most this many triangles: a frame captured again costs
# Blender's evaluation and a new ray engine (two thirds of the passes' time on the
# benchmark's scene).
KEPT_TRIANGLES = 1 << 21


def _queries(cache: GeometryCache, frames: list[int], options: TrackOptions, size):
    """The query points (N, 3) ``(t, y, x)`` and their surfaces."""
    given = None
    if isinstance(options.queries, str):
        try:
            given = check_queries(np.load(options.queries), len(frames))
        except (OSError, ValueError) as error:
            raise ValueError(f"{options.queries}: {error}") from None
    elif options.queries is not None:
        given = check_queries(options.queries, len(frames))
    parts, rows, asked, kept = [], [], [], 0
    for index, frame in enumerate(frames):
        if given is not None:
            at = np.flatnonzero(given[:, 0] == index)
            if not len(at):
                continue
            asked.append(at)
            pixels = given[at][:, [2, 1]].astype(np.float64)
        else:
            pixels = candidate_pixels(size, options.seed, index)
        geometry = cache.at(frame, cache.views[0].name)
        seen = surfaces_at(geometry, pixels)
        kept += len(geometry.corners)
        if kept > KEPT_TRIANGLES:
            kept -= len(geometry.corners)
            cache.frames.pop(frame)  # the second pass captures it again
        if given is None:  # candidates: keep those on an object with a pass index
            keep = np.flatnonzero((seen.instance >= 0) & (seen.pass_index > 0))
            seen, pixels = seen.take(keep), pixels[keep]
        parts.append(seen)
        rows.append(np.column_stack([np.full(len(pixels), index), pixels[:, 1], pixels[:, 0]]))
    surfaces = concat(parts)
    queries = np.concatenate(rows).astype(np.float32) if rows else np.zeros((0, 3), np.float32)
    if given is None:
        names = [inst.key[0] for inst in surfaces.instances]
        rank = {name: i for i, name in enumerate(sorted(set(names)))}  # in the objects' name order
        objects = np.array([rank[name] for name in names], np.int64)[surfaces.instance]
        chosen = choose_queries(objects, options.per_object, options.seed)
    else:  # back in the order they were given
        chosen = np.argsort(np.concatenate(asked), kind="stable")
        queries = given[np.concatenate(asked)]
    return queries[chosen], surfaces.take(chosen)


def compute_tracks(
    scene, view_layer, view: View, frames: list[int], options: TrackOptions, size
) -> dict[str, np.ndarray]:
    """The arrays of ``tracks.npz`` for ``frames`` (ascending), seen from ``view``. Moves
    the scene's frame."""
    cache = GeometryCache(scene, view_layer, (view,))
    queries, surfaces = _queries(cache, frames, options, size)
    count, length = len(queries), len(frames)
    target = np.full((count, length, 2), np.nan, np.float32)
    occluded = np.ones((count, length), bool)
    depth = np.full((count, length), np.nan, np.float32)
    for index, frame in enumerate(frames):
        geometry = cache.at(frame, cache.views[0].name)
        cache.keep(frame + 1, frames[-1])  # done with it and the frames before
        points, followed, own = locate(surfaces, geometry)
        pixels, z, codes = observe(geometry, points, followed, own)
        target[:, index] = pixels
        occluded[:, index] = codes != core_motion.VISIBLE
        depth[:, index] = np.where(followed, z, np.nan)
    hit = surfaces.instance >= 0
    at_query = queries[:, 0].astype(np.int64)
    rows = np.flatnonzero(hit)
    target[rows, at_query[rows]] = queries[rows][:, [2, 1]]  # exactly where it was asked for
    occluded[rows, at_query[rows]] = False
    return {
        "frames": np.asarray(frames, np.int64),
        "query_points": queries,
        "target_points": target,
        "occluded": occluded,
        "track_depth": depth,
        "track_object_index": surfaces.pass_index.astype(np.int32),
    }


def write_tracks(
    scene,
    view_layer,
    view: View,
    root: Path,
    frames: list[int],
    options: TrackOptions,
    size,
    preview: RunEndPictures | None,
) -> Path:
    """Compute and write ``root/tracks.npz`` (and with ``preview``, its strip of the RGB
    pictures there); the scene is left as it was. Raises ``ValueError`` for unusable
    given queries."""
    changes = SceneChanges()
    current = scene.frame_current
    try:
        match_render_geometry(scene, view_layer, changes)
        tracks = compute_tracks(scene, view_layer, view, frames, options, size)
    finally:
        changes.restore()
        scene.frame_set(current)
    path = root / TRACKS_NAME
    write_npz(path, tracks)
    if preview is not None:
        write_tracks_preview(root, tracks, preview)
    return path


def write_tracks_preview(root: Path, tracks: dict[str, np.ndarray], pictures: RunEndPictures) -> Path:
    """``tracks_preview.png``: a strip of RGB frames (from ``pictures``) with every track
    drawn, a filled dot where the point is seen and a ring where it is hidden."""
    colours = track_colours(len(tracks["query_points"]))
    picks = strip_frames(len(tracks["frames"]))
    tiles = []
    for index in picks:
        rgb = pictures.rgb(rgb_path(root, int(tracks["frames"][index])))
        drawn = draw_points(rgb, tracks["target_points"][:, index], tracks["occluded"][:, index], colours)
        tiles.append(thumbnail(drawn))
    path = root / TRACKS_PREVIEW_NAME
    picked = " ".join(str(int(tracks["frames"][i])) for i in picks)
    with atomic_path(path) as tmp, open(tmp, "wb") as stream:
        text = {"frames": picked, "points": "filled: seen, ring: hidden"}
        write_png(stream, ContactSheet([tiles]), text, run=encoding_pool().map)
    return path
