# SPDX-License-Identifier: GPL-3.0-or-later
"""Object labels on Cycles and EEVEE: semantic classes, 6D poses, 3D boxes, whole
(amodal) silhouettes and visibility, against what Blender computes independently: its
``Scene.ray_cast`` through pixel centres (which instance each pixel shows), BVH trees of
each instance's evaluated mesh alone (its whole silhouette, also past the picture's
edge), its world matrices and evaluated vertices (poses and boxes).

The scene is built as an artist would: classes on objects, on an instancer and on
collections; a car rotated and scaled unevenly, half behind a wall; a rock hidden
wholly behind it; a crate parented to a rotated, scaled dolly and cut by the picture's
left edge; two copies of a collection of trees.
"""

import json
import math
from pathlib import Path

import bpy
import instance_truth
import motion_truth
import numpy as np
import pytest
import scenes
from mathutils.bvhtree import BVHTree

# Classes numbered by their names' sorted order.
CLASSES = {"bush": 1, "car": 2, "rock": 3, "terrain": 4, "tree": 5}
# What the truth says each instance's class is, by object and instancer.
TRUTH_CLASS = {
    ("Ground", ""): "terrain",  # from its collection
    ("Car", ""): "car",
    ("Wall", ""): None,
    ("Rock", ""): "rock",
    ("Crate", ""): "rock",  # its own property, under a parent without one
    ("Tree", "TreeA"): "bush",  # the instancer's property before the collection's
    ("Tree", "TreeB"): "tree",  # the instanced collection's
}
MARGIN = 60  # pixels past each edge of the picture where the truth's rays are cast


def _build(scene):
    scenes.add_camera(scene, (0.0, -9.0, 2.2), (80, 0, 0), lens=30.0)
    terrain = bpy.data.collections.new("Terrain")
    scene.collection.children.link(terrain)
    terrain["class"] = "terrain"
    ground = scenes.add_mesh(scene, "Ground", "plane", (0, 0, -1), scale=14)
    scene.collection.objects.unlink(ground)
    terrain.objects.link(ground)
    car = scenes.add_mesh(scene, "Car", "cube", (0.6, 0.8, 0.0), (10, 20, 35))
    car.scale = (1.1, 0.6, 0.8)
    car["class"] = "car"
    scenes.add_mesh(scene, "Wall", "cube", (-0.2, -2.0, 0.0), scale=1.0).scale = (0.9, 0.1, 1.2)
    rock = scenes.add_mesh(scene, "Rock", "ico", (-0.2, 0.5, -0.3), scale=0.5)
    rock["class"] = "rock"
    dolly = bpy.data.objects.new("Dolly", None)
    scene.collection.objects.link(dolly)
    dolly.location, dolly.rotation_euler, dolly.scale = (-6.0, 1.0, 0.0), (0, 0, math.radians(25)), (1.3, 0.9, 1.1)
    crate = scenes.add_mesh(scene, "Crate", "cube", (0, 0, 0), (0, 15, 0), scale=0.7)
    crate.parent = dolly
    crate["class"] = "rock"
    trees = bpy.data.collections.new("Trees")
    trees["class"] = "tree"
    tree = scenes.add_mesh(scene, "Tree", "ico", (0, 0, 0), scale=0.6)
    scene.collection.objects.unlink(tree)
    trees.objects.link(tree)
    scenes.instance_collection(scene, "TreeA", trees, (3.4, 3.0, 0.0))["class"] = "bush"
    scenes.instance_collection(scene, "TreeB", trees, (-1.8, 4.5, 0.3))
    scenes.add_sun(scene)


@pytest.fixture(scope="module", params=["CYCLES", "EEVEE"])
def exported(addon, tmp_path_factory, request):
    scene = scenes.new_scene(tmp_path_factory.mktemp(f"objects_{request.param}") / "out")
    if request.param == "EEVEE":
        instance_truth.eevee(scene)
    _build(scene)
    scene.ground_truth.use_amodal_masks = scene.ground_truth.use_coco = True  # off by default
    assert bpy.ops.render.gt_render_frame() == {"FINISHED"}
    out = bpy.path.abspath(scene.ground_truth.output_dir)
    with np.load(f"{out}/npz/000001.npz") as npz:
        arrays = dict(npz)
    with open(f"{out}/meta.json", encoding="utf-8") as stream:
        meta = json.load(stream)
    keys = {int(i): (row["object"], row["instancer"] or "") for i, row in meta["instances"].items()}
    return scene, arrays, meta, keys, instance_truth.labels(scene)


