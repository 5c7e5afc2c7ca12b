# SPDX-License-Identifier: GPL-3.0-or-later
"""Points through a 3×3 matrix (and an offset), a coordinate at a time.

numpy's matrix product hands a large product (more than about 29,000 points through a
3×3 matrix) to BLAS, whose threads then wait for more work by spinning: measured here, a
640×480 picture's normals turned in 1 ms of wall time, and one of BLAS's threads went on
burning a core for the next 50 ms. Beside a render that has every core busy, that is the
render's time. These products take a little longer and use one thread.
"""

from __future__ import annotations

import numpy as np


def transform(points: np.ndarray, matrix: np.ndarray, offset: np.ndarray | None = None, dtype=None) -> np.ndarray:
    """``matrix @ p + offset`` for every point ``p`` of ``points`` (..., 3), in ``dtype``
    (the points' own by default): the rows of ``points @ matrix.T + offset``."""
    points = np.asarray(points)
    dtype = np.dtype(dtype or points.dtype)
    matrix = np.asarray(matrix, np.float64)
    out = np.empty(points.shape, dtype)
    scratch = np.empty(points.shape[:-1], dtype)
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    for i in range(3):
        column = out[..., i]
        np.multiply(x, dtype.type(matrix[i, 0]), out=scratch)
        np.multiply(y, dtype.type(matrix[i, 1]), out=column)
        column += scratch
        np.multiply(z, dtype.type(matrix[i, 2]), out=scratch)
        column += scratch
        if offset is not None:
            column += dtype.type(offset[i])
    return out
