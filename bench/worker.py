# SPDX-License-Identifier: GPL-3.0-or-later
"""One benchmark configuration in a fresh process; prints one JSON line of results.

    python bench/worker.py CONFIG --out DIR [--width 640 --height 480 --frames 12 --samples 16] [--no-denoise]

A  plain animation render, RGB only
B  the same with the ground-truth passes on, no export
C  the full export (Exporter: NPZ, previews, every modality)
S  the render as the export runs it (passes wired to our File Output, scratch EXR
   written) with nothing read: what the compositor costs the render (S - B)
D  the recipe users paste: File Output EXR per frame, channels read through
   array.array(...).tolist(), np.savez_compressed per frame
E  the export step alone, uncompressed NPZ, no previews, no rays (no occlusion, instance
   ids, semantic classes or object labels), and the np.save floor of the same arrays to
   the same disk
C0 C without occlusion (what occlusion costs: C - C0)
R0 C without occlusion, instance ids, semantic classes and object labels: no rays at all
   (what instance ids and object labels cost: C0 - R0)
K2 C with flow offsets 2 (what a k costs)
T  C with point tracks (256 per object; what tracks cost: T - C)
X  C with EXR per array (exr_single/: what one EXR per image array costs: X - C)
Z  C without the ray distance (on by default: what it costs, C - Z)
P  C with the point maps (P - C)
F  C with scene flow and depth change (F - C)
O  C with object coordinates and NOCS (O - C)
AL C with albedo (AL - C)
L0 C without semantic classes and object labels (on by default: what they cost, C - L0)
AM C with amodal masks (AM - C)
Q  C with amodal masks on the demo scene with 300 more objects, each with a class, in
   front of the camera (the object labels of 300 instances: Q - Q0)
Q0 Q without semantic classes, object labels and amodal masks
"""

from __future__ import annotations

import argparse
import array
import importlib
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import devenv  # noqa: E402


def pass_flags() -> dict[str, str]:
    """The add-on's own map of pass names to view-layer switches (once it is installed)."""
    passes = importlib.import_module(f"{devenv.ADDON_MODULE}.core.registry").PASSES
    return {name: p.view_layer_flag for name, p in passes.items()}


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def animation_render(bpy, scene, out: Path) -> float:
    scene.render.filepath = str(out / "rgb" / "")
    scene.render.image_settings.file_format = "PNG"
    started = time.perf_counter()
    bpy.ops.render.render(animation=True)
    return time.perf_counter() - started


def recipe(bpy, scene, out: Path) -> tuple[float, list[float]]:
    """What users paste: a File Output node and a per-frame handler that reads it pixel by pixel."""
    import Imath
    import OpenEXR

    for flag in pass_flags().values():
        setattr(bpy.context.view_layer, flag, True)
    scene.render.use_motion_blur = False
    compat = importlib.import_module(f"{devenv.ADDON_MODULE}.compat")
    tree = compat.create_compositor_tree(scene)
    layers = tree.nodes.new("CompositorNodeRLayers")
    node = tree.nodes.new("CompositorNodeOutputFile")
    compat.configure_file_output(node)
    node.format.exr_codec = "ZIP"  # what a user's File Output writes by default
    setattr(node, compat.FILE_OUTPUT_PATH, compat.file_output_path(str(out / "exr")))
    for name in pass_flags():
        tree.links.new(layers.outputs[compat.render_layer_socket(name)], compat.add_file_output_item(node, name))
    export_seconds = []

    def on_post(scene, *_):
        started = time.perf_counter()
        path = max((out / "exr").glob("*.exr"), key=lambda p: p.stat().st_mtime_ns)  # this frame's
        exr = OpenEXR.InputFile(str(path))
        window = exr.header()["dataWindow"]
        width, height = window.max.x - window.min.x + 1, window.max.y - window.min.y + 1
        arrays = {}
        for name in exr.header()["channels"]:
            values = array.array("f", exr.channel(name, Imath.PixelType(Imath.PixelType.FLOAT))).tolist()
            arrays[name.replace(".", "_")] = np.array(values, dtype=np.float32).reshape(height, width)
        (out / "npz").mkdir(exist_ok=True)
        np.savez_compressed(out / "npz" / f"{scene.frame_current:06d}.npz", **arrays)
        export_seconds.append(time.perf_counter() - started)

    bpy.app.handlers.render_post.append(on_post)
    wall = animation_render(bpy, scene, out)
    bpy.app.handlers.render_post.remove(on_post)
    return wall, export_seconds


