# SPDX-License-Identifier: GPL-3.0-or-later
"""meta.json upkeep per frame against the frames already in the folder (bpy-free).

    .venv/bin/python bench/meta_upkeep.py [--frames-in-folder 0,1000,10000] [--frames 40]

For each folder size, the folder is filled with that many complete frames (empty files
at every path a complete frame of the default export has), then ``--frames`` more frames
are added one at a time and their upkeep is timed three ways, side by side:

* rescan: what the first version did per frame (scan the folder, rewrite meta.json);
* keeper, every frame: ``MetaKeeper.frame_done`` writing meta.json for every frame;
* keeper, default: ``MetaKeeper.frame_done`` as the export runs it (meta.json at most
  every 2 s; the rest of the frames cost a set insertion).

Prints the mean milliseconds per frame (for the default, the cost of its writes spread
over the frames), and the end-of-run scan once per size.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_package():
    """The add-on's source as ``ground_truth`` (its bpy-free parts)."""
    spec = importlib.util.spec_from_file_location(
        "ground_truth", ROOT / "__init__.py", submodule_search_locations=[str(ROOT)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["ground_truth"] = module
    spec.loader.exec_module(module)


def measure(existing: int, added: int) -> dict[str, float]:
    from ground_truth.core.modalities import MODALITIES, plan
    from ground_truth.exporters.formats import complete_frames, expected_files
    from ground_truth.exporters.layout import OutputOptions, instances_path
    from ground_truth.exporters.meta import MetaKeeper, meta_lock, write_meta

    arrays = plan("CYCLES", [m.key for m in MODALITIES]).arrays
    options = OutputOptions()
    scene = {"resolution": [640, 480], "modalities": [m.key for m in MODALITIES], "camera": "Camera"}
    scene["objects"] = [{"name": f"Object{i:03d}", "type": "MESH", "pass_index": i} for i in range(100)]

    def complete(root: Path, frame: int) -> None:
        for path in expected_files(root, frame, arrays, options):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        rows = {
            str(3 * frame + i): {"object": f"Object{i:03d}", "pass_index": i, "instancer": None, "persistent_id": None}
            for i in range(3)
        }
        instances_path(root, frame).write_text(json.dumps(rows))  # three instances in each frame

    out = {}
    for way in ("rescan", "keeper, every frame", "keeper, default"):
        root = Path(tempfile.mkdtemp(prefix="gt_meta_bench_"))
        for frame in range(1, existing + 1):
            complete(root, frame)
        keeper = MetaKeeper(root, scene, arrays, options, interval=0.0 if way == "keeper, every frame" else 2.0)
        keeper.start()
        seconds = []
        for frame in range(existing + 1, existing + added + 1):
            complete(root, frame)
            started = time.perf_counter()
            if way == "rescan":
                with meta_lock(root):
                    write_meta(root, scene, complete_frames(root, arrays, options))
            else:
                keeper.frame_done(frame)
            seconds.append(time.perf_counter() - started)
        out[way] = statistics.mean(seconds) * 1000
        if way == "keeper, default":
            started = time.perf_counter()
            keeper.finish()
            out["end of run (one scan)"] = (time.perf_counter() - started) * 1000
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames-in-folder", default="0,1000,10000")
    parser.add_argument("--frames", type=int, default=40)
    args = parser.parse_args()
    load_package()
    sizes = [int(n) for n in args.frames_in_folder.split(",")]
    rows = {size: measure(size, args.frames) for size in sizes}
    ways = list(rows[sizes[0]])
    print(f"\nmeta.json upkeep, ms per frame (mean of {args.frames} frames), by frames already in the folder\n")
    print("| upkeep | " + " | ".join(f"{size:,} frames" for size in sizes) + " |")
    print("|---" * (len(sizes) + 1) + "|")
    for way in ways:
        print(f"| {way} | " + " | ".join(f"{rows[size][way]:.2f}" for size in sizes) + " |")


if __name__ == "__main__":
    main()
