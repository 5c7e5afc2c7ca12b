# SPDX-License-Identifier: GPL-3.0-or-later
"""Camera intrinsics and pose in the OpenCV convention, from plain numbers.

OpenCV camera axes: x right, y down, z forward (into the scene). Pixel centres sit at
integer coordinates: the top-left pixel's centre is (0, 0), so the picture spans
[-0.5, W - 0.5] horizontally.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Blender's camera looks along its local -Z with +Y up; OpenCV looks along +Z with +Y
# down. This flips Blender camera-local coordinates into OpenCV camera coordinates.
BLENDER_TO_OPENCV = np.diag([1.0, -1.0, -1.0])


@dataclass(frozen=True)
class CameraParams:
    """What the projection of a camera depends on (Blender's names).

    ``lens`` and the sensor sizes are in millimetres; ``resolution_x``/``_y`` are the
    full-size render resolution before ``resolution_percentage``; ``border`` is
    ``(min_x, max_x, min_y, max_y)`` as fractions (y from the bottom) when the render is
    cropped to a border, else ``None``.
    """

    lens: float
    sensor_width: float
    sensor_height: float
    sensor_fit: str  # 'AUTO', 'HORIZONTAL' or 'VERTICAL'
    shift_x: float
    shift_y: float
    resolution_x: int
    resolution_y: int
    resolution_percentage: int = 100
    pixel_aspect_x: float = 1.0
    pixel_aspect_y: float = 1.0
    border: tuple[float, float, float, float] | None = None
    projection: str = "PERSP"  # or 'ORTHO'
    ortho_scale: float = 1.0  # metres across the fitted side (ORTHO)


def full_size(params: CameraParams) -> tuple[int, int]:
    """Width and height in pixels after ``resolution_percentage`` (before any crop)."""
    scale = params.resolution_percentage / 100.0
    return int(params.resolution_x * scale), int(params.resolution_y * scale)


def crop_window(params: CameraParams) -> tuple[int, int, int, int]:
    """The rendered pixel window ``(x0, y0, width, height)``, y0 counted from the top.

    Without a border crop this is the whole picture. With one it follows Blender's
    render window: ``int(border * size)`` on each side, y measured from the bottom,
    computed in float32 as Blender does (0.7 × 120 is 84 there, 83.99… in float64).
    """
    width, height = full_size(params)
    if params.border is None:
        return 0, 0, width, height
    min_x, max_x, min_y, max_y = (np.float32(b) for b in params.border)
    x0, x1 = int(min_x * np.float32(width)), int(max_x * np.float32(width))
    y0_bottom, y1_bottom = int(min_y * np.float32(height)), int(max_y * np.float32(height))
    return x0, height - y1_bottom, x1 - x0, y1_bottom - y0_bottom


def output_size(params: CameraParams) -> tuple[int, int]:
    """``(W, H)`` of the exported arrays: the effective resolution, crop honoured."""
    _, _, width, height = crop_window(params)
    return width, height


def intrinsics(params: CameraParams) -> np.ndarray:
    """The 3×3 OpenCV intrinsic matrix ``K`` (float64, pixels) of the exported picture.

    Follows Blender's view plane: the sensor side that is fitted spans the picture's
    width (horizontal fit) or height (vertical fit); AUTO fits the larger side of the
    picture (pixel aspect included) to ``sensor_width``. Lens shift moves the principal
    point by ``shift × (fitted side in pixels)``; non-square pixels make ``fy != fx``.

    Perspective: ``[u, v, 1] ∝ K @ [x, y, z]`` (camera coordinates, divide by z).
    Orthographic: ``[u, v, 1] = K @ [x, y, 1]`` (x, y in metres, no division): ``fx`` is
    pixels per metre, ``ortho_scale`` metres spanning the fitted side.
    """
    width, height = full_size(params)
    asp_x, asp_y = params.pixel_aspect_x, params.pixel_aspect_y
    ycor = asp_y / asp_x
    fit = params.sensor_fit
    if fit == "AUTO":
        fit = "HORIZONTAL" if asp_x * width >= asp_y * height else "VERTICAL"
        sensor = params.sensor_width
    elif fit == "HORIZONTAL":
        sensor = params.sensor_width
    elif fit == "VERTICAL":
        sensor = params.sensor_height
    else:
        raise ValueError(f"unknown sensor fit {fit!r}")
    view_factor = width if fit == "HORIZONTAL" else ycor * height
    if params.projection == "ORTHO":
        fx = view_factor / params.ortho_scale
    elif params.projection == "PERSP":
        fx = params.lens * view_factor / sensor
    else:
        raise ValueError(f"no pinhole or affine intrinsics for a {params.projection!r} camera")
    fy = fx / ycor
    cx = width / 2.0 - 0.5 - params.shift_x * view_factor
    cy = height / 2.0 - 0.5 + params.shift_y * view_factor / ycor
    x0, y0, _, _ = crop_window(params)
    return np.array([[fx, 0.0, cx - x0], [0.0, fy, cy - y0], [0.0, 0.0, 1.0]])


def world_to_camera(camera_matrix_world: np.ndarray) -> np.ndarray:
    """The 4×4 OpenCV world→camera transform from a Blender camera's ``matrix_world``.

    Scale on the camera object does not change Blender's projection, so it is removed,
    and the float32 rounding of Blender's matrix with it: the rotation is the nearest
    orthonormal one (polar decomposition), so the result is rigid to float64 precision.
    """
    m = np.asarray(camera_matrix_world, dtype=np.float64)
    u, _, vt = np.linalg.svd(m[:3, :3])
    rotation = u @ vt
    r_cv = BLENDER_TO_OPENCV @ rotation.T
    out = np.eye(4)
    out[:3, :3] = r_cv
    out[:3, 3] = -r_cv @ m[:3, 3]
    return out


@dataclass(frozen=True)
class FrameCamera:
    """One view's camera at one frame, as a frame's arrays need it: ``K`` (see
    :func:`intrinsics`), the OpenCV ``world_to_camera``, the far clip (depth beyond it is
    background), ``projection`` ('PERSP' or 'ORTHO'), and for a view of a rectified
    stereo pair the pair's fx·baseline and disparity at infinity (pixels)."""

    K: np.ndarray
    world_to_camera: np.ndarray
    clip_end: float = float("inf")
    projection: str = "PERSP"
    stereo: tuple[float, float] | None = None
