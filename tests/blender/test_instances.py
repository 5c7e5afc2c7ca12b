# SPDX-License-Identifier: GPL-3.0-or-later
"""Instance ids, and the masks on every engine, against Blender's own ray casts: which
instance (object, instancer, persistent id), object and material each pixel centre
shows."""

from __future__ import annotations

import json
from pathlib import Path

import bpy
import instance_truth
import numpy as np
import pytest
from pycocotools.coco import COCO


def _export(scene, frame=1):
    scene.frame_set(frame)
    assert bpy.ops.render.gt_render_frame() == {"FINISHED"}
    root = Path(scene.ground_truth.output_dir)
    return np.load(root / "npz" / f"{frame:06d}.npz"), json.loads((root / "meta.json").read_text()), root


def _check_against_truth(arrays, meta, truth):
    """Interior pixels: the ids name the true instances one to one, and the masks agree."""
    inside = truth["interior"]
    ids = arrays["instance_id"]
    table = meta["instances"]
    pairs = {(truth["key"][r, c], int(ids[r, c])) for r, c in zip(*np.nonzero(inside), strict=True)}
    by_key, by_id = {}, {}
    for key, value in pairs:
        by_key.setdefault(key, set()).add(value)
        by_id.setdefault(value, set()).add(key)
    assert all(len(v) == 1 for v in by_key.values()), "an instance carries two ids"
    assert all(len(k) == 1 for k in by_id.values()), "two instances share an id"
    for key, (value,) in by_key.items():
        row = table[str(value)]
        name, instancer, persistent_id = key
        assert row["object"] == name and (row["instancer"] or "") == instancer
        if instancer:
            assert tuple(row["persistent_id"]) == persistent_id
        assert row["pass_index"] == bpy.data.objects[name].pass_index
    for key in ("object_index", "material_index"):
        np.testing.assert_array_equal(arrays[key][inside], truth[key][inside], err_msg=key)
    background = truth["object_index"] == 0
    assert (ids[background & inside] == 0).all()
    return by_key


def _export_and_check(scene, build, engine):
    """Build the scene, export frame 1 on ``engine`` (with COCO), check it against the
    truth; returns the arrays, meta.json, the folder, the ids per true instance and the truth."""
    build(scene)
    if engine == "EEVEE":
        instance_truth.eevee(scene)
    scene.ground_truth.use_coco = True
    arrays, meta, root = _export(scene)
    truth = instance_truth.labels(scene)
    return arrays, meta, root, _check_against_truth(arrays, meta, truth), truth


@pytest.mark.parametrize("engine", ["CYCLES", "EEVEE"])
def test_instances_of_one_mesh_have_their_own_ids(scene, engine):
    arrays, meta, root, by_key, _ = _export_and_check(scene, instance_truth.build_instances_scene, engine)
    chairs = [k for k in by_key if k[0] == "Stuhl-ü"]
    cones = [k for k in by_key if k[0] == "Kegel-日本"]
    assert len(chairs) == 10 and len(cones) == 10
    assert {k[0] for k in by_key} >= {"Boden-ä", "Würfel-A", "Würfel-B"}
    assert meta["missing_modalities"] == []
    # boxes per instance: tight around its pixels, with the object's pass index as class
    ids = arrays["instance_id"]
    for value, box, pixels, cls in zip(
        arrays["instance_box_id"],
        arrays["instance_boxes"],
        arrays["instance_box_pixels"],
        arrays["instance_box_class"],
        strict=True,
    ):
        rows, cols = np.nonzero(ids == value)
        assert list(box) == [cols.min(), rows.min(), cols.max(), rows.max()] and pixels == rows.size
        assert cls == meta["instances"][str(value)]["pass_index"]
    assert set(arrays["instance_box_id"]) == set(np.unique(ids[ids > 0]))
    # COCO: one annotation per visible instance, its mask that instance's pixels
    coco = COCO(str(root / "coco.json"))
    annotations = coco.loadAnns(coco.getAnnIds(imgIds=[1]))
    assert sorted(a["instance_id"] for a in annotations) == sorted(
        int(v) for v in arrays["instance_box_id"] if meta["instances"][str(v)]["pass_index"] > 0
    )
    for annotation in annotations:
        np.testing.assert_array_equal(coco.annToMask(annotation).astype(bool), ids == annotation["instance_id"])
        assert annotation["category_id"] == meta["instances"][str(annotation["instance_id"])]["pass_index"]
    categories = {c["id"] for c in coco.loadCats(coco.getCatIds())}
    assert categories >= {1, 2, 5, 7, 8}


