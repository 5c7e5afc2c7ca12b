# SPDX-License-Identifier: GPL-3.0-or-later
"""The benchmark: per-frame cost of the export beside the render it rides on, stage by
stage, for the demo scene (Cycles on this machine's CPU).

    bench/bench.sh [--runs 3] [--frames 8] [--final-frames 6] [--device CPU|CUDA|OPTIX|HIP|ONEAPI|METAL]

Fast renders first, as GPU users see our cost (1 sample, no denoising): at 640×480,
B, S, C, C0, R0, E, K2, T, X, Z, P, F, O, AL, L0, AM, Q and Q0; at 1920×1080, B, C, R0 and E; B and
C again over 48 and 12 frames (a run's fixed work spread as in a user's run). Then the final-quality
render (16 samples, denoised, 640×480): A, B, C and D. Each configuration runs in a
fresh process (bench/worker.py), one after the other within a run, so that ratios are
measured side by side; medians over the runs. Last, a render manager's run: one frame
per process into folders of 0, 10,000 and 100,000 frames (bench/meta_upkeep.py).
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
    "S": "B + the compositor writing the passes' scratch EXR (nothing read)",
    "C": "full export, defaults (NPZ level 1, previews, occlusion and instance ids)",
    "C0": "C without occlusion",
    "R0": "C without occlusion, instance ids and object labels (no rays)",
    "E": "uncompressed NPZ, no previews, no rays",
    "K2": "C + flow offsets 2",
    "T": "C + point tracks (256 per object)",
    "X": "C + EXR per array (exr_single/)",
    "Z": "C without the ray distance (depth_ray)",
    "P": "C + point maps (points, points_world)",
    "F": "C + scene flow and depth change (t ± 1)",
    "O": "C + object coordinates and NOCS",
    "AL": "C + albedo (the Diffuse Color pass)",
    "L0": "C without semantic classes and object labels",
    "AM": "C + amodal masks",
    "Q": "C + amodal masks, 300 more objects with classes",
    "Q0": "Q without semantic classes, object labels and amodal masks",
    "D": "pasted recipe (tolist + savez_compressed)",
}
FAST = {
    (640, 480): ("B", "S", "C", "C0", "R0", "E", "K2", "T", "X", "Z", "P", "F", "O", "AL", "L0", "AM", "Q", "Q0"),
    (1920, 1080): ("B", "C", "R0", "E"),
}
FINAL = ("A", "B", "C", "D")
# B and C again over more frames: the run's fixed work (the first frame's neighbours, the
# last frame's writing that no render hides, the contact sheet) spread as in a user's run.
LONG = {(640, 480): 48, (1920, 1080): 12}


def worker(
    config: str, out: Path, size: tuple[int, int], frames: int, samples: int, denoise: bool, device: str
) -> dict:
    command = [sys.executable, str(ROOT / "bench" / "worker.py"), config, "--out", str(out), "--device", device]
    command += ["--width", str(size[0]), "--height", str(size[1]), "--frames", str(frames), "--samples", str(samples)]
    command += [] if denoise else ["--no-denoise"]
    done = subprocess.run(command, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        sys.exit(f"bench: {config} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return json.loads(lines[-1].removeprefix("RESULT "))


def median(values) -> float:
    return statistics.median(list(values))


class Table:
    """One setting's results over the runs: ``runs[i][config]``."""

    def __init__(self, title: str, configs: tuple[str, ...]):
        self.title, self.configs, self.runs = title, configs, []

    def per_frame(self, config: str) -> float:
        return median(r[config]["wall"] / r[config]["frames"] for r in self.runs)

    def step(self, config: str) -> float | None:
        if "export" not in self.runs[0][config]:
            return None
        return median(median(r[config]["export"]) for r in self.runs)

    def ratio(self, config: str, base: str = "B") -> list[float]:
        return [r[config]["wall"] / r[base]["wall"] for r in self.runs]

    def print(self) -> None:
        print(f"\n### {self.title}; median of {len(self.runs)} runs\n")
        print("| config | wall per frame | / B | export step per frame | CPU per frame | peak memory | bytes |")
        print("|---|---|---|---|---|---|---|")
        for config in self.configs:
            step = self.step(config)
            ratio = median(self.ratio(config)) if "B" in self.configs else None
            cpu = median(r[config]["cpu"] / r[config]["frames"] for r in self.runs)
            rss = median(r[config]["peak_rss_mb"] for r in self.runs)
            written = median(r[config]["bytes"] for r in self.runs) / 1e6
            print(
                f"| {config}: {NAMES[config]} | {self.per_frame(config):.3f} s | "
                f"{'–' if ratio is None else f'{ratio:.3f}'} | {'–' if step is None else f'{step:.3f} s'} | "
                f"{cpu:.2f} s | {rss:.0f} MB | {written:.1f} MB |"
            )

    def print_stages(self, configs: tuple[str, ...]) -> None:
        """Median seconds per frame of each stage (main thread, then writer jobs, which
        overlap: their sum can exceed the writer's own length)."""
        names = sorted({name for c in configs for r in self.runs for name in r[c].get("stages", {})})
        print(f"\nStages, {self.title} (median seconds per frame; writer stages run side by side):\n")
        print("| stage | " + " | ".join(configs) + " |")
        print("|---|" + "---|" * len(configs))
        for name in names:
            cells = []
            for c in configs:
                values = [median(r[c]["stages"][name]) for r in self.runs if name in r[c].get("stages", {})]
                cells.append(f"{median(values):.4f}" if values and median(values) > 0 else "–")
            if any(cell != "–" for cell in cells):
                print(f"| {name} | " + " | ".join(cells) + " |")
        walls = [f"{median(median(r[c]['writer_wall']) for r in self.runs):.4f}" for c in configs]
        print("| writer's job, start to end | " + " | ".join(walls) + " |")
        waits = [f"{median(median(r[c]['waited']) for r in self.runs):.4f}" for c in configs]
        print("| main thread waiting for the writer | " + " | ".join(waits) + " |")


