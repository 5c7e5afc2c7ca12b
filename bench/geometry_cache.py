"""What the geometry cache costs on a scene of a million triangles: peak memory of a real
export with ``--flow-offsets 2,4,8`` beside the same export without offsets.

    .venv/bin/python bench/geometry_cache.py [--triangles 1000000] [--frames 12]

The scene is an artist's kind of heavy mesh: a grid of quads (``--triangles`` / 2 of
them) bent over time by a Simple Deform modifier, so every frame's evaluated mesh is its
own, in front of a camera at 160×120 (1 sample). Each export is a process of ``python -m
ground_truth.cli render``; its peak resident memory comes from the kernel (``wait4``).
The cache keeps a frame's geometry while a frame within the largest offset may need it,
so it holds at most 2 × 8 + 1 frames (3 without offsets): the difference of the two
peaks is what the offsets' frames cost.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from farm_scale import timed
from meta_upkeep import load_package

SCENE = """
import bpy
bpy.ops.wm.read_homefile(use_empty=True)
scene = bpy.context.scene
scene.render.engine = "CYCLES"
scene.cycles.samples, scene.cycles.use_denoising = 1, False
scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 160, 120, 100
cam = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
scene.collection.objects.link(cam)
cam.location, cam.rotation_euler = (0, -9, 4), (1.15, 0, 0)
scene.camera = cam
bpy.ops.mesh.primitive_grid_add(x_subdivisions={columns}, y_subdivisions={rows}, size=6)
grid = bpy.context.object
bend = grid.modifiers.new("Bend", "SIMPLE_DEFORM")
bend.deform_method, bend.deform_axis = "BEND", "X"
bend.angle = 0.2
bend.keyframe_insert("angle", frame=1)
bend.angle = 1.4
bend.keyframe_insert("angle", frame={last})
scene.frame_start, scene.frame_end = 1, {last}
bpy.ops.wm.save_as_mainfile(filepath={path!r})
print("triangles", sum(len(p.vertices) - 2 for p in grid.data.polygons))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triangles", type=int, default=1_000_000)
    parser.add_argument("--frames", type=int, default=12)
    args = parser.parse_args()
    side = math.isqrt(args.triangles // 2)  # a square grid of side × side quads
    packages = load_package()
    env = {**os.environ, "PYTHONPATH": str(packages)}
    work = Path(tempfile.mkdtemp(prefix="gt_geometry_cache_"))
    try:
        blend = work / "heavy.blend"
        scene = SCENE.format(columns=side + 1, rows=side + 1, last=args.frames, path=str(blend))
        made = subprocess.run([sys.executable, "-c", scene], check=True, capture_output=True, text=True)
        triangles = int(next(line for line in made.stdout.splitlines() if line.startswith("triangles")).split()[1])
        render = [sys.executable, "-m", "ground_truth.cli", "render", "--blend", str(blend), "--no-previews"]
        render += ["--frames", f"1-{args.frames}"]
        rows = {}
        runs = {
            "without offsets (k = 1: flow, occlusion)": [],
            "--flow-offsets 2,4,8": ["--flow-offsets", "2,4,8"],
        }
        for number, (name, extra) in enumerate(runs.items()):
            seconds, gib, errors = timed([*render, "--out", str(work / f"out{number}"), *extra], env)
            if errors.startswith("status"):
                sys.exit(f"the export {name} failed: {errors}")
            rows[name] = (gib, seconds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(packages, ignore_errors=True)
    print(f"\n{triangles:,} triangles, {args.frames} frames at 160×120, one process per export\n")
    print("| export | peak memory (GiB) | seconds |")
    print("|---|---|---|")
    for name, (gib, seconds) in rows.items():
        print(f"| {name} | {gib:.2f} | {seconds:.0f} |")
    (base, _), (offsets, _) = rows.values()
    print(f"\nthe offsets' cache: {offsets - base:+.2f} GiB (it holds up to 17 frames' geometry, against 3 without)")


if __name__ == "__main__":
    main()
