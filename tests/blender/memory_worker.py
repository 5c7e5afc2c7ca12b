# SPDX-License-Identifier: GPL-3.0-or-later
"""Memory of an export, measured in a fresh process (run by ``test_scale.py``); prints
one JSON line. Linux only: it reads ``/proc/self/status`` and resets the peak through
``/proc/self/clear_refs``.

    python memory_worker.py big OUT WIDTH HEIGHT      one frame, every output on
    python memory_worker.py long OUT FRAMES WIDTH HEIGHT   a long run's resident memory
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).resolve().parents[2] / "tools")]

import devenv  # noqa: E402

bpy = devenv.import_bpy()

import scenes  # noqa: E402


def memory_mb() -> dict[str, float]:
    """Resident memory now (``VmRSS``) and at its peak (``VmHWM``), in MiB."""
    lines = Path("/proc/self/status").read_text().splitlines()
    return {line.split(":")[0]: int(line.split()[1]) / 1024 for line in lines if line.startswith(("VmRSS", "VmHWM"))}


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM starts again from VmRSS


def big(out: Path, width: int, height: int) -> dict:
    """A plane 10 m below a camera looking straight down, a box on it; the export step
    (read the passes, convert, write NPZ, EXR, previews, meta and contact sheet) measured
    from the end of the render."""
    scene = scenes.new_scene(out)
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.cycles.samples = 1
    scene.cycles.max_bounces = 0
    scene.ground_truth.use_exr = True
    scenes.add_camera(scene, (0, 0, 10), (0, 0, 0))
    scenes.add_mesh(scene, "Ground", "plane", (0, 0, 0), scale=20, pass_index=1, material_index=1)
    scenes.add_mesh(scene, "Box", "cube", (0, 0, 1), (10, 20, 30), pass_index=2, material_index=2)
    export = importlib.import_module(f"{devenv.ADDON_MODULE}.pipeline.export")
    options = importlib.import_module(f"{devenv.ADDON_MODULE}.pipeline.options").options_from_settings
    with export.Exporter(scene, bpy.context.view_layer, options(scene.ground_truth)) as exporter:
        exporter.before_render()
        exporter.render()
        reset_peak()
        before = memory_mb()["VmRSS"]
        exporter.after_render()
    return {"before_mb": before, "peak_mb": memory_mb()["VmHWM"]}


def long(out: Path, frames: int, width: int, height: int) -> dict:
    """The moving scene over ``frames`` frames; resident memory after each one."""
    scene = scenes.new_scene(out)
    scenes.build_moving_scene(scene, frames)
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.cycles.samples = 1
    export = importlib.import_module(f"{devenv.ADDON_MODULE}.pipeline.export")
    options = importlib.import_module(f"{devenv.ADDON_MODULE}.pipeline.options").options_from_settings
    rss: list[float] = []
    export.export_frames(
        scene,
        bpy.context.view_layer,
        options(scene.ground_truth),
        list(range(1, frames + 1)),
        on_progress=lambda _: rss.append(memory_mb()["VmRSS"]),
    )
    return {"rss_mb": rss}


def main() -> None:
    mode, out, *numbers = sys.argv[1:]
    devenv.install_extension(Path(out) / "dist")
    try:
        result = {"big": big, "long": long}[mode](Path(out) / "ground_truth", *map(int, numbers))
    finally:
        devenv.disable_extension()
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
