# SPDX-License-Identifier: GPL-3.0-or-later
"""core/transform.py: points through a 3×3 matrix and an offset, a coordinate at a time,
against the same product written out with Python floats for a few points and against
numpy's matrix product for many."""

import numpy as np
import pytest
from ground_truth.core.transform import transform


def test_a_few_points_by_hand():
    matrix = [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 2.0]]  # a quarter turn about z, z doubled
    points = np.array([[1.0, 2.0, 3.0], [-4.0, 0.5, 0.0]])
    np.testing.assert_array_equal(transform(points, matrix, [10.0, 20.0, 30.0]), [[8, 21, 36], [9.5, 16, 30]])
    np.testing.assert_array_equal(transform(points, matrix), [[-2, 1, 6], [-0.5, -4, 0]])


@pytest.mark.parametrize("shape", [(0, 3), (5000, 3), (48, 64, 3)])
def test_many_points_as_the_matrix_product_gives_them(shape):
    rng = np.random.default_rng(1)
    matrix, offset = rng.normal(size=(3, 3)), rng.normal(size=3)
    points = rng.normal(size=shape)
    np.testing.assert_allclose(transform(points, matrix, offset), points @ matrix.T + offset, rtol=1e-12, atol=1e-12)
    single = points.astype(np.float32)
    got = transform(single, matrix)
    assert got.dtype == np.float32 and got.shape == shape
    np.testing.assert_allclose(got, single.astype(np.float64) @ matrix.T, rtol=1e-5, atol=1e-5)
    assert transform(single, matrix, dtype=np.float64).dtype == np.float64
