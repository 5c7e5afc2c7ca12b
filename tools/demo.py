"""The demo: build the bundled scene, install the extension from its zip, export every
frame of the animation with "Render Ground Truth", and make a contact sheet.

    tools/demo.sh [--out demo_output] [--frames 12] [--samples 16]

Writes ``<out>/demo.blend``, the ground truth in ``<out>/ground_truth/`` and
``<out>/contact_sheet.png`` (rows: frames; columns: RGB, depth, normals, forward flow,
object index, emission).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

import devenv
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def read_rgb(bpy, path: Path) -> np.ndarray:
    """An 8-bit PNG through Blender's image loader, as (H, W, 3) uint8 with row 0 on top."""
    image = bpy.data.images.load(str(path))
    width, height = image.size
    pixels = np.empty(width * height * image.channels, np.float32)
    image.pixels.foreach_get(pixels)
    bpy.data.images.remove(image)
    rgb = pixels.reshape(height, width, -1)[::-1, :, :3]  # Blender's buffers start at the bottom
    return np.rint(rgb * 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description="Export the demo scene's ground truth.")
    parser.add_argument("--out", type=Path, default=ROOT / "demo_output")
    parser.add_argument("--frames", type=int, default=12, help="how many frames of the animation (1-12)")
    parser.add_argument("--samples", type=int, default=16)
    args = parser.parse_args()
    out = args.out.resolve()

    bpy = devenv.import_bpy()
    devenv.install_extension(out / "dist")
    addon = importlib.import_module(devenv.ADDON_MODULE)
    previews = importlib.import_module(f"{devenv.ADDON_MODULE}.core.previews")
    png = importlib.import_module(f"{devenv.ADDON_MODULE}.core.png")
    frame_io = importlib.import_module(f"{devenv.ADDON_MODULE}.exporters.frame_io")
    assert addon

    import demo_scene

    scene = demo_scene.build_demo_scene(samples=args.samples)
    bpy.ops.wm.save_as_mainfile(filepath=str(out / "demo.blend"))
    scene.ground_truth.output_dir = "//ground_truth/"
    frames = list(range(scene.frame_start, min(scene.frame_end, scene.frame_start + args.frames - 1) + 1))
    for frame in frames:
        started = time.perf_counter()
        scene.frame_set(frame)
        if bpy.ops.render.gt_render_frame() != {"FINISHED"}:
            sys.exit(f"demo: frame {frame} failed")
        print(f"demo: frame {frame} exported in {time.perf_counter() - started:.1f} s", flush=True)

    root = out / "ground_truth"
    rows = []
    for frame in frames[:: max(1, len(frames) // 4)][:4]:
        arrays = frame_io.load_frame(root / "npz" / f"{frame:06d}.npz")
        pictures = previews.previews(arrays)
        rows.append(
            [
                read_rgb(bpy, root / "rgb" / f"{frame:06d}.png"),
                *(pictures[key][0] for key in ("depth", "normal", "flow_forward", "object_index", "emission")),
            ]
        )
    with open(out / "contact_sheet.png", "wb") as stream:
        png.write_png(stream, previews.contact_sheet(rows))
    devenv.disable_extension()
    print(f"demo: {len(frames)} frames in {root}\ndemo: contact sheet {out / 'contact_sheet.png'}")


if __name__ == "__main__":
    main()
