# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-instance labels from synthetic boxes in front of a pinhole camera, whose
silhouettes, boxes and poses are worked out by hand below."""

import itertools
import math

import numpy as np
import pytest
from ground_truth.core import motion
from ground_truth.core.objects import object_labels
from ground_truth.core.ray_arrays import FrameMotion
from ground_truth.core.surfaces import FrameGeometry, Instance

K = np.array([[100.0, 0.0, 79.5], [0.0, 100.0, 59.5], [0.0, 0.0, 1.0]])
VIEW = motion.View(K, np.eye(4), (160, 120), False, (0.1, 100.0))  # looking down world +z
CORNERS = np.array(list(itertools.product((-1.0, 1.0), repeat=3)))  # vertex i: x = bit 2, y = bit 1, z = bit 0
TRIANGLES = np.array(
    [
        [0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5],  # x = -1, x = +1
        [0, 4, 5], [0, 5, 1], [2, 3, 7], [2, 7, 6],  # y = -1, y = +1
        [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3],  # z = -1, z = +1
    ]
)  # fmt: skip


def _box(name, matrix, class_id=0):
    inst = Instance((name, "", ()), 1, matrix, CORNERS.copy(), TRIANGLES, np.arange(12) // 2, np.zeros(12, np.int32))
    inst.class_id = class_id
    return inst


def _matrix(centre, half, rotation=None):
    matrix = np.eye(4)
    matrix[:3, :3] = (np.eye(3) if rotation is None else rotation) @ np.diag(half)
    matrix[:3, 3] = centre
    return matrix


def _geometry(instances):
    world = [inst.local @ inst.matrix[:3, :3].T + inst.matrix[:3, 3] for inst in instances]
    first_vertex = np.cumsum([0, *(len(w) for w in world)])
    corners = np.concatenate([inst.triangles + start for inst, start in zip(instances, first_vertex, strict=False)])
    first_triangle = np.cumsum([0, *(len(inst.triangles) for inst in instances)])
    return FrameGeometry(VIEW, instances, first_triangle, np.concatenate(world), corners, first_vertex)


def _square(low, high):
    """Pixel centres u (or v) with low < u < high."""
    return range(math.floor(low) + 1, math.ceil(high))


def _frame():
    """A box head-on at 5 m; a small box in front of it; a box wholly behind it; a box cut
    by the picture's left edge, turned and scaled unevenly; a box behind the camera."""
    turn = np.array([[math.cos(0.5), 0, math.sin(0.5)], [0, 1, 0], [-math.sin(0.5), 0, math.cos(0.5)]])
    instances = [
        _box("Big", _matrix((0, 0, 5), (0.5, 0.5, 0.5)), class_id=2),
        _box("Front", _matrix((0, 0, 3), (0.2, 0.2, 0.2))),
        _box("Behind", _matrix((0, 0, 8), (0.3, 0.3, 0.3)), class_id=1),
        _box("Cut", _matrix((-3.8, 0, 5), (0.5, 0.5, 0.5))),
        _box("Turned", _matrix((1.8, -0.6, 6), (0.6, 0.2, 0.4), turn), class_id=3),
        _box("Back", _matrix((0, 0, -5), (0.5, 0.5, 0.5))),
    ]
    geometry = _geometry(instances)
    # What the camera sees, by hand: the front box over the big one; the cut box's front
    # face and its right side; the turned box is drawn from the rays below (no overlap).
    ids = np.zeros((120, 160), np.int32)
    big = {inst.key[0]: inst.id for inst in instances}
    ys, xs = np.meshgrid(_square(48.39, 70.62), _square(68.39, 90.62), indexing="ij")
    ids[ys, xs] = big["Big"]
    ys, xs = np.meshgrid(_square(52.83, 66.17), _square(72.83, 86.17), indexing="ij")
    ids[ys, xs] = big["Front"]
    return geometry, ids, big


def test_whole_silhouettes_counts_and_visibility():
    geometry, ids, by_name = _frame()
    rows = object_labels(geometry, ids, masks=True)
    listed = {int(i): n for n, i in enumerate(rows["instance_ids"])}
    assert list(rows["instance_ids"]) == sorted(listed)
    assert by_name["Back"] not in listed  # behind the camera
    big, front, behind = (listed[by_name[name]] for name in ("Big", "Front", "Behind"))
    masks = np.unpackbits(rows["instance_amodal_masks"], axis=-1, count=160).astype(bool)
    # the big box head-on: its front face, 22 × 22 pixel centres
    assert rows["instance_amodal_pixels"][big] == 22 * 22 and masks[big].sum() == 22 * 22
    assert list(rows["instance_amodal_boxes"][big]) == [69, 49, 90, 70]
    assert rows["instance_visible_pixels"][big] == 22 * 22 - 14 * 14
    assert rows["instance_visibility"][big] == pytest.approx((22 * 22 - 14 * 14) / (22 * 22))
    assert rows["instance_visibility"][front] == 1 and rows["instance_in_frame"][front] == 1
    # wholly behind the big box: listed, whole silhouette ±3.75 px around the centre, unseen
    assert rows["instance_visibility"][behind] == 0 and rows["instance_visible_pixels"][behind] == 0
    assert (
        list(rows["instance_amodal_boxes"][behind]) == [76, 56, 83, 63] and rows["instance_amodal_pixels"][behind] == 64
    )
    for name, n in (("Big", big), ("Front", front)):
        assert not ((ids == by_name[name]) & ~masks[n]).any()  # seen ⊆ whole
    assert [int(c) for c in rows["instance_class"][[big, front, behind]]] == [2, 0, 1]


