# SPDX-License-Identifier: GPL-3.0-or-later
"""Stereo eyes, disparity and the reconstruction files' conventions, on plain numbers."""

import math

import numpy as np
import pytest
from ground_truth.core.camera import CameraParams, intrinsics, world_to_camera
from ground_truth.core.reconstruction import Image, camera_to_world_opengl, colmap_text, quaternion
from ground_truth.core.stereo import StereoSettings, disparity


def _camera(angle_deg=30.0):
    """A camera 9 m from the origin looking at it, turned about the world's z axis."""
    a = math.radians(angle_deg)
    rotation = np.array([[math.cos(a), 0, math.sin(a)], [math.sin(a), 0, -math.cos(a)], [0, 1, 0]])
    m = np.eye(4)
    m[:3, :3] = rotation  # Blender camera: x right, y up, looking along -z
    m[:3, 3] = rotation @ np.array([0.0, 0.0, 9.0])
    return m


def _pixel(params, matrix, point):
    pose = world_to_camera(matrix)
    camera = pose[:3, :3] @ point + pose[:3, 3]
    uv = intrinsics(params) @ camera
    return uv[:2] / uv[2]


@pytest.mark.parametrize("pivot", ["LEFT", "RIGHT", "CENTER"])
def test_off_axis_eyes_meet_at_the_convergence_distance(pivot):
    stereo = StereoSettings("OFFAXIS", 0.2, 4.0, pivot)
    matrix = _camera()
    base = CameraParams(lens=50, sensor_width=36, sensor_height=24, sensor_fit="AUTO", shift_x=0.05, shift_y=0,
                        resolution_x=640, resolution_y=480)  # fmt: skip
    eyes = {}
    for eye in ("left", "right"):
        m = stereo.eye_matrix(matrix, eye)
        shift = stereo.eye_shift_x(base.shift_x, eye, base.lens, base.sensor_width)
        eyes[eye] = (CameraParams(**{**base.__dict__, "shift_x": shift}), m)
    assert np.linalg.norm(eyes["right"][1][:3, 3] - eyes["left"][1][:3, 3]) == pytest.approx(0.2)
    axis = matrix[:3, :3] @ np.array([0, 0, -1.0])
    on_axis = matrix[:3, 3] + 4.0 * axis  # seen at the same pixel by both eyes
    assert np.allclose(_pixel(*eyes["left"], on_axis), _pixel(*eyes["right"], on_axis), atol=1e-9)
    near = matrix[:3, 3] + 2.0 * axis + matrix[:3, :3] @ np.array([0.3, -0.1, 0.0])
    left, right = _pixel(*eyes["left"], near), _pixel(*eyes["right"], near)
    fx = intrinsics(eyes["left"][0])[0, 0]
    z = 2.0
    assert left[1] == pytest.approx(right[1])  # rectified: the same row
    assert left[0] - right[0] == pytest.approx(fx * 0.2 * (1 / z - 1 / 4.0))  # d = fx·B·(1/z − 1/C)
    at_infinity = intrinsics(eyes["left"][0])[0, 2] - intrinsics(eyes["right"][0])[0, 2]
    expected = [[left[0] - right[0], -fx * 0.2 / 4]]
    assert np.allclose(disparity(np.array([[z, np.inf]]), fx * 0.2, at_infinity), expected, rtol=1e-6)


def test_toe_in_eyes_look_at_the_convergence_point_and_are_not_rectified():
    stereo = StereoSettings("TOE", 0.2, 4.0, "CENTER")
    matrix = _camera()
    target = matrix[:3, 3] + 4.0 * (matrix[:3, :3] @ np.array([0, 0, -1.0]))
    for eye in ("left", "right"):
        m = stereo.eye_matrix(matrix, eye)
        looks = m[:3, :3] @ np.array([0, 0, -1.0])
        towards = target - m[:3, 3]
        assert np.allclose(looks, towards / np.linalg.norm(towards), atol=1e-12)
    assert not stereo.rectified and "disparity_at_infinity_px" not in stereo.describe(np.eye(3), np.eye(3))


def test_nerfstudio_and_colmap_poses_are_the_documented_conversions():
    matrix = _camera(-70.0)
    pose = world_to_camera(matrix)
    assert np.allclose(camera_to_world_opengl(pose), matrix)  # OpenGL camera axes are Blender's
    q = quaternion(pose[:3, :3])
    w, x, y, z = q
    rotation = np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])  # fmt: skip
    assert np.allclose(rotation, pose[:3, :3]) and w >= 0
    K = np.array([[100.0, 0, 31.5], [0, 100.0, 23.5], [0, 0, 1]])
    text = colmap_text([Image("", 1, "rgb/000001.png", None, K, pose, (64, 48))], None)
    assert text["cameras.txt"].splitlines()[-1] == "1 PINHOLE 64 48 100.0 100.0 32.0 24.0"
    assert text["images.txt"].splitlines()[-2].endswith(" 1 rgb/000001.png")
