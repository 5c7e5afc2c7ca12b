# SPDX-License-Identifier: GPL-3.0-or-later
"""Blender's Stereo 3D cameras, from plain numbers: where each eye is, its lens shift,
and the disparity of a rectified pair.

With Stereoscopy on and the Stereo 3D format, Blender renders a ``left`` and a
``right`` view from one camera (its Stereoscopy panel: convergence mode, interocular
distance, convergence plane distance, pivot). Blender's source (``camera.cc``, the
multi-view model matrix and shift) defines the eyes; this module follows it:

* The pivot eye (``LEFT`` or ``RIGHT``) is the camera itself. With ``CENTER`` each eye
  moves half the interocular distance; otherwise the other eye moves all of it.
* ``PARALLEL`` and ``OFFAXIS``: an eye moves along the camera's x axis only (left eye to
  the left). ``OFFAXIS`` also shifts the lens of every eye that moved, by
  ``(interocular / sensor_width) · (lens / convergence_distance)`` times the eye's share
  (to the right for the left eye), so that the views meet at the convergence distance.
* ``TOE`` (toe-in): the eyes also turn about the camera's y axis towards each other. The
  pair is then not rectified: a point's rows differ between the views.

Rectified pairs (parallel and off-axis) share rotation, focal length and rows; only x
differs, so the point seen at (x, y) in the left view is at (x − d, y) in the right one,
with ``d = fx·B/z + (cx_left − cx_right)`` for planar depth z and baseline B.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LEFT, RIGHT = "left", "right"  # Blender's names of the Stereo 3D views
RECTIFIED_MODES = ("PARALLEL", "OFFAXIS")


@dataclass(frozen=True)
class StereoSettings:
    """A camera's Stereoscopy panel (``Camera.stereo``), in Blender's names and units."""

    convergence_mode: str  # 'OFFAXIS', 'PARALLEL' or 'TOE'
    interocular_distance: float  # metres
    convergence_distance: float  # metres
    pivot: str  # 'LEFT', 'RIGHT' or 'CENTER'

    @property
    def rectified(self) -> bool:
        return self.convergence_mode in RECTIFIED_MODES

    def share(self, eye: str) -> float:
        """How far ``eye`` moves, as a signed fraction of the interocular distance along
        the camera's x axis (negative: to the left); 0 for the pivot eye."""
        if self.pivot == eye.upper():
            return 0.0
        fraction = 0.5 if self.pivot == "CENTER" else 1.0
        return -fraction if eye == LEFT else fraction

    def eye_matrix(self, camera_matrix_world: np.ndarray, eye: str) -> np.ndarray:
        """The world matrix (4×4, float64, unit axes) from which Blender renders ``eye``."""
        m = np.array(camera_matrix_world, dtype=np.float64)
        m[:3, :3] /= np.linalg.norm(m[:3, :3], axis=0)
        share = self.share(eye)
        if share == 0.0:
            return m
        move = np.eye(4)
        move[0, 3] = share * self.interocular_distance
        if self.convergence_mode != "TOE":
            return m @ move
        # Toe-in: each moved eye turns towards the camera's axis by the angle under which
        # half the interocular distance is seen from the convergence distance (Blender's
        # rule, which turns a non-pivot eye by that angle before and after its move).
        angle = math.atan(0.5 * self.interocular_distance / self.convergence_distance)
        turn = _turn_y(angle if eye == LEFT else -angle)
        if self.pivot == "CENTER":
            return m @ move @ turn
        return m @ turn @ move @ turn

    def eye_shift_x(self, shift_x: float, eye: str, lens: float, sensor_width: float) -> float:
        """The horizontal lens shift Blender renders ``eye`` with (``OFFAXIS`` moves it)."""
        if self.convergence_mode != "OFFAXIS":
            return shift_x
        toward_axis = self.interocular_distance / sensor_width * lens / self.convergence_distance
        return shift_x - self.share(eye) * toward_axis

    def describe(self, left_K: np.ndarray, right_K: np.ndarray) -> dict:
        """``meta.json``'s ``stereo`` entry for the pair with these intrinsics."""
        out = {
            "left": LEFT,
            "right": RIGHT,
            "baseline_m": self.interocular_distance,
            "convergence_mode": self.convergence_mode,
            "convergence_distance_m": self.convergence_distance,
            "pivot": self.pivot,
            "rectified": self.rectified,
        }
        if self.rectified:
            out["disparity"] = "d = fx·baseline/z + disparity_at_infinity_px (pixels, z planar depth)"
            out["disparity_at_infinity_px"] = float(left_K[0, 2] - right_K[0, 2])
        else:
            out["disparity"] = "not given: a toe-in pair is not rectified (its rows differ between the views)"
        return out


def _turn_y(angle: float) -> np.ndarray:
    """A rotation about the camera's y axis that turns its view direction (−z) towards
    +x for a positive ``angle``."""
    c, s = math.cos(angle), math.sin(angle)
    turn = np.eye(4)
    turn[0, 0], turn[0, 2], turn[2, 0], turn[2, 2] = c, -s, s, c
    return turn


def disparity(depth: np.ndarray, fx_baseline: float, at_infinity: float) -> np.ndarray:
    """Disparity (H, W) float32 in pixels of a rectified pair from one view's planar
    depth: ``fx_baseline / z + at_infinity``; ``at_infinity`` where no surface is (inf)."""
    z = np.asarray(depth, dtype=np.float64)
    with np.errstate(divide="ignore"):
        out = fx_baseline / z + at_infinity
    return out.astype(np.float32)
