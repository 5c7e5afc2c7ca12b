# SPDX-License-Identifier: GPL-3.0-or-later
"""Intrinsics and pose against values derived by hand from the camera model."""

import numpy as np
import pytest
from ground_truth.core.camera import CameraParams, crop_window, intrinsics, output_size, world_to_camera


def params(**overrides) -> CameraParams:
    base = dict(
        lens=50.0,
        sensor_width=36.0,
        sensor_height=24.0,
        sensor_fit="AUTO",
        shift_x=0.0,
        shift_y=0.0,
        resolution_x=1920,
        resolution_y=1080,
    )
    base.update(overrides)
    return CameraParams(**base)


def test_horizontal_fit_centre_is_between_the_middle_pixels():
    K = intrinsics(params())
    assert K[0, 0] == pytest.approx(50 / 36 * 1920)
    assert K[1, 1] == pytest.approx(50 / 36 * 1920)
    assert (K[0, 2], K[1, 2]) == (959.5, 539.5)


def test_auto_fit_of_a_portrait_picture_fits_the_height_to_the_sensor_width():
    K = intrinsics(params(resolution_x=1080, resolution_y=1920))
    assert K[0, 0] == pytest.approx(50 / 36 * 1920)


def test_vertical_fit_uses_sensor_height_and_picture_height():
    K = intrinsics(params(sensor_fit="VERTICAL"))
    assert K[0, 0] == pytest.approx(50 / 24 * 1080)
    assert K[1, 1] == pytest.approx(50 / 24 * 1080)


def test_percentage_scales_focal_length_and_centre():
    full, half = intrinsics(params()), intrinsics(params(resolution_percentage=50))
    assert output_size(params(resolution_percentage=50)) == (960, 540)
    assert half[0, 0] == pytest.approx(full[0, 0] / 2)
    assert (half[0, 2], half[1, 2]) == (479.5, 269.5)


def test_shift_moves_the_principal_point_by_shift_times_fitted_side():
    # shift_x > 0 moves the view right, so the scene (and the principal point) moves left;
    # shift_y > 0 moves the view up, so the principal point moves down in the picture.
    K = intrinsics(params(shift_x=0.1, shift_y=0.05))
    assert K[0, 2] == pytest.approx(959.5 - 192.0)
    assert K[1, 2] == pytest.approx(539.5 + 96.0)
    K = intrinsics(params(shift_y=0.05, sensor_fit="VERTICAL"))
    assert K[1, 2] == pytest.approx(539.5 + 0.05 * 1080)


def test_non_square_pixels_give_different_focal_lengths():
    K = intrinsics(params(pixel_aspect_x=1.0, pixel_aspect_y=2.0))
    assert K[1, 1] == pytest.approx(K[0, 0] / 2)


def test_border_crop_moves_the_principal_point_into_the_window():
    p = params(border=(0.25, 0.75, 0.5, 1.0))  # right half of the width, top half of the height
    assert crop_window(p) == (480, 0, 960, 540)
    K = intrinsics(p)
    assert (K[0, 2], K[1, 2]) == (959.5 - 480, 539.5)


def test_orthographic_scale_spans_the_fitted_side():
    K = intrinsics(params(projection="ORTHO", ortho_scale=8.0))
    assert K[0, 0] == K[1, 1] == 1920 / 8.0  # pixels per metre
    assert (K[0, 2], K[1, 2]) == (959.5, 539.5)
    K = intrinsics(params(projection="ORTHO", ortho_scale=8.0, sensor_fit="VERTICAL"))
    assert K[0, 0] == 1080 / 8.0


def test_panoramic_cameras_have_no_intrinsics():
    with pytest.raises(ValueError, match="PANO"):
        intrinsics(params(projection="PANO"))


def test_border_window_is_computed_in_float32_like_blender():
    # float64: 0.7 * 120 = 83.99999..., truncated to 83; Blender's float32 product is exactly 84.
    p = params(resolution_x=160, resolution_y=120, border=(0.3, 0.8, 0.1, 0.7))
    assert crop_window(p) == (48, 36, 80, 72)


def test_pose_of_a_camera_looking_down_from_above():
    # A Blender camera with no rotation looks along world -Z with +Y up in the picture.
    m = np.eye(4)
    m[:3, 3] = (1.0, 2.0, 10.0)
    pose = world_to_camera(m)
    point = pose @ np.array([1.0 + 1.0, 2.0 + 0.5, 0.0, 1.0])
    # 1 m to the right (+x), 0.5 m up in the picture (-y in OpenCV), 10 m in front (+z).
    np.testing.assert_allclose(point[:3], [1.0, -0.5, 10.0])


def test_pose_ignores_camera_scale_and_stays_rigid():
    angle = np.radians(30)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    m = np.eye(4)
    m[:3, :3] = rotation * 3.0
    pose = world_to_camera(m)
    np.testing.assert_allclose(pose[:3, :3] @ pose[:3, :3].T, np.eye(3), atol=1e-12)
    assert np.linalg.det(pose[:3, :3]) == pytest.approx(1.0)
    np.testing.assert_allclose(pose[0, :3], rotation[:, 0], atol=1e-12)  # camera x = its local x


def test_pose_of_a_float32_rotation_is_orthonormal_to_float64_precision():
    angle = np.radians(37)
    rotation = np.array([[1, 0, 0], [0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)]])
    m = np.eye(4)
    m[:3, :3] = rotation.astype(np.float32)
    pose = world_to_camera(m)
    np.testing.assert_allclose(pose[:3, :3] @ pose[:3, :3].T, np.eye(3), atol=1e-14)
    np.testing.assert_allclose(pose[:3, :3], np.diag([1, -1, -1]) @ rotation.T, atol=1e-7)