MOTION = {
    "C0": {"without": ("occlusion",)},
    "R0": {"without": ("occlusion", "instance_id", "semantic", "object_labels")},
    "K2": {"flow_offsets": "2"},
    "T": {},
    "E": {"without": ("occlusion", "instance_id", "semantic", "object_labels")},
    "Z": {"without": ("depth_ray",)},
    "P": {"with": ("points",)},
    "F": {"with": ("scene_flow",)},
    "O": {"with": ("object_coords", "nocs")},
    "AL": {"with": ("albedo",)},
    "L0": {"without": ("semantic", "object_labels")},
    "AM": {"with": ("amodal_masks",)},
    "Q": {"with": ("amodal_masks",)},
    "Q0": {"without": ("semantic", "object_labels")},
}
CROWD = 300  # Q's objects


def add_crowd(bpy, scene, count: int) -> None:
    """``count`` small boxes with classes, spread over the camera's first view 4 to 9 m away."""
    import bmesh
    from mathutils import Vector

    mesh = bpy.data.meshes.new("crowd-box")
    bm = bmesh.new()
    bmesh.ops.create_cube(bm, size=0.3)
    bm.to_mesh(mesh)
    bm.free()
    rng = np.random.default_rng(0)
    scene.frame_set(scene.frame_start)  # the camera is animated
    camera = scene.camera.matrix_world.copy()
    for i in range(count):
        depth = rng.uniform(4.0, 9.0)
        x, y = rng.uniform(-0.35, 0.35, 2) * depth
        obj = bpy.data.objects.new(f"crowd-{i:03d}", mesh)
        scene.collection.objects.link(obj)
        obj.location = camera @ Vector((x, y, -depth))  # Blender's camera looks down its -z
        obj.rotation_euler = rng.uniform(0, 3.1, 3)
        obj["class"] = f"kind-{i % 5}"


def full_export(bpy, scene, out: Path, frames: list[int], npz_level: int, previews: bool, config: str = "C"):
    exporter_module = importlib.import_module(f"{devenv.ADDON_MODULE}.pipeline.export")
    options_module = importlib.import_module(f"{devenv.ADDON_MODULE}.pipeline.options")
    layout = importlib.import_module(f"{devenv.ADDON_MODULE}.exporters.layout")
    modalities = importlib.import_module(f"{devenv.ADDON_MODULE}.core.modalities").MODALITIES
    extra = dict(MOTION.get(config, {}))
    without, also = extra.pop("without", ()), extra.pop("with", ())
    options = options_module.ExportOptions(
        output_dir=str(out),
        modalities=tuple(m.key for m in modalities if (m.default or m.key in also) and m.key not in without),
        files=layout.OutputOptions(npz_level=npz_level, previews=previews, exr_single=config == "X"),
        tracks=options_module.TrackOptions() if config == "T" else None,
        **extra,
    )
    started = time.perf_counter()
    with exporter_module.Exporter(scene, bpy.context.view_layer, options) as exporter:
        exporter.planned = frames  # as the export's operators and export_frames tell it
        for frame in frames:
            scene.frame_set(frame)
            exporter.before_render()
            exporter.render()
            exporter.after_render()
    return time.perf_counter() - started, exporter.timings


