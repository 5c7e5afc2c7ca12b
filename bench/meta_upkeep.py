# SPDX-License-Identifier: GPL-3.0-or-later
"""A render manager's run: one frame per process into folders of 0, 10,000 and 100,000
frames, each process a real ``python -m ground_truth.cli render`` with the ``bpy`` module.

    .venv/bin/python bench/meta_upkeep.py [--frames-in-folder 0,10000,100000] [--runs 5]

A tiny scene (64×48, 1 sample, depth only, no previews) keeps the render short, so that
what the folder costs shows. The folder's frames are synthetic: a real export's frame
1, its files linked under every other frame number, and a ``meta.json`` listing them all
(what a scan of the folder would find). Prints the median wall time of ``--runs``
processes per folder size, side by side in one run, and each size's ratio to the empty
folder's.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENE = """
import bpy
bpy.ops.wm.read_homefile(use_empty=True)
scene = bpy.context.scene
scene.render.engine = "CYCLES"
scene.cycles.samples, scene.cycles.use_denoising = 1, False
scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 64, 48, 100
cam = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
scene.collection.objects.link(cam)
cam.location, cam.rotation_euler = (0, -6, 2), (1.25, 0, 0)
scene.camera = cam
bpy.ops.mesh.primitive_cube_add()
bpy.ops.wm.save_as_mainfile(filepath={path!r})
"""
FLAGS = ["--modalities", "depth", "--no-previews"]


def load_package():
    """The add-on's source as ``ground_truth`` (its bpy-free parts), and a folder that
    makes it importable for other processes."""
    spec = importlib.util.spec_from_file_location(
        "ground_truth", ROOT / "__init__.py", submodule_search_locations=[str(ROOT)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["ground_truth"] = module
    spec.loader.exec_module(module)
    packages = Path(tempfile.mkdtemp(prefix="gt_upkeep_pkg_"))
    (packages / "ground_truth").symlink_to(ROOT)
    return packages


def render(env, blend: Path, out: Path, frame: int) -> float:
    started = time.perf_counter()
    command = ["render", "--blend", str(blend), "--out", str(out), "--frames", str(frame), *FLAGS]
    done = subprocess.run(
        [sys.executable, "-m", "ground_truth.cli", *command],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        sys.exit(f"render of frame {frame} into {out} failed: {done.stderr}")
    return time.perf_counter() - started


def fill(template: Path, out: Path, count: int) -> None:
    """``count`` frames (1 … count) in ``out``: the template's frame 1 linked under each
    number, and a meta.json listing them, as the template's run wrote it."""
    from ground_truth.exporters.meta import write_meta

    out.mkdir(parents=True)
    for folder in ("rgb", "npz"):
        (out / folder).mkdir()
        template_file = template / folder / f"000001.{'png' if folder == 'rgb' else 'npz'}"
        for frame in range(1, count + 1):
            if frame % 50_000 == 1:  # a file takes at most 65,000 links on ext4
                source = out / folder / f".source{frame}{template_file.suffix}"
                shutil.copyfile(template_file, source)
            os.link(source, out / folder / f"{frame:06d}{template_file.suffix}")
    if count:
        header = json.loads((template / "meta.json").read_text())
        for key in ("schema_version", "conventions", "frames_written", "flow_reaches_outside_export"):
            header.pop(key, None)
        write_meta(out, {**header, "folder_files_frames": count}, range(1, count + 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames-in-folder", default="0,10000,100000")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(load_package())}
    work = Path(tempfile.mkdtemp(prefix="gt_upkeep_"))
    try:
        blend = work / "tiny.blend"
        subprocess.run([sys.executable, "-c", SCENE.format(path=str(blend))], check=True, capture_output=True)
        render(env, blend, work / "template", 1)
        sizes = [int(n) for n in args.frames_in_folder.split(",")]
        for size in sizes:
            fill(work / "template", work / f"folder_{size}", size)
        seconds = {size: [] for size in sizes}
        for run in range(args.runs):  # the sizes side by side, run after run
            for size in sizes:
                seconds[size].append(render(env, blend, work / f"folder_{size}", size + 1 + run))
        for size in sizes:  # every process's frame is listed, after the folder's own
            listed = json.loads((work / f"folder_{size}" / "meta.json").read_text())["frames_written"]
            assert listed == list(range(1, size + args.runs + 1)), size
    finally:
        shutil.rmtree(work, ignore_errors=True)
    medians = {size: statistics.median(seconds[size]) for size in sizes}
    print(f"\nOne frame per process (python -m ground_truth.cli render, 64×48, depth): median of {args.runs}\n")
    print("| frames in the folder | " + " | ".join(f"{size:,}" for size in sizes) + " |")
    print("|---" * (len(sizes) + 1) + "|")
    print("| seconds per process | " + " | ".join(f"{medians[s]:.2f}" for s in sizes) + " |")
    print("| ratio to the empty folder | " + " | ".join(f"{medians[s] / medians[sizes[0]]:.2f}" for s in sizes) + " |")
    spread = {s: f"{min(seconds[s]):.2f}–{max(seconds[s]):.2f}" for s in sizes}
    print("| range | " + " | ".join(spread[s] for s in sizes) + " |")


if __name__ == "__main__":
    main()