@pytest.mark.parametrize("engine", ["CYCLES", "EEVEE"])
def test_three_hundred_objects_get_three_hundred_ids(scene, engine):
    arrays, meta, _, by_key, _ = _export_and_check(scene, instance_truth.build_crowd_scene, engine)
    assert len(by_key) == 300
    assert len(arrays["instance_box_id"]) == len(meta["instances"]) == 300
    assert list(arrays["instance_box_class"]) == [6] * 300


def test_an_instance_keeps_its_id_over_frames_and_runs(scene, tmp_path):
    """Frame 2 moves and turns every instancer, and the second run starts from a scene
    rebuilt in another order: each instance's id stays."""
    instance_truth.build_instances_scene(scene)
    empties = [o for o in scene.objects if o.instance_type == "COLLECTION"]
    for empty in empties:
        empty.keyframe_insert("location", frame=1)
        empty.location.y -= 0.7
        empty.rotation_euler.z += 0.5
        empty.keyframe_insert("location", frame=2)
    ids = {}
    for frame in (1, 2):
        arrays, meta, _ = _export(scene, frame)
        truth = instance_truth.labels(scene)
        ids[frame] = {key: value for key, (value,) in _check_against_truth(arrays, meta, truth).items()}
    assert len(ids[1]) == len(ids[2]) == 23 and ids[1] == ids[2]  # ground, 10 + 10 instances, 2 boxes
    # Another run, its objects created in the reverse order, into another folder.
    names = sorted(o.name for o in scene.objects if o.type == "MESH")
    for name in reversed(names):
        obj = bpy.data.objects[name]
        scene.collection.objects.unlink(obj)
        scene.collection.objects.link(obj)
    scene.ground_truth.output_dir = str(tmp_path / "again")
    arrays, meta, _ = _export(scene, 2)
    again = {key: value for key, (value,) in _check_against_truth(arrays, meta, instance_truth.labels(scene)).items()}
    assert again == ids[2]


@pytest.mark.parametrize("engine", ["CYCLES", "EEVEE"])
def test_geometry_nodes_instances_of_generated_meshes_objects_and_collections(scene, engine):
    build = instance_truth.build_generated_instances_scene
    arrays, meta, _, by_key, truth = _export_and_check(scene, build, engine)
    per_instancer = {}
    for name, instancer, _ in by_key:
        per_instancer.setdefault(instancer or name, []).append(name)
    # three posts per fence (the same node tree on two objects), one realized mesh, three
    # objects and three copies of a two-object collection
    assert sorted(per_instancer["Zaun"]) == ["Zaun"] * 3 and sorted(per_instancer["Zaun-2"]) == ["Zaun-2"] * 3
    assert per_instancer["Block"] == ["Block"] and per_instancer["Kegelreihe"] == ["Kegel"] * 3
    assert sorted(per_instancer["Heckenreihe"]) == ["Busch"] * 3 + ["Stamm"] * 3
    assert len(by_key) == 1 + 3 + 3 + 1 + 3 + 6
    assert len(set(np.unique(arrays["instance_id"][truth["interior"]]))) == len(by_key)
    # pass-index boxes: Object Info's and Collection Info's instances are their objects' (5, 14)
    assert set(arrays["box_index"]) == {1, 5, 10, 12, 13, 14}
    assert len(arrays["instance_box_id"]) == len(by_key)
    # the table names every instance the frame shows or lists (the object labels also list
    # the cone's template, hidden under the ground)
    listed = {*arrays["instance_box_id"].tolist(), *arrays["instance_ids"].tolist()}
    assert set(meta["instances"]) == {str(i) for i in listed} and len(listed) == len(by_key) + 1
