"""A farm run of a million frames, without the rendering: planning, the resume check,
following the progress and the merge, each timed with its peak memory.

    .venv/bin/python bench/farm_scale.py [--frames 1000000] [--chunk 10]

A tiny scene is exported once for real (frame 1, the default outputs, as a farm's chunk
with its report). The run's folder is then made from it: frame 1's files linked under
every frame number, and one chunk report per chunk of ``--chunk`` frames, as the workers
would have left them (synthetic, like the folder). Then, each a real process of
``python -m ground_truth.cli`` (the bpy module for the merge):

1. planning: ``farm --backend slurm --dry-run`` into an empty folder;
2. the resume check: the same into the full folder, five frames' files removed first,
   which must be found and planned again, and nothing else;
3. following the progress: reading every chunk report as the SLURM backend's poll does,
   the first poll (all of them new) and the next one (none new), in this process;
4. the merge: ``merge`` of the full folder, which must list every frame in meta.json.

Prints each step's wall time and peak resident memory, and issue 28's targets (planning +
resume check + merge ≤ 60 s, the driver ≤ 2 GB) with met or missed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from meta_upkeep import SCENE, load_package

LINKS_PER_SOURCE = 50_000  # a file takes at most 65,000 links on ext4


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run ``command``; its wall seconds, peak resident GiB and standard error."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    errors = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        errors = f"status {process.returncode}\n{errors}"
    return seconds, usage.ru_maxrss / 2**20, errors


def kinds(template: Path) -> list[tuple[Path, str]]:
    """Each file of the template's frame 1: its folder (relative) and suffix."""
    found = [p for p in template.rglob("000001.*") if "_farm" not in p.parts]
    return [(p.parent.relative_to(template), p.suffix) for p in found]


def fill(template: Path, out: Path, frames: int, chunk: int) -> None:
    """``out`` as a farm run of ``frames`` frames leaves it before its merge."""
    for folder, suffix in kinds(template):
        (out / folder).mkdir(parents=True, exist_ok=True)
        for frame in range(1, frames + 1):
            if frame % LINKS_PER_SOURCE == 1:
                first = out / folder / f".source{frame}{suffix}"
                shutil.copyfile(template / folder / f"000001{suffix}", first)
            os.link(first, out / folder / f"{frame:06d}{suffix}")
    report = json.loads(next((template / "_farm" / "chunks").glob("*.json")).read_text())
    chunks = out / "_farm" / "chunks"
    chunks.mkdir(parents=True)
    for first in range(1, frames + 1, chunk):
        last = min(first + chunk - 1, frames)
        span = f"{first}-{last}" if last > first else str(first)
        text = json.dumps({**report, "frames": span, "complete": span, "exported": last - first + 1}, indent=1)
        (chunks / f"{first:06d}.json").write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=10)
    args = parser.parse_args()
    packages = load_package()
    env = {**os.environ, "PYTHONPATH": str(packages)}
    cli = [sys.executable, "-m", "ground_truth.cli"]
    work = Path(tempfile.mkdtemp(prefix="gt_farm_scale_"))
    results: dict[str, tuple[float, float]] = {}
    try:
        blend = work / "tiny.blend"
        subprocess.run([sys.executable, "-c", SCENE.format(path=str(blend))], check=True, capture_output=True)
        template = work / "template"
        report = template / "_farm" / "chunks" / "000001.json"
        render = [*cli, "render", "--blend", str(blend), "--out", str(template), "--frames", "1"]
        subprocess.run([*render, "--chunk-manifest", str(report)], env=env, check=True, capture_output=True)
        started = time.perf_counter()
        out = work / "out"
        fill(template, out, args.frames, args.chunk)
        files = len(kinds(template))
        print(f"folder made: {args.frames:,} frames × {files} files, in {time.perf_counter() - started:.0f} s")
        farm = [*cli, "farm", "--backend", "slurm", "--dry-run", "--blend", str(blend)]
        farm += ["--frames", f"1-{args.frames}", "--chunk", str(args.chunk), "--worker-python", sys.executable]

        seconds, peak, errors = timed([*farm, "--out", str(work / "empty")], env)
        assert f"{args.frames} frames to render" in errors, errors
        results["planning (dry run, empty folder)"] = (seconds, peak)

        gone = (17, args.frames // 4 + 1, args.frames // 4 + 2, args.frames * 7 // 9, args.frames - 1)
        removed = [out / f / f"{frame:06d}{suffix}" for f, suffix in kinds(template) for frame in gone]
        for path in removed:
            path.rename(path.with_name("." + path.name))  # out of the listing, back for the merge
        seconds, peak, errors = timed([*farm, "--out", str(out)], env)
        assert f"{len(gone)} frames to render" in errors, errors
        assert f"{args.frames - len(gone)} complete already" in errors, errors
        results["resume check + planning (full folder)"] = (seconds, peak)
        for path in removed:
            path.with_name("." + path.name).rename(path)

        from ground_truth.exporters.chunks import ChunkReports

        reports = ChunkReports(out)
        started = time.perf_counter()
        frames = sum(len(r["complete"]) for r in reports.read_new())
        first_poll = time.perf_counter() - started
        started = time.perf_counter()
        assert frames == args.frames and not reports.read_new()
        next_poll = time.perf_counter() - started

        merge = [*cli, "merge", "--blend", str(blend), "--out", str(out), "--frames", f"1-{args.frames}"]
        seconds, peak, errors = timed([*merge, "--report", str(work / "merge.json")], env)
        assert not errors.startswith("status"), errors
        listed = json.loads((out / "meta.json").read_text())["frames_written"]
        assert listed == list(range(1, args.frames + 1)), "meta.json does not list every frame"
        results["merge (meta.json, instance table, contact sheet)"] = (seconds, peak)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(packages, ignore_errors=True)

    print(f"\nA farm run of {args.frames:,} frames in chunks of {args.chunk}, the default outputs\n")
    print("| step | seconds | peak memory (GiB) |")
    print("|---|---|---|")
    for step, (seconds, peak) in results.items():
        print(f"| {step} | {seconds:.1f} | {peak:.2f} |")
    polls = f"{first_poll:.2f} / {next_poll:.3f}"
    print(f"| progress: first poll of {args.frames // args.chunk:,} reports / next poll | {polls} | |")
    total = sum(seconds for seconds, _ in results.values())
    driver = max(results["planning (dry run, empty folder)"][1], results["resume check + planning (full folder)"][1])
    print()
    for name, value, target, unit in (
        ("planning + resume check + merge", total, 60.0, "s"),
        ("driver's peak memory", driver, 2.0, "GiB"),
    ):
        verdict = "met" if value <= target else f"missed by {(value / target - 1) * 100:.0f} %"
        print(f"{name}: {value:.2f} {unit} (target ≤ {target:g} {unit}): {verdict}")


if __name__ == "__main__":
    main()
