# SPDX-License-Identifier: GPL-3.0-or-later
"""The benchmark: prints a table of per-frame cost, export step, memory and bytes for the
demo scene, and the ratios the performance targets are about.

    bench/bench.sh [--runs 3] [--frames 12] [--width 640 --height 480 --samples 16]

Each run renders A, B, C and D one after the other (so their ratios are measured side by
side), each in a fresh process; then C0, R0, K2, K24 and T (what occlusion, instance ids,
each flow offset and point tracks add to C); then E (no rays) and EO (occlusion and instance ids) at
1920×1080. Medians over the runs. Last, the meta.json upkeep per frame in folders of 0,
1,000 and 10,000 frames (bench/meta_upkeep.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAMES = {
    "A": "plain render, RGB only",
    "B": "render with the passes on, no export",
    "C": "full export (NPZ, previews, all modalities)",
    "D": "pasted recipe (tolist + savez_compressed)",
}
MOTION = {
    "C0": "C without occlusion",
    "R0": "C without occlusion and instance ids (no rays)",
    "K2": "C + flow offsets 2",
    "K24": "C + flow offsets 2,4",
    "T": "C + point tracks (256 per object)",
}


def worker(config: str, out: Path, width: int, height: int, frames: int, samples: int) -> dict:
    command = [
        sys.executable,
        str(ROOT / "bench" / "worker.py"),
        config,
        "--out",
        str(out),
        "--width",
        str(width),
        "--height",
        str(height),
        "--frames",
        str(frames),
        "--samples",
        str(samples),
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        sys.exit(f"bench: {config} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return json.loads(lines[-1].removeprefix("RESULT "))


def median(values) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--samples", type=int, default=16)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gt_bench_"))
    runs = []
    for run in range(args.runs):
        results = {}
        for config in [*"ABCD", *MOTION]:
            results[config] = worker(
                config, work / f"{run}{config}", args.width, args.height, args.frames, args.samples
            )
            print(
                f"bench: run {run + 1}/{args.runs} {config}: {results[config]['wall'] / args.frames:.2f} s/frame",
                file=sys.stderr,
                flush=True,
            )
        for config in ("E", "EO"):
            results[config] = worker(config, work / f"{run}{config}", 1920, 1080, 3, 1)
        runs.append(results)

    def per_frame(config):
        return [r[config]["wall"] / r[config]["frames"] for r in runs]

    def export_step(config):
        return [median(r[config]["export"]) for r in runs]

    print(
        f"\nDemo scene, {args.width}×{args.height}, {args.samples} samples, {args.frames} frames, Cycles CPU; "
        f"median of {args.runs} runs\n"
    )
    print("| config | wall per frame | export step per frame | peak memory | bytes written |")
    print("|---|---|---|---|---|")
    for config, name in NAMES.items():
        step = f"{median(export_step(config)):.3f} s" if "export" in runs[0][config] else "–"
        rss = median(r[config]["peak_rss_mb"] for r in runs)
        written = median(r[config]["bytes"] for r in runs) / 1e6
        print(f"| {config}: {name} | {median(per_frame(config)):.2f} s | {step} | {rss:.0f} MB | {written:.1f} MB |")
    c_over_b = [r["C"]["wall"] / r["B"]["wall"] for r in runs]
    c0_over_b = [r["C0"]["wall"] / r["B"]["wall"] for r in runs]
    r0_over_b = [r["R0"]["wall"] / r["B"]["wall"] for r in runs]
    d_over_c = [median(r["D"]["export"]) / median(r["C"]["export"]) for r in runs]
    e_step = [median(r["E"]["export"]) for r in runs]
    e_floor = [median(r["E"]["floor"]) for r in runs]
    e_ratio = [s / f for s, f in zip(e_step, e_floor, strict=True)]
    print("\n| ratio (median of per-run ratios) | value | target |")
    print("|---|---|---|")
    print(f"| C / B wall time | {median(c_over_b):.3f} | ≤ 1.10 |")
    print(f"| C0 / B wall time (C without occlusion) | {median(c0_over_b):.3f} | ≤ 1.10 |")
    print(f"| R0 / B wall time (C without rays) | {median(r0_over_b):.3f} | ≤ 1.10 |")
    print(f"| D export / C export | {median(d_over_c):.1f}× | ≥ 5× |")
    print(
        f"| 1920×1080 uncompressed export step / np.save floor | {median(e_ratio):.2f} "
        f"({median(e_step):.3f} s / {median(e_floor):.3f} s) | ≤ 1.5 |"
    )
    print("\n| what it adds to C | wall per frame | export step per frame | bytes written |")
    print("|---|---|---|---|")
    for config, name in MOTION.items():
        extra = [(r[config]["wall"] - r["C"]["wall"]) / r["C"]["frames"] for r in runs]
        step = [median(r[config]["export"]) - median(r["C"]["export"]) for r in runs]
        written = median(r[config]["bytes"] - r["C"]["bytes"] for r in runs) / 1e6
        print(f"| {config}: {name} | {median(extra):+.3f} s | {median(step):+.3f} s | {written:+.1f} MB |")
    occlusion_1080 = [median(r["EO"]["export"]) - median(r["E"]["export"]) for r in runs]
    print(f"\nOcclusion and instance ids at 1920×1080 add {median(occlusion_1080):.2f} s to the export step (EO - E).")
    print(f"\nper-run C/B: {', '.join(f'{v:.3f}' for v in c_over_b)}; results in {work}")
    subprocess.run([sys.executable, str(ROOT / "bench" / "meta_upkeep.py")], check=True)


if __name__ == "__main__":
    main()
