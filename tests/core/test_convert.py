# SPDX-License-Identifier: GPL-3.0-or-later
"""Pass conversions on synthetic pass images."""

import numpy as np
from ground_truth.core.camera import FrameCamera
from ground_truth.core.convert import depth_from_z, flow_from_vector, index_mask, mark_background, unit_normals
from ground_truth.core.plan import frame_arrays


def test_background_depth_becomes_inf_and_the_rest_is_untouched():
    z = np.array([[1.5, 1.0e10], [3.25, 999.0]], np.float32)
    depth = depth_from_z(z)
    assert depth.dtype == np.float32
    assert np.isinf(depth[0, 1])
    assert depth[0, 0] == 1.5 and depth[1, 0] == 3.25 and depth[1, 1] == 999.0


def test_normals_are_renormalised_and_background_is_zero():
    n = np.array([[[0.0, 0.0, 0.5], [0.3, 0.4, 0.0]], [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]], np.float32)
    background = np.array([[False, False], [False, True]])
    out = unit_normals(n, background)
    np.testing.assert_allclose(out[0, 0], [0, 0, 1])
    np.testing.assert_allclose(out[0, 1], [0.6, 0.8, 0])
    assert not out[1].any()


def test_flow_signs_follow_blender_vector_layout():
    # A surface point that moves 2 px right and 3 px up on screen between t and t+1,
    # and came from 1 px left and 4 px down at t-1. Blender (y up) stores
    # (X, Y) = position(t-1) - position(t) = (-1, -4)  and (Z, W) = position(t) - position(t+1) = (-2, -3).
    vector = np.array([[[-1.0, -4.0, -2.0, -3.0]]], np.float32)
    forward, backward = flow_from_vector(vector, np.zeros((1, 1), bool))
    np.testing.assert_array_equal(forward[0, 0], [2.0, -3.0])  # y down: up is negative
    np.testing.assert_array_equal(backward[0, 0], [-1.0, 4.0])


def test_flow_is_nan_on_background():
    forward, backward = flow_from_vector(np.ones((2, 2, 4), np.float32), np.array([[True, False], [False, False]]))
    assert np.isnan(forward[0, 0]).all() and np.isnan(backward[0, 0]).all()
    assert np.isfinite(forward[1]).all()


def test_flow_of_a_whole_picture_is_the_vector_pass_rearranged():
    """A picture large enough for numpy's vector loops, with background: each channel
    where it belongs, negated where it should be (numpy 2.4.6 once negated the wrong
    floats of a strided channel)."""
    rng = np.random.default_rng(8)
    vector = rng.normal(0, 5, (37, 53, 4)).astype(np.float32)
    background = rng.random((37, 53)) < 0.3
    forward, backward = flow_from_vector(vector, background)
    for y, x in [(0, 0), (5, 17), (36, 52), *zip(*np.nonzero(~background), strict=True)]:
        if background[y, x]:
            continue
        z, w, vx, vy = vector[y, x, 2], vector[y, x, 3], vector[y, x, 0], vector[y, x, 1]
        assert forward[y, x].tolist() == [-z, w] and backward[y, x].tolist() == [vx, -vy]
    assert np.isnan(forward[background]).all() and np.isnan(backward[background]).all()


def test_index_masks_round_to_int32():
    mask = index_mask(np.array([[0.0, 2.9999998], [7.0, 1.0000001]], np.float32))
    assert mask.dtype == np.int32
    np.testing.assert_array_equal(mask, [[0, 3], [7, 1]])


