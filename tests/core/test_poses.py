# SPDX-License-Identifier: GPL-3.0-or-later
"""Model frames (core/poses.py) on synthetic world matrices: the model coordinates are
the local ones with the world scale applied, whatever the rotation, shear or mirror."""

import numpy as np
from ground_truth.core.poses import model_frames, nocs, polar_rotation, to_model


def _rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def test_a_scaled_rotated_object_s_model_coordinates_are_its_local_ones_scaled():
    rotation, scale, translation = _rotation(1), np.array([2.0, 0.5, 3.0]), np.array([1.0, -2.0, 0.5])
    matrix = np.eye(4)
    matrix[:3, :3], matrix[:3, 3] = rotation @ np.diag(scale), translation
    local = np.random.default_rng(2).uniform(-1, 1, (50, 3))
    world = local @ matrix[:3, :3].T + translation
    frames = model_frames([matrix], world, np.array([0, 50]))
    np.testing.assert_allclose(frames.rotation[0], rotation, atol=1e-12)
    model = to_model(world, np.zeros(50, np.int64), frames)
    np.testing.assert_allclose(model, local * scale, atol=1e-12)
    np.testing.assert_allclose(frames.low[0], (local * scale).min(axis=0), atol=1e-12)
    normalized = nocs(model, np.zeros(50, np.int64), frames)
    assert normalized.min() >= 0 and normalized.max() <= 1
    extent = np.linalg.norm(frames.high[0] - frames.low[0])
    np.testing.assert_allclose(normalized, (model - (frames.low[0] + frames.high[0]) / 2) / extent + 0.5)


def test_shear_and_mirror_go_to_the_model_and_the_rotation_stays_proper():
    sheared = _rotation(3) @ np.array([[1.0, 0.4, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    mirrored = _rotation(4) @ np.diag([1.0, -1.5, 0.7])
    for matrix in (sheared, mirrored):
        rotation = polar_rotation(matrix)
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
        assert np.isclose(np.linalg.det(rotation), 1.0)
        stretch = rotation.T @ matrix  # P: symmetric
        np.testing.assert_allclose(stretch, stretch.T, atol=1e-12)


def test_points_of_no_instance_and_flat_boxes_are_nan():
    matrix = np.eye(4)
    world = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    frames = model_frames([matrix, matrix], np.array([[2.0, 2.0, 2.0], *world]), np.array([0, 1, 3]))
    model = to_model(world, np.array([-1, 1]), frames)
    assert np.isnan(model[0]).all() and np.allclose(model[1], [1.0, 1.0, 1.0])
    normalized = nocs(np.array([[2.0, 2.0, 2.0], [1.0, 1.0, 1.0]]), np.array([0, 1]), frames)
    assert np.isnan(normalized[0]).all()  # instance 0 is a single vertex: no box to normalise by
    np.testing.assert_allclose(normalized[1], [0.5 + 0.5 / 3**0.5] * 3)
