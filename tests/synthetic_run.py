# SPDX-License-Identifier: GPL-3.0-or-later
"""A small output folder written by the exporter's own writers, whose truth is known by
construction: a camera looking straight down at the ground plane z = 0 (rays through
the pixel centres meet it where :func:`ground_hits` says), with masks, boxes, RGB and
point tracks. The 3D view's tests read it back."""

import math
from pathlib import Path

import numpy as np
from ground_truth.core.png import write_png
from ground_truth.exporters.formats import write_frame
from ground_truth.exporters.layout import OutputOptions, rgb_path
from ground_truth.exporters.meta import write_meta
from ground_truth.exporters.npz import write_npz

W, H = 32, 24
FRAMES = [1, 2, 3]
K = np.array([[40.0, 0, W / 2 - 0.5 + 1.25], [0, 38.0, H / 2 - 0.5 - 0.75], [0, 0, 1]])
IDS = {"1718331042": ("Crate", None), "-2000000000": ("Leaf", "Tree")}  # int32 hashes, one instanced


def camera(frame: int, yaw_degrees: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(centre, camera → world rotation) of a camera looking straight down at z = 0,
    turned about the world's z axis; OpenCV axes (x right, y down, z forward)."""
    yaw = math.radians(20 * frame + yaw_degrees)
    turn = np.array([[math.cos(yaw), -math.sin(yaw), 0], [math.sin(yaw), math.cos(yaw), 0], [0, 0, 1]])
    return np.array([0.3 * frame, -0.2 * frame, 2.0 + 0.5 * frame]), turn @ np.diag([1.0, -1.0, -1.0])


def ground_hits(centre: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Where each pixel centre's ray meets the plane z = 0: (H, W, 3)."""
    ys, xs = np.mgrid[0:H, 0:W]
    rays = np.stack([(xs - K[0, 2]) / K[0, 0], (ys - K[1, 2]) / K[1, 1], np.ones((H, W))], -1) @ rotation.T
    t = -centre[2] / rays[..., 2]
    return centre + rays * t[..., None]


# With ``objects``: each instance's class, and a box on the ground (world corners; corner i
# takes the max of x if i & 1, of y if i & 2, of z if i & 4).
CLASSES = {"crate": 1, "leaf": 2}
BOX_WORLD = np.array([[(i & 1) * 2.0 + 1.0, (i >> 1 & 1) * 1.0 - 0.5, (i >> 2 & 1) * 0.5] for i in range(8)])


def write_view(root: Path, yaw: float = 0.0, points_lifted_by: float | None = None, objects: bool = False) -> dict:
    """A folder as the exporter leaves it: the ground seen from above (the top 5 rows
    are sky), instance and object masks, boxes, RGB and tracks; with ``points_lifted_by``
    also ``points_world``, the ground's hits raised by that many metres (not what the
    depth says, so that a reader shows which it used); with ``objects``, ``semantic`` and
    the crate's row of the object labels (its 3D box, ``BOX_WORLD``). Returns the truths."""
    truth = {}
    ids = np.array([int(k) for k in IDS], np.int32)
    for frame in FRAMES:
        centre, rotation = camera(frame, yaw)
        world_to_camera = np.eye(4)
        world_to_camera[:3, :3], world_to_camera[:3, 3] = rotation.T, -rotation.T @ centre
        depth = np.full((H, W), centre[2], np.float32)  # the ground is at z = 0: planar depth is the height
        depth[:5] = np.inf
        instance = np.zeros((H, W), np.int32)
        instance[5:15, 2:12], instance[15:, 20:] = ids[0], ids[1]
        instance[22:, :3] = -1  # a surface the meshes do not hold
        object_index = np.where(instance == ids[0], 3, np.where(instance == ids[1], 7, 0)).astype(np.int32)
        arrays = {
            "depth": depth,
            "instance_id": instance,
            "object_index": object_index,
            "instance_box_id": np.sort(ids),
            "instance_boxes": np.array([[20, 15, W - 1, H - 1], [2, 5, 11, 14]], np.int32),
            "instance_box_pixels": np.array([9 * 12, 100], np.int64),
            "instance_box_class": np.array([7, 3], np.int32),
            "K": K,
            "world_to_camera": world_to_camera,
            "frame": np.int64(frame),
        }
        if objects:
            arrays["semantic"] = np.where(instance == ids[0], 1, np.where(instance == ids[1], 2, 0)).astype(np.int32)
            arrays["semantic"][instance == -1] = -1
            arrays["instance_ids"] = ids[:1]  # the crate
            arrays["instance_class"] = np.array([1], np.int32)
            arrays["instance_box3d"] = (BOX_WORLD @ world_to_camera[:3, :3].T + world_to_camera[:3, 3])[None]
        if points_lifted_by is not None:
            arrays["points_world"] = (ground_hits(centre, rotation) + np.array([0.0, 0.0, points_lifted_by])).astype(
                np.float32
            )
            arrays["points_world"][:5] = np.nan
        write_frame(root, frame, arrays, OutputOptions(previews=False), instances={})
        picture = np.random.default_rng(frame).integers(0, 256, (H, W, 3), dtype=np.uint8)
        rgb_path(root, frame).parent.mkdir(parents=True, exist_ok=True)
        with open(rgb_path(root, frame), "wb") as stream:
            write_png(stream, picture)
        truth[frame] = {"centre": centre, "rotation": rotation, "hits": ground_hits(centre, rotation), "rgb": picture}
    target = np.array([[[4.0, 6.0], [5.5, 7.0], [7.0, 8.0]], [[20.0, 18.0], [21.0, 18.5], [22.0, 19.0]]])
    tracks = {
        "frames": np.array(FRAMES),
        "query_points": np.array([[0, 6.0, 4.0], [0, 18.0, 20.0]]),
        "target_points": target.astype(np.float32),
        "occluded": np.array([[False, True, False], [False, False, False]]),
        "track_depth": np.array([[2.5, 3.0, 3.5]] * 2, np.float32),
        "track_object_index": np.array([3, 7], np.int32),
    }
    write_npz(root / "tracks.npz", tracks)
    scene = {
        "resolution": [W, H],
        "projection": "perspective",
        "instances": {
            k: {"object": o, "pass_index": 0, "instancer": i, "persistent_id": None} for k, (o, i) in IDS.items()
        },
        "object_index_names": {"3": ["Crate"], "7": ["Leaf"]},
        "material_index_names": {},
        "arrays": sorted(arrays),  # as the exporter lists them (the dataset class reads it)
    }
    if objects:
        scene["classes"] = CLASSES
    write_meta(root, scene, FRAMES)
    return truth