def _evaluated(scene):
    """Per (object, instancer): its world matrix, evaluated local vertices and world triangles."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    found = {}
    for inst in depsgraph.object_instances:
        obj = inst.object
        if obj.type != "MESH":
            continue
        mesh = obj.to_mesh()
        local = np.array([v.co for v in mesh.vertices])
        mesh.calc_loop_triangles()
        triangles = np.array([t.vertices[:] for t in mesh.loop_triangles])
        obj.to_mesh_clear()
        matrix = np.array(inst.matrix_world)
        found[(obj.name, inst.parent.name if inst.is_instance else "")] = (matrix, local, triangles)
    return found


def _opencv_world_to_camera(scene):
    flip = np.diag([1.0, -1.0, -1.0, 1.0])  # Blender's camera looks down -z with y up
    return flip @ np.linalg.inv(np.array(scene.camera.matrix_world))


def _silhouette(scene, matrix, local, triangles, margin=0):
    """Whether the ray through each pixel centre meets these triangles alone, over the
    picture grown by ``margin`` pixels on every side (row 0 = top, margin rows first)."""
    world = local @ matrix[:3, :3].T + matrix[:3, 3]
    tree = BVHTree.FromPolygons(world.tolist(), triangles.tolist(), all_triangles=True)
    width, height = scenes.effective_size(scene)
    out = np.zeros((height + 2 * margin, width + 2 * margin), bool)
    for row in range(-margin, height + margin):
        for col in range(-margin, width + margin):
            start, direction = motion_truth.camera_ray(scene, col, row)
            out[row + margin, col + margin] = tree.ray_cast(start, direction)[0] is not None
    return out


def test_semantic_is_the_class_of_the_instance_each_pixel_shows(exported):
    _, arrays, meta, _, truth = exported
    assert meta["classes"] == CLASSES and meta["class_property"] == "class"
    expected = np.zeros(truth["key"].shape, np.int32)
    for (row, col), key in np.ndenumerate(truth["key"]):
        if key is not None:
            name = TRUTH_CLASS[(key[0], key[1])]
            expected[row, col] = CLASSES[name] if name else 0
    inside = truth["interior"]
    assert inside.sum() > 3000
    assert (arrays["semantic"][inside] == expected[inside]).all()
    assert set(np.unique(arrays["semantic"][inside])) == {0, *CLASSES.values()}
    assert (arrays["semantic"][arrays["instance_id"] == 0] == 0).all()


def test_coco_s_categories_are_the_classes(exported):
    from pycocotools.coco import COCO

    scene, _, _, keys, _ = exported
    coco = COCO(str(Path(bpy.path.abspath(scene.ground_truth.output_dir)) / "coco.json"))
    assert {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())} == {i: n for n, i in CLASSES.items()}
    annotations = coco.loadAnns(coco.getAnnIds(imgIds=[1]))
    assert len(annotations) == 5  # every visible instance with a class: not the wall, not the hidden rock
    for annotation in annotations:
        name = TRUTH_CLASS[keys[annotation["instance_id"]]]
        assert annotation["category_id"] == CLASSES[name]


def test_poses_and_boxes_carry_model_points_to_the_camera(exported):
    scene, arrays, _, keys, _ = exported
    evaluated = _evaluated(scene)
    w2c = _opencv_world_to_camera(scene)
    listed = [keys[int(i)] for i in arrays["instance_ids"]]
    assert {("Car", ""), ("Rock", ""), ("Crate", ""), ("Tree", "TreeA"), ("Tree", "TreeB")} <= set(listed)
    models = {"Car": 1, "Crate": 2, "Ground": 3, "Rock": 4, "Tree": 5, "Wall": 6}  # mesh names, sorted
    for key, pose, box, class_id, model in zip(
        listed,
        arrays["instance_pose"],
        arrays["instance_box3d"],
        arrays["instance_class"],
        arrays["instance_model"],
        strict=True,
    ):
        matrix, local, _ = evaluated[key]
        name = TRUTH_CLASS[key]
        assert class_id == (CLASSES[name] if name else 0), key
        assert model == models[key[0]], key
        rotation = pose[:3, :3]
        assert np.abs(rotation @ rotation.T - np.eye(3)).max() < 1e-9 and np.linalg.det(rotation) > 0
        # M = R·P, P = √(MᵀM) the stretch (the crate's is sheared: a rotated child of a
        # parent scaled unevenly); model points are P·local.
        values, vectors = np.linalg.eigh(matrix[:3, :3].T @ matrix[:3, :3])
        stretch = vectors @ np.diag(np.sqrt(values)) @ vectors.T
        model = local @ stretch.T
        truth = (local @ matrix[:3, :3].T + matrix[:3, 3]) @ w2c[:3, :3].T + w2c[:3, 3]
        carried = model @ rotation.T + pose[:3, 3]
        assert np.abs(carried - truth).max() < 1e-6, key
        low, high = model.min(axis=0), model.max(axis=0)
        corners = np.array([[(high if i >> a & 1 else low)[a] for a in range(3)] for i in range(8)])
        to_world = corners @ (matrix[:3, :3] @ np.linalg.inv(stretch)).T + matrix[:3, 3]
        assert np.abs(box - (to_world @ w2c[:3, :3].T + w2c[:3, 3])).max() < 1e-6, key


def test_whole_silhouettes_visibility_and_the_picture_s_edge(exported):
    scene, arrays, _, keys, truth = exported
    evaluated = _evaluated(scene)
    width, height = scenes.effective_size(scene)
    masks = np.unpackbits(arrays["instance_amodal_masks"], axis=-1, count=width).astype(bool)
    assert masks.shape == (len(arrays["instance_ids"]), height, width)
    visibility = {}
    for n, instance in enumerate(arrays["instance_ids"]):
        key = keys[int(instance)]
        whole = masks[n]
        seen = arrays["instance_id"] == instance
        assert not (seen & ~whole).any(), key  # visible ⊆ whole
        assert arrays["instance_visible_pixels"][n] == seen.sum()
        assert arrays["instance_amodal_pixels"][n] == whole.sum()
        grown = _silhouette(scene, *evaluated[key], margin=MARGIN)
        inner = grown[MARGIN:-MARGIN, MARGIN:-MARGIN]
        assert (whole == inner).mean() >= 0.999, (key, (whole != inner).sum())
        rows, cols = np.nonzero(grown)
        box = np.array([cols.min(), rows.min(), cols.max(), rows.max()]) - MARGIN
        ours = arrays["instance_amodal_boxes"][n]
        if key == ("Ground", ""):  # it reaches under the camera, past the truth's margin: ours goes farther
            assert (ours[:2] <= box[:2]).all() and (ours[2:] >= box[2:]).all(), (ours, box)
            continue
        assert np.abs(ours - box).max() <= 1, (key, ours, box)
        area = (box[2] - box[0] + 1) * (box[3] - box[1] + 1)
        inside = (min(box[2], width - 1) - max(box[0], 0) + 1) * (min(box[3], height - 1) - max(box[1], 0) + 1)
        assert abs(arrays["instance_in_frame"][n] - inside / area) < 0.02, key
        shown = np.vectorize(lambda k, key=key: k is not None and (k[0], k[1]) == key)(truth["key"])
        assert abs(arrays["instance_visibility"][n] - shown.sum() / inner.sum()) < 0.01, key
        visibility[key] = (arrays["instance_visibility"][n], arrays["instance_in_frame"][n])
    assert visibility[("Rock", "")][0] == 0  # wholly behind the wall
    assert visibility[("Tree", "TreeA")][0] == 1  # nothing in front of it
    assert 0.2 < visibility[("Car", "")][0] < 0.9  # half behind the wall
    assert visibility[("Crate", "")][1] < 0.9  # cut by the picture's edge
    assert visibility[("Car", "")][1] == 1


def test_class_ids_depend_on_the_names_alone(addon, tmp_path):
    """The scene built again with its objects made in the opposite order, and a class
    that no object shows in the picture: the same ids, and the unseen class numbered."""
    scene = scenes.new_scene(tmp_path / "out")
    _build(scene)
    hidden = scenes.add_mesh(scene, "Far", "cube", (0, 0, -50))  # out of sight, under the ground
    hidden["class"] = "aardvark"
    objects = list(scene.collection.all_objects)
    for obj in reversed(objects):  # made anew in the opposite order, names kept
        copy = obj.copy()
        for collection in list(obj.users_collection):
            collection.objects.unlink(obj)
            collection.objects.link(copy)
        name = obj.name
        bpy.data.objects.remove(obj)
        copy.name = name
    scene.camera = bpy.data.objects["Camera"]
    scene.ground_truth.use_object_labels = False
    assert bpy.ops.render.gt_render_frame() == {"FINISHED"}
    with open(tmp_path / "out" / "meta.json", encoding="utf-8") as stream:
        meta = json.load(stream)
    assert meta["classes"] == {"aardvark": 1, **{name: i + 1 for name, i in CLASSES.items()}}


def test_a_class_table_that_lacks_a_class_is_refused_in_one_line(addon, tmp_path):
    scene = scenes.new_scene(tmp_path / "unused")
    _build(scene)
    blend = tmp_path / "classes.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    table = tmp_path / "table.json"
    table.write_text(json.dumps({"car": 7, "rock": 3, "terrain": 9, "tree": 12}))
    run = scenes.cli_runner(addon, tmp_path)
    out = tmp_path / "out"
    code, stdout, stderr = run("render", "--blend", str(blend), "--out", str(out), "--classes", str(table))
    said = [line for line in (stdout + stderr).splitlines() if "Class Table" in line]
    assert code != 0 and len(said) == 1 and "'bush'" in said[0], stdout + stderr
    assert "Traceback" not in stderr and not (out / "npz").exists()
    table.write_text(json.dumps({"bush": 2, "car": 7, "rock": 3, "terrain": 9, "tree": 12}))
    code, stdout, stderr = run("render", "--blend", str(blend), "--out", str(out), "--classes", str(table))
    assert code == 0, stderr
    with np.load(out / "npz" / "000001.npz") as npz:
        found = set(np.unique(npz["semantic"]).tolist())
    assert {0, 2, 3, 7, 9, 12} <= found <= {-1, 0, 2, 3, 7, 9, 12}


def test_a_class_property_that_is_not_text_is_refused(scene):
    _build(scene)
    bpy.data.objects["Car"]["class"] = 3
    with pytest.raises(RuntimeError, match="Object 'Car': its 'class' property is int 3, not a text"):
        bpy.ops.render.gt_render_frame()


def _read_ply(path):
    """A binary little-endian PLY of float x, y, z vertices and uchar-int triangle lists."""
    data = path.read_bytes()
    header, body = data.split(b"end_header\n", 1)
    counts = dict(line.split()[1:3] for line in header.decode().splitlines() if line.startswith("element"))
    vertices = int(counts["vertex"])
    points = np.frombuffer(body[: vertices * 12], "<f4").reshape(-1, 3)
    faces = np.frombuffer(body[vertices * 12 :], np.dtype([("n", "u1"), ("v", "<i4", 3)]))
    assert (faces["n"] == 3).all() and len(faces) == int(counts["face"])
    return points.astype(np.float64), faces["v"]


def _png(path):
    import png

    width, height, rows, info = png.Reader(filename=str(path)).read()
    return np.array(list(rows), np.uint16 if info["bitdepth"] == 16 else np.uint8).reshape(height, width)


def test_bop_files_in_the_toolkit_s_conventions(addon, tmp_path):
    scene = scenes.new_scene(tmp_path / "out")
    _build(scene)
    scene.ground_truth.use_bop = True
    for frame in (1, 2):  # two runs into one folder: the scene files hold both
        scene.frame_set(frame)
        assert bpy.ops.render.gt_render_frame() == {"FINISHED"}
    root = tmp_path / "out"
    bop = root / "bop"
    meta = json.loads((root / "meta.json").read_text())
    assert meta["models"] == {"1": "Car", "2": "Crate", "3": "Ground", "4": "Rock", "5": "Tree", "6": "Wall"}
    cameras, gts, infos = (json.loads((bop / "train_pbr/000000" / f"{n}.json").read_text()) for n in
                           ("scene_camera", "scene_gt", "scene_gt_info"))  # fmt: skip
    assert sorted(cameras) == sorted(gts) == sorted(infos) == ["1", "2"]
    models_info = json.loads((bop / "models" / "models_info.json").read_text())
    truth = scenes.cast_pixels(scene)  # frame 2's
    evaluated = _evaluated(scene)
    by_mesh = {"Car": ("Car", ""), "Crate": ("Crate", ""), "Rock": ("Rock", ""), "Wall": ("Wall", "")}
    camera, gt, info = cameras["2"], gts["2"], infos["2"]
    K = np.array(camera["cam_K"]).reshape(3, 3)
    assert camera["depth_scale"] == 1.0
    depth = _png(bop / "train_pbr/000000/depth/000002.png").astype(np.float64) * camera["depth_scale"]
    inside = truth["interior"]
    assert np.abs(depth[inside] - truth["depth"][inside] * 1000).max() <= 1.0
    assert (depth[truth["empty"]] == 0).all()
    w2c = _opencv_world_to_camera(scene)
    assert np.allclose(np.array(camera["cam_R_w2c"]).reshape(3, 3), w2c[:3, :3], atol=1e-9)
    assert np.allclose(camera["cam_t_w2c"], w2c[:3, 3] * 1000, atol=1e-6)
    assert [g["obj_id"] for g in gt].count(5) == 2  # the two trees share their mesh's model
    for index, (row, numbers) in enumerate(zip(gt, info, strict=True)):
        points, triangles = _read_ply(bop / "models" / f"obj_{row['obj_id']:06d}.ply")
        pairs = np.sqrt(((points[:, None] - points[None]) ** 2).sum(-1)).max()
        assert abs(models_info[str(row["obj_id"])]["diameter"] - pairs) < 1e-3
        R, t = np.array(row["cam_R_m2c"]).reshape(3, 3), np.array(row["cam_t_m2c"])
        assert np.abs(R @ R.T - np.eye(3)).max() < 1e-9 and np.linalg.det(R) > 0
        in_camera = points @ R.T + t  # mm
        mesh = meta["models"][str(row["obj_id"])]
        if mesh in by_mesh:  # the model's vertices land where Blender puts the mesh's
            matrix, local, faces = evaluated[by_mesh[mesh]]
            assert len(triangles) == len(faces) and len(points) == len(local)
            world = local @ matrix[:3, :3].T + matrix[:3, 3]
            assert np.abs(in_camera - (world @ w2c[:3, :3].T + w2c[:3, 3]) * 1000).max() < 1e-2, mesh
        mask = _png(bop / "train_pbr/000000/mask" / f"000002_{index:06d}.png") > 0
        visible = _png(bop / "train_pbr/000000/mask_visib" / f"000002_{index:06d}.png") > 0
        assert not (visible & ~mask).any()
        assert numbers["px_count_all"] == mask.sum() and numbers["px_count_visib"] == visible.sum()
        assert numbers["visib_fract"] == pytest.approx(visible.sum() / mask.sum())
        ahead = in_camera[:, 2] > 0
        pixels = (in_camera[ahead] @ K.T)[:, :2] / in_camera[ahead, 2:]
        x, y = np.rint(pixels).astype(int).T
        on = (x >= 1) & (y >= 1) & (x < mask.shape[1] - 1) & (y < mask.shape[0] - 1)
        grown = np.zeros_like(mask)  # vertices are on the silhouette's edge: one pixel of reach
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                grown |= np.roll(mask, (dy, dx), axis=(0, 1))
        assert grown[y[on], x[on]].all(), mesh
        x0, y0, w, h = numbers["bbox_obj"]
        rows, cols = np.nonzero(mask)
        assert x0 <= cols.min() and y0 <= rows.min() and x0 + w - 1 >= cols.max() and y0 + h - 1 >= rows.max()


def test_bop_files_of_farm_chunks_are_one_set_after_the_merge(addon, tmp_path):
    """Two chunks (frames 1–2 and 3, as a farm runs them: no run files) and the merge: the
    scene files list every frame, each with the car where Blender has it then."""
    scene = scenes.new_scene(tmp_path / "unused")
    _build(scene)
    car = bpy.data.objects["Car"]
    for frame, x in ((1, 0.6), (3, 1.4)):
        car.location.x = x
        car.keyframe_insert("location", frame=frame)
    blend = tmp_path / "farm.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    run = scenes.cli_runner(addon, tmp_path)
    out = tmp_path / "out"
    common = ("--blend", str(blend), "--out", str(out), "--formats", "npz,bop")
    for frames, report in (("1-2", "a.json"), ("3", "b.json")):
        code, _, err = run("render", *common, "--frames", frames, "--chunk-manifest", str(tmp_path / report))
        assert code == 0, err
    assert not (out / "bop" / "train_pbr" / "000000" / "scene_gt.json").exists()  # a chunk leaves it to the merge
    code, _, err = run("merge", *common, "--frames", "1-3")
    assert code == 0, err
    gts = json.loads((out / "bop" / "train_pbr" / "000000" / "scene_gt.json").read_text())
    meta = json.loads((out / "meta.json").read_text())
    car_model = int(next(i for i, mesh in meta["models"].items() if mesh == "Car"))
    assert sorted(gts) == ["1", "2", "3"] and meta["classes"] == CLASSES
    for frame in (1, 2, 3):
        scene.frame_set(frame)
        w2c = _opencv_world_to_camera(scene)
        truth = (w2c[:3, :3] @ np.array(car.matrix_world)[:3, 3] + w2c[:3, 3]) * 1000
        (row,) = [g for g in gts[str(frame)] if g["obj_id"] == car_model]
        assert np.abs(np.array(row["cam_t_m2c"]) - truth).max() < 1e-3, frame


def test_the_panel_names_the_classes_and_sets_them_on_the_selection(scene):
    import importlib

    import devenv

    state = importlib.import_module(f"{devenv.ADDON_MODULE}.pipeline.panel_state")
    _build(scene)
    found = state.work_out(scene, bpy.context.view_layer)
    assert found.classes == "5 classes: bush, car, rock, terrain, tree" and found.unclassed == 1  # the wall
    for obj in bpy.context.view_layer.objects:
        obj.select_set(obj.name in ("Wall", "Rock"))
    assert bpy.ops.object.gt_set_class(name="stone") == {"FINISHED"}
    assert bpy.data.objects["Wall"]["class"] == bpy.data.objects["Rock"]["class"] == "stone"
    found = state.work_out(scene, bpy.context.view_layer)
    assert found.classes == "6 classes: bush, car, rock, stone, terrain, tree" and found.unclassed == 0
    for obj in bpy.context.view_layer.objects:
        obj.select_set(False)
    assert not bpy.ops.object.gt_set_class.poll()


def test_geometry_nodes_copies_take_their_instancer_s_or_their_object_s_class(scene):
    """Posts of a generated cube take their carrier's class; copies of an object (Object
    Info) their object's; copies of a collection's objects (Collection Info) the
    collection's; the realized block its own object's."""
    instance_truth.build_generated_instances_scene(scene)
    bpy.data.objects["Zaun"]["class"] = "fence"  # its posts are generated: they have no object of their own
    bpy.data.objects["Kegel"]["class"] = "cone"
    bpy.data.collections["Hecke"]["class"] = "hedge"
    bpy.data.objects["Block"]["class"] = "block"
    scene.ground_truth.use_object_labels = False
    assert bpy.ops.render.gt_render_frame() == {"FINISHED"}
    out = Path(bpy.path.abspath(scene.ground_truth.output_dir))
    meta = json.loads((out / "meta.json").read_text())
    classes = meta["classes"]
    assert classes == {"block": 1, "cone": 2, "fence": 3, "hedge": 4}
    expected = {"Zaun": "fence", "Kegelreihe": "cone", "Heckenreihe": "hedge", "Block": "block"}
    with np.load(out / "npz" / "000001.npz") as npz:
        semantic = npz["semantic"]
    truth = instance_truth.labels(scene)
    checked = 0
    for (row, col), key in np.ndenumerate(truth["key"]):
        if key is None or not truth["interior"][row, col]:
            continue
        name = expected.get(key[1] or key[0])  # by instancer, else the object itself
        assert semantic[row, col] == (classes[name] if name else 0), key
        checked += name is not None
    assert checked > 500
