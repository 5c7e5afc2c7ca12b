# SPDX-License-Identifier: GPL-3.0-or-later
"""A .blend is a document people share: nothing a scene names may make an export write or
delete outside its output folder (and our own scratch folder). Camera, Multi-View and
Stereo 3D names that climb out of the folder, run from the command line in a sandbox
where every file outside the output folder is listed before and after."""

import json
import os
import time
from pathlib import Path
from urllib.parse import unquote

import bpy
import pytest
import scenes

HOSTILE = ("../../escape", "..", "/srv/x", "../../..")
WATCHED = (Path("/dev/shm"), Path("/dev"), Path("/srv"))


@pytest.fixture(scope="module")
def sandbox(addon, tmp_path_factory):
    """The shipped package, .blends with hostile names, decoys that look like stale
    temporaries, and a runner; the output folder lies four levels down."""
    root = tmp_path_factory.mktemp("sandbox")
    run = scenes.cli_runner(addon, root)
    blends = {}
    scene = scenes.new_scene(root / "unused")
    scenes.build_moving_scene(scene, 2)
    rig = bpy.data.collections.new("Rig")
    scene.collection.children.link(rig)
    for i, name in enumerate(HOSTILE):
        camera = bpy.data.objects.new(name, scene.camera.data)
        rig.objects.link(camera)
        camera.matrix_world = scene.camera.matrix_world
        camera.location.x += 0.3 * i
    assert sorted(o.name for o in rig.objects) == sorted(HOSTILE)  # Blender keeps such names
    blends["rig"] = root / "rig.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blends["rig"]), copy=True)
    render = scene.render
    render.use_multiview, render.views_format = True, "MULTIVIEW"
    render.views["right"].use = False
    extra = render.views.new("../../mv_escape")
    extra.file_suffix = "_mv"
    blends["multiview"] = root / "multiview.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blends["multiview"]), copy=True)
    render.views.remove(extra)
    render.views["right"].use = True
    render.views_format = "STEREO_3D"
    render.views["right"].file_suffix = "/../../../st_right"
    blends["stereo"] = root / "stereo.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blends["stereo"]), copy=True)
    # Decoys: files and a folder named like temporaries, old enough to look abandoned.
    (root / ".backup.part").write_text("a user's backup")
    (root / ".cache.part").mkdir()
    (root / ".cache.part" / "data").write_text("a user's cache")
    (root / "a" / ".x.otherhost.12.part").parent.mkdir()
    (root / "a" / ".x.otherhost.12.part").write_text("not ours")
    old = time.time() - 7200
    for path in (root / ".backup.part", root / ".cache.part", root / "a" / ".x.otherhost.12.part"):
        os.utime(path, (old, old))
    return root, blends, run


def listing(root: Path, out: Path) -> dict:
    """Every file and folder under ``root`` but ``out``, and the names in the shared
    folders a scene could reach (/dev/shm, where scratch folders go, /dev and /srv); files
    with their sizes and modification times (other runs' scratch folders come and go)."""
    seen = {}
    for path in root.rglob("*"):
        if path == out or out in path.parents:
            continue
        stat = path.lstat()
        seen[str(path)] = None if path.is_dir() else (stat.st_size, stat.st_mtime_ns)
    for folder in WATCHED:
        if folder.is_dir():
            seen.update({str(p): None for p in folder.iterdir() if not p.name.startswith(".ground_truth_scratch")})
    return seen


def test_camera_names_that_climb_out_stay_inside(sandbox):
    from ground_truth.loader import GroundTruthDataset

    root, blends, run = sandbox
    out = root / "a" / "b" / "c" / "out"
    out.parent.mkdir(parents=True, exist_ok=True)
    before = listing(root, out)
    flags = ["--views", "COLLECTION", "--camera-collection", "Rig", "--frames", "1-2", "--modalities", "depth"]
    for _ in range(2):  # the second run resumes, and sweeps what killed runs left
        status, _, err = run("render", "--blend", str(blends["rig"]), "--out", str(out), *flags)
        assert status == 0, err
    assert listing(root, out) == before
    assert not Path("/srv/x").exists()
    meta = json.loads((out / "meta.json").read_text())
    assert sorted(v["name"] for v in meta["views"]) == sorted(HOSTILE)
    for view in meta["views"]:
        folder = Path(view["folder"])
        assert folder.parts[0] == "views" and len(folder.parts) == 2 and ".." not in folder.parts
        assert unquote(folder.name) == view["name"]  # the escaping is reversible
        assert (out / folder / "npz" / "000002.npz").is_file()
    assert sorted(p.name for p in (out / "views").iterdir()) == sorted(v["folder"][6:] for v in meta["views"])
    dataset = GroundTruthDataset(out)
    assert len(dataset) == 2 * len(HOSTILE) and {dataset[i]["view"] for i in range(len(dataset))} == set(HOSTILE)


def test_a_multiview_view_named_to_climb_out_stays_inside(sandbox):
    root, blends, run = sandbox
    out = root / "a" / "b" / "c" / "multiview"
    before = listing(root, out)
    status, _, err = run("render", "--blend", str(blends["multiview"]), "--out", str(out), "--views", "MULTIVIEW")
    assert status == 0, err
    assert listing(root, out) == before
    assert sorted(p.name for p in (out / "views").iterdir()) == ["%2E.%2F..%2Fmv_escape", "left"]


def test_a_file_suffix_that_climbs_out_is_refused_in_one_line(sandbox):
    root, blends, run = sandbox
    out = root / "a" / "b" / "c" / "stereo"
    before = listing(root, out)
    status, _, err = run("render", "--blend", str(blends["stereo"]), "--out", str(out), "--views", "MULTIVIEW")
    assert status == 3 and err.strip().count("\n") == 0, err  # refused
    assert "view 'right' has the file suffix '/../../../st_right'" in err
    assert listing(root, out) == before and not out.exists()


def _hostile_meta(folder: Path) -> Path:
    meta = {"views": [{"name": "x", "folder": "../../../etc"}], "frames_written": [1]}
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


def test_a_meta_json_naming_a_folder_outside_is_refused_by_the_dataset(tmp_path):
    from ground_truth.exporters.frame_io import FrameFileError
    from ground_truth.loader import GroundTruthDataset

    with pytest.raises(FrameFileError, match="is not a folder inside"):
        GroundTruthDataset(_hostile_meta(tmp_path))


def test_a_meta_json_naming_a_folder_outside_is_refused_by_the_3d_view(tmp_path):
    pytest.importorskip("rerun")
    from ground_truth.viewer import ViewerError, write_recording

    with pytest.raises(ViewerError, match="is not a folder inside"):
        write_recording(_hostile_meta(tmp_path))
    assert not (tmp_path / "run.rrd").exists()
