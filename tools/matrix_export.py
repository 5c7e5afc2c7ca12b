# SPDX-License-Identifier: GPL-3.0-or-later
"""Export frames 1-3 of the demo scene (160×120, 8 samples) with whatever bpy this
Python has, into ``--out``: what the matrix compares across Blender versions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import devenv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    out = parser.parse_args().out.resolve()
    bpy = devenv.import_bpy()
    devenv.install_extension(out / "dist")
    import demo_scene

    scene = demo_scene.build_demo_scene(resolution=(160, 120), samples=8)
    settings = scene.ground_truth
    settings.output_dir = str(out / "ground_truth")
    settings.use_exr = True
    settings.frame_start, settings.frame_end = 1, 3
    status = bpy.ops.render.gt_render_animation()
    devenv.disable_extension()
    if status != {"FINISHED"}:
        sys.exit(f"matrix_export: the export ended with {status}")


if __name__ == "__main__":
    main()
