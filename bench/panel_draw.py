# SPDX-License-Identifier: GPL-3.0-or-later
"""What a redraw of the sidebar costs, with 10 and with 3,000 objects: every panel's
draw() and the poll of every button it draws, as Blender calls them on each mouse move
over the tab, and what the panel's timer spends (a tick, and a full work-out after a
change to the scene).

    .venv/bin/python bench/panel_draw.py [--source DIR]

``--source`` times another checkout of the add-on (an older commit, side by side).
Blender draws panels only in a window: here each draw() gets a layout that does what
Blender's does with our calls (a button asks its operator's poll in the sidebar's
region) and draws nothing. Prints the median of 7 rounds of 50 redraws, and of 7 ticks.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path


class Layout:
    def __init__(self, context):
        self.context, self.active, self.scale_y = context, True, 1.0

    def label(self, text="", icon="NONE"):
        pass

    def operator(self, idname, **_):
        import bpy

        category, name = idname.split(".")
        operator = getattr(bpy.types, f"{category.upper()}_OT_{name}")
        if hasattr(operator, "poll"):
            operator.poll(self.context)
        return types.SimpleNamespace()

    def prop(self, data, name, **_):
        getattr(data, name)

    def progress(self, **_):
        pass

    def column(self, **_):
        return Layout(self.context)

    row = column


def timed(work, *args, **kwargs) -> float:
    started = time.perf_counter()
    work(*args, **kwargs)
    return (time.perf_counter() - started) * 1000


def scene_with(bpy, count: int):
    bpy.ops.wm.read_homefile(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    camera = bpy.data.objects.new("Camera", bpy.data.cameras.new("Camera"))
    scene.collection.objects.link(camera)
    scene.camera = camera
    scene.ground_truth.output_dir = tempfile.mkdtemp(prefix="gt_panel_")
    mesh = bpy.data.meshes.new("piece")
    mesh.from_pydata([(0, 0, 0), (1, 0, 0), (0, 1, 0)], [], [(0, 1, 2)])
    for i in range(count):
        scene.collection.objects.link(bpy.data.objects.new(f"piece{i}", mesh))
    return scene


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args()
    packages = Path(tempfile.mkdtemp(prefix="gt_panel_pkg_"))
    (packages / "ground_truth").symlink_to(args.source.resolve())
    sys.path.insert(0, str(packages))
    import bpy
    import ground_truth

    ground_truth.register()
    sidebar = importlib.import_module("ground_truth.panels.sidebar")
    try:
        state = importlib.import_module("ground_truth.pipeline.panel_state")
    except ImportError:  # a checkout from before the panel's state
        state = None
    for count in (10, 3000):
        scene = scene_with(bpy, count)
        view_layer = bpy.context.view_layer
        if state is not None:
            state.refresh(scene, view_layer, full=True)
        region = types.SimpleNamespace(type="UI", width=300)
        context = types.SimpleNamespace(
            scene=scene, region=region, preferences=bpy.context.preferences, view_layer=view_layer
        )
        rounds = []
        for _ in range(7):
            started = time.perf_counter()
            for _ in range(50):
                for panel in sidebar.classes:
                    if panel.poll(context):
                        panel.draw(types.SimpleNamespace(layout=Layout(context)), context)
            rounds.append((time.perf_counter() - started) / 50 * 1000)
        line = f"{count} objects: a redraw {statistics.median(rounds):.2f} ms"
        if state is not None:
            tick = statistics.median(timed(state.refresh, scene, view_layer) for _ in range(7))
            full = statistics.median(timed(state.refresh, scene, view_layer, full=True) for _ in range(7))
            line += f"; the timer: a tick {tick:.2f} ms, a full work-out {full:.2f} ms"
        print(line, flush=True)
    ground_truth.unregister()


if __name__ == "__main__":
    main()
