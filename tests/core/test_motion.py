# SPDX-License-Identifier: GPL-3.0-or-later
"""The camera geometry, classification and track helpers behind occlusion, flow over k
frames and tracks, on synthetic cameras and points (no Blender)."""

import numpy as np
import pytest
from ground_truth.commands import parser
from ground_truth.core import motion, tracks
from ground_truth.core.modalities import array_for
from ground_truth.core.plan import plan
from ground_truth.core.previews import occlusion_preview
from ground_truth.core.surfaces import _intersect
from ground_truth.exporters.frame_io import load_frame, write_exr
from ground_truth.flags import UsageError


def look_at(centre, target):
    """An OpenCV world→camera transform looking from ``centre`` at ``target`` (world z up)."""
    forward = np.subtract(target, centre, dtype=float)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0, 0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    rotation = np.stack([right, down, forward])
    out = np.eye(4)
    out[:3, :3], out[:3, 3] = rotation, -rotation @ np.asarray(centre, float)
    return out


def view(orthographic=False):
    K = np.array([[50.0, 0, 31.5], [0, 60.0, 20.0], [0, 0, 1]])  # fy != fx, off-centre
    return motion.View(K, look_at([1, -8, 3], [0, 0, 0.5]), (64, 48), orthographic, (0.5, 40.0))


@pytest.mark.parametrize("orthographic", [False, True])
def test_rays_through_pixels_land_back_on_them(orthographic):
    cam = view(orthographic)
    rng = np.random.default_rng(3)
    pixels = rng.uniform([-0.5, -0.5], [63.5, 47.5], (200, 2))
    origins, directions, per_depth = motion.pixel_rays(cam, pixels)
    depth = rng.uniform(1, 30, 200)
    points = origins + directions * ((depth - cam.clip[0]) * per_depth)[:, None]
    # Independent: the camera coordinates of each point, through the 4×4 transform.
    camera = (cam.world_to_camera @ np.c_[points, np.ones(200)].T).T[:, :3]
    np.testing.assert_allclose(camera[:, 2], depth, rtol=1e-12)
    expected = camera[:, :2] if orthographic else camera[:, :2] / camera[:, 2:]
    np.testing.assert_allclose(expected * [50.0, 60.0] + [31.5, 20.0], pixels, atol=1e-9)
    projected, z = motion.project(cam, points)
    np.testing.assert_allclose(projected, pixels, atol=1e-9)
    np.testing.assert_allclose(z, depth, rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(directions, axis=1), 1.0)
    # Rays start on the near clipping plane.
    np.testing.assert_allclose(motion.project(cam, origins)[1], cam.clip[0], rtol=1e-12)


@pytest.mark.parametrize("orthographic", [False, True])
def test_a_pictures_rays_land_on_its_pixel_centres_frame_after_frame(orthographic):
    """grid_rays keeps a camera's rays in its own axes: frame after frame, as the camera
    moves and turns, they still start on its near plane and pass through each pixel
    centre, row by row (checked through the 4×4 transform, in double precision)."""
    for step, centre in enumerate(([1, -8, 3], [2, -7, 3.5], [-3, -6, 1])):
        cam = motion.View(view().K, look_at(centre, [0, 0, 0.5 + step]), (64, 48), orthographic, (0.5, 40.0))
        origins, directions, reach = motion.grid_rays(cam, range(5, 29))
        assert origins.shape == directions.shape == (24 * 64, 3) and reach.shape == (24 * 64,)
        ends = origins.astype(np.float64) + directions * reach[:, None]  # on the far clipping plane
        for points, depth in ((origins, 0.5), (ends, 40.0)):
            projected, z = motion.project(cam, points.astype(np.float64))
            rows, cols = np.mgrid[5:29, 0:64]
            np.testing.assert_allclose(projected, np.stack([cols.ravel(), rows.ravel()], 1), atol=2e-4)
            np.testing.assert_allclose(z, depth, rtol=1e-5)
        np.testing.assert_allclose(np.linalg.norm(directions, axis=1), 1.0, atol=1e-6)


def test_points_behind_a_perspective_camera_have_no_pixel():
    cam = view()
    behind = 2 * cam.centre - np.array([0, 0, 0.5])  # mirrored through the camera centre
    pixels, depth = motion.project(cam, behind[None])
    assert depth[0] < 0 and np.isnan(pixels).all()
    assert not motion.in_picture(cam, pixels, depth)[0]


