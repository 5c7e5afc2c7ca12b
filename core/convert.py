# SPDX-License-Identifier: GPL-3.0-or-later
"""Blender render passes → the arrays of the contract (``docs/contract.md``).

Inputs are the raw pass images as read from the compositor's EXR, where row 0 is the
top row of the picture (Blender's in-memory buffers start at the bottom; the EXR does
not, so no flip is needed). Every function takes and returns numpy arrays, so all of it
is tested without Blender. Each modality of the registry (``core/modalities.py``) names
one ``*_arrays`` function here, which takes a :class:`FrameData`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .boxes import boxes_from_mask
from .camera import FrameCamera
from .stereo import disparity
from .transform import transform

# The per-instance rows of use_object_labels (docs/contract.md, Objects).
OBJECT_ROWS = (
    "instance_ids",
    "instance_class",
    "instance_model",
    "instance_pose",
    "instance_box3d",
    "instance_visible_pixels",
    "instance_amodal_pixels",
    "instance_visibility",
    "instance_amodal_boxes",
    "instance_in_frame",
)

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


# EEVEE on Blender 4.2–5.1 writes the far clipping distance, not 1e10, where no
# surface is. A depth this close to the far clip (or beyond) counts as background.
FAR_CLIP_MARGIN = 1e-3


def mark_background(z: np.ndarray, clip_end: float) -> None:
    """Set every depth of the Z pass at or beyond ``clip_end × (1 − FAR_CLIP_MARGIN)`` to
    Blender's background value, in place: no surface renders beyond the far clip."""
    z[z >= clip_end * (1.0 - FAR_CLIP_MARGIN)] = BLENDER_BACKGROUND_Z


def background_from_z(z: np.ndarray) -> np.ndarray:
    """Boolean (H, W) mask of pixels where no surface was hit, from the Z pass or depth."""
    return ~(np.asarray(z) < _BACKGROUND_THRESHOLD)