def compositor_only(bpy, scene, out: Path, frames: list[int]) -> float:
    """Render as the export does (passes wired to our File Output, which writes the
    scratch EXR) but read nothing: what the compositor's scratch file costs the render."""
    session_module = importlib.import_module(f"{devenv.ADDON_MODULE}.pipeline.session")
    run_folder = importlib.import_module(f"{devenv.ADDON_MODULE}.pipeline.run_folder")
    options_module = importlib.import_module(f"{devenv.ADDON_MODULE}.pipeline.options")
    plan = run_folder.export_plan(scene, options_module.ExportOptions(output_dir=str(out)))
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with session_module.ExportSession(scene, bpy.context.view_layer, plan.passes, plan.flow, Path("/dev/shm")) as s:
        for frame in frames:
            scene.frame_set(frame)
            bpy.ops.render.render()
            for path in s.raw_dir.glob("*.exr"):
                path.unlink()
    return time.perf_counter() - started


def stage_results(timings) -> dict:
    """The export step per frame and its stages (seconds), and the main thread's waits."""
    stages: dict[str, list[float]] = {}
    for t in timings:
        for thread, seconds in (("main", t.main), ("writer", t.writer)):
            for name, value in seconds.items():
                stages.setdefault(f"{thread}: {name}", []).append(value)
    return {
        "export": [t.export_step for t in timings],
        "stages": stages,
        "writer_wall": [t.writer_wall for t in timings],
        "waited": [t.waited for t in timings],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("config", choices=[*"ABCDSX", *MOTION])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--no-denoise", action="store_true", help="denoising off (the demo scene has it on)")
    parser.add_argument("--device", default="CPU", help="Cycles' device, as the command line's --device")
    args = parser.parse_args()
    out = args.out.resolve()
    bpy = devenv.import_bpy()
    devenv.install_extension(out / "dist")
    import demo_scene

    scene = demo_scene.build_demo_scene(resolution=(args.width, args.height), samples=args.samples)
    scene.frame_end = scene.frame_start + args.frames - 1
    if args.config in ("Q", "Q0"):
        add_crowd(bpy, scene, CROWD)
    scene.cycles.use_denoising = not args.no_denoise
    refused = importlib.import_module(f"{devenv.ADDON_MODULE}.exporters.errors").ExportRefusedError
    try:
        importlib.import_module(f"{devenv.ADDON_MODULE}.pipeline.command").use_device(scene, args.device)
    except refused as error:  # no such device here
        sys.exit(f"worker: {error}")
    frames = list(range(scene.frame_start, scene.frame_end + 1))
    data = out / "data"
    result = {"config": args.config, "frames": len(frames)}
    cpu_started = time.process_time()
    if args.config in "AB":
        for flag in pass_flags().values():
            setattr(bpy.context.view_layer, flag, args.config == "B")
        result["wall"] = animation_render(bpy, scene, data)
    elif args.config in ("C", "X") or (args.config in MOTION and args.config != "E"):
        result["wall"], timings = full_export(bpy, scene, data, frames, 1, True, args.config)
        result.update(stage_results(timings))
    elif args.config == "S":
        result["wall"] = compositor_only(bpy, scene, data, frames)
    elif args.config == "D":
        result["wall"], result["export"] = recipe(bpy, scene, data)
    else:
        result["wall"], timings = full_export(bpy, scene, data, frames, 0, False, args.config)
        result.update(stage_results(timings))
        result["cpu"] = time.process_time() - cpu_started  # the floor below is not the run's
        floor, floor_dir = [], out / "floor"
        floor_dir.mkdir(exist_ok=True)
        for frame in frames:
            with np.load(data / "npz" / f"{frame:06d}.npz") as npz:
                arrays = {key: npz[key] for key in npz.files}
            started = time.perf_counter()
            for key, value in arrays.items():
                np.save(floor_dir / f"{frame}_{key}.npy", value)
            floor.append(time.perf_counter() - started)
        result["floor"] = floor
    result.setdefault("cpu", time.process_time() - cpu_started)  # every thread's CPU seconds over the run
    result["bytes"] = folder_bytes(data)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    devenv.disable_extension()
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
