# SPDX-License-Identifier: GPL-3.0-or-later
"""The demo: build the bundled scene, install the extension from its zip and export the
whole animation with "Render Ground Truth Animation", as a user would.

    tools/demo.sh [--out demo_output] [--samples 16] [--overwrite]

Writes ``<out>/demo.blend`` and the ground truth in ``<out>/ground_truth/``, whose
``contact_sheet.png`` shows four frames: RGB, depth, normals, forward and backward flow,
object and material index, emission. A second run skips the frames already complete.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import devenv

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description="Export the demo scene's ground truth.")
    parser.add_argument("--out", type=Path, default=ROOT / "demo_output")
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--overwrite", action="store_true", help="render frames that are complete already")
    args = parser.parse_args()
    out = args.out.resolve()

    bpy = devenv.import_bpy()
    devenv.install_extension(out / "dist")
    import demo_scene

    scene = demo_scene.build_demo_scene(samples=args.samples)
    bpy.ops.wm.save_as_mainfile(filepath=str(out / "demo.blend"))
    settings = scene.ground_truth
    settings.output_dir = "//ground_truth/"
    settings.use_exr = settings.use_coco = True
    try:
        status = bpy.ops.render.gt_render_animation(overwrite=args.overwrite)
    except RuntimeError as error:  # a refusal, e.g. a folder left by an older version's demo
        message = str(error).removeprefix("Error: ").strip()
        sys.exit(f"demo: {message} (delete {out / 'ground_truth'} to start again)")
    finally:
        devenv.disable_extension()
    if status != {"FINISHED"}:
        sys.exit(f"demo: the export ended with {status}")
    root = out / "ground_truth"
    print(f"demo: frames {scene.frame_start}-{scene.frame_end} in {root}")
    print(f"demo: contact sheet {root / 'contact_sheet.png'}")


if __name__ == "__main__":
    main()
