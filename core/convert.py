"""Blender render passes → the arrays of the product contract (``SPEC.md``).

Inputs are the raw pass images as read from the compositor's EXR, where row 0 is the
top row of the picture (Blender's in-memory buffers start at the bottom; the EXR does
not, so no flip is needed). Every function takes and returns numpy arrays, so all of it
is tested without Blender.
"""

from __future__ import annotations

import numpy as np

# Cycles and EEVEE write this depth where a ray hits nothing.
BLENDER_BACKGROUND_Z = 1.0e10
_BACKGROUND_THRESHOLD = 1.0e9


def depth_from_z(z: np.ndarray) -> np.ndarray:
    """Planar depth (H, W) float32 in metres from Blender's Z pass; background → ``inf``.

    Blender's Depth pass already holds camera-space z (distance along the optical axis,
    not along the ray), so only the background value changes.
    """
    depth = np.array(z, dtype=np.float32, copy=True)
    depth[~(depth < _BACKGROUND_THRESHOLD)] = np.inf
    return depth


def background_from_depth(depth: np.ndarray) -> np.ndarray:
    """Boolean (H, W) mask of pixels where no surface was hit."""
    return ~np.isfinite(depth)


def unit_normals(normal: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Normalise an (H, W, 3) normal image; background and zero-length pixels → 0.

    Blender averages normals over the pixel's samples, so edge pixels come shorter than
    unit length; they are renormalised here.
    """
    n = np.ascontiguousarray(normal[..., :3], dtype=np.float32)
    length = np.sqrt(np.einsum("...i,...i->...", n, n))
    valid = (length > 1e-12) & ~background
    scale = np.divide(1.0, length, out=np.zeros_like(length), where=valid)
    return n * scale[..., None]


def normals_to_camera(normal_world: np.ndarray, world_to_camera: np.ndarray) -> np.ndarray:
    """Rotate (H, W, 3) world-space normals into OpenCV camera axes (x right, y down, z forward)."""
    rotation = np.asarray(world_to_camera, dtype=np.float64)[:3, :3].astype(np.float32)
    return normal_world @ rotation.T


def flow_from_vector(vector: np.ndarray, background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward and backward optical flow, each (H, W, 2) float32 ``(dx, dy)`` in pixels.

    Blender's Vector pass holds four channels in pixels with y pointing up: (X, Y) the
    screen motion towards the previous frame, (Z, W) minus the motion towards the next
    frame. With image axes x right, y down:

    * forward (to t+1) = ``(-Z, +W)``
    * backward (to t−1) = ``(+X, -Y)``

    Pixels with no surface (background) are NaN.
    """
    v = np.asarray(vector, dtype=np.float32)
    forward = np.stack([-v[..., 2], v[..., 3]], axis=-1)
    backward = np.stack([v[..., 0], -v[..., 1]], axis=-1)
    forward[background] = np.nan
    backward[background] = np.nan
    return forward, backward


def index_mask(index: np.ndarray) -> np.ndarray:
    """An IndexOB / IndexMA pass (float) as an int32 (H, W) mask; 0 is the background."""
    return np.rint(index).astype(np.int32)


def frame_arrays(
    raw: dict[str, np.ndarray],
    K: np.ndarray,
    world_to_camera: np.ndarray,
    frame: int,
) -> dict[str, np.ndarray]:
    """Every SPEC array that ``raw`` allows, keyed as in the NPZ.

    ``raw`` maps pass names (``depth``, ``normal``, ``vector``, ``object_index``,
    ``material_index``, ``emission``) to float32 images with row 0 at the top, shape
    (H, W) or (H, W, C). Passes that are absent give no array. The background is taken
    from depth; without depth, nothing is masked as background.

    ``raw`` is consumed: each pass leaves it once converted, so that a large frame holds
    its passes and its arrays together only one pass at a time.
    """
    out: dict[str, np.ndarray] = {}
    if "depth" in raw:
        out["depth"] = depth_from_z(raw.pop("depth"))
        background = background_from_depth(out["depth"])
    else:
        some = next(iter(raw.values()))
        background = np.zeros(some.shape[:2], dtype=bool)
    if "normal" in raw:
        out["normal_world"] = unit_normals(raw.pop("normal"), background)
        out["normal"] = normals_to_camera(out["normal_world"], world_to_camera)
    if "vector" in raw:
        out["flow_forward"], out["flow_backward"] = flow_from_vector(raw.pop("vector"), background)
    for key in ("object_index", "material_index"):
        if key in raw:
            out[key] = index_mask(raw.pop(key))
    if "emission" in raw:
        out["emission"] = np.ascontiguousarray(raw.pop("emission")[..., :3], dtype=np.float32)
    out["K"] = np.asarray(K, dtype=np.float64)
    out["world_to_camera"] = np.asarray(world_to_camera, dtype=np.float64)
    out["frame"] = np.int64(frame)
    return out