def verdict(value: float, target: float) -> str:
    return "met" if value <= target else f"missed by {value / target - 1:.0%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--frames", type=int, default=8, help="frames of each fast 640×480 configuration")
    parser.add_argument("--final-frames", type=int, default=6, help="frames of each 16-sample configuration")
    parser.add_argument("--device", default="CPU", help="Cycles' device (as the command line's --device)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gt_bench_"))
    fast = {size: Table(f"Fast render: {size[0]}×{size[1]}, 1 sample, no denoising", FAST[size]) for size in FAST}
    final = Table("Final quality: 640×480, 16 samples, denoised", FINAL)
    long = {size: Table(f"Long runs: {size[0]}×{size[1]}, {n} frames, fast", ("B", "C")) for size, n in LONG.items()}
    for run in range(args.runs):
        for size, table in fast.items():
            frames = args.frames if size == (640, 480) else 3
            table.runs.append(
                {
                    c: worker(c, work / f"{run}_{size[0]}_{c}", size, frames, 1, False, args.device)
                    for c in table.configs
                }
            )
            print(f"bench: run {run + 1}/{args.runs} {size[0]}×{size[1]} fast done", file=sys.stderr, flush=True)
        for size, table in long.items():
            folder = work / f"{run}_long_{size[0]}"
            table.runs.append({c: worker(c, folder / c, size, LONG[size], 1, False, args.device) for c in "BC"})
        print(f"bench: run {run + 1}/{args.runs} long runs done", file=sys.stderr, flush=True)
        final.runs.append(
            {
                c: worker(c, work / f"{run}_final_{c}", (640, 480), args.final_frames, 16, True, args.device)
                for c in FINAL
            }
        )
        print(f"bench: run {run + 1}/{args.runs} final done", file=sys.stderr, flush=True)

    print(f"\nDemo scene, Cycles on {args.device}; each configuration in a fresh process.")
    for table in fast.values():
        table.print()
        table.print_stages(("C", "R0", "E"))
    for table in long.values():
        table.print()
    final.print()
    small, large = fast[(640, 480)], fast[(1920, 1080)]
    print("\n| target (fast renders, median of per-run values) | measured | target | |")
    print("|---|---|---|---|")
    for size, table in fast.items():
        value = median(table.ratio("C"))
        runs = ", ".join(f"{v:.2f}" for v in table.ratio("C"))
        print(f"| {size[0]}×{size[1]} C / B wall ({runs}) | {value:.2f} | ≤ 1.5 (aim 1.3) | {verdict(value, 1.5)} |")
    for size, table in long.items():
        value = median(table.ratio("C"))
        runs = ", ".join(f"{v:.2f}" for v in table.ratio("C"))
        what = f"{size[0]}×{size[1]} C / B wall over {LONG[size]} frames ({runs})"
        print(f"| {what} | {value:.2f} | ≤ 1.5 | {verdict(value, 1.5)} |")
        short = fast[size]
        more = LONG[size] - short.runs[0]["C"]["frames"]  # each frame beyond the short run's, side by side
        added = [
            (lr["C"]["wall"] - sr["C"]["wall"]) / (lr["B"]["wall"] - sr["B"]["wall"])
            for lr, sr in zip(table.runs, short.runs, strict=True)
        ]
        what = f"{size[0]}×{size[1]} C / B of each frame past the short run's ({more} more)"
        print(f"| {what} | {median(added):.2f} | | |")
    for config, target, what in (("K2", 0.1, "a flow offset k (K2 − C)"), ("T", 0.05, "point tracks (T − C)")):
        extra = median((r[config]["wall"] - r["C"]["wall"]) / r[config]["frames"] for r in small.runs)
        print(f"| 640×480 {what}, wall per frame | {extra:+.3f} s | ≤ {target} s | {verdict(extra, target)} |")
    for size, table in fast.items():
        floor = median(median(r["E"]["floor"]) for r in table.runs)
        ratio = median(median(r["E"]["export"]) / median(r["E"]["floor"]) for r in table.runs)
        print(
            f"| {size[0]}×{size[1]} E export step / np.save floor ({table.step('E'):.3f} s / {floor:.3f} s) "
            f"| {ratio:.2f} | ≤ 3 | {verdict(ratio, 3)} |"
        )
    c_final = median(final.ratio("C"))
    print(f"| 16 samples C / B wall | {c_final:.3f} | ≤ 1.05 | {verdict(c_final, 1.05)} |")
    labels = median((r["Q"]["wall"] - r["Q0"]["wall"]) / r["Q"]["frames"] for r in small.runs)
    print(
        f"| 640×480 the object labels of 300 instances (Q − Q0), wall per frame | {labels:+.3f} s | ≤ 0.3 s (aim) "
        f"| {verdict(labels, 0.3)} |"
    )
    print(
        "| 1,000,000-frame farm run: plan + resume check + merge ≤ 60 s, driver ≤ 2 GB | – | | "
        "bench/farm_scale.py says (run on its own: it links 13 million files, about 8 minutes) |"
    )
    d_over_c = median(median(r["D"]["export"]) / median(r["C"]["export"]) for r in final.runs)
    print(f"| 16 samples D export / C export | {d_over_c:.1f}× | | |")
    # On a machine whose cores the render keeps busy, what a part costs in CPU seconds is
    # what it adds to the wall: the CPU column says where the time goes.
    print("\n| what it adds at 640×480, fast | wall per frame | export step per frame | CPU per frame |")
    print("|---|---|---|---|")
    parts = (
        ("C", "C0", "occlusion"),
        ("C0", "R0", "instance ids, semantic classes and object labels"),
        ("R0", "E", "previews and NPZ compression"),
        ("K2", "C", "flow offset 2"),
        ("T", "C", "point tracks"),
        ("X", "C", "EXR per array"),
        ("C", "Z", "ray distance, on by default"),
        ("P", "C", "point maps"),
        ("F", "C", "scene flow and depth change"),
        ("O", "C", "object coordinates and NOCS"),
        ("AL", "C", "albedo"),
        ("C", "L0", "semantic classes and object labels, on by default"),
        ("AM", "C", "amodal masks"),
        ("Q", "Q0", "classes, object labels and amodal masks of 300 more objects"),
    )
    for config, base, what in parts:
        extra = median((r[config]["wall"] - r[base]["wall"]) / r[config]["frames"] for r in small.runs)
        step = median(median(r[config]["export"]) - median(r[base]["export"]) for r in small.runs)
        cpu = median((r[config]["cpu"] - r[base]["cpu"]) / r[config]["frames"] for r in small.runs)
        print(f"| {what} ({config} − {base}) | {extra:+.3f} s | {step:+.3f} s | {cpu:+.3f} s |")
    rays = median(median(r["C"]["export"]) - median(r["R0"]["export"]) for r in large.runs)
    print(f"\nAt 1920×1080 the rays (occlusion and instance ids) add {rays:.2f} s to the export step (C − R0).")
    print(f"Results in {work}")
    subprocess.run([sys.executable, str(ROOT / "bench" / "meta_upkeep.py")], check=True)


if __name__ == "__main__":
    main()