def test_frame_arrays_rotates_normals_into_camera_axes():
    # Camera looking down world -Z (Blender default): world +Z points at the camera,
    # i.e. towards -z in OpenCV axes; world +Y is up, i.e. -y in OpenCV axes.
    pose = np.diag([1.0, -1.0, -1.0, 1.0])
    raw = {
        "depth": np.full((1, 2), 5.0, np.float32),
        "normal": np.array([[[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]], np.float32),
    }
    world = raw["normal"].copy()
    out = frame_arrays(raw, ["depth", "normal"], FrameCamera(np.eye(3), pose), 7)
    assert raw == {}  # consumed
    np.testing.assert_allclose(out["normal"][0, 0], [0, 0, -1])
    np.testing.assert_allclose(out["normal"][0, 1], [0, -1, 0])
    np.testing.assert_allclose(out["normal_world"], world)
    assert out["frame"] == 7 and out["frame"].dtype == np.int64
    assert "flow_forward" not in out


def test_depth_at_the_far_clip_is_background():
    """EEVEE on Blender 4.2–5.1 writes the far clip distance (here 1000.55 for 1000) where no
    surface is; a surface short of the last 0.1% stays."""
    z = np.array([[5.0, 998.0, 999.5, 1000.55, 1.0e10]], np.float32)
    mark_background(z, 1000.0)
    np.testing.assert_array_equal(depth_from_z(z), [[5.0, 998.0, np.inf, np.inf, np.inf]])


def _pose(angle: float, centre) -> np.ndarray:
    """An OpenCV world-to-camera: the camera turned ``angle`` about world y, at ``centre``."""
    c, s = np.cos(angle), np.sin(angle)
    rotation = np.array([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]])
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = rotation, -rotation @ np.asarray(centre, np.float64)
    return pose


def test_ray_distance_and_points_of_a_perspective_camera_lie_on_the_pixel_rays():
    """A 300-row frame (two bands) of random depths: each point projects back onto its
    pixel centre through K at its depth; the ray distance is the camera centre's distance
    to the world point; background is inf and NaN."""
    height, width = 300, 7
    K = np.array([[400.0, 0.0, 3.2], [0.0, 380.0, 151.7], [0.0, 0.0, 1.0]])
    pose, centre = _pose(0.3, [1.0, -2.0, 0.5]), np.array([1.0, -2.0, 0.5])
    depth = np.random.default_rng(1).uniform(0.5, 50.0, (height, width)).astype(np.float32)
    depth[5, 3] = 1.0e10
    raw = {"depth": depth.copy()}
    out = frame_arrays(raw, ["depth", "depth_ray", "points"], FrameCamera(K, pose), 1)
    rows, cols = np.mgrid[0:height, 0:width]
    seen = np.isfinite(out["depth"])
    points = out["points"].astype(np.float64)
    projected = points @ K.T
    np.testing.assert_allclose(projected[..., 0][seen] / points[..., 2][seen], cols[seen], atol=1e-4)
    np.testing.assert_allclose(projected[..., 1][seen] / points[..., 2][seen], rows[seen], atol=1e-4)
    np.testing.assert_array_equal(points[..., 2][seen], depth[seen])
    world = out["points_world"].astype(np.float64)
    back = world @ pose[:3, :3].T + pose[:3, 3]  # world → camera
    np.testing.assert_allclose(back[seen], points[seen], rtol=0, atol=2e-5 * 50)
    np.testing.assert_allclose(np.linalg.norm(world - centre, axis=-1)[seen], out["depth_ray"][seen], rtol=2e-5)
    np.testing.assert_allclose(np.linalg.norm(points, axis=-1)[seen], out["depth_ray"][seen], rtol=1e-6)
    assert out["depth_ray"].dtype == out["points"].dtype == out["points_world"].dtype == np.float32
    assert out["depth_ray"][5, 3] == np.inf and np.isnan(out["points"][5, 3]).all()
    assert np.isnan(out["points_world"][5, 3]).all() and np.isnan(out["points"]).sum() == 3


def test_an_orthographic_camera_measures_the_ray_from_the_image_plane():
    """Parallel rays: the ray distance is the depth, and a point's x and y are its pixel's
    offset from the principal point in metres (K maps metres to pixels)."""
    K = np.array([[20.0, 0.0, 1.5], [0.0, 20.0, 0.5], [0.0, 0.0, 1.0]])
    depth = np.array([[2.0, 3.0, 4.0, 1.0e10], [5.0, 6.0, 7.0, 8.0]], np.float32)
    out = frame_arrays(
        {"depth": depth.copy()}, ["depth", "depth_ray", "points"], FrameCamera(K, np.eye(4), projection="ORTHO"), 1
    )
    np.testing.assert_array_equal(out["depth_ray"], out["depth"])
    np.testing.assert_allclose(out["points"][1, 3], [(3 - 1.5) / 20, (1 - 0.5) / 20, 8.0])
    np.testing.assert_allclose(out["points_world"][0, 0], [(0 - 1.5) / 20, (0 - 0.5) / 20, 2.0])
    assert np.isnan(out["points"][0, 3]).all()