def test_the_picture_is_the_area_of_its_pixels_and_the_clipping_range():
    cam = view()
    pixels = np.array([[-0.5, 0], [-0.5001, 0], [63.4999, 47.4999], [63.5, 10], [10, 47.5], [10, 10], [10, 10]])
    depth = np.array([5, 5, 5, 5, 5, 0.4, 41.0])
    np.testing.assert_array_equal(motion.in_picture(cam, pixels, depth), [1, 0, 1, 0, 0, 0, 0])


def test_a_ray_meets_its_triangle_at_the_weights_and_distance_that_built_it():
    rng = np.random.default_rng(0)
    a, b, c = (rng.normal(size=(50, 3)) for _ in range(3))
    weights = rng.dirichlet([1, 1, 1], 50)
    points = weights[:, :1] * a + weights[:, 1:2] * b + weights[:, 2:] * c
    directions = rng.normal(size=(50, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    distance = rng.uniform(0.5, 20, 50)
    origins = points - directions * distance[:, None]
    columns = np.concatenate([a, b, c]).T  # vertices 0–49 are a, 50–99 b, 100–149 c
    corners = np.arange(150).reshape(3, 50).T
    found, travelled = _intersect(origins, directions, columns, corners)
    np.testing.assert_allclose(found, weights, atol=1e-9)
    np.testing.assert_allclose(travelled, distance, rtol=1e-9)


def test_codes():
    inside = np.array([True, True, False, False])
    hidden = np.array([False, True, False, True])
    np.testing.assert_array_equal(motion.classify(inside, hidden), [0, 1, 2, 2])
    assert motion.classify(inside, hidden).dtype == np.uint8


@pytest.mark.parametrize(("text", "offsets"), [("", ()), ("2", (2,)), (" 8, 2,4 ,4", (2, 4, 8)), ("3,", (3,))])
def test_offsets_from_text(text, offsets):
    assert motion.offsets_from_text(text) == offsets


@pytest.mark.parametrize("text", ["1", "0,2", "-2", "2.5", "two", "2;4"])
def test_bad_offsets_are_named(text):
    with pytest.raises(ValueError, match="2 or more"):
        motion.offsets_from_text(text)


def test_the_plan_adds_offsets_and_occlusion_only_with_flow():
    every = ("depth", "flow", "occlusion")
    full = plan("CYCLES", every, (2, 5))
    assert {"occlusion_forward", "flow_forward_k2", "flow_backward_k5", "occlusion_backward_k5"} <= full.arrays
    assert full.geometric and full.offsets == (2, 5)
    without_flow = plan("CYCLES", ("depth", "occlusion"), (2,))
    assert not without_flow.geometric and not any("occlusion" in k or "_k2" in k for k in without_flow.arrays)
    flow_only = plan("CYCLES", ("flow",), (3,))
    assert {
        "flow_forward_k3",
        "flow_backward_k3",
    } <= flow_only.arrays and "occlusion_forward_k3" not in flow_only.arrays
    on_f12 = plan("CYCLES", every, (2,), geometry=False)
    assert on_f12.missing == ("occlusion",) and not on_f12.geometric and on_f12.offsets == ()
    workbench = plan("BLENDER_WORKBENCH", every, (2,))
    assert "occlusion" in workbench.missing and "flow" in workbench.missing and not workbench.offsets
    # EEVEE before 4.2 renders no Vector pass: no flow, and nothing that goes with it;
    # instance ids (rays) and the masks still come
    legacy = plan("BLENDER_EEVEE_LEGACY", (*every, "instance_id", "object_index"), (2,))
    assert legacy.missing == ("flow", "occlusion") and "vector" not in legacy.passes and not legacy.offsets
    assert {"instance_id", "object_index"} <= set(legacy.modalities)


def test_offset_keys_resolve_to_their_templates():
    assert array_for("flow_forward_k12").key == "flow_forward_k<k>"
    assert array_for("occlusion_backward_k3").dtype == "uint8"
    assert array_for("occlusion_forward").dtype == "uint8"
    assert array_for("flow_sideways_k2") is None and array_for("depth_k2") is None


def test_exr_gives_back_codes_and_offset_flow(tmp_path):
    rng = np.random.default_rng(1)
    codes = rng.choice(np.array([0, 1, 2, 255], np.uint8), (6, 5))
    flow = rng.normal(size=(6, 5, 2)).astype(np.float32)
    flow[0, 0] = np.nan
    arrays = {
        "occlusion_forward_k4": codes,
        "flow_backward_k4": flow,
        "K": np.eye(3),
        "world_to_camera": np.eye(4),
        "frame": np.int64(3),
    }
    write_exr(tmp_path / "f.exr", arrays)
    back = load_frame(tmp_path / "f.exr")
    assert back["occlusion_forward_k4"].dtype == np.uint8
    np.testing.assert_array_equal(back["occlusion_forward_k4"], codes)
    np.testing.assert_array_equal(back["flow_backward_k4"], flow)


def test_occlusion_preview_colours_each_code():
    codes = np.array([[0, 1], [2, 255]], np.uint8)
    image, text = occlusion_preview(codes)
    assert image.dtype == np.uint8 and image.shape == (2, 2, 3)
    assert len({tuple(p) for p in image.reshape(-1, 3)}) == 4 and tuple(image[1, 1]) == (0, 0, 0)
    assert "hidden orange" in text["occlusion_colours"]


def test_candidate_pixels_cover_the_picture_and_move_with_the_frame():
    small = tracks.candidate_pixels((160, 120), seed=0, frame_index=0)
    assert len(small) == 160 * 120  # every pixel of a small picture
    big = [tracks.candidate_pixels((1920, 1080), seed=0, frame_index=i) for i in range(3)]
    assert all(40_000 < len(c) <= 2 * tracks.CANDIDATES_PER_FRAME for c in big)
    assert all(c[:, 0].max() < 1920 and c[:, 1].max() < 1080 and c.min() >= 0 for c in big)
    assert len({tuple(c[0]) for c in big}) > 1  # offsets differ between frames
    np.testing.assert_array_equal(big[1], tracks.candidate_pixels((1920, 1080), seed=0, frame_index=1))


def test_queries_are_chosen_per_object_without_repeats():
    objects = np.array(["a"] * 500 + ["b"] * 20 + ["c"] * 90, dtype=object)
    chosen = tracks.choose_queries(objects, 64, seed=5)
    names, counts = np.unique(objects[chosen], return_counts=True)
    assert dict(zip(names, counts, strict=True)) == {"a": 64, "b": 20, "c": 64}
    assert len(set(chosen.tolist())) == len(chosen)
    np.testing.assert_array_equal(chosen, tracks.choose_queries(objects, 64, seed=5))
    assert not np.array_equal(chosen, tracks.choose_queries(objects, 64, seed=6))


@pytest.mark.parametrize(
    "queries",
    [
        np.zeros((3, 2)),
        np.array([[0.5, 1, 1]]),
        np.array([[5, 1, 1]]),
        np.array([[-1, 1, 1]]),
        np.array([[0, np.nan, 1]]),
    ],
)
def test_bad_queries_are_refused(queries):
    with pytest.raises(ValueError):
        tracks.check_queries(queries, frame_count=5)


def test_drawn_points_are_filled_when_seen_and_rings_when_hidden():
    image = np.zeros((40, 40, 3), np.uint8)
    colour = np.array([[255, 0, 0], [0, 255, 0]], np.uint8)
    drawn = tracks.draw_points(image, np.array([[10.0, 10.0], [30.0, 30.0]]), np.array([False, True]), colour)
    assert tuple(drawn[10, 10]) == (255, 0, 0)  # centre of a filled dot
    assert tuple(drawn[30, 30]) == (0, 0, 0)  # centre of a ring stays
    assert (drawn[25:36, 25:36] == (0, 255, 0)).all(axis=-1).sum() > 6
    assert tracks.strip_frames(1) == [0] and tracks.strip_frames(20) == [0, 4, 8, 11, 15, 19]


@pytest.mark.parametrize("flags", [["--tracks-seed", "-1"], ["--tracks-per-object", "0"], ["--flow-offsets", "1"]])
def test_bad_track_and_offset_flags_are_usage_errors(flags):
    with pytest.raises(UsageError):
        parser().parse_args(["render", "--out", "x", *flags])