def unit_normals(normal: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Normalise an (H, W, 3) normal image; background and zero-length pixels → 0.

    Blender averages normals over the pixel's samples, so edge pixels come shorter than
    unit length; they are renormalised here.
    """
    n = np.asarray(normal[..., :3], dtype=np.float32)
    length = n[..., 0] * n[..., 0]
    length += n[..., 1] * n[..., 1]
    length += n[..., 2] * n[..., 2]
    np.sqrt(length, out=length)
    valid = length > 1e-12
    valid &= ~background
    scale = np.divide(1.0, length, out=np.zeros_like(length), where=valid)
    return n * scale[..., None]


def normals_to_camera(normal_world: np.ndarray, world_to_camera: np.ndarray) -> np.ndarray:
    """Rotate (H, W, 3) world-space normals into OpenCV camera axes (x right, y down, z forward)."""
    return transform(normal_world, np.asarray(world_to_camera, np.float64)[:3, :3], dtype=np.float32)


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
    forward, backward = np.empty((2, *v.shape[:2], 2), np.float32)
    # Negated into a temporary, then copied: numpy 2.4.6 (bpy 4.2's) negates wrongly from
    # every 4th float into every 2nd (``np.negative(v[..., 2], out=forward[..., 0])``).
    forward[..., 0] = -v[..., 2]
    forward[..., 1] = v[..., 3]
    backward[..., 0] = v[..., 0]
    backward[..., 1] = -v[..., 1]
    for channel in (*forward.transpose(2, 0, 1), *backward.transpose(2, 0, 1)):
        np.copyto(channel, np.nan, where=background)  # a channel at a time: 10× a broadcast mask
    return forward, backward


def index_mask(index: np.ndarray) -> np.ndarray:
    """An IndexOB / IndexMA pass (float) as an int32 (H, W) mask; 0 is the background."""
    return np.rint(index).astype(np.int32)


@dataclass
class FrameData:
    """One frame on its way from passes to arrays: what a modality's conversion reads.

    ``passes`` are the raw pass images by pass key; ``camera`` the view's camera at the
    frame (K, pose, projection, the stereo pair's numbers); ``geometry`` the arrays
    computed from rays cast into the scene's geometry (occlusion, flow over k frames,
    and which instance, object and material each pixel shows: ``surfaces.py``);
    ``arrays`` the arrays made so far (a conversion may reuse an earlier one's);
    ``background`` is where no surface was hit.
    """

    passes: dict[str, np.ndarray]
    camera: FrameCamera
    geometry: dict[str, np.ndarray] = field(default_factory=dict)  # from the rays
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    background: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        if "depth" in self.passes:
            self.background = background_from_z(self.passes["depth"])
        else:
            some = next(iter(self.passes.values()))
            self.background = np.zeros(some.shape[:2], dtype=bool)


def depth_arrays(data: FrameData) -> dict[str, np.ndarray]:
    """The Depth pass; where the rays give a depth (EEVEE's, whose pass is up to 1 % off),
    theirs at the pixel centres where they meet the rendered surface."""
    depth = depth_from_z(data.passes["depth"])
    rays = data.geometry.get("depth")
    if rays is not None:
        np.copyto(depth, rays, where=np.isfinite(rays))
    return {"depth": depth}


# Per-pixel arrays are made a band of rows of about this many pixels at a time: an 8K
# frame's float64 temporaries would otherwise take gigabytes, and a band's stay in the
# processor's cache.
_BAND_PIXELS = 1 << 16


def _image_plane(K: np.ndarray, rows: slice, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(u, v) of K⁻¹(x, y, 1) at the pixel centres of ``rows`` (float64, broadcast to
    (rows, W)): the camera-axes point at depth 1 of a perspective camera's ray, the
    offset in metres of an orthographic one's."""
    inverse = np.linalg.inv(np.asarray(K, np.float64))
    y = np.arange(rows.start, rows.stop, dtype=np.float64)[:, None]
    x = np.arange(width, dtype=np.float64)[None, :]
    u = inverse[0, 0] * x + inverse[0, 1] * y + inverse[0, 2]
    return u, np.broadcast_to(inverse[1, 1] * y + inverse[1, 2], u.shape)


def _bands(height: int, width: int):
    step = max(1, _BAND_PIXELS // max(1, width))
    for y in range(0, height, step):
        yield slice(y, min(y + step, height))


def depth_ray_arrays(data: FrameData) -> dict[str, np.ndarray]:
    """``depth_ray``: the distance from the camera centre along the ray through each
    pixel centre, depth·‖K⁻¹(x, y, 1)‖ (an orthographic camera's is ``depth``, from the
    image plane); background inf."""
    depth = data.arrays["depth"]
    if data.camera.projection == "ORTHO":
        return {"depth_ray": depth.copy()}
    out = np.empty_like(depth)
    for rows in _bands(*depth.shape):
        u, v = _image_plane(data.camera.K, rows, depth.shape[1])
        out[rows] = depth[rows] * np.sqrt(u * u + v * v + 1.0)
    return {"depth_ray": out}


def points_arrays(data: FrameData) -> dict[str, np.ndarray]:
    """``points``: the surface point of each pixel in camera axes (OpenCV), from its
    depth and the ray through its centre; ``points_world`` the same in world axes.
    NaN on background."""
    depth = data.arrays["depth"]
    height, width = depth.shape
    camera, world = np.empty((height, width, 3), np.float32), np.empty((height, width, 3), np.float32)
    pose = np.asarray(data.camera.world_to_camera, np.float64)
    orthographic = data.camera.projection == "ORTHO"
    for rows in _bands(height, width):
        z = np.where(np.isfinite(depth[rows]), depth[rows], np.nan).astype(np.float64)
        u, v = _image_plane(data.camera.K, rows, width)
        if orthographic:
            u, v = np.where(np.isnan(z), np.nan, u), np.where(np.isnan(z), np.nan, v)
        else:
            u, v = u * z, v * z
        point = np.stack([u, v, z], axis=-1)
        camera[rows] = point
        world[rows] = transform(point - pose[:3, 3], pose[:3, :3].T)  # R^T (p - t)
    return {"points": camera, "points_world": world}


def disparity_arrays(data: FrameData) -> dict[str, np.ndarray]:
    fx_baseline, at_infinity = data.camera.stereo
    return {"disparity": disparity(data.arrays["depth"], fx_baseline, at_infinity)}


def normal_arrays(data: FrameData) -> dict[str, np.ndarray]:
    normal, background = data.passes["normal"], data.background
    world = np.empty((*normal.shape[:2], 3), np.float32)
    camera = np.empty_like(world)
    for rows in _bands(*normal.shape[:2]):  # each band turned while it is in the cache
        world[rows] = unit_normals(normal[rows], background[rows])
        camera[rows] = normals_to_camera(world[rows], data.camera.world_to_camera)
    return {"normal": camera, "normal_world": world}


def flow_arrays(data: FrameData) -> dict[str, np.ndarray]:
    forward, backward = flow_from_vector(data.passes["vector"], data.background)
    over_k = {key: value for key, value in data.geometry.items() if key.startswith("flow_")}
    return {"flow_forward": forward, "flow_backward": backward, **over_k}


def occlusion_arrays(data: FrameData) -> dict[str, np.ndarray]:
    return {key: value for key, value in data.geometry.items() if key.startswith("occlusion_")}


def _index(data: FrameData, key: str) -> np.ndarray:
    """An index mask from its pass (Cycles), else from the rays (``data.geometry``)."""
    return index_mask(data.passes[key]) if key in data.passes else data.geometry[key]


def object_index_arrays(data: FrameData) -> dict[str, np.ndarray]:
    return {"object_index": _index(data, "object_index")}


def material_index_arrays(data: FrameData) -> dict[str, np.ndarray]:
    return {"material_index": _index(data, "material_index")}


def instance_arrays(data: FrameData) -> dict[str, np.ndarray]:
    """``instance_id`` from the rays, its boxes, and each box's class: the rays give
    ``instance_classes``, a (3, N) table of the frame's instance ids over their objects'
    pass indices and their semantic classes."""
    ids = data.geometry["instance_id"]
    boxes = boxes_from_mask(ids)
    table_ids, table_classes, _ = data.geometry["instance_classes"]
    found = np.searchsorted(table_ids, boxes["box_index"])
    return {
        "instance_id": ids,
        "instance_box_id": boxes["box_index"],
        "instance_boxes": boxes["boxes"],
        "instance_box_pixels": boxes["box_pixels"],
        "instance_box_class": table_classes[found].astype(np.int32),
    }


def semantic_arrays(data: FrameData) -> dict[str, np.ndarray]:
    """``semantic``: the class of the instance each pixel shows (``core/classes.py``),
    from the rays."""
    return {"semantic": data.geometry["semantic"]}


def object_label_arrays(data: FrameData) -> dict[str, np.ndarray]:
    return {key: value for key, value in data.geometry.items() if key in OBJECT_ROWS}


def amodal_mask_arrays(data: FrameData) -> dict[str, np.ndarray]:
    return {"instance_amodal_masks": data.geometry["instance_amodal_masks"]}


def scene_flow_arrays(data: FrameData) -> dict[str, np.ndarray]:
    return {key: value for key, value in data.geometry.items() if key.startswith(("scene_flow_", "depth_change_"))}


def coordinate_arrays(data: FrameData) -> dict[str, np.ndarray]:
    return {key: value for key, value in data.geometry.items() if key in ("object_coords", "nocs")}


def emission_arrays(data: FrameData) -> dict[str, np.ndarray]:
    return {"emission": np.ascontiguousarray(data.passes["emission"][..., :3], dtype=np.float32)}


def albedo_arrays(data: FrameData) -> dict[str, np.ndarray]:
    return {"albedo": np.ascontiguousarray(data.passes["albedo"][..., :3], dtype=np.float32)}


def box_arrays(data: FrameData) -> dict[str, np.ndarray]:
    mask = data.arrays.get("object_index")
    return boxes_from_mask(_index(data, "object_index") if mask is None else mask)
