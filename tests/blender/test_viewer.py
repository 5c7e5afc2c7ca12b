# SPDX-License-Identifier: GPL-3.0-or-later
"""The 3D view of a real export: the command line's recording and the panel's Open 3D
View, read back with Rerun's reader (offline, see tests/recording.py) and checked
against Blender's own camera and ray casts through the pixel centres."""

import subprocess
import sys
import zipfile
from importlib.util import find_spec
from pathlib import Path

import bpy
import numpy as np
import pytest
import scenes
from mathutils import Matrix

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from recording import offline, read_recording

FRAMES = (1, 2, 3)
OPENCV_AXES = Matrix.Diagonal((1, -1, -1))  # Blender's camera looks down -z with y up


@pytest.fixture(scope="module")
def run(addon, tmp_path_factory):
    """A moving scene exported with instance ids and tracks, its truth per frame, and the
    shipped zip unpacked as a package for other processes."""
    work = tmp_path_factory.mktemp("viewer")
    root = work / "out"
    scene = scenes.new_scene(root)
    scenes.build_moving_scene(scene, len(FRAMES))
    scene.ground_truth.use_tracks = True
    scene.ground_truth.tracks_per_object = 6
    assert bpy.ops.render.gt_render_animation() == {"FINISHED"}
    truth = {}
    for frame in FRAMES:
        scene.frame_set(frame)
        pose = scene.camera.matrix_world.normalized()
        truth[frame] = {
            "centre": np.array(pose.translation),
            "rotation": np.array(pose.to_3x3() @ OPENCV_AXES),
            **scenes.cast_pixels(scene),
        }
    with zipfile.ZipFile(addon) as archive:
        archive.extractall(work / "packages" / "ground_truth")
    blend = work / "moving.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    return root, truth, work / "packages", blend


def arrays(root: Path, frame: int) -> dict:
    with np.load(root / "npz" / f"{frame:06d}.npz") as data:
        return {key: data[key] for key in data.files}


def matrix(flat) -> np.ndarray:
    return np.array(flat, np.float64).reshape(3, 3).T  # column-major


def check_recording(root: Path, truth: dict) -> None:
    entities = read_recording(root / "run.rrd")
    labels = {
        e["class_id"]: e["class_description"]["info"]["label"]
        for e in entities["/world/camera/instance_id"][None]["AnnotationContext:context"][0]
    }
    for frame in FRAMES:
        camera, seen = entities["/world/camera"][frame], truth[frame]
        np.testing.assert_allclose(camera["Transform3D:translation"][0], seen["centre"], atol=1e-5)
        np.testing.assert_allclose(matrix(camera["Transform3D:mat3x3"][0]), seen["rotation"], atol=1e-6)
        K = arrays(root, frame)["K"]
        np.testing.assert_allclose(matrix(camera["Pinhole:image_from_camera"][0])[:2, 2], K[:2, 2] + 0.5, atol=1e-4)

        # Depth points: one per pixel with a surface, row by row; at pixels whose filter
        # window sees one face only, where the ray through the pixel centre meets it.
        depth = arrays(root, frame)["depth"]
        points = np.array(entities["/world/points/camera"][frame]["Points3D:positions"])
        assert len(points) == np.isfinite(depth).sum()
        at = np.full((*depth.shape, 3), np.nan)
        at[np.isfinite(depth)] = points
        interior = seen["interior"] & seen["hit"]
        assert interior.sum() > 0.5 * depth.size
        distance = np.linalg.norm(seen["location"][interior] - seen["centre"], axis=1)
        error = np.linalg.norm(at[interior] - seen["location"][interior], axis=1)
        assert (error <= 1e-4 * distance).all(), (error / distance).max()  # as depth's own test

        # Masks: each interior pixel's class is named after the object its ray hits.
        mask = entities["/world/camera/instance_id"][frame]
        height, width = depth.shape
        image = np.frombuffer(bytes(mask["SegmentationImage:buffer"][0]), np.uint16).reshape(height, width)
        named = np.vectorize(lambda c: labels.get(int(c), ""))(image)
        np.testing.assert_array_equal(named[interior], seen["object"][interior])
        assert (image[~seen["hit"] & seen["empty"]] == 0).all()

        tracks = entities["/world/camera/tracks"][frame]
        assert len(tracks["Points2D:keypoint_ids"]) > 0


@pytest.mark.skipif(find_spec("rerun") is None, reason="rerun-sdk is not installed here")
def test_the_command_line_recording_holds_every_frame(run):
    root, truth, packages, _ = run
    done = offline(
        [sys.executable, "-m", "ground_truth.cli", "view", root, "--no-viewer"],
        env={"PYTHONPATH": str(packages), "PATH": "/usr/bin:/bin", "HOME": str(root.parent)},
    )
    assert done.returncode == 0, done.stderr
    check_recording(root, truth)


OPERATOR = """
import sys
sys.path[:0] = [sys.argv[-3], sys.argv[-2]]
import devenv
bpy = devenv.import_bpy()
bpy.ops.wm.open_mainfile(filepath=sys.argv[-1])
import ground_truth
ground_truth.register()
operator = bpy.ops.wm.gt_open_3d_view
print("poll", operator.poll())
if not operator.poll():
    try:
        operator()
    except RuntimeError as error:
        print("greyed", error)
else:
    print("result", sorted(operator()))
    bpy.context.scene.ground_truth.output_dir = "/nonexistent/nothing"
    print("poll_elsewhere", operator.poll())
ground_truth.unregister()
"""


def test_open_3d_view_writes_the_recording_or_says_how_to_install_rerun(run, tmp_path):
    root, truth, packages, blend = run
    (root / "run.rrd").unlink(missing_ok=True)
    script = tmp_path / "press.py"
    script.write_text(OPERATOR)
    scripts = [str(Path(__file__).parent), str(Path(__file__).resolve().parents[2] / "tools")]
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    bpy.context.scene.ground_truth.output_dir = str(root)
    bpy.ops.wm.save_mainfile()
    done = offline(
        [sys.executable, script, *scripts, blend],
        env={"PYTHONPATH": str(packages), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    if find_spec("rerun") is None:
        assert "poll False" in lines
        greyed = next(line for line in lines if line.startswith("greyed"))
        assert f"{sys.executable} -m pip install rerun-sdk" in greyed and "Traceback" not in greyed
        assert not (root / "run.rrd").exists()
        return
    assert "poll True" in lines and "result ['FINISHED']" in lines, done.stdout[-2000:]
    assert "poll_elsewhere False" in lines  # nothing exported there: greyed, with a reason
    assert f"Recording saved: {root}/run.rrd (no display here: open it with rerun {root}/run.rrd)" in done.stdout
    check_recording(root, truth)


def test_the_recording_command_never_needs_blender(run):
    """``view`` runs in a Python without bpy (the farm's driver machines, a laptop)."""
    _, _, packages, _ = run
    done = subprocess.run(
        [sys.executable, "-c", "import sys, ground_truth.viewer; print('bpy' in sys.modules)"],
        env={"PYTHONPATH": str(packages), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr
