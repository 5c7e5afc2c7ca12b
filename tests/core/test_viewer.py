# SPDX-License-Identifier: GPL-3.0-or-later
"""``python -m ground_truth.cli view``: the Rerun recording of a folder, loaded back with
Rerun's own reader and checked against geometry computed here (rays through pixel
centres meeting a known plane). Every Rerun process runs offline (see recording.py)."""

import math
import sys
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest
from ground_truth.exporters.meta import write_rig_meta
from recording import offline, read_recording
from synthetic_run import BOX_WORLD, FRAMES, H, K, W, write_view

needs_rerun = pytest.mark.skipif(find_spec("rerun") is None, reason="rerun-sdk is not installed here")


def view(folder: Path, package_dir: Path, *flags: str):
    env = {"PYTHONPATH": str(package_dir), "PATH": "/usr/bin:/bin", "HOME": str(folder.parent)}
    return offline([sys.executable, "-m", "ground_truth.cli", "view", folder, *flags], env=env)


def matrix(flat) -> np.ndarray:
    return np.array(flat, np.float64).reshape(3, 3).T  # Rerun's 3×3 matrices are column-major


@pytest.fixture(scope="module")
def single(tmp_path_factory, package_dir):
    root = tmp_path_factory.mktemp("single")
    truth = write_view(root)
    done = view(root, package_dir, "--no-viewer", "--max-points", "100000")
    return root, truth, done


@needs_rerun
def test_the_command_writes_the_recording_and_says_how_to_open_it(single):
    root, _, done = single
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"ground_truth: recording {root}/run.rrd",
        f"ground_truth: open it with: rerun {root}/run.rrd",
    ]
    assert (root / "run.rrd").stat().st_size > 0
    assert not list(root.glob(".run.rrd*"))  # written under a temporary name, then renamed


@needs_rerun
def test_every_frame_holds_its_camera_pose_and_k(single):
    root, truth, _ = single
    entities = read_recording(root / "run.rrd")
    camera_rows = entities["/world/camera"]
    assert sorted(f for f in camera_rows if f is not None) == FRAMES
    for frame in FRAMES:
        row = camera_rows[frame]
        np.testing.assert_allclose(row["Transform3D:translation"][0], truth[frame]["centre"], atol=1e-6)
        np.testing.assert_allclose(matrix(row["Transform3D:mat3x3"][0]), truth[frame]["rotation"], atol=1e-6)
        shifted = K.copy()
        shifted[:2, 2] += 0.5  # Rerun's top-left pixel centre is (0.5, 0.5)
        np.testing.assert_allclose(matrix(row["Pinhole:image_from_camera"][0]), shifted, rtol=1e-7, atol=1e-5)
        assert row["Pinhole:resolution"] == [[W, H]]
    path = entities["/world/paths/camera"][None]["LineStrips3D:strips"]
    np.testing.assert_allclose(path[0], [truth[f]["centre"] for f in FRAMES], atol=1e-6)


@needs_rerun
def test_depth_points_lie_where_the_pixel_rays_meet_the_ground(single):
    root, truth, _ = single
    points = read_recording(root / "run.rrd")["/world/points/camera"]
    for frame in FRAMES:
        positions = np.array(points[frame]["Points3D:positions"])
        hits = truth[frame]["hits"][5:].reshape(-1, 3)  # every pixel below the sky, row by row
        assert positions.shape == hits.shape
        np.testing.assert_allclose(positions, hits, atol=2e-6 * np.abs(hits).max())
        colours = np.array(points[frame]["Points3D:colors"], np.uint32)
        rgb = truth[frame]["rgb"][5:].reshape(-1, 3).astype(np.uint32)
        np.testing.assert_array_equal(colours, rgb[:, 0] << 24 | rgb[:, 1] << 16 | rgb[:, 2] << 8 | 255)


@needs_rerun
def test_depth_is_a_depth_image_in_metres_under_the_pinhole(single):
    root, _, _ = single
    images = read_recording(root / "run.rrd")["/world/camera/depth"]
    for frame in FRAMES:
        row = images[frame]
        assert row["DepthImage:meter"] == [1.0]
        depth = np.frombuffer(bytes(row["DepthImage:buffer"][0]), np.float32).reshape(H, W)
        with np.load(root / "npz" / f"{frame:06d}.npz") as npz:
            expected = np.where(np.isfinite(npz["depth"]), npz["depth"], 0.0)  # the sky: no depth
        np.testing.assert_array_equal(depth, expected)
        assert (depth[:5] == 0).all() and (depth[5:] > 0).all()


