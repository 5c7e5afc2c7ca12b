# SPDX-License-Identifier: GPL-3.0-or-later
"""Point tracks in TAP-Vid's layout (``tracks.npz``): choosing query points, checking
given ones, and the preview strip. The geometry is ``pipeline/tracks.py``'s.

Layout (``docs/contract.md``): ``frames`` (T,), ``query_points`` (N, 3) as (t, y, x)
with t an index into ``frames``, ``target_points`` (N, T, 2) as (x, y), ``occluded``
(N, T), ``track_depth`` (N, T), ``track_object_index`` (N,). Pixel centres are at
integer coordinates.
"""

from __future__ import annotations

import numpy as np

from .previews import mask_colours

TRACKS_NAME = "tracks.npz"
# A frame's candidate query points: about this many pixel centres on a grid.
CANDIDATES_PER_FRAME = 65536


def candidate_pixels(size: tuple[int, int], seed: int, frame_index: int) -> np.ndarray:
    """Pixel centres (N, 2) ``(x, y)`` where a frame looks for query points: every
    ``stride``-th pixel, at an offset drawn per frame, so that ~``CANDIDATES_PER_FRAME``
    pixels are tried and different frames try different pixels."""
    width, height = size
    stride = max(1, int(np.sqrt(width * height / CANDIDATES_PER_FRAME)))
    ox, oy = np.random.default_rng([seed, frame_index]).integers(0, stride, 2)
    ys, xs = np.mgrid[oy:height:stride, ox:width:stride]
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def choose_queries(objects: np.ndarray, per_object: int, seed: int) -> np.ndarray:
    """Indices into a pool of candidates (``objects`` (M,) tells the object each lies on,
    by name or by any labels in the names' order):
    up to ``per_object`` per object, drawn without repeats, grouped by object (in sorted
    order) and in pool order within one."""
    rng = np.random.default_rng(seed)
    chosen = []
    for name in sorted(set(objects.tolist())):
        pool = np.flatnonzero(objects == name)
        pick = rng.choice(len(pool), size=min(per_object, len(pool)), replace=False)
        chosen.append(pool[np.sort(pick)])
    return np.concatenate(chosen) if chosen else np.zeros(0, np.int64)


def check_queries(queries: np.ndarray, frame_count: int) -> np.ndarray:
    """Given queries as float32 (N, 3) ``(t, y, x)``; raises ``ValueError`` (for the user)
    when they are not that, or name a frame index the run does not have."""
    queries = np.asarray(queries)
    if queries.ndim != 2 or queries.shape[1] != 3 or queries.dtype.kind not in "iuf":
        raise ValueError(f"track queries must be an (N, 3) array of (frame index, y, x), not {queries.shape}")
    t = queries[:, 0]
    if not np.all(np.isfinite(queries)) or np.any(t != np.round(t)) or np.any((t < 0) | (t >= frame_count)):
        raise ValueError(f"track queries need whole frame indices from 0 to {frame_count - 1} and finite pixels")
    return queries.astype(np.float32)


def _disc(radius: float) -> tuple[np.ndarray, np.ndarray]:
    r = int(np.ceil(radius))
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
    distance, offsets = np.hypot(dx, dy), np.stack([dx, dy], -1)
    return offsets[distance <= radius], offsets[np.abs(distance - radius + 0.5) <= 0.75]


def draw_points(image: np.ndarray, points: np.ndarray, hidden: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """``image`` (H, W, 3) uint8 with a dot per point (x, y): filled where seen, a ring
    where hidden or outside (those outside the picture are not drawn)."""
    out = image.copy()
    height, width = out.shape[:2]
    radius = max(2.0, min(height, width) / 80.0)
    drawn = np.flatnonzero(np.isfinite(points).all(axis=1))
    centres = np.rint(points[drawn]).astype(np.int64)
    pixels, owners = [], []
    for shape, chosen in zip(_disc(radius), (~hidden[drawn], hidden[drawn]), strict=True):  # filled, ring
        pixels.append((centres[chosen, None, :] + shape[None]).reshape(-1, 2))
        owners.append(np.repeat(drawn[chosen], len(shape)))
    px, py = np.concatenate(pixels).T
    owner = np.concatenate(owners)
    keep = (px >= 0) & (px < width) & (py >= 0) & (py < height)
    # Where dots overlap, the later point's is on top, as if drawn one after another.
    top = np.full(height * width, -1, np.int64)
    np.maximum.at(top, py[keep] * width + px[keep], owner[keep])
    painted = np.flatnonzero(top >= 0)
    out.reshape(-1, out.shape[-1])[painted] = colours[top[painted]]
    return out


def track_colours(count: int) -> np.ndarray:
    """A distinct colour per track (the masks' palette)."""
    return mask_colours(np.arange(1, count + 1))


def strip_frames(frame_count: int, columns: int = 6) -> list[int]:
    """Indices of up to ``columns`` frames spread over the run, first and last included."""
    count = min(columns, frame_count)
    return sorted({round(i * (frame_count - 1) / max(count - 1, 1)) for i in range(count)})
