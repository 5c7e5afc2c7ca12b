# SPDX-License-Identifier: GPL-3.0-or-later
"""Model frames: where each object instance's model coordinates come from (no ``bpy``).

An instance's model frame is its object's local frame with its world scale applied
(docs/contract.md, Per-pixel geometry): the 3×3 part M of its world matrix is split by
polar decomposition, M = R·P with R a rotation (determinant +1) and P symmetric (the
scale, and the shear or mirror of a matrix that has them), so that a point's model
coordinates are P·local = Rᵀ(world − t). Its box is the per-axis extent of the evaluated
mesh's vertices in that frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .transform import transform


def polar_rotation(matrix: np.ndarray) -> np.ndarray:
    """R of the polar decomposition M = R·P of a 3×3 matrix, a rotation (a mirror in M
    stays in P)."""
    left, _, right = np.linalg.svd(np.asarray(matrix, np.float64))
    if np.linalg.det(left @ right) < 0:
        left[:, -1] = -left[:, -1]  # the smallest stretch takes the mirror
    return left @ right


@dataclass(frozen=True)
class ModelFrames:
    """Per instance: the rotation R (I, 3, 3) and translation t (I, 3) of its model frame
    in the world, and its box there, ``low`` and ``high`` (I, 3; NaN for no vertices)."""

    rotation: np.ndarray
    translation: np.ndarray
    low: np.ndarray
    high: np.ndarray


def model_frames(matrices: list[np.ndarray], vertices: np.ndarray, first_vertex: np.ndarray) -> ModelFrames:
    """The model frames of instances with these world matrices (4, 4) whose world-space
    vertices are ``vertices[first_vertex[i]:first_vertex[i + 1]]``."""
    count = len(matrices)
    rotation, translation = np.zeros((count, 3, 3)), np.zeros((count, 3))
    low, high = np.full((count, 3), np.nan), np.full((count, 3), np.nan)
    for i, matrix in enumerate(matrices):
        matrix = np.asarray(matrix, np.float64)
        rotation[i], translation[i] = polar_rotation(matrix[:3, :3]), matrix[:3, 3]
        own = vertices[first_vertex[i] : first_vertex[i + 1]]
        if len(own):
            model = transform(own - translation[i], rotation[i].T)  # Rᵀ(x − t)
            low[i], high[i] = model.min(axis=0), model.max(axis=0)
    return ModelFrames(rotation, translation, low, high)


def to_model(points: np.ndarray, which: np.ndarray, frames: ModelFrames) -> np.ndarray:
    """World points (N, 3) in the model frames of the instances ``which`` (N,) names
    (-1: none, NaN there)."""
    known = which >= 0
    chosen = np.where(known, which, 0)
    out = np.einsum("nji,nj->ni", frames.rotation[chosen], points - frames.translation[chosen])
    out[~known] = np.nan
    return out


def nocs(model: np.ndarray, which: np.ndarray, frames: ModelFrames) -> np.ndarray:
    """Normalized object coordinates of model points (N, 3): (x − c) / d + 0.5 with c the
    centre and d the diagonal's length of the instance's box, in [0, 1] for points of
    its mesh; NaN where ``which`` is -1 or the box is a point."""
    chosen = np.where(which >= 0, which, 0)
    low, high = frames.low[chosen], frames.high[chosen]
    diagonal = np.linalg.norm(high - low, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (model - (low + high) / 2) / np.where(diagonal > 0, diagonal, np.nan)[:, None] + 0.5
    out[which < 0] = np.nan
    return out