def test_a_box_cut_by_the_picture_s_edge_reaches_past_it():
    geometry, ids, by_name = _frame()
    rows = object_labels(geometry, ids)
    n = list(rows["instance_ids"]).index(by_name["Cut"])
    # x from 100·(-4.3 / 4.5) + 79.5 = -16.06 (front face) to 100·(-3.3 / 5.5) + 79.5 = 19.5 (back)
    assert list(rows["instance_amodal_boxes"][n]) == [-16, 49, 19, 70]
    assert rows["instance_in_frame"][n] == pytest.approx(20 / 36)
    # columns 0 … 19 in the picture: the front face's (half height 100·0.5/4.5) up to
    # u = 100·(-3.3 / 4.5) + 79.5, then the right side's, narrowing to 100·0.5/5.5 at u = 19.5
    front, back, edge = 100 * 0.5 / 4.5, 100 * 0.5 / 5.5, 100 * (-3.3 / 4.5) + 79.5
    half = [front if u <= edge else front + (u - edge) / (19.5 - edge) * (back - front) for u in range(20)]
    assert rows["instance_amodal_pixels"][n] == sum(len(_square(59.5 - h, 59.5 + h)) for h in half)
    assert "instance_amodal_masks" not in rows


def test_poses_take_model_points_to_the_camera_and_boxes_are_the_model_box():
    geometry, ids, by_name = _frame()
    rows = object_labels(geometry, ids)
    for name in ("Big", "Cut", "Turned"):
        n = list(rows["instance_ids"]).index(by_name[name])
        inst = geometry.instances[geometry.by_key[(name, "", ())]]
        pose = rows["instance_pose"][n]
        rotation, half = inst.matrix[:3, :3], np.linalg.norm(inst.matrix[:3, :3], axis=0)
        assert np.allclose(pose[:3, :3], rotation / half, atol=1e-12)  # R (the camera is the world)
        model = inst.local * half  # the local frame with the world scale applied
        world = inst.local @ rotation.T + inst.matrix[:3, 3]
        assert np.abs(model @ pose[:3, :3].T + pose[:3, 3] - world).max() < 1e-12
        # corner i: max x if i & 1, max y if i & 2, max z if i & 4 (our vertex order is z, y, x)
        expected = [world[(i & 1) << 2 | (i & 2) | (i & 4) >> 2] for i in range(8)]
        assert np.abs(rows["instance_box3d"][n] - expected).max() < 1e-12


def test_whole_silhouettes_follow_a_mesh_that_deforms_or_moves_from_frame_to_frame():
    """The box wholly behind the big one is drawn from its own rays alone, frame after
    frame: its mesh made wider (the same object, the same matrix), then moved."""
    geometry, ids, by_name = _frame()

    def behind(geometry):
        rows = object_labels(geometry, ids)
        n = list(rows["instance_ids"]).index(by_name["Behind"])
        assert rows["instance_visible_pixels"][n] == 0
        return list(rows["instance_amodal_boxes"][n]), int(rows["instance_amodal_pixels"][n])

    assert behind(geometry) == ([76, 56, 83, 63], 64)  # front face ±100·0.3/7.7 px
    instances = geometry.instances
    wider = instances[2].local * [1.5, 1, 1]  # x: ±100·0.45/7.7 = ±5.84 px → 74 … 85
    instances[2] = Instance(
        instances[2].key, 1, instances[2].matrix, wider, TRIANGLES, np.arange(12) // 2, np.zeros(12, np.int32)
    )
    assert behind(_geometry(instances)) == ([74, 56, 85, 63], 12 * 8)
    # moved 0.5 m right: its left side runs from u = 79.5 + 100·0.2/8.3 = 81.9 to
    # 100·0.2/7.7 (82.1), its front face to 79.5 + 100·0.8/7.7 = 89.9
    instances[2] = _box("Behind", _matrix((0.5, 0, 8), (0.3, 0.3, 0.3)), class_id=1)
    assert behind(_geometry(instances)) == ([82, 56, 89, 63], 8 * 8)


def test_the_rays_label_each_pixel_with_its_instance_s_class():
    """The big box (class 2) head-on with the front box (no class) over it, as rendered:
    planar depths 4.5 and 2.8 m worked out above."""
    geometry, ids, by_name = _frame()
    depth = np.full((120, 160), 1e10, np.float32)
    depth[ids == by_name["Big"]] = 4.5
    depth[ids == by_name["Front"]] = 2.8
    # Where the render shows something the rays do not find, at the pixel and its eight
    # neighbours, the surface is unknown (the block's other pixels have a neighbour at 2.8)
    depth[59:62, 79:82] = 9.0
    out = FrameMotion(geometry, {}, False, ("instance_id", "semantic")).arrays(depth)
    expected = np.where(ids == by_name["Big"], 2, 0)
    expected[60, 80] = -1
    assert np.array_equal(out["semantic"], expected)
    assert np.array_equal(out["instance_id"] == -1, expected == -1)