def test_point_maps_are_the_points_where_a_frame_has_them(tmp_path, package_dir):
    if find_spec("rerun") is None:
        pytest.skip("rerun-sdk is not installed here")
    truth = write_view(tmp_path, points_lifted_by=0.25)
    assert view(tmp_path, package_dir, "--no-viewer", "--max-points", "100000").returncode == 0
    positions = np.array(read_recording(tmp_path / "run.rrd")["/world/points/camera"][2]["Points3D:positions"])
    np.testing.assert_allclose(positions, truth[2]["hits"][5:].reshape(-1, 3) + np.array([0.0, 0.0, 0.25]), atol=1e-5)


def test_max_points_thins_the_grid(tmp_path, package_dir):
    if find_spec("rerun") is None:
        pytest.skip("rerun-sdk is not installed here")
    truth = write_view(tmp_path)
    assert view(tmp_path, package_dir, "--no-viewer", "--max-points", "40").returncode == 0
    positions = np.array(read_recording(tmp_path / "run.rrd")["/world/points/camera"][2]["Points3D:positions"])
    step = math.ceil(math.sqrt(H * W / 40))  # 5: rows 2, 7, …, 22 and columns 2, 7, … 27
    expected = truth[2]["hits"][step // 2 :: step, step // 2 :: step]
    expected = expected[np.arange(step // 2, H, step) >= 5].reshape(-1, 3)
    np.testing.assert_allclose(positions, expected, atol=1e-5)


@needs_rerun
def test_masks_are_segmentation_named_after_the_instances(single):
    root, _, _ = single
    entities = read_recording(root / "run.rrd")
    masks = entities["/world/camera/instance_id"]
    context = masks[None]["AnnotationContext:context"][0]
    labels = {entry["class_id"]: entry["class_description"]["info"]["label"] for entry in context}
    assert labels == {1: "Leaf (Tree)", 2: "Crate", 65535: "a surface the meshes do not hold"}  # ids in order
    for frame in FRAMES:
        image = np.frombuffer(bytes(masks[frame]["SegmentationImage:buffer"][0]), np.uint16).reshape(H, W)
        assert masks[frame]["SegmentationImage:format"][0]["width"] == W
        assert (image[5:15, 2:12] == 2).all() and (image[15:, 20:] == 1).all() and (image[22:, :3] == 65535).all()
        assert (image[:5] == 0).all()
        boxes = entities["/world/camera/instance_id/boxes"][frame]
        assert boxes["Boxes2D:class_ids"] == [1, 2]
        np.testing.assert_allclose(boxes["Boxes2D:centers"], [[26.0, 19.5], [7.0, 10.0]])  # [x0, x1 + 1) spans
        np.testing.assert_allclose(boxes["Boxes2D:half_sizes"], [[6.0, 4.5], [5.0, 5.0]])
    objects = entities["/world/camera/object_index"]
    object_labels = {
        e["class_id"]: e["class_description"]["info"]["label"] for e in objects[None]["AnnotationContext:context"][0]
    }
    assert object_labels == {3: "Crate", 7: "Leaf"}
    image = np.frombuffer(bytes(objects[2]["SegmentationImage:buffer"][0]), np.uint16).reshape(H, W)
    assert (image[5:15, 2:12] == 3).all() and (image[15:, 20:] == 7).all()


@needs_rerun
def test_classes_are_segmentation_and_3d_boxes_stand_in_the_world(tmp_path, package_dir):
    write_view(tmp_path, objects=True)
    assert view(tmp_path, package_dir, "--no-viewer").returncode == 0
    entities = read_recording(tmp_path / "run.rrd")
    semantic = entities["/world/camera/semantic"]
    context = semantic[None]["AnnotationContext:context"][0]
    assert {e["class_id"]: e["class_description"]["info"]["label"] for e in context} == {1: "crate", 2: "leaf"}
    for frame in FRAMES:
        image = np.frombuffer(bytes(semantic[frame]["SegmentationImage:buffer"][0]), np.uint16).reshape(H, W)
        assert (image[5:15, 2:12] == 1).all() and (image[15:, 20:] == 2).all() and (image[22:, :3] == 0).all()
        boxes = entities["/world/boxes/camera"][frame]
        strips = np.array(boxes["LineStrips3D:strips"], np.float64)
        assert strips.shape == (12, 2, 3) and boxes["LineStrips3D:class_ids"] == [1] * 12
        # every edge joins two corners of the box where it stands in the world
        for start, end in strips:
            nearest = [np.abs(BOX_WORLD - point).sum(axis=1).min() for point in (start, end)]
            assert max(nearest) < 1e-5
        assert {tuple(np.round(p, 5)) for p in strips.reshape(-1, 3)} == {tuple(p) for p in BOX_WORLD}


@needs_rerun
def test_tracks_show_where_they_are_seen(single):
    root, truth, _ = single
    entities = read_recording(root / "run.rrd")
    for t, frame in enumerate(FRAMES):
        points = entities["/world/camera/tracks"][frame]
        seen = [0, 1] if t != 1 else [1]  # track 0 is occluded at the second frame
        assert points["Points2D:keypoint_ids"] == seen
        expected = np.array([[[4.0, 6.0], [5.5, 7.0], [7.0, 8.0]], [[20.0, 18.0], [21.0, 18.5], [22.0, 19.0]]])
        np.testing.assert_allclose(points["Points2D:positions"], expected[seen, t] + 0.5)
        lifted = np.array(entities["/world/tracks/camera"][frame]["Points3D:positions"])
        centre, rotation = truth[frame]["centre"], truth[frame]["rotation"]
        in_camera = (lifted - centre) @ rotation  # world → camera axes
        np.testing.assert_allclose(in_camera[:, 2], [2.5, 3.0, 3.5][t], rtol=1e-6)  # at the track depth
        pixels = in_camera[:, :2] / in_camera[:, 2:] * [K[0, 0], K[1, 1]] + K[:2, 2]
        np.testing.assert_allclose(pixels, expected[seen, t], atol=1e-4)


@needs_rerun
def test_every_view_of_a_rig_is_its_own_camera(tmp_path, package_dir):
    truths = {name: write_view(tmp_path / "views" / name, yaw) for name, yaw in (("left", 0.0), ("right", 90.0))}
    views = [{"name": n, "camera": n.title(), "folder": f"views/{n}"} for n in truths]
    write_rig_meta(tmp_path, {"views": views}, FRAMES)
    assert view(tmp_path, package_dir, "--no-viewer").returncode == 0
    entities = read_recording(tmp_path / "run.rrd")
    for name, truth in truths.items():
        for frame in FRAMES:
            row = entities[f"/world/{name}"][frame]
            np.testing.assert_allclose(matrix(row["Transform3D:mat3x3"][0]), truth[frame]["rotation"], atol=1e-6)
            assert len(entities[f"/world/points/{name}"][frame]["Points3D:positions"]) == (H - 5) * W


def test_bad_folders_and_arguments_get_one_line(tmp_path, package_dir):
    done = view(tmp_path, package_dir, "--no-viewer")
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "run.rrd").exists()
    if find_spec("rerun") is None:
        assert done.returncode == 2 and "pip install rerun-sdk" in done.stderr
    else:
        assert done.returncode == 1 and "no meta.json" in done.stderr
        done = view(tmp_path, package_dir, "--max-points", "0")
        assert done.returncode == 2 and "--max-points" in done.stderr


def test_classes_past_rerun_s_16_bits_share_one():
    from ground_truth.viewer import instance_classes, instance_image

    table = {str(i * 7 - 300_000): {"object": f"o{i}", "instancer": None} for i in range(70_000)}
    ids, labels = instance_classes(table)
    assert labels[0] == (1, "o0") and labels[65_532] == (65_533, "o65532")
    assert labels[-2:] == [(65_534, "4467 more instances"), (65_535, "a surface the meshes do not hold")]
    mask = np.array([[0, -300_000, 65_532 * 7 - 300_000], [65_533 * 7 - 300_000, 69_999 * 7 - 300_000, -1]])
    np.testing.assert_array_equal(instance_image(mask, ids), [[0, 1, 65_533], [65_534, 65_534, 65_535]])
    assert instance_image(np.array([12345678]), ids).tolist() == [0]  # not in the table: background
